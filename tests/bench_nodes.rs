//! `stxchat bench` against several addresses and over several processes:
//! connections spread over the addresses as documented (fanout keeps
//! publishers and members apart, connect goes round-robin), and a connect
//! run above `--max-clients-per-process` runs child processes of the real
//! binary whose figures (and probe deliveries) are merged. Small counts,
//! in-process servers on loopback port 0.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use stxchat::admin::client::AdminClient;
use stxchat::bench::{
    CommonOpts, ConnectOpts, FanoutOpts, RoomsOpts, run_connect, run_fanout, run_rooms,
};
use stxchat::server::ServerConfig;

use common::{TestServer, WAIT};

fn server() -> TestServer {
    let mut cfg: ServerConfig = common::config();
    cfg.admin.bind = Some("127.0.0.1:0".parse().unwrap());
    cfg.core.max_connections = 2_000;
    TestServer::start(cfg)
}

/// Connections the server accepted since it started.
fn accepted(s: &TestServer) -> u64 {
    let mut a = AdminClient::connect(&s.admin.unwrap().to_string(), None, WAIT).unwrap();
    a.counters().unwrap().counters.accepted
}

fn common(addrs: &[SocketAddr]) -> CommonOpts {
    let mut c = CommonOpts::with_addrs(addrs.to_vec());
    c.threads = 2;
    c.handshake_timeout = Duration::from_secs(10);
    c
}

fn short(o: &mut stxchat::bench::PublishOpts) {
    o.warmup = Duration::from_millis(200);
    o.duration = Duration::from_millis(500);
    o.drain = Duration::from_secs(5);
}

#[test]
fn fanout_puts_publishers_on_the_first_address_and_members_on_the_second() {
    let (a, b) = (server(), server());
    let mut o = FanoutOpts::new(common(&[a.addr, b.addr]));
    short(&mut o.publish);
    o.publish.drain = Duration::from_millis(300);
    o.publish.stall = Duration::from_millis(200);
    o.publish.rate = 50.0;
    o.members = 6;
    o.publishers = 2;
    // Two servers that are not a cluster: members never hear the
    // publishers, but where each connection went is what is checked.
    let r = run_fanout(&o).expect("fanout runs");
    assert_eq!(r.connections_ready, 8, "{r:#?}");
    assert_eq!(r.addr, format!("{},{}", a.addr, b.addr));
    assert_eq!(accepted(&a), 2, "publishers on the first address");
    assert_eq!(accepted(&b), 6, "members on the second address");
}

#[test]
fn fanout_and_rooms_over_one_server_given_twice_deliver_everything() {
    let s = server();
    let mut o = FanoutOpts::new(common(&[s.addr, s.addr]));
    short(&mut o.publish);
    o.members = 10;
    o.publishers = 2;
    let r = run_fanout(&o).expect("fanout runs");
    assert_eq!(r.connections_ready, 12, "{r:#?}");
    assert_eq!(r.deliveries, r.expected_deliveries, "{r:#?}");
    assert!(r.published > 0, "{r:#?}");
    let mut o = RoomsOpts::new(common(&[s.addr, s.addr, s.addr]));
    short(&mut o.publish);
    o.publish.rate = 200.0;
    o.clients = 12;
    o.rooms = 4;
    let r = run_rooms(&o).expect("rooms runs");
    assert_eq!(r.connections_ready, 12, "{r:#?}");
    assert_eq!(r.deliveries, r.expected_deliveries, "{r:#?}");
}

#[test]
fn connect_goes_round_robin_in_one_process_and_over_children() {
    let (a, b) = (server(), server());
    let mut o = ConnectOpts::new(common(&[a.addr, b.addr]));
    o.connections = 10;
    o.settle = Duration::ZERO;
    let r = run_connect(&o).expect("connect runs");
    assert!(r.ok(), "{r:#?}");
    assert_eq!(r.processes, 1);
    assert_eq!((accepted(&a), accepted(&b)), (5, 5));
    // 12 more over three children of at most 5 connections each: the
    // round-robin runs over the run-wide ids, across the processes.
    o.connections = 12;
    o.max_per_process = Some(5);
    o.child_exe = Some(env!("CARGO_BIN_EXE_stxchat").into());
    let r = run_connect(&o).expect("spread connect runs");
    assert!(r.ok(), "{r:#?}");
    assert_eq!(r.processes, 3, "{r:#?}");
    assert_eq!(
        (r.registered, r.alive_at_end, r.failed),
        (12, 12, 0),
        "{r:#?}"
    );
    assert_eq!((accepted(&a), accepted(&b)), (11, 11));
}

#[test]
fn a_spread_connect_run_merges_its_children_and_every_one_gets_the_probes() {
    let s = server();
    let mut o = ConnectOpts::new(common(&[s.addr, s.addr]));
    o.connections = 25;
    o.settle = Duration::from_millis(100);
    o.max_per_process = Some(10);
    o.child_exe = Some(env!("CARGO_BIN_EXE_stxchat").into());
    o.probe = 3;
    o.probe_interval = Duration::from_millis(20);
    let r = run_connect(&o).expect("spread connect runs");
    assert!(r.ok(), "{r:#?}");
    assert_eq!(r.processes, 3, "{r:#?}");
    assert_eq!(r.registered, 25, "{r:#?}");
    assert_eq!(r.alive_at_end, 25, "{r:#?}");
    assert_eq!(r.probes_sent, 3, "{r:#?}");
    assert_eq!(r.probe_room.as_deref(), Some("lobby"));
    assert_eq!(r.probe_deliveries, 75, "{r:#?}");
    assert_eq!(r.probe_expected, 75, "{r:#?}");
    // The 25 plus the probe publisher.
    assert_eq!(accepted(&s), 26);
    // In one process the probes are counted the same way.
    o.connections = 8;
    o.max_per_process = None;
    let r = run_connect(&o).expect("connect runs");
    assert!(r.ok(), "{r:#?}");
    assert_eq!(
        (r.processes, r.probe_deliveries, r.probe_expected),
        (1, 24, 24),
        "{r:#?}"
    );
}

#[test]
fn bad_probe_options_are_refused_before_connecting() {
    let s = server();
    let mut o = ConnectOpts::new(common(&[s.addr]));
    o.connections = 3;
    o.settle = Duration::ZERO;
    o.probe = 1;
    o.probe_room = Some("bad room".into());
    assert!(
        run_connect(&o).is_err(),
        "an invalid probe room is refused up front"
    );
    o.probe_room = None;
    o.probe = 10_001;
    assert!(run_connect(&o).is_err(), "at most 10,000 probes");
    assert_eq!(accepted(&s), 0, "nothing connected");
}
