//! `iamspec export`: the live account as a spec, to adopt an account that already exists. A
//! pure function of the live state; the command line writes the files.
//!
//! The spec it writes plans nothing against the account it came from: AWS-managed policies by
//! name (the Route53 pair as the `route53` add-on), customer-managed policies and inline
//! policies as JSON files beside the spec, `access_key = true` for users with an active key
//! (never a secret), and every group an exported user is in.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use crate::document;
use crate::iam::{OWNER_TAG, Owned, Ownership, PolicyArn};
use crate::live::{LiveGroup, LivePolicy, LiveState, LiveUser};
use crate::spec::BUILTIN_ADDONS;

/// Which part of the account to export.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only users, groups and policies under this path (and it becomes the spec's scope).
    pub scope: Option<String>,
    /// Only users and policies tagged with this owner (and it becomes the spec's owner).
    pub owner: Option<String>,
}

/// A spec and the policy documents it refers to, by path relative to the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    pub spec: String,
    pub files: BTreeMap<String, String>,
}

/// Writes the spec for what `filter` selects of `live`.
pub fn export(live: &LiveState, filter: &Filter) -> Export {
    // What the exported spec will own: its scope, and its owner's tag. An export with both
    // takes what has both; with neither, everything.
    let ownership = Ownership {
        owner: filter.owner.clone().unwrap_or_default(),
        scope: filter.scope.clone(),
    };
    let selected = |entity: &dyn Owned| {
        (filter.scope.is_none() || ownership.in_scope(entity.path()))
            && (filter.owner.is_none() || entity.owner_tag() == Some(ownership.owner.as_str()))
    };
    let users: Vec<&LiveUser> = live.users.values().filter(|u| selected(*u)).collect();
    let policies: Vec<&LivePolicy> = live
        .local_policies
        .values()
        .filter(|p| selected(*p))
        .collect();
    // Groups cannot be tagged: with an owner, the groups its users are in.
    let member_of: BTreeSet<&str> = users
        .iter()
        .flat_map(|u| u.groups.iter().map(String::as_str))
        .collect();
    let groups: Vec<&LiveGroup> = live
        .groups
        .values()
        .filter(|g| member_of.contains(g.name.as_str()) || (filter.owner.is_none() && selected(*g)))
        .collect();

    let mut writer = Writer {
        live,
        exported: policies.iter().map(|p| &p.arn).collect(),
        files: BTreeMap::new(),
    };
    let file = SpecFile {
        version: 1,
        account: AccountSection {
            id: live.caller.account.clone(),
            owner: filter.owner.clone(),
            scope: filter.scope.clone(),
        },
        policies: policies
            .iter()
            .map(|p| (p.arn.name.clone(), writer.policy(p)))
            .collect(),
        groups: groups
            .iter()
            .map(|g| (g.name.clone(), writer.group(g)))
            .collect(),
        users: users
            .iter()
            .map(|u| (u.name.clone(), writer.user(u)))
            .collect(),
    };
    let body = toml::to_string(&file).expect("an export always serialises");
    Export {
        spec: format!(
            "# Exported by iamspec from account {}.\n{body}",
            live.caller.account
        ),
        files: writer.files,
    }
}

/// The spec file, in the order a person reads it; empty parts are left out.
#[derive(Serialize)]
struct SpecFile {
    version: u32,
    account: AccountSection,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    policies: BTreeMap<String, PolicySection>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    groups: BTreeMap<String, GroupSection>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    users: BTreeMap<String, UserSection>,
}

#[derive(Serialize)]
struct AccountSection {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
}

#[derive(Serialize)]
struct PolicySection {
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    document: String,
}

/// What users and groups share: managed policies, add-ons and inline policies.
#[derive(Serialize, Default)]
struct Attached {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    policies: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    addons: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    inline: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct GroupSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    #[serde(flatten)]
    attached: Attached,
}

#[derive(Serialize)]
struct UserSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    groups: Vec<String>,
    #[serde(flatten)]
    attached: Attached,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    access_key: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    tags: BTreeMap<String, String>,
}

/// A path worth writing: anything but the default `/`.
fn path(path: &str) -> Option<String> {
    (path != "/").then(|| path.to_owned())
}

struct Writer<'a> {
    live: &'a LiveState,
    /// Customer-managed policies the spec defines, and so names by name.
    exported: BTreeSet<&'a PolicyArn>,
    /// The documents, by path relative to the spec.
    files: BTreeMap<String, String>,
}

impl Writer<'_> {
    /// Adds a document file at `stem.json`, or, if a file of that name (ignoring case, as some
    /// file systems do) is taken, at `stem-2.json` and so on: no two documents ever share one.
    fn document_file(&mut self, stem: &str, document: &Value) -> String {
        let taken = |files: &BTreeMap<String, String>, name: &str| {
            files.keys().any(|f| f.eq_ignore_ascii_case(name))
        };
        let mut file = format!("{stem}.json");
        let mut n = 2;
        while taken(&self.files, &file) {
            file = format!("{stem}-{n}.json");
            n += 1;
        }
        self.files.insert(file.clone(), document::pretty(document));
        file
    }

    fn policy(&mut self, policy: &LivePolicy) -> PolicySection {
        PolicySection {
            path: path(&policy.arn.path),
            description: Some(policy.description.clone()).filter(|d| !d.is_empty()),
            document: self
                .document_file(&format!("policies/{}", policy.arn.name), &policy.document),
        }
    }

    fn group(&mut self, group: &LiveGroup) -> GroupSection {
        GroupSection {
            path: path(&group.path),
            attached: self.attached(
                &group.policies,
                "group",
                &group.name,
                &group.inline_policies,
            ),
        }
    }

    fn user(&mut self, user: &LiveUser) -> UserSection {
        UserSection {
            path: path(&user.path),
            groups: user.groups.iter().cloned().collect(),
            attached: self.attached(&user.policies, "user", &user.name, &user.inline_policies),
            access_key: user.access_keys.iter().any(|k| k.active),
            tags: user
                .tags
                .iter()
                .filter(|(k, _)| *k != OWNER_TAG)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }

    /// Built-in add-ons whose policies are all attached, AWS-managed policies by name, the
    /// spec's own by name, others by ARN; and inline policies as files.
    fn attached(
        &mut self,
        attached: &BTreeSet<PolicyArn>,
        kind: &str,
        owner: &str,
        inline: &BTreeMap<String, Value>,
    ) -> Attached {
        let mut remaining: Vec<&PolicyArn> = attached.iter().collect();
        let mut addons = Vec::new();
        for (addon, names) in BUILTIN_ADDONS {
            let members: Vec<&PolicyArn> = remaining
                .iter()
                .copied()
                .filter(|arn| {
                    arn.is_aws_managed() && arn.path == "/" && names.contains(&arn.name.as_str())
                })
                .collect();
            if members.len() == names.len() {
                remaining.retain(|arn| !members.contains(arn));
                addons.push((*addon).to_owned());
            }
        }
        let aws_names: BTreeSet<&str> = self
            .live
            .aws_policies
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        let policies = remaining
            .iter()
            .map(|arn| {
                if arn.is_aws_managed() {
                    arn.short()
                } else if self.exported.contains(arn) && !aws_names.contains(arn.name.as_str()) {
                    arn.name.clone()
                } else {
                    arn.to_string()
                }
            })
            .collect();
        // A folder per user or group: names cannot contain `/`, and `user-` keeps even a user
        // called `..` inside `inline/`.
        let inline = inline
            .iter()
            .map(|(name, document)| {
                let file = self.document_file(&format!("inline/{kind}-{owner}/{name}"), document);
                (name.clone(), file)
            })
            .collect();
        Attached {
            policies,
            addons,
            inline,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iam::Partition;
    use crate::live::Caller;

    fn user(name: &str, path: &str, owner: Option<&str>, groups: &[&str]) -> LiveUser {
        LiveUser {
            name: name.into(),
            path: path.into(),
            tags: owner
                .map(|o| BTreeMap::from([(OWNER_TAG.to_owned(), o.to_owned())]))
                .unwrap_or_default(),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            ..LiveUser::default()
        }
    }

    fn account() -> LiveState {
        let users = [
            user("mine", "/", Some("platform"), &["devs"]),
            user("scoped", "/team/", None, &[]),
            user("theirs", "/team/", Some("payments"), &["ops"]),
        ];
        let groups = ["devs", "ops", "idle"].map(|name| LiveGroup {
            name: name.into(),
            path: "/team/".into(),
            ..LiveGroup::default()
        });
        LiveState {
            caller: Caller {
                account: "123456789012".into(),
                arn: "arn:aws:iam::123456789012:user/admin".into(),
                partition: Partition::Aws,
                access_key_id: None,
            },
            users: users.into_iter().map(|u| (u.name.clone(), u)).collect(),
            groups: groups.into_iter().map(|g| (g.name.clone(), g)).collect(),
            ..LiveState::default()
        }
    }

    fn exported(filter: &Filter) -> (Vec<String>, Vec<String>) {
        let spec = export(&account(), filter).spec;
        let table: toml::Table = toml::from_str(&spec).unwrap();
        let names = |key: &str| {
            table
                .get(key)
                .and_then(toml::Value::as_table)
                .map(|t| t.keys().cloned().collect())
                .unwrap_or_default()
        };
        (names("users"), names("groups"))
    }

    #[test]
    fn an_owner_exports_its_tagged_users_and_their_groups() {
        let (users, groups) = exported(&Filter {
            scope: None,
            owner: Some("platform".into()),
        });
        assert_eq!((users, groups), (vec!["mine".into()], vec!["devs".into()]));
    }

    #[test]
    fn a_scope_exports_what_lies_under_it_whoever_tagged_it() {
        let (users, groups) = exported(&Filter {
            scope: Some("/team/".into()),
            owner: None,
        });
        assert_eq!(users, ["scoped", "theirs"]);
        assert_eq!(groups, ["devs", "idle", "ops"]);
    }

    #[test]
    fn scope_and_owner_together_take_what_has_both() {
        let (users, _) = exported(&Filter {
            scope: Some("/team/".into()),
            owner: Some("payments".into()),
        });
        assert_eq!(users, ["theirs"]);
    }
}
