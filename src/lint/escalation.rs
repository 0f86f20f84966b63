//! Privilege escalation within one principal: the published combinations of actions (Rhino
//! Security Labs' list, as Parliament and Pacu check them) that let a principal give itself
//! more than it was given, looked for across everything the spec gives a group, a user (its own
//! policies and its groups') and a role. Only the spec's own documents are known offline:
//! AWS-managed policies are not looked into.

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
];

/// Looks for the paths in each group's, user's and role's policies together.
pub(super) fn principals(spec: &Spec, out: &mut Vec<Raw>) {
    let managed = |uses: &[PolicyUse]| -> Vec<(String, &Document)> {
        uses.iter()
            .filter_map(|u| match &u.policy {
                PolicyRef::Customer { name } => spec
                    .policies
                    .get(name)
                    .map(|p| (spec::policy_label(name), &p.document)),
                _ => None,
            })
            .collect()
    };
    let mut reported_groups = Vec::new();
    for group in spec.groups.values() {
        let mut docs = managed(&group.policies);
        docs.extend(inline("group", &group.name, &group.inline));
        if check(spec, "group", &group.name, &docs, out) {
            reported_groups.push(group.name.clone());
        }
    }
    for user in spec.users.values() {
        if user.groups.iter().any(|g| reported_groups.contains(g)) {
            continue;
        }
        let mut docs = managed(&user.policies);
        docs.extend(inline("user", &user.name, &user.inline));
        for group in user.groups.iter().filter_map(|g| spec.groups.get(g)) {
            docs.extend(managed(&group.policies));
            docs.extend(inline("group", &group.name, &group.inline));
        }
        check(spec, "user", &user.name, &docs, out);
    }
    for role in spec.roles.values() {
        let mut docs = managed(&role.policies);
        docs.extend(inline("role", &role.name, &role.inline));
        check(spec, "role", &role.name, &docs, out);
    }
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

/// Reports every path the documents allow together; whether any.
fn check(
    spec: &Spec,
    kind: &str,
    name: &str,
    docs: &[(String, &Document)],
    out: &mut Vec<Raw>,
) -> bool {
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
    let mut any = false;
    for (actions, does) in PATHS {
        let sources: Option<Vec<&str>> = actions.iter().map(|a| allows(a)).collect();
        let Some(mut sources) = sources else { continue };
        sources.sort_unstable();
        sources.dedup();
        let at = sources
            .first()
            .and_then(|what| spec.document_at.get(*what))
            .copied()
            .unwrap_or(Location::default());
        out.push(Raw {
            code: "privilege-escalation",
            what: format!("{kind} `{name}`"),
            name: name.to_owned(),
            at,
            statement: None,
            message: format!(
                "{} together let it {does} (from {}): name the resources, or split these between principals",
                actions.join(" + "),
                sources.join(", ")
            ),
        });
        any = true;
    }
    any
}
