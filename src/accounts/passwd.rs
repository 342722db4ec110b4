//! `stxchat passwd FILE NICK [--delete]`: adds, changes or removes one entry
//! of a users file, like `mosquitto_passwd`. The password is read from the
//! terminal without echo (twice), or as one line from stdin when stdin is
//! not a terminal. The file is rewritten atomically (a temporary file in the
//! same directory, then a rename), keeping its other lines and comments.

use std::io::{BufRead, IsTerminal, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::accounts::hash::{default_params, hash_password};
use crate::accounts::users::parse_line;
use crate::codec::{NameKey, is_valid_nick};

/// Flags of `stxchat passwd`.
#[derive(clap::Args, Debug, Clone)]
pub struct PasswdArgs {
    /// The users file (created if missing, mode 0600).
    pub file: PathBuf,
    /// The nick to add, change or delete.
    pub nick: String,
    /// Remove the nick instead of setting its password.
    #[arg(long)]
    pub delete: bool,
}

/// Why `stxchat passwd` failed.
#[derive(Debug, thiserror::Error)]
pub enum PasswdError {
    /// The nick is not a valid nick.
    #[error("invalid nick {0:?} (1..=32 bytes, no spaces or control characters)")]
    Nick(String),
    /// The existing file has a bad line (it is left as it is).
    #[error("{path}: line {line}: {reason}")]
    Line {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// `--delete` of a nick that is not in the file.
    #[error("{0:?} is not in the file")]
    NotListed(String),
    /// No password, or the two entries differ.
    #[error("{0}")]
    Password(&'static str),
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// Hashing failed.
    #[error("hashing failed: {0}")]
    Hash(String),
}

/// Runs `stxchat passwd`: exit 0 on success, 1 with a message otherwise.
pub fn run(args: PasswdArgs) -> ExitCode {
    let result = (|| {
        let password = if args.delete {
            None
        } else {
            Some(read_password()?)
        };
        update(&args.file, &args.nick, password.as_deref())
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stxchat passwd: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The password from the terminal (asked twice, no echo) or one stdin line.
fn read_password() -> Result<String, PasswdError> {
    let io = |source| PasswdError::Io {
        path: "<stdin>".into(),
        source,
    };
    let pw = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ").map_err(io)?;
        let again = rpassword::prompt_password("Reenter password: ").map_err(io)?;
        if first != again {
            return Err(PasswdError::Password("the passwords do not match"));
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(io)?;
        line.trim_end_matches(['\n', '\r']).to_string()
    };
    if pw.is_empty() {
        return Err(PasswdError::Password("the password is empty"));
    }
    if pw.len() > 255 {
        return Err(PasswdError::Password(
            "the password is longer than 255 bytes (a HELLO token holds at most 255)",
        ));
    }
    Ok(pw)
}

/// Sets `nick`'s password (`Some`) or removes it (`None`) in `path`.
pub fn update(path: &Path, nick: &str, password: Option<&str>) -> Result<(), PasswdError> {
    if !is_valid_nick(nick) {
        return Err(PasswdError::Nick(nick.into()));
    }
    let io = |source| PasswdError::Io {
        path: path.to_path_buf(),
        source,
    };
    let (text, mode) = match std::fs::read_to_string(path) {
        Ok(t) => {
            let mode = std::fs::metadata(path).map_err(io)?.permissions().mode() & 0o7777;
            (t, mode)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (String::new(), 0o600),
        Err(e) => return Err(io(e)),
    };
    let key = NameKey::new(nick).ok_or_else(|| PasswdError::Nick(nick.into()))?;
    let new_line = match password {
        Some(pw) => Some(format!(
            "{nick}:{}",
            hash_password(pw, &default_params()).map_err(|e| PasswdError::Hash(e.to_string()))?
        )),
        None => None,
    };
    let mut out = String::with_capacity(text.len() + 128);
    let mut found = false;
    for (i, line) in text.lines().enumerate() {
        let entry = parse_line(line).map_err(|reason| PasswdError::Line {
            path: path.to_path_buf(),
            line: i + 1,
            reason,
        })?;
        let is_it =
            entry.is_some_and(|(n, _)| NameKey::new(n).is_some_and(|k| k.as_str() == key.as_str()));
        if is_it {
            found = true;
            if let Some(l) = &new_line {
                out.push_str(l);
                out.push('\n');
            }
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    match (&new_line, found) {
        (None, false) => return Err(PasswdError::NotListed(nick.into())),
        (Some(l), false) => {
            out.push_str(l);
            out.push('\n');
        }
        _ => {}
    }
    write_atomically(path, out.as_bytes(), mode).map_err(io)
}

/// Writes `bytes` to a temporary file beside `path` with `mode`, syncs it,
/// and renames it over `path`.
fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "users".into());
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // The rename is durable once the directory is synced.
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::hash::verify_password;
    use crate::accounts::users::UserDb;

    fn tmpdir() -> PathBuf {
        let p = std::env::temp_dir().join(format!(
            "stxchat-passwd-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    #[test]
    fn adds_changes_and_deletes_keeping_other_lines() {
        let dir = tmpdir();
        let f = dir.join("users");
        std::fs::write(&f, "# operators\n\n").unwrap();
        update(&f, "alice", Some("one")).unwrap();
        update(&f, "bob", Some("two")).unwrap();
        update(&f, "ALICE", Some("three")).unwrap();
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(text.starts_with("# operators\n\n"), "{text}");
        let db = UserDb::parse(&text).unwrap();
        assert_eq!(db.len(), 2, "{text}");
        let alice = db.hash_of("alice").unwrap();
        assert!(verify_password(alice, "three"));
        assert!(!verify_password(alice, "one"));
        assert!(text.contains("ALICE:"), "the new spelling is kept: {text}");
        update(&f, "bob", None).unwrap();
        let db = UserDb::load(&f).unwrap();
        assert!(db.hash_of("bob").is_none());
        assert!(matches!(
            update(&f, "bob", None),
            Err(PasswdError::NotListed(_))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_new_file_is_private_and_a_broken_one_is_left_alone() {
        let dir = tmpdir();
        let f = dir.join("users");
        update(&f, "carol", Some("pw")).unwrap();
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        std::fs::write(&f, "carol:junk\n").unwrap();
        let e = update(&f, "dave", Some("pw")).unwrap_err();
        assert!(matches!(e, PasswdError::Line { line: 1, .. }), "{e}");
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "carol:junk\n");
        assert!(matches!(
            update(&f, "bad nick", Some("pw")),
            Err(PasswdError::Nick(_))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
