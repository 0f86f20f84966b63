//! Where new access keys go: `<dir>/<user>.csv` in the console's download format.
//!
//! Every other file of a user's has `#` after the user's name (`<user>#<key id>.csv` for a key
//! set aside, `<user>#pending` for a key being made), a character no IAM name can hold, and
//! passwords have a directory of their own, so no two users' files can ever share a name.
//!
//! The directory is private (0700) and ignores itself in git; each file is private (0600),
//! written to a temporary file, fsynced and renamed into place, and the directory is fsynced
//! too, so that when apply reports success the secret is on disk whatever happens next.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A secret access key. It cannot be printed: `Debug` and `Display` show `***`.
pub struct Secret(String);

impl Secret {
    pub fn new(secret: String) -> Self {
        Self(secret)
    }

    /// The secret itself; only for writing it to its file and sending it to IAM.
    pub(crate) fn expose(&self) -> &str {
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

/// The header of a secret's file: the columns of the CSV the AWS console offers for download
/// (which `aws configure import` reads), and the account the key belongs to.
pub const CSV_HEADER: &str = "User name,Access key ID,Secret access key,Account ID";

/// Why the secrets directory cannot receive secrets; each says how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum DirError {
    #[error("the secrets directory {} is a symbolic link: pass --secrets-dir with the real directory", .0.display())]
    Symlink(PathBuf),
    #[error("the secrets directory {} exists and is not a directory: pass another --secrets-dir", .0.display())]
    NotADirectory(PathBuf),
    #[error("the secrets directory {} can be read by others (mode {mode:03o}): run `chmod 700 {}` if it holds only secrets, or pass another --secrets-dir", path.display(), path.display())]
    NotPrivate { path: PathBuf, mode: u32 },
    #[error("the secrets directory {} is in a git work tree and git does not ignore it, so a `git add` would commit secrets: add a .gitignore containing `*` to it (or list it in the repository's .gitignore), or pass another --secrets-dir", .0.display())]
    NotIgnored(PathBuf),
    #[error("the secrets directory {} cannot be written ({source}): make it writable, or pass another --secrets-dir", path.display())]
    Unwritable {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// The directory that receives new secrets.
#[derive(Debug, Clone)]
pub struct SecretsDir {
    dir: PathBuf,
}

impl SecretsDir {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Where a file `user.csv` held is kept: `<user>#<key id>.csv` (`what` is the key id, or
    /// `previous` for a file that names none), with `-N` when that is taken.
    fn aside_path(&self, user: &str, what: &str, n: usize) -> PathBuf {
        if n == 0 {
            self.dir.join(format!("{user}{SEP}{what}.csv"))
        } else {
            self.dir.join(format!("{user}{SEP}{what}-{n}.csv"))
        }
    }

    /// Where the secret of `user`'s newest key is (or will be) written.
    pub fn path_for(&self, user: &str) -> PathBuf {
        self.dir.join(format!("{user}.csv"))
    }

    /// Makes sure secrets can be written here, before anything is changed: a directory that
    /// is missing is made private (0700) with a `.gitignore` of `*`; one that exists must be
    /// a real directory (not a symlink), private, out of git's reach, and writable. Nothing
    /// that exists is ever changed to make it so: it is refused with what to do.
    pub fn check(&self) -> Result<(), DirError> {
        let dir = &self.dir;
        let unwritable = |source| DirError::Unwritable {
            path: dir.clone(),
            source,
        };
        match fs::symlink_metadata(dir) {
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                self.create().map_err(unwritable)?;
            }
            Err(err) => return Err(unwritable(err)),
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(DirError::Symlink(dir.clone()));
            }
            Ok(meta) if !meta.is_dir() => return Err(DirError::NotADirectory(dir.clone())),
            Ok(meta) if meta.permissions().mode() & 0o077 != 0 => {
                return Err(DirError::NotPrivate {
                    path: dir.clone(),
                    mode: meta.permissions().mode() & 0o777,
                });
            }
            Ok(_) => {
                if !self.ignored_by_git() {
                    return Err(DirError::NotIgnored(dir.clone()));
                }
            }
        }
        let probe = tempfile::Builder::new()
            .prefix(".iamspec-")
            .tempfile_in(dir)
            .map_err(unwritable)?;
        probe.close().map_err(unwritable)?;
        self.migrate().map_err(unwritable)
    }

    /// Creates the directory (its parents as usual, itself 0700) and its `.gitignore`.
    fn create(&self) -> io::Result<()> {
        if let Some(parent) = self.dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent)?;
        }
        match fs::DirBuilder::new().mode(0o700).create(&self.dir) {
            Err(err) if err.kind() != io::ErrorKind::AlreadyExists => return Err(err),
            _ => {}
        }
        let mut ignore = tempfile::Builder::new()
            .prefix(".iamspec-")
            .tempfile_in(&self.dir)?;
        ignore.write_all(b"*\n")?;
        ignore.as_file().sync_all()?;
        match ignore.persist_noclobber(self.dir.join(".gitignore")) {
            Err(err) if err.error.kind() != io::ErrorKind::AlreadyExists => Err(err.error),
            _ => Ok(()),
        }
    }

    /// Whether git would leave the directory's files out of a commit: it ignores itself (the
    /// `.gitignore` of `*` iamspec writes), it is not in a git work tree, or git says so.
    fn ignored_by_git(&self) -> bool {
        let own = fs::read_to_string(self.dir.join(".gitignore"))
            .is_ok_and(|text| text.lines().any(|line| line.trim() == "*"));
        if own {
            return true;
        }
        let Ok(dir) = self.dir.canonicalize() else {
            return false;
        };
        if !dir.ancestors().any(|d| d.join(".git").exists()) {
            return true;
        }
        // Exit 0: ignored; 1: not ignored; anything else (no git): not known to be ignored.
        std::process::Command::new("git")
            .arg("-C")
            .arg(&dir)
            .args(["check-ignore", "-q", "--", "iamspec-secret.csv"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// Writes `user`'s new key of `account` durably to `<user>.csv`. A file that is there
    /// already is never replaced: it holds an older key, which may still be in IAM, so it is
    /// renamed to `<user>#<its key id>.csv` first.
    pub fn write(
        &self,
        user: &str,
        account: &str,
        access_key_id: &str,
        secret: &Secret,
    ) -> io::Result<PathBuf> {
        self.ensure()?;
        let path = self.path_for(user);
        // tempfile creates the file with mode 0600 before anything is written to it.
        let mut file = tempfile::Builder::new()
            .prefix(".iamspec-")
            .tempfile_in(&self.dir)?;
        writeln!(file, "{CSV_HEADER}")?;
        writeln!(file, "{user},{access_key_id},{},{account}", secret.expose())?;
        file.as_file().sync_all()?;
        for _ in 0..3 {
            self.set_aside(user)?;
            match file.persist_noclobber(&path) {
                Ok(_) => {
                    fs::File::open(&self.dir)?.sync_all()?;
                    return Ok(path);
                }
                // Someone wrote one meanwhile: set that aside too.
                Err(err) if err.error.kind() == io::ErrorKind::AlreadyExists => file = err.file,
                Err(err) => return Err(err.error),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} keeps reappearing", path.display()),
        ))
    }

    /// Renames `<user>.csv`, if there is one, to `<user>#<its key id>.csv`, never over another
    /// file.
    fn set_aside(&self, user: &str) -> io::Result<()> {
        let path = self.path_for(user);
        let key = match fs::read_to_string(&path) {
            Ok(text) => key_of(&text),
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(err) => return Err(err),
        };
        let what = match key {
            Some(key) if is_key_id(&key) => key,
            _ => "previous".to_owned(),
        };
        for n in 0..1000 {
            let aside = self.aside_path(user, &what, n);
            // A hard link fails rather than replace what is there; then the old name goes.
            match fs::hard_link(&path, &aside) {
                Ok(()) => return fs::remove_file(&path),
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
                Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(err) => return Err(err),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("no free name to keep {} under", path.display()),
        ))
    }

    /// Where `user`'s console password is (or will be) written: `passwords/<user>.csv`. A
    /// directory of their own, since IAM names may hold dots: no suffix beside the keys'
    /// `<user>.csv` could keep user `a.password`'s key from user `a`'s password.
    pub fn password_path(&self, user: &str) -> PathBuf {
        self.dir.join(PASSWORDS).join(format!("{user}.csv"))
    }

    /// Where the file a new password's would replace waits for IAM's answer.
    fn previous_password_path(&self, user: &str) -> PathBuf {
        self.dir
            .join(PASSWORDS)
            .join(PREVIOUS)
            .join(format!("{user}.csv"))
    }

    /// Writes `user`'s new console password durably to `passwords/<user>.csv`, before IAM is
    /// given it: a file that is there already (a password that no longer works, or one about
    /// to be refused) is kept in `passwords/previous/` until `settle_password`.
    pub fn write_password(
        &self,
        user: &str,
        account: &str,
        password: &Secret,
        sign_in_url: &str,
    ) -> io::Result<PathBuf> {
        self.ensure()?;
        let (path, previous) = (self.password_path(user), self.previous_password_path(user));
        let passwords = self.dir.join(PASSWORDS);
        for dir in [&passwords, &passwords.join(PREVIOUS)] {
            match fs::DirBuilder::new().mode(0o700).create(dir) {
                Err(err) if err.kind() != io::ErrorKind::AlreadyExists => return Err(err),
                _ => {}
            }
        }
        if fs::symlink_metadata(&path).is_ok() {
            fs::rename(&path, &previous)?;
        }
        let mut file = tempfile::Builder::new()
            .prefix(".iamspec-")
            .tempfile_in(&passwords)?;
        writeln!(file, "{PASSWORD_HEADER}")?;
        writeln!(file, "{user},{},{sign_in_url},{account}", password.expose())?;
        file.as_file().sync_all()?;
        file.persist(&path).map_err(|e| e.error)?;
        fs::File::open(&passwords)?.sync_all()?;
        Ok(path)
    }

    /// After IAM answered: a password it took replaces the previous file for good; one it
    /// refused is removed and the previous file, if any, comes back.
    pub fn settle_password(&self, user: &str, taken: bool) -> io::Result<()> {
        let (path, previous) = (self.password_path(user), self.previous_password_path(user));
        if taken {
            remove_if_there(&previous)?;
        } else {
            remove_if_there(&path)?;
            if fs::symlink_metadata(&previous).is_ok() {
                fs::rename(&previous, &path)?;
            }
        }
        fs::File::open(self.dir.join(PASSWORDS))?.sync_all()
    }

    /// A deleted console password's file goes: the path removed, if there was one.
    pub fn forget_password(&self, user: &str) -> io::Result<Option<PathBuf>> {
        let path = self.password_path(user);
        Ok(remove_if_there(&path)?.then_some(path))
    }

    /// A deleted key's secret is of no use to anyone: its file goes, whether it is kept under
    /// the key's id or is still the user's current file. Returns the files removed.
    pub fn forget_key(&self, user: &str, access_key_id: &str) -> io::Result<Vec<PathBuf>> {
        let mut removed = Vec::new();
        if is_key_id(access_key_id) {
            let aside = self.aside_path(user, access_key_id, 0);
            if remove_if_there(&aside)? {
                removed.push(aside);
            }
            // Set aside by an older iamspec, and not migrated yet: taken only if the file
            // itself says it is this user's key.
            let old = self.dir.join(format!("{user}.{access_key_id}.csv"));
            if owner_of(&old).is_some_and(|(u, k)| u == user && k == access_key_id)
                && remove_if_there(&old)?
            {
                removed.push(old);
            }
        }
        let current = self.path_for(user);
        if self.saved_key(user).as_deref() == Some(access_key_id) && remove_if_there(&current)? {
            removed.push(current);
        }
        if !removed.is_empty() {
            fs::File::open(&self.dir)?.sync_all()?;
        }
        Ok(removed)
    }

    /// Creates the directory if it went missing since `check`.
    fn ensure(&self) -> io::Result<()> {
        if fs::symlink_metadata(&self.dir).is_err() {
            self.create()?;
        }
        Ok(())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Records, durably, that a key of `account` is about to be created for `user`, who has
    /// the keys `existing` now. If the process dies before the secret is saved, the record
    /// stays, and the next plan can say which key lost its secret.
    pub fn begin(&self, user: &str, account: &str, existing: &[String]) -> io::Result<()> {
        self.ensure()?;
        let mut file = tempfile::Builder::new()
            .prefix(".iamspec-")
            .tempfile_in(&self.dir)?;
        writeln!(file, "{ACCOUNT_LINE}{account}")?;
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

    /// Keys being created when an apply died: for each user, the account, the keys it had
    /// before and the key whose secret is saved, if any.
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
            let user = match name.strip_suffix(&format!("{SEP}{PENDING}")) {
                Some(user) => user.to_owned(),
                None => match old_pending_user(&entry.path(), &name) {
                    Some(user) => user,
                    None => continue,
                },
            };
            let user = user.as_str();
            let text = fs::read_to_string(entry.path())?;
            let mut account = None;
            let mut before = BTreeSet::new();
            for line in text.lines().filter(|l| !l.is_empty()) {
                match line.strip_prefix(ACCOUNT_LINE) {
                    Some(id) => account = Some(id.to_owned()),
                    None => {
                        before.insert(line.to_owned());
                    }
                }
            }
            pending.insert(
                user.to_owned(),
                PendingKey {
                    account,
                    before,
                    saved: self.saved_key(user),
                },
            );
        }
        Ok(pending)
    }

    /// The id of the key whose secret is saved for `user`.
    fn saved_key(&self, user: &str) -> Option<String> {
        key_of(&fs::read_to_string(self.path_for(user)).ok()?)
    }

    fn pending_path(&self, user: &str) -> PathBuf {
        self.dir.join(format!("{user}{SEP}{PENDING}"))
    }

    /// Gives the files of an older iamspec, whose names two users could share, the names of
    /// this one: a set-aside key `<user>.<key id>.csv` (or `<user>.previous.csv`) becomes
    /// `<user>#<key id>.csv`, a record `.pending-<user>` becomes `<user>#pending`. Whose a
    /// file is comes from what it holds (a key's file names its user and key; a record starts
    /// with its account line), never from its name alone, so a user `a.AKIA…`'s own key is
    /// never taken for user `a`'s. Nothing is overwritten: a file whose new name is taken
    /// stays where it is, and is still read there.
    pub fn migrate(&self) -> io::Result<()> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(err) => return Err(err),
        };
        let mut moved = false;
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.contains(SEP) || !entry.file_type()?.is_file() {
                continue;
            }
            let new = if let Some(user) = old_pending_user(&entry.path(), &name) {
                format!("{user}{SEP}{PENDING}")
            } else if let Some((user, key)) = owner_of(&entry.path()) {
                match name
                    .strip_suffix(".csv")
                    .and_then(|n| n.strip_prefix(user.as_str()))
                {
                    Some(rest) if rest == format!(".{key}") => format!("{user}{SEP}{key}.csv"),
                    Some(rest) if rest.starts_with(".previous") => {
                        format!("{user}{SEP}{}.csv", &rest[1..])
                    }
                    _ => continue,
                }
            } else {
                continue;
            };
            match fs::hard_link(entry.path(), self.dir.join(&new)) {
                Ok(()) => {
                    fs::remove_file(entry.path())?;
                    moved = true;
                }
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
                Err(err) => return Err(err),
            }
        }
        if moved {
            fs::File::open(&self.dir)?.sync_all()?;
        }
        Ok(())
    }
}

/// The user a record of an older iamspec (`.pending-<user>`) is for, if the file is one: its
/// name says so and its first line is the account line (a key's file starts with its header).
fn old_pending_user(path: &Path, name: &str) -> Option<String> {
    let user = name.strip_prefix(OLD_PENDING_PREFIX)?;
    let text = fs::read_to_string(path).ok()?;
    (text.starts_with(ACCOUNT_LINE) || text.is_empty()).then(|| user.to_owned())
}

/// The user and key id a key's file holds, by its columns.
fn owner_of(path: &Path) -> Option<(String, String)> {
    let text = fs::read_to_string(path).ok()?;
    Some((column(&text, "User name")?, key_of(&text)?))
}

/// Removes a file; whether it was there.
fn remove_if_there(path: &Path) -> io::Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(err),
    }
}

/// The header of a console password's file: the columns of the CSV the AWS console offers
/// for a new console user, and the account.
pub const PASSWORD_HEADER: &str = "User name,Password,Console sign-in URL,Account ID";

/// The symbols IAM's password policy counts as symbols (a comma would break the CSV).
const SYMBOLS: &[u8] = b"!@#$%^&*()_+-=[]{}|";

/// A random console password of `length` characters (at least 4) with an upper-case and a
/// lower-case letter, a digit and a symbol: whatever the account's policy requires, it passes.
pub fn generate_password(length: u32) -> Secret {
    use rand::Rng;
    use rand::seq::SliceRandom;
    let classes: [&[u8]; 4] = [
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        b"abcdefghijklmnopqrstuvwxyz",
        b"0123456789",
        SYMBOLS,
    ];
    let all: Vec<u8> = classes.concat();
    let mut rng = rand::rng();
    let length = usize::try_from(length.max(4)).unwrap_or(128);
    let mut chars: Vec<u8> = classes
        .iter()
        .map(|class| class[rng.random_range(0..class.len())])
        .collect();
    while chars.len() < length {
        chars.push(all[rng.random_range(0..all.len())]);
    }
    chars.shuffle(&mut rng);
    Secret::new(chars.into_iter().map(char::from).collect())
}

/// The access key id in a secret's file, found by its column (files of older iamspec
/// versions have only the key id and the secret).
fn key_of(text: &str) -> Option<String> {
    column(text, "Access key ID")
}

/// The value of a secret file's first row under the header `name`.
fn column(text: &str, name: &str) -> Option<String> {
    let mut lines = text.lines();
    let at = lines.next()?.split(',').position(|c| c.trim() == name)?;
    lines.next()?.split(',').nth(at).map(str::to_owned)
}

/// Access key ids are upper-case letters and digits; anything else is not used in a name.
fn is_key_id(text: &str) -> bool {
    (16..=128).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// The subdirectory of console passwords, and of the files new ones wait to replace.
const PASSWORDS: &str = "passwords";
const PREVIOUS: &str = "previous";

/// What stands between a user's name and what a file of its holds: no IAM name has it
/// (they are letters, digits and `+=,.@_-`), so no user's file can have another user's name.
const SEP: char = '#';

/// The record of a key being created for a user is `<user>#pending`.
const PENDING: &str = "pending";

/// Older iamspec versions named that record `.pending-<user>`.
const OLD_PENDING_PREFIX: &str = ".pending-";

/// The first line of a record names the account.
const ACCOUNT_LINE: &str = "account=";

/// A key creation an apply did not see through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PendingKey {
    /// The account of the key (records of older versions do not say).
    pub account: Option<String>,
    /// The user's keys before the creation.
    pub before: BTreeSet<String>,
    /// The key whose secret is saved for the user, if any.
    pub saved: Option<String>,
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn secrets_are_written_privately_and_say_whose_they_are() {
        let root = tempfile::tempdir().unwrap();
        let dir = SecretsDir::new(root.path().join("secrets"));
        dir.check().unwrap();
        let path = dir
            .write(
                "koding-user",
                "123456789012",
                "AKIAEXAMPLE",
                &Secret::new("s3cr3t".into()),
            )
            .unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "User name,Access key ID,Secret access key,Account ID\nkoding-user,AKIAEXAMPLE,s3cr3t,123456789012\n"
        );
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
    fn an_older_secret_is_kept_under_its_key_id_never_replaced() {
        let root = tempfile::tempdir().unwrap();
        let dir = SecretsDir::new(root.path().join("secrets"));
        dir.check().unwrap();
        let secret = |s: &str| Secret::new(s.to_owned());
        dir.write("u", "111111111111", "AKIAFIRST0000000", &secret("one"))
            .unwrap();
        // A second account's key for a user of the same name, then a third key.
        dir.write("u", "222222222222", "AKIASECOND000000", &secret("two"))
            .unwrap();
        dir.write("u", "111111111111", "AKIATHIRD0000000", &secret("three"))
            .unwrap();
        let read = |name: &str| fs::read_to_string(dir.dir().join(name)).unwrap();
        assert!(read("u.csv").contains("AKIATHIRD0000000,three,111111111111"));
        assert!(read("u#AKIAFIRST0000000.csv").contains("AKIAFIRST0000000,one,111111111111"));
        assert!(read("u#AKIASECOND000000.csv").contains("AKIASECOND000000,two,222222222222"));
        // A file that names no key is kept as well.
        fs::write(dir.path_for("v"), "not a secret file").unwrap();
        dir.write("v", "111111111111", "AKIAFOURTH000000", &secret("four"))
            .unwrap();
        assert_eq!(read("v#previous.csv"), "not a secret file");
    }

    #[test]
    fn an_existing_directory_is_refused_not_changed() {
        let root = tempfile::tempdir().unwrap();
        let open = root.path().join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o755)).unwrap();
        let err = SecretsDir::new(&open).check().unwrap_err();
        assert!(
            matches!(err, DirError::NotPrivate { mode: 0o755, .. }),
            "{err}"
        );
        assert_eq!(mode(&open), 0o755, "never chmod-ed");

        let private = root.path().join("private");
        fs::create_dir(&private).unwrap();
        fs::set_permissions(&private, fs::Permissions::from_mode(0o700)).unwrap();
        let link = root.path().join("link");
        std::os::unix::fs::symlink(&private, &link).unwrap();
        let err = SecretsDir::new(&link).check().unwrap_err();
        assert!(matches!(err, DirError::Symlink(_)), "{err}");
        let dangling = root.path().join("dangling");
        std::os::unix::fs::symlink(root.path().join("nowhere"), &dangling).unwrap();
        assert!(matches!(
            SecretsDir::new(&dangling).check().unwrap_err(),
            DirError::Symlink(_)
        ));
        SecretsDir::new(&private).check().unwrap();
        assert!(!private.join(".gitignore").exists(), "nothing written");
    }

    #[test]
    fn a_directory_git_would_commit_is_refused() {
        let repo = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| {
            std::process::Command::new("git")
                .arg("-C")
                .arg(repo.path())
                .args(args)
                .output()
                .unwrap()
        };
        git(&["init", "-q"]);
        let dir = repo.path().join("keys");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        let err = SecretsDir::new(&dir).check().unwrap_err();
        assert!(matches!(err, DirError::NotIgnored(_)), "{err}");
        fs::write(repo.path().join(".gitignore"), "keys/\n").unwrap();
        SecretsDir::new(&dir).check().unwrap();
        // A missing directory is made with its own .gitignore, which git honours.
        let fresh = repo.path().join("fresh/secrets");
        SecretsDir::new(&fresh).check().unwrap();
        fs::write(fresh.join("alice.csv"), "x").unwrap();
        let status = git(&["status", "--porcelain", "--untracked-files=all"]);
        let status = String::from_utf8(status.stdout).unwrap();
        assert!(!status.contains("alice.csv"), "{status}");
    }

    #[test]
    fn an_unwritable_directory_is_found_before_any_change() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("ro");
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join(".gitignore"), "*\n").unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o500)).unwrap();
        let result = SecretsDir::new(&dir).check();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        // root may write anywhere: then the probe succeeds, as the real write would.
        let is_root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        if !is_root {
            assert!(
                matches!(result, Err(DirError::Unwritable { .. })),
                "{result:?}"
            );
        }
    }

    #[test]
    fn a_key_being_created_is_recorded_until_its_secret_is_saved() {
        let root = tempfile::tempdir().unwrap();
        let dir = SecretsDir::new(root.path().join("secrets"));
        assert!(
            dir.pending().unwrap().is_empty(),
            "no directory, nothing pending"
        );
        dir.begin("u", "123456789012", &["AKIAOLD".to_owned()])
            .unwrap();
        let pending = dir.pending().unwrap();
        assert_eq!(
            pending["u"],
            PendingKey {
                account: Some("123456789012".to_owned()),
                before: BTreeSet::from(["AKIAOLD".to_owned()]),
                saved: None
            }
        );
        dir.write("u", "123456789012", "AKIANEW", &Secret::new("s".into()))
            .unwrap();
        assert_eq!(
            dir.pending().unwrap()["u"].saved.as_deref(),
            Some("AKIANEW")
        );
        dir.end("u").unwrap();
        assert!(dir.pending().unwrap().is_empty());
        dir.end("u").unwrap();
    }

    #[test]
    fn passwords_have_every_class_and_the_length_asked() {
        for length in [4, 20, 128] {
            let password = generate_password(length);
            let text = password.expose();
            assert_eq!(text.len(), length as usize);
            assert!(text.bytes().any(|b| b.is_ascii_uppercase()));
            assert!(text.bytes().any(|b| b.is_ascii_lowercase()));
            assert!(text.bytes().any(|b| b.is_ascii_digit()));
            assert!(text.bytes().any(|b| SYMBOLS.contains(&b)));
            assert!(!text.contains(','));
        }
        assert_ne!(
            generate_password(20).expose(),
            generate_password(20).expose()
        );
    }

    #[test]
    fn a_refused_password_gives_back_the_previous_file_and_a_deleted_key_its_secret() {
        let root = tempfile::tempdir().unwrap();
        let dir = SecretsDir::new(root.path().join("secrets"));
        dir.check().unwrap();
        let url = "https://koding.signin.aws.amazon.com/console";
        let first = dir
            .write_password("u", "123456789012", &Secret::new("one".into()), url)
            .unwrap();
        assert_eq!(mode(&first), 0o600);
        dir.settle_password("u", true).unwrap();
        dir.write_password("u", "123456789012", &Secret::new("two".into()), url)
            .unwrap();
        dir.settle_password("u", false).unwrap();
        let text = fs::read_to_string(&first).unwrap();
        assert!(
            text.starts_with(PASSWORD_HEADER) && text.contains("u,one,"),
            "{text}"
        );
        assert!(
            !root
                .path()
                .join("secrets/passwords/previous/u.csv")
                .exists()
        );
        assert_eq!(mode(&root.path().join("secrets/passwords")), 0o700);
        // A user whose name ends like a password file's keeps its key apart.
        dir.write(
            "u.password",
            "1",
            "AKIAHOSTILE00000",
            &Secret::new("k".into()),
        )
        .unwrap();
        assert!(fs::read_to_string(&first).unwrap().contains("u,one,"));

        let secret = |s: &str| Secret::new(s.to_owned());
        dir.write("u", "1", "AKIAFIRST0000000", &secret("a"))
            .unwrap();
        dir.write("u", "1", "AKIASECOND000000", &secret("b"))
            .unwrap();
        let removed = dir.forget_key("u", "AKIAFIRST0000000").unwrap();
        assert_eq!(removed, vec![dir.dir().join("u#AKIAFIRST0000000.csv")]);
        assert!(dir.path_for("u").exists(), "the live key's secret stays");
        let removed = dir.forget_key("u", "AKIASECOND000000").unwrap();
        assert_eq!(removed, vec![dir.path_for("u")]);
    }

    /// Names IAM allows that look like another user's files under any naming with a dot.
    fn hostile_names() -> impl Strategy<Value = String> {
        let base = "[a-z]{1,3}";
        prop_oneof![
            base.prop_map(|b| b),
            base.prop_map(|b| format!("{b}.AKIAFIRST0000000")),
            base.prop_map(|b| format!("{b}.previous")),
            base.prop_map(|b| format!("{b}.previous-1")),
            base.prop_map(|b| format!(".pending-{b}")),
            base.prop_map(|b| format!(".pending-{b}.csv")),
            base.prop_map(|b| format!("{b}.csv")),
            Just("passwords".to_owned()),
            Just("previous".to_owned()),
            Just(".gitignore".to_owned()),
            Just("..".to_owned()),
            Just(".".to_owned()),
        ]
    }

    /// Every name a user's files can have: its key, keys set aside, its record, its password.
    fn names_of(dir: &SecretsDir, user: &str) -> Vec<PathBuf> {
        vec![
            dir.path_for(user),
            dir.aside_path(user, "AKIAFIRST0000000", 0),
            dir.aside_path(user, "previous", 0),
            dir.aside_path(user, "previous", 1),
            dir.pending_path(user),
            dir.password_path(user),
            dir.previous_password_path(user),
        ]
    }

    proptest! {
        /// Two users never share a file name, however hostile their IAM names.
        #[test]
        fn no_two_users_share_a_file_name(a in hostile_names(), b in hostile_names()) {
            prop_assume!(!a.eq_ignore_ascii_case(&b));
            let dir = SecretsDir::new("/secrets");
            let theirs = names_of(&dir, &b);
            for path in names_of(&dir, &a) {
                prop_assert!(!theirs.contains(&path), "{a} and {b} share {}", path.display());
                prop_assert!(path.starts_with("/secrets"), "{}", path.display());
            }
        }
    }

    /// Users `a` and `a.<key id>`, and `x.csv` and `.pending-x`, on one real directory: each
    /// writes, sets aside and forgets keys, and never touches the other's files.
    #[test]
    fn hostile_pairs_keep_their_own_secrets() {
        let root = tempfile::tempdir().unwrap();
        let dir = SecretsDir::new(root.path().join("secrets"));
        dir.check().unwrap();
        let secret = |s: &str| Secret::new(s.to_owned());
        for (a, b) in [("a", "a.AKIAFIRST0000000"), ("x.csv", ".pending-x")] {
            dir.write(b, "111111111111", "AKIABBBB00000000", &secret("b-only"))
                .unwrap();
            // a's first key, then a rotation that sets it aside, a record, and the old key gone.
            dir.write(a, "111111111111", "AKIAFIRST0000000", &secret("a-one"))
                .unwrap();
            dir.begin(a, "111111111111", &["AKIAFIRST0000000".to_owned()])
                .unwrap();
            dir.write(a, "111111111111", "AKIASECOND000000", &secret("a-two"))
                .unwrap();
            dir.end(a).unwrap();
            dir.forget_key(a, "AKIAFIRST0000000").unwrap();
            let theirs = fs::read_to_string(dir.path_for(b)).unwrap();
            assert!(
                theirs.contains("AKIABBBB00000000,b-only"),
                "{a} / {b}: {theirs}"
            );
            assert!(
                fs::read_to_string(dir.path_for(a))
                    .unwrap()
                    .contains("a-two")
            );
            assert!(dir.pending().unwrap().is_empty());
        }
    }

    /// The files of an older version move to the new names, by what they hold: user `u`'s key
    /// set aside, user `u.AKIA…`'s own key (which stays), a record; nothing is lost.
    #[test]
    fn an_older_directory_is_migrated_by_what_its_files_hold() {
        let root = tempfile::tempdir().unwrap();
        let dir = SecretsDir::new(root.path().join("secrets"));
        dir.check().unwrap();
        let write = |name: &str, text: &str| fs::write(dir.dir().join(name), text).unwrap();
        let key = |user: &str, id: &str| format!("{CSV_HEADER}\n{user},{id},s-{id},111111111111\n");
        write("u.csv", &key("u", "AKIASECOND000000"));
        write("u.AKIAFIRST0000000.csv", &key("u", "AKIAFIRST0000000"));
        write(
            "w.AKIAFIRST0000000.csv",
            &key("w.AKIAFIRST0000000", "AKIAOWN000000000"),
        );
        write(".pending-u", "account=111111111111\nAKIASECOND000000\n");
        // Read where it is before the move, and at its new name after it.
        assert!(dir.pending().unwrap().contains_key("u"));
        dir.check().unwrap();
        let mut names: Vec<String> = fs::read_dir(dir.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with(".gitignore"))
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "u#AKIAFIRST0000000.csv",
                "u#pending",
                "u.csv",
                "w.AKIAFIRST0000000.csv"
            ]
        );
        assert!(
            dir.pending().unwrap()["u"]
                .before
                .contains("AKIASECOND000000")
        );
        assert_eq!(
            fs::read_to_string(dir.dir().join("u#AKIAFIRST0000000.csv")).unwrap(),
            key("u", "AKIAFIRST0000000")
        );
    }

    /// Before the move, a deleted key's old set-aside file still goes with it, but only the
    /// file whose columns say it is that user's key: user `u.AKIAFIRST0000000`'s own key,
    /// under the same name, stays.
    #[test]
    fn a_deleted_key_takes_its_old_file_only_when_the_file_says_so() {
        let root = tempfile::tempdir().unwrap();
        let dir = SecretsDir::new(root.path().join("secrets"));
        dir.check().unwrap();
        let key = |user: &str, id: &str| format!("{CSV_HEADER}\n{user},{id},s,111111111111\n");
        let old = dir.dir().join("u.AKIAFIRST0000000.csv");
        fs::write(&old, key("u", "AKIAFIRST0000000")).unwrap();
        assert_eq!(
            dir.forget_key("u", "AKIAFIRST0000000").unwrap(),
            vec![old.clone()]
        );
        fs::write(&old, key("u.AKIAFIRST0000000", "AKIAOWN000000000")).unwrap();
        assert!(dir.forget_key("u", "AKIAFIRST0000000").unwrap().is_empty());
        assert!(old.exists(), "another user's key stays");
    }

    #[test]
    fn a_secret_never_prints() {
        let secret = Secret::new("s3cr3t".into());
        assert_eq!(format!("{secret} {secret:?}"), "*** ***");
    }
}
