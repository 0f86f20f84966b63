//! Roles, providers and boundaries through read, diff and apply on the in-memory account:
//! what the local endpoint cannot show (user boundaries, principals IAM replaced by unique
//! ids, the caller's own role).

use serde_json::json;

use crate::iam::{EntityKind, PolicyArn};
use crate::live::KeyReading;
use crate::live::memory::{MemoryAccount, MemoryIam, MemoryProvider, MemoryRole};
use crate::plan::{Drift, Op, Plan};
use crate::secrets::SecretsDir;
use crate::spec::Spec;
use crate::testing::{apply_plan, aws, read, spec};

fn plan(spec: &Spec, api: &MemoryIam) -> Result<Plan, crate::diff::DiffError> {
    crate::diff::diff(spec, &read(spec, api, KeyReading::Report))
}

fn apply_spec(spec: &Spec, api: &MemoryIam) {
    let plan = plan(spec, api).unwrap();
    let dir = tempfile::tempdir().unwrap();
    apply_plan(&plan, api, &SecretsDir::new(dir.path().join("secrets")));
}

fn account() -> MemoryIam {
    MemoryIam::new(MemoryAccount {
        aws_policies: vec![aws("PowerUserAccess"), aws("ReadOnlyAccess")],
        ..MemoryAccount::default()
    })
}

const BOUNDED: &str = r#"version = 1
[policies.Bound]
document = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "s3:*", Resource = "*" }] }
[users.dev]
boundary = "Bound"
[roles.ci]
trust = { services = ["codebuild.amazonaws.com"] }
policies = ["PowerUserAccess"]
boundary = "Bound"
"#;

#[test]
fn user_and_role_boundaries_apply_then_plan_nothing_and_a_prune_removes_them() {
    let api = account();
    let bounded = spec(BOUNDED);
    let first = plan(&bounded, &api).unwrap();
    let ops: Vec<&str> = first.changes.iter().map(|c| c.op.api_name()).collect();
    assert_eq!(
        ops,
        [
            "CreatePolicy",
            "CreateUser",
            "CreateRole",
            "AttachRolePolicy"
        ],
        "the policy is made before the user and role it bounds, and they take it when made"
    );
    apply_spec(&bounded, &api);
    assert!(plan(&bounded, &api).unwrap().is_empty());
    let state = api.snapshot();
    let bound = PolicyArn::parse("arn:aws:iam::123456789012:policy/Bound").unwrap();
    assert_eq!(state.users["dev"].boundary.as_ref(), Some(&bound));
    assert_eq!(state.roles["ci"].boundary.as_ref(), Some(&bound));

    let unbounded = spec(&BOUNDED.replace("boundary = \"Bound\"\n", ""));
    let drift = plan(&unbounded, &api).unwrap();
    assert!(drift.is_empty());
    assert_eq!(
        drift.drift,
        [
            Drift::ExtraBoundary {
                entity: EntityKind::User,
                name: "dev".into(),
                policy: bound.clone()
            },
            Drift::ExtraBoundary {
                entity: EntityKind::Role,
                name: "ci".into(),
                policy: bound.clone()
            },
        ]
    );
    let mut pruning = unbounded.clone();
    pruning.prune = true;
    apply_spec(&pruning, &api);
    let state = api.snapshot();
    assert_eq!(state.users["dev"].boundary, None);
    assert_eq!(state.roles["ci"].boundary, None);
    assert!(plan(&pruning, &api).unwrap().is_empty());
}

#[test]
fn a_principal_iam_replaced_by_its_unique_id_is_said_in_words() {
    let api = account();
    let deleted = "AROAEXAMPLEDELETED0001";
    api.state.lock().unwrap().roles.insert(
        "reader".into(),
        MemoryRole {
            path: "/".into(),
            trust: json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": deleted}, "Action": "sts:AssumeRole"}]}),
            max_session: 3600,
            ..MemoryRole::default()
        },
    );
    let wanted = spec(
        r#"version = 1
[roles.reader]
trust_document = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Principal = { AWS = "arn:aws:iam::123456789012:role/deployer" }, Action = "sts:AssumeRole" }] }
"#,
    );
    let plan = plan(&wanted, &api).unwrap();
    let update = plan
        .changes
        .iter()
        .find(|c| matches!(c.op, Op::UpdateAssumeRolePolicy { .. }))
        .expect("the trust is planned back");
    let Op::UpdateAssumeRolePolicy {
        deleted_principals, ..
    } = &update.op
    else {
        unreachable!()
    };
    assert_eq!(deleted_principals, &[deleted.to_owned()]);
    assert_eq!(
        crate::render::describe(update),
        format!(
            "update the trust policy of role reader (IAM shows {deleted} where the trust named a principal: the role or user it named was deleted, and a new one of the same name is not trusted until the policy names it again)"
        )
    );
}

#[test]
fn the_callers_own_role_is_never_changed() {
    let api = account();
    api.state.lock().unwrap().roles.insert(
        "admin".into(),
        MemoryRole {
            path: "/".into(),
            trust: json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
            max_session: 3600,
            policies: [aws("PowerUserAccess")].into(),
            ..MemoryRole::default()
        },
    );
    // The in-memory account's caller is the role `admin`'s session.
    let mut wanted = spec(
        "version = 1\n[roles.admin]\ntrust = { services = [\"ec2.amazonaws.com\"] }\npolicies = [\"ReadOnlyAccess\"]\n",
    );
    wanted.prune = true;
    let plan = plan(&wanted, &api).unwrap();
    assert!(plan.is_empty(), "{:#?}", plan.changes);
    assert_eq!(
        plan.protected,
        [
            "role admin: iamspec is signing as it and never changes it, so what it has beyond the spec stays",
            "role admin: iamspec is signing as it and never changes it (TagRole, AttachRolePolicy skipped)"
        ]
    );
}

#[test]
fn a_trust_in_a_provider_nobody_made_is_refused_with_its_place() {
    let api = account();
    let wanted = spec(
        r#"version = 1
[roles.ci]
trust_document = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Principal = { Federated = "arn:aws:iam::123456789012:oidc-provider/gitlab.example.com" }, Action = "sts:AssumeRoleWithWebIdentity", Condition = { StringEquals = { "gitlab.example.com:sub" = "project_path:acme/app:ref_type:branch:ref:main" } } }] }
"#,
    );
    let err = plan(&wanted, &api).unwrap_err();
    assert_eq!(
        err.to_string(),
        "spec.toml:3:18: the trust policy of role `ci` lets tokens of arn:aws:iam::123456789012:oidc-provider/gitlab.example.com assume it, but the spec declares no such provider and the account has none: add [oidc_providers.NAME] with url = \"https://gitlab.example.com\""
    );
    // The account has it: nothing to refuse.
    api.state.lock().unwrap().providers.insert(
        "gitlab.example.com".into(),
        MemoryProvider {
            audiences: vec!["sts.amazonaws.com".into()],
            ..MemoryProvider::default()
        },
    );
    assert!(plan(&wanted, &api).is_ok());
}

#[test]
fn a_providers_audiences_become_the_specs_and_an_untagged_one_is_adopted() {
    let api = account();
    api.state.lock().unwrap().providers.insert(
        "token.actions.githubusercontent.com".into(),
        MemoryProvider {
            audiences: vec!["old".into()],
            ..MemoryProvider::default()
        },
    );
    let wanted = spec(
        "version = 1\n[oidc_providers.github]\nurl = \"https://token.actions.githubusercontent.com/\"\n",
    );
    let first = plan(&wanted, &api).unwrap();
    let described: Vec<String> = first.changes.iter().map(crate::render::describe).collect();
    assert_eq!(
        described,
        [
            "remove audience old from OIDC provider https://token.actions.githubusercontent.com",
            "tag OIDC provider https://token.actions.githubusercontent.com with iamspec:owner = \"iamspec\"",
            "add audience sts.amazonaws.com to OIDC provider https://token.actions.githubusercontent.com",
        ]
    );
    apply_spec(&wanted, &api);
    assert!(plan(&wanted, &api).unwrap().is_empty());
}
