//! The acceptance test of the product: the "Setup AWS IAM user" guide, made real on the local
//! IAM endpoint by the binary, read back call by call, reapplied, and repaired after changes
//! made behind its back.

mod support;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;

use support::proxy::{Behaviour, Proxy};
use support::{Account, Run};

const GUIDE_POLICIES: [&str; 4] = [
    "arn:aws:iam::aws:policy/AmazonEC2FullAccess",
    "arn:aws:iam::aws:policy/AmazonRoute53DomainsFullAccess",
    "arn:aws:iam::aws:policy/AmazonRoute53FullAccess",
    "arn:aws:iam::aws:policy/IAMReadOnlyAccess",
];

fn apply(account: &Account, spec: &str) -> Run {
    account
        .run(&["apply", spec, "--yes", "--secrets-dir", "secrets"])
        .expect(0)
}

async fn group_policies(account: &Account, group: &str) -> BTreeSet<String> {
    let attached = account
        .iam()
        .list_attached_group_policies()
        .group_name(group)
        .send()
        .await
        .unwrap();
    attached
        .attached_policies()
        .iter()
        .map(|p| p.policy_arn().unwrap().to_owned())
        .collect()
}

async fn active_keys(account: &Account, user: &str) -> Vec<String> {
    let keys = account.keys(user).await;
    keys.into_iter()
        .filter(|(_, active)| *active)
        .map(|(id, _)| id)
        .collect()
}

fn saved_key(account: &Account, user: &str) -> String {
    let path = account.dir.path().join(format!("secrets/{user}.csv"));
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{} must be private", path.display());
    let csv = std::fs::read_to_string(&path).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("User name,Access key ID,Secret access key,Account ID")
    );
    let row: Vec<&str> = lines.next().unwrap().split(',').collect();
    let [name, id, secret, account_id] = row[..] else {
        panic!("four columns: {row:?}");
    };
    assert_eq!((name, account_id), (user, account.id.as_str()));
    assert_eq!(secret.len(), 40, "a secret access key is 40 characters");
    id.to_owned()
}

#[tokio::test]
async fn the_route53_guide_is_built_exactly_and_read_back() {
    let account = Account::new().await;
    let spec = support::repo_spec("koding-route53.toml");
    let spec = spec.to_str().unwrap();
    let first = apply(&account, spec);
    assert!(
        first
            .stdout
            .contains("Plan: 8 to add, 0 to change, 0 to remove."),
        "{}",
        first.stdout
    );
    assert!(
        first.stdout.contains("Apply complete: 8 changes made."),
        "{}",
        first.stdout
    );

    let iam = account.iam();
    let group = iam
        .get_group()
        .group_name("Developers")
        .send()
        .await
        .unwrap();
    let members: Vec<&str> = group
        .users()
        .iter()
        .map(aws_sdk_iam::types::User::user_name)
        .collect();
    assert_eq!(members, ["koding-user"]);
    assert_eq!(
        group_policies(&account, "Developers").await,
        GUIDE_POLICIES.iter().map(|s| (*s).to_owned()).collect()
    );
    let user = iam
        .get_user()
        .user_name("koding-user")
        .send()
        .await
        .unwrap();
    let user = user.user().unwrap();
    assert_eq!(user.path(), "/");
    let tags: Vec<(&str, &str)> = user.tags().iter().map(|t| (t.key(), t.value())).collect();
    // The spec's tags, and the mark that says iamspec made its access key.
    let (key, _) = account.only_key("koding-user").await;
    assert_eq!(
        tags,
        [
            ("iamspec:owner", "iamspec"),
            ("team", "platform"),
            (key.as_str(), "made by iamspec")
        ]
    );
    let direct = iam
        .list_attached_user_policies()
        .user_name("koding-user")
        .send()
        .await
        .unwrap();
    assert!(direct.attached_policies().is_empty());
    let keys = active_keys(&account, "koding-user").await;
    assert_eq!(keys.len(), 1);
    assert_eq!(saved_key(&account, "koding-user"), keys[0]);
    let csv = std::fs::read_to_string(account.dir.path().join("secrets/koding-user.csv")).unwrap();
    let secret = csv.lines().nth(1).unwrap().split_once(',').unwrap().1;
    assert!(
        !first.stdout.contains(secret) && !first.stderr.contains(secret),
        "the secret must never be printed"
    );
    let ignore = std::fs::read_to_string(account.dir.path().join("secrets/.gitignore")).unwrap();
    assert_eq!(ignore, "*\n");
    let dir_mode = std::fs::metadata(account.dir.path().join("secrets"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o700);
}

#[tokio::test]
async fn the_guide_without_route53_is_the_two_policies() {
    let account = Account::new().await;
    let spec = support::repo_spec("koding.toml");
    apply(&account, spec.to_str().unwrap());
    assert_eq!(
        group_policies(&account, "Developers").await,
        BTreeSet::from([
            "arn:aws:iam::aws:policy/AmazonEC2FullAccess".to_owned(),
            "arn:aws:iam::aws:policy/IAMReadOnlyAccess".to_owned()
        ])
    );
    assert_eq!(active_keys(&account, "koding-user").await.len(), 1);
}

#[tokio::test]
async fn rerunning_plans_nothing_and_makes_no_mutating_call() {
    let account = Account::new().await;
    let spec = support::repo_spec("koding-route53.toml");
    let spec = spec.to_str().unwrap();
    let before = account
        .run(&["plan", spec, "--detailed-exitcode"])
        .expect(2);
    assert!(
        before.stdout.contains("Plan: 8 to add"),
        "{}",
        before.stdout
    );
    apply(&account, spec);

    let after = account
        .run(&["plan", spec, "--detailed-exitcode"])
        .expect(0);
    assert_eq!(
        after.stdout,
        format!("No changes. The account {} matches the spec.\n", account.id)
    );

    let proxy = Proxy::start(&account.endpoint);
    let again = account
        .run_via(
            &proxy.url,
            &["apply", spec, "--yes", "--secrets-dir", "secrets"],
        )
        .expect(0);
    assert!(again.stdout.starts_with("No changes."), "{}", again.stdout);
    assert!(
        proxy
            .actions()
            .contains(&"GetAccountAuthorizationDetails".to_owned()),
        "the proxy saw the reads: {:?}",
        proxy.actions()
    );
    assert_eq!(proxy.mutating(), Vec::<String>::new());
    assert_eq!(active_keys(&account, "koding-user").await.len(), 1);
}

#[tokio::test]
async fn a_plan_reads_the_account_in_a_few_calls_whatever_its_size() {
    let account = Account::new().await;
    let spec = support::repo_spec("koding-route53.toml");
    let spec = spec.to_str().unwrap();
    apply(&account, spec);
    let proxy = Proxy::start(&account.endpoint);
    account
        .run_via(&proxy.url, &["plan", spec, "--detailed-exitcode"])
        .expect(0);
    let reads: BTreeSet<String> = proxy.actions().into_iter().collect();
    assert_eq!(
        reads,
        BTreeSet::from(
            [
                "GetCallerIdentity",
                "GetAccountAuthorizationDetails",
                "GenerateCredentialReport",
                "GetCredentialReport"
            ]
            .map(String::from)
        ),
        "the account details show the AWS-managed policies attached, and the credential report settles the key of koding-user: no ListPolicies, GetPolicy or ListAccessKeys"
    );
    assert_eq!(proxy.actions().len(), 4, "{:?}", proxy.actions());

    // A second key made behind iamspec's back shows in the report, so the user's keys are
    // listed, and the plan names the new one.
    let extra = account
        .iam()
        .create_access_key()
        .user_name("koding-user")
        .send()
        .await
        .unwrap();
    let extra = extra.access_key().unwrap().access_key_id();
    proxy.clear();
    let plan = account
        .run_via(&proxy.url, &["plan", spec, "--json"])
        .expect(0);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let keys = active_keys(&account, "koding-user").await;
    assert!(keys.contains(&extra.to_owned()));
    // The newest active key is the declared one; the other is drift.
    assert_eq!(plan["drift"][0]["kind"], "extra_access_key", "{plan}");
    assert!(
        keys.iter()
            .any(|k| plan["drift"][0]["access_key_id"] == **k),
        "{plan}"
    );
    assert!(proxy.actions().contains(&"ListAccessKeys".to_owned()));

    // --list-keys trusts no report.
    proxy.clear();
    account
        .run_via(&proxy.url, &["plan", spec, "--list-keys"])
        .expect(0);
    assert!(!proxy.actions().contains(&"GetCredentialReport".to_owned()));
    assert!(proxy.actions().contains(&"ListAccessKeys".to_owned()));
}

#[tokio::test]
async fn out_of_band_changes_are_planned_back_exactly_and_repaired() {
    let account = Account::new().await;
    let spec = support::repo_spec("koding-route53.toml");
    let spec = spec.to_str().unwrap();
    apply(&account, spec);
    let old_key = saved_key(&account, "koding-user");

    let iam = account.iam();
    iam.detach_group_policy()
        .group_name("Developers")
        .policy_arn("arn:aws:iam::aws:policy/IAMReadOnlyAccess")
        .send()
        .await
        .unwrap();
    iam.remove_user_from_group()
        .group_name("Developers")
        .user_name("koding-user")
        .send()
        .await
        .unwrap();
    iam.delete_access_key()
        .user_name("koding-user")
        .access_key_id(&old_key)
        .send()
        .await
        .unwrap();

    let plan = account
        .run(&["plan", spec, "--json", "--detailed-exitcode"])
        .expect(2);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    assert_eq!(
        plan["changes"],
        serde_json::json!([
            {"action": "create", "op": "attach_group_policy", "group": "Developers",
             "policy": "arn:aws:iam::aws:policy/IAMReadOnlyAccess"},
            {"action": "create", "op": "add_user_to_group", "user": "koding-user", "group": "Developers"},
            {"action": "create", "op": "create_access_key", "user": "koding-user"},
        ])
    );

    let proxy = Proxy::start(&account.endpoint);
    account
        .run_via(
            &proxy.url,
            &["apply", spec, "--yes", "--secrets-dir", "secrets"],
        )
        .expect(0);
    // The plan's calls, between taking the apply lock and giving it back.
    assert_eq!(
        proxy.mutating(),
        [
            "CreatePolicy",
            "AttachGroupPolicy",
            "AddUserToGroup",
            "CreateAccessKey",
            "TagUser",
            "DeletePolicy"
        ]
    );
    account
        .run(&["plan", spec, "--detailed-exitcode"])
        .expect(0);
    let keys = active_keys(&account, "koding-user").await;
    assert_eq!(keys.len(), 1);
    let new_key = saved_key(&account, "koding-user");
    assert_eq!(new_key, keys[0]);
    assert_ne!(new_key, old_key);
}

#[tokio::test]
async fn drift_is_reported_and_left_alone() {
    let account = Account::new().await;
    let spec = support::repo_spec("koding.toml");
    let spec = spec.to_str().unwrap();
    apply(&account, spec);
    let iam = account.iam();
    iam.attach_group_policy()
        .group_name("Developers")
        .policy_arn("arn:aws:iam::aws:policy/job-function/ViewOnlyAccess")
        .send()
        .await
        .unwrap();
    iam.tag_user()
        .user_name("koding-user")
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("owner")
                .value("bob")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    let text = account
        .run(&["plan", spec, "--detailed-exitcode"])
        .expect(0);
    assert_eq!(
        text.stdout,
        format!(
            "No changes. The account {} matches the spec.\n\n\
             Drift: the account has 2 things the spec does not declare (reported, not changed):\n\n  \
             ! group Developers has policy job-function/ViewOnlyAccess attached\n  \
             ! user koding-user has tag owner = \"bob\"\n",
            account.id
        )
    );
    let json = account.run(&["plan", spec, "--json"]).expect(0);
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(json["changes"], serde_json::json!([]));
    assert_eq!(
        json["drift"][0],
        serde_json::json!({"kind": "extra_policy", "entity": "group", "name": "Developers",
                           "policy": "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"})
    );
    let proxy = Proxy::start(&account.endpoint);
    account
        .run_via(&proxy.url, &["apply", spec, "--yes"])
        .expect(0);
    assert_eq!(proxy.mutating(), Vec::<String>::new());
}

#[tokio::test]
async fn the_json_plan_is_one_object_with_changes_and_drift() {
    let account = Account::new().await;
    let spec = support::repo_spec("koding-route53.toml");
    let out = account
        .run(&["plan", spec.to_str().unwrap(), "--json"])
        .expect(0);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(plan["format_version"], 1);
    assert_eq!(plan["account"], account.id.as_str());
    assert_eq!(
        plan["summary"],
        serde_json::json!({"add": 8, "change": 0, "remove": 0})
    );
    assert_eq!(plan["drift"], serde_json::json!([]));
    let changes = plan["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 8);
    assert_eq!(
        changes[0],
        serde_json::json!({"action": "create", "op": "create_group", "group": "Developers", "path": "/"})
    );
    assert_eq!(
        changes[1],
        serde_json::json!({"action": "create", "op": "create_user", "user": "koding-user", "path": "/",
                           "tags": {"iamspec:owner": "iamspec", "team": "platform"}})
    );
}

#[tokio::test]
async fn stats_count_exactly_the_calls_made() {
    let account = Account::new().await;
    let spec = support::repo_spec("koding-route53.toml");
    let spec = spec.to_str().unwrap();
    let proxy = Proxy::start(&account.endpoint);
    let run = account
        .run_via(&proxy.url, &["apply", spec, "--yes", "--stats"])
        .expect(0);
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    for action in proxy.actions() {
        *seen.entry(action).or_default() += 1;
    }
    let listed: Vec<String> = seen.iter().map(|(a, n)| format!("{a} {n}")).collect();
    assert_eq!(
        run.stderr,
        format!(
            "API calls: {} ({})\n",
            proxy.actions().len(),
            listed.join(", ")
        )
    );
    // The plan's reads, twice: before the confirmation and again under the apply lock (moto
    // makes the first credential report in the background, so it is asked for twice the first
    // time; the four AWS-managed policies are looked up by ARN). Then its eight changes, one
    // look at the keys before the new one, the new key's mark, and the lock: made, read before
    // it is given back, deleted.
    assert_eq!(
        listed,
        [
            "AddUserToGroup 1",
            "AttachGroupPolicy 4",
            "CreateAccessKey 1",
            "CreateGroup 1",
            "CreatePolicy 1",
            "CreateUser 1",
            "DeletePolicy 1",
            "GenerateCredentialReport 3",
            "GetAccountAuthorizationDetails 2",
            "GetCallerIdentity 2",
            "GetCredentialReport 2",
            "GetPolicy 8",
            "ListAccessKeys 1",
            "ListPolicyTags 1",
            "TagUser 1"
        ]
    );
}

#[tokio::test]
async fn a_denied_call_stops_the_apply_and_the_next_apply_finishes_it() {
    let account = Account::new().await;
    let spec = support::repo_spec("koding-route53.toml");
    let spec = spec.to_str().unwrap();
    let proxy = Proxy::with(
        &account.endpoint,
        Behaviour {
            deny: Some("AttachGroupPolicy"),
            ..Behaviour::default()
        },
    );
    let run = account
        .run_via(&proxy.url, &["apply", spec, "--yes", "--concurrency", "1"])
        .expect(1);
    // The report, after the plan and what its principals gain (from AWS-managed policies,
    // known offline).
    assert!(
        run.stdout.contains("group Developers: grants "),
        "{}",
        run.stdout
    );
    let report = &run.stdout[run.stdout.find("\n  done: create group").unwrap()..];
    let caller = format!(
        "arn:aws:sts::{}:assumed-role/iamspec-test/iamspec-test",
        account.id
    );
    assert_eq!(
        report,
        format!(
            "\n  done: create group Developers\n  \
             done: create user koding-user tagged iamspec:owner = \"iamspec\", team = \"platform\"\n  \
             FAILED: attach policy AmazonEC2FullAccess to group Developers\n\n\
             AWS denied iam:AttachGroupPolicy on group Developers and policy AmazonEC2FullAccess to {caller}: give the caller a policy that allows iam:AttachGroupPolicy on arn:aws:iam::{id}:group/Developers (IAMFullAccess does), then run apply again\n\n\
             Not run, because of the failure above (the next apply will do them):\n  \
             attach policy AmazonRoute53DomainsFullAccess to group Developers\n  \
             attach policy AmazonRoute53FullAccess to group Developers\n  \
             attach policy IAMReadOnlyAccess to group Developers\n  \
             add user koding-user to group Developers\n  \
             create access key for user koding-user\n\n\
             Apply incomplete: 2 of 8 changes made. Fix the cause above and run apply again.\n",
            id = account.id
        )
    );
    assert_eq!(
        proxy.mutating(),
        [
            "CreatePolicy",
            "CreateGroup",
            "CreateUser",
            "AttachGroupPolicy",
            "DeletePolicy"
        ],
        "AccessDenied is not retried and nothing starts after it (inside the apply lock)"
    );

    let rest = apply(&account, spec);
    assert!(rest.stdout.contains("Plan: 6 to add"), "{}", rest.stdout);
    assert!(
        rest.stdout.contains("Apply complete: 6 changes made."),
        "{}",
        rest.stdout
    );
    account
        .run(&["plan", spec, "--detailed-exitcode"])
        .expect(0);
}

#[tokio::test]
async fn a_caller_that_may_not_read_the_credential_report_still_plans_and_is_told() {
    let account = Account::new().await;
    let spec = support::repo_spec("koding-route53.toml");
    let spec = spec.to_str().unwrap();
    apply(&account, spec);
    let proxy = Proxy::with(
        &account.endpoint,
        Behaviour {
            deny: Some("GenerateCredentialReport"),
            ..Behaviour::default()
        },
    );
    let plan = account
        .run_via(&proxy.url, &["plan", spec, "--json", "--detailed-exitcode"])
        .expect(0);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    assert_eq!(plan["changes"], serde_json::json!([]));
    let warning = plan["warnings"][0].as_str().unwrap();
    assert!(
        warning.starts_with("could not read the credential report (AccessDenied")
            && warning.ends_with(
                "allow iam:GenerateCredentialReport and iam:GetCredentialReport for a faster plan"
            ),
        "{warning}"
    );
    assert!(proxy.actions().contains(&"ListAccessKeys".to_owned()));
}
