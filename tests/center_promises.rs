//! IAM Identity Center's promises, tried as a careless or hostile user would on the local
//! endpoint (with the proxy standing in for what moto's sso-admin lacks): a scoped apply stays
//! in its accounts, a permission set made by hand is adopted and not taken over, a revocation
//! lost to a denied provisioning or a real signal lands on the next apply, two applies at once
//! make each change once, a hand-made identity is not the `IdP`'s, a hostile group name stays
//! text, what needs a failed account's policies waits, and an operation the endpoint lacks
//! fails at once, naming it.

mod support;

use std::time::{Duration, Instant};

use aws_sdk_ssoadmin::types::{PrincipalType, Tag, TargetType};
use serde_json::Value;
use support::center::{Center, ORG, texts};
use support::proxy::{Behaviour, Proxy};

/// A permission set made by hand (the console), with `tags`; returns its ARN.
async fn hand_made_set(c: &Center, name: &str, tags: &[(&str, &str)]) -> String {
    let (instance, _) = c.instance().await;
    let mut create = c
        .sso
        .create_permission_set()
        .instance_arn(&instance)
        .name(name)
        .session_duration("PT1H");
    for (k, v) in tags {
        create = create.tags(Tag::builder().key(*k).value(*v).build().unwrap());
    }
    let made = create.send().await.unwrap();
    made.permission_set()
        .unwrap()
        .permission_set_arn()
        .unwrap()
        .to_owned()
}

async fn assign(c: &Center, set: &str, account: &str, kind: PrincipalType, principal: &str) {
    let (instance, _) = c.instance().await;
    c.sso
        .create_account_assignment()
        .instance_arn(&instance)
        .target_id(account)
        .target_type(TargetType::AwsAccount)
        .permission_set_arn(set)
        .principal_type(kind)
        .principal_id(principal)
        .send()
        .await
        .unwrap();
}

async fn group_id(c: &Center, name: &str) -> String {
    let (_, store) = c.instance().await;
    let groups = c
        .store
        .list_groups()
        .identity_store_id(&store)
        .send()
        .await
        .unwrap();
    groups
        .groups()
        .iter()
        .find(|g| g.display_name() == Some(name))
        .map(|g| g.group_id().to_owned())
        .unwrap()
}

fn notes(center: &Value) -> Vec<String> {
    center["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_owned())
        .collect()
}

fn identity_center(stdout: &str) -> Value {
    let value: Value = serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    value["identity_center"].clone()
}

#[tokio::test]
async fn a_scoped_apply_stays_in_its_accounts_and_one_run_changes_the_instance() {
    let c = Center::new().await;
    let prod = c.org.id("prod").to_owned();
    c.run(&["apply", "org.toml", "--yes"]).expect(0);
    let set = c.permission_set("Developers").await;
    // By hand: AdministratorAccess on the permission set, an intruder given it in prod.
    c.drift_by_hand(&set, &prod).await;

    // Scoped to dev, neither the permission set nor prod's assignment is touched.
    let scoped = c
        .run(&["apply", "org.toml", "--yes", "--accounts", "dev"])
        .expect(0);
    assert!(
        scoped.stdout.contains("of the instance itself") && scoped.stdout.contains("left out"),
        "{}",
        scoped.stdout
    );
    assert!(
        c.managed(&set)
            .await
            .contains(&"AdministratorAccess".to_owned())
    );
    assert_eq!(
        c.assignments(&set, &prod).await,
        [("USER".to_owned(), "intruder".to_owned())]
    );

    // Each shard of a matrix plans only its accounts' assignments; none the instance.
    let mut seen = Vec::new();
    for shard in ["1/2", "2/2"] {
        let run = c
            .run(&["plan", "org.toml", "--json", "--shard", shard])
            .expect(0);
        let center = identity_center(&run.stdout);
        for change in center["changes"].as_array().unwrap() {
            assert_eq!(change["kind"], "assignment", "{shard}: {center}");
            seen.push(change["text"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(
        seen,
        [format!(
            "user `intruder` loses permission set `Developers` in account prod ({prod})"
        )],
        "the one assignment out of place, in exactly one shard"
    );

    // The run of Identity Center as a whole makes the rest, and no account's IAM.
    let whole = c
        .run(&["apply", "org.toml", "--yes", "--identity-center-only"])
        .expect(0);
    assert!(!whole.stdout.contains("=== account"), "{}", whole.stdout);
    assert!(
        !c.managed(&set)
            .await
            .contains(&"AdministratorAccess".to_owned())
    );
    assert!(c.assignments(&set, &prod).await.is_empty());
    c.run(&["plan", "org.toml", "--detailed-exitcode"])
        .expect(0);
}

#[tokio::test]
async fn a_permission_set_made_by_hand_is_adopted_and_one_of_another_owner_refused() {
    let c = Center::new().await;
    let (dev, prod) = (c.org.id("dev").to_owned(), c.org.id("prod").to_owned());
    c.run(&["apply", "org.toml", "--yes"]).expect(0);
    let developers = group_id(&c, "Developers").await;
    // Made in the console: an inline policy, a managed policy and three assignments.
    let audit = hand_made_set(&c, "AuditRead", &[]).await;
    let (instance, _) = c.instance().await;
    c.sso
        .put_inline_policy_to_permission_set()
        .instance_arn(&instance)
        .permission_set_arn(&audit)
        .inline_policy(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    c.sso
        .attach_managed_policy_to_permission_set()
        .instance_arn(&instance)
        .permission_set_arn(&audit)
        .managed_policy_arn("arn:aws:iam::aws:policy/ReadOnlyAccess")
        .send()
        .await
        .unwrap();
    for account in [&dev, &prod, &c.org.management.id] {
        assign(&c, &audit, account, PrincipalType::Group, &developers).await;
    }
    c.write(&format!(
        "{ORG}\n[identity_center.permission_sets.AuditRead]\npolicies = [\"SecurityAudit\"]\n\n[[identity_center.assignments]]\npermission_set = \"AuditRead\"\ngroups = [\"Developers\"]\naccounts = [\"dev\"]\n"
    ));
    let planned = c.planned(2);
    let changes = texts(&planned);
    assert!(
        changes.contains(&"permission set `AuditRead`: adopt it (made outside iamspec: it has no iamspec:owner tag) and tag it iamspec:owner = iamspec".to_owned()),
        "{changes:#?}"
    );
    assert!(
        changes.contains(&"permission set `AuditRead`: attach SecurityAudit".to_owned()),
        "{changes:#?}"
    );
    // Nothing it held before is taken away without --prune; the plan says whose it was.
    assert_eq!(planned["summary"]["delete"], 0, "{planned}");
    let said = notes(&planned).join("\n");
    for expected in [
        "permission set `AuditRead`: detach ReadOnlyAccess is not done: the permission set was made outside iamspec",
        "permission set `AuditRead`: delete its inline policy is not done",
        &format!(
            "group `Developers` has permission set `AuditRead` in account prod ({prod}), which the file does not give: left alone"
        ),
    ] {
        assert!(said.contains(expected), "{expected}\n{said}");
    }
    c.run(&["apply", "org.toml", "--yes"]).expect(0);
    assert!(
        c.managed(&audit)
            .await
            .contains(&"ReadOnlyAccess".to_owned())
    );
    assert!(
        c.managed(&audit)
            .await
            .contains(&"SecurityAudit".to_owned())
    );
    assert_eq!(c.assignments(&audit, &prod).await.len(), 1);
    let tags = c
        .sso
        .list_tags_for_resource()
        .instance_arn(&instance)
        .resource_arn(&audit)
        .send()
        .await
        .unwrap();
    assert!(
        tags.tags()
            .iter()
            .any(|t| t.key() == "iamspec:owner" && t.value() == "iamspec"),
        "adopted: {tags:?}"
    );

    // Another owner's permission set of a declared name is refused, naming the owner.
    hand_made_set(&c, "PlatformAdmin", &[("iamspec:owner", "platform")]).await;
    c.write(&format!(
        "{ORG}\n[identity_center.permission_sets.PlatformAdmin]\npolicies = [\"ReadOnlyAccess\"]\n"
    ));
    let refused = c.run(&["plan", "org.toml"]).expect(1);
    assert!(
        refused
            .stdout
            .contains("refused: permission set `PlatformAdmin` belongs to owner `platform`"),
        "{}",
        refused.stdout
    );
    let proxy_before = c.proxy.mutating().len();
    c.run(&["apply", "org.toml", "--yes"]).expect(1);
    let made: Vec<String> = c.proxy.mutating()[proxy_before..].to_vec();
    assert!(
        !made.iter().any(|a| !a.starts_with("Describe")
            && (a.contains("PermissionSet") || a == "TagResource" || a.contains("Assignment"))),
        "nothing of Identity Center changed: {made:?}"
    );
}

/// The file takes `IAMReadOnlyAccess` out of the permission set: a revocation.
fn revoke_iam_read_only(c: &Center) {
    c.write(&ORG.replace(
        "policies = [\"AmazonEC2FullAccess\", \"IAMReadOnlyAccess\"]",
        "policies = [\"AmazonEC2FullAccess\"]",
    ));
}

/// The revocation was made but not provisioned: the next plan provisions dev, and only that,
/// whatever stopped the last apply; applied, nothing is left.
fn provisions_dev_and_nothing_else(c: &Center, dev: &str) {
    let planned = c.planned(2);
    assert_eq!(
        texts(&planned),
        [format!(
            "permission set `Developers`: provision to account dev ({dev}), which runs an out-of-date version of it"
        )]
    );
    c.run(&["apply", "org.toml", "--yes"]).expect(0);
    c.run(&["plan", "org.toml", "--detailed-exitcode"])
        .expect(0);
}

#[tokio::test]
async fn a_revocation_lost_to_a_denied_provisioning_lands_on_the_next_apply() {
    let c = Center::new().await;
    let dev = c.org.id("dev").to_owned();
    c.run(&["apply", "org.toml", "--yes"]).expect(0);
    revoke_iam_read_only(&c);
    c.proxy.deny(Some("ProvisionPermissionSet"));
    let failed = c.run(&["apply", "org.toml", "--yes"]).expect(1);
    assert!(
        failed
            .stdout
            .contains("done: permission set `Developers`: detach IAMReadOnlyAccess")
            && failed
                .stdout
                .contains("failed: permission set `Developers`: provision again"),
        "{}",
        failed.stdout
    );
    c.proxy.deny(None);
    // The policy is gone from the permission set, but dev still runs the old version: the
    // next plan says so, whatever stopped the last apply.
    provisions_dev_and_nothing_else(&c, &dev);
}

#[tokio::test]
async fn a_signal_during_the_apply_stops_it_and_the_next_apply_provisions() {
    let c = Center::new().await;
    let dev = c.org.id("dev").to_owned();
    c.run(&["apply", "org.toml", "--yes"]).expect(0);
    revoke_iam_read_only(&c);
    // The detach takes effect, and its answer is slow: SIGTERM arrives meanwhile.
    c.proxy.slow(Some((
        "DetachManagedPolicyFromPermissionSet",
        Duration::from_secs(3),
    )));
    c.proxy.clear();
    let child = c
        .org
        .management
        .spawn_via(&c.proxy.url, &["apply", "org.toml", "--yes"]);
    let started = Instant::now();
    while !c
        .proxy
        .actions()
        .iter()
        .any(|a| a == "DetachManagedPolicyFromPermissionSet")
    {
        assert!(started.elapsed() < Duration::from_mins(1), "no detach");
        std::thread::sleep(Duration::from_millis(50));
    }
    terminate(&child);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(143), "{stdout}");
    assert!(
        stdout.contains("done: permission set `Developers`: detach IAMReadOnlyAccess")
            && !stdout.contains("done: permission set `Developers`: provision"),
        "{stdout}"
    );
    assert!(
        !c.proxy
            .actions()
            .iter()
            .any(|a| a == "ProvisionPermissionSet"),
        "stopped before its next change"
    );
    c.proxy.slow(None);
    provisions_dev_and_nothing_else(&c, &dev);
}

#[tokio::test]
async fn two_applies_at_once_make_the_instance_once() {
    let c = Center::new().await;
    let args = ["apply", "org.toml", "--yes", "--lock-timeout", "3m"];
    let first = c.org.management.spawn_via(&c.proxy.url, &args);
    let second = c.org.management.spawn_via(&c.proxy.url, &args);
    let (first, second) = (
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    );
    for out in [&first, &second] {
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Both planned an instance without the permission set: one applied it, the other waited
    // for the lock (or found it released) and, planning again under it, had nothing left.
    let mut said = String::new();
    for out in [&first, &second] {
        said.push_str(&String::from_utf8_lossy(&out.stdout));
        said.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    assert!(
        said.contains("nothing is left to do: another apply made these changes meanwhile"),
        "{said}"
    );
    // moto would take a second permission set of one name: the lock is what prevents it.
    let names: Vec<String> = c
        .permission_sets()
        .await
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["Developers"]);
    let creates = c
        .proxy
        .actions()
        .iter()
        .filter(|a| *a == "CreatePermissionSet")
        .count();
    assert_eq!(creates, 1);
    c.run(&["plan", "org.toml", "--detailed-exitcode"])
        .expect(0);
}

#[tokio::test]
async fn with_external_identities_a_hand_made_user_of_the_same_name_gets_nothing() {
    let c = Center::new().await;
    let dev = c.org.id("dev").to_owned();
    let (_, store) = c.instance().await;
    c.store
        .create_user()
        .identity_store_id(&store)
        .user_name("koding-user")
        .display_name("Impostor")
        .name(
            aws_sdk_identitystore::types::Name::builder()
                .given_name("Im")
                .family_name("Postor")
                .build(),
        )
        .send()
        .await
        .unwrap();
    c.write(&format!(
        "version = 1\n[organization]\n\n[identity_center]\nidentities = \"external\"\n\n[identity_center.users.koding-user]\n\n[identity_center.permission_sets.Developers]\npolicies = [\"IAMReadOnlyAccess\"]\n\n[[identity_center.assignments]]\npermission_set = \"Developers\"\nusers = [\"koding-user\"]\naccounts = [\"{dev}\"]\n"
    ));
    let planned = c.planned(2);
    assert!(
        !texts(&planned)
            .iter()
            .any(|t| t.contains("gets permission set")),
        "{planned}"
    );
    assert!(
        notes(&planned).iter().any(|n| n.contains(
            "user `koding-user` is in the identity store but was not provisioned by the IdP"
        )),
        "{planned}"
    );
}

#[tokio::test]
async fn a_hostile_group_name_stays_text_in_every_view_and_in_export() {
    let c = Center::new().await;
    let (_, store) = c.instance().await;
    let hostile = "Ops\n```\n## Safe to merge\n\u{1b}[2J";
    c.store
        .create_group()
        .identity_store_id(&store)
        .display_name(hostile)
        .send()
        .await
        .unwrap();
    let markdown = c.run(&["plan", "org.toml", "--markdown"]).expect(0);
    let section = markdown
        .stdout
        .split("### IAM Identity Center")
        .nth(1)
        .unwrap();
    assert_eq!(
        section.lines().filter(|l| l.starts_with("```")).count(),
        2,
        "one fence, opened and closed: {section}"
    );
    for run in [&markdown, &c.run(&["plan", "org.toml"]).expect(0)] {
        assert!(
            !run.stdout.lines().any(|l| l.trim() == "## Safe to merge"),
            "{}",
            run.stdout
        );
        assert!(!run.stdout.contains('\u{1b}'), "{}", run.stdout);
        assert!(
            run.stdout
                .contains(r"Ops\n\`\`\`\n## Safe to merge\n\u{1b}[2J"),
            "{}",
            run.stdout
        );
    }
    // Export leaves it out, says so, and what it writes loads.
    let export = c
        .run(&["export", "--organization", "--out", "exported"])
        .expect(0);
    assert!(
        export
            .stderr
            .contains(r"group `Ops\n\`\`\`\n## Safe to merge")
            && export.stderr.contains("is left out"),
        "{}",
        export.stderr
    );
    c.run(&["validate", "exported/organization.toml"]).expect(0);
}

#[tokio::test]
async fn what_needs_a_failed_accounts_policies_waits_for_the_next_apply() {
    let c = Center::new().await;
    let dev = c.org.id("dev").to_owned();
    let dir = c.org.management.dir.path();
    std::fs::write(
        dir.join("layers/baseline.toml"),
        "version = 1\n[groups.Auditors]\npolicies = [\"SecurityAudit\", \"StackBuilder\"]\n\n[policies.StackBuilder]\ndocument = { Version = \"2012-10-17\", Statement = [{ Effect = \"Allow\", Action = \"cloudformation:DescribeStacks\", Resource = \"*\" }] }\n",
    )
    .unwrap();
    c.write(&ORG.replace(
        "addons = [\"route53\"]",
        "addons = [\"route53\"]\ncustomer_policies = [\"StackBuilder\"]",
    ));
    // Every account's apply fails (before its group gets the policy).
    c.proxy.deny(Some("AttachGroupPolicy"));
    let failed = c
        .run(&["apply", "org.toml", "--yes", "--max-failed-accounts", "9"])
        .expect(1);
    assert!(
        failed.stderr.contains(&format!(
            "not done: group `Developers` gets permission set `Developers` in account dev ({dev})"
        )) && failed.stderr.contains("failed to apply"),
        "{}",
        failed.stderr
    );
    let set = c.permission_set("Developers").await;
    assert!(c.assignments(&set, &dev).await.is_empty());
    c.proxy.deny(None);
    c.run(&["apply", "org.toml", "--yes"]).expect(0);
    assert_eq!(c.assignments(&set, &dev).await.len(), 2);
    c.run(&["plan", "org.toml", "--detailed-exitcode"])
        .expect(0);
}

#[tokio::test]
async fn an_operation_the_endpoint_lacks_fails_at_once_naming_it() {
    let c = Center::new().await;
    let proxy = Proxy::with(
        &c.org.management.endpoint,
        Behaviour {
            center_gaps: true,
            not_implemented: Some("ListPermissionSets"),
            ..Behaviour::default()
        },
    );
    let started = Instant::now();
    let run = c
        .org
        .management
        .run_via(&proxy.url, &["plan", "org.toml"])
        .expect(1);
    assert!(
        run.stderr
            .contains("the endpoint does not implement ListPermissionSets"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("network"), "{}", run.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let tries = proxy
        .actions()
        .iter()
        .filter(|a| *a == "ListPermissionSets")
        .count();
    assert_eq!(tries, 1, "not retried");
}

#[tokio::test]
async fn a_permission_set_that_lets_its_holders_escalate_is_flagged_in_validate_and_plan() {
    let c = Center::new().await;
    c.write(&ORG.replace(
        "addons = [\"route53\"]",
        "addons = [\"route53\"]\ninline = { Version = \"2012-10-17\", Statement = [{ Effect = \"Allow\", Action = [\"iam:PassRole\", \"lambda:CreateFunction\", \"lambda:InvokeFunction\", \"sso:*\"], Resource = \"*\" }] }",
    ));
    let validated = c.run(&["validate", "org.toml"]).expect(0);
    for path in [
        "iam:PassRole + lambda:CreateFunction + lambda:InvokeFunction",
        "sso:CreateAccountAssignment together let it give any person or group any permission set in any account",
    ] {
        assert!(
            validated.stderr.contains(&format!(
                "warning: permission set `Developers` (privilege-escalation): {path}"
            )),
            "{path}\n{}",
            validated.stderr
        );
    }
    c.run(&["validate", "org.toml", "--strict"]).expect(1);
    let planned = c.planned(2);
    assert!(
        notes(&planned)
            .iter()
            .any(|n| n.contains("(privilege-escalation): iam:PassRole + lambda:CreateFunction")),
        "{planned}"
    );
}

/// Sends SIGTERM, as a cancelled CI job does.
fn terminate(child: &std::process::Child) {
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

/// Identity Center's lock, left as another apply holding it would leave it.
async fn leave_center_lock(c: &Center) {
    let mut call = c
        .org
        .management
        .iam()
        .create_policy()
        .policy_name("iamspec-lock-iamspec.identity-center")
        .path("/iamspec-lock/")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:GetUser","Resource":"arn:aws:iam::*:user/none"}]}"#,
        );
    for (key, value) in [
        ("iamspec:lock-token", "theirs"),
        (
            "iamspec:lock-holder",
            "arn:aws:iam::1:user/ci on runner-7 pid 42",
        ),
        ("iamspec:lock-since", "2026-11-24T10:00:00Z"),
        ("iamspec:lock-expires", "2999-01-01T00:00:00Z"),
        ("iamspec:lock-process", "another-machine/1/42/7"),
    ] {
        call = call.tags(
            aws_sdk_iam::types::Tag::builder()
                .key(key)
                .value(value)
                .build()
                .unwrap(),
        );
    }
    call.send().await.unwrap();
}

#[tokio::test]
async fn another_applys_lock_is_refused_naming_it_and_a_signal_ends_the_wait() {
    let c = Center::new().await;
    c.run(&["apply", "org.toml", "--yes"]).expect(0);
    let set = c.permission_set("Developers").await;
    revoke_iam_read_only(&c);
    leave_center_lock(&c).await;

    let refused = c
        .run(&["apply", "org.toml", "--yes", "--lock-timeout", "2s"])
        .expect(1);
    assert!(
        refused.stderr.contains(
            "another apply of IAM Identity Center holds its lock: arn:aws:iam::1:user/ci on runner-7 pid 42 since 2026-11-24T10:00:00Z"
        ),
        "{}",
        refused.stderr
    );
    assert!(
        c.managed(&set)
            .await
            .contains(&"IAMReadOnlyAccess".to_owned())
    );

    // Waiting for it, a SIGTERM (a cancelled CI job) ends the wait before any change.
    c.proxy.clear();
    let child = c.org.management.spawn_via(
        &c.proxy.url,
        &["apply", "org.toml", "--yes", "--lock-timeout", "5m"],
    );
    let started = Instant::now();
    // The lock found taken: its create refused, then its tags read.
    while !c
        .proxy
        .actions()
        .iter()
        .skip_while(|a| *a != "CreatePolicy")
        .any(|a| a == "ListPolicyTags")
    {
        assert!(
            started.elapsed() < Duration::from_mins(1),
            "no wait for the lock"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    terminate(&child);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(143), "{stdout}");
    assert!(
        stdout.contains("stopped by a signal while waiting for Identity Center's apply lock"),
        "{stdout}"
    );
    assert!(
        started.elapsed() < Duration::from_mins(1),
        "the wait ended at once"
    );
    assert!(
        !c.proxy
            .actions()
            .iter()
            .any(|a| a == "DetachManagedPolicyFromPermissionSet"),
        "nothing of Identity Center changed"
    );
    assert!(
        c.managed(&set)
            .await
            .contains(&"IAMReadOnlyAccess".to_owned())
    );
}
