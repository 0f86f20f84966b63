//! What the integration tests share: the local IAM endpoint, a fresh account per test, the
//! `iamspec` binary run the way a user runs it, and a proxy that counts the calls it makes.
//!
//! The endpoint is moto in server mode. `scripts/with-moto.sh` starts one and exports
//! `AWS_ENDPOINT_URL`; without it the first test starts its own from `.venv` (made by
//! `scripts/setup-moto.sh`), which stops when the test binary exits. Every test gets its own
//! account (moto keeps one state per account, reached by assuming a role in it), so tests run
//! in parallel without seeing each other.

#![allow(dead_code)]

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
        let endpoint = endpoint().to_owned();
        let id = format!(
            "{:012}",
            rand::random_range(100_000_000_000u64..999_999_999_999)
        );
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
