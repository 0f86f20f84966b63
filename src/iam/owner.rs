//! What a spec owns: the one rule every stage uses to decide what is the spec's to change,
//! to report as drift, and to delete.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// The tag that marks what a spec owns, on users, roles, instance profiles, OIDC providers
/// and customer-managed policies.
pub const OWNER_TAG: &str = "iamspec:owner";

/// Which access keys iamspec made: access keys cannot be tagged, so the mark is a tag on
/// their user whose key is the key's id, as the console keeps a key's description. Only a
/// key so marked is ever rotated out; every other key is drift.
pub const KEY_MARK: &str = "made by iamspec";

/// Whether a user tag's key is an access key's id (`AKIA…`): a key's description, which the
/// console and iamspec keep as a tag, not a tag a spec manages.
pub fn is_key_tag(key: &str) -> bool {
    key.len() >= 16
        && (key.starts_with("AKIA") || key.starts_with("ASIA"))
        && key
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// The owner when `[account] owner` is not given.
pub const DEFAULT_OWNER: &str = "iamspec";

/// The kinds of IAM entity iamspec manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    User,
    Group,
    Policy,
    Role,
    /// Named as its role: iamspec makes one per role that asks for it.
    InstanceProfile,
    /// An OIDC identity provider, named by its URL without `https://`.
    OidcProvider,
}

impl EntityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::User => "user",
            EntityKind::Group => "group",
            EntityKind::Policy => "policy",
            EntityKind::Role => "role",
            EntityKind::InstanceProfile => "instance profile",
            EntityKind::OidcProvider => "OIDC provider",
        }
    }
}

/// Who a spec is (`[account] owner`) and where it owns everything (`[account] scope`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ownership {
    /// The value of the `iamspec:owner` tag on what this spec owns.
    pub owner: String,
    /// A path under which every untagged user, group and policy is this spec's.
    pub scope: Option<String>,
}

impl Ownership {
    /// Whether an entity at `path`, tagged `owner_tag`, belongs to this spec: tagged with its
    /// owner, or untagged and under its scope. Ownership beats scope: an entity tagged with
    /// another owner is that owner's wherever it lies.
    pub fn owns(&self, path: &str, owner_tag: Option<&str>) -> bool {
        match owner_tag {
            Some(owner) => owner == self.owner,
            None => self.in_scope(path),
        }
    }

    /// Whether `path` is under the scope: there, an untagged entity is the spec's without a
    /// tag saying so.
    pub fn in_scope(&self, path: &str) -> bool {
        self.scope
            .as_ref()
            .is_some_and(|scope| path.starts_with(scope.as_str()))
    }

    /// Whether the spec owns this entity.
    pub fn owns_entity(&self, entity: &(impl Owned + ?Sized)) -> bool {
        self.owns(entity.path(), entity.owner_tag())
    }

    /// Whether the spec has abandoned an entity: it owns it, and no longer names it. Such an
    /// entity is drift, and a prune deletes it.
    pub fn abandons(&self, entity: &(impl Owned + ?Sized), named: &Names) -> bool {
        self.owns_entity(entity) && !named.contains(entity.name())
    }
}

/// An entity as ownership sees it: its name, its path, and its owner tag if it can have one.
pub trait Owned {
    fn name(&self) -> &str;
    fn path(&self) -> &str;
    /// The value of its `iamspec:owner` tag; groups cannot be tagged.
    fn owner_tag(&self) -> Option<&str>;
}

/// Names as IAM compares them: ignoring case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names(BTreeSet<String>);

impl Names {
    pub fn contains(&self, name: &str) -> bool {
        self.0.contains(&name.to_lowercase())
    }
}

impl<'a> FromIterator<&'a String> for Names {
    fn from_iter<I: IntoIterator<Item = &'a String>>(names: I) -> Self {
        Self(names.into_iter().map(|n| n.to_lowercase()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An entity at `/koding/` with a name and maybe an owner tag.
    struct Entity(&'static str, Option<&'static str>);

    impl Owned for Entity {
        fn name(&self) -> &str {
            self.0
        }
        fn path(&self) -> &'static str {
            "/koding/"
        }
        fn owner_tag(&self) -> Option<&str> {
            self.1
        }
    }

    #[test]
    fn ownership_beats_scope() {
        let ours = Ownership {
            owner: "platform".into(),
            scope: Some("/koding/".into()),
        };
        assert!(ours.owns("/koding/", None), "untagged, in scope");
        assert!(ours.owns("/", Some("platform")), "tagged, anywhere");
        assert!(!ours.owns("/koding/", Some("payments")), "another owner's");
        assert!(!ours.owns("/", None), "untagged, out of scope");
        let named: Names = [&"Alice".to_owned()].into_iter().collect();
        assert!(
            !ours.abandons(&Entity("alice", None), &named),
            "named, any case"
        );
        assert!(ours.abandons(&Entity("bob", None), &named));
        assert!(!ours.abandons(&Entity("bob", Some("payments")), &named));
    }
}
