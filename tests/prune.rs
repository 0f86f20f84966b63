//! `--prune`: drift becomes changes, owned entities that left the spec are deleted with all
//! that IAM requires gone first, and nothing else is touched: not another owner's or an
//! unowned entity, not the caller's own user or key; `--max-deletes` stops a mass deletion.

mod support;

use aws_sdk_iam::types::Tag;
use support::proxy::Proxy;
use support::{Account, Run};

const SPEC: &str = r#"version = 1
[groups.Developers]
policies = ["IAMReadOnlyAccess"]
[users.koding-user]
groups = ["Developers"]
access_key = true
[users.leaver]
groups = ["Developers"]
access_key = true
inline = { own = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "sqs:SendMessage", Resource = "*" }] } }
"#;

async fn users(account: &Account) -> Vec<String> {
    let out = account.iam().list_users().send().await.unwrap();
    let mut names: Vec<String> = out
        .users()
        .iter()
        .map(|u| u.user_name().to_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn drift_is_removed_with_prune_and_only_reported_without() {
    let account = Account::new().await;
    let spec = account.spec("spec.toml", SPEC);
    let spec = spec.to_str().unwrap();
    account.run(&["apply", spec, "--yes"]).expect(0);
    let iam = account.iam();
    iam.attach_group_policy()
        .group_name("Developers")
        .policy_arn("arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
        .send()
        .await
        .unwrap();
    iam.create_group()
        .group_name("Admins")
        .send()
        .await
        .unwrap();
    iam.add_user_to_group()
        .group_name("Admins")
        .user_name("koding-user")
        .send()
        .await
        .unwrap();
    iam.tag_user()
        .user_name("koding-user")
        .tags(Tag::builder().key("owner").value("bob").build().unwrap())
        .send()
        .await
        .unwrap();
    iam.create_access_key()
        .user_name("koding-user")
        .send()
        .await
        .unwrap();

    let plain = account
        .run(&["plan", spec, "--detailed-exitcode"])
        .expect(0);
    assert!(
        plain.stdout.contains("Drift: the account has 4 things"),
        "{}",
        plain.stdout
    );

    let proxy = Proxy::start(&account.endpoint);
    let pruned = account
        .run_via(&proxy.url, &["apply", spec, "--yes", "--prune"])
        .expect(0);
    assert!(
        pruned
            .stdout
            .contains("Plan: 0 to add, 1 to change, 3 to remove."),
        "{}",
        pruned.stdout
    );
    let mut mutating = proxy.mutating();
    mutating.sort();
    // The prune's four changes, the deleted key's mark taken off, and the apply lock: made
    // and deleted.
    assert_eq!(
        mutating,
        [
            "CreatePolicy",
            "DeleteAccessKey",
            "DeletePolicy",
            "DetachGroupPolicy",
            "RemoveUserFromGroup",
            "UntagUser",
            "UntagUser"
        ]
    );
    let after = account
        .run(&["plan", spec, "--detailed-exitcode"])
        .expect(0);
    assert_eq!(
        after.stdout,
        format!("No changes. The account {} matches the spec.\n", account.id)
    );
    let keys = iam
        .list_access_keys()
        .user_name("koding-user")
        .send()
        .await
        .unwrap();
    assert_eq!(
        keys.access_key_metadata().len(),
        1,
        "the declared key stays"
    );
}

#[tokio::test]
async fn a_user_that_leaves_the_spec_is_deleted_with_everything_it_had() {
    let account = Account::new().await;
    let spec = account.spec("spec.toml", SPEC);
    account
        .run(&["apply", spec.to_str().unwrap(), "--yes"])
        .expect(0);
    let iam = account.iam();
    iam.create_user()
        .user_name("stranger")
        .send()
        .await
        .unwrap();
    iam.create_login_profile()
        .user_name("leaver")
        .password("Correct-Horse-9")
        .send()
        .await
        .unwrap();

    let without = account.spec(
        "spec.toml",
        &SPEC
            .replace("[users.leaver]", "[users.leaver-gone]")
            .replace(
                "[users.leaver-gone]\ngroups = [\"Developers\"]\naccess_key = true\ninline",
                "[users.leaver-gone]\ninline",
            ),
    );
    let without = without.to_str().unwrap();
    let drift = account.run(&["plan", without, "--json"]).expect(0);
    let drift: serde_json::Value = serde_json::from_str(&drift.stdout).unwrap();
    assert!(
        drift["drift"].as_array().unwrap().contains(
            &serde_json::json!({"kind": "not_in_spec", "entity": "user", "name": "leaver"})
        ),
        "{drift}"
    );

    let proxy = Proxy::start(&account.endpoint);
    let run = account
        .run_via(&proxy.url, &["apply", without, "--yes", "--prune"])
        .expect(0);
    assert!(
        run.stdout
            .contains("  - delete user leaver (prune: user leaver is no longer in the spec)\n"),
        "{}",
        run.stdout
    );
    let mutating = proxy.mutating();
    let position = |action: &str| {
        mutating
            .iter()
            .position(|a| a == action)
            .unwrap_or_else(|| panic!("{action} in {mutating:?}"))
    };
    for before in [
        "DeleteAccessKey",
        "DeleteLoginProfile",
        "DeleteUserPolicy",
        "RemoveUserFromGroup",
    ] {
        assert!(
            position(before) < position("DeleteUser"),
            "{before} must come before DeleteUser: {mutating:?}"
        );
    }
    assert_eq!(
        users(&account).await,
        ["koding-user", "leaver-gone", "stranger"]
    );
    account
        .run(&["plan", without, "--prune", "--detailed-exitcode"])
        .expect(0);
}

#[tokio::test]
async fn max_deletes_refuses_a_mass_deletion() {
    let account = Account::new().await;
    let spec = account.spec("spec.toml", SPEC);
    account
        .run(&["apply", spec.to_str().unwrap(), "--yes"])
        .expect(0);
    let empty = account.spec("empty.toml", "version = 1\n");
    let proxy = Proxy::start(&account.endpoint);
    let run = account
        .run_via(
            &proxy.url,
            &[
                "apply",
                empty.to_str().unwrap(),
                "--yes",
                "--prune",
                "--max-deletes",
                "1",
            ],
        )
        .expect(1);
    assert!(
        run.stdout.contains("  - delete user leaver"),
        "the plan is shown: {}",
        run.stdout
    );
    assert_eq!(
        run.stderr,
        "error: the plan deletes 2 users, groups, policies, roles, instance profiles and providers, more than --max-deletes 1 allows: check that the spec names everything it should, then raise --max-deletes to go ahead\n"
    );
    assert_eq!(proxy.mutating(), Vec::<String>::new());
    assert_eq!(users(&account).await, ["koding-user", "leaver"]);
}

#[tokio::test]
async fn the_callers_own_user_and_key_are_never_pruned() {
    let account = Account::new().await;
    let iam = account.iam();
    iam.create_user()
        .user_name("deployer")
        .tags(
            Tag::builder()
                .key("iamspec:owner")
                .value("iamspec")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let key = iam
        .create_access_key()
        .user_name("deployer")
        .send()
        .await
        .unwrap();
    let key = key.access_key().unwrap();
    let spec = account.spec("spec.toml", "version = 1\n[users.koding-user]\n");
    let mut command = account.command(&["apply", spec.to_str().unwrap(), "--yes", "--prune"]);
    command
        .env("AWS_ACCESS_KEY_ID", key.access_key_id())
        .env("AWS_SECRET_ACCESS_KEY", key.secret_access_key())
        .env_remove("AWS_SESSION_TOKEN");
    let run = Run::from(command.output().unwrap()).expect(0);
    assert!(
        run.stdout
            .contains("Never touched:\n\n  = user deployer: it is the caller\n"),
        "{}",
        run.stdout
    );
    assert_eq!(users(&account).await, ["deployer", "koding-user"]);
}
