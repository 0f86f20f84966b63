//! Stage 1: the desired state. `load` reads a TOML spec, checks it once against IAM's rules and
//! returns a `Spec` that the rest of the pipeline can trust.
//!
//! Everything here is offline: an invalid spec is rejected before any credentials are looked
//! at or any API call is made.

pub(crate) mod files;
pub mod identity_center;
mod keys;
pub mod layers;
pub mod organization;
mod policy;
mod raw;
mod trust;
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use files::{MAX_DOCUMENT_BYTES, MAX_SPEC_BYTES};
pub use policy::PolicyRef;
pub(crate) use policy::check_spec_path;
pub use trust::{Grant, Trust, provider_arn};
pub use validate::{MFA_POLICY, mfa_document, mfa_policy_name, parse_duration};

use crate::document::Document;
use crate::iam::{EntityKind, Names, Ownership};

impl Spec {
    /// The file a location is in.
    pub fn file_of(&self, at: Location) -> &Path {
        self.files.get(usize::from(at.file)).unwrap_or(&self.file)
    }

    /// `file:line:col` of a location, as messages name it.
    pub fn place(&self, at: Location) -> String {
        format!("{}:{}:{}", self.file_of(at).display(), at.line, at.column)
    }

    /// The names of the spec's entities of a kind, as IAM compares them.
    pub fn names(&self, kind: EntityKind) -> Names {
        match kind {
            EntityKind::User => self.users.keys().collect(),
            EntityKind::Group => self.groups.keys().collect(),
            EntityKind::Policy => self.policies.keys().collect(),
            EntityKind::Role => self.roles.keys().collect(),
            EntityKind::InstanceProfile => self
                .roles
                .values()
                .filter(|r| r.instance_profile)
                .map(|r| &r.name)
                .collect(),
            EntityKind::OidcProvider => self.oidc_providers.values().map(|p| &p.url).collect(),
        }
    }

    /// Every policy the spec's groups, users and roles name: attachments and boundaries.
    pub fn policy_uses(&self) -> impl Iterator<Item = &PolicyUse> {
        let groups = self.groups.values().flat_map(|g| &g.policies);
        let users = self
            .users
            .values()
            .flat_map(|u| u.policies.iter().chain(&u.boundary));
        let roles = self
            .roles
            .values()
            .flat_map(|r| r.policies.iter().chain(&r.boundary));
        groups.chain(users).chain(roles)
    }

    /// Every identity-based policy document of the spec: customer-managed and inline, with
    /// what it is (for messages) and where the spec names it.
    pub fn documents(&self) -> Vec<SpecDocument<'_>> {
        let at = |what: &str| self.document_at.get(what).copied().unwrap_or_default();
        let mut documents = Vec::new();
        for policy in self.policies.values() {
            let what = policy_label(&policy.name);
            documents.push(SpecDocument {
                at: at(&what),
                what,
                owner: DocumentOwner::Managed(&policy.name),
                document: &policy.document,
            });
        }
        let inline = self
            .groups
            .values()
            .map(|g| (EntityKind::Group, &g.name, &g.inline))
            .chain(
                self.users
                    .values()
                    .map(|u| (EntityKind::User, &u.name, &u.inline)),
            )
            .chain(
                self.roles
                    .values()
                    .map(|r| (EntityKind::Role, &r.name, &r.inline)),
            );
        for (kind, owner, policies) in inline {
            for (name, document) in policies {
                let what = inline_label(kind.as_str(), owner, name);
                documents.push(SpecDocument {
                    at: at(&what),
                    what,
                    owner: DocumentOwner::Inline(kind, owner),
                    document,
                });
            }
        }
        documents
    }

    /// What the spec is made of, each with its digest: the spec's text and every policy and
    /// trust document (those read from files included). A saved plan records them, so that
    /// applying it against another version of the spec names what changed.
    pub fn sources(&self) -> BTreeMap<String, String> {
        let of = |document: &Document| crate::digest::of_json(&document.json);
        let mut sources = BTreeMap::from([("the spec's text".to_owned(), self.digest.clone())]);
        for document in self.documents() {
            sources.insert(
                format!("the document of {}", document.what),
                of(document.document),
            );
        }
        for role in self.roles.values() {
            if let Trust::Document(document) = &role.trust {
                sources.insert(
                    format!("the trust document of role `{}`", role.name),
                    of(document),
                );
            }
        }
        sources
    }

    /// The spec's OIDC provider with this URL (without `https://`), if it declares one.
    pub fn provider_by_url(&self, url: &str) -> Option<&OidcProvider> {
        self.oidc_providers
            .values()
            .find(|p| p.url.eq_ignore_ascii_case(url))
    }
}

/// How messages name a customer-managed policy of the spec.
pub fn policy_label(name: &str) -> String {
    format!("policy `{name}`")
}

/// How messages name an inline policy of a group, user or role (`kind`).
pub fn inline_label(kind: &str, owner: &str, name: &str) -> String {
    format!("inline policy `{name}` of {kind} `{owner}`")
}

/// A policy document of the spec and whose it is.
#[derive(Debug, Clone)]
pub struct SpecDocument<'a> {
    /// `policy `X`` or `inline policy `p` of user `u``.
    pub what: String,
    pub at: Location,
    pub owner: DocumentOwner<'a>,
    pub document: &'a Document,
}

/// Whose a document is: a customer-managed policy, or an entity's inline policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentOwner<'a> {
    Managed(&'a str),
    Inline(EntityKind, &'a str),
}

/// `[lint]`: the level of each finding code, and exceptions for named policies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LintConfig {
    /// Code to level: `error`, `warning`, `info` or `off`.
    pub levels: BTreeMap<String, String>,
    pub exceptions: Vec<LintException>,
}

/// `[[lint.exceptions]]`: a code that does not apply to a policy, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintException {
    pub code: String,
    /// The policy's name: a customer-managed policy, or an inline policy's name.
    pub policy: String,
    pub reason: String,
    pub at: Location,
}

/// The add-ons every spec knows without defining them.
pub const BUILTIN_ADDONS: &[(&str, &[&str])] = &[(
    "route53",
    &["AmazonRoute53FullAccess", "AmazonRoute53DomainsFullAccess"],
)];

/// A validated spec: every name, path, reference and limit has been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)] // independent switches: prune and each run's flags
pub struct Spec {
    /// The file it was read from, for messages.
    pub file: PathBuf,
    /// `[account] id`: plan and apply refuse to run against any other account.
    pub account_id: Option<String>,
    /// `[account] owner` and `[account] scope`: what this spec owns.
    pub ownership: Ownership,
    /// `[account] prune` (or `--prune`): remove what the spec's entities have beyond it, and
    /// delete owned entities that left the spec.
    pub prune: bool,
    /// `--replace-lost-keys`: a key whose secret an interrupted apply lost is deleted and a
    /// new one made. Never from the spec file: it is a decision for one run.
    pub replace_lost_keys: bool,
    /// `--adopt-keys`: mark each declared user's key iamspec did not make as its own.
    pub adopt_keys: bool,
    /// Read only the kinds of entity the spec declares (and all of them to prune): an
    /// organization's roles-only baseline does not page every account's users. Owned
    /// entities of a kind the spec does not declare then go unseen, so it is set for the
    /// accounts of an organization, not for a spec of one account.
    pub read_declared_only: bool,
    /// Customer-managed policies, by name.
    pub policies: BTreeMap<String, ManagedPolicy>,
    pub groups: BTreeMap<String, Group>,
    pub users: BTreeMap<String, User>,
    pub roles: BTreeMap<String, Role>,
    /// OIDC identity providers, by the name the spec gives them.
    pub oidc_providers: BTreeMap<String, OidcProvider>,
    /// `[account]` settings around people's credentials.
    pub settings: AccountSettings,
    /// `[lint]`: the level of each finding code, and exceptions.
    pub lint: LintConfig,
    /// `[[checks]]`: access the spec's principals must (or must not) have.
    pub checks: Vec<Check>,
    /// Where each policy document is named in the spec, by what it is (`policy `X``,
    /// `inline policy `p` of user `u``).
    pub document_at: BTreeMap<String, Location>,
    /// The documents read from JSON files, by what they are: the file, and where each of its
    /// statements starts in it (findings about a statement name its line there).
    pub document_files: BTreeMap<String, (PathBuf, Vec<crate::document::locate::Position>)>,
    /// What IAM would accept but is probably a mistake; shown, never fatal.
    pub warnings: Vec<Diagnostic>,
    /// The SHA-256 of the spec's text, which a saved plan records.
    pub digest: String,
    /// The files a `Location` names: the spec's own first, then, for an account of an
    /// organization, each layer merged into it.
    pub files: Vec<PathBuf>,
}

/// An access key's lifecycle, in seconds: rotated at `max_age`, the old key deactivated
/// `overlap` after the new one was made, and deleted another `overlap` later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    pub max_age: u64,
    pub overlap: u64,
}

/// `[account]` settings that surround people's credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountSettings {
    /// The account alias, which names the console sign-in URL.
    pub alias: Option<String>,
    /// Keys and console passwords of the spec's users unused this long (seconds) are disabled.
    pub disable_unused: Option<u64>,
    pub password_policy: Option<PasswordPolicy>,
}

/// `[account.password_policy]`, with IAM's defaults for what the spec leaves out.
#[allow(clippy::struct_excessive_bools)] // IAM's fields, one for one
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PasswordPolicy {
    pub min_length: u32,
    pub require_symbols: bool,
    pub require_numbers: bool,
    pub require_uppercase: bool,
    pub require_lowercase: bool,
    pub allow_users_to_change: bool,
    /// Days a password lasts; `None`: it never expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_age_days: Option<u32>,
    /// How many earlier passwords cannot be used again; `None`: any can.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reuse_prevention: Option<u32>,
    pub hard_expiry: bool,
}

impl Default for PasswordPolicy {
    /// What IAM applies without a policy.
    fn default() -> Self {
        Self {
            min_length: 8,
            require_symbols: false,
            require_numbers: false,
            require_uppercase: false,
            require_lowercase: false,
            allow_users_to_change: false,
            max_age_days: None,
            reuse_prevention: None,
            hard_expiry: false,
        }
    }
}

/// `[[checks]]`: a request a principal of the spec must be allowed, or denied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub at: Location,
    /// `user/NAME` or `role/NAME`.
    pub principal: String,
    pub action: String,
    pub resource: String,
    pub allow: bool,
    /// Context keys and their values.
    pub context: Vec<(String, String)>,
}

impl Check {
    /// How messages name it: `user/koding-user ec2:RunInstances on *`.
    pub fn label(&self) -> String {
        format!("{} {} on {}", self.principal, self.action, self.resource)
    }
}

/// `[policies.NAME]`: a customer-managed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedPolicy {
    pub name: String,
    pub path: String,
    pub description: String,
    pub document: Document,
}

/// `[groups.NAME]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    pub path: String,
    /// Managed policies to attach, add-ons expanded, duplicates removed, in spec order.
    pub policies: Vec<PolicyUse>,
    /// Inline policies, by name.
    pub inline: BTreeMap<String, Document>,
}

/// `[users.NAME]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub path: String,
    /// Groups the user must be a member of, all defined in the spec.
    pub groups: Vec<String>,
    /// Managed policies attached to the user directly.
    pub policies: Vec<PolicyUse>,
    /// Inline policies, by name.
    pub inline: BTreeMap<String, Document>,
    /// The user must have an active access key.
    pub access_key: bool,
    /// `access_key = { max_age, overlap }`: the key is rotated when it is this old.
    pub rotation: Option<Rotation>,
    /// `console = true`: a password to sign in to the console; `false`: none; unset: left alone.
    pub console: Option<bool>,
    /// A managed policy that bounds what the user's policies can grant.
    pub boundary: Option<PolicyUse>,
    pub tags: BTreeMap<String, String>,
}

/// `[roles.NAME]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub name: String,
    pub path: String,
    pub description: String,
    /// Who may assume it.
    pub trust: Trust,
    /// Where the spec says so, for messages about the trust.
    pub trust_at: Location,
    /// Managed policies to attach, add-ons expanded, duplicates removed, in spec order.
    pub policies: Vec<PolicyUse>,
    /// Inline policies, by name.
    pub inline: BTreeMap<String, Document>,
    /// A managed policy that bounds what the role's policies can grant.
    pub boundary: Option<PolicyUse>,
    /// The longest session, in seconds: 3600 (IAM's default) to 43200.
    pub max_session: u32,
    /// An instance profile of the role's name holds the role.
    pub instance_profile: bool,
    pub tags: BTreeMap<String, String>,
}

/// `[oidc_providers.NAME]`: an OIDC identity provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcProvider {
    /// The name the spec gives it, which trust shorthands use.
    pub name: String,
    /// Its URL without `https://`, as IAM names it in the provider's ARN.
    pub url: String,
    /// Client ids (audiences) its tokens may carry, sorted.
    pub audiences: Vec<String>,
    /// Certificate thumbprints, sorted; `None` leaves what IAM has (AWS no longer needs them).
    pub thumbprints: Option<Vec<String>>,
    pub tags: BTreeMap<String, String>,
}

/// One policy reference and where the spec wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyUse {
    pub policy: PolicyRef,
    pub at: Location,
    /// The add-on it came from, if it was not written directly.
    pub via: Option<String>,
}

/// A place in the spec: a line and column of one of its files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Location {
    /// Which of the spec's files (`Spec::files`): 0, the spec itself, unless the spec is an
    /// organization's merge of layers, each a file of its own.
    pub file: u16,
    pub line: usize,
    pub column: usize,
}

impl Location {
    /// A line and column of the spec's own file.
    pub fn at(line: usize, column: usize) -> Self {
        Self {
            file: 0,
            line,
            column,
        }
    }
}

/// One problem found in a spec, with the place to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub at: Location,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.at.line,
            self.at.column,
            self.message
        )
    }
}

/// Why a spec could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file could not be read at all: it is missing, not a regular file, too large.
    #[error("cannot read spec {}: {reason}", path.display())]
    Read { path: PathBuf, reason: String },
    /// The file was read but is not a valid spec; every problem found is listed.
    #[error("{}", render_diagnostics(.0))]
    Invalid(Vec<Diagnostic>),
}

fn render_diagnostics(diagnostics: &[Diagnostic]) -> String {
    let lines: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
    lines.join("\n")
}

/// Reads and validates the spec at `path`; `-` is standard input, whose documents are found
/// in the current directory.
pub fn load(path: &Path) -> Result<Spec, SpecError> {
    let read = if path == Path::new("-") {
        files::read_limited(std::io::stdin().lock(), MAX_SPEC_BYTES)
    } else {
        files::read_text(path, MAX_SPEC_BYTES)
    };
    let text = read.map_err(|err| match err {
        files::FileError::NotUtf8(at) => SpecError::Invalid(vec![Diagnostic {
            file: path.to_owned(),
            at,
            message: "the spec is not UTF-8 text from here on: save it as UTF-8".to_owned(),
        }]),
        other => SpecError::Read {
            path: path.to_owned(),
            reason: other.to_string(),
        },
    })?;
    parse(&text, path)
}

/// The JSON Schema of a spec (draft-07, which editors read), made from the types the loader
/// reads a spec into, their doc comments its descriptions.
pub fn schema() -> serde_json::Value {
    let schema = schemars::generate::SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<raw::RawSpec>();
    let mut schema = serde_json::to_value(schema).expect("a schema serialises");
    without_null(&mut schema);
    schema
}

/// TOML has no null: a key that may be left out is simply not required, so the `null` that
/// an `Option` adds to a schema only clutters an editor's hints.
fn without_null(schema: &mut serde_json::Value) {
    use serde_json::Value;
    let Value::Object(fields) = schema else {
        if let Value::Array(items) = schema {
            items.iter_mut().for_each(without_null);
        }
        return;
    };
    if let Some(Value::Array(types)) = fields.get_mut("type") {
        types.retain(|t| t != "null");
        if let [only] = types.as_slice() {
            let only = only.clone();
            fields.insert("type".to_owned(), only);
        }
    }
    if let Some(Value::Array(choices)) = fields.get_mut("anyOf") {
        choices.retain(|c| c.get("type").is_none_or(|t| t != "null"));
        if let [only] = choices.as_slice() {
            let Value::Object(only) = only.clone() else {
                unreachable!("a schema is an object")
            };
            fields.remove("anyOf");
            fields.extend(only);
        }
    }
    fields.values_mut().for_each(without_null);
}

/// Validates spec text; `file` is only used in messages.
pub fn parse(text: &str, file: &Path) -> Result<Spec, SpecError> {
    let source = Source::new(text, file);
    let raw: raw::RawSpec = toml::from_str(text)
        .map_err(|err| SpecError::Invalid(vec![source.toml_diagnostic(&err)]))?;
    validate::validate(&raw, &source).map_err(SpecError::Invalid)
}

/// The spec's text, for turning byte spans into files, lines and columns. A spec is one
/// text; an account's merge of an organization's layers is several, one after the other in
/// one range of offsets (`layers.rs` parses each at its own base).
pub(crate) struct Source<'a> {
    /// The spec's own file: the organization file for a merge.
    file: &'a Path,
    segments: Vec<Segment<'a>>,
    /// `${account.id}` and the others, filled into the layers' document files too.
    variables: Option<&'a layers::Variables>,
}

/// One file's text within a `Source`.
pub(crate) struct Segment<'a> {
    /// Where its text starts among the source's offsets.
    base: usize,
    /// The text as parsed: for a layer, with its variables filled in.
    text: std::borrow::Cow<'a, str>,
    /// The text as written, for lines and columns.
    written: &'a str,
    file: &'a Path,
    /// Its index in `Spec::files`.
    id: u16,
    /// Where each line of the written text starts: found once, so a large spec is located
    /// in log time.
    line_starts: Vec<usize>,
    /// Where a variable was filled in: the offset in `text` just after it, and how much
    /// longer `text` is than `written` from there on (negative: shorter).
    shifts: Vec<(usize, isize)>,
}

impl<'a> Segment<'a> {
    fn new(text: &'a str, file: &'a Path) -> Self {
        Self::filled(text, std::borrow::Cow::Borrowed(text), Vec::new(), file)
    }

    pub(crate) fn filled(
        written: &'a str,
        text: std::borrow::Cow<'a, str>,
        shifts: Vec<(usize, isize)>,
        file: &'a Path,
    ) -> Self {
        let line_starts = std::iter::once(0)
            .chain(written.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self {
            base: 0,
            text,
            written,
            file,
            id: 0,
            line_starts,
            shifts,
        }
    }

    /// The offset in the written text of an offset in the parsed one.
    fn written_offset(&self, offset: usize) -> usize {
        let shift = self
            .shifts
            .iter()
            .take_while(|(after, _)| *after <= offset)
            .last()
            .map_or(0, |(_, shift)| *shift);
        offset.saturating_add_signed(-shift).min(self.written.len())
    }

    /// The 1-based line and column (in characters) of an offset in the segment's text.
    fn locate(&self, offset: usize) -> Location {
        let mut offset = self.written_offset(offset.min(self.text.len()));
        while !self.written.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_starts.partition_point(|start| *start <= offset);
        let line_start = self.line_starts[line - 1];
        Location {
            file: self.id,
            line,
            column: self.written[line_start..offset].chars().count() + 1,
        }
    }

    fn diagnostic(&self, offset: usize, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: self.file.to_owned(),
            at: self.locate(offset),
            message: message.into(),
        }
    }

    pub(crate) fn toml_diagnostic(&self, err: &toml::de::Error) -> Diagnostic {
        let offset = err.span().map_or(0, |span| span.start);
        let message = keys::wrong_type(&self.text, offset, err.message())
            .unwrap_or_else(|| explain_toml_error(err.message()));
        self.diagnostic(offset, message)
    }

    /// The directory that holds the file, and every file it names: the current directory
    /// for a spec read from standard input.
    fn dir(&self) -> &Path {
        if self.file == Path::new("-") {
            return Path::new("");
        }
        self.file.parent().unwrap_or_else(|| Path::new(""))
    }
}

impl<'a> Source<'a> {
    fn new(text: &'a str, file: &'a Path) -> Self {
        Self {
            file,
            segments: vec![Segment::new(text, file)],
            variables: None,
        }
    }

    /// The layers of an organization's account, one after the other: each segment's spans
    /// must have been parsed at its `base` (`layers.rs`).
    pub(crate) fn layered(
        file: &'a Path,
        segments: Vec<Segment<'a>>,
        variables: &'a layers::Variables,
    ) -> Self {
        Self {
            file,
            segments,
            variables: Some(variables),
        }
    }

    /// Where the next segment starts: after the last, with a gap so that no span of one
    /// touches the next.
    pub(crate) fn next_base(segments: &[Segment<'_>]) -> usize {
        segments.last().map_or(0, |s| s.base + s.text.len() + 1)
    }

    fn segment(&self, offset: usize) -> &Segment<'a> {
        let i = self.segments.partition_point(|s| s.base <= offset);
        &self.segments[i.saturating_sub(1)]
    }

    /// The file, line and column of an offset.
    pub(crate) fn locate(&self, offset: usize) -> Location {
        let segment = self.segment(offset);
        segment.locate(offset - segment.base)
    }

    pub(crate) fn diagnostic(&self, offset: usize, message: impl Into<String>) -> Diagnostic {
        let segment = self.segment(offset);
        segment.diagnostic(offset - segment.base, message)
    }

    fn toml_diagnostic(&self, err: &toml::de::Error) -> Diagnostic {
        self.segments[0].toml_diagnostic(err)
    }

    /// The directory of the file that holds `offset`, which the files it names are in.
    pub(crate) fn dir_at(&self, offset: usize) -> &Path {
        self.segment(offset).dir()
    }

    /// A document file's text as the spec means it: a layer's variables filled in.
    pub(crate) fn fill(&self, text: String) -> Result<String, String> {
        match self.variables {
            Some(variables) => variables.fill(&text).map(|(filled, _)| filled.into_owned()),
            None => Ok(text),
        }
    }

    /// The spec's own file, and the files its locations name.
    pub(crate) fn files(&self) -> (PathBuf, Vec<PathBuf>) {
        let mut files = vec![self.file.to_owned()];
        files.extend(
            self.segments
                .iter()
                .filter(|s| s.id != 0)
                .map(|s| s.file.to_owned()),
        );
        (self.file.to_owned(), files)
    }

    /// The SHA-256 of what was parsed: one text's, or every layer's in turn.
    pub(crate) fn digest(&self) -> String {
        if let [only] = self.segments.as_slice() {
            return crate::digest::of(only.text.as_bytes());
        }
        // Each file as named from the first one's folder: the same files digest alike whether
        // the organization file was named by a relative path or an absolute one.
        let base = self.segments.first().and_then(|s| s.file.parent());
        let mut all = Vec::new();
        for segment in &self.segments {
            let file = base
                .and_then(|b| segment.file.strip_prefix(b).ok())
                .unwrap_or(segment.file);
            all.extend_from_slice(file.as_os_str().as_encoded_bytes());
            all.push(0);
            all.extend_from_slice(segment.text.as_bytes());
            all.push(0);
        }
        crate::digest::of(&all)
    }
}

impl Segment<'_> {
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    pub(crate) fn base(&self) -> usize {
        self.base
    }

    pub(crate) fn place(&mut self, base: usize, id: u16) {
        self.base = base;
        self.id = id;
    }
}

/// Rewrites serde's wording into what a spec author needs: the nearest allowed key for a typo,
/// and the full list of what is allowed.
fn explain_toml_error(message: &str) -> String {
    let message = message.trim_end();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (unknown, allowed) = rest.split_once('`').unwrap_or((rest, ""));
        let allowed: Vec<&str> = allowed
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|s| !s.is_empty())
            .collect();
        let hint = did_you_mean(unknown, allowed.iter().copied());
        return format!(
            "unknown key `{unknown}`{hint} (allowed here: {})",
            allowed.join(", ")
        );
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        return format!("wrong type: {rest}");
    }
    message.to_owned()
}

/// `; did you mean `x`?` for the candidate closest to `word`, or nothing.
pub(crate) fn did_you_mean<'c>(word: &str, candidates: impl Iterator<Item = &'c str>) -> String {
    nearest(word, candidates)
        .map(|near| format!("; did you mean `{near}`?"))
        .unwrap_or_default()
}

/// The candidate closest to `word`, if any is close enough to be a likely typo.
pub(crate) fn nearest<'c>(
    word: &str,
    candidates: impl Iterator<Item = &'c str>,
) -> Option<&'c str> {
    let word = word.to_lowercase();
    candidates
        .map(|c| (strsim::jaro_winkler(&word, &c.to_lowercase()), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests;
