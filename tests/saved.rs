//! Saved plans against the local IAM endpoint: `plan --out FILE` then `apply FILE` applies
//! exactly what was reviewed, and refuses (exit 1, nothing changed) when the account, the
//! spec or the credentials' account are not what the plan was made for.

mod support;

use std::time::Duration;

use support::proxy::{Behaviour, Proxy};
use support::{Account, Run};

const GUIDE: &str = include_str!("../specs/koding.toml");
const ROUTE53: &str = include_str!("../specs/koding-route53.toml");

/// The IAM calls a saved plan holds, in its order.
fn saved_calls(account: &Account, file: &str) -> Vec<String> {
    let text = std::fs::read_to_string(account.dir.path().join(file)).unwrap();
    let saved: serde_json::Value = serde_json::from_str(&text).unwrap();
    saved["plan"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|change| {
            change["op"]
                .as_str()
                .unwrap()
                .split('_')
                .map(|word| {
                    let mut chars = word.chars();
                    let first = chars.next().unwrap().to_ascii_uppercase();
                    std::iter::once(first).chain(chars).collect::<String>()
                })
                .collect()
        })
        .collect()
}

/// Runs `apply FILE` in `account` and checks that it is refused saying `says`, with no call
/// that changes the account beyond taking the apply lock and giving it back.
fn refused(account: &Account, file: &str, says: &str) {
    let proxy = Proxy::start(&account.endpoint);
    let run = account.run_via(&proxy.url, &["apply", file]).expect(1);
    assert!(run.stderr.contains(says), "{}", run.stderr);
    assert_eq!(proxy.mutating(), ["CreatePolicy", "DeletePolicy"]);
}

/// Runs `apply FILE` in `account` and checks that it is refused saying `says` before any call.
fn refused_before_any_call(account: &Account, file: &str, says: &str) {
    let proxy = Proxy::start(&account.endpoint);
    let run = account.run_via(&proxy.url, &["apply", file]).expect(1);
    assert!(run.stderr.contains(says), "{}", run.stderr);
    assert_eq!(proxy.actions(), Vec::<String>::new(), "no call at all");
}

#[tokio::test]
async fn a_saved_plan_applies_exactly_its_changes_and_holds_no_secret() {
    let account = Account::new().await;
    account.spec("spec.toml", GUIDE);
    let run = account
        .run(&["plan", "spec.toml", "--out", "reviewed.plan"])
        .expect(0);
    assert!(run.stdout.contains("Plan: 6 to add"), "{}", run.stdout);
    assert!(
        run.stderr.contains("Saved the plan to reviewed.plan"),
        "{}",
        run.stderr
    );
    let text = std::fs::read_to_string(account.dir.path().join("reviewed.plan")).unwrap();
    let credentials = account.credentials();
    assert!(!text.contains(credentials.secret_access_key()));
    assert!(!text.contains(credentials.session_token().unwrap()));
    let planned = saved_calls(&account, "reviewed.plan");
    assert_eq!(
        planned,
        [
            "CreateGroup",
            "CreateUser",
            "AttachGroupPolicy",
            "AttachGroupPolicy",
            "AddUserToGroup",
            "CreateAccessKey"
        ]
    );

    let proxy = Proxy::start(&account.endpoint);
    // No --yes and no terminal: a saved plan was reviewed when it was made. Applied from
    // another directory (a CI step's own), it still finds the spec it was made from.
    let elsewhere = account.dir.path().join("ci-step");
    std::fs::create_dir(&elsewhere).unwrap();
    let mut command =
        account.command(&["apply", "../reviewed.plan", "--secrets-dir", "../secrets"]);
    command
        .current_dir(&elsewhere)
        .env("AWS_ENDPOINT_URL", &proxy.url);
    let run = Run::from(command.output().unwrap()).expect(0);
    assert!(
        run.stdout.contains("Apply complete: 6 changes made."),
        "{}",
        run.stdout
    );
    // The saved calls, between taking the apply lock (CreatePolicy) and giving it back.
    let mut made = proxy.mutating();
    assert_eq!(made.first().map(String::as_str), Some("CreatePolicy"));
    assert_eq!(made.pop().as_deref(), Some("DeletePolicy"));
    made.remove(0);
    made.sort();
    // The saved changes, and the new key's mark.
    let mut planned = planned;
    planned.push("TagUser".to_owned());
    planned.sort();
    assert_eq!(made, planned);
    assert!(
        account.only_key("koding-user").await.1,
        "the key's secret is saved"
    );

    account
        .run(&["plan", "spec.toml", "--detailed-exitcode"])
        .expect(0);
    // A plan of nothing applies as nothing, without taking the lock.
    account
        .run(&["plan", "spec.toml", "--out", "empty.plan"])
        .expect(0);
    let proxy = Proxy::start(&account.endpoint);
    let run = account
        .run_via(&proxy.url, &["apply", "empty.plan"])
        .expect(0);
    assert!(
        run.stdout.contains("has no changes: nothing to do"),
        "{}",
        run.stdout
    );
    assert_eq!(proxy.mutating(), Vec::<String>::new());
    // Applied twice, it refuses: what it created exists now.
    refused(
        &account,
        "reviewed.plan",
        "the account changed since the plan was saved: user koding-user was created",
    );
}

#[tokio::test]
async fn a_hand_change_after_the_plan_refuses_it_naming_the_change() {
    let account = Account::new().await;
    account.spec("spec.toml", GUIDE);
    account.run(&["apply", "spec.toml", "--yes"]).expect(0);
    account.spec("spec.toml", ROUTE53);
    account
        .run(&["plan", "spec.toml", "--out", "route53.plan"])
        .expect(0);

    // Someone attaches a policy to the group by hand before the plan is applied.
    account
        .iam()
        .attach_group_policy()
        .group_name("Developers")
        .policy_arn("arn:aws:iam::aws:policy/ReadOnlyAccess")
        .send()
        .await
        .unwrap();

    refused(
        &account,
        "route53.plan",
        "the account changed since the plan was saved: group Developers: its managed policies changed. Nothing was changed: make the plan again and review it",
    );
    assert!(!account.lock_held().await);

    // A new plan, made after the change, applies.
    account
        .run(&["plan", "spec.toml", "--out", "route53.plan"])
        .expect(0);
    account.run(&["apply", "route53.plan"]).expect(0);
    account
        .run(&["plan", "spec.toml", "--detailed-exitcode"])
        .expect(0);
}

#[tokio::test]
async fn a_changed_spec_refuses_the_plan_before_any_call() {
    let account = Account::new().await;
    account.spec("spec.toml", GUIDE);
    account
        .run(&["plan", "spec.toml", "--out", "guide.plan"])
        .expect(0);
    account.spec("spec.toml", ROUTE53);
    refused_before_any_call(
        &account,
        "guide.plan",
        "/spec.toml changed since the plan was saved (the spec's text changed)",
    );
}

#[tokio::test]
async fn a_plan_for_another_account_is_refused() {
    let planned = Account::new().await;
    let spec = planned.spec("spec.toml", GUIDE);
    let file = planned.dir.path().join("guide.plan");
    planned
        .run(&[
            "plan",
            spec.to_str().unwrap(),
            "--out",
            file.to_str().unwrap(),
        ])
        .expect(0);
    let other = Account::new().await;
    let proxy = Proxy::start(&other.endpoint);
    let run = other
        .run_via(&proxy.url, &["apply", file.to_str().unwrap()])
        .expect(1);
    assert!(
        run.stderr.contains(&format!(
            "the plan was made for account {}, but these credentials are for account {}",
            planned.id, other.id
        )),
        "{}",
        run.stderr
    );
    assert_eq!(proxy.mutating(), Vec::<String>::new());
}

#[tokio::test]
async fn what_a_saved_plan_cannot_take_is_refused_before_any_call() {
    let account = Account::new().await;
    account.spec("spec.toml", GUIDE);
    let unreachable = "http://127.0.0.1:9";
    let run = account
        .run_via(unreachable, &["plan", "-", "--out", "x.plan"])
        .expect(1);
    assert!(
        run.stderr.contains("--out needs a spec file"),
        "{}",
        run.stderr
    );
    assert!(!account.dir.path().join("x.plan").exists());

    account
        .run(&["plan", "spec.toml", "--out", "guide.plan"])
        .expect(0);
    let run = account
        .run_via(unreachable, &["apply", "guide.plan", "--prune"])
        .expect(1);
    assert!(
        run.stderr
            .contains("--prune shapes a plan, so a saved plan has it or not already"),
        "{}",
        run.stderr
    );
}

/// The attack that once worked: prune switched on and a deletion appended, to a plan made
/// against an account that has a user the spec does not name. Refused by the seal before any
/// call, and so is an appended attach; the user is still there.
#[tokio::test]
async fn an_edited_plan_file_is_refused_before_any_call() {
    let account = Account::new().await;
    account.spec("spec.toml", GUIDE);
    account.spec("other.toml", "version = 1\n[users.break-glass]\n");
    account.run(&["apply", "other.toml", "--yes"]).expect(0);
    account
        .run(&["plan", "spec.toml", "--out", "guide.plan"])
        .expect(0);
    let path = account.dir.path().join("guide.plan");
    let original: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let edits: [(&str, serde_json::Value); 2] = [
        (
            "prune and a deletion",
            serde_json::json!({"action": "delete", "op": "delete_user", "user": "break-glass"}),
        ),
        (
            "an attach",
            serde_json::json!({
                "action": "create",
                "op": "attach_group_policy",
                "group": "Developers",
                "policy": "arn:aws:iam::aws:policy/AdministratorAccess"
            }),
        ),
    ];
    for (what, change) in edits {
        let mut saved = original.clone();
        if what.starts_with("prune") {
            saved["options"]["prune"] = true.into();
        }
        saved["plan"]["changes"]
            .as_array_mut()
            .unwrap()
            .push(change);
        std::fs::write(&path, serde_json::to_string_pretty(&saved).unwrap()).unwrap();
        refused_before_any_call(
            &account,
            "guide.plan",
            "guide.plan is not sealed as iamspec seals a plan (its seal does not match its content): it was edited or damaged",
        );
    }
    assert!(account.user_exists("break-glass").await);
}

/// With `IAMSPEC_PLAN_KEY` the seal is an HMAC: the plan applies where the same key is set, and
/// is refused where it is not, or where another key is.
#[tokio::test]
async fn a_plan_sealed_under_a_key_applies_only_under_that_key() {
    let account = Account::new().await;
    account.spec("spec.toml", GUIDE);
    account
        .command(&["plan", "spec.toml", "--out", "guide.plan"])
        .env("IAMSPEC_PLAN_KEY", "ci-secret-1")
        .output()
        .map(Run::from)
        .unwrap()
        .expect(0);
    for (key, says) in [
        (
            None,
            "it was sealed with IAMSPEC_PLAN_KEY, which is not set here",
        ),
        (
            Some("ci-secret-2"),
            "its seal does not match its content under IAMSPEC_PLAN_KEY",
        ),
    ] {
        let mut command = account.command(&["apply", "guide.plan"]);
        if let Some(key) = key {
            command.env("IAMSPEC_PLAN_KEY", key);
        }
        let run = Run::from(command.output().unwrap()).expect(1);
        assert!(run.stderr.contains(says), "{}", run.stderr);
    }
    assert!(!account.user_exists("koding-user").await);
    let mut command = account.command(&["apply", "guide.plan"]);
    command.env("IAMSPEC_PLAN_KEY", "ci-secret-1");
    Run::from(command.output().unwrap()).expect(0);
    assert!(account.user_exists("koding-user").await);
}

/// `--out` writes a new file or over an earlier saved plan, and refuses anything else before
/// any call, naming what is there: the spec, one of its documents, a directory, a FIFO (not
/// waited on), a device, a link, another file.
#[tokio::test]
async fn out_never_replaces_what_is_not_a_saved_plan() {
    use std::os::unix::fs::FileTypeExt as _;
    let account = Account::new().await;
    let dir = account.dir.path();
    account.spec("spec.toml", ROUTE53);
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    std::fs::create_dir(dir.join("plans")).unwrap();
    let fifo = dir.join("pipe");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let device = dir.join("null");
    // A character device of our own (as /dev/null is), made only where we may (root, as CI).
    let has_device = std::process::Command::new("mknod")
        .arg(&device)
        .args(["c", "1", "3"])
        .status()
        .is_ok_and(|s| s.success());
    std::os::unix::fs::symlink(dir.join("notes.txt"), dir.join("link")).unwrap();
    account.spec(
        "policy.json",
        r#"{"Version": "2012-10-17", "Statement": []}"#,
    );
    let mut cases = vec![
        ("spec.toml", "the spec"),
        ("policy.json", "a file that is not a saved plan"),
        ("notes.txt", "a file that is not a saved plan"),
        ("plans", "a directory"),
        ("pipe", "a FIFO"),
        ("link", "a symbolic link"),
    ];
    if has_device {
        cases.push(("null", "a device"));
    }
    let proxy = Proxy::start(&account.endpoint);
    for (out, what) in cases {
        let run = account
            .run_via(&proxy.url, &["plan", "spec.toml", "--out", out])
            .expect(1);
        assert!(
            run.stderr.contains(&format!("--out {out} is {what}: a plan is saved only to a new path or over an earlier saved plan")),
            "{}",
            run.stderr
        );
    }
    assert_eq!(proxy.actions(), Vec::<String>::new(), "no call at all");
    assert_eq!(
        std::fs::read_to_string(dir.join("spec.toml")).unwrap(),
        ROUTE53
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("notes.txt")).unwrap(),
        "mine"
    );
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
    if has_device {
        assert!(
            std::fs::symlink_metadata(&device)
                .unwrap()
                .file_type()
                .is_char_device()
        );
    }
    // A new path, then the same path again over the earlier saved plan.
    for _ in 0..2 {
        account
            .run(&["plan", "spec.toml", "--out", "plans/guide.plan"])
            .expect(0);
    }
}

#[tokio::test]
async fn two_applies_of_one_saved_plan_at_once_make_it_once() {
    let account = Account::new().await;
    account.spec("spec.toml", GUIDE);
    account
        .run(&["plan", "spec.toml", "--out", "guide.plan"])
        .expect(0);
    // Latency widens the window in which the two would otherwise interleave.
    let proxy = Proxy::with(
        &account.endpoint,
        Behaviour {
            latency: Duration::from_millis(30),
            ..Behaviour::default()
        },
    );
    let start = || account.spawn_via(&proxy.url, &["apply", "guide.plan"]);
    let (first, second) = (start(), start());
    let runs = [
        Run::from(first.wait_with_output().unwrap()),
        Run::from(second.wait_with_output().unwrap()),
    ];
    let applied: Vec<&Run> = runs.iter().filter(|r| r.code == 0).collect();
    let refused: Vec<&Run> = runs.iter().filter(|r| r.code == 1).collect();
    assert_eq!((applied.len(), refused.len()), (1, 1), "{runs:#?}");
    // The second read the account under the lock, after the first had made the plan real.
    assert!(
        refused[0]
            .stderr
            .contains("the account changed since the plan was saved"),
        "{runs:#?}"
    );
    let creates = proxy
        .mutating()
        .iter()
        .filter(|a| a.starts_with("Create") && *a != "CreatePolicy")
        .count();
    assert_eq!(creates, 3, "group, user and key made once each");
    assert!(account.only_key("koding-user").await.1);
}

#[tokio::test]
async fn a_plan_that_cannot_be_saved_leaves_no_file() {
    let account = Account::new().await;
    account.spec("spec.toml", GUIDE);
    let run = account
        .run(&["plan", "spec.toml", "--out", "missing/dir/guide.plan"])
        .expect(1);
    assert!(
        run.stderr
            .contains("error: could not write missing/dir/guide.plan: "),
        "{}",
        run.stderr
    );
    std::fs::create_dir(account.dir.path().join("taken")).unwrap();
    account
        .run(&["plan", "spec.toml", "--out", "taken"])
        .expect(1);
    let left: Vec<_> = std::fs::read_dir(account.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != "spec.toml" && name != "taken")
        .collect();
    assert_eq!(left, Vec::<String>::new(), "no file, whole or partial");
}

#[tokio::test]
async fn a_saved_plan_stopped_by_a_signal_is_finished_by_a_new_plan() {
    let account = Account::new().await;
    account.spec("spec.toml", GUIDE);
    account
        .run(&["plan", "spec.toml", "--out", "guide.plan"])
        .expect(0);
    let proxy = Proxy::with(
        &account.endpoint,
        Behaviour {
            latency: Duration::from_millis(150),
            ..Behaviour::default()
        },
    );
    let child = account.spawn_via(&proxy.url, &["apply", "guide.plan", "--concurrency", "1"]);
    let started = std::time::Instant::now();
    while !proxy.mutating().iter().any(|a| a == "CreateGroup") {
        assert!(
            started.elapsed() < Duration::from_mins(1),
            "apply never started"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let run = Run::from(child.wait_with_output().unwrap()).expect(143);
    assert!(
        run.stdout
            .contains("Not run, because apply was interrupted (a new plan will have them):"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(
            "Make a new plan (the saved one no longer matches the account) and apply it to finish."
        ),
        "{}",
        run.stdout
    );
    assert!(!account.lock_held().await, "the lock is given back");

    // The saved plan is spent: what it made is there now.
    refused(
        &account,
        "guide.plan",
        "the account changed since the plan was saved",
    );
    // A new plan has the rest, and applied, leaves nothing to do.
    account
        .run(&["plan", "spec.toml", "--out", "rest.plan"])
        .expect(0);
    account.run(&["apply", "rest.plan"]).expect(0);
    account
        .run(&["plan", "spec.toml", "--detailed-exitcode"])
        .expect(0);
    assert!(
        account.only_key("koding-user").await.1,
        "the key's secret is saved"
    );
}

/// The path is taken while the account is read (a FIFO appears there, as from another
/// process): the second look, just before the write, refuses it without opening it.
#[tokio::test]
async fn out_taken_while_the_account_is_read_is_refused_before_the_write() {
    use std::os::unix::fs::FileTypeExt as _;
    let account = Account::new().await;
    account.spec("spec.toml", GUIDE);
    let proxy = Proxy::with(
        &account.endpoint,
        Behaviour {
            latency: Duration::from_millis(300),
            ..Behaviour::default()
        },
    );
    let plan = account.spawn_via(&proxy.url, &["plan", "spec.toml", "--out", "guide.plan"]);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let fifo = account.dir.path().join("guide.plan");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let run = Run::from(plan.wait_with_output().unwrap()).expect(1);
    assert!(
        run.stderr.contains("--out guide.plan is a FIFO"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("Plan: 6 to add"),
        "the account was read: {}",
        run.stdout
    );
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
}
