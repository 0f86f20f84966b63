//! What the tests on the in-memory account share: a spec from text, a runtime to block on,
//! and reading the account and applying a plan the way the command line does.

use std::collections::BTreeMap;
use std::path::Path;

use crate::apply::{self, ApplyOptions, Report, RetryPolicy};
use crate::iam::{Partition, PolicyArn};
use crate::live::memory::MemoryIam;
use crate::live::{self, KeyReading, LiveState};
use crate::plan::Plan;
use crate::secrets::SecretsDir;
use crate::spec::{self, Spec};

/// A valid spec from `text`, as if read from `spec.toml`.
pub fn spec(text: &str) -> Spec {
    spec::parse(text, Path::new("spec.toml")).unwrap()
}

/// Runs `future` to its end on a runtime of its own.
pub fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// The ARN of an AWS-managed policy at the root path.
pub fn aws(name: &str) -> PolicyArn {
    PolicyArn::aws_managed(Partition::Aws, "/", name)
}

/// The account as `spec` needs it read, with no interrupted apply in the secrets directory.
pub fn read(spec: &Spec, api: &MemoryIam, keys: KeyReading) -> LiveState {
    block_on(live::read(api, spec, BTreeMap::new(), keys)).unwrap()
}

/// Applies `plan`, four calls at a time, and asserts that all of it was made.
pub fn apply_plan(plan: &Plan, api: &MemoryIam, secrets: &SecretsDir) -> Report {
    let options = ApplyOptions {
        concurrency: 4,
        retry: RetryPolicy::default(),
        secrets: secrets.clone(),
    };
    let report = block_on(apply::apply(plan, api, &options));
    assert!(report.succeeded(), "{report:#?}");
    report
}
