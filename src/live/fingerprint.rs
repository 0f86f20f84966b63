//! What a saved plan remembers of the account: for each entity a change names, a digest of
//! each part of its live state. `apply FILE` takes the same fingerprints of the account it
//! reads, and the parts that differ are what changed since the plan.
//!
//! Only configuration counts: a key or password being used (last use, from the credential
//! report) is not a change to the account, and would refuse every plan older than a sign-in.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::state::{LiveState, LiveUser};
use crate::iam::EntityKind;

/// The account settings (alias, password policy) have no name; their fingerprint has this.
pub const ACCOUNT: &str = "account";

/// The state of one entity, part by part, when the plan was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// `user`, `group`, `policy`, `role`, `instance_profile`, `oidc_provider` or `account`.
    pub kind: String,
    pub name: String,
    /// Part name to digest; `None` when the entity did not exist.
    pub state: Option<BTreeMap<String, String>>,
}

/// The fingerprint of an entity as `live` has it.
pub fn of(live: &LiveState, kind: EntityKind, name: &str) -> Fingerprint {
    let parts = match kind {
        EntityKind::User => live.users.get(name).map(user),
        EntityKind::Group => group(live, name),
        EntityKind::Policy => policy(live, name),
        EntityKind::Role => role(live, name),
        EntityKind::InstanceProfile => instance_profile(live, name),
        EntityKind::OidcProvider => provider(live, name),
    };
    Fingerprint {
        kind: kind_name(kind),
        name: name.to_owned(),
        state: parts.map(digests),
    }
}

/// The fingerprint of the account settings as `live` has them.
pub fn of_account(live: &LiveState) -> Fingerprint {
    let settings = &live.account;
    let parts = vec![
        ("alias", json!(settings.alias)),
        ("password policy", json!(settings.password_policy)),
    ];
    Fingerprint {
        kind: ACCOUNT.to_owned(),
        name: ACCOUNT.to_owned(),
        state: Some(digests(parts)),
    }
}

/// The same fingerprint taken of `live`: what `saved` remembers, as the account is now.
pub fn again(saved: &Fingerprint, live: &LiveState) -> Fingerprint {
    match kind_of(&saved.kind) {
        Some(kind) => of(live, kind, &saved.name),
        None => of_account(live),
    }
}

/// What differs between a fingerprint taken at plan time and one taken now, in words:
/// `user koding-user: its groups and tags changed`. `None` when nothing did.
pub fn compare(before: &Fingerprint, now: &Fingerprint) -> Option<String> {
    let what = if before.kind == ACCOUNT {
        "the account".to_owned()
    } else {
        let kind = kind_of(&before.kind).map_or(before.kind.as_str(), |k| k.as_str());
        format!("{kind} {}", before.name)
    };
    match (&before.state, &now.state) {
        (None, None) => None,
        (None, Some(_)) => Some(format!("{what} was created")),
        (Some(_), None) => Some(format!("{what} was deleted")),
        (Some(parts), Some(now)) => {
            if parts.get("created") != now.get("created") {
                return Some(format!("{what} was deleted and made again"));
            }
            let changed: Vec<&str> = parts
                .keys()
                .chain(now.keys())
                .filter(|part| parts.get(*part) != now.get(*part))
                .map(String::as_str)
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            match changed.as_slice() {
                [] => None,
                [one] => Some(format!("{what}: its {one} changed")),
                [rest @ .., last] => Some(format!(
                    "{what}: its {} and {last} changed",
                    rest.join(", ")
                )),
            }
        }
    }
}

/// A kind as the JSON plan names it (`instance_profile`): its serde name.
pub fn kind_name(kind: EntityKind) -> String {
    match serde_json::to_value(kind) {
        Ok(Value::String(name)) => name,
        _ => unreachable!("an entity kind serialises as its name"),
    }
}

fn kind_of(name: &str) -> Option<EntityKind> {
    serde_json::from_value(Value::String(name.to_owned())).ok()
}

fn digests(parts: Vec<(&'static str, Value)>) -> BTreeMap<String, String> {
    parts
        .into_iter()
        .map(|(part, value)| (part.to_owned(), crate::digest::of_json(&value)))
        .collect()
}

fn user(user: &LiveUser) -> Vec<(&'static str, Value)> {
    let keys: Vec<Value> = user
        .access_keys
        .iter()
        .map(|k| json!([k.id, k.active, k.created]))
        .collect();
    let credentials = user.credentials.as_ref().map(|c| {
        json!([
            c.login_profile,
            c.mfa_devices,
            c.signing_certificates,
            c.ssh_public_keys,
            c.service_specific_credentials
        ])
    });
    vec![
        ("created", json!(user.created)),
        ("path", json!(user.path)),
        ("groups", json!(user.groups)),
        ("managed policies", json!(user.policies)),
        ("inline policies", json!(user.inline_policies)),
        ("tags", json!(user.tags)),
        ("permissions boundary", json!(user.boundary)),
        ("access keys", json!([keys, user.keys_settled])),
        (
            "console password",
            json!(user.login.map(|login| login.map(|l| l.created))),
        ),
        ("MFA", json!(user.mfa)),
        ("other credentials", json!(credentials)),
    ]
}

fn group(live: &LiveState, name: &str) -> Option<Vec<(&'static str, Value)>> {
    let group = live.groups.get(name)?;
    let members: Vec<&str> = live
        .users
        .values()
        .filter(|u| u.groups.contains(name))
        .map(|u| u.name.as_str())
        .collect();
    Some(vec![
        ("path", json!(group.path)),
        ("managed policies", json!(group.policies)),
        ("inline policies", json!(group.inline_policies)),
        ("members", json!(members)),
    ])
}

/// A customer-managed policy by its name (unique in an account), else an AWS-managed one,
/// which can only be there or not.
fn policy(live: &LiveState, name: &str) -> Option<Vec<(&'static str, Value)>> {
    if let Some(policy) = live.local_policies.values().find(|p| p.arn.name == name) {
        let versions: Vec<Value> = policy
            .versions
            .iter()
            .map(|v| json!([v.id, v.default]))
            .collect();
        return Some(vec![
            ("path", json!(policy.arn.path)),
            ("description", json!(policy.description)),
            ("tags", json!(policy.tags)),
            ("document", policy.document.clone()),
            ("versions", json!(versions)),
            ("attachments", json!(policy.attachment_count)),
        ]);
    }
    live.aws_policies
        .iter()
        .find(|arn| arn.name == name)
        .map(|arn| vec![("path", json!(arn.path))])
}

fn role(live: &LiveState, name: &str) -> Option<Vec<(&'static str, Value)>> {
    let role = live.roles.get(name)?;
    let profiles: Vec<Value> = role
        .instance_profiles
        .iter()
        .map(|p| json!([p.name, p.path, p.roles]))
        .collect();
    let settings = role
        .settings
        .as_ref()
        .map(|s| json!([s.description, s.max_session]));
    Some(vec![
        ("path", json!(role.path)),
        ("trust policy", role.trust.clone()),
        ("managed policies", json!(role.policies)),
        ("inline policies", json!(role.inline_policies)),
        ("permissions boundary", json!(role.boundary)),
        ("tags", json!(role.tags)),
        ("instance profiles", json!(profiles)),
        ("description and session length", json!(settings)),
    ])
}

/// Instance profiles are read through the roles they hold.
fn instance_profile(live: &LiveState, name: &str) -> Option<Vec<(&'static str, Value)>> {
    live.roles
        .values()
        .flat_map(|r| &r.instance_profiles)
        .find(|p| p.name == name)
        .map(|p| vec![("path", json!(p.path)), ("roles", json!(p.roles))])
}

fn provider(live: &LiveState, url: &str) -> Option<Vec<(&'static str, Value)>> {
    let provider = live.oidc_providers.iter().find(|p| p.url == url)?;
    let mut audiences = provider.audiences.clone();
    audiences.sort();
    let mut thumbprints = provider.thumbprints.clone();
    thumbprints.sort();
    Some(vec![
        ("audiences", json!(audiences)),
        ("thumbprints", json!(thumbprints)),
        ("tags", json!(provider.tags)),
    ])
}
