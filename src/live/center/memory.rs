//! An IAM Identity Center in memory, for tests of what the local endpoint lacks: boundaries,
//! tags, provisioning status, user updates, asynchronous requests that take a while or fail,
//! concurrent edits refused, and AWS's refusals of duplicates.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use super::{
    CenterApi, CenterCall, Instance, LiveAssignment, LivePermissionSet, Made, Membership,
    PrincipalKind, Request, SetDetails, Status, StoreGroup, StoreUser,
};
use crate::live::{ApiError, ErrorKind};

/// A permission set as the memory holds it.
#[derive(Debug, Clone, Default)]
pub struct Set {
    pub arn: String,
    pub name: String,
    pub description: Option<String>,
    pub session: u64,
    pub details: SetDetails,
    pub owner: Option<String>,
    /// Which version of its policies each account has: provisioning brings it up to date.
    pub version: u64,
    pub provisioned: BTreeMap<String, u64>,
}

/// Everything the memory holds, open to tests.
#[derive(Debug, Default)]
pub struct State {
    pub users: Vec<StoreUser>,
    pub groups: Vec<StoreGroup>,
    pub memberships: Vec<Membership>,
    pub sets: Vec<Set>,
    pub assignments: BTreeSet<LiveAssignment>,
    /// Every call made, by action.
    pub calls: Vec<&'static str>,
    /// How many status polls an asynchronous request answers `IN_PROGRESS` before it is done.
    pub polls_before_done: usize,
    /// Assignments into this account fail, with this reason.
    pub failing_account: Option<(String, String)>,
    /// Provisioning fails, with this reason.
    pub failing_provisioning: Option<String>,
    /// The next this-many edits answer `ConflictException`.
    pub conflicts: usize,
    requests: BTreeMap<String, (usize, Status)>,
    next: u64,
}

/// An Identity Center in memory.
pub struct MemoryCenter {
    pub instance: Instance,
    pub state: Mutex<State>,
}

impl Default for MemoryCenter {
    fn default() -> Self {
        Self {
            instance: Instance {
                arn: "arn:aws:sso:::instance/ssoins-0000000000000000".to_owned(),
                store: "d-0000000000".to_owned(),
            },
            state: Mutex::new(State::default()),
        }
    }
}

fn conflict(message: &str) -> ApiError {
    ApiError::new(
        ErrorKind::Other,
        Some("ConflictException".to_owned()),
        message,
    )
}

fn missing(what: &str) -> ApiError {
    ApiError::new(
        ErrorKind::NoSuchEntity,
        Some("ResourceNotFoundException".to_owned()),
        format!("{what} does not exist"),
    )
}

impl State {
    fn id(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}{:04}", self.next)
    }

    fn set(&mut self, arn: &str) -> Result<&mut Set, ApiError> {
        self.sets
            .iter_mut()
            .find(|s| s.arn == arn)
            .ok_or_else(|| missing("the permission set"))
    }

    /// A request, done now or after some polls.
    fn request(&mut self, request: Request, outcome: Status) -> Made {
        let id = self.id("req-");
        if self.polls_before_done == 0 {
            if let Status::Failed(reason) = outcome {
                self.requests
                    .insert(id.clone(), (0, Status::Failed(reason)));
                return Made::Pending(request, id);
            }
            return Made::Done;
        }
        self.requests
            .insert(id.clone(), (self.polls_before_done, outcome));
        Made::Pending(request, id)
    }

    /// A permission set's policies changed: accounts must be provisioned again.
    fn edited(&mut self, arn: &str) -> Result<(), ApiError> {
        self.set(arn)?.version += 1;
        Ok(())
    }

    fn store_call(&mut self, call: &CenterCall) -> Result<Option<Made>, ApiError> {
        let made = match call {
            CenterCall::CreateGroup { name, description } => {
                if self.groups.iter().any(|g| g.name == *name) {
                    return Err(conflict("a group of that name exists"));
                }
                let id = self.id("g-");
                self.groups.push(StoreGroup {
                    id: id.clone(),
                    name: name.clone(),
                    description: description.clone(),
                    external: false,
                });
                Made::Created(id)
            }
            CenterCall::UpdateGroup { id, description } => {
                let group = self.groups.iter_mut().find(|g| g.id == *id);
                group.ok_or_else(|| missing("the group"))?.description = description.clone();
                Made::Done
            }
            CenterCall::DeleteGroup { id } => {
                self.groups.retain(|g| g.id != *id);
                self.memberships.retain(|m| m.group_id != *id);
                Made::Done
            }
            CenterCall::CreateUser { user } => {
                if self.users.iter().any(|u| u.name == user.name) {
                    return Err(conflict("a user of that name exists"));
                }
                let id = self.id("u-");
                self.users.push(StoreUser {
                    id: id.clone(),
                    ..user.clone()
                });
                Made::Created(id)
            }
            CenterCall::UpdateUser { user } => {
                let found = self.users.iter_mut().find(|u| u.id == user.id);
                *found.ok_or_else(|| missing("the user"))? = user.clone();
                Made::Done
            }
            CenterCall::DeleteUser { id } => {
                self.users.retain(|u| u.id != *id);
                self.memberships.retain(|m| m.user_id != *id);
                Made::Done
            }
            CenterCall::AddMember { group_id, user_id } => {
                if self
                    .memberships
                    .iter()
                    .any(|m| m.group_id == *group_id && m.user_id == *user_id)
                {
                    return Err(conflict("the user is in the group"));
                }
                let id = self.id("m-");
                self.memberships.push(Membership {
                    id: id.clone(),
                    group_id: group_id.clone(),
                    user_id: user_id.clone(),
                });
                Made::Created(id)
            }
            CenterCall::RemoveMember { membership_id } => {
                self.memberships.retain(|m| m.id != *membership_id);
                Made::Done
            }
            _ => return Ok(None),
        };
        Ok(Some(made))
    }

    #[allow(clippy::too_many_lines)] // one arm a call
    fn sso_call(&mut self, instance: &Instance, call: &CenterCall) -> Result<Made, ApiError> {
        match call {
            CenterCall::CreatePermissionSet {
                name,
                description,
                session,
                owner,
            } => {
                if self.sets.iter().any(|s| s.name == *name) {
                    return Err(conflict("a permission set of that name exists"));
                }
                let arn = format!("{}/{}", instance.arn, self.id("ps-"));
                self.sets.push(Set {
                    arn: arn.clone(),
                    name: name.clone(),
                    description: description.clone(),
                    session: *session,
                    owner: Some(owner.clone()),
                    ..Set::default()
                });
                Ok(Made::Created(arn))
            }
            CenterCall::UpdatePermissionSet {
                arn,
                description,
                session,
            } => {
                let set = self.set(arn)?;
                set.description.clone_from(description);
                set.session = *session;
                self.edited(arn)?;
                Ok(Made::Done)
            }
            CenterCall::DeletePermissionSet { arn } => {
                if self.assignments.iter().any(|a| a.permission_set == *arn) {
                    return Err(conflict("the permission set is assigned"));
                }
                self.sets.retain(|s| s.arn != *arn);
                Ok(Made::Done)
            }
            CenterCall::AttachManaged { arn, policy } => {
                if !self.set(arn)?.details.managed.insert(policy.clone()) {
                    return Err(conflict("the policy is attached"));
                }
                self.edited(arn)?;
                Ok(Made::Done)
            }
            CenterCall::DetachManaged { arn, policy } => {
                self.set(arn)?.details.managed.remove(policy);
                self.edited(arn)?;
                Ok(Made::Done)
            }
            CenterCall::PutInline { arn, document } => {
                let json = serde_json::from_str(document).map_err(|e| {
                    ApiError::new(
                        ErrorKind::Other,
                        Some("ValidationException".into()),
                        e.to_string(),
                    )
                })?;
                self.set(arn)?.details.inline = Some(json);
                self.edited(arn)?;
                Ok(Made::Done)
            }
            CenterCall::DeleteInline { arn } => {
                self.set(arn)?.details.inline = None;
                self.edited(arn)?;
                Ok(Made::Done)
            }
            CenterCall::AttachCustomer { arn, reference } => {
                self.set(arn)?.details.customer.insert(reference.clone());
                self.edited(arn)?;
                Ok(Made::Done)
            }
            CenterCall::DetachCustomer { arn, reference } => {
                self.set(arn)?.details.customer.remove(reference);
                self.edited(arn)?;
                Ok(Made::Done)
            }
            CenterCall::PutBoundary { arn, boundary } => {
                self.set(arn)?.details.boundary = Some(boundary.clone());
                self.edited(arn)?;
                Ok(Made::Done)
            }
            CenterCall::DeleteBoundary { arn } => {
                self.set(arn)?.details.boundary = None;
                self.edited(arn)?;
                Ok(Made::Done)
            }
            CenterCall::Provision { arn, account } => {
                if let Some(reason) = self.failing_provisioning.clone() {
                    return Ok(self.request(Request::Provisioning, Status::Failed(reason)));
                }
                let set = self.set(arn)?;
                let version = set.version;
                for (a, v) in &mut set.provisioned {
                    if account.as_ref().is_none_or(|only| only == a) {
                        *v = version;
                    }
                }
                Ok(self.request(Request::Provisioning, Status::Succeeded))
            }
            CenterCall::TagPermissionSet { arn, owner } => {
                self.set(arn)?.owner = Some(owner.clone());
                Ok(Made::Done)
            }
            CenterCall::Assign(a) => {
                if let Some((account, reason)) = &self.failing_account
                    && *account == a.account
                {
                    let reason = reason.clone();
                    return Ok(self.request(Request::Assignment, Status::Failed(reason)));
                }
                let set = self.set(&a.permission_set)?;
                let version = set.version;
                set.provisioned.insert(a.account.clone(), version);
                set.details.accounts.insert(a.account.clone());
                self.assignments.insert(a.clone());
                Ok(self.request(Request::Assignment, Status::Succeeded))
            }
            CenterCall::Unassign(a) => {
                self.assignments.remove(a);
                Ok(self.request(Request::Unassignment, Status::Succeeded))
            }
            _ => Err(missing("the call")),
        }
    }
}

impl MemoryCenter {
    pub fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn log(&self, action: &'static str) {
        self.lock().calls.push(action);
    }
}

impl CenterApi for MemoryCenter {
    async fn instances(&self) -> Result<Vec<Instance>, ApiError> {
        self.log("ListInstances");
        Ok(vec![self.instance.clone()])
    }

    async fn users(&self, _store: &str) -> Result<Vec<StoreUser>, ApiError> {
        self.log("ListUsers");
        Ok(self.lock().users.clone())
    }

    async fn groups(&self, _store: &str) -> Result<Vec<StoreGroup>, ApiError> {
        self.log("ListGroups");
        Ok(self.lock().groups.clone())
    }

    async fn find_user(&self, _store: &str, name: &str) -> Result<Option<StoreUser>, ApiError> {
        self.log("GetUserId");
        Ok(self.lock().users.iter().find(|u| u.name == name).cloned())
    }

    async fn find_group(&self, _store: &str, name: &str) -> Result<Option<StoreGroup>, ApiError> {
        self.log("GetGroupId");
        Ok(self.lock().groups.iter().find(|g| g.name == name).cloned())
    }

    async fn principal_name(
        &self,
        _store: &str,
        kind: PrincipalKind,
        id: &str,
    ) -> Result<Option<String>, ApiError> {
        self.log("DescribePrincipal");
        let state = self.lock();
        Ok(match kind {
            PrincipalKind::User => state
                .users
                .iter()
                .find(|u| u.id == id)
                .map(|u| u.name.clone()),
            PrincipalKind::Group => state
                .groups
                .iter()
                .find(|g| g.id == id)
                .map(|g| g.name.clone()),
        })
    }

    async fn memberships(&self, _store: &str, group_id: &str) -> Result<Vec<Membership>, ApiError> {
        self.log("ListGroupMemberships");
        let state = self.lock();
        Ok(state
            .memberships
            .iter()
            .filter(|m| m.group_id == group_id)
            .cloned()
            .collect())
    }

    async fn permission_sets(&self, _instance: &str) -> Result<Vec<LivePermissionSet>, ApiError> {
        self.log("ListPermissionSets");
        let state = self.lock();
        Ok(state
            .sets
            .iter()
            .map(|s| LivePermissionSet {
                arn: s.arn.clone(),
                name: s.name.clone(),
                description: s.description.clone(),
                session: Some(s.session),
                details: None,
                owner: None,
            })
            .collect())
    }

    async fn details(&self, _instance: &str, arn: &str) -> Result<SetDetails, ApiError> {
        self.log("PermissionSetDetails");
        let mut state = self.lock();
        // AWS provisions a permission set to each account it is assigned in.
        let assigned: Vec<String> = state
            .assignments
            .iter()
            .filter(|a| a.permission_set == arn)
            .map(|a| a.account.clone())
            .collect();
        let set = state.set(arn)?;
        let mut details = set.details.clone();
        details.accounts.extend(set.provisioned.keys().cloned());
        details.outdated = set
            .provisioned
            .iter()
            .filter(|(_, v)| **v < set.version)
            .map(|(a, _)| a.clone())
            .collect();
        details.accounts.extend(assigned);
        Ok(details)
    }

    async fn owner(&self, _instance: &str, arn: &str) -> Result<Option<String>, ApiError> {
        self.log("ListTagsForResource");
        Ok(self.lock().set(arn)?.owner.clone())
    }

    async fn assignments(
        &self,
        _instance: &str,
        account: &str,
        arn: &str,
    ) -> Result<Vec<LiveAssignment>, ApiError> {
        self.log("ListAccountAssignments");
        let state = self.lock();
        Ok(state
            .assignments
            .iter()
            .filter(|a| a.account == account && a.permission_set == arn)
            .cloned()
            .collect())
    }

    async fn call(&self, instance: &Instance, call: &CenterCall) -> Result<Made, ApiError> {
        let mut state = self.lock();
        state.calls.push(call_name(call));
        if state.conflicts > 0 {
            state.conflicts -= 1;
            return Err(conflict("another edit of this permission set is under way"));
        }
        if let Some(made) = state.store_call(call)? {
            return Ok(made);
        }
        state.sso_call(instance, call)
    }

    async fn status(
        &self,
        _instance: &str,
        _request: Request,
        id: &str,
    ) -> Result<Status, ApiError> {
        let mut state = self.lock();
        state.calls.push("DescribeStatus");
        let entry = state
            .requests
            .get_mut(id)
            .ok_or_else(|| missing("the request"))?;
        if entry.0 > 0 {
            entry.0 -= 1;
            return Ok(Status::InProgress(id.to_owned()));
        }
        Ok(entry.1.clone())
    }
}

/// The action a call names, for the log.
pub fn call_name(call: &CenterCall) -> &'static str {
    match call {
        CenterCall::CreateGroup { .. } => "CreateGroup",
        CenterCall::UpdateGroup { .. } => "UpdateGroup",
        CenterCall::DeleteGroup { .. } => "DeleteGroup",
        CenterCall::CreateUser { .. } => "CreateUser",
        CenterCall::UpdateUser { .. } => "UpdateUser",
        CenterCall::DeleteUser { .. } => "DeleteUser",
        CenterCall::AddMember { .. } => "CreateGroupMembership",
        CenterCall::RemoveMember { .. } => "DeleteGroupMembership",
        CenterCall::CreatePermissionSet { .. } => "CreatePermissionSet",
        CenterCall::UpdatePermissionSet { .. } => "UpdatePermissionSet",
        CenterCall::DeletePermissionSet { .. } => "DeletePermissionSet",
        CenterCall::AttachManaged { .. } => "AttachManagedPolicyToPermissionSet",
        CenterCall::DetachManaged { .. } => "DetachManagedPolicyFromPermissionSet",
        CenterCall::PutInline { .. } => "PutInlinePolicyToPermissionSet",
        CenterCall::DeleteInline { .. } => "DeleteInlinePolicyFromPermissionSet",
        CenterCall::AttachCustomer { .. } => "AttachCustomerManagedPolicyReferenceToPermissionSet",
        CenterCall::DetachCustomer { .. } => {
            "DetachCustomerManagedPolicyReferenceFromPermissionSet"
        }
        CenterCall::PutBoundary { .. } => "PutPermissionsBoundaryToPermissionSet",
        CenterCall::DeleteBoundary { .. } => "DeletePermissionsBoundaryFromPermissionSet",
        CenterCall::Provision { .. } => "ProvisionPermissionSet",
        CenterCall::TagPermissionSet { .. } => "TagResource",
        CenterCall::Assign(_) => "CreateAccountAssignment",
        CenterCall::Unassign(_) => "DeleteAccountAssignment",
    }
}
