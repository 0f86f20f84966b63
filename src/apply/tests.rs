//! The applier against an in-memory account with scripted faults: the cases a real endpoint
//! cannot be made to produce on demand (throttling, lost answers, eventual consistency,
//! access denied, a disk that refuses the secret).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use super::*;
use crate::iam::PolicyArn;
use crate::live::{
    AccessKey, AccountDetails, Caller, CredentialReport, LiveState, UserCredentials,
};
use crate::secrets::Secret;

/// A fault to inject: the next `times` calls of `api` fail with `kind`. With `after_effect`
/// the call takes effect first and only its answer is lost.
struct Fault {
    api: &'static str,
    kind: ErrorKind,
    times: usize,
    after_effect: bool,
}

#[derive(Default)]
struct Account {
    users: BTreeMap<String, Vec<String>>,
    tags: BTreeMap<String, BTreeMap<String, String>>,
    groups: BTreeSet<String>,
    members: BTreeSet<(String, String)>,
    attached: BTreeSet<(String, PolicyArn)>,
    next_key: u32,
    /// Every call made, mutating or not, by API name.
    calls: Vec<&'static str>,
}

#[derive(Default)]
struct FakeIam {
    account: Mutex<Account>,
    faults: Mutex<VecDeque<Fault>>,
}

impl FakeIam {
    fn with_faults(faults: Vec<Fault>) -> Self {
        Self {
            faults: Mutex::new(faults.into()),
            ..Self::default()
        }
    }

    fn fault_for(&self, api: &str) -> Option<(ErrorKind, bool)> {
        let mut faults = self.faults.lock().unwrap();
        let fault = faults.iter_mut().find(|f| f.api == api && f.times > 0)?;
        fault.times -= 1;
        Some((fault.kind, fault.after_effect))
    }

    fn calls(&self, api: &str) -> usize {
        self.account
            .lock()
            .unwrap()
            .calls
            .iter()
            .filter(|c| **c == api)
            .count()
    }

    fn apply_op(&self, op: &Op) -> Result<Outcome, ApiError> {
        let mut a = self.account.lock().unwrap();
        let missing = |what: &str| {
            Err(ApiError::new(
                ErrorKind::NoSuchEntity,
                Some("NoSuchEntity".into()),
                format!("{what} not found"),
            ))
        };
        match op {
            Op::CreateGroup { group, .. } => {
                let created = a.groups.insert(group.clone());
                if !created {
                    return Err(ApiError::new(
                        ErrorKind::AlreadyExists,
                        Some("EntityAlreadyExists".into()),
                        "exists",
                    ));
                }
            }
            Op::CreateUser { user, tags, .. } => {
                if a.users.contains_key(user) {
                    return Err(ApiError::new(
                        ErrorKind::AlreadyExists,
                        Some("EntityAlreadyExists".into()),
                        "exists",
                    ));
                }
                a.users.insert(user.clone(), Vec::new());
                a.tags.insert(user.clone(), tags.clone());
            }
            Op::TagUser { user, tags } => {
                if !a.users.contains_key(user) {
                    return missing(user);
                }
                a.tags.entry(user.clone()).or_default().extend(tags.clone());
            }
            Op::AttachGroupPolicy { group, policy } => {
                if !a.groups.contains(group) {
                    return missing(group);
                }
                a.attached.insert((group.clone(), policy.clone()));
            }
            Op::AttachUserPolicy { user, policy } => {
                if !a.users.contains_key(user) {
                    return missing(user);
                }
                a.attached.insert((user.clone(), policy.clone()));
            }
            Op::AddUserToGroup { user, group } => {
                if !a.users.contains_key(user) || !a.groups.contains(group) {
                    return missing(user);
                }
                a.members.insert((user.clone(), group.clone()));
            }
            Op::CreateAccessKey { user } => {
                a.next_key += 1;
                let id = format!("AKIA{}", a.next_key);
                let Some(keys) = a.users.get_mut(user) else {
                    return missing(user);
                };
                keys.push(id.clone());
                return Ok(Outcome::NewAccessKey {
                    secret: Secret::new(format!("secret-of-{id}")),
                    access_key_id: id,
                });
            }
            _ => {}
        }
        Ok(Outcome::Done)
    }
}

impl IamApi for FakeIam {
    async fn caller(&self) -> Result<Caller, ApiError> {
        unreachable!("apply does not ask who the caller is")
    }

    async fn account_details(&self) -> Result<AccountDetails, ApiError> {
        unreachable!("apply does not read the account")
    }

    async fn aws_managed_policies(&self, _: Partition) -> Result<Vec<PolicyArn>, ApiError> {
        unreachable!("apply does not list policies")
    }

    async fn aws_policy_exists(&self, _: &PolicyArn) -> Result<bool, ApiError> {
        unreachable!("apply does not look up policies")
    }

    async fn policy_tags(&self, _: &PolicyArn) -> Result<BTreeMap<String, String>, ApiError> {
        unreachable!("apply does not read tags")
    }

    async fn user_credentials(&self, _: &str) -> Result<UserCredentials, ApiError> {
        unreachable!("apply does not read credentials")
    }

    async fn policy_roles(&self, _: &PolicyArn) -> Result<Vec<String>, ApiError> {
        unreachable!("apply does not read roles")
    }

    async fn credential_report(&self) -> Result<CredentialReport, ApiError> {
        unreachable!("apply does not read the credential report")
    }

    async fn access_keys(&self, user: &str) -> Result<Vec<AccessKey>, ApiError> {
        let mut a = self.account.lock().unwrap();
        a.calls.push("ListAccessKeys");
        let keys = a.users.get(user).cloned().unwrap_or_default();
        Ok(keys
            .into_iter()
            .map(|id| AccessKey {
                id,
                active: true,
                created: String::new(),
            })
            .collect())
    }

    async fn call(&self, op: &Op) -> Result<Outcome, ApiError> {
        self.account.lock().unwrap().calls.push(op.api_name());
        let fault = self.fault_for(op.api_name());
        if let Some((kind, after_effect)) = fault {
            if after_effect {
                let _ = self.apply_op(op);
            }
            return Err(ApiError::new(kind, Some(format!("{kind}")), "injected"));
        }
        self.apply_op(op)
    }

    async fn delete_access_key(&self, user: &str, id: &str) -> Result<(), ApiError> {
        let mut a = self.account.lock().unwrap();
        a.calls.push("DeleteAccessKey");
        let keys = a.users.get_mut(user).expect("the user exists");
        let before = keys.len();
        keys.retain(|k| k != id);
        if keys.len() == before || self.fault_for("DeleteAccessKey").is_some() {
            // Gone already, or (a fault) deleted by a first try whose answer was lost.
            return Err(ApiError::new(
                ErrorKind::NoSuchEntity,
                Some("NoSuchEntity".into()),
                format!("the access key {id} cannot be found"),
            ));
        }
        Ok(())
    }
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

fn run(plan: &Plan, api: &FakeIam, concurrency: usize) -> (Report, tempfile::TempDir) {
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

fn assert_guide_state(api: &FakeIam) {
    let a = api.account.lock().unwrap();
    assert_eq!(a.groups, BTreeSet::from(["Developers".to_owned()]));
    assert_eq!(a.users["koding-user"].len(), 1, "exactly one key");
    assert_eq!(a.tags["koding-user"]["team"], "platform");
    assert_eq!(a.attached.len(), 2);
    assert!(
        a.members
            .contains(&("koding-user".into(), "Developers".into()))
    );
}

#[test]
fn the_plan_is_applied_in_full_and_reported_in_plan_order() {
    let plan = guide_plan();
    let api = FakeIam::default();
    let (report, dir) = run(&plan, &api, 8);
    assert!(report.succeeded(), "{report:#?}");
    let done: Vec<&Change> = report.done.iter().map(|d| &d.change).collect();
    assert_eq!(done, plan.changes.iter().collect::<Vec<_>>());
    assert_eq!(report.retries, 0);
    assert_guide_state(&api);
    let key = &api.account.lock().unwrap().users["koding-user"][0];
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
    let api = FakeIam::with_faults(vec![Fault {
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
    let api = FakeIam::with_faults(vec![Fault {
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
    let api = FakeIam::default();
    let (report, _dir) = run(&plan, &api, 1);
    assert_eq!(api.calls("AddUserToGroup"), 1);
    assert_eq!(
        report.failed.unwrap().reason,
        "iam:AddUserToGroup on user gone and group Developers failed because something it names does not exist (NoSuchEntity: gone not found): if it was deleted meanwhile, run apply again to recreate it"
    );
}

#[test]
fn access_denied_stops_the_apply_and_says_what_the_caller_needs() {
    let api = FakeIam::with_faults(vec![Fault {
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
    let api = FakeIam::with_faults(vec![Fault {
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
    let key = api.account.lock().unwrap().users["koding-user"][0].clone();
    assert_eq!(
        key, "AKIA2",
        "the first key, whose secret was lost, is gone"
    );
    let csv = std::fs::read_to_string(dir.path().join("secrets/koding-user.csv")).unwrap();
    assert!(csv.contains("AKIA2,secret-of-AKIA2"), "{csv}");
}

#[test]
fn no_key_is_made_when_its_secret_could_not_be_saved() {
    let plan = guide_plan();
    let api = FakeIam::default();
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
    assert!(api.account.lock().unwrap().users["koding-user"].is_empty());
}

#[test]
fn a_key_taken_back_by_a_retried_delete_counts_as_taken_back() {
    let api = FakeIam::with_faults(vec![
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
    let api = FakeIam::default();
    api.account
        .lock()
        .unwrap()
        .users
        .insert("koding-user".into(), Vec::new());
    let (report, _dir) = run(&guide_plan(), &api, 1);
    assert!(report.succeeded(), "{report:#?}");
    let create = report
        .done
        .iter()
        .find(|d| d.change.op.api_name() == "CreateUser")
        .unwrap();
    assert_eq!(create.note.as_deref(), Some("it already existed"));
    // The next plan shows what someone else's user lacks; apply only makes the plan's calls.
    assert_eq!(api.calls("TagUser"), 0);
    let account = api.account.lock().unwrap();
    assert!(!account.tags.contains_key("koding-user"));
    assert_eq!(account.users["koding-user"].len(), 1, "its key was made");
}

#[test]
fn throttling_that_never_ends_gives_up_at_the_deadline() {
    let api = FakeIam::with_faults(vec![Fault {
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
