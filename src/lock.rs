//! The apply lock: two applies (or an apply and a prune) for the same account and owner never
//! make their changes at the same time.
//!
//! iamspec keeps no state file and needs no other service, so the lock lives in IAM itself: a
//! customer-managed policy that grants nothing, at a path of its own
//! (`/iamspec-lock/iamspec-lock-<owner>`). IAM's `CreatePolicy` either makes it or answers
//! `EntityAlreadyExists`, which makes taking the lock atomic. Its tags say who holds it, since
//! when, and until when: the holder renews the expiry while it works, so a holder that died
//! (SIGKILL, a lost runner) blocks others only until its lease runs out, and the next apply
//! then takes the lock over. Every renewal first checks that the lock is still the holder's
//! own (by a random token), so a holder that was taken over stops instead of carrying on.
//!
//! What it cannot do: IAM has no conditional delete, so two applies that both find the same
//! lock expired at the same instant could both take it over; and expiry is judged by the
//! clocks of the machines involved, which must be roughly right (within the lease).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use rand::Rng;

use crate::iam::PolicyArn;
use crate::live::{ApiError, Caller, ErrorKind, IamApi};
use crate::plan::Op;

/// How long a lock holds without renewal.
pub const LEASE: Duration = Duration::from_mins(2);

/// How often a holder renews its lease.
pub const RENEW_EVERY: Duration = Duration::from_secs(30);

/// How long to wait between tries for a lock someone else holds.
const POLL: Duration = Duration::from_secs(2);

/// The path of lock policies: never a spec's, never read as part of the account.
pub const LOCK_PATH: &str = "/iamspec-lock/";

const TOKEN_TAG: &str = "iamspec:lock-token";
const HOLDER_TAG: &str = "iamspec:lock-holder";
const SINCE_TAG: &str = "iamspec:lock-since";
const EXPIRES_TAG: &str = "iamspec:lock-expires";
const PROCESS_TAG: &str = "iamspec:lock-process";

/// A lock this process holds.
#[derive(Debug)]
pub struct Lock {
    arn: PolicyArn,
    token: String,
    holder: String,
    since: SystemTime,
}

/// Who holds a lock, as its tags say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub who: String,
    pub since: String,
    pub expires: String,
}

/// Why the lock could not be had or kept.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Someone else held it for longer than the caller would wait.
    #[error(
        "another apply for this account and owner holds the lock: {} since {}, until {} unless it renews it. Wait for it to finish and run apply again (or pass a longer --lock-timeout). If no apply is running, the lock expires by itself; to remove it at once: `aws iam delete-policy --policy-arn {arn}`",
        holder.who, holder.since, holder.expires
    )]
    Held { holder: Holder, arn: PolicyArn },
    /// The lock was taken over (its lease ran out) or removed while this apply held it.
    #[error(
        "the apply lock was lost while applying (its lease ran out without renewal, or it was removed by hand): no new changes were started; run apply again to finish"
    )]
    Lost,
    /// IAM refused a lock call.
    #[error("could not {what} the apply lock {arn}: {source}{}", advice(source.kind))]
    Api {
        what: &'static str,
        arn: PolicyArn,
        #[source]
        source: ApiError,
    },
}

fn advice(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::AccessDenied => {
            "; allow the caller iam:CreatePolicy, iam:TagPolicy, iam:ListPolicyTags and iam:DeletePolicy on policy/iamspec-lock/*"
        }
        _ => "",
    }
}

/// The lock's ARN for an account and owner. Characters a policy name cannot have become `-`:
/// two owners that then look alike share a lock, which only makes them wait for each other.
pub fn arn(caller: &Caller, owner: &str) -> PolicyArn {
    let owner: String = owner
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "+=,.@_-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(100)
        .collect();
    PolicyArn {
        partition: caller.partition,
        account: caller.account.clone(),
        path: LOCK_PATH.to_owned(),
        name: format!("iamspec-lock-{owner}"),
    }
}

/// Takes the lock at `arn` for `holder` (who and where, for others to read), waiting up to
/// `timeout` for another holder to release it; `waiting` is told each holder it waits for.
pub async fn acquire(
    api: &impl IamApi,
    arn: PolicyArn,
    holder: String,
    timeout: Duration,
    mut waiting: impl FnMut(&Holder),
) -> Result<Lock, LockError> {
    let started = tokio::time::Instant::now();
    let mut last_seen: Option<Holder> = None;
    loop {
        let lock = Lock {
            arn: arn.clone(),
            token: format!("{:032x}", rand::rng().random::<u128>()),
            holder: holder.clone(),
            since: SystemTime::now(),
        };
        match api.call(&lock.create()).await {
            Ok(_) => return Ok(lock),
            Err(err) if err.kind == ErrorKind::AlreadyExists => {}
            Err(source) => return Err(lock.failed("take", source)),
        }
        match read(api, &arn).await? {
            // Released between the two calls (or not visible yet): try again in a moment.
            None if started.elapsed() < timeout + POLL => {
                tokio::time::sleep(POLL / 10).await;
                continue;
            }
            None => {
                let holder = describe(&BTreeMap::new());
                return Err(LockError::Held { holder, arn });
            }
            // Made by this very call, whose first answer was lost and was retried.
            Some(tags) if tags.get(TOKEN_TAG) == Some(&lock.token) => return Ok(lock),
            Some(tags) if expired(&tags, SystemTime::now()) || died_here(&tags) => {
                // Its holder stopped renewing it, or is a process of this machine that is
                // gone: it died. Take it over, giving IAM a moment to see the removal (and
                // never for longer than the wait allows).
                if started.elapsed() > timeout + LEASE {
                    return Err(LockError::Held {
                        holder: describe(&tags),
                        arn,
                    });
                }
                remove(api, &arn).await?;
                tokio::time::sleep(POLL / 10).await;
                continue;
            }
            Some(tags) => {
                let seen = describe(&tags);
                if started.elapsed() >= timeout {
                    return Err(LockError::Held { holder: seen, arn });
                }
                if last_seen.as_ref() != Some(&seen) {
                    waiting(&seen);
                    last_seen = Some(seen);
                }
            }
        }
        let jitter = rand::rng().random_range(Duration::ZERO..=POLL / 2);
        let left = timeout.saturating_sub(started.elapsed());
        tokio::time::sleep((POLL + jitter).min(left)).await;
    }
}

impl Lock {
    /// `CreatePolicy` of the lock: a policy that grants nothing, tagged with its holder.
    fn create(&self) -> Op {
        Op::CreatePolicy {
            policy: self.arn.name.clone(),
            path: self.arn.path.clone(),
            description: "iamspec apply lock: grants nothing, removed when the apply ends"
                .to_owned(),
            document: serde_json::json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "GrantsNothing",
                    "Effect": "Deny",
                    "Action": "iam:GetUser",
                    "Resource": format!("arn:{}:iam::{}:user/iamspec-lock-grants-nothing", self.arn.partition, self.arn.account),
                }],
            }),
            tags: self.tags(SystemTime::now()),
        }
    }

    fn tags(&self, now: SystemTime) -> BTreeMap<String, String> {
        BTreeMap::from([
            (TOKEN_TAG.to_owned(), self.token.clone()),
            (HOLDER_TAG.to_owned(), tag_value(&self.holder)),
            (SINCE_TAG.to_owned(), timestamp(self.since)),
            (EXPIRES_TAG.to_owned(), timestamp(now + LEASE)),
            (
                PROCESS_TAG.to_owned(),
                Process::me().map_or_else(String::new, |p| p.to_string()),
            ),
        ])
    }

    /// Extends the lease, after checking that the lock is still this holder's.
    pub async fn renew(&self, api: &impl IamApi) -> Result<(), LockError> {
        let now = SystemTime::now();
        match read(api, &self.arn).await? {
            Some(tags) if tags.get(TOKEN_TAG) == Some(&self.token) => {}
            _ => return Err(LockError::Lost),
        }
        let renew = Op::TagPolicy {
            policy: self.arn.clone(),
            tags: BTreeMap::from([(EXPIRES_TAG.to_owned(), timestamp(now + LEASE))]),
        };
        api.call(&renew)
            .await
            .map(drop)
            .map_err(|source| self.failed("renew", source))
    }

    /// Keeps the lock while the caller works: renews its lease every `RENEW_EVERY` for as
    /// long as it is polled, and returns only when the lock is lost (taken over, removed by
    /// hand, or not renewed before its lease could run out). A renewal IAM did not answer is
    /// tried again at the next tick, as long as the lease it holds cannot have run out by then.
    pub async fn keep(&self, api: &impl IamApi) -> LockError {
        let mut renewals = tokio::time::interval(RENEW_EVERY);
        renewals.reset();
        let mut renewed = tokio::time::Instant::now();
        loop {
            renewals.tick().await;
            match self.renew(api).await {
                Ok(()) => renewed = tokio::time::Instant::now(),
                Err(LockError::Api { .. }) if renewed.elapsed() + RENEW_EVERY < LEASE => {}
                Err(err) => return err,
            }
        }
    }

    /// Gives the lock up, if it is still this holder's.
    pub async fn release(self, api: &impl IamApi) -> Result<(), LockError> {
        match read(api, &self.arn).await? {
            Some(tags) if tags.get(TOKEN_TAG) == Some(&self.token) => remove(api, &self.arn).await,
            _ => Ok(()),
        }
    }

    fn failed(&self, what: &'static str, source: ApiError) -> LockError {
        LockError::Api {
            what,
            arn: self.arn.clone(),
            source,
        }
    }
}

/// The lock's tags, or `None` when there is no lock.
async fn read(
    api: &impl IamApi,
    arn: &PolicyArn,
) -> Result<Option<BTreeMap<String, String>>, LockError> {
    match api.policy_tags(arn).await {
        Ok(tags) => Ok(Some(tags)),
        Err(err) if err.kind == ErrorKind::NoSuchEntity => Ok(None),
        Err(source) => Err(LockError::Api {
            what: "read",
            arn: arn.clone(),
            source,
        }),
    }
}

async fn remove(api: &impl IamApi, arn: &PolicyArn) -> Result<(), LockError> {
    let delete = Op::DeletePolicy {
        policy: arn.clone(),
    };
    match api.call(&delete).await {
        Err(err) if err.kind != ErrorKind::NoSuchEntity => Err(LockError::Api {
            what: "remove",
            arn: arn.clone(),
            source: err,
        }),
        _ => Ok(()),
    }
}

/// Whether a lock's lease has run out. A lock whose tags cannot be read yet (IAM shows a new
/// policy's tags a moment after it) is not expired: it is someone's, just made.
fn expired(tags: &BTreeMap<String, String>, now: SystemTime) -> bool {
    tags.get(EXPIRES_TAG)
        .and_then(|t| humantime::parse_rfc3339(t).ok())
        .is_some_and(|expires| expires < now)
}

/// Whether the lock's holder was a process of this very machine (same boot, same process
/// namespace) that no longer runs: then nobody need wait for its lease to run out.
fn died_here(tags: &BTreeMap<String, String>) -> bool {
    let (Some(holder), Some(me)) = (
        tags.get(PROCESS_TAG).and_then(|t| Process::parse(t)),
        Process::me(),
    ) else {
        return false;
    };
    holder.boot == me.boot && holder.namespace == me.namespace && !holder.is_running()
}

/// A process, told apart from every other: the boot of the machine, the process namespace
/// (containers share a boot, not a namespace), its id and when it started (ids are reused).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Process {
    boot: String,
    namespace: String,
    pid: u32,
    started: String,
}

impl Process {
    /// This process, where Linux's /proc tells; elsewhere nothing, and locks then wait for
    /// their lease.
    fn me() -> Option<Self> {
        let pid = std::process::id();
        Some(Self {
            boot: std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
                .ok()?
                .trim()
                .to_owned(),
            namespace: std::fs::read_link("/proc/self/ns/pid")
                .ok()?
                .to_string_lossy()
                .chars()
                .filter(char::is_ascii_digit)
                .collect(),
            pid,
            started: start_time(pid)?,
        })
    }

    fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split('/');
        let process = Self {
            boot: parts.next()?.to_owned(),
            namespace: parts.next()?.to_owned(),
            pid: parts.next()?.parse().ok()?,
            started: parts.next()?.to_owned(),
        };
        parts.next().is_none().then_some(process)
    }

    fn is_running(&self) -> bool {
        start_time(self.pid).is_some_and(|started| started == self.started)
    }
}

impl std::fmt::Display for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{}/{}/{}",
            self.boot, self.namespace, self.pid, self.started
        )
    }
}

/// When a running process started, in clock ticks since boot (field 22 of /proc/PID/stat,
/// counted after the command name, which may itself hold spaces and parentheses); nothing for
/// a process that is gone or a zombie.
fn start_time(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    if matches!(fields.first(), Some(&("Z" | "X"))) {
        return None;
    }
    fields.get(19).map(|s| (*s).to_owned())
}

fn describe(tags: &BTreeMap<String, String>) -> Holder {
    let get = |key: &str| {
        tags.get(key)
            .cloned()
            .unwrap_or_else(|| "(unknown)".to_owned())
    };
    Holder {
        who: get(HOLDER_TAG),
        since: get(SINCE_TAG),
        expires: get(EXPIRES_TAG),
    }
}

fn timestamp(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

/// A tag value: at most 256 characters of those IAM allows in one.
fn tag_value(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(256)
        .collect()
}

/// Who this process is, for others waiting on its lock: the caller, the host and the process.
pub fn holder(caller: &Caller) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    let host = if host.is_empty() {
        "an unknown host".to_owned()
    } else {
        host
    };
    format!("{} on {host} pid {}", caller.arn, std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iam::Partition;

    fn caller() -> Caller {
        Caller {
            account: "123456789012".into(),
            arn: "arn:aws:iam::123456789012:user/ci".into(),
            partition: Partition::Aws,
            access_key_id: None,
        }
    }

    #[test]
    fn the_lock_is_named_after_the_owner_in_a_path_of_its_own() {
        assert_eq!(
            arn(&caller(), "platform team/ci").to_string(),
            "arn:aws:iam::123456789012:policy/iamspec-lock/iamspec-lock-platform-team-ci"
        );
    }

    #[test]
    fn a_lease_expires_only_when_its_time_is_known_and_past() {
        let lock = Lock {
            arn: arn(&caller(), "iamspec"),
            token: "t".into(),
            holder: "ci on host pid 1 (ci)".into(),
            since: SystemTime::now(),
        };
        let now = SystemTime::now();
        let tags = lock.tags(now);
        assert!(!expired(&tags, now));
        assert!(expired(&tags, now + LEASE + Duration::from_secs(1)));
        assert!(!expired(&BTreeMap::new(), now), "tags not visible yet");
        assert_eq!(tags[HOLDER_TAG], "ci on host pid 1 _ci_");
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn one_holder_at_a_time_and_a_lost_lock_is_noticed() {
        use crate::live::memory::{MemoryAccount, MemoryIam};
        let api = MemoryIam::new(MemoryAccount::default());
        let lock_arn = arn(&caller(), "iamspec");
        let rt = runtime();
        let take = |timeout| {
            rt.block_on(acquire(
                &api,
                lock_arn.clone(),
                "someone".into(),
                timeout,
                |_| {},
            ))
            .map_err(Box::new)
        };
        let first = take(Duration::ZERO).expect("a free lock is taken");
        let second = take(Duration::ZERO).unwrap_err();
        assert!(
            matches!(&*second, LockError::Held { holder, .. } if holder.who == "someone"),
            "{second}"
        );
        rt.block_on(first.renew(&api)).expect("still ours");
        // Removed by hand while held: the next renewal says so.
        rt.block_on(api.call(&Op::DeletePolicy {
            policy: lock_arn.clone(),
        }))
        .unwrap();
        assert!(matches!(
            rt.block_on(first.renew(&api)),
            Err(LockError::Lost)
        ));
        // Someone else's now: releasing ours leaves theirs alone.
        let theirs = take(Duration::ZERO).unwrap();
        rt.block_on(first.release(&api)).unwrap();
        rt.block_on(theirs.renew(&api))
            .expect("untouched by the other's release");
        rt.block_on(theirs.release(&api)).unwrap();
        take(Duration::ZERO).expect("released");
    }

    /// `keep` renews for as long as the work goes on, and ends only when the lock is lost.
    #[test]
    fn a_kept_lock_is_renewed_until_it_is_removed() {
        use crate::live::memory::{MemoryAccount, MemoryIam};
        let api = MemoryIam::new(MemoryAccount::default());
        let lock_arn = arn(&caller(), "iamspec");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let lock = acquire(&api, lock_arn.clone(), "me".into(), Duration::ZERO, |_| {})
                .await
                .unwrap();
            // Three leases' worth of work: still held, renewed all along.
            let worked = tokio::time::timeout(LEASE * 3, lock.keep(&api)).await;
            assert!(worked.is_err(), "kept while the work went on");
            lock.renew(&api).await.expect("still ours");
            api.call(&Op::DeletePolicy { policy: lock_arn })
                .await
                .unwrap();
            let lost = tokio::time::timeout(RENEW_EVERY * 2, lock.keep(&api))
                .await
                .expect("a removed lock ends the keeping at the next renewal");
            assert!(matches!(lost, LockError::Lost), "{lost}");
        });
    }

    #[test]
    fn a_lease_that_ran_out_is_taken_over() {
        use crate::live::memory::{MemoryAccount, MemoryIam};
        let api = MemoryIam::new(MemoryAccount::default());
        let lock_arn = arn(&caller(), "iamspec");
        let rt = runtime();
        let stale = Lock {
            arn: lock_arn.clone(),
            token: "stale".into(),
            holder: "a runner that vanished".into(),
            since: SystemTime::UNIX_EPOCH,
        };
        let mut create = stale.create();
        if let Op::CreatePolicy { tags, .. } = &mut create {
            tags.insert(EXPIRES_TAG.into(), timestamp(SystemTime::UNIX_EPOCH));
            tags.remove(PROCESS_TAG);
        }
        rt.block_on(api.call(&create)).unwrap();
        let taken = rt
            .block_on(acquire(&api, lock_arn, "me".into(), Duration::ZERO, |_| {}))
            .expect("an expired lease is taken over");
        assert!(matches!(
            rt.block_on(stale.renew(&api)),
            Err(LockError::Lost)
        ));
        rt.block_on(taken.renew(&api)).unwrap();
    }

    #[test]
    fn a_holder_that_is_gone_from_this_machine_is_known_dead() {
        let me = Process::me().expect("Linux /proc");
        assert_eq!(Process::parse(&me.to_string()), Some(me.clone()));
        let tags = |p: &Process| BTreeMap::from([(PROCESS_TAG.to_owned(), p.to_string())]);
        assert!(!died_here(&tags(&me)), "this process runs");
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let started = start_time(pid);
        child.wait().unwrap();
        let gone = Process {
            pid,
            started: started.unwrap_or_else(|| "1".into()),
            ..me.clone()
        };
        assert!(died_here(&tags(&gone)), "a finished process");
        let reused = Process {
            started: "1".into(),
            ..me.clone()
        };
        assert!(
            died_here(&tags(&reused)),
            "this pid, but started at another time"
        );
        let elsewhere = Process {
            boot: "another-machine".into(),
            ..gone
        };
        assert!(
            !died_here(&tags(&elsewhere)),
            "another machine's: wait for the lease"
        );
        assert!(!died_here(&BTreeMap::new()));
    }
}
