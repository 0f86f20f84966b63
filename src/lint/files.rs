//! `iamspec lint FILE...`: policy documents on their own, with no spec and no credentials. A
//! file that cannot be read as a policy document is a finding (`malformed`) like any other,
//! so that one broken file among many does not hide the rest.

use std::path::Path;

use serde_json::Value;

use super::{ActionDb, Finding, Kind, Raw, checks, finish, statements};
use crate::document::{Document, locate};
use crate::spec::{DocumentOwner, LintConfig, Location, SpecDocument};

#[cfg(test)]
mod tests;

/// The largest policy file read: larger than any policy AWS takes (an S3 bucket policy is at
/// most 20 KB), with room for whitespace.
const MAX_FILE_BYTES: u64 = 1 << 20;

impl Kind {
    /// `identity`, `resource`, `trust`, `boundary`, `scp`.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "identity" => Kind::Identity,
            "resource" => Kind::Resource,
            "trust" => Kind::Trust,
            "boundary" => Kind::Boundary,
            "scp" => Kind::Scp,
            _ => return None,
        })
    }

    /// What a document is when nobody says: one that names principals is a resource policy,
    /// or a trust policy when all it allows is assuming a role; any other an identity policy.
    pub fn of(json: &Value) -> Self {
        let all = statements(json);
        let principals = all
            .iter()
            .any(|(_, s)| s.get("Principal").is_some() || s.get("NotPrincipal").is_some());
        if !principals {
            return Kind::Identity;
        }
        let assumes = all.iter().all(|(_, s)| {
            let actions = super::strings(s, "Action");
            !actions.is_empty()
                && actions.iter().all(|a| {
                    let a = a.to_lowercase();
                    a.starts_with("sts:assumerole")
                        || a == "sts:tagsession"
                        || a == "sts:setsourceidentity"
                })
        });
        if assumes { Kind::Trust } else { Kind::Resource }
    }
}

/// The findings of one policy file, at their default levels.
pub fn lint_file(path: &Path, kind: Option<Kind>) -> Vec<Finding> {
    let shown = path.display().to_string();
    let malformed = |at: Location, message: String| Finding {
        code: "malformed",
        severity: super::Severity::Error,
        file: shown.clone(),
        line: at.line,
        column: at.column,
        policy: format!("policy file {shown}"),
        statement: None,
        message,
    };
    let text = match crate::spec::files::read_text(path, MAX_FILE_BYTES) {
        Ok(text) => text,
        Err(err) => {
            return vec![malformed(
                Location::at(1, 1),
                format!("cannot read it: {err}"),
            )];
        }
    };
    let json: Value = match serde_json::from_str(&text) {
        Ok(json) => json,
        Err(err) => {
            return vec![malformed(
                Location::at(err.line().max(1), err.column().max(1)),
                format!("it is not valid JSON: {err}"),
            )];
        }
    };
    let shape = match json.get("Statement") {
        _ if !json.is_object() => Some("it is not a JSON object"),
        None => Some("it has no `Statement`"),
        Some(Value::Array(items)) if items.iter().any(|s| !s.is_object()) => {
            Some("a statement of it is not an object")
        }
        Some(Value::Array(_) | Value::Object(_)) => None,
        Some(_) => Some("its `Statement` is neither a statement nor a list of them"),
    };
    if let Some(why) = shape {
        return vec![malformed(
            Location::at(1, 1),
            format!("{why}, so it is not a policy document"),
        )];
    }
    let kind = kind.unwrap_or_else(|| Kind::of(&json));
    let positions = locate::statements(&text);
    let name = path
        .file_name()
        .map_or_else(|| shown.clone(), |n| n.to_string_lossy().into_owned());
    let document = Document::new(json);
    let doc = SpecDocument {
        what: format!("policy file {shown}"),
        at: Location::at(1, 1),
        owner: DocumentOwner::Managed(&name),
        document: &document,
    };
    let mut raw: Vec<Raw> = Vec::new();
    checks::document(ActionDb::get(), &doc, kind, &mut raw);
    let place = |raw: &Raw| {
        let at = raw.index.and_then(|i| positions.get(i));
        at.map_or((shown.clone(), 1, 1), |p| (shown.clone(), p.line, p.column))
    };
    finish(&place, &LintConfig::default(), raw)
}
