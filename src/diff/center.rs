//! IAM Identity Center, compared: the spec's `[identity_center]` (with its assignments
//! expanded to accounts) against the instance as read, into a `CenterPlan`. Pure.
//!
//! What is iamspec's: the spec's permission sets are exactly as the spec says (policies,
//! inline document, references, boundary, session, and their assignments); with
//! `identities = "iamspec"` the spec's users and groups are too, and every other user and
//! group of the store not provisioned by an `IdP` is pruned with `--prune`; a permission set
//! the spec does not declare is pruned only if its `iamspec:owner` tag names this owner.

use std::collections::{BTreeMap, BTreeSet};

use crate::document::canonical;
use crate::live::center::{
    CenterState, LiveAssignment, LiveBoundary, LivePermissionSet, PrincipalKind, StoreUser,
};
use crate::plan::center::{Action, CenterPlan, Change, Principal, Step};
use crate::spec::identity_center::{
    Identities, IdentityCenter, PermissionSet, aws_policy_arn, iso_duration,
};

/// One assignment the spec wants: a principal, a permission set, an account.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Wanted {
    pub set: String,
    pub principal: Principal,
    pub account: String,
}

/// What the comparison needs beyond the spec and the instance.
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    pub prune: bool,
    /// The owner iamspec tags its permission sets with.
    pub owner: &'a str,
    pub partition: &'a str,
    /// An account whose assignments are left alone: the management account, when the caller
    /// is a delegated administrator.
    pub untouchable: Option<&'a str>,
    /// How accounts are named in the plan: `dev (111111111111)`.
    pub labels: &'a BTreeMap<String, String>,
    /// The accounts `--accounts` or `--shard` select: only their assignments and provisioning
    /// are planned, and nothing of the instance itself. `None`: Identity Center as a whole.
    pub scope: Option<&'a BTreeSet<String>>,
}

/// The plan that makes the instance what the spec says.
pub fn diff(
    center: &IdentityCenter,
    wanted: &[Wanted],
    live: &CenterState,
    options: Options<'_>,
) -> CenterPlan {
    let mut plan = CenterPlan {
        instance: live.instance.arn.clone(),
        ..CenterPlan::default()
    };
    let mut later = Vec::new();
    if center.identities == Identities::Iamspec {
        identities(center, live, options, &mut plan, &mut later);
    } else {
        lookups(center, live, &mut plan);
    }
    let mut standing = BTreeMap::new();
    for (name, set) in &center.permission_sets {
        let live_set = live.permission_set(name);
        let owned = permission_set(name, set, live_set, options, &mut plan);
        standing.insert(name.as_str(), owned);
    }
    assignments(center, wanted, live, &standing, options, &mut plan);
    plan.changes.append(&mut later);
    undeclared_sets(center, live, options, &mut plan);
    if center.identities == Identities::Iamspec {
        undeclared_identities(center, live, options, &mut plan);
    }
    if let Some(scope) = options.scope {
        keep_scope(&mut plan, live, scope);
    }
    plan
}

/// Whose a declared permission set is, as its tag says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    /// iamspec's (or made by this plan): exactly as the file says.
    Owned,
    /// Made outside iamspec: adopted by this plan; what it has beyond the file is drift.
    Adopted,
    /// Another owner's: not touched.
    Refused,
}

/// A scoped plan (`--accounts`, `--shard`): only the selected accounts' assignments and
/// provisioning; the instance's own changes are made by a run of Identity Center as a whole.
fn keep_scope(plan: &mut CenterPlan, live: &CenterState, scope: &BTreeSet<String>) {
    let (mut instance, mut elsewhere, mut waiting) = (0, 0, BTreeSet::new());
    plan.changes.retain(|c| match c.step.account() {
        None => {
            instance += 1;
            false
        }
        Some(account) if !scope.contains(account) => {
            elsewhere += 1;
            false
        }
        Some(_) => match &c.step {
            // Its permission set or principal is still to be made, by the whole run.
            Step::Assign { set, principal, .. }
                if live.permission_set(set).is_none()
                    || match principal.kind {
                        PrincipalKind::User => live.user(&principal.name).is_none(),
                        PrincipalKind::Group => live.group(&principal.name).is_none(),
                    } =>
            {
                waiting.insert(set.clone());
                false
            }
            _ => true,
        },
    });
    if instance + elsewhere > 0 {
        plan.notes.push(format!(
            "--accounts/--shard scope Identity Center to the selected accounts' assignments and provisioning: {instance} change{} of the instance itself (users, groups, memberships, permission sets and their policies) and {elsewhere} in other accounts are left out; a run of Identity Center as a whole makes them (no --accounts or --shard, or --identity-center-only)",
            if instance == 1 { "" } else { "s" },
        ));
    }
    for set in waiting {
        plan.notes.push(format!(
            "assignments of permission set `{set}` wait: it, or a principal it is assigned to, is still to be made by a run of Identity Center as a whole"
        ));
    }
}

fn change(action: Action, kind: &'static str, text: String, step: Step) -> Change {
    Change {
        action,
        kind,
        text,
        step,
    }
}

fn shown(value: Option<&String>) -> String {
    value.map_or_else(
        || "(none)".to_owned(),
        |v| format!("\"{}\"", v.escape_debug()),
    )
}

/// A name read from AWS, as the plan shows it: anything that could add a line, close a fence
/// or render as Markdown is escaped (see `render::untrusted`).
fn shown_name(name: &str) -> String {
    crate::render::untrusted(name)
}

/// The spec's users, groups and memberships; membership removals go to `later`, after the
/// assignments (so no one loses access before their new access is made).
fn identities(
    center: &IdentityCenter,
    live: &CenterState,
    options: Options<'_>,
    plan: &mut CenterPlan,
    later: &mut Vec<Change>,
) {
    let _ = options;
    for (name, group) in &center.groups {
        match live.group(name) {
            None => plan.changes.push(change(
                Action::Create,
                "group",
                format!("group `{name}`"),
                Step::CreateGroup {
                    name: name.clone(),
                    description: group.description.clone(),
                },
            )),
            Some(g) if g.external => plan.notes.push(format!(
                "group `{name}` is provisioned by an external IdP: iamspec leaves it as the IdP says"
            )),
            Some(g) if g.description != group.description => plan.changes.push(change(
                Action::Update,
                "group",
                format!(
                    "group `{name}`: description {} -> {}",
                    shown(g.description.as_ref()),
                    shown(group.description.as_ref())
                ),
                Step::UpdateGroup {
                    name: name.clone(),
                    description: group.description.clone(),
                },
            )),
            Some(_) => {}
        }
    }
    for (name, user) in &center.users {
        let desired = StoreUser {
            id: String::new(),
            name: name.clone(),
            display_name: user.display_name.clone(),
            given_name: user.given_name.clone(),
            family_name: user.family_name.clone(),
            email: user.email.clone(),
            external: false,
        };
        match live.user(name) {
            None => plan.changes.push(change(
                Action::Create,
                "user",
                format!("user `{name}`"),
                Step::CreateUser(desired),
            )),
            Some(u) if u.external => plan.notes.push(format!(
                "user `{name}` is provisioned by an external IdP: iamspec leaves it as the IdP says"
            )),
            Some(u) => {
                let fields = [
                    ("display_name", &u.display_name, &desired.display_name),
                    ("given_name", &u.given_name, &desired.given_name),
                    ("family_name", &u.family_name, &desired.family_name),
                    ("email", &u.email, &desired.email),
                ];
                let changed: Vec<String> = fields
                    .iter()
                    .filter(|(_, now, want)| now != want)
                    .map(|(key, now, want)| {
                        format!("{key} {} -> {}", shown(now.as_ref()), shown(want.as_ref()))
                    })
                    .collect();
                if !changed.is_empty() {
                    plan.changes.push(change(
                        Action::Update,
                        "user",
                        format!("user `{name}`: {}", changed.join(", ")),
                        Step::UpdateUser(StoreUser {
                            id: u.id.clone(),
                            ..desired
                        }),
                    ));
                }
            }
        }
    }
    memberships(center, live, plan, later);
}

fn memberships(
    center: &IdentityCenter,
    live: &CenterState,
    plan: &mut CenterPlan,
    later: &mut Vec<Change>,
) {
    let has: BTreeSet<(&str, &str)> = live
        .memberships
        .iter()
        .map(|m| (m.group_id.as_str(), m.user_id.as_str()))
        .collect();
    for (user, u) in &center.users {
        for group in &u.groups {
            let present = match (live.group(group), live.user(user)) {
                (Some(g), Some(lu)) => has.contains(&(g.id.as_str(), lu.id.as_str())),
                _ => false,
            };
            if !present {
                plan.changes.push(change(
                    Action::Create,
                    "membership",
                    format!("user `{user}` in group `{group}`"),
                    Step::AddMember {
                        group: group.clone(),
                        user: user.clone(),
                    },
                ));
            }
        }
    }
    let mut seen = BTreeSet::new();
    for m in &live.memberships {
        let group = live.principal_name(PrincipalKind::Group, &m.group_id);
        let user = live.principal_name(PrincipalKind::User, &m.user_id);
        let (shown_user, shown_group) = (shown_name(&user), shown_name(&group));
        if !seen.insert((m.group_id.as_str(), m.user_id.as_str())) {
            // The store holds the same membership twice: one goes.
            later.push(change(
                Action::Delete,
                "membership",
                format!("user `{shown_user}` in group `{shown_group}` (a second copy)"),
                Step::RemoveMember {
                    membership_id: m.id.clone(),
                },
            ));
            continue;
        }
        match center.users.get(&user) {
            Some(u) if !u.groups.contains(&group) => later.push(change(
                Action::Delete,
                "membership",
                format!("user `{shown_user}` in group `{shown_group}`"),
                Step::RemoveMember {
                    membership_id: m.id.clone(),
                },
            )),
            Some(_) => {}
            None => plan.notes.push(format!(
                "user `{shown_user}`, not in the spec, is in group `{shown_group}`: --prune deletes the user"
            )),
        }
    }
}

/// With identities = "external": what the `IdP` has not provisioned is a problem to show.
fn lookups(center: &IdentityCenter, live: &CenterState, plan: &mut CenterPlan) {
    for name in center.users.keys() {
        if live.user(name).is_none() {
            plan.notes.push(format!(
                "user `{name}` is not in the identity store: the IdP has not provisioned it yet, so its assignments wait"
            ));
        }
    }
    for name in center.groups.keys() {
        if live.group(name).is_none() {
            plan.notes.push(format!(
                "group `{name}` is not in the identity store: the IdP has not provisioned it yet, so its assignments wait"
            ));
        }
    }
}

/// One of the spec's permission sets: made, or changed to match, then provisioned again
/// wherever it is out of date. Says whose it is: one without an owner tag is adopted (what it
/// has beyond the file stays unless `--prune`), one of another owner is refused.
#[allow(clippy::too_many_lines)] // create, adopt or refuse, then update and provision
fn permission_set(
    name: &str,
    set: &PermissionSet,
    live: Option<&LivePermissionSet>,
    options: Options<'_>,
    plan: &mut CenterPlan,
) -> Standing {
    let set_name = name.to_owned();
    let mut changes = Vec::new();
    let empty = crate::live::center::SetDetails::default();
    let mut standing = Standing::Owned;
    let details = match live {
        None => {
            plan.changes.push(change(
                Action::Create,
                "permission set",
                format!(
                    "permission set `{name}` (session {})",
                    iso_duration(set.session)
                ),
                Step::CreatePermissionSet {
                    name: set_name.clone(),
                    description: set.description.clone(),
                    session: set.session,
                },
            ));
            &empty
        }
        Some(l) => {
            match l.owner.as_deref() {
                Some(owner) if owner != options.owner => {
                    plan.refused.push(format!(
                        "permission set `{name}` belongs to owner `{}` (its iamspec:owner tag), not to this file's owner `{}`: iamspec does not take it over. Give the file's permission set another name, or, if this file is meant to manage it, set [organization] owner = \"{}\"",
                        shown_name(owner),
                        options.owner,
                        shown_name(owner)
                    ));
                    return Standing::Refused;
                }
                Some(_) => {}
                None => {
                    standing = Standing::Adopted;
                    plan.changes.push(change(
                        Action::Update,
                        "permission set",
                        format!(
                            "permission set `{name}`: adopt it (made outside iamspec: it has no iamspec:owner tag) and tag it iamspec:owner = {}",
                            options.owner
                        ),
                        Step::TagPermissionSet {
                            set: set_name.clone(),
                        },
                    ));
                }
            }
            if l.description != set.description || l.session != Some(set.session) {
                let mut what = Vec::new();
                if l.description != set.description {
                    what.push(format!(
                        "description {} -> {}",
                        shown(l.description.as_ref()),
                        shown(set.description.as_ref())
                    ));
                }
                if l.session != Some(set.session) {
                    what.push(format!(
                        "session {} -> {}",
                        l.session.map_or_else(|| "(none)".to_owned(), iso_duration),
                        iso_duration(set.session)
                    ));
                }
                changes.push(change(
                    Action::Update,
                    "permission set",
                    format!("permission set `{name}`: {}", what.join(", ")),
                    Step::UpdatePermissionSet {
                        name: set_name.clone(),
                        description: set.description.clone(),
                        session: set.session,
                    },
                ));
            }
            l.details.as_ref().unwrap_or(&empty)
        }
    };
    attachments(name, set, details, options, &mut changes);
    if standing == Standing::Adopted && !options.prune {
        // What a permission set made by hand holds beyond the file is drift until adopted.
        changes.retain(|c| {
            if c.action != Action::Delete {
                return true;
            }
            plan.notes.push(format!(
                "{} is not done: the permission set was made outside iamspec, so what it has beyond the file is drift until it is adopted; --prune does it",
                c.text
            ));
            false
        });
    }
    let touched = !changes.is_empty();
    plan.changes.append(&mut changes);
    if live.is_none() {
        return standing;
    }
    if touched && !details.accounts.is_empty() && options.scope.is_none() {
        let count = details.accounts.len();
        plan.changes.push(change(
            Action::Update,
            "permission set",
            format!(
                "permission set `{name}`: provision again to the {count} account{} it is in",
                if count == 1 { "" } else { "s" }
            ),
            Step::Provision {
                set: set_name,
                account: None,
            },
        ));
    } else {
        // A change made earlier and never provisioned (a failed provisioning, a signal).
        for account in &details.outdated {
            plan.changes.push(change(
                Action::Update,
                "permission set",
                format!(
                    "permission set `{name}`: provision to account {}, which runs an out-of-date version of it",
                    label(&options, account)
                ),
                Step::Provision {
                    set: set_name.clone(),
                    account: Some(account.clone()),
                },
            ));
        }
    }
    standing
}

/// A permission set's policies, inline document, references and boundary, made as the spec
/// says.
fn attachments(
    name: &str,
    set: &PermissionSet,
    details: &crate::live::center::SetDetails,
    options: Options<'_>,
    changes: &mut Vec<Change>,
) {
    let set_name = name.to_owned();
    let wanted: BTreeSet<String> = set
        .managed
        .iter()
        .map(|p| aws_policy_arn(options.partition, p))
        .collect();
    for policy in wanted.difference(&details.managed) {
        changes.push(change(
            Action::Create,
            "permission set",
            format!("permission set `{name}`: attach {}", short(policy)),
            Step::AttachManaged {
                set: set_name.clone(),
                policy: policy.clone(),
            },
        ));
    }
    for policy in details.managed.difference(&wanted) {
        changes.push(change(
            Action::Delete,
            "permission set",
            format!("permission set `{name}`: detach {}", short(policy)),
            Step::DetachManaged {
                set: set_name.clone(),
                policy: policy.clone(),
            },
        ));
    }
    inline(name, set, details.inline.as_ref(), changes);
    for reference in set.customer.difference(&details.customer) {
        changes.push(change(
            Action::Create,
            "permission set",
            format!("permission set `{name}`: attach customer-managed policy {reference}"),
            Step::AttachCustomer {
                set: set_name.clone(),
                reference: reference.clone(),
            },
        ));
    }
    for reference in details.customer.difference(&set.customer) {
        changes.push(change(
            Action::Delete,
            "permission set",
            format!("permission set `{name}`: detach customer-managed policy {reference}"),
            Step::DetachCustomer {
                set: set_name.clone(),
                reference: reference.clone(),
            },
        ));
    }
    let boundary = set
        .boundary
        .as_ref()
        .map(|b| LiveBoundary::from_spec(b, options.partition));
    if boundary != details.boundary {
        let step = match &boundary {
            Some(b) => Step::PutBoundary {
                set: set_name.clone(),
                boundary: b.clone(),
            },
            None => Step::DeleteBoundary {
                set: set_name.clone(),
            },
        };
        let text = match (&details.boundary, &set.boundary) {
            (_, Some(b)) => format!("permission set `{name}`: boundary {b}"),
            (_, None) => format!("permission set `{name}`: remove its boundary"),
        };
        let action = if boundary.is_some() {
            Action::Update
        } else {
            Action::Delete
        };
        changes.push(change(action, "permission set", text, step));
    }
}

fn inline(
    name: &str,
    set: &PermissionSet,
    live: Option<&serde_json::Value>,
    changes: &mut Vec<Change>,
) {
    let wanted = set.inline.as_ref().map(|d| canonical(&d.json));
    let now = live.map(canonical);
    if wanted == now {
        return;
    }
    let set_name = name.to_owned();
    match (&set.inline, now) {
        (Some(document), now) => changes.push(change(
            if now.is_some() {
                Action::Update
            } else {
                Action::Create
            },
            "permission set",
            format!("permission set `{name}`: inline policy"),
            Step::PutInline {
                set: set_name,
                document: document.text(),
            },
        )),
        (None, _) => changes.push(change(
            Action::Delete,
            "permission set",
            format!("permission set `{name}`: delete its inline policy"),
            Step::DeleteInline { set: set_name },
        )),
    }
}

/// `arn:aws:iam::aws:policy/job-function/ViewOnlyAccess` -> `ViewOnlyAccess`.
fn short(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

fn label<'a>(options: &'a Options<'_>, account: &'a str) -> &'a str {
    options.labels.get(account).map_or(account, String::as_str)
}

/// Assignments: those the spec wants and the instance lacks are made; those of the spec's
/// permission sets that the spec no longer wants are deleted.
fn assignments(
    center: &IdentityCenter,
    wanted: &[Wanted],
    live: &CenterState,
    standing: &BTreeMap<&str, Standing>,
    options: Options<'_>,
    plan: &mut CenterPlan,
) {
    let mut skipped = BTreeSet::new();
    let mut wanted_ids = BTreeSet::new();
    let mut hand_made = BTreeSet::new();
    for w in wanted {
        if Some(w.account.as_str()) == options.untouchable {
            skipped.insert(w.account.clone());
            continue;
        }
        if standing.get(w.set.as_str()) == Some(&Standing::Refused) {
            continue;
        }
        let external = center.identities == Identities::External;
        let found = match w.principal.kind {
            PrincipalKind::User => live.user(&w.principal.name).map(|u| (&u.id, u.external)),
            PrincipalKind::Group => live.group(&w.principal.name).map(|g| (&g.id, g.external)),
        };
        let id = match found {
            // With identities = "external" only the IdP's identities count: one of the same
            // name made by hand is not the person the file means.
            Some((_, false)) if external => {
                hand_made.insert((w.principal.kind, w.principal.name.clone()));
                continue;
            }
            other => other.map(|(id, _)| id.clone()),
        };
        let arn = live.permission_set(&w.set).map(|s| s.arn.clone());
        if let (Some(id), Some(arn)) = (&id, &arn) {
            let a = LiveAssignment {
                permission_set: arn.clone(),
                account: w.account.clone(),
                kind: w.principal.kind,
                principal: id.clone(),
            };
            wanted_ids.insert(a.clone());
            if live.assignments.contains(&a) {
                continue;
            }
        }
        if id.is_none() && center.identities == Identities::External {
            continue; // noted by `lookups`: the IdP has yet to provision it
        }
        plan.changes.push(change(
            Action::Create,
            "assignment",
            format!(
                "{} `{}` gets permission set `{}` in account {}",
                w.principal.kind.as_str(),
                w.principal.name,
                w.set,
                label(&options, &w.account)
            ),
            Step::Assign {
                set: w.set.clone(),
                principal: w.principal.clone(),
                account: w.account.clone(),
            },
        ));
    }
    left_out(&hand_made, &skipped, plan);
    let declared: BTreeMap<&str, &str> = live
        .permission_sets
        .iter()
        .filter(|s| center.permission_sets.contains_key(&s.name))
        .map(|s| (s.arn.as_str(), s.name.as_str()))
        .collect();
    for a in &live.assignments {
        let Some(set) = declared.get(a.permission_set.as_str()) else {
            continue;
        };
        if wanted_ids.contains(a) || Some(a.account.as_str()) == options.untouchable {
            continue;
        }
        match standing.get(set) {
            Some(Standing::Refused) => continue,
            Some(Standing::Adopted) if !options.prune => {
                plan.notes.push(format!(
                    "{} `{}` has permission set `{set}` in account {}, which the file does not give: left alone, the permission set was made outside iamspec (drift until it is adopted); --prune deletes the assignment",
                    a.kind.as_str(),
                    shown_name(&live.principal_name(a.kind, &a.principal)),
                    label(&options, &a.account)
                ));
                continue;
            }
            _ => {}
        }
        plan.changes.push(change(
            Action::Delete,
            "assignment",
            format!(
                "{} `{}` loses permission set `{set}` in account {}",
                a.kind.as_str(),
                shown_name(&live.principal_name(a.kind, &a.principal)),
                label(&options, &a.account)
            ),
            Step::Unassign(a.clone()),
        ));
    }
}

/// Notes for the assignments left out: to hand-made identities where the `IdP`'s are meant,
/// and to the management account when a delegated administrator plans.
fn left_out(
    hand_made: &BTreeSet<(PrincipalKind, String)>,
    untouchable: &BTreeSet<String>,
    plan: &mut CenterPlan,
) {
    for (kind, name) in hand_made {
        plan.notes.push(format!(
            "{} `{name}` is in the identity store but was not provisioned by the IdP (it has no external id): with identities = \"external\" iamspec assigns only the IdP's identities, so its assignments are not made; delete the hand-made one and let the IdP provision it",
            kind.as_str()
        ));
    }
    for account in untouchable {
        plan.notes.push(format!(
            "assignments to the management account {account} are left out: only a caller in the management account can make them (a delegated administrator cannot); plan and apply from there to make them"
        ));
    }
}

/// Permission sets the spec does not declare: pruned when iamspec's, else noted.
fn undeclared_sets(
    center: &IdentityCenter,
    live: &CenterState,
    options: Options<'_>,
    plan: &mut CenterPlan,
) {
    for set in &live.permission_sets {
        if center.permission_sets.contains_key(&set.name) {
            continue;
        }
        if !options.prune {
            plan.notes.push(format!(
                "permission set `{}` is not in the spec: --prune deletes it if iamspec made it (its iamspec:owner tag is {})",
                shown_name(&set.name), options.owner
            ));
            continue;
        }
        if set.owner.as_deref() != Some(options.owner) {
            plan.notes.push(format!(
                "permission set `{}` is not in the spec and not iamspec's (no iamspec:owner tag of {}): left alone",
                shown_name(&set.name), options.owner
            ));
            continue;
        }
        for a in live
            .assignments
            .iter()
            .filter(|a| a.permission_set == set.arn)
        {
            plan.changes.push(change(
                Action::Delete,
                "assignment",
                format!(
                    "{} `{}` loses permission set `{}` in account {}",
                    a.kind.as_str(),
                    shown_name(&live.principal_name(a.kind, &a.principal)),
                    shown_name(&set.name),
                    label(&options, &a.account)
                ),
                Step::Unassign(a.clone()),
            ));
        }
        plan.changes.push(change(
            Action::Delete,
            "permission set",
            format!("permission set `{}`", shown_name(&set.name)),
            Step::DeletePermissionSet {
                arn: set.arn.clone(),
            },
        ));
    }
}

/// Users and groups of the store the spec does not declare: with `--prune`, deleted unless an
/// `IdP` provisioned them.
fn undeclared_identities(
    center: &IdentityCenter,
    live: &CenterState,
    options: Options<'_>,
    plan: &mut CenterPlan,
) {
    let users = live
        .users
        .iter()
        .filter(|u| !center.users.contains_key(&u.name))
        .map(|u| ("user", &u.name, &u.id, u.external));
    let groups = live
        .groups
        .iter()
        .filter(|g| !center.groups.contains_key(&g.name))
        .map(|g| ("group", &g.name, &g.id, g.external));
    for (kind, name, id, external) in users.chain(groups) {
        if external {
            continue; // the IdP's: never deleted, not iamspec's to report
        }
        if !options.prune {
            plan.notes.push(format!(
                "{kind} `{}` is in the identity store but not in the spec: --prune deletes it",
                shown_name(name)
            ));
            continue;
        }
        let step = if kind == "user" {
            Step::DeleteUser { id: id.clone() }
        } else {
            Step::DeleteGroup { id: id.clone() }
        };
        plan.changes.push(change(
            Action::Delete,
            if kind == "user" { "user" } else { "group" },
            format!("{kind} `{}`", shown_name(name)),
            step,
        ));
    }
}

#[cfg(test)]
mod tests;
