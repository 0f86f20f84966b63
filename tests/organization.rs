//! An organization of several accounts, in nested OUs and with tags, on the local endpoint:
//! one organization file with layers, planned and applied across the accounts at once, each
//! account checked through its own role.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;
use support::proxy::{Behaviour, Proxy};
use support::{Organization, Run};

/// The issue's example: a baseline for every account but the sandbox, a prod layer for the
/// prod OU's accounts tagged `env = prod`, a role of its own for `dev`.
const ORG: &str = r#"version = 1
[organization]
role = "OrganizationAccountAccessRole"
concurrency = 4

[[targets]]
accounts = "all"
exclude = ["sandbox-1"]
specs = ["layers/baseline.toml"]

[[targets]]
ous = ["Workloads/Prod"]
tags = { env = "prod" }
specs = ["layers/prod.toml"]

[[targets]]
accounts = ["dev"]
specs = ["layers/dev.toml"]
"#;

const BASELINE: &str = r#"version = 1
[groups.Developers]
policies = ["AmazonEC2FullAccess", "IAMReadOnlyAccess"]

[roles.deploy]
trust = { accounts = ["${account.id}"] }
policies = ["ReadOnlyAccess"]
tags = { account = "${account.name}", partition = "${partition}" }
"#;

/// A layer that names a group another layer declares.
const PROD: &str = r#"version = 1
[users.koding-user]
groups = ["Developers"]
access_key = true
"#;

const DEV: &str = r#"version = 1
[policies.dev-logs]
document = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "logs:GetLogEvents", Resource = "arn:${partition}:logs:*:${account.id}:log-group:dev-*" }] }

[roles.dev-debug]
trust = { accounts = ["${account.id}"] }
policies = ["dev-logs"]
"#;

/// prod-a and prod-b in Workloads/Prod (only prod-a tagged env=prod), dev in Workloads,
/// sandbox-1 under the root.
async fn organization() -> Organization {
    let mut org = Organization::new().await;
    let workloads = org.ou(&org.root.clone(), "Workloads").await;
    let prod = org.ou(&workloads, "Prod").await;
    org.account("prod-a", Some(&prod), &[("env", "prod")]).await;
    org.account("prod-b", Some(&prod), &[("env", "staging")])
        .await;
    org.account("dev", Some(&workloads), &[]).await;
    org.account("sandbox-1", None, &[]).await;
    let dir = org.management.dir.path();
    std::fs::create_dir_all(dir.join("layers")).unwrap();
    std::fs::write(dir.join("org.toml"), ORG).unwrap();
    std::fs::write(dir.join("layers/baseline.toml"), BASELINE).unwrap();
    std::fs::write(dir.join("layers/prod.toml"), PROD).unwrap();
    std::fs::write(dir.join("layers/dev.toml"), DEV).unwrap();
    org
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|err| panic!("{err}: {}", run.stdout))
}

/// Each account's entry of `plan --json`, by id.
fn plans(run: &Run) -> std::collections::BTreeMap<String, Value> {
    json(run)["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["account"].as_str().unwrap().to_owned(), a.clone()))
        .collect()
}

fn changes(entry: &Value) -> Vec<String> {
    entry["plan"]["changes"]
        .as_array()
        .unwrap_or_else(|| panic!("no plan: {entry}"))
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[tokio::test]
async fn an_organization_is_targeted_merged_and_applied_in_every_account() {
    let org = organization().await;
    let management = org.management.id.clone();

    let listed = json(&org.run(&["accounts", "org.toml", "--json"]).expect(0));
    let specs: std::collections::BTreeMap<String, Vec<String>> = listed["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let specs = a["specs"].as_array().unwrap().iter();
            let specs = specs.map(|s| s.as_str().unwrap().rsplit('/').next().unwrap().to_owned());
            (a["id"].as_str().unwrap().to_owned(), specs.collect())
        })
        .collect();
    assert_eq!(specs[org.id("prod-a")], ["baseline.toml", "prod.toml"]);
    assert_eq!(specs[org.id("prod-b")], ["baseline.toml"]);
    assert_eq!(specs[org.id("dev")], ["baseline.toml", "dev.toml"]);
    assert_eq!(specs[&management], ["baseline.toml"]);
    assert!(!specs.contains_key(org.id("sandbox-1")), "{specs:?}");

    let run = org
        .run(&["plan", "org.toml", "--json", "--stats"])
        .expect(0);
    // The documents of the three AWS-managed policies are read once for the four accounts.
    assert!(run.stderr.contains("GetPolicyVersion 3,"), "{}", run.stderr);
    let planned = plans(&run);
    assert_eq!(planned.len(), 4);
    let prod_a = &planned[org.id("prod-a")];
    assert_eq!(prod_a["name"], "prod-a");
    let summaries = changes(prod_a);
    assert!(
        summaries
            .iter()
            .any(|c| c.contains("create_user") && c.contains("koding-user")),
        "{summaries:?}"
    );
    assert!(
        !changes(&planned[org.id("prod-b")])
            .iter()
            .any(|c| c.contains("koding-user"))
    );
    assert!(
        changes(&planned[org.id("dev")])
            .iter()
            .any(|c| c.contains("create_role") && c.contains("dev-debug"))
    );

    let applied = org.run(&["apply", "org.toml", "--yes"]).expect(0);
    assert!(applied.stdout.contains("applied"), "{}", applied.stdout);

    applied_as_each_account_sees_it(&org).await;

    // Idempotent: nothing left to do anywhere.
    let again = org
        .run(&["plan", "org.toml", "--detailed-exitcode"])
        .expect(0);
    assert!(
        again.stdout.contains("4 accounts: 0 with changes"),
        "{}",
        again.stdout
    );

    drift_and_reports_per_account(&org).await;
}

/// What the issue's organization looks like in each account after an apply, read through
/// each account's own role.
async fn applied_as_each_account_sees_it(org: &Organization) {
    // Each account as its own role sees it.
    for name in ["prod-a", "prod-b", "dev"] {
        let account = org.member(name).await;
        let iam = account.iam();
        let attached = iam
            .list_attached_group_policies()
            .group_name("Developers")
            .send()
            .await
            .unwrap();
        let names: BTreeSet<&str> = attached
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_name())
            .collect();
        assert_eq!(
            names,
            BTreeSet::from(["AmazonEC2FullAccess", "IAMReadOnlyAccess"]),
            "{name}"
        );
        let role = iam.get_role().role_name("deploy").send().await.unwrap();
        let role = role.role().unwrap();
        let tags: std::collections::BTreeMap<&str, &str> =
            role.tags().iter().map(|t| (t.key(), t.value())).collect();
        assert_eq!(tags.get("account"), Some(&name), "{name}");
        assert_eq!(tags.get("partition"), Some(&"aws"));
        let trust =
            percent_encoding::percent_decode_str(role.assume_role_policy_document().unwrap())
                .decode_utf8_lossy()
                .into_owned();
        assert!(
            trust.contains(&format!("arn:aws:iam::{}:root", account.id)),
            "{trust}"
        );
        assert_eq!(
            account.user_exists("koding-user").await,
            name == "prod-a",
            "{name}"
        );
    }
    let dev = org.member("dev").await;
    let policy = dev
        .iam()
        .get_policy()
        .policy_arn(format!("arn:aws:iam::{}:policy/dev-logs", dev.id))
        .send()
        .await
        .expect("the dev layer's policy, with its ARN filled in");
    assert!(policy.policy().is_some());
    let sandbox = org.member("sandbox-1").await;
    assert!(
        sandbox
            .iam()
            .get_group()
            .group_name("Developers")
            .send()
            .await
            .is_err()
    );
    // The secret of prod-a's key is in prod-a's own secrets directory.
    let secret = org
        .management
        .dir
        .path()
        .join("secrets")
        .join(org.id("prod-a"))
        .join("koding-user.csv");
    assert!(secret.is_file(), "{}", secret.display());
}

/// Drift in one account shows in that account's row, section and report only.
async fn drift_and_reports_per_account(org: &Organization) {
    let dev = org.member("dev").await;
    // Drift in one account shows in that account only.
    dev.iam()
        .put_group_policy()
        .group_name("Developers")
        .policy_name("by-hand")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    let drifted = plans(&org.run(&["plan", "org.toml", "--json"]).expect(0));
    for (id, entry) in &drifted {
        let drift = entry["plan"]["drift"].as_array().unwrap().len();
        assert_eq!(drift, usize::from(id == org.id("dev")), "{id}: {entry}");
    }
    let table = org.run(&["plan", "org.toml"]).expect(0);
    let dev_row = table
        .stdout
        .lines()
        .find(|l| l.starts_with(org.id("dev")))
        .unwrap();
    assert!(dev_row.contains("  1  no changes"), "{dev_row}");

    // For a pull request: the table, and a section for the account that has something.
    let markdown = org.run(&["plan", "org.toml", "--markdown"]).expect(0);
    assert!(
        markdown
            .stdout
            .contains("| account | name | add | change | remove | drift | status |")
    );
    assert_eq!(
        markdown.stdout.matches("<details>").count(),
        1,
        "{}",
        markdown.stdout
    );

    // One account's credentials, alongside the others'.
    let report = json(&org.run(&["credentials", "org.toml", "--json"]).expect(0));
    assert_eq!(report["accounts"].as_array().unwrap().len(), 4);
    let prod_report = report["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account"] == org.id("prod-a"))
        .unwrap();
    assert!(
        prod_report["report"].to_string().contains("koding-user"),
        "{prod_report}"
    );
}

#[tokio::test]
async fn shards_take_every_account_exactly_once() {
    let org = organization().await;
    let all: BTreeSet<String> = ids(&org.run(&["accounts", "org.toml", "--json"]).expect(0));
    let mut seen = BTreeSet::new();
    let mut sizes = Vec::new();
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let part = ids(&org
            .run(&["accounts", "org.toml", "--json", "--shard", &shard])
            .expect(0));
        assert!(
            part.is_disjoint(&seen),
            "{shard}: {part:?} overlaps {seen:?}"
        );
        sizes.push(part.len());
        seen.extend(part);
    }
    assert_eq!(seen, all);
    assert!(
        sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1,
        "{sizes:?}"
    );
    // --accounts narrows by name or id; a name no target selects is an error.
    let only = ids(&org
        .run(&["accounts", "org.toml", "--json", "--accounts", "dev,prod-a"])
        .expect(0));
    assert_eq!(
        only,
        BTreeSet::from([org.id("dev").to_owned(), org.id("prod-a").to_owned()])
    );
    let wrong = org
        .run(&["accounts", "org.toml", "--accounts", "sandbox-1"])
        .expect(1);
    assert!(
        wrong
            .stderr
            .contains("no target of the organization selects"),
        "{}",
        wrong.stderr
    );
    let bad = org.run(&["plan", "org.toml", "--shard", "4/3"]).expect(1);
    assert!(bad.stderr.contains("K/N"), "{}", bad.stderr);
}

fn ids(run: &Run) -> BTreeSet<String> {
    json(run)["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_account_whose_role_refuses_is_reported_while_the_others_are_planned() {
    let org = organization().await;
    let dev: &'static str = Box::leak(org.id("dev").to_owned().into_boxed_str());
    let proxy = Proxy::with(
        &org.management.endpoint,
        Behaviour {
            refuse_assume: Some(dev),
            ..Behaviour::default()
        },
    );
    let run = org
        .management
        .run_via(&proxy.url, &["plan", "org.toml", "--json"])
        .expect(1);
    let planned = plans(&run);
    assert_eq!(planned.len(), 4);
    let error = planned[dev]["error"].as_str().unwrap();
    assert!(
        error.contains("could not assume") && error.contains("OrganizationAccountAccessRole"),
        "{error}"
    );
    assert!(error.contains("trust policy"), "{error}");
    // One sentence with AWS's code and message, never the SDK's debug form.
    assert!(
        error.contains("AccessDenied: User is not authorized to perform: sts:AssumeRole"),
        "{error}"
    );
    assert!(
        !error.contains("Error {") && !error.contains("code: "),
        "{error}"
    );
    for (id, entry) in &planned {
        if id != dev {
            assert!(entry["plan"]["changes"].is_array(), "{id}: {entry}");
        }
    }
    assert!(
        run.stderr.contains("1 of 4 accounts could not be planned"),
        "{}",
        run.stderr
    );
    // apply refuses before any change: --max-failed-accounts is 0.
    let refused = org
        .management
        .run_via(&proxy.url, &["apply", "org.toml", "--yes"])
        .expect(1);
    assert!(
        refused.stderr.contains("--max-failed-accounts"),
        "{}",
        refused.stderr
    );
    let prod = org.member("prod-a").await;
    assert!(!prod.user_exists("koding-user").await);
    // Allowing one failure applies the rest.
    org.management
        .run_via(
            &proxy.url,
            &["apply", "org.toml", "--yes", "--max-failed-accounts", "1"],
        )
        .expect(1);
    assert!(prod.user_exists("koding-user").await);
}

#[tokio::test]
async fn an_invalid_organization_makes_no_call_and_says_where() {
    let org = Organization::new().await;
    let dir = org.management.dir.path();
    std::fs::create_dir_all(dir.join("layers")).unwrap();
    let proxy = Proxy::start(&org.management.endpoint);
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
    let id = "111111111111";
    write(
        "org.toml",
        &format!(
            "version = 1\n[organization]\n[[targets]]\naccounts = [\"{id}\"]\nspecs = [\"layers/a.toml\"]\n"
        ),
    );
    write("layers/a.toml", "version = 1\n[groups.ops]\n");
    let valid = org
        .management
        .run_via(&proxy.url, &["validate", "org.toml"])
        .expect(0);
    assert!(
        valid
            .stdout
            .contains("is valid: 1 target, 1 layer; every account's merged spec checked"),
        "{}",
        valid.stdout
    );
    write(
        "org.toml",
        &format!(
            "version = 1\n[organization]\n[[targets]]\naccounts = [\"{id}\"]\nspecs = [\"layers/a.toml\", \"layers/b.toml\"]\n"
        ),
    );
    write("layers/a.toml", "version = 1\n[groups.ops]\n");
    // The same group twice: both files and lines are named.
    write("layers/b.toml", "version = 1\n\n[groups.ops]\n");
    let run = org
        .management
        .run_via(&proxy.url, &["plan", "org.toml"])
        .expect(1);
    assert!(
        run.stderr.contains("layers/b.toml:3:")
            && run.stderr.contains("layers/a.toml:2:")
            && run.stderr.contains("declared twice"),
        "{}",
        run.stderr
    );
    // A layer may not pin the account, nor name an unknown variable.
    write(
        "layers/b.toml",
        "version = 1\n[account]\nid = \"222222222222\"\n[users.u]\ntags = { at = \"${account.nam}\" }\n",
    );
    let run = org
        .management
        .run_via(&proxy.url, &["plan", "org.toml"])
        .expect(1);
    assert!(
        run.stderr.contains("layers/b.toml:5:")
            && run.stderr.contains("did you mean `${account.name}`"),
        "{}",
        run.stderr
    );
    write(
        "layers/b.toml",
        "version = 1\n[account]\nid = \"222222222222\"\n",
    );
    let run = org
        .management
        .run_via(&proxy.url, &["plan", "org.toml"])
        .expect(1);
    assert!(
        run.stderr
            .contains("layers/b.toml:3:6: a layer cannot set `[account] id`"),
        "{}",
        run.stderr
    );
    // A reference to a group of another layer is fine; one to no layer's group is not,
    // and is found offline when the targets are ids.
    write(
        "layers/b.toml",
        "version = 1\n[users.u]\ngroups = [\"ops\", \"opz\"]\n",
    );
    let run = org
        .management
        .run_via(&proxy.url, &["plan", "org.toml"])
        .expect(1);
    assert!(
        run.stderr.contains("layers/b.toml:3:") && run.stderr.contains("opz"),
        "{}",
        run.stderr
    );
    assert!(
        proxy.actions().is_empty(),
        "calls made: {:?}",
        proxy.actions()
    );
}

#[tokio::test]
async fn a_layer_outside_the_organizations_folder_is_refused_before_any_call() {
    let org = Organization::new().await;
    let dir = org.management.dir.path();
    let proxy = Proxy::start(&org.management.endpoint);
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
    // A layer outside the organization's folder.
    write(
        "org.toml",
        "version = 1\n[organization]\n[[targets]]\naccounts = [\"111111111111\"]\nspecs = [\"../elsewhere.toml\"]\n",
    );
    std::fs::write(
        dir.parent().unwrap().join("elsewhere.toml"),
        "version = 1\n",
    )
    .ok();
    let run = org
        .management
        .run_via(&proxy.url, &["plan", "org.toml"])
        .expect(1);
    assert!(
        run.stderr.contains("org.toml:5:") && run.stderr.contains("outside"),
        "{}",
        run.stderr
    );
    assert!(
        proxy.actions().is_empty(),
        "calls made: {:?}",
        proxy.actions()
    );
}

#[tokio::test]
async fn a_saved_organization_plan_is_refused_when_an_account_moved() {
    let org = organization().await;
    org.run(&["plan", "org.toml", "--out", "org-plan.json"])
        .expect(0);
    // prod-a leaves Workloads/Prod: it would no longer get the prod layer.
    let prod_a = org.id("prod-a").to_owned();
    let prod_ou = ou_of(&org, &prod_a).await;
    org.move_account(&prod_a, &prod_ou, &org.root).await;
    let refused = org.run(&["apply", "org-plan.json"]).expect(1);
    assert!(
        refused.stderr.contains("prod-a") && refused.stderr.contains("now gets"),
        "{}",
        refused.stderr
    );
    assert!(!org.member("prod-a").await.user_exists("koding-user").await);
    // Moved back, the saved plan applies exactly, from any directory.
    org.move_account(&prod_a, &org.root, &prod_ou).await;
    let elsewhere = org.management.dir.path().join("ci-step");
    std::fs::create_dir(&elsewhere).unwrap();
    let mut command =
        org.management
            .command(&["apply", "../org-plan.json", "--secrets-dir", "../secrets"]);
    command.current_dir(&elsewhere);
    Run::from(command.output().unwrap()).expect(0);
    assert!(org.member("prod-a").await.user_exists("koding-user").await);
    org.run(&["plan", "org.toml", "--detailed-exitcode"])
        .expect(0);
    // An edited file is refused by its seal.
    org.run(&["plan", "org.toml", "--out", "org-plan.json"])
        .expect(0);
    let path = org.management.dir.path().join("org-plan.json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replacen("\"prune\": false", "\"prune\": true", 1),
    )
    .unwrap();
    let tampered = org.run(&["apply", "org-plan.json"]).expect(1);
    assert!(
        tampered.stderr.contains("seal") || tampered.stderr.contains("digest"),
        "{}",
        tampered.stderr
    );
}

/// The OU that holds `account`.
async fn ou_of(org: &Organization, account: &str) -> String {
    let client = aws_sdk_organizations::Client::from_conf(
        aws_sdk_organizations::Config::builder()
            .behavior_version(aws_sdk_organizations::config::BehaviorVersion::latest())
            .region(aws_sdk_organizations::config::Region::new("us-east-1"))
            .endpoint_url(&org.management.endpoint)
            .credentials_provider(org.management.credentials().clone())
            .build(),
    );
    let parents = client
        .list_parents()
        .child_id(account)
        .send()
        .await
        .unwrap();
    parents.parents()[0].id().unwrap().to_owned()
}

#[tokio::test]
async fn sigterm_stops_every_account_and_the_next_apply_finishes() {
    let org = organization().await;
    let proxy = Proxy::with(
        &org.management.endpoint,
        Behaviour {
            latency: Duration::from_millis(120),
            ..Behaviour::default()
        },
    );
    let child = org
        .management
        .spawn_via(&proxy.url, &["apply", "org.toml", "--yes"]);
    // Wait until the accounts are being changed (past the locks, which are policies made
    // with CreatePolicy), then send SIGTERM.
    let started = std::time::Instant::now();
    while !proxy.actions().iter().any(|a| a == "CreateGroup") {
        assert!(
            started.elapsed() < Duration::from_mins(1),
            "no change started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let run = Run::from(output);
    assert_eq!(
        run.code, 143,
        "--- stdout\n{}\n--- stderr\n{}",
        run.stdout, run.stderr
    );
    assert!(run.stderr.contains("interrupted"), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"));
    // No account kept its lock, and the next apply finishes every account.
    org.run(&["apply", "org.toml", "--yes", "--lock-timeout", "0"])
        .expect(0);
    org.run(&["plan", "org.toml", "--detailed-exitcode"])
        .expect(0);
}

#[tokio::test]
async fn an_exported_organization_plans_nothing() {
    let org = organization().await;
    org.run(&["apply", "org.toml", "--yes"]).expect(0);
    // Made by hand: live text that looks like a layer's variable, which must stay that text.
    let dev = org.member("dev").await;
    dev.iam()
        .create_role()
        .role_name("literal")
        .description("runs for ${account.id} in ${partition}")
        .assume_role_policy_document(format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{}:root"}},"Action":"sts:AssumeRole"}}]}}"#,
            dev.id
        ))
        .send()
        .await
        .unwrap();
    let exported = org
        .run(&["export", "--organization", "--out", "exported"])
        .expect(0);
    assert!(
        exported.stdout.contains("organization.toml"),
        "{}",
        exported.stdout
    );
    let text =
        std::fs::read_to_string(org.management.dir.path().join("exported/organization.toml"))
            .unwrap();
    assert!(text.contains(org.id("sandbox-1")), "{text}");
    let layer = std::fs::read_to_string(
        org.management
            .dir
            .path()
            .join(format!("exported/accounts/{}/spec.toml", org.id("dev"))),
    )
    .unwrap();
    assert!(
        layer.contains("[roles.deploy]") && !layer.contains("OrganizationAccountAccessRole"),
        "{layer}"
    );
    assert!(
        layer.contains("runs for $${account.id} in $${partition}"),
        "{layer}"
    );
    // What iamspec made is planned as it is; what it did not make is only adopted.
    let plan = org
        .run(&["plan", "exported/organization.toml", "--json"])
        .expect(0);
    for (id, entry) in plans(&plan) {
        for change in entry["plan"]["changes"].as_array().unwrap() {
            assert!(
                change["reason"]
                    .as_str()
                    .unwrap_or_default()
                    .starts_with("adopt:"),
                "{id}: {change}"
            );
        }
    }
}

/// The organization recipe (examples/github-actions/organization.yml), parsed by a YAML parser.
fn recipe() -> Value {
    support::yaml(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/github-actions/organization.yml"),
    )
}

/// The iamspec lines of a job's scripts.
fn iamspec_lines(job: &Value) -> Vec<String> {
    job["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|step| step["run"].as_str())
        .flat_map(str::lines)
        .map(str::trim)
        .filter(|line| line.starts_with("iamspec "))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
#[allow(clippy::too_many_lines)] // the workflow, job by job, as a runner would run it
async fn the_organization_recipe_plans_and_applies_every_shard_as_written() {
    let org = organization().await;
    let workflow = recipe();
    let dir = org.management.dir.path();
    let path = workflow["env"]["ORG"].as_str().unwrap();
    std::fs::create_dir_all(dir.join("iam/layers")).unwrap();
    // With Identity Center: the shards leave it to its own jobs.
    let with_center = format!("{ORG}{CENTER}");
    std::fs::write(dir.join(path), &with_center).unwrap();
    std::fs::write(dir.join("org.toml"), &with_center).unwrap();
    // The proxy stands in for what moto's sso-admin lacks (tags, boundaries).
    let proxy = Proxy::with(
        &org.management.endpoint,
        Behaviour {
            center_gaps: true,
            ..Behaviour::default()
        },
    );
    for layer in ["baseline", "prod", "dev"] {
        let from = dir.join(format!("layers/{layer}.toml"));
        std::fs::copy(from, dir.join(format!("iam/layers/{layer}.toml"))).unwrap();
    }
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_iamspec"))
        .parent()
        .unwrap();
    let search = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let shards: Vec<String> = workflow["jobs"]["plan"]["strategy"]["matrix"]["shard"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        workflow["jobs"]["apply"]["strategy"]["matrix"]["shard"],
        workflow["jobs"]["plan"]["strategy"]["matrix"]["shard"]
    );
    // A job's shell in its own directory: the management account's credentials, iamspec on
    // the PATH, the workflow's ORG, the matrix's shard.
    let run = |line: &str, shard: &str, job_dir: &std::path::Path| {
        let line = line.replace("${{ matrix.shard }}", shard);
        let mut bash = std::process::Command::new("bash");
        bash.args(["-c", &line]).current_dir(job_dir);
        for (key, value) in org.management.command(&[]).get_envs() {
            match value {
                Some(value) => bash.env(key, value),
                None => bash.env_remove(key),
            };
        }
        bash.env("PATH", &search)
            .env("ORG", dir.join(path))
            .env("AWS_ENDPOINT_URL", &proxy.url);
        Run::from(bash.output().unwrap())
    };
    let [plan_line] = iamspec_lines(&workflow["jobs"]["plan"]).try_into().unwrap();
    let [apply_line] = iamspec_lines(&workflow["jobs"]["apply"])
        .try_into()
        .unwrap();
    let mut planned = 0;
    for shard in &shards {
        let job = dir.join(format!("job-{}", shard.replace('/', "-")));
        std::fs::create_dir_all(&job).unwrap();
        let planned_shard = run(&plan_line, shard, &job).expect(2);
        assert!(
            planned_shard
                .stderr
                .contains("[identity_center] is not part of a saved plan"),
            "{}",
            planned_shard.stderr
        );
        let markdown = std::fs::read_to_string(job.join("plan.md")).unwrap();
        assert!(markdown.contains("| account | name |"), "{markdown}");
        assert!(!markdown.contains("IAM Identity Center"), "{markdown}");
        planned += markdown
            .lines()
            .filter(|l| l.starts_with("| ") && l.contains("changes"))
            .count();
    }
    assert_eq!(planned, 4, "every target account in exactly one shard");
    // Identity Center's own jobs: planned on the pull request, applied once after the shards.
    let [center_plan] = iamspec_lines(&workflow["jobs"]["plan-identity-center"])
        .try_into()
        .unwrap();
    let [center_apply] = iamspec_lines(&workflow["jobs"]["apply-identity-center"])
        .try_into()
        .unwrap();
    assert_eq!(workflow["jobs"]["apply-identity-center"]["needs"], "apply");
    let job = dir.join("job-center");
    std::fs::create_dir_all(&job).unwrap();
    run(&center_plan, "", &job).expect(2);
    let markdown = std::fs::read_to_string(job.join("center.md")).unwrap();
    assert!(
        markdown.contains("### IAM Identity Center") && !markdown.contains("| account |"),
        "{markdown}"
    );
    for shard in &shards {
        let job = dir.join(format!("job-{}", shard.replace('/', "-")));
        run(&apply_line, shard, &job).expect(0);
    }
    let applied = run(&center_apply, "", &job).expect(0);
    assert!(
        applied
            .stdout
            .contains("IAM Identity Center: 4 changes made."),
        "{}",
        applied.stdout
    );
    org.management
        .run_via(&proxy.url, &["plan", "org.toml", "--detailed-exitcode"])
        .expect(0);
}

/// Identity Center beside the recipe's accounts: a group given a permission set in dev.
const CENTER: &str = r#"
[identity_center]

[identity_center.groups.Developers]

[identity_center.permission_sets.Developers]
policies = ["IAMReadOnlyAccess"]

[[identity_center.assignments]]
permission_set = "Developers"
groups = ["Developers"]
accounts = ["dev"]
"#;

#[tokio::test]
async fn a_hostile_account_name_is_refused_for_that_account_only() {
    let mut org = Organization::new().await;
    org.account("o\"hara", None, &[]).await;
    org.account("*", None, &[]).await;
    org.account("fine", None, &[]).await;
    let dir = org.management.dir.path();
    let (hara, star, fine) = (
        org.id("o\"hara").to_owned(),
        org.id("*").to_owned(),
        org.id("fine").to_owned(),
    );
    // By id: the names come from AWS Organizations, read although no selector needs it.
    std::fs::write(
        dir.join("org.toml"),
        format!("version = 1\n[organization]\n[[targets]]\naccounts = [\"{fine}\", \"{hara}\", \"{star}\"]\nspecs = [\"named.toml\"]\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("named.toml"),
        "version = 1\n[roles.named]\ntrust = { accounts = [\"${account.id}\"] }\ntags = { account = \"${account.name}\" }\n[policies.data]\ndocument = \"data.json\"\n",
    )
    .unwrap();
    // The name used only in a document file: `data-*/*` would be every bucket of `data-`.
    std::fs::write(
        dir.join("data.json"),
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:${partition}:s3:::data-${account.name}/*"}]}"#,
    )
    .unwrap();
    // Offline, the organization is valid: which names the accounts have is AWS's to say.
    org.run(&["validate", "org.toml"]).expect(0);
    let planned = plans(&org.run(&["plan", "org.toml", "--json"]).expect(1));
    for (id, bad) in [(&hara, "'\"'"), (&star, "'*'")] {
        let error = planned[id.as_str()]["error"].as_str().unwrap();
        assert!(
            error.contains(bad) && error.contains("Rename the account"),
            "{error}"
        );
    }
    assert!(
        planned[star.as_str()]["error"]
            .as_str()
            .unwrap()
            .contains("named.toml:4:"),
        "{}",
        planned[star.as_str()]["error"]
    );
    // The others go on, with the name from AWS Organizations in the document file too.
    let changes = planned[fine.as_str()]["plan"]["changes"].to_string();
    assert!(changes.contains("data"), "{changes}");
    let applied = org.run(&["apply", "org.toml", "--yes", "--accounts", &fine]);
    applied.expect(0);
    let member = org.member("fine").await;
    let arn = format!("arn:aws:iam::{fine}:policy/data");
    let iam = member.iam();
    let policy = iam.get_policy().policy_arn(&arn).send().await.unwrap();
    let version = policy.policy().unwrap().default_version_id().unwrap();
    let got = iam
        .get_policy_version()
        .policy_arn(&arn)
        .version_id(version)
        .send()
        .await
        .unwrap();
    let document = got.policy_version().unwrap().document().unwrap();
    let document = percent_encoding::percent_decode_str(document).decode_utf8_lossy();
    assert!(document.contains("arn:aws:s3:::data-fine/*"), "{document}");
}

#[tokio::test]
async fn a_roles_only_baseline_reads_no_users_or_groups() {
    let mut org = Organization::new().await;
    org.account("big", None, &[]).await;
    let big = org.member("big").await;
    for i in 0..3 {
        big.iam()
            .create_user()
            .user_name(format!("person-{i}"))
            .send()
            .await
            .unwrap();
    }
    let dir = org.management.dir.path();
    std::fs::write(
        dir.join("org.toml"),
        format!("version = 1\n[organization]\n[[targets]]\naccounts = [\"{}\"]\nspecs = [\"roles.toml\"]\n", big.id),
    )
    .unwrap();
    std::fs::write(
        dir.join("roles.toml"),
        "version = 1\n[roles.deploy]\ntrust = { accounts = [\"${account.id}\"] }\npolicies = [\"ReadOnlyAccess\"]\n",
    )
    .unwrap();
    let proxy = Proxy::start(&org.management.endpoint);
    org.management
        .run_via(&proxy.url, &["plan", "org.toml"])
        .expect(0);
    let reads = proxy.params("GetAccountAuthorizationDetails");
    assert_eq!(reads.len(), 1, "{reads:?}");
    let filters: BTreeSet<&str> = reads[0]
        .iter()
        .filter(|(k, _)| k.starts_with("Filter"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(filters, BTreeSet::from(["Role", "LocalManagedPolicy"]));
    let actions = proxy.actions();
    assert!(
        !actions.iter().any(|a| a.contains("CredentialReport")),
        "{actions:?}"
    );
    // A prune reads everything, as it must to delete.
    proxy.clear();
    org.management
        .run_via(&proxy.url, &["plan", "org.toml", "--prune"])
        .expect(0);
    let reads = proxy.params("GetAccountAuthorizationDetails");
    let kinds = reads[0]
        .iter()
        .filter(|(k, _)| k.starts_with("Filter"))
        .count();
    assert_eq!(kinds, 4, "{reads:?}");
}

#[test]
fn a_layer_validated_alone_says_to_validate_its_organization() {
    let dir = tempfile::tempdir().unwrap();
    let layer = support::write_temp(
        dir.path(),
        "vars.toml",
        "version = 1\n[roles.r]\ntrust = { accounts = [\"${account.id}\"] }\n",
    );
    let run = Run::from(
        support::iamspec(&["validate", layer.to_str().unwrap()], dir.path())
            .output()
            .unwrap(),
    )
    .expect(1);
    assert!(
        run.stderr
            .contains("filled in only through the organization file"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn two_applies_of_one_organization_at_once_take_turns_per_account() {
    let org = organization().await;
    let proxy = Proxy::with(
        &org.management.endpoint,
        Behaviour {
            latency: Duration::from_millis(30),
            ..Behaviour::default()
        },
    );
    let first = org
        .management
        .spawn_via(&proxy.url, &["apply", "org.toml", "--yes"]);
    let second = org
        .management
        .spawn_via(&proxy.url, &["apply", "org.toml", "--yes"]);
    for child in [first, second] {
        Run::from(child.wait_with_output().unwrap()).expect(0);
    }
    // Each account's changes were made once: no create met what the other apply made.
    let creates = proxy
        .actions()
        .iter()
        .filter(|a| *a == "CreateGroup")
        .count();
    assert_eq!(creates, 4, "{:?}", proxy.actions());
    assert_eq!(
        proxy
            .actions()
            .iter()
            .filter(|a| *a == "CreateAccessKey")
            .count(),
        1
    );
    org.run(&["plan", "org.toml", "--detailed-exitcode"])
        .expect(0);
}

#[tokio::test]
async fn can_answers_for_an_account_chosen_by_ou_and_tag() {
    let org = organization().await;
    // prod-a gets the prod layer (by OU and tag): koding-user in the baseline's Developers.
    let run = org
        .run(&[
            "can",
            "org.toml",
            "--account",
            "prod-a",
            "user/koding-user",
            "ec2:RunInstances",
            "--json",
        ])
        .expect(0);
    let answer: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(answer["decision"], "allowed", "{answer}");
    assert_eq!(
        answer["statements"][0]["policy"],
        "AWS-managed policy `AmazonEC2FullAccess`"
    );
    // dev has no such user: its layers do not declare one.
    let dev = org
        .run(&[
            "can",
            "org.toml",
            "--account",
            "dev",
            "user/koding-user",
            "ec2:RunInstances",
        ])
        .expect(1);
    assert!(
        dev.stderr.contains("the spec has no user `koding-user`"),
        "{}",
        dev.stderr
    );
    let who = org
        .run(&[
            "who-can",
            "org.toml",
            "--account",
            org.id("prod-a"),
            "sts:AssumeRole",
            "*",
        ])
        .expect(0);
    assert!(
        who.stdout.contains("principals may call sts:AssumeRole"),
        "{}",
        who.stdout
    );
}
