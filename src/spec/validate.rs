//! Stage 1b: `RawSpec` -> `Spec`. Every rule IAM would enforce and that can be checked without
//! an account is checked here, and every problem is reported with its place, not just the first.

use std::collections::{BTreeMap, BTreeSet};

use std::path::PathBuf;

use toml::Spanned;

use super::files::{self, FileError};

use super::policy::check_spec_path;
use super::raw::{RawAddon, RawGroup, RawInline, RawPolicy, RawSpec, RawUser};
use super::{
    BUILTIN_ADDONS, Diagnostic, Group, ManagedPolicy, PolicyRef, PolicyUse, Source, Spec, User,
    did_you_mean,
};
use crate::document::Document;
use crate::iam::{DEFAULT_OWNER, OWNER_TAG, Ownership, check_name, is_account_id};

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
const MAX_DESCRIPTION: usize = 1000;
const MAX_MANAGED_DOCUMENT: usize = 6144;
const MAX_USER_INLINE: usize = 2048;
const MAX_GROUP_INLINE: usize = 5120;

struct Checker<'a> {
    source: &'a Source<'a>,
    problems: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    /// Names under `[policies]`: a bare name in a `policies` list means one of these first.
    policy_names: BTreeSet<String>,
}

pub(super) fn validate(raw: RawSpec, source: &Source<'_>) -> Result<Spec, Vec<Diagnostic>> {
    let mut checker = Checker {
        source,
        problems: Vec::new(),
        warnings: Vec::new(),
        policy_names: raw.policies.keys().map(|k| k.get_ref().clone()).collect(),
    };
    let mut spec = checker.spec(raw);
    if checker.problems.is_empty() {
        spec.warnings = checker.warnings;
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

    fn spec(&mut self, raw: RawSpec) -> Spec {
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
        let (id, owner, scope, prune) = raw.account.map_or((None, None, None, false), |a| {
            (a.id, a.owner, a.scope, a.prune)
        });
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

        self.unique_ignoring_case("user", raw.users.keys());
        self.unique_ignoring_case("group", raw.groups.keys());
        self.unique_ignoring_case("policy", raw.policies.keys());
        let policies = raw
            .policies
            .iter()
            .filter_map(|(name, policy)| {
                let policy = self.managed_policy(name, policy)?;
                Some((name.get_ref().clone(), policy))
            })
            .collect();
        let addons = self.addons(&raw.addons);
        let group_names: BTreeSet<&str> = raw.groups.keys().map(|k| k.get_ref().as_str()).collect();

        let groups = raw
            .groups
            .iter()
            .map(|(name, group)| (name.get_ref().clone(), self.group(name, group, &addons)))
            .collect();
        let users = raw
            .users
            .iter()
            .map(|(name, user)| {
                let user = self.user(name, user, &addons, &group_names);
                (name.get_ref().clone(), user)
            })
            .collect();
        Spec {
            file: self.source.file.to_owned(),
            account_id,
            ownership: Ownership { owner, scope },
            prune,
            replace_lost_keys: false,
            policies,
            groups,
            users,
            warnings: Vec::new(),
        }
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
        let what = format!("policy `{}`", name.get_ref());
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
            let what = format!("inline policy `{}` of {kind} `{owner}`", name.get_ref());
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
        let at = value.span().start;
        let json = match value.get_ref() {
            toml::Value::String(relative) => {
                let (path, text) = match self.read_document(relative) {
                    Ok(read) => read,
                    Err(err) => {
                        let shown = self.source.dir().join(relative);
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
                            at: super::Location {
                                line: err.line(),
                                column: err.column(),
                            },
                            message: format!("the document of {what} is not valid JSON: {err}"),
                        });
                        return None;
                    }
                };
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
                        "the document of {what} is a {}; give the path of a JSON file (a string) or an inline table",
                        other.type_str()
                    ),
                );
                return None;
            }
        };
        let findings = crate::document::check(&json);
        for error in findings.errors {
            self.error(at, format!("the document of {what}: {error}"));
        }
        for warning in findings.warnings {
            self.warn(at, format!("the document of {what}: {warning}"));
        }
        Some(Document::new(json))
    }

    /// The text of a document file: a regular file inside the spec's directory, of a size a
    /// policy document can have. Returns the path as written beside the spec.
    fn read_document(&self, relative: &str) -> Result<(PathBuf, String), FileError> {
        let (written, resolved) = files::confine(self.source.dir(), relative)?;
        files::read_text(&resolved, files::MAX_DOCUMENT_BYTES).map(|text| (written, text))
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
                        at: super::Location { line: 0, column: 0 },
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
                name.span().start,
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
                name.span().start,
                format!(
                    "user `{}` has {} managed policies (add-ons included); IAM attaches at most {MAX_POLICIES_PER_USER} to a user",
                    name.get_ref(),
                    policies.len()
                ),
            );
        }
        User {
            name: name.get_ref().clone(),
            path: self.path(raw.path.as_ref()),
            groups,
            policies,
            inline: self.inline("user", name.get_ref(), &raw.inline, MAX_USER_INLINE),
            access_key: raw.access_key,
            tags: self.tags(raw.tags.as_ref()),
        }
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
                    "{} tags given; IAM allows at most {MAX_TAGS} per user",
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
