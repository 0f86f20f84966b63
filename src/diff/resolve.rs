//! Policy references to ARNs: the spec's own policies, AWS-managed ones by name or path, and
//! ARNs, each checked against what exists before anything is planned.

use std::collections::{BTreeMap, BTreeSet};

use crate::iam::{Partition, PolicyArn};
use crate::live::{LivePolicy, LiveState};
use crate::spec::{self, PolicyRef, Spec};

/// Turns policy references into ARNs of policies that exist.
pub(super) struct Resolver<'a> {
    partition: Partition,
    account: &'a str,
    aws_by_name: BTreeMap<&'a str, Vec<&'a PolicyArn>>,
    aws: BTreeSet<&'a PolicyArn>,
    local: &'a BTreeMap<PolicyArn, LivePolicy>,
    /// The spec's own policies, which may not exist yet.
    defined: &'a BTreeMap<String, spec::ManagedPolicy>,
}

impl<'a> Resolver<'a> {
    pub(super) fn new(spec: &'a Spec, live: &'a LiveState) -> Self {
        let mut aws_by_name: BTreeMap<&str, Vec<&PolicyArn>> = BTreeMap::new();
        for arn in &live.aws_policies {
            aws_by_name.entry(arn.name.as_str()).or_default().push(arn);
        }
        Self {
            partition: live.caller.partition,
            account: &live.caller.account,
            aws_by_name,
            aws: live.aws_policies.iter().collect(),
            local: &live.local_policies,
            defined: &spec.policies,
        }
    }

    /// The ARN a spec policy has, or will have once created.
    fn defined_arn(&self, policy: &spec::ManagedPolicy) -> PolicyArn {
        PolicyArn {
            partition: self.partition,
            account: self.account.to_owned(),
            path: policy.path.clone(),
            name: policy.name.clone(),
        }
    }

    pub(super) fn resolve(&self, policy: &PolicyRef) -> Result<PolicyArn, String> {
        match policy {
            PolicyRef::Customer { name } => {
                if let Some(aws) = self.aws_by_name.get(name.as_str()).and_then(|a| a.first()) {
                    let mine = self.defined_arn(&self.defined[name]);
                    return Err(format!(
                        "policy `{name}` is both [policies.{name}] in this spec and an AWS-managed policy: write the ARN of the one you mean, `{mine}` or `{aws}`"
                    ));
                }
                Ok(self.defined_arn(&self.defined[name]))
            }
            PolicyRef::AwsManaged { path, name } => {
                let candidates = self
                    .aws_by_name
                    .get(name.as_str())
                    .map_or(&[][..], Vec::as_slice);
                let found: Vec<&&PolicyArn> = candidates
                    .iter()
                    .filter(|arn| arn.is_named(path.as_deref(), name))
                    .collect();
                match found[..] {
                    [arn] => Ok((*arn).clone()),
                    [] => Err(self.unknown(policy)),
                    _ => Err(format!(
                        "policy `{policy}` is ambiguous: AWS has it at {}; write it with its path",
                        found
                            .iter()
                            .map(|a| format!("`{}`", a.short()))
                            .collect::<Vec<_>>()
                            .join(" and ")
                    )),
                }
            }
            PolicyRef::Arn(arn) => {
                if arn.partition != self.partition {
                    return Err(format!(
                        "policy `{arn}` is in partition {} but the account is in {}: use arn:{}:...",
                        arn.partition, self.partition, self.partition
                    ));
                }
                if arn.is_aws_managed() {
                    return if self.aws.contains(arn) {
                        Ok(arn.clone())
                    } else {
                        Err(self.unknown(policy))
                    };
                }
                if arn.account != self.account {
                    return Err(format!(
                        "policy `{arn}` belongs to account {}; only policies of account {} or AWS-managed ones can be attached",
                        arn.account, self.account
                    ));
                }
                if let Some(defined) = self.defined.get(&arn.name) {
                    let mine = self.defined_arn(defined);
                    return if mine == *arn {
                        Ok(mine)
                    } else {
                        Err(format!(
                            "policy `{arn}` names [policies.{}] of this spec, whose ARN is `{mine}`",
                            arn.name
                        ))
                    };
                }
                if self.local.contains_key(arn) {
                    Ok(arn.clone())
                } else {
                    Err(format!(
                        "policy `{arn}` does not exist in account {}: create it first or fix the ARN",
                        self.account
                    ))
                }
            }
        }
    }

    /// An AWS-managed policy that does not exist, with the nearest real name.
    fn unknown(&self, policy: &PolicyRef) -> String {
        let name = policy.name();
        let hint = spec::nearest(name, self.aws_by_name.keys().copied())
            .and_then(|near| self.aws_by_name.get(near))
            .and_then(|arns| arns.first())
            .map(|arn| format!("; did you mean `{}`?", arn.short()))
            .unwrap_or_default();
        format!("policy `{policy}` is not an AWS-managed policy{hint}")
    }
}
