//! The node's name (`--node`): what operators read in logs, the admin
//! channel, `stxchat top` and the `node` label of every metric. A name is
//! for people; the cluster identifies nodes by their `NodeId`.

use crate::codec::names::truncate_at_char;

/// The longest node name, in bytes.
pub const MAX_NODE_NAME: usize = 64;

/// Why a node name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeNameError {
    /// The name is empty.
    #[error("the node name is empty")]
    Empty,
    /// The name is longer than [`MAX_NODE_NAME`] bytes.
    #[error("the node name is {0} bytes long (at most {MAX_NODE_NAME})")]
    TooLong(usize),
    /// The name holds a control character or white space.
    #[error("the node name may not contain white space or control characters")]
    BadChar,
}

/// Checks a node name: 1 to [`MAX_NODE_NAME`] bytes of UTF-8 without
/// white space or control characters (so it reads as one word in logs and
/// in `top`).
pub fn check(name: &str) -> Result<(), NodeNameError> {
    if name.is_empty() {
        return Err(NodeNameError::Empty);
    }
    if name.len() > MAX_NODE_NAME {
        return Err(NodeNameError::TooLong(name.len()));
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(NodeNameError::BadChar);
    }
    Ok(())
}

/// The clap value parser of `--node`.
pub fn parse(s: &str) -> Result<String, String> {
    check(s).map(|()| s.to_owned()).map_err(|e| e.to_string())
}

/// The default node name: this machine's host name and the process id,
/// `HOST-PID` (`stxchat-PID` when the host name cannot be read or is not a
/// valid name).
pub fn default_name() -> String {
    default_from(host_name().as_deref(), std::process::id())
}

fn default_from(host: Option<&str>, pid: u32) -> String {
    let suffix = format!("-{pid}");
    let host = host
        .filter(|h| check(h).is_ok())
        .map(|h| truncate_at_char(h, MAX_NODE_NAME - suffix.len()))
        .unwrap_or("stxchat");
    format!("{host}{suffix}")
}

/// The host name (`gethostname`), if the system gives one.
fn host_name() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for `buf.len()` bytes; gethostname writes
    // at most that many and we read only up to the first NUL within it.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = std::str::from_utf8(&buf[..len]).ok()?;
    (!name.is_empty()).then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert_eq!(check("a"), Ok(()));
        assert_eq!(check("node-1.eu/β"), Ok(()));
        assert_eq!(check(""), Err(NodeNameError::Empty));
        assert_eq!(check("a b"), Err(NodeNameError::BadChar));
        assert_eq!(check("a\u{7}"), Err(NodeNameError::BadChar));
        assert_eq!(check(&"x".repeat(64)), Ok(()));
        assert_eq!(check(&"x".repeat(65)), Err(NodeNameError::TooLong(65)));
        assert!(parse("").unwrap_err().contains("empty"));
    }

    #[test]
    fn default_is_host_and_pid_and_always_valid() {
        assert_eq!(default_from(Some("box"), 42), "box-42");
        assert_eq!(default_from(None, 7), "stxchat-7");
        assert_eq!(default_from(Some("bad host"), 7), "stxchat-7");
        let long = "é".repeat(40);
        let d = default_from(Some(&long), 123_456);
        assert!(d.ends_with("-123456") && d.len() <= MAX_NODE_NAME, "{d}");
        assert_eq!(check(&d), Ok(()));
        let real = default_name();
        assert_eq!(check(&real), Ok(()));
        assert!(
            real.ends_with(&format!("-{}", std::process::id())),
            "{real}"
        );
    }
}
