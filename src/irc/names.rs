//! Mapping between native names and IRC names (docs/IRC.md, "Names").
//!
//! - Channel `#name` is room `name`.
//! - Native names may hold characters IRC gives a meaning to. Those are
//!   written as `\` and two lower-case hex digits of the byte: in channel
//!   names `,` `:` and `\`; in nicks `!` `@` `,` `*` `?` `:` `.` `#` `&`
//!   `$` `+` `%` `~` `\` (and a leading `-` or digit is left as is). The
//!   mapping is a bijection: IRC input is unescaped the same way, so an IRC
//!   user can address every native name and registers the name it shows.
//! - Nick sameness is ASCII case folding (`CASEMAPPING=ascii`), as natively.

use std::borrow::Cow;

/// Bytes escaped in channel names.
const CHANNEL_ESCAPED: &[u8] = b",:\\";
/// Bytes escaped in nicks.
const NICK_ESCAPED: &[u8] = b"!@,*?:.#&$+%~\\";

fn escape<'a>(name: &'a str, set: &[u8]) -> Cow<'a, str> {
    if !name.bytes().any(|b| set.contains(&b)) {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len() + 8);
    for c in name.chars() {
        if c.is_ascii() && set.contains(&(c as u8)) {
            out.push_str(&format!("\\{:02x}", c as u8));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn unescape<'a>(name: &'a str, set: &[u8]) -> Cow<'a, str> {
    if !name.contains('\\') {
        return Cow::Borrowed(name);
    }
    let b = name.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 2 < b.len()
            && let Ok(v) =
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
            && set.contains(&v)
        {
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Cow::Owned(String::from_utf8(out).unwrap_or_else(|_| name.to_owned()))
}

/// The IRC channel for a native room.
pub fn channel_of(room: &str) -> String {
    let mut s = String::with_capacity(room.len() + 1);
    s.push('#');
    s.push_str(&escape(room, CHANNEL_ESCAPED));
    s
}

/// The native room an IRC channel names, if it is a channel name we map
/// (`#` and at least one more byte).
pub fn room_of(channel: &str) -> Option<Cow<'_, str>> {
    let rest = channel.strip_prefix('#')?;
    if rest.is_empty() {
        return None;
    }
    Some(unescape(rest, CHANNEL_ESCAPED))
}

/// The IRC spelling of a native nick.
pub fn irc_nick(nick: &str) -> Cow<'_, str> {
    escape(nick, NICK_ESCAPED)
}

/// The native nick an IRC spelling names.
pub fn native_nick(nick: &str) -> Cow<'_, str> {
    unescape(nick, NICK_ESCAPED)
}

/// Whether an IRC client may register `nick` (the IRC spelling): 1..=32
/// bytes after unescaping, not starting with `#`, `&`, `:`, `$`, `+`, `%`,
/// `~`, `@` or `-` or a digit, and no space, control character, `,`, `*`,
/// `?`, `!`, `@` or `.` (those only through the `\hh` escapes).
pub fn is_valid_irc_nick(nick: &str) -> bool {
    let Some(first) = nick.bytes().next() else {
        return false;
    };
    if b"#&:$+%~@-".contains(&first) || first.is_ascii_digit() {
        return false;
    }
    if nick
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || ",*?!@.".contains(c))
    {
        return false;
    }
    let native = native_nick(nick);
    !native.is_empty() && native.len() <= crate::codec::MAX_NICK_LEN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_map_to_rooms_and_back() {
        assert_eq!(channel_of("lobby"), "#lobby");
        assert_eq!(room_of("#lobby").as_deref(), Some("lobby"));
        assert_eq!(room_of("lobby"), None);
        assert_eq!(room_of("#"), None);
        assert_eq!(channel_of("a,b:c\\d"), "#a\\2cb\\3ac\\5cd");
        assert_eq!(room_of("#a\\2cb\\3ac\\5cd").as_deref(), Some("a,b:c\\d"));
        assert_eq!(channel_of("#x"), "##x");
        assert_eq!(room_of("##x").as_deref(), Some("#x"));
        assert_eq!(room_of("#a\\zz").as_deref(), Some("a\\zz"));
        assert_eq!(room_of("#caf\u{e9}").as_deref(), Some("caf\u{e9}"));
    }

    #[test]
    fn nicks_escape_what_irc_gives_a_meaning_to() {
        assert_eq!(irc_nick("alice"), "alice");
        assert_eq!(irc_nick("bob!x@y"), "bob\\21x\\40y");
        assert_eq!(native_nick("bob\\21x\\40y"), "bob!x@y");
        for n in ["a.b", "*", "#c", "x\\y", "~q", "ok", "\u{c9}mile"] {
            assert_eq!(native_nick(&irc_nick(n)), n);
            assert!(
                is_valid_irc_nick(&irc_nick(n)) || n.starts_with(['#', '~']),
                "{n}"
            );
        }
    }

    #[test]
    fn irc_nick_rules() {
        assert!(is_valid_irc_nick("coolNick"));
        assert!(is_valid_irc_nick("[a]`_^{|}"));
        assert!(!is_valid_irc_nick("*"));
        assert!(!is_valid_irc_nick(""));
        assert!(!is_valid_irc_nick("1abc"));
        assert!(!is_valid_irc_nick("a b"));
        assert!(!is_valid_irc_nick("#chan"));
        assert!(!is_valid_irc_nick(&"n".repeat(33)));
        assert!(is_valid_irc_nick(&"n".repeat(32)));
    }
}
