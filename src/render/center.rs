//! The Identity Center part of an organization's plan, under its own header, in text and
//! JSON.

use std::fmt::Write as _;

use anstyle::AnsiColor;
use serde_json::{Value, json};

use crate::apply::center::Outcome;
use crate::plan::center::{Action, CenterPlan};

fn sign(action: Action) -> (&'static str, anstyle::Style) {
    match action {
        Action::Create => ("+", AnsiColor::Green.on_default()),
        Action::Update => ("~", AnsiColor::Yellow.on_default()),
        Action::Delete => ("-", AnsiColor::Red.on_default()),
    }
}

/// The changes, each on a line with its sign, then the notes and a count.
pub fn text(plan: &CenterPlan, color: bool) -> String {
    let mut out = format!("=== IAM Identity Center ({}) ===\n", plan.instance);
    for change in &plan.changes {
        let (sign, style) = sign(change.action);
        if color {
            let _ = writeln!(out, "{style}{sign} {}{style:#}", change.text);
        } else {
            let _ = writeln!(out, "{sign} {}", change.text);
        }
    }
    for note in &plan.notes {
        let _ = writeln!(out, "note: {note}");
    }
    for refused in &plan.refused {
        let _ = writeln!(out, "refused: {refused}");
    }
    let count = plan.changes.len();
    if count == 0 {
        out.push_str("IAM Identity Center: no changes.\n");
    } else {
        let _ = writeln!(
            out,
            "IAM Identity Center: {count} change{} ({} to delete).",
            if count == 1 { "" } else { "s" },
            plan.deletions()
        );
    }
    out
}

/// `{"instance", "changes": [{"action", "kind", "text"}], "notes", "summary"}`.
pub fn json(plan: &CenterPlan) -> Value {
    let changes: Vec<Value> = plan
        .changes
        .iter()
        .map(|c| json!({ "action": c.action, "kind": c.kind, "text": c.text }))
        .collect();
    let count = |a: Action| plan.changes.iter().filter(|c| c.action == a).count();
    json!({
        "instance": plan.instance,
        "changes": changes,
        "notes": plan.notes,
        "refused": plan.refused,
        "summary": {
            "create": count(Action::Create),
            "update": count(Action::Update),
            "delete": count(Action::Delete),
        },
    })
}

/// What an apply of the instance came to, after the lines said as it went.
pub fn outcome(outcome: &Outcome) -> String {
    let mut out = String::new();
    if let Some((change, reason)) = &outcome.failed {
        let _ = writeln!(out, "error: {change}: {reason}");
    }
    if let Some(code) = outcome.stopped {
        let _ = writeln!(
            out,
            "stopped by a signal (exit {code}) before the next change"
        );
    }
    if outcome.halted {
        let _ = writeln!(
            out,
            "stopped before the next change: Identity Center's apply lock was lost (its lease ran out without renewal, or it was removed by hand)"
        );
    }
    let _ = writeln!(
        out,
        "IAM Identity Center: {} change{} made{}.",
        outcome.done.len(),
        if outcome.done.len() == 1 { "" } else { "s" },
        if outcome.not_run > 0 {
            format!(", {} not run: apply again to make them", outcome.not_run)
        } else {
            String::new()
        }
    );
    out
}
