//! `iamspec export` on an account built by hand: the spec it writes plans nothing, holds no
//! secret, and names policies the way a person would.

mod support;

use aws_sdk_iam::types::Tag;
use support::Account;

const DOCUMENT: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":"*"}]}"#;

/// An account made the way people make them: by hand, call by call.
async fn build_by_hand(account: &Account) {
    let iam = account.iam();
    let policy = iam
        .create_policy()
        .policy_name("StackBuilder")
        .path("/koding/")
        .description("What Koding stacks need beyond EC2")
        .policy_document(DOCUMENT)
        .send()
        .await
        .unwrap();
    let stack_arn = policy.policy().unwrap().arn().unwrap().to_owned();
    iam.create_group()
        .group_name("Developers")
        .path("/koding/")
        .send()
        .await
        .unwrap();
    for arn in [
        "arn:aws:iam::aws:policy/AmazonEC2FullAccess",
        "arn:aws:iam::aws:policy/AmazonRoute53FullAccess",
        "arn:aws:iam::aws:policy/AmazonRoute53DomainsFullAccess",
        stack_arn.as_str(),
    ] {
        iam.attach_group_policy()
            .group_name("Developers")
            .policy_arn(arn)
            .send()
            .await
            .unwrap();
    }
    iam.put_group_policy()
        .group_name("Developers")
        .policy_name("deploy")
        .policy_document(DOCUMENT)
        .send()
        .await
        .unwrap();
    iam.create_user()
        .user_name("koding-user")
        .path("/koding/")
        .tags(
            Tag::builder()
                .key("team")
                .value("platform")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    iam.add_user_to_group()
        .group_name("Developers")
        .user_name("koding-user")
        .send()
        .await
        .unwrap();
    iam.attach_user_policy()
        .user_name("koding-user")
        .policy_arn("arn:aws:iam::aws:policy/job-function/ViewOnlyAccess")
        .send()
        .await
        .unwrap();
    iam.put_user_policy()
        .user_name("koding-user")
        .policy_name("own")
        .policy_document(DOCUMENT)
        .send()
        .await
        .unwrap();
    iam.create_access_key()
        .user_name("koding-user")
        .send()
        .await
        .unwrap();
    // Outside the scope.
    iam.create_user().user_name("admin").send().await.unwrap();
}

#[tokio::test]
async fn an_exported_scope_plans_nothing() {
    let account = Account::new().await;
    build_by_hand(&account).await;
    account
        .run(&["export", "--scope", "/koding/", "--out", "exported"])
        .expect(0);
    let dir = account.dir.path().join("exported");
    let spec = std::fs::read_to_string(dir.join("spec.toml")).unwrap();
    assert_eq!(
        spec,
        format!(
            "# Exported by iamspec from account {id}.\nversion = 1\n\n[account]\nid = \"{id}\"\nscope = \"/koding/\"\n\n\
             [policies.StackBuilder]\npath = \"/koding/\"\ndescription = \"What Koding stacks need beyond EC2\"\ndocument = \"policies/StackBuilder.json\"\n\n\
             [groups.Developers]\npath = \"/koding/\"\npolicies = [\"StackBuilder\", \"AmazonEC2FullAccess\"]\naddons = [\"route53\"]\n\n\
             [groups.Developers.inline]\ndeploy = \"inline/group-Developers/deploy.json\"\n\n\
             [users.koding-user]\npath = \"/koding/\"\ngroups = [\"Developers\"]\npolicies = [\"job-function/ViewOnlyAccess\"]\naccess_key = true\n\n\
             [users.koding-user.inline]\nown = \"inline/user-koding-user/own.json\"\n\n\
             [users.koding-user.tags]\nteam = \"platform\"\n",
            id = account.id
        )
    );
    let spec_path = dir.join("spec.toml");
    let plan = account
        .run(&["plan", spec_path.to_str().unwrap(), "--detailed-exitcode"])
        .expect(0);
    assert!(plan.stdout.starts_with("No changes."), "{}", plan.stdout);
    let document: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("policies/StackBuilder.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        document["Statement"][0]["Action"],
        serde_json::json!(["s3:GetObject", "s3:ListBucket"])
    );

    // Exporting again into the same place would overwrite: refused.
    let again = account.run(&["export", "--out", "exported"]).expect(1);
    assert!(
        again.stderr.contains("it exists already"),
        "{}",
        again.stderr
    );
}

#[tokio::test]
async fn an_unscoped_export_only_adopts() {
    let account = Account::new().await;
    build_by_hand(&account).await;
    account.run(&["export", "--out", "all"]).expect(0);
    let spec_path = account.dir.path().join("all/spec.toml");
    let spec = std::fs::read_to_string(&spec_path).unwrap();
    assert!(spec.contains("[users.admin]"), "{spec}");
    let plan = account
        .run(&["plan", spec_path.to_str().unwrap(), "--json"])
        .expect(0);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let changes = plan["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 3, "{changes:#?}");
    for change in changes {
        assert!(
            change["reason"].as_str().unwrap().starts_with("adopt:"),
            "only adoption is planned: {change}"
        );
    }
}

/// A policy that grants `action` on everything.
fn grant(action: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"*"}}]}}"#
    )
}

#[tokio::test]
async fn names_built_to_collide_never_share_a_file_or_a_privilege() {
    let account = Account::new().await;
    let iam = account.iam();
    // `ops-admin` + `all` and `ops` + `admin-all` once made the same file name; so did
    // `a-b` + `c` and `a` + `b-c`; `..` and `.` try to climb out of inline/; `Dev`'s two
    // policies differ only in case.
    let inline = [
        ("ops-admin", "all", "iam:*"),
        ("ops", "admin-all", "s3:GetObject"),
        ("a-b", "c", "ec2:*"),
        ("a", "b-c", "sqs:GetQueueUrl"),
        ("..", "x", "kms:*"),
        (".", "x", "sns:Publish"),
        ("Dev", "P", "lambda:*"),
        ("Dev", "p", "logs:GetLogEvents"),
    ];
    for (user, _, _) in &inline {
        let _ = iam
            .create_user()
            .user_name(*user)
            .path("/adv/")
            .send()
            .await;
    }
    for (user, policy, action) in inline {
        iam.put_user_policy()
            .user_name(user)
            .policy_name(policy)
            .policy_document(grant(action))
            .send()
            .await
            .unwrap();
    }
    account
        .run(&["export", "--scope", "/adv/", "--out", "out"])
        .expect(0);
    let dir = account.dir.path().join("out");
    let mut files = Vec::new();
    let mut stack = vec![dir.clone()];
    while let Some(next) = stack.pop() {
        for entry in std::fs::read_dir(next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    assert!(files.iter().all(|f| f.starts_with(&dir)));
    let lower: std::collections::BTreeSet<String> = files
        .iter()
        .map(|f| f.to_string_lossy().to_lowercase())
        .collect();
    assert_eq!(lower.len(), files.len(), "no two files differ only in case");
    assert_eq!(
        files.len(),
        inline.len() + 1,
        "a file per document: {files:?}"
    );

    // Planning the export changes nothing: every user keeps exactly its own policies.
    let spec = dir.join("spec.toml");
    let plan = account
        .run(&["plan", spec.to_str().unwrap(), "--detailed-exitcode"])
        .expect(0);
    assert!(plan.stdout.starts_with("No changes."), "{}", plan.stdout);
    for (user, policy, action) in inline {
        let live = iam
            .get_user_policy()
            .user_name(user)
            .policy_name(policy)
            .send()
            .await
            .unwrap();
        let text = percent_encoding::percent_decode_str(live.policy_document()).decode_utf8_lossy();
        let document: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            document["Statement"][0]["Action"],
            serde_json::json!(action),
            "{user}/{policy}"
        );
    }
}

/// A user's tags named by an access key id are its keys' descriptions: iamspec's mark and one
/// a person wrote in the console. Neither is drift, a prune keeps both, and export writes
/// neither as a spec tag.
#[tokio::test]
async fn key_descriptions_are_never_a_specs_tags() {
    let account = Account::new().await;
    account.spec(
        "spec.toml",
        "version = 1\n[users.koding-user]\naccess_key = true\ntags = { team = \"platform\" }\n",
    );
    account.run(&["apply", "spec.toml", "--yes"]).expect(0);
    let (key, _) = account.only_key("koding-user").await;
    let iam = account.iam();
    iam.tag_user()
        .user_name("koding-user")
        .tags(
            Tag::builder()
                .key("AKIAOLDLAPTOP000")
                .value("laptop, 2019")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let plan = account
        .run(&["plan", "spec.toml", "--prune", "--json"])
        .expect(0);
    let json: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    assert_eq!(json["changes"], serde_json::json!([]), "{}", plan.stdout);
    assert_eq!(json["drift"], serde_json::json!([]), "{}", plan.stdout);
    account
        .run(&["apply", "spec.toml", "--prune", "--yes"])
        .expect(0);
    let tags = iam
        .list_user_tags()
        .user_name("koding-user")
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = tags.tags().iter().map(Tag::key).collect();
    assert!(
        keys.contains(&key.as_str()) && keys.contains(&"AKIAOLDLAPTOP000"),
        "{keys:?}"
    );

    account.run(&["export", "--out", "exported"]).expect(0);
    let exported = std::fs::read_to_string(account.dir.path().join("exported/spec.toml")).unwrap();
    assert!(exported.contains("team = \"platform\""), "{exported}");
    assert!(!exported.contains("AKIA"), "{exported}");
}
