//! Specs of any size, for benchmarks: `users` users spread over `groups` groups,
//! `policies` customer-managed policies spread over the groups, every tenth user with an
//! access key, all under the path `/bench/`, which is the spec's scope (as a large spec's
//! should be: ownership under a scope needs no per-policy tag read).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;

use iamspec::iam::{OWNER_TAG, Partition, PolicyArn};
use iamspec::live::{AccessKey, Caller, LiveGroup, LivePolicy, LiveState, LiveUser, PolicyVersion};
use iamspec::spec::{PolicyRef, Spec};

/// The spec text.
pub fn spec(users: usize, groups: usize, policies: usize) -> String {
    let mut out = String::from("version = 1\n[account]\nscope = \"/bench/\"\n");
    for p in 0..policies {
        let _ = write!(
            out,
            "[policies.Stack{p:04}]\npath = \"/bench/\"\ndocument = {{ Version = \"2012-10-17\", Statement = [{{ Effect = \"Allow\", Action = [\"s3:GetObject\", \"s3:PutObject\"], Resource = \"arn:aws:s3:::bucket-{p}/*\" }}] }}\n"
        );
    }
    for g in 0..groups {
        let mut attached = vec![
            "\"IAMReadOnlyAccess\"".to_owned(),
            "\"AmazonEC2FullAccess\"".to_owned(),
        ];
        attached.extend(
            (g..policies)
                .step_by(groups.max(1))
                .map(|p| format!("\"Stack{p:04}\"")),
        );
        let _ = write!(
            out,
            "[groups.team{g:03}]\npath = \"/bench/\"\npolicies = [{}]\n",
            attached.join(", ")
        );
    }
    for u in 0..users {
        let _ = write!(
            out,
            "[users.user{u:04}]\npath = \"/bench/\"\ngroups = [\"team{:03}\"]\ntags = {{ team = \"t{}\" }}\n",
            u % groups.max(1),
            u % groups.max(1)
        );
        if u % 10 == 0 {
            out.push_str("access_key = true\n");
        }
    }
    out
}

const ACCOUNT: &str = "123456789012";

/// The account as it is once `spec` has been applied.
pub fn applied(spec: &Spec) -> LiveState {
    let aws = |name: &str| PolicyArn::aws_managed(Partition::Aws, "/", name);
    let customer = |name: &str| {
        let path = &spec.policies[name].path;
        PolicyArn::parse(&format!("arn:aws:iam::{ACCOUNT}:policy{path}{name}")).unwrap()
    };
    let arn = |policy: &PolicyRef| match policy {
        PolicyRef::Customer { name } => customer(name),
        other => aws(other.name()),
    };
    let owner = || BTreeMap::from([(OWNER_TAG.to_owned(), "iamspec".to_owned())]);
    LiveState {
        caller: Caller {
            account: ACCOUNT.into(),
            arn: format!("arn:aws:iam::{ACCOUNT}:user/ci"),
            partition: Partition::Aws,
            access_key_id: None,
        },
        aws_policies: vec![aws("IAMReadOnlyAccess"), aws("AmazonEC2FullAccess")],
        local_policies: spec
            .policies
            .values()
            .map(|p| {
                let live = LivePolicy {
                    arn: customer(&p.name),
                    tags: owner(),
                    description: p.description.clone(),
                    attachment_count: 1,
                    versions: vec![PolicyVersion {
                        id: "v1".into(),
                        default: true,
                        created: String::new(),
                    }],
                    document: p.document.canonical.clone(),
                };
                (live.arn.clone(), live)
            })
            .collect(),
        groups: spec
            .groups
            .values()
            .map(|g| {
                let live = LiveGroup {
                    name: g.name.clone(),
                    path: g.path.clone(),
                    policies: g.policies.iter().map(|u| arn(&u.policy)).collect(),
                    inline_policies: BTreeMap::new(),
                };
                (g.name.clone(), live)
            })
            .collect(),
        users: spec
            .users
            .values()
            .map(|u| {
                let mut tags = u.tags.clone();
                tags.extend(owner());
                let live = LiveUser {
                    name: u.name.clone(),
                    path: u.path.clone(),
                    groups: u.groups.iter().cloned().collect(),
                    tags,
                    access_keys: if u.access_key {
                        vec![AccessKey {
                            id: format!("AKIA{}", u.name),
                            active: true,
                            created: 0,
                            last_used: None,
                        }]
                    } else {
                        Vec::new()
                    },
                    ..LiveUser::default()
                };
                (u.name.clone(), live)
            })
            .collect(),
        pending_keys: BTreeMap::new(),
        account: iamspec::live::LiveAccount::default(),
        aws_documents: BTreeMap::new(),
        now: 0,
        roles: BTreeMap::new(),
        oidc_providers: Vec::new(),
        warnings: Vec::new(),
    }
}
