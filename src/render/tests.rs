//! Snapshots of what people read: the text and JSON plans of a few representative accounts,
//! planned by the real reader and differ against the in-memory account.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::json;

use super::*;
use crate::iam::{Partition, PolicyArn};
use crate::live::memory::{MemoryAccount, MemoryGroup, MemoryIam, MemoryPolicy, MemoryUser};
use crate::live::{self, AccessKey, KeyReading};
use crate::secrets::PendingKey;

fn aws(path: &str, name: &str) -> PolicyArn {
    PolicyArn::aws_managed(Partition::Aws, path, name)
}

fn empty_account() -> MemoryAccount {
    MemoryAccount {
        aws_policies: vec![
            aws("/", "AmazonEC2FullAccess"),
            aws("/", "IAMReadOnlyAccess"),
            aws("/", "AmazonRoute53FullAccess"),
            aws("/", "AmazonRoute53DomainsFullAccess"),
            aws("/", "AdministratorAccess"),
        ],
        ..MemoryAccount::default()
    }
}

/// The plan of `spec` against `account`, with these key creations left pending.
fn plan(spec: &str, account: MemoryAccount, pending: BTreeMap<String, PendingKey>) -> Plan {
    let spec = crate::spec::parse(spec, Path::new("spec.toml")).unwrap();
    let api = MemoryIam::new(account);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let live = runtime
        .block_on(live::read(&api, &spec, pending, KeyReading::Report))
        .unwrap();
    crate::diff::diff(&spec, &live).unwrap()
}

fn style() -> Style<'static> {
    Style {
        color: false,
        secrets_dir: Path::new("secrets"),
    }
}

/// The guide's setup with Route53, as the repository's example spec has it.
const GUIDE: &str = include_str!("../../specs/koding-route53.toml");

#[test]
fn the_guide_on_an_empty_account() {
    let plan = plan(GUIDE, empty_account(), BTreeMap::new());
    insta::assert_snapshot!("guide_text", text(&plan, style()));
    insta::assert_snapshot!("guide_json", json(&plan));
}

#[test]
fn an_account_that_matches_plans_nothing() {
    let mut account = empty_account();
    let developers: std::collections::BTreeSet<PolicyArn> = [
        "AmazonEC2FullAccess",
        "IAMReadOnlyAccess",
        "AmazonRoute53FullAccess",
        "AmazonRoute53DomainsFullAccess",
    ]
    .into_iter()
    .map(|name| aws("/", name))
    .collect();
    account.groups.insert(
        "Developers".into(),
        MemoryGroup {
            path: "/".into(),
            policies: developers,
            ..MemoryGroup::default()
        },
    );
    account.users.insert(
        "koding-user".into(),
        MemoryUser {
            path: "/".into(),
            created: 1,
            groups: ["Developers".to_owned()].into(),
            tags: BTreeMap::from([
                ("iamspec:owner".to_owned(), "iamspec".to_owned()),
                ("team".to_owned(), "platform".to_owned()),
            ]),
            keys: vec![AccessKey {
                id: "AKIAEXAMPLE".into(),
                active: true,
                created: 1_793_491_200,
                last_used: None,
            }],
            ..MemoryUser::default()
        },
    );
    let plan = plan(GUIDE, account, BTreeMap::new());
    insta::assert_snapshot!("nothing_text", text(&plan, style()));
}

/// Replacement, a new version at IAM's limit, adoption, a lost secret, and a prune of drift
/// and of an entity that left the spec.
#[test]
fn a_drifted_account_under_a_prune() {
    let spec = r#"
version = 1
[account]
scope = "/team/"
prune = true
[policies.Stack]
path = "/team/"
description = "new words"
document = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "s3:GetObject", Resource = "*" }] }
[policies.Logs]
path = "/team/"
document = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "logs:GetLogEvents", Resource = "*" }] }
[groups.devs]
path = "/team/"
policies = ["Stack", "Logs"]
[users.alice]
groups = ["devs"]
access_key = true
"#;
    let mut account = empty_account();
    let arn = |name: &str| PolicyArn {
        partition: Partition::Aws,
        account: "123456789012".into(),
        path: "/team/".into(),
        name: name.into(),
    };
    let doc = |action: &str| json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]});
    account.policies.insert(
        arn("Stack"),
        MemoryPolicy::new(doc("s3:GetObject"), "old words", BTreeMap::new()),
    );
    let mut logs = MemoryPolicy::new(doc("logs:*"), "", BTreeMap::new());
    for n in 2..=5 {
        logs.versions
            .insert(0, (format!("v{n}"), doc("logs:*"), false));
    }
    account.policies.insert(arn("Logs"), logs);
    account.groups.insert(
        "devs".into(),
        MemoryGroup {
            path: "/team/".into(),
            policies: [arn("Stack"), aws("/", "AdministratorAccess")].into(),
            ..MemoryGroup::default()
        },
    );
    account.groups.insert(
        "old".into(),
        MemoryGroup {
            path: "/team/".into(),
            ..MemoryGroup::default()
        },
    );
    account.users.insert(
        "alice".into(),
        MemoryUser {
            path: "/".into(),
            created: 1,
            groups: ["devs".to_owned(), "old".to_owned()].into(),
            keys: vec![AccessKey {
                id: "AKIALOST".into(),
                active: true,
                created: 1_793_491_200,
                last_used: None,
            }],
            ..MemoryUser::default()
        },
    );
    let pending = BTreeMap::from([(
        "alice".to_owned(),
        PendingKey {
            account: Some("123456789012".into()),
            ..PendingKey::default()
        },
    )]);
    let plan = plan(spec, account, pending);
    insta::assert_snapshot!("drifted_text", text(&plan, style()));
    insta::assert_snapshot!("drifted_json", json(&plan));
}

/// A name read from AWS cannot add a line, move the cursor, reorder the text or close a
/// Markdown fence; an ordinary one is shown as it is.
#[test]
fn an_untrusted_name_is_text() {
    for plain in ["Developers", "prod-eu (1)", "Équipe données", "a*b?c"] {
        assert_eq!(untrusted(plain), plain);
    }
    assert_eq!(
        untrusted("Ops\n```\n## Safe to merge"),
        r"Ops\n\`\`\`\n## Safe to merge"
    );
    assert_eq!(untrusted("red\u{1b}[31m\r\t"), r"red\u{1b}[31m\r\t");
    assert_eq!(untrusted("abc\u{202e}fed"), r"abc\u{202e}fed");
    assert_eq!(
        untrusted("zero\u{200b}width\u{feff}"),
        r"zero\u{200b}width\u{feff}"
    );
    assert_eq!(untrusted(r"back\slash"), r"back\\slash");
    for hostile in ["a\nb", "a\u{1b}b", "a\u{2066}b", "a\u{85}b"] {
        let shown = untrusted(hostile);
        assert!(
            !shown
                .chars()
                .any(|c| c.is_control() || ('\u{2060}'..='\u{206f}').contains(&c)),
            "{shown:?}"
        );
    }
}
