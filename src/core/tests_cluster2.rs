//! Cluster-mode engine tests, part 2: quiet rooms across nodes, a node
//! joining by snapshot, a resync after a lost record, and standalone
//! behaviour (the harness is `tests_cluster.rs`'s).

use crate::codec::{ClientMessage, ROOM_QUIET};
use crate::core::session::ConnId;
use crate::core::tests::{Got, Harness, cfg};
use crate::core::tests_cluster::{Cluster, assert_same_replicas, messages, replica_view, say};

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn quiet_rooms_across_nodes_use_the_replica_count_and_keep_transitions_in_order() {
    let mut config = cfg();
    config.presence_limit = 4;
    let mut c = Cluster::new(2, config);
    let mut ids: Vec<(usize, ConnId)> = Vec::new();
    for (k, n) in [0usize, 1, 0, 1].into_iter().enumerate() {
        ids.push((n, c.hello(n, &format!("m{k}"), 2)));
    }
    // A message so that an author heads the partial list.
    c.send(0, ids[0].1, say("lobby", "first"));
    c.pump();
    for &(n, id) in &ids {
        c.recv(n, id);
    }
    // The fifth member (on node 1) turns the room quiet: every other
    // member, on both nodes, gets ROOM at once; the joiner its sequence.
    let fifth = c.hello(1, "m4", 2);
    for &(n, id) in &ids {
        assert_eq!(
            c.recv(n, id),
            vec![Got::Room("lobby".into(), ROOM_QUIET, 5)]
        );
    }
    let got = c.recv(1, fifth);
    let n = got.len();
    assert!(matches!(got[0], Got::Welcome(_)));
    assert!(matches!(got[1], Got::Message { replayed: true, .. }));
    match &got[2] {
        Got::Partial(room, nicks) => {
            assert_eq!(room, "lobby");
            assert_eq!(nicks[0], "m0", "the recent author first");
            assert_eq!(nicks.len(), 5, "members of both nodes: {nicks:?}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(got[n - 2], Got::Room("lobby".into(), ROOM_QUIET, 5));
    assert_eq!(got[n - 1], Got::Joined("lobby".into(), "m4".into()));
    // A sixth on node 0: no JOINED to others; the once-a-second counts
    // come from the replica's count on each node.
    let sixth = c.hello(0, "m5", 2);
    c.recv(0, sixth);
    for &(n, id) in &ids {
        assert_eq!(c.recv(n, id), vec![]);
    }
    c.advance(1_100);
    for &(n, id) in &ids {
        assert_eq!(
            c.recv(n, id),
            vec![Got::Room("lobby".into(), ROOM_QUIET, 6)]
        );
    }
    c.recv(1, fifth);
    c.recv(0, sixth);
    // WHO on either node: a partial list naming members of both.
    c.send(0, sixth, ClientMessage::Who { room: "lobby" });
    match c.recv(0, sixth).as_slice() {
        [Got::Partial(_, nicks), Got::Room(_, ROOM_QUIET, 6)] => assert_eq!(nicks.len(), 6),
        other => panic!("{other:?}"),
    }
    // Departures (no LEFT in a quiet room) down to L / 2 = 2: every
    // member left, on both nodes, gets the complete list, then ROOM.
    for &(n, id) in &[ids[2], ids[3], (1, fifth), (0, sixth)] {
        c.send(n, id, ClientMessage::Bye);
    }
    c.pump();
    for &(n, id) in &ids[..2] {
        let got = c.recv(n, id);
        let k = got.len();
        assert!(k >= 2, "{got:?}");
        match &got[k - 2] {
            Got::Members {
                nicks, more: false, ..
            } => {
                assert_eq!(
                    sorted(nicks.clone()),
                    vec!["m0".to_string(), "m1".to_string()]
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(got[k - 1], Got::Room("lobby".into(), 0, 2));
    }
    assert_same_replicas(&c);
    // Normal again: JOINED and LEFT are announced across nodes.
    let back = c.hello(1, "back", 2);
    c.recv(1, back);
    assert_eq!(
        c.recv(0, ids[0].1),
        vec![Got::Joined("lobby".into(), "back".into())]
    );
}

#[test]
fn a_node_joining_by_snapshot_sees_the_same_rooms_members_and_history() {
    let mut c = Cluster::new(2, cfg());
    let a = c.hello(0, "a", 2);
    let b = c.hello(1, "b", 1);
    c.send(0, a, ClientMessage::Join { room: "r" });
    c.send(1, b, ClientMessage::Join { room: "r" });
    c.pump();
    for k in 0..4 {
        c.send(0, a, say("r", &format!("a{k}")));
        c.send(1, b, say("r", &format!("b{k}")));
        c.pump();
    }
    let want = messages(&c.recv(0, a));
    // Node 2 starts: it installs node 0's snapshot, then the log after it.
    let n2 = c.add_node(cfg());
    let mut snap = Vec::new();
    let seq = c.nodes[0].e.snapshot(&mut snap);
    assert_eq!(seq, c.log.len() as u64);
    let now = c.nodes[n2].now;
    c.nodes[n2].e.install(seq, &snap, now).expect("installs");
    assert!(c.nodes[n2].e.cluster_ready());
    assert_eq!(c.nodes[n2].e.applied_seq(), seq);
    c.fed[n2] = seq as usize;
    assert_same_replicas(&c);
    // Its clients see what the others see.
    let z = c.hello(n2, "z", 2);
    c.recv(n2, z);
    c.send(n2, z, ClientMessage::Join { room: "r" });
    c.pump();
    let got = c.recv(n2, z);
    let hist: Vec<(u64, String, String)> = got
        .iter()
        .filter_map(|g| match g {
            Got::Message {
                replayed: true,
                seq,
                from,
                text,
                ..
            } => Some((*seq, from.clone(), text.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(hist, want, "the room's history, whichever node accepted it");
    let members: Vec<String> = got
        .iter()
        .find_map(|g| match g {
            Got::Members { nicks, .. } => Some(nicks.clone()),
            _ => None,
        })
        .expect("MEMBERS");
    assert_eq!(sorted(members), vec!["a", "b", "z"]);
    c.send(
        n2,
        z,
        ClientMessage::Whisper {
            to: "B",
            text: "hello",
        },
    );
    c.send(n2, z, say("r", "from z"));
    c.pump();
    let got_b = c.recv(1, b);
    assert!(
        got_b
            .iter()
            .any(|g| matches!(g, Got::Private { from, .. } if from == "z"))
    );
    assert!(messages(&got_b).iter().any(|m| m.2 == "from z"));
    // Nicks held elsewhere are taken for it too.
    let dup = c.nodes[n2].hello_v("A", 2);
    assert_eq!(c.recv(n2, dup), vec![Got::Error(7)]);
    assert_same_replicas(&c);
}

#[test]
fn a_resync_delivers_missed_messages_in_order_before_later_frames() {
    let mut c = Cluster::new(2, cfg());
    let a = c.hello(0, "a", 2);
    let b = c.hello(1, "b", 2);
    let gone = c.hello(0, "gone", 2);
    c.send(0, a, say("lobby", "seen"));
    c.pump();
    c.recv(0, a);
    assert_eq!(messages(&c.recv(1, b)).len(), 1);
    // Node 1 loses its place: records it never receives.
    c.cut[1] = true;
    c.send(0, gone, ClientMessage::Bye);
    let newc = c.hello(0, "newc", 2);
    c.recv(0, newc);
    c.send(0, a, say("lobby", "missed 1"));
    c.send(0, a, say("lobby", "missed 2"));
    c.pump();
    c.send(0, a, say("lobby", "missed 3"));
    c.pump();
    let sent = messages(&c.recv(0, a));
    assert_eq!(sent.len(), 3);
    // The relay gives up on the gap: a snapshot from node 0.
    let mut snap = Vec::new();
    let seq = c.nodes[0].e.snapshot(&mut snap);
    let now = c.nodes[1].now;
    c.nodes[1].e.install(seq, &snap, now).expect("installs");
    c.fed[1] = seq as usize;
    c.cut[1] = false;
    c.send(0, a, say("lobby", "later"));
    c.pump();
    let all = c.recv(1, b);
    let got = messages(&all);
    let texts: Vec<&str> = got.iter().map(|m| m.2.as_str()).collect();
    assert_eq!(texts, vec!["missed 1", "missed 2", "missed 3", "later"]);
    // The presence it missed, before any later frame of the room.
    let later = all
        .iter()
        .position(|g| matches!(g, Got::Message { text, .. } if text == "later"));
    let left = all
        .iter()
        .position(|g| *g == Got::Left("lobby".into(), "gone".into(), 1));
    let joined = all
        .iter()
        .position(|g| *g == Got::Joined("lobby".into(), "newc".into()));
    assert!(left.is_some() && joined.is_some(), "{all:?}");
    assert!(left < later && joined < later, "{all:?}");
    assert_eq!(got[..3], sent[..]);
    let stats = c.nodes[1].e.cluster_stats().unwrap().clone();
    assert_eq!(
        (stats.resyncs, stats.recovered, stats.unrecovered),
        (1, 3, 0)
    );
    assert_same_replicas(&c);
    // The resynced node's client goes on as before.
    c.send(1, b, say("lobby", "still here"));
    c.pump();
    assert_eq!(messages(&c.recv(0, a)).len(), 2);
}

#[test]
fn a_resync_counts_what_history_cannot_recover() {
    let mut config = cfg();
    config.history = 2;
    let mut c = Cluster::new(2, config);
    let a = c.hello(0, "a", 2);
    let b = c.hello(1, "b", 2);
    c.pump();
    c.recv(1, b);
    c.cut[1] = true;
    for k in 0..5 {
        c.send(0, a, say("lobby", &format!("m{k}")));
        c.pump();
    }
    let mut snap = Vec::new();
    let seq = c.nodes[0].e.snapshot(&mut snap);
    let now = c.nodes[1].now;
    c.nodes[1].e.install(seq, &snap, now).unwrap();
    let got = messages(&c.recv(1, b));
    assert_eq!(got.len(), 2, "what the history holds");
    assert_eq!(c.nodes[1].e.cluster_stats().unwrap().unrecovered, 1);
}

#[test]
fn bad_snapshots_are_refused_without_changing_anything() {
    let mut c = Cluster::new(1, cfg());
    let a = c.hello(0, "a", 2);
    let mut snap = Vec::new();
    c.nodes[0].e.snapshot(&mut snap);
    let before = replica_view(&c.nodes[0].e);
    let now = c.nodes[0].now;
    for cut in 0..snap.len() {
        assert!(
            c.nodes[0].e.install(9, &snap[..cut], now).is_err(),
            "cut {cut}"
        );
    }
    let mut extra = snap.clone();
    extra.push(0);
    assert!(c.nodes[0].e.install(9, &extra, now).is_err());
    assert!(c.nodes[0].e.install(9, b"garbage garbage", now).is_err());
    assert_eq!(replica_view(&c.nodes[0].e), before);
    let _ = a;
    // A standalone engine has no cluster to install into.
    let mut h = Harness::new(cfg());
    assert!(h.e.install(1, &snap, h.now).is_err());
    assert_eq!(h.e.applied_seq(), 0);
    let mut out = Vec::new();
    h.e.take_proposals(&mut out);
    assert!(out.is_empty());
}

#[test]
fn gateway_requests_are_refused_in_a_cluster() {
    let mut c = Cluster::new(1, cfg());
    let peer: std::net::SocketAddr = "127.0.0.1:6000".parse().unwrap();
    let now = c.nodes[0].now;
    let g = c.nodes[0].e.accept_gateway(peer, (), now);
    let mut frame = Vec::new();
    crate::core::gateway::wire::Request::Lusers
        .encode(&mut frame, 4096)
        .expect("encodes");
    c.nodes[0].e.on_input(g, &frame, now);
    assert_eq!(c.recv(0, g), vec![Got::Error(21)]);
}

#[test]
fn a_password_checked_hello_claims_its_nick_and_later_frames_wait_behind_it() {
    use crate::accounts::{UserDb, VerifyJob, cheap_params, hash_password, verify_password};
    use crate::core::VerifyOutcome;
    let phc = hash_password("alice-pw", &cheap_params()).unwrap();
    let config = crate::core::config::CoreConfig {
        users: Some(std::sync::Arc::new(
            UserDb::parse(&format!("alice:{phc}\n")).unwrap(),
        )),
        ..cfg()
    };
    let mut c = Cluster::new(2, config);
    let b = c.hello(1, "bob", 2);
    c.recv(1, b);
    let id = c.nodes[0].connect();
    let mut input = Vec::new();
    for m in [
        ClientMessage::Hello {
            version: 2,
            nick: "alice",
            token: "alice-pw",
        },
        ClientMessage::Ping { token: 1 },
        say("lobby", "hi"),
        ClientMessage::Ping { token: 2 },
    ] {
        m.encode(&mut input, 4096).unwrap();
    }
    let now = c.nodes[0].now;
    c.nodes[0].e.on_input(id, &input, now);
    let mut jobs: Vec<VerifyJob> = Vec::new();
    c.nodes[0].e.take_verify_jobs(&mut jobs);
    assert_eq!(jobs.len(), 1);
    for j in &jobs {
        let ok = verify_password(&j.phc, &j.token);
        let outcome = if ok {
            VerifyOutcome::Match
        } else {
            VerifyOutcome::Mismatch
        };
        c.nodes[0]
            .e
            .on_verified(j.id, j.serial, j.peer, outcome, now);
    }
    // Claimed, not yet applied: nothing answered, the rest held.
    assert_eq!(c.recv(0, id), vec![]);
    assert!(c.nodes[0].e.input_held(id));
    c.pump();
    let got = c.recv(0, id);
    assert!(matches!(got[0], Got::Welcome(_)), "{got:?}");
    let pongs: Vec<usize> = got
        .iter()
        .enumerate()
        .filter(|(_, g)| matches!(g, Got::Pong(_)))
        .map(|(i, _)| i)
        .collect();
    let msg = got
        .iter()
        .position(|g| {
            matches!(
                g,
                Got::Message {
                    replayed: false,
                    ..
                }
            )
        })
        .expect("its MESSAGE");
    assert_eq!(pongs.len(), 2);
    assert!(pongs[0] < msg && msg < pongs[1], "in order: {got:?}");
    assert_eq!(got.last(), Some(&Got::Pong(2)));
    assert!(
        c.recv(1, b)
            .contains(&Got::Joined("lobby".into(), "alice".into()))
    );
}

#[test]
fn an_operator_kick_is_a_departure_seen_on_every_node() {
    let mut c = Cluster::new(2, cfg());
    let w = c.hello(1, "w", 2);
    let k = c.hello(0, "k", 2);
    c.recv(0, k);
    c.recv(1, w);
    let now = c.nodes[0].now;
    assert!(c.nodes[0].e.kick("K", "bye", now));
    assert_eq!(c.recv(0, k), vec![Got::Error(20)]);
    c.pump();
    assert_eq!(c.recv(1, w), vec![Got::Left("lobby".into(), "k".into(), 6)]);
    assert_same_replicas(&c);
}

#[test]
fn a_node_declared_dead_while_alive_closes_its_clients_and_stays_consistent() {
    let mut c = Cluster::new(2, cfg());
    let a = c.hello(0, "a", 2);
    let b = c.hello(1, "b", 2);
    c.recv(0, a);
    c.recv(1, b);
    // Node 1 thinks node 0 died; node 0 applies its own departure too.
    let now = c.nodes[1].now;
    c.nodes[1]
        .e
        .on_peer_dead(crate::core::tests_cluster::node_id(0), now);
    c.pump();
    assert_eq!(c.recv(1, b), vec![Got::Left("lobby".into(), "a".into(), 2)]);
    assert_eq!(c.recv(0, a), vec![Got::Error(21)]);
    assert!(c.nodes[0].closes().contains(&a));
    assert_same_replicas(&c);
    // Node 0 goes on serving new clients.
    let a2 = c.hello(0, "a", 2);
    assert!(matches!(c.recv(0, a2).first(), Some(Got::Welcome(_))));
    assert_eq!(c.recv(1, b), vec![Got::Joined("lobby".into(), "a".into())]);
    assert_same_replicas(&c);
}

#[test]
fn a_reload_keeps_the_settings_the_cluster_shares() {
    let mut c = Cluster::new(1, cfg());
    let now = c.nodes[0].now;
    let e = &mut c.nodes[0].e;
    let running = e.config().clone();
    let mut new = running.clone();
    new.password = Some("changed".into());
    new.presence_limit = running.presence_limit + 1;
    new.rate = Some(crate::core::config::RateLimit {
        per_sec: 5.0,
        burst: 5,
    });
    e.reconfigure(&new, now).expect("valid");
    assert_eq!(e.config().password, running.password, "kept");
    assert_eq!(e.config().presence_limit, running.presence_limit, "kept");
    assert_eq!(e.config().rate, new.rate, "a local setting changes live");
    // What keep_cluster_settings reports and restores.
    let mut again = new.clone();
    let changed = crate::core::Engine::<()>::keep_cluster_settings(&mut again, &running);
    assert_eq!(changed, ["presence-limit", "password"]);
    assert_eq!(
        crate::core::Engine::<()>::cluster_fingerprint(&again),
        crate::core::Engine::<()>::cluster_fingerprint(&running)
    );
    // Standalone, the same reload changes them.
    let mut h = Harness::new(cfg());
    h.e.reconfigure(&new, h.now).expect("valid");
    assert_eq!(h.e.config().password.as_deref(), Some("changed"));
}
