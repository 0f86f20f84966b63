//! A spec's principal and the documents that apply to it: a user's own policies and its
//! groups', or a role's, with its boundary; customer-managed documents from the spec,
//! AWS-managed ones from the embedded snapshot.

use super::{Policy, Principal};
use crate::spec::{PolicyRef, PolicyUse, Spec, inline_label, policy_label};

/// The account a spec's principal is taken to be in when the spec names none.
pub const UNNAMED_ACCOUNT: &str = "000000000000";

/// A spec's principal, ready to evaluate.
#[derive(Debug, Clone)]
pub struct SpecPrincipal {
    pub principal: Principal,
    pub identity: Vec<Policy>,
    pub boundary: Option<Policy>,
}

fn document(spec: &Spec, use_: &PolicyUse) -> Result<Policy, String> {
    let managed = |name: &str| {
        crate::lint::managed::document(name).map_or_else(
            || {
                Err(format!(
                    "the AWS-managed policy `{name}` is not in iamspec's snapshot"
                ))
            },
            |d| Policy::parse(&format!("AWS-managed policy `{name}`"), &d.json),
        )
    };
    match &use_.policy {
        PolicyRef::Customer { name } => {
            let policy = spec
                .policies
                .get(name)
                .ok_or_else(|| format!("the spec has no policy `{name}`"))?;
            Policy::parse(&policy_label(name), &policy.document.json)
        }
        PolicyRef::AwsManaged { name, .. } => managed(name),
        PolicyRef::Arn(arn) if arn.is_aws_managed() => managed(&arn.name),
        PolicyRef::Arn(arn) => match spec.policies.get(&arn.name) {
            Some(policy) => Policy::parse(&policy_label(&arn.name), &policy.document.json),
            None => Err(format!(
                "the spec does not hold the document of {arn}: declare it under [policies]"
            )),
        },
    }
}

/// `user/NAME` or `role/NAME` of the spec, with its documents, in `account`.
pub fn principal(spec: &Spec, who: &str, account: &str) -> Result<SpecPrincipal, String> {
    let partition = "aws";
    let (kind, name) = who.split_once('/').ok_or_else(|| {
        format!(
            "`{who}` names no principal: write user/NAME or role/NAME, as the spec declares them"
        )
    })?;
    let mut identity = Vec::new();
    let (arn, boundary) = match kind {
        "user" => {
            let user = spec.users.get(name).ok_or_else(|| {
                format!(
                    "the spec has no user `{name}`{}",
                    crate::spec::did_you_mean(name, spec.users.keys().map(String::as_str))
                )
            })?;
            for use_ in &user.policies {
                identity.push(document(spec, use_)?);
            }
            for (inline, doc) in &user.inline {
                identity.push(Policy::parse(
                    &inline_label("user", name, inline),
                    &doc.json,
                )?);
            }
            for group_name in &user.groups {
                let group = &spec.groups[group_name];
                for use_ in &group.policies {
                    identity.push(document(spec, use_)?);
                }
                for (inline, doc) in &group.inline {
                    identity.push(Policy::parse(
                        &inline_label("group", group_name, inline),
                        &doc.json,
                    )?);
                }
            }
            (
                format!("arn:{partition}:iam::{account}:user{}{name}", user.path),
                user.boundary.as_ref(),
            )
        }
        "role" => {
            let role = spec.roles.get(name).ok_or_else(|| {
                format!(
                    "the spec has no role `{name}`{}",
                    crate::spec::did_you_mean(name, spec.roles.keys().map(String::as_str))
                )
            })?;
            for use_ in &role.policies {
                identity.push(document(spec, use_)?);
            }
            for (inline, doc) in &role.inline {
                identity.push(Policy::parse(
                    &inline_label("role", name, inline),
                    &doc.json,
                )?);
            }
            (
                format!("arn:{partition}:iam::{account}:role{}{name}", role.path),
                role.boundary.as_ref(),
            )
        }
        _ => {
            return Err(format!(
                "`{who}` names no principal: write user/NAME or role/NAME"
            ));
        }
    };
    let boundary = boundary.map(|b| document(spec, b)).transpose()?;
    Ok(SpecPrincipal {
        principal: Principal::parse(&arn)?,
        identity,
        boundary,
    })
}
