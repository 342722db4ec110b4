//! A connection's byte transport, as the driver sees it: plain TCP now,
//! TLS, WebSocket and IRC as further variants.
//!
//! # Adding a transport (for the TLS, WebSocket and IRC helpers)
//!
//! 1. Put the sans-IO protocol state machine in its own module (unit-tested
//!    with plain calls) and a thin adapter here, `transport/<name>.rs`,
//!    implementing the five operations below over a `&mut TcpStream`.
//! 2. Add a **boxed** variant to [`Transport`] (`Tls(Box<TlsTransport>)`):
//!    an idle plain connection must stay small (`Transport` is at most 16
//!    bytes; a test checks it) and add an arm to each `match` in this file.
//! 3. Add a variant to [`crate::server::listener::ListenerKind`] holding the
//!    shared, immutable settings (`Tls(Arc<rustls::ServerConfig>)`), its
//!    `name` and the arm of `ListenerKind::transport` that wraps an accepted
//!    stream; then bind it in `Server::bind` (one `Listener::bind` call).
//!    Nothing else in the driver changes: read budgets, backlog, dirty list,
//!    closing phases and deadlines are shared by every transport.
//!
//! # The contract
//!
//! **Reading.** [`Transport::read`] reads from the socket once (or returns
//! input it decoded earlier) and puts chat-protocol bytes (the framed
//! stream of PROTOCOL.md section 1) into `buf[..chat]` for
//! `Engine::on_input`. `raw` is what came off the socket. The driver charges
//! `max(raw, chat)` against the connection's read budget and the turn's, and
//! keeps calling `read` until [`ReadOutcome::WouldBlock`], [`ReadOutcome::Eof`],
//! an error or the end of its budget (then the connection waits in the
//! backlog and is read first next turn: a transport holding decoded input
//! loses nothing, readiness being edge-triggered). `Read { raw: 0, chat: 0 }`
//! is never returned (say `WouldBlock`). A transport returns `WouldBlock`
//! only when the socket said so *and* it holds no decoded input.
//!
//! **Writing.** [`Transport::write`] is offered the engine's queued output
//! for the connection as slices (whole chat-protocol frames, oldest first;
//! a slice may end inside a frame when an earlier write was partial) and
//! returns how many of those bytes it *consumed*: these are counted as sent
//! (`bytes_out`) and dropped from the queue, and the rest is offered again
//! next time. Plain consumes exactly what `writev` took. A re-encoding
//! transport (TLS records, WebSocket frames, IRC lines) may consume bytes
//! into output of its own and hold a bounded amount of it, consuming only
//! what fits; fewer bytes than offered (even 0) means "come back when the
//! socket is writable". The output limit (PROTOCOL.md 4.4) is counted by the
//! engine on its queue alone: output a transport holds is its own business
//! and must be bounded by the transport (e.g. one TLS record or WebSocket
//! frame's worth beyond what the socket took). `WouldBlock` from the socket
//! is not an error: return the bytes consumed so far.
//!
//! **Own output.** [`Transport::wants_write`] says the transport holds
//! output of its own (a handshake reply, a TLS record the socket did not
//! take, a WebSocket pong). The driver keeps WRITABLE armed while it is
//! true or the queue is not empty, calls `write` (possibly with an empty
//! queue) when the socket becomes writable, and after every `read` that
//! leaves `wants_write` true it queues the connection for this turn's write.
//!
//! **Closing.** The driver's closing sequence (PROTOCOL.md section 3) is the
//! same for every transport: *flushing* lasts until the queue is empty and
//! `wants_write` is false (or the flush deadline); then
//! [`Transport::shutdown_write`] is called once, after which the transport
//! may write a last goodbye of its own (TLS close_notify, WebSocket close
//! frame: best effort, one nonblocking write) and shuts the socket's write
//! side; then input is read and discarded until EOF or the drain deadline,
//! and the socket is closed by dropping the transport.
//! [`Transport::abort`] (refusal at accept: `server_full`) shuts both
//! directions at once, without goodbye or drain.
//!
//! **Errors.** `read` and `write` return [`TransportError::Io`] when the
//! socket itself failed (reset, broken pipe): the connection is dead and is
//! closed at once, as a peer close. They return [`TransportError::Protocol`]
//! when the peer broke the transport's own protocol (a bad TLS record, a
//! malformed WebSocket frame, an over-long IRC line): the transport first
//! queues whatever goodbye its protocol has (a TLS alert, a WebSocket close
//! 1002, an IRC `ERROR` line), so that `wants_write` is true; the driver
//! counts it (`transport_errors`), closes the chat side (members see LEFT
//! reason `error`) and runs the closing sequence, which writes the goodbye.
//! After a protocol error `read` must discard input (never report a second
//! protocol error) and `write` may discard what it is offered (consuming it).
//!
//! **Listeners.** Each listener (`--bind`, later `--tls-bind`, `--web-bind`,
//! `--irc-bind`) has a [`crate::server::listener::ListenerKind`]; it alone
//! decides the transport of the connections it accepts, at accept time.

pub mod irc;
pub mod plain;
pub mod tls;

use std::io::{self, IoSlice};

use mio::net::TcpStream;

/// A connection's byte transport, as the driver sees it. Variants other
/// than `Plain` are boxed so that an idle plain connection stays small.
#[derive(Debug)]
pub enum Transport {
    /// Chat-protocol frames straight over TCP.
    Plain(TcpStream),
    /// IRC lines, translated (`--irc-bind`).
    Irc(Box<irc::IrcTransport>),
    /// Chat-protocol frames inside TLS (rustls).
    Tls(Box<tls::TlsTransport>),
    /// Chat-protocol (or admin) bytes in binary WebSocket messages, after
    /// an upgrade on the web listener (`--web-bind`, [`crate::web`]).
    Ws(Box<crate::web::WsTransport>),
}

/// What one [`Transport::read`] gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadOutcome {
    /// `raw` bytes came off the socket; `chat` bytes of chat-protocol stream
    /// (maybe 0, e.g. during a TLS handshake) are now in `buf[..chat]`.
    /// Never both 0.
    Read {
        /// Bytes read from the socket.
        raw: usize,
        /// Chat-protocol bytes placed at the start of the buffer.
        chat: usize,
    },
    /// Nothing more for now (the socket would block, nothing decoded is held).
    WouldBlock,
    /// The peer closed its side of the transport.
    Eof,
}

/// Why a transport could not read or write.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The socket failed (reset, broken pipe, ...): the connection is dead.
    #[error("socket: {0}")]
    Io(#[from] io::Error),
    /// The peer broke the transport's protocol; the transport has queued its
    /// goodbye (see the module doc) and the connection must be closed.
    #[error("{transport}: {detail}")]
    Protocol {
        /// Which transport (`"tls"`, `"web"`, `"irc"`).
        transport: &'static str,
        /// What was wrong, for the log.
        detail: String,
    },
}

impl Transport {
    /// A plain TCP transport.
    pub fn plain(stream: TcpStream) -> Self {
        Transport::Plain(stream)
    }

    /// The socket, for `mio` registration.
    #[inline]
    pub fn stream(&mut self) -> &mut TcpStream {
        match self {
            Transport::Plain(s) => s,
            Transport::Irc(t) => t.stream(),
            Transport::Tls(t) => t.stream(),
            Transport::Ws(t) => t.stream(),
        }
    }

    /// Reads once into `buf` (see the module doc for the contract).
    #[inline]
    pub fn read(&mut self, buf: &mut [u8]) -> Result<ReadOutcome, TransportError> {
        match self {
            Transport::Plain(s) => plain::read(s, buf),
            Transport::Irc(t) => t.read(buf),
            Transport::Tls(t) => t.read(buf),
            Transport::Ws(t) => t.read(buf),
        }
    }

    /// Offers `queue` (the engine's output, oldest first); returns the bytes
    /// of it consumed (see the module doc).
    #[inline]
    pub fn write(&mut self, queue: &[IoSlice<'_>]) -> Result<usize, TransportError> {
        match self {
            Transport::Plain(s) => plain::write(s, queue),
            Transport::Irc(t) => t.write(queue),
            Transport::Tls(t) => t.write(queue),
            Transport::Ws(t) => t.write(queue),
        }
    }

    /// Whether the transport holds output of its own (keep WRITABLE armed).
    #[inline]
    pub fn wants_write(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            Transport::Irc(t) => t.wants_write(),
            Transport::Tls(t) => t.wants_write(),
            Transport::Ws(t) => t.wants_write(),
        }
    }

    /// Ends the write side once flushing is over (after the transport's own
    /// goodbye, if it has one).
    pub fn shutdown_write(&mut self) {
        match self {
            Transport::Plain(s) => plain::shutdown(s, std::net::Shutdown::Write),
            Transport::Irc(t) => t.shutdown(std::net::Shutdown::Write),
            Transport::Tls(t) => t.shutdown_write(),
            Transport::Ws(t) => t.shutdown_write(),
        }
    }

    /// Shuts both directions at once, without goodbye (a refused connection).
    pub fn abort(&mut self) {
        match self {
            Transport::Plain(s) => plain::shutdown(s, std::net::Shutdown::Both),
            Transport::Irc(t) => t.shutdown(std::net::Shutdown::Both),
            Transport::Tls(t) => t.abort(),
            Transport::Ws(t) => t.abort(),
        }
    }

    /// Whether the transport's own handshake is still running (a TLS
    /// handshake; the other transports have none left once accepted).
    pub fn is_handshaking(&self) -> bool {
        match self {
            Transport::Tls(t) => t.is_handshaking(),
            Transport::Plain(_) | Transport::Irc(_) | Transport::Ws(_) => false,
        }
    }

    /// Whether the connection goes through a protocol gateway (its session
    /// may use the engine's gateway requests).
    pub fn is_gateway(&self) -> bool {
        matches!(self, Transport::Irc(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transport_stays_small() {
        // A plain connection pays for the largest variant: boxed ones are 8
        // bytes, so the enum is at most 16 whatever is added.
        assert!(std::mem::size_of::<Transport>() <= 16);
    }
}
