//! Text between the two worlds: native text (up to `max_payload`, with LF)
//! split into IRC lines that fit 512 bytes with their full prefix, and IRC
//! text (formatting codes, CTCP) made into native text.

pub use crate::codec::names::truncate_at_char;

/// Splits native text into pieces of at most `room` bytes each: one line
/// per native line (LF), each cut at the last whitespace that leaves a
/// piece of at least half the room, else at a character boundary (never
/// inside a UTF-8 sequence). Empty lines are dropped (IRC has no empty
/// message); whitespace at a cut is kept at the end of the first piece.
pub fn split_for_irc(text: &str, room: usize, mut piece: impl FnMut(&str)) {
    let room = room.max(4);
    for line in text.split('\n') {
        let mut rest = line.strip_suffix('\r').unwrap_or(line);
        while !rest.is_empty() {
            if rest.len() <= room {
                piece(rest);
                break;
            }
            let hard = truncate_at_char(rest, room).len();
            let cut = rest[..hard]
                .rfind([' ', '\t'])
                .map(|i| i + 1)
                .filter(|&i| i >= hard / 2)
                .unwrap_or(hard);
            piece(&rest[..cut]);
            rest = &rest[cut..];
        }
    }
}

/// Native text for IRC text: a CTCP ACTION (`/me`) becomes `/me text`;
/// other CTCP requests and formatting codes (bold, colour, …), which are
/// control characters the chat protocol does not carry, are removed.
/// `None` if nothing is left.
pub fn native_text(irc: &str) -> Option<String> {
    let (action, body) = match irc.strip_prefix('\u{1}') {
        Some(rest) => {
            let rest = rest.strip_suffix('\u{1}').unwrap_or(rest);
            match rest.strip_prefix("ACTION") {
                Some(a) => (true, a.strip_prefix(' ').unwrap_or(a)),
                None => return None,
            }
        }
        None => (false, irc),
    };
    let mut out = String::with_capacity(body.len() + 4);
    if action {
        out.push_str("/me ");
    }
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{3}' => {
                // colour: up to two digits, optionally ",dd"
                for _ in 0..2 {
                    if chars.peek().is_some_and(char::is_ascii_digit) {
                        chars.next();
                    }
                }
                if chars.peek() == Some(&',') {
                    let mut ahead = chars.clone();
                    ahead.next();
                    if ahead.peek().is_some_and(char::is_ascii_digit) {
                        chars.next();
                        for _ in 0..2 {
                            if chars.peek().is_some_and(char::is_ascii_digit) {
                                chars.next();
                            }
                        }
                    }
                }
            }
            '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    if out.trim().is_empty() || out == "/me " {
        return None;
    }
    Some(out)
}

/// IRC text for a native line: `/me text` becomes a CTCP ACTION.
pub fn irc_action(line: &str) -> Option<&str> {
    line.strip_prefix("/me ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str, room: usize) -> Vec<String> {
        let mut v = Vec::new();
        split_for_irc(text, room, |p| v.push(p.to_owned()));
        v
    }

    #[test]
    fn short_text_is_one_piece_and_lf_splits_lines() {
        assert_eq!(split("hello", 10), vec!["hello"]);
        assert_eq!(split("a\nb\n\nc", 10), vec!["a", "b", "c"]);
    }

    #[test]
    fn long_text_is_cut_at_whitespace_where_possible() {
        let t = "aaaa bbbb cccc dddd";
        let p = split(t, 10);
        assert_eq!(p, vec!["aaaa bbbb ", "cccc dddd"]);
        assert_eq!(p.concat(), t);
        assert!(p.iter().all(|s| s.len() <= 10));
    }

    #[test]
    fn never_inside_a_utf8_sequence() {
        let t = "é".repeat(50);
        for room in 4..40 {
            let p = split(&t, room);
            assert_eq!(p.concat(), t);
            assert!(p.iter().all(|s| s.len() <= room), "{room}");
        }
        let t = format!("{}😃", "a".repeat(9));
        assert_eq!(split(&t, 10), vec!["a".repeat(9), "😃".into()]);
    }

    #[test]
    fn irc_text_to_native() {
        assert_eq!(native_text("hi").as_deref(), Some("hi"));
        assert_eq!(
            native_text("\u{1}ACTION waves\u{1}").as_deref(),
            Some("/me waves")
        );
        assert_eq!(native_text("\u{1}VERSION\u{1}"), None);
        assert_eq!(
            native_text("\u{2}bold\u{2} \u{3}4,12red\u{f}").as_deref(),
            Some("bold red")
        );
        assert_eq!(native_text("\u{3}5"), None);
        assert_eq!(irc_action("/me waves"), Some("waves"));
        assert_eq!(truncate_at_char("aé", 2), "a");
    }
}
