//! People's credentials over time: access keys (one active key, its rotation with overlap,
//! keys unused too long), console passwords, the account alias and password policy, and the
//! warnings around them (root credentials, console users without MFA). Ages come from the
//! live state's clock (`LiveState::now`): the differ never reads one itself.

use super::{Differ, lost_keys};
use crate::iam::{KEY_MARK, Partition};
use crate::live::{AccessKey, LiveUser, idle};
use crate::plan::{Cause, Change, Drift, KeyStatus, NextStep, Op, RotationStep};
use crate::spec::{self, Rotation};

impl Differ<'_> {
    /// `access_key = true` asks for one active key: the newest active key is the declared one,
    /// every other key is drift. Without it, every key is drift. With a lifecycle the declared
    /// key is rotated when due (one step a plan), and `disable_unused` deactivates keys unused
    /// too long.
    pub(super) fn access_keys(&mut self, user: &spec::User, live: &LiveUser) {
        if live.keys_settled {
            return;
        }
        // `--replace-lost-keys`: a key nobody has the secret of goes, and counts for nothing.
        let lost = if self.spec.replace_lost_keys {
            lost_keys(self.live, &live.name)
        } else {
            Vec::new()
        };
        for id in &lost {
            let delete = Op::DeleteAccessKey {
                user: user.name.clone(),
                access_key_id: (*id).to_owned(),
            };
            self.changes
                .push(Change::from(delete).because(Cause::LostSecret));
        }
        let mut keys: Vec<AccessKey> = live
            .access_keys
            .iter()
            .filter(|k| !lost.contains(&k.id.as_str()))
            .cloned()
            .collect();
        let disabled = self.disable_unused_keys(user, &mut keys);
        let ours = |key: &AccessKey| live.tags.get(&key.id).map(String::as_str) == Some(KEY_MARK);
        // The declared key: the newest active key iamspec made, else the newest active key
        // at all (one made by hand, or before iamspec marked its keys), which iamspec keeps
        // but never rotates out.
        let declared = if user.access_key {
            keys.iter()
                .rev()
                .find(|k| k.active && ours(k))
                .or_else(|| keys.iter().rev().find(|k| k.active))
                .cloned()
        } else {
            None
        };
        if user.access_key && declared.is_none() {
            if let Some(key) = keys.iter().find(|k| self.unused_for(k).is_some()) {
                // Making a new key would undo what `disable_unused` is for.
                self.warnings.push(format!(
                    "user {} must have an active access key, but its key {} was deactivated as unused for [account] disable_unused, so no new one is made: reactivate it (aws iam update-access-key --status Active) if it is needed, or remove access_key from the spec",
                    user.name, key.id
                ));
            } else if keys.len() >= 2 {
                self.problems.push(format!(
                    "user `{}` must have an active access key, but has {} inactive keys, the most IAM allows: activate one (aws iam update-access-key --status Active) or delete one, then run iamspec again",
                    user.name,
                    keys.len()
                ));
            } else {
                self.plan(Op::CreateAccessKey {
                    user: user.name.clone(),
                    rotates: None,
                });
            }
        }
        if let Some(key) = declared.as_ref().filter(|k| !ours(k)) {
            self.unmarked_key(user, key);
        }
        let retiring = match (user.rotation, &declared) {
            (Some(rotation), Some(declared)) if !disabled && ours(declared) => {
                let mine: Vec<AccessKey> = keys.iter().filter(|k| ours(k)).cloned().collect();
                let others = keys.len() - mine.len();
                self.rotate(user, rotation, declared, &mine, others)
            }
            _ => None,
        };
        for key in &keys {
            if declared.as_ref().is_some_and(|d| d.id == key.id)
                || retiring.as_ref() == Some(&key.id)
            {
                continue;
            }
            self.drift.push(Drift::ExtraAccessKey {
                user: user.name.clone(),
                access_key_id: key.id.clone(),
                status: if key.active {
                    KeyStatus::Active
                } else {
                    KeyStatus::Inactive
                },
                age: idle(key.created, self.live.now),
            });
        }
    }

    /// The declared key is one iamspec did not make: with `--adopt-keys` it is marked as
    /// iamspec's (a tag on its user), so that it can be rotated; without, a rotation says
    /// how to adopt it, as it never rotates out a key it cannot prove it made.
    fn unmarked_key(&mut self, user: &spec::User, key: &AccessKey) {
        if self.spec.adopt_keys {
            let op = Op::mark_key(&user.name, &key.id);
            let because = Cause::AdoptKey {
                access_key_id: key.id.clone(),
            };
            self.changes.push(Change::from(op).because(because));
        } else if user.rotation.is_some() {
            self.warnings.push(format!(
                "user {}'s access key {} was not made by iamspec (its user has no tag {} = \"{KEY_MARK}\"), so it is never rotated out: if it is the key the spec declares, adopt it with `iamspec apply --adopt-keys`",
                user.name, key.id, key.id
            ));
        }
    }

    /// The next due step of a rotation, if any; returns the key being retired (the one older
    /// than the declared key), which is not drift while it is. IAM allows two keys: a rotation
    /// starts only when the declared key is the user's only one.
    ///
    /// `mine` are the user's keys iamspec made (the declared one among them); `others` counts
    /// the rest, which take a place of IAM's two but are never retired.
    fn rotate(
        &mut self,
        user: &spec::User,
        rotation: Rotation,
        declared: &AccessKey,
        mine: &[AccessKey],
        others: usize,
    ) -> Option<String> {
        let now = self.live.now;
        let age = idle(declared.created, now);
        let due = |after: u64| {
            declared
                .created
                .saturating_add(i64::try_from(after).unwrap_or(i64::MAX))
        };
        let older: Vec<&AccessKey> = mine.iter().filter(|k| k.id != declared.id).collect();
        let cause = |step, key: &str, age, next: Option<NextStep>| Cause::Rotation {
            step,
            access_key_id: key.to_owned(),
            age,
            next,
        };
        match (older.as_slice(), others) {
            ([], 0) if age >= rotation.max_age => {
                let next = NextStep {
                    step: RotationStep::Deactivate,
                    due: now.saturating_add(i64::try_from(rotation.overlap).unwrap_or(i64::MAX)),
                };
                let op = Op::CreateAccessKey {
                    user: user.name.clone(),
                    rotates: Some(declared.id.clone()),
                };
                let because = cause(RotationStep::Rotate, &declared.id, age, Some(next));
                self.changes.push(Change::from(op).because(because));
                None
            }
            ([], 0) => None,
            ([old], 0) if old.created <= declared.created => {
                if old.active && age >= rotation.overlap {
                    let op = Op::UpdateAccessKey {
                        user: user.name.clone(),
                        access_key_id: old.id.clone(),
                        status: KeyStatus::Inactive,
                    };
                    let next = NextStep {
                        step: RotationStep::Delete,
                        due: due(rotation.overlap.saturating_mul(2)),
                    };
                    let because = cause(RotationStep::Deactivate, &old.id, age, Some(next));
                    self.changes.push(Change::from(op).because(because));
                } else if !old.active && age >= rotation.overlap.saturating_mul(2) {
                    let op = Op::DeleteAccessKey {
                        user: user.name.clone(),
                        access_key_id: old.id.clone(),
                    };
                    let next = NextStep {
                        step: RotationStep::Rotate,
                        due: due(rotation.max_age),
                    };
                    let because = cause(RotationStep::Delete, &old.id, age, Some(next));
                    self.changes.push(Change::from(op).because(because));
                }
                Some(old.id.clone())
            }
            _ => {
                if age >= rotation.max_age {
                    self.drift.push(Drift::StaleAccessKey {
                        user: user.name.clone(),
                        access_key_id: declared.id.clone(),
                        age,
                        max_age: rotation.max_age,
                    });
                }
                None
            }
        }
    }

    /// `disable_unused`: active keys unused that long are deactivated (and count as inactive
    /// from here on). Whether any was.
    fn disable_unused_keys(&mut self, user: &spec::User, keys: &mut [AccessKey]) -> bool {
        let mut any = false;
        for key in keys.iter_mut().filter(|k| k.active) {
            let Some(idle) = self.unused_for(key) else {
                continue;
            };
            if self.is_caller(&user.name) {
                // The caller's keys are never changed (it may be signing with this one), so
                // the key stays active, and is described so.
                self.warnings.push(format!(
                    "user {}'s active access key {} has not been used for {} days ([account] disable_unused), but iamspec is signing as {} and never changes it: deactivate it with other credentials if it is not needed",
                    user.name,
                    key.id,
                    idle / 86_400,
                    user.name
                ));
                continue;
            }
            let op = Op::UpdateAccessKey {
                user: user.name.clone(),
                access_key_id: key.id.clone(),
                status: KeyStatus::Inactive,
            };
            let because = Cause::Unused {
                idle,
                last_used: key.last_used.as_ref().map(|u| u.at),
            };
            self.changes.push(Change::from(op).because(because));
            key.active = false;
            any = true;
        }
        any
    }

    /// How long a key has been unused, when that is `disable_unused` or longer.
    fn unused_for(&self, key: &AccessKey) -> Option<u64> {
        let limit = self.spec.settings.disable_unused?;
        if !self.live.account.report_read {
            return None;
        }
        let since = key.last_used.as_ref().map_or(key.created, |u| u.at);
        Some(idle(since, self.live.now)).filter(|idle| *idle >= limit)
    }

    /// `console`: a password made (for `true`), drift (for `false`), or disabled when unused
    /// for `disable_unused`; and a warning for a console user without MFA.
    pub(super) fn console(&mut self, user: &spec::User, live: Option<&LiveUser>) {
        let login = live.and_then(|l| l.login).flatten();
        let limit = self
            .spec
            .settings
            .disable_unused
            .filter(|_| self.live.account.report_read);
        let unused = login.zip(limit).and_then(|(login, limit)| {
            let idle = idle(login.last_used.unwrap_or(login.created), self.live.now);
            (idle >= limit).then_some((idle, login.last_used))
        });
        match (user.console, login) {
            (Some(true), None) => self.plan(Op::CreateLoginProfile {
                user: user.name.clone(),
                min_length: self.password_length(),
                sign_in_url: self.sign_in_url(),
            }),
            (Some(true), Some(_)) => {
                if let Some((idle, _)) = unused {
                    self.warnings.push(format!(
                        "user {}'s console password has not been used for {} days ([account] disable_unused); it is kept because the spec says console = true: set console = false to remove it",
                        user.name,
                        idle / 86_400
                    ));
                }
            }
            (Some(false), Some(_)) => self.drift.push(Drift::ConsolePassword {
                user: user.name.clone(),
            }),
            (None, Some(_)) => {
                if let Some((idle, last_used)) = unused {
                    let op = Op::DeleteLoginProfile {
                        user: user.name.clone(),
                    };
                    let because = Cause::Unused { idle, last_used };
                    self.changes.push(Change::from(op).because(because));
                }
            }
            (_, None) => {}
        }
        let has_console = user.console == Some(true)
            || (user.console.is_none() && login.is_some() && unused.is_none());
        // A new user has no device yet; a live one's is known only from the report.
        let no_mfa = live.is_none_or(|l| l.mfa == Some(false));
        if has_console && no_mfa && !self.is_caller(&user.name) {
            self.warnings.push(format!(
                "user {} can sign in to the console with a password alone: it has no MFA device (set require_mfa = true to keep it out of everything until it has one)",
                user.name
            ));
        }
    }

    /// The length of a new console password: what the account's password policy (as the
    /// spec sets it, or as it is) asks, and never less than 20.
    fn password_length(&self) -> u32 {
        let policy = self
            .spec
            .settings
            .password_policy
            .or(self.live.account.password_policy.flatten())
            .unwrap_or_default();
        policy.min_length.max(20)
    }

    /// Where the account's users sign in: its alias's URL (as the spec sets it, or as it is),
    /// or its id's.
    fn sign_in_url(&self) -> String {
        let alias = self
            .spec
            .settings
            .alias
            .clone()
            .or(self.live.account.alias.clone().flatten());
        let name = alias.unwrap_or_else(|| self.live.caller.account.clone());
        let host = match self.live.caller.partition {
            Partition::Aws => "signin.aws.amazon.com",
            Partition::AwsCn => "signin.amazonaws.cn",
            Partition::AwsUsGov => "signin.amazonaws-us-gov.com",
        };
        format!("https://{name}.{host}/console")
    }

    /// `[account] alias` and `password_policy`; an alias the spec does not set is drift,
    /// when it was read (`--prune`).
    pub(super) fn account_settings(&mut self) {
        let settings = &self.spec.settings;
        let live_alias = self.live.account.alias.clone();
        match (&settings.alias, live_alias) {
            (Some(alias), Some(live)) if live.as_ref() != Some(alias) => {
                self.plan(Op::CreateAccountAlias {
                    alias: alias.clone(),
                    before: live,
                });
            }
            (None, Some(Some(alias))) => self.drift.push(Drift::AccountAlias { alias }),
            _ => {}
        }
        if let (Some(policy), Some(live)) =
            (settings.password_policy, self.live.account.password_policy)
            && live != Some(policy)
        {
            {
                self.plan(Op::UpdateAccountPasswordPolicy {
                    policy,
                    before: live,
                });
            }
        }
        if self.live.caller.arn.ends_with(":root") {
            self.warnings.push(format!(
                "iamspec is signed in as the root user of account {}: AWS advises against using the root user for everyday tasks; use an IAM role or user with the permissions iamspec needs, and keep the root user's credentials locked away",
                self.live.caller.account
            ));
        }
    }
}

#[cfg(test)]
mod tests;
