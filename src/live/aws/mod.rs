//! The `IamApi` seam over the AWS SDK: the one place that names `aws_sdk_iam`.
//!
//! It loads credentials the way every AWS tool does (environment, `--profile`, SSO, instance
//! roles), bounds every call in time, and counts the calls it makes by operation for
//! `--stats`. The reads (`reads.rs`), the calls (`calls.rs`) and how SDK errors become
//! `ApiError`s (`errors.rs`) each have a file of their own.

mod calls;
mod center;
mod credential_calls;
mod errors;
mod organizations;
mod reads;
mod role_calls;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::meta::region::RegionProviderChain;
use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_iam::config::ProvideCredentials;
use aws_sdk_iam::config::retry::RetryConfig;
use aws_sdk_iam::config::timeout::TimeoutConfig;

use crate::iam::{Partition, PolicyArn};
use crate::live::{
    AccessKey, AccountDetails, Caller, CredentialReport, DetailKinds, LiveProvider, RoleSettings,
    UserCredentials,
};
use crate::live::{ApiError, ErrorKind, IamApi, Outcome};
use crate::plan::Op;
use crate::secrets::Secret;
use crate::spec::PasswordPolicy;
pub use center::AwsCenter;
use errors::{HopelessConnections, innermost, is_loopback};
pub use organizations::{AwsOrganizations, Needs};

/// IAM is global; its API is signed for us-east-1 in the commercial partition, so a missing
/// region need not stop anyone.
pub(super) const DEFAULT_REGION: &str = "us-east-1";

/// How long to wait for IAM to make a credential report.
pub(super) const REPORT_PATIENCE: Duration = Duration::from_mins(2);

/// How many times the SDK tries a call that fails in a way worth retrying.
pub(super) const SDK_ATTEMPTS: u32 = 8;

/// How to reach AWS: the standard settings, each optional.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    /// The profile to use. A named profile wins over credentials in the environment.
    pub profile: Option<String>,
    pub region: Option<String>,
    /// Overrides the endpoint of both IAM and STS (a local endpoint, say).
    pub endpoint_url: Option<String>,
    pub timeouts: Timeouts,
}

/// How long a call may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// To open a connection.
    pub connect: Duration,
    /// For one attempt of a call, from sending it to the end of the answer.
    pub call: Duration,
    /// For a call with all its retries.
    pub retries: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            call: Duration::from_secs(20),
            retries: Duration::from_mins(1),
        }
    }
}

/// IAM and STS clients and a count of the calls made through them.
pub struct AwsIam {
    iam: aws_sdk_iam::Client,
    sts: aws_sdk_sts::Client,
    calls: Mutex<BTreeMap<&'static str, u64>>,
    /// The access key the credentials use, so that a prune never deletes it.
    access_key_id: Option<String>,
    /// AWS-managed policies as other accounts of the same run read them.
    shared: Option<Arc<AwsPolicies>>,
}

/// What every account of one partition has alike: AWS-managed policies, whether each exists
/// and its document. The accounts of an organization share one, so that each is asked once
/// per run, not once per account (one ask at a time: the others wait for its answer).
#[derive(Default)]
pub struct AwsPolicies {
    exists: Mutex<BTreeMap<PolicyArn, Arc<tokio::sync::OnceCell<bool>>>>,
    documents: Mutex<BTreeMap<PolicyArn, Arc<tokio::sync::OnceCell<serde_json::Value>>>>,
}

impl AwsPolicies {
    fn cell<T>(
        map: &Mutex<BTreeMap<PolicyArn, Arc<tokio::sync::OnceCell<T>>>>,
        policy: &PolicyArn,
    ) -> Arc<tokio::sync::OnceCell<T>> {
        let mut map = map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(map.entry(policy.clone()).or_default())
    }
}

impl AwsIam {
    /// Loads configuration and credentials, and fails early, in one sentence, if there are none.
    pub async fn connect(connection: &Connection) -> Result<Self, ApiError> {
        let (config, access_key_id) = load(connection).await?;
        let mut api = Self::from_config(&config);
        api.access_key_id = Some(access_key_id);
        Ok(api)
    }

    /// The IAM of another account, reached by assuming each role of `hops` in turn from
    /// `base`'s credentials (the last hop's role is in that account). The credentials are
    /// renewed before they expire, so a long apply keeps them; the first set is fetched here,
    /// so that a role that refuses says so before anything is read.
    pub async fn assume(
        base: &SdkConfig,
        hops: &[Hop],
        session_name: &str,
    ) -> Result<Self, ApiError> {
        let config = assumed_config(base, hops, session_name).await?;
        let provider = config
            .credentials_provider()
            .expect("an assumed configuration has credentials");
        let credentials = provider.provide_credentials().await.map_err(|err| {
            let hop = hops.last().map_or("", |h| h.role_arn.as_str());
            let cause = innermost(&err);
            let cause = cause.lines().next().unwrap_or_default().trim_end_matches('.');
            ApiError::new(
                ErrorKind::Credentials,
                None,
                format!(
                    "could not assume {hop} ({cause}): check that the role exists and that its trust policy lets the caller assume it{}",
                    if hops.iter().any(|h| h.external_id.is_some()) { " with the external id" } else { "" }
                ),
            )
        })?;
        let mut api = Self::from_config(&config);
        api.access_key_id = Some(credentials.access_key_id().to_owned());
        Ok(api)
    }

    /// Wraps clients built from `config` (tests build it by hand).
    pub fn from_config(config: &SdkConfig) -> Self {
        let hopeless = HopelessConnections {
            local: config.endpoint_url().is_some_and(is_loopback),
        };
        let iam = aws_sdk_iam::config::Builder::from(config).retry_classifier(hopeless);
        let sts = aws_sdk_sts::config::Builder::from(config).retry_classifier(hopeless);
        Self {
            iam: aws_sdk_iam::Client::from_conf(iam.build()),
            sts: aws_sdk_sts::Client::from_conf(sts.build()),
            calls: Mutex::new(BTreeMap::new()),
            access_key_id: None,
            shared: None,
        }
    }

    /// Shares what AWS-managed policies are with the other accounts of a run.
    pub fn share_aws_policies(&mut self, shared: Arc<AwsPolicies>) {
        self.shared = Some(shared);
    }

    /// Wraps an existing IAM client (tests with recorded responses); STS comes from the same
    /// configuration.
    pub fn from_clients(iam: aws_sdk_iam::Client, sts: aws_sdk_sts::Client) -> Self {
        Self {
            iam,
            sts,
            calls: Mutex::new(BTreeMap::new()),
            access_key_id: None,
            shared: None,
        }
    }

    /// The access key the credentials use, which a prune must never delete.
    pub fn set_access_key_id(&mut self, key: String) {
        self.access_key_id = Some(key);
    }

    /// How many calls were made, by API action.
    pub fn calls(&self) -> BTreeMap<&'static str, u64> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    fn count(&self, action: &'static str) {
        if let Ok(mut calls) = self.calls.lock() {
            *calls.entry(action).or_default() += 1;
        }
    }
}

/// One role assumed on the way to an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    pub role_arn: String,
    pub external_id: Option<String>,
}

/// The configuration every client is built from: region, retries, timeouts, endpoint and
/// credentials (checked: none is an error), with the access key id the credentials use.
pub async fn load(connection: &Connection) -> Result<(SdkConfig, String), ApiError> {
    let region = RegionProviderChain::first_try(connection.region.clone().map(Region::new))
        .or_default_provider()
        .or_else(DEFAULT_REGION);
    // Adaptive retries slow down when IAM throttles and speed up again; reads then ride out
    // faults on their own. `apply` adds its own waits above this for what the SDK does not
    // retry (NoSuchEntity right after a create), and CreateAccessKey opts out entirely.
    let retry = RetryConfig::adaptive()
        .with_max_attempts(SDK_ATTEMPTS)
        .with_max_backoff(Duration::from_secs(20));
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(connection.timeouts.connect)
        .operation_attempt_timeout(connection.timeouts.call)
        .operation_timeout(connection.timeouts.retries)
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(region)
        .retry_config(retry)
        .timeout_config(timeouts);
    if let Some(profile) = &connection.profile {
        // A profile someone named wins over keys that happen to be in the environment,
        // as the AWS CLI's --profile does: an apply must not go to the wrong account.
        let credentials = ProfileFileCredentialsProvider::builder()
            .profile_name(profile)
            .build();
        loader = loader
            .profile_name(profile)
            .credentials_provider(credentials);
    }
    if let Some(url) = &connection.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    let config = loader.load().await;
    let access_key_id = check_credentials(&config, connection).await?;
    Ok((config, access_key_id))
}

/// `base` with the credentials of the last of `hops`, each assumed from the one before.
async fn assumed_config(
    base: &SdkConfig,
    hops: &[Hop],
    session_name: &str,
) -> Result<SdkConfig, ApiError> {
    use aws_config::sts::AssumeRoleProvider;
    use aws_credential_types::provider::SharedCredentialsProvider;
    let mut provider: Option<AssumeRoleProvider> = None;
    for hop in hops {
        let mut builder = AssumeRoleProvider::builder(&hop.role_arn)
            .session_name(session_name)
            .configure(base);
        if let Some(id) = &hop.external_id {
            builder = builder.external_id(id);
        }
        provider = Some(match provider {
            None => builder.build().await,
            Some(from) => builder.build_from_provider(from).await,
        });
    }
    let Some(provider) = provider else {
        return Ok(base.clone());
    };
    Ok(base
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(provider))
        .build())
}

/// The access key id of the credentials found, or why there are none.
pub(super) async fn check_credentials(
    config: &SdkConfig,
    connection: &Connection,
) -> Result<String, ApiError> {
    let Some(provider) = config.credentials_provider() else {
        return Err(no_credentials(
            connection,
            "no credential provider is configured",
        ));
    };
    match provider.provide_credentials().await {
        Ok(credentials) => Ok(credentials.access_key_id().to_owned()),
        // The chain's own message lists every provider it tried, one a line: too much to say.
        Err(CredentialsError::CredentialsNotLoaded(_)) => Err(no_credentials(connection, "")),
        Err(err) => {
            let cause = innermost(&err);
            let cause = cause
                .lines()
                .next()
                .unwrap_or_default()
                .trim_end_matches('.');
            Err(no_credentials(connection, &format!(" ({cause})")))
        }
    }
}

pub(super) fn no_credentials(connection: &Connection, cause: &str) -> ApiError {
    let source = match &connection.profile {
        Some(profile) => format!("profile `{profile}`"),
        None => "the environment, ~/.aws or an instance role".to_owned(),
    };
    ApiError::new(
        ErrorKind::Credentials,
        None,
        format!(
            "no AWS credentials found in {source}{cause}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, pass --profile, or run `aws sso login`"
        ),
    )
}

impl IamApi for AwsIam {
    async fn caller(&self) -> Result<Caller, ApiError> {
        reads::caller(self).await
    }

    async fn account_details(&self, kinds: DetailKinds) -> Result<AccountDetails, ApiError> {
        reads::account_details(self, kinds).await
    }

    async fn aws_managed_policies(
        &self,
        _partition: Partition,
    ) -> Result<Vec<PolicyArn>, ApiError> {
        reads::aws_managed_policies(self).await
    }

    async fn aws_policy_exists(&self, policy: &PolicyArn) -> Result<bool, ApiError> {
        match &self.shared {
            Some(shared) => {
                let cell = AwsPolicies::cell(&shared.exists, policy);
                let exists = cell.get_or_try_init(|| reads::aws_policy_exists(self, policy));
                exists.await.copied()
            }
            None => reads::aws_policy_exists(self, policy).await,
        }
    }

    async fn policy_document(&self, policy: &PolicyArn) -> Result<serde_json::Value, ApiError> {
        match &self.shared {
            Some(shared) if policy.is_aws_managed() => {
                let cell = AwsPolicies::cell(&shared.documents, policy);
                let document = cell.get_or_try_init(|| reads::policy_document(self, policy));
                document.await.cloned()
            }
            _ => reads::policy_document(self, policy).await,
        }
    }

    async fn policy_tags(&self, policy: &PolicyArn) -> Result<BTreeMap<String, String>, ApiError> {
        reads::policy_tags(self, policy).await
    }

    async fn user_credentials(&self, user: &str) -> Result<UserCredentials, ApiError> {
        reads::user_credentials(self, user).await
    }

    async fn role_settings(&self) -> Result<BTreeMap<String, RoleSettings>, ApiError> {
        reads::role_settings(self).await
    }

    async fn oidc_providers(&self) -> Result<Vec<LiveProvider>, ApiError> {
        reads::oidc_providers(self).await
    }

    async fn credential_report(&self) -> Result<CredentialReport, ApiError> {
        reads::credential_report(self).await
    }

    async fn access_keys(&self, user: &str) -> Result<Vec<AccessKey>, ApiError> {
        reads::access_keys(self, user).await
    }

    async fn login_profile(&self, user: &str) -> Result<Option<i64>, ApiError> {
        credential_calls::login_profile(self, user).await
    }

    async fn account_alias(&self) -> Result<Option<String>, ApiError> {
        credential_calls::account_alias(self).await
    }

    async fn password_policy(&self) -> Result<Option<PasswordPolicy>, ApiError> {
        credential_calls::password_policy(self).await
    }

    async fn create_login_profile(&self, user: &str, password: &Secret) -> Result<(), ApiError> {
        credential_calls::create_login_profile(self, user, password).await
    }

    async fn call(&self, op: &Op) -> Result<Outcome, ApiError> {
        calls::call(self, op).await
    }

    async fn delete_access_key(&self, user: &str, access_key_id: &str) -> Result<(), ApiError> {
        calls::delete_access_key(self, user, access_key_id).await
    }
}
