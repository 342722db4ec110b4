//! The engine's cluster mode: handlers propose records instead of acting,
//! and every node applies the cluster's order of records (`on_record`) to
//! the same replica, each writing frames only to its own sessions.
//!
//! This module holds the state of proposals and the calls the relay glue
//! makes (names fixed by the cluster design: `enable_cluster`,
//! `take_proposals`, `on_record`, `on_acked`, `on_refused`, `on_link`,
//! `on_peer_dead`, `start_fresh`, `cluster_ready`, `cluster_stop`,
//! `applied_seq`, `cluster_fingerprint`; `snapshot` and `install` are in
//! `snapshot.rs`). What applying each record does is in `apply.rs`.
//!
//! Order per connection (PROTOCOL.md 4.1.6): a session with a proposal in
//! flight has its later input held (as for a password check, see
//! `auth.rs`) until its record is applied, or until the proposal is
//! refused: refused by the relay, or not acked within [`PROPOSAL_WAIT_MS`]
//! (ERROR unavailable; closing for HELLO only). An acked proposal waits for
//! its record. Departures (Quit, NodeLeft) have no session to answer: a
//! refused one is proposed again when the link is up.

use std::collections::HashMap;

use crate::cluster::envelope::{self, CLAIM_JOINS_DEFAULT, ERROR_KINDS, Envelope, Record};
use crate::cluster::link::NodeId;
use crate::cluster::settings::{Settings, password_text};
use crate::codec::{ErrorCode, LeftReason};
use crate::core::config::CoreConfig;
use crate::core::engine::{Engine, Now};
use crate::core::session::{ConnId, Phase};
use crate::core::timers::{Deadline, TimerKind};

/// How long a proposal may wait for its ack before its request is answered
/// ERROR unavailable, ms (CLUSTER.md 1.7).
pub const PROPOSAL_WAIT_MS: u64 = 2_000;

/// Input held for one connection while its proposal is in flight (the
/// driver stops reading it, so more than a read means a driver bug).
const MAX_HELD: usize = 256 * 1024;

/// What the cluster side has counted (operator view, metrics, tests).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterStats {
    /// Records applied.
    pub applied: u64,
    /// Records that did not decode, per [`envelope::EnvelopeError::index`].
    pub bad_records: [u64; ERROR_KINDS],
    /// Records ignored as replays (origin and counter already applied).
    pub replayed: u64,
    /// Records that decoded but say something impossible (an invalid nick,
    /// an unknown client, a text too long): ignored the same way everywhere.
    pub invalid: u64,
    /// Requests answered ERROR unavailable.
    pub unavailable: u64,
    /// Snapshots installed on a running node.
    pub resyncs: u64,
    /// Rooms where a resync could not tell that every missed MESSAGE was
    /// recovered (the history did not reach back far enough).
    pub unrecovered: u64,
    /// MESSAGEs delivered from history by a resync.
    pub recovered: u64,
}

/// Which of an origin's record counters were applied: the highest, and a
/// bit for each of the [`REPLAY_WINDOW`] below it. A counter above the
/// highest is new; one in the window is new once; one below it is a replay.
/// (So records of one node that reach the order slightly out of their
/// counters' order are still applied, each once.)
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ReplayWindow {
    pub(crate) high: u64,
    /// Bit i: counter `high - i` was applied.
    pub(crate) seen: u64,
}

/// How many counters below an origin's highest are told apart.
pub(crate) const REPLAY_WINDOW: u64 = 64;

impl ReplayWindow {
    /// Records `counter`; false if it was applied already (a replay) or is
    /// too old to tell.
    pub(crate) fn accept(&mut self, counter: u64) -> bool {
        if counter == 0 {
            // Counters start at 1.
            return false;
        }
        if counter > self.high {
            let shift = counter - self.high;
            self.seen = if shift >= REPLAY_WINDOW {
                0
            } else {
                self.seen << shift
            };
            self.seen |= 1;
            self.high = counter;
            return true;
        }
        let d = self.high - counter;
        if d >= REPLAY_WINDOW || self.seen & (1 << d) != 0 {
            return false;
        }
        self.seen |= 1 << d;
        true
    }
}

/// A departure that must reach the order even if a publish fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Must {
    Quit { serial: u64, reason: u8 },
    NodeLeft { node: NodeId, reason: u8 },
}

/// One proposal not yet applied.
#[derive(Debug)]
struct Inflight {
    /// The session waiting for it (slot, serial).
    conn: Option<(ConnId, u64)>,
    /// The relay stored it in the order.
    acked: bool,
    /// A departure, proposed again if refused.
    must: Option<Must>,
}

/// A session's held input while its proposal is in flight.
#[derive(Debug)]
pub(crate) struct Wait {
    token: u64,
    serial: u64,
    since_ms: u64,
    held: Vec<u8>,
}

/// The engine's cluster state (boxed in the engine; `None` standalone).
#[derive(Debug)]
pub(crate) struct ClusterState {
    pub(crate) me: NodeId,
    pub(crate) name: Box<str>,
    counter: u64,
    out: Vec<(u64, Vec<u8>)>,
    inflight: HashMap<u64, Inflight>,
    pub(crate) waits: HashMap<ConnId, Wait>,
    retry: Vec<Must>,
    link_up: bool,
    pub(crate) ready: bool,
    /// `cluster_stop` ran: closes propose no Quit (the NodeLeft covers them).
    pub(crate) stopping: bool,
    /// A departure of local sessions is being applied: closing them removes
    /// them from the replica at once (as standalone) instead of proposing.
    pub(crate) departing: bool,
    pub(crate) applied: u64,
    /// The record counters applied per origin (replay detection).
    pub(crate) last_counter: HashMap<NodeId, ReplayWindow>,
    pub(crate) stats: ClusterStats,
    /// Which kinds of bad record were logged already (each once).
    logged: u16,
    buf: Vec<u8>,
}

impl ClusterState {
    fn new(me: NodeId, name: &str) -> Self {
        ClusterState {
            me,
            name: name.into(),
            counter: 0,
            out: Vec::new(),
            inflight: HashMap::new(),
            waits: HashMap::new(),
            retry: Vec::new(),
            link_up: true,
            ready: false,
            stopping: false,
            departing: false,
            applied: 0,
            last_counter: HashMap::new(),
            stats: ClusterStats::default(),
            logged: 0,
            buf: Vec::new(),
        }
    }

    /// Whether no proposal waits to be taken.
    #[cfg(test)]
    pub(crate) fn out_is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// Logs the first bad record of each kind (`bit` < 16).
    fn log_once(&mut self, bit: u32, what: &str, seq: u64) {
        if self.logged & (1 << bit) == 0 {
            self.logged |= 1 << bit;
            tracing::warn!(target: "stxchat::cluster", seq, what, "record ignored (logged once per kind)");
        }
    }
}

impl<T> Engine<T> {
    /// Turns cluster mode on (before any connection): this node is `node`,
    /// named `name`. Clients are accepted once [`Engine::cluster_ready`].
    pub fn enable_cluster(&mut self, node: NodeId, name: &str) {
        self.cluster = Some(Box::new(ClusterState::new(node, name)));
    }

    /// This node's id and `--node` name, in cluster mode.
    pub fn cluster_node(&self) -> Option<(NodeId, &str)> {
        self.cluster.as_ref().map(|c| (c.me, &*c.name))
    }

    /// Clients the replica holds without a socket here (those of the
    /// other nodes, and this node's own until their departure is applied).
    pub fn remote_clients(&self) -> usize {
        self.remotes.len()
    }

    /// Whether cluster mode is on.
    pub fn is_clustered(&self) -> bool {
        self.cluster.is_some()
    }

    /// Moves the records to publish into `into`, as (token, record).
    pub fn take_proposals(&mut self, into: &mut Vec<(u64, Vec<u8>)>) {
        if let Some(c) = self.cluster.as_mut() {
            into.append(&mut c.out);
        }
    }

    /// Whether the replica is in place (after `start_fresh` or `install`).
    pub fn cluster_ready(&self) -> bool {
        self.cluster.as_ref().is_some_and(|c| c.ready)
    }

    /// The last sequence applied to the replica (0 standalone).
    pub fn applied_seq(&self) -> u64 {
        self.cluster.as_ref().map_or(0, |c| c.applied)
    }

    /// What the cluster side counted (`None` standalone).
    pub fn cluster_stats(&self) -> Option<&ClusterStats> {
        self.cluster.as_ref().map(|c| &c.stats)
    }

    /// Starts from an empty replica; records above `seq` follow.
    pub fn start_fresh(&mut self, seq: u64) {
        if let Some(c) = self.cluster.as_mut() {
            c.applied = seq;
            c.ready = true;
        }
    }

    /// The relay stored proposal `token` in the order as `seq`: its
    /// request waits for its record, however long.
    pub fn on_acked(&mut self, token: u64, seq: u64) {
        let _ = seq;
        if let Some(f) = self
            .cluster
            .as_mut()
            .and_then(|c| c.inflight.get_mut(&token))
        {
            f.acked = true;
        }
    }

    /// Proposal `token` could not be published: its request is answered
    /// ERROR unavailable now (a departure is proposed again later).
    pub fn on_refused(&mut self, token: u64, now: Now) {
        let Some(c) = self.cluster.as_mut() else {
            return;
        };
        let Some(f) = c.inflight.remove(&token) else {
            return;
        };
        if let Some(m) = f.must {
            c.retry.push(m);
        }
        if let Some((id, serial)) = f.conn
            && c.waits
                .get(&id)
                .is_some_and(|w| w.token == token && w.serial == serial)
        {
            self.refuse_wait(id, now);
        }
        self.settle(now);
    }

    /// The relay lost (`false`) or regained (`true`) NATS. Departures
    /// refused meanwhile are proposed again when it is back.
    pub fn on_link(&mut self, up: bool, now: Now) {
        let _ = now;
        if let Some(c) = self.cluster.as_mut() {
            c.link_up = up;
        }
        if up {
            self.propose_retries();
        }
    }

    /// `node` missed its heartbeats: propose its departure (LEFT reason 2
    /// for its clients everywhere; every survivor proposes it, and applying
    /// it twice is harmless).
    pub fn on_peer_dead(&mut self, node: NodeId, now: Now) {
        let _ = now;
        if self.cluster.as_ref().is_some_and(|c| c.me != node) {
            self.propose_must(Must::NodeLeft {
                node,
                reason: LeftReason::TimedOut.as_u8(),
            });
        }
    }

    /// Clean stop: every local client gets ERROR shutting_down (no LEFT
    /// here), and this node proposes its own departure (LEFT reason 5 for
    /// its clients on the other nodes).
    pub fn cluster_stop(&mut self, now: Now) {
        let Some(c) = self.cluster.as_mut() else {
            self.shutdown(now);
            return;
        };
        c.stopping = true;
        let me = c.me;
        let ids: Vec<ConnId> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.phase != Phase::Closing)
            .map(|(id, _)| id)
            .collect();
        for id in ids {
            self.fail(id, ErrorCode::ShuttingDown, "server shutting down", now);
        }
        self.outbox.slow.clear();
        self.propose_must(Must::NodeLeft {
            node: me,
            reason: LeftReason::ServerShutdown.as_u8(),
        });
    }

    /// Every setting that must be the same on every node of a cluster, by
    /// its flag name, with its value as text (the password as a short
    /// hash only): what a refusal to join names.
    pub fn cluster_settings(cfg: &CoreConfig) -> Settings {
        let mut s = Settings::new();
        s.push("max-payload", cfg.max_payload.to_string());
        s.push("history", cfg.history.to_string());
        s.push("presence-limit", cfg.presence_limit.to_string());
        s.push("max-rooms-per-client", cfg.max_rooms_per_client.to_string());
        s.push("default-room", cfg.default_room.as_deref().unwrap_or(""));
        s.push("password", password_text(cfg.password.as_deref()));
        s.push("registered-only", cfg.registered_only.to_string());
        s.push("keepalive", cfg.keepalive_secs.to_string());
        s
    }

    /// Puts back into `new` the value `running` has for every setting of
    /// [`Engine::cluster_settings`], so that a reload on one node cannot
    /// change one of them (which would silently break the contract that
    /// every node has the same). Returns the names of those that differed.
    pub fn keep_cluster_settings(new: &mut CoreConfig, running: &CoreConfig) -> Vec<String> {
        let changed: Vec<String> = Self::cluster_settings(running)
            .differences(&Self::cluster_settings(new))
            .into_iter()
            .map(|d| d.name)
            .collect();
        new.max_payload = running.max_payload;
        new.history = running.history;
        new.presence_limit = running.presence_limit;
        new.max_rooms_per_client = running.max_rooms_per_client;
        new.default_room.clone_from(&running.default_room);
        new.password.clone_from(&running.password);
        new.registered_only = running.registered_only;
        new.keepalive_secs = running.keepalive_secs;
        changed
    }

    /// A digest of [`Engine::cluster_settings`] (a node whose digest
    /// differs must not join).
    pub fn cluster_fingerprint(cfg: &CoreConfig) -> u64 {
        Self::cluster_settings(cfg).fingerprint()
    }

    /// The next record of the cluster's order: decoded, checked against
    /// replays, and applied. Bad records are counted (each kind logged
    /// once) and ignored; so is a sequence already applied.
    pub fn on_record(&mut self, seq: u64, bytes: &[u8], now: Now) {
        let Some(c) = self.cluster.as_mut() else {
            return;
        };
        if seq <= c.applied {
            return;
        }
        c.applied = seq;
        let env = match envelope::decode(bytes) {
            Ok(env) => env,
            Err(e) => {
                c.stats.bad_records[e.index()] += 1;
                c.log_once(e.index() as u32, e.name(), seq);
                return;
            }
        };
        if !c
            .last_counter
            .entry(env.origin)
            .or_default()
            .accept(env.counter)
        {
            c.stats.replayed += 1;
            c.log_once(ERROR_KINDS as u32, "replayed", seq);
            return;
        }
        c.stats.applied += 1;
        let mine = env.origin == c.me;
        self.apply(seq, &env, now);
        if mine {
            self.applied_own(env.counter, now);
        }
        self.settle(now);
    }

    /// Counts a record that says something impossible (logged once).
    pub(crate) fn invalid_record(&mut self, seq: u64, what: &str) {
        if let Some(c) = self.cluster.as_mut() {
            c.stats.invalid += 1;
            c.log_once(ERROR_KINDS as u32 + 1, what, seq);
        }
    }

    /// This node's record `token` was applied: its session reads again.
    fn applied_own(&mut self, token: u64, now: Now) {
        let Some(c) = self.cluster.as_mut() else {
            return;
        };
        let Some(f) = c.inflight.remove(&token) else {
            return;
        };
        if let Some((id, serial)) = f.conn
            && c.waits
                .get(&id)
                .is_some_and(|w| w.token == token && w.serial == serial)
        {
            self.release_wait(id, now);
        }
    }

    /// Encodes `record` as this node's next proposal; returns its token.
    fn propose(
        &mut self,
        record: Record<'_>,
        conn: Option<(ConnId, u64)>,
        must: Option<Must>,
    ) -> u64 {
        let Some(c) = self.cluster.as_mut() else {
            return 0;
        };
        c.counter += 1;
        let token = c.counter;
        let env = Envelope {
            origin: c.me,
            counter: token,
            record,
        };
        c.buf.clear();
        if env.encode(&mut c.buf).is_err() {
            // Names and texts were checked against the protocol's limits.
            tracing::error!(target: "stxchat::cluster", "a proposal did not encode");
            return token;
        }
        c.out.push((token, c.buf.clone()));
        c.inflight.insert(
            token,
            Inflight {
                conn,
                acked: false,
                must,
            },
        );
        token
    }

    /// Proposes a departure that must reach the order.
    fn propose_must(&mut self, m: Must) {
        let record = match m {
            Must::Quit { serial, reason } => Record::Quit { serial, reason },
            Must::NodeLeft { node, reason } => Record::NodeLeft { node, reason },
        };
        self.propose(record, None, Some(m));
    }

    /// Proposes the departures that were refused.
    fn propose_retries(&mut self) {
        let retry = self
            .cluster
            .as_mut()
            .map(|c| std::mem::take(&mut c.retry))
            .unwrap_or_default();
        for m in retry {
            self.propose_must(m);
        }
    }

    /// Proposes the departure of this node's client `serial` (its
    /// connection closed; its rooms see LEFT `reason` when it is applied).
    pub(crate) fn propose_quit(&mut self, serial: u64, reason: LeftReason) {
        if self.cluster.as_ref().is_some_and(|c| !c.stopping) {
            self.propose_must(Must::Quit {
                serial,
                reason: reason.as_u8(),
            });
        }
    }

    /// Proposes a request of session `id` and holds its later input.
    fn propose_for(&mut self, id: ConnId, record: Record<'_>, now: Now) {
        let serial = self.sessions[id].serial;
        let token = self.propose(record, Some((id, serial)), None);
        if let Some(c) = self.cluster.as_mut() {
            c.waits.insert(
                id,
                Wait {
                    token,
                    serial,
                    since_ms: now.mono_ms,
                    held: Vec::new(),
                },
            );
        }
        self.timers.push(Deadline {
            at_ms: now.mono_ms + PROPOSAL_WAIT_MS,
            id,
            serial,
            kind: TimerKind::Proposal,
        });
    }

    /// HELLO passed its local checks: claim the nick in the order.
    pub(crate) fn propose_claim(
        &mut self,
        id: ConnId,
        version: u8,
        nick: &str,
        joins: bool,
        now: Now,
    ) {
        let serial = self.sessions[id].serial;
        let flags = if joins { CLAIM_JOINS_DEFAULT } else { 0 };
        let record = Record::Claim {
            serial,
            version,
            flags,
            nick,
        };
        self.propose_for(id, record, now);
    }

    /// JOIN (`join`) or PART of `room` passed its local checks.
    pub(crate) fn propose_room(&mut self, id: ConnId, join: bool, room: &str, now: Now) {
        let serial = self.sessions[id].serial;
        let record = if join {
            Record::Join { serial, room }
        } else {
            Record::Part { serial, room }
        };
        self.propose_for(id, record, now);
    }

    /// SAY to `target` (a room) or WHISPER (`whisper`, to a nick) passed
    /// its local checks; `time_ms` is this node's clock.
    pub(crate) fn propose_chat(
        &mut self,
        id: ConnId,
        whisper: bool,
        target: &str,
        text: &str,
        now: Now,
    ) {
        let serial = self.sessions[id].serial;
        let time_ms = now.unix_ms;
        let record = if whisper {
            Record::Whisper {
                serial,
                time_ms,
                to: target,
                text,
            }
        } else {
            Record::Say {
                serial,
                time_ms,
                room: target,
                text,
            }
        };
        self.propose_for(id, record, now);
    }

    /// Whether `id` waits for a proposal (its input is held).
    #[inline]
    pub(crate) fn cluster_waits(&self, id: ConnId) -> bool {
        self.cluster
            .as_ref()
            .is_some_and(|c| c.waits.contains_key(&id))
    }

    /// Keeps `bytes` of `id`'s input until its proposal is settled; false
    /// if it has none in flight.
    pub(crate) fn hold_cluster_input(&mut self, id: ConnId, bytes: &[u8], now: Now) -> bool {
        let Some(w) = self.cluster.as_mut().and_then(|c| c.waits.get_mut(&id)) else {
            return false;
        };
        if w.held.len() + bytes.len() > MAX_HELD {
            self.fail(
                id,
                ErrorCode::BadFrame,
                "too much input while a request is in flight",
                now,
            );
            return true;
        }
        w.held.extend_from_slice(bytes);
        true
    }

    /// The proposal deadline of `d.id` came: unless acked (or settled), its
    /// request is answered ERROR unavailable.
    pub(crate) fn proposal_deadline(&mut self, d: Deadline, now: Now) {
        let Some(c) = self.cluster.as_mut() else {
            return;
        };
        let Some(w) = c.waits.get(&d.id) else {
            return;
        };
        if w.serial != d.serial || now.mono_ms < w.since_ms + PROPOSAL_WAIT_MS {
            return;
        }
        let token = w.token;
        if c.inflight.get(&token).is_some_and(|f| f.acked) {
            return;
        }
        c.inflight.remove(&token);
        self.refuse_wait(d.id, now);
    }

    /// Answers `id`'s proposal ERROR unavailable and handles its held input.
    fn refuse_wait(&mut self, id: ConnId, now: Now) {
        if let Some(c) = self.cluster.as_mut() {
            c.stats.unavailable += 1;
        }
        let Some(w) = self.cluster.as_mut().and_then(|c| c.waits.remove(&id)) else {
            return;
        };
        self.error(
            id,
            ErrorCode::Unavailable,
            "the cluster cannot be reached; the request had no effect",
            now,
        );
        self.resume(id, w, now);
    }

    /// `id`'s proposal was applied: its held input is handled now.
    fn release_wait(&mut self, id: ConnId, now: Now) {
        if let Some(w) = self.cluster.as_mut().and_then(|c| c.waits.remove(&id)) {
            self.resume(id, w, now);
        }
    }

    /// Handles the input held during `w` and tells the driver to read on.
    fn resume(&mut self, id: ConnId, w: Wait, now: Now) {
        if self
            .sessions
            .get(id)
            .is_some_and(|s| s.phase != Phase::Closing)
            && !w.held.is_empty()
        {
            self.decode_input(id, &w.held, now);
        }
        self.auth_resumed(id);
    }

    /// Forgets the wait of a connection that closed (its proposal, if it
    /// is applied later, finds no session: see `apply.rs`).
    pub(crate) fn forget_wait(&mut self, id: ConnId) {
        let mut resumed = false;
        if let Some(c) = self.cluster.as_mut() {
            resumed = c.waits.remove(&id).is_some();
        }
        if resumed {
            self.auth_resumed(id);
        }
    }

    /// Drops every wait (a snapshot replaced the replica): each session's
    /// held input is handled now.
    pub(crate) fn release_all_waits(&mut self, now: Now) {
        let waits: Vec<(ConnId, Wait)> = self
            .cluster
            .as_mut()
            .map(|c| {
                c.inflight.retain(|_, f| f.must.is_some());
                c.waits.drain().collect()
            })
            .unwrap_or_default();
        for (id, w) in waits {
            if self.sessions.get(id).is_some_and(|s| s.serial == w.serial) {
                self.resume(id, w, now);
            }
        }
    }

    /// Proposes departures refused while the link was down (from `tick`).
    pub(crate) fn cluster_tick(&mut self) {
        if self
            .cluster
            .as_ref()
            .is_some_and(|c| c.link_up && !c.retry.is_empty())
        {
            self.propose_retries();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_replay_window_applies_each_counter_once_even_out_of_order() {
        let mut w = ReplayWindow::default();
        assert!(w.accept(1));
        assert!(!w.accept(1));
        assert!(w.accept(3));
        assert!(w.accept(2), "a little out of order is still new");
        assert!(!w.accept(2));
        assert!(!w.accept(0));
        assert!(w.accept(100));
        assert!(!w.accept(3), "far below the highest: too old to tell");
        assert!(w.accept(100 - REPLAY_WINDOW + 1));
        assert!(!w.accept(100 - REPLAY_WINDOW));
        assert!(w.accept(u64::MAX));
        assert!(!w.accept(u64::MAX));
    }
}
