//! Saved plans on the in-memory account: what they remember, what refuses them, and that what
//! is applied is exactly what was saved.

use std::collections::BTreeMap;
use std::path::Path;

use super::{SavedError, SavedOptions, SavedPlan, is_saved_plan};
use crate::live::memory::{MemoryAccount, MemoryIam};
use crate::live::{IamApi, KeyReading, LiveState};
use crate::plan::Op;
use crate::spec::Spec;
use crate::testing::{aws, block_on, spec};

const GUIDE: &str = r#"version = 1
[groups.Developers]
policies = ["AmazonEC2FullAccess", "IAMReadOnlyAccess"]
[users.koding-user]
groups = ["Developers"]
access_key = true
"#;

fn account() -> MemoryIam {
    MemoryIam::new(MemoryAccount {
        aws_policies: vec![
            aws("AmazonEC2FullAccess"),
            aws("IAMReadOnlyAccess"),
            aws("ReadOnlyAccess"),
        ],
        ..MemoryAccount::default()
    })
}

fn read(spec: &Spec, api: &MemoryIam) -> LiveState {
    crate::testing::read(spec, api, KeyReading::ListEach)
}

fn call(api: &MemoryIam, op: &Op) {
    block_on(api.call(op)).unwrap();
}

/// The guide's plan against `api`, saved.
fn saved(spec: &Spec, api: &MemoryIam) -> SavedPlan {
    let live = read(spec, api);
    let plan = crate::diff::diff(spec, &live).unwrap();
    SavedPlan::new(&plan, spec, &live, SavedOptions::default(), None)
}

fn stale(saved: &SavedPlan, spec: &Spec, api: &MemoryIam) -> Vec<String> {
    match saved.check_live(&read(spec, api)) {
        Ok(()) => Vec::new(),
        Err(SavedError::Stale { changed }) => changed,
        Err(other) => panic!("{other}"),
    }
}

#[test]
fn an_unchanged_account_gives_back_exactly_the_saved_changes() {
    let api = account();
    let guide = spec(GUIDE);
    let saved = saved(&guide, &api);
    let kinds: Vec<(&str, &str)> = saved
        .depends_on
        .iter()
        .map(|f| (f.kind.as_str(), f.name.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("user", "koding-user"),
            ("group", "Developers"),
            ("policy", "AmazonEC2FullAccess"),
            ("policy", "IAMReadOnlyAccess"),
        ]
    );
    let live = read(&guide, &api);
    saved.check_live(&live).unwrap();
    let again = crate::diff::diff(&guide, &live).unwrap();
    let (selected, extra) = saved.select(again.clone()).unwrap();
    assert_eq!(selected.changes, again.changes);
    assert_eq!(extra, 0);
    assert_eq!(
        serde_json::to_value(&selected.changes).unwrap(),
        saved.plan["changes"]
    );
}

#[test]
fn a_file_round_trips_and_is_told_from_a_spec() {
    let api = account();
    let guide = spec(GUIDE);
    let saved = saved(&guide, &api);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plan.json");
    std::fs::write(&file, saved.to_json()).unwrap();
    assert!(is_saved_plan(&file));
    assert_eq!(SavedPlan::read(&file, None).unwrap(), saved);

    let toml = dir.path().join("spec.toml");
    std::fs::write(&toml, GUIDE).unwrap();
    assert!(!is_saved_plan(&toml));
    assert!(!is_saved_plan(Path::new("-")));
    assert!(!is_saved_plan(dir.path()));
}

#[test]
fn a_plan_of_another_version_or_no_plan_at_all_is_refused() {
    let api = account();
    let saved = saved(&spec(GUIDE), &api);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plan.json");

    let mut old: serde_json::Value = serde_json::from_str(&saved.to_json()).unwrap();
    old["iamspec_version"] = "0.0.1".into();
    std::fs::write(&file, old.to_string()).unwrap();
    let err = SavedPlan::read(&file, None).unwrap_err();
    assert!(matches!(err, SavedError::Version { .. }), "{err}");
    assert!(err.to_string().contains("saved by iamspec 0.0.1"), "{err}");

    std::fs::write(&file, r#"{"changes": []}"#).unwrap();
    let err = SavedPlan::read(&file, None).unwrap_err();
    assert!(matches!(err, SavedError::NotAPlan { .. }), "{err}");
}

/// An edit to a saved plan's JSON.
type Edit = fn(&mut serde_json::Value);

/// Every field of the file is under the seal: an edit anywhere is refused before the plan is
/// used, and so is a missing seal, a seal of the other kind than the key asks for, and a
/// plan sealed under another key.
#[test]
fn the_seal_refuses_an_edit_to_any_field() {
    let api = account();
    let guide = spec(GUIDE);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plan.json");
    let saved = saved(&guide, &api);
    let original: serde_json::Value = serde_json::from_str(&saved.to_json()).unwrap();
    let edits: [(&str, Edit); 7] = [
        ("options.prune", |v| v["options"]["prune"] = true.into()),
        ("a change appended", |v| {
            v["plan"]["changes"]
                .as_array_mut()
                .unwrap()
                .push(serde_json::json!({
                    "action": "delete", "op": "delete_user", "user": "admin"
                }));
        }),
        ("a fingerprint removed", |v| {
            v["depends_on"].as_array_mut().unwrap().pop();
        }),
        ("a spec digest", |v| {
            v["spec"]["sources"]["the spec's text"] = "0".repeat(64).into();
        }),
        ("the spec's path", |v| {
            v["spec"]["path"] = "other.toml".into();
        }),
        ("the account", |v| v["account"] = "999999999999".into()),
        ("the seal removed", |v| {
            v.as_object_mut().unwrap().remove("seal");
        }),
    ];
    for (what, edit) in edits {
        let mut edited = original.clone();
        edit(&mut edited);
        std::fs::write(&file, edited.to_string()).unwrap();
        let err = SavedPlan::read(&file, None).unwrap_err();
        assert!(matches!(err, SavedError::Tampered { .. }), "{what}: {err}");
        assert!(
            err.to_string().contains("edited or damaged"),
            "{what}: {err}"
        );
    }
    // Reformatted, the same content keeps its seal.
    std::fs::write(&file, original.to_string()).unwrap();
    assert_eq!(SavedPlan::read(&file, None).unwrap(), saved);

    // Under a key: only that key opens it, and an unkeyed plan is refused where a key is set.
    let live = read(&guide, &api);
    let plan = crate::diff::diff(&guide, &live).unwrap();
    let keyed = SavedPlan::new(&plan, &guide, &live, SavedOptions::default(), Some(b"k1"));
    assert!(keyed.seal.starts_with("hmac-sha256:"), "{}", keyed.seal);
    std::fs::write(&file, keyed.to_json()).unwrap();
    assert_eq!(SavedPlan::read(&file, Some(b"k1")).unwrap(), keyed);
    for (key, says) in [
        (
            Some(&b"k2"[..]),
            "does not match its content under IAMSPEC_PLAN_KEY",
        ),
        (None, "sealed with IAMSPEC_PLAN_KEY, which is not set here"),
    ] {
        let err = SavedPlan::read(&file, key).unwrap_err();
        assert!(err.to_string().contains(says), "{err}");
    }
    std::fs::write(&file, saved.to_json()).unwrap();
    let err = SavedPlan::read(&file, Some(b"k1")).unwrap_err();
    assert!(
        err.to_string()
            .contains("sealed without a key, so anybody could have sealed it again"),
        "{err}"
    );
}

/// A plan whose changes name an entity it has no fingerprint of is refused, not applied
/// with that check skipped.
#[test]
fn a_missing_fingerprint_is_a_refusal() {
    let api = account();
    let guide = spec(GUIDE);
    let mut saved = saved(&guide, &api);
    saved.depends_on.retain(|f| f.kind != "group");
    let live = read(&guide, &api);
    let (plan, _) = saved
        .select(crate::diff::diff(&guide, &live).unwrap())
        .unwrap();
    let err = saved.check_fingerprinted(&plan).unwrap_err();
    assert!(
        err.to_string().contains(
            "names 1 without its fingerprint of what it was when planned (group Developers)"
        ),
        "{err}"
    );
    let whole = self::saved(&guide, &api);
    whole.check_fingerprinted(&plan).unwrap();
}

#[test]
fn a_hand_change_to_what_a_change_touches_is_named() {
    let api = account();
    let guide = spec(GUIDE);
    call(
        &api,
        &Op::CreateGroup {
            group: "Developers".into(),
            path: "/".into(),
        },
    );
    let saved = saved(&guide, &api);
    assert!(stale(&saved, &guide, &api).is_empty());

    call(
        &api,
        &Op::AttachGroupPolicy {
            group: "Developers".into(),
            policy: aws("ReadOnlyAccess"),
        },
    );
    call(
        &api,
        &Op::CreateUser {
            user: "koding-user".into(),
            path: "/".into(),
            boundary: None,
            tags: BTreeMap::new(),
        },
    );
    assert_eq!(
        stale(&saved, &guide, &api),
        [
            "user koding-user was created",
            "group Developers: its managed policies changed"
        ]
    );
}

#[test]
fn a_user_deleted_and_made_again_is_not_the_user_planned_for() {
    let api = account();
    let guide = spec(GUIDE);
    let user = || Op::CreateUser {
        user: "koding-user".into(),
        path: "/".into(),
        boundary: None,
        tags: BTreeMap::new(),
    };
    call(&api, &user());
    let saved = saved(&guide, &api);
    call(
        &api,
        &Op::DeleteUser {
            user: "koding-user".into(),
        },
    );
    assert_eq!(
        stale(&saved, &guide, &api),
        ["user koding-user was deleted"]
    );
    call(&api, &user());
    let changed = stale(&saved, &guide, &api);
    assert_eq!(changed, ["user koding-user was deleted and made again"]);
}

#[test]
fn what_is_not_configuration_does_not_refuse_a_plan() {
    let api = account();
    let guide = spec(GUIDE);
    let saved = saved(&guide, &api);
    // Another user, not named by any change, comes and goes.
    call(
        &api,
        &Op::CreateUser {
            user: "someone-else".into(),
            path: "/".into(),
            boundary: None,
            tags: BTreeMap::new(),
        },
    );
    assert!(stale(&saved, &guide, &api).is_empty());
}

#[test]
fn a_changed_spec_is_named_by_its_part() {
    let api = account();
    let saved = saved(&spec(GUIDE), &api);
    saved.check_spec(&spec(GUIDE)).unwrap();

    let with_policy = format!(
        "{GUIDE}[policies.Extra]\ndocument = {{ Version = \"2012-10-17\", Statement = [{{ Effect = \"Allow\", Action = \"s3:ListAllMyBuckets\", Resource = \"*\" }}] }}\n"
    );
    let err = saved.check_spec(&spec(&with_policy)).unwrap_err();
    let SavedError::SpecChanged { changed, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(
        changed,
        &[
            "the spec's text changed".to_owned(),
            "the document of policy `Extra` is new".to_owned()
        ]
    );
}

#[test]
fn another_account_is_refused() {
    let saved = saved(&spec(GUIDE), &account());
    saved.check_account(&saved.account.clone()).unwrap();
    let err = saved.check_account("999999999999").unwrap_err();
    assert!(err.to_string().contains("made for account"), "{err}");
}

#[test]
fn a_saved_change_the_spec_no_longer_needs_is_refused_and_new_ones_are_left_out() {
    let api = account();
    let guide = spec(GUIDE);
    let saved = saved(&guide, &api);
    let live = read(&guide, &api);
    let mut fewer = crate::diff::diff(&guide, &live).unwrap();
    fewer
        .changes
        .retain(|c| c.op.api_name() != "AddUserToGroup");
    let err = saved.select(fewer).unwrap_err();
    assert_eq!(
        err.to_string(),
        "1 of the saved plan's changes (add_user_to_group user koding-user, group Developers) are not what the spec calls for against the account as it is (the file was edited, or what they depend on is not what it was): make the plan again and review it; nothing was changed"
    );

    let mut more = crate::diff::diff(&guide, &live).unwrap();
    let extra = more.changes[0].clone();
    let mut other = extra.clone();
    other.op = Op::CreateGroup {
        group: "Other".into(),
        path: "/".into(),
    };
    more.changes.push(other);
    let (selected, left_out) = saved.select(more).unwrap();
    assert_eq!(left_out, 1);
    assert_eq!(
        selected.summary.add as u64,
        saved.plan["summary"]["add"].as_u64().unwrap()
    );
}

#[test]
fn a_plan_with_no_change_depends_on_nothing() {
    let api = account();
    let guide = spec("version = 1\n");
    let saved = saved(&guide, &api);
    assert!(saved.depends_on.is_empty());
    let (plan, extra) = saved
        .select(crate::diff::diff(&guide, &read(&guide, &api)).unwrap())
        .unwrap();
    assert!(plan.is_empty());
    assert_eq!(extra, 0);
}
