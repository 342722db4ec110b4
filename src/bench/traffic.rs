//! The publishing scenarios: `fanout` (one room, S members, P publishers)
//! and `rooms` (C clients over R rooms, every client publishing).
//!
//! Timeline: connect and join everybody; warm up; measure for D seconds;
//! stop publishing and drain in-flight messages (capped); shut down. Only
//! messages stamped during the measured interval count, on both sides.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use crate::bench::conn::ConnPlan;
use crate::bench::driver::{CommonOpts, SETUP_CAP, Workers, check_common, split_plans};
use crate::bench::error::BenchError;
use crate::bench::nodes::{fanout_node, rooms_node};
use crate::bench::payload::{MAX_PUBLISHER_ID, MIN_TEXT_LEN};
use crate::bench::procstat::{self, CpuSnapshot};
use crate::bench::progress::Progress;
use crate::bench::report::{Latency, TrafficReport};
use crate::bench::shared::{Kind, Role, RunConfig, Shared, phase};
use crate::bench::sources::plan_sources;
use crate::bench::storm::Storm;
use crate::codec::{is_valid_room, names::CHAT_OVERHEAD};

/// Drain ends after this long without a new delivery.
const DRAIN_QUIET: Duration = Duration::from_secs(1);

/// Publishing options shared by `fanout` and `rooms`.
#[derive(Debug, Clone)]
pub struct PublishOpts {
    /// Text bytes per message (B, at least 32).
    pub bytes: usize,
    /// Warm-up before measuring.
    pub warmup: Duration,
    /// Measured interval (D).
    pub duration: Duration,
    /// In-flight bound, messages per publisher (0 = open loop).
    pub window: u64,
    /// Total publish rate, msgs/s (0 = as fast as the server takes them).
    pub rate: f64,
    /// Most SAYs per write.
    pub batch: usize,
    /// Most time to wait for in-flight messages after publishing stops.
    pub drain: Duration,
    /// `fanout`: write the window off after this long without a delivery.
    pub stall: Duration,
}

impl Default for PublishOpts {
    /// B=64, 2 s warm-up, D=10 s, window 256, as fast as possible, batches of 32.
    fn default() -> Self {
        PublishOpts {
            bytes: 64,
            warmup: Duration::from_secs(2),
            duration: Duration::from_secs(10),
            window: 256,
            rate: 0.0,
            batch: 32,
            drain: Duration::from_secs(5),
            stall: Duration::from_secs(1),
        }
    }
}

/// Options of `fanout`.
#[derive(Debug, Clone)]
pub struct FanoutOpts {
    /// Shared options.
    pub common: CommonOpts,
    /// Publishing options.
    pub publish: PublishOpts,
    /// The room.
    pub room: String,
    /// Members that only read (S).
    pub members: usize,
    /// Publishers (P), also members of the room.
    pub publishers: usize,
    /// Extra members that join and then never read.
    pub slow: usize,
}

impl FanoutOpts {
    /// S=100, P=4, room `bench`, defaults otherwise.
    pub fn new(common: CommonOpts) -> Self {
        FanoutOpts {
            common,
            publish: PublishOpts::default(),
            room: "bench".into(),
            members: 100,
            publishers: 4,
            slow: 0,
        }
    }
}

/// Options of `rooms`.
#[derive(Debug, Clone)]
pub struct RoomsOpts {
    /// Shared options.
    pub common: CommonOpts,
    /// Publishing options (`rate` is the total over all clients).
    pub publish: PublishOpts,
    /// Room name prefix; rooms are `PREFIX-0` .. `PREFIX-(R-1)`.
    pub room_prefix: String,
    /// Clients (C); client i is in room i mod R.
    pub clients: usize,
    /// Rooms (R).
    pub rooms: usize,
}

impl RoomsOpts {
    /// C=10,000 over R=1,000 rooms at 10,000 msgs/s total.
    pub fn new(common: CommonOpts) -> Self {
        RoomsOpts {
            common,
            publish: PublishOpts {
                rate: 10_000.0,
                ..PublishOpts::default()
            },
            room_prefix: "bench".into(),
            clients: 10_000,
            rooms: 1_000,
        }
    }
}

/// Runs `fanout` and reports.
pub fn run_fanout(o: &FanoutOpts) -> Result<TrafficReport, BenchError> {
    if o.members == 0 || o.publishers == 0 {
        return Err(BenchError::InvalidOption(
            "fanout needs at least one member and one publisher".into(),
        ));
    }
    let (s, k, p) = (o.members, o.slow, o.publishers);
    let total = s + k + p;
    let nodes = o.common.addrs.len();
    let plans = (0..total).map(|i| {
        let (role, nth) = if i < s {
            (Role::Member, i)
        } else if i < s + k {
            // Slow consumers follow the members round-robin.
            (Role::Slow, i)
        } else {
            (Role::Publisher, i - s - k)
        };
        ConnPlan {
            id: i as u32,
            role,
            room: Some(0),
            node: fanout_node(role, nth, nodes),
        }
    });
    let plans = split_plans(plans, o.common.threads, |p| p.id as usize);
    let plan = TrafficPlan {
        kind: Kind::Fanout,
        scenario: "fanout",
        rooms: vec![o.room.clone()],
        connections: total,
        publishers: p,
        clients: 0,
        plans,
    };
    let mut r = run_traffic(&o.common, &o.publish, plan)?;
    r.members = Some(s);
    r.publishers = Some(p);
    r.slow_consumers = Some(k);
    if k == 0 {
        r.slow_dropped = None;
    }
    Ok(r)
}

/// Runs `rooms` and reports.
pub fn run_rooms(o: &RoomsOpts) -> Result<TrafficReport, BenchError> {
    if o.rooms == 0 || o.clients < o.rooms {
        return Err(BenchError::InvalidOption(
            "rooms needs at least one room and one client per room".into(),
        ));
    }
    let rooms: Vec<String> = (0..o.rooms)
        .map(|i| format!("{}-{i}", o.room_prefix))
        .collect();
    let nodes = o.common.addrs.len();
    let plans = (0..o.clients).map(|i| ConnPlan {
        id: i as u32,
        role: Role::Client,
        room: Some((i % o.rooms) as u32),
        node: rooms_node(i, o.rooms, nodes),
    });
    // A room's clients all live on one worker, which keeps its member count.
    let plans = split_plans(plans, o.common.threads, |p| p.room.unwrap_or(0) as usize);
    let plan = TrafficPlan {
        kind: Kind::Rooms,
        scenario: "rooms",
        rooms,
        connections: o.clients,
        publishers: o.clients,
        clients: o.clients,
        plans,
    };
    let mut r = run_traffic(&o.common, &o.publish, plan)?;
    r.clients = Some(o.clients);
    r.rooms = Some(o.rooms);
    r.slow_dropped = None;
    Ok(r)
}

/// What a publishing scenario hands to [`run_traffic`].
struct TrafficPlan {
    kind: Kind,
    scenario: &'static str,
    rooms: Vec<String>,
    connections: usize,
    publishers: usize,
    clients: usize,
    plans: Vec<Vec<ConnPlan>>,
}

fn check_publish(p: &PublishOpts, plan: &TrafficPlan) -> Result<(), BenchError> {
    if p.bytes < MIN_TEXT_LEN || p.bytes > 60_000 {
        return Err(BenchError::InvalidOption(format!(
            "--bytes must be {MIN_TEXT_LEN}..=60000 (the text carries a {}-byte stamp)",
            MIN_TEXT_LEN - 1
        )));
    }
    if p.batch == 0 {
        return Err(BenchError::InvalidOption(
            "--batch must be at least 1".into(),
        ));
    }
    if !(p.rate >= 0.0 && p.rate.is_finite()) {
        return Err(BenchError::InvalidOption(
            "--rate must be 0 or a positive number".into(),
        ));
    }
    if plan.connections > MAX_PUBLISHER_ID as usize + 1 {
        return Err(BenchError::InvalidOption(format!(
            "at most {} connections per run",
            MAX_PUBLISHER_ID as usize + 1
        )));
    }
    if let Some(bad) = plan.rooms.iter().find(|r| !is_valid_room(r)) {
        return Err(BenchError::InvalidOption(format!(
            "{bad:?} is not a valid room name"
        )));
    }
    Ok(())
}

/// Connect, warm up, measure, drain, report.
fn run_traffic(
    c: &CommonOpts,
    p: &PublishOpts,
    plan: TrafficPlan,
) -> Result<TrafficReport, BenchError> {
    check_publish(p, &plan)?;
    if let Some(s) = &c.storm {
        s.check(c.addrs[0])?;
    }
    let nick_base = c.nick_base();
    check_common(c, &nick_base, plan.connections)?;
    let longest_nick = format!("{nick_base}{:x}", plan.connections.saturating_sub(1)).len();
    let longest_room = plan.rooms.iter().map(String::len).max().unwrap_or(0);
    let started = Instant::now();
    let hard_deadline =
        started + SETUP_CAP + p.warmup + p.duration + p.drain + Duration::from_secs(30);
    let cfg = Arc::new(RunConfig {
        kind: plan.kind,
        addrs: c.addrs.clone(),
        sources: plan_sources(c.addrs[0], plan.connections, c.sources),
        token: c.token.clone(),
        tls: c.tls.clone(),
        version: c.version,
        nick_base,
        rooms: plan.rooms,
        text_len: p.bytes,
        batch: p.batch,
        window: p.window,
        rate: p.rate,
        publishers: plan.publishers,
        clients: plan.clients,
        handshake_timeout: c.handshake_timeout,
        concurrency: c.concurrency.div_ceil(c.threads).max(1),
        probe_room: None,
        hard_deadline,
    });
    let mut progress = Progress::new(c.progress);
    let workers = Workers::start(Arc::clone(&cfg), plan.plans)?;
    let total = plan.connections as u64;

    // Setup: everybody connected and joined (or failed).
    workers.wait_until(started + SETUP_CAP, |sh| {
        let ready = sh.ready_all();
        progress.set(format!("connecting  {ready}/{total} ready"));
        ready + sh.failed.load(Relaxed) >= total
    });
    let sh = Arc::clone(&workers.shared);
    let (receivers, publishers) = match plan.kind {
        Kind::Fanout => (sh.ready_in(Role::Member), sh.ready_in(Role::Publisher)),
        _ => (sh.ready_in(Role::Client), sh.ready_in(Role::Client)),
    };
    if receivers == 0 || publishers == 0 {
        let failed = sh.failed.load(Relaxed);
        let first_error = sh.first_error().unwrap_or_else(|| "none recorded".into());
        progress.finish();
        workers.stop();
        return Err(BenchError::NotReady {
            what: if receivers == 0 {
                "receivers"
            } else {
                "publishers"
            },
            failed,
            first_error,
        });
    }
    let info = sh.server.get().cloned();
    if let Some(i) = &info
        && CHAT_OVERHEAD + longest_room + longest_nick + p.bytes > usize::from(i.max_payload)
    {
        progress.finish();
        workers.stop();
        return Err(BenchError::TextTooLong {
            text: p.bytes,
            max_payload: i.max_payload,
            room_len: longest_room,
            nick_len: longest_nick,
        });
    }
    sh.members_at_start.store(receivers, Relaxed);
    sh.publishers_at_start.store(publishers, Relaxed);
    if plan.kind == Kind::Fanout {
        sh.window_deliveries.store(
            p.window
                .saturating_mul(publishers)
                .saturating_mul(receivers),
            Relaxed,
        );
    }

    // Warm-up (the bad-login storm, if any, starts with it).
    let storm = match &c.storm {
        None => None,
        Some(s) => match Storm::start(
            s,
            c.addrs[0],
            c.tls.clone(),
            c.handshake_timeout,
            s.count(p.warmup + p.duration),
            plan.connections,
        ) {
            Ok(storm) => Some(storm),
            Err(e) => {
                progress.finish();
                workers.stop();
                return Err(e);
            }
        },
    };
    sh.set_phase(phase::WARMUP);
    let warm_end = Instant::now() + p.warmup;
    let mut stall = StallWatch::new(p.stall, plan.kind == Kind::Fanout && p.window > 0);
    workers.wait_until(warm_end, |sh| {
        stall.check(sh);
        progress.traffic(
            "warm-up",
            sh.published_total.load(Relaxed),
            sh.delivered_total.load(Relaxed),
        );
        false
    });

    // Measure.
    let server_pid = c.server_pid;
    let rss_before = server_pid.and_then(|pid| procstat::rss_kb(Some(pid)));
    let cpu0 = CpuSnapshot::take(server_pid);
    sh.set_phase(phase::MEASURE);
    let t_measure = Instant::now();
    let measure_end = t_measure + p.duration;
    let dur = p.duration.as_secs_f64();
    workers.wait_until(measure_end, |sh| {
        stall.check(sh);
        let label = format!(
            "measure {:.1}/{dur:.0} s",
            t_measure.elapsed().as_secs_f64()
        );
        progress.traffic(
            &label,
            sh.published_total.load(Relaxed),
            sh.delivered_total.load(Relaxed),
        );
        false
    });
    sh.set_phase(phase::DRAIN);
    if let Some(s) = &storm {
        s.stop_opening();
    }
    let measured_s = t_measure.elapsed().as_secs_f64();
    let cpu = cpu0.usage_until(&CpuSnapshot::take(server_pid));
    let rss_after = server_pid.and_then(|pid| procstat::rss_kb(Some(pid)));

    // Drain: until every expected delivery and echo arrived, or quiet, or capped.
    let t_drain = Instant::now();
    let mut last = (0u64, Instant::now());
    workers.wait_until(t_drain + p.drain, |sh| {
        let got = sh.delivered_measured.load(Relaxed) + sh.echoes_measured.load(Relaxed);
        let want = sh.expected_measured.load(Relaxed) + sh.echoes_expected_measured.load(Relaxed);
        progress.set(format!("draining  {got}/{want}"));
        if got != last.0 {
            last = (got, Instant::now());
        }
        got >= want || last.1.elapsed() >= DRAIN_QUIET
    });
    let drain_s = t_drain.elapsed().as_secs_f64();
    let dropped = sh.dropped_all();
    let hist = workers.stop();
    if storm.is_some() {
        progress.set("waiting for the answers to the bad logins".into());
    }
    let bad_logins = storm.and_then(Storm::finish);
    progress.finish();

    let published = sh.published_measured.load(Relaxed);
    let deliveries = sh.delivered_measured.load(Relaxed);
    let expected = sh.expected_measured.load(Relaxed);
    let deliveries_per_s = deliveries as f64 / measured_s;
    Ok(TrafficReport {
        scenario: plan.scenario,
        addr: c.addr_list(),
        tls: c.tls.is_some(),
        server_name: info.as_ref().map(|i| i.name.clone()),
        max_payload: info.as_ref().map(|i| i.max_payload),
        threads: c.threads,
        members: None,
        publishers: None,
        slow_consumers: None,
        clients: None,
        rooms: None,
        text_bytes: p.bytes,
        warmup_s: p.warmup.as_secs_f64(),
        duration_s: dur,
        measured_s,
        drain_s,
        window: p.window,
        rate: p.rate,
        connections_ready: sh.ready_all(),
        connections_failed: sh.failed.load(Relaxed),
        connections_dropped: dropped,
        receivers_ready: receivers,
        publishers_ready: publishers,
        published,
        published_per_s: published as f64 / measured_s,
        expected_deliveries: expected,
        deliveries,
        deliveries_per_s,
        delivery_ratio: if expected > 0 {
            deliveries as f64 / expected as f64
        } else {
            0.0
        },
        echoes: sh.echoes_measured.load(Relaxed),
        expected_echoes: sh.echoes_expected_measured.load(Relaxed),
        latency: Latency::from_histogram(&hist),
        stalls: sh.stalls.load(Relaxed),
        nonfatal_errors: sh.nonfatal_errors.load(Relaxed),
        bad_payloads: sh.bad_payloads.load(Relaxed),
        slow_dropped: Some(sh.slow_dropped.load(Relaxed)),
        protocol_version: c.version,
        presence_frames: sh.presence_frames.load(Relaxed),
        room_frames: sh.room_frames.load(Relaxed),
        deliveries_per_server_cpu_s: cpu
            .server_pct
            .filter(|&x| x > 0.0)
            .map(|x| deliveries_per_s / (x / 100.0)),
        cpu,
        server_rss_kb_before: rss_before,
        server_rss_kb_after: rss_after,
        server_threads: server_pid.and_then(|pid| procstat::threads(Some(pid))),
        first_error: sh.first_error(),
        bad_logins,
    })
}

/// `fanout` window bookkeeping: if nothing is delivered for a while although
/// messages are in flight, they are written off so publishing goes on.
struct StallWatch {
    after: Duration,
    enabled: bool,
    last_delivered: u64,
    since: Instant,
}

impl StallWatch {
    fn new(after: Duration, enabled: bool) -> Self {
        StallWatch {
            after,
            enabled,
            last_delivered: 0,
            since: Instant::now(),
        }
    }

    fn check(&mut self, sh: &Shared) {
        if !self.enabled {
            return;
        }
        let d = sh.delivered_alive.load(Relaxed);
        if d != self.last_delivered {
            self.last_delivered = d;
            self.since = Instant::now();
            return;
        }
        if self.since.elapsed() >= self.after {
            let lost = sh.in_flight();
            if lost > 0 {
                sh.credit.fetch_add(lost, Relaxed);
                sh.stalls.fetch_add(1, Relaxed);
                sh.wake_all();
            }
            self.since = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(rooms: Vec<String>, connections: usize) -> TrafficPlan {
        TrafficPlan {
            kind: Kind::Fanout,
            scenario: "fanout",
            rooms,
            connections,
            publishers: 1,
            clients: 0,
            plans: Vec::new(),
        }
    }

    #[test]
    fn publish_options_are_checked() {
        let ok = plan(vec!["bench".into()], 10);
        assert!(check_publish(&PublishOpts::default(), &ok).is_ok());
        let short = PublishOpts {
            bytes: 31,
            ..PublishOpts::default()
        };
        assert!(check_publish(&short, &ok).is_err());
        let no_batch = PublishOpts {
            batch: 0,
            ..PublishOpts::default()
        };
        assert!(check_publish(&no_batch, &ok).is_err());
        let nan = PublishOpts {
            rate: f64::NAN,
            ..PublishOpts::default()
        };
        assert!(check_publish(&nan, &ok).is_err());
        assert!(
            check_publish(&PublishOpts::default(), &plan(vec!["two words".into()], 10)).is_err()
        );
        assert!(check_publish(&PublishOpts::default(), &plan(vec!["r".into()], 70_000)).is_err());
    }

    #[test]
    fn scenario_shapes_are_checked_before_connecting() {
        let common = CommonOpts::new("127.0.0.1:9".parse().unwrap());
        let mut f = FanoutOpts::new(common.clone());
        f.publishers = 0;
        assert!(matches!(run_fanout(&f), Err(BenchError::InvalidOption(_))));
        let mut r = RoomsOpts::new(common);
        r.clients = 5;
        r.rooms = 10;
        assert!(matches!(run_rooms(&r), Err(BenchError::InvalidOption(_))));
    }

    #[test]
    fn stall_watch_writes_off_in_flight_deliveries() {
        let sh = Shared::new(Vec::new());
        sh.members_alive.store(2, Relaxed);
        sh.published_total.store(5, Relaxed);
        let mut w = StallWatch::new(Duration::ZERO, true);
        w.check(&sh);
        assert_eq!(sh.in_flight(), 0);
        assert_eq!(sh.stalls.load(Relaxed), 1);
        assert_eq!(sh.credit.load(Relaxed), 10);
        let mut off = StallWatch::new(Duration::ZERO, false);
        sh.published_total.store(6, Relaxed);
        off.check(&sh);
        assert_eq!(sh.stalls.load(Relaxed), 1);
    }
}
