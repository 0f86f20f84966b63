//! An apply through an unreliable IAM: throttling, server errors, dropped connections, answers
//! lost after the call took effect, and entities invisible right after their creation. One
//! apply converges, and nothing is duplicated or lost.

mod support;

use std::fmt::Write as _;
use std::time::Duration;

use support::Account;
use support::proxy::{Behaviour, Proxy};

const USERS: usize = 8;

fn team_spec() -> String {
    let mut spec = String::from(
        "version = 1\n[policies.StackBuilder]\ndocument = { Version = \"2012-10-17\", Statement = [{ Effect = \"Allow\", Action = \"s3:GetObject\", Resource = \"*\" }] }\n\
         [groups.Developers]\npolicies = [\"IAMReadOnlyAccess\", \"StackBuilder\"]\naddons = [\"route53\"]\n[groups.Ops]\npolicies = [\"AmazonEC2FullAccess\"]\n",
    );
    for i in 0..USERS {
        let _ = write!(
            spec,
            "[users.dev{i}]\ngroups = [\"Developers\", \"Ops\"]\naccess_key = true\ntags = {{ team = \"t{i}\" }}\n"
        );
    }
    spec
}

#[tokio::test]
async fn one_apply_converges_through_thirty_percent_faults() {
    let account = Account::new().await;
    let spec = account.spec("team.toml", &team_spec());
    let spec = spec.to_str().unwrap();
    let proxy = Proxy::with(
        &account.endpoint,
        Behaviour {
            fault_rate: 0.3,
            invisible_for: Duration::from_millis(300),
            seed: 7,
            ..Behaviour::default()
        },
    );
    let run = account
        .run_via(&proxy.url, &["apply", spec, "--yes", "--concurrency", "4"])
        .expect(0);
    assert!(run.stdout.contains("Apply complete"), "{}", run.stdout);
    let faults = proxy.faults();
    assert!(
        faults.values().sum::<usize>() >= 10,
        "faults were injected: {faults:?}"
    );

    account
        .run(&["plan", spec, "--detailed-exitcode"])
        .expect(0);
    let iam = account.iam();
    for i in 0..USERS {
        let user = format!("dev{i}");
        let (_, saved) = account.only_key(&user).await;
        assert!(saved, "{user}'s secret is on disk");
        let groups = iam
            .list_groups_for_user()
            .user_name(&user)
            .send()
            .await
            .unwrap();
        assert_eq!(groups.groups().len(), 2);
    }
    let users = iam.list_users().send().await.unwrap();
    assert_eq!(users.users().len(), USERS);
    let versions = iam
        .list_policy_versions()
        .policy_arn(format!("arn:aws:iam::{}:policy/StackBuilder", account.id))
        .send()
        .await
        .unwrap();
    assert_eq!(versions.versions().len(), 1);
}
