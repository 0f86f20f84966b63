//! The `IamApi` seam over the AWS SDK: the one module that names `aws_sdk_iam`.
//!
//! It loads credentials the way every AWS tool does (environment, `--profile`, SSO, instance
//! roles), turns SDK errors into `ApiError`s that say what happened in a sentence, and counts
//! the calls it makes by operation for `--stats`.

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_config::meta::region::RegionProviderChain;
use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_iam::config::ProvideCredentials;
use aws_sdk_iam::config::http::HttpResponse;
use aws_sdk_iam::config::interceptors::InterceptorContext;
use aws_sdk_iam::config::retry::{ClassifyRetry, RetryAction, RetryConfig};
use aws_sdk_iam::config::timeout::TimeoutConfig;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_iam::primitives::{DateTime, DateTimeFormat};
use aws_sdk_iam::types::{EntityType, PolicyScopeType, ReportStateType, StatusType, Tag};
use aws_smithy_runtime_api::client::retries::classifiers::RetryClassifierPriority;

use super::api::{ApiError, ErrorKind, IamApi, Outcome};
use super::{
    AccessKey, AccountDetails, Caller, CredentialReport, LiveGroup, LivePolicy, LiveUser,
    PolicyVersion, ReportedUser, UserCredentials,
};
use crate::document;
use crate::iam::{Partition, PolicyArn};
use crate::plan::Op;
use crate::secrets::Secret;

/// IAM is global; its API is signed for us-east-1 in the commercial partition, so a missing
/// region need not stop anyone.
const DEFAULT_REGION: &str = "us-east-1";

/// How long to wait for IAM to make a credential report.
const REPORT_PATIENCE: Duration = Duration::from_mins(2);

/// How many times the SDK tries a call that fails in a way worth retrying.
const SDK_ATTEMPTS: u32 = 8;

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
}

impl AwsIam {
    /// Loads configuration and credentials, and fails early, in one sentence, if there are none.
    pub async fn connect(connection: &Connection) -> Result<Self, ApiError> {
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
        let mut api = Self::from_config(&config);
        api.access_key_id = Some(access_key_id);
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
        }
    }

    /// Wraps an existing IAM client (tests with recorded responses); STS comes from the same
    /// configuration.
    pub fn from_clients(iam: aws_sdk_iam::Client, sts: aws_sdk_sts::Client) -> Self {
        Self {
            iam,
            sts,
            calls: Mutex::new(BTreeMap::new()),
            access_key_id: None,
        }
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

/// Stops the SDK from retrying a connection that cannot succeed: a name that does not resolve,
/// or a local endpoint that refuses connections (nothing listens there). Retrying those only
/// makes the user wait for the same error.
#[derive(Debug, Clone, Copy)]
struct HopelessConnections {
    /// The endpoint is on this machine: a refused connection means nothing listens.
    local: bool,
}

impl ClassifyRetry for HopelessConnections {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let Some(Err(err)) = ctx.output_or_error() else {
            return RetryAction::NoActionIndicated;
        };
        match err.as_connector_error().and_then(|e| hopeless(e)) {
            Some(Hopeless::Unresolved) => RetryAction::RetryForbidden,
            Some(Hopeless::Refused) if self.local => RetryAction::RetryForbidden,
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "iamspec: hopeless connections"
    }

    fn priority(&self) -> RetryClassifierPriority {
        RetryClassifierPriority::run_after(RetryClassifierPriority::transient_error_classifier())
    }
}

/// A connection that could not be made, in a way that another try will only repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hopeless {
    /// DNS cannot resolve the endpoint's name.
    Unresolved,
    /// Nothing listens there.
    Refused,
}

/// Whether `err` says the connection could not be made at all, and how.
fn hopeless(err: &(dyn StdError + 'static)) -> Option<Hopeless> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        if e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
        {
            return Some(Hopeless::Refused);
        }
        let text = e.to_string();
        if text.contains("dns error") || text.contains("failed to lookup address") {
            return Some(Hopeless::Unresolved);
        }
        current = e.source();
    }
    None
}

fn is_loopback(uri: &str) -> bool {
    let rest = uri.split_once("://").map_or(uri, |(_, rest)| rest);
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = if host.starts_with('[') {
        host.split(']')
            .next()
            .unwrap_or_default()
            .trim_start_matches('[')
    } else {
        host.split(':').next().unwrap_or_default()
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The access key id of the credentials found, or why there are none.
async fn check_credentials(
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

fn no_credentials(connection: &Connection, cause: &str) -> ApiError {
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
        self.count("GetCallerIdentity");
        let out = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(classify)?;
        let arn = out.arn().unwrap_or_default().to_owned();
        let partition = Partition::of_arn(&arn).ok_or_else(|| {
            ApiError::new(
                ErrorKind::Other,
                None,
                format!("STS answered with an ARN iamspec does not understand: `{arn}`"),
            )
        })?;
        Ok(Caller {
            account: out.account().unwrap_or_default().to_owned(),
            arn,
            partition,
            access_key_id: self.access_key_id.clone(),
        })
    }

    async fn account_details(&self) -> Result<AccountDetails, ApiError> {
        let mut pages = self
            .iam
            .get_account_authorization_details()
            .filter(EntityType::User)
            .filter(EntityType::Group)
            .filter(EntityType::LocalManagedPolicy)
            .into_paginator()
            .send();
        let mut details = AccountDetails::default();
        while let Some(page) = pages.next().await {
            self.count("GetAccountAuthorizationDetails");
            let page = page.map_err(classify)?;
            for user in page.user_detail_list() {
                details.users.push(LiveUser {
                    name: user.user_name().unwrap_or_default().to_owned(),
                    path: user.path().unwrap_or("/").to_owned(),
                    created: user.create_date().map(DateTime::secs),
                    groups: user.group_list().iter().cloned().collect(),
                    policies: attached(user.attached_managed_policies())?,
                    inline_policies: inline(user.user_policy_list())?,
                    tags: tags(user.tags()),
                    access_keys: Vec::new(),
                    keys_settled: false,
                    credentials: None,
                });
            }
            for group in page.group_detail_list() {
                details.groups.push(LiveGroup {
                    name: group.group_name().unwrap_or_default().to_owned(),
                    path: group.path().unwrap_or("/").to_owned(),
                    policies: attached(group.attached_managed_policies())?,
                    inline_policies: inline(group.group_policy_list())?,
                });
            }
            for policy in page.policies() {
                details.local_policies.push(live_policy(policy)?);
            }
        }
        Ok(details)
    }

    async fn aws_managed_policies(
        &self,
        _partition: Partition,
    ) -> Result<Vec<PolicyArn>, ApiError> {
        let mut pages = self
            .iam
            .list_policies()
            .scope(PolicyScopeType::Aws)
            .max_items(1000)
            .into_paginator()
            .send();
        let mut policies = Vec::new();
        while let Some(page) = pages.next().await {
            self.count("ListPolicies");
            for policy in page.map_err(classify)?.policies() {
                policies.push(parse_arn(policy.arn())?);
            }
        }
        Ok(policies)
    }

    async fn aws_policy_exists(&self, policy: &PolicyArn) -> Result<bool, ApiError> {
        self.count("GetPolicy");
        match self
            .iam
            .get_policy()
            .policy_arn(policy.to_string())
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(err) => match classify(err) {
                gone if gone.kind == ErrorKind::NoSuchEntity => Ok(false),
                other => Err(other),
            },
        }
    }

    async fn policy_tags(&self, policy: &PolicyArn) -> Result<BTreeMap<String, String>, ApiError> {
        let mut pages = self
            .iam
            .list_policy_tags()
            .policy_arn(policy.to_string())
            .into_paginator()
            .send();
        let mut found = BTreeMap::new();
        while let Some(page) = pages.next().await {
            self.count("ListPolicyTags");
            found.extend(tags(page.map_err(classify)?.tags()));
        }
        Ok(found)
    }

    async fn user_credentials(&self, user: &str) -> Result<UserCredentials, ApiError> {
        let iam = &self.iam;
        self.count("GetLoginProfile");
        let login_profile = match iam.get_login_profile().user_name(user).send().await {
            Ok(_) => true,
            Err(err) => match classify(err) {
                err if err.kind == ErrorKind::NoSuchEntity => false,
                err => return Err(err),
            },
        };
        self.count("ListMFADevices");
        let mfa = iam
            .list_mfa_devices()
            .user_name(user)
            .send()
            .await
            .map_err(classify)?;
        self.count("ListSigningCertificates");
        let certificates = iam
            .list_signing_certificates()
            .user_name(user)
            .send()
            .await
            .map_err(classify)?;
        self.count("ListSSHPublicKeys");
        let ssh = iam
            .list_ssh_public_keys()
            .user_name(user)
            .send()
            .await
            .map_err(classify)?;
        self.count("ListServiceSpecificCredentials");
        let no_retries =
            aws_sdk_iam::config::Builder::default().retry_config(RetryConfig::disabled());
        let service = iam
            .list_service_specific_credentials()
            .user_name(user)
            .customize()
            .config_override(no_retries)
            .send()
            .await;
        let service_specific_credentials = match service {
            Ok(out) => out
                .service_specific_credentials()
                .iter()
                .map(|c| c.service_specific_credential_id().to_owned())
                .collect(),
            Err(err) => match classify(err) {
                // An endpoint without the operation (moto answers a bare HTTP 500) has no
                // such credentials; a real failure shows again when DeleteUser refuses.
                err if err.kind == ErrorKind::Transient && err.code.is_none() => Vec::new(),
                err => return Err(err),
            },
        };
        Ok(UserCredentials {
            login_profile,
            mfa_devices: mfa
                .mfa_devices()
                .iter()
                .map(|d| d.serial_number().to_owned())
                .collect(),
            signing_certificates: certificates
                .certificates()
                .iter()
                .map(|c| c.certificate_id().to_owned())
                .collect(),
            ssh_public_keys: ssh
                .ssh_public_keys()
                .iter()
                .map(|k| k.ssh_public_key_id().to_owned())
                .collect(),
            service_specific_credentials,
        })
    }

    async fn policy_roles(&self, policy: &PolicyArn) -> Result<Vec<String>, ApiError> {
        let mut pages = self
            .iam
            .list_entities_for_policy()
            .policy_arn(policy.to_string())
            .entity_filter(EntityType::Role)
            .into_paginator()
            .send();
        let mut roles = Vec::new();
        while let Some(page) = pages.next().await {
            self.count("ListEntitiesForPolicy");
            for role in page.map_err(classify)?.policy_roles() {
                roles.push(role.role_name().unwrap_or_default().to_owned());
            }
        }
        Ok(roles)
    }

    async fn credential_report(&self) -> Result<CredentialReport, ApiError> {
        // IAM makes the report in the background; asking again says when it is done.
        let started = Instant::now();
        let mut wait = Duration::from_millis(100);
        loop {
            self.count("GenerateCredentialReport");
            let generation = self
                .iam
                .generate_credential_report()
                .send()
                .await
                .map_err(classify)?;
            if generation.state() == Some(&ReportStateType::Complete) {
                break;
            }
            if started.elapsed() > REPORT_PATIENCE {
                return Err(ApiError::new(
                    ErrorKind::Other,
                    None,
                    "IAM did not finish the credential report within two minutes",
                ));
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(2));
        }
        self.count("GetCredentialReport");
        let report = self
            .iam
            .get_credential_report()
            .send()
            .await
            .map_err(classify)?;
        let content = report.content().map(AsRef::as_ref).unwrap_or_default();
        parse_credential_report(content).map_err(|why| {
            ApiError::new(
                ErrorKind::Other,
                None,
                format!("the credential report is not as documented: {why}"),
            )
        })
    }

    async fn access_keys(&self, user: &str) -> Result<Vec<AccessKey>, ApiError> {
        let mut pages = self
            .iam
            .list_access_keys()
            .user_name(user)
            .into_paginator()
            .send();
        let mut keys = Vec::new();
        while let Some(page) = pages.next().await {
            self.count("ListAccessKeys");
            for key in page.map_err(classify)?.access_key_metadata() {
                keys.push(AccessKey {
                    id: key.access_key_id().unwrap_or_default().to_owned(),
                    active: key.status() == Some(&StatusType::Active),
                    created: key
                        .create_date()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                });
            }
        }
        Ok(keys)
    }

    // One arm per IAM call: the whole mapping from plan to API in one place.
    #[allow(clippy::too_many_lines)]
    async fn call(&self, op: &Op) -> Result<Outcome, ApiError> {
        self.count(op.api_name());
        let iam = &self.iam;
        match op {
            Op::CreateGroup { group, path } => {
                let call = iam.create_group().group_name(group).path(path);
                call.send().await.map_err(classify)?;
            }
            Op::CreateUser { user, path, tags } => {
                let call = iam
                    .create_user()
                    .user_name(user)
                    .path(path)
                    .set_tags(sdk_tags(tags));
                call.send().await.map_err(classify)?;
            }
            Op::UpdateGroupPath { group, to, .. } => {
                let call = iam.update_group().group_name(group).new_path(to);
                call.send().await.map_err(classify)?;
            }
            Op::UpdateUserPath { user, to, .. } => {
                let call = iam.update_user().user_name(user).new_path(to);
                call.send().await.map_err(classify)?;
            }
            Op::TagUser { user, tags } => {
                let call = iam.tag_user().user_name(user).set_tags(sdk_tags(tags));
                call.send().await.map_err(classify)?;
            }
            Op::AttachGroupPolicy { group, policy } => {
                let call = iam
                    .attach_group_policy()
                    .group_name(group)
                    .policy_arn(policy.to_string());
                call.send().await.map_err(classify)?;
            }
            Op::AttachUserPolicy { user, policy } => {
                let call = iam
                    .attach_user_policy()
                    .user_name(user)
                    .policy_arn(policy.to_string());
                call.send().await.map_err(classify)?;
            }
            Op::AddUserToGroup { user, group } => {
                let call = iam.add_user_to_group().user_name(user).group_name(group);
                call.send().await.map_err(classify)?;
            }
            Op::CreateAccessKey { user } => {
                // Never retried below this seam: a retry after a lost answer would make a
                // second key. `apply` decides what to do instead.
                let no_retries =
                    aws_sdk_iam::config::Builder::default().retry_config(RetryConfig::disabled());
                let out = iam
                    .create_access_key()
                    .user_name(user)
                    .customize()
                    .config_override(no_retries)
                    .send()
                    .await
                    .map_err(classify)?;
                let key = out.access_key().ok_or_else(|| {
                    ApiError::new(
                        ErrorKind::Other,
                        None,
                        "IAM answered CreateAccessKey without the new key",
                    )
                })?;
                return Ok(Outcome::NewAccessKey {
                    access_key_id: key.access_key_id().to_owned(),
                    secret: Secret::new(key.secret_access_key().to_owned()),
                });
            }
            Op::CreatePolicy {
                policy,
                path,
                description,
                document,
                tags,
            } => {
                let description = Some(description.clone()).filter(|d| !d.is_empty());
                let call = iam
                    .create_policy()
                    .policy_name(policy)
                    .path(path)
                    .set_description(description)
                    .policy_document(document.to_string())
                    .set_tags(sdk_tags(tags));
                call.send().await.map_err(classify)?;
            }
            Op::TagPolicy { policy, tags } => {
                let call = iam
                    .tag_policy()
                    .policy_arn(policy.to_string())
                    .set_tags(sdk_tags(tags));
                call.send().await.map_err(classify)?;
            }
            Op::CreatePolicyVersion {
                policy, document, ..
            } => {
                let call = iam
                    .create_policy_version()
                    .policy_arn(policy.to_string())
                    .policy_document(document.to_string())
                    .set_as_default(true);
                call.send().await.map_err(classify)?;
            }
            Op::DeletePolicyVersion { policy, version } => {
                let call = iam
                    .delete_policy_version()
                    .policy_arn(policy.to_string())
                    .version_id(version);
                call.send().await.map_err(classify)?;
            }
            Op::DeletePolicy { policy } => {
                let call = iam.delete_policy().policy_arn(policy.to_string());
                call.send().await.map_err(classify)?;
            }
            Op::DetachUserPolicy { user, policy } => {
                let call = iam
                    .detach_user_policy()
                    .user_name(user)
                    .policy_arn(policy.to_string());
                call.send().await.map_err(classify)?;
            }
            Op::DetachGroupPolicy { group, policy } => {
                let call = iam
                    .detach_group_policy()
                    .group_name(group)
                    .policy_arn(policy.to_string());
                call.send().await.map_err(classify)?;
            }
            Op::PutUserPolicy {
                user,
                policy_name,
                document,
                ..
            } => {
                let call = iam
                    .put_user_policy()
                    .user_name(user)
                    .policy_name(policy_name)
                    .policy_document(document.to_string());
                call.send().await.map_err(classify)?;
            }
            Op::PutGroupPolicy {
                group,
                policy_name,
                document,
                ..
            } => {
                let call = iam
                    .put_group_policy()
                    .group_name(group)
                    .policy_name(policy_name)
                    .policy_document(document.to_string());
                call.send().await.map_err(classify)?;
            }
            Op::UntagUser { user, keys } => {
                let call = iam
                    .untag_user()
                    .user_name(user)
                    .set_tag_keys(Some(keys.clone()));
                call.send().await.map_err(classify)?;
            }
            Op::RemoveUserFromGroup { user, group } => {
                let call = iam
                    .remove_user_from_group()
                    .user_name(user)
                    .group_name(group);
                call.send().await.map_err(classify)?;
            }
            Op::DeleteUserPolicy { user, policy_name } => {
                let call = iam
                    .delete_user_policy()
                    .user_name(user)
                    .policy_name(policy_name);
                call.send().await.map_err(classify)?;
            }
            Op::DeleteGroupPolicy { group, policy_name } => {
                let call = iam
                    .delete_group_policy()
                    .group_name(group)
                    .policy_name(policy_name);
                call.send().await.map_err(classify)?;
            }
            Op::DeleteAccessKey {
                user,
                access_key_id,
            } => {
                let call = iam
                    .delete_access_key()
                    .user_name(user)
                    .access_key_id(access_key_id);
                call.send().await.map_err(classify)?;
            }
            Op::DeleteLoginProfile { user } => {
                let call = iam.delete_login_profile().user_name(user);
                call.send().await.map_err(classify)?;
            }
            Op::DeactivateMfaDevice {
                user,
                serial_number,
            } => {
                let call = iam
                    .deactivate_mfa_device()
                    .user_name(user)
                    .serial_number(serial_number);
                call.send().await.map_err(classify)?;
            }
            Op::DeleteSigningCertificate {
                user,
                certificate_id,
            } => {
                let call = iam
                    .delete_signing_certificate()
                    .user_name(user)
                    .certificate_id(certificate_id);
                call.send().await.map_err(classify)?;
            }
            Op::DeleteSshPublicKey {
                user,
                ssh_public_key_id,
            } => {
                let call = iam
                    .delete_ssh_public_key()
                    .user_name(user)
                    .ssh_public_key_id(ssh_public_key_id);
                call.send().await.map_err(classify)?;
            }
            Op::DeleteServiceSpecificCredential {
                user,
                credential_id,
            } => {
                let call = iam
                    .delete_service_specific_credential()
                    .user_name(user)
                    .service_specific_credential_id(credential_id);
                call.send().await.map_err(classify)?;
            }
            Op::DetachRolePolicy { role, policy } => {
                let call = iam
                    .detach_role_policy()
                    .role_name(role)
                    .policy_arn(policy.to_string());
                call.send().await.map_err(classify)?;
            }
            Op::DeleteUser { user } => {
                let call = iam.delete_user().user_name(user);
                call.send().await.map_err(classify)?;
            }
            Op::DeleteGroup { group } => {
                let call = iam.delete_group().group_name(group);
                call.send().await.map_err(classify)?;
            }
        }
        Ok(Outcome::Done)
    }

    async fn delete_access_key(&self, user: &str, access_key_id: &str) -> Result<(), ApiError> {
        self.count("DeleteAccessKey");
        self.iam
            .delete_access_key()
            .user_name(user)
            .access_key_id(access_key_id)
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }
}

/// The access-key columns of the credential report's CSV, found by their header names. A key
/// slot is in use when it has a rotation date (its creation, for a key never rotated).
fn parse_credential_report(csv: &[u8]) -> Result<CredentialReport, String> {
    let mut reader = csv::Reader::from_reader(csv);
    let headers = reader.headers().map_err(|e| e.to_string())?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| format!("it has no column `{name}`"))
    };
    let user = column("user")?;
    let created = column("user_creation_time")?;
    let slots = [
        (
            column("access_key_1_active")?,
            column("access_key_1_last_rotated")?,
        ),
        (
            column("access_key_2_active")?,
            column("access_key_2_last_rotated")?,
        ),
    ];
    let mut report = CredentialReport::default();
    for row in reader.records() {
        let row = row.map_err(|e| e.to_string())?;
        let field = |index: usize| row.get(index).unwrap_or_default();
        let Ok(created) = DateTime::from_str(field(created), DateTimeFormat::DateTimeWithOffset)
        else {
            // The account's root user has no creation time there, and is no IAM user.
            continue;
        };
        let keys = slots
            .iter()
            .filter(|(_, rotated)| !matches!(field(*rotated), "N/A" | ""))
            .map(|(active, _)| field(*active) == "true")
            .collect();
        report.users.insert(
            field(user).to_owned(),
            ReportedUser {
                created: created.secs(),
                keys,
            },
        );
    }
    Ok(report)
}

fn attached(
    policies: &[aws_sdk_iam::types::AttachedPolicy],
) -> Result<std::collections::BTreeSet<PolicyArn>, ApiError> {
    policies.iter().map(|p| parse_arn(p.policy_arn())).collect()
}

/// Inline policies by name, documents decoded and canonical.
fn inline(
    policies: &[aws_sdk_iam::types::PolicyDetail],
) -> Result<BTreeMap<String, serde_json::Value>, ApiError> {
    policies
        .iter()
        .map(|p| {
            let name = p.policy_name().unwrap_or_default().to_owned();
            let document = live_document(p.policy_document().unwrap_or_default())?;
            Ok((name, document))
        })
        .collect()
}

fn live_policy(policy: &aws_sdk_iam::types::ManagedPolicyDetail) -> Result<LivePolicy, ApiError> {
    let mut versions: Vec<PolicyVersion> = policy
        .policy_version_list()
        .iter()
        .map(|v| PolicyVersion {
            id: v.version_id().unwrap_or_default().to_owned(),
            default: v.is_default_version(),
            created: v.create_date().map(ToString::to_string).unwrap_or_default(),
        })
        .collect();
    versions.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
    let default = policy
        .policy_version_list()
        .iter()
        .find(|v| v.is_default_version())
        .and_then(|v| v.document())
        .unwrap_or_default();
    Ok(LivePolicy {
        tags: BTreeMap::new(),
        roles: Vec::new(),
        arn: parse_arn(policy.arn())?,
        description: policy.description().unwrap_or_default().to_owned(),
        attachment_count: u32::try_from(policy.attachment_count().unwrap_or_default()).unwrap_or(0),
        versions,
        document: live_document(default)?,
    })
}

/// A document as IAM returns it, decoded and canonical: normalised once, when read.
fn live_document(text: &str) -> Result<serde_json::Value, ApiError> {
    document::decode(text)
        .map(|v| document::canonical(&v))
        .map_err(|why| {
            ApiError::new(
                ErrorKind::Other,
                None,
                format!("IAM returned a policy document iamspec cannot read ({why})"),
            )
        })
}

fn parse_arn(arn: Option<&str>) -> Result<PolicyArn, ApiError> {
    let arn = arn.unwrap_or_default();
    PolicyArn::parse(arn).map_err(|why| {
        ApiError::new(
            ErrorKind::Other,
            None,
            format!("IAM returned a policy ARN iamspec cannot read ({why})"),
        )
    })
}

fn tags(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect()
}

fn sdk_tags(tags: &BTreeMap<String, String>) -> Option<Vec<Tag>> {
    if tags.is_empty() {
        return None;
    }
    let tags = tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<Result<Vec<_>, _>>()
        .ok()?;
    Some(tags)
}

/// Sorts an SDK error into what iamspec can act on, keeping AWS's own code and message.
#[allow(clippy::needless_pass_by_value)] // it is the shape `map_err` calls
fn classify<E>(err: SdkError<E, HttpResponse>) -> ApiError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    match &err {
        SdkError::ServiceError(service) => {
            let code = service.err().code().map(str::to_owned);
            let message = service.err().message().unwrap_or_default().to_owned();
            let status = service.raw().status().as_u16();
            let kind = match code.as_deref() {
                Some("NoSuchEntity") => ErrorKind::NoSuchEntity,
                Some("EntityAlreadyExists") => ErrorKind::AlreadyExists,
                Some(
                    "Throttling"
                    | "ThrottlingException"
                    | "RequestLimitExceeded"
                    | "TooManyRequestsException"
                    | "RequestThrottled",
                ) => ErrorKind::Throttled,
                Some("AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation") => {
                    ErrorKind::AccessDenied
                }
                Some("LimitExceeded") => ErrorKind::LimitExceeded,
                Some(
                    "InvalidClientTokenId"
                    | "SignatureDoesNotMatch"
                    | "ExpiredToken"
                    | "ExpiredTokenException"
                    | "UnrecognizedClientException",
                ) => ErrorKind::Credentials,
                Some("ServiceFailure" | "ServiceUnavailable" | "InternalFailure") => {
                    ErrorKind::Transient
                }
                _ if status >= 500 => ErrorKind::Transient,
                _ => ErrorKind::Other,
            };
            let message = if code.is_none() && message.is_empty() {
                format!("the endpoint answered HTTP {status} with no AWS error")
            } else {
                message
            };
            ApiError::new(kind, code, message)
        }
        SdkError::DispatchFailure(failure) => {
            // A connection that broke on the way (closed before the answer, reset) is worth
            // another try; one that cannot be made at all is not, nor is a request that could
            // not be built.
            let kind = if failure.is_user() {
                ErrorKind::Other
            } else if hopeless(&err).is_some() {
                ErrorKind::Unreachable
            } else {
                ErrorKind::Transient
            };
            ApiError::new(
                kind,
                None,
                format!("could not reach the AWS endpoint: {}", innermost(&err)),
            )
        }
        SdkError::TimeoutError(_) => {
            ApiError::new(ErrorKind::Transient, None, "the call timed out")
        }
        SdkError::ResponseError(_) => ApiError::new(
            ErrorKind::Transient,
            None,
            format!(
                "the endpoint's answer could not be read: {}",
                innermost(&err)
            ),
        ),
        _ => ApiError::new(ErrorKind::Other, None, innermost(&err)),
    }
}

/// The last error of a chain: the one that says what actually went wrong.
fn innermost(err: &(dyn StdError + 'static)) -> String {
    let mut current = err;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

#[cfg(test)]
mod tests {
    //! The marker loop, on recorded multi-page answers: moto never paginates, AWS does.

    use aws_sdk_iam::config::{BehaviorVersion, Credentials, Region};
    use aws_sdk_iam::operation::get_account_authorization_details::GetAccountAuthorizationDetailsOutput;
    use aws_sdk_iam::types::{AttachedPolicy, GroupDetail, ManagedPolicyDetail, UserDetail};
    use aws_smithy_mocks::{
        MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock,
    };

    use super::*;

    fn client(rules: &[&Rule]) -> AwsIam {
        let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
        for rule in rules {
            interceptor = interceptor.with_rule(rule);
        }
        let credentials = Credentials::new("AKIDTEST", "test", None, None, "test");
        let iam = aws_sdk_iam::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(credentials.clone())
            .http_client(create_mock_http_client())
            .interceptor(interceptor)
            .build();
        let sts = aws_sdk_sts::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(credentials)
            .http_client(create_mock_http_client())
            .build();
        AwsIam::from_clients(
            aws_sdk_iam::Client::from_conf(iam),
            aws_sdk_sts::Client::from_conf(sts),
        )
    }

    fn user(name: &str) -> UserDetail {
        UserDetail::builder()
            .user_name(name)
            .path("/")
            .group_list("Developers")
            .attached_managed_policies(
                AttachedPolicy::builder()
                    .policy_arn("arn:aws:iam::aws:policy/IAMReadOnlyAccess")
                    .build(),
            )
            .build()
    }

    fn page(marker: Option<&'static str>, next: Option<&'static str>) -> Rule {
        let (users, groups, policies) = match marker {
            None => (vec!["a", "b"], vec![], vec![]),
            Some("m1") => (vec!["c"], vec!["Developers"], vec![]),
            _ => (
                vec![],
                vec!["Ops"],
                vec!["arn:aws:iam::123456789012:policy/StackBuilder"],
            ),
        };
        mock!(aws_sdk_iam::Client::get_account_authorization_details)
            .match_requests(move |req| req.marker() == marker)
            .then_output(move || {
                GetAccountAuthorizationDetailsOutput::builder()
                    .set_user_detail_list(Some(users.iter().map(|u| user(u)).collect()))
                    .set_group_detail_list(Some(
                        groups
                            .iter()
                            .map(|g| GroupDetail::builder().group_name(*g).path("/").build())
                            .collect(),
                    ))
                    .set_policies(Some(
                        policies
                            .iter()
                            .map(|p| {
                                ManagedPolicyDetail::builder()
                                    .arn(*p)
                                    .policy_version_list(
                                        aws_sdk_iam::types::PolicyVersion::builder()
                                            .version_id("v1")
                                            .is_default_version(true)
                                            .document("%7B%22Version%22%3A%222012-10-17%22%7D")
                                            .build(),
                                    )
                                    .build()
                            })
                            .collect(),
                    ))
                    .is_truncated(next.is_some())
                    .set_marker(next.map(str::to_owned))
                    .build()
            })
    }

    #[test]
    fn credential_report_is_read_by_its_column_names() {
        let csv = "user,arn,user_creation_time,password_enabled,access_key_1_active,access_key_1_last_rotated,access_key_2_active,access_key_2_last_rotated\n\
<root_account>,arn:aws:iam::123456789012:root,not_supported,not_supported,false,N/A,false,N/A\n\
alice,arn:aws:iam::123456789012:user/alice,2026-11-01T10:00:00+00:00,false,true,2026-11-02T10:00:00+00:00,false,N/A\n\
\"b,ob\",arn:aws:iam::123456789012:user/b,2026-11-01T10:00:01+00:00,true,false,2026-11-02T10:00:00+00:00,true,2026-11-03T10:00:00+00:00\n\
carol,arn:aws:iam::123456789012:user/carol,2026-11-01T10:00:02+00:00,false,false,N/A,false,N/A\n";
        let report = parse_credential_report(csv.as_bytes()).unwrap();
        let created = DateTime::from_str("2026-11-01T10:00:00Z", DateTimeFormat::DateTime)
            .unwrap()
            .secs();
        let row = |keys: &[bool], after: i64| ReportedUser {
            created: created + after,
            keys: keys.to_vec(),
        };
        assert_eq!(
            report.users,
            BTreeMap::from([
                ("alice".to_owned(), row(&[true], 0)),
                ("b,ob".to_owned(), row(&[false, true], 1)),
                ("carol".to_owned(), row(&[], 2)),
            ])
        );
    }

    #[test]
    fn a_credential_report_without_key_columns_is_an_error() {
        let err = parse_credential_report(b"user,arn,user_creation_time\nalice,x,y\n").unwrap_err();
        assert_eq!(err, "it has no column `access_key_1_active`");
    }

    #[tokio::test]
    async fn every_page_of_account_details_is_read_and_merged() {
        let pages = [
            page(None, Some("m1")),
            page(Some("m1"), Some("m2")),
            page(Some("m2"), None),
        ];
        let api = client(&pages.iter().collect::<Vec<_>>());
        let details = api.account_details().await.unwrap();
        let users: Vec<&str> = details.users.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(users, ["a", "b", "c"]);
        let groups: Vec<&str> = details.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(groups, ["Developers", "Ops"]);
        assert_eq!(
            details.local_policies[0].arn.to_string(),
            "arn:aws:iam::123456789012:policy/StackBuilder"
        );
        assert!(details.users[2].groups.contains("Developers"));
        for page in &pages {
            assert_eq!(page.num_calls(), 1);
        }
        assert_eq!(api.calls()["GetAccountAuthorizationDetails"], 3);
    }

    #[tokio::test]
    async fn a_page_that_fails_fails_the_whole_read() {
        let first = page(None, Some("m1"));
        let broken = mock!(aws_sdk_iam::Client::get_account_authorization_details)
            .match_requests(|req| req.marker() == Some("m1"))
            .sequence()
            .http_status(500, None)
            .times(10)
            .build();
        let api = client(&[&first, &broken]);
        let err = api.account_details().await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Transient);
        assert!(broken.num_calls() >= 1);
    }
}
