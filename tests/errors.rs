//! What users see when something is wrong: one clear sentence, exit code 1, and no change to
//! the account. Calls are counted by a proxy, so "no call" is checked, not assumed.

mod support;

use std::io::Read;
use std::process::Stdio;

use support::proxy::Proxy;
use support::{Account, Run, iamspec, write_temp};

#[tokio::test]
async fn an_invalid_spec_makes_no_call_at_all() {
    let account = Account::new().await;
    let spec = account.spec(
        "spec.toml",
        "version = 1\n[groups.Developers]\n[users.koding-user]\npolices = [\"AmazonEC2FullAccess\"]\n",
    );
    let proxy = Proxy::start(&account.endpoint);
    let spec = spec.to_str().unwrap();
    for args in [&["plan", spec][..], &["apply", spec, "--yes"]] {
        let run = account.run_via(&proxy.url, args).expect(1);
        assert_eq!(
            run.stderr,
            format!(
                "error: {spec}:4:1: unknown key `polices`; did you mean `policies`? (allowed here: path, groups, policies, addons, inline, access_key, console, require_mfa, boundary, tags)\n"
            )
        );
        assert!(run.stdout.is_empty());
    }
    assert_eq!(proxy.actions(), Vec::<String>::new());
}

/// `iamspec apply SPEC --yes` on a fresh account through a counting proxy, expecting failure.
async fn refused_apply(spec: &str) -> (Account, String, Run, Proxy) {
    let account = Account::new().await;
    let path = account.spec("spec.toml", spec).display().to_string();
    let proxy = Proxy::start(&account.endpoint);
    let run = account
        .run_via(&proxy.url, &["apply", &path, "--yes"])
        .expect(1);
    (account, path, run, proxy)
}

#[tokio::test]
async fn an_unknown_policy_is_named_with_the_closest_real_one_before_any_change() {
    let (_, spec, run, proxy) = refused_apply(
        "version = 1\n[groups.Developers]\npolicies = [\"AmazonEC2FullAcess\", \"job-function/ViewOnlyAccess\"]\n[users.koding-user]\ngroups = [\"Developers\"]\n",
    )
    .await;
    assert_eq!(
        run.stderr,
        format!(
            "error: {spec}:3:13: policy `AmazonEC2FullAcess` is not an AWS-managed policy; did you mean `AmazonEC2FullAccess`?\n"
        )
    );
    assert_eq!(proxy.mutating(), Vec::<String>::new());
}

#[tokio::test]
async fn credentials_for_another_account_are_refused_before_any_change() {
    let (account, _, run, proxy) =
        refused_apply("version = 1\n[account]\nid = \"000000000000\"\n[groups.Developers]\n").await;
    assert_eq!(
        run.stderr,
        format!(
            "error: the spec is for account 000000000000 but the credentials (arn:aws:sts::{id}:assumed-role/iamspec-test/iamspec-test) are for account {id}: use credentials for 000000000000, or change [account] id\n",
            id = account.id
        )
    );
    assert_eq!(proxy.actions(), ["GetCallerIdentity"]);
}

#[tokio::test]
async fn the_right_account_id_is_accepted() {
    let account = Account::new().await;
    let spec = account.spec(
        "spec.toml",
        &format!(
            "version = 1\n[account]\nid = \"{}\"\n[groups.Developers]\n",
            account.id
        ),
    );
    account
        .run(&["apply", spec.to_str().unwrap(), "--yes"])
        .expect(0);
}

#[tokio::test]
async fn apply_without_a_terminal_asks_for_yes_and_changes_nothing() {
    let account = Account::new().await;
    let spec = support::repo_spec("koding.toml");
    let proxy = Proxy::start(&account.endpoint);
    let run = account
        .run_via(&proxy.url, &["apply", spec.to_str().unwrap()])
        .expect(1);
    assert!(
        run.stdout.contains("Plan: 6 to add"),
        "the plan is shown first: {}",
        run.stdout
    );
    assert_eq!(
        run.stderr,
        "error: apply needs a confirmation but standard input is not a terminal: review the changes with `iamspec plan`, then run `iamspec apply --yes`\n"
    );
    assert_eq!(proxy.mutating(), Vec::<String>::new());
}

#[test]
fn missing_credentials_are_one_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_temp(dir.path(), "spec.toml", "version = 1\n");
    let run = Run::from(
        iamspec(&["plan", spec.to_str().unwrap()], dir.path())
            .output()
            .unwrap(),
    )
    .expect(1);
    assert_eq!(
        run.stderr,
        "error: no AWS credentials found in the environment, ~/.aws or an instance role: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, pass --profile, or run `aws sso login`\n"
    );
}

#[test]
fn an_unknown_profile_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_temp(dir.path(), "spec.toml", "version = 1\n");
    let run = Run::from(
        iamspec(
            &["plan", spec.to_str().unwrap(), "--profile", "nope"],
            dir.path(),
        )
        .output()
        .unwrap(),
    )
    .expect(1);
    assert!(
        run.stderr
            .starts_with("error: no AWS credentials found in profile `nope`"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
}

#[test]
fn an_unreachable_endpoint_is_one_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_temp(dir.path(), "spec.toml", "version = 1\n");
    let run = Run::from(
        iamspec(
            &[
                "plan",
                spec.to_str().unwrap(),
                "--endpoint-url",
                "http://127.0.0.1:9",
            ],
            dir.path(),
        )
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .output()
        .unwrap(),
    )
    .expect(1);
    assert_eq!(
        run.stderr,
        "error: could not find out who the caller is (sts:GetCallerIdentity): could not reach the AWS endpoint: Connection refused (os error 111); check the network, --region and --endpoint-url (or AWS_ENDPOINT_URL)\n"
    );
}

#[tokio::test]
async fn a_closed_pipe_ends_quietly() {
    let account = Account::new().await;
    let spec = support::repo_spec("koding-route53.toml");
    let mut child = account
        .command(&["plan", spec.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close our end before iamspec writes anything, as `| head` does once it has enough.
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(stderr, "");
}

#[test]
fn validate_works_offline_and_reports_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let good = write_temp(
        dir.path(),
        "good.toml",
        include_str!("../specs/koding-route53.toml"),
    );
    let run = Run::from(
        iamspec(&["validate", good.to_str().unwrap()], dir.path())
            .output()
            .unwrap(),
    )
    .expect(0);
    assert_eq!(
        run.stdout,
        format!(
            "{} is valid: 1 user, 1 group, 0 policies, 2 of 2 checks hold.\n",
            good.display()
        )
    );

    let bad = write_temp(
        dir.path(),
        "bad.toml",
        "version = 1\n[users.\"koding user\"]\ngroups = [\"Developers\"]\n",
    );
    let run = Run::from(
        iamspec(&["validate", bad.to_str().unwrap()], dir.path())
            .output()
            .unwrap(),
    )
    .expect(1);
    assert_eq!(
        run.stderr,
        format!(
            "error: {f}:2:8: user name `koding user` contains ' '; IAM names allow only letters, digits and + = , . @ _ -\n\
             {f}:3:11: group `Developers` is not defined (define it as [groups.Developers])\n",
            f = bad.display()
        )
    );
}

#[test]
fn every_help_text_is_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    for command in [
        &[][..],
        &["plan"],
        &["apply"],
        &["validate"],
        &["lint"],
        &["can"],
        &["who-can"],
        &["export"],
        &["accounts"],
        &["credentials"],
        &["schema"],
        &["completions"],
        &["man"],
    ] {
        let mut args = command.to_vec();
        args.push("--help");
        let run = Run::from(iamspec(&args, dir.path()).output().unwrap()).expect(0);
        let name = if command.is_empty() {
            "iamspec"
        } else {
            command[0]
        };
        insta::assert_snapshot!(format!("help_{name}"), run.stdout);
    }
}

#[test]
fn malformed_arguments_are_refused_with_exit_code_1() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_temp(dir.path(), "spec.toml", "version = 1\n");
    let spec = spec.to_str().unwrap();
    let cases: [(&[&str], &str); 3] = [
        (
            &["plan", spec, "--endpoint-url", "localhost:5000"],
            "error: invalid value 'localhost:5000' for '--endpoint-url <URL>': an endpoint is an http:// or https:// URL, like http://127.0.0.1:5000",
        ),
        (
            &["plan", spec, "--region", "US East"],
            "error: invalid value 'US East' for '--region <REGION>': a region is lowercase letters, digits and dashes, like us-east-1",
        ),
        (
            &["apply", spec, "--concurrency", "0"],
            "error: invalid value '0' for '--concurrency <N>': 0 is not in 1..=64",
        ),
    ];
    for (args, first_line) in cases {
        let run = Run::from(iamspec(args, dir.path()).output().unwrap()).expect(1);
        assert_eq!(run.stderr.lines().next(), Some(first_line), "{args:?}");
    }
}

#[test]
fn validate_shows_warnings_and_still_passes() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_temp(
        dir.path(),
        "spec.toml",
        "version = 1\n[policies.Deployer]\ndocument = { Version = \"2012-10-17\", Statement = [{ Effect = \"Allow\", Action = \"iam:PassRole\", Resource = \"*\" }] }\n",
    );
    let run = Run::from(
        iamspec(&["validate", spec.to_str().unwrap()], dir.path())
            .output()
            .unwrap(),
    )
    .expect(0);
    assert_eq!(
        run.stderr,
        format!(
            "warning: {}:3:12: the document of policy `Deployer`: statement 1 allows `iam:PassRole` on every resource: any role, admin roles included, can be passed to a service; name the roles in `Resource`\n",
            spec.display()
        )
    );
    assert!(
        run.stdout
            .ends_with("is valid: 0 users, 0 groups, 1 policy.\n"),
        "{}",
        run.stdout
    );
}
