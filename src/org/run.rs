//! Planning and applying the accounts of an organization: each target account gets its
//! merged spec, its own credentials (the organization's role assumed in it), and a session
//! of its own; up to `concurrency` accounts go at once. IAM throttles per account, so
//! accounts do not slow each other down.
//!
//! Nothing here prints: each account's output goes to its own `Terminal`, and what happened
//! in each account comes back as data for the command line to render.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_config::SdkConfig;
use futures::StreamExt;

use super::{Target, spec_of};
use crate::live::Caller;
use crate::live::aws::{AwsIam, AwsPolicies, Hop};
use crate::plan::Plan;
use crate::session::{self, Error, Planned, Reading, Run, Session, Stop, Terminal};
use crate::spec::Spec;
use crate::spec::organization::Organization;

/// Who runs iamspec: the configuration their credentials come from, and who they are.
pub struct Hub {
    pub config: SdkConfig,
    pub caller: Caller,
    /// The caller's own connection, used for their own account.
    pub api: AwsIam,
    /// What AWS-managed policies are, asked once for every account of the run.
    pub aws_policies: Arc<AwsPolicies>,
    /// AWS Organizations' accounts, when the file's selectors needed them read.
    pub listing: Option<super::Listing>,
}

/// What the command line decides for every account.
#[derive(Debug, Clone, Copy)]
#[allow(clippy::struct_excessive_bools)] // the flags of a plan, each its own switch
pub struct Flags {
    pub prune: bool,
    pub replace_lost_keys: bool,
    pub adopt_keys: bool,
    pub list_keys: bool,
}

/// One target account, ready to plan: its spec and connection, or why it has neither.
pub struct Account<T> {
    pub target: Target,
    pub terminal: T,
    /// Its own directory for new secrets: the same user name in two accounts must not share
    /// a file.
    pub secrets_dir: PathBuf,
    pub list_keys: bool,
    /// The spec's warnings and the linter's findings below error, to show once.
    pub notes: Vec<String>,
    pub ready: Result<(Spec, Option<AwsIam>), Error>,
}

impl<T: Terminal> Account<T> {
    /// The session of a ready account.
    pub fn session<'a>(&'a self, hub: &'a Hub) -> Result<Session<'a, T>, &'a Error> {
        let (spec, api) = self.ready.as_ref()?;
        let reading = Reading {
            secrets_dir: &self.secrets_dir,
            list_keys: self.list_keys,
        };
        Ok(Session::new(
            api.as_ref().unwrap_or(&hub.api),
            spec,
            reading,
            &self.terminal,
        ))
    }
}

/// The role ARN assumed in `account`.
pub fn role_arn(org: &Organization, caller: &Caller, account: &str) -> String {
    format!("arn:{}:iam::{account}:role/{}", caller.partition, org.role)
}

/// The session name of iamspec's assumed roles: `CloudTrail` shows it beside every call.
pub fn session_name(org: &Organization) -> String {
    let owner = org.owner().unwrap_or(crate::iam::DEFAULT_OWNER);
    let name: String = format!("iamspec-{owner}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "=,.@-_".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    name
}

/// Each target's spec and connection, up to `org.concurrency` at once.
pub async fn prepare<T: Terminal>(
    org: &Organization,
    hub: &Hub,
    targets: Vec<Target>,
    flags: Flags,
    make: impl Fn(&Target) -> (T, PathBuf),
) -> Vec<Account<T>> {
    let make = &make;
    futures::stream::iter(targets)
        .map(|target| prepare_one(org, hub, target, flags, make))
        .buffered(org.concurrency)
        .collect()
        .await
}

/// A target's spec and connection. An account whose layers do not make a valid spec for it,
/// or whose role refuses, is not ready, and says why.
async fn prepare_one<T: Terminal>(
    org: &Organization,
    hub: &Hub,
    target: Target,
    flags: Flags,
    make: &impl Fn(&Target) -> (T, PathBuf),
) -> Account<T> {
    let (terminal, secrets_dir) = make(&target);
    let mut notes = Vec::new();
    let ready = ready(org, hub, &target, flags, &mut notes).await;
    Account {
        target,
        terminal,
        secrets_dir,
        list_keys: flags.list_keys,
        notes,
        ready,
    }
}

/// The account's merged spec, linted, and its connection: the caller's own for the caller's
/// account, else the organization's role assumed in it.
async fn ready(
    org: &Organization,
    hub: &Hub,
    target: &Target,
    flags: Flags,
    notes: &mut Vec<String>,
) -> Result<(Spec, Option<AwsIam>), Error> {
    let mut spec = spec_of(org, target, hub.caller.partition.as_str())?;
    spec.prune |= flags.prune;
    spec.replace_lost_keys = flags.replace_lost_keys;
    spec.adopt_keys = flags.adopt_keys;
    let (found, errors) = session::spec_notes(&spec);
    notes.extend(found);
    if errors > 0 {
        return Err(Error::Lint { count: errors });
    }
    if target.id == hub.caller.account {
        return Ok((spec, None));
    }
    let mut hops = Vec::new();
    if let Some(via) = &org.via {
        hops.push(Hop {
            role_arn: via.clone(),
            external_id: None,
        });
    }
    hops.push(Hop {
        role_arn: role_arn(org, &hub.caller, &target.id),
        external_id: org.external_id.clone(),
    });
    let mut api = AwsIam::assume(&hub.config, &hops, &session_name(org))
        .await
        .map_err(Error::Connect)?;
    api.share_aws_policies(Arc::clone(&hub.aws_policies));
    Ok((spec, Some(api)))
}

/// What planning an account came to: its plan and who read the account, or why not.
pub type Planning = Result<(Planned, Caller), Error>;

/// Each target prepared and planned, up to `org.concurrency` accounts at once, each planned as
/// soon as it is ready (no account waits for another's role); with `documents`, reading the
/// AWS-managed documents a review shows (as `plan` does). In the targets' order.
pub async fn prepare_and_plan<T: Terminal>(
    org: &Organization,
    hub: &Hub,
    targets: Vec<Target>,
    flags: Flags,
    make: impl Fn(&Target) -> (T, PathBuf),
    documents: bool,
) -> (Vec<Account<T>>, Vec<Planning>) {
    let make = &make;
    let one = |target: Target| async move {
        let account = prepare_one(org, hub, target, flags, make).await;
        let planned = plan_one(&account, hub, documents).await;
        (account, planned)
    };
    futures::stream::iter(targets)
        .map(one)
        .buffered(org.concurrency)
        .unzip()
        .await
}

async fn plan_one<T: Terminal>(account: &Account<T>, hub: &Hub, documents: bool) -> Planning {
    let session = account.session(hub).map_err(clone_error)?;
    if documents {
        let planned = session.plan().await?;
        let caller = planned.live.caller.clone();
        Ok((planned, caller))
    } else {
        let live = session.read().await?;
        let plan = crate::diff::diff(session.spec, &live)?;
        let caller = live.caller.clone();
        Ok((Planned { live, plan }, caller))
    }
}

/// What became of one account in an apply.
#[derive(Debug)]
pub enum Applied {
    /// Applied; the exit code of its session (0: all made, 1: a change failed, 128 + N: a
    /// signal stopped it).
    Done(u8),
    /// It had nothing to do.
    NothingToDo,
    /// It could not be applied (its error said why).
    Failed(Error),
    /// It did not start: a signal came, or too many accounts had failed.
    NotStarted,
}

/// Applies each account's confirmed plan under its own lock, up to `concurrency` at once.
/// Once more than `max_failed` accounts have failed, or a signal came, no new account
/// starts; those under way finish (a signal stops them the way it stops one). `done` is
/// called as each account ends, for its output to be shown.
#[allow(clippy::too_many_arguments)] // one apply's settings, each its own
pub async fn apply<'a, T: Terminal>(
    accounts: &'a [Account<T>],
    hub: &'a Hub,
    plans: &'a [Option<(Plan, Caller)>],
    run: Run,
    yes: bool,
    stop: &Stop,
    concurrency: usize,
    max_failed: usize,
    done: impl Fn(&Account<T>, &Applied),
) -> Vec<Applied> {
    let failed = AtomicUsize::new(0);
    let one = |(account, planned): (&'a Account<T>, &'a Option<(Plan, Caller)>)| {
        let mut stop = stop.clone();
        let failed = &failed;
        let done = &done;
        async move {
            let applied = match (account.session(hub), planned) {
                _ if stop.requested().is_some() || failed.load(Ordering::SeqCst) > max_failed => {
                    Applied::NotStarted
                }
                (Err(_), _) | (_, None) => {
                    Applied::Failed(Error::Accounts("it could not be planned".to_owned()))
                }
                (Ok(_), Some((plan, _))) if plan.is_empty() => Applied::NothingToDo,
                (Ok(session), Some((plan, caller))) => {
                    match session.apply(plan, caller, yes, run, &mut stop).await {
                        Ok(code) => Applied::Done(code),
                        Err(err) => Applied::Failed(err),
                    }
                }
            };
            if matches!(applied, Applied::Failed(_) | Applied::Done(1)) {
                failed.fetch_add(1, Ordering::SeqCst);
            }
            done(account, &applied);
            applied
        }
    };
    futures::stream::iter(accounts.iter().zip(plans))
        .map(one)
        .buffered(concurrency)
        .collect()
        .await
}

/// Errors are not `Clone`; an account's is shown where it happened, and this says so again.
fn clone_error(err: &Error) -> Error {
    Error::Accounts(err.to_string())
}

pub use session::check_before_apply;
