//! An IRC client for tests: lines over a blocking socket, PING barriers.

#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

use crate::common::{TestServer, WAIT, config};

/// A server with the IRC gateway on a free port (settings changed by `f`).
pub fn irc_server(f: impl FnOnce(&mut stxchat::server::ServerConfig)) -> TestServer {
    let mut cfg = config();
    cfg.irc = Some(stxchat::server::config::IrcSettings {
        bind: "127.0.0.1:0".parse().unwrap(),
        oper_password: Some("sesame".into()),
        motd: vec!["hello".into()],
    });
    f(&mut cfg);
    TestServer::start(cfg)
}

/// One IRC connection.
pub struct Irc {
    pub stream: TcpStream,
    buf: Vec<u8>,
    pub nick: String,
    barrier: u64,
    pub eof: bool,
}

impl Irc {
    pub fn connect(addr: SocketAddr) -> Irc {
        Irc::from_stream(TcpStream::connect(addr).expect("connect to the IRC port"))
    }

    /// Connects with a receive buffer of about `bytes` (a slow reader).
    pub fn connect_with_rcvbuf(addr: SocketAddr, bytes: usize) -> Irc {
        use socket2::{Domain, Protocol, Socket, Type};
        let sock = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
        sock.set_recv_buffer_size(bytes).unwrap();
        sock.connect(&addr.into()).expect("connect to the IRC port");
        Irc::from_stream(sock.into())
    }

    fn from_stream(stream: TcpStream) -> Irc {
        stream.set_nodelay(true).unwrap();
        Irc {
            stream,
            buf: Vec::new(),
            nick: String::new(),
            barrier: 0,
            eof: false,
        }
    }

    /// Connects and registers as `nick`; returns the registration burst.
    pub fn register(addr: SocketAddr, nick: &str) -> (Irc, Vec<String>) {
        Irc::register_on(Irc::connect(addr), nick)
    }

    /// Registers `c` as `nick`; returns it and the registration burst.
    pub fn register_on(mut c: Irc, nick: &str) -> (Irc, Vec<String>) {
        c.nick = nick.into();
        c.send(&format!("NICK {nick}"));
        c.send(&format!("USER {nick} 0 * :Real {nick}"));
        let burst = c.until(|l| cmd(l) == "376" || cmd(l) == "422");
        assert!(burst.iter().any(|l| cmd(l) == "001"), "{burst:?}");
        (c, burst)
    }

    pub fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\r\n").as_bytes());
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// The next line (without CRLF), or `None` at EOF; panics after [`WAIT`].
    pub fn line(&mut self) -> Option<String> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let l: Vec<u8> = self.buf.drain(..i + 2).collect();
                assert!(l.len() <= 512 || l.starts_with(b"@"), "line over 512 bytes");
                return Some(String::from_utf8(l[..i].to_vec()).expect("UTF-8 line"));
            }
            if self.eof {
                return None;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "{}: no line within {WAIT:?}", self.nick);
            self.stream.set_read_timeout(Some(left)).unwrap();
            let mut b = [0u8; 65536];
            match self.stream.read(&mut b) {
                Ok(0) => self.eof = true,
                Ok(n) => self.buf.extend_from_slice(&b[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset => self.eof = true,
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    /// Lines up to and including the first for which `stop` holds.
    pub fn until(&mut self, stop: impl Fn(&str) -> bool) -> Vec<String> {
        let mut v = Vec::new();
        loop {
            let l = self
                .line()
                .unwrap_or_else(|| panic!("{}: EOF after {v:?}", self.nick));
            let done = stop(&l);
            v.push(l);
            if done {
                return v;
            }
        }
    }

    /// Every line before the answer to a PING barrier (which is dropped).
    pub fn sync(&mut self) -> Vec<String> {
        self.barrier += 1;
        let token = format!("barrier{}", self.barrier);
        self.send(&format!("PING {token}"));
        let mut v = self.until(|l| cmd(l) == "PONG" && l.ends_with(&token));
        v.pop();
        v
    }
}

/// The command or numeric of a line.
pub fn cmd(line: &str) -> &str {
    let l = if line.starts_with('@') {
        line.split_once(' ').map_or("", |x| x.1)
    } else {
        line
    };
    let l = if l.starts_with(':') {
        l.split_once(' ').map_or("", |x| x.1)
    } else {
        l
    };
    l.split(' ').next().unwrap_or("")
}
