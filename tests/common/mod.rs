//! Shared helpers for the server integration tests: an in-process server on
//! port 0 and a blocking test client that decodes what the server sends.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use stxchat::codec::{ClientMessage, Event, FrameDecoder, ServerMessage};
use stxchat::server::{Server, ServerConfig, ShutdownHandle};

/// How long any single wait in a test may take before it fails.
pub const WAIT: Duration = Duration::from_secs(10);

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

/// A server running on its own thread; shut down and joined on drop.
pub struct TestServer {
    pub addr: SocketAddr,
    pub handle: ShutdownHandle,
    join: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    pub fn start(cfg: ServerConfig) -> TestServer {
        let server = Server::bind(cfg).expect("server binds");
        let addr = server.local_addr();
        let handle = server.shutdown_handle();
        let join = std::thread::spawn(move || server.run());
        TestServer {
            addr,
            handle,
            join: Some(join),
        }
    }

    pub fn stop(&mut self) {
        self.handle.shutdown();
        if let Some(j) = self.join.take() {
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
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

impl Msg {
    fn from_wire(m: ServerMessage<'_>) -> Msg {
        match m {
            ServerMessage::Welcome {
                nick,
                server_name,
                max_payload,
                keepalive_secs,
                ..
            } => Msg::Welcome {
                nick: nick.into(),
                server: server_name.into(),
                max_payload,
                keepalive: keepalive_secs,
            },
            ServerMessage::Message {
                flags,
                seq,
                time_ms,
                room,
                from,
                text,
            } => Msg::Message {
                replayed: flags & 1 == 1,
                seq,
                time_ms,
                room: room.into(),
                from: from.into(),
                text: text.into(),
            },
            ServerMessage::Private {
                seq,
                from,
                to,
                text,
                ..
            } => Msg::Private {
                seq,
                from: from.into(),
                to: to.into(),
                text: text.into(),
            },
            ServerMessage::Joined { room, nick } => Msg::Joined {
                room: room.into(),
                nick: nick.into(),
            },
            ServerMessage::Left { room, nick, reason } => Msg::Left {
                room: room.into(),
                nick: nick.into(),
                reason,
            },
            ServerMessage::Members { room, flags, nicks } => Msg::Members {
                room: room.into(),
                more: flags & 1 == 1,
                nicks: nicks.iter().map(str::to_owned).collect(),
            },
            ServerMessage::Pong { token } => Msg::Pong(token),
            ServerMessage::Error { code, .. } => Msg::Error(code),
        }
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

/// A blocking client for tests.
pub struct Client {
    pub stream: TcpStream,
    dec: FrameDecoder,
    inbox: VecDeque<Msg>,
    eof: bool,
    next_ping: u64,
    pub nick: String,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).unwrap();
        Client {
            stream,
            dec: FrameDecoder::new(65535),
            inbox: VecDeque::new(),
            eof: false,
            next_ping: 1_000_000,
            nick: String::new(),
        }
    }

    /// Connects and registers; consumes WELCOME and the default room's frames up to our own JOINED.
    pub fn join_as(addr: SocketAddr, nick: &str) -> Client {
        let mut c = Client::connect(addr);
        c.nick = nick.into();
        c.send(ClientMessage::Hello {
            version: 1,
            nick,
            token: "",
        });
        match c.recv() {
            Msg::Welcome { .. } => {}
            other => panic!("{nick}: expected WELCOME, got {other:?}"),
        }
        c.sync();
        c
    }

    pub fn send(&mut self, m: ClientMessage<'_>) {
        let mut b = Vec::new();
        m.encode(&mut b, 65535).expect("encodable");
        self.send_raw(&b);
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    pub fn say(&mut self, room: &str, text: &str) {
        self.send(ClientMessage::Say { room, text });
    }

    fn fill(&mut self, deadline: Instant) -> bool {
        let mut buf = [0u8; 65536];
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
                let inbox = &mut self.inbox;
                self.dec.decode_all(&buf[..n], |ev| match ev {
                    Event::Frame(p) => inbox.push_back(Msg::from_wire(
                        ServerMessage::decode(p).expect("server sends valid messages"),
                    )),
                    Event::Error(e) => panic!("server sent a bad frame: {e}"),
                });
                true
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => false,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                self.eof = true;
                false
            }
            Err(e) => panic!("read: {e}"),
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

    pub fn close(self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}
