//! Name (nick, room) and text rules, PROTOCOL.md section 2.

/// Longest nick, in bytes.
pub const MAX_NICK_LEN: usize = 32;
/// Longest room name, in bytes.
pub const MAX_ROOM_LEN: usize = 64;
/// Bytes of a MESSAGE or PRIVATE payload besides the two names and the text.
pub const CHAT_OVERHEAD: usize = 22;

fn is_valid_name(name: &str, max: usize) -> bool {
    !name.is_empty()
        && name.len() <= max
        && !name.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A nick: 1..=32 bytes, no Unicode White_Space, no control (Cc) code point.
pub fn is_valid_nick(nick: &str) -> bool {
    is_valid_name(nick, MAX_NICK_LEN)
}

/// A room name: 1..=64 bytes, no Unicode White_Space, no control code point.
pub fn is_valid_room(room: &str) -> bool {
    is_valid_name(room, MAX_ROOM_LEN)
}

/// Text: at least one byte; LF and TAB allowed, other control code points not.
/// (The length limit depends on the names: see [`max_message_text`].)
pub fn is_valid_text(text: &str) -> bool {
    // Cc is U+0000..=U+001F, U+007F and U+0080..=U+009F; in UTF-8 the last
    // range is 0xC2 followed by 0x80..=0x9F. The check looks at each byte
    // and the one after it as two equal-length slices, with no bounds checks
    // or early exits, so the compiler vectorises it (texts are long, and
    // checked per SAY; a profile showed the scalar version at 13 % of server
    // time for 1 KiB texts).
    let b = text.as_bytes();
    let Some((&last, _)) = b.split_last() else {
        return false;
    };
    // `&` and `|`, not `&&` and `||`: no branches in the loop body.
    let bad_single = |c: u8| (c < 0x20) & (c != b'\n') & (c != b'\t') | (c == 0x7F);
    let c1_pair = |c: u8, next: u8| (c == 0xC2) & (next & 0xE0 == 0x80);
    let (this, next) = (&b[..b.len() - 1], &b[1..]);
    let mut bad = bad_single(last);
    const LANES: usize = 32;
    let chunks = this.chunks_exact(LANES).zip(next.chunks_exact(LANES));
    for (t, n) in chunks {
        let mut acc = 0u8;
        for i in 0..LANES {
            acc |= u8::from(bad_single(t[i]) | c1_pair(t[i], n[i]));
        }
        bad |= acc != 0;
    }
    let tail = this.len() - this.len() % LANES;
    for (&c, &n) in this[tail..].iter().zip(&next[tail..]) {
        bad |= bad_single(c) | c1_pair(c, n);
    }
    !bad
}

/// `text` cut to at most `max` bytes, at a character boundary (never inside
/// a UTF-8 sequence).
pub fn truncate_at_char(text: &str, max: usize) -> &str {
    &text[..text.floor_char_boundary(max)]
}

/// Two names are the same when equal after ASCII lower-casing only.
pub fn names_equal(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// The longest text a SAY to `room` from `from` may carry so that the
/// MESSAGE fits `max_payload`.
pub fn max_message_text(max_payload: usize, room: &str, from: &str) -> usize {
    max_payload.saturating_sub(CHAT_OVERHEAD + room.len() + from.len())
}

/// The longest text a WHISPER from `from` to `to` may carry so that the
/// PRIVATE fits `max_payload`.
pub fn max_private_text(max_payload: usize, from: &str, to: &str) -> usize {
    max_payload.saturating_sub(CHAT_OVERHEAD + from.len() + to.len())
}

/// A name folded for case-insensitive lookup (ASCII lower-case), kept on the
/// stack: names are at most 64 bytes, so folding never allocates.
#[derive(Clone, Copy)]
pub struct NameKey {
    buf: [u8; MAX_ROOM_LEN],
    len: u8,
}

impl NameKey {
    /// Folds `name`; `None` if it is longer than any valid name.
    pub fn new(name: &str) -> Option<NameKey> {
        if name.len() > MAX_ROOM_LEN {
            return None;
        }
        let mut buf = [0u8; MAX_ROOM_LEN];
        for (d, s) in buf.iter_mut().zip(name.bytes()) {
            *d = s.to_ascii_lowercase();
        }
        Some(NameKey {
            buf,
            len: name.len() as u8,
        })
    }

    /// The folded name.
    pub fn as_str(&self) -> &str {
        // ASCII lower-casing of valid UTF-8 leaves valid UTF-8.
        std::str::from_utf8(&self.buf[..usize::from(self.len)]).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nick_rules() {
        assert!(is_valid_nick("alice"));
        assert!(is_valid_nick("Émile"));
        assert!(is_valid_nick(&"x".repeat(32)));
        assert!(!is_valid_nick(&"x".repeat(33)));
        assert!(!is_valid_nick(""));
        assert!(!is_valid_nick("a b"));
        assert!(!is_valid_nick("a\u{a0}b"));
        assert!(!is_valid_nick("a\u{3000}b"));
        assert!(!is_valid_nick("a\u{85}b"));
        assert!(!is_valid_nick("a\u{7f}"));
        assert!(is_valid_nick("a\u{200b}b"), "ZWSP is not White_Space");
        assert!(is_valid_room(&"r".repeat(64)));
        assert!(!is_valid_room(&"r".repeat(65)));
    }

    #[test]
    fn text_rules() {
        assert!(is_valid_text("hi\nthere\tyou"));
        assert!(!is_valid_text(""));
        assert!(!is_valid_text("bell\u{7}"));
        assert!(!is_valid_text("cr\r"));
        assert!(is_valid_text(" "));
        assert!(!is_valid_text("c1\u{85}"));
        assert!(!is_valid_text("c1\u{9f}"));
        assert!(is_valid_text("nbsp\u{a0} é ü \u{2028}"));
        // The byte check agrees with char::is_control for every code point.
        for cp in (0u32..0x3000).chain([0xFEFF, 0x1F600]) {
            if let Some(c) = char::from_u32(cp) {
                let s = format!("x{c}y");
                let expected = !(c.is_control() && c != '\n' && c != '\t');
                assert_eq!(is_valid_text(&s), expected, "U+{cp:04X}");
            }
        }
    }

    /// The vectorised check works in chunks of 32 bytes plus a tail: a
    /// control character, or a C1 pair split across two chunks, is found at
    /// every position of texts of every length around the chunk sizes.
    #[test]
    fn text_check_finds_controls_at_every_position() {
        let reference =
            |s: &str| !s.is_empty() && !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t');
        for len in 1..=100 {
            let base = "é".repeat(len / 2) + &"a".repeat(len % 2);
            assert!(is_valid_text(&base), "len {len}");
            for bad in ['\u{0}', '\u{1f}', '\u{7f}', '\u{80}', '\u{9f}'] {
                for at in (0..=base.len()).filter(|&i| base.is_char_boundary(i)) {
                    let mut s = base.clone();
                    s.insert(at, bad);
                    assert_eq!(is_valid_text(&s), reference(&s), "{s:?}");
                    assert!(!is_valid_text(&s), "{bad:?} at {at} of {len}");
                }
            }
            // U+00A0..U+00BF start with 0xC2 too and are allowed anywhere.
            let mut s = base.clone();
            s.push('\u{a0}');
            s.insert(0, '\u{bf}');
            assert!(is_valid_text(&s), "{s:?}");
        }
    }

    #[test]
    fn sameness_is_ascii_only() {
        assert!(names_equal("Alice", "ALICE"));
        assert!(!names_equal("Émile", "émile"));
        assert_eq!(NameKey::new("LoBBy").unwrap().as_str(), "lobby");
        assert_eq!(NameKey::new("ÉMILE").unwrap().as_str(), "Émile");
    }

    #[test]
    fn text_limits() {
        assert_eq!(max_message_text(4096, "lobby", "bob"), 4096 - 22 - 5 - 3);
        assert_eq!(max_private_text(30, "aaaaaaaaaa", "bbbbbbbbbb"), 0);
    }
}
