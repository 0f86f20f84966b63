//! The differ on hand-made states: what an empty, a complete and a drifted account plan.

use std::collections::BTreeMap;
use std::path::Path;

use super::*;
use crate::iam::{OWNER_TAG, Partition};
use crate::live::{AccessKey, Caller, LiveGroup, LivePolicy, LiveRole, LiveUser, PolicyVersion};
use crate::plan::{Action, Cause, Immutable, KeyStatus};

/// The guide's setup with Route53, as the repository's example spec has it.
const SPEC: &str = include_str!("../../specs/koding-route53.toml");

fn spec(text: &str) -> Spec {
    crate::spec::parse(text, Path::new("spec.toml")).unwrap()
}

fn aws(path: &str, name: &str) -> PolicyArn {
    PolicyArn::aws_managed(Partition::Aws, path, name)
}

/// An account with no users or groups, and some AWS-managed policies.
fn empty_account() -> LiveState {
    LiveState {
        caller: Caller {
            account: "123456789012".into(),
            arn: "arn:aws:iam::123456789012:user/admin".into(),
            partition: Partition::Aws,
            access_key_id: None,
        },
        aws_policies: vec![
            aws("/", "AmazonEC2FullAccess"),
            aws("/", "IAMReadOnlyAccess"),
            aws("/", "AmazonRoute53FullAccess"),
            aws("/", "AmazonRoute53DomainsFullAccess"),
            aws("/", "AmazonS3ReadOnlyAccess"),
            aws("/job-function/", "ViewOnlyAccess"),
            aws("/service-role/", "AWSLambdaRole"),
        ],
        ..LiveState::default()
    }
}

/// The account after the guide's setup.
fn guide_account() -> LiveState {
    let mut live = empty_account();
    let policies = [
        "AmazonEC2FullAccess",
        "IAMReadOnlyAccess",
        "AmazonRoute53FullAccess",
        "AmazonRoute53DomainsFullAccess",
    ];
    live.groups.insert(
        "Developers".into(),
        LiveGroup {
            name: "Developers".into(),
            path: "/".into(),
            policies: policies.iter().map(|p| aws("/", p)).collect(),
            ..LiveGroup::default()
        },
    );
    live.users.insert(
        "koding-user".into(),
        LiveUser {
            name: "koding-user".into(),
            path: "/".into(),
            groups: ["Developers".to_owned()].into(),
            tags: owned(&[("team", "platform")]),
            access_keys: vec![key("AKIA1", true)],
            ..LiveUser::default()
        },
    );
    live
}

fn live_policy(arn: &PolicyArn, description: &str, document: &serde_json::Value) -> LivePolicy {
    LivePolicy {
        arn: arn.clone(),
        tags: owned(&[]),

        description: description.into(),
        attachment_count: 0,
        versions: vec![PolicyVersion {
            id: "v1".into(),
            default: true,
            created: "2026-01-01T00:00:00Z".into(),
        }],
        document: crate::document::canonical(document),
    }
}

/// Tags with the default owner's tag among them.
fn owned(tags: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut tags: BTreeMap<String, String> = tags
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    tags.insert(OWNER_TAG.into(), "iamspec".into());
    tags
}

/// Seconds from `from` to `now`.
fn idle(from: i64, now: i64) -> u64 {
    crate::live::idle(from, now)
}

fn key(id: &str, active: bool) -> AccessKey {
    AccessKey {
        id: id.into(),
        active,
        created: 1_767_225_600 + i64::try_from(id.len()).unwrap(),
        last_used: None,
    }
}

fn ops(plan: &Plan) -> Vec<&Op> {
    plan.changes.iter().map(|c| &c.op).collect()
}

#[test]
fn an_empty_account_gets_everything_entities_first() {
    let plan = diff(&spec(SPEC), &empty_account()).unwrap();
    let api_names: Vec<&str> = plan.changes.iter().map(|c| c.op.api_name()).collect();
    assert_eq!(
        api_names,
        [
            "CreateGroup",
            "CreateUser",
            "AttachGroupPolicy",
            "AttachGroupPolicy",
            "AttachGroupPolicy",
            "AttachGroupPolicy",
            "AddUserToGroup",
            "CreateAccessKey"
        ]
    );
    assert_eq!(
        plan.changes[1].op,
        Op::CreateUser {
            user: "koding-user".into(),
            path: "/".into(),
            boundary: None,
            tags: owned(&[("team", "platform")]),
        }
    );
    assert_eq!(plan.summary.add, 8);
    assert!(plan.drift.is_empty());
}

#[test]
fn an_account_that_matches_plans_nothing() {
    let plan = diff(&spec(SPEC), &guide_account()).unwrap();
    assert!(plan.is_empty(), "{:#?}", plan.changes);
    assert!(plan.drift.is_empty(), "{:#?}", plan.drift);
}

#[test]
fn what_is_missing_is_planned_back_exactly() {
    let mut live = guide_account();
    live.groups
        .get_mut("Developers")
        .unwrap()
        .policies
        .remove(&aws("/", "IAMReadOnlyAccess"));
    let user = live.users.get_mut("koding-user").unwrap();
    user.groups.clear();
    user.access_keys.clear();
    user.tags.insert("team".into(), "other".into());
    let plan = diff(&spec(SPEC), &live).unwrap();
    assert_eq!(
        ops(&plan),
        [
            &Op::AttachGroupPolicy {
                group: "Developers".into(),
                policy: aws("/", "IAMReadOnlyAccess"),
            },
            &Op::TagUser {
                user: "koding-user".into(),
                tags: BTreeMap::from([("team".into(), "platform".into())]),
            },
            &Op::AddUserToGroup {
                user: "koding-user".into(),
                group: "Developers".into(),
            },
            &Op::CreateAccessKey {
                user: "koding-user".into(),
                rotates: None
            },
        ]
    );
    assert_eq!(plan.changes[1].action, Action::Update);
    assert_eq!(
        (plan.summary.add, plan.summary.change, plan.summary.remove),
        (3, 1, 0)
    );
}

#[test]
fn what_the_account_has_beyond_the_spec_is_drift_not_change() {
    let mut live = guide_account();
    let group = live.groups.get_mut("Developers").unwrap();
    group.policies.insert(aws("/", "AmazonS3ReadOnlyAccess"));
    group
        .inline_policies
        .insert("handmade".into(), serde_json::json!({}));
    let user = live.users.get_mut("koding-user").unwrap();
    user.groups.insert("Admins".into());
    user.tags.insert("owner".into(), "bob".into());
    user.access_keys.insert(0, key("AKIA_OLD", true));
    user.access_keys.insert(0, key("AKIA_OFF", false));
    let plan = diff(&spec(SPEC), &live).unwrap();
    assert!(plan.is_empty(), "{:#?}", plan.changes);
    assert_eq!(
        plan.drift,
        [
            Drift::ExtraPolicy {
                entity: EntityKind::Group,
                name: "Developers".into(),
                policy: aws("/", "AmazonS3ReadOnlyAccess"),
            },
            Drift::InlinePolicy {
                entity: EntityKind::Group,
                name: "Developers".into(),
                policy_name: "handmade".into(),
            },
            Drift::ExtraMembership {
                user: "koding-user".into(),
                group: "Admins".into(),
            },
            Drift::ExtraTag {
                user: "koding-user".into(),
                key: "owner".into(),
                value: "bob".into(),
            },
            Drift::ExtraAccessKey {
                user: "koding-user".into(),
                access_key_id: "AKIA_OFF".into(),
                status: KeyStatus::Inactive,
                age: idle(key("AKIA_OFF", false).created, live.now),
            },
            Drift::ExtraAccessKey {
                user: "koding-user".into(),
                access_key_id: "AKIA_OLD".into(),
                status: KeyStatus::Active,
                age: idle(key("AKIA_OLD", true).created, live.now),
            },
        ]
    );
}

#[test]
fn keys_of_a_user_without_access_key_are_drift() {
    let text = SPEC.replace("access_key = true", "access_key = false");
    let plan = diff(&spec(&text), &guide_account()).unwrap();
    assert!(plan.is_empty());
    assert_eq!(plan.drift.len(), 1);
}

#[test]
fn an_inactive_key_is_not_the_active_key_the_spec_asks_for() {
    let mut live = guide_account();
    live.users.get_mut("koding-user").unwrap().access_keys = vec![key("AKIA1", false)];
    let plan = diff(&spec(SPEC), &live).unwrap();
    assert_eq!(
        ops(&plan),
        [&Op::CreateAccessKey {
            user: "koding-user".into(),
            rotates: None
        }]
    );
    live.users.get_mut("koding-user").unwrap().access_keys =
        vec![key("AKIA1", false), key("AKIA22", false)];
    let err = diff(&spec(SPEC), &live).unwrap_err();
    assert!(
        err.to_string().starts_with(
            "user `koding-user` must have an active access key, but has 2 inactive keys, the most IAM allows"
        ),
        "{err}"
    );
}

#[test]
fn paths_that_differ_are_updated() {
    let mut live = guide_account();
    live.users.get_mut("koding-user").unwrap().path = "/old/".into();
    let plan = diff(&spec(SPEC), &live).unwrap();
    assert_eq!(
        ops(&plan),
        [&Op::UpdateUserPath {
            user: "koding-user".into(),
            from: "/old/".into(),
            to: "/".into(),
        }]
    );
}

#[test]
fn names_resolve_with_or_without_their_path_and_by_arn() {
    let text = r#"
version = 1
[groups.g]
policies = ["ViewOnlyAccess", "service-role/AWSLambdaRole", "arn:aws:iam::aws:policy/AmazonEC2FullAccess"]
"#;
    let plan = diff(&spec(text), &empty_account()).unwrap();
    let attached: Vec<String> = plan
        .changes
        .iter()
        .filter_map(|c| match &c.op {
            Op::AttachGroupPolicy { policy, .. } => Some(policy.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(
        attached,
        [
            "arn:aws:iam::aws:policy/AmazonEC2FullAccess",
            "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess",
            "arn:aws:iam::aws:policy/service-role/AWSLambdaRole",
        ]
    );
}

#[test]
fn arns_follow_the_callers_partition() {
    let mut live = empty_account();
    live.caller.partition = Partition::AwsCn;
    live.aws_policies = vec![PolicyArn::aws_managed(
        Partition::AwsCn,
        "/",
        "IAMReadOnlyAccess",
    )];
    let plan = diff(
        &spec("version = 1\n[groups.g]\npolicies = [\"IAMReadOnlyAccess\"]\n"),
        &live,
    )
    .unwrap();
    let Op::AttachGroupPolicy { policy, .. } = &plan.changes[1].op else {
        panic!("expected an attach: {plan:#?}");
    };
    assert_eq!(
        policy.to_string(),
        "arn:aws-cn:iam::aws:policy/IAMReadOnlyAccess"
    );

    let err = diff(
        &spec(
            "version = 1\n[groups.g]\npolicies = [\"arn:aws:iam::aws:policy/IAMReadOnlyAccess\"]\n",
        ),
        &live,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "spec.toml:3:13: policy `arn:aws:iam::aws:policy/IAMReadOnlyAccess` is in partition aws but the account is in aws-cn: use arn:aws-cn:..."
    );
}

#[test]
fn unknown_policies_are_reported_with_the_closest_real_name() {
    let err = diff(
        &spec("version = 1\n[groups.g]\npolicies = [\"AmazonEC2FullAcess\", \"ViewOnlyAccess\"]\n[users.u]\npolicies = [\"job-function/ViewOnlyAcces\"]\n"),
        &empty_account(),
    )
    .unwrap_err();
    assert_eq!(
        err.problems,
        [
            "spec.toml:3:13: policy `AmazonEC2FullAcess` is not an AWS-managed policy; did you mean `AmazonEC2FullAccess`?",
            "spec.toml:5:13: policy `job-function/ViewOnlyAcces` is not an AWS-managed policy; did you mean `job-function/ViewOnlyAccess`?",
        ]
    );
}

#[test]
fn customer_policy_arns_must_exist_in_the_callers_account() {
    let mut live = empty_account();
    let mine = PolicyArn::parse("arn:aws:iam::123456789012:policy/Mine").unwrap();
    live.local_policies
        .insert(mine.clone(), live_policy(&mine, "", &serde_json::json!({})));
    let ok = diff(
        &spec("version = 1\n[users.u]\npolicies = [\"arn:aws:iam::123456789012:policy/Mine\"]\n"),
        &live,
    )
    .unwrap();
    assert_eq!(
        ops(&ok)[1],
        &Op::AttachUserPolicy {
            user: "u".into(),
            policy: mine
        }
    );
    let missing = diff(
        &spec("version = 1\n[users.u]\npolicies = [\"arn:aws:iam::123456789012:policy/Other\"]\n"),
        &live,
    )
    .unwrap_err();
    assert_eq!(
        missing.to_string(),
        "spec.toml:3:13: policy `arn:aws:iam::123456789012:policy/Other` does not exist in account 123456789012: create it first or fix the ARN"
    );
    let foreign = diff(
        &spec("version = 1\n[users.u]\npolicies = [\"arn:aws:iam::999999999999:policy/Theirs\"]\n"),
        &live,
    )
    .unwrap_err();
    assert!(
        foreign
            .to_string()
            .contains("belongs to account 999999999999"),
        "{foreign}"
    );
}

#[test]
fn an_entity_spelled_in_another_case_must_be_spelled_as_the_account_has_it() {
    let text = SPEC.replace("Developers", "developers");
    let err = diff(&spec(&text), &guide_account()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "spec.toml: group `developers` exists in the account as `Developers`; IAM names ignore case, so write it as `Developers` in the spec"
    );
}

#[test]
fn the_same_inputs_always_give_the_same_plan() {
    let spec = spec(SPEC);
    let live = empty_account();
    let first = diff(&spec, &live).unwrap();
    for _ in 0..10 {
        assert_eq!(diff(&spec, &live).unwrap(), first);
    }
}

const POLICY_SPEC: &str = r#"
version = 1
[policies.StackBuilder]
description = "stacks"
document = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = ["s3:GetObject", "s3:PutObject"], Resource = "*" }] }
[groups.Developers]
policies = ["StackBuilder"]
inline = { deploy = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "ec2:RunInstances", Resource = "*" }] } }
"#;

fn stack_arn() -> PolicyArn {
    PolicyArn::parse("arn:aws:iam::123456789012:policy/StackBuilder").unwrap()
}

/// The account after `POLICY_SPEC` was applied.
fn policy_account() -> LiveState {
    let mut live = empty_account();
    let document = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": ["*"]}]});
    let mut policy = live_policy(&stack_arn(), "stacks", &document);
    policy.attachment_count = 1;
    live.local_policies.insert(stack_arn(), policy);
    live.groups.insert(
        "Developers".into(),
        LiveGroup {
            name: "Developers".into(),
            path: "/".into(),
            policies: [stack_arn()].into(),
            inline_policies: BTreeMap::from([(
                "deploy".into(),
                crate::document::canonical(&serde_json::json!({"Version": "2012-10-17", "Statement": {"Resource": "*", "Action": ["ec2:RunInstances"], "Effect": "Allow"}})),
            )]),
        },
    );
    live
}

#[test]
fn a_new_policy_is_created_before_it_is_attached() {
    let plan = diff(&spec(POLICY_SPEC), &empty_account()).unwrap();
    let names: Vec<&str> = plan.changes.iter().map(|c| c.op.api_name()).collect();
    assert_eq!(
        names,
        [
            "CreatePolicy",
            "CreateGroup",
            "AttachGroupPolicy",
            "PutGroupPolicy"
        ]
    );
    assert_eq!(
        plan.changes[2].op,
        Op::AttachGroupPolicy {
            group: "Developers".into(),
            policy: stack_arn()
        }
    );
}

#[test]
fn documents_that_mean_the_same_plan_nothing() {
    let plan = diff(&spec(POLICY_SPEC), &policy_account()).unwrap();
    assert!(plan.is_empty(), "{:#?}", plan.changes);
    assert!(plan.drift.is_empty(), "{:#?}", plan.drift);
}

#[test]
fn a_changed_document_is_a_new_default_version() {
    let text = POLICY_SPEC.replace("\"s3:PutObject\"", "\"s3:DeleteObject\"");
    let plan = diff(&spec(&text), &policy_account()).unwrap();
    let [change] = &plan.changes[..] else {
        panic!("one change expected: {:#?}", plan.changes);
    };
    assert_eq!(change.action, Action::Update);
    let Op::CreatePolicyVersion {
        policy,
        before,
        after,
        delete_version,
        ..
    } = &change.op
    else {
        panic!("a new version expected: {change:#?}");
    };
    assert_eq!(policy, &stack_arn());
    assert_eq!(
        before["Statement"][0]["Action"],
        serde_json::json!(["s3:GetObject", "s3:PutObject"])
    );
    assert_eq!(
        after["Statement"][0]["Action"],
        serde_json::json!(["s3:DeleteObject", "s3:GetObject"])
    );
    assert_eq!(delete_version, &None);
}

#[test]
fn at_five_versions_the_oldest_non_default_one_goes_first() {
    let mut live = policy_account();
    let policy = live.local_policies.get_mut(&stack_arn()).unwrap();
    policy.versions = (1..=5)
        .map(|i| PolicyVersion {
            id: format!("v{i}"),
            default: i == 1,
            created: format!("2026-01-0{i}T00:00:00Z"),
        })
        .collect();
    let text = POLICY_SPEC.replace("\"s3:PutObject\"", "\"s3:DeleteObject\"");
    let plan = diff(&spec(&text), &live).unwrap();
    // Two changes, two calls: the oldest non-default version goes first, then the new one.
    assert_eq!(
        plan.changes[0].op,
        Op::DeletePolicyVersion {
            policy: stack_arn(),
            version: "v2".into()
        },
        "never the default v1"
    );
    assert_eq!(plan.changes[0].cause, Some(Cause::VersionLimit));
    let Op::CreatePolicyVersion { delete_version, .. } = &plan.changes[1].op else {
        panic!("a new version expected");
    };
    assert_eq!(delete_version.as_deref(), Some("v2"));
}

#[test]
fn a_changed_description_replaces_the_policy_and_gives_it_back_to_everyone() {
    let mut live = policy_account();
    live.local_policies
        .get_mut(&stack_arn())
        .unwrap()
        .attachment_count = 2;
    live.users.insert(
        "outsider".into(),
        LiveUser {
            name: "outsider".into(),
            path: "/".into(),
            policies: [stack_arn()].into(),
            ..LiveUser::default()
        },
    );
    let text = POLICY_SPEC.replace(
        "description = \"stacks\"",
        "description = \"Koding stacks\"",
    );
    let plan = diff(&spec(&text), &live).unwrap();
    let summary: Vec<(char, &str, Option<Cause>)> = plan
        .changes
        .iter()
        .map(|c| (c.action.symbol(), c.op.api_name(), c.cause.clone()))
        .collect();
    let reason = Some(Cause::Replace {
        immutable: Immutable::Description,
    });
    assert_eq!(
        summary,
        [
            ('-', "DetachGroupPolicy", reason.clone()),
            ('-', "DetachUserPolicy", reason.clone()),
            ('-', "DeletePolicy", reason.clone()),
            ('+', "CreatePolicy", reason),
            ('+', "AttachGroupPolicy", None),
            ('+', "AttachUserPolicy", Some(Cause::Reattach)),
        ]
    );
    assert_eq!((plan.summary.add, plan.summary.remove), (3, 3));
    assert!(plan.drift.is_empty(), "{:#?}", plan.drift);
}

#[test]
fn a_replaced_policy_is_given_back_to_the_roles_that_had_it() {
    let mut live = policy_account();
    live.roles.insert(
        "ci".into(),
        LiveRole {
            name: "ci".into(),
            path: "/".into(),
            policies: [stack_arn()].into(),
            ..LiveRole::default()
        },
    );
    let text = POLICY_SPEC.replace(
        "description = \"stacks\"",
        "description = \"Koding stacks\"",
    );
    let plan = diff(&spec(&text), &live).unwrap();
    let role_changes: Vec<(&Op, &Option<Cause>)> = plan
        .changes
        .iter()
        .filter(|c| c.op.entities().contains(&(EntityKind::Role, "ci")))
        .map(|c| (&c.op, &c.cause))
        .collect();
    let detach = Op::DetachRolePolicy {
        role: "ci".into(),
        policy: stack_arn(),
    };
    let attach = Op::AttachRolePolicy {
        role: "ci".into(),
        policy: stack_arn(),
    };
    assert_eq!(role_changes.len(), 2, "{role_changes:#?}");
    assert_eq!(role_changes[0].0, &detach);
    assert!(matches!(role_changes[0].1, Some(Cause::Replace { .. })));
    assert_eq!(
        (role_changes[1].0, role_changes[1].1),
        (&attach, &Some(Cause::Reattach))
    );
}

#[test]
fn a_policy_that_bounds_a_role_is_not_replaced() {
    let mut live = policy_account();
    live.roles.insert(
        "ci".into(),
        LiveRole {
            name: "ci".into(),
            path: "/".into(),
            boundary: Some(stack_arn()),
            ..LiveRole::default()
        },
    );
    let text = POLICY_SPEC.replace("description = \"stacks\"", "description = \"other\"");
    let err = diff(&spec(&text), &live).unwrap_err();
    assert_eq!(
        err.to_string(),
        "spec.toml: policy `StackBuilder` must be replaced because its description changes, but it is the permissions boundary of role ci, and IAM cannot delete a policy that bounds anyone: keep its path and description, or give ci another boundary first"
    );
}

#[test]
fn a_name_that_is_both_the_specs_and_awss_asks_for_the_arn() {
    let text = POLICY_SPEC.replace("StackBuilder", "IAMReadOnlyAccess");
    let err = diff(&spec(&text), &empty_account()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "spec.toml:7:13: policy `IAMReadOnlyAccess` is both [policies.IAMReadOnlyAccess] in this spec and an AWS-managed policy: write the ARN of the one you mean, `arn:aws:iam::123456789012:policy/IAMReadOnlyAccess` or `arn:aws:iam::aws:policy/IAMReadOnlyAccess`"
    );
}

#[test]
fn inline_policies_are_put_when_missing_or_different_and_drift_otherwise() {
    let mut live = policy_account();
    let group = live.groups.get_mut("Developers").unwrap();
    group
        .inline_policies
        .insert("handmade".into(), serde_json::json!({}));
    let deploy = group.inline_policies.get_mut("deploy").unwrap();
    deploy["Statement"][0]["Action"] = serde_json::json!(["ec2:TerminateInstances"]);
    let plan = diff(&spec(POLICY_SPEC), &live).unwrap();
    let [change] = &plan.changes[..] else {
        panic!("one change expected: {:#?}", plan.changes);
    };
    assert_eq!(change.action, Action::Update);
    let Op::PutGroupPolicy {
        policy_name,
        before,
        ..
    } = &change.op
    else {
        panic!("an inline update expected");
    };
    assert_eq!(policy_name, "deploy");
    assert!(before.is_some());
    assert_eq!(
        plan.drift,
        [Drift::InlinePolicy {
            entity: EntityKind::Group,
            name: "Developers".into(),
            policy_name: "handmade".into()
        }]
    );
}

#[test]
fn an_existing_untagged_user_is_adopted_and_the_plan_says_so() {
    let mut live = guide_account();
    live.users
        .get_mut("koding-user")
        .unwrap()
        .tags
        .remove(OWNER_TAG);
    let plan = diff(&spec(SPEC), &live).unwrap();
    let [change] = &plan.changes[..] else {
        panic!("one change expected: {:#?}", plan.changes);
    };
    assert_eq!(
        change.op,
        Op::TagUser {
            user: "koding-user".into(),
            tags: BTreeMap::from([(OWNER_TAG.into(), "iamspec".into())]),
        }
    );
    assert_eq!(
        change.cause,
        Some(Cause::Adopt {
            owner: "iamspec".into()
        })
    );
    assert_eq!(
        crate::render::reason(change.cause.as_ref().unwrap()),
        "adopt: it exists without the iamspec:owner tag, and becomes owned by iamspec"
    );
}

#[test]
fn an_existing_untagged_policy_is_adopted_too() {
    let mut live = policy_account();
    live.local_policies
        .get_mut(&stack_arn())
        .unwrap()
        .tags
        .clear();
    let plan = diff(&spec(POLICY_SPEC), &live).unwrap();
    let ops: Vec<&str> = plan.changes.iter().map(|c| c.op.api_name()).collect();
    assert_eq!(ops, ["TagPolicy"]);
}

#[test]
fn another_specs_entity_is_not_taken_over() {
    let mut live = guide_account();
    live.users
        .get_mut("koding-user")
        .unwrap()
        .tags
        .insert(OWNER_TAG.into(), "billing".into());
    let err = diff(&spec(SPEC), &live).unwrap_err();
    assert_eq!(
        err.to_string(),
        "spec.toml: user `koding-user` is owned by `billing` (its iamspec:owner tag), not by this spec's `iamspec`: an entity belongs to one spec, so remove it from one of them, or set [account] owner = \"billing\" if this is that spec"
    );
}

#[test]
fn owned_entities_the_spec_no_longer_names_are_drift_and_others_are_not_mentioned() {
    let mut live = guide_account();
    let user = |name: &str, path: &str, tags: BTreeMap<String, String>| LiveUser {
        name: name.into(),
        path: path.into(),
        tags,
        ..LiveUser::default()
    };
    live.users
        .insert("former".into(), user("former", "/", owned(&[])));
    live.users
        .insert("scoped".into(), user("scoped", "/koding/", BTreeMap::new()));
    live.users
        .insert("stranger".into(), user("stranger", "/", BTreeMap::new()));
    live.users.insert(
        "theirs".into(),
        user(
            "theirs",
            "/",
            BTreeMap::from([(OWNER_TAG.into(), "billing".into())]),
        ),
    );
    live.groups.insert(
        "OldTeam".into(),
        LiveGroup {
            name: "OldTeam".into(),
            path: "/koding/".into(),
            ..LiveGroup::default()
        },
    );
    let text = format!("{SPEC}[account]\nscope = \"/koding/\"\n");
    let plan = diff(&spec(&text), &live).unwrap();
    assert!(plan.is_empty(), "{:#?}", plan.changes);
    assert_eq!(
        plan.drift,
        [
            Drift::NotInSpec {
                entity: EntityKind::User,
                name: "former".into()
            },
            Drift::NotInSpec {
                entity: EntityKind::User,
                name: "scoped".into()
            },
            Drift::NotInSpec {
                entity: EntityKind::Group,
                name: "OldTeam".into()
            },
        ]
    );
}

fn pruning(text: &str) -> Spec {
    let mut spec = spec(text);
    spec.prune = true;
    spec
}

#[test]
fn prune_removes_a_group_that_left_the_spec_after_its_members_and_policies() {
    let mut live = guide_account();
    live.groups.insert(
        "Old".into(),
        LiveGroup {
            name: "Old".into(),
            path: "/koding/".into(),
            policies: [aws("/", "IAMReadOnlyAccess")].into(),
            inline_policies: BTreeMap::from([("x".into(), serde_json::json!({}))]),
        },
    );
    live.users
        .get_mut("koding-user")
        .unwrap()
        .groups
        .insert("Old".into());
    let text = format!("{SPEC}[account]\nscope = \"/koding/\"\n");
    let plan = diff(&pruning(&text), &live).unwrap();
    let ops: Vec<&str> = plan.changes.iter().map(|c| c.op.api_name()).collect();
    // The membership is both drift of koding-user and a member of the deleted group: once.
    assert_eq!(
        ops,
        [
            "RemoveUserFromGroup",
            "DeleteGroupPolicy",
            "DetachGroupPolicy",
            "DeleteGroup"
        ]
    );
    assert_eq!(plan.deletions(), 1);
    assert!(plan.drift.is_empty());
}

#[test]
fn prune_never_deletes_the_key_the_caller_signs_with() {
    let mut live = guide_account();
    live.caller.access_key_id = Some("AKIA_OLD".into());
    let keys = &mut live.users.get_mut("koding-user").unwrap().access_keys;
    keys.insert(0, key("AKIA_OLD", true));
    keys.insert(0, key("AKIA_OFF", false));
    let plan = diff(&pruning(SPEC), &live).unwrap();
    assert_eq!(
        ops(&plan),
        [&Op::DeleteAccessKey {
            user: "koding-user".into(),
            access_key_id: "AKIA_OFF".into()
        }]
    );
    assert_eq!(
        plan.protected,
        ["access key AKIA_OLD of user koding-user: iamspec is signing with it"]
    );
}

#[test]
fn the_caller_is_found_in_its_arn() {
    let caller = |arn: &str| Caller {
        arn: arn.into(),
        ..Caller::default()
    };
    assert_eq!(
        caller("arn:aws:iam::123456789012:user/ci/deployer").user_name(),
        Some("deployer")
    );
    assert_eq!(
        caller("arn:aws:sts::123456789012:assumed-role/ci/session").user_name(),
        None
    );
}

#[test]
fn prune_never_deletes_what_another_owner_tagged_even_under_the_scope() {
    let mut live = guide_account();
    let mut tags = BTreeMap::from([(OWNER_TAG.to_owned(), "payments".to_owned())]);
    live.users.insert(
        "theirs".into(),
        LiveUser {
            name: "theirs".into(),
            path: "/koding/".into(),
            tags: tags.clone(),
            ..LiveUser::default()
        },
    );
    tags.insert("team".into(), "x".into());
    let mut policy = live_policy(
        &PolicyArn::parse("arn:aws:iam::123456789012:policy/koding/Theirs").unwrap(),
        "",
        &serde_json::json!({"Version": "2012-10-17", "Statement": []}),
    );
    policy.tags = tags;
    live.local_policies.insert(policy.arn.clone(), policy);
    let text = format!("{SPEC}[account]\nscope = \"/koding/\"\n");
    let plan = diff(&pruning(&text), &live).unwrap();
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
    assert!(plan.drift.is_empty(), "{:#?}", plan.drift);
}

/// The guide's account with `koding-user` as the caller, holding more than the spec says.
fn caller_account() -> LiveState {
    let mut live = guide_account();
    live.caller.arn = "arn:aws:iam::123456789012:user/koding-user".into();
    let user = live.users.get_mut("koding-user").unwrap();
    user.policies.insert(aws("/", "AdministratorAccess"));
    user.groups.insert("Admins".into());
    user.tags.insert("extra".into(), "x".into());
    live.groups.insert(
        "Admins".into(),
        LiveGroup {
            name: "Admins".into(),
            path: "/koding/".into(),
            ..LiveGroup::default()
        },
    );
    live
}

#[test]
fn the_callers_own_user_is_never_changed_even_by_a_prune() {
    let live = caller_account();
    // The spec wants another policy on it too; the prune would detach, remove and untag.
    let text = SPEC.replace(
        "access_key = true",
        "access_key = true\npolicies = [\"AmazonS3ReadOnlyAccess\"]",
    );
    let plan = diff(&pruning(&text), &live).unwrap();
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
    assert_eq!(
        plan.protected,
        [
            "user koding-user: iamspec is signing as it and never changes it, so what it has beyond the spec stays",
            "user koding-user: iamspec is signing as it and never changes it (AttachUserPolicy skipped)"
        ]
    );
    // The drift is still reported.
    assert_eq!(plan.drift.len(), 3, "{:#?}", plan.drift);
}

#[test]
fn a_group_the_caller_is_in_is_not_pruned() {
    let live = caller_account();
    let text = format!("{SPEC}[account]\nscope = \"/koding/\"\n");
    let plan = diff(&pruning(&text), &live).unwrap();
    assert!(
        !plan
            .changes
            .iter()
            .any(|c| c.op.api_name() == "DeleteGroup"),
        "{:#?}",
        plan.changes
    );
    assert!(
        plan.protected
            .contains(&"group Admins: deleting it would change the caller's own user".to_owned()),
        "{:?}",
        plan.protected
    );
}

#[test]
fn a_policy_attached_to_the_caller_is_not_replaced() {
    let mut live = policy_account();
    live.caller.arn = "arn:aws:iam::123456789012:user/deployer".into();
    live.local_policies
        .get_mut(&stack_arn())
        .unwrap()
        .attachment_count = 2;
    live.users.insert(
        "deployer".into(),
        LiveUser {
            name: "deployer".into(),
            path: "/".into(),
            policies: [stack_arn()].into(),
            ..LiveUser::default()
        },
    );
    let text = POLICY_SPEC.replace("description = \"stacks\"", "description = \"other\"");
    let err = diff(&spec(&text), &live).unwrap_err();
    assert_eq!(
        err.problems,
        [
            "spec.toml: policy `StackBuilder` must be replaced because its description changes, but it is attached to user deployer, whose credentials iamspec is using and which it never changes: keep the policy as it is, or apply with another caller"
        ]
    );
}
