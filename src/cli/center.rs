//! IAM Identity Center in `plan ORG` and `apply ORG`: planned after the accounts (their
//! layers and live policies are what permission sets' references are checked against),
//! shown under its own header, applied after them.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Common, Console, emit};
use crate::apply::center::{self as apply_center, Settings};
use crate::diff::center::Options;
use crate::export::center::CenterExport;
use crate::live::ReadError;
use crate::live::aws::{AwsCenter, AwsOrganizations};
use crate::live::center::{CenterApi as _, CenterState};
use crate::org::center::{self, Known};
use crate::org::run::{Account, Hub, Planning};
use crate::plan::center::CenterPlan;
use crate::render;
use crate::session::{Error, Stop, Terminal as _};
use crate::spec::organization::Organization;

/// The instance, as read, and its plan.
pub(super) struct Center {
    pub api: AwsCenter,
    pub live: CenterState,
    pub plan: CenterPlan,
    /// The Organizations calls made for it.
    organizations: BTreeMap<&'static str, u64>,
}

impl Center {
    /// Every call made for Identity Center, by action.
    pub fn calls(&self) -> BTreeMap<&'static str, u64> {
        let mut calls = self.api.calls();
        for (action, n) in &self.organizations {
            *calls.entry(action).or_default() += n;
        }
        calls
    }
}

/// Plans `[identity_center]`, if the file has it.
pub(super) async fn plan<T>(
    org: &Organization,
    hub: &Hub,
    accounts: &[Account<T>],
    planned: &[Planning],
    prune: bool,
) -> Result<Option<Center>, Error> {
    let Some(spec) = &org.identity_center else {
        return Ok(None);
    };
    for note in &spec.notes {
        eprintln!("{note}");
    }
    let (wanted, mut notes) = center::wanted(org, spec, hub.listing.as_ref())?;
    let organizations = AwsOrganizations::new(&hub.config);
    let untouchable = if wanted.is_empty() {
        None
    } else {
        let management = organizations
            .management_account()
            .await
            .map_err(|source| ReadError::Api {
                what: "find the organization's management account (organizations:DescribeOrganization), which only a caller there can assign to".to_owned(),
                source,
            })?;
        (management != hub.caller.account).then_some(management)
    };
    let mut known = BTreeMap::new();
    for (account, planned) in accounts.iter().zip(planned) {
        let live = planned.as_ref().ok().map(|(p, _)| {
            p.live
                .local_policies
                .keys()
                .map(|arn| (arn.path.clone(), arn.name.clone()))
                .collect()
        });
        let spec = account.ready.as_ref().ok().map(|(spec, _)| spec);
        known.insert(account.target.id.clone(), Known { spec, live });
    }
    let (problems, mut unchecked) = center::check_references(spec, &wanted, &known);
    if !problems.is_empty() {
        return Err(Error::Accounts(problems.join("\n")));
    }
    notes.append(&mut unchecked);
    let mut labels: BTreeMap<String, String> = accounts
        .iter()
        .map(|a| (a.target.id.clone(), a.target.label()))
        .collect();
    for member in hub.listing.iter().flat_map(|l| &l.members) {
        labels
            .entry(member.id.clone())
            .or_insert_with(|| format!("{} ({})", member.name, member.id));
    }
    let owner = org.owner().unwrap_or(crate::iam::DEFAULT_OWNER);
    let options = Options {
        prune,
        owner,
        partition: hub.caller.partition.as_str(),
        untouchable: untouchable.as_deref(),
        labels: &labels,
    };
    let api = AwsCenter::new(&hub.config);
    let (live, mut plan) = center::plan(&api, spec, &wanted, options).await?;
    notes.append(&mut plan.notes);
    plan.notes = notes;
    Ok(Some(Center {
        api,
        live,
        plan,
        organizations: organizations.calls(),
    }))
}

/// `apply ORG`'s part before the confirmation: the instance planned and shown, its deletions
/// counted against `--max-deletes`.
pub(super) async fn preview<T>(
    org: &Organization,
    hub: &Hub,
    accounts: &[Account<T>],
    planned: &[Planning],
    common: &Common,
) -> Result<Option<Center>, Error> {
    let Some(center) = plan(org, hub, accounts, planned, common.prune).await? else {
        return Ok(None);
    };
    let gap = if org.targets.is_empty() { "" } else { "\n" };
    emit(&format!(
        "{gap}{}",
        render::center::text(&center.plan, Console.color())
    ))?;
    let count = center.plan.deletions();
    if count > common.max_deletes {
        return Err(Error::TooManyDeletes {
            count,
            max: common.max_deletes,
        });
    }
    Ok(Some(center))
}

/// Applies the instance's plan after the accounts', saying each change as it is made.
/// Returns whether a change failed.
pub(super) async fn apply(
    org: &Organization,
    center: &Center,
    common: &Common,
    stop: &Stop,
) -> Result<bool, Error> {
    if center.plan.is_empty() {
        return Ok(false);
    }
    emit(if org.targets.is_empty() {
        "=== IAM Identity Center ===\n"
    } else {
        "\n=== IAM Identity Center ===\n"
    })?;
    let settings = Settings {
        owner: org.owner().unwrap_or(crate::iam::DEFAULT_OWNER),
        patience: common.aws.retry_timeout(),
        poll: Duration::from_secs(1),
        stop,
    };
    let outcome = apply_center::apply(&center.api, &center.live, &center.plan, &settings, |line| {
        let _ = emit(&format!("  {line}\n"));
    })
    .await;
    emit(&render::center::outcome(&outcome))?;
    Ok(outcome.failed.is_some() || outcome.stopped.is_some())
}

/// `[identity_center]` of the caller's instance, for `export --organization`; `None` when the
/// caller sees no instance (Identity Center is not enabled).
pub(super) async fn export(
    hub: &Hub,
    accounts: &[String],
) -> Result<Option<CenterExport>, ReadError> {
    let api = AwsCenter::new(&hub.config);
    let what = "read IAM Identity Center (sso-admin and identitystore) to export it: run iamspec with credentials of the management account or Identity Center's delegated administrator, in the instance's region";
    let failed = |source| ReadError::Api {
        what: what.to_owned(),
        source,
    };
    let instances = api.instances().await.map_err(failed)?;
    let Some(instance) = instances.into_iter().next() else {
        return Ok(None);
    };
    let live = crate::live::center::read_all(&api, instance, accounts)
        .await
        .map_err(failed)?;
    Ok(Some(crate::export::center::export(&live)))
}

/// The identity store's users, for `credentials ORG` to find IAM users who could sign in
/// through Identity Center instead; none when the file has no `[identity_center]`.
pub(super) async fn identities(
    org: &Organization,
    hub: &Hub,
) -> Result<Vec<crate::live::center::StoreUser>, Error> {
    let Some(spec) = &org.identity_center else {
        return Ok(Vec::new());
    };
    let api = AwsCenter::new(&hub.config);
    let failed = |source| {
        ReadError::Api {
        what: "read IAM Identity Center's users (identitystore:ListUsers) to find IAM users who could sign in through it".to_owned(),
        source,
    }
    };
    let instances = api.instances().await.map_err(failed)?;
    let instance = match &spec.instance {
        Some(arn) => instances.into_iter().find(|i| i.arn == *arn),
        None => instances.into_iter().next(),
    };
    let Some(instance) = instance else {
        return Ok(Vec::new());
    };
    Ok(api.users(&instance.store).await.map_err(failed)?)
}

/// Writes the exported instance's documents under `out` and its `[identity_center]` at the
/// end of the organization file.
pub(super) fn write_export(
    out: &std::path::Path,
    center: &CenterExport,
    org_file: &mut String,
) -> Result<(), Error> {
    for note in &center.notes {
        eprintln!("note: {note}");
    }
    for (relative, text) in &center.files {
        let path = out.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| Error::Write {
                path: parent.to_owned(),
                source,
            })?;
        }
        super::write_new_file(&path, text)?;
    }
    org_file.push('\n');
    org_file.push_str(&center.toml);
    Ok(())
}
