//! Reading the account for a spec: a handful of calls through the `IamApi` seam, pure of
//! any SDK, failing whole rather than returning a partial picture.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use futures::{StreamExt, TryStreamExt};

mod credentials;

pub use credentials::{idle, parse_credential_report};

use super::{
    AccountDetails, ApiError, Caller, CredentialReport, DetailKinds, ErrorKind, IamApi,
    LiveAccount, LivePolicy, LiveProvider, LiveState, LiveUser, RoleSettings,
};
use crate::iam::{EntityKind, Partition, PolicyArn};
use crate::secrets::PendingKey;
use crate::spec::{ManagedPolicy, PolicyRef, Spec};

/// How many `ListAccessKeys` calls are in flight at once while reading.
const READ_CONCURRENCY: usize = 8;

/// How to read the access keys of the spec's users.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum KeyReading {
    /// From the credential report, listing only the users it leaves in doubt.
    #[default]
    Report,
    /// One `ListAccessKeys` per user: exact to the second, however old the report is.
    ListEach,
}

/// Why the account could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A read call failed; nothing is planned from a partial read.
    #[error("could not {what}: {source}{}", advice(source.kind))]
    Api {
        what: String,
        #[source]
        source: ApiError,
    },
    /// The credentials belong to another account than the spec's.
    #[error(
        "the spec is for account {expected} but the credentials ({caller}) are for account {actual}: use credentials for {expected}, or change [account] id"
    )]
    WrongAccount {
        expected: String,
        actual: String,
        caller: String,
    },
}

/// Reads what `spec` needs to be compared with the account: the caller, the account details,
/// the AWS-managed policies' names if the spec names any, the credential report, and a few
/// targeted reads (`pending`: key creations an interrupted apply left recorded).
pub async fn read(
    api: &impl IamApi,
    spec: &Spec,
    mut pending: BTreeMap<String, PendingKey>,
    keys: KeyReading,
) -> Result<LiveState, ReadError> {
    let caller = read_caller(api).await?;
    // A secrets directory can serve several accounts: only this one's records count.
    pending.retain(|_, p| p.account.as_ref().is_none_or(|a| *a == caller.account));
    if let Some(expected) = &spec.account_id
        && *expected != caller.account
    {
        return Err(ReadError::WrongAccount {
            expected: expected.clone(),
            actual: caller.account,
            caller: caller.arn,
        });
    }

    let now = api.now();
    // The account-wide reads are independent: in flight together, the slowest sets the pace.
    let report = async {
        if needs_report(spec, keys) {
            read_report(api).await
        } else {
            Ok((None, None))
        }
    };
    let settings = async {
        if spec.roles.is_empty() {
            Ok(BTreeMap::new())
        } else {
            read_role_settings(api).await
        }
    };
    let providers = async {
        if spec.roles.is_empty() && spec.oidc_providers.is_empty() && !spec.prune {
            Ok(Vec::new())
        } else {
            read_providers(api).await
        }
    };
    // Boxed: five reads side by side make a future too large to move around on the stack.
    let (mut details, (report, report_warning), settings, providers, account) = futures::try_join!(
        Box::pin(read_details(api, detail_kinds(spec))),
        Box::pin(report),
        Box::pin(settings),
        Box::pin(providers),
        Box::pin(read_account_settings(api, spec))
    )?;
    let mut warnings: Vec<String> = report_warning.into_iter().collect();
    for role in &mut details.roles {
        role.settings = settings.get(&role.name).cloned();
    }
    let aws_policies = read_aws_policies(api, spec, caller.partition, &details).await?;

    let mut users: BTreeMap<String, LiveUser> = details
        .users
        .into_iter()
        .map(|u| (u.name.clone(), u))
        .collect();
    let settle_with = report.as_ref().filter(|_| keys == KeyReading::Report);
    read_spec_keys(api, spec, &mut users, &pending, settle_with, now).await?;
    credentials::from_report(spec, &mut users, report.as_ref());
    credentials::read_logins(api, spec, &mut users).await?;
    if spec.settings.disable_unused.is_some() && report.is_none() {
        warnings.push("could not read the credential report, so credentials unused for [account] disable_unused were not looked for: allow iam:GenerateCredentialReport and iam:GetCredentialReport".to_owned());
    }

    if spec.prune {
        read_for_prune(api, spec, &mut users).await?;
    }

    let mut local_policies = details.local_policies;
    let spec_policies: BTreeMap<String, &ManagedPolicy> = spec
        .policies
        .values()
        .map(|p| (p.name.to_lowercase(), p))
        .collect();
    read_policy_tags(api, &mut local_policies, |p| {
        tags_matter(spec, &spec_policies, p)
    })
    .await?;
    let mut live = LiveState::new(
        caller,
        users,
        details.groups,
        details.roles,
        local_policies,
        aws_policies,
    );
    live.oidc_providers = providers;
    live.pending_keys = pending;
    live.account = account;
    live.account.report_read = report.is_some();
    live.now = now;
    live.warnings = warnings;
    Ok(live)
}

/// The whole account, for `export`: every user's keys, every policy's tags, and the list of
/// AWS-managed policies.
pub async fn read_account(api: &impl IamApi) -> Result<LiveState, ReadError> {
    let caller = read_caller(api).await?;
    let details = read_details(api, DetailKinds::ALL).await?;
    let aws_policies = api
        .aws_managed_policies(caller.partition)
        .await
        .map_err(failed("list AWS-managed policies (iam:ListPolicies)"))?;
    let mut users: BTreeMap<String, LiveUser> = details
        .users
        .into_iter()
        .map(|u| (u.name.clone(), u))
        .collect();
    let names = users.keys().cloned().collect();
    read_keys(api, &mut users, names).await?;
    // Console passwords are in the report alone; without it they are not exported.
    if let Ok(report) = api.credential_report().await {
        credentials::logins_from_report(&mut users, &report);
    }
    let mut local_policies = details.local_policies;
    read_policy_tags(api, &mut local_policies, |_| true).await?;
    let (settings, providers, alias, password_policy) = futures::try_join!(
        read_role_settings(api),
        read_providers(api),
        async {
            api.account_alias()
                .await
                .map_err(failed("read the account alias (iam:ListAccountAliases)"))
        },
        async {
            api.password_policy().await.map_err(failed(
                "read the account password policy (iam:GetAccountPasswordPolicy)",
            ))
        }
    )?;
    let mut roles = details.roles;
    for role in &mut roles {
        role.settings = settings.get(&role.name).cloned();
    }
    let mut live = LiveState::new(
        caller,
        users,
        details.groups,
        roles,
        local_policies,
        aws_policies,
    );
    live.oidc_providers = providers;
    live.account.alias = Some(alias);
    live.account.password_policy = Some(password_policy);
    Ok(live)
}

async fn read_role_settings(
    api: &impl IamApi,
) -> Result<BTreeMap<String, RoleSettings>, ReadError> {
    api.role_settings().await.map_err(failed(
        "read the roles' descriptions and session lengths (iam:ListRoles)",
    ))
}

async fn read_providers(api: &impl IamApi) -> Result<Vec<LiveProvider>, ReadError> {
    api.oidc_providers().await.map_err(failed(
        "read the OIDC providers (iam:ListOpenIDConnectProviders, iam:GetOpenIDConnectProvider)",
    ))
}

/// Whether a customer-managed policy's tags must be read: IAM lists them one policy at a
/// time, so they are read only where they can change the plan. Outside the scope the tag
/// alone says whose a policy is. Under it, ownership still beats scope (another owner's tag
/// means hands off), so the tag is read for every policy the plan could touch: one the spec
/// does not name (drift, or deleted by a prune) and one it names that differs from the spec.
/// A policy the spec names that matches it exactly is left alone either way.
/// `spec_policies` are the spec's policies by lower-case name, found once for every policy.
fn tags_matter(
    spec: &Spec,
    spec_policies: &BTreeMap<String, &ManagedPolicy>,
    policy: &LivePolicy,
) -> bool {
    if !spec.ownership.in_scope(&policy.arn.path) {
        return true;
    }
    let named = spec_policies.get(&policy.arn.name.to_lowercase());
    named.is_none_or(|p| {
        p.path != policy.arn.path
            || p.description != policy.description
            || p.document.canonical != policy.document
    })
}

/// One read per item, `READ_CONCURRENCY` at a time; the first failure fails them all.
async fn read_each<K, T, F, Fut>(items: Vec<K>, read: F) -> Result<Vec<(K, T)>, ReadError>
where
    K: Clone,
    F: Fn(K) -> Fut,
    Fut: Future<Output = Result<T, ReadError>>,
{
    futures::stream::iter(items)
        .map(|item| {
            let reading = read(item.clone());
            async move { Ok((item, reading.await?)) }
        })
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await
}

/// Who the credentials are (`sts:GetCallerIdentity`).
pub async fn read_caller(api: &impl IamApi) -> Result<Caller, ReadError> {
    api.caller()
        .await
        .map_err(failed("find out who the caller is (sts:GetCallerIdentity)"))
}

/// The kinds of entity a spec's plan needs read: all of them, unless the spec asks for only
/// the kinds it declares (and does not prune). Groups come with users (memberships), and
/// every kind with customer-managed policies (which may be attached to any of them).
pub fn detail_kinds(spec: &Spec) -> DetailKinds {
    if !spec.read_declared_only || spec.prune {
        return DetailKinds::ALL;
    }
    let policies = !spec.policies.is_empty();
    let users = !spec.users.is_empty() || policies;
    let groups = !spec.groups.is_empty() || users;
    let roles = !spec.roles.is_empty() || policies;
    DetailKinds {
        users,
        groups,
        roles,
        policies: policies || groups || roles,
    }
}

async fn read_details(api: &impl IamApi, kinds: DetailKinds) -> Result<AccountDetails, ReadError> {
    let mut details = api.account_details(kinds).await.map_err(failed(
        "read users, groups, roles and policies (iam:GetAccountAuthorizationDetails)",
    ))?;
    // Apply locks are iamspec's machinery, not part of any spec: never planned, pruned or
    // exported.
    details
        .local_policies
        .retain(|p| p.arn.path != crate::lock::LOCK_PATH);
    Ok(details)
}

/// IAM's credential report, or why it could not be had: a caller not allowed to read it can
/// still plan, with one call per user, and is told so.
async fn read_report(
    api: &impl IamApi,
) -> Result<(Option<CredentialReport>, Option<String>), ReadError> {
    match api.credential_report().await {
        Ok(report) => Ok((Some(report), None)),
        Err(source) if source.kind.is_retryable() => Err(ReadError::Api {
            what: "read the credential report (iam:GetCredentialReport)".to_owned(),
            source,
        }),
        Err(source) => Ok((
            None,
            Some(format!(
                "could not read the credential report ({source}), so every user's access keys were listed, one call each: allow iam:GenerateCredentialReport and iam:GetCredentialReport for a faster plan"
            )),
        )),
    }
}

/// The access keys of the users the spec names. The credential report shows every user's keys
/// at once; a user is listed only where it leaves a doubt: other keys than the spec asks for
/// (which a plan names by id), a user newer than the report, or a key creation an interrupted
/// apply recorded. Without the report every user is listed.
async fn read_spec_keys(
    api: &impl IamApi,
    spec: &Spec,
    users: &mut BTreeMap<String, LiveUser>,
    pending: &BTreeMap<String, PendingKey>,
    report: Option<&CredentialReport>,
    now: i64,
) -> Result<(), ReadError> {
    // IAM names ignore case: a spec user matches a live one of any spelling.
    let wanted: BTreeMap<String, &crate::spec::User> = spec
        .users
        .values()
        .map(|u| (u.name.to_lowercase(), u))
        .collect();
    let mut to_list = Vec::new();
    for user in users.values_mut() {
        let Some(&spec_user) = wanted.get(&user.name.to_lowercase()) else {
            continue;
        };
        let row = report.and_then(|r| r.users.get(&user.name));
        let settles = row.is_some_and(|r| {
            r.settles(
                user,
                spec_user.access_key,
                spec_user.rotation.map(|r| r.max_age),
                now,
            ) && !credentials::unused_key(r, spec.settings.disable_unused, now)
        });
        // A rotation needs to know which of the keys iamspec made, which the report does
        // not say: a user without a marked key is listed.
        let marked =
            spec_user.rotation.is_none() || user.tags.values().any(|v| v == crate::iam::KEY_MARK);
        if !pending.contains_key(&user.name) && settles && marked {
            user.keys_settled = true;
        } else {
            to_list.push(user.name.clone());
        }
    }
    read_keys(api, users, to_list).await
}

/// The access keys of these users, oldest first.
async fn read_keys(
    api: &impl IamApi,
    users: &mut BTreeMap<String, LiveUser>,
    names: Vec<String>,
) -> Result<(), ReadError> {
    let keys = read_each(names, |name| async move {
        api.access_keys(&name)
            .await
            .map_err(|source| ReadError::Api {
                what: format!("list the access keys of user {name} (iam:ListAccessKeys)"),
                source,
            })
    })
    .await?;
    for (name, mut access_keys) in keys {
        access_keys.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
        if let Some(user) = users.get_mut(&name) {
            user.access_keys = access_keys;
        }
    }
    Ok(())
}

/// The tags of the customer-managed policies that `wanted` picks: the account details leave
/// them out, and IAM lists them one policy at a time.
async fn read_policy_tags(
    api: &impl IamApi,
    policies: &mut [LivePolicy],
    wanted: impl Fn(&LivePolicy) -> bool,
) -> Result<(), ReadError> {
    let arns: Vec<PolicyArn> = policies.iter().map(|p| p.arn.clone()).collect();
    let picked = (0..arns.len()).filter(|&i| wanted(&policies[i])).collect();
    let tags = read_each(picked, |index| {
        let arn = &arns[index];
        async move {
            api.policy_tags(arn).await.map_err(|source| ReadError::Api {
                what: format!("list the tags of policy {arn} (iam:ListPolicyTags)"),
                source,
            })
        }
    })
    .await?;
    for (index, tags) in tags {
        policies[index].tags = tags;
    }
    Ok(())
}

/// For users a prune deletes (owned, and gone from the spec): their keys and credentials,
/// which IAM requires deleted first.
async fn read_for_prune(
    api: &impl IamApi,
    spec: &Spec,
    users: &mut BTreeMap<String, LiveUser>,
) -> Result<(), ReadError> {
    let named = spec.names(EntityKind::User);
    let doomed: Vec<String> = users
        .values()
        .filter(|u| spec.ownership.abandons(*u, &named))
        .map(|u| u.name.clone())
        .collect();
    read_keys(api, users, doomed.clone()).await?;
    let found = read_each(doomed, |name| async move {
        api.user_credentials(&name)
            .await
            .map_err(|source| ReadError::Api {
                what: format!("list the credentials of user {name}, to delete it"),
                source,
            })
    })
    .await?;
    for (name, credentials) in found {
        if let Some(user) = users.get_mut(&name) {
            user.credentials = Some(credentials);
        }
    }
    Ok(())
}

/// Whether the credential report is worth reading: it shows every user's keys at once, and
/// it alone tells when a credential was last used and whether a user has MFA.
fn needs_report(spec: &Spec, keys: KeyReading) -> bool {
    !spec.users.is_empty()
        && (keys == KeyReading::Report
            || spec.settings.disable_unused.is_some()
            || spec.users.values().any(|u| u.console.is_some()))
}

/// The account alias and password policy, where the spec needs them: to set them, to name
/// the sign-in URL and satisfy the policy in a new console password, and (the alias) to
/// prune one the spec does not set.
async fn read_account_settings(api: &impl IamApi, spec: &Spec) -> Result<LiveAccount, ReadError> {
    let console = spec.users.values().any(|u| u.console == Some(true));
    let alias = async {
        if spec.settings.alias.is_some() || spec.prune || console {
            let alias = api
                .account_alias()
                .await
                .map_err(failed("read the account alias (iam:ListAccountAliases)"))?;
            Ok(Some(alias))
        } else {
            Ok(None)
        }
    };
    let policy = async {
        if spec.settings.password_policy.is_some() || console {
            let policy = api.password_policy().await.map_err(failed(
                "read the account password policy (iam:GetAccountPasswordPolicy)",
            ))?;
            Ok(Some(policy))
        } else {
            Ok(None)
        }
    };
    let (alias, password_policy) = futures::try_join!(alias, policy)?;
    Ok(LiveAccount {
        alias,
        password_policy,
        report_read: false,
    })
}

/// The default documents of these AWS-managed policies, two calls each.
pub async fn read_documents(
    api: &impl IamApi,
    policies: Vec<PolicyArn>,
) -> Result<BTreeMap<PolicyArn, serde_json::Value>, ReadError> {
    let documents = read_each(policies, |arn| async move {
        api.policy_document(&arn)
            .await
            .map_err(|source| ReadError::Api {
                what: format!(
                    "read the document of policy {arn} (iam:GetPolicy, iam:GetPolicyVersion)"
                ),
                source,
            })
    })
    .await?;
    Ok(documents.into_iter().collect())
}

/// What to do about a failed read, by how it failed.
fn advice(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Unreachable | ErrorKind::Transient => {
            "; check the network, --region and --endpoint-url (or AWS_ENDPOINT_URL)"
        }
        ErrorKind::AccessDenied => "; give the caller a policy that allows it",
        ErrorKind::Credentials => {
            "; refresh the credentials, and check that they are for the partition of --region"
        }
        ErrorKind::Throttled => "; IAM is throttling the account, try again in a minute",
        _ => "",
    }
}

fn failed(what: &str) -> impl FnOnce(ApiError) -> ReadError + '_ {
    move |source| ReadError::Api {
        what: what.to_owned(),
        source,
    }
}

/// The AWS-managed policies the spec names, found the cheapest certain way: those attached
/// already are in the account details; the others are looked up by the ARN they have (a
/// name without a path is at `/`). Only when that fails (a name at another path, a typo to
/// suggest a fix for), or when the spec defines policies of its own, whose names must not be
/// AWS's too, is the whole list read.
async fn read_aws_policies(
    api: &impl IamApi,
    spec: &Spec,
    partition: Partition,
    details: &AccountDetails,
) -> Result<Vec<PolicyArn>, ReadError> {
    let list_all = || async {
        api.aws_managed_policies(partition)
            .await
            .map_err(failed("list AWS-managed policies (iam:ListPolicies)"))
    };
    if !spec.policies.is_empty() {
        return list_all().await;
    }
    let attached: BTreeSet<&PolicyArn> = details
        .users
        .iter()
        .flat_map(|u| &u.policies)
        .chain(details.groups.iter().flat_map(|g| &g.policies))
        .chain(details.roles.iter().flat_map(|r| &r.policies))
        .chain(details.users.iter().filter_map(|u| u.boundary.as_ref()))
        .chain(details.roles.iter().filter_map(|r| r.boundary.as_ref()))
        .filter(|arn| arn.is_aws_managed())
        .collect();
    let mut found = BTreeSet::new();
    let mut unseen = BTreeSet::new();
    for policy_use in spec.policy_uses() {
        match &policy_use.policy {
            PolicyRef::AwsManaged { path, name } => {
                let matches = |arn: &&&PolicyArn| arn.is_named(path.as_deref(), name);
                match attached.iter().find(matches) {
                    Some(arn) => found.insert((*arn).clone()),
                    None => unseen.insert(PolicyArn::aws_managed(
                        partition,
                        path.as_deref().unwrap_or("/"),
                        name,
                    )),
                };
            }
            // Another partition's ARN is refused by the differ without any lookup.
            PolicyRef::Arn(arn) if arn.is_aws_managed() && arn.partition == partition => {
                if attached.contains(arn) {
                    found.insert(arn.clone());
                } else {
                    unseen.insert(arn.clone());
                }
            }
            PolicyRef::Arn(_) | PolicyRef::Customer { .. } => {}
        }
    }
    let checked = read_each(unseen.into_iter().collect(), |arn| async move {
        api.aws_policy_exists(&arn)
            .await
            .map_err(failed("look up an AWS-managed policy (iam:GetPolicy)"))
    })
    .await;
    match checked {
        Ok(checked) if checked.iter().all(|(_, exists)| *exists) => {
            found.extend(checked.into_iter().map(|(arn, _)| arn));
            Ok(found.into_iter().collect())
        }
        _ => list_all().await,
    }
}
