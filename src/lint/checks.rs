//! The checks of one document, statement by statement.

use serde_json::Value;

use super::data::{Action, ActionDb, Level, Service, glob};
use super::{Kind, Raw, statements, strings};
use crate::spec::{DocumentOwner, SpecDocument, nearest};

/// Actions that return or make credentials: allowed on every resource, whoever holds them can
/// become someone else (after Parliament's list).
pub const CREDENTIAL_ACTIONS: &[&str] = &[
    "iam:CreateAccessKey",
    "iam:UpdateAccessKey",
    "iam:CreateLoginProfile",
    "iam:UpdateLoginProfile",
    "iam:CreateServiceSpecificCredential",
    "iam:ResetServiceSpecificCredential",
    "sts:GetFederationToken",
    "redshift:GetClusterCredentials",
    "rds-db:Connect",
    "lightsail:GetInstanceAccessDetails",
    "lightsail:GetRelationalDatabaseMasterUserPassword",
    "sso:GetRoleCredentials",
    "cognito-identity:GetOpenIdToken",
    "gamelift:RequestUploadCredentials",
    "chime:CreateApiKey",
    "ecr:GetAuthorizationToken",
    "ecr-public:GetAuthorizationToken",
    "codeartifact:GetAuthorizationToken",
    "sts:GetSessionToken",
    "sts:AssumeRole",
    "sts:AssumeRoleWithSAML",
    "sts:AssumeRoleWithWebIdentity",
    "sts:GetServiceBearerToken",
    "cognito-identity:GetCredentialsForIdentity",
    "cognito-identity:GetOpenIdTokenForDeveloperIdentity",
    "redshift:GetClusterCredentialsWithIAM",
    "redshift-serverless:GetCredentials",
    "iam:CreateServiceLinkedRole",
    "sso:CreateToken",
    "ec2-instance-connect:SendSSHPublicKey",
    "ssm:StartSession",
    "eks:CreateAccessEntry",
    "rds:GenerateDbAuthToken",
    "dms:CreateEndpoint",
];

/// Global condition keys (`aws:`) and their types, from AWS's list of global keys.
const GLOBAL_KEYS: &[(&str, &str)] = &[
    ("aws:calledvia", "ArrayOfString"),
    ("aws:calledviafirst", "String"),
    ("aws:calledvialast", "String"),
    ("aws:currenttime", "Date"),
    ("aws:epochtime", "Date"),
    ("aws:federatedprovider", "String"),
    ("aws:multifactorauthage", "Numeric"),
    ("aws:multifactorauthpresent", "Bool"),
    ("aws:principalaccount", "String"),
    ("aws:principalarn", "ARN"),
    ("aws:principalisawsservice", "Bool"),
    ("aws:principalorgid", "String"),
    ("aws:principalorgpaths", "ArrayOfString"),
    ("aws:principalservicename", "String"),
    ("aws:principalservicenameslist", "ArrayOfString"),
    ("aws:principaltype", "String"),
    ("aws:referer", "String"),
    ("aws:requestedregion", "String"),
    ("aws:resourceaccount", "String"),
    ("aws:resourceorgid", "String"),
    ("aws:resourceorgpaths", "ArrayOfString"),
    ("aws:securetransport", "Bool"),
    ("aws:sourceaccount", "String"),
    ("aws:sourcearn", "ARN"),
    ("aws:sourceidentity", "String"),
    ("aws:sourceip", "IPAddress"),
    ("aws:sourceorgid", "String"),
    ("aws:sourceorgpaths", "ArrayOfString"),
    ("aws:sourcevpc", "String"),
    ("aws:sourcevpcarn", "ARN"),
    ("aws:sourcevpce", "String"),
    ("aws:tagkeys", "ArrayOfString"),
    ("aws:tokenissuetime", "Date"),
    ("aws:useragent", "String"),
    ("aws:userid", "String"),
    ("aws:username", "String"),
    ("aws:viaawsservice", "Bool"),
    ("aws:vpcsourceip", "IPAddress"),
    ("aws:ec2instancesourcevpc", "String"),
    ("aws:ec2instancesourceprivateipv4", "IPAddress"),
    ("aws:assumedroot", "Bool"),
];

/// Global keys with a variable part.
const GLOBAL_KEY_PREFIXES: &[(&str, &str)] = &[
    ("aws:principaltag/", "String"),
    ("aws:requesttag/", "String"),
    ("aws:resourcetag/", "String"),
];

/// Checks one document, adding what it finds to `out`.
/// A policy that is only a permissions boundary is a limit, not a grant: `Allow` with
/// `NotAction` is how boundaries are written, so `boundary` skips what grants would be told.
pub(super) fn document(db: &ActionDb, doc: &SpecDocument<'_>, kind: Kind, out: &mut Vec<Raw>) {
    let boundary = matches!(kind, Kind::Boundary | Kind::Scp);
    // What a statement grants its principal: identity policies only (a resource policy's
    // "*" is its own resource).
    let grants = kind == Kind::Identity;
    let name = match doc.owner {
        DocumentOwner::Managed(name) => name.to_owned(),
        DocumentOwner::Inline(_, _) => doc.what.split('`').nth(1).unwrap_or_default().to_owned(),
    };
    let mut found = |code, statement: Option<(usize, &str)>, message: String| {
        out.push(Raw {
            code,
            what: doc.what.clone(),
            name: name.clone(),
            qualified: None,
            at: doc.at,
            statement: statement.map(|(_, s)| s.to_owned()),
            index: statement.map(|(i, _)| i),
            message,
        });
    };
    super::statements::check(
        db,
        &doc.document.json,
        kind,
        &mut |code, statement, message| {
            found(code, statement, message);
        },
    );
    let all = statements(&doc.document.json);
    for (i, (sid, statement)) in all.iter().enumerate() {
        let at = Some((i, sid.as_str()));
        let allow = !boundary && statement.get("Effect").and_then(Value::as_str) == Some("Allow");
        if allow && statement.get("NotAction").is_some() {
            found("allow-not-action", at, "Allow with NotAction allows every other action of every service, including services AWS adds later: list the actions to allow, or Deny with NotAction".to_owned());
        }
        if allow && statement.get("NotResource").is_some() {
            found("allow-not-resource", at, "Allow with NotResource allows the actions on every other resource: list the resources to allow".to_owned());
        }
        let patterns = strings(statement, "Action");
        let negated = strings(statement, "NotAction");
        let mut actions: Vec<(&Service, &Action)> = Vec::new();
        for pattern in patterns.iter().chain(&negated) {
            match resolve(db, pattern) {
                Ok(found_actions) => {
                    if patterns.contains(pattern) {
                        actions.extend(found_actions);
                    }
                }
                Err((code, message)) => found(code, at, message),
            }
        }
        redundant_actions(&patterns, &mut |message| {
            found("redundant-action", at, message);
        });
        let resources = strings(statement, "Resource");
        if !negated.is_empty() || actions.is_empty() {
            continue;
        }
        for resource in &resources {
            if let Some(message) = resource_mismatch(&actions, resource) {
                found("resource-mismatch", at, message);
            }
        }
        if let Some(message) = actions_on_no_resource(&actions, &patterns, &resources) {
            found("resource-mismatch", at, message);
        }
        if let Some(conditions) = statement.get("Condition").and_then(Value::as_object) {
            for (operator, keys) in conditions {
                let Some(keys) = keys.as_object() else {
                    continue;
                };
                for key in keys.keys() {
                    if let Some((code, message)) = condition(db, &actions, operator, key) {
                        found(code, at, message);
                    }
                }
            }
        }
        let everything = resources
            .iter()
            .any(|r| *r == "*" || super::statements::effectively_star(r))
            || statement.get("NotResource").is_some();
        if allow && grants && everything && statement.get("Condition").is_none() {
            on_everything(&actions, &mut |code, message| {
                found(code, at, message);
            });
            if let Some(message) = resource_star(&actions) {
                found("resource-star", at, message);
            }
        }
    }
    for (i, (sid, statement)) in all.iter().enumerate() {
        let earlier = all[..i].iter().find(|(_, other)| covers(other, statement));
        if let Some((other, _)) = earlier {
            found(
                "redundant-statement",
                Some((i, sid.as_str())),
                format!("statement {other} already allows or denies all of it: remove one"),
            );
        }
    }
}

/// The actions one pattern names, or why it names none.
fn resolve<'d>(
    db: &'d ActionDb,
    pattern: &str,
) -> Result<Vec<(&'d Service, &'d Action)>, (&'static str, String)> {
    if pattern == "*" {
        return Ok(db.expand("*"));
    }
    let Some((prefix, name)) = pattern.split_once(':') else {
        return Ok(Vec::new());
    };
    if db.named_by_aws(pattern) {
        return Ok(db.expand(pattern));
    }
    let Some(service) = db.service(prefix) else {
        let hint = nearest(prefix, db.services().map(|s| s.prefix.as_str()))
            .or_else(|| {
                // Short prefixes are too short for a similarity score: one edit away will do.
                db.services()
                    .map(|s| s.prefix.as_str())
                    .find(|p| strsim::levenshtein(p, &prefix.to_lowercase()) == 1)
            })
            .map(|n| format!("; did you mean `{n}`?"))
            .unwrap_or_default();
        return Err((
            "unknown-service",
            format!("`{pattern}`: AWS has no service prefix `{prefix}`{hint}"),
        ));
    };
    let actions = db.expand(pattern);
    if !actions.is_empty() {
        return Ok(actions);
    }
    if name.contains(['*', '?']) {
        return Err((
            "wildcard-matches-nothing",
            format!("`{pattern}` matches no action of {}", service.name),
        ));
    }
    let hint = nearest(name, service.actions.iter().map(|a| a.name.as_str()))
        .map(|n| format!("; did you mean `{}:{n}`?", service.prefix))
        .unwrap_or_default();
    Err((
        "unknown-action",
        format!(
            "`{pattern}` is not an action of {}: IAM accepts it and it grants nothing{hint}",
            service.name
        ),
    ))
}

/// Actions a wildcard of the same statement already names.
fn redundant_actions(patterns: &[&str], found: &mut impl FnMut(String)) {
    for action in patterns {
        let covering = patterns.iter().find(|other| {
            *other != action
                && other.contains('*')
                && glob(&other.to_lowercase(), &action.to_lowercase())
        });
        if let Some(covering) = covering {
            found(format!("`{action}` is already allowed by `{covering}`"));
        }
    }
}

/// A resource that no resource type of any of the actions can be: `None` when one can, or when
/// the resource is `*` or a pattern too loose to say.
fn resource_mismatch(actions: &[(&Service, &Action)], resource: &str) -> Option<String> {
    if resource == "*" || !resource.starts_with("arn:") {
        return None;
    }
    let mut types = Vec::new();
    for (service, action) in actions {
        if action.resources.is_empty() {
            // An action without resource types takes only "*"; some take any ARN in practice.
            continue;
        }
        for (key, _) in &action.resources {
            if let Some(resource_type) = service.resource(key) {
                if arn_may_match(&resource_type.arn, resource) {
                    return None;
                }
                types.push(format!("{} ({})", key, resource_type.arn));
            }
        }
    }
    if types.is_empty() {
        let only_star = actions.iter().all(|(_, a)| a.resources.is_empty());
        return only_star
            .then(|| format!("`{resource}`: the statement's actions take only Resource \"*\""));
    }
    types.sort();
    types.dedup();
    let shown: Vec<&str> = types.iter().take(4).map(String::as_str).collect();
    Some(format!(
        "`{resource}` is no resource the statement's actions act on; they take {}{}",
        shown.join(", "),
        if types.len() > 4 { ", ..." } else { "" }
    ))
}

/// Whether an ARN of a policy (with `*`, `?` and `${...}` variables) can name a resource of an
/// ARN pattern of the action table (with `${...}` variables): both are globs, and this asks
/// whether any string matches both.
/// Segments (partition, service, region, account) are matched one by one, as a wildcard does
/// not reach across a colon there; the resource part is matched whole.
pub fn arn_may_match(pattern: &str, arn: &str) -> bool {
    let table: Vec<&str> = pattern.splitn(6, ':').collect();
    let policy: Vec<&str> = arn.splitn(6, ':').collect();
    for (i, part) in policy.iter().enumerate() {
        let Some(expected) = table.get(i) else {
            return false;
        };
        let last = i + 1 == policy.len();
        if last && policy.len() < 6 {
            // `arn:aws:iam::*`: a trailing wildcard takes the rest.
            return part.ends_with('*') && segment_may_match(&table[i..].join(":"), part);
        }
        if !segment_may_match(expected, part) {
            return false;
        }
    }
    policy.len() == table.len()
}

fn segment_may_match(pattern: &str, text: &str) -> bool {
    let a = tokens(pattern, true);
    let b = tokens(text, false);
    let mut memo = vec![vec![None; b.len() + 1]; a.len() + 1];
    intersect(&a, &b, 0, 0, &mut memo)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Token {
    Char(char),
    /// Any run of characters: a policy's `*` or variable, or the table's `${...}`.
    Any,
    /// One character: a policy's `?`.
    One,
}

fn tokens(text: &str, table: bool) -> Vec<Token> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek() == Some(&'{') {
            for c in chars.by_ref() {
                if c == '}' {
                    break;
                }
            }
            out.push(Token::Any);
        } else if !table && c == '*' {
            out.push(Token::Any);
        } else if !table && c == '?' {
            out.push(Token::One);
        } else {
            out.push(Token::Char(c));
        }
    }
    out
}

fn intersect(
    table: &[Token],
    policy: &[Token],
    at_table: usize,
    at_policy: usize,
    memo: &mut Vec<Vec<Option<bool>>>,
) -> bool {
    if let Some(known) = memo[at_table][at_policy] {
        return known;
    }
    let (next_table, next_policy) = (at_table + 1, at_policy + 1);
    let result = match (table.get(at_table), policy.get(at_policy)) {
        (None, None) => true,
        (Some(Token::Any), _) if intersect(table, policy, next_table, at_policy, memo) => true,
        (_, Some(Token::Any)) if intersect(table, policy, at_table, next_policy, memo) => true,
        (Some(Token::Any), Some(_)) => intersect(table, policy, at_table, next_policy, memo),
        (Some(_), Some(Token::Any)) => intersect(table, policy, next_table, at_policy, memo),
        (Some(x), Some(y)) => {
            let fits = match (x, y) {
                (Token::Char(x), Token::Char(y)) => x.eq_ignore_ascii_case(y),
                _ => true,
            };
            fits && intersect(table, policy, next_table, next_policy, memo)
        }
        _ => false,
    };
    memo[at_table][at_policy] = Some(result);
    result
}

/// A condition key that AWS does not have, or none of the actions supports, or an operator
/// that does not fit it.
fn condition(
    db: &ActionDb,
    actions: &[(&Service, &Action)],
    operator: &str,
    key: &str,
) -> Option<(&'static str, String)> {
    let lower = key.to_lowercase();
    let kind = if let Some(global) = global_key(&lower) {
        global.to_owned()
    } else {
        let (prefix, _) = key.split_once(':')?;
        let Some(service) = db.service(prefix) else {
            // Keys of identity providers (`token.actions.githubusercontent.com:sub`) belong
            // to trust policies; other prefixes are unknown.
            return Some((
                "unknown-condition-key",
                format!("condition key `{key}`: AWS has no service prefix `{prefix}`"),
            ));
        };
        let Some(kind) = service.key_type(key) else {
            let hint = nearest(key, service.condition_keys.keys().map(String::as_str))
                .map(|n| format!("; did you mean `{n}`?"))
                .unwrap_or_default();
            return Some((
                "unknown-condition-key",
                format!("{} has no condition key `{key}`{hint}", service.name),
            ));
        };
        let supported = actions.iter().any(|(s, a)| {
            let keys = a.condition_keys.iter().chain(
                a.resources
                    .iter()
                    .filter_map(|(r, _)| s.resource(r))
                    .flat_map(|r| &r.condition_keys),
            );
            keys.map(|k| k.to_lowercase()).any(|k| {
                k == lower
                    || k.find(['$', '<'])
                        .is_some_and(|at| lower.len() > at && lower.starts_with(&k[..at]))
            })
        });
        if !supported {
            return Some((
                "condition-key-mismatch",
                format!(
                    "condition key `{key}` applies to none of the statement's actions, so the condition never holds for them (or always, with IfExists)"
                ),
            ));
        }
        kind.to_owned()
    };
    operator_fits(operator, &kind).then_some(()).map_or_else(
        || {
            Some((
                "operator-mismatch",
                format!(
                    "`{operator}` does not fit `{key}`, a {kind} key: use {} operators",
                    operators_for(&kind)
                ),
            ))
        },
        |()| None,
    )
}

pub(super) fn global_key(lower: &str) -> Option<&'static str> {
    GLOBAL_KEYS
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(lower))
        .or_else(|| {
            GLOBAL_KEY_PREFIXES
                .iter()
                .find(|(p, _)| lower.starts_with(p) && lower.len() > p.len())
        })
        .map(|(_, kind)| *kind)
}

/// Whether an operator (`StringLike`, `ForAnyValue:StringEquals`, `NumericLessThanIfExists`)
/// fits a key of `kind`. String operators are allowed on ARN keys, as AWS allows.
fn operator_fits(operator: &str, kind: &str) -> bool {
    let base = operator
        .split_once(':')
        .map_or(operator, |(_, rest)| rest)
        .trim_end_matches("IfExists");
    let kind = kind.trim_start_matches("ArrayOf");
    if base == "Null" {
        return true;
    }
    match kind {
        "String" => base.starts_with("String"),
        "ARN" => base.starts_with("Arn") || base.starts_with("String"),
        "Numeric" => base.starts_with("Numeric"),
        "Date" => base.starts_with("Date"),
        "Bool" => base == "Bool",
        "IPAddress" => base.ends_with("IpAddress"),
        _ => true,
    }
}

fn operators_for(kind: &str) -> &'static str {
    match kind.trim_start_matches("ArrayOf") {
        "ARN" => "Arn or String",
        "Numeric" => "Numeric",
        "Date" => "Date",
        "Bool" => "Bool",
        "IPAddress" => "IpAddress/NotIpAddress",
        _ => "String",
    }
}

/// Write and tagging actions that act on named resources, allowed on all of them: the most
/// common over-grant. Actions that take only `"*"` are not counted (they can take nothing
/// else), nor permissions management (its own finding), nor `iam:PassRole` (the spec's check
/// of documents says more of it).
fn resource_star(actions: &[(&Service, &Action)]) -> Option<String> {
    let mut names: Vec<String> = actions
        .iter()
        .filter(|(s, a)| {
            matches!(a.level, Level::Write | Level::Tagging)
                && !a.resources.is_empty()
                && !(s.prefix == "iam" && a.name == "PassRole")
        })
        .map(|(s, a)| format!("{}:{}", s.prefix, a.name))
        .collect();
    names.sort();
    names.dedup();
    (!names.is_empty()).then(|| {
        format!(
            "{} write action{} that {} on named resources allowed on every resource: {}; name the resources",
            names.len(),
            if names.len() == 1 { "" } else { "s" },
            if names.len() == 1 { "acts" } else { "act" },
            list(&names)
        )
    })
}

/// Actions named one by one (not by a wildcard, which is expected to reach more than the
/// resources take) whose resource types none of the statement's resources can be: they grant
/// nothing there. Only when every resource is an ARN (a `"*"` fits everything).
fn actions_on_no_resource(
    actions: &[(&Service, &Action)],
    patterns: &[&str],
    resources: &[&str],
) -> Option<String> {
    if resources.is_empty() || resources.iter().any(|r| !r.starts_with("arn:")) {
        return None;
    }
    let named = |service: &Service, action: &Action| {
        let full = format!("{}:{}", service.prefix, action.name);
        patterns.iter().any(|p| p.eq_ignore_ascii_case(&full))
    };
    let mut missed: Vec<String> = actions
        .iter()
        .filter(|(service, action)| {
            named(service, action)
                && !action.resources.is_empty()
                && !action.resources.iter().any(|(key, _)| {
                    service
                        .resource(key)
                        .is_some_and(|t| resources.iter().any(|r| arn_may_match(&t.arn, r)))
                })
        })
        .map(|(s, a)| format!("{}:{}", s.prefix, a.name))
        .collect();
    // A statement whose every action misses is one resource-mismatch already says.
    let with_types = actions
        .iter()
        .filter(|(_, a)| !a.resources.is_empty())
        .count();
    if missed.is_empty() || missed.len() == with_types {
        return None;
    }
    missed.sort();
    missed.dedup();
    Some(format!(
        "{} acts on none of the statement's resources, so it grants nothing here: give it a statement with its own resources",
        list(&missed)
    ))
}

/// Credentials and permissions management allowed on every resource, with no condition.
fn on_everything(actions: &[(&Service, &Action)], found: &mut impl FnMut(&'static str, String)) {
    let names = |pick: &dyn Fn(&(&Service, &Action)) -> bool| -> Vec<String> {
        let mut names: Vec<String> = actions
            .iter()
            .filter(|a| pick(a))
            .map(|(s, a)| format!("{}:{}", s.prefix, a.name))
            .collect();
        names.sort();
        names.dedup();
        names
    };
    let credentials = names(&|(s, a)| {
        let full = format!("{}:{}", s.prefix, a.name);
        CREDENTIAL_ACTIONS
            .iter()
            .any(|c| c.eq_ignore_ascii_case(&full))
    });
    if !credentials.is_empty() {
        found(
            "credentials-exposure",
            format!(
                "{} on Resource \"*\" can make or read anyone's credentials: name the resources",
                list(&credentials)
            ),
        );
    }
    let management = names(&|(_, a)| a.level == Level::PermissionsManagement);
    if !management.is_empty() {
        found(
            "permissions-management",
            format!(
                "{} Permissions management action{} on Resource \"*\": {}; name the resources, or add a condition",
                management.len(),
                if management.len() == 1 { "" } else { "s" },
                list(&management)
            ),
        );
    }
}

/// A few names, and how many more.
pub fn list(names: &[String]) -> String {
    let shown: Vec<&str> = names.iter().take(5).map(String::as_str).collect();
    if names.len() > 5 {
        format!("{}, and {} more", shown.join(", "), names.len() - 5)
    } else {
        shown.join(", ")
    }
}

/// Whether statement `a` does everything `b` does: same effect and condition, and `a`'s
/// actions and resources cover `b`'s (by wildcard or equality).
fn covers(a: &Value, b: &Value) -> bool {
    let same = |key: &str| a.get(key) == b.get(key);
    if !same("Effect")
        || !same("Condition")
        || a.get("NotAction").is_some()
        || b.get("NotAction").is_some()
        || a.get("NotResource").is_some()
        || b.get("NotResource").is_some()
    {
        return false;
    }
    let covered = |key: &str| {
        let outer = strings(a, key);
        let inner = strings(b, key);
        !inner.is_empty()
            && inner.iter().all(|i| {
                outer
                    .iter()
                    .any(|o| glob(&o.to_lowercase(), &i.to_lowercase()))
            })
    };
    covered("Action") && covered("Resource")
}
