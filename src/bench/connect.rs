//! The `connect` scenario: N connections registered (and joined to a room if
//! asked; otherwise they sit in the server's default room) and held idle;
//! the connect+register rate, the server's resident memory per connection,
//! and a final PING to check every one is alive. With `--rounds R` it then
//! closes every connection at once, waits for the server to go idle
//! (`--server-pid`: its CPU time stops growing) and reads its memory again,
//! and does it all again on the same server, R times.
//!
//! With `--probe N` one more client says N messages in the probe room
//! (`--probe-room`, else `--room`, else `lobby`, the server's usual default
//! room) once everyone is registered, and the report counts how many of
//! them the idle connections received (each should get all N). Above
//! `--max-clients-per-process` connections the run is spread over child
//! processes of this program ([`crate::bench::spread`]).

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use crate::bench::conn::ConnPlan;
use crate::bench::driver::{CommonOpts, SETUP_CAP, Workers, check_common, split_plans};
use crate::bench::error::BenchError;
use crate::bench::nodes::connect_node;
use crate::bench::procstat::{self, CpuSnapshot};
use crate::bench::progress::Progress;
use crate::bench::report::{ConnectReport, RoundReport, si};
use crate::bench::shared::{Kind, Role, RunConfig, phase};
use crate::bench::sources::plan_sources;
use crate::codec::is_valid_room;

/// Most time to wait for the PONGs of the final probe.
const PROBE_WAIT: Duration = Duration::from_secs(10);
/// The most rounds one run makes.
pub const MAX_ROUNDS: usize = 100;
/// After everyone left, the server counts as idle once its CPU time has not
/// grown for this long.
const IDLE_QUIET: Duration = Duration::from_millis(300);
/// Most time to wait for the server to go idle after everyone left.
const IDLE_CAP: Duration = Duration::from_secs(120);

/// Options of `connect`.
#[derive(Debug, Clone)]
pub struct ConnectOpts {
    /// Shared options.
    pub common: CommonOpts,
    /// Connections (N).
    pub connections: usize,
    /// Room to join after registering (ready on its JOINED); `None`: ready at WELCOME.
    pub room: Option<String>,
    /// Wait this long after the last registration before reading the server's RSS.
    pub settle: Duration,
    /// Rounds of connecting everyone and closing them all (1..=[`MAX_ROUNDS`]).
    pub rounds: usize,
    /// Probe messages said in the probe room once everyone is registered.
    pub probe: u64,
    /// The room the probes go to (default: `room`, else [`DEFAULT_PROBE_ROOM`]).
    pub probe_room: Option<String>,
    /// Time between two probe messages.
    pub probe_interval: Duration,
    /// Most connections one process holds; above it the run is spread over
    /// child processes (`None`: the open-files limit less [`FD_SPARE`]).
    pub max_per_process: Option<usize>,
    /// The program the child processes run (default: this executable).
    pub child_exe: Option<std::path::PathBuf>,
}

/// The probe room when neither `--probe-room` nor `--room` is given.
pub const DEFAULT_PROBE_ROOM: &str = "lobby";

/// Open files a process of the run keeps free besides its connections.
pub const FD_SPARE: usize = 100;

/// The most probe messages one run says.
pub const MAX_PROBES: u64 = 10_000;

impl ConnectOpts {
    /// N=15,000, no room, 2 s settle, one round.
    pub fn new(common: CommonOpts) -> Self {
        ConnectOpts {
            common,
            connections: 15_000,
            room: None,
            settle: Duration::from_secs(2),
            rounds: 1,
            probe: 0,
            probe_room: None,
            probe_interval: Duration::from_millis(100),
            max_per_process: None,
            child_exe: None,
        }
    }

    /// The room the probes go to.
    pub fn probe_room(&self) -> &str {
        self.probe_room
            .as_deref()
            .or(self.room.as_deref())
            .unwrap_or(DEFAULT_PROBE_ROOM)
    }

    /// Most connections this process may hold.
    pub fn per_process(&self) -> usize {
        self.max_per_process
            .unwrap_or_else(|| (procstat::raise_nofile_limit() as usize).saturating_sub(FD_SPARE))
            .max(1)
    }

    /// Checks what does not depend on the network.
    pub fn check(&self) -> Result<(), BenchError> {
        if self.common.storm.is_some() {
            return Err(BenchError::InvalidOption(
                "--bad-logins goes with fanout or rooms (a chat workload to measure)".into(),
            ));
        }
        if self.connections == 0 {
            return Err(BenchError::InvalidOption(
                "connect needs at least one connection".into(),
            ));
        }
        if self.rounds == 0 || self.rounds > MAX_ROUNDS {
            return Err(BenchError::InvalidOption(format!(
                "--rounds must be 1..={MAX_ROUNDS}"
            )));
        }
        for r in self.room.iter().chain(self.probe_room.iter()) {
            if !is_valid_room(r) {
                return Err(BenchError::InvalidOption(format!(
                    "{r:?} is not a valid room name"
                )));
            }
        }
        if self.probe > MAX_PROBES {
            return Err(BenchError::InvalidOption(format!(
                "--probe must be 0..={MAX_PROBES}"
            )));
        }
        Ok(())
    }
}

/// The nick base of round `round` of `rounds`: the run's base alone for a
/// single round, else with `r{round}_` appended (the `_` keeps the hex
/// connection numbers that follow from running into the round number).
fn round_nick_base(base: &str, rounds: usize, round: usize) -> String {
    if rounds <= 1 {
        base.to_owned()
    } else {
        format!("{base}r{round}_")
    }
}

/// Runs `connect` and reports.
pub fn run_connect(o: &ConnectOpts) -> Result<ConnectReport, BenchError> {
    let c = &o.common;
    o.check()?;
    if o.connections > o.per_process() {
        return crate::bench::spread::run_spread(o);
    }
    let base = c.nick_base();
    check_common(
        c,
        &round_nick_base(&base, o.rounds, o.rounds - 1),
        o.connections,
    )?;
    let progress = Progress::new(c.progress);
    // Memory per connection is counted from the server's RSS before the
    // first round: later rounds reuse what earlier ones allocated.
    let baseline_rss = c.server_pid.and_then(|pid| procstat::rss_kb(Some(pid)));
    let mut rounds = Vec::with_capacity(o.rounds);
    let mut server_name = None;
    let mut first_error = None;
    let mut source_addresses = 0;
    for round in 0..o.rounds {
        let nick_base = round_nick_base(&base, o.rounds, round);
        let r = run_round(o, &nick_base, round, baseline_rss, &progress)?;
        server_name = server_name.or(r.server_name);
        first_error = first_error.or(r.first_error);
        source_addresses = r.source_addresses;
        rounds.push(r.report);
    }
    progress.finish();
    let first = &rounds[0];
    Ok(ConnectReport {
        scenario: "connect",
        addr: c.addr_list(),
        tls: c.tls.is_some(),
        server_name,
        threads: c.threads,
        room: o.room.clone(),
        connections: o.connections,
        concurrency: c.concurrency,
        source_addresses,
        protocol_version: c.version,
        registered: first.registered,
        failed: first.failed,
        dropped: first.dropped,
        alive_at_end: first.alive_at_end,
        connect_s: first.connect_s,
        connects_per_s: first.connects_per_s,
        settle_s: o.settle.as_secs_f64(),
        server_rss_kb_before: first.server_rss_kb_before,
        server_rss_kb_after: first.server_rss_kb_after,
        rss_per_connection_bytes: first.rss_per_connection_bytes,
        generator_rss_kb: procstat::rss_kb(None),
        cpu: first.cpu,
        server_threads: c.server_pid.and_then(|pid| procstat::threads(Some(pid))),
        presence_frames: rounds.iter().map(|r| r.presence_frames).sum(),
        room_frames: rounds.iter().map(|r| r.room_frames).sum(),
        processes: 1,
        probe_room: (o.probe > 0).then(|| o.probe_room().to_owned()),
        probes_sent: first.probes_sent,
        probe_deliveries: first.probe_deliveries,
        probe_expected: first.probe_expected,
        rounds,
        first_error,
    })
}

/// How long saying the probes may take at most (pacing plus echoes).
pub fn probe_time(o: &ConnectOpts) -> Duration {
    o.probe_interval
        .saturating_mul(u32::try_from(o.probe).unwrap_or(u32::MAX))
        .saturating_add(PROBE_WAIT)
}

/// Says the probes from one more client on the first address; returns how
/// many were said and echoed.
pub fn send_probes(
    o: &ConnectOpts,
    nick_base: &str,
) -> Result<u64, crate::bench::probe::ProbeError> {
    let c = &o.common;
    crate::bench::probe::publish_probes(
        &crate::bench::probe::ProbeTarget {
            addr: c.addrs[0],
            tls: c.tls.as_ref(),
        },
        &format!("{nick_base}p"),
        &c.token,
        c.version,
        o.probe_room(),
        o.probe,
        o.probe_interval,
        c.handshake_timeout.max(PROBE_WAIT),
    )
    .map(|s| s.echoed)
}

/// What one round found.
struct Round {
    report: RoundReport,
    server_name: Option<String>,
    first_error: Option<String>,
    source_addresses: usize,
}

/// Connects everyone, settles, reads the server's memory, probes, closes
/// every connection at once and (with a server PID) waits for the server
/// to go idle.
fn run_round(
    o: &ConnectOpts,
    nick_base: &str,
    round: usize,
    baseline_rss: Option<u64>,
    progress: &Progress,
) -> Result<Round, BenchError> {
    let c = &o.common;
    let sources = plan_sources(c.addrs[0], o.connections, c.sources);
    let source_addresses = sources.len();
    let started = Instant::now();
    let cfg = Arc::new(RunConfig {
        kind: Kind::Connect,
        addrs: c.addrs.clone(),
        sources,
        token: c.token.clone(),
        tls: c.tls.clone(),
        version: c.version,
        nick_base: nick_base.to_owned(),
        rooms: o.room.iter().cloned().collect(),
        text_len: 0,
        batch: 1,
        window: 0,
        rate: 0.0,
        publishers: 0,
        clients: 0,
        handshake_timeout: c.handshake_timeout,
        concurrency: c.concurrency.div_ceil(c.threads).max(1),
        probe_room: (o.probe > 0).then(|| o.probe_room().to_owned()),
        hard_deadline: started
            + SETUP_CAP
            + o.settle
            + probe_time(o)
            + PROBE_WAIT
            + Duration::from_secs(30),
    });
    let room = o.room.as_ref().map(|_| 0u32);
    let nodes = c.addrs.len();
    let plans = (0..o.connections).map(|i| ConnPlan {
        id: i as u32,
        role: Role::Idle,
        room,
        node: connect_node(i, nodes),
    });
    let plans = split_plans(plans, c.threads, |p| p.id as usize);
    let server_pid = c.server_pid;
    let rss_before = server_pid.and_then(|pid| procstat::rss_kb(Some(pid)));
    let cpu0 = CpuSnapshot::take(server_pid);
    let t0 = Instant::now();
    let workers = Workers::start(cfg, plans)?;
    let total = o.connections as u64;
    let label = if o.rounds > 1 {
        format!("round {}/{}: ", round + 1, o.rounds)
    } else {
        String::new()
    };

    let mut last = (0u64, Instant::now());
    workers.wait_until(t0 + SETUP_CAP, |sh| {
        let ready = sh.ready_all();
        if last.1.elapsed() >= Duration::from_millis(250) {
            let rate = (ready - last.0) as f64 / last.1.elapsed().as_secs_f64();
            progress.set(format!(
                "{label}connecting  {ready}/{total} registered  {}/s",
                si(rate)
            ));
            last = (ready, Instant::now());
        }
        ready + sh.failed.load(Relaxed) >= total
    });
    let connect_s = t0.elapsed().as_secs_f64();
    let cpu = cpu0.usage_until(&CpuSnapshot::take(server_pid));
    let sh = Arc::clone(&workers.shared);
    let registered = sh.ready_all();

    progress.set(format!(
        "{label}holding {registered} connections for {:?}",
        o.settle
    ));
    std::thread::sleep(o.settle);
    let rss_after = server_pid.and_then(|pid| procstat::rss_kb(Some(pid)));

    let mut probe_error = None;
    let probes_sent = if o.probe > 0 {
        progress.set(format!("{label}saying {} probe messages", o.probe));
        match send_probes(o, nick_base) {
            Ok(sent) => sent,
            Err(e) => {
                probe_error = Some(e.to_string());
                0
            }
        }
    } else {
        0
    };
    let probe_expected = registered * probes_sent;
    sh.set_phase(phase::PROBE);
    workers.wait_until(Instant::now() + PROBE_WAIT, |sh| {
        let pongs = sh.pongs.load(Relaxed);
        let probes = sh.probes.load(Relaxed);
        progress.set(format!(
            "{label}probing  {pongs}/{registered} answered  {probes}/{probe_expected} probe deliveries"
        ));
        pongs + sh.dropped_all() >= registered && probes >= probe_expected
    });
    let probe_deliveries = sh.probes.load(Relaxed);
    let alive_at_end = sh.pongs.load(Relaxed);
    let dropped = sh.dropped_all();
    progress.set(format!("{label}closing {registered} connections at once"));
    // A server in this very process (tests) shares its CPU time with the
    // generator: its idleness cannot be told apart, so it is not measured.
    let separate = server_pid.filter(|&pid| pid != std::process::id());
    let left_at = Instant::now();
    let ticks_then = separate.and_then(|pid| procstat::cpu_ticks(Some(pid)));
    workers.stop();
    let idle = separate
        .and_then(|pid| procstat::wait_idle(pid, left_at, ticks_then, IDLE_QUIET, IDLE_CAP));
    let rss_after_leave = server_pid.and_then(|pid| procstat::rss_kb(Some(pid)));

    Ok(Round {
        report: RoundReport {
            round: round + 1,
            registered,
            failed: sh.failed.load(Relaxed),
            dropped,
            alive_at_end,
            connect_s,
            connects_per_s: registered as f64 / connect_s.max(1e-9),
            server_rss_kb_before: rss_before,
            server_rss_kb_after: rss_after,
            rss_per_connection_bytes: baseline_rss
                .zip(rss_after)
                .filter(|_| registered > 0)
                .map(|(b, a)| (a as f64 - b as f64) * 1024.0 / registered as f64),
            idle_after_leave_s: idle.map(|d| d.as_secs_f64()),
            server_rss_kb_after_leave: rss_after_leave,
            presence_frames: sh.presence_frames.load(Relaxed),
            room_frames: sh.room_frames.load(Relaxed),
            cpu,
            probes_sent,
            probe_deliveries,
            probe_expected,
        },
        server_name: sh.server.get().map(|i| i.name.clone()),
        first_error: probe_error.or_else(|| sh.first_error()),
        source_addresses,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked_before_connecting() {
        let common = CommonOpts::new("127.0.0.1:9".parse().unwrap());
        let mut o = ConnectOpts::new(common);
        o.connections = 0;
        assert!(matches!(run_connect(&o), Err(BenchError::InvalidOption(_))));
        o.connections = 1;
        o.room = Some("bad room".into());
        assert!(matches!(run_connect(&o), Err(BenchError::InvalidOption(_))));
        o.room = None;
        o.rounds = 0;
        assert!(matches!(run_connect(&o), Err(BenchError::InvalidOption(_))));
        o.rounds = MAX_ROUNDS + 1;
        assert!(matches!(run_connect(&o), Err(BenchError::InvalidOption(_))));
    }

    #[test]
    fn rounds_get_nick_bases_that_cannot_collide() {
        assert_eq!(round_nick_base("sb12ab", 1, 0), "sb12ab");
        assert_eq!(round_nick_base("sb12ab", 3, 2), "sb12abr2_");
        // Round 1, connection 0x10 and round 11, connection 0 differ.
        let a = format!("{}{:x}", round_nick_base("b", 12, 1), 0x10);
        let b = format!("{}{:x}", round_nick_base("b", 12, 11), 0);
        assert_ne!(a, b);
    }

    #[test]
    fn nothing_listening_means_every_connection_fails() {
        // Bind then drop a listener: its port is (almost surely) closed now.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let mut common = CommonOpts::new(addr);
        common.threads = 2;
        common.handshake_timeout = Duration::from_secs(2);
        let mut o = ConnectOpts::new(common);
        o.connections = 5;
        o.settle = Duration::ZERO;
        o.rounds = 2;
        let r = run_connect(&o).unwrap();
        assert_eq!(r.registered, 0);
        assert_eq!(r.failed, 5);
        assert_eq!(r.rounds.len(), 2);
        assert!(r.rounds.iter().all(|x| x.failed == 5));
        assert!(!r.ok());
        assert!(r.first_error.unwrap().contains("connect"));
    }
}
