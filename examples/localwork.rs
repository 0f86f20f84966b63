//! The local work of a plan at AWS's limits, once, for a memory figure: loads, validates and
//! diffs a 5,000-user spec against a live state that matches it, then prints how long that
//! took. The benchmark harness measures the process's peak resident size; timings come from
//! the criterion bench `benches/local.rs`.

#[path = "../benches/synthetic.rs"]
mod synthetic;

use std::path::Path;
use std::time::Instant;

fn main() {
    let text = synthetic::spec(5000, 300, 1500);
    // The live state is built first: in a real plan it is what the reader brings in.
    let reference = iamspec::spec::parse(&text, Path::new("bench.toml")).expect("a valid spec");
    let live = synthetic::applied(&reference);
    drop(reference);

    let started = Instant::now();
    let spec = iamspec::spec::parse(&text, Path::new("bench.toml")).expect("a valid spec");
    let plan = iamspec::diff::diff(&spec, &live).expect("a plan");
    let elapsed = started.elapsed();
    assert!(plan.is_empty(), "the live state matches the spec");
    println!(
        "load, validate and diff of {} users: {:.1} ms",
        spec.users.len(),
        elapsed.as_secs_f64() * 1000.0
    );
}
