//! Layers merged for one account: variables, unions, conflicts, and locations that still name
//! the file, line and column to fix.

use std::path::PathBuf;

use super::*;
use crate::spec::SpecError;

fn layer(path: &str, text: &str) -> Layer {
    Layer {
        path: PathBuf::from(path),
        text: text.to_owned(),
    }
}

fn variables() -> Variables {
    Variables {
        account_id: "222222222222".to_owned(),
        account_name: Some("prod-a".to_owned()),
        partition: "aws".to_owned(),
    }
}

fn merged(layers: &[Layer]) -> Result<Spec, Vec<String>> {
    let base = Base {
        file: Path::new("org.toml"),
        text: "version = 1\n[organization]\n",
        owner: None,
    };
    let refs: Vec<&Layer> = layers.iter().collect();
    merge(&base, &refs, &variables()).map_err(|err| match err {
        SpecError::Invalid(d) => d.iter().map(ToString::to_string).collect(),
        SpecError::Read { reason, .. } => vec![reason],
    })
}

#[test]
fn variables_are_filled_in_and_policy_variables_left_alone() {
    let (text, _) = variables()
        .fill("arn:${partition}:iam::${account.id}:user/${aws:username} ${account.name}")
        .unwrap();
    assert_eq!(
        text,
        "arn:aws:iam::222222222222:user/${aws:username} prod-a"
    );
    let err = variables().fill("${account.Id}").unwrap_err();
    assert!(err.contains("did you mean `${account.id}`"), "{err}");
}

#[test]
fn a_name_that_would_change_the_file_is_refused() {
    let hostile = Variables {
        account_name: Some("o\"hara".to_owned()),
        ..variables()
    };
    let err = hostile
        .fill("tags = { a = \"${account.name}\" }")
        .unwrap_err();
    assert!(err.contains("Rename the account"), "{err}");
    // Not using the name, the same account is fine.
    assert!(hostile.fill("x = \"${account.id}\"").is_ok());
}

#[test]
fn layers_merge_and_may_name_each_others_groups() {
    let spec = merged(&[
        layer("layers/base.toml", "version = 1\n[groups.Developers]\npolicies = [\"IAMReadOnlyAccess\"]\n"),
        layer("layers/prod.toml", "version = 1\n[users.koding-user]\ngroups = [\"Developers\"]\ntags = { at = \"${account.name}\" }\n"),
    ])
    .unwrap();
    assert_eq!(spec.users["koding-user"].groups, ["Developers"]);
    assert_eq!(spec.users["koding-user"].tags["at"], "prod-a");
    assert_eq!(spec.file, Path::new("org.toml"));
    assert_eq!(spec.files.len(), 3);
    let at = spec.groups["Developers"].policies[0].at;
    assert_eq!(spec.place(at), "layers/base.toml:3:13");
}

#[test]
fn an_entity_declared_twice_names_both_places() {
    let errors = merged(&[
        layer("a.toml", "version = 1\n[users.bob]\n"),
        layer("b.toml", "version = 1\n\n\n[users.bob]\n"),
    ])
    .unwrap_err();
    assert_eq!(
        errors,
        [
            "b.toml:4:8: user `bob` is declared twice: here and at a.toml:2:8; declare it in one layer"
        ]
    );
}

#[test]
fn an_account_setting_set_by_two_layers_is_an_error() {
    let errors = merged(&[
        layer("a.toml", "version = 1\n[account]\nalias = \"a\"\n"),
        layer("b.toml", "version = 1\n[account]\nalias = \"b\"\n"),
    ])
    .unwrap_err();
    assert!(
        errors[0].starts_with("b.toml:3:9: `[account] alias` is set by two layers"),
        "{errors:?}"
    );
}

#[test]
fn errors_after_a_variable_keep_their_column() {
    // `${account.id}` (13 characters) becomes 12 digits: the error still points at what was
    // written.
    let errors = merged(&[layer(
        "a.toml",
        "version = 1\n[users.u]\ntags = { a = \"${account.id}\", \"aws:x\" = \"y\" }\n",
    )])
    .unwrap_err();
    assert!(errors[0].starts_with("a.toml:3:"), "{errors:?}");
    let column: usize = errors[0].split(':').nth(2).unwrap().parse().unwrap();
    assert!(column >= 31, "the column of what was written: {errors:?}");
}

#[test]
fn a_layer_checked_alone_needs_its_version_and_no_account_id() {
    let problems = check(&layer("a.toml", "[account]\nid = \"111111111111\"\n"));
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(
        text.iter().any(|t| t.contains("has no `version`")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|t| t.starts_with("a.toml:2:6: a layer cannot set `[account] id`")),
        "{text:?}"
    );
    // A layer that names another layer's group is fine alone.
    assert!(
        check(&layer(
            "b.toml",
            "version = 1\n[users.u]\ngroups = [\"elsewhere\"]\n"
        ))
        .is_empty()
    );
}

#[test]
fn an_escaped_variable_is_its_own_text_and_escape_round_trips() {
    let written = "a $${account.id} b $$${account.name} c ${account.id} $${aws:username}";
    let (filled, _) = variables().fill(written).unwrap();
    assert_eq!(
        filled,
        "a ${account.id} b $${account.name} c 222222222222 $${aws:username}"
    );
    // What export writes for live text loads back as that text, whatever it holds.
    for live in [
        "arn:aws:s3:::${account.id}/*",
        "$${partition} and ${partition}",
        "${aws:PrincipalTag/team}",
        "no variable",
    ] {
        let escaped = escape(live);
        assert_eq!(variables().fill(&escaped).unwrap().0, live, "{escaped}");
    }
}

#[test]
fn a_value_that_would_widen_a_policy_is_refused() {
    for name in [
        "*",
        "prod?",
        "a${aws:username}",
        "x}",
        "a:b",
        "a/b",
        "tab\there",
    ] {
        let hostile = Variables {
            account_name: Some(name.to_owned()),
            ..variables()
        };
        let err = hostile.fill("repo:acme/${account.name}:*").expect_err(name);
        assert!(err.contains("the account is refused"), "{name}: {err}");
    }
    // A name that is unknown (AWS Organizations unreadable) is refused where it is used.
    let unknown = Variables {
        account_name: None,
        ..variables()
    };
    assert!(unknown.fill("${account.id}").is_ok());
    let err = unknown.fill("${account.name}").unwrap_err();
    assert!(err.contains("not known"), "{err}");
}
