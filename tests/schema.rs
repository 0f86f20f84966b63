//! The spec's JSON Schema (`iamspec schema`): generated from the loader's own types, shipped
//! as docs/iamspec.schema.json, it accepts every spec the repo ships and refuses wrong keys and
//! wrong types, both checked here and by taplo (Even Better TOML's engine) through a
//! `#:schema` line, as an editor would.

mod support;

use std::path::{Path, PathBuf};

use serde_json::Value;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn schema() -> Value {
    let run = support::iamspec(&["schema"], Path::new(env!("CARGO_MANIFEST_DIR")))
        .output()
        .unwrap();
    assert!(run.status.success());
    serde_json::from_slice(&run.stdout).unwrap()
}

/// Every TOML spec the repo ships: specs/ and examples/, at any depth.
fn shipped_specs() -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "toml")
                && !std::fs::read_to_string(&path)
                    .unwrap()
                    .lines()
                    .any(|l| l == "[organization]")
            {
                // An organization file is not a spec: it has no schema yet.
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(&repo("specs"), &mut found);
    walk(&repo("examples"), &mut found);
    found.sort();
    found
}

fn as_json(toml_text: &str) -> Value {
    toml::from_str(toml_text).expect("valid TOML")
}

/// What the schema says is wrong with `text`, one line per error.
fn errors(schema: &Value, text: &str) -> Vec<String> {
    let validator = jsonschema::draft7::new(schema).expect("a valid draft-07 schema");
    validator
        .iter_errors(&as_json(text))
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn the_shipped_schema_file_is_what_iamspec_schema_prints() {
    let shipped: Value =
        serde_json::from_str(&std::fs::read_to_string(repo("docs/iamspec.schema.json")).unwrap())
            .unwrap();
    assert_eq!(
        shipped,
        schema(),
        "docs/iamspec.schema.json is stale: run `cargo run -- schema > docs/iamspec.schema.json`"
    );
}

#[test]
fn every_shipped_spec_is_valid_under_the_schema() {
    let schema = schema();
    let specs = shipped_specs();
    assert!(specs.len() >= 6, "{specs:?}");
    for spec in specs {
        let text = std::fs::read_to_string(&spec).unwrap();
        assert_eq!(
            errors(&schema, &text),
            Vec::<String>::new(),
            "{}",
            spec.display()
        );
    }
}

#[test]
fn wrong_keys_and_wrong_types_are_refused_with_the_key_named() {
    let schema = schema();
    let cases = [
        (
            "version = 1\n[users.bob]\ngroup = [\"Developers\"]\n",
            "group",
        ),
        ("version = 1\n[users.bob]\nacess_key = true\n", "acess_key"),
        (
            "version = 1\n[users.bob]\naccess_key = \"yes\"\n",
            "/users/bob/access_key",
        ),
        (
            "version = 1\n[users.bob]\naccess_key = { max_age = \"90d\", overlapp = \"7d\" }\n",
            "overlapp",
        ),
        (
            "version = 1\n[groups.dev]\npolicies = \"ReadOnlyAccess\"\n",
            "/groups/dev/policies",
        ),
        (
            "version = 1\n[account]\nprune = \"yes\"\n",
            "/account/prune",
        ),
        ("version = 1\n[account]\nid = \"12345\"\n", "/account/id"),
        ("version = 2\n", "/version"),
        ("[users.bob]\n", "version"),
        (
            "version = 1\n[lint]\nlevels = { unknown-action = \"fatal\" }\n",
            "fatal",
        ),
        (
            "version = 1\n[roles.ci]\ntrust = { service = [\"ec2.amazonaws.com\"] }\n",
            "service",
        ),
    ];
    for (text, named) in cases {
        let found = errors(&schema, text);
        assert!(
            found.iter().any(|e| e.contains(named)),
            "{text:?} should fail naming {named:?}: {found:?}"
        );
    }
}

#[test]
fn descriptions_come_from_the_loader_types() {
    let schema = schema();
    let user = &schema["definitions"]["User"]["properties"];
    assert!(
        user["access_key"]["description"]
            .as_str()
            .unwrap()
            .contains("max_age"),
        "{user:#}"
    );
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    assert_eq!(schema["required"], serde_json::json!(["version"]));
}

/// taplo, through the `#:schema` line the README shows: what an editor with Even Better TOML
/// does as you type. scripts/with-moto.sh installs it (scripts/setup-taplo.sh).
#[test]
fn taplo_checks_a_spec_through_its_schema_line() {
    let taplo = repo(".tools/taplo/node_modules/.bin/taplo");
    assert!(
        taplo.exists(),
        "taplo is not installed: run scripts/setup-taplo.sh (scripts/with-moto.sh does)"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo("docs/iamspec.schema.json"),
        dir.path().join("iamspec.schema.json"),
    )
    .unwrap();
    let check = |name: &str, text: &str| {
        std::fs::write(
            dir.path().join(name),
            format!("#:schema ./iamspec.schema.json\n{text}"),
        )
        .unwrap();
        std::process::Command::new(&taplo)
            .args(["check", "--no-auto-config", name])
            .current_dir(dir.path())
            .env("RUST_LOG", "error")
            .output()
            .unwrap()
    };
    for spec in shipped_specs() {
        let text = std::fs::read_to_string(&spec).unwrap();
        let out = check("good.toml", &text);
        assert!(
            out.status.success(),
            "{}: {}",
            spec.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = check(
        "typo.toml",
        "version = 1\n[users.bob]\ngroup = [\"Developers\"]\n",
    );
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("'group' was unexpected"), "{said}");
}
