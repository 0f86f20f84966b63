//! Stage 1a: the TOML spec exactly as written, a serde mirror with source spans.
//!
//! Nothing here is checked beyond what serde checks (keys and types); `validate` turns a
//! `RawSpec` into a `Spec` and is the only consumer. Spans let every later error point at the
//! line and column the user has to change.
//!
//! The same types make the spec's JSON Schema (`iamspec schema`): their doc comments are the
//! descriptions an editor shows, so they speak to the person writing the spec.

use std::borrow::{Borrow, Cow};
use std::collections::BTreeMap;
use std::ops::Range;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer};

/// An iamspec spec: users, groups, policies and roles to keep an AWS account's IAM as
/// declared. Unknown keys are errors.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "iamspec spec")]
pub struct RawSpec {
    /// The spec format version: 1.
    #[schemars(required, range(min = 1, max = 1))]
    pub version: Option<Spanned<i64>>,
    pub account: Option<RawAccount>,
    /// Customer-managed policies, by name; groups, users and roles name them in `policies`.
    #[serde(default)]
    pub policies: BTreeMap<Spanned<String>, RawPolicy>,
    /// Named bundles of policies; `route53` (`AmazonRoute53FullAccess` and
    /// `AmazonRoute53DomainsFullAccess`) is built in.
    #[serde(default)]
    pub addons: BTreeMap<Spanned<String>, RawAddon>,
    /// IAM groups, by name.
    #[serde(default)]
    pub groups: BTreeMap<Spanned<String>, RawGroup>,
    /// IAM users, by name.
    #[serde(default)]
    pub users: BTreeMap<Spanned<String>, RawUser>,
    /// IAM roles, by name.
    #[serde(default)]
    pub roles: BTreeMap<Spanned<String>, RawRole>,
    /// OIDC identity providers, by a name the roles' `trust` uses.
    #[serde(default)]
    pub oidc_providers: BTreeMap<Spanned<String>, RawProvider>,
    pub lint: Option<RawLint>,
    /// Access checks that validate, plan and CI enforce: whether a principal may make a
    /// request, answered offline by iamspec's policy evaluator.
    #[serde(default)]
    pub checks: Vec<Spanned<RawCheck>>,
}

/// One access check: a principal of the spec, a request, and the answer expected.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Check")]
pub struct RawCheck {
    /// `user/NAME` or `role/NAME`, as the spec declares it.
    pub principal: Spanned<String>,
    /// The action, like `ec2:RunInstances`.
    pub action: Spanned<String>,
    /// The resource's ARN (default `*`).
    pub resource: Option<Spanned<String>>,
    /// `allow` or `deny`.
    pub expect: Spanned<String>,
    /// Request context keys, each a value or a list of values.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub context: BTreeMap<String, toml::Value>,
}

/// The policy linter: the level of each finding code, and exceptions for named policies.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Lint")]
pub struct RawLint {
    /// A finding code (such as `resource-mismatch`) to its level: `error`, `warning`, `info`
    /// or `off`.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, LintLevel>")]
    pub levels: BTreeMap<Spanned<String>, Spanned<String>>,
    /// Findings accepted for one policy, each with the reason why.
    #[serde(default)]
    pub exceptions: Vec<Spanned<RawException>>,
}

/// A level the linter reports a finding at.
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // describes the schema only: `validate` reads levels as strings
enum LintLevel {
    Error,
    Warning,
    Info,
    Off,
}

/// A finding accepted for one policy.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Exception")]
pub struct RawException {
    /// The finding code, such as `privilege-escalation`.
    pub code: Spanned<String>,
    /// A policy's name, or the group, user or role of an escalation.
    pub policy: Spanned<String>,
    /// Why the finding is accepted, for the next reviewer.
    pub reason: Spanned<String>,
}

/// The account: whose it is, what the spec owns in it, and account-wide settings.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Account")]
pub struct RawAccount {
    /// The 12-digit account id: plan and apply refuse credentials of any other account.
    #[schemars(regex(pattern = r"^[0-9]{12}$"))]
    pub id: Option<Spanned<String>>,
    /// The value of the `iamspec:owner` tag on what this spec owns (default `iamspec`).
    pub owner: Option<Spanned<String>>,
    /// A path (`/a/b/`): every user, group and policy under it is this spec's.
    pub scope: Option<Spanned<String>>,
    /// As `--prune` on every plan and apply: remove what the spec no longer declares.
    #[serde(default)]
    pub prune: bool,
    /// The account alias (its sign-in URL's name).
    pub alias: Option<Spanned<String>>,
    /// Disable spec users' access keys and passwords unused this long, like `90d`.
    pub disable_unused: Option<Spanned<String>>,
    pub password_policy: Option<Spanned<RawPasswordPolicy>>,
}

/// The account password policy: every field IAM's has.
#[allow(clippy::struct_excessive_bools)] // IAM's fields, one for one
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "PasswordPolicy")]
pub struct RawPasswordPolicy {
    /// The shortest password, 6 to 128 characters (default 8).
    #[schemars(range(min = 6, max = 128))]
    pub min_length: Option<Spanned<i64>>,
    /// A password needs a symbol.
    #[serde(default)]
    pub require_symbols: bool,
    /// A password needs a digit.
    #[serde(default)]
    pub require_numbers: bool,
    /// A password needs an uppercase letter.
    #[serde(default)]
    pub require_uppercase: bool,
    /// A password needs a lowercase letter.
    #[serde(default)]
    pub require_lowercase: bool,
    /// Users may change their own password.
    #[serde(default)]
    pub allow_users_to_change: bool,
    /// Days a password lasts, 1 to 1095 (unset: forever).
    #[schemars(range(min = 1, max = 1095))]
    pub max_age_days: Option<Spanned<i64>>,
    /// How many earlier passwords cannot be used again, 1 to 24.
    #[schemars(range(min = 1, max = 24))]
    pub reuse_prevention: Option<Spanned<i64>>,
    /// An expired password can only be reset by an administrator.
    #[serde(default)]
    pub hard_expiry: bool,
}

/// A customer-managed policy.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Policy")]
pub struct RawPolicy {
    /// What the policy is for (IAM cannot change it later: a change replaces the policy).
    pub description: Option<Spanned<String>>,
    /// Its path, `/` (the default) or `/a/b/`.
    pub path: Option<Spanned<String>>,
    /// The policy document: a JSON file's path, relative to the spec, or an inline table.
    #[schemars(schema_with = "document_schema")]
    pub document: Spanned<toml::Value>,
}

/// `inline = { NAME = document, ... }` on a group, user or role.
pub type RawInline = Option<Spanned<BTreeMap<Spanned<String>, Spanned<toml::Value>>>>;

/// A named bundle of policies.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Addon")]
pub struct RawAddon {
    /// The policies it adds, by name or ARN.
    pub policies: Spanned<Vec<Spanned<String>>>,
}

/// An IAM group.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Group")]
pub struct RawGroup {
    /// Its path, `/` (the default) or `/a/b/`.
    pub path: Option<Spanned<String>>,
    /// Managed policies to attach: the spec's by name, AWS-managed by name, or ARNs (at most
    /// 10 with add-ons).
    pub policies: Option<Spanned<Vec<Spanned<String>>>>,
    /// Add-ons whose policies to attach, such as `route53`.
    pub addons: Option<Spanned<Vec<Spanned<String>>>>,
    /// Inline policies, by name: each a JSON file's path or an inline table.
    #[serde(default)]
    #[schemars(schema_with = "inline_schema")]
    pub inline: RawInline,
    /// Members can do nothing but set up MFA until they sign in with it.
    #[serde(default)]
    pub require_mfa: bool,
}

/// An IAM user.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "User")]
pub struct RawUser {
    /// Its path, `/` (the default) or `/a/b/`.
    pub path: Option<Spanned<String>>,
    /// Groups of this spec the user is in (at most 10).
    pub groups: Option<Spanned<Vec<Spanned<String>>>>,
    /// Managed policies attached to the user directly (at most 20 with add-ons).
    pub policies: Option<Spanned<Vec<Spanned<String>>>>,
    /// Add-ons whose policies to attach, such as `route53`.
    pub addons: Option<Spanned<Vec<Spanned<String>>>>,
    /// Inline policies, by name: each a JSON file's path or an inline table.
    #[serde(default)]
    #[schemars(schema_with = "inline_schema")]
    pub inline: RawInline,
    /// `true`: the user has an active access key (its secret saved to the secrets directory);
    /// `false`: none; or a table `{ max_age = "90d", overlap = "7d" }` to rotate it.
    #[serde(default)]
    #[schemars(schema_with = "access_key_schema")]
    pub access_key: Option<Spanned<toml::Value>>,
    /// `true`: a console password (generated, saved to the secrets directory); `false`: none;
    /// unset: left alone.
    pub console: Option<bool>,
    /// The user can do nothing but set up MFA until they sign in with it.
    #[serde(default)]
    pub require_mfa: bool,
    /// A permissions boundary: a managed policy, named as in `policies`.
    pub boundary: Option<Spanned<String>>,
    /// Tags, key to value (at most 50; no `aws:` keys).
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub tags: RawTags,
}

/// `tags = { KEY = "value", ... }`
pub type RawTags = Option<Spanned<BTreeMap<Spanned<String>, Spanned<String>>>>;

/// A list of strings, each with its place.
pub type RawList = Option<Spanned<Vec<Spanned<String>>>>;

/// An IAM role.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Role")]
pub struct RawRole {
    /// Its path, `/` (the default) or `/a/b/`; IAM cannot move a role later.
    pub path: Option<Spanned<String>>,
    /// What the role is for.
    pub description: Option<Spanned<String>>,
    /// Who may assume the role, in shorthands; a role has this or `trust_document`.
    pub trust: Option<Spanned<RawTrust>>,
    /// A whole trust policy: a JSON file's path, relative to the spec, or an inline table.
    #[serde(default)]
    #[schemars(schema_with = "document_schema")]
    pub trust_document: Option<Spanned<toml::Value>>,
    /// Managed policies to attach, as for groups (at most 20 with add-ons).
    pub policies: RawList,
    /// Add-ons whose policies to attach, such as `route53`.
    pub addons: RawList,
    /// Inline policies, by name: each a JSON file's path or an inline table.
    #[serde(default)]
    #[schemars(schema_with = "inline_schema")]
    pub inline: RawInline,
    /// A permissions boundary: a managed policy, named as in `policies`.
    pub boundary: Option<Spanned<String>>,
    /// The longest session, `1h` to `12h` (default 1h).
    pub max_session: Option<Spanned<String>>,
    /// An instance profile of the role's name holds the role, for EC2.
    #[serde(default)]
    pub instance_profile: bool,
    /// Tags, key to value (at most 50; no `aws:` keys).
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub tags: RawTags,
}

/// Who may assume a role, in shorthands that combine (one trust statement each).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Trust")]
pub struct RawTrust {
    /// AWS services that assume the role, like `ec2.amazonaws.com`.
    pub services: RawList,
    /// Accounts (12-digit ids) whose principals may assume it, as their own policies allow.
    pub accounts: RawList,
    /// With `accounts`: the external id they must give.
    pub external_id: Option<Spanned<String>>,
    /// With `accounts`: only with MFA.
    pub mfa: Option<Spanned<bool>>,
    /// GitHub Actions workflows, through the spec's OIDC provider for GitHub.
    pub github: Option<Spanned<RawGithub>>,
    /// Tokens of another OIDC provider of the spec, with conditions as written.
    pub oidc: Option<Spanned<RawOidc>>,
}

/// GitHub Actions workflows that may assume a role (at least one of `refs`, `environments`
/// or `pull_request`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Github")]
pub struct RawGithub {
    /// The spec's name of its GitHub OIDC provider.
    pub provider: Spanned<String>,
    /// The repository, `owner/name`.
    pub repo: Spanned<String>,
    /// Git refs whose workflows may assume it, like `refs/heads/main` (wildcards allowed).
    pub refs: RawList,
    /// GitHub deployment environments whose jobs may assume it.
    pub environments: RawList,
    /// Workflows run for pull requests may assume it.
    #[serde(default)]
    pub pull_request: bool,
    /// The token's audience (default `sts.amazonaws.com`).
    pub audience: Option<Spanned<String>>,
}

/// Tokens of an OIDC provider that may assume a role.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Oidc")]
pub struct RawOidc {
    /// The spec's name of the provider.
    pub provider: Spanned<String>,
    /// Condition operators to keys to a value or list of values, as in a policy; one must be
    /// on the token's subject, `HOST:sub`.
    #[schemars(with = "BTreeMap<String, BTreeMap<String, serde_json::Value>>")]
    pub conditions: Spanned<toml::Table>,
}

/// An OIDC identity provider.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Provider")]
pub struct RawProvider {
    /// Its URL, `https://` and a host (and path), no query.
    pub url: Spanned<String>,
    /// Client ids its tokens may carry (default `["sts.amazonaws.com"]`).
    pub audiences: RawList,
    /// Certificate thumbprints, 40 hex digits each; unset leaves what IAM has.
    pub thumbprints: RawList,
    /// Tags, key to value (at most 50; no `aws:` keys).
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub tags: RawTags,
}

/// A value and where it is in the spec's text. In the JSON Schema it is the value alone.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Spanned<T>(toml::Spanned<T>);

impl<T> Spanned<T> {
    /// The byte range of the value in the spec's text.
    pub fn span(&self) -> Range<usize> {
        self.0.span()
    }

    pub fn get_ref(&self) -> &T {
        self.0.get_ref()
    }

    pub fn into_inner(self) -> T {
        self.0.into_inner()
    }
}

thread_local! {
    /// Added to every span read on this thread: an organization's account merges several
    /// layers, each parsed at its own place in one range of offsets (`Source::layered`).
    static SPAN_BASE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Parses TOML whose spans start at `base` rather than 0.
pub fn parse_at<T: serde::de::DeserializeOwned>(
    text: &str,
    base: usize,
) -> Result<T, toml::de::Error> {
    SPAN_BASE.set(base);
    let parsed = toml::from_str(text);
    SPAN_BASE.set(0);
    parsed
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = toml::Spanned::deserialize(deserializer)?;
        let base = SPAN_BASE.get();
        if base == 0 {
            return Ok(Spanned(spanned));
        }
        let span = spanned.span();
        let span = span.start + base..span.end + base;
        Ok(Spanned(toml::Spanned::new(span, spanned.into_inner())))
    }
}

impl Borrow<str> for Spanned<String> {
    fn borrow(&self) -> &str {
        self.get_ref()
    }
}

impl<T: JsonSchema> JsonSchema for Spanned<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }

    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

/// A policy document: a JSON file's path, relative to the spec, or an inline table.
fn document_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "A JSON file's path, relative to the spec, or an inline table with `Version` and `Statement`.",
        "anyOf": [
            { "type": "string", "minLength": 1 },
            { "type": "object", "required": ["Statement"] }
        ]
    })
}

fn inline_schema(generator: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "additionalProperties": document_schema(generator),
    })
}

fn access_key_schema(_: &mut SchemaGenerator) -> Schema {
    let duration = json_schema!({
        "type": "string",
        "pattern": "^[0-9]+[smhd]$",
        "description": "A duration: a number and s, m, h or d, like `90d`."
    });
    json_schema!({
        "anyOf": [
            { "type": "boolean" },
            {
                "type": "object",
                "properties": {
                    "max_age": duration,
                    "overlap": duration,
                },
                "required": ["max_age"],
                "additionalProperties": false
            }
        ]
    })
}
