//! What a policy document allows, every wildcard expanded through the action table, and what a
//! change of document adds and takes away: the plan shows it beside the document's diff.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::data::{ActionDb, Level, glob};
use super::{statements, strings};

/// What a change of a document grants that was not granted, and what it no longer grants.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Grants {
    /// `service:Action` and its access level, sorted.
    pub added: Vec<Granted>,
    pub removed: Vec<Granted>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Granted {
    pub action: String,
    pub level: Level,
}

impl Grants {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// The actions a document allows on some resource: those its `Allow` statements name (a
/// `NotAction` allows every other action), less those an unconditional `Deny` on every
/// resource takes away. Each with its access level.
pub fn allowed(document: &Value) -> BTreeMap<String, Level> {
    let db = ActionDb::get();
    let mut allowed = BTreeMap::new();
    let all = statements(document);
    for (_, statement) in &all {
        if statement.get("Effect").and_then(Value::as_str) != Some("Allow") {
            continue;
        }
        let negated: Vec<String> = strings(statement, "NotAction")
            .iter()
            .map(|p| p.to_lowercase())
            .collect();
        let patterns: Vec<&str> = if statement.get("NotAction").is_some() {
            vec!["*"]
        } else {
            strings(statement, "Action")
        };
        for pattern in patterns {
            for (service, action) in db.expand(pattern) {
                let name = format!("{}:{}", service.prefix, action.name);
                let lower = name.to_lowercase();
                if negated.iter().any(|n| glob(n, &lower)) {
                    continue;
                }
                allowed.insert(name, action.level);
            }
        }
    }
    for (_, statement) in &all {
        let denies_all = statement.get("Effect").and_then(Value::as_str) == Some("Deny")
            && statement.get("Condition").is_none()
            && strings(statement, "Resource").contains(&"*");
        if !denies_all {
            continue;
        }
        let denied: Vec<String> = strings(statement, "Action")
            .iter()
            .map(|p| p.to_lowercase())
            .collect();
        allowed.retain(|name, _| !denied.iter().any(|d| glob(d, &name.to_lowercase())));
    }
    allowed
}

/// What changing `before` (none: a new document) into `after` grants and takes away.
pub fn change(before: Option<&Value>, after: &Value) -> Grants {
    compare(&before.map(allowed).unwrap_or_default(), &allowed(after))
}

/// What `after` has that `before` has not, and the reverse.
pub fn compare(before: &BTreeMap<String, Level>, after: &BTreeMap<String, Level>) -> Grants {
    let diff = |a: &BTreeMap<String, Level>, b: &BTreeMap<String, Level>| {
        a.iter()
            .filter(|(name, _)| !b.contains_key(*name))
            .map(|(name, level)| Granted {
                action: name.clone(),
                level: *level,
            })
            .collect()
    };
    Grants {
        added: diff(after, before),
        removed: diff(before, after),
    }
}

/// Who a trust policy lets assume the role: each allowed action with the principal it is
/// granted to and the condition keys it depends on, as `sts:AssumeRole by AWS
/// arn:aws:iam::111111111111:root (conditions on sts:ExternalId)`.
pub fn trusted(document: &Value) -> BTreeMap<String, Level> {
    let db = ActionDb::get();
    let mut trusted = BTreeMap::new();
    for (_, statement) in statements(document) {
        if statement.get("Effect").and_then(Value::as_str) != Some("Allow") {
            continue;
        }
        let mut principals = Vec::new();
        match statement.get("Principal") {
            Some(Value::String(any)) => principals.push(format!("anyone ({any})")),
            Some(Value::Object(kinds)) => {
                for (kind, values) in kinds {
                    let values = match values {
                        Value::String(one) => vec![one.as_str()],
                        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                        _ => Vec::new(),
                    };
                    principals.extend(values.into_iter().map(|v| format!("{kind} {v}")));
                }
            }
            _ => {}
        }
        let mut keys: Vec<&str> = statement
            .get("Condition")
            .and_then(Value::as_object)
            .map(|ops| {
                ops.values()
                    .filter_map(Value::as_object)
                    .flat_map(|k| k.keys().map(String::as_str))
                    .collect()
            })
            .unwrap_or_default();
        keys.sort_unstable();
        keys.dedup();
        let conditions = if keys.is_empty() {
            String::new()
        } else {
            format!(" (conditions on {})", keys.join(", "))
        };
        for pattern in strings(statement, "Action") {
            for (service, action) in db.expand(pattern) {
                for principal in &principals {
                    trusted.insert(
                        format!(
                            "{}:{} by {principal}{conditions}",
                            service.prefix, action.name
                        ),
                        action.level,
                    );
                }
            }
        }
    }
    trusted
}

/// What changing a trust policy `before` (none: a new role) into `after` lets assume the
/// role, and what it no longer does.
pub fn trust_change(before: Option<&Value>, after: &Value) -> Grants {
    compare(&before.map(trusted).unwrap_or_default(), &trusted(after))
}

/// "grants 12 new actions, 3 of them Permissions management: iam:AttachRolePolicy, ...", and
/// what it no longer grants; empty when nothing changes.
pub fn words(grants: &Grants) -> Vec<String> {
    let mut lines = Vec::new();
    let mut by_level = |granted: &[Granted], verb: &str| {
        if granted.is_empty() {
            return;
        }
        let mut sorted: Vec<&Granted> = granted.iter().collect();
        sorted.sort_by(|a, b| b.level.cmp(&a.level).then(a.action.cmp(&b.action)));
        let strongest = sorted[0].level;
        let strong = sorted.iter().filter(|g| g.level == strongest).count();
        let names: Vec<String> = sorted.iter().map(|g| g.action.clone()).collect();
        let count = granted.len();
        let plural = if count == 1 { "action" } else { "actions" };
        let of_them = if strong == count {
            format!("all {}", strongest.as_str())
        } else {
            format!("{strong} of them {}", strongest.as_str())
        };
        lines.push(format!(
            "{verb} {count} {plural}, {of_them}: {}",
            super::checks::list(&names)
        ));
    };
    by_level(&grants.added, "grants");
    by_level(&grants.removed, "no longer grants");
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_change_lists_what_it_adds_and_takes_away_with_levels() {
        let before = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject", "iam:ListUsers"], "Resource": "*"}
        ]});
        let after = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject", "iam:Attach*"], "Resource": "*"}
        ]});
        let grants = change(Some(&before), &after);
        let added: Vec<&str> = grants.added.iter().map(|g| g.action.as_str()).collect();
        assert_eq!(
            added,
            [
                "iam:AttachGroupPolicy",
                "iam:AttachRolePolicy",
                "iam:AttachUserPolicy"
            ]
        );
        assert!(
            grants
                .added
                .iter()
                .all(|g| g.level == Level::PermissionsManagement)
        );
        assert_eq!(grants.removed[0].action, "iam:ListUsers");
        assert_eq!(
            words(&grants),
            [
                "grants 3 actions, all Permissions management: iam:AttachGroupPolicy, iam:AttachRolePolicy, iam:AttachUserPolicy",
                "no longer grants 1 action, all List: iam:ListUsers"
            ]
        );
    }

    #[test]
    fn a_trust_change_says_who_may_assume_the_role_now() {
        let before = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ]});
        let after = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111111111111:root"]}, "Action": "sts:AssumeRole",
             "Condition": {"StringEquals": {"sts:ExternalId": "x"}}}
        ]});
        let grants = trust_change(Some(&before), &after);
        assert_eq!(
            grants.added[0].action,
            "sts:AssumeRole by AWS arn:aws:iam::111111111111:root (conditions on sts:ExternalId)"
        );
        assert_eq!(
            grants.removed[0].action,
            "sts:AssumeRole by Service ec2.amazonaws.com"
        );
    }

    #[test]
    fn not_action_and_unconditional_deny_are_counted() {
        let document = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:*", "Resource": "*"}
        ]});
        let allowed = allowed(&document);
        assert!(allowed.contains_key("ec2:RunInstances"));
        assert!(
            !allowed
                .keys()
                .any(|a| a.starts_with("iam:") || a.starts_with("s3:"))
        );
    }
}
