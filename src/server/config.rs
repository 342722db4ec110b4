//! Server settings: the engine's plus the driver's (address, timing, logging).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::core::CoreConfig;

/// Everything a [`crate::server::Server`] needs to start.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Address of the plain listener (if `serve_plain`).
    pub bind: SocketAddr,
    /// Whether the plain listener is on (`--bind off` turns it off).
    pub serve_plain: bool,
    /// The TLS listener, if any.
    pub tls: Option<TlsListen>,
    /// Chat engine settings. `core.max_connections` is used unless
    /// `auto_max_connections` is set.
    pub core: CoreConfig,
    /// Derive the connection limit from the open-files limit at start.
    pub auto_max_connections: bool,
    /// Interval of the stats log line; zero = never.
    pub stats_interval: Duration,
    /// Bytes read from one connection per loop turn before others get a turn.
    pub read_budget: usize,
    /// How long closing connections are flushed (then their write side is shut).
    pub close_flush: Duration,
    /// How long further input is drained after shutting the write side.
    pub close_drain: Duration,
    /// How long accepting pauses after running out of file descriptors.
    pub accept_backoff: Duration,
    /// Operator side: admin listener, its token, metrics endpoint (all off
    /// by default here; the command line turns the admin listener on).
    pub admin: crate::admin::config::AdminConfig,
    /// Where the web listener (chat page, operator page, WebSocket) binds;
    /// `None`: off (docs/WEB.md).
    pub web_bind: Option<SocketAddr>,
    /// Threads that check passwords of listed nicks (started only when a
    /// users file is in force).
    pub auth_workers: usize,
    /// Password checks that may wait for a worker (beyond: server_full).
    pub auth_queue: usize,
    /// The IRC gateway's listener, if on (`--irc-bind`).
    pub irc: Option<IrcSettings>,
    /// This node's name (`--node`, default host name and PID): shown in
    /// logs, the admin channel, `stxchat top` and every metric's `node`
    /// label; the cluster's heartbeats carry it.
    pub node: String,
    /// The NATS servers of the cluster this node joins (`--cluster`,
    /// docs/CLUSTER.md); empty: standalone, no relay thread, no NATS.
    pub cluster: Vec<String>,
}

/// The IRC gateway's settings (docs/IRC.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IrcSettings {
    /// Address of the IRC listener.
    pub bind: SocketAddr,
    /// The password of OPER (none: OPER always fails).
    pub oper_password: Option<String>,
    /// Message of the day, one entry per line (empty: 422).
    pub motd: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 7878)),
            serve_plain: true,
            tls: None,
            core: CoreConfig::default(),
            auto_max_connections: true,
            stats_interval: Duration::from_secs(10),
            read_budget: 128 * 1024,
            close_flush: Duration::from_secs(2),
            close_drain: Duration::from_secs(1),
            accept_backoff: Duration::from_millis(100),
            admin: crate::admin::config::AdminConfig::default(),
            web_bind: None,
            auth_workers: 1,
            auth_queue: 256,
            irc: None,
            node: crate::server::node_name::default_name(),
            cluster: Vec::new(),
        }
    }
}

/// A TLS listener: where, the files its certificate came from (re-read on
/// reload), and the loaded rustls settings.
#[derive(Debug, Clone)]
pub struct TlsListen {
    /// Address to listen on.
    pub bind: SocketAddr,
    /// The certificate chain's PEM file.
    pub cert: PathBuf,
    /// The private key's PEM file.
    pub key: PathBuf,
    /// The settings loaded from them (see [`crate::tls::server::load_server_config`]).
    pub config: Arc<rustls::ServerConfig>,
}

impl PartialEq for TlsListen {
    /// The same address and files (the loaded settings are not compared).
    fn eq(&self, other: &Self) -> bool {
        self.bind == other.bind && self.cert == other.cert && self.key == other.key
    }
}

/// File descriptors kept free for the listener, logs and the like when the
/// connection limit is derived from the open-files limit.
pub const FD_RESERVE: usize = 64;
