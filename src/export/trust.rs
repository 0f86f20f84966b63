//! A live trust policy as the `trust` shorthand that compiles to it, when there is one: each
//! statement is read as a shorthand, the shorthands are compiled again, and only a result
//! that means exactly the live policy is used. Anything else is exported whole.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::document::GITHUB_HOST;
use crate::iam::{Partition, is_account_id};
use crate::spec::{Grant, Trust};

/// `trust = { ... }` as the exported spec writes it.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub(super) struct TrustSection {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    services: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    accounts: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mfa: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    github: Option<GithubSection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    oidc: Option<OidcSection>,
}

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
struct GithubSection {
    provider: String,
    repo: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    refs: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    environments: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pull_request: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    audience: Option<String>,
}

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
struct OidcSection {
    provider: String,
    conditions: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

/// The shorthand for a canonical live trust policy, if one compiles to the same meaning.
/// `provider_name` gives the exported spec's name for a provider URL.
pub(super) fn shorthand(
    trust: &Value,
    partition: Partition,
    account: &str,
    provider_name: impl Fn(&str) -> String,
) -> Option<TrustSection> {
    let statements = trust.get("Statement")?.as_array()?;
    let mut section = TrustSection::default();
    let mut grants = Vec::new();
    for statement in statements {
        let grant = read_statement(statement)?;
        match &grant {
            Grant::Services(services) if section.services.is_empty() => {
                section.services.clone_from(services);
            }
            Grant::Accounts {
                accounts,
                external_id,
                mfa,
            } if section.accounts.is_empty() => {
                section.accounts.clone_from(accounts);
                section.external_id.clone_from(external_id);
                section.mfa = mfa.then_some(true);
            }
            Grant::WebIdentity {
                provider,
                conditions,
            } if section.github.is_none() && section.oidc.is_none() => {
                let name = provider_name(provider);
                match github(provider, conditions) {
                    Some(mut github) => {
                        github.provider = name;
                        section.github = Some(github);
                    }
                    None => {
                        section.oidc = Some(OidcSection {
                            provider: name,
                            conditions: conditions.clone(),
                        });
                    }
                }
            }
            _ => return None,
        }
        grants.push(grant);
    }
    let compiled = Trust::Shorthand(grants).document(partition, account);
    (compiled.canonical == *trust).then_some(section)
}

/// One statement as the shorthand grant it could be written as.
fn read_statement(statement: &Value) -> Option<Grant> {
    let fields = statement.as_object()?;
    let allowed = ["Effect", "Principal", "Action", "Condition"];
    if fields.keys().any(|k| !allowed.contains(&k.as_str()))
        || fields.get("Effect")?.as_str()? != "Allow"
    {
        return None;
    }
    let action = single(fields.get("Action")?)?;
    let principal = fields.get("Principal")?.as_object()?;
    if principal.len() != 1 {
        return None;
    }
    let condition = conditions(fields.get("Condition"))?;
    let (kind, who) = principal.iter().next()?;
    let who: Vec<String> = who
        .as_array()?
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect::<Option<_>>()?;
    match (kind.as_str(), action.as_str()) {
        ("Service", "sts:AssumeRole") if condition.is_empty() => Some(Grant::Services(who)),
        ("AWS", "sts:AssumeRole") if who.iter().all(|a| is_account_id(a)) => {
            let mut rest = condition;
            let external_id = take(&mut rest, "StringEquals", "sts:ExternalId");
            let mfa = take(&mut rest, "Bool", "aws:MultiFactorAuthPresent");
            let external_id = match external_id.as_deref() {
                None => None,
                Some([one]) => Some(one.clone()),
                Some(_) => return None,
            };
            let mfa = match mfa.as_deref() {
                None => false,
                Some([yes]) if yes == "true" => true,
                Some(_) => return None,
            };
            rest.is_empty().then_some(Grant::Accounts {
                accounts: who,
                external_id,
                mfa,
            })
        }
        ("Federated", "sts:AssumeRoleWithWebIdentity") => {
            let [provider] = &who[..] else {
                return None;
            };
            let url = crate::document::provider_url(provider)?;
            Some(Grant::WebIdentity {
                provider: url.to_owned(),
                conditions: condition,
            })
        }
        _ => None,
    }
}

/// A GitHub trust: an audience and subjects of one repository's refs, environments and pull
/// requests, under the operator the shorthand would choose.
fn github(
    url: &str,
    conditions: &BTreeMap<String, BTreeMap<String, Vec<String>>>,
) -> Option<GithubSection> {
    if url != GITHUB_HOST {
        return None;
    }
    let mut rest = conditions.clone();
    let audience = take(&mut rest, "StringEquals", &format!("{GITHUB_HOST}:aud"))?;
    let [audience] = &audience[..] else {
        return None;
    };
    let subjects = take(&mut rest, "StringEquals", &format!("{GITHUB_HOST}:sub"))
        .or_else(|| take(&mut rest, "StringLike", &format!("{GITHUB_HOST}:sub")))?;
    if !rest.is_empty() {
        return None;
    }
    let mut section = GithubSection {
        audience: (audience != "sts.amazonaws.com").then(|| audience.clone()),
        ..GithubSection::default()
    };
    for subject in subjects {
        let rest = subject.strip_prefix("repo:")?;
        let (repo, what) = rest.split_once(':')?;
        if section.repo.is_empty() {
            repo.clone_into(&mut section.repo);
        } else if section.repo != repo {
            return None;
        }
        if let Some(r) = what.strip_prefix("ref:") {
            section.refs.push(r.to_owned());
        } else if let Some(e) = what.strip_prefix("environment:") {
            section.environments.push(e.to_owned());
        } else if what == "pull_request" {
            section.pull_request = true;
        } else {
            return None;
        }
    }
    Some(section)
}

/// A canonical condition block as operator, key, values.
fn conditions(
    condition: Option<&Value>,
) -> Option<BTreeMap<String, BTreeMap<String, Vec<String>>>> {
    let Some(condition) = condition else {
        return Some(BTreeMap::new());
    };
    let mut out = BTreeMap::new();
    for (operator, keys) in condition.as_object()? {
        let mut by_key = BTreeMap::new();
        for (key, values) in keys.as_object()? {
            let values = values
                .as_array()?
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()?;
            by_key.insert(key.clone(), values);
        }
        out.insert(operator.clone(), by_key);
    }
    Some(out)
}

fn take(
    conditions: &mut BTreeMap<String, BTreeMap<String, Vec<String>>>,
    operator: &str,
    key: &str,
) -> Option<Vec<String>> {
    let keys = conditions.get_mut(operator)?;
    let values = keys.remove(key)?;
    if keys.is_empty() {
        conditions.remove(operator);
    }
    Some(values)
}

fn single(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) if items.len() == 1 => items[0].as_str().map(str::to_owned),
        _ => None,
    }
}
