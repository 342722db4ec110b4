//! Helpers for the web listener's integration tests: an in-process server
//! with `--web-bind` on port 0, a WebSocket chat client built on
//! tungstenite's client, and raw sockets for what tungstenite will not send.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use stxchat::codec::{ClientMessage, Event, FrameDecoder, ServerMessage};
use stxchat::server::{Server, ServerConfig, ShutdownHandle};
use tungstenite::protocol::WebSocket;
use tungstenite::{Bytes, Message};

use crate::common::{self, Msg, WAIT};

/// A server with the web listener on, running on its own thread.
pub struct WebServer {
    pub addr: SocketAddr,
    pub web: SocketAddr,
    pub admin: Option<SocketAddr>,
    pub handle: ShutdownHandle,
    join: Option<JoinHandle<std::io::Result<()>>>,
}

impl WebServer {
    /// Stops the server and waits for it.
    pub fn stop(&mut self) {
        self.handle.shutdown();
        if let Some(j) = self.join.take() {
            common::wait_until("the server to stop", || j.is_finished());
            j.join().expect("server thread").expect("server run");
        }
    }
}

impl Drop for WebServer {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(j) = self.join.take() {
            let _ = j.join();
        }
    }
}

/// A server with the test settings, the web listener on 127.0.0.1:0, the
/// admin listener on 127.0.0.1:0, then `f`.
pub fn start_web(f: impl FnOnce(&mut ServerConfig)) -> WebServer {
    let mut cfg = common::config();
    cfg.web_bind = Some("127.0.0.1:0".parse().unwrap());
    cfg.admin.bind = Some("127.0.0.1:0".parse().unwrap());
    f(&mut cfg);
    let server = Server::bind(cfg).expect("server binds");
    let addr = server.local_addr();
    let web = server.web_addr().expect("web listener on");
    let admin = server.admin_addr();
    let handle = server.shutdown_handle();
    let join = std::thread::spawn(move || server.run());
    WebServer {
        addr,
        web,
        admin,
        handle,
        join: Some(join),
    }
}

/// One HTTP exchange on a fresh connection: sends `request`, reads until
/// the server closes; returns the status and the whole answer.
pub fn http(web: SocketAddr, request: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(web).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    (status_of(&text), text)
}

/// The status code of an HTTP answer (0 if there is none).
pub fn status_of(text: &str) -> u16 {
    text.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// `GET path` with a Host header.
pub fn get(web: SocketAddr, path: &str) -> (u16, String) {
    http(
        web,
        format!("GET {path} HTTP/1.1\r\nHost: {web}\r\n\r\n").as_bytes(),
    )
}

/// An upgrade request for `path`, with `extra` header lines.
pub fn upgrade_request(web: SocketAddr, path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {web}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

/// A raw socket upgraded on `path` (the 101 answer read and checked).
pub fn raw_upgrade(web: SocketAddr, path: &str) -> TcpStream {
    let mut s = TcpStream::connect(web).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(upgrade_request(web, path, "").as_bytes())
        .unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(
            s.read(&mut b).unwrap(),
            1,
            "the server closed during the upgrade"
        );
        head.push(b[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert!(head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    s
}

/// A masked client frame: `first` is the FIN/opcode byte.
pub fn masked(first: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x12, 0x34, 0x56, 0x78];
    let mut v = vec![first];
    let n = payload.len();
    if n < 126 {
        v.push(0x80 | n as u8);
    } else if n < 65536 {
        v.push(0x80 | 126);
        v.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        v.push(0x80 | 127);
        v.extend_from_slice(&(n as u64).to_be_bytes());
    }
    v.extend_from_slice(&mask);
    v.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    v
}

/// A masked binary message.
pub fn binary(payload: &[u8]) -> Vec<u8> {
    masked(0x82, payload)
}

/// The server's frames on a raw socket until it closes: (opcode, payload).
pub fn server_frames(s: &mut TcpStream) -> Vec<(u8, Vec<u8>)> {
    let mut all = Vec::new();
    let _ = s.read_to_end(&mut all);
    let mut out = Vec::new();
    let mut at = 0;
    while all.len() - at >= 2 {
        let op = all[at] & 0x0f;
        let (len, hl) = match all[at + 1] & 0x7f {
            126 => (u16::from_be_bytes([all[at + 2], all[at + 3]]) as usize, 4),
            127 => (
                u64::from_be_bytes(all[at + 2..at + 10].try_into().unwrap()) as usize,
                10,
            ),
            n => (n as usize, 2),
        };
        assert_eq!(all[at + 1] & 0x80, 0, "server frames are not masked");
        if all.len() < at + hl + len {
            break;
        }
        out.push((op, all[at + hl..at + hl + len].to_vec()));
        at += hl + len;
    }
    out
}

/// The close code of the last close frame among `frames`.
pub fn close_code(frames: &[(u8, Vec<u8>)]) -> Option<u16> {
    frames.iter().rev().find(|(op, _)| *op == 8).map(|(_, p)| {
        if p.len() >= 2 {
            u16::from_be_bytes([p[0], p[1]])
        } else {
            1005
        }
    })
}

/// Decodes `input` (chat stream bytes from the server) into `out`.
pub fn decode_into(dec: &mut FrameDecoder, mut input: &[u8], out: &mut VecDeque<Msg>) {
    loop {
        let (used, ev) = dec.decode(input);
        let done = ev.is_none();
        match ev {
            Some(Event::Frame(f)) => out.push_back(Msg::from_wire(
                ServerMessage::decode(f).expect("a valid message"),
            )),
            Some(Event::Error(e)) => panic!("bad frame from the server: {e:?}"),
            None => {}
        }
        input = &input[used..];
        if done {
            return;
        }
    }
}

/// Chat messages decoded from the binary messages among `frames`.
pub fn chat_of(frames: &[(u8, Vec<u8>)]) -> Vec<Msg> {
    let mut dec = FrameDecoder::new(65535);
    let mut out = VecDeque::new();
    for (_, p) in frames.iter().filter(|(op, _)| *op == 2) {
        decode_into(&mut dec, p, &mut out);
    }
    out.into()
}

/// A WebSocket chat client (tungstenite's client over a blocking socket).
pub struct WsClient {
    pub ws: WebSocket<TcpStream>,
    dec: FrameDecoder,
    queue: VecDeque<Msg>,
    /// The close code the server sent, once it did.
    pub closed: Option<u16>,
}

impl WsClient {
    /// Connects to `ws://web/path`.
    pub fn connect(web: SocketAddr, path: &str) -> WsClient {
        let s = TcpStream::connect(web).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        let (ws, resp) = tungstenite::client::client(format!("ws://{web}{path}"), s)
            .unwrap_or_else(|e| panic!("upgrade refused: {e}"));
        assert_eq!(resp.status(), 101);
        WsClient {
            ws,
            dec: FrameDecoder::new(65535),
            queue: VecDeque::new(),
            closed: None,
        }
    }

    /// Connects and registers as `nick` (HELLO version 2); returns what
    /// came up to and including the default room's JOINED.
    pub fn register(web: SocketAddr, nick: &str) -> (WsClient, Vec<Msg>) {
        let mut c = WsClient::connect(web, "/ws");
        c.send(common::hello(nick));
        let mut got = Vec::new();
        loop {
            let m = c.recv();
            let done = matches!(&m, Msg::Joined { nick: n, .. } if n == nick);
            got.push(m);
            if done {
                return (c, got);
            }
        }
    }

    /// Sends raw bytes as one binary message.
    pub fn send_bytes(&mut self, bytes: &[u8]) {
        self.ws
            .send(Message::Binary(Bytes::copy_from_slice(bytes)))
            .unwrap();
    }

    /// Sends one message's frame as one binary message.
    pub fn send(&mut self, m: ClientMessage<'_>) {
        self.send_bytes(&common::encode(m));
    }

    /// The next chat message (reading binary messages as needed); panics
    /// on a close or after [`WAIT`].
    pub fn recv(&mut self) -> Msg {
        self.try_recv()
            .unwrap_or_else(|| panic!("closed ({:?}) instead of a message", self.closed))
    }

    /// The next chat message, or `None` once the server closed.
    pub fn try_recv(&mut self) -> Option<Msg> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(m) = self.queue.pop_front() {
                return Some(m);
            }
            if self.closed.is_some() {
                return None;
            }
            assert!(
                Instant::now() < deadline,
                "nothing from the server in {WAIT:?}"
            );
            match self.ws.read() {
                Ok(Message::Binary(b)) => decode_into(&mut self.dec, &b, &mut self.queue),
                Ok(Message::Close(c)) => {
                    self.closed = Some(c.map_or(1005, |c| c.code.into()));
                }
                Ok(Message::Text(t)) => panic!("a text message from the server: {t}"),
                Ok(_) => {}
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    self.closed.get_or_insert(1006);
                }
                Err(tungstenite::Error::Io(e))
                    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(tungstenite::Error::Io(_)) | Err(tungstenite::Error::Protocol(_)) => {
                    self.closed.get_or_insert(1006);
                }
                Err(e) => panic!("websocket error: {e}"),
            }
        }
    }

    /// Messages until the server closes; returns them and the close code.
    pub fn until_close(&mut self) -> (Vec<Msg>, u16) {
        let mut got = Vec::new();
        while let Some(m) = self.try_recv() {
            got.push(m);
        }
        (got, self.closed.unwrap_or(1006))
    }

    /// Everything the server sends in answer to a PING sent now (the PONG
    /// is a barrier: it comes after every frame caused by earlier frames).
    pub fn sync(&mut self) -> Vec<Msg> {
        self.send(ClientMessage::Ping { token: 0x5eed });
        let mut got = Vec::new();
        loop {
            match self.recv() {
                Msg::Pong(0x5eed) => return got,
                m => got.push(m),
            }
        }
    }
}

/// Bounded wait for a condition, polling.
pub fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}
