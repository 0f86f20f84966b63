//! The applier against an in-memory account with scripted faults: the cases a real endpoint
//! cannot be made to produce on demand (throttling, lost answers, eventual consistency,
//! access denied, a disk that refuses the secret).

use std::path::Path;
use std::time::Duration;

use super::*;
use crate::iam::PolicyArn;
use crate::live::memory::{Fault, MemoryAccount, MemoryIam, MemoryUser};
use crate::live::{Caller, LiveState};

/// The account the guide's plan is applied to: empty, with the policies it attaches.
fn empty() -> MemoryAccount {
    MemoryAccount {
        aws_policies: vec![
            PolicyArn::aws_managed(Partition::Aws, "/", "AmazonEC2FullAccess"),
            PolicyArn::aws_managed(Partition::Aws, "/", "IAMReadOnlyAccess"),
        ],
        ..MemoryAccount::default()
    }
}

fn account() -> MemoryIam {
    MemoryIam::new(empty())
}

fn faulty(faults: Vec<Fault>) -> MemoryIam {
    MemoryIam::with_faults(empty(), faults)
}

const SPEC: &str = r#"
version = 1
[groups.Developers]
policies = ["AmazonEC2FullAccess", "IAMReadOnlyAccess"]
[users.koding-user]
groups = ["Developers"]
access_key = true
tags = { team = "platform" }
"#;

fn guide_plan() -> Plan {
    let spec = crate::spec::parse(SPEC, Path::new("spec.toml")).unwrap();
    let live = LiveState {
        caller: Caller {
            account: "123456789012".into(),
            arn: "arn:aws:iam::123456789012:user/deployer".into(),
            partition: Partition::Aws,
            access_key_id: None,
        },
        aws_policies: vec![
            PolicyArn::aws_managed(Partition::Aws, "/", "AmazonEC2FullAccess"),
            PolicyArn::aws_managed(Partition::Aws, "/", "IAMReadOnlyAccess"),
        ],
        ..LiveState::default()
    };
    crate::diff::diff(&spec, &live).unwrap()
}

fn options(secrets: &Path, concurrency: usize) -> ApplyOptions {
    ApplyOptions {
        concurrency,
        retry: RetryPolicy {
            first_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(4),
            deadline: Duration::from_millis(500),
        },
        secrets: SecretsDir::new(secrets),
    }
}

fn run(plan: &Plan, api: &MemoryIam, concurrency: usize) -> (Report, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let report = runtime.block_on(apply(
        plan,
        api,
        &options(&dir.path().join("secrets"), concurrency),
    ));
    (report, dir)
}

fn assert_guide_state(api: &MemoryIam) {
    let a = api.snapshot();
    assert_eq!(a.groups.keys().collect::<Vec<_>>(), ["Developers"]);
    let user = &a.users["koding-user"];
    assert_eq!(user.keys.len(), 1, "exactly one key");
    assert_eq!(user.tags["team"], "platform");
    assert_eq!(a.groups["Developers"].policies.len(), 2);
    assert!(user.groups.contains("Developers"));
}

#[test]
fn the_plan_is_applied_in_full_and_reported_in_plan_order() {
    let plan = guide_plan();
    let api = account();
    let (report, dir) = run(&plan, &api, 8);
    assert!(report.succeeded(), "{report:#?}");
    let done: Vec<&Change> = report.done.iter().map(|d| &d.change).collect();
    assert_eq!(done, plan.changes.iter().collect::<Vec<_>>());
    assert_eq!(report.retries, 0);
    assert_guide_state(&api);
    let key = &api.snapshot().users["koding-user"].keys[0].id;
    let csv = std::fs::read_to_string(dir.path().join("secrets/koding-user.csv")).unwrap();
    assert_eq!(
        csv,
        format!(
            "User name,Access key ID,Secret access key,Account ID\nkoding-user,{key},secret-of-{key},123456789012\n"
        )
    );
}

#[test]
fn throttling_is_retried_until_it_passes() {
    let api = faulty(vec![Fault {
        api: "AttachGroupPolicy",
        kind: ErrorKind::Throttled,
        times: 3,
        after_effect: false,
    }]);
    let (report, _dir) = run(&guide_plan(), &api, 1);
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(report.retries, 3);
    assert_guide_state(&api);
}

#[test]
fn no_such_entity_right_after_a_create_is_waited_out() {
    let api = faulty(vec![Fault {
        api: "AddUserToGroup",
        kind: ErrorKind::NoSuchEntity,
        times: 2,
        after_effect: false,
    }]);
    let (report, _dir) = run(&guide_plan(), &api, 4);
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(api.calls("AddUserToGroup"), 3);
    assert_guide_state(&api);
}

#[test]
fn no_such_entity_for_an_entity_the_plan_did_not_create_fails_at_once() {
    let plan = Plan::new(
        "123456789012".into(),
        "arn:aws:iam::123456789012:user/deployer".into(),
        Partition::Aws,
        vec![
            Op::AddUserToGroup {
                user: "gone".into(),
                group: "Developers".into(),
            }
            .into(),
        ],
        Vec::new(),
    );
    let api = account();
    let (report, _dir) = run(&plan, &api, 1);
    assert_eq!(api.calls("AddUserToGroup"), 1);
    assert_eq!(
        report.failed.unwrap().reason,
        "iam:AddUserToGroup on user gone and group Developers failed because something it names does not exist (NoSuchEntity: gone cannot be found): if it was deleted meanwhile, run apply again to recreate it"
    );
}

#[test]
fn access_denied_stops_the_apply_and_says_what_the_caller_needs() {
    let api = faulty(vec![Fault {
        api: "AttachGroupPolicy",
        kind: ErrorKind::AccessDenied,
        times: 1,
        after_effect: false,
    }]);
    let (report, _dir) = run(&guide_plan(), &api, 1);
    assert!(!report.succeeded());
    let failed = report.failed.unwrap();
    assert_eq!(
        failed.reason,
        "AWS denied iam:AttachGroupPolicy on group Developers and policy AmazonEC2FullAccess to arn:aws:iam::123456789012:user/deployer: give the caller a policy that allows iam:AttachGroupPolicy on arn:aws:iam::123456789012:group/Developers (IAMFullAccess does), then run apply again"
    );
    let done: Vec<&str> = report.done.iter().map(|d| d.change.op.api_name()).collect();
    assert_eq!(done, ["CreateGroup", "CreateUser"]);
    let not_run: Vec<&str> = report.not_run.iter().map(|c| c.op.api_name()).collect();
    assert_eq!(
        not_run,
        ["AttachGroupPolicy", "AddUserToGroup", "CreateAccessKey"]
    );
    assert_eq!(api.calls("CreateAccessKey"), 0);
}

#[test]
fn a_key_whose_answer_was_lost_is_taken_back_and_made_again() {
    let api = faulty(vec![Fault {
        api: "CreateAccessKey",
        kind: ErrorKind::Transient,
        times: 1,
        after_effect: true,
    }]);
    let (report, dir) = run(&guide_plan(), &api, 2);
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(api.calls("CreateAccessKey"), 2);
    assert_eq!(api.calls("DeleteAccessKey"), 1);
    assert_guide_state(&api);
    // The user was made first (1), then the key whose answer was lost (2), then the one kept.
    let key = api.snapshot().users["koding-user"].keys[0].id.clone();
    assert_eq!(
        key, "AKIAMEMORY0000000003",
        "the first key, whose secret was lost, is gone"
    );
    let csv = std::fs::read_to_string(dir.path().join("secrets/koding-user.csv")).unwrap();
    assert!(csv.contains(&format!("{key},secret-of-{key}")), "{csv}");
}

#[test]
fn no_key_is_made_when_its_secret_could_not_be_saved() {
    let plan = guide_plan();
    let api = account();
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "").unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let report = runtime.block_on(apply(&plan, &api, &options(&blocker, 1)));
    let reason = report.failed.unwrap().reason;
    assert!(
        reason.starts_with("could not write to the secrets directory")
            && reason.ends_with("so no key was created for user koding-user: make it writable (or pass --secrets-dir) and run apply again"),
        "{reason}"
    );
    assert_eq!(api.calls("CreateAccessKey"), 0);
    assert!(api.snapshot().users["koding-user"].keys.is_empty());
}

#[test]
fn a_key_taken_back_by_a_retried_delete_counts_as_taken_back() {
    let api = faulty(vec![
        Fault {
            api: "CreateAccessKey",
            kind: ErrorKind::Transient,
            times: 1,
            after_effect: true,
        },
        Fault {
            api: "DeleteAccessKey",
            kind: ErrorKind::NoSuchEntity,
            times: 1,
            after_effect: true,
        },
    ]);
    let (report, _dir) = run(&guide_plan(), &api, 2);
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(api.calls("CreateAccessKey"), 2);
    assert_guide_state(&api);
}

#[test]
fn a_create_that_finds_the_entity_makes_no_call_the_plan_does_not_list() {
    let mut existing = empty();
    existing
        .users
        .insert("koding-user".into(), MemoryUser::default());
    let api = MemoryIam::new(existing);
    let (report, _dir) = run(&guide_plan(), &api, 1);
    assert!(report.succeeded(), "{report:#?}");
    let create = report
        .done
        .iter()
        .find(|d| d.change.op.api_name() == "CreateUser")
        .unwrap();
    assert_eq!(create.note.as_deref(), Some("it already existed"));
    // The next plan shows what someone else's user lacks; apply only makes the plan's calls,
    // and the new key's mark (the one tag that says iamspec made it).
    assert_eq!(api.calls("TagUser"), 1);
    let user = &api.snapshot().users["koding-user"];
    assert_eq!(user.keys.len(), 1, "its key was made");
    assert_eq!(
        user.tags,
        std::collections::BTreeMap::from([(
            user.keys[0].id.clone(),
            crate::iam::KEY_MARK.to_owned()
        )])
    );
}

#[test]
fn throttling_that_never_ends_gives_up_at_the_deadline() {
    let api = faulty(vec![Fault {
        api: "CreateGroup",
        kind: ErrorKind::Throttled,
        times: usize::MAX,
        after_effect: false,
    }]);
    let (report, _dir) = run(&guide_plan(), &api, 1);
    let reason = report.failed.unwrap().reason;
    assert!(
        reason.starts_with("IAM kept throttling iam:CreateGroup on group Developers for 0 s"),
        "{reason}"
    );
    assert!(api.calls("CreateGroup") > 5);
}

/// The key's mark cannot be written (the caller may not tag users): the key and its secret
/// are kept, the failure says how to mark it, the next plan makes no second key, and
/// `--adopt-keys` marks the one there is.
#[test]
fn a_key_that_cannot_be_marked_keeps_its_secret_and_says_how_to_mark_it() {
    let api = faulty(vec![Fault {
        api: "TagUser",
        kind: ErrorKind::AccessDenied,
        times: 1,
        after_effect: false,
    }]);
    let (report, dir) = run(&guide_plan(), &api, 1);
    let failed = report.failed.expect("the mark failed");
    assert_eq!(failed.change.op.api_name(), "CreateAccessKey");
    let user = api.snapshot().users["koding-user"].clone();
    let [key] = user.keys.as_slice() else {
        panic!("one key: {:?}", user.keys);
    };
    assert!(!user.tags.contains_key(&key.id), "{:?}", user.tags);
    let saved = std::fs::read_to_string(dir.path().join("secrets/koding-user.csv")).unwrap();
    assert!(saved.contains(&key.id), "the secret is saved");
    assert!(
        failed.reason.contains(&format!(
            "access key {} was made and its secret saved to ",
            key.id
        )) && failed
            .reason
            .contains("run `iamspec apply --adopt-keys` to mark it"),
        "{}",
        failed.reason
    );

    let mut spec = crate::testing::spec(SPEC);
    let live = crate::testing::read(&spec, &api, crate::live::KeyReading::ListEach);
    let again = crate::diff::diff(&spec, &live).unwrap();
    assert!(
        !again
            .changes
            .iter()
            .any(|c| c.op.api_name() == "CreateAccessKey"),
        "no second key: {:#?}",
        again.changes
    );
    spec.adopt_keys = true;
    let adopt = crate::diff::diff(&spec, &live).unwrap();
    assert!(
        adopt
            .changes
            .iter()
            .any(|c| c.op == Op::mark_key("koding-user", &key.id)),
        "{:#?}",
        adopt.changes
    );
}
