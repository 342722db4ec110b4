//! Cluster-mode engine tests without sockets: several engines fed one
//! in-memory log (the harness below plays the relay: it collects each
//! engine's proposals, appends them to a shared log in a chosen
//! interleaving, and feeds every engine every record in order).

use std::collections::BTreeMap;

use crate::codec::{ClientMessage, ErrorCode, LeftReason};
use crate::core::config::CoreConfig;
use crate::core::engine::Engine;
use crate::core::session::ConnId;
use crate::core::tests::{Got, Harness, cfg};

/// Node ids of the test cluster.
pub(crate) fn node_id(i: usize) -> u64 {
    0x5100 + i as u64
}

/// How the harness interleaves the nodes' proposals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interleave {
    /// One proposal of each node in turn, node 0 first.
    RoundRobin,
    /// Every proposal of the last node first, then the one before, ...
    Reversed,
}

/// A test cluster: engines and the shared log.
pub(crate) struct Cluster {
    pub(crate) nodes: Vec<Harness>,
    pub(crate) log: Vec<Vec<u8>>,
    /// How many records of the log each node has been fed.
    pub(crate) fed: Vec<usize>,
    /// Nodes cut off from the log: their proposals wait here unpublished,
    /// and they are fed nothing.
    pub(crate) cut: Vec<bool>,
    pub(crate) withheld: Vec<Vec<(u64, Vec<u8>)>>,
    pub(crate) interleave: Interleave,
    /// Records fed to no engine (a lost record), by log index.
    pub(crate) drop_for: Vec<(usize, usize)>,
}

impl Cluster {
    pub(crate) fn new(n: usize, cfg: CoreConfig) -> Self {
        let nodes = (0..n)
            .map(|i| {
                let mut h = Harness::new(cfg.clone());
                h.e.enable_cluster(node_id(i), &format!("n{i}"));
                h.e.start_fresh(0);
                h
            })
            .collect();
        Cluster {
            nodes,
            log: Vec::new(),
            fed: vec![0; n],
            cut: vec![false; n],
            withheld: vec![Vec::new(); n],
            interleave: Interleave::RoundRobin,
            drop_for: Vec::new(),
        }
    }

    /// Adds a node that starts later (it has to install a snapshot).
    pub(crate) fn add_node(&mut self, cfg: CoreConfig) -> usize {
        let i = self.nodes.len();
        let mut h = Harness::new(cfg);
        h.e.enable_cluster(node_id(i), &format!("n{i}"));
        h.now = self.nodes[0].now;
        self.nodes.push(h);
        self.fed.push(self.log.len());
        self.cut.push(false);
        self.withheld.push(Vec::new());
        i
    }

    /// Publishes every pending proposal and feeds every node, until quiet.
    pub(crate) fn pump(&mut self) {
        for _ in 0..1000 {
            let mut batches: Vec<Vec<(u64, Vec<u8>)>> = Vec::new();
            for (i, h) in self.nodes.iter_mut().enumerate() {
                let mut v = Vec::new();
                h.e.take_proposals(&mut v);
                if self.cut[i] {
                    self.withheld[i].append(&mut v);
                    batches.push(Vec::new());
                } else {
                    batches.push(v);
                }
            }
            let mut order: Vec<(usize, u64, Vec<u8>)> = Vec::new();
            match self.interleave {
                Interleave::RoundRobin => {
                    let mut its: Vec<_> = batches.into_iter().map(|b| b.into_iter()).collect();
                    loop {
                        let mut any = false;
                        for (i, it) in its.iter_mut().enumerate() {
                            if let Some((t, r)) = it.next() {
                                order.push((i, t, r));
                                any = true;
                            }
                        }
                        if !any {
                            break;
                        }
                    }
                }
                Interleave::Reversed => {
                    for (i, b) in batches.into_iter().enumerate().rev() {
                        order.extend(b.into_iter().map(|(t, r)| (i, t, r)));
                    }
                }
            }
            for (i, token, record) in order {
                self.log.push(record);
                let seq = self.log.len() as u64;
                let now = self.nodes[i].now;
                self.nodes[i].e.on_acked(token, seq);
                let _ = now;
            }
            let mut progressed = false;
            for i in 0..self.nodes.len() {
                if self.cut[i] || !self.nodes[i].e.cluster_ready() {
                    continue;
                }
                while self.fed[i] < self.log.len() {
                    let k = self.fed[i];
                    self.fed[i] += 1;
                    progressed = true;
                    if self.drop_for.contains(&(i, k)) {
                        continue;
                    }
                    let now = self.nodes[i].now;
                    let rec = self.log[k].clone();
                    self.nodes[i].e.on_record(k as u64 + 1, &rec, now);
                }
            }
            let pending = self
                .nodes
                .iter()
                .enumerate()
                .any(|(i, h)| !self.cut[i] && has_proposals(&h.e));
            if !progressed && !pending {
                return;
            }
        }
        panic!("the cluster did not settle");
    }

    /// A client of node `n` registered as `nick` (the log pumped).
    pub(crate) fn hello(&mut self, n: usize, nick: &str, version: u8) -> ConnId {
        let id = self.nodes[n].hello_v(nick, version);
        self.pump();
        id
    }

    pub(crate) fn send(&mut self, n: usize, id: ConnId, msg: ClientMessage<'_>) {
        self.nodes[n].send(id, msg);
    }

    pub(crate) fn recv(&mut self, n: usize, id: ConnId) -> Vec<Got> {
        self.nodes[n].recv(id)
    }

    /// Advances every node's clock by `ms` (ticking each).
    pub(crate) fn advance(&mut self, ms: u64) {
        for h in &mut self.nodes {
            h.advance(ms);
        }
    }
}

fn has_proposals(e: &Engine<()>) -> bool {
    e.cluster.as_ref().is_some_and(|c| !c.out_is_empty())
}

/// Rooms by name (sorted member nicks, history seqs, quiet), then nicks.
pub(crate) type ReplicaView = (BTreeMap<String, (Vec<String>, Vec<u64>, bool)>, Vec<String>);

/// Every node's replica in a comparable form: per room (by name) the
/// sorted member nicks and the history's seqs; then the sorted nicks.
pub(crate) fn replica_view(e: &Engine<()>) -> ReplicaView {
    let mut rooms = BTreeMap::new();
    for (_, room) in e.rooms.iter() {
        let mut nicks: Vec<String> = room
            .members
            .iter()
            .map(|&m| e.sessions[m].nick().unwrap_or("").to_owned())
            .chain(room.remote.iter().map(|&r| e.remotes.nick(r).to_owned()))
            .collect();
        nicks.sort();
        let seqs = room
            .history()
            .map(|f| u64::from_be_bytes(f[5..13].try_into().unwrap()))
            .collect();
        rooms.insert(room.name.to_string(), (nicks, seqs, room.quiet));
    }
    let mut all: Vec<String> = e.index[1]
        .values()
        .map(|&id| e.sessions[id].nick().unwrap_or("").to_owned())
        .chain(e.remotes.slab.iter().map(|(_, r)| r.nick.to_string()))
        .collect();
    all.sort();
    (rooms, all)
}

/// Asserts every node holds the same replica.
pub(crate) fn assert_same_replicas(c: &Cluster) {
    let first = replica_view(&c.nodes[0].e);
    for (i, h) in c.nodes.iter().enumerate().skip(1) {
        assert_eq!(replica_view(&h.e), first, "node {i} differs from node 0");
    }
}

pub(crate) fn say<'a>(room: &'a str, text: &'a str) -> ClientMessage<'a> {
    ClientMessage::Say { room, text }
}

pub(crate) fn messages(got: &[Got]) -> Vec<(u64, String, String)> {
    got.iter()
        .filter_map(|g| match g {
            Got::Message {
                replayed: false,
                seq,
                from,
                text,
                ..
            } => Some((*seq, from.clone(), text.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn one_cluster_wide_seq_and_one_room_order_under_concurrent_says() {
    for interleave in [Interleave::RoundRobin, Interleave::Reversed] {
        let mut c = Cluster::new(3, cfg());
        c.interleave = interleave;
        let ids: Vec<ConnId> = (0..3).map(|n| c.hello(n, &format!("u{n}"), 2)).collect();
        let ids2: Vec<ConnId> = (0..3).map(|n| c.hello(n, &format!("v{n}"), 1)).collect();
        for n in 0..3 {
            c.recv(n, ids[n]);
            c.recv(n, ids2[n]);
        }
        // Every client says 5 things before anything is published.
        for k in 0..5 {
            for n in 0..3 {
                let text = format!("{n}-{k}");
                c.send(n, ids[n], say("lobby", &text));
                c.send(n, ids2[n], say("lobby", &format!("v{text}")));
            }
            c.pump();
        }
        let mut seen = Vec::new();
        for n in 0..3 {
            for id in [ids[n], ids2[n]] {
                let got = c.recv(n, id);
                let m = messages(&got);
                assert_eq!(m.len(), 30, "node {n}: every MESSAGE of every node");
                assert!(
                    m.windows(2).all(|w| w[0].0 < w[1].0),
                    "seq strictly increasing"
                );
                seen.push(m);
            }
        }
        assert!(
            seen.windows(2).all(|w| w[0] == w[1]),
            "identical order everywhere"
        );
        // Each sender's own MESSAGEs in the order it sent them.
        for n in 0..3 {
            let own: Vec<String> = seen[0]
                .iter()
                .filter(|(_, f, _)| *f == format!("u{n}"))
                .map(|(_, _, t)| t.clone())
                .collect();
            let want: Vec<String> = (0..5).map(|k| format!("{n}-{k}")).collect();
            assert_eq!(own, want);
        }
        assert_same_replicas(&c);
    }
}

#[test]
fn of_many_claims_for_one_nick_exactly_one_gets_welcome() {
    let mut c = Cluster::new(3, cfg());
    let mut ids = Vec::new();
    for round in 0..10 {
        for n in 0..3 {
            let nick = if round % 2 == 0 { "Bob" } else { "BOB" };
            ids.push((n, c.nodes[n].hello_v(nick, 2)));
        }
    }
    c.pump();
    let mut welcomes = 0;
    let mut taken = 0;
    for &(n, id) in &ids {
        let got = c.recv(n, id);
        if got.iter().any(|g| matches!(g, Got::Welcome(_))) {
            welcomes += 1;
        } else {
            assert_eq!(got, vec![Got::Error(ErrorCode::NickTaken.as_u16())]);
            taken += 1;
        }
    }
    assert_eq!((welcomes, taken), (1, 29));
    let closed: usize = c.nodes.iter_mut().map(|h| h.closes().len()).sum();
    assert_eq!(closed, 29);
    // A HELLO for a nick registered on another node is refused at once.
    let late = c.nodes[2].hello_v("bob", 1);
    assert_eq!(
        c.recv(2, late),
        vec![Got::Error(ErrorCode::NickTaken.as_u16())]
    );
    assert_same_replicas(&c);
}

#[test]
fn members_who_history_and_whisper_reach_across_nodes() {
    let mut c = Cluster::new(3, cfg());
    let a = c.hello(0, "Alice", 2);
    c.send(0, a, ClientMessage::Join { room: "r" });
    c.pump();
    for k in 0..3 {
        c.send(0, a, say("r", &format!("m{k}")));
    }
    c.pump();
    c.recv(0, a);
    let b = c.hello(1, "Bob", 2);
    c.recv(1, b);
    assert_eq!(
        c.recv(0, a),
        vec![Got::Joined("lobby".into(), "Bob".into())]
    );
    c.send(1, b, ClientMessage::Join { room: "R" });
    c.pump();
    let got = c.recv(1, b);
    let hist: Vec<&Got> = got
        .iter()
        .filter(|g| matches!(g, Got::Message { replayed: true, .. }))
        .collect();
    assert_eq!(hist.len(), 3, "history of another node's messages: {got:?}");
    let listed: Vec<Vec<String>> = got
        .iter()
        .filter_map(|g| match g {
            Got::Members { nicks, .. } => {
                let mut n = nicks.clone();
                n.sort();
                Some(n)
            }
            _ => None,
        })
        .collect();
    assert_eq!(listed, vec![vec!["Alice".to_string(), "Bob".to_string()]]);
    assert_eq!(got.last(), Some(&Got::Joined("r".into(), "Bob".into())));
    assert_eq!(c.recv(0, a), vec![Got::Joined("r".into(), "Bob".into())]);
    // WHO from a third node.
    let z = c.hello(2, "Zed", 2);
    c.recv(2, z);
    c.recv(0, a);
    assert_eq!(
        c.recv(1, b),
        vec![Got::Joined("lobby".into(), "Zed".into())]
    );
    c.send(2, z, ClientMessage::Who { room: "r" });
    match c.recv(2, z).as_slice() {
        [Got::Members { nicks, .. }] => {
            let mut n = nicks.clone();
            n.sort();
            assert_eq!(n, vec!["Alice".to_string(), "Bob".to_string()]);
        }
        other => panic!("WHO: {other:?}"),
    }
    c.send(2, z, ClientMessage::Who { room: "nowhere" });
    assert_eq!(
        c.recv(2, z),
        vec![Got::Error(ErrorCode::NoSuchRoom.as_u16())]
    );
    // WHISPER across nodes; no_such_nick only if nowhere.
    c.send(
        2,
        z,
        ClientMessage::Whisper {
            to: "alice",
            text: "hi",
        },
    );
    c.send(
        2,
        z,
        ClientMessage::Whisper {
            to: "nobody",
            text: "hi",
        },
    );
    c.pump();
    let got_a = c.recv(0, a);
    let got_z = c.recv(2, z);
    match (got_a.as_slice(), got_z.as_slice()) {
        (
            [
                Got::Private {
                    seq: s1, from, to, ..
                },
            ],
            [Got::Private { seq: s2, .. }, Got::Error(e)],
        ) => {
            assert_eq!((s1, from.as_str(), to.as_str()), (s2, "Zed", "Alice"));
            assert_eq!(*e, ErrorCode::NoSuchNick.as_u16());
        }
        other => panic!("whisper: {other:?}"),
    }
    // SAY to a room one is not in, and PART of it: refused locally.
    c.send(2, z, say("r", "x"));
    c.send(2, z, ClientMessage::Part { room: "r" });
    assert_eq!(
        c.recv(2, z),
        vec![
            Got::Error(ErrorCode::NotInRoom.as_u16()),
            Got::Error(ErrorCode::NotInRoom.as_u16())
        ]
    );
    // PART across nodes.
    c.send(1, b, ClientMessage::Part { room: "r" });
    c.pump();
    assert_eq!(c.recv(1, b), vec![Got::Left("r".into(), "Bob".into(), 0)]);
    assert_eq!(c.recv(0, a), vec![Got::Left("r".into(), "Bob".into(), 0)]);
    assert_same_replicas(&c);
}

#[test]
fn departures_of_every_kind_reach_the_other_nodes() {
    let mut c = Cluster::new(3, cfg());
    let watcher = c.hello(1, "watch", 2);
    let a = c.hello(0, "a", 2);
    let b = c.hello(0, "b", 2);
    let d = c.hello(0, "d", 2);
    c.recv(1, watcher);
    // BYE, EOF, a transport error.
    c.send(0, a, ClientMessage::Bye);
    let now = c.nodes[0].now;
    c.nodes[0].e.on_peer_closed(b, now);
    c.nodes[0].e.on_transport_error(d, now);
    c.pump();
    let mut got = c.recv(1, watcher);
    got.sort_by_key(|g| format!("{g:?}"));
    assert_eq!(
        got,
        vec![
            Got::Left("lobby".into(), "a".into(), LeftReason::Quit.as_u8()),
            Got::Left("lobby".into(), "b".into(), LeftReason::Quit.as_u8()),
            Got::Left("lobby".into(), "d".into(), LeftReason::Error.as_u8()),
        ]
    );
    // The nicks are free again, on any node.
    let a2 = c.hello(2, "a", 2);
    assert!(matches!(c.recv(2, a2).first(), Some(Got::Welcome(_))));
    c.recv(1, watcher);
    // A dead node: every survivor proposes its departure; applied twice,
    // its clients leave once (reason 2) and their nicks are free.
    let e = c.hello(0, "e", 2);
    c.recv(1, watcher);
    c.recv(2, a2);
    c.cut[0] = true;
    let now1 = c.nodes[1].now;
    c.nodes[1].e.on_peer_dead(node_id(0), now1);
    let now2 = c.nodes[2].now;
    c.nodes[2].e.on_peer_dead(node_id(0), now2);
    c.pump();
    assert_eq!(
        c.recv(1, watcher),
        vec![Got::Left(
            "lobby".into(),
            "e".into(),
            LeftReason::TimedOut.as_u8()
        )]
    );
    assert_eq!(
        c.recv(2, a2),
        vec![Got::Left(
            "lobby".into(),
            "e".into(),
            LeftReason::TimedOut.as_u8()
        )]
    );
    let _ = e;
    let e2 = c.hello(1, "E", 1);
    assert!(matches!(c.recv(1, e2).first(), Some(Got::Welcome(_))));
    c.recv(1, watcher);
    c.recv(2, a2);
    // A clean stop of node 2: its clients get shutting_down, the others LEFT 5.
    let now = c.nodes[2].now;
    c.nodes[2].e.cluster_stop(now);
    assert_eq!(
        c.recv(2, a2),
        vec![Got::Error(ErrorCode::ShuttingDown.as_u16())]
    );
    c.pump();
    assert_eq!(
        c.recv(1, watcher),
        vec![Got::Left(
            "lobby".into(),
            "a".into(),
            LeftReason::ServerShutdown.as_u8()
        )]
    );
    let views: Vec<_> = [1usize, 2]
        .iter()
        .map(|&i| replica_view(&c.nodes[i].e))
        .collect();
    assert_eq!(views[0], views[1]);
}

#[test]
fn keepalive_timeouts_and_slow_consumers_are_departures_too() {
    let mut config = cfg();
    config.keepalive_secs = 2;
    let mut c = Cluster::new(2, config);
    let w = c.hello(1, "w", 2);
    let a = c.hello(0, "a", 2);
    c.recv(1, w);
    c.recv(0, a);
    // w stays alive; a goes silent past 1.5 x keepalive.
    for _ in 0..4 {
        c.nodes[1].send(w, ClientMessage::Ping { token: 1 });
        c.advance(1_000);
        c.pump();
    }
    let got = c.recv(1, w);
    assert!(
        got.contains(&Got::Left(
            "lobby".into(),
            "a".into(),
            LeftReason::TimedOut.as_u8()
        )),
        "{got:?}"
    );
    assert_same_replicas(&c);
}

#[test]
fn a_cut_link_answers_unavailable_after_two_seconds_and_acked_ones_wait() {
    let mut c = Cluster::new(2, cfg());
    let a = c.hello(0, "a", 2);
    let old = c.hello(0, "old", 1);
    let b = c.hello(1, "b", 2);
    c.recv(0, a);
    c.recv(0, old);
    c.recv(1, b);
    c.cut[0] = true;
    let now = c.nodes[0].now;
    c.nodes[0].e.on_link(false, now);
    c.send(0, a, say("lobby", "lost?"));
    c.send(0, a, ClientMessage::Ping { token: 7 });
    c.send(0, old, say("lobby", "v1"));
    let h = c.nodes[0].hello_v("newbie", 2);
    c.pump();
    // Held: nothing yet, not even the PONG behind the SAY.
    assert_eq!(c.recv(0, a), vec![]);
    assert!(c.nodes[0].e.input_held(a));
    c.advance(1_000);
    assert_eq!(c.recv(0, a), vec![]);
    c.advance(1_000);
    assert_eq!(
        c.recv(0, a),
        vec![Got::Error(ErrorCode::Unavailable.as_u16()), Got::Pong(7)]
    );
    assert_eq!(
        c.recv(0, old),
        vec![Got::Error(ErrorCode::Unavailable.as_u16())]
    );
    assert_eq!(
        c.recv(0, h),
        vec![Got::Error(ErrorCode::Unavailable.as_u16())]
    );
    assert!(
        c.nodes[0].closes().contains(&h),
        "unavailable closes a HELLO"
    );
    assert!(!c.nodes[0].e.input_held(a));
    let mut resumed = Vec::new();
    c.nodes[0].e.take_resumed(&mut resumed);
    assert!(resumed.contains(&a));
    // An acked proposal is not refused however long its record takes.
    c.send(0, a, say("lobby", "acked"));
    let mut out = Vec::new();
    c.nodes[0].e.take_proposals(&mut out);
    c.withheld[0].clear();
    assert_eq!(out.len(), 1);
    let (token, rec) = out.pop().unwrap();
    c.log.push(rec);
    let seq = c.log.len() as u64;
    c.nodes[0].e.on_acked(token, seq);
    c.advance(5_000);
    assert_eq!(c.recv(0, a), vec![]);
    c.cut[0] = false;
    let now = c.nodes[0].now;
    c.nodes[0].e.on_link(true, now);
    c.pump();
    let m = messages(&c.recv(0, a));
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].2, "acked");
    assert_eq!(
        messages(&c.recv(1, b)),
        m,
        "nothing refused arrived anywhere"
    );
    assert_eq!(c.nodes[0].e.cluster_stats().map(|s| s.unavailable), Some(3));
    // A refusal by the relay answers at once.
    c.send(0, a, say("lobby", "refused"));
    let mut out = Vec::new();
    c.nodes[0].e.take_proposals(&mut out);
    let now = c.nodes[0].now;
    c.nodes[0].e.on_refused(out[0].0, now);
    assert_eq!(
        c.recv(0, a),
        vec![Got::Error(ErrorCode::Unavailable.as_u16())]
    );
    assert_same_replicas(&c);
}

#[test]
fn departures_refused_by_the_relay_are_proposed_again_when_the_link_is_back() {
    let mut c = Cluster::new(2, cfg());
    let w = c.hello(1, "w", 2);
    let a = c.hello(0, "a", 2);
    c.recv(1, w);
    c.send(0, a, ClientMessage::Bye);
    let mut out = Vec::new();
    c.nodes[0].e.take_proposals(&mut out);
    let now = c.nodes[0].now;
    c.nodes[0].e.on_link(false, now);
    c.nodes[0].e.on_refused(out[0].0, now);
    c.pump();
    assert_eq!(c.recv(1, w), vec![]);
    c.nodes[0].e.on_link(true, now);
    c.pump();
    assert_eq!(c.recv(1, w), vec![Got::Left("lobby".into(), "a".into(), 1)]);
    assert_same_replicas(&c);
}

#[test]
fn garbage_truncated_unknown_and_replayed_records_are_ignored_and_counted() {
    let mut c = Cluster::new(2, cfg());
    let a = c.hello(0, "a", 2);
    let b = c.hello(1, "b", 2);
    c.send(0, a, say("lobby", "real"));
    c.pump();
    c.recv(0, a);
    c.recv(1, b);
    let real = c.log.last().unwrap().clone();
    let mut unknown_version = real.clone();
    unknown_version[4] = 9;
    let mut unknown_kind = real.clone();
    unknown_kind[5] = 200;
    let bad: Vec<Vec<u8>> = vec![
        b"garbage".to_vec(),
        real[..real.len() - 3].to_vec(),
        unknown_version,
        unknown_kind,
        real.clone(),
    ];
    for r in bad {
        c.log.push(r);
    }
    // A record that decodes but names nobody, and one with an invalid nick.
    let mut forged = Vec::new();
    crate::cluster::envelope::Envelope {
        origin: 0xbad,
        counter: 1,
        record: crate::cluster::envelope::Record::Say {
            serial: 1,
            time_ms: 0,
            room: "lobby",
            text: "x",
        },
    }
    .encode(&mut forged)
    .unwrap();
    c.log.push(forged);
    let mut forged = Vec::new();
    crate::cluster::envelope::Envelope {
        origin: 0xbad,
        counter: 2,
        record: crate::cluster::envelope::Record::Claim {
            serial: 1,
            version: 2,
            flags: 1,
            nick: "has space",
        },
    }
    .encode(&mut forged)
    .unwrap();
    c.log.push(forged);
    c.pump();
    assert_eq!(c.recv(0, a), vec![]);
    assert_eq!(c.recv(1, b), vec![]);
    for h in &c.nodes {
        let s = h.e.cluster_stats().unwrap();
        assert_eq!(s.bad_records.iter().sum::<u64>(), 4, "{s:?}");
        assert_eq!(
            s.bad_records[crate::cluster::envelope::EnvelopeError::Garbage.index()],
            1
        );
        assert_eq!(s.replayed, 1);
        assert_eq!(s.invalid, 2);
    }
    // Still working.
    c.send(1, b, say("lobby", "after"));
    c.pump();
    assert_eq!(messages(&c.recv(0, a)).len(), 1);
    assert_same_replicas(&c);
}

#[test]
fn settings_that_must_match_change_the_fingerprint() {
    let base = Engine::<()>::cluster_fingerprint(&cfg());
    assert_eq!(base, Engine::<()>::cluster_fingerprint(&cfg()));
    let mut c1 = cfg();
    c1.history = 7;
    let mut c2 = cfg();
    c2.presence_limit = 3;
    let mut c3 = cfg();
    c3.password = Some("pw".into());
    let mut c4 = cfg();
    c4.default_room = None;
    let mut c5 = cfg();
    c5.max_payload = 1024;
    for other in [c1.clone(), c2, c3.clone(), c4, c5] {
        assert_ne!(Engine::<()>::cluster_fingerprint(&other), base);
    }
    // The named list tells which differ, and never carries the password.
    let here = Engine::<()>::cluster_settings(&cfg());
    let diffs = here.differences(&Engine::<()>::cluster_settings(&c1));
    assert_eq!(diffs.len(), 1, "{diffs:?}");
    assert_eq!(diffs[0].name, "history");
    assert_eq!(diffs[0].there.as_deref(), Some("7"));
    let pw = Engine::<()>::cluster_settings(&c3);
    let shown = pw.get("password").unwrap();
    assert!(
        shown.starts_with("set (sha256 ") && !shown.contains("pw"),
        "{shown}"
    );
}
