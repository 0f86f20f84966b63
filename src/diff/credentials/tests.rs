//! Credentials over time on the in-memory account, whose clock the tests move: a key's whole
//! rotation, keys and passwords unused too long, console passwords, MFA and account settings.

use std::collections::BTreeMap;
use std::path::Path;

use crate::live::memory::{MemoryAccount, MemoryIam, MemoryUser};
use crate::live::{AccessKey, KeyReading, KeyUse, LiveState, Login};
use crate::plan::{Cause, Drift, KeyStatus, NextStep, Op, Plan, RotationStep};
use crate::secrets::SecretsDir;
use crate::spec::{PasswordPolicy, Spec};
use crate::testing::{apply_plan, spec};

const T0: i64 = 1_800_000_000;
const DAY: i64 = 86_400;

fn read(spec: &Spec, api: &MemoryIam) -> LiveState {
    crate::testing::read(spec, api, KeyReading::Report)
}

fn plan(spec: &Spec, api: &MemoryIam) -> Plan {
    crate::diff::diff(spec, &read(spec, api)).unwrap()
}

fn at(api: &MemoryIam, now: i64) {
    api.state.lock().unwrap().now = now;
}

fn ops(plan: &Plan) -> Vec<&Op> {
    plan.changes.iter().map(|c| &c.op).collect()
}

fn keys(api: &MemoryIam) -> Vec<AccessKey> {
    api.snapshot().users["dev"].keys.clone()
}

fn key(id: &str, active: bool, created: i64) -> AccessKey {
    AccessKey {
        id: id.into(),
        active,
        created,
        last_used: None,
    }
}

/// The marks that say iamspec made these keys.
fn marks(keys: &[AccessKey]) -> BTreeMap<String, String> {
    keys.iter()
        .map(|k| (k.id.clone(), crate::iam::KEY_MARK.to_owned()))
        .collect()
}

/// An account at `T0` with these users.
fn account_with(users: Vec<(&str, MemoryUser)>) -> MemoryIam {
    let owned = BTreeMap::from([(crate::iam::OWNER_TAG.to_owned(), "iamspec".to_owned())]);
    let users = users
        .into_iter()
        .map(|(name, user)| {
            let mut tags = owned.clone();
            tags.extend(user.tags.clone());
            (name.to_owned(), MemoryUser { tags, ..user })
        })
        .collect();
    MemoryIam::new(MemoryAccount {
        now: T0,
        users,
        ..MemoryAccount::default()
    })
}

/// The secret files in the directory, by name.
fn files(secrets: &SecretsDir) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(secrets.dir()) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| Path::new(n).extension().is_some_and(|e| e == "csv"))
        .collect();
    names.sort();
    names
}

const ROTATING: &str = r#"version = 1
[users.dev]
access_key = { max_age = "10s", overlap = "5s" }
"#;

#[test]
fn a_key_is_rotated_deactivated_and_deleted_one_step_a_plan_with_one_secret_file_a_key() {
    let api = account_with(Vec::new());
    let root = tempfile::tempdir().unwrap();
    let secrets = SecretsDir::new(root.path().join("secrets"));
    let spec = spec(ROTATING);
    apply_plan(&plan(&spec, &api), &api, &secrets);
    let first = keys(&api)[0].id.clone();
    assert_eq!(files(&secrets), ["dev.csv"]);

    at(&api, T0 + 9);
    assert!(plan(&spec, &api).is_empty(), "not due yet");

    at(&api, T0 + 10);
    let rotate = plan(&spec, &api);
    assert_eq!(
        ops(&rotate),
        [&Op::CreateAccessKey {
            user: "dev".into(),
            rotates: Some(first.clone()),
        }]
    );
    assert_eq!(
        rotate.changes[0].cause,
        Some(Cause::Rotation {
            step: RotationStep::Rotate,
            access_key_id: first.clone(),
            age: 10,
            next: Some(NextStep {
                step: RotationStep::Deactivate,
                due: T0 + 15
            }),
        })
    );
    apply_plan(&rotate, &api, &secrets);
    let second = keys(&api)[1].id.clone();
    assert!(
        keys(&api).iter().all(|k| k.active),
        "both work in the overlap"
    );
    assert_eq!(
        files(&secrets),
        [format!("dev#{first}.csv"), "dev.csv".into()]
    );
    assert!(
        plan(&spec, &api).drift.is_empty(),
        "the old key is no drift while it retires"
    );

    at(&api, T0 + 14);
    assert!(plan(&spec, &api).is_empty(), "the overlap is not over");
    at(&api, T0 + 15);
    let deactivate = plan(&spec, &api);
    assert_eq!(
        ops(&deactivate),
        [&Op::UpdateAccessKey {
            user: "dev".into(),
            access_key_id: first.clone(),
            status: KeyStatus::Inactive,
        }]
    );
    apply_plan(&deactivate, &api, &secrets);

    at(&api, T0 + 19);
    assert!(plan(&spec, &api).is_empty());
    at(&api, T0 + 20);
    let delete = plan(&spec, &api);
    assert_eq!(
        ops(&delete),
        [&Op::DeleteAccessKey {
            user: "dev".into(),
            access_key_id: first.clone(),
        }]
    );
    let Some(Cause::Rotation {
        next: Some(next), ..
    }) = &delete.changes[0].cause
    else {
        panic!("{delete:?}");
    };
    assert_eq!(
        *next,
        NextStep {
            step: RotationStep::Rotate,
            due: T0 + 20
        }
    );
    apply_plan(&delete, &api, &secrets);
    assert_eq!(keys(&api).len(), 1);
    assert_eq!(keys(&api)[0].id, second);
    assert_eq!(
        files(&secrets),
        ["dev.csv"],
        "the deleted key's secret went with it"
    );

    // The new key is due in its turn: the cycle starts again.
    at(&api, T0 + 21);
    assert!(matches!(
        ops(&plan(&spec, &api))[..],
        [Op::CreateAccessKey {
            rotates: Some(_),
            ..
        }]
    ));
}

#[test]
fn an_interrupted_rotation_resumes_from_what_iam_shows() {
    // Keys iamspec made (each marked on the user): a fresh machine, no secrets directory.
    let with_keys = |keys: Vec<AccessKey>| {
        account_with(vec![(
            "dev",
            MemoryUser {
                path: "/".into(),
                tags: marks(&keys),
                keys,
                ..MemoryUser::default()
            },
        )])
    };
    let spec = spec(ROTATING);
    // Two active keys, the newer past the overlap: the older is deactivated, nothing is made.
    let api = with_keys(vec![
        key("AKIAOLD000000000", true, T0 - 30),
        key("AKIANEW000000000", true, T0 - 6),
    ]);
    assert!(matches!(
        ops(&plan(&spec, &api))[..],
        [Op::UpdateAccessKey { access_key_id, status: KeyStatus::Inactive, .. }]
            if access_key_id == "AKIAOLD000000000"
    ));
    // The newest key inactive and the older one too old: no third key, and the plan says why.
    let api = with_keys(vec![
        key("AKIAOLD000000000", true, T0 - 30),
        key("AKIANEW000000000", false, T0 - 6),
    ]);
    let stuck = plan(&spec, &api);
    assert!(stuck.is_empty(), "{stuck:?}");
    assert!(stuck.drift.iter().any(|d| matches!(d,
        Drift::StaleAccessKey { access_key_id, .. } if access_key_id == "AKIAOLD000000000")));
    assert!(stuck.drift.iter().any(|d| matches!(d,
        Drift::ExtraAccessKey { access_key_id, .. } if access_key_id == "AKIANEW000000000")));
}

/// Keys someone made by hand beside the declared key, older (a break-glass key) or newer and
/// inactive: never retired by a rotation, reported with their age and status, and deleted
/// only by a prune.
#[test]
fn a_rotation_never_retires_a_key_iamspec_did_not_make() {
    let declared = key("AKIAMINE00000000", true, T0 - 20);
    for hand in [
        key("AKIAHAND00000000", true, T0 - 400),
        key("AKIAHAND00000000", false, T0 - 1),
    ] {
        let api = account_with(vec![(
            "dev",
            MemoryUser {
                path: "/".into(),
                tags: marks(std::slice::from_ref(&declared)),
                keys: if hand.created < declared.created {
                    vec![hand.clone(), declared.clone()]
                } else {
                    vec![declared.clone(), hand.clone()]
                },
                ..MemoryUser::default()
            },
        )]);
        let plan = plan(&spec(ROTATING), &api);
        assert!(plan.is_empty(), "{:#?}", plan.changes);
        let status = if hand.active {
            KeyStatus::Active
        } else {
            KeyStatus::Inactive
        };
        assert!(
            plan.drift.contains(&Drift::ExtraAccessKey {
                user: "dev".into(),
                access_key_id: "AKIAHAND00000000".into(),
                status,
                age: u64::try_from(T0 - hand.created).unwrap(),
            }),
            "{:#?}",
            plan.drift
        );
        assert!(plan.drift.iter().any(|d| matches!(d,
            Drift::StaleAccessKey { access_key_id, .. } if access_key_id == "AKIAMINE00000000")));
        let mut pruning = spec(ROTATING);
        pruning.prune = true;
        let pruned = crate::diff::diff(&pruning, &read(&pruning, &api)).unwrap();
        assert_eq!(
            ops(&pruned),
            [&Op::DeleteAccessKey {
                user: "dev".into(),
                access_key_id: "AKIAHAND00000000".into()
            }]
        );
    }
}

/// A key made before iamspec marked its keys is kept and never rotated, with a warning saying
/// how to adopt it; `--adopt-keys` marks it, and its rotation then runs as usual.
#[test]
fn an_unmarked_key_is_adopted_only_when_asked() {
    let api = account_with(vec![(
        "dev",
        MemoryUser {
            path: "/".into(),
            keys: vec![key("AKIAEARLIER00000", true, T0 - 20)],
            ..MemoryUser::default()
        },
    )]);
    let root = tempfile::tempdir().unwrap();
    let secrets = SecretsDir::new(root.path().join("secrets"));
    let plain = spec(ROTATING);
    let kept = plan(&plain, &api);
    assert!(kept.is_empty(), "{:#?}", kept.changes);
    assert!(
        kept.warnings.iter().any(|w| w.contains(
            "user dev's access key AKIAEARLIER00000 was not made by iamspec (its user has no tag AKIAEARLIER00000 = \"made by iamspec\"), so it is never rotated out: if it is the key the spec declares, adopt it with `iamspec apply --adopt-keys`"
        )),
        "{:#?}",
        kept.warnings
    );
    let mut adopting = spec(ROTATING);
    adopting.adopt_keys = true;
    let adopt = plan(&adopting, &api);
    assert_eq!(
        ops(&adopt),
        [&Op::TagUser {
            user: "dev".into(),
            tags: BTreeMap::from([("AKIAEARLIER00000".into(), "made by iamspec".into())]),
        }]
    );
    assert_eq!(
        adopt.changes[0].cause,
        Some(Cause::AdoptKey {
            access_key_id: "AKIAEARLIER00000".into()
        })
    );
    apply_plan(&adopt, &api, &secrets);
    assert!(matches!(
        ops(&plan(&plain, &api))[..],
        [Op::CreateAccessKey { rotates: Some(old), .. }] if old == "AKIAEARLIER00000"
    ));
}

#[test]
fn unused_keys_and_passwords_are_disabled_and_no_new_key_undoes_it() {
    let old_use = KeyUse {
        at: T0 - 100 * DAY,
        service: Some("s3".into()),
        region: Some("us-east-1".into()),
    };
    let mut unused = key("AKIAUNUSED000000", true, T0 - 300 * DAY);
    unused.last_used = Some(old_use);
    let api = account_with(vec![
        (
            "dev",
            MemoryUser {
                path: "/".into(),
                created: T0 - 400 * DAY,
                keys: vec![unused],
                login: Some(Login {
                    created: T0 - 300 * DAY,
                    last_used: Some(T0 - 95 * DAY),
                }),
                ..MemoryUser::default()
            },
        ),
        (
            "ops",
            MemoryUser {
                path: "/".into(),
                created: T0 - 400 * DAY,
                login: Some(Login {
                    created: T0 - 10 * DAY,
                    last_used: None,
                }),
                mfa: true,
                ..MemoryUser::default()
            },
        ),
    ]);
    let spec = spec(
        "version = 1\n[account]\ndisable_unused = \"90d\"\n[users.dev]\naccess_key = true\n[users.ops]\n",
    );
    let first = plan(&spec, &api);
    let planned: Vec<(&Op, &Option<Cause>)> =
        first.changes.iter().map(|c| (&c.op, &c.cause)).collect();
    assert_eq!(
        planned,
        [
            (
                &Op::DeleteLoginProfile { user: "dev".into() },
                &Some(Cause::Unused {
                    idle: 95 * 86_400,
                    last_used: Some(T0 - 95 * DAY)
                })
            ),
            (
                &Op::UpdateAccessKey {
                    user: "dev".into(),
                    access_key_id: "AKIAUNUSED000000".into(),
                    status: KeyStatus::Inactive
                },
                &Some(Cause::Unused {
                    idle: 100 * 86_400,
                    last_used: Some(T0 - 100 * DAY)
                })
            ),
        ]
    );
    let root = tempfile::tempdir().unwrap();
    apply_plan(&first, &api, &SecretsDir::new(root.path().join("s")));
    let after = plan(&spec, &api);
    assert!(
        after.is_empty(),
        "no new key replaces the disabled one: {after:?}"
    );
    assert!(
        after
            .warnings
            .iter()
            .any(|w| w.contains("AKIAUNUSED000000") && w.contains("deactivated as unused")),
        "{:?}",
        after.warnings
    );
}

#[test]
fn console_passwords_follow_the_spec_and_the_account_policy() {
    let api = MemoryIam::new(MemoryAccount {
        now: T0,
        password_policy: Some(PasswordPolicy {
            min_length: 24,
            ..PasswordPolicy::default()
        }),
        ..MemoryAccount::default()
    });
    let root = tempfile::tempdir().unwrap();
    let secrets = SecretsDir::new(root.path().join("secrets"));
    let console = spec("version = 1\n[account]\nalias = \"koding\"\n[users.dev]\nconsole = true\n");
    let first = plan(&console, &api);
    assert!(first.changes.iter().any(|c| c.op
        == Op::CreateLoginProfile {
            user: "dev".into(),
            min_length: 24,
            sign_in_url: "https://koding.signin.aws.amazon.com/console".into(),
        }));
    assert!(
        first
            .warnings
            .iter()
            .any(|w| w.contains("user dev can sign in") && w.contains("no MFA"))
    );
    let json = crate::render::json(&first);
    apply_plan(&first, &api, &secrets);
    let text = std::fs::read_to_string(secrets.password_path("dev")).unwrap();
    let password = text.lines().nth(1).unwrap().split(',').nth(1).unwrap();
    assert_eq!(password.len(), 24);
    assert!(
        !json.contains(password),
        "the plan never holds the password"
    );
    assert!(api.snapshot().users["dev"].login.is_some());
    assert!(plan(&console, &api).is_empty());

    let no_console =
        spec("version = 1\n[account]\nalias = \"koding\"\n[users.dev]\nconsole = false\n");
    let drifted = plan(&no_console, &api);
    assert!(drifted.is_empty());
    assert_eq!(
        drifted.drift,
        [Drift::ConsolePassword { user: "dev".into() }]
    );
    let mut pruning = no_console.clone();
    pruning.prune = true;
    let pruned = plan(&pruning, &api);
    assert_eq!(
        ops(&pruned),
        [&Op::DeleteLoginProfile { user: "dev".into() }]
    );
    apply_plan(&pruned, &api, &secrets);
    assert!(
        !secrets.password_path("dev").exists(),
        "a deleted password's file goes"
    );
}

#[test]
fn a_refused_password_leaves_no_file_behind() {
    let api = account_with(vec![(
        "dev",
        MemoryUser {
            path: "/".into(),
            ..MemoryUser::default()
        },
    )]);
    let console = spec("version = 1\n[users.dev]\nconsole = true\n");
    let planned = plan(&console, &api);
    // Someone gives the user a password between plan and apply.
    let mut state = api.state.lock().unwrap();
    state.users.get_mut("dev").unwrap().login = Some(Login::default());
    drop(state);
    let root = tempfile::tempdir().unwrap();
    let secrets = SecretsDir::new(root.path().join("secrets"));
    let report = apply_plan(&planned, &api, &secrets);
    let note = report.done[0].note.as_deref().unwrap();
    assert!(note.contains("had a console password already"), "{note}");
    assert!(
        !secrets.password_path("dev").exists(),
        "the refused password's file is gone"
    );
    let previous = secrets.dir().join("passwords/previous");
    assert_eq!(std::fs::read_dir(previous).unwrap().count(), 0);
    assert!(files(&secrets).is_empty(), "{:?}", files(&secrets));
}

#[test]
fn account_settings_are_set_changed_and_an_alias_pruned() {
    let api = MemoryIam::new(MemoryAccount::default());
    let root = tempfile::tempdir().unwrap();
    let secrets = SecretsDir::new(root.path().join("s"));
    let strict = spec(
        "version = 1\n[account]\nalias = \"koding\"\n[account.password_policy]\nmin_length = 14\nreuse_prevention = 24\nrequire_symbols = true\n",
    );
    assert!(strict.warnings.is_empty(), "{:?}", strict.warnings);
    let first = plan(&strict, &api);
    let names: Vec<&str> = first.changes.iter().map(|c| c.op.api_name()).collect();
    assert_eq!(names, ["CreateAccountAlias", "UpdateAccountPasswordPolicy"]);
    apply_plan(&first, &api, &secrets);
    assert!(plan(&strict, &api).is_empty());

    let renamed = spec("version = 1\n[account]\nalias = \"koding-2\"\n");
    assert_eq!(
        ops(&plan(&renamed, &api)),
        [&Op::CreateAccountAlias {
            alias: "koding-2".into(),
            before: Some("koding".into())
        }]
    );
    let mut none = spec("version = 1\n");
    none.prune = true;
    assert_eq!(
        ops(&plan(&none, &api)),
        [&Op::DeleteAccountAlias {
            alias: "koding".into()
        }]
    );
    none.prune = false;
    let reads = api.calls("ListAccountAliases");
    assert!(plan(&none, &api).drift.is_empty());
    assert_eq!(
        api.calls("ListAccountAliases"),
        reads,
        "read only when the spec needs it"
    );
}

#[test]
fn require_mfa_attaches_one_policy_for_the_spec() {
    let api = MemoryIam::new(MemoryAccount::default());
    let root = tempfile::tempdir().unwrap();
    let mfa = spec(
        "version = 1\n[groups.Developers]\nrequire_mfa = true\n[users.dev]\nrequire_mfa = true\n",
    );
    let first = plan(&mfa, &api);
    let names: Vec<&str> = first.changes.iter().map(|c| c.op.api_name()).collect();
    assert_eq!(
        names,
        [
            "CreatePolicy",
            "CreateGroup",
            "CreateUser",
            "AttachGroupPolicy",
            "AttachUserPolicy"
        ]
    );
    let Op::CreatePolicy {
        policy, document, ..
    } = &first.changes[0].op
    else {
        panic!("{first:?}");
    };
    assert_eq!(policy, crate::spec::MFA_POLICY);
    assert!(document.to_string().contains("aws:MultiFactorAuthPresent"));
    apply_plan(&first, &api, &SecretsDir::new(root.path().join("s")));
    assert!(plan(&mfa, &api).is_empty());
}

#[test]
fn the_root_user_signing_is_warned_about() {
    let mut live = LiveState::default();
    live.caller.account = "123456789012".into();
    live.caller.arn = "arn:aws:iam::123456789012:root".into();
    let plan = crate::diff::diff(&spec("version = 1\n"), &live).unwrap();
    assert!(
        plan.warnings.iter().any(|w| w.contains("root user")),
        "{:?}",
        plan.warnings
    );
}

/// `disable_unused` and the caller's own user: its unused key stays active (iamspec never
/// changes the caller), and is described as active, not as deactivated.
#[test]
fn the_callers_unused_key_is_described_as_it_is() {
    let mut unused = key("AKIACALLER000000", true, T0 - 300 * DAY);
    unused.last_used = Some(KeyUse {
        at: T0 - 200 * DAY,
        service: None,
        region: None,
    });
    let api = account_with(vec![(
        "dev",
        MemoryUser {
            path: "/".into(),
            created: T0 - 400 * DAY,
            tags: marks(std::slice::from_ref(&unused)),
            keys: vec![unused],
            ..MemoryUser::default()
        },
    )]);
    let spec =
        spec("version = 1\n[account]\ndisable_unused = \"90d\"\n[users.dev]\naccess_key = true\n");
    let mut live = read(&spec, &api);
    live.caller.arn = "arn:aws:iam::123456789012:user/dev".into();
    let plan = crate::diff::diff(&spec, &live).unwrap();
    assert!(plan.is_empty(), "{:#?}", plan.changes);
    assert!(
        plan.warnings.iter().any(|w| w == "user dev's active access key AKIACALLER000000 has not been used for 200 days ([account] disable_unused), but iamspec is signing as dev and never changes it: deactivate it with other credentials if it is not needed"),
        "{:#?}",
        plan.warnings
    );
    assert!(
        !plan
            .warnings
            .iter()
            .any(|w| w.contains("deactivated") || w.contains("inactive")),
        "{:#?}",
        plan.warnings
    );
    assert!(plan.drift.is_empty(), "{:#?}", plan.drift);
}
