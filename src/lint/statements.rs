//! What a statement says about itself, whatever it grants: its `Version`, `Sid`s, resources,
//! principals, condition operators and values. IAM rejects some of these outright (an unknown
//! operator, a duplicate or non-alphanumeric `Sid`, a resource that is not an ARN); the others
//! it accepts and then never matches, or matches more than meant.

use serde_json::Value;

use super::data::ActionDb;
use super::{Kind, statements, strings};

/// The base condition operators IAM knows, before `ForAnyValue:`/`ForAllValues:` and
/// `IfExists`.
const OPERATORS: &[&str] = &[
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
    "Bool",
    "BinaryEquals",
    "IpAddress",
    "NotIpAddress",
    "ArnEquals",
    "ArnLike",
    "ArnNotEquals",
    "ArnNotLike",
    "Null",
];

/// Web identity providers a `Federated` principal may name without an ARN.
const WEB_IDENTITY: &[&str] = &[
    "cognito-identity.amazonaws.com",
    "accounts.google.com",
    "graph.facebook.com",
    "www.amazon.com",
];

/// Actions that change the resource policy they are granted by (or who it lets in): in a
/// resource policy, whoever it lets do them can let anyone in.
const POLICY_REWRITES: &[&str] = &[
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketAcl",
    "s3:PutAccessPointPolicy",
    "sqs:SetQueueAttributes",
    "sqs:AddPermission",
    "sns:SetTopicAttributes",
    "sns:AddPermission",
    "kms:PutKeyPolicy",
    "kms:CreateGrant",
    "lambda:AddPermission",
    "secretsmanager:PutResourcePolicy",
    "secretsmanager:DeleteResourcePolicy",
    "ecr:SetRepositoryPolicy",
    "glacier:SetVaultAccessPolicy",
    "iam:UpdateAssumeRolePolicy",
    "backup:PutBackupVaultAccessPolicy",
    "logs:PutResourcePolicy",
    "events:PutPermission",
    "es:UpdateElasticsearchDomainConfig",
    "es:UpdateDomainConfig",
    "apigateway:UpdateRestApiPolicy",
    "elasticfilesystem:PutFileSystemPolicy",
];

/// A statement: its place in the document (from 0) and its name (`Sid`, or `#index`).
type At<'a> = (usize, &'a str);

/// The document's own findings, as (code, statement, message).
pub(super) fn check(
    db: &ActionDb,
    json: &Value,
    kind: Kind,
    found: &mut dyn FnMut(&'static str, Option<At<'_>>, String),
) {
    version(json, found);
    let all = statements(json);
    let mut seen_sids: Vec<&str> = Vec::new();
    for (i, (sid_name, statement)) in all.iter().enumerate() {
        let name = (i, sid_name.as_str());
        let sid = statement.get("Sid").and_then(Value::as_str);
        if let Some(sid) = sid.filter(|s| !s.is_empty()) {
            if seen_sids.contains(&sid) {
                found(
                    "duplicate-sid",
                    Some(name),
                    format!(
                        "Sid `{sid}` is used by another statement of the policy; IAM refuses the policy: give each statement its own"
                    ),
                );
            }
            seen_sids.push(sid);
            if kind != Kind::Resource && !sid.chars().all(|c| c.is_ascii_alphanumeric()) {
                found(
                    "invalid-sid",
                    Some(name),
                    format!(
                        "Sid `{sid}` has characters other than letters and digits, which IAM refuses in this policy"
                    ),
                );
            }
        }
        let allow = statement.get("Effect").and_then(Value::as_str) == Some("Allow");
        if allow && statement.get("NotPrincipal").is_some() {
            found(
                "allow-not-principal",
                Some(name),
                "Allow with NotPrincipal allows everyone but the principals named, anonymous users included: name the principals in Principal".to_owned(),
            );
        }
        resources(statement, name, found);
        principals(statement, name, found);
        conditions(db, statement, name, allow, found);
        if kind == Kind::Resource && allow {
            policy_rewrites(statement, name, found);
        }
    }
}

fn version(json: &Value, found: &mut dyn FnMut(&'static str, Option<At<'_>>, String)) {
    let version = json.get("Version").and_then(Value::as_str);
    if version == Some("2012-10-17") {
        return;
    }
    let variables = json.to_string().contains("${");
    let read_as = match version {
        None => "without a Version, IAM reads it as 2008-10-17".to_owned(),
        Some(other) => format!("Version `{other}` is the old policy language"),
    };
    let consequence = if variables {
        ", in which policy variables such as ${aws:username} are literal text: they match nothing"
    } else {
        ""
    };
    found(
        "old-version",
        None,
        format!("{read_as}{consequence}: write \"Version\": \"2012-10-17\""),
    );
}

/// Whether a resource is an ARN that means every resource of its service (`arn:aws:s3:::*`,
/// `arn:*:*:*:*:*`): all of it a wildcard but the service.
pub(super) fn effectively_star(resource: &str) -> bool {
    let parts: Vec<&str> = resource.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", partition, _, region, account, rest] => {
            let open = |p: &str| p.is_empty() || p == "*";
            (*partition == "*" || !partition.is_empty())
                && open(region)
                && open(account)
                && (*rest == "*" || rest.chars().all(|c| c == '*' || c == ':' || c == '/'))
        }
        ["arn", "*"] | ["arn", _, "*"] => true,
        _ => false,
    }
}

fn resources(
    statement: &Value,
    name: At<'_>,
    found: &mut dyn FnMut(&'static str, Option<At<'_>>, String),
) {
    for key in ["Resource", "NotResource"] {
        for resource in strings(statement, key) {
            if resource == "*" {
                continue;
            }
            if !resource.starts_with("arn:") {
                found(
                    "invalid-resource",
                    Some(name),
                    format!(
                        "{key} `{resource}` is neither \"*\" nor an ARN, which IAM refuses: write its ARN, like arn:aws:s3:::bucket/*"
                    ),
                );
            } else if key == "Resource" && effectively_star(resource) {
                found(
                    "resource-effectively-star",
                    Some(name),
                    format!(
                        "`{resource}` is every resource of its service, \"*\" in disguise: name the resources, or write \"*\" if that is meant"
                    ),
                );
            }
        }
    }
}

fn principals(
    statement: &Value,
    name: At<'_>,
    found: &mut dyn FnMut(&'static str, Option<At<'_>>, String),
) {
    for key in ["Principal", "NotPrincipal"] {
        let Some(principal) = statement.get(key) else {
            continue;
        };
        let Some(map) = principal.as_object() else {
            if principal.as_str() != Some("*") {
                found(
                    "unknown-principal",
                    Some(name),
                    format!(
                        "{key} {principal} is neither \"*\" nor an object of AWS, Service, Federated or CanonicalUser principals"
                    ),
                );
            }
            continue;
        };
        for (kind, values) in map {
            let values: Vec<&str> = match values {
                Value::String(s) => vec![s.as_str()],
                Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            for value in values {
                let (code, problem) = match kind.as_str() {
                    "AWS" => ("unknown-principal", (!aws_principal(value)).then(|| {
                        format!("AWS principal `{value}` is neither \"*\", an account id nor the ARN of an account, user or role")
                    })),
                    "Service" => {
                        let service = value.ends_with(".amazonaws.com")
                            || value.ends_with(".amazonaws.com.cn")
                            || value == "*";
                        ("unknown-principal", (!service).then(|| {
                            format!("service principal `{value}` is no AWS service: services are named like ec2.amazonaws.com")
                        }))
                    }
                    "Federated" => ("unknown-federation-source", (!federated(value)).then(|| {
                        let hint = crate::spec::nearest(value, WEB_IDENTITY.iter().copied())
                            .map(|n| format!("; did you mean `{n}`?"))
                            .unwrap_or_default();
                        format!("federated principal `{value}` is neither a SAML or OIDC provider's ARN nor a web identity provider IAM knows{hint}")
                    })),
                    "CanonicalUser" => {
                        let canonical = value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit());
                        ("unknown-principal", (!canonical).then(|| format!("canonical user `{value}` is not 64 hex digits")))
                    }
                    other => ("unknown-principal", Some(format!(
                        "`{other}` is no kind of principal: use AWS, Service, Federated or CanonicalUser"
                    ))),
                };
                if let Some(message) = problem {
                    found(code, Some(name), message);
                }
            }
        }
    }
}

fn aws_principal(value: &str) -> bool {
    if value == "*" || crate::iam::is_account_id(value) {
        return true;
    }
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", partition, "iam", "", account, resource] => {
            crate::iam::Partition::parse(partition).is_some()
                && (crate::iam::is_account_id(account) || *account == "*")
                && (*resource == "root"
                    || [
                        "user/",
                        "role/",
                        "assumed-role/",
                        "federated-user/",
                        "group/",
                    ]
                    .iter()
                    .any(|p| resource.starts_with(p)))
        }
        ["arn", partition, "sts", "", account, resource] => {
            crate::iam::Partition::parse(partition).is_some()
                && crate::iam::is_account_id(account)
                && (resource.starts_with("assumed-role/")
                    || resource.starts_with("federated-user/"))
        }
        _ => false,
    }
}

fn federated(value: &str) -> bool {
    if WEB_IDENTITY.contains(&value) {
        return true;
    }
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", partition, "iam", "", account, resource]
        if crate::iam::Partition::parse(partition).is_some()
            && crate::iam::is_account_id(account)
            && (resource.starts_with("saml-provider/") || resource.starts_with("oidc-provider/")))
}

/// The base operator of `ForAnyValue:StringLikeIfExists` and how it was qualified.
struct Operator<'a> {
    base: &'a str,
    set: Option<&'a str>,
    if_exists: bool,
}

fn parse_operator(operator: &str) -> Operator<'_> {
    let (set, rest) = match operator.split_once(':') {
        Some((set, rest)) => (Some(set), rest),
        None => (None, operator),
    };
    let (base, if_exists) = match rest.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (rest, false),
    };
    Operator {
        base,
        set,
        if_exists,
    }
}

fn conditions(
    db: &ActionDb,
    statement: &Value,
    name: At<'_>,
    allow: bool,
    found: &mut dyn FnMut(&'static str, Option<At<'_>>, String),
) {
    let Some(conditions) = statement.get("Condition").and_then(Value::as_object) else {
        return;
    };
    for (operator, keys) in conditions {
        let parsed = parse_operator(operator);
        let known = OPERATORS.contains(&parsed.base)
            && parsed
                .set
                .is_none_or(|s| s == "ForAnyValue" || s == "ForAllValues")
            && !(parsed.base == "Null" && parsed.if_exists);
        if !known {
            let hint = crate::spec::nearest(parsed.base, OPERATORS.iter().copied())
                .map(|n| format!("; did you mean `{n}`?"))
                .unwrap_or_default();
            found(
                "unknown-operator",
                Some(name),
                format!("`{operator}` is no condition operator, and IAM refuses the policy{hint}"),
            );
            continue;
        }
        let Some(keys) = keys.as_object() else {
            continue;
        };
        for (key, values) in keys {
            let values: Vec<&Value> = match values {
                Value::Array(items) => items.iter().collect(),
                one => vec![one],
            };
            for value in &values {
                if let Some(why) = value_mismatch(parsed.base, value) {
                    found(
                        "condition-value-mismatch",
                        Some(name),
                        format!(
                            "`{operator}` on `{key}` with {value}: {why}, so the condition never holds as meant"
                        ),
                    );
                }
            }
            let single = parsed.set.is_some()
                && key_kind(db, key).is_some_and(|kind| !kind.starts_with("ArrayOf"));
            if single {
                found(
                    "single-value-set-operator",
                    Some(name),
                    format!(
                        "`{operator}` on `{key}`, which holds one value: {} without a prefix says what is meant (ForAllValues holds when the key is absent)",
                        parsed.base
                    ),
                );
            }
            let mfa = key.eq_ignore_ascii_case("aws:MultiFactorAuthPresent");
            if mfa && allow && parsed.base == "Bool" && !parsed.if_exists {
                let falsy = values.iter().any(|v| {
                    v.as_str().is_some_and(|s| s.eq_ignore_ascii_case("false"))
                        || **v == Value::Bool(false)
                });
                if falsy {
                    found(
                        "mfa-condition",
                        Some(name),
                        "Allow on aws:MultiFactorAuthPresent \"false\" misses requests made with long-term keys, which have no such key: to refuse requests without MFA, Deny with BoolIfExists aws:MultiFactorAuthPresent \"false\"".to_owned(),
                    );
                }
            }
        }
    }
}

/// The type of a condition key: a global key's, or its service's from the action table.
fn key_kind(db: &ActionDb, key: &str) -> Option<String> {
    let lower = key.to_lowercase();
    if let Some(kind) = super::checks::global_key(&lower) {
        return Some(kind.to_owned());
    }
    let (prefix, _) = key.split_once(':')?;
    db.service(prefix)?.key_type(key).map(str::to_owned)
}

/// Why a value does not fit its operator, if it does not. Policy variables fit anything.
fn value_mismatch(base: &str, value: &Value) -> Option<&'static str> {
    let text = match value {
        Value::String(s) => s.as_str(),
        Value::Bool(_) => {
            let takes_text = base.starts_with("Numeric")
                || base.starts_with("Date")
                || base.ends_with("IpAddress");
            return takes_text.then_some("a boolean is no value for it");
        }
        Value::Number(_) => {
            return (base == "Bool" || base.ends_with("IpAddress"))
                .then_some("a number is no value for it");
        }
        _ => return Some("it takes a string or a list of strings"),
    };
    if text.contains("${") {
        return None;
    }
    if base.starts_with("Numeric") {
        return text.parse::<f64>().is_err().then_some("it is not a number");
    }
    if base.starts_with("Date") {
        let date = text.parse::<i64>().is_ok()
            || humantime::parse_rfc3339_weak(text).is_ok()
            || is_date(text);
        return (!date).then_some(
            "it is not a date (2026-12-01, 2026-12-01T12:00:00Z) or seconds since 1970",
        );
    }
    if base == "Bool" || base == "Null" {
        return (!(text.eq_ignore_ascii_case("true") || text.eq_ignore_ascii_case("false")))
            .then_some("it is neither true nor false");
    }
    if base.ends_with("IpAddress") {
        return (!is_ip(text)).then_some("it is not an IP address or CIDR range");
    }
    if base.starts_with("Arn") {
        return (!(text.starts_with("arn:") || text == "*")).then_some("it is not an ARN");
    }
    None
}

fn is_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() >= 10
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'-'
        && bytes[5..7].iter().all(u8::is_ascii_digit)
        && bytes[7] == b'-'
        && bytes[8..10].iter().all(u8::is_ascii_digit)
}

fn is_ip(text: &str) -> bool {
    let (address, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let Ok(ip) = address.parse::<std::net::IpAddr>() else {
        return false;
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    prefix.is_none_or(|p| p.parse::<u8>().is_ok_and(|n| n <= max))
}

fn policy_rewrites(
    statement: &Value,
    name: At<'_>,
    found: &mut dyn FnMut(&'static str, Option<At<'_>>, String),
) {
    let patterns = strings(statement, "Action");
    let mut rewrites: Vec<&str> = POLICY_REWRITES
        .iter()
        .copied()
        .filter(|action| {
            patterns
                .iter()
                .any(|p| super::data::glob(&p.to_lowercase(), &action.to_lowercase()))
        })
        .collect();
    rewrites.dedup();
    if !rewrites.is_empty() {
        found(
            "resource-policy-escalation",
            Some(name),
            format!(
                "the principals this resource policy lets in may {}, which changes who the policy lets in: leave it out, or keep it to administrators",
                rewrites.join(", ")
            ),
        );
    }
}
