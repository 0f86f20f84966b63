//! An IAM account held in memory, behind the `IamApi` seam: users, groups, customer-managed
//! policies with their versions, attachments, memberships, inline policies, tags and access
//! keys, answering reads and calls as IAM does (`EntityAlreadyExists`, `NoSuchEntity`, two
//! keys at most, five versions at most). For tests where the endpoint is not the point: the
//! idempotence property test runs hundreds of plans and applies against it in a second.

use crate::live::DetailKinds;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Mutex;

use serde_json::Value;

use super::{
    AccessKey, AccountDetails, ApiError, Caller, CredentialReport, ErrorKind, IamApi, LiveGroup,
    LiveInstanceProfile, LivePolicy, LiveProvider, LiveRole, LiveUser, Login, Outcome,
    PolicyVersion, ReportedKey, ReportedUser, RoleSettings, UserCredentials,
};
use crate::document;
use crate::iam::{Partition, PolicyArn};
use crate::plan::{KeyStatus, Op};
use crate::secrets::Secret;
use crate::spec::PasswordPolicy;

/// The account behind a `MemoryIam`, open to tests to set up and to inspect.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryAccount {
    pub users: BTreeMap<String, MemoryUser>,
    pub groups: BTreeMap<String, MemoryGroup>,
    /// Customer-managed policies, by ARN.
    pub policies: BTreeMap<PolicyArn, MemoryPolicy>,
    pub roles: BTreeMap<String, MemoryRole>,
    pub instance_profiles: BTreeMap<String, MemoryProfile>,
    /// OIDC providers, by URL without `https://`.
    pub providers: BTreeMap<String, MemoryProvider>,
    /// The AWS-managed policies that exist.
    pub aws_policies: Vec<PolicyArn>,
    /// For key ids and creation times.
    pub counter: u64,
    /// The account's clock, in seconds since 1970, which tests move; keys made at 0 are
    /// dated by the counter instead.
    pub now: i64,
    pub alias: Option<String>,
    pub password_policy: Option<PasswordPolicy>,
    /// The documents of AWS-managed policies a test gives.
    pub aws_documents: BTreeMap<PolicyArn, Value>,
}

impl MemoryAccount {
    /// What IAM's credential report says of this account, made just now.
    pub fn credential_report(&self) -> CredentialReport {
        let users = self
            .users
            .iter()
            .map(|(name, u)| {
                let keys = u.keys.iter().map(|k| ReportedKey {
                    active: k.active,
                    created: k.created,
                    last_used: k.last_used.clone(),
                });
                let row = ReportedUser {
                    created: u.created,
                    keys: keys.collect(),
                    login: u.login,
                    mfa: u.mfa,
                };
                (name.clone(), row)
            })
            .collect();
        CredentialReport { users, root: None }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryUser {
    pub path: String,
    pub created: i64,
    pub groups: BTreeSet<String>,
    pub policies: BTreeSet<PolicyArn>,
    pub inline: BTreeMap<String, Value>,
    pub tags: BTreeMap<String, String>,
    pub keys: Vec<AccessKey>,
    pub boundary: Option<PolicyArn>,
    pub login: Option<Login>,
    pub mfa: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryRole {
    pub path: String,
    /// The trust policy as sent.
    pub trust: Value,
    pub description: String,
    pub max_session: u32,
    pub policies: BTreeSet<PolicyArn>,
    pub inline: BTreeMap<String, Value>,
    pub boundary: Option<PolicyArn>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryProfile {
    pub path: String,
    pub roles: Vec<String>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryProvider {
    pub audiences: Vec<String>,
    pub thumbprints: Vec<String>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryGroup {
    pub path: String,
    pub policies: BTreeSet<PolicyArn>,
    pub inline: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryPolicy {
    pub description: String,
    pub tags: BTreeMap<String, String>,
    /// Oldest first: (id, document as sent, default).
    pub versions: Vec<(String, Value, bool)>,
    pub next_version: u32,
}

impl MemoryPolicy {
    pub fn new(document: Value, description: &str, tags: BTreeMap<String, String>) -> Self {
        Self {
            description: description.to_owned(),
            tags,
            versions: vec![("v1".to_owned(), document, true)],
            next_version: 2,
        }
    }
}

/// A fault to inject: the next `times` calls of `api` fail with `kind`. With `after_effect`
/// the call takes effect first and only its answer is lost.
#[derive(Debug, Clone)]
pub struct Fault {
    pub api: &'static str,
    pub kind: ErrorKind,
    pub times: usize,
    pub after_effect: bool,
}

/// `IamApi` over a `MemoryAccount`, called by an assumed role (so no user is the caller's),
/// recording every call and failing the ones it is told to.
#[derive(Debug)]
pub struct MemoryIam {
    pub account_id: String,
    pub state: Mutex<MemoryAccount>,
    faults: Mutex<VecDeque<Fault>>,
    /// Every call made, reads included: the API name, and for reads of one thing its name.
    calls: Mutex<Vec<String>>,
    /// What the credential report says, when a test wants it to say something else than the
    /// account (an older report, or a refusal).
    report: Mutex<Option<Result<CredentialReport, ApiError>>>,
}

impl MemoryIam {
    pub fn new(account: MemoryAccount) -> Self {
        Self::with_faults(account, Vec::new())
    }

    pub fn with_faults(account: MemoryAccount, faults: Vec<Fault>) -> Self {
        Self {
            account_id: "123456789012".to_owned(),
            state: Mutex::new(account),
            faults: Mutex::new(faults.into()),
            calls: Mutex::new(Vec::new()),
            report: Mutex::new(None),
        }
    }

    /// How many calls of `api` were made.
    pub fn calls(&self, api: &str) -> usize {
        let calls = self.calls.lock().unwrap();
        calls
            .iter()
            .filter(|c| c.split(' ').next() == Some(api))
            .count()
    }

    /// Every call made, in order: `ListAccessKeys alice`, `GetCredentialReport`...
    pub fn log(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    /// Makes the credential report say this from now on.
    pub fn set_report(&self, report: Result<CredentialReport, ApiError>) {
        *self.report.lock().unwrap() = Some(report);
    }

    /// Records a call of `api`, and the fault it meets, if any.
    fn record(&self, api: &'static str) -> Option<(ErrorKind, bool)> {
        self.record_on(api, None)
    }

    /// Records a call of `api` about `subject`, and the fault it meets, if any.
    fn record_on(&self, api: &'static str, subject: Option<&str>) -> Option<(ErrorKind, bool)> {
        let entry = subject.map_or_else(|| api.to_owned(), |s| format!("{api} {s}"));
        self.calls.lock().unwrap().push(entry);
        let mut faults = self.faults.lock().unwrap();
        let fault = faults.iter_mut().find(|f| f.api == api && f.times > 0)?;
        fault.times -= 1;
        Some((fault.kind, fault.after_effect))
    }

    /// A copy of the account as it is now.
    pub fn snapshot(&self) -> MemoryAccount {
        self.state.lock().unwrap().clone()
    }

    fn provider_arn(&self, url: &str) -> String {
        crate::spec::provider_arn(Partition::Aws, &self.account_id, url)
    }

    fn policy_arn(&self, path: &str, name: &str) -> PolicyArn {
        PolicyArn {
            partition: Partition::Aws,
            account: self.account_id.clone(),
            path: path.to_owned(),
            name: name.to_owned(),
        }
    }
}

fn missing(what: &str) -> ApiError {
    ApiError::new(
        ErrorKind::NoSuchEntity,
        Some("NoSuchEntity".into()),
        format!("{what} cannot be found"),
    )
}

fn exists(what: &str) -> ApiError {
    ApiError::new(
        ErrorKind::AlreadyExists,
        Some("EntityAlreadyExists".into()),
        format!("{what} already exists"),
    )
}

fn attachments(account: &MemoryAccount, arn: &PolicyArn) -> u32 {
    let users = account.users.values().filter(|u| u.policies.contains(arn));
    let groups = account.groups.values().filter(|g| g.policies.contains(arn));
    let roles = account.roles.values().filter(|r| r.policies.contains(arn));
    u32::try_from(users.count() + groups.count() + roles.count()).unwrap_or(u32::MAX)
}

/// Whether a policy bounds a user or role: IAM will not delete it then.
fn bounds(account: &MemoryAccount, arn: &PolicyArn) -> bool {
    account
        .users
        .values()
        .any(|u| u.boundary.as_ref() == Some(arn))
        || account
            .roles
            .values()
            .any(|r| r.boundary.as_ref() == Some(arn))
}

/// The provider an ARN names.
fn provider_url(arn: &str) -> &str {
    document::provider_url(arn).unwrap_or(arn)
}

fn conflict(message: &str) -> ApiError {
    ApiError::new(
        ErrorKind::Other,
        Some("DeleteConflict".into()),
        message.to_owned(),
    )
}

fn canonical_all(inline: &BTreeMap<String, Value>) -> BTreeMap<String, Value> {
    inline
        .iter()
        .map(|(k, v)| (k.clone(), document::canonical(v)))
        .collect()
}

impl IamApi for MemoryIam {
    async fn caller(&self) -> Result<Caller, ApiError> {
        self.record("GetCallerIdentity");
        Ok(Caller {
            account: self.account_id.clone(),
            arn: format!(
                "arn:aws:sts::{}:assumed-role/admin/session",
                self.account_id
            ),
            partition: Partition::Aws,
            access_key_id: None,
        })
    }

    async fn account_details(&self, kinds: DetailKinds) -> Result<AccountDetails, ApiError> {
        self.record("GetAccountAuthorizationDetails");
        let details = self.all_details();
        Ok(AccountDetails {
            users: if kinds.users {
                details.users
            } else {
                Vec::new()
            },
            groups: if kinds.groups {
                details.groups
            } else {
                Vec::new()
            },
            roles: if kinds.roles {
                details.roles
            } else {
                Vec::new()
            },
            local_policies: if kinds.policies {
                details.local_policies
            } else {
                Vec::new()
            },
        })
    }

    async fn aws_managed_policies(&self, _: Partition) -> Result<Vec<PolicyArn>, ApiError> {
        self.record("ListPolicies");
        Ok(self.state.lock().unwrap().aws_policies.clone())
    }

    async fn aws_policy_exists(&self, policy: &PolicyArn) -> Result<bool, ApiError> {
        self.record_on("GetPolicy", Some(&policy.name));
        Ok(self.state.lock().unwrap().aws_policies.contains(policy))
    }

    async fn policy_document(&self, policy: &PolicyArn) -> Result<Value, ApiError> {
        self.record_on("GetPolicyVersion", Some(&policy.name));
        let a = self.state.lock().unwrap();
        if let Some(document) = a.aws_documents.get(policy) {
            return Ok(document::canonical(document));
        }
        let local = a
            .policies
            .get(policy)
            .ok_or_else(|| missing(&policy.to_string()))?;
        let (_, document, _) = local
            .versions
            .iter()
            .find(|(_, _, d)| *d)
            .expect("a default");
        Ok(document::canonical(document))
    }

    async fn policy_tags(&self, policy: &PolicyArn) -> Result<BTreeMap<String, String>, ApiError> {
        self.record_on("ListPolicyTags", Some(&policy.name));
        let a = self.state.lock().unwrap();
        a.policies
            .get(policy)
            .map(|p| p.tags.clone())
            .ok_or_else(|| missing(&policy.to_string()))
    }

    async fn credential_report(&self) -> Result<CredentialReport, ApiError> {
        self.record("GetCredentialReport");
        if let Some(report) = self.report.lock().unwrap().clone() {
            return report;
        }
        Ok(self.state.lock().unwrap().credential_report())
    }

    async fn access_keys(&self, user: &str) -> Result<Vec<AccessKey>, ApiError> {
        self.record_on("ListAccessKeys", Some(user));
        let a = self.state.lock().unwrap();
        a.users
            .get(user)
            .map(|u| u.keys.clone())
            .ok_or_else(|| missing(user))
    }

    async fn user_credentials(&self, _: &str) -> Result<UserCredentials, ApiError> {
        Ok(UserCredentials::default())
    }

    async fn role_settings(&self) -> Result<BTreeMap<String, RoleSettings>, ApiError> {
        self.record("ListRoles");
        let a = self.state.lock().unwrap();
        Ok(a.roles
            .iter()
            .map(|(name, r)| {
                let settings = RoleSettings {
                    description: r.description.clone(),
                    max_session: r.max_session,
                };
                (name.clone(), settings)
            })
            .collect())
    }

    async fn oidc_providers(&self) -> Result<Vec<LiveProvider>, ApiError> {
        self.record("ListOpenIDConnectProviders");
        let a = self.state.lock().unwrap();
        Ok(a.providers
            .iter()
            .map(|(url, p)| LiveProvider {
                arn: self.provider_arn(url),
                url: url.clone(),
                audiences: p.audiences.clone(),
                thumbprints: p.thumbprints.clone(),
                tags: p.tags.clone(),
            })
            .collect())
    }

    async fn login_profile(&self, user: &str) -> Result<Option<i64>, ApiError> {
        self.record_on("GetLoginProfile", Some(user));
        let a = self.state.lock().unwrap();
        let u = a.users.get(user).ok_or_else(|| missing(user))?;
        Ok(u.login.map(|l| l.created))
    }

    async fn account_alias(&self) -> Result<Option<String>, ApiError> {
        self.record("ListAccountAliases");
        Ok(self.state.lock().unwrap().alias.clone())
    }

    async fn password_policy(&self) -> Result<Option<PasswordPolicy>, ApiError> {
        self.record("GetAccountPasswordPolicy");
        Ok(self.state.lock().unwrap().password_policy)
    }

    async fn create_login_profile(&self, user: &str, password: &Secret) -> Result<(), ApiError> {
        let fault = self.record_on("CreateLoginProfile", Some(user));
        let mut a = self.state.lock().unwrap();
        let now = a.now;
        let policy = a.password_policy.unwrap_or_default();
        if password.expose().len() < policy.min_length as usize {
            return Err(ApiError::new(
                ErrorKind::Other,
                Some("PasswordPolicyViolation".into()),
                "the password is shorter than the policy allows",
            ));
        }
        let u = a.users.get_mut(user).ok_or_else(|| missing(user))?;
        if let Some((kind, after_effect)) = fault {
            if after_effect && u.login.is_none() {
                u.login = Some(Login {
                    created: now,
                    last_used: None,
                });
            }
            return Err(ApiError::new(kind, Some(format!("{kind}")), "injected"));
        }
        if u.login.is_some() {
            return Err(exists(user));
        }
        u.login = Some(Login {
            created: now,
            last_used: None,
        });
        Ok(())
    }

    fn now(&self) -> i64 {
        self.state.lock().unwrap().now
    }

    async fn call(&self, op: &Op) -> Result<Outcome, ApiError> {
        if let Some((kind, after_effect)) = self.record(op.api_name()) {
            if after_effect {
                let _ = self.effect(op);
            }
            return Err(ApiError::new(kind, Some(format!("{kind}")), "injected"));
        }
        self.effect(op)
    }

    async fn delete_access_key(&self, user: &str, access_key_id: &str) -> Result<(), ApiError> {
        let lost = self.record("DeleteAccessKey");
        let op = Op::DeleteAccessKey {
            user: user.to_owned(),
            access_key_id: access_key_id.to_owned(),
        };
        let done = self.effect(&op).map(drop);
        match lost {
            // Deleted by a first try whose answer was lost: the retry finds it gone.
            Some(_) => Err(missing(access_key_id)),
            None => done,
        }
    }
}

impl MemoryIam {
    /// Every entity, as `GetAccountAuthorizationDetails` answers without a filter.
    fn all_details(&self) -> AccountDetails {
        let a = self.state.lock().unwrap();
        let users = a
            .users
            .iter()
            .map(|(name, u)| LiveUser {
                name: name.clone(),
                path: u.path.clone(),
                created: Some(u.created),
                groups: u.groups.clone(),
                policies: u.policies.clone(),
                inline_policies: canonical_all(&u.inline),
                tags: u.tags.clone(),
                boundary: u.boundary.clone(),
                ..LiveUser::default()
            })
            .collect();
        let groups = a
            .groups
            .iter()
            .map(|(name, g)| LiveGroup {
                name: name.clone(),
                path: g.path.clone(),
                policies: g.policies.clone(),
                inline_policies: canonical_all(&g.inline),
            })
            .collect();
        let local_policies = a
            .policies
            .iter()
            .map(|(arn, p)| LivePolicy {
                arn: arn.clone(),
                // As in AWS, the account details leave policy tags out.
                tags: BTreeMap::new(),
                description: p.description.clone(),
                attachment_count: attachments(&a, arn),
                versions: p
                    .versions
                    .iter()
                    .map(|(id, _, default)| PolicyVersion {
                        id: id.clone(),
                        default: *default,
                        created: id.clone(),
                    })
                    .collect(),
                document: p
                    .versions
                    .iter()
                    .find(|v| v.2)
                    .map(|v| document::canonical(&v.1))
                    .unwrap_or_default(),
            })
            .collect();
        let roles = a
            .roles
            .iter()
            .map(|(name, r)| {
                let instance_profiles = a
                    .instance_profiles
                    .iter()
                    .filter(|(_, p)| p.roles.contains(name))
                    .map(|(profile, p)| LiveInstanceProfile {
                        name: profile.clone(),
                        path: p.path.clone(),
                        roles: p.roles.clone(),
                    })
                    .collect();
                LiveRole {
                    name: name.clone(),
                    path: r.path.clone(),
                    trust: document::canonical(&r.trust),
                    policies: r.policies.clone(),
                    inline_policies: canonical_all(&r.inline),
                    boundary: r.boundary.clone(),
                    tags: r.tags.clone(),
                    instance_profiles,
                    settings: None,
                }
            })
            .collect();
        AccountDetails {
            users,
            groups,
            roles,
            local_policies,
        }
    }

    /// What `op` does to the account.
    #[allow(clippy::too_many_lines)] // one arm per call IAM answers; each a few lines
    fn effect(&self, op: &Op) -> Result<Outcome, ApiError> {
        let mut guard = self.state.lock().unwrap();
        let a = &mut *guard;
        macro_rules! user_mut {
            ($name:expr) => {
                a.users.get_mut($name).ok_or_else(|| missing($name))?
            };
        }
        macro_rules! group_mut {
            ($name:expr) => {
                a.groups.get_mut($name).ok_or_else(|| missing($name))?
            };
        }
        macro_rules! policy_mut {
            ($arn:expr) => {
                a.policies
                    .get_mut($arn)
                    .ok_or_else(|| missing(&$arn.to_string()))?
            };
        }
        let policy_exists = |a: &MemoryAccount, arn: &PolicyArn| {
            a.policies.contains_key(arn) || a.aws_policies.contains(arn)
        };
        match op {
            Op::CreateGroup { group, path } => {
                if a.groups.contains_key(group) {
                    return Err(exists(group));
                }
                let new = MemoryGroup {
                    path: path.clone(),
                    ..MemoryGroup::default()
                };
                a.groups.insert(group.clone(), new);
            }
            Op::CreateUser {
                user,
                path,
                boundary,
                tags,
            } => {
                if a.users.contains_key(user) {
                    return Err(exists(user));
                }
                if let Some(boundary) = boundary
                    && !policy_exists(a, boundary)
                {
                    return Err(missing(&boundary.to_string()));
                }
                a.counter += 1;
                let new = MemoryUser {
                    path: path.clone(),
                    created: i64::try_from(a.counter).unwrap_or_default(),
                    tags: tags.clone(),
                    boundary: boundary.clone(),
                    ..MemoryUser::default()
                };
                a.users.insert(user.clone(), new);
            }
            Op::UpdateGroupPath { group, to, .. } => group_mut!(group).path.clone_from(to),
            Op::UpdateUserPath { user, to, .. } => user_mut!(user).path.clone_from(to),
            Op::TagUser { user, tags } => user_mut!(user).tags.extend(tags.clone()),
            Op::UntagUser { user, keys } => {
                let u = user_mut!(user);
                for key in keys {
                    u.tags.remove(key);
                }
            }
            Op::AttachGroupPolicy { group, policy } => {
                if !policy_exists(a, policy) {
                    return Err(missing(&policy.to_string()));
                }
                group_mut!(group).policies.insert(policy.clone());
            }
            Op::AttachUserPolicy { user, policy } => {
                if !policy_exists(a, policy) {
                    return Err(missing(&policy.to_string()));
                }
                user_mut!(user).policies.insert(policy.clone());
            }
            Op::DetachGroupPolicy { group, policy } => {
                if !group_mut!(group).policies.remove(policy) {
                    return Err(missing(&policy.to_string()));
                }
            }
            Op::DetachUserPolicy { user, policy } => {
                if !user_mut!(user).policies.remove(policy) {
                    return Err(missing(&policy.to_string()));
                }
            }

            Op::AddUserToGroup { user, group } => {
                if !a.users.contains_key(user) {
                    return Err(missing(user));
                }
                if !a.groups.contains_key(group) {
                    return Err(missing(group));
                }
                user_mut!(user).groups.insert(group.clone());
            }
            Op::RemoveUserFromGroup { user, group } => {
                if !user_mut!(user).groups.remove(group) {
                    return Err(missing(group));
                }
            }
            Op::CreateAccessKey { user, .. } => {
                a.counter += 1;
                let id = format!("AKIAMEMORY{:010}", a.counter);
                let u = user_mut!(user);
                if u.keys.len() >= 2 {
                    return Err(ApiError::new(
                        ErrorKind::LimitExceeded,
                        Some("LimitExceeded".into()),
                        "two access keys at most",
                    ));
                }
                let created = if a.now > 0 {
                    a.now
                } else {
                    i64::try_from(a.counter).unwrap_or_default()
                };
                let u = user_mut!(user);
                u.keys.push(AccessKey {
                    id: id.clone(),
                    active: true,
                    created,
                    last_used: None,
                });
                return Ok(Outcome::NewAccessKey {
                    secret: Secret::new(format!("secret-of-{id}")),
                    access_key_id: id,
                });
            }
            Op::DeleteAccessKey {
                user,
                access_key_id,
            } => {
                let u = user_mut!(user);
                let before = u.keys.len();
                u.keys.retain(|k| k.id != *access_key_id);
                if u.keys.len() == before {
                    return Err(missing(access_key_id));
                }
            }
            Op::CreatePolicy {
                policy,
                path,
                description,
                document,
                tags,
            } => {
                let arn = self.policy_arn(path, policy);
                if a.policies.keys().any(|p| p.name == *policy) {
                    return Err(exists(policy));
                }
                let new = MemoryPolicy::new(document.clone(), description, tags.clone());
                a.policies.insert(arn, new);
            }
            Op::TagPolicy { policy, tags } => policy_mut!(policy).tags.extend(tags.clone()),
            Op::CreatePolicyVersion {
                policy, document, ..
            } => {
                let p = policy_mut!(policy);
                if p.versions.len() >= 5 {
                    return Err(ApiError::new(
                        ErrorKind::LimitExceeded,
                        Some("LimitExceeded".into()),
                        "five versions at most",
                    ));
                }
                for version in &mut p.versions {
                    version.2 = false;
                }
                let id = format!("v{}", p.next_version);
                p.next_version += 1;
                p.versions.push((id, document.clone(), true));
            }
            Op::DeletePolicyVersion { policy, version } => {
                let p = policy_mut!(policy);
                let before = p.versions.len();
                p.versions.retain(|v| v.0 != *version || v.2);
                if p.versions.len() == before {
                    return Err(missing(version));
                }
            }
            Op::DeletePolicy { policy } => {
                if attachments(a, policy) > 0 {
                    return Err(conflict("the policy is attached"));
                }
                if bounds(a, policy) {
                    return Err(conflict("the policy is used as a permissions boundary"));
                }
                a.policies
                    .remove(policy)
                    .ok_or_else(|| missing(&policy.to_string()))?;
            }
            Op::PutUserPolicy {
                user,
                policy_name,
                document,
                ..
            } => {
                user_mut!(user)
                    .inline
                    .insert(policy_name.clone(), document.clone());
            }
            Op::PutGroupPolicy {
                group,
                policy_name,
                document,
                ..
            } => {
                group_mut!(group)
                    .inline
                    .insert(policy_name.clone(), document.clone());
            }
            Op::DeleteUserPolicy { user, policy_name } => {
                if user_mut!(user).inline.remove(policy_name).is_none() {
                    return Err(missing(policy_name));
                }
            }
            Op::DeleteGroupPolicy { group, policy_name } => {
                if group_mut!(group).inline.remove(policy_name).is_none() {
                    return Err(missing(policy_name));
                }
            }
            Op::UpdateAccessKey {
                user,
                access_key_id,
                status,
            } => {
                let key = user_mut!(user)
                    .keys
                    .iter_mut()
                    .find(|k| k.id == *access_key_id);
                key.ok_or_else(|| missing(access_key_id))?.active = *status == KeyStatus::Active;
            }
            Op::DeleteLoginProfile { user } => {
                if user_mut!(user).login.take().is_none() {
                    return Err(missing(user));
                }
            }
            Op::CreateAccountAlias { alias, .. } => a.alias = Some(alias.clone()),
            Op::DeleteAccountAlias { alias } => {
                if a.alias.as_ref() != Some(alias) {
                    return Err(missing(alias));
                }
                a.alias = None;
            }
            Op::UpdateAccountPasswordPolicy { policy, .. } => a.password_policy = Some(*policy),
            Op::DeactivateMfaDevice { user, .. }
            | Op::DeleteSigningCertificate { user, .. }
            | Op::DeleteSshPublicKey { user, .. }
            | Op::DeleteServiceSpecificCredential { user, .. } => return Err(missing(user)),
            Op::DeleteUser { user } => {
                let u = a.users.get(user).ok_or_else(|| missing(user))?;
                let bare = u.groups.is_empty()
                    && u.policies.is_empty()
                    && u.inline.is_empty()
                    && u.keys.is_empty();
                if !bare {
                    return Err(ApiError::new(
                        ErrorKind::Other,
                        Some("DeleteConflict".into()),
                        "the user still has something attached",
                    ));
                }
                a.users.remove(user);
            }
            Op::DeleteGroup { group } => {
                let g = a.groups.get(group).ok_or_else(|| missing(group))?;
                let members = a.users.values().any(|u| u.groups.contains(group));
                if members || !g.policies.is_empty() || !g.inline.is_empty() {
                    return Err(ApiError::new(
                        ErrorKind::Other,
                        Some("DeleteConflict".into()),
                        "the group still has members or policies",
                    ));
                }
                a.groups.remove(group);
            }
            other => return Self::role_effect(a, other),
        }
        Ok(Outcome::Done)
    }

    /// What a role, instance profile, provider or boundary call does to the account.
    #[allow(clippy::too_many_lines)] // one arm per call IAM answers; each a few lines
    fn role_effect(a: &mut MemoryAccount, op: &Op) -> Result<Outcome, ApiError> {
        macro_rules! role_mut {
            ($name:expr) => {
                a.roles.get_mut($name).ok_or_else(|| missing($name))?
            };
        }
        macro_rules! provider_mut {
            ($arn:expr) => {
                a.providers
                    .get_mut(provider_url($arn))
                    .ok_or_else(|| missing($arn))?
            };
        }
        let policy_exists = |a: &MemoryAccount, arn: &PolicyArn| {
            a.policies.contains_key(arn) || a.aws_policies.contains(arn)
        };
        match op {
            Op::CreateOpenIdConnectProvider {
                url,
                audiences,
                thumbprints,
                tags,
            } => {
                if a.providers.contains_key(url) {
                    return Err(exists(url));
                }
                let new = MemoryProvider {
                    audiences: audiences.clone(),
                    thumbprints: thumbprints.clone(),
                    tags: tags.clone(),
                };
                a.providers.insert(url.clone(), new);
            }
            Op::TagOpenIdConnectProvider { provider, tags, .. } => {
                provider_mut!(provider).tags.extend(tags.clone());
            }
            Op::AddClientIdToOpenIdConnectProvider {
                provider,
                client_id,
                ..
            } => {
                let p = provider_mut!(provider);
                if !p.audiences.contains(client_id) {
                    p.audiences.push(client_id.clone());
                    p.audiences.sort();
                }
            }
            Op::RemoveClientIdFromOpenIdConnectProvider {
                provider,
                client_id,
                ..
            } => provider_mut!(provider).audiences.retain(|c| c != client_id),
            Op::UpdateOpenIdConnectProviderThumbprint {
                provider,
                thumbprints,
                ..
            } => provider_mut!(provider).thumbprints.clone_from(thumbprints),
            Op::DeleteOpenIdConnectProvider { provider, .. } => {
                let url = provider_url(provider);
                a.providers.remove(url).ok_or_else(|| missing(provider))?;
            }
            Op::CreateRole {
                role,
                path,
                description,
                trust,
                max_session,
                boundary,
                tags,
            } => {
                if a.roles.keys().any(|r| r.eq_ignore_ascii_case(role)) {
                    return Err(exists(role));
                }
                if let Some(boundary) = boundary
                    && !policy_exists(a, boundary)
                {
                    return Err(missing(&boundary.to_string()));
                }
                let new = MemoryRole {
                    path: path.clone(),
                    trust: trust.clone(),
                    description: description.clone(),
                    max_session: *max_session,
                    boundary: boundary.clone(),
                    tags: tags.clone(),
                    ..MemoryRole::default()
                };
                a.roles.insert(role.clone(), new);
            }
            Op::UpdateAssumeRolePolicy { role, document, .. } => {
                role_mut!(role).trust = document.clone();
            }
            Op::UpdateRole {
                role,
                description,
                max_session,
                ..
            } => {
                let r = role_mut!(role);
                r.description.clone_from(description);
                r.max_session = *max_session;
            }
            Op::TagRole { role, tags } => role_mut!(role).tags.extend(tags.clone()),
            Op::UntagRole { role, keys } => {
                let r = role_mut!(role);
                for key in keys {
                    r.tags.remove(key);
                }
            }
            Op::AttachRolePolicy { role, policy } => {
                if !policy_exists(a, policy) {
                    return Err(missing(&policy.to_string()));
                }
                role_mut!(role).policies.insert(policy.clone());
            }
            Op::DetachRolePolicy { role, policy } => {
                if !role_mut!(role).policies.remove(policy) {
                    return Err(missing(&policy.to_string()));
                }
            }
            Op::PutRolePolicy {
                role,
                policy_name,
                document,
                ..
            } => {
                role_mut!(role)
                    .inline
                    .insert(policy_name.clone(), document.clone());
            }
            Op::DeleteRolePolicy { role, policy_name } => {
                if role_mut!(role).inline.remove(policy_name).is_none() {
                    return Err(missing(policy_name));
                }
            }
            Op::PutRolePermissionsBoundary { role, policy, .. } => {
                if !policy_exists(a, policy) {
                    return Err(missing(&policy.to_string()));
                }
                role_mut!(role).boundary = Some(policy.clone());
            }
            Op::DeleteRolePermissionsBoundary { role, .. } => {
                if role_mut!(role).boundary.take().is_none() {
                    return Err(missing("permissions boundary"));
                }
            }
            Op::PutUserPermissionsBoundary { user, policy, .. } => {
                if !policy_exists(a, policy) {
                    return Err(missing(&policy.to_string()));
                }
                let u = a.users.get_mut(user).ok_or_else(|| missing(user))?;
                u.boundary = Some(policy.clone());
            }
            Op::DeleteUserPermissionsBoundary { user, .. } => {
                let u = a.users.get_mut(user).ok_or_else(|| missing(user))?;
                if u.boundary.take().is_none() {
                    return Err(missing("permissions boundary"));
                }
            }
            Op::CreateInstanceProfile {
                profile,
                path,
                tags,
            } => {
                if a.instance_profiles.contains_key(profile) {
                    return Err(exists(profile));
                }
                let new = MemoryProfile {
                    path: path.clone(),
                    roles: Vec::new(),
                    tags: tags.clone(),
                };
                a.instance_profiles.insert(profile.clone(), new);
            }
            Op::AddRoleToInstanceProfile { profile, role } => {
                if !a.roles.contains_key(role) {
                    return Err(missing(role));
                }
                let p = a
                    .instance_profiles
                    .get_mut(profile)
                    .ok_or_else(|| missing(profile))?;
                if p.roles.contains(role) {
                    return Err(exists(role));
                }
                if !p.roles.is_empty() {
                    return Err(ApiError::new(
                        ErrorKind::LimitExceeded,
                        Some("LimitExceeded".into()),
                        "an instance profile holds one role",
                    ));
                }
                p.roles.push(role.clone());
            }
            Op::RemoveRoleFromInstanceProfile { profile, role } => {
                let p = a
                    .instance_profiles
                    .get_mut(profile)
                    .ok_or_else(|| missing(profile))?;
                let before = p.roles.len();
                p.roles.retain(|r| r != role);
                if p.roles.len() == before {
                    return Err(missing(role));
                }
            }
            Op::DeleteInstanceProfile { profile } => {
                let p = a
                    .instance_profiles
                    .get(profile)
                    .ok_or_else(|| missing(profile))?;
                if !p.roles.is_empty() {
                    return Err(conflict("the instance profile holds a role"));
                }
                a.instance_profiles.remove(profile);
            }
            Op::DeleteRole { role } => {
                let r = a.roles.get(role).ok_or_else(|| missing(role))?;
                let in_profile = a.instance_profiles.values().any(|p| p.roles.contains(role));
                if in_profile || !r.policies.is_empty() || !r.inline.is_empty() {
                    return Err(conflict("the role still has policies or instance profiles"));
                }
                a.roles.remove(role);
            }
            other => unreachable!("{} is a user, group or policy call", other.api_name()),
        }
        Ok(Outcome::Done)
    }
}
