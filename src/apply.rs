//! Stage 5: execute a plan. Exactly the plan's changes are made, a stage at a time (entities
//! before what hangs on them), with a bounded number of calls in flight. Throttling, transient
//! failures and IAM's eventual consistency are retried with jittered backoff; anything else
//! stops the apply, and the report says what was done, what failed and what did not run, so
//! the next apply, which plans only what is still missing, finishes the job.

pub mod center;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use rand::Rng;

use crate::iam::EntityKind;
use crate::iam::Partition;
use crate::live::{AccessKey, ApiError, ErrorKind, IamApi, Outcome};
use crate::plan::{Change, Op, Plan, Stage};
use crate::secrets::{Secret, SecretsDir};

/// How apply behaves.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Calls in flight at once.
    pub concurrency: usize,
    pub retry: RetryPolicy,
    pub secrets: SecretsDir,
}

/// Backoff for retryable failures: exponential from `first_delay` to `max_delay`, each wait
/// jittered, giving up once `deadline` has passed for a call.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub first_delay: Duration,
    pub max_delay: Duration,
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    /// IAM changes can take a while to be visible everywhere; Terraform waits up to two
    /// minutes, and so does iamspec.
    fn default() -> Self {
        Self {
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(8),
            deadline: Duration::from_mins(2),
        }
    }
}

/// What an apply did.
#[derive(Debug, Default)]
pub struct Report {
    pub done: Vec<Done>,
    /// The first change that failed for good; apply stops launching changes after it.
    pub failed: Option<Failed>,
    /// Changes not attempted because an earlier one failed.
    pub not_run: Vec<Change>,
    /// Calls made again after a retryable failure.
    pub retries: u64,
    /// The apply was asked to stop (a signal) before it had started everything.
    pub interrupted: bool,
    /// The exit code of the signal that stopped it (130, 143, 129), set by the command line.
    pub stopped_by: Option<u8>,
}

impl Report {
    pub fn succeeded(&self) -> bool {
        self.failed.is_none() && self.not_run.is_empty()
    }
}

/// A change that is in effect now.
#[derive(Debug)]
pub struct Done {
    pub change: Change,
    /// Anything worth saying: the entity already existed, where a secret was saved.
    pub note: Option<String>,
}

/// A change that could not be made, and why, in a sentence that says what to do.
#[derive(Debug)]
pub struct Failed {
    pub change: Change,
    pub reason: String,
}

/// How one change went, with its place in the plan and the retries it took.
enum Outcome1 {
    Done(Done),
    Failed(Failed),
    NotRun(Change),
}

/// What an apply tells as it goes, for a live progress line; the report says it all at the end.
pub trait Progress: Sync {
    /// A change is done with: made, failed, or not run.
    fn finished(&self);
    /// A call is made again after a retryable failure (throttling, IAM catching up).
    fn retried(&self);
    /// The apply is over: whatever was drawn makes way for the report.
    fn close(&self) {}
}

/// No progress to show.
pub struct Quiet;

impl Progress for Quiet {
    fn finished(&self) {}
    fn retried(&self) {}
}

/// Executes `plan` against `api`.
pub async fn apply(plan: &Plan, api: &impl IamApi, options: &ApplyOptions) -> Report {
    apply_until(plan, api, options, &AtomicBool::new(false), &Quiet).await
}

/// Executes `plan` against `api` until `interrupt` is set: from then on no new change starts,
/// the calls in flight finish (a key's secret is saved), and the rest is reported as not run.
pub async fn apply_until(
    plan: &Plan,
    api: &impl IamApi,
    options: &ApplyOptions,
    interrupt: &AtomicBool,
    progress: &dyn Progress,
) -> Report {
    let created: BTreeSet<(EntityKind, String)> = plan
        .changes
        .iter()
        .filter_map(|c| c.op.creates())
        .map(|(kind, name)| (kind, name.to_lowercase()))
        .collect();
    let runner = Runner {
        api,
        options,
        created: &created,
        target: Target {
            account: &plan.account,
            partition: plan.partition,
            caller: &plan.caller,
        },
        failed: AtomicBool::new(false),
        interrupt,
        progress,
    };
    let runner = &runner;
    let mut report = Report::default();
    let stages: BTreeSet<Stage> = plan.changes.iter().map(|c| c.op.stage()).collect();
    for stage in stages {
        let changes = plan
            .changes
            .iter()
            .enumerate()
            .filter(|(_, c)| c.op.stage() == stage);
        let mut results: Vec<(usize, Outcome1, u64)> = futures::stream::iter(changes)
            .map(|(index, change)| async move {
                let (outcome, retries) = runner.run(change).await;
                progress.finished();
                (index, outcome, retries)
            })
            .buffer_unordered(options.concurrency.max(1))
            .collect()
            .await;
        // Report in plan order, whatever order the calls finished in.
        results.sort_by_key(|(index, ..)| *index);
        for (_, outcome, retries) in results {
            report.retries += retries;
            match outcome {
                Outcome1::Done(done) => report.done.push(done),
                Outcome1::Failed(failed) if report.failed.is_none() => report.failed = Some(failed),
                // A second failure in flight at the same time: it will be planned again.
                Outcome1::Failed(failed) => report.not_run.push(failed.change),
                Outcome1::NotRun(change) => report.not_run.push(change),
            }
        }
    }
    report.interrupted = interrupt.load(Ordering::SeqCst) && !report.not_run.is_empty();
    report
}

/// What a failure message needs to name the resource and the caller.
struct Target<'a> {
    account: &'a str,
    partition: Partition,
    caller: &'a str,
}

struct Runner<'a, A> {
    api: &'a A,
    options: &'a ApplyOptions,
    /// Entities this plan creates: a `NoSuchEntity` for them is IAM catching up, not an error.
    created: &'a BTreeSet<(EntityKind, String)>,
    target: Target<'a>,
    /// Set by the first failure: nothing new starts after it.
    failed: AtomicBool,
    interrupt: &'a AtomicBool,
    progress: &'a dyn Progress,
}

impl<A: IamApi> Runner<'_, A> {
    async fn run(&self, change: &Change) -> (Outcome1, u64) {
        if self.failed.load(Ordering::SeqCst) || self.interrupt.load(Ordering::SeqCst) {
            return (Outcome1::NotRun(change.clone()), 0);
        }
        let mut retries = 0;
        let result = match &change.op {
            Op::CreateAccessKey { user, rotates } => {
                self.create_access_key(user, rotates.as_deref(), &mut retries)
                    .await
            }
            Op::CreateLoginProfile {
                user,
                min_length,
                sign_in_url,
            } => {
                self.create_login_profile(user, *min_length, sign_in_url, &mut retries)
                    .await
            }
            Op::DeleteAccessKey {
                user,
                access_key_id,
            } => {
                let done = self.call(&change.op, &mut retries).await;
                match done {
                    Ok(note) => {
                        self.unmark_key(user, access_key_id, &mut retries).await;
                        self.forget_key(user, access_key_id, note)
                    }
                    err => err,
                }
            }
            Op::DeleteLoginProfile { user } => {
                let done = self.call(&change.op, &mut retries).await;
                match done {
                    Ok(note) => self.forget_password(user, note),
                    err => err,
                }
            }
            op => self.call(op, &mut retries).await,
        };
        let outcome = match result {
            Ok(note) => Outcome1::Done(Done {
                change: change.clone(),
                note,
            }),
            Err(reason) => {
                self.failed.store(true, Ordering::SeqCst);
                Outcome1::Failed(Failed {
                    change: change.clone(),
                    reason,
                })
            }
        };
        (outcome, retries)
    }

    /// Any op but `CreateAccessKey`. A create that finds its entity already there has what it
    /// wanted: most often its own first attempt, whose answer was lost, made it with the
    /// spec's tags. If someone else made it, the next plan shows what it lacks. Nothing is
    /// called that the plan does not list.
    async fn call(&self, op: &Op, retries: &mut u64) -> Result<Option<String>, String> {
        match self.with_retries(op, retries).await {
            Ok(_) => Ok(None),
            Err(err) if err.kind == ErrorKind::NoSuchEntity && op.removes() => {
                Ok(Some("it was already gone".to_owned()))
            }
            Err(err) if err.kind == ErrorKind::AlreadyExists && op.creates().is_some() => {
                Ok(Some("it already existed".to_owned()))
            }
            Err(err) => Err(self.explain(op, &err)),
        }
    }

    /// `CreateAccessKey` is the one call that must never be repeated blindly: a retry after a
    /// lost answer would leave a key whose secret nobody has. So it is sent without retries,
    /// and after a retryable failure the user's keys are listed: a key that appeared is taken
    /// back before trying again. The secret is on disk before the change counts as done.
    async fn create_access_key(
        &self,
        user: &str,
        rotates: Option<&str>,
        retries: &mut u64,
    ) -> Result<Option<String>, String> {
        let op = Op::CreateAccessKey {
            user: user.to_owned(),
            rotates: rotates.map(str::to_owned),
        };
        let keys = self
            .keys_of(&op, retries)
            .await
            .map_err(|e| self.explain(&op, &e))?;
        // Another apply, or a person, may have made one since the plan was read: a user who
        // has an active key never gets a second one, and a rotation never a third.
        let other = match rotates {
            None => keys.iter().find(|k| k.active),
            Some(old) => keys.iter().find(|k| k.id != old),
        };
        if let Some(key) = other {
            return Ok(Some(format!(
                "it has {} key already ({}, made since the plan was read), so none was made",
                if rotates.is_some() {
                    "a second"
                } else {
                    "an active"
                },
                key.id
            )));
        }
        let before: Vec<String> = keys.into_iter().map(|k| k.id).collect();
        let secrets = &self.options.secrets;
        let account = self.target.account;
        secrets.begin(user, account, &before).map_err(|io| {
            format!(
                "could not write to the secrets directory {} ({io}), so no key was created for user {user}: make it writable (or pass --secrets-dir) and run apply again",
                secrets.dir().display()
            )
        })?;
        let made = self.make_key(&op, &before, retries).await;
        if made.is_err() {
            // No key exists that lacks its secret: nothing is pending.
            let _ = secrets.end(user);
        }
        let (access_key_id, secret) = made?;
        match secrets.write(user, account, &access_key_id, &secret) {
            Ok(path) => {
                let _ = secrets.end(user);
                self.mark_key(user, &access_key_id, &path, retries).await
            }
            Err(io) => {
                let path = secrets.path_for(user);
                let undo = match self.take_back(user, &access_key_id).await {
                    Ok(()) => {
                        let _ = secrets.end(user);
                        "the new key was deleted again, so nothing is lost".to_owned()
                    }
                    Err(err) => format!(
                        "deleting the new key failed too ({err}): delete it with `aws iam delete-access-key --user-name {user} --access-key-id {access_key_id}`"
                    ),
                };
                Err(format!(
                    "could not save the secret of user {user}'s new access key to {} ({io}); {undo}; make the directory writable (or pass --secrets-dir) and run apply again",
                    path.display()
                ))
            }
        }
    }

    /// Marks a key iamspec made as its own (a tag on its user named by the key's id, as the
    /// console keeps a key's description), so that a rotation on any machine knows which
    /// key it may retire. The secret is saved already: a failure here loses nothing, and says
    /// how to mark the key.
    async fn mark_key(
        &self,
        user: &str,
        access_key_id: &str,
        saved: &std::path::Path,
        retries: &mut u64,
    ) -> Result<Option<String>, String> {
        let tag = Op::mark_key(user, access_key_id);
        match self.with_retries(&tag, retries).await {
            Ok(_) => Ok(Some(format!(
                "access key {access_key_id}, secret saved to {}",
                saved.display()
            ))),
            Err(err) => Err(format!(
                "access key {access_key_id} was made and its secret saved to {}, but it could not be marked as iamspec's ({}), so no rotation will retire it: run `iamspec apply --adopt-keys` to mark it",
                saved.display(),
                self.explain(&tag, &err)
            )),
        }
    }

    /// Deletes a key iamspec just made and cannot use. A key already gone is what was wanted:
    /// the SDK may have retried a delete whose first answer was lost.
    async fn take_back(&self, user: &str, access_key_id: &str) -> Result<(), ApiError> {
        match self.api.delete_access_key(user, access_key_id).await {
            Err(err) if err.kind == ErrorKind::NoSuchEntity => Ok(()),
            other => other,
        }
    }

    /// Creates the key, never leaving behind a key whose answer was lost.
    async fn make_key(
        &self,
        op: &Op,
        before: &[String],
        retries: &mut u64,
    ) -> Result<(String, Secret), String> {
        let Op::CreateAccessKey { user, .. } = op else {
            unreachable!("make_key makes keys");
        };
        let mut backoff = Backoff::new(self.options.retry);
        let outcome = loop {
            let err = match self.api.call(op).await {
                Ok(outcome) => break outcome,
                Err(err) => err,
            };
            if !self.may_retry(op, &err) {
                return Err(self.explain(op, &err));
            }
            if err.kind.is_retryable() {
                // The call may have succeeded with its answer lost: take that key back.
                let now = self
                    .keys_of(op, retries)
                    .await
                    .map_err(|e| self.explain(op, &e))?;
                for key in now.iter().map(|k| &k.id).filter(|k| !before.contains(k)) {
                    self.take_back(user, key)
                        .await
                        .map_err(|e| self.explain(op, &e))?;
                }
            }
            if !backoff.wait().await {
                return Err(self.explain(op, &err));
            }
            *retries += 1;
            self.progress.retried();
        };
        match outcome {
            Outcome::NewAccessKey {
                access_key_id,
                secret,
            } => Ok((access_key_id, secret)),
            Outcome::Done => Err(format!(
                "IAM answered CreateAccessKey for user {user} without a key; run apply again"
            )),
        }
    }

    /// A console password: generated here (never in a plan), on disk before IAM is given it,
    /// and kept only if IAM took it. A retry after a lost answer finds the password already
    /// set: the one on disk, so it is kept.
    async fn create_login_profile(
        &self,
        user: &str,
        min_length: u32,
        sign_in_url: &str,
        retries: &mut u64,
    ) -> Result<Option<String>, String> {
        let op = Op::CreateLoginProfile {
            user: user.to_owned(),
            min_length,
            sign_in_url: sign_in_url.to_owned(),
        };
        let secrets = &self.options.secrets;
        let password = crate::secrets::generate_password(min_length);
        let path = secrets
            .write_password(user, self.target.account, &password, sign_in_url)
            .map_err(|io| {
                format!(
                    "could not write to the secrets directory {} ({io}), so user {user} was given no console password: make it writable (or pass --secrets-dir) and run apply again",
                    secrets.dir().display()
                )
            })?;
        let mut backoff = Backoff::new(self.options.retry);
        let mut answer_lost = false;
        let result = loop {
            match self.api.create_login_profile(user, &password).await {
                Ok(()) => break Ok(true),
                Err(err) if err.kind == ErrorKind::AlreadyExists => break Ok(answer_lost),
                Err(err) if self.may_retry(&op, &err) => {
                    answer_lost |= err.kind.is_retryable();
                    if !backoff.wait().await {
                        break Err(self.explain(&op, &err));
                    }
                    *retries += 1;
                    self.progress.retried();
                }
                Err(err) => break Err(self.explain(&op, &err)),
            }
        };
        let taken = matches!(result, Ok(true));
        secrets.settle_password(user, taken).map_err(|io| {
            format!("could not tidy the secrets directory after user {user}'s console password ({io}): the password IAM has is in {}", path.display())
        })?;
        match result {
            Ok(true) => Ok(Some(format!("password saved to {}", path.display()))),
            Ok(false) => Ok(Some(
                "it had a console password already (made since the plan was read), so none was made".to_owned(),
            )),
            Err(reason) => Err(reason),
        }
    }

    /// A deleted key's mark goes too. The key is gone already, and a mark of a key that no
    /// longer exists marks nothing (ids are never reused), so a failure is not one of the
    /// apply's.
    async fn unmark_key(&self, user: &str, access_key_id: &str, retries: &mut u64) {
        let untag = Op::UntagUser {
            user: user.to_owned(),
            keys: vec![access_key_id.to_owned()],
        };
        let _ = self.with_retries(&untag, retries).await;
    }

    /// A deleted key's secret file goes too.
    fn forget_key(
        &self,
        user: &str,
        access_key_id: &str,
        note: Option<String>,
    ) -> Result<Option<String>, String> {
        let removed = self
            .options
            .secrets
            .forget_key(user, access_key_id)
            .map_err(|io| {
                format!(
                    "access key {access_key_id} of user {user} is deleted, but its secret file in {} could not be removed ({io}): remove it by hand",
                    self.options.secrets.dir().display()
                )
            })?;
        let files: Vec<String> = removed.iter().map(|p| p.display().to_string()).collect();
        Ok(match (note, files.is_empty()) {
            (note, true) => note,
            (Some(note), false) => Some(format!("{note}; removed {}", files.join(", "))),
            (None, false) => Some(format!("removed {}", files.join(", "))),
        })
    }

    /// A deleted console password's file goes too.
    fn forget_password(&self, user: &str, note: Option<String>) -> Result<Option<String>, String> {
        let secrets = &self.options.secrets;
        match secrets.forget_password(user) {
            Ok(Some(path)) => Ok(Some(match note {
                Some(note) => format!("{note}; removed {}", path.display()),
                None => format!("removed {}", path.display()),
            })),
            Ok(None) => Ok(note),
            Err(io) => Err(format!(
                "user {user}'s console password is deleted, but its file in {} could not be removed ({io}): remove it by hand",
                secrets.dir().display()
            )),
        }
    }

    /// The access keys of the user `op` names.
    async fn keys_of(&self, op: &Op, retries: &mut u64) -> Result<Vec<AccessKey>, ApiError> {
        let Op::CreateAccessKey { user, .. } = op else {
            return Ok(Vec::new());
        };
        let mut delay = Backoff::new(self.options.retry);
        loop {
            match self.api.access_keys(user).await {
                Ok(keys) => return Ok(keys),
                Err(err) if self.may_retry(op, &err) => {
                    if !delay.wait().await {
                        return Err(err);
                    }
                    *retries += 1;
                    self.progress.retried();
                }
                Err(err) => return Err(err),
            }
        }
    }

    async fn with_retries(&self, op: &Op, retries: &mut u64) -> Result<Outcome, ApiError> {
        let mut delay = Backoff::new(self.options.retry);
        loop {
            match self.api.call(op).await {
                Ok(outcome) => return Ok(outcome),
                Err(err) if self.may_retry(op, &err) => {
                    if !delay.wait().await {
                        return Err(err);
                    }
                    *retries += 1;
                    self.progress.retried();
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// Throttling and transient faults are always worth another try; `NoSuchEntity` only when
    /// the op names an entity this plan creates, which IAM may not show everywhere yet.
    fn may_retry(&self, op: &Op, err: &ApiError) -> bool {
        err.kind.is_retryable()
            || (err.kind == ErrorKind::NoSuchEntity
                && op
                    .entities()
                    .iter()
                    .any(|(kind, name)| self.created.contains(&(*kind, name.to_lowercase()))))
            || self.provider_not_seen_yet(op, err)
    }

    /// A trust policy that names an OIDC provider this plan made is refused as malformed
    /// ("invalid principal") until IAM shows the provider everywhere: worth waiting for.
    fn provider_not_seen_yet(&self, op: &Op, err: &ApiError) -> bool {
        let trust = match op {
            Op::CreateRole { trust, .. } => trust,
            Op::UpdateAssumeRolePolicy { document, .. } => document,
            _ => return false,
        };
        err.code.as_deref() == Some("MalformedPolicyDocument")
            && crate::document::oidc_providers(trust).iter().any(|arn| {
                crate::document::provider_url(arn).is_some_and(|url| {
                    self.created
                        .contains(&(EntityKind::OidcProvider, url.to_lowercase()))
                })
            })
    }

    /// The resource IAM authorises `op` against: the user, group, role, instance profile or
    /// provider that is changed (a group for memberships), or the policy.
    fn resource(&self, op: &Op) -> String {
        let arn = |kind: EntityKind, name: &str| {
            let resource = match kind {
                EntityKind::InstanceProfile => "instance-profile",
                EntityKind::OidcProvider => "oidc-provider",
                other => other.as_str(),
            };
            format!(
                "arn:{}:iam::{}:{resource}/{name}",
                self.target.partition, self.target.account,
            )
        };
        match op {
            Op::AddUserToGroup { group, .. } => arn(EntityKind::Group, group),
            Op::AddRoleToInstanceProfile { profile, .. }
            | Op::RemoveRoleFromInstanceProfile { profile, .. } => {
                arn(EntityKind::InstanceProfile, profile)
            }
            Op::CreatePolicyVersion { policy, .. }
            | Op::DeletePolicyVersion { policy, .. }
            | Op::DeletePolicy { policy } => policy.to_string(),
            Op::CreatePolicy { policy, path, .. } => {
                format!(
                    "arn:{}:iam::{}:policy{path}{policy}",
                    self.target.partition, self.target.account
                )
            }
            _ => match op.entities().first() {
                Some((kind, name)) => arn(*kind, name),
                // Account settings: IAM authorises them on no resource of their own.
                None => "*".to_owned(),
            },
        }
    }

    /// One sentence: what failed and what to do about it.
    fn explain(&self, op: &Op, err: &ApiError) -> String {
        let action = format!("iam:{}", op.api_name());
        let entities: Vec<String> = op
            .entities()
            .iter()
            .map(|(kind, name)| format!("{} {name}", kind.as_str()))
            .collect();
        let on = if entities.is_empty() {
            "the account".to_owned()
        } else {
            entities.join(" and ")
        };
        let seconds = self.options.retry.deadline.as_secs();
        match err.kind {
            ErrorKind::AccessDenied => format!(
                "AWS denied {action} on {on} to {}: give the caller a policy that allows {action} on {} (IAMFullAccess does), then run apply again",
                self.target.caller,
                self.resource(op)
            ),
            ErrorKind::LimitExceeded => format!(
                "IAM refused {action} on {on} because a limit is reached ({err}): remove what is no longer needed or ask AWS for a higher quota, then run apply again"
            ),
            ErrorKind::Throttled => format!(
                "IAM kept throttling {action} on {on} for {seconds} s ({err}): run apply again later, or with a lower --concurrency"
            ),
            ErrorKind::NoSuchEntity => format!(
                "{action} on {on} failed because something it names does not exist ({err}): if it was deleted meanwhile, run apply again to recreate it"
            ),
            ErrorKind::Transient => format!(
                "{action} on {on} did not get through for {seconds} s ({err}): check the network and the endpoint, then run apply again to finish"
            ),
            ErrorKind::Unreachable => format!(
                "{action} on {on} could not reach the endpoint ({err}): check the network and the endpoint, then run apply again to finish"
            ),
            ErrorKind::Credentials => format!(
                "the credentials were rejected while calling {action} ({err}): refresh them and run apply again"
            ),
            ErrorKind::AlreadyExists | ErrorKind::Other => {
                format!("IAM refused {action} on {on} ({err}): fix the cause and run apply again")
            }
        }
    }
}

/// Jittered exponential backoff within a deadline.
struct Backoff {
    policy: RetryPolicy,
    next: Duration,
    started: Instant,
}

impl Backoff {
    fn new(policy: RetryPolicy) -> Self {
        Self {
            policy,
            next: policy.first_delay,
            started: Instant::now(),
        }
    }

    /// Sleeps before the next attempt; false once the deadline would be passed.
    async fn wait(&mut self) -> bool {
        let half = self.next / 2;
        let jitter = rand::rng().random_range(Duration::ZERO..=half);
        let delay = half + jitter;
        if self.started.elapsed() + delay > self.policy.deadline {
            return false;
        }
        tokio::time::sleep(delay).await;
        self.next = (self.next * 2).min(self.policy.max_delay);
        true
    }
}

#[cfg(test)]
mod tests;
