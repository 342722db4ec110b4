//! `--bad-logins RATE`: a storm of wrong passwords beside a chat workload
//! (`fanout` or `rooms`), to see what it does to the workload's latency and
//! how the server answers it.
//!
//! From the start of the warm-up until the end of the measured interval, a
//! thread of its own opens connections to the first `--addr` at RATE per
//! second (paced: connection k opens k/RATE seconds after the start), each
//! sending HELLO for one of the `--bad-login-nick` accounts (round-robin)
//! with a wrong password, and reads the one answer the server gives:
//!
//! - `auth_failed`: the password was checked and refused;
//! - `server_full` "too many logins being checked" ([`BUSY_DETAIL`]): the
//!   check could not be queued, the verify pool's queue was full;
//! - `server_full` otherwise: a connection cap refused it;
//! - `timeout`: the check did not end before the handshake timeout, which
//!   is what the per-address slowdown of repeated failures does to a storm
//!   from few addresses (and a long queue to one from many);
//! - WELCOME: the nick is not an account (or the password was right): the
//!   storm measures nothing, and the run counts as incomplete.
//!
//! The connections come from `--bad-login-sources` addresses 127.1.0.1,
//! 127.1.0.2, ... (round-robin; 0: the kernel's choice). One address (the
//! default) exercises the per-address slowdown; as many addresses as bad
//! logins bypass it (each address fails once), so that the verify queue's
//! bound is what holds. The count is bounded (RATE times warm-up plus
//! duration, at most [`MAX_BAD_LOGINS`]) and so is the time: connections
//! still unanswered a handshake timeout after the storm stops are closed
//! and counted as unanswered.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mio::{Events, Interest, Poll, Token, Waker};
use serde::Serialize;

use crate::bench::error::BenchError;
use crate::bench::sources::start_connect;
use crate::bench::transport::{BenchTls, Transport};
use crate::codec::{ClientMessage, ErrorCode, Event, FrameDecoder, ServerMessage};
use crate::core::BUSY_DETAIL;

/// The most bad logins one run makes.
pub const MAX_BAD_LOGINS: u64 = 1_000_000;
/// The highest `--bad-logins` rate.
pub const MAX_RATE: f64 = 100_000.0;
/// The most source addresses (127.1.0.1 onwards stays inside 127.0.0.0/8).
pub const MAX_SOURCES: usize = 1 << 20;
/// The first source address.
pub const FIRST_SOURCE: Ipv4Addr = Ipv4Addr::new(127, 1, 0, 1);
/// The wrong password every bad login sends.
pub const WRONG_TOKEN: &str = "stxchat-bench-wrong-password";
/// Open files kept free besides the workload's and the storm's connections.
const FD_MARGIN: u64 = 200;
/// Payload limit before WELCOME (PROTOCOL.md section 1).
const INITIAL_MAX_PAYLOAD: usize = 4096;
const WAKE: Token = Token(usize::MAX);
/// Longest poll wait.
const TICK: Duration = Duration::from_millis(20);
/// How often connections past the handshake timeout are looked for.
const EXPIRY_EVERY: Duration = Duration::from_millis(250);

/// What `--bad-logins` asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct StormOpts {
    /// Bad logins per second.
    pub rate: f64,
    /// Users-file accounts to send wrong passwords for (round-robin).
    pub nicks: Vec<String>,
    /// Source addresses from [`FIRST_SOURCE`] on (0: no bind).
    pub sources: usize,
}

impl StormOpts {
    /// Checks the options against the server address `server`.
    pub fn check(&self, server: SocketAddr) -> Result<(), BenchError> {
        let bad = |m: String| Err(BenchError::InvalidOption(m));
        if !(self.rate > 0.0 && self.rate <= MAX_RATE) {
            return bad(format!(
                "--bad-logins must be a rate in 0..={MAX_RATE} per second"
            ));
        }
        if self.nicks.is_empty() {
            return bad(
                "--bad-logins needs --bad-login-nick (an account of the server's users file)"
                    .into(),
            );
        }
        if let Some(n) = self.nicks.iter().find(|n| !crate::codec::is_valid_nick(n)) {
            return bad(format!("--bad-login-nick {n:?} is not a valid nick"));
        }
        if self.sources > MAX_SOURCES {
            return bad(format!("--bad-login-sources must be 0..={MAX_SOURCES}"));
        }
        let loopback_v4 = matches!(server.ip(), IpAddr::V4(v4) if v4.is_loopback());
        if self.sources > 0 && !loopback_v4 {
            return bad("--bad-login-sources other than 0 needs a server on 127.0.0.0/8".into());
        }
        Ok(())
    }

    /// How many bad logins a storm of `span` makes.
    pub fn count(&self, span: Duration) -> u64 {
        ((self.rate * span.as_secs_f64()).ceil() as u64).clamp(1, MAX_BAD_LOGINS)
    }
}

/// The source address of bad login `i` over `sources` addresses.
pub fn source_of(i: u64, sources: usize) -> Option<IpAddr> {
    if sources == 0 {
        return None;
    }
    let k = (i % sources as u64) as u32;
    Some(IpAddr::V4(Ipv4Addr::from(u32::from(FIRST_SOURCE) + k)))
}

/// Bad logins due `elapsed` into a storm at `rate` per second (the first
/// at once), at most `max`.
pub fn due(elapsed: Duration, rate: f64, max: u64) -> u64 {
    ((elapsed.as_secs_f64() * rate) as u64 + 1).min(max)
}

/// Milliseconds from opening a connection to its answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnswerTimes {
    /// Answers timed.
    pub samples: u64,
    /// Median, ms.
    pub p50_ms: u64,
    /// 99th percentile, ms.
    pub p99_ms: u64,
    /// Longest, ms.
    pub max_ms: u64,
}

impl AnswerTimes {
    fn of(h: &Histogram<u64>) -> Option<AnswerTimes> {
        (!h.is_empty()).then(|| AnswerTimes {
            samples: h.len(),
            p50_ms: h.value_at_quantile(0.5),
            p99_ms: h.value_at_quantile(0.99),
            max_ms: h.max(),
        })
    }
}

/// How the bad logins were answered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StormReport {
    /// Bad logins per second asked for.
    pub rate: f64,
    /// The accounts they were for.
    pub nicks: Vec<String>,
    /// Source addresses used (0: the kernel's choice).
    pub source_addresses: usize,
    /// Whether the per-address slowdown was exercised or bypassed.
    pub slowdown: String,
    /// Seconds from the first to the last connection opened.
    pub storm_s: f64,
    /// Connections opened.
    pub attempted: u64,
    /// Not opened: the open-files budget was used up by unanswered ones.
    pub skipped: u64,
    /// The connect failed.
    pub connect_failed: u64,
    /// ERROR auth_failed: checked and refused.
    pub auth_failed: u64,
    /// ERROR server_full because the verify queue was full.
    pub queue_full: u64,
    /// ERROR server_full for another reason (a connection cap).
    pub server_full: u64,
    /// ERROR timeout: not checked before the handshake timeout (slowed down,
    /// or queued too long).
    pub timeout: u64,
    /// Another ERROR.
    pub other_errors: u64,
    /// WELCOME: the nick is not an account, or the password was right.
    pub welcomed: u64,
    /// Closed by the server without an answer.
    pub closed: u64,
    /// No answer within the generator's handshake timeout.
    pub unanswered: u64,
    /// Most connections of the storm open at once.
    pub open_max: u64,
    /// Time to `auth_failed`.
    pub auth_failed_ms: Option<AnswerTimes>,
    /// Time to the queue-full `server_full`.
    pub queue_full_ms: Option<AnswerTimes>,
    /// Time to `timeout`.
    pub timeout_ms: Option<AnswerTimes>,
    /// The first unexpected answer or failure.
    pub first_error: Option<String>,
}

impl StormReport {
    /// Every bad login was refused one way or another (none welcomed).
    pub fn ok(&self) -> bool {
        self.welcomed == 0 && self.attempted > 0
    }

    /// Rows of the human table.
    pub fn rows(&self) -> Vec<(String, String)> {
        let times = |t: &Option<AnswerTimes>| {
            t.as_ref().map_or(String::new(), |t| {
                format!(
                    " (answered in p50 {} / p99 {} / max {} ms)",
                    t.p50_ms, t.p99_ms, t.max_ms
                )
            })
        };
        let mut rows = vec![
            (
                "bad logins".to_string(),
                format!(
                    "{} at {}/s over {:.1} s for {} from {} address(es): slowdown {}",
                    self.attempted,
                    crate::bench::report::si(self.rate),
                    self.storm_s,
                    self.nicks.join(","),
                    self.source_addresses,
                    self.slowdown
                ),
            ),
            (
                "  auth_failed".to_string(),
                format!("{}{}", self.auth_failed, times(&self.auth_failed_ms)),
            ),
            (
                "  server_full: queue full".to_string(),
                format!("{}{}", self.queue_full, times(&self.queue_full_ms)),
            ),
            (
                "  timeout (not checked in time)".to_string(),
                format!("{}{}", self.timeout, times(&self.timeout_ms)),
            ),
        ];
        let rest = [
            ("server_full (caps)", self.server_full),
            ("other errors", self.other_errors),
            ("welcomed (not an account!)", self.welcomed),
            ("closed unanswered", self.closed),
            ("no answer in time", self.unanswered),
            ("connect failed", self.connect_failed),
            ("skipped (open files)", self.skipped),
        ];
        for (k, v) in rest {
            if v > 0 {
                rows.push((format!("  {k}"), v.to_string()));
            }
        }
        rows.push(("  most open at once".to_string(), self.open_max.to_string()));
        if let Some(e) = &self.first_error {
            rows.push(("  first unexpected".to_string(), e.clone()));
        }
        rows
    }
}

/// What one bad login came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    AuthFailed,
    QueueFull,
    ServerFull,
    Timeout,
    OtherError,
    Welcomed,
    Closed,
    Unanswered,
    ConnectFailed,
}

/// The answer a first frame from the server gives, if it is one.
fn classify(payload: &[u8]) -> Option<(Answer, Option<String>)> {
    match ServerMessage::decode(payload).ok()? {
        ServerMessage::Welcome { .. } => Some((Answer::Welcomed, None)),
        ServerMessage::Error { code, detail } => Some(match ErrorCode::from_u16(code) {
            Some(ErrorCode::AuthFailed) => (Answer::AuthFailed, None),
            Some(ErrorCode::ServerFull) if detail == BUSY_DETAIL => (Answer::QueueFull, None),
            Some(ErrorCode::ServerFull) => (Answer::ServerFull, None),
            Some(ErrorCode::Timeout) => (Answer::Timeout, None),
            _ => (Answer::OtherError, Some(format!("ERROR {code}: {detail}"))),
        }),
        _ => None,
    }
}

/// One bad login in flight.
struct Login {
    stream: Transport,
    dec: FrameDecoder,
    out: Vec<u8>,
    out_pos: usize,
    connected: bool,
    opened: Instant,
}

/// The storm thread's state.
struct StormLoop {
    opts: StormOpts,
    addr: SocketAddr,
    tls: Option<BenchTls>,
    handshake_timeout: Duration,
    max: u64,
    open_cap: u64,
    poll: Poll,
    logins: Vec<Option<Login>>,
    free: Vec<usize>,
    open: u64,
    buf: Vec<u8>,
    report: StormReport,
    hists: [Histogram<u64>; 3],
    /// The storm's clock origin (pacing counts from it).
    start: Instant,
    /// When opening stops, ns after `start` (0: not yet).
    stop: Arc<AtomicU64>,
}

/// A running storm.
pub struct Storm {
    start: Instant,
    stop: Arc<AtomicU64>,
    waker: Waker,
    handle: JoinHandle<StormReport>,
}

impl Storm {
    /// Starts the storm against `addr` now: `max` bad logins at most,
    /// beside `workload` connections of this process.
    pub fn start(
        opts: &StormOpts,
        addr: SocketAddr,
        tls: Option<BenchTls>,
        handshake_timeout: Duration,
        max: u64,
        workload: usize,
    ) -> Result<Storm, BenchError> {
        opts.check(addr)?;
        let poll = Poll::new()?;
        let waker = Waker::new(poll.registry(), WAKE)?;
        let limit = crate::bench::procstat::raise_nofile_limit();
        let open_cap = limit.saturating_sub(workload as u64 + FD_MARGIN);
        let stop = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let hist =
            || Histogram::new_with_bounds(1, 3_600_000, 3).expect("constant bounds are valid");
        let slowdown = match opts.sources {
            0 => "exercised (the kernel's source address)".to_string(),
            1 => "exercised (one address)".to_string(),
            n if n as u64 >= max => "bypassed (each login from its own address)".to_string(),
            n => format!(
                "exercised ({n} addresses, about {} logins each)",
                max.div_ceil(n as u64)
            ),
        };
        let state = StormLoop {
            report: StormReport {
                rate: opts.rate,
                nicks: opts.nicks.clone(),
                source_addresses: opts.sources,
                slowdown,
                storm_s: 0.0,
                attempted: 0,
                skipped: 0,
                connect_failed: 0,
                auth_failed: 0,
                queue_full: 0,
                server_full: 0,
                timeout: 0,
                other_errors: 0,
                welcomed: 0,
                closed: 0,
                unanswered: 0,
                open_max: 0,
                auth_failed_ms: None,
                queue_full_ms: None,
                timeout_ms: None,
                first_error: None,
            },
            opts: opts.clone(),
            addr,
            tls,
            handshake_timeout,
            max,
            open_cap,
            poll,
            logins: Vec::new(),
            free: Vec::new(),
            open: 0,
            buf: vec![0; 16 * 1024],
            hists: [hist(), hist(), hist()],
            start,
            stop: Arc::clone(&stop),
        };
        let handle = std::thread::Builder::new()
            .name("bench-storm".into())
            .spawn(move || state.run())
            .map_err(BenchError::Setup)?;
        Ok(Storm {
            start,
            stop,
            waker,
            handle,
        })
    }

    /// Stops opening connections: those due by now are still opened (the
    /// count does not depend on how the thread was scheduled); the answers
    /// are awaited (at most the handshake timeout) by [`Storm::finish`].
    pub fn stop_opening(&self) {
        let at = (self.start.elapsed().as_nanos() as u64).max(1);
        let _ = self.stop.compare_exchange(0, at, Relaxed, Relaxed);
        let _ = self.waker.wake();
    }

    /// Stops the storm (if not yet) and returns its report once every
    /// connection was answered or given up (`None` if its thread died).
    pub fn finish(self) -> Option<StormReport> {
        self.stop_opening();
        self.handle.join().ok()
    }
}

impl StormLoop {
    fn run(mut self) -> StormReport {
        let mut events = Events::with_capacity(1024);
        let start = self.start;
        let mut stopped_at: Option<Instant> = None;
        let mut last_expiry = start;
        loop {
            let now = Instant::now();
            let stop_ns = self.stop.load(Relaxed);
            if stopped_at.is_none() && stop_ns != 0 {
                // The last ones due before the stop.
                self.open_due(start + Duration::from_nanos(stop_ns));
                stopped_at = Some(now);
            }
            match stopped_at {
                None => self.open_due(now),
                Some(at) if self.open == 0 || now >= at + self.handshake_timeout => break,
                Some(_) => {}
            }
            if now.duration_since(last_expiry) >= EXPIRY_EVERY {
                last_expiry = now;
                self.expire(now);
            }
            if let Err(e) = self.poll.poll(&mut events, Some(TICK))
                && e.kind() != std::io::ErrorKind::Interrupted
            {
                self.report.first_error.get_or_insert(format!("poll: {e}"));
                break;
            }
            for ev in events.iter() {
                if ev.token() != WAKE {
                    self.on_event(ev.token().0);
                }
            }
        }
        for idx in 0..self.logins.len() {
            if self.logins[idx].is_some() {
                self.end(idx, Answer::Unanswered, None);
            }
        }
        let [a, q, t] = &self.hists;
        self.report.auth_failed_ms = AnswerTimes::of(a);
        self.report.queue_full_ms = AnswerTimes::of(q);
        self.report.timeout_ms = AnswerTimes::of(t);
        self.report
    }

    /// Opens the connections due by `until`.
    fn open_due(&mut self, until: Instant) {
        let start = self.start;
        let due = due(
            until.saturating_duration_since(start),
            self.opts.rate,
            self.max,
        );
        let now = Instant::now();
        while self.report.attempted + self.report.skipped < due {
            let i = self.report.attempted + self.report.skipped;
            if self.open >= self.open_cap {
                self.report.skipped += 1;
                continue;
            }
            self.report.attempted += 1;
            self.report.storm_s = until.saturating_duration_since(start).as_secs_f64();
            let nick = &self.opts.nicks[(i % self.opts.nicks.len() as u64) as usize];
            let mut out = Vec::with_capacity(64);
            let _ = ClientMessage::Hello {
                version: crate::codec::PROTOCOL_V2,
                nick,
                token: WRONG_TOKEN,
            }
            .encode(&mut out, INITIAL_MAX_PAYLOAD);
            let idx = self.free.pop().unwrap_or_else(|| {
                self.logins.push(None);
                self.logins.len() - 1
            });
            let opened = start_connect(self.addr, source_of(i, self.opts.sources))
                .and_then(|s| Transport::new(s, self.tls.as_ref()))
                .and_then(|mut s| {
                    self.poll
                        .registry()
                        .register(
                            s.tcp_mut(),
                            Token(idx),
                            Interest::READABLE | Interest::WRITABLE,
                        )
                        .map(|()| s)
                });
            match opened {
                Ok(stream) => {
                    self.logins[idx] = Some(Login {
                        stream,
                        dec: FrameDecoder::new(INITIAL_MAX_PAYLOAD),
                        out,
                        out_pos: 0,
                        connected: false,
                        opened: now,
                    });
                    self.open += 1;
                    self.report.open_max = self.report.open_max.max(self.open);
                }
                Err(e) => {
                    self.free.push(idx);
                    self.report.connect_failed += 1;
                    self.report
                        .first_error
                        .get_or_insert(format!("connect: {e}"));
                }
            }
        }
    }

    /// Gives up on connections older than the handshake timeout (a scan
    /// of at most `open_cap` slots, four times a second).
    fn expire(&mut self, now: Instant) {
        for idx in 0..self.logins.len() {
            if self.logins[idx]
                .as_ref()
                .is_some_and(|l| now.duration_since(l.opened) >= self.handshake_timeout)
            {
                self.end(idx, Answer::Unanswered, None);
            }
        }
    }

    fn on_event(&mut self, idx: usize) {
        let Some(Some(l)) = self.logins.get_mut(idx) else {
            return;
        };
        if !l.connected {
            let sock = l.stream.tcp();
            match sock.take_error() {
                Ok(Some(e)) | Err(e) => {
                    let why = format!("connect: {e}");
                    return self.end(idx, Answer::ConnectFailed, Some(why));
                }
                Ok(None) => {}
            }
            match sock.peer_addr() {
                Ok(_) => l.connected = true,
                Err(e) if e.kind() == std::io::ErrorKind::NotConnected => return,
                Err(e) => {
                    let why = format!("connect: {e}");
                    return self.end(idx, Answer::ConnectFailed, Some(why));
                }
            }
        }
        // HELLO out (and, over TLS, the handshake's records).
        while l.out_pos < l.out.len() {
            match l.stream.write(&l.out[l.out_pos..]) {
                Ok(n) => l.out_pos += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => return self.end(idx, Answer::Closed, Some(format!("write: {e}"))),
            }
        }
        if let Err(e) = l.stream.flush_records() {
            return self.end(idx, Answer::Closed, Some(format!("write: {e}")));
        }
        loop {
            let n = match l.stream.read(&mut self.buf) {
                Ok(0) => return self.end(idx, Answer::Closed, None),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return self.end(idx, Answer::Closed, Some(format!("read: {e}"))),
            };
            let mut answer = None;
            l.dec.decode_all(&self.buf[..n], |ev| {
                if answer.is_none() {
                    answer = match ev {
                        Event::Frame(p) => classify(p),
                        Event::Error(e) => Some((
                            Answer::OtherError,
                            Some(format!("framing error from the server: {}", e.name())),
                        )),
                    };
                }
            });
            if let Some((a, why)) = answer {
                return self.end(idx, a, why);
            }
        }
    }

    /// Counts connection `idx`'s answer and closes it.
    fn end(&mut self, idx: usize, answer: Answer, why: Option<String>) {
        let Some(mut l) = self.logins.get_mut(idx).and_then(Option::take) else {
            return;
        };
        let _ = self.poll.registry().deregister(l.stream.tcp_mut());
        self.free.push(idx);
        self.open -= 1;
        let r = &mut self.report;
        let ms = (l.opened.elapsed().as_millis() as u64).max(1);
        let slot = match answer {
            Answer::AuthFailed => {
                r.auth_failed += 1;
                Some(0)
            }
            Answer::QueueFull => {
                r.queue_full += 1;
                Some(1)
            }
            Answer::Timeout => {
                r.timeout += 1;
                Some(2)
            }
            Answer::ServerFull => {
                r.server_full += 1;
                None
            }
            Answer::OtherError => {
                r.other_errors += 1;
                None
            }
            Answer::Welcomed => {
                r.welcomed += 1;
                r.first_error.get_or_insert_with(|| {
                    "a bad login was welcomed: is --bad-login-nick an account of the server's users file?".into()
                });
                None
            }
            Answer::Closed => {
                r.closed += 1;
                None
            }
            Answer::Unanswered => {
                r.unanswered += 1;
                None
            }
            Answer::ConnectFailed => {
                r.connect_failed += 1;
                None
            }
        };
        if let Some(s) = slot {
            let _ = self.hists[s].record(ms);
        }
        if let Some(w) = why {
            r.first_error.get_or_insert(w);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> StormOpts {
        StormOpts {
            rate: 1000.0,
            nicks: vec!["alice".into()],
            sources: 1,
        }
    }

    #[test]
    fn options_are_checked() {
        let lo: SocketAddr = "127.0.0.1:7878".parse().unwrap();
        assert!(opts().check(lo).is_ok());
        let mut o = opts();
        o.rate = 0.0;
        assert!(o.check(lo).is_err());
        o.rate = f64::NAN;
        assert!(o.check(lo).is_err());
        let mut o = opts();
        o.nicks.clear();
        assert!(o.check(lo).is_err());
        o.nicks.push("two words".into());
        assert!(o.check(lo).is_err());
        let remote: SocketAddr = "10.0.0.1:7878".parse().unwrap();
        assert!(
            opts().check(remote).is_err(),
            "127.x sources cannot reach it"
        );
        let mut o = opts();
        o.sources = 0;
        assert!(o.check(remote).is_ok());
        o.sources = MAX_SOURCES + 1;
        assert!(o.check(lo).is_err());
    }

    #[test]
    fn pacing_count_and_sources() {
        assert_eq!(due(Duration::ZERO, 1000.0, 50), 1);
        assert_eq!(due(Duration::from_millis(10), 1000.0, 50), 11);
        assert_eq!(due(Duration::from_secs(9), 1000.0, 50), 50);
        assert_eq!(opts().count(Duration::from_secs(12)), 12_000);
        assert_eq!(opts().count(Duration::from_secs(100_000)), MAX_BAD_LOGINS);
        assert_eq!(source_of(5, 0), None);
        assert_eq!(source_of(5, 1), Some(IpAddr::from([127, 1, 0, 1])));
        assert_eq!(source_of(256, 1000), Some(IpAddr::from([127, 1, 1, 1])));
        assert_eq!(source_of(1000, 1000), source_of(0, 1000));
    }

    #[test]
    fn answers_are_told_apart() {
        let frame = |m: ServerMessage<'_>| {
            let mut out = Vec::new();
            m.encode(&mut out, 4096).unwrap();
            // The payload between the 3-byte head and the 5-byte tail.
            out[3..out.len() - 5].to_vec()
        };
        let error = |code: ErrorCode, detail: &str| {
            frame(ServerMessage::Error {
                code: code.as_u16(),
                detail,
            })
        };
        let kind = |p: Vec<u8>| classify(&p).map(|(a, _)| a);
        assert_eq!(
            kind(error(ErrorCode::AuthFailed, "wrong password")),
            Some(Answer::AuthFailed)
        );
        assert_eq!(
            kind(error(ErrorCode::ServerFull, BUSY_DETAIL)),
            Some(Answer::QueueFull)
        );
        assert_eq!(
            kind(error(ErrorCode::ServerFull, "server is full")),
            Some(Answer::ServerFull)
        );
        assert_eq!(
            kind(error(ErrorCode::Timeout, "handshake timeout")),
            Some(Answer::Timeout)
        );
        assert_eq!(
            kind(error(ErrorCode::BadFrame, "x")),
            Some(Answer::OtherError)
        );
        assert_eq!(kind(frame(ServerMessage::Pong { token: 1 })), None);
    }
}
