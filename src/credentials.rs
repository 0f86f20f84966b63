//! `iamspec credentials`: IAM's credential report as people want to read it, one row per
//! user with each key's age, status and last use, the console password and MFA, marked where
//! it breaks the spec's rules (`max_age`, `disable_unused`) or the ones every account should
//! keep (MFA beside a password; no root access keys, MFA on the root user).
//!
//! Pure: `assess` takes the report, the spec and the clock; the command line reads them.

use std::fmt::Write as _;

use serde::Serialize;

use crate::live::{CredentialReport, KeyUse, ReportedUser, idle};
use crate::render::{age_words, date};
use crate::spec::Spec;

/// The report, assessed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assessment {
    /// When it was assessed, in seconds since 1970.
    pub now: i64,
    /// The root user first, when the report has its row; then the users by name.
    pub rows: Vec<Row>,
}

impl Assessment {
    /// Whether anything breaks a rule.
    pub fn breaks_rules(&self) -> bool {
        self.rows.iter().any(|r| !r.problems.is_empty())
    }
}

/// One user's credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub user: String,
    pub root: bool,
    /// Whether the spec names the user.
    pub in_spec: bool,
    pub keys: Vec<KeyRow>,
    pub password: Option<PasswordRow>,
    pub mfa: bool,
    /// What breaks a rule, in words; empty when nothing does.
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyRow {
    /// The report's slot: 1 or 2.
    pub slot: usize,
    pub active: bool,
    /// In seconds.
    pub age: u64,
    pub last_used: Option<KeyUse>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PasswordRow {
    /// When it was last set, in seconds since 1970.
    pub changed: i64,
    /// When it was last used to sign in.
    pub last_used: Option<i64>,
}

/// Assesses every row of the report against the spec's rules, if a spec is given, and the
/// rules every account should keep.
pub fn assess(report: &CredentialReport, spec: Option<&Spec>, now: i64) -> Assessment {
    let root = report
        .root
        .as_ref()
        .map(|row| assess_row("<root>", row, true, spec, now));
    let users = report
        .users
        .iter()
        .map(|(name, row)| assess_row(name, row, false, spec, now));
    Assessment {
        now,
        rows: root.into_iter().chain(users).collect(),
    }
}

fn assess_row(name: &str, row: &ReportedUser, root: bool, spec: Option<&Spec>, now: i64) -> Row {
    let spec_user = spec.and_then(|s| s.users.values().find(|u| u.name.eq_ignore_ascii_case(name)));
    let max_age = spec_user.and_then(|u| u.rotation).map(|r| r.max_age);
    // `disable_unused` is about the spec's users, as apply acts on them.
    let disable_unused = spec_user.and(spec.and_then(|s| s.settings.disable_unused));
    let mut problems = Vec::new();
    let keys: Vec<KeyRow> = row
        .keys
        .iter()
        .enumerate()
        .map(|(i, key)| KeyRow {
            slot: i + 1,
            active: key.active,
            age: idle(key.created, now),
            last_used: key.last_used.clone(),
        })
        .collect();
    for (key, reported) in keys.iter().zip(&row.keys).filter(|(k, _)| k.active) {
        if root {
            problems.push(format!(
                "the root user has an active access key ({}): delete it and use IAM roles or users instead",
                key.slot
            ));
        }
        if let Some(max_age) = max_age.filter(|max| key.age >= *max) {
            problems.push(format!(
                "key {} is {} old, past its max_age of {}",
                key.slot,
                age_words(key.age),
                age_words(max_age)
            ));
        }
        let since = reported
            .last_used
            .as_ref()
            .map_or(reported.created, |u| u.at);
        if let Some(limit) = disable_unused.filter(|limit| idle(since, now) >= *limit) {
            problems.push(format!(
                "key {} unused for {}, past disable_unused ({})",
                key.slot,
                age_words(idle(since, now)),
                age_words(limit)
            ));
        }
    }
    let password = row.login.map(|login| PasswordRow {
        changed: login.created,
        last_used: login.last_used,
    });
    if let Some(login) = &row.login {
        let since = login.last_used.unwrap_or(login.created);
        if let Some(limit) = disable_unused.filter(|limit| idle(since, now) >= *limit) {
            problems.push(format!(
                "console password unused for {}, past disable_unused ({})",
                age_words(idle(since, now)),
                age_words(limit)
            ));
        }
        if !row.mfa {
            problems.push("console password without MFA".to_owned());
        }
    }
    if root && !row.mfa {
        problems.push("the root user has no MFA device: enable one".to_owned());
    }
    Row {
        user: name.to_owned(),
        root,
        in_spec: spec_user.is_some(),
        keys,
        password,
        mfa: row.mfa,
        problems,
    }
}

/// The assessment as a table: a line per user, then what breaks a rule.
pub fn text(assessment: &Assessment) -> String {
    let header = ["USER", "KEY 1", "KEY 2", "PASSWORD", "MFA"];
    let now = assessment.now;
    let mut table: Vec<[String; 5]> = vec![header.map(str::to_owned)];
    for row in &assessment.rows {
        let key = |slot: usize| {
            row.keys
                .iter()
                .find(|k| k.slot == slot)
                .map_or_else(|| "-".to_owned(), |k| key_cell(k, now))
        };
        let password = row.password.as_ref().map_or_else(
            || "-".to_owned(),
            |p| match p.last_used {
                Some(at) => format!("used {} ago", age_words(idle(at, now))),
                None => format!("never used, set {} ago", age_words(idle(p.changed, now))),
            },
        );
        let mfa = if row.mfa { "yes" } else { "no" };
        let user = if row.in_spec || row.root {
            row.user.clone()
        } else {
            format!("{} (not in spec)", row.user)
        };
        table.push([user, key(1), key(2), password, mfa.to_owned()]);
    }
    let widths: Vec<usize> = (0..5)
        .map(|c| {
            table
                .iter()
                .map(|r| r[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for cells in &table {
        let line: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    let problems: Vec<String> = assessment
        .rows
        .iter()
        .flat_map(|r| {
            r.problems
                .iter()
                .map(move |p| format!("  ! {}: {p}", r.user))
        })
        .collect();
    if problems.is_empty() {
        out.push_str("\nNothing breaks a rule.\n");
    } else {
        let _ = writeln!(
            out,
            "\n{} problem{}:",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" }
        );
        for line in problems {
            let _ = writeln!(out, "{line}");
        }
    }
    let _ = writeln!(out, "(as of {})", date(now));
    out
}

fn key_cell(key: &KeyRow, now: i64) -> String {
    let status = if key.active { "active" } else { "inactive" };
    let used = match &key.last_used {
        Some(used) => {
            let mut text = format!("used {} ago", age_words(idle(used.at, now)));
            let place: Vec<&str> = [&used.service, &used.region]
                .into_iter()
                .filter_map(|s| s.as_deref())
                .collect();
            if !place.is_empty() {
                let _ = write!(text, " ({})", place.join(", "));
            }
            text
        }
        None => "never used".to_owned(),
    };
    format!("{status}, {} old, {used}", age_words(key.age))
}

/// The assessment as JSON.
pub fn json(assessment: &Assessment) -> String {
    let mut out = serde_json::to_string_pretty(assessment).expect("an assessment serialises");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::{Login, ReportedKey};

    const NOW: i64 = 1_800_000_000;
    const DAY: i64 = 86_400;

    fn spec(text: &str) -> Spec {
        crate::spec::parse(text, std::path::Path::new("spec.toml")).unwrap()
    }

    #[test]
    fn rows_are_marked_where_they_break_a_rule() {
        let root = Some(ReportedUser {
            keys: vec![ReportedKey {
                active: true,
                created: NOW - 900 * DAY,
                last_used: None,
            }],
            ..ReportedUser::default()
        });
        let mut report = CredentialReport {
            root,
            ..CredentialReport::default()
        };
        report.users.insert(
            "dev".into(),
            ReportedUser {
                created: NOW - 400 * DAY,
                keys: vec![
                    ReportedKey {
                        active: true,
                        created: NOW - 120 * DAY,
                        last_used: Some(KeyUse {
                            at: NOW - DAY,
                            service: Some("s3".into()),
                            region: Some("us-east-1".into()),
                        }),
                    },
                    ReportedKey {
                        active: true,
                        created: NOW - 10 * DAY,
                        last_used: None,
                    },
                ],
                login: Some(Login {
                    created: NOW - 200 * DAY,
                    last_used: Some(NOW - 100 * DAY),
                }),
                mfa: false,
            },
        );
        report.users.insert(
            "tidy".into(),
            ReportedUser {
                mfa: true,
                ..ReportedUser::default()
            },
        );
        let spec = spec(
            "version = 1\n[account]\ndisable_unused = \"90d\"\n[users.dev]\naccess_key = { max_age = \"90d\" }\n",
        );
        let assessed = assess(&report, Some(&spec), NOW);
        assert!(assessed.breaks_rules());
        let problems: Vec<(&str, &Vec<String>)> = assessed
            .rows
            .iter()
            .map(|r| (r.user.as_str(), &r.problems))
            .collect();
        assert_eq!(
            problems,
            [
                (
                    "<root>",
                    &vec![
                        "the root user has an active access key (1): delete it and use IAM roles or users instead".to_owned(),
                        "the root user has no MFA device: enable one".to_owned(),
                    ]
                ),
                (
                    "dev",
                    &vec![
                        "key 1 is 120 days old, past its max_age of 90 days".to_owned(),
                        "console password unused for 100 days, past disable_unused (90 days)".to_owned(),
                        "console password without MFA".to_owned(),
                    ]
                ),
                ("tidy", &Vec::new()),
            ]
        );
        let table = text(&assessed);
        assert!(
            table.contains("active, 120 days old, used 24 hours ago (s3, us-east-1)"),
            "{table}"
        );
        assert!(table.contains("tidy (not in spec)"), "{table}");
        assert!(table.contains("5 problems:"), "{table}");
        let json: serde_json::Value = serde_json::from_str(&json(&assessed)).unwrap();
        assert_eq!(json["rows"][1]["keys"][0]["last_used"]["service"], "s3");
        // Without a spec only the rules every account keeps apply.
        let bare = assess(&report, None, NOW);
        assert_eq!(bare.rows[1].problems, ["console password without MFA"]);
    }
}

/// An IAM user with active access keys who also has an IAM Identity Center identity: the way
/// from long-lived keys to temporary credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Federated {
    pub user: String,
    /// The identity store's user name.
    pub identity: String,
    /// `name` (the same user name) or `email` (the IAM user's `email` tag in the spec is the
    /// identity's email).
    pub matched_by: &'static str,
    pub active_keys: usize,
}

/// The assessed users who hold active keys and have an Identity Center identity, matched by
/// name or by the spec's `email` tag.
pub fn federated(
    assessment: &Assessment,
    spec: Option<&Spec>,
    identities: &[crate::live::center::StoreUser],
) -> Vec<Federated> {
    let mut found = Vec::new();
    for row in assessment.rows.iter().filter(|r| !r.root) {
        let active_keys = row.keys.iter().filter(|k| k.active).count();
        if active_keys == 0 {
            continue;
        }
        let email = spec
            .and_then(|s| s.users.get(&row.user))
            .and_then(|u| u.tags.get("email").or_else(|| u.tags.get("Email")))
            .map(|e| e.to_lowercase());
        let by_name = identities.iter().find(|i| i.name == row.user);
        let by_email = || {
            identities
                .iter()
                .find(|i| email.is_some() && i.email.as_ref().map(|e| e.to_lowercase()) == email)
        };
        let matched = match (by_name, by_email()) {
            (Some(i), _) => Some((i, "name")),
            (None, Some(i)) => Some((i, "email")),
            (None, None) => None,
        };
        if let Some((identity, matched_by)) = matched {
            found.push(Federated {
                user: row.user.clone(),
                identity: identity.name.clone(),
                matched_by,
                active_keys,
            });
        }
    }
    found
}

/// The lines `credentials ORG` adds under an account for its federated users.
pub fn federated_text(found: &[Federated]) -> String {
    let mut out = String::new();
    for f in found {
        let _ = writeln!(
            out,
            "note: IAM user `{}` holds {} active access key{} and has an IAM Identity Center identity `{}` (same {}): let them sign in through Identity Center, then delete the key{}",
            f.user,
            f.active_keys,
            if f.active_keys == 1 { "" } else { "s" },
            f.identity,
            f.matched_by,
            if f.active_keys == 1 { "" } else { "s" },
        );
    }
    out
}
