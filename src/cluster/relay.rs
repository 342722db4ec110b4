//! The relay: the one thread of a cluster node that talks to NATS, and the
//! loop's handle on it.
//!
//! The `mio` loop never blocks on NATS: it hands [`ToRelay`] messages to
//! [`Relay::send`] (a bounded queue; full means refused at once) and takes
//! [`FromRelay`] messages in batches with [`Relay::drain`] after it was
//! woken. Wakes are coalesced: the relay calls the loop's wake function
//! only when the loop has not yet been woken since its last drain. The
//! thread runs a current-thread tokio runtime around async-nats (see
//! `relay_task`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::link::{FromRelay, NodeId, ToRelay};

/// Messages queued towards the relay, at most.
pub const TO_RELAY_QUEUE: usize = 65_536;
/// Messages queued towards the loop, at most (the relay waits when full).
pub const FROM_RELAY_QUEUE: usize = 65_536;

/// What the relay needs to know to join the cluster.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// NATS server URLs (`nats://host:port`), tried in turn.
    pub servers: Vec<String>,
    /// This node's id (random, non-zero).
    pub node: NodeId,
    /// This node's name (`--node`).
    pub name: String,
    /// The settings every node must share (`Engine::cluster_fingerprint`).
    pub fingerprint: u64,
    /// How long heartbeats are listened to before joining, ms.
    pub listen_ms: u64,
    /// Connection attempts before giving up with [`FromRelay::Fatal`].
    pub connect_attempts: u32,
    /// The shared settings by name, encoded ([`super::settings::Settings`]):
    /// sent to a joining node whose fingerprint differs, so that its
    /// refusal names them. Empty: none to tell (the refusal is then plain).
    pub settings: Vec<u8>,
}

impl RelayConfig {
    /// The usual timing for `servers`, `node`, `name` and `fingerprint`.
    pub fn new(servers: Vec<String>, node: NodeId, name: String, fingerprint: u64) -> Self {
        RelayConfig {
            servers,
            node,
            name,
            fingerprint,
            listen_ms: 2_500,
            connect_attempts: 5,
            settings: Vec::new(),
        }
    }
}

/// The NATS servers of `--cluster`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Servers(pub Vec<String>);

/// Reads `nats://HOST:PORT[,nats://HOST:PORT...]` (the value of
/// `--cluster`): every entry a `nats://` URL NATS's client accepts.
pub fn parse_servers(s: &str) -> Result<Servers, String> {
    let mut v = Vec::new();
    for part in s.split(',').map(str::trim) {
        if part.is_empty() {
            continue;
        }
        if !part.starts_with("nats://") {
            return Err(format!("{part:?} is not a nats://HOST:PORT URL"));
        }
        part.parse::<async_nats::ServerAddr>()
            .map_err(|e| format!("{part:?} is not a NATS URL: {e}"))?;
        v.push(part.to_owned());
    }
    if v.is_empty() {
        return Err("no NATS URL given (nats://HOST:PORT[,nats://HOST:PORT...])".into());
    }
    Ok(Servers(v))
}

/// Kinds of message on the cluster's subjects that the relay ignores (not
/// ours, or malformed), each counted on its own and logged once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IgnoredKind {
    /// A feed message without the stream's headers (not republished by it).
    FeedWithoutHeaders,
    /// A message on the heartbeat subject that is not a heartbeat.
    HeartbeatForeign,
    /// A heartbeat of a version this build does not know.
    HeartbeatVersion,
    /// A truncated or malformed heartbeat.
    HeartbeatMalformed,
    /// A snapshot request without a reply subject.
    SnapshotRequest,
    /// A malformed snapshot chunk.
    SnapshotChunk,
    /// A settings request without a reply subject.
    SettingsRequest,
}

/// How many [`IgnoredKind`]s there are.
pub const IGNORED_KINDS: usize = 7;

impl IgnoredKind {
    /// Every kind, in the order of the counters.
    pub const ALL: [IgnoredKind; IGNORED_KINDS] = [
        IgnoredKind::FeedWithoutHeaders,
        IgnoredKind::HeartbeatForeign,
        IgnoredKind::HeartbeatVersion,
        IgnoredKind::HeartbeatMalformed,
        IgnoredKind::SnapshotRequest,
        IgnoredKind::SnapshotChunk,
        IgnoredKind::SettingsRequest,
    ];

    /// A short name (the `kind` label of the metric).
    pub fn name(self) -> &'static str {
        match self {
            IgnoredKind::FeedWithoutHeaders => "feed_without_headers",
            IgnoredKind::HeartbeatForeign => "heartbeat_foreign",
            IgnoredKind::HeartbeatVersion => "heartbeat_version",
            IgnoredKind::HeartbeatMalformed => "heartbeat_malformed",
            IgnoredKind::SnapshotRequest => "snapshot_request_without_reply",
            IgnoredKind::SnapshotChunk => "snapshot_chunk_malformed",
            IgnoredKind::SettingsRequest => "settings_request_without_reply",
        }
    }

    /// Its counter's index.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Counters the relay keeps for the operator view (read with relaxed
/// loads; each only grows, except `link_up`).
#[derive(Debug, Default)]
pub struct RelayStats {
    /// Records handed to the loop.
    pub records: AtomicU64,
    /// Sequences fetched from the stream to fill a gap in the feed.
    pub gap_fetched: AtomicU64,
    /// Sequences the stream no longer held when a gap was filled (lost to
    /// this node; followed by a resynchronisation when a peer can help).
    pub unrecoverable: AtomicU64,
    /// Resynchronisations by snapshot after an unrecoverable gap.
    pub resyncs: AtomicU64,
    /// Messages on our subjects that were not ours (no stream headers,
    /// malformed heartbeats or snapshot chunks): ignored.
    pub ignored: AtomicU64,
    /// The same, per [`IgnoredKind::index`].
    pub ignored_by: [AtomicU64; IGNORED_KINDS],
    /// Publishes refused (link down, queue full, failed or timed out).
    pub refused: AtomicU64,
    /// Whether the link to NATS is up.
    pub link_up: AtomicBool,
}

/// A copy of the relay's counters at one instant (plain numbers, for the
/// metrics endpoint).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayCounters {
    /// Records handed to the loop.
    pub records: u64,
    /// Sequences fetched from the stream to fill a gap.
    pub gap_fetched: u64,
    /// Sequences lost (no longer in the stream).
    pub unrecoverable: u64,
    /// Resynchronisation snapshots received after a loss.
    pub resyncs: u64,
    /// Ignored messages per [`IgnoredKind::index`].
    pub ignored: [u64; IGNORED_KINDS],
    /// Publishes refused.
    pub refused: u64,
    /// Whether the link to NATS is up.
    pub link_up: bool,
}

impl RelayStats {
    /// Counts one ignored message of `kind`.
    pub fn count_ignored(&self, kind: IgnoredKind) {
        self.ignored.fetch_add(1, Ordering::Relaxed);
        self.ignored_by[kind.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now (a few relaxed loads, no lock).
    pub fn counters(&self) -> RelayCounters {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        RelayCounters {
            records: l(&self.records),
            gap_fetched: l(&self.gap_fetched),
            unrecoverable: l(&self.unrecoverable),
            resyncs: l(&self.resyncs),
            ignored: std::array::from_fn(|i| l(&self.ignored_by[i])),
            refused: l(&self.refused),
            link_up: self.link_up.load(Ordering::Relaxed),
        }
    }
}

/// The loop's wake function (it wakes the loop's one `Waker`).
pub type WakeFn = Arc<dyn Fn() + Send + Sync>;

/// The relay's side of the queues, given to the relay task.
pub(crate) struct Outbox {
    tx: mpsc::Sender<FromRelay>,
    pending: Arc<AtomicBool>,
    wake: WakeFn,
}

impl Outbox {
    /// Queues `m` for the loop (waiting while the queue is full) and wakes
    /// the loop unless a wake is already pending. Returns false once the
    /// loop is gone.
    pub(crate) async fn send(&self, m: FromRelay) -> bool {
        if self.tx.send(m).await.is_err() {
            return false;
        }
        if !self.pending.swap(true, Ordering::AcqRel) {
            (self.wake)();
        }
        true
    }

    pub(crate) fn clone_box(&self) -> Outbox {
        Outbox {
            tx: self.tx.clone(),
            pending: self.pending.clone(),
            wake: self.wake.clone(),
        }
    }
}

/// The loop's handle on the relay thread.
pub struct Relay {
    tx: Option<mpsc::Sender<ToRelay>>,
    rx: mpsc::Receiver<FromRelay>,
    pending: Arc<AtomicBool>,
    stats: Arc<RelayStats>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay").finish_non_exhaustive()
    }
}

impl Relay {
    /// Starts the relay thread; `wake` wakes the loop. The thread connects
    /// and joins the cluster on its own; its first messages say how
    /// ([`FromRelay::Fresh`], [`FromRelay::Install`] or
    /// [`FromRelay::Fatal`]).
    pub fn start(cfg: RelayConfig, wake: WakeFn) -> std::io::Result<Relay> {
        let (to_tx, to_rx) = mpsc::channel(TO_RELAY_QUEUE);
        let (from_tx, from_rx) = mpsc::channel(FROM_RELAY_QUEUE);
        let pending = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(RelayStats::default());
        let outbox = Outbox {
            tx: from_tx,
            pending: pending.clone(),
            wake,
        };
        let thread_stats = stats.clone();
        let thread = std::thread::Builder::new()
            .name("stxchat-relay".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let msg = format!("cannot start the cluster relay's runtime: {e}");
                        let _ = outbox.tx.try_send(FromRelay::Fatal(msg));
                        (outbox.wake)();
                        return;
                    }
                };
                rt.block_on(super::relay_task::run(cfg, to_rx, outbox, thread_stats));
            })?;
        Ok(Relay {
            tx: Some(to_tx),
            rx: from_rx,
            pending,
            stats,
            thread: Some(thread),
        })
    }

    /// Queues `m` for the relay without waiting; gives it back when the
    /// queue is full or the relay has ended (a publish is then refused).
    pub fn send(&self, m: ToRelay) -> Result<(), ToRelay> {
        match &self.tx {
            Some(tx) => tx.try_send(m).map_err(|e| match e {
                mpsc::error::TrySendError::Full(m) | mpsc::error::TrySendError::Closed(m) => m,
            }),
            None => Err(m),
        }
    }

    /// Moves up to `max` waiting messages into `out`; returns whether more
    /// are waiting (then the loop should not sleep).
    pub fn drain(&mut self, out: &mut Vec<FromRelay>, max: usize) -> bool {
        // Clear first: a message queued after this is either drained below
        // or wakes the loop again.
        self.pending.store(false, Ordering::Release);
        for _ in 0..max {
            match self.rx.try_recv() {
                Ok(m) => out.push(m),
                Err(_) => return false,
            }
        }
        !self.rx.is_empty()
    }

    /// The relay's counters.
    pub fn stats(&self) -> &Arc<RelayStats> {
        &self.stats
    }

    /// Asks the relay to stop and waits (at most `wait`) for the thread to
    /// end; returns whether it ended.
    pub fn stop(&mut self, wait: Duration) -> bool {
        if let Some(tx) = self.tx.take() {
            let _ = tx.try_send(ToRelay::Stop);
        }
        let Some(thread) = self.thread.take() else {
            return true;
        };
        let until = Instant::now() + wait;
        while !thread.is_finished() {
            if Instant::now() >= until {
                // Leave it: the process is ending.
                return false;
            }
            // The relay may be waiting on the loop's queue: keep emptying it.
            while self.rx.try_recv().is_ok() {}
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = thread.join();
        true
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_urls_are_checked() {
        assert_eq!(
            parse_servers("nats://127.0.0.1:4222, nats://h:1")
                .unwrap()
                .0,
            vec!["nats://127.0.0.1:4222", "nats://h:1"]
        );
        assert!(parse_servers("").is_err());
        assert!(parse_servers("127.0.0.1:4222").is_err());
        assert!(parse_servers("http://x:1").is_err());
        assert!(parse_servers("nats://h:notaport").is_err());
    }

    #[test]
    fn ignored_messages_are_counted_per_kind() {
        let s = RelayStats::default();
        s.count_ignored(IgnoredKind::HeartbeatVersion);
        s.count_ignored(IgnoredKind::HeartbeatVersion);
        s.count_ignored(IgnoredKind::SnapshotChunk);
        s.link_up.store(true, Ordering::Relaxed);
        let c = s.counters();
        assert_eq!(c.ignored[IgnoredKind::HeartbeatVersion.index()], 2);
        assert_eq!(c.ignored[IgnoredKind::SnapshotChunk.index()], 1);
        assert_eq!(c.ignored.iter().sum::<u64>(), 3);
        assert_eq!(s.ignored.load(Ordering::Relaxed), 3);
        assert!(c.link_up);
        for (i, k) in IgnoredKind::ALL.iter().enumerate() {
            assert_eq!(k.index(), i);
        }
    }
}
