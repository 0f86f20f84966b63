//! The checks' messages, and properties of the canonical form.

use proptest::prelude::*;
use serde_json::json;

use super::*;

fn errors(document: &Value) -> Vec<String> {
    check(document).errors
}

#[test]
fn a_good_document_has_no_findings() {
    let document = json!({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "S3", "Effect": "Allow", "Action": ["s3:GetObject", "s3:List*"], "Resource": "*"}]
    });
    assert_eq!(check(&document), Findings::default());
}

#[test]
fn each_check_says_what_is_wrong() {
    let cases = [
        (json!([]), "a policy document must be a JSON object"),
        (
            json!({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}),
            "the document has no `Version`: add \"Version\": \"2012-10-17\"",
        ),
        (
            json!({"Version": "2020-01-01", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}),
            "`Version` is \"2020-01-01\"; IAM accepts \"2012-10-17\" (use it) or \"2008-10-17\"",
        ),
        (
            json!({"Version": "2012-10-17"}),
            "the document has no `Statement`: add at least one",
        ),
        (
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Permit", "Action": "s3:*", "Resource": "*"}]}),
            "statement 1 has `Effect` \"Permit\"; it must be \"Allow\" or \"Deny\"",
        ),
        (
            json!({"Version": "2012-10-17", "Statement": [{"Sid": "A", "Effect": "Allow", "Action": "s3:*", "NotAction": "s3:Get*", "Resource": "*"}]}),
            "statement 1 (A) has both `Action` and `NotAction`; keep one",
        ),
        (
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*"}]}),
            "statement 1 has neither `Resource` nor `NotResource`; add one",
        ),
        (
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "GetObject", "Resource": "*"}]}),
            "statement 1 has action `GetObject`, which is not of the form `service:Action` (wildcards * and ? allowed)",
        ),
        (
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}]}),
            "statement 1 has `Principal`, which only resource policies have; remove it",
        ),
        (
            json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Effects": 1}}),
            "statement 1 has an unknown key `Effects` (allowed: Sid, Effect, Action, NotAction, Resource, NotResource, Condition)",
        ),
        (
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": 5, "Resource": "*"}]}),
            "statement 1 has `Action` 5; it must be a string or a list of strings",
        ),
    ];
    for (document, expected) in cases {
        assert_eq!(errors(&document), [expected], "{document}");
    }
}

#[test]
fn admin_grants_and_pass_role_everywhere_are_warnings() {
    let admin = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
    let found = check(&admin);
    assert!(found.errors.is_empty());
    assert_eq!(
        found.warnings,
        [
            "statement 1 allows every action on every resource (`\"Action\": \"*\"` with `\"Resource\": \"*\"`): that is administrator access"
        ]
    );
    let pass = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["iam:PassRole"], "Resource": ["*"]}]});
    assert_eq!(
        check(&pass).warnings,
        [
            "statement 1 allows `iam:PassRole` on every resource: any role, admin roles included, can be passed to a service; name the roles in `Resource`"
        ]
    );
    let denied = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]});
    assert!(check(&denied).warnings.is_empty());
}

#[test]
fn aws_reformatting_and_reordering_mean_the_same() {
    let written = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "B", "Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": "arn:aws:s3:::b/*"},
            {"Sid": "A", "Effect": "Allow", "Action": "ec2:Describe*", "Resource": ["*"],
             "Condition": {"Bool": {"aws:SecureTransport": true}}}
        ]
    });
    let returned = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Sid%22%3A%22A%22%2C%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%5B%22ec2%3ADescribe%2A%22%5D%2C%22Resource%22%3A%22%2A%22%2C%22Condition%22%3A%7B%22Bool%22%3A%7B%22aws%3ASecureTransport%22%3A%22true%22%7D%7D%7D%2C%7B%22Sid%22%3A%22B%22%2C%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%5B%22s3%3AGetObject%22%2C%22s3%3APutObject%22%5D%2C%22Resource%22%3A%5B%22arn%3Aaws%3As3%3A%3A%3Ab%2F%2A%22%5D%7D%5D%7D";
    assert_eq!(canonical(&decode(returned).unwrap()), canonical(&written));
    let plain = r#"{"Version":"2012-10-17","Statement":[]}"#;
    assert_eq!(
        decode(plain).unwrap(),
        json!({"Version": "2012-10-17", "Statement": []})
    );
}

#[test]
fn a_real_change_shows_as_a_unified_diff() {
    let before = canonical(
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}),
    );
    let after = canonical(
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "*"}]}),
    );
    assert_ne!(before, after);
    assert_eq!(
        diff(&before, &after, "  "),
        "  --- live\n  +++ spec\n  @@ -2,7 +2,8 @@\n     \"Statement\": [\n       {\n         \"Action\": [\n  -        \"s3:GetObject\"\n  +        \"s3:GetObject\",\n  +        \"s3:PutObject\"\n         ],\n         \"Effect\": \"Allow\",\n         \"Resource\": [\n"
    );
}

#[test]
fn size_counts_everything_but_whitespace() {
    let document = Document::new(json!({"Version": "2012-10-17", "Statement": [{"Sid": "a b"}]}));
    assert_eq!(document.size(), document.text().len() - 1);
    assert_eq!(
        document.size(),
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"ab"}]}"#.len()
    );
}

const ACTIONS: [&str; 6] = [
    "s3:GetObject",
    "s3:PutObject",
    "ec2:Describe*",
    "iam:Get*",
    "sqs:SendMessage",
    "logs:*",
];
const RESOURCES: [&str; 4] = [
    "*",
    "arn:aws:s3:::b/*",
    "arn:aws:sqs:*:*:q",
    "arn:aws:logs:*",
];

/// A statement as indexes: deny?, actions, resources, condition values.
type Shape = (bool, Vec<usize>, Vec<usize>, Option<Vec<usize>>);

fn statement_strategy() -> impl Strategy<Value = Shape> {
    (
        any::<bool>(),
        prop::collection::vec(0..ACTIONS.len(), 1..4),
        prop::collection::vec(0..RESOURCES.len(), 1..3),
        prop::option::of(prop::collection::vec(0..3usize, 1..3)),
    )
}

fn build(statements: &[Shape], seed: u64) -> Value {
    // A deterministic shuffle per seed: the same document, in another order and shape.
    let mut state = seed;
    let mut shuffle = |len: usize| -> Vec<usize> {
        let mut order: Vec<usize> = (0..len).collect();
        for i in (1..len).rev() {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            order.swap(i, usize::try_from(state >> 33).unwrap() % (i + 1));
        }
        order
    };
    let list = |items: Vec<Value>, single_as_string: bool| -> Value {
        if items.len() == 1 && single_as_string {
            items[0].clone()
        } else {
            Value::Array(items)
        }
    };
    let as_string = seed.is_multiple_of(2);
    let mut out = Vec::new();
    for s in shuffle(statements.len()) {
        let (deny, actions, resources, condition) = &statements[s];
        let actions: Vec<Value> = shuffle(actions.len())
            .into_iter()
            .map(|i| json!(ACTIONS[actions[i]]))
            .collect();
        let resources: Vec<Value> = shuffle(resources.len())
            .into_iter()
            .map(|i| json!(RESOURCES[resources[i]]))
            .collect();
        let mut statement = json!({
            "Effect": if *deny { "Deny" } else { "Allow" },
            "Action": list(actions, as_string),
            "Resource": list(resources, as_string),
        });
        if let Some(values) = condition {
            let values: Vec<Value> = shuffle(values.len())
                .into_iter()
                .map(|i| json!(format!("10.0.{}.0/24", values[i])))
                .collect();
            statement["Condition"] =
                json!({"IpAddress": {"aws:SourceIp": list(values, as_string)}});
        }
        out.push(statement);
    }
    json!({"Version": "2012-10-17", "Statement": out})
}

proptest! {
    #[test]
    fn canonicalisation_is_idempotent(statements in prop::collection::vec(statement_strategy(), 1..5), seed in any::<u64>()) {
        let document = build(&statements, seed);
        let once = canonical(&document);
        prop_assert_eq!(canonical(&once), once);
    }

    #[test]
    fn canonicalisation_ignores_order_and_shape(statements in prop::collection::vec(statement_strategy(), 1..5), a in any::<u64>(), b in any::<u64>()) {
        prop_assert_eq!(canonical(&build(&statements, a)), canonical(&build(&statements, b)));
    }

    #[test]
    fn a_changed_action_is_a_change(statements in prop::collection::vec(statement_strategy(), 1..5), seed in any::<u64>()) {
        let document = build(&statements, seed);
        let mut changed = statements.clone();
        changed[0].1 = vec![5];
        let other = build(&changed, seed);
        let same_actions = statements[0].1.iter().all(|i| *i == 5);
        prop_assume!(!same_actions);
        prop_assert_ne!(canonical(&document), canonical(&other));
    }
}
