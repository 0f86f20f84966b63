//! iamspec on a terminal: the y/N question, colour and progress. `script` gives the binary a
//! real pseudo-terminal and types the answer into it.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::proxy::{Behaviour, Proxy};
use support::{Account, Run};

/// Whether `text` sets a colour or a text style (an SGR escape, `ESC [ ... m`).
fn has_colour(text: &str) -> bool {
    text.split('\x1b').skip(1).any(|rest| {
        rest.strip_prefix('[').is_some_and(|codes| {
            let end = codes.trim_start_matches(|c: char| c.is_ascii_digit() || c == ';');
            end.starts_with('m')
        })
    })
}

/// Runs `iamspec ARGS` on a pseudo-terminal through `endpoint`, typing `input`.
fn on_terminal(
    account: &Account,
    endpoint: &str,
    args: &[&str],
    input: &str,
    no_color: bool,
) -> Run {
    on_terminal_of(account, endpoint, args, input, no_color, None)
}

/// As `on_terminal`, on a terminal of the type `term` (`TERM`), when given.
fn on_terminal_of(
    account: &Account,
    endpoint: &str,
    args: &[&str],
    input: &str,
    no_color: bool,
    term: Option<&str>,
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
    if let Some(term) = term {
        outer.env("TERM", term);
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
    // NO_COLOR takes colour away, not the progress line (which moves the cursor).
    assert!(!has_colour(&plain.stdout), "{:?}", plain.stdout);
    let piped = account.run(&["plan", spec]).expect(0);
    assert!(!piped.stdout.contains('\x1b'));
}

#[tokio::test]
async fn apply_on_a_terminal_shows_a_live_line_and_only_what_needs_reading() {
    let account = Account::new().await;
    let spec = support::repo_spec("koding.toml");
    let spec = spec.to_str().unwrap();
    // A distant endpoint that takes a moment to show what was made: long enough to be drawn.
    let proxy = Proxy::with(
        &account.endpoint,
        Behaviour {
            latency: Duration::from_millis(150),
            invisible_for: Duration::from_millis(600),
            ..Behaviour::default()
        },
    );
    let run = on_terminal(&account, &proxy.url, &["apply", spec, "--yes"], "", true).expect(0);
    // script(1) gives both output streams the one terminal.
    let screen = &run.stdout;
    assert!(screen.contains("reading the account"), "{screen:?}");
    assert!(screen.contains("applying: "), "{screen:?}");
    assert!(screen.contains("/6 changes, "), "{screen:?}");
    assert!(screen.contains(" calls/s, "), "{screen:?}");
    assert!(
        screen.contains(" retries, ") || screen.contains(" retry, "),
        "{screen:?}"
    );
    assert!(screen.contains(" left"), "{screen:?}");
    // The line counted the changes: the report lists only what has something to say.
    assert!(!screen.contains("done: add user koding-user"), "{screen:?}");
    assert!(
        screen.contains("done: create access key for user koding-user"),
        "{screen:?}"
    );
    assert!(
        screen.contains("Apply complete: 6 changes made"),
        "{screen:?}"
    );

    // A terminal that cannot redraw a line gets the plain lines too.
    let dumb = Account::new().await;
    let run = on_terminal_of(
        &dumb,
        &dumb.endpoint,
        &["apply", spec, "--yes"],
        "",
        true,
        Some("dumb"),
    )
    .expect(0);
    assert!(!run.stdout.contains("applying:"), "{:?}", run.stdout);
    assert!(
        run.stdout
            .contains("  done: add user koding-user to group Developers"),
        "{:?}",
        run.stdout
    );

    // Without a terminal, as in a CI log: each change on its line, nothing drawn.
    let logged = Account::new().await;
    let run = logged.run(&["apply", spec, "--yes"]).expect(0);
    assert!(
        run.stdout
            .contains("  done: add user koding-user to group Developers"),
        "{}",
        run.stdout
    );
    for quiet in [&run.stdout, &run.stderr] {
        assert!(!quiet.contains("applying:"), "{quiet}");
        assert!(!quiet.contains("reading the account"), "{quiet}");
        assert!(!quiet.contains('\x1b'), "{quiet:?}");
    }
}
