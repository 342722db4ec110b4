//! Registration over real sockets (PROTOCOL.md 3 and 4.1): WELCOME, the
//! frames that follow it, nick rules and uniqueness, HELLO check order,
//! what is allowed before WELCOME, a second HELLO, the handshake timeout.

mod common;

use std::time::{Duration, Instant};

use common::*;
use stxchat::codec::{ClientMessage, ErrorCode, msg_type};

/// A HELLO with explicit version and token.
fn hello_with<'a>(version: u8, nick: &'a str, token: &'a str) -> ClientMessage<'a> {
    ClientMessage::Hello {
        version,
        nick,
        token,
    }
}

/// Connects, sends `m`, and asserts the connection is closed with ERROR `code` as the only frame.
fn refused(addr: std::net::SocketAddr, m: ClientMessage<'_>, code: ErrorCode) {
    let mut c = Client::connect(addr);
    c.send(m);
    let before = c.expect_closed_with(code);
    assert_eq!(before, vec![], "{m:?}: nothing but the ERROR");
}

#[test]
fn welcome_carries_version_nick_server_name_max_payload_and_keepalive() {
    let srv = start_with(|c| {
        c.core.server_name = "test-server".into();
        c.core.max_payload = 1000;
        c.core.keepalive_secs = 7;
    });
    let mut c = Client::connect(srv.addr);
    c.send(hello("Alice"));
    c.expect(Msg::Welcome {
        nick: "Alice".into(),
        server: "test-server".into(),
        max_payload: 1000,
        keepalive: 7,
    });
}

#[test]
fn registration_sends_welcome_then_history_then_members_then_joined_back_to_back() {
    let srv = TestServer::start(config());
    let mut alice = Client::join_as(srv.addr, "alice");
    for i in 0..3 {
        alice.say("lobby", &format!("early {i}"));
    }
    alice.sync();
    // Alice keeps talking while bob registers: nothing may come between bob's
    // registration frames, and nothing may be lost between history and live.
    let talker = std::thread::spawn(move || {
        for i in 0..300 {
            alice.say("lobby", &format!("live {i}"));
        }
        alice.sync();
        alice
    });
    let mut bob = Client::connect(srv.addr);
    bob.nick = "bob".into();
    bob.send(hello("bob"));
    assert!(matches!(bob.recv(), Msg::Welcome { nick, .. } if nick == "bob"));
    let mut history = Vec::new();
    let members = loop {
        match bob.recv() {
            m @ Msg::Message { replayed: true, .. } => history.push(m),
            m @ Msg::Members { .. } => break m,
            other => panic!("expected history or MEMBERS, got {other:?}"),
        }
    };
    assert_eq!(
        sorted_members(vec![members]),
        vec![common::members("lobby", &["alice", "bob"])]
    );
    bob.expect(joined("lobby", "bob"));
    assert!(history.len() >= 3, "the three early messages are replayed");
    let seqs: Vec<u64> = history.iter().map(seq_of).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    // Live messages continue exactly where the history stopped.
    let mut live = Vec::new();
    let alice = talker.join().unwrap();
    drop(alice);
    loop {
        match bob.recv() {
            m @ Msg::Message {
                replayed: false, ..
            } => live.push(seq_of(&m)),
            Msg::Left { nick, .. } if nick == "alice" => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    let mut all = seqs.clone();
    all.extend(&live);
    assert!(
        all.windows(2).all(|w| w[1] == w[0] + 1),
        "history then live: no gap and no duplicate: {all:?}"
    );
    assert_eq!(
        *all.last().unwrap(),
        303,
        "every message of alice reached bob"
    );
}

fn seq_of(m: &Msg) -> u64 {
    match m {
        Msg::Message { seq, .. } | Msg::Private { seq, .. } => *seq,
        other => panic!("not a chat message: {other:?}"),
    }
}

#[test]
fn a_configured_default_room_is_joined_as_spelt_in_the_settings() {
    let srv = start_with(|c| c.core.default_room = Some("Main-Hall".into()));
    let (mut a, got) = Client::register(srv.addr, "a");
    assert_eq!(
        got,
        vec![members("Main-Hall", &["a"]), joined("Main-Hall", "a")]
    );
    // It is an ordinary room: it can be left, and no lobby exists.
    assert_eq!(a.part("main-hall"), vec![left("Main-Hall", "a", 0)]);
    a.send(ClientMessage::Who { room: "lobby" });
    assert_eq!(a.sync(), vec![err(ErrorCode::NoSuchRoom)]);
}

#[test]
fn members_in_registration_lists_everyone_in_any_order() {
    let srv = TestServer::start(config());
    let _a = Client::join_as(srv.addr, "a");
    let _b = Client::join_as(srv.addr, "b");
    let (_c, got) = Client::register(srv.addr, "c");
    assert_eq!(
        sorted_members(got),
        vec![members("lobby", &["a", "b", "c"]), joined("lobby", "c")]
    );
}

#[test]
fn nick_length_is_one_to_32_bytes() {
    let srv = TestServer::start(config());
    let n32 = "x".repeat(32);
    let (_c, _) = Client::register(srv.addr, &n32);
    refused(srv.addr, hello(&"y".repeat(33)), ErrorCode::BadName);
    refused(srv.addr, hello(""), ErrorCode::BadName);
    // Bytes, not characters: 16 x 'é' is 32 bytes, 11 x '€' is 33.
    let (_e, _) = Client::register(srv.addr, &"é".repeat(16));
    refused(srv.addr, hello(&"€".repeat(11)), ErrorCode::BadName);
}

#[test]
fn nick_with_white_space_or_control_is_bad_name_and_closes() {
    let srv = TestServer::start(config());
    for nick in [
        "a b",
        "a\tb",
        "a\nb",
        "a\u{a0}b",   // no-break space
        "a\u{3000}b", // ideographic space
        "a\u{2028}b", // line separator
        "a\u{85}b",   // next line (White_Space and Cc)
        "a\u{1}b",
        "a\u{7f}",
        "\u{9f}",
    ] {
        refused(srv.addr, hello(nick), ErrorCode::BadName);
    }
    // Not White_Space, not Cc: allowed.
    let (_z, _) = Client::register(srv.addr, "zero\u{200b}width");
    let (_e, _) = Client::register(srv.addr, "émile-東京");
}

#[test]
fn nick_uniqueness_is_ascii_case_insensitive_only() {
    let srv = TestServer::start(config());
    let _alice = Client::join_as(srv.addr, "Alice");
    refused(srv.addr, hello("ALICE"), ErrorCode::NickTaken);
    refused(srv.addr, hello("alice"), ErrorCode::NickTaken);
    let _e1 = Client::join_as(srv.addr, "Émile");
    // 'É' and 'é' differ beyond ASCII: a different nick.
    let _e2 = Client::join_as(srv.addr, "émile");
    // ASCII-lowercasing "ÉMILE" gives "Émile": taken.
    refused(srv.addr, hello("ÉMILE"), ErrorCode::NickTaken);
}

#[test]
fn a_nick_is_free_again_once_its_owner_has_left() {
    let srv = TestServer::start(config());
    let mut alice = Client::join_as(srv.addr, "alice");
    alice.send(ClientMessage::Bye);
    alice.until_eof();
    let (_again, got) = Client::register(srv.addr, "ALICE");
    assert_eq!(
        sorted_members(got),
        vec![members("lobby", &["ALICE"]), joined("lobby", "ALICE")]
    );
}

#[test]
fn nick_is_echoed_as_spelt_in_hello_everywhere() {
    let srv = TestServer::start(config());
    let mut bob = Client::join_as(srv.addr, "bob");
    let (mut m, got) = Client::register(srv.addr, "MiXeD");
    assert_eq!(
        sorted_members(got),
        vec![
            members("lobby", &["MiXeD", "bob"]),
            joined("lobby", "MiXeD")
        ]
    );
    assert_eq!(bob.sync(), vec![joined("lobby", "MiXeD")]);
    bob.send(ClientMessage::Who { room: "lobby" });
    assert_eq!(
        sorted_members(bob.sync()),
        vec![members("lobby", &["MiXeD", "bob"])]
    );
    m.say("lobby", "hi");
    assert_eq!(m.sync().len(), 1, "the echo");
    let got = bob.sync();
    assert!(
        matches!(&got[..], [Msg::Message { from, .. }] if from == "MiXeD"),
        "{got:?}"
    );
    bob.whisper("mixed", "psst");
    assert_eq!(bob.sync().len(), 1, "bob's copy");
    let got = m.sync();
    assert!(
        matches!(&got[..], [Msg::Private { from, to, .. }] if from == "bob" && to == "MiXeD"),
        "{got:?}"
    );
    m.whisper("BOB", "back");
    let got = m.sync();
    assert!(
        matches!(&got[..], [Msg::Private { from, to, .. }] if from == "MiXeD" && to == "bob"),
        "{got:?}"
    );
    m.send(ClientMessage::Join { room: "r" });
    m.sync();
    bob.join("r");
    m.part("r");
    m.send(ClientMessage::Bye);
    m.until_eof();
    let got = bob.sync();
    assert!(got.contains(&left("r", "MiXeD", 0)), "{got:?}");
    assert!(got.contains(&left("lobby", "MiXeD", 1)), "{got:?}");
}

#[test]
fn malformed_hello_is_answered_and_the_connection_stays_pending() {
    let srv = TestServer::start(config());
    let mut c = Client::connect(srv.addr);
    let good = payload(hello("alice"));
    let mut extra = good.clone();
    extra.push(0);
    let mut bad_utf8 = vec![msg_type::HELLO, 1, 2, 0xc3, 0x28, 0];
    let past_end = vec![msg_type::HELLO, 1, 9, b'a', 0];
    for p in [
        vec![msg_type::HELLO],
        vec![msg_type::HELLO, 1],
        good[..good.len() - 1].to_vec(),
        extra,
        std::mem::take(&mut bad_utf8),
        past_end,
        // Structure is checked before the version.
        vec![msg_type::HELLO, 2, 1, b'a'],
    ] {
        c.send_payload(&p);
        assert_eq!(c.sync(), vec![err(ErrorCode::Malformed)], "{p:x?}");
    }
    // Still pending: other types are not_registered, so register instead.
    c.send(hello("alice"));
    assert!(matches!(c.recv(), Msg::Welcome { nick, .. } if nick == "alice"));
}

#[test]
fn hello_checks_version_then_token_then_nick_syntax_then_uniqueness() {
    let srv = start_with(|c| c.core.password = Some("pw".into()));
    let mut first = Client::connect(srv.addr);
    first.send(hello_with(1, "taken", "pw"));
    assert!(matches!(first.recv(), Msg::Welcome { .. }));
    // Everything wrong: the version is reported.
    refused(
        srv.addr,
        hello_with(3, "a b", "nope"),
        ErrorCode::BadVersion,
    );
    refused(
        srv.addr,
        hello_with(0, "taken", "nope"),
        ErrorCode::BadVersion,
    );
    // Version right, token and nick wrong: the token is reported.
    refused(
        srv.addr,
        hello_with(1, "a b", "nope"),
        ErrorCode::AuthFailed,
    );
    refused(
        srv.addr,
        hello_with(1, "taken", "nope"),
        ErrorCode::AuthFailed,
    );
    // Token right, nick invalid and (case-insensitively) taken.
    refused(srv.addr, hello_with(1, "TAKEN ", "pw"), ErrorCode::BadName);
    refused(srv.addr, hello_with(1, "TAKEN", "pw"), ErrorCode::NickTaken);
}

#[test]
fn password_mismatch_is_auth_failed_whatever_the_wrong_token() {
    let srv = start_with(|c| c.core.password = Some("s3cret".into()));
    for token in [
        "",
        "s",
        "s3cre",
        "s3cret!",
        "S3CRET",
        "xxxxxx",
        "s3cret\u{0}",
    ] {
        refused(
            srv.addr,
            hello_with(1, "alice", token),
            ErrorCode::AuthFailed,
        );
    }
    let mut c = Client::connect(srv.addr);
    c.send(hello_with(1, "alice", "s3cret"));
    assert!(matches!(c.recv(), Msg::Welcome { .. }));
}

#[test]
fn token_is_ignored_without_password() {
    let srv = TestServer::start(config());
    let mut c = Client::connect(srv.addr);
    c.send(hello_with(1, "alice", "anything at all"));
    assert!(matches!(c.recv(), Msg::Welcome { .. }));
}

#[test]
fn other_types_before_welcome_are_not_registered_and_close() {
    let srv = TestServer::start(config());
    let known = [
        payload(ClientMessage::Join { room: "r" }),
        payload(ClientMessage::Part { room: "r" }),
        payload(ClientMessage::Say {
            room: "lobby",
            text: "hi",
        }),
        payload(ClientMessage::Whisper {
            to: "x",
            text: "hi",
        }),
        payload(ClientMessage::Who { room: "lobby" }),
    ];
    // Malformed known types and unknown types (admin range included): also not_registered.
    let others = [
        vec![msg_type::JOIN],
        vec![msg_type::SAY, 5, b'l'],
        vec![0x00],
        vec![0x09, 1, 2, 3],
        vec![0x40],
        vec![0x5f],
        vec![0x81],
        vec![0xc0],
        vec![0xff],
    ];
    for p in known.iter().chain(others.iter()) {
        let mut c = Client::connect(srv.addr);
        c.send_payload(p);
        assert_eq!(
            c.expect_closed_with(ErrorCode::NotRegistered),
            vec![],
            "{p:x?}"
        );
    }
    // Also after a PING: the connection was pending all along.
    let mut c = Client::connect(srv.addr);
    c.sync();
    c.send(ClientMessage::Who { room: "lobby" });
    assert_eq!(c.expect_closed_with(ErrorCode::NotRegistered), vec![]);
}

#[test]
fn ping_before_welcome_is_answered() {
    let srv = TestServer::start(config());
    let mut c = Client::connect(srv.addr);
    c.send(ClientMessage::Ping { token: 42 });
    c.expect(Msg::Pong(42));
    c.send(ClientMessage::Ping { token: u64::MAX });
    c.expect(Msg::Pong(u64::MAX));
    // A malformed PING is malformed, and the connection stays pending.
    c.send_payload(&[msg_type::PING, 0, 0, 0]);
    c.expect_error(ErrorCode::Malformed);
    c.send(hello("alice"));
    assert!(matches!(c.recv(), Msg::Welcome { .. }));
}

#[test]
fn bye_before_welcome_just_closes() {
    let srv = TestServer::start(config());
    let mut c = Client::connect(srv.addr);
    c.send(ClientMessage::Bye);
    assert_eq!(c.until_eof(), vec![]);
    // A BYE with a payload is malformed, not a BYE.
    let mut c = Client::connect(srv.addr);
    c.send_payload(&[msg_type::BYE, 0]);
    c.expect_error(ErrorCode::Malformed);
    c.send(ClientMessage::Bye);
    assert_eq!(c.until_eof(), vec![]);
}

#[test]
fn second_hello_is_already_registered_whatever_its_payload() {
    let srv = TestServer::start(config());
    let mut bob = Client::join_as(srv.addr, "bob");
    let mut a = Client::join_as(srv.addr, "alice");
    bob.sync();
    let hellos = [
        payload(hello("alice")),
        payload(hello("carol")),
        payload(hello("bob")),
        payload(hello_with(9, "alice", "")),
        payload(hello("a b")),
        vec![msg_type::HELLO],
        vec![msg_type::HELLO, 1, 200, 0xff],
    ];
    for p in &hellos {
        a.send_payload(p);
        assert_eq!(a.sync(), vec![err(ErrorCode::AlreadyRegistered)], "{p:x?}");
    }
    // Nothing changed: still alice, still in the lobby.
    bob.whisper("alice", "still you?");
    assert_eq!(bob.sync().len(), 1, "bob's own PRIVATE, no JOINED or LEFT");
    assert!(matches!(&a.sync()[..], [Msg::Private { to, .. }] if to == "alice"));
    bob.send_expect_error(
        ClientMessage::Whisper {
            to: "carol",
            text: "x",
        },
        ErrorCode::NoSuchNick,
    );
}

#[test]
fn handshake_timeout_closes_a_pending_connection_even_while_it_pings() {
    const TIMEOUT: Duration = Duration::from_millis(600);
    let srv = start_with(|c| c.core.handshake_timeout_ms = TIMEOUT.as_millis() as u64);
    let started = Instant::now();
    let mut c = Client::connect(srv.addr);
    let mut pongs = 0;
    let mut token = 0u64;
    let mut timed_out = false;
    // Keep the connection busy with PINGs and malformed HELLOs: neither
    // extends the handshake timer.
    'outer: while started.elapsed() < WAIT {
        token += 1;
        let mut bytes = frame(&[msg_type::HELLO]);
        bytes.extend_from_slice(&encode(ClientMessage::Ping { token }));
        if !c.try_send_raw(&bytes) {
            break;
        }
        for expected in [err(ErrorCode::Malformed), Msg::Pong(token)] {
            match c.recv() {
                m if m == expected => pongs += usize::from(matches!(m, Msg::Pong(_))),
                m if m == err(ErrorCode::Timeout) => {
                    timed_out = true;
                    break 'outer;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let rest = c.until_eof();
    if timed_out {
        assert_eq!(rest, vec![], "ERROR timeout is the last frame");
    } else {
        assert_eq!(rest.last(), Some(&err(ErrorCode::Timeout)), "{rest:?}");
    }
    assert!(
        started.elapsed() >= TIMEOUT,
        "closed before the handshake timeout"
    );
    assert!(pongs >= 3, "PINGs were answered while pending ({pongs})");
}

#[test]
fn handshake_timeout_sends_error_timeout_as_the_last_frame() {
    let srv = start_with(|c| c.core.handshake_timeout_ms = 200);
    let mut silent = Client::connect(srv.addr);
    assert_eq!(silent.expect_closed_with(ErrorCode::Timeout), vec![]);
    // A client that registers in time is not affected.
    let mut ok = Client::join_as(srv.addr, "ok");
    std::thread::sleep(Duration::from_millis(400));
    ok.expect_nothing();
}
