//! Credentials and account settings: console passwords, the account alias and password
//! policy, read and changed.

use aws_sdk_iam::Client;

use super::AwsIam;
use super::errors::classify;
use crate::live::{ApiError, ErrorKind};
use crate::plan::{KeyStatus, Op};
use crate::secrets::Secret;
use crate::spec::PasswordPolicy;

pub(super) async fn login_profile(api: &AwsIam, user: &str) -> Result<Option<i64>, ApiError> {
    api.count("GetLoginProfile");
    match api.iam.get_login_profile().user_name(user).send().await {
        Ok(out) => Ok(Some(
            out.login_profile().map_or(0, |p| p.create_date().secs()),
        )),
        Err(err) => match classify(err) {
            e if e.kind == ErrorKind::NoSuchEntity => Ok(None),
            e => Err(e),
        },
    }
}

pub(super) async fn account_alias(api: &AwsIam) -> Result<Option<String>, ApiError> {
    api.count("ListAccountAliases");
    let out = api
        .iam
        .list_account_aliases()
        .send()
        .await
        .map_err(classify)?;
    Ok(out.account_aliases().first().cloned())
}

pub(super) async fn password_policy(api: &AwsIam) -> Result<Option<PasswordPolicy>, ApiError> {
    api.count("GetAccountPasswordPolicy");
    let out = match api.iam.get_account_password_policy().send().await {
        Ok(out) => out,
        Err(err) => {
            return match classify(err) {
                e if e.kind == ErrorKind::NoSuchEntity => Ok(None),
                e => Err(e),
            };
        }
    };
    let Some(p) = out.password_policy() else {
        return Ok(None);
    };
    let positive = |n: Option<i32>| n.and_then(|n| u32::try_from(n).ok()).filter(|n| *n > 0);
    Ok(Some(PasswordPolicy {
        min_length: positive(p.minimum_password_length()).unwrap_or(8),
        require_symbols: p.require_symbols(),
        require_numbers: p.require_numbers(),
        require_uppercase: p.require_uppercase_characters(),
        require_lowercase: p.require_lowercase_characters(),
        allow_users_to_change: p.allow_users_to_change_password(),
        max_age_days: positive(p.max_password_age()),
        reuse_prevention: positive(p.password_reuse_prevention()),
        hard_expiry: p.hard_expiry().unwrap_or(false),
    }))
}

pub(super) async fn create_login_profile(
    api: &AwsIam,
    user: &str,
    password: &Secret,
) -> Result<(), ApiError> {
    api.count("CreateLoginProfile");
    api.iam
        .create_login_profile()
        .user_name(user)
        .password(password.expose())
        .password_reset_required(true)
        .send()
        .await
        .map_err(classify)?;
    Ok(())
}

/// The credential and account calls of a plan; `None` for any other op.
pub(super) async fn call(iam: &Client, op: &Op) -> Option<Result<(), ApiError>> {
    let result = match op {
        Op::UpdateAccessKey {
            user,
            access_key_id,
            status,
        } => {
            let status = match status {
                KeyStatus::Active => aws_sdk_iam::types::StatusType::Active,
                KeyStatus::Inactive => aws_sdk_iam::types::StatusType::Inactive,
            };
            let call = iam
                .update_access_key()
                .user_name(user)
                .access_key_id(access_key_id)
                .status(status);
            call.send().await.map(drop).map_err(classify)
        }
        Op::CreateAccountAlias { alias, .. } => {
            let call = iam.create_account_alias().account_alias(alias);
            call.send().await.map(drop).map_err(classify)
        }
        Op::DeleteAccountAlias { alias } => {
            let call = iam.delete_account_alias().account_alias(alias);
            call.send().await.map(drop).map_err(classify)
        }
        Op::UpdateAccountPasswordPolicy { policy, .. } => {
            let number = |n: Option<u32>| n.and_then(|n| i32::try_from(n).ok());
            let call = iam
                .update_account_password_policy()
                .minimum_password_length(number(Some(policy.min_length)).unwrap_or(8))
                .require_symbols(policy.require_symbols)
                .require_numbers(policy.require_numbers)
                .require_uppercase_characters(policy.require_uppercase)
                .require_lowercase_characters(policy.require_lowercase)
                .allow_users_to_change_password(policy.allow_users_to_change)
                .set_max_password_age(number(policy.max_age_days))
                .set_password_reuse_prevention(number(policy.reuse_prevention))
                .hard_expiry(policy.hard_expiry);
            call.send().await.map(drop).map_err(classify)
        }
        _ => return None,
    };
    Some(result)
}
