//! State shared by the coordinating thread and the worker threads of one run:
//! the read-only run configuration, the phase, and atomic counters.
//!
//! Workers keep their own tallies and add them here once per event-loop
//! turn, so the hot path touches no shared cache line per frame.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::bench::transport::BenchTls;

/// Run phases, in order. Workers read the phase at every loop turn.
pub mod phase {
    /// Connecting and registering.
    pub const SETUP: u8 = 0;
    /// Publishing, stamps say warm-up.
    pub const WARMUP: u8 = 1;
    /// Publishing, stamps say measured.
    pub const MEASURE: u8 = 2;
    /// Publishing stopped; in-flight messages still counted.
    pub const DRAIN: u8 = 3;
    /// `connect`: every connection sends one PING and counts its PONG.
    pub const PROBE: u8 = 4;
    /// Workers close their connections and exit.
    pub const SHUTDOWN: u8 = 5;
}

/// What a connection does in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `fanout`: reads the room; its MESSAGEs are deliveries.
    Member = 0,
    /// `fanout`: publishes; every MESSAGE it reads is an echo.
    Publisher = 1,
    /// `fanout --slow`: joins the room, then never reads.
    Slow = 2,
    /// `rooms`: publishes to its room and reads it; its own MESSAGEs are echoes.
    Client = 3,
    /// `connect`: registers and stays idle.
    Idle = 4,
}

/// Number of [`Role`] values.
pub const ROLES: usize = 5;

/// The scenario a run executes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One room, S members, P publishers.
    Fanout,
    /// C clients over R rooms, every client publishing.
    Rooms,
    /// N idle registered connections.
    Connect,
}

/// Read-only settings of one run, shared by all workers.
#[derive(Debug)]
pub struct RunConfig {
    /// The scenario.
    pub kind: Kind,
    /// The servers (nodes of one cluster, or one server); a connection's
    /// plan holds an index into this list.
    pub addrs: Vec<SocketAddr>,
    /// Source addresses to spread connections over (empty: no bind).
    pub sources: Vec<IpAddr>,
    /// HELLO token.
    pub token: String,
    /// `--tls`: speak TLS to the servers, verifying them like the client.
    pub tls: Option<BenchTls>,
    /// Protocol version said in HELLO (2, or 1 to compare with version 1).
    pub version: u8,
    /// Nick prefix including the run id; a connection's nick is this plus its id in hex.
    pub nick_base: String,
    /// Room names; a connection's plan holds an index into this list.
    pub rooms: Vec<String>,
    /// Text length of every SAY.
    pub text_len: usize,
    /// Most SAYs per write.
    pub batch: usize,
    /// In-flight bound in messages per publisher (0 = open loop).
    pub window: u64,
    /// Total publish rate in messages/s over all publishers (0 = as fast as allowed).
    pub rate: f64,
    /// Publishers planned (fanout), for the per-publisher share of `rate`.
    pub publishers: usize,
    /// Clients planned (rooms), for a worker's share of `rate`.
    pub clients: usize,
    /// Per-connection handshake timeout, from the start of connect.
    pub handshake_timeout: Duration,
    /// Handshakes in flight per worker.
    pub concurrency: usize,
    /// `connect --probe`: the room whose MESSAGEs idle connections count.
    pub probe_room: Option<String>,
    /// Workers stop at this instant whatever the phase.
    pub hard_deadline: Instant,
}

impl RunConfig {
    /// The nick of connection `id`.
    pub fn nick(&self, id: u32) -> String {
        format!("{}{id:x}", self.nick_base)
    }
}

/// What the first WELCOME of the run said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    /// The server's name.
    pub name: String,
    /// Its frame payload limit.
    pub max_payload: u16,
    /// Its keepalive period in seconds (0 = none).
    pub keepalive_secs: u16,
}

/// Counters and flags shared by all threads of a run.
#[derive(Debug)]
pub struct Shared {
    /// The run's clock origin; stamps carry nanoseconds since this instant.
    pub t0: Instant,
    /// Current phase (see [`phase`]).
    pub phase: AtomicU8,
    /// Connections registered (and joined), by role.
    pub ready: [AtomicU64; ROLES],
    /// Connections closed after they were ready, by role.
    pub dropped: [AtomicU64; ROLES],
    /// Connections that never got ready.
    pub failed: AtomicU64,
    /// `fanout`: members ready and not dropped.
    pub members_alive: AtomicU64,
    /// `fanout`: members ready when publishing began (expected recipients).
    pub members_at_start: AtomicU64,
    /// `fanout`: publishers ready when publishing began (expected echoes).
    pub publishers_at_start: AtomicU64,
    /// `fanout`: in-flight bound in deliveries (window x publishers x members).
    pub window_deliveries: AtomicU64,
    /// Messages published, all phases.
    pub published_total: AtomicU64,
    /// Messages published stamped measured.
    pub published_measured: AtomicU64,
    /// Deliveries the measured messages should make.
    pub expected_measured: AtomicU64,
    /// Echoes the measured messages should make.
    pub echoes_expected_measured: AtomicU64,
    /// `fanout`: deliveries to members still alive, all phases (for the window).
    pub delivered_alive: AtomicU64,
    /// Deliveries, all phases.
    pub delivered_total: AtomicU64,
    /// Deliveries of measured messages.
    pub delivered_measured: AtomicU64,
    /// Echoes of measured messages.
    pub echoes_measured: AtomicU64,
    /// Deliveries written off by stall detection.
    pub credit: AtomicU64,
    /// Times the window was written off.
    pub stalls: AtomicU64,
    /// ERRORs that do not close the connection (e.g. rate_limited, too_long).
    pub nonfatal_errors: AtomicU64,
    /// MESSAGEs in the bench room whose text carried no stamp.
    pub bad_payloads: AtomicU64,
    /// LEFT reason 3 (slow consumer) seen by the observer member.
    pub slow_dropped: AtomicU64,
    /// PONGs answering the probe PING.
    pub pongs: AtomicU64,
    /// `connect --probe`: probe-room MESSAGEs received, all connections.
    pub probes: AtomicU64,
    /// JOINED, LEFT and MEMBERS frames received, all connections.
    pub presence_frames: AtomicU64,
    /// ROOM frames received, all connections.
    pub room_frames: AtomicU64,
    /// A publisher waits for window room: deliverers should wake the workers.
    pub publisher_waiting: AtomicBool,
    /// The first error any connection met.
    pub first_error: Mutex<Option<String>>,
    /// The first WELCOME's details.
    pub server: OnceLock<ServerInfo>,
    /// One waker per worker, to end its poll early.
    pub wakers: Vec<mio::Waker>,
}

impl Shared {
    /// Fresh state in phase SETUP with the workers' wakers.
    pub fn new(wakers: Vec<mio::Waker>) -> Self {
        Shared {
            t0: Instant::now(),
            phase: AtomicU8::new(phase::SETUP),
            ready: Default::default(),
            dropped: Default::default(),
            failed: AtomicU64::new(0),
            members_alive: AtomicU64::new(0),
            members_at_start: AtomicU64::new(0),
            publishers_at_start: AtomicU64::new(0),
            window_deliveries: AtomicU64::new(0),
            published_total: AtomicU64::new(0),
            published_measured: AtomicU64::new(0),
            expected_measured: AtomicU64::new(0),
            echoes_expected_measured: AtomicU64::new(0),
            delivered_alive: AtomicU64::new(0),
            delivered_total: AtomicU64::new(0),
            delivered_measured: AtomicU64::new(0),
            echoes_measured: AtomicU64::new(0),
            credit: AtomicU64::new(0),
            stalls: AtomicU64::new(0),
            nonfatal_errors: AtomicU64::new(0),
            bad_payloads: AtomicU64::new(0),
            slow_dropped: AtomicU64::new(0),
            pongs: AtomicU64::new(0),
            probes: AtomicU64::new(0),
            presence_frames: AtomicU64::new(0),
            room_frames: AtomicU64::new(0),
            publisher_waiting: AtomicBool::new(false),
            first_error: Mutex::new(None),
            server: OnceLock::new(),
            wakers,
        }
    }

    /// Nanoseconds since the run's clock origin.
    #[inline]
    pub fn now_ns(&self) -> u64 {
        self.t0.elapsed().as_nanos() as u64
    }

    /// The current phase.
    #[inline]
    pub fn phase(&self) -> u8 {
        self.phase.load(Relaxed)
    }

    /// Moves to phase `p` and wakes every worker.
    pub fn set_phase(&self, p: u8) {
        self.phase.store(p, Relaxed);
        self.wake_all();
    }

    /// Wakes every worker's poll.
    pub fn wake_all(&self) {
        for w in &self.wakers {
            // A failed wake only delays the worker until its poll timeout.
            let _ = w.wake();
        }
    }

    /// Records `msg` if it is the run's first error.
    pub fn note_error(&self, msg: impl FnOnce() -> String) {
        if let Ok(mut g) = self.first_error.lock()
            && g.is_none()
        {
            *g = Some(msg());
        }
    }

    /// The first error recorded, if any.
    pub fn first_error(&self) -> Option<String> {
        self.first_error.lock().ok().and_then(|g| g.clone())
    }

    /// Connections ready in `role`.
    pub fn ready_in(&self, role: Role) -> u64 {
        self.ready[role as usize].load(Relaxed)
    }

    /// Connections ready, all roles.
    pub fn ready_all(&self) -> u64 {
        self.ready.iter().map(|a| a.load(Relaxed)).sum()
    }

    /// Connections dropped after ready, all roles.
    pub fn dropped_all(&self) -> u64 {
        self.dropped.iter().map(|a| a.load(Relaxed)).sum()
    }

    /// `fanout`: deliveries published but not yet received by live members,
    /// net of written-off stalls.
    pub fn in_flight(&self) -> u64 {
        let alive = self.members_alive.load(Relaxed);
        let expected = self.published_total.load(Relaxed).saturating_mul(alive);
        let done = self.delivered_alive.load(Relaxed) + self.credit.load(Relaxed);
        expected.saturating_sub(done)
    }

    /// `fanout`: messages that may be published now under the window
    /// (`u64::MAX` when open loop).
    pub fn window_room(&self) -> u64 {
        let window = self.window_deliveries.load(Relaxed);
        if window == 0 {
            return u64::MAX;
        }
        let alive = self.members_alive.load(Relaxed).max(1);
        window.saturating_sub(self.in_flight()) / alive
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_room_follows_in_flight_deliveries() {
        let s = Shared::new(Vec::new());
        assert_eq!(s.window_room(), u64::MAX, "no window: open loop");
        s.members_alive.store(10, Relaxed);
        s.window_deliveries.store(100, Relaxed);
        assert_eq!(s.window_room(), 10);
        s.published_total.store(8, Relaxed);
        assert_eq!(s.in_flight(), 80);
        assert_eq!(s.window_room(), 2);
        s.delivered_alive.store(50, Relaxed);
        assert_eq!(s.window_room(), 7);
        s.credit.store(30, Relaxed);
        assert_eq!(s.in_flight(), 0);
        assert_eq!(s.window_room(), 10);
    }

    #[test]
    fn first_error_is_kept() {
        let s = Shared::new(Vec::new());
        assert_eq!(s.first_error(), None);
        s.note_error(|| "one".into());
        s.note_error(|| "two".into());
        assert_eq!(s.first_error().as_deref(), Some("one"));
    }
}
