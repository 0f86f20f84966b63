//! The GitHub Actions recipe (examples/github-actions): the workflow asks GitHub for what each
//! job needs and no more, assumes the roles the recipe's spec declares, and its iamspec command
//! lines, run as written against the local endpoint, plan, save, and apply the saved plan.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::{Account, Run};

fn recipe(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/github-actions")
        .join(name)
}

/// The workflow, parsed by a YAML parser.
fn workflow() -> Value {
    support::yaml(&recipe("iamspec.yml"))
}

/// The `run` scripts of a job's steps, in order.
fn scripts(job: &Value) -> Vec<String> {
    job["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|step| step["run"].as_str().map(str::to_owned))
        .collect()
}

/// The lines of the job's scripts that run iamspec (not the install).
fn iamspec_lines(job: &Value) -> Vec<String> {
    scripts(job)
        .iter()
        .flat_map(|script| {
            script
                .lines()
                .map(str::trim)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|line| line.starts_with("iamspec "))
        .collect()
}

#[test]
fn each_job_asks_for_what_it_needs_and_assumes_a_role_the_spec_declares() {
    let workflow = workflow();
    let spec = std::fs::read_to_string(recipe("iam.toml")).unwrap();
    let plan = &workflow["jobs"]["plan"];
    let apply = &workflow["jobs"]["apply"];
    assert_eq!(
        workflow["permissions"],
        serde_json::json!({"contents": "read"})
    );
    assert_eq!(
        plan["permissions"],
        serde_json::json!({"contents": "read", "id-token": "write", "pull-requests": "write"})
    );
    assert_eq!(
        apply["permissions"],
        serde_json::json!({"contents": "read", "id-token": "write", "actions": "read"})
    );
    let environment = apply["environment"].as_str().unwrap();
    assert!(spec.contains(&format!("environments = [\"{environment}\"]")));
    assert!(spec.contains("pull_request = true"));
    for (job, role) in [(plan, "iamspec-plan"), (apply, "iamspec-apply")] {
        let assumed: Vec<&str> = job["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["with"]["role-to-assume"].as_str())
            .collect();
        assert_eq!(assumed.len(), 1, "{job:#}");
        assert!(
            assumed[0].ends_with(&format!(":role/{role}")),
            "{assumed:?}"
        );
        assert!(spec.contains(&format!("[roles.{role}]")));
    }
    assert_eq!(
        iamspec_lines(plan),
        ["iamspec plan \"$SPEC\" --out iam.plan --markdown --detailed-exitcode > plan.md"]
    );
    assert_eq!(iamspec_lines(apply), ["iamspec apply iam.plan"]);
}

#[tokio::test]
async fn the_recipe_commands_plan_save_and_apply_the_saved_plan() {
    let account = Account::new().await;
    let workflow = workflow();
    let spec_path = workflow["env"]["SPEC"].as_str().unwrap();
    let spec = account.dir.path().join(spec_path);
    std::fs::create_dir_all(spec.parent().unwrap()).unwrap();
    std::fs::copy(recipe("iam.toml"), &spec).unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_iamspec")).parent().unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    // A job's shell: the account's credentials, iamspec on the PATH, the workflow's SPEC.
    let run = |line: &str| {
        let mut bash = Command::new("bash");
        bash.args(["-c", line]).current_dir(account.dir.path());
        for (key, value) in account.command(&[]).get_envs() {
            match value {
                Some(value) => bash.env(key, value),
                None => bash.env_remove(key),
            };
        }
        bash.env("PATH", &path).env("SPEC", spec_path);
        Run::from(bash.output().unwrap())
    };

    let [plan_line] = iamspec_lines(&workflow["jobs"]["plan"]).try_into().unwrap();
    run(&plan_line).expect(2);
    let text = std::fs::read_to_string(account.dir.path().join("plan.md")).unwrap();
    assert!(text.contains("+ create role iamspec-apply"), "{text}");
    assert!(
        text.contains("| account | name | add |") && text.contains("<details>"),
        "{text}"
    );
    assert!(account.dir.path().join("iam.plan").exists());

    let [apply_line] = iamspec_lines(&workflow["jobs"]["apply"])
        .try_into()
        .unwrap();
    let applied = run(&apply_line).expect(0);
    assert!(
        applied.stdout.contains("Apply complete"),
        "{}",
        applied.stdout
    );
    run(&plan_line).expect(0);
}
