//! `iamspec export`: the live account as a spec, to adopt an account that already exists. A
//! pure function of the live state; the command line writes the files.
//!
//! The spec it writes plans nothing against the account it came from: AWS-managed policies by
//! name (the Route53 pair as the `route53` add-on), customer-managed policies and inline
//! policies as JSON files beside the spec, `access_key = true` for users with an active key
//! (never a secret), and every group an exported user is in.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::Value;

use crate::document;
use crate::iam::{OWNER_TAG, PolicyArn};
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
    let selected = |path: &str, tags: Option<&BTreeMap<String, String>>| {
        filter
            .scope
            .as_ref()
            .is_none_or(|s| path.starts_with(s.as_str()))
            && filter
                .owner
                .as_ref()
                .is_none_or(|owner| tags.and_then(|t| t.get(OWNER_TAG)) == Some(owner))
    };
    let users: Vec<&LiveUser> = live
        .users
        .values()
        .filter(|u| selected(&u.path, Some(&u.tags)))
        .collect();
    let policies: Vec<&LivePolicy> = live
        .local_policies
        .values()
        .filter(|p| selected(&p.arn.path, Some(&p.tags)))
        .collect();
    // Groups cannot be tagged: with an owner, the groups its users are in.
    let member_of: BTreeSet<&str> = users
        .iter()
        .flat_map(|u| u.groups.iter().map(String::as_str))
        .collect();
    let groups: Vec<&LiveGroup> = live
        .groups
        .values()
        .filter(|g| {
            member_of.contains(g.name.as_str())
                || (filter.owner.is_none() && selected(&g.path, None))
        })
        .collect();

    let mut writer = Writer {
        live,
        exported: policies.iter().map(|p| &p.arn).collect(),
        out: String::new(),
        files: BTreeMap::new(),
    };
    writer.header(filter);
    for policy in &policies {
        writer.policy(policy);
    }
    for group in &groups {
        writer.group(group);
    }
    for user in &users {
        writer.user(user);
    }
    Export {
        spec: writer.out,
        files: writer.files,
    }
}

struct Writer<'a> {
    live: &'a LiveState,
    /// Customer-managed policies the spec defines, and so names by name.
    exported: BTreeSet<&'a PolicyArn>,
    out: String,
    files: BTreeMap<String, String>,
}

impl Writer<'_> {
    fn header(&mut self, filter: &Filter) {
        let _ = writeln!(
            self.out,
            "# Exported by iamspec from account {}.\nversion = 1\n\n[account]\nid = {}",
            self.live.caller.account,
            quote(&self.live.caller.account)
        );
        if let Some(owner) = &filter.owner {
            let _ = writeln!(self.out, "owner = {}", quote(owner));
        }
        if let Some(scope) = &filter.scope {
            let _ = writeln!(self.out, "scope = {}", quote(scope));
        }
    }

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

    fn policy(&mut self, policy: &LivePolicy) {
        let file = self.document_file(&format!("policies/{}", policy.arn.name), &policy.document);
        let _ = writeln!(self.out, "\n[policies.{}]", key(&policy.arn.name));
        if policy.arn.path != "/" {
            let _ = writeln!(self.out, "path = {}", quote(&policy.arn.path));
        }
        if !policy.description.is_empty() {
            let _ = writeln!(self.out, "description = {}", quote(&policy.description));
        }
        let _ = writeln!(self.out, "document = {}", quote(&file));
    }

    fn group(&mut self, group: &LiveGroup) {
        let _ = writeln!(self.out, "\n[groups.{}]", key(&group.name));
        if group.path != "/" {
            let _ = writeln!(self.out, "path = {}", quote(&group.path));
        }
        self.policies(&group.policies);
        self.inline("group", &group.name, &group.inline_policies);
    }

    fn user(&mut self, user: &LiveUser) {
        let _ = writeln!(self.out, "\n[users.{}]", key(&user.name));
        if user.path != "/" {
            let _ = writeln!(self.out, "path = {}", quote(&user.path));
        }
        if !user.groups.is_empty() {
            let _ = writeln!(self.out, "groups = {}", list(user.groups.iter()));
        }
        self.policies(&user.policies);
        self.inline("user", &user.name, &user.inline_policies);
        if user.access_keys.iter().any(|k| k.active) {
            let _ = writeln!(self.out, "access_key = true");
        }
        let tags: Vec<String> = user
            .tags
            .iter()
            .filter(|(k, _)| *k != OWNER_TAG)
            .map(|(k, v)| format!("{} = {}", key(k), quote(v)))
            .collect();
        if !tags.is_empty() {
            let _ = writeln!(self.out, "tags = {{ {} }}", tags.join(", "));
        }
    }

    /// `policies = [...]` and `addons = [...]`: built-in add-ons whose policies are all
    /// attached, AWS-managed policies by name, the spec's own by name, others by ARN.
    fn policies(&mut self, attached: &BTreeSet<PolicyArn>) {
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
        let names: Vec<String> = remaining
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
        if !names.is_empty() {
            let _ = writeln!(self.out, "policies = {}", list(names.iter()));
        }
        if !addons.is_empty() {
            let _ = writeln!(self.out, "addons = {}", list(addons.iter()));
        }
    }

    fn inline(&mut self, kind: &str, owner: &str, policies: &BTreeMap<String, Value>) {
        if policies.is_empty() {
            return;
        }
        let entries: Vec<String> = policies
            .iter()
            .map(|(name, document)| {
                // A folder per user or group: names cannot contain `/`, and `user-` keeps even a
                // user called `..` inside `inline/`.
                let file = self.document_file(&format!("inline/{kind}-{owner}/{name}"), document);
                format!("{} = {}", key(name), quote(&file))
            })
            .collect();
        let _ = writeln!(self.out, "inline = {{ {} }}", entries.join(", "));
    }
}

/// A TOML string.
fn quote(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// A TOML key: bare when it can be, quoted otherwise (`a@b.c`).
fn key(name: &str) -> String {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        name.to_owned()
    } else {
        quote(name)
    }
}

fn list<'s>(items: impl Iterator<Item = &'s String>) -> String {
    let quoted: Vec<String> = items.map(|s| quote(s)).collect();
    format!("[{}]", quoted.join(", "))
}
