//! Who may assume a role: the `trust` shorthands and what each compiles to, the trust policy
//! AWS documents for the case. A web identity statement names its provider by ARN, so the
//! document is made once the account is known; everything else is checked when the spec loads.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::document::Document;
use crate::iam::Partition;

/// A role's trust policy as the spec gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// `trust = { ... }`: one statement per shorthand.
    Shorthand(Vec<Grant>),
    /// `trust_document`: a whole trust policy, used as written.
    Document(Document),
}

/// One `trust` shorthand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// `services = [...]`: AWS services (`ec2.amazonaws.com`) assume the role.
    Services(Vec<String>),
    /// `accounts = [...]`: principals of these accounts assume it, as their own policies allow;
    /// with `external_id`, only when they pass it; with `mfa`, only when signed in with MFA.
    Accounts {
        accounts: Vec<String>,
        external_id: Option<String>,
        mfa: bool,
    },
    /// `github` or `oidc`: tokens of a web identity provider, by its URL without `https://`,
    /// under these conditions (operator, then key, then values).
    WebIdentity {
        provider: String,
        conditions: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    },
}

impl Trust {
    /// The trust policy sent to IAM, for an account.
    pub fn document(&self, partition: Partition, account: &str) -> Document {
        match self {
            Trust::Document(document) => document.clone(),
            Trust::Shorthand(grants) => {
                let statements: Vec<Value> = grants
                    .iter()
                    .map(|grant| grant.statement(partition, account))
                    .collect();
                Document::new(json!({"Version": "2012-10-17", "Statement": statements}))
            }
        }
    }
}

impl Grant {
    /// GitHub Actions: the audience, and the subjects of `repo`'s workflows that may assume the
    /// role (refs, environments, pull requests). A subject with a wildcard makes the match a
    /// `StringLike`, which matches the others exactly too.
    pub fn github(
        provider: &str,
        audience: &str,
        repo: &str,
        refs: &[String],
        environments: &[String],
        pull_request: bool,
    ) -> Self {
        let host = provider.split('/').next().unwrap_or(provider);
        let mut subjects: Vec<String> = refs
            .iter()
            .map(|r| format!("repo:{repo}:ref:{r}"))
            .chain(
                environments
                    .iter()
                    .map(|e| format!("repo:{repo}:environment:{e}")),
            )
            .collect();
        if pull_request {
            subjects.push(format!("repo:{repo}:pull_request"));
        }
        let operator = if subjects.iter().any(|s| s.contains(['*', '?'])) {
            "StringLike"
        } else {
            "StringEquals"
        };
        let mut conditions: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
        conditions
            .entry("StringEquals".to_owned())
            .or_default()
            .insert(format!("{host}:aud"), vec![audience.to_owned()]);
        conditions
            .entry(operator.to_owned())
            .or_default()
            .insert(format!("{host}:sub"), subjects);
        Grant::WebIdentity {
            provider: provider.to_owned(),
            conditions,
        }
    }

    fn statement(&self, partition: Partition, account: &str) -> Value {
        match self {
            Grant::Services(services) => json!({
                "Effect": "Allow",
                "Principal": {"Service": one_or_many(services)},
                "Action": "sts:AssumeRole",
            }),
            Grant::Accounts {
                accounts,
                external_id,
                mfa,
            } => {
                let roots: Vec<String> = accounts
                    .iter()
                    .map(|a| format!("arn:{partition}:iam::{a}:root"))
                    .collect();
                let mut statement = json!({
                    "Effect": "Allow",
                    "Principal": {"AWS": one_or_many(&roots)},
                    "Action": "sts:AssumeRole",
                });
                let mut condition = serde_json::Map::new();
                if let Some(id) = external_id {
                    condition.insert("StringEquals".into(), json!({"sts:ExternalId": id}));
                }
                if *mfa {
                    condition.insert("Bool".into(), json!({"aws:MultiFactorAuthPresent": "true"}));
                }
                if !condition.is_empty() {
                    statement["Condition"] = Value::Object(condition);
                }
                statement
            }
            Grant::WebIdentity {
                provider,
                conditions,
            } => {
                let condition: serde_json::Map<String, Value> = conditions
                    .iter()
                    .map(|(operator, keys)| {
                        let keys: serde_json::Map<String, Value> = keys
                            .iter()
                            .map(|(key, values)| (key.clone(), one_or_many(values)))
                            .collect();
                        (operator.clone(), Value::Object(keys))
                    })
                    .collect();
                json!({
                    "Effect": "Allow",
                    "Principal": {"Federated": provider_arn(partition, account, provider)},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": condition,
                })
            }
        }
    }
}

/// The ARN of an OIDC provider, by its URL without `https://`.
pub fn provider_arn(partition: Partition, account: &str, url: &str) -> String {
    format!("arn:{partition}:iam::{account}:oidc-provider/{url}")
}

/// One value as a string, several as a list: the form people write and AWS documents.
fn one_or_many(values: &[String]) -> Value {
    match values {
        [one] => Value::String(one.clone()),
        many => json!(many),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_compiles_to_the_documented_trust_with_a_subject_condition() {
        let grant = Grant::github(
            "token.actions.githubusercontent.com",
            "sts.amazonaws.com",
            "acme/app",
            &["refs/heads/main".to_owned()],
            &["prod".to_owned()],
            false,
        );
        let document = Trust::Shorthand(vec![grant]).document(Partition::Aws, "123456789012");
        assert_eq!(
            document.json["Statement"][0],
            json!({
                "Effect": "Allow",
                "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {
                    "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                    "token.actions.githubusercontent.com:sub": ["repo:acme/app:ref:refs/heads/main", "repo:acme/app:environment:prod"],
                }},
            })
        );
        assert!(
            crate::document::check_trust(&document.json)
                .errors
                .is_empty()
        );
    }

    #[test]
    fn a_wildcard_subject_makes_the_match_string_like() {
        let grant = Grant::github(
            "token.actions.githubusercontent.com",
            "sts.amazonaws.com",
            "acme/app",
            &["refs/tags/v*".to_owned()],
            &[],
            true,
        );
        let Grant::WebIdentity { conditions, .. } = grant else {
            panic!("github is a web identity grant");
        };
        assert_eq!(
            conditions["StringLike"]["token.actions.githubusercontent.com:sub"],
            [
                "repo:acme/app:ref:refs/tags/v*",
                "repo:acme/app:pull_request"
            ]
        );
    }

    #[test]
    fn accounts_name_their_root_in_the_partition_with_external_id_and_mfa() {
        let grant = Grant::Accounts {
            accounts: vec!["111111111111".into()],
            external_id: Some("audit-7f3a".into()),
            mfa: true,
        };
        let document = Trust::Shorthand(vec![grant]).document(Partition::AwsCn, "123456789012");
        assert_eq!(
            document.json["Statement"][0],
            json!({
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws-cn:iam::111111111111:root"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"sts:ExternalId": "audit-7f3a"},
                    "Bool": {"aws:MultiFactorAuthPresent": "true"},
                },
            })
        );
    }
}
