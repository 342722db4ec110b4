//! The admin channel through a real server (in-process, port 0): states,
//! the subscription, paging, kick, access rules and the metrics endpoint.

mod admin_support;
mod common;

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::net::TcpStream;

use admin_support::*;
use common::{Client, Msg, left};
use stxchat::admin::client::{AdminClient, ClientError};
use stxchat::admin::config::AdminConfigError;
use stxchat::admin::hub::AdminError;
use stxchat::admin::proto::{AdminErrorCode, AdminRequest};
use stxchat::codec::{ClientMessage, ErrorCode};
use stxchat::core::observe::{CloseReason, ConnChange, ConnEvent, ConnState};
use stxchat::server::{Server, ServerError};

/// The next pushed event, or a failure after [`WAIT`].
fn next_event(admin: &mut AdminClient) -> ConnEvent {
    admin
        .next_event(WAIT)
        .expect("admin connection works")
        .expect("an event within the wait")
}

#[test]
fn states_move_as_clients_connect_register_and_leave() {
    let srv = AdminServer::start(admin_config());
    let mut admin = srv.client(None);
    admin.subscribe().unwrap();

    // A connection that sends nothing is waiting.
    let raw = TcpStream::connect(srv.addr).unwrap();
    let ev = next_event(&mut admin);
    assert_eq!(ev.change, ConnChange::Accepted);
    assert_eq!(ev.peer, raw.local_addr().unwrap());
    assert_eq!(ev.nick, None);
    let waiting = admin.list_all(ConnState::Waiting).unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].id, ev.id);
    assert_eq!(waiting[0].peer, raw.local_addr().unwrap());
    assert!(admin.list_all(ConnState::Connected).unwrap().is_empty());
    let snap = admin.counters().unwrap();
    assert_eq!(
        (snap.counters.waiting, snap.counters.connected),
        (1, 0),
        "{snap:?}"
    );

    // Registering moves a connection from waiting to connected.
    let alice = Client::join_as(srv.addr, "alice");
    let accepted = next_event(&mut admin);
    assert_eq!(accepted.change, ConnChange::Accepted);
    let registered = next_event(&mut admin);
    assert_eq!(registered.change, ConnChange::Registered);
    assert_eq!(registered.id, accepted.id);
    assert_eq!(registered.nick.as_deref(), Some("alice"));
    let connected = admin.list_all(ConnState::Connected).unwrap();
    assert_eq!(connected.len(), 1);
    let a = &connected[0];
    assert_eq!(a.nick.as_deref(), Some("alice"));
    assert_eq!(a.peer, alice.stream.local_addr().unwrap());
    assert_eq!(a.rooms, vec!["lobby".to_string()]);
    assert!(a.connected_ms.is_some_and(|c| c >= a.accepted_ms));
    assert!(a.bytes_in > 0 && a.bytes_out > 0);
    assert_eq!(admin.list_all(ConnState::Waiting).unwrap().len(), 1);
    let snap = admin.counters().unwrap();
    assert_eq!((snap.counters.waiting, snap.counters.connected), (1, 1));
    assert_eq!(snap.counters.rooms, 1);

    // Leaving removes it; the waiting one goes when its socket closes.
    let mut alice = alice;
    alice.send(ClientMessage::Bye);
    let closed = next_event(&mut admin);
    assert_eq!(closed.id, accepted.id);
    assert_eq!(closed.change, ConnChange::Closed(CloseReason::Bye));
    assert!(admin.list_all(ConnState::Connected).unwrap().is_empty());
    drop(raw);
    let closed = next_event(&mut admin);
    assert_eq!(closed.id, ev.id);
    assert_eq!(closed.change, ConnChange::Closed(CloseReason::PeerClosed));
    assert!(admin.list_all(ConnState::Waiting).unwrap().is_empty());
    let snap = admin.counters().unwrap();
    assert_eq!(snap.counters.connected, 0);
    assert_eq!(snap.counters.accepted, 2);
}

#[test]
fn the_subscription_sees_every_change_in_order() {
    let srv = AdminServer::start(admin_config());
    let mut admin = srv.client(None);
    admin.subscribe().unwrap();
    // A second subscriber that only reads at the end sees the same stream.
    let mut late_reader = srv.client(None);
    late_reader.subscribe().unwrap();

    // Step by step, each step confirmed before the next: a known order.
    let mut expected: Vec<(String, ConnChange)> = Vec::new();
    let mut seen = Vec::new();
    let mut step = |admin: &mut AdminClient, label: &str, change: ConnChange| {
        let ev = next_event(admin);
        assert_eq!(ev.change, change, "{label}: {ev:?}");
        expected.push((label.to_owned(), change));
        seen.push(ev);
    };

    let mut carol = Client::connect(srv.addr);
    step(&mut admin, "carol", ConnChange::Accepted);
    let mut bob = Client::join_as(srv.addr, "bob");
    step(&mut admin, "bob", ConnChange::Accepted);
    step(&mut admin, "bob", ConnChange::Registered);
    carol.send(ClientMessage::Hello {
        version: 1,
        nick: "carol",
        token: "",
    });
    step(&mut admin, "carol", ConnChange::Registered);
    bob.send(ClientMessage::Bye);
    step(&mut admin, "bob", ConnChange::Closed(CloseReason::Bye));
    let mut dave = Client::connect(srv.addr);
    step(&mut admin, "dave", ConnChange::Accepted);
    dave.send_raw(b"garbage");
    step(
        &mut admin,
        "dave",
        ConnChange::Closed(CloseReason::Error(ErrorCode::BadFrame.as_u16())),
    );
    drop(carol);
    step(
        &mut admin,
        "carol",
        ConnChange::Closed(CloseReason::PeerClosed),
    );

    // Ids: one per connection, in accept order.
    let id_of: BTreeMap<&str, u64> = expected
        .iter()
        .zip(&seen)
        .map(|((label, _), ev)| (label.as_str(), ev.id))
        .collect();
    assert!(id_of["carol"] < id_of["bob"] && id_of["bob"] < id_of["dave"]);
    for ((label, _), ev) in expected.iter().zip(&seen) {
        assert_eq!(ev.id, id_of[label.as_str()]);
    }
    assert_eq!(
        seen[4].nick.as_deref(),
        Some("bob"),
        "closed events carry the nick"
    );

    let late: Vec<ConnEvent> = (0..seen.len())
        .map(|_| next_event(&mut late_reader))
        .collect();
    assert_eq!(late, seen);
}

#[test]
fn the_subscription_keeps_per_connection_order_under_load() {
    const N: usize = 300;
    let srv = AdminServer::start(admin_config());
    let mut admin = srv.client(None);
    admin.subscribe().unwrap();

    let mut clients: Vec<Client> = (0..N)
        .map(|i| Client::join_as(srv.addr, &format!("load{i}")))
        .collect();
    for (i, c) in clients.iter_mut().enumerate() {
        if i % 2 == 0 {
            c.send(ClientMessage::Bye);
        }
    }
    drop(clients);

    let mut per_conn: BTreeMap<u64, Vec<ConnChange>> = BTreeMap::new();
    for _ in 0..3 * N {
        let ev = next_event(&mut admin);
        per_conn.entry(ev.id).or_default().push(ev.change);
    }
    assert_eq!(per_conn.len(), N);
    for (id, changes) in &per_conn {
        assert_eq!(changes.len(), 3, "connection {id}: {changes:?}");
        assert_eq!(changes[0], ConnChange::Accepted);
        assert_eq!(changes[1], ConnChange::Registered);
        assert!(matches!(
            changes[2],
            ConnChange::Closed(CloseReason::Bye | CloseReason::PeerClosed)
        ));
    }
    // Nothing more: a fresh barrier (COUNTERS) comes with no event before it.
    let snap = admin.counters().unwrap();
    assert!(admin.take_events().is_empty());
    assert_eq!(snap.counters.accepted, N as u64);
}

#[test]
fn paging_covers_every_connection_exactly_once() {
    const REGISTERED: usize = 700;
    const WAITING: usize = 450;
    let srv = AdminServer::start(admin_config());
    let mut admin = srv.client(None);
    admin.subscribe().unwrap();
    let clients: Vec<Client> = (0..REGISTERED)
        .map(|i| Client::join_as(srv.addr, &format!("p{i}")))
        .collect();
    let raws: Vec<TcpStream> = (0..WAITING)
        .map(|_| TcpStream::connect(srv.addr).unwrap())
        .collect();
    // Wait until the server has accepted them all (every event seen).
    for _ in 0..2 * REGISTERED + WAITING {
        next_event(&mut admin);
    }
    admin.unsubscribe().unwrap();

    for (state, expect, limit) in [
        (ConnState::Connected, REGISTERED, 97u16),
        (ConnState::Waiting, WAITING, 64),
        (ConnState::Connected, REGISTERED, 1000),
    ] {
        let mut after = 0;
        let mut ids = Vec::new();
        let mut pages = 0;
        loop {
            let page = admin.list(state, after, limit).unwrap();
            pages += 1;
            assert!(page.entries.len() <= usize::from(limit));
            assert!(page.entries.iter().all(|e| e.state == state));
            ids.extend(page.entries.iter().map(|e| e.id));
            after = page.next_after;
            if !page.more {
                break;
            }
            assert!(pages < 10_000);
        }
        let unique: HashSet<u64> = ids.iter().copied().collect();
        assert_eq!(ids.len(), expect, "{state:?} limit {limit}");
        assert_eq!(unique.len(), expect);
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "id order");
        assert_eq!(pages, expect.div_ceil(usize::from(limit)).max(1));
    }
    let nicks: HashSet<String> = admin
        .list_all(ConnState::Connected)
        .unwrap()
        .into_iter()
        .filter_map(|e| e.nick)
        .collect();
    assert_eq!(nicks.len(), REGISTERED);
    assert!(nicks.contains("p0") && nicks.contains(&format!("p{}", REGISTERED - 1)));
    let peers: HashSet<_> = raws.iter().map(|r| r.local_addr().unwrap()).collect();
    let listed: HashSet<_> = admin
        .list_all(ConnState::Waiting)
        .unwrap()
        .into_iter()
        .map(|e| e.peer)
        .collect();
    assert_eq!(listed, peers);
    let snap = admin.counters().unwrap();
    assert_eq!(snap.counters.connected, REGISTERED as u64);
    assert_eq!(snap.counters.waiting, WAITING as u64);
    drop(clients);
}

#[test]
fn kick_closes_the_client_and_tells_its_rooms() {
    let srv = AdminServer::start(admin_config());
    let mut admin = srv.client(None);
    let mut alice = Client::join_as(srv.addr, "alice");
    let mut bob = Client::join_as(srv.addr, "bob");
    alice.send(ClientMessage::Join { room: "rust" });
    bob.send(ClientMessage::Join { room: "rust" });
    alice.sync();
    bob.sync();
    alice.sync();
    admin.subscribe().unwrap();

    assert!(!admin.kick("nobody", "x").unwrap());
    assert!(admin.kick("ALICE", "spamming").unwrap());

    let got = alice.until_eof();
    assert_eq!(
        got.last(),
        Some(&Msg::Error(ErrorCode::Kicked.as_u16())),
        "{got:?}"
    );
    let mut lefts = bob.sync();
    lefts.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    assert_eq!(
        lefts,
        vec![left("lobby", "alice", 6), left("rust", "alice", 6)]
    );
    let ev = next_event(&mut admin);
    assert_eq!(ev.nick.as_deref(), Some("alice"));
    assert_eq!(
        ev.change,
        ConnChange::Closed(CloseReason::Error(ErrorCode::Kicked.as_u16()))
    );
    let connected = admin.list_all(ConnState::Connected).unwrap();
    assert_eq!(connected.len(), 1);
    assert_eq!(connected[0].nick.as_deref(), Some("bob"));
    let snap = admin.counters().unwrap();
    assert_eq!(snap.counters.errors[ErrorCode::Kicked.as_u16() as usize], 1);
    // The nick is free again.
    let _alice2 = Client::join_as(srv.addr, "alice");
}

#[test]
fn a_non_loopback_admin_bind_without_a_token_is_refused() {
    let mut cfg = admin_config();
    cfg.admin.bind = Some("0.0.0.0:0".parse().unwrap());
    match Server::bind(cfg.clone()) {
        Err(ServerError::Admin(AdminError::Config(AdminConfigError::TokenRequired(a)))) => {
            assert_eq!(a, "0.0.0.0:0".parse().unwrap());
        }
        other => panic!("expected a refusal, got {other:?}"),
    }

    // The command line refuses it too, with exit code 2.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stxchat"))
        .args([
            "server",
            "--bind",
            "127.0.0.1:0",
            "--admin-bind",
            "0.0.0.0:0",
        ])
        .env_remove("STXCHAT_ADMIN_TOKEN")
        .output()
        .expect("run stxchat");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--admin-token"), "{stderr}");
}

#[test]
fn a_token_guards_the_admin_channel() {
    let mut cfg = admin_config();
    cfg.admin.token = Some("s3cret".into());
    let srv = AdminServer::start(cfg);
    let addr = srv.admin.to_string();

    let err = AdminClient::connect(&addr, None, WAIT).unwrap_err();
    assert_eq!(err.server_code(), Some(AdminErrorCode::AuthFailed), "{err}");
    let err = AdminClient::connect(&addr, Some("wrong"), WAIT).unwrap_err();
    assert_eq!(err.server_code(), Some(AdminErrorCode::AuthFailed), "{err}");

    // A request before AUTH: ERROR auth_required, then the server closes.
    let mut raw = TcpStream::connect(srv.admin).unwrap();
    let mut b = Vec::new();
    AdminRequest::Counters.encode(&mut b).unwrap();
    raw.write_all(&b).unwrap();
    raw.set_read_timeout(Some(WAIT)).unwrap();
    let mut got = Vec::new();
    std::io::Read::read_to_end(&mut raw, &mut got).unwrap();
    let mut dec = stxchat::codec::FrameDecoder::new(65535);
    let mut frames = Vec::new();
    dec.decode_all(&got, |e| {
        if let stxchat::codec::Event::Frame(p) = e {
            frames.push(stxchat::admin::proto::AdminResponse::decode(p).unwrap());
        }
    });
    assert_eq!(frames.len(), 1);
    assert!(matches!(
        frames[0],
        stxchat::admin::proto::AdminResponse::Error { code, .. }
            if code == AdminErrorCode::AuthRequired.as_u16()
    ));

    let mut ok = AdminClient::connect(&addr, Some("s3cret"), WAIT).unwrap();
    assert!(ok.counters().is_ok());
}

#[test]
fn metrics_parse_and_agree_with_the_traffic() {
    let mut cfg = admin_config();
    cfg.admin.metrics_bind = Some("127.0.0.1:0".parse().unwrap());
    let srv = AdminServer::start(cfg);
    let metrics = srv.metrics.expect("metrics on");
    let mut admin = srv.client(None);

    let mut alice = Client::join_as(srv.addr, "alice");
    let mut bob = Client::join_as(srv.addr, "bob");
    for i in 0..5 {
        alice.say("lobby", &format!("hello {i}"));
    }
    for _ in 0..2 {
        bob.send(ClientMessage::Whisper {
            to: "alice",
            text: "psst",
        });
    }
    alice.send(ClientMessage::Part { room: "nowhere" }); // not_in_room
    alice.sync();
    bob.sync();
    let _waiting = TcpStream::connect(srv.addr).unwrap();
    wait_for("the waiting connection", || {
        (admin.counters().unwrap().counters.waiting == 1).then_some(())
    });

    let (status, _) = http_get(metrics, "/nothing");
    assert_eq!(status, 404);

    // The loop publishes a few times a second: wait for this traffic to show.
    let (text, scrape) = wait_for("metrics to show the traffic", || {
        let (status, text) = http_get(metrics, "/metrics");
        assert_eq!(status, 200);
        let scrape =
            prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
        let done = value(&scrape, "stxchat_messages_total", None) == 5.0
            && value(&scrape, "stxchat_connections", Some(("state", "waiting"))) == 1.0;
        done.then_some((text, scrape))
    });
    for line in text.lines() {
        if let Some(c) = line.strip_prefix("# ") {
            assert!(
                ["HELP ", "TYPE ", "UNIT "].iter().any(|k| c.starts_with(k)) || c == "EOF",
                "{line:?}"
            );
        } else {
            assert!(
                matches!(
                    prometheus_parse::LineInfo::parse(line),
                    prometheus_parse::LineInfo::Sample { .. }
                ),
                "{line:?}"
            );
        }
    }
    let v = |n, l| value(&scrape, n, l);
    assert_eq!(v("stxchat_privates_total", None), 2.0);
    assert_eq!(v("stxchat_connections", Some(("state", "connected"))), 2.0);
    assert_eq!(v("stxchat_connections_accepted_total", None), 3.0);
    assert_eq!(v("stxchat_rooms", None), 1.0);
    assert_eq!(
        v("stxchat_errors_total", Some(("code", "not_in_room"))),
        1.0
    );
    assert_eq!(v("stxchat_errors_total", Some(("code", "kicked"))), 0.0);
    // HELLO x2, SAY x5, WHISPER x2, PART, PING x4 (join_as and sync barriers).
    assert_eq!(v("stxchat_frames_received_total", None), 14.0);
    // Byte totals agree with the admin channel's counters.
    let snap = admin.counters().unwrap().counters;
    assert_eq!(
        v("stxchat_received_bytes_total", None),
        snap.bytes_in as f64
    );
    assert_eq!(v("stxchat_messages_total", None), snap.messages as f64);
    assert!(v("stxchat_sent_bytes_total", None) > 0.0);
    assert!(v("stxchat_uptime_seconds", None) >= 0.0);
}

fn value(scrape: &prometheus_parse::Scrape, name: &str, label: Option<(&str, &str)>) -> f64 {
    let s = scrape
        .samples
        .iter()
        .find(|s| s.metric == name && label.is_none_or(|(k, v)| s.labels.get(k) == Some(v)))
        .unwrap_or_else(|| panic!("no sample {name} {label:?}"));
    match s.value {
        prometheus_parse::Value::Counter(v)
        | prometheus_parse::Value::Gauge(v)
        | prometheus_parse::Value::Untyped(v) => v,
        ref other => panic!("{name}: unexpected value {other:?}"),
    }
}

#[test]
fn rates_are_measured_over_the_last_second() {
    let srv = AdminServer::start(admin_config());
    let mut admin = srv.client(None);
    let mut alice = Client::join_as(srv.addr, "alice");
    // Keep traffic flowing until a measured interval shows messages.
    let rates = wait_for("a rate over a measured interval", || {
        for _ in 0..20 {
            alice.say("lobby", "tick");
        }
        alice.sync();
        let r = admin.counters().unwrap().rates;
        (r.interval_ms > 0 && r.messages > 0).then_some(r)
    });
    assert!(rates.interval_ms >= 1000, "{rates:?}");
    assert!(rates.frames_in >= rates.messages);
}

#[test]
fn shutdown_tells_admin_sessions() {
    let srv = AdminServer::start(admin_config());
    let mut admin = srv.client(None);
    admin.subscribe().unwrap();
    srv.handle.shutdown();
    let err = loop {
        match admin.next_event(WAIT) {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("no shutdown notice within the wait"),
            Err(e) => break e,
        }
    };
    match err {
        ClientError::Server { code, .. } => {
            assert_eq!(
                AdminErrorCode::from_u16(code),
                Some(AdminErrorCode::ShuttingDown)
            )
        }
        ClientError::Closed => {}
        other => panic!("{other}"),
    }
}

#[test]
fn rooms_are_listed_largest_first_with_totals() {
    let mut cfg = admin_config();
    cfg.admin.metrics_bind = Some("127.0.0.1:0".parse().unwrap());
    let srv = AdminServer::start(cfg);
    let mut admin = srv.client(None);
    // lobby: 4 members; dev: 3; ops: 2; solo: 1.
    let mut clients: Vec<Client> = (0..4)
        .map(|i| Client::join_as(srv.addr, &format!("user{i}")))
        .collect();
    for (room, n) in [("Dev", 3), ("ops", 2), ("solo", 1)] {
        for c in clients.iter_mut().take(n) {
            c.join(room);
        }
    }
    let page = admin.rooms(2).unwrap();
    assert_eq!((page.rooms, page.quiet_rooms, page.more), (4, 0, true));
    let listed: Vec<(&str, u64, bool)> = page
        .entries
        .iter()
        .map(|r| (r.name.as_str(), r.members, r.quiet))
        .collect();
    assert_eq!(listed, [("lobby", 4, false), ("Dev", 3, false)]);
    let all = admin.rooms(500).unwrap();
    assert!(!all.more);
    let sizes: Vec<u64> = all.entries.iter().map(|r| r.members).collect();
    assert_eq!(sizes, [4, 3, 2, 1]);
    // Rooms go away with their last member; a limit of 0 is read as 1.
    clients[0].part("solo");
    let page = wait_for("solo to go", || {
        let p = admin.rooms(0).unwrap();
        (p.rooms == 3).then_some(p)
    });
    assert_eq!(page.entries.len(), 1);
    assert_eq!(page.entries[0].name, "lobby");
    // Prometheus has both gauges.
    let metrics = srv.metrics.expect("metrics on");
    wait_for("the room gauges", || {
        let (_, text) = http_get(metrics, "/metrics");
        let scrape =
            prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
        (value(&scrape, "stxchat_rooms", None) == 3.0
            && value(&scrape, "stxchat_quiet_rooms", None) == 0.0)
            .then_some(())
    });
}

#[test]
fn quiet_rooms_are_flagged_and_counted() {
    let mut cfg = admin_config();
    cfg.core.presence_limit = 2;
    cfg.admin.metrics_bind = Some("127.0.0.1:0".parse().unwrap());
    let srv = AdminServer::start(cfg);
    let mut admin = srv.client(None);
    // lobby: 3 members, above the limit of 2: quiet. pair: 2: not quiet.
    let mut clients: Vec<Client> = (0..3)
        .map(|i| Client::join_as(srv.addr, &format!("q{i}")))
        .collect();
    for c in clients.iter_mut().take(2) {
        c.join("pair");
    }
    let page = admin.rooms(10).unwrap();
    assert_eq!((page.rooms, page.quiet_rooms), (2, 1), "{page:?}");
    let listed: Vec<(&str, u64, bool)> = page
        .entries
        .iter()
        .map(|r| (r.name.as_str(), r.members, r.quiet))
        .collect();
    assert_eq!(listed, [("lobby", 3, true), ("pair", 2, false)]);
    let metrics = srv.metrics.expect("metrics on");
    wait_for("the quiet-room gauge", || {
        let (_, text) = http_get(metrics, "/metrics");
        let scrape =
            prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
        (value(&scrape, "stxchat_quiet_rooms", None) == 1.0).then_some(())
    });
    // Back to normal at L / 2 = 1 member.
    clients.truncate(1);
    wait_for("lobby back to normal", || {
        let p = admin.rooms(10).unwrap();
        (p.quiet_rooms == 0 && p.entries.iter().all(|r| !r.quiet)).then_some(())
    });
}
