//! Stage 3 output: a plan is data. `diff` builds it, `render` shows it, `apply` executes exactly
//! its changes. Drift (what the account has beyond the spec) is reported beside the changes and
//! never acted on.

pub mod center;
pub mod saved;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::iam::{EntityKind, Partition, PolicyArn};
use crate::lint::grants::Grants;
use crate::spec::PasswordPolicy;

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
    /// The caller's partition, which every ARN the plan names shares.
    pub partition: Partition,
    /// Changes to make, in an order that respects their dependencies.
    pub changes: Vec<Change>,
    /// What the account has for the spec's entities that the spec does not declare.
    pub drift: Vec<Drift>,
    /// What a prune would remove but iamspec never touches (the caller's own user and key).
    pub protected: Vec<String>,
    /// Keys whose secret an interrupted apply never saved, and that this plan does not
    /// replace (`--replace-lost-keys` does): nobody can use them.
    pub lost_secrets: Vec<LostSecret>,
    /// What the reader could not do the best way, and what it did instead.
    pub warnings: Vec<String>,
    /// What each principal whose policies change gains and loses, across its own and its
    /// groups' policies (AWS-managed ones where `live.aws_documents` has them).
    pub principals: Vec<PrincipalGrants>,
    pub summary: Summary,
}

/// What a group, user or role gains and loses through the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrincipalGrants {
    pub entity: EntityKind,
    pub name: String,
    #[serde(flatten)]
    pub grants: Grants,
}

impl Plan {
    pub fn new(
        account: String,
        caller: String,
        partition: Partition,
        mut changes: Vec<Change>,
        drift: Vec<Drift>,
    ) -> Self {
        changes.sort_by_key(|c| c.op.stage());
        let summary = Summary::of(&changes);
        Self {
            format_version: PLAN_FORMAT_VERSION,
            account,
            caller,
            partition,
            changes,
            drift,
            protected: Vec::new(),
            lost_secrets: Vec::new(),
            warnings: Vec::new(),
            principals: Vec::new(),
            summary,
        }
    }

    /// Users, groups, policies, roles, instance profiles and providers the plan deletes for good (a replacement's delete is not
    /// one: it creates the policy again).
    pub fn deletions(&self) -> usize {
        self.changes
            .iter()
            .filter(|c| {
                matches!(
                    c.op,
                    Op::DeleteUser { .. }
                        | Op::DeleteGroup { .. }
                        | Op::DeletePolicy { .. }
                        | Op::DeleteRole { .. }
                        | Op::DeleteInstanceProfile { .. }
                        | Op::DeleteOpenIdConnectProvider { .. }
                ) && !matches!(c.cause, Some(Cause::Replace { .. }))
            })
            .count()
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// There is something to do: changes to make, or a lost secret to replace.
    pub fn needs_attention(&self) -> bool {
        !self.changes.is_empty() || !self.lost_secrets.is_empty()
    }
}

/// An access key made by an apply that was interrupted before it saved the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LostSecret {
    pub user: String,
    pub access_key_id: String,
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
                Action::Delete => summary.remove += 1,
            }
        }
        summary
    }
}

/// One change: its kind, the IAM call that makes it, and why, when that is not obvious.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub action: Action,
    #[serde(flatten)]
    pub op: Op,
    /// Why the change is needed beyond "the spec says so"; `render` puts it into words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
    /// For a new or changed policy document: the actions it grants that were not granted, and
    /// those it no longer grants, wildcards expanded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grants: Option<Grants>,
}

impl Change {
    #[must_use]
    pub fn because(mut self, cause: Cause) -> Self {
        self.cause = Some(cause);
        self
    }
}

/// Why a change is in the plan when the spec did not ask for it as such. Data, not words:
/// decisions (`--max-deletes`) look at it, and `render` says it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Cause {
    /// A managed policy is deleted and made again, because IAM cannot change this in place.
    Replace { immutable: Immutable },
    /// An entity the spec names exists without the owner tag, and becomes this owner's.
    Adopt { owner: String },
    /// A replaced policy is given back to an entity that had it.
    Reattach,
    /// IAM keeps five versions of a managed policy: the oldest non-default one makes room.
    VersionLimit,
    /// `--prune`: what a spec entity has beyond the spec.
    PruneDrift,
    /// `--prune`: an owned entity that left the spec is deleted, after what IAM requires first.
    PruneEntity { entity: EntityKind, name: String },
    /// `--replace-lost-keys`: a key whose secret an interrupted apply lost.
    LostSecret,
    /// `--adopt-keys`: the declared key, made before iamspec marked its keys (or by hand), is
    /// marked as iamspec's, so that its rotation can retire it.
    AdoptKey { access_key_id: String },
    /// A step of an access key's rotation (`access_key = { max_age, overlap }`), with the
    /// age of the key that decides it (seconds) and the step after it.
    Rotation {
        step: RotationStep,
        /// The key the step is about: the one rotated, deactivated or deleted.
        access_key_id: String,
        age: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        next: Option<NextStep>,
    },
    /// `[account] disable_unused`: a credential unused this long (seconds), last used at
    /// `last_used` (seconds since 1970), or never.
    Unused {
        idle: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        last_used: Option<i64>,
    },
}

/// The steps of an access key's rotation, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RotationStep {
    /// A new key beside the old one.
    Rotate,
    /// The old key stops working, an overlap after the new one was made.
    Deactivate,
    /// The old key and its secret file go, another overlap later.
    Delete,
}

/// When the step after this one is due, in seconds since 1970.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct NextStep {
    pub step: RotationStep,
    pub due: i64,
}

/// What IAM cannot update on a managed policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "field", rename_all = "snake_case")]
pub enum Immutable {
    Path { from: String, to: String },
    Description,
}

impl From<Op> for Change {
    fn from(op: Op) -> Self {
        let action = match &op {
            Op::TagUser { .. }
            | Op::UntagUser { .. }
            | Op::TagPolicy { .. }
            | Op::UpdateUserPath { .. }
            | Op::UpdateGroupPath { .. }
            | Op::CreatePolicyVersion { .. }
            | Op::TagRole { .. }
            | Op::UntagRole { .. }
            | Op::UpdateRole { .. }
            | Op::UpdateAssumeRolePolicy { .. }
            | Op::TagOpenIdConnectProvider { .. }
            | Op::AddClientIdToOpenIdConnectProvider { .. }
            | Op::RemoveClientIdFromOpenIdConnectProvider { .. }
            | Op::UpdateOpenIdConnectProviderThumbprint { .. }
            | Op::UpdateAccessKey { .. } => Action::Update,
            Op::CreateAccountAlias { before, .. } if before.is_some() => Action::Update,
            Op::UpdateAccountPasswordPolicy { before, .. } if before.is_some() => Action::Update,
            Op::PutUserPolicy { before, .. }
            | Op::PutGroupPolicy { before, .. }
            | Op::PutRolePolicy { before, .. }
                if before.is_some() =>
            {
                Action::Update
            }
            Op::PutUserPermissionsBoundary { before, .. }
            | Op::PutRolePermissionsBoundary { before, .. }
                if before.is_some() =>
            {
                Action::Update
            }
            _ if op.removes() => Action::Delete,
            _ => Action::Create,
        };
        let grants = grants_of(&op);
        Change {
            action,
            op,
            cause: None,
            grants,
        }
    }
}

/// What a document an op sends grants and takes away, when the op sends one.
fn grants_of(op: &Op) -> Option<Grants> {
    let (before, after) = match op {
        Op::CreatePolicyVersion { before, after, .. } => (Some(before), after),
        Op::PutUserPolicy { before, after, .. }
        | Op::PutGroupPolicy { before, after, .. }
        | Op::PutRolePolicy { before, after, .. } => (before.as_ref(), after),
        Op::CreatePolicy { document, .. } => (None, document),
        Op::UpdateAssumeRolePolicy { before, after, .. } => {
            return Some(crate::lint::grants::trust_change(Some(before), after));
        }
        Op::CreateRole { trust, .. } => {
            return Some(crate::lint::grants::trust_change(None, trust));
        }
        _ => return None,
    };
    Some(crate::lint::grants::change(before, after))
}

/// Terraform's symbols: `+` create, `~` update, `-` delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Delete,
}

impl Action {
    pub fn symbol(self) -> char {
        match self {
            Action::Create => '+',
            Action::Update => '~',
            Action::Delete => '-',
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
        #[serde(skip_serializing_if = "Option::is_none")]
        boundary: Option<PolicyArn>,
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
        /// The key this one replaces in a rotation: it stays active for the overlap.
        #[serde(skip_serializing_if = "Option::is_none")]
        rotates: Option<String>,
    },
    /// Deactivates (or activates) an access key.
    UpdateAccessKey {
        user: String,
        access_key_id: String,
        status: KeyStatus,
    },
    /// A console password, generated when applied to satisfy the account's password policy
    /// (`min_length` and every character class), saved like a key's secret, and to be changed
    /// at first sign-in. The password is never in the plan.
    CreateLoginProfile {
        user: String,
        min_length: u32,
        /// Where the user signs in: the account alias's URL, or the account id's.
        sign_in_url: String,
    },
    /// Sets the account alias; IAM keeps one, so a new one replaces `before`.
    CreateAccountAlias {
        alias: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        before: Option<String>,
    },
    DeleteAccountAlias {
        alias: String,
    },
    /// Sets every field of the account password policy.
    UpdateAccountPasswordPolicy {
        policy: PasswordPolicy,
        #[serde(skip_serializing_if = "Option::is_none")]
        before: Option<PasswordPolicy>,
    },
    /// A customer-managed policy; `document` is sent as written.
    CreatePolicy {
        policy: String,
        path: String,
        description: String,
        document: Value,
        tags: BTreeMap<String, String>,
    },
    /// Adds or overwrites these tags of a customer-managed policy.
    TagPolicy {
        policy: PolicyArn,
        tags: BTreeMap<String, String>,
    },
    /// A new default version of a policy's document. At IAM's limit of five versions, the
    /// oldest non-default one is deleted first, by a `DeletePolicyVersion` change of its own.
    CreatePolicyVersion {
        policy: PolicyArn,
        document: Value,
        /// The live default document and the spec's, both canonical.
        before: Value,
        after: Value,
        /// The version that change deletes, named here too (the JSON plan has always said).
        #[serde(skip_serializing_if = "Option::is_none")]
        delete_version: Option<String>,
    },
    DeletePolicyVersion {
        policy: PolicyArn,
        version: String,
    },
    DeletePolicy {
        policy: PolicyArn,
    },
    DetachUserPolicy {
        user: String,
        policy: PolicyArn,
    },
    DetachGroupPolicy {
        group: String,
        policy: PolicyArn,
    },
    /// Creates or replaces an inline policy; `before` is the live document, if there is one.
    PutUserPolicy {
        user: String,
        policy_name: String,
        document: Value,
        before: Option<Value>,
        after: Value,
    },
    PutGroupPolicy {
        group: String,
        policy_name: String,
        document: Value,
        before: Option<Value>,
        after: Value,
    },
    /// Removes these tags from a user (a prune of tags the spec does not list).
    UntagUser {
        user: String,
        keys: Vec<String>,
    },
    RemoveUserFromGroup {
        user: String,
        group: String,
    },
    DeleteUserPolicy {
        user: String,
        policy_name: String,
    },
    DeleteGroupPolicy {
        group: String,
        policy_name: String,
    },
    DeleteAccessKey {
        user: String,
        access_key_id: String,
    },
    DeleteLoginProfile {
        user: String,
    },
    DeactivateMfaDevice {
        user: String,
        serial_number: String,
    },
    DeleteSigningCertificate {
        user: String,
        certificate_id: String,
    },
    DeleteSshPublicKey {
        user: String,
        ssh_public_key_id: String,
    },
    DeleteServiceSpecificCredential {
        user: String,
        credential_id: String,
    },
    DetachRolePolicy {
        role: String,
        policy: PolicyArn,
    },
    /// Deletes a user; everything IAM requires gone first is planned before it.
    DeleteUser {
        user: String,
    },
    /// Deletes a group; its members and policies are removed before it.
    DeleteGroup {
        group: String,
    },
    /// An OIDC provider, by its URL without `https://`.
    CreateOpenIdConnectProvider {
        url: String,
        audiences: Vec<String>,
        thumbprints: Vec<String>,
        tags: BTreeMap<String, String>,
    },
    TagOpenIdConnectProvider {
        provider: String,
        url: String,
        tags: BTreeMap<String, String>,
    },
    AddClientIdToOpenIdConnectProvider {
        provider: String,
        url: String,
        client_id: String,
    },
    RemoveClientIdFromOpenIdConnectProvider {
        provider: String,
        url: String,
        client_id: String,
    },
    /// Replaces the provider's thumbprints with these.
    UpdateOpenIdConnectProviderThumbprint {
        provider: String,
        url: String,
        thumbprints: Vec<String>,
        before: Vec<String>,
    },
    DeleteOpenIdConnectProvider {
        provider: String,
        url: String,
    },
    /// A role with its trust policy (`trust`, sent as it is), settings, boundary and tags.
    CreateRole {
        role: String,
        path: String,
        description: String,
        trust: Value,
        max_session: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        boundary: Option<PolicyArn>,
        tags: BTreeMap<String, String>,
    },
    /// A new trust policy; `before` and `after` canonical.
    UpdateAssumeRolePolicy {
        role: String,
        document: Value,
        before: Value,
        after: Value,
        /// Unique ids (`AROA…`, `AIDA…`) IAM shows where a principal was deleted.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        deleted_principals: Vec<String>,
    },
    /// The description and session length, in one call.
    UpdateRole {
        role: String,
        description: String,
        max_session: u32,
        from_description: String,
        from_max_session: u32,
    },
    TagRole {
        role: String,
        tags: BTreeMap<String, String>,
    },
    UntagRole {
        role: String,
        keys: Vec<String>,
    },
    AttachRolePolicy {
        role: String,
        policy: PolicyArn,
    },
    PutRolePolicy {
        role: String,
        policy_name: String,
        document: Value,
        before: Option<Value>,
        after: Value,
    },
    DeleteRolePolicy {
        role: String,
        policy_name: String,
    },
    PutRolePermissionsBoundary {
        role: String,
        policy: PolicyArn,
        before: Option<PolicyArn>,
    },
    DeleteRolePermissionsBoundary {
        role: String,
        policy: PolicyArn,
    },
    PutUserPermissionsBoundary {
        user: String,
        policy: PolicyArn,
        before: Option<PolicyArn>,
    },
    DeleteUserPermissionsBoundary {
        user: String,
        policy: PolicyArn,
    },
    CreateInstanceProfile {
        profile: String,
        path: String,
        tags: BTreeMap<String, String>,
    },
    AddRoleToInstanceProfile {
        profile: String,
        role: String,
    },
    RemoveRoleFromInstanceProfile {
        profile: String,
        role: String,
    },
    DeleteInstanceProfile {
        profile: String,
    },
    /// Deletes a role; its instance profiles, policies and boundary go before it.
    DeleteRole {
        role: String,
    },
}

/// When a change runs: every change of a stage finishes before the next stage starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// What must go before something can be deleted or replaced: attachments, memberships,
    /// inline policies, old versions, credentials.
    Remove,
    /// Users, groups, policies, roles, instance profiles and providers themselves.
    Delete,
    /// What roles name when they are made: customer-managed policies (as boundaries) and
    /// OIDC providers (in trust policies).
    Define,
    /// Users, groups, roles and instance profiles, before anything hangs on them.
    Create,
    /// What hangs on entities: attachments, memberships, inline policies, versions, tags, keys.
    Attach,
}

impl Op {
    /// The mark that says iamspec made access key `access_key_id`: a tag on its user named by
    /// the key's id, as the console keeps a key's description (`crate::iam::KEY_MARK`).
    pub fn mark_key(user: &str, access_key_id: &str) -> Self {
        Op::TagUser {
            user: user.to_owned(),
            tags: BTreeMap::from([(access_key_id.to_owned(), crate::iam::KEY_MARK.to_owned())]),
        }
    }

    /// The stage of the change: a policy being replaced is detached and stripped of old
    /// versions, then deleted; entities exist before anything is attached to them.
    pub fn stage(&self) -> Stage {
        match self {
            Op::DetachUserPolicy { .. }
            | Op::DetachGroupPolicy { .. }
            | Op::DetachRolePolicy { .. }
            | Op::DeletePolicyVersion { .. }
            | Op::RemoveUserFromGroup { .. }
            | Op::DeleteUserPolicy { .. }
            | Op::DeleteGroupPolicy { .. }
            | Op::DeleteAccessKey { .. }
            | Op::DeleteLoginProfile { .. }
            | Op::DeactivateMfaDevice { .. }
            | Op::DeleteSigningCertificate { .. }
            | Op::DeleteSshPublicKey { .. }
            | Op::DeleteServiceSpecificCredential { .. }
            | Op::RemoveClientIdFromOpenIdConnectProvider { .. }
            | Op::DeleteRolePolicy { .. }
            | Op::DeleteRolePermissionsBoundary { .. }
            | Op::DeleteUserPermissionsBoundary { .. }
            | Op::RemoveRoleFromInstanceProfile { .. } => Stage::Remove,
            Op::DeletePolicy { .. }
            | Op::DeleteUser { .. }
            | Op::DeleteGroup { .. }
            | Op::DeleteRole { .. }
            | Op::DeleteInstanceProfile { .. }
            | Op::DeleteOpenIdConnectProvider { .. }
            | Op::DeleteAccountAlias { .. } => Stage::Delete,
            Op::CreatePolicy { .. }
            | Op::CreateOpenIdConnectProvider { .. }
            | Op::CreateAccountAlias { .. }
            | Op::UpdateAccountPasswordPolicy { .. } => Stage::Define,
            Op::CreateGroup { .. }
            | Op::CreateUser { .. }
            | Op::CreateRole { .. }
            | Op::CreateInstanceProfile { .. } => Stage::Create,
            _ => Stage::Attach,
        }
    }

    /// Whether the op takes something away (a delete or detach that finds its target already
    /// gone has what it wanted).
    pub fn removes(&self) -> bool {
        self.stage() <= Stage::Delete
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
            Op::UpdateAccessKey { .. } => "UpdateAccessKey",
            Op::CreateLoginProfile { .. } => "CreateLoginProfile",
            Op::CreateAccountAlias { .. } => "CreateAccountAlias",
            Op::DeleteAccountAlias { .. } => "DeleteAccountAlias",
            Op::UpdateAccountPasswordPolicy { .. } => "UpdateAccountPasswordPolicy",
            Op::CreatePolicy { .. } => "CreatePolicy",
            Op::TagPolicy { .. } => "TagPolicy",
            Op::CreatePolicyVersion { .. } => "CreatePolicyVersion",
            Op::DeletePolicyVersion { .. } => "DeletePolicyVersion",
            Op::DeletePolicy { .. } => "DeletePolicy",
            Op::DetachUserPolicy { .. } => "DetachUserPolicy",
            Op::DetachGroupPolicy { .. } => "DetachGroupPolicy",
            Op::PutUserPolicy { .. } => "PutUserPolicy",
            Op::PutGroupPolicy { .. } => "PutGroupPolicy",
            Op::UntagUser { .. } => "UntagUser",
            Op::RemoveUserFromGroup { .. } => "RemoveUserFromGroup",
            Op::DeleteUserPolicy { .. } => "DeleteUserPolicy",
            Op::DeleteGroupPolicy { .. } => "DeleteGroupPolicy",
            Op::DeleteAccessKey { .. } => "DeleteAccessKey",
            Op::DeleteLoginProfile { .. } => "DeleteLoginProfile",
            Op::DeactivateMfaDevice { .. } => "DeactivateMFADevice",
            Op::DeleteSigningCertificate { .. } => "DeleteSigningCertificate",
            Op::DeleteSshPublicKey { .. } => "DeleteSSHPublicKey",
            Op::DeleteServiceSpecificCredential { .. } => "DeleteServiceSpecificCredential",
            Op::DetachRolePolicy { .. } => "DetachRolePolicy",
            Op::DeleteUser { .. } => "DeleteUser",
            Op::DeleteGroup { .. } => "DeleteGroup",
            Op::CreateOpenIdConnectProvider { .. } => "CreateOpenIDConnectProvider",
            Op::TagOpenIdConnectProvider { .. } => "TagOpenIDConnectProvider",
            Op::AddClientIdToOpenIdConnectProvider { .. } => "AddClientIDToOpenIDConnectProvider",
            Op::RemoveClientIdFromOpenIdConnectProvider { .. } => {
                "RemoveClientIDFromOpenIDConnectProvider"
            }
            Op::UpdateOpenIdConnectProviderThumbprint { .. } => {
                "UpdateOpenIDConnectProviderThumbprint"
            }
            Op::DeleteOpenIdConnectProvider { .. } => "DeleteOpenIDConnectProvider",
            Op::CreateRole { .. } => "CreateRole",
            Op::UpdateAssumeRolePolicy { .. } => "UpdateAssumeRolePolicy",
            Op::UpdateRole { .. } => "UpdateRole",
            Op::TagRole { .. } => "TagRole",
            Op::UntagRole { .. } => "UntagRole",
            Op::AttachRolePolicy { .. } => "AttachRolePolicy",
            Op::PutRolePolicy { .. } => "PutRolePolicy",
            Op::DeleteRolePolicy { .. } => "DeleteRolePolicy",
            Op::PutRolePermissionsBoundary { .. } => "PutRolePermissionsBoundary",
            Op::DeleteRolePermissionsBoundary { .. } => "DeleteRolePermissionsBoundary",
            Op::PutUserPermissionsBoundary { .. } => "PutUserPermissionsBoundary",
            Op::DeleteUserPermissionsBoundary { .. } => "DeleteUserPermissionsBoundary",
            Op::CreateInstanceProfile { .. } => "CreateInstanceProfile",
            Op::AddRoleToInstanceProfile { .. } => "AddRoleToInstanceProfile",
            Op::RemoveRoleFromInstanceProfile { .. } => "RemoveRoleFromInstanceProfile",
            Op::DeleteInstanceProfile { .. } => "DeleteInstanceProfile",
            Op::DeleteRole { .. } => "DeleteRole",
        }
    }

    /// The entities the call names, as `(kind, name)`: for messages and for knowing whether
    /// a `NoSuchEntity` answer can be IAM's eventual consistency after a create.
    pub fn entities(&self) -> Vec<(EntityKind, &str)> {
        match self {
            Op::CreateGroup { group, .. }
            | Op::UpdateGroupPath { group, .. }
            | Op::PutGroupPolicy { group, .. }
            | Op::DeleteGroupPolicy { group, .. }
            | Op::DeleteGroup { group } => vec![(EntityKind::Group, group)],
            Op::AttachGroupPolicy { group, policy } | Op::DetachGroupPolicy { group, policy } => {
                vec![
                    (EntityKind::Group, group),
                    (EntityKind::Policy, &policy.name),
                ]
            }
            Op::CreateUser {
                user,
                boundary: Some(policy),
                ..
            } => vec![(EntityKind::User, user), (EntityKind::Policy, &policy.name)],
            Op::CreateUser { user, .. }
            | Op::UpdateUserPath { user, .. }
            | Op::TagUser { user, .. }
            | Op::PutUserPolicy { user, .. }
            | Op::CreateAccessKey { user, .. }
            | Op::UpdateAccessKey { user, .. }
            | Op::CreateLoginProfile { user, .. }
            | Op::UntagUser { user, .. }
            | Op::DeleteUserPolicy { user, .. }
            | Op::DeleteAccessKey { user, .. }
            | Op::DeleteLoginProfile { user }
            | Op::DeactivateMfaDevice { user, .. }
            | Op::DeleteSigningCertificate { user, .. }
            | Op::DeleteSshPublicKey { user, .. }
            | Op::DeleteServiceSpecificCredential { user, .. }
            | Op::DeleteUser { user } => vec![(EntityKind::User, user)],
            Op::CreateOpenIdConnectProvider { url, .. }
            | Op::TagOpenIdConnectProvider { url, .. }
            | Op::AddClientIdToOpenIdConnectProvider { url, .. }
            | Op::RemoveClientIdFromOpenIdConnectProvider { url, .. }
            | Op::UpdateOpenIdConnectProviderThumbprint { url, .. }
            | Op::DeleteOpenIdConnectProvider { url, .. } => vec![(EntityKind::OidcProvider, url)],
            Op::CreateRole { role, boundary, .. } => {
                let mut named = vec![(EntityKind::Role, role.as_str())];
                named.extend(
                    boundary
                        .iter()
                        .map(|b| (EntityKind::Policy, b.name.as_str())),
                );
                named
            }
            Op::UpdateAssumeRolePolicy { role, .. }
            | Op::UpdateRole { role, .. }
            | Op::TagRole { role, .. }
            | Op::UntagRole { role, .. }
            | Op::PutRolePolicy { role, .. }
            | Op::DeleteRolePolicy { role, .. }
            | Op::DeleteRole { role } => vec![(EntityKind::Role, role)],
            Op::AttachRolePolicy { role, policy }
            | Op::DetachRolePolicy { role, policy }
            | Op::PutRolePermissionsBoundary { role, policy, .. }
            | Op::DeleteRolePermissionsBoundary { role, policy } => {
                vec![(EntityKind::Role, role), (EntityKind::Policy, &policy.name)]
            }
            Op::CreateInstanceProfile { profile, .. } | Op::DeleteInstanceProfile { profile } => {
                vec![(EntityKind::InstanceProfile, profile)]
            }
            Op::AddRoleToInstanceProfile { profile, role }
            | Op::RemoveRoleFromInstanceProfile { profile, role } => vec![
                (EntityKind::InstanceProfile, profile),
                (EntityKind::Role, role),
            ],
            Op::AttachUserPolicy { user, policy }
            | Op::DetachUserPolicy { user, policy }
            | Op::PutUserPermissionsBoundary { user, policy, .. }
            | Op::DeleteUserPermissionsBoundary { user, policy } => {
                vec![(EntityKind::User, user), (EntityKind::Policy, &policy.name)]
            }
            Op::AddUserToGroup { user, group } | Op::RemoveUserFromGroup { user, group } => {
                vec![(EntityKind::User, user), (EntityKind::Group, group)]
            }
            Op::CreatePolicy { policy, .. } => vec![(EntityKind::Policy, policy)],
            Op::CreateAccountAlias { .. }
            | Op::DeleteAccountAlias { .. }
            | Op::UpdateAccountPasswordPolicy { .. } => Vec::new(),
            Op::CreatePolicyVersion { policy, .. }
            | Op::TagPolicy { policy, .. }
            | Op::DeletePolicyVersion { policy, .. }
            | Op::DeletePolicy { policy } => vec![(EntityKind::Policy, &policy.name)],
        }
    }

    /// The entity an op creates, if it creates one.
    pub fn creates(&self) -> Option<(EntityKind, &str)> {
        match self {
            Op::CreateGroup { group, .. } => Some((EntityKind::Group, group)),
            Op::CreateUser { user, .. } => Some((EntityKind::User, user)),
            Op::CreatePolicy { policy, .. } => Some((EntityKind::Policy, policy)),
            Op::CreateRole { role, .. } => Some((EntityKind::Role, role)),
            Op::CreateInstanceProfile { profile, .. } => {
                Some((EntityKind::InstanceProfile, profile))
            }
            Op::CreateOpenIdConnectProvider { url, .. } => Some((EntityKind::OidcProvider, url)),
            _ => None,
        }
    }
}

/// Something the account has for a spec entity that the spec does not declare. Reported, never
/// changed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Drift {
    /// A managed policy attached to a user or group beyond the spec's.
    ExtraPolicy {
        entity: EntityKind,
        name: String,
        policy: PolicyArn,
    },
    /// An inline policy on a user or group that the spec does not name.
    InlinePolicy {
        entity: EntityKind,
        name: String,
        policy_name: String,
    },
    /// An entity this spec owns (by tag or scope) that the spec no longer names.
    NotInSpec { entity: EntityKind, name: String },
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
        status: KeyStatus,
        /// Seconds since it was made.
        age: u64,
    },
    /// A role's tag the spec does not list.
    ExtraRoleTag {
        role: String,
        key: String,
        value: String,
    },
    /// A permissions boundary the spec does not name.
    ExtraBoundary {
        entity: EntityKind,
        name: String,
        policy: PolicyArn,
    },
    /// A spec role in an instance profile the spec does not ask for.
    ExtraInstanceProfile { role: String, profile: String },
    /// Another role in the instance profile of a spec role (a profile holds one role).
    ExtraProfileRole { profile: String, role: String },
    /// A console password of a user whose spec says `console = false`.
    ConsolePassword { user: String },
    /// A key older than its `max_age` that cannot be rotated yet: the user has a second key
    /// that is not part of a rotation (IAM allows two).
    StaleAccessKey {
        user: String,
        access_key_id: String,
        age: u64,
        max_age: u64,
    },
    /// The account alias, where the spec sets none (read only with `--prune`).
    AccountAlias { alias: String },
}

/// Whether an access key can be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum KeyStatus {
    Active,
    Inactive,
}

impl Drift {
    /// The role this drift is about, if it is about a role.
    pub fn role(&self) -> Option<&str> {
        match self {
            Drift::ExtraPolicy { entity, name, .. }
            | Drift::InlinePolicy { entity, name, .. }
            | Drift::ExtraBoundary { entity, name, .. } => {
                (*entity == EntityKind::Role).then_some(name.as_str())
            }
            Drift::ExtraRoleTag { role, .. }
            | Drift::ExtraInstanceProfile { role, .. }
            | Drift::ExtraProfileRole { role, .. } => Some(role),
            _ => None,
        }
    }

    /// The user this drift is about, if it is about a user.
    pub fn user(&self) -> Option<&str> {
        match self {
            Drift::ExtraPolicy { entity, name, .. }
            | Drift::InlinePolicy { entity, name, .. }
            | Drift::ExtraBoundary { entity, name, .. } => {
                (*entity == EntityKind::User).then_some(name.as_str())
            }
            Drift::NotInSpec { .. }
            | Drift::AccountAlias { .. }
            | Drift::ExtraRoleTag { .. }
            | Drift::ExtraInstanceProfile { .. }
            | Drift::ExtraProfileRole { .. } => None,
            Drift::ExtraMembership { user, .. }
            | Drift::ExtraTag { user, .. }
            | Drift::ExtraAccessKey { user, .. }
            | Drift::ConsolePassword { user }
            | Drift::StaleAccessKey { user, .. } => Some(user),
        }
    }
}
