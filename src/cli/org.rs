//! The commands for an organization file: `accounts`, `plan`, `apply` (and a saved plan of
//! the whole organization), `credentials` and `export --organization`. What runs the accounts
//! is `crate::org`; this wires it to the terminal and turns outcomes into exit codes.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;

use futures::StreamExt as _;
use serde_json::{Value, json};

use super::{
    Aws, Common, Console, Targeting, confirm, emit, plan_key, write_export, write_new_file,
};
use crate::live::aws::{AwsIam, AwsOrganizations, AwsPolicies, Needs};
use crate::live::{self, Caller, IamApi, ReadError};
use crate::org::run::{self, Account, Applied, Flags, Hub};
use crate::org::{self, Target};
use crate::plan::Plan;
use crate::plan::saved::{self, SavedError, SavedOptions, SavedPlan};
use crate::render;
use crate::secrets::SecretsDir;
use crate::session::{self, Error, Run, Stop, Terminal};
use crate::spec::SpecError;
use crate::spec::organization::{self, Organization};

/// The format of a saved organization plan.
const FORMAT: u32 = 1;

/// One account's output, collected while it runs and shown under its header when it is done;
/// what it says (waits, notes) goes to standard error at once, naming the account.
pub(super) struct Collected {
    label: String,
    color: bool,
    out: Mutex<String>,
}

impl Collected {
    fn new(target: &Target) -> Self {
        Self {
            label: target.label(),
            color: Console.color(),
            out: Mutex::new(String::new()),
        }
    }

    fn take(&self) -> String {
        self.out
            .lock()
            .map(|mut o| std::mem::take(&mut *o))
            .unwrap_or_default()
    }
}

impl Terminal for Collected {
    fn show(&self, text: &str) -> Result<(), Error> {
        if let Ok(mut out) = self.out.lock() {
            out.push_str(text);
        }
        Ok(())
    }

    fn say(&self, line: &str) {
        eprintln!("account {}: {}", self.label, line.trim_start());
    }

    fn color(&self) -> bool {
        self.color
    }
}

/// The organization file, checked offline: every layer, and when the targets are known
/// without asking AWS (ids only), every account's merged spec too.
fn load(path: &Path) -> Result<Organization, Error> {
    let org = organization::load(path)?;
    if !org.needs_organizations() {
        let resolved = org::resolve(&org, None)?;
        let mut problems = Vec::new();
        for target in &resolved.targets {
            if let Err(SpecError::Invalid(mut found)) = org::spec_offline(&org, target) {
                problems.append(&mut found);
            }
        }
        if !problems.is_empty() {
            problems.sort_by(|a, b| (&a.file, a.at).cmp(&(&b.file, b.at)));
            problems.dedup();
            return Err(SpecError::Invalid(problems).into());
        }
    }
    Ok(org)
}

/// `iamspec validate ORG`: the organization file and every layer, offline; when the targets
/// are account ids, every account's merged spec too, with the linter's findings (a target
/// by name, OU or tag is merged when it is planned: which accounts it takes is AWS's to say).
pub(super) fn validate(path: &Path, strict: bool, json: bool) -> Result<ExitCode, Error> {
    let org = load(path)?;
    let mut notes = std::collections::BTreeSet::new();
    let mut errors = 0;
    let offline = !org.needs_organizations();
    let mut specs = BTreeMap::new();
    if offline {
        for target in org::resolve(&org, None)?.targets {
            let spec = org::spec_offline(&org, &target)?;
            let (found, found_errors) = session::spec_notes(&spec);
            notes.extend(found);
            errors += found_errors;
            specs.insert(target.id, spec);
        }
    }
    if let Some(center) = &org.identity_center {
        notes.extend(center.notes.iter().cloned());
        if offline {
            // Every account is known: each customer-managed policy a permission set names
            // must be declared by the layers of each account it is assigned to.
            let (wanted, _) = org::center::wanted(&org, center, None)?;
            let known = specs
                .iter()
                .map(|(id, spec)| {
                    let known = org::center::Known {
                        spec: Some(spec),
                        live: None,
                    };
                    (id.clone(), known)
                })
                .collect();
            let (problems, unchecked) = org::center::check_references(center, &wanted, &known);
            errors += problems.len();
            notes.extend(problems.into_iter().map(|p| format!("error: {p}")));
            notes.extend(unchecked);
            notes.extend(org::center::escalations(center, &wanted, &known));
        } else {
            // Which accounts a permission set is assigned to is AWS's to say: its own
            // documents are checked together all the same.
            notes.extend(org::center::escalations(center, &[], &BTreeMap::new()));
        }
    }
    let passes = errors == 0 && (!strict || notes.is_empty());
    if json {
        let report = json!({
            "file": org.file.display().to_string(),
            "valid": passes,
            "targets": org.targets.len(),
            "layers": org.layers.keys().collect::<Vec<_>>(),
            "accounts_merged": offline,
            "notes": notes,
        });
        let mut report = report;
        if let Some(center) = &org.identity_center {
            report["identity_center"] = json!({
                "users": center.users.len(),
                "groups": center.groups.len(),
                "permission_sets": center.permission_sets.len(),
                "assignments": center.assignments.len(),
            });
        }
        let mut text = serde_json::to_string_pretty(&report).expect("JSON serialises");
        text.push('\n');
        emit(&text)?;
    } else {
        for note in &notes {
            eprintln!("{note}");
        }
        let merged = if offline {
            "every account's merged spec checked"
        } else {
            "each account's merged spec is checked when it is planned (its targets need AWS Organizations)"
        };
        let center = org.identity_center.as_ref().map_or_else(String::new, |c| {
            let count =
                |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
            format!(
                "; IAM Identity Center: {}, {}, {}, {}",
                count(c.users.len(), "user"),
                count(c.groups.len(), "group"),
                count(c.permission_sets.len(), "permission set"),
                count(c.assignments.len(), "assignment"),
            )
        });
        emit(&format!(
            "{} {}: {} target{}, {} layer{}{center}; {merged}.\n",
            org.file.display(),
            if passes { "is valid" } else { "is not valid" },
            org.targets.len(),
            if org.targets.len() == 1 { "" } else { "s" },
            org.layers.len(),
            if org.layers.len() == 1 { "" } else { "s" },
        ))?;
    }
    Ok(if passes {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The caller's connection and who they are.
async fn hub(aws: &Aws) -> Result<Hub, Error> {
    let (config, key) = crate::live::aws::load(&aws.connection()?)
        .await
        .map_err(Error::Connect)?;
    let mut api = AwsIam::from_config(&config);
    api.set_access_key_id(key);
    let caller = live::read_caller(&api).await?;
    Ok(Hub {
        config,
        caller,
        api,
        aws_policies: std::sync::Arc::default(),
        listing: None,
    })
}

/// The caller's connection and the target accounts (`--accounts` and `--shard` applied),
/// read side by side: who the caller is, and AWS Organizations, read only when a target needs
/// it and only as far as it does (OUs, tags).
pub(super) async fn connect(
    org: &Organization,
    aws: &Aws,
    targeting: &Targeting,
    calls: &mut BTreeMap<&'static str, u64>,
) -> Result<(Hub, Vec<Target>), Error> {
    let (config, key) = crate::live::aws::load(&aws.connection()?)
        .await
        .map_err(Error::Connect)?;
    let aws_policies = std::sync::Arc::new(AwsPolicies::default());
    let mut api = AwsIam::from_config(&config);
    api.set_access_key_id(key);
    api.share_aws_policies(std::sync::Arc::clone(&aws_policies));
    let organizations = AwsOrganizations::new(&config);
    // AWS Organizations is read whenever the file selects any account: what its selectors
    // take needs it, and ids named directly are checked against it (a suspended, closed or
    // departed account is skipped). It must be readable only when a selector needs it.
    let listing = async {
        if org.selectors().next().is_none() {
            return Ok(None);
        }
        let needs = Needs {
            ous: org.selectors().any(|s| !s.ous.is_empty()),
            tags: org.selectors().any(|s| !s.tags.is_empty()),
        };
        match organizations.list(needs).await {
            Ok(listing) => Ok::<_, Error>(Some(listing)),
            Err(source) if org.needs_organizations() => Err(ReadError::Api {
                what: "read the organization's accounts (organizations:ListAccounts, and for OUs and tags ListRoots, ListOrganizationalUnitsForParent, ListAccountsForParent, ListTagsForResource): run iamspec from the management account or a delegated administrator".to_owned(),
                source,
            }
            .into()),
            Err(source) => {
                eprintln!(
                    "note: AWS Organizations could not be read ({source}): the account ids of the file are used as written, not checked against the organization (a suspended, closed or departed account is not skipped); run iamspec from the management account or a delegated administrator to have them checked"
                );
                Ok(None)
            }
        }
    };
    let caller = async { live::read_caller(&api).await.map_err(Error::from) };
    let (caller, mut listing) = futures::try_join!(caller, listing)?;
    merge_calls(calls, &organizations.calls());
    // Every caller is a member of its organization: a listing without the caller's own
    // account is not this organization's (an endpoint that answers a member account with an
    // empty list, say), and checking ids against it would skip every account.
    if !org.needs_organizations()
        && listing
            .as_ref()
            .is_some_and(|l| !l.members.iter().any(|m| m.id == caller.account))
    {
        eprintln!(
            "note: AWS Organizations' list of accounts does not hold the caller's own account {}: the account ids of the file are used as written, not checked against it",
            caller.account
        );
        listing = None;
    }
    let resolved = org::resolve(org, listing.as_ref())?;
    if let Some(center) = &org.identity_center {
        // Checked now, before any account is read: an assignment's OU or account that the
        // organization does not have is the file's mistake.
        org::center::wanted(org, center, listing.as_ref())?;
    }
    for skipped in &resolved.skipped {
        eprintln!("note: {skipped}");
    }
    for warning in &resolved.warnings {
        eprintln!("{warning}");
    }
    let targets = org::select(resolved.targets, &targeting.accounts, targeting.shard)
        .map_err(Error::Usage)?;
    Ok((
        Hub {
            config,
            caller,
            api,
            aws_policies,
            listing,
        },
        targets,
    ))
}

pub(super) fn merge_calls(
    into: &mut BTreeMap<&'static str, u64>,
    from: &BTreeMap<&'static str, u64>,
) {
    for (action, n) in from {
        *into.entry(action).or_default() += n;
    }
}

/// Every call made: the caller's, Organizations' and each account's.
fn all_calls<T>(
    hub: &Hub,
    accounts: &[Account<T>],
    mut calls: BTreeMap<&'static str, u64>,
) -> BTreeMap<&'static str, u64> {
    merge_calls(&mut calls, &hub.api.calls());
    for account in accounts {
        if let Ok((_, Some(api))) = &account.ready {
            merge_calls(&mut calls, &api.calls());
        }
    }
    calls
}

/// Each account's secrets go to a directory of its own inside `--secrets-dir`.
fn secrets_dir(common: &Common, target: &Target) -> PathBuf {
    common.secrets_dir.join(&target.id)
}

fn flags(common: &Common) -> Flags {
    Flags {
        prune: common.prune,
        replace_lost_keys: common.replace_lost_keys,
        adopt_keys: common.adopt_keys,
        list_keys: common.list_keys,
    }
}

/// Shows each note of the accounts' specs once, however many accounts share it.
fn show_notes<T>(accounts: &[Account<T>]) {
    let mut seen = std::collections::BTreeSet::new();
    for note in accounts.iter().flat_map(|a| &a.notes) {
        if seen.insert(note) {
            eprintln!("{note}");
        }
    }
}

/// `iamspec accounts ORG`: the targets and their layers.
pub(super) async fn accounts(
    path: &Path,
    aws: &Aws,
    targeting: &Targeting,
    json: bool,
) -> Result<ExitCode, Error> {
    accounts_only(targeting, "accounts")?;
    let org = load(path)?;
    let mut calls = BTreeMap::new();
    let (hub, targets) = connect(&org, aws, targeting, &mut calls).await?;
    aws.print_calls(&all_calls::<session::Silent>(&hub, &[], calls));
    let dir = org.file.parent().unwrap_or_else(|| Path::new(""));
    let specs = |t: &Target| -> Vec<String> {
        t.layers
            .iter()
            .map(|l| dir.join(l).display().to_string())
            .collect()
    };
    if json {
        let accounts: Vec<Value> = targets
            .iter()
            .map(|t| json!({ "id": t.id, "name": t.name, "specs": specs(t) }))
            .collect();
        let mut text = serde_json::to_string_pretty(&json!({ "accounts": accounts }))
            .expect("JSON serialises");
        text.push('\n');
        emit(&text)?;
    } else {
        let mut text = String::new();
        for t in &targets {
            let _ = writeln!(
                text,
                "{}  {}  {}",
                t.id,
                t.name
                    .as_deref()
                    .map_or_else(|| "-".to_owned(), render::untrusted),
                specs(t).join(", ")
            );
        }
        let _ = writeln!(
            text,
            "{} account{}.",
            targets.len(),
            if targets.len() == 1 { "" } else { "s" }
        );
        emit(&text)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The rows of a rendering, one per account.
fn rows<'a, T>(
    accounts: &'a [Account<T>],
    planned: &'a [run::Planning],
    max_deletes: usize,
) -> Vec<render::org::Row<'a>> {
    accounts
        .iter()
        .zip(planned)
        .map(|(account, planned)| {
            let (plan, error) = match (&account.ready, planned) {
                (Err(err), _) | (Ok(_), Err(err)) => (None, Some(err.to_string())),
                (Ok(_), Ok((planned, _))) => {
                    let too_many = session::check_deletions(&planned.plan, max_deletes).err();
                    (Some(&planned.plan), too_many.map(|e| e.to_string()))
                }
            };
            let status = match (&error, plan) {
                (Some(_), _) => "error",
                (None, Some(p)) if p.needs_attention() => "changes",
                _ => "no changes",
            };
            render::org::Row {
                id: &account.target.id,
                name: account.target.name.as_deref(),
                plan,
                error,
                status: status.to_owned(),
                secrets_dir: &account.secrets_dir,
            }
        })
        .collect()
}

/// `iamspec plan ORG`: every target planned concurrently; an account that cannot be planned
/// is reported while the others are, and makes the exit code 1.
pub(super) async fn plan(
    path: &Path,
    common: &Common,
    format: Format,
    detailed_exitcode: bool,
    out: Option<&Path>,
) -> Result<ExitCode, Error> {
    if let Some(out) = out {
        saved::check_out(out, path)?;
    }
    let org = load(path)?;
    // A saved plan holds accounts only. A shard's may leave Identity Center to the one run
    // that plans it as a whole (`--identity-center-only`, the CI recipe's own job).
    let center_saved_apart = out.is_some() && org.identity_center.is_some();
    if center_saved_apart && !common.targeting.scopes() {
        return Err(Error::Usage(
            "a saved plan does not take [identity_center] yet: plan and apply the organization file itself, or save each shard's accounts (--shard K/N --out FILE) and plan and apply Identity Center with --identity-center-only".to_owned(),
        ));
    }
    let mut calls = BTreeMap::new();
    let (hub, targets) = connect(&org, &common.aws, &common.targeting, &mut calls).await?;
    let (targets, offline) = split_center_only(&org, &common.targeting, targets)?;
    let make = |t: &Target| (Collected::new(t), secrets_dir(common, t));
    let (accounts, planned) =
        run::prepare_and_plan(&org, &hub, targets, flags(common), make, true).await;
    show_notes(&accounts);
    let rows = rows(&accounts, &planned, common.max_deletes);
    let part = part(&common.targeting, &accounts, &offline);
    let center = if center_saved_apart {
        eprintln!(
            "note: [identity_center] is not part of a saved plan: plan and apply it with --identity-center-only (after the accounts, as the CI recipe's identity-center jobs do)"
        );
        Ok(None)
    } else {
        super::center::plan(&org, &hub, &accounts, &planned, common.prune, part).await
    };
    if let Ok(Some(center)) = &center {
        merge_calls(&mut calls, &center.calls());
    }
    let center_plan = center
        .as_ref()
        .ok()
        .and_then(|c| c.as_ref())
        .map(|c| &c.plan);
    emit(&shown(format, &rows, center_plan))?;
    common.aws.print_calls(&all_calls(&hub, &accounts, calls));
    let center = center?;
    if let Some(refused) = center
        .as_ref()
        .and_then(|c| super::center::refusal(&c.plan))
    {
        return Err(refused);
    }
    let failed = rows.iter().filter(|r| r.error.is_some()).count();
    if failed > 0 {
        return Err(Error::Accounts(format!(
            "{failed} of {} accounts could not be planned (their errors are above)",
            rows.len()
        )));
    }
    if let Some(out) = out {
        let file = saved_plan(&org, common, &hub, &accounts, &planned);
        saved::check_out(out, path)?;
        write_new_file(out, &file)?;
        eprintln!(
            "Saved the plan of {} accounts to {}: `iamspec apply {}` applies exactly it, and refuses if the organization, a layer, an account's targeting or anything a change touches has changed meanwhile.",
            accounts.len(),
            out.display(),
            out.display()
        );
    }
    let attention = rows
        .iter()
        .any(|r| r.plan.is_some_and(Plan::needs_attention))
        || center.is_some_and(|c| !c.plan.is_empty());
    Ok(if detailed_exitcode && attention {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// The plan of every account and of Identity Center, as `format` shows it.
fn shown(
    format: Format,
    rows: &[render::org::Row<'_>],
    center_plan: Option<&crate::plan::center::CenterPlan>,
) -> String {
    // Identity Center alone (no targets, or --identity-center-only): no accounts table.
    let center_alone = rows.is_empty() && center_plan.is_some();
    match format {
        Format::Text => {
            let mut text = if center_alone {
                String::new()
            } else {
                render::org::text(rows, Console.color())
            };
            if let Some(plan) = center_plan {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(&render::center::text(plan, Console.color()));
            }
            text
        }
        Format::Json => {
            let mut value: Value =
                serde_json::from_str(&render::org::json(rows)).expect("the plan's JSON reads back");
            if let Some(plan) = center_plan {
                value["identity_center"] = render::center::json(plan);
            }
            let mut text = serde_json::to_string_pretty(&value).expect("JSON serialises");
            text.push('\n');
            text
        }
        Format::Markdown => {
            let mut text = if center_alone {
                String::new()
            } else {
                render::org::markdown(rows)
            };
            if let Some(plan) = center_plan {
                let _ = write!(
                    text,
                    "{}### IAM Identity Center\n\n```diff\n{}```\n",
                    if text.is_empty() { "" } else { "\n" },
                    render::center::text(plan, false).replace("```", "` ` `")
                );
            }
            text
        }
    }
}

/// How a plan is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    Text,
    Json,
    Markdown,
}

/// `iamspec apply ORG`: one plan and one confirmation for the whole organization, then each
/// account under its own lock, accounts in parallel, then Identity Center under its own.
#[allow(clippy::too_many_lines)] // one confirmation, the accounts, then Identity Center
pub(super) async fn apply(
    path: &Path,
    common: &Common,
    yes: bool,
    run: Run,
    max_failed: usize,
) -> Result<ExitCode, Error> {
    let org = load(path)?;
    let mut calls = BTreeMap::new();
    let (hub, targets) = connect(&org, &common.aws, &common.targeting, &mut calls).await?;
    let (targets, offline) = split_center_only(&org, &common.targeting, targets)?;
    let make = |t: &Target| (Collected::new(t), secrets_dir(common, t));
    let (accounts, planned) =
        run::prepare_and_plan(&org, &hub, targets, flags(common), make, false).await;
    show_notes(&accounts);
    let mut rows = rows(&accounts, &planned, common.max_deletes);
    let center_only = (org.targets.is_empty() || common.targeting.identity_center_only)
        && org.identity_center.is_some();
    if !center_only {
        emit(&render::org::text(&rows, Console.color()))?;
    }
    let part = part(&common.targeting, &accounts, &offline);
    let mut center = super::center::preview(&org, &hub, &accounts, &planned, common, part).await?;
    let center_changes = center.as_ref().map_or(0, |c| c.plan.changes.len());
    // What must hold before any account is applied: its secrets directory takes secrets.
    for (row, account) in rows.iter_mut().zip(&accounts) {
        if let (None, Some(plan)) = (&row.error, row.plan) {
            let secrets = SecretsDir::new(&account.secrets_dir);
            if let Err(err) = session::check_before_apply(plan, common.max_deletes, &secrets) {
                eprintln!("error: account {}: {err}", account.target.label());
                row.error = Some(err.to_string());
            }
        }
    }
    let unplanned = rows.iter().filter(|r| r.error.is_some()).count();
    if unplanned > max_failed {
        common.aws.print_calls(&all_calls(&hub, &accounts, calls));
        return Err(Error::Accounts(format!(
            "{unplanned} account{} cannot be applied (above), more than --max-failed-accounts {max_failed} allows; nothing was changed",
            if unplanned == 1 { "" } else { "s" }
        )));
    }
    let with_changes = rows
        .iter()
        .filter(|r| r.error.is_none() && r.plan.is_some_and(|p| !p.is_empty()))
        .count();
    if with_changes == 0 && center_changes == 0 {
        common.aws.print_calls(&all_calls(&hub, &accounts, calls));
        return Ok(if unplanned > 0 {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        });
    }
    if !yes {
        let what = what_changes(with_changes, center_changes);
        confirm(&format!(
            "\nApply these changes to {what}? Only 'y' or 'yes' applies. [y/N] "
        ))?;
    }
    let plans: Vec<Option<(Plan, Caller)>> = rows
        .iter()
        .zip(&planned)
        .map(|(row, planned)| match (&row.error, planned) {
            (None, Ok((planned, caller))) => Some((planned.plan.clone(), caller.clone())),
            _ => None,
        })
        .collect();
    let mut stop = Stop::listen()?;
    let applied = run::apply(
        &accounts,
        &hub,
        &plans,
        run,
        yes,
        &stop,
        org.concurrency,
        max_failed,
        show_applied,
    )
    .await;
    let (table, signal, failed) = outcomes(&accounts, &applied, &rows, &plans);
    if !center_only {
        emit(&render::org::table(&table))?;
    }
    let mut center_failed = false;
    if let Some(center) = &mut center
        && signal.or_else(|| stop.requested()).is_none()
    {
        let failed = not_applied(&accounts, &applied, &rows);
        center_failed = super::center::apply(
            &org,
            &hub,
            center,
            common,
            &mut stop,
            &failed,
            run.lock_timeout,
        )
        .await?;
    }
    if let Some(center) = &center {
        merge_calls(&mut calls, &center.calls());
    }
    common.aws.print_calls(&all_calls(&hub, &accounts, calls));
    if let Some(code) = signal.or_else(|| stop.requested()) {
        return Ok(ExitCode::from(code));
    }
    Ok(if failed > 0 || unplanned > 0 || center_failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// A command about the accounts refuses `--identity-center-only`, which selects none.
fn accounts_only(targeting: &Targeting, command: &str) -> Result<(), Error> {
    if targeting.identity_center_only {
        return Err(Error::Usage(format!(
            "--identity-center-only is for plan and apply; `{command}` is about the accounts"
        )));
    }
    Ok(())
}

/// `--identity-center-only`: no account is planned; the targets are kept aside, for what
/// their layers say of the customer-managed policies permission sets reference.
fn split_center_only(
    org: &Organization,
    targeting: &Targeting,
    targets: Vec<Target>,
) -> Result<(Vec<Target>, Vec<Target>), Error> {
    if !targeting.identity_center_only {
        return Ok((targets, Vec::new()));
    }
    if org.identity_center.is_none() {
        return Err(Error::Usage(format!(
            "--identity-center-only plans IAM Identity Center, and {} has no [identity_center]",
            org.file.display()
        )));
    }
    Ok((Vec::new(), targets))
}

/// Which part of Identity Center this run takes: with `--accounts` or `--shard`, only the
/// selected accounts' assignments and provisioning.
fn part<'a, T>(
    targeting: &Targeting,
    accounts: &[Account<T>],
    offline: &'a [Target],
) -> super::center::Part<'a> {
    super::center::Part {
        scope: targeting
            .scopes()
            .then(|| accounts.iter().map(|a| a.target.id.clone()).collect()),
        offline,
    }
}

/// The accounts that did not apply whole: what Identity Center needs of them may be missing.
fn not_applied<T>(
    accounts: &[Account<T>],
    applied: &[Applied],
    rows: &[render::org::Row<'_>],
) -> std::collections::BTreeSet<String> {
    accounts
        .iter()
        .zip(applied)
        .zip(rows)
        .filter(|((_, applied), row)| {
            row.error.is_some() || !matches!(applied, Applied::Done(0) | Applied::NothingToDo)
        })
        .map(|((account, _), _)| account.target.id.clone())
        .collect()
}

/// An account's output once it is applied, under its header.
fn show_applied(account: &Account<Collected>, applied: &Applied) {
    let output = account.terminal.take();
    if output.trim().is_empty() && matches!(applied, Applied::NothingToDo | Applied::NotStarted) {
        return;
    }
    let mut text = format!("=== account {} ===\n{output}", account.target.label());
    if let Applied::Failed(err) = applied {
        let _ = writeln!(text, "error: {err}");
    }
    text.push('\n');
    let _ = emit(&text);
}

/// What the confirmation names: the accounts with changes, and Identity Center.
fn what_changes(accounts: usize, center: usize) -> String {
    let plural = if accounts == 1 { "" } else { "s" };
    match (accounts, center) {
        (0, _) => "IAM Identity Center".to_owned(),
        (n, 0) => format!("{n} account{plural}"),
        (n, _) => format!("{n} account{plural} and IAM Identity Center"),
    }
}

/// The table after an apply, the signal that stopped it (if one did), and how many accounts
/// failed.
fn outcomes<'a, T>(
    accounts: &'a [Account<T>],
    applied: &[Applied],
    rows: &[render::org::Row<'_>],
    plans: &'a [Option<(Plan, Caller)>],
) -> (Vec<render::org::Row<'a>>, Option<u8>, usize) {
    let mut signal = None;
    let mut failed = 0;
    let mut table: Vec<render::org::Row<'a>> = Vec::new();
    for ((account, applied), (row, plan)) in
        accounts.iter().zip(applied).zip(rows.iter().zip(plans))
    {
        let status = match applied {
            Applied::Done(0) => "applied".to_owned(),
            Applied::Done(1) => {
                failed += 1;
                "failed".to_owned()
            }
            Applied::Done(code) => {
                signal = Some(*code);
                "stopped".to_owned()
            }
            Applied::NothingToDo => "no changes".to_owned(),
            Applied::NotStarted => "not started".to_owned(),
            Applied::Failed(err) => {
                failed += 1;
                if let Error::Interrupted { code } | Error::Stopped { code } = err {
                    signal = Some(*code);
                }
                "failed".to_owned()
            }
        };
        table.push(render::org::Row {
            id: &account.target.id,
            name: account.target.name.as_deref(),
            plan: plan.as_ref().map(|(p, _)| p),
            error: row.error.clone(),
            status,
            secrets_dir: &account.secrets_dir,
        });
    }
    (table, signal, failed)
}

/// The saved plan of every account, and what targeted them, sealed as one.
fn saved_plan<T>(
    org: &Organization,
    common: &Common,
    hub: &Hub,
    accounts: &[Account<T>],
    planned: &[run::Planning],
) -> String {
    let key = plan_key();
    let options = SavedOptions {
        prune: common.prune,
        replace_lost_keys: common.replace_lost_keys,
        adopt_keys: common.adopt_keys,
        list_keys: common.list_keys,
    };
    let mut saved = Vec::new();
    for (account, planned) in accounts.iter().zip(planned) {
        if let (Ok((spec, _)), Ok((planned, _))) = (&account.ready, planned) {
            let plan = SavedPlan::new(&planned.plan, spec, &planned.live, options, key.as_deref());
            saved.push(json!({
                "account": account.target.id,
                "name": account.target.name,
                "layers": account.target.layers,
                "plan": serde_json::from_str::<Value>(&plan.to_json()).expect("a saved plan reads back"),
            }));
        }
    }
    let mut value = json!({
        "iamspec_saved_organization_plan": FORMAT,
        "iamspec_version": env!("CARGO_PKG_VERSION"),
        "organization": {
            // Absolute, so that `apply FILE` finds it from any directory.
            "path": std::path::absolute(&org.file).unwrap_or_else(|_| org.file.clone()),
            "digest": crate::digest::of(org.text.as_bytes()),
        },
        "caller": hub.caller.arn,
        "targeting": {
            "accounts": common.targeting.accounts,
            "shard": common.targeting.shard.map(|s| format!("{}/{}", s.index, s.count)),
        },
        "accounts": saved,
    });
    let seal = saved::seal_of(&mut value, key.as_deref());
    value["seal"] = Value::String(seal);
    let mut text = serde_json::to_string_pretty(&value).expect("JSON serialises");
    text.push('\n');
    text
}

/// Whether the file is a saved organization plan.
pub(super) fn is_saved_organization_plan(path: &Path) -> bool {
    saved::is_saved_plan(path)
        && crate::spec::files::read_text(path, 64 << 20)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .is_some_and(|v| v.get("iamspec_saved_organization_plan").is_some())
}

/// `iamspec apply FILE` for an organization's saved plan: the file's seal, the organization
/// file and the targeting are checked first (an account that moved out of an OU, or was
/// tagged, refuses the whole plan), then each account as a saved plan is.
/// A saved organization plan, read: the file's seal checked, the organization file the same
/// as when the plan was made.
struct SavedOrganization {
    org: Organization,
    targeting: Targeting,
    /// Each account's layers then, and its saved plan (its own seal checked too).
    plans: BTreeMap<String, (Vec<String>, SavedPlan)>,
}

fn read_saved(file: &Path, key: Option<&[u8]>) -> Result<SavedOrganization, Error> {
    let refuse = |reason: String| {
        Error::Saved(SavedError::Tampered {
            path: file.to_owned(),
            reason,
        })
    };
    let text = crate::spec::files::read_text(file, 64 << 20).map_err(|err| {
        Error::Saved(SavedError::Read {
            path: file.to_owned(),
            reason: err.to_string(),
        })
    })?;
    let mut value: Value = serde_json::from_str(&text).map_err(|err| refuse(err.to_string()))?;
    let made_by = value["iamspec_version"]
        .as_str()
        .unwrap_or("of an unknown version")
        .to_owned();
    if value["iamspec_saved_organization_plan"].as_u64() != Some(u64::from(FORMAT))
        || made_by != env!("CARGO_PKG_VERSION")
    {
        return Err(Error::Saved(SavedError::Version {
            path: file.to_owned(),
            made_by,
            format: u32::try_from(
                value["iamspec_saved_organization_plan"]
                    .as_u64()
                    .unwrap_or(0),
            )
            .unwrap_or(u32::MAX),
        }));
    }
    saved::check_seal(&mut value, key).map_err(refuse)?;
    let org_path = PathBuf::from(value["organization"]["path"].as_str().unwrap_or_default());
    let org = load(&org_path)?;
    if value["organization"]["digest"].as_str()
        != Some(crate::digest::of(org.text.as_bytes()).as_str())
    {
        return Err(Error::Saved(SavedError::SpecChanged {
            spec: org_path,
            changed: vec!["the organization file's text changed".to_owned()],
        }));
    }
    let targeting = Targeting {
        accounts: value["targeting"]["accounts"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        shard: value["targeting"]["shard"]
            .as_str()
            .and_then(|s| s.parse().ok()),
        identity_center_only: false,
    };
    let mut plans = BTreeMap::new();
    for entry in value["accounts"].as_array().into_iter().flatten() {
        let id = entry["account"].as_str().unwrap_or_default().to_owned();
        let layers: Vec<String> = strings(&entry["layers"]);
        let plan = SavedPlan::from_value(entry["plan"].clone(), file, key)?;
        plans.insert(id, (layers, plan));
    }
    Ok(SavedOrganization {
        org,
        targeting,
        plans,
    })
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Refuses a saved plan whose targets are not today's: an account that moved between OUs,
/// was tagged, joined or left.
fn check_targets(
    now: &[Target],
    plans: &BTreeMap<String, (Vec<String>, SavedPlan)>,
) -> Result<(), Error> {
    let mut moved = Vec::new();
    for target in now {
        match plans.get(&target.id) {
            None => moved.push(format!(
                "account {} is a target now, and was not when the plan was made",
                target.label()
            )),
            Some((layers, _)) if *layers != target.layers => moved.push(format!(
                "account {} now gets {}, and got {} when the plan was made",
                target.label(),
                target.layers.join(", "),
                layers.join(", ")
            )),
            Some(_) => {}
        }
    }
    for id in plans.keys() {
        if !now.iter().any(|t| t.id == *id) {
            moved.push(format!("account {id} is no longer a target"));
        }
    }
    if moved.is_empty() {
        Ok(())
    } else {
        Err(Error::Saved(SavedError::Stale { changed: moved }))
    }
}

pub(super) async fn apply_saved(
    file: &Path,
    common: &Common,
    run: Run,
    max_failed: usize,
) -> Result<ExitCode, Error> {
    let SavedOrganization {
        org,
        targeting,
        plans,
    } = read_saved(file, plan_key().as_deref())?;
    let mut calls = BTreeMap::new();
    let (hub, now) = connect(&org, &common.aws, &targeting, &mut calls).await?;
    check_targets(&now, &plans)?;
    let flags = {
        let any = plans
            .values()
            .next()
            .map(|(_, p)| p.options)
            .unwrap_or_default();
        Flags {
            prune: any.prune,
            replace_lost_keys: any.replace_lost_keys,
            adopt_keys: any.adopt_keys,
            list_keys: any.list_keys,
        }
    };
    let accounts = run::prepare(&org, &hub, now, flags, |t| {
        (Collected::new(t), secrets_dir(common, t))
    })
    .await;
    show_notes(&accounts);
    for account in &accounts {
        let (_, plan) = &plans[&account.target.id];
        if let Ok((spec, _)) = &account.ready {
            plan.check_spec(spec)?;
        }
    }
    let stop = Stop::listen()?;
    let failed = std::sync::atomic::AtomicUsize::new(0);
    let (hub, failed, plans) = (&hub, &failed, &plans);
    let runs = accounts.iter().map(|account| {
        let mut stop = stop.clone();
        let (_, plan) = &plans[&account.target.id];
        async move {
            let result = if stop.requested().is_some()
                || failed.load(std::sync::atomic::Ordering::SeqCst) > max_failed
            {
                None
            } else {
                Some(
                    async {
                        let session = account
                            .session(hub)
                            .map_err(|e| Error::Accounts(e.to_string()))?;
                        let caller = live::read_caller(session.api).await?;
                        plan.check_account(&caller.account)?;
                        if plan.is_empty() {
                            return Ok(0);
                        }
                        session.apply_saved(plan, &caller, run, &mut stop).await
                    }
                    .await,
                )
            };
            if matches!(result, Some(Err(_) | Ok(1))) {
                failed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            let output = account.terminal.take();
            let mut text = format!("=== account {} ===\n{output}", account.target.label());
            match &result {
                Some(Err(err)) => {
                    let _ = writeln!(text, "error: {err}");
                }
                None => text.push_str("not started\n"),
                _ => {}
            }
            text.push('\n');
            let _ = emit(&text);
            result
        }
    });
    let results: Vec<Option<Result<u8, Error>>> = futures::stream::iter(runs)
        .buffered(org.concurrency)
        .collect()
        .await;
    common.aws.print_calls(&all_calls(hub, &accounts, calls));
    let mut code = 0u8;
    for result in &results {
        match result {
            Some(Ok(0)) => {}
            Some(Ok(c)) if *c > 1 => code = *c,
            Some(Err(Error::Interrupted { code: c } | Error::Stopped { code: c })) => code = *c,
            None if stop.requested().is_some() => code = stop.requested().unwrap_or(1),
            _ if code == 0 => code = 1,
            _ => {}
        }
    }
    Ok(ExitCode::from(code))
}

/// `iamspec credentials ORG`: every target account's credential report in one table (or
/// one JSON object, `{"accounts": [{"account", "name", "report"} | {..., "error"}]}`).
pub(super) async fn credentials(
    path: &Path,
    aws: &Aws,
    targeting: &Targeting,
    json: bool,
    detailed_exitcode: bool,
) -> Result<ExitCode, Error> {
    accounts_only(targeting, "credentials")?;
    let org = load(path)?;
    let mut calls = BTreeMap::new();
    let (hub, targets) = connect(&org, aws, targeting, &mut calls).await?;
    let flags = Flags {
        prune: false,
        replace_lost_keys: false,
        adopt_keys: false,
        list_keys: false,
    };
    let accounts = run::prepare(&org, &hub, targets, flags, |_| {
        (session::Silent, PathBuf::new())
    })
    .await;
    let hub = &hub;
    let reads = accounts.iter().map(|account| async move {
        let (spec, api) = account.ready.as_ref().map_err(ToString::to_string)?;
        let api = api.as_ref().unwrap_or(&hub.api);
        let report = api.credential_report().await.map_err(|e| e.to_string())?;
        Ok::<_, String>(crate::credentials::assess(&report, Some(spec), api.now()))
    });
    let assessed: Vec<Result<crate::credentials::Assessment, String>> =
        futures::stream::iter(reads)
            .buffered(org.concurrency)
            .collect()
            .await;
    let identities = super::center::identities(&org, hub).await?;
    let federated: Vec<Vec<crate::credentials::Federated>> = accounts
        .iter()
        .zip(&assessed)
        .map(|(account, assessed)| match (assessed, &account.ready) {
            (Ok(assessment), Ok((spec, _))) => {
                crate::credentials::federated(assessment, Some(spec), &identities)
            }
            _ => Vec::new(),
        })
        .collect();
    aws.print_calls(&all_calls(hub, &accounts, calls));
    let mut breaks = false;
    let mut failed = 0;
    if json {
        let list: Vec<Value> = accounts
            .iter()
            .zip(&assessed)
            .zip(&federated)
            .map(|((a, r), federated)| match r {
                Ok(assessment) => {
                    breaks |= assessment.breaks_rules();
                    json!({ "account": a.target.id, "name": a.target.name, "report": serde_json::from_str::<Value>(&crate::credentials::json(assessment)).expect("a report reads back"), "identity_center": federated })
                }
                Err(error) => {
                    failed += 1;
                    json!({ "account": a.target.id, "name": a.target.name, "error": error })
                }
            })
            .collect();
        let mut text =
            serde_json::to_string_pretty(&json!({ "accounts": list })).expect("JSON serialises");
        text.push('\n');
        emit(&text)?;
    } else {
        let mut text = String::new();
        for ((a, r), federated) in accounts.iter().zip(&assessed).zip(&federated) {
            let _ = writeln!(text, "=== account {} ===", a.target.label());
            match r {
                Ok(assessment) => {
                    breaks |= assessment.breaks_rules();
                    text.push_str(&crate::credentials::text(assessment));
                    text.push_str(&crate::credentials::federated_text(federated));
                }
                Err(error) => {
                    failed += 1;
                    let _ = writeln!(text, "error: {error}");
                }
            }
            text.push('\n');
        }
        emit(&text)?;
    }
    if failed > 0 {
        return Err(Error::Accounts(format!(
            "{failed} of {} accounts could not be read (above)",
            accounts.len()
        )));
    }
    Ok(if detailed_exitcode && breaks {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// One account's IAM as a layer: through the organization's role, or the caller's own.
async fn export_account(
    hub: &Hub,
    member: &org::Member,
    name: &str,
) -> Result<crate::export::Export, Error> {
    let assumed;
    let api = if member.id == hub.caller.account {
        &hub.api
    } else {
        let hop = crate::live::aws::Hop {
            role_arn: format!(
                "arn:{}:iam::{}:role/{}",
                hub.caller.partition,
                member.id,
                organization::DEFAULT_ROLE
            ),
            external_id: None,
        };
        assumed = AwsIam::assume(&hub.config, &[hop], name)
            .await
            .map_err(Error::Connect)?;
        &assumed
    };
    let mut live = live::read_account(api).await?;
    // The role iamspec reaches the account through is the organization's, not the
    // account's: a layer that declared it could one day delete it.
    if member.id != hub.caller.account {
        live.roles.remove(organization::DEFAULT_ROLE);
    }
    let filter = crate::export::Filter {
        layer: true,
        ..crate::export::Filter::default()
    };
    Ok(crate::export::export(&live, &filter))
}

/// `iamspec export --organization`: every account's IAM as a layer of its own, and an
/// organization file whose plan has nothing to do.
pub(super) async fn export(aws: &Aws, out: &Path) -> Result<ExitCode, Error> {
    let hub = hub(aws).await?;
    let organizations = AwsOrganizations::new(&hub.config);
    let listing = organizations.list(Needs::default()).await.map_err(|source| ReadError::Api {
        what: "read the organization's accounts (organizations:ListAccounts): run iamspec from the management account or a delegated administrator".to_owned(),
        source,
    })?;
    let name = format!("iamspec-{}", crate::iam::DEFAULT_OWNER);
    let members: Vec<&org::Member> = listing.members.iter().filter(|m| m.is_active()).collect();
    let (hub, name) = (&hub, &name);
    let reads = members
        .iter()
        .map(|member| export_account(hub, member, name));
    let exports: Vec<Result<crate::export::Export, Error>> = futures::stream::iter(reads)
        .buffered(organization::DEFAULT_CONCURRENCY)
        .collect()
        .await;
    let mut org_file = String::from(
        "# Written by `iamspec export --organization`: one layer per account, each as the account is.\nversion = 1\n\n[organization]\nrole = \"OrganizationAccountAccessRole\"\n",
    );
    let mut written = Vec::new();
    for (member, export) in members.iter().zip(exports) {
        let export = match export {
            Ok(export) => export,
            Err(err) => {
                eprintln!(
                    "error: account {} ({}): {err}",
                    render::untrusted(&member.name),
                    member.id
                );
                continue;
            }
        };
        // Live text that looks like a layer's variable stays that text when loaded back.
        let export = crate::export::Export {
            spec: crate::spec::layers::escape(&export.spec).into_owned(),
            files: export
                .files
                .into_iter()
                .map(|(path, text)| (path, crate::spec::layers::escape(&text).into_owned()))
                .collect(),
        };
        let dir = out.join("accounts").join(&member.id);
        written.push((member, dir, export));
    }
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| Error::Write {
            path: parent.to_owned(),
            source,
        })?;
    }
    std::fs::create_dir(out).map_err(|source| Error::Write {
        path: out.to_owned(),
        source,
    })?;
    for (member, dir, export) in &written {
        write_export(dir, export)?;
        let _ = write!(
            org_file,
            "\n# {}\n[[targets]]\naccounts = [\"{}\"]\nspecs = [\"accounts/{}/spec.toml\"]\n",
            render::untrusted(&member.name),
            member.id,
            member.id
        );
    }
    let ids: Vec<String> = members.iter().map(|m| m.id.clone()).collect();
    let center = super::center::export(hub, &ids).await;
    if let Ok(Some(center)) = &center {
        super::center::write_export(out, center, &mut org_file)?;
    }
    write_new_file(&out.join("organization.toml"), &org_file)?;
    aws.print_calls(&hub.api.calls());
    if let Err(err) = &center {
        eprintln!("error: IAM Identity Center could not be exported: {err}");
    }
    emit(&format!(
        "Wrote {} and a layer for each of {} accounts: check it with `iamspec plan {}`.\n",
        out.join("organization.toml").display(),
        written.len(),
        out.join("organization.toml").display()
    ))?;
    let failed = members.len() - written.len();
    if failed > 0 {
        return Err(Error::Accounts(format!(
            "{failed} accounts could not be exported (above)"
        )));
    }
    if center.is_err() {
        return Err(Error::Accounts(
            "IAM Identity Center could not be exported (above); the accounts' IAM was exported"
                .to_owned(),
        ));
    }
    Ok(ExitCode::SUCCESS)
}
