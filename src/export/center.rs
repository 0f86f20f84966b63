//! `[identity_center]` from an instance as it is, for `export --organization`: a file whose
//! plan has nothing to do. Inline documents go to JSON files beside it; assignments are
//! grouped by permission set and accounts, so a group assigned to forty accounts is one
//! entry.

use std::collections::{BTreeMap, BTreeSet};

use toml::{Table, Value};

use crate::document;
use crate::live::center::{CenterState, LiveBoundary, PrincipalKind};
use crate::spec::BUILTIN_ADDONS;
use crate::spec::identity_center::{DEFAULT_SESSION, PolicyReference};

/// The TOML of `[identity_center]`, and the documents it names, by path relative to the
/// organization file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CenterExport {
    pub toml: String,
    pub files: Vec<(String, String)>,
    /// What could not be written the way the spec takes it.
    pub notes: Vec<String>,
}

fn strings(items: impl IntoIterator<Item = String>) -> Value {
    Value::Array(items.into_iter().map(Value::String).collect())
}

fn reference(r: &PolicyReference) -> String {
    if r.path == "/" {
        r.name.clone()
    } else {
        format!("{}{}", r.path.trim_start_matches('/'), r.name)
    }
}

/// `3600` -> `1h`, `5400` -> `1h30m`.
fn session(seconds: u64) -> String {
    let (hours, minutes) = (seconds / 3600, seconds % 3600 / 60);
    match (hours, minutes) {
        (h, 0) => format!("{h}h"),
        (0, m) => format!("{m}m"),
        (h, m) => format!("{h}h{m}m"),
    }
}

/// The instance as `[identity_center]`. A user or group whose name or attributes the file
/// would not take (a control character, say: names are whoever made them) is left out, with
/// its memberships and assignments, and a note.
pub fn export(live: &CenterState) -> CenterExport {
    let mut notes = Vec::new();
    let loadable = loadable(live, &mut notes);
    let live = &loadable;
    let external = live.users.iter().any(|u| u.external) || live.groups.iter().any(|g| g.external);
    let mut center = Table::new();
    center.insert("instance".into(), Value::String(live.instance.arn.clone()));
    center.insert(
        "identities".into(),
        Value::String(if external { "external" } else { "iamspec" }.into()),
    );
    let mut groups = Table::new();
    for g in &live.groups {
        let mut table = Table::new();
        if let (false, Some(d)) = (external, &g.description) {
            table.insert("description".into(), Value::String(d.clone()));
        }
        groups.insert(g.name.clone(), Value::Table(table));
    }
    let mut users = Table::new();
    for u in &live.users {
        let mut table = Table::new();
        if !external {
            let fields = [
                ("display_name", &u.display_name),
                ("given_name", &u.given_name),
                ("family_name", &u.family_name),
                ("email", &u.email),
            ];
            for (key, value) in fields {
                if let Some(v) = value {
                    table.insert(key.into(), Value::String(v.clone()));
                }
            }
            let member_of: BTreeSet<String> = live
                .memberships
                .iter()
                .filter(|m| m.user_id == u.id)
                .map(|m| live.principal_name(PrincipalKind::Group, &m.group_id))
                .collect();
            if !member_of.is_empty() {
                table.insert("groups".into(), strings(member_of));
            }
        }
        users.insert(u.name.clone(), Value::Table(table));
    }
    let (sets, files) = permission_sets(live, &mut notes);
    center.insert("groups".into(), Value::Table(groups));
    center.insert("users".into(), Value::Table(users));
    center.insert("permission_sets".into(), Value::Table(sets));
    let assignments = assignments(live);
    if !assignments.is_empty() {
        center.insert("assignments".into(), Value::Array(assignments));
    }
    let mut root = Table::new();
    root.insert("identity_center".into(), Value::Table(center));
    CenterExport {
        toml: toml::to_string(&root).expect("a table serialises"),
        files,
        notes,
    }
}

type Files = Vec<(String, String)>;

/// The groups and the users of one assignment entry.
type Principals = (Vec<String>, Vec<String>);

fn permission_sets(live: &CenterState, notes: &mut Vec<String>) -> (Table, Files) {
    let mut sets = Table::new();
    let mut files = Vec::new();
    for set in &live.permission_sets {
        let mut table = Table::new();
        if let Some(d) = &set.description {
            table.insert("description".into(), Value::String(d.clone()));
        }
        table.insert(
            "session".into(),
            Value::String(session(set.session.unwrap_or(DEFAULT_SESSION))),
        );
        let details = set.details.clone().unwrap_or_default();
        let mut names: BTreeSet<String> = details
            .managed
            .iter()
            .map(|arn| arn.rsplit('/').next().unwrap_or(arn).to_owned())
            .collect();
        let mut addons = Vec::new();
        for (addon, policies) in BUILTIN_ADDONS {
            if policies.iter().all(|p| names.contains(*p)) {
                for p in *policies {
                    names.remove(*p);
                }
                addons.push((*addon).to_owned());
            }
        }
        for name in &names {
            if crate::lint::managed::path(name).is_none() {
                notes.push(format!(
                    "permission set `{}` has AWS-managed policy {name}, which this iamspec's snapshot does not know: the file will not validate until it does",
                    set.name
                ));
            }
        }
        table.insert("policies".into(), strings(names));
        if !addons.is_empty() {
            table.insert("addons".into(), strings(addons));
        }
        if let Some(inline) = &details.inline {
            let relative = format!("permission-sets/{}.json", set.name);
            files.push((relative.clone(), document::pretty(inline)));
            table.insert("inline".into(), Value::String(relative));
        }
        if !details.customer.is_empty() {
            table.insert(
                "customer_policies".into(),
                strings(details.customer.iter().map(reference)),
            );
        }
        match &details.boundary {
            Some(LiveBoundary::Managed(arn)) => {
                let name = arn.rsplit('/').next().unwrap_or(arn);
                table.insert("boundary".into(), Value::String(name.to_owned()));
            }
            Some(LiveBoundary::Customer(r)) => {
                table.insert("boundary".into(), Value::String(reference(r)));
            }
            None => {}
        }
        sets.insert(set.name.clone(), Value::Table(table));
    }
    (sets, files)
}

/// One entry per permission set and set of accounts, naming every principal that has the
/// permission set in exactly those accounts.
fn assignments(live: &CenterState) -> Vec<Value> {
    // (set, principal) -> accounts
    let mut by_principal: BTreeMap<(String, PrincipalKind, String), BTreeSet<String>> =
        BTreeMap::new();
    for a in &live.assignments {
        let Some(set) = live
            .permission_sets
            .iter()
            .find(|s| s.arn == a.permission_set)
        else {
            continue;
        };
        let name = live.principal_name(a.kind, &a.principal);
        by_principal
            .entry((set.name.clone(), a.kind, name))
            .or_default()
            .insert(a.account.clone());
    }
    // (set, accounts) -> (groups, users)
    let mut grouped: BTreeMap<(String, BTreeSet<String>), Principals> = BTreeMap::new();
    for ((set, kind, name), accounts) in by_principal {
        let entry = grouped.entry((set, accounts)).or_default();
        match kind {
            PrincipalKind::Group => entry.0.push(name),
            PrincipalKind::User => entry.1.push(name),
        }
    }
    grouped
        .into_iter()
        .map(|((set, accounts), (groups, users))| {
            let mut table = Table::new();
            table.insert("permission_set".into(), Value::String(set));
            if !groups.is_empty() {
                table.insert("groups".into(), strings(groups));
            }
            if !users.is_empty() {
                table.insert("users".into(), strings(users));
            }
            table.insert("accounts".into(), strings(accounts));
            Value::Table(table)
        })
        .collect()
}

/// The instance without the users and groups the file would not take.
fn loadable(live: &CenterState, notes: &mut Vec<String>) -> CenterState {
    use crate::spec::identity_center::{loads_group, loads_user};
    let mut kept = live.clone();
    let mut gone = BTreeSet::new();
    kept.users.retain(|u| {
        let ok = loads_user(u);
        if !ok {
            notes.push(format!(
                "user `{}` is left out: its name or attributes hold what an organization file cannot (a control character, a space in the name, an invalid email); rename it in the identity store to export it",
                crate::render::untrusted(&u.name)
            ));
            gone.insert(u.id.clone());
        }
        ok
    });
    kept.groups.retain(|g| {
        let ok = loads_group(g);
        if !ok {
            notes.push(format!(
                "group `{}` is left out: its name or description holds what an organization file cannot (a control character, a leading or trailing space); rename it in the identity store to export it",
                crate::render::untrusted(&g.name)
            ));
            gone.insert(g.id.clone());
        }
        ok
    });
    kept.memberships
        .retain(|m| !gone.contains(&m.user_id) && !gone.contains(&m.group_id));
    kept.assignments.retain(|a| !gone.contains(&a.principal));
    kept
}
