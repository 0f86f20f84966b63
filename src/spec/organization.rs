//! The organization file: `[organization]` (how to reach each account) and `[[targets]]`
//! (which layers go to which accounts), checked offline with every layer it names.
//!
//! It declares no entities of its own: those are in the layers, ordinary specs that
//! `layers::merge` joins per account once the accounts are known (`crate::org`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::identity_center::{self, IdentityCenter, RawIdentityCenter};
use super::layers::{self, Layer};
use super::raw::Spanned;
use super::validate::SPEC_VERSION;
use super::{Diagnostic, Location, Source, SpecError, files};
use crate::iam::{check_name, is_account_id};

/// The role assumed in each target account unless `[organization] role` says otherwise:
/// the one AWS Organizations makes in every account it creates.
pub const DEFAULT_ROLE: &str = "OrganizationAccountAccessRole";

/// How many accounts are planned or applied at once unless `concurrency` says otherwise.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// An iamspec organization file: which layers (ordinary specs) go to which accounts of an
/// AWS Organization. Unknown keys are errors.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrganizationFile {
    /// The format version: 1.
    version: Option<Spanned<i64>>,
    organization: Spanned<RawOrganization>,
    /// Which layers go to which accounts.
    #[serde(default)]
    targets: Vec<Spanned<RawTarget>>,
    /// People who sign in through IAM Identity Center, permission sets and assignments.
    identity_center: Option<Spanned<RawIdentityCenter>>,
}

/// How iamspec reaches each account.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrganization {
    /// The role assumed in each target account (default `OrganizationAccountAccessRole`).
    role: Option<Spanned<String>>,
    /// A role ARN assumed first, from which each account's role is assumed.
    via: Option<Spanned<String>>,
    /// The external id the roles' trust asks for.
    external_id: Option<Spanned<String>>,
    /// How many accounts are planned and applied at once (default 8).
    concurrency: Option<Spanned<i64>>,
    /// As `[account] owner`, for every target.
    owner: Option<Spanned<String>>,
}

/// A set of accounts and the layers they get.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    /// `"all"` (every active account), or a list of account ids and names.
    accounts: Option<Spanned<toml::Value>>,
    /// Account ids or names left out.
    #[serde(default)]
    exclude: Vec<Spanned<String>>,
    /// OU paths from the root (`Workloads/Prod`) or `ou-` ids; nested OUs are included.
    #[serde(default)]
    ous: Vec<Spanned<String>>,
    /// Account tags, all of which must match.
    #[serde(default)]
    tags: BTreeMap<String, Spanned<String>>,
    /// The layers, paths relative to the organization file.
    specs: Spanned<Vec<Spanned<String>>>,
}

/// A validated organization file.
#[derive(Debug, Clone)]
pub struct Organization {
    pub file: PathBuf,
    /// Its text: the owner's location points into it.
    pub text: String,
    pub role: String,
    pub via: Option<String>,
    pub external_id: Option<String>,
    pub concurrency: usize,
    /// `[organization] owner`, with its span in `text`.
    owner: Option<Spanned<String>>,
    pub targets: Vec<Target>,
    /// Every layer any target names, read once, by path as written.
    pub layers: BTreeMap<String, Layer>,
    /// `[identity_center]`, if the file has it.
    pub identity_center: Option<IdentityCenter>,
}

/// One `[[targets]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub at: Location,
    pub selector: Selector,
    /// Layer paths as written (keys of `Organization::layers`).
    pub specs: Vec<String>,
}

/// Which accounts a target (or an Identity Center assignment) takes: those it lists and those
/// matching its OUs and tags, minus those it excludes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    pub at: Location,
    pub accounts: Accounts,
    pub exclude: Vec<Named>,
    pub ous: Vec<Named>,
    pub tags: BTreeMap<String, String>,
}

/// `accounts =` of a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accounts {
    /// Not given: only `ous` and `tags` select.
    None,
    /// `"all"`: every active account.
    All,
    /// Ids and names.
    Listed(Vec<Named>),
}

/// An account id or name (or an OU), and where the file says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub text: String,
    pub at: Location,
}

impl Named {
    /// Whether it is an account id rather than a name.
    pub fn is_id(&self) -> bool {
        is_account_id(&self.text)
    }
}

impl Selector {
    /// Whether the selector can only be resolved by reading AWS Organizations.
    pub fn needs_organizations(&self) -> bool {
        !self.ous.is_empty()
            || !self.tags.is_empty()
            || matches!(self.accounts, Accounts::All)
            || matches!(&self.accounts, Accounts::Listed(l) if l.iter().any(|n| !n.is_id()))
            || self.exclude.iter().any(|n| !n.is_id())
    }
}

impl Organization {
    /// The organization's part in each account's merge.
    pub fn base(&self) -> layers::Base<'_> {
        layers::Base {
            file: &self.file,
            text: &self.text,
            owner: self.owner.as_ref(),
        }
    }

    /// `[organization] owner`, if it sets one.
    pub fn owner(&self) -> Option<&str> {
        self.owner.as_ref().map(|o| o.get_ref().as_str())
    }

    /// Every selector of the file: the targets', then the Identity Center assignments'.
    pub fn selectors(&self) -> impl Iterator<Item = &Selector> {
        let assignments = self.identity_center.iter().flat_map(|c| &c.assignments);
        self.targets
            .iter()
            .map(|t| &t.selector)
            .chain(assignments.map(|a| &a.selector))
    }

    /// Whether resolving the targets or filling the layers in needs AWS Organizations.
    pub fn needs_organizations(&self) -> bool {
        self.selectors().any(Selector::needs_organizations)
            || self.layers.values().any(|l| l.uses("${account.name}"))
    }

    /// A diagnostic at a location of the organization file.
    pub fn diagnostic(&self, at: Location, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: self.file.clone(),
            at,
            message: message.into(),
        }
    }
}

/// Whether `text` is an organization file rather than a spec: it has `[organization]`.
pub fn is_organization(text: &str) -> bool {
    toml::from_str::<toml::Table>(text).is_ok_and(|t| t.contains_key("organization"))
}

/// Whether the file at `path` is an organization file (an unreadable one is not: loading it
/// as a spec says why).
pub fn is_organization_file(path: &Path) -> bool {
    path != Path::new("-")
        && files::read_text(path, super::MAX_SPEC_BYTES).is_ok_and(|text| is_organization(&text))
}

/// Reads and checks an organization file and every layer it names.
pub fn load(path: &Path) -> Result<Organization, SpecError> {
    let text = files::read_text(path, super::MAX_SPEC_BYTES).map_err(|err| SpecError::Read {
        path: path.to_owned(),
        reason: err.to_string(),
    })?;
    parse(text, path)
}

pub(crate) fn parse(text: String, path: &Path) -> Result<Organization, SpecError> {
    let source = Source::new(&text, path);
    let raw: RawOrganizationFile = toml::from_str(&text)
        .map_err(|err| SpecError::Invalid(vec![source.toml_diagnostic(&err)]))?;
    let mut checker = Checker {
        source: &source,
        text: &text,
        problems: Vec::new(),
    };
    match &raw.version {
        None => checker.error(
            0,
            format!(
                "the organization file has no `version`: add `version = {SPEC_VERSION}` at the top"
            ),
        ),
        Some(v) if *v.get_ref() != SPEC_VERSION => checker.error(
            v.span().start,
            format!(
                "unsupported version {}: this iamspec reads version {SPEC_VERSION}",
                v.get_ref()
            ),
        ),
        Some(_) => {}
    }
    let settings = raw.organization.get_ref();
    let (role, concurrency) = checker.settings(settings);
    if raw.targets.is_empty() && raw.identity_center.is_none() {
        checker.error(
            raw.organization.span().start,
            "the organization file has no [[targets]] and no [identity_center]: add a target with `accounts` (or `ous`, `tags`) and `specs`".to_owned(),
        );
    }
    let dir = path.parent().unwrap_or_else(|| Path::new(""));
    let mut layers: BTreeMap<String, Layer> = BTreeMap::new();
    let targets: Vec<Target> = raw
        .targets
        .iter()
        .map(|target| checker.target(target, dir, &mut layers))
        .collect();
    let identity_center = raw
        .identity_center
        .as_ref()
        .map(|center| identity_center::check(&mut checker, center, dir));
    let mut problems = checker.problems;
    for layer in layers.values() {
        problems.extend(layers::check(layer));
    }
    if !problems.is_empty() {
        problems.sort_by(|a, b| (&a.file, a.at).cmp(&(&b.file, b.at)));
        return Err(SpecError::Invalid(problems));
    }
    Ok(Organization {
        file: path.to_owned(),
        role,
        via: settings.via.as_ref().map(|v| v.get_ref().clone()),
        external_id: settings.external_id.as_ref().map(|v| v.get_ref().clone()),
        concurrency,
        owner: settings.owner.clone(),
        targets,
        layers,
        identity_center,
        text,
    })
}

/// What the organization file's checks found.
pub(super) struct Checker<'a> {
    pub(super) source: &'a Source<'a>,
    text: &'a str,
    problems: Vec<Diagnostic>,
}

impl Checker<'_> {
    pub(super) fn error(&mut self, offset: usize, message: String) {
        self.problems.push(self.source.diagnostic(offset, message));
    }

    /// `FILE:LINE:COLUMN` of an offset, for a note.
    pub(super) fn place(&self, offset: usize) -> String {
        let d = self.source.diagnostic(offset, "");
        format!("{}:{}:{}", d.file.display(), d.at.line, d.at.column)
    }

    /// `[organization]`: the role (and its default), `via`, `external_id`, `concurrency`.
    fn settings(&mut self, settings: &RawOrganization) -> (String, usize) {
        let role = match &settings.role {
            Some(role) => {
                if let Err(why) = check_name("role", role.get_ref(), 64) {
                    self.error(role.span().start, format!("[organization] role: {why}"));
                }
                role.get_ref().clone()
            }
            None => DEFAULT_ROLE.to_owned(),
        };
        if let Some(via) = settings.via.as_ref().filter(|v| !is_role_arn(v.get_ref())) {
            self.error(
                via.span().start,
                format!(
                    "[organization] via `{}` is not a role ARN: write arn:aws:iam::ACCOUNT:role/NAME",
                    via.get_ref()
                ),
            );
        }
        if let Some(id) = &settings.external_id {
            let value = id.get_ref();
            let ok = (2..=1224).contains(&value.len())
                && value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+=,.@:/-_".contains(c));
            if !ok {
                self.error(
                    id.span().start,
                    "[organization] external_id is 2 to 1224 letters, digits and + = , . @ : / - _, as STS takes it".to_owned(),
                );
            }
        }
        let concurrency = settings.concurrency.as_ref().map_or(DEFAULT_CONCURRENCY, |n| {
            if let Ok(n @ 1..=64) = usize::try_from(*n.get_ref()) {
                n
            } else {
                self.error(
                    n.span().start,
                    format!(
                        "[organization] concurrency is {}: it is how many accounts go at once, 1 to 64",
                        n.get_ref()
                    ),
                );
                DEFAULT_CONCURRENCY
            }
        });
        (role, concurrency)
    }

    fn named(&self, list: &[Spanned<String>]) -> Vec<Named> {
        list.iter()
            .map(|n| Named {
                text: n.get_ref().clone(),
                at: self.source.locate(n.span().start),
            })
            .collect()
    }

    /// One `[[targets]]` entry; the layers it names are read into `layers` once each.
    fn target(
        &mut self,
        target: &Spanned<RawTarget>,
        dir: &Path,
        layers: &mut BTreeMap<String, Layer>,
    ) -> Target {
        let at = target.span().start;
        let t = target.get_ref();
        let selector = self.selector(
            target.span(),
            t.accounts.as_ref(),
            &t.exclude,
            &t.ous,
            &t.tags,
            "target",
        );
        if t.specs.get_ref().is_empty() {
            self.error(
                t.specs.span().start,
                "this target names no layer: list spec files in `specs`".to_owned(),
            );
        }
        let mut specs = Vec::new();
        for spec in t.specs.get_ref() {
            let relative = spec.get_ref();
            if !layers.contains_key(relative) {
                match Layer::read(dir, relative) {
                    Ok(layer) => {
                        layers.insert(relative.clone(), layer);
                    }
                    Err(why) => {
                        self.error(
                            spec.span().start,
                            format!("cannot read layer {}: {why}", dir.join(relative).display()),
                        );
                        continue;
                    }
                }
            }
            if !specs.contains(relative) {
                specs.push(relative.clone());
            }
        }
        Target {
            at: self.source.locate(at),
            selector,
            specs,
        }
    }

    /// The selectors of a target or an assignment (`what`), from the table at `span`.
    pub(super) fn selector(
        &mut self,
        span: std::ops::Range<usize>,
        accounts: Option<&Spanned<toml::Value>>,
        exclude: &[Spanned<String>],
        ous: &[Spanned<String>],
        tags: &BTreeMap<String, Spanned<String>>,
        what: &str,
    ) -> Selector {
        let at = span.start;
        let accounts = match accounts.map(|a| (a, a.get_ref())) {
            None => Accounts::None,
            Some((_, toml::Value::String(all))) if all == "all" => Accounts::All,
            Some((_, toml::Value::Array(items))) => {
                let mut listed = Vec::new();
                for item in items {
                    if let toml::Value::String(text) = item {
                        // Items of an untyped list carry no span: find the name in the
                        // table's text instead.
                        let quoted = format!("\"{text}\"");
                        let offset = text_of(self.text, span.clone())
                            .find(&quoted)
                            .map_or(at, |i| span.start + i + 1);
                        listed.push(Named {
                            text: text.clone(),
                            at: self.source.locate(offset),
                        });
                    } else {
                        self.error(
                            at,
                            format!(
                                "`accounts` lists account ids and names (strings), not {}",
                                item.type_str()
                            ),
                        );
                    }
                }
                Accounts::Listed(listed)
            }
            Some((spanned, other)) => {
                self.error(
                    spanned.span().start,
                    format!(
                        "`accounts` is \"all\" or a list of account ids and names, not {other}"
                    ),
                );
                Accounts::None
            }
        };
        if matches!(accounts, Accounts::None) && ous.is_empty() && tags.is_empty() {
            self.error(
                at,
                format!("this {what} selects no account: give it `accounts`, `ous` or `tags`"),
            );
        }
        for ou in ous {
            if ou.get_ref().trim_matches('/').is_empty() {
                self.error(
                    ou.span().start,
                    "an OU is a path from the root, like `Workloads/Prod`, or an `ou-` id"
                        .to_owned(),
                );
            }
        }
        Selector {
            at: self.source.locate(at),
            accounts,
            exclude: self.named(exclude),
            ous: self.named(ous),
            tags: tags
                .iter()
                .map(|(k, v)| (k.clone(), v.get_ref().clone()))
                .collect(),
        }
    }
}

/// The text of a table from where its span starts to the next table's header: a span of
/// an array-of-tables entry may cover its header alone.
fn text_of(text: &str, span: std::ops::Range<usize>) -> &str {
    let rest = text.get(span.start..).unwrap_or_default();
    let end = rest
        .match_indices("\n[")
        .map(|(i, _)| i)
        .find(|i| *i >= span.end - span.start)
        .unwrap_or(rest.len());
    &rest[..end]
}

/// `arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`.
fn is_role_arn(text: &str) -> bool {
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", partition, "iam", "", account, resource]
        if crate::iam::Partition::parse(partition).is_some()
            && is_account_id(account)
            && resource.strip_prefix("role/").is_some_and(|r| !r.is_empty() && !r.ends_with('/')))
}
