//! Who can do what, answered offline: AWS's documented policy evaluation logic as a pure
//! function of parsed documents and a request.
//!
//! The order is the IAM User Guide's ("Policy evaluation logic"): an explicit `Deny` in any
//! policy that applies decides first; then every level of SCPs must allow; then, in the
//! principal's own account, a resource-based policy that names the user or the role session
//! allows on its own (one that names the role is still limited by the boundary and session
//! policies; one that names the account delegates to the identity policies); else the
//! identity policies must allow, and the permissions boundary and session policies must allow
//! too where there are any. Across accounts both sides must allow: the resource's policy must
//! let the principal (or its account) in, and the principal's own policies must allow.
//!
//! Each answer names the statements that decided it.

mod condition;
mod pattern;
pub mod spec;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

pub use condition::Condition;
use pattern::Pattern;

#[cfg(test)]
mod tests;

/// The request's context keys: names without regard to case, each with one value or several.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context(BTreeMap<String, Vec<String>>);

impl Context {
    /// Adds a value to a key: a key given twice is multivalued.
    pub fn add(&mut self, key: &str, value: &str) {
        self.0
            .entry(key.to_lowercase())
            .or_default()
            .push(value.to_owned());
    }

    /// Sets a key unless the request already has it.
    pub fn default_to(&mut self, key: &str, value: &str) {
        self.0
            .entry(key.to_lowercase())
            .or_insert_with(|| vec![value.to_owned()]);
    }

    pub fn values(&self, key: &str) -> Option<&[String]> {
        self.0.get(&key.to_lowercase()).map(Vec::as_slice)
    }
}

/// Allow or Deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Effect {
    Allow,
    Deny,
}

/// An element that lists what applies, or (`Not...`) what does not.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Listed {
    Is(Vec<String>),
    Not(Vec<String>),
}

/// A principal a resource policy names: `*`, or a type (`AWS`, `Service`, ...) and a value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Named {
    Anyone,
    Some(Vec<(String, String)>),
}

/// One statement, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// Its Sid, or its place from 0 (`#2`).
    pub id: String,
    pub effect: Effect,
    actions: Listed,
    resources: Option<Listed>,
    principals: Option<(bool, Named)>,
    conditions: Vec<Condition>,
}

/// A policy document, parsed once for every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// How answers name it: its file, or `policy X`.
    pub name: String,
    /// `Version` is `2012-10-17`: only then are policy variables filled in.
    pub variables: bool,
    pub statements: Vec<Statement>,
}

pub(crate) fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                _ => None,
            })
            .collect(),
        Some(Value::Number(n)) => vec![n.to_string()],
        Some(Value::Bool(b)) => vec![b.to_string()],
        _ => Vec::new(),
    }
}

fn listed(statement: &Value, is: &str, not: &str) -> Option<Listed> {
    match (statement.get(is), statement.get(not)) {
        (Some(v), _) => Some(Listed::Is(strings(Some(v)))),
        (None, Some(v)) => Some(Listed::Not(strings(Some(v)))),
        (None, None) => None,
    }
}

fn principals(value: &Value) -> Named {
    match value {
        Value::String(s) if s == "*" => Named::Anyone,
        Value::Object(map) => Named::Some(
            map.iter()
                .flat_map(|(kind, v)| strings(Some(v)).into_iter().map(|p| (kind.clone(), p)))
                .collect(),
        ),
        _ => Named::Some(Vec::new()),
    }
}

impl Policy {
    /// Parses a document; what is not a policy says why.
    pub fn parse(name: &str, document: &Value) -> Result<Self, String> {
        let statements = match document.get("Statement") {
            Some(Value::Array(list)) => list.iter().collect(),
            Some(one @ Value::Object(_)) => vec![one],
            _ => {
                return Err(format!(
                    "{name} is not a policy document: it has no `Statement`"
                ));
            }
        };
        let mut parsed = Vec::new();
        for (i, s) in statements.iter().enumerate() {
            let effect = match s.get("Effect").and_then(Value::as_str) {
                Some("Allow") => Effect::Allow,
                Some("Deny") => Effect::Deny,
                other => {
                    return Err(format!(
                        "{name}, statement #{i}: `Effect` is Allow or Deny, not {}",
                        other.unwrap_or("missing")
                    ));
                }
            };
            let Some(actions) = listed(s, "Action", "NotAction") else {
                return Err(format!(
                    "{name}, statement #{i}: it has no `Action` or `NotAction`"
                ));
            };
            let principal = match (s.get("Principal"), s.get("NotPrincipal")) {
                (Some(p), _) => Some((false, principals(p))),
                (None, Some(p)) => Some((true, principals(p))),
                (None, None) => None,
            };
            let mut conditions = Vec::new();
            if let Some(Value::Object(block)) = s.get("Condition") {
                for (operator, keys) in block {
                    if let Value::Object(keys) = keys {
                        for (key, values) in keys {
                            conditions.push(Condition {
                                operator: operator.clone(),
                                key: key.clone(),
                                values: strings(Some(values)),
                            });
                        }
                    }
                }
            }
            parsed.push(Statement {
                id: s
                    .get("Sid")
                    .and_then(Value::as_str)
                    .filter(|sid| !sid.is_empty())
                    .map_or_else(|| format!("#{i}"), str::to_owned),
                effect,
                actions,
                resources: listed(s, "Resource", "NotResource"),
                principals: principal,
                conditions,
            });
        }
        Ok(Self {
            name: name.to_owned(),
            variables: document.get("Version").and_then(Value::as_str) == Some("2012-10-17"),
            statements: parsed,
        })
    }
}

/// Who makes a request, from their ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub arn: String,
    pub account: String,
    pub kind: Kind,
}

/// The kind of principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    User {
        name: String,
    },
    /// A role, or a session of it (`assumed-role/NAME/SESSION`): its role's ARN.
    Role {
        role_arn: String,
        session: bool,
    },
    /// The account's root user.
    Root,
}

impl Principal {
    /// `arn:aws:iam::ID:user/NAME`, `...:role/NAME`, `arn:aws:sts::ID:assumed-role/NAME/S`,
    /// `...:root`.
    pub fn parse(arn: &str) -> Result<Self, String> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let problem = || {
            format!(
                "`{arn}` is not a principal's ARN: write arn:aws:iam::ACCOUNT:user/NAME, arn:aws:iam::ACCOUNT:role/NAME, arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION or arn:aws:iam::ACCOUNT:root"
            )
        };
        let ["arn", partition, service, "", account, resource] = parts.as_slice() else {
            return Err(problem());
        };
        if !crate::iam::is_account_id(account) {
            return Err(problem());
        }
        let kind = match (*service, resource.split_once('/')) {
            ("iam", Some(("user", path))) => Kind::User {
                name: path.rsplit('/').next().unwrap_or(path).to_owned(),
            },
            ("iam", Some(("role", _))) => Kind::Role {
                role_arn: arn.to_owned(),
                session: false,
            },
            ("sts", Some(("assumed-role", rest))) => {
                let role = rest.split('/').next().unwrap_or(rest);
                Kind::Role {
                    role_arn: format!("arn:{partition}:iam::{account}:role/{role}"),
                    session: true,
                }
            }
            ("iam", None) if *resource == "root" => Kind::Root,
            _ => return Err(problem()),
        };
        Ok(Self {
            arn: arn.to_owned(),
            account: (*account).to_owned(),
            kind,
        })
    }
}

/// One request: who, which action, on what, with which context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub principal: Principal,
    pub action: String,
    pub resource: String,
    /// The account the resource is in.
    pub resource_account: String,
    pub context: Context,
}

impl Request {
    /// A request with the context keys AWS sets from the principal filled in unless given:
    /// `aws:PrincipalArn`, `aws:PrincipalAccount`, `aws:PrincipalType`, `aws:username` (a
    /// user's), `aws:ResourceAccount`, `aws:CurrentTime` and `aws:EpochTime` (`now`, in
    /// seconds since 1970). The resource's account is the one its ARN names, else
    /// `resource_account`, else the principal's.
    pub fn new(
        principal: Principal,
        action: &str,
        resource: &str,
        resource_account: Option<&str>,
        mut context: Context,
        now: i64,
    ) -> Self {
        let named = resource
            .split(':')
            .nth(4)
            .filter(|a| crate::iam::is_account_id(a));
        let account = named
            .or(resource_account)
            .unwrap_or(&principal.account)
            .to_owned();
        let (principal_arn, kind) = match &principal.kind {
            Kind::User { name } => {
                context.default_to("aws:username", name);
                (principal.arn.clone(), "User")
            }
            Kind::Role { role_arn, session } => (
                role_arn.clone(),
                if *session { "AssumedRole" } else { "Role" },
            ),
            Kind::Root => (principal.arn.clone(), "Account"),
        };
        context.default_to("aws:PrincipalArn", &principal_arn);
        context.default_to("aws:PrincipalAccount", &principal.account);
        context.default_to("aws:PrincipalType", kind);
        context.default_to("aws:ResourceAccount", &account);
        context.default_to("aws:EpochTime", &now.to_string());
        context.default_to(
            "aws:CurrentTime",
            &humantime::format_rfc3339_seconds(
                std::time::UNIX_EPOCH
                    + std::time::Duration::from_secs(u64::try_from(now).unwrap_or(0)),
            )
            .to_string(),
        );
        Self {
            principal,
            action: action.to_owned(),
            resource: resource.to_owned(),
            resource_account: account,
            context,
        }
    }
}

/// The documents that apply to a request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Policies<'a> {
    /// The principal's identity policies: a user's own and its groups', or a role's.
    pub identity: &'a [Policy],
    pub boundary: Option<&'a Policy>,
    /// Session policies passed when the role was assumed.
    pub session: &'a [Policy],
    /// The resource's own policy.
    pub resource: Option<&'a Policy>,
    /// SCPs, one a level of the organization (root, each OU, the account): every level must
    /// allow. None given: no SCP applies.
    pub scps: &'a [Policy],
}

/// What a request comes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Allowed,
    ImplicitDeny,
    ExplicitDeny,
}

/// A statement that decided an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decider {
    pub policy: String,
    pub statement: String,
    pub effect: Effect,
}

/// An answer: the decision, the statements that decided it, and why, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Answer {
    pub decision: Decision,
    pub statements: Vec<Decider>,
    pub reason: String,
}

/// How a resource policy's statement names the principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Reach {
    /// The account: a grant the identity policies must still allow.
    Account,
    /// The role a session is of: limited by the boundary and session policies.
    Role,
    /// The user or the role session itself, or anyone.
    Direct,
}

/// Whether a statement applies to the request (its principal, for a resource policy, reached
/// how).
fn applies(
    policy: &Policy,
    statement: &Statement,
    request: &Request,
    resource: bool,
) -> Option<Reach> {
    let action = match &statement.actions {
        Listed::Is(list) => list.iter().any(|a| matches_action(a, &request.action)),
        Listed::Not(list) => !list.iter().any(|a| matches_action(a, &request.action)),
    };
    if !action {
        return None;
    }
    let context = policy.variables.then_some(&request.context);
    let on = |list: &[String]| {
        list.iter()
            .any(|r| Pattern::new(r, context).is_some_and(|p| p.matches_arn(&request.resource)))
    };
    let on_resource = match &statement.resources {
        Some(Listed::Is(list)) => on(list),
        Some(Listed::Not(list)) => !on(list),
        // A resource policy's statement without `Resource` is about the resource it is on.
        None => resource,
    };
    if !on_resource {
        return None;
    }
    let reach = if resource {
        match &statement.principals {
            Some((false, named)) => reach(named, &request.principal)?,
            Some((true, named)) => {
                if reach(named, &request.principal).is_some() {
                    return None;
                }
                Reach::Direct
            }
            None => return None,
        }
    } else {
        Reach::Direct
    };
    statement
        .conditions
        .iter()
        .all(|c| c.holds(&request.context, policy.variables))
        .then_some(reach)
}

fn matches_action(pattern: &str, action: &str) -> bool {
    Pattern::new(pattern, None).is_some_and(|p| p.matches(action, true))
}

/// How a resource policy's principal element reaches the request's principal, if it does.
fn reach(named: &Named, principal: &Principal) -> Option<Reach> {
    let Named::Some(list) = named else {
        return Some(Reach::Direct);
    };
    let root = format!(
        "arn:{}:iam::{}:root",
        principal.arn.split(':').nth(1).unwrap_or("aws"),
        principal.account
    );
    list.iter()
        .filter(|(kind, _)| kind == "AWS")
        .filter_map(|(_, value)| {
            if value == "*" || *value == principal.arn {
                Some(Reach::Direct)
            } else if *value == principal.account || *value == root {
                Some(Reach::Account)
            } else if let Kind::Role {
                role_arn,
                session: true,
            } = &principal.kind
            {
                let name = |arn: &str| arn.rsplit('/').next().map(str::to_owned);
                let same_role = value.starts_with(&format!(
                    "arn:{}:iam::{}:role/",
                    principal.arn.split(':').nth(1).unwrap_or("aws"),
                    principal.account
                )) && name(value) == name(role_arn);
                same_role.then_some(Reach::Role)
            } else {
                None
            }
        })
        .max()
}

/// What one set of policies says of the request: its allowing and denying statements.
#[derive(Debug, Default)]
struct Verdict {
    allows: Vec<Decider>,
    denies: Vec<Decider>,
    /// For a resource policy: how far its allows reach.
    reach: Option<Reach>,
}

fn verdict(policies: &[&Policy], request: &Request, resource: bool) -> Verdict {
    let mut verdict = Verdict::default();
    for policy in policies {
        for statement in &policy.statements {
            let Some(reach) = applies(policy, statement, request, resource) else {
                continue;
            };
            let decider = Decider {
                policy: policy.name.clone(),
                statement: statement.id.clone(),
                effect: statement.effect,
            };
            match statement.effect {
                Effect::Deny => verdict.denies.push(decider),
                Effect::Allow => {
                    verdict.allows.push(decider);
                    verdict.reach = verdict.reach.max(Some(reach));
                }
            }
        }
    }
    verdict
}

fn answer(decision: Decision, statements: Vec<Decider>, reason: impl Into<String>) -> Answer {
    Answer {
        decision,
        statements,
        reason: reason.into(),
    }
}

/// The decision on `request` under `policies`.
pub fn evaluate(request: &Request, policies: &Policies<'_>) -> Answer {
    let identity = verdict(
        &policies.identity.iter().collect::<Vec<_>>(),
        request,
        false,
    );
    let boundary = policies.boundary.map(|b| verdict(&[b], request, false));
    let session = (!policies.session.is_empty())
        .then(|| verdict(&policies.session.iter().collect::<Vec<_>>(), request, false));
    let resource = policies.resource.map(|r| verdict(&[r], request, true));
    let scps: Vec<Verdict> = policies
        .scps
        .iter()
        .map(|s| verdict(&[s], request, false))
        .collect();

    // An explicit deny anywhere decides.
    let denies: Vec<Decider> = scps
        .iter()
        .chain(&resource)
        .chain(&boundary)
        .chain(&session)
        .chain(std::iter::once(&identity))
        .flat_map(|v| v.denies.iter().cloned())
        .collect();
    if !denies.is_empty() {
        return answer(Decision::ExplicitDeny, denies, "a statement denies it");
    }
    let mut allowed: Vec<Decider> = Vec::new();
    for (level, scp) in scps.iter().enumerate() {
        if scp.allows.is_empty() {
            return answer(
                Decision::ImplicitDeny,
                Vec::new(),
                format!(
                    "no statement of SCP {} (level {}) allows it: every level of SCPs must",
                    policies.scps[level].name,
                    level + 1
                ),
            );
        }
        allowed.extend(scp.allows.iter().cloned());
    }
    let same_account = request.resource_account == request.principal.account;
    if same_account && request.principal.kind == Kind::Root {
        return answer(
            Decision::Allowed,
            allowed,
            "the account's root user may do anything in its own account that no SCP or explicit deny stops",
        );
    }
    let granted = resource.as_ref().filter(|r| !r.allows.is_empty());
    if !same_account && granted.is_none() {
        return answer(
            Decision::ImplicitDeny,
            Vec::new(),
            format!(
                "the resource is in account {}, whose resource policy does not let {} in: across accounts both sides must allow",
                request.resource_account, request.principal.arn
            ),
        );
    }
    // In the principal's account, a resource policy that names the user or the session allows
    // on its own; one that names the role is still limited by the boundary and the session
    // policies.
    if let (true, Some(granted)) = (same_account, granted) {
        let reach = granted.reach.unwrap_or(Reach::Account);
        if reach == Reach::Direct {
            allowed.extend(granted.allows.iter().cloned());
            return answer(
                Decision::Allowed,
                allowed,
                "the resource policy allows the principal itself",
            );
        }
        if reach == Reach::Role {
            allowed.extend(granted.allows.iter().cloned());
            return limits(
                allowed,
                boundary.as_ref(),
                session.as_ref(),
                "the resource policy allows the role",
            );
        }
    }
    if identity.allows.is_empty() {
        return answer(
            Decision::ImplicitDeny,
            Vec::new(),
            if policies.identity.is_empty() {
                "the principal has no identity policy".to_owned()
            } else {
                "no identity policy allows it".to_owned()
            },
        );
    }
    allowed.extend(identity.allows.iter().cloned());
    if let Some(granted) = granted.filter(|_| !same_account) {
        allowed.extend(granted.allows.iter().cloned());
    }
    limits(
        allowed,
        boundary.as_ref(),
        session.as_ref(),
        "an identity policy allows it",
    )
}

/// An allow the boundary and the session policies must also allow, where there are any.
fn limits(
    mut allowed: Vec<Decider>,
    boundary: Option<&Verdict>,
    session: Option<&Verdict>,
    why: &str,
) -> Answer {
    if let Some(boundary) = boundary {
        if boundary.allows.is_empty() {
            return answer(
                Decision::ImplicitDeny,
                Vec::new(),
                format!("{why}, but the permissions boundary does not"),
            );
        }
        allowed.extend(boundary.allows.iter().cloned());
    }
    if let Some(session) = session {
        if session.allows.is_empty() {
            return answer(
                Decision::ImplicitDeny,
                Vec::new(),
                format!("{why}, but the session policies do not"),
            );
        }
        allowed.extend(session.allows.iter().cloned());
    }
    answer(Decision::Allowed, allowed, why)
}
