//! Where new access keys go: `<dir>/<user>.csv` in the console's download format.
//!
//! The directory is private (0700) and ignores itself in git; each file is private (0600),
//! written to a temporary file, fsynced and renamed into place, and the directory is fsynced
//! too, so that when apply reports success the secret is on disk whatever happens next.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A secret access key. It cannot be printed: `Debug` and `Display` show `***`.
pub struct Secret(String);

impl Secret {
    pub fn new(secret: String) -> Self {
        Self(secret)
    }

    /// The secret itself; only for writing it to its file.
    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The header of the CSV the AWS console offers for download.
pub const CSV_HEADER: &str = "Access key ID,Secret access key";

/// The directory that receives new secrets.
#[derive(Debug, Clone)]
pub struct SecretsDir {
    dir: PathBuf,
}

impl SecretsDir {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Where the secret of `user`'s key is (or will be) written.
    pub fn path_for(&self, user: &str) -> PathBuf {
        self.dir.join(format!("{user}.csv"))
    }

    /// Writes `user`'s new key durably, replacing an older file of that user's.
    pub fn write(&self, user: &str, access_key_id: &str, secret: &Secret) -> io::Result<PathBuf> {
        self.prepare()?;
        let path = self.path_for(user);
        // tempfile creates the file with mode 0600 before anything is written to it.
        let mut file = tempfile::Builder::new()
            .prefix(".iamspec-")
            .tempfile_in(&self.dir)?;
        writeln!(file, "{CSV_HEADER}")?;
        writeln!(file, "{access_key_id},{}", secret.expose())?;
        file.as_file().sync_all()?;
        file.persist(&path).map_err(|e| e.error)?;
        fs::File::open(&self.dir)?.sync_all()?;
        Ok(path)
    }

    /// Creates the directory if needed, makes it private and keeps it out of git.
    fn prepare(&self) -> io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o700))?;
        let ignore = self.dir.join(".gitignore");
        if !ignore.exists() {
            fs::write(&ignore, "*\n")?;
        }
        Ok(())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Records, durably, that a key is about to be created for `user`, who has the keys
    /// `existing` now. If the process dies before the secret is saved, the record stays, and
    /// the next plan can say which key lost its secret.
    pub fn begin(&self, user: &str, existing: &[String]) -> io::Result<()> {
        self.prepare()?;
        let mut file = tempfile::Builder::new()
            .prefix(".iamspec-")
            .tempfile_in(&self.dir)?;
        writeln!(file, "{}", existing.join("\n"))?;
        file.as_file().sync_all()?;
        file.persist(self.pending_path(user)).map_err(|e| e.error)?;
        fs::File::open(&self.dir)?.sync_all()
    }

    /// The key's secret is saved, or no key was made: the record goes.
    pub fn end(&self, user: &str) -> io::Result<()> {
        match fs::remove_file(self.pending_path(user)) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
            _ => Ok(()),
        }
    }

    /// Keys being created when an apply died: for each user, the keys it had before and the
    /// key whose secret is saved, if any.
    pub fn pending(&self) -> io::Result<BTreeMap<String, PendingKey>> {
        let mut pending = BTreeMap::new();
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(pending),
            Err(err) => return Err(err),
        };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(user) = name.strip_prefix(PENDING_PREFIX) else {
                continue;
            };
            let before = fs::read_to_string(entry.path())?
                .lines()
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect();
            pending.insert(
                user.to_owned(),
                PendingKey {
                    before,
                    saved: self.saved_key(user),
                },
            );
        }
        Ok(pending)
    }

    /// The id of the key whose secret is saved for `user`.
    fn saved_key(&self, user: &str) -> Option<String> {
        let text = fs::read_to_string(self.path_for(user)).ok()?;
        let line = text.lines().nth(1)?;
        line.split(',').next().map(str::to_owned)
    }

    fn pending_path(&self, user: &str) -> PathBuf {
        self.dir.join(format!("{PENDING_PREFIX}{user}"))
    }
}

/// The name of a record of a key being created starts with this.
const PENDING_PREFIX: &str = ".pending-";

/// A key creation an apply did not see through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PendingKey {
    /// The user's keys before the creation.
    pub before: BTreeSet<String>,
    /// The key whose secret is saved for the user, if any.
    pub saved: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_written_privately_in_the_console_format() {
        let root = tempfile::tempdir().unwrap();
        let dir = SecretsDir::new(root.path().join("secrets"));
        let path = dir
            .write("koding-user", "AKIAEXAMPLE", &Secret::new("s3cr3t".into()))
            .unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "Access key ID,Secret access key\nAKIAEXAMPLE,s3cr3t\n"
        );
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(dir.dir()), 0o700);
        assert_eq!(
            fs::read_to_string(dir.dir().join(".gitignore")).unwrap(),
            "*\n"
        );
        let leftovers: Vec<_> = fs::read_dir(dir.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n.to_string_lossy().starts_with(".iamspec-"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    }

    #[test]
    fn a_key_being_created_is_recorded_until_its_secret_is_saved() {
        let root = tempfile::tempdir().unwrap();
        let dir = SecretsDir::new(root.path().join("secrets"));
        assert!(
            dir.pending().unwrap().is_empty(),
            "no directory, nothing pending"
        );
        dir.begin("u", &["AKIAOLD".to_owned()]).unwrap();
        let pending = dir.pending().unwrap();
        assert_eq!(
            pending["u"],
            PendingKey {
                before: BTreeSet::from(["AKIAOLD".to_owned()]),
                saved: None
            }
        );
        dir.write("u", "AKIANEW", &Secret::new("s".into())).unwrap();
        assert_eq!(
            dir.pending().unwrap()["u"].saved.as_deref(),
            Some("AKIANEW")
        );
        dir.end("u").unwrap();
        assert!(dir.pending().unwrap().is_empty());
        dir.end("u").unwrap();
    }

    #[test]
    fn a_secret_never_prints() {
        let secret = Secret::new("s3cr3t".into());
        assert_eq!(format!("{secret} {secret:?}"), "*** ***");
    }
}
