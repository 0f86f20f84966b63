//! The calls: each `Op` of a plan as the one SDK call that makes it.

use std::collections::BTreeMap;

use aws_sdk_iam::config::retry::RetryConfig;
use aws_sdk_iam::types::Tag;

use super::errors::classify;
use crate::live::{ApiError, ErrorKind, Outcome};
use crate::plan::Op;
use crate::secrets::Secret;

use super::AwsIam;
#[allow(clippy::too_many_lines)]
pub(super) async fn call(api: &AwsIam, op: &Op) -> Result<Outcome, ApiError> {
    api.count(op.api_name());
    let iam = &api.iam;
    match op {
        Op::CreateGroup { group, path } => {
            let call = iam.create_group().group_name(group).path(path);
            call.send().await.map_err(classify)?;
        }
        Op::CreateUser {
            user,
            path,
            boundary,
            tags,
        } => {
            let call = iam
                .create_user()
                .user_name(user)
                .path(path)
                .set_permissions_boundary(boundary.as_ref().map(ToString::to_string))
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
        Op::CreateAccessKey { user, .. } => {
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
        other => {
            if let Some(result) = super::credential_calls::call(iam, other).await {
                result?;
            } else {
                return super::role_calls::call(api, other).await;
            }
        }
    }
    Ok(Outcome::Done)
}

pub(super) async fn delete_access_key(
    api: &AwsIam,
    user: &str,
    access_key_id: &str,
) -> Result<(), ApiError> {
    api.count("DeleteAccessKey");
    api.iam
        .delete_access_key()
        .user_name(user)
        .access_key_id(access_key_id)
        .send()
        .await
        .map_err(classify)?;
    Ok(())
}

pub(super) fn sdk_tags(tags: &BTreeMap<String, String>) -> Option<Vec<Tag>> {
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
