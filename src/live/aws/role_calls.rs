//! The calls for roles, instance profiles, OIDC providers and permissions boundaries.

use super::AwsIam;
use super::calls::sdk_tags;
use super::errors::classify;
use crate::live::{ApiError, Outcome};
use crate::plan::Op;

#[allow(clippy::too_many_lines)] // one arm per call, each a few lines
pub(super) async fn call(api: &AwsIam, op: &Op) -> Result<Outcome, ApiError> {
    let iam = &api.iam;
    match op {
        Op::CreateOpenIdConnectProvider {
            url,
            audiences,
            thumbprints,
            tags,
        } => {
            let call = iam
                .create_open_id_connect_provider()
                .url(format!("https://{url}"))
                .set_client_id_list(Some(audiences.clone()))
                .set_thumbprint_list(Some(thumbprints.clone()).filter(|t| !t.is_empty()))
                .set_tags(sdk_tags(tags));
            call.send().await.map_err(classify)?;
        }
        Op::TagOpenIdConnectProvider { provider, tags, .. } => {
            let call = iam
                .tag_open_id_connect_provider()
                .open_id_connect_provider_arn(provider)
                .set_tags(sdk_tags(tags));
            call.send().await.map_err(classify)?;
        }
        Op::AddClientIdToOpenIdConnectProvider {
            provider,
            client_id,
            ..
        } => {
            let call = iam
                .add_client_id_to_open_id_connect_provider()
                .open_id_connect_provider_arn(provider)
                .client_id(client_id);
            call.send().await.map_err(classify)?;
        }
        Op::RemoveClientIdFromOpenIdConnectProvider {
            provider,
            client_id,
            ..
        } => {
            let call = iam
                .remove_client_id_from_open_id_connect_provider()
                .open_id_connect_provider_arn(provider)
                .client_id(client_id);
            call.send().await.map_err(classify)?;
        }
        Op::UpdateOpenIdConnectProviderThumbprint {
            provider,
            thumbprints,
            ..
        } => {
            let call = iam
                .update_open_id_connect_provider_thumbprint()
                .open_id_connect_provider_arn(provider)
                .set_thumbprint_list(Some(thumbprints.clone()));
            call.send().await.map_err(classify)?;
        }
        Op::DeleteOpenIdConnectProvider { provider, .. } => {
            let call = iam
                .delete_open_id_connect_provider()
                .open_id_connect_provider_arn(provider);
            call.send().await.map_err(classify)?;
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
            let description = Some(description.clone()).filter(|d| !d.is_empty());
            let call = iam
                .create_role()
                .role_name(role)
                .path(path)
                .assume_role_policy_document(trust.to_string())
                .set_description(description)
                .max_session_duration(i32::try_from(*max_session).unwrap_or(3600))
                .set_permissions_boundary(boundary.as_ref().map(ToString::to_string))
                .set_tags(sdk_tags(tags));
            call.send().await.map_err(classify)?;
        }
        Op::UpdateAssumeRolePolicy { role, document, .. } => {
            let call = iam
                .update_assume_role_policy()
                .role_name(role)
                .policy_document(document.to_string());
            call.send().await.map_err(classify)?;
        }
        Op::UpdateRole {
            role,
            description,
            max_session,
            ..
        } => {
            let call = iam
                .update_role()
                .role_name(role)
                .description(description)
                .max_session_duration(i32::try_from(*max_session).unwrap_or(3600));
            call.send().await.map_err(classify)?;
        }
        Op::TagRole { role, tags } => {
            let call = iam.tag_role().role_name(role).set_tags(sdk_tags(tags));
            call.send().await.map_err(classify)?;
        }
        Op::UntagRole { role, keys } => {
            let call = iam
                .untag_role()
                .role_name(role)
                .set_tag_keys(Some(keys.clone()));
            call.send().await.map_err(classify)?;
        }
        Op::AttachRolePolicy { role, policy } => {
            let call = iam
                .attach_role_policy()
                .role_name(role)
                .policy_arn(policy.to_string());
            call.send().await.map_err(classify)?;
        }
        Op::PutRolePolicy {
            role,
            policy_name,
            document,
            ..
        } => {
            let call = iam
                .put_role_policy()
                .role_name(role)
                .policy_name(policy_name)
                .policy_document(document.to_string());
            call.send().await.map_err(classify)?;
        }
        Op::DeleteRolePolicy { role, policy_name } => {
            let call = iam
                .delete_role_policy()
                .role_name(role)
                .policy_name(policy_name);
            call.send().await.map_err(classify)?;
        }
        Op::PutRolePermissionsBoundary { role, policy, .. } => {
            let call = iam
                .put_role_permissions_boundary()
                .role_name(role)
                .permissions_boundary(policy.to_string());
            call.send().await.map_err(classify)?;
        }
        Op::DeleteRolePermissionsBoundary { role, .. } => {
            let call = iam.delete_role_permissions_boundary().role_name(role);
            call.send().await.map_err(classify)?;
        }
        Op::PutUserPermissionsBoundary { user, policy, .. } => {
            let call = iam
                .put_user_permissions_boundary()
                .user_name(user)
                .permissions_boundary(policy.to_string());
            call.send().await.map_err(classify)?;
        }
        Op::DeleteUserPermissionsBoundary { user, .. } => {
            let call = iam.delete_user_permissions_boundary().user_name(user);
            call.send().await.map_err(classify)?;
        }
        Op::CreateInstanceProfile {
            profile,
            path,
            tags,
        } => {
            let call = iam
                .create_instance_profile()
                .instance_profile_name(profile)
                .path(path)
                .set_tags(sdk_tags(tags));
            call.send().await.map_err(classify)?;
        }
        Op::AddRoleToInstanceProfile { profile, role } => {
            let call = iam
                .add_role_to_instance_profile()
                .instance_profile_name(profile)
                .role_name(role);
            call.send().await.map_err(classify)?;
        }
        Op::RemoveRoleFromInstanceProfile { profile, role } => {
            let call = iam
                .remove_role_from_instance_profile()
                .instance_profile_name(profile)
                .role_name(role);
            call.send().await.map_err(classify)?;
        }
        Op::DeleteInstanceProfile { profile } => {
            let call = iam.delete_instance_profile().instance_profile_name(profile);
            call.send().await.map_err(classify)?;
        }
        Op::DeleteRole { role } => {
            let call = iam.delete_role().role_name(role);
            call.send().await.map_err(classify)?;
        }
        other => unreachable!("{} is not a role call", other.api_name()),
    }
    Ok(Outcome::Done)
}
