//! Trust policies, a role's `AssumeRolePolicyDocument`: the checks IAM makes, the ones iamspec
//! adds against trusts that let anyone in, and what a plan needs to know of who is trusted.

use serde_json::Value;

use super::{Findings, is_string_or_strings, strings};

/// The actions a trust policy can allow.
pub const TRUST_ACTIONS: [&str; 6] = [
    "sts:AssumeRole",
    "sts:AssumeRoleWithWebIdentity",
    "sts:AssumeRoleWithSAML",
    "sts:TagSession",
    "sts:SetSourceIdentity",
    "sts:SetContext",
];

/// The keys a trust-policy statement may have.
const TRUST_STATEMENT_KEYS: [&str; 7] = [
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Condition",
];

/// Cognito's identity pool provider: its tokens name the pool in `aud`, and AWS asks for a
/// condition on it rather than on `sub`.
const COGNITO: &str = "cognito-identity.amazonaws.com";

/// Checks a trust policy the way IAM would, and refuses the trusts that let anyone assume the
/// role: everyone without a condition, and any identity of a web identity provider (for
/// GitHub, every repository on GitHub) without a condition on the token's subject.
pub fn check_trust(document: &Value) -> Findings {
    let mut found = Findings::default();
    for (index, statement) in super::statements(document, "trust policy", &mut found)
        .iter()
        .enumerate()
    {
        check_statement(index + 1, statement, &mut found);
    }
    found
}

#[allow(clippy::too_many_lines)] // one check after another, in the order IAM reports them
fn check_statement(number: usize, statement: &Value, found: &mut Findings) {
    let Value::Object(fields) = statement else {
        found
            .errors
            .push(format!("statement {number} is not an object"));
        return;
    };
    let name = match fields.get("Sid") {
        Some(Value::String(sid)) => format!("statement {number} ({sid})"),
        _ => format!("statement {number}"),
    };
    for key in fields.keys() {
        if key == "Resource" || key == "NotResource" {
            found.errors.push(format!(
                "{name} has `{key}`: a trust policy is about the role itself, so it names none; remove it"
            ));
        } else if !TRUST_STATEMENT_KEYS.contains(&key.as_str()) {
            found.errors.push(format!(
                "{name} has an unknown key `{key}` (allowed: {})",
                TRUST_STATEMENT_KEYS.join(", ")
            ));
        }
    }
    let allow = match fields.get("Effect") {
        Some(Value::String(e)) if e == "Allow" || e == "Deny" => e == "Allow",
        Some(other) => {
            found.errors.push(format!(
                "{name} has `Effect` {other}; it must be \"Allow\" or \"Deny\""
            ));
            false
        }
        None => {
            found
                .errors
                .push(format!("{name} has no `Effect`: add \"Effect\": \"Allow\""));
            false
        }
    };
    for (a, b) in [("Principal", "NotPrincipal"), ("Action", "NotAction")] {
        match (fields.contains_key(a), fields.contains_key(b)) {
            (true, true) => found
                .errors
                .push(format!("{name} has both `{a}` and `{b}`; keep one")),
            (false, false) => found
                .errors
                .push(format!("{name} has neither `{a}` nor `{b}`; add one")),
            _ => {}
        }
    }
    for key in ["Action", "NotAction"] {
        if let Some(value) = fields.get(key)
            && !is_string_or_strings(value)
        {
            found.errors.push(format!(
                "{name} has `{key}` {value}; it must be a string or a list of strings"
            ));
        }
    }
    let actions = strings(fields.get("Action").or_else(|| fields.get("NotAction")));
    for action in &actions {
        let known = action == "*"
            || action == "sts:*"
            || TRUST_ACTIONS.iter().any(|a| a.eq_ignore_ascii_case(action));
        if !known {
            found.errors.push(format!(
                "{name} has action `{action}`; a trust policy allows {} (or sts:*)",
                TRUST_ACTIONS.join(", ")
            ));
        }
    }
    let principal = fields
        .get("Principal")
        .or_else(|| fields.get("NotPrincipal"));
    if let Some(principal) = principal {
        check_principal(&name, principal, found);
    }
    if allow && fields.contains_key("NotPrincipal") {
        found.errors.push(format!(
            "{name} allows with `NotPrincipal`: it would let everyone but the principals it names assume the role, and AWS refuses it in a trust policy; name the principals that may in `Principal` instead"
        ));
    }
    if !allow || !fields.contains_key("Principal") {
        return;
    }
    let conditions = condition_keys(fields.get("Condition"));
    let principal = fields.get("Principal").unwrap_or(&Value::Null);
    if is_everyone(principal) && conditions.is_empty() {
        found.errors.push(format!(
            "{name} lets anyone in any AWS account assume the role (`Principal` \"*\" with no `Condition`): name the accounts or roles that may, or add a condition such as aws:PrincipalOrgID or sts:ExternalId"
        ));
    }
    if !allows_web_identity(fields) {
        return;
    }
    for provider in federated(principal) {
        if let Some(host) = web_identity_host(&provider) {
            check_web_identity(&name, &host, fields.get("Condition"), found);
        }
    }
}

/// Whether a statement's `Action` or `NotAction` lets `sts:AssumeRoleWithWebIdentity` through:
/// an `Action` pattern that matches it, or a `NotAction` none of whose patterns does.
fn allows_web_identity(fields: &serde_json::Map<String, Value>) -> bool {
    let matches = |patterns: Vec<String>| {
        patterns.iter().any(|p| {
            crate::lint::data::glob(&p.to_ascii_lowercase(), "sts:assumerolewithwebidentity")
        })
    };
    if let Some(actions) = fields.get("Action") {
        return matches(strings(Some(actions)));
    }
    fields
        .get("NotAction")
        .is_some_and(|not| !matches(strings(Some(not))))
}

/// The operators that pin a token's claim to the values they list. Negated operators,
/// `Null`, `...IfExists` (true when the claim is missing) and `ForAllValues:` (true for an
/// empty set) let in tokens the values do not name, so they never count.
const PINNING_OPERATORS: [&str; 4] = [
    "StringEquals",
    "StringLike",
    "ForAnyValue:StringEquals",
    "ForAnyValue:StringLike",
];

/// A web identity provider's tokens may assume the role only under a condition that pins the
/// token's subject (Cognito: its audience, the identity pool), and only with values that each
/// pin at least the owner: for GitHub, `repo:OWNER/...` with no wildcard in the owner; for
/// other providers, no value that is only wildcards. One refusal per value that opens the role.
fn check_web_identity(name: &str, host: &str, condition: Option<&Value>, found: &mut Findings) {
    let needed = if host == COGNITO { "aud" } else { "sub" };
    let claim = if needed == "sub" {
        "subject"
    } else {
        "audience"
    };
    let key = format!("{host}:{needed}");
    let pins: Vec<(String, Vec<String>)> = condition_entries(condition, &key)
        .into_iter()
        .filter(|(operator, _)| {
            PINNING_OPERATORS
                .iter()
                .any(|o| o.eq_ignore_ascii_case(operator))
        })
        .collect();
    if pins.is_empty() {
        let example = if host == super::GITHUB_HOST {
            " (for GitHub: every repository on GitHub could; use `trust = { github = { provider = ..., repo = \"org/repo\", refs = [...] } }`, or a condition like \"StringEquals\": {\"token.actions.githubusercontent.com:sub\": \"repo:org/repo:ref:refs/heads/main\"})"
        } else {
            ""
        };
        found.errors.push(format!(
            "{name} lets any identity of provider {host} assume the role: no StringEquals or StringLike condition pins `{key}`, the token's {claim} (negated, Null, IfExists and ForAllValues conditions do not){example}"
        ));
        return;
    }
    for (operator, values) in pins {
        for value in values {
            if let Some(why) = opens_role(host, &value) {
                found.errors.push(format!(
                    "{name} lets {why} assume the role: its {operator} condition on `{key}` allows \"{value}\"; name the subjects that may, at least down to the owner (like \"repo:acme/app:ref:refs/heads/main\" or \"repo:acme/*\")"
                ));
            }
        }
    }
}

/// Why a subject value opens the role to strangers, if it does: who it lets in.
fn opens_role(host: &str, value: &str) -> Option<String> {
    let wild = |text: &str| text.contains(['*', '?']);
    if value.is_empty() || value.chars().all(|c| c == '*' || c == '?') {
        return Some(format!("any identity of provider {host}"));
    }
    if host != super::GITHUB_HOST {
        return None;
    }
    // GitHub's default subject is `repo:OWNER/REPO:...`; a customised one starts with the
    // claims the organization chose, of which these pin an owner or a repository.
    if let Some(rest) = value.strip_prefix("repo:") {
        return match rest.split_once('/') {
            Some((owner, _)) if !owner.is_empty() && !wild(owner) => None,
            _ => Some("every repository on GitHub whose owner matches it".to_owned()),
        };
    }
    for claim in [
        "repository_owner_id:",
        "repository_owner:",
        "repository_id:",
    ] {
        if let Some(rest) = value.strip_prefix(claim) {
            let id = rest.split(':').next().unwrap_or_default();
            return (id.is_empty() || wild(id))
                .then(|| "every repository on GitHub whose owner matches it".to_owned());
        }
    }
    Some("workflows of repositories it does not name (it must start with repo:OWNER/, repository_owner:, repository_owner_id: or repository_id: and a value without wildcards)".to_owned())
}

/// A principal is `"*"` or an object of principal types, each a string or a list of strings.
fn check_principal(name: &str, principal: &Value, found: &mut Findings) {
    const TYPES: [&str; 4] = ["AWS", "Service", "Federated", "CanonicalUser"];
    match principal {
        Value::String(s) if s == "*" => {}
        Value::Object(types) if !types.is_empty() => {
            for (kind, value) in types {
                if !TYPES.contains(&kind.as_str()) {
                    found.errors.push(format!(
                        "{name} has principal type `{kind}` (allowed: {})",
                        TYPES.join(", ")
                    ));
                } else if !is_string_or_strings(value) {
                    found.errors.push(format!(
                        "{name} has principal `{kind}` {value}; it must be a string or a list of strings"
                    ));
                }
            }
        }
        other => found.errors.push(format!(
            "{name} has `Principal` {other}; it must be \"*\" or an object such as {{\"Service\": \"ec2.amazonaws.com\"}}"
        )),
    }
}

/// Whether a principal is everyone: `"*"` or `{"AWS": "*"}` in any of its forms.
fn is_everyone(principal: &Value) -> bool {
    match principal {
        Value::String(s) => s == "*",
        Value::Object(types) => types
            .get("AWS")
            .is_some_and(|aws| strings(Some(aws)).iter().any(|p| p == "*")),
        _ => false,
    }
}

/// The `Federated` principals of a statement's principal.
fn federated(principal: &Value) -> Vec<String> {
    match principal {
        Value::Object(types) => strings(types.get("Federated")),
        _ => Vec::new(),
    }
}

/// The host whose tokens a federated principal accepts, for a web identity provider: an OIDC
/// provider's ARN (`...:oidc-provider/HOST[/PATH]`) or one of the names AWS knows
/// (`cognito-identity.amazonaws.com`, `accounts.google.com`...). Nothing for SAML.
pub fn web_identity_host(federated: &str) -> Option<String> {
    if let Some(rest) = federated.strip_prefix("arn:") {
        let resource = rest.splitn(5, ':').nth(4)?;
        return resource.strip_prefix("oidc-provider/").map(str::to_owned);
    }
    Some(federated.to_owned())
}

/// The OIDC provider ARNs a trust policy's web identity statements name.
pub fn oidc_providers(document: &Value) -> Vec<String> {
    let statements = statement_list(document);
    let mut found: Vec<String> = statements
        .iter()
        .filter_map(|s| s.get("Principal"))
        .flat_map(federated)
        .filter(|p| p.contains(":oidc-provider/"))
        .collect();
    found.sort();
    found.dedup();
    found
}

/// A document's statements, a single one as a list of one.
fn statement_list(document: &Value) -> Vec<Value> {
    match document.get("Statement") {
        Some(Value::Array(list)) => list.clone(),
        Some(other) => vec![other.clone()],
        None => Vec::new(),
    }
}

/// The provider URL (without `https://`) of an OIDC provider ARN.
pub fn provider_url(arn: &str) -> Option<&str> {
    arn.split_once(":oidc-provider/").map(|(_, url)| url)
}

/// Whether any statement lets an EC2 service principal assume the role: what an instance
/// profile needs to be of use.
pub fn trusts_ec2(document: &Value) -> bool {
    let statements = statement_list(document);
    statements.iter().any(|s| {
        s.get("Effect") == Some(&Value::String("Allow".into()))
            && s.get("Principal")
                .and_then(|p| p.get("Service"))
                .is_some_and(|services| {
                    strings(Some(services))
                        .iter()
                        .any(|s| s.starts_with("ec2.amazonaws.com"))
                })
    })
}

/// The unique ids (`AROA…` for a role, `AIDA…` for a user) among a trust policy's AWS
/// principals: what IAM shows in place of a principal that was deleted.
pub fn unique_ids(document: &Value) -> Vec<String> {
    let statements = statement_list(document);
    let mut ids: Vec<String> = statements
        .iter()
        .filter_map(|s| s.get("Principal").or_else(|| s.get("NotPrincipal")))
        .filter_map(|p| p.get("AWS"))
        .flat_map(|aws| strings(Some(aws)))
        .filter(|p| is_unique_id(p))
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

fn is_unique_id(text: &str) -> bool {
    ["AROA", "AIDA"]
        .iter()
        .any(|prefix| text.starts_with(prefix))
        && text.len() >= 16
        && text
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// The condition keys a statement tests, lower case, under any operator.
fn condition_keys(condition: Option<&Value>) -> Vec<String> {
    let Some(Value::Object(operators)) = condition else {
        return Vec::new();
    };
    operators
        .values()
        .filter_map(Value::as_object)
        .flat_map(|keys| keys.keys().map(|k| k.to_lowercase()))
        .collect()
}

/// The operators a statement's condition tests `key` under (condition keys ignore case), each
/// with the values it lists.
fn condition_entries(condition: Option<&Value>, key: &str) -> Vec<(String, Vec<String>)> {
    let Some(Value::Object(operators)) = condition else {
        return Vec::new();
    };
    let mut entries = Vec::new();
    for (operator, keys) in operators {
        let Some(keys) = keys.as_object() else {
            continue;
        };
        for (_, value) in keys.iter().filter(|(k, _)| k.eq_ignore_ascii_case(key)) {
            let values = match value {
                Value::Array(items) => items
                    .iter()
                    .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                    .collect(),
                Value::String(s) => vec![s.clone()],
                other => vec![other.to_string()],
            };
            entries.push((operator.clone(), values));
        }
    }
    entries
}

/// A principal in canonical form: `"*"` is `{"AWS": ["*"]}`, every type's value a sorted list,
/// and an account's root ARN its bare id, which IAM treats as the same principal.
pub(super) fn canonical_principal(value: &Value) -> Value {
    let types = match value {
        Value::String(s) if s == "*" => {
            let mut one = serde_json::Map::new();
            one.insert("AWS".to_owned(), Value::String("*".to_owned()));
            one
        }
        Value::Object(types) => types.clone(),
        other => return other.clone(),
    };
    let mut out = std::collections::BTreeMap::new();
    for (kind, principals) in types {
        let list = super::as_list(&principals)
            .into_iter()
            .map(|p| match p {
                Value::String(s) if kind == "AWS" => Value::String(account_of_root(&s)),
                other => other,
            })
            .collect();
        out.insert(kind, super::sorted_set(list));
    }
    super::object(out)
}

/// `arn:PARTITION:iam::123456789012:root` is account 123456789012.
fn account_of_root(principal: &str) -> String {
    let parts: Vec<&str> = principal.splitn(6, ':').collect();
    match parts[..] {
        ["arn", _, "iam", "", account, "root"] if crate::iam::is_account_id(account) => {
            account.to_owned()
        }
        _ => principal.to_owned(),
    }
}
