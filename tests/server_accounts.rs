//! Per-user accounts over real sockets: a listed nick registers only with
//! its password (checked off the loop), unlisted nicks as before (or not at
//! all with registered-only), frames sent right after the HELLO keep their
//! order, a storm of wrong passwords leaves other clients served, and
//! logins over the check queue's bound are refused with server_full.

mod common;

use std::net::IpAddr;
use std::sync::Arc;

use common::*;
use stxchat::accounts::{UserDb, cheap_params, hash_password};
use stxchat::codec::{ClientMessage, ErrorCode};

/// A users file with `alice` and `carol` (cheap argon2 parameters: they
/// come from the PHC string).
fn users() -> Arc<UserDb> {
    let a = hash_password("alice-pw", &cheap_params()).unwrap();
    let c = hash_password("carol-pw", &cheap_params()).unwrap();
    Arc::new(UserDb::parse(&format!("# test users\nalice:{a}\ncarol:{c}\n")).unwrap())
}

fn hello_with<'a>(nick: &'a str, token: &'a str) -> ClientMessage<'a> {
    ClientMessage::Hello {
        version: 1,
        nick,
        token,
    }
}

/// Connects from `src` and sends HELLO; the first frame back.
fn login_from(addr: std::net::SocketAddr, src: IpAddr, nick: &str, token: &str) -> (Client, Msg) {
    let mut c = Client::connect_from(addr, src);
    c.nick = nick.into();
    c.send(hello_with(nick, token));
    let first = c.recv();
    (c, first)
}

fn is_welcome(m: &Msg) -> bool {
    matches!(m, Msg::Welcome { .. })
}

#[test]
fn right_wrong_and_unlisted() {
    let srv = start_with(|c| c.core.users = Some(users()));
    let local: IpAddr = "127.0.0.1".parse().unwrap();
    let (_alice, m) = login_from(srv.addr, local, "alice", "alice-pw");
    assert!(is_welcome(&m), "{m:?}");
    let (_bob, m) = login_from(srv.addr, local, "bob", "");
    assert!(
        is_welcome(&m),
        "an unlisted nick registers as before: {m:?}"
    );
    let mut wrong = Client::connect_from(srv.addr, "127.0.0.3".parse().unwrap());
    wrong.nick = "carol".into();
    wrong.send(hello_with("Carol", "alice-pw"));
    wrong.expect_closed_with(ErrorCode::AuthFailed);
}

#[test]
fn the_shared_password_still_guards_unlisted_nicks() {
    let srv = start_with(|c| {
        c.core.users = Some(users());
        c.core.password = Some("shared".into());
    });
    let local: IpAddr = "127.0.0.1".parse().unwrap();
    let (_bob, m) = login_from(srv.addr, local, "bob", "shared");
    assert!(is_welcome(&m), "{m:?}");
    let (_alice, m) = login_from(srv.addr, local, "alice", "alice-pw");
    assert!(is_welcome(&m), "a listed nick uses its own password: {m:?}");
    let mut eve = Client::connect(srv.addr);
    eve.send(hello_with("eve", "guess"));
    eve.expect_closed_with(ErrorCode::AuthFailed);
}

#[test]
fn registered_only_refuses_unlisted_nicks() {
    let srv = start_with(|c| {
        c.core.users = Some(users());
        c.core.registered_only = true;
    });
    let mut bob = Client::connect(srv.addr);
    bob.send(hello_with("bob", ""));
    bob.expect_closed_with(ErrorCode::AuthFailed);
    let (_alice, m) = login_from(srv.addr, "127.0.0.1".parse().unwrap(), "alice", "alice-pw");
    assert!(is_welcome(&m), "{m:?}");
}

#[test]
fn frames_right_after_the_hello_wait_for_the_check_and_keep_their_order() {
    let srv = start_with(|c| c.core.users = Some(users()));
    let mut c = Client::connect(srv.addr);
    c.nick = "alice".into();
    let mut bytes = encode(hello_with("alice", "alice-pw"));
    bytes.extend(encode(ClientMessage::Join { room: "side" }));
    bytes.extend(encode(ClientMessage::Say {
        room: "side",
        text: "first words",
    }));
    bytes.extend(encode(ClientMessage::Ping { token: 42 }));
    c.send_raw(&bytes);
    let mut got = Vec::new();
    loop {
        let m = c.recv();
        let done = m == Msg::Pong(42);
        got.push(m);
        if done {
            break;
        }
    }
    assert!(is_welcome(&got[0]), "{got:?}");
    let joined = got
        .iter()
        .position(|m| *m == joined("side", "alice"))
        .expect("JOINED side");
    let said = got
        .iter()
        .position(|m| matches!(m, Msg::Message { text, .. } if text == "first words"))
        .expect("the SAY's MESSAGE");
    assert!(joined < said, "{got:?}");
}

#[test]
fn a_storm_of_wrong_passwords_leaves_others_served() {
    let srv = start_with(|c| {
        c.core.users = Some(users());
        c.core.handshake_timeout_ms = 1_500;
        c.auth_workers = 1;
        c.auth_queue = 8;
    });
    let addr = srv.addr;
    let mut bob = Client::join_as(addr, "bob");
    let mut dave = Client::join_as(addr, "dave");
    // 100 wrong logins for alice from 127.0.0.1, 20 at a time.
    let storm = std::thread::spawn(move || {
        let mut outcomes = Vec::new();
        for _ in 0..5 {
            let mut wave: Vec<Client> = (0..20)
                .map(|_| {
                    let mut c = Client::connect(addr);
                    c.nick = "storm".into();
                    c.send(hello_with("alice", "wrong"));
                    c
                })
                .collect();
            for c in &mut wave {
                let got = c.until_eof();
                outcomes.push(got.last().cloned());
            }
        }
        outcomes
    });
    // Meanwhile chat goes on and a listed user from elsewhere logs in.
    for i in 0..20 {
        bob.say("lobby", &format!("hello {i}"));
        loop {
            if let Msg::Message { text, .. } = dave.recv()
                && text == format!("hello {i}")
            {
                break;
            }
        }
    }
    let (_carol, m) = login_from(addr, "127.0.0.2".parse().unwrap(), "carol", "carol-pw");
    assert!(
        is_welcome(&m),
        "a login from another address is not slowed: {m:?}"
    );
    let outcomes = storm.join().unwrap();
    assert_eq!(outcomes.len(), 100);
    for o in &outcomes {
        let ok = [
            ErrorCode::AuthFailed,
            ErrorCode::ServerFull,
            ErrorCode::Timeout,
        ]
        .iter()
        .any(|&c| o.as_ref() == Some(&err(c)));
        assert!(ok, "each wrong login ends with an ERROR: {o:?}");
    }
    assert!(
        outcomes
            .iter()
            .any(|o| o.as_ref() == Some(&err(ErrorCode::AuthFailed))),
        "some were checked and failed"
    );
    // The chatters were never disturbed.
    bob.sync();
    dave.sync();
}

#[test]
fn logins_over_the_queue_bound_get_server_full_or_are_served() {
    let srv = start_with(|c| {
        c.core.users = Some(users());
        c.auth_workers = 1;
        c.auth_queue = 1;
    });
    // Right passwords from 40 addresses (no failure slowdown), all at once.
    let mut clients: Vec<Client> = (0..40)
        .map(|i| {
            let mut c =
                Client::connect_from(srv.addr, format!("127.0.1.{}", i + 1).parse().unwrap());
            c.send(hello_with(
                if i % 2 == 0 { "alice" } else { "carol" },
                if i % 2 == 0 { "alice-pw" } else { "carol-pw" },
            ));
            c
        })
        .collect();
    for c in &mut clients {
        let m = c.recv();
        let ok =
            is_welcome(&m) || m == err(ErrorCode::ServerFull) || m == err(ErrorCode::NickTaken);
        assert!(ok, "expected WELCOME, server_full or nick_taken, got {m:?}");
    }
}
