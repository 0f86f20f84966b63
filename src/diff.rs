//! Stage 3: compare. `diff` is a pure, deterministic function of the spec and the live state:
//! no I/O, no clock, no environment. It resolves policy names to ARNs, plans what is missing and
//! reports what the account has beyond the spec as drift.

use std::collections::{BTreeMap, BTreeSet};

use crate::live::{LiveGroup, LiveState, LiveUser};
use crate::plan::{Change, Drift, EntityKind, Op, Plan};
use crate::spec::{self, Partition, PolicyArn, PolicyRef, PolicyUse, Spec};

/// The spec cannot be applied to this account as it stands; nothing was planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", problems.join("\n"))]
pub struct DiffError {
    /// One sentence per problem, each saying what to change.
    pub problems: Vec<String>,
}

/// Plans the changes that make the account match `spec`.
pub fn diff(spec: &Spec, live: &LiveState) -> Result<Plan, DiffError> {
    let mut differ = Differ {
        spec,
        resolver: Resolver::new(live),
        changes: Vec::new(),
        drift: Vec::new(),
        problems: Vec::new(),
    };
    let groups = index(&live.groups);
    let users = index(&live.users);
    for group in spec.groups.values() {
        let existing = differ.find(EntityKind::Group, &group.name, &groups);
        differ.group(group, existing);
    }
    for user in spec.users.values() {
        let existing = differ.find(EntityKind::User, &user.name, &users);
        differ.user(user, existing);
    }
    if !differ.problems.is_empty() {
        return Err(DiffError {
            problems: differ.problems,
        });
    }
    differ.drift.sort();
    Ok(Plan::new(
        live.caller.account.clone(),
        live.caller.arn.clone(),
        differ.changes,
        differ.drift,
    ))
}

struct Differ<'a> {
    spec: &'a Spec,
    resolver: Resolver<'a>,
    changes: Vec<Change>,
    drift: Vec<Drift>,
    problems: Vec<String>,
}

impl<'a> Differ<'a> {
    fn plan(&mut self, op: Op) {
        self.changes.push(op.into());
    }

    /// The live entity of that name. IAM names ignore case, so a live entity that differs only
    /// in case is the same entity, and the spec must spell it as the account does.
    fn find<T>(
        &mut self,
        kind: EntityKind,
        name: &str,
        index: &BTreeMap<String, &'a T>,
    ) -> Option<&'a T>
    where
        T: Named,
    {
        let found = index.get(&name.to_lowercase()).copied()?;
        if found.name() != name {
            self.problems.push(format!(
                "{}: {} `{name}` exists in the account as `{}`; IAM names ignore case, so write it as `{}` in the spec",
                self.spec.file.display(),
                kind.as_str(),
                found.name(),
                found.name()
            ));
        }
        Some(found)
    }

    fn group(&mut self, group: &spec::Group, live: Option<&LiveGroup>) {
        let desired = self.resolve_all(&group.policies);
        let Some(live) = live else {
            self.plan(Op::CreateGroup {
                group: group.name.clone(),
                path: group.path.clone(),
            });
            for policy in desired {
                self.plan(Op::AttachGroupPolicy {
                    group: group.name.clone(),
                    policy,
                });
            }
            return;
        };
        if live.path != group.path {
            self.plan(Op::UpdateGroupPath {
                group: group.name.clone(),
                from: live.path.clone(),
                to: group.path.clone(),
            });
        }
        for policy in desired.difference(&live.policies) {
            self.plan(Op::AttachGroupPolicy {
                group: group.name.clone(),
                policy: policy.clone(),
            });
        }
        for policy in live.policies.difference(&desired) {
            self.drift.push(Drift::ExtraPolicy {
                entity: EntityKind::Group,
                name: group.name.clone(),
                policy: policy.clone(),
            });
        }
        for policy_name in &live.inline_policies {
            self.drift.push(Drift::InlinePolicy {
                entity: EntityKind::Group,
                name: group.name.clone(),
                policy_name: policy_name.clone(),
            });
        }
    }

    fn user(&mut self, user: &spec::User, live: Option<&LiveUser>) {
        let desired = self.resolve_all(&user.policies);
        let Some(live) = live else {
            self.plan(Op::CreateUser {
                user: user.name.clone(),
                path: user.path.clone(),
                tags: user.tags.clone(),
            });
            for policy in desired {
                self.plan(Op::AttachUserPolicy {
                    user: user.name.clone(),
                    policy,
                });
            }
            for group in &user.groups {
                self.plan(Op::AddUserToGroup {
                    user: user.name.clone(),
                    group: group.clone(),
                });
            }
            if user.access_key {
                self.plan(Op::CreateAccessKey {
                    user: user.name.clone(),
                });
            }
            return;
        };
        if live.path != user.path {
            self.plan(Op::UpdateUserPath {
                user: user.name.clone(),
                from: live.path.clone(),
                to: user.path.clone(),
            });
        }
        self.user_tags(user, live);
        for policy in desired.difference(&live.policies) {
            self.plan(Op::AttachUserPolicy {
                user: user.name.clone(),
                policy: policy.clone(),
            });
        }
        for policy in live.policies.difference(&desired) {
            self.drift.push(Drift::ExtraPolicy {
                entity: EntityKind::User,
                name: user.name.clone(),
                policy: policy.clone(),
            });
        }
        for policy_name in &live.inline_policies {
            self.drift.push(Drift::InlinePolicy {
                entity: EntityKind::User,
                name: user.name.clone(),
                policy_name: policy_name.clone(),
            });
        }
        self.memberships(user, live);
        self.access_keys(user, live);
    }

    fn user_tags(&mut self, user: &spec::User, live: &LiveUser) {
        let missing: BTreeMap<String, String> = user
            .tags
            .iter()
            .filter(|(k, v)| live.tags.get(*k) != Some(v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !missing.is_empty() {
            self.plan(Op::TagUser {
                user: user.name.clone(),
                tags: missing,
            });
        }
        for (key, value) in &live.tags {
            if !user.tags.contains_key(key) {
                self.drift.push(Drift::ExtraTag {
                    user: user.name.clone(),
                    key: key.clone(),
                    value: value.clone(),
                });
            }
        }
    }

    fn memberships(&mut self, user: &spec::User, live: &LiveUser) {
        let member_of: BTreeSet<String> = live.groups.iter().map(|g| g.to_lowercase()).collect();
        for group in &user.groups {
            if !member_of.contains(&group.to_lowercase()) {
                self.plan(Op::AddUserToGroup {
                    user: user.name.clone(),
                    group: group.clone(),
                });
            }
        }
        for group in &live.groups {
            if !user.groups.iter().any(|g| g.eq_ignore_ascii_case(group)) {
                self.drift.push(Drift::ExtraMembership {
                    user: user.name.clone(),
                    group: group.clone(),
                });
            }
        }
    }

    /// `access_key = true` asks for one active key: the newest active key is the declared one,
    /// every other key is drift. Without it, every key is drift.
    fn access_keys(&mut self, user: &spec::User, live: &LiveUser) {
        let declared = if user.access_key {
            live.access_keys.iter().rev().find(|k| k.active)
        } else {
            None
        };
        if user.access_key && declared.is_none() {
            if live.access_keys.len() >= 2 {
                self.problems.push(format!(
                    "user `{}` must have an active access key, but has {} inactive keys, the most IAM allows: activate one (aws iam update-access-key --status Active) or delete one, then run iamspec again",
                    user.name,
                    live.access_keys.len()
                ));
            } else {
                self.plan(Op::CreateAccessKey {
                    user: user.name.clone(),
                });
            }
        }
        for key in &live.access_keys {
            if declared.is_some_and(|d| d.id == key.id) {
                continue;
            }
            self.drift.push(Drift::ExtraAccessKey {
                user: user.name.clone(),
                access_key_id: key.id.clone(),
                status: if key.active { "Active" } else { "Inactive" }.to_owned(),
            });
        }
    }

    fn resolve_all(&mut self, uses: &[PolicyUse]) -> BTreeSet<PolicyArn> {
        let mut arns = BTreeSet::new();
        for policy_use in uses {
            match self.resolver.resolve(&policy_use.policy) {
                Ok(arn) => {
                    arns.insert(arn);
                }
                Err(why) => {
                    let problem = self.locate(policy_use, &why);
                    if !self.problems.contains(&problem) {
                        self.problems.push(problem);
                    }
                }
            }
        }
        arns
    }

    fn locate(&self, policy_use: &PolicyUse, why: &str) -> String {
        let file = self.spec.file.display();
        match &policy_use.via {
            Some(addon) if policy_use.at.line == 0 => {
                format!("{file}: {why} (from the built-in add-on `{addon}`)")
            }
            Some(addon) => format!(
                "{file}:{}:{}: {why} (in add-on `{addon}`)",
                policy_use.at.line, policy_use.at.column
            ),
            None => format!(
                "{file}:{}:{}: {why}",
                policy_use.at.line, policy_use.at.column
            ),
        }
    }
}

/// Entities looked up by name ignoring case.
trait Named {
    fn name(&self) -> &str;
}

impl Named for LiveUser {
    fn name(&self) -> &str {
        &self.name
    }
}

impl Named for LiveGroup {
    fn name(&self) -> &str {
        &self.name
    }
}

fn index<T: Named>(entities: &BTreeMap<String, T>) -> BTreeMap<String, &T> {
    entities
        .values()
        .map(|e| (e.name().to_lowercase(), e))
        .collect()
}

/// Turns policy references into ARNs of policies that exist.
struct Resolver<'a> {
    partition: Partition,
    account: &'a str,
    aws_by_name: BTreeMap<&'a str, Vec<&'a PolicyArn>>,
    aws: BTreeSet<&'a PolicyArn>,
    local: &'a BTreeSet<PolicyArn>,
}

impl<'a> Resolver<'a> {
    fn new(live: &'a LiveState) -> Self {
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
        }
    }

    fn resolve(&self, policy: &PolicyRef) -> Result<PolicyArn, String> {
        match policy {
            PolicyRef::AwsManaged { path, name } => {
                let candidates = self
                    .aws_by_name
                    .get(name.as_str())
                    .map_or(&[][..], Vec::as_slice);
                let found: Vec<&&PolicyArn> = candidates
                    .iter()
                    .filter(|arn| path.as_ref().is_none_or(|p| *p == arn.path))
                    .collect();
                match found[..] {
                    [arn] => Ok((*arn).clone()),
                    [] => Err(self.unknown(policy)),
                    _ => Err(format!(
                        "policy `{policy}` is ambiguous: AWS has it at {}; write it with its path",
                        found
                            .iter()
                            .map(|a| format!("`{}{}`", &a.path[1..], a.name))
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
                if self.local.contains(arn) {
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
            .map(|arn| {
                let shown = if arn.path == "/" {
                    arn.name.clone()
                } else {
                    format!("{}{}", &arn.path[1..], arn.name)
                };
                format!("; did you mean `{shown}`?")
            })
            .unwrap_or_default();
        format!("policy `{policy}` is not an AWS-managed policy{hint}")
    }
}

#[cfg(test)]
mod tests;
