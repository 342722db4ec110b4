//! The message decoder's properties, checked over one payload.
//!
//! [`check_payload`] runs a payload through `ClientMessage::decode` and
//! `ServerMessage::decode` and panics unless, for each side:
//!
//! - an `Ok` message re-encodes (`encode_payload`) to exactly the payload,
//!   its whole frame (`encode`) is `encode_frame` of the payload, and
//!   decoding the re-encoded bytes gives the same message;
//! - a MEMBERS list yields exactly `count` nicks, and re-encoding those nicks
//!   as a list gives the same payload;
//! - `UnknownType(t)` comes only for a payload whose first byte `t` is not a
//!   type of that side, and `Malformed` only for an empty payload or a known
//!   type (section 3, "which error answers what");
//! - the name and text rules hold together on every decoded string (a valid
//!   nick is a valid room, folding is ASCII-only, and so on).
//!
//! Shared like `frame_check.rs`: the fuzz crate and the tests compile it.

use stxchat::codec::{
    ClientMessage, MAX_NICK_LEN, MAX_ROOM_LEN, MessageError, NameKey, NickList, ServerMessage,
    encode_frame, is_valid_nick, is_valid_room, is_valid_text, names_equal,
};

/// Client-to-server type bytes (HELLO..=BYE).
const CLIENT_TYPES: std::ops::RangeInclusive<u8> = 0x01..=0x08;
/// Server-to-client type bytes (WELCOME..=ROOM).
const SERVER_TYPES: std::ops::RangeInclusive<u8> = 0x81..=0x89;

/// Checks both decoders on one payload (properties in the module doc).
pub fn check_payload(payload: &[u8]) {
    check_client(payload);
    check_server(payload);
}

/// Checks the error a decoder gave against the payload's type byte.
fn check_error(payload: &[u8], err: MessageError, known: &std::ops::RangeInclusive<u8>) {
    match (payload.first(), err) {
        (None, MessageError::Malformed) => {}
        (Some(t), MessageError::Malformed) => {
            assert!(known.contains(t), "Malformed for unknown type {t:#04x}")
        }
        (Some(t), MessageError::UnknownType(u)) => {
            assert_eq!(*t, u, "UnknownType names another byte");
            assert!(!known.contains(t), "UnknownType for known type {t:#04x}");
        }
        (None, e) => panic!("empty payload gave {e:?}"),
    }
}

/// The frame `encode` appends must be exactly `encode_frame` of the payload.
fn check_frame(payload: &[u8], encode: impl FnOnce(&mut Vec<u8>) -> bool) {
    let mut framed = Vec::new();
    assert!(encode(&mut framed), "a decoded message fails to encode");
    let mut expected = Vec::new();
    encode_frame(&mut expected, payload).expect("payload fits a frame");
    assert_eq!(framed, expected, "encode() is not encode_frame(payload)");
}

fn check_client(payload: &[u8]) {
    let msg = match ClientMessage::decode(payload) {
        Ok(m) => m,
        Err(e) => return check_error(payload, e, &CLIENT_TYPES),
    };
    assert_eq!(msg.type_byte(), payload[0]);
    let mut again = Vec::new();
    msg.encode_payload(&mut again)
        .expect("decoded fields fit their length prefixes");
    assert_eq!(again, payload, "{msg:?} re-encodes differently");
    assert_eq!(ClientMessage::decode(&again), Ok(msg));
    if payload.len() <= usize::from(u16::MAX) {
        check_frame(payload, |out| {
            msg.encode(out, usize::from(u16::MAX)).is_ok()
        });
    }
    match msg {
        ClientMessage::Hello { nick, token, .. } => {
            check_name(nick);
            check_name(token);
        }
        ClientMessage::Join { room }
        | ClientMessage::Part { room }
        | ClientMessage::Who { room } => check_name(room),
        ClientMessage::Say { room: name, text } | ClientMessage::Whisper { to: name, text } => {
            check_name(name);
            check_text(text);
        }
        ClientMessage::Ping { .. } | ClientMessage::Bye => {}
    }
}

fn check_server(payload: &[u8]) {
    let msg = match ServerMessage::decode(payload) {
        Ok(m) => m,
        Err(e) => return check_error(payload, e, &SERVER_TYPES),
    };
    assert_eq!(msg.type_byte(), payload[0]);
    let mut again = Vec::new();
    msg.encode_payload(&mut again)
        .expect("decoded fields fit their length prefixes");
    assert_eq!(again, payload, "{msg:?} re-encodes differently");
    assert_eq!(ServerMessage::decode(&again), Ok(msg));
    if payload.len() <= usize::from(u16::MAX) {
        check_frame(payload, |out| {
            msg.encode(out, usize::from(u16::MAX)).is_ok()
        });
    }
    match msg {
        ServerMessage::Welcome {
            nick, server_name, ..
        } => {
            check_name(nick);
            check_name(server_name);
        }
        ServerMessage::Message {
            room: a,
            from: b,
            text,
            ..
        }
        | ServerMessage::Private {
            from: a,
            to: b,
            text,
            ..
        } => {
            check_name(a);
            check_name(b);
            check_text(text);
        }
        ServerMessage::Joined { room, nick } | ServerMessage::Left { room, nick, .. } => {
            check_name(room);
            check_name(nick);
        }
        ServerMessage::Members { room, flags, nicks } => {
            check_name(room);
            let list: Vec<&str> = nicks.iter().collect();
            assert_eq!(list.len(), nicks.len(), "MEMBERS count vs nicks yielded");
            list.iter().copied().for_each(check_name);
            let rebuilt = ServerMessage::Members {
                room,
                flags,
                nicks: NickList::List(&list),
            };
            assert_eq!(rebuilt, msg);
            let mut from_list = Vec::new();
            rebuilt
                .encode_payload(&mut from_list)
                .expect("decoded nicks fit");
            assert_eq!(
                from_list, payload,
                "MEMBERS as a list re-encodes differently"
            );
        }
        ServerMessage::Error { detail, .. } => check_text(detail),
        ServerMessage::Room { room, .. } => check_name(room),
        ServerMessage::Pong { .. } => {}
    }
}

/// The name rules agree with each other and with section 2 on `s`.
pub fn check_name(s: &str) {
    let plain = !s.is_empty() && !s.chars().any(|c| c.is_whitespace() || c.is_control());
    assert_eq!(
        is_valid_nick(s),
        plain && s.len() <= MAX_NICK_LEN,
        "nick rule on {s:?}"
    );
    assert_eq!(
        is_valid_room(s),
        plain && s.len() <= MAX_ROOM_LEN,
        "room rule on {s:?}"
    );
    let upper = s.to_ascii_uppercase();
    assert!(names_equal(s, &upper) && names_equal(&upper, s));
    // Sameness is ASCII lower-casing only, whatever Unicode case mapping does.
    for other in [s.to_uppercase(), s.to_lowercase()] {
        let fold = |x: &str| {
            x.bytes()
                .map(|b| b.to_ascii_lowercase())
                .collect::<Vec<u8>>()
        };
        let same = fold(s) == fold(&other);
        assert_eq!(
            names_equal(s, &other),
            same,
            "sameness of {s:?} and {other:?}"
        );
    }
    match NameKey::new(s) {
        Some(key) => {
            assert!(s.len() <= MAX_ROOM_LEN);
            assert_eq!(key.as_str(), s.to_ascii_lowercase());
            assert_eq!(
                NameKey::new(&upper).map(|k| k.as_str().to_owned()),
                Some(key.as_str().to_owned())
            );
        }
        None => assert!(s.len() > MAX_ROOM_LEN),
    }
}

/// The text rule agrees with section 2 on `s`.
pub fn check_text(s: &str) {
    let ok = !s.is_empty() && s.chars().all(|c| !c.is_control() || c == '\n' || c == '\t');
    assert_eq!(is_valid_text(s), ok, "text rule on {s:?}");
}
