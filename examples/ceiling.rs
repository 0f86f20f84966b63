//! The ceiling for benchmarks: the mutating calls of a JSON plan (`iamspec plan --json`) made
//! by a bare AWS SDK loop, stage by stage, at a fixed concurrency, with no checks, no retries
//! of its own and no secrets written: as fast as the endpoint allows.
//!
//!     ceiling PLAN.json CONCURRENCY

use futures::StreamExt;
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [plan, concurrency] = &args[..] else {
        eprintln!("usage: ceiling PLAN.json CONCURRENCY");
        std::process::exit(2);
    };
    let plan: Value = serde_json::from_str(&std::fs::read_to_string(plan).expect("read the plan"))
        .expect("a JSON plan");
    let concurrency: usize = concurrency.parse().expect("a concurrency");
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let iam = aws_sdk_iam::Client::new(&config);
    let changes = plan["changes"].as_array().expect("changes");
    let creates = ["create_group", "create_user", "create_policy"];
    let (first, rest): (Vec<&Value>, Vec<&Value>) = changes
        .iter()
        .partition(|c| creates.contains(&c["op"].as_str().unwrap_or_default()));
    for stage in [first, rest] {
        let failures: usize = futures::stream::iter(stage)
            .map(|change| call(&iam, change))
            .buffer_unordered(concurrency)
            .map(usize::from)
            .fold(0, |sum, failed| async move { sum + failed })
            .await;
        assert_eq!(
            failures, 0,
            "the ceiling loop expects every call to succeed"
        );
    }
}

/// Makes one change's call; true when it failed.
async fn call(iam: &aws_sdk_iam::Client, change: &Value) -> bool {
    let s = |key: &str| change[key].as_str().unwrap_or_default().to_owned();
    let tags = || {
        change["tags"].as_object().map(|tags| {
            tags.iter()
                .map(|(k, v)| {
                    aws_sdk_iam::types::Tag::builder()
                        .key(k)
                        .value(v.as_str().unwrap_or_default())
                        .build()
                        .expect("a tag")
                })
                .collect()
        })
    };
    let result = match change["op"].as_str().unwrap_or_default() {
        "create_group" => iam
            .create_group()
            .group_name(s("group"))
            .path(s("path"))
            .send()
            .await
            .map(drop)
            .map_err(drop),
        "create_user" => iam
            .create_user()
            .user_name(s("user"))
            .path(s("path"))
            .set_tags(tags())
            .send()
            .await
            .map(drop)
            .map_err(drop),
        "create_policy" => iam
            .create_policy()
            .policy_name(s("policy"))
            .path(s("path"))
            .policy_document(change["document"].to_string())
            .set_tags(tags())
            .send()
            .await
            .map(drop)
            .map_err(drop),
        "attach_group_policy" => iam
            .attach_group_policy()
            .group_name(s("group"))
            .policy_arn(s("policy"))
            .send()
            .await
            .map(drop)
            .map_err(drop),
        "attach_user_policy" => iam
            .attach_user_policy()
            .user_name(s("user"))
            .policy_arn(s("policy"))
            .send()
            .await
            .map(drop)
            .map_err(drop),
        "add_user_to_group" => iam
            .add_user_to_group()
            .user_name(s("user"))
            .group_name(s("group"))
            .send()
            .await
            .map(drop)
            .map_err(drop),
        "create_access_key" => iam
            .create_access_key()
            .user_name(s("user"))
            .send()
            .await
            .map(drop)
            .map_err(drop),
        other => panic!("the ceiling loop does not know {other}"),
    };
    result.is_err()
}
