//! IAM Identity Center across the organization: the spec's assignments expanded to the
//! accounts their selectors take, the customer-managed policies permission sets reference
//! checked in each account they are assigned to, the instance read and compared.
//!
//! It runs after the accounts are planned (their specs and live policies are what the
//! references are checked against) and is applied after them: the IAM policies permission
//! sets reference are made in the member accounts before anything is provisioned there.

use std::collections::{BTreeMap, BTreeSet};

use super::Listing;
use crate::diff::center::{Options, Wanted};
use crate::live::center::{CenterApi, CenterState, PrincipalKind, ReadOptions};
use crate::live::{ApiError, ReadError};
use crate::plan::center::{CenterPlan, Change, Principal, Step};
use crate::session::Error;
use crate::spec::identity_center::IdentityCenter;
use crate::spec::organization::Organization;
use crate::spec::{Spec, SpecError};

/// Every assignment the spec wants, and notes on accounts left out.
pub fn wanted(
    org: &Organization,
    center: &IdentityCenter,
    listing: Option<&Listing>,
) -> Result<(Vec<Wanted>, Vec<String>), SpecError> {
    let mut wanted = BTreeSet::new();
    let mut notes = Vec::new();
    for assignment in &center.assignments {
        let (accounts, skipped) = super::accounts_of(org, &assignment.selector, listing)?;
        notes.extend(skipped);
        let principals = assignment
            .groups
            .iter()
            .map(|g| (PrincipalKind::Group, g))
            .chain(assignment.users.iter().map(|u| (PrincipalKind::User, u)));
        for (kind, name) in principals {
            for account in &accounts {
                wanted.insert(Wanted {
                    set: assignment.permission_set.clone(),
                    principal: Principal {
                        kind,
                        name: name.clone(),
                    },
                    account: account.clone(),
                });
            }
        }
    }
    notes.sort();
    notes.dedup();
    Ok((wanted.into_iter().collect(), notes))
}

/// The accounts each permission set is assigned to.
pub fn assigned(wanted: &[Wanted]) -> BTreeMap<String, BTreeSet<String>> {
    let mut assigned: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for w in wanted {
        assigned
            .entry(w.set.clone())
            .or_default()
            .insert(w.account.clone());
    }
    assigned
}

/// What iamspec knows of an account's customer-managed policies: its spec, and what was
/// read of it.
pub struct Known<'a> {
    pub spec: Option<&'a Spec>,
    /// `(path, name)` of every customer-managed policy read in it.
    pub live: Option<BTreeSet<(String, String)>>,
}

/// Each customer-managed policy a permission set references must be in every account it is
/// assigned to, declared by that account's layers or already there: otherwise provisioning
/// fails there. Returns the problems, and notes for accounts iamspec does not plan.
pub fn check_references(
    center: &IdentityCenter,
    wanted: &[Wanted],
    known: &BTreeMap<String, Known<'_>>,
) -> (Vec<String>, Vec<String>) {
    let (mut problems, mut notes) = (Vec::new(), Vec::new());
    for (set, accounts) in assigned(wanted) {
        let Some(permission_set) = center.permission_sets.get(&set) else {
            continue;
        };
        for reference in &permission_set.customer {
            for account in &accounts {
                let Some(k) = known.get(account) else {
                    notes.push(format!(
                        "permission set `{set}` references customer-managed policy {reference}, which iamspec cannot check in account {account}: no target of the organization file plans it"
                    ));
                    continue;
                };
                let declared = k.spec.is_some_and(|s| {
                    s.policies
                        .values()
                        .any(|p| p.name == reference.name && p.path == reference.path)
                });
                let exists = k
                    .live
                    .as_ref()
                    .is_some_and(|l| l.contains(&(reference.path.clone(), reference.name.clone())));
                if !declared && !exists {
                    problems.push(format!(
                        "permission set `{set}` references customer-managed policy {reference}, but account {account} neither has it nor declares it in its layers: declare it in a layer of that account (path {}), or take the reference out",
                        reference.path
                    ));
                }
            }
        }
    }
    (problems, notes)
}

/// The privilege-escalation paths each permission set's whole grant opens, as warnings: its
/// inline document, its AWS-managed policies (from the embedded snapshot) and the
/// customer-managed policies it references where the layers of an account it is assigned to
/// declare them, taken together as a principal's are.
pub fn escalations(
    center: &IdentityCenter,
    wanted: &[Wanted],
    known: &BTreeMap<String, Known<'_>>,
) -> Vec<String> {
    let assigned = assigned(wanted);
    let mut warnings = Vec::new();
    for (name, set) in &center.permission_sets {
        let mut docs: Vec<(String, &crate::document::Document)> = Vec::new();
        if let Some(inline) = &set.inline {
            docs.push(("its inline policy".to_owned(), inline));
        }
        for managed in &set.managed {
            let short = managed.rsplit('/').next().unwrap_or(managed);
            if let Some(document) = crate::lint::managed::document(short) {
                docs.push((format!("AWS-managed policy `{short}`"), document));
            }
        }
        let accounts = assigned.get(name).into_iter().flatten();
        for reference in &set.customer {
            let declared = accounts
                .clone()
                .filter_map(|a| known.get(a).and_then(|k| k.spec))
                .find_map(|spec| {
                    spec.policies
                        .values()
                        .find(|p| p.name == reference.name && p.path == reference.path)
                });
            if let Some(policy) = declared {
                docs.push((
                    format!("customer-managed policy {reference}"),
                    &policy.document,
                ));
            }
        }
        for path in crate::lint::escalation_paths(&docs) {
            warnings.push(format!(
                "warning: permission set `{name}` (privilege-escalation): {path}: name the resources, or split these between permission sets"
            ));
        }
    }
    warnings
}

/// The instance read and compared with the spec.
pub async fn plan<A: CenterApi>(
    api: &A,
    center: &IdentityCenter,
    wanted: &[Wanted],
    options: Options<'_>,
) -> Result<(CenterState, CenterPlan), Error> {
    let assigned = assigned(wanted);
    let read = ReadOptions {
        prune: options.prune,
        assigned: Some(&assigned),
    };
    let live = crate::live::center::read(api, center, read)
        .await
        .map_err(|source: ApiError| ReadError::Api {
            what: "read IAM Identity Center (sso-admin and identitystore: instances, permission sets, assignments, users and groups): run iamspec with credentials of the management account or Identity Center's delegated administrator, in the instance's region".to_owned(),
            source,
        })?;
    let plan = crate::diff::center::diff(center, wanted, &live, options);
    Ok((live, plan))
}

/// Holds back the changes that need what an account whose apply failed did not make: the
/// assignments and provisioning, in those accounts, of permission sets that reference
/// customer-managed policies (the account may lack them). A provisioning to every account
/// becomes one to each of the others. Returns a note for each change held back; the next
/// plan makes them.
pub fn hold_back(
    plan: &mut CenterPlan,
    center: &IdentityCenter,
    live: &CenterState,
    failed: &BTreeSet<String>,
    labels: &BTreeMap<String, String>,
) -> Vec<String> {
    let needs_accounts = |set: &str| {
        center.permission_sets.get(set).is_some_and(|s| {
            !s.customer.is_empty()
                || matches!(
                    s.boundary,
                    Some(crate::spec::identity_center::Boundary::Customer(_))
                )
        })
    };
    let label = |account: &str| {
        labels
            .get(account)
            .map_or(account, String::as_str)
            .to_owned()
    };
    let mut held = Vec::new();
    let mut changes = Vec::with_capacity(plan.changes.len());
    for change in std::mem::take(&mut plan.changes) {
        let Some(set) = change.step.set().filter(|s| needs_accounts(s)) else {
            changes.push(change);
            continue;
        };
        match (&change.step, change.step.account()) {
            (_, Some(account)) if failed.contains(account) => held.push(format!(
                "not done: {} (account {} failed to apply, so the customer-managed policies the permission set references may be missing there; the next apply makes it)",
                change.text,
                label(account)
            )),
            (Step::Provision { account: None, .. }, None) => {
                let accounts = live
                    .permission_set(set)
                    .and_then(|s| s.details.as_ref())
                    .map(|d| d.accounts.clone())
                    .unwrap_or_default();
                if accounts.is_disjoint(failed) {
                    changes.push(change);
                    continue;
                }
                for account in accounts {
                    if failed.contains(&account) {
                        held.push(format!(
                            "not done: permission set `{set}` provisioned to account {} (it failed to apply; the next apply provisions it)",
                            label(&account)
                        ));
                        continue;
                    }
                    changes.push(Change {
                        text: format!("permission set `{set}`: provision again to account {}", label(&account)),
                        step: Step::Provision {
                            set: set.to_owned(),
                            account: Some(account),
                        },
                        ..change.clone()
                    });
                }
            }
            _ => changes.push(change),
        }
    }
    plan.changes = changes;
    held
}
