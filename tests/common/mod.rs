//! Shared helpers for the server integration tests: an in-process server on
//! port 0 and a blocking test client that decodes and checks what the server
//! sends (every frame must decode, fit the announced `max_payload`, and carry
//! only the flag bits the protocol defines).
#![allow(dead_code)]

pub mod cluster;
pub mod nats;

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockRef, Socket, Type};
use stxchat::codec::{ClientMessage, ErrorCode, Event, FrameDecoder, ServerMessage, encode_frame};
use stxchat::server::{Server, ServerConfig, ShutdownHandle};

/// How long any single wait in a test may take before it fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// Whether the server closes `s` (EOF or reset) within [`WAIT`], whatever
/// it sends first (a TLS alert, an ERROR frame).
pub fn closed_by_server(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

/// Settings for tests: port 0, no stats line, a fixed connection limit.
pub fn config() -> ServerConfig {
    let mut cfg = ServerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        auto_max_connections: false,
        stats_interval: Duration::ZERO,
        ..ServerConfig::default()
    };
    cfg.core.max_connections = 18_000;
    cfg
}

/// A server with the test settings changed by `f`.
pub fn start_with(f: impl FnOnce(&mut ServerConfig)) -> TestServer {
    let mut cfg = config();
    f(&mut cfg);
    TestServer::start(cfg)
}

/// A server running on its own thread; shut down and joined on drop.
pub struct TestServer {
    pub addr: SocketAddr,
    /// The admin listener, if the settings turned it on.
    pub admin: Option<SocketAddr>,
    /// The metrics endpoint, if the settings turned it on.
    pub metrics: Option<SocketAddr>,
    /// The IRC gateway, if the settings turned it on.
    pub irc: Option<SocketAddr>,
    pub handle: ShutdownHandle,
    join: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    pub fn start(cfg: ServerConfig) -> TestServer {
        let server = Server::bind(cfg).expect("server binds");
        let addr = server.local_addr();
        let admin = server.admin_addr();
        let metrics = server.metrics_addr();
        let irc = server.irc_addr();
        let handle = server.shutdown_handle();
        let join = std::thread::spawn(move || server.run());
        TestServer {
            addr,
            admin,
            metrics,
            irc,
            handle,
            join: Some(join),
        }
    }

    /// Asks for shutdown and waits (at most [`WAIT`]) until `run()` returned;
    /// panics unless it returned `Ok`.
    pub fn stop(&mut self) {
        self.handle.shutdown();
        if let Some(j) = self.join.take() {
            wait_until("the server to stop", || j.is_finished());
            j.join().expect("server thread").expect("server run");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(j) = self.join.take() {
            let _ = j.join();
        }
    }
}

/// A server message, owned, for assertions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Msg {
    Welcome {
        nick: String,
        server: String,
        max_payload: u16,
        keepalive: u16,
    },
    Message {
        replayed: bool,
        seq: u64,
        time_ms: u64,
        room: String,
        from: String,
        text: String,
    },
    Private {
        seq: u64,
        from: String,
        to: String,
        text: String,
    },
    Joined {
        room: String,
        nick: String,
    },
    Left {
        room: String,
        nick: String,
        reason: u8,
    },
    Members {
        room: String,
        more: bool,
        nicks: Vec<String>,
    },
    Pong(u64),
    Error(u16),
    /// ROOM (version 2): room, flags, member count.
    Room(String, u8, u32),
    /// MEMBERS with bit 1 (version 2): a quiet room's partial list, one frame.
    Partial {
        room: String,
        nicks: Vec<String>,
    },
}

impl Msg {
    /// Converts a decoded server message, checking the fields the protocol
    /// fixes for a client of version 1.
    pub fn from_wire(m: ServerMessage<'_>) -> Msg {
        Msg::from_wire_v(m, 1)
    }

    /// Converts a decoded server message, checking the fields the protocol
    /// fixes for a client that said HELLO `version` (ROOM and MEMBERS bit 1
    /// only for version 2).
    pub fn from_wire_v(m: ServerMessage<'_>, client_version: u8) -> Msg {
        match m {
            ServerMessage::Welcome {
                version,
                nick,
                server_name,
                max_payload,
                keepalive_secs,
            } => {
                assert_eq!(version, client_version, "WELCOME echoes the HELLO version");
                Msg::Welcome {
                    nick: nick.into(),
                    server: server_name.into(),
                    max_payload,
                    keepalive: keepalive_secs,
                }
            }
            ServerMessage::Message {
                flags,
                seq,
                time_ms,
                room,
                from,
                text,
            } => {
                assert_eq!(flags & !1, 0, "MESSAGE flags other than bit 0 must be 0");
                Msg::Message {
                    replayed: flags & 1 == 1,
                    seq,
                    time_ms,
                    room: room.into(),
                    from: from.into(),
                    text: text.into(),
                }
            }
            ServerMessage::Private {
                flags,
                seq,
                from,
                to,
                text,
                ..
            } => {
                assert_eq!(flags, 0, "PRIVATE is never replayed; other bits are 0");
                Msg::Private {
                    seq,
                    from: from.into(),
                    to: to.into(),
                    text: text.into(),
                }
            }
            ServerMessage::Joined { room, nick } => Msg::Joined {
                room: room.into(),
                nick: nick.into(),
            },
            ServerMessage::Left { room, nick, reason } => Msg::Left {
                room: room.into(),
                nick: nick.into(),
                reason,
            },
            ServerMessage::Members { room, flags, nicks } if flags & 2 == 2 => {
                assert_eq!(client_version, 2, "MEMBERS bit 1 for version 2 only");
                assert_eq!(flags, 2, "a partial MEMBERS is one frame (bit 0 clear)");
                assert!(
                    nicks.len() <= 100,
                    "a partial MEMBERS holds at most 100 nicks"
                );
                Msg::Partial {
                    room: room.into(),
                    nicks: nicks.iter().map(str::to_owned).collect(),
                }
            }
            ServerMessage::Members { room, flags, nicks } => {
                assert_eq!(flags & !1, 0, "MEMBERS flags other than bit 0 must be 0");
                assert!(
                    !nicks.is_empty(),
                    "a MEMBERS frame carries at least one nick"
                );
                Msg::Members {
                    room: room.into(),
                    more: flags & 1 == 1,
                    nicks: nicks.iter().map(str::to_owned).collect(),
                }
            }
            ServerMessage::Pong { token } => Msg::Pong(token),
            ServerMessage::Error { code, .. } => Msg::Error(code),
            ServerMessage::Room {
                room,
                flags,
                members,
            } => {
                assert_eq!(client_version, 2, "ROOM for version 2 only");
                assert_eq!(flags & !1, 0, "ROOM flags other than bit 0 must be 0");
                Msg::Room(room.into(), flags, members)
            }
        }
    }

    /// Whether this is ERROR `code`.
    pub fn is_error(&self, code: ErrorCode) -> bool {
        *self == err(code)
    }
}

pub fn joined(room: &str, nick: &str) -> Msg {
    Msg::Joined {
        room: room.into(),
        nick: nick.into(),
    }
}

pub fn left(room: &str, nick: &str, reason: u8) -> Msg {
    Msg::Left {
        room: room.into(),
        nick: nick.into(),
        reason,
    }
}

pub fn err(code: ErrorCode) -> Msg {
    Msg::Error(code.as_u16())
}

/// A single (last) MEMBERS frame listing `nicks` in any order; compare with [`sorted_members`].
pub fn members(room: &str, nicks: &[&str]) -> Msg {
    let mut nicks: Vec<String> = nicks.iter().map(|n| n.to_string()).collect();
    nicks.sort();
    Msg::Members {
        room: room.into(),
        more: false,
        nicks,
    }
}

/// `msgs` with the nicks of every MEMBERS frame sorted (member order is unspecified).
pub fn sorted_members(mut msgs: Vec<Msg>) -> Vec<Msg> {
    for m in &mut msgs {
        if let Msg::Members { nicks, .. } = m {
            nicks.sort();
        }
    }
    msgs
}

/// `msgs` sorted (for frames whose relative order is unspecified).
pub fn sorted(mut msgs: Vec<Msg>) -> Vec<Msg> {
    msgs.sort();
    msgs
}

/// A whole frame around `payload` (any payload, valid message or not).
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    encode_frame(&mut b, payload).expect("payload fits a frame");
    b
}

/// The whole frame of a client message.
pub fn encode(m: ClientMessage<'_>) -> Vec<u8> {
    let mut b = Vec::new();
    m.encode(&mut b, 65535).expect("encodable");
    b
}

/// The payload (type byte first) of a client message.
pub fn payload(m: ClientMessage<'_>) -> Vec<u8> {
    let mut b = Vec::new();
    m.encode_payload(&mut b).expect("encodable");
    b
}

/// A HELLO of protocol version 1 with no token.
pub fn hello(nick: &str) -> ClientMessage<'_> {
    ClientMessage::Hello {
        version: 1,
        nick,
        token: "",
    }
}

/// A blocking client for tests.
pub struct Client {
    pub stream: TcpStream,
    dec: FrameDecoder,
    inbox: VecDeque<Msg>,
    eof: bool,
    reset: bool,
    next_ping: u64,
    pub nick: String,
    /// The HELLO version this client speaks (what it accepts from the server).
    pub version: u8,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        Client::from_stream(TcpStream::connect(addr).expect("connect"))
    }

    /// Connects from the local address `src` (any of 127.0.0.0/8 on loopback).
    pub fn connect_from(addr: SocketAddr, src: IpAddr) -> Client {
        let sock = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
        sock.bind(&SocketAddr::new(src, 0).into())
            .expect("bind source");
        sock.connect(&addr.into()).expect("connect");
        Client::from_stream(sock.into())
    }

    /// Connects with a small receive buffer (so the server's output backs up soon).
    pub fn connect_with_rcvbuf(addr: SocketAddr, bytes: usize) -> Client {
        let sock = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
        sock.set_recv_buffer_size(bytes).unwrap();
        sock.connect(&addr.into()).expect("connect");
        Client::from_stream(sock.into())
    }

    pub fn from_stream(stream: TcpStream) -> Client {
        stream.set_nodelay(true).unwrap();
        Client {
            stream,
            dec: FrameDecoder::new(65535),
            inbox: VecDeque::new(),
            eof: false,
            reset: false,
            next_ping: 1_000_000,
            nick: String::new(),
            version: 1,
        }
    }

    /// Connects and registers; consumes WELCOME and the default room's frames up to our own JOINED.
    pub fn join_as(addr: SocketAddr, nick: &str) -> Client {
        Client::register(addr, nick).0
    }

    /// Connects and registers; returns the client and every frame after
    /// WELCOME up to a PING barrier (the default room's history, MEMBERS, JOINED).
    pub fn register(addr: SocketAddr, nick: &str) -> (Client, Vec<Msg>) {
        Client::register_v(addr, nick, 1)
    }

    /// [`Client::register`] with HELLO `version`.
    pub fn register_v(addr: SocketAddr, nick: &str, version: u8) -> (Client, Vec<Msg>) {
        let mut c = Client::connect(addr);
        c.nick = nick.into();
        c.version = version;
        c.send(ClientMessage::Hello {
            version,
            nick,
            token: "",
        });
        match c.recv() {
            Msg::Welcome { .. } => {}
            other => panic!("{nick}: expected WELCOME, got {other:?}"),
        }
        let rest = c.sync();
        (c, rest)
    }

    pub fn send(&mut self, m: ClientMessage<'_>) {
        self.send_raw(&encode(m));
    }

    /// Sends one frame around `payload` (valid message or not).
    pub fn send_payload(&mut self, payload: &[u8]) {
        self.send_raw(&frame(payload));
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Like [`Client::send_raw`] but reports a failed write (the server may have closed).
    pub fn try_send_raw(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).is_ok()
    }

    pub fn say(&mut self, room: &str, text: &str) {
        self.send(ClientMessage::Say { room, text });
    }

    pub fn whisper(&mut self, to: &str, text: &str) {
        self.send(ClientMessage::Whisper { to, text });
    }

    /// JOIN `room`; returns what came back up to a barrier.
    pub fn join(&mut self, room: &str) -> Vec<Msg> {
        self.send(ClientMessage::Join { room });
        self.sync()
    }

    /// PART `room`; returns what came back up to a barrier.
    pub fn part(&mut self, room: &str) -> Vec<Msg> {
        self.send(ClientMessage::Part { room });
        self.sync()
    }

    /// Reads what is available (waiting until `deadline`); false if nothing came.
    fn fill(&mut self, deadline: Instant) -> bool {
        let mut buf = vec![0u8; 65536];
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        self.stream.set_read_timeout(Some(left)).unwrap();
        match self.stream.read(&mut buf) {
            Ok(0) => {
                self.eof = true;
                false
            }
            Ok(n) => {
                self.decode(&buf[..n]);
                true
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => false,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                self.eof = true;
                self.reset = true;
                false
            }
            Err(e) => panic!("read: {e}"),
        }
    }

    /// Decodes server bytes; after WELCOME the decoder enforces the announced max_payload.
    fn decode(&mut self, mut input: &[u8]) {
        loop {
            let (used, ev) = self.dec.decode(input);
            input = &input[used..];
            let msg = match ev {
                None => break,
                Some(Event::Frame(p)) => Msg::from_wire_v(
                    ServerMessage::decode(p).expect("server sends valid messages"),
                    self.version,
                ),
                Some(Event::Error(e)) => panic!("{}: server sent a bad frame: {e}", self.nick),
            };
            if let Msg::Welcome { max_payload, .. } = msg {
                self.dec.set_max_payload(usize::from(max_payload));
            }
            self.inbox.push_back(msg);
        }
    }

    /// The next message, or a panic after [`WAIT`].
    pub fn recv(&mut self) -> Msg {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(m) = self.inbox.pop_front() {
                return m;
            }
            if self.eof {
                panic!("{}: EOF while waiting for a message", self.nick);
            }
            if !self.fill(deadline) && Instant::now() >= deadline {
                panic!("{}: no message within {WAIT:?}", self.nick);
            }
        }
    }

    /// The next message, or `None` if EOF comes first; panics after [`WAIT`].
    pub fn first_or_eof(&mut self) -> Option<Msg> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(m) = self.inbox.pop_front() {
                return Some(m);
            }
            if self.eof {
                return None;
            }
            if !self.fill(deadline) && !self.eof && Instant::now() >= deadline {
                panic!("{}: no message or EOF within {WAIT:?}", self.nick);
            }
        }
    }

    /// Asserts that the next message is `m`.
    pub fn expect(&mut self, m: Msg) {
        let got = self.recv();
        assert_eq!(got, m, "{}: unexpected message", self.nick);
    }

    /// Asserts that the next message is ERROR `code`.
    pub fn expect_error(&mut self, code: ErrorCode) {
        self.expect(err(code));
    }

    /// Every message until the PONG of a fresh PING (a barrier); the PONG is not returned.
    pub fn sync(&mut self) -> Vec<Msg> {
        self.next_ping += 1;
        let token = self.next_ping;
        self.send(ClientMessage::Ping { token });
        let mut got = Vec::new();
        loop {
            match self.recv() {
                Msg::Pong(t) if t == token => return got,
                m => got.push(m),
            }
        }
    }

    /// Asserts that nothing arrives before a barrier.
    pub fn expect_nothing(&mut self) {
        let got = self.sync();
        assert_eq!(got, vec![], "{}: expected nothing", self.nick);
    }

    /// Sends `m` and asserts that exactly ERROR `code` comes back before a
    /// barrier (so the connection stays open).
    pub fn send_expect_error(&mut self, m: ClientMessage<'_>, code: ErrorCode) {
        self.send(m);
        assert_eq!(
            self.sync(),
            vec![err(code)],
            "{}: answer to {m:?}",
            self.nick
        );
    }

    /// Reads until EOF (panics after [`WAIT`]); returns what came before it.
    pub fn until_eof(&mut self) -> Vec<Msg> {
        let deadline = Instant::now() + WAIT;
        while !self.eof {
            if !self.fill(deadline) && !self.eof && Instant::now() >= deadline {
                panic!("{}: no EOF within {WAIT:?}", self.nick);
            }
        }
        self.inbox.drain(..).collect()
    }

    /// Reads until EOF and asserts that the last frame was ERROR `code`, with
    /// no partial frame after it; returns the frames before the ERROR.
    pub fn expect_closed_with(&mut self, code: ErrorCode) -> Vec<Msg> {
        let mut got = self.until_eof();
        assert_eq!(
            got.last(),
            Some(&err(code)),
            "{}: the last frame before EOF must be ERROR {} (got {got:?})",
            self.nick,
            code.name()
        );
        assert_eq!(
            self.dec.buffered(),
            0,
            "{}: a partial frame before EOF",
            self.nick
        );
        got.pop();
        got
    }

    /// Whether EOF (or a reset) was seen.
    pub fn is_eof(&self) -> bool {
        self.eof
    }

    /// Whether the connection ended with a reset rather than a clean EOF.
    pub fn was_reset(&self) -> bool {
        self.reset
    }

    /// Bytes of an unfinished frame held by the decoder.
    pub fn partial_bytes(&self) -> usize {
        self.dec.buffered()
    }

    /// Closes both directions (the server sees EOF).
    pub fn close(self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }

    /// Closes with a reset (SO_LINGER 0), not a FIN.
    pub fn reset(self) {
        SockRef::from(&self.stream)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(self.stream);
    }
}

/// Waits until `cond` holds, polling every few milliseconds; panics after [`WAIT`].
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A port on 127.0.0.1 that was free a moment ago (for a server in a child
/// process, which cannot report the port it got from port 0).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// The `stxchat server` binary running in a child process, its stderr (the
/// log) collected line by line; killed by PID on drop.
pub struct ChildServer {
    pub child: std::process::Child,
    pub addr: SocketAddr,
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl ChildServer {
    /// Starts `stxchat server --bind 127.0.0.1:<free port> --admin-bind off
    /// --stats-interval 0 <args>` with `RUST_LOG=info`, optionally with an
    /// open-files limit (soft and hard), and waits until it accepts.
    pub fn start(args: &[&str], nofile: Option<u64>) -> ChildServer {
        use std::io::BufRead;
        use std::os::unix::process::CommandExt;
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_stxchat"));
        cmd.arg("server")
            .args(["--bind", &addr.to_string()])
            .args(["--admin-bind", "off", "--stats-interval", "0"])
            .args(args)
            .env_clear()
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        if let Some(n) = nofile {
            // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    let lim = libc::rlimit {
                        rlim_cur: n,
                        rlim_max: n,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = cmd.spawn().expect("spawn stxchat server");
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        let server = ChildServer { child, addr, log };
        wait_until("the child server to listen", || {
            TcpStream::connect(addr).is_ok()
        });
        server
    }

    /// The log lines so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// How many log lines so far contain `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.log().iter().filter(|l| l.contains(needle)).count()
    }

    /// Waits until a log line contains `needle`; returns that line.
    pub fn wait_log(&self, needle: &str) -> String {
        let mut found = None;
        wait_until(&format!("a log line with {needle:?}"), || {
            found = self.log().into_iter().find(|l| l.contains(needle));
            found.is_some()
        });
        found.unwrap()
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time (user + system) the child has used so far.
    pub fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        // Fields after the command name (which is in parentheses): state is
        // field 3, utime 14 and stime 15, in clock ticks.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<u64> = rest
            .split_whitespace()
            .skip(11)
            .take(2)
            .map(|x| x.parse().unwrap())
            .collect();
        // SAFETY: sysconf has no preconditions.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
        Duration::from_millis((f[0] + f[1]) * 1000 / ticks)
    }

    /// Waits (at most [`WAIT`]) for the child to exit; its exit status.
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let mut status = None;
        wait_until("the child server to exit", || {
            status = self.child.try_wait().unwrap();
            status.is_some()
        });
        status.unwrap()
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            // SAFETY: kill on our own child's PID.
            unsafe {
                libc::kill(self.child.id() as libc::pid_t, libc::SIGKILL);
            }
            let _ = self.child.wait();
        }
    }
}

/// Runs `stxchat <args>` to completion (at most [`WAIT`]); its exit code and stderr.
pub fn run_cli(args: &[&str]) -> (Option<i32>, String) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_stxchat"))
        .args(args)
        .env_clear()
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn stxchat");
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("stxchat {args:?} did not exit within {WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    (status.code(), reader.join().unwrap())
}
