//! One account's session: live -> diff -> plan, and apply under the account's lock with the
//! lock renewed and signals heeded. The terminal (what is shown, said and drawn) is a seam,
//! `Terminal`: the command line shows one account as it goes, an organization collects each
//! account's output under its header.
//!
//! Signals come through `Stop`, which every session of a run shares: a first Ctrl-C, SIGTERM
//! or SIGHUP lets the calls in flight finish and starts nothing new, a second stops at once.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use crate::apply::{self, ApplyOptions, Progress, Quiet, Report, RetryPolicy};
use crate::diff::{self, DiffError};
use crate::live::aws::AwsIam;
use crate::live::{self, ApiError, Caller, KeyReading, LiveState, ReadError};
use crate::lock::{self, Holder, Lock, LockError};
use crate::plan::saved::{SavedError, SavedPlan};
use crate::plan::{Op, Plan};
use crate::render::{self, Style};
use crate::secrets::{DirError, SecretsDir};
use crate::spec::{Spec, SpecError};

/// Everything that can stop a command; `main` prints it once.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The spec is unreadable or invalid; no call was made.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// Credentials or configuration are missing.
    #[error("{0}")]
    Connect(ApiError),
    /// The account could not be read; nothing was planned.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The spec names something the account cannot have; nothing was planned.
    #[error("{0}")]
    Diff(#[from] DiffError),
    /// The plan deletes more entities than `--max-deletes` allows.
    #[error(
        "the plan deletes {count} users, groups, policies, roles, instance profiles and providers, more than --max-deletes {max} allows: check that the spec names everything it should, then raise --max-deletes to go ahead"
    )]
    TooManyDeletes { count: usize, max: usize },
    /// The policy linter found something at level error; nothing was called.
    #[error(
        "{count} policy finding(s) at level error or failed [[checks]] (above): fix them, or set their level in [lint]; nothing was changed"
    )]
    Lint { count: usize },
    /// apply would have to ask, but nobody can answer.
    #[error(
        "apply needs a confirmation but standard input is not a terminal: review the changes with `iamspec plan`, then run `iamspec apply --yes`"
    )]
    NotATerminal,
    /// The user answered no.
    #[error("apply cancelled; nothing was changed")]
    Cancelled,
    /// A second signal stopped apply with calls in flight.
    #[error(
        "stopped at once, with calls in flight: run `iamspec plan` to see what is left, and apply again to finish"
    )]
    Interrupted { code: u8 },
    /// A signal came before any change was made.
    #[error("stopped before making any change")]
    Stopped { code: u8 },
    /// The apply lock could not be had or kept.
    #[error(transparent)]
    Lock(Box<LockError>),
    /// While apply waited for the lock, the account changed so that the plan that was
    /// confirmed is no longer what applying would do.
    #[error(
        "the account changed while apply waited for the lock, and the plan you confirmed is no longer what apply would do: run apply again to review the new plan"
    )]
    Stale,
    /// A saved plan cannot be applied: it is not one, or the spec, account or what it
    /// depends on changed.
    #[error(transparent)]
    Saved(#[from] SavedError),
    /// The command line asks for something that cannot be done.
    #[error("{0}")]
    Usage(String),
    /// The environment sets something iamspec cannot use.
    #[error("{0}")]
    Environment(String),
    /// Signal handlers could not be set up.
    #[error("could not listen for signals: {0}")]
    Signals(#[source] io::Error),
    /// The secrets directory could not be read.
    #[error("could not read the secrets directory {}: {source}", path.display())]
    Secrets {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// New secrets could not be saved safely; nothing was changed.
    #[error(transparent)]
    SecretsDir(#[from] DirError),
    /// An export, a saved plan or a man page could not be written.
    #[error("could not write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Writing to standard output failed (other than a closed pipe).
    #[error("could not write the output: {0}")]
    Output(#[source] io::Error),
    /// Some accounts of an organization could not be planned or applied (each said why).
    #[error("{0}")]
    Accounts(String),
}

impl From<LockError> for Error {
    fn from(err: LockError) -> Self {
        Error::Lock(Box::new(err))
    }
}

impl Error {
    /// 128 + the signal's number for an apply a signal stopped (130 Ctrl-C, 143 SIGTERM, 129
    /// SIGHUP), as shells report them; 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Interrupted { code } | Error::Stopped { code } => *code,
            _ => 1,
        }
    }
}

/// Where a session's output goes.
pub trait Terminal: Sync {
    /// Shows text the way standard output does: the plan, the report.
    fn show(&self, text: &str) -> Result<(), Error>;
    /// Says one line to the person running iamspec (standard error): waits, notes.
    fn say(&self, line: &str);
    /// Whether output may be coloured.
    fn color(&self) -> bool {
        false
    }
    /// Whether a person watches a live line, which counts the changes made (the report then
    /// leaves each out).
    fn watched(&self) -> bool {
        false
    }
    /// What shows an apply's progress through `api`.
    fn progress<'a>(&'a self, _total: usize, _api: &'a AwsIam) -> Box<dyn Progress + 'a> {
        Box::new(Quiet)
    }
    /// Awaits the reading of the account, showing that it goes on.
    fn reading<F: Future + Send>(
        &self,
        _api: &AwsIam,
        reading: F,
    ) -> impl Future<Output = F::Output> + Send {
        reading
    }
}

/// A terminal that shows nothing, for reads whose results are rendered elsewhere.
pub struct Silent;

impl Terminal for Silent {
    fn show(&self, _text: &str) -> Result<(), Error> {
        Ok(())
    }

    fn say(&self, line: &str) {
        eprintln!("{line}");
    }
}

/// How the account is read: what the secrets directory says of interrupted applies, and
/// whether keys are listed or taken from the credential report.
#[derive(Debug, Clone, Copy)]
pub struct Reading<'a> {
    pub secrets_dir: &'a Path,
    pub list_keys: bool,
}

/// How apply runs its calls.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub concurrency: u16,
    pub lock_timeout: Duration,
    pub max_deletes: usize,
}

impl Run {
    pub fn options(self, secrets: SecretsDir) -> ApplyOptions {
        ApplyOptions {
            concurrency: usize::from(self.concurrency),
            retry: RetryPolicy::default(),
            secrets,
        }
    }
}

/// The signals of a run, shared by every session in it: how many have come, and the exit code
/// the last means (128 + its number).
#[derive(Debug, Clone)]
pub struct Stop(watch::Receiver<(u32, u8)>);

impl Stop {
    /// Listens for Ctrl-C, SIGTERM and SIGHUP from now on, for as long as the run lasts.
    pub fn listen() -> Result<Self, Error> {
        use tokio::signal::unix::{SignalKind, signal};
        let listen = |kind| signal(kind).map_err(Error::Signals);
        let (mut interrupt, mut terminate, mut hangup) = (
            listen(SignalKind::interrupt())?,
            listen(SignalKind::terminate())?,
            listen(SignalKind::hangup())?,
        );
        let (tx, rx) = watch::channel((0, 0));
        tokio::spawn(async move {
            let mut count = 0;
            loop {
                let code = tokio::select! {
                    _ = interrupt.recv() => 130,
                    _ = terminate.recv() => 143,
                    _ = hangup.recv() => 129,
                };
                count += 1;
                if tx.send((count, code)).is_err() {
                    return;
                }
            }
        });
        Ok(Self(rx))
    }

    /// A run no signal stops (tests).
    pub fn never() -> Self {
        let (tx, rx) = watch::channel((0, 0));
        std::mem::forget(tx);
        Self(rx)
    }

    /// A run a signal has already stopped (tests).
    #[cfg(test)]
    pub fn signalled(code: u8) -> Self {
        let (tx, rx) = watch::channel((1, code));
        std::mem::forget(tx);
        Self(rx)
    }

    /// The code of the first signal, if one has come.
    pub fn requested(&self) -> Option<u8> {
        let (count, code) = *self.0.borrow();
        (count > 0).then_some(code)
    }

    /// Like `requested`, and what `next` waits for comes after it.
    fn seen(&mut self) -> Option<u8> {
        let (count, code) = *self.0.borrow_and_update();
        (count > 0).then_some(code)
    }

    /// Waits for the next signal: how many have come, and its exit code.
    pub async fn next(&mut self) -> (u32, u8) {
        if self.0.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
        *self.0.borrow_and_update()
    }
}

/// A plan and what it was made from.
pub struct Planned {
    pub live: LiveState,
    pub plan: Plan,
}

/// One account, its spec, and how to read it and show what happens.
pub struct Session<'a, T: Terminal> {
    pub api: &'a AwsIam,
    pub spec: &'a Spec,
    pub reading: Reading<'a>,
    pub terminal: &'a T,
}

impl<'a, T: Terminal> Session<'a, T> {
    pub fn new(api: &'a AwsIam, spec: &'a Spec, reading: Reading<'a>, terminal: &'a T) -> Self {
        Self {
            api,
            spec,
            reading,
            terminal,
        }
    }

    /// live -> diff: everything up to the plan. For review, what each changed principal gains
    /// and loses counts its AWS-managed policies too: their documents are read once a first
    /// diff says which (none when nothing changes).
    pub async fn plan(&self) -> Result<Planned, Error> {
        let mut live = self.read().await?;
        let (mut plan, wanted) = diff::diff_with_documents_wanted(self.spec, &live)?;
        if !wanted.is_empty() {
            live.aws_documents = Box::pin(live::read_documents(self.api, wanted)).await?;
            plan = diff::diff(self.spec, &live)?;
        }
        Ok(Planned { live, plan })
    }

    /// live -> diff, returning who the caller is too. What principals gain from AWS-managed
    /// policies comes from the embedded snapshot of their documents, without reading them
    /// (`plan` reads the account's copies, which win where they differ).
    pub async fn plan_quickly(&self) -> Result<(Plan, Caller), Error> {
        let mut live = self.read().await?;
        let (mut plan, wanted) = diff::diff_with_documents_wanted(self.spec, &live)?;
        let known: std::collections::BTreeMap<_, _> = wanted
            .into_iter()
            .filter_map(|arn| {
                let document = crate::lint::managed::document(&arn.name)?;
                Some((arn, document.canonical.clone()))
            })
            .collect();
        if !known.is_empty() {
            live.aws_documents = known;
            plan = diff::diff(self.spec, &live)?;
        }
        Ok((plan, live.caller))
    }

    /// live: the account as the spec needs it read.
    pub async fn read(&self) -> Result<LiveState, Error> {
        let dir = self.reading.secrets_dir;
        let pending = SecretsDir::new(dir)
            .pending()
            .map_err(|source| Error::Secrets {
                path: dir.to_owned(),
                source,
            })?;
        let keys = if self.reading.list_keys {
            KeyReading::ListEach
        } else {
            KeyReading::Report
        };
        let reading = Box::pin(live::read(self.api, self.spec, pending, keys));
        Ok(self.terminal.reading(self.api, reading).await?)
    }

    /// How plans and reports are rendered for this terminal.
    pub fn style(&self) -> Style<'_> {
        Style {
            color: self.terminal.color(),
            secrets_dir: self.reading.secrets_dir,
        }
    }

    /// Takes the lock, plans again under it (another apply may have changed the account while
    /// this one waited), applies the plan that was confirmed, and gives the lock back. Returns
    /// the exit code: 0 when all of it was made.
    pub async fn apply(
        &self,
        confirmed: &Plan,
        caller: &Caller,
        yes: bool,
        run: Run,
        stop: &mut Stop,
    ) -> Result<u8, Error> {
        let options = run.options(SecretsDir::new(self.reading.secrets_dir));
        let locked = async |lock: &Lock, stop: &mut Stop| {
            let (plan, _) = self.plan_quickly().await?;
            if plan.changes != confirmed.changes {
                let confirmed_all = plan.changes.iter().all(|c| confirmed.changes.contains(c));
                if !yes && !confirmed_all {
                    return Err(Error::Stale);
                }
                if plan.is_empty() {
                    self.terminal.show(
                        "\nNothing left to do: another apply made these changes meanwhile.\n",
                    )?;
                    return Ok(0);
                }
                self.terminal.show(
                    "\nThe account changed while apply waited for the lock; what is left to do:\n\n",
                )?;
                self.terminal.show(&render::text(&plan, self.style()))?;
                check_before_apply(&plan, run.max_deletes, &options.secrets)?;
            }
            self.finish(&plan, lock, &options, render::Next::ApplyAgain, stop)
                .await
        };
        self.with_lock(caller, run.lock_timeout, stop, locked).await
    }

    /// Reads the account under the lock and applies the saved plan's changes, if nothing they
    /// depend on changed since it was made.
    pub async fn apply_saved(
        &self,
        saved: &SavedPlan,
        caller: &Caller,
        run: Run,
        stop: &mut Stop,
    ) -> Result<u8, Error> {
        let options = run.options(SecretsDir::new(self.reading.secrets_dir));
        let locked = async |lock: &Lock, stop: &mut Stop| {
            let live = self.read().await?;
            saved.check_live(&live)?;
            let (plan, extra) = saved.select(diff::diff(self.spec, &live)?)?;
            saved.check_fingerprinted(&plan)?;
            self.terminal.show(&render::text(&plan, self.style()))?;
            if extra > 0 {
                self.terminal.say(&format!(
                    "note: the account now needs {extra} more change{} that the saved plan does not have (a credential came due meanwhile, say): plan again after this apply",
                    if extra == 1 { "" } else { "s" }
                ));
            }
            if plan.is_empty() {
                return Ok(0);
            }
            check_before_apply(&plan, run.max_deletes, &options.secrets)?;
            self.finish(&plan, lock, &options, render::Next::PlanAgain, stop)
                .await
        };
        self.with_lock(caller, run.lock_timeout, stop, locked).await
    }

    /// Takes the apply lock of the spec's owner in the account, runs `body` while holding it
    /// (a signal while waiting stops before any change), and gives it back.
    async fn with_lock(
        &self,
        caller: &Caller,
        timeout: Duration,
        stop: &mut Stop,
        body: impl AsyncFnOnce(&Lock, &mut Stop) -> Result<u8, Error>,
    ) -> Result<u8, Error> {
        if let Some(code) = stop.requested() {
            return Err(Error::Stopped { code });
        }
        let arn = lock::arn(caller, &self.spec.ownership.owner);
        let waiting = |holder: &Holder| {
            self.terminal.say(&format!(
                "waiting for the apply lock, held by {} since {} (at most {})",
                holder.who,
                holder.since,
                humantime::format_duration(timeout)
            ));
        };
        let taking = lock::acquire(self.api, arn, lock::holder(caller), timeout, waiting);
        let held = tokio::select! {
            held = taking => held?,
            (_, code) = stop.next() => return Err(Error::Stopped { code }),
        };
        let applied = body(&held, stop).await;
        if let Err(err) = held.release(self.api).await {
            self.terminal.say(&format!(
                "warning: {err}; it expires by itself within {}",
                humantime::format_duration(lock::LEASE)
            ));
        }
        applied
    }

    /// Applies the plan and reports: exit 0 when all of it was made.
    async fn finish(
        &self,
        plan: &Plan,
        lock: &Lock,
        options: &ApplyOptions,
        next: render::Next,
        stop: &mut Stop,
    ) -> Result<u8, Error> {
        let report = self.run(plan, lock, options, next, stop).await?;
        self.terminal
            .show(&render::report(&report, !self.terminal.watched(), next))?;
        Ok(report
            .stopped_by
            .unwrap_or_else(|| u8::from(!report.succeeded())))
    }

    /// Applies the plan. A first signal lets the calls in flight finish, so that no key loses
    /// its secret, and starts nothing new; a second one stops at once. The lock is renewed
    /// while the apply runs; if it is lost, nothing new starts.
    async fn run(
        &self,
        plan: &Plan,
        lock: &Lock,
        options: &ApplyOptions,
        next: render::Next,
        stop: &mut Stop,
    ) -> Result<Report, Error> {
        let mut stopped_by = stop.seen();
        let interrupt = AtomicBool::new(stopped_by.is_some());
        let shown = self.terminal.progress(plan.changes.len(), self.api);
        let run = apply::apply_until(plan, self.api, options, &interrupt, &*shown);
        tokio::pin!(run);
        let keeping = lock.keep(self.api);
        tokio::pin!(keeping);
        let mut lost = None;
        let mut report = loop {
            tokio::select! {
                report = &mut run => break report,
                (count, code) = stop.next() => {
                    if count > 1 || stopped_by.is_some() {
                        return Err(Error::Interrupted { code });
                    }
                    stopped_by = Some(code);
                    interrupt.store(true, Ordering::SeqCst);
                    self.terminal.say(
                        "\ninterrupted: finishing the calls in flight, starting no new ones (a second Ctrl-C or signal stops at once)",
                    );
                }
                err = &mut keeping, if lost.is_none() => {
                    interrupt.store(true, Ordering::SeqCst);
                    lost = Some(err);
                }
            }
        };
        shown.close();
        if let Some(err) = lost {
            self.terminal
                .show(&render::report(&report, !self.terminal.watched(), next))?;
            return Err(err.into());
        }
        report.stopped_by = stopped_by.filter(|_| report.interrupted);
        Ok(report)
    }
}

/// What to show of a spec before anything else: its warnings and the linter's findings at
/// level warning or above, one line each, and how many findings are at level error (any of
/// which stops the spec before a call).
pub fn spec_notes(spec: &Spec) -> (Vec<String>, usize) {
    let mut notes: Vec<String> = spec
        .warnings
        .iter()
        .map(|w| format!("warning: {w}"))
        .collect();
    let findings = crate::lint::lint(spec);
    notes.extend(
        findings
            .iter()
            .filter(|f| f.severity >= crate::lint::Severity::Warning)
            .map(ToString::to_string),
    );
    let mut errors = findings
        .iter()
        .filter(|f| f.severity == crate::lint::Severity::Error)
        .count();
    for broken in crate::eval::spec::broken(spec) {
        errors += 1;
        notes.push(format!("error: {broken}"));
    }
    (notes, errors)
}

/// What must hold before a plan is applied: not too many deletions, and, when keys or console
/// passwords are made, a secrets directory that can take them safely.
pub fn check_before_apply(
    plan: &Plan,
    max_deletes: usize,
    secrets: &SecretsDir,
) -> Result<(), Error> {
    check_deletions(plan, max_deletes)?;
    if plan.changes.iter().any(|c| {
        matches!(
            c.op,
            Op::CreateAccessKey { .. } | Op::CreateLoginProfile { .. }
        )
    }) {
        secrets.check()?;
    }
    Ok(())
}

/// `--max-deletes`: a spec that lost half its users by mistake should not take them along.
pub fn check_deletions(plan: &Plan, max: usize) -> Result<(), Error> {
    let count = plan.deletions();
    if count > max {
        return Err(Error::TooManyDeletes { count, max });
    }
    Ok(())
}
