//! Roles on the local endpoint: the four roles of the issue, an OIDC provider and a boundary
//! applied to a fresh account and planned again to nothing; the same trusts written in other
//! equivalent forms plan nothing; a GitHub trust that checks no subject is refused before any
//! call; prune and export round-trip with roles as they do with users.

mod support;

use support::proxy::Proxy;
use support::{Account, Run};

/// specs/roles.toml with its trust document, copied into the account's scratch directory.
fn roles_spec(account: &Account) -> String {
    let text = std::fs::read_to_string(support::repo_spec("roles.toml")).unwrap();
    let custom = std::fs::read_to_string(support::repo_spec("trust/custom.json")).unwrap();
    std::fs::create_dir_all(account.dir.path().join("trust")).unwrap();
    std::fs::write(account.dir.path().join("trust/custom.json"), custom).unwrap();
    let spec = account.spec("roles.toml", &text);
    spec.to_str().unwrap().to_owned()
}

fn plan_is_empty(account: &Account, spec: &str) -> Run {
    let plan = account
        .run(&["plan", spec, "--detailed-exitcode"])
        .expect(0);
    assert!(plan.stdout.starts_with("No changes."), "{}", plan.stdout);
    plan
}

async fn role_names(account: &Account) -> Vec<String> {
    let out = account.iam().list_roles().send().await.unwrap();
    let mut names: Vec<String> = out
        .roles()
        .iter()
        .map(|r| r.role_name().to_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn the_four_roles_a_provider_and_a_boundary_apply_and_plan_nothing_after() {
    let account = Account::new().await;
    let spec = roles_spec(&account);
    let applied = account.run(&["apply", &spec, "--yes"]).expect(0);
    assert!(
        applied.stdout.contains("Apply complete"),
        "{}",
        applied.stdout
    );
    plan_is_empty(&account, &spec);

    assert_eq!(
        role_names(&account).await,
        ["app-server", "auditor", "custom", "deploy"]
    );
    let iam = account.iam();
    let deploy = iam.get_role().role_name("deploy").send().await.unwrap();
    let deploy = deploy.role().unwrap();
    assert_eq!(deploy.max_session_duration(), Some(7200));
    assert_eq!(deploy.description(), Some("CI deploys"));
    assert_eq!(
        deploy
            .permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn()),
        Some(format!("arn:aws:iam::{}:policy/DeployBoundary", account.id).as_str())
    );
    let trust: serde_json::Value = serde_json::from_str(&percent_decode(
        deploy.assume_role_policy_document().unwrap(),
    ))
    .unwrap();
    assert_eq!(
        trust["Statement"][0]["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"],
        "repo:acme/app:ref:refs/heads/main"
    );
    let profile = iam
        .get_instance_profile()
        .instance_profile_name("app-server")
        .send()
        .await
        .unwrap();
    let held: Vec<&str> = profile
        .instance_profile()
        .unwrap()
        .roles()
        .iter()
        .map(aws_sdk_iam::types::Role::role_name)
        .collect();
    assert_eq!(held, ["app-server"]);
    let providers = iam.list_open_id_connect_providers().send().await.unwrap();
    assert_eq!(providers.open_id_connect_provider_list().len(), 1);

    // A change by hand to a trust, a session length and an attachment: planned back, once.
    iam.update_role()
        .role_name("auditor")
        .max_session_duration(3 * 3600)
        .send()
        .await
        .unwrap();
    iam.update_assume_role_policy()
        .role_name("custom")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#)
        .send()
        .await
        .unwrap();
    let plan = account.run(&["plan", &spec]).expect(0);
    assert!(
        plan.stdout
            .contains("~ change role auditor: sessions up to 3h to 1h"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("~ update the trust policy of role custom"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .lines()
            .any(|l| l.trim_start().starts_with('+') && l.ends_with("\"lambda.amazonaws.com\"")),
        "{}",
        plan.stdout
    );
    account.run(&["apply", &spec, "--yes"]).expect(0);
    plan_is_empty(&account, &spec);
}

fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .unwrap()
        .into_owned()
}

/// The roles of specs/roles.toml, each trust written out whole in another form that means
/// the same: a principal as a list or a string, an account id or its root ARN, statements and
/// keys in another order, single actions in lists.
const EQUIVALENT: &str = r#"version = 1
[oidc_providers.github]
url = "https://token.actions.githubusercontent.com"

[policies.DeployBoundary]
description = "The most a deploy role can ever do"
document = { Version = "2012-10-17", Statement = [{ Resource = ["*"], NotAction = ["organizations:*", "iam:*", "account:*", "iam:*"], Effect = "Allow" }] }

[roles.deploy]
description = "CI deploys"
policies = ["PowerUserAccess"]
boundary = "DeployBoundary"
max_session = "120m"
tags = { team = "platform" }
[roles.deploy.trust_document]
Version = "2012-10-17"
[[roles.deploy.trust_document.Statement]]
Action = ["sts:AssumeRoleWithWebIdentity"]
Effect = "Allow"
Principal = { Federated = ["arn:aws:iam::ACCOUNT:oidc-provider/token.actions.githubusercontent.com"] }
Condition = { StringEquals = { "token.actions.githubusercontent.com:sub" = ["repo:acme/app:ref:refs/heads/main"], "token.actions.githubusercontent.com:aud" = ["sts.amazonaws.com"] } }

[roles.app-server]
trust_document = { Version = "2012-10-17", Statement = { Effect = "Allow", Principal = { Service = ["ec2.amazonaws.com"] }, Action = ["sts:AssumeRole"] } }
policies = ["AmazonS3ReadOnlyAccess"]
instance_profile = true

[roles.auditor]
policies = ["SecurityAudit"]
[roles.auditor.trust_document]
Version = "2012-10-17"
Statement = [{ Effect = "Allow", Principal = { AWS = "111111111111" }, Action = "sts:AssumeRole", Condition = { Bool = { "aws:MultiFactorAuthPresent" = ["true"] }, StringEquals = { "sts:ExternalId" = ["audit-7f3a"] } } }]

[roles.custom]
trust = { services = ["lambda.amazonaws.com"] }

[groups.Developers]
policies = ["IAMReadOnlyAccess", "AmazonEC2FullAccess"]

[users.koding-user]
groups = ["Developers"]
access_key = true
"#;

#[tokio::test]
async fn trusts_written_in_other_equivalent_forms_plan_nothing() {
    let account = Account::new().await;
    let spec = roles_spec(&account);
    account.run(&["apply", &spec, "--yes"]).expect(0);
    let other = account.spec(
        "equivalent.toml",
        &EQUIVALENT.replace("ACCOUNT", &account.id),
    );
    let plan = account
        .run(&["plan", other.to_str().unwrap(), "--detailed-exitcode"])
        .expect(2);
    // The custom role's trust has a `Sid` the shorthand does not: the only change.
    let changes: Vec<&str> = plan
        .stdout
        .lines()
        .filter(|l| l.starts_with("  ~") || l.starts_with("  +") || l.starts_with("  -"))
        .collect();
    assert_eq!(
        changes,
        ["  ~ update the trust policy of role custom"],
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .lines()
            .any(|l| l.trim_start().starts_with('-') && l.ends_with("\"Sid\": \"Lambda\"")),
        "{}",
        plan.stdout
    );
}

#[tokio::test]
async fn a_github_trust_that_does_not_pin_the_subject_is_refused_before_any_call() {
    let account = Account::new().await;
    // The spellings that once reached the account: no subject condition at all, and the
    // `oidc` shorthand with one wildcard value beside a real subject.
    let cases = [
        (
            "open.toml",
            r#"version = 1
[oidc_providers.github]
url = "https://token.actions.githubusercontent.com"

[roles.deploy]
policies = ["PowerUserAccess"]
[roles.deploy.trust_document]
Version = "2012-10-17"
Statement = [{ Effect = "Allow", Principal = { Federated = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com" }, Action = "sts:AssumeRoleWithWebIdentity", Condition = { StringEquals = { "token.actions.githubusercontent.com:aud" = "sts.amazonaws.com" } } }]
"#,
            "open.toml:7:1: the trust policy of role `deploy`: statement 1 lets any identity of provider token.actions.githubusercontent.com assume the role: no StringEquals or StringLike condition pins `token.actions.githubusercontent.com:sub`",
        ),
        (
            "star.toml",
            r#"version = 1
[oidc_providers.github]
url = "https://token.actions.githubusercontent.com"

[roles.deploy]
policies = ["PowerUserAccess"]
trust = { oidc = { provider = "github", conditions = { StringLike = { "token.actions.githubusercontent.com:sub" = ["repo:acme/app:ref:refs/heads/main", "*"] } } } }
"#,
            "star.toml:7:9: the trust policy of role `deploy`: statement 1 lets any identity of provider token.actions.githubusercontent.com assume the role: its StringLike condition on `token.actions.githubusercontent.com:sub` allows \"*\"",
        ),
    ];
    let proxy = Proxy::start(&account.endpoint);
    for (file, text, expected) in cases {
        let spec = account.spec(file, text);
        for command in ["plan", "apply"] {
            let run = account
                .run_via(&proxy.url, &[command, spec.to_str().unwrap()])
                .expect(1);
            assert!(run.stderr.contains(expected), "{}", run.stderr);
        }
    }
    assert_eq!(proxy.actions(), Vec::<String>::new(), "no call at all");
    assert_eq!(role_names(&account).await, Vec::<String>::new());
}

#[tokio::test]
async fn prune_deletes_a_role_that_left_the_spec_and_export_round_trips() {
    let account = Account::new().await;
    let spec = roles_spec(&account);
    account.run(&["apply", &spec, "--yes"]).expect(0);

    // Export the whole account: its spec plans nothing, with the shorthands where they fit.
    account.run(&["export", "--out", "exported"]).expect(0);
    let dir = account.dir.path().join("exported");
    let exported = std::fs::read_to_string(dir.join("spec.toml")).unwrap();
    for expected in [
        "[oidc_providers.github]\nurl = \"https://token.actions.githubusercontent.com\"",
        "[roles.app-server]\npolicies = [\"AmazonS3ReadOnlyAccess\"]\ninstance_profile = true",
        "[roles.app-server.trust]\nservices = [\"ec2.amazonaws.com\"]",
        "[roles.auditor.trust]\naccounts = [\"111111111111\"]\nexternal_id = \"audit-7f3a\"\nmfa = true",
        "[roles.custom]\ntrust_document = \"trust/custom.json\"",
        "boundary = \"DeployBoundary\"\nmax_session = \"2h\"",
        "[roles.deploy.trust.github]\nprovider = \"github\"\nrepo = \"acme/app\"\nrefs = [\"refs/heads/main\"]",
    ] {
        assert!(exported.contains(expected), "{expected}\n---\n{exported}");
    }
    let exported_spec = dir.join("spec.toml");
    plan_is_empty(&account, exported_spec.to_str().unwrap());

    // The app server leaves the spec: a prune deletes it and its instance profile, and
    // reports the rest as it was.
    let text = std::fs::read_to_string(&spec).unwrap();
    let start = text.find("[roles.app-server]").unwrap();
    let end = text.find("[roles.auditor]").unwrap();
    let without = format!("{}{}", &text[..start], &text[end..]);
    let smaller = account.spec("smaller.toml", &without);
    let smaller = smaller.to_str().unwrap();
    let drift = account.run(&["plan", smaller]).expect(0);
    assert!(
        drift
            .stdout
            .contains("role app-server is owned by this spec (by its tag or scope) but the spec no longer names it"),
        "{}",
        drift.stdout
    );
    let pruned = account
        .run(&["apply", smaller, "--prune", "--yes"])
        .expect(0);
    for step in [
        "remove role app-server from instance profile app-server",
        "detach policy AmazonS3ReadOnlyAccess from role app-server",
        "delete instance profile app-server",
        "delete role app-server",
    ] {
        assert!(pruned.stdout.contains(step), "{step}\n{}", pruned.stdout);
    }
    assert_eq!(role_names(&account).await, ["auditor", "custom", "deploy"]);
    let profiles = account.iam().list_instance_profiles().send().await.unwrap();
    assert!(profiles.instance_profiles().is_empty());
    account
        .run(&["plan", smaller, "--prune", "--detailed-exitcode"])
        .expect(0);
}

/// A spec policy attached from outside to a role IAM Identity Center made: a replacement
/// (new path) is refused saying what to do, and a prune keeps the policy, saying why; the
/// role keeps its attachment through both.
#[tokio::test]
async fn a_spec_policy_on_an_identity_center_role_is_never_detached_from_it() {
    let account = Account::new().await;
    let iam = account.iam();
    let policy = |path: &str| {
        format!(
            "version = 1\n[policies.StackBuilder]\npath = \"{path}\"\ndocument = {{ Version = \"2012-10-17\", Statement = [{{ Effect = \"Allow\", Action = \"cloudformation:DescribeStacks\", Resource = \"*\" }}] }}\n"
        )
    };
    account.spec("spec.toml", &policy("/"));
    account.run(&["apply", "spec.toml", "--yes"]).expect(0);
    let sso = "AWSReservedSSO_Developers_0123456789abcdef";
    iam.create_role()
        .role_name(sso)
        .path("/aws-reserved/sso.amazonaws.com/")
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:saml-provider/AWSSSO_0123_DO_NOT_DELETE"},"Action":["sts:AssumeRoleWithSAML","sts:TagSession"]}]}"#)
        .send()
        .await
        .unwrap();
    let arn = format!("arn:aws:iam::{}:policy/StackBuilder", account.id);
    iam.attach_role_policy()
        .role_name(sso)
        .policy_arn(&arn)
        .send()
        .await
        .unwrap();
    let attached = || async {
        iam.list_attached_role_policies()
            .role_name(sso)
            .send()
            .await
            .unwrap()
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn().map(str::to_owned))
            .collect::<Vec<_>>()
    };

    account.spec("spec.toml", &policy("/ci/"));
    let proxy = Proxy::start(&account.endpoint);
    let refused = account
        .run_via(&proxy.url, &["apply", "spec.toml", "--yes"])
        .expect(1);
    assert!(
        refused.stderr.contains(&format!("policy `StackBuilder` must be replaced because its path changes from / to /ci/, but it is attached to role {sso}, which IAM Identity Center manages and iamspec never changes")),
        "{}",
        refused.stderr
    );
    assert!(
        !proxy
            .mutating()
            .iter()
            .any(|a| a.starts_with("Detach") || a == "DeletePolicy"),
        "{:?}",
        proxy.mutating()
    );

    account.spec("spec.toml", "version = 1\n");
    let pruned = account
        .run(&["apply", "spec.toml", "--prune", "--yes"])
        .expect(0);
    assert!(
        pruned.stdout.contains(&format!("policy StackBuilder: it stays attached to role {sso}, which IAM Identity Center manages and iamspec never changes, so it is not deleted")),
        "{}",
        pruned.stdout
    );
    assert_eq!(attached().await, [arn]);
}

/// The same through a boundary: a spec policy that bounds a role a `CloudFormation` stack
/// made is not deleted by a prune (that would take the boundary off the stack's role).
#[tokio::test]
async fn a_spec_policy_bounding_a_stacks_role_is_kept_by_a_prune() {
    let account = Account::new().await;
    let iam = account.iam();
    account.spec(
        "spec.toml",
        "version = 1\n[policies.Ceiling]\ndocument = { Version = \"2012-10-17\", Statement = [{ Effect = \"Allow\", Action = \"s3:*\", Resource = \"*\" }] }\n",
    );
    account.run(&["apply", "spec.toml", "--yes"]).expect(0);
    let arn = format!("arn:aws:iam::{}:policy/Ceiling", account.id);
    iam.create_role()
        .role_name("app-stack-FunctionRole")
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#)
        .permissions_boundary(&arn)
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("aws:cloudformation:stack-name")
                .value("app-stack")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    account.spec("spec.toml", "version = 1\n");
    let proxy = Proxy::start(&account.endpoint);
    let pruned = account
        .run_via(&proxy.url, &["apply", "spec.toml", "--prune", "--yes"])
        .expect(0);
    assert!(
        pruned.stdout.contains("policy Ceiling: it stays the permissions boundary of role app-stack-FunctionRole, which CloudFormation manages and iamspec never changes, so it is not deleted"),
        "{}",
        pruned.stdout
    );
    assert_eq!(
        proxy.mutating(),
        Vec::<String>::new(),
        "nothing to do, no call that writes"
    );
    let role = iam
        .get_role()
        .role_name("app-stack-FunctionRole")
        .send()
        .await
        .unwrap();
    let boundary = role
        .role()
        .and_then(|r| r.permissions_boundary())
        .and_then(|b| b.permissions_boundary_arn());
    assert_eq!(boundary, Some(arn.as_str()));
}

#[tokio::test]
async fn a_role_aws_manages_is_never_touched_or_exported() {
    let account = Account::new().await;
    let iam = account.iam();
    iam.create_role()
        .role_name("AWSServiceRoleForSupport")
        .path("/aws-service-role/support.amazonaws.com/")
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"support.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#)
        .send()
        .await
        .unwrap();
    let spec = account.spec(
        "claim.toml",
        r#"version = 1
[account]
scope = "/aws-service-role/"
[roles.AWSServiceRoleForSupport]
trust = { services = ["support.amazonaws.com"] }
"#,
    );
    let refused = account.run(&["plan", spec.to_str().unwrap()]).expect(1);
    assert!(
        refused
            .stderr
            .contains("role `AWSServiceRoleForSupport` is managed by AWS (a service-linked role), and iamspec never changes such a role"),
        "{}",
        refused.stderr
    );
    let other = account.spec(
        "scope.toml",
        "version = 1\n[account]\nscope = \"/aws-service-role/\"\n",
    );
    let pruned = account
        .run(&["apply", other.to_str().unwrap(), "--prune", "--yes"])
        .expect(0);
    assert!(
        pruned.stdout.starts_with("No changes."),
        "{}",
        pruned.stdout
    );
    account.run(&["export", "--out", "exported"]).expect(0);
    let exported = std::fs::read_to_string(account.dir.path().join("exported/spec.toml")).unwrap();
    assert!(
        exported.contains(
            "# Not exported: role AWSServiceRoleForSupport is managed by AWS (a service-linked role)."
        ),
        "{exported}"
    );
    assert!(!exported.contains("[roles."), "{exported}");
}
