//! `connect --probe N`: one extra client that, once every connection of the
//! run is registered, joins the probe room and says N short messages in it
//! (one every `interval`), then waits for its own N MESSAGEs to come back
//! (the server accepted them; in a cluster, they are in the cluster's
//! order). The idle connections count the probe room's MESSAGEs; a run is
//! complete when each received all N.
//!
//! It is a plain blocking client (one socket, read timeouts): it sends a
//! handful of frames, so it needs no event loop.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

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

/// A registered blocking client in the probe room.
struct Publisher {
    sock: TcpStream,
    dec: FrameDecoder,
    buf: Vec<u8>,
    out: Vec<u8>,
    nick: String,
    room: String,
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
        addr: SocketAddr,
        nick: &str,
        token: &str,
        version: u8,
        room: &str,
        timeout: Duration,
    ) -> Result<Publisher, ProbeError> {
        let sock = TcpStream::connect_timeout(&addr, timeout)?;
        sock.set_nodelay(true)?;
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
        self.sock.set_read_timeout(Some(left))?;
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
    addr: SocketAddr,
    nick: &str,
    token: &str,
    version: u8,
    room: &str,
    count: u64,
    interval: Duration,
    timeout: Duration,
) -> Result<ProbeSent, ProbeError> {
    let mut p = Publisher::connect(addr, nick, token, version, room, timeout)?;
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
