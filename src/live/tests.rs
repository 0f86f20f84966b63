//! What the reader asks IAM for, on an account held in memory: the credential report settles
//! most users' keys, and only the users it leaves in doubt are listed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Mutex;

use serde_json::Value;

use super::*;
use crate::iam::{Partition, PolicyArn};
use crate::plan::Op;
use crate::secrets::PendingKey;
use crate::spec;
use crate::spec::Spec;

const SPEC: &str = r#"
version = 1

[account]
scope = "/team/"

[policies.Inside]
path = "/team/"
document = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "s3:GetObject", Resource = "*" }] }

[policies.Outside]
document = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "s3:PutObject", Resource = "*" }] }

[users.alice]
access_key = true

[users.bob]
access_key = true

[users.carol]
"#;

/// An account of three users made at second 1000, and the calls made to it.
struct Account {
    /// AWS-managed policies that exist, and those of them attached to the group `devs`.
    aws: Vec<PolicyArn>,
    attached: BTreeSet<PolicyArn>,
    report: Result<CredentialReport, ApiError>,
    keys: BTreeMap<String, Vec<AccessKey>>,
    policies: Vec<LivePolicy>,
    calls: Mutex<Vec<String>>,
}

impl Account {
    /// alice and bob have one active key each, carol none; the report agrees.
    fn new() -> Self {
        let key = |id: &str| AccessKey {
            id: id.into(),
            active: true,
            created: "2026-11-01T00:00:00Z".into(),
        };
        let keys: BTreeMap<String, Vec<AccessKey>> = BTreeMap::from([
            ("alice".into(), vec![key("AKIAALICE")]),
            ("bob".into(), vec![key("AKIABOB")]),
            ("carol".into(), Vec::new()),
        ]);
        let report = CredentialReport {
            users: keys
                .iter()
                .map(|(name, keys)| {
                    let row = ReportedUser {
                        created: 1000,
                        keys: keys.iter().map(|k| k.active).collect(),
                    };
                    (name.clone(), row)
                })
                .collect(),
        };
        let aws = ["/", "/job-function/"]
            .into_iter()
            .zip(["IAMReadOnlyAccess", "ViewOnlyAccess"])
            .map(|(path, name)| PolicyArn::aws_managed(Partition::Aws, path, name))
            .collect();
        Self {
            aws,
            attached: BTreeSet::new(),
            report: Ok(report),
            keys,
            policies: vec![inside(), policy("/", "Outside")],
            calls: Mutex::new(Vec::new()),
        }
    }

    fn record(&self, call: String) {
        self.calls.lock().unwrap().push(call);
    }

    /// The calls made, other than the fixed ones every read makes.
    fn targeted(&self) -> Vec<String> {
        let fixed = [
            "GetCallerIdentity",
            "GetAccountAuthorizationDetails",
            "ListPolicies",
        ];
        let calls = self.calls.lock().unwrap();
        calls
            .iter()
            .filter(|c| !fixed.contains(&c.as_str()))
            .cloned()
            .collect()
    }

    fn row(&mut self, user: &str) -> &mut ReportedUser {
        let report = self.report.as_mut().unwrap();
        report.users.get_mut(user).unwrap()
    }
}

fn policy(path: &str, name: &str) -> LivePolicy {
    LivePolicy {
        arn: PolicyArn::parse(&format!("arn:aws:iam::123456789012:policy{path}{name}")).unwrap(),
        tags: BTreeMap::new(),
        description: String::new(),
        attachment_count: 0,
        versions: Vec::new(),
        document: Value::Null,
        roles: Vec::new(),
    }
}

impl IamApi for Account {
    async fn caller(&self) -> Result<Caller, ApiError> {
        self.record("GetCallerIdentity".into());
        Ok(Caller {
            account: "123456789012".into(),
            arn: "arn:aws:iam::123456789012:user/ci".into(),
            ..Caller::default()
        })
    }

    async fn account_details(&self) -> Result<AccountDetails, ApiError> {
        self.record("GetAccountAuthorizationDetails".into());
        let users = self
            .keys
            .keys()
            .map(|name| LiveUser {
                name: name.clone(),
                path: "/".into(),
                created: Some(1000),
                ..LiveUser::default()
            })
            .collect();
        let devs = LiveGroup {
            name: "devs".into(),
            path: "/".into(),
            policies: self.attached.clone(),
            inline_policies: BTreeMap::new(),
        };
        Ok(AccountDetails {
            users,
            groups: vec![devs],
            local_policies: self.policies.clone(),
        })
    }

    async fn aws_managed_policies(&self, _: Partition) -> Result<Vec<PolicyArn>, ApiError> {
        self.record("ListPolicies".into());
        Ok(self.aws.clone())
    }

    async fn aws_policy_exists(&self, policy: &PolicyArn) -> Result<bool, ApiError> {
        self.record(format!("GetPolicy {}", policy.name));
        Ok(self.aws.contains(policy))
    }

    async fn policy_tags(&self, policy: &PolicyArn) -> Result<BTreeMap<String, String>, ApiError> {
        self.record(format!("ListPolicyTags {}", policy.name));
        Ok(BTreeMap::new())
    }

    async fn credential_report(&self) -> Result<CredentialReport, ApiError> {
        self.record("GetCredentialReport".into());
        self.report.clone()
    }

    async fn access_keys(&self, user: &str) -> Result<Vec<AccessKey>, ApiError> {
        self.record(format!("ListAccessKeys {user}"));
        Ok(self.keys[user].clone())
    }

    async fn user_credentials(&self, _: &str) -> Result<UserCredentials, ApiError> {
        unreachable!("the spec does not prune")
    }

    async fn policy_roles(&self, _: &PolicyArn) -> Result<Vec<String>, ApiError> {
        unreachable!("the spec does not prune")
    }

    async fn call(&self, _: &Op) -> Result<Outcome, ApiError> {
        unreachable!("reading changes nothing")
    }

    async fn delete_access_key(&self, _: &str, _: &str) -> Result<(), ApiError> {
        unreachable!("reading changes nothing")
    }
}

fn spec() -> Spec {
    spec::parse(SPEC, Path::new("team.toml")).unwrap()
}

async fn read_with(account: &Account, keys: KeyReading) -> LiveState {
    read(account, &spec(), BTreeMap::new(), keys).await.unwrap()
}

#[tokio::test]
async fn a_report_that_shows_what_the_spec_asks_settles_every_user() {
    let account = Account::new();
    let live = read_with(&account, KeyReading::Report).await;
    assert_eq!(
        account.targeted(),
        ["GetCredentialReport", "ListPolicyTags Outside"]
    );
    assert!(live.users.values().all(|u| u.keys_settled));
    assert!(live.warnings.is_empty());
}

/// The spec's policy `Inside` as the spec defines it.
fn inside() -> LivePolicy {
    LivePolicy {
        document: crate::document::canonical(&serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]
        })),
        ..policy("/team/", "Inside")
    }
}

/// The policies whose tags a read asks for.
async fn tags_read(account: &Account) -> Vec<String> {
    read_with(account, KeyReading::Report).await;
    let mut tags: Vec<String> = account
        .targeted()
        .into_iter()
        .filter(|c| c.starts_with("ListPolicyTags"))
        .collect();
    tags.sort();
    tags
}

#[tokio::test]
async fn policies_under_the_scope_that_match_the_spec_are_not_asked_for_their_tags() {
    assert_eq!(tags_read(&Account::new()).await, ["ListPolicyTags Outside"]);
}

#[tokio::test]
async fn policies_under_the_scope_the_plan_could_touch_are_asked_for_their_tags() {
    // Another owner's tag beats the scope: the spec's policy that differs, and one the spec
    // does not name (drift, or a prune's to delete), may be someone else's.
    let mut account = Account::new();
    account.policies = vec![
        policy("/team/", "Inside"),
        policy("/team/", "Stray"),
        policy("/", "Outside"),
    ];
    assert_eq!(
        tags_read(&account).await,
        [
            "ListPolicyTags Inside",
            "ListPolicyTags Outside",
            "ListPolicyTags Stray"
        ]
    );
}

#[tokio::test]
async fn users_the_report_leaves_in_doubt_are_listed() {
    let mut account = Account::new();
    // alice has a second key the plan must name; bob's row is of an earlier bob; carol has a
    // key the spec does not ask for.
    account.row("alice").keys = vec![true, false];
    account.row("bob").created = 900;
    account.row("carol").keys = vec![true];
    let live = read_with(&account, KeyReading::Report).await;
    let mut listed: Vec<String> = account
        .targeted()
        .into_iter()
        .filter(|c| c.starts_with("ListAccessKeys"))
        .collect();
    listed.sort();
    assert_eq!(
        listed,
        [
            "ListAccessKeys alice",
            "ListAccessKeys bob",
            "ListAccessKeys carol"
        ]
    );
    assert!(live.users.values().all(|u| !u.keys_settled));
    assert_eq!(live.users["alice"].access_keys[0].id, "AKIAALICE");
}

#[tokio::test]
async fn a_user_newer_than_the_report_is_listed() {
    let mut account = Account::new();
    account.report.as_mut().unwrap().users.remove("carol");
    let live = read_with(&account, KeyReading::Report).await;
    assert!(
        account
            .targeted()
            .contains(&"ListAccessKeys carol".to_owned())
    );
    assert!(!live.users["carol"].keys_settled);
    assert!(live.users["alice"].keys_settled);
}

#[tokio::test]
async fn a_user_with_a_pending_key_creation_is_listed() {
    let account = Account::new();
    let pending = BTreeMap::from([("alice".to_owned(), PendingKey::default())]);
    let live = read(&account, &spec(), pending, KeyReading::Report)
        .await
        .unwrap();
    assert!(
        account
            .targeted()
            .contains(&"ListAccessKeys alice".to_owned())
    );
    assert!(!live.users["alice"].keys_settled);
    assert!(live.pending_keys.contains_key("alice"));
}

#[tokio::test]
async fn without_the_report_every_user_is_listed_and_the_plan_says_why() {
    let mut account = Account::new();
    account.report = Err(ApiError::new(
        ErrorKind::AccessDenied,
        Some("AccessDenied".into()),
        "not authorized to perform iam:GenerateCredentialReport",
    ));
    let live = read_with(&account, KeyReading::Report).await;
    let listed = account
        .targeted()
        .iter()
        .filter(|c| c.starts_with("ListAccessKeys"))
        .count();
    assert_eq!(listed, 3);
    assert_eq!(live.warnings.len(), 1);
    assert!(
        live.warnings[0].contains("allow iam:GenerateCredentialReport"),
        "{}",
        live.warnings[0]
    );
}

#[tokio::test]
async fn a_report_that_cannot_be_had_for_a_while_fails_the_read() {
    let mut account = Account::new();
    account.report = Err(ApiError::new(
        ErrorKind::Throttled,
        Some("Throttling".into()),
        "Rate exceeded",
    ));
    let err = read(&account, &spec(), BTreeMap::new(), KeyReading::Report)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("could not read the credential report"),
        "{err}"
    );
}

#[tokio::test]
async fn list_each_reads_no_report() {
    let account = Account::new();
    let live = read_with(&account, KeyReading::ListEach).await;
    let targeted = account.targeted();
    assert!(!targeted.contains(&"GetCredentialReport".to_owned()));
    assert_eq!(
        targeted
            .iter()
            .filter(|c| c.starts_with("ListAccessKeys"))
            .count(),
        3
    );
    assert!(live.users.values().all(|u| !u.keys_settled));
}

/// A spec of AWS-managed policies only, attached to the group `devs`.
fn policies_spec(policies: &str) -> Spec {
    let text = format!("version = 1\n[groups.devs]\npolicies = [{policies}]\n");
    spec::parse(&text, Path::new("devs.toml")).unwrap()
}

async fn resolved(account: &Account, spec: &Spec) -> Vec<String> {
    let live = read(account, spec, BTreeMap::new(), KeyReading::Report)
        .await
        .unwrap();
    live.aws_policies.iter().map(ToString::to_string).collect()
}

#[tokio::test]
async fn aws_managed_policies_attached_already_cost_no_call() {
    let mut account = Account::new();
    account.attached = account.aws.iter().cloned().collect();
    let spec = policies_spec(r#""IAMReadOnlyAccess", "ViewOnlyAccess""#);
    let arns = resolved(&account, &spec).await;
    assert_eq!(arns.len(), 2, "{arns:?}");
    let lookups: Vec<String> = account
        .calls
        .lock()
        .unwrap()
        .iter()
        .filter(|c| c.starts_with("GetPolicy") || c.starts_with("ListPolicies"))
        .cloned()
        .collect();
    assert_eq!(lookups, Vec::<String>::new());
}

#[tokio::test]
async fn an_aws_managed_policy_not_attached_yet_is_looked_up_by_its_arn() {
    let account = Account::new();
    let spec = policies_spec(r#""IAMReadOnlyAccess", "job-function/ViewOnlyAccess""#);
    let arns = resolved(&account, &spec).await;
    assert_eq!(
        arns,
        [
            "arn:aws:iam::aws:policy/IAMReadOnlyAccess",
            "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"
        ]
    );
    let calls = account.calls.lock().unwrap().clone();
    assert!(calls.contains(&"GetPolicy IAMReadOnlyAccess".to_owned()));
    assert!(!calls.contains(&"ListPolicies".to_owned()), "{calls:?}");
}

#[tokio::test]
async fn a_name_not_found_at_the_root_makes_the_whole_list_read() {
    // `ViewOnlyAccess` without its path: the differ resolves it from the list, or a typo
    // gets the nearest name from it.
    let account = Account::new();
    let spec = policies_spec(r#""ViewOnlyAccess""#);
    let arns = resolved(&account, &spec).await;
    assert_eq!(arns.len(), 2);
    assert!(
        account
            .calls
            .lock()
            .unwrap()
            .contains(&"ListPolicies".to_owned())
    );
}
