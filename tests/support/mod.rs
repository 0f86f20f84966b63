//! What the integration tests share: the local IAM endpoint, a fresh account per test, the
//! `iamspec` binary run the way a user runs it, and a proxy that counts the calls it makes.
//!
//! The endpoint is moto in server mode. `scripts/with-moto.sh` starts one and exports
//! `AWS_ENDPOINT_URL`; without it the first test starts its own from `.venv` (made by
//! `scripts/setup-moto.sh`), which stops when the test binary exits. Every test gets its own
//! account (moto keeps one state per account, reached by assuming a role in it), so tests run
//! in parallel without seeing each other.

#![allow(dead_code)]

pub mod center;
pub mod proxy;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_sdk_iam::config::{BehaviorVersion, Credentials, Region};

/// The local endpoint's URL, started on first use.
pub fn endpoint() -> &'static str {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT.get_or_init(|| match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) if url.starts_with("http://127.0.0.1") || url.starts_with("http://localhost") => {
            url
        }
        _ => start_moto(),
    })
}

/// Starts moto behind a shell that kills it when our end of its stdin closes, which happens
/// when this process exits, however it exits.
fn start_moto() -> String {
    static GUARD: OnceLock<Mutex<(Child, ChildStdin)>> = OnceLock::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let server = root.join(".venv/bin/moto_server");
    assert!(
        server.exists(),
        "the local IAM endpoint is not installed: run scripts/setup-moto.sh (or scripts/test.sh)"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "MOTO_IAM_LOAD_MANAGED_POLICIES=true '{}' -H 127.0.0.1 -p {port} >/dev/null 2>&1 & pid=$!; read _; kill $pid",
            server.display()
        ))
        .stdin(Stdio::piped())
        .spawn()
        .expect("start moto_server");
    let stdin = child.stdin.take().expect("moto's stdin");
    GUARD.set(Mutex::new((child, stdin))).ok();
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "moto did not start on {url}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    url
}

/// A fresh, empty account on the local endpoint, and a scratch directory to run in.
pub struct Account {
    pub id: String,
    pub endpoint: String,
    pub dir: tempfile::TempDir,
    credentials: Credentials,
}

impl Account {
    /// Assumes a role in a new random account: moto gives each account its own IAM.
    pub async fn new() -> Self {
        let id = format!(
            "{:012}",
            rand::random_range(100_000_000_000u64..999_999_999_999)
        );
        Self::at(&id).await
    }

    /// Reaches the account `id` (of an organization a test made, say) through a role in it.
    pub async fn at(id: &str) -> Self {
        let id = id.to_owned();
        let endpoint = endpoint().to_owned();
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("us-east-1"))
                .endpoint_url(&endpoint)
                .credentials_provider(Credentials::new("test", "test", None, None, "test"))
                .build(),
        );
        let assumed = sts
            .assume_role()
            .role_arn(format!("arn:aws:iam::{id}:role/iamspec-test"))
            .role_session_name("iamspec-test")
            .send()
            .await
            .expect("assume a role in a fresh account");
        let c = assumed.credentials().expect("credentials");
        Self {
            id,
            endpoint,
            dir: tempfile::tempdir().expect("a scratch directory"),
            credentials: Credentials::new(
                c.access_key_id(),
                c.secret_access_key(),
                Some(c.session_token().to_owned()),
                None,
                "assumed",
            ),
        }
    }

    /// The credentials that reach this account.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// An IAM client for this account, for changes made behind iamspec's back and for
    /// reading back what it did.
    pub fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::from_conf(
            aws_sdk_iam::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("us-east-1"))
                .endpoint_url(&self.endpoint)
                .credentials_provider(self.credentials.clone())
                .build(),
        )
    }

    /// Whether `user` exists in this account.
    pub async fn user_exists(&self, user: &str) -> bool {
        self.iam().get_user().user_name(user).send().await.is_ok()
    }

    /// `user`'s access keys: each id, and whether it is active.
    pub async fn keys(&self, user: &str) -> Vec<(String, bool)> {
        let out = self
            .iam()
            .list_access_keys()
            .user_name(user)
            .send()
            .await
            .unwrap();
        out.access_key_metadata()
            .iter()
            .map(|k| {
                let active = k.status() == Some(&aws_sdk_iam::types::StatusType::Active);
                (k.access_key_id().unwrap().to_owned(), active)
            })
            .collect()
    }

    /// The id of `user`'s one access key, and whether its secret is saved in `secrets/`.
    /// Panics when the user has no key or more than one.
    pub async fn only_key(&self, user: &str) -> (String, bool) {
        let keys = self.keys(user).await;
        let [(id, _)] = keys.as_slice() else {
            panic!("{user} must have exactly one key: {keys:?}");
        };
        let id = id.clone();
        let saved = std::fs::read_to_string(self.dir.path().join(format!("secrets/{user}.csv")))
            .is_ok_and(|csv| csv.contains(&id));
        (id, saved)
    }

    /// The ARN of the apply lock of the default owner in this account.
    pub fn lock_arn(&self) -> String {
        format!(
            "arn:aws:iam::{}:policy/iamspec-lock/iamspec-lock-iamspec",
            self.id
        )
    }

    /// Whether an apply holds (or left) the lock of the default owner.
    pub async fn lock_held(&self) -> bool {
        self.iam()
            .list_policy_tags()
            .policy_arn(self.lock_arn())
            .send()
            .await
            .is_ok()
    }

    /// Writes a spec into the scratch directory.
    pub fn spec(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write the spec");
        path
    }

    /// `iamspec ARGS` against this account, with no terminal.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_via(&self.endpoint, args)
    }

    /// `iamspec ARGS` against this account, through `endpoint` (a proxy, say).
    pub fn run_via(&self, endpoint: &str, args: &[&str]) -> Run {
        let mut command = self.command(args);
        command.env("AWS_ENDPOINT_URL", endpoint);
        Run::from(command.output().expect("run iamspec"))
    }

    /// Starts `iamspec ARGS` against this account through `endpoint`, its output piped, for
    /// tests that run two at once.
    pub fn spawn_via(&self, endpoint: &str, args: &[&str]) -> Child {
        let mut command = self.command(args);
        command
            .env("AWS_ENDPOINT_URL", endpoint)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command.spawn().expect("start iamspec")
    }

    /// The command line, ready to run, with this account's credentials.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = iamspec(args, self.dir.path());
        command
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", self.credentials.access_key_id())
            .env(
                "AWS_SECRET_ACCESS_KEY",
                self.credentials.secret_access_key(),
            )
            .env(
                "AWS_SESSION_TOKEN",
                self.credentials.session_token().unwrap_or_default(),
            );
        command
    }
}

/// An AWS Organization on the local endpoint: its management account (whose credentials run
/// iamspec), and accounts made in it, by name.
pub struct Organization {
    pub management: Account,
    pub accounts: std::collections::BTreeMap<String, String>,
    pub root: String,
    client: aws_sdk_organizations::Client,
}

impl Organization {
    /// Creates an organization whose management account is a fresh account.
    pub async fn new() -> Self {
        let management = Account::new().await;
        let client = aws_sdk_organizations::Client::from_conf(
            aws_sdk_organizations::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("us-east-1"))
                .endpoint_url(&management.endpoint)
                .credentials_provider(management.credentials().clone())
                .build(),
        );
        client
            .create_organization()
            .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
            .send()
            .await
            .expect("create an organization");
        let root = client.list_roots().send().await.expect("roots").roots()[0]
            .id()
            .expect("a root id")
            .to_owned();
        Self {
            management,
            accounts: std::collections::BTreeMap::new(),
            root,
            client,
        }
    }

    /// Makes an OU under `parent` (an OU id or the root's); returns its id.
    pub async fn ou(&self, parent: &str, name: &str) -> String {
        self.client
            .create_organizational_unit()
            .parent_id(parent)
            .name(name)
            .send()
            .await
            .expect("create an OU")
            .organizational_unit()
            .and_then(|o| o.id())
            .expect("an OU id")
            .to_owned()
    }

    /// Makes an account named `name` in the OU `ou` (None: under the root), with `tags`.
    pub async fn account(&mut self, name: &str, ou: Option<&str>, tags: &[(&str, &str)]) -> String {
        let status = self
            .client
            .create_account()
            .account_name(name)
            .email(format!("{name}@example.com"))
            .send()
            .await
            .expect("create an account");
        let id = status
            .create_account_status()
            .and_then(|s| s.account_id())
            .expect("an account id")
            .to_owned();
        if let Some(ou) = ou {
            self.move_account(&id, &self.root.clone(), ou).await;
        }
        for (key, value) in tags {
            self.client
                .tag_resource()
                .resource_id(&id)
                .tags(
                    aws_sdk_organizations::types::Tag::builder()
                        .key(*key)
                        .value(*value)
                        .build()
                        .expect("a tag"),
                )
                .send()
                .await
                .expect("tag an account");
        }
        self.accounts.insert(name.to_owned(), id.clone());
        id
    }

    /// Moves an account from one parent to another.
    pub async fn move_account(&self, id: &str, from: &str, to: &str) {
        self.client
            .move_account()
            .account_id(id)
            .source_parent_id(from)
            .destination_parent_id(to)
            .send()
            .await
            .expect("move an account");
    }

    /// Closes an account (AWS Organizations then lists it as suspended or closing).
    pub async fn close(&self, id: &str) {
        self.client
            .close_account()
            .account_id(id)
            .send()
            .await
            .expect("close an account");
    }

    /// Takes an account out of the organization, as an account that left it.
    pub async fn remove(&self, id: &str) {
        self.client
            .remove_account_from_organization()
            .account_id(id)
            .send()
            .await
            .expect("remove an account");
    }

    /// The id of the account named `name`.
    pub fn id(&self, name: &str) -> &str {
        &self.accounts[name]
    }

    /// The account named `name`, reached through a role in it, to read back what iamspec did.
    pub async fn member(&self, name: &str) -> Account {
        Account::at(self.id(name)).await
    }

    /// `iamspec ARGS` with the management account's credentials.
    pub fn run(&self, args: &[&str]) -> Run {
        self.management.run(args)
    }
}

/// A YAML file (a GitHub Actions workflow) as JSON, parsed by `PyYAML` from the local
/// endpoint's virtualenv.
pub fn yaml(path: &Path) -> serde_json::Value {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    let out = Command::new(python)
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        ])
        .arg(path)
        .output()
        .expect("python with PyYAML (scripts/setup-moto.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// One of the repo's specs/ files.
pub fn repo_spec(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("specs")
        .join(name)
}

/// `iamspec ARGS` in `dir` with a clean AWS environment: no profile, no credentials, no
/// ~/.aws, no instance metadata, no terminal.
pub fn iamspec(args: &[&str], dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_iamspec"));
    command.args(args).current_dir(dir).stdin(Stdio::null());
    for (key, _) in std::env::vars() {
        if key.starts_with("AWS_") || key.starts_with("IAMSPEC_") {
            command.env_remove(key);
        }
    }
    command
        .env("HOME", dir)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1");
    command
}

/// A finished run of the binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Asserts the exit code, showing everything the run printed if it differs.
    #[track_caller]
    pub fn expect(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        self
    }
}

/// Writes `text` to a fresh file and returns its path (for specs outside an account).
pub fn write_temp(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    let mut file = std::fs::File::create(&path).expect("create");
    file.write_all(text.as_bytes()).expect("write");
    path
}
