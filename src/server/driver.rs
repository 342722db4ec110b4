//! The single-threaded `mio` event loop around the chat engine.
//!
//! Each loop turn: poll; accept until `WouldBlock`; read each readable
//! connection until `WouldBlock` or its read budget or the turn's (bounded
//! by the output the turn has produced; then it waits in a backlog, served
//! first next turn); hand the bytes to the engine; then write each
//! connection that has new output once (a dirty list), arming WRITABLE only
//! when a write was partial; then run deadlines (handshake, keepalive, the
//! closing phases). Every connection's bytes go through its
//! [`crate::server::transport::Transport`] (chosen by the listener that accepted it, see
//! [`crate::server::listener`]); nothing here depends on which one it is.
//!
//! Accepting is in `accept.rs`, the write side and the closing phases in
//! `output.rs`, the cluster link in `cluster_glue.rs`, applying a reload in
//! `reload_apply.rs`; this file holds the loop, reading and registration's
//! password checks.

use std::collections::VecDeque;
use std::io::{self};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mio::{Events, Interest, Poll, Token, Waker};

use crate::accounts::{VerifyJob, VerifyPool};
use crate::admin::hub::{AdminError, AdminHub};
use crate::core::engine::MAX_FANOUT_EXPANSION;
use crate::core::timers::Timers;
use crate::core::{ConnId, Engine, Now, VerifyOutcome};
use crate::server::config::{FD_RESERVE, ServerConfig};
use crate::server::conn::{Closing, Io};
use crate::server::fdlimit::raise_nofile_limit;
use crate::server::listener::{Listener, ListenerKind, MAX_LISTENERS};
use crate::server::reload::{LoadFn, ReloadHandle, Reloader, Values};
use crate::server::shutdown::ShutdownHandle;
use crate::server::stats::StatsLog;
use crate::server::transport::{ReadOutcome, TransportError};
use crate::web::WebListener;

mod accept;
mod cluster_glue;
mod output;
mod reload_apply;

pub use cluster_glue::ClusterRefused;

const WAKER: Token = Token(usize::MAX - 2);
const SIGNALS: Token = Token(usize::MAX - 3);
/// Listener `i` uses token `LISTENER_BASE - i` (`i <` [`MAX_LISTENERS`]),
/// below the waker's and above the admin listener's.
const LISTENER_BASE: usize = usize::MAX - 4;

/// The listener index of a poll token, if it is a listener's.
fn listener_index(t: Token) -> Option<usize> {
    let i = LISTENER_BASE.checked_sub(t.0)?;
    (i < MAX_LISTENERS).then_some(i)
}

/// One loop turn reads input until the output it has produced reaches
/// `max_outbuf / TURN_FRACTION`, counting distinct bytes (a broadcast once,
/// see [`Engine::produced_bytes`]): no member is then queued more than that
/// in one turn by others' messages, before its output is offered to the
/// socket, so only a member whose socket does not take it becomes a slow
/// consumer. Input that produces nothing is bounded by the same amount. A
/// bound on output rather than input lets large messages go out in large
/// batches (fewer writes and wake-ups per byte) while tiny ones stay safe.
const TURN_FRACTION: usize = 4;

/// A turn stops reading once less than `1 / TURN_TAIL` of its output
/// allowance is left, rather than read in ever smaller pieces.
const TURN_TAIL: usize = 8;

/// Readiness events handled per loop turn. Fewer events per turn means
/// output is written sooner: when thousands of members of one room close at
/// once, each close queues a LEFT for every other member, and those queues
/// are only drained (or found dead) when the turn writes.
const EVENTS_PER_TURN: usize = 256;

/// Vectored writes of one connection per loop turn, at most: more than one
/// only when its queue has more than [`MAX_IOV`] pieces and the socket
/// takes all it is offered.
const WRITES_PER_TURN: usize = 4;

/// How often spare output buffers left unused are given back, ms.
const TRIM_EVERY_MS: u64 = 1000;

/// Freed buffer bytes after which the allocator is asked to return free
/// memory to the OS (at the next trim, so at most once a second). Low
/// enough that the join sequences of a registration storm (a few KiB per
/// joiner, freed once written) do not stay resident: with 4 MiB, 15,000
/// idle clients in one quiet room cost 581 B each instead of 375 B.
const RELEASE_AFTER_BYTES: usize = 256 << 10;

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A setting is not allowed.
    #[error("invalid setting: {0}")]
    Config(#[from] crate::core::ConfigError),
    /// The socket or poller could not be set up.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The admin listener or metrics endpoint could not start.
    #[error("{0}")]
    Admin(#[from] AdminError),
}

/// The monotonic and wall clocks, read once per loop turn.
#[derive(Debug)]
struct Clock {
    start: Instant,
}

impl Clock {
    fn now(&self) -> Now {
        let unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Now {
            mono_ms: self.start.elapsed().as_millis() as u64,
            unix_ms,
        }
    }
}

/// A bound chat server, ready to [`Server::run`].
pub struct Server {
    poll: Poll,
    /// One per transport served; emptied at shutdown. Index `i` has token
    /// `LISTENER_BASE - i`.
    listeners: Vec<Listener>,
    local_addr: SocketAddr,
    engine: Engine<Io>,
    cfg: ServerConfig,
    shutdown: ShutdownHandle,
    signals: Option<signal_hook_mio::v1_0::Signals>,
    clock: Clock,
    read_buf: Vec<u8>,
    closing_timers: Timers,
    backlog: VecDeque<ConnId>,
    /// Input bytes this loop turn may still read (all connections together).
    turn_left: usize,
    /// [`Engine::produced_bytes`] when this turn began.
    turn_produced_base: u64,
    flush: Vec<ConnId>,
    closes: Vec<ConnId>,
    /// When spare output buffers are next checked for disuse.
    trim_at: u64,
    /// Buffer bytes freed since the allocator last returned memory to the OS.
    freed_since_release: usize,
    accept_paused_until: Option<u64>,
    fd_episode: bool,
    stats: StatsLog,
    /// Admin listener, operator sessions, metrics feed (src/admin/hub.rs).
    admin: AdminHub,
    /// The web listener (`--web-bind`) and its connections in their HTTP
    /// phase; upgraded ones become chat connections or admin sessions.
    web: Option<WebListener>,
    /// The loop's waker (shutdown requests, password verdicts).
    waker: Arc<Waker>,
    /// Password checks of listed nicks, off the loop (while a users file is in force).
    verify: Option<VerifyPool>,
    verify_jobs: Vec<VerifyJob>,
    resumed: Vec<ConnId>,
    /// Live reload: loads settings off the loop, hands them back.
    reloader: Reloader,
    /// The connection limit derived from the open-files limit at start
    /// (used again when a reload leaves `--max-connections` unset).
    auto_capacity: usize,
    /// Cluster mode (`--cluster`): the relay thread and its queues.
    cluster: Option<cluster_glue::ClusterLink>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("connections", &self.engine.len())
            .finish()
    }
}

impl Server {
    /// Validates the settings, raises the open-files limit, and binds.
    pub fn bind(mut cfg: ServerConfig) -> Result<Server, ServerError> {
        let nofile = raise_nofile_limit().unwrap_or(1024);
        let auto_capacity = (nofile as usize).saturating_sub(FD_RESERVE).max(1);
        if cfg.auto_max_connections {
            cfg.core.max_connections = auto_capacity;
        }
        let engine = Engine::new(cfg.core.clone())?;
        let poll = Poll::new()?;
        // The listeners, one per transport served (TLS, WebSocket and IRC
        // add theirs here).
        let mut listeners = Vec::new();
        if cfg.serve_plain {
            listeners.push(Listener::bind(ListenerKind::Plain, cfg.bind)?);
        }
        if let Some(tls) = &cfg.tls {
            listeners.push(Listener::bind(
                ListenerKind::Tls(tls.config.clone()),
                tls.bind,
            )?);
        }
        let mut engine = engine;
        if let Some(irc) = &cfg.irc {
            engine.set_oper_password(irc.oper_password.clone());
            let gateway = crate::irc::IrcConfig {
                server_name: cfg.core.server_name.clone(),
                network: cfg.core.server_name.clone(),
                max_payload: cfg.core.max_payload,
                max_rooms: cfg.core.max_rooms_per_client,
                motd: irc.motd.clone(),
                ..crate::irc::IrcConfig::default()
            };
            listeners.push(Listener::bind(
                ListenerKind::Irc(Arc::new(gateway)),
                irc.bind,
            )?);
        }
        if listeners.is_empty() {
            return Err(ServerError::Io(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no listener: the plain one is off and there is no TLS or IRC one",
            )));
        }
        debug_assert!(listeners.len() <= MAX_LISTENERS);
        for (i, l) in listeners.iter_mut().enumerate() {
            poll.registry().register(
                &mut l.socket,
                Token(LISTENER_BASE - i),
                Interest::READABLE,
            )?;
        }
        let local_addr = listeners[0].addr;
        for l in &listeners {
            tracing::info!(target: "stxchat::server", transport = l.kind.name(), addr = %l.addr, "listener");
        }
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let mut admin = AdminHub::bind(&cfg.admin, &cfg.node, poll.registry())?;
        admin.set_handshake_timeout(cfg.core.handshake_timeout_ms);
        let web = match cfg.web_bind {
            Some(addr) => Some(
                WebListener::bind(addr, cfg.core.handshake_timeout_ms, poll.registry()).map_err(
                    |e| {
                        io::Error::new(
                            e.kind(),
                            format!("cannot listen for web clients on {addr}: {e}"),
                        )
                    },
                )?,
            ),
            None => None,
        };
        tracing::info!(
            target: "stxchat::server",
            bind = %local_addr,
            nofile,
            max_connections = cfg.core.max_connections,
            "listening; open-files limit {nofile} allows {} connections",
            cfg.core.max_connections
        );
        let stats = StatsLog::new(cfg.stats_interval);
        let verify = match cfg.core.users {
            Some(_) => Some(start_verify_pool(&cfg, &waker)?),
            None => None,
        };
        let cluster = if cfg.cluster.is_empty() {
            None
        } else {
            let link = cluster_glue::ClusterLink::start(&cfg, &mut engine, &waker)?;
            admin.set_relay_stats(link.relay_stats());
            Some(link)
        };
        Ok(Server {
            cluster,
            poll,
            listeners,
            local_addr,
            engine,
            shutdown: ShutdownHandle::new(waker.clone()),
            reloader: Reloader::new(waker.clone()),
            auto_capacity,
            waker,
            verify,
            verify_jobs: Vec::new(),
            resumed: Vec::new(),
            signals: None,
            clock: Clock {
                start: Instant::now(),
            },
            read_buf: vec![0; 64 * 1024],
            closing_timers: Timers::default(),
            backlog: VecDeque::new(),
            turn_left: 0,
            turn_produced_base: 0,
            flush: Vec::new(),
            closes: Vec::new(),
            trim_at: 0,
            freed_since_release: 0,
            accept_paused_until: None,
            fd_episode: false,
            stats,
            admin,
            web,
            cfg,
        })
    }

    /// The address the server listens on (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The IRC listener's address, if it is on (useful with port 0).
    pub fn irc_addr(&self) -> Option<SocketAddr> {
        self.listeners
            .iter()
            .find(|l| matches!(l.kind, ListenerKind::Irc(_)))
            .map(|l| l.addr)
    }

    /// The TLS listener's address, if there is one (useful with port 0).
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.listeners
            .iter()
            .find(|l| matches!(l.kind, ListenerKind::Tls(_)))
            .map(|l| l.addr)
    }

    /// The admin listener's address, if it is on (useful with port 0).
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.admin_addr()
    }

    /// The web listener's address, if it is on (useful with port 0).
    pub fn web_addr(&self) -> Option<SocketAddr> {
        self.web.as_ref().map(WebListener::local_addr)
    }

    /// The metrics endpoint's address, if it is on (useful with port 0).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.admin.metrics_addr()
    }

    /// The effective settings (after the connection limit was derived).
    pub fn config(&self) -> &ServerConfig {
        &self.cfg
    }

    /// A handle to stop the server from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// A handle that asks the server to reload its settings (as SIGHUP
    /// does); without [`Server::enable_reload`] a reload only logs that
    /// there is nothing to reload.
    pub fn reload_handle(&self) -> ReloadHandle {
        self.reloader.handle()
    }

    /// Reloads (SIGHUP, [`Server::reload_handle`]) will run `load` on a
    /// thread of their own and apply what it returns (see
    /// [`crate::server::reload`]); `values` are the settings in force, by
    /// flag name.
    pub fn enable_reload(&mut self, values: Values, load: LoadFn) {
        self.reloader.enable(values, load);
    }

    /// Also shut down on SIGINT and SIGTERM, and reload on SIGHUP.
    pub fn handle_signals(&mut self) -> io::Result<()> {
        let mut signals = signal_hook_mio::v1_0::Signals::new([
            signal_hook::consts::SIGINT,
            signal_hook::consts::SIGTERM,
            signal_hook::consts::SIGHUP,
        ])?;
        self.poll
            .registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        self.signals = Some(signals);
        Ok(())
    }

    /// Runs the event loop until shutdown is asked for and clients are flushed.
    pub fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(EVENTS_PER_TURN);
        let now = self.clock.now();
        self.engine.mark_started(now);
        self.stats.start(now);
        let mut shutdown_deadline: Option<u64> = None;
        loop {
            let now = self.clock.now();
            let timeout = self.poll_timeout(now, shutdown_deadline);
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            let now = self.clock.now();
            self.turn_left = (self.cfg.core.max_outbuf / TURN_FRACTION).max(1);
            self.turn_produced_base = self.engine.produced_bytes();
            // Connections left over from the last turn read first (FIFO).
            self.resume_backlog(now);
            for event in events.iter() {
                match event.token() {
                    t if listener_index(t).is_some() => {
                        if let Some(l) = listener_index(t).and_then(|i| self.listeners.get_mut(i)) {
                            l.pending = true;
                        }
                    }
                    WAKER => {}
                    SIGNALS => {
                        if let Some(signals) = &mut self.signals {
                            for sig in signals.pending() {
                                tracing::info!(target: "stxchat::server", signal = sig, "signal received");
                                if sig == signal_hook::consts::SIGHUP {
                                    self.reloader.request();
                                } else {
                                    self.shutdown.shutdown();
                                }
                            }
                        }
                    }
                    t if self.admin.owns(t) => self.admin.on_event(event),
                    t if self.web.as_ref().is_some_and(|w| w.owns(t)) => {
                        if let Some(w) = &mut self.web {
                            w.on_event(event);
                        }
                    }
                    Token(id) => {
                        if event.is_readable() || event.is_read_closed() || event.is_error() {
                            self.read_ready(id, now);
                        }
                        if event.is_writable() || event.is_write_closed() {
                            self.queue_flush(id);
                        }
                    }
                }
            }
            // Relay messages next: records applied before this turn's
            // accepts (clients are accepted once the replica is in place).
            self.cluster_turn(now);
            if let Some(refused) = self.cluster_fatal() {
                return Err(io::Error::other(refused));
            }
            if shutdown_deadline.is_none() {
                self.accept_all(now);
                self.web_turn(now);
            }
            if shutdown_deadline.is_none() {
                self.reload_turn(now);
            }
            self.engine.tick(now);
            self.verify_turn(now);
            self.closing_deadlines(now);
            self.admin.turn(&mut self.engine, self.poll.registry(), now);
            self.process_output(now);
            // Closes and deadlines of this turn may have proposed records.
            self.send_proposals(now);
            if now.mono_ms >= self.trim_at {
                self.freed_since_release += self.engine.trim_spare_buffers();
                if self.freed_since_release >= RELEASE_AFTER_BYTES {
                    crate::server::memory::release_free_memory();
                    self.freed_since_release = 0;
                }
                self.trim_at = now.mono_ms + TRIM_EVERY_MS;
            }
            if let Some(line) = self.stats.due(&self.engine, now) {
                tracing::info!(target: "stxchat::stats", "{line}");
            }
            if self.shutdown.is_requested() && shutdown_deadline.is_none() {
                tracing::info!(target: "stxchat::server", "shutting down");
                for mut l in self.listeners.drain(..) {
                    let _ = self.poll.registry().deregister(&mut l.socket);
                }
                self.admin.shutdown(self.poll.registry());
                if let Some(w) = &mut self.web {
                    w.shutdown(self.poll.registry());
                }
                if self.cluster.is_some() {
                    self.cluster_begin_stop(now);
                } else {
                    self.engine.shutdown(now);
                }
                self.process_output(now);
                shutdown_deadline = Some(now.mono_ms + self.cfg.close_flush.as_millis() as u64);
            }
            if let Some(deadline) = shutdown_deadline {
                let cluster_done = self.cluster_stopped(now);
                if self.engine.is_empty() && cluster_done {
                    break;
                }
                if now.mono_ms >= deadline {
                    let ids = self.engine.conn_ids();
                    for id in ids {
                        self.finish(id, now);
                    }
                    if let Some(link) = self.cluster.as_mut() {
                        link.force_stop();
                    }
                    break;
                }
            }
        }
        tracing::info!(target: "stxchat::server", "stopped");
        Ok(())
    }

    fn poll_timeout(&self, now: Now, shutdown_deadline: Option<u64>) -> Option<Duration> {
        if !self.backlog.is_empty() {
            return Some(Duration::ZERO);
        }
        let candidates = [
            self.engine.next_deadline(),
            self.closing_timers.next_at(),
            self.accept_paused_until,
            self.stats.next_at(),
            shutdown_deadline,
            self.admin.next_deadline(now),
            self.web
                .as_ref()
                .filter(|_| self.accepting())
                .and_then(|w| w.next_deadline(now.mono_ms)),
            (self.engine.has_spare_buffers() || self.freed_since_release >= RELEASE_AFTER_BYTES)
                .then_some(self.trim_at),
            self.cluster_deadline(now),
        ];
        candidates
            .into_iter()
            .flatten()
            .min()
            .map(|at| Duration::from_millis(at.saturating_sub(now.mono_ms)))
    }

    /// Collects password verdicts, hands new checks to the worker pool
    /// (refusing those over its queue), and queues the connections whose
    /// held input was handled for reading again (their input waited in the
    /// socket; readiness is edge-triggered, so the backlog reads them).
    fn verify_turn(&mut self, now: Now) {
        let Server {
            verify,
            engine,
            verify_jobs,
            resumed,
            backlog,
            cfg,
            waker,
            ..
        } = self;
        if verify.is_none() && engine.config().users.is_some() {
            // A reload brought the first users file.
            match start_verify_pool(cfg, waker) {
                Ok(p) => *verify = Some(p),
                Err(e) => {
                    tracing::error!(target: "stxchat::server", error = %e, "cannot start the password-check threads");
                }
            }
        }
        let Some(pool) = verify else {
            // Input held for a cluster proposal resumes the same way.
            engine.take_resumed(resumed);
            for id in resumed.drain(..) {
                if let Some(io) = engine.io_mut(id)
                    && !io.backlogged
                {
                    io.backlogged = true;
                    backlog.push_back(id);
                }
            }
            return;
        };
        while let Some(v) = pool.try_recv() {
            let outcome = if v.ok {
                VerifyOutcome::Match
            } else {
                VerifyOutcome::Mismatch
            };
            engine.on_verified(v.id, v.serial, v.peer, outcome, now);
        }
        engine.take_verify_jobs(verify_jobs);
        for job in verify_jobs.drain(..) {
            if let Err(job) = pool.submit(job) {
                engine.on_verified(job.id, job.serial, job.peer, VerifyOutcome::Busy, now);
            }
        }
        engine.take_resumed(resumed);
        for id in resumed.drain(..) {
            if let Some(io) = engine.io_mut(id)
                && !io.backlogged
            {
                io.backlogged = true;
                backlog.push_back(id);
            }
        }
    }

    /// Reads from `id` until `WouldBlock` or its budget (its own and the
    /// turn's), feeding the engine.
    fn read_ready(&mut self, id: ConnId, now: Now) {
        let mut budget = self.cfg.read_budget;
        loop {
            let allowance = self.turn_read_allowance();
            if self.engine.input_held(id) {
                // A password check is pending: the rest waits in the socket.
                return;
            }
            let Some(io) = self.engine.io_mut(id) else {
                return;
            };
            if io.eof {
                return;
            }
            if budget == 0 || allowance == 0 {
                if !io.backlogged {
                    io.backlogged = true;
                    self.backlog.push_back(id);
                }
                return;
            }
            let want = budget.min(allowance).min(self.read_buf.len());
            match io.transport.read(&mut self.read_buf[..want]) {
                Ok(ReadOutcome::Eof) => {
                    io.eof = true;
                    let closing = io.closing;
                    match closing {
                        Closing::Draining => self.finish(id, now),
                        Closing::Flushing => {}
                        Closing::No => {
                            self.engine.on_peer_closed(id, now);
                        }
                    }
                    return;
                }
                Ok(ReadOutcome::Read { raw, chat }) => {
                    let charged = raw.max(chat);
                    budget = budget.saturating_sub(charged);
                    self.turn_left = self.turn_left.saturating_sub(charged);
                    let closing = io.closing;
                    if io.transport.wants_write() {
                        self.queue_flush(id);
                    }
                    if closing == Closing::No && chat > 0 {
                        self.engine.on_input(id, &self.read_buf[..chat], now);
                    }
                    if charged == 0 {
                        // Not allowed by the contract; never spin on it.
                        return;
                    }
                }
                Ok(ReadOutcome::WouldBlock) => return,
                Err(e) => {
                    self.transport_failed(id, e, now);
                    return;
                }
            }
        }
    }

    /// A transport's read or write failed: a dead socket is closed at once
    /// (as a peer close); a broken transport protocol is counted and closed
    /// through the closing sequence, which writes the transport's goodbye.
    fn transport_failed(&mut self, id: ConnId, e: TransportError, now: Now) {
        let closing = self.engine.io_mut(id).map(|io| io.closing);
        match e {
            TransportError::Protocol { .. } if closing == Some(Closing::No) => {
                tracing::info!(target: "stxchat::conn", error = %e, "transport error");
                self.engine.on_transport_error(id, now);
            }
            _ => {
                // Reset or another hard error: the socket is dead.
                self.engine.on_peer_closed(id, now);
                self.finish(id, now);
            }
        }
    }

    /// How many bytes the next read of this turn may take: what is left of
    /// the turn's input budget, and of its output allowance divided by the
    /// worst expansion; 0 once the turn has read enough.
    fn turn_read_allowance(&self) -> usize {
        let allowance = (self.cfg.core.max_outbuf / TURN_FRACTION).max(1);
        let produced = self.engine.produced_bytes() - self.turn_produced_base;
        let out_left = allowance.saturating_sub(usize::try_from(produced).unwrap_or(usize::MAX));
        if self.turn_left == 0 || out_left < allowance / TURN_TAIL || out_left == 0 {
            return 0;
        }
        self.turn_left.min((out_left / MAX_FANOUT_EXPANSION).max(1))
    }

    /// Gives connections whose read budget ran out last turn another turn,
    /// in order. Once the turn's budget is spent the rest keep their places
    /// (a connection that read goes to the back), so nobody is starved.
    fn resume_backlog(&mut self, now: Now) {
        for _ in 0..self.backlog.len() {
            if self.turn_read_allowance() == 0 {
                break;
            }
            let Some(id) = self.backlog.pop_front() else {
                break;
            };
            if let Some(io) = self.engine.io_mut(id) {
                io.backlogged = false;
                self.read_ready(id, now);
            }
        }
    }
}

/// The password-check pool, its verdicts waking the loop.
fn start_verify_pool(cfg: &ServerConfig, waker: &Arc<Waker>) -> io::Result<VerifyPool> {
    let waker = waker.clone();
    VerifyPool::new(
        cfg.auth_workers,
        cfg.auth_queue,
        Arc::new(move || {
            let _ = waker.wake();
        }),
    )
}

/// Errors that mean "out of descriptors or memory for now", not "broken".
fn is_resource_exhaustion(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE) | Some(libc::ENFILE) | Some(libc::ENOBUFS) | Some(libc::ENOMEM)
    )
}
