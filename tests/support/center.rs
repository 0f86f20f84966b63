//! IAM Identity Center on the local endpoint, as the Identity Center tests share it: an
//! organization with `dev` in Workloads/Dev and `prod` in Workloads, the guide's setup the
//! Identity Center way as `org.toml`, a proxy that stands in for what moto's sso-admin lacks
//! (`Behaviour::center_gaps`), and SDK clients that edit the instance by hand through it.

use aws_config::{BehaviorVersion, Region};
use serde_json::Value;

use super::Organization;
use super::Run;
use super::proxy::{Behaviour, Proxy};

pub const ORG: &str = r#"version = 1
[organization]

[[targets]]
accounts = "all"
specs = ["layers/baseline.toml"]

[identity_center]

[identity_center.groups.Developers]
description = "Builds Koding stacks"

[identity_center.users.koding-user]
display_name = "Koding User"
given_name = "Koding"
family_name = "User"
email = "koding-user@example.com"
groups = ["Developers"]

[identity_center.permission_sets.Developers]
description = "EC2 and read-only IAM, plus Route53"
session = "8h"
policies = ["AmazonEC2FullAccess", "IAMReadOnlyAccess"]
addons = ["route53"]

[[identity_center.assignments]]
permission_set = "Developers"
groups = ["Developers"]
ous = ["Workloads/Dev"]

[[identity_center.assignments]]
permission_set = "Developers"
users = ["koding-user"]
accounts = ["dev"]
"#;

pub const BASELINE: &str = r#"version = 1
[groups.Auditors]
policies = ["SecurityAudit"]
"#;

pub struct Center {
    pub org: Organization,
    pub proxy: Proxy,
    pub sso: aws_sdk_ssoadmin::Client,
    pub store: aws_sdk_identitystore::Client,
}

impl Center {
    pub async fn new() -> Self {
        let mut org = Organization::new().await;
        let workloads = org.ou(&org.root.clone(), "Workloads").await;
        let dev = org.ou(&workloads, "Dev").await;
        org.account("dev", Some(&dev), &[]).await;
        org.account("prod", Some(&workloads), &[]).await;
        let dir = org.management.dir.path();
        std::fs::create_dir_all(dir.join("layers")).unwrap();
        std::fs::write(dir.join("org.toml"), ORG).unwrap();
        std::fs::write(dir.join("layers/baseline.toml"), BASELINE).unwrap();
        let proxy = Proxy::with(
            &org.management.endpoint,
            Behaviour {
                center_gaps: true,
                ..Behaviour::default()
            },
        );
        // By hand through the proxy too, so that it sees every edit of a permission set.
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&proxy.url)
            .credentials_provider(org.management.credentials().clone())
            .load()
            .await;
        Self {
            sso: aws_sdk_ssoadmin::Client::new(&config),
            store: aws_sdk_identitystore::Client::new(&config),
            org,
            proxy,
        }
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.org.management.run_via(&self.proxy.url, args)
    }

    pub fn write(&self, text: &str) {
        std::fs::write(self.org.management.dir.path().join("org.toml"), text).unwrap();
    }

    /// The Identity Center part of `plan --json`.
    pub fn planned(&self, code: i32) -> Value {
        let run = self
            .run(&["plan", "org.toml", "--json", "--detailed-exitcode"])
            .expect(code);
        let value: Value = serde_json::from_str(&run.stdout).unwrap();
        value["identity_center"].clone()
    }

    pub async fn instance(&self) -> (String, String) {
        let out = self.sso.list_instances().send().await.unwrap();
        let i = &out.instances()[0];
        (
            i.instance_arn().unwrap().to_owned(),
            i.identity_store_id().unwrap().to_owned(),
        )
    }

    /// Every permission set of the instance: its name and ARN, sorted by name (moto takes two
    /// of one name; AWS does not).
    pub async fn permission_sets(&self) -> Vec<(String, String)> {
        let (instance, _) = self.instance().await;
        let sets = self
            .sso
            .list_permission_sets()
            .instance_arn(&instance)
            .send()
            .await
            .unwrap();
        let mut named = Vec::new();
        for arn in sets.permission_sets() {
            let out = self
                .sso
                .describe_permission_set()
                .instance_arn(&instance)
                .permission_set_arn(arn)
                .send()
                .await
                .unwrap();
            let name = out.permission_set().and_then(|p| p.name()).unwrap();
            named.push((name.to_owned(), arn.clone()));
        }
        named.sort();
        named
    }

    /// The ARN of the permission set named `name`.
    pub async fn permission_set(&self, name: &str) -> String {
        self.permission_sets()
            .await
            .into_iter()
            .find(|(n, _)| n == name)
            .map_or_else(|| panic!("no permission set {name}"), |(_, arn)| arn)
    }

    /// By hand: `AdministratorAccess` on the permission set, a user nobody declared, and that
    /// user given the permission set in `account`.
    pub async fn drift_by_hand(&self, set: &str, account: &str) {
        let (instance, store) = self.instance().await;
        self.sso
            .attach_managed_policy_to_permission_set()
            .instance_arn(&instance)
            .permission_set_arn(set)
            .managed_policy_arn("arn:aws:iam::aws:policy/AdministratorAccess")
            .send()
            .await
            .unwrap();
        let intruder = self
            .store
            .create_user()
            .identity_store_id(&store)
            .user_name("intruder")
            .display_name("Intruder")
            .name(
                aws_sdk_identitystore::types::Name::builder()
                    .given_name("In")
                    .family_name("Truder")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        self.sso
            .create_account_assignment()
            .instance_arn(&instance)
            .target_id(account)
            .target_type(aws_sdk_ssoadmin::types::TargetType::AwsAccount)
            .permission_set_arn(set)
            .principal_type(aws_sdk_ssoadmin::types::PrincipalType::User)
            .principal_id(intruder.user_id())
            .send()
            .await
            .unwrap();
    }

    /// The names of the AWS-managed policies on a permission set, sorted.
    pub async fn managed(&self, set: &str) -> Vec<String> {
        let (instance, _) = self.instance().await;
        let managed = self
            .sso
            .list_managed_policies_in_permission_set()
            .instance_arn(&instance)
            .permission_set_arn(set)
            .send()
            .await
            .unwrap();
        let mut names: Vec<String> = managed
            .attached_managed_policies()
            .iter()
            .map(|p| p.arn().unwrap().rsplit('/').next().unwrap().to_owned())
            .collect();
        names.sort_unstable();
        names
    }

    /// Every assignment of the permission set in `account`, as `GROUP`/`USER` and name.
    pub async fn assignments(&self, set: &str, account: &str) -> Vec<(String, String)> {
        let (instance, store) = self.instance().await;
        let out = self
            .sso
            .list_account_assignments()
            .instance_arn(&instance)
            .account_id(account)
            .permission_set_arn(set)
            .send()
            .await
            .unwrap();
        let mut found = Vec::new();
        for a in out.account_assignments() {
            let id = a.principal_id().unwrap();
            let kind = a.principal_type().unwrap().as_str().to_owned();
            let name = if kind == "GROUP" {
                let g = self
                    .store
                    .describe_group()
                    .identity_store_id(&store)
                    .group_id(id);
                g.send().await.unwrap().display_name().unwrap().to_owned()
            } else {
                let u = self
                    .store
                    .describe_user()
                    .identity_store_id(&store)
                    .user_id(id);
                u.send().await.unwrap().user_name().unwrap().to_owned()
            };
            found.push((kind, name));
        }
        found.sort();
        found
    }
}

/// `--stats`' line as calls by action.
pub fn stats(stderr: &str) -> std::collections::BTreeMap<String, u32> {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("API calls:"))
        .unwrap();
    line.split_once('(')
        .unwrap()
        .1
        .trim_end_matches(')')
        .split(", ")
        .map(|c| {
            let (name, n) = c.rsplit_once(' ').unwrap();
            (name.to_owned(), n.parse().unwrap())
        })
        .collect()
}

pub fn texts(center: &Value) -> Vec<String> {
    center["changes"]
        .as_array()
        .unwrap_or_else(|| panic!("no changes: {center}"))
        .iter()
        .map(|c| c["text"].as_str().unwrap().to_owned())
        .collect()
}
