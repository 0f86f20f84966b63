//! What each group, user and role of the spec is allowed before and after the plan, across
//! its own and (for a user) its groups' customer-managed and inline policies, every wildcard
//! expanded: the plan says what a principal gains and loses. AWS-managed policies are named,
//! not read, so they are left out of both sides.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

use super::Differ;
use crate::iam::{EntityKind, PolicyArn};
use crate::lint::Level;
use crate::lint::grants;
use crate::plan::PrincipalGrants;
use crate::spec::{PolicyRef, PolicyUse};

impl Differ<'_> {
    /// The principals whose documents change, and what that grants and takes away.
    pub(super) fn effective(&self) -> Vec<PrincipalGrants> {
        let mut cache: HashMap<*const Value, BTreeMap<String, Level>> = HashMap::new();
        let mut out = Vec::new();
        let spec = self.spec;
        for group in spec.groups.values() {
            let after =
                self.spec_documents(&group.policies, group.inline.values().map(|d| &d.canonical));
            let before = self
                .live
                .groups
                .get(&group.name)
                .map(|g| self.live_documents(&g.policies, g.inline_policies.values()))
                .unwrap_or_default();
            push(
                &mut out,
                &mut cache,
                EntityKind::Group,
                &group.name,
                &before,
                &after,
            );
        }
        for user in spec.users.values() {
            let mut after =
                self.spec_documents(&user.policies, user.inline.values().map(|d| &d.canonical));
            for group in user.groups.iter().filter_map(|g| spec.groups.get(g)) {
                after.extend(
                    self.spec_documents(
                        &group.policies,
                        group.inline.values().map(|d| &d.canonical),
                    ),
                );
            }
            let mut before = Vec::new();
            if let Some(live) = self.live.users.get(&user.name) {
                before = self.live_documents(&live.policies, live.inline_policies.values());
                for group in live.groups.iter().filter_map(|g| self.live.groups.get(g)) {
                    before.extend(
                        self.live_documents(&group.policies, group.inline_policies.values()),
                    );
                }
            }
            push(
                &mut out,
                &mut cache,
                EntityKind::User,
                &user.name,
                &before,
                &after,
            );
        }
        for role in spec.roles.values() {
            let after =
                self.spec_documents(&role.policies, role.inline.values().map(|d| &d.canonical));
            let before = self
                .live
                .roles
                .get(&role.name)
                .map(|r| self.live_documents(&r.policies, r.inline_policies.values()))
                .unwrap_or_default();
            push(
                &mut out,
                &mut cache,
                EntityKind::Role,
                &role.name,
                &before,
                &after,
            );
        }
        out
    }

    /// The AWS-managed policies the principals the plan changes have or get: their documents
    /// say what those principals gain and lose.
    pub(super) fn aws_policies_of_changed(&self) -> BTreeSet<PolicyArn> {
        let mut touched: BTreeSet<(EntityKind, String)> = self
            .changes
            .iter()
            .flat_map(|c| c.op.entities())
            .filter(|(kind, _)| {
                matches!(
                    kind,
                    EntityKind::User | EntityKind::Group | EntityKind::Role
                )
            })
            .map(|(kind, name)| (kind, name.to_owned()))
            .collect();
        // A group's change reaches its members.
        for user in self.spec.users.values() {
            if user
                .groups
                .iter()
                .any(|g| touched.contains(&(EntityKind::Group, g.clone())))
            {
                touched.insert((EntityKind::User, user.name.clone()));
            }
        }
        let mut arns = BTreeSet::new();
        for (kind, name) in &touched {
            let (mut uses, mut attached): (Vec<&PolicyUse>, Vec<&PolicyArn>) =
                (Vec::new(), Vec::new());
            match kind {
                EntityKind::Group => {
                    uses.extend(
                        self.spec
                            .groups
                            .get(name)
                            .into_iter()
                            .flat_map(|g| &g.policies),
                    );
                    attached.extend(
                        self.live
                            .groups
                            .get(name)
                            .into_iter()
                            .flat_map(|g| &g.policies),
                    );
                }
                EntityKind::User => {
                    if let Some(user) = self.spec.users.get(name) {
                        uses.extend(&user.policies);
                        let groups = user.groups.iter().filter_map(|g| self.spec.groups.get(g));
                        uses.extend(groups.flat_map(|g| &g.policies));
                    }
                    if let Some(user) = self.live.users.get(name) {
                        attached.extend(&user.policies);
                        let groups = user.groups.iter().filter_map(|g| self.live.groups.get(g));
                        attached.extend(groups.flat_map(|g| &g.policies));
                    }
                }
                _ => {
                    uses.extend(
                        self.spec
                            .roles
                            .get(name)
                            .into_iter()
                            .flat_map(|r| &r.policies),
                    );
                    attached.extend(
                        self.live
                            .roles
                            .get(name)
                            .into_iter()
                            .flat_map(|r| &r.policies),
                    );
                }
            }
            let desired = uses
                .iter()
                .filter_map(|u| self.resolver.resolve(&u.policy).ok());
            arns.extend(
                desired
                    .chain(attached.into_iter().cloned())
                    .filter(PolicyArn::is_aws_managed),
            );
        }
        arns
    }

    /// The documents the spec gives: its own policies by name, customer-managed ones by ARN
    /// as the account has them, and inline ones.
    fn spec_documents<'v>(
        &'v self,
        uses: &'v [PolicyUse],
        inline: impl Iterator<Item = &'v Value>,
    ) -> Vec<&'v Value> {
        let mut documents: Vec<&Value> = uses
            .iter()
            .filter_map(|u| match &u.policy {
                PolicyRef::Customer { name } => {
                    self.spec.policies.get(name).map(|p| &p.document.canonical)
                }
                PolicyRef::Arn(arn) if !arn.is_aws_managed() => {
                    self.live.local_policies.get(arn).map(|p| &p.document)
                }
                aws => {
                    let arn = self.resolver.resolve(aws).ok()?;
                    self.live.aws_documents.get(&arn)
                }
            })
            .collect();
        documents.extend(inline);
        documents
    }

    /// The documents the account gives now.
    fn live_documents<'v>(
        &'v self,
        attached: &'v std::collections::BTreeSet<PolicyArn>,
        inline: impl Iterator<Item = &'v Value>,
    ) -> Vec<&'v Value> {
        let mut documents: Vec<&Value> = attached
            .iter()
            .filter_map(|arn| {
                let local = self.live.local_policies.get(arn).map(|p| &p.document);
                local.or_else(|| self.live.aws_documents.get(arn))
            })
            .collect();
        documents.extend(inline);
        documents
    }
}

/// Adds what a principal gains and loses, when its documents change at all.
fn push(
    out: &mut Vec<PrincipalGrants>,
    cache: &mut HashMap<*const Value, BTreeMap<String, Level>>,
    entity: EntityKind,
    name: &str,
    before: &[&Value],
    after: &[&Value],
) {
    let sorted = |docs: &[&Value]| {
        let mut texts: Vec<String> = docs.iter().map(ToString::to_string).collect();
        texts.sort();
        texts
    };
    if sorted(before) == sorted(after) {
        return;
    }
    let mut union = |docs: &[&Value]| {
        let mut all = BTreeMap::new();
        for doc in docs {
            let allowed = cache
                .entry(std::ptr::from_ref(*doc))
                .or_insert_with(|| grants::allowed(doc));
            all.extend(allowed.iter().map(|(a, l)| (a.clone(), *l)));
        }
        all
    };
    let (before, after) = (union(before), union(after));
    let grants = grants::compare(&before, &after);
    if !grants.is_empty() {
        out.push(PrincipalGrants {
            entity,
            name: name.to_owned(),
            grants,
        });
    }
}
