//! IAM Identity Center in `plan ORG` and `apply ORG`: planned after the accounts (their
//! layers and live policies are what permission sets' references are checked against),
//! shown under its own header, applied after them.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Common, Console, emit};
use crate::apply::center::{self as apply_center, Settings};
use crate::diff::center::Options;
use crate::live::ReadError;
use crate::live::aws::{AwsCenter, AwsOrganizations};
use crate::live::center::CenterState;
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
    let (wanted, mut notes) = center::wanted(org, spec, hub.listing.as_ref())?;
    let untouchable = if wanted.is_empty() {
        None
    } else {
        let management = AwsOrganizations::new(&hub.config)
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
    Ok(Some(Center { api, live, plan }))
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
    emit(&format!(
        "\n{}",
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
    emit("\n=== IAM Identity Center ===\n")?;
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
