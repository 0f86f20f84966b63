//! `iamspec export`: the live account as a spec, to adopt an account that already exists. A
//! pure function of the live state; the command line writes the files.
//!
//! The spec it writes plans nothing against the account it came from: AWS-managed policies by
//! name (the Route53 pair as the `route53` add-on), customer-managed policies and inline
//! policies as JSON files beside the spec, `access_key = true` for users with an active key
//! (never a secret), and every group an exported user is in. Roles are written with the
//! `trust` shorthand where one compiles to exactly the live trust policy (`trust`), else with
//! the whole policy as a file; the OIDC providers they name come along. Roles AWS,
//! `CloudFormation` or SSO manage are never exported: the spec lists them in a comment.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use crate::document;
use crate::iam::DEFAULT_OWNER;
use crate::iam::{OWNER_TAG, Owned, Ownership, PolicyArn};
use crate::live::{LiveGroup, LivePolicy, LiveProvider, LiveRole, LiveState, LiveUser};
use crate::spec::{self, BUILTIN_ADDONS, PasswordPolicy};

pub mod center;
mod trust;

/// Which part of the account to export.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only users, groups and policies under this path (and it becomes the spec's scope).
    pub scope: Option<String>,
    /// Only users and policies tagged with this owner (and it becomes the spec's owner).
    pub owner: Option<String>,
    /// A layer of an organization: the organization file says which account it is for, so
    /// it has no `[account] id`.
    pub layer: bool,
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
    // The policy `require_mfa` makes, exactly as iamspec makes it, is written as that key.
    let mfa_name = spec::mfa_policy_name(filter.owner.as_deref().unwrap_or(DEFAULT_OWNER));
    let mfa_document = document::canonical(&spec::mfa_document());
    let mfa = live
        .local_policies
        .values()
        .find(|p| p.arn.name == mfa_name && p.arn.path == "/" && p.document == mfa_document)
        .map(|p| p.arn.clone());
    let policies: Vec<&LivePolicy> = live
        .local_policies
        .values()
        .filter(|p| selected(*p) && Some(&p.arn) != mfa.as_ref())
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

    let (roles, managed): (Vec<&LiveRole>, Vec<&LiveRole>) = live
        .roles
        .values()
        .filter(|r| selected(*r))
        .partition(|r| r.managed_by().is_none());
    // Providers have no path: the ones the exported roles trust, and with an owner its own.
    let trusted: BTreeSet<String> = roles
        .iter()
        .flat_map(|r| document::oidc_providers(&r.trust))
        .collect();
    let providers: Vec<&LiveProvider> = live
        .oidc_providers
        .iter()
        .filter(|p| {
            trusted.contains(&p.arn)
                || match filter.owner {
                    Some(_) => selected(*p),
                    None => filter.scope.is_none(),
                }
        })
        .collect();

    let mut writer = Writer {
        live,
        mfa,
        exported: policies.iter().map(|p| &p.arn).collect(),
        files: BTreeMap::new(),
        provider_names: provider_names(&providers),
    };
    let file = SpecFile {
        version: 1,
        account: account_section(live, filter),
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
        oidc_providers: providers
            .iter()
            .map(|p| (writer.provider_names[&p.url].clone(), provider(p)))
            .collect(),
        roles: roles
            .iter()
            .map(|r| (r.name.clone(), writer.role(r)))
            .collect(),
    };
    let body = toml::to_string(&file).expect("an export always serialises");
    let mut header = format!(
        "# Exported by iamspec from account {}.\n",
        live.caller.account
    );
    for role in managed {
        let by = role.managed_by().unwrap_or_default();
        let _ = writeln!(
            header,
            "# Not exported: role {} is managed by {by}.",
            role.name
        );
    }
    Export {
        spec: format!("{header}{body}"),
        files: writer.files,
    }
}

/// `[account]`: the id, owner and scope, and the account settings, which are the whole
/// account's: an export of a part leaves them out.
fn account_section(live: &LiveState, filter: &Filter) -> AccountSection {
    let whole = filter.scope.is_none() && filter.owner.is_none();
    AccountSection {
        id: (!filter.layer).then(|| live.caller.account.clone()),
        owner: filter.owner.clone(),
        scope: filter.scope.clone(),
        alias: live.account.alias.clone().flatten().filter(|_| whole),
        password_policy: live.account.password_policy.flatten().filter(|_| whole),
    }
}

/// The exported spec's name for each provider: `github` for GitHub Actions, else its URL
/// with what a bare key cannot hold made `-`; a name taken twice gets `-2`...
fn provider_names(providers: &[&LiveProvider]) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    let mut taken = BTreeSet::new();
    for provider in providers {
        let base = if provider.url == document::GITHUB_HOST {
            "github".to_owned()
        } else {
            provider
                .url
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect()
        };
        let mut name = base.clone();
        let mut n = 2;
        while !taken.insert(name.clone()) {
            name = format!("{base}-{n}");
            n += 1;
        }
        names.insert(provider.url.clone(), name);
    }
    names
}

fn provider(provider: &LiveProvider) -> ProviderSection {
    ProviderSection {
        url: format!("https://{}", provider.url),
        audiences: provider.audiences.clone(),
        thumbprints: provider.thumbprints.clone(),
        tags: without_owner(&provider.tags),
    }
}

/// Tags as a spec writes them: without the owner tag, and without access keys' descriptions
/// (a user's tags named by a key id, iamspec's mark among them).
fn without_owner(tags: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    tags.iter()
        .filter(|(k, _)| *k != OWNER_TAG && !crate::iam::is_key_tag(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
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
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    oidc_providers: BTreeMap<String, ProviderSection>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    roles: BTreeMap<String, RoleSection>,
}

#[derive(Serialize)]
struct ProviderSection {
    url: String,
    audiences: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    thumbprints: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    tags: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct RoleSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trust: Option<trust::TrustSection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trust_document: Option<String>,
    #[serde(flatten)]
    attached: Attached,
    #[serde(skip_serializing_if = "Option::is_none")]
    boundary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_session: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    instance_profile: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    tags: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct AccountSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alias: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    password_policy: Option<PasswordPolicy>,
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
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    require_mfa: bool,
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
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    console: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    boundary: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    tags: BTreeMap<String, String>,
}

/// A path worth writing: anything but the default `/`.
fn path(path: &str) -> Option<String> {
    (path != "/").then(|| path.to_owned())
}

struct Writer<'a> {
    live: &'a LiveState,
    /// The policy `require_mfa` attaches, if the account has it as iamspec makes it.
    mfa: Option<PolicyArn>,
    /// Customer-managed policies the spec defines, and so names by name.
    exported: BTreeSet<&'a PolicyArn>,
    /// The documents, by path relative to the spec.
    files: BTreeMap<String, String>,
    /// The exported spec's names of the providers, by URL.
    provider_names: BTreeMap<String, String>,
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
            console: user.login.flatten().is_some(),
            boundary: user.boundary.as_ref().map(|b| self.name_of(b)),
            tags: without_owner(&user.tags),
        }
    }

    fn role(&mut self, role: &LiveRole) -> RoleSection {
        let caller = &self.live.caller;
        let names = &self.provider_names;
        let shorthand = trust::shorthand(&role.trust, caller.partition, &caller.account, |url| {
            names.get(url).cloned().unwrap_or_else(|| url.to_owned())
        });
        let trust_document = shorthand
            .is_none()
            .then(|| self.document_file(&format!("trust/{}", role.name), &role.trust));
        let settings = role.settings.clone().unwrap_or_default();
        RoleSection {
            path: path(&role.path),
            description: Some(settings.description).filter(|d| !d.is_empty()),
            trust: shorthand,
            trust_document,
            attached: self.attached(&role.policies, "role", &role.name, &role.inline_policies),
            boundary: role.boundary.as_ref().map(|b| self.name_of(b)),
            max_session: (settings.max_session > 3600).then(|| {
                let seconds = settings.max_session;
                if seconds.is_multiple_of(3600) {
                    format!("{}h", seconds / 3600)
                } else {
                    format!("{seconds}s")
                }
            }),
            instance_profile: role
                .instance_profiles
                .iter()
                .any(|p| p.name == role.name && p.roles == [role.name.clone()]),
            tags: without_owner(&role.tags),
        }
    }

    /// How the spec names a managed policy: AWS-managed ones by name (and path), the spec's own
    /// by name, others by ARN.
    fn name_of(&self, arn: &PolicyArn) -> String {
        let aws_name = self.live.aws_policies.iter().any(|a| a.name == arn.name);
        if arn.is_aws_managed() {
            arn.short()
        } else if self.exported.contains(arn) && !aws_name {
            arn.name.clone()
        } else {
            arn.to_string()
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
        let require_mfa = remaining.iter().any(|arn| Some(*arn) == self.mfa.as_ref());
        remaining.retain(|arn| Some(*arn) != self.mfa.as_ref());
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
        let policies = remaining.iter().map(|arn| self.name_of(arn)).collect();
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
            require_mfa,
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
            layer: false,
            scope: None,
            owner: Some("platform".into()),
        });
        assert_eq!((users, groups), (vec!["mine".into()], vec!["devs".into()]));
    }

    #[test]
    fn a_scope_exports_what_lies_under_it_whoever_tagged_it() {
        let (users, groups) = exported(&Filter {
            layer: false,
            scope: Some("/team/".into()),
            owner: None,
        });
        assert_eq!(users, ["scoped", "theirs"]);
        assert_eq!(groups, ["devs", "idle", "ops"]);
    }

    #[test]
    fn scope_and_owner_together_take_what_has_both() {
        let (users, _) = exported(&Filter {
            layer: false,
            scope: Some("/team/".into()),
            owner: Some("payments".into()),
        });
        assert_eq!(users, ["theirs"]);
    }
}
