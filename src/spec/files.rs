//! Reading the files a spec is made of: the spec itself and the policy documents it names.
//!
//! A spec arrives by pull request and `plan` runs on pull requests in CI, so whatever a spec
//! names is read as hostile: a document must be a regular file inside the spec's directory
//! (after symlinks are resolved), no larger than any policy document could be, and nothing is
//! read from a device, a pipe or anywhere else on the machine. Messages about such files name
//! the file and what is wrong with it, never what it contains.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::Location;

/// The largest spec file iamspec reads: a spec of every user, group and policy an account can
/// hold is a few megabytes.
pub const MAX_SPEC_BYTES: u64 = 64 << 20;

/// The largest policy document file iamspec reads. IAM's largest document is 10,240
/// characters without whitespace (a role's inline policies); this leaves room for generous
/// indentation and nothing more.
pub const MAX_DOCUMENT_BYTES: u64 = 128 << 10;

/// Why a file could not be read as text.
#[derive(Debug)]
pub(crate) enum FileError {
    /// It could not be opened or read.
    Io(io::Error),
    /// It is a directory, a device, a pipe or a socket.
    NotRegular,
    /// It is larger than `max` bytes.
    TooLarge { max: u64 },
    /// It lies outside the directory it must be in.
    Outside { resolved: PathBuf, dir: PathBuf },
    /// Its bytes are not UTF-8 from this place on.
    NotUtf8(Location),
    /// It names a variable an organization's layer cannot fill in.
    Variable(String),
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileError::Io(err) => write!(f, "{err}"),
            FileError::Variable(why) => f.write_str(why),
            FileError::NotRegular => {
                f.write_str("it is not a regular file (a directory, device, pipe or socket)")
            }
            FileError::TooLarge { max } => write!(f, "it is larger than {max} bytes"),
            FileError::Outside { resolved, dir } => write!(
                f,
                "it resolves to {}, outside the spec's directory {}; documents must lie inside it",
                resolved.display(),
                dir.display()
            ),
            FileError::NotUtf8(at) => write!(
                f,
                "it is not UTF-8 text (line {}, column {})",
                at.line, at.column
            ),
        }
    }
}

/// Reads the text of a regular file of at most `max` bytes. Nothing is opened that is not a
/// regular file (a FIFO would block, `/dev/zero` would never end), and the read stops at `max`
/// even if the file grows meanwhile.
pub(crate) fn read_text(path: &Path, max: u64) -> Result<String, FileError> {
    let meta = std::fs::metadata(path).map_err(FileError::Io)?;
    if !meta.is_file() {
        return Err(FileError::NotRegular);
    }
    if meta.len() > max {
        return Err(FileError::TooLarge { max });
    }
    let file = File::open(path).map_err(FileError::Io)?;
    // Swapped for something else between the two looks: check what was opened.
    if !file.metadata().map_err(FileError::Io)?.is_file() {
        return Err(FileError::NotRegular);
    }
    read_limited(file, max)
}

/// Reads at most `max` bytes of `reader` as UTF-8 text (the spec from standard input).
pub(crate) fn read_limited(reader: impl Read, max: u64) -> Result<String, FileError> {
    let mut bytes = Vec::new();
    reader
        .take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(FileError::Io)?;
    if bytes.len() as u64 > max {
        return Err(FileError::TooLarge { max });
    }
    String::from_utf8(bytes).map_err(|err| {
        let valid = &err.as_bytes()[..err.utf8_error().valid_up_to()];
        // Safe to decode: these bytes were just found valid.
        let before = String::from_utf8_lossy(valid);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        FileError::NotUtf8(Location::at(line, column))
    })
}

/// Resolves `relative` against `dir` and checks that the result, symlinks followed, is inside
/// `dir` (itself resolved). Returns the path as written (for messages) and the resolved one.
pub(crate) fn confine(dir: &Path, relative: &str) -> Result<(PathBuf, PathBuf), FileError> {
    let written = dir.join(relative);
    let base = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let base = base.canonicalize().map_err(FileError::Io)?;
    let resolved = written.canonicalize().map_err(FileError::Io)?;
    if resolved.starts_with(&base) {
        Ok((written, resolved))
    } else {
        Err(FileError::Outside {
            resolved,
            dir: base,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_not_utf8_is_located() {
        let err = read_limited(&b"a = 1\nb = \"\xff\"\n"[..], 100).unwrap_err();
        assert!(
            matches!(
                err,
                FileError::NotUtf8(Location {
                    file: 0,
                    line: 2,
                    column: 6
                })
            ),
            "{err:?}"
        );
    }

    #[test]
    fn reading_stops_at_the_limit() {
        let err = read_limited(std::io::repeat(b'a'), 1000).unwrap_err();
        assert!(matches!(err, FileError::TooLarge { max: 1000 }), "{err:?}");
    }

    #[test]
    fn devices_and_directories_are_not_read() {
        for path in ["/dev/zero", "/dev/null", "/"] {
            let err = read_text(Path::new(path), 1000).unwrap_err();
            assert!(matches!(err, FileError::NotRegular), "{path}: {err:?}");
        }
    }

    #[test]
    fn paths_out_of_the_directory_are_refused_symlinks_included() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("spec");
        std::fs::create_dir_all(dir.join("policies")).unwrap();
        std::fs::write(dir.join("policies/p.json"), "{}").unwrap();
        std::fs::write(root.path().join("secret.json"), "{}").unwrap();
        std::os::unix::fs::symlink(root.path().join("secret.json"), dir.join("link.json")).unwrap();
        assert!(confine(&dir, "policies/p.json").is_ok());
        assert!(confine(&dir, "policies/../policies/p.json").is_ok());
        for escape in ["../secret.json", "link.json", "/etc/passwd"] {
            let err = confine(&dir, escape).unwrap_err();
            assert!(
                matches!(err, FileError::Outside { .. }),
                "{escape}: {err:?}"
            );
        }
    }
}
