//! Rooms over real sockets (PROTOCOL.md 4.1 and 4.2): JOIN, PART, WHO and
//! split MEMBERS, history, SAY and WHISPER, the shared seq, leaving by BYE,
//! EOF, reset and keepalive timeout.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::*;
use stxchat::codec::{ClientMessage, ErrorCode, max_message_text};

/// The (seq, time_ms, from, text) of a MESSAGE.
type Chat = (u64, u64, String, String);

/// The [`Chat`] fields of a MESSAGE.
fn chat(m: &Msg) -> Chat {
    match m {
        Msg::Message {
            seq,
            time_ms,
            from,
            text,
            ..
        } => (*seq, *time_ms, from.clone(), text.clone()),
        other => panic!("expected MESSAGE, got {other:?}"),
    }
}

fn seq_of(m: &Msg) -> u64 {
    match m {
        Msg::Message { seq, .. } | Msg::Private { seq, .. } => *seq,
        other => panic!("expected MESSAGE or PRIVATE, got {other:?}"),
    }
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn no_default_room() -> TestServer {
    start_with(|c| c.core.default_room = None)
}

#[test]
fn join_creates_the_room_and_sends_members_then_joined_to_everyone() {
    let srv = no_default_room();
    let (mut alice, got) = Client::register(srv.addr, "alice");
    assert_eq!(got, vec![], "no default room: nothing after WELCOME");
    assert_eq!(
        alice.join("Dev"),
        vec![members("Dev", &["alice"]), joined("Dev", "alice")]
    );
    let mut bob = Client::join_as(srv.addr, "bob");
    // Names are case-insensitive; the room keeps its creator's spelling.
    assert_eq!(
        sorted_members(bob.join("dev")),
        vec![members("Dev", &["alice", "bob"]), joined("Dev", "bob")]
    );
    assert_eq!(alice.sync(), vec![joined("Dev", "bob")]);
    // Only ASCII letters fold: "Émile" and "émile" are two rooms.
    alice.join("Émile");
    assert_eq!(
        bob.join("émile"),
        vec![members("émile", &["bob"]), joined("émile", "bob")]
    );
    assert_eq!(bob.join("éMILE"), vec![], "the same room as émile");
}

#[test]
fn join_of_a_room_already_joined_has_no_effect() {
    let srv = TestServer::start(config());
    let mut alice = Client::join_as(srv.addr, "alice");
    let mut bob = Client::join_as(srv.addr, "bob");
    alice.sync();
    assert_eq!(alice.join("lobby"), vec![]);
    assert_eq!(alice.join("LOBBY"), vec![]);
    alice.join("r");
    assert_eq!(alice.join("R"), vec![]);
    assert_eq!(bob.sync(), vec![], "no JOINED for a repeated JOIN");
}

#[test]
fn invalid_room_in_join_is_bad_name_and_keeps_the_connection() {
    let srv = TestServer::start(config());
    let mut c = Client::join_as(srv.addr, "alice");
    let long = "r".repeat(65);
    for room in [
        "",
        "a b",
        "a\u{3000}b",
        "a\u{a0}",
        "tab\t",
        "\u{7}",
        long.as_str(),
    ] {
        c.send_expect_error(ClientMessage::Join { room }, ErrorCode::BadName);
    }
    let r64 = "r".repeat(64);
    assert_eq!(
        c.join(&r64),
        vec![members(&r64, &["alice"]), joined(&r64, "alice")]
    );
}

#[test]
fn too_many_rooms_counts_the_default_room() {
    let srv = start_with(|c| c.core.max_rooms_per_client = 3);
    let mut c = Client::join_as(srv.addr, "alice");
    c.join("a");
    c.join("b");
    c.send_expect_error(ClientMessage::Join { room: "c" }, ErrorCode::TooManyRooms);
    // A room already joined: no error, no effect, even at the limit.
    assert_eq!(c.join("A"), vec![]);
    assert_eq!(c.join("lobby"), vec![]);
    c.part("a");
    assert_eq!(
        c.join("c"),
        vec![members("c", &["alice"]), joined("c", "alice")]
    );
    // The failed JOIN created nothing.
    let mut d = Client::join_as(srv.addr, "dave");
    d.send(ClientMessage::Who { room: "a" });
    assert_eq!(d.sync(), vec![err(ErrorCode::NoSuchRoom)]);
}

#[test]
fn without_a_default_room_every_room_slot_is_free() {
    let srv = start_with(|c| {
        c.core.max_rooms_per_client = 2;
        c.core.default_room = None;
    });
    let mut c = Client::join_as(srv.addr, "alice");
    c.join("a");
    c.join("b");
    c.send_expect_error(ClientMessage::Join { room: "c" }, ErrorCode::TooManyRooms);
}

#[test]
fn part_sends_left_reason_0_to_every_member_including_the_leaver() {
    let srv = TestServer::start(config());
    let mut alice = Client::join_as(srv.addr, "alice");
    let mut bob = Client::join_as(srv.addr, "bob");
    let mut carol = Client::join_as(srv.addr, "carol");
    alice.join("r");
    bob.join("r");
    carol.sync();
    alice.sync();
    assert_eq!(alice.part("R"), vec![left("r", "alice", 0)]);
    assert_eq!(bob.sync(), vec![left("r", "alice", 0)]);
    assert_eq!(carol.sync(), vec![], "not a member of r");
    // Parted: SAY and PART there are not_in_room now; the lobby is unaffected.
    alice.send_expect_error(
        ClientMessage::Say {
            room: "r",
            text: "x",
        },
        ErrorCode::NotInRoom,
    );
    alice.send_expect_error(ClientMessage::Part { room: "r" }, ErrorCode::NotInRoom);
    assert_eq!(alice.part("lobby"), vec![left("lobby", "alice", 0)]);
    assert_eq!(bob.sync(), vec![left("lobby", "alice", 0)]);
    assert_eq!(carol.sync(), vec![left("lobby", "alice", 0)]);
}

#[test]
fn part_or_say_to_a_room_not_joined_is_not_in_room() {
    let srv = TestServer::start(config());
    let mut other = Client::join_as(srv.addr, "other");
    other.join("exists");
    let mut c = Client::join_as(srv.addr, "alice");
    let long = "x".repeat(65);
    // An existing room, a missing one, and names that cannot exist.
    for room in ["exists", "missing", "", "a b", "a\u{1}", long.as_str()] {
        c.send_expect_error(ClientMessage::Part { room }, ErrorCode::NotInRoom);
        c.send_expect_error(
            ClientMessage::Say { room, text: "hi" },
            ErrorCode::NotInRoom,
        );
    }
    assert_eq!(
        other.sync(),
        vec![joined("lobby", "alice")],
        "nothing reached the room"
    );
}

#[test]
fn who_lists_any_existing_room_and_the_asker_need_not_be_a_member() {
    let srv = TestServer::start(config());
    let mut alice = Client::join_as(srv.addr, "alice");
    alice.join("Secret");
    let mut bob = Client::join_as(srv.addr, "bob");
    bob.send(ClientMessage::Who { room: "secret" });
    assert_eq!(
        sorted_members(bob.sync()),
        vec![members("Secret", &["alice"])]
    );
    bob.send(ClientMessage::Who { room: "LOBBY" });
    assert_eq!(
        sorted_members(bob.sync()),
        vec![members("lobby", &["alice", "bob"])]
    );
    let long = "x".repeat(65);
    for room in ["nope", "", "a b", long.as_str()] {
        bob.send_expect_error(ClientMessage::Who { room }, ErrorCode::NoSuchRoom);
    }
    assert_eq!(
        alice.sync(),
        vec![joined("lobby", "bob")],
        "WHO is not seen by members"
    );
}

/// Collects a split MEMBERS list: frames with `more` set, then one without.
fn collect_members(frames: &[Msg], room: &str, max_payload: usize) -> Vec<String> {
    let mut nicks = Vec::new();
    for (i, m) in frames.iter().enumerate() {
        let Msg::Members {
            room: r,
            more,
            nicks: n,
        } = m
        else {
            panic!("expected MEMBERS, got {m:?}");
        };
        assert_eq!(r, room);
        assert!(!n.is_empty(), "every frame carries a nick");
        let payload = 1 + 1 + r.len() + 1 + 2 + n.iter().map(|x| 1 + x.len()).sum::<usize>();
        assert!(
            payload <= max_payload,
            "frame {i}: {payload} > {max_payload}"
        );
        assert_eq!(
            *more,
            i + 1 < frames.len(),
            "flag bit 0 on all but the last"
        );
        nicks.extend(n.iter().cloned());
    }
    nicks
}

#[test]
fn members_is_split_over_several_frames_each_fitting_max_payload() {
    const MAX: usize = 512;
    let srv = start_with(|c| c.core.max_payload = MAX);
    let room = "a-room-with-a-rather-long-name-to-use-up-some-of-the-payload";
    let mut clients = Vec::new();
    let mut expected = Vec::new();
    for i in 0..60 {
        let nick = format!("member-{i:02}-{}", "n".repeat(20));
        assert_eq!(nick.len(), 30);
        let mut c = Client::join_as(srv.addr, &nick);
        let got = c.join(room);
        // On JOIN: MEMBERS frames, then JOINED, back to back.
        let (last, list) = got.split_last().unwrap();
        assert_eq!(*last, joined(room, &nick));
        let mut nicks = collect_members(list, room, MAX);
        nicks.sort();
        expected.push(nick);
        expected.sort();
        assert_eq!(nicks, expected, "MEMBERS on JOIN lists exactly the members");
        clients.push(c);
    }
    let mut asker = Client::join_as(srv.addr, "asker");
    asker.send(ClientMessage::Who { room });
    let frames = asker.sync();
    assert!(
        frames.len() >= 4,
        "60 x 31 bytes need at least 4 frames of 512"
    );
    let mut nicks = collect_members(&frames, room, MAX);
    nicks.sort();
    assert_eq!(nicks, expected);
    // The default room's MEMBERS on registration is split too.
    let (_late, got) = Client::register(srv.addr, "late");
    let (last, list) = got.split_last().unwrap();
    assert_eq!(*last, joined("lobby", "late"));
    let lobby: HashSet<String> = collect_members(list, "lobby", MAX).into_iter().collect();
    assert_eq!(lobby.len(), 62);
}

#[test]
fn history_is_replayed_capped_flagged_oldest_first_and_identical_to_the_original() {
    let srv = start_with(|c| c.core.history = 5);
    let mut alice = Client::join_as(srv.addr, "alice");
    let mut keeper = Client::join_as(srv.addr, "keeper");
    alice.sync();
    let mut originals = Vec::new();
    for i in 0..8 {
        alice.say("lobby", &format!("line {i}\nwith\ttab"));
        originals.push(chat(&alice.sync()[0]));
    }
    let live = keeper.sync();
    assert_eq!(live.len(), 8);
    assert!(live.iter().all(|m| matches!(
        m,
        Msg::Message {
            replayed: false,
            ..
        }
    )));
    // History also holds the messages of members who have since left.
    alice.send(ClientMessage::Bye);
    alice.until_eof();
    keeper.sync();
    let (_bob, got) = Client::register(srv.addr, "bob");
    let replayed: Vec<_> = got[..5].iter().map(chat).collect();
    assert_eq!(
        replayed,
        originals[3..],
        "the last 5, oldest first, same seq/time/from/text"
    );
    assert!(
        got[..5]
            .iter()
            .all(|m| matches!(m, Msg::Message { replayed: true, room, .. } if room == "lobby"))
    );
    assert_eq!(
        sorted_members(got[5..].to_vec()),
        vec![members("lobby", &["bob", "keeper"]), joined("lobby", "bob")]
    );
}

#[test]
fn history_of_an_explicitly_joined_room_is_replayed_on_join() {
    let srv = start_with(|c| c.core.history = 3);
    let mut a = Client::join_as(srv.addr, "a");
    a.join("r");
    a.say("r", "one");
    a.say("r", "two");
    a.sync();
    let mut b = Client::join_as(srv.addr, "b");
    let got = b.join("r");
    assert!(matches!(&got[0], Msg::Message { replayed: true, text, .. } if text == "one"));
    assert!(matches!(&got[1], Msg::Message { replayed: true, text, .. } if text == "two"));
    assert_eq!(
        sorted_members(got[2..].to_vec()),
        vec![members("r", &["a", "b"]), joined("r", "b")]
    );
}

#[test]
fn zero_history_replays_nothing() {
    let srv = start_with(|c| {
        c.core.history = 0;
        c.core.max_outbuf = 64 * 1024;
    });
    let mut a = Client::join_as(srv.addr, "a");
    a.say("lobby", "not kept");
    a.sync();
    let (_b, got) = Client::register(srv.addr, "b");
    assert_eq!(
        sorted_members(got),
        vec![members("lobby", &["a", "b"]), joined("lobby", "b")]
    );
}

#[test]
fn a_room_that_empties_is_deleted_with_its_history_and_respelt_by_its_next_creator() {
    let srv = TestServer::start(config());
    let mut alice = Client::join_as(srv.addr, "alice");
    alice.join("Room");
    alice.say("Room", "old");
    alice.sync();
    alice.part("room");
    let mut bob = Client::join_as(srv.addr, "bob");
    bob.send(ClientMessage::Who { room: "room" });
    assert_eq!(bob.sync(), vec![err(ErrorCode::NoSuchRoom)]);
    assert_eq!(
        bob.join("ROOM"),
        vec![members("ROOM", &["bob"]), joined("ROOM", "bob")],
        "no history, new spelling"
    );
}

#[test]
fn the_default_room_is_deleted_when_it_empties_for_any_reason() {
    let srv = TestServer::start(config());
    // Emptied by BYE.
    let mut a = Client::join_as(srv.addr, "a");
    a.say("lobby", "before bye");
    a.sync();
    a.send(ClientMessage::Bye);
    a.until_eof();
    let (mut b, got) = Client::register(srv.addr, "b");
    assert_eq!(got, vec![members("lobby", &["b"]), joined("lobby", "b")]);
    // Emptied by an abrupt close.
    b.say("lobby", "before drop");
    b.sync();
    b.reset();
    let deadline = Instant::now() + WAIT;
    loop {
        // The reset is seen by the server at some point; until then "b" is taken.
        let mut c = Client::connect(srv.addr);
        c.send(hello("b"));
        match c.recv() {
            Msg::Welcome { .. } => {
                let got = c.sync();
                assert_eq!(got, vec![members("lobby", &["b"]), joined("lobby", "b")]);
                break;
            }
            m if m == err(ErrorCode::NickTaken) => {
                assert!(Instant::now() < deadline, "reset never noticed");
                std::thread::sleep(Duration::from_millis(10));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn say_is_echoed_to_the_sender_and_reaches_members_only() {
    let srv = TestServer::start(config());
    let mut alice = Client::join_as(srv.addr, "alice");
    let mut bob = Client::join_as(srv.addr, "bob");
    let mut carol = Client::join_as(srv.addr, "carol");
    alice.join("r");
    bob.join("r");
    alice.sync();
    carol.sync();
    let before = unix_ms();
    alice.say("R", "hello r");
    let echo = alice.sync();
    let after = unix_ms();
    let Msg::Message { time_ms, .. } = &echo[0] else {
        panic!("{echo:?}")
    };
    assert!(
        (before..=after).contains(time_ms),
        "time_ms is the server's Unix time when it accepted the SAY"
    );
    assert_eq!(echo.len(), 1);
    assert!(
        matches!(&echo[0], Msg::Message { replayed: false, room, from, text, .. }
        if room == "r" && from == "alice" && text == "hello r")
    );
    assert_eq!(bob.sync(), echo, "same MESSAGE for every member");
    assert_eq!(carol.sync(), vec![]);
}

#[test]
fn whisper_gives_one_private_to_each_side_and_exactly_one_to_oneself() {
    let srv = TestServer::start(config());
    let mut alice = Client::join_as(srv.addr, "alice");
    let mut bob = Client::join_as(srv.addr, "Bob");
    let mut carol = Client::join_as(srv.addr, "carol");
    alice.sync();
    bob.sync();
    alice.whisper("bob", "psst");
    let mine = alice.sync();
    assert!(
        matches!(&mine[..], [Msg::Private { from, to, text, .. }] if from == "alice" && to == "Bob" && text == "psst"),
        "{mine:?}"
    );
    assert_eq!(bob.sync(), mine);
    assert_eq!(carol.sync(), vec![]);
    alice.whisper("ALICE", "note to self");
    let got = alice.sync();
    assert!(
        matches!(&got[..], [Msg::Private { from, to, .. }] if from == "alice" && to == "alice"),
        "exactly one PRIVATE: {got:?}"
    );
    let long = "x".repeat(65);
    for to in ["nobody", "", "a b", long.as_str()] {
        alice.send_expect_error(
            ClientMessage::Whisper { to, text: "x" },
            ErrorCode::NoSuchNick,
        );
    }
    // No history of PRIVATEs: a joiner of the lobby sees none.
    let (_d, got) = Client::register(srv.addr, "dave");
    assert!(
        got.iter()
            .all(|m| !matches!(m, Msg::Private { .. } | Msg::Message { .. }))
    );
}

#[test]
fn seq_is_shared_by_message_and_private_strictly_increasing_and_unused_by_rejects() {
    let srv = start_with(|c| {
        c.core.max_payload = 512;
        c.core.rate = Some(stxchat::core::RateLimit {
            per_sec: 0.001,
            burst: 4,
        });
    });
    let mut a = Client::join_as(srv.addr, "a");
    let mut b = Client::join_as(srv.addr, "b");
    a.sync();
    let too_long = "x".repeat(max_message_text(512, "lobby", "a") + 1);
    let mut seqs = Vec::new();
    a.say("lobby", "one");
    seqs.push(seq_of(&a.sync()[0]));
    a.whisper("b", "two");
    seqs.push(seq_of(&a.sync()[0]));
    // Rejected for every reason a SAY or WHISPER can be rejected.
    a.send_expect_error(
        ClientMessage::Say {
            room: "nowhere",
            text: "x",
        },
        ErrorCode::NotInRoom,
    );
    a.send_expect_error(
        ClientMessage::Say {
            room: "lobby",
            text: &too_long,
        },
        ErrorCode::TooLong,
    );
    a.send_expect_error(
        ClientMessage::Say {
            room: "lobby",
            text: "",
        },
        ErrorCode::Malformed,
    );
    a.send_expect_error(
        ClientMessage::Whisper {
            to: "zed",
            text: "x",
        },
        ErrorCode::NoSuchNick,
    );
    a.say("lobby", "three");
    seqs.push(seq_of(&a.sync()[0]));
    b.whisper("a", "four");
    let seen_by_b = b.sync();
    seqs.push(seq_of(seen_by_b.last().unwrap()));
    // Only accepted messages used rate tokens: a's fourth accepted message
    // passes, the fifth is rate limited (and uses no seq either).
    a.say("lobby", "five");
    a.say("lobby", "six");
    let got = a.sync();
    assert_eq!(got.len(), 3, "{got:?}");
    seqs.push(seq_of(&got[1]));
    assert_eq!(got[2], err(ErrorCode::RateLimited));
    let first = seqs[0];
    assert_eq!(
        seqs,
        (first..first + 5).collect::<Vec<_>>(),
        "consecutive: rejected messages use no seq"
    );
    // b saw MESSAGE and PRIVATE interleaved in seq order.
    let b_seqs: Vec<u64> = seen_by_b.iter().map(seq_of).collect();
    assert_eq!(b_seqs, seqs[..4]);
}

#[test]
fn bye_gives_left_reason_1_to_the_others_and_no_left_to_the_leaver() {
    let srv = TestServer::start(config());
    let mut alice = Client::join_as(srv.addr, "alice");
    let mut bob = Client::join_as(srv.addr, "bob");
    alice.join("r");
    bob.join("r");
    alice.sync();
    // SAY and BYE in one write: the echo queued before BYE is still delivered.
    let mut bytes = encode(ClientMessage::Say {
        room: "r",
        text: "bye all",
    });
    bytes.extend(encode(ClientMessage::Bye));
    alice.send_raw(&bytes);
    let got = alice.until_eof();
    assert!(
        matches!(&got[..], [Msg::Message { text, .. }] if text == "bye all"),
        "the echo, then EOF, and no LEFT: {got:?}"
    );
    let got = bob.sync();
    assert!(matches!(&got[0], Msg::Message { text, .. } if text == "bye all"));
    assert_eq!(
        sorted(got[1..].to_vec()),
        sorted(vec![left("r", "alice", 1), left("lobby", "alice", 1)]),
        "one LEFT per room, any order"
    );
}

/// Waits until `observer` sees `expected` (LEFT frames arrive when the server notices).
fn wait_for(observer: &mut Client, expected: &[Msg]) {
    let mut want: Vec<Msg> = expected.to_vec();
    while !want.is_empty() {
        let m = observer.recv();
        let pos = want
            .iter()
            .position(|w| *w == m)
            .unwrap_or_else(|| panic!("unexpected {m:?}, waiting for {want:?}"));
        want.remove(pos);
    }
}

#[test]
fn closing_the_socket_gives_left_reason_1() {
    let srv = TestServer::start(config());
    let mut bob = Client::join_as(srv.addr, "bob");
    let mut alice = Client::join_as(srv.addr, "alice");
    alice.join("r");
    bob.join("r");
    alice.sync();
    drop(alice);
    wait_for(
        &mut bob,
        &[left("lobby", "alice", 1), left("r", "alice", 1)],
    );
    // Half-close (shutdown of the write side only) is an EOF too.
    let carol = Client::join_as(srv.addr, "carol");
    bob.sync();
    carol.stream.shutdown(std::net::Shutdown::Write).unwrap();
    wait_for(&mut bob, &[left("lobby", "carol", 1)]);
    assert_eq!(bob.sync(), vec![]);
}

#[test]
fn frames_sent_before_a_half_close_are_answered_before_eof() {
    let srv = TestServer::start(config());
    let mut bob = Client::join_as(srv.addr, "bob");
    let mut c = Client::connect(srv.addr);
    c.nick = "brief".into();
    // Register, talk, ping and hang up in one write.
    let mut bytes = encode(hello("brief"));
    bytes.extend(encode(ClientMessage::Say {
        room: "lobby",
        text: "hi and bye",
    }));
    bytes.extend(encode(ClientMessage::Ping { token: 4 }));
    c.send_raw(&bytes);
    c.stream.shutdown(std::net::Shutdown::Write).unwrap();
    let got = sorted_members(c.until_eof());
    assert!(!c.was_reset());
    assert!(matches!(&got[0], Msg::Welcome { nick, .. } if nick == "brief"));
    assert_eq!(
        got[1..3],
        [
            members("lobby", &["bob", "brief"]),
            joined("lobby", "brief")
        ]
    );
    assert!(matches!(&got[3], Msg::Message { text, .. } if text == "hi and bye"));
    assert_eq!(got[4..], [Msg::Pong(4)]);
    wait_for(
        &mut bob,
        &[
            joined("lobby", "brief"),
            got[3].clone(),
            left("lobby", "brief", 1),
        ],
    );
}

#[test]
fn a_reset_connection_gives_left_reason_1() {
    let srv = TestServer::start(config());
    let mut bob = Client::join_as(srv.addr, "bob");
    let alice = Client::join_as(srv.addr, "alice");
    bob.sync();
    alice.reset();
    wait_for(&mut bob, &[left("lobby", "alice", 1)]);
    assert_eq!(bob.sync(), vec![]);
}

/// Regression: when a reset was noticed, the driver removed the connection
/// but its slot stayed in the engine's list of connections to close; a
/// connection accepted in the same loop turn took the freed slot and was
/// then closed without a word (EOF, no frame), still pending in the engine.
#[test]
fn a_connection_accepted_right_after_a_reset_is_not_closed_in_its_place() {
    let srv = TestServer::start(config());
    for i in 0..30 {
        let doomed = Client::join_as(srv.addr, &format!("doomed{i}"));
        doomed.reset();
        let mut fresh = Client::connect(srv.addr);
        fresh.nick = format!("fresh{i}");
        fresh.send(ClientMessage::Ping { token: 3 });
        assert_eq!(fresh.first_or_eof(), Some(Msg::Pong(3)), "round {i}");
        fresh.send(hello(&format!("fresh{i}")));
        assert!(matches!(fresh.recv(), Msg::Welcome { .. }));
    }
}

#[test]
fn keepalive_timeout_closes_silent_clients_and_frames_keep_others_alive() {
    let srv = start_with(|c| c.core.keepalive_secs = 1);
    let (mut observer, _) = Client::register(srv.addr, "observer");
    let (mut quiet, _) = Client::register(srv.addr, "quiet");
    let (mut erring, _) = Client::register(srv.addr, "erring");
    let registered = Instant::now();
    quiet.join("q");
    observer.join("q");
    // For 3.5 keepalive periods the observer pings and `erring` sends
    // frames that are answered with errors, each once per keepalive period:
    // both stay; `quiet` falls silent and is closed after 1.5 periods.
    let period = Duration::from_millis(1000);
    let mut next = Instant::now();
    while registered.elapsed() < Duration::from_millis(3500) {
        if Instant::now() >= next {
            observer.send(ClientMessage::Ping { token: 7 });
            erring.send_payload(&[0x77]);
            next += period;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let got = quiet.expect_closed_with(ErrorCode::Timeout);
    assert!(
        got.iter().all(|m| matches!(m, Msg::Joined { .. })),
        "{got:?}"
    );
    let mut seen = observer.sync();
    seen.retain(|m| *m != Msg::Pong(7));
    assert_eq!(
        sorted(seen),
        sorted(vec![left("lobby", "quiet", 2), left("q", "quiet", 2)])
    );
    let errs = erring.sync();
    assert!(
        errs.iter().all(|m| *m == err(ErrorCode::UnknownType)
            || matches!(m, Msg::Left { .. } | Msg::Joined { .. })),
        "{errs:?}"
    );
    assert!(errs.contains(&left("lobby", "quiet", 2)));
}

#[test]
fn the_keepalive_clock_starts_at_welcome_and_the_close_comes_after_one_and_a_half_periods() {
    let srv = start_with(|c| c.core.keepalive_secs = 1);
    let before_hello = Instant::now();
    let mut c = Client::join_as(srv.addr, "silent");
    c.expect_closed_with(ErrorCode::Timeout);
    // HELLO went out before WELCOME, so this bounds the silence from below.
    assert!(before_hello.elapsed() >= Duration::from_millis(1500));
}

#[test]
fn bytes_of_an_unfinished_frame_do_not_reset_the_keepalive_clock() {
    let srv = start_with(|c| c.core.keepalive_secs = 1);
    let mut c = Client::join_as(srv.addr, "trickle");
    let ping = encode(ClientMessage::Ping { token: 1 });
    let started = Instant::now();
    // One byte of a PING every 200 ms: never a whole frame within 1.5 s.
    for b in &ping[..ping.len() - 1] {
        if !c.try_send_raw(std::slice::from_ref(b)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
        if started.elapsed() > Duration::from_secs(2) {
            break;
        }
    }
    assert_eq!(c.expect_closed_with(ErrorCode::Timeout), vec![]);
}

#[test]
fn keepalive_zero_means_no_keepalive() {
    let srv = start_with(|c| c.core.keepalive_secs = 0);
    let mut c = Client::connect(srv.addr);
    c.send(hello("alice"));
    assert!(matches!(c.recv(), Msg::Welcome { keepalive: 0, .. }));
    c.sync();
    std::thread::sleep(Duration::from_millis(2000));
    assert_eq!(c.sync(), vec![]);
}

#[test]
fn room_order_is_the_same_at_every_member_under_churn() {
    let srv = TestServer::start(config());
    let room = "busy";
    let mut watchers: Vec<Client> = (0..3)
        .map(|i| {
            let mut c = Client::join_as(srv.addr, &format!("w{i}"));
            c.join(room);
            c
        })
        .collect();
    for w in &mut watchers {
        w.sync();
    }
    let addr = srv.addr;
    let publishers: Vec<_> = (0..3)
        .map(|p| {
            std::thread::spawn(move || {
                let mut c = Client::join_as(addr, &format!("p{p}"));
                c.join(room);
                for i in 0..200 {
                    c.say(room, &format!("{p}:{i}"));
                }
                c.sync();
                c.send(ClientMessage::Bye);
                c.until_eof();
            })
        })
        .collect();
    let churner = std::thread::spawn(move || {
        let mut c = Client::join_as(addr, "churn");
        let mut joins = Vec::new();
        for _ in 0..50 {
            joins.push(c.join(room));
            c.part(room);
        }
        c.send(ClientMessage::Bye);
        c.until_eof();
        joins
    });
    for p in publishers {
        p.join().unwrap();
    }
    let joins = churner.join().unwrap();
    let logs: Vec<Vec<Msg>> = watchers.iter_mut().map(|w| w.sync()).collect();
    let room_events = |log: &Vec<Msg>| -> Vec<Msg> {
        log.iter()
            .filter(|m| match m {
                Msg::Message { room: r, .. }
                | Msg::Joined { room: r, .. }
                | Msg::Left { room: r, .. } => r == room,
                _ => false,
            })
            .cloned()
            .collect()
    };
    let first = room_events(&logs[0]);
    assert_eq!(
        first
            .iter()
            .filter(|m| matches!(m, Msg::Message { .. }))
            .count(),
        600
    );
    for (i, log) in logs.iter().enumerate().skip(1) {
        assert!(room_events(log) == first, "watcher {i} saw another order");
    }
    // One sender's messages arrive in the order it sent them.
    for p in 0..3 {
        let mine: Vec<String> = first
            .iter()
            .filter_map(|m| match m {
                Msg::Message { from, text, .. } if *from == format!("p{p}") => Some(text.clone()),
                _ => None,
            })
            .collect();
        let sent: Vec<String> = (0..200).map(|i| format!("{p}:{i}")).collect();
        assert_eq!(mine, sent);
    }
    // Each JOIN of the churner: its history, MEMBERS and JOINED came back to
    // back; the history is the room's last MESSAGEs and MEMBERS the room's
    // members at that point of the room's order (as the watchers saw it).
    let mut members: Vec<String> = vec!["w0".into(), "w1".into(), "w2".into()];
    let mut messages: Vec<&Msg> = Vec::new();
    let mut k = 0;
    for m in &first {
        match m {
            Msg::Joined { nick, .. } => {
                members.push(nick.clone());
                if nick == "churn" {
                    let (history, mut listed) = churner_join_block(&joins[k], room);
                    let expected: Vec<_> = messages[messages.len().saturating_sub(50)..]
                        .iter()
                        .map(|m| chat(m))
                        .collect();
                    assert_eq!(history, expected, "join {k}: history");
                    listed.sort();
                    let mut now = members.clone();
                    now.sort();
                    assert_eq!(listed, now, "join {k}: MEMBERS");
                    k += 1;
                }
            }
            Msg::Left { nick, .. } => members.retain(|n| n != nick),
            m @ Msg::Message { .. } => messages.push(m),
            _ => {}
        }
    }
    assert_eq!(k, 50);
}

/// Splits what a JOIN of `room` returned: its replayed history and its
/// MEMBERS nicks, checking that they and the own JOINED came back to back
/// (other rooms' frames may come before, anything may come after).
fn churner_join_block(got: &[Msg], room: &str) -> (Vec<Chat>, Vec<String>) {
    let start = got
        .iter()
        .position(|m| match m {
            Msg::Message { room: r, .. } | Msg::Members { room: r, .. } => r == room,
            _ => false,
        })
        .expect("the JOIN's frames");
    let mut history = Vec::new();
    let mut nicks = Vec::new();
    let mut i = start;
    while let Some(
        m @ Msg::Message {
            replayed: true,
            room: r,
            ..
        },
    ) = got.get(i)
    {
        assert_eq!(r, room);
        history.push(chat(m));
        i += 1;
    }
    loop {
        match &got[i] {
            Msg::Members {
                room: r,
                more,
                nicks: n,
            } if r == room => {
                nicks.extend(n.iter().cloned());
                i += 1;
                if !more {
                    break;
                }
            }
            other => panic!("expected MEMBERS of {room}, got {other:?} in {got:?}"),
        }
    }
    assert_eq!(got[i], joined(room, "churn"), "JOINED right after MEMBERS");
    (history, nicks)
}
