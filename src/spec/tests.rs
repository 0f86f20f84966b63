//! The loader: what a valid spec becomes, and the exact message of every kind of error.

use std::path::Path;

use super::*;

fn load_str(text: &str) -> Result<Spec, SpecError> {
    parse(text, Path::new("spec.toml"))
}

/// The error lines of an invalid spec.
fn errors(text: &str) -> Vec<String> {
    match load_str(text) {
        Ok(_) => panic!("expected errors, the spec is valid"),
        Err(SpecError::Invalid(diagnostics)) => {
            diagnostics.iter().map(ToString::to_string).collect()
        }
        Err(other) => panic!("expected an invalid spec, got {other}"),
    }
}

/// The error lines of a spec, none when it is valid.
fn errors_if_any(text: &str) -> Vec<String> {
    match load_str(text) {
        Ok(_) => Vec::new(),
        Err(_) => errors(text),
    }
}

fn one_error(text: &str) -> String {
    let errors = errors(text);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    errors.into_iter().next().unwrap()
}

const GUIDE: &str = r#"
version = 1
[account]
id = "123456789012"
[addons.storage]
policies = ["AmazonS3ReadOnlyAccess"]
[groups.Developers]
path = "/"
policies = ["AmazonEC2FullAccess", "IAMReadOnlyAccess"]
addons = ["route53"]
[users.koding-user]
path = "/"
groups = ["Developers"]
policies = []
addons = ["storage"]
access_key = true
tags = { team = "platform" }
"#;

#[test]
fn the_issue_example_loads_with_add_ons_expanded() {
    let spec = load_str(GUIDE).unwrap();
    assert_eq!(spec.account_id.as_deref(), Some("123456789012"));
    let group = &spec.groups["Developers"];
    let names: Vec<String> = group
        .policies
        .iter()
        .map(|p| p.policy.to_string())
        .collect();
    assert_eq!(
        names,
        [
            "AmazonEC2FullAccess",
            "IAMReadOnlyAccess",
            "AmazonRoute53FullAccess",
            "AmazonRoute53DomainsFullAccess"
        ]
    );
    assert_eq!(group.policies[2].via.as_deref(), Some("route53"));
    let user = &spec.users["koding-user"];
    assert_eq!(user.groups, ["Developers"]);
    assert!(user.access_key);
    assert_eq!(user.tags["team"], "platform");
    assert_eq!(
        user.policies[0].policy.to_string(),
        "AmazonS3ReadOnlyAccess"
    );
    assert_eq!(user.policies[0].at, Location::at(6, 13));
}

#[test]
fn defaults_fill_what_the_spec_leaves_out() {
    let spec = load_str("version = 1\n[users.a]\n[groups.g]\n").unwrap();
    let user = &spec.users["a"];
    assert_eq!(user.path, "/");
    assert!(!user.access_key && user.groups.is_empty() && user.tags.is_empty());
    assert_eq!(spec.groups["g"].path, "/");
    assert_eq!(spec.account_id, None);
}

#[test]
fn a_policy_named_twice_directly_and_through_an_add_on_is_attached_once() {
    let spec = load_str(
        "version = 1\n[groups.g]\npolicies = [\"AmazonRoute53FullAccess\"]\naddons = [\"route53\"]\n",
    )
    .unwrap();
    assert_eq!(spec.groups["g"].policies.len(), 2);
}

#[test]
fn syntax_errors_name_the_place() {
    assert_eq!(
        one_error("version = 1\n[users.a\n"),
        "spec.toml:2:9: unclosed table, expected `]`"
    );
}

#[test]
fn unknown_keys_suggest_the_nearest_allowed_one() {
    assert_eq!(
        one_error("version = 1\n[users.a]\npolices = []\n"),
        "spec.toml:3:1: unknown key `polices`; did you mean `policies`? (allowed here: path, groups, policies, addons, inline, access_key, console, require_mfa, boundary, tags)"
    );
    assert_eq!(
        one_error("version = 1\n[user.a]\n"),
        "spec.toml:2:2: unknown key `user`; did you mean `users`? (allowed here: version, account, policies, addons, groups, users, roles, oidc_providers, lint, checks)"
    );
}

#[test]
fn wrong_types_say_what_was_expected() {
    assert_eq!(
        one_error("version = 1\n[users.a]\naccess_key = \"yes\"\n"),
        "spec.toml:3:14: `access_key` of user `a` must be true, false or a table like { max_age = \"90d\", overlap = \"7d\" }, not the string \"yes\""
    );
    assert_eq!(
        one_error("version = 1\n[groups.g]\npolicies = \"AmazonEC2FullAccess\"\n"),
        "spec.toml:3:12: `policies` of group `g` must be a list, like [\"a\", \"b\"], not the string \"AmazonEC2FullAccess\""
    );
    assert_eq!(
        one_error("version = 1\n[users.a]\nconsole = \"yes\"\n"),
        "spec.toml:3:11: `console` of user `a` must be true or false, not the string \"yes\""
    );
    assert_eq!(
        one_error("version = 1\n[users.a]\ntags = { team = 7 }\n"),
        "spec.toml:3:17: `tags.team` of user `a` must be a string in quotes, not the number 7"
    );
}

#[test]
fn the_version_is_required_and_checked() {
    assert_eq!(
        one_error("[users.a]\n"),
        "spec.toml:1:1: the spec has no `version`: add `version = 1` at the top"
    );
    assert_eq!(
        one_error("version = 2\n"),
        "spec.toml:1:11: unsupported spec version 2: this iamspec reads version 1"
    );
}

#[test]
fn names_follow_iams_rules() {
    let long_user = "u".repeat(65);
    assert_eq!(
        one_error(&format!("version = 1\n[users.{long_user}]\n")),
        format!(
            "spec.toml:2:8: user name `{long_user}` is 65 characters long; IAM allows at most 64"
        )
    );
    let long_group = "g".repeat(129);
    assert_eq!(
        one_error(&format!("version = 1\n[groups.{long_group}]\n")),
        format!(
            "spec.toml:2:9: group name `{long_group}` is 129 characters long; IAM allows at most 128"
        )
    );
    assert_eq!(
        one_error("version = 1\n[users.\"bad name!\"]\n"),
        "spec.toml:2:8: user name `bad name!` contains ' '; IAM names allow only letters, digits and + = , . @ _ -"
    );
}

#[test]
fn names_that_differ_only_in_case_are_one_entity_to_iam() {
    assert_eq!(
        one_error("version = 1\n[users.Dev]\n[users.dev]\n"),
        "spec.toml:3:8: user names `Dev` and `dev` differ only in case; IAM treats them as the same user"
    );
}

#[test]
fn undefined_groups_and_add_ons_are_named() {
    assert_eq!(
        one_error("version = 1\n[groups.Developers]\n[users.a]\ngroups = [\"Developer\"]\n"),
        "spec.toml:4:11: group `Developer` is not defined; did you mean `Developers`? (define it as [groups.Developer])"
    );
    assert_eq!(
        one_error("version = 1\n[groups.g]\naddons = [\"route35\"]\n"),
        "spec.toml:3:11: add-on `route35` is not defined; did you mean `route53`? (known add-ons: route53; define others under [addons.NAME])"
    );
}

#[test]
fn the_built_in_add_on_cannot_be_redefined() {
    assert_eq!(
        one_error("version = 1\n[addons.route53]\npolicies = []\n"),
        "spec.toml:2:9: add-on `route53` is built in and cannot be redefined; choose another name"
    );
}

#[test]
fn paths_must_be_slash_or_slash_delimited() {
    assert_eq!(
        one_error("version = 1\n[users.a]\npath = \"koding\"\n"),
        "spec.toml:3:8: path `koding` is not valid: use `/` or `/name/.../` of printable ASCII without spaces"
    );
}

#[test]
fn malformed_arns_are_rejected() {
    assert_eq!(
        one_error("version = 1\n[groups.g]\npolicies = [\"arn:aws:iam::aws:role/X\"]\n"),
        "spec.toml:3:13: malformed policy ARN `arn:aws:iam::aws:role/X`: the resource must start with `policy/`"
    );
}

#[test]
fn the_account_id_is_twelve_digits() {
    assert_eq!(
        one_error("version = 1\n[account]\nid = \"12345\"\n"),
        "spec.toml:3:6: account id `12345` is not valid: it must be exactly 12 digits"
    );
}

#[test]
fn a_user_is_in_at_most_ten_groups() {
    let names: Vec<String> = (0..11).map(|i| format!("g{i}")).collect();
    let groups = names
        .iter()
        .map(|n| format!("[groups.{n}]\n"))
        .collect::<Vec<_>>()
        .concat();
    let text = format!("version = 1\n{groups}[users.a]\ngroups = {names:?}\n");
    assert_eq!(
        one_error(&text),
        "spec.toml:14:10: user `a` is in 11 groups; IAM allows at most 10"
    );
}

#[test]
fn policy_limits_count_add_ons() {
    let nine: Vec<String> = (0..9).map(|i| format!("P{i}")).collect();
    assert_eq!(
        one_error(&format!(
            "version = 1\n[groups.g]\npolicies = {nine:?}\naddons = [\"route53\"]\n"
        )),
        "spec.toml:3:12: group `g` has 11 managed policies (add-ons included); IAM attaches at most 10 to a group"
    );
    let nineteen: Vec<String> = (0..19).map(|i| format!("P{i}")).collect();
    assert_eq!(
        one_error(&format!(
            "version = 1\n[users.u]\npolicies = {nineteen:?}\naddons = [\"route53\"]\n"
        )),
        "spec.toml:3:12: user `u` has 21 managed policies (add-ons included); IAM attaches at most 20 to a user"
    );
}

#[test]
fn tags_follow_iams_limits() {
    let many: Vec<String> = (0..51).map(|i| format!("k{i} = \"v\"")).collect();
    assert_eq!(
        one_error(&format!(
            "version = 1\n[users.u]\ntags = {{ {} }}\n",
            many.join(", ")
        )),
        "spec.toml:3:8: 51 tags given; IAM allows at most 50 per entity"
    );
    let long_key = "k".repeat(129);
    assert_eq!(
        one_error(&format!(
            "version = 1\n[users.u]\ntags = {{ {long_key} = \"v\" }}\n"
        )),
        format!("spec.toml:3:10: tag key `{long_key}` must be 1 to 128 characters long")
    );
    let long_value = "v".repeat(257);
    assert_eq!(
        one_error(&format!(
            "version = 1\n[users.u]\ntags = {{ k = \"{long_value}\" }}\n"
        )),
        "spec.toml:3:14: the value of tag `k` is 257 characters long; IAM allows at most 256"
    );
    assert_eq!(
        one_error("version = 1\n[users.u]\ntags = { \"aws:x\" = \"v\" }\n"),
        "spec.toml:3:10: tag key `aws:x` uses the reserved prefix `aws:`"
    );
}

#[test]
fn every_problem_is_reported_at_once_in_file_order() {
    let errors = errors("version = 1\n[users.\"a b\"]\npath = \"x\"\ngroups = [\"nope\"]\n");
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert!(errors[0].starts_with("spec.toml:2:8: user name"));
    assert!(errors[1].starts_with("spec.toml:3:8: path"));
    assert!(errors[2].starts_with("spec.toml:4:11: group `nope`"));
}

#[test]
fn an_unreadable_file_says_which() {
    let err = load(Path::new("/nonexistent/spec.toml")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot read spec /nonexistent/spec.toml: No such file or directory (os error 2)"
    );
}

/// A spec in a scratch directory, with files beside it.
fn spec_with_files(
    text: &str,
    files: &[(&str, &str)],
) -> (tempfile::TempDir, Result<Spec, SpecError>) {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    let spec_path = dir.path().join("spec.toml");
    std::fs::write(&spec_path, text).unwrap();
    let result = load(&spec_path);
    (dir, result)
}

const STACK_JSON: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"}]
}"#;

#[test]
fn customer_policies_load_from_files_and_tables_and_names_refer_to_them() {
    let (_dir, spec) = spec_with_files(
        r#"version = 1
[policies.StackBuilder]
description = "What Koding stacks need beyond EC2"
path = "/koding/"
document = "policies/stack-builder.json"
[policies.Logs]
document = { Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "logs:*", Resource = "*" }] }
[groups.Developers]
policies = ["AmazonEC2FullAccess", "StackBuilder"]
inline = { deploy = "policies/stack-builder.json" }
[users.u]
inline = { own = { Version = "2012-10-17", Statement = { Effect = "Deny", Action = "iam:*", Resource = "*" } } }
"#,
        &[("policies/stack-builder.json", STACK_JSON)],
    );
    let spec = spec.unwrap();
    let stack = &spec.policies["StackBuilder"];
    assert_eq!(stack.path, "/koding/");
    assert_eq!(stack.description, "What Koding stacks need beyond EC2");
    assert_eq!(
        stack.document.json["Statement"][0]["Action"][0],
        "s3:GetObject"
    );
    assert_eq!(
        spec.policies["Logs"].document.json["Statement"][0]["Action"],
        "logs:*"
    );
    let group = &spec.groups["Developers"];
    assert_eq!(
        group.policies[1].policy,
        PolicyRef::Customer {
            name: "StackBuilder".into()
        }
    );
    assert_eq!(group.policies[0].policy.to_string(), "AmazonEC2FullAccess");
    assert_eq!(group.inline["deploy"], stack.document);
    assert_eq!(
        spec.users["u"].inline["own"].json["Statement"]["Effect"],
        "Deny"
    );
    assert!(spec.warnings.is_empty());
}

#[test]
fn a_document_file_that_is_not_json_is_reported_in_that_file() {
    let (dir, spec) = spec_with_files(
        "version = 1\n[policies.P]\ndocument = \"p.json\"\n",
        &[(
            "p.json",
            "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n}\n",
        )],
    );
    let Err(SpecError::Invalid(errors)) = spec else {
        panic!("expected an invalid spec");
    };
    assert_eq!(
        errors[0].to_string(),
        format!(
            "{}:4:1: the document of policy `P` is not valid JSON: expected value at line 4 column 1",
            dir.path().join("p.json").display()
        )
    );
}

#[test]
fn every_document_check_names_the_spec_line() {
    let cases = [
        (
            "document = \"missing.json\"",
            "spec.toml:3:12: cannot read the document of policy `P`, missing.json: No such file or directory (os error 2)",
        ),
        (
            "document = 5",
            "spec.toml:3:12: the document of policy `P` must be the path of a JSON file (a string) or an inline table, not the integer 5",
        ),
        (
            "document = { Statement = [{ Effect = \"Allow\", Action = \"s3:*\", Resource = \"*\" }] }",
            "spec.toml:3:12: the document of policy `P`: the document has no `Version`: add \"Version\": \"2012-10-17\"",
        ),
        (
            "document = { Version = \"2012-10-17\", Statement = [{ Effect = \"Allow\", Action = \"GetObject\", Resource = \"*\" }] }",
            "spec.toml:3:12: the document of policy `P`: statement 1 has action `GetObject`, which is not of the form `service:Action` (wildcards * and ? allowed)",
        ),
    ];
    for (line, expected) in cases {
        let text = format!("version = 1\n[policies.P]\n{line}\n");
        assert_eq!(one_error(&text), expected, "{line}");
    }
}

#[test]
fn risky_grants_are_warnings_that_do_not_stop_the_spec() {
    let spec = load_str(
        "version = 1\n[policies.Admin]\ndocument = { Version = \"2012-10-17\", Statement = [{ Effect = \"Allow\", Action = \"*\", Resource = \"*\" }] }\n",
    )
    .unwrap();
    let warnings: Vec<String> = spec.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            "spec.toml:3:12: the document of policy `Admin`: statement 1 allows every action on every resource (`\"Action\": \"*\"` with `\"Resource\": \"*\"`): that is administrator access"
        ]
    );
}

fn big_document(actions: usize) -> String {
    let actions: Vec<String> = (0..actions)
        .map(|i| format!("\"s3:GetObject{i:04}\""))
        .collect();
    format!(
        "{{ Version = \"2012-10-17\", Statement = [{{ Effect = \"Allow\", Action = [{}], Resource = \"*\" }}] }}",
        actions.join(", ")
    )
}

#[test]
fn document_sizes_follow_iams_limits() {
    let managed = one_error(&format!(
        "version = 1\n[policies.P]\ndocument = {}\n",
        big_document(350)
    ));
    assert!(
        managed.starts_with("spec.toml:3:12: the document of policy `P` is ")
            && managed.ends_with(
                " characters long without whitespace; IAM allows at most 6144 for a managed policy"
            ),
        "{managed}"
    );
    let user = one_error(&format!(
        "version = 1\n[users.u]\ninline = {{ a = {}, b = {} }}\n",
        big_document(60),
        big_document(60)
    ));
    assert!(
        user.starts_with("spec.toml:3:10: the inline policies of user `u` are ")
            && user.ends_with(
                " characters long together, without whitespace; IAM allows at most 2048 for a user"
            ),
        "{user}"
    );
    let group = one_error(&format!(
        "version = 1\n[groups.g]\ninline = {{ a = {}, b = {} }}\n",
        big_document(140),
        big_document(140)
    ));
    assert!(
        group.ends_with("IAM allows at most 5120 for a group"),
        "{group}"
    );
    let fits = format!(
        "version = 1\n[groups.g]\ninline = {{ a = {} }}\n",
        big_document(140)
    );
    assert!(load_str(&fits).is_ok());
}

#[test]
fn policy_names_and_descriptions_follow_iams_limits() {
    let doc = "{ Version = \"2012-10-17\", Statement = [{ Effect = \"Allow\", Action = \"s3:*\", Resource = \"*\" }] }";
    let long = "p".repeat(129);
    assert_eq!(
        one_error(&format!(
            "version = 1\n[policies.{long}]\ndocument = {doc}\n"
        )),
        format!(
            "spec.toml:2:11: policy name `{long}` is 129 characters long; IAM allows at most 128"
        )
    );
    let description = "d".repeat(1001);
    assert_eq!(
        one_error(&format!(
            "version = 1\n[policies.P]\ndescription = \"{description}\"\ndocument = {doc}\n"
        )),
        "spec.toml:3:15: the description of policy `P` is 1001 characters long; IAM allows at most 1000"
    );
    assert_eq!(
        one_error(&format!(
            "version = 1\n[policies.P]\ndocument = {doc}\n[policies.p]\ndocument = {doc}\n"
        )),
        "spec.toml:4:11: policy names `P` and `p` differ only in case; IAM treats them as the same policy"
    );
}

#[test]
fn owner_and_scope_are_checked() {
    let spec =
        load_str("version = 1\n[account]\nowner = \"koding-platform\"\nscope = \"/koding/\"\n")
            .unwrap();
    assert_eq!(spec.ownership.owner, "koding-platform");
    assert_eq!(spec.ownership.scope.as_deref(), Some("/koding/"));
    assert_eq!(
        load_str("version = 1\n").unwrap().ownership.owner,
        "iamspec"
    );
    assert!(!load_str("version = 1\n").unwrap().prune);
    assert!(
        load_str("version = 1\n[account]\nprune = true\n")
            .unwrap()
            .prune
    );
    assert_eq!(
        one_error("version = 1\n[account]\nowner = \"a|b\"\n"),
        "spec.toml:3:9: owner `a|b` is not valid: it becomes the value of the tag iamspec:owner, so it is 1 to 256 letters, digits, spaces and _ . : / = + - @"
    );
    assert_eq!(
        one_error("version = 1\n[account]\nscope = \"/\"\n"),
        "spec.toml:3:9: scope `/` would claim every user, group and policy in the account: use a path of its own, like `/koding/`"
    );
    assert_eq!(
        one_error("version = 1\n[account]\nscope = \"koding\"\n"),
        "spec.toml:3:9: path `koding` is not valid: use `/` or `/name/.../` of printable ASCII without spaces"
    );
    assert_eq!(
        one_error("version = 1\n[users.u]\ntags = { \"iamspec:owner\" = \"me\" }\n"),
        "spec.toml:3:10: tag `iamspec:owner` is iamspec's own: set it with [account] owner"
    );
}

/// The error of a spec whose one policy's document is `document`, with `files` beside it and
/// `outside` in the directory above the spec's.
fn document_error(document: &str, setup: impl FnOnce(&Path)) -> String {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("repo");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        root.path().join("credentials.json"),
        r#"{"AccessKeyId": "AKIAOUTSIDE", "SecretAccessKey": "hunter2-outside"}"#,
    )
    .unwrap();
    setup(&dir);
    let spec_path = dir.join("spec.toml");
    std::fs::write(
        &spec_path,
        format!("version = 1\n[policies.P]\ndocument = {document:?}\n"),
    )
    .unwrap();
    let err = load(&spec_path).unwrap_err().to_string();
    err.replace(&format!("{}/", root.path().display()), "ROOT/")
        .replace(
            &format!("{}/", root.path().canonicalize().unwrap().display()),
            "ROOT/",
        )
}

#[test]
fn documents_outside_the_specs_directory_are_never_read() {
    type Setup = fn(&Path);
    let cases: [(&str, Setup); 4] = [
        ("../credentials.json", |_| {}),
        ("/etc/passwd", |_| {}),
        ("link.json", |dir| {
            std::os::unix::fs::symlink(dir.join("../credentials.json"), dir.join("link.json"))
                .unwrap();
        }),
        ("policies/credentials.json", |dir| {
            std::os::unix::fs::symlink(dir.join(".."), dir.join("policies")).unwrap();
        }),
    ];
    for (document, setup) in cases {
        let err = document_error(document, setup);
        assert!(
            err.starts_with("ROOT/repo/spec.toml:3:12: cannot read the document of policy `P`")
                && err.contains(
                    "outside the spec's directory ROOT/repo; documents must lie inside it"
                ),
            "{document}: {err}"
        );
        assert!(!err.contains("AKIA") && !err.contains("hunter2"), "{err}");
    }
}

#[test]
fn devices_pipes_and_huge_files_are_refused_without_reading_them() {
    let fifo = |dir: &Path| {
        let made = std::process::Command::new("mkfifo")
            .arg(dir.join("pipe.json"))
            .status()
            .unwrap();
        assert!(made.success());
    };
    let err = document_error("pipe.json", fifo);
    assert_eq!(
        err,
        "ROOT/repo/spec.toml:3:12: cannot read the document of policy `P`, ROOT/repo/pipe.json: it is not a regular file (a directory, device, pipe or socket)"
    );
    let zero = |dir: &Path| std::os::unix::fs::symlink("/dev/zero", dir.join("zero.json")).unwrap();
    assert!(document_error("zero.json", zero).contains("outside the spec's directory"));
    let huge = |dir: &Path| {
        let file = std::fs::File::create(dir.join("huge.json")).unwrap();
        file.set_len(crate::spec::MAX_DOCUMENT_BYTES + 1).unwrap();
    };
    assert_eq!(
        document_error("huge.json", huge),
        "ROOT/repo/spec.toml:3:12: cannot read the document of policy `P`, ROOT/repo/huge.json: it is larger than 131072 bytes"
    );
}

#[test]
fn a_json_file_that_is_not_a_policy_is_named_never_quoted() {
    let copy = |dir: &Path| {
        std::fs::copy(dir.join("../credentials.json"), dir.join("creds.json")).unwrap();
    };
    assert_eq!(
        document_error("creds.json", copy),
        "ROOT/repo/spec.toml:3:12: the document of policy `P`, ROOT/repo/creds.json, is not a policy document: it has no `Statement`"
    );
}

#[test]
fn a_spec_that_is_not_utf8_is_located() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spec.toml");
    std::fs::write(
        &path,
        b"version = 1\n[users.a]\ntags = { t = \"caf\xe9\" }\n",
    )
    .unwrap();
    assert_eq!(
        load(&path).unwrap_err().to_string(),
        format!(
            "{}:3:18: the spec is not UTF-8 text from here on: save it as UTF-8",
            path.display()
        )
    );
    let err = load(Path::new("/dev/zero")).unwrap_err().to_string();
    assert_eq!(
        err,
        "cannot read spec /dev/zero: it is not a regular file (a directory, device, pipe or socket)"
    );
}

/// A spec with a GitHub provider and one role whose keys are `role`.
fn with_role(role: &str) -> String {
    format!(
        "version = 1\n[oidc_providers.github]\nurl = \"https://token.actions.githubusercontent.com\"\n[roles.r]\n{role}\n"
    )
}

#[test]
fn the_issues_roles_load_with_their_trusts_and_settings() {
    let spec = load_str(&with_role(
        "trust = { github = { provider = \"github\", repo = \"acme/app\", refs = [\"refs/heads/main\"] } }\nboundary = \"PowerUserAccess\"\nmax_session = \"2h\"\ninstance_profile = false",
    ))
    .unwrap();
    let role = &spec.roles["r"];
    assert_eq!(role.max_session, 7200);
    let Trust::Shorthand(grants) = &role.trust else {
        panic!("a shorthand trust");
    };
    assert!(
        matches!(&grants[..], [Grant::WebIdentity { provider, .. }] if provider == "token.actions.githubusercontent.com"),
        "{grants:?}"
    );
    assert_eq!(
        role.boundary.as_ref().map(|b| b.policy.to_string()),
        Some("PowerUserAccess".to_owned())
    );
    assert_eq!(
        spec.oidc_providers["github"].audiences,
        ["sts.amazonaws.com"],
        "the default audience"
    );
    assert!(spec.warnings.is_empty(), "{:?}", spec.warnings);
}

#[test]
fn trusts_that_let_anyone_in_are_refused_where_they_are_written() {
    let cases = [
        (
            "trust_document = { Version = \"2012-10-17\", Statement = [{ Effect = \"Allow\", Principal = \"*\", Action = \"sts:AssumeRole\" }] }",
            "spec.toml:5:18: the trust policy of role `r`: statement 1 lets anyone in any AWS account assume the role (`Principal` \"*\" with no `Condition`)",
        ),
        (
            "trust_document = { Version = \"2012-10-17\", Statement = [{ Effect = \"Allow\", Principal = { AWS = [\"*\"] }, Action = \"sts:AssumeRole\" }] }",
            "statement 1 lets anyone in any AWS account assume the role",
        ),
        (
            "trust = { oidc = { provider = \"github\", conditions = { StringEquals = { \"token.actions.githubusercontent.com:aud\" = \"sts.amazonaws.com\" } } } }",
            "spec.toml:5:9: the trust policy of role `r`: statement 1 lets any identity of provider token.actions.githubusercontent.com assume the role: no StringEquals or StringLike condition pins `token.actions.githubusercontent.com:sub`",
        ),
        (
            "trust = { oidc = { provider = \"github\", conditions = { StringLike = { \"token.actions.githubusercontent.com:sub\" = \"*\" } } } }",
            "spec.toml:5:9: the trust policy of role `r`: statement 1 lets any identity of provider token.actions.githubusercontent.com assume the role: its StringLike condition on `token.actions.githubusercontent.com:sub` allows \"*\"",
        ),
        (
            "trust = { github = { provider = \"github\", repo = \"acme/app\" } }",
            "the github trust of role `r` names no refs, environments or pull_request, so no workflow could assume it",
        ),
        (
            "trust = { github = { provider = \"gihtub\", repo = \"acme/app\", refs = [\"refs/heads/main\"] } }",
            "OIDC provider `gihtub` is not defined; did you mean `github`? (define it as [oidc_providers.gihtub] with its url)",
        ),
        (
            "trust = { github = { provider = \"github\", repo = \"*/app\", refs = [\"main\"] } }",
            "repo `*/app` is not OWNER/NAME",
        ),
    ];
    for (role, expected) in cases {
        let errors = errors(&with_role(role));
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{role}\n{errors:#?}"
        );
    }
}

/// A GitHub trust as `oidc` conditions: the spellings that open a role to strangers, each
/// refused naming the value, and the near misses that pin the owner, accepted.
#[test]
fn a_web_identity_trust_must_pin_the_subject_with_every_value() {
    const SUB: &str = "\"token.actions.githubusercontent.com:sub\"";
    let oidc = |conditions: &str| {
        format!("trust = {{ oidc = {{ provider = \"github\", conditions = {{ {conditions} }} }} }}")
    };
    let refused = [
        (
            format!("StringLike = {{ {SUB} = [\"repo:acme/app:ref:refs/heads/main\", \"*\"] }}"),
            "lets any identity of provider token.actions.githubusercontent.com assume the role: its StringLike condition on `token.actions.githubusercontent.com:sub` allows \"*\"",
        ),
        (
            format!("StringLike = {{ {SUB} = \"repo:acme*\" }}"),
            "lets every repository on GitHub whose owner matches it assume the role: its StringLike condition on `token.actions.githubusercontent.com:sub` allows \"repo:acme*\"",
        ),
        (
            format!("StringLike = {{ {SUB} = \"repo:*\" }}"),
            "allows \"repo:*\"",
        ),
        (
            format!(
                "\"ForAnyValue:StringLike\" = {{ {SUB} = [\"repo:acme/app:*\", \"repo:*/app:*\"] }}"
            ),
            "its ForAnyValue:StringLike condition on `token.actions.githubusercontent.com:sub` allows \"repo:*/app:*\"",
        ),
        (
            format!("StringLike = {{ {SUB} = \"job_workflow_ref:*\" }}"),
            "allows \"job_workflow_ref:*\"",
        ),
        (
            format!("Null = {{ {SUB} = \"false\" }}"),
            "no StringEquals or StringLike condition pins",
        ),
        (
            format!("StringNotEquals = {{ {SUB} = \"repo:evil/app:ref:refs/heads/main\" }}"),
            "no StringEquals or StringLike condition pins",
        ),
        (
            format!("\"ForAllValues:StringLike\" = {{ {SUB} = \"repo:acme/*\" }}"),
            "no StringEquals or StringLike condition pins",
        ),
        (
            format!("StringLikeIfExists = {{ {SUB} = \"repo:acme/*\" }}"),
            "no StringEquals or StringLike condition pins",
        ),
    ];
    for (conditions, expected) in &refused {
        let role = oidc(conditions);
        let errors = errors(&with_role(&role));
        assert!(
            errors
                .iter()
                .any(|e| e.contains(expected) && e.starts_with("spec.toml:5:9: ")),
            "{role}\n{errors:#?}"
        );
    }
    let accepted = [
        format!("StringLike = {{ {SUB} = \"repo:acme/*\" }}"),
        format!(
            "StringEquals = {{ {SUB} = [\"repo:acme/app:ref:refs/heads/main\", \"repo:acme/app:environment:prod\"] }}"
        ),
        format!("\"ForAnyValue:StringLike\" = {{ {SUB} = \"repo:acme/app:*\" }}"),
        format!("StringLike = {{ {SUB} = \"repository_owner_id:1234:*\" }}"),
    ];
    for conditions in &accepted {
        let role = oidc(conditions);
        let errors = errors_if_any(&with_role(&role));
        assert!(errors.is_empty(), "{role}\n{errors:#?}");
    }
}

/// Whole trust documents: `NotAction` that lets web identity through is held to the same
/// rule, and `Allow` with `NotPrincipal` is refused (AWS refuses it too).
#[test]
fn a_trust_document_cannot_open_the_role_through_not_action_or_not_principal() {
    let federated = "Principal = { Federated = \"arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com\" }";
    let cases = [
        (
            format!("trust_document = {{ Version = \"2012-10-17\", Statement = [{{ Effect = \"Allow\", {federated}, NotAction = \"sts:AssumeRole\" }}] }}"),
            Some("spec.toml:5:18: the trust policy of role `r`: statement 1 lets any identity of provider token.actions.githubusercontent.com assume the role: no StringEquals or StringLike condition pins"),
        ),
        (
            format!("trust_document = {{ Version = \"2012-10-17\", Statement = [{{ Effect = \"Allow\", {federated}, Action = \"sts:AssumeRoleWith*\" }}] }}"),
            Some("no StringEquals or StringLike condition pins"),
        ),
        (
            "trust_document = { Version = \"2012-10-17\", Statement = [{ Effect = \"Allow\", NotPrincipal = { AWS = \"arn:aws:iam::111111111111:root\" }, Action = \"sts:AssumeRole\" }] }".to_owned(),
            Some("statement 1 allows with `NotPrincipal`: it would let everyone but the principals it names assume the role"),
        ),
        // A near miss: NotAction that leaves web identity out grants it nothing to check.
        (
            format!("trust_document = {{ Version = \"2012-10-17\", Statement = [{{ Effect = \"Allow\", {federated}, NotAction = \"sts:AssumeRoleWith*\" }}] }}"),
            None,
        ),
    ];
    for (role, expected) in cases {
        let errors = errors_if_any(&with_role(&role));
        let pinned: Vec<&String> = errors
            .iter()
            .filter(|e| e.contains("pins") || e.contains("NotPrincipal"))
            .collect();
        match expected {
            Some(expected) => assert!(
                errors.iter().any(|e| e.contains(expected)),
                "{role}\n{errors:#?}"
            ),
            None => assert!(pinned.is_empty(), "{role}\n{errors:#?}"),
        }
    }
}

#[test]
fn role_keys_follow_iams_rules() {
    let services = "trust = { services = [\"ec2.amazonaws.com\"] }";
    let cases = [
        (
            String::new(),
            "spec.toml:4:8: role `r` says nobody may assume it: add `trust = { services = [\"ec2.amazonaws.com\"] }` (or accounts, github, oidc), or a whole `trust_document`",
        ),
        (
            format!("{services}\ntrust_document = \"t.json\""),
            "role `r` has both `trust` and `trust_document`: keep one",
        ),
        (
            format!("{services}\nmax_session = \"13h\""),
            "max_session of role `r` is `13h`; IAM allows 1h to 12h, in whole seconds",
        ),
        (
            format!("{services}\nmax_session = \"two hours\""),
            "max_session of role `r` is `two hours`, which is not a duration",
        ),
        (
            format!("{services}\nboundary = \"arn:aws:iam::123456789012:role/admin\""),
            "the boundary of role `r`, `arn:aws:iam::123456789012:role/admin`, is not a managed policy",
        ),
        (
            format!("{services}\ndescription = \"{}\"", "d".repeat(1001)),
            "the description of role `r` is 1001 characters long; IAM allows at most 1000",
        ),
        (
            format!("{services}\npath = \"/aws-service-role/x/\""),
            "path `/aws-service-role/` is where AWS keeps the roles it manages",
        ),
        (
            "trust = { mfa = true }".to_owned(),
            "mfa applies to `accounts`",
        ),
        (
            format!(
                "trust = {{ services = [{}] }}",
                (0..80)
                    .map(|i| format!("\"service{i}.amazonaws.com\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "characters long without whitespace; IAM allows 2048 unless AWS raised the account's quota",
        ),
    ];
    for (role, expected) in cases {
        let errors = errors(&with_role(&role));
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{role}\n{errors:#?}"
        );
    }
    let long = format!("version = 1\n[roles.{}]\n{services}\n", "r".repeat(65));
    assert!(
        one_error(&long).contains("role name"),
        "{}",
        one_error(&long)
    );
}

#[test]
fn an_instance_profile_no_ec2_can_use_is_a_warning() {
    let spec = load_str(&with_role(
        "trust = { accounts = [\"111111111111\"] }\ninstance_profile = true",
    ))
    .unwrap();
    assert_eq!(
        spec.warnings
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        [
            "spec.toml:4:8: role `r` has an instance profile, but its trust lets no EC2 service assume it, so no instance can use it: add `services = [\"ec2.amazonaws.com\"]` to its trust"
        ]
    );
}

#[test]
fn providers_take_https_urls_and_known_shapes() {
    let errors = errors(
        "version = 1\n[oidc_providers.a]\nurl = \"http://example.com\"\n[oidc_providers.b]\nurl = \"https://example.com\"\nthumbprints = [\"abc\"]\n",
    );
    assert_eq!(
        errors,
        [
            "spec.toml:3:7: the url of OIDC provider `a` must start with https://",
            "spec.toml:6:16: thumbprint `abc` is not a certificate's SHA-1 fingerprint: 40 hexadecimal digits"
        ]
    );
}
