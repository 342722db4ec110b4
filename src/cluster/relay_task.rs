//! The relay thread's work (async, on a current-thread tokio runtime): the
//! NATS connection, the JetStream log, heartbeats, snapshots.
//!
//! - The log is the stream `STXCHAT` (file storage, subjects
//!   `stxchat.log.>`, one message kept per subject, ten minutes at most),
//!   republished to `stxchat.feed.>`. A node publishes its records to
//!   `stxchat.log.<node id, 16 hex>.<k>`, `k` counting modulo 1024, so the
//!   stream keeps each node's last 1,024 records for gap filling.
//! - Every node reads the feed (core NATS) and puts it in stream order with
//!   an [`OrderBuffer`]; gaps that stay open are filled by getting the
//!   missing sequences from the stream; a sequence no longer stored is
//!   counted and followed by a resynchronisation from a peer's snapshot.
//! - Heartbeats (`stxchat.hb`, every second) feed the [`Liveness`] table;
//!   snapshot requests go to `stxchat.snap.<node id, 16 hex>` and are
//!   answered in chunks ([`super::chunks`]) on the requester's inbox.
//!
//! Start: connect (a bounded number of attempts), create or check the
//! stream, subscribe, listen to heartbeats for `listen_ms`; then refuse
//! (a live node has other settings), take a ready node's snapshot, wait for
//! a lower-id node starting at the same time, or start fresh after the
//! stream's last sequence.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream};
use async_nats::{Client, Event, Message};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::chunks::{self, Reassembly};
use super::link::{FromRelay, NodeId, ToRelay};
use super::liveness::{DEAD_AFTER_MS, HEARTBEAT_EVERY_MS, Heartbeat, Liveness, Seen};
use super::order::OrderBuffer;
use super::relay::{IgnoredKind, Outbox, RelayConfig, RelayStats};
use super::relay_connect::{
    HEARTBEAT_SUBJECT, LOG_PREFIX, SETTINGS_PREFIX, SNAPSHOT_PREFIX, STREAM, Subs, connect,
    open_stream,
};
use super::settings::{self, Settings};

/// Subjects per node in the log (its last records kept for gap filling).
pub const RECORD_SLOTS: u64 = 1024;

/// Records held by the order buffer at most (and their bytes).
const MAX_HELD: usize = 200_000;
const MAX_HELD_BYTES: usize = 256 << 20;
/// How long a snapshot answer may take, ms.
const SNAPSHOT_WAIT_MS: u64 = 10_000;
/// Snapshot requests before the start is given up.
const SNAPSHOT_TRIES: u32 = 3;
/// How long a node waits for a lower-id node starting with it, ms.
const START_WAIT_MS: u64 = 10_000;
/// How often the stream's last sequence is checked, ms.
const TAIL_EVERY_MS: u64 = 1_000;
/// How often the gap and loss counters are logged (when they changed), ms.
const REPORT_EVERY_MS: u64 = 10_000;
/// JetStream requests and publish acks time out after this.
const JS_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a refusing node waits for the other node's settings list.
const SETTINGS_WAIT: Duration = Duration::from_secs(2);

/// Runs the relay until [`ToRelay::Stop`] (or the loop is gone); a start
/// that cannot succeed ends in [`FromRelay::Fatal`].
pub(crate) async fn run(
    cfg: RelayConfig,
    rx: mpsc::Receiver<ToRelay>,
    out: Outbox,
    stats: Arc<RelayStats>,
) {
    let (ev_tx, ev_rx) = mpsc::unbounded_channel();
    let client = match connect(&cfg, ev_tx).await {
        Ok(c) => c,
        Err(msg) => {
            out.send(FromRelay::Fatal(msg)).await;
            return;
        }
    };
    let js = jetstream::ContextBuilder::new()
        .timeout(JS_TIMEOUT)
        .build(client.clone());
    let stream = match open_stream(&js).await {
        Ok(s) => s,
        Err(msg) => {
            out.send(FromRelay::Fatal(msg)).await;
            return;
        }
    };
    let subs = match Subs::open(&client, cfg.node).await {
        Ok(s) => s,
        Err(e) => {
            let msg = format!("cannot subscribe to the cluster's subjects: {e}");
            out.send(FromRelay::Fatal(msg)).await;
            return;
        }
    };
    stats.link_up.store(true, Ordering::Relaxed);
    if !out.send(FromRelay::Link(true)).await {
        return;
    }
    let now_ms = 0;
    let mut task = Task {
        phase: Phase::Listening {
            until: cfg.listen_ms,
        },
        cfg,
        out,
        stats,
        client,
        js,
        stream,
        order: OrderBuffer::new(MAX_HELD, MAX_HELD_BYTES),
        live: Liveness::new(),
        link_up: true,
        counter: 0,
        connected: 0,
        applied: 0,
        ready: false,
        started: Instant::now(),
        reassembly: Reassembly::new(),
        inbox: subs.inbox_subject.clone(),
        warned: HashSet::new(),
        next_hb: now_ms,
        next_tail: now_ms,
        peers_dirty: false,
        start_deadline: 0,
        next_report: REPORT_EVERY_MS,
        reported: [0; 4],
    };
    if let Err(msg) = task.serve(subs, rx, ev_rx).await {
        task.out.send(FromRelay::Fatal(msg)).await;
    }
}

/// Where the start stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Listening to heartbeats until `until` (ms since start).
    Listening { until: u64 },
    /// A node with a lower id is starting too: wait for it to be ready.
    Waiting,
    /// A snapshot was asked of `from`.
    Snapshot {
        from: NodeId,
        until: u64,
        tries: u32,
    },
    /// Serving: records flow to the loop.
    Running,
    /// Serving, but `missing` was lost: a snapshot was asked of `from`.
    Resync {
        from: NodeId,
        until: u64,
        missing: u64,
    },
}

struct Task {
    cfg: RelayConfig,
    out: Outbox,
    stats: Arc<RelayStats>,
    client: Client,
    js: jetstream::Context,
    stream: stream::Stream,
    order: OrderBuffer,
    live: Liveness,
    link_up: bool,
    /// Records published by this node (the `k` of the subject counts it).
    counter: u64,
    connected: u32,
    applied: u64,
    ready: bool,
    phase: Phase,
    started: Instant,
    reassembly: Reassembly,
    inbox: String,
    /// Kinds of bad input already logged (each is logged once).
    warned: HashSet<&'static str>,
    next_hb: u64,
    next_tail: u64,
    peers_dirty: bool,
    /// When waiting for a lower-id starting node gives up.
    start_deadline: u64,
    /// When the counters are next logged, and what they were then.
    next_report: u64,
    reported: [u64; 4],
}

impl Task {
    fn now(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Logs a kind of bad input the first time it is seen, counts every one.
    fn ignored(&mut self, kind: IgnoredKind, detail: &str) {
        self.stats.count_ignored(kind);
        if self.warned.insert(kind.name()) {
            tracing::warn!(target: "stxchat::cluster", kind = kind.name(), detail, "ignored a message on the cluster's subjects (logged once per kind)");
        }
    }

    async fn serve(
        &mut self,
        mut subs: Subs,
        mut rx: mpsc::Receiver<ToRelay>,
        mut events: mpsc::UnboundedReceiver<Event>,
    ) -> Result<(), String> {
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                m = subs.feed.next() => match m {
                    Some(m) => self.on_feed(m).await,
                    None => return Err("the cluster feed subscription ended".into()),
                },
                m = subs.heartbeats.next() => if let Some(m) = m { self.on_heartbeat(&m) },
                m = subs.requests.next() => if let Some(m) = m { self.on_snapshot_request(m).await },
                m = subs.settings.next() => if let Some(m) = m { self.on_settings_request(m).await },
                m = subs.inbox.next() => if let Some(m) = m { self.on_snapshot_chunk(&m).await },
                ev = events.recv() => if let Some(ev) = ev { self.on_event(ev).await },
                cmd = rx.recv() => match cmd {
                    None | Some(ToRelay::Stop) => {
                        self.stop().await;
                        return Ok(());
                    }
                    Some(cmd) => self.on_command(cmd).await,
                },
                _ = tick.tick() => self.on_tick().await?,
            }
        }
    }

    /// Whether records may flow to the loop (its replica has a base).
    fn based(&self) -> bool {
        matches!(self.phase, Phase::Running | Phase::Resync { .. })
    }

    async fn on_feed(&mut self, m: Message) {
        let seq = m.headers.as_ref().and_then(|h| {
            let stream_ok = h.get("Nats-Stream").is_some_and(|v| v.as_str() == STREAM);
            let seq = h.get("Nats-Sequence")?.as_str().parse::<u64>().ok()?;
            stream_ok.then_some(seq)
        });
        let Some(seq) = seq.filter(|&s| s > 0) else {
            self.ignored(IgnoredKind::FeedWithoutHeaders, m.subject.as_str());
            return;
        };
        let now = self.now();
        self.order.offer(seq, m.payload.to_vec(), now);
        self.deliver().await;
    }

    /// Hands every record that is next in order to the loop.
    async fn deliver(&mut self) {
        if !self.based() {
            return;
        }
        let now = self.now();
        while let Some((seq, record)) = self.order.pop(now) {
            self.stats.records.fetch_add(1, Ordering::Relaxed);
            if !self.out.send(FromRelay::Record { seq, record }).await {
                return;
            }
        }
    }

    fn on_heartbeat(&mut self, m: &Message) {
        let hb = match Heartbeat::decode(&m.payload) {
            Ok(hb) => hb,
            Err(e) => {
                let kind = match e {
                    super::liveness::HeartbeatError::Magic => IgnoredKind::HeartbeatForeign,
                    super::liveness::HeartbeatError::Version(_) => IgnoredKind::HeartbeatVersion,
                    super::liveness::HeartbeatError::Truncated => IgnoredKind::HeartbeatMalformed,
                };
                self.ignored(kind, &e.to_string());
                return;
            }
        };
        if hb.info.id != self.cfg.node
            && hb.info.fingerprint != self.cfg.fingerprint
            && self.based()
            && !self.live.list().iter().any(|p| p.id == hb.info.id)
        {
            tracing::warn!(target: "stxchat::cluster", node = %hb.info.name, "a node with other settings is trying to join (it will refuse)");
        }
        let now = self.now();
        match self.live.on_heartbeat(hb, now) {
            Seen::New | Seen::Changed | Seen::Left => self.peers_dirty = true,
            Seen::Same | Seen::Ignored => {}
        }
    }

    async fn on_snapshot_request(&mut self, m: Message) {
        let Some(reply) = m.reply else {
            self.ignored(IgnoredKind::SnapshotRequest, m.subject.as_str());
            return;
        };
        if !self.based() {
            return;
        }
        self.out
            .send(FromRelay::SnapshotWanted {
                reply: reply.to_string(),
            })
            .await;
    }

    /// Answers a request for this node's shared settings (any time: they
    /// are fixed at start).
    async fn on_settings_request(&mut self, m: Message) {
        let Some(reply) = m.reply else {
            self.ignored(IgnoredKind::SettingsRequest, m.subject.as_str());
            return;
        };
        let body = self.cfg.settings.clone();
        if let Err(e) = self.client.publish(reply, body.into()).await {
            tracing::debug!(target: "stxchat::cluster", error = %e, "cannot answer a settings request");
        }
    }

    /// Why this node cannot join `peer` (whose fingerprint differs): the
    /// settings that differ and both values when `peer` tells its list,
    /// else a plain sentence.
    async fn mismatch_message(&self, id: NodeId, name: &str) -> String {
        let plain = format!(
            "node {name:?} of the cluster has other settings (limits, history, presence limit, \
             rooms per client, default room, password or registered-only differ): \
             every node must be started with the same ones"
        );
        let Ok(mine) = Settings::decode(&self.cfg.settings) else {
            return plain;
        };
        let subject = format!("{SETTINGS_PREFIX}.{id:016x}");
        let theirs = match tokio::time::timeout(
            SETTINGS_WAIT,
            self.client.request(subject, Vec::new().into()),
        )
        .await
        {
            Ok(Ok(m)) => Settings::decode(&m.payload).map_err(|e| e.to_string()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("no answer".into()),
        };
        match theirs {
            Ok(theirs) => {
                let diffs = mine.differences(&theirs);
                if diffs.is_empty() {
                    // Same names and values, another digest: a build with
                    // another list of settings.
                    return format!(
                        "node {name:?} of the cluster has other settings (the same values, \
                         another version of stxchat?): every node must run the same release \
                         with the same settings"
                    );
                }
                format!(
                    "node {name:?} of the cluster has other settings: {}; every node must be \
                     started with the same ones",
                    settings::describe(&diffs)
                )
            }
            Err(why) => {
                tracing::info!(target: "stxchat::cluster", node = name, why, "cannot read the other node's settings list");
                plain
            }
        }
    }

    async fn on_snapshot_chunk(&mut self, m: &Message) {
        let done = match self.reassembly.take(&m.payload) {
            Ok(done) => done,
            Err(e) => {
                self.ignored(IgnoredKind::SnapshotChunk, &e.to_string());
                return;
            }
        };
        let Some((seq, bytes)) = done else {
            return;
        };
        match self.phase {
            Phase::Snapshot { from, .. } => {
                tracing::info!(target: "stxchat::cluster", seq, bytes = bytes.len(), from = format_args!("{from:016x}"), "snapshot received; joining");
                self.install(seq, bytes).await;
            }
            Phase::Resync { missing, .. } if seq >= missing => {
                tracing::warn!(target: "stxchat::cluster", seq, missing, "resynchronised from a snapshot");
                self.stats.resyncs.fetch_add(1, Ordering::Relaxed);
                self.install(seq, bytes).await;
            }
            Phase::Resync { missing, .. } => {
                // The peer is behind the loss: it cannot help.
                tracing::warn!(target: "stxchat::cluster", seq, missing, "the snapshot predates the lost record; skipping it");
                let now = self.now();
                self.order.skip(missing, now);
                self.phase = Phase::Running;
                self.deliver().await;
            }
            _ => {}
        }
    }

    async fn install(&mut self, seq: u64, bytes: Vec<u8>) {
        let now = self.now();
        self.order.reset(seq, now);
        self.phase = Phase::Running;
        if !self.out.send(FromRelay::Install { seq, bytes }).await {
            return;
        }
        self.became_ready().await;
        self.deliver().await;
    }

    async fn became_ready(&mut self) {
        if !self.ready {
            self.ready = true;
            self.next_hb = 0;
            self.heartbeat(false).await;
        }
    }

    async fn on_event(&mut self, ev: Event) {
        match ev {
            Event::Connected => {
                if !self.link_up {
                    tracing::info!(target: "stxchat::cluster", "NATS link back up");
                    self.link_up = true;
                    self.stats.link_up.store(true, Ordering::Relaxed);
                    let now = self.now();
                    // Peers were silent because we were: give them time.
                    self.live.refresh_all(now);
                    self.next_tail = now;
                    self.next_hb = now;
                    self.out.send(FromRelay::Link(true)).await;
                }
            }
            Event::Disconnected => {
                if self.link_up {
                    tracing::warn!(target: "stxchat::cluster", "NATS link down; reconnecting");
                    self.link_up = false;
                    self.stats.link_up.store(false, Ordering::Relaxed);
                    self.out.send(FromRelay::Link(false)).await;
                }
            }
            Event::SlowConsumer(sid) => {
                tracing::warn!(target: "stxchat::cluster", sid, "NATS dropped messages for this node (slow consumer); gaps are filled from the stream");
            }
            other => {
                tracing::info!(target: "stxchat::cluster", event = %other, "NATS event");
            }
        }
    }

    async fn on_command(&mut self, cmd: ToRelay) {
        match cmd {
            ToRelay::Publish { token, record } => self.publish(token, record).await,
            ToRelay::Snapshot { reply, seq, bytes } => {
                let transfer = rand::random::<u64>();
                let parts = chunks::split(seq, transfer, &bytes);
                let count = parts.len();
                for part in parts {
                    if let Err(e) = self.client.publish(reply.clone(), part.into()).await {
                        tracing::warn!(target: "stxchat::cluster", error = %e, "cannot send a snapshot");
                        return;
                    }
                }
                let _ = self.client.flush().await;
                tracing::info!(target: "stxchat::cluster", seq, bytes = bytes.len(), chunks = count, "snapshot sent");
            }
            ToRelay::Status { connected, applied } => {
                if connected != self.connected {
                    self.peers_dirty = true;
                }
                self.connected = connected;
                self.applied = applied;
            }
            ToRelay::Stop => {}
        }
    }

    async fn refuse(&self, token: u64) {
        self.stats.refused.fetch_add(1, Ordering::Relaxed);
        self.out.send(FromRelay::Refused { token }).await;
    }

    async fn publish(&mut self, token: u64, record: Vec<u8>) {
        if !self.link_up {
            // Never queue inside the client while the link is down: it
            // would be published on reconnect, after the loop answered
            // `unavailable`.
            self.refuse(token).await;
            return;
        }
        let k = self.counter % RECORD_SLOTS;
        self.counter += 1;
        let subject = format!("{LOG_PREFIX}.{:016x}.{k}", self.cfg.node);
        match self.js.publish(subject, record.into()).await {
            Ok(ack) => {
                let out = self.out.clone_box();
                let stats = self.stats.clone();
                tokio::spawn(async move {
                    let m = match ack.await {
                        Ok(a) => FromRelay::Acked {
                            token,
                            seq: a.sequence,
                        },
                        Err(e) => {
                            tracing::info!(target: "stxchat::cluster", error = %e, "publish not acknowledged");
                            stats.refused.fetch_add(1, Ordering::Relaxed);
                            FromRelay::Refused { token }
                        }
                    };
                    out.send(m).await;
                });
            }
            Err(e) => {
                tracing::info!(target: "stxchat::cluster", error = %e, "publish failed");
                self.refuse(token).await;
            }
        }
    }

    /// Publishes this node's heartbeat.
    async fn heartbeat(&mut self, leaving: bool) {
        let hb = Heartbeat {
            info: super::link::NodeInfo {
                id: self.cfg.node,
                name: self.cfg.name.clone(),
                connected: self.connected,
                applied: self.applied,
                fingerprint: self.cfg.fingerprint,
            },
            ready: self.ready,
            leaving,
        };
        let mut b = Vec::with_capacity(64);
        hb.encode(&mut b);
        let _ = self.client.publish(HEARTBEAT_SUBJECT, b.into()).await;
    }

    async fn on_tick(&mut self) -> Result<(), String> {
        let now = self.now();
        if self.link_up && now >= self.next_hb {
            self.next_hb = now + HEARTBEAT_EVERY_MS;
            self.heartbeat(false).await;
        }
        match self.phase {
            Phase::Listening { until } if now >= until => {
                self.start_deadline = now + START_WAIT_MS;
                self.decide(0).await?;
            }
            Phase::Waiting => self.decide(0).await?,
            Phase::Snapshot { until, tries, .. } if now >= until => {
                if tries + 1 >= SNAPSHOT_TRIES {
                    return Err(format!(
                        "no snapshot from a live node after {SNAPSHOT_TRIES} requests: cannot join the cluster"
                    ));
                }
                self.decide(tries + 1).await?;
            }
            Phase::Resync { missing, until, .. } if now >= until => {
                tracing::warn!(target: "stxchat::cluster", missing, "no snapshot for the resynchronisation; skipping the lost record");
                self.order.skip(missing, now);
                self.phase = Phase::Running;
                self.deliver().await;
            }
            _ => {}
        }
        if self.based() && self.link_up {
            for dead in self.live.expire(self.cfg.node, now) {
                tracing::warn!(target: "stxchat::cluster", node = format_args!("{dead:016x}"), "node silent for {DEAD_AFTER_MS} ms: dead");
                self.peers_dirty = true;
                self.out.send(FromRelay::PeerDead(dead)).await;
            }
            if now >= self.next_tail {
                self.next_tail = now + TAIL_EVERY_MS;
                match self.stream.get_info().await {
                    Ok(info) => self.order.note_last(info.state.last_sequence, now),
                    Err(e) => {
                        tracing::debug!(target: "stxchat::cluster", error = %e, "cannot read the stream's state")
                    }
                }
            }
            self.fill_gap().await;
        }
        if now >= self.next_report {
            self.next_report = now + REPORT_EVERY_MS;
            self.report();
        }
        if self.peers_dirty {
            self.peers_dirty = false;
            self.out.send(FromRelay::Peers(self.live.list())).await;
        }
        Ok(())
    }

    /// Logs the gap, loss and bad-input counters when they changed.
    fn report(&mut self) {
        let s = &self.stats;
        let now = [
            s.gap_fetched.load(Ordering::Relaxed),
            s.unrecoverable.load(Ordering::Relaxed),
            s.resyncs.load(Ordering::Relaxed),
            s.ignored.load(Ordering::Relaxed),
        ];
        if now != self.reported {
            self.reported = now;
            tracing::info!(
                target: "stxchat::cluster",
                gap_fetched = now[0],
                unrecoverable = now[1],
                resyncs = now[2],
                ignored = now[3],
                records = s.records.load(Ordering::Relaxed),
                refused = s.refused.load(Ordering::Relaxed),
                "relay counters"
            );
        }
    }

    /// After listening: refuse, take a snapshot, wait, or start fresh.
    async fn decide(&mut self, tries: u32) -> Result<(), String> {
        let me = self.cfg.node;
        if let Some(p) = self.live.mismatch(me, self.cfg.fingerprint) {
            let (id, name) = (p.id, p.name.clone());
            return Err(self.mismatch_message(id, &name).await);
        }
        let now = self.now();
        if let Some(from) = self.live.snapshot_source(me) {
            tracing::info!(target: "stxchat::cluster", from = format_args!("{from:016x}"), "asking a live node for a snapshot");
            let subject = format!("{SNAPSHOT_PREFIX}.{from:016x}");
            self.client
                .publish_with_reply(subject, self.inbox.clone(), Vec::new().into())
                .await
                .map_err(|e| format!("cannot ask for a snapshot: {e}"))?;
            self.phase = Phase::Snapshot {
                from,
                until: now + SNAPSHOT_WAIT_MS,
                tries,
            };
            return Ok(());
        }
        if self.live.lower_starting_peer(me) && now < self.start_deadline {
            self.phase = Phase::Waiting;
            return Ok(());
        }
        let info = self
            .stream
            .get_info()
            .await
            .map_err(|e| format!("cannot read the stream {STREAM}: {e}"))?;
        let seq = info.state.last_sequence;
        tracing::info!(target: "stxchat::cluster", seq, "no live node: starting the cluster's state afresh");
        self.order.reset(seq, now);
        self.phase = Phase::Running;
        self.out.send(FromRelay::Fresh { seq }).await;
        self.became_ready().await;
        self.deliver().await;
        Ok(())
    }

    /// Fetches the sequences of a gap that stayed open.
    async fn fill_gap(&mut self) {
        let now = self.now();
        let Some(range) = self.order.gap(now) else {
            return;
        };
        for seq in range {
            match self.stream.get_raw_message(seq).await {
                Ok(m) => {
                    self.stats.gap_fetched.fetch_add(1, Ordering::Relaxed);
                    let now = self.now();
                    self.order.offer(seq, m.payload.to_vec(), now);
                }
                Err(e) if matches!(e.kind(), stream::LastRawMessageErrorKind::NoMessageFound) => {
                    self.lost(seq).await;
                    break;
                }
                Err(e) => {
                    tracing::debug!(target: "stxchat::cluster", seq, error = %e, "cannot fill a gap yet");
                    break;
                }
            }
            if self.order.next_seq() > seq {
                // Deliver as we go: the loop applies while we fetch.
                self.deliver().await;
            }
        }
        self.deliver().await;
    }

    /// `seq` is gone from the stream: count it, then resynchronise from a
    /// peer's snapshot if one can help, else go on without it.
    async fn lost(&mut self, seq: u64) {
        self.stats.unrecoverable.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(target: "stxchat::cluster", seq, "a record of the cluster's order is lost to this node (no longer in the stream)");
        if self.order.next_seq() != seq || !matches!(self.phase, Phase::Running) {
            return;
        }
        let now = self.now();
        if let Some(from) = self.live.snapshot_source(self.cfg.node) {
            let subject = format!("{SNAPSHOT_PREFIX}.{from:016x}");
            if self
                .client
                .publish_with_reply(subject, self.inbox.clone(), Vec::new().into())
                .await
                .is_ok()
            {
                self.phase = Phase::Resync {
                    from,
                    until: now + SNAPSHOT_WAIT_MS,
                    missing: seq,
                };
                return;
            }
        }
        self.order.skip(seq, now);
    }

    /// A clean stop: say goodbye (peers forget this node rather than
    /// declaring it dead), flush, and let the connection go.
    async fn stop(&mut self) {
        if self.link_up {
            self.heartbeat(true).await;
            let _ = tokio::time::timeout(Duration::from_secs(1), self.client.flush()).await;
        }
    }
}
