//! The seam between iamspec and IAM: the few reads and the calls a plan can contain, in domain
//! types. `aws::AwsIam` implements it over the AWS SDK; tests can implement it in memory.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;

use crate::plan::Op;
use crate::secrets::Secret;

use super::state::{
    AccessKey, AccountDetails, Caller, CredentialReport, DetailKinds, LiveProvider, RoleSettings,
    UserCredentials,
};
use crate::iam::{Partition, PolicyArn};
use crate::spec::PasswordPolicy;

/// What IAM offers iamspec. Reads never change anything; `call` makes exactly one mutating call.
pub trait IamApi: Sync {
    /// Who the credentials belong to (STS `GetCallerIdentity`).
    fn caller(&self) -> impl Future<Output = Result<Caller, ApiError>> + Send;

    /// Users, groups, roles and customer-managed policies, all pages merged
    /// (`GetAccountAuthorizationDetails`); only the kinds `kinds` asks for (its `Filter`).
    fn account_details(
        &self,
        kinds: DetailKinds,
    ) -> impl Future<Output = Result<AccountDetails, ApiError>> + Send;

    /// Every AWS-managed policy (`ListPolicies`, scope AWS).
    fn aws_managed_policies(
        &self,
        partition: Partition,
    ) -> impl Future<Output = Result<Vec<PolicyArn>, ApiError>> + Send;

    /// Whether an AWS-managed policy exists (`GetPolicy`).
    fn aws_policy_exists(
        &self,
        policy: &PolicyArn,
    ) -> impl Future<Output = Result<bool, ApiError>> + Send;

    /// A managed policy's default document, canonical (`GetPolicy`, `GetPolicyVersion`).
    fn policy_document(
        &self,
        policy: &PolicyArn,
    ) -> impl Future<Output = Result<serde_json::Value, ApiError>> + Send;

    /// A customer-managed policy's tags (`ListPolicyTags`): account details leave them out.
    fn policy_tags(
        &self,
        policy: &PolicyArn,
    ) -> impl Future<Output = Result<BTreeMap<String, String>, ApiError>> + Send;

    /// What IAM's credential report says of every user's access keys, in a few calls whatever
    /// the account's size (`GenerateCredentialReport`, `GetCredentialReport`). The report can be
    /// up to four hours old: IAM makes a new one at most that often.
    fn credential_report(&self) -> impl Future<Output = Result<CredentialReport, ApiError>> + Send;

    /// A user's access keys, without secrets (`ListAccessKeys`).
    fn access_keys(
        &self,
        user: &str,
    ) -> impl Future<Output = Result<Vec<AccessKey>, ApiError>> + Send;

    /// A user's credentials other than access keys: login profile, MFA devices, signing
    /// certificates, SSH keys, service-specific credentials.
    fn user_credentials(
        &self,
        user: &str,
    ) -> impl Future<Output = Result<UserCredentials, ApiError>> + Send;

    /// Every role's description and session length, by name (`ListRoles`): the account
    /// details leave them out.
    fn role_settings(
        &self,
    ) -> impl Future<Output = Result<BTreeMap<String, RoleSettings>, ApiError>> + Send;

    /// The account's OIDC providers (`ListOpenIDConnectProviders`, then
    /// `GetOpenIDConnectProvider` for each: the list names only their ARNs).
    fn oidc_providers(&self) -> impl Future<Output = Result<Vec<LiveProvider>, ApiError>> + Send;

    /// When a user's console password was set, or `None` when it has none (`GetLoginProfile`).
    fn login_profile(
        &self,
        user: &str,
    ) -> impl Future<Output = Result<Option<i64>, ApiError>> + Send;

    /// The account alias, if it has one (`ListAccountAliases`).
    fn account_alias(&self) -> impl Future<Output = Result<Option<String>, ApiError>> + Send;

    /// The account password policy, if it has one (`GetAccountPasswordPolicy`).
    fn password_policy(
        &self,
    ) -> impl Future<Output = Result<Option<PasswordPolicy>, ApiError>> + Send;

    /// Gives a user a console password that must be changed at first sign-in
    /// (`CreateLoginProfile`): the password is not in any `Op`, so it has a call of its own.
    fn create_login_profile(
        &self,
        user: &str,
        password: &Secret,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;

    /// The account's clock, in seconds since 1970: credentials age against it.
    fn now(&self) -> i64 {
        let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        since.map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    }

    /// Makes the one IAM call that `op` names.
    fn call(&self, op: &Op) -> impl Future<Output = Result<Outcome, ApiError>> + Send;

    /// Deletes an access key: only used to take back a key whose secret could not be saved.
    fn delete_access_key(
        &self,
        user: &str,
        access_key_id: &str,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
}

/// What a successful call returned that matters.
#[derive(Debug)]
pub enum Outcome {
    Done,
    /// `CreateAccessKey`: the only time AWS ever shows the secret.
    NewAccessKey {
        access_key_id: String,
        secret: Secret,
    },
}

/// An IAM error, classified by what iamspec should do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct ApiError {
    pub kind: ErrorKind,
    /// The AWS error code, when there is one (`NoSuchEntity`, `AccessDenied`, ...).
    pub code: Option<String>,
    pub message: String,
}

/// Error classes that decide retries and advice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The entity does not exist (or is not visible yet: IAM is eventually consistent).
    NoSuchEntity,
    /// A create found the entity already there.
    AlreadyExists,
    /// The account is being throttled.
    Throttled,
    /// The caller's policies do not allow the call.
    AccessDenied,
    /// An IAM quota is reached (for example two access keys per user).
    LimitExceeded,
    /// A server error, timeout or dropped connection: worth retrying.
    Transient,
    /// No connection could be made at all (the name does not resolve, nothing listens): not
    /// worth another try.
    Unreachable,
    /// Credentials are missing, invalid or expired.
    Credentials,
    /// Anything else: not retried.
    Other,
}

impl ErrorKind {
    /// Whether a call that failed this way may succeed if simply made again.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorKind::Throttled | ErrorKind::Transient)
    }
}

impl ApiError {
    pub fn new(kind: ErrorKind, code: Option<String>, message: impl Into<String>) -> Self {
        Self {
            kind,
            code,
            message: message.into(),
        }
    }

    fn describe(&self) -> String {
        let message = self.message.trim_end_matches('.');
        match &self.code {
            Some(code) if !message.is_empty() => format!("{code}: {message}"),
            Some(code) => code.clone(),
            None => message.to_owned(),
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}
