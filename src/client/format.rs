//! Turning events into text: one line per event for plain mode, one JSON
//! object per event for `--json`, readable sentences for server error codes
//! and notices, and wall-clock times for the full-screen UI.

use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::client::event::ClientEvent;
use crate::codec::ErrorCode;

/// A readable sentence for an ERROR code.
pub fn error_sentence(code: u16) -> &'static str {
    let Some(code) = ErrorCode::from_u16(code) else {
        return "the server reported an unknown error";
    };
    match code {
        ErrorCode::BadFrame => "the server could not read a frame we sent",
        ErrorCode::Malformed => "the server could not understand a request (malformed)",
        ErrorCode::UnknownType => "the server does not know that request",
        ErrorCode::NotRegistered => "not registered with the server yet",
        ErrorCode::BadVersion => "the server speaks another protocol version",
        ErrorCode::BadName => "that name is not valid",
        ErrorCode::NickTaken => "that nick is already in use",
        ErrorCode::AuthFailed => "wrong password",
        ErrorCode::NotInRoom => "you are not in that room",
        ErrorCode::NoSuchRoom => "there is no such room",
        ErrorCode::NoSuchNick => "nobody by that nick is online",
        ErrorCode::RateLimited => "you are sending too fast; the message was dropped",
        ErrorCode::TooManyRooms => "you are in too many rooms already",
        ErrorCode::ServerFull => "the server is full",
        ErrorCode::Timeout => "the connection timed out",
        ErrorCode::SlowConsumer => "the connection could not keep up with the server",
        ErrorCode::ShuttingDown => "the server is shutting down",
        ErrorCode::AlreadyRegistered => "already registered",
        ErrorCode::TooLong => "the message is too long; it was dropped",
        ErrorCode::Kicked => "you were removed by an operator",
        ErrorCode::Unavailable => "the server could not reach its cluster; nothing was done",
    }
}

/// A server error as text: the sentence, then the server's detail unless
/// it only repeats the sentence's words.
pub fn server_error_text(code: u16, detail: &str) -> String {
    let sentence = error_sentence(code);
    let words: Vec<String> = sentence
        .split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .collect();
    let repeats = detail
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .all(|w| words.contains(&w.to_lowercase()));
    if repeats {
        sentence.to_owned()
    } else {
        format!("{sentence} ({detail})")
    }
}

/// Text made single-line: each LF becomes `↵` (JSON output keeps it exact).
pub fn one_line(text: &str) -> Cow<'_, str> {
    if text.contains('\n') {
        Cow::Owned(text.replace('\n', "\u{21b5}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// A count with thousands separators: `19,342`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A member count in words: `1 member`, `19,342 members`.
pub fn members_count(n: u64) -> String {
    if n == 1 {
        "1 member".to_owned()
    } else {
        format!("{} members", thousands(n))
    }
}

/// Members sorted for display (case-insensitively), joined by `, `.
pub fn member_list(nicks: &[String]) -> String {
    let mut sorted: Vec<&str> = nicks.iter().map(String::as_str).collect();
    sorted.sort_by_key(|n| (n.to_lowercase(), *n));
    sorted.join(", ")
}

/// The room an event belongs to, if it is about one.
pub fn event_room(event: &ClientEvent) -> Option<&str> {
    match event {
        ClientEvent::Message { room, .. }
        | ClientEvent::Joined { room, .. }
        | ClientEvent::Left { room, .. }
        | ClientEvent::Members { room, .. }
        | ClientEvent::Room { room, .. } => Some(room),
        _ => None,
    }
}

/// The notice text of an event that is not a chat message (no room prefix),
/// or `None` for chat messages and events nobody needs to read.
pub fn notice(event: &ClientEvent) -> Option<String> {
    Some(match event {
        ClientEvent::Connecting { server, attempt } => {
            if *attempt == 0 {
                format!("connecting to {server}")
            } else {
                format!("reconnecting to {server} (attempt {attempt})")
            }
        }
        ClientEvent::Connected {
            nick, server_name, ..
        } => format!("connected to {server_name} as {nick}"),
        ClientEvent::Joined { nick, .. } => format!("{nick} joined"),
        ClientEvent::Left { nick, reason, .. } => format!("{nick} left ({reason})"),
        ClientEvent::Members {
            nicks,
            partial: false,
            ..
        } => format!("members ({}): {}", nicks.len(), member_list(nicks)),
        ClientEvent::Members {
            nicks,
            partial: true,
            ..
        } => format!(
            "members (partial list, {} shown): {}",
            nicks.len(),
            member_list(nicks)
        ),
        ClientEvent::Room {
            quiet: true,
            members,
            ..
        } => format!("{} (quiet room)", members_count(u64::from(*members))),
        ClientEvent::Room {
            quiet: false,
            members,
            ..
        } => format!(
            "{} (no longer quiet: joins and leaves are shown again)",
            members_count(u64::from(*members))
        ),
        ClientEvent::ServerError { code, detail, .. } => {
            format!("error: {}", server_error_text(*code, detail))
        }
        ClientEvent::Refused { reason } => format!("error: {reason}"),
        ClientEvent::Disconnected { reason } => format!("disconnected: {reason}"),
        ClientEvent::Reconnecting {
            attempt,
            delay_ms,
            reason,
        } => format!(
            "{reason}; reconnecting in {:.1} s (attempt {attempt})",
            *delay_ms as f64 / 1000.0
        ),
        ClientEvent::Warning { message } => format!("warning: {message}"),
        ClientEvent::Fatal { message } => format!("error: {message}"),
        ClientEvent::Message { .. }
        | ClientEvent::Private { .. }
        | ClientEvent::Ready
        | ClientEvent::Rtt { .. }
        | ClientEvent::Barrier { .. }
        | ClientEvent::Finished => return None,
    })
}

/// The line plain mode prints for an event, or `None` for events it does
/// not report (round-trip times, barriers, readiness, the end).
///
/// Formats: `[room] <nick> text`, `[room] (history) <nick> text`,
/// `[private] <from -> to> text`, `[room] * notice` for room notices and
/// `* notice` for the rest; errors read `error: ...`.
pub fn text_line(event: &ClientEvent) -> Option<String> {
    match event {
        ClientEvent::Message {
            room,
            from,
            text,
            replayed,
            ..
        } => {
            let history = if *replayed { "(history) " } else { "" };
            Some(format!("[{room}] {history}<{from}> {}", one_line(text)))
        }
        ClientEvent::Private { from, to, text, .. } => {
            Some(format!("[private] <{from} -> {to}> {}", one_line(text)))
        }
        ClientEvent::ServerError { .. }
        | ClientEvent::Refused { .. }
        | ClientEvent::Fatal { .. } => notice(event),
        other => {
            let text = notice(other)?;
            Some(match event_room(other) {
                Some(room) => format!("[{room}] * {text}"),
                None => format!("* {text}"),
            })
        }
    }
}

/// The JSON object `--json` prints for an event (one line), or `None` for
/// the events plain mode does not report.
pub fn json_line(event: &ClientEvent) -> Option<String> {
    if !reported(event) {
        return None;
    }
    serde_json::to_string(event).ok()
}

/// Whether plain mode reports an event at all.
pub fn reported(event: &ClientEvent) -> bool {
    !matches!(
        event,
        ClientEvent::Ready
            | ClientEvent::Rtt { .. }
            | ClientEvent::Barrier { .. }
            | ClientEvent::Finished
    )
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// `HH:MM` in the local time zone for a Unix time in milliseconds.
pub fn clock_hm(time_ms: u64) -> String {
    let (h, m) = local_hour_minute(time_ms);
    format!("{h:02}:{m:02}")
}

/// Hour and minute in the local time zone (UTC if it cannot be found).
fn local_hour_minute(time_ms: u64) -> (u32, u32) {
    let secs = time_ms / 1000;
    let utc = ((secs / 3600 % 24) as u32, (secs / 60 % 60) as u32);
    let Ok(t) = libc::time_t::try_from(secs) else {
        return utc;
    };
    // SAFETY: `localtime_r` reads the time value and writes only into the
    // `tm` we own; a zeroed `tm` is a valid value of that plain C struct.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    if !ok {
        return utc;
    }
    (
        u32::try_from(tm.tm_hour).unwrap_or(utc.0),
        u32::try_from(tm.tm_min).unwrap_or(utc.1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(replayed: bool, text: &str) -> ClientEvent {
        ClientEvent::Message {
            room: "lobby".into(),
            from: "bob".into(),
            text: text.into(),
            seq: 5,
            time_ms: 1_700_000_000_000,
            replayed,
        }
    }

    #[test]
    fn chat_lines() {
        assert_eq!(
            text_line(&message(false, "hi")).unwrap(),
            "[lobby] <bob> hi"
        );
        assert_eq!(
            text_line(&message(true, "old\nnews")).unwrap(),
            "[lobby] (history) <bob> old\u{21b5}news"
        );
        let p = ClientEvent::Private {
            from: "bob".into(),
            to: "alice".into(),
            text: "psst".into(),
            seq: 6,
            time_ms: 0,
        };
        assert_eq!(text_line(&p).unwrap(), "[private] <bob -> alice> psst");
    }

    #[test]
    fn notices_name_room_and_reason() {
        assert_eq!(
            text_line(&ClientEvent::Joined {
                room: "dev".into(),
                nick: "carol".into()
            })
            .unwrap(),
            "[dev] * carol joined"
        );
        assert_eq!(
            text_line(&ClientEvent::left("dev", "carol", 2)).unwrap(),
            "[dev] * carol left (timed out)"
        );
        assert_eq!(
            text_line(&ClientEvent::Members {
                room: "dev".into(),
                nicks: vec!["zed".into(), "Bob".into(), "alice".into()],
                partial: false,
            })
            .unwrap(),
            "[dev] * members (3): alice, Bob, zed"
        );
        assert_eq!(
            text_line(&ClientEvent::Members {
                room: "big".into(),
                nicks: vec!["zed".into(), "Bob".into()],
                partial: true,
            })
            .unwrap(),
            "[big] * members (partial list, 2 shown): Bob, zed"
        );
        assert_eq!(
            text_line(&ClientEvent::Room {
                room: "big".into(),
                quiet: true,
                members: 19_342,
            })
            .unwrap(),
            "[big] * 19,342 members (quiet room)"
        );
        assert_eq!(
            text_line(&ClientEvent::Room {
                room: "big".into(),
                quiet: false,
                members: 1,
            })
            .unwrap(),
            "[big] * 1 member (no longer quiet: joins and leaves are shown again)"
        );
        assert_eq!(
            text_line(&ClientEvent::Connected {
                nick: "alice".into(),
                server_name: "stx".into(),
                max_payload: 4096,
                keepalive_secs: 30
            })
            .unwrap(),
            "* connected to stx as alice"
        );
        assert_eq!(
            text_line(&ClientEvent::Reconnecting {
                attempt: 2,
                delay_ms: 1250,
                reason: "connection refused".into()
            })
            .unwrap(),
            "* connection refused; reconnecting in 1.2 s (attempt 2)"
        );
    }

    #[test]
    fn errors_read_as_sentences_not_codes() {
        let e = ClientEvent::server_error(9, "not in room \"x\"");
        assert_eq!(
            text_line(&e).unwrap(),
            "error: you are not in that room (not in room \"x\")"
        );
        assert_eq!(
            text_line(&ClientEvent::server_error(7, "")).unwrap(),
            "error: that nick is already in use"
        );
        assert_eq!(
            server_error_text(9, "Not in that room"),
            "you are not in that room"
        );
        assert_eq!(
            server_error_text(17, "server shutting down"),
            "the server is shutting down"
        );
        assert_eq!(
            server_error_text(15, "keepalive timeout"),
            "the connection timed out (keepalive timeout)"
        );
        assert_eq!(error_sentence(999), "the server reported an unknown error");
        for code in ErrorCode::ALL {
            assert!(!error_sentence(code.as_u16()).contains('_'));
        }
    }

    #[test]
    fn quiet_events_are_not_reported() {
        for e in [
            ClientEvent::Ready,
            ClientEvent::Rtt { micros: 5 },
            ClientEvent::Barrier { id: 1 },
            ClientEvent::Finished,
        ] {
            assert_eq!(text_line(&e), None);
            assert_eq!(json_line(&e), None);
        }
    }

    #[test]
    fn json_is_one_object_per_line() {
        let line = json_line(&message(true, "a\nb")).unwrap();
        assert!(!line.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["event"], "message");
        assert_eq!(v["room"], "lobby");
        assert_eq!(v["from"], "bob");
        assert_eq!(v["text"], "a\nb");
        assert_eq!(v["seq"], 5);
        assert_eq!(v["replayed"], true);
        let v: serde_json::Value =
            serde_json::from_str(&json_line(&ClientEvent::server_error(11, "no bob")).unwrap())
                .unwrap();
        assert_eq!(v["event"], "server_error");
        assert_eq!(v["code"], 11);
        assert_eq!(v["name"], "no_such_nick");
        assert_eq!(v["detail"], "no bob");
    }

    #[test]
    fn counts_have_thousands_separators() {
        for (n, s) in [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (19_342, "19,342"),
            (123_456, "123,456"),
            (1_234_567, "1,234,567"),
            (u64::from(u32::MAX), "4,294,967,295"),
        ] {
            assert_eq!(thousands(n), s);
        }
        assert_eq!(members_count(1), "1 member");
        assert_eq!(members_count(0), "0 members");
        assert_eq!(members_count(19_342), "19,342 members");
    }

    #[test]
    fn json_room_events_carry_room_quiet_and_members() {
        let line = json_line(&ClientEvent::Room {
            room: "lobby".into(),
            quiet: true,
            members: 19_342,
        })
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"event": "room", "room": "lobby", "quiet": true, "members": 19342})
        );
        let line = json_line(&ClientEvent::Members {
            room: "lobby".into(),
            nicks: vec!["a".into()],
            partial: true,
        })
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["partial"], true);
        assert_eq!(
            text_line(&ClientEvent::server_error(21, "cluster down")).unwrap(),
            "error: the server could not reach its cluster; nothing was done (cluster down)"
        );
    }

    #[test]
    fn clock_is_hours_and_minutes() {
        let s = clock_hm(1_700_000_000_000);
        assert_eq!(s.len(), 5);
        assert_eq!(&s[2..3], ":");
        assert!(s[..2].parse::<u32>().unwrap() < 24);
        assert!(s[3..].parse::<u32>().unwrap() < 60);
        // Minutes do not depend on whole-hour time zones: 2023-11-14 22:13:20 UTC.
        assert!(s.ends_with("13") || s.ends_with("43") || s.ends_with("58") || s.ends_with("28"));
    }
}
