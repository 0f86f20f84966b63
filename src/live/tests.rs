//! What the reader asks IAM for, on an account held in memory: the credential report settles
//! most users' keys, and only the users it leaves in doubt are listed.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::memory::{MemoryAccount, MemoryGroup, MemoryIam, MemoryPolicy, MemoryUser};
use super::*;
use crate::iam::{Partition, PolicyArn};
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

fn document(action: &str) -> Value {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]
    })
}

fn customer(path: &str, name: &str) -> PolicyArn {
    PolicyArn::parse(&format!("arn:aws:iam::123456789012:policy{path}{name}")).unwrap()
}

fn aws() -> Vec<PolicyArn> {
    ["/", "/job-function/"]
        .into_iter()
        .zip(["IAMReadOnlyAccess", "ViewOnlyAccess"])
        .map(|(path, name)| PolicyArn::aws_managed(Partition::Aws, path, name))
        .collect()
}

/// Three users made at second 1000: alice and bob with one active key each, carol with none;
/// a group `devs`; the spec's policy `Inside` as the spec has it and `Outside`; and two
/// AWS-managed policies. Its credential report agrees with it.
fn base() -> MemoryAccount {
    let key = |id: &str| AccessKey {
        id: id.into(),
        active: true,
        created: 1_793_491_200,
        last_used: None,
    };
    let user = |keys: Vec<AccessKey>| MemoryUser {
        path: "/".into(),
        created: 1000,
        keys,
        ..MemoryUser::default()
    };
    MemoryAccount {
        users: BTreeMap::from([
            ("alice".into(), user(vec![key("AKIAALICE")])),
            ("bob".into(), user(vec![key("AKIABOB")])),
            ("carol".into(), user(Vec::new())),
        ]),
        groups: BTreeMap::from([(
            "devs".into(),
            MemoryGroup {
                path: "/".into(),
                ..MemoryGroup::default()
            },
        )]),
        policies: BTreeMap::from([
            (
                customer("/team/", "Inside"),
                MemoryPolicy::new(document("s3:GetObject"), "", BTreeMap::new()),
            ),
            (
                customer("/", "Outside"),
                MemoryPolicy::new(document("s3:PutObject"), "", BTreeMap::new()),
            ),
        ]),
        aws_policies: aws(),
        ..MemoryAccount::default()
    }
}

fn account() -> MemoryIam {
    MemoryIam::new(base())
}

/// The calls made, other than the fixed ones every read makes.
fn targeted(api: &MemoryIam) -> Vec<String> {
    let fixed = [
        "GetCallerIdentity",
        "GetAccountAuthorizationDetails",
        "ListPolicies",
    ];
    api.log()
        .into_iter()
        .filter(|c| !fixed.contains(&c.as_str()))
        .collect()
}

fn spec() -> Spec {
    spec::parse(SPEC, Path::new("team.toml")).unwrap()
}

async fn read_with(account: &MemoryIam, keys: KeyReading) -> LiveState {
    read(account, &spec(), BTreeMap::new(), keys).await.unwrap()
}

#[tokio::test]
async fn a_report_that_shows_what_the_spec_asks_settles_every_user() {
    let account = account();
    let live = read_with(&account, KeyReading::Report).await;
    assert_eq!(
        targeted(&account),
        ["GetCredentialReport", "ListPolicyTags Outside"]
    );
    assert!(live.users.values().all(|u| u.keys_settled));
    assert!(live.warnings.is_empty());
}

/// The policies whose tags a read asks for.
async fn tags_read(account: &MemoryIam) -> Vec<String> {
    read_with(account, KeyReading::Report).await;
    let mut tags: Vec<String> = targeted(account)
        .into_iter()
        .filter(|c| c.starts_with("ListPolicyTags"))
        .collect();
    tags.sort();
    tags
}

#[tokio::test]
async fn policies_under_the_scope_that_match_the_spec_are_not_asked_for_their_tags() {
    assert_eq!(tags_read(&account()).await, ["ListPolicyTags Outside"]);
}

#[tokio::test]
async fn policies_under_the_scope_the_plan_could_touch_are_asked_for_their_tags() {
    // Another owner's tag beats the scope: the spec's policy that differs, and one the spec
    // does not name (drift, or a prune's to delete), may be someone else's.
    let mut state = base();
    let inside = state
        .policies
        .get_mut(&customer("/team/", "Inside"))
        .unwrap();
    inside.versions[0].1 = document("s3:*");
    state.policies.insert(
        customer("/team/", "Stray"),
        MemoryPolicy::new(document("s3:GetObject"), "", BTreeMap::new()),
    );
    let account = MemoryIam::new(state);
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
    let account = account();
    // The report says: alice has a second key the plan must name; bob's row is of an earlier
    // bob; carol has a key the spec does not ask for.
    let mut report = account.snapshot().credential_report();
    let key = |active| crate::live::ReportedKey {
        active,
        created: 1000,
        last_used: None,
    };
    report.users.get_mut("alice").unwrap().keys = vec![key(true), key(false)];
    report.users.get_mut("bob").unwrap().created = 900;
    report.users.get_mut("carol").unwrap().keys = vec![key(true)];
    account.set_report(Ok(report));
    let live = read_with(&account, KeyReading::Report).await;
    let mut listed: Vec<String> = targeted(&account)
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
    let account = account();
    let mut report = account.snapshot().credential_report();
    report.users.remove("carol");
    account.set_report(Ok(report));
    let live = read_with(&account, KeyReading::Report).await;
    assert!(targeted(&account).contains(&"ListAccessKeys carol".to_owned()));
    assert!(!live.users["carol"].keys_settled);
    assert!(live.users["alice"].keys_settled);
}

#[tokio::test]
async fn a_user_with_a_pending_key_creation_is_listed() {
    let account = account();
    let pending = BTreeMap::from([("alice".to_owned(), PendingKey::default())]);
    let live = read(&account, &spec(), pending, KeyReading::Report)
        .await
        .unwrap();
    assert!(targeted(&account).contains(&"ListAccessKeys alice".to_owned()));
    assert!(!live.users["alice"].keys_settled);
    assert!(live.pending_keys.contains_key("alice"));
}

#[tokio::test]
async fn without_the_report_every_user_is_listed_and_the_plan_says_why() {
    let account = account();
    account.set_report(Err(ApiError::new(
        ErrorKind::AccessDenied,
        Some("AccessDenied".into()),
        "not authorized to perform iam:GenerateCredentialReport",
    )));
    let live = read_with(&account, KeyReading::Report).await;
    let listed = targeted(&account)
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
    let account = account();
    account.set_report(Err(ApiError::new(
        ErrorKind::Throttled,
        Some("Throttling".into()),
        "Rate exceeded",
    )));
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
    let account = account();
    let live = read_with(&account, KeyReading::ListEach).await;
    let targeted = targeted(&account);
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

async fn resolved(account: &MemoryIam, spec: &Spec) -> Vec<String> {
    let live = read(account, spec, BTreeMap::new(), KeyReading::Report)
        .await
        .unwrap();
    live.aws_policies.iter().map(ToString::to_string).collect()
}

#[tokio::test]
async fn aws_managed_policies_attached_already_cost_no_call() {
    let mut state = base();
    state.groups.get_mut("devs").unwrap().policies = aws().into_iter().collect();
    let account = MemoryIam::new(state);
    let spec = policies_spec(r#""IAMReadOnlyAccess", "ViewOnlyAccess""#);
    let arns = resolved(&account, &spec).await;
    assert_eq!(arns.len(), 2, "{arns:?}");
    let lookups: Vec<String> = account
        .log()
        .iter()
        .filter(|c| c.starts_with("GetPolicy") || c.starts_with("ListPolicies"))
        .cloned()
        .collect();
    assert_eq!(lookups, Vec::<String>::new());
}

#[tokio::test]
async fn an_aws_managed_policy_not_attached_yet_is_looked_up_by_its_arn() {
    let account = account();
    let spec = policies_spec(r#""IAMReadOnlyAccess", "job-function/ViewOnlyAccess""#);
    let arns = resolved(&account, &spec).await;
    assert_eq!(
        arns,
        [
            "arn:aws:iam::aws:policy/IAMReadOnlyAccess",
            "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"
        ]
    );
    let calls = account.log();
    assert!(calls.contains(&"GetPolicy IAMReadOnlyAccess".to_owned()));
    assert!(!calls.contains(&"ListPolicies".to_owned()), "{calls:?}");
}

#[tokio::test]
async fn a_name_not_found_at_the_root_makes_the_whole_list_read() {
    // `ViewOnlyAccess` without its path: the differ resolves it from the list, or a typo
    // gets the nearest name from it.
    let account = account();
    let spec = policies_spec(r#""ViewOnlyAccess""#);
    let arns = resolved(&account, &spec).await;
    assert_eq!(arns.len(), 2);
    assert!(account.log().contains(&"ListPolicies".to_owned()));
}

#[test]
fn credential_report_is_read_by_its_column_names() {
    let csv = "user,arn,user_creation_time,password_enabled,access_key_1_active,access_key_1_last_rotated,access_key_2_active,access_key_2_last_rotated\n\
<root_account>,arn:aws:iam::123456789012:root,not_supported,not_supported,false,N/A,false,N/A\n\
alice,arn:aws:iam::123456789012:user/alice,2026-11-01T10:00:00+00:00,false,true,2026-11-02T10:00:00+00:00,false,N/A\n\
\"b,ob\",arn:aws:iam::123456789012:user/b,2026-11-01T10:00:01+00:00,true,false,2026-11-02T10:00:00+00:00,true,2026-11-03T10:00:00+00:00\n\
carol,arn:aws:iam::123456789012:user/carol,2026-11-01T10:00:02+00:00,false,false,N/A,false,N/A\n";
    let report = parse_credential_report(csv.as_bytes()).unwrap();
    let created = 1_793_527_200; // 2026-11-01T10:00:00Z
    let day: i64 = 86_400;
    let key = |active, days| crate::live::ReportedKey {
        active,
        created: created + days * day,
        last_used: None,
    };
    let row = |keys: Vec<crate::live::ReportedKey>, after: i64, login: bool| ReportedUser {
        created: created + after,
        keys,
        login: login.then_some(crate::live::Login {
            created: created + after,
            last_used: None,
        }),
        mfa: false,
    };
    assert_eq!(
        report.users,
        BTreeMap::from([
            ("alice".to_owned(), row(vec![key(true, 1)], 0, false)),
            (
                "b,ob".to_owned(),
                row(vec![key(false, 1), key(true, 2)], 1, true)
            ),
            ("carol".to_owned(), row(vec![], 2, false)),
        ])
    );
    assert!(report.root.is_some(), "the root user's row is kept apart");
}

#[test]
fn a_credential_report_without_key_columns_is_an_error() {
    let err = parse_credential_report(b"user,arn,user_creation_time\nalice,x,y\n").unwrap_err();
    assert_eq!(err, "it has no column `access_key_1_active`");
}
