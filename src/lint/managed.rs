//! AWS-managed policies offline: every AWS-managed policy's default document, from a dated
//! snapshot embedded in the binary (`data/aws-managed-policies.json`, from moto's copy,
//! Apache-2.0; `scripts/aws-policies.py` makes it).
//!
//! One line a policy, sorted by name and beginning with it, so that a policy is found by a
//! binary search over the lines and only its line is parsed: a spec that names two AWS-managed
//! policies parses two documents, not 1,582. Each document is parsed once per process.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use serde::Serialize;

use crate::document::Document;

const DATA: &str = include_str!("../../data/aws-managed-policies.json");

/// Where the snapshot comes from and how new it is.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    pub source: String,
    pub version: String,
    /// The newest policy's last update: the snapshot knows nothing newer.
    pub newest: String,
    pub policies: usize,
}

/// The snapshot's first line.
pub fn snapshot() -> Snapshot {
    let header: serde_json::Value = DATA
        .lines()
        .next()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_default();
    let text = |key: &str| header[key].as_str().unwrap_or_default().to_owned();
    Snapshot {
        source: text("source"),
        version: text("version"),
        newest: text("newest"),
        policies: lines().len(),
    }
}

/// The policy lines, in name order.
fn lines() -> &'static [&'static str] {
    static LINES: OnceLock<Vec<&'static str>> = OnceLock::new();
    LINES.get_or_init(|| DATA.lines().skip(1).filter(|l| !l.is_empty()).collect())
}

/// The name a line begins with: `{"name":"X",...`.
fn name_of(line: &str) -> &str {
    line.strip_prefix("{\"name\":\"")
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
}

/// The default document of the AWS-managed policy `name`, if the snapshot has it.
pub fn document(name: &str) -> Option<&'static Document> {
    static PARSED: OnceLock<Mutex<HashMap<&'static str, &'static Document>>> = OnceLock::new();
    let parsed = PARSED.get_or_init(Mutex::default);
    let lines = lines();
    let at = lines.binary_search_by(|l| name_of(l).cmp(name)).ok()?;
    let line = lines[at];
    let mut parsed = parsed
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(document) = parsed.get(name_of(line)) {
        return Some(document);
    }
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    // Parsed once per process and kept for its life: at most the snapshot's 1,582 documents.
    let document: &'static Document = Box::leak(Box::new(Document::new(value["document"].clone())));
    parsed.insert(name_of(line), document);
    Some(document)
}

/// The path of the AWS-managed policy `name` (`/`, `/job-function/`, ...), if the snapshot
/// has it: its ARN is `arn:PARTITION:iam::aws:policy` + path + name.
pub fn path(name: &str) -> Option<&'static str> {
    let lines = lines();
    let line = lines[lines.binary_search_by(|l| name_of(l).cmp(name)).ok()?];
    let rest = line.split_once("\"path\":\"")?.1;
    rest.split('"').next()
}

/// Every AWS-managed policy's name, in order: for suggesting one.
pub fn names() -> impl Iterator<Item = &'static str> {
    lines().iter().map(|l| name_of(l))
}

/// Every policy's name and document, for checking them all.
pub fn all() -> impl Iterator<Item = (&'static str, &'static Document)> {
    lines()
        .iter()
        .filter_map(|l| Some((name_of(l), document(name_of(l))?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_is_found_by_name_and_the_snapshot_says_its_date() {
        let ec2 = document("AmazonEC2FullAccess").expect("in the snapshot");
        assert!(ec2.json.to_string().contains("ec2:*"));
        assert!(document("AmazonEC2FullAccesss").is_none());
        assert_eq!(path("AmazonEC2FullAccess"), Some("/"));
        assert_eq!(path("ViewOnlyAccess"), Some("/job-function/"));
        assert_eq!(path("NoSuchPolicy"), None);
        let snapshot = snapshot();
        assert_eq!(snapshot.source, "moto");
        assert!(snapshot.policies > 1500, "{snapshot:?}");
        assert!(snapshot.newest.starts_with("20"), "{snapshot:?}");
        let names: Vec<&str> = lines().iter().map(|l| name_of(l)).collect();
        assert!(
            names.windows(2).all(|w| w[0] < w[1]),
            "the lines are sorted by name"
        );
    }
}
