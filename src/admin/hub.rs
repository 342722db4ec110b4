//! The admin hook of the server's event loop: the admin listener and its
//! sessions, the per-second rates, and publishing counters to the metrics
//! endpoint. It lives in the same `mio` loop as the chat connections; the
//! driver calls it at four points:
//!
//! - [`AdminHub::owns`] / [`AdminHub::on_event`] for poll events whose token
//!   is the hub's (admin tokens sit far above any connection slot);
//! - [`AdminHub::turn`] once per loop turn, before the driver writes its
//!   connections (so a kick's ERROR goes out in the same turn);
//! - [`AdminHub::next_deadline`] when computing the poll timeout;
//! - [`AdminHub::shutdown`] when the server stops.
//!
//! Sessions come from the admin listener (plain TCP, or TLS with
//! `--admin-tls`: its [`ListenerKind`] wraps each accepted stream, as the
//! chat listeners do) or from the web listener's `/admin/ws` upgrades
//! ([`AdminHub::adopt`]); either way their bytes go through a [`Transport`],
//! so all are served alike. A TLS session must finish its handshake within
//! the handshake timeout (`--handshake-timeout`), so that a silent client
//! cannot hold one of the [`MAX_ADMIN_CONNECTIONS`] slots; a broken or late
//! handshake is logged and closed.
//!
//! Work per turn is bounded: each admin session reads at most
//! [`READ_BUDGET`] bytes and answers at most `WORK_BUDGET` units (see
//! [`crate::admin::service`]); state changes are taken from the engine and
//! pushed to subscribers before any request is answered, so a LIST page
//! always reflects every EVENT sent before it.

use std::io::{self, IoSlice};
use std::net::{Shutdown, SocketAddr};

use mio::event::Event;
use mio::net::TcpListener;
use mio::{Interest, Registry, Token};
use slab::Slab;

use std::sync::Arc;

use crate::admin::cluster_metrics::ClusterMetrics;
use crate::admin::config::{AdminConfig, AdminConfigError};
use crate::admin::metrics::{MetricsPublisher, MetricsServer};
use crate::admin::nodes::{ClusterHealth, NodesPage};
use crate::admin::rates::RateMeter;
use crate::admin::rooms::RoomsPage;
use crate::admin::service::{AdminAuth, AdminSession, AdminSource};
use crate::cluster::relay::RelayStats;
use crate::core::observe::{ConnInfo, ConnState, Counters};
use crate::core::{Engine, Now};
use crate::server::listener::ListenerKind;
use crate::server::transport::{ReadOutcome, Transport, TransportError};

/// Token of the admin listener.
pub const ADMIN_LISTENER: Token = Token(usize::MAX - 16);

/// Admin connection `k` uses token `ADMIN_CONN_BASE + k`.
pub const ADMIN_CONN_BASE: usize = 1 << (usize::BITS - 2);

/// Admin connections served at once; more are closed at accept.
pub const MAX_ADMIN_CONNECTIONS: usize = 64;

/// Bytes read from one admin connection per loop turn.
pub const READ_BUDGET: usize = 64 * 1024;

/// How long a closing admin connection may take to flush its last bytes.
pub const CLOSE_FLUSH_MS: u64 = 2000;

/// How long accepting admin connections pauses after a failed accept.
pub const ACCEPT_RETRY_MS: u64 = 100;

/// How often counters are handed to the metrics endpoint.
pub const PUBLISH_EVERY_MS: u64 = 500;

/// How long a TLS admin session may take to finish its handshake unless
/// [`AdminHub::set_handshake_timeout`] says otherwise (the chat default).
pub const DEFAULT_HANDSHAKE_TIMEOUT_MS: u64 = 10_000;

/// Why the operator side of a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// A refused setting.
    #[error(transparent)]
    Config(#[from] AdminConfigError),
    /// The admin listener could not bind.
    #[error("cannot listen for admin connections on {addr}: {source}")]
    AdminBind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// The metrics endpoint could not start.
    #[error("cannot serve metrics on {addr}: {source}")]
    MetricsBind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
}

/// The engine seen through the admin channel's eyes, at one instant.
struct EngineSource<'a, T> {
    engine: &'a mut Engine<T>,
    node: &'a str,
    /// The cluster relay's counters (cluster mode).
    relay: Option<&'a RelayStats>,
    now: Now,
}

impl<T> AdminSource for EngineSource<'_, T> {
    fn counters(&self) -> Counters {
        self.engine.counters(self.now)
    }

    fn list_page(&self, state: ConnState, after_id: u64, limit: usize) -> (Vec<ConnInfo>, bool) {
        self.engine.list(state, after_id, limit)
    }

    fn rooms(&self, limit: usize) -> RoomsPage {
        RoomsPage::from_summary(self.engine.rooms_by_size(limit))
    }

    fn nodes(&self, limit: usize) -> NodesPage {
        let health = match (self.relay, self.engine.cluster_stats()) {
            (Some(relay), Some(stats)) => {
                let r = relay.counters();
                Some(ClusterHealth {
                    gap_fetched: r.gap_fetched,
                    unrecoverable: r.unrecoverable,
                    resyncs: stats.resyncs,
                })
            }
            _ => None,
        };
        NodesPage::new(self.node, self.engine.cluster_nodes(), limit).with_health(health)
    }

    fn kick(&mut self, nick: &str, reason: &str) -> bool {
        let found = self.engine.kick(nick, reason, self.now);
        if found {
            tracing::info!(target: "stxchat::admin", nick, reason, "kicked by an operator");
        }
        found
    }
}

/// One admin connection.
#[derive(Debug)]
struct AdminConn {
    transport: Transport,
    peer: SocketAddr,
    session: AdminSession,
    /// The socket may have unread bytes (edge-triggered readiness).
    readable: bool,
    write_armed: bool,
    /// Listed in `ready` for this or the next turn.
    queued: bool,
    /// Set once the session is closing: close by then even if not flushed.
    close_by_ms: Option<u64>,
    /// While its TLS handshake runs: close it if still running then.
    handshake_by_ms: Option<u64>,
    dead: bool,
}

/// The admin listener, its sessions, the rate meter and the metrics feed.
pub struct AdminHub {
    listener: Option<TcpListener>,
    /// What the admin listener's sessions speak (plain, or TLS with the
    /// certificate in force: replaced on reload, sessions keep theirs).
    kind: ListenerKind,
    handshake_timeout_ms: u64,
    admin_addr: Option<SocketAddr>,
    accept_pending: bool,
    /// After a failed accept (e.g. out of descriptors): retry then, not before.
    accept_retry_ms: Option<u64>,
    conns: Slab<AdminConn>,
    ready: Vec<usize>,
    auth: AdminAuth,
    meter: RateMeter,
    metrics: Option<(MetricsServer, MetricsPublisher)>,
    next_publish_ms: u64,
    observing: bool,
    read_buf: Vec<u8>,
    /// This node's name (`--node`).
    node: String,
    /// The cluster relay's counters (cluster mode only), for the metrics.
    relay_stats: Option<Arc<RelayStats>>,
}

impl std::fmt::Debug for AdminHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminHub")
            .field("admin_addr", &self.admin_addr)
            .field("metrics_addr", &self.metrics_addr())
            .field("sessions", &self.conns.len())
            .finish()
    }
}

impl AdminHub {
    /// Checks `cfg`, binds the admin listener (registered with `registry`)
    /// and starts the metrics endpoint, as configured, for the node named
    /// `node` (shown in NODES answers and as every metric's `node` label).
    pub fn bind(
        cfg: &AdminConfig,
        node: &str,
        registry: &Registry,
    ) -> Result<AdminHub, AdminError> {
        cfg.validate()?;
        let (listener, admin_addr) = match cfg.bind {
            Some(addr) => {
                let bind_err = |source| AdminError::AdminBind { addr, source };
                let mut l = TcpListener::bind(addr).map_err(bind_err)?;
                registry
                    .register(&mut l, ADMIN_LISTENER, Interest::READABLE)
                    .map_err(bind_err)?;
                let local = l.local_addr().map_err(bind_err)?;
                tracing::info!(
                    target: "stxchat::admin",
                    admin = %local,
                    token = if cfg.effective_token().is_some() { "required" } else { "none" },
                    tls = cfg.tls.is_some(),
                    "admin listener ready"
                );
                (Some(l), Some(local))
            }
            None => (None, None),
        };
        let metrics = match cfg.metrics_bind {
            Some(addr) => {
                let publisher = MetricsPublisher::new();
                let server = MetricsServer::start(addr, publisher.clone(), node)
                    .map_err(|source| AdminError::MetricsBind { addr, source })?;
                tracing::info!(
                    target: "stxchat::admin",
                    "metrics at http://{}/metrics",
                    server.local_addr()
                );
                Some((server, publisher))
            }
            None => None,
        };
        let kind = match &cfg.tls {
            Some(tls) => ListenerKind::Tls(tls.config.clone()),
            None => ListenerKind::Plain,
        };
        Ok(AdminHub {
            listener,
            kind,
            handshake_timeout_ms: DEFAULT_HANDSHAKE_TIMEOUT_MS,
            admin_addr,
            accept_pending: false,
            accept_retry_ms: None,
            conns: Slab::new(),
            ready: Vec::new(),
            auth: AdminAuth::new(cfg.effective_token()),
            meter: RateMeter::default(),
            metrics,
            next_publish_ms: 0,
            observing: false,
            read_buf: vec![0; 16 * 1024],
            node: node.to_owned(),
            relay_stats: None,
        })
    }

    /// Cluster mode: the metrics carry the cluster's counters, the
    /// relay's (`stats`) and the engine's.
    pub fn set_relay_stats(&mut self, stats: Arc<RelayStats>) {
        self.relay_stats = Some(stats);
    }

    /// The admin listener's address, if it is on.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// How long a TLS admin session may take to finish its handshake (the
    /// server's `--handshake-timeout`).
    pub fn set_handshake_timeout(&mut self, ms: u64) {
        self.handshake_timeout_ms = ms;
    }

    /// A reloaded certificate, for TLS sessions accepted from now on (open
    /// ones keep theirs); false, and nothing changed, if the admin listener
    /// does not speak TLS.
    pub fn replace_tls_config(&mut self, config: Arc<rustls::ServerConfig>) -> bool {
        match &mut self.kind {
            ListenerKind::Tls(running) => {
                *running = config;
                true
            }
            _ => false,
        }
    }

    /// The metrics endpoint's address, if it is on.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|(s, _)| s.local_addr())
    }

    /// Whether the hub has anything to do at all.
    fn enabled(&self) -> bool {
        self.admin_addr.is_some() || self.metrics.is_some()
    }

    /// Whether rates are being measured: only while someone may ask (an
    /// admin session is open) or metrics are on, so an idle server with no
    /// operator attached is not woken every second.
    fn sampling(&self) -> bool {
        self.metrics.is_some() || !self.conns.is_empty()
    }

    /// Whether a poll token belongs to the hub.
    pub fn owns(&self, token: Token) -> bool {
        token == ADMIN_LISTENER || (token.0 >= ADMIN_CONN_BASE && token.0 < ADMIN_LISTENER.0)
    }

    /// Notes a poll event for one of the hub's tokens (the work is done in
    /// [`AdminHub::turn`]).
    pub fn on_event(&mut self, event: &Event) {
        let token = event.token();
        if token == ADMIN_LISTENER {
            self.accept_pending = true;
            return;
        }
        let key = token.0 - ADMIN_CONN_BASE;
        if let Some(c) = self.conns.get_mut(key) {
            if event.is_readable() || event.is_read_closed() || event.is_error() {
                c.readable = true;
            }
            if !c.queued {
                c.queued = true;
                self.ready.push(key);
            }
        }
    }

    /// When the hub next needs a turn (monotonic ms): now if work is queued.
    pub fn next_deadline(&self, now: Now) -> Option<u64> {
        if !self.enabled() {
            return None;
        }
        if !self.ready.is_empty() {
            return Some(now.mono_ms);
        }
        let mut at = u64::MAX;
        if self.sampling() {
            at = self.meter.next_due_ms().unwrap_or(now.mono_ms);
        }
        if self.accept_pending {
            at = at.min(self.accept_retry_ms.unwrap_or(now.mono_ms));
        }
        if self.metrics.is_some() {
            at = at.min(self.next_publish_ms);
        }
        for (_, c) in &self.conns {
            for by in [c.close_by_ms, c.handshake_by_ms].into_iter().flatten() {
                at = at.min(by);
            }
        }
        (at != u64::MAX).then_some(at)
    }

    /// One loop turn: accept, push state changes, answer requests, write,
    /// close finished sessions, sample rates and publish metrics.
    pub fn turn<T>(&mut self, engine: &mut Engine<T>, registry: &Registry, now: Now) {
        if !self.enabled() {
            return;
        }
        if self.sampling() && self.meter.due(now.mono_ms) {
            self.meter.sample(now.mono_ms, &engine.counters(now));
        }
        if let Some((_, publisher)) = &self.metrics
            && now.mono_ms >= self.next_publish_ms
        {
            // The quiet count walks the rooms once (no member lists): cheap
            // at two calls a second.
            // The cluster's copy: plain numbers and relaxed loads.
            let cluster = match (&self.relay_stats, engine.cluster_stats()) {
                (Some(relay), Some(stats)) => Some(ClusterMetrics {
                    engine: stats.clone(),
                    relay: relay.counters(),
                    applied_seq: engine.applied_seq(),
                    nodes: engine.cluster_nodes().len() as u64,
                }),
                _ => None,
            };
            publisher.publish(
                &engine.counters(now),
                engine.rooms_by_size(0).quiet,
                cluster.as_ref(),
            );
            self.next_publish_ms = now.mono_ms + PUBLISH_EVERY_MS;
        }
        if !self.observing && self.admin_addr.is_some() {
            // Recording costs one small event per connection state change;
            // events nobody subscribed to are dropped each turn.
            engine.set_observing(true);
            self.observing = true;
        }
        if self.accept_pending && self.accept_retry_ms.is_none_or(|at| now.mono_ms >= at) {
            self.accept_retry_ms = None;
            self.accept_all(registry, now);
        }
        // Changes made before any request of this turn reach subscribers first.
        Self::push_events(&mut self.conns, engine);
        let ready = std::mem::take(&mut self.ready);
        let mut again = Vec::new();
        for key in ready {
            let Some(c) = self.conns.get_mut(key) else {
                continue;
            };
            c.queued = false;
            Self::serve(
                c,
                &mut self.read_buf,
                &mut EngineSource {
                    engine: &mut *engine,
                    node: &self.node,
                    relay: self.relay_stats.as_deref(),
                    now,
                },
                &self.auth,
                &self.meter,
                now,
            );
            // A kick closes a connection at once: its EVENT follows the answer.
            Self::push_events(&mut self.conns, engine);
            let c = &mut self.conns[key];
            let more_to_read = c.readable && c.session.wants_read();
            if !c.dead && (more_to_read || c.session.has_work()) {
                c.queued = true;
                again.push(key);
            }
        }
        // Subscribers got new output: write it.
        let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        for key in keys {
            self.flush(key, registry, now);
        }
        self.ready.extend(again);
    }

    /// Reads (within budget) and answers requests for one session.
    fn serve<S: AdminSource>(
        c: &mut AdminConn,
        buf: &mut [u8],
        source: &mut S,
        auth: &AdminAuth,
        meter: &RateMeter,
        now: Now,
    ) {
        let mut budget = READ_BUDGET;
        while c.readable && !c.dead && c.session.wants_read() && budget > 0 {
            let want = budget.min(buf.len());
            match c.transport.read(&mut buf[..want]) {
                Ok(ReadOutcome::Eof) => {
                    c.dead = true;
                    c.readable = false;
                }
                Ok(ReadOutcome::Read { raw, chat }) => {
                    budget = budget.saturating_sub(raw.max(chat).max(1));
                    if chat > 0 {
                        c.session.receive(&buf[..chat]);
                    }
                }
                Ok(ReadOutcome::WouldBlock) => c.readable = false,
                Err(e) => {
                    // A dead socket, or a broken TLS or WebSocket stream (its
                    // alert or close frame is queued and sent as the session
                    // closes).
                    if let TransportError::Protocol { .. } = e {
                        tracing::info!(target: "stxchat::admin", peer = %c.peer, error = %e, "admin session refused: transport error");
                    }
                    c.dead = true;
                    c.readable = false;
                }
            }
        }
        if c.handshake_by_ms.is_some() && !c.dead && !c.transport.is_handshaking() {
            c.handshake_by_ms = None;
        }
        if !c.dead {
            c.session.process(source, auth, meter.rates());
        }
        if c.session.is_closing() && c.close_by_ms.is_none() {
            c.close_by_ms = Some(now.mono_ms + CLOSE_FLUSH_MS);
        }
    }

    fn accept_all(&mut self, registry: &Registry, now: Now) {
        loop {
            let Some(listener) = &self.listener else {
                self.accept_pending = false;
                return;
            };
            match listener.accept() {
                Ok((stream, peer)) => {
                    if self.conns.len() >= MAX_ADMIN_CONNECTIONS {
                        tracing::warn!(target: "stxchat::admin", peer = %peer, "too many admin sessions: refused");
                        let _ = stream.shutdown(Shutdown::Both);
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    let transport = match self.kind.transport(stream) {
                        Ok(t) => t,
                        Err(e) => {
                            tracing::info!(target: "stxchat::admin", peer = %peer, error = %e, transport = self.kind.name(), "cannot set up the admin transport");
                            continue;
                        }
                    };
                    let handshake_by = transport
                        .is_handshaking()
                        .then(|| now.mono_ms + self.handshake_timeout_ms);
                    self.insert(transport, peer, &[], registry, handshake_by);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.accept_pending = false;
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // Out of descriptors or similar: try again shortly
                    // rather than spin; chat connections keep being served.
                    tracing::debug!(target: "stxchat::admin", error = %e, "admin accept failed");
                    self.accept_retry_ms = Some(now.mono_ms + ACCEPT_RETRY_MS);
                    return;
                }
            }
        }
    }

    /// Adds a session on `transport` (registered with `registry` here), fed
    /// `early` bytes first, its transport handshake due by `handshake_by_ms`
    /// (if it has one); false (and the transport shut) if registering failed.
    fn insert(
        &mut self,
        mut transport: Transport,
        peer: SocketAddr,
        early: &[u8],
        registry: &Registry,
        handshake_by_ms: Option<u64>,
    ) -> bool {
        let entry = self.conns.vacant_entry();
        let key = entry.key();
        let token = Token(ADMIN_CONN_BASE + key);
        let interest = if transport.wants_write() {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        if registry
            .register(transport.stream(), token, interest)
            .is_err()
        {
            transport.abort();
            return false;
        }
        tracing::info!(target: "stxchat::admin", peer = %peer, "admin session opened");
        let mut session = AdminSession::new(&self.auth);
        if !early.is_empty() {
            session.receive(early);
        }
        entry.insert(AdminConn {
            write_armed: interest.is_writable(),
            transport,
            peer,
            session,
            // Bytes may have arrived before registration.
            readable: true,
            queued: true,
            close_by_ms: None,
            handshake_by_ms,
            dead: false,
        });
        self.ready.push(key);
        true
    }

    /// Takes over an admin session that arrived another way (a WebSocket
    /// upgrade of the web listener's `/admin/ws`): served exactly like one
    /// from the admin listener, under the same limit and token.
    pub fn adopt(
        &mut self,
        mut transport: Transport,
        peer: SocketAddr,
        early: &[u8],
        registry: &Registry,
    ) -> bool {
        if self.conns.len() >= MAX_ADMIN_CONNECTIONS {
            tracing::warn!(target: "stxchat::admin", peer = %peer, "too many admin sessions: refused");
            transport.abort();
            return false;
        }
        self.insert(transport, peer, early, registry, None)
    }

    /// Whether the admin channel is on (its listener is bound).
    pub fn is_on(&self) -> bool {
        self.admin_addr.is_some()
    }

    /// Whether sessions must authenticate with a token.
    pub fn token_required(&self) -> bool {
        self.auth.required()
    }

    /// Hands the engine's recorded state changes to every subscriber.
    fn push_events<T>(conns: &mut Slab<AdminConn>, engine: &mut Engine<T>) {
        let events = engine.take_events();
        if events.is_empty() {
            return;
        }
        for (_, c) in conns.iter_mut() {
            if c.session.is_subscribed() {
                for ev in &events {
                    c.session.push_event(ev);
                }
            }
        }
    }

    /// Writes what a session has queued; closes it when done or dead.
    fn flush(&mut self, key: usize, registry: &Registry, now: Now) {
        let Some(c) = self.conns.get_mut(key) else {
            return;
        };
        while !c.dead && (c.session.has_output() || c.transport.wants_write()) {
            match c.transport.write(&[IoSlice::new(c.session.output())]) {
                Ok(0) => break, // the socket is full (or the transport's own output is)
                Ok(n) => c.session.consume(n.min(c.session.output().len())),
                Err(_) => c.dead = true,
            }
        }
        let late_handshake = c.handshake_by_ms.is_some_and(|by| now.mono_ms >= by);
        if late_handshake && !c.dead {
            tracing::info!(target: "stxchat::admin", peer = %c.peer, "admin session refused: TLS handshake timed out");
        }
        let finished = c.dead
            || late_handshake
            || (c.session.is_closing() && !c.session.has_output())
            || c.close_by_ms.is_some_and(|by| now.mono_ms >= by);
        if finished {
            self.close(key, registry);
            return;
        }
        let want_write = c.session.has_output() || c.transport.wants_write();
        if want_write != c.write_armed {
            let interest = if want_write {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            if registry
                .reregister(c.transport.stream(), Token(ADMIN_CONN_BASE + key), interest)
                .is_ok()
            {
                c.write_armed = want_write;
            }
        }
    }

    fn close(&mut self, key: usize, registry: &Registry) {
        if let Some(mut c) = self.conns.try_remove(key) {
            let _ = registry.deregister(c.transport.stream());
            // A WebSocket session sends its close frame (best effort).
            c.transport.shutdown_write();
            c.transport.abort();
            tracing::info!(target: "stxchat::admin", peer = %c.peer, "admin session closed");
        }
        self.ready.retain(|&k| k != key);
    }

    /// The server is stopping: each session gets ERROR shutting_down (one
    /// write attempt), then everything admin is closed.
    pub fn shutdown(&mut self, registry: &Registry) {
        if let Some(mut l) = self.listener.take() {
            let _ = registry.deregister(&mut l);
        }
        let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        for key in keys {
            let c = &mut self.conns[key];
            c.session.shutdown();
            while c.session.has_output() {
                match c.transport.write(&[IoSlice::new(c.session.output())]) {
                    Ok(n) if n > 0 => c.session.consume(n.min(c.session.output().len())),
                    _ => break,
                }
            }
            self.close(key, registry);
        }
        self.ready.clear();
        // Stops the metrics threads (joined in MetricsServer's Drop).
        self.metrics = None;
    }
}
