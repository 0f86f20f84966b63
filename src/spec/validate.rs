//! Stage 1b: `RawSpec` -> `Spec`. Every rule IAM would enforce and that can be checked without
//! an account is checked here, and every problem is reported with its place, not just the first.

use std::collections::{BTreeMap, BTreeSet};

use std::path::PathBuf;

use super::raw::Spanned;

use super::files::{self, FileError};

use super::policy::check_spec_path;
use super::raw::{
    RawAccount, RawAddon, RawGroup, RawInline, RawPolicy, RawProvider, RawRole, RawSpec, RawTrust,
    RawUser,
};
use super::{
    AccountSettings, BUILTIN_ADDONS, Diagnostic, Grant, Group, ManagedPolicy, OidcProvider,
    PolicyRef, PolicyUse, Role, Source, Spec, Trust, User, did_you_mean,
};
use crate::document::Document;
use crate::iam::{DEFAULT_OWNER, OWNER_TAG, Ownership, check_name, is_account_id};

mod credentials;

pub use credentials::{MFA_POLICY, mfa_document, mfa_policy_name, parse_duration};

/// The spec format version this build reads.
pub const SPEC_VERSION: i64 = 1;

const MAX_USER_NAME: usize = 64;
const MAX_GROUP_NAME: usize = 128;
const MAX_GROUPS_PER_USER: usize = 10;
const MAX_POLICIES_PER_GROUP: usize = 10;
const MAX_POLICIES_PER_USER: usize = 20;
const MAX_TAGS: usize = 50;
const MAX_TAG_KEY: usize = 128;
const MAX_TAG_VALUE: usize = 256;

const MAX_POLICY_NAME: usize = 128;

/// A context value as text: a string as it is, a number or boolean as TOML writes it.
fn toml_text(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
const MAX_DESCRIPTION: usize = 1000;
const MAX_MANAGED_DOCUMENT: usize = 6144;
const MAX_USER_INLINE: usize = 2048;
const MAX_GROUP_INLINE: usize = 5120;

const MAX_ROLE_NAME: usize = 64;
const MAX_POLICIES_PER_ROLE: usize = 20;
const MAX_ROLE_INLINE: usize = 10240;
/// IAM's default quota for a trust policy; AWS raises it to 4,096 on request.
const MAX_TRUST_DOCUMENT: usize = 2048;
/// A role's session length: IAM's default is also its least.
const MIN_SESSION: u64 = 3600;
const MAX_SESSION: u64 = 43200;
const MAX_PROVIDER_URL: usize = 255;
const MAX_AUDIENCES: usize = 100;
const MAX_THUMBPRINTS: usize = 5;
/// Paths where AWS keeps roles it manages (service-linked roles, IAM Identity Center's).
const AWS_ROLE_PATHS: [&str; 2] = ["/aws-service-role/", "/aws-reserved/"];

struct Checker<'a> {
    source: &'a Source<'a>,
    problems: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    /// Names under `[policies]`: a bare name in a `policies` list means one of these first.
    policy_names: BTreeSet<String>,
    /// Where each policy document is named, by what it is ("policy `X`").
    document_at: BTreeMap<String, super::Location>,
    /// The documents read from files, and where their statements are.
    document_files: BTreeMap<String, (PathBuf, Vec<crate::document::locate::Position>)>,
}

pub(super) fn validate(raw: &RawSpec, source: &Source<'_>) -> Result<Spec, Vec<Diagnostic>> {
    let mut checker = Checker {
        source,
        problems: Vec::new(),
        warnings: Vec::new(),
        policy_names: raw.policies.keys().map(|k| k.get_ref().clone()).collect(),
        document_at: BTreeMap::new(),
        document_files: BTreeMap::new(),
    };
    let mut spec = checker.spec(raw);
    if checker.problems.is_empty() {
        spec.warnings = checker.warnings;
        spec.document_at = checker.document_at;
        spec.document_files = checker.document_files;
        Ok(spec)
    } else {
        checker.problems.sort_by_key(|d| d.at);
        Err(checker.problems)
    }
}

impl Checker<'_> {
    fn error(&mut self, offset: usize, message: impl Into<String>) {
        self.problems.push(self.source.diagnostic(offset, message));
    }

    fn warn(&mut self, offset: usize, message: impl Into<String>) {
        self.warnings.push(self.source.diagnostic(offset, message));
    }

    fn spec(&mut self, raw: &RawSpec) -> Spec {
        match &raw.version {
            None => self.error(
                0,
                format!("the spec has no `version`: add `version = {SPEC_VERSION}` at the top"),
            ),
            Some(v) if *v.get_ref() != SPEC_VERSION => self.error(
                v.span().start,
                format!(
                    "unsupported spec version {}: this iamspec reads version {SPEC_VERSION}",
                    v.get_ref()
                ),
            ),
            Some(_) => {}
        }
        let (account_id, ownership, prune, settings) = self.account(raw.account.as_ref());
        self.unique_ignoring_case("user", raw.users.keys());
        self.unique_ignoring_case("group", raw.groups.keys());
        self.unique_ignoring_case("policy", raw.policies.keys());
        let mut policies: BTreeMap<String, ManagedPolicy> = raw
            .policies
            .iter()
            .filter_map(|(name, policy)| {
                let policy = self.managed_policy(name, policy)?;
                Some((name.get_ref().clone(), policy))
            })
            .collect();
        let addons = self.addons(&raw.addons);
        let group_names: BTreeSet<&str> = raw.groups.keys().map(|k| k.get_ref().as_str()).collect();

        let mut groups: BTreeMap<String, Group> = raw
            .groups
            .iter()
            .map(|(name, group)| (name.get_ref().clone(), self.group(name, group, &addons)))
            .collect();
        let mut users: BTreeMap<String, User> = raw
            .users
            .iter()
            .map(|(name, user)| {
                let user = self.user(name, user, &addons, &group_names);
                (name.get_ref().clone(), user)
            })
            .collect();
        self.require_mfa(
            raw,
            &ownership.owner,
            &mut policies,
            &mut groups,
            &mut users,
        );
        let oidc_providers = self.providers(&raw.oidc_providers);
        let roles = self.roles(&raw.roles, &addons, &oidc_providers);
        let checks = self.checks(&raw.checks, &users, &roles);
        let (file, files) = self.source.files();
        Spec {
            file,
            files,
            account_id,
            ownership,
            prune,
            replace_lost_keys: false,
            adopt_keys: false,
            read_declared_only: false,
            policies,
            groups,
            users,
            roles,
            oidc_providers,
            settings,
            lint: self.lint(raw.lint.as_ref()),
            checks,
            document_at: BTreeMap::new(),
            document_files: BTreeMap::new(),
            warnings: Vec::new(),
            digest: self.source.digest(),
        }
    }

    /// `[[checks]]`: each names a principal the spec declares, an action, and allow or deny.
    fn checks(
        &mut self,
        raw: &[Spanned<super::raw::RawCheck>],
        users: &BTreeMap<String, User>,
        roles: &BTreeMap<String, Role>,
    ) -> Vec<super::Check> {
        let mut checks = Vec::new();
        for check in raw {
            let c = check.get_ref();
            let who = c.principal.get_ref();
            let known = match who.split_once('/') {
                Some(("user", name)) => users.contains_key(name),
                Some(("role", name)) => roles.contains_key(name),
                _ => false,
            };
            if !known {
                let all: Vec<String> = users
                    .keys()
                    .map(|u| format!("user/{u}"))
                    .chain(roles.keys().map(|r| format!("role/{r}")))
                    .collect();
                let hint = super::did_you_mean(who, all.iter().map(String::as_str));
                self.error(
                    c.principal.span().start,
                    format!("check principal `{who}` is not a user/NAME or role/NAME the spec declares{hint}"),
                );
            }
            let action = c.action.get_ref();
            if action
                .split_once(':')
                .is_none_or(|(s, a)| s.is_empty() || a.is_empty())
            {
                self.error(
                    c.action.span().start,
                    format!("check action `{action}` is not SERVICE:ACTION, like ec2:RunInstances"),
                );
            }
            let allow = match c.expect.get_ref().as_str() {
                "allow" => true,
                "deny" => false,
                other => {
                    self.error(
                        c.expect.span().start,
                        format!("check `expect` is \"allow\" or \"deny\", not `{other}`"),
                    );
                    true
                }
            };
            let mut context = Vec::new();
            for (key, value) in &c.context {
                let values = match value {
                    toml::Value::Array(items) => items.iter().map(toml_text).collect(),
                    one => vec![toml_text(one)],
                };
                context.extend(values.into_iter().map(|v| (key.clone(), v)));
            }
            checks.push(super::Check {
                at: self.source.locate(check.span().start),
                principal: who.clone(),
                action: action.clone(),
                resource: c
                    .resource
                    .as_ref()
                    .map_or_else(|| "*".to_owned(), |r| r.get_ref().clone()),
                allow,
                context,
            });
        }
        checks
    }

    /// `[lint]`: each code and level known, each exception with a reason.
    fn lint(&mut self, raw: Option<&super::raw::RawLint>) -> super::LintConfig {
        let mut config = super::LintConfig::default();
        let Some(raw) = raw else {
            return config;
        };
        let codes = || crate::lint::CODES.iter().map(|(code, ..)| *code);
        let known = |this: &mut Self, code: &Spanned<String>| {
            let ok = codes().any(|c| c == code.get_ref());
            if !ok {
                let hint = did_you_mean(code.get_ref(), codes());
                this.error(
                    code.span().start,
                    format!(
                        "`{}` is no finding code{hint} (codes: {})",
                        code.get_ref(),
                        codes().collect::<Vec<_>>().join(", ")
                    ),
                );
            }
            ok
        };
        for (code, level) in &raw.levels {
            if !known(self, code) {
                continue;
            }
            if !crate::lint::is_level(level.get_ref()) {
                self.error(
                    level.span().start,
                    format!("the level of {} is `{}`: write \"error\", \"warning\", \"info\" or \"off\"", code.get_ref(), level.get_ref()),
                );
            }
            config
                .levels
                .insert(code.get_ref().clone(), level.get_ref().clone());
        }
        for exception in &raw.exceptions {
            let e = exception.get_ref();
            known(self, &e.code);
            if e.reason.get_ref().trim().is_empty() {
                self.error(
                    e.reason.span().start,
                    "an exception needs a reason: say why the finding does not apply",
                );
            }
            config.exceptions.push(super::LintException {
                code: e.code.get_ref().clone(),
                policy: e.policy.get_ref().clone(),
                reason: e.reason.get_ref().clone(),
                at: self.source.locate(exception.span().start),
            });
        }
        config
    }

    /// `[account]`: the account id, who the spec is and what it owns, and the settings.
    fn account(
        &mut self,
        raw: Option<&RawAccount>,
    ) -> (Option<String>, Ownership, bool, AccountSettings) {
        let mut settings = AccountSettings::default();
        let (id, owner, scope, prune) = match raw {
            Some(a) => {
                settings = self.account_settings(
                    a.alias.as_ref(),
                    a.disable_unused.as_ref(),
                    a.password_policy.as_ref(),
                );
                (a.id.clone(), a.owner.clone(), a.scope.clone(), a.prune)
            }
            None => (None, None, None, false),
        };
        let owner = owner.map_or_else(
            || DEFAULT_OWNER.to_owned(),
            |owner| {
                let value = owner.get_ref();
                if value.is_empty() || value.chars().count() > MAX_TAG_VALUE || value.chars().any(|c| !is_tag_char(c)) {
                    self.error(
                        owner.span().start,
                        format!(
                            "owner `{value}` is not valid: it becomes the value of the tag {OWNER_TAG}, so it is 1 to {MAX_TAG_VALUE} letters, digits, spaces and _ . : / = + - @"
                        ),
                    );
                }
                value.clone()
            },
        );
        let scope = scope.map(|scope| {
            if scope.get_ref() == "/" {
                self.error(
                    scope.span().start,
                    "scope `/` would claim every user, group and policy in the account: use a path of its own, like `/koding/`",
                );
            } else {
                let _ = self.path(Some(&scope));
            }
            scope.into_inner()
        });
        let account_id = id.and_then(|id| {
            if is_account_id(id.get_ref()) {
                Some(id.into_inner())
            } else {
                self.error(
                    id.span().start,
                    format!(
                        "account id `{}` is not valid: it must be exactly 12 digits",
                        id.get_ref()
                    ),
                );
                None
            }
        });

        (account_id, Ownership { owner, scope }, prune, settings)
    }

    fn managed_policy(&mut self, name: &Spanned<String>, raw: &RawPolicy) -> Option<ManagedPolicy> {
        if let Err(why) = check_name("policy", name.get_ref(), MAX_POLICY_NAME) {
            self.error(name.span().start, why);
        }
        let description = raw.description.as_ref().map_or(String::new(), |d| {
            let length = d.get_ref().chars().count();
            if length > MAX_DESCRIPTION {
                self.error(
                    d.span().start,
                    format!(
                        "the description of policy `{}` is {length} characters long; IAM allows at most {MAX_DESCRIPTION}",
                        name.get_ref()
                    ),
                );
            }
            d.get_ref().clone()
        });
        let what = super::policy_label(name.get_ref());
        let document = self.document(&raw.document, &what)?;
        if document.size() > MAX_MANAGED_DOCUMENT {
            self.error(
                raw.document.span().start,
                format!(
                    "the document of {what} is {} characters long without whitespace; IAM allows at most {MAX_MANAGED_DOCUMENT} for a managed policy",
                    document.size()
                ),
            );
        }
        Some(ManagedPolicy {
            name: name.get_ref().clone(),
            path: self.path(raw.path.as_ref()),
            description,
            document,
        })
    }

    /// Inline policies of a user or group, within IAM's combined size for that kind.
    fn inline(
        &mut self,
        kind: &str,
        owner: &str,
        raw: &RawInline,
        limit: usize,
    ) -> BTreeMap<String, Document> {
        let Some(raw) = raw else {
            return BTreeMap::new();
        };
        let mut inline = BTreeMap::new();
        for (name, document) in raw.get_ref() {
            if let Err(why) = check_name("policy", name.get_ref(), MAX_POLICY_NAME) {
                self.error(name.span().start, why);
            }
            let what = super::inline_label(kind, owner, name.get_ref());
            if let Some(document) = self.document(document, &what) {
                inline.insert(name.get_ref().clone(), document);
            }
        }
        let total: usize = inline.values().map(Document::size).sum();
        if total > limit {
            self.error(
                raw.span().start,
                format!(
                    "the inline policies of {kind} `{owner}` are {total} characters long together, without whitespace; IAM allows at most {limit} for a {kind}"
                ),
            );
        }
        inline
    }

    /// A policy document, from a JSON file beside the spec or an inline table, checked as IAM
    /// would check it.
    fn document(&mut self, value: &Spanned<toml::Value>, what: &str) -> Option<Document> {
        let at = self.source.locate(value.span().start);
        self.document_at.insert(what.to_owned(), at);
        let json = self.json(value, what)?;
        let findings = crate::document::check(&json);
        self.findings(
            value.span().start,
            &format!("the document of {what}"),
            findings,
        );
        Some(Document::new(json))
    }

    /// A trust policy given whole, checked as IAM would and against trusts that let anyone in.
    fn trust_document(&mut self, value: &Spanned<toml::Value>, what: &str) -> Option<Document> {
        let json = self.json(value, what)?;
        let findings = crate::document::check_trust(&json);
        self.findings(value.span().start, what, findings);
        Some(Document::new(json))
    }

    /// What the offline checks found, each after `what` (the document it is about).
    fn findings(&mut self, at: usize, what: &str, findings: crate::document::Findings) {
        for error in findings.errors {
            self.error(at, format!("{what}: {error}"));
        }
        for warning in findings.warnings {
            self.warn(at, format!("{what}: {warning}"));
        }
    }

    /// A document's JSON, from a JSON file beside the spec or an inline table.
    fn json(&mut self, value: &Spanned<toml::Value>, what: &str) -> Option<serde_json::Value> {
        let at = value.span().start;
        let json = match value.get_ref() {
            toml::Value::String(relative) => {
                let (path, text) = match self.read_document(at, relative) {
                    Ok(read) => read,
                    Err(err) => {
                        let shown = self.source.dir_at(at).join(relative);
                        self.error(
                            at,
                            format!(
                                "cannot read the document of {what}, {}: {err}",
                                shown.display()
                            ),
                        );
                        return None;
                    }
                };
                // JSON syntax errors say where, never what: safe to show for any file.
                let json = match serde_json::from_str::<serde_json::Value>(&text) {
                    Ok(json) => json,
                    Err(err) => {
                        self.problems.push(Diagnostic {
                            file: path,
                            at: super::Location::at(err.line(), err.column()),
                            message: format!("the document of {what} is not valid JSON: {err}"),
                        });
                        return None;
                    }
                };
                self.document_files.insert(
                    what.to_owned(),
                    (path.clone(), crate::document::locate::statements(&text)),
                );
                // A JSON file that is not a policy (credentials, say) is named, never quoted.
                if json.get("Statement").is_none() {
                    self.error(
                        at,
                        format!(
                            "the document of {what}, {}, is not a policy document: it has no `Statement`",
                            path.display()
                        ),
                    );
                    return None;
                }
                json
            }
            toml::Value::Table(table) => {
                serde_json::to_value(table).expect("a TOML table converts to JSON")
            }
            other => {
                self.error(
                    at,
                    format!(
                        "the document of {what} must be the path of a JSON file (a string) or an inline table, not the {} {other}",
                        other.type_str()
                    ),
                );
                return None;
            }
        };
        Some(json)
    }

    /// The text of a document file: a regular file inside the spec's directory, of a size a
    /// policy document can have. Returns the path as written beside the spec.
    fn read_document(&self, at: usize, relative: &str) -> Result<(PathBuf, String), FileError> {
        let (written, resolved) = files::confine(self.source.dir_at(at), relative)?;
        let text = files::read_text(&resolved, files::MAX_DOCUMENT_BYTES)?;
        let text = self.source.fill(text).map_err(FileError::Variable)?;
        Ok((written, text))
    }

    /// IAM names are unique per account ignoring case, so `Dev` and `dev` cannot both exist.
    fn unique_ignoring_case<'k>(
        &mut self,
        kind: &str,
        names: impl Iterator<Item = &'k Spanned<String>>,
    ) {
        let mut seen: BTreeMap<String, &Spanned<String>> = BTreeMap::new();
        for name in names {
            if let Some(first) = seen.insert(name.get_ref().to_lowercase(), name) {
                self.error(
                    name.span().start.max(first.span().start),
                    format!(
                        "{kind} names `{}` and `{}` differ only in case; IAM treats them as the same {kind}",
                        first.get_ref(),
                        name.get_ref()
                    ),
                );
            }
        }
    }

    /// Built-in and spec-defined add-ons, each as its parsed policies.
    fn addons(
        &mut self,
        defined: &BTreeMap<Spanned<String>, RawAddon>,
    ) -> BTreeMap<String, Vec<PolicyUse>> {
        let mut addons: BTreeMap<String, Vec<PolicyUse>> = BUILTIN_ADDONS
            .iter()
            .map(|(name, policies)| {
                let uses = policies
                    .iter()
                    .map(|p| PolicyUse {
                        policy: PolicyRef::parse(p).expect("built-in add-ons name valid policies"),
                        at: super::Location::default(),
                        via: Some((*name).to_owned()),
                    })
                    .collect();
                ((*name).to_owned(), uses)
            })
            .collect();
        for (name, addon) in defined {
            if addons.contains_key(name.get_ref()) {
                self.error(
                    name.span().start,
                    format!(
                        "add-on `{}` is built in and cannot be redefined; choose another name",
                        name.get_ref()
                    ),
                );
                continue;
            }
            if let Err(why) = check_name("add-on", name.get_ref(), MAX_GROUP_NAME) {
                self.error(name.span().start, why);
            }
            let uses = addon
                .policies
                .get_ref()
                .iter()
                .filter_map(|p| self.policy(p, Some(name.get_ref())))
                .collect();
            addons.insert(name.get_ref().clone(), uses);
        }
        addons
    }

    fn group(
        &mut self,
        name: &Spanned<String>,
        raw: &RawGroup,
        addons: &BTreeMap<String, Vec<PolicyUse>>,
    ) -> Group {
        if let Err(why) = check_name("group", name.get_ref(), MAX_GROUP_NAME) {
            self.error(name.span().start, why);
        }
        let policies = self.policies(raw.policies.as_ref(), raw.addons.as_ref(), addons);
        if policies.len() > MAX_POLICIES_PER_GROUP {
            self.error(
                policies_at(name, &raw.policies, &raw.addons),
                format!(
                    "group `{}` has {} managed policies (add-ons included); IAM attaches at most {MAX_POLICIES_PER_GROUP} to a group",
                    name.get_ref(),
                    policies.len()
                ),
            );
        }
        Group {
            name: name.get_ref().clone(),
            path: self.path(raw.path.as_ref()),
            policies,
            inline: self.inline("group", name.get_ref(), &raw.inline, MAX_GROUP_INLINE),
        }
    }

    fn user(
        &mut self,
        name: &Spanned<String>,
        raw: &RawUser,
        addons: &BTreeMap<String, Vec<PolicyUse>>,
        group_names: &BTreeSet<&str>,
    ) -> User {
        if let Err(why) = check_name("user", name.get_ref(), MAX_USER_NAME) {
            self.error(name.span().start, why);
        }
        let mut groups = Vec::new();
        for group in list(raw.groups.as_ref()) {
            if !group_names.contains(group.get_ref().as_str()) {
                let hint = did_you_mean(group.get_ref(), group_names.iter().copied());
                self.error(
                    group.span().start,
                    format!(
                        "group `{}` is not defined{hint} (define it as [groups.{}])",
                        group.get_ref(),
                        group.get_ref()
                    ),
                );
            } else if !groups.contains(group.get_ref()) {
                groups.push(group.get_ref().clone());
            }
        }
        if groups.len() > MAX_GROUPS_PER_USER {
            let at = raw
                .groups
                .as_ref()
                .map_or(name.span().start, |g| g.span().start);
            self.error(
                at,
                format!(
                    "user `{}` is in {} groups; IAM allows at most {MAX_GROUPS_PER_USER}",
                    name.get_ref(),
                    groups.len()
                ),
            );
        }
        let policies = self.policies(raw.policies.as_ref(), raw.addons.as_ref(), addons);
        if policies.len() > MAX_POLICIES_PER_USER {
            self.error(
                policies_at(name, &raw.policies, &raw.addons),
                format!(
                    "user `{}` has {} managed policies (add-ons included); IAM attaches at most {MAX_POLICIES_PER_USER} to a user",
                    name.get_ref(),
                    policies.len()
                ),
            );
        }
        let (access_key, rotation) = self.access_key(name.get_ref(), raw.access_key.as_ref());
        User {
            name: name.get_ref().clone(),
            path: self.path(raw.path.as_ref()),
            groups,
            policies,
            inline: self.inline("user", name.get_ref(), &raw.inline, MAX_USER_INLINE),
            access_key,
            rotation,
            console: raw.console,
            boundary: self.boundary("user", name.get_ref(), raw.boundary.as_ref()),
            tags: self.tags(raw.tags.as_ref()),
        }
    }

    /// A permissions boundary: a managed policy, by any name a `policies` list takes.
    fn boundary(
        &mut self,
        kind: &str,
        owner: &str,
        raw: Option<&Spanned<String>>,
    ) -> Option<PolicyUse> {
        let raw = raw?;
        if PolicyRef::parse(raw.get_ref()).is_err() {
            self.error(
                raw.span().start,
                format!(
                    "the boundary of {kind} `{owner}`, `{}`, is not a managed policy: name a policy of this spec, an AWS-managed policy or a policy ARN",
                    raw.get_ref()
                ),
            );
            return None;
        }
        self.policy(raw, None)
    }

    fn roles(
        &mut self,
        raw: &BTreeMap<Spanned<String>, RawRole>,
        addons: &BTreeMap<String, Vec<PolicyUse>>,
        providers: &BTreeMap<String, OidcProvider>,
    ) -> BTreeMap<String, Role> {
        self.unique_ignoring_case("role", raw.keys());
        raw.iter()
            .filter_map(|(name, role)| {
                let role = self.role(name, role, addons, providers)?;
                Some((name.get_ref().clone(), role))
            })
            .collect()
    }

    /// `[oidc_providers]`, by the spec's name for each.
    fn providers(
        &mut self,
        raw: &BTreeMap<Spanned<String>, RawProvider>,
    ) -> BTreeMap<String, OidcProvider> {
        let mut by_url: BTreeMap<String, String> = BTreeMap::new();
        let mut providers = BTreeMap::new();
        for (name, provider) in raw {
            let url = provider.url.get_ref();
            let at = provider.url.span().start;
            let Some(bare) = url.strip_prefix("https://") else {
                self.error(
                    at,
                    format!(
                        "the url of OIDC provider `{}` must start with https://",
                        name.get_ref()
                    ),
                );
                continue;
            };
            let bare = bare.trim_end_matches('/').to_owned();
            if bare.is_empty() || bare.contains(['?', '#', ' ']) || url.len() > MAX_PROVIDER_URL {
                self.error(
                    at,
                    format!(
                        "the url of OIDC provider `{}` is not valid: IAM takes https://HOST[/PATH], at most {MAX_PROVIDER_URL} characters, without query or fragment",
                        name.get_ref()
                    ),
                );
                continue;
            }
            if let Some(first) = by_url.insert(bare.to_lowercase(), name.get_ref().clone()) {
                self.error(
                    at,
                    format!(
                        "OIDC providers `{first}` and `{}` have the same url; IAM has one provider per url",
                        name.get_ref()
                    ),
                );
            }
            let mut audiences: Vec<String> = list(provider.audiences.as_ref())
                .iter()
                .map(|a| a.get_ref().clone())
                .collect();
            if provider.audiences.is_none() {
                audiences.push("sts.amazonaws.com".to_owned());
            }
            audiences.sort();
            audiences.dedup();
            if audiences.is_empty() || audiences.len() > MAX_AUDIENCES {
                let at = provider.audiences.as_ref().map_or(at, |a| a.span().start);
                self.error(
                    at,
                    format!(
                        "OIDC provider `{}` must have 1 to {MAX_AUDIENCES} audiences",
                        name.get_ref()
                    ),
                );
            }
            for audience in list(provider.audiences.as_ref()) {
                let length = audience.get_ref().chars().count();
                if length == 0 || length > 255 {
                    self.error(
                        audience.span().start,
                        "an audience is 1 to 255 characters long",
                    );
                }
            }
            let thumbprints = provider.thumbprints.as_ref().map(|raw| {
                if raw.get_ref().len() > MAX_THUMBPRINTS {
                    self.error(raw.span().start, format!("IAM keeps at most {MAX_THUMBPRINTS} thumbprints per provider"));
                }
                let mut found: Vec<String> = Vec::new();
                for thumbprint in raw.get_ref() {
                    let t = thumbprint.get_ref();
                    if t.len() != 40 || !t.chars().all(|c| c.is_ascii_hexdigit()) {
                        self.error(
                            thumbprint.span().start,
                            format!("thumbprint `{t}` is not a certificate's SHA-1 fingerprint: 40 hexadecimal digits"),
                        );
                    }
                    found.push(t.to_lowercase());
                }
                found.sort();
                found.dedup();
                found
            });
            providers.insert(
                name.get_ref().clone(),
                OidcProvider {
                    name: name.get_ref().clone(),
                    url: bare,
                    audiences,
                    thumbprints,
                    tags: self.tags(provider.tags.as_ref()),
                },
            );
        }
        providers
    }

    fn role(
        &mut self,
        name: &Spanned<String>,
        raw: &RawRole,
        addons: &BTreeMap<String, Vec<PolicyUse>>,
        providers: &BTreeMap<String, OidcProvider>,
    ) -> Option<Role> {
        let role = name.get_ref();
        if let Err(why) = check_name("role", role, MAX_ROLE_NAME) {
            self.error(name.span().start, why);
        }
        let path = self.path(raw.path.as_ref());
        if let Some(reserved) = AWS_ROLE_PATHS.iter().find(|p| path.starts_with(*p)) {
            let at = raw
                .path
                .as_ref()
                .map_or(name.span().start, |p| p.span().start);
            self.error(
                at,
                format!(
                    "path `{reserved}` is where AWS keeps the roles it manages; use another path"
                ),
            );
        }
        let description = raw.description.as_ref().map_or(String::new(), |d| {
            let length = d.get_ref().chars().count();
            if length > MAX_DESCRIPTION {
                self.error(
                    d.span().start,
                    format!("the description of role `{role}` is {length} characters long; IAM allows at most {MAX_DESCRIPTION}"),
                );
            }
            d.get_ref().clone()
        });
        let what = format!("the trust policy of role `{role}`");
        let (trust, trust_span) = match (&raw.trust, &raw.trust_document) {
            (Some(_), Some(document)) => {
                self.error(
                    document.span().start,
                    format!("role `{role}` has both `trust` and `trust_document`: keep one"),
                );
                return None;
            }
            (None, None) => {
                self.error(
                    name.span().start,
                    format!("role `{role}` says nobody may assume it: add `trust = {{ services = [\"ec2.amazonaws.com\"] }}` (or accounts, github, oidc), or a whole `trust_document`"),
                );
                return None;
            }
            (Some(trust), None) => (
                Trust::Shorthand(self.trust(role, trust, providers)),
                trust.span().start,
            ),
            (None, Some(document)) => (
                Trust::Document(self.trust_document(document, &what)?),
                document.span().start,
            ),
        };
        // The longest partition name makes the largest document: if that fits, every one does.
        let compiled = trust.document(crate::iam::Partition::AwsUsGov, "000000000000");
        if let Trust::Shorthand(_) = trust {
            // A shorthand that compiles to a trust anyone can use (an `oidc` without a subject
            // condition) is refused like a document.
            let findings = crate::document::check_trust(&compiled.json);
            self.findings(trust_span, &what, findings);
        }
        if compiled.size() > MAX_TRUST_DOCUMENT {
            self.error(
                trust_span,
                format!(
                    "{what} is {} characters long without whitespace; IAM allows {MAX_TRUST_DOCUMENT} unless AWS raised the account's quota",
                    compiled.size()
                ),
            );
        }
        let max_session = self.max_session(role, raw.max_session.as_ref());
        if raw.instance_profile && !crate::document::trusts_ec2(&compiled.json) {
            self.warn(
                name.span().start,
                format!("role `{role}` has an instance profile, but its trust lets no EC2 service assume it, so no instance can use it: add `services = [\"ec2.amazonaws.com\"]` to its trust"),
            );
        }
        let policies = self.policies(raw.policies.as_ref(), raw.addons.as_ref(), addons);
        if policies.len() > MAX_POLICIES_PER_ROLE {
            self.error(
                policies_at(name, &raw.policies, &raw.addons),
                format!(
                    "role `{role}` has {} managed policies (add-ons included); IAM attaches at most {MAX_POLICIES_PER_ROLE} to a role",
                    policies.len()
                ),
            );
        }
        Some(Role {
            name: role.clone(),
            path,
            description,
            trust,
            trust_at: self.source.locate(trust_span),
            policies,
            inline: self.inline("role", role, &raw.inline, MAX_ROLE_INLINE),
            boundary: self.boundary("role", role, raw.boundary.as_ref()),
            max_session,
            instance_profile: raw.instance_profile,
            tags: self.tags(raw.tags.as_ref()),
        })
    }

    /// `max_session = "2h"`: whole seconds from an hour to twelve; IAM's default hour without it.
    fn max_session(&mut self, role: &str, raw: Option<&Spanned<String>>) -> u32 {
        let Some(raw) = raw else {
            return 3600;
        };
        let at = raw.span().start;
        match humantime::parse_duration(raw.get_ref()) {
            Ok(length)
                if (MIN_SESSION..=MAX_SESSION).contains(&length.as_secs())
                    && length.subsec_nanos() == 0 =>
            {
                u32::try_from(length.as_secs()).unwrap_or(3600)
            }
            Ok(_) => {
                self.error(at, format!("max_session of role `{role}` is `{}`; IAM allows 1h to 12h, in whole seconds", raw.get_ref()));
                3600
            }
            Err(_) => {
                self.error(at, format!("max_session of role `{role}` is `{}`, which is not a duration: write it like \"2h\", \"90m\" or \"3600s\"", raw.get_ref()));
                3600
            }
        }
    }

    /// The `trust` shorthands, one grant each.
    fn trust(
        &mut self,
        role: &str,
        raw: &Spanned<RawTrust>,
        providers: &BTreeMap<String, OidcProvider>,
    ) -> Vec<Grant> {
        let at = raw.span().start;
        let trust = raw.get_ref();
        let mut grants = Vec::new();
        if let Some(services) = &trust.services {
            let names: Vec<String> = services
                .get_ref()
                .iter()
                .map(|s| s.get_ref().clone())
                .collect();
            for service in services.get_ref() {
                let s = service.get_ref();
                if s.is_empty() || s.contains(char::is_whitespace) || !s.contains('.') {
                    self.error(
                        service.span().start,
                        format!(
                            "`{s}` is not a service principal: write it like \"ec2.amazonaws.com\""
                        ),
                    );
                }
            }
            if names.is_empty() {
                self.error(
                    services.span().start,
                    "`services` is empty: name the services that assume the role, or leave it out",
                );
            } else {
                grants.push(Grant::Services(names));
            }
        }
        if let Some(accounts) = &trust.accounts {
            {
                for account in accounts.get_ref() {
                    if !is_account_id(account.get_ref()) {
                        self.error(
                            account.span().start,
                            format!(
                                "account `{}` is not an account id: it must be exactly 12 digits",
                                account.get_ref()
                            ),
                        );
                    }
                }
                if let Some(id) = &trust.external_id {
                    let value = id.get_ref();
                    let valid = (2..=1224).contains(&value.chars().count())
                        && value
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "+=,.@:/-_".contains(c));
                    if !valid {
                        self.error(
                            id.span().start,
                            "external_id is 2 to 1,224 letters, digits and + = , . @ : / - _",
                        );
                    }
                }
                if accounts.get_ref().is_empty() {
                    self.error(accounts.span().start, "`accounts` is empty: name the accounts whose principals may assume the role, or leave it out");
                } else {
                    grants.push(Grant::Accounts {
                        accounts: accounts
                            .get_ref()
                            .iter()
                            .map(|a| a.get_ref().clone())
                            .collect(),
                        external_id: trust.external_id.as_ref().map(|e| e.get_ref().clone()),
                        mfa: trust.mfa.as_ref().is_some_and(|m| *m.get_ref()),
                    });
                }
            }
        } else {
            if let Some(id) = &trust.external_id {
                self.error(
                    id.span().start,
                    "external_id applies to `accounts`: name the accounts that must pass it",
                );
            }
            if let Some(mfa) = &trust.mfa {
                self.error(mfa.span().start, "mfa applies to `accounts`: name the accounts whose principals must sign in with MFA");
            }
        }
        if let Some(github) = &trust.github {
            let g = github.get_ref();
            let provider = self.trusted_provider(&g.provider, providers);
            let repo = g.repo.get_ref();
            let valid_repo = repo.split_once('/').is_some_and(|(owner, name)| {
                !owner.is_empty()
                    && !name.is_empty()
                    && !owner.contains(['*', '?', ':'])
                    && !name.contains([':', '/'])
            });
            if !valid_repo {
                self.error(g.repo.span().start, format!("repo `{repo}` is not OWNER/NAME (a wildcard is allowed in NAME only, like \"acme/*\")"));
            }
            let refs: Vec<String> = list(g.refs.as_ref())
                .iter()
                .map(|r| r.get_ref().clone())
                .collect();
            for r in list(g.refs.as_ref()) {
                if !r.get_ref().starts_with("refs/") {
                    self.error(r.span().start, format!("ref `{}` is not a full ref: write it like \"refs/heads/main\" or \"refs/tags/v*\"", r.get_ref()));
                }
            }
            let environments: Vec<String> = list(g.environments.as_ref())
                .iter()
                .map(|e| e.get_ref().clone())
                .collect();
            if refs.is_empty() && environments.is_empty() && !g.pull_request {
                self.error(
                    github.span().start,
                    format!("the github trust of role `{role}` names no refs, environments or pull_request, so no workflow could assume it: say which may, like refs = [\"refs/heads/main\"]"),
                );
            }
            if let Some(provider) = provider {
                let audience = g
                    .audience
                    .as_ref()
                    .map_or("sts.amazonaws.com", |a| a.get_ref().as_str());
                if !provider.audiences.iter().any(|a| a == audience) {
                    let at = g
                        .audience
                        .as_ref()
                        .map_or(github.span().start, |a| a.span().start);
                    self.error(
                        at,
                        format!("audience `{audience}` is not one of OIDC provider `{}`'s audiences ({}): add it there", provider.name, provider.audiences.join(", ")),
                    );
                }
                grants.push(Grant::github(
                    &provider.url,
                    audience,
                    repo,
                    &refs,
                    &environments,
                    g.pull_request,
                ));
            }
        }
        if let Some(oidc) = &trust.oidc {
            let o = oidc.get_ref();
            let provider = self.trusted_provider(&o.provider, providers);
            let mut conditions: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
            for (operator, keys) in o.conditions.get_ref() {
                let Some(keys) = keys.as_table() else {
                    self.error(o.conditions.span().start, format!("condition `{operator}` must be a table of keys to values, like {{ \"HOST:sub\" = \"...\" }}"));
                    continue;
                };
                for (key, value) in keys {
                    let values: Option<Vec<String>> = match value {
                        toml::Value::String(s) => Some(vec![s.clone()]),
                        toml::Value::Array(items) => items
                            .iter()
                            .map(|i| i.as_str().map(str::to_owned))
                            .collect(),
                        toml::Value::Boolean(b) => Some(vec![b.to_string()]),
                        _ => None,
                    };
                    match values {
                        Some(values) if !values.is_empty() => {
                            conditions.entry(operator.clone()).or_default().insert(key.clone(), values);
                        }
                        _ => self.error(o.conditions.span().start, format!("condition `{operator}` on `{key}` must be a string or a list of strings")),
                    }
                }
            }
            if let Some(provider) = provider {
                grants.push(Grant::WebIdentity {
                    provider: provider.url.clone(),
                    conditions,
                });
            }
        }
        let named = [
            trust.services.is_some(),
            trust.accounts.is_some(),
            trust.github.is_some(),
            trust.oidc.is_some(),
        ];
        if !named.contains(&true) {
            self.error(at, format!("the trust of role `{role}` names nobody: use services, accounts, github or oidc"));
        }
        grants
    }

    /// The spec's provider a trust shorthand names.
    fn trusted_provider<'p>(
        &mut self,
        name: &Spanned<String>,
        providers: &'p BTreeMap<String, OidcProvider>,
    ) -> Option<&'p OidcProvider> {
        let found = providers.get(name.get_ref());
        if found.is_none() {
            let hint = did_you_mean(name.get_ref(), providers.keys().map(String::as_str));
            self.error(
                name.span().start,
                format!(
                    "OIDC provider `{}` is not defined{hint} (define it as [oidc_providers.{}] with its url)",
                    name.get_ref(),
                    name.get_ref()
                ),
            );
        }
        found
    }

    fn path(&mut self, path: Option<&Spanned<String>>) -> String {
        let Some(path) = path else {
            return "/".to_owned();
        };
        if let Err(why) = check_spec_path(path.get_ref()) {
            self.error(path.span().start, why);
        }
        path.get_ref().clone()
    }

    /// Direct policies then add-on policies, parsed, deduplicated, in spec order.
    fn policies(
        &mut self,
        direct: Option<&Spanned<Vec<Spanned<String>>>>,
        addon_names: Option<&Spanned<Vec<Spanned<String>>>>,
        addons: &BTreeMap<String, Vec<PolicyUse>>,
    ) -> Vec<PolicyUse> {
        let mut uses: Vec<PolicyUse> = list(direct)
            .iter()
            .filter_map(|p| self.policy(p, None))
            .collect();
        for addon in list(addon_names) {
            if let Some(expanded) = addons.get(addon.get_ref()) {
                uses.extend(expanded.iter().cloned());
            } else {
                let known: Vec<&str> = addons.keys().map(String::as_str).collect();
                let hint = did_you_mean(addon.get_ref(), known.iter().copied());
                self.error(
                    addon.span().start,
                    format!(
                        "add-on `{}` is not defined{hint} (known add-ons: {}; define others under [addons.NAME])",
                        addon.get_ref(),
                        known.join(", ")
                    ),
                );
            }
        }
        let mut seen = BTreeSet::new();
        uses.retain(|u| seen.insert(u.policy.clone()));
        uses
    }

    fn policy(&mut self, text: &Spanned<String>, via: Option<&str>) -> Option<PolicyUse> {
        let parsed = PolicyRef::parse(text.get_ref()).map(|policy| match policy {
            // A bare name means the spec's own policy first; `diff` checks that AWS has no
            // managed policy of the same name, which would make it ambiguous.
            PolicyRef::AwsManaged { path: None, name } if self.policy_names.contains(&name) => {
                PolicyRef::Customer { name }
            }
            other => other,
        });
        match parsed {
            Ok(policy) => Some(PolicyUse {
                policy,
                at: self.source.locate(text.span().start),
                via: via.map(str::to_owned),
            }),
            Err(why) => {
                self.error(text.span().start, why);
                None
            }
        }
    }

    fn tags(
        &mut self,
        tags: Option<&Spanned<BTreeMap<Spanned<String>, Spanned<String>>>>,
    ) -> BTreeMap<String, String> {
        let Some(tags) = tags else {
            return BTreeMap::new();
        };
        if tags.get_ref().len() > MAX_TAGS {
            self.error(
                tags.span().start,
                format!(
                    "{} tags given; IAM allows at most {MAX_TAGS} per entity",
                    tags.get_ref().len()
                ),
            );
        }
        for (key, value) in tags.get_ref() {
            let k = key.get_ref();
            if k.is_empty() || k.chars().count() > MAX_TAG_KEY {
                self.error(
                    key.span().start,
                    format!("tag key `{k}` must be 1 to {MAX_TAG_KEY} characters long"),
                );
            } else if k == OWNER_TAG {
                self.error(
                    key.span().start,
                    format!("tag `{OWNER_TAG}` is iamspec's own: set it with [account] owner"),
                );
            } else if k.to_lowercase().starts_with("aws:") {
                self.error(
                    key.span().start,
                    format!("tag key `{k}` uses the reserved prefix `aws:`"),
                );
            } else if let Some(bad) = k.chars().find(|c| !is_tag_char(*c)) {
                self.error(
                    key.span().start,
                    format!(
                        "tag key `{k}` contains {bad:?}; tags allow letters, digits, spaces and _ . : / = + - @"
                    ),
                );
            }
            let v = value.get_ref();
            if v.chars().count() > MAX_TAG_VALUE {
                self.error(
                    value.span().start,
                    format!(
                        "the value of tag `{k}` is {} characters long; IAM allows at most {MAX_TAG_VALUE}",
                        v.chars().count()
                    ),
                );
            } else if let Some(bad) = v.chars().find(|c| !is_tag_char(*c)) {
                self.error(
                    value.span().start,
                    format!(
                        "the value of tag `{k}` contains {bad:?}; tags allow letters, digits, spaces and _ . : / = + - @"
                    ),
                );
            }
        }
        tags.get_ref()
            .iter()
            .map(|(k, v)| (k.get_ref().clone(), v.get_ref().clone()))
            .collect()
    }
}

fn list<T>(items: Option<&Spanned<Vec<Spanned<T>>>>) -> &[Spanned<T>] {
    items.map_or(&[], |s| s.get_ref().as_slice())
}

/// IAM's tag characters: `[\p{L}\p{Z}\p{N}_.:/=+\-@]`.
fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c)
}

/// Where a limit on attached policies is broken: the `policies` list, else the `addons` list
/// that brings them, else (neither written) the entity's header.
fn policies_at(
    name: &Spanned<String>,
    policies: &super::raw::RawList,
    addons: &super::raw::RawList,
) -> usize {
    policies
        .as_ref()
        .or(addons.as_ref())
        .map_or(name.span().start, |list| list.span().start)
}
