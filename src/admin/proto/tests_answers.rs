//! Every answer kind encoded and decoded: COUNTERS, LIST pages (split to
//! fit), EVENTs, KICKED, ERROR, and malformed answers refused.

use super::tests::{info, one, payloads};
use super::*;
use crate::admin::rates::Rates;
use crate::core::observe::{CloseReason, ConnChange, ConnInfo, Counters};

#[test]
fn responses_round_trip() {
    let mut counters = Counters {
        waiting: 1,
        connected: 2,
        closing: 3,
        rooms: 4,
        accepted: 5,
        rejected_full: 6,
        frames_in: 7,
        frames_out: 8,
        bytes_in: 9,
        bytes_out: 10,
        messages: 11,
        privates: 12,
        slow_consumers: 13,
        transport_errors: 0,
        errors: vec![0; 21],
        uptime_ms: 14,
    };
    counters.errors[20] = 99;
    counters.errors[2] = 3;
    let page = ListPage {
        state: ConnState::Connected,
        more: true,
        next_after: 9,
        entries: vec![
            info(4, Some("alice"), &["lobby", "Rust"]),
            info(9, Some("Émile"), &[]),
        ],
        rooms_truncated: vec![],
    };
    let resps = vec![
        AdminResponse::Ok {
            request: admin_type::SUBSCRIBE,
        },
        AdminResponse::Counters(Snapshot {
            counters,
            rates: Rates {
                interval_ms: 1000,
                accepted: 1,
                frames_in: 2,
                frames_out: 3,
                bytes_in: 4,
                bytes_out: 5,
                messages: 6,
                privates: 7,
            },
        }),
        AdminResponse::Counters(Snapshot::default()),
        AdminResponse::List(page),
        AdminResponse::List(ListPage {
            state: ConnState::Waiting,
            more: false,
            next_after: 77,
            entries: vec![],
            rooms_truncated: vec![],
        }),
        AdminResponse::Kicked {
            nick: "bob".into(),
            found: true,
        },
        AdminResponse::Kicked {
            nick: "nobody".into(),
            found: false,
        },
        AdminResponse::Error {
            code: AdminErrorCode::AuthFailed.as_u16(),
            detail: "wrong token".into(),
        },
        AdminResponse::Error {
            code: 999,
            detail: String::new(),
        },
    ];
    for resp in resps {
        let mut out = Vec::new();
        resp.encode(&mut out).unwrap();
        let p = payloads(&out);
        assert!((0xc0..=0xdf).contains(&p[0][0]));
        assert_eq!(one(&out), resp);
    }
}

#[test]
fn events_round_trip_every_change() {
    let changes = [
        ConnChange::Accepted,
        ConnChange::Registered,
        ConnChange::Closed(CloseReason::Bye),
        ConnChange::Closed(CloseReason::PeerClosed),
        ConnChange::Closed(CloseReason::Error(20)),
    ];
    for (i, change) in changes.into_iter().enumerate() {
        let ev = ConnEvent {
            id: i as u64 + 1,
            peer: if i % 2 == 0 {
                "10.1.2.3:4567".parse().unwrap()
            } else {
                "[2001:db8::1]:80".parse().unwrap()
            },
            nick: (i > 0).then(|| "carol".to_string()),
            change,
            time_ms: 123_456,
        };
        let mut out = Vec::new();
        encode_event(&mut out, &ev);
        assert_eq!(one(&out), AdminResponse::Event(ev));
    }
}

#[test]
fn malformed_responses_are_refused() {
    let mut out = Vec::new();
    encode_event(
        &mut out,
        &ConnEvent {
            id: 1,
            peer: "127.0.0.1:1".parse().unwrap(),
            nick: None,
            change: ConnChange::Accepted,
            time_ms: 0,
        },
    );
    let p = payloads(&out).remove(0);
    // Every strict prefix is malformed.
    for n in 1..p.len() {
        assert_eq!(
            AdminResponse::decode(&p[..n]),
            Err(MessageError::Malformed),
            "prefix of {n} bytes"
        );
    }
    // Bad change byte.
    let mut bad = p.clone();
    let at = bad.len() - 3;
    bad[at] = 9;
    assert_eq!(AdminResponse::decode(&bad), Err(MessageError::Malformed));
    // Bad address family.
    let mut bad = p.clone();
    bad[17] = 5;
    assert_eq!(AdminResponse::decode(&bad), Err(MessageError::Malformed));
    // A LIST page claiming more entries than it holds.
    let mut out = Vec::new();
    encode_list_page(
        &mut out,
        ConnState::Waiting,
        0,
        &[info(2, None, &[])],
        false,
        ADMIN_MAX_PAYLOAD,
    )
    .unwrap();
    let mut p = payloads(&out).remove(0);
    p[12] = 2;
    assert_eq!(AdminResponse::decode(&p), Err(MessageError::Malformed));
    assert_eq!(
        AdminResponse::decode(&[0x40]),
        Err(MessageError::UnknownType(0x40))
    );
}

#[test]
fn list_pages_split_to_fit_the_payload_limit() {
    let rooms: Vec<String> = (0..10).map(|i| format!("room-{i:02}")).collect();
    let rooms: Vec<&str> = rooms.iter().map(String::as_str).collect();
    let entries: Vec<ConnInfo> = (1..=50)
        .map(|i| info(i, Some(&format!("nick{i}")), &rooms))
        .collect();
    let max = 1024;
    let mut seen = Vec::new();
    let mut after = 0;
    let mut rest = &entries[..];
    let mut frames = 0;
    loop {
        let mut out = Vec::new();
        let n = encode_list_page(&mut out, ConnState::Connected, after, rest, false, max).unwrap();
        assert!(n >= 1);
        assert!(out.len() <= max + 8);
        frames += 1;
        let AdminResponse::List(page) = one(&out) else {
            panic!("not a page")
        };
        assert_eq!(page.entries.len(), n);
        assert!(page.rooms_truncated.is_empty());
        seen.extend(page.entries.iter().cloned());
        rest = &rest[n..];
        after = page.next_after;
        assert_eq!(page.more, !rest.is_empty());
        if !page.more {
            break;
        }
    }
    assert!(frames > 1);
    assert_eq!(seen, entries);
}

#[test]
fn an_entry_too_large_for_a_frame_has_its_rooms_cut() {
    let long: Vec<String> = (0..40).map(|i| format!("{i:0>60}")).collect();
    let long: Vec<&str> = long.iter().map(String::as_str).collect();
    let entries = [info(3, Some("big"), &long), info(5, Some("next"), &[])];
    let mut out = Vec::new();
    let n = encode_list_page(
        &mut out,
        ConnState::Connected,
        0,
        &entries,
        false,
        MIN_LIST_PAYLOAD + 200,
    )
    .unwrap();
    assert_eq!(n, 1);
    let AdminResponse::List(page) = one(&out) else {
        panic!("not a page")
    };
    assert!(page.more);
    assert_eq!(page.next_after, 3);
    assert_eq!(page.rooms_truncated, vec![3]);
    assert!(!page.entries[0].rooms.is_empty());
    assert!(page.entries[0].rooms.len() < 40);
    assert_eq!(
        page.entries[0].rooms[..],
        entries[0].rooms[..page.entries[0].rooms.len()]
    );
    // Too small a limit is refused rather than producing an empty page.
    assert!(encode_list_page(&mut out, ConnState::Waiting, 0, &entries, false, 100).is_err());
}

#[test]
fn list_request_layout_is_as_documented() {
    let mut out = Vec::new();
    AdminRequest::List {
        state: ConnState::Waiting,
        after_id: 7,
        limit: 100,
    }
    .encode(&mut out)
    .unwrap();
    assert_eq!(payloads(&out)[0], [0x42, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 100]);
}
