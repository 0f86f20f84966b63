//! Local work at AWS's limits: load, validate and diff a spec of 5,000 users, 300 groups and
//! 1,500 customer-managed policies against a live state that already matches it (the plan
//! every CI run makes). Target: under 100 ms (BENCHMARKS.md).

mod synthetic;

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};

fn local_work(c: &mut Criterion) {
    let text = synthetic::spec(5000, 300, 1500);
    let spec = iamspec::spec::parse(&text, Path::new("bench.toml")).unwrap();
    let live = synthetic::applied(&spec);
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
