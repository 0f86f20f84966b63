//! What the credential report says of people's credentials: the keys' ages and last use,
//! console passwords and MFA, and the console passwords it leaves in doubt, read one by one.

use std::collections::BTreeMap;

use super::{ReadError, read_each};
use crate::live::{CredentialReport, IamApi, KeyUse, LiveUser, Login, ReportedKey, ReportedUser};
use crate::spec::Spec;

/// The root user's row in the credential report.
const ROOT_ROW: &str = "<root_account>";

/// Whether the report shows an active key unused for `limit` seconds at `now` (never used:
/// since it was made).
pub(super) fn unused_key(row: &ReportedUser, limit: Option<u64>, now: i64) -> bool {
    let Some(limit) = limit else {
        return false;
    };
    row.keys.iter().any(|key| {
        let since = key.last_used.as_ref().map_or(key.created, |u| u.at);
        key.active && idle(since, now) >= limit
    })
}

/// Seconds from `since` to `now`, never negative.
pub fn idle(since: i64, now: i64) -> u64 {
    u64::try_from(now.saturating_sub(since)).unwrap_or(0)
}

/// Fills in what only the report knows of the spec's users: each listed key's last use (found
/// by its creation time: the report names no key ids), console passwords and MFA. A row of an
/// earlier user of the same name says nothing of this one.
pub(super) fn from_report(
    spec: &Spec,
    users: &mut BTreeMap<String, LiveUser>,
    report: Option<&CredentialReport>,
) {
    let Some(report) = report else {
        return;
    };
    for user in users.values_mut() {
        let Some(spec_user) = spec.users.get(&user.name) else {
            continue;
        };
        let Some(row) = report.users.get(&user.name) else {
            continue;
        };
        if user.created != Some(row.created) {
            continue;
        }
        user.mfa = Some(row.mfa);
        if spec_user.console.is_some() || spec.settings.disable_unused.is_some() {
            user.login = Some(row.login);
        }
        for key in &mut user.access_keys {
            key.last_used = row
                .keys
                .iter()
                .find(|k| k.created == key.created)
                .and_then(|k| k.last_used.clone());
        }
    }
}

/// Every user's console password and MFA, where the report's row is of that user.
pub(super) fn logins_from_report(
    users: &mut BTreeMap<String, LiveUser>,
    report: &CredentialReport,
) {
    for user in users.values_mut() {
        if let Some(row) = report
            .users
            .get(&user.name)
            .filter(|r| user.created == Some(r.created))
        {
            user.login = Some(row.login);
            user.mfa = Some(row.mfa);
        }
    }
}

/// The console passwords of the spec's users that say `console`, where the report does not
/// already show what the spec asks (it can be hours old): one `GetLoginProfile` each.
pub(super) async fn read_logins(
    api: &impl IamApi,
    spec: &Spec,
    users: &mut BTreeMap<String, LiveUser>,
) -> Result<(), ReadError> {
    let doubtful: Vec<String> = users
        .values()
        .filter(|u| {
            spec.users
                .get(&u.name)
                .and_then(|s| s.console)
                .is_some_and(|wanted| u.login.is_none_or(|login| login.is_some() != wanted))
        })
        .map(|u| u.name.clone())
        .collect();
    let found = read_each(doubtful, |name| async move {
        api.login_profile(&name)
            .await
            .map_err(|source| ReadError::Api {
                what: format!("read the console password of user {name} (iam:GetLoginProfile)"),
                source,
            })
    })
    .await?;
    for (name, created) in found {
        if let Some(user) = users.get_mut(&name) {
            let last_used = user.login.flatten().and_then(|l| l.last_used);
            user.login = Some(created.map(|created| Login { created, last_used }));
        }
    }
    Ok(())
}

/// IAM's credential report, from its CSV, read by column names. The root user's row is kept
/// apart: it is no IAM user.
pub fn parse_credential_report(csv: &[u8]) -> Result<CredentialReport, String> {
    let mut reader = csv::Reader::from_reader(csv);
    let headers = reader.headers().map_err(|e| e.to_string())?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| format!("it has no column `{name}`"))
    };
    let optional = |name: &str| headers.iter().position(|h| h == name);
    let user = column("user")?;
    let created = column("user_creation_time")?;
    let password = optional("password_enabled");
    let password_used = optional("password_last_used");
    let password_changed = optional("password_last_changed");
    let mfa = optional("mfa_active");
    let mut slots = Vec::new();
    for n in 1..=2 {
        slots.push((
            column(&format!("access_key_{n}_active"))?,
            column(&format!("access_key_{n}_last_rotated"))?,
            optional(&format!("access_key_{n}_last_used_date")),
            optional(&format!("access_key_{n}_last_used_service")),
            optional(&format!("access_key_{n}_last_used_region")),
        ));
    }
    let mut report = CredentialReport::default();
    for row in reader.records() {
        let row = row.map_err(|e| e.to_string())?;
        let field = |index: Option<usize>| index.and_then(|i| row.get(i)).unwrap_or_default();
        let name = field(Some(user));
        let is_root = name == ROOT_ROW;
        let Some(created) = report_time(field(Some(created))).or(is_root.then_some(0)) else {
            continue;
        };
        let keys = slots
            .iter()
            .filter_map(|(active, rotated, used, service, region)| {
                Some(ReportedKey {
                    active: field(Some(*active)) == "true",
                    created: report_time(field(Some(*rotated)))?,
                    last_used: report_time(field(*used)).map(|at| KeyUse {
                        at,
                        service: known(field(*service)),
                        region: known(field(*region)),
                    }),
                })
            })
            .collect();
        let login = (field(password) == "true").then(|| Login {
            created: report_time(field(password_changed)).unwrap_or(created),
            last_used: report_time(field(password_used)),
        });
        let row = ReportedUser {
            created,
            keys,
            login,
            mfa: field(mfa) == "true",
        };
        if is_root {
            report.root = Some(row);
        } else {
            report.users.insert(name.to_owned(), row);
        }
    }
    Ok(report)
}

/// A value of the report, or nothing for its words for nothing.
fn known(text: &str) -> Option<String> {
    (!matches!(text, "" | "N/A" | "not_supported" | "no_information")).then(|| text.to_owned())
}

/// A time of the credential report (`2026-11-01T10:00:00+00:00`, always UTC), in seconds
/// since 1970; nothing for anything else (`N/A`, `no_information`, `not_supported`).
pub fn report_time(text: &str) -> Option<i64> {
    let utc = text
        .strip_suffix("+00:00")
        .map_or_else(|| text.to_owned(), |t| format!("{t}Z"));
    let time = humantime::parse_rfc3339(&utc).ok()?;
    let secs = time.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    i64::try_from(secs).ok()
}
