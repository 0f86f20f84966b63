//! `iamspec can` and `iamspec who-can`: offline answers, from documents and from the
//! project's example specs, with the JSON contract and the exit codes.

mod support;

use serde_json::{Value, json};
use support::{Run, iamspec, repo_spec, write_temp};

fn run(args: &[&str], dir: &std::path::Path) -> Run {
    Run::from(iamspec(args, dir).output().unwrap())
}

fn json_of(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

const ALICE: &str = "arn:aws:iam::111111111111:user/alice";

#[test]
fn the_documents_form_answers_as_its_contract_says() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write_temp(
        dir.path(),
        "home.json",
        &json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "Home", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::home/${aws:username}/*"},
            {"Sid": "NoSecrets", "Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::home/*/secrets/*"}
        ]})
        .to_string(),
    );
    let p = policy.to_str().unwrap();
    let base = [
        "can",
        "--policy",
        p,
        "--principal-arn",
        ALICE,
        "--json",
        "s3:GetObject",
    ];
    let allowed = run(
        &[&base[..], &["arn:aws:s3:::home/alice/notes.txt"]].concat(),
        dir.path(),
    )
    .expect(0);
    assert_eq!(
        json_of(&allowed),
        json!({"decision": "allowed", "statements": [{"policy": p, "statement": "Home", "effect": "Allow"}], "reason": "an identity policy allows it"})
    );
    let other = run(
        &[&base[..], &["arn:aws:s3:::home/bob/notes.txt"]].concat(),
        dir.path(),
    )
    .expect(2);
    assert_eq!(json_of(&other)["decision"], "implicit_deny");
    assert_eq!(json_of(&other)["statements"], json!([]));
    let denied = run(
        &[&base[..], &["arn:aws:s3:::home/alice/secrets/key"]].concat(),
        dir.path(),
    )
    .expect(2);
    assert_eq!(json_of(&denied)["decision"], "explicit_deny");
    assert_eq!(json_of(&denied)["statements"][0]["statement"], "NoSecrets");
    let text = run(
        &[
            "can",
            "--policy",
            p,
            "--principal-arn",
            ALICE,
            "s3:GetObject",
            "arn:aws:s3:::home/alice/a",
        ],
        dir.path(),
    )
    .expect(0);
    assert!(text.stdout.starts_with("allowed: arn:aws:iam::111111111111:user/alice s3:GetObject on arn:aws:s3:::home/alice/a"), "{}", text.stdout);
    assert!(
        text.stdout.contains(&format!("Allow {p}, statement Home")),
        "{}",
        text.stdout
    );
}

#[test]
fn context_resource_policies_and_scps_take_part() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let identity = write_temp(d, "id.json", &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"ForAnyValue:StringEquals": {"aws:PrincipalTag/team": ["data", "ml"]}}}]}).to_string());
    let bucket = write_temp(d, "bucket.json", &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "111111111111"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::shared/*"}]}).to_string());
    let scp = write_temp(d, "scp.json", &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]}).to_string());
    let (i, b, s) = (
        identity.to_str().unwrap(),
        bucket.to_str().unwrap(),
        scp.to_str().unwrap(),
    );
    let ask = |extra: &[&str], code: i32| {
        let mut args = vec!["can", "--policy", i, "--principal-arn", ALICE, "--json"];
        args.extend_from_slice(extra);
        args.extend(["s3:GetObject", "arn:aws:s3:::shared/report.csv"]);
        json_of(&run(&args, d).expect(code))["decision"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    // A key given twice is multivalued; one value is enough for ForAnyValue.
    assert_eq!(
        ask(
            &[
                "--context",
                "aws:PrincipalTag/team=web",
                "--context",
                "aws:PrincipalTag/team=ml"
            ],
            0
        ),
        "allowed"
    );
    assert_eq!(ask(&[], 2), "implicit_deny");
    // Across accounts both sides must allow: the bucket in 222222222222 lets the account in.
    let team = ["--context", "aws:PrincipalTag/team=data"];
    assert_eq!(
        ask(
            &[&team[..], &["--resource-account", "222222222222"]].concat(),
            2
        ),
        "implicit_deny"
    );
    assert_eq!(
        ask(
            &[
                &team[..],
                &["--resource-account", "222222222222", "--resource-policy", b]
            ]
            .concat(),
            0
        ),
        "allowed"
    );
    // An SCP that allows only EC2 leaves nothing of S3.
    assert_eq!(
        ask(&[&team[..], &["--scp", s]].concat(), 2),
        "implicit_deny"
    );
}

#[test]
fn can_koding_user_launch_an_instance_and_create_users() {
    let dir = tempfile::tempdir().unwrap();
    let spec = repo_spec("koding-route53.toml");
    let spec = spec.to_str().unwrap();
    let launch = run(
        &["can", spec, "user/koding-user", "ec2:RunInstances"],
        dir.path(),
    )
    .expect(0);
    assert!(
        launch
            .stdout
            .contains("Allow AWS-managed policy `AmazonEC2FullAccess`"),
        "{}",
        launch.stdout
    );
    let create = run(
        &["can", spec, "user/koding-user", "iam:CreateUser", "--json"],
        dir.path(),
    )
    .expect(2);
    assert_eq!(json_of(&create)["decision"], "implicit_deny");
    let read = run(
        &[
            "can",
            spec,
            "user/koding-user",
            "iam:GetUser",
            "arn:aws:iam::000000000000:user/koding-user",
        ],
        dir.path(),
    )
    .expect(0);
    assert!(read.stdout.contains("IAMReadOnlyAccess"), "{}", read.stdout);
    let route53 = run(
        &[
            "can",
            spec,
            "user/koding-user",
            "route53:ChangeResourceRecordSets",
            "arn:aws:route53:::hostedzone/Z1",
        ],
        dir.path(),
    )
    .expect(0);
    assert!(
        route53.stdout.contains("AmazonRoute53FullAccess"),
        "{}",
        route53.stdout
    );
}

#[test]
fn who_can_lists_users_and_roles_with_who_assumes_them() {
    let dir = tempfile::tempdir().unwrap();
    let spec = repo_spec("roles.toml");
    let found = run(
        &[
            "who-can",
            spec.to_str().unwrap(),
            "s3:GetObject",
            "arn:aws:s3:::koding-artifacts/x",
            "--json",
        ],
        dir.path(),
    )
    .expect(0);
    let value = json_of(&found);
    let allowed: Vec<&str> = value["allowed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["principal"].as_str().unwrap())
        .collect();
    assert_eq!(allowed, ["role/app-server", "role/deploy"]);
    assert_eq!(
        value["allowed"][0]["assumed_by"],
        json!(["ec2.amazonaws.com (Service)"])
    );
    let guide = run(
        &[
            "who-can",
            repo_spec("koding-route53.toml").to_str().unwrap(),
            "ec2:RunInstances",
        ],
        dir.path(),
    )
    .expect(0);
    assert!(
        guide.stdout.starts_with("user/koding-user\n"),
        "{}",
        guide.stdout
    );
    assert!(
        guide
            .stdout
            .ends_with("1 of 1 principals may call ec2:RunInstances on *.\n"),
        "{}",
        guide.stdout
    );
}

#[test]
fn bad_questions_say_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let broken = write_temp(
        d,
        "broken.json",
        "{\"Statement\": [\n  {\"Effect\": \"Allow\",,}\n]}",
    );
    let koding = repo_spec("koding.toml");
    let cases: [(&[&str], &str); 5] = [
        (
            &["can", "--principal-arn", "alice", "s3:GetObject", "*"],
            "`alice` is not a principal's ARN",
        ),
        (
            &[
                "can",
                "--principal-arn",
                ALICE,
                "--context",
                "novalue",
                "s3:GetObject",
                "*",
            ],
            "--context `novalue` is not KEY=VALUE",
        ),
        (
            &[
                "can",
                "--policy",
                broken.to_str().unwrap(),
                "--principal-arn",
                ALICE,
                "s3:GetObject",
                "*",
            ],
            "broken.json:2:22: not JSON",
        ),
        (
            &["can", "--principal-arn", ALICE, "s3:GetObject"],
            "with --principal-arn, give ACTION RESOURCE",
        ),
        (
            &[
                "can",
                koding.to_str().unwrap(),
                "user/koding-usr",
                "ec2:RunInstances",
            ],
            "the spec has no user `koding-usr`; did you mean `koding-user`?",
        ),
    ];
    for (args, says) in cases {
        let r = run(args, d).expect(1);
        assert!(r.stderr.contains(says), "{args:?}: {}", r.stderr);
    }
}

#[test]
fn a_change_that_breaks_a_check_fails_validate_and_plan_before_any_call() {
    let dir = tempfile::tempdir().unwrap();
    let guide = std::fs::read_to_string(repo_spec("koding-route53.toml")).unwrap();
    let spec = write_temp(dir.path(), "guide.toml", &guide);
    let spec = spec.to_str().unwrap();
    let ok = run(&["validate", spec], dir.path()).expect(0);
    assert!(ok.stdout.contains("2 of 2 checks hold"), "{}", ok.stdout);
    // The change: Developers get IAMFullAccess.
    let broken = guide.replace(
        "policies = [\"AmazonEC2FullAccess\", \"IAMReadOnlyAccess\"]",
        "policies = [\"AmazonEC2FullAccess\", \"IAMFullAccess\"]",
    );
    std::fs::write(dir.path().join("guide.toml"), broken).unwrap();
    let failed = run(&["validate", spec], dir.path()).expect(1);
    assert!(
        failed.stderr.contains("check `user/koding-user iam:CreateUser on *` expects deny, but it is allowed: an identity policy allows it (by AWS-managed policy `IAMFullAccess` statement #0)"),
        "{}",
        failed.stderr
    );
    let json = run(&["validate", spec, "--json"], dir.path()).expect(1);
    assert_eq!(json_of(&json)["checks"]["count"], 2);
    // plan stops on it with no credentials at all: nothing was asked of AWS.
    let plan = run(&["plan", spec], dir.path()).expect(1);
    assert!(plan.stderr.contains("failed [[checks]]"), "{}", plan.stderr);
    assert!(
        plan.stderr.trim_end().ends_with(
            "failed [[checks]] (above): fix them, or set their level in [lint]; nothing was changed"
        ),
        "{}",
        plan.stderr
    );
    // A check naming a principal the spec lacks is the spec's mistake, at its line.
    let typo = guide.replace(
        "principal = \"user/koding-user\"\naction = \"iam:CreateUser\"",
        "principal = \"user/koding-usr\"\naction = \"iam:CreateUser\"",
    );
    std::fs::write(dir.path().join("guide.toml"), typo).unwrap();
    let wrong = run(&["validate", spec], dir.path()).expect(1);
    assert!(wrong.stderr.contains("check principal `user/koding-usr` is not a user/NAME or role/NAME the spec declares; did you mean `user/koding-user`?"), "{}", wrong.stderr);
}

#[tokio::test]
async fn plan_lists_the_checks_whose_answer_it_changes() {
    let account = support::Account::new().await;
    let spec = repo_spec("koding-route53.toml");
    let spec = spec.to_str().unwrap();
    let first = account.run(&["plan", spec]).expect(0);
    assert!(
        first.stdout.contains("Checks whose answer this plan changes:\n  user/koding-user ec2:RunInstances on *: no such principal yet -> allowed\n  user/koding-user iam:CreateUser on *: no such principal yet -> denied implicitly\n"),
        "{}",
        first.stdout
    );
    account.run(&["apply", spec, "--yes"]).expect(0);
    let again = account.run(&["plan", spec, "--json"]).expect(0);
    let value = json_of(&again);
    assert!(value.get("checks_changed").is_none(), "{value}");
    // By hand: Developers lose EC2. The plan that gives it back says so.
    let iam = account.iam();
    iam.detach_group_policy()
        .group_name("Developers")
        .policy_arn("arn:aws:iam::aws:policy/AmazonEC2FullAccess")
        .send()
        .await
        .unwrap();
    let drift = account.run(&["plan", spec, "--json"]).expect(0);
    assert_eq!(
        json_of(&drift)["checks_changed"],
        json!([{"check": "user/koding-user ec2:RunInstances on *", "before": "implicit_deny", "after": "allowed"}])
    );
}
