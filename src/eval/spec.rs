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

impl SpecPrincipal {
    /// The answer to a request this principal makes, under its own documents and, where
    /// there is one, the resource's policy.
    pub fn ask(
        &self,
        action: &str,
        resource: &str,
        context: super::Context,
        resource_policy: Option<&Policy>,
        now: i64,
    ) -> super::Answer {
        let request =
            super::Request::new(self.principal.clone(), action, resource, None, context, now);
        super::evaluate(
            &request,
            &super::Policies {
                identity: &self.identity,
                boundary: self.boundary.as_ref(),
                resource: resource_policy,
                ..super::Policies::default()
            },
        )
    }

    /// The answer to a check.
    fn check(&self, check: &crate::spec::Check, now: i64) -> super::Answer {
        let mut context = super::Context::default();
        for (key, value) in &check.context {
            context.add(key, value);
        }
        self.ask(&check.action, &check.resource, context, None, now)
    }
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

/// One principal of a spec that may make a request, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Allowed {
    /// `user/NAME` or `role/NAME`.
    pub principal: String,
    pub statements: Vec<super::Decider>,
    /// For a role: who its trust policy lets assume it (one hop): principals it names, and
    /// the spec's users whose own policies let them assume it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub assumed_by: Vec<String>,
}

/// Every user and role of the spec allowed to make the request (`who-can`), in name order.
pub fn who_can(
    spec: &Spec,
    account: &str,
    action: &str,
    resource: &str,
    context: &super::Context,
    now: i64,
) -> Result<Vec<Allowed>, String> {
    // Each principal's documents are found and parsed once, for its answer and for every
    // role it might assume.
    let found = |kind: &str, names: Vec<&String>| -> Result<Vec<(String, SpecPrincipal)>, String> {
        names
            .into_iter()
            .map(|name| {
                let who = format!("{kind}/{name}");
                principal(spec, &who, account).map(|p| (who, p))
            })
            .collect()
    };
    let users = found("user", spec.users.keys().collect())?;
    let roles = found("role", spec.roles.keys().collect())?;
    let mut allowed = Vec::new();
    for (who, found) in users.iter().chain(&roles) {
        let answer = found.ask(action, resource, context.clone(), None, now);
        if answer.decision != super::Decision::Allowed {
            continue;
        }
        let assumed_by = match who.strip_prefix("role/") {
            Some(role) => assumers(spec, role, found, account, &users, now)?,
            None => Vec::new(),
        };
        allowed.push(Allowed {
            principal: who.clone(),
            statements: answer.statements,
            assumed_by,
        });
    }
    Ok(allowed)
}

/// Who may assume a role: the principals its trust policy allows, and the spec's users the
/// trust and their own policies let call `sts:AssumeRole` on it.
fn assumers(
    spec: &Spec,
    role: &str,
    found_role: &SpecPrincipal,
    account: &str,
    users: &[(String, SpecPrincipal)],
    now: i64,
) -> Result<Vec<String>, String> {
    let role_spec = &spec.roles[role];
    let trust_json = role_spec
        .trust
        .document(crate::iam::Partition::Aws, account)
        .json;
    let trust = Policy::parse(&format!("the trust policy of role `{role}`"), &trust_json)?;
    let mut found: Vec<String> = Vec::new();
    for statement in trust_json
        .get("Statement")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter(|s| s.get("Effect").and_then(serde_json::Value::as_str) == Some("Allow"))
    {
        if let Some(principal) = statement.get("Principal") {
            match principal {
                serde_json::Value::String(any) => found.push(any.clone()),
                serde_json::Value::Object(map) => {
                    for (kind, values) in map {
                        for value in super::strings(Some(values)) {
                            found.push(format!("{value} ({kind})"));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    for (user, candidate) in users {
        let answer = candidate.ask(
            "sts:AssumeRole",
            &found_role.principal.arn,
            super::Context::default(),
            Some(&trust),
            now,
        );
        if answer.decision == super::Decision::Allowed {
            found.push(user.clone());
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

/// A `[[checks]]` entry whose answer is not the one expected, and the answer.
#[derive(Debug, Clone)]
pub struct Failed {
    pub check: crate::spec::Check,
    pub answer: super::Answer,
}

impl Failed {
    /// What it says, naming the check and the statements that now decide it.
    pub fn message(&self) -> String {
        let got = match self.answer.decision {
            super::Decision::Allowed => "allowed",
            super::Decision::ImplicitDeny => "denied implicitly",
            super::Decision::ExplicitDeny => "denied explicitly",
        };
        let by: Vec<String> = self
            .answer
            .statements
            .iter()
            .map(|d| format!("{} statement {}", d.policy, d.statement))
            .collect();
        let by = if by.is_empty() {
            String::new()
        } else {
            format!(" (by {})", by.join(", "))
        };
        format!(
            "check `{}` expects {}, but it is {got}: {}{by}",
            self.check.label(),
            if self.check.allow { "allow" } else { "deny" },
            self.answer.reason
        )
    }
}

/// The answer to one check, over the spec's documents.
pub fn answer(spec: &Spec, check: &crate::spec::Check, now: i64) -> Result<super::Answer, String> {
    let account = spec.account_id.as_deref().unwrap_or(UNNAMED_ACCOUNT);
    Ok(principal(spec, &check.principal, account)?.check(check, now))
}

/// The clock in seconds since 1970: what `aws:CurrentTime` is when nobody gives it.
pub fn now() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Each check that does not hold now, as `FILE:LINE:COLUMN: what`: for `validate`, `plan`
/// and every account of an organization alike.
pub fn broken(spec: &Spec) -> Vec<String> {
    failing(spec, now())
        .into_iter()
        .map(|f| match f {
            Ok(failed) => format!("{}: {}", spec.place(failed.check.at), failed.message()),
            Err((check, why)) => format!(
                "{}: check `{}` cannot be answered: {why}",
                spec.place(check.at),
                check.label()
            ),
        })
        .collect()
}

/// Every check whose answer is not the one expected; a check whose principal's documents
/// cannot be had fails with why.
pub fn failing(spec: &Spec, now: i64) -> Vec<Result<Failed, (crate::spec::Check, String)>> {
    spec.checks
        .iter()
        .filter_map(|check| match answer(spec, check, now) {
            Ok(answer) if (answer.decision == super::Decision::Allowed) == check.allow => None,
            Ok(answer) => Some(Ok(Failed {
                check: check.clone(),
                answer,
            })),
            Err(why) => Some(Err((check.clone(), why))),
        })
        .collect()
}

/// The same principal as the account has it now: its live policies, groups and boundary,
/// AWS-managed documents from the account's copies read for the plan, else the snapshot.
/// `None` when the account has no such principal yet.
pub fn live_principal(
    live: &crate::live::LiveState,
    who: &str,
    account: &str,
) -> Result<Option<SpecPrincipal>, String> {
    let document = |arn: &crate::iam::PolicyArn| -> Result<Policy, String> {
        if let Some(local) = live.local_policies.get(arn) {
            return Policy::parse(&policy_label(&arn.name), &local.document);
        }
        if let Some(doc) = live.aws_documents.get(arn) {
            return Policy::parse(&format!("AWS-managed policy `{}`", arn.name), doc);
        }
        crate::lint::managed::document(&arn.name).map_or_else(
            || Err(format!("the document of {arn} is not known")),
            |d| Policy::parse(&format!("AWS-managed policy `{}`", arn.name), &d.json),
        )
    };
    let Some((kind, name)) = who.split_once('/') else {
        return Ok(None);
    };
    let mut identity = Vec::new();
    let (arn, boundary) = match kind {
        "user" => {
            let Some(user) = live.users.get(name) else {
                return Ok(None);
            };
            for arn in &user.policies {
                identity.push(document(arn)?);
            }
            for (inline, doc) in &user.inline_policies {
                identity.push(Policy::parse(&inline_label("user", name, inline), doc)?);
            }
            for group_name in &user.groups {
                if let Some(group) = live.groups.get(group_name) {
                    for arn in &group.policies {
                        identity.push(document(arn)?);
                    }
                    for (inline, doc) in &group.inline_policies {
                        identity.push(Policy::parse(
                            &inline_label("group", group_name, inline),
                            doc,
                        )?);
                    }
                }
            }
            (
                format!("arn:aws:iam::{account}:user{}{name}", user.path),
                user.boundary.as_ref(),
            )
        }
        "role" => {
            let Some(role) = live.roles.get(name) else {
                return Ok(None);
            };
            for arn in &role.policies {
                identity.push(document(arn)?);
            }
            for (inline, doc) in &role.inline_policies {
                identity.push(Policy::parse(&inline_label("role", name, inline), doc)?);
            }
            (
                format!("arn:aws:iam::{account}:role{}{name}", role.path),
                role.boundary.as_ref(),
            )
        }
        _ => return Ok(None),
    };
    let boundary = boundary.map(document).transpose()?;
    Ok(Some(SpecPrincipal {
        principal: Principal::parse(&arn)?,
        identity,
        boundary,
    }))
}

/// A check whose answer a plan changes: as the account is, and after the plan.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Changed {
    pub check: String,
    /// `None`: the principal does not exist yet.
    pub before: Option<super::Decision>,
    pub after: super::Decision,
}

/// The checks whose answer differs between the account as read and the spec: those of the
/// principals the plan changes. A check that cannot be answered either way is left out (the
/// spec's side is reported by `failing`).
pub fn changed(spec: &Spec, live: &crate::live::LiveState, now: i64) -> Vec<Changed> {
    let account = spec.account_id.as_deref().unwrap_or(&live.caller.account);
    let mut changed = Vec::new();
    for check in &spec.checks {
        let (Ok(after), Ok(before)) = (
            principal(spec, &check.principal, account),
            live_principal(live, &check.principal, account),
        ) else {
            continue;
        };
        let after = after.check(check, now).decision;
        let before = before.map(|b| b.check(check, now).decision);
        if before != Some(after) {
            changed.push(Changed {
                check: check.label(),
                before,
                after,
            });
        }
    }
    changed
}
