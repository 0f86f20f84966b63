//! Applying an Identity Center plan: each change in the plan's order, the ids of what it
//! makes kept for the changes after it, each asynchronous request (an assignment, its
//! deletion, a provisioning) waited for until AWS says it succeeded or why it failed.
//!
//! Assignments go several at once; everything else one at a time, as Identity Center
//! refuses concurrent edits of one permission set (`ConflictException`), which is retried.
//! The first change that fails stops the run: what is left is planned again next time.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::StreamExt;

use crate::live::center::{
    CenterApi, CenterCall, CenterState, Instance, LiveAssignment, Made, PrincipalKind, Request,
    Status,
};
use crate::live::{ApiError, ErrorKind};
use crate::plan::center::{CenterPlan, Change, Step};
use crate::session::Stop;

/// How many assignments are made at once.
const ASSIGNMENTS: usize = 8;

/// What an apply of the instance came to.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Each change made, as the plan says it.
    pub done: Vec<String>,
    /// The change that failed, and AWS's reason.
    pub failed: Option<(String, String)>,
    /// How many changes did not run.
    pub not_run: usize,
    /// The signal that stopped it, if one did.
    pub stopped: Option<u8>,
    /// It stopped because its lock was lost.
    pub halted: bool,
}

/// The ids of what exists, by name: the instance's, then what the apply makes.
struct Ids {
    groups: BTreeMap<String, String>,
    users: BTreeMap<String, String>,
    sets: BTreeMap<String, String>,
}

impl Ids {
    fn of(live: &CenterState) -> Self {
        Self {
            groups: live
                .groups
                .iter()
                .map(|g| (g.name.clone(), g.id.clone()))
                .collect(),
            users: live
                .users
                .iter()
                .map(|u| (u.name.clone(), u.id.clone()))
                .collect(),
            sets: live
                .permission_sets
                .iter()
                .map(|s| (s.name.clone(), s.arn.clone()))
                .collect(),
        }
    }

    fn get(map: &BTreeMap<String, String>, kind: &str, name: &str) -> Result<String, ApiError> {
        map.get(name).cloned().ok_or_else(|| {
            ApiError::new(
                ErrorKind::Other,
                None,
                format!("{kind} `{name}` was to be made earlier in this apply and was not"),
            )
        })
    }

    fn set(&self, name: &str) -> Result<String, ApiError> {
        Self::get(&self.sets, "permission set", name)
    }

    /// The call a step makes, with its ids filled in.
    fn call(&self, step: &Step) -> Result<CenterCall, ApiError> {
        Ok(match step {
            Step::CreateGroup { name, description } => CenterCall::CreateGroup {
                name: name.clone(),
                description: description.clone(),
            },
            Step::UpdateGroup { name, description } => CenterCall::UpdateGroup {
                id: Self::get(&self.groups, "group", name)?,
                description: description.clone(),
            },
            Step::DeleteGroup { id } => CenterCall::DeleteGroup { id: id.clone() },
            Step::CreateUser(user) => CenterCall::CreateUser { user: user.clone() },
            Step::UpdateUser(user) => CenterCall::UpdateUser { user: user.clone() },
            Step::DeleteUser { id } => CenterCall::DeleteUser { id: id.clone() },
            Step::AddMember { group, user } => CenterCall::AddMember {
                group_id: Self::get(&self.groups, "group", group)?,
                user_id: Self::get(&self.users, "user", user)?,
            },
            Step::RemoveMember { membership_id } => CenterCall::RemoveMember {
                membership_id: membership_id.clone(),
            },
            Step::CreatePermissionSet { .. } | Step::TagPermissionSet { .. } => {
                unreachable!(
                    "a permission set's creation or adoption carries its owner: see `apply`"
                )
            }
            Step::UpdatePermissionSet {
                name,
                description,
                session,
            } => CenterCall::UpdatePermissionSet {
                arn: self.set(name)?,
                description: description.clone(),
                session: *session,
            },
            Step::AttachManaged { set, policy } => CenterCall::AttachManaged {
                arn: self.set(set)?,
                policy: policy.clone(),
            },
            Step::DetachManaged { set, policy } => CenterCall::DetachManaged {
                arn: self.set(set)?,
                policy: policy.clone(),
            },
            Step::PutInline { set, document } => CenterCall::PutInline {
                arn: self.set(set)?,
                document: document.clone(),
            },
            Step::DeleteInline { set } => CenterCall::DeleteInline {
                arn: self.set(set)?,
            },
            Step::AttachCustomer { set, reference } => CenterCall::AttachCustomer {
                arn: self.set(set)?,
                reference: reference.clone(),
            },
            Step::DetachCustomer { set, reference } => CenterCall::DetachCustomer {
                arn: self.set(set)?,
                reference: reference.clone(),
            },
            Step::PutBoundary { set, boundary } => CenterCall::PutBoundary {
                arn: self.set(set)?,
                boundary: boundary.clone(),
            },
            Step::DeleteBoundary { set } => CenterCall::DeleteBoundary {
                arn: self.set(set)?,
            },
            Step::Provision { set, account } => CenterCall::Provision {
                arn: self.set(set)?,
                account: account.clone(),
            },
            Step::Assign {
                set,
                principal,
                account,
            } => CenterCall::Assign(LiveAssignment {
                permission_set: self.set(set)?,
                account: account.clone(),
                kind: principal.kind,
                principal: match principal.kind {
                    PrincipalKind::User => Self::get(&self.users, "user", &principal.name)?,
                    PrincipalKind::Group => Self::get(&self.groups, "group", &principal.name)?,
                },
            }),
            Step::Unassign(a) => CenterCall::Unassign(a.clone()),
            Step::DeletePermissionSet { arn } => {
                CenterCall::DeletePermissionSet { arn: arn.clone() }
            }
        })
    }

    /// Keeps the id of what a step made.
    fn made(&mut self, step: &Step, id: String) {
        match step {
            Step::CreateGroup { name, .. } => {
                self.groups.insert(name.clone(), id);
            }
            Step::CreateUser(user) => {
                self.users.insert(user.name.clone(), id);
            }
            Step::CreatePermissionSet { name, .. } => {
                self.sets.insert(name.clone(), id);
            }
            _ => {}
        }
    }
}

/// What an apply needs beyond the plan.
pub struct Settings<'a> {
    pub owner: &'a str,
    /// How long a call is retried, and a request waited for.
    pub patience: Duration,
    /// How often a request's status is asked.
    pub poll: Duration,
    pub stop: &'a Stop,
    /// Set when the run must stop before its next change (its lock was lost).
    pub halt: Option<&'a std::sync::atomic::AtomicBool>,
}

/// Makes the plan's changes, in order.
pub async fn apply<A: CenterApi>(
    api: &A,
    live: &CenterState,
    plan: &CenterPlan,
    settings: &Settings<'_>,
    say: impl Fn(&str),
) -> Outcome {
    let mut ids = Ids::of(live);
    let mut outcome = Outcome::default();
    let instance = &live.instance;
    let mut at = 0;
    while at < plan.changes.len() {
        if let Some(code) = settings.stop.requested() {
            outcome.stopped = Some(code);
            break;
        }
        if settings
            .halt
            .is_some_and(|h| h.load(std::sync::atomic::Ordering::SeqCst))
        {
            outcome.halted = true;
            break;
        }
        let batch = batch_at(&plan.changes, at);
        let results: Vec<Result<Option<String>, ApiError>> = futures::stream::iter(batch)
            .map(|change| async {
                let call = match &change.step {
                    Step::CreatePermissionSet {
                        name,
                        description,
                        session,
                    } => CenterCall::CreatePermissionSet {
                        name: name.clone(),
                        description: description.clone(),
                        session: *session,
                        owner: settings.owner.to_owned(),
                    },
                    Step::TagPermissionSet { set } => CenterCall::TagPermissionSet {
                        arn: ids.set(set)?,
                        owner: settings.owner.to_owned(),
                    },
                    step => ids.call(step)?,
                };
                make(api, instance, &call, settings).await
            })
            .buffered(ASSIGNMENTS)
            .collect()
            .await;
        for (change, result) in batch.iter().zip(results) {
            match result {
                Ok(id) => {
                    if let Some(id) = id {
                        ids.made(&change.step, id);
                    }
                    say(&format!("done: {}", change.text));
                    outcome.done.push(change.text.clone());
                }
                Err(err) => {
                    say(&format!("failed: {}: {err}", change.text));
                    if outcome.failed.is_none() {
                        outcome.failed = Some((change.text.clone(), err.to_string()));
                    }
                }
            }
        }
        at += batch.len();
        if outcome.failed.is_some() {
            break;
        }
    }
    outcome.not_run = plan.changes.len() - at;
    outcome
}

/// The changes from `at` that go together: a run of assignments, or one change.
fn batch_at(changes: &[Change], at: usize) -> &[Change] {
    let is_assignment = |c: &Change| matches!(c.step, Step::Assign { .. } | Step::Unassign(_));
    if !is_assignment(&changes[at]) {
        return &changes[at..=at];
    }
    let len = changes[at..]
        .iter()
        .take_while(|c| is_assignment(c))
        .count();
    &changes[at..at + len]
}

/// One call, retried while AWS throttles, fails for a moment or reports a concurrent edit;
/// then, for an asynchronous request, its wait. Returns the id of what it made.
async fn make<A: CenterApi>(
    api: &A,
    instance: &Instance,
    call: &CenterCall,
    settings: &Settings<'_>,
) -> Result<Option<String>, ApiError> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(200);
    let made = loop {
        match api.call(instance, call).await {
            Ok(made) => break made,
            Err(err) if duplicate(call, &err) => return Err(duplicate_error(call)),
            Err(err) if worth_again(&err) && started.elapsed() + pause < settings.patience => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
            Err(err) => return Err(err),
        }
    };
    match made {
        Made::Done => Ok(None),
        Made::Created(id) => Ok(Some(id)),
        Made::Pending(request, id) => wait(api, &instance.arn, request, &id, settings, started)
            .await
            .map(|()| None),
    }
}

/// A create answered `ConflictException`: something of that name exists (made meanwhile by
/// hand or by another apply). Another try would only meet it again.
fn duplicate(call: &CenterCall, err: &ApiError) -> bool {
    // A concurrent edit is a ConflictException too; a duplicate says so in its message
    // ("already exists", "Duplicate UserName", a uniqueness constraint).
    let message = err.message.to_lowercase();
    err.code.as_deref() == Some("ConflictException")
        && ["exist", "duplicate", "unique"]
            .iter()
            .any(|w| message.contains(w))
        && matches!(
            call,
            CenterCall::CreateGroup { .. }
                | CenterCall::CreateUser { .. }
                | CenterCall::CreatePermissionSet { .. }
        )
}

fn duplicate_error(call: &CenterCall) -> ApiError {
    let (kind, name) = match call {
        CenterCall::CreateGroup { name, .. } => ("a group", name.as_str()),
        CenterCall::CreateUser { user } => ("a user", user.name.as_str()),
        CenterCall::CreatePermissionSet { name, .. } => ("a permission set", name.as_str()),
        _ => ("something", ""),
    };
    ApiError::new(
        ErrorKind::AlreadyExists,
        Some("ConflictException".to_owned()),
        format!(
            "Identity Center already has {kind} named `{}` (made since this plan was read, by hand or by another apply): run plan again to see it",
            crate::render::untrusted(name)
        ),
    )
}

fn worth_again(err: &ApiError) -> bool {
    err.kind.is_retryable() || err.code.as_deref() == Some("ConflictException")
}

/// Asks a request's status until it is done, within the patience.
async fn wait<A: CenterApi>(
    api: &A,
    instance: &str,
    request: Request,
    id: &str,
    settings: &Settings<'_>,
    started: Instant,
) -> Result<(), ApiError> {
    loop {
        tokio::time::sleep(settings.poll).await;
        match api.status(instance, request, id).await {
            Ok(Status::Succeeded) => return Ok(()),
            Ok(Status::Failed(reason)) => {
                return Err(ApiError::new(
                    ErrorKind::Other,
                    None,
                    format!("Identity Center says it failed: {reason}"),
                ));
            }
            Ok(Status::InProgress(_)) => {}
            Err(err) if worth_again(&err) => {}
            Err(err) => return Err(err),
        }
        if started.elapsed() >= settings.patience {
            return Err(ApiError::new(
                ErrorKind::Transient,
                None,
                format!(
                    "Identity Center had not finished request {id} after {}s: apply again to see where it stands",
                    settings.patience.as_secs()
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests;
