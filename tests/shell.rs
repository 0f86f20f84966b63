//! Shell completions and man pages, generated from the same definitions as `--help`: the bash
//! script loads into a real bash and completes commands and options; the man pages render.

mod support;

use std::path::Path;
use std::process::Command;

fn iamspec(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = support::iamspec(args, dir.path()).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// What bash completes for the words of `line` (the last one being completed), with the
/// script `iamspec completions bash` prints loaded as the README says.
fn complete_in_bash(line: &str) -> Vec<String> {
    let bin = Path::new(env!("CARGO_BIN_EXE_iamspec"));
    let script = format!(
        r#"source <("{bin}" completions bash) || exit 3
complete -p iamspec >/dev/null || exit 4
COMP_LINE='{line}'
COMP_POINT=${{#COMP_LINE}}
read -r -a COMP_WORDS <<< "$COMP_LINE"
[[ "$COMP_LINE" == *' ' ]] && COMP_WORDS+=('')
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
function=$(complete -p iamspec | sed -E 's/.*-F ([^ ]+).*/\1/')
"$function" iamspec "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}""#,
        bin = bin.display()
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "bash: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_completes_commands_options_and_values() {
    let commands = complete_in_bash("iamspec ");
    for command in [
        "plan",
        "apply",
        "validate",
        "credentials",
        "export",
        "schema",
        "completions",
        "man",
    ] {
        assert!(
            commands.contains(&command.to_owned()),
            "{command}: {commands:?}"
        );
    }
    assert_eq!(complete_in_bash("iamspec pl"), ["plan"]);
    assert!(complete_in_bash("iamspec plan --ou").contains(&"--out".to_owned()));
    assert!(complete_in_bash("iamspec apply --lock").contains(&"--lock-timeout".to_owned()));
    let shells = complete_in_bash("iamspec completions ");
    for shell in ["bash", "zsh", "fish", "powershell"] {
        assert!(shells.contains(&shell.to_owned()), "{shell}: {shells:?}");
    }
}

#[test]
fn every_shell_gets_a_script_naming_every_command() {
    for (shell, marker) in [
        ("zsh", "#compdef iamspec"),
        ("fish", "complete -c iamspec"),
        ("powershell", "Register-ArgumentCompleter"),
        ("bash", "complete -F"),
    ] {
        let script = iamspec(&["completions", shell]);
        assert!(script.contains(marker), "{shell}");
        for command in ["plan", "apply", "schema", "man"] {
            assert!(script.contains(command), "{shell} lacks {command}");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let out = support::iamspec(&["completions", "tcsh"], dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("possible values: bash"));
}

#[test]
fn man_pages_render_for_iamspec_and_each_command() {
    let page = iamspec(&["man"]);
    assert!(page.contains(".TH iamspec 1"), "{page}");
    let dir = tempfile::tempdir().unwrap();
    let man1 = dir.path().join("man1");
    let said = iamspec(&["man", "--out", man1.to_str().unwrap()]);
    assert!(said.starts_with("Wrote 13 man pages"), "{said}");
    let mut pages: Vec<String> = std::fs::read_dir(&man1)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    assert_eq!(
        pages,
        [
            "iamspec-accounts.1",
            "iamspec-apply.1",
            "iamspec-can.1",
            "iamspec-completions.1",
            "iamspec-credentials.1",
            "iamspec-export.1",
            "iamspec-lint.1",
            "iamspec-man.1",
            "iamspec-plan.1",
            "iamspec-schema.1",
            "iamspec-validate.1",
            "iamspec-who-can.1",
            "iamspec.1"
        ]
    );
    // man(1) renders a page as a reader sees it.
    let out = Command::new("man")
        .args(["-M", dir.path().to_str().unwrap(), "iamspec-plan"])
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("iamspec-plan - Show what apply would change"),
        "{text}"
    );
    assert!(text.contains("--out <FILE>"), "{text}");
}
