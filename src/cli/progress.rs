//! What a terminal shows while iamspec works: one live line while apply runs (changes done of
//! all, calls per second, retries, time left) and a spinner while the account is read. Only
//! when standard output and standard error are both terminals: a CI log gets the plain lines.

use std::io::{self, IsTerminal};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::apply::Progress;
use crate::live::aws::AwsIam;

const TICK: Duration = Duration::from_millis(120);

/// Whether a person is watching: progress is drawn, and apply's report leaves out each change
/// made (the live line counted them). A `TERM=dumb` terminal cannot redraw a line.
pub fn on_terminal() -> bool {
    io::stdout().is_terminal()
        && io::stderr().is_terminal()
        && std::env::var_os("TERM").is_none_or(|term| term != "dumb")
}

/// A spinner while the account is read, with the calls made so far; nothing off a terminal.
pub struct Spinner(Option<ProgressBar>);

impl Spinner {
    /// Awaits `reading`, turning a spinner meanwhile: a large account takes a while.
    pub async fn reading<T>(api: &AwsIam, reading: impl Future<Output = T>) -> T {
        if !on_terminal() {
            return reading.await;
        }
        let spinner = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
            ProgressStyle::with_template("{spinner} reading the account: {msg} ({elapsed})")
                .expect("a valid template"),
        );
        spinner.enable_steady_tick(TICK);
        let shown = Self(Some(spinner));
        let before = calls(api);
        let mut reading = std::pin::pin!(reading);
        let mut every = tokio::time::interval(TICK);
        loop {
            tokio::select! {
                read = &mut reading => break read,
                _ = every.tick() => shown.calls(calls(api).saturating_sub(before)),
            }
        }
    }

    fn calls(&self, made: u64) {
        if let Some(spinner) = &self.0 {
            spinner.set_message(match made {
                1 => "1 call".to_owned(),
                n => format!("{n} calls"),
            });
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(spinner) = &self.0 {
            spinner.finish_and_clear();
        }
    }
}

/// The live line of an apply.
pub struct ApplyLine<'a> {
    bar: ProgressBar,
    api: &'a AwsIam,
    /// The calls made before the apply started (the reads that planned it).
    calls_before: u64,
    retries: AtomicU64,
}

impl<'a> ApplyLine<'a> {
    /// The line for an apply of `total` changes through `api`; `None` off a terminal.
    pub fn start(total: usize, api: &'a AwsIam) -> Option<Self> {
        if !on_terminal() {
            return None;
        }
        let bar = ProgressBar::with_draw_target(
            Some(u64::try_from(total).unwrap_or(u64::MAX)),
            ProgressDrawTarget::stderr(),
        )
        .with_style(
            ProgressStyle::with_template(
                "{spinner} applying: {pos}/{len} changes, {msg}, {elapsed} so far, about {eta} left",
            )
            .expect("a valid template"),
        );
        let line = Self {
            bar,
            api,
            calls_before: calls(api),
            retries: AtomicU64::new(0),
        };
        line.update();
        line.bar.enable_steady_tick(TICK);
        Some(line)
    }

    fn update(&self) {
        let calls = calls(self.api).saturating_sub(self.calls_before);
        let seconds = self.bar.elapsed().as_secs_f64().max(0.001);
        #[allow(clippy::cast_precision_loss)] // a rate to one decimal
        let rate = calls as f64 / seconds;
        let retries = match self.retries.load(Ordering::Relaxed) {
            1 => "1 retry".to_owned(),
            n => format!("{n} retries"),
        };
        self.bar
            .set_message(format!("{rate:.1} calls/s, {retries}"));
    }

    /// Takes the line off the screen, for the report to follow.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for ApplyLine<'_> {
    fn finished(&self) {
        self.bar.inc(1);
        self.update();
    }

    fn retried(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
        self.update();
    }

    fn close(&self) {
        self.finish();
    }
}

fn calls(api: &AwsIam) -> u64 {
    api.calls().values().sum()
}
