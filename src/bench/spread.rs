//! `connect` over several processes: one process may hold at most its
//! open-files limit of sockets (20,000 here), so a run of more connections
//! than `--max-clients-per-process` starts child processes of this very
//! program, each holding a share of the connections, and merges what they
//! report.
//!
//! The parent and its children talk over the children's stdin and stdout,
//! one line at a time:
//!
//! 1. The parent starts K children (`bench connect --child-offset O
//!    --nick-base B -n SHARE ...`): the same addresses, one nick base, and
//!    run-wide connection ids `O..O+SHARE`, so nicks never collide and the
//!    addresses keep their round-robin across processes.
//! 2. Each child connects its share and prints `ready {json}`.
//! 3. Once every child is ready (or gone), the parent measures the time
//!    to connect them all, lets them settle, reads the server's memory,
//!    says the probes itself (`--probe`), and writes `probe N` to every child.
//! 4. Each child PINGs every connection, waits for the PONGs and for N
//!    probe messages per connection (bounded), prints `done {json}` and
//!    closes everything.
//!
//! Every wait is bounded; a child that exits early counts its connections
//! as failed; children still running at the end are killed by their handle.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::bench::conn::ConnPlan;
use crate::bench::connect::{ConnectOpts, probe_time, send_probes};
use crate::bench::driver::{SETUP_CAP, Workers, check_common, split_plans};
use crate::bench::error::BenchError;
use crate::bench::nodes::connect_node;
use crate::bench::procstat::{self, CpuSnapshot};
use crate::bench::progress::Progress;
use crate::bench::report::{ConnectReport, RoundReport, si};
use crate::bench::shared::{Kind, Role, RunConfig, phase};
use crate::bench::sources::plan_sources;

/// Most time to wait for the PONGs and probes after `probe N`.
const PROBE_WAIT: Duration = Duration::from_secs(20);
/// Most time to wait for the children to exit after they reported.
const EXIT_WAIT: Duration = Duration::from_secs(30);
/// The most child processes one run starts.
pub const MAX_CHILDREN: usize = 64;

/// What a child of a spread run is (hidden flags of `bench connect`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildSpec {
    /// The run-wide id of its first connection.
    pub offset: usize,
    /// The run's nick base, shared by every child.
    pub nick_base: String,
}

/// What a child reports (in its `ready` line, then in full in `done`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildFigures {
    /// Connections registered.
    pub registered: u64,
    /// Connections that never registered.
    pub failed: u64,
    /// Registered connections closed before the end.
    pub dropped: u64,
    /// Connections that answered the final PING.
    pub alive_at_end: u64,
    /// Probe-room MESSAGEs its connections received.
    pub probes: u64,
    /// JOINED, LEFT and MEMBERS frames received.
    pub presence_frames: u64,
    /// ROOM frames received.
    pub room_frames: u64,
    /// Its own RSS, KiB.
    pub rss_kb: Option<u64>,
    /// The server name from WELCOME.
    pub server_name: Option<String>,
    /// The first error one of its connections met.
    pub first_error: Option<String>,
}

/// How `share` connections from id `offset` are planned (run-wide ids keep
/// the addresses' round-robin across processes).
fn plans(o: &ConnectOpts, offset: usize, share: usize) -> impl Iterator<Item = ConnPlan> {
    let nodes = o.common.addrs.len();
    let room = o.room.as_ref().map(|_| 0u32);
    (offset..offset + share).map(move |i| ConnPlan {
        id: i as u32,
        role: Role::Idle,
        room,
        node: connect_node(i, nodes),
    })
}

/// Runs one child: connects `o.connections` connections from
/// `spec.offset`, reports on stdout, waits for the parent's word on stdin.
pub fn run_child(o: &ConnectOpts, spec: &ChildSpec) -> Result<(), BenchError> {
    let c = &o.common;
    o.check()?;
    let share = o.connections;
    // The open-files check is for this child's share; the nicks run on
    // from the offset, so the longest one is checked for the whole run.
    check_common(c, &spec.nick_base, share)?;
    let longest = format!(
        "{}{:x}",
        spec.nick_base,
        (spec.offset + share).saturating_sub(1)
    );
    if !crate::codec::is_valid_nick(&longest) {
        return Err(BenchError::InvalidOption(format!(
            "--nick-base gives nicks like {longest:?}, not a valid nick"
        )));
    }
    let started = Instant::now();
    let cfg = Arc::new(RunConfig {
        kind: Kind::Connect,
        addrs: c.addrs.clone(),
        sources: plan_sources(c.addrs[0], share, c.sources),
        token: c.token.clone(),
        tls: c.tls.clone(),
        version: c.version,
        nick_base: spec.nick_base.clone(),
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
        // The parent waits for every child to connect, then settles and
        // probes: allow for all of it.
        hard_deadline: started
            + SETUP_CAP * 2
            + o.settle
            + probe_time(o)
            + PROBE_WAIT
            + Duration::from_secs(60),
    });
    let split = split_plans(plans(o, spec.offset, share), c.threads, |p| p.id as usize);
    let workers = Workers::start(cfg, split)?;
    let total = share as u64;
    workers.wait_until(started + SETUP_CAP, |sh| {
        sh.ready_all() + sh.failed.load(Relaxed) >= total
    });
    let sh = Arc::clone(&workers.shared);
    let figures = |sh: &crate::bench::shared::Shared| ChildFigures {
        registered: sh.ready_all(),
        failed: sh.failed.load(Relaxed),
        dropped: sh.dropped_all(),
        alive_at_end: sh.pongs.load(Relaxed),
        probes: sh.probes.load(Relaxed),
        presence_frames: sh.presence_frames.load(Relaxed),
        room_frames: sh.room_frames.load(Relaxed),
        rss_kb: procstat::rss_kb(None),
        server_name: sh.server.get().map(|i| i.name.clone()),
        first_error: sh.first_error(),
    };
    say("ready", &figures(&sh));
    // The parent's word: `probe N` (N probes were said), or end of input.
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    let probes: u64 = line
        .strip_prefix("probe ")
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    let registered = sh.ready_all();
    sh.set_phase(phase::PROBE);
    workers.wait_until(Instant::now() + PROBE_WAIT, |sh| {
        sh.pongs.load(Relaxed) + sh.dropped_all() >= registered
            && sh.probes.load(Relaxed) >= registered * probes
    });
    say("done", &figures(&sh));
    workers.stop();
    Ok(())
}

/// Prints one report line to stdout (the parent reads it).
fn say(what: &str, f: &ChildFigures) {
    let json = serde_json::to_string(f).unwrap_or_else(|_| "{}".into());
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{what} {json}");
    let _ = out.flush();
}

/// A line from a child, or its end.
enum Heard {
    Line(usize, String),
    Gone(usize),
}

/// One child process and what it said.
struct Kid {
    child: Child,
    stdin: Option<ChildStdin>,
    share: usize,
    ready: Option<ChildFigures>,
    done: Option<ChildFigures>,
    gone: bool,
}

/// The words of each child's command line.
fn child_args(
    o: &ConnectOpts,
    offset: usize,
    share: usize,
    nick_base: &str,
    kids: usize,
) -> Vec<String> {
    let c = &o.common;
    let mut a: Vec<String> = vec!["bench".into(), "connect".into()];
    for addr in &c.addrs {
        a.extend(["--addr".into(), addr.to_string()]);
    }
    let threads = c.threads.div_ceil(kids).max(1);
    a.extend([
        "--connections".into(),
        share.to_string(),
        "--child-offset".into(),
        offset.to_string(),
        "--nick-base".into(),
        nick_base.to_owned(),
        "--max-clients-per-process".into(),
        share.to_string(),
        "--threads".into(),
        threads.to_string(),
        "--concurrency".into(),
        c.concurrency.div_ceil(kids).max(1).to_string(),
        "--handshake-timeout".into(),
        c.handshake_timeout.as_secs_f64().to_string(),
        "--protocol".into(),
        c.version.to_string(),
        "--sources".into(),
        c.sources.to_string(),
        "--probe".into(),
        o.probe.to_string(),
        "--probe-room".into(),
        o.probe_room().to_owned(),
        "--json".into(),
    ]);
    if let Some(r) = &o.room {
        a.extend(["--room".into(), r.clone()]);
    }
    if let Some(t) = &c.tls {
        a.push("--tls".into());
        if let Some(ca) = &t.ca {
            a.extend(["--ca".into(), ca.display().to_string()]);
        }
        if let Some(name) = &t.server_name {
            a.extend(["--server-name".into(), name.clone()]);
        }
    }
    a
}

/// Runs `connect` over child processes, each holding at most
/// `o.per_process()` connections, and merges their figures.
pub fn run_spread(o: &ConnectOpts) -> Result<ConnectReport, BenchError> {
    let c = &o.common;
    if o.rounds != 1 {
        return Err(BenchError::InvalidOption(
            "--rounds needs all connections in one process (at most --max-clients-per-process)"
                .into(),
        ));
    }
    let per = o.per_process();
    let kids_n = o.connections.div_ceil(per);
    if kids_n > MAX_CHILDREN {
        return Err(BenchError::InvalidOption(format!(
            "{} connections at {per} per process need {kids_n} processes (at most {MAX_CHILDREN})",
            o.connections
        )));
    }
    let nick_base = c.nick_base();
    // Nick validity and the other common checks, for the highest id (the
    // file limit is each child's business: check it for one share).
    let mut one = c.clone();
    one.threads = c.threads.max(1);
    check_common(&one, &nick_base, o.connections.min(per))?;
    if !crate::codec::is_valid_nick(&format!("{nick_base}{:x}", o.connections - 1)) {
        return Err(BenchError::InvalidOption(
            "--nick-prefix too long for this many connections".into(),
        ));
    }
    let exe = match &o.child_exe {
        Some(p) => p.clone(),
        None => std::env::current_exe().map_err(BenchError::Setup)?,
    };
    let progress = Progress::new(c.progress);
    let server_pid = c.server_pid;
    let rss_before = server_pid.and_then(|pid| procstat::rss_kb(Some(pid)));
    let cpu0 = CpuSnapshot::take(server_pid);
    let t0 = Instant::now();
    let (tx, rx) = mpsc::channel();
    let mut kids: Vec<Kid> = Vec::with_capacity(kids_n);
    let (base, extra) = (o.connections / kids_n, o.connections % kids_n);
    let mut offset = 0;
    for k in 0..kids_n {
        let share = base + usize::from(k < extra);
        let spawned = Command::new(&exe)
            .args(child_args(o, offset, share, &nick_base, kids_n))
            .env("STXCHAT_TOKEN", &c.token)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn();
        let mut child = match spawned {
            Ok(ch) => ch,
            Err(e) => {
                stop_all(&mut kids);
                return Err(BenchError::Setup(e));
            }
        };
        let stdout = child.stdout.take();
        let stdin = child.stdin.take();
        let tx = tx.clone();
        std::thread::spawn(move || {
            if let Some(out) = stdout {
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(Heard::Line(k, line)).is_err() {
                        return;
                    }
                }
            }
            let _ = tx.send(Heard::Gone(k));
        });
        kids.push(Kid {
            child,
            stdin,
            share,
            ready: None,
            done: None,
            gone: false,
        });
        offset += share;
    }
    drop(tx);
    let total = o.connections as u64;
    // Everyone connected (or gone).
    let setup_deadline = t0 + SETUP_CAP + Duration::from_secs(30);
    listen(&rx, &mut kids, setup_deadline, |kids| {
        let ready: u64 = kids
            .iter()
            .filter_map(|k| k.ready.as_ref())
            .map(|f| f.registered)
            .sum();
        progress.set(format!(
            "connecting  {ready}/{total} registered over {kids_n} processes"
        ));
        kids.iter().all(|k| k.ready.is_some() || k.gone)
    });
    let connect_s = t0.elapsed().as_secs_f64();
    let cpu = cpu0.usage_until(&CpuSnapshot::take(server_pid));
    let registered: u64 = kids
        .iter()
        .filter_map(|k| k.ready.as_ref())
        .map(|f| f.registered)
        .sum();
    progress.set(format!(
        "holding {registered} connections for {:?}",
        o.settle
    ));
    std::thread::sleep(o.settle);
    let rss_after = server_pid.and_then(|pid| procstat::rss_kb(Some(pid)));
    let mut probe_error = None;
    let probes_sent = if o.probe > 0 {
        progress.set(format!("saying {} probe messages", o.probe));
        match send_probes(o, &nick_base) {
            Ok(n) => n,
            Err(e) => {
                probe_error = Some(e.to_string());
                0
            }
        }
    } else {
        0
    };
    for k in &mut kids {
        if let Some(mut w) = k.stdin.take() {
            let _ = writeln!(w, "probe {probes_sent}");
            let _ = w.flush();
            // Dropped here: end of input tells the child nothing else comes.
        }
    }
    progress.set(format!("probing {registered} connections"));
    listen(
        &rx,
        &mut kids,
        Instant::now() + PROBE_WAIT + Duration::from_secs(30),
        |kids| kids.iter().all(|k| k.done.is_some() || k.gone),
    );
    let exit_deadline = Instant::now() + EXIT_WAIT;
    for k in &mut kids {
        wait_or_kill(&mut k.child, exit_deadline);
    }
    progress.finish();
    Ok(merge(
        o,
        &kids,
        Merged {
            connect_s,
            cpu,
            rss_before,
            rss_after,
            probes_sent,
            probe_error,
        },
    ))
}

/// Reads the children's lines until `done(kids)` or `deadline`.
fn listen(
    rx: &mpsc::Receiver<Heard>,
    kids: &mut [Kid],
    deadline: Instant,
    mut done: impl FnMut(&[Kid]) -> bool,
) {
    while !done(kids) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        match rx.recv_timeout(left.min(Duration::from_millis(250))) {
            Ok(Heard::Line(k, line)) => {
                let (what, json) = line.split_once(' ').unwrap_or((line.as_str(), ""));
                let fig = serde_json::from_str::<ChildFigures>(json).ok();
                match what {
                    "ready" => kids[k].ready = fig,
                    "done" => kids[k].done = fig,
                    _ => {}
                }
            }
            Ok(Heard::Gone(k)) => kids[k].gone = true,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}

fn wait_or_kill(child: &mut Child, deadline: Instant) {
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

fn stop_all(kids: &mut [Kid]) {
    for k in kids {
        k.stdin.take();
        let _ = k.child.kill();
        let _ = k.child.wait();
    }
}

/// What the parent itself measured.
struct Merged {
    connect_s: f64,
    cpu: crate::bench::procstat::CpuUsage,
    rss_before: Option<u64>,
    rss_after: Option<u64>,
    probes_sent: u64,
    probe_error: Option<String>,
}

/// One report from the children's figures and the parent's measurements.
fn merge(o: &ConnectOpts, kids: &[Kid], m: Merged) -> ConnectReport {
    let c = &o.common;
    // A child's last word: `done`, else `ready` (it died while probing).
    let last = |k: &Kid| k.done.clone().or_else(|| k.ready.clone());
    let figs: Vec<(usize, Option<ChildFigures>)> =
        kids.iter().map(|k| (k.share, last(k))).collect();
    let sum = |f: fn(&ChildFigures) -> u64| -> u64 {
        figs.iter().filter_map(|(_, x)| x.as_ref()).map(f).sum()
    };
    let registered = sum(|f| f.registered);
    // A child that never reported failed every connection of its share.
    let failed = sum(|f| f.failed)
        + figs
            .iter()
            .filter(|(_, x)| x.is_none())
            .map(|(s, _)| *s as u64)
            .sum::<u64>();
    let dropped = sum(|f| f.dropped);
    let alive_at_end = kids
        .iter()
        .filter_map(|k| k.done.as_ref())
        .map(|f| f.alive_at_end)
        .sum();
    let probe_deliveries = kids
        .iter()
        .filter_map(|k| k.done.as_ref())
        .map(|f| f.probes)
        .sum();
    let presence_frames = sum(|f| f.presence_frames);
    let room_frames = sum(|f| f.room_frames);
    let generator_rss = figs
        .iter()
        .filter_map(|(_, x)| x.as_ref()?.rss_kb)
        .sum::<u64>();
    let server_name = figs
        .iter()
        .find_map(|(_, x)| x.as_ref()?.server_name.clone());
    let first_error = m.probe_error.clone().or_else(|| {
        figs.iter()
            .find_map(|(_, x)| x.as_ref()?.first_error.clone())
            .or_else(|| {
                figs.iter()
                    .any(|(_, x)| x.is_none())
                    .then(|| "a child process ended without reporting".to_owned())
            })
    });
    let rss_per_connection_bytes = m
        .rss_before
        .zip(m.rss_after)
        .filter(|_| registered > 0)
        .map(|(b, a)| (a as f64 - b as f64) * 1024.0 / registered as f64);
    let probe_expected = registered * m.probes_sent;
    let round = RoundReport {
        round: 1,
        registered,
        failed,
        dropped,
        alive_at_end,
        connect_s: m.connect_s,
        connects_per_s: registered as f64 / m.connect_s.max(1e-9),
        server_rss_kb_before: m.rss_before,
        server_rss_kb_after: m.rss_after,
        rss_per_connection_bytes,
        idle_after_leave_s: None,
        server_rss_kb_after_leave: None,
        presence_frames,
        room_frames,
        cpu: m.cpu,
        probes_sent: m.probes_sent,
        probe_deliveries,
        probe_expected,
    };
    let _ = si;
    ConnectReport {
        scenario: "connect",
        addr: c.addr_list(),
        tls: c.tls.is_some(),
        server_name,
        threads: c.threads,
        room: o.room.clone(),
        connections: o.connections,
        concurrency: c.concurrency,
        source_addresses: plan_sources(c.addrs[0], o.per_process(), c.sources).len(),
        protocol_version: c.version,
        registered,
        failed,
        dropped,
        alive_at_end,
        connect_s: m.connect_s,
        connects_per_s: round.connects_per_s,
        settle_s: o.settle.as_secs_f64(),
        server_rss_kb_before: m.rss_before,
        server_rss_kb_after: m.rss_after,
        rss_per_connection_bytes,
        generator_rss_kb: Some(generator_rss + procstat::rss_kb(None).unwrap_or(0)),
        cpu: m.cpu,
        server_threads: c.server_pid.and_then(|pid| procstat::threads(Some(pid))),
        presence_frames,
        room_frames,
        processes: kids.len(),
        probe_room: (o.probe > 0).then(|| o.probe_room().to_owned()),
        probes_sent: m.probes_sent,
        probe_deliveries,
        probe_expected,
        rounds: vec![round],
        first_error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::driver::CommonOpts;

    #[test]
    fn children_get_the_run_wide_ids_and_addresses() {
        let mut c = CommonOpts::with_addrs(vec![
            "127.0.0.1:7001".parse().unwrap(),
            "127.0.0.1:7002".parse().unwrap(),
        ]);
        c.threads = 4;
        c.token = "secret".into();
        let mut o = ConnectOpts::new(c);
        o.connections = 10;
        o.probe = 3;
        let a = child_args(&o, 20, 5, "sbabcd", 2);
        let joined = a.join(" ");
        assert!(
            joined.starts_with("bench connect --addr 127.0.0.1:7001 --addr 127.0.0.1:7002"),
            "{joined}"
        );
        assert!(
            joined.contains("--connections 5 --child-offset 20 --nick-base sbabcd"),
            "{joined}"
        );
        assert!(joined.contains("--threads 2"), "{joined}");
        assert!(joined.contains("--probe 3 --probe-room lobby"), "{joined}");
        assert!(
            !joined.contains("secret"),
            "the token goes by environment: {joined}"
        );
        let ids: Vec<(u32, u16)> = plans(&o, 20, 5).map(|p| (p.id, p.node)).collect();
        assert_eq!(ids, [(20, 0), (21, 1), (22, 0), (23, 1), (24, 0)]);
    }

    #[test]
    fn spreading_is_checked_before_starting_anything() {
        let mut o = ConnectOpts::new(CommonOpts::new("127.0.0.1:9".parse().unwrap()));
        o.connections = 100;
        o.max_per_process = Some(10);
        o.rounds = 2;
        assert!(matches!(run_spread(&o), Err(BenchError::InvalidOption(_))));
        o.rounds = 1;
        o.max_per_process = Some(1);
        assert!(matches!(run_spread(&o), Err(BenchError::InvalidOption(_))));
    }
}
