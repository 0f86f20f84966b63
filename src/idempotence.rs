//! The reconciler's contract, tested over generated cases rather than hoped for: for a
//! generated spec and a generated starting account (entities of the same names or not, in the
//! scope or not, owned by this spec, by another or by nobody, with drift of every kind),
//! reading, planning and applying against an in-memory account leaves nothing to plan; with
//! `--prune` the account equals the spec on everything the spec owns, and on everything it
//! does not own, nothing changed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::apply::{self, ApplyOptions, RetryPolicy};
use crate::diff;
use crate::iam::{OWNER_TAG, Partition, PolicyArn};
use crate::live::memory::{
    MemoryAccount, MemoryGroup, MemoryIam, MemoryPolicy, MemoryProfile, MemoryRole, MemoryUser,
};
use crate::live::{self, AccessKey, KeyReading};
use crate::secrets::SecretsDir;
use crate::spec::{self, Spec};

const USERS: [&str; 4] = ["u1", "u2", "u3", "u4"];
const GROUPS: [&str; 3] = ["g1", "g2", "g3"];
const POLICIES: [&str; 3] = ["P1", "P2", "P3"];
const AWS: [(&str, &str); 3] = [
    ("/", "IAMReadOnlyAccess"),
    ("/", "AmazonS3ReadOnlyAccess"),
    ("/job-function/", "ViewOnlyAccess"),
];
const ACTIONS: [&str; 3] = ["s3:GetObject", "sqs:SendMessage", "logs:GetLogEvents"];
const PATHS: [&str; 2] = ["/", "/team/"];
/// Roles and the one path each has, in the spec and the account alike: IAM cannot move a
/// role, and a plan that refuses the account tests nothing.
const ROLES: [(&str, &str); 3] = [("r1", "/"), ("r2", "/team/"), ("r3", "/team/")];
const SERVICES: [&str; 2] = ["ec2.amazonaws.com", "lambda.amazonaws.com"];

fn trust(service: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})
}

/// Each of `items` with probability `p`.
fn some<T: Clone>(rng: &mut StdRng, items: &[T], p: f64) -> Vec<T> {
    items
        .iter()
        .filter(|_| rng.random_bool(p))
        .cloned()
        .collect()
}

fn document(action: usize) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ACTIONS[action], "Resource": "*"}]})
}

/// A spec of some of the names above, as TOML.
fn generate_spec(rng: &mut StdRng, prune: bool) -> String {
    let mut text = String::from("version = 1\n[account]\nscope = \"/team/\"\n");
    if prune {
        text.push_str("prune = true\n");
    }
    if rng.random_bool(0.3) {
        text.push_str("alias = \"koding\"\n");
    }
    let policies = some(rng, &POLICIES[..2], 0.5);
    for policy in &policies {
        let path = PATHS[rng.random_range(0..2)];
        let action = ACTIONS[rng.random_range(0..3)];
        let _ = write!(
            text,
            "[policies.{policy}]\npath = \"{path}\"\ndocument = {{ Version = \"2012-10-17\", Statement = [{{ Effect = \"Allow\", Action = \"{action}\", Resource = \"*\" }}] }}\n"
        );
        if rng.random_bool(0.3) {
            text.push_str("description = \"described\"\n");
        }
    }
    let refs: Vec<String> = AWS
        .iter()
        .map(|(path, name)| format!("{}{name}", &path[1..]))
        .chain(policies.iter().map(|p| (*p).to_owned()))
        .collect();
    let attach = |rng: &mut StdRng, text: &mut String| {
        let chosen: Vec<String> = some(rng, &refs, 0.3)
            .iter()
            .map(|r| format!("{r:?}"))
            .collect();
        let _ = writeln!(text, "policies = [{}]", chosen.join(", "));
        let inline: Vec<String> = some(rng, &["a", "b"], 0.3)
            .into_iter()
            .map(|name| {
                let action = ACTIONS[rng.random_range(0..3)];
                format!("{name} = {{ Version = \"2012-10-17\", Statement = {{ Effect = \"Allow\", Action = \"{action}\", Resource = \"*\" }} }}")
            })
            .collect();
        let _ = writeln!(text, "inline = {{ {} }}", inline.join(", "));
    };
    let groups = some(rng, &GROUPS, 0.5);
    for group in &groups {
        let path = PATHS[rng.random_range(0..2)];
        let _ = writeln!(text, "[groups.{group}]\npath = \"{path}\"");
        if rng.random_bool(0.2) {
            text.push_str("require_mfa = true\n");
        }
        attach(rng, &mut text);
    }
    for user in some(rng, &USERS, 0.5) {
        let path = PATHS[rng.random_range(0..2)];
        let member: Vec<String> = some(rng, &groups, 0.5)
            .iter()
            .map(|g| format!("{g:?}"))
            .collect();
        let _ = writeln!(
            text,
            "[users.{user}]\npath = \"{path}\"\ngroups = [{}]\naccess_key = {}",
            member.join(", "),
            rng.random_bool(0.5)
        );
        if rng.random_bool(0.5) {
            text.push_str("tags = { team = \"platform\" }\n");
        }
        match rng.random_range(0..3) {
            0 => text.push_str("console = true\n"),
            1 => text.push_str("console = false\n"),
            _ => {}
        }
        if rng.random_bool(0.2) {
            text.push_str("require_mfa = true\n");
        }
        attach(rng, &mut text);
    }
    for (role, path) in some(rng, &ROLES, 0.5) {
        let service = SERVICES[rng.random_range(0..2)];
        let _ = writeln!(
            text,
            "[roles.{role}]\npath = \"{path}\"\ntrust = {{ services = [\"{service}\"] }}\ninstance_profile = {}\nmax_session = \"{}h\"",
            rng.random_bool(0.5),
            rng.random_range(1..=2)
        );
        if rng.random_bool(0.3) {
            text.push_str("description = \"described\"\n");
        }
        if rng.random_bool(0.3) {
            text.push_str("boundary = \"AmazonS3ReadOnlyAccess\"\n");
        }
        if rng.random_bool(0.5) {
            text.push_str("tags = { team = \"platform\" }\n");
        }
        attach(rng, &mut text);
    }
    text
}

/// An owner tag: none, this spec's, or another spec's.
fn owner_tag(rng: &mut StdRng) -> BTreeMap<String, String> {
    match rng.random_range(0..10) {
        0..=4 => BTreeMap::new(),
        5..=8 => BTreeMap::from([(OWNER_TAG.to_owned(), "iamspec".to_owned())]),
        _ => BTreeMap::from([(OWNER_TAG.to_owned(), "other".to_owned())]),
    }
}

/// An account that has some of the same names, in any state.
fn generate_account(rng: &mut StdRng) -> MemoryAccount {
    let aws: Vec<PolicyArn> = AWS
        .iter()
        .map(|(path, name)| PolicyArn::aws_managed(Partition::Aws, path, name))
        .collect();
    let mut account = MemoryAccount {
        aws_policies: aws.clone(),
        alias: rng.random_bool(0.3).then(|| "old-alias".to_owned()),
        ..MemoryAccount::default()
    };
    for name in some(rng, &POLICIES, 0.5) {
        let arn = PolicyArn {
            partition: Partition::Aws,
            account: "123456789012".into(),
            path: PATHS[rng.random_range(0..2)].into(),
            name: name.into(),
        };
        let description = if rng.random_bool(0.3) {
            "described"
        } else {
            ""
        };
        let mut policy = MemoryPolicy::new(
            document(rng.random_range(0..3)),
            description,
            owner_tag(rng),
        );
        for _ in 0..rng.random_range(0..5) {
            let id = format!("v{}", policy.next_version);
            policy.next_version += 1;
            policy
                .versions
                .insert(0, (id, document(rng.random_range(0..3)), false));
        }
        account.policies.insert(arn, policy);
    }
    let attachable: Vec<PolicyArn> = aws
        .into_iter()
        .chain(account.policies.keys().cloned())
        .collect();
    let some_policies = |rng: &mut StdRng| -> BTreeSet<PolicyArn> {
        some(rng, &attachable, 0.3).into_iter().collect()
    };
    let some_inline = |rng: &mut StdRng| -> BTreeMap<String, Value> {
        some(rng, &["a", "b", "c"], 0.3)
            .into_iter()
            .map(|n| (n.to_owned(), document(rng.random_range(0..3))))
            .collect()
    };
    for name in some(rng, &GROUPS, 0.5) {
        let group = MemoryGroup {
            path: PATHS[rng.random_range(0..2)].into(),
            policies: some_policies(rng),
            inline: some_inline(rng),
        };
        account.groups.insert(name.into(), group);
    }
    let groups: Vec<String> = account.groups.keys().cloned().collect();
    for name in some(rng, &USERS, 0.5) {
        account.counter += 1;
        let mut tags = owner_tag(rng);
        if rng.random_bool(0.3) {
            tags.insert("team".into(), "old".into());
        }
        let keys = (0..rng.random_range(0..=2))
            .map(|i| AccessKey {
                id: format!("AKIAOLD{name}{i}"),
                active: rng.random_bool(0.7),
                created: i64::from(i),
                last_used: None,
            })
            .collect();
        let user = MemoryUser {
            path: PATHS[rng.random_range(0..2)].into(),
            created: i64::try_from(account.counter).unwrap_or_default(),
            groups: some(rng, &groups, 0.4).into_iter().collect(),
            policies: some_policies(rng),
            inline: some_inline(rng),
            tags,
            keys,
            boundary: None,
            login: rng.random_bool(0.4).then(crate::live::Login::default),
            ..MemoryUser::default()
        };
        account.users.insert(name.into(), user);
    }
    add_roles(rng, &mut account, &attachable);
    account
}

/// Some of the roles, in any state: owned or not, with drift of every kind, in their own
/// instance profile, in a stray one, or in none.
fn add_roles(rng: &mut StdRng, account: &mut MemoryAccount, attachable: &[PolicyArn]) {
    for (name, path) in some(rng, &ROLES, 0.5) {
        let mut tags = owner_tag(rng);
        if rng.random_bool(0.3) {
            tags.insert("team".into(), "old".into());
        }
        let role = MemoryRole {
            path: path.into(),
            trust: trust(SERVICES[rng.random_range(0..2)]),
            description: if rng.random_bool(0.3) {
                "described"
            } else {
                ""
            }
            .into(),
            max_session: 3600 * rng.random_range(1..=2),
            policies: some(rng, attachable, 0.3).into_iter().collect(),
            inline: some(rng, &["a", "b", "c"], 0.3)
                .into_iter()
                .map(|n| (n.to_owned(), document(rng.random_range(0..3))))
                .collect(),
            boundary: rng
                .random_bool(0.3)
                .then(|| PolicyArn::aws_managed(Partition::Aws, "/", "AmazonS3ReadOnlyAccess")),
            tags,
        };
        account.roles.insert(name.into(), role);
        // Its own instance profile, or another's, or none.
        let profile = match rng.random_range(0..3) {
            0 => Some(name.to_owned()),
            1 => Some(format!("stray-{name}")),
            _ => None,
        };
        if let Some(profile) = profile {
            let held = MemoryProfile {
                path: path.into(),
                roles: vec![name.into()],
                tags: BTreeMap::new(),
            };
            account.instance_profiles.insert(profile, held);
        }
    }
}

/// What the spec's ownership says of each entity of `account`: (kind, name) of those it
/// owns or names.
fn theirs(spec: &Spec, account: &MemoryAccount) -> MemoryAccount {
    let ours = &spec.ownership;
    let owned = |path: &str, tags: &BTreeMap<String, String>| {
        ours.owns(path, tags.get(OWNER_TAG).map(String::as_str))
    };
    let mut outside = account.clone();
    // The alias is the spec's when it sets one, or when it prunes: the whole account's.
    if spec.settings.alias.is_some() || spec.prune {
        outside.alias = None;
    }
    outside
        .users
        .retain(|name, u| !owned(&u.path, &u.tags) && !spec.users.contains_key(name));
    outside
        .groups
        .retain(|name, g| !owned(&g.path, &BTreeMap::new()) && !spec.groups.contains_key(name));
    outside
        .policies
        .retain(|arn, p| !owned(&arn.path, &p.tags) && !spec.policies.contains_key(&arn.name));
    outside
        .roles
        .retain(|name, r| !owned(&r.path, &r.tags) && !spec.roles.contains_key(name));
    // An instance profile goes with the role of its name.
    let theirs_roles: BTreeSet<String> = outside.roles.keys().cloned().collect();
    outside.instance_profiles.retain(|name, _| {
        !spec.roles.contains_key(name)
            && (theirs_roles.contains(name) || !account.roles.contains_key(name))
    });
    for profile in outside.instance_profiles.values_mut() {
        profile.roles.retain(|r| theirs_roles.contains(r));
    }
    // What a spec's own group or policy holds of an outsider is the group's or the policy's.
    let kept_groups: BTreeSet<String> = outside.groups.keys().cloned().collect();
    let kept_policies: BTreeSet<PolicyArn> = outside
        .policies
        .keys()
        .cloned()
        .chain(outside.aws_policies.iter().cloned())
        .collect();
    for user in outside.users.values_mut() {
        user.groups.retain(|g| kept_groups.contains(g));
        user.policies.retain(|p| kept_policies.contains(p));
    }
    for group in outside.groups.values_mut() {
        group.policies.retain(|p| kept_policies.contains(p));
    }
    for role in outside.roles.values_mut() {
        role.policies.retain(|p| kept_policies.contains(p));
    }
    outside.counter = 0;
    outside
}

/// Reads and plans `spec` against `api`; `None` when the spec cannot be applied to this
/// account as it stands (another owner's entity named, two inactive keys), which the plan
/// refuses with a problem rather than a change.
fn plan(
    runtime: &tokio::runtime::Runtime,
    spec: &Spec,
    api: &MemoryIam,
) -> Option<crate::plan::Plan> {
    let live = runtime
        .block_on(live::read(api, spec, BTreeMap::new(), KeyReading::Report))
        .expect("the in-memory account reads");
    diff::diff(spec, &live).ok()
}

fn check(seed: u64, prune: bool) -> Result<(), TestCaseError> {
    let mut rng = StdRng::seed_from_u64(seed);
    let text = generate_spec(&mut rng, prune);
    let spec = spec::parse(&text, Path::new("generated.toml"))
        .map_err(|err| TestCaseError::fail(format!("{err}\n{text}")))?;
    let api = MemoryIam::new(generate_account(&mut rng));
    let before = api.snapshot();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let Some(first) = plan(&runtime, &spec, &api) else {
        return Err(TestCaseError::reject("the plan refuses this account"));
    };
    let secrets = tempfile::tempdir().unwrap();
    let options = ApplyOptions {
        concurrency: 4,
        // Nothing in memory is eventually consistent: a failure is a failure.
        retry: RetryPolicy {
            first_delay: std::time::Duration::from_millis(1),
            max_delay: std::time::Duration::from_millis(1),
            deadline: std::time::Duration::ZERO,
        },
        secrets: SecretsDir::new(secrets.path().join("secrets")),
    };
    let report = runtime.block_on(apply::apply(&first, &api, &options));
    prop_assert!(report.succeeded(), "{report:#?}\n{text}\n{before:#?}");
    let second = plan(&runtime, &spec, &api).expect("the spec still applies");
    prop_assert!(
        second.changes.is_empty() && second.lost_secrets.is_empty(),
        "apply then plan is not empty: {:#?}\n{text}\n{before:#?}",
        second.changes
    );
    let after = api.snapshot();
    prop_assert_eq!(theirs(&spec, &before), theirs(&spec, &after), "{}", text);
    if prune {
        // Nothing the spec owns is left beyond it.
        prop_assert!(second.drift.is_empty(), "{:#?}\n{}", second.drift, text);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, max_shrink_iters: 0, ..ProptestConfig::default() })]

    #[test]
    fn apply_then_plan_is_empty(seed in any::<u64>()) {
        check(seed, false)?;
    }

    #[test]
    fn a_prune_makes_the_account_the_spec_on_what_it_owns_and_nothing_else(seed in any::<u64>()) {
        check(seed, true)?;
    }
}
