//! Ctrl-C in the middle of an apply: the calls in flight finish, every key made so far has its
//! secret on disk, nothing new starts, and the next apply finishes the job.

mod support;

use std::fmt::Write as _;
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::proxy::{Behaviour, Proxy};
use support::{Account, Run};

const USERS: usize = 12;

fn team_spec() -> String {
    let mut spec =
        String::from("version = 1\n[groups.Developers]\npolicies = [\"IAMReadOnlyAccess\"]\n");
    for i in 0..USERS {
        let _ = write!(
            spec,
            "[users.dev{i:02}]\ngroups = [\"Developers\"]\naccess_key = true\n"
        );
    }
    spec
}

#[tokio::test]
async fn an_interrupted_apply_saves_what_it_made_and_the_next_one_finishes() {
    interrupted_by("INT", 130).await;
}

/// SIGTERM is what CI runners send on cancel; SIGHUP what a closed terminal sends.
#[tokio::test]
async fn sigterm_and_sighup_stop_an_apply_the_way_ctrl_c_does() {
    interrupted_by("TERM", 143).await;
    interrupted_by("HUP", 129).await;
}

async fn interrupted_by(signal: &str, code: i32) {
    let account = Account::new().await;
    let spec = account.spec("team.toml", &team_spec());
    let spec = spec.to_str().unwrap();
    let proxy = Proxy::with(
        &account.endpoint,
        Behaviour {
            latency: Duration::from_millis(150),
            ..Behaviour::default()
        },
    );
    let mut command = account.command(&["apply", spec, "--yes", "--concurrency", "2"]);
    command
        .env("AWS_ENDPOINT_URL", &proxy.url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = command.spawn().unwrap();

    let started = Instant::now();
    while proxy
        .mutating()
        .iter()
        .filter(|a| *a == "CreateAccessKey")
        .count()
        < 2
    {
        assert!(
            started.elapsed() < Duration::from_mins(1),
            "apply never got to the keys"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let sent = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let run = Run::from(child.wait_with_output().unwrap()).expect(code);
    // The apply lock goes with it, so the next apply need not wait for its lease.
    assert!(!account.lock_held().await, "the lock is given back");
    assert!(
        run.stderr
            .contains("interrupted: finishing the calls in flight"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout
            .contains("Not run, because apply was interrupted (the next apply will do them):"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("Run apply again to finish."),
        "{}",
        run.stdout
    );

    // Every key that exists has its secret saved.
    let iam = account.iam();
    let mut keys_made = 0;
    for i in 0..USERS {
        let user = format!("dev{i:02}");
        let Ok(keys) = iam.list_access_keys().user_name(&user).send().await else {
            continue;
        };
        for key in keys.access_key_metadata() {
            keys_made += 1;
            let csv =
                std::fs::read_to_string(account.dir.path().join(format!("secrets/{user}.csv")))
                    .unwrap_or_else(|_| panic!("{user} has a key but no saved secret"));
            assert!(csv.contains(key.access_key_id().unwrap()), "{csv}");
        }
    }
    assert!(
        (2..USERS).contains(&keys_made),
        "{keys_made} keys made before the interrupt"
    );

    // The next apply finishes, and gives nobody a second key.
    let rest = account.run(&["apply", spec, "--yes"]).expect(0);
    assert!(rest.stdout.contains("Apply complete"), "{}", rest.stdout);
    account
        .run(&["plan", spec, "--detailed-exitcode"])
        .expect(0);
    for i in 0..USERS {
        let keys = iam
            .list_access_keys()
            .user_name(format!("dev{i:02}"))
            .send()
            .await
            .unwrap();
        assert_eq!(keys.access_key_metadata().len(), 1);
    }
}

#[tokio::test]
async fn a_key_whose_secret_died_with_the_process_is_reported_not_doubled() {
    let account = Account::new().await;
    let spec = support::repo_spec("koding.toml");
    let spec = spec.to_str().unwrap();
    let proxy = Proxy::with(
        &account.endpoint,
        Behaviour {
            answer_delay: Duration::from_millis(400),
            ..Behaviour::default()
        },
    );
    let mut command = account.command(&["apply", spec, "--yes"]);
    command
        .env("AWS_ENDPOINT_URL", &proxy.url)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = command.spawn().unwrap();
    let started = Instant::now();
    while !proxy.actions().iter().any(|a| a == "CreateAccessKey") {
        assert!(
            started.elapsed() < Duration::from_mins(1),
            "apply never got to the key"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // IAM has made the key; the process dies before the answer comes back.
    std::thread::sleep(Duration::from_millis(200));
    child.kill().unwrap();
    child.wait().unwrap();

    let (id, saved) = account.only_key("koding-user").await;
    assert!(!saved, "the process died before the secret was saved");
    // Something needs doing: --detailed-exitcode says so even though no change is planned.
    let plan = account
        .run(&["plan", spec, "--detailed-exitcode"])
        .expect(2);
    assert!(
        plan.stdout.contains(&format!(
            "Warning: user koding-user has access key {id}, made by an apply that was interrupted before it saved the secret, which IAM cannot show again: run apply with --replace-lost-keys to delete it and make a new one"
        )),
        "{}",
        plan.stdout
    );
    let again = account.run(&["apply", spec, "--yes"]).expect(0);
    assert!(
        !again.stdout.contains("create access key"),
        "no second key: {}",
        again.stdout
    );
    assert_eq!(
        account.only_key("koding-user").await.0,
        id,
        "still the one key"
    );

    // The one flag that replaces it: the lost key goes, a new one comes with its secret.
    let replaced = account
        .run(&["apply", spec, "--yes", "--replace-lost-keys"])
        .expect(0);
    assert!(
        replaced
            .stdout
            .contains(&format!("- delete access key {id} of user koding-user")),
        "{}",
        replaced.stdout
    );
    let (new, saved) = account.only_key("koding-user").await;
    assert!(new != id && saved, "a new key, its secret saved");
    account
        .run(&["plan", spec, "--detailed-exitcode"])
        .expect(0);
}
