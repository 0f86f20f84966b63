//! Stage 3: compare. `diff` is a pure, deterministic function of the spec and the live state:
//! no I/O, no clock, no environment. It resolves policy names to ARNs, plans what is missing and
//! reports what the account has beyond the spec as drift.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::document::Document;
use crate::live::{LiveGroup, LivePolicy, LiveState, LiveUser};
use crate::plan::{Change, Drift, EntityKind, Op, Plan};
use crate::spec::{self, OWNER_TAG, Partition, PolicyArn, PolicyRef, PolicyUse, Spec};

/// The spec cannot be applied to this account as it stands; nothing was planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", problems.join("\n"))]
pub struct DiffError {
    /// One sentence per problem, each saying what to change.
    pub problems: Vec<String>,
}

/// IAM keeps at most this many versions of a managed policy.
const MAX_POLICY_VERSIONS: usize = 5;

/// Plans the changes that make the account match `spec`.
pub fn diff(spec: &Spec, live: &LiveState) -> Result<Plan, DiffError> {
    let mut differ = Differ {
        spec,
        live,
        resolver: Resolver::new(spec, live),
        changes: Vec::new(),
        drift: Vec::new(),
        problems: Vec::new(),
        replacements: Vec::new(),
    };
    let policies = index(&live.local_policies);
    for policy in spec.policies.values() {
        let existing = differ.find(EntityKind::Policy, &policy.name, &policies);
        differ.managed_policy(policy, existing);
    }
    let groups = index(&live.groups);
    for group in spec.groups.values() {
        let existing = differ.find(EntityKind::Group, &group.name, &groups);
        differ.group(group, existing);
    }
    let users = index(&live.users);
    for user in spec.users.values() {
        let existing = differ.find(EntityKind::User, &user.name, &users);
        differ.user(user, existing);
    }
    differ.reattach_replaced();
    differ.not_in_spec();
    differ.drift.sort();
    let protected = if spec.prune {
        differ.prune()
    } else {
        Vec::new()
    };
    if !differ.problems.is_empty() {
        return Err(DiffError {
            problems: differ.problems,
        });
    }
    // A user in a group that both leave the spec is removed from it once.
    let mut seen = BTreeSet::new();
    differ
        .changes
        .retain(|c| seen.insert(format!("{:?}", c.op)));
    let mut plan = Plan::new(
        live.caller.account.clone(),
        live.caller.arn.clone(),
        differ.changes,
        differ.drift,
    );
    plan.protected = protected;
    Ok(plan)
}

/// A managed policy that must be deleted and created again, and who had it attached.
struct Replacement {
    old: PolicyArn,
    new: PolicyArn,
    holders: Vec<(EntityKind, String)>,
}

struct Differ<'a> {
    spec: &'a Spec,
    live: &'a LiveState,
    resolver: Resolver<'a>,
    changes: Vec<Change>,
    drift: Vec<Drift>,
    problems: Vec<String>,
    replacements: Vec<Replacement>,
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

    /// A customer-managed policy: created, given a new default version when its document
    /// means something else, or replaced when what IAM cannot update (path, description)
    /// changed.
    fn managed_policy(&mut self, policy: &spec::ManagedPolicy, live: Option<&LivePolicy>) {
        let create = Op::CreatePolicy {
            policy: policy.name.clone(),
            path: policy.path.clone(),
            description: policy.description.clone(),
            document: policy.document.json.clone(),
            tags: self.owned_tags(&BTreeMap::new()),
        };
        let Some(live) = live else {
            self.plan(create);
            return;
        };
        if !self.claim(EntityKind::Policy, &policy.name, live.tags.get(OWNER_TAG)) {
            return;
        }
        if !live.tags.contains_key(OWNER_TAG) && !self.spec.owns(&live.arn.path, None) {
            let tag = Op::TagPolicy {
                policy: live.arn.clone(),
                tags: self.owned_tags(&BTreeMap::new()),
            };
            self.changes
                .push(Change::from(tag).because(self.adoption()));
        }
        let immutable = if live.arn.path != policy.path {
            Some(format!(
                "its path changes from {} to {}",
                live.arn.path, policy.path
            ))
        } else if live.description != policy.description {
            Some("its description changes".to_owned())
        } else {
            None
        };
        if let Some(why) = immutable {
            self.replace(live, create, &why);
        } else if live.document != policy.document.canonical {
            let delete_version = if live.versions.len() >= MAX_POLICY_VERSIONS {
                live.versions
                    .iter()
                    .find(|v| !v.default)
                    .map(|v| v.id.clone())
            } else {
                None
            };
            self.plan(Op::CreatePolicyVersion {
                policy: live.arn.clone(),
                document: policy.document.json.clone(),
                before: live.document.clone(),
                after: policy.document.canonical.clone(),
                delete_version,
            });
        }
    }

    /// Detach from everyone, delete the old versions and the policy, create it anew; who had
    /// it gets it back (`reattach_replaced`), so nothing outside the spec loses a permission.
    fn replace(&mut self, live: &LivePolicy, create: Op, why: &str) {
        let reason = format!("replace: {why}, which IAM cannot update in place");
        let mut holders: Vec<(EntityKind, String)> = Vec::new();
        for group in self
            .live
            .groups
            .values()
            .filter(|g| g.policies.contains(&live.arn))
        {
            holders.push((EntityKind::Group, group.name.clone()));
        }
        for user in self
            .live
            .users
            .values()
            .filter(|u| u.policies.contains(&live.arn))
        {
            holders.push((EntityKind::User, user.name.clone()));
        }
        let unseen = (live.attachment_count as usize).saturating_sub(holders.len());
        if unseen > 0 {
            self.problems.push(format!(
                "{}: policy `{}` must be replaced because {why}, but it is also attached to {unseen} role(s), which iamspec does not manage: detach it from them first, or keep it as it is",
                self.spec.file.display(),
                live.arn.name
            ));
            return;
        }
        for (kind, name) in &holders {
            let detach = detach(*kind, name, &live.arn);
            self.changes
                .push(Change::from(detach).because(reason.clone()));
        }
        for version in live.versions.iter().filter(|v| !v.default) {
            let op = Op::DeletePolicyVersion {
                policy: live.arn.clone(),
                version: version.id.clone(),
            };
            self.changes.push(Change::from(op).because(reason.clone()));
        }
        let delete = Op::DeletePolicy {
            policy: live.arn.clone(),
        };
        self.changes
            .push(Change::from(delete).because(reason.clone()));
        let Op::CreatePolicy { path, policy, .. } = &create else {
            unreachable!("a replacement creates a policy");
        };
        let new = PolicyArn {
            partition: self.live.caller.partition,
            account: self.live.caller.account.clone(),
            path: path.clone(),
            name: policy.clone(),
        };
        self.changes.push(Change::from(create).because(reason));
        self.replacements.push(Replacement {
            old: live.arn.clone(),
            new,
            holders,
        });
    }

    /// Every entity that had a replaced policy gets the new one, unless it is planned already.
    fn reattach_replaced(&mut self) {
        let replacements = std::mem::take(&mut self.replacements);
        for replacement in &replacements {
            for (kind, name) in &replacement.holders {
                let op = attach(*kind, name, &replacement.new);
                if !self.changes.iter().any(|c| c.op == op) {
                    self.changes
                        .push(Change::from(op).because("re-attach after the replacement"));
                }
            }
        }
        self.replacements = replacements;
    }

    fn group(&mut self, group: &spec::Group, live: Option<&LiveGroup>) {
        let desired = self.resolve_all(&group.policies);
        let Some(live) = live else {
            self.plan(Op::CreateGroup {
                group: group.name.clone(),
                path: group.path.clone(),
            });
            self.attachments(EntityKind::Group, &group.name, &desired, &BTreeSet::new());
            self.inline(
                EntityKind::Group,
                &group.name,
                &group.inline,
                &BTreeMap::new(),
            );
            return;
        };
        if live.path != group.path {
            self.plan(Op::UpdateGroupPath {
                group: group.name.clone(),
                from: live.path.clone(),
                to: group.path.clone(),
            });
        }
        self.attachments(EntityKind::Group, &group.name, &desired, &live.policies);
        self.inline(
            EntityKind::Group,
            &group.name,
            &group.inline,
            &live.inline_policies,
        );
    }

    fn user(&mut self, user: &spec::User, live: Option<&LiveUser>) {
        let desired = self.resolve_all(&user.policies);
        let Some(live) = live else {
            self.plan(Op::CreateUser {
                user: user.name.clone(),
                path: user.path.clone(),
                tags: self.owned_tags(&user.tags),
            });
            self.attachments(EntityKind::User, &user.name, &desired, &BTreeSet::new());
            self.inline(EntityKind::User, &user.name, &user.inline, &BTreeMap::new());
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
        self.attachments(EntityKind::User, &user.name, &desired, &live.policies);
        self.inline(
            EntityKind::User,
            &user.name,
            &user.inline,
            &live.inline_policies,
        );
        self.memberships(user, live);
        self.access_keys(user, live);
    }

    /// Attaches what is desired and missing; what is attached beyond it is drift. A policy
    /// being replaced counts as not attached: the replacement detaches it.
    fn attachments(
        &mut self,
        kind: EntityKind,
        name: &str,
        desired: &BTreeSet<PolicyArn>,
        live: &BTreeSet<PolicyArn>,
    ) {
        let replaced: BTreeSet<&PolicyArn> = self.replacements.iter().map(|r| &r.old).collect();
        let live: BTreeSet<PolicyArn> = live
            .iter()
            .filter(|arn| !replaced.contains(arn))
            .cloned()
            .collect();
        for policy in desired.difference(&live) {
            self.plan(attach(kind, name, policy));
        }
        for policy in live.difference(desired) {
            self.drift.push(Drift::ExtraPolicy {
                entity: kind,
                name: name.to_owned(),
                policy: policy.clone(),
            });
        }
    }

    /// Puts inline policies that are missing or mean something else; others are drift.
    fn inline(
        &mut self,
        kind: EntityKind,
        owner: &str,
        desired: &BTreeMap<String, Document>,
        live: &BTreeMap<String, Value>,
    ) {
        for (policy_name, document) in desired {
            let before = live.get(policy_name);
            if before == Some(&document.canonical) {
                continue;
            }
            let (document, before, after) = (
                document.json.clone(),
                before.cloned(),
                document.canonical.clone(),
            );
            let (owner, policy_name) = (owner.to_owned(), policy_name.clone());
            self.plan(match kind {
                EntityKind::User => Op::PutUserPolicy {
                    user: owner,
                    policy_name,
                    document,
                    before,
                    after,
                },
                _ => Op::PutGroupPolicy {
                    group: owner,
                    policy_name,
                    document,
                    before,
                    after,
                },
            });
        }
        for policy_name in live.keys().filter(|n| !desired.contains_key(*n)) {
            self.drift.push(Drift::InlinePolicy {
                entity: kind,
                name: owner.to_owned(),
                policy_name: policy_name.clone(),
            });
        }
    }

    fn user_tags(&mut self, user: &spec::User, live: &LiveUser) {
        if !self.claim(EntityKind::User, &user.name, live.tags.get(OWNER_TAG)) {
            return;
        }
        // Under the spec's scope an entity is owned already; only outside it does the tag
        // have to say so.
        let by_scope = self.spec.owns(&live.path, None);
        let desired = if by_scope && !live.tags.contains_key(OWNER_TAG) {
            user.tags.clone()
        } else {
            self.owned_tags(&user.tags)
        };
        let missing: BTreeMap<String, String> = desired
            .iter()
            .filter(|(k, v)| live.tags.get(*k) != Some(v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !missing.is_empty() {
            let tag = Change::from(Op::TagUser {
                user: user.name.clone(),
                tags: missing,
            });
            self.changes.push(if live.tags.contains_key(OWNER_TAG) {
                tag
            } else {
                tag.because(self.adoption())
            });
        }
        for (key, value) in &live.tags {
            if !desired.contains_key(key) {
                self.drift.push(Drift::ExtraTag {
                    user: user.name.clone(),
                    key: key.clone(),
                    value: value.clone(),
                });
            }
        }
    }

    /// The spec's tags plus the owner tag that marks the entity as this spec's.
    fn owned_tags(&self, tags: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut tags = tags.clone();
        tags.insert(OWNER_TAG.to_owned(), self.spec.owner.clone());
        tags
    }

    fn adoption(&self) -> String {
        format!(
            "adopt: it exists without the {OWNER_TAG} tag, and becomes owned by {}",
            self.spec.owner
        )
    }

    /// Whether the spec may manage an entity that has this owner tag: untagged (adopted) or
    /// its own. Another spec's entity is a problem, not something to take over quietly.
    fn claim(&mut self, kind: EntityKind, name: &str, owner: Option<&String>) -> bool {
        match owner {
            Some(other) if *other != self.spec.owner => {
                self.problems.push(format!(
                    "{}: {} `{name}` is owned by `{other}` (its {OWNER_TAG} tag), not by this spec's `{}`: an entity belongs to one spec, so remove it from one of them, or set [account] owner = \"{other}\" if this is that spec",
                    self.spec.file.display(),
                    kind.as_str(),
                    self.spec.owner
                ));
                false
            }
            _ => true,
        }
    }

    /// Owned entities (by tag or scope) that the spec no longer names: drift.
    fn not_in_spec(&mut self) {
        let spec = self.spec;
        let lower = |names: &mut dyn Iterator<Item = &String>| -> BTreeSet<String> {
            names.map(|n| n.to_lowercase()).collect()
        };
        let (users, groups, policies) = (
            lower(&mut spec.users.keys()),
            lower(&mut spec.groups.keys()),
            lower(&mut spec.policies.keys()),
        );
        for user in self.live.users.values() {
            if spec.owns(&user.path, user.tags.get(OWNER_TAG).map(String::as_str))
                && !users.contains(&user.name.to_lowercase())
            {
                self.drift.push(Drift::NotInSpec {
                    entity: EntityKind::User,
                    name: user.name.clone(),
                });
            }
        }
        for group in self.live.groups.values() {
            if spec.owns(&group.path, None) && !groups.contains(&group.name.to_lowercase()) {
                self.drift.push(Drift::NotInSpec {
                    entity: EntityKind::Group,
                    name: group.name.clone(),
                });
            }
        }
        for policy in self.live.local_policies.values() {
            let owner = policy.tags.get(OWNER_TAG).map(String::as_str);
            if spec.owns(&policy.arn.path, owner)
                && !policies.contains(&policy.arn.name.to_lowercase())
            {
                self.drift.push(Drift::NotInSpec {
                    entity: EntityKind::Policy,
                    name: policy.arn.name.clone(),
                });
            }
        }
    }

    /// `--prune`: every drift becomes the change that removes it, and an owned entity that
    /// left the spec is deleted with everything IAM requires gone first. The caller's own user
    /// and access key are never touched; what is spared is returned, to be said in the plan.
    fn prune(&mut self) -> Vec<String> {
        let mut protected = Vec::new();
        let mut untag: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let caller = &self.live.caller;
        for drift in std::mem::take(&mut self.drift) {
            let because = "prune: not in the spec";
            match drift {
                Drift::ExtraPolicy {
                    entity,
                    name,
                    policy,
                } => self.remove(detach(entity, &name, &policy), because),
                Drift::InlinePolicy {
                    entity,
                    name,
                    policy_name,
                } => self.remove(delete_inline(entity, &name, &policy_name), because),
                Drift::ExtraMembership { user, group } => {
                    self.remove(Op::RemoveUserFromGroup { user, group }, because);
                }
                Drift::ExtraTag { user, key, .. } => untag.entry(user).or_default().push(key),
                Drift::ExtraAccessKey {
                    user,
                    access_key_id,
                    ..
                } => {
                    if caller.access_key_id.as_deref() == Some(access_key_id.as_str()) {
                        protected.push(format!(
                            "access key {access_key_id} of user {user}: iamspec is signing with it"
                        ));
                    } else {
                        self.remove(
                            Op::DeleteAccessKey {
                                user,
                                access_key_id,
                            },
                            because,
                        );
                    }
                }
                Drift::NotInSpec { entity, name } => {
                    if entity == EntityKind::User && caller.user_name() == Some(name.as_str()) {
                        protected.push(format!("user {name}: it is the caller"));
                    } else {
                        self.delete(entity, &name);
                    }
                }
            }
        }
        for (user, keys) in untag {
            self.changes
                .push(Change::from(Op::UntagUser { user, keys }).because("prune: not in the spec"));
        }
        protected
    }

    fn remove(&mut self, op: Op, because: &str) {
        self.changes.push(Change::from(op).because(because));
    }

    /// Deletes an owned entity that left the spec, after what IAM requires gone first.
    fn delete(&mut self, kind: EntityKind, name: &str) {
        let because = format!("prune: {} {name} is no longer in the spec", kind.as_str());
        let ops = match kind {
            EntityKind::User => self.live.users.get(name).map(delete_user),
            EntityKind::Group => self.live.groups.get(name).map(|g| self.delete_group(g)),
            EntityKind::Policy => self
                .live
                .local_policies
                .values()
                .find(|p| p.arn.name == name)
                .map(|p| self.delete_policy(p)),
        };
        for op in ops.unwrap_or_default() {
            self.remove(op, &because);
        }
    }

    /// A group's members and policies, then the group.
    fn delete_group(&self, group: &LiveGroup) -> Vec<Op> {
        let name = &group.name;
        let mut ops: Vec<Op> = self
            .live
            .users
            .values()
            .filter(|u| u.groups.contains(name))
            .map(|u| Op::RemoveUserFromGroup {
                user: u.name.clone(),
                group: name.clone(),
            })
            .collect();
        ops.extend(
            group
                .inline_policies
                .keys()
                .map(|p| delete_inline(EntityKind::Group, name, p)),
        );
        ops.extend(
            group
                .policies
                .iter()
                .map(|p| detach(EntityKind::Group, name, p)),
        );
        ops.push(Op::DeleteGroup {
            group: name.clone(),
        });
        ops
    }

    /// A policy's attachments (users, groups, roles) and old versions, then the policy.
    fn delete_policy(&self, policy: &LivePolicy) -> Vec<Op> {
        let arn = &policy.arn;
        let live = self.live;
        let groups = live.groups.values().filter(|g| g.policies.contains(arn));
        let users = live.users.values().filter(|u| u.policies.contains(arn));
        let mut ops: Vec<Op> = groups
            .map(|g| detach(EntityKind::Group, &g.name, arn))
            .chain(users.map(|u| detach(EntityKind::User, &u.name, arn)))
            .collect();
        ops.extend(policy.roles.iter().map(|role| Op::DetachRolePolicy {
            role: role.clone(),
            policy: arn.clone(),
        }));
        ops.extend(policy.versions.iter().filter(|v| !v.default).map(|v| {
            Op::DeletePolicyVersion {
                policy: arn.clone(),
                version: v.id.clone(),
            }
        }));
        ops.push(Op::DeletePolicy {
            policy: arn.clone(),
        });
        ops
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

fn attach(kind: EntityKind, name: &str, policy: &PolicyArn) -> Op {
    let (name, policy) = (name.to_owned(), policy.clone());
    match kind {
        EntityKind::User => Op::AttachUserPolicy { user: name, policy },
        _ => Op::AttachGroupPolicy {
            group: name,
            policy,
        },
    }
}

/// A user's keys, credentials, policies and memberships, then the user.
fn delete_user(user: &LiveUser) -> Vec<Op> {
    let name = || user.name.clone();
    let mut ops: Vec<Op> = user
        .access_keys
        .iter()
        .map(|key| Op::DeleteAccessKey {
            user: name(),
            access_key_id: key.id.clone(),
        })
        .collect();
    let credentials = user.credentials.clone().unwrap_or_default();
    if credentials.login_profile {
        ops.push(Op::DeleteLoginProfile { user: name() });
    }
    ops.extend(
        credentials
            .mfa_devices
            .into_iter()
            .map(|serial_number| Op::DeactivateMfaDevice {
                user: name(),
                serial_number,
            }),
    );
    ops.extend(
        credentials
            .signing_certificates
            .into_iter()
            .map(|certificate_id| Op::DeleteSigningCertificate {
                user: name(),
                certificate_id,
            }),
    );
    ops.extend(
        credentials
            .ssh_public_keys
            .into_iter()
            .map(|ssh_public_key_id| Op::DeleteSshPublicKey {
                user: name(),
                ssh_public_key_id,
            }),
    );
    ops.extend(
        credentials
            .service_specific_credentials
            .into_iter()
            .map(|credential_id| Op::DeleteServiceSpecificCredential {
                user: name(),
                credential_id,
            }),
    );
    ops.extend(
        user.inline_policies
            .keys()
            .map(|p| delete_inline(EntityKind::User, &user.name, p)),
    );
    ops.extend(
        user.policies
            .iter()
            .map(|p| detach(EntityKind::User, &user.name, p)),
    );
    ops.extend(user.groups.iter().map(|group| Op::RemoveUserFromGroup {
        user: name(),
        group: group.clone(),
    }));
    ops.push(Op::DeleteUser { user: name() });
    ops
}

fn delete_inline(kind: EntityKind, name: &str, policy_name: &str) -> Op {
    let (name, policy_name) = (name.to_owned(), policy_name.to_owned());
    match kind {
        EntityKind::User => Op::DeleteUserPolicy {
            user: name,
            policy_name,
        },
        _ => Op::DeleteGroupPolicy {
            group: name,
            policy_name,
        },
    }
}

fn detach(kind: EntityKind, name: &str, policy: &PolicyArn) -> Op {
    let (name, policy) = (name.to_owned(), policy.clone());
    match kind {
        EntityKind::User => Op::DetachUserPolicy { user: name, policy },
        _ => Op::DetachGroupPolicy {
            group: name,
            policy,
        },
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

impl Named for LivePolicy {
    fn name(&self) -> &str {
        &self.arn.name
    }
}

fn index<K, T: Named>(entities: &BTreeMap<K, T>) -> BTreeMap<String, &T> {
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
    local: &'a BTreeMap<PolicyArn, LivePolicy>,
    /// The spec's own policies, which may not exist yet.
    defined: &'a BTreeMap<String, spec::ManagedPolicy>,
}

impl<'a> Resolver<'a> {
    fn new(spec: &'a Spec, live: &'a LiveState) -> Self {
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

    fn resolve(&self, policy: &PolicyRef) -> Result<PolicyArn, String> {
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
