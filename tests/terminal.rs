//! iamspec on a terminal: the y/N question and colour. `script` gives the binary a real
//! pseudo-terminal and types the answer into it.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use support::proxy::Proxy;
use support::{Account, Run};

/// Runs `iamspec ARGS` on a pseudo-terminal through `endpoint`, typing `input`.
fn on_terminal(
    account: &Account,
    endpoint: &str,
    args: &[&str],
    input: &str,
    no_color: bool,
) -> Run {
    let inner = account.command(args);
    let line = std::iter::once(inner.get_program())
        .chain(inner.get_args())
        .map(|part| format!("'{}'", part.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ");
    let mut outer = Command::new("script");
    outer
        .args(["-qec", &line, "/dev/null"])
        .current_dir(account.dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in inner.get_envs() {
        match value {
            Some(value) => outer.env(key, value),
            None => outer.env_remove(key),
        };
    }
    outer.env("AWS_ENDPOINT_URL", endpoint);
    if !no_color {
        outer.env_remove("NO_COLOR");
    }
    let mut child = outer.spawn().expect("script(1) runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    Run::from(child.wait_with_output().unwrap())
}

#[tokio::test]
async fn apply_asks_and_anything_but_yes_changes_nothing() {
    let account = Account::new().await;
    let spec = support::repo_spec("koding.toml");
    let proxy = Proxy::start(&account.endpoint);
    let run = on_terminal(
        &account,
        &proxy.url,
        &["apply", spec.to_str().unwrap()],
        "n\n",
        true,
    )
    .expect(1);
    assert!(
        run.stdout.contains(&format!(
            "Apply these changes to account {}? Only 'y' or 'yes' applies. [y/N] ",
            account.id
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("error: apply cancelled; nothing was changed"),
        "{}",
        run.stdout
    );
    assert_eq!(proxy.mutating(), Vec::<String>::new());
}

#[tokio::test]
async fn apply_goes_ahead_on_yes() {
    let account = Account::new().await;
    let spec = support::repo_spec("koding.toml");
    let run = on_terminal(
        &account,
        &account.endpoint,
        &["apply", spec.to_str().unwrap()],
        "yes\n",
        true,
    )
    .expect(0);
    assert!(
        run.stdout.contains("Apply complete: 6 changes made."),
        "{}",
        run.stdout
    );
}

#[tokio::test]
async fn colour_only_on_a_terminal_and_never_with_no_color() {
    let account = Account::new().await;
    let spec = support::repo_spec("koding.toml");
    let spec = spec.to_str().unwrap();
    let coloured = on_terminal(&account, &account.endpoint, &["plan", spec], "", false).expect(0);
    assert!(
        coloured
            .stdout
            .contains("\x1b[32m+\x1b[0m create group Developers"),
        "{:?}",
        coloured.stdout
    );
    let plain = on_terminal(&account, &account.endpoint, &["plan", spec], "", true).expect(0);
    assert!(
        plain.stdout.contains("  + create group Developers"),
        "{:?}",
        plain.stdout
    );
    assert!(!plain.stdout.contains('\x1b'), "{:?}", plain.stdout);
    let piped = account.run(&["plan", spec]).expect(0);
    assert!(!piped.stdout.contains('\x1b'));
}
