//! The users file (`--users FILE`): one `nick:<PHC string>` per line
//! (argon2id), `#` comments and blank lines allowed. Parsed whole; a bad
//! line is refused with its line number.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::codec::{NameKey, is_valid_nick};

/// Why a users file was refused.
#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    /// The file could not be read.
    #[error("cannot read users file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A line is not `nick:<argon2id PHC string>`.
    #[error("{path}: line {line}: {reason}")]
    Line {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
}

/// The registered nicks and their password hashes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserDb {
    /// Case-folded nick (as nicks are compared) to PHC string.
    hashes: HashMap<Box<str>, Arc<str>>,
}

impl UserDb {
    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<UserDb, UsersError> {
        let text = std::fs::read_to_string(path).map_err(|source| UsersError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        UserDb::parse(&text).map_err(|(line, reason)| UsersError::Line {
            path: path.to_path_buf(),
            line,
            reason,
        })
    }

    /// Parses the file's text; `Err((line, reason))` for the first bad line.
    pub fn parse(text: &str) -> Result<UserDb, (usize, String)> {
        let mut db = UserDb::default();
        let mut first_line: HashMap<Box<str>, usize> = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            let Some((nick, phc)) = parse_line(line).map_err(|r| (n, r))? else {
                continue;
            };
            let key = fold(nick).ok_or((n, format!("invalid nick {nick:?}")))?;
            if let Some(prev) = first_line.insert(key.clone(), n) {
                return Err((n, format!("nick {nick:?} is already listed on line {prev}")));
            }
            db.hashes.insert(key, Arc::from(phc));
        }
        Ok(db)
    }

    /// The PHC string of `nick`, if it is registered (compared as nicks are).
    pub fn hash_of(&self, nick: &str) -> Option<&Arc<str>> {
        let key = NameKey::new(nick)?;
        self.hashes.get(key.as_str())
    }

    /// How many nicks are registered.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Whether no nick is registered.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }
}

/// The case-folded key of a valid nick.
fn fold(nick: &str) -> Option<Box<str>> {
    if !is_valid_nick(nick) {
        return None;
    }
    NameKey::new(nick).map(|k| k.as_str().into())
}

/// One line: `Ok(None)` for a blank or comment line, else `(nick, phc)`,
/// the PHC string checked to be argon2id with valid parameters.
pub(crate) fn parse_line(line: &str) -> Result<Option<(&str, &str)>, String> {
    let t = line.trim_end_matches('\r');
    if t.trim().is_empty() || t.trim_start().starts_with('#') {
        return Ok(None);
    }
    // A nick may hold ':' but a PHC string never does: split at the last.
    let Some((nick, phc)) = t.rsplit_once(':') else {
        return Err("expected nick:<argon2id hash> (no ':' found)".into());
    };
    if !is_valid_nick(nick) {
        return Err(format!(
            "invalid nick {nick:?} (1..=32 bytes, no spaces or control characters)"
        ));
    }
    check_phc(phc)?;
    Ok(Some((nick, phc)))
}

/// Checks that `phc` is an argon2id PHC string argon2 can verify against.
fn check_phc(phc: &str) -> Result<(), String> {
    let hash = argon2::PasswordHash::new(phc)
        .map_err(|e| format!("not a PHC hash string ({e}): make one with `stxchat passwd`"))?;
    if hash.algorithm != argon2::Algorithm::Argon2id.ident() {
        return Err(format!(
            "hash algorithm is {}, expected argon2id",
            hash.algorithm
        ));
    }
    argon2::Params::try_from(&hash).map_err(|e| format!("bad argon2 parameters: {e}"))?;
    if hash.hash.is_none() || hash.salt.is_none() {
        return Err("the PHC string has no salt or no hash".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::hash::{cheap_params, hash_password};

    #[test]
    fn parses_entries_comments_and_blank_lines() {
        let a = hash_password("pw-a", &cheap_params()).unwrap();
        let b = hash_password("pw-b", &cheap_params()).unwrap();
        let text = format!("# users\n\nAlice:{a}\r\n  # more\nb:o:b:{b}\n");
        let db = UserDb::parse(&text).unwrap();
        assert_eq!(db.len(), 2);
        assert_eq!(db.hash_of("alice").map(|h| &**h), Some(a.as_str()));
        assert_eq!(db.hash_of("ALICE").map(|h| &**h), Some(a.as_str()));
        assert_eq!(db.hash_of("b:o:b").map(|h| &**h), Some(b.as_str()));
        assert!(db.hash_of("carol").is_none());
    }

    #[test]
    fn bad_lines_are_refused_with_their_number() {
        let a = hash_password("pw", &cheap_params()).unwrap();
        let cases = [
            (format!("a:{a}\nnocolon\n"), 2, "no ':'"),
            (format!("\n\nbad nick:{a}\n"), 3, "invalid nick"),
            ("a:notahash\n".to_string(), 1, "PHC"),
            (
                format!("a:{}\n", a.replacen("$argon2id$", "$argon2i$", 1)),
                1,
                "argon2id",
            ),
            (format!("a:{a}\nA:{a}\n"), 2, "line 1"),
            (":x\n".into(), 1, "invalid nick"),
        ];
        for (text, line, word) in cases {
            let (n, reason) = UserDb::parse(&text).unwrap_err();
            assert_eq!(n, line, "{text:?}: {reason}");
            assert!(reason.contains(word), "{text:?}: {reason}");
        }
    }
}
