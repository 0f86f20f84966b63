//! Customer-managed and inline policies on the local endpoint: created from files and tables,
//! read back, changed with a readable diff, versioned within IAM's limit of five, and never
//! changed for a difference that is only order or format.

mod support;

use std::collections::BTreeSet;

use serde_json::{Value, json};
use support::Account;

fn document(version: u32) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Artifacts", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": format!("arn:aws:s3:::stacks-{version}/*")},
            {"Sid": "Logs", "Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}
        ]
    })
}

const SPEC: &str = r#"version = 1
[policies.StackBuilder]
description = "What Koding stacks need beyond EC2"
path = "/koding/"
document = "stack-builder.json"

[groups.Developers]
policies = ["IAMReadOnlyAccess", "StackBuilder"]
inline = { deploy = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "iam:PassRole", Resource = "arn:aws:iam::*:role/stack-*" }] } }

[users.koding-user]
groups = ["Developers"]
inline = { own = "own.json" }
"#;

fn own(action: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]})
}

/// Writes the spec and its JSON files into the account's directory.
fn write(account: &Account, stack: &Value, own_doc: &Value) -> String {
    let dir = account.dir.path();
    std::fs::write(
        dir.join("stack-builder.json"),
        serde_json::to_string_pretty(stack).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.join("own.json"), own_doc.to_string()).unwrap();
    account.spec("spec.toml", SPEC).display().to_string()
}

fn apply(account: &Account, spec: &str) -> String {
    account.run(&["apply", spec, "--yes"]).expect(0).stdout
}

fn arn(account: &Account) -> String {
    format!("arn:aws:iam::{}:policy/koding/StackBuilder", account.id)
}

/// The default version's document, as IAM keeps it.
async fn default_document(account: &Account) -> (String, Value, usize) {
    let iam = account.iam();
    let policy = iam
        .get_policy()
        .policy_arn(arn(account))
        .send()
        .await
        .unwrap();
    let version_id = policy
        .policy()
        .unwrap()
        .default_version_id()
        .unwrap()
        .to_owned();
    let version = iam
        .get_policy_version()
        .policy_arn(arn(account))
        .version_id(&version_id)
        .send()
        .await
        .unwrap();
    let text = version.policy_version().unwrap().document().unwrap();
    let versions = iam
        .list_policy_versions()
        .policy_arn(arn(account))
        .send()
        .await
        .unwrap()
        .versions()
        .len();
    (
        version_id,
        iamspec::document::decode(text).unwrap(),
        versions,
    )
}

/// The user's inline policy `own`, as IAM keeps it.
async fn own_policy(account: &Account) -> Value {
    let policy = account
        .iam()
        .get_user_policy()
        .user_name("koding-user")
        .policy_name("own")
        .send()
        .await
        .unwrap();
    iamspec::document::decode(policy.policy_document()).unwrap()
}

#[tokio::test]
async fn policies_from_files_and_tables_are_created_attached_and_read_back() {
    let account = Account::new().await;
    let spec = write(&account, &document(1), &own("sqs:SendMessage"));
    let out = apply(&account, &spec);
    assert!(out.contains("  + create policy StackBuilder at path /koding/ described \"What Koding stacks need beyond EC2\"\n"), "{out}");
    assert!(
        out.contains("  + put inline policy deploy of group Developers\n"),
        "{out}"
    );

    let iam = account.iam();
    let policy = iam
        .get_policy()
        .policy_arn(arn(&account))
        .send()
        .await
        .unwrap();
    let policy = policy.policy().unwrap();
    assert_eq!(
        policy.description(),
        Some("What Koding stacks need beyond EC2")
    );
    assert_eq!(policy.path(), Some("/koding/"));
    let (_, live, versions) = default_document(&account).await;
    assert_eq!(live, document(1));
    assert_eq!(versions, 1);

    let attached: BTreeSet<String> = iam
        .list_attached_group_policies()
        .group_name("Developers")
        .send()
        .await
        .unwrap()
        .attached_policies()
        .iter()
        .map(|p| p.policy_arn().unwrap().to_owned())
        .collect();
    assert_eq!(
        attached,
        BTreeSet::from([
            "arn:aws:iam::aws:policy/IAMReadOnlyAccess".to_owned(),
            arn(&account)
        ])
    );
    let inline = iam
        .get_group_policy()
        .group_name("Developers")
        .policy_name("deploy")
        .send()
        .await
        .unwrap();
    let inline = iamspec::document::decode(inline.policy_document()).unwrap();
    assert_eq!(inline["Statement"][0]["Action"], "iam:PassRole");
    assert_eq!(own_policy(&account).await, own("sqs:SendMessage"));

    account
        .run(&["plan", &spec, "--detailed-exitcode"])
        .expect(0);
}

#[tokio::test]
async fn a_changed_document_is_shown_as_a_diff_and_becomes_the_default_version() {
    let account = Account::new().await;
    let spec = write(&account, &document(1), &own("sqs:SendMessage"));
    apply(&account, &spec);
    let (first_version, _, _) = default_document(&account).await;

    write(&account, &document(2), &own("sqs:ReceiveMessage"));
    let plan = account
        .run(&["plan", &spec, "--detailed-exitcode"])
        .expect(2);
    assert!(
        plan.stdout.contains(
            "  ~ update policy koding/StackBuilder with a new default version\n      --- live\n      +++ spec\n"
        ),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("      -        \"arn:aws:s3:::stacks-1/*\"\n      +        \"arn:aws:s3:::stacks-2/*\"\n"), "{}", plan.stdout);
    assert!(
        plan.stdout
            .contains("  ~ update inline policy own of user koding-user\n"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains(
            "      -        \"sqs:SendMessage\"\n      +        \"sqs:ReceiveMessage\"\n"
        ),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("Plan: 0 to add, 2 to change, 0 to remove."),
        "{}",
        plan.stdout
    );

    let json = account.run(&["plan", &spec, "--json"]).expect(0);
    let json: Value = serde_json::from_str(&json.stdout).unwrap();
    let change = &json["changes"][0];
    assert_eq!(change["op"], "create_policy_version");
    let artifacts = |document: &Value| {
        document["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == "Artifacts")
            .unwrap()["Resource"]
            .clone()
    };
    assert_eq!(
        artifacts(&change["before"]),
        json!(["arn:aws:s3:::stacks-1/*"])
    );
    assert_eq!(
        artifacts(&change["after"]),
        json!(["arn:aws:s3:::stacks-2/*"])
    );

    apply(&account, &spec);
    let (new_version, live, versions) = default_document(&account).await;
    assert_ne!(new_version, first_version);
    assert_eq!(live, document(2));
    assert_eq!(versions, 2);
    assert_eq!(own_policy(&account).await, own("sqs:ReceiveMessage"));
    account
        .run(&["plan", &spec, "--detailed-exitcode"])
        .expect(0);
}

#[tokio::test]
async fn six_changes_keep_at_most_five_versions() {
    let account = Account::new().await;
    let spec = write(&account, &document(0), &own("sqs:SendMessage"));
    apply(&account, &spec);
    for version in 1..=6 {
        write(&account, &document(version), &own("sqs:SendMessage"));
        apply(&account, &spec);
        let (_, live, versions) = default_document(&account).await;
        assert_eq!(live, document(version));
        assert!(versions <= 5, "{versions} versions after change {version}");
    }
    let (_, _, versions) = default_document(&account).await;
    assert_eq!(versions, 5);

    // At five versions a change is two changes, two calls, and --stats counts both exactly
    // as the endpoint received them.
    write(&account, &document(7), &own("sqs:SendMessage"));
    let proxy = support::proxy::Proxy::start(&account.endpoint);
    let run = account
        .run_via(&proxy.url, &["apply", &spec, "--yes", "--stats"])
        .expect(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    let update = lines
        .iter()
        .position(|l| *l == "  ~ update policy koding/StackBuilder with a new default version")
        .unwrap_or_else(|| panic!("{}", run.stdout));
    assert!(
        lines[update - 1].starts_with("  - delete version v")
            && lines[update - 1].ends_with(" of policy koding/StackBuilder (IAM keeps five versions of a policy: the oldest makes room for the new one)"),
        "{}",
        run.stdout
    );
    let sent = |action: &str| proxy.actions().iter().filter(|a| *a == action).count();
    assert_eq!(
        (sent("DeletePolicyVersion"), sent("CreatePolicyVersion")),
        (1, 1)
    );
    let total = proxy.actions().len();
    // After the linter's warnings on the test's documents (`resource-star`).
    let stats = run
        .stderr
        .lines()
        .find(|l| l.starts_with("API calls:"))
        .unwrap_or_else(|| panic!("{}", run.stderr));
    assert!(
        stats.starts_with(&format!("API calls: {total} (")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("CreatePolicyVersion 1, DeletePolicy 1, DeletePolicyVersion 1"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn reordering_and_reformatting_plan_nothing() {
    let account = Account::new().await;
    let spec = write(&account, &document(1), &own("sqs:SendMessage"));
    apply(&account, &spec);
    let reordered = json!({
        "Statement": [
            {"Resource": ["*"], "Action": ["logs:PutLogEvents"], "Effect": "Allow", "Sid": "Logs"},
            {"Effect": "Allow", "Sid": "Artifacts", "Resource": ["arn:aws:s3:::stacks-1/*"], "Action": ["s3:PutObject", "s3:GetObject", "s3:GetObject"]}
        ],
        "Version": "2012-10-17"
    });
    write(
        &account,
        &reordered,
        &json!({"Statement": {"Resource": "*", "Action": ["sqs:SendMessage"], "Effect": "Allow"}, "Version": "2012-10-17"}),
    );
    let plan = account
        .run(&["plan", &spec, "--detailed-exitcode"])
        .expect(0);
    assert!(plan.stdout.starts_with("No changes."), "{}", plan.stdout);
}

#[tokio::test]
async fn a_new_description_replaces_the_policy_and_keeps_every_attachment() {
    let account = Account::new().await;
    let spec = write(&account, &document(1), &own("sqs:SendMessage"));
    apply(&account, &spec);
    // Someone outside the spec uses the policy too.
    let iam = account.iam();
    iam.create_user()
        .user_name("outsider")
        .send()
        .await
        .unwrap();
    iam.attach_user_policy()
        .user_name("outsider")
        .policy_arn(arn(&account))
        .send()
        .await
        .unwrap();

    account.spec(
        "spec.toml",
        &SPEC.replace("beyond EC2", "beyond EC2, and logs"),
    );
    let out = apply(&account, &spec);
    assert!(
        out.contains("Plan: 3 to add, 0 to change, 3 to remove."),
        "{out}"
    );
    assert!(
        out.contains("(replace: its description changes, which IAM cannot update in place)"),
        "{out}"
    );
    let policy = iam
        .get_policy()
        .policy_arn(arn(&account))
        .send()
        .await
        .unwrap();
    assert_eq!(
        policy.policy().unwrap().description(),
        Some("What Koding stacks need beyond EC2, and logs")
    );
    let outsider = iam
        .list_attached_user_policies()
        .user_name("outsider")
        .send()
        .await
        .unwrap();
    assert_eq!(
        outsider.attached_policies()[0].policy_arn(),
        Some(arn(&account).as_str())
    );
    account
        .run(&["plan", &spec, "--detailed-exitcode"])
        .expect(0);
}

#[tokio::test]
async fn the_stack_example_spec_applies_and_settles() {
    let account = Account::new().await;
    let spec = support::repo_spec("koding-stack.toml");
    let spec = spec.to_str().unwrap();
    let out = apply(&account, spec);
    assert!(out.contains("Apply complete: 12 changes made."), "{out}");
    account
        .run(&["plan", spec, "--detailed-exitcode"])
        .expect(0);
}
