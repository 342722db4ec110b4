//! Measurements of the web listener (docs/BENCHMARKS.md, "WebSocket"), not
//! run by default (`#[ignore]`): they start the release binary as its own
//! process and read its CPU time and RSS from /proc.
//!
//! ```text
//! cargo test --release --test web_bench -- --ignored --nocapture --test-threads 1
//! ```
//!
//! - `idle_memory_per_connection`: RSS growth of a server per registered
//!   idle connection, WebSocket against TCP.
//! - `fanout_cpu_per_delivery`: one TCP publisher, N members of one room all
//!   on WebSocket or all on TCP; server CPU time per delivered MESSAGE.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use stxchat::codec::{ClientMessage, Event, FrameDecoder};

const IDLE_CONNECTIONS: usize = 2000;
const MEMBERS: usize = 500;
const MESSAGES: usize = 2000;
const BATCH: usize = 50;
const TEXT: &str = "a 64-byte chat message of the kind people send, more or less...";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Proc {
    child: Child,
    chat: SocketAddr,
    web: SocketAddr,
}

impl Proc {
    fn start() -> Proc {
        let (chat, web) = (free_port(), free_port());
        let child = Command::new(env!("CARGO_BIN_EXE_stxchat"))
            .args(["server", "--bind", &format!("127.0.0.1:{chat}")])
            .args([
                "--web-bind",
                &format!("127.0.0.1:{web}"),
                "--admin-bind",
                "off",
            ])
            .args([
                "--stats-interval",
                "0",
                "--keepalive",
                "0",
                "--history",
                "0",
            ])
            .args(["--max-outbuf", "16777216"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the server starts");
        let p = Proc {
            child,
            chat: format!("127.0.0.1:{chat}").parse().unwrap(),
            web: format!("127.0.0.1:{web}").parse().unwrap(),
        };
        common::wait_until("the server to listen", || {
            TcpStream::connect(p.chat).is_ok() && TcpStream::connect(p.web).is_ok()
        });
        p
    }

    fn stat(&self) -> (f64, u64) {
        let pid = self.child.id();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let fields: Vec<&str> = stat.rsplit_once(") ").unwrap().1.split(' ').collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        let hz = 100.0; // USER_HZ on Linux
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let rss_kb = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
            .unwrap();
        (ticks as f64 / hz, rss_kb)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn frame_of(m: ClientMessage<'_>) -> Vec<u8> {
    common::encode(m)
}

/// A client frame in a masked binary WebSocket message (mask 0: the
/// server's unmasking work is the same whatever the key).
fn ws_message(payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x82];
    if payload.len() < 126 {
        v.push(0x80 | payload.len() as u8);
    } else {
        v.push(0x80 | 126);
        v.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    }
    v.extend_from_slice(&[0, 0, 0, 0]);
    v.extend_from_slice(payload);
    v
}

/// A member: its socket and what it has received.
struct Member {
    s: TcpStream,
    ws: bool,
    /// WebSocket: payload bytes left in the current server frame, or the
    /// header bytes collected so far.
    left: usize,
    head: Vec<u8>,
    dec: FrameDecoder,
    messages: u64,
}

impl Member {
    fn connect(p: &Proc, ws: bool, nick: &str) -> Member {
        let mut s = TcpStream::connect(if ws { p.web } else { p.chat }).unwrap();
        s.set_nodelay(true).unwrap();
        let hello = frame_of(ClientMessage::Hello {
            version: 1,
            nick,
            token: "",
        });
        if ws {
            s.write_all(
                b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                  Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            )
            .unwrap();
            let mut head = Vec::new();
            let mut b = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                s.read_exact(&mut b).unwrap();
                head.push(b[0]);
            }
            s.write_all(&ws_message(&hello)).unwrap();
        } else {
            s.write_all(&hello).unwrap();
        }
        s.set_nonblocking(true).unwrap();
        Member {
            s,
            ws,
            left: 0,
            head: Vec::new(),
            dec: FrameDecoder::new(65535),
            messages: 0,
        }
    }

    /// Reads what is there; counts MESSAGE frames.
    fn poll(&mut self, buf: &mut [u8]) -> bool {
        let mut any = false;
        loop {
            let n = match self.s.read(buf) {
                Ok(0) => panic!("a member was closed"),
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return any,
                Err(e) => panic!("read: {e}"),
            };
            any = true;
            if self.ws {
                let mut at = 0;
                while at < n {
                    if self.left == 0 {
                        self.head.push(buf[at]);
                        at += 1;
                        let need = match self.head.get(1).map(|b| b & 0x7f) {
                            None => continue,
                            Some(126) => 4,
                            Some(127) => 10,
                            Some(_) => 2,
                        };
                        if self.head.len() == need {
                            self.left = match need {
                                4 => u16::from_be_bytes([self.head[2], self.head[3]]) as usize,
                                10 => u64::from_be_bytes(self.head[2..10].try_into().unwrap())
                                    as usize,
                                _ => (self.head[1] & 0x7f) as usize,
                            };
                            self.head.clear();
                        }
                    } else {
                        let k = self.left.min(n - at);
                        let chunk = buf[at..at + k].to_vec();
                        self.count(&chunk);
                        self.left -= k;
                        at += k;
                    }
                }
            } else {
                let chunk = buf[..n].to_vec();
                self.count(&chunk);
            }
        }
    }

    fn count(&mut self, mut input: &[u8]) {
        loop {
            let (used, ev) = self.dec.decode(input);
            let done = ev.is_none();
            if let Some(Event::Frame(f)) = ev
                && f.first() == Some(&0x82)
            {
                self.messages += 1;
            }
            input = &input[used..];
            if done {
                return;
            }
        }
    }
}

/// Waits until every member counted `want` messages.
fn drain(members: &mut [Member], want: u64, buf: &mut [u8]) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let mut behind = false;
        for m in members.iter_mut() {
            m.poll(buf);
            behind |= m.messages < want;
        }
        if !behind {
            return;
        }
        assert!(Instant::now() < deadline, "deliveries did not arrive");
    }
}

fn idle_memory(ws: bool) -> f64 {
    let p = Proc::start();
    // Warm up allocator and engine with a few connections.
    let mut warm: Vec<Member> = (0..50)
        .map(|i| Member::connect(&p, ws, &format!("w{i}")))
        .collect();
    let mut buf = vec![0u8; 65536];
    std::thread::sleep(Duration::from_millis(300));
    for m in &mut warm {
        m.poll(&mut buf);
    }
    let (_, before) = p.stat();
    let mut conns: Vec<Member> = (0..IDLE_CONNECTIONS)
        .map(|i| Member::connect(&p, ws, &format!("m{i}")))
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    for m in &mut conns {
        m.poll(&mut buf);
    }
    std::thread::sleep(Duration::from_millis(1500)); // let the server trim its buffers
    let (_, after) = p.stat();
    (after.saturating_sub(before) * 1024) as f64 / IDLE_CONNECTIONS as f64
}

#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn idle_memory_per_connection() {
    let tcp = idle_memory(false);
    let ws = idle_memory(true);
    println!(
        "idle registered connections: {IDLE_CONNECTIONS}; server RSS per connection: TCP {tcp:.0} B, WebSocket {ws:.0} B"
    );
}

fn fanout(ws: bool) -> (f64, u64) {
    let p = Proc::start();
    let mut buf = vec![0u8; 65536];
    let mut members: Vec<Member> = (0..MEMBERS)
        .map(|i| Member::connect(&p, ws, &format!("m{i}")))
        .collect();
    let mut publisher = TcpStream::connect(p.chat).unwrap();
    publisher
        .write_all(&frame_of(ClientMessage::Hello {
            version: 1,
            nick: "publisher",
            token: "",
        }))
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    for m in &mut members {
        m.poll(&mut buf);
    }
    let say = frame_of(ClientMessage::Say {
        room: "lobby",
        text: TEXT,
    });
    let mut batch = Vec::new();
    for _ in 0..BATCH {
        batch.extend_from_slice(&say);
    }
    let (cpu0, _) = p.stat();
    let started = Instant::now();
    let mut sent = 0u64;
    let mut drained = vec![0u8; 1 << 16];
    while (sent as usize) < MESSAGES {
        publisher.write_all(&batch).unwrap();
        sent += BATCH as u64;
        drain(&mut members, sent, &mut buf);
        // The publisher's own copies: read and dropped.
        publisher.set_nonblocking(true).unwrap();
        while publisher.read(&mut drained).is_ok_and(|n| n > 0) {}
        publisher.set_nonblocking(false).unwrap();
    }
    let (cpu1, _) = p.stat();
    let elapsed = started.elapsed();
    let deliveries = sent * MEMBERS as u64;
    println!(
        "fanout {}: {MEMBERS} members, {sent} messages, {deliveries} deliveries in {:.2} s; server CPU {:.2} s",
        if ws { "WebSocket" } else { "TCP" },
        elapsed.as_secs_f64(),
        cpu1 - cpu0
    );
    ((cpu1 - cpu0) / deliveries as f64 * 1e9, deliveries)
}

#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn fanout_cpu_per_delivery() {
    let (tcp, _) = fanout(false);
    let (ws, _) = fanout(true);
    println!("server CPU per delivery: TCP {tcp:.0} ns, WebSocket {ws:.0} ns");
}
