//! `stxchat bench --tls` and `--bad-logins` against in-process servers on
//! loopback port 0, with certificates made in the test: a small fanout,
//! rooms and connect (also over child processes) complete over TLS; an
//! untrusted certificate fails with a sentence that says so; a storm of
//! wrong passwords is reported with every bad login accounted for. Small
//! counts; behaviour, never timing.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use stxchat::accounts::{UserDb, cheap_params, hash_password};
use stxchat::bench::storm::StormOpts;
use stxchat::bench::transport::BenchTls;
use stxchat::bench::{
    BenchError, CommonOpts, ConnectOpts, FanoutOpts, RoomsOpts, run_connect, run_fanout, run_rooms,
};
use stxchat::server::config::TlsListen;
use stxchat::server::{Server, ShutdownHandle};

/// A self-signed certificate for localhost, in its own directory.
struct Certs {
    dir: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl Certs {
    fn new() -> Certs {
        let dir = std::env::temp_dir().join(format!(
            "stxchat-bench-tls-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let now = time::OffsetDateTime::now_utc();
        let (pem, key_pem) = stxchat::tls::cert::self_signed(
            &["localhost".into()],
            now - time::Duration::days(1),
            now + time::Duration::days(30),
        )
        .unwrap();
        let cert = dir.join("cert.pem");
        let key = dir.join("key.pem");
        std::fs::write(&cert, pem).unwrap();
        std::fs::write(&key, key_pem).unwrap();
        Certs { dir, cert, key }
    }
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A server with a plain and a TLS listener on its own thread.
struct TlsServer {
    plain: SocketAddr,
    tls: SocketAddr,
    handle: ShutdownHandle,
    certs: Certs,
}

impl TlsServer {
    fn start(edit: impl FnOnce(&mut stxchat::server::ServerConfig)) -> TlsServer {
        let certs = Certs::new();
        let mut cfg = common::config();
        cfg.core.max_connections = 2_000;
        cfg.tls = Some(TlsListen {
            bind: "127.0.0.1:0".parse().unwrap(),
            cert: certs.cert.clone(),
            key: certs.key.clone(),
            config: stxchat::tls::server::load_server_config(&certs.cert, &certs.key).unwrap(),
        });
        edit(&mut cfg);
        let server = Server::bind(cfg).unwrap();
        let s = TlsServer {
            plain: server.local_addr(),
            tls: server.tls_addr().unwrap(),
            handle: server.shutdown_handle(),
            certs,
        };
        std::thread::spawn(move || server.run());
        s
    }

    /// TLS settings trusting this server's certificate.
    fn trust(&self) -> BenchTls {
        BenchTls::new(
            Some(self.certs.cert.clone()),
            Some("localhost".into()),
            &self.tls.to_string(),
        )
        .unwrap()
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}

fn common(addrs: &[SocketAddr], tls: Option<BenchTls>) -> CommonOpts {
    let mut c = CommonOpts::with_addrs(addrs.to_vec());
    c.threads = 2;
    c.handshake_timeout = Duration::from_secs(10);
    c.tls = tls;
    c
}

fn short(o: &mut stxchat::bench::PublishOpts) {
    o.warmup = Duration::from_millis(300);
    o.duration = Duration::from_secs(1);
    o.drain = Duration::from_secs(5);
}

#[test]
fn fanout_rooms_and_connect_complete_over_tls() {
    let srv = TlsServer::start(|_| {});
    let mut o = FanoutOpts::new(common(&[srv.tls], Some(srv.trust())));
    short(&mut o.publish);
    o.members = 12;
    o.publishers = 2;
    let r = run_fanout(&o).expect("fanout over TLS runs");
    assert!(r.ok(), "{r:#?}");
    assert!(r.tls);
    assert_eq!(r.connections_ready, 14, "{r:#?}");
    assert!(r.published > 0, "{r:#?}");
    assert_eq!(r.deliveries, r.expected_deliveries, "{r:#?}");
    assert_eq!(r.echoes, r.expected_echoes, "{r:#?}");
    let table = stxchat::bench::Report::Traffic(r).to_table();
    assert!(table.contains("over TLS"), "{table}");

    // The same server given twice (publishers and members on "two nodes").
    let mut o = RoomsOpts::new(common(&[srv.tls, srv.tls], Some(srv.trust())));
    short(&mut o.publish);
    o.clients = 12;
    o.rooms = 3;
    o.publish.rate = 200.0;
    let r = run_rooms(&o).expect("rooms over TLS runs");
    assert!(r.ok(), "{r:#?}");
    assert_eq!(r.deliveries, r.expected_deliveries, "{r:#?}");

    let mut o = ConnectOpts::new(common(&[srv.tls], Some(srv.trust())));
    o.connections = 60;
    o.settle = Duration::ZERO;
    o.probe = 2;
    o.probe_interval = Duration::from_millis(20);
    let r = run_connect(&o).expect("connect over TLS runs");
    assert!(r.ok(), "{r:#?}");
    assert!(r.tls);
    assert_eq!((r.registered, r.alive_at_end), (60, 60), "{r:#?}");
    assert_eq!(r.probe_deliveries, 120, "the probes went over TLS too");
}

#[test]
fn connect_over_tls_through_child_processes() {
    let srv = TlsServer::start(|_| {});
    let mut o = ConnectOpts::new(common(&[srv.tls, srv.tls], Some(srv.trust())));
    o.connections = 25;
    o.settle = Duration::ZERO;
    o.max_per_process = Some(10);
    o.child_exe = Some(env!("CARGO_BIN_EXE_stxchat").into());
    o.probe = 1;
    let r = run_connect(&o).expect("spread connect over TLS runs");
    assert!(r.ok(), "{r:#?}");
    assert_eq!(r.processes, 3, "{r:#?}");
    assert_eq!((r.registered, r.alive_at_end), (25, 25), "{r:#?}");
    assert_eq!(r.probe_deliveries, 25, "{r:#?}");
}

#[test]
fn an_untrusted_certificate_fails_with_a_clear_message() {
    let srv = TlsServer::start(|_| {});
    let other = Certs::new();
    let wrong = BenchTls::new(
        Some(other.cert.clone()),
        Some("localhost".into()),
        &srv.tls.to_string(),
    )
    .unwrap();
    let mut o = FanoutOpts::new(common(&[srv.tls], Some(wrong.clone())));
    short(&mut o.publish);
    o.members = 3;
    o.publishers = 1;
    let e = run_fanout(&o).expect_err("no connection can get ready");
    assert!(matches!(e, BenchError::NotReady { failed: 4, .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("the server's certificate was refused")
            && msg.contains("not signed by a certificate authority this client trusts"),
        "{msg}"
    );

    let mut o = ConnectOpts::new(common(&[srv.tls], Some(wrong)));
    o.connections = 5;
    o.settle = Duration::ZERO;
    let r = run_connect(&o).expect("connect reports");
    assert!(!r.ok());
    assert_eq!((r.registered, r.failed), (0, 5), "{r:#?}");
    let first = r.first_error.unwrap_or_default();
    assert!(first.contains("certificate was refused"), "{first}");

    // The plain port does not speak TLS: said so, not a hang.
    let mut o = ConnectOpts::new(common(&[srv.plain], Some(srv.trust())));
    o.connections = 2;
    o.settle = Duration::ZERO;
    let r = run_connect(&o).expect("connect reports");
    assert_eq!(r.failed, 2, "{r:#?}");
    let first = r.first_error.unwrap_or_default();
    assert!(first.contains("TLS"), "{first}");
}

#[test]
fn the_command_line_names_a_wrong_ca() {
    let srv = TlsServer::start(|_| {});
    let other = Certs::new();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stxchat"))
        .args(["bench", "connect", "-n", "3", "--settle", "0", "--tls"])
        .args(["--addr", &srv.tls.to_string(), "--server-name", "localhost"])
        .arg("--ca")
        .arg(&other.cert)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "an incomplete report");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("certificate was refused"), "{stdout}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stxchat"))
        .args([
            "bench",
            "connect",
            "-n",
            "3",
            "--tls",
            "--ca",
            "/nonexistent/ca.pem",
        ])
        .args(["--addr", &srv.tls.to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "no report");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("TLS:") && stderr.contains("/nonexistent/ca.pem"),
        "{stderr}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stxchat"))
        .args(["bench", "fanout", "--ca", "x.pem"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "--ca needs --tls (a usage error)"
    );
}

/// A users file with `alice` (cheap argon2 parameters).
fn users() -> Arc<UserDb> {
    let a = hash_password("alice-pw", &cheap_params()).unwrap();
    Arc::new(UserDb::parse(&format!("alice:{a}\n")).unwrap())
}

fn storm_fanout(addr: SocketAddr, tls: Option<BenchTls>, storm: StormOpts) -> FanoutOpts {
    let mut o = FanoutOpts::new(common(&[addr], tls));
    short(&mut o.publish);
    o.publish.rate = 100.0;
    o.members = 4;
    o.publishers = 1;
    o.common.storm = Some(storm);
    o
}

#[test]
fn bad_logins_from_their_own_addresses_are_all_checked_and_refused() {
    let srv = TlsServer::start(|c| {
        c.core.users = Some(users());
        c.auth_workers = 1;
        c.auth_queue = 256;
    });
    // 50/s over 0.3 s + 1 s: 65 logins, each from its own address, so none
    // is slowed down and the queue (256) never fills: every one is checked.
    let storm = StormOpts {
        rate: 50.0,
        nicks: vec!["alice".into()],
        sources: 1000,
    };
    let r = run_fanout(&storm_fanout(srv.plain, None, storm.clone())).expect("fanout runs");
    assert!(r.ok(), "{r:#?}");
    assert_eq!(r.deliveries, r.expected_deliveries, "chat went on: {r:#?}");
    let b = r.bad_logins.clone().expect("the storm's report");
    assert_eq!(b.attempted, 65, "{b:#?}");
    assert_eq!(b.auth_failed, 65, "{b:#?}");
    assert_eq!(b.auth_failed_ms.as_ref().map(|t| t.samples), Some(65));
    assert_eq!(
        b.queue_full + b.timeout + b.unanswered + b.welcomed,
        0,
        "{b:#?}"
    );
    assert!(b.slowdown.starts_with("bypassed"), "{b:#?}");
    let table = stxchat::bench::Report::Traffic(r).to_table();
    assert!(
        table.contains("auth_failed") && table.contains("65"),
        "{table}"
    );

    // The same over TLS: the handshake comes first, then the same answer.
    let r = run_fanout(&storm_fanout(srv.tls, Some(srv.trust()), storm)).expect("fanout runs");
    assert!(r.ok(), "{r:#?}");
    let b = r.bad_logins.expect("the storm's report");
    assert_eq!((b.attempted, b.auth_failed), (65, 65), "{b:#?}");
}

#[test]
fn bad_logins_from_one_address_are_slowed_down_until_the_handshake_timeout() {
    let srv = TlsServer::start(|c| {
        c.core.users = Some(users());
        c.core.handshake_timeout_ms = 1_500;
        c.auth_workers = 1;
    });
    // 65 logins from one address in 1.3 s: after the first failure each
    // check from there waits twice as long as the one before (100 ms, 200
    // ms, ...), so only a handful are checked within 1.5 s; the others are
    // closed with `timeout`.
    let storm = StormOpts {
        rate: 50.0,
        nicks: vec!["alice".into()],
        sources: 1,
    };
    let r = run_fanout(&storm_fanout(srv.plain, None, storm)).expect("fanout runs");
    assert!(r.ok(), "{r:#?}");
    let b = r.bad_logins.expect("the storm's report");
    assert_eq!(b.attempted, 65, "{b:#?}");
    assert_eq!(
        b.auth_failed + b.timeout,
        65,
        "each one refused or timed out: {b:#?}"
    );
    assert!(b.auth_failed >= 1 && b.timeout >= 1, "{b:#?}");
    assert_eq!(b.slowdown, "exercised (one address)");
}

#[test]
fn a_storm_for_a_nick_that_is_not_an_account_is_incomplete() {
    let srv = TlsServer::start(|c| c.core.users = Some(users()));
    let storm = StormOpts {
        rate: 20.0,
        nicks: vec!["nobody".into()],
        sources: 1000,
    };
    let r = run_fanout(&storm_fanout(srv.plain, None, storm)).expect("fanout runs");
    let b = r.bad_logins.clone().expect("the storm's report");
    assert!(b.welcomed >= 1, "{b:#?}");
    assert!(!r.ok(), "a storm that logged in measures nothing");
    assert!(
        b.first_error
            .as_deref()
            .unwrap_or("")
            .contains("users file"),
        "{b:#?}"
    );
    // And the options are checked before anything connects.
    let mut o = ConnectOpts::new(common(&[srv.plain], None));
    o.common.storm = Some(StormOpts {
        rate: 10.0,
        nicks: vec!["alice".into()],
        sources: 1,
    });
    assert!(matches!(run_connect(&o), Err(BenchError::InvalidOption(_))));
    let bad = StormOpts {
        rate: 10.0,
        nicks: Vec::new(),
        sources: 1,
    };
    assert!(run_fanout(&storm_fanout(srv.plain, None, bad)).is_err());
}
