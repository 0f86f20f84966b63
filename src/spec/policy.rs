//! Policy references as a spec writes them: an AWS-managed name (with or without its path) or a
//! full ARN. Parsing is offline; turning a name into an ARN needs the account's policy list and
//! happens in `diff`.

use std::fmt;

use crate::iam::{PolicyArn, check_path, check_policy_name, split_path_name};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iam::Partition;

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
}
