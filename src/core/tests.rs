//! Engine tests: plain function calls, no sockets, the clock passed in.

use std::net::SocketAddr;

use crate::codec::{ClientMessage, ErrorCode, Event, FrameDecoder, ServerMessage, msg_type};
use crate::core::config::{CoreConfig, RateLimit};
use crate::core::engine::{Engine, Now};
use crate::core::observe::{ConnChange, ConnState};
use crate::core::session::ConnId;

/// A decoded server frame, owned, for assertions.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Got {
    Welcome(String),
    Message {
        replayed: bool,
        seq: u64,
        room: String,
        from: String,
        text: String,
    },
    Private {
        seq: u64,
        from: String,
        to: String,
        text: String,
    },
    Joined(String, String),
    Left(String, String, u8),
    Members {
        room: String,
        more: bool,
        nicks: Vec<String>,
    },
    Pong(u64),
    Error(u16),
    Room(String, u8, u32),
    /// MEMBERS with bit 1 (a quiet room's partial list, version 2).
    Partial(String, Vec<String>),
}

pub(crate) struct Harness {
    pub(crate) e: Engine<()>,
    pub(crate) now: Now,
    pub(crate) closed: Vec<ConnId>,
}

impl Harness {
    pub(crate) fn new(cfg: CoreConfig) -> Self {
        Harness {
            e: Engine::new(cfg).expect("valid config"),
            now: Now {
                mono_ms: 1_000,
                unix_ms: 1_700_000_000_000,
            },
            closed: Vec::new(),
        }
    }

    pub(crate) fn connect(&mut self) -> ConnId {
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        assert!(self.e.admit(peer.ip()).is_ok());
        self.e.accept(peer, (), self.now)
    }

    pub(crate) fn send(&mut self, id: ConnId, msg: ClientMessage<'_>) {
        let mut b = Vec::new();
        msg.encode(&mut b, 65535).unwrap();
        self.e.on_input(id, &b, self.now);
    }

    pub(crate) fn raw(&mut self, id: ConnId, payload: &[u8]) {
        let mut b = Vec::new();
        crate::codec::encode_frame(&mut b, payload).unwrap();
        self.e.on_input(id, &b, self.now);
    }

    pub(crate) fn hello(&mut self, nick: &str) -> ConnId {
        self.hello_v(nick, 1)
    }

    /// A client registered with HELLO `version`.
    pub(crate) fn hello_v(&mut self, nick: &str, version: u8) -> ConnId {
        let id = self.connect();
        self.send(
            id,
            ClientMessage::Hello {
                version,
                nick,
                token: "",
            },
        );
        id
    }

    pub(crate) fn advance(&mut self, ms: u64) {
        self.now.mono_ms += ms;
        self.now.unix_ms += ms;
        self.e.tick(self.now);
    }

    /// Takes everything queued for `id`, decoded.
    pub(crate) fn recv(&mut self, id: ConnId) -> Vec<Got> {
        let bytes = match self.e.queued_copy(id) {
            Some(b) => b,
            None => return Vec::new(),
        };
        self.e.consumed(id, bytes.len());
        let mut out = Vec::new();
        FrameDecoder::new(65535).decode_all(&bytes, |ev| {
            let Event::Frame(p) = ev else {
                panic!("bad frame from server")
            };
            out.push(
                match ServerMessage::decode(p).expect("valid server message") {
                    ServerMessage::Welcome { nick, .. } => Got::Welcome(nick.into()),
                    ServerMessage::Message {
                        flags,
                        seq,
                        room,
                        from,
                        text,
                        ..
                    } => Got::Message {
                        replayed: flags & 1 == 1,
                        seq,
                        room: room.into(),
                        from: from.into(),
                        text: text.into(),
                    },
                    ServerMessage::Private {
                        seq,
                        from,
                        to,
                        text,
                        ..
                    } => Got::Private {
                        seq,
                        from: from.into(),
                        to: to.into(),
                        text: text.into(),
                    },
                    ServerMessage::Joined { room, nick } => Got::Joined(room.into(), nick.into()),
                    ServerMessage::Left { room, nick, reason } => {
                        Got::Left(room.into(), nick.into(), reason)
                    }
                    ServerMessage::Members { room, flags, nicks } if flags & 2 == 2 => {
                        assert_eq!(flags, 2, "a partial list is one frame");
                        Got::Partial(room.into(), nicks.iter().map(str::to_owned).collect())
                    }
                    ServerMessage::Members { room, flags, nicks } => Got::Members {
                        room: room.into(),
                        more: flags & 1 == 1,
                        nicks: nicks.iter().map(str::to_owned).collect(),
                    },
                    ServerMessage::Pong { token } => Got::Pong(token),
                    ServerMessage::Error { code, .. } => Got::Error(code),
                    ServerMessage::Room {
                        room,
                        flags,
                        members,
                    } => Got::Room(room.into(), flags, members),
                },
            );
        });
        out
    }

    /// Bytes queued for `id` and not yet taken.
    pub(crate) fn queued(&mut self, id: ConnId) -> usize {
        self.e.queued_copy(id).map_or(0, |b| b.len())
    }

    pub(crate) fn closes(&mut self) -> Vec<ConnId> {
        let mut v = Vec::new();
        self.e.take_closes(&mut v);
        self.closed.extend(&v);
        v
    }
}

pub(crate) fn cfg() -> CoreConfig {
    CoreConfig::default()
}

fn members(nicks: &[&str]) -> Got {
    Got::Members {
        room: "lobby".into(),
        more: false,
        nicks: nicks.iter().map(|s| s.to_string()).collect(),
    }
}

#[test]
fn registration_sends_welcome_members_joined_back_to_back() {
    let mut h = Harness::new(cfg());
    let a = h.hello("Alice");
    assert_eq!(
        h.recv(a),
        vec![
            Got::Welcome("Alice".into()),
            members(&["Alice"]),
            Got::Joined("lobby".into(), "Alice".into())
        ]
    );
    let b = h.hello("bob");
    assert_eq!(
        h.recv(b),
        vec![
            Got::Welcome("bob".into()),
            members(&["Alice", "bob"]),
            Got::Joined("lobby".into(), "bob".into())
        ]
    );
    assert_eq!(h.recv(a), vec![Got::Joined("lobby".into(), "bob".into())]);
}

#[test]
fn nicks_are_unique_ascii_case_insensitively() {
    let mut h = Harness::new(cfg());
    h.hello("Alice");
    let dup = h.hello("ALICE");
    assert_eq!(h.recv(dup), vec![Got::Error(ErrorCode::NickTaken as u16)]);
    assert_eq!(h.closes().len(), 1);
    let e1 = h.hello("Émile");
    let e2 = h.hello("émile");
    assert_eq!(h.recv(e1)[0], Got::Welcome("Émile".into()));
    assert_eq!(h.recv(e2)[0], Got::Welcome("émile".into()));
}

#[test]
fn hello_checks_in_order() {
    let mut h = Harness::new(CoreConfig {
        password: Some("pw".into()),
        ..cfg()
    });
    let a = h.connect();
    h.raw(a, &[msg_type::HELLO, 1, 5]);
    assert_eq!(h.recv(a), vec![Got::Error(ErrorCode::Malformed as u16)]);
    assert!(
        h.closes().is_empty(),
        "malformed HELLO keeps the connection pending"
    );
    h.send(
        a,
        ClientMessage::Hello {
            version: 3,
            nick: "a b",
            token: "x",
        },
    );
    assert_eq!(h.recv(a), vec![Got::Error(ErrorCode::BadVersion as u16)]);
    let b = h.connect();
    h.send(
        b,
        ClientMessage::Hello {
            version: 1,
            nick: "a b",
            token: "x",
        },
    );
    assert_eq!(h.recv(b), vec![Got::Error(ErrorCode::AuthFailed as u16)]);
    let c = h.connect();
    h.send(
        c,
        ClientMessage::Hello {
            version: 1,
            nick: "a b",
            token: "pw",
        },
    );
    assert_eq!(h.recv(c), vec![Got::Error(ErrorCode::BadName as u16)]);
    assert_eq!(h.closes().len(), 3);
}

#[test]
fn before_welcome_only_hello_ping_bye() {
    let mut h = Harness::new(cfg());
    let a = h.connect();
    h.send(a, ClientMessage::Ping { token: 7 });
    assert_eq!(h.recv(a), vec![Got::Pong(7)]);
    h.raw(a, &[0x42]);
    assert_eq!(h.recv(a), vec![Got::Error(ErrorCode::NotRegistered as u16)]);
    assert_eq!(h.closes(), vec![a]);
    let b = h.connect();
    h.send(b, ClientMessage::Bye);
    assert_eq!(h.recv(b), vec![]);
    assert_eq!(h.closes(), vec![b]);
}

#[test]
fn after_welcome_errors_keep_the_connection() {
    let mut h = Harness::new(cfg());
    let a = h.hello("a");
    h.recv(a);
    h.send(
        a,
        ClientMessage::Hello {
            version: 1,
            nick: "zz",
            token: "",
        },
    );
    h.raw(a, &[0x42, 1, 2]);
    h.raw(a, &[msg_type::SAY, 5, b'l']);
    h.send(a, ClientMessage::Join { room: "bad room" });
    h.send(
        a,
        ClientMessage::Say {
            room: "nowhere",
            text: "x",
        },
    );
    h.send(
        a,
        ClientMessage::Say {
            room: "lobby",
            text: "bell\u{7}",
        },
    );
    h.send(a, ClientMessage::Who { room: "nowhere" });
    h.send(
        a,
        ClientMessage::Whisper {
            to: "nobody",
            text: "x",
        },
    );
    h.send(a, ClientMessage::Part { room: "nowhere" });
    h.send(a, ClientMessage::Ping { token: 1 });
    use ErrorCode::*;
    let codes = [
        AlreadyRegistered,
        UnknownType,
        Malformed,
        BadName,
        NotInRoom,
        Malformed,
        NoSuchRoom,
        NoSuchNick,
        NotInRoom,
    ];
    let mut expected: Vec<Got> = codes.iter().map(|c| Got::Error(*c as u16)).collect();
    expected.push(Got::Pong(1));
    assert_eq!(h.recv(a), expected);
    assert!(h.closes().is_empty());
}

#[test]
fn say_is_echoed_and_kept_in_history_and_replayed() {
    let mut h = Harness::new(CoreConfig {
        history: 2,
        ..cfg()
    });
    let a = h.hello("a");
    for t in ["one", "two", "three"] {
        h.send(
            a,
            ClientMessage::Say {
                room: "LOBBY",
                text: t,
            },
        );
    }
    let got = h.recv(a);
    assert_eq!(got.len(), 6);
    assert!(
        matches!(&got[3], Got::Message { replayed: false, seq: 1, room, from, text } if room == "lobby" && from == "a" && text == "one")
    );
    let b = h.hello("b");
    let got = h.recv(b);
    assert_eq!(got[0], Got::Welcome("b".into()));
    assert!(matches!(&got[1], Got::Message { replayed: true, seq: 2, text, .. } if text == "two"));
    assert!(
        matches!(&got[2], Got::Message { replayed: true, seq: 3, text, .. } if text == "three")
    );
    assert_eq!(got[3], members(&["a", "b"]));
    assert_eq!(got[4], Got::Joined("lobby".into(), "b".into()));
}

#[test]
fn empty_room_is_deleted_with_its_history() {
    let mut h = Harness::new(CoreConfig {
        default_room: None,
        ..cfg()
    });
    let a = h.hello("a");
    h.send(a, ClientMessage::Join { room: "r" });
    h.send(
        a,
        ClientMessage::Say {
            room: "r",
            text: "x",
        },
    );
    h.send(a, ClientMessage::Part { room: "r" });
    h.recv(a);
    h.send(a, ClientMessage::Join { room: "R" });
    let got = h.recv(a);
    assert_eq!(
        got[0],
        Got::Members {
            room: "R".into(),
            more: false,
            nicks: vec!["a".into()]
        }
    );
    assert_eq!(got.len(), 2);
}

#[test]
fn part_and_quit_send_left_with_reasons() {
    let mut h = Harness::new(cfg());
    let a = h.hello("a");
    let b = h.hello("b");
    h.recv(a);
    h.recv(b);
    h.send(a, ClientMessage::Part { room: "lobby" });
    assert_eq!(h.recv(a), vec![Got::Left("lobby".into(), "a".into(), 0)]);
    assert_eq!(h.recv(b), vec![Got::Left("lobby".into(), "a".into(), 0)]);
    h.send(a, ClientMessage::Join { room: "lobby" });
    h.recv(a);
    h.recv(b);
    h.send(a, ClientMessage::Bye);
    assert_eq!(h.recv(a), vec![]);
    assert_eq!(h.recv(b), vec![Got::Left("lobby".into(), "a".into(), 1)]);
    let c = h.hello("c");
    h.recv(b);
    h.e.on_peer_closed(c, h.now);
    assert_eq!(h.recv(b), vec![Got::Left("lobby".into(), "c".into(), 1)]);
    // The nick is free again at once.
    let a2 = h.hello("A");
    assert_eq!(h.recv(a2)[0], Got::Welcome("A".into()));
}

#[test]
fn whisper_to_other_and_to_self() {
    let mut h = Harness::new(cfg());
    let a = h.hello("a");
    let b = h.hello("Bob");
    h.recv(a);
    h.recv(b);
    h.send(
        a,
        ClientMessage::Whisper {
            to: "BOB",
            text: "psst",
        },
    );
    let p = Got::Private {
        seq: 1,
        from: "a".into(),
        to: "Bob".into(),
        text: "psst".into(),
    };
    assert_eq!(h.recv(a), vec![p.clone()]);
    assert_eq!(h.recv(b), vec![p]);
    h.send(
        a,
        ClientMessage::Whisper {
            to: "a",
            text: "me",
        },
    );
    assert_eq!(h.recv(a).len(), 1);
}

#[test]
fn too_long_is_refused_before_rate() {
    let mut h = Harness::new(CoreConfig {
        max_payload: 512,
        rate: Some(RateLimit {
            per_sec: 1.0,
            burst: 1,
        }),
        ..cfg()
    });
    let a = h.hello("a");
    h.recv(a);
    let fits = "x".repeat(512 - 22 - 5 - 1);
    let over = "x".repeat(512 - 22 - 5);
    h.send(
        a,
        ClientMessage::Say {
            room: "lobby",
            text: &over,
        },
    );
    h.send(
        a,
        ClientMessage::Say {
            room: "lobby",
            text: &fits,
        },
    );
    h.send(
        a,
        ClientMessage::Say {
            room: "lobby",
            text: "y",
        },
    );
    let got = h.recv(a);
    assert_eq!(got[0], Got::Error(ErrorCode::TooLong as u16));
    assert!(matches!(&got[1], Got::Message { seq: 1, .. }));
    assert_eq!(got[2], Got::Error(ErrorCode::RateLimited as u16));
    h.advance(1000);
    h.send(
        a,
        ClientMessage::Say {
            room: "lobby",
            text: "y",
        },
    );
    assert!(
        matches!(&h.recv(a)[0], Got::Message { seq: 2, .. }),
        "a rejected message used no seq"
    );
}

#[test]
fn too_many_rooms_counts_the_default_room() {
    let mut h = Harness::new(CoreConfig {
        max_rooms_per_client: 2,
        ..cfg()
    });
    let a = h.hello("a");
    h.send(a, ClientMessage::Join { room: "r1" });
    h.send(a, ClientMessage::Join { room: "r1" });
    h.send(a, ClientMessage::Join { room: "r2" });
    let got = h.recv(a);
    assert_eq!(
        got.last(),
        Some(&Got::Error(ErrorCode::TooManyRooms as u16))
    );
    assert_eq!(
        got.iter().filter(|g| matches!(g, Got::Joined(..))).count(),
        2
    );
}

#[test]
fn handshake_and_keepalive_timeouts() {
    let mut h = Harness::new(CoreConfig {
        handshake_timeout_ms: 500,
        keepalive_secs: 2,
        ..cfg()
    });
    let p = h.connect();
    let a = h.hello("a");
    let b = h.hello("b");
    h.recv(a);
    h.recv(b);
    h.advance(499);
    h.send(p, ClientMessage::Ping { token: 1 });
    assert!(h.closes().is_empty());
    h.advance(1);
    assert_eq!(
        h.recv(p),
        vec![Got::Pong(1), Got::Error(ErrorCode::Timeout as u16)]
    );
    assert_eq!(h.closes(), vec![p]);
    h.advance(2000);
    h.send(b, ClientMessage::Ping { token: 2 });
    h.advance(499);
    assert!(h.closes().is_empty());
    h.advance(1);
    assert_eq!(h.closes(), vec![a]);
    assert_eq!(h.recv(a), vec![Got::Error(ErrorCode::Timeout as u16)]);
    assert_eq!(
        h.recv(b),
        vec![Got::Pong(2), Got::Left("lobby".into(), "a".into(), 2)]
    );
}

#[test]
fn slow_consumer_is_dropped_and_others_get_everything() {
    let mut h = Harness::new(CoreConfig {
        history: 0,
        max_payload: 512,
        max_outbuf: 2 * 520,
        ..cfg()
    });
    let slow = h.hello("slow");
    let fast = h.hello("fast");
    h.recv(fast);
    let text = "z".repeat(400);
    let mut got = Vec::new();
    for _ in 0..4 {
        h.send(
            fast,
            ClientMessage::Say {
                room: "lobby",
                text: &text,
            },
        );
        got.extend(h.recv(fast));
    }
    assert_eq!(
        got.iter()
            .filter(|g| matches!(g, Got::Message { .. }))
            .count(),
        4
    );
    assert!(got.contains(&Got::Left("lobby".into(), "slow".into(), 3)));
    assert_eq!(h.closes(), vec![slow]);
    let got = h.recv(slow);
    assert_eq!(
        got.last(),
        Some(&Got::Error(ErrorCode::SlowConsumer as u16))
    );
    h.send(fast, ClientMessage::Ping { token: 9 });
    assert_eq!(h.recv(fast), vec![Got::Pong(9)]);
    assert_eq!(h.e.counters(h.now).slow_consumers, 1);
}

#[test]
fn framing_error_closes_with_bad_frame_last() {
    let mut h = Harness::new(cfg());
    let a = h.hello("a");
    h.recv(a);
    let mut bytes = Vec::new();
    ClientMessage::Ping { token: 3 }
        .encode(&mut bytes, 4096)
        .unwrap();
    bytes.extend_from_slice(b"garbage");
    ClientMessage::Ping { token: 4 }
        .encode(&mut bytes, 4096)
        .unwrap();
    h.e.on_input(a, &bytes, h.now);
    assert_eq!(
        h.recv(a),
        vec![Got::Pong(3), Got::Error(ErrorCode::BadFrame as u16)]
    );
    assert_eq!(h.closes(), vec![a]);
}

#[test]
fn who_splits_members_over_frames() {
    let mut h = Harness::new(CoreConfig {
        max_payload: 512,
        ..cfg()
    });
    let ids: Vec<ConnId> = (0..60)
        .map(|i| h.hello(&format!("member{i:02}xxxxxxxx")))
        .collect();
    h.recv(ids[0]);
    h.send(ids[0], ClientMessage::Who { room: "lobby" });
    let got = h.recv(ids[0]);
    assert!(got.len() > 1);
    let mut all = Vec::new();
    for (i, g) in got.iter().enumerate() {
        let Got::Members { more, nicks, .. } = g else {
            panic!("{g:?}")
        };
        assert_eq!(*more, i + 1 < got.len());
        all.extend(nicks.clone());
    }
    all.sort();
    assert_eq!(all.len(), 60);
}

#[test]
fn limits_on_connections_and_per_ip() {
    let h = Harness::new(CoreConfig {
        max_connections: 1,
        ..cfg()
    });
    let mut h = h;
    h.connect();
    assert_eq!(
        h.e.admit("127.0.0.1".parse().unwrap()),
        Err(ErrorCode::ServerFull)
    );
    let mut h2 = Harness::new(CoreConfig {
        max_connections_per_ip: 1,
        ..cfg()
    });
    let a = h2.connect();
    assert!(h2.e.admit("127.0.0.1".parse().unwrap()).is_err());
    assert!(h2.e.admit("127.0.0.2".parse().unwrap()).is_ok());
    h2.e.remove(a, h2.now);
    assert!(h2.e.admit("127.0.0.1".parse().unwrap()).is_ok());
}

#[test]
fn operator_view_pages_states_and_kicks() {
    let mut h = Harness::new(cfg());
    h.e.set_observing(true);
    let w = h.connect();
    let a = h.hello("a");
    let b = h.hello("b");
    let (page, more) = h.e.list(ConnState::Connected, 0, 1);
    assert_eq!(page.len(), 1);
    assert!(more);
    let (rest, more) = h.e.list(ConnState::Connected, page[0].id, 10);
    assert_eq!(rest.len(), 1);
    assert!(!more);
    assert_eq!(
        h.e.list(ConnState::Waiting, 0, 10).0[0].id,
        h.e.session(w).unwrap().serial()
    );
    h.recv(a);
    assert!(h.e.kick("B", "bye now", h.now));
    assert!(!h.e.kick("nobody", "x", h.now));
    assert_eq!(
        h.recv(b).last(),
        Some(&Got::Error(ErrorCode::Kicked as u16))
    );
    assert_eq!(h.recv(a), vec![Got::Left("lobby".into(), "b".into(), 6)]);
    let changes: Vec<ConnChange> = h.e.take_events().into_iter().map(|e| e.change).collect();
    assert_eq!(changes.len(), 6);
    assert_eq!(
        changes[5],
        ConnChange::Closed(crate::core::observe::CloseReason::Error(20))
    );
    let c = h.e.counters(h.now);
    assert_eq!((c.waiting, c.connected, c.closing, c.rooms), (1, 1, 1, 1));
}

#[test]
fn shutdown_sends_shutting_down_and_no_left() {
    let mut h = Harness::new(cfg());
    let a = h.hello("a");
    let b = h.hello("b");
    h.recv(a);
    h.recv(b);
    h.e.shutdown(h.now);
    assert_eq!(h.recv(a), vec![Got::Error(ErrorCode::ShuttingDown as u16)]);
    assert_eq!(h.recv(b), vec![Got::Error(ErrorCode::ShuttingDown as u16)]);
    assert_eq!(h.closes().len(), 2);
}

/// `produced_bytes` counts a broadcast once, and over any span bounds what
/// any one member was queued: the driver's per-turn fan-out bound rests on it.
#[test]
fn produced_bytes_counts_a_broadcast_once_and_bounds_every_member() {
    let mut h = Harness::new(cfg());
    let ids: Vec<ConnId> = (0..5).map(|i| h.hello(&format!("m{i}"))).collect();
    for &id in &ids {
        h.recv(id);
    }
    let before = h.e.produced_bytes();
    let queued_before: Vec<usize> = ids.iter().map(|&id| h.queued(id)).collect();
    assert!(queued_before.iter().all(|&q| q == 0));
    for &id in &ids[..3] {
        h.send(
            id,
            ClientMessage::Say {
                room: "lobby",
                text: "hello there",
            },
        );
    }
    h.send(ids[4], ClientMessage::Ping { token: 1 });
    let produced = h.e.produced_bytes() - before;
    let per_member: Vec<usize> = ids.iter().map(|&id| h.queued(id)).collect();
    // Three MESSAGEs, each encoded once, plus one PONG.
    let message = per_member[0] / 3;
    assert_eq!(per_member[..4], [3 * message; 4]);
    assert_eq!(
        produced as usize,
        3 * message + (per_member[4] - 3 * message)
    );
    assert!(per_member.iter().all(|&q| q as u64 <= produced));
    // A joiner's history and member list answer its own request and are not
    // counted; what the others get (JOINED) is.
    let before = h.e.produced_bytes();
    let late = h.hello("late");
    let produced = (h.e.produced_bytes() - before) as usize;
    let joined = h.queued(ids[0]) - per_member[0];
    assert!(joined > 0 && joined <= produced);
    assert!(h.queued(late) > produced, "history and MEMBERS not counted");
}

/// The smallest SAY, from the longest nick into a one-letter room, expands
/// by at most [`MAX_FANOUT_EXPANSION`] for the other members; so do JOIN and
/// PART.
#[test]
fn one_byte_of_input_makes_at_most_max_fanout_expansion_bytes_for_others() {
    use crate::core::engine::MAX_FANOUT_EXPANSION;
    let mut h = Harness::new(CoreConfig {
        default_room: None,
        ..cfg()
    });
    let long = "n".repeat(32);
    let other = h.hello("other");
    let talker = h.hello(&long);
    h.send(other, ClientMessage::Join { room: "r" });
    h.recv(other);
    h.recv(talker);
    let check = |h: &mut Harness, msg: ClientMessage<'_>| {
        let mut input = Vec::new();
        msg.encode(&mut input, 65535).unwrap();
        let before = h.queued(other);
        h.e.on_input(talker, &input, h.now);
        let grew = h.queued(other) - before;
        assert!(grew > 0, "{msg:?} reached the other member");
        assert!(
            grew <= MAX_FANOUT_EXPANSION * input.len(),
            "{msg:?}: {} bytes in, {grew} out",
            input.len()
        );
        h.recv(other);
        h.recv(talker);
    };
    check(&mut h, ClientMessage::Join { room: "r" });
    check(
        &mut h,
        ClientMessage::Say {
            room: "r",
            text: "x",
        },
    );
    check(&mut h, ClientMessage::Part { room: "r" });
}
