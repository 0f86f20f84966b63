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
    #[serde(default)]
    pub access_key: bool,
    pub tags: Option<Spanned<BTreeMap<Spanned<String>, Spanned<String>>>>,
}
