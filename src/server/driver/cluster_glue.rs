//! The loop's side of cluster mode (`--cluster`, docs/CLUSTER.md): the
//! relay thread is started with the server, its messages are drained in
//! batches each loop turn and handed to the engine's cluster calls, the
//! engine's proposals go back to the relay, and a clean stop waits (a
//! second at most) for this node's departure to be stored before the relay
//! ends. Nothing here blocks: both queues are bounded and a full queue
//! towards the relay refuses the proposal at once.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use mio::Waker;

use crate::cluster::link::{FromRelay, ToRelay};
use crate::cluster::relay::{Relay, RelayConfig};
use crate::core::{Engine, Now};
use crate::server::config::ServerConfig;
use crate::server::conn::Io;

use super::Server;

/// Relay messages handled per loop turn, at most (the rest next turn, at
/// once: the loop does not sleep while more wait).
const BATCH: usize = 4096;

/// How often the node's counts go into its heartbeats, ms.
const STATUS_EVERY_MS: u64 = 1_000;

/// How long a clean stop waits for its departure record to be stored, ms.
const STOP_WAIT_MS: u64 = 1_000;

/// How long the relay thread gets to say goodbye at the end.
const RELAY_END: Duration = Duration::from_millis(1_500);

/// The server cannot take part in the cluster (for example a live node has
/// other settings): `stxchat server` exits with code 2 and this message.
#[derive(Debug, thiserror::Error)]
#[error("cluster: {0}")]
pub struct ClusterRefused(pub String);

/// Where a clean stop stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// Not stopping.
    No,
    /// Waiting for the departure record `token` (if one was proposed) to be
    /// acked or refused, until `until`.
    Waiting { token: Option<u64>, until: u64 },
    /// The relay was told to stop.
    Done,
}

/// The loop's cluster state: the relay handle and reused buffers.
pub(super) struct ClusterLink {
    relay: Relay,
    batch: Vec<FromRelay>,
    proposals: Vec<(u64, Vec<u8>)>,
    snapshot: Vec<u8>,
    /// More relay messages (or refusals' output) wait: do not sleep.
    more: bool,
    fatal: Option<String>,
    next_status: u64,
    stop: Stop,
}

impl ClusterLink {
    /// Turns the engine's cluster mode on and starts the relay, which wakes
    /// the loop through `waker` (its wakes coalesced by the relay handle).
    pub(super) fn start(
        cfg: &ServerConfig,
        engine: &mut Engine<Io>,
        waker: &Arc<Waker>,
    ) -> io::Result<ClusterLink> {
        let node = loop {
            let id = rand::random::<u64>();
            if id != 0 {
                break id;
            }
        };
        engine.enable_cluster(node, &cfg.node);
        let settings = Engine::<Io>::cluster_settings(&cfg.core);
        let mut relay_cfg = RelayConfig::new(
            cfg.cluster.clone(),
            node,
            cfg.node.clone(),
            settings.fingerprint(),
        );
        settings.encode(&mut relay_cfg.settings);
        let w = waker.clone();
        let relay = Relay::start(
            relay_cfg,
            Arc::new(move || {
                let _ = w.wake();
            }),
        )?;
        tracing::info!(
            target: "stxchat::cluster",
            node = %cfg.node,
            id = format_args!("{node:016x}"),
            nats = %cfg.cluster.join(","),
            "joining the cluster; clients are accepted once the replica is in place"
        );
        Ok(ClusterLink {
            relay,
            batch: Vec::with_capacity(BATCH),
            proposals: Vec::new(),
            snapshot: Vec::new(),
            more: false,
            fatal: None,
            next_status: 0,
            stop: Stop::No,
        })
    }

    /// The relay's counters (for the metrics endpoint).
    pub(super) fn relay_stats(&self) -> Arc<crate::cluster::relay::RelayStats> {
        self.relay.stats().clone()
    }

    /// Ends the relay at once (the clean stop ran out of time).
    pub(super) fn force_stop(&mut self) {
        if self.stop != Stop::Done {
            self.stop = Stop::Done;
            self.relay.stop(Duration::from_millis(200));
        }
    }
}

impl Server {
    /// Whether clients may be accepted: always standalone, once the replica
    /// is in place in cluster mode.
    pub(super) fn accepting(&self) -> bool {
        self.cluster.is_none() || self.engine.cluster_ready()
    }

    /// Drains a batch of relay messages into the engine, then sends its
    /// proposals (and, every second, this node's counts) to the relay.
    pub(super) fn cluster_turn(&mut self, now: Now) {
        let Server {
            cluster, engine, ..
        } = self;
        let Some(link) = cluster.as_mut() else {
            return;
        };
        link.more = link.relay.drain(&mut link.batch, BATCH);
        let mut batch = std::mem::take(&mut link.batch);
        for m in batch.drain(..) {
            match m {
                FromRelay::Record { seq, record } => engine.on_record(seq, &record, now),
                FromRelay::Acked { token, seq } => {
                    engine.on_acked(token, seq);
                    if let Stop::Waiting {
                        token: Some(t),
                        until,
                    } = link.stop
                        && t == token
                    {
                        link.stop = Stop::Waiting { token: None, until };
                    }
                }
                FromRelay::Refused { token } => {
                    engine.on_refused(token, now);
                    if let Stop::Waiting {
                        token: Some(t),
                        until,
                    } = link.stop
                        && t == token
                    {
                        link.stop = Stop::Waiting { token: None, until };
                    }
                }
                FromRelay::Fresh { seq } => {
                    engine.start_fresh(seq);
                    tracing::info!(target: "stxchat::cluster", seq, "cluster formed afresh; accepting clients");
                }
                FromRelay::Install { seq, bytes } => {
                    let was_ready = engine.cluster_ready();
                    match engine.install(seq, &bytes, now) {
                        Ok(()) if was_ready => {
                            tracing::warn!(target: "stxchat::cluster", seq, "resynchronised from a peer's snapshot");
                        }
                        Ok(()) => {
                            tracing::info!(target: "stxchat::cluster", seq, bytes = bytes.len(), "joined the cluster; accepting clients");
                        }
                        Err(e) if was_ready => {
                            tracing::error!(target: "stxchat::cluster", seq, error = %e, "a resynchronisation snapshot was refused; keeping the replica");
                        }
                        Err(e) => {
                            link.fatal = Some(format!(
                                "the snapshot from a live node cannot be installed: {e}"
                            ));
                        }
                    }
                }
                FromRelay::Link(up) => engine.on_link(up, now),
                FromRelay::Peers(nodes) => engine.set_cluster_nodes(nodes),
                FromRelay::PeerDead(node) => engine.on_peer_dead(node, now),
                FromRelay::SnapshotWanted { reply } => {
                    link.snapshot.clear();
                    let seq = engine.snapshot(&mut link.snapshot);
                    let bytes = link.snapshot.clone();
                    if link
                        .relay
                        .send(ToRelay::Snapshot { reply, seq, bytes })
                        .is_err()
                    {
                        tracing::warn!(target: "stxchat::cluster", "relay queue full: a snapshot request goes unanswered (the joiner asks again)");
                    }
                }
                FromRelay::Fatal(msg) => link.fatal = Some(msg),
            }
        }
        link.batch = batch;
        if now.mono_ms >= link.next_status {
            link.next_status = now.mono_ms + STATUS_EVERY_MS;
            let _ = link.relay.send(ToRelay::Status {
                connected: u32::try_from(engine.registered_count()).unwrap_or(u32::MAX),
                applied: engine.applied_seq(),
            });
        }
        self.send_proposals(now);
    }

    /// Hands the engine's proposals to the relay; those the relay's queue
    /// cannot take are refused at once (ERROR unavailable). Returns the
    /// highest token sent.
    pub(super) fn send_proposals(&mut self, now: Now) -> Option<u64> {
        let Server {
            cluster, engine, ..
        } = self;
        let link = cluster.as_mut()?;
        engine.take_proposals(&mut link.proposals);
        let mut last = None;
        let mut proposals = std::mem::take(&mut link.proposals);
        for (token, record) in proposals.drain(..) {
            last = Some(token);
            if let Err(ToRelay::Publish { token, .. }) =
                link.relay.send(ToRelay::Publish { token, record })
            {
                engine.on_refused(token, now);
                // Its answer is output for the next turn: do not sleep.
                link.more = true;
            }
        }
        link.proposals = proposals;
        last
    }

    /// The cluster's next deadline for the poll timeout (now while relay
    /// messages wait).
    pub(super) fn cluster_deadline(&self, now: Now) -> Option<u64> {
        let link = self.cluster.as_ref()?;
        if link.more {
            return Some(now.mono_ms);
        }
        match link.stop {
            Stop::Waiting { until, .. } => Some(until.min(link.next_status)),
            Stop::Done => None,
            Stop::No => Some(link.next_status),
        }
    }

    /// Why the cluster cannot go on, if it cannot.
    pub(super) fn cluster_fatal(&mut self) -> Option<ClusterRefused> {
        let link = self.cluster.as_mut()?;
        let msg = link.fatal.take()?;
        link.relay.stop(Duration::ZERO);
        Some(ClusterRefused(msg))
    }

    /// A clean stop in cluster mode: local clients get ERROR shutting_down
    /// and this node proposes its own departure (LEFT 5 elsewhere).
    pub(super) fn cluster_begin_stop(&mut self, now: Now) {
        // What input proposed this turn goes first.
        self.send_proposals(now);
        self.engine.cluster_stop(now);
        let token = self.send_proposals(now);
        if let Some(link) = self.cluster.as_mut() {
            link.stop = Stop::Waiting {
                token,
                until: now.mono_ms + STOP_WAIT_MS,
            };
        }
    }

    /// Whether the clean stop's cluster part is over: the departure was
    /// stored (or refused, or a second passed); then the relay is stopped.
    pub(super) fn cluster_stopped(&mut self, now: Now) -> bool {
        let Some(link) = self.cluster.as_mut() else {
            return true;
        };
        match link.stop {
            Stop::Done => true,
            Stop::No => false,
            Stop::Waiting { token, until } => {
                if token.is_some() && now.mono_ms < until {
                    return false;
                }
                if token.is_some() {
                    tracing::warn!(target: "stxchat::cluster", "this node's departure was not acknowledged in time; the others will notice it by its silence");
                }
                link.stop = Stop::Done;
                if !link.relay.stop(RELAY_END) {
                    tracing::warn!(target: "stxchat::cluster", "the relay did not end in time");
                }
                true
            }
        }
    }
}
