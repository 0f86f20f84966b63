//! Every promise tried the way it breaks in life: two applies at once, a key set aside by
//! hand, another owner's user under the scope, credentials for two accounts, a secrets
//! directory git would commit, a spec that points at the runner's files, endpoints that never
//! answer, a closed pipe, a lock left behind. Nothing is lost, nothing unowned is touched, and
//! every failure is a clear message and a non-zero exit within seconds.

mod support;

use std::fmt::Write as _;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use aws_sdk_iam::types::{StatusType, Tag};
use support::proxy::{Behaviour, Proxy};
use support::{Account, Run};

fn team_spec(users: usize) -> String {
    let mut spec = String::from("version = 1\n");
    for i in 0..users {
        let _ = write!(spec, "[users.dev{i:02}]\naccess_key = true\n");
    }
    spec
}

#[tokio::test]
async fn two_applies_at_once_make_one_key_per_user_and_lose_no_secret() {
    const USERS: usize = 20;
    let account = Account::new().await;
    let spec = account.spec("team.toml", &team_spec(USERS));
    let spec = spec.to_str().unwrap();
    // Latency widens the window in which the two would otherwise interleave.
    let proxy = Proxy::with(
        &account.endpoint,
        Behaviour {
            latency: Duration::from_millis(20),
            ..Behaviour::default()
        },
    );
    let start = || account.spawn_via(&proxy.url, &["apply", spec, "--yes"]);
    let (first, second) = (start(), start());
    let first = Run::from(first.wait_with_output().unwrap()).expect(0);
    let second = Run::from(second.wait_with_output().unwrap()).expect(0);
    let waited = [&first, &second]
        .iter()
        .filter(|r| r.stderr.contains("waiting for the apply lock"))
        .count();
    assert_eq!(
        waited, 1,
        "one waited for the other:\n{first:?}\n{second:?}"
    );

    let creates = proxy
        .mutating()
        .iter()
        .filter(|a| *a == "CreateAccessKey")
        .count();
    assert_eq!(creates, USERS, "one key per user, made once");
    for i in 0..USERS {
        let (_, saved) = account.only_key(&format!("dev{i:02}")).await;
        assert!(saved, "dev{i:02}'s secret is on disk");
    }
    account
        .run(&["plan", spec, "--detailed-exitcode"])
        .expect(0);
}

#[tokio::test]
async fn an_older_key_keeps_its_secret_file_when_a_new_key_is_made() {
    let account = Account::new().await;
    let spec = account.spec("one.toml", &team_spec(1));
    let spec = spec.to_str().unwrap();
    account.run(&["apply", spec, "--yes"]).expect(0);
    let (old, _) = account.only_key("dev00").await;
    // Someone sets the key inactive: the spec's active key must be made again.
    account
        .iam()
        .update_access_key()
        .user_name("dev00")
        .access_key_id(&old)
        .status(StatusType::Inactive)
        .send()
        .await
        .unwrap();
    account.run(&["apply", spec, "--yes"]).expect(0);
    let secrets = account.dir.path().join("secrets");
    let kept = std::fs::read_to_string(secrets.join(format!("dev00#{old}.csv"))).unwrap();
    assert!(kept.contains(&format!("dev00,{old},")), "{kept}");
    let current = std::fs::read_to_string(secrets.join("dev00.csv")).unwrap();
    assert!(!current.contains(&old), "{current}");
    assert!(
        current.ends_with(&format!(",{}\n", account.id)),
        "{current}"
    );
}

/// Two real users whose IAM names once gave them one file: `a`, whose first key is set aside
/// when a new one is made, and `a.<that key's id>`; and `x.csv` beside `.pending-x`. Each
/// user's secret stays its own through every apply.
#[tokio::test]
async fn users_with_colliding_names_keep_their_own_secrets() {
    let account = Account::new().await;
    let secrets = account.dir.path().join("secrets");
    let read = |name: &str| std::fs::read_to_string(secrets.join(name)).unwrap_or_default();
    account.spec("a.toml", "version = 1\n[users.a]\naccess_key = true\n");
    account.run(&["apply", "a.toml", "--yes"]).expect(0);
    let (first, _) = account.only_key("a").await;
    account
        .iam()
        .update_access_key()
        .user_name("a")
        .access_key_id(&first)
        .status(StatusType::Inactive)
        .send()
        .await
        .unwrap();
    let hostile = format!(
        "version = 1\n[users.a]\naccess_key = true\n[users.\"a.{first}\"]\naccess_key = true\n[users.\"x.csv\"]\naccess_key = true\n[users.\".pending-x\"]\naccess_key = true\n"
    );
    account.spec("a.toml", &hostile);
    account.run(&["apply", "a.toml", "--yes"]).expect(0);
    account.run(&["apply", "a.toml", "--yes"]).expect(0);
    for user in [
        "a".to_owned(),
        format!("a.{first}"),
        "x.csv".into(),
        ".pending-x".into(),
    ] {
        let keys = account.keys(&user).await;
        let active: Vec<&String> = keys.iter().filter(|(_, a)| *a).map(|(id, _)| id).collect();
        assert_eq!(active.len(), 1, "{user}: {keys:?}");
        let current = read(&format!("{user}.csv"));
        assert!(
            current.contains(&format!("\n{user},{},", active[0])),
            "{user}'s own file holds its own key: {current}"
        );
    }
    assert!(read(&format!("a#{first}.csv")).contains(&format!("\na,{first},")));
    account
        .run(&["plan", "a.toml", "--detailed-exitcode"])
        .expect(0);
}

#[tokio::test]
async fn a_prune_never_deletes_another_owners_user_under_its_scope() {
    let account = Account::new().await;
    account
        .iam()
        .create_user()
        .user_name("theirs")
        .path("/koding/")
        .tags(
            Tag::builder()
                .key("iamspec:owner")
                .value("payments")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let spec = account.spec(
        "scoped.toml",
        "version = 1\n[account]\nscope = \"/koding/\"\n[users.mine]\npath = \"/koding/\"\n",
    );
    let spec = spec.to_str().unwrap();
    let run = account.run(&["apply", spec, "--yes", "--prune"]).expect(0);
    assert!(!run.stdout.contains("theirs"), "{}", run.stdout);
    account
        .iam()
        .get_user()
        .user_name("theirs")
        .send()
        .await
        .expect("another owner's user is still there");
}

#[tokio::test]
async fn a_named_profile_wins_over_credentials_in_the_environment() {
    let account = Account::new().await;
    let c = account.credentials();
    let home = account.dir.path();
    std::fs::create_dir_all(home.join(".aws")).unwrap();
    std::fs::write(
        home.join(".aws/credentials"),
        format!(
            "[right]\naws_access_key_id = {}\naws_secret_access_key = {}\naws_session_token = {}\n",
            c.access_key_id(),
            c.secret_access_key(),
            c.session_token().unwrap()
        ),
    )
    .unwrap();
    let spec = account.spec(
        "pinned.toml",
        &format!("version = 1\n[account]\nid = \"{}\"\n", account.id),
    );
    let spec = spec.to_str().unwrap();
    // The environment holds credentials of moto's default account, not this one.
    let run = |args: &[&str], profile: Option<&str>| {
        let mut command = support::iamspec(args, home);
        command
            .env("AWS_ENDPOINT_URL", &account.endpoint)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test");
        if let Some(profile) = profile {
            command.env("AWS_PROFILE", profile);
        }
        Run::from(command.output().unwrap())
    };
    let wrong = run(&["plan", spec], None).expect(1);
    assert!(
        wrong.stderr.contains("but the credentials"),
        "{}",
        wrong.stderr
    );
    run(&["plan", spec, "--profile", "right"], None).expect(0);
    run(&["plan", spec], Some("right")).expect(0);
}

#[tokio::test]
async fn a_secrets_directory_that_would_leak_is_refused_before_any_change() {
    let account = Account::new().await;
    let spec = account.spec("one.toml", &team_spec(1));
    let spec = spec.to_str().unwrap();
    let proxy = Proxy::start(&account.endpoint);
    let dir = account.dir.path();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    // The repository root itself, readable by everyone.
    let run = account
        .run_via(&proxy.url, &["apply", spec, "--yes", "--secrets-dir", "."])
        .expect(1);
    assert!(
        run.stderr
            .contains("can be read by others (mode 755): run `chmod 700 .`"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::metadata(dir).unwrap().permissions().mode() & 0o777,
        0o755,
        "never chmod-ed"
    );
    // A private directory in a git work tree that git would add.
    let git = std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(git.success());
    let keys = dir.join("keys");
    std::fs::create_dir(&keys).unwrap();
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o700)).unwrap();
    let run = account
        .run_via(
            &proxy.url,
            &["apply", spec, "--yes", "--secrets-dir", "keys"],
        )
        .expect(1);
    assert!(
        run.stderr.contains("git does not ignore it"),
        "{}",
        run.stderr
    );
    assert!(
        proxy.mutating().is_empty(),
        "nothing was changed: {:?}",
        proxy.mutating()
    );
    assert!(
        std::fs::read_dir(&keys).unwrap().next().is_none(),
        "nothing written"
    );
}

#[tokio::test]
async fn a_spec_cannot_read_the_runners_files() {
    let account = Account::new().await;
    let proxy = Proxy::start(&account.endpoint);
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(
        outside.path().join("credentials.json"),
        r#"{"AccessKeyId": "AKIAOUTSIDE", "SecretAccessKey": "hunter2"}"#,
    )
    .unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("credentials.json"),
        account.dir.path().join("link.json"),
    )
    .unwrap();
    let escape = outside.path().join("credentials.json");
    for document in [
        escape.to_str().unwrap(),
        "link.json",
        "/dev/zero",
        "/etc/passwd",
    ] {
        let spec = account.spec(
            "evil.toml",
            &format!("version = 1\n[policies.P]\ndocument = {document:?}\n"),
        );
        let run = account
            .run_via(&proxy.url, &["plan", spec.to_str().unwrap()])
            .expect(1);
        assert!(
            run.stderr.contains("outside the spec's directory"),
            "{document}: {}",
            run.stderr
        );
        assert!(!run.stderr.contains("hunter2") && !run.stderr.contains("root:"));
    }
    assert!(proxy.actions().is_empty(), "an invalid spec makes no call");
}

#[test]
fn a_spec_can_come_from_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = support::iamspec(&["validate", "-"], dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"version = 1\n[users.a]\n")
        .unwrap();
    let run = Run::from(child.wait_with_output().unwrap()).expect(0);
    assert_eq!(run.stdout, "- is valid: 1 user, 0 groups, 0 policies.\n");
}

/// `iamspec plan` of the guide's spec against `endpoint`, timed.
fn plan_against(endpoint: &str, extra: &[&str]) -> (Run, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let spec = support::repo_spec("koding.toml");
    let mut args = vec!["plan", spec.to_str().unwrap()];
    args.extend_from_slice(extra);
    let mut command = support::iamspec(&args, dir.path());
    command
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_ENDPOINT_URL", endpoint);
    let started = Instant::now();
    let run = Run::from(command.output().unwrap());
    (run.expect(1), started.elapsed())
}

#[test]
fn endpoints_that_cannot_work_fail_in_seconds_with_a_clear_message() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let cases = [
        (format!("http://127.0.0.1:{port}"), "Connection refused"),
        (
            "ftp://127.0.0.1:21".to_owned(),
            "AWS_ENDPOINT_URL: an endpoint is an http:// or https:// URL",
        ),
        (
            String::new(),
            "AWS_ENDPOINT_URL: it is set but empty: unset it, or give it a URL",
        ),
        (
            "http://iamspec-test.invalid".to_owned(),
            "could not reach the AWS endpoint",
        ),
    ];
    for (endpoint, says) in cases {
        let (run, took) = plan_against(&endpoint, &[]);
        assert!(run.stderr.contains(says), "{endpoint:?}: {}", run.stderr);
        assert!(took < Duration::from_secs(5), "{endpoint:?} took {took:?}");
    }
}

#[test]
fn an_endpoint_that_never_answers_fails_within_the_timeouts() {
    // Accepts connections, reads nothing, answers nothing.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", silent.local_addr().unwrap());
    let held = std::thread::spawn(move || {
        let mut open = Vec::new();
        for stream in silent.incoming().take(20) {
            open.push(stream);
        }
    });
    let (run, took) = plan_against(
        &endpoint,
        &["--call-timeout", "1s", "--retry-timeout", "3s"],
    );
    assert!(run.stderr.contains("the call timed out"), "{}", run.stderr);
    assert!(took < Duration::from_secs(10), "took {took:?}");
    drop(held);
}

#[tokio::test]
async fn a_failed_apply_exits_non_zero_even_when_its_output_pipe_closed() {
    let account = Account::new().await;
    let spec = support::repo_spec("koding.toml");
    let proxy = Proxy::with(
        &account.endpoint,
        Behaviour {
            deny: Some("AddUserToGroup"),
            ..Behaviour::default()
        },
    );
    let mut command = account.command(&["apply", spec.to_str().unwrap(), "--yes"]);
    command
        .env("AWS_ENDPOINT_URL", &proxy.url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = command.spawn().unwrap();
    // `| head -0`: the reader goes away before anything is written.
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1));
}

/// Leaves a lock as another apply would, with these tags.
async fn leave_lock(account: &Account, tags: &[(&str, &str)]) {
    let mut call = account
        .iam()
        .create_policy()
        .policy_name("iamspec-lock-iamspec")
        .path("/iamspec-lock/")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:GetUser","Resource":"arn:aws:iam::*:user/none"}]}"#,
        );
    for (key, value) in tags {
        call = call.tags(Tag::builder().key(*key).value(*value).build().unwrap());
    }
    call.send().await.unwrap();
}

#[tokio::test]
async fn a_lock_another_apply_holds_is_waited_for_then_refused_with_who_holds_it() {
    let account = Account::new().await;
    leave_lock(
        &account,
        &[
            ("iamspec:lock-token", "theirs"),
            (
                "iamspec:lock-holder",
                "arn:aws:iam::1:user/ci on runner-7 pid 42",
            ),
            ("iamspec:lock-since", "2026-11-24T10:00:00Z"),
            ("iamspec:lock-expires", "2999-01-01T00:00:00Z"),
            ("iamspec:lock-process", "another-machine/1/42/7"),
        ],
    )
    .await;
    let spec = support::repo_spec("koding.toml");
    let spec = spec.to_str().unwrap();
    let started = Instant::now();
    let run = account
        .run(&["apply", spec, "--yes", "--lock-timeout", "3s"])
        .expect(1);
    assert!(started.elapsed() >= Duration::from_secs(3));
    assert!(
        run.stderr.contains(
            "another apply for this account and owner holds the lock: arn:aws:iam::1:user/ci on runner-7 pid 42 since 2026-11-24T10:00:00Z"
        ),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(&account.lock_arn()), "{}", run.stderr);
    let users = account.iam().list_users().send().await.unwrap();
    assert!(users.users().is_empty(), "nothing was changed");
    // No spec can own the lock's path, and an export of everything leaves the lock out.
    let claim = account.spec(
        "claim.toml",
        "version = 1\n[account]\nscope = \"/iamspec-lock/\"\nprune = true\n",
    );
    let refused = account.run(&["plan", claim.to_str().unwrap()]).expect(1);
    assert!(
        refused.stderr.contains("is iamspec's own"),
        "{}",
        refused.stderr
    );
    account.run(&["export", "--out", "all"]).expect(0);
    let exported = std::fs::read_to_string(account.dir.path().join("all/spec.toml")).unwrap();
    assert!(!exported.contains("iamspec-lock"), "{exported}");
}

#[tokio::test]
async fn a_lock_whose_holder_died_is_taken_over() {
    let spec = support::repo_spec("koding.toml");
    let spec = spec.to_str().unwrap();
    // Its lease ran out (a runner that vanished).
    let expired = Account::new().await;
    leave_lock(
        &expired,
        &[
            ("iamspec:lock-token", "theirs"),
            ("iamspec:lock-expires", "2020-01-01T00:00:00Z"),
            ("iamspec:lock-process", "another-machine/1/42/7"),
        ],
    )
    .await;
    expired
        .run(&["apply", spec, "--yes", "--lock-timeout", "0"])
        .expect(0);
    // A killed apply of this machine: no need to wait for its lease.
    let killed = Account::new().await;
    let mut victim = killed
        .command(&["apply", spec, "--yes"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !killed.lock_held().await {
        assert!(started.elapsed() < Duration::from_secs(30), "no lock taken");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    victim.kill().unwrap();
    victim.wait().unwrap();
    let lock_left = killed.lock_held().await;
    let run = killed
        .run(&["apply", spec, "--yes", "--lock-timeout", "0"])
        .expect(0);
    if lock_left {
        assert!(!run.stderr.contains("waiting"), "{}", run.stderr);
    }
    killed.run(&["plan", spec, "--detailed-exitcode"]).expect(0);
    // And the lock is gone when the apply ends.
    assert!(!killed.lock_held().await);
}
