//! IAM Identity Center in `plan ORG` and `apply ORG`: planned after the accounts (their
//! layers and live policies are what permission sets' references are checked against),
//! shown under its own header, applied after them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::{Common, Console, emit};
use crate::apply::center::{self as apply_center, Settings};
use crate::diff::center::{Options, Wanted};
use crate::export::center::CenterExport;
use crate::live::ReadError;
use crate::live::aws::{AwsCenter, AwsOrganizations};
use crate::live::center::{CenterApi as _, CenterState};
use crate::lock;
use crate::org::Target;
use crate::org::center::{self, Known};
use crate::org::run::{Account, Hub, Planning};
use crate::plan::center::CenterPlan;
use crate::render;
use crate::session::{Error, Stop, Terminal as _};
use crate::spec::organization::Organization;

/// The instance, as read, its plan, and what planning it again under the lock needs.
pub(super) struct Center {
    pub api: AwsCenter,
    pub live: CenterState,
    pub plan: CenterPlan,
    /// The Organizations calls made for it.
    organizations: BTreeMap<&'static str, u64>,
    wanted: Vec<Wanted>,
    labels: BTreeMap<String, String>,
    untouchable: Option<String>,
    scope: Option<BTreeSet<String>>,
    prune: bool,
    owner: String,
    partition: String,
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

    fn options(&self) -> Options<'_> {
        Options {
            prune: self.prune,
            owner: &self.owner,
            partition: &self.partition,
            untouchable: self.untouchable.as_deref(),
            labels: &self.labels,
            scope: self.scope.as_ref(),
        }
    }
}

/// Which part of Identity Center a run takes.
pub(super) struct Part<'a> {
    /// `--accounts`/`--shard`: only these accounts' assignments and provisioning.
    pub scope: Option<BTreeSet<String>>,
    /// `--identity-center-only`: the targets, whose layers (not planned now) say which
    /// customer-managed policies each account will have.
    pub offline: &'a [Target],
}

/// Plans `[identity_center]`, if the file has it.
pub(super) async fn plan<T>(
    org: &Organization,
    hub: &Hub,
    accounts: &[Account<T>],
    planned: &[Planning],
    prune: bool,
    part: Part<'_>,
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
    let partition = hub.caller.partition.as_str();
    // The layers of the accounts not planned in this run (--identity-center-only).
    let offline: Vec<(String, Option<crate::spec::Spec>)> = part
        .offline
        .iter()
        .map(|t| (t.id.clone(), crate::org::spec_of(org, t, partition).ok()))
        .collect();
    let mut known = BTreeMap::new();
    for (id, spec) in &offline {
        known.insert(
            id.clone(),
            Known {
                spec: spec.as_ref(),
                live: None,
            },
        );
    }
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
    notes.append(&mut center::escalations(spec, &wanted, &known));
    let mut labels: BTreeMap<String, String> = accounts
        .iter()
        .map(|a| (a.target.id.clone(), a.target.label()))
        .chain(part.offline.iter().map(|t| (t.id.clone(), t.label())))
        .collect();
    for member in hub.listing.iter().flat_map(|l| &l.members) {
        labels
            .entry(member.id.clone())
            .or_insert_with(|| format!("{} ({})", render::untrusted(&member.name), member.id));
    }
    let api = AwsCenter::new(&hub.config);
    let owner = org.owner().unwrap_or(crate::iam::DEFAULT_OWNER);
    let options = Options {
        prune,
        owner,
        partition,
        untouchable: untouchable.as_deref(),
        labels: &labels,
        scope: part.scope.as_ref(),
    };
    let (live, mut plan) = center::plan(&api, spec, &wanted, options).await?;
    notes.append(&mut plan.notes);
    plan.notes = notes;
    Ok(Some(Center {
        api,
        live,
        plan,
        organizations: organizations.calls(),
        wanted,
        labels,
        untouchable,
        scope: part.scope,
        prune,
        owner: owner.to_owned(),
        partition: partition.to_owned(),
    }))
}

/// The error of a plan that refuses something (a permission set of another owner).
pub(super) fn refusal(plan: &CenterPlan) -> Option<Error> {
    (!plan.refused.is_empty()).then(|| {
        Error::Accounts(format!(
            "IAM Identity Center cannot be planned as the file says: {} (above); nothing was changed",
            plan.refused.join("; ")
        ))
    })
}

/// `apply ORG`'s part before the confirmation: the instance planned and shown, its deletions
/// counted against `--max-deletes`.
pub(super) async fn preview<T>(
    org: &Organization,
    hub: &Hub,
    accounts: &[Account<T>],
    planned: &[Planning],
    common: &Common,
    part: Part<'_>,
) -> Result<Option<Center>, Error> {
    let Some(center) = plan(org, hub, accounts, planned, common.prune, part).await? else {
        return Ok(None);
    };
    let gap = if accounts.is_empty() { "" } else { "\n" };
    emit(&format!(
        "{gap}{}",
        render::center::text(&center.plan, Console.color())
    ))?;
    if let Some(refused) = refusal(&center.plan) {
        return Err(refused);
    }
    let count = center.plan.deletions();
    if count > common.max_deletes {
        return Err(Error::TooManyDeletes {
            count,
            max: common.max_deletes,
        });
    }
    Ok(Some(center))
}

/// Applies the instance's plan after the accounts', under Identity Center's own lock in the
/// caller's account, saying each change as it is made. Changes that need what a failed
/// account did not make are held back. Returns whether a change failed.
pub(super) async fn apply(
    org: &Organization,
    hub: &Hub,
    center: &mut Center,
    common: &Common,
    stop: &mut Stop,
    failed: &BTreeSet<String>,
    lock_timeout: Duration,
) -> Result<bool, Error> {
    let spec = org
        .identity_center
        .as_ref()
        .expect("an Identity Center plan comes from [identity_center]");
    let mut held = center::hold_back(&mut center.plan, spec, &center.live, failed, &center.labels);
    if center.plan.is_empty() {
        for note in &held {
            eprintln!("note: {note}");
        }
        return Ok(!held.is_empty());
    }
    emit("\n=== IAM Identity Center ===\n")?;
    let arn = lock::arn(&hub.caller, &format!("{}.identity-center", center.owner));
    let waiting = |h: &lock::Holder| {
        eprintln!(
            "waiting for IAM Identity Center's apply lock, held by {} since {} (at most {})",
            h.who,
            h.since,
            humantime::format_duration(lock_timeout)
        );
    };
    let taking = lock::acquire(
        &hub.api,
        arn,
        lock::holder(&hub.caller),
        lock_timeout,
        waiting,
    );
    // A signal while waiting stops before any change, as an account's apply does.
    let taken = tokio::select! {
        taken = taking => taken,
        _ = stop.next() => {
            emit("stopped by a signal while waiting for Identity Center's apply lock: nothing of Identity Center was changed\n")?;
            return Ok(true);
        }
    };
    let lock = match taken {
        Ok(lock) => lock,
        Err(lock::LockError::Held { holder, arn }) => {
            return Err(Error::Accounts(format!(
                "another apply of IAM Identity Center holds its lock: {} since {}, until {} unless it renews it. Wait for it to finish and run apply again (or pass a longer --lock-timeout); if none is running, the lock expires by itself, or remove it at once: `aws iam delete-policy --policy-arn {arn}`",
                holder.who, holder.since, holder.expires
            )));
        }
        Err(err) => return Err(err.into()),
    };
    // Another apply may have changed the instance while this one waited: plan it again.
    let again = center::plan(&center.api, spec, &center.wanted, center.options()).await;
    let outcome = match again {
        Err(err) => Err(err),
        Ok((live, mut plan)) => {
            held = center::hold_back(&mut plan, spec, &live, failed, &center.labels);
            let texts =
                |p: &CenterPlan| p.changes.iter().map(|c| c.text.clone()).collect::<Vec<_>>();
            if plan.is_empty() {
                emit("  nothing is left to do: another apply made these changes meanwhile\n")?;
                Ok(false)
            } else if texts(&plan) != texts(&center.plan) {
                Err(Error::Accounts(
                    "IAM Identity Center changed while apply waited for its lock, and the plan you confirmed is no longer what apply would do: run apply again to review the new plan; nothing of Identity Center was changed".to_owned(),
                ))
            } else {
                center.live = live;
                center.plan = plan;
                Ok(run_locked(&hub.api, &lock, center, common, stop).await?)
            }
        }
    };
    if let Err(err) = lock.release(&hub.api).await {
        eprintln!("warning: {err}");
    }
    for note in &held {
        eprintln!("note: {note}");
    }
    Ok(outcome? || !held.is_empty())
}

/// The apply itself, the lock renewed while it runs; a lost lock stops it before its next
/// change.
async fn run_locked(
    api: &crate::live::aws::AwsIam,
    lock: &lock::Lock,
    center: &Center,
    common: &Common,
    stop: &Stop,
) -> Result<bool, Error> {
    let lost = AtomicBool::new(false);
    let settings = Settings {
        owner: &center.owner,
        patience: common.aws.retry_timeout(),
        poll: Duration::from_secs(1),
        stop,
        halt: Some(&lost),
    };
    let applying =
        apply_center::apply(&center.api, &center.live, &center.plan, &settings, |line| {
            let _ = emit(&format!("  {line}\n"));
        });
    let keeping = async {
        let err = lock.keep(api).await;
        eprintln!("error: {err}");
        lost.store(true, Ordering::SeqCst);
        // The apply stops before its next change, and ends this wait.
        std::future::pending::<()>().await;
    };
    let outcome = tokio::select! {
        outcome = applying => outcome,
        () = keeping => unreachable!("keeping ends only with the apply"),
    };
    emit(&render::center::outcome(&outcome))?;
    Ok(outcome.failed.is_some() || outcome.stopped.is_some() || outcome.halted)
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
