//! The web listener in the server's `mio` loop: accepts HTTP connections,
//! reads one request head each (within [`crate::web::http`]'s limits and
//! the handshake timeout), answers pages and errors itself, and hands
//! every finished WebSocket upgrade to the driver as an [`Upgraded`]
//! connection (chat ones into the engine, admin ones into the admin hub).
//!
//! Like the admin hub it owns a range of poll tokens ([`WebListener::owns`]),
//! notes events ([`WebListener::on_event`]) and does its work once per loop
//! turn ([`WebListener::turn`]), bounded per connection by one read of
//! [`READ_CHUNK`] bytes and one write.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr};

use mio::event::Event;
use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Registry, Token};
use slab::Slab;

use crate::web::http::{self, HeadReader, Route, RouteContext, Service};
use crate::web::transport::WsTransport;

/// HTTP connection `k` uses token `WEB_CONN_BASE + k`: below the admin
/// hub's range (from `1 << 62`), far above any chat connection slot.
pub const WEB_CONN_BASE: usize = 1 << (usize::BITS - 3);

/// Most HTTP connection tokens (the range `WEB_CONN_BASE..` is this long).
const WEB_CONN_RANGE: usize = 1 << (usize::BITS - 4);

/// Token of the web listener: just below its connections'.
pub const WEB_LISTENER: Token = Token(WEB_CONN_BASE - 1);

/// Connections still in their HTTP phase at once; more are answered 503.
pub const MAX_HTTP_CONNECTIONS: usize = 512;

/// Bytes read from one connection per read.
pub const READ_CHUNK: usize = 4096;

/// How long an answered connection may take to read its answer, and then
/// how long its further input is drained before the socket is closed, ms.
pub const CLOSE_GRACE_MS: u64 = 2000;

/// How long accepting pauses after a failed accept, ms.
pub const ACCEPT_RETRY_MS: u64 = 100;

/// A connection that finished its upgrade: the driver adopts it.
#[derive(Debug)]
pub struct Upgraded {
    /// Which service it asked for.
    pub service: Service,
    /// The client's address.
    pub peer: SocketAddr,
    /// Its transport (the 101 answer is sent; deregistered from the poll).
    pub transport: WsTransport,
    /// Bytes that came after the request head, already decoded: chat (or
    /// admin) stream bytes to feed before anything read later.
    pub early: Vec<u8>,
}

/// Where an HTTP connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading the request head.
    Reading,
    /// Writing an answer; then close (`None`) or switch to WebSocket.
    Writing(Option<Service>),
    /// Answer written, write side shut: discarding input until EOF.
    Draining,
}

#[derive(Debug)]
struct HttpConn {
    stream: TcpStream,
    peer: SocketAddr,
    serial: u64,
    phase: Phase,
    head: HeadReader,
    /// Answer head (or a whole error answer), and how much is written.
    out: Vec<u8>,
    body: &'static [u8],
    written: usize,
    /// Bytes after the request head (upgrades only).
    rest: Vec<u8>,
    readable: bool,
    write_armed: bool,
    queued: bool,
}

/// The web listener and its connections in their HTTP phase.
pub struct WebListener {
    listener: Option<TcpListener>,
    addr: SocketAddr,
    conns: Slab<HttpConn>,
    ready: Vec<usize>,
    accept_pending: bool,
    accept_retry_ms: Option<u64>,
    deadlines: BinaryHeap<Reverse<(u64, usize, u64)>>,
    next_serial: u64,
    timeout_ms: u64,
    buf: Vec<u8>,
    upgrades: Vec<Upgraded>,
}

impl std::fmt::Debug for WebListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebListener")
            .field("addr", &self.addr)
            .field("http_connections", &self.conns.len())
            .finish()
    }
}

impl WebListener {
    /// Binds `addr` and registers it with `registry`. `timeout_ms` bounds
    /// the HTTP phase (the chat handshake timeout).
    pub fn bind(addr: SocketAddr, timeout_ms: u64, registry: &Registry) -> io::Result<Self> {
        let mut listener = TcpListener::bind(addr)?;
        registry.register(&mut listener, WEB_LISTENER, Interest::READABLE)?;
        let addr = listener.local_addr()?;
        tracing::info!(target: "stxchat::web", web = %addr, "web listener ready: chat page at http://{addr}/, operator page at http://{addr}/admin");
        Ok(WebListener {
            listener: Some(listener),
            addr,
            conns: Slab::new(),
            ready: Vec::new(),
            accept_pending: true,
            accept_retry_ms: None,
            deadlines: BinaryHeap::new(),
            next_serial: 0,
            timeout_ms,
            buf: vec![0; READ_CHUNK],
            upgrades: Vec::new(),
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections in their HTTP phase.
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    /// Whether no connection is in its HTTP phase.
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// Whether a poll token is the listener's.
    pub fn owns(&self, token: Token) -> bool {
        token == WEB_LISTENER
            || (token.0 >= WEB_CONN_BASE && token.0 < WEB_CONN_BASE + WEB_CONN_RANGE)
    }

    /// Notes a poll event for one of its tokens.
    pub fn on_event(&mut self, event: &Event) {
        if event.token() == WEB_LISTENER {
            self.accept_pending = true;
            return;
        }
        let key = event.token().0 - WEB_CONN_BASE;
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

    /// When it next needs a turn (monotonic ms).
    pub fn next_deadline(&self, now_ms: u64) -> Option<u64> {
        if !self.ready.is_empty() || (self.accept_pending && self.accept_retry_ms.is_none()) {
            return Some(now_ms);
        }
        let accept = self
            .accept_pending
            .then_some(self.accept_retry_ms)
            .flatten();
        let timer = self.deadlines.peek().map(|Reverse((at, _, _))| *at);
        accept.into_iter().chain(timer).min()
    }

    /// One loop turn: accept, read and answer, write, run deadlines. The
    /// finished upgrades are then in [`WebListener::take_upgrades`].
    pub fn turn(&mut self, registry: &Registry, ctx: RouteContext, now_ms: u64) {
        if self.accept_pending && self.accept_retry_ms.is_none_or(|at| now_ms >= at) {
            self.accept_retry_ms = None;
            self.accept_all(registry, now_ms);
        }
        let ready = std::mem::take(&mut self.ready);
        for key in ready {
            if let Some(c) = self.conns.get_mut(key) {
                c.queued = false;
                self.serve(key, registry, ctx, now_ms);
            }
        }
        while let Some(Reverse((at, key, serial))) = self.deadlines.peek().copied() {
            if at > now_ms {
                break;
            }
            self.deadlines.pop();
            let Some(c) = self.conns.get_mut(key) else {
                continue;
            };
            if c.serial != serial {
                continue;
            }
            if c.phase == Phase::Reading {
                tracing::debug!(target: "stxchat::web", peer = %c.peer, "request not complete within the handshake timeout");
                c.out = http::status_response(
                    408,
                    "the request did not arrive within the handshake timeout",
                );
                c.body = &[];
                c.phase = Phase::Writing(None);
                self.deadlines
                    .push(Reverse((now_ms + CLOSE_GRACE_MS, key, serial)));
                self.serve(key, registry, ctx, now_ms);
            } else {
                self.close(key, registry);
            }
        }
    }

    /// The connections that finished their upgrade since the last call.
    pub fn take_upgrades(&mut self) -> std::vec::Drain<'_, Upgraded> {
        self.upgrades.drain(..)
    }

    fn accept_all(&mut self, registry: &Registry, now_ms: u64) {
        loop {
            let Some(listener) = &self.listener else {
                self.accept_pending = false;
                return;
            };
            match listener.accept() {
                Ok((mut stream, peer)) => {
                    if self.conns.len() >= MAX_HTTP_CONNECTIONS {
                        let _ = stream.write(&http::status_response(
                            503,
                            "too many connections in their HTTP phase",
                        ));
                        let _ = stream.shutdown(Shutdown::Both);
                        tracing::info!(target: "stxchat::web", peer = %peer, "refused: too many HTTP connections");
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    let entry = self.conns.vacant_entry();
                    let key = entry.key();
                    if registry
                        .register(&mut stream, Token(WEB_CONN_BASE + key), Interest::READABLE)
                        .is_err()
                    {
                        continue;
                    }
                    self.next_serial += 1;
                    let serial = self.next_serial;
                    entry.insert(HttpConn {
                        stream,
                        peer,
                        serial,
                        phase: Phase::Reading,
                        head: HeadReader::new(),
                        out: Vec::new(),
                        body: &[],
                        written: 0,
                        rest: Vec::new(),
                        readable: true,
                        write_armed: false,
                        queued: true,
                    });
                    self.ready.push(key);
                    self.deadlines
                        .push(Reverse((now_ms + self.timeout_ms, key, serial)));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.accept_pending = false;
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::debug!(target: "stxchat::web", error = %e, "web accept failed");
                    self.accept_retry_ms = Some(now_ms + ACCEPT_RETRY_MS);
                    return;
                }
            }
        }
    }

    /// Reads (once) and writes (once) for one connection.
    fn serve(&mut self, key: usize, registry: &Registry, ctx: RouteContext, now_ms: u64) {
        let Some(c) = self.conns.get_mut(key) else {
            return;
        };
        if c.readable
            && c.phase != Phase::Writing(Some(Service::Chat))
            && c.phase != Phase::Writing(Some(Service::Admin))
        {
            match c.stream.read(&mut self.buf) {
                Ok(0) => {
                    // The client went away (or finished after our answer).
                    self.close(key, registry);
                    return;
                }
                Ok(n) => {
                    if c.phase == Phase::Reading {
                        let ctx = RouteContext {
                            peer: c.peer.ip(),
                            ..ctx
                        };
                        match c.head.feed(&self.buf[..n]) {
                            Ok(None) => {}
                            Ok(Some((req, rest))) => answer(c, &req, rest, ctx),
                            Err(e) => {
                                tracing::debug!(target: "stxchat::web", peer = %c.peer, error = %e, "bad request");
                                c.out = http::status_response(e.status(), &e.to_string());
                                c.phase = Phase::Writing(None);
                            }
                        }
                    }
                    // More may be waiting: look again next turn.
                    if !c.queued {
                        c.queued = true;
                        self.ready.push(key);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => c.readable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.close(key, registry);
                    return;
                }
            }
        }
        if let Phase::Writing(next) = c.phase {
            let head = c.out.get(c.written..).unwrap_or(&[]);
            let body_at = c.written.saturating_sub(c.out.len());
            let iov = [IoSlice::new(head), IoSlice::new(&c.body[body_at..])];
            match c.stream.write_vectored(&iov) {
                Ok(n) => c.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.close(key, registry);
                    return;
                }
            }
            let done = c.written >= c.out.len() + c.body.len();
            if done {
                c.out = Vec::new();
                match next {
                    None => {
                        let _ = c.stream.shutdown(Shutdown::Write);
                        c.phase = Phase::Draining;
                        self.deadlines
                            .push(Reverse((now_ms + CLOSE_GRACE_MS, key, c.serial)));
                        if !c.queued {
                            c.queued = true;
                            self.ready.push(key);
                        }
                    }
                    Some(service) => {
                        self.hand_over(key, service, registry);
                        return;
                    }
                }
            }
            self.arm(key, registry, !done);
        }
    }

    fn arm(&mut self, key: usize, registry: &Registry, want_write: bool) {
        let Some(c) = self.conns.get_mut(key) else {
            return;
        };
        if want_write != c.write_armed {
            let interest = if want_write {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            if registry
                .reregister(&mut c.stream, Token(WEB_CONN_BASE + key), interest)
                .is_ok()
            {
                c.write_armed = want_write;
            }
        }
    }

    fn hand_over(&mut self, key: usize, service: Service, registry: &Registry) {
        let Some(mut c) = self.conns.try_remove(key) else {
            return;
        };
        let _ = registry.deregister(&mut c.stream);
        let mut transport = WsTransport::new(c.stream);
        let mut early = c.rest;
        let n = transport.decode_early(&mut early);
        early.truncate(n);
        tracing::debug!(target: "stxchat::web", peer = %c.peer, ?service, "websocket open");
        self.upgrades.push(Upgraded {
            service,
            peer: c.peer,
            transport,
            early,
        });
    }

    fn close(&mut self, key: usize, registry: &Registry) {
        if let Some(mut c) = self.conns.try_remove(key) {
            let _ = registry.deregister(&mut c.stream);
        }
    }

    /// The server is stopping: stop accepting, drop every HTTP connection.
    pub fn shutdown(&mut self, registry: &Registry) {
        if let Some(mut l) = self.listener.take() {
            let _ = registry.deregister(&mut l);
        }
        let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        for key in keys {
            self.close(key, registry);
        }
        self.ready.clear();
        self.deadlines.clear();
    }
}

/// Decides the answer to a complete request head.
fn answer(c: &mut HttpConn, req: &http::Request, rest: Vec<u8>, ctx: RouteContext) {
    let route = http::route(req, ctx);
    tracing::debug!(target: "stxchat::web", peer = %c.peer, method = %req.method, path = %req.path, ?route, "request");
    match route {
        Route::Asset { asset, head } => {
            c.out = http::asset_head(asset);
            c.body = if head { &[] } else { asset.body };
            c.phase = Phase::Writing(None);
        }
        Route::Upgrade { service, accept } => {
            c.out = http::upgrade_response(&accept);
            c.rest = rest;
            c.phase = Phase::Writing(Some(service));
        }
        Route::Status(status, detail) => {
            c.out = http::status_response(status, detail);
            c.phase = Phase::Writing(None);
        }
    }
}
