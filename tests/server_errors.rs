//! Errors over real sockets (PROTOCOL.md 1, 3 and 4.3): framing errors close
//! with bad_frame last, malformed and unknown payloads keep the connection,
//! text rules, the too_long boundary, the order of SAY/WHISPER checks, frames
//! batched and split across reads, and the rate limit.

mod common;

use std::time::Duration;

use common::*;
use stxchat::admin::client::AdminClient;
use stxchat::codec::{ClientMessage, ErrorCode, max_message_text, max_private_text, msg_type};
use stxchat::core::RateLimit;

/// The five framing error kinds, as bytes a client might send (max_payload 4096).
fn bad_frames() -> Vec<(&'static str, Vec<u8>)> {
    let ping = encode(ClientMessage::Ping { token: 1 });
    let n = ping.len();
    let mut missing_etx = ping.clone();
    missing_etx[n - 1] = 0x04;
    let mut bad_crc = ping.clone();
    bad_crc[n - 2] ^= 0x01;
    vec![
        ("garbage", b"GET / HTTP/1.1\r\n\r\n".to_vec()),
        ("garbage NUL", vec![0x00]),
        (
            "LEN 0",
            vec![0x02, 0x00, 0x00, 0xde, 0xad, 0xbe, 0xef, 0x03],
        ),
        // Detected from the LEN bytes alone: nothing more is sent.
        ("LEN > max_payload", vec![0x02, 0x10, 0x01]),
        ("LEN 65535", vec![0x02, 0xff, 0xff]),
        ("missing ETX", missing_etx),
        ("bad checksum", bad_crc),
    ]
}

#[test]
fn every_framing_error_before_welcome_gives_bad_frame_as_the_last_frame() {
    let srv = TestServer::start(config());
    for (kind, bytes) in bad_frames() {
        let mut c = Client::connect(srv.addr);
        c.send_raw(&bytes);
        assert_eq!(c.expect_closed_with(ErrorCode::BadFrame), vec![], "{kind}");
    }
    // After a PONG, and with a valid PING after the bad bytes: the server
    // does not resynchronise, so that PING is never answered.
    for (kind, bytes) in bad_frames() {
        let mut c = Client::connect(srv.addr);
        let mut all = encode(ClientMessage::Ping { token: 5 });
        all.extend_from_slice(&bytes);
        all.extend(encode(ClientMessage::Ping { token: 6 }));
        c.send_raw(&all);
        assert_eq!(
            c.expect_closed_with(ErrorCode::BadFrame),
            vec![Msg::Pong(5)],
            "{kind}"
        );
    }
}

#[test]
fn every_framing_error_after_welcome_gives_bad_frame_last_and_left_reason_4() {
    let srv = TestServer::start(config());
    let mut watcher = Client::join_as(srv.addr, "watcher");
    for (i, (kind, bytes)) in bad_frames().into_iter().enumerate() {
        let nick = format!("c{i}");
        let mut c = Client::join_as(srv.addr, &nick);
        // Frames before the bad bytes are handled; nothing after them is.
        let mut all = encode(ClientMessage::Say {
            room: "lobby",
            text: "before",
        });
        all.extend_from_slice(&bytes);
        all.extend(encode(ClientMessage::Say {
            room: "lobby",
            text: "after",
        }));
        all.extend(encode(ClientMessage::Ping { token: 6 }));
        c.send_raw(&all);
        let got = c.expect_closed_with(ErrorCode::BadFrame);
        assert!(
            matches!(&got[..], [Msg::Message { text, .. }] if text == "before"),
            "{kind}: {got:?}"
        );
        let seen = watcher.sync();
        let texts: Vec<&Msg> = seen
            .iter()
            .filter(|m| matches!(m, Msg::Message { .. }))
            .collect();
        assert_eq!(
            texts.len(),
            1,
            "{kind}: only 'before' reached the room: {seen:?}"
        );
        assert_eq!(seen.last(), Some(&left("lobby", &nick, 4)), "{kind}");
    }
}

#[test]
fn input_after_a_closing_error_is_discarded_and_the_close_is_clean() {
    let srv = TestServer::start(config());
    let mut c = Client::join_as(srv.addr, "alice");
    c.send_raw(&[0x02, 0x00, 0x00]);
    // Keep talking after the bad frame: the server reads and discards it
    // while closing, so the peer sees ERROR then a clean EOF, not a reset.
    let ping = encode(ClientMessage::Ping { token: 1 });
    let junk: Vec<u8> = ping.iter().copied().cycle().take(64 * 1024).collect();
    for _ in 0..4 {
        if !c.try_send_raw(&junk) {
            break;
        }
    }
    c.stream.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(c.expect_closed_with(ErrorCode::BadFrame), vec![]);
    assert!(!c.was_reset(), "closed with a reset");
}

#[test]
fn the_payload_limit_is_the_servers_own_before_and_after_welcome() {
    const MAX: usize = 600;
    let srv = start_with(|c| c.core.max_payload = MAX);
    let at_limit = |len: usize| -> Vec<u8> {
        // An unknown-type payload of exactly `len` bytes.
        let mut p = vec![0x7e];
        p.resize(len, b'x');
        frame(&p)
    };
    // Pending: LEN = max is a frame (answered not_registered), max + 1 is bad_frame.
    let mut c = Client::connect(srv.addr);
    c.send_raw(&at_limit(MAX));
    c.expect_closed_with(ErrorCode::NotRegistered);
    let mut c = Client::connect(srv.addr);
    c.send_raw(&at_limit(MAX + 1));
    c.expect_closed_with(ErrorCode::BadFrame);
    // Registered: max is unknown_type (connection stays), max + 1 closes.
    let mut c = Client::join_as(srv.addr, "alice");
    c.send_raw(&at_limit(MAX));
    assert_eq!(c.sync(), vec![err(ErrorCode::UnknownType)]);
    c.send_raw(&at_limit(MAX + 1));
    c.expect_closed_with(ErrorCode::BadFrame);
}

#[test]
fn malformed_payloads_are_answered_and_the_connection_stays_usable() {
    let srv = TestServer::start(config());
    let mut c = Client::join_as(srv.addr, "alice");
    let mut join_extra = payload(ClientMessage::Join { room: "r" });
    join_extra.push(b'!');
    let cases: Vec<Vec<u8>> = vec![
        vec![msg_type::JOIN],
        vec![msg_type::JOIN, 3, b'a'],
        join_extra,
        vec![msg_type::JOIN, 2, 0xc3, 0x28],
        vec![msg_type::PART, 2, 0xff, 0xfe],
        vec![msg_type::SAY, 5, b'l', b'o', b'b', b'b', b'y'],
        vec![
            msg_type::SAY,
            5,
            b'l',
            b'o',
            b'b',
            b'b',
            b'y',
            0,
            9,
            b'h',
            b'i',
        ],
        vec![msg_type::SAY, 5, b'l', b'o', b'b', b'b', b'y', 0, 1, 0x80],
        vec![msg_type::WHISPER, 1, b'a', 0],
        vec![msg_type::WHO],
        vec![msg_type::WHO, 1, b'a', b'b'],
        vec![msg_type::PING, 0, 0, 0, 0, 0, 0, 0],
        vec![msg_type::PING, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        vec![msg_type::BYE, 0],
    ];
    for p in &cases {
        c.send_payload(p);
        assert_eq!(c.sync(), vec![err(ErrorCode::Malformed)], "{p:x?}");
    }
    // Nothing happened: no room r, still in the lobby, still registered.
    c.send_expect_error(ClientMessage::Who { room: "r" }, ErrorCode::NoSuchRoom);
    c.say("lobby", "still here");
    assert!(matches!(&c.sync()[..], [Msg::Message { text, .. }] if text == "still here"));
}

#[test]
fn unknown_types_after_welcome_are_unknown_type_and_the_connection_stays() {
    let srv = TestServer::start(config());
    let mut c = Client::join_as(srv.addr, "alice");
    for ty in [
        0x00u8, 0x09, 0x3f, 0x40, 0x4a, 0x5f, 0x7f, 0x81, 0x88, 0xc0, 0xdf, 0xff,
    ] {
        c.send_payload(&[ty]);
        c.send_payload(&[ty, 1, 2, 3]);
        assert_eq!(
            c.sync(),
            vec![err(ErrorCode::UnknownType), err(ErrorCode::UnknownType)],
            "type {ty:#x}"
        );
    }
    c.say("lobby", "fine");
    assert_eq!(c.sync().len(), 1);
}

#[test]
fn text_must_be_non_empty_without_control_characters_but_lf_and_tab() {
    let srv = TestServer::start(config());
    let mut a = Client::join_as(srv.addr, "alice");
    let mut b = Client::join_as(srv.addr, "bob");
    a.sync();
    for text in [
        "",
        "\u{7}",
        "cr\r",
        "nul\u{0}",
        "del\u{7f}",
        "nel\u{85}",
        "esc\u{1b}[0m",
        "\u{9f}",
    ] {
        a.send_expect_error(
            ClientMessage::Say {
                room: "lobby",
                text,
            },
            ErrorCode::Malformed,
        );
        a.send_expect_error(
            ClientMessage::Whisper { to: "bob", text },
            ErrorCode::Malformed,
        );
    }
    assert_eq!(b.sync(), vec![], "rejected messages are dropped");
    let ok = "two\nlines\tand a tab, spaces, \u{a0}\u{3000} and émoji 🎉";
    a.say("lobby", ok);
    a.whisper("bob", ok);
    let got = a.sync();
    assert!(matches!(&got[0], Msg::Message { text, .. } if text == ok));
    assert!(matches!(&got[1], Msg::Private { text, .. } if text == ok));
    assert_eq!(b.sync(), got);
}

#[test]
fn too_long_is_exact_for_say_and_whisper() {
    for max in [512usize, 4096] {
        let srv = start_with(|c| c.core.max_payload = max);
        let mut a = Client::join_as(srv.addr, "alice");
        let mut b = Client::join_as(srv.addr, "bob-the-builder");
        a.join("a-room");
        b.join("a-room");
        a.sync();
        // SAY: the longest text makes a MESSAGE of exactly max_payload.
        let fits = max_message_text(max, "a-room", "alice");
        a.say("a-room", &"x".repeat(fits));
        let got = a.sync();
        assert!(
            matches!(&got[..], [Msg::Message { text, .. }] if text.len() == fits),
            "{max}"
        );
        a.send_expect_error(
            ClientMessage::Say {
                room: "a-room",
                text: &"x".repeat(fits + 1),
            },
            ErrorCode::TooLong,
        );
        // Multi-byte text counts bytes: one byte too many with a 2-byte char.
        let mut text = "é".repeat(fits / 2);
        if fits.is_multiple_of(2) {
            text.pop();
            text.push_str("xé");
        } else {
            text.push('é');
        }
        assert_eq!(text.len(), fits + 1);
        a.send_expect_error(
            ClientMessage::Say {
                room: "a-room",
                text: &text,
            },
            ErrorCode::TooLong,
        );
        // The room name as its creator spelt it is what counts (same length here).
        let fits = max_message_text(max, "a-room", "bob-the-builder");
        b.say("A-ROOM", &"y".repeat(fits));
        assert_eq!(b.sync().len(), 2, "alice's MESSAGE and bob's own");
        b.send_expect_error(
            ClientMessage::Say {
                room: "A-ROOM",
                text: &"y".repeat(fits + 1),
            },
            ErrorCode::TooLong,
        );
        // WHISPER: the PRIVATE's names are the registered spellings.
        let fits = max_private_text(max, "alice", "bob-the-builder");
        a.whisper("BOB-THE-BUILDER", &"z".repeat(fits));
        let got = a.sync();
        assert!(
            matches!(&got[..], [Msg::Message { .. }, Msg::Private { text, .. }] if text.len() == fits),
            "{got:?}"
        );
        a.send_expect_error(
            ClientMessage::Whisper {
                to: "bob-the-builder",
                text: &"z".repeat(fits + 1),
            },
            ErrorCode::TooLong,
        );
        let fits = max_private_text(max, "alice", "alice");
        a.whisper("alice", &"s".repeat(fits));
        assert_eq!(a.sync().len(), 1);
        a.send_expect_error(
            ClientMessage::Whisper {
                to: "alice",
                text: &"s".repeat(fits + 1),
            },
            ErrorCode::TooLong,
        );
        // Since bob's last barrier only the accepted PRIVATE reached him.
        let got = b.sync();
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(matches!(&got[0], Msg::Private { .. }));
    }
}

#[test]
fn say_and_whisper_are_checked_structure_text_target_length_then_rate() {
    let srv = start_with(|c| {
        c.core.max_payload = 512;
        c.core.rate = Some(RateLimit {
            per_sec: 0.001,
            burst: 1,
        });
    });
    let mut a = Client::join_as(srv.addr, "alice");
    let _b = Client::join_as(srv.addr, "bob");
    let long = "x".repeat(max_message_text(512, "lobby", "alice") + 1);
    let plong = "x".repeat(max_private_text(512, "alice", "bob") + 1);
    // Use up the only rate token.
    a.say("lobby", "token");
    assert_eq!(a.sync().len(), 2, "JOINED bob and the echo");
    let one = |a: &mut Client, p: Vec<u8>, code: ErrorCode| {
        a.send_payload(&p);
        assert_eq!(a.sync(), vec![err(code)], "{p:x?}");
    };
    let mut say_extra = payload(ClientMessage::Say {
        room: "nowhere",
        text: "",
    });
    say_extra.push(0);
    one(&mut a, say_extra, ErrorCode::Malformed);
    let mut wh_extra = payload(ClientMessage::Whisper {
        to: "nobody",
        text: "",
    });
    wh_extra.push(0);
    one(&mut a, wh_extra, ErrorCode::Malformed);
    // Text before target.
    one(
        &mut a,
        payload(ClientMessage::Say {
            room: "nowhere",
            text: "",
        }),
        ErrorCode::Malformed,
    );
    one(
        &mut a,
        payload(ClientMessage::Say {
            room: "nowhere",
            text: "\u{7}",
        }),
        ErrorCode::Malformed,
    );
    one(
        &mut a,
        payload(ClientMessage::Whisper {
            to: "nobody",
            text: "",
        }),
        ErrorCode::Malformed,
    );
    // Target before length.
    one(
        &mut a,
        payload(ClientMessage::Say {
            room: "nowhere",
            text: &long,
        }),
        ErrorCode::NotInRoom,
    );
    one(
        &mut a,
        payload(ClientMessage::Whisper {
            to: "nobody",
            text: &plong,
        }),
        ErrorCode::NoSuchNick,
    );
    // Length before rate (the bucket is empty).
    one(
        &mut a,
        payload(ClientMessage::Say {
            room: "lobby",
            text: &long,
        }),
        ErrorCode::TooLong,
    );
    one(
        &mut a,
        payload(ClientMessage::Whisper {
            to: "bob",
            text: &plong,
        }),
        ErrorCode::TooLong,
    );
    // Text and target before rate, too.
    one(
        &mut a,
        payload(ClientMessage::Say {
            room: "lobby",
            text: "",
        }),
        ErrorCode::Malformed,
    );
    one(
        &mut a,
        payload(ClientMessage::Say {
            room: "nowhere",
            text: "x",
        }),
        ErrorCode::NotInRoom,
    );
    one(
        &mut a,
        payload(ClientMessage::Whisper {
            to: "nobody",
            text: "x",
        }),
        ErrorCode::NoSuchNick,
    );
    // Finally the rate.
    one(
        &mut a,
        payload(ClientMessage::Say {
            room: "lobby",
            text: "x",
        }),
        ErrorCode::RateLimited,
    );
    one(
        &mut a,
        payload(ClientMessage::Whisper {
            to: "bob",
            text: "x",
        }),
        ErrorCode::RateLimited,
    );
}

#[test]
fn many_frames_in_one_write_are_all_handled_in_order() {
    let srv = TestServer::start(config());
    let mut a = Client::join_as(srv.addr, "alice");
    let mut bytes = Vec::new();
    for i in 0..300u64 {
        bytes.extend(encode(ClientMessage::Ping { token: i }));
        if i % 3 == 0 {
            bytes.extend(encode(ClientMessage::Say {
                room: "lobby",
                text: &format!("m{i}"),
            }));
        }
    }
    bytes.extend(encode(ClientMessage::Join { room: "r" }));
    bytes.extend(encode(ClientMessage::Ping { token: 999 }));
    a.send_raw(&bytes);
    for i in 0..300u64 {
        a.expect(Msg::Pong(i));
        if i % 3 == 0 {
            assert!(matches!(a.recv(), Msg::Message { text, .. } if text == format!("m{i}")));
        }
    }
    // PING as a barrier: JOIN's frames come before its PONG.
    a.expect(members("r", &["alice"]));
    a.expect(joined("r", "alice"));
    a.expect(Msg::Pong(999));
}

#[test]
fn frames_split_byte_by_byte_across_writes_are_reassembled() {
    let srv = TestServer::start(config());
    let mut observer = Client::join_as(srv.addr, "observer");
    let mut c = Client::connect(srv.addr);
    c.nick = "slowpoke".into();
    let mut bytes = encode(hello("slowpoke"));
    bytes.extend(encode(ClientMessage::Say {
        room: "lobby",
        text: "typed one byte at a time",
    }));
    bytes.extend(encode(ClientMessage::Ping { token: 77 }));
    for b in &bytes {
        c.send_raw(std::slice::from_ref(b));
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(matches!(c.recv(), Msg::Welcome { .. }));
    let mut got = Vec::new();
    loop {
        match c.recv() {
            Msg::Pong(77) => break,
            m => got.push(m),
        }
    }
    assert!(
        matches!(got.last(), Some(Msg::Message { text, .. }) if text == "typed one byte at a time")
    );
    let seen = observer.sync();
    assert_eq!(seen.len(), 2, "JOINED and the MESSAGE: {seen:?}");
    // Split at every position of one frame, in two writes.
    let frame = encode(ClientMessage::Ping { token: 5 });
    for cut in 1..frame.len() {
        c.send_raw(&frame[..cut]);
        std::thread::sleep(Duration::from_millis(1));
        c.send_raw(&frame[cut..]);
        c.expect(Msg::Pong(5));
    }
}

#[test]
fn rate_limit_drops_each_excess_message_with_one_rate_limited() {
    let srv = start_with(|c| {
        c.core.rate = Some(RateLimit {
            per_sec: 0.001,
            burst: 3,
        })
    });
    let mut a = Client::join_as(srv.addr, "alice");
    let mut b = Client::join_as(srv.addr, "bob");
    a.sync();
    let mut bytes = Vec::new();
    for i in 0..10 {
        if i % 2 == 0 {
            bytes.extend(encode(ClientMessage::Say {
                room: "lobby",
                text: &format!("s{i}"),
            }));
        } else {
            bytes.extend(encode(ClientMessage::Whisper {
                to: "bob",
                text: &format!("w{i}"),
            }));
        }
        // PING, JOIN and WHO are not rate limited.
        bytes.extend(encode(ClientMessage::Ping { token: i }));
    }
    bytes.extend(encode(ClientMessage::Join { room: "other" }));
    bytes.extend(encode(ClientMessage::Who { room: "other" }));
    a.send_raw(&bytes);
    let got = a.sync();
    let accepted = got
        .iter()
        .filter(|m| matches!(m, Msg::Message { .. } | Msg::Private { .. }))
        .count();
    let limited = got
        .iter()
        .filter(|m| **m == err(ErrorCode::RateLimited))
        .count();
    let pongs = got.iter().filter(|m| matches!(m, Msg::Pong(_))).count();
    assert_eq!((accepted, limited, pongs), (3, 7, 10), "{got:?}");
    assert_eq!(b.sync().len(), 3, "bob got s0, w1, s2 only");
    // The per-connection bucket: bob still has his own tokens.
    b.say("lobby", "mine");
    assert_eq!(b.sync().len(), 1);
}

#[test]
fn rate_tokens_refill_up_to_the_burst() {
    let srv = start_with(|c| {
        c.core.rate = Some(RateLimit {
            per_sec: 20.0,
            burst: 1,
        })
    });
    let mut a = Client::join_as(srv.addr, "alice");
    let burst = |a: &mut Client, n: usize| -> (usize, usize) {
        let mut bytes = Vec::new();
        for i in 0..n {
            bytes.extend(encode(ClientMessage::Say {
                room: "lobby",
                text: &format!("{i}"),
            }));
        }
        a.send_raw(&bytes);
        let got = a.sync();
        let ok = got
            .iter()
            .filter(|m| matches!(m, Msg::Message { .. }))
            .count();
        let limited = got
            .iter()
            .filter(|m| **m == err(ErrorCode::RateLimited))
            .count();
        assert_eq!(ok + limited, n, "{got:?}");
        (ok, limited)
    };
    assert_eq!(burst(&mut a, 1), (1, 0));
    // After a quiet spell worth several tokens, the bucket holds only `burst`.
    std::thread::sleep(Duration::from_millis(300));
    let (ok, limited) = burst(&mut a, 4);
    assert!(ok >= 1, "refilled");
    assert!(
        limited >= 2,
        "capped at the burst of 1 (plus what refills while sending)"
    );
}

#[test]
fn kicked_by_an_operator_is_the_last_frame_and_rooms_get_left_reason_6() {
    let srv = start_with(|c| c.admin.bind = Some("127.0.0.1:0".parse().unwrap()));
    let admin_addr = srv.admin.expect("admin listener on").to_string();
    let mut admin = AdminClient::connect(&admin_addr, None, WAIT).expect("admin connects");
    let mut alice = Client::join_as(srv.addr, "alice");
    let mut bob = Client::join_as(srv.addr, "bob");
    alice.join("r");
    bob.join("r");
    // Frames queued for alice before the kick still come first.
    bob.say("r", "before the kick");
    bob.sync();
    assert!(admin.kick("Alice", "enough").unwrap());
    let got = alice.expect_closed_with(ErrorCode::Kicked);
    assert!(matches!(got.last(), Some(Msg::Message { text, .. }) if text == "before the kick"));
    assert_eq!(
        sorted(bob.sync()),
        sorted(vec![left("lobby", "alice", 6), left("r", "alice", 6)])
    );
    // The nick is free again.
    let _again = Client::join_as(srv.addr, "alice");
}
