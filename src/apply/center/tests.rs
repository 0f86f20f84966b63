//! Identity Center plans applied to the in-memory instance: what the local endpoint lacks
//! (boundaries, tags, provisioning status, user updates, requests that take a while or fail,
//! concurrent edits refused), the ownership rules, and a property test of the contract:
//! whatever the instance holds, apply then plan is empty, and nothing an `IdP` provisioned or
//! another owner made is deleted.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::diff::center::{Options, Wanted, diff};
use crate::live::center::memory::{MemoryCenter, Set};
use crate::live::center::{LiveBoundary, ReadOptions, StoreGroup, StoreUser, read};
use crate::plan::center::{Action, Principal};
use crate::spec::Location;
use crate::spec::identity_center::tests::{EXAMPLE, load};
use crate::spec::identity_center::{
    Group, Identities, IdentityCenter, PermissionSet, PolicyReference, User,
};

const DEV: &str = "111111111111";
const PROD: &str = "222222222222";
const MANAGEMENT: &str = "999999999999";

fn example(edit: impl Fn(String) -> String) -> IdentityCenter {
    load(&edit(EXAMPLE.to_owned()))
        .unwrap()
        .identity_center
        .unwrap()
}

/// The spec's assignments, each in `accounts`.
fn wanted(center: &IdentityCenter, accounts: &[&str]) -> Vec<Wanted> {
    let mut wanted = Vec::new();
    for a in &center.assignments {
        let principals = a
            .groups
            .iter()
            .map(|g| (PrincipalKind::Group, g))
            .chain(a.users.iter().map(|u| (PrincipalKind::User, u)));
        for (kind, name) in principals {
            for account in accounts {
                wanted.push(Wanted {
                    set: a.permission_set.clone(),
                    principal: Principal {
                        kind,
                        name: name.clone(),
                    },
                    account: (*account).to_owned(),
                });
            }
        }
    }
    wanted
}

struct Run<'a> {
    prune: bool,
    untouchable: Option<&'a str>,
}

const PLAIN: Run<'static> = Run {
    prune: false,
    untouchable: None,
};

async fn plan(
    api: &MemoryCenter,
    center: &IdentityCenter,
    wanted: &[Wanted],
    run: &Run<'_>,
) -> (CenterState, CenterPlan) {
    let mut assigned: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for w in wanted {
        assigned
            .entry(w.set.clone())
            .or_default()
            .insert(w.account.clone());
    }
    let live = read(
        api,
        center,
        ReadOptions {
            prune: run.prune,
            assigned: Some(&assigned),
        },
    )
    .await
    .unwrap();
    let labels = BTreeMap::new();
    let options = Options {
        prune: run.prune,
        owner: "iamspec",
        partition: "aws",
        untouchable: run.untouchable,
        labels: &labels,
        scope: None,
    };
    let plan = diff(center, wanted, &live, options);
    (live, plan)
}

async fn apply_plan(api: &MemoryCenter, live: &CenterState, plan: &CenterPlan) -> Outcome {
    let stop = Stop::never();
    let settings = Settings {
        owner: "iamspec",
        patience: Duration::from_secs(5),
        poll: Duration::from_millis(1),
        stop: &stop,
        halt: None,
    };
    super::apply(api, live, plan, &settings, |_| {}).await
}

/// Plans and applies; returns the plan, and asserts the apply made all of it.
async fn converge(
    api: &MemoryCenter,
    center: &IdentityCenter,
    wanted: &[Wanted],
    run: &Run<'_>,
) -> CenterPlan {
    let (live, plan) = plan(api, center, wanted, run).await;
    let outcome = apply_plan(api, &live, &plan).await;
    assert!(outcome.failed.is_none(), "{outcome:#?}");
    assert_eq!(outcome.done.len(), plan.changes.len());
    plan
}

fn texts(plan: &CenterPlan) -> Vec<&str> {
    plan.changes.iter().map(|c| c.text.as_str()).collect()
}

#[tokio::test]
async fn the_guides_setup_applies_in_memory_and_plans_nothing_after() {
    let api = MemoryCenter::default();
    let center = example(|t| t);
    let wanted = wanted(&center, &[DEV]);
    let first = converge(&api, &center, &wanted, &PLAIN).await;
    assert_eq!(first.changes.len(), 9, "{:#?}", texts(&first));
    let (_, again) = plan(&api, &center, &wanted, &PLAIN).await;
    assert!(again.is_empty(), "{:#?}", texts(&again));
    let state = api.lock();
    assert_eq!(state.sets[0].details.managed.len(), 4);
    assert_eq!(
        state.sets[0].owner.as_deref(),
        Some("iamspec"),
        "made with its owner tag"
    );
    assert_eq!(state.sets[0].session, 8 * 3600);
    assert_eq!(state.assignments.len(), 1);
}

#[tokio::test]
async fn a_changed_permission_set_is_provisioned_again_everywhere_it_is() {
    let api = MemoryCenter::default();
    let center = example(|t| t);
    let wanted = wanted(&center, &[DEV, PROD]);
    converge(&api, &center, &wanted, &PLAIN).await;
    let changed = example(|t| {
        t.replace("session = \"8h\"", "session = \"4h\"\nboundary = \"PowerUserAccess\"\ncustomer_policies = [\"StackBuilder\"]\ninline = { Version = \"2012-10-17\", Statement = [{ Effect = \"Allow\", Action = \"s3:GetObject\", Resource = \"arn:aws:s3:::koding/*\" }] }")
            .replace("\"IAMReadOnlyAccess\"", "\"ReadOnlyAccess\"")
    });
    let plan = converge(&api, &changed, &wanted, &PLAIN).await;
    let texts = texts(&plan);
    assert_eq!(
        texts,
        [
            "permission set `Developers`: session PT8H -> PT4H",
            "permission set `Developers`: attach ReadOnlyAccess",
            "permission set `Developers`: detach IAMReadOnlyAccess",
            "permission set `Developers`: inline policy",
            "permission set `Developers`: attach customer-managed policy StackBuilder",
            "permission set `Developers`: boundary PowerUserAccess (AWS-managed)",
            "permission set `Developers`: provision again to the 2 accounts it is in",
        ]
    );
    let state = api.lock();
    let set = &state.sets[0];
    assert!(
        set.provisioned.values().all(|v| *v == set.version),
        "{set:#?}"
    );
    assert_eq!(
        set.details.boundary,
        Some(LiveBoundary::Managed(
            "arn:aws:iam::aws:policy/PowerUserAccess".to_owned()
        ))
    );
    let provisions = state
        .calls
        .iter()
        .filter(|c| **c == "ProvisionPermissionSet")
        .count();
    assert_eq!(provisions, 1, "one call provisions every account");
}

#[tokio::test]
async fn asynchronous_requests_are_waited_for_and_a_failure_says_aws_reason() {
    let api = MemoryCenter::default();
    api.lock().polls_before_done = 2;
    let center = example(|t| t);
    let wanted = wanted(&center, &[DEV, PROD]);
    converge(&api, &center, &wanted, &PLAIN).await;
    let polls = api
        .lock()
        .calls
        .iter()
        .filter(|c| **c == "DescribeStatus")
        .count();
    assert_eq!(polls, 6, "each of two assignments polled until done");

    let api = MemoryCenter::default();
    api.lock().failing_account = Some((
        PROD.to_owned(),
        "Received a 404 status error: Not supported policy arn:aws:iam::222222222222:policy/StackBuilder".to_owned(),
    ));
    let (live, plan) = plan(&api, &center, &wanted, &PLAIN).await;
    let outcome = apply_plan(&api, &live, &plan).await;
    let (change, reason) = outcome.failed.expect("the assignment into prod fails");
    assert!(change.contains(PROD), "{change}");
    assert!(
        reason.contains("Identity Center says it failed: Received a 404"),
        "{reason}"
    );
    assert_eq!(outcome.not_run, 0, "the assignments were the last step");
    // The next plan makes only what is missing.
    api.lock().failing_account = None;
    let (_, rest) = self::plan(&api, &center, &wanted, &PLAIN).await;
    assert_eq!(
        texts(&rest),
        [format!(
            "group `Developers` gets permission set `Developers` in account {PROD}"
        )]
    );
}

#[tokio::test]
async fn a_signal_stops_the_apply_before_the_next_change() {
    let api = MemoryCenter::default();
    let center = example(|t| t);
    let wanted = wanted(&center, &[DEV]);
    let (live, plan) = plan(&api, &center, &wanted, &PLAIN).await;
    let stop = Stop::signalled(143);
    let settings = Settings {
        owner: "iamspec",
        patience: Duration::from_secs(5),
        poll: Duration::from_millis(1),
        stop: &stop,
        halt: None,
    };
    let outcome = super::apply(&api, &live, &plan, &settings, |_| {}).await;
    assert_eq!(outcome.stopped, Some(143));
    assert!(outcome.done.is_empty());
    assert_eq!(outcome.not_run, plan.changes.len());
    let made = api
        .lock()
        .calls
        .iter()
        .filter(|c| c.starts_with("Create"))
        .count();
    assert_eq!(made, 0, "nothing was made after the signal");
}

#[tokio::test]
async fn concurrent_edits_refused_are_made_again() {
    let api = MemoryCenter::default();
    let center = example(|t| t);
    let wanted = wanted(&center, &[DEV]);
    api.lock().conflicts = 3;
    converge(&api, &center, &wanted, &PLAIN).await;
    let (_, again) = plan(&api, &center, &wanted, &PLAIN).await;
    assert!(again.is_empty());
}

#[tokio::test]
async fn a_user_is_updated_in_place_and_group_members_are_exact() {
    let api = MemoryCenter::default();
    let center = example(|t| t);
    let wanted = wanted(&center, &[DEV]);
    converge(&api, &center, &wanted, &PLAIN).await;
    let renamed = example(|t| {
        t.replace(
            "display_name = \"Koding User\"",
            "display_name = \"Koding Builder\"",
        )
        .replace(
            "groups = [\"Developers\"]\n\n[identity_center.permission_sets",
            "groups = []\n\n[identity_center.permission_sets",
        )
    });
    let plan = converge(&api, &renamed, &self::wanted(&renamed, &[DEV]), &PLAIN).await;
    assert_eq!(
        texts(&plan),
        [
            "user `koding-user`: display_name \"Koding User\" -> \"Koding Builder\"",
            "user `koding-user` in group `Developers`",
        ]
    );
    assert_eq!(plan.changes[1].action, Action::Delete);
    let state = api.lock();
    assert_eq!(
        state.users[0].display_name.as_deref(),
        Some("Koding Builder")
    );
    assert!(state.memberships.is_empty());
}

fn hand_made(api: &MemoryCenter) {
    let mut state = api.lock();
    state.users.push(StoreUser {
        id: "u-idp".into(),
        name: "from-okta".into(),
        external: true,
        ..StoreUser::default()
    });
    state.users.push(StoreUser {
        id: "u-hand".into(),
        name: "by-hand".into(),
        ..StoreUser::default()
    });
    state.groups.push(StoreGroup {
        id: "g-idp".into(),
        name: "Okta-Admins".into(),
        external: true,
        ..StoreGroup::default()
    });
    for (name, owner) in [
        ("Ours", Some("iamspec")),
        ("Theirs", Some("someone")),
        ("Nobodys", None),
    ] {
        let arn = format!("arn:aws:sso:::instance/ssoins-0000000000000000/ps-{name}");
        state.sets.push(Set {
            arn: arn.clone(),
            name: name.to_owned(),
            session: 3600,
            owner: owner.map(str::to_owned),
            ..Set::default()
        });
        state.assignments.insert(LiveAssignment {
            permission_set: arn,
            account: DEV.to_owned(),
            kind: PrincipalKind::User,
            principal: "u-idp".into(),
        });
    }
}

#[tokio::test]
async fn prune_deletes_only_what_is_iamspecs_and_never_what_an_idp_provisioned() {
    let api = MemoryCenter::default();
    hand_made(&api);
    let center = example(|t| t);
    let wanted = wanted(&center, &[DEV]);
    let (_, without) = plan(&api, &center, &wanted, &PLAIN).await;
    assert!(
        without.changes.iter().all(|c| c.action != Action::Delete),
        "{:#?}",
        texts(&without)
    );
    let notes = without.notes.join("\n");
    assert!(
        notes.contains(
            "user `by-hand` is in the identity store but not in the spec: --prune deletes it"
        ),
        "{notes}"
    );
    assert!(
        !notes.contains("from-okta"),
        "an IdP's user is not iamspec's to report: {notes}"
    );
    assert!(
        api.lock().calls.iter().all(|c| *c != "ListTagsForResource"),
        "owners are read only to prune"
    );

    let pruning = Run {
        prune: true,
        untouchable: None,
    };
    let plan = converge(&api, &center, &wanted, &pruning).await;
    let deleted: Vec<&str> = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Delete)
        .map(|c| c.text.as_str())
        .collect();
    assert_eq!(
        deleted,
        [
            format!("user `from-okta` loses permission set `Ours` in account {DEV}").as_str(),
            "permission set `Ours`",
            "user `by-hand`",
        ]
    );
    let notes = plan.notes.join("\n");
    assert!(
        notes.contains("permission set `Theirs` is not in the spec and not iamspec's"),
        "{notes}"
    );
    assert!(
        notes.contains("permission set `Nobodys` is not in the spec and not iamspec's"),
        "{notes}"
    );
    let state = api.lock();
    let users: Vec<&str> = state.users.iter().map(|u| u.name.as_str()).collect();
    assert!(
        users.contains(&"from-okta") && !users.contains(&"by-hand"),
        "{users:?}"
    );
    assert!(state.groups.iter().any(|g| g.name == "Okta-Admins"));
    let sets: Vec<&str> = state.sets.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(sets, ["Theirs", "Nobodys", "Developers"]);
}

#[tokio::test]
async fn the_management_account_is_left_alone_for_a_delegated_administrator() {
    let api = MemoryCenter::default();
    let center = example(|t| t);
    let wanted = wanted(&center, &[DEV, MANAGEMENT]);
    // From the management account: both are assigned.
    converge(&api, &center, &wanted, &PLAIN).await;
    assert_eq!(api.lock().assignments.len(), 2);
    // A delegated administrator with a spec that no longer assigns anything: the management
    // account's assignment is neither made nor deleted, and the plan says why.
    let delegated = Run {
        prune: false,
        untouchable: Some(MANAGEMENT),
    };
    let none = example(|t| t.replace("ous = [\"Workloads/Dev\"]", "accounts = [\"333333333333\"]"));
    let (_, plan) = plan(
        &api,
        &none,
        &self::wanted(&none, &[DEV, MANAGEMENT]),
        &delegated,
    )
    .await;
    assert!(
        plan.changes.iter().all(|c| !c.text.contains(MANAGEMENT)),
        "{:#?}",
        texts(&plan)
    );
    assert!(
        plan.notes.iter().any(|n| n.contains(&format!(
            "assignments to the management account {MANAGEMENT} are left out"
        ))),
        "{:#?}",
        plan.notes
    );
    let (_, gone) = self::plan(&api, &none, &[], &delegated).await;
    assert_eq!(
        texts(&gone),
        [format!(
            "group `Developers` loses permission set `Developers` in account {DEV}"
        )]
    );
}

#[tokio::test]
async fn external_identities_are_looked_up_and_never_changed() {
    let api = MemoryCenter::default();
    api.lock().groups.push(StoreGroup {
        id: "g-okta".into(),
        name: "Developers".into(),
        external: true,
        ..StoreGroup::default()
    });
    let text = "version = 1\n[organization]\n[[targets]]\naccounts = [\"111111111111\"]\nspecs = [\"layer.toml\"]\n[identity_center]\nidentities = \"external\"\n[identity_center.groups.Developers]\n[identity_center.users.koding-user]\n[identity_center.permission_sets.Developers]\npolicies = [\"ReadOnlyAccess\"]\n[[identity_center.assignments]]\npermission_set = \"Developers\"\ngroups = [\"Developers\"]\nusers = [\"koding-user\"]\naccounts = [\"111111111111\"]\n";
    let center = load(text).unwrap().identity_center.unwrap();
    let wanted = wanted(&center, &[DEV]);
    let plan = converge(
        &api,
        &center,
        &wanted,
        &Run {
            prune: true,
            untouchable: None,
        },
    )
    .await;
    assert!(
        plan.changes
            .iter()
            .all(|c| c.kind != "user" && c.kind != "group" && c.kind != "membership")
    );
    assert!(
        plan.notes.iter().any(|n| n.contains(
            "user `koding-user` is not in the identity store: the IdP has not provisioned it yet"
        )),
        "{:#?}",
        plan.notes
    );
    let state = api.lock();
    assert_eq!(
        state.assignments.len(),
        1,
        "the group's, which the IdP has provisioned"
    );
    assert!(state.calls.contains(&"GetUserId") && !state.calls.contains(&"ListUsers"));
}

// The contract over generated cases.

const USERS: [&str; 3] = ["ana", "bo", "cy"];
const GROUPS: [&str; 2] = ["Developers", "Auditors"];
const SETS: [&str; 3] = ["Dev", "Read", "Admin"];
const MANAGED: [&str; 3] = [
    "/ReadOnlyAccess",
    "/AmazonEC2FullAccess",
    "/job-function/ViewOnlyAccess",
];
const ACCOUNTS: [&str; 2] = [DEV, PROD];

fn some<'a>(rng: &mut StdRng, items: &[&'a str], p: f64) -> Vec<&'a str> {
    items
        .iter()
        .copied()
        .filter(|_| rng.random_bool(p))
        .collect()
}

/// A generated `[identity_center]` and the assignments it wants.
fn generate(rng: &mut StdRng) -> (IdentityCenter, Vec<Wanted>) {
    let groups: BTreeMap<String, Group> = some(rng, &GROUPS, 0.6)
        .into_iter()
        .map(|g| {
            let description = rng.random_bool(0.5).then(|| format!("{g} team"));
            (g.to_owned(), Group { description })
        })
        .collect();
    let names: Vec<&str> = groups.keys().map(String::as_str).collect();
    let users = some(rng, &USERS, 0.6)
        .into_iter()
        .map(|u| {
            let user = User {
                display_name: Some(format!("{u} {}", rng.random_range(0..2))),
                given_name: Some(u.to_owned()),
                family_name: Some("Example".to_owned()),
                email: rng.random_bool(0.5).then(|| format!("{u}@example.com")),
                groups: some(rng, &names, 0.5)
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
            };
            (u.to_owned(), user)
        })
        .collect::<BTreeMap<_, _>>();
    let permission_sets: BTreeMap<String, PermissionSet> = some(rng, &SETS, 0.6)
        .into_iter()
        .map(|s| {
            let set = PermissionSet {
                at: Location::default(),
                description: rng.random_bool(0.5).then(|| format!("{s} access")),
                session: 3600 * rng.random_range(1..=12),
                managed: some(rng, &MANAGED, 0.5).into_iter().map(str::to_owned).collect(),
                inline: rng.random_bool(0.3).then(|| {
                    crate::document::Document::new(serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{s}/*")}]}))
                }),
                customer: if rng.random_bool(0.3) {
                    BTreeSet::from([PolicyReference { path: "/".into(), name: format!("{s}Extra") }])
                } else {
                    BTreeSet::new()
                },
                boundary: rng.random_bool(0.3).then(|| crate::spec::identity_center::Boundary::AwsManaged("/PowerUserAccess".into())),
            };
            (s.to_owned(), set)
        })
        .collect();
    let mut wanted = BTreeSet::new();
    for set in permission_sets.keys() {
        let principals = some(rng, &names, 0.5)
            .into_iter()
            .map(|g| (PrincipalKind::Group, g.to_owned()))
            .chain(
                users
                    .keys()
                    .filter(|_| rng.random_bool(0.3))
                    .map(|u| (PrincipalKind::User, u.clone())),
            )
            .collect::<Vec<_>>();
        for (kind, name) in principals {
            for account in some(rng, &ACCOUNTS, 0.6) {
                wanted.insert(Wanted {
                    set: set.clone(),
                    principal: Principal {
                        kind,
                        name: name.clone(),
                    },
                    account: account.to_owned(),
                });
            }
        }
    }
    let center = IdentityCenter {
        at: Location::default(),
        instance: None,
        identities: Identities::Iamspec,
        groups,
        users,
        permission_sets,
        assignments: Vec::new(),
        notes: Vec::new(),
    };
    (center, wanted.into_iter().collect())
}

/// Drift by hand: a policy attached, a member removed, an identity provider's user assigned.
fn drift(rng: &mut StdRng, api: &MemoryCenter) {
    let mut state = api.lock();
    state.users.push(StoreUser {
        id: "u-idp".into(),
        name: "okta-user".into(),
        external: true,
        ..StoreUser::default()
    });
    for set in &mut state.sets {
        if rng.random_bool(0.5) {
            set.details
                .managed
                .insert("arn:aws:iam::aws:policy/AdministratorAccess".into());
        }
        if rng.random_bool(0.3) {
            set.session = 7200;
        }
    }
    if rng.random_bool(0.5) && !state.memberships.is_empty() {
        state.memberships.remove(0);
    }
    let arns: Vec<String> = state.sets.iter().map(|s| s.arn.clone()).collect();
    for arn in arns {
        if rng.random_bool(0.4) {
            state.assignments.insert(LiveAssignment {
                permission_set: arn,
                account: DEV.into(),
                kind: PrincipalKind::User,
                principal: "u-idp".into(),
            });
        }
    }
}

fn check(seed: u64, prune: bool) -> Result<(), TestCaseError> {
    let mut rng = StdRng::seed_from_u64(seed);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let api = MemoryCenter::default();
    let run = Run {
        prune,
        untouchable: None,
    };
    // Another spec first (what the instance held), then drift, then the spec under test.
    let (before, before_wanted) = generate(&mut rng);
    runtime.block_on(converge(&api, &before, &before_wanted, &run));
    drift(&mut rng, &api);
    let (center, wanted) = generate(&mut rng);
    runtime.block_on(converge(&api, &center, &wanted, &run));
    let (_, again) = runtime.block_on(plan(&api, &center, &wanted, &run));
    prop_assert!(
        again.is_empty(),
        "apply then plan is not empty: {:#?}",
        texts(&again)
    );
    let state = api.lock();
    prop_assert!(
        state.users.iter().any(|u| u.name == "okta-user"),
        "an IdP's user was deleted"
    );
    for (name, set) in &center.permission_sets {
        let live = state.sets.iter().find(|s| s.name == *name).expect("made");
        prop_assert_eq!(live.details.managed.len(), set.managed.len());
        prop_assert!(
            live.provisioned.values().all(|v| *v == live.version),
            "{} not provisioned again",
            name
        );
    }
    if prune {
        for user in state.users.iter().filter(|u| !u.external) {
            prop_assert!(
                center.users.contains_key(&user.name),
                "{} left after --prune",
                user.name
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, max_shrink_iters: 0, ..ProptestConfig::default() })]

    #[test]
    fn apply_then_plan_is_empty_whatever_the_instance_held(seed in any::<u64>()) {
        check(seed, false)?;
    }

    #[test]
    fn a_prune_leaves_the_store_the_spec_and_the_idps(seed in any::<u64>()) {
        check(seed, true)?;
    }
}

#[tokio::test]
async fn a_name_taken_since_the_plan_is_explained_not_retried() {
    let api = MemoryCenter::default();
    let center = example(|t| t);
    let wanted = wanted(&center, &[DEV]);
    let (live, plan) = plan(&api, &center, &wanted, &PLAIN).await;
    // Made meanwhile, by hand or by another apply.
    api.lock().sets.push(crate::live::center::memory::Set {
        arn: "arn:aws:sso:::instance/ssoins-0000000000000000/ps-by-hand".into(),
        name: "Developers".into(),
        session: 3600,
        ..Default::default()
    });
    let outcome = apply_plan(&api, &live, &plan).await;
    let (change, reason) = outcome.failed.unwrap();
    assert_eq!(change, "permission set `Developers` (session PT8H)");
    assert!(
        reason.contains("already has a permission set named `Developers`")
            && reason.contains("run plan again"),
        "{reason}"
    );
    let tries = api
        .lock()
        .calls
        .iter()
        .filter(|c| **c == "CreatePermissionSet")
        .count();
    assert_eq!(tries, 1, "not retried");
}

#[tokio::test]
async fn a_lost_lock_halts_the_apply_before_its_next_change() {
    let api = MemoryCenter::default();
    let center = example(|t| t);
    let wanted = wanted(&center, &[DEV]);
    let (live, plan) = plan(&api, &center, &wanted, &PLAIN).await;
    let stop = Stop::never();
    let lost = std::sync::atomic::AtomicBool::new(true);
    let read = api.lock().calls.len();
    let settings = Settings {
        owner: "iamspec",
        patience: Duration::from_secs(5),
        poll: Duration::from_millis(1),
        stop: &stop,
        halt: Some(&lost),
    };
    let outcome = super::apply(&api, &live, &plan, &settings, |_| {}).await;
    assert!(outcome.halted);
    assert!(outcome.done.is_empty());
    assert_eq!(outcome.not_run, plan.changes.len());
    assert_eq!(api.lock().calls.len(), read, "no call made");
}
