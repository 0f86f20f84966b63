//! Policy references as a spec writes them: an AWS-managed name (with or without its path) or a
//! full ARN. Parsing is offline; turning a name into an ARN needs the account's policy list and
//! happens in `diff`.

use std::fmt;

use serde::Serialize;

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

/// A policy as the spec names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PolicyRef {
    /// An AWS-managed policy by name; `path` is `Some` when the spec wrote it
    /// (`job-function/ViewOnlyAccess`), else any path matches.
    AwsManaged { path: Option<String>, name: String },
    /// A full ARN, used as written.
    Arn(PolicyArn),
    /// A customer-managed policy defined in the spec's `[policies]`.
    Customer { name: String },
}

impl PolicyRef {
    /// Parses a reference, or says what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.starts_with("arn:") {
            return PolicyArn::parse(text).map(PolicyRef::Arn);
        }
        let trimmed = text.strip_prefix('/').unwrap_or(text);
        let (path, name) = split_path_name(trimmed);
        check_policy_name(name).map_err(|why| format!("invalid policy `{text}`: {why}"))?;
        let path = if path == "/" {
            None
        } else {
            check_path(&path).map_err(|why| format!("invalid policy `{text}`: {why}"))?;
            Some(path)
        };
        Ok(PolicyRef::AwsManaged {
            path,
            name: name.to_owned(),
        })
    }

    /// The policy's name, without path.
    pub fn name(&self) -> &str {
        match self {
            PolicyRef::AwsManaged { name, .. } | PolicyRef::Customer { name } => name,
            PolicyRef::Arn(arn) => &arn.name,
        }
    }
}

impl fmt::Display for PolicyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyRef::AwsManaged { path: None, name } | PolicyRef::Customer { name } => {
                f.write_str(name)
            }
            PolicyRef::AwsManaged {
                path: Some(path),
                name,
            } => write!(f, "{}{name}", &path[1..]),
            PolicyRef::Arn(arn) => arn.fmt(f),
        }
    }
}

/// `a/b/Name` -> (`/a/b/`, `Name`); `Name` -> (`/`, `Name`).
fn split_path_name(text: &str) -> (String, &str) {
    match text.rsplit_once('/') {
        Some((dirs, name)) => (format!("/{dirs}/").replace("//", "/"), name),
        None => ("/".to_owned(), text),
    }
}

/// IAM's name characters: `[A-Za-z0-9+=,.@_-]`.
pub(crate) fn check_name(kind: &str, name: &str, max: usize) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("{kind} name must not be empty"));
    }
    if name.chars().count() > max {
        return Err(format!(
            "{kind} name `{name}` is {} characters long; IAM allows at most {max}",
            name.chars().count()
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "+=,.@_-".contains(*c)))
    {
        return Err(format!(
            "{kind} name `{name}` contains {bad:?}; IAM names allow only letters, digits and + = , . @ _ -"
        ));
    }
    Ok(())
}

fn check_policy_name(name: &str) -> Result<(), String> {
    check_name("policy", name, 128)
}

/// IAM paths: `/` or `/a/b/`, printable ASCII, at most 512 characters.
pub(crate) fn check_path(path: &str) -> Result<(), String> {
    let shape_ok = path == "/"
        || (path.len() >= 3
            && path.starts_with('/')
            && path.ends_with('/')
            && !path.contains("//")
            && path.bytes().all(|b| (0x21..=0x7e).contains(&b)));
    if !shape_ok {
        return Err(format!(
            "path `{path}` is not valid: use `/` or `/name/.../` of printable ASCII without spaces"
        ));
    }
    if path.len() > 512 {
        return Err(format!(
            "path is {} characters long; IAM allows at most 512",
            path.len()
        ));
    }
    Ok(())
}

/// A path a spec may give its entities or its scope: IAM's shape, and not the path where
/// iamspec keeps its apply locks (which live entities may have, and ARNs may name).
pub(crate) fn check_spec_path(path: &str) -> Result<(), String> {
    check_path(path)?;
    if path.starts_with(crate::lock::LOCK_PATH) {
        return Err(format!(
            "path `{path}` is iamspec's own: it holds the apply locks; use another path"
        ));
    }
    Ok(())
}

pub(crate) fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_paths_and_arns_parse_to_the_same_policy_shape() {
        assert_eq!(
            PolicyRef::parse("ViewOnlyAccess").unwrap(),
            PolicyRef::AwsManaged {
                path: None,
                name: "ViewOnlyAccess".into()
            }
        );
        assert_eq!(
            PolicyRef::parse("job-function/ViewOnlyAccess").unwrap(),
            PolicyRef::AwsManaged {
                path: Some("/job-function/".into()),
                name: "ViewOnlyAccess".into()
            }
        );
        let arn = "arn:aws-cn:iam::aws:policy/job-function/ViewOnlyAccess";
        let PolicyRef::Arn(parsed) = PolicyRef::parse(arn).unwrap() else {
            panic!("an ARN parses as an ARN");
        };
        assert_eq!(parsed.partition, Partition::AwsCn);
        assert_eq!(parsed.path, "/job-function/");
        assert_eq!(parsed.to_string(), arn);
    }

    #[test]
    fn malformed_arns_say_what_is_wrong() {
        let cases = [
            ("arn:aws:iam::aws:role/X", "must start with `policy/`"),
            ("arn:aws:iam::12345:policy/X", "12 digits"),
            (
                "arn:aws-mars:iam::aws:policy/X",
                "unknown partition `aws-mars`",
            ),
            ("arn:aws:s3:::policy/X", "expected arn:PARTITION"),
            ("arn:aws:iam::aws:policy/bad name", "contains ' '"),
        ];
        for (text, expected) in cases {
            let err = PolicyRef::parse(text).unwrap_err();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }

    #[test]
    fn the_lock_path_is_iamspecs_own() {
        assert_eq!(
            check_spec_path("/iamspec-lock/x/"),
            Err("path `/iamspec-lock/x/` is iamspec's own: it holds the apply locks; use another path".to_owned())
        );
        assert!(check_spec_path("/iamspec-locks/").is_ok());
        assert!(
            check_path("/iamspec-lock/").is_ok(),
            "a live ARN may have it"
        );
    }

    #[test]
    fn paths_follow_iams_shape() {
        assert!(check_path("/").is_ok());
        assert!(check_path("/koding/").is_ok());
        assert!(check_path("/a/b/").is_ok());
        for bad in ["", "koding", "/koding", "koding/", "//", "/a b/", "/a//b/"] {
            assert!(check_path(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
