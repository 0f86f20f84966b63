//! Stage 3 output: a plan is data. `diff` builds it, `render` shows it, `apply` executes exactly
//! its changes. Drift (what the account has beyond the spec) is reported beside the changes and
//! never acted on.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::spec::PolicyArn;

/// The version of the JSON plan format (`iamspec plan --json`).
pub const PLAN_FORMAT_VERSION: u32 = 1;

/// What reconciling the account with the spec takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub format_version: u32,
    /// The account the plan was made for; apply refuses any other.
    pub account: String,
    /// Who made the plan.
    pub caller: String,
    /// Changes to make, in an order that respects their dependencies.
    pub changes: Vec<Change>,
    /// What the account has for the spec's entities that the spec does not declare.
    pub drift: Vec<Drift>,
    pub summary: Summary,
}

impl Plan {
    pub fn new(
        account: String,
        caller: String,
        mut changes: Vec<Change>,
        drift: Vec<Drift>,
    ) -> Self {
        changes.sort_by_key(|c| c.op.stage());
        let summary = Summary::of(&changes);
        Self {
            format_version: PLAN_FORMAT_VERSION,
            account,
            caller,
            changes,
            drift,
            summary,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// Counts in Terraform's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub remove: usize,
}

impl Summary {
    fn of(changes: &[Change]) -> Self {
        let mut summary = Summary::default();
        for change in changes {
            match change.action {
                Action::Create => summary.add += 1,
                Action::Update => summary.change += 1,
            }
        }
        summary
    }
}

/// One change: its kind and the IAM call that makes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub action: Action,
    #[serde(flatten)]
    pub op: Op,
}

impl From<Op> for Change {
    fn from(op: Op) -> Self {
        let action = match op {
            Op::TagUser { .. } | Op::UpdateUserPath { .. } | Op::UpdateGroupPath { .. } => {
                Action::Update
            }
            _ => Action::Create,
        };
        Change { action, op }
    }
}

/// Terraform's symbols: `+` create, `~` update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
}

impl Action {
    pub fn symbol(self) -> char {
        match self {
            Action::Create => '+',
            Action::Update => '~',
        }
    }
}

/// One IAM call. The JSON form names it in `op` (snake case of the API action).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    CreateGroup {
        group: String,
        path: String,
    },
    CreateUser {
        user: String,
        path: String,
        tags: BTreeMap<String, String>,
    },
    UpdateGroupPath {
        group: String,
        from: String,
        to: String,
    },
    UpdateUserPath {
        user: String,
        from: String,
        to: String,
    },
    /// Adds or overwrites these tags; tags not listed are left alone.
    TagUser {
        user: String,
        tags: BTreeMap<String, String>,
    },
    AttachGroupPolicy {
        group: String,
        policy: PolicyArn,
    },
    AttachUserPolicy {
        user: String,
        policy: PolicyArn,
    },
    AddUserToGroup {
        user: String,
        group: String,
    },
    /// Creates a key whose secret is written to the secrets directory before success is reported.
    CreateAccessKey {
        user: String,
    },
}

impl Op {
    /// Ops of a lower stage must finish before a higher stage starts: entities exist before
    /// anything is attached to them.
    pub fn stage(&self) -> u8 {
        match self {
            Op::CreateGroup { .. } | Op::CreateUser { .. } => 0,
            _ => 1,
        }
    }

    /// The IAM API action name, as in IAM policies and `CloudTrail`.
    pub fn api_name(&self) -> &'static str {
        match self {
            Op::CreateGroup { .. } => "CreateGroup",
            Op::CreateUser { .. } => "CreateUser",
            Op::UpdateGroupPath { .. } => "UpdateGroup",
            Op::UpdateUserPath { .. } => "UpdateUser",
            Op::TagUser { .. } => "TagUser",
            Op::AttachGroupPolicy { .. } => "AttachGroupPolicy",
            Op::AttachUserPolicy { .. } => "AttachUserPolicy",
            Op::AddUserToGroup { .. } => "AddUserToGroup",
            Op::CreateAccessKey { .. } => "CreateAccessKey",
        }
    }

    /// The entities the call names, as `(kind, name)`: for messages and for knowing whether
    /// a `NoSuchEntity` answer can be IAM's eventual consistency after a create.
    pub fn entities(&self) -> Vec<(EntityKind, &str)> {
        match self {
            Op::CreateGroup { group, .. }
            | Op::UpdateGroupPath { group, .. }
            | Op::AttachGroupPolicy { group, .. } => vec![(EntityKind::Group, group)],
            Op::CreateUser { user, .. }
            | Op::UpdateUserPath { user, .. }
            | Op::TagUser { user, .. }
            | Op::AttachUserPolicy { user, .. }
            | Op::CreateAccessKey { user } => vec![(EntityKind::User, user)],
            Op::AddUserToGroup { user, group } => {
                vec![(EntityKind::User, user), (EntityKind::Group, group)]
            }
        }
    }

    /// The entity an op creates, if it creates one.
    pub fn creates(&self) -> Option<(EntityKind, &str)> {
        match self {
            Op::CreateGroup { group, .. } => Some((EntityKind::Group, group)),
            Op::CreateUser { user, .. } => Some((EntityKind::User, user)),
            _ => None,
        }
    }
}

/// The kinds of IAM entity a plan names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntityKind {
    User,
    Group,
}

impl EntityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::User => "user",
            EntityKind::Group => "group",
        }
    }
}

/// Something the account has for a spec entity that the spec does not declare. Reported, never
/// changed (v0.1 only adds).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Drift {
    /// A managed policy attached to a user or group beyond the spec's.
    ExtraPolicy {
        entity: EntityKind,
        name: String,
        policy: PolicyArn,
    },
    /// An inline policy on a user or group (the spec cannot declare them yet).
    InlinePolicy {
        entity: EntityKind,
        name: String,
        policy_name: String,
    },
    /// A membership beyond the spec's.
    ExtraMembership { user: String, group: String },
    /// A tag the spec does not list.
    ExtraTag {
        user: String,
        key: String,
        value: String,
    },
    /// An access key beyond what the spec asks for (none, or one active key).
    ExtraAccessKey {
        user: String,
        access_key_id: String,
        status: String,
    },
}
