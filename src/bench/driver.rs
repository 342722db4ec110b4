//! Starting, pacing and stopping the worker threads of one run, and the
//! options every scenario shares.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mio::{Poll, Waker};

use crate::bench::conn::ConnPlan;
use crate::bench::error::BenchError;
use crate::bench::procstat;
use crate::bench::shared::{RunConfig, Shared, phase};
use crate::bench::storm::StormOpts;
use crate::bench::transport::BenchTls;
use crate::bench::worker::{WAKE_TOKEN, Worker, WorkerOutput, new_histogram};
use crate::codec::{PROTOCOL_V2, is_supported_version, is_valid_nick};

/// How often the coordinating thread looks at the counters.
pub const TICK: Duration = Duration::from_millis(10);
/// Most seconds allowed for connecting and registering everybody.
pub const SETUP_CAP: Duration = Duration::from_secs(180);
/// Open files kept free besides the connections.
const FD_MARGIN: usize = 64;

/// Options every scenario shares.
#[derive(Debug, Clone)]
pub struct CommonOpts {
    /// The servers: one, or several nodes of a cluster (connections are
    /// spread over them, see [`crate::bench::nodes`]). Never empty.
    pub addrs: Vec<SocketAddr>,
    /// HELLO token (empty if the server has no password).
    pub token: String,
    /// `--tls`: TLS to every server, verified as the client verifies.
    pub tls: Option<BenchTls>,
    /// `--bad-logins`: a storm of wrong passwords beside the workload
    /// (`fanout` and `rooms` only).
    pub storm: Option<StormOpts>,
    /// Protocol version said in HELLO (2; 1 to compare with version 1).
    pub version: u8,
    /// Nick prefix; nicks are prefix + 4 hex digits of run id + connection id in hex.
    pub nick_prefix: String,
    /// Generator threads.
    pub threads: usize,
    /// Handshakes in flight at most (over all threads).
    pub concurrency: usize,
    /// Per-connection connect + handshake timeout.
    pub handshake_timeout: Duration,
    /// Server PID for CPU and RSS readings.
    pub server_pid: Option<u32>,
    /// 127.0.0.x source addresses to spread over (0 = automatic).
    pub sources: usize,
    /// Show the progress line (on a terminal).
    pub progress: bool,
}

impl CommonOpts {
    /// Defaults: one thread per core, 64 handshakes in flight, 15 s handshake timeout.
    pub fn new(addr: SocketAddr) -> Self {
        CommonOpts::with_addrs(vec![addr])
    }

    /// The same defaults against several servers (`addrs` must not be empty).
    pub fn with_addrs(addrs: Vec<SocketAddr>) -> Self {
        CommonOpts {
            addrs,
            token: String::new(),
            tls: None,
            storm: None,
            version: PROTOCOL_V2,
            nick_prefix: "sb".to_string(),
            threads: default_threads(),
            concurrency: 64,
            handshake_timeout: Duration::from_secs(15),
            server_pid: None,
            sources: 0,
            progress: false,
        }
    }

    /// The servers as the report shows them: `A` or `A,B,...`.
    pub fn addr_list(&self) -> String {
        let list: Vec<String> = self.addrs.iter().map(ToString::to_string).collect();
        list.join(",")
    }

    /// The nick base of this run: prefix plus a 4-hex-digit run id.
    pub fn nick_base(&self) -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let run = (std::process::id() ^ nanos ^ (nanos >> 16)) & 0xffff;
        format!("{}{run:04x}", self.nick_prefix)
    }
}

/// Number of cores, at least 1.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Resolves `HOST:PORT` to its first socket address.
pub fn resolve(addr: &str) -> Result<SocketAddr, BenchError> {
    let err = |reason: String| BenchError::Resolve {
        addr: addr.to_string(),
        reason,
    };
    addr.to_socket_addrs()
        .map_err(|e| err(e.to_string()))?
        .next()
        .ok_or_else(|| err("no address".into()))
}

/// Checks the common options and that the nick of the highest connection id is valid.
pub fn check_common(c: &CommonOpts, nick_base: &str, connections: usize) -> Result<(), BenchError> {
    if c.addrs.is_empty() || c.addrs.len() > usize::from(u16::MAX) {
        return Err(BenchError::InvalidOption("give 1..=65535 --addr".into()));
    }
    if c.threads == 0 || c.threads > 256 {
        return Err(BenchError::InvalidOption(
            "--threads must be 1..=256".into(),
        ));
    }
    if c.token.len() > usize::from(u8::MAX) {
        return Err(BenchError::InvalidOption(
            "--token must be at most 255 bytes".into(),
        ));
    }
    if !is_supported_version(c.version) {
        return Err(BenchError::InvalidOption(
            "--protocol must be 1 or 2".into(),
        ));
    }
    if c.concurrency == 0 {
        return Err(BenchError::InvalidOption(
            "--concurrency must be at least 1".into(),
        ));
    }
    let longest = format!("{nick_base}{:x}", connections.saturating_sub(1));
    if !is_valid_nick(&longest) {
        return Err(BenchError::InvalidOption(format!(
            "--nick-prefix gives nicks like {longest:?}, not a valid nick (at most 32 bytes, no spaces)"
        )));
    }
    let limit = procstat::raise_nofile_limit();
    if (limit as usize) < connections + FD_MARGIN {
        return Err(BenchError::FileLimit {
            limit,
            needed: connections,
        });
    }
    Ok(())
}

/// Worker threads of a running scenario.
pub struct Workers {
    /// The shared state.
    pub shared: Arc<Shared>,
    handles: Vec<JoinHandle<WorkerOutput>>,
}

impl Workers {
    /// Starts one worker per plan list; they begin connecting at once.
    pub fn start(cfg: Arc<RunConfig>, plans: Vec<Vec<ConnPlan>>) -> Result<Workers, BenchError> {
        let mut polls = Vec::with_capacity(plans.len());
        let mut wakers = Vec::with_capacity(plans.len());
        for _ in 0..plans.len() {
            let poll = Poll::new()?;
            wakers.push(Waker::new(poll.registry(), WAKE_TOKEN)?);
            polls.push(poll);
        }
        let shared = Arc::new(Shared::new(wakers));
        let mut handles = Vec::with_capacity(plans.len());
        for (i, (poll, plan)) in polls.into_iter().zip(plans).enumerate() {
            let w = Worker::new(i, Arc::clone(&cfg), Arc::clone(&shared), poll, plan);
            let spawned = std::thread::Builder::new()
                .name(format!("bench-{i}"))
                .spawn(move || w.run());
            match spawned {
                Ok(h) => handles.push(h),
                Err(e) => {
                    let started = Workers { shared, handles };
                    started.stop();
                    return Err(BenchError::Setup(e));
                }
            }
        }
        Ok(Workers { shared, handles })
    }

    /// Calls `tick` every [`TICK`] until it returns true or `deadline` passes;
    /// returns whether `tick` said done.
    pub fn wait_until(&self, deadline: Instant, mut tick: impl FnMut(&Shared) -> bool) -> bool {
        loop {
            if tick(&self.shared) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(TICK);
        }
    }

    /// Ends the run: SHUTDOWN, join every worker, merge their histograms.
    pub fn stop(self) -> Histogram<u64> {
        self.shared.set_phase(phase::SHUTDOWN);
        let mut hist = new_histogram();
        for h in self.handles {
            if let Ok(out) = h.join() {
                // Same bounds everywhere: adding cannot fail.
                let _ = hist.add(&out.hist);
            }
        }
        hist
    }
}

/// Spreads `plans` over `threads` lists by `worker_of`.
pub fn split_plans(
    plans: impl IntoIterator<Item = ConnPlan>,
    threads: usize,
    worker_of: impl Fn(&ConnPlan) -> usize,
) -> Vec<Vec<ConnPlan>> {
    let mut out = vec![Vec::new(); threads.max(1)];
    for p in plans {
        let w = worker_of(&p) % out.len();
        out[w].push(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::shared::Role;

    #[test]
    fn nick_base_is_prefix_plus_four_hex_digits() {
        let c = CommonOpts::new("127.0.0.1:1".parse().unwrap());
        let b = c.nick_base();
        assert_eq!(b.len(), 6);
        assert!(b.starts_with("sb"));
        assert!(b[2..].chars().all(|ch| ch.is_ascii_hexdigit()));
        // 19,999 connections: nick of 11 bytes, well under 13
        assert!(format!("{b}{:x}", 19_999).len() <= 13);
    }

    #[test]
    fn common_checks() {
        let mut c = CommonOpts::new("127.0.0.1:1".parse().unwrap());
        assert!(check_common(&c, "sb0000", 100).is_ok());
        c.threads = 0;
        assert!(matches!(
            check_common(&c, "sb0000", 100),
            Err(BenchError::InvalidOption(_))
        ));
        c.threads = 1;
        c.token = "t".repeat(256);
        assert!(matches!(
            check_common(&c, "sb0000", 100),
            Err(BenchError::InvalidOption(_))
        ));
        c.token.clear();
        assert!(matches!(
            check_common(&c, "with space", 100),
            Err(BenchError::InvalidOption(_))
        ));
        assert!(matches!(
            check_common(&c, &"x".repeat(31), 100),
            Err(BenchError::InvalidOption(_))
        ));
        assert!(matches!(
            check_common(&c, "sb0000", 10_000_000),
            Err(BenchError::FileLimit { .. })
        ));
    }

    #[test]
    fn resolve_and_split() {
        assert_eq!(resolve("127.0.0.1:7000").unwrap().port(), 7000);
        assert!(resolve("no-port-here").is_err());
        let plans = (0..10).map(|id| ConnPlan {
            id,
            role: Role::Idle,
            room: None,
            node: 0,
        });
        let split = split_plans(plans, 3, |p| p.id as usize);
        assert_eq!(split.iter().map(Vec::len).collect::<Vec<_>>(), [4, 3, 3]);
        assert_eq!(split[1][0].id, 1);
    }
}
