//! The reads: who the caller is, the account details, the credential report, keys, tags.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_iam::config::retry::RetryConfig;
use aws_sdk_iam::primitives::DateTime;
use aws_sdk_iam::types::{EntityType, PolicyScopeType, ReportStateType, StatusType, Tag};

use super::errors::classify;
use crate::document;
use crate::iam::{Partition, PolicyArn};
use crate::live::{
    AccessKey, AccountDetails, Caller, CredentialReport, DetailKinds, LiveGroup,
    LiveInstanceProfile, LivePolicy, LiveProvider, LiveRole, LiveUser, PolicyVersion, RoleSettings,
    UserCredentials,
};
use crate::live::{ApiError, ErrorKind};

use super::{AwsIam, REPORT_PATIENCE};
pub(super) async fn caller(api: &AwsIam) -> Result<Caller, ApiError> {
    api.count("GetCallerIdentity");
    let out = api
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
        access_key_id: api.access_key_id.clone(),
    })
}

pub(super) async fn account_details(
    api: &AwsIam,
    kinds: DetailKinds,
) -> Result<AccountDetails, ApiError> {
    if kinds
        == (DetailKinds {
            users: false,
            groups: false,
            roles: false,
            policies: false,
        })
    {
        return Ok(AccountDetails::default());
    }
    let mut request = api.iam.get_account_authorization_details();
    for (wanted, kind) in [
        (kinds.users, EntityType::User),
        (kinds.groups, EntityType::Group),
        (kinds.roles, EntityType::Role),
        (kinds.policies, EntityType::LocalManagedPolicy),
    ] {
        if wanted {
            request = request.filter(kind);
        }
    }
    let mut pages = request.into_paginator().send();
    let mut details = AccountDetails::default();
    while let Some(page) = pages.next().await {
        api.count("GetAccountAuthorizationDetails");
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
                boundary: boundary(user.permissions_boundary())?,
                access_keys: Vec::new(),
                ..LiveUser::default()
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
        for role in page.role_detail_list() {
            details.roles.push(live_role(role)?);
        }
        for policy in page.policies() {
            details.local_policies.push(live_policy(policy)?);
        }
    }
    Ok(details)
}

pub(super) async fn aws_managed_policies(api: &AwsIam) -> Result<Vec<PolicyArn>, ApiError> {
    let mut pages = api
        .iam
        .list_policies()
        .scope(PolicyScopeType::Aws)
        .max_items(1000)
        .into_paginator()
        .send();
    let mut policies = Vec::new();
    while let Some(page) = pages.next().await {
        api.count("ListPolicies");
        for policy in page.map_err(classify)?.policies() {
            policies.push(parse_arn(policy.arn())?);
        }
    }
    Ok(policies)
}

pub(super) async fn aws_policy_exists(api: &AwsIam, policy: &PolicyArn) -> Result<bool, ApiError> {
    api.count("GetPolicy");
    match api
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

pub(super) async fn policy_tags(
    api: &AwsIam,
    policy: &PolicyArn,
) -> Result<BTreeMap<String, String>, ApiError> {
    let mut pages = api
        .iam
        .list_policy_tags()
        .policy_arn(policy.to_string())
        .into_paginator()
        .send();
    let mut found = BTreeMap::new();
    while let Some(page) = pages.next().await {
        api.count("ListPolicyTags");
        found.extend(tags(page.map_err(classify)?.tags()));
    }
    Ok(found)
}

pub(super) async fn user_credentials(
    api: &AwsIam,
    user: &str,
) -> Result<UserCredentials, ApiError> {
    let iam = &api.iam;
    api.count("GetLoginProfile");
    let login_profile = match iam.get_login_profile().user_name(user).send().await {
        Ok(_) => true,
        Err(err) => match classify(err) {
            err if err.kind == ErrorKind::NoSuchEntity => false,
            err => return Err(err),
        },
    };
    api.count("ListMFADevices");
    let mfa = iam
        .list_mfa_devices()
        .user_name(user)
        .send()
        .await
        .map_err(classify)?;
    api.count("ListSigningCertificates");
    let certificates = iam
        .list_signing_certificates()
        .user_name(user)
        .send()
        .await
        .map_err(classify)?;
    api.count("ListSSHPublicKeys");
    let ssh = iam
        .list_ssh_public_keys()
        .user_name(user)
        .send()
        .await
        .map_err(classify)?;
    api.count("ListServiceSpecificCredentials");
    let no_retries = aws_sdk_iam::config::Builder::default().retry_config(RetryConfig::disabled());
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
            err if err.code.as_deref() == Some("NotImplemented") => Vec::new(),
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

pub(super) async fn role_settings(
    api: &AwsIam,
) -> Result<BTreeMap<String, RoleSettings>, ApiError> {
    let mut pages = api.iam.list_roles().max_items(1000).into_paginator().send();
    let mut settings = BTreeMap::new();
    while let Some(page) = pages.next().await {
        api.count("ListRoles");
        for role in page.map_err(classify)?.roles() {
            let found = RoleSettings {
                description: role.description().unwrap_or_default().to_owned(),
                max_session: role
                    .max_session_duration()
                    .and_then(|s| u32::try_from(s).ok())
                    .unwrap_or(3600),
            };
            settings.insert(role.role_name().to_owned(), found);
        }
    }
    Ok(settings)
}

pub(super) async fn oidc_providers(api: &AwsIam) -> Result<Vec<LiveProvider>, ApiError> {
    api.count("ListOpenIDConnectProviders");
    let listed = api
        .iam
        .list_open_id_connect_providers()
        .send()
        .await
        .map_err(classify)?;
    let mut providers = Vec::new();
    for arn in listed
        .open_id_connect_provider_list()
        .iter()
        .filter_map(|p| p.arn())
    {
        api.count("GetOpenIDConnectProvider");
        let found = api
            .iam
            .get_open_id_connect_provider()
            .open_id_connect_provider_arn(arn)
            .send()
            .await
            .map_err(classify)?;
        let url = found.url().unwrap_or_default();
        let mut audiences = found.client_id_list().to_vec();
        audiences.sort();
        let mut thumbprints: Vec<String> = found
            .thumbprint_list()
            .iter()
            .map(|t| t.to_lowercase())
            .collect();
        thumbprints.sort();
        providers.push(LiveProvider {
            arn: arn.to_owned(),
            // IAM answers without the scheme; some endpoints keep it.
            url: url.strip_prefix("https://").unwrap_or(url).to_owned(),
            audiences,
            thumbprints,
            tags: tags(found.tags()),
        });
    }
    Ok(providers)
}

pub(super) async fn credential_report(api: &AwsIam) -> Result<CredentialReport, ApiError> {
    // IAM makes the report in the background; asking again says when it is done.
    let started = Instant::now();
    let mut wait = Duration::from_millis(100);
    loop {
        api.count("GenerateCredentialReport");
        let generation = api
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
    api.count("GetCredentialReport");
    let report = api
        .iam
        .get_credential_report()
        .send()
        .await
        .map_err(classify)?;
    let content = report.content().map(AsRef::as_ref).unwrap_or_default();
    crate::live::parse_credential_report(content).map_err(|why| {
        ApiError::new(
            ErrorKind::Other,
            None,
            format!("the credential report is not as documented: {why}"),
        )
    })
}

pub(super) async fn access_keys(api: &AwsIam, user: &str) -> Result<Vec<AccessKey>, ApiError> {
    let mut pages = api
        .iam
        .list_access_keys()
        .user_name(user)
        .into_paginator()
        .send();
    let mut keys = Vec::new();
    while let Some(page) = pages.next().await {
        api.count("ListAccessKeys");
        for key in page.map_err(classify)?.access_key_metadata() {
            keys.push(AccessKey {
                id: key.access_key_id().unwrap_or_default().to_owned(),
                active: key.status() == Some(&StatusType::Active),
                created: key.create_date().map_or(0, DateTime::secs),
                last_used: None,
            });
        }
    }
    Ok(keys)
}

pub(super) fn attached(
    policies: &[aws_sdk_iam::types::AttachedPolicy],
) -> Result<std::collections::BTreeSet<PolicyArn>, ApiError> {
    policies.iter().map(|p| parse_arn(p.policy_arn())).collect()
}

/// Inline policies by name, documents decoded and canonical.
pub(super) fn inline(
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

pub(super) fn live_role(role: &aws_sdk_iam::types::RoleDetail) -> Result<LiveRole, ApiError> {
    let mut instance_profiles: Vec<LiveInstanceProfile> = role
        .instance_profile_list()
        .iter()
        .map(|p| LiveInstanceProfile {
            name: p.instance_profile_name().to_owned(),
            path: p.path().to_owned(),
            roles: p.roles().iter().map(|r| r.role_name().to_owned()).collect(),
        })
        .collect();
    instance_profiles.sort();
    Ok(LiveRole {
        name: role.role_name().unwrap_or_default().to_owned(),
        path: role.path().unwrap_or("/").to_owned(),
        trust: live_document(role.assume_role_policy_document().unwrap_or_default())?,
        policies: attached(role.attached_managed_policies())?,
        inline_policies: inline(role.role_policy_list())?,
        boundary: boundary(role.permissions_boundary())?,
        tags: tags(role.tags()),
        instance_profiles,
        settings: None,
    })
}

fn boundary(
    boundary: Option<&aws_sdk_iam::types::AttachedPermissionsBoundary>,
) -> Result<Option<PolicyArn>, ApiError> {
    boundary
        .and_then(|b| b.permissions_boundary_arn())
        .map(|arn| parse_arn(Some(arn)))
        .transpose()
}

pub(super) fn live_policy(
    policy: &aws_sdk_iam::types::ManagedPolicyDetail,
) -> Result<LivePolicy, ApiError> {
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
        arn: parse_arn(policy.arn())?,
        description: policy.description().unwrap_or_default().to_owned(),
        attachment_count: u32::try_from(policy.attachment_count().unwrap_or_default()).unwrap_or(0),
        versions,
        document: live_document(default)?,
    })
}

/// A document as IAM returns it, decoded and canonical: normalised once, when read.
pub(super) async fn policy_document(
    api: &AwsIam,
    policy: &PolicyArn,
) -> Result<serde_json::Value, ApiError> {
    api.count("GetPolicy");
    let arn = policy.to_string();
    let got = api
        .iam
        .get_policy()
        .policy_arn(&arn)
        .send()
        .await
        .map_err(classify)?;
    let version = got
        .policy()
        .and_then(|p| p.default_version_id())
        .unwrap_or("v1")
        .to_owned();
    api.count("GetPolicyVersion");
    let out = api
        .iam
        .get_policy_version()
        .policy_arn(&arn)
        .version_id(version)
        .send()
        .await
        .map_err(classify)?;
    let text = out
        .policy_version()
        .and_then(|v| v.document())
        .unwrap_or_default();
    live_document(text)
}

pub(super) fn live_document(text: &str) -> Result<serde_json::Value, ApiError> {
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

pub(super) fn parse_arn(arn: Option<&str>) -> Result<PolicyArn, ApiError> {
    let arn = arn.unwrap_or_default();
    PolicyArn::parse(arn).map_err(|why| {
        ApiError::new(
            ErrorKind::Other,
            None,
            format!("IAM returned a policy ARN iamspec cannot read ({why})"),
        )
    })
}

pub(super) fn tags(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect()
}
