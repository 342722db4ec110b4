//! Shared helpers for the admin integration tests: an in-process server
//! with its admin listener (and optionally metrics) on port 0.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use stxchat::admin::client::AdminClient;
use stxchat::server::{ServerConfig, ShutdownHandle};

use crate::common::TestServer;

pub use crate::common::WAIT;

/// Test settings: chat and admin on port 0, no stats line, long handshake
/// timeout (so waiting connections stay waiting while a test runs).
pub fn admin_config() -> ServerConfig {
    let mut cfg = crate::common::config();
    cfg.core.handshake_timeout_ms = 120_000;
    cfg.admin.bind = Some("127.0.0.1:0".parse().unwrap());
    cfg
}

/// A server with an admin listener, on its own thread; stopped on drop
/// (the shared [`crate::common::TestServer`], with the admin address required).
pub struct AdminServer {
    pub addr: SocketAddr,
    pub admin: SocketAddr,
    pub metrics: Option<SocketAddr>,
    pub handle: ShutdownHandle,
    _server: TestServer,
}

impl AdminServer {
    pub fn start(cfg: ServerConfig) -> AdminServer {
        let server = TestServer::start(cfg);
        AdminServer {
            addr: server.addr,
            admin: server.admin.expect("admin listener on"),
            metrics: server.metrics,
            handle: server.handle.clone(),
            _server: server,
        }
    }

    /// An authenticated admin client.
    pub fn client(&self, token: Option<&str>) -> AdminClient {
        AdminClient::connect(&self.admin.to_string(), token, WAIT).expect("admin connects")
    }
}

/// Retries `f` until it returns `Some`, for at most [`WAIT`].
pub fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A plain HTTP/1.0 GET; returns the status code and body.
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect to metrics");
    s.set_read_timeout(Some(WAIT)).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("read the HTTP answer");
    let (head, body) = raw.split_once("\r\n\r\n").expect("HTTP head and body");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status code");
    (status, body.to_owned())
}
