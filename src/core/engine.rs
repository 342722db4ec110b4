//! The engine: connection lifecycle, output queues, fan-out, timers and
//! closing. Message handling is in `handlers.rs`, operator queries in
//! `operator.rs`; all three are `impl Engine`.
//!
//! The engine never touches a socket or a clock: the driver passes bytes in
//! ([`Engine::on_input`]), the time in ([`Now`]), and takes bytes out
//! ([`Engine::output`] gathers a connection's queue into `IoSlice`s, plain
//! data; [`Engine::consumed`]) and the list of connections to close
//! ([`Engine::take_closes`]).
//!
//! Output is encoded once: a broadcast is staged into a shared chunk and
//! every member's queue refers to it (`chunks.rs`, `outbuf.rs`).

use std::collections::{BTreeMap, HashMap};
use std::io::IoSlice;
use std::net::{IpAddr, SocketAddr};

use slab::Slab;

use crate::codec::{ErrorCode, Event, FrameDecoder, LeftReason, ServerMessage};
use crate::core::chunks::Span;
use crate::core::config::{ConfigError, CoreConfig};
use crate::core::nicks::NickTable;
use crate::core::observe::{CloseReason, ConnChange, ConnEvent, ConnState, Counters};
use crate::core::outbuf::OutStore;
use crate::core::rooms::{RoomId, RoomTable};
use crate::core::session::{ConnId, Membership, Phase, Session};
use crate::core::timers::{Deadline, TimerKind, Timers};

/// The time as the driver tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// Monotonic milliseconds (any fixed origin).
    pub mono_ms: u64,
    /// Wall-clock Unix time in milliseconds (for `time_ms` and operators).
    pub unix_ms: u64,
}

/// The most distinct output (see [`Engine::produced_bytes`]) that one byte of
/// a client's input can produce for other members: the smallest SAY (14
/// bytes) becomes a MESSAGE of at most 64; JOIN and PART expand less.
/// Replies to a client's own requests (history, MEMBERS) can be larger, but
/// go to that client alone. A driver that reads at most `n /
/// MAX_FANOUT_EXPANSION` bytes cannot make the others' output grow by more
/// than `n`.
pub const MAX_FANOUT_EXPANSION: usize = 5;

/// Where fan-out writes go: the shared output chunks and queues' spares,
/// the dirty list, slow consumers.
#[derive(Debug)]
pub(crate) struct Outbox {
    pub(crate) store: OutStore,
    pub(crate) dirty: Vec<ConnId>,
    pub(crate) slow: Vec<ConnId>,
    pub(crate) limit: usize,
    pub(crate) frames_out: u64,
    /// Bytes of distinct output produced: a broadcast counts once, however
    /// many members it goes to. Over any span of time no member has been
    /// queued more than this grew, apart from the history and member lists
    /// it asked for itself (not counted: a JOIN into a room of thousands
    /// must not end a loop turn's reading by itself).
    pub(crate) produced: u64,
}

impl Outbox {
    /// Queues `bytes` (holding `frames` whole frames) for `s` alone, or
    /// marks it a slow consumer if they would take it over its output limit.
    #[inline]
    pub(crate) fn deliver<T>(&mut self, s: &mut Session<T>, id: ConnId, bytes: &[u8], frames: u64) {
        if s.phase == Phase::Closing || s.doomed {
            return;
        }
        let span = self.store.stage(bytes);
        self.deliver_span(s, id, span, frames);
        self.store.release_unused(span);
    }

    /// Queues a reference to `span` (staged once for every recipient,
    /// holding `frames` whole frames) for `s`, or marks it a slow consumer
    /// if that would take it over its output limit (the bytes referred to).
    #[inline]
    pub(crate) fn deliver_span<T>(
        &mut self,
        s: &mut Session<T>,
        id: ConnId,
        span: Span,
        frames: u64,
    ) {
        if s.phase == Phase::Closing || s.doomed {
            return;
        }
        if s.out.queued() + span.len() > self.limit {
            s.doomed = true;
            self.slow.push(id);
            return;
        }
        s.out.push(span, &mut self.store);
        self.frames_out += frames;
        if !s.dirty {
            s.dirty = true;
            self.dirty.push(id);
        }
    }

    /// Sends `frame` (one frame) to every connection in `members`: staged
    /// once, referred to by each queue.
    #[inline]
    pub(crate) fn broadcast<T>(
        &mut self,
        sessions: &mut Slab<Session<T>>,
        members: &[ConnId],
        frame: &[u8],
    ) {
        self.produced += frame.len() as u64;
        let span = self.store.stage(frame);
        for &m in members {
            self.deliver_span(&mut sessions[m], m, span, 1);
        }
        self.store.release_unused(span);
    }

    /// Queues `bytes` whatever the limit (the last ERROR before a close).
    pub(crate) fn force<T>(&mut self, s: &mut Session<T>, id: ConnId, bytes: &[u8]) {
        self.produced += bytes.len() as u64;
        let span = self.store.stage(bytes);
        s.out.push(span, &mut self.store);
        self.store.release_unused(span);
        self.frames_out += 1;
        if !s.dirty {
            s.dirty = true;
            self.dirty.push(id);
        }
    }
}

/// How much of a connection's queue [`Engine::output`] gathered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gathered {
    /// Slices filled (at most the slice array's length).
    pub slices: usize,
    /// Bytes in those slices.
    pub bytes: usize,
    /// Bytes queued in all (more than `bytes` if the queue had more pieces
    /// than slices).
    pub queued: usize,
}

/// The sans-IO chat engine, generic over the driver's per-connection data `T`.
#[derive(Debug)]
pub struct Engine<T> {
    pub(crate) cfg: CoreConfig,
    pub(crate) sessions: Slab<Session<T>>,
    pub(crate) nicks: NickTable,
    pub(crate) rooms: RoomTable,
    pub(crate) per_ip: HashMap<IpAddr, u32>,
    pub(crate) timers: Timers,
    pub(crate) outbox: Outbox,
    /// Reused buffer for encoding one frame (broadcasts are encoded once here).
    pub(crate) scratch: Vec<u8>,
    pub(crate) closes: Vec<ConnId>,
    pub(crate) next_serial: u64,
    pub(crate) seq: u64,
    pub(crate) counters: Counters,
    /// Connections by state, ordered by serial (operator paging).
    pub(crate) index: [BTreeMap<u64, ConnId>; 3],
    pub(crate) events: Option<Vec<ConnEvent>>,
    pub(crate) started_mono_ms: Option<u64>,
    /// The cluster's live nodes as the relay last reported them (empty
    /// standalone), for the operator view.
    pub(crate) cluster_nodes: Vec<crate::cluster::link::NodeInfo>,
    /// Password checks for the driver's worker pool (see `auth.rs`).
    pub(crate) auth: crate::core::auth::AuthState,
    /// Quiet rooms whose member count changed since their last ROOM
    /// broadcast (each once: see `Room::count_dirty`; stale slots skipped).
    pub(crate) count_dirty: Vec<RoomId>,
    /// When the dirty rooms' counts are next broadcast (the one timer).
    pub(crate) counts_due_ms: Option<u64>,
    /// Reused list of the connections a partial MEMBERS names.
    pub(crate) pick: Vec<ConnId>,
    /// Gateway settings (`core::gateway`).
    pub(crate) gw: crate::core::gateway::GatewayState,
    /// Clients without a socket here (cluster mode; empty standalone).
    pub(crate) remotes: crate::core::replica::RemoteTable,
    /// Cluster mode (`core::cluster`); `None` standalone.
    pub(crate) cluster: Option<Box<crate::core::cluster::ClusterState>>,
}

pub(crate) fn state_slot(phase: Phase) -> usize {
    match phase {
        Phase::Pending => 0,
        Phase::Registered => 1,
        Phase::Closing => 2,
    }
}

pub(crate) fn slot_state(slot: usize) -> ConnState {
    match slot {
        0 => ConnState::Waiting,
        1 => ConnState::Connected,
        _ => ConnState::Closing,
    }
}

impl<T> Engine<T> {
    /// An engine with these settings.
    pub fn new(cfg: CoreConfig) -> Result<Self, ConfigError> {
        cfg.validate()?;
        let limit = cfg.max_outbuf;
        Ok(Engine {
            cfg,
            sessions: Slab::new(),
            nicks: NickTable::default(),
            rooms: RoomTable::default(),
            per_ip: HashMap::new(),
            timers: Timers::default(),
            outbox: Outbox {
                store: OutStore::new(limit),
                dirty: Vec::new(),
                slow: Vec::new(),
                limit,
                frames_out: 0,
                produced: 0,
            },
            scratch: Vec::with_capacity(64 * 1024),
            closes: Vec::new(),
            next_serial: 1,
            seq: 0,
            counters: Counters {
                errors: ErrorCode::counter_table(),
                ..Counters::default()
            },
            index: Default::default(),
            events: None,
            started_mono_ms: None,
            cluster_nodes: Vec::new(),
            auth: Default::default(),
            count_dirty: Vec::new(),
            counts_due_ms: None,
            pick: Vec::new(),
            gw: Default::default(),
            remotes: Default::default(),
            cluster: None,
        })
    }

    /// The engine's settings.
    pub fn config(&self) -> &CoreConfig {
        &self.cfg
    }

    /// Open connections (pending, registered and closing).
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether no connection is open.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// The slots of every open connection.
    pub fn conn_ids(&self) -> Vec<ConnId> {
        self.sessions.iter().map(|(id, _)| id).collect()
    }

    /// The session in slot `id`, if open.
    pub fn session(&self, id: ConnId) -> Option<&Session<T>> {
        self.sessions.get(id)
    }

    /// The driver's data for `id`, if open.
    pub fn io_mut(&mut self, id: ConnId) -> Option<&mut T> {
        self.sessions.get_mut(id).map(|s| &mut s.io)
    }

    /// Whether a new connection from `ip` may be admitted; `Err(ServerFull)` if not.
    pub fn admit(&self, ip: IpAddr) -> Result<(), ErrorCode> {
        if self.sessions.len() >= self.cfg.max_connections {
            return Err(ErrorCode::ServerFull);
        }
        let cap = self.cfg.max_connections_per_ip;
        if cap > 0 && self.per_ip.get(&ip).is_some_and(|&n| n as usize >= cap) {
            return Err(ErrorCode::ServerFull);
        }
        Ok(())
    }

    /// Encodes the ERROR server_full for a refused connection into `out`
    /// and counts the refusal.
    pub fn refuse(&mut self, out: &mut Vec<u8>) {
        self.counters.rejected_full += 1;
        self.counters.errors[ErrorCode::ServerFull as usize] += 1;
        let _ = ServerMessage::Error {
            code: ErrorCode::ServerFull.as_u16(),
            detail: "server is full",
        }
        .encode(out, self.cfg.max_payload);
    }

    /// Registers a newly accepted connection (call [`Engine::admit`] first).
    pub fn accept(&mut self, peer: SocketAddr, io: T, now: Now) -> ConnId {
        self.started_mono_ms.get_or_insert(now.mono_ms);
        let serial = self.next_serial;
        self.next_serial += 1;
        let bucket = self
            .cfg
            .rate
            .map(|r| Box::new(crate::core::rate::TokenBucket::full(r, now.mono_ms)));
        let id = self.sessions.insert(Session {
            io,
            serial,
            peer,
            phase: Phase::Pending,
            dirty: false,
            doomed: false,
            v2: false,
            nick: None,
            rooms: Default::default(),
            decoder: FrameDecoder::new(self.cfg.max_payload),
            out: Default::default(),
            last_frame_ms: now.mono_ms,
            accepted_unix_ms: now.unix_ms,
            connected_unix_ms: 0,
            bucket,
            bytes_in: 0,
            bytes_out: 0,
            auth: None,
            gateway: false,
        });
        if self.cfg.max_connections_per_ip > 0 {
            *self.per_ip.entry(peer.ip()).or_insert(0) += 1;
        }
        self.index[0].insert(serial, id);
        self.counters.accepted += 1;
        self.timers.push(Deadline {
            at_ms: now.mono_ms + self.cfg.handshake_timeout_ms,
            id,
            serial,
            kind: TimerKind::Handshake,
        });
        tracing::info!(target: "stxchat::conn", id = serial, peer = %peer, "accepted (waiting)");
        self.emit(id, ConnChange::Accepted, now);
        id
    }

    /// Feeds bytes received from connection `id`; every complete frame is handled.
    pub fn on_input(&mut self, id: ConnId, bytes: &[u8], now: Now) {
        let Some(s) = self.sessions.get_mut(id) else {
            return;
        };
        if s.phase == Phase::Closing {
            return;
        }
        s.bytes_in += bytes.len() as u64;
        self.counters.bytes_in += bytes.len() as u64;
        if self.hold_input(id, bytes, now) {
            self.settle(now);
            return;
        }
        self.decode_input(id, bytes, now);
    }

    /// Handles every complete frame of `bytes` (already counted as input);
    /// what follows a HELLO whose password is being checked is held.
    pub(crate) fn decode_input(&mut self, id: ConnId, bytes: &[u8], now: Now) {
        if self.cluster.is_some() && self.cluster_waits(id) {
            // A proposal of this connection is in flight (for example the
            // claim of a HELLO whose password was just checked): the rest
            // waits behind it.
            self.hold_cluster_input(id, bytes, now);
            self.settle(now);
            return;
        }
        let s = &mut self.sessions[id];
        let mut decoder = std::mem::replace(&mut s.decoder, FrameDecoder::new(1));
        let mut input = bytes;
        loop {
            let (used, event) = decoder.decode(input);
            input = &input[used..];
            match event {
                None => break,
                Some(Event::Frame(payload)) => self.on_frame(id, payload, now),
                Some(Event::Error(kind)) => {
                    self.counters.frames_in += 1;
                    let detail = match kind {
                        crate::codec::FrameError::Garbage => "bad frame: expected STX",
                        crate::codec::FrameError::Empty => "bad frame: LEN is 0",
                        crate::codec::FrameError::TooLarge => "bad frame: LEN exceeds max_payload",
                        crate::codec::FrameError::MissingEtx => "bad frame: missing ETX",
                        crate::codec::FrameError::BadChecksum => "bad frame: checksum mismatch",
                    };
                    self.fail(id, ErrorCode::BadFrame, detail, now);
                }
            }
            if self.sessions[id].phase == Phase::Closing {
                break;
            }
            if self.sessions[id].auth.is_some() || self.cluster_waits(id) {
                self.hold_input(id, input, now);
                break;
            }
        }
        decoder.release_if_empty();
        self.sessions[id].decoder = decoder;
        self.settle(now);
    }

    /// The peer closed its side or reset the connection: as BYE.
    pub fn on_peer_closed(&mut self, id: ConnId, now: Now) {
        if self
            .sessions
            .get(id)
            .is_some_and(|s| s.phase != Phase::Closing)
        {
            self.close(id, CloseReason::PeerClosed, LeftReason::Quit, now);
            self.settle(now);
        }
    }

    /// The connection's transport gave up on the peer's input (a bad TLS
    /// record, WebSocket frame or IRC line; the transport sends its own
    /// goodbye): counted, and closed as an error (members see LEFT reason
    /// `error`; operators see a peer close).
    pub fn on_transport_error(&mut self, id: ConnId, now: Now) {
        if self
            .sessions
            .get(id)
            .is_some_and(|s| s.phase != Phase::Closing)
        {
            self.counters.transport_errors += 1;
            self.close(id, CloseReason::PeerClosed, LeftReason::Error, now);
            self.settle(now);
        }
    }

    /// Frees the spare output buffers not needed since the last call (the
    /// driver calls it about once a second). Returns the bytes of buffer
    /// capacity freed since the last call, pooled or not.
    pub fn trim_spare_buffers(&mut self) -> usize {
        self.outbox.store.trim()
    }

    /// Whether spare output buffers are held (so trimming has something to do).
    pub fn has_spare_buffers(&self) -> bool {
        self.outbox.store.has_spare()
    }

    /// Handles due handshake and keepalive deadlines.
    pub fn tick(&mut self, now: Now) {
        let keepalive_ms = u64::from(self.cfg.keepalive_secs) * 1500;
        while let Some(d) = self.timers.pop_due(now.mono_ms) {
            let Some(s) = self.sessions.get(d.id) else {
                continue;
            };
            if s.serial != d.serial {
                continue;
            }
            match (d.kind, s.phase) {
                (TimerKind::Handshake, Phase::Pending) => {
                    self.fail(d.id, ErrorCode::Timeout, "handshake timeout", now);
                }
                (TimerKind::AuthStart, Phase::Pending) => self.start_verification(d.id, now),
                // A registered connection's handshake deadline doubles as its
                // first keepalive check, unless registration scheduled one
                // of its own (a keepalive shorter than the handshake timeout).
                (TimerKind::Handshake, Phase::Registered)
                    if keepalive_ms == 0 || keepalive_ms < self.cfg.handshake_timeout_ms => {}
                (TimerKind::Keepalive | TimerKind::Handshake, Phase::Registered)
                    if keepalive_ms > 0 =>
                {
                    let due = s.last_frame_ms + keepalive_ms;
                    if now.mono_ms >= due {
                        self.fail(d.id, ErrorCode::Timeout, "keepalive timeout", now);
                    } else {
                        self.timers.push(Deadline {
                            at_ms: due,
                            kind: TimerKind::Keepalive,
                            ..d
                        });
                    }
                }
                (TimerKind::GatewayPing, _) => self.gw_keepalive(d, now),
                (TimerKind::Proposal, _) => self.proposal_deadline(d, now),
                _ => {}
            }
        }
        if self.cluster.is_some() {
            self.cluster_tick();
        }
        self.broadcast_counts(now);
        self.settle(now);
    }

    /// When [`Engine::tick`] next has work, in monotonic ms.
    pub fn next_deadline(&self) -> Option<u64> {
        match (self.timers.next_at(), self.counts_due_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Moves the connections with new output into `into` (each once).
    pub fn take_dirty(&mut self, into: &mut Vec<ConnId>) {
        for &id in &self.outbox.dirty {
            if let Some(s) = self.sessions.get_mut(id) {
                s.dirty = false;
            }
        }
        into.append(&mut self.outbox.dirty);
    }

    /// Moves the connections the driver must now close into `into`.
    pub fn take_closes(&mut self, into: &mut Vec<ConnId>) {
        into.append(&mut self.closes);
    }

    /// `id`'s driver data and its queued output, oldest first, gathered
    /// into `iov` (as many pieces as fit; they refer to the shared chunks),
    /// for one vectored write.
    #[inline]
    pub fn output<'a>(
        &'a mut self,
        id: ConnId,
        iov: &mut [IoSlice<'a>],
    ) -> Option<(&'a mut T, Gathered)> {
        let Engine {
            sessions, outbox, ..
        } = self;
        let s = sessions.get_mut(id)?;
        let (slices, bytes) = s.out.gather(outbox.store.chunks(), iov);
        let queued = s.out.queued();
        Some((
            &mut s.io,
            Gathered {
                slices,
                bytes,
                queued,
            },
        ))
    }

    /// A copy of everything queued for `id` (tests and checks).
    pub fn queued_copy(&self, id: ConnId) -> Option<Vec<u8>> {
        self.sessions
            .get(id)
            .map(|s| s.out.to_vec(&self.outbox.store))
    }

    /// Records that the socket took `n` bytes of `id`'s output.
    #[inline]
    pub fn consumed(&mut self, id: ConnId, n: usize) {
        if let Some(s) = self.sessions.get_mut(id) {
            s.out.consume(n, &mut self.outbox.store);
            s.bytes_out += n as u64;
            self.counters.bytes_out += n as u64;
        }
    }

    /// Forgets a connection the driver has closed; returns its driver data.
    pub fn remove(&mut self, id: ConnId, now: Now) -> Option<T> {
        if self
            .sessions
            .get(id)
            .is_some_and(|s| s.phase != Phase::Closing)
        {
            self.close(id, CloseReason::PeerClosed, LeftReason::Quit, now);
            self.settle(now);
        }
        let mut s = self.sessions.try_remove(id)?;
        self.gw.forget(id);
        s.out.clear(&mut self.outbox.store);
        self.index[2].remove(&s.serial);
        if self.cfg.max_connections_per_ip > 0
            && let Some(n) = self.per_ip.get_mut(&s.peer.ip())
        {
            *n -= 1;
            if *n == 0 {
                self.per_ip.remove(&s.peer.ip());
            }
        }
        Some(s.io)
    }

    /// Server shutdown: every open connection gets ERROR shutting_down and
    /// is closed; no LEFT is sent to local clients.
    pub fn shutdown(&mut self, now: Now) {
        let ids: Vec<ConnId> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.phase != Phase::Closing)
            .map(|(id, _)| id)
            .collect();
        // Empty every room first so that closing sends no LEFT.
        self.rooms.clear();
        self.count_dirty.clear();
        self.counts_due_ms = None;
        for &id in &ids {
            self.sessions[id].rooms.clear();
        }
        for id in ids {
            self.fail(id, ErrorCode::ShuttingDown, "server shutting down", now);
        }
        self.outbox.slow.clear();
    }

    /// Queues a single frame for `id` (a reply), counting limits.
    pub(crate) fn send_scratch(&mut self, id: ConnId, frames: u64) {
        let Engine {
            sessions,
            outbox,
            scratch,
            ..
        } = self;
        if let Some(s) = sessions.get_mut(id) {
            outbox.produced += scratch.len() as u64;
            outbox.deliver(s, id, scratch, frames);
        }
    }

    /// Sends `frame` to every member of `room` (the fan-out). A relay feeding
    /// messages from other servers uses this same path.
    pub fn fanout(&mut self, room: RoomId, frame: &[u8]) {
        let Engine {
            sessions,
            rooms,
            outbox,
            ..
        } = self;
        outbox.broadcast(sessions, &rooms.get(room).members, frame);
    }

    /// Fan-out of the frame in the scratch buffer.
    pub(crate) fn fanout_scratch(&mut self, room: RoomId) {
        let Engine {
            sessions,
            rooms,
            outbox,
            scratch,
            ..
        } = self;
        outbox.broadcast(sessions, &rooms.get(room).members, scratch);
    }

    /// Sends ERROR `code` to `id`; closes the connection if the code says so.
    pub(crate) fn error(&mut self, id: ConnId, code: ErrorCode, detail: &str, now: Now) {
        let registered = self.sessions[id].phase == Phase::Registered;
        if code.closes(registered) {
            self.fail(id, code, detail, now);
            return;
        }
        self.encode_error(code, detail);
        self.send_scratch(id, 1);
    }

    /// Counts ERROR `code` and encodes it into the scratch buffer.
    fn encode_error(&mut self, code: ErrorCode, detail: &str) {
        self.counters.errors[code as usize] += 1;
        self.scratch.clear();
        let _ = ServerMessage::Error {
            code: code.as_u16(),
            detail,
        }
        .encode(&mut self.scratch, self.cfg.max_payload);
    }

    /// Sends ERROR `code` as the last frame and closes the connection.
    pub(crate) fn fail(&mut self, id: ConnId, code: ErrorCode, detail: &str, now: Now) {
        if self
            .sessions
            .get(id)
            .is_none_or(|s| s.phase == Phase::Closing)
        {
            return;
        }
        self.encode_error(code, detail);
        let s = &mut self.sessions[id];
        // The closing ERROR goes out even past the output limit: whole
        // frames were queued so far, so one more whole frame can follow.
        self.outbox.force(s, id, &self.scratch);
        let left = match code {
            ErrorCode::Timeout => LeftReason::TimedOut,
            ErrorCode::SlowConsumer => LeftReason::SlowConsumer,
            ErrorCode::Kicked => LeftReason::Kicked,
            _ => LeftReason::Error,
        };
        self.close(id, CloseReason::Error(code.as_u16()), left, now);
    }

    /// Ends the chat side of a connection: leaves its rooms (LEFT `left` to
    /// the remaining members), frees its nick, and hands it to the driver.
    pub(crate) fn close(&mut self, id: ConnId, reason: CloseReason, left: LeftReason, now: Now) {
        let s = &mut self.sessions[id];
        if s.phase == Phase::Closing {
            return;
        }
        let was = s.phase;
        s.phase = Phase::Closing;
        let serial = s.serial;
        self.index[state_slot(was)].remove(&serial);
        self.index[2].insert(serial, id);
        if self.cluster.is_some() {
            self.forget_wait(id);
        }
        if was == Phase::Registered && self.cluster.as_ref().is_some_and(|c| !c.departing) {
            self.detach(id, left);
        } else if was == Phase::Registered {
            let memberships = std::mem::take(&mut self.sessions[id].rooms);
            for m in memberships {
                let quiet = self.rooms.get(m.room()).quiet;
                self.drop_member(id, m);
                if self.rooms.delete_if_empty(m.room()) {
                    continue;
                }
                if quiet {
                    // Section 5.2: no LEFT for any departure from a quiet room.
                    self.quiet_departure(m.room(), now);
                } else {
                    self.encode_left(id, m.room(), left);
                    self.fanout_scratch(m.room());
                }
            }
            if let Some(nick) = self.sessions[id].nick.as_deref() {
                self.nicks.remove(nick, id);
            }
        }
        let s = &self.sessions[id];
        tracing::info!(
            target: "stxchat::conn",
            id = serial,
            peer = %s.peer,
            nick = s.nick.as_deref().unwrap_or(""),
            reason = %reason,
            "closed"
        );
        self.closes.push(id);
        self.emit(id, ConnChange::Closed(reason), now);
    }

    /// Removes `id` from a room's member list, fixing the position of the
    /// member that moved into its place.
    pub(crate) fn drop_member(&mut self, id: ConnId, m: Membership) {
        let _ = id;
        if let Some(moved) = self.rooms.remove_member(m.room(), m.pos as usize) {
            for mm in &mut self.sessions[moved].rooms {
                if mm.room == m.room {
                    mm.pos = m.pos;
                }
            }
        }
    }

    /// Encodes LEFT(room, nick of `id`, reason) into the scratch buffer.
    pub(crate) fn encode_left(&mut self, id: ConnId, room: RoomId, reason: LeftReason) {
        self.scratch.clear();
        let _ = ServerMessage::Left {
            room: &self.rooms.get(room).name,
            nick: self.sessions[id].nick.as_deref().unwrap_or(""),
            reason: reason.as_u8(),
        }
        .encode(&mut self.scratch, self.cfg.max_payload);
    }

    /// Closes the connections that went over their output limit (which may
    /// make more of them, through the LEFTs that closing sends).
    pub(crate) fn settle(&mut self, now: Now) {
        while let Some(id) = self.outbox.slow.pop() {
            if self
                .sessions
                .get(id)
                .is_some_and(|s| s.phase != Phase::Closing)
            {
                self.counters.slow_consumers += 1;
                tracing::warn!(target: "stxchat::conn", id = self.sessions[id].serial, "slow consumer dropped");
                self.fail(id, ErrorCode::SlowConsumer, "output limit exceeded", now);
            }
        }
    }

    /// Records a state change for operators (if anyone is watching).
    pub(crate) fn emit(&mut self, id: ConnId, change: ConnChange, now: Now) {
        if let Some(events) = &mut self.events {
            let s = &self.sessions[id];
            events.push(ConnEvent {
                id: s.serial,
                peer: s.peer,
                nick: s.nick.as_deref().map(str::to_owned),
                change,
                time_ms: now.unix_ms,
            });
        }
    }

    /// Frames sent so far (one per recipient).
    pub fn frames_out(&self) -> u64 {
        self.outbox.frames_out
    }

    /// Bytes of distinct output produced so far, a broadcast counted once:
    /// over any span, no connection has been queued more than this grew,
    /// apart from the history and MEMBERS replies to its own requests. The
    /// driver bounds a loop turn's fan-out with it.
    pub fn produced_bytes(&self) -> u64 {
        self.outbox.produced
    }
}
