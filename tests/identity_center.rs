//! The guide's setup the IAM Identity Center way, on the local endpoint: user koding-user in
//! group Developers, a permission set with the guide's four policies, assigned to an OU;
//! applied, planned again with nothing to do, drift made by hand shown and undone, an
//! assignment taken out of the spec deleted.
//!
//! moto lacks permission-set boundaries, tags and provisioning status (HTTP 500, or a filter
//! it ignores): the proxy answers those as AWS does (`Behaviour::center_gaps`). User updates,
//! request statuses and `IdP` identities are tested in memory (`src/apply/center/tests.rs`);
//! the promises under attack in `tests/center_promises.rs`.

mod support;

use serde_json::Value;
use support::center::{BASELINE, Center, ORG, stats, texts};
use support::proxy::{Behaviour, Proxy};

/// What a plan with nothing to do reads of Identity Center, and how often: once each, but
/// `ListAccountsForProvisionedPermissionSet`, asked where the permission set is provisioned
/// and where it runs an out-of-date version.
const NOTHING_TO_DO_READS: [(&str, u32); 14] = [
    ("DescribeOrganization", 1),
    ("ListInstances", 1),
    ("ListUsers", 1),
    ("ListGroups", 1),
    ("ListGroupMemberships", 1),
    ("ListPermissionSets", 1),
    ("DescribePermissionSet", 1),
    ("ListManagedPoliciesInPermissionSet", 1),
    ("GetInlinePolicyForPermissionSet", 1),
    ("ListCustomerManagedPolicyReferencesInPermissionSet", 1),
    ("GetPermissionsBoundaryForPermissionSet", 1),
    ("ListAccountsForProvisionedPermissionSet", 2),
    ("ListTagsForResource", 1),
    ("ListAccountAssignments", 1),
];

#[tokio::test]
async fn the_guides_setup_the_identity_center_way_applies_and_plans_nothing_after() {
    let c = Center::new().await;
    let dev = c.org.id("dev").to_owned();
    let prod = c.org.id("prod").to_owned();

    let planned = c.planned(2);
    let changes = texts(&planned);
    for expected in [
        "group `Developers`",
        "user `koding-user`",
        "user `koding-user` in group `Developers`",
        "permission set `Developers` (session PT8H)",
        "permission set `Developers`: attach AmazonRoute53DomainsFullAccess",
        &format!("group `Developers` gets permission set `Developers` in account dev ({dev})"),
        &format!("user `koding-user` gets permission set `Developers` in account dev ({dev})"),
    ] {
        assert!(
            changes.iter().any(|t| t == expected),
            "{expected} not in {changes:#?}"
        );
    }
    assert!(!changes.iter().any(|t| t.contains(&prod)), "{changes:#?}");

    let applied = c.run(&["apply", "org.toml", "--yes"]).expect(0);
    assert!(
        applied.stdout.contains("=== IAM Identity Center"),
        "{}",
        applied.stdout
    );
    assert!(
        applied
            .stdout
            .contains("IAM Identity Center: 10 changes made."),
        "{}",
        applied.stdout
    );

    let set = c.permission_set("Developers").await;
    let (instance, store) = c.instance().await;
    let described = c
        .sso
        .describe_permission_set()
        .instance_arn(&instance)
        .permission_set_arn(&set)
        .send()
        .await
        .unwrap();
    let described = described.permission_set().unwrap();
    assert_eq!(described.session_duration(), Some("PT8H"));
    assert_eq!(
        described.description(),
        Some("EC2 and read-only IAM, plus Route53")
    );
    let names = c.managed(&set).await;
    assert_eq!(
        names,
        [
            "AmazonEC2FullAccess",
            "AmazonRoute53DomainsFullAccess",
            "AmazonRoute53FullAccess",
            "IAMReadOnlyAccess"
        ]
    );
    assert_eq!(
        c.assignments(&set, &dev).await,
        [
            ("GROUP".to_owned(), "Developers".to_owned()),
            ("USER".to_owned(), "koding-user".to_owned())
        ]
    );
    assert!(c.assignments(&set, &prod).await.is_empty());
    let users = c
        .store
        .list_users()
        .identity_store_id(&store)
        .send()
        .await
        .unwrap();
    let user = &users.users()[0];
    assert_eq!(user.user_name(), Some("koding-user"));
    assert_eq!(user.emails()[0].value(), Some("koding-user@example.com"));

    // Nothing to do after: every assignment, policy and membership is read back as made.
    let again = c.planned(0);
    assert_eq!(texts(&again), Vec::<String>::new(), "{again}");
    let text = c.run(&["plan", "org.toml", "--stats"]).expect(0);
    assert!(
        text.stdout.contains("IAM Identity Center: no changes."),
        "{}",
        text.stdout
    );
    // What a plan with nothing to do reads of Identity Center: one call a list, seven for the
    // permission set, one for its assignments in the one account it is in.
    let calls = stats(&text.stderr);
    for (action, count) in NOTHING_TO_DO_READS {
        assert_eq!(calls.get(action), Some(&count), "{action}: {calls:?}");
    }
}

#[tokio::test]
async fn drift_made_by_hand_is_shown_and_an_assignment_taken_out_is_deleted() {
    let c = Center::new().await;
    let dev = c.org.id("dev").to_owned();
    c.run(&["apply", "org.toml", "--yes"]).expect(0);
    let set = c.permission_set("Developers").await;
    let (_, store) = c.instance().await;

    c.drift_by_hand(&set, &dev).await;

    let drift = c.planned(2);
    let changes = texts(&drift);
    assert!(
        changes.contains(&"permission set `Developers`: detach AdministratorAccess".to_owned()),
        "{changes:#?}"
    );
    assert!(
        changes.contains(&format!(
            "user `intruder` loses permission set `Developers` in account dev ({dev})"
        )),
        "{changes:#?}"
    );
    let notes = drift["notes"].to_string();
    assert!(
        notes.contains(
            "user `intruder` is in the identity store but not in the spec: --prune deletes it"
        ),
        "{notes}"
    );

    // The user's own assignment taken out of the spec: deleted, the group's kept.
    let without_user = ORG.replace(
        "\n[[identity_center.assignments]]\npermission_set = \"Developers\"\nusers = [\"koding-user\"]\naccounts = [\"dev\"]\n",
        "",
    );
    assert_ne!(without_user, ORG);
    c.write(&without_user);
    let planned = texts(&c.planned(2));
    assert!(
        planned.contains(&format!(
            "user `koding-user` loses permission set `Developers` in account dev ({dev})"
        )),
        "{planned:#?}"
    );
    // Deletions count against --max-deletes, Identity Center's too: nothing is changed.
    let refused = c.run(&[
        "apply",
        "org.toml",
        "--yes",
        "--prune",
        "--max-deletes",
        "1",
    ]);
    let refused = refused.expect(1);
    assert!(
        refused.stderr.contains("--max-deletes"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        c.assignments(&set, &dev).await.len(),
        3,
        "nothing was deleted"
    );
    c.run(&["apply", "org.toml", "--yes", "--prune"]).expect(0);
    assert_eq!(
        c.assignments(&set, &dev).await,
        [("GROUP".to_owned(), "Developers".to_owned())]
    );
    let users = c
        .store
        .list_users()
        .identity_store_id(&store)
        .send()
        .await
        .unwrap();
    let names: Vec<&str> = users.users().iter().filter_map(|u| u.user_name()).collect();
    assert_eq!(
        names,
        ["koding-user"],
        "--prune deleted the undeclared user"
    );
    let after = c.planned(0);
    assert_eq!(texts(&after), Vec::<String>::new(), "{after}");
}

/// The guide's IAM user beside its Identity Center identity, and a permission set that names
/// a policy the layer makes in each account.
const KEYED: &str = r#"version = 1
[policies.StackBuilder]
document = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "cloudformation:CreateStack", Resource = "*" }] }

[users.koding-user]
access_key = true
"#;

#[tokio::test]
async fn a_referenced_policy_is_made_in_the_accounts_first_and_key_holders_are_marked() {
    let c = Center::new().await;
    let dev = c.org.id("dev").to_owned();
    std::fs::write(
        c.org.management.dir.path().join("layers/baseline.toml"),
        KEYED,
    )
    .unwrap();
    c.write(&ORG.replace(
        "addons = [\"route53\"]",
        "addons = [\"route53\"]\ncustomer_policies = [\"StackBuilder\"]",
    ));
    let applied = c.run(&["apply", "org.toml", "--yes"]).expect(0);
    let accounts_at = applied.stdout.find("=== account dev").unwrap();
    let center_at = applied.stdout.find("=== IAM Identity Center ===").unwrap();
    assert!(
        accounts_at < center_at,
        "the accounts' IAM is applied first:\n{}",
        applied.stdout
    );
    let member = c.org.member("dev").await;
    let policies = member
        .iam()
        .list_policies()
        .scope(aws_sdk_iam::types::PolicyScopeType::Local)
        .send()
        .await
        .unwrap();
    assert!(
        policies
            .policies()
            .iter()
            .any(|p| p.policy_name() == Some("StackBuilder"))
    );
    let set = c.permission_set("Developers").await;
    let (instance, _) = c.instance().await;
    let refs = c
        .sso
        .list_customer_managed_policy_references_in_permission_set()
        .instance_arn(&instance)
        .permission_set_arn(&set)
        .send()
        .await
        .unwrap();
    assert_eq!(
        refs.customer_managed_policy_references()[0].name(),
        "StackBuilder"
    );
    assert_eq!(texts(&c.planned(0)), Vec::<String>::new());

    // koding-user still holds the guide's key in every account, and now has an identity.
    let credentials = c.run(&["credentials", "org.toml", "--json"]).expect(0);
    let report: Value = serde_json::from_str(&credentials.stdout).unwrap();
    let entry = report["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account"] == dev.as_str())
        .unwrap();
    assert_eq!(
        entry["identity_center"],
        serde_json::json!([{"user": "koding-user", "identity": "koding-user", "matched_by": "name", "active_keys": 1}])
    );
    let text = c.run(&["credentials", "org.toml"]).expect(0);
    assert!(
        text.stdout.contains("note: IAM user `koding-user` holds 1 active access key and has an IAM Identity Center identity `koding-user` (same name)"),
        "{}",
        text.stdout
    );
}

#[tokio::test]
async fn a_policy_no_layer_declares_is_refused_before_any_call() {
    let c = Center::new().await;
    let dev = c.org.id("dev").to_owned();
    let text = ORG
        .replace(
            "addons = [\"route53\"]",
            "addons = [\"route53\"]\ncustomer_policies = [\"StackBuilder\"]",
        )
        .replace(
            "ous = [\"Workloads/Dev\"]",
            &format!("accounts = [\"{dev}\"]"),
        )
        .replace("accounts = \"all\"", &format!("accounts = [\"{dev}\"]"))
        .replace("accounts = [\"dev\"]", &format!("accounts = [\"{dev}\"]"));
    c.write(&text);
    // Offline: every account is an id, so validate checks each one's layers.
    let run = c.org.run(&["validate", "org.toml"]).expect(1);
    assert!(
        run.stderr.contains(&format!("error: permission set `Developers` references customer-managed policy StackBuilder, but account {dev} neither has it nor declares it in its layers")),
        "{}",
        run.stderr
    );
    let run = c.run(&["plan", "org.toml"]).expect(1);
    assert!(
        run.stderr.contains("neither has it nor declares it"),
        "{}",
        run.stderr
    );
    assert!(
        !c.proxy
            .actions()
            .iter()
            .any(|a| a.contains("PermissionSet")),
        "{:?}",
        c.proxy.actions()
    );
    // A saved plan does not take Identity Center yet, and says so before any call.
    c.write(ORG);
    let saved = c.run(&["plan", "org.toml", "--out", "plan.json"]).expect(1);
    assert!(
        saved
            .stderr
            .contains("a saved plan does not take [identity_center] yet"),
        "{}",
        saved.stderr
    );
}

#[tokio::test]
async fn export_writes_the_instance_and_its_plan_has_nothing_to_do() {
    let c = Center::new().await;
    c.run(&["apply", "org.toml", "--yes"]).expect(0);
    let out = c.org.management.dir.path().join("exported");
    let out = out.to_str().unwrap();
    c.run(&["export", "--organization", "--out", out]).expect(0);
    let written = std::fs::read_to_string(format!("{out}/organization.toml")).unwrap();
    assert!(
        written.contains("[identity_center.permission_sets.Developers]"),
        "{written}"
    );
    assert!(written.contains("addons = [\"route53\"]"), "{written}");
    assert!(
        written.contains("[[identity_center.assignments]]"),
        "{written}"
    );
    let run = c.run(&[
        "plan",
        &format!("{out}/organization.toml"),
        "--json",
        "--detailed-exitcode",
    ]);
    let run = run.expect(0);
    let value: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        texts(&value["identity_center"]),
        Vec::<String>::new(),
        "{written}"
    );
}

#[tokio::test]
async fn a_delegated_administrator_leaves_the_management_account_alone_and_says_so() {
    let c = Center::new().await;
    let (dev, management) = (c.org.id("dev").to_owned(), c.org.management.id.clone());
    // Run from dev, as Identity Center's delegated administrator would be.
    let delegated = c.org.member("dev").await;
    std::fs::create_dir_all(delegated.dir.path().join("layers")).unwrap();
    std::fs::write(delegated.dir.path().join("layers/baseline.toml"), BASELINE).unwrap();
    let text = ORG
        .replace("accounts = \"all\"", &format!("accounts = [\"{dev}\"]"))
        .replace(
            "ous = [\"Workloads/Dev\"]",
            &format!("accounts = [\"{management}\", \"{dev}\"]"),
        )
        .replace("accounts = [\"dev\"]", &format!("accounts = [\"{dev}\"]"));
    std::fs::write(delegated.dir.path().join("org.toml"), text).unwrap();
    let run = delegated
        .run_via(&c.proxy.url, &["plan", "org.toml", "--json"])
        .expect(0);
    let value: Value = serde_json::from_str(&run.stdout).unwrap();
    let center = &value["identity_center"];
    let changes = texts(center);
    assert!(
        changes.iter().any(|t| t.contains(&dev)),
        "{changes:#?}\n{}",
        run.stderr
    );
    assert!(
        !changes.iter().any(|t| t.contains(&management)),
        "{changes:#?}"
    );
    assert!(
        center["notes"].to_string().contains(&format!(
            "assignments to the management account {management} are left out: only a caller in the management account can make them"
        )),
        "{center}"
    );
}

/// The README's worked example, as shipped: Identity Center alone, no IAM layer at all.
const ONLY_CENTER: &str = include_str!("../specs/identity-center.toml");

#[tokio::test]
async fn a_file_of_identity_center_alone_plans_applies_and_plans_nothing() {
    let c = Center::new().await;
    c.write(ONLY_CENTER);
    let plan = c.run(&["plan", "org.toml"]).expect(0);
    let dev = c.org.id("dev");
    let expected = format!(
        "+ group `Developers`\n+ user `koding-user`\n+ user `koding-user` in group `Developers`\n+ permission set `Developers` (session PT8H)\n+ permission set `Developers`: attach AmazonEC2FullAccess\n+ permission set `Developers`: attach AmazonRoute53DomainsFullAccess\n+ permission set `Developers`: attach AmazonRoute53FullAccess\n+ permission set `Developers`: attach IAMReadOnlyAccess\n+ group `Developers` gets permission set `Developers` in account dev ({dev})\nIAM Identity Center: 9 changes (0 to delete).\n"
    );
    assert!(plan.stdout.contains(&expected), "{}", plan.stdout);
    println!("{}", plan.stdout);
    c.run(&["apply", "org.toml", "--yes"]).expect(0);
    let again = c
        .run(&["plan", "org.toml", "--detailed-exitcode"])
        .expect(0);
    assert!(
        again.stdout.contains("IAM Identity Center: no changes."),
        "{}",
        again.stdout
    );
}

/// The timeouts are roomy enough that the calls before the silent one answer even when every
/// test runs at once (a 1 s attempt was not), and tight enough to end well within the test's
/// bound.
#[tokio::test]
async fn an_endpoint_that_never_answers_fails_within_the_timeouts() {
    let c = Center::new().await;
    for (action, says) in [
        ("ListInstances", "read IAM Identity Center"),
        (
            "DescribeOrganization",
            "find the organization's management account",
        ),
        ("ListAccounts", "read the organization's accounts"),
    ] {
        let proxy = Proxy::with(
            &c.org.management.endpoint,
            Behaviour {
                hang: Some(action),
                center_gaps: true,
                ..Behaviour::default()
            },
        );
        let started = std::time::Instant::now();
        let run = c
            .org
            .management
            .run_via(
                &proxy.url,
                &[
                    "plan",
                    "org.toml",
                    "--call-timeout",
                    "3s",
                    "--retry-timeout",
                    "6s",
                ],
            )
            .expect(1);
        let took = started.elapsed();
        assert!(run.stderr.contains(says), "{action}: {}", run.stderr);
        assert!(run.stderr.contains("timed out"), "{action}: {}", run.stderr);
        assert!(
            took < std::time::Duration::from_secs(40),
            "{action} took {took:?}"
        );
    }
}
