//! Findings as SARIF 2.1.0, the format GitHub code scanning reads: one run of the tool
//! `iamspec`, a rule per finding code (its description and default level), and a result per
//! finding, placed at its file, line and column.

use serde_json::{Value, json};

use crate::lint::{CODES, Finding, Severity};

/// SARIF's name for a level.
fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// A file path as a SARIF artifact URI: relative, `/`-separated, each segment escaped.
fn uri(path: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    path.trim_start_matches("./")
        .split('/')
        .map(|s| percent_encoding::utf8_percent_encode(s, SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// The SARIF log of `findings`.
pub fn sarif(findings: &[Finding]) -> String {
    let rules: Vec<Value> = CODES
        .iter()
        .map(|(code, severity, description)| {
            json!({
                "id": code,
                "shortDescription": { "text": description },
                "defaultConfiguration": { "level": level(*severity) },
            })
        })
        .collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let statement = f
                .statement
                .as_ref()
                .map(|s| format!(", statement {s}"))
                .unwrap_or_default();
            json!({
                "ruleId": f.code,
                "ruleIndex": CODES.iter().position(|(c, ..)| *c == f.code).unwrap_or(0),
                "level": level(f.severity),
                "message": { "text": format!("{}{statement}: {}", f.policy, f.message) },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": uri(&f.file) },
                        "region": {
                            "startLine": f.line.max(1),
                            "startColumn": f.column.max(1),
                        },
                    },
                }],
            })
        })
        .collect();
    let log = json!({
        "version": "2.1.0",
        "$schema": "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "iamspec",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rules,
                },
            },
            "results": results,
        }],
    });
    let mut text = serde_json::to_string_pretty(&log).expect("SARIF serialises");
    text.push('\n');
    text
}
