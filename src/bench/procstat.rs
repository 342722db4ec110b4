//! Readings from `/proc`: process CPU time (utime + stime, all threads),
//! resident memory (`VmRSS`), machine-wide busy and softirq time, and the
//! open-files limit.

use std::time::{Duration, Instant};

/// Process CPU time in clock ticks (utime + stime) from a `/proc/PID/stat` line.
///
/// The command name (field 2) may hold spaces and parentheses, so fields are
/// counted from the last `)`.
pub fn parse_stat_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // After "pid (comm)": state is field 3; utime and stime are fields 14 and 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// `VmRSS` in KiB from a `/proc/PID/status` text.
pub fn parse_status_rss_kb(status: &str) -> Option<u64> {
    status_field(status, "VmRSS:")
}

/// `Threads` from a `/proc/PID/status` text.
pub fn parse_status_threads(status: &str) -> Option<u64> {
    status_field(status, "Threads:")
}

fn status_field(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

/// Machine-wide (busy, irq + softirq) clock ticks from the `cpu` line of `/proc/stat`.
/// Busy is every state but idle and iowait.
pub fn parse_machine_ticks(proc_stat: &str) -> Option<(u64, u64)> {
    let line = proc_stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|x| x.parse().ok())
        .collect();
    if v.len() < 7 {
        return None;
    }
    let total: u64 = v.iter().sum();
    let idle = v[3] + v[4];
    Some((total.saturating_sub(idle), v[5] + v[6]))
}

fn proc_path(pid: Option<u32>, file: &str) -> String {
    match pid {
        Some(p) => format!("/proc/{p}/{file}"),
        None => format!("/proc/self/{file}"),
    }
}

/// CPU ticks of a process (`None` = this process).
pub fn cpu_ticks(pid: Option<u32>) -> Option<u64> {
    parse_stat_ticks(&std::fs::read_to_string(proc_path(pid, "stat")).ok()?)
}

/// Resident memory of a process in KiB (`None` = this process).
pub fn rss_kb(pid: Option<u32>) -> Option<u64> {
    parse_status_rss_kb(&std::fs::read_to_string(proc_path(pid, "status")).ok()?)
}

/// Thread count of a process (`None` = this process).
pub fn threads(pid: Option<u32>) -> Option<u64> {
    parse_status_threads(&std::fs::read_to_string(proc_path(pid, "status")).ok()?)
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// Raises the soft open-files limit to the hard limit; returns the soft limit now in force.
pub fn raise_nofile_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => n,
        Err(_) => rlimit::getrlimit(rlimit::Resource::NOFILE)
            .map(|(soft, _)| soft)
            .unwrap_or(1024),
    }
}

/// CPU counters taken at one instant.
#[derive(Debug, Clone, Copy)]
pub struct CpuSnapshot {
    at: Instant,
    generator: Option<u64>,
    server: Option<u64>,
    machine: Option<(u64, u64)>,
}

/// CPU use between two snapshots, each as % of one core.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct CpuUsage {
    /// This generator process, all threads.
    pub generator_pct: Option<f64>,
    /// The server process (`--server-pid`), all threads.
    pub server_pct: Option<f64>,
    /// The whole machine, busy time (the box has 100 % per core).
    pub machine_pct: Option<f64>,
    /// The whole machine, irq + softirq (loopback TCP work charged to no process).
    pub softirq_pct: Option<f64>,
}

impl CpuSnapshot {
    /// Reads this process's, the server's (if given) and the machine's counters now.
    pub fn take(server_pid: Option<u32>) -> Self {
        CpuSnapshot {
            at: Instant::now(),
            generator: cpu_ticks(None),
            server: server_pid.and_then(|p| cpu_ticks(Some(p))),
            machine: std::fs::read_to_string("/proc/stat")
                .ok()
                .and_then(|s| parse_machine_ticks(&s)),
        }
    }

    /// CPU use from `self` to `later`.
    pub fn usage_until(&self, later: &CpuSnapshot) -> CpuUsage {
        let wall = (later.at - self.at).as_secs_f64().max(1e-9);
        let tck = clock_ticks_per_second();
        let pct = |a: Option<u64>, b: Option<u64>| {
            a.zip(b)
                .map(|(a, b)| b.saturating_sub(a) as f64 / tck / wall * 100.0)
        };
        CpuUsage {
            generator_pct: pct(self.generator, later.generator),
            server_pct: pct(self.server, later.server),
            machine_pct: pct(self.machine.map(|m| m.0), later.machine.map(|m| m.0)),
            softirq_pct: pct(self.machine.map(|m| m.1), later.machine.map(|m| m.1)),
        }
    }
}

/// Decides from successive CPU-time readings of a process when it has gone
/// idle: once its CPU time has not grown for `quiet`, it went idle at the
/// last reading that showed growth.
#[derive(Debug, Clone)]
pub struct IdleWatch {
    quiet: Duration,
    last_ticks: Option<u64>,
    last_change: Instant,
}

impl IdleWatch {
    /// A watch starting at `since`, when the process had used `ticks` (it
    /// counts as busy then).
    pub fn new(since: Instant, ticks: Option<u64>, quiet: Duration) -> Self {
        IdleWatch {
            quiet,
            last_ticks: ticks,
            last_change: since,
        }
    }

    /// Feeds the CPU ticks read at `at`; returns when the process went
    /// idle, once it has stayed idle for `quiet`.
    pub fn feed(&mut self, at: Instant, ticks: u64) -> Option<Instant> {
        match self.last_ticks {
            Some(t) if t == ticks => {}
            Some(_) => self.last_change = at,
            None => {}
        }
        self.last_ticks = Some(ticks);
        (at.saturating_duration_since(self.last_change) >= self.quiet).then_some(self.last_change)
    }
}

/// Waits until process `pid` goes idle (no CPU time for `quiet`), for at
/// most `cap`; returns how long after `since` (when it had used
/// `ticks_then`) that was. `None` if its counters cannot be read or it stays
/// busy.
pub fn wait_idle(
    pid: u32,
    since: Instant,
    ticks_then: Option<u64>,
    quiet: Duration,
    cap: Duration,
) -> Option<Duration> {
    let mut watch = IdleWatch::new(since, ticks_then, quiet);
    loop {
        let now = Instant::now();
        if let Some(idle_at) = watch.feed(now, cpu_ticks(Some(pid))?) {
            return Some(idle_at.saturating_duration_since(since));
        }
        if now.saturating_duration_since(since) > cap {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn idle_is_when_cpu_time_last_grew() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut w = IdleWatch::new(t0, None, Duration::from_millis(200));
        assert_eq!(w.feed(ms(10), 100), None);
        assert_eq!(w.feed(ms(50), 104), None);
        assert_eq!(w.feed(ms(120), 110), None);
        assert_eq!(w.feed(ms(200), 110), None);
        assert_eq!(w.feed(ms(319), 110), None);
        assert_eq!(w.feed(ms(320), 110), Some(ms(120)));
        // A reading at the start: growth by the first feed counts.
        let mut w = IdleWatch::new(t0, Some(5), Duration::from_millis(200));
        assert_eq!(w.feed(ms(90), 9), None);
        assert_eq!(w.feed(ms(300), 9), Some(ms(90)));
        // No growth at all: idle from the start.
        let mut w = IdleWatch::new(t0, Some(5), Duration::from_millis(200));
        assert_eq!(w.feed(ms(150), 5), None);
        assert_eq!(w.feed(ms(210), 5), Some(t0));
    }
    use super::*;

    #[test]
    fn stat_ticks_skip_a_command_with_spaces_and_parens() {
        let line = "4242 (my (odd) prog) S 1 4242 4242 0 -1 4194560 100 0 0 0 1234 567 0 0 20 0 3 0 1000 100000 200 18446744073709551615";
        assert_eq!(parse_stat_ticks(line), Some(1234 + 567));
        assert_eq!(parse_stat_ticks("garbage"), None);
        assert_eq!(parse_stat_ticks("1 (x) S 1 2"), None);
    }

    #[test]
    fn status_fields() {
        let s = "Name:\tstxchat\nVmPeak:\t  9000 kB\nVmRSS:\t    5120 kB\nThreads:\t3\n";
        assert_eq!(parse_status_rss_kb(s), Some(5120));
        assert_eq!(parse_status_threads(s), Some(3));
        assert_eq!(parse_status_rss_kb("Name: x\n"), None);
    }

    #[test]
    fn machine_ticks_busy_and_softirq() {
        let s = "cpu  100 5 50 1000 20 3 7 0 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n";
        // busy = 100+5+50+3+7+0 = 165 (idle 1000 and iowait 20 excluded)
        assert_eq!(parse_machine_ticks(s), Some((165, 10)));
        assert_eq!(parse_machine_ticks("intr 1 2"), None);
    }

    #[test]
    fn live_readings_of_this_process() {
        assert!(cpu_ticks(None).is_some());
        assert!(rss_kb(None).unwrap() > 0);
        assert!(threads(None).unwrap() >= 1);
        let a = CpuSnapshot::take(Some(std::process::id()));
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let u = a.usage_until(&CpuSnapshot::take(Some(std::process::id())));
        assert!(u.generator_pct.unwrap() >= 0.0);
        assert!(u.server_pct.is_some());
    }
}
