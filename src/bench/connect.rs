//! The `connect` scenario: N connections registered (and joined to a room if
//! asked) and held idle; the connect+register rate, the server's resident
//! memory per connection, and a final PING to check every one is alive.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use crate::bench::conn::ConnPlan;
use crate::bench::driver::{CommonOpts, SETUP_CAP, Workers, check_common, split_plans};
use crate::bench::error::BenchError;
use crate::bench::procstat::{self, CpuSnapshot};
use crate::bench::progress::Progress;
use crate::bench::report::{ConnectReport, si};
use crate::bench::shared::{Kind, Role, RunConfig, phase};
use crate::bench::sources::plan_sources;
use crate::codec::is_valid_room;

/// Most time to wait for the PONGs of the final probe.
const PROBE_WAIT: Duration = Duration::from_secs(10);

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
}

impl ConnectOpts {
    /// N=15,000, no room, 2 s settle.
    pub fn new(common: CommonOpts) -> Self {
        ConnectOpts {
            common,
            connections: 15_000,
            room: None,
            settle: Duration::from_secs(2),
        }
    }
}

/// Runs `connect` and reports.
pub fn run_connect(o: &ConnectOpts) -> Result<ConnectReport, BenchError> {
    let c = &o.common;
    if o.connections == 0 {
        return Err(BenchError::InvalidOption(
            "connect needs at least one connection".into(),
        ));
    }
    if let Some(r) = o.room.as_deref()
        && !is_valid_room(r)
    {
        return Err(BenchError::InvalidOption(format!(
            "{r:?} is not a valid room name"
        )));
    }
    let nick_base = c.nick_base();
    check_common(c, &nick_base, o.connections)?;
    let sources = plan_sources(c.addr, o.connections, c.sources);
    let source_addresses = sources.len();
    let started = Instant::now();
    let cfg = Arc::new(RunConfig {
        kind: Kind::Connect,
        addr: c.addr,
        sources,
        token: c.token.clone(),
        nick_base,
        rooms: o.room.iter().cloned().collect(),
        text_len: 0,
        batch: 1,
        window: 0,
        rate: 0.0,
        publishers: 0,
        clients: 0,
        handshake_timeout: c.handshake_timeout,
        concurrency: c.concurrency.div_ceil(c.threads).max(1),
        hard_deadline: started + SETUP_CAP + o.settle + PROBE_WAIT + Duration::from_secs(30),
    });
    let room = o.room.as_ref().map(|_| 0u32);
    let plans = (0..o.connections).map(|i| ConnPlan {
        id: i as u32,
        role: Role::Idle,
        room,
    });
    let plans = split_plans(plans, c.threads, |p| p.id as usize);
    let server_pid = c.server_pid;
    let rss_before = server_pid.and_then(|pid| procstat::rss_kb(Some(pid)));
    let cpu0 = CpuSnapshot::take(server_pid);
    let progress = Progress::new(c.progress);
    let t0 = Instant::now();
    let workers = Workers::start(cfg, plans)?;
    let total = o.connections as u64;

    let mut last = (0u64, Instant::now());
    workers.wait_until(t0 + SETUP_CAP, |sh| {
        let ready = sh.ready_all();
        if last.1.elapsed() >= Duration::from_millis(250) {
            let rate = (ready - last.0) as f64 / last.1.elapsed().as_secs_f64();
            progress.set(format!(
                "connecting  {ready}/{total} registered  {}/s",
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
        "holding {registered} connections for {:?}",
        o.settle
    ));
    std::thread::sleep(o.settle);
    let rss_after = server_pid.and_then(|pid| procstat::rss_kb(Some(pid)));

    sh.set_phase(phase::PROBE);
    workers.wait_until(Instant::now() + PROBE_WAIT, |sh| {
        let pongs = sh.pongs.load(Relaxed);
        progress.set(format!("probing  {pongs}/{registered} answered"));
        pongs + sh.dropped_all() >= registered
    });
    let alive_at_end = sh.pongs.load(Relaxed);
    let dropped = sh.dropped_all();
    let generator_rss_kb = procstat::rss_kb(None);
    workers.stop();
    progress.finish();

    Ok(ConnectReport {
        scenario: "connect",
        addr: c.addr.to_string(),
        server_name: sh.server.get().map(|i| i.name.clone()),
        threads: c.threads,
        room: o.room.clone(),
        connections: o.connections,
        concurrency: c.concurrency,
        source_addresses,
        registered,
        failed: sh.failed.load(Relaxed),
        dropped,
        alive_at_end,
        connect_s,
        connects_per_s: registered as f64 / connect_s.max(1e-9),
        settle_s: o.settle.as_secs_f64(),
        server_rss_kb_before: rss_before,
        server_rss_kb_after: rss_after,
        rss_per_connection_bytes: rss_before
            .zip(rss_after)
            .filter(|_| registered > 0)
            .map(|(b, a)| (a as f64 - b as f64) * 1024.0 / registered as f64),
        generator_rss_kb,
        cpu,
        server_threads: server_pid.and_then(|pid| procstat::threads(Some(pid))),
        first_error: sh.first_error(),
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
        let r = run_connect(&o).unwrap();
        assert_eq!(r.registered, 0);
        assert_eq!(r.failed, 5);
        assert!(!r.ok());
        assert!(r.first_error.unwrap().contains("connect"));
    }
}
