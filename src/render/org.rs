//! An organization's plan or apply, rendered: a header and the plan per account, then one
//! table; the same as JSON (schema: docs/organizations.md) and as Markdown for a pull
//! request's comment, where each account with changes is a section that opens on a click.

use std::fmt::Write as _;

use serde_json::json;

use super::Style;
use crate::plan::Plan;

/// What one account's plan or apply came to.
pub struct Row<'a> {
    pub id: &'a str,
    pub name: Option<&'a str>,
    /// The plan, when the account could be planned.
    pub plan: Option<&'a Plan>,
    /// Why it could not be planned or applied.
    pub error: Option<String>,
    /// What became of it: `changes`, `no changes`, `error`, `applied`, `failed`, ...
    pub status: String,
    /// Where its new secrets go.
    pub secrets_dir: &'a std::path::Path,
}

impl Row<'_> {
    fn label(&self) -> String {
        match self.name {
            Some(name) => format!("{name} ({})", self.id),
            None => self.id.to_owned(),
        }
    }

    fn counts(&self) -> [String; 4] {
        match self.plan {
            Some(p) => [
                p.summary.add.to_string(),
                p.summary.change.to_string(),
                p.summary.remove.to_string(),
                p.drift.len().to_string(),
            ],
            None => [
                "-".to_owned(),
                "-".to_owned(),
                "-".to_owned(),
                "-".to_owned(),
            ],
        }
    }
}

/// The plans one after the other, each under its account's header, then the table.
pub fn text(rows: &[Row<'_>], color: bool) -> String {
    let mut out = String::new();
    for row in rows {
        let _ = writeln!(out, "=== account {} ===\n", row.label());
        match (&row.error, row.plan) {
            (Some(error), _) => {
                let _ = writeln!(out, "error: {error}\n");
            }
            (None, Some(plan)) => {
                let style = Style {
                    color,
                    secrets_dir: row.secrets_dir,
                };
                out.push_str(&super::text(plan, style));
                out.push('\n');
            }
            (None, None) => {}
        }
    }
    out.push_str(&table(rows));
    out
}

/// The table of every account: what its plan adds, changes, removes, what drifts, and its
/// status.
pub fn table(rows: &[Row<'_>]) -> String {
    let head = [
        "account", "name", "add", "change", "remove", "drift", "status",
    ];
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            let [add, change, remove, drift] = r.counts();
            [
                r.id.to_owned(),
                r.name.unwrap_or("-").to_owned(),
                add,
                change,
                remove,
                drift,
                r.status.clone(),
            ]
        })
        .collect();
    let mut widths = head.map(str::len);
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &[&str]| {
        let mut text = String::new();
        for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
            // Names left, numbers right.
            if (2..6).contains(&i) {
                let _ = write!(text, "{cell:>width$}  ");
            } else {
                let _ = write!(text, "{cell:<width$}  ");
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut out, &head);
    for row in &cells {
        let refs: Vec<&str> = row.iter().map(String::as_str).collect();
        line(&mut out, &refs);
    }
    let _ = writeln!(out, "\n{}", summary_line(rows));
    out
}

/// `3 accounts: 2 with changes (+5 ~1 -0), 1 error.`
fn summary_line(rows: &[Row<'_>]) -> String {
    let s = Summary::of(rows);
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut parts = vec![format!(
        "{} with changes (+{} ~{} -{})",
        s.with_changes, s.add, s.change, s.remove
    )];
    if s.drift > 0 {
        parts.push(plural(s.drift, "drift", "drifts"));
    }
    if s.errors > 0 {
        parts.push(plural(s.errors, "error", "errors"));
    }
    format!(
        "{}: {}.",
        plural(s.accounts, "account", "accounts"),
        parts.join(", ")
    )
}

/// The counts over every account.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct Summary {
    pub accounts: usize,
    pub with_changes: usize,
    pub errors: usize,
    pub add: usize,
    pub change: usize,
    pub remove: usize,
    pub drift: usize,
}

impl Summary {
    pub fn of(rows: &[Row<'_>]) -> Self {
        let mut s = Summary {
            accounts: rows.len(),
            ..Summary::default()
        };
        for row in rows {
            if row.error.is_some() {
                s.errors += 1;
            }
            if let Some(plan) = row.plan {
                s.with_changes += usize::from(plan.needs_attention());
                s.add += plan.summary.add;
                s.change += plan.summary.change;
                s.remove += plan.summary.remove;
                s.drift += plan.drift.len();
            }
        }
        s
    }
}

/// `{"format_version", "accounts": [{"account", "name", "plan"} | {"account", "name",
/// "error"}], "summary"}`; each plan as `plan --json` prints it for one account.
pub fn json(rows: &[Row<'_>]) -> String {
    let accounts: Vec<serde_json::Value> = rows
        .iter()
        .map(|row| {
            let mut entry = json!({ "account": row.id, "name": row.name });
            match (&row.error, row.plan) {
                (Some(error), _) => entry["error"] = json!(error),
                (None, Some(plan)) => {
                    entry["plan"] =
                        serde_json::from_str(&super::json(plan)).expect("a plan's JSON reads back");
                }
                (None, None) => {}
            }
            entry
        })
        .collect();
    let value = json!({
        "format_version": 1,
        "accounts": accounts,
        "summary": Summary::of(rows),
    });
    let mut out = serde_json::to_string_pretty(&value).expect("JSON serialises");
    out.push('\n');
    out
}

/// For a pull request's comment: the summary table, then one collapsible section per
/// account with changes, drift or an error, so that a plan of forty accounts stays readable.
pub fn markdown(rows: &[Row<'_>]) -> String {
    let mut out = String::from("### iamspec plan\n\n");
    out.push_str("| account | name | add | change | remove | drift | status |\n");
    out.push_str("|---|---|--:|--:|--:|--:|---|\n");
    for row in rows {
        let [add, change, remove, drift] = row.counts();
        let _ = writeln!(
            out,
            "| {} | {} | {add} | {change} | {remove} | {drift} | {} |",
            cell(row.id),
            cell(row.name.unwrap_or("-")),
            cell(&row.status)
        );
    }
    let _ = writeln!(out, "\n{}\n", summary_line(rows));
    for row in rows {
        let style = Style {
            color: false,
            secrets_dir: row.secrets_dir,
        };
        let body = match (&row.error, row.plan) {
            (Some(error), _) => format!("error: {error}\n"),
            (None, Some(plan)) if plan.needs_attention() || !plan.drift.is_empty() => {
                super::text(plan, style)
            }
            _ => continue,
        };
        let [add, change, remove, _] = row.counts();
        let _ = writeln!(
            out,
            "<details><summary>{} — +{add} ~{change} -{remove}</summary>\n\n~~~~\n{}~~~~\n\n</details>\n",
            cell(&row.label()),
            body.replace("~~~~", "~ ~ ~ ~")
        );
    }
    out
}

/// A table cell's text: a `|` would end the cell, and `<` `>` `&` would be HTML.
fn cell(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
        .replace('`', "\\`")
        .replace('[', "\\[")
        .replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hostile_account_name_cannot_break_the_markdown() {
        let row = Row {
            id: "111111111111",
            name: Some("a | b <script>"),
            plan: None,
            error: Some("could not assume the role".to_owned()),
            status: "error".to_owned(),
            secrets_dir: std::path::Path::new("secrets"),
        };
        let text = markdown(&[row]);
        assert!(text.contains("| a \\| b &lt;script&gt; |"), "{text}");
        assert!(!text.contains("<script>"), "{text}");
        assert!(
            text.contains("<details><summary>a \\| b &lt;script&gt; (111111111111)"),
            "{text}"
        );
        assert!(
            text.contains("1 account: 0 with changes (+0 ~0 -0), 1 error."),
            "{text}"
        );
    }

    #[test]
    fn the_table_lines_up_and_counts_every_account() {
        let rows: Vec<Row<'_>> = ["dev", "production"]
            .iter()
            .map(|name| Row {
                id: "222222222222",
                name: Some(name),
                plan: None,
                error: None,
                status: "no changes".to_owned(),
                secrets_dir: std::path::Path::new("secrets"),
            })
            .collect();
        let text = table(&rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "account       name        add  change  remove  drift  status"
        );
        assert_eq!(
            lines[1],
            "222222222222  dev           -       -       -      -  no changes"
        );
        assert!(
            text.ends_with("2 accounts: 0 with changes (+0 ~0 -0).\n"),
            "{text}"
        );
    }
}
