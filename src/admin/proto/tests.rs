//! Requests, error codes and the examples of `docs/ADMIN.md`, encoded and
//! decoded; the helpers the answer tests share.

use super::*;
use crate::codec::{Event, FrameDecoder};
use crate::core::observe::ConnInfo;

pub(super) fn payloads(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    FrameDecoder::new(ADMIN_MAX_PAYLOAD).decode_all(bytes, |e| match e {
        Event::Frame(p) => out.push(p.to_vec()),
        Event::Error(e) => panic!("framing error {e}"),
    });
    out
}

pub(super) fn one(bytes: &[u8]) -> AdminResponse {
    let p = payloads(bytes);
    assert_eq!(p.len(), 1);
    AdminResponse::decode(&p[0]).unwrap()
}

pub(super) fn info(id: u64, nick: Option<&str>, rooms: &[&str]) -> ConnInfo {
    ConnInfo {
        id,
        peer: if id.is_multiple_of(2) {
            format!("127.0.0.1:{}", 1000 + id).parse().unwrap()
        } else {
            format!("[::1]:{}", 1000 + id).parse().unwrap()
        },
        nick: nick.map(str::to_owned),
        state: if nick.is_some() {
            ConnState::Connected
        } else {
            ConnState::Waiting
        },
        rooms: rooms.iter().map(|s| s.to_string()).collect(),
        accepted_ms: 1_700_000_000_000 + id,
        connected_ms: nick.map(|_| 1_700_000_000_500 + id),
        bytes_in: id * 3,
        bytes_out: id * 5,
        queued: id,
    }
}

#[test]
fn requests_round_trip() {
    let reqs = [
        AdminRequest::Auth {
            version: ADMIN_VERSION,
            token: "sécret",
        },
        AdminRequest::Counters,
        AdminRequest::List {
            state: ConnState::Connected,
            after_id: 0x0102_0304_0506_0708,
            limit: 500,
        },
        AdminRequest::List {
            state: ConnState::Closing,
            after_id: 0,
            limit: 0,
        },
        AdminRequest::Subscribe,
        AdminRequest::Unsubscribe,
        AdminRequest::Kick {
            nick: "Alice",
            reason: "spam\nand more",
        },
        AdminRequest::Rooms { limit: 100 },
    ];
    for req in reqs {
        let mut out = Vec::new();
        req.encode(&mut out).unwrap();
        let p = payloads(&out);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0][0], req.type_byte());
        assert!((0x40..=0x5f).contains(&p[0][0]));
        assert_eq!(AdminRequest::decode(&p[0]).unwrap(), req);
    }
}

#[test]
fn malformed_and_unknown_requests_are_told_apart() {
    assert_eq!(AdminRequest::decode(&[]), Err(MessageError::Malformed));
    assert_eq!(
        AdminRequest::decode(&[0x5f]),
        Err(MessageError::UnknownType(0x5f))
    );
    assert_eq!(
        AdminRequest::decode(&[0x01, 1, 0, 0]),
        Err(MessageError::UnknownType(0x01))
    );
    // Left-over byte.
    assert_eq!(
        AdminRequest::decode(&[0x41, 0]),
        Err(MessageError::Malformed)
    );
    // Bad state byte.
    assert_eq!(
        AdminRequest::decode(&[0x42, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
        Err(MessageError::Malformed)
    );
    // Short LIST.
    assert_eq!(
        AdminRequest::decode(&[0x42, 0, 0, 0]),
        Err(MessageError::Malformed)
    );
    // Bad UTF-8 in the token, and a length past the end.
    assert_eq!(
        AdminRequest::decode(&[0x40, 1, 1, 0xff]),
        Err(MessageError::Malformed)
    );
    assert_eq!(
        AdminRequest::decode(&[0x40, 1, 5, b'a']),
        Err(MessageError::Malformed)
    );
}

#[test]
fn long_strings_are_cut_at_char_boundaries() {
    assert_eq!(truncate_str("héllo", 2), "h");
    assert_eq!(truncate_str("héllo", 3), "hé");
    assert_eq!(truncate_str("abc", 10), "abc");
    let mut out = Vec::new();
    encode_error(&mut out, AdminErrorCode::Malformed, &"é".repeat(2000));
    let AdminResponse::Error { code, detail } = one(&out) else {
        panic!("not an error")
    };
    assert_eq!(code, 2);
    assert_eq!(detail.len(), 1024);
}

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

#[test]
fn the_examples_in_admin_md_are_right() {
    let cases: [(AdminRequest<'_>, &str); 5] = [
        (AdminRequest::Counters, "02 00 01 41 e7 81 99 55 03"),
        (
            AdminRequest::Rooms { limit: 10 },
            "02 00 03 46 00 0a 40 55 40 9f 03",
        ),
        (
            AdminRequest::Auth {
                version: 1,
                token: "",
            },
            "02 00 03 40 01 00 bd 16 e4 72 03",
        ),
        (
            AdminRequest::List {
                state: ConnState::Connected,
                after_id: 0,
                limit: 100,
            },
            "02 00 0c 42 01 00 00 00 00 00 00 00 00 00 64 1c 08 93 d2 03",
        ),
        (AdminRequest::Subscribe, "02 00 01 43 09 8f f8 79 03"),
    ];
    for (req, bytes) in cases {
        let mut out = Vec::new();
        req.encode(&mut out).unwrap();
        assert_eq!(out, hex(bytes), "{req:?}");
    }
    let mut out = Vec::new();
    encode_ok(&mut out, admin_type::SUBSCRIBE);
    assert_eq!(out, hex("02 00 02 c0 43 06 ef cc 16 03"));
}

#[test]
fn error_codes_round_trip() {
    for (i, c) in AdminErrorCode::ALL.iter().enumerate() {
        assert_eq!(usize::from(c.as_u16()), i + 1);
        assert_eq!(AdminErrorCode::from_u16(c.as_u16()), Some(*c));
    }
    assert_eq!(AdminErrorCode::from_u16(0), None);
    assert_eq!(AdminErrorCode::from_u16(9), None);
    assert!(!AdminErrorCode::Malformed.closes());
    assert!(AdminErrorCode::AuthFailed.closes());
}
