//! `[identity_center]` of an organization file: the issue's keys, and each mistake named at
//! its file, line and column with what is allowed.

use std::path::Path;

use super::*;
use crate::spec::SpecError;
use crate::spec::organization::{Accounts, Organization, parse};

/// The issue's example, with one target.
pub(crate) const EXAMPLE: &str = r#"version = 1
[organization]

[[targets]]
accounts = ["111111111111"]
specs = ["layer.toml"]

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
"#;

fn load_in(dir: &Path, text: &str) -> Result<Organization, SpecError> {
    std::fs::write(dir.join("layer.toml"), "version = 1\n").unwrap();
    parse(text.to_owned(), &dir.join("org.toml"))
}

pub(crate) fn load(text: &str) -> Result<Organization, SpecError> {
    let dir = tempfile::tempdir().unwrap();
    load_in(dir.path(), text)
}

/// The one error of a file, as shown, without the directory.
fn error(text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    match load_in(dir.path(), text) {
        Ok(_) => panic!("no error in\n{text}"),
        Err(err) => err
            .to_string()
            .replace(&format!("{}/", dir.path().display()), ""),
    }
}

#[test]
fn the_issues_example_reads_as_written() {
    let org = load(EXAMPLE).unwrap();
    let center = org.identity_center.unwrap();
    assert_eq!(center.identities, Identities::Iamspec);
    assert_eq!(center.instance, None);
    assert_eq!(
        center.groups["Developers"].description.as_deref(),
        Some("Builds Koding stacks")
    );
    let user = &center.users["koding-user"];
    assert_eq!(user.email.as_deref(), Some("koding-user@example.com"));
    assert_eq!(user.groups, ["Developers"]);
    let set = &center.permission_sets["Developers"];
    assert_eq!(set.session, 8 * 3600);
    let managed: Vec<&str> = set.managed.iter().map(String::as_str).collect();
    assert_eq!(
        managed,
        [
            "/AmazonEC2FullAccess",
            "/AmazonRoute53DomainsFullAccess",
            "/AmazonRoute53FullAccess",
            "/IAMReadOnlyAccess"
        ]
    );
    let assignment = &center.assignments[0];
    assert_eq!(assignment.permission_set, "Developers");
    assert_eq!(assignment.groups, ["Developers"]);
    assert_eq!(assignment.selector.ous[0].text, "Workloads/Dev");
    assert_eq!(assignment.selector.accounts, Accounts::None);
    assert_eq!((assignment.at.line, assignment.at.column), (26, 1));
}

#[test]
fn the_optional_keys_read_as_written() {
    let text = EXAMPLE.replace(
        "addons = [\"route53\"]\n",
        "addons = [\"route53\"]\ninline = { Version = \"2012-10-17\", Statement = [{ Effect = \"Allow\", Action = \"s3:GetObject\", Resource = \"arn:aws:s3:::koding/*\" }] }\ncustomer_policies = [\"StackBuilder\", \"deploy/Artifacts\"]\nboundary = \"PowerUserAccess\"\n",
    ).replace("[identity_center]\n", "[identity_center]\ninstance = \"arn:aws:sso:::instance/ssoins-1234567890abcdef\"\nidentities = \"iamspec\"\n");
    let center = load(&text).unwrap().identity_center.unwrap();
    assert_eq!(
        center.instance.as_deref(),
        Some("arn:aws:sso:::instance/ssoins-1234567890abcdef")
    );
    let set = &center.permission_sets["Developers"];
    assert!(set.inline.as_ref().unwrap().text().contains("s3:GetObject"));
    let refs: Vec<String> = set.customer.iter().map(ToString::to_string).collect();
    assert_eq!(refs, ["StackBuilder", "/deploy/Artifacts"]);
    assert_eq!(
        set.boundary,
        Some(Boundary::AwsManaged("/PowerUserAccess".to_owned()))
    );
    let customer = text.replace(
        "boundary = \"PowerUserAccess\"",
        "boundary = \"DeployBoundary\"",
    );
    let set = &load(&customer)
        .unwrap()
        .identity_center
        .unwrap()
        .permission_sets["Developers"];
    assert_eq!(
        set.boundary,
        Some(Boundary::Customer(PolicyReference {
            path: "/".to_owned(),
            name: "DeployBoundary".to_owned()
        }))
    );
}

#[test]
fn external_identities_are_names_alone() {
    let text = EXAMPLE.replace(
        "[identity_center]\n",
        "[identity_center]\nidentities = \"external\"\n",
    );
    assert_eq!(
        error(&text),
        [
            "org.toml:11:1: group `Developers` has a description, but with identities = \"external\" the IdP owns groups: leave only the name",
            "org.toml:15:16: user `koding-user` sets `display_name`, but with identities = \"external\" the IdP owns users: leave only the name",
            "org.toml:16:14: user `koding-user` sets `given_name`, but with identities = \"external\" the IdP owns users: leave only the name",
            "org.toml:17:15: user `koding-user` sets `family_name`, but with identities = \"external\" the IdP owns users: leave only the name",
            "org.toml:18:9: user `koding-user` sets `email`, but with identities = \"external\" the IdP owns users: leave only the name",
            "org.toml:19:11: user `koding-user` lists groups, but with identities = \"external\" the IdP says who is in which group",
        ]
        .join("\n")
    );
    let names_only = "version = 1\n[organization]\n[[targets]]\naccounts = [\"111111111111\"]\nspecs = [\"layer.toml\"]\n[identity_center]\nidentities = \"external\"\n[identity_center.users.koding-user]\n[identity_center.groups.Developers]\n";
    let center = load(names_only).unwrap().identity_center.unwrap();
    assert_eq!(center.identities, Identities::External);
}

#[test]
fn each_mistake_is_named_where_it_is() {
    let cases = [
        (
            EXAMPLE.replace("session = \"8h\"", "session = \"13h\""),
            "org.toml:22:11: permission set `Developers`'s session `13h` is not 1h to 12h (in whole minutes, like `8h` or `1h30m`)",
        ),
        (
            EXAMPLE.replace("\"AmazonEC2FullAccess\"", "\"AmazonEC2FullAcess\""),
            "org.toml:23:13: permission set `Developers`: `AmazonEC2FullAcess` in `policies` is not an AWS-managed policy; did you mean `AmazonEC2FullAccess`? (a customer-managed policy goes in `customer_policies`)",
        ),
        (
            EXAMPLE.replace(
                "groups = [\"Developers\"]\n\n[identity",
                "groups = [\"Developer\"]\n\n[identity",
            ),
            "org.toml:18:11: user `koding-user` is in group `Developer`, which [identity_center.groups] does not declare; did you mean `Developers`?",
        ),
        (
            EXAMPLE.replace(
                "permission_set = \"Developers\"",
                "permission_set = \"Developer\"",
            ),
            "org.toml:27:18: this assignment names permission set `Developer`, which [identity_center.permission_sets] does not declare; did you mean `Developers`?",
        ),
        (
            EXAMPLE.replace("koding-user@example.com", "koding-user.example.com"),
            "org.toml:17:9: user `koding-user`'s email `koding-user.example.com` is not an address like name@example.com",
        ),
        (
            EXAMPLE.replace("session = \"8h\"", "sesion = \"8h\""),
            "org.toml:22:1: unknown key `sesion`; did you mean `session`? (allowed here: description, session, policies, addons, inline, customer_policies, boundary)",
        ),
        (
            EXAMPLE.replace("ous = [\"Workloads/Dev\"]\n", ""),
            "org.toml:26:1: this assignment selects no account: give it `accounts`, `ous` or `tags`",
        ),
        (
            EXAMPLE.replace("groups = [\"Developers\"]\nous", "ous"),
            "org.toml:26:1: this assignment names no principal: give it `groups` or `users`",
        ),
        (
            EXAMPLE.replace("addons = [\"route53\"]", "addons = [\"route35\"]"),
            "org.toml:24:11: add-on `route35` is not built in; did you mean `route53`? (a permission set takes the built-in add-ons: route53; layers' [addons] are IAM's)",
        ),
        (
            EXAMPLE.replace(
                "[identity_center]\n",
                "[identity_center]\ninstance = \"ssoins-123\"\n",
            ),
            "org.toml:9:12: [identity_center] instance `ssoins-123` is not an instance ARN: write arn:aws:sso:::instance/ssoins-..., as `aws sso-admin list-instances` shows it",
        ),
        (
            EXAMPLE.replace(
                "[identity_center.permission_sets.Developers]",
                "[identity_center.permission_sets.\"Dev elopers\"]",
            ),
            "org.toml:20:34: permission set name `Dev elopers` is 1 to 32 letters, digits and _ + = , . @ -",
        ),
    ];
    for (text, expected) in cases {
        let got = error(&text);
        assert!(
            got.lines().any(|l| l == expected),
            "{expected}\nnot in:\n{got}"
        );
    }
}

#[test]
fn an_inline_document_outside_the_folder_is_never_read() {
    let dir = tempfile::tempdir().unwrap();
    let inner = dir.path().join("org");
    std::fs::create_dir(&inner).unwrap();
    std::fs::write(dir.path().join("secret.json"), "{\"Statement\": []}").unwrap();
    let text = EXAMPLE.replace(
        "addons = [\"route53\"]",
        "addons = [\"route53\"]\ninline = \"../secret.json\"",
    );
    let err = load_in(&inner, &text).unwrap_err().to_string();
    assert!(
        err.contains("cannot read the inline policy of permission set `Developers`"),
        "{err}"
    );
    assert!(err.contains("outside"), "{err}");
}

#[test]
fn an_inline_document_goes_through_the_linter() {
    let text = EXAMPLE.replace(
        "addons = [\"route53\"]",
        "addons = [\"route53\"]\ninline = { Version = \"2012-10-17\", Statement = [{ Effect = \"Allow\", Action = \"ec2:RunInstance\", Resource = \"*\" }] }",
    );
    let center = load(&text).unwrap().identity_center.unwrap();
    let notes = center.notes.join("\n");
    assert!(
        notes.contains("the inline policy of permission set `Developers`"),
        "{notes}"
    );
    assert!(notes.contains("ec2:RunInstance"), "{notes}");
    let invalid = text.replace("Effect = \"Allow\"", "Effect = \"Permit\"");
    let err = error(&invalid);
    assert!(
        err.contains("the inline policy of permission set `Developers`"),
        "{err}"
    );
    assert!(err.contains("Permit"), "{err}");
}

#[test]
fn a_hostile_name_is_refused_before_it_reaches_a_terminal() {
    let escape = EXAMPLE
        .replace(
            "[identity_center.users.koding-user]",
            "[identity_center.users.\"koding\\u001b[2Juser\"]",
        )
        .replace(
            "groups = [\"Developers\"]\n\n[identity_center.permission_sets",
            "\n[identity_center.permission_sets",
        );
    let err = error(&escape);
    assert!(
        err.contains("user name `koding\\u{1b}[2Juser` is 1 to 128 characters without spaces or control characters"),
        "{err}"
    );
    let spaced = EXAMPLE.replace(
        "description = \"Builds Koding stacks\"",
        "description = \"Builds\\u0007 stacks\"",
    );
    assert!(
        error(&spaced).contains("group `Developers`'s description has a control character"),
        "{}",
        error(&spaced)
    );
}

#[test]
fn session_lengths_go_both_ways() {
    for (seconds, iso) in [
        (3600, "PT1H"),
        (28800, "PT8H"),
        (5400, "PT1H30M"),
        (1800, "PT30M"),
    ] {
        assert_eq!(iso_duration(seconds), iso);
        assert_eq!(parse_iso_duration(iso), Some(seconds));
    }
    assert_eq!(parse_iso_duration("PT480M"), Some(28800));
    assert_eq!(parse_iso_duration("8h"), None);
    assert_eq!(parse_iso_duration("PT8"), None);
}
