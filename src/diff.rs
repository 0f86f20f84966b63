//! Stage 3: compare. `diff` is a pure, deterministic function of the spec and the live state:
//! no I/O, no clock, no environment. It resolves policy names to ARNs (`resolve`), plans what
//! is missing or different, reports what the account has beyond the spec as drift, and with
//! `--prune` turns that drift into removals (`prune`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::document::Document;
use crate::iam::{EntityKind, OWNER_TAG, Owned, PolicyArn};
use crate::live::{LiveGroup, LivePolicy, LiveState, LiveUser};
use crate::plan::{Cause, Change, Drift, Immutable, LostSecret, Op, Plan};
use crate::spec::{self, PolicyUse, Spec};

use resolve::Resolver;

/// The spec cannot be applied to this account as it stands; nothing was planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", problems.join("\n"))]
pub struct DiffError {
    /// One sentence per problem, each saying what to change.
    pub problems: Vec<String>,
}

/// IAM keeps at most this many versions of a managed policy.
const MAX_POLICY_VERSIONS: usize = 5;

/// Plans the changes that make the account match `spec`, and says which AWS-managed policies
/// the principals it changes have or get: with their documents in `live.aws_documents`, a
/// second `diff` says what those principals gain and lose through them too.
pub fn diff_with_documents_wanted(
    spec: &Spec,
    live: &LiveState,
) -> Result<(Plan, Vec<PolicyArn>), DiffError> {
    let mut wanted = Vec::new();
    let plan = diff_inner(spec, live, Some(&mut wanted))?;
    Ok((plan, wanted))
}

/// Plans the changes that make the account match `spec`.
pub fn diff(spec: &Spec, live: &LiveState) -> Result<Plan, DiffError> {
    diff_inner(spec, live, None)
}

fn diff_inner(
    spec: &Spec,
    live: &LiveState,
    wanted: Option<&mut Vec<PolicyArn>>,
) -> Result<Plan, DiffError> {
    let mut differ = Differ {
        spec,
        live,
        resolver: Resolver::new(spec, live),
        changes: Vec::new(),
        drift: Vec::new(),
        problems: Vec::new(),
        replacements: Vec::new(),
        removed_memberships: BTreeSet::new(),
        warnings: Vec::new(),
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
    for provider in spec.oidc_providers.values() {
        differ.provider(provider);
    }
    let roles = index(&live.roles);
    for role in spec.roles.values() {
        let existing = differ.find(EntityKind::Role, &role.name, &roles);
        differ.role(role, existing);
    }
    differ.account_settings();
    differ.reattach_replaced();
    differ.not_in_spec();
    differ.drift.sort();
    let mut protected = if spec.prune {
        differ.prune()
    } else {
        Vec::new()
    };
    protected.extend(differ.spare_caller());
    if !differ.problems.is_empty() {
        return Err(DiffError {
            problems: differ.problems,
        });
    }
    let principals = if differ.changes.is_empty() {
        Vec::new()
    } else {
        if let Some(wanted) = wanted {
            *wanted = differ
                .aws_policies_of_changed()
                .into_iter()
                .filter(|arn| !live.aws_documents.contains_key(arn))
                .collect();
        }
        differ.effective()
    };
    let mut plan = Plan::new(
        live.caller.account.clone(),
        live.caller.arn.clone(),
        live.caller.partition,
        differ.changes,
        differ.drift,
    );
    plan.protected = protected;
    plan.principals = principals;
    plan.warnings.clone_from(&live.warnings);
    plan.warnings.append(&mut differ.warnings);
    plan.lost_secrets = lost_secrets(live)
        .into_iter()
        .filter(|lost| !(spec.replace_lost_keys && is_declared(spec, &lost.user)))
        .collect();
    Ok(plan)
}

/// Whether the spec names `user` (IAM names ignore case).
fn is_declared(spec: &Spec, user: &str) -> bool {
    spec.users
        .keys()
        .any(|name| name.eq_ignore_ascii_case(user))
}

/// Keys an interrupted apply created but whose secret it never saved: nobody can use them,
/// and iamspec will not make a second key beside them on its own.
fn lost_secrets(live: &LiveState) -> Vec<LostSecret> {
    live.pending_keys
        .keys()
        .flat_map(|user| {
            lost_keys(live, user).into_iter().map(|id| LostSecret {
                user: user.clone(),
                access_key_id: id.to_owned(),
            })
        })
        .collect()
}

/// The ids of `user`'s keys that appeared while a creation was pending and whose secret is
/// not the one saved.
fn lost_keys<'a>(live: &'a LiveState, user: &str) -> Vec<&'a str> {
    let (Some(pending), Some(live_user)) = (live.pending_keys.get(user), live.users.get(user))
    else {
        return Vec::new();
    };
    live_user
        .access_keys
        .iter()
        .filter(|key| !pending.before.contains(&key.id) && pending.saved.as_ref() != Some(&key.id))
        .map(|key| key.id.as_str())
        .collect()
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
    /// Memberships a prune removes, by lower-case user and group: a user and a group that
    /// both leave the spec share one.
    removed_memberships: BTreeSet<(String, String)>,
    /// What the plan should say though it changes nothing: credentials the spec keeps
    /// against a rule, the root user signing.
    warnings: Vec<String>,
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
        T: Owned,
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
        let immutable = if live.arn.path != policy.path {
            Some(Immutable::Path {
                from: live.arn.path.clone(),
                to: policy.path.clone(),
            })
        } else if live.description != policy.description {
            Some(Immutable::Description)
        } else {
            None
        };
        if let Some(immutable) = immutable {
            // The policy made in its place carries the owner tag: nothing to adopt.
            self.replace(live, create, immutable);
            return;
        }
        if !live.tags.contains_key(OWNER_TAG) && !self.spec.ownership.in_scope(&live.arn.path) {
            let tag = Op::TagPolicy {
                policy: live.arn.clone(),
                tags: self.owned_tags(&BTreeMap::new()),
            };
            self.changes
                .push(Change::from(tag).because(self.adoption()));
        }
        if live.document != policy.document.canonical {
            let delete_version = if live.versions.len() >= MAX_POLICY_VERSIONS {
                live.versions
                    .iter()
                    .find(|v| !v.default)
                    .map(|v| v.id.clone())
            } else {
                None
            };
            // One change, one call: making room is a change of its own, run first.
            if let Some(version) = &delete_version {
                let delete = Op::DeletePolicyVersion {
                    policy: live.arn.clone(),
                    version: version.clone(),
                };
                self.changes
                    .push(Change::from(delete).because(Cause::VersionLimit));
            }
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
    fn replace(&mut self, live: &LivePolicy, create: Op, immutable: Immutable) {
        let why = crate::render::immutable(&immutable);
        let reason = Cause::Replace { immutable };
        let holders = live.holders(self.live);
        if let Some((kind, caller)) = holders
            .iter()
            .find(|(kind, name)| self.is_caller_entity(*kind, name))
        {
            self.problems.push(format!(
                "{}: policy `{}` must be replaced because {why}, but it is attached to {} {caller}, whose credentials iamspec is using and which it never changes: keep the policy as it is, or apply with another caller",
                self.spec.file.display(),
                live.arn.name,
                kind.as_str()
            ));
            return;
        }
        if let Some((role, by, how)) = live.managed_holders(self.live).first() {
            self.problems.push(format!(
                "{}: policy `{}` must be replaced because {why}, but it is {how} role {role}, which {by} manages and iamspec never changes: IAM cannot delete the policy while it is there, so keep its path and description, or take it off {role} where {by} manages it, then plan again",
                self.spec.file.display(),
                live.arn.name,
            ));
            return;
        }
        let bounded = live.bounds(self.live);
        if let Some((kind, name)) = bounded.first() {
            self.problems.push(format!(
                "{}: policy `{}` must be replaced because {why}, but it is the permissions boundary of {} {name}, and IAM cannot delete a policy that bounds anyone: keep its path and description, or give {name} another boundary first",
                self.spec.file.display(),
                live.arn.name,
                kind.as_str()
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
                // A prune leaves the spec's own entities exactly as the spec says (what they
                // want is attached by the spec, the rest not given back) and deletes the ones
                // it abandoned: only outsiders get the policy back.
                if self.spec.prune
                    && (self.spec.names(*kind).contains(name) || self.pruned(*kind, name))
                {
                    continue;
                }
                let op = attach(*kind, name, &replacement.new);
                if !self.changes.iter().any(|c| c.op == op) {
                    self.changes.push(Change::from(op).because(Cause::Reattach));
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
        let boundary = self.resolve_boundary(user.boundary.as_ref());
        let Some(live) = live else {
            // A new user takes its boundary when made: it is never unbounded with policies.
            self.plan(Op::CreateUser {
                user: user.name.clone(),
                path: user.path.clone(),
                boundary,
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
                    rotates: None,
                });
            }
            self.console(user, None);
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
        self.console(user, Some(live));
        self.boundary(
            EntityKind::User,
            &user.name,
            boundary,
            live.boundary.as_ref(),
        );
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
                EntityKind::Role => Op::PutRolePolicy {
                    role: owner,
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
        self.tags(
            EntityKind::User,
            &user.name,
            &user.path,
            &user.tags,
            &live.tags,
        );
    }

    /// Tags a user or role lacks, and drift for the ones it has beyond the spec. The owner tag
    /// is among the desired ones wherever the entity will be outside the scope. False when the
    /// entity is another owner's: then nothing else is planned for it (a problem says why).
    fn tags(
        &mut self,
        kind: EntityKind,
        name: &str,
        path: &str,
        tags: &BTreeMap<String, String>,
        live: &BTreeMap<String, String>,
    ) -> bool {
        if !self.claim(kind, name, live.get(OWNER_TAG)) {
            return false;
        }
        // Under the spec's scope an entity is owned already; only outside it does the tag
        // have to say so. Where it will be after the apply decides: a user moved out of the
        // scope needs the tag (found by the idempotence property test).
        let by_scope = self.spec.ownership.in_scope(path);
        let desired = if by_scope && !live.contains_key(OWNER_TAG) {
            tags.clone()
        } else {
            self.owned_tags(tags)
        };
        let missing: BTreeMap<String, String> = desired
            .iter()
            .filter(|(k, v)| live.get(*k) != Some(v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !missing.is_empty() {
            let name = name.to_owned();
            let tag = Change::from(match kind {
                EntityKind::Role => Op::TagRole {
                    role: name,
                    tags: missing,
                },
                _ => Op::TagUser {
                    user: name,
                    tags: missing,
                },
            });
            self.changes.push(if live.contains_key(OWNER_TAG) {
                tag
            } else {
                tag.because(self.adoption())
            });
        }
        for (key, value) in live {
            // A user's tags named by an access key id are its keys' descriptions (iamspec's
            // mark among them), not tags a spec manages.
            let described_key = kind == EntityKind::User && crate::iam::is_key_tag(key);
            if !desired.contains_key(key) && !described_key {
                let (name, key, value) = (name.to_owned(), key.clone(), value.clone());
                self.drift.push(match kind {
                    EntityKind::Role => Drift::ExtraRoleTag {
                        role: name,
                        key,
                        value,
                    },
                    _ => Drift::ExtraTag {
                        user: name,
                        key,
                        value,
                    },
                });
            }
        }
        true
    }

    /// The spec's tags plus the owner tag that marks the entity as this spec's.
    fn owned_tags(&self, tags: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut tags = tags.clone();
        tags.insert(OWNER_TAG.to_owned(), self.spec.ownership.owner.clone());
        tags
    }

    fn adoption(&self) -> Cause {
        Cause::Adopt {
            owner: self.spec.ownership.owner.clone(),
        }
    }

    /// Whether the spec may manage an entity that has this owner tag: untagged (adopted) or
    /// its own. Another spec's entity is a problem, not something to take over quietly.
    fn claim(&mut self, kind: EntityKind, name: &str, owner: Option<&String>) -> bool {
        match owner {
            Some(other) if *other != self.spec.ownership.owner => {
                self.problems.push(format!(
                    "{}: {} `{name}` is owned by `{other}` (its {OWNER_TAG} tag), not by this spec's `{}`: an entity belongs to one spec, so remove it from one of them, or set [account] owner = \"{other}\" if this is that spec",
                    self.spec.file.display(),
                    kind.as_str(),
                    self.spec.ownership.owner
                ));
                false
            }
            _ => true,
        }
    }

    /// Whether a prune deletes this user or group: the spec owns it and no longer names it.
    fn pruned(&self, kind: EntityKind, name: &str) -> bool {
        let named = self.spec.names(kind);
        let abandoned = |entity: Option<&dyn Owned>| {
            entity.is_some_and(|e| self.spec.ownership.abandons(e, &named))
        };
        self.spec.prune
            && match kind {
                EntityKind::User => abandoned(self.live.users.get(name).map(|u| u as &dyn Owned)),
                EntityKind::Group => abandoned(self.live.groups.get(name).map(|g| g as &dyn Owned)),
                EntityKind::Role => self
                    .live
                    .roles
                    .get(name)
                    .is_some_and(|r| r.managed_by().is_none() && abandoned(Some(r))),
                EntityKind::Policy | EntityKind::InstanceProfile | EntityKind::OidcProvider => {
                    false
                }
            }
    }

    /// Whether `user` is the IAM user whose credentials iamspec is using.
    fn is_caller(&self, user: &str) -> bool {
        self.live
            .caller
            .user_name()
            .is_some_and(|caller| caller.eq_ignore_ascii_case(user))
    }

    /// Whether `role` is the role whose session iamspec is using.
    fn is_caller_role(&self, role: &str) -> bool {
        self.live
            .caller
            .role_name()
            .is_some_and(|caller| caller.eq_ignore_ascii_case(role))
    }

    /// Whether the entity is the caller's own user or role.
    fn is_caller_entity(&self, kind: EntityKind, name: &str) -> bool {
        match kind {
            EntityKind::User => self.is_caller(name),
            EntityKind::Role => self.is_caller_role(name),
            _ => false,
        }
    }

    /// The caller's own user or role is never changed, whatever the spec or a prune asks: a
    /// detached policy or a lost membership could lock the caller out half-way through an
    /// apply. Its changes leave the plan, and the plan says which.
    fn spare_caller(&mut self) -> Vec<String> {
        let caller = match (self.live.caller.user_name(), self.live.caller.role_name()) {
            (Some(user), _) => (EntityKind::User, user.to_owned()),
            (None, Some(role)) => (EntityKind::Role, role.to_owned()),
            (None, None) => return Vec::new(),
        };
        let mut spared: Vec<&'static str> = Vec::new();
        self.changes.retain(|change| {
            let touches = change
                .op
                .entities()
                .iter()
                .any(|(kind, name)| *kind == caller.0 && name.eq_ignore_ascii_case(&caller.1));
            if touches {
                spared.push(change.op.api_name());
            }
            !touches
        });
        if spared.is_empty() {
            return Vec::new();
        }
        vec![format!(
            "{} {}: iamspec is signing as it and never changes it ({} skipped)",
            caller.0.as_str(),
            caller.1,
            spared.join(", ")
        )]
    }

    /// Owned entities (by tag or scope) that the spec no longer names: drift.
    fn not_in_spec(&mut self) {
        let (spec, live) = (self.spec, self.live);
        let users = live.users.values().map(|u| u as &dyn Owned);
        let groups = live.groups.values().map(|g| g as &dyn Owned);
        let policies = live.local_policies.values().map(|p| p as &dyn Owned);
        // Roles AWS, CloudFormation or SSO manage are never a spec's, wherever they lie.
        let roles = live
            .roles
            .values()
            .filter(|r| r.managed_by().is_none())
            .map(|r| r as &dyn Owned);
        let providers = live.oidc_providers.iter().map(|p| p as &dyn Owned);
        for (kind, entities) in [
            (EntityKind::User, users.collect::<Vec<_>>()),
            (EntityKind::Group, groups.collect()),
            (EntityKind::Policy, policies.collect()),
            (EntityKind::Role, roles.collect()),
            (EntityKind::OidcProvider, providers.collect()),
        ] {
            let named = spec.names(kind);
            for entity in entities {
                if spec.ownership.abandons(entity, &named) {
                    self.drift.push(Drift::NotInSpec {
                        entity: kind,
                        name: entity.name().to_owned(),
                    });
                }
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
        match &policy_use.via {
            Some(addon) if policy_use.at.line == 0 => format!(
                "{}: {why} (from the built-in add-on `{addon}`)",
                self.spec.file.display()
            ),
            Some(addon) => format!(
                "{}: {why} (in add-on `{addon}`)",
                self.spec.place(policy_use.at)
            ),
            None => format!("{}: {why}", self.spec.place(policy_use.at)),
        }
    }
}

fn attach(kind: EntityKind, name: &str, policy: &PolicyArn) -> Op {
    let (name, policy) = (name.to_owned(), policy.clone());
    match kind {
        EntityKind::User => Op::AttachUserPolicy { user: name, policy },
        EntityKind::Role => Op::AttachRolePolicy { role: name, policy },
        _ => Op::AttachGroupPolicy {
            group: name,
            policy,
        },
    }
}

fn delete_inline(kind: EntityKind, name: &str, policy_name: &str) -> Op {
    let (name, policy_name) = (name.to_owned(), policy_name.to_owned());
    match kind {
        EntityKind::User => Op::DeleteUserPolicy {
            user: name,
            policy_name,
        },
        EntityKind::Role => Op::DeleteRolePolicy {
            role: name,
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
        EntityKind::Role => Op::DetachRolePolicy { role: name, policy },
        _ => Op::DetachGroupPolicy {
            group: name,
            policy,
        },
    }
}

fn index<K, T: Owned>(entities: &BTreeMap<K, T>) -> BTreeMap<String, &T> {
    entities
        .values()
        .map(|e| (e.name().to_lowercase(), e))
        .collect()
}

pub mod center;
mod credentials;
mod effective;
mod prune;
mod resolve;
mod roles;

#[cfg(test)]
mod tests;
