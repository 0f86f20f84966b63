//! Policy documents: the checks IAM would make, offline, and the canonical form in which a
//! spec's document and a live one are compared, so that only a change of meaning is a change.
//!
//! Canonical form: `Statement` is always a list, sorted and without duplicates; in each
//! statement `Action`/`NotAction`/`Resource`/`NotResource` are sorted lists without duplicates
//! (a single string is a one-element list), and condition values are sorted lists of strings.
//! Case is kept: IAM stores what it is sent, so only a change in the spec can differ in case,
//! and then sending it is what the user asked for. In trust policies a principal `"*"` is
//! `{"AWS": ["*"]}`, each principal type's value is a sorted list, and an account's root ARN is
//! its bare id (`trust`). Object keys are sorted
//! by `serde_json`. Whitespace is gone with the parse.

pub mod locate;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Map, Value};

mod trust;

pub use trust::{
    TRUST_ACTIONS, check_trust, oidc_providers, provider_url, trusts_ec2, unique_ids,
    web_identity_host,
};

/// The host of GitHub Actions' OIDC tokens.
pub const GITHUB_HOST: &str = "token.actions.githubusercontent.com";

/// The policy language versions IAM accepts.
pub const VERSIONS: [&str; 2] = ["2012-10-17", "2008-10-17"];

/// The keys an identity-policy statement may have.
const STATEMENT_KEYS: [&str; 7] = [
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

/// Lists IAM treats as sets, in statements.
const SET_KEYS: [&str; 4] = ["Action", "NotAction", "Resource", "NotResource"];

/// A policy document: as written, and in canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The document as written, sent to IAM as it is (minified).
    pub json: Value,
    /// The canonical form, for comparison and display.
    pub canonical: Value,
}

impl Document {
    pub fn new(json: Value) -> Self {
        let canonical = canonical(&json);
        Self { json, canonical }
    }

    /// The text sent to IAM: compact JSON.
    pub fn text(&self) -> String {
        self.json.to_string()
    }

    /// The characters IAM counts against its size limits: all but whitespace.
    pub fn size(&self) -> usize {
        self.text().chars().filter(|c| !c.is_whitespace()).count()
    }
}

/// A document from IAM: URL-encoded in most answers, plain in some (moto's `GetPolicyVersion`).
pub fn decode(text: &str) -> Result<Value, String> {
    let decoded = if text.trim_start().starts_with('{') {
        text.to_owned()
    } else {
        percent_encoding::percent_decode_str(text)
            .decode_utf8()
            .map_err(|e| format!("the document is not valid UTF-8 once decoded: {e}"))?
            .into_owned()
    };
    serde_json::from_str(&decoded).map_err(|e| format!("the document is not valid JSON: {e}"))
}

/// The canonical form of a document (see the module header).
pub fn canonical(document: &Value) -> Value {
    let Value::Object(top) = document else {
        return document.clone();
    };
    let mut out = BTreeMap::new();
    for (key, value) in top {
        let value = if key == "Statement" {
            let statements = match value {
                Value::Array(list) => list.iter().map(statement).collect(),
                other => vec![statement(other)],
            };
            sorted_set(statements)
        } else {
            value.clone()
        };
        out.insert(key.clone(), value);
    }
    object(out)
}

fn statement(value: &Value) -> Value {
    let Value::Object(fields) = value else {
        return value.clone();
    };
    let mut out = BTreeMap::new();
    for (key, value) in fields {
        let value = if SET_KEYS.contains(&key.as_str()) {
            sorted_set(as_list(value))
        } else if key == "Condition" {
            condition(value)
        } else if key == "Principal" || key == "NotPrincipal" {
            trust::canonical_principal(value)
        } else {
            value.clone()
        };
        out.insert(key.clone(), value);
    }
    object(out)
}

/// `{operator: {key: value or [values]}}` with every value a sorted list of strings: IAM
/// compares condition values as strings, and a single value is a one-element list.
fn condition(value: &Value) -> Value {
    let Value::Object(operators) = value else {
        return value.clone();
    };
    let mut out = BTreeMap::new();
    for (operator, keys) in operators {
        let Value::Object(keys) = keys else {
            out.insert(operator.clone(), keys.clone());
            continue;
        };
        let mut canonical_keys = BTreeMap::new();
        for (key, values) in keys {
            let strings = as_list(values)
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Value::String(s),
                    other => Value::String(other.to_string()),
                })
                .collect();
            canonical_keys.insert(key.clone(), sorted_set(strings));
        }
        out.insert(operator.clone(), object(canonical_keys));
    }
    object(out)
}

/// An object with its keys in sorted order, whether or not `serde_json` preserves insertion
/// order in this build (a dependency may turn that on).
fn object(fields: BTreeMap<String, Value>) -> Value {
    Value::Object(fields.into_iter().collect::<Map<String, Value>>())
}

fn as_list(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    }
}

/// Sorted by serialised form, duplicates removed.
fn sorted_set(items: Vec<Value>) -> Value {
    let mut keyed: Vec<(String, Value)> = items.into_iter().map(|v| (v.to_string(), v)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.dedup_by(|a, b| a.0 == b.0);
    Value::Array(keyed.into_iter().map(|(_, v)| v).collect())
}

/// What the offline checks found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Findings {
    /// IAM would refuse the document.
    pub errors: Vec<String>,
    /// IAM would accept it, but it is probably not what was meant.
    pub warnings: Vec<String>,
}

/// Checks an identity-policy document the way IAM would, and warns about grants that are
/// almost always a mistake.
pub fn check(document: &Value) -> Findings {
    let mut found = Findings::default();
    for (index, statement) in statements(document, "policy document", &mut found)
        .iter()
        .enumerate()
    {
        check_statement(index + 1, statement, &mut found);
    }
    found
}

/// The checks every document's top level gets (`Version`, known keys, `Statement`): its
/// statements, or none when there is nothing to check further. `kind` names the document in
/// the messages ("policy document", "trust policy").
fn statements(document: &Value, kind: &str, found: &mut Findings) -> Vec<Value> {
    let Value::Object(top) = document else {
        found.errors.push(format!("a {kind} must be a JSON object"));
        return Vec::new();
    };
    let the = if kind == "policy document" {
        "the document"
    } else {
        "the trust policy"
    };
    match top.get("Version") {
        Some(Value::String(v)) if VERSIONS.contains(&v.as_str()) => {}
        Some(other) => found.errors.push(format!(
            "`Version` is {other}; IAM accepts \"2012-10-17\" (use it) or \"2008-10-17\""
        )),
        None => found.errors.push(format!(
            "{the} has no `Version`: add \"Version\": \"2012-10-17\""
        )),
    }
    if let Some(key) = top
        .keys()
        .find(|k| !["Version", "Id", "Statement"].contains(&k.as_str()))
    {
        found.errors.push(format!(
            "unknown top-level key `{key}` (allowed: Version, Id, Statement)"
        ));
    }
    match top.get("Statement") {
        Some(Value::Array(list)) if !list.is_empty() => list.clone(),
        Some(object @ Value::Object(_)) => vec![object.clone()],
        _ => {
            found
                .errors
                .push(format!("{the} has no `Statement`: add at least one"));
            Vec::new()
        }
    }
}

fn check_statement(number: usize, statement: &Value, found: &mut Findings) {
    let Value::Object(fields) = statement else {
        found
            .errors
            .push(format!("statement {number} is not an object"));
        return;
    };
    let name = match fields.get("Sid") {
        Some(Value::String(sid)) => format!("statement {number} ({sid})"),
        _ => format!("statement {number}"),
    };
    for key in fields.keys() {
        if key == "Principal" || key == "NotPrincipal" {
            found.errors.push(format!(
                "{name} has `{key}`, which only resource policies have; remove it"
            ));
        } else if !STATEMENT_KEYS.contains(&key.as_str()) {
            found.errors.push(format!(
                "{name} has an unknown key `{key}` (allowed: {})",
                STATEMENT_KEYS.join(", ")
            ));
        }
    }
    match fields.get("Effect") {
        Some(Value::String(e)) if e == "Allow" || e == "Deny" => {}
        Some(other) => found.errors.push(format!(
            "{name} has `Effect` {other}; it must be \"Allow\" or \"Deny\""
        )),
        None => found
            .errors
            .push(format!("{name} has no `Effect`: add \"Effect\": \"Allow\"")),
    }
    for (a, b) in [("Action", "NotAction"), ("Resource", "NotResource")] {
        match (fields.contains_key(a), fields.contains_key(b)) {
            (true, true) => found
                .errors
                .push(format!("{name} has both `{a}` and `{b}`; keep one")),
            (false, false) => found
                .errors
                .push(format!("{name} has neither `{a}` nor `{b}`; add one")),
            _ => {}
        }
    }
    let actions = strings(fields.get("Action").or_else(|| fields.get("NotAction")));
    for action in &actions {
        if !is_action(action) {
            found.errors.push(format!(
                "{name} has action `{action}`, which is not of the form `service:Action` (wildcards * and ? allowed)"
            ));
        }
    }
    for key in ["Action", "NotAction", "Resource", "NotResource"] {
        if let Some(value) = fields.get(key)
            && !is_string_or_strings(value)
        {
            found.errors.push(format!(
                "{name} has `{key}` {value}; it must be a string or a list of strings"
            ));
        }
    }
    if fields.get("Effect") == Some(&Value::String("Allow".into())) {
        let resources = strings(fields.get("Resource"));
        let everywhere = resources.iter().any(|r| r == "*");
        if everywhere && actions.iter().any(|a| a == "*") && fields.contains_key("Action") {
            found.warnings.push(format!(
                "{name} allows every action on every resource (`\"Action\": \"*\"` with `\"Resource\": \"*\"`): that is administrator access"
            ));
        }
        if everywhere
            && fields.contains_key("Action")
            && actions
                .iter()
                .any(|a| a.eq_ignore_ascii_case("iam:PassRole") || a == "iam:*" || a == "iam:Pass*")
        {
            found.warnings.push(format!(
                "{name} allows `iam:PassRole` on every resource: any role, admin roles included, can be passed to a service; name the roles in `Resource`"
            ));
        }
    }
}

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

fn is_string_or_strings(value: &Value) -> bool {
    match value {
        Value::String(_) => true,
        Value::Array(items) => !items.is_empty() && items.iter().all(Value::is_string),
        _ => false,
    }
}

/// `*`, or `service:Action` where the service is lowercase letters, digits and dashes and the
/// action is letters and digits, with the wildcards `*` and `?` anywhere.
fn is_action(action: &str) -> bool {
    if action == "*" {
        return true;
    }
    let Some((service, name)) = action.split_once(':') else {
        return false;
    };
    !service.is_empty()
        && !name.is_empty()
        && service
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '*' || c == '?')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '*' || c == '?')
}

/// The canonical document as indented JSON, one line per list item, for diffs.
pub fn pretty(document: &Value) -> String {
    let mut text = serde_json::to_string_pretty(document).expect("JSON values serialise");
    text.push('\n');
    text
}

/// A unified diff of two canonical documents, `live` before `spec`, each line indented.
pub fn diff(before: &Value, after: &Value, indent: &str) -> String {
    let before = pretty(before);
    let after = pretty(after);
    let diff = similar::TextDiff::from_lines(&before, &after);
    let mut out = String::new();
    for line in diff
        .unified_diff()
        .context_radius(3)
        .header("live", "spec")
        .to_string()
        .lines()
    {
        let _ = writeln!(out, "{indent}{line}");
    }
    out
}

#[cfg(test)]
mod tests;
