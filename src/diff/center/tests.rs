//! The differ alone: no churn from how AWS writes what the spec says.

use super::*;
use crate::live::center::{Instance, Membership, SetDetails, StoreGroup};
use crate::spec::identity_center::tests::{EXAMPLE, load};

fn center() -> IdentityCenter {
    load(&EXAMPLE.replace(
        "addons = [\"route53\"]",
        "addons = [\"route53\"]\ninline = { Version = \"2012-10-17\", Statement = [{ Effect = \"Allow\", Action = [\"s3:GetObject\", \"s3:ListBucket\"], Resource = \"*\" }] }",
    ))
    .unwrap()
    .identity_center
    .unwrap()
}

/// The instance exactly as the example says, written the way AWS writes it.
fn as_aws_writes_it() -> CenterState {
    let managed = [
        "AmazonEC2FullAccess",
        "IAMReadOnlyAccess",
        "AmazonRoute53FullAccess",
        "AmazonRoute53DomainsFullAccess",
    ];
    CenterState {
        instance: Instance {
            arn: "arn:aws:sso:::instance/ssoins-1".into(),
            store: "d-1".into(),
        },
        users: vec![StoreUser {
            id: "u-1".into(),
            name: "koding-user".into(),
            display_name: Some("Koding User".into()),
            given_name: Some("Koding".into()),
            family_name: Some("User".into()),
            email: Some("koding-user@example.com".into()),
            external: false,
        }],
        groups: vec![StoreGroup {
            id: "g-1".into(),
            name: "Developers".into(),
            description: Some("Builds Koding stacks".into()),
            external: false,
        }],
        memberships: vec![Membership {
            id: "m-1".into(),
            group_id: "g-1".into(),
            user_id: "u-1".into(),
        }],
        permission_sets: vec![LivePermissionSet {
            arn: "arn:aws:sso:::instance/ssoins-1/ps-1".into(),
            name: "Developers".into(),
            description: Some("EC2 and read-only IAM, plus Route53".into()),
            // `PT480M` read back: the same eight hours.
            session: crate::spec::identity_center::parse_iso_duration("PT480M"),
            details: Some(SetDetails {
                managed: managed
                    .iter()
                    .map(|m| format!("arn:aws:iam::aws:policy/{m}"))
                    .collect(),
                // Keys in another order, a list of one: the same document.
                inline: Some(
                    serde_json::json!({"Statement": [{"Resource": "*", "Action": ["s3:ListBucket", "s3:GetObject"], "Effect": "Allow"}], "Version": "2012-10-17"}),
                ),
                ..SetDetails::default()
            }),
            owner: Some("iamspec".into()),
        }],
        assignments: BTreeSet::from([LiveAssignment {
            permission_set: "arn:aws:sso:::instance/ssoins-1/ps-1".into(),
            account: "111111111111".into(),
            kind: PrincipalKind::Group,
            principal: "g-1".into(),
        }]),
        names: BTreeMap::new(),
    }
}

fn wanted() -> Vec<Wanted> {
    vec![Wanted {
        set: "Developers".into(),
        principal: Principal {
            kind: PrincipalKind::Group,
            name: "Developers".into(),
        },
        account: "111111111111".into(),
    }]
}

fn options(labels: &BTreeMap<String, String>) -> Options<'_> {
    Options {
        prune: false,
        owner: "iamspec",
        partition: "aws",
        untouchable: None,
        labels,
        scope: None,
    }
}

#[test]
fn an_instance_as_the_spec_says_plans_nothing_however_aws_writes_it() {
    let labels = BTreeMap::new();
    let plan = diff(&center(), &wanted(), &as_aws_writes_it(), options(&labels));
    assert!(plan.is_empty(), "{:#?}", plan.changes);
    assert!(plan.notes.is_empty(), "{:#?}", plan.notes);
}

#[test]
fn a_membership_held_twice_loses_its_copy_after_the_assignments() {
    let mut live = as_aws_writes_it();
    live.memberships.push(Membership {
        id: "m-2".into(),
        group_id: "g-1".into(),
        user_id: "u-1".into(),
    });
    live.assignments.clear();
    let labels = BTreeMap::from([("111111111111".to_owned(), "dev (111111111111)".to_owned())]);
    let plan = diff(&center(), &wanted(), &live, options(&labels));
    let texts: Vec<&str> = plan.changes.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "group `Developers` gets permission set `Developers` in account dev (111111111111)",
            "user `koding-user` in group `Developers` (a second copy)",
        ]
    );
    assert_eq!(
        plan.changes[1].step,
        Step::RemoveMember {
            membership_id: "m-2".into()
        }
    );
}

#[test]
fn an_unprovisioned_change_is_not_provisioned_and_a_new_set_needs_no_provisioning() {
    let labels = BTreeMap::new();
    let mut live = as_aws_writes_it();
    live.permission_sets[0].session = Some(3600);
    let plan = diff(&center(), &wanted(), &live, options(&labels));
    assert_eq!(
        plan.changes.len(),
        1,
        "not provisioned anywhere: nothing to provision"
    );
    live.permission_sets[0]
        .details
        .as_mut()
        .unwrap()
        .accounts
        .insert("111111111111".into());
    let plan = diff(&center(), &wanted(), &live, options(&labels));
    assert!(matches!(plan.changes[1].step, Step::Provision { .. }));
    live.permission_sets.clear();
    let plan = diff(&center(), &wanted(), &live, options(&labels));
    assert!(
        plan.changes
            .iter()
            .all(|c| !matches!(c.step, Step::Provision { .. }))
    );
}
