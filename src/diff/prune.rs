//! `--prune`: drift becomes the changes that remove it, and owned entities that left the spec
//! are deleted after everything IAM requires gone first.

use std::collections::BTreeMap;

use super::{Differ, delete_inline, detach};
use crate::iam::{EntityKind, PolicyArn};
use crate::live::{LiveGroup, LivePolicy, LiveRole, LiveUser};
use crate::plan::{Cause, Change, Drift, Op};

impl Differ<'_> {
    /// `--prune`: every drift becomes the change that removes it, and an owned entity that
    /// left the spec is deleted with everything IAM requires gone first. The caller's own user
    /// and access key are never touched; what is spared is returned, to be said in the plan.
    pub(super) fn prune(&mut self) -> Vec<String> {
        let mut protected = Vec::new();
        let mut untag: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut untag_roles: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let caller = &self.live.caller;
        let mut kept = Vec::new();
        let mut kept_as_is = Vec::new();
        for drift in std::mem::take(&mut self.drift) {
            // The caller's own user is never changed: what it has beyond the spec stays drift.
            if drift.user().is_some_and(|user| self.is_caller(user))
                || drift.role().is_some_and(|role| self.is_caller_role(role))
            {
                kept.push(drift);
                continue;
            }
            let because = Cause::PruneDrift;
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
                Drift::ConsolePassword { user } => {
                    self.remove(Op::DeleteLoginProfile { user }, because);
                }
                Drift::AccountAlias { alias } => {
                    self.remove(Op::DeleteAccountAlias { alias }, because);
                }
                // The key the spec declares: it is rotated once the other key is gone.
                stale @ Drift::StaleAccessKey { .. } => kept_as_is.push(stale),
                Drift::ExtraRoleTag { role, key, .. } => {
                    untag_roles.entry(role).or_default().push(key);
                }
                Drift::ExtraBoundary {
                    entity,
                    name,
                    policy,
                } => self.remove(delete_boundary(entity, &name, &policy), because),
                Drift::ExtraInstanceProfile { role, profile }
                | Drift::ExtraProfileRole { profile, role } => {
                    self.remove(Op::RemoveRoleFromInstanceProfile { profile, role }, because);
                }
                Drift::NotInSpec { entity, name } => {
                    if self.is_caller_entity(entity, &name) {
                        protected.push(format!("{} {name}: it is the caller", entity.as_str()));
                    } else if let Some(spared) = self.managed_role_keeps(entity, &name) {
                        protected.push(spared);
                    } else if let Some(spared) = self.delete(entity, &name) {
                        protected.push(spared);
                    }
                }
            }
        }
        if let Some(first) = kept.first() {
            let (kind, name) = first.user().map_or_else(
                || ("role", first.role().unwrap_or_default()),
                |user| ("user", user),
            );
            protected.push(format!(
                "{kind} {name}: iamspec is signing as it and never changes it, so what it has beyond the spec stays"
            ));
        }
        self.drift.extend(kept);
        self.drift.extend(kept_as_is);
        for (user, keys) in untag {
            self.changes
                .push(Change::from(Op::UntagUser { user, keys }).because(Cause::PruneDrift));
        }
        for (role, keys) in untag_roles {
            self.changes
                .push(Change::from(Op::UntagRole { role, keys }).because(Cause::PruneDrift));
        }
        protected
    }

    /// Plans a removal. A membership can be removed for two reasons at once (a user and a
    /// group that both leave the spec, a role in another's profile and a role leaving the
    /// spec): it is planned once.
    fn remove(&mut self, op: Op, because: Cause) {
        let pair = match &op {
            Op::RemoveUserFromGroup { user, group } => Some((user, group)),
            Op::RemoveRoleFromInstanceProfile { role, profile } => Some((role, profile)),
            _ => None,
        };
        if let Some((member, of)) = pair
            && !self
                .removed_memberships
                .insert((member.to_lowercase(), of.to_lowercase()))
        {
            return;
        }
        self.changes.push(Change::from(op).because(because));
    }

    /// A policy that left the spec but is attached to (or bounds) a role AWS, `CloudFormation` or
    /// IAM Identity Center manages stays: deleting it would mean detaching it there, which
    /// iamspec never does. What to say instead.
    fn managed_role_keeps(&self, kind: EntityKind, name: &str) -> Option<String> {
        if kind != EntityKind::Policy {
            return None;
        }
        let policy = self
            .live
            .local_policies
            .values()
            .find(|p| p.arn.name == name)?;
        let roles = policy.managed_holders(self.live);
        let (role, by, how) = roles.first()?;
        Some(format!(
            "policy {name}: it stays {how} role {role}, which {by} manages and iamspec never changes, so it is not deleted (take it off there, then prune again)"
        ))
    }

    /// Deletes an owned entity that left the spec, after what IAM requires gone first; or, when
    /// that would change the caller's own user, says why it is spared.
    fn delete(&mut self, kind: EntityKind, name: &str) -> Option<String> {
        let because = Cause::PruneEntity {
            entity: kind,
            name: name.to_owned(),
        };
        let ops = match kind {
            EntityKind::User => self.live.users.get(name).map(delete_user),
            EntityKind::Group => self.live.groups.get(name).map(|g| self.delete_group(g)),
            EntityKind::Policy => self
                .live
                .local_policies
                .values()
                .find(|p| p.arn.name == name)
                .map(|p| self.delete_policy(p)),
            EntityKind::Role => self.live.roles.get(name).map(delete_role),
            EntityKind::OidcProvider => self
                .live
                .oidc_providers
                .iter()
                .find(|p| p.url == name)
                .map(|p| {
                    vec![Op::DeleteOpenIdConnectProvider {
                        provider: p.arn.clone(),
                        url: p.url.clone(),
                    }]
                }),
            // Deleted with their role.
            EntityKind::InstanceProfile => None,
        };
        // A policy being replaced is detached by the replacement already.
        let replaced: Vec<&PolicyArn> = self.replacements.iter().map(|r| &r.old).collect();
        let ops: Vec<Op> = ops
            .unwrap_or_default()
            .into_iter()
            .filter(|op| match op {
                Op::DetachUserPolicy { policy, .. } | Op::DetachGroupPolicy { policy, .. } => {
                    !replaced.contains(&policy)
                }
                _ => true,
            })
            .collect();
        // A group the caller is in, a policy attached to the caller: deleting them changes the
        // caller's own user, which iamspec never does.
        let changes_caller = ops.iter().any(|op| {
            op.entities()
                .iter()
                .any(|(kind, name)| self.is_caller_entity(*kind, name))
        });
        if changes_caller {
            return Some(format!(
                "{} {name}: deleting it would change the caller's own user",
                kind.as_str()
            ));
        }
        for op in ops {
            self.remove(op, because.clone());
        }
        None
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

    /// A policy's attachments (users, groups, roles), the boundaries it is, and its old
    /// versions, then the policy.
    fn delete_policy(&self, policy: &LivePolicy) -> Vec<Op> {
        let arn = &policy.arn;
        let mut ops: Vec<Op> = policy
            .holders(self.live)
            .iter()
            .map(|(kind, name)| detach(*kind, name, arn))
            .collect();
        ops.extend(
            policy
                .bounds(self.live)
                .iter()
                .map(|(kind, name)| delete_boundary(*kind, name, arn)),
        );
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
}

/// A role's instance profiles (its own deleted with it), policies and boundary, then the role.
fn delete_role(role: &LiveRole) -> Vec<Op> {
    let name = || role.name.clone();
    let mut ops: Vec<Op> = Vec::new();
    for profile in &role.instance_profiles {
        ops.push(Op::RemoveRoleFromInstanceProfile {
            profile: profile.name.clone(),
            role: name(),
        });
        let only_this = profile
            .roles
            .iter()
            .all(|r| r.eq_ignore_ascii_case(&role.name));
        if profile.name.eq_ignore_ascii_case(&role.name) && only_this {
            ops.push(Op::DeleteInstanceProfile {
                profile: profile.name.clone(),
            });
        }
    }
    ops.extend(
        role.inline_policies
            .keys()
            .map(|p| delete_inline(EntityKind::Role, &role.name, p)),
    );
    ops.extend(
        role.policies
            .iter()
            .map(|p| detach(EntityKind::Role, &role.name, p)),
    );
    if let Some(boundary) = &role.boundary {
        ops.push(delete_boundary(EntityKind::Role, &role.name, boundary));
    }
    ops.push(Op::DeleteRole { role: name() });
    ops
}

fn delete_boundary(kind: EntityKind, name: &str, policy: &PolicyArn) -> Op {
    let (name, policy) = (name.to_owned(), policy.clone());
    match kind {
        EntityKind::Role => Op::DeleteRolePermissionsBoundary { role: name, policy },
        _ => Op::DeleteUserPermissionsBoundary { user: name, policy },
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
