//! The settings every node of a cluster must share (CLUSTER.md 2), as a
//! list a node can show: each by its flag name with its value as text (the
//! password only as a short hash, never itself).
//!
//! The list's digest is the fingerprint each node sends in its heartbeats;
//! a starting node whose fingerprint differs from a live node's asks that
//! node for its list (request/reply on `stxchat.settings.<node id>`) so
//! that its refusal can name the settings that differ and both values.
//!
//! Wire form (bounded, versioned, decoded defensively): magic `STXS`,
//! version 1, a count (u8), then count × (str8 name, str8 value). A list
//! that does not decode (an older node, garbage) gives a typed error; the
//! caller then refuses with the plain message.

use std::fmt::Write as _;

use crate::codec::names::truncate_at_char;
use crate::codec::wire::{Reader, Truncated};

/// Settings in a list at most.
pub const MAX_SETTINGS: usize = 32;
/// Longest name or value carried (longer values are cut on a char
/// boundary; names are ours and short).
pub const MAX_FIELD: usize = 200;

const MAGIC: &[u8; 4] = b"STXS";
const VERSION: u8 = 1;

/// The shared settings of one node, in a fixed order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    entries: Vec<(String, String)>,
}

/// Why bytes are not a settings list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// Not one of ours (or empty: a node that carries none).
    #[error("not a settings list")]
    Magic,
    /// A version this build does not read.
    #[error("unknown settings list version {0}")]
    Version(u8),
    /// Cut short, too many entries, bytes left over or not UTF-8.
    #[error("truncated or malformed settings list")]
    Malformed,
}

impl From<Truncated> for SettingsError {
    fn from(_: Truncated) -> Self {
        SettingsError::Malformed
    }
}

/// One setting that differs between two nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The setting's flag name.
    pub name: String,
    /// Its value on this node (`None`: this node does not know it).
    pub here: Option<String>,
    /// Its value on the other node (`None`: that node does not know it).
    pub there: Option<String>,
}

/// The text shown for a password: `none`, or `set (sha256 …)` with the
/// first 8 hex digits of a domain-separated SHA-256 (enough to tell two
/// passwords apart; the password itself never leaves the node).
pub fn password_text(password: Option<&str>) -> String {
    match password {
        None => "none".into(),
        Some(pw) => {
            let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
            ctx.update(b"stxchat cluster password\0");
            ctx.update(pw.as_bytes());
            let d = ctx.finish();
            let mut s = String::from("set (sha256 ");
            for b in &d.as_ref()[..4] {
                let _ = write!(s, "{b:02x}");
            }
            s.push(')');
            s
        }
    }
}

impl Settings {
    /// An empty list.
    pub fn new() -> Settings {
        Settings::default()
    }

    /// Adds setting `name` with `value` (beyond [`MAX_SETTINGS`] entries
    /// nothing is added; both are cut to [`MAX_FIELD`] bytes).
    pub fn push(&mut self, name: &str, value: impl Into<String>) {
        if self.entries.len() < MAX_SETTINGS {
            let value = value.into();
            self.entries.push((
                truncate_at_char(name, MAX_FIELD).to_owned(),
                truncate_at_char(&value, MAX_FIELD).to_owned(),
            ));
        }
    }

    /// The entries, as (flag name, value).
    pub fn entries(&self) -> &[(String, String)] {
        &self.entries
    }

    /// The value of `name`, if listed.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A digest of the list (the fingerprint in heartbeats): two lists
    /// have the same one exactly when they hold the same entries in the
    /// same order (SHA-256 of length-prefixed fields, cut to 64 bits).
    pub fn fingerprint(&self) -> u64 {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        let mut field = |b: &[u8]| {
            ctx.update(&(b.len() as u64).to_be_bytes());
            ctx.update(b);
        };
        field(b"stxchat cluster settings 2");
        for (name, value) in &self.entries {
            field(name.as_bytes());
            field(value.as_bytes());
        }
        let d = ctx.finish();
        let mut b = [0u8; 8];
        b.copy_from_slice(&d.as_ref()[..8]);
        u64::from_be_bytes(b)
    }

    /// Appends the wire form to `out` (at most 6 + 32 × 402 bytes).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.push(self.entries.len() as u8);
        for (name, value) in &self.entries {
            // Both are at most MAX_FIELD (< 256) bytes: see `push`.
            out.push(name.len() as u8);
            out.extend_from_slice(name.as_bytes());
            out.push(value.len() as u8);
            out.extend_from_slice(value.as_bytes());
        }
    }

    /// Reads a wire form.
    pub fn decode(b: &[u8]) -> Result<Settings, SettingsError> {
        if b.len() < 5 || &b[..4] != MAGIC {
            return Err(SettingsError::Magic);
        }
        if b[4] != VERSION {
            return Err(SettingsError::Version(b[4]));
        }
        let mut r = Reader::new(&b[5..]);
        let count = usize::from(r.u8()?);
        if count > MAX_SETTINGS {
            return Err(SettingsError::Malformed);
        }
        let mut entries = Vec::with_capacity(count);
        for _ in 0..count {
            let name = r.str8()?.to_owned();
            let value = r.str8()?.to_owned();
            entries.push((name, value));
        }
        r.finish()?;
        Ok(Settings { entries })
    }

    /// The settings whose values differ between this list and `there`
    /// (in this list's order, then those only `there` has).
    pub fn differences(&self, there: &Settings) -> Vec<Difference> {
        let mut out = Vec::new();
        for (name, here) in &self.entries {
            let theirs = there.get(name);
            if theirs != Some(here.as_str()) {
                out.push(Difference {
                    name: name.clone(),
                    here: Some(here.clone()),
                    there: theirs.map(str::to_owned),
                });
            }
        }
        for (name, theirs) in &there.entries {
            if self.get(name).is_none() {
                out.push(Difference {
                    name: name.clone(),
                    here: None,
                    there: Some(theirs.clone()),
                });
            }
        }
        out
    }
}

/// A sentence naming each difference: `history is 7 there and 50 here`.
pub fn describe(diffs: &[Difference]) -> String {
    let show = |v: &Option<String>| match v {
        Some(v) => format!("{v:?}"),
        None => "not known".to_owned(),
    };
    diffs
        .iter()
        .map(|d| {
            format!(
                "{} is {} there and {} here",
                d.name,
                show(&d.there),
                show(&d.here)
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Settings {
        let mut s = Settings::new();
        s.push("history", "50");
        s.push("password", password_text(Some("secret")));
        s.push("default-room", "lobby");
        s
    }

    #[test]
    fn lists_round_trip() {
        let s = sample();
        let mut b = Vec::new();
        s.encode(&mut b);
        assert_eq!(Settings::decode(&b), Ok(s));
    }

    #[test]
    fn the_password_is_never_carried() {
        let mut b = Vec::new();
        sample().encode(&mut b);
        assert!(!b.windows(6).any(|w| w == b"secret"));
        let t = password_text(Some("secret"));
        assert!(t.starts_with("set (sha256 ") && t.len() == "set (sha256 )".len() + 8);
        assert_ne!(t, password_text(Some("secreT")));
        assert_eq!(password_text(None), "none");
    }

    #[test]
    fn bad_lists_are_typed_errors() {
        let mut b = Vec::new();
        sample().encode(&mut b);
        assert_eq!(Settings::decode(b""), Err(SettingsError::Magic));
        assert_eq!(Settings::decode(b"junk!"), Err(SettingsError::Magic));
        let mut v = b.clone();
        v[4] = 2;
        assert_eq!(Settings::decode(&v), Err(SettingsError::Version(2)));
        for end in 5..b.len() {
            assert_eq!(
                Settings::decode(&b[..end]),
                Err(SettingsError::Malformed),
                "cut at {end}"
            );
        }
        let mut long = b.clone();
        long.push(0);
        assert_eq!(Settings::decode(&long), Err(SettingsError::Malformed));
        let mut many = b[..5].to_vec();
        many.push(MAX_SETTINGS as u8 + 1);
        assert_eq!(Settings::decode(&many), Err(SettingsError::Malformed));
        let mut utf = Vec::new();
        utf.extend_from_slice(b"STXS\x01\x01\x01\xff\x00");
        assert_eq!(Settings::decode(&utf), Err(SettingsError::Malformed));
    }

    #[test]
    fn lists_are_bounded() {
        let mut s = Settings::new();
        for i in 0..MAX_SETTINGS + 5 {
            s.push(&format!("k{i}"), "é".repeat(300));
        }
        assert_eq!(s.entries().len(), MAX_SETTINGS);
        assert!(s.entries().iter().all(|(_, v)| v.len() <= MAX_FIELD));
        let mut b = Vec::new();
        s.encode(&mut b);
        assert_eq!(Settings::decode(&b), Ok(s));
    }

    #[test]
    fn the_fingerprint_follows_the_entries() {
        let a = sample();
        assert_eq!(a.fingerprint(), sample().fingerprint());
        let mut b = Settings::new();
        b.push("history", "7");
        b.push("password", password_text(Some("secret")));
        b.push("default-room", "lobby");
        assert_ne!(a.fingerprint(), b.fingerprint());
        // Field boundaries count: ("ab","c") is not ("a","bc").
        let mut x = Settings::new();
        x.push("ab", "c");
        let mut y = Settings::new();
        y.push("a", "bc");
        assert_ne!(x.fingerprint(), y.fingerprint());
    }

    #[test]
    fn differences_name_both_values() {
        let here = sample();
        let mut there = Settings::new();
        there.push("history", "7");
        there.push("password", password_text(Some("secret")));
        there.push("keepalive", "60");
        let d = here.differences(&there);
        assert_eq!(
            d,
            vec![
                Difference {
                    name: "history".into(),
                    here: Some("50".into()),
                    there: Some("7".into())
                },
                Difference {
                    name: "default-room".into(),
                    here: Some("lobby".into()),
                    there: None
                },
                Difference {
                    name: "keepalive".into(),
                    here: None,
                    there: Some("60".into())
                },
            ]
        );
        assert_eq!(describe(&d[..1]), "history is \"7\" there and \"50\" here");
        assert!(here.differences(&sample()).is_empty());
    }
}
