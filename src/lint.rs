//! Stage 1c: what the spec's policy documents mean, checked offline against the embedded IAM
//! action table (`data`): unknown services and actions, resources and condition keys that do
//! not fit the actions, operators that do not fit a key, `Allow` with `NotAction`, redundant
//! statements, privilege-escalation paths within one principal's policies, and credentials or
//! permissions management granted on everything. Each finding has a stable code, a level the
//! spec's `[lint]` table can change, and the place to fix it.
//!
//! `grants` expands what a document allows, for the plan's "what a change grants".

mod checks;
pub mod data;
mod escalation;
pub mod files;
pub mod grants;
pub mod managed;
mod statements;

use std::fmt::{self, Write as _};

use serde::Serialize;

use crate::spec::{DocumentOwner, LintConfig, Location, Spec};

pub use data::{ActionDb, Level};
pub use escalation::sentences as escalation_paths;

/// What a policy document is, which decides what its statements mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Attached to a user, group or role: what its statements allow, the principal may do.
    Identity,
    /// Attached to a resource (a bucket, a key, a queue), naming its principals.
    Resource,
    /// A role's trust policy: who may assume it.
    Trust,
    /// A permissions boundary: a limit, not a grant.
    Boundary,
    /// A service control policy: a limit on accounts.
    Scp,
}

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

/// A level `[lint] levels` gives a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LevelSetting {
    At(Severity),
    Off,
}

impl LevelSetting {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "error" => LevelSetting::At(Severity::Error),
            "warning" => LevelSetting::At(Severity::Warning),
            "info" => LevelSetting::At(Severity::Info),
            "off" => LevelSetting::Off,
            _ => return None,
        })
    }
}

/// Every finding code, its default level, and what it means.
pub const CODES: &[(&str, Severity, &str)] = &[
    (
        "unknown-service",
        Severity::Warning,
        "an action's service prefix is not one AWS has",
    ),
    (
        "unknown-action",
        Severity::Warning,
        "an action the service does not have",
    ),
    (
        "wildcard-matches-nothing",
        Severity::Warning,
        "an action wildcard that matches no action",
    ),
    (
        "resource-mismatch",
        Severity::Warning,
        "a resource ARN that matches no resource type of the statement's actions",
    ),
    (
        "unknown-condition-key",
        Severity::Warning,
        "a condition key AWS does not have",
    ),
    (
        "condition-key-mismatch",
        Severity::Warning,
        "a condition key that none of the statement's actions supports",
    ),
    (
        "operator-mismatch",
        Severity::Warning,
        "a condition operator that does not fit the key's type",
    ),
    (
        "allow-not-action",
        Severity::Warning,
        "Allow with NotAction grants everything else, now and in future services",
    ),
    (
        "allow-not-resource",
        Severity::Warning,
        "Allow with NotResource grants on everything else",
    ),
    (
        "redundant-statement",
        Severity::Info,
        "a statement another statement of the policy already covers",
    ),
    (
        "redundant-action",
        Severity::Info,
        "an action a wildcard in the same statement already covers",
    ),
    (
        "privilege-escalation",
        Severity::Warning,
        "a principal's policies together let it give itself more permissions",
    ),
    (
        "credentials-exposure",
        Severity::Warning,
        "an action that returns or creates credentials, allowed on every resource",
    ),
    (
        "permissions-management",
        Severity::Warning,
        "a Permissions management action allowed on every resource",
    ),
    (
        "unused-exception",
        Severity::Warning,
        "a [lint] exception that matches no finding",
    ),
    (
        "resource-star",
        Severity::Warning,
        "write actions that act on named resources, allowed on Resource \"*\"",
    ),
    (
        "resource-effectively-star",
        Severity::Warning,
        "an ARN that is every resource of its service (arn:aws:s3:::*)",
    ),
    (
        "unknown-operator",
        Severity::Error,
        "a condition operator IAM does not have",
    ),
    (
        "condition-value-mismatch",
        Severity::Warning,
        "a condition value that does not fit its operator (a date, number, IP or ARN that is none)",
    ),
    (
        "mfa-condition",
        Severity::Warning,
        "Allow on aws:MultiFactorAuthPresent \"false\", which misses requests without the key",
    ),
    (
        "single-value-set-operator",
        Severity::Warning,
        "ForAllValues or ForAnyValue on a key that holds one value",
    ),
    (
        "allow-not-principal",
        Severity::Warning,
        "Allow with NotPrincipal, which allows everyone else",
    ),
    (
        "invalid-sid",
        Severity::Error,
        "a Sid with characters other than letters and digits",
    ),
    (
        "duplicate-sid",
        Severity::Error,
        "two statements with the same Sid",
    ),
    (
        "invalid-resource",
        Severity::Error,
        "a resource that is neither \"*\" nor an ARN",
    ),
    (
        "resource-policy-escalation",
        Severity::Warning,
        "a resource policy that lets its principals change it",
    ),
    (
        "old-version",
        Severity::Warning,
        "Version 2008-10-17 (or none), where policy variables are literal text",
    ),
    (
        "unknown-principal",
        Severity::Warning,
        "a principal that is no account, user, role or AWS service",
    ),
    (
        "unknown-federation-source",
        Severity::Warning,
        "a federated principal that is no SAML or OIDC provider IAM knows",
    ),
    (
        "malformed",
        Severity::Error,
        "a policy file that cannot be read as a policy document",
    ),
];

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: &'static str,
    pub severity: Severity,
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// `policy `X`` or `inline policy `p` of user `u``; for escalation, the principal.
    pub policy: String,
    /// The statement's Sid, or its index from 0 (`#2`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement: Option<String>,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let statement = self
            .statement
            .as_ref()
            .map(|s| format!(", statement {s}"))
            .unwrap_or_default();
        write!(
            f,
            "{}:{}:{}: {} [{}] {}{statement}: {}",
            self.file,
            self.line,
            self.column,
            match self.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Info => "info",
            },
            self.code,
            self.policy,
            self.message
        )
    }
}

/// A finding before the spec's `[lint]` levels and exceptions are applied.
pub(crate) struct Raw {
    pub code: &'static str,
    pub what: String,
    /// The policy's own name, which exceptions name.
    pub name: String,
    /// For a finding about a principal, `KIND/NAME` (`role/ci`): an exception that names it
    /// so silences that principal's finding alone.
    pub qualified: Option<String>,
    pub at: Location,
    pub statement: Option<String>,
    /// The statement's place in the document (from 0), when the finding is about one.
    pub index: Option<usize>,
    pub message: String,
}

/// Every finding of the spec's documents, with the spec's levels and exceptions applied, in
/// the order of the spec.
pub fn lint(spec: &Spec) -> Vec<Finding> {
    let documents = spec.documents();
    let aws_managed = spec.policy_uses().any(|u| {
        matches!(&u.policy, crate::spec::PolicyRef::AwsManaged { .. })
            || matches!(&u.policy, crate::spec::PolicyRef::Arn(arn) if arn.is_aws_managed())
    });
    if documents.is_empty() && !aws_managed {
        return Vec::new();
    }
    // Policies named only as boundaries: what they allow is a limit, not a grant.
    let attached: Vec<&str> = spec
        .groups
        .values()
        .flat_map(|g| &g.policies)
        .chain(spec.users.values().flat_map(|u| &u.policies))
        .chain(spec.roles.values().flat_map(|r| &r.policies))
        .map(|u| u.policy.name())
        .collect();
    let bounds: Vec<&str> = spec
        .users
        .values()
        .filter_map(|u| u.boundary.as_ref())
        .chain(spec.roles.values().filter_map(|r| r.boundary.as_ref()))
        .map(|u| u.policy.name())
        .filter(|name| !attached.contains(name))
        .collect();
    let mut raw = Vec::new();
    for document in &documents {
        let boundary =
            matches!(document.owner, DocumentOwner::Managed(name) if bounds.contains(&name));
        let kind = if boundary {
            Kind::Boundary
        } else {
            Kind::Identity
        };
        // The action table is parsed only here: a spec without documents never pays for it.
        checks::document(ActionDb::get(), document, kind, &mut raw);
    }
    escalation::principals(spec, &mut raw);
    // A finding about a statement of a document in a JSON file is placed in that file.
    let place = |raw: &Raw| {
        let in_file = spec
            .document_files
            .get(&raw.what)
            .and_then(|(path, positions)| {
                let position = positions.get(raw.index?)?;
                Some((path.display().to_string(), position.line, position.column))
            });
        in_file.unwrap_or_else(|| {
            (
                spec.file_of(raw.at).display().to_string(),
                raw.at.line,
                raw.at.column,
            )
        })
    };
    finish(&place, &spec.lint, raw)
}

/// The findings of one document alone, at their default levels (no escalation: that takes a
/// principal): for checking documents that are not in a spec, AWS's managed policies say.
pub fn document(what: &str, json: &serde_json::Value) -> Vec<Finding> {
    let document = crate::document::Document::new(json.clone());
    let spec_document = crate::spec::SpecDocument {
        what: what.to_owned(),
        at: Location::default(),
        owner: DocumentOwner::Managed(what),
        document: &document,
    };
    let mut raw = Vec::new();
    checks::document(ActionDb::get(), &spec_document, Kind::Identity, &mut raw);
    finish(
        &|raw| (String::new(), raw.at.line, raw.at.column),
        &LintConfig::default(),
        raw,
    )
}

/// Applies `[lint]`: levels by code, exceptions by code and policy (each unused exception is a
/// finding of its own); the data's date goes with unknown actions, since the data can lag a
/// new service by days.
fn finish(
    place: &dyn Fn(&Raw) -> (String, usize, usize),
    config: &LintConfig,
    raw: Vec<Raw>,
) -> Vec<Finding> {
    let mut used = vec![false; config.exceptions.len()];
    let mut findings = Vec::new();
    for finding in raw {
        let excepted = config.exceptions.iter().position(|e| {
            e.code == finding.code
                && (e.policy == finding.name
                    || finding.qualified.as_deref() == Some(e.policy.as_str()))
        });
        if let Some(i) = excepted {
            used[i] = true;
            continue;
        }
        let Some(severity) = level(config, finding.code) else {
            continue;
        };
        let (file, line, column) = place(&finding);
        let mut message = finding.message;
        if matches!(finding.code, "unknown-action" | "unknown-service") {
            let _ = write!(
                message,
                " (action data of {}; newer services may be missing)",
                ActionDb::get().source.date
            );
        }
        findings.push(Finding {
            code: finding.code,
            severity,
            file,
            line,
            column,
            policy: finding.what,
            statement: finding.statement,
            message,
        });
    }
    for (exception, used) in config.exceptions.iter().zip(used) {
        if used {
            continue;
        }
        if let Some(severity) = level(config, "unused-exception") {
            findings.push(Finding {
                code: "unused-exception",
                severity,
                file: place(&Raw {
                    code: "unused-exception",
                    what: String::new(),
                    name: String::new(),
                    qualified: None,
                    at: exception.at,
                    statement: None,
                    index: None,
                    message: String::new(),
                })
                .0,
                line: exception.at.line,
                column: exception.at.column,
                policy: format!("policy `{}`", exception.policy),
                statement: None,
                message: format!(
                    "the exception for {} matches no finding: remove it",
                    exception.code
                ),
            });
        }
    }
    findings.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    findings
}

/// A code's level in this spec: `[lint] levels`, else its default; `None` when off.
fn level(config: &LintConfig, code: &str) -> Option<Severity> {
    match config.levels.get(code) {
        Some(level) => match LevelSetting::parse(level) {
            Some(LevelSetting::At(severity)) => Some(severity),
            _ => None,
        },
        None => CODES
            .iter()
            .find(|(c, ..)| *c == code)
            .map(|(_, severity, _)| *severity),
    }
}

/// Whether `text` is a level `[lint] levels` takes.
pub fn is_level(text: &str) -> bool {
    LevelSetting::parse(text).is_some()
}

/// The statements of a document with their names (Sid, or `#index`).
pub(crate) fn statements(document: &serde_json::Value) -> Vec<(String, &serde_json::Value)> {
    let statements: Vec<&serde_json::Value> = match document.get("Statement") {
        Some(serde_json::Value::Array(items)) => items.iter().collect(),
        Some(one @ serde_json::Value::Object(_)) => vec![one],
        _ => Vec::new(),
    };
    statements
        .into_iter()
        .enumerate()
        .map(|(i, statement)| {
            let name = statement
                .get("Sid")
                .and_then(|s| s.as_str())
                .filter(|s| !s.is_empty())
                .map_or_else(|| format!("#{i}"), str::to_owned);
            (name, statement)
        })
        .collect()
}

/// A document's string or list of strings under `key`.
pub(crate) fn strings<'a>(value: &'a serde_json::Value, key: &str) -> Vec<&'a str> {
    match value.get(key) {
        Some(serde_json::Value::String(s)) => vec![s.as_str()],
        Some(serde_json::Value::Array(items)) => {
            items.iter().filter_map(serde_json::Value::as_str).collect()
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests;
