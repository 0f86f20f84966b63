//! Local work at AWS's limits: load, validate and diff a spec of 5,000 users, 300 groups and
//! 1,500 customer-managed policies against a live state that already matches it (the plan
//! every CI run makes). Target: under 100 ms (BENCHMARKS.md).

mod synthetic;

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use iamspec::live::{AccessKey, Caller, LiveGroup, LivePolicy, LiveState, LiveUser, PolicyVersion};
use iamspec::spec::{OWNER_TAG, Partition, PolicyArn, PolicyRef, Spec};

const ACCOUNT: &str = "123456789012";

/// The account as it is once `spec` has been applied.
fn applied(spec: &Spec) -> LiveState {
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
                    roles: Vec::new(),
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
                            created: String::new(),
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
        warnings: Vec::new(),
    }
}

fn local_work(c: &mut Criterion) {
    let text = synthetic::spec(5000, 300, 1500);
    let spec = iamspec::spec::parse(&text, Path::new("bench.toml")).unwrap();
    let live = applied(&spec);
    assert!(
        iamspec::diff::diff(&spec, &live).unwrap().is_empty(),
        "the live state matches"
    );

    let mut group = c.benchmark_group("5000 users, 300 groups, 1500 policies");
    group.sample_size(20);
    group.bench_function("load and validate", |b| {
        b.iter(|| iamspec::spec::parse(black_box(&text), Path::new("bench.toml")).unwrap());
    });
    group.bench_function("diff", |b| {
        b.iter(|| iamspec::diff::diff(black_box(&spec), black_box(&live)).unwrap());
    });
    group.bench_function("load, validate and diff", |b| {
        b.iter(|| {
            let spec = iamspec::spec::parse(black_box(&text), Path::new("bench.toml")).unwrap();
            iamspec::diff::diff(&spec, black_box(&live)).unwrap()
        });
    });
    group.finish();
}

criterion_group!(benches, local_work);
criterion_main!(benches);
