//! ARNs and partitions: how IAM names a managed policy, and the partition every ARN of an
//! account shares.

use std::fmt;

use serde::Serialize;

use super::names::{check_name, check_path, is_account_id};

/// The account part of every AWS-managed policy ARN.
pub const AWS_MANAGED_ACCOUNT: &str = "aws";

/// An AWS partition; policy ARNs follow the caller's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Partition {
    #[serde(rename = "aws")]
    Aws,
    #[serde(rename = "aws-cn")]
    AwsCn,
    #[serde(rename = "aws-us-gov")]
    AwsUsGov,
}

impl Partition {
    pub const ALL: [Partition; 3] = [Partition::Aws, Partition::AwsCn, Partition::AwsUsGov];

    pub fn as_str(self) -> &'static str {
        match self {
            Partition::Aws => "aws",
            Partition::AwsCn => "aws-cn",
            Partition::AwsUsGov => "aws-us-gov",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == text)
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A managed policy ARN, split into its parts: `arn:PARTITION:iam::ACCOUNT:policy/PATH/NAME`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyArn {
    pub partition: Partition,
    /// `aws` for AWS-managed policies, else the 12-digit owner account.
    pub account: String,
    /// `/` or `/a/b/`.
    pub path: String,
    pub name: String,
}

impl PolicyArn {
    /// Parses an ARN, or says what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let expected = "expected arn:PARTITION:iam::ACCOUNT:policy/[PATH/]NAME";
        let parts: Vec<&str> = text.splitn(6, ':').collect();
        let [arn, partition, service, region, account, resource] = parts[..] else {
            return Err(format!("malformed policy ARN `{text}`: {expected}"));
        };
        if arn != "arn" || service != "iam" || !region.is_empty() {
            return Err(format!("malformed policy ARN `{text}`: {expected}"));
        }
        let Some(partition) = Partition::parse(partition) else {
            return Err(format!(
                "malformed policy ARN `{text}`: unknown partition `{partition}` (allowed: aws, aws-cn, aws-us-gov)"
            ));
        };
        if account != AWS_MANAGED_ACCOUNT && !is_account_id(account) {
            return Err(format!(
                "malformed policy ARN `{text}`: the account must be `aws` or 12 digits, not `{account}`"
            ));
        }
        let Some(path_and_name) = resource.strip_prefix("policy/") else {
            return Err(format!(
                "malformed policy ARN `{text}`: the resource must start with `policy/`"
            ));
        };
        let (path, name) = split_path_name(path_and_name);
        check_policy_name(name).map_err(|why| format!("malformed policy ARN `{text}`: {why}"))?;
        check_path(&path).map_err(|why| format!("malformed policy ARN `{text}`: {why}"))?;
        Ok(Self {
            partition,
            account: account.to_owned(),
            path,
            name: name.to_owned(),
        })
    }

    /// The ARN of an AWS-managed policy.
    pub fn aws_managed(partition: Partition, path: &str, name: &str) -> Self {
        Self {
            partition,
            account: AWS_MANAGED_ACCOUNT.to_owned(),
            path: path.to_owned(),
            name: name.to_owned(),
        }
    }

    pub fn is_aws_managed(&self) -> bool {
        self.account == AWS_MANAGED_ACCOUNT
    }
}

impl fmt::Display for PolicyArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:iam::{}:policy{}{}",
            self.partition, self.account, self.path, self.name
        )
    }
}

impl Serialize for PolicyArn {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl Partition {
    /// The partition of any ARN (`arn:PARTITION:...`), such as the caller's.
    pub fn of_arn(arn: &str) -> Option<Self> {
        arn.split(':').nth(1).and_then(Self::parse)
    }
}

impl PolicyArn {
    /// The short form people write: the path without its leading slash, then the name
    /// (`job-function/ViewOnlyAccess`, `StackBuilder`).
    pub fn short(&self) -> String {
        format!("{}{}", &self.path[1..], self.name)
    }

    /// Whether this is the policy a spec means by `name`, at `path` when it gave one.
    pub fn is_named(&self, path: Option<&str>, name: &str) -> bool {
        self.name == name && path.is_none_or(|p| p == self.path)
    }
}

/// `a/b/Name` -> (`/a/b/`, `Name`); `Name` -> (`/`, `Name`).
pub fn split_path_name(text: &str) -> (String, &str) {
    match text.rsplit_once('/') {
        Some((dirs, name)) => (format!("/{dirs}/").replace("//", "/"), name),
        None => ("/".to_owned(), text),
    }
}

/// Policy names: IAM's name characters, at most 128.
pub fn check_policy_name(name: &str) -> Result<(), String> {
    check_name("policy", name, 128)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_print_as_they_parse_with_one_short_form() {
        let arn = "arn:aws-cn:iam::aws:policy/job-function/ViewOnlyAccess";
        let parsed = PolicyArn::parse(arn).unwrap();
        assert_eq!(parsed.partition, Partition::AwsCn);
        assert_eq!(parsed.path, "/job-function/");
        assert_eq!(parsed.to_string(), arn);
        assert_eq!(parsed.short(), "job-function/ViewOnlyAccess");
        assert!(parsed.is_named(None, "ViewOnlyAccess"));
        assert!(parsed.is_named(Some("/job-function/"), "ViewOnlyAccess"));
        assert!(!parsed.is_named(Some("/"), "ViewOnlyAccess"));
        assert_eq!(
            Partition::of_arn("arn:aws-us-gov:sts::123456789012:assumed-role/r/s"),
            Some(Partition::AwsUsGov)
        );
        assert_eq!(Partition::of_arn("not an arn"), None);
    }
}
