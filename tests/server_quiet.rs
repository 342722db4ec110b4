//! Quiet rooms over real sockets (PROTOCOL.md section 5, version 2): the
//! join sequence, PART and every other departure, ROOM counts, WHO, the
//! transitions in and out, version-1 clients in a quiet room, versions, and
//! `presence_limit` 0. A small presence limit keeps the rooms small. Timing
//! is never checked: ROOM counts are awaited (bounded), not timed.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::*;
use stxchat::admin::client::AdminClient;
use stxchat::codec::{ClientMessage, ErrorCode};

/// A server whose rooms turn quiet above `limit` members.
fn quiet_server(limit: usize) -> TestServer {
    start_with(|c| c.core.presence_limit = limit)
}

/// Registers `nick` with HELLO version 2; returns the client and what came
/// after WELCOME up to a barrier.
fn v2(srv: &TestServer, nick: &str) -> (Client, Vec<Msg>) {
    Client::register_v(srv.addr, nick, 2)
}

fn room(flags: u8, n: u32) -> Msg {
    Msg::Room("lobby".into(), flags, n)
}

fn set(nicks: &[String]) -> BTreeSet<String> {
    nicks.iter().cloned().collect()
}

fn names(nicks: &[&str]) -> BTreeSet<String> {
    nicks.iter().map(|n| n.to_string()).collect()
}

/// Reads `c` (a barrier every 50 ms, which also keeps it alive) until a ROOM
/// of `lobby` with `n` members; returns everything read, that ROOM included.
fn until_room(c: &mut Client, n: u32) -> Vec<Msg> {
    let deadline = Instant::now() + WAIT * 3;
    let mut got = Vec::new();
    loop {
        for m in c.sync() {
            let done = matches!(&m, Msg::Room(r, _, k) if r == "lobby" && *k == n);
            got.push(m);
            if done {
                return got;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{}: no ROOM with {n} members; got {got:?}",
            c.nick
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// No JOINED or LEFT (of anyone) in `got`.
fn no_presence(who: &str, got: &[Msg]) {
    assert!(
        got.iter()
            .all(|m| !matches!(m, Msg::Joined { .. } | Msg::Left { .. })),
        "{who}: JOINED or LEFT in a quiet room: {got:?}"
    );
}

/// Only ROOM frames of `lobby` (the once-a-second count may come at any time).
fn only_counts(who: &str, got: &[Msg]) {
    assert!(
        got.iter()
            .all(|m| matches!(m, Msg::Room(r, 1, _) if r == "lobby")),
        "{who}: expected at most ROOM counts, got {got:?}"
    );
}

#[test]
fn welcome_echoes_version_2_and_version_3_is_refused() {
    let srv = quiet_server(4);
    let (_two, rest) = v2(&srv, "two");
    assert_eq!(
        rest,
        vec![members("lobby", &["two"]), joined("lobby", "two")]
    );
    let (_one, _) = Client::register(srv.addr, "one");
    for version in [0, 3] {
        let mut c = Client::connect(srv.addr);
        c.send(ClientMessage::Hello {
            version,
            nick: "three",
            token: "",
        });
        assert_eq!(c.expect_closed_with(ErrorCode::BadVersion), vec![]);
    }
}

#[test]
fn quiet_join_sequence_and_transition_in() {
    let srv = quiet_server(4);
    let mut first: Vec<Client> = ["a", "b", "c", "d"].iter().map(|n| v2(&srv, n).0).collect();
    first[2].say("lobby", "from c");
    first[2].sync();
    first[0].say("lobby", "from a");
    for c in &mut first {
        c.sync();
    }
    // The fifth member takes the room above 4: a quiet JOIN.
    let (mut e, rest) = v2(&srv, "e");
    assert_eq!(rest.len(), 5, "{rest:?}");
    assert!(matches!(&rest[0], Msg::Message { replayed: true, text, .. } if text == "from c"));
    assert!(matches!(&rest[1], Msg::Message { replayed: true, text, .. } if text == "from a"));
    let Msg::Partial { room: r, nicks } = &rest[2] else {
        panic!("expected a partial MEMBERS, got {:?}", rest[2]);
    };
    assert_eq!(r, "lobby");
    assert_eq!(
        nicks[..2],
        ["a".to_string(), "c".to_string()],
        "recent authors first"
    );
    assert_eq!(set(nicks), names(&["a", "b", "c", "d", "e"]));
    assert_eq!(rest[3..], [room(1, 5), joined("lobby", "e")]);
    // Every other member: ROOM (quiet) at once, before any later frame.
    e.say("lobby", "after");
    assert!(matches!(&e.sync()[..], [Msg::Message { text, .. }] if text == "after"));
    for c in &mut first {
        let got = c.sync();
        assert_eq!(got[0], room(1, 5), "{}", c.nick);
        assert!(matches!(&got[1], Msg::Message { text, .. } if text == "after"));
        assert_eq!(got.len(), 2, "{}: {got:?}", c.nick);
    }
    // A later JOIN: nothing to the others but, in time, the new count.
    let (_f, rest) = v2(&srv, "f");
    assert!(matches!(rest.last(), Some(Msg::Joined { nick, .. }) if nick == "f"));
    for c in first.iter_mut().chain([&mut e]) {
        let got = until_room(c, 6);
        no_presence(&c.nick.clone(), &got);
        only_counts(&c.nick.clone(), &got);
    }
}

#[test]
fn part_in_a_quiet_room_tells_only_the_leaver() {
    let srv = quiet_server(2);
    let mut a = v2(&srv, "a").0;
    let _b = v2(&srv, "b").0;
    let mut c = v2(&srv, "c").0;
    let _d = v2(&srv, "d").0;
    until_room(&mut a, 4);
    let mut got = c.part("lobby");
    got.retain(|m| !matches!(m, Msg::Room(..)));
    assert_eq!(got, vec![left("lobby", "c", 0)]);
    let got = until_room(&mut a, 3);
    only_counts("a", &got);
    c.expect_nothing();
}

#[test]
fn quit_reset_error_and_kick_from_a_quiet_room_send_no_left() {
    let srv = start_with(|c| {
        c.core.presence_limit = 1;
        c.admin.bind = Some("127.0.0.1:0".parse().unwrap());
    });
    let mut w = v2(&srv, "w").0;
    let mut quitter = v2(&srv, "quitter").0;
    let resetter = v2(&srv, "resetter").0;
    let mut broken = v2(&srv, "broken").0;
    let mut kicked = v2(&srv, "kicked").0;
    until_room(&mut w, 5);
    quitter.send(ClientMessage::Bye);
    no_presence("quitter", &quitter.until_eof());
    drop(resetter);
    broken.send_raw(&[0xff]);
    broken.expect_closed_with(ErrorCode::BadFrame);
    let admin = srv.admin.expect("admin listener");
    let mut admin = AdminClient::connect(&admin.to_string(), None, WAIT).expect("admin");
    assert!(admin.kick("kicked", "test").unwrap());
    kicked.expect_closed_with(ErrorCode::Kicked);
    // Still quiet with one member (1 > 1 / 2): counts, never LEFT.
    let got = until_room(&mut w, 1);
    only_counts("w", &got);
}

#[test]
fn a_timeout_from_a_quiet_room_sends_no_left() {
    let srv = start_with(|c| {
        c.core.presence_limit = 1;
        c.core.keepalive_secs = 1;
    });
    // `w` keeps itself alive with barriers; `silent` times out after 1.5 s.
    let mut w = v2(&srv, "w").0;
    let mut silent = v2(&srv, "silent").0;
    let got = until_room(&mut w, 1);
    only_counts("w", &got);
    no_presence("silent", &silent.expect_closed_with(ErrorCode::Timeout));
}

#[test]
fn a_slow_consumer_dropped_from_a_quiet_room_sends_no_left() {
    let srv = start_with(|c| {
        c.core.presence_limit = 1;
        c.core.history = 0;
        c.core.max_outbuf = 16 * 1024;
    });
    let mut w = v2(&srv, "w").0;
    // A small receive window, and it never reads.
    let mut slow = Client::connect_with_rcvbuf(srv.addr, 4096);
    slow.nick = "slow".into();
    slow.version = 2;
    slow.send(ClientMessage::Hello {
        version: 2,
        nick: "slow",
        token: "",
    });
    until_room(&mut w, 2);
    let text = "s".repeat(2000);
    let deadline = Instant::now() + WAIT * 3;
    let mut got = Vec::new();
    while !got.contains(&room(1, 1)) {
        for _ in 0..20 {
            w.say("lobby", &text);
        }
        got.extend(
            w.sync()
                .into_iter()
                .filter(|m| !matches!(m, Msg::Message { .. })),
        );
        assert!(Instant::now() < deadline, "slow not dropped: {got:?}");
    }
    only_counts("w", &got);
}

#[test]
fn who_of_a_quiet_room_is_one_partial_list_then_room() {
    let srv = quiet_server(2);
    let mut members_: Vec<Client> = ["a", "b", "c"].iter().map(|n| v2(&srv, n).0).collect();
    members_[1].say("lobby", "by b");
    members_[1].sync();
    let mut asker = v2(&srv, "asker").0;
    asker.part("lobby");
    until_room(&mut members_[0], 3);
    asker.send(ClientMessage::Who { room: "lobby" });
    let got = asker.sync();
    let [Msg::Partial { nicks, .. }, r] = &got[..] else {
        panic!("expected partial MEMBERS and ROOM, got {got:?}");
    };
    assert_eq!(nicks[0], "b", "the recent author first");
    assert_eq!(set(nicks), names(&["a", "b", "c"]));
    assert_eq!(*r, room(1, 3));
    // Version 1: the list without bit 1, no ROOM.
    let (mut old, _) = Client::register(srv.addr, "old");
    old.part("lobby");
    old.send(ClientMessage::Who { room: "lobby" });
    let got = old.sync();
    let [
        Msg::Members {
            more: false, nicks, ..
        },
    ] = &got[..]
    else {
        panic!("expected one MEMBERS, got {got:?}");
    };
    assert_eq!(set(nicks), names(&["a", "b", "c"]));
}

#[test]
fn transition_out_at_half_the_limit_sends_full_members_then_room() {
    let srv = quiet_server(4);
    let mut a = v2(&srv, "a").0;
    let (mut old, _) = Client::register(srv.addr, "old");
    let mut rest: Vec<Client> = ["b", "c", "d"].iter().map(|n| v2(&srv, n).0).collect();
    // 5 > 4: quiet.
    until_room(&mut a, 5);
    old.sync();
    // 5 -> 3 (a BYE and a PART): still quiet.
    let mut c = rest.pop().unwrap();
    c.send(ClientMessage::Bye);
    c.until_eof();
    rest[1].part("lobby");
    until_room(&mut a, 3);
    // 3 -> 2 by a quit: back to normal, in one piece and with no LEFT.
    let mut b = rest.remove(0);
    b.send(ClientMessage::Bye);
    b.until_eof();
    let got = until_room(&mut a, 2);
    let n = got.len();
    assert!(n >= 2, "{got:?}");
    assert_eq!(
        sorted_members(got[n - 2..].to_vec()),
        [members("lobby", &["a", "old"]), room(0, 2)]
    );
    only_counts("a", &got[..n - 2]);
    let got = old.sync();
    assert_eq!(sorted_members(got), [members("lobby", &["a", "old"])]);
    // JOINED and LEFT are announced again.
    let (mut z, rest) = v2(&srv, "z");
    assert_eq!(
        sorted_members(rest),
        [members("lobby", &["a", "old", "z"]), joined("lobby", "z")]
    );
    assert_eq!(a.sync(), [joined("lobby", "z")]);
    assert_eq!(old.sync(), [joined("lobby", "z")]);
    z.part("lobby");
    assert_eq!(a.sync(), [left("lobby", "z", 0)]);
}

#[test]
fn a_version_1_client_in_a_quiet_room_sees_no_room_no_bit_1_no_presence() {
    let srv = quiet_server(2);
    let (mut old, _) = Client::register(srv.addr, "old");
    let _a = v2(&srv, "a").0;
    assert_eq!(old.sync(), [joined("lobby", "a")]);
    let (late, rest) = Client::register(srv.addr, "late");
    // Its partial list, as a plain MEMBERS, and its own JOINED.
    let [
        Msg::Members {
            more: false, nicks, ..
        },
        j,
    ] = &rest[..]
    else {
        panic!("expected MEMBERS and JOINED, got {rest:?}");
    };
    assert_eq!(set(nicks), names(&["old", "a", "late"]));
    assert_eq!(*j, joined("lobby", "late"));
    drop(late);
    let _b = v2(&srv, "b").0;
    // `old` gets nothing: the test client panics on a ROOM or bit 1 for
    // version 1, and no JOINED or LEFT of others come.
    std::thread::sleep(Duration::from_millis(1500));
    old.expect_nothing();
}

#[test]
fn presence_limit_0_keeps_version_1_presence_for_every_client() {
    let srv = quiet_server(0);
    let mut first = v2(&srv, "n0").0;
    let mut all = Vec::new();
    for i in 1..12 {
        let nick = format!("n{i}");
        let (c, rest) = v2(&srv, &nick);
        assert!(
            rest.iter()
                .all(|m| matches!(m, Msg::Members { .. } | Msg::Joined { .. }))
        );
        all.push(c);
    }
    let got = first.sync();
    assert_eq!(got.len(), 11);
    assert!(got.iter().all(|m| matches!(m, Msg::Joined { .. })));
    all.pop().unwrap().part("lobby");
    assert_eq!(first.sync(), [left("lobby", "n11", 0)]);
}
