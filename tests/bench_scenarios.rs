//! Every `stxchat bench` scenario, run briefly against an in-process server
//! on a loopback port, checked on the report it produces.

use std::net::SocketAddr;
use std::thread::JoinHandle;
use std::time::Duration;

use stxchat::bench::{
    CommonOpts, ConnectOpts, FanoutOpts, Report, RoomsOpts, TrafficReport, run_connect, run_fanout,
    run_rooms,
};
use stxchat::server::{Server, ServerConfig, ShutdownHandle};

/// A server on 127.0.0.1:0 in this process, stopped on drop.
struct TestServer {
    addr: SocketAddr,
    handle: ShutdownHandle,
    join: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    fn start(edit: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let mut cfg = ServerConfig {
            bind: "127.0.0.1:0".parse().unwrap(),
            auto_max_connections: false,
            stats_interval: Duration::ZERO,
            ..ServerConfig::default()
        };
        cfg.core.max_connections = 5_000;
        edit(&mut cfg);
        let server = Server::bind(cfg).expect("server binds");
        let addr = server.local_addr();
        let handle = server.shutdown_handle();
        let join = Some(std::thread::spawn(move || server.run()));
        TestServer { addr, handle, join }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(j) = self.join.take() {
            let _ = j.join();
        }
    }
}

fn common(addr: SocketAddr) -> CommonOpts {
    let mut c = CommonOpts::new(addr);
    c.threads = 2;
    c.handshake_timeout = Duration::from_secs(10);
    c.server_pid = Some(std::process::id());
    c
}

fn short(o: &mut stxchat::bench::PublishOpts) {
    o.warmup = Duration::from_millis(300);
    o.duration = Duration::from_secs(1);
    o.drain = Duration::from_secs(5);
}

/// The checks every publishing run must pass.
fn assert_complete(r: &TrafficReport, connections: u64) {
    assert_eq!(r.connections_ready, connections, "{r:#?}");
    assert_eq!(r.connections_failed, 0, "{r:#?}");
    assert_eq!(r.connections_dropped, 0, "{r:#?}");
    assert!(r.published > 0, "{r:#?}");
    assert_eq!(r.deliveries, r.expected_deliveries, "{r:#?}");
    assert_eq!(r.delivery_ratio, 1.0, "{r:#?}");
    assert_eq!(r.echoes, r.expected_echoes, "{r:#?}");
    assert_eq!(r.bad_payloads, 0, "{r:#?}");
    assert_eq!(r.nonfatal_errors, 0, "{r:#?}");
    let lat = r.latency.as_ref().expect("latency measured");
    assert_eq!(
        lat.samples, r.deliveries,
        "every measured delivery is timed"
    );
    assert!(lat.p50_us <= lat.p99_us && lat.p99_us <= lat.p999_us && lat.p999_us <= lat.max_us);
    assert!(r.cpu.generator_pct.is_some() && r.cpu.server_pct.is_some());
    assert_eq!(r.server_name.as_deref(), Some("stxchat"));
    let json: serde_json::Value =
        serde_json::from_str(&Report::Traffic(r.clone()).to_json()).unwrap();
    assert_eq!(json["deliveries"], r.deliveries);
    assert!(Report::Traffic(r.clone()).ok());
}

#[test]
fn fanout_delivers_every_message_to_every_member() {
    let server = TestServer::start(|_| {});
    let mut o = FanoutOpts::new(common(server.addr));
    short(&mut o.publish);
    o.members = 20;
    o.publishers = 3;
    let r = run_fanout(&o).expect("fanout runs");
    assert_complete(&r, 23);
    assert_eq!((r.receivers_ready, r.publishers_ready), (20, 3));
    assert_eq!(r.expected_deliveries, r.published * 20);
    assert_eq!(
        r.expected_echoes,
        r.published * 3,
        "every publisher sees every message"
    );
    assert_eq!(r.slow_dropped, None);
    assert_eq!(r.stalls, 0);
}

#[test]
fn fanout_at_a_fixed_rate_publishes_no_faster() {
    let server = TestServer::start(|_| {});
    let mut o = FanoutOpts::new(common(server.addr));
    short(&mut o.publish);
    o.members = 10;
    o.publishers = 2;
    o.publish.rate = 200.0;
    o.publish.bytes = 200;
    let r = run_fanout(&o).expect("fanout runs");
    assert_complete(&r, 12);
    // 200 msgs/s over a 1 s interval; far below what an unpaced run publishes.
    assert!(r.published <= 400, "{r:#?}");
    assert_eq!(r.text_bytes, 200);
}

#[test]
fn fanout_with_a_slow_consumer_sees_it_dropped_and_delivers_to_the_rest() {
    // A small output limit (history off allows a small one) so the member
    // that never reads is dropped once its socket buffers are full; a small
    // window keeps what the readers have queued far below that limit.
    let server = TestServer::start(|c| {
        c.core.history = 0;
        c.core.max_outbuf = 256 * 1024;
    });
    let mut o = FanoutOpts::new(common(server.addr));
    short(&mut o.publish);
    o.publish.duration = Duration::from_secs(2);
    o.publish.bytes = 2000;
    o.publish.window = 8;
    o.members = 4;
    o.publishers = 2;
    o.slow = 1;
    let r = run_fanout(&o).expect("fanout runs");
    assert_complete(&r, 7);
    assert_eq!(r.slow_dropped, Some(1), "LEFT reason 3 for the slow member");
    assert_eq!(
        r.expected_deliveries,
        r.published * 4,
        "the slow member is not expected to receive"
    );
}

#[test]
fn rooms_deliver_within_each_room_only() {
    let server = TestServer::start(|_| {});
    let mut o = RoomsOpts::new(common(server.addr));
    short(&mut o.publish);
    o.clients = 40;
    o.rooms = 8;
    o.publish.rate = 400.0;
    let r = run_rooms(&o).expect("rooms runs");
    assert_complete(&r, 40);
    // 5 clients per room: 4 deliveries and 1 echo per message.
    assert_eq!(r.expected_deliveries, r.published * 4);
    assert_eq!(r.expected_echoes, r.published);
    assert!(r.published <= 800, "{r:#?}");
    assert_eq!((r.clients, r.rooms), (Some(40), Some(8)));
}

#[test]
fn rooms_closed_loop_without_a_rate() {
    let server = TestServer::start(|c| c.core.default_room = None);
    let mut o = RoomsOpts::new(common(server.addr));
    short(&mut o.publish);
    o.clients = 30;
    o.rooms = 10;
    o.publish.rate = 0.0;
    o.publish.window = 16;
    let r = run_rooms(&o).expect("rooms runs");
    assert_complete(&r, 30);
    assert_eq!(r.expected_deliveries, r.published * 2);
}

#[test]
fn connect_registers_and_holds_every_connection() {
    let server = TestServer::start(|c| c.core.default_room = None);
    let mut o = ConnectOpts::new(common(server.addr));
    o.connections = 300;
    o.settle = Duration::from_millis(200);
    let r = run_connect(&o).expect("connect runs");
    assert_eq!(r.registered, 300, "{r:#?}");
    assert_eq!(r.failed, 0, "{r:#?}");
    assert_eq!(r.dropped, 0, "{r:#?}");
    assert_eq!(
        r.alive_at_end, 300,
        "every connection answers the final PING"
    );
    assert!(r.connects_per_s > 0.0);
    assert!(r.server_rss_kb_before.is_some() && r.rss_per_connection_bytes.is_some());
    assert!(r.ok());
}

#[test]
fn connect_with_the_default_room_and_a_joined_room() {
    let server = TestServer::start(|_| {});
    let mut o = ConnectOpts::new(common(server.addr));
    o.connections = 100;
    o.room = Some("idle".into());
    o.settle = Duration::ZERO;
    o.common.sources = 2; // from 127.0.0.1 and 127.0.0.2
    let r = run_connect(&o).expect("connect runs");
    assert_eq!(r.registered, 100, "{r:#?}");
    assert_eq!(r.alive_at_end, 100, "{r:#?}");
    assert_eq!(r.source_addresses, 2);
    assert!(r.ok());
}

#[test]
fn connect_into_a_quiet_default_room_counts_room_frames_not_joins() {
    let server = TestServer::start(|c| c.core.presence_limit = 4);
    let mut o = ConnectOpts::new(common(server.addr));
    o.connections = 60;
    o.settle = Duration::from_millis(1500);
    let r = run_connect(&o).expect("connect runs");
    assert!(r.ok(), "{r:#?}");
    assert_eq!(r.protocol_version, 2);
    // Past the limit each joiner gets one partial MEMBERS, its own JOINED
    // and its own ROOM; nobody hears of the others' joins (version 1 would
    // deliver 60 x 61 / 2 JOINEDs).
    assert!(r.presence_frames <= 3 * 60, "{r:#?}");
    assert!(r.room_frames >= 60 - 4, "{r:#?}");
    // The same with version 1 clients: no ROOM frames at all.
    o.common.version = 1;
    let r = run_connect(&o).expect("connect runs");
    assert!(r.ok(), "{r:#?}");
    assert_eq!(r.room_frames, 0, "{r:#?}");
}

#[test]
fn connect_reports_a_full_server() {
    let server = TestServer::start(|c| {
        c.core.default_room = None;
        c.core.max_connections = 50;
    });
    let mut o = ConnectOpts::new(common(server.addr));
    o.connections = 60;
    o.settle = Duration::ZERO;
    let r = run_connect(&o).expect("connect runs");
    assert_eq!(r.registered, 50, "{r:#?}");
    assert_eq!(r.failed, 10, "{r:#?}");
    assert!(
        r.first_error
            .as_deref()
            .unwrap_or("")
            .contains("server_full"),
        "{r:#?}"
    );
    assert!(!r.ok());
}

/// `stxchat server` as a separate process on a free port (its address
/// read from its log), killed by PID on drop.
struct ServerProcess {
    child: std::process::Child,
    addr: SocketAddr,
}

impl ServerProcess {
    fn start(args: &[&str]) -> ServerProcess {
        use std::io::{BufRead, BufReader};
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_stxchat"))
            .args(["server", "--bind", "127.0.0.1:0", "--admin-bind", "off"])
            .args(["--stats-interval", "0"])
            .args(args)
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn stxchat server");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { return };
                if let Some(at) = line.find("bind=") {
                    let addr: String = line[at + 5..]
                        .chars()
                        .take_while(|c| !c.is_whitespace())
                        .collect();
                    let _ = tx.send(addr);
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the server logs its address")
            .parse()
            .expect("an address");
        ServerProcess { child, addr }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn connect_rounds_on_a_separate_server_report_each_round_and_the_leave() {
    let server = ServerProcess::start(&[]);
    let mut o = ConnectOpts::new(common(server.addr));
    o.common.server_pid = Some(server.child.id());
    o.connections = 200;
    o.settle = Duration::from_millis(100);
    o.rounds = 3;
    let r = run_connect(&o).expect("connect runs");
    assert!(r.ok(), "{r:#?}");
    assert_eq!(r.rounds.len(), 3);
    assert_eq!(r.protocol_version, 2);
    for (i, round) in r.rounds.iter().enumerate() {
        assert_eq!(round.round, i + 1);
        assert_eq!(round.registered, 200, "{round:#?}");
        assert!(round.connects_per_s > 0.0);
        assert!(round.server_rss_kb_after.is_some());
        // Everyone left at once; the server settled and was measured.
        assert!(round.idle_after_leave_s.is_some(), "{round:#?}");
        assert!(round.server_rss_kb_after_leave.is_some(), "{round:#?}");
        // Every connection saw at least its own join in the default room.
        assert!(round.presence_frames >= 200, "{round:#?}");
    }
    assert_eq!(r.registered, r.rounds[0].registered);
    let table = Report::Connect(r).to_table();
    assert!(table.contains("round 3"), "{table}");
}
