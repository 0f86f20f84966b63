//! The evaluator against a table of cases written from the AWS IAM User Guide's own
//! evaluation examples (each cites its page), and property tests of what must hold whatever
//! the documents say.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

const ACCOUNT: &str = "111111111111";
const OTHER: &str = "222222222222";
const ALICE: &str = "arn:aws:iam::111111111111:user/alice";
const SESSION: &str = "arn:aws:sts::111111111111:assumed-role/deploy/ci";
const ROLE: &str = "arn:aws:iam::111111111111:role/deploy";
/// 2026-01-01T00:00:00Z.
const NOW: i64 = 1_767_225_600;

fn allow(action: &str, resource: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]})
}

fn deny(action: &str, resource: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": action, "Resource": resource}]})
}

/// A resource policy letting `principal` do `action`.
fn grant(principal: &str, action: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Sid": "Grant", "Effect": "Allow", "Principal": {"AWS": principal}, "Action": action}]})
}

/// One case of the table.
struct Case {
    /// The IAM User Guide page it follows, and what it shows.
    cites: &'static str,
    identity: Vec<Value>,
    boundary: Option<Value>,
    session: Vec<Value>,
    resource: Option<Value>,
    scps: Vec<Value>,
    principal: &'static str,
    action: &'static str,
    on: &'static str,
    resource_account: Option<&'static str>,
    context: Vec<(&'static str, &'static str)>,
    expect: Decision,
}

impl Default for Case {
    fn default() -> Self {
        Self {
            cites: "",
            identity: Vec::new(),
            boundary: None,
            session: Vec::new(),
            resource: None,
            scps: Vec::new(),
            principal: ALICE,
            action: "s3:GetObject",
            on: "arn:aws:s3:::reports/2026.csv",
            resource_account: None,
            context: Vec::new(),
            expect: Decision::ImplicitDeny,
        }
    }
}

fn parse(prefix: &str, docs: &[Value]) -> Vec<Policy> {
    docs.iter()
        .enumerate()
        .map(|(i, d)| Policy::parse(&format!("{prefix}{i}"), d).unwrap())
        .collect()
}

fn run(case: &Case) -> Answer {
    let identity = parse("identity", &case.identity);
    let boundary = case
        .boundary
        .as_ref()
        .map(|b| Policy::parse("boundary", b).unwrap());
    let session = parse("session", &case.session);
    let resource = case
        .resource
        .as_ref()
        .map(|r| Policy::parse("resource", r).unwrap());
    let scps = parse("scp", &case.scps);
    let mut context = Context::default();
    for (k, v) in &case.context {
        context.add(k, v);
    }
    let principal = Principal::parse(case.principal).unwrap();
    let request = Request::new(
        principal,
        case.action,
        case.on,
        case.resource_account,
        context,
        NOW,
    );
    evaluate(
        &request,
        &Policies {
            identity: &identity,
            boundary: boundary.as_ref(),
            session: &session,
            resource: resource.as_ref(),
            scps: &scps,
        },
    )
}

#[allow(clippy::too_many_lines)] // the table
fn cases() -> Vec<Case> {
    use Decision::{Allowed, ExplicitDeny, ImplicitDeny};
    vec![
        Case {
            cites: "Policy evaluation logic: by default every request is implicitly denied",
            expect: ImplicitDeny,
            ..Case::default()
        },
        Case {
            cites: "Policy evaluation logic: an identity-based policy allows the request",
            identity: vec![allow("s3:GetObject", "arn:aws:s3:::reports/*")],
            expect: Allowed,
            ..Case::default()
        },
        Case {
            cites: "Policy evaluation logic: an explicit deny in any policy overrides any allow",
            identity: vec![allow("s3:*", "*"), deny("s3:GetObject", "*")],
            expect: ExplicitDeny,
            ..Case::default()
        },
        Case {
            cites: "IAM JSON policy elements: Action: action names are not case sensitive",
            identity: vec![allow("S3:getobject", "*")],
            expect: Allowed,
            ..Case::default()
        },
        Case {
            cites: "IAM JSON policy elements: NotAction: allow everything but IAM",
            identity: vec![
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}),
            ],
            action: "iam:CreateUser",
            on: "arn:aws:iam::111111111111:user/bob",
            expect: ImplicitDeny,
            ..Case::default()
        },
        Case {
            cites: "IAM JSON policy elements: NotResource: deny outside one bucket",
            identity: vec![
                allow("s3:*", "*"),
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:*", "NotResource": ["arn:aws:s3:::reports", "arn:aws:s3:::reports/*"]}]}),
            ],
            on: "arn:aws:s3:::payroll/2026.csv",
            expect: ExplicitDeny,
            ..Case::default()
        },
        Case {
            cites: "IAM JSON policy elements: Resource: ARNs are case sensitive",
            identity: vec![allow("s3:GetObject", "arn:aws:s3:::Reports/*")],
            expect: ImplicitDeny,
            ..Case::default()
        },
        Case {
            cites: "Service control policies: an SCP that does not allow the action denies it, whatever the identity policy",
            identity: vec![allow("s3:*", "*")],
            scps: vec![allow("ec2:*", "*")],
            expect: ImplicitDeny,
            ..Case::default()
        },
        Case {
            cites: "SCP evaluation: every level from the root to the account must allow",
            identity: vec![allow("s3:*", "*")],
            scps: vec![allow("*", "*"), allow("s3:*", "*"), allow("ec2:*", "*")],
            expect: ImplicitDeny,
            ..Case::default()
        },
        Case {
            cites: "SCP evaluation: FullAWSAccess at every level leaves the identity policy to decide",
            identity: vec![allow("s3:*", "*")],
            scps: vec![allow("*", "*"), allow("*", "*")],
            expect: Allowed,
            ..Case::default()
        },
        Case {
            cites: "SCP evaluation: a deny in an SCP is an explicit deny",
            identity: vec![allow("s3:*", "*")],
            scps: vec![allow("*", "*"), deny("s3:GetObject", "*")],
            expect: ExplicitDeny,
            ..Case::default()
        },
        Case {
            cites: "Permissions boundaries: the effective permissions are the intersection of the identity policy and the boundary",
            identity: vec![allow("s3:*", "*"), allow("iam:*", "*")],
            boundary: Some(allow("s3:*", "*")),
            action: "iam:CreateUser",
            on: "arn:aws:iam::111111111111:user/bob",
            expect: ImplicitDeny,
            ..Case::default()
        },
        Case {
            cites: "Permissions boundaries: what both allow is allowed",
            identity: vec![allow("s3:*", "*"), allow("iam:*", "*")],
            boundary: Some(allow("s3:*", "*")),
            expect: Allowed,
            ..Case::default()
        },
        Case {
            cites: "Permissions boundaries, resource-based policies: an implicit deny in a boundary does not limit what a resource policy grants to the IAM user",
            boundary: Some(allow("ec2:*", "*")),
            resource: Some(grant(ALICE, "s3:GetObject")),
            expect: Allowed,
            ..Case::default()
        },
        Case {
            cites: "Permissions boundaries, resource-based policies: a boundary limits what a resource policy grants to the role ARN",
            principal: SESSION,
            boundary: Some(allow("ec2:*", "*")),
            resource: Some(grant(ROLE, "s3:GetObject")),
            expect: ImplicitDeny,
            ..Case::default()
        },
        Case {
            cites: "Permissions boundaries, resource-based policies: a boundary does not limit what a resource policy grants to the role session ARN",
            principal: SESSION,
            boundary: Some(allow("ec2:*", "*")),
            resource: Some(grant(SESSION, "s3:GetObject")),
            expect: Allowed,
            ..Case::default()
        },
        Case {
            cites: "Session policies: a resource policy that names the role is limited by the session policy",
            principal: SESSION,
            session: vec![allow("ec2:*", "*")],
            resource: Some(grant(ROLE, "s3:GetObject")),
            expect: ImplicitDeny,
            ..Case::default()
        },
        Case {
            cites: "Session policies: the session's permissions are the intersection of the role's and the session policy",
            principal: SESSION,
            identity: vec![allow("s3:*", "*")],
            session: vec![allow("s3:GetObject", "*")],
            action: "s3:PutObject",
            expect: ImplicitDeny,
            ..Case::default()
        },
        Case {
            cites: "Identity-based and resource-based policies: in one account either one allowing is enough",
            resource: Some(grant(ALICE, "s3:GetObject")),
            expect: Allowed,
            ..Case::default()
        },
        Case {
            cites: "Identity-based and resource-based policies: a resource policy naming the account delegates to the account's identity policies",
            resource: Some(grant("arn:aws:iam::111111111111:root", "s3:GetObject")),
            expect: ImplicitDeny,
            ..Case::default()
        },
        Case {
            cites: "Cross-account policy evaluation logic: the identity policy alone is not enough across accounts",
            identity: vec![allow("sqs:SendMessage", "*")],
            action: "sqs:SendMessage",
            on: "arn:aws:sqs:us-east-1:222222222222:jobs",
            expect: ImplicitDeny,
            ..Case::default()
        },
        Case {
            cites: "Cross-account policy evaluation logic: both the resource policy (to the account) and the identity policy allow",
            identity: vec![allow("sqs:SendMessage", "*")],
            resource: Some(grant(ACCOUNT, "sqs:SendMessage")),
            action: "sqs:SendMessage",
            on: "arn:aws:sqs:us-east-1:222222222222:jobs",
            expect: Allowed,
            ..Case::default()
        },
        Case {
            cites: "Cross-account policy evaluation logic: the resource policy alone is not enough across accounts",
            resource: Some(grant(ALICE, "s3:GetObject")),
            resource_account: Some(OTHER),
            expect: ImplicitDeny,
            ..Case::default()
        },
        Case {
            cites: "Cross-account policy evaluation logic: an S3 ARN names no account, --resource-account does",
            identity: vec![allow("s3:GetObject", "*")],
            resource: Some(grant(ALICE, "s3:GetObject")),
            resource_account: Some(OTHER),
            expect: Allowed,
            ..Case::default()
        },
        Case {
            cites: "IAM policy elements: variables: ${aws:username} in a resource",
            identity: vec![allow("s3:GetObject", "arn:aws:s3:::home/${aws:username}/*")],
            on: "arn:aws:s3:::home/alice/notes.txt",
            expect: Allowed,
            ..Case::default()
        },
        Case {
            cites: "IAM policy elements: variables: another user's folder does not match",
            identity: vec![allow("s3:GetObject", "arn:aws:s3:::home/${aws:username}/*")],
            on: "arn:aws:s3:::home/bob/notes.txt",
            expect: ImplicitDeny,
            ..Case::default()
        },
        Case {
            cites: "IAM policy elements: variables: only Version 2012-10-17 replaces them",
            identity: vec![
                json!({"Version": "2008-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::home/${aws:username}/*"}]}),
            ],
            on: "arn:aws:s3:::home/alice/notes.txt",
            expect: ImplicitDeny,
            ..Case::default()
        },
        Case {
            cites: "IAM policy elements: variables: a default value when the key is missing",
            identity: vec![allow(
                "s3:GetObject",
                "arn:aws:s3:::teams/${aws:PrincipalTag/team, 'shared'}/*",
            )],
            on: "arn:aws:s3:::teams/shared/plan.txt",
            expect: Allowed,
            ..Case::default()
        },
        Case {
            cites: "IAM policy elements: variables: a missing key without a default matches nothing",
            identity: vec![allow(
                "s3:GetObject",
                "arn:aws:s3:::teams/${aws:PrincipalTag/team}/*",
            )],
            on: "arn:aws:s3:::teams/shared/plan.txt",
            expect: ImplicitDeny,
            ..Case::default()
        },
        Case {
            cites: "IAM policy elements: variables: ${*} is a literal asterisk",
            identity: vec![allow("s3:GetObject", "arn:aws:s3:::odd/${*}")],
            on: "arn:aws:s3:::odd/anything",
            expect: ImplicitDeny,
            ..Case::default()
        },
        Case {
            cites: "Condition operators: StringEquals against a principal tag",
            identity: vec![
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalTag/team": "data"}}}]}),
            ],
            context: vec![("aws:PrincipalTag/team", "data")],
            expect: Allowed,
            ..Case::default()
        },
        Case {
            cites: "Condition operators: condition key names are not case sensitive",
            identity: vec![
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"StringEquals": {"AWS:PRINCIPALTAG/team": "data"}}}]}),
            ],
            context: vec![("aws:PrincipalTag/team", "data")],
            expect: Allowed,
            ..Case::default()
        },
        Case {
            cites: "Condition operators: a missing key makes a positive operator false",
            identity: vec![
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalTag/team": "data"}}}]}),
            ],
            expect: ImplicitDeny,
            ..Case::default()
        },
        Case {
            cites: "Condition operators: a missing key makes a negated operator true (the deny applies)",
            identity: vec![
                allow("s3:*", "*"),
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*", "Condition": {"StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}}}]}),
            ],
            expect: ExplicitDeny,
            ..Case::default()
        },
        Case {
            cites: "Condition operators: ...IfExists is true when the key is missing",
            identity: vec![
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*", "Condition": {"StringEqualsIfExists": {"ec2:InstanceType": ["t3.micro", "t3.small"]}}}]}),
            ],
            action: "ec2:RunInstances",
            on: "arn:aws:ec2:us-east-1:111111111111:network-interface/eni-1",
            expect: Allowed,
            ..Case::default()
        },
        Case {
            cites: "Condition operators: ...IfExists compares when the key is present",
            identity: vec![
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*", "Condition": {"StringEqualsIfExists": {"ec2:InstanceType": ["t3.micro", "t3.small"]}}}]}),
            ],
            action: "ec2:RunInstances",
            on: "arn:aws:ec2:us-east-1:111111111111:instance/*",
            context: vec![("ec2:InstanceType", "p4d.24xlarge")],
            expect: ImplicitDeny,
            ..Case::default()
        },
        Case {
            cites: "Condition operators: BoolIfExists denies without MFA, including when the key is missing",
            identity: vec![
                allow("iam:*", "*"),
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "iam:*", "Resource": "*", "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}}]}),
            ],
            action: "iam:ListUsers",
            on: "*",
            expect: ExplicitDeny,
            ..Case::default()
        },
        Case {
            cites: "Condition operators: Bool with MFA present",
            identity: vec![
                allow("iam:*", "*"),
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "iam:*", "Resource": "*", "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}}]}),
            ],
            action: "iam:ListUsers",
            on: "*",
            context: vec![("aws:MultiFactorAuthPresent", "true")],
            expect: Allowed,
            ..Case::default()
        },
        Case {
            cites: "Condition operators: Null true when the key is absent",
            identity: vec![
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"Null": {"aws:TokenIssueTime": "true"}}}]}),
            ],
            expect: Allowed,
            ..Case::default()
        },
        Case {
            cites: "Multivalued context keys: ForAllValues is true for an empty or missing key",
            identity: vec![
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*", "Condition": {"ForAllValues:StringEquals": {"dynamodb:Attributes": ["id", "name"]}}}]}),
            ],
            action: "dynamodb:GetItem",
            on: "arn:aws:dynamodb:us-east-1:111111111111:table/people",
            expect: Allowed,
            ..Case::default()
        },
        Case {
            cites: "Multivalued context keys: ForAllValues is false when one value is outside the set",
            identity: vec![
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*", "Condition": {"ForAllValues:StringEquals": {"dynamodb:Attributes": ["id", "name"]}}}]}),
            ],
            action: "dynamodb:GetItem",
            on: "arn:aws:dynamodb:us-east-1:111111111111:table/people",
            context: vec![
                ("dynamodb:Attributes", "id"),
                ("dynamodb:Attributes", "salary"),
            ],
            expect: ImplicitDeny,
            ..Case::default()
        },
        Case {
            cites: "Multivalued context keys: ForAnyValue is false for a missing key",
            identity: vec![
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": "project"}}}]}),
            ],
            expect: ImplicitDeny,
            ..Case::default()
        },
        Case {
            cites: "Multivalued context keys: ForAnyValue is true when one value matches",
            identity: vec![
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": "project"}}}]}),
            ],
            context: vec![("aws:TagKeys", "owner"), ("aws:TagKeys", "project")],
            expect: Allowed,
            ..Case::default()
        },
        Case {
            cites: "Condition operators: NumericLessThan",
            identity: vec![
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*", "Condition": {"NumericLessThanEquals": {"s3:max-keys": "10"}}}]}),
            ],
            action: "s3:ListBucket",
            on: "arn:aws:s3:::reports",
            context: vec![("s3:max-keys", "100")],
            expect: ImplicitDeny,
            ..Case::default()
        },
        Case {
            cites: "Condition operators: DateLessThan against aws:CurrentTime, filled from the clock",
            identity: vec![
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"DateLessThan": {"aws:CurrentTime": "2025-12-31T23:59:59Z"}}}]}),
            ],
            expect: ImplicitDeny,
            ..Case::default()
        },
        Case {
            cites: "Condition operators: IpAddress in a CIDR range",
            identity: vec![
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}}]}),
            ],
            context: vec![("aws:SourceIp", "203.0.113.7")],
            expect: Allowed,
            ..Case::default()
        },
        Case {
            cites: "Condition operators: NotIpAddress outside the range (the deny applies)",
            identity: vec![
                allow("s3:*", "*"),
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "2001:db8::/32"]}}}]}),
            ],
            context: vec![("aws:SourceIp", "198.51.100.9")],
            expect: ExplicitDeny,
            ..Case::default()
        },
        Case {
            cites: "Condition operators: ArnLike compares segment by segment",
            identity: vec![
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*", "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:111111111111:alerts-*"}}}]}),
            ],
            action: "sqs:SendMessage",
            on: "arn:aws:sqs:us-east-1:111111111111:jobs",
            context: vec![(
                "aws:SourceArn",
                "arn:aws:sns:eu-west-1:111111111111:alerts-prod",
            )],
            expect: Allowed,
            ..Case::default()
        },
        Case {
            cites: "Condition operators: a wildcard in one ARN segment does not reach into the next",
            identity: vec![
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*", "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:alerts-*"}}}]}),
            ],
            action: "sqs:SendMessage",
            on: "arn:aws:sqs:us-east-1:111111111111:jobs",
            context: vec![(
                "aws:SourceArn",
                "arn:aws:sns:eu-west-1:111111111111:alerts-prod",
            )],
            expect: ImplicitDeny,
            ..Case::default()
        },
        Case {
            cites: "Condition operators: StringLike with a policy variable",
            identity: vec![
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::home", "Condition": {"StringLike": {"s3:prefix": ["${aws:username}/*"]}}}]}),
            ],
            action: "s3:ListBucket",
            on: "arn:aws:s3:::home",
            context: vec![("s3:prefix", "alice/photos/")],
            expect: Allowed,
            ..Case::default()
        },
        Case {
            cites: "AWS account root user: it has full access to its account's resources, with no policy",
            principal: "arn:aws:iam::111111111111:root",
            expect: Allowed,
            ..Case::default()
        },
        Case {
            cites: "Service control policies: an SCP limits the root user too",
            principal: "arn:aws:iam::111111111111:root",
            scps: vec![allow("ec2:*", "*")],
            expect: ImplicitDeny,
            ..Case::default()
        },
        Case {
            cites: "IAM JSON policy elements: NotPrincipal denies everyone but the one named",
            resource: Some(
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "NotPrincipal": {"AWS": ROLE}, "Action": "s3:*", "Resource": "*"}]}),
            ),
            identity: vec![allow("s3:*", "*")],
            expect: ExplicitDeny,
            ..Case::default()
        },
    ]
}

#[test]
fn every_case_of_the_user_guide_is_decided_as_it_says() {
    let mut wrong = Vec::new();
    for case in cases() {
        let answer = run(&case);
        if answer.decision != case.expect {
            wrong.push(format!(
                "{}: got {:?} ({}), expected {:?}",
                case.cites, answer.decision, answer.reason, case.expect
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn an_answer_names_the_statements_that_decided_it() {
    let answer = run(&Case {
        identity: vec![
            json!({"Version": "2012-10-17", "Statement": [{"Sid": "Reports", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}),
        ],
        boundary: Some(allow("s3:*", "*")),
        ..Case::default()
    });
    assert_eq!(answer.decision, Decision::Allowed);
    let named: Vec<(String, String)> = answer
        .statements
        .iter()
        .map(|d| (d.policy.clone(), d.statement.clone()))
        .collect();
    assert_eq!(
        named,
        [
            ("identity0".to_owned(), "Reports".to_owned()),
            ("boundary".to_owned(), "#0".to_owned())
        ]
    );
    let denied = run(&Case {
        identity: vec![allow("s3:*", "*"), deny("s3:GetObject", "*")],
        ..Case::default()
    });
    assert_eq!(denied.statements.len(), 1);
    assert_eq!(denied.statements[0].policy, "identity1");
    assert_eq!(denied.statements[0].effect, Effect::Deny);
}

#[test]
fn the_principal_fills_the_context_unless_given() {
    let principal = Principal::parse(SESSION).unwrap();
    let mut given = Context::default();
    given.add("aws:PrincipalTag/team", "data");
    let request = Request::new(
        principal,
        "s3:GetObject",
        "arn:aws:s3:::r/x",
        None,
        given,
        NOW,
    );
    assert_eq!(
        request.context.values("aws:PrincipalArn"),
        Some(&[ROLE.to_owned()][..])
    );
    assert_eq!(
        request.context.values("aws:principalaccount"),
        Some(&[ACCOUNT.to_owned()][..])
    );
    assert_eq!(
        request.context.values("aws:PrincipalType"),
        Some(&["AssumedRole".to_owned()][..])
    );
    assert_eq!(
        request.context.values("aws:username"),
        None,
        "a role session has no user name"
    );
    assert_eq!(
        request.context.values("aws:CurrentTime"),
        Some(&["2026-01-01T00:00:00Z".to_owned()][..])
    );
    assert_eq!(
        request.resource_account, ACCOUNT,
        "an S3 ARN names no account"
    );
    assert!(Principal::parse("arn:aws:iam::111111111111:group/devs").is_err());
    assert!(Principal::parse("alice").is_err());
}

// What must hold whatever the documents say.

const ACTIONS: [&str; 5] = ["s3:GetObject", "s3:*", "ec2:RunInstances", "*", "s3:Get*"];
const RESOURCES: [&str; 4] = [
    "*",
    "arn:aws:s3:::reports/*",
    "arn:aws:s3:::other/*",
    "arn:aws:ec2:*:*:instance/*",
];
const CONDITIONS: [Option<(&str, &str, &str)>; 4] = [
    None,
    Some(("StringEquals", "aws:username", "alice")),
    Some(("BoolIfExists", "aws:MultiFactorAuthPresent", "true")),
    Some(("StringNotEquals", "aws:RequestedRegion", "eu-west-1")),
];

fn statement() -> impl Strategy<Value = Value> {
    (any::<bool>(), 0..ACTIONS.len(), 0..RESOURCES.len(), 0..CONDITIONS.len()).prop_map(
        |(allow, a, r, c)| {
            let mut s = json!({"Effect": if allow { "Allow" } else { "Deny" }, "Action": ACTIONS[a], "Resource": RESOURCES[r]});
            if let Some((op, key, value)) = CONDITIONS[c] {
                s["Condition"] = json!({ op: { key: value } });
            }
            s
        },
    )
}

fn document(statements: &[Value]) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// A generated request's answer under generated identity and boundary statements.
fn decide(identity: &[Value], boundary: Option<&[Value]>, action: usize, on: usize) -> Decision {
    let identity = vec![Policy::parse("identity", &document(identity)).unwrap()];
    let boundary = boundary.map(|b| Policy::parse("boundary", &document(b)).unwrap());
    let actions = ["s3:GetObject", "ec2:RunInstances", "s3:PutObject"];
    let resources = [
        "arn:aws:s3:::reports/x",
        "arn:aws:ec2:us-east-1:111111111111:instance/i-1",
    ];
    let request = Request::new(
        Principal::parse(ALICE).unwrap(),
        actions[action],
        resources[on],
        None,
        Context::default(),
        NOW,
    );
    evaluate(
        &request,
        &Policies {
            identity: &identity,
            boundary: boundary.as_ref(),
            ..Policies::default()
        },
    )
    .decision
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn a_deny_added_never_allows(
        identity in proptest::collection::vec(statement(), 0..5),
        extra in statement(),
        action in 0..3usize,
        on in 0..2usize,
    ) {
        let mut denying = extra;
        denying["Effect"] = json!("Deny");
        let before = decide(&identity, None, action, on);
        let mut more = identity.clone();
        more.push(denying);
        let after = decide(&more, None, action, on);
        prop_assert!(after != Decision::Allowed || before == Decision::Allowed);
        prop_assert!(!(before != Decision::Allowed && after == Decision::Allowed));
    }

    #[test]
    fn an_allow_added_never_denies_what_was_allowed(
        identity in proptest::collection::vec(statement(), 0..5),
        boundary in proptest::collection::vec(statement(), 0..3),
        extra in statement(),
        action in 0..3usize,
        on in 0..2usize,
    ) {
        let mut allowing = extra;
        allowing["Effect"] = json!("Allow");
        let before = decide(&identity, Some(&boundary), action, on);
        let mut more = identity.clone();
        more.push(allowing);
        let after = decide(&more, Some(&boundary), action, on);
        if before == Decision::Allowed {
            prop_assert_eq!(after, Decision::Allowed);
        }
    }

    #[test]
    fn the_order_of_statements_never_matters(
        identity in proptest::collection::vec(statement(), 0..6),
        action in 0..3usize,
        on in 0..2usize,
    ) {
        let mut reversed = identity.clone();
        reversed.reverse();
        prop_assert_eq!(decide(&identity, None, action, on), decide(&reversed, None, action, on));
    }
}
