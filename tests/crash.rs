//! Crash safety: an apply of a 100-user spec killed (SIGKILL) at random points, twenty times
//! over, and then run to the end. The account ends exactly as the spec says, nobody has a
//! second key, and every key either has its secret on disk or is named by the plan as one
//! whose secret was lost.

mod support;

use std::fmt::Write as _;
use std::process::Stdio;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use support::Account;

const USERS: usize = 100;
const GROUPS: usize = 10;
const KILLS: usize = 20;

fn spec() -> String {
    let mut spec = String::from("version = 1\n");
    for g in 0..GROUPS {
        let _ = write!(
            spec,
            "[groups.team{g}]\npolicies = [\"IAMReadOnlyAccess\"]\n"
        );
    }
    for u in 0..USERS {
        let _ = write!(
            spec,
            "[users.user{u:03}]\ngroups = [\"team{}\"]\naccess_key = true\n",
            u % GROUPS
        );
    }
    spec
}

#[tokio::test]
async fn applies_killed_at_random_points_end_exactly_as_the_spec_says() {
    let account = Account::new().await;
    let spec = account.spec("spec.toml", &spec());
    let spec = spec.to_str().unwrap();
    let mut rng = StdRng::seed_from_u64(20);
    for _ in 0..KILLS {
        let mut child = account
            .command(&["apply", spec, "--yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(rng.random_range(100..1500)));
        let _ = child.kill();
        child.wait().unwrap();
    }
    account.run(&["apply", spec, "--yes"]).expect(0);
    let plan = account.run(&["plan", spec, "--detailed-exitcode"]);

    let iam = account.iam();
    let users = iam.list_users().max_items(1000).send().await.unwrap();
    assert_eq!(users.users().len(), USERS);
    let mut lost = 0;
    for u in 0..USERS {
        let user = format!("user{u:03}");
        let (id, saved) = account.only_key(&user).await;
        if !saved {
            lost += 1;
            assert!(
                plan.stdout.contains(&format!(
                    "user {user} has access key {id}, made by an apply that was interrupted"
                )),
                "{user}'s key {id} has no saved secret and the plan does not say so:\n{}",
                plan.stdout
            );
        }
        let groups = iam
            .list_groups_for_user()
            .user_name(&user)
            .send()
            .await
            .unwrap();
        let names: Vec<&str> = groups
            .groups()
            .iter()
            .map(aws_sdk_iam::types::Group::group_name)
            .collect();
        assert_eq!(names, [format!("team{}", u % GROUPS)]);
    }
    assert_eq!(
        plan.stdout.matches("Warning:").count(),
        lost,
        "every warning names a key whose secret is lost"
    );
    // Nothing else to do, but a lost secret is something to do.
    plan.expect(if lost > 0 { 2 } else { 0 });
}
