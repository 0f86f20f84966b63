//! Stage 4: show a plan. The text form reads like Terraform's; the JSON form is the `Plan`
//! serialised as it is (schema in docs/plan-json.md). Both come from the same data.

pub mod center;
pub mod org;
pub mod sarif;

use std::fmt::Write as _;
use std::path::Path;

use crate::apply::Report;
use crate::document;
use crate::iam::{OWNER_TAG, PolicyArn};
use anstyle::AnsiColor;

use crate::plan::{Action, Cause, Change, Drift, Immutable, KeyStatus, Op, Plan, RotationStep};
use crate::spec::PasswordPolicy;

/// How to render text.
#[derive(Debug, Clone, Copy)]
pub struct Style<'a> {
    /// ANSI colours: only on a terminal and without `NO_COLOR`.
    pub color: bool,
    /// Where new secrets go, to say so beside each new key.
    pub secrets_dir: &'a Path,
}

const GREEN: anstyle::Style = AnsiColor::Green.on_default();
const YELLOW: anstyle::Style = AnsiColor::Yellow.on_default();
const CYAN: anstyle::Style = AnsiColor::Cyan.on_default();
const RED: anstyle::Style = AnsiColor::Red.on_default();
const BOLD: anstyle::Style = anstyle::Style::new().bold();

/// A name read from AWS (an identity-store user or group, an account or OU name, a tag), as
/// iamspec shows it: whoever can rename the thing chose it, so nothing in it may add a line,
/// move the cursor, reorder text or close a Markdown fence. Control characters, bidirectional
/// and invisible format characters become `\u{..}` escapes (`\n`, `\t` as such), and a
/// backslash or backtick is escaped. Ordinary names come out unchanged.
pub fn untrusted(name: &str) -> String {
    let plain = |c: char| {
        !c.is_control()
            && !matches!(c, '\\' | '`' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{206f}' | '\u{feff}')
    };
    if name.chars().all(plain) {
        return name.to_owned();
    }
    let mut shown = String::with_capacity(name.len() + 8);
    for c in name.chars() {
        match c {
            '\\' => shown.push_str("\\\\"),
            '`' => shown.push_str("\\`"),
            '\n' => shown.push_str("\\n"),
            '\r' => shown.push_str("\\r"),
            '\t' => shown.push_str("\\t"),
            c if plain(c) => shown.push(c),
            c => {
                let _ = write!(shown, "\\u{{{:x}}}", u32::from(c));
            }
        }
    }
    shown
}

/// The plan as text, ending in a newline.
pub fn text(plan: &Plan, style: Style<'_>) -> String {
    let paint = |color: anstyle::Style, text: &str| {
        if style.color {
            format!("{color}{text}{color:#}")
        } else {
            text.to_owned()
        }
    };
    let mut out = String::new();
    if plan.changes.is_empty() {
        let _ = writeln!(
            out,
            "{} The account {} matches the spec.",
            paint(BOLD, "No changes."),
            plan.account
        );
    } else {
        let _ = writeln!(
            out,
            "iamspec will make these changes in account {}:\n",
            plan.account
        );
        for change in &plan.changes {
            let color = match change.action {
                Action::Create => GREEN,
                Action::Update => YELLOW,
                Action::Delete => RED,
            };
            let symbol = paint(color, &change.action.symbol().to_string());
            let mut line = describe(change);
            if let Op::CreateAccessKey { user, .. } = &change.op {
                let file = style.secrets_dir.join(format!("{user}.csv"));
                let _ = write!(line, " (secret to be saved in {})", file.display());
            }
            if let Op::CreateLoginProfile { user, .. } = &change.op {
                let file = style.secrets_dir.join(format!("passwords/{user}.csv"));
                let _ = write!(line, " (password to be saved in {})", file.display());
            }
            if let Some(cause) = &change.cause {
                let _ = write!(line, " ({})", reason(cause));
            }
            let _ = writeln!(out, "  {symbol} {line}");
            if let Some(grants) = &change.grants {
                for line in crate::lint::grants::words(grants) {
                    let _ = writeln!(out, "      {line}");
                }
            }
            out.push_str(&document_block(&change.op, style.color));
        }
        let summary = format!(
            "Plan: {} to add, {} to change, {} to remove.",
            plan.summary.add, plan.summary.change, plan.summary.remove
        );
        let _ = writeln!(out, "\n{}", paint(BOLD, &summary));
    }
    if !plan.principals.is_empty() {
        let _ = writeln!(
            out,
            "\nWhat each principal gains and loses, across all its own and its groups' policies:\n"
        );
        for principal in &plan.principals {
            for line in crate::lint::grants::words(&principal.grants) {
                let _ = writeln!(
                    out,
                    "  {} {}: {line}",
                    principal.entity.as_str(),
                    principal.name
                );
            }
        }
    }
    for lost in &plan.lost_secrets {
        let _ = writeln!(
            out,
            "\n{} user {user} has access key {id}, made by an apply that was interrupted before it saved the secret, which IAM cannot show again: run apply with --replace-lost-keys to delete it and make a new one",
            paint(YELLOW, "Warning:"),
            user = lost.user,
            id = lost.access_key_id
        );
    }
    for warning in &plan.warnings {
        let _ = writeln!(out, "\n{} {warning}", paint(YELLOW, "Warning:"));
    }
    if !plan.protected.is_empty() {
        let _ = writeln!(out, "\nNever touched:\n");
        for note in &plan.protected {
            let _ = writeln!(out, "  {} {note}", paint(CYAN, "="));
        }
    }
    if !plan.drift.is_empty() {
        let _ = writeln!(
            out,
            "\nDrift: the account has {} thing{} the spec does not declare (reported, not changed):\n",
            plan.drift.len(),
            if plan.drift.len() == 1 { "" } else { "s" }
        );
        for drift in &plan.drift {
            let _ = writeln!(out, "  {} {}", paint(CYAN, "!"), describe_drift(drift));
        }
    }
    out
}

/// The plan as one JSON object, ending in a newline.
pub fn json(plan: &Plan) -> String {
    let mut value = serde_json::to_value(plan).expect("a plan always serialises");
    // Each change with a cause says it in words too, for people reading the JSON.
    if let Some(changes) = value.get_mut("changes").and_then(|c| c.as_array_mut()) {
        for (json, change) in changes.iter_mut().zip(&plan.changes) {
            if let (Some(cause), Some(object)) = (&change.cause, json.as_object_mut()) {
                object.insert("reason".to_owned(), reason(cause).into());
            }
        }
    }
    let mut out = serde_json::to_string_pretty(&value).expect("a plan always serialises");
    out.push('\n');
    out
}

/// Why a change is in the plan, in words.
pub fn reason(cause: &Cause) -> String {
    match cause {
        Cause::Replace { immutable: what } => format!(
            "replace: {}, which IAM cannot update in place",
            immutable(what)
        ),
        Cause::Adopt { owner } => {
            format!("adopt: it exists without the {OWNER_TAG} tag, and becomes owned by {owner}")
        }
        Cause::Reattach => "re-attach after the replacement".to_owned(),
        Cause::VersionLimit => {
            "IAM keeps five versions of a policy: the oldest makes room for the new one".to_owned()
        }
        Cause::PruneDrift => "prune: not in the spec".to_owned(),
        Cause::PruneEntity { entity, name } => {
            format!("prune: {} {name} is no longer in the spec", entity.as_str())
        }
        Cause::LostSecret => "replace: its secret was lost by an interrupted apply".to_owned(),
        Cause::AdoptKey { access_key_id } => format!(
            "adopt: mark access key {access_key_id} as iamspec's (--adopt-keys), so that its rotation may retire it"
        ),
        Cause::Rotation {
            step,
            access_key_id,
            age,
            next,
        } => {
            let now = match step {
                RotationStep::Rotate => {
                    format!("rotation: key {access_key_id} is {} old", age_words(*age))
                }
                RotationStep::Deactivate => format!(
                    "rotation: the new key has been active for {}, so {access_key_id} stops",
                    age_words(*age)
                ),
                RotationStep::Delete => format!(
                    "rotation: {access_key_id} has been inactive long enough; its secret file goes too"
                ),
            };
            match next {
                Some(next) => format!(
                    "{now}; next: {} on {}",
                    match next.step {
                        RotationStep::Rotate => "the next rotation",
                        RotationStep::Deactivate => "deactivate the old key",
                        RotationStep::Delete => "delete the old key",
                    },
                    date(next.due)
                ),
                None => now,
            }
        }
        Cause::Unused { idle, last_used } => match last_used {
            Some(at) => format!(
                "unused for {} (last used {}), [account] disable_unused",
                age_words(*idle),
                date(*at)
            ),
            None => format!(
                "never used in the {} since it was made, [account] disable_unused",
                age_words(*idle)
            ),
        },
    }
}

/// A length of time as people say it: days, or hours, minutes or seconds when shorter.
pub fn age_words(seconds: u64) -> String {
    let (n, unit) = match seconds {
        s if s >= 2 * 86_400 => (s / 86_400, "day"),
        s if s >= 2 * 3600 => (s / 3600, "hour"),
        s if s >= 120 => (s / 60, "minute"),
        s => (s, "second"),
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// A moment, in seconds since 1970, as an RFC 3339 time (UTC, to the second).
pub fn date(seconds: i64) -> String {
    let secs = u64::try_from(seconds).unwrap_or(0);
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    humantime::format_rfc3339_seconds(time).to_string()
}

/// What changes on a policy that IAM cannot update in place, in words.
pub fn immutable(what: &Immutable) -> String {
    match what {
        Immutable::Path { from, to } => format!("its path changes from {from} to {to}"),
        Immutable::Description => "its description changes".to_owned(),
    }
}

/// How the rest of an unfinished apply gets done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// `apply SPEC` again: it plans what is left.
    ApplyAgain,
    /// A saved plan applied in part no longer matches the account: a new plan has the rest.
    PlanAgain,
}

/// What an apply did: each change done, the failure and its reason, what did not run, and how
/// to finish (`next`). Without `each_change` (a live line on a terminal counted them), only the
/// changes done with a note (where a secret was saved, what already existed) are listed.
pub fn report(report: &Report, each_change: bool, next: Next) -> String {
    let mut out = String::from("\n");
    for done in report
        .done
        .iter()
        .filter(|d| each_change || d.note.is_some())
    {
        let note = done
            .note
            .as_ref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        let _ = writeln!(out, "  done: {}{note}", describe(&done.change));
    }
    if let Some(failed) = &report.failed {
        let _ = writeln!(
            out,
            "  FAILED: {}\n\n{}",
            describe(&failed.change),
            failed.reason
        );
    }
    if !report.not_run.is_empty() {
        let why = if report.interrupted {
            "apply was interrupted"
        } else {
            "of the failure above"
        };
        let later = match next {
            Next::ApplyAgain => "the next apply will do them",
            Next::PlanAgain => "a new plan will have them",
        };
        let _ = writeln!(out, "\nNot run, because {why} ({later}):");
        for change in &report.not_run {
            let _ = writeln!(out, "  {}", describe(change));
        }
    }
    let retries = match report.retries {
        0 => String::new(),
        1 => " after 1 retried call".to_owned(),
        n => format!(" after {n} retried calls"),
    };
    let done = report.done.len();
    if report.succeeded() {
        let s = if done == 1 { "" } else { "s" };
        let _ = writeln!(out, "\nApply complete: {done} change{s} made{retries}.");
    } else {
        let planned = done + report.not_run.len() + usize::from(report.failed.is_some());
        let next = match (report.failed.is_some(), next) {
            (true, Next::ApplyAgain) => "Fix the cause above and run apply again.",
            (false, Next::ApplyAgain) => "Run apply again to finish.",
            (true, Next::PlanAgain) => {
                "Fix the cause above, then make a new plan (the saved one no longer matches the account) and apply it."
            }
            (false, Next::PlanAgain) => {
                "Make a new plan (the saved one no longer matches the account) and apply it to finish."
            }
        };
        let _ = writeln!(
            out,
            "\nApply incomplete: {done} of {planned} changes made{retries}. {next}"
        );
    }
    out
}

/// One change in words: `create user koding-user`.
// One arm per IAM call, like the SDK adapter's `call`: all the wording in one place.
#[allow(clippy::too_many_lines)]
pub fn describe(change: &Change) -> String {
    match &change.op {
        Op::CreateGroup { group, path } => format!("create group {group}{}", at_path(path)),
        Op::CreateUser {
            user,
            path,
            boundary,
            tags,
        } => {
            let mut text = format!("create user {user}{}", at_path(path));
            if let Some(boundary) = boundary {
                let _ = write!(text, " bounded by {}", boundary.short());
            }
            if !tags.is_empty() {
                let _ = write!(text, " tagged {}", tag_list(tags));
            }
            text
        }
        Op::UpdateGroupPath { group, from, to } => {
            format!("move group {group} from path {from} to {to}")
        }
        Op::UpdateUserPath { user, from, to } => {
            format!("move user {user} from path {from} to {to}")
        }
        Op::TagUser { user, tags } => format!("tag user {user} with {}", tag_list(tags)),
        Op::TagPolicy { policy, tags } => {
            format!("tag policy {} with {}", policy.short(), tag_list(tags))
        }
        Op::AttachGroupPolicy { group, policy } => {
            format!("attach policy {} to group {group}", policy.short())
        }
        Op::AttachUserPolicy { user, policy } => {
            format!("attach policy {} to user {user}", policy.short())
        }
        Op::AddUserToGroup { user, group } => format!("add user {user} to group {group}"),
        Op::CreateAccessKey {
            user,
            rotates: None,
        } => format!("create access key for user {user}"),
        Op::CreateAccessKey {
            user,
            rotates: Some(old),
        } => format!("create access key for user {user}, to replace {old}"),
        Op::UpdateAccessKey {
            user,
            access_key_id,
            status,
        } => match status {
            KeyStatus::Active => format!("activate access key {access_key_id} of user {user}"),
            KeyStatus::Inactive => {
                format!("deactivate access key {access_key_id} of user {user}")
            }
        },
        Op::CreateLoginProfile {
            user, sign_in_url, ..
        } => format!(
            "create console password for user {user}, to be changed at first sign-in at {sign_in_url}"
        ),
        Op::CreateAccountAlias {
            alias,
            before: None,
        } => format!("set account alias {alias}"),
        Op::CreateAccountAlias {
            alias,
            before: Some(before),
        } => format!("change account alias from {before} to {alias}"),
        Op::DeleteAccountAlias { alias } => format!("delete account alias {alias}"),
        Op::UpdateAccountPasswordPolicy { policy, before } => {
            let now = password_policy_words(policy);
            match before {
                Some(before) => format!(
                    "change the account password policy from {} to {now}",
                    password_policy_words(before)
                ),
                None => format!("set the account password policy: {now}"),
            }
        }
        Op::CreatePolicy {
            policy,
            path,
            description,
            ..
        } => {
            let mut text = format!("create policy {policy}{}", at_path(path));
            if !description.is_empty() {
                let _ = write!(text, " described {description:?}");
            }
            text
        }
        Op::CreatePolicyVersion { policy, .. } => format!(
            "update policy {} with a new default version",
            policy.short()
        ),
        Op::DeletePolicyVersion { policy, version } => {
            format!("delete version {version} of policy {}", policy.short())
        }
        Op::DeletePolicy { policy } => format!("delete policy {}", policy.short()),
        Op::DetachUserPolicy { user, policy } => {
            format!("detach policy {} from user {user}", policy.short())
        }
        Op::DetachGroupPolicy { group, policy } => {
            format!("detach policy {} from group {group}", policy.short())
        }
        Op::PutUserPolicy {
            user,
            policy_name,
            before,
            ..
        } => format!(
            "{} inline policy {policy_name} of user {user}",
            if before.is_some() { "update" } else { "put" }
        ),
        Op::PutGroupPolicy {
            group,
            policy_name,
            before,
            ..
        } => format!(
            "{} inline policy {policy_name} of group {group}",
            if before.is_some() { "update" } else { "put" }
        ),
        Op::UntagUser { user, keys } => format!("untag user {user}: {}", keys.join(", ")),
        Op::RemoveUserFromGroup { user, group } => {
            format!("remove user {user} from group {group}")
        }
        Op::DeleteUserPolicy { user, policy_name } => {
            format!("delete inline policy {policy_name} of user {user}")
        }
        Op::DeleteGroupPolicy { group, policy_name } => {
            format!("delete inline policy {policy_name} of group {group}")
        }
        Op::DeleteAccessKey {
            user,
            access_key_id,
        } => format!("delete access key {access_key_id} of user {user}"),
        Op::DeleteLoginProfile { user } => format!("delete the console password of user {user}"),
        Op::DeactivateMfaDevice {
            user,
            serial_number,
        } => format!("deactivate MFA device {serial_number} of user {user}"),
        Op::DeleteSigningCertificate {
            user,
            certificate_id,
        } => format!("delete signing certificate {certificate_id} of user {user}"),
        Op::DeleteSshPublicKey {
            user,
            ssh_public_key_id,
        } => format!("delete SSH key {ssh_public_key_id} of user {user}"),
        Op::DeleteServiceSpecificCredential {
            user,
            credential_id,
        } => format!("delete service credential {credential_id} of user {user}"),
        Op::DetachRolePolicy { role, policy } => {
            format!("detach policy {} from role {role}", policy.short())
        }
        Op::DeleteUser { user } => format!("delete user {user}"),
        Op::DeleteGroup { group } => format!("delete group {group}"),
        other => describe_role_op(other),
    }
}

/// Roles, instance profiles, providers and boundaries in words.
#[allow(clippy::too_many_lines)]
fn describe_role_op(op: &Op) -> String {
    match op {
        Op::CreateOpenIdConnectProvider { url, audiences, .. } => format!(
            "create OIDC provider https://{url} for audiences {}",
            audiences.join(", ")
        ),
        Op::TagOpenIdConnectProvider { url, tags, .. } => {
            format!("tag OIDC provider https://{url} with {}", tag_list(tags))
        }
        Op::AddClientIdToOpenIdConnectProvider { url, client_id, .. } => {
            format!("add audience {client_id} to OIDC provider https://{url}")
        }
        Op::RemoveClientIdFromOpenIdConnectProvider { url, client_id, .. } => {
            format!("remove audience {client_id} from OIDC provider https://{url}")
        }
        Op::UpdateOpenIdConnectProviderThumbprint {
            url, thumbprints, ..
        } => format!(
            "set the thumbprints of OIDC provider https://{url} to {}",
            thumbprints.join(", ")
        ),
        Op::DeleteOpenIdConnectProvider { url, .. } => {
            format!("delete OIDC provider https://{url}")
        }
        Op::CreateRole {
            role,
            path,
            description,
            max_session,
            boundary,
            tags,
            ..
        } => {
            let mut text = format!("create role {role}{}", at_path(path));
            if !description.is_empty() {
                let _ = write!(text, " described {description:?}");
            }
            if *max_session != 3600 {
                let _ = write!(text, ", sessions up to {}", hours(*max_session));
            }
            if let Some(boundary) = boundary {
                let _ = write!(text, ", bounded by {}", boundary.short());
            }
            if !tags.is_empty() {
                let _ = write!(text, " tagged {}", tag_list(tags));
            }
            text
        }
        Op::UpdateAssumeRolePolicy {
            role,
            deleted_principals,
            ..
        } => {
            let mut text = format!("update the trust policy of role {role}");
            if !deleted_principals.is_empty() {
                let _ = write!(
                    text,
                    " (IAM shows {} where the trust named a principal: the role or user it named was deleted, and a new one of the same name is not trusted until the policy names it again)",
                    deleted_principals.join(", ")
                );
            }
            text
        }
        Op::UpdateRole {
            role,
            description,
            max_session,
            from_description,
            from_max_session,
        } => {
            let mut parts = Vec::new();
            if description != from_description {
                parts.push(format!(
                    "description {from_description:?} to {description:?}"
                ));
            }
            if max_session != from_max_session {
                parts.push(format!(
                    "sessions up to {} to {}",
                    hours(*from_max_session),
                    hours(*max_session)
                ));
            }
            format!("change role {role}: {}", parts.join(", "))
        }
        Op::TagRole { role, tags } => format!("tag role {role} with {}", tag_list(tags)),
        Op::UntagRole { role, keys } => format!("untag role {role}: {}", keys.join(", ")),
        Op::AttachRolePolicy { role, policy } => {
            format!("attach policy {} to role {role}", policy.short())
        }
        Op::PutRolePolicy {
            role,
            policy_name,
            before,
            ..
        } => format!(
            "{} inline policy {policy_name} of role {role}",
            if before.is_some() { "update" } else { "put" }
        ),
        Op::DeleteRolePolicy { role, policy_name } => {
            format!("delete inline policy {policy_name} of role {role}")
        }
        Op::PutRolePermissionsBoundary {
            role,
            policy,
            before,
        } => bound("role", role, policy, before.as_ref()),
        Op::PutUserPermissionsBoundary {
            user,
            policy,
            before,
        } => bound("user", user, policy, before.as_ref()),
        Op::DeleteRolePermissionsBoundary { role, policy } => {
            format!("remove boundary {} from role {role}", policy.short())
        }
        Op::DeleteUserPermissionsBoundary { user, policy } => {
            format!("remove boundary {} from user {user}", policy.short())
        }
        Op::CreateInstanceProfile { profile, path, .. } => {
            format!("create instance profile {profile}{}", at_path(path))
        }
        Op::AddRoleToInstanceProfile { profile, role } => {
            format!("add role {role} to instance profile {profile}")
        }
        Op::RemoveRoleFromInstanceProfile { profile, role } => {
            format!("remove role {role} from instance profile {profile}")
        }
        Op::DeleteInstanceProfile { profile } => format!("delete instance profile {profile}"),
        Op::DeleteRole { role } => format!("delete role {role}"),
        other => unreachable!("{} is described with the users' calls", other.api_name()),
    }
}

fn bound(kind: &str, name: &str, policy: &PolicyArn, before: Option<&PolicyArn>) -> String {
    match before {
        Some(before) => format!(
            "bound {kind} {name} by {} instead of {}",
            policy.short(),
            before.short()
        ),
        None => format!("bound {kind} {name} by {}", policy.short()),
    }
}

/// A session length: `2h`, `90m`.
fn hours(seconds: u32) -> String {
    if seconds.is_multiple_of(3600) {
        format!("{}h", seconds / 3600)
    } else {
        format!("{}m", seconds / 60)
    }
}

/// Under a change that writes a policy document: the document (when new) or a unified diff
/// of the live document against the spec's, both canonical.
fn document_block(op: &Op, color: bool) -> String {
    const INDENT: &str = "      ";
    let text = match op {
        Op::CreatePolicyVersion { before, after, .. }
        | Op::UpdateAssumeRolePolicy { before, after, .. }
        | Op::PutUserPolicy {
            before: Some(before),
            after,
            ..
        }
        | Op::PutGroupPolicy {
            before: Some(before),
            after,
            ..
        }
        | Op::PutRolePolicy {
            before: Some(before),
            after,
            ..
        } => document::diff(before, after, INDENT),
        Op::PutUserPolicy { after, .. }
        | Op::PutGroupPolicy { after, .. }
        | Op::PutRolePolicy { after, .. } => indent(&document::pretty(after), INDENT),
        Op::CreatePolicy { document, .. } => {
            indent(&document::pretty(&document::canonical(document)), INDENT)
        }
        // A trust policy as sent: its canonical form writes accounts as bare ids.
        Op::CreateRole { trust, .. } => indent(&document::pretty(trust), INDENT),
        _ => return String::new(),
    };
    if !color {
        return text;
    }
    let mut out = String::new();
    for line in text.lines() {
        let body = line.trim_start();
        let paint = if body.starts_with("+++") || body.starts_with("---") {
            BOLD
        } else if body.starts_with('+') {
            GREEN
        } else if body.starts_with('-') {
            RED
        } else if body.starts_with("@@") {
            CYAN
        } else {
            let _ = writeln!(out, "{line}");
            continue;
        };
        let _ = writeln!(out, "{paint}{line}{paint:#}");
    }
    out
}

fn indent(text: &str, by: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let _ = writeln!(out, "{by}{line}");
    }
    out
}

fn describe_drift(drift: &Drift) -> String {
    match drift {
        Drift::ExtraPolicy {
            entity,
            name,
            policy,
        } => format!(
            "{} {name} has policy {} attached",
            entity.as_str(),
            policy.short()
        ),
        Drift::InlinePolicy {
            entity,
            name,
            policy_name,
        } => format!("{} {name} has inline policy {policy_name}", entity.as_str()),
        Drift::ExtraMembership { user, group } => format!("user {user} is in group {group}"),
        Drift::NotInSpec { entity, name } => format!(
            "{} {name} is owned by this spec (by its tag or scope) but the spec no longer names it",
            entity.as_str()
        ),
        Drift::ExtraTag { user, key, value } => format!("user {user} has tag {key} = {value:?}"),
        Drift::ExtraAccessKey {
            user,
            access_key_id,
            status,
            age,
        } => {
            let status = match status {
                KeyStatus::Active => "active",
                KeyStatus::Inactive => "inactive",
            };
            format!(
                "user {user} has {status} access key {access_key_id}, {} days old, which iamspec did not make or does not declare",
                age / 86_400
            )
        }
        Drift::ExtraRoleTag { role, key, value } => {
            format!("role {role} has tag {key} = {value:?}")
        }
        Drift::ExtraBoundary {
            entity,
            name,
            policy,
        } => format!(
            "{} {name} is bounded by {}, which the spec does not name",
            entity.as_str(),
            policy.short()
        ),
        Drift::ExtraInstanceProfile { role, profile } => {
            format!("role {role} is in instance profile {profile}")
        }
        Drift::ExtraProfileRole { profile, role } => {
            format!("instance profile {profile} holds role {role}")
        }
        Drift::ConsolePassword { user } => {
            format!("user {user} has a console password, and the spec says console = false")
        }
        Drift::StaleAccessKey {
            user,
            access_key_id,
            age,
            max_age,
        } => format!(
            "user {user}'s access key {access_key_id} is {} old, past its max_age of {}, and cannot be rotated while the user has another key (IAM allows two): delete the other key",
            age_words(*age),
            age_words(*max_age)
        ),
        Drift::AccountAlias { alias } => {
            format!("the account has alias {alias}, and the spec sets none")
        }
    }
}

/// A password policy in a line.
fn password_policy_words(policy: &PasswordPolicy) -> String {
    let mut words = vec![format!("at least {} characters", policy.min_length)];
    for (on, what) in [
        (policy.require_uppercase, "an upper-case letter"),
        (policy.require_lowercase, "a lower-case letter"),
        (policy.require_numbers, "a number"),
        (policy.require_symbols, "a symbol"),
    ] {
        if on {
            words.push(format!("with {what}"));
        }
    }
    if let Some(days) = policy.max_age_days {
        words.push(format!("expiring after {days} days"));
    }
    if let Some(n) = policy.reuse_prevention {
        words.push(format!("not reusing the last {n}"));
    }
    if policy.allow_users_to_change {
        words.push("users may change their own".to_owned());
    }
    if policy.hard_expiry {
        words.push("an expired password needs an administrator".to_owned());
    }
    words.join(", ")
}

fn at_path(path: &str) -> String {
    if path == "/" {
        String::new()
    } else {
        format!(" at path {path}")
    }
}

fn tag_list(tags: &std::collections::BTreeMap<String, String>) -> String {
    tags.iter()
        .map(|(k, v)| format!("{k} = {v:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;

/// The checks whose answer a plan changes, as lines after the plan (nothing when none).
pub fn checks_changed(changed: &[crate::eval::spec::Changed]) -> String {
    use std::fmt::Write as _;
    let word = |d: Option<crate::eval::Decision>| match d {
        None => "no such principal yet",
        Some(crate::eval::Decision::Allowed) => "allowed",
        Some(crate::eval::Decision::ImplicitDeny) => "denied implicitly",
        Some(crate::eval::Decision::ExplicitDeny) => "denied explicitly",
    };
    let mut out = String::new();
    if !changed.is_empty() {
        out.push_str("\nChecks whose answer this plan changes:\n");
    }
    for c in changed {
        let _ = writeln!(
            out,
            "  {}: {} -> {}",
            c.check,
            word(c.before),
            word(Some(c.after))
        );
    }
    out
}
