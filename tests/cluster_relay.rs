//! The cluster relay against a real `nats-server -js` (no engine): one
//! order for every node, snapshots for joiners, settings check, liveness,
//! bad input on our subjects, a NATS restart. Records are opaque bytes here.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::nats::Nats;
use stxchat::cluster::link::{FromRelay, NodeId, NodeInfo, ToRelay};
use stxchat::cluster::liveness::Heartbeat;
use stxchat::cluster::relay::{Relay, RelayConfig};

const WAIT: Duration = Duration::from_secs(20);

/// One relay and what it has reported, with a replica that is simply the
/// list of records applied (its snapshot is their concatenation).
struct Node {
    relay: Relay,
    base: Option<u64>,
    snapshot: Vec<u8>,
    records: Vec<(u64, Vec<u8>)>,
    events: Vec<FromRelay>,
}

fn config(nats: &Nats, id: NodeId, fingerprint: u64) -> RelayConfig {
    let mut cfg = RelayConfig::new(vec![nats.url()], id, format!("node{id}"), fingerprint);
    cfg.listen_ms = 1_500;
    cfg
}

impl Node {
    fn start(cfg: RelayConfig) -> Node {
        let relay = Relay::start(cfg, Arc::new(|| {})).expect("relay starts");
        Node {
            relay,
            base: None,
            snapshot: Vec::new(),
            records: Vec::new(),
            events: Vec::new(),
        }
    }

    fn applied(&self) -> u64 {
        self.records.last().map(|r| r.0).or(self.base).unwrap_or(0)
    }

    /// Takes what the relay sent; answers snapshot requests.
    fn pump(&mut self) {
        let mut batch = Vec::new();
        self.relay.drain(&mut batch, 10_000);
        for m in batch {
            match m {
                FromRelay::Record { seq, record } => {
                    if let Some(&(last, _)) = self.records.last() {
                        assert_eq!(seq, last + 1, "records dense and in order");
                    } else if let Some(base) = self.base {
                        assert_eq!(seq, base + 1, "first record follows the base");
                    } else {
                        panic!("a record before Fresh/Install");
                    }
                    self.records.push((seq, record));
                }
                FromRelay::SnapshotWanted { reply } => {
                    let mut bytes = self.snapshot.clone();
                    for (_, r) in &self.records {
                        bytes.extend_from_slice(r);
                        bytes.push(b'\n');
                    }
                    let seq = self.applied();
                    assert!(
                        self.relay
                            .send(ToRelay::Snapshot { reply, seq, bytes })
                            .is_ok()
                    );
                }
                FromRelay::Fresh { seq } => {
                    self.base = Some(seq);
                    self.events.push(FromRelay::Fresh { seq });
                }
                FromRelay::Install { seq, bytes } => {
                    self.base = Some(seq);
                    self.snapshot = bytes.clone();
                    self.records.clear();
                    self.events.push(FromRelay::Install { seq, bytes });
                }
                other => self.events.push(other),
            }
        }
    }

    /// Pumps until `cond` holds (at most [`WAIT`]).
    fn wait(&mut self, what: &str, mut cond: impl FnMut(&Node) -> bool) {
        let deadline = Instant::now() + WAIT;
        loop {
            self.pump();
            if cond(self) {
                return;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn ready(&mut self) {
        self.wait("Fresh or Install", |n| n.base.is_some());
    }

    fn publish(&self, token: u64, record: &[u8]) {
        self.relay
            .send(ToRelay::Publish {
                token,
                record: record.to_vec(),
            })
            .expect("queue has room");
    }

    fn acked(&self, token: u64) -> Option<u64> {
        self.events.iter().find_map(|e| match e {
            FromRelay::Acked { token: t, seq } if *t == token => Some(*seq),
            _ => None,
        })
    }

    fn refused(&self, token: u64) -> bool {
        self.events
            .iter()
            .any(|e| matches!(e, FromRelay::Refused { token: t } if *t == token))
    }

    fn peers(&self) -> Option<&Vec<NodeInfo>> {
        self.events.iter().rev().find_map(|e| match e {
            FromRelay::Peers(p) => Some(p),
            _ => None,
        })
    }

    fn fatal(&self) -> Option<&String> {
        self.events.iter().find_map(|e| match e {
            FromRelay::Fatal(m) => Some(m),
            _ => None,
        })
    }
}

/// Publishes raw messages with a client of the test's own.
fn raw_publish(nats: &Nats, msgs: &[(&str, &[u8])]) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = async_nats::connect(nats.url()).await.expect("connect");
        for (subject, payload) in msgs {
            c.publish(subject.to_string(), payload.to_vec().into())
                .await
                .unwrap();
        }
        c.flush().await.unwrap();
    });
}

#[test]
fn nodes_share_one_order_and_a_joiner_gets_a_snapshot() {
    let nats = Nats::start();
    let mut a = Node::start(config(&nats, 0xa, 7));
    a.ready();
    assert!(matches!(
        a.events
            .iter()
            .find(|e| matches!(e, FromRelay::Fresh { .. })),
        Some(FromRelay::Fresh { seq: 0 })
    ));
    for i in 0..20u64 {
        a.publish(i, format!("a{i}").as_bytes());
    }
    a.wait("a's first records", |n| n.records.len() == 20);
    // A second node joins the running one: it takes a snapshot.
    let mut b = Node::start(config(&nats, 0xb, 7));
    let deadline = Instant::now() + WAIT;
    while b.base.is_none() {
        a.pump();
        b.pump();
        assert!(Instant::now() < deadline, "b joins");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        b.events
            .iter()
            .any(|e| matches!(e, FromRelay::Install { seq: 20, .. })),
        "{:?}",
        b.events
    );
    assert_eq!(b.snapshot.iter().filter(|&&c| c == b'\n').count(), 20);
    // Both publish at once: both see one order.
    for i in 0..200u64 {
        a.publish(1000 + i, format!("a{i}").as_bytes());
        b.publish(2000 + i, format!("b{i}").as_bytes());
    }
    let deadline = Instant::now() + WAIT;
    while a.records.len() < 420 || b.records.len() < 400 {
        a.pump();
        b.pump();
        assert!(
            Instant::now() < deadline,
            "all records arrive: a {} b {}",
            a.records.len(),
            b.records.len()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(&a.records[20..], &b.records[..], "one order");
    // Every publish was acknowledged with its place in that order.
    for i in 0..200u64 {
        let seq = a.acked(1000 + i).expect("acked");
        assert_eq!(a.records[seq as usize - 1].1, format!("a{i}").as_bytes());
        let seq = b.acked(2000 + i).expect("acked");
        assert_eq!(a.records[seq as usize - 1].1, format!("b{i}").as_bytes());
    }
    // Each one's records keep the order they were sent in.
    let mine: Vec<&[u8]> = a
        .records
        .iter()
        .map(|r| &r.1[..])
        .filter(|r| r.starts_with(b"b"))
        .collect();
    let want: Vec<Vec<u8>> = (0..200).map(|i| format!("b{i}").into_bytes()).collect();
    assert_eq!(mine, want.iter().map(|v| &v[..]).collect::<Vec<_>>());
    // Both see both, with their counts and applied sequences.
    b.relay
        .send(ToRelay::Status {
            connected: 3,
            applied: 420,
        })
        .unwrap();
    a.wait("b's status in a's peer list", |n| {
        n.peers()
            .is_some_and(|p| p.iter().any(|i| i.id == 0xb && i.connected == 3))
    });
    assert_eq!(a.peers().unwrap().len(), 2);
}

#[test]
fn a_node_with_other_settings_is_refused() {
    let nats = Nats::start();
    let mut a = Node::start(config(&nats, 0xa, 7));
    a.ready();
    let mut c = Node::start(config(&nats, 0xc, 8));
    let deadline = Instant::now() + WAIT;
    while c.fatal().is_none() {
        a.pump();
        c.pump();
        assert!(Instant::now() < deadline, "c is refused");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        c.fatal().unwrap().contains("other settings"),
        "{:?}",
        c.fatal()
    );
    assert!(c.base.is_none());
}

/// A relay config whose settings list holds `history`, its fingerprint
/// that list's digest; `garble` replaces the list's bytes with garbage
/// (the fingerprint stays).
fn config_with(nats: &Nats, id: NodeId, history: &str, garble: bool) -> RelayConfig {
    use stxchat::cluster::settings::Settings;
    let mut list = Settings::new();
    list.push("history", history);
    list.push("password", "none");
    let mut cfg = config(nats, id, list.fingerprint());
    list.encode(&mut cfg.settings);
    if garble {
        cfg.settings = b"STXS\x01\x09garbage".to_vec();
    }
    cfg
}

fn refusal(a: &mut Node, c: &mut Node) -> String {
    let deadline = Instant::now() + WAIT;
    while c.fatal().is_none() {
        a.pump();
        c.pump();
        assert!(Instant::now() < deadline, "c is refused");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(c.base.is_none());
    c.fatal().unwrap().clone()
}

#[test]
fn a_refusal_names_the_setting_or_falls_back_to_the_plain_message() {
    let nats = Nats::start();
    let mut a = Node::start(config_with(&nats, 0xa, "50", false));
    a.ready();
    let mut c = Node::start(config_with(&nats, 0xc, "7", false));
    let msg = refusal(&mut a, &mut c);
    assert!(
        msg.contains(r#"history is "50" there and "7" here"#),
        "{msg}"
    );
    assert!(!msg.contains("password is"), "{msg}");
    drop(c);
    drop(a);

    // A peer whose list does not decode (garbled, or an older build):
    // the plain message, nothing invented.
    let nats = Nats::start();
    let mut a = Node::start(config_with(&nats, 0xa, "50", true));
    a.ready();
    let mut c = Node::start(config_with(&nats, 0xc, "7", false));
    let msg = refusal(&mut a, &mut c);
    assert!(msg.contains("other settings ("), "{msg}");
    assert!(!msg.contains("history is"), "{msg}");
}

#[test]
fn unreachable_nats_is_a_clear_fatal_error() {
    let port = common::free_port();
    let mut cfg = RelayConfig::new(vec![format!("nats://127.0.0.1:{port}")], 1, "x".into(), 1);
    cfg.connect_attempts = 2;
    let mut n = Node::start(cfg);
    n.wait("a fatal error", |n| n.fatal().is_some());
    assert!(
        n.fatal().unwrap().contains("cannot reach NATS"),
        "{:?}",
        n.fatal()
    );
}

#[test]
fn a_silent_node_is_dead_and_a_leaving_one_is_not() {
    let nats = Nats::start();
    let mut a = Node::start(config(&nats, 0xa, 7));
    a.ready();
    // A node that sends one heartbeat and then nothing.
    let mut hb = Vec::new();
    Heartbeat {
        info: NodeInfo {
            id: 0xdead,
            name: "ghost".into(),
            connected: 1,
            applied: 0,
            fingerprint: 7,
        },
        ready: true,
        leaving: false,
    }
    .encode(&mut hb);
    raw_publish(&nats, &[("stxchat.hb", &hb)]);
    a.wait("the ghost in the peer list", |n| {
        n.peers().is_some_and(|p| p.iter().any(|i| i.id == 0xdead))
    });
    let seen = Instant::now();
    a.wait("the ghost declared dead", |n| {
        n.events
            .iter()
            .any(|e| matches!(e, FromRelay::PeerDead(0xdead)))
    });
    let after = seen.elapsed();
    assert!(
        after >= Duration::from_millis(2_000),
        "not before its 3 s: {after:?}"
    );
    // A node that stops cleanly is forgotten, not declared dead.
    let mut b = Node::start(config(&nats, 0xb, 7));
    let deadline = Instant::now() + WAIT;
    while b.base.is_none() || !a.peers().is_some_and(|p| p.iter().any(|i| i.id == 0xb)) {
        a.pump();
        b.pump();
        assert!(Instant::now() < deadline, "b joins");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        b.relay.stop(Duration::from_secs(5)),
        "the relay thread ends"
    );
    a.wait("b gone from the peer list", |n| {
        n.peers().is_some_and(|p| !p.iter().any(|i| i.id == 0xb))
    });
    std::thread::sleep(Duration::from_millis(3_500));
    a.pump();
    assert!(
        !a.events
            .iter()
            .any(|e| matches!(e, FromRelay::PeerDead(0xb)))
    );
}

#[test]
fn bad_input_on_our_subjects_is_ignored() {
    let nats = Nats::start();
    let mut a = Node::start(config(&nats, 0xa, 7));
    a.ready();
    a.publish(1, b"before");
    a.wait("the first record", |n| n.records.len() == 1);
    raw_publish(
        &nats,
        &[
            ("stxchat.feed.x.1", b"no stream headers"),
            ("stxchat.hb", b"garbage"),
            ("stxchat.hb", b"STXH\x09later version"),
            ("stxchat.hb", b"STXH\x01\x01short"),
            (&format!("stxchat.snap.{:016x}", 0xa), b"no reply subject"),
            // Into the log itself: it takes a place in the order (the
            // engine's decoder rejects it there).
            ("stxchat.log.garbage.0", b"\xff\xfe garbage record"),
        ],
    );
    a.publish(2, b"after");
    a.wait("the later records", |n| n.records.len() == 3);
    assert_eq!(a.records[1].1, b"\xff\xfe garbage record");
    assert_eq!(a.records[2].1, b"after");
    a.wait("five ignored", |n| {
        n.relay.stats().ignored.load(Ordering::Relaxed) >= 5
    });
    assert!(a.fatal().is_none());
}

#[test]
fn nats_restart_refuses_while_down_and_catches_up() {
    let mut nats = Nats::start();
    let mut a = Node::start(config(&nats, 0xa, 7));
    a.ready();
    for i in 0..10 {
        a.publish(i, b"x");
    }
    a.wait("ten records", |n| n.records.len() == 10);
    nats.kill();
    a.wait("link down", |n| {
        n.events.iter().any(|e| matches!(e, FromRelay::Link(false)))
    });
    a.publish(100, b"while down");
    a.wait("refused while down", |n| n.refused(100));
    nats.restart();
    a.wait("link up again", |n| {
        n.events
            .iter()
            .skip_while(|e| !matches!(e, FromRelay::Link(false)))
            .any(|e| matches!(e, FromRelay::Link(true)))
    });
    // JetStream may need a moment after the restart: retry what it refuses.
    let mut token = 101;
    loop {
        a.publish(token, b"after");
        a.wait("an answer", |n| {
            n.acked(token).is_some() || n.refused(token)
        });
        if a.acked(token).is_some() {
            break;
        }
        token += 1;
        assert!(token < 200, "JetStream never came back");
        std::thread::sleep(Duration::from_millis(100));
    }
    a.wait("the record after the restart", |n| n.records.len() == 11);
    // The file store kept the stream's sequence.
    assert_eq!(a.records[10], (11, b"after".to_vec()));
    assert_eq!(a.acked(token), Some(11));
}
