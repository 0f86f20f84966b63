//! Privilege escalation within one principal: the published combinations of actions (Rhino
//! Security Labs' list, as Parliament and Pacu check them) that let a principal give itself
//! more than it was given, looked for across everything the spec gives a group, a user (its own
//! policies and its groups') and a role: the spec's own documents, and AWS-managed policies'
//! from the embedded snapshot (`managed.rs`), so that a path an AWS-managed policy completes is
//! found offline too.

use serde_json::Value;

use super::data::glob;
use super::{Raw, statements, strings};
use crate::document::Document;
use crate::spec::{self, Location, PolicyRef, PolicyUse, Spec};

/// Each path: the actions that together make it, and what they let the principal do.
const PATHS: &[(&[&str], &str)] = &[
    (
        &["iam:CreatePolicyVersion"],
        "write a new default version of any managed policy it has",
    ),
    (
        &["iam:SetDefaultPolicyVersion"],
        "make an older, broader version of a policy the default",
    ),
    (
        &["iam:PassRole", "ec2:RunInstances"],
        "start an instance with a more privileged role and use its credentials",
    ),
    (
        &[
            "iam:PassRole",
            "lambda:CreateFunction",
            "lambda:InvokeFunction",
        ],
        "run code as a more privileged role in a Lambda function",
    ),
    (
        &[
            "iam:PassRole",
            "lambda:CreateFunction",
            "lambda:CreateEventSourceMapping",
        ],
        "run code as a more privileged role in a Lambda function",
    ),
    (
        &["lambda:UpdateFunctionCode"],
        "replace the code of a function that runs as a more privileged role",
    ),
    (
        &["iam:PassRole", "glue:CreateDevEndpoint"],
        "open a Glue endpoint as a more privileged role",
    ),
    (
        &["glue:UpdateDevEndpoint"],
        "reach a Glue endpoint that runs as a more privileged role",
    ),
    (
        &["iam:PassRole", "cloudformation:CreateStack"],
        "create a stack that acts as a more privileged role",
    ),
    (
        &[
            "iam:PassRole",
            "datapipeline:CreatePipeline",
            "datapipeline:PutPipelineDefinition",
        ],
        "run a pipeline as a more privileged role",
    ),
    (
        &["iam:AttachUserPolicy"],
        "attach any managed policy, AdministratorAccess too, to a user",
    ),
    (
        &["iam:AttachGroupPolicy"],
        "attach any managed policy to a group",
    ),
    (
        &["iam:AttachRolePolicy", "sts:AssumeRole"],
        "attach any managed policy to a role and assume it",
    ),
    (
        &["iam:PutUserPolicy"],
        "write any inline policy into a user",
    ),
    (
        &["iam:PutGroupPolicy"],
        "write any inline policy into a group",
    ),
    (
        &["iam:PutRolePolicy", "sts:AssumeRole"],
        "write any inline policy into a role and assume it",
    ),
    (&["iam:AddUserToGroup"], "join any group"),
    (
        &["iam:UpdateAssumeRolePolicy", "sts:AssumeRole"],
        "let itself assume any role",
    ),
    (&["iam:CreateAccessKey"], "make access keys for other users"),
    (
        &["iam:CreateLoginProfile"],
        "set a console password for other users",
    ),
    (
        &["iam:UpdateLoginProfile"],
        "change other users' console passwords",
    ),
    // IAM Identity Center: whoever can change permission sets, assignments or the identity
    // store can give a person (themselves too) any access in any account.
    (
        &["sso:CreateAccountAssignment"],
        "give any person or group any permission set in any account",
    ),
    (
        &["sso:PutInlinePolicyToPermissionSet"],
        "write any inline policy into a permission set",
    ),
    (
        &["sso:AttachManagedPolicyToPermissionSet"],
        "attach any AWS-managed policy, AdministratorAccess too, to a permission set",
    ),
    (
        &["sso:AttachCustomerManagedPolicyReferenceToPermissionSet"],
        "make a permission set grant any customer-managed policy of the accounts",
    ),
    (
        &["identitystore:CreateGroupMembership"],
        "join any Identity Center group, and get its permission sets",
    ),
    (
        &["sso-directory:AddMemberToGroup"],
        "join any Identity Center group, and get its permission sets",
    ),
    (
        &["identitystore:UpdateUser"],
        "change any Identity Center user's email or name, and so who signs in as them",
    ),
];

/// The escalation paths that documents granted together open, each as a sentence: for a
/// grant that is not a spec's principal (an Identity Center permission set).
pub fn sentences(docs: &[(String, &Document)]) -> Vec<String> {
    found(docs)
        .iter()
        .map(|path| {
            format!(
                "{} together let it {} (from {})",
                path.actions.join(" + "),
                path.does,
                path.sources.join(", ")
            )
        })
        .collect()
}

/// Looks for the paths in each group's, user's and role's policies together: every principal
/// with all of its documents (its own, by name or by ARN, add-ons included, and for a user
/// its groups'), each path once per principal. A user is not told again of a path one of its
/// groups has from that group's documents alone (the group's finding says it, and its
/// exception covers the members); a path its groups or own policies make together is its own.
pub(super) fn principals(spec: &Spec, out: &mut Vec<Raw>) {
    let mut group_paths: std::collections::BTreeMap<&str, Vec<Path>> =
        std::collections::BTreeMap::new();
    for group in spec.groups.values() {
        let docs = documents(spec, "group", &group.name, &group.policies, &group.inline);
        let paths = found(&docs);
        report(spec, "group", &group.name, &paths, out);
        group_paths.insert(group.name.as_str(), paths);
    }
    for user in spec.users.values() {
        let mut docs = documents(spec, "user", &user.name, &user.policies, &user.inline);
        for group in user.groups.iter().filter_map(|g| spec.groups.get(g)) {
            docs.extend(documents(
                spec,
                "group",
                &group.name,
                &group.policies,
                &group.inline,
            ));
        }
        let mut paths = found(&docs);
        paths.retain(|path| {
            !user.groups.iter().any(|g| {
                group_paths
                    .get(g.as_str())
                    .is_some_and(|theirs| theirs.iter().any(|p| p.actions == path.actions))
            })
        });
        report(spec, "user", &user.name, &paths, out);
    }
    for role in spec.roles.values() {
        let docs = documents(spec, "role", &role.name, &role.policies, &role.inline);
        report(spec, "role", &role.name, &found(&docs), out);
    }
}

/// The spec's own documents a principal has: customer-managed policies by name, or by an ARN
/// that names one of the spec's policies (in the spec's account, where it sets one), and its
/// inline documents. AWS-managed policies are not known offline.
fn documents<'s>(
    spec: &'s Spec,
    kind: &str,
    owner: &str,
    uses: &[PolicyUse],
    inline_docs: &'s std::collections::BTreeMap<String, Document>,
) -> Vec<(String, &'s Document)> {
    let mut docs: Vec<(String, &Document)> = uses
        .iter()
        .filter_map(|u| {
            let name = match &u.policy {
                PolicyRef::AwsManaged { name, .. } => {
                    return super::managed::document(name).map(|d| (managed_label(name), d));
                }
                PolicyRef::Arn(arn) if arn.is_aws_managed() => {
                    return super::managed::document(&arn.name)
                        .map(|d| (managed_label(&arn.name), d));
                }
                PolicyRef::Customer { name } => name,
                PolicyRef::Arn(arn) => {
                    let ours = spec.policies.get(&arn.name)?;
                    let here = spec.account_id.as_ref().is_none_or(|id| *id == arn.account);
                    (here && ours.path == arn.path).then_some(&arn.name)?
                }
            };
            let policy = spec.policies.get(name)?;
            Some((spec::policy_label(name), &policy.document))
        })
        .collect();
    docs.extend(inline(kind, owner, inline_docs));
    docs.sort_by(|a, b| a.0.cmp(&b.0));
    docs.dedup_by(|a, b| a.0 == b.0);
    docs
}

/// How an AWS-managed policy is named among a path's sources.
fn managed_label(name: &str) -> String {
    format!("AWS-managed policy `{name}`")
}

/// A group's, user's or role's inline documents, with what each is.
fn inline<'d>(
    kind: &str,
    owner: &str,
    docs: &'d std::collections::BTreeMap<String, Document>,
) -> Vec<(String, &'d Document)> {
    docs.iter()
        .map(|(name, d)| (spec::inline_label(kind, owner, name), d))
        .collect()
}

/// One path a principal's documents allow: its actions, what it lets the principal do, and
/// the documents that grant them.
struct Path {
    actions: &'static [&'static str],
    does: &'static str,
    sources: Vec<String>,
}

/// Every path the documents allow together, each once (two entries of `PATHS` with the
/// same effect are one path).
fn found(docs: &[(String, &Document)]) -> Vec<Path> {
    // Each Allow statement once: what it is from, its actions (lower case) and whether
    // they are a NotAction.
    let allowed: Vec<(&str, Vec<String>, bool)> = docs
        .iter()
        .flat_map(|(what, d)| {
            statements(&d.json)
                .into_iter()
                .filter(|(_, s)| s.get("Effect").and_then(Value::as_str) == Some("Allow"))
                .map(move |(_, s)| {
                    let negated = s.get("NotAction").is_some();
                    let key = if negated { "NotAction" } else { "Action" };
                    let patterns = strings(s, key).iter().map(|p| p.to_lowercase()).collect();
                    (what.as_str(), patterns, negated)
                })
        })
        .collect();
    let allows = |action: &str| -> Option<&str> {
        let action = action.to_lowercase();
        allowed.iter().find_map(|(what, patterns, negated)| {
            let named = patterns.iter().any(|p| glob(p, &action));
            (named != *negated).then_some(*what)
        })
    };
    let mut paths: Vec<Path> = Vec::new();
    for (actions, does) in PATHS {
        let sources: Option<Vec<&str>> = actions.iter().map(|a| allows(a)).collect();
        let Some(mut sources) = sources else { continue };
        if paths.iter().any(|p| p.does == *does) {
            continue;
        }
        sources.sort_unstable();
        sources.dedup();
        paths.push(Path {
            actions,
            does,
            sources: sources.into_iter().map(str::to_owned).collect(),
        });
    }
    paths
}

/// One finding a path, at the first document that grants it.
fn report(spec: &Spec, kind: &str, name: &str, paths: &[Path], out: &mut Vec<Raw>) {
    for path in paths {
        // At the first source the spec writes a document for; for AWS-managed policies alone,
        // where the spec names the first of them.
        let at = path
            .sources
            .iter()
            .find_map(|what| spec.document_at.get(what))
            .copied()
            .or_else(|| {
                spec.policy_uses()
                    .find(|u| {
                        path.sources
                            .iter()
                            .any(|s| *s == managed_label(u.policy.name()))
                    })
                    .map(|u| u.at)
            })
            .unwrap_or(Location::default());
        out.push(Raw {
            code: "privilege-escalation",
            what: format!("{kind} `{name}`"),
            name: name.to_owned(),
            qualified: Some(format!("{kind}/{name}")),
            at,
            statement: None,
            index: None,
            message: format!(
                "{} together let it {} (from {}): name the resources, or split these between principals",
                path.actions.join(" + "),
                path.does,
                path.sources.join(", ")
            ),
        });
    }
}
