//! `[identity_center]` of an organization file: people who sign in through IAM Identity
//! Center (its identity store's users and groups), permission sets (what they may do) and
//! assignments (which principal gets which permission set in which accounts), checked
//! offline like the rest of the file.
//!
//! Which accounts an assignment takes is known only once AWS Organizations is read
//! (`crate::org::accounts_of`); everything else is checked here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;

use super::organization::{Checker, Selector};
use super::raw::Spanned;
use super::{BUILTIN_ADDONS, Location, did_you_mean, files};
use crate::document::Document;
use crate::lint::{Severity, managed};

/// A permission set's session when `session` is not given: Identity Center's default.
pub const DEFAULT_SESSION: u64 = 3600;
const MIN_SESSION: u64 = 3600;
const MAX_SESSION: u64 = 12 * 3600;
/// Identity Center's limits on a permission set.
const MAX_PERMISSION_SET_NAME: usize = 32;
const MAX_PERMISSION_SET_DESCRIPTION: usize = 700;
const MAX_MANAGED: usize = 20;
const MAX_CUSTOMER: usize = 20;
const MAX_INLINE: usize = 32_768;
/// The identity store's limits on names.
const MAX_USER_NAME: usize = 128;
const MAX_NAME: usize = 1024;

/// `[identity_center]`, as the organization file writes it. Unknown keys are errors.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIdentityCenter {
    /// The instance's ARN; by default the organization's one instance.
    instance: Option<Spanned<String>>,
    /// `iamspec` (users and groups are made in the identity store) or `external` (an `IdP`
    /// provisions them; they are only looked up by name).
    identities: Option<Spanned<String>>,
    #[serde(default)]
    groups: BTreeMap<Spanned<String>, Spanned<RawGroup>>,
    #[serde(default)]
    users: BTreeMap<Spanned<String>, Spanned<RawUser>>,
    #[serde(default)]
    permission_sets: BTreeMap<Spanned<String>, Spanned<RawPermissionSet>>,
    #[serde(default)]
    assignments: Vec<Spanned<RawAssignment>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    description: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    display_name: Option<Spanned<String>>,
    given_name: Option<Spanned<String>>,
    family_name: Option<Spanned<String>>,
    email: Option<Spanned<String>>,
    #[serde(default)]
    groups: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPermissionSet {
    description: Option<Spanned<String>>,
    /// `1h` to `12h`.
    session: Option<Spanned<String>>,
    #[serde(default)]
    policies: Vec<Spanned<String>>,
    #[serde(default)]
    addons: Vec<Spanned<String>>,
    /// One inline document: a JSON file's path, relative to the organization file, or a table.
    inline: Option<Spanned<toml::Value>>,
    #[serde(default)]
    customer_policies: Vec<Spanned<String>>,
    boundary: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAssignment {
    permission_set: Spanned<String>,
    #[serde(default)]
    groups: Vec<Spanned<String>>,
    #[serde(default)]
    users: Vec<Spanned<String>>,
    accounts: Option<Spanned<toml::Value>>,
    #[serde(default)]
    exclude: Vec<Spanned<String>>,
    #[serde(default)]
    ous: Vec<Spanned<String>>,
    #[serde(default)]
    tags: BTreeMap<String, Spanned<String>>,
}

/// A validated `[identity_center]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityCenter {
    pub at: Location,
    /// The instance's ARN, when the file names one.
    pub instance: Option<String>,
    pub identities: Identities,
    pub groups: BTreeMap<String, Group>,
    pub users: BTreeMap<String, User>,
    pub permission_sets: BTreeMap<String, PermissionSet>,
    pub assignments: Vec<Assignment>,
    /// The linter's findings below error on the permission sets' inline documents.
    pub notes: Vec<String>,
}

/// Who makes the identity store's users and groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identities {
    /// iamspec: the users and groups of the file are made, changed and (with `--prune`) the
    /// store's others deleted, except those an `IdP` provisioned.
    Iamspec,
    /// An `IdP` (SCIM): the file's users and groups are looked up by name, never changed.
    External,
}

impl Identities {
    pub fn as_str(self) -> &'static str {
        match self {
            Identities::Iamspec => "iamspec",
            Identities::External => "external",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub email: Option<String>,
    /// The file's groups it is a member of.
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionSet {
    pub at: Location,
    pub description: Option<String>,
    /// The session length, in seconds.
    pub session: u64,
    /// AWS-managed policies, as `path + name` (`/job-function/ViewOnlyAccess`), add-ons'
    /// included, sorted.
    pub managed: BTreeSet<String>,
    pub inline: Option<Document>,
    pub customer: BTreeSet<PolicyReference>,
    pub boundary: Option<Boundary>,
}

/// A customer-managed policy a permission set names: the IAM policy of that name and path in
/// each account it is provisioned to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyReference {
    pub path: String,
    pub name: String,
}

impl std::fmt::Display for PolicyReference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path == "/" {
            f.write_str(&self.name)
        } else {
            write!(f, "{}{}", self.path, self.name)
        }
    }
}

/// A permissions boundary of a permission set.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Boundary {
    /// An AWS-managed policy, as `path + name`.
    AwsManaged(String),
    Customer(PolicyReference),
}

impl std::fmt::Display for Boundary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Boundary::AwsManaged(path_name) => {
                write!(
                    f,
                    "{} (AWS-managed)",
                    path_name.rsplit('/').next().unwrap_or_default()
                )
            }
            Boundary::Customer(reference) => write!(f, "{reference} (customer-managed)"),
        }
    }
}

/// One `[[identity_center.assignments]]`: its principals get its permission set in every
/// account its selectors take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub at: Location,
    pub permission_set: String,
    pub groups: Vec<String>,
    pub users: Vec<String>,
    pub selector: Selector,
}

/// The ARN of an AWS-managed policy, from its `path + name`.
pub fn aws_policy_arn(partition: &str, path_name: &str) -> String {
    format!("arn:{partition}:iam::aws:policy{path_name}")
}

/// Seconds from a session length as the file writes it (`8h`, `90m`, `1h30m`).
fn session_seconds(text: &str) -> Option<u64> {
    humantime::parse_duration(text.trim())
        .ok()
        .map(|d| d.as_secs())
}

/// A session length as Identity Center takes it: ISO 8601 (`PT8H`, `PT1H30M`).
pub fn iso_duration(seconds: u64) -> String {
    let (hours, minutes) = (seconds / 3600, seconds % 3600 / 60);
    match (hours, minutes) {
        (h, 0) => format!("PT{h}H"),
        (0, m) => format!("PT{m}M"),
        (h, m) => format!("PT{h}H{m}M"),
    }
}

/// Seconds from an ISO 8601 duration as Identity Center returns it (`PT8H`, `PT90M`).
pub fn parse_iso_duration(text: &str) -> Option<u64> {
    let rest = text.strip_prefix("PT")?;
    let mut seconds = 0;
    let mut number = String::new();
    for c in rest.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = number.parse().ok()?;
        number.clear();
        seconds += n * match c {
            'H' => 3600,
            'M' => 60,
            'S' => 1,
            _ => return None,
        };
    }
    number.is_empty().then_some(seconds)
}

/// Checks `[identity_center]`; problems go to the checker, with the file's other problems.
pub(super) fn check(
    checker: &mut Checker<'_>,
    raw: &Spanned<RawIdentityCenter>,
    dir: &Path,
) -> IdentityCenter {
    let at = raw.span().start;
    let raw = raw.get_ref();
    let mut notes = Vec::new();
    let instance = raw.instance.as_ref().map(|i| {
        let ok = i
            .get_ref()
            .strip_prefix("arn:")
            .and_then(|r| r.split_once(":sso:::instance/"))
            .is_some_and(|(_, id)| id.starts_with("ssoins-") && id.len() > 7);
        if !ok {
            checker.error(
                i.span().start,
                format!(
                    "[identity_center] instance `{}` is not an instance ARN: write arn:aws:sso:::instance/ssoins-..., as `aws sso-admin list-instances` shows it",
                    i.get_ref()
                ),
            );
        }
        i.get_ref().clone()
    });
    let identities = match raw.identities.as_ref().map(|i| (i, i.get_ref().as_str())) {
        None | Some((_, "iamspec")) => Identities::Iamspec,
        Some((_, "external")) => Identities::External,
        Some((i, other)) => {
            checker.error(
                i.span().start,
                format!(
                    "[identity_center] identities is `iamspec` (iamspec makes the users and groups) or `external` (an IdP provisions them), not `{other}`"
                ),
            );
            Identities::Iamspec
        }
    };
    let groups: BTreeMap<String, Group> = raw
        .groups
        .iter()
        .map(|(name, group)| {
            (
                name.get_ref().clone(),
                self::group(checker, name, group, identities),
            )
        })
        .collect();
    let users: BTreeMap<String, User> = raw
        .users
        .iter()
        .map(|(name, user)| {
            let user = self::user(checker, name, user, identities, &groups);
            (name.get_ref().clone(), user)
        })
        .collect();
    let permission_sets: BTreeMap<String, PermissionSet> = raw
        .permission_sets
        .iter()
        .map(|(name, set)| {
            let set = permission_set(checker, name, set, dir, &mut notes);
            (name.get_ref().clone(), set)
        })
        .collect();
    unique_ignoring_case(checker, "permission set", raw.permission_sets.keys());
    unique_ignoring_case(checker, "user", raw.users.keys());
    unique_ignoring_case(checker, "group", raw.groups.keys());
    let assignments = raw
        .assignments
        .iter()
        .map(|a| assignment(checker, a, &groups, &users, &permission_sets))
        .collect();
    IdentityCenter {
        at: checker.source.locate(at),
        instance,
        identities,
        groups,
        users,
        permission_sets,
        assignments,
        notes,
    }
}

fn unique_ignoring_case<'k>(
    checker: &mut Checker<'_>,
    kind: &str,
    names: impl Iterator<Item = &'k Spanned<String>>,
) {
    let mut seen: BTreeMap<String, &Spanned<String>> = BTreeMap::new();
    for name in names {
        if let Some(first) = seen.insert(name.get_ref().to_lowercase(), name) {
            checker.error(
                name.span().start.max(first.span().start),
                format!(
                    "{kind} names `{}` and `{}` differ only in case; Identity Center treats them as the same {kind}",
                    first.get_ref(),
                    name.get_ref()
                ),
            );
        }
    }
}

/// Text the identity store takes for a name: 1 to `max` characters, no control characters,
/// not blank at either end.
/// Whether the file takes an identity-store user as it is (its name and attributes): what
/// export may write of one read from AWS.
pub fn loads_user(user: &crate::live::center::StoreUser) -> bool {
    let name = &user.name;
    let name_ok = !name.is_empty()
        && name.chars().count() <= MAX_USER_NAME
        && !name.chars().any(|c| c.is_whitespace() || c.is_control());
    let attributes = [&user.display_name, &user.given_name, &user.family_name];
    name_ok
        && attributes.iter().all(|a| {
            a.as_deref()
                .is_none_or(|t| text_problem(t, MAX_NAME).is_none())
        })
        && user.email.as_deref().is_none_or(is_email)
}

/// Whether the file takes an identity-store group as it is.
pub fn loads_group(group: &crate::live::center::StoreGroup) -> bool {
    text_problem(&group.name, MAX_NAME).is_none()
        && group
            .description
            .as_deref()
            .is_none_or(|d| text_problem(d, MAX_NAME).is_none())
}

fn text_problem(text: &str, max: usize) -> Option<String> {
    if text.trim().is_empty() {
        Some("is empty".to_owned())
    } else if text.chars().count() > max {
        Some(format!("is longer than {max} characters"))
    } else if text.chars().any(char::is_control) {
        Some("has a control character".to_owned())
    } else if text.trim() != text {
        Some("begins or ends with a space".to_owned())
    } else {
        None
    }
}

fn check_text(checker: &mut Checker<'_>, what: &str, value: &Spanned<String>, max: usize) {
    if let Some(problem) = text_problem(value.get_ref(), max) {
        checker.error(value.span().start, format!("{what} {problem}"));
    }
}

fn group(
    checker: &mut Checker<'_>,
    name: &Spanned<String>,
    raw: &Spanned<RawGroup>,
    identities: Identities,
) -> Group {
    check_text(checker, "a group's name", name, MAX_NAME);
    let description = raw.get_ref().description.as_ref().map(|d| {
        check_text(
            checker,
            &format!("group `{}`'s description", name.get_ref()),
            d,
            MAX_NAME,
        );
        d.get_ref().clone()
    });
    if identities == Identities::External && description.is_some() {
        checker.error(
            raw.span().start,
            format!(
                "group `{}` has a description, but with identities = \"external\" the IdP owns groups: leave only the name",
                name.get_ref()
            ),
        );
    }
    Group { description }
}

fn user(
    checker: &mut Checker<'_>,
    name: &Spanned<String>,
    raw: &Spanned<RawUser>,
    identities: Identities,
    groups: &BTreeMap<String, Group>,
) -> User {
    let user = name.get_ref();
    let text = name.get_ref();
    let valid = !text.is_empty()
        && text.chars().count() <= MAX_USER_NAME
        && !text.chars().any(|c| c.is_whitespace() || c.is_control());
    if !valid {
        // Escaped: a control character must not reach the terminal that shows the error.
        checker.error(
            name.span().start,
            format!(
                "user name `{}` is 1 to {MAX_USER_NAME} characters without spaces or control characters, as the identity store takes it",
                text.escape_debug()
            ),
        );
    }
    let r = raw.get_ref();
    let attributes = [
        ("display_name", &r.display_name),
        ("given_name", &r.given_name),
        ("family_name", &r.family_name),
    ];
    for (key, value) in attributes {
        match (value, identities) {
            (Some(v), Identities::Iamspec) => {
                check_text(checker, &format!("user `{user}`'s {key}"), v, MAX_NAME);
            }
            (None, Identities::Iamspec) => checker.error(
                raw.span().start,
                format!("user `{user}` has no `{key}`: the identity store needs display_name, given_name and family_name"),
            ),
            (Some(v), Identities::External) => checker.error(
                v.span().start,
                format!("user `{user}` sets `{key}`, but with identities = \"external\" the IdP owns users: leave only the name"),
            ),
            (None, Identities::External) => {}
        }
    }
    if let Some(email) = &r.email {
        if identities == Identities::External {
            checker.error(
                email.span().start,
                format!("user `{user}` sets `email`, but with identities = \"external\" the IdP owns users: leave only the name"),
            );
        } else if !is_email(email.get_ref()) {
            checker.error(
                email.span().start,
                format!(
                    "user `{user}`'s email `{}` is not an address like name@example.com",
                    email.get_ref()
                ),
            );
        }
    }
    if identities == Identities::External
        && let Some(first) = r.groups.first()
    {
        checker.error(
            first.span().start,
            format!("user `{user}` lists groups, but with identities = \"external\" the IdP says who is in which group"),
        );
    }
    let mut member_of = Vec::new();
    for group in &r.groups {
        if !groups.contains_key(group.get_ref()) {
            let hint = did_you_mean(group.get_ref(), groups.keys().map(String::as_str));
            checker.error(
                group.span().start,
                format!(
                    "user `{user}` is in group `{}`, which [identity_center.groups] does not declare{hint}",
                    group.get_ref()
                ),
            );
        } else if !member_of.contains(group.get_ref()) {
            member_of.push(group.get_ref().clone());
        }
    }
    User {
        display_name: r.display_name.as_ref().map(|v| v.get_ref().clone()),
        given_name: r.given_name.as_ref().map(|v| v.get_ref().clone()),
        family_name: r.family_name.as_ref().map(|v| v.get_ref().clone()),
        email: r.email.as_ref().map(|v| v.get_ref().clone()),
        groups: member_of,
    }
}

/// An address as the identity store takes it: something, one `@`, a domain with a dot.
fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
        && text.len() <= 320
}

fn permission_set(
    checker: &mut Checker<'_>,
    name: &Spanned<String>,
    raw: &Spanned<RawPermissionSet>,
    dir: &Path,
    notes: &mut Vec<String>,
) -> PermissionSet {
    let set = name.get_ref();
    let valid_name = !set.is_empty()
        && set.len() <= MAX_PERMISSION_SET_NAME
        && set
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if !valid_name {
        checker.error(
            name.span().start,
            format!("permission set name `{set}` is 1 to {MAX_PERMISSION_SET_NAME} letters, digits and _ + = , . @ -"),
        );
    }
    let r = raw.get_ref();
    let description = r.description.as_ref().map(|d| {
        let text = d.get_ref();
        let ok = !text.is_empty()
            && text.chars().count() <= MAX_PERMISSION_SET_DESCRIPTION
            && text
                .chars()
                .all(|c| matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{a1}'..='\u{ff}'));
        if !ok {
            checker.error(
                d.span().start,
                format!("permission set `{set}`'s description is 1 to {MAX_PERMISSION_SET_DESCRIPTION} characters of Latin-1 text, as Identity Center takes it"),
            );
        }
        text.clone()
    });
    let session = r.session.as_ref().map_or(DEFAULT_SESSION, |s| {
        match session_seconds(s.get_ref()) {
            Some(seconds @ MIN_SESSION..=MAX_SESSION) if seconds % 60 == 0 => seconds,
            _ => {
                checker.error(
                    s.span().start,
                    format!("permission set `{set}`'s session `{}` is not 1h to 12h (in whole minutes, like `8h` or `1h30m`)", s.get_ref()),
                );
                DEFAULT_SESSION
            }
        }
    });
    let managed = managed_policies(checker, set, raw);
    let mut customer = BTreeSet::new();
    for reference in &r.customer_policies {
        if let Some(parsed) = policy_reference(checker, set, reference) {
            customer.insert(parsed);
        }
    }
    if customer.len() > MAX_CUSTOMER {
        checker.error(
            raw.span().start,
            format!("permission set `{set}` names {} customer-managed policies; Identity Center takes at most {MAX_CUSTOMER}", customer.len()),
        );
    }
    let boundary = r.boundary.as_ref().and_then(|b| {
        if managed::path(b.get_ref()).is_some() {
            aws_managed(checker, set, b, "boundary").map(Boundary::AwsManaged)
        } else {
            policy_reference(checker, set, b).map(Boundary::Customer)
        }
    });
    let inline = r
        .inline
        .as_ref()
        .and_then(|value| inline(checker, set, value, dir, notes));
    PermissionSet {
        at: checker.source.locate(name.span().start),
        description,
        session,
        managed,
        inline,
        customer,
        boundary,
    }
}

/// The AWS-managed policies of a permission set, its add-ons' included.
fn managed_policies(
    checker: &mut Checker<'_>,
    set: &str,
    raw: &Spanned<RawPermissionSet>,
) -> BTreeSet<String> {
    let r = raw.get_ref();
    let mut managed = BTreeSet::new();
    for policy in &r.policies {
        if let Some(path_name) = aws_managed(checker, set, policy, "policies") {
            managed.insert(path_name);
        }
    }
    for addon in &r.addons {
        if let Some((_, policies)) = BUILTIN_ADDONS
            .iter()
            .find(|(n, _)| *n == addon.get_ref().as_str())
        {
            for p in *policies {
                managed.insert(format!("{}{p}", managed::path(p).unwrap_or("/")));
            }
        } else {
            let known: Vec<&str> = BUILTIN_ADDONS.iter().map(|(n, _)| *n).collect();
            checker.error(
                addon.span().start,
                format!(
                    "add-on `{}` is not built in{} (a permission set takes the built-in add-ons: {}; layers' [addons] are IAM's)",
                    addon.get_ref(),
                    did_you_mean(addon.get_ref(), known.iter().copied()),
                    known.join(", ")
                ),
            );
        }
    }
    if managed.len() > MAX_MANAGED {
        checker.error(
            raw.span().start,
            format!("permission set `{set}` has {} AWS-managed policies (add-ons included); Identity Center attaches at most {MAX_MANAGED}", managed.len()),
        );
    }
    managed
}

/// An AWS-managed policy by name (or `path/name`): `path + name` if the snapshot has it.
fn aws_managed(
    checker: &mut Checker<'_>,
    set: &str,
    policy: &Spanned<String>,
    key: &str,
) -> Option<String> {
    let written = policy.get_ref();
    let name = written.rsplit('/').next().unwrap_or_default();
    if let Some(path) = managed::path(name) {
        return Some(format!("{path}{name}"));
    }
    let hint = did_you_mean(name, managed::names());
    checker.error(
        policy.span().start,
        format!(
            "permission set `{set}`: `{written}` in `{key}` is not an AWS-managed policy{hint} (a customer-managed policy goes in `customer_policies`)"
        ),
    );
    None
}

/// `Name` or `path/Name` of a customer-managed policy.
fn policy_reference(
    checker: &mut Checker<'_>,
    set: &str,
    reference: &Spanned<String>,
) -> Option<PolicyReference> {
    let text = reference.get_ref().trim_start_matches('/');
    let (path, name) = crate::iam::split_path_name(text);
    let valid = crate::iam::check_policy_name(name).and_then(|()| {
        if path == "/" {
            Ok(())
        } else {
            crate::iam::check_path(&path)
        }
    });
    match valid {
        Ok(()) => Some(PolicyReference {
            path,
            name: name.to_owned(),
        }),
        Err(why) => {
            checker.error(
                reference.span().start,
                format!(
                    "permission set `{set}`: customer-managed policy `{}`: {why}",
                    reference.get_ref()
                ),
            );
            None
        }
    }
}

/// The inline document: a JSON file beside the organization file (never outside its folder)
/// or a table, checked as IAM would and by the linter.
fn inline(
    checker: &mut Checker<'_>,
    set: &str,
    value: &Spanned<toml::Value>,
    dir: &Path,
    notes: &mut Vec<String>,
) -> Option<Document> {
    let at = value.span().start;
    let what = format!("the inline policy of permission set `{set}`");
    let json = match value.get_ref() {
        toml::Value::String(relative) => {
            let read = files::confine(dir, relative)
                .and_then(|(_, resolved)| files::read_text(&resolved, files::MAX_DOCUMENT_BYTES));
            let text = match read {
                Ok(text) => text,
                Err(err) => {
                    checker.error(
                        at,
                        format!(
                            "cannot read {what}, {}: {err}",
                            dir.join(relative).display()
                        ),
                    );
                    return None;
                }
            };
            match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(json) if json.get("Statement").is_some() => json,
                Ok(_) => {
                    checker.error(
                        at,
                        format!(
                            "{what}, {relative}, is not a policy document: it has no `Statement`"
                        ),
                    );
                    return None;
                }
                Err(err) => {
                    checker.error(at, format!("{what}, {relative}, is not valid JSON: {err}"));
                    return None;
                }
            }
        }
        toml::Value::Table(table) => {
            serde_json::to_value(table).expect("a TOML table converts to JSON")
        }
        other => {
            checker.error(
                at,
                format!("{what} must be the path of a JSON file (a string) or an inline table, not the {} {other}", other.type_str()),
            );
            return None;
        }
    };
    let findings = crate::document::check(&json);
    for error in findings.errors {
        checker.error(at, format!("{what}: {error}"));
    }
    for warning in findings.warnings {
        notes.push(format!("{}: {what}: {warning}", checker.place(at)));
    }
    for finding in crate::lint::document(&what, &json) {
        let statement = finding
            .statement
            .map(|s| format!(", statement {s}"))
            .unwrap_or_default();
        let line = format!("[{}] {what}{statement}: {}", finding.code, finding.message);
        if finding.severity == Severity::Error {
            checker.error(at, line);
        } else {
            notes.push(format!("{}: {line}", checker.place(at)));
        }
    }
    let document = Document::new(json);
    if document.size() > MAX_INLINE {
        checker.error(
            at,
            format!(
                "{what} is {} characters; Identity Center takes at most {MAX_INLINE}",
                document.size()
            ),
        );
    }
    Some(document)
}

fn assignment(
    checker: &mut Checker<'_>,
    raw: &Spanned<RawAssignment>,
    groups: &BTreeMap<String, Group>,
    users: &BTreeMap<String, User>,
    sets: &BTreeMap<String, PermissionSet>,
) -> Assignment {
    let at = raw.span().start;
    let r = raw.get_ref();
    let set = r.permission_set.get_ref();
    if !sets.contains_key(set) {
        let hint = did_you_mean(set, sets.keys().map(String::as_str));
        checker.error(
            r.permission_set.span().start,
            format!("this assignment names permission set `{set}`, which [identity_center.permission_sets] does not declare{hint}"),
        );
    }
    if r.groups.is_empty() && r.users.is_empty() {
        checker.error(
            at,
            "this assignment names no principal: give it `groups` or `users`".to_owned(),
        );
    }
    let mut principals = |kind: &str,
                          list: &[Spanned<String>],
                          known: &mut dyn Iterator<Item = &String>| {
        let known: Vec<&str> = known.map(String::as_str).collect();
        let mut names = Vec::new();
        for name in list {
            if !known.contains(&name.get_ref().as_str()) {
                let hint = did_you_mean(name.get_ref(), known.iter().copied());
                checker.error(
                    name.span().start,
                    format!("this assignment names {kind} `{}`, which [identity_center.{kind}s] does not declare{hint}", name.get_ref()),
                );
            } else if !names.contains(name.get_ref()) {
                names.push(name.get_ref().clone());
            }
        }
        names
    };
    let group_names = principals("group", &r.groups, &mut groups.keys());
    let user_names = principals("user", &r.users, &mut users.keys());
    let selector = checker.selector(
        raw.span(),
        r.accounts.as_ref(),
        &r.exclude,
        &r.ous,
        &r.tags,
        "assignment",
    );
    Assignment {
        at: checker.source.locate(at),
        permission_set: set.clone(),
        groups: group_names,
        users: user_names,
        selector,
    }
}

#[cfg(test)]
pub(crate) mod tests;
