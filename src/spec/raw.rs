//! Stage 1a: the TOML spec exactly as written, a serde mirror with source spans.
//!
//! Nothing here is checked beyond what serde checks (keys and types); `validate` turns a
//! `RawSpec` into a `Spec` and is the only consumer. Spans let every later error point at the
//! line and column the user has to change.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSpec {
    pub version: Option<Spanned<i64>>,
    pub account: Option<RawAccount>,
    #[serde(default)]
    pub policies: BTreeMap<Spanned<String>, RawPolicy>,
    #[serde(default)]
    pub addons: BTreeMap<Spanned<String>, RawAddon>,
    #[serde(default)]
    pub groups: BTreeMap<Spanned<String>, RawGroup>,
    #[serde(default)]
    pub users: BTreeMap<Spanned<String>, RawUser>,
    #[serde(default)]
    pub roles: BTreeMap<Spanned<String>, RawRole>,
    #[serde(default)]
    pub oidc_providers: BTreeMap<Spanned<String>, RawProvider>,
    pub lint: Option<RawLint>,
}

/// `[lint]`: levels by finding code, and exceptions for named policies.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLint {
    #[serde(default)]
    pub levels: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    pub exceptions: Vec<Spanned<RawException>>,
}

/// `[[lint.exceptions]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawException {
    pub code: Spanned<String>,
    pub policy: Spanned<String>,
    pub reason: Spanned<String>,
}

/// `[account]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAccount {
    pub id: Option<Spanned<String>>,
    pub owner: Option<Spanned<String>>,
    pub scope: Option<Spanned<String>>,
    #[serde(default)]
    pub prune: bool,
    pub alias: Option<Spanned<String>>,
    pub disable_unused: Option<Spanned<String>>,
    pub password_policy: Option<Spanned<RawPasswordPolicy>>,
}

/// `[account.password_policy]`: every field IAM's account password policy has.
#[allow(clippy::struct_excessive_bools)] // IAM's fields, one for one
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPasswordPolicy {
    pub min_length: Option<Spanned<i64>>,
    #[serde(default)]
    pub require_symbols: bool,
    #[serde(default)]
    pub require_numbers: bool,
    #[serde(default)]
    pub require_uppercase: bool,
    #[serde(default)]
    pub require_lowercase: bool,
    #[serde(default)]
    pub allow_users_to_change: bool,
    pub max_age_days: Option<Spanned<i64>>,
    pub reuse_prevention: Option<Spanned<i64>>,
    #[serde(default)]
    pub hard_expiry: bool,
}

/// `[policies.NAME]`: a customer-managed policy.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    pub description: Option<Spanned<String>>,
    pub path: Option<Spanned<String>>,
    /// A JSON file's path, relative to the spec, or an inline table.
    pub document: Spanned<toml::Value>,
}

/// `inline = { NAME = document, ... }` on a group or user; each document as in `RawPolicy`.
pub type RawInline = Option<Spanned<BTreeMap<Spanned<String>, Spanned<toml::Value>>>>;

/// `[addons.NAME]`: a named bundle of policies.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAddon {
    pub policies: Spanned<Vec<Spanned<String>>>,
}

/// `[groups.NAME]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGroup {
    pub path: Option<Spanned<String>>,
    pub policies: Option<Spanned<Vec<Spanned<String>>>>,
    pub addons: Option<Spanned<Vec<Spanned<String>>>>,
    pub inline: RawInline,
    #[serde(default)]
    pub require_mfa: bool,
}

/// `[users.NAME]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUser {
    pub path: Option<Spanned<String>>,
    pub groups: Option<Spanned<Vec<Spanned<String>>>>,
    pub policies: Option<Spanned<Vec<Spanned<String>>>>,
    pub addons: Option<Spanned<Vec<Spanned<String>>>>,
    pub inline: RawInline,
    /// `true`, `false`, or a table `{ max_age, overlap }`: checked by `validate`.
    pub access_key: Option<Spanned<toml::Value>>,
    pub console: Option<bool>,
    #[serde(default)]
    pub require_mfa: bool,
    pub boundary: Option<Spanned<String>>,
    pub tags: RawTags,
}

/// `tags = { KEY = "value", ... }`
pub type RawTags = Option<Spanned<BTreeMap<Spanned<String>, Spanned<String>>>>;

/// A list of strings, each with its place.
pub type RawList = Option<Spanned<Vec<Spanned<String>>>>;

/// `[roles.NAME]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRole {
    pub path: Option<Spanned<String>>,
    pub description: Option<Spanned<String>>,
    pub trust: Option<Spanned<RawTrust>>,
    /// A JSON file's path, relative to the spec, or an inline table.
    pub trust_document: Option<Spanned<toml::Value>>,
    pub policies: RawList,
    pub addons: RawList,
    pub inline: RawInline,
    pub boundary: Option<Spanned<String>>,
    pub max_session: Option<Spanned<String>>,
    #[serde(default)]
    pub instance_profile: bool,
    pub tags: RawTags,
}

/// `trust = { ... }`: who may assume a role, in shorthands that combine.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTrust {
    pub services: RawList,
    pub accounts: RawList,
    pub external_id: Option<Spanned<String>>,
    pub mfa: Option<Spanned<bool>>,
    pub github: Option<Spanned<RawGithub>>,
    pub oidc: Option<Spanned<RawOidc>>,
}

/// `github = { provider, repo, refs, environments, pull_request, audience }`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGithub {
    pub provider: Spanned<String>,
    pub repo: Spanned<String>,
    pub refs: RawList,
    pub environments: RawList,
    #[serde(default)]
    pub pull_request: bool,
    pub audience: Option<Spanned<String>>,
}

/// `oidc = { provider, conditions = { OPERATOR = { KEY = value or [values] } } }`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOidc {
    pub provider: Spanned<String>,
    pub conditions: Spanned<toml::Table>,
}

/// `[oidc_providers.NAME]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    pub url: Spanned<String>,
    pub audiences: RawList,
    pub thumbprints: RawList,
    pub tags: RawTags,
}
