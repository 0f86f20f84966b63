//! The marker loop, on recorded multi-page answers: moto never paginates, AWS does; and the
//! credential report's CSV.

use aws_sdk_iam::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_iam::operation::get_account_authorization_details::GetAccountAuthorizationDetailsOutput;
use aws_sdk_iam::types::{AttachedPolicy, GroupDetail, ManagedPolicyDetail, UserDetail};
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};

use super::*;

fn client(rules: &[&Rule]) -> AwsIam {
    let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
    for rule in rules {
        interceptor = interceptor.with_rule(rule);
    }
    let credentials = Credentials::new("AKIDTEST", "test", None, None, "test");
    let iam = aws_sdk_iam::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(credentials.clone())
        .http_client(create_mock_http_client())
        .interceptor(interceptor)
        .build();
    let sts = aws_sdk_sts::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(credentials)
        .http_client(create_mock_http_client())
        .build();
    AwsIam::from_clients(
        aws_sdk_iam::Client::from_conf(iam),
        aws_sdk_sts::Client::from_conf(sts),
    )
}

fn user(name: &str) -> UserDetail {
    UserDetail::builder()
        .user_name(name)
        .path("/")
        .group_list("Developers")
        .attached_managed_policies(
            AttachedPolicy::builder()
                .policy_arn("arn:aws:iam::aws:policy/IAMReadOnlyAccess")
                .build(),
        )
        .build()
}

fn page(marker: Option<&'static str>, next: Option<&'static str>) -> Rule {
    let (users, groups, policies) = match marker {
        None => (vec!["a", "b"], vec![], vec![]),
        Some("m1") => (vec!["c"], vec!["Developers"], vec![]),
        _ => (
            vec![],
            vec!["Ops"],
            vec!["arn:aws:iam::123456789012:policy/StackBuilder"],
        ),
    };
    mock!(aws_sdk_iam::Client::get_account_authorization_details)
        .match_requests(move |req| req.marker() == marker)
        .then_output(move || {
            GetAccountAuthorizationDetailsOutput::builder()
                .set_user_detail_list(Some(users.iter().map(|u| user(u)).collect()))
                .set_group_detail_list(Some(
                    groups
                        .iter()
                        .map(|g| GroupDetail::builder().group_name(*g).path("/").build())
                        .collect(),
                ))
                .set_policies(Some(
                    policies
                        .iter()
                        .map(|p| {
                            ManagedPolicyDetail::builder()
                                .arn(*p)
                                .policy_version_list(
                                    aws_sdk_iam::types::PolicyVersion::builder()
                                        .version_id("v1")
                                        .is_default_version(true)
                                        .document("%7B%22Version%22%3A%222012-10-17%22%7D")
                                        .build(),
                                )
                                .build()
                        })
                        .collect(),
                ))
                .is_truncated(next.is_some())
                .set_marker(next.map(str::to_owned))
                .build()
        })
}

#[tokio::test]
async fn every_page_of_account_details_is_read_and_merged() {
    let pages = [
        page(None, Some("m1")),
        page(Some("m1"), Some("m2")),
        page(Some("m2"), None),
    ];
    let api = client(&pages.iter().collect::<Vec<_>>());
    let details = api
        .account_details(crate::live::DetailKinds::ALL)
        .await
        .unwrap();
    let users: Vec<&str> = details.users.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(users, ["a", "b", "c"]);
    let groups: Vec<&str> = details.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(groups, ["Developers", "Ops"]);
    assert_eq!(
        details.local_policies[0].arn.to_string(),
        "arn:aws:iam::123456789012:policy/StackBuilder"
    );
    assert!(details.users[2].groups.contains("Developers"));
    for page in &pages {
        assert_eq!(page.num_calls(), 1);
    }
    assert_eq!(api.calls()["GetAccountAuthorizationDetails"], 3);
}

#[tokio::test]
async fn a_page_that_fails_fails_the_whole_read() {
    let first = page(None, Some("m1"));
    let broken = mock!(aws_sdk_iam::Client::get_account_authorization_details)
        .match_requests(|req| req.marker() == Some("m1"))
        .sequence()
        .http_status(500, None)
        .times(10)
        .build();
    let api = client(&[&first, &broken]);
    let err = api
        .account_details(crate::live::DetailKinds::ALL)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Transient);
    assert!(broken.num_calls() >= 1);
}
