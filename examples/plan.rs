//! Using iamspec as a library: load a spec, read the account, diff, and print a summary of
//! the plan. Makes no change.
//!
//!     scripts/with-moto.sh cargo run --example plan -- specs/koding-route53.toml

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use iamspec::live::KeyReading;
use iamspec::live::aws::{AwsIam, Connection};
use iamspec::{diff, live, spec};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let path = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or("specs/koding.toml".into()),
    );
    match run(&path).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(path: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let spec = spec::load(path)?;
    let api = AwsIam::connect(&Connection::default()).await?;
    // No key creations left pending by an interrupted apply; keys from the credential report.
    let live = live::read(&api, &spec, BTreeMap::new(), KeyReading::Report).await?;
    let plan = diff::diff(&spec, &live)?;
    println!(
        "account {}: {} user(s) and {} group(s) in the spec, {} live user(s)",
        plan.account,
        spec.users.len(),
        spec.groups.len(),
        live.users.len()
    );
    for change in &plan.changes {
        println!("{} {}", change.action.symbol(), change.op.api_name());
    }
    println!(
        "{} to add, {} to change, {} drifted",
        plan.summary.add,
        plan.summary.change,
        plan.drift.len()
    );
    Ok(())
}
