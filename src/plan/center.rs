//! The plan for IAM Identity Center: each change as data, naming what it changes by name
//! (what a change creates has no id yet; `apply::center` finds ids as it goes).

use serde::Serialize;

use crate::live::center::{LiveAssignment, LiveBoundary, PrincipalKind, StoreUser};
use crate::spec::identity_center::PolicyReference;

/// What one change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Delete,
}

/// One change, as shown and as made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub action: Action,
    /// `group`, `user`, `membership`, `permission set`, `assignment`.
    pub kind: &'static str,
    /// What the plan says of it.
    pub text: String,
    pub step: Step,
}

/// A principal of an assignment, by name; its id when the instance already has it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Principal {
    pub kind: PrincipalKind,
    pub name: String,
}

/// What a change does, with names where ids are not known until apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    CreateGroup {
        name: String,
        description: Option<String>,
    },
    UpdateGroup {
        name: String,
        description: Option<String>,
    },
    DeleteGroup {
        id: String,
    },
    /// The user's id is empty until made.
    CreateUser(StoreUser),
    UpdateUser(StoreUser),
    DeleteUser {
        id: String,
    },
    AddMember {
        group: String,
        user: String,
    },
    RemoveMember {
        membership_id: String,
    },
    CreatePermissionSet {
        name: String,
        description: Option<String>,
        session: u64,
    },
    UpdatePermissionSet {
        name: String,
        description: Option<String>,
        session: u64,
    },
    AttachManaged {
        set: String,
        policy: String,
    },
    DetachManaged {
        set: String,
        policy: String,
    },
    PutInline {
        set: String,
        document: String,
    },
    DeleteInline {
        set: String,
    },
    AttachCustomer {
        set: String,
        reference: PolicyReference,
    },
    DetachCustomer {
        set: String,
        reference: PolicyReference,
    },
    PutBoundary {
        set: String,
        boundary: LiveBoundary,
    },
    DeleteBoundary {
        set: String,
    },
    /// To one account (one that runs an out-of-date version), or (`None`) to every account
    /// it is provisioned in, after its policies changed.
    Provision {
        set: String,
        account: Option<String>,
    },
    /// Adopts a permission set made outside iamspec: tags it `iamspec:owner`.
    TagPermissionSet {
        set: String,
    },
    Assign {
        set: String,
        principal: Principal,
        account: String,
    },
    /// An assignment the instance has, by its ids.
    Unassign(LiveAssignment),
    DeletePermissionSet {
        arn: String,
    },
}

impl Step {
    /// The account a change is made in: an assignment's, its deletion's, a provisioning's to
    /// one account. `None` for a change of the instance itself.
    pub fn account(&self) -> Option<&str> {
        match self {
            Step::Assign { account, .. } => Some(account),
            Step::Unassign(a) => Some(&a.account),
            Step::Provision { account, .. } => account.as_deref(),
            _ => None,
        }
    }

    /// The permission set a change is of, by name, when it names one.
    pub fn set(&self) -> Option<&str> {
        match self {
            Step::CreatePermissionSet { name: set, .. }
            | Step::UpdatePermissionSet { name: set, .. }
            | Step::AttachManaged { set, .. }
            | Step::DetachManaged { set, .. }
            | Step::PutInline { set, .. }
            | Step::DeleteInline { set }
            | Step::AttachCustomer { set, .. }
            | Step::DetachCustomer { set, .. }
            | Step::PutBoundary { set, .. }
            | Step::DeleteBoundary { set }
            | Step::Provision { set, .. }
            | Step::TagPermissionSet { set }
            | Step::Assign { set, .. } => Some(set),
            _ => None,
        }
    }
}

/// Every change to the instance, in the order they are made, and what the plan noticed but
/// leaves alone.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CenterPlan {
    pub instance: String,
    pub changes: Vec<Change>,
    /// Drift left alone and why, skipped assignments, IdP-provisioned identities.
    pub notes: Vec<String>,
    /// What iamspec refuses to do (a permission set of another owner): the plan cannot be
    /// applied while any is left.
    pub refused: Vec<String>,
}

impl CenterPlan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// How many changes delete something.
    pub fn deletions(&self) -> usize {
        self.changes
            .iter()
            .filter(|c| c.action == Action::Delete)
            .count()
    }
}
