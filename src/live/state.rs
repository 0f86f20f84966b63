//! The account as IAM reports it: the state types every reader builds and the differ
//! compares, and what ownership needs to know of each entity.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::iam::{EntityKind, OWNER_TAG, Owned, Partition, PolicyArn};
use crate::secrets::PendingKey;
use crate::spec::PasswordPolicy;

/// The account as IAM reports it, for the entities a spec can name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveState {
    pub caller: Caller,
    pub users: BTreeMap<String, LiveUser>,
    pub groups: BTreeMap<String, LiveGroup>,
    pub roles: BTreeMap<String, LiveRole>,
    /// OIDC providers; read when the spec declares roles or providers, or prunes.
    pub oidc_providers: Vec<LiveProvider>,
    /// Customer-managed policies in the account.
    pub local_policies: BTreeMap<PolicyArn, LivePolicy>,
    /// Every AWS-managed policy; empty when the spec names none, as it then need not be read.
    pub aws_policies: Vec<PolicyArn>,
    /// The documents of the AWS-managed policies a plan's principals have or get, canonical:
    /// read by `plan` (after a first diff says which), to say what the principals gain.
    pub aws_documents: BTreeMap<PolicyArn, Value>,
    /// Key creations an earlier apply did not see through, by user, from the secrets
    /// directory: the one piece of state that is not in IAM.
    pub pending_keys: BTreeMap<String, PendingKey>,
    /// The account-wide settings, as far as the spec needs them read.
    pub account: LiveAccount,
    /// When the account was read, in seconds since 1970: credentials age against it, so the
    /// differ itself never looks at a clock.
    pub now: i64,
    /// What the reader could not do the best way, and what it did instead.
    pub warnings: Vec<String>,
}

/// Account settings; `None` where they were not read (the spec does not need them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveAccount {
    /// The account alias (IAM allows one), or `Some(None)` when there is none.
    pub alias: Option<Option<String>>,
    /// The account password policy, or `Some(None)` when there is none.
    pub password_policy: Option<Option<PasswordPolicy>>,
    /// Whether the credential report could be read: without it, last use is unknown.
    pub report_read: bool,
}

impl LiveState {
    /// The state from what was read, keyed by name (users, groups) and ARN (policies).
    pub(super) fn new(
        caller: Caller,
        users: BTreeMap<String, LiveUser>,
        groups: Vec<LiveGroup>,
        roles: Vec<LiveRole>,
        local_policies: Vec<LivePolicy>,
        aws_policies: Vec<PolicyArn>,
    ) -> Self {
        Self {
            caller,
            users,
            groups: groups.into_iter().map(|g| (g.name.clone(), g)).collect(),
            roles: roles.into_iter().map(|r| (r.name.clone(), r)).collect(),
            oidc_providers: Vec::new(),
            local_policies: local_policies
                .into_iter()
                .map(|p| (p.arn.clone(), p))
                .collect(),
            aws_policies,
            aws_documents: BTreeMap::new(),
            pending_keys: BTreeMap::new(),
            account: LiveAccount::default(),
            now: 0,
            warnings: Vec::new(),
        }
    }
}

/// Which kinds of entity the account details are read for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)] // one switch per kind
pub struct DetailKinds {
    pub users: bool,
    pub groups: bool,
    pub roles: bool,
    pub policies: bool,
}

impl DetailKinds {
    pub const ALL: Self = Self {
        users: true,
        groups: true,
        roles: true,
        policies: true,
    };
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

    /// The role behind the credentials, when they are an assumed role's session
    /// (`arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION`): never changed or deleted, as an apply
    /// that took its own permissions away would stop half-way.
    pub fn role_name(&self) -> Option<&str> {
        let resource = self.arn.splitn(6, ':').nth(5)?;
        resource.strip_prefix("assumed-role/")?.split('/').next()
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
    /// The users, groups and roles of the account that have it attached: groups, users, roles.
    pub fn holders(&self, live: &LiveState) -> Vec<(EntityKind, String)> {
        let groups = live
            .groups
            .values()
            .filter(|g| g.policies.contains(&self.arn))
            .map(|g| (EntityKind::Group, g.name.clone()));
        let users = live
            .users
            .values()
            .filter(|u| u.policies.contains(&self.arn))
            .map(|u| (EntityKind::User, u.name.clone()));
        let roles = live
            .roles
            .values()
            .filter(|r| r.policies.contains(&self.arn))
            .map(|r| (EntityKind::Role, r.name.clone()));
        groups.chain(users).chain(roles).collect()
    }

    /// The roles AWS, `CloudFormation` or IAM Identity Center manage that have it attached or
    /// as their boundary: each role's name, who manages it, and how it holds the policy
    /// (`attached to`, `the permissions boundary of`). iamspec never takes it off there.
    pub fn managed_holders(&self, live: &LiveState) -> Vec<(String, &'static str, &'static str)> {
        live.roles
            .values()
            .filter_map(|r| {
                let how = if r.policies.contains(&self.arn) {
                    "attached to"
                } else if r.boundary.as_ref() == Some(&self.arn) {
                    "the permissions boundary of"
                } else {
                    return None;
                };
                Some((r.name.clone(), r.managed_by()?, how))
            })
            .collect()
    }

    /// The users and roles it bounds (their permissions boundary).
    pub fn bounds(&self, live: &LiveState) -> Vec<(EntityKind, String)> {
        let users = live
            .users
            .values()
            .filter(|u| u.boundary.as_ref() == Some(&self.arn))
            .map(|u| (EntityKind::User, u.name.clone()));
        let roles = live
            .roles
            .values()
            .filter(|r| r.boundary.as_ref() == Some(&self.arn))
            .map(|r| (EntityKind::Role, r.name.clone()));
        users.chain(roles).collect()
    }
}

impl LiveRole {
    /// Who manages the role when it is not for a spec to: AWS (service-linked roles, IAM
    /// Identity Center, Control Tower) or a `CloudFormation` stack. Such roles are never
    /// changed, pruned or exported.
    pub fn managed_by(&self) -> Option<&'static str> {
        if self.path.starts_with("/aws-service-role/") {
            Some("AWS (a service-linked role)")
        } else if self.path.starts_with("/aws-reserved/")
            || self.name.starts_with("AWSReservedSSO_")
        {
            Some("IAM Identity Center")
        } else if self.name.starts_with("AWSControlTower")
            || self.name.starts_with("aws-controltower-")
        {
            Some("AWS Control Tower")
        } else if self.tags.contains_key("aws:cloudformation:stack-name") {
            Some("CloudFormation")
        } else {
            None
        }
    }
}

impl Owned for LiveRole {
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

impl Owned for LiveProvider {
    /// A provider is named by its URL.
    fn name(&self) -> &str {
        &self.url
    }
    /// Providers have no path: only their tag makes them a spec's.
    fn path(&self) -> &'static str {
        ""
    }
    fn owner_tag(&self) -> Option<&str> {
        self.tags.get(OWNER_TAG).map(String::as_str)
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
    pub roles: Vec<LiveRole>,
    pub local_policies: Vec<LivePolicy>,
}

/// A role, from the account details.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveRole {
    pub name: String,
    pub path: String,
    /// The trust policy, canonical.
    pub trust: Value,
    pub policies: BTreeSet<PolicyArn>,
    /// Inline policies: name to canonical document.
    pub inline_policies: BTreeMap<String, Value>,
    pub boundary: Option<PolicyArn>,
    pub tags: BTreeMap<String, String>,
    /// The instance profiles that hold it.
    pub instance_profiles: Vec<LiveInstanceProfile>,
    /// Its description and session length, which the account details leave out: read for
    /// the roles the spec names.
    pub settings: Option<RoleSettings>,
}

/// What `ListRoles` adds to the account details.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleSettings {
    pub description: String,
    /// In seconds.
    pub max_session: u32,
}

/// An instance profile and the roles it holds (IAM allows one).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct LiveInstanceProfile {
    pub name: String,
    pub path: String,
    pub roles: Vec<String>,
}

/// An OIDC identity provider.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveProvider {
    pub arn: String,
    /// Its URL without `https://`.
    pub url: String,
    pub audiences: Vec<String>,
    pub thumbprints: Vec<String>,
    pub tags: BTreeMap<String, String>,
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
    /// Its permissions boundary.
    pub boundary: Option<PolicyArn>,
    /// Oldest first. Listed for users a prune deletes, and for users the spec names unless
    /// `keys_settled`.
    pub access_keys: Vec<AccessKey>,
    /// The credential report shows the keys the spec asks for (one active key, or none) and
    /// nothing else, so they were not listed.
    pub keys_settled: bool,
    /// What must go before the user can be deleted; read only for users a prune deletes.
    pub credentials: Option<UserCredentials>,
    /// Its console password: `None` when it was not read (the spec says nothing of `console`
    /// and sets no `disable_unused`), `Some(None)` when it has none.
    pub login: Option<Option<Login>>,
    /// Whether it has an MFA device, from the credential report.
    pub mfa: Option<bool>,
}

/// A console password.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Login {
    /// When it was set, in seconds since 1970.
    pub created: i64,
    /// When it was last used to sign in, from the credential report.
    pub last_used: Option<i64>,
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
    /// When it was made, in seconds since 1970.
    pub created: i64,
    /// When it was last used, from the credential report; `None` if never or not known.
    pub last_used: Option<KeyUse>,
}

/// An access key's last use.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyUse {
    /// In seconds since 1970.
    pub at: i64,
    pub service: Option<String>,
    pub region: Option<String>,
}

/// IAM's credential report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CredentialReport {
    /// By user name.
    pub users: BTreeMap<String, ReportedUser>,
    /// The account's root user's row.
    pub root: Option<ReportedUser>,
}

/// A user's row in the credential report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportedUser {
    /// When the user was created, in seconds since 1970.
    pub created: i64,
    /// Its access keys, first and second slot (without ids: the report has none).
    pub keys: Vec<ReportedKey>,
    /// Its console password, if it has one.
    pub login: Option<Login>,
    pub mfa: bool,
}

/// An access key in the credential report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportedKey {
    pub active: bool,
    /// When it was made (the report's `last_rotated`), in seconds since 1970.
    pub created: i64,
    pub last_used: Option<KeyUse>,
}

impl ReportedUser {
    /// Whether this row shows `user` with the keys the spec asks for and no other: one active
    /// key when `wants_key`, none otherwise; with a `max_age`, one that is not due for
    /// rotation at `now`. A row of an earlier user of the same name settles nothing.
    pub(super) fn settles(
        &self,
        user: &LiveUser,
        wants_key: bool,
        max_age: Option<u64>,
        now: i64,
    ) -> bool {
        let keys_match = match (wants_key, self.keys.as_slice()) {
            (false, []) => true,
            (true, [key]) => {
                key.active
                    && max_age.is_none_or(|max| {
                        now.saturating_sub(key.created) < i64::try_from(max).unwrap_or(i64::MAX)
                    })
            }
            _ => false,
        };
        user.created == Some(self.created) && keys_match
    }
}
