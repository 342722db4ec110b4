//! One generator thread: a `mio` poll driving its share of nonblocking
//! connections through connect, handshake, publishing, reading and probing.
//!
//! Reads go into one reusable 64 KiB buffer per thread and are decoded in
//! place; SAYs are stamped straight into a connection's output buffer and a
//! batch goes out in one write. Nothing is allocated per frame.

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mio::{Events, Interest, Poll, Token};

use crate::bench::conn::{Conn, ConnPlan, FrameCx, PROBE_TOKEN, State, Tally, encode_says};
use crate::bench::payload;
use crate::bench::shared::{Kind, Role, RunConfig, Shared, phase};
use crate::bench::sources::{source_for, start_connect};
use crate::bench::transport::Transport;
use crate::codec::Event;

/// Token of the worker's waker.
pub const WAKE_TOKEN: Token = Token(usize::MAX);
/// Size of the reusable read buffer.
const READ_BUF: usize = 64 * 1024;
/// How often timeouts and keepalives are checked.
const HOUSEKEEPING: Duration = Duration::from_millis(100);
/// Longest poll wait (the phase is also signalled through the waker).
const IDLE_WAIT: Duration = Duration::from_millis(100);
/// Poll wait while a publisher waits for window room (wakes also come from deliverers).
const WINDOW_WAIT: Duration = Duration::from_millis(2);
/// Latency histogram range: 1 ns .. 120 s, 3 significant digits.
const HIST_MAX_NS: u64 = 120_000_000_000;

/// A new latency histogram as every worker and the merge use it.
pub fn new_histogram() -> Histogram<u64> {
    // Constant bounds that hdrhistogram accepts (1 <= low, high >= 2 * low, 3 digits).
    Histogram::new_with_bounds(1, HIST_MAX_NS, 3).expect("constant histogram bounds are valid")
}

/// What a finished worker hands back.
pub struct WorkerOutput {
    /// Latency of measured deliveries, nanoseconds.
    pub hist: Histogram<u64>,
}

/// What the publishing step wants from the next poll.
enum Publish {
    /// Nothing to publish (wrong phase, or nobody ready).
    Idle,
    /// More can go out right away.
    Busy,
    /// Waiting for the window to open.
    Window,
    /// The rate allows the next message at this instant.
    At(Instant),
}

/// One generator thread's state.
pub struct Worker {
    index: usize,
    cfg: Arc<RunConfig>,
    shared: Arc<Shared>,
    poll: Poll,
    plans: Vec<ConnPlan>,
    conns: Vec<Conn>,
    next_open: usize,
    in_handshake: usize,
    buf: Vec<u8>,
    hist: Histogram<u64>,
    tally: Tally,
    publishers: Vec<usize>,
    template: Vec<u8>,
    /// `rooms`: ready members per room index (rooms live wholly in one worker).
    room_ready: Vec<u64>,
    /// Publishing began (rate clock origin).
    publish_start: Option<Instant>,
    /// `rooms`: messages this worker published (rate bookkeeping).
    worker_sent: u64,
    /// `rooms`: next client to consider.
    cursor: usize,
    /// `rooms`: this worker's share of the total rate.
    worker_rate: f64,
    probed: bool,
    last_housekeeping: Instant,
}

impl Worker {
    /// A worker that will open `plans` in order; `poll` must own waker [`WAKE_TOKEN`].
    pub fn new(
        index: usize,
        cfg: Arc<RunConfig>,
        shared: Arc<Shared>,
        poll: Poll,
        plans: Vec<ConnPlan>,
    ) -> Self {
        let clients = plans.iter().filter(|p| p.role == Role::Client).count();
        let worker_rate = if cfg.clients > 0 {
            cfg.rate * clients as f64 / cfg.clients as f64
        } else {
            0.0
        };
        let template = payload::template(cfg.text_len);
        Worker {
            index,
            room_ready: vec![0; cfg.rooms.len()],
            cfg,
            shared,
            poll,
            conns: Vec::with_capacity(plans.len()),
            plans,
            next_open: 0,
            in_handshake: 0,
            buf: vec![0; READ_BUF],
            hist: new_histogram(),
            tally: Tally::default(),
            publishers: Vec::new(),
            template,
            publish_start: None,
            worker_sent: 0,
            cursor: 0,
            worker_rate,
            probed: false,
            last_housekeeping: Instant::now(),
        }
    }

    /// Runs until the SHUTDOWN phase or the hard deadline.
    pub fn run(mut self) -> WorkerOutput {
        let mut events = Events::with_capacity(1024);
        loop {
            let now = Instant::now();
            let ph = self.shared.phase();
            if ph >= phase::SHUTDOWN || now >= self.cfg.hard_deadline {
                break;
            }
            if ph == phase::SETUP {
                self.open_more(now);
            }
            if ph == phase::PROBE && !self.probed {
                self.probed = true;
                self.probe(now);
            }
            if now.duration_since(self.last_housekeeping) >= HOUSEKEEPING {
                self.last_housekeeping = now;
                self.housekeeping(now);
            }
            let publish = if ph == phase::WARMUP || ph == phase::MEASURE {
                match self.cfg.kind {
                    Kind::Fanout => self.publish_fanout(now, ph == phase::MEASURE),
                    Kind::Rooms => self.publish_rooms(now, ph == phase::MEASURE),
                    Kind::Connect => Publish::Idle,
                }
            } else {
                Publish::Idle
            };
            self.flush_tally();
            let timeout = match publish {
                Publish::Busy => Duration::ZERO,
                Publish::Window => WINDOW_WAIT,
                Publish::At(t) => t.saturating_duration_since(Instant::now()).min(IDLE_WAIT),
                Publish::Idle => IDLE_WAIT,
            };
            if let Err(e) = self.poll.poll(&mut events, Some(timeout))
                && e.kind() != io::ErrorKind::Interrupted
            {
                self.shared
                    .note_error(|| format!("worker {}: poll: {e}", self.index));
                break;
            }
            for ev in events.iter() {
                if ev.token() == WAKE_TOKEN {
                    continue;
                }
                self.on_event(
                    ev.token().0,
                    ev.is_readable() || ev.is_read_closed() || ev.is_error(),
                    ev.is_writable() || ev.is_error(),
                );
            }
        }
        self.flush_tally();
        WorkerOutput { hist: self.hist }
    }

    /// Starts connects up to the per-worker handshake concurrency.
    fn open_more(&mut self, now: Instant) {
        while self.in_handshake < self.cfg.concurrency && self.next_open < self.plans.len() {
            let plan = self.plans[self.next_open];
            self.next_open += 1;
            let source = source_for(&self.cfg.sources, plan.id as usize);
            let idx = self.conns.len();
            let registered = start_connect(self.cfg.addrs[usize::from(plan.node)], source)
                .and_then(|s| Transport::new(s, self.cfg.tls.as_ref()))
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
            match registered {
                Ok(sock) => {
                    let mut c = Conn::new(plan, sock, &self.cfg, now);
                    c.s.observer = plan.role == Role::Member && plan.id == 0;
                    if matches!(plan.role, Role::Publisher | Role::Client) {
                        self.publishers.push(idx);
                    }
                    self.conns.push(c);
                    self.in_handshake += 1;
                }
                Err(e) => {
                    self.shared.failed.fetch_add(1, Relaxed);
                    self.shared
                        .note_error(|| format!("connection {}: connect: {e}", plan.id));
                }
            }
        }
    }

    fn on_event(&mut self, idx: usize, readable: bool, writable: bool) {
        let now = Instant::now();
        let Some(c) = self.conns.get_mut(idx) else {
            return;
        };
        if c.s.state == State::Closed {
            return;
        }
        if c.s.state == State::Connecting {
            let Some(sock) = c.sock.as_ref().map(Transport::tcp) else {
                return;
            };
            match sock.take_error() {
                Ok(Some(e)) | Err(e) => {
                    self.close(idx, format!("connect: {e}"));
                    return;
                }
                Ok(None) => {}
            }
            match sock.peer_addr() {
                Ok(_) => c.s.state = State::Handshake,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return,
                Err(e) => {
                    self.close(idx, format!("connect: {e}"));
                    return;
                }
            }
            if let Err(e) = c.flush(now) {
                self.close(idx, format!("write: {e}"));
                return;
            }
        } else if writable && c.write_blocked {
            c.write_blocked = false;
            if let Err(e) = c.flush(now) {
                self.close(idx, format!("write: {e}"));
                return;
            }
        }
        if readable {
            self.read(idx);
        }
    }

    /// Reads a connection until the socket is empty, handling every frame.
    fn read(&mut self, idx: usize) {
        let Worker {
            cfg,
            shared,
            conns,
            buf,
            tally,
            hist,
            room_ready,
            in_handshake,
            ..
        } = self;
        let c = &mut conns[idx];
        let mut result: Result<(), String> = Ok(());
        'reading: loop {
            if c.s.plan.role == Role::Slow && c.s.state == State::Ready {
                break;
            }
            let Some(sock) = c.sock.as_mut() else { break };
            let n = match sock.read(buf) {
                Ok(0) => {
                    result = Err("server closed the connection".into());
                    break;
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    result = Err(format!("read: {e}"));
                    break;
                }
            };
            let mut cx = FrameCx {
                cfg,
                shared,
                tally,
                hist,
                now_ns: shared.now_ns(),
            };
            let mut input = &buf[..n];
            loop {
                let (used, ev) = c.dec.decode(input);
                input = &input[used..];
                let outcome = match ev {
                    None => break,
                    Some(Event::Frame(p)) => c.s.on_frame(p, &mut cx),
                    Some(Event::Error(e)) => {
                        Err(format!("framing error from server: {}", e.name()))
                    }
                };
                match outcome {
                    Ok(o) => {
                        if let Some(mp) = o.max_payload {
                            c.dec.set_max_payload(usize::from(mp));
                        }
                        if o.ready && c.s.state == State::Handshake {
                            c.s.state = State::Ready;
                            *in_handshake -= 1;
                            let role = c.s.plan.role;
                            shared.ready[role as usize].fetch_add(1, Relaxed);
                            if role == Role::Member {
                                shared.members_alive.fetch_add(1, Relaxed);
                            }
                            if let Some(r) = c.s.plan.room
                                && let Some(n) = room_ready.get_mut(r as usize)
                            {
                                *n += 1;
                            }
                        }
                    }
                    Err(e) => {
                        result = Err(e);
                        break 'reading;
                    }
                }
            }
        }
        if let Err(e) = result {
            self.close(idx, e);
            return;
        }
        // Over TLS, reading may have made records (handshake, alerts) the
        // socket did not take yet: send them on the next writable event.
        if c.sock.as_ref().is_some_and(Transport::wants_write) {
            c.write_blocked = true;
        }
    }

    /// Closes connection `idx`, counting it as failed or dropped.
    fn close(&mut self, idx: usize, why: String) {
        let Some(c) = self.conns.get_mut(idx) else {
            return;
        };
        let was = c.s.state;
        if was == State::Closed {
            return;
        }
        c.s.state = State::Closed;
        if let Some(mut sock) = c.sock.take() {
            let _ = self.poll.registry().deregister(sock.tcp_mut());
        }
        c.out = Vec::new();
        c.out_pos = 0;
        let role = c.s.plan.role;
        let id = c.s.plan.id;
        let received = c.s.received;
        match was {
            State::Connecting | State::Handshake => {
                self.in_handshake -= 1;
                self.shared.failed.fetch_add(1, Relaxed);
            }
            State::Ready => {
                // Connections closing once the run is over are not drops.
                if self.shared.phase() >= phase::SHUTDOWN {
                    return;
                }
                self.shared.dropped[role as usize].fetch_add(1, Relaxed);
                if role == Role::Member {
                    self.shared.members_alive.fetch_sub(1, Relaxed);
                    self.tally.alive_delta -= received as i64;
                }
            }
            State::Closed => {}
        }
        let nick = &c.s.nick;
        self.shared
            .note_error(|| format!("{role:?} {id} ({nick}): {why}"));
    }

    /// Handshake timeouts and keepalive PINGs.
    fn housekeeping(&mut self, now: Instant) {
        let timeout = self.cfg.handshake_timeout;
        for idx in 0..self.conns.len() {
            let c = &mut self.conns[idx];
            match c.s.state {
                State::Connecting | State::Handshake => {
                    if now.duration_since(c.opened_at) >= timeout {
                        let what = if c.s.state == State::Connecting {
                            "connect"
                        } else {
                            "handshake"
                        };
                        self.close(idx, format!("{what} timed out after {timeout:?}"));
                    }
                }
                State::Ready => {
                    let ka = c.s.keepalive;
                    if !ka.is_zero()
                        && c.pending_out() == 0
                        && now.duration_since(c.last_send)
                            >= (ka / 3).max(Duration::from_millis(500))
                    {
                        c.queue_ping(0);
                        if let Err(e) = c.flush(now) {
                            self.close(idx, format!("write: {e}"));
                        }
                    }
                }
                State::Closed => {}
            }
        }
    }

    /// `connect`: one PING with the probe token on every ready connection.
    fn probe(&mut self, now: Instant) {
        for idx in 0..self.conns.len() {
            let c = &mut self.conns[idx];
            if c.s.state == State::Ready {
                c.queue_ping(PROBE_TOKEN);
                if let Err(e) = c.flush(now) {
                    self.close(idx, format!("write: {e}"));
                }
            }
        }
    }

    /// Adds the tally to the shared counters; wakes waiting publishers.
    fn flush_tally(&mut self) {
        let t = std::mem::take(&mut self.tally);
        let sh = &self.shared;
        if t.delivered > 0 {
            sh.delivered_total.fetch_add(t.delivered, Relaxed);
        }
        if t.delivered_measured > 0 {
            sh.delivered_measured
                .fetch_add(t.delivered_measured, Relaxed);
        }
        if t.alive_delta > 0 {
            sh.delivered_alive.fetch_add(t.alive_delta as u64, Relaxed);
        } else if t.alive_delta < 0 {
            sh.delivered_alive
                .fetch_sub(t.alive_delta.unsigned_abs(), Relaxed);
        }
        if t.echoes_measured > 0 {
            sh.echoes_measured.fetch_add(t.echoes_measured, Relaxed);
        }
        if t.nonfatal > 0 {
            sh.nonfatal_errors.fetch_add(t.nonfatal, Relaxed);
        }
        if t.bad_payloads > 0 {
            sh.bad_payloads.fetch_add(t.bad_payloads, Relaxed);
        }
        if t.slow_left > 0 {
            sh.slow_dropped.fetch_add(t.slow_left, Relaxed);
        }
        if t.pongs > 0 {
            sh.pongs.fetch_add(t.pongs, Relaxed);
        }
        if t.probes > 0 {
            sh.probes.fetch_add(t.probes, Relaxed);
        }
        if t.presence_frames > 0 {
            sh.presence_frames.fetch_add(t.presence_frames, Relaxed);
        }
        if t.room_frames > 0 {
            sh.room_frames.fetch_add(t.room_frames, Relaxed);
        }
        if t.alive_delta > 0
            && sh.publisher_waiting.load(Relaxed)
            && sh.publisher_waiting.swap(false, Relaxed)
        {
            for (i, w) in sh.wakers.iter().enumerate() {
                if i != self.index {
                    let _ = w.wake();
                }
            }
        }
    }

    /// `fanout`: every ready publisher sends a batch if the window and the rate allow.
    fn publish_fanout(&mut self, now: Instant, measured: bool) -> Publish {
        let start = *self.publish_start.get_or_insert(now);
        let cfg = Arc::clone(&self.cfg);
        let sh = Arc::clone(&self.shared);
        let batch = cfg.batch as u64;
        let low_water = (cfg.window / 2).max(1);
        let rate_per_pub = if cfg.rate > 0.0 {
            cfg.rate / cfg.publishers.max(1) as f64
        } else {
            0.0
        };
        let members = sh.members_at_start.load(Relaxed);
        let echoes_each = sh.publishers_at_start.load(Relaxed);
        let mut result = Publish::Idle;
        for k in 0..self.publishers.len() {
            let idx = self.publishers[k];
            let c = &mut self.conns[idx];
            if c.s.state != State::Ready || c.pending_out() > 0 {
                continue;
            }
            let mut n = batch;
            if cfg.window > 0 {
                let room = sh.window_room();
                let need = if c.s.waiting_room {
                    low_water
                } else {
                    low_water.min(batch)
                };
                if room < need {
                    c.s.waiting_room = true;
                    sh.publisher_waiting.store(true, Relaxed);
                    // Re-check after announcing the wait: a deliverer may have
                    // flushed in between and will not wake us.
                    if sh.window_room() < need {
                        if matches!(result, Publish::Idle) {
                            result = Publish::Window;
                        }
                        continue;
                    }
                }
                c.s.waiting_room = false;
                n = n.min(sh.window_room().max(1));
            }
            if rate_per_pub > 0.0 {
                let due = (now.duration_since(start).as_secs_f64() * rate_per_pub) as u64 + 1;
                if due <= c.s.sent {
                    let next = start + Duration::from_secs_f64((c.s.sent) as f64 / rate_per_pub);
                    result = match result {
                        Publish::At(t) if t <= next => Publish::At(t),
                        Publish::Busy => Publish::Busy,
                        _ => Publish::At(next),
                    };
                    continue;
                }
                n = n.min(due - c.s.sent);
            }
            let Some(room) = c.s.plan.room.and_then(|r| cfg.rooms.get(r as usize)) else {
                continue;
            };
            // Count before sending so receivers never see more than expected.
            sh.published_total.fetch_add(n, Relaxed);
            if measured {
                sh.published_measured.fetch_add(n, Relaxed);
                sh.expected_measured.fetch_add(n * members, Relaxed);
                sh.echoes_expected_measured
                    .fetch_add(n * echoes_each, Relaxed);
            }
            let sent_ns = sh.now_ns();
            encode_says(
                &mut c.out,
                room,
                &self.template,
                n,
                measured,
                sent_ns,
                c.s.plan.id as u16,
                c.s.sent,
            );
            c.s.sent += n;
            if let Err(e) = c.flush(now) {
                self.close(idx, format!("write: {e}"));
                continue;
            }
            if !self.conns[idx].write_blocked {
                result = Publish::Busy;
            }
        }
        result
    }

    /// `rooms`: clients take turns publishing to their rooms at this worker's
    /// share of the rate (or as fast as their windows allow when no rate).
    fn publish_rooms(&mut self, now: Instant, measured: bool) -> Publish {
        let start = *self.publish_start.get_or_insert(now);
        if self.publishers.is_empty() {
            return Publish::Idle;
        }
        let cfg = Arc::clone(&self.cfg);
        let sh = Arc::clone(&self.shared);
        let window = if cfg.window == 0 {
            u64::MAX
        } else {
            cfg.window
        };
        let mut budget = if self.worker_rate > 0.0 {
            let due = (now.duration_since(start).as_secs_f64() * self.worker_rate) as u64 + 1;
            due.saturating_sub(self.worker_sent)
        } else {
            u64::MAX
        };
        if budget == 0 {
            let next = start + Duration::from_secs_f64(self.worker_sent as f64 / self.worker_rate);
            return Publish::At(next);
        }
        let mut sent_any = false;
        let count = self.publishers.len();
        let sent_ns = sh.now_ns();
        for _ in 0..count {
            if budget == 0 {
                break;
            }
            let idx = self.publishers[self.cursor];
            self.cursor = (self.cursor + 1) % count;
            let c = &mut self.conns[idx];
            if c.s.state != State::Ready || c.pending_out() > 0 {
                continue;
            }
            let in_flight = c.s.sent.saturating_sub(c.s.echoed);
            if in_flight >= window {
                continue;
            }
            let n = if self.worker_rate > 0.0 {
                1
            } else {
                (cfg.batch as u64).min(window - in_flight)
            };
            let Some(r) = c.s.plan.room else { continue };
            let Some(room) = cfg.rooms.get(r as usize) else {
                continue;
            };
            let recipients = self.room_ready[r as usize].saturating_sub(1);
            sh.published_total.fetch_add(n, Relaxed);
            if measured {
                sh.published_measured.fetch_add(n, Relaxed);
                sh.expected_measured.fetch_add(n * recipients, Relaxed);
                sh.echoes_expected_measured.fetch_add(n, Relaxed);
            }
            encode_says(
                &mut c.out,
                room,
                &self.template,
                n,
                measured,
                sent_ns,
                c.s.plan.id as u16,
                c.s.sent,
            );
            c.s.sent += n;
            budget = budget.saturating_sub(n);
            self.worker_sent += n;
            sent_any = true;
            if let Err(e) = c.flush(now) {
                self.close(idx, format!("write: {e}"));
            }
        }
        if sent_any {
            Publish::Busy
        } else {
            // Everyone is waiting for echoes or for the socket.
            Publish::Window
        }
    }
}
