//! Targets resolved from a listing of the organization, and `--accounts` and `--shard`.

use std::collections::BTreeMap;

use super::*;
use crate::spec::organization;

fn org_file(targets: &str) -> (tempfile::TempDir, Organization) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("base.toml"), "version = 1\n[groups.g]\n").unwrap();
    std::fs::write(
        dir.path().join("prod.toml"),
        "version = 1\n[users.u]\ngroups = [\"g\"]\n",
    )
    .unwrap();
    let path = dir.path().join("org.toml");
    std::fs::write(&path, format!("version = 1\n[organization]\n{targets}")).unwrap();
    let org = organization::load(&path).unwrap();
    (dir, org)
}

fn member(id: &str, name: &str, ous: &[(&str, &str)], tags: &[(&str, &str)]) -> Member {
    Member {
        id: id.to_owned(),
        name: name.to_owned(),
        status: "ACTIVE".to_owned(),
        ous: ous
            .iter()
            .map(|(id, name)| Ou {
                id: (*id).to_owned(),
                name: (*name).to_owned(),
            })
            .collect(),
        tags: tags
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
    }
}

fn listing() -> Listing {
    let work = ("ou-work", "Workloads");
    let prod = ("ou-prod", "Prod");
    let mut suspended = member("444444444444", "old", &[], &[]);
    suspended.status = "SUSPENDED".to_owned();
    Listing {
        members: vec![
            member("111111111111", "prod-a", &[work, prod], &[("env", "prod")]),
            member(
                "222222222222",
                "prod-b",
                &[work, prod],
                &[("env", "staging")],
            ),
            member("333333333333", "dev", &[work], &[]),
            suspended,
            member("555555555555", "sandbox-1", &[], &[]),
        ],
        ous: vec![
            ("Workloads".to_owned(), "ou-work".to_owned()),
            ("Workloads/Prod".to_owned(), "ou-prod".to_owned()),
        ],
    }
}

fn layers_of(resolved: &Resolved) -> BTreeMap<&str, Vec<&str>> {
    resolved
        .targets
        .iter()
        .map(|t| {
            let names = t.layers.iter().map(String::as_str).collect();
            (t.name.as_deref().unwrap_or(&t.id), names)
        })
        .collect()
}

#[test]
fn targets_select_by_list_ou_and_tag_minus_exclusions() {
    let (_dir, org) = org_file(
        "[[targets]]\naccounts = \"all\"\nexclude = [\"sandbox-1\"]\nspecs = [\"base.toml\"]\n\
         [[targets]]\nous = [\"Workloads/Prod\"]\ntags = { env = \"prod\" }\nspecs = [\"prod.toml\"]\n",
    );
    let resolved = resolve(&org, Some(&listing())).unwrap();
    let layers = layers_of(&resolved);
    assert_eq!(layers["prod-a"], ["base.toml", "prod.toml"]);
    assert_eq!(layers["prod-b"], ["base.toml"]);
    assert_eq!(layers["dev"], ["base.toml"]);
    assert!(!layers.contains_key("sandbox-1") && !layers.contains_key("old"));
    assert_eq!(
        resolved.skipped,
        ["account old (444444444444) is suspended: skipped"]
    );
}

#[test]
fn an_ou_includes_the_ous_nested_in_it_and_takes_ids() {
    let (_dir, org) = org_file("[[targets]]\nous = [\"Workloads\"]\nspecs = [\"base.toml\"]\n");
    let resolved = resolve(&org, Some(&listing())).unwrap();
    assert_eq!(resolved.targets.len(), 3);
    let (_dir, org) = org_file("[[targets]]\nous = [\"ou-prod\"]\nspecs = [\"base.toml\"]\n");
    assert_eq!(resolve(&org, Some(&listing())).unwrap().targets.len(), 2);
}

#[test]
fn names_and_ous_that_match_nothing_are_errors_with_a_hint() {
    let (_dir, org) = org_file(
        "[[targets]]\naccounts = [\"prod-c\"]\nous = [\"Workloads/Prd\"]\nspecs = [\"base.toml\"]\n",
    );
    let SpecError::Invalid(problems) = resolve(&org, Some(&listing())).unwrap_err() else {
        panic!("an invalid organization");
    };
    let text: Vec<String> = problems.iter().map(|d| d.message.clone()).collect();
    assert!(
        text.iter()
            .any(|t| t.contains("`prod-c`; did you mean `prod-")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|t| t.contains("no OU `Workloads/Prd`; did you mean `Workloads/Prod`?")),
        "{text:?}"
    );
    assert!(
        problems.iter().all(|d| d.at.line == 4 || d.at.line == 5),
        "{problems:?}"
    );
}

#[test]
fn ids_alone_need_no_listing() {
    let (_dir, org) =
        org_file("[[targets]]\naccounts = [\"111111111111\"]\nspecs = [\"base.toml\"]\n");
    assert!(!org.needs_organizations());
    let resolved = resolve(&org, None).unwrap();
    assert_eq!(resolved.targets[0].id, "111111111111");
    assert_eq!(resolved.targets[0].name, None);
    let (_dir, org) = org_file("[[targets]]\naccounts = [\"dev\"]\nspecs = [\"base.toml\"]\n");
    assert!(org.needs_organizations());
}

#[test]
fn shards_partition_the_targets_evenly_and_accounts_narrow_them() {
    let targets: Vec<Target> = (1..=7)
        .map(|i| Target {
            id: format!("{i:012}"),
            name: Some(format!("a{i}")),
            layers: Vec::new(),
        })
        .collect();
    let mut seen = Vec::new();
    for index in 1..=3 {
        let part = select(targets.clone(), &[], Some(Shard { index, count: 3 })).unwrap();
        assert!((2..=3).contains(&part.len()), "{part:?}");
        seen.extend(part.into_iter().map(|t| t.id));
    }
    seen.sort();
    assert_eq!(
        seen,
        targets.iter().map(|t| t.id.clone()).collect::<Vec<_>>()
    );
    let only = select(
        targets.clone(),
        &["a2".to_owned(), format!("{:012}", 5)],
        None,
    )
    .unwrap();
    assert_eq!(only.len(), 2);
    assert!(select(targets, &["nobody".to_owned()], None).is_err());
    assert!("0/3".parse::<Shard>().is_err() && "4/3".parse::<Shard>().is_err());
    assert_eq!("2/3".parse::<Shard>(), Ok(Shard { index: 2, count: 3 }));
}

#[test]
fn an_accounts_spec_is_its_layers_with_its_id_and_reads_only_what_it_declares() {
    let (_dir, org) = org_file(
        "[[targets]]\naccounts = [\"111111111111\"]\nspecs = [\"base.toml\", \"prod.toml\"]\n",
    );
    let target = &resolve(&org, None).unwrap().targets[0];
    let spec = spec_of(&org, target, "aws").unwrap();
    assert_eq!(spec.account_id.as_deref(), Some("111111111111"));
    assert!(spec.read_declared_only);
    let kinds = crate::live::detail_kinds(&spec);
    assert!(
        kinds.users && kinds.groups && kinds.policies && !kinds.roles,
        "{kinds:?}"
    );
}

/// A permission set's whole grant is checked for escalation as a principal's is: its inline
/// document, its AWS-managed policies and the customer-managed policies the layers declare,
/// together; Identity Center's own writes count.
#[test]
fn a_permission_sets_whole_grant_is_checked_for_escalation() {
    use crate::spec::identity_center::tests::{EXAMPLE, load};
    let lambda = EXAMPLE.replace(
        "addons = [\"route53\"]",
        "addons = [\"route53\"]\ninline = { Version = \"2012-10-17\", Statement = [{ Effect = \"Allow\", Action = [\"iam:PassRole\", \"lambda:CreateFunction\", \"lambda:InvokeFunction\"], Resource = \"*\" }] }",
    );
    let org = load(&lambda).unwrap();
    let center = org.identity_center.as_ref().unwrap();
    let found = center::escalations(center, &[], &BTreeMap::new());
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(
        found
            .iter()
            .all(|f| f.contains("permission set `Developers`")),
        "{found:#?}"
    );
    assert!(
        found[1].contains("iam:PassRole + lambda:CreateFunction + lambda:InvokeFunction"),
        "{found:#?}"
    );
    // Together with the AWS-managed policy, the inline PassRole opens a second path.
    assert!(
        found[0].contains("iam:PassRole + ec2:RunInstances")
            && found[0].contains("AWS-managed policy `AmazonEC2FullAccess`, its inline policy"),
        "{found:#?}"
    );

    // Identity Center's writes, in a customer-managed policy an assigned account declares.
    let sso = EXAMPLE.replace(
        "addons = [\"route53\"]",
        "addons = [\"route53\"]\ncustomer_policies = [\"SsoAdmin\"]",
    );
    let org = load(&sso).unwrap();
    let center = org.identity_center.as_ref().unwrap();
    let layer = crate::spec::parse(
        "version = 1\n[policies.SsoAdmin]\ndocument = { Version = \"2012-10-17\", Statement = [{ Effect = \"Allow\", Action = \"sso:*\", Resource = \"*\" }] }\n",
        std::path::Path::new("layer.toml"),
    )
    .unwrap();
    let wanted = vec![crate::diff::center::Wanted {
        set: "Developers".into(),
        principal: crate::plan::center::Principal {
            kind: crate::live::center::PrincipalKind::Group,
            name: "Developers".into(),
        },
        account: "111111111111".into(),
    }];
    let known = BTreeMap::from([(
        "111111111111".to_owned(),
        center::Known {
            spec: Some(&layer),
            live: None,
        },
    )]);
    let found = center::escalations(center, &wanted, &known);
    assert!(
        found
            .iter()
            .any(|f| f.contains("sso:CreateAccountAssignment")
                && f.contains("customer-managed policy SsoAdmin")),
        "{found:#?}"
    );
    // The guide's permission set opens no path.
    let org = load(EXAMPLE).unwrap();
    let center = org.identity_center.as_ref().unwrap();
    assert!(center::escalations(center, &[], &BTreeMap::new()).is_empty());
}
