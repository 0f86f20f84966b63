//! Naming the key a wrong type is about. serde says `invalid type: string "yes", expected a
//! boolean`; a spec author needs `` `console` of user `bob` must be true or false, not the
//! string "yes" ``. The key is found by parsing the text again, untyped (it is valid TOML, only
//! not what the spec's types take), and finding the value the error's span points into.

use toml::de::{DeTable, DeValue};

/// One step of the way to a value: a key, or a list's item (from 0).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Item(usize),
}

/// serde's "wrong type" message about the value at `offset`, reworded to name the key and
/// say what it takes; `None` when `message` is not about a wrong type.
pub(super) fn wrong_type(text: &str, offset: usize, message: &str) -> Option<String> {
    let (found, expected) = message
        .strip_prefix("invalid type: ")?
        .split_once(", expected ")?;
    let path = path_at(text, offset).unwrap_or_default();
    Some(format!(
        "{} must be {}, not {}",
        name(&path),
        expected_words(expected.trim_end()),
        found_words(found)
    ))
}

/// The way to the innermost value whose span holds `offset`.
fn path_at(text: &str, offset: usize) -> Option<Vec<Step>> {
    fn visit_value(
        value: &toml::Spanned<DeValue<'_>>,
        path: &mut Vec<Step>,
        offset: usize,
        best: &mut Option<Vec<Step>>,
    ) {
        let span = value.span();
        let deeper = best.as_ref().is_none_or(|b| path.len() >= b.len());
        if (span.start..span.end.max(span.start + 1)).contains(&offset) && deeper {
            *best = Some(path.clone());
        }
        match value.get_ref() {
            DeValue::Table(entries) => visit_table(entries, path, offset, best),
            DeValue::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    path.push(Step::Item(index));
                    visit_value(item, path, offset, best);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    // Tables made by a `[header]` have no span around their keys: every entry is searched.
    fn visit_table(
        entries: &DeTable<'_>,
        path: &mut Vec<Step>,
        offset: usize,
        best: &mut Option<Vec<Step>>,
    ) {
        for (key, entry) in entries {
            path.push(Step::Key(key.get_ref().to_string()));
            visit_value(entry, path, offset, best);
            path.pop();
        }
    }
    let root = DeTable::parse(text).ok()?;
    let mut best = None;
    visit_table(root.get_ref(), &mut Vec::new(), offset, &mut best);
    best
}

/// A path in words: `` `console` of user `bob` ``, `` `prune` in [account] ``.
fn name(path: &[Step]) -> String {
    let keys = |steps: &[Step]| {
        steps
            .iter()
            .map(|step| match step {
                Step::Key(key) => format!(".{key}"),
                Step::Item(index) => format!(" (item {})", index + 1),
            })
            .collect::<String>()
            .trim_start_matches('.')
            .to_owned()
    };
    let entity = |section: &str| match section {
        "users" => Some("user"),
        "groups" => Some("group"),
        "roles" => Some("role"),
        "policies" => Some("policy"),
        "addons" => Some("add-on"),
        "oidc_providers" => Some("OIDC provider"),
        _ => None,
    };
    match path {
        [] => "the spec".to_owned(),
        [Step::Key(section), Step::Key(name), rest @ ..] if entity(section).is_some() => {
            let kind = entity(section).unwrap_or_default();
            if rest.is_empty() {
                format!("{kind} `{name}`")
            } else {
                format!("`{}` of {kind} `{name}`", keys(rest))
            }
        }
        _ => {
            // `[account]`, `[lint]` and the top level: the key, and the table it is in.
            let last_key = path
                .iter()
                .rposition(|step| matches!(step, Step::Key(_)))
                .unwrap_or(0);
            let (table, key) = path.split_at(last_key);
            if table.is_empty() {
                format!("`{}`", keys(key))
            } else {
                format!("`{}` in [{}]", keys(key), keys(table))
            }
        }
    }
}

/// What serde expected, as the spec author writes it.
fn expected_words(expected: &str) -> String {
    match expected {
        "a boolean" => "true or false".to_owned(),
        "a string" => "a string in quotes".to_owned(),
        "a sequence" => "a list, like [\"a\", \"b\"]".to_owned(),
        "a map" => "a table".to_owned(),
        "i64" | "u64" | "i32" | "u32" | "an integer" => "a whole number".to_owned(),
        other if other.starts_with("struct ") => "a table".to_owned(),
        other => other.to_owned(),
    }
}

/// What serde found, as the spec author wrote it.
fn found_words(found: &str) -> String {
    let (kind, value) = found.split_once(' ').unwrap_or((found, ""));
    let value = value.trim_matches('`');
    match kind {
        "string" => format!("the string {value}"),
        "integer" | "floating" => format!(
            "the number {}",
            value.trim_start_matches("point ").trim_matches('`')
        ),
        "boolean" => value.to_owned(),
        "map" => "a table".to_owned(),
        "sequence" => "a list".to_owned(),
        _ => found.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::wrong_type;

    fn said(text: &str, message: &str) -> String {
        let offset = text.find('@').expect("the test marks the value with @");
        let text = text.replace('@', "");
        wrong_type(&text, offset, message).unwrap()
    }

    #[test]
    fn names_the_key_and_what_it_takes() {
        let cases = [
            (
                "version = 1\n[users.bob]\nconsole = @\"yes\"\n",
                "invalid type: string \"yes\", expected a boolean",
                "`console` of user `bob` must be true or false, not the string \"yes\"",
            ),
            (
                "version = 1\n[users.bob]\ngroups = [\"a\", @1]\n",
                "invalid type: integer `1`, expected a string",
                "`groups (item 2)` of user `bob` must be a string in quotes, not the number 1",
            ),
            (
                "version = 1\n[account]\nprune = @\"yes\"\n",
                "invalid type: string \"yes\", expected a boolean",
                "`prune` in [account] must be true or false, not the string \"yes\"",
            ),
            (
                "version = 1\n[account.password_policy]\nmin_length = @\"14\"\n",
                "invalid type: string \"14\", expected i64",
                "`min_length` in [account.password_policy] must be a whole number, not the string \"14\"",
            ),
            (
                "version = @\"1\"\n",
                "invalid type: string \"1\", expected i64",
                "`version` must be a whole number, not the string \"1\"",
            ),
            (
                "version = 1\n[users]\nbob = @5\n",
                "invalid type: integer `5`, expected struct RawUser",
                "user `bob` must be a table, not the number 5",
            ),
            (
                "version = 1\n[roles.r]\ntrust = { github = { provider = \"g\", repo = \"a/b\", pull_request = @\"yes\" } }\n",
                "invalid type: string \"yes\", expected a boolean",
                "`trust.github.pull_request` of role `r` must be true or false, not the string \"yes\"",
            ),
            (
                "version = 1\n[groups.dev]\npolicies = @\"ReadOnlyAccess\"\n",
                "invalid type: string \"ReadOnlyAccess\", expected a sequence",
                "`policies` of group `dev` must be a list, like [\"a\", \"b\"], not the string \"ReadOnlyAccess\"",
            ),
        ];
        for (text, message, expected) in cases {
            assert_eq!(said(text, message), expected, "{text}");
        }
    }

    #[test]
    fn other_messages_are_left_alone() {
        assert_eq!(wrong_type("version = 1\n", 0, "unknown field `x`"), None);
    }
}
