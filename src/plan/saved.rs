//! A plan saved for later: `plan --out FILE` writes it, `apply FILE` applies exactly its
//! changes, or refuses.
//!
//! The file holds the plan (as `plan --json` prints it) and what it was made from: the digest
//! of the spec's text and of each of its documents, the account and caller, the options that
//! shape a plan, and a fingerprint of each entity a change names, part by part. Before
//! applying, the account is read again: a part that changed, a spec that changed, another
//! account, or a change the spec no longer needs, and nothing is applied. The file holds no
//! secret: plans never do (secrets are made by apply and go to the secrets directory).
//!
//! The file is sealed: `seal` is a digest over every other field (the changes, the options
//! `apply` re-plans with, the fingerprints, the spec's digests, the account), checked before
//! anything else is. With `IAMSPEC_PLAN_KEY` set it is an HMAC under that key, which nobody
//! without the key can forge; without one, a SHA-256 that catches every edit made by hand or
//! by a tool that does not know to seal again. Neither helps against someone who can edit
//! the spec itself: the spec is what decides, and its review is the guard there.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Plan, Summary};
use crate::iam::EntityKind;
use crate::live::LiveState;
use crate::live::fingerprint::{self, Fingerprint};
use crate::spec::Spec;

/// The version of the saved plan format; the key that holds it marks a file as a saved plan.
pub const FORMAT: u32 = 1;

/// The largest saved plan iamspec reads: a plan for an account at IAM's limits is tens of
/// megabytes.
const MAX_BYTES: u64 = 512 << 20;

/// A plan and what it was made from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedPlan {
    /// The format of the file.
    pub iamspec_saved_plan: u32,
    /// The iamspec that made it: only the same version applies it, as another may plan
    /// differently.
    pub iamspec_version: String,
    /// When the account was read, in seconds since 1970.
    pub made: i64,
    pub spec: SavedSpec,
    pub options: SavedOptions,
    /// The account the plan is for.
    pub account: String,
    /// Who made the plan (applying it may take other credentials of the same account).
    pub caller: String,
    /// The state of every entity a change names, when the plan was made.
    pub depends_on: Vec<Fingerprint>,
    /// The plan, as `iamspec plan --json` prints it.
    pub plan: Value,
    /// `sha256:HEX` or `hmac-sha256:HEX` over every other field (`seal_of`).
    pub seal: String,
}

/// The spec a plan was made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedSpec {
    /// As given to `plan`: `apply` reads it from there, relative to where it runs.
    pub path: PathBuf,
    /// What the spec is made of, each with its SHA-256 (`Spec::sources`).
    pub sources: BTreeMap<String, String>,
}

/// The options that shape a plan: `apply FILE` reads the account as `plan` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(clippy::struct_excessive_bools)] // the plan-shaping flags, as given
pub struct SavedOptions {
    pub prune: bool,
    pub replace_lost_keys: bool,
    pub list_keys: bool,
    #[serde(default)]
    pub adopt_keys: bool,
}

/// Why a saved plan is not applied. Each says what to do; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum SavedError {
    #[error("could not read the saved plan {}: {reason}", path.display())]
    Read { path: PathBuf, reason: String },
    #[error(
        "{} is not a plan saved by `iamspec plan --out` ({reason}): give apply a spec, or a saved plan",
        path.display()
    )]
    NotAPlan { path: PathBuf, reason: String },
    #[error(
        "{} was saved by iamspec {made_by} (format {format}), and this is iamspec {ours}: make the plan again with this version",
        path.display(),
        ours = env!("CARGO_PKG_VERSION")
    )]
    Version {
        path: PathBuf,
        made_by: String,
        format: u32,
    },
    #[error(
        "the spec {} changed since the plan was saved ({}): make the plan again from this spec and review it; nothing was changed",
        spec.display(),
        changed.join("; ")
    )]
    SpecChanged { spec: PathBuf, changed: Vec<String> },
    #[error(
        "the plan was made for account {planned}, but these credentials are for account {now}: apply it with credentials for {planned}, or make a plan for {now}; nothing was changed"
    )]
    Account { planned: String, now: String },
    #[error(
        "the account changed since the plan was saved: {}. Nothing was changed: make the plan again and review it",
        changed.join("; ")
    )]
    Stale { changed: Vec<String> },
    #[error(
        "{} is not sealed as iamspec seals a plan ({reason}): it was edited or damaged since `iamspec plan --out` wrote it; make the plan again and review it; nothing was changed",
        path.display()
    )]
    Tampered { path: PathBuf, reason: String },
    #[error(
        "a saved plan names {} without its fingerprint of what it was when planned ({}): the file was edited; make the plan again and review it; nothing was changed",
        missing.len(),
        missing.join("; ")
    )]
    Unfingerprinted { missing: Vec<String> },
    #[error(
        "--out {} is {what}: a plan is saved only to a new path or over an earlier saved plan, so choose another path; nothing was written",
        path.display()
    )]
    OutTaken { path: PathBuf, what: String },
    #[error(
        "{} of the saved plan's changes ({}) are not what the spec calls for against the account as it is (the file was edited, or what they depend on is not what it was): make the plan again and review it; nothing was changed",
        changes.len(),
        changes.join("; ")
    )]
    Obsolete { changes: Vec<String> },
}

/// Whether the file at `path` is a saved plan rather than a spec: a saved plan is a JSON
/// object, and no TOML file begins with `{`. Standard input is always a spec.
pub fn is_saved_plan(path: &Path) -> bool {
    use std::io::Read as _;
    if path == Path::new("-") {
        return false;
    }
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    let mut head = [0u8; 256];
    let read = meta
        .is_file()
        .then(|| std::fs::File::open(path).and_then(|mut f| f.read(&mut head)))
        .and_then(Result::ok)
        .unwrap_or(0);
    head[..read]
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{')
}

/// Refuses an `--out` path that holds anything but an earlier saved plan: the spec, one of its
/// documents, a directory, a device, a FIFO (never opened, so never waited on), a link or any
/// other file. A missing path is fine. Asked before the account is read, and again just
/// before the plan is written.
pub fn check_out(path: &Path, spec: &Path) -> Result<(), SavedError> {
    use std::os::unix::fs::FileTypeExt as _;
    let taken = |what: &str| SavedError::OutTaken {
        path: path.to_owned(),
        what: what.to_owned(),
    };
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(taken(&format!("not readable ({err})"))),
    };
    let kind = meta.file_type();
    let what = if kind.is_dir() {
        "a directory"
    } else if kind.is_symlink() {
        "a symbolic link"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_block_device() || kind.is_char_device() {
        "a device"
    } else if kind.is_socket() {
        "a socket"
    } else if same_file(path, spec) {
        "the spec"
    } else if !holds_saved_plan(path) {
        "a file that is not a saved plan"
    } else {
        return Ok(());
    };
    Err(taken(what))
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Whether a regular file is a saved plan: JSON with the format key at its top, not only a
/// JSON document (a policy beside the spec is JSON too).
fn holds_saved_plan(path: &Path) -> bool {
    crate::spec::files::read_text(path, MAX_BYTES)
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .is_some_and(|value| {
            value.get("iamspec_saved_plan").is_some()
                || value.get("iamspec_saved_organization_plan").is_some()
        })
}

impl SavedPlan {
    /// The plan `plan` made of `spec` against `live`, with what it depends on.
    /// Sealed under `key` when one is given (`IAMSPEC_PLAN_KEY`).
    pub fn new(
        plan: &Plan,
        spec: &Spec,
        live: &LiveState,
        options: SavedOptions,
        key: Option<&[u8]>,
    ) -> Self {
        let (named, account) = depends_on(plan);
        let mut depends_on: Vec<Fingerprint> = named
            .into_iter()
            .map(|(kind, name)| fingerprint::of(live, kind, name))
            .collect();
        if account {
            depends_on.push(fingerprint::of_account(live));
        }
        let mut saved = Self {
            iamspec_saved_plan: FORMAT,
            iamspec_version: env!("CARGO_PKG_VERSION").to_owned(),
            made: live.now,
            spec: SavedSpec {
                // Absolute, so that `apply FILE` finds the spec from any directory.
                path: std::path::absolute(&spec.file).unwrap_or_else(|_| spec.file.clone()),
                sources: spec.sources(),
            },
            options,
            account: plan.account.clone(),
            caller: plan.caller.clone(),
            depends_on,
            plan: serde_json::to_value(plan).expect("a plan serialises"),
            seal: String::new(),
        };
        let mut value = serde_json::to_value(&saved).expect("a saved plan serialises");
        saved.seal = seal_of(&mut value, key);
        saved
    }

    /// The file's text: JSON, one key a line at the top level.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a saved plan serialises");
        text.push('\n');
        text
    }

    /// Reads a saved plan, refusing one another version of iamspec made and one whose seal
    /// does not hold under `key` (`IAMSPEC_PLAN_KEY`, if set where it is applied).
    pub fn read(path: &Path, key: Option<&[u8]>) -> Result<Self, SavedError> {
        let text =
            crate::spec::files::read_text(path, MAX_BYTES).map_err(|err| SavedError::Read {
                path: path.to_owned(),
                reason: err.to_string(),
            })?;
        let not_a_plan = |reason: String| SavedError::NotAPlan {
            path: path.to_owned(),
            reason,
        };
        let value: Value =
            serde_json::from_str(&text).map_err(|err| not_a_plan(err.to_string()))?;
        Self::from_value(value, path, key)
    }

    /// A saved plan from its JSON (`path` names it in messages), its seal checked.
    pub fn from_value(value: Value, path: &Path, key: Option<&[u8]>) -> Result<Self, SavedError> {
        let not_a_plan = |reason: String| SavedError::NotAPlan {
            path: path.to_owned(),
            reason,
        };
        let format = value
            .get("iamspec_saved_plan")
            .and_then(Value::as_u64)
            .ok_or_else(|| not_a_plan("it has no `iamspec_saved_plan` format".to_owned()))?;
        let made_by = value
            .get("iamspec_version")
            .and_then(Value::as_str)
            .unwrap_or("of an unknown version");
        if format != u64::from(FORMAT) || made_by != env!("CARGO_PKG_VERSION") {
            return Err(SavedError::Version {
                path: path.to_owned(),
                made_by: made_by.to_owned(),
                format: u32::try_from(format).unwrap_or(u32::MAX),
            });
        }
        let mut value = value;
        check_seal(&mut value, key).map_err(|reason| SavedError::Tampered {
            path: path.to_owned(),
            reason,
        })?;
        serde_json::from_value(value).map_err(|err| not_a_plan(err.to_string()))
    }

    /// Refuses a plan whose changes name an entity (or the account's settings) it holds no
    /// fingerprint of: what it was when planned would otherwise go unchecked.
    pub fn check_fingerprinted(&self, plan: &Plan) -> Result<(), SavedError> {
        let held: BTreeSet<(&str, &str)> = self
            .depends_on
            .iter()
            .map(|f| (f.kind.as_str(), f.name.as_str()))
            .collect();
        let (named, account) = depends_on(plan);
        let mut missing: Vec<String> = named
            .into_iter()
            .filter(|(kind, name)| !held.contains(&(fingerprint::kind_name(*kind).as_str(), name)))
            .map(|(kind, name)| format!("{} {name}", kind.as_str()))
            .collect();
        if account && !held.contains(&(fingerprint::ACCOUNT, fingerprint::ACCOUNT)) {
            missing.push("the account's settings".to_owned());
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(SavedError::Unfingerprinted { missing })
        }
    }

    /// Refuses a spec that is not the one the plan was made from, naming what differs.
    pub fn check_spec(&self, spec: &Spec) -> Result<(), SavedError> {
        let now = spec.sources();
        let before = &self.spec.sources;
        let mut changed = Vec::new();
        for (what, digest) in before {
            match now.get(what) {
                None => changed.push(format!("{what} is gone")),
                Some(d) if d != digest => changed.push(format!("{what} changed")),
                Some(_) => {}
            }
        }
        changed.extend(
            now.keys()
                .filter(|what| !before.contains_key(*what))
                .map(|what| format!("{what} is new")),
        );
        if changed.is_empty() {
            Ok(())
        } else {
            Err(SavedError::SpecChanged {
                spec: self.spec.path.clone(),
                changed,
            })
        }
    }

    /// Refuses credentials for another account.
    pub fn check_account(&self, account: &str) -> Result<(), SavedError> {
        if account == self.account {
            Ok(())
        } else {
            Err(SavedError::Account {
                planned: self.account.clone(),
                now: account.to_owned(),
            })
        }
    }

    /// Refuses an account in which anything the plan depends on changed, naming each change.
    pub fn check_live(&self, live: &LiveState) -> Result<(), SavedError> {
        let changed: Vec<String> = self
            .depends_on
            .iter()
            .filter_map(|before| fingerprint::compare(before, &fingerprint::again(before, live)))
            .collect();
        if changed.is_empty() {
            Ok(())
        } else {
            Err(SavedError::Stale { changed })
        }
    }

    /// The saved changes, taken from `plan` (the plan made again of the same spec against the
    /// account as it is now): exactly those, in `plan`'s order. A saved change the new plan
    /// no longer has is refused; what the new plan has beyond the saved one (a key come due
    /// for rotation meanwhile) is left for the next plan, and counted in the second value.
    pub fn select(&self, mut plan: Plan) -> Result<(Plan, usize), SavedError> {
        let mut wanted: HashMap<String, (usize, &Value)> = HashMap::new();
        for change in self.changes() {
            let key = crate::digest::canonical_text(&op_of(change));
            wanted.entry(key).or_insert((0, change)).0 += 1;
        }
        let mut extra = 0;
        plan.changes.retain(|change| {
            let op = serde_json::to_value(&change.op).expect("an op serialises");
            match wanted.get_mut(&crate::digest::canonical_text(&op)) {
                Some((count, _)) if *count > 0 => {
                    *count -= 1;
                    true
                }
                _ => {
                    extra += 1;
                    false
                }
            }
        });
        let missing: Vec<String> = wanted
            .values()
            .filter(|(count, _)| *count > 0)
            .map(|(_, change)| describe(change))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if !missing.is_empty() {
            return Err(SavedError::Obsolete { changes: missing });
        }
        plan.summary = Summary::of(&plan.changes);
        Ok((plan, extra))
    }

    /// Whether the plan has nothing to do.
    pub fn is_empty(&self) -> bool {
        self.changes().is_empty()
    }

    fn changes(&self) -> &[Value] {
        self.plan
            .get("changes")
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    }
}

/// What a plan's changes depend on: the entities they name, and whether any is about the
/// account's settings (a change that names no entity). Both what `new` fingerprints and
/// what `check_fingerprinted` asks for.
fn depends_on(plan: &Plan) -> (BTreeSet<(EntityKind, &str)>, bool) {
    let mut named = BTreeSet::new();
    let mut account = false;
    for change in &plan.changes {
        let entities = change.op.entities();
        account |= entities.is_empty();
        named.extend(entities);
    }
    (named, account)
}

/// The seal of a saved plan's JSON: removes any `seal` it has, and digests the rest as
/// canonical text (keys sorted), under `key` when there is one.
pub(crate) fn seal_of(value: &mut Value, key: Option<&[u8]>) -> String {
    use hmac::{KeyInit as _, Mac as _};
    if let Some(fields) = value.as_object_mut() {
        fields.remove("seal");
    }
    let text = crate::digest::canonical_text(value);
    match key {
        Some(key) => {
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key)
                .expect("HMAC takes a key of any length");
            mac.update(text.as_bytes());
            format!(
                "hmac-sha256:{}",
                crate::digest::hex(&mac.finalize().into_bytes())
            )
        }
        None => format!("sha256:{}", crate::digest::of(text.as_bytes())),
    }
}

/// Checks the seal of a saved plan's JSON (and takes it off): a missing seal, a seal of the
/// other kind than `key` calls for (an unkeyed plan where a key is set is one anybody could
/// have sealed again), and a digest that differs are each refused, saying which.
pub(crate) fn check_seal(value: &mut Value, key: Option<&[u8]>) -> Result<(), String> {
    let Some(seal) = value.get("seal").and_then(Value::as_str).map(str::to_owned) else {
        return Err("it has no seal".to_owned());
    };
    let keyed = seal.starts_with("hmac-sha256:");
    match (keyed, key) {
        (true, None) => {
            return Err("it was sealed with IAMSPEC_PLAN_KEY, which is not set here: set it to the key the plan was made with".to_owned());
        }
        (false, Some(_)) => {
            return Err("IAMSPEC_PLAN_KEY is set here, but the plan was sealed without a key, so anybody could have sealed it again".to_owned());
        }
        _ => {}
    }
    let expected = seal_of(value, key);
    // Constant time, as digests under a key are compared.
    let same = expected.len() == seal.len()
        && expected
            .bytes()
            .zip(seal.bytes())
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0;
    if same {
        value["seal"] = Value::String(seal);
        Ok(())
    } else if keyed {
        Err(
            "its seal does not match its content under IAMSPEC_PLAN_KEY (an edit, or another key)"
                .to_owned(),
        )
    } else {
        Err("its seal does not match its content".to_owned())
    }
}

/// A change as saved, without what the plan says about it: the IAM call alone, as
/// `serde_json::to_value(&change.op)` gives it.
fn op_of(change: &Value) -> Value {
    let mut op = change.clone();
    if let Some(fields) = op.as_object_mut() {
        for key in ["action", "cause", "grants"] {
            fields.remove(key);
        }
    }
    op
}

/// A saved change in words: its call and what it names (`attach_group_policy group
/// Developers, policy arn:aws:iam::aws:policy/IAMReadOnlyAccess`).
fn describe(change: &Value) -> String {
    let call = change.get("op").and_then(Value::as_str).unwrap_or("change");
    let names: Vec<String> = ["user", "group", "role", "policy", "profile", "url", "alias"]
        .into_iter()
        .filter_map(|key| Some(format!("{key} {}", change.get(key)?.as_str()?)))
        .collect();
    if names.is_empty() {
        call.to_owned()
    } else {
        format!("{call} {}", names.join(", "))
    }
}

#[cfg(test)]
mod tests;
