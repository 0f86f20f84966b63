//! Stage 1b, for an organization: which accounts get which layers, and each account's spec.
//!
//! `resolve` is pure: from the organization file and, when a target needs it, a listing of
//! AWS Organizations (`live::aws::AwsOrganizations` reads it), it says which accounts are
//! targets and with which layers, in target order. `select` takes `--accounts` and `--shard`. `spec_of` merges an
//! account's layers with its variables filled in. `run.rs` then plans and applies the
//! accounts concurrently, one `session` each.

pub mod center;
pub mod run;

use std::collections::BTreeMap;

use crate::spec::layers::{self, Variables};
use crate::spec::organization::{Accounts, Named, Organization, Selector};
use crate::spec::{Diagnostic, Spec, SpecError, nearest};

/// An account of the organization, as AWS Organizations lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    pub name: String,
    /// `ACTIVE`, `SUSPENDED`, `PENDING_CLOSURE`.
    pub status: String,
    /// The OUs that hold it, outermost first (empty: it is under the root). Read only when a
    /// target selects by OU.
    pub ous: Vec<Ou>,
    /// Its tags; read only when a target selects by tag.
    pub tags: BTreeMap<String, String>,
}

/// An organizational unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ou {
    pub id: String,
    pub name: String,
}

impl Member {
    pub fn is_active(&self) -> bool {
        self.status == "ACTIVE"
    }

    /// Whether it is in the OU `ou` (a path from the root, or an `ou-` id), or in an OU
    /// nested in it.
    fn in_ou(&self, ou: &str) -> bool {
        if ou.starts_with("ou-") {
            return self.ous.iter().any(|o| o.id == ou);
        }
        let path = split_ou_path(ou);
        path.len() <= self.ous.len() && path.iter().zip(&self.ous).all(|(p, o)| *p == o.name)
    }
}

/// An OU's path from the root as the file writes it: names joined by `/`, a `/` or `\\` in a
/// name escaped with `\\` (`Prod\\/EU` is the one OU named `Prod/EU`).
pub fn ou_path(names: &[&str]) -> String {
    let escaped: Vec<String> = names
        .iter()
        .map(|n| n.replace('\\', "\\\\").replace('/', "\\/"))
        .collect();
    escaped.join("/")
}

/// The OU names of a path as the file writes it (`ou_path`'s inverse); a leading or
/// trailing `/` is ignored.
pub fn split_ou_path(path: &str) -> Vec<String> {
    let mut names = vec![String::new()];
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => names.last_mut().expect("never empty").extend(chars.next()),
            '/' => names.push(String::new()),
            c => names.last_mut().expect("never empty").push(c),
        }
    }
    if names.first().is_some_and(String::is_empty) {
        names.remove(0);
    }
    if names.last().is_some_and(String::is_empty) {
        names.pop();
    }
    names
}

/// What AWS Organizations says of the organization, as far as the targets need it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    pub members: Vec<Member>,
    /// Every OU path from the root (`Workloads/Prod`) and id, for checking the targets' OUs.
    pub ous: Vec<(String, String)>,
}

/// A target account and the layers it gets, in the order of the targets that name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub id: String,
    /// Its name, when AWS Organizations was read.
    pub name: Option<String>,
    pub layers: Vec<String>,
}

impl Target {
    /// How messages name it: `prod (222222222222)`, or the id alone. The name is whatever
    /// the account was named in AWS, escaped (`render::untrusted`).
    pub fn label(&self) -> String {
        match &self.name {
            Some(name) => format!("{} ({})", crate::render::untrusted(name), self.id),
            None => self.id.clone(),
        }
    }
}

/// The targets, and the accounts left out because they are not active.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolved {
    pub targets: Vec<Target>,
    /// Each account a target would select but which is suspended or closing, or which the
    /// organization does not have, and why.
    pub skipped: Vec<String>,
    /// What selects nothing (an OU without accounts).
    pub warnings: Vec<String>,
}

/// Which accounts the targets select, with their layers. `listing` is needed when any target
/// selects by name, OU, tag or `"all"` (`Organization::needs_organizations`); without it, only
/// listed ids are known.
pub fn resolve(org: &Organization, listing: Option<&Listing>) -> Result<Resolved, SpecError> {
    let mut resolver = Resolver {
        org,
        listing,
        problems: Vec::new(),
        strangers: BTreeMap::new(),
        warnings: Vec::new(),
    };
    let mut layers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut skipped = BTreeMap::new();
    for target in &org.targets {
        for id in resolver.selected(&target.selector) {
            if let Some(member) = resolver.member(&id).filter(|m| !m.is_active()) {
                skipped.insert(
                    id.clone(),
                    format!(
                        "account {} ({id}) is {}: skipped",
                        crate::render::untrusted(&member.name),
                        member.status.to_lowercase().replace('_', " ")
                    ),
                );
                continue;
            }
            let entry = layers.entry(id).or_default();
            for spec in &target.specs {
                if !entry.contains(spec) {
                    entry.push(spec.clone());
                }
            }
        }
    }
    let mut problems = resolver.problems;
    if !problems.is_empty() {
        problems.sort_by_key(|d| d.at);
        problems.dedup();
        return Err(SpecError::Invalid(problems));
    }
    for (id, note) in resolver.strangers {
        skipped.insert(id, note);
    }
    let mut targets: Vec<Target> = layers
        .into_iter()
        .map(|(id, layers)| Target {
            name: resolver_name(listing, &id),
            id,
            layers,
        })
        .collect();
    targets.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
    let mut warnings = resolver.warnings;
    warnings.sort();
    warnings.dedup();
    Ok(Resolved {
        targets,
        skipped: skipped.into_values().collect(),
        warnings,
    })
}

fn resolver_name(listing: Option<&Listing>, id: &str) -> Option<String> {
    listing.and_then(|l| {
        l.members
            .iter()
            .find(|m| m.id == id)
            .map(|m| m.name.clone())
    })
}

/// The targets' selectors, applied to the listing; a name that names no account is a
/// problem, an id that is no member's is skipped with a note.
struct Resolver<'a> {
    org: &'a Organization,
    listing: Option<&'a Listing>,
    problems: Vec<Diagnostic>,
    /// Ids named that the organization does not have, with their notes.
    strangers: BTreeMap<String, String>,
    /// OUs that select nothing.
    warnings: Vec<String>,
}

impl Resolver<'_> {
    fn member(&self, id: &str) -> Option<&Member> {
        self.listing?.members.iter().find(|m| m.id == id)
    }

    /// The accounts a selector takes, less those it excludes (suspended ones included).
    fn selected(&mut self, selector: &Selector) -> Vec<String> {
        let chosen = self.chosen(selector);
        let excluded: Vec<String> = selector
            .exclude
            .iter()
            .filter_map(|named| {
                if named.is_id() {
                    Some(named.text.clone())
                } else {
                    self.find(named)
                }
            })
            .collect();
        chosen
            .into_iter()
            .filter(|id| !excluded.contains(id))
            .collect()
    }

    /// The accounts a selector lists, and those matching all of its OU and tag selectors.
    fn chosen(&mut self, target: &Selector) -> Vec<String> {
        let mut chosen: Vec<String> = Vec::new();
        match &target.accounts {
            Accounts::None => {}
            Accounts::All => {
                let members = self.listing.map_or(&[][..], |l| l.members.as_slice());
                chosen.extend(members.iter().map(|m| m.id.clone()));
            }
            Accounts::Listed(list) => {
                for named in list {
                    chosen.extend(self.find(named));
                }
            }
        }
        let selects = !target.ous.is_empty() || !target.tags.is_empty();
        if let Some(listing) = self.listing.filter(|_| selects) {
            for ou in &target.ous {
                self.check_ou(listing, ou);
            }
            let matches = |m: &&Member| {
                (target.ous.is_empty() || target.ous.iter().any(|ou| m.in_ou(&ou.text)))
                    && target.tags.iter().all(|(k, v)| m.tags.get(k) == Some(v))
            };
            chosen.extend(listing.members.iter().filter(matches).map(|m| m.id.clone()));
        }
        chosen
    }

    fn check_ou(&mut self, listing: &Listing, ou: &Named) {
        let wanted = split_ou_path(&ou.text);
        let known = listing
            .ous
            .iter()
            .any(|(path, id)| *id == ou.text || split_ou_path(path) == wanted);
        if known {
            if !listing.members.iter().any(|m| m.in_ou(&ou.text)) {
                let message = format!(
                    "OU `{}` holds no account, in it or in the OUs under it: it selects nothing",
                    crate::render::untrusted(&ou.text),
                );
                self.warnings
                    .push(format!("warning: {}", self.org.diagnostic(ou.at, message)));
            }
            return;
        }
        {
            // An OU whose name holds a `/`, written unescaped.
            let slashed = listing.ous.iter().find(|(path, _)| {
                split_ou_path(path).join("/") == wanted.join("/") && path.contains("\\/")
            });
            let hint = slashed
                .map(|(path, id)| {
                    // As written in the file: the escape's backslash stays one.
                    let shown = crate::render::untrusted(path).replace("\\\\", "\\");
                    format!(
                        "; an OU's name holds a `/`: write its path as `{shown}` (in TOML, '{shown}' or \"{}\"), or name it by id `{id}`",
                        shown.replace('\\', "\\\\")
                    )
                })
                .or_else(|| {
                    nearest(&ou.text, listing.ous.iter().map(|(p, _)| p.as_str()))
                        .map(|n| format!("; did you mean `{}`?", crate::render::untrusted(n)))
                })
                .unwrap_or_default();
            self.problems.push(self.org.diagnostic(
                ou.at,
                format!(
                    "the organization has no OU `{}`{hint} (an OU is its path from the root, like `Workloads/Prod`, or its `ou-` id)",
                    ou.text
                ),
            ));
        }
    }

    /// The id of the account an entry names by id or name; without a listing, ids are taken
    /// as they are.
    fn find(&mut self, named: &Named) -> Option<String> {
        let Some(listing) = self.listing else {
            return Some(named.text.clone());
        };
        if let Some(m) = listing.members.iter().find(|m| m.id == named.text) {
            return Some(m.id.clone());
        }
        if named.is_id() {
            // Closed long ago, never a member, or gone (its OrganizationAccountAccessRole may
            // still trust this organization's management account): not iamspec's to touch.
            self.strangers.insert(
                named.text.clone(),
                format!(
                    "account {} is not a member of the organization (unknown, closed or departed): skipped",
                    named.text
                ),
            );
            return None;
        }
        let by_name: Vec<&Member> = listing
            .members
            .iter()
            .filter(|m| m.name == named.text)
            .collect();
        let problem = match by_name.as_slice() {
            [one] => return Some(one.id.clone()),
            [] => {
                let hint = nearest(&named.text, listing.members.iter().map(|m| m.name.as_str()))
                    .map(|n| format!("; did you mean `{}`?", crate::render::untrusted(n)))
                    .unwrap_or_default();
                format!(
                    "no account of the organization has the id or name `{}`{hint}",
                    named.text
                )
            }
            many => {
                let ids: Vec<&str> = many.iter().map(|m| m.id.as_str()).collect();
                format!(
                    "{} accounts are named `{}` ({}): name it by id",
                    many.len(),
                    named.text,
                    ids.join(", ")
                )
            }
        };
        self.problems.push(self.org.diagnostic(named.at, problem));
        None
    }
}

/// The active accounts an Identity Center assignment's selector takes, in id order, and a note
/// for each suspended or closing one it would take.
pub fn accounts_of(
    org: &Organization,
    selector: &Selector,
    listing: Option<&Listing>,
) -> Result<(Vec<String>, Vec<String>), SpecError> {
    let mut resolver = Resolver {
        org,
        listing,
        problems: Vec::new(),
        strangers: BTreeMap::new(),
        warnings: Vec::new(),
    };
    let mut ids = resolver.selected(selector);
    let strangers: Vec<String> = resolver
        .strangers
        .values()
        .map(|n| n.replace(": skipped", ": not assigned"))
        .collect();
    if !resolver.problems.is_empty() {
        let mut problems = resolver.problems;
        problems.sort_by_key(|d| d.at);
        problems.dedup();
        return Err(SpecError::Invalid(problems));
    }
    ids.sort();
    ids.dedup();
    let mut skipped = strangers;
    skipped.append(&mut resolver.warnings);
    ids.retain(|id| match resolver.member(id).filter(|m| !m.is_active()) {
        Some(member) => {
            skipped.push(format!(
                "account {} ({id}) is {}: not assigned",
                crate::render::untrusted(&member.name),
                member.status.to_lowercase().replace('_', " ")
            ));
            false
        }
        None => true,
    });
    Ok((ids, skipped))
}

/// `--shard K/N`: the K-th of N parts (from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let parsed = text
            .split_once('/')
            .and_then(|(k, n)| Some((k.parse::<usize>().ok()?, n.parse::<usize>().ok()?)));
        match parsed {
            Some((index, count)) if (1..=count).contains(&index) => Ok(Self { index, count }),
            _ => Err("a shard is K/N with 1 <= K <= N, like 2/4".to_owned()),
        }
    }
}

/// The targets `--accounts` (ids or names) and `--shard` leave. A shard is every N-th account
/// in the order of account ids, so the shards of one organization take every account exactly
/// once and differ in size by one at most.
pub fn select(
    targets: Vec<Target>,
    only: &[String],
    shard: Option<Shard>,
) -> Result<Vec<Target>, String> {
    for wanted in only {
        let by_id = targets.iter().find(|t| t.id == *wanted);
        let by_name: Vec<&Target> = targets
            .iter()
            .filter(|t| t.name.as_deref() == Some(wanted.as_str()))
            .filter(|t| by_id.is_none_or(|i| i.id != t.id))
            .collect();
        match (by_id, by_name.as_slice()) {
            (None, []) => {
                return Err(format!(
                    "--accounts names `{}`, which no target of the organization selects",
                    crate::render::untrusted(wanted)
                ));
            }
            (Some(id), [named, ..]) => {
                return Err(format!(
                    "--accounts `{wanted}` is the id of account {} and the name of account {}: it would select both; name the account by id alone, and rename the other",
                    id.label(),
                    named.label()
                ));
            }
            (None, [_, _, ..]) => {
                let ids: Vec<&str> = by_name.iter().map(|t| t.id.as_str()).collect();
                return Err(format!(
                    "--accounts `{}` is the name of {} accounts ({}): name the one you mean by id",
                    crate::render::untrusted(wanted),
                    by_name.len(),
                    ids.join(", ")
                ));
            }
            _ => {}
        }
    }
    let mut ids: Vec<&str> = targets.iter().map(|t| t.id.as_str()).collect();
    ids.sort_unstable();
    let ids: Vec<String> = ids.into_iter().map(str::to_owned).collect();
    let in_shard = |id: &str| {
        shard.is_none_or(|s| {
            let position = ids
                .binary_search_by(|i| i.as_str().cmp(id))
                .unwrap_or_default();
            position % s.count == s.index - 1
        })
    };
    let kept = targets
        .into_iter()
        .filter(|t| {
            only.is_empty()
                || only
                    .iter()
                    .any(|w| t.id == *w || t.name.as_deref() == Some(w.as_str()))
        })
        // Each argument names exactly one target (checked above).
        .filter(|t| in_shard(&t.id))
        .collect();
    Ok(kept)
}

/// The spec of one target account: its layers merged, variables filled in. A text that uses
/// `${account.name}` needs the name AWS Organizations gives (`Target::name`).
pub fn spec_of(org: &Organization, target: &Target, partition: &str) -> Result<Spec, SpecError> {
    merged(org, target, target.name.clone(), partition)
}

/// The spec of a target checked offline, before AWS is asked: an account whose name is not
/// known yet is named by a stand-in.
pub fn spec_offline(org: &Organization, target: &Target) -> Result<Spec, SpecError> {
    let name = target
        .name
        .clone()
        .or_else(|| Variables::placeholder().account_name);
    merged(org, target, name, "aws")
}

fn merged(
    org: &Organization,
    target: &Target,
    account_name: Option<String>,
    partition: &str,
) -> Result<Spec, SpecError> {
    let variables = Variables {
        account_id: target.id.clone(),
        account_name,
        partition: partition.to_owned(),
    };
    let chosen: Vec<&layers::Layer> = target
        .layers
        .iter()
        .filter_map(|path| org.layers.get(path))
        .collect();
    let mut spec = layers::merge(&org.base(), &chosen, &variables)?;
    spec.account_id = Some(target.id.clone());
    spec.read_declared_only = true;
    Ok(spec)
}

#[cfg(test)]
mod tests;
