//! IAM Identity Center as it is: the instance, its identity store's users, groups and
//! memberships, its permission sets and their assignments, read through the `CenterApi` seam
//! (`aws::AwsCenter` over the SDK; `memory::MemoryCenter` in tests) in as few calls as the
//! spec needs.
//!
//! Only what the spec can change is read in full: memberships of the spec's groups, the
//! policies of the spec's permission sets, and their assignments in the accounts where AWS
//! says they are provisioned or the spec assigns them.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use futures::{StreamExt, TryStreamExt};

use super::ApiError;
use crate::spec::identity_center::{Boundary, Identities, IdentityCenter, PolicyReference};

#[cfg(test)]
pub mod memory;

/// How many reads go at once.
const READS: usize = 8;

/// An Identity Center instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub arn: String,
    pub store: String,
}

/// A user of the identity store.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoreUser {
    pub id: String,
    pub name: String,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// The primary email address (or the first).
    pub email: Option<String>,
    /// Provisioned by an external `IdP` (it has external ids): iamspec never changes or deletes it.
    pub external: bool,
}

/// A group of the identity store.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoreGroup {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub external: bool,
}

/// A user's membership in a group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Membership {
    pub id: String,
    pub group_id: String,
    pub user_id: String,
}

/// Whether a principal is a user or a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PrincipalKind {
    User,
    Group,
}

impl PrincipalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::Group => "group",
        }
    }

    /// As Identity Center writes it: `USER`, `GROUP`.
    pub fn aws(self) -> &'static str {
        match self {
            PrincipalKind::User => "USER",
            PrincipalKind::Group => "GROUP",
        }
    }
}

/// A permission set as listed: what `DescribePermissionSet` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LivePermissionSet {
    pub arn: String,
    pub name: String,
    pub description: Option<String>,
    /// Session length in seconds, when it has one.
    pub session: Option<u64>,
    /// What is attached to it: read only for the spec's permission sets and those pruned.
    pub details: Option<SetDetails>,
    /// Its `iamspec:owner` tag: read for the spec's permission sets (to adopt or refuse them)
    /// and, when pruning, for the others.
    pub owner: Option<String>,
}

/// A permission set's policies and where it is provisioned.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SetDetails {
    /// AWS-managed policy ARNs.
    pub managed: BTreeSet<String>,
    pub inline: Option<serde_json::Value>,
    pub customer: BTreeSet<PolicyReference>,
    pub boundary: Option<LiveBoundary>,
    /// Accounts it is provisioned to.
    pub accounts: BTreeSet<String>,
    /// Accounts that run an out-of-date version of it: a change was made and not provisioned
    /// there (`ListAccountsForProvisionedPermissionSet`, `LATEST_PERMISSION_SET_NOT_PROVISIONED`),
    /// whatever stopped the apply that made it.
    pub outdated: BTreeSet<String>,
}

/// A permissions boundary as Identity Center holds it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum LiveBoundary {
    /// An AWS-managed policy's ARN.
    Managed(String),
    Customer(PolicyReference),
}

impl LiveBoundary {
    /// The boundary as the spec writes it, in `partition`.
    pub fn from_spec(boundary: &Boundary, partition: &str) -> Self {
        match boundary {
            Boundary::AwsManaged(path_name) => LiveBoundary::Managed(
                crate::spec::identity_center::aws_policy_arn(partition, path_name),
            ),
            Boundary::Customer(reference) => LiveBoundary::Customer(reference.clone()),
        }
    }
}

/// One account assignment: a principal gets a permission set in an account.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LiveAssignment {
    pub permission_set: String,
    pub account: String,
    pub kind: PrincipalKind,
    pub principal: String,
}

/// What an asynchronous request of Identity Center came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    InProgress(String),
    Succeeded,
    Failed(String),
}

/// Which asynchronous request a status is asked of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    Assignment,
    Unassignment,
    Provisioning,
}

/// Identity Center as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CenterState {
    pub instance: Instance,
    pub users: Vec<StoreUser>,
    pub groups: Vec<StoreGroup>,
    /// The memberships of the spec's groups.
    pub memberships: Vec<Membership>,
    pub permission_sets: Vec<LivePermissionSet>,
    pub assignments: BTreeSet<LiveAssignment>,
    /// Names of principals found in assignments that are not among `users` and `groups`.
    pub names: BTreeMap<String, String>,
}

impl CenterState {
    pub fn user(&self, name: &str) -> Option<&StoreUser> {
        self.users.iter().find(|u| u.name == name)
    }

    pub fn group(&self, name: &str) -> Option<&StoreGroup> {
        self.groups.iter().find(|g| g.name == name)
    }

    pub fn permission_set(&self, name: &str) -> Option<&LivePermissionSet> {
        self.permission_sets.iter().find(|p| p.name == name)
    }

    /// How a principal is named: by its name when it is known, else by its id.
    pub fn principal_name(&self, kind: PrincipalKind, id: &str) -> String {
        let known = match kind {
            PrincipalKind::User => self.users.iter().find(|u| u.id == id).map(|u| &u.name),
            PrincipalKind::Group => self.groups.iter().find(|g| g.id == id).map(|g| &g.name),
        };
        known
            .or_else(|| self.names.get(id))
            .cloned()
            .unwrap_or_else(|| id.to_owned())
    }
}

/// A change to Identity Center: one call or a few (a permission set's creation, an
/// assignment and the wait for it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CenterCall {
    CreateGroup {
        name: String,
        description: Option<String>,
    },
    UpdateGroup {
        id: String,
        description: Option<String>,
    },
    DeleteGroup {
        id: String,
    },
    CreateUser {
        user: StoreUser,
    },
    /// Sets every attribute the spec gives.
    UpdateUser {
        user: StoreUser,
    },
    DeleteUser {
        id: String,
    },
    AddMember {
        group_id: String,
        user_id: String,
    },
    RemoveMember {
        membership_id: String,
    },
    CreatePermissionSet {
        name: String,
        description: Option<String>,
        session: u64,
        owner: String,
    },
    UpdatePermissionSet {
        arn: String,
        description: Option<String>,
        session: u64,
    },
    DeletePermissionSet {
        arn: String,
    },
    AttachManaged {
        arn: String,
        policy: String,
    },
    DetachManaged {
        arn: String,
        policy: String,
    },
    PutInline {
        arn: String,
        document: String,
    },
    DeleteInline {
        arn: String,
    },
    AttachCustomer {
        arn: String,
        reference: PolicyReference,
    },
    DetachCustomer {
        arn: String,
        reference: PolicyReference,
    },
    PutBoundary {
        arn: String,
        boundary: LiveBoundary,
    },
    DeleteBoundary {
        arn: String,
    },
    /// To one account, or (`None`) to every account it is provisioned in.
    Provision {
        arn: String,
        account: Option<String>,
    },
    /// Tags a permission set `iamspec:owner = owner` (adoption).
    TagPermissionSet {
        arn: String,
        owner: String,
    },
    Assign(LiveAssignment),
    Unassign(LiveAssignment),
}

/// What a successful call returned that matters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Made {
    Done,
    /// The id or ARN of what a create made.
    Created(String),
    /// An asynchronous request, to be waited for.
    Pending(Request, String),
}

/// What Identity Center offers iamspec. Reads never change anything.
pub trait CenterApi: Sync {
    /// Every instance the caller can see (`ListInstances`).
    fn instances(&self) -> impl Future<Output = Result<Vec<Instance>, ApiError>> + Send;

    /// Every user of the store (`ListUsers`, paged).
    fn users(&self, store: &str) -> impl Future<Output = Result<Vec<StoreUser>, ApiError>> + Send;

    /// Every group of the store (`ListGroups`, paged).
    fn groups(&self, store: &str)
    -> impl Future<Output = Result<Vec<StoreGroup>, ApiError>> + Send;

    /// A user by name (`GetUserId`, `DescribeUser`).
    fn find_user(
        &self,
        store: &str,
        name: &str,
    ) -> impl Future<Output = Result<Option<StoreUser>, ApiError>> + Send;

    /// A group by name (`GetGroupId`, `DescribeGroup`).
    fn find_group(
        &self,
        store: &str,
        name: &str,
    ) -> impl Future<Output = Result<Option<StoreGroup>, ApiError>> + Send;

    /// A principal's name by id, if it exists (`DescribeUser`, `DescribeGroup`).
    fn principal_name(
        &self,
        store: &str,
        kind: PrincipalKind,
        id: &str,
    ) -> impl Future<Output = Result<Option<String>, ApiError>> + Send;

    /// A group's memberships (`ListGroupMemberships`, paged).
    fn memberships(
        &self,
        store: &str,
        group_id: &str,
    ) -> impl Future<Output = Result<Vec<Membership>, ApiError>> + Send;

    /// Every permission set, described (`ListPermissionSets`, `DescribePermissionSet`).
    fn permission_sets(
        &self,
        instance: &str,
    ) -> impl Future<Output = Result<Vec<LivePermissionSet>, ApiError>> + Send;

    /// What is attached to a permission set and where it is provisioned.
    fn details(
        &self,
        instance: &str,
        arn: &str,
    ) -> impl Future<Output = Result<SetDetails, ApiError>> + Send;

    /// A permission set's `iamspec:owner` tag (`ListTagsForResource`).
    fn owner(
        &self,
        instance: &str,
        arn: &str,
    ) -> impl Future<Output = Result<Option<String>, ApiError>> + Send;

    /// The assignments of a permission set in an account (`ListAccountAssignments`).
    fn assignments(
        &self,
        instance: &str,
        account: &str,
        arn: &str,
    ) -> impl Future<Output = Result<Vec<LiveAssignment>, ApiError>> + Send;

    /// Makes one change.
    fn call(
        &self,
        instance: &Instance,
        call: &CenterCall,
    ) -> impl Future<Output = Result<Made, ApiError>> + Send;

    /// The status of an asynchronous request.
    fn status(
        &self,
        instance: &str,
        request: Request,
        id: &str,
    ) -> impl Future<Output = Result<Status, ApiError>> + Send;
}

/// What the read needs to know beyond the spec.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadOptions<'a> {
    /// Undeclared permission sets' owners are read only when pruning.
    pub prune: bool,
    /// The accounts the spec assigns each permission set to: read there even where AWS does
    /// not (yet) say it is provisioned.
    pub assigned: Option<&'a BTreeMap<String, BTreeSet<String>>>,
}

/// Reads what the spec's `[identity_center]` needs. Fails whole: a plan from half an
/// instance would make what exists.
pub async fn read<A: CenterApi>(
    api: &A,
    center: &IdentityCenter,
    options: ReadOptions<'_>,
) -> Result<CenterState, ApiError> {
    let instance = instance(api, center).await?;
    let store = instance.store.as_str();
    let (users, groups) = match center.identities {
        Identities::Iamspec => futures::try_join!(api.users(store), api.groups(store))?,
        Identities::External => {
            let users = futures::stream::iter(center.users.keys())
                .map(|name| api.find_user(store, name))
                .buffered(READS)
                .try_collect::<Vec<_>>();
            let groups = futures::stream::iter(center.groups.keys())
                .map(|name| api.find_group(store, name))
                .buffered(READS)
                .try_collect::<Vec<_>>();
            let (users, groups) = futures::try_join!(users, groups)?;
            (
                users.into_iter().flatten().collect(),
                groups.into_iter().flatten().collect(),
            )
        }
    };
    let memberships = if center.identities == Identities::Iamspec {
        let declared: Vec<&StoreGroup> = groups
            .iter()
            .filter(|g| center.groups.contains_key(&g.name))
            .collect();
        let lists: Vec<Vec<Membership>> = futures::stream::iter(declared)
            .map(|g| api.memberships(store, &g.id))
            .buffered(READS)
            .try_collect()
            .await?;
        lists.into_iter().flatten().collect()
    } else {
        Vec::new()
    };
    let mut permission_sets = api.permission_sets(&instance.arn).await?;
    fill_sets(api, center, &instance, &mut permission_sets, options.prune).await?;
    let mut state = CenterState {
        instance,
        users,
        groups,
        memberships,
        permission_sets,
        assignments: BTreeSet::new(),
        names: BTreeMap::new(),
    };
    state.assignments = assignments(api, &state, options).await?;
    state.names = names(api, &state).await?;
    Ok(state)
}

/// The instance the spec names, or the caller's one instance.
async fn instance<A: CenterApi>(api: &A, center: &IdentityCenter) -> Result<Instance, ApiError> {
    let instances = api.instances().await?;
    let problem = |message: String| ApiError::new(super::ErrorKind::Other, None, message);
    match (&center.instance, instances.as_slice()) {
        (Some(arn), all) => all.iter().find(|i| i.arn == *arn).cloned().ok_or_else(|| {
            let seen: Vec<&str> = all.iter().map(|i| i.arn.as_str()).collect();
            problem(format!(
                "[identity_center] instance {arn} is not an instance these credentials see (they see: {}); run iamspec where Identity Center is administered, in its region",
                if seen.is_empty() { "none".to_owned() } else { seen.join(", ") }
            ))
        }),
        (None, [one]) => Ok(one.clone()),
        (None, []) => Err(problem(
            "no IAM Identity Center instance is visible to these credentials: enable Identity Center (in the management account or its delegated administrator, in the region set for iamspec)".to_owned(),
        )),
        (None, many) => Err(problem(format!(
            "{} Identity Center instances are visible: name one in [identity_center] instance",
            many.len()
        ))),
    }
}

/// The details and owners of the spec's permission sets (an untagged one is adopted, one of
/// another owner refused), and of the others when pruning (only an owned one is deleted).
async fn fill_sets<A: CenterApi>(
    api: &A,
    center: &IdentityCenter,
    instance: &Instance,
    sets: &mut [LivePermissionSet],
    prune: bool,
) -> Result<(), ApiError> {
    let mut names = BTreeMap::new();
    for set in sets.iter() {
        if let Some(first) = names.insert(set.name.clone(), set.arn.clone())
            && center.permission_sets.contains_key(&set.name)
        {
            return Err(ApiError::new(
                super::ErrorKind::Other,
                None,
                format!(
                    "the instance has two permission sets named `{}` ({first} and {}): delete one by hand, then plan again",
                    set.name, set.arn
                ),
            ));
        }
    }
    let instance = instance.arn.as_str();
    let wanted: Vec<usize> = (0..sets.len())
        .filter(|i| prune || center.permission_sets.contains_key(&sets[*i].name))
        .collect();
    let read: Vec<(usize, SetDetails, Option<String>)> = futures::stream::iter(wanted)
        .map(|i| {
            let set = &sets[i];
            async move {
                let (details, owner) = futures::try_join!(
                    api.details(instance, &set.arn),
                    api.owner(instance, &set.arn)
                )?;
                Ok::<_, ApiError>((i, details, owner))
            }
        })
        .buffered(READS)
        .try_collect()
        .await?;
    for (i, details, owner) in read {
        sets[i].details = Some(details);
        sets[i].owner = owner;
    }
    Ok(())
}

/// The assignments of every permission set whose details were read, in each account it is
/// provisioned to or the spec assigns it to.
async fn assignments<A: CenterApi>(
    api: &A,
    state: &CenterState,
    options: ReadOptions<'_>,
) -> Result<BTreeSet<LiveAssignment>, ApiError> {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    for set in &state.permission_sets {
        let Some(details) = &set.details else {
            continue;
        };
        let mut accounts = details.accounts.clone();
        if let Some(assigned) = options.assigned.and_then(|a| a.get(&set.name)) {
            accounts.extend(assigned.iter().cloned());
        }
        pairs.extend(accounts.into_iter().map(|a| (set.arn.as_str(), a)));
    }
    let instance = state.instance.arn.as_str();
    let lists: Vec<Vec<LiveAssignment>> = futures::stream::iter(pairs)
        .map(|(arn, account)| async move { api.assignments(instance, &account, arn).await })
        .buffered(READS)
        .try_collect()
        .await?;
    Ok(lists.into_iter().flatten().collect())
}

/// The names of assigned principals the store's read did not cover (an `IdP`'s, with
/// identities = "external").
async fn names<A: CenterApi>(
    api: &A,
    state: &CenterState,
) -> Result<BTreeMap<String, String>, ApiError> {
    let unknown: BTreeSet<(PrincipalKind, &str)> = state
        .assignments
        .iter()
        .filter(|a| state.principal_name(a.kind, &a.principal) == a.principal)
        .map(|a| (a.kind, a.principal.as_str()))
        .collect();
    let store = state.instance.store.as_str();
    let found: Vec<Option<(String, String)>> = futures::stream::iter(unknown)
        .map(|(kind, id)| async move {
            let name = api.principal_name(store, kind, id).await?;
            Ok::<_, ApiError>(name.map(|n| (id.to_owned(), n)))
        })
        .buffered(READS)
        .try_collect()
        .await?;
    Ok(found.into_iter().flatten().collect())
}

/// Everything the instance holds, for `export`: every user, group, membership, permission
/// set with its policies, and their assignments in every account of `accounts` (the
/// organization's) as well as where they are provisioned: an export is read once, and
/// exactly.
pub async fn read_all<A: CenterApi>(
    api: &A,
    instance: Instance,
    accounts: &[String],
) -> Result<CenterState, ApiError> {
    let store = instance.store.as_str();
    let (users, groups) = futures::try_join!(api.users(store), api.groups(store))?;
    let lists: Vec<Vec<Membership>> = futures::stream::iter(&groups)
        .map(|g| api.memberships(store, &g.id))
        .buffered(READS)
        .try_collect()
        .await?;
    let mut permission_sets = api.permission_sets(&instance.arn).await?;
    let arn = instance.arn.as_str();
    let details: Vec<SetDetails> = futures::stream::iter(&permission_sets)
        .map(|set| api.details(arn, &set.arn))
        .buffered(READS)
        .try_collect()
        .await?;
    for (set, details) in permission_sets.iter_mut().zip(details) {
        set.details = Some(details);
    }
    let mut state = CenterState {
        instance,
        users,
        groups,
        memberships: lists.into_iter().flatten().collect(),
        permission_sets,
        assignments: BTreeSet::new(),
        names: BTreeMap::new(),
    };
    let everywhere: BTreeMap<String, BTreeSet<String>> = state
        .permission_sets
        .iter()
        .map(|s| (s.name.clone(), accounts.iter().cloned().collect()))
        .collect();
    let options = ReadOptions {
        prune: false,
        assigned: Some(&everywhere),
    };
    state.assignments = assignments(api, &state, options).await?;
    Ok(state)
}
