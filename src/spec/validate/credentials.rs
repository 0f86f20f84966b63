//! Credentials over time: `access_key` lifecycles, `console`, `require_mfa` and the `[account]`
//! settings around them (alias, `disable_unused`, password policy), checked against IAM's rules.

use std::collections::BTreeMap;

use crate::spec::raw::Spanned;
use serde_json::{Value, json};

use super::super::raw::{RawPasswordPolicy, RawSpec};
use super::super::{
    AccountSettings, Group, ManagedPolicy, PasswordPolicy, PolicyRef, PolicyUse, Rotation, User,
};
use super::Checker;
use crate::document::Document;
use crate::iam::DEFAULT_OWNER;

/// The name of the policy `require_mfa` attaches, for the default owner.
pub const MFA_POLICY: &str = "iamspec-require-mfa";

/// What CIS AWS Foundations asks of a password policy.
const CIS_MIN_LENGTH: u32 = 14;
const CIS_REUSE_PREVENTION: u32 = 24;

/// A duration as the spec writes it: a whole number and one unit, `s`, `m`, `h` or `d`.
pub fn parse_duration(text: &str) -> Option<u64> {
    let unit = text.chars().last()?;
    let seconds = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return None,
    };
    let number = &text[..text.len() - 1];
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    number.parse::<u64>().ok()?.checked_mul(seconds)
}

impl Checker<'_> {
    /// `access_key = true | false | { max_age = "90d", overlap = "7d" }`.
    pub(super) fn access_key(
        &mut self,
        user: &str,
        raw: Option<&Spanned<toml::Value>>,
    ) -> (bool, Option<Rotation>) {
        let Some(raw) = raw else {
            return (false, None);
        };
        let at = raw.span().start;
        match raw.get_ref() {
            toml::Value::Boolean(wanted) => (*wanted, None),
            toml::Value::Table(table) => {
                for key in table.keys() {
                    if key != "max_age" && key != "overlap" {
                        let hint = super::did_you_mean(key, ["max_age", "overlap"].into_iter());
                        self.error(
                            at,
                            format!("unknown key `{key}` in the access_key of user `{user}`{hint} (allowed here: max_age, overlap)"),
                        );
                    }
                }
                let mut duration = |key: &str, default: Option<u64>| {
                    let Some(value) = table.get(key) else {
                        if default.is_none() {
                            self.error(at, format!("the access_key of user `{user}` has no `{key}`: write it like {key} = \"90d\""));
                        }
                        return default;
                    };
                    match value.as_str().and_then(parse_duration) {
                        Some(seconds) if seconds > 0 => Some(seconds),
                        _ => {
                            self.error(at, format!("the {key} of user `{user}`'s access_key is {value}, which is not a duration: write a whole number and s, m, h or d, like \"90d\""));
                            None
                        }
                    }
                };
                let max_age = duration("max_age", None);
                let overlap = duration("overlap", Some(7 * 86_400));
                let rotation = match (max_age, overlap) {
                    (Some(max_age), Some(overlap)) => Some(Rotation { max_age, overlap }),
                    _ => None,
                };
                (true, rotation)
            }
            other => {
                self.error(
                    at,
                    format!(
                        "`access_key` of user `{user}` must be true, false or a table like {{ max_age = \"90d\", overlap = \"7d\" }}, not the {} {other}",
                        other.type_str()
                    ),
                );
                (false, None)
            }
        }
    }

    /// `[account] alias`, `disable_unused` and `password_policy`.
    pub(super) fn account_settings(
        &mut self,
        alias: Option<&Spanned<String>>,
        disable_unused: Option<&Spanned<String>>,
        password_policy: Option<&Spanned<RawPasswordPolicy>>,
    ) -> AccountSettings {
        let alias = alias.map(|alias| {
            if !is_alias(alias.get_ref()) {
                self.error(
                    alias.span().start,
                    format!(
                        "account alias `{}` is not valid: IAM allows 3 to 63 lower-case letters, digits and single dashes, starting and ending with a letter or digit",
                        alias.get_ref()
                    ),
                );
            }
            alias.get_ref().clone()
        });
        let disable_unused = disable_unused.and_then(|raw| {
            match parse_duration(raw.get_ref()) {
                Some(seconds) if seconds > 0 => Some(seconds),
                _ => {
                    self.error(
                        raw.span().start,
                        format!("disable_unused is `{}`, which is not a duration: write a whole number and s, m, h or d, like \"90d\"", raw.get_ref()),
                    );
                    None
                }
            }
        });
        AccountSettings {
            alias,
            disable_unused,
            password_policy: password_policy.map(|p| self.password_policy(p)),
        }
    }

    fn password_policy(&mut self, raw: &Spanned<RawPasswordPolicy>) -> PasswordPolicy {
        let table = raw.get_ref();
        let mut number = |value: Option<&Spanned<i64>>, key: &str, range: (i64, i64)| {
            let value = value?;
            if (range.0..=range.1).contains(value.get_ref()) {
                u32::try_from(*value.get_ref()).ok()
            } else {
                self.error(
                    value.span().start,
                    format!(
                        "password_policy {key} is {}; IAM allows {} to {}",
                        value.get_ref(),
                        range.0,
                        range.1
                    ),
                );
                None
            }
        };
        let defaults = PasswordPolicy::default();
        let policy = PasswordPolicy {
            min_length: number(table.min_length.as_ref(), "min_length", (6, 128))
                .unwrap_or(defaults.min_length),
            require_symbols: table.require_symbols,
            require_numbers: table.require_numbers,
            require_uppercase: table.require_uppercase,
            require_lowercase: table.require_lowercase,
            allow_users_to_change: table.allow_users_to_change,
            max_age_days: number(table.max_age_days.as_ref(), "max_age_days", (1, 1095)),
            reuse_prevention: number(table.reuse_prevention.as_ref(), "reuse_prevention", (1, 24)),
            hard_expiry: table.hard_expiry,
        };
        let at = raw.span().start;
        if policy.min_length < CIS_MIN_LENGTH {
            self.warn(at, format!("the password policy allows passwords of {} characters; the CIS AWS Foundations Benchmark asks for min_length = {CIS_MIN_LENGTH} or more", policy.min_length));
        }
        if policy.reuse_prevention.unwrap_or(0) < CIS_REUSE_PREVENTION {
            self.warn(at, format!("the password policy lets people reuse passwords after {} others; the CIS AWS Foundations Benchmark asks for reuse_prevention = {CIS_REUSE_PREVENTION}", policy.reuse_prevention.unwrap_or(0)));
        }
        policy
    }

    /// `require_mfa = true` on groups and users: the spec's MFA policy joins its policies and
    /// is attached to each of them.
    pub(super) fn require_mfa(
        &mut self,
        raw: &RawSpec,
        owner: &str,
        policies: &mut BTreeMap<String, ManagedPolicy>,
        groups: &mut BTreeMap<String, Group>,
        users: &mut BTreeMap<String, User>,
    ) {
        let groups_asking = raw.groups.iter().filter(|(_, g)| g.require_mfa);
        let users_asking = raw.users.iter().filter(|(_, u)| u.require_mfa);
        let asking: Vec<(bool, &Spanned<String>)> = groups_asking
            .map(|(name, _)| (true, name))
            .chain(users_asking.map(|(name, _)| (false, name)))
            .collect();
        if asking.is_empty() {
            return;
        }
        let defined: Vec<String> = policies.keys().cloned().collect();
        let policy = self.mfa_policy(owner, &defined);
        for (is_group, name) in asking {
            let policy_use = self.mfa_use(&policy.name, name.span().start);
            let attached = if is_group {
                groups.get_mut(name.get_ref()).map(|g| &mut g.policies)
            } else {
                users.get_mut(name.get_ref()).map(|u| &mut u.policies)
            };
            if let Some(attached) = attached {
                attached.push(policy_use);
            }
        }
        policies.insert(policy.name.clone(), policy);
    }

    /// The policy `require_mfa` attaches: one per spec, named after its owner, and refused
    /// when the spec defines a policy of that name itself.
    fn mfa_policy(&mut self, owner: &str, defined: &[String]) -> ManagedPolicy {
        let name = mfa_policy_name(owner);
        if defined.iter().any(|d| d.eq_ignore_ascii_case(&name)) {
            self.error(
                0,
                format!("the spec defines a policy `{name}`, the name iamspec gives the policy `require_mfa` attaches: rename it"),
            );
        }
        ManagedPolicy {
            name,
            path: "/".to_owned(),
            description: "Denies everything but signing in, changing one's own password and managing one's own MFA device, unless signed in with MFA (iamspec require_mfa)".to_owned(),
            document: Document::new(mfa_document()),
        }
    }

    /// The use of the MFA policy by a group or user that sets `require_mfa`.
    fn mfa_use(&self, policy: &str, at: usize) -> PolicyUse {
        PolicyUse {
            policy: PolicyRef::Customer {
                name: policy.to_owned(),
            },
            at: self.source.locate(at),
            via: None,
        }
    }
}

/// The name of the policy `require_mfa` attaches for a spec of this owner.
pub fn mfa_policy_name(owner: &str) -> String {
    if owner == DEFAULT_OWNER {
        return MFA_POLICY.to_owned();
    }
    let suffix: String = owner
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "+=,.@_-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{MFA_POLICY}-{suffix}").chars().take(128).collect()
}

/// IAM's rule for account aliases: `^[a-z0-9]([a-z0-9]|-(?!-)){1,61}[a-z0-9]$`.
fn is_alias(alias: &str) -> bool {
    let bytes = alias.as_bytes();
    (3..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
        && !alias.contains("--")
}

/// The policy AWS documents for "allow nothing without MFA" (its `Force_MFA` example): a user
/// signed in with a password alone can see the password policy, change their own password
/// (which a first sign-in requires) and create and enable their own virtual MFA device; every
/// other action is denied until they sign in again with MFA.
pub fn mfa_document() -> Value {
    let own_user = "arn:aws:iam::*:user/${aws:username}";
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowViewAccountInfo",
                "Effect": "Allow",
                "Action": ["iam:GetAccountPasswordPolicy", "iam:ListVirtualMFADevices"],
                "Resource": "*"
            },
            {
                "Sid": "AllowManageOwnPasswords",
                "Effect": "Allow",
                "Action": ["iam:ChangePassword", "iam:GetUser", "iam:GetLoginProfile"],
                "Resource": own_user
            },
            {
                "Sid": "AllowManageOwnVirtualMFADevice",
                "Effect": "Allow",
                "Action": ["iam:CreateVirtualMFADevice"],
                "Resource": "arn:aws:iam::*:mfa/*"
            },
            {
                "Sid": "AllowManageOwnUserMFA",
                "Effect": "Allow",
                "Action": [
                    "iam:DeactivateMFADevice",
                    "iam:EnableMFADevice",
                    "iam:ListMFADevices",
                    "iam:ResyncMFADevice"
                ],
                "Resource": own_user
            },
            {
                "Sid": "DenyAllExceptListedIfNoMFA",
                "Effect": "Deny",
                "NotAction": [
                    "iam:CreateVirtualMFADevice",
                    "iam:EnableMFADevice",
                    "iam:GetUser",
                    "iam:GetLoginProfile",
                    "iam:ChangePassword",
                    "iam:ListMFADevices",
                    "iam:ListVirtualMFADevices",
                    "iam:ResyncMFADevice",
                    "iam:GetAccountPasswordPolicy",
                    "sts:GetSessionToken"
                ],
                "Resource": "*",
                "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}
            }
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_one_unit_of_seconds_to_days() {
        assert_eq!(parse_duration("2s"), Some(2));
        assert_eq!(parse_duration("90m"), Some(5400));
        assert_eq!(parse_duration("12h"), Some(43_200));
        assert_eq!(parse_duration("90d"), Some(7_776_000));
        for bad in [
            "",
            "d",
            "90",
            "1.5d",
            "-1d",
            "90 d",
            "1w",
            "99999999999999999999d",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn aliases_follow_iams_pattern() {
        for good in ["koding", "abc", "a-b-c", "123"] {
            assert!(is_alias(good), "{good}");
        }
        for bad in ["ab", "Koding", "-ab", "ab-", "a--b", "a_b", &"a".repeat(64)] {
            assert!(!is_alias(bad), "{bad}");
        }
    }
}
