//! Credentials over time on the local endpoint: a key with `max_age = "2s", overlap = "2s"`
//! goes through create, rotate, deactivate and delete over successive applies, one step a
//! plan, with exactly one secret file per live key and never three keys; console passwords,
//! the MFA policy, the account alias and the password policy are created, shown and
//! idempotent; `iamspec credentials` reads the endpoint's credential report.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use support::Account;

/// The key ids the secret files in `secrets/` hold, one per file.
fn secret_files(account: &Account) -> Vec<String> {
    let dir = account.dir.path().join("secrets");
    let mut ids: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .map(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            text.lines()
                .nth(1)
                .unwrap()
                .split(',')
                .nth(1)
                .unwrap()
                .to_owned()
        })
        .collect();
    ids.sort();
    ids
}

/// Plans, expects exactly one change and that it says `step`, applies it, and checks the
/// promises: at most two keys, one secret file per live key.
async fn step(account: &Account, spec: &str, step: &str) -> Vec<(String, bool)> {
    let plan = account.run(&["plan", spec, "--json"]).expect(0);
    let json: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let changes: Vec<&serde_json::Value> = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["op"] != "create_user")
        .collect();
    assert_eq!(changes.len(), 1, "one step a plan: {}", plan.stdout);
    assert_eq!(changes[0]["op"], step, "{}", plan.stdout);
    if step != "create_access_key" || changes[0]["rotates"].is_string() {
        assert!(
            changes[0]["reason"].as_str().unwrap().contains("next:"),
            "{}",
            plan.stdout
        );
    }
    account.run(&["apply", spec, "--yes"]).expect(0);
    let live = account.keys("koding-user").await;
    assert!(live.len() <= 2, "{live:?}");
    let mut ids: Vec<String> = live.iter().map(|(id, _)| id.clone()).collect();
    ids.sort();
    assert_eq!(secret_files(account), ids, "one secret file per live key");
    live
}

#[tokio::test]
async fn a_key_goes_through_rotation_over_successive_applies() {
    let account = Account::new().await;
    let spec = account.spec(
        "rotating.toml",
        "version = 1\n[users.koding-user]\naccess_key = { max_age = \"2s\", overlap = \"2s\" }\n",
    );
    let spec = spec.to_str().unwrap();
    let wait = || tokio::time::sleep(Duration::from_millis(2500));

    let created = step(&account, spec, "create_access_key").await;
    let [(first, true)] = created.as_slice() else {
        panic!("{created:?}");
    };
    wait().await;
    let rotated = step(&account, spec, "create_access_key").await;
    assert_eq!(rotated.len(), 2);
    assert!(
        rotated.iter().all(|(_, active)| *active),
        "both work in the overlap"
    );
    let second = rotated
        .iter()
        .find(|(id, _)| id != first)
        .unwrap()
        .0
        .clone();
    wait().await;
    let deactivated = step(&account, spec, "update_access_key").await;
    assert!(
        deactivated.contains(&(first.clone(), false)),
        "{deactivated:?}"
    );
    assert!(deactivated.contains(&(second.clone(), true)));
    wait().await;
    let deleted = step(&account, spec, "delete_access_key").await;
    assert_eq!(deleted, [(second.clone(), true)]);
    // And round again: the second key is due now.
    let again = account.run(&["plan", spec]).expect(0);
    assert!(
        again.stdout.contains(&format!("to replace {second}")),
        "{}",
        again.stdout
    );
}

/// A key someone makes through the endpoint beside the declared one is never deactivated or
/// deleted by the rotation (it is drift, with its age and status); which key iamspec made is
/// read from IAM (the mark on the user), so the rotation resumes on a machine with no secrets
/// directory of its own.
#[tokio::test]
async fn a_rotation_never_retires_a_key_made_by_hand_and_resumes_on_a_fresh_runner() {
    let account = Account::new().await;
    let iam = account.iam();
    let spec = account.spec(
        "rotating.toml",
        "version = 1\n[users.koding-user]\naccess_key = { max_age = \"2s\", overlap = \"2s\" }\n",
    );
    let spec = spec.to_str().unwrap();
    account.run(&["apply", spec, "--yes"]).expect(0);
    let (mine, _) = account.only_key("koding-user").await;
    let tags = iam
        .list_user_tags()
        .user_name("koding-user")
        .send()
        .await
        .unwrap();
    assert!(
        tags.tags()
            .iter()
            .any(|t| t.key() == mine && t.value() == "made by iamspec"),
        "{tags:?}"
    );
    let hand = iam
        .create_access_key()
        .user_name("koding-user")
        .send()
        .await
        .unwrap()
        .access_key()
        .unwrap()
        .access_key_id()
        .to_owned();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let plan = account.run(&["plan", spec, "--list-keys"]).expect(0);
    assert!(plan.stdout.starts_with("No changes."), "{}", plan.stdout);
    assert!(
        plan.stdout.contains(&format!("user koding-user has active access key {hand}, 0 days old, which iamspec did not make or does not declare")),
        "{}",
        plan.stdout
    );
    account
        .run(&["apply", spec, "--yes", "--list-keys"])
        .expect(0);
    let mut keys = account.keys("koding-user").await;
    keys.sort();
    let mut expected = vec![(mine.clone(), true), (hand.clone(), true)];
    expected.sort();
    assert_eq!(keys, expected, "the hand-made key is untouched");

    // Its owner deletes it; a fresh runner (no secrets directory) picks the rotation up.
    iam.delete_access_key()
        .user_name("koding-user")
        .access_key_id(&hand)
        .send()
        .await
        .unwrap();
    std::fs::rename(
        account.dir.path().join("secrets"),
        account.dir.path().join("old-secrets"),
    )
    .unwrap();
    let resumed = account.run(&["plan", spec]).expect(0);
    assert!(
        resumed.stdout.contains(&format!("to replace {mine}")),
        "{}",
        resumed.stdout
    );
}

const SETTINGS: &str = r#"version = 1

[account]
alias = "koding-iamspec"

[account.password_policy]
min_length = 16
require_symbols = true
require_numbers = true
require_uppercase = true
require_lowercase = true
allow_users_to_change = true
max_age_days = 90
reuse_prevention = 24

[groups.Developers]
policies = ["AmazonEC2FullAccess", "IAMReadOnlyAccess"]
require_mfa = true

[users.koding-user]
groups = ["Developers"]
access_key = true
console = true
"#;

#[tokio::test]
async fn console_mfa_alias_and_password_policy_are_made_shown_and_idempotent() {
    let account = Account::new().await;
    let spec = account.spec("settings.toml", SETTINGS);
    let spec = spec.to_str().unwrap();
    let plan = account.run(&["plan", spec]).expect(0);
    for shown in [
        "set account alias koding-iamspec",
        "set the account password policy: at least 16 characters",
        "create policy iamspec-require-mfa",
        "aws:MultiFactorAuthPresent",
        "create console password for user koding-user, to be changed at first sign-in at https://koding-iamspec.signin.aws.amazon.com/console",
        "user koding-user can sign in to the console with a password alone",
    ] {
        assert!(
            plan.stdout.contains(shown) || plan.stderr.contains(shown),
            "{shown}:\n{}\n{}",
            plan.stdout,
            plan.stderr
        );
    }
    let applied = account.run(&["apply", spec, "--yes"]).expect(0);
    assert!(
        applied.stdout.contains("password saved to"),
        "{}",
        applied.stdout
    );
    let again = account
        .run(&["plan", spec, "--detailed-exitcode"])
        .expect(0);
    assert!(again.stdout.starts_with("No changes."), "{}", again.stdout);

    let file = account.dir.path().join("secrets/passwords/koding-user.csv");
    let text = std::fs::read_to_string(&file).unwrap();
    let row: Vec<&str> = text.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(row[0], "koding-user");
    assert!(row[1].len() >= 20, "{}", row[1].len());
    assert_eq!(
        row[2],
        "https://koding-iamspec.signin.aws.amazon.com/console"
    );
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    for output in [&plan.stdout, &plan.stderr, &applied.stdout, &applied.stderr] {
        assert!(!output.contains(row[1]), "the password is never printed");
    }

    let iam = account.iam();
    iam.get_login_profile()
        .user_name("koding-user")
        .send()
        .await
        .unwrap();
    let aliases = iam.list_account_aliases().send().await.unwrap();
    assert_eq!(aliases.account_aliases(), ["koding-iamspec"]);
    let policy = iam.get_account_password_policy().send().await.unwrap();
    let policy = policy.password_policy().unwrap();
    assert_eq!(policy.minimum_password_length(), Some(16));
    assert_eq!(policy.password_reuse_prevention(), Some(24));
    let attached = iam
        .list_attached_group_policies()
        .group_name("Developers")
        .send()
        .await
        .unwrap();
    assert!(
        attached
            .attached_policies()
            .iter()
            .any(|p| p.policy_name() == Some("iamspec-require-mfa"))
    );
}

#[tokio::test]
async fn the_credentials_report_reads_the_endpoints_report_and_marks_broken_rules() {
    let account = Account::new().await;
    let spec = account.spec(
        "aging.toml",
        "version = 1\n[users.koding-user]\naccess_key = { max_age = \"1s\" }\nconsole = true\n",
    );
    let spec = spec.to_str().unwrap();
    account.run(&["apply", spec, "--yes"]).expect(0);
    tokio::time::sleep(Duration::from_millis(2100)).await;

    let table = account.run(&["credentials", spec]).expect(0);
    assert!(table.stdout.starts_with("USER"), "{}", table.stdout);
    assert!(table.stdout.contains("koding-user"), "{}", table.stdout);
    assert!(table.stdout.contains("active,"), "{}", table.stdout);
    assert!(
        table.stdout.contains("past its max_age of 1 second"),
        "{}",
        table.stdout
    );
    assert!(
        table.stdout.contains("console password without MFA"),
        "{}",
        table.stdout
    );

    let json = account
        .run(&["credentials", spec, "--json", "--detailed-exitcode"])
        .expect(2);
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let row = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["user"] == "koding-user")
        .unwrap();
    assert_eq!(row["keys"][0]["active"], true);
    assert!(row["password"].is_object(), "{row}");
    assert_eq!(row["mfa"], false);

    // Without a spec, only the rules every account keeps: the password still lacks MFA.
    let bare = account
        .run(&["credentials", "--detailed-exitcode"])
        .expect(2);
    assert!(!bare.stdout.contains("max_age"), "{}", bare.stdout);
}

#[tokio::test]
async fn export_writes_the_settings_and_console_false_is_pruned() {
    let account = Account::new().await;
    let spec = account.spec("settings.toml", SETTINGS);
    account
        .run(&["apply", spec.to_str().unwrap(), "--yes"])
        .expect(0);
    let iam = account.iam();
    // Export writes the console password and the account settings, and plans nothing.
    account.run(&["export", "--out", "exported"]).expect(0);
    let exported = account.dir.path().join("exported/spec.toml");
    let text = std::fs::read_to_string(&exported).unwrap();
    for line in [
        "console = true",
        "access_key = true",
        "alias = \"koding-iamspec\"",
        "[account.password_policy]",
        "min_length = 16",
        "reuse_prevention = 24",
        "require_mfa = true",
    ] {
        assert!(text.contains(line), "{line}:\n{text}");
    }
    assert!(
        !text.contains("[policies."),
        "the MFA policy is require_mfa: {text}"
    );
    let replan = account
        .run(&["plan", exported.to_str().unwrap(), "--detailed-exitcode"])
        .expect(0);
    assert!(
        replan.stdout.starts_with("No changes."),
        "{}",
        replan.stdout
    );

    // console = false: the password is drift, and a prune removes it.
    let off = account.spec(
        "off.toml",
        &SETTINGS.replace("console = true", "console = false"),
    );
    let off = off.to_str().unwrap();
    let drift = account.run(&["plan", off]).expect(0);
    assert!(
        drift
            .stdout
            .contains("user koding-user has a console password, and the spec says console = false"),
        "{}",
        drift.stdout
    );
    account.run(&["apply", off, "--prune", "--yes"]).expect(0);
    assert!(
        iam.get_login_profile()
            .user_name("koding-user")
            .send()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_console_password_needs_a_private_secrets_directory_before_any_change() {
    let account = Account::new().await;
    let spec = account.spec(
        "console.toml",
        "version = 1\n[users.koding-user]\nconsole = true\n",
    );
    let open = account.dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
    let refused = account
        .run(&[
            "apply",
            spec.to_str().unwrap(),
            "--yes",
            "--secrets-dir",
            open.to_str().unwrap(),
        ])
        .expect(1);
    assert!(
        refused.stderr.contains("can be read by others"),
        "{}",
        refused.stderr
    );
    let users = account.iam().list_users().send().await.unwrap();
    assert!(users.users().is_empty(), "nothing was changed");
}
