//! Roles, their instance profiles and the OIDC providers their trust policies name; and the
//! permissions boundaries that roles and users share.

use std::collections::{BTreeMap, BTreeSet};

use super::Differ;
use crate::document::{self, Document};
use crate::iam::{EntityKind, OWNER_TAG, PolicyArn};
use crate::live::{LiveInstanceProfile, LiveRole};
use crate::plan::{Change, Drift, Op};
use crate::spec::{self, PolicyUse};

impl Differ<'_> {
    /// An OIDC provider: created, adopted, and given exactly the spec's audiences (and
    /// thumbprints, when the spec lists them).
    pub(super) fn provider(&mut self, provider: &spec::OidcProvider) {
        let live = self
            .live
            .oidc_providers
            .iter()
            .find(|p| p.url.eq_ignore_ascii_case(&provider.url));
        let Some(live) = live else {
            self.plan(Op::CreateOpenIdConnectProvider {
                url: provider.url.clone(),
                audiences: provider.audiences.clone(),
                thumbprints: provider.thumbprints.clone().unwrap_or_default(),
                tags: self.owned_tags(&provider.tags),
            });
            return;
        };
        let url = &live.url;
        if !self.claim(EntityKind::OidcProvider, url, live.tags.get(OWNER_TAG)) {
            return;
        }
        let desired = self.owned_tags(&provider.tags);
        let missing: BTreeMap<String, String> = desired
            .into_iter()
            .filter(|(k, v)| live.tags.get(k) != Some(v))
            .collect();
        if !missing.is_empty() {
            let tag = Change::from(Op::TagOpenIdConnectProvider {
                provider: live.arn.clone(),
                url: url.clone(),
                tags: missing,
            });
            self.changes.push(if live.tags.contains_key(OWNER_TAG) {
                tag
            } else {
                tag.because(self.adoption())
            });
        }
        for client_id in provider
            .audiences
            .iter()
            .filter(|a| !live.audiences.contains(a))
        {
            self.plan(Op::AddClientIdToOpenIdConnectProvider {
                provider: live.arn.clone(),
                url: url.clone(),
                client_id: client_id.clone(),
            });
        }
        for client_id in live
            .audiences
            .iter()
            .filter(|a| !provider.audiences.contains(a))
        {
            self.plan(Op::RemoveClientIdFromOpenIdConnectProvider {
                provider: live.arn.clone(),
                url: url.clone(),
                client_id: client_id.clone(),
            });
        }
        if let Some(thumbprints) = &provider.thumbprints
            && *thumbprints != live.thumbprints
        {
            self.plan(Op::UpdateOpenIdConnectProviderThumbprint {
                provider: live.arn.clone(),
                url: url.clone(),
                thumbprints: thumbprints.clone(),
                before: live.thumbprints.clone(),
            });
        }
    }

    /// A role: created with its trust, settings, boundary and tags; or brought to the spec
    /// one change at a time. Roles AWS or a stack manage are refused, never changed.
    pub(super) fn role(&mut self, role: &spec::Role, live: Option<&LiveRole>) {
        let caller = &self.live.caller;
        let trust = role.trust.document(caller.partition, &caller.account);
        self.trusted_providers(role, &trust);
        if let Some(by) = live.and_then(LiveRole::managed_by) {
            self.problems.push(format!(
                "{}: role `{}` is managed by {by}, and iamspec never changes such a role: remove it from the spec",
                self.spec.place(role.trust_at),
                role.name
            ));
            return;
        }
        let desired = self.resolve_all(&role.policies);
        let boundary = self.resolve_boundary(role.boundary.as_ref());
        let Some(live) = live else {
            self.plan(Op::CreateRole {
                role: role.name.clone(),
                path: role.path.clone(),
                description: role.description.clone(),
                trust: trust.json,
                max_session: role.max_session,
                boundary,
                tags: self.owned_tags(&role.tags),
            });
            self.attachments(EntityKind::Role, &role.name, &desired, &BTreeSet::new());
            self.inline(EntityKind::Role, &role.name, &role.inline, &BTreeMap::new());
            self.instance_profiles(role, None);
            return;
        };
        if live.path != role.path {
            self.problems.push(format!(
                "{}: role `{}` is at path `{}` in the account, and IAM cannot move a role: write path = \"{}\" in the spec, or delete the role and apply again",
                self.spec.file.display(),
                role.name,
                live.path,
                live.path
            ));
            return;
        }
        let ours = self.tags(
            EntityKind::Role,
            &role.name,
            &role.path,
            &role.tags,
            &live.tags,
        );
        if !ours {
            return;
        }
        self.trust(role, live, &trust);
        if let Some(settings) = &live.settings
            && (settings.description != role.description
                || settings.max_session != role.max_session)
        {
            self.plan(Op::UpdateRole {
                role: role.name.clone(),
                description: role.description.clone(),
                max_session: role.max_session,
                from_description: settings.description.clone(),
                from_max_session: settings.max_session,
            });
        }
        self.attachments(EntityKind::Role, &role.name, &desired, &live.policies);
        self.inline(
            EntityKind::Role,
            &role.name,
            &role.inline,
            &live.inline_policies,
        );
        self.boundary(
            EntityKind::Role,
            &role.name,
            boundary,
            live.boundary.as_ref(),
        );
        self.instance_profiles(role, Some(live));
    }

    /// A new trust policy when the live one means something else. Where IAM shows a unique id
    /// (`AROA…`) the principal it stood for was deleted: the plan says so.
    fn trust(&mut self, role: &spec::Role, live: &LiveRole, trust: &Document) {
        if live.trust == trust.canonical {
            return;
        }
        let wanted = document::unique_ids(&trust.canonical);
        let deleted_principals = document::unique_ids(&live.trust)
            .into_iter()
            .filter(|id| !wanted.contains(id))
            .collect();
        self.plan(Op::UpdateAssumeRolePolicy {
            role: role.name.clone(),
            document: trust.json.clone(),
            before: live.trust.clone(),
            after: trust.canonical.clone(),
            deleted_principals,
        });
    }

    /// Every OIDC provider a trust policy names must be the spec's or the account's: a trust
    /// in a provider nobody made can never be used, and IAM refuses it.
    fn trusted_providers(&mut self, role: &spec::Role, trust: &Document) {
        let caller = &self.live.caller;
        for arn in document::oidc_providers(&trust.json) {
            let url = document::provider_url(&arn).unwrap_or_default();
            let ours = spec::provider_arn(caller.partition, &caller.account, url);
            let declared =
                arn.eq_ignore_ascii_case(&ours) && self.spec.provider_by_url(url).is_some();
            let exists = self
                .live
                .oidc_providers
                .iter()
                .any(|p| p.arn.eq_ignore_ascii_case(&arn));
            if !declared && !exists {
                self.problems.push(format!(
                    "{}: the trust policy of role `{}` lets tokens of {arn} assume it, but the spec declares no such provider and the account has none: add [oidc_providers.NAME] with url = \"https://{url}\"",
                    self.spec.place(role.trust_at),
                    role.name
                ));
            }
        }
    }

    /// The instance profile of the role's name, holding the role, when the spec asks for one;
    /// any other profile holding a spec role is drift, and so is another role in its profile.
    fn instance_profiles(&mut self, role: &spec::Role, live: Option<&LiveRole>) {
        let holding: &[LiveInstanceProfile] = live.map_or(&[], |l| &l.instance_profiles);
        let own = |p: &&LiveInstanceProfile| p.name.eq_ignore_ascii_case(&role.name);
        if role.instance_profile && !holding.iter().any(|p| own(&p)) {
            // The profile may exist, holding another role: the account details show it there.
            let elsewhere = self
                .live
                .roles
                .values()
                .flat_map(|r| &r.instance_profiles)
                .find(own);
            match elsewhere {
                Some(profile) => {
                    for other in &profile.roles {
                        self.drift.push(Drift::ExtraProfileRole {
                            profile: profile.name.clone(),
                            role: other.clone(),
                        });
                    }
                    if !self.spec.prune {
                        self.problems.push(format!(
                            "{}: instance profile `{}` holds role `{}`, and a profile holds one role: remove it from the profile (or apply with --prune), then role `{}` can go in",
                            self.spec.file.display(),
                            profile.name,
                            profile.roles.join("`, `"),
                            role.name
                        ));
                    }
                }
                None => self.plan(Op::CreateInstanceProfile {
                    profile: role.name.clone(),
                    path: role.path.clone(),
                    tags: self.owned_tags(&BTreeMap::new()),
                }),
            }
            self.plan(Op::AddRoleToInstanceProfile {
                profile: role.name.clone(),
                role: role.name.clone(),
            });
        }
        for profile in holding {
            if !(role.instance_profile && own(&profile)) {
                self.drift.push(Drift::ExtraInstanceProfile {
                    role: role.name.clone(),
                    profile: profile.name.clone(),
                });
            }
        }
    }

    /// A boundary as the spec names it, resolved; a reference that resolves to nothing is a
    /// problem, reported where the spec wrote it.
    pub(super) fn resolve_boundary(&mut self, boundary: Option<&PolicyUse>) -> Option<PolicyArn> {
        let boundary = boundary?;
        self.resolve_all(std::slice::from_ref(boundary))
            .into_iter()
            .next()
    }

    /// Puts the spec's boundary where it is missing or another; a boundary the spec does not
    /// name is drift.
    pub(super) fn boundary(
        &mut self,
        kind: EntityKind,
        name: &str,
        desired: Option<PolicyArn>,
        live: Option<&PolicyArn>,
    ) {
        let name = name.to_owned();
        match (desired, live) {
            (Some(policy), live) if live != Some(&policy) => {
                let before = live.cloned();
                self.plan(match kind {
                    EntityKind::Role => Op::PutRolePermissionsBoundary {
                        role: name,
                        policy,
                        before,
                    },
                    _ => Op::PutUserPermissionsBoundary {
                        user: name,
                        policy,
                        before,
                    },
                });
            }
            (None, Some(policy)) => self.drift.push(Drift::ExtraBoundary {
                entity: kind,
                name,
                policy: policy.clone(),
            }),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
