//! `connect --probe N`: one extra client that, once every connection of the
//! run is registered, joins the probe room and says N short messages in it
//! (one every `interval`), then waits for its own N MESSAGEs to come back
//! (the server accepted them; in a cluster, they are in the cluster's
//! order). The idle connections count the probe room's MESSAGEs; a run is
//! complete when each received all N.
//!
//! It is a plain blocking client (one socket, read timeouts; over TLS with
//! `--tls`, verified like the others): it sends a handful of frames, so it
//! needs no event loop.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::bench::transport::BenchTls;
use crate::codec::{ClientMessage, ErrorCode, Event, FrameDecoder, ServerMessage};

/// The payload limit of what the publisher sends (before WELCOME says more).
const INITIAL_MAX_PAYLOAD: usize = 4096;

/// The PING token the publisher uses to learn its JOIN took effect.
const JOINED_TOKEN: u64 = 0x6a6f_696e;

/// What the probe publisher did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbeSent {
    /// Probe messages sent.
    pub sent: u64,
    /// Of those, the ones whose MESSAGE came back to the publisher.
    pub echoed: u64,
    /// Seconds from the first probe sent until the last echo.
    pub echo_s: f64,
}

/// Why the probe could not be published.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The socket failed.
    #[error("probe publisher: {0}")]
    Io(#[from] io::Error),
    /// The server closed or refused the publisher.
    #[error("probe publisher: {0}")]
    Refused(String),
    /// The server did not answer in time.
    #[error("probe publisher: no answer within {0:?} ({1})")]
    Timeout(Duration, &'static str),
}

/// The publisher's socket: plain, or TLS (rustls's blocking stream; the
/// handshake happens on the first write).
enum ProbeStream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl ProbeStream {
    fn tcp(&self) -> &TcpStream {
        match self {
            ProbeStream::Plain(s) => s,
            ProbeStream::Tls(t) => &t.sock,
        }
    }

    /// A TLS failure in a sentence (a refused certificate above all).
    fn explain(e: io::Error) -> io::Error {
        match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
            Some(tls) => io::Error::new(e.kind(), crate::tls::client::explain(tls)),
            None => e,
        }
    }
}

impl Read for ProbeStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ProbeStream::Plain(s) => s.read(buf),
            ProbeStream::Tls(t) => t.read(buf).map_err(ProbeStream::explain),
        }
    }
}

impl Write for ProbeStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            ProbeStream::Plain(s) => s.write(buf),
            ProbeStream::Tls(t) => t.write(buf).map_err(ProbeStream::explain),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            ProbeStream::Plain(s) => s.flush(),
            ProbeStream::Tls(t) => t.flush().map_err(ProbeStream::explain),
        }
    }
}

/// A registered blocking client in the probe room.
struct Publisher {
    sock: ProbeStream,
    dec: FrameDecoder,
    buf: Vec<u8>,
    out: Vec<u8>,
    nick: String,
    room: String,
}

/// Where the probe publisher connects.
#[derive(Debug, Clone, Copy)]
pub struct ProbeTarget<'a> {
    /// The server.
    pub addr: SocketAddr,
    /// `--tls`: its settings.
    pub tls: Option<&'a BenchTls>,
}

/// What one read found.
#[derive(Default)]
struct Seen {
    welcome: bool,
    pong: bool,
    echoes: u64,
    error: Option<String>,
}

impl Publisher {
    fn connect(
        to: &ProbeTarget<'_>,
        nick: &str,
        token: &str,
        version: u8,
        room: &str,
        timeout: Duration,
    ) -> Result<Publisher, ProbeError> {
        let tcp = TcpStream::connect_timeout(&to.addr, timeout)?;
        tcp.set_nodelay(true)?;
        let sock = match to.tls {
            None => ProbeStream::Plain(tcp),
            Some(t) => ProbeStream::Tls(Box::new(rustls::StreamOwned::new(t.session()?, tcp))),
        };
        let mut p = Publisher {
            sock,
            dec: FrameDecoder::new(usize::from(u16::MAX)),
            buf: vec![0; 64 * 1024],
            out: Vec::new(),
            nick: nick.to_owned(),
            room: room.to_owned(),
        };
        let encoded = ClientMessage::Hello {
            version,
            nick,
            token,
        }
        .encode(&mut p.out, INITIAL_MAX_PAYLOAD)
        .and_then(|()| ClientMessage::Join { room }.encode(&mut p.out, INITIAL_MAX_PAYLOAD))
        .and_then(|()| {
            ClientMessage::Ping {
                token: JOINED_TOKEN,
            }
            .encode(&mut p.out, INITIAL_MAX_PAYLOAD)
        });
        if encoded.is_err() {
            return Err(ProbeError::Refused(format!(
                "cannot say HELLO as {nick:?} in {room:?}"
            )));
        }
        p.flush()?;
        // The PONG comes after WELCOME and after the JOIN took effect.
        let deadline = Instant::now() + timeout;
        let (mut welcome, mut pong) = (false, false);
        while !(welcome && pong) {
            let s = p.read_until(deadline, "WELCOME and JOIN")?;
            welcome |= s.welcome;
            pong |= s.pong;
        }
        Ok(p)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.sock.write_all(&self.out)?;
        self.out.clear();
        Ok(())
    }

    /// Reads once (until `deadline` at most) and reports what came.
    fn read_until(&mut self, deadline: Instant, what: &'static str) -> Result<Seen, ProbeError> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ProbeError::Timeout(Duration::ZERO, what));
        }
        self.sock.tcp().set_read_timeout(Some(left))?;
        let n = match self.sock.read(&mut self.buf) {
            Ok(0) => {
                return Err(ProbeError::Refused(
                    "the server closed the connection".into(),
                ));
            }
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(ProbeError::Timeout(left, what));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(Seen::default()),
            Err(e) => return Err(e.into()),
        };
        let mut seen = Seen::default();
        let (nick, room) = (&self.nick, &self.room);
        self.dec.decode_all(&self.buf[..n], |ev| match ev {
            Event::Frame(p) => match ServerMessage::decode(p) {
                Ok(ServerMessage::Welcome { .. }) => seen.welcome = true,
                Ok(ServerMessage::Pong { token }) if token == JOINED_TOKEN => seen.pong = true,
                Ok(ServerMessage::Message {
                    flags,
                    room: r,
                    from,
                    ..
                }) if flags & crate::codec::FLAG_REPLAYED == 0
                    && from == nick.as_str()
                    && r.eq_ignore_ascii_case(room) =>
                {
                    seen.echoes += 1;
                }
                Ok(ServerMessage::Error { code, detail }) => {
                    let closes = ErrorCode::from_u16(code).is_none_or(|c| c.closes(true));
                    if closes || seen.error.is_none() {
                        seen.error = Some(format!("ERROR {code}: {detail}"));
                    }
                }
                _ => {}
            },
            Event::Error(e) => seen.error = Some(format!("bad frame from the server: {e}")),
        });
        if let Some(e) = &seen.error {
            return Err(ProbeError::Refused(e.clone()));
        }
        Ok(seen)
    }
}

/// Joins `room` on `addr` as `nick` and says `count` probe messages, one
/// every `interval`, then waits (at most `timeout` after the last) for
/// their echoes. Any ERROR to the publisher ends the probe with an error.
#[allow(clippy::too_many_arguments)]
pub fn publish_probes(
    to: &ProbeTarget<'_>,
    nick: &str,
    token: &str,
    version: u8,
    room: &str,
    count: u64,
    interval: Duration,
    timeout: Duration,
) -> Result<ProbeSent, ProbeError> {
    let mut p = Publisher::connect(to, nick, token, version, room, timeout)?;
    let started = Instant::now();
    let mut echoed = 0;
    for i in 0..count {
        let text = format!("probe {} of {count}", i + 1);
        let _ = ClientMessage::Say { room, text: &text }.encode(&mut p.out, INITIAL_MAX_PAYLOAD);
        p.flush()?;
        // Read echoes while pacing the next probe.
        let next = Instant::now() + interval;
        while i + 1 < count && Instant::now() < next {
            match p.read_until(next, "probe echoes") {
                Ok(s) => echoed += s.echoes,
                Err(ProbeError::Timeout(..)) => break,
                Err(e) => return Err(e),
            }
        }
    }
    let deadline = Instant::now() + timeout;
    while echoed < count {
        echoed += p.read_until(deadline, "probe echoes")?.echoes;
    }
    let echo_s = started.elapsed().as_secs_f64();
    let _ = ClientMessage::Bye.encode(&mut p.out, INITIAL_MAX_PAYLOAD);
    let _ = p.flush();
    Ok(ProbeSent {
        sent: count,
        echoed,
        echo_s,
    })
}
