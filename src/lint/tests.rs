//! The linter on specs written to break it: one precise finding each, with suggestions, and
//! none on the README's and the shipped specs' policies.

use std::path::Path;

use super::*;
use crate::spec;

fn lint_text(text: &str) -> Vec<Finding> {
    lint(&spec::parse(text, Path::new("spec.toml")).unwrap())
}

fn codes(findings: &[Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.code).collect()
}

const BROKEN: &str = r#"version = 1
[policies.Typos]
document = { Version = "2012-10-17", Statement = [
  { Sid = "Read", Effect = "Allow", Action = ["s3:GetObjcet", "ec2:DescribeInstance", "s4:GetObject", "s3:Fly*"], Resource = "*" },
] }
[policies.WrongResource]
document = { Version = "2012-10-17", Statement = [
  { Effect = "Allow", Action = "s3:GetObject", Resource = "arn:aws:s3:::my-bucket" },
] }
[policies.WrongCondition]
document = { Version = "2012-10-17", Statement = [
  { Effect = "Allow", Action = "ec2:DescribeInstances", Resource = "*", Condition = { StringEquals = { "s3:prefix" = "home/" } } },
  { Effect = "Allow", Action = "s3:ListBucket", Resource = "arn:aws:s3:::b", Condition = { NumericLessThan = { "s3:prefix" = "1" }, StringEquals = { "s3:prefx" = "a" } } },
] }
[policies.PassAndRun]
document = { Version = "2012-10-17", Statement = [
  { Effect = "Allow", Action = "iam:PassRole", Resource = "arn:aws:iam::123456789012:role/app" },
  { Effect = "Allow", Action = "ec2:RunInstances", Resource = "*" },
] }
[roles.ci]
trust = { services = ["ec2.amazonaws.com"] }
policies = ["PassAndRun"]
"#;

#[test]
fn each_mistake_gets_one_precise_finding_with_a_suggestion() {
    let findings = lint_text(BROKEN);
    let messages: Vec<String> = findings.iter().map(ToString::to_string).collect();
    let has = |code: &str, text: &str| {
        assert!(
            findings
                .iter()
                .any(|f| f.code == code && f.message.contains(text)),
            "{code} with {text:?} in:\n{}",
            messages.join("\n")
        );
    };
    has("unknown-action", "did you mean `s3:GetObject`?");
    has("unknown-action", "did you mean `ec2:DescribeInstances`?");
    has("unknown-action", "action data of 2026-09-23");
    has("unknown-service", "no service prefix `s4`");
    has("wildcard-matches-nothing", "`s3:Fly*`");
    has(
        "resource-mismatch",
        "`arn:aws:s3:::my-bucket` is no resource",
    );
    has("condition-key-mismatch", "`s3:prefix`");
    has(
        "operator-mismatch",
        "`NumericLessThan` does not fit `s3:prefix`",
    );
    has("unknown-condition-key", "did you mean `s3:prefix`?");
    has("privilege-escalation", "iam:PassRole + ec2:RunInstances");
    let typo = findings
        .iter()
        .find(|f| f.code == "unknown-action")
        .unwrap();
    assert_eq!((typo.line, typo.statement.as_deref()), (3, Some("Read")));
    assert_eq!(typo.policy, "policy `Typos`");
    assert_eq!(
        codes(&findings)
            .iter()
            .filter(|c| **c == "unknown-action")
            .count(),
        2,
        "{messages:#?}"
    );
}

#[test]
fn levels_and_exceptions_come_from_the_spec() {
    let text = format!(
        "{BROKEN}[lint]\nlevels = {{ unknown-action = \"error\", wildcard-matches-nothing = \"off\" }}\n[[lint.exceptions]]\ncode = \"privilege-escalation\"\npolicy = \"ci\"\nreason = \"the CI role starts build instances\"\n[[lint.exceptions]]\ncode = \"resource-mismatch\"\npolicy = \"Nowhere\"\nreason = \"stale\"\n"
    );
    let findings = lint_text(&text);
    let typo = findings
        .iter()
        .find(|f| f.code == "unknown-action")
        .unwrap();
    assert_eq!(typo.severity, Severity::Error);
    assert!(!codes(&findings).contains(&"wildcard-matches-nothing"));
    assert!(!codes(&findings).contains(&"privilege-escalation"));
    let unused = findings
        .iter()
        .find(|f| f.code == "unused-exception")
        .unwrap();
    assert!(unused.message.contains("resource-mismatch"), "{unused}");
}

#[test]
fn the_shipped_specs_and_the_mfa_policy_lint_clean() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        if spec::organization::is_organization_file(&path) {
            let org = spec::organization::load(&path).unwrap();
            let notes = org.identity_center.map(|c| c.notes).unwrap_or_default();
            assert!(
                notes.is_empty(),
                "{}:\n{}",
                path.display(),
                notes.join("\n")
            );
            continue;
        }
        let spec = spec::load(&path).unwrap();
        let findings: Vec<String> = lint(&spec)
            .iter()
            .filter(|f| f.severity >= Severity::Warning)
            .map(ToString::to_string)
            .collect();
        assert!(
            findings.is_empty(),
            "{}:\n{}",
            path.display(),
            findings.join("\n")
        );
    }
}

#[test]
fn arns_match_resource_types_as_globs_do() {
    use super::checks::arn_may_match;
    let object = "arn:${Partition}:s3:::${BucketName}/${ObjectName}";
    assert!(arn_may_match(object, "arn:aws:s3:::b/key"));
    assert!(arn_may_match(object, "arn:aws:s3:::b/*"));
    assert!(arn_may_match(object, "arn:aws:s3:::*"));
    assert!(!arn_may_match(object, "arn:aws:s3:::my-bucket"));
    let user = "arn:${Partition}:iam::${Account}:user/${UserNameWithPath}";
    assert!(arn_may_match(user, "arn:aws:iam::*:user/${aws:username}"));
    assert!(!arn_may_match(user, "arn:aws:iam::*:role/x"));
}

/// The specs of the README and of docs/ (their TOML blocks that load alone: a whole spec
/// naming no file) lint without a warning; fragments are checked where they are complete
/// enough to load.
#[test]
fn the_documented_specs_lint_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    let mut checked = 0;
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        for block in text.split("```toml\n").skip(1) {
            let text = block.split("```").next().unwrap();
            let Ok(spec) = spec::parse(text, page) else {
                continue;
            };
            checked += 1;
            let findings: Vec<String> = lint(&spec)
                .iter()
                .filter(|f| f.severity >= Severity::Warning)
                .map(ToString::to_string)
                .collect();
            assert!(
                findings.is_empty(),
                "{}:\n{text}\n{}",
                page.display(),
                findings.join("\n")
            );
        }
    }
    assert!(checked >= 2, "only {checked} documented specs load");
}

/// A user in two groups: one group's own path is reported at that group (not again at the
/// user), while the path the other group and the user's own policy make together is the
/// user's; a policy attached by ARN counts like one attached by name.
#[test]
fn escalation_is_found_per_principal_whatever_the_route() {
    let text = r#"version = 1
[account]
id = "123456789012"
[policies.Pass]
document = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "iam:PassRole", Resource = "*" }] }
[policies.Run]
document = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "ec2:RunInstances", Resource = "*" }] }
[policies.Keys]
document = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "iam:CreateAccessKey", Resource = "*" }] }
[groups.Admins]
policies = ["Keys"]
[groups.Builders]
policies = ["arn:aws:iam::123456789012:policy/Pass"]
[users.dev]
groups = ["Admins", "Builders"]
policies = ["Run"]
[users.other]
policies = ["arn:aws:iam::123456789012:policy/Pass", "Run"]
[roles.ci]
trust = { services = ["ec2.amazonaws.com"] }
policies = ["arn:aws:iam::123456789012:policy/Pass", "Run"]
"#;
    let findings = lint_text(text);
    let paths: Vec<(String, String)> = findings
        .iter()
        .filter(|f| f.code == "privilege-escalation")
        .map(|f| {
            (
                f.policy.clone(),
                f.message.split(" together").next().unwrap().to_owned(),
            )
        })
        .collect();
    let expect = |who: &str, actions: &str| (who.to_owned(), actions.to_owned());
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            expect("group `Admins`", "iam:CreateAccessKey"),
            expect("role `ci`", "iam:PassRole + ec2:RunInstances"),
            expect("user `dev`", "iam:PassRole + ec2:RunInstances"),
            expect("user `other`", "iam:PassRole + ec2:RunInstances"),
        ],
        "{findings:#?}"
    );
    let dev = findings.iter().find(|f| f.policy == "user `dev`").unwrap();
    assert!(
        dev.message.contains("(from policy `Pass`, policy `Run`)"),
        "{dev}"
    );

    // An exception for `role/ci` silences the role's finding and nobody else's.
    let excepted = format!(
        "{text}[[lint.exceptions]]\ncode = \"privilege-escalation\"\npolicy = \"role/ci\"\nreason = \"builds\"\n"
    );
    let left: Vec<String> = lint_text(&excepted)
        .iter()
        .filter(|f| f.code == "privilege-escalation" || f.code == "unused-exception")
        .map(|f| f.policy.clone())
        .collect();
    assert_eq!(left.len(), 3, "{left:?}");
    assert!(!left.contains(&"role `ci`".to_owned()), "{left:?}");
}

/// A path an AWS-managed policy completes is found offline, from the embedded snapshot; the
/// guide's own policies complete none.
#[test]
fn escalation_through_aws_managed_policies_is_found_offline() {
    let findings = lint_text(
        "version = 1\n[groups.ops]\npolicies = [\"IAMFullAccess\"]\n[groups.readers]\npolicies = [\"IAMReadOnlyAccess\", \"AmazonEC2FullAccess\"]\n",
    );
    let escalation: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.code == "privilege-escalation")
        .collect();
    assert!(!escalation.is_empty(), "{findings:#?}");
    assert!(
        escalation.iter().all(|f| f.policy == "group `ops`"),
        "{escalation:#?}"
    );
    assert!(
        escalation[0]
            .message
            .contains("AWS-managed policy `IAMFullAccess`"),
        "{}",
        escalation[0].message
    );
    // Placed where the spec names the policy.
    assert_eq!((escalation[0].line, escalation[0].column), (3, 13));
    let guide = lint(
        &spec::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/koding-route53.toml"))
            .unwrap(),
    );
    assert!(guide.is_empty(), "{guide:#?}");
}
