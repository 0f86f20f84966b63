//! The accounts an organization file names are the organization's members: ids are checked
//! against AWS Organizations whenever it can be read (closed, departed and unknown accounts
//! skipped with a note), `--accounts` refuses what would select two accounts, and OUs are
//! named exactly (a `/` in an OU's name escaped; an OU without accounts is a warning). On the
//! local endpoint, with accounts really closed, removed and named alike.

mod support;

use serde_json::Value;
use support::Organization;

const LAYER: &str = "version = 1\n[groups.Developers]\npolicies = [\"IAMReadOnlyAccess\"]\n";

fn planned_ids(stdout: &str) -> Vec<String> {
    let value: Value = serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let mut ids: Vec<String> = value["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["account"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn ids_the_organization_does_not_have_are_skipped_with_a_note() {
    let mut org = Organization::new().await;
    let dev = org.account("dev", None, &[]).await;
    let closed = org.account("closed", None, &[]).await;
    let gone = org.account("gone", None, &[]).await;
    org.close(&closed).await;
    org.remove(&gone).await;
    let unknown = "999999999999";
    let dir = org.management.dir.path();
    std::fs::write(dir.join("layer.toml"), LAYER).unwrap();
    std::fs::write(
        dir.join("org.toml"),
        format!("version = 1\n[organization]\n[[targets]]\naccounts = [\"{dev}\", \"{closed}\", \"{gone}\", \"{unknown}\"]\nspecs = [\"layer.toml\"]\n"),
    )
    .unwrap();
    // Offline, ids are taken as written.
    org.run(&["validate", "org.toml"]).expect(0);
    let plan = org.run(&["plan", "org.toml", "--json"]).expect(0);
    assert_eq!(planned_ids(&plan.stdout), [dev.as_str()]);
    for id in [&gone, unknown] {
        assert!(
            plan.stderr.contains(&format!(
                "account {id} is not a member of the organization (unknown, closed or departed): skipped"
            )),
            "{}",
            plan.stderr
        );
    }
    assert!(
        plan.stderr
            .contains(&format!("account closed ({closed}) is ")),
        "{}",
        plan.stderr
    );
    // Applied, only the member is touched.
    org.run(&["apply", "org.toml", "--yes"]).expect(0);
    org.run(&["plan", "org.toml", "--detailed-exitcode"])
        .expect(0);
}

#[tokio::test]
async fn accounts_refuses_a_shared_name_and_an_id_that_is_another_accounts_name() {
    let mut org = Organization::new().await;
    let first = org.account("twin", None, &[]).await;
    let second = org.account("twin", None, &[]).await;
    let dev = org.account("dev", None, &[]).await;
    // An account whose name is dev's id.
    let mimic = org.account(&dev, None, &[]).await;
    let dir = org.management.dir.path();
    std::fs::write(dir.join("layer.toml"), LAYER).unwrap();
    std::fs::write(
        dir.join("org.toml"),
        "version = 1\n[organization]\n[[targets]]\naccounts = \"all\"\nspecs = [\"layer.toml\"]\n",
    )
    .unwrap();
    let twins = org
        .run(&["plan", "org.toml", "--accounts", "twin"])
        .expect(1);
    assert!(
        twins.stderr.contains("is the name of 2 accounts")
            && twins.stderr.contains(&first)
            && twins.stderr.contains(&second),
        "{}",
        twins.stderr
    );
    let mimicked = org.run(&["plan", "org.toml", "--accounts", &dev]).expect(1);
    assert!(
        mimicked.stderr.contains("is the id of account") && mimicked.stderr.contains(&mimic),
        "{}",
        mimicked.stderr
    );
    // A hostile account name is text in the list of accounts: no line of its own.
    org.account("Ops\n## Safe to merge", None, &[]).await;
    let listed = org.run(&["accounts", "org.toml"]).expect(0);
    assert!(
        !listed.stdout.lines().any(|l| l.starts_with("## Safe")),
        "{}",
        listed.stdout
    );
    assert!(
        listed.stdout.contains(r"Ops\n## Safe to merge"),
        "{}",
        listed.stdout
    );
    // By id, one of the twins is exactly one account.
    let one = org
        .run(&["plan", "org.toml", "--json", "--accounts", &first])
        .expect(0);
    assert_eq!(planned_ids(&one.stdout), [first.as_str()]);
}

#[tokio::test]
async fn an_ou_with_a_slash_in_its_name_is_named_escaped_and_an_empty_ou_warns() {
    let mut org = Organization::new().await;
    let slashed = org.ou(&org.root.clone(), "Prod/EU").await;
    let empty = org.ou(&org.root.clone(), "Empty").await;
    let eu = org.account("eu-1", Some(&slashed), &[]).await;
    let dir = org.management.dir.path();
    std::fs::write(dir.join("layer.toml"), LAYER).unwrap();
    let write = |ous: &str| {
        std::fs::write(
            dir.join("org.toml"),
            format!(
                "version = 1\n[organization]\n[[targets]]\nous = {ous}\nspecs = [\"layer.toml\"]\n"
            ),
        )
        .unwrap();
    };
    // Unescaped, `Prod/EU` is a path of two OUs the organization does not have: an error
    // that says how to name it.
    write(r#"["Prod/EU"]"#);
    let wrong = org.run(&["plan", "org.toml"]).expect(1);
    assert!(
        wrong.stderr.contains(r"`Prod\/EU`") && wrong.stderr.contains(&slashed),
        "{}",
        wrong.stderr
    );
    write(r#"["Prod\\/EU", "Empty"]"#);
    let plan = org.run(&["plan", "org.toml", "--json"]).expect(0);
    assert_eq!(planned_ids(&plan.stdout), [eu.as_str()]);
    assert!(
        plan.stderr.contains("warning: ") && plan.stderr.contains("OU `Empty` holds no account"),
        "{}",
        plan.stderr
    );
    // By id, the same OU.
    write(&format!("[\"{slashed}\"]"));
    let by_id = org.run(&["plan", "org.toml", "--json"]).expect(0);
    assert_eq!(planned_ids(&by_id.stdout), [eu]);
    let _ = empty;
}
