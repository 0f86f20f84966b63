//! AWS Organizations, read: the accounts, and only when a target needs them, the OUs that
//! hold each (walked from the root) and each account's tags. Every list is paged.

use std::collections::BTreeMap;
use std::sync::Mutex;

use aws_config::SdkConfig;
use aws_sdk_organizations::operation::list_accounts::ListAccountsOutput;
use aws_sdk_organizations::operation::list_accounts_for_parent::ListAccountsForParentOutput;
use aws_sdk_organizations::operation::list_organizational_units_for_parent::ListOrganizationalUnitsForParentOutput;
use aws_sdk_organizations::operation::list_roots::ListRootsOutput;
use aws_sdk_organizations::operation::list_tags_for_resource::ListTagsForResourceOutput;
use futures::{StreamExt, TryStreamExt};

use super::errors::classify_call;
use crate::live::ApiError;
use crate::org::{Listing, Member, Ou};

/// How many tag lists are read at once.
const TAG_READS: usize = 8;

/// An Organizations client, counting its calls for `--stats`.
pub struct AwsOrganizations {
    client: aws_sdk_organizations::Client,
    calls: Mutex<BTreeMap<&'static str, u64>>,
}

/// Each account's OU path, by account id; and every OU's path and id.
type OuTree = (BTreeMap<String, Vec<Ou>>, Vec<(String, String)>);

/// What is directly under an OU: the ids of its accounts, its OUs with their paths, and its
/// own path.
type Children = (Vec<String>, Vec<(String, Vec<Ou>)>, Vec<Ou>);

/// What of the organization to read beyond its accounts.
#[derive(Debug, Clone, Copy, Default)]
pub struct Needs {
    pub ous: bool,
    pub tags: bool,
}

impl AwsOrganizations {
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            client: aws_sdk_organizations::Client::new(config),
            calls: Mutex::new(BTreeMap::new()),
        }
    }

    /// How many calls were made, by API action.
    pub fn calls(&self) -> BTreeMap<&'static str, u64> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    fn count(&self, action: &'static str, pages: usize) {
        if let Ok(mut calls) = self.calls.lock() {
            *calls.entry(action).or_default() += u64::try_from(pages).unwrap_or(u64::MAX);
        }
    }

    /// The organization's accounts, with what `needs` asks for. The reads that do not wait
    /// for each other go side by side: the accounts and the OU tree at once, each level of
    /// the tree in one go, the tags of every account (`TAG_READS` at a time) after the list.
    /// The organization's management account (`DescribeOrganization`).
    pub async fn management_account(&self) -> Result<String, ApiError> {
        self.count("DescribeOrganization", 1);
        let out = self
            .client
            .describe_organization()
            .send()
            .await
            .map_err(|e| classify_call(e, "DescribeOrganization"))?;
        Ok(out
            .organization()
            .and_then(|o| o.master_account_id())
            .unwrap_or_default()
            .to_owned())
    }

    pub async fn list(&self, needs: Needs) -> Result<Listing, ApiError> {
        let accounts = async {
            let pages: Vec<_> = self
                .client
                .list_accounts()
                .into_paginator()
                .send()
                .try_collect()
                .await
                .map_err(|e| classify_call(e, "ListAccounts"))?;
            self.count("ListAccounts", pages.len().max(1));
            let mut members: Vec<Member> = pages
                .iter()
                .flat_map(ListAccountsOutput::accounts)
                .map(|a| Member {
                    id: a.id().unwrap_or_default().to_owned(),
                    name: a.name().unwrap_or_default().to_owned(),
                    status: a.status().map_or("ACTIVE", |s| s.as_str()).to_owned(),
                    ous: Vec::new(),
                    tags: BTreeMap::new(),
                })
                .collect();
            if needs.tags {
                let tags: Vec<(usize, BTreeMap<String, String>)> =
                    futures::stream::iter(members.iter().enumerate())
                        .map(|(i, m)| async move { self.tags(&m.id).await.map(|t| (i, t)) })
                        .buffer_unordered(TAG_READS)
                        .try_collect()
                        .await?;
                for (i, t) in tags {
                    members[i].tags = t;
                }
            }
            Ok::<_, ApiError>(members)
        };
        let tree = async {
            if needs.ous {
                self.walk_ous().await
            } else {
                Ok((BTreeMap::new(), Vec::new()))
            }
        };
        let (mut members, (placed, ous)) = futures::try_join!(accounts, tree)?;
        for member in &mut members {
            if let Some(path) = placed.get(&member.id) {
                member.ous.clone_from(path);
            }
        }
        Ok(Listing { members, ous })
    }

    /// Every OU from the root down, a level at a time: each account's OU path, and every
    /// OU's path and id.
    async fn walk_ous(&self) -> Result<OuTree, ApiError> {
        let roots: Vec<_> = self
            .client
            .list_roots()
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify_call(e, "ListRoots"))?;
        self.count("ListRoots", roots.len().max(1));
        let mut level: Vec<(String, Vec<Ou>)> = roots
            .iter()
            .flat_map(ListRootsOutput::roots)
            .filter_map(|r| r.id())
            .map(|id| (id.to_owned(), Vec::new()))
            .collect();
        let mut placed = BTreeMap::new();
        let mut ous = Vec::new();
        while !level.is_empty() {
            let read: Vec<Children> = futures::stream::iter(&level)
                .map(|(parent, path)| self.children(parent, path))
                .buffer_unordered(TAG_READS)
                .try_collect()
                .await?;
            let mut next = Vec::new();
            for (accounts, children, path) in read {
                for account in accounts {
                    placed.insert(account, path.clone());
                }
                for (id, inner) in children {
                    let names: Vec<&str> = inner.iter().map(|o| o.name.as_str()).collect();
                    ous.push((crate::org::ou_path(&names), id.clone()));
                    next.push((id, inner));
                }
            }
            level = next;
        }
        Ok((placed, ous))
    }

    /// The accounts directly in an OU (none asked for the root: those are in no OU) and the
    /// OUs directly under it, each with its path; and the OU's own path.
    async fn children(&self, parent: &str, path: &[Ou]) -> Result<Children, ApiError> {
        let accounts = async {
            if path.is_empty() {
                return Ok(Vec::new());
            }
            let pages: Vec<_> = self
                .client
                .list_accounts_for_parent()
                .parent_id(parent)
                .into_paginator()
                .send()
                .try_collect()
                .await
                .map_err(|e| classify_call(e, "ListAccountsForParent"))?;
            self.count("ListAccountsForParent", pages.len().max(1));
            Ok(pages
                .iter()
                .flat_map(ListAccountsForParentOutput::accounts)
                .filter_map(|a| a.id().map(str::to_owned))
                .collect())
        };
        let children = async {
            let pages: Vec<_> = self
                .client
                .list_organizational_units_for_parent()
                .parent_id(parent)
                .into_paginator()
                .send()
                .try_collect()
                .await
                .map_err(|e| classify_call(e, "ListOrganizationalUnitsForParent"))?;
            self.count("ListOrganizationalUnitsForParent", pages.len().max(1));
            Ok(pages
                .iter()
                .flat_map(ListOrganizationalUnitsForParentOutput::organizational_units)
                .filter_map(|ou| {
                    let (id, name) = (ou.id()?, ou.name()?);
                    let mut inner = path.to_vec();
                    inner.push(Ou {
                        id: id.to_owned(),
                        name: name.to_owned(),
                    });
                    Some((id.to_owned(), inner))
                })
                .collect())
        };
        let (accounts, children) = futures::try_join!(accounts, children)?;
        Ok((accounts, children, path.to_vec()))
    }

    async fn tags(&self, account: &str) -> Result<BTreeMap<String, String>, ApiError> {
        let pages: Vec<_> = self
            .client
            .list_tags_for_resource()
            .resource_id(account)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify_call(e, "ListTagsForResource"))?;
        self.count("ListTagsForResource", pages.len().max(1));
        Ok(pages
            .iter()
            .flat_map(ListTagsForResourceOutput::tags)
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect())
    }
}
