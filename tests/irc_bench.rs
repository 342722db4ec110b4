//! Measurements of the IRC gateway (docs/BENCHMARKS.md, "IRC"), not run by
//! default (`#[ignore]`): they start the release binary as its own process
//! and read its CPU time and RSS from /proc.
//!
//! ```text
//! cargo test --release --test irc_bench -- --ignored --nocapture --test-threads 1
//! ```
//!
//! - `idle_memory_per_connection`: RSS growth of a server per registered
//!   idle connection, IRC against native TCP (neither in a room).
//! - `fanout_cpu_per_delivery`: one native publisher, 500 members of one
//!   room, all native, half IRC, all IRC; server CPU time per delivered
//!   message, and from that the extra cost of an IRC member.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use stxchat::codec::{ClientMessage, Event, FrameDecoder};

const IDLE_CONNECTIONS: usize = 2000;
const MEMBERS: usize = 500;
const MESSAGES: usize = 4000;
const BATCH: usize = 50;
const TEXT: &str = "a 64-byte chat message of the kind people send, more or less...";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The server under test, its own process (killed by PID on drop).
struct Proc {
    child: Child,
    chat: SocketAddr,
    irc: SocketAddr,
}

impl Proc {
    fn start() -> Proc {
        let (chat, irc) = (free_port(), free_port());
        let child = Command::new(env!("CARGO_BIN_EXE_stxchat"))
            .args(["server", "--bind", &format!("127.0.0.1:{chat}")])
            .args(["--irc-bind", &format!("127.0.0.1:{irc}")])
            .args(["--admin-bind", "off", "--default-room", ""])
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
            irc: format!("127.0.0.1:{irc}").parse().unwrap(),
        };
        common::wait_until("the server to listen", || {
            TcpStream::connect(p.chat).is_ok() && TcpStream::connect(p.irc).is_ok()
        });
        p
    }

    /// (CPU seconds, user + system; RSS in KiB).
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

/// A member, IRC or native: its socket and the room messages it received.
struct Member {
    s: TcpStream,
    irc: bool,
    /// Native: the frame decoder. IRC: the partial line.
    dec: FrameDecoder,
    line: Vec<u8>,
    messages: u64,
    /// IRC: the JOIN reply (366) came.
    joined: bool,
}

impl Member {
    /// Connects, registers as `nick` and (if `room`) joins `lobby`.
    fn connect(p: &Proc, irc: bool, nick: &str, room: bool) -> Member {
        let mut s = TcpStream::connect(if irc { p.irc } else { p.chat }).unwrap();
        s.set_nodelay(true).unwrap();
        if irc {
            let join = if room { "JOIN #lobby\r\n" } else { "" };
            s.write_all(format!("NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\n{join}").as_bytes())
                .unwrap();
        } else {
            let mut hello = common::encode(ClientMessage::Hello {
                version: 1,
                nick,
                token: "",
            });
            if room {
                hello.extend(common::encode(ClientMessage::Join { room: "lobby" }));
            }
            s.write_all(&hello).unwrap();
        }
        s.set_nonblocking(true).unwrap();
        Member {
            s,
            irc,
            dec: FrameDecoder::new(65535),
            line: Vec::new(),
            messages: 0,
            joined: !irc,
        }
    }

    /// Reads what is there; counts room messages.
    fn poll(&mut self, buf: &mut [u8]) {
        loop {
            let n = match self.s.read(buf) {
                Ok(0) => panic!("a member was closed"),
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) => panic!("read: {e}"),
            };
            if self.irc {
                for &b in &buf[..n] {
                    if b != b'\n' {
                        self.line.push(b);
                        continue;
                    }
                    if self.line.starts_with(b":publisher!") {
                        self.messages += 1;
                    } else if self.line.windows(5).any(|w| w == b" 366 ") {
                        self.joined = true;
                    }
                    self.line.clear();
                }
            } else {
                let mut input = &buf[..n];
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
                        break;
                    }
                }
            }
        }
    }
}

/// Polls every member until `done` holds for all (bounded).
fn drain(members: &mut [Member], buf: &mut [u8], done: impl Fn(&Member) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let mut behind = false;
        for m in members.iter_mut() {
            m.poll(buf);
            behind |= !done(m);
        }
        if !behind {
            return;
        }
        assert!(Instant::now() < deadline, "deliveries did not arrive");
    }
}

fn idle_memory(irc: bool) -> f64 {
    let p = Proc::start();
    let mut buf = vec![0u8; 65536];
    // Warm up allocator and engine with a few connections.
    let mut warm: Vec<Member> = (0..50)
        .map(|i| Member::connect(&p, irc, &format!("w{i}"), false))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    for m in &mut warm {
        m.poll(&mut buf);
    }
    let (_, before) = p.stat();
    let mut conns: Vec<Member> = (0..IDLE_CONNECTIONS)
        .map(|i| Member::connect(&p, irc, &format!("m{i}"), false))
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
    let native = idle_memory(false);
    let irc = idle_memory(true);
    println!(
        "idle registered connections: {IDLE_CONNECTIONS}; server RSS per connection: native {native:.0} B, IRC {irc:.0} B"
    );
}

/// `irc_members` of the `MEMBERS` are IRC; returns server CPU seconds for
/// the deliveries and how many there were.
fn fanout(irc_members: usize) -> (f64, u64) {
    let p = Proc::start();
    let mut buf = vec![0u8; 65536];
    let mut members: Vec<Member> = (0..MEMBERS)
        .map(|i| Member::connect(&p, i < irc_members, &format!("m{i}"), true))
        .collect();
    let mut publisher = TcpStream::connect(p.chat).unwrap();
    let mut hello = common::encode(ClientMessage::Hello {
        version: 1,
        nick: "publisher",
        token: "",
    });
    hello.extend(common::encode(ClientMessage::Join { room: "lobby" }));
    publisher.write_all(&hello).unwrap();
    drain(&mut members, &mut buf, |m| m.joined);
    std::thread::sleep(Duration::from_millis(300));
    for m in &mut members {
        m.poll(&mut buf);
    }
    let say = common::encode(ClientMessage::Say {
        room: "lobby",
        text: TEXT,
    });
    let batch: Vec<u8> = (0..BATCH).flat_map(|_| say.iter().copied()).collect();
    let (cpu0, _) = p.stat();
    let started = Instant::now();
    let mut sent = 0u64;
    let mut drained = vec![0u8; 1 << 16];
    while (sent as usize) < MESSAGES {
        publisher.write_all(&batch).unwrap();
        sent += BATCH as u64;
        drain(&mut members, &mut buf, |m| m.messages >= sent);
        // The publisher's own copies: read and dropped.
        publisher.set_nonblocking(true).unwrap();
        while publisher.read(&mut drained).is_ok_and(|n| n > 0) {}
        publisher.set_nonblocking(false).unwrap();
    }
    let (cpu1, _) = p.stat();
    let deliveries = sent * MEMBERS as u64;
    println!(
        "fanout: {MEMBERS} members ({irc_members} IRC), {sent} messages, {deliveries} deliveries in {:.2} s; server CPU {:.2} s = {:.0} ns per delivery",
        started.elapsed().as_secs_f64(),
        cpu1 - cpu0,
        (cpu1 - cpu0) / deliveries as f64 * 1e9
    );
    (cpu1 - cpu0, deliveries)
}

#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn fanout_cpu_per_delivery() {
    let (native, n) = fanout(0);
    let (mixed, _) = fanout(MEMBERS / 2);
    let (irc, _) = fanout(MEMBERS);
    let per = |cpu: f64| cpu / n as f64 * 1e9;
    println!(
        "server CPU per delivery: all native {:.0} ns, half IRC {:.0} ns, all IRC {:.0} ns; an IRC member costs {:.0} ns more per delivery than a native one",
        per(native),
        per(mixed),
        per(irc),
        per(irc) - per(native)
    );
}
