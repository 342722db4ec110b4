//! The admin session against an engine stand-in: auth, paging, pipelining,
//! backlog, subscriptions, kicks, rooms, nodes, bad input.

use std::collections::BTreeMap;

use super::*;
use crate::admin::proto::{AdminResponse, ListPage};
use crate::codec::names_equal;
use crate::core::observe::{CloseReason, ConnChange};

/// An engine stand-in: connections in a map, kicks recorded, rooms
/// as (name, members, quiet).
#[derive(Default)]
struct Fake {
    conns: BTreeMap<u64, ConnInfo>,
    kicked: Vec<(String, String)>,
    rooms: Vec<(String, u64, bool)>,
    nodes: Vec<crate::cluster::link::NodeInfo>,
}

impl Fake {
    fn with(n_waiting: u64, n_connected: u64) -> Self {
        let mut f = Fake::default();
        for id in 1..=n_waiting + n_connected {
            let connected = id > n_waiting;
            f.conns.insert(
                id,
                ConnInfo {
                    id,
                    peer: format!("127.0.0.1:{}", 2000 + id).parse().unwrap(),
                    nick: connected.then(|| format!("user{id}")),
                    state: if connected {
                        ConnState::Connected
                    } else {
                        ConnState::Waiting
                    },
                    rooms: if connected {
                        vec!["lobby".into()]
                    } else {
                        vec![]
                    },
                    accepted_ms: id,
                    connected_ms: connected.then_some(id + 1),
                    bytes_in: 0,
                    bytes_out: 0,
                    queued: 0,
                },
            );
        }
        f
    }
}

impl AdminSource for Fake {
    fn counters(&self) -> Counters {
        Counters {
            waiting: self
                .conns
                .values()
                .filter(|c| c.state == ConnState::Waiting)
                .count() as u64,
            connected: self
                .conns
                .values()
                .filter(|c| c.state == ConnState::Connected)
                .count() as u64,
            messages: 42,
            errors: vec![0; 21],
            ..Counters::default()
        }
    }

    fn list_page(&self, state: ConnState, after_id: u64, limit: usize) -> (Vec<ConnInfo>, bool) {
        let mut it = self
            .conns
            .range(after_id + 1..)
            .map(|(_, c)| c)
            .filter(|c| c.state == state);
        let page: Vec<ConnInfo> = it.by_ref().take(limit).cloned().collect();
        (page, it.next().is_some())
    }

    fn kick(&mut self, nick: &str, reason: &str) -> bool {
        let id = self
            .conns
            .values()
            .find(|c| c.nick.as_deref().is_some_and(|n| names_equal(n, nick)))
            .map(|c| c.id);
        match id {
            Some(id) => {
                self.conns.remove(&id);
                self.kicked.push((nick.into(), reason.into()));
                true
            }
            None => false,
        }
    }

    fn nodes(&self, limit: usize) -> NodesPage {
        // Hands back every node: the session must cut to the limit.
        let mut page = NodesPage::new("fake-node", &self.nodes, usize::MAX);
        page.more = self.nodes.len() > limit;
        page
    }

    fn rooms(&self, limit: usize) -> RoomsPage {
        let mut all = self.rooms.clone();
        all.sort_by_key(|r| std::cmp::Reverse(r.1));
        RoomsPage {
            rooms: all.len() as u64,
            quiet_rooms: all.iter().filter(|r| r.2).count() as u64,
            more: all.len() > limit,
            // Hands back one more than asked: the session must cut it.
            entries: all
                .into_iter()
                .take(limit + 1)
                .map(|(name, members, quiet)| crate::core::observe::RoomInfo {
                    name,
                    members,
                    quiet,
                })
                .collect(),
        }
    }
}

fn send(s: &mut AdminSession, req: AdminRequest<'_>) {
    let mut b = Vec::new();
    req.encode(&mut b).unwrap();
    s.receive(&b);
}

fn drain(s: &mut AdminSession) -> Vec<AdminResponse> {
    let mut out = Vec::new();
    FrameDecoder::new(ADMIN_MAX_PAYLOAD).decode_all(s.output(), |e| match e {
        Event::Frame(p) => out.push(AdminResponse::decode(p).unwrap()),
        Event::Error(e) => panic!("framing error {e}"),
    });
    let n = s.output().len();
    s.consume(n);
    out
}

fn run(s: &mut AdminSession, src: &mut Fake, auth: &AdminAuth) -> Vec<AdminResponse> {
    while s.process(src, auth, &Rates::default()) {}
    drain(s)
}

fn error_code(r: &AdminResponse) -> Option<AdminErrorCode> {
    match r {
        AdminResponse::Error { code, .. } => AdminErrorCode::from_u16(*code),
        _ => None,
    }
}

#[test]
fn without_a_token_requests_need_no_auth() {
    let auth = AdminAuth::new(None);
    let mut src = Fake::with(2, 3);
    let mut s = AdminSession::new(&auth);
    assert!(s.is_authenticated());
    send(&mut s, AdminRequest::Counters);
    let r = run(&mut s, &mut src, &auth);
    let [AdminResponse::Counters(snap)] = &r[..] else {
        panic!("{r:?}")
    };
    assert_eq!(snap.counters.waiting, 2);
    assert_eq!(snap.counters.connected, 3);
    assert_eq!(snap.counters.messages, 42);
    // An AUTH with any token is still accepted.
    send(
        &mut s,
        AdminRequest::Auth {
            version: ADMIN_VERSION,
            token: "whatever",
        },
    );
    assert_eq!(
        run(&mut s, &mut src, &auth),
        vec![AdminResponse::Ok {
            request: admin_type::AUTH
        }]
    );
}

#[test]
fn with_a_token_auth_must_come_first_and_match() {
    let auth = AdminAuth::new(Some("s3cret"));
    let mut src = Fake::with(1, 1);

    let mut s = AdminSession::new(&auth);
    send(&mut s, AdminRequest::Counters);
    send(&mut s, AdminRequest::Counters);
    let r = run(&mut s, &mut src, &auth);
    assert_eq!(r.len(), 1, "nothing is answered after the closing error");
    assert_eq!(error_code(&r[0]), Some(AdminErrorCode::AuthRequired));
    assert!(s.is_closing());
    assert!(!s.wants_read());

    let mut s = AdminSession::new(&auth);
    send(
        &mut s,
        AdminRequest::Auth {
            version: ADMIN_VERSION,
            token: "s3creT",
        },
    );
    let r = run(&mut s, &mut src, &auth);
    assert_eq!(error_code(&r[0]), Some(AdminErrorCode::AuthFailed));
    assert!(s.is_closing());

    let mut s = AdminSession::new(&auth);
    send(
        &mut s,
        AdminRequest::Auth {
            version: 9,
            token: "s3cret",
        },
    );
    let r = run(&mut s, &mut src, &auth);
    assert_eq!(error_code(&r[0]), Some(AdminErrorCode::BadVersion));

    let mut s = AdminSession::new(&auth);
    // A malformed AUTH is answered but does not end the session.
    s.receive(&{
        let mut b = Vec::new();
        crate::codec::encode_frame(&mut b, &[admin_type::AUTH, 1]).unwrap();
        b
    });
    let r = run(&mut s, &mut src, &auth);
    assert_eq!(error_code(&r[0]), Some(AdminErrorCode::Malformed));
    assert!(!s.is_closing());
    send(
        &mut s,
        AdminRequest::Auth {
            version: ADMIN_VERSION,
            token: "s3cret",
        },
    );
    send(&mut s, AdminRequest::Counters);
    let r = run(&mut s, &mut src, &auth);
    assert_eq!(
        r[0],
        AdminResponse::Ok {
            request: admin_type::AUTH
        }
    );
    assert!(matches!(r[1], AdminResponse::Counters(_)));
}

#[test]
fn counters_carry_the_rates_given() {
    let auth = AdminAuth::default();
    let mut src = Fake::default();
    let mut s = AdminSession::new(&auth);
    send(&mut s, AdminRequest::Counters);
    let rates = Rates {
        interval_ms: 1000,
        messages: 17,
        ..Rates::default()
    };
    assert!(!s.process(&mut src, &auth, &rates));
    let r = drain(&mut s);
    let [AdminResponse::Counters(snap)] = &r[..] else {
        panic!("{r:?}")
    };
    assert_eq!(snap.rates, rates);
}

#[test]
fn paging_covers_every_connection_once() {
    let auth = AdminAuth::default();
    let mut src = Fake::with(37, 2500);
    let mut s = AdminSession::new(&auth);
    for (state, expect) in [(ConnState::Waiting, 37), (ConnState::Connected, 2500)] {
        let mut after = 0;
        let mut ids = Vec::new();
        loop {
            send(
                &mut s,
                AdminRequest::List {
                    state,
                    after_id: after,
                    limit: 7000, // clamped to MAX_LIST_LIMIT
                },
            );
            let r = run(&mut s, &mut src, &auth);
            let [
                AdminResponse::List(ListPage {
                    state: st,
                    more,
                    next_after,
                    entries,
                    ..
                }),
            ] = &r[..]
            else {
                panic!("{r:?}")
            };
            assert_eq!(*st, state);
            assert!(entries.len() <= usize::from(MAX_LIST_LIMIT));
            assert!(entries.iter().all(|e| e.state == state));
            ids.extend(entries.iter().map(|e| e.id));
            after = *next_after;
            if !more {
                break;
            }
        }
        assert_eq!(ids.len(), expect);
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }
    // An empty list: one empty page, no `more`.
    send(
        &mut s,
        AdminRequest::List {
            state: ConnState::Closing,
            after_id: 5,
            limit: 0,
        },
    );
    let r = run(&mut s, &mut src, &auth);
    assert_eq!(
        r,
        vec![AdminResponse::List(ListPage {
            state: ConnState::Closing,
            more: false,
            next_after: 5,
            entries: vec![],
            rooms_truncated: vec![],
        })]
    );
}

#[test]
fn pipelined_requests_are_answered_in_bounded_slices() {
    let auth = AdminAuth::default();
    let mut src = Fake::with(0, 3000);
    let mut s = AdminSession::new(&auth);
    for _ in 0..10 {
        send(
            &mut s,
            AdminRequest::List {
                state: ConnState::Connected,
                after_id: 0,
                limit: MAX_LIST_LIMIT,
            },
        );
    }
    let mut calls = 0;
    let mut pages = 0;
    loop {
        calls += 1;
        let more = s.process(&mut src, &auth, &Rates::default());
        let r = drain(&mut s);
        // Each call lists at most WORK_BUDGET connections.
        let listed: usize = r
            .iter()
            .map(|x| match x {
                AdminResponse::List(p) => p.entries.len(),
                _ => 0,
            })
            .sum();
        assert!(listed <= WORK_BUDGET, "{listed}");
        pages += r.len();
        if !more {
            break;
        }
    }
    assert_eq!(pages, 10);
    assert!(calls >= 5);
}

#[test]
fn backlog_pauses_answers_until_drained() {
    let auth = AdminAuth::default();
    let mut src = Fake::with(0, 1000);
    let mut s = AdminSession::new(&auth);
    for _ in 0..200 {
        send(
            &mut s,
            AdminRequest::List {
                state: ConnState::Connected,
                after_id: 0,
                limit: MAX_LIST_LIMIT,
            },
        );
    }
    // Without draining, answers stop once the backlog passes the soft limit.
    let mut calls = 0;
    loop {
        let before = s.output().len();
        assert!(s.process(&mut src, &auth, &Rates::default()));
        calls += 1;
        if s.output().len() == before {
            break;
        }
        assert!(calls < 100);
    }
    assert!(s.output().len() >= OUT_SOFT_LIMIT);
    assert!(!s.wants_read());
    assert!(s.has_input());
    // Draining lets the rest through.
    let mut pages = drain(&mut s).len();
    while s.process(&mut src, &auth, &Rates::default()) {
        pages += drain(&mut s).len();
    }
    pages += drain(&mut s).len();
    assert_eq!(pages, 200);
    assert!(!s.has_input());
}

#[test]
fn subscribers_get_every_event_in_order_until_unsubscribed() {
    let auth = AdminAuth::default();
    let mut src = Fake::default();
    let mut s = AdminSession::new(&auth);
    let ev = |id: u64, change: ConnChange| ConnEvent {
        id,
        peer: "127.0.0.1:9".parse().unwrap(),
        nick: (change != ConnChange::Accepted).then(|| "dave".into()),
        change,
        time_ms: id,
    };
    s.push_event(&ev(1, ConnChange::Accepted));
    assert!(!s.has_output(), "not subscribed yet");
    send(&mut s, AdminRequest::Subscribe);
    let r = run(&mut s, &mut src, &auth);
    assert_eq!(
        r,
        vec![AdminResponse::Ok {
            request: admin_type::SUBSCRIBE
        }]
    );
    assert!(s.is_subscribed());
    let evs = [
        ev(2, ConnChange::Accepted),
        ev(2, ConnChange::Registered),
        ev(3, ConnChange::Accepted),
        ev(2, ConnChange::Closed(CloseReason::Error(20))),
        ev(3, ConnChange::Closed(CloseReason::PeerClosed)),
    ];
    for e in &evs {
        s.push_event(e);
    }
    let got = drain(&mut s);
    let want: Vec<AdminResponse> = evs.iter().cloned().map(AdminResponse::Event).collect();
    assert_eq!(got, want);
    send(&mut s, AdminRequest::Unsubscribe);
    run(&mut s, &mut src, &auth);
    s.push_event(&ev(4, ConnChange::Accepted));
    assert!(!s.has_output());
}

#[test]
fn a_subscriber_that_never_reads_is_closed_as_slow() {
    let auth = AdminAuth::default();
    let mut src = Fake::default();
    let mut s = AdminSession::new(&auth);
    send(&mut s, AdminRequest::Subscribe);
    s.process(&mut src, &auth, &Rates::default());
    let e = ConnEvent {
        id: 1,
        peer: "127.0.0.1:9".parse().unwrap(),
        nick: None,
        change: ConnChange::Accepted,
        time_ms: 0,
    };
    let mut pushed = 0;
    while !s.is_closing() {
        s.push_event(&e);
        pushed += 1;
        assert!(pushed < 2_000_000);
    }
    let r = drain(&mut s);
    assert_eq!(
        error_code(r.last().unwrap()),
        Some(AdminErrorCode::SlowConsumer)
    );
    assert!(!s.is_subscribed());
    s.push_event(&e);
    assert!(!s.has_output());
}

#[test]
fn kick_reports_whether_the_nick_was_found() {
    let auth = AdminAuth::default();
    let mut src = Fake::with(1, 2);
    let mut s = AdminSession::new(&auth);
    let long = "é".repeat(300);
    send(
        &mut s,
        AdminRequest::Kick {
            nick: "USER2",
            reason: &long,
        },
    );
    send(
        &mut s,
        AdminRequest::Kick {
            nick: "ghost",
            reason: "",
        },
    );
    send(
        &mut s,
        AdminRequest::Kick {
            nick: "user3",
            reason: "",
        },
    );
    let r = run(&mut s, &mut src, &auth);
    assert_eq!(
        r,
        vec![
            AdminResponse::Kicked {
                nick: "USER2".into(),
                found: true
            },
            AdminResponse::Kicked {
                nick: "ghost".into(),
                found: false
            },
            AdminResponse::Kicked {
                nick: "user3".into(),
                found: true
            },
        ]
    );
    assert_eq!(src.kicked[0].1.len(), MAX_KICK_REASON);
    assert_eq!(src.kicked[1].1, DEFAULT_KICK_REASON);
}

#[test]
fn unknown_and_malformed_requests_keep_the_session() {
    let auth = AdminAuth::default();
    let mut src = Fake::default();
    let mut s = AdminSession::new(&auth);
    let mut b = Vec::new();
    crate::codec::encode_frame(&mut b, &[0x5f]).unwrap();
    crate::codec::encode_frame(&mut b, &[0x01, 1, 1, b'a', 0]).unwrap();
    crate::codec::encode_frame(&mut b, &[admin_type::COUNTERS, 0]).unwrap();
    s.receive(&b);
    send(&mut s, AdminRequest::Counters);
    let r = run(&mut s, &mut src, &auth);
    assert_eq!(error_code(&r[0]), Some(AdminErrorCode::UnknownType));
    assert_eq!(error_code(&r[1]), Some(AdminErrorCode::UnknownType));
    assert_eq!(error_code(&r[2]), Some(AdminErrorCode::Malformed));
    assert!(matches!(r[3], AdminResponse::Counters(_)));
    assert!(!s.is_closing());
}

#[test]
fn a_framing_error_closes_and_later_input_is_ignored() {
    let auth = AdminAuth::default();
    let mut src = Fake::default();
    let mut s = AdminSession::new(&auth);
    // A request split over two reads still works.
    let mut b = Vec::new();
    AdminRequest::Counters.encode(&mut b).unwrap();
    s.receive(&b[..4]);
    assert!(run(&mut s, &mut src, &auth).is_empty());
    s.receive(&b[4..]);
    assert_eq!(run(&mut s, &mut src, &auth).len(), 1);
    s.receive(&[0x02, 0, 1, 0x41, 0, 0, 0, 0, 0x03]);
    send(&mut s, AdminRequest::Counters);
    let r = run(&mut s, &mut src, &auth);
    assert_eq!(r.len(), 1);
    assert_eq!(error_code(&r[0]), Some(AdminErrorCode::BadFrame));
    assert!(s.is_closing());
    send(&mut s, AdminRequest::Counters);
    assert!(!s.has_input());
    assert!(run(&mut s, &mut src, &auth).is_empty());
}

#[test]
fn shutdown_sends_its_error_once() {
    let auth = AdminAuth::default();
    let mut s = AdminSession::new(&auth);
    s.shutdown();
    s.shutdown();
    let r = drain(&mut s);
    assert_eq!(r.len(), 1);
    assert_eq!(error_code(&r[0]), Some(AdminErrorCode::ShuttingDown));
    assert!(s.is_closing());
}

#[test]
fn rooms_are_listed_largest_first_within_the_limit() {
    let auth = AdminAuth::new(None);
    let mut src = Fake::with(0, 0);
    src.rooms = vec![
        ("dev".into(), 3, false),
        ("lobby".into(), 19_342, true),
        ("ops".into(), 7, false),
    ];
    let mut s = AdminSession::new(&auth);
    send(&mut s, AdminRequest::Rooms { limit: 2 });
    send(&mut s, AdminRequest::Rooms { limit: 0 });
    let got = run(&mut s, &mut src, &auth);
    let [AdminResponse::Rooms(two), AdminResponse::Rooms(one)] = &got[..] else {
        panic!("two ROOMS answers expected: {got:?}");
    };
    assert_eq!((two.rooms, two.quiet_rooms, two.more), (3, 1, true));
    let names: Vec<&str> = two.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["lobby", "ops"]);
    assert!(two.entries[0].quiet && two.entries[0].members == 19_342);
    // A limit of 0 is raised to 1.
    assert_eq!(one.entries.len(), 1);
    assert!(one.more);
}

#[test]
fn nodes_name_this_node_and_list_the_cluster_within_the_limit() {
    let auth = AdminAuth::new(None);
    let mut src = Fake::with(0, 0);
    let mut s = AdminSession::new(&auth);
    send(&mut s, AdminRequest::Nodes { limit: 10 });
    let got = run(&mut s, &mut src, &auth);
    let [AdminResponse::Nodes(alone)] = &got[..] else {
        panic!("one NODES answer expected: {got:?}");
    };
    assert_eq!(alone.node, "fake-node");
    assert!(alone.entries.is_empty() && !alone.more);
    src.nodes = (1..=3)
        .map(|i| crate::cluster::link::NodeInfo {
            id: i,
            name: format!("n{i}"),
            connected: 100 * i as u32,
            applied: 7 * i,
            fingerprint: 0,
        })
        .collect();
    send(&mut s, AdminRequest::Nodes { limit: 2 });
    send(&mut s, AdminRequest::Nodes { limit: 0 });
    let got = run(&mut s, &mut src, &auth);
    let [AdminResponse::Nodes(two), AdminResponse::Nodes(one)] = &got[..] else {
        panic!("two NODES answers expected: {got:?}");
    };
    let names: Vec<&str> = two.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["n1", "n2"]);
    assert!(two.more);
    assert_eq!(
        (two.entries[1].connected, two.entries[1].applied),
        (200, 14)
    );
    // A limit of 0 is raised to 1.
    assert_eq!(one.entries.len(), 1);
    assert!(one.more);
}
