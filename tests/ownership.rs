//! Ownership without a state file: what iamspec creates carries `iamspec:owner`; an entity the
//! spec names that exists untagged is adopted; owned entities that leave the spec are drift;
//! entities that are not the spec's are never mentioned.

mod support;

use std::collections::BTreeMap;

use support::Account;

async fn user_tags(account: &Account, user: &str) -> BTreeMap<String, String> {
    let tags = account
        .iam()
        .list_user_tags()
        .user_name(user)
        .send()
        .await
        .unwrap();
    tags.tags()
        .iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect()
}

#[tokio::test]
async fn what_iamspec_creates_is_tagged_with_its_owner() {
    let account = Account::new().await;
    let spec = support::repo_spec("koding-stack.toml");
    account
        .run(&["apply", spec.to_str().unwrap(), "--yes"])
        .expect(0);
    assert_eq!(
        user_tags(&account, "koding-user").await["iamspec:owner"],
        "iamspec"
    );
    let tags = account
        .iam()
        .list_policy_tags()
        .policy_arn(format!("arn:aws:iam::{}:policy/StackBuilder", account.id))
        .send()
        .await
        .unwrap();
    let tags: Vec<(&str, &str)> = tags.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(tags, [("iamspec:owner", "iamspec")]);
}

#[tokio::test]
async fn an_existing_user_is_adopted_and_the_plan_says_so() {
    let account = Account::new().await;
    let iam = account.iam();
    iam.create_user()
        .user_name("koding-user")
        .send()
        .await
        .unwrap();
    // Someone else's user in the same account.
    iam.create_user()
        .user_name("stranger")
        .send()
        .await
        .unwrap();
    let spec = account.spec(
        "spec.toml",
        "version = 1\n[account]\nowner = \"platform\"\n[users.koding-user]\n",
    );
    let spec = spec.to_str().unwrap();
    let plan = account.run(&["plan", spec]).expect(0);
    assert_eq!(
        plan.stdout,
        format!(
            "iamspec will make these changes in account {}:\n\n  \
             ~ tag user koding-user with iamspec:owner = \"platform\" (adopt: it exists without the iamspec:owner tag, and becomes owned by platform)\n\n\
             Plan: 0 to add, 1 to change, 0 to remove.\n",
            account.id
        )
    );
    account.run(&["apply", spec, "--yes"]).expect(0);
    assert_eq!(
        user_tags(&account, "koding-user").await["iamspec:owner"],
        "platform"
    );
    assert!(
        user_tags(&account, "stranger").await.is_empty(),
        "the stranger is untouched"
    );

    // Leaving the spec makes it drift; the stranger is never mentioned.
    let empty = account.spec(
        "empty.toml",
        "version = 1\n[account]\nowner = \"platform\"\n",
    );
    let plan = account
        .run(&["plan", empty.to_str().unwrap(), "--json"])
        .expect(0);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    assert_eq!(
        plan["drift"],
        serde_json::json!([{"kind": "not_in_spec", "entity": "user", "name": "koding-user"}])
    );

    // Another spec's owner does not take it over.
    let other = account.spec(
        "other.toml",
        "version = 1\n[account]\nowner = \"billing\"\n[users.koding-user]\n",
    );
    let refused = account.run(&["plan", other.to_str().unwrap()]).expect(1);
    assert!(
        refused.stderr.contains("user `koding-user` is owned by `platform` (its iamspec:owner tag), not by this spec's `billing`"),
        "{}",
        refused.stderr
    );
}
