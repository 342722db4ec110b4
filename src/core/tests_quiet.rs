//! Engine tests of protocol version 2: versions, quiet rooms (PROTOCOL.md
//! section 5) and the operator's room listing. Plain calls, the clock passed in.

use crate::codec::{ClientMessage, ErrorCode, msg_type};
use crate::core::config::CoreConfig;
use crate::core::observe::RoomInfo;
use crate::core::session::ConnId;
use crate::core::tests::{Got, Harness, cfg};

fn no_default_room() -> CoreConfig {
    CoreConfig {
        default_room: None,
        ..cfg()
    }
}

#[test]
fn rooms_by_size_lists_the_largest_first_bounded_by_the_limit() {
    let mut h = Harness::new(no_default_room());
    let names = ["a", "b", "c", "d"];
    for (i, room) in names.iter().enumerate() {
        for j in 0..=i {
            let id = h.hello(&format!("{room}{j}"));
            h.send(id, ClientMessage::Join { room });
        }
    }
    let s = h.e.rooms_by_size(2);
    assert_eq!(s.rooms, 4);
    assert_eq!(s.quiet, 0);
    let info = |name: &str, members| RoomInfo {
        name: name.into(),
        members,
        quiet: false,
    };
    assert_eq!(s.largest, vec![info("d", 4), info("c", 3)]);
    assert_eq!(h.e.rooms_by_size(10).largest.len(), 4);
    assert!(h.e.rooms_by_size(0).largest.is_empty());
    assert_eq!(h.e.rooms_by_size(0).rooms, 4);
}

fn quiet_cfg(limit: usize) -> CoreConfig {
    CoreConfig {
        presence_limit: limit,
        ..cfg()
    }
}

fn room(flags: u8, n: u32) -> Got {
    Got::Room("lobby".into(), flags, n)
}

fn partial(nicks: &[&str]) -> Got {
    Got::Partial(
        "lobby".into(),
        nicks.iter().map(|s| s.to_string()).collect(),
    )
}

fn full(nicks: &[&str]) -> Got {
    Got::Members {
        room: "lobby".into(),
        more: false,
        nicks: nicks.iter().map(|s| s.to_string()).collect(),
    }
}

fn joined(nick: &str) -> Got {
    Got::Joined("lobby".into(), nick.into())
}

fn said(h: &mut Harness, id: ConnId, text: &str) {
    h.send(
        id,
        ClientMessage::Say {
            room: "lobby",
            text,
        },
    );
}

/// Registers `nicks` with HELLO `version` (all land in `lobby`) and drains
/// everyone's output.
fn crowd(h: &mut Harness, nicks: &[&str], version: u8) -> Vec<ConnId> {
    let ids: Vec<ConnId> = nicks.iter().map(|n| h.hello_v(n, version)).collect();
    drain(h);
    ids
}

/// Drops everything queued for every connection.
fn drain(h: &mut Harness) {
    for id in h.e.conn_ids() {
        h.recv(id);
    }
}

/// The WELCOME version byte in `id`'s output (frame byte 4), taking the output.
fn welcome_version(h: &mut Harness, id: ConnId) -> Option<u8> {
    let b = h.e.queued_copy(id)?;
    let v = (b.len() > 4 && b[3] == msg_type::WELCOME).then(|| b[4]);
    let n = b.len();
    h.e.consumed(id, n);
    v
}

#[test]
fn welcome_echoes_version_1_or_2_and_refuses_others() {
    let mut h = Harness::new(cfg());
    let one = h.hello_v("one", 1);
    let two = h.hello_v("two", 2);
    assert_eq!(welcome_version(&mut h, one), Some(1));
    assert_eq!(welcome_version(&mut h, two), Some(2));
    assert_eq!(h.e.session(one).map(|s| s.version()), Some(1));
    assert_eq!(h.e.session(two).map(|s| s.version()), Some(2));
    for v in [0, 3, 255] {
        let id = h.hello_v("x", v);
        assert_eq!(h.recv(id), vec![Got::Error(ErrorCode::BadVersion as u16)]);
        assert_eq!(h.closes(), vec![id]);
    }
}

#[test]
fn quiet_join_sequence_history_authors_first_and_nothing_to_others() {
    let mut h = Harness::new(quiet_cfg(4));
    let ids = crowd(&mut h, &["a", "b", "c", "d"], 2);
    said(&mut h, ids[0], "1");
    said(&mut h, ids[2], "2");
    said(&mut h, ids[0], "3");
    drain(&mut h);
    // The fifth member takes the room above 4: a quiet-room JOIN.
    let e = h.hello_v("e", 2);
    let got = h.recv(e);
    assert_eq!(got[0], Got::Welcome("e".into()));
    let replayed: Vec<&str> = got[1..4]
        .iter()
        .map(|g| match g {
            Got::Message {
                replayed: true,
                text,
                ..
            } => text.as_str(),
            other => panic!("expected history, got {other:?}"),
        })
        .collect();
    assert_eq!(replayed, ["1", "2", "3"]);
    assert_eq!(
        got[4..],
        [partial(&["a", "c", "e", "b", "d"]), room(1, 5), joined("e")]
    );
    // Every other member: ROOM at once, no JOINED.
    for &id in &ids {
        assert_eq!(h.recv(id), vec![room(1, 5)]);
    }
    assert_eq!(h.e.rooms_by_size(1).quiet, 1);
    assert!(h.e.rooms_by_size(1).largest[0].quiet);
    // A later JOIN: the joiner's sequence only; authors who left are not listed.
    h.send(ids[2], ClientMessage::Bye);
    h.closes();
    let f = h.hello_v("f", 2);
    assert_eq!(
        h.recv(f)[4..],
        [
            // `e` took the place of `c` in the member list.
            partial(&["a", "f", "b", "e", "d"]),
            room(1, 5),
            joined("f")
        ]
    );
    for &id in [ids[0], ids[1], ids[3]].iter() {
        assert_eq!(h.recv(id), vec![]);
    }
}

#[test]
fn room_counts_are_coalesced_once_a_second_and_only_when_changed() {
    let mut h = Harness::new(quiet_cfg(4));
    let ids = crowd(&mut h, &["a", "b", "c", "d", "e"], 2);
    let t0 = h.now.mono_ms;
    // Three joins within the second.
    for n in ["f", "g", "h"] {
        h.hello_v(n, 2);
        h.advance(100);
    }
    drain_except(&mut h, &ids);
    assert_eq!(h.e.next_deadline().map(|d| d <= t0 + 1000), Some(true));
    for &id in &ids {
        assert_eq!(h.recv(id), vec![]);
    }
    h.now.mono_ms = t0 + 999;
    h.e.tick(h.now);
    assert_eq!(h.recv(ids[0]), vec![]);
    h.advance(1);
    for &id in &ids {
        assert_eq!(h.recv(id), vec![room(1, 8)], "one ROOM with the last count");
    }
    drain(&mut h);
    // Nothing changed: no ROOM, and no timer.
    h.advance(5000);
    assert_eq!(h.recv(ids[0]), vec![]);
    // A join and a departure within one second: the count is as announced.
    let i = h.hello_v("i", 2);
    h.send(i, ClientMessage::Bye);
    h.closes();
    h.advance(1000);
    assert_eq!(h.recv(ids[0]), vec![]);
    // A departure alone: announced a second later.
    h.send(ids[4], ClientMessage::Bye);
    h.closes();
    h.advance(999);
    assert_eq!(h.recv(ids[0]), vec![]);
    h.advance(1);
    assert_eq!(h.recv(ids[0]), vec![room(1, 7)]);
    // Not sooner than a second after the last broadcast.
    h.hello_v("j", 2);
    h.advance(500);
    assert_eq!(h.recv(ids[0]), vec![]);
    h.advance(500);
    assert_eq!(h.recv(ids[0]), vec![room(1, 8)]);
}

/// Drains everyone but `keep`.
fn drain_except(h: &mut Harness, keep: &[ConnId]) {
    for id in h.e.conn_ids() {
        if !keep.contains(&id) {
            h.recv(id);
        }
    }
}

#[test]
fn part_in_a_quiet_room_tells_the_leaver_alone() {
    let mut h = Harness::new(quiet_cfg(4));
    let ids = crowd(&mut h, &["a", "b", "c", "d", "e", "f"], 2);
    h.advance(1000);
    drain(&mut h);
    h.send(ids[5], ClientMessage::Part { room: "lobby" });
    assert_eq!(
        h.recv(ids[5]),
        vec![Got::Left("lobby".into(), "f".into(), 0)]
    );
    for &id in &ids[..5] {
        assert_eq!(h.recv(id), vec![]);
    }
    h.advance(1000);
    assert_eq!(h.recv(ids[0]), vec![room(1, 5)]);
    assert_eq!(h.recv(ids[5]), vec![], "the leaver is no longer a member");
}

#[test]
fn no_departure_from_a_quiet_room_sends_left() {
    // L = 2: quiet until one member is left (1 <= 2 / 2).
    let mut h = Harness::new(CoreConfig {
        presence_limit: 2,
        history: 0,
        max_payload: 512,
        max_outbuf: 2 * 520,
        ..cfg()
    });
    let nicks = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];
    let ids = crowd(&mut h, &nicks, 2);
    let watcher = ids[0];
    let mut got = Vec::new();
    // Quit, error (a framing error), kick, reset.
    h.send(ids[1], ClientMessage::Bye);
    h.e.on_input(ids[2], &[0xff], h.now);
    assert!(h.e.kick("d", "bye", h.now));
    h.e.on_peer_closed(ids[4], h.now);
    got.extend(h.recv(watcher));
    // Slow consumers: the rest never read while big messages go out.
    let text = "z".repeat(400);
    for _ in 0..3 {
        said(&mut h, watcher, &text);
        got.extend(h.recv(watcher));
    }
    let mut closed = h.closes();
    closed.sort_unstable();
    assert_eq!(closed, ids[1..].to_vec());
    assert_eq!(h.e.counters(h.now).slow_consumers, 5);
    assert!(
        got.iter().all(|g| !matches!(g, Got::Left(..))),
        "no LEFT from a quiet room: {got:?}"
    );
    // The last departure turned the room back to normal.
    assert_eq!(got[got.len() - 2..], [full(&["a"]), room(0, 1)]);
}

#[test]
fn timeout_in_a_quiet_room_sends_no_left() {
    let mut h = Harness::new(CoreConfig {
        presence_limit: 2,
        keepalive_secs: 2,
        ..cfg()
    });
    let ids = crowd(&mut h, &["a", "b", "c", "d", "e"], 2);
    h.advance(2000);
    assert_eq!(h.recv(ids[0]), vec![room(1, 5)]);
    drain(&mut h);
    for &id in &ids[..4] {
        h.send(id, ClientMessage::Ping { token: 1 });
    }
    h.advance(1000);
    assert_eq!(h.closes(), vec![ids[4]]);
    assert_eq!(h.recv(ids[0]), vec![Got::Pong(1)]);
    h.advance(1000);
    assert_eq!(h.recv(ids[0]), vec![room(1, 4)]);
}

#[test]
fn who_in_a_quiet_room_is_one_partial_list_then_room() {
    let mut h = Harness::new(quiet_cfg(4));
    let ids = crowd(&mut h, &["a", "b", "c", "d", "e"], 2);
    said(&mut h, ids[3], "hi");
    let outsider = h.hello_v("out", 2);
    h.send(outsider, ClientMessage::Part { room: "lobby" });
    let old = h.hello_v("old", 1);
    h.send(old, ClientMessage::Part { room: "lobby" });
    drain(&mut h);
    h.send(outsider, ClientMessage::Who { room: "lobby" });
    assert_eq!(
        h.recv(outsider),
        vec![partial(&["d", "a", "b", "c", "e"]), room(1, 5)]
    );
    // Version 1: the same list without bit 1, and no ROOM.
    h.send(old, ClientMessage::Who { room: "lobby" });
    assert_eq!(h.recv(old), vec![full(&["d", "a", "b", "c", "e"])]);
}

#[test]
fn partial_list_holds_at_most_100_nicks_that_fit_max_payload() {
    let mut h = Harness::new(quiet_cfg(4));
    let names: Vec<String> = (0..150).map(|i| format!("n{i:03}")).collect();
    for n in &names {
        h.hello_v(n, 2);
    }
    drain(&mut h);
    let asker = h.hello_v("asker", 2);
    match &h.recv(asker)[1] {
        Got::Partial(_, nicks) => {
            assert_eq!(nicks.len(), 100);
            assert_eq!(nicks[0], "asker");
            let mut sorted = nicks.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(sorted.len(), 100, "each nick once");
        }
        other => panic!("{other:?}"),
    }
    // 32-byte nicks in 512-byte payloads: (512 - 11) / 33 = 15 fit.
    let mut h = Harness::new(CoreConfig {
        max_payload: 512,
        ..quiet_cfg(4)
    });
    for i in 0..40 {
        h.hello_v(&format!("{i:032}"), 2);
    }
    drain(&mut h);
    h.hello_v(&"z".repeat(32), 2);
    let id = h.e.conn_ids().into_iter().max().unwrap();
    match &h.recv(id)[1] {
        Got::Partial(_, nicks) => assert_eq!(nicks.len(), 15),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_join_or_departure_in_a_quiet_room_costs_the_others_nothing() {
    let mut h = Harness::new(quiet_cfg(4));
    let names: Vec<String> = (0..300).map(|i| format!("n{i}")).collect();
    for n in &names {
        h.hello_v(n, 2);
    }
    h.advance(1000);
    drain(&mut h);
    let frames = h.e.frames_out();
    let produced = h.e.produced_bytes();
    let j = h.hello_v("joiner", 2);
    // WELCOME, MEMBERS, ROOM, JOINED: to the joiner alone.
    assert_eq!(h.e.frames_out() - frames, 4);
    assert!(h.e.produced_bytes() - produced < 100);
    assert_eq!(h.recv(j).len(), 4);
    let frames = h.e.frames_out();
    h.send(j, ClientMessage::Part { room: "lobby" });
    h.send(j, ClientMessage::Bye);
    assert_eq!(h.e.frames_out() - frames, 1, "the leaver's own LEFT");
    // A second later, one ROOM each if the count changed: here it did not.
    h.advance(1000);
    assert_eq!(h.e.frames_out() - frames, 1);
}

#[test]
fn transition_out_at_half_the_limit_sends_full_members_then_room() {
    let mut h = Harness::new(quiet_cfg(4));
    let ids = crowd(&mut h, &["a", "b", "c", "d", "e"], 2);
    let old = h.hello_v("old", 1);
    drain(&mut h);
    // 6 -> 3: still quiet (3 > 4 / 2).
    h.send(ids[4], ClientMessage::Bye);
    h.send(ids[3], ClientMessage::Part { room: "lobby" });
    h.e.on_peer_closed(ids[2], h.now);
    h.closes();
    drain(&mut h);
    assert!(h.e.rooms_by_size(1).largest[0].quiet);
    // 3 -> 2 by a kick: back to normal, no LEFT.
    assert!(h.e.kick("b", "out", h.now));
    assert_eq!(h.recv(ids[0]), vec![full(&["a", "old"]), room(0, 2)]);
    assert_eq!(h.recv(old), vec![full(&["a", "old"])]);
    assert!(!h.e.rooms_by_size(1).largest[0].quiet);
    // JOINED and LEFT are announced again; no ROOM any more.
    let z = h.hello_v("z", 2);
    assert_eq!(h.recv(ids[0]), vec![joined("z")]);
    assert_eq!(h.recv(z)[1..], [full(&["a", "old", "z"]), joined("z")]);
    h.send(z, ClientMessage::Bye);
    assert_eq!(
        h.recv(old),
        vec![joined("z"), Got::Left("lobby".into(), "z".into(), 1)]
    );
    h.advance(2000);
    assert_eq!(
        h.recv(ids[0]),
        vec![Got::Left("lobby".into(), "z".into(), 1)]
    );
}

#[test]
fn transition_in_sends_room_to_every_member_before_later_frames() {
    let mut h = Harness::new(quiet_cfg(2));
    let ids = crowd(&mut h, &["a", "b"], 2);
    let old = h.hello_v("old", 1);
    // The JOIN of `old` (3 > 2) turned the room quiet: its partial list,
    // without bit 1 for version 1, names the joiner first.
    assert_eq!(h.recv(old)[1..], [full(&["old", "a", "b"]), joined("old")]);
    said(&mut h, ids[1], "after");
    for &id in &ids {
        let got = h.recv(id);
        assert_eq!(got[0], room(1, 3));
        assert!(matches!(&got[1], Got::Message { text, .. } if text == "after"));
        assert_eq!(got.len(), 2);
    }
    assert!(matches!(&h.recv(old)[..], [Got::Message { .. }]));
}

#[test]
fn a_version_1_client_in_a_quiet_room_gets_no_room_no_bit_1_no_presence() {
    let mut h = Harness::new(quiet_cfg(3));
    let old = h.hello_v("old", 1);
    crowd(&mut h, &["a", "b", "c"], 2);
    drain(&mut h);
    let late = h.hello_v("late", 1);
    assert_eq!(
        h.recv(late),
        vec![
            Got::Welcome("late".into()),
            full(&["late", "old", "a", "b", "c"]),
            joined("late")
        ]
    );
    h.hello_v("x", 2);
    h.send(late, ClientMessage::Part { room: "lobby" });
    h.advance(1000);
    assert_eq!(h.recv(old), vec![], "no JOINED, LEFT or ROOM for version 1");
    assert_eq!(
        h.recv(late),
        vec![Got::Left("lobby".into(), "late".into(), 0)]
    );
}

#[test]
fn presence_limit_0_never_turns_quiet() {
    let mut h = Harness::new(quiet_cfg(0));
    let names: Vec<String> = (0..1200).map(|i| format!("n{i}")).collect();
    let first = h.hello_v(&names[0], 2);
    for n in &names[1..] {
        h.hello_v(n, 2);
    }
    let got = h.recv(first);
    assert_eq!(
        got.iter().filter(|g| matches!(g, Got::Joined(..))).count(),
        1200
    );
    assert!(
        got.iter()
            .all(|g| !matches!(g, Got::Room(..) | Got::Partial(..)))
    );
    assert_eq!(h.e.rooms_by_size(1).quiet, 0);
    assert_eq!(
        h.e.next_deadline().map(|d| d > h.now.mono_ms + 1000),
        Some(true)
    );
}

#[test]
fn a_deleted_quiet_room_is_forgotten_and_its_stale_mark_ignored() {
    let mut h = Harness::new(CoreConfig {
        default_room: None,
        ..quiet_cfg(1)
    });
    let a = h.hello_v("a", 2);
    let b = h.hello_v("b", 2);
    for id in [a, b] {
        h.send(id, ClientMessage::Join { room: "lobby" });
    }
    h.send(b, ClientMessage::Part { room: "lobby" });
    h.send(a, ClientMessage::Part { room: "lobby" });
    assert_eq!(h.e.rooms_by_size(1).rooms, 0);
    drain(&mut h);
    // A new room in the same slot starts normal.
    h.send(a, ClientMessage::Join { room: "lobby" });
    assert_eq!(h.recv(a), vec![full(&["a"]), joined("a")]);
    h.advance(1000);
    assert_eq!(h.recv(a), vec![]);
}

#[test]
fn one_timer_entry_per_connection_and_keepalive_still_applies() {
    // Default: handshake 10 s, keepalive 60 s (closed after 90 s of silence).
    let mut h = Harness::new(cfg());
    let quiet = h.hello("quiet");
    let talker = h.hello("talker");
    drain(&mut h);
    assert_eq!(
        h.e.timers.len(),
        2,
        "the handshake deadline doubles as the keepalive"
    );
    h.advance(10_000);
    assert!(h.closes().is_empty());
    for _ in 0..7 {
        h.advance(10_000);
        h.send(talker, ClientMessage::Ping { token: 1 });
    }
    h.advance(9_000);
    assert!(h.closes().is_empty(), "89 s of silence is allowed");
    h.advance(1_000);
    assert_eq!(h.closes(), vec![quiet]);
    assert_eq!(
        h.recv(quiet).last(),
        Some(&Got::Error(ErrorCode::Timeout as u16))
    );
    assert_eq!(h.e.timers.len(), 1);
}
