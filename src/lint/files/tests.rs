//! Each new finding code on a document that raises it, and on a near miss that does not; a
//! file that is no policy; statements placed at their line in the file.

use std::path::PathBuf;

use super::*;

/// Lints `json` as a file of its own (of `kind`, or detected).
fn lint_json(json: &str, kind: Option<Kind>) -> Vec<Finding> {
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join("policy.json");
    std::fs::write(&path, json).unwrap();
    lint_file(&path, kind)
}

fn statement(body: &str) -> String {
    format!(r#"{{"Version": "2012-10-17", "Statement": [{{{body}}}]}}"#)
}

fn codes(findings: &[Finding]) -> Vec<&'static str> {
    findings.iter().map(|f| f.code).collect()
}

/// `code` is raised by `raises` and not by `misses`.
#[track_caller]
fn raised(code: &str, raises: &str, misses: &str, kind: Option<Kind>) {
    let hit = lint_json(raises, kind);
    assert!(
        codes(&hit).contains(&code),
        "{code} not raised by {raises}: {hit:#?}"
    );
    let near = lint_json(misses, kind);
    assert!(
        !codes(&near).contains(&code),
        "{code} raised by the near miss {misses}: {near:#?}"
    );
}

#[test]
fn resource_star_is_for_write_actions_that_take_named_resources() {
    raised(
        "resource-star",
        &statement(r#""Effect": "Allow", "Action": "s3:PutObject", "Resource": "*""#),
        // ec2:DescribeInstances (a read) and ec2:AdvertiseByoipCidr (a write) take only "*".
        &statement(
            r#""Effect": "Allow", "Action": ["ec2:DescribeInstances", "ec2:AdvertiseByoipCidr"], "Resource": "*""#,
        ),
        None,
    );
}

#[test]
fn a_star_in_disguise() {
    raised(
        "resource-effectively-star",
        &statement(r#""Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::*""#),
        &statement(
            r#""Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*""#,
        ),
        None,
    );
}

#[test]
fn operators_and_their_values() {
    raised(
        "unknown-operator",
        &statement(
            r#""Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"StringEqualz": {"aws:username": "a"}}"#,
        ),
        &statement(
            r#""Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"ForAnyValue:StringEqualsIfExists": {"aws:TagKeys": "a"}}"#,
        ),
        None,
    );
    for (operator, key, bad, good) in [
        (
            "DateGreaterThan",
            "aws:CurrentTime",
            "\"bad\"",
            "\"2026-12-01T00:00:00Z\"",
        ),
        (
            "NumericLessThan",
            "aws:MultiFactorAuthAge",
            "\"ten\"",
            "\"3600\"",
        ),
        (
            "IpAddress",
            "aws:SourceIp",
            "\"10.0.0.300/8\"",
            "\"10.0.0.0/8\"",
        ),
        ("Bool", "aws:SecureTransport", "\"yes\"", "\"true\""),
        (
            "ArnLike",
            "aws:SourceArn",
            "\"my-bucket\"",
            "\"arn:aws:s3:::my-bucket\"",
        ),
    ] {
        let condition = |value: &str| {
            statement(&format!(
                r#""Effect": "Deny", "Action": "s3:GetObject", "Resource": "*", "Condition": {{"{operator}": {{"{key}": {value}}}}}"#
            ))
        };
        raised(
            "condition-value-mismatch",
            &condition(bad),
            &condition(good),
            None,
        );
    }
}

#[test]
fn the_broken_mfa_pattern() {
    raised(
        "mfa-condition",
        &statement(
            r#""Effect": "Allow", "Action": "ec2:StopInstances", "Resource": "*", "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}}"#,
        ),
        &statement(
            r#""Effect": "Deny", "Action": "ec2:StopInstances", "Resource": "*", "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}"#,
        ),
        None,
    );
}

#[test]
fn set_operators_on_single_valued_keys() {
    raised(
        "single-value-set-operator",
        &statement(
            r#""Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"ForAllValues:StringEquals": {"aws:username": "a"}}"#,
        ),
        &statement(
            r#""Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": "a"}}"#,
        ),
        None,
    );
}

#[test]
fn principals_and_federation_sources() {
    let bucket = |principal: &str| {
        statement(&format!(
            r#""Effect": "Allow", "Principal": {principal}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*""#
        ))
    };
    raised(
        "allow-not-principal",
        &statement(
            r#""Effect": "Allow", "NotPrincipal": {"AWS": "111122223333"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*""#,
        ),
        &statement(
            r#""Effect": "Deny", "NotPrincipal": {"AWS": "111122223333"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*""#,
        ),
        None,
    );
    raised(
        "unknown-principal",
        &bucket(r#"{"AWS": "arn:aws:iam::111122223333:rooot"}"#),
        &bucket(
            r#"{"AWS": ["arn:aws:iam::111122223333:root", "111122223333", "arn:aws:iam::111122223333:role/app"], "Service": "cloudtrail.amazonaws.com"}"#,
        ),
        None,
    );
    raised(
        "unknown-federation-source",
        &bucket(r#"{"Federated": "accounts.gogle.com"}"#),
        &bucket(
            r#"{"Federated": ["accounts.google.com", "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"]}"#,
        ),
        None,
    );
}

#[test]
fn sids_and_resources_iam_refuses() {
    raised(
        "invalid-sid",
        &statement(
            r#""Sid": "read logs", "Effect": "Allow", "Action": "logs:GetLogEvents", "Resource": "*""#,
        ),
        &statement(
            r#""Sid": "ReadLogs1", "Effect": "Allow", "Action": "logs:GetLogEvents", "Resource": "*""#,
        ),
        None,
    );
    let two = |second: &str| {
        format!(
            r#"{{"Version": "2012-10-17", "Statement": [{{"Sid": "A", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}}, {{"Sid": "{second}", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}}]}}"#
        )
    };
    raised("duplicate-sid", &two("A"), &two("B"), None);
    raised(
        "invalid-resource",
        &statement(r#""Effect": "Allow", "Action": "s3:GetObject", "Resource": "s3""#),
        &statement(
            r#""Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*""#,
        ),
        None,
    );
}

#[test]
fn a_resource_policy_that_lets_its_principals_rewrite_it() {
    let bucket = |action: &str| {
        statement(&format!(
            r#""Effect": "Allow", "Principal": {{"AWS": "111122223333"}}, "Action": "{action}", "Resource": "arn:aws:s3:::b""#
        ))
    };
    raised(
        "resource-policy-escalation",
        &bucket("s3:*"),
        &bucket("s3:ListBucket"),
        None,
    );
    // The same statement in an identity policy is another matter.
    let identity = statement(
        r#""Effect": "Allow", "Action": "s3:PutBucketPolicy", "Resource": "arn:aws:s3:::b""#,
    );
    assert!(!codes(&lint_json(&identity, None)).contains(&"resource-policy-escalation"));
}

#[test]
fn the_old_policy_language() {
    let old = r#"{"Version": "2008-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/${aws:username}/*"}]}"#;
    let findings = lint_json(old, None);
    let finding = findings.iter().find(|f| f.code == "old-version").unwrap();
    assert!(
        finding.message.contains("literal text"),
        "{}",
        finding.message
    );
    raised(
        "old-version",
        old,
        &statement(
            r#""Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/${aws:username}/*""#,
        ),
        None,
    );
}

#[test]
fn a_file_that_is_no_policy_is_a_finding_at_its_place() {
    let broken = lint_json("{\n  \"Statement\": [\n", None);
    assert_eq!(codes(&broken), ["malformed"]);
    assert_eq!(
        (broken[0].line, broken[0].severity),
        (3, crate::lint::Severity::Error)
    );
    let credentials = lint_json(
        r#"{"AccessKeyId": "AKIA...", "SecretAccessKey": "..."}"#,
        None,
    );
    assert_eq!(codes(&credentials), ["malformed"]);
    assert!(
        !credentials[0].message.contains("AKIA"),
        "a file that is no policy is never quoted"
    );
    let missing = lint_file(std::path::Path::new("/nonexistent/policy.json"), None);
    assert_eq!(codes(&missing), ["malformed"]);
}

#[test]
fn each_finding_names_its_statements_line_in_the_file() {
    let text = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Effect\": \"Allow\", \"Action\": \"s3:GetObject\", \"Resource\": \"arn:aws:s3:::b/*\"},\n    {\"Sid\": \"Bad\", \"Effect\": \"Allow\", \"Action\": \"s4:GetObject\", \"Resource\": \"*\"}\n  ]\n}\n";
    let findings = lint_json(text, None);
    let service = findings
        .iter()
        .find(|f| f.code == "unknown-service")
        .unwrap();
    assert_eq!((service.line, service.column), (5, 5));
    assert!(
        service.message.contains("did you mean `s3`?"),
        "{}",
        service.message
    );
}

#[test]
fn the_type_is_detected_or_given() {
    let trust = statement(
        r#""Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole""#,
    );
    assert_eq!(
        Kind::of(&serde_json::from_str(&trust).unwrap()),
        Kind::Trust
    );
    let bucket = statement(
        r#""Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*""#,
    );
    assert_eq!(
        Kind::of(&serde_json::from_str(&bucket).unwrap()),
        Kind::Resource
    );
    // A boundary is a limit: Allow with NotAction is how one is written.
    let boundary = statement(r#""Effect": "Allow", "NotAction": "iam:*", "Resource": "*""#);
    assert!(codes(&lint_json(&boundary, None)).contains(&"allow-not-action"));
    assert!(!codes(&lint_json(&boundary, Some(Kind::Boundary))).contains(&"allow-not-action"));
}

/// Every AWS-managed policy of the embedded snapshot lints without a finding at level error:
/// what AWS itself ships is what IAM accepts.
#[test]
fn no_aws_managed_policy_has_an_error_level_finding() {
    let mut errors = Vec::new();
    let mut count = 0;
    for (name, document) in crate::lint::managed::all() {
        count += 1;
        for finding in crate::lint::document(name, &document.json) {
            if finding.severity == crate::lint::Severity::Error {
                errors.push(format!("{name}: [{}] {}", finding.code, finding.message));
            }
        }
    }
    assert_eq!(count, crate::lint::managed::snapshot().policies);
    assert!(count > 1500);
    assert!(
        errors.is_empty(),
        "{} errors:\n{}",
        errors.len(),
        errors.join("\n")
    );
}

/// A document linted as a file and the same file named by a spec give the same findings, at
/// the same lines of the same file.
#[test]
fn lint_and_validate_agree_on_a_documents_findings_and_lines() {
    let dir = tempfile::tempdir().unwrap();
    let text = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n      \"Sid\": \"Logs\",\n      \"Effect\": \"Allow\",\n      \"Action\": [\"logs:PutLogEvents\", \"s4:GetObject\"],\n      \"Resource\": \"*\"\n    }\n  ]\n}\n";
    let policy = dir.path().join("policy.json");
    std::fs::write(&policy, text).unwrap();
    let spec = dir.path().join("spec.toml");
    std::fs::write(
        &spec,
        "version = 1\n[policies.P]\ndocument = \"policy.json\"\n[groups.g]\npolicies = [\"P\"]\n",
    )
    .unwrap();
    let key = |f: &Finding| (f.code, f.file.clone(), f.line, f.column);
    let alone: Vec<_> = lint_file(&policy, None).iter().map(key).collect();
    let spec = crate::spec::load(&spec).unwrap();
    let in_spec: Vec<_> = crate::lint::lint(&spec).iter().map(key).collect();
    assert!(!alone.is_empty());
    assert_eq!(alone, in_spec);
    assert!(
        alone
            .iter()
            .all(|(_, file, line, column)| file.ends_with("policy.json")
                && (*line, *column) == (4, 5)),
        "{alone:?}"
    );
}
