//! The account as IAM reports it: the state types every reader builds and the differ
//! compares, and what ownership needs to know of each entity.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::iam::{EntityKind, OWNER_TAG, Owned, Partition, PolicyArn};
use crate::secrets::PendingKey;

/// The account as IAM reports it, for the entities a spec can name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveState {
    pub caller: Caller,
    pub users: BTreeMap<String, LiveUser>,
    pub groups: BTreeMap<String, LiveGroup>,
    /// Customer-managed policies in the account.
    pub local_policies: BTreeMap<PolicyArn, LivePolicy>,
    /// Every AWS-managed policy; empty when the spec names none, as it then need not be read.
    pub aws_policies: Vec<PolicyArn>,
    /// Key creations an earlier apply did not see through, by user, from the secrets
    /// directory: the one piece of state that is not in IAM.
    pub pending_keys: BTreeMap<String, PendingKey>,
    /// What the reader could not do the best way, and what it did instead.
    pub warnings: Vec<String>,
}

impl LiveState {
    /// The state from what was read, keyed by name (users, groups) and ARN (policies).
    pub(super) fn new(
        caller: Caller,
        users: BTreeMap<String, LiveUser>,
        groups: Vec<LiveGroup>,
        local_policies: Vec<LivePolicy>,
        aws_policies: Vec<PolicyArn>,
    ) -> Self {
        Self {
            caller,
            users,
            groups: groups.into_iter().map(|g| (g.name.clone(), g)).collect(),
            local_policies: local_policies
                .into_iter()
                .map(|p| (p.arn.clone(), p))
                .collect(),
            aws_policies,
            pending_keys: BTreeMap::new(),
            warnings: Vec::new(),
        }
    }
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub account: String,
    pub arn: String,
    pub partition: Partition,
    /// The access key the caller signs with, when it uses one: never deleted by a prune.
    pub access_key_id: Option<String>,
}

impl Caller {
    /// The IAM user behind the credentials, when they are a user's (not a role's): never
    /// deleted by a prune.
    pub fn user_name(&self) -> Option<&str> {
        let resource = self.arn.splitn(6, ':').nth(5)?;
        let path_and_name = resource.strip_prefix("user/")?;
        path_and_name.rsplit('/').next()
    }
}

impl Default for Caller {
    fn default() -> Self {
        Self {
            account: String::new(),
            arn: String::new(),
            partition: Partition::Aws,
            access_key_id: None,
        }
    }
}

impl LivePolicy {
    /// The users and groups among these that have it attached, groups first.
    pub fn holders<'a>(
        &self,
        users: impl IntoIterator<Item = &'a LiveUser>,
        groups: impl IntoIterator<Item = &'a LiveGroup>,
    ) -> Vec<(EntityKind, String)> {
        let groups = groups
            .into_iter()
            .filter(|g| g.policies.contains(&self.arn))
            .map(|g| (EntityKind::Group, g.name.clone()));
        let users = users
            .into_iter()
            .filter(|u| u.policies.contains(&self.arn))
            .map(|u| (EntityKind::User, u.name.clone()));
        groups.chain(users).collect()
    }

    /// How many of its attachments are beyond `seen` holders: roles, which the account
    /// details iamspec reads do not list.
    pub fn attached_beyond(&self, seen: usize) -> usize {
        (self.attachment_count as usize).saturating_sub(seen)
    }
}

impl Owned for LiveUser {
    fn name(&self) -> &str {
        &self.name
    }
    fn path(&self) -> &str {
        &self.path
    }
    fn owner_tag(&self) -> Option<&str> {
        self.tags.get(OWNER_TAG).map(String::as_str)
    }
}

impl Owned for LiveGroup {
    fn name(&self) -> &str {
        &self.name
    }
    fn path(&self) -> &str {
        &self.path
    }
    fn owner_tag(&self) -> Option<&str> {
        None
    }
}

impl Owned for LivePolicy {
    fn name(&self) -> &str {
        &self.arn.name
    }
    fn path(&self) -> &str {
        &self.arn.path
    }
    fn owner_tag(&self) -> Option<&str> {
        self.tags.get(OWNER_TAG).map(String::as_str)
    }
}

/// What `GetAccountAuthorizationDetails` tells: everything but access keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountDetails {
    pub users: Vec<LiveUser>,
    pub groups: Vec<LiveGroup>,
    pub local_policies: Vec<LivePolicy>,
}

/// A customer-managed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LivePolicy {
    pub arn: PolicyArn,
    pub tags: BTreeMap<String, String>,
    pub description: String,
    /// Users, groups and roles it is attached to.
    pub attachment_count: u32,
    /// Oldest first.
    pub versions: Vec<PolicyVersion>,
    /// The default version's document, canonical.
    pub document: Value,
    /// Roles it is attached to; read only for policies a prune deletes.
    pub roles: Vec<String>,
}

/// One version of a managed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersion {
    pub id: String,
    pub default: bool,
    /// ISO 8601.
    pub created: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveUser {
    pub name: String,
    pub path: String,
    /// When it was created, in seconds since 1970: tells it from an earlier user of the same
    /// name in the credential report.
    pub created: Option<i64>,
    pub groups: BTreeSet<String>,
    pub policies: BTreeSet<PolicyArn>,
    /// Inline policies: name to canonical document.
    pub inline_policies: BTreeMap<String, Value>,
    pub tags: BTreeMap<String, String>,
    /// Oldest first. Listed for users a prune deletes, and for users the spec names unless
    /// `keys_settled`.
    pub access_keys: Vec<AccessKey>,
    /// The credential report shows the keys the spec asks for (one active key, or none) and
    /// nothing else, so they were not listed.
    pub keys_settled: bool,
    /// What must go before the user can be deleted; read only for users a prune deletes.
    pub credentials: Option<UserCredentials>,
}

/// A user's sign-in credentials other than access keys, by their ids.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserCredentials {
    pub login_profile: bool,
    pub mfa_devices: Vec<String>,
    pub signing_certificates: Vec<String>,
    pub ssh_public_keys: Vec<String>,
    pub service_specific_credentials: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveGroup {
    pub name: String,
    pub path: String,
    pub policies: BTreeSet<PolicyArn>,
    /// Inline policies: name to canonical document.
    pub inline_policies: BTreeMap<String, Value>,
}

/// An access key's metadata; secrets can't be read back from IAM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey {
    pub id: String,
    pub active: bool,
    /// ISO 8601, for ordering and display.
    pub created: String,
}

/// IAM's credential report, as far as access keys go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CredentialReport {
    /// By user name.
    pub users: BTreeMap<String, ReportedUser>,
}

/// A user's row in the credential report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportedUser {
    /// When the user was created, in seconds since 1970.
    pub created: i64,
    /// Whether each of its access keys is active.
    pub keys: Vec<bool>,
}

impl ReportedUser {
    /// Whether this row shows `user` with the keys the spec asks for and no other: one active
    /// key when `wants_key`, none otherwise. A row of an earlier user of the same name settles
    /// nothing.
    pub(super) fn settles(&self, user: &LiveUser, wants_key: bool) -> bool {
        let expected: &[bool] = if wants_key { &[true] } else { &[] };
        user.created == Some(self.created) && self.keys == expected
    }
}
