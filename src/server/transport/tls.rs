//! The TLS transport: rustls's `ServerConnection` (its own sans-IO state
//! machine) over the nonblocking socket, in the read_tls /
//! process_new_packets / write_tls pattern of rustls's mio example.
//!
//! - Reading hands out decrypted chat bytes; handshake records give
//!   `Read { raw, chat: 0 }` and leave output of rustls's own
//!   (`wants_write`), which the driver writes this turn.
//! - Writing encrypts as much of the offered queue as rustls will buffer:
//!   its outgoing buffer is capped at [`TLS_BUFFER_LIMIT`] by
//!   `set_buffer_limit`, so a slow reader's excess stays in the engine's
//!   queue, where the output limit (slow consumer) counts it.
//! - Chat output offered while the handshake is still running can only be
//!   the engine closing the connection (a handshake timeout, a shutdown: a
//!   client is sent nothing before its HELLO): it cannot be delivered and is
//!   dropped, so that closing does not wait for the flush deadline.
//! - A broken record (plaintext on the TLS port, garbage, a failed
//!   handshake) is a protocol error: rustls has queued its alert, the driver
//!   counts the error and closes; later input is discarded.

use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;
use std::sync::Arc;

use mio::net::TcpStream;

use crate::server::transport::{ReadOutcome, TransportError};

/// Most encrypted output rustls may hold for one connection beyond what the
/// socket took (a few full records).
pub const TLS_BUFFER_LIMIT: usize = 64 * 1024;

/// A TLS connection over its socket.
pub struct TlsTransport {
    stream: TcpStream,
    conn: rustls::ServerConnection,
    /// The peer broke TLS: input is discarded, output dropped.
    failed: bool,
}

impl std::fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsTransport")
            .field("handshaking", &self.conn.is_handshaking())
            .field("failed", &self.failed)
            .finish()
    }
}

impl TlsTransport {
    /// A server-side TLS session on a freshly accepted socket.
    pub fn new(stream: TcpStream, config: Arc<rustls::ServerConfig>) -> io::Result<Self> {
        let mut conn = rustls::ServerConnection::new(config).map_err(io::Error::other)?;
        conn.set_buffer_limit(Some(TLS_BUFFER_LIMIT));
        Ok(TlsTransport {
            stream,
            conn,
            failed: false,
        })
    }

    /// The socket (for registration).
    pub fn stream(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// Whether the handshake is still running.
    pub fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// Reads once from the socket (or hands out plaintext held from before).
    pub fn read(&mut self, buf: &mut [u8]) -> Result<ReadOutcome, TransportError> {
        if self.failed {
            return self.discard(buf);
        }
        let mut raw = 0;
        loop {
            match self.conn.reader().read(buf) {
                Ok(0) => return Ok(ReadOutcome::Eof), // close_notify
                Ok(n) => return Ok(ReadOutcome::Read { raw, chat: n }),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // The socket ended without close_notify: an EOF all the same.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Ok(ReadOutcome::Eof);
                }
                Err(e) => return Err(TransportError::Io(e)),
            }
            if raw > 0 {
                // One socket read per call: report the handshake progress.
                return Ok(ReadOutcome::Read { raw, chat: 0 });
            }
            match self.conn.read_tls(&mut self.stream) {
                Ok(0) => {
                    // EOF: rustls now reports it (or the last plaintext).
                    if let Err(e) = self.conn.process_new_packets() {
                        return Err(self.broken(e));
                    }
                    match self.conn.reader().read(buf) {
                        Ok(n) if n > 0 => return Ok(ReadOutcome::Read { raw: 0, chat: n }),
                        _ => return Ok(ReadOutcome::Eof),
                    }
                }
                Ok(n) => {
                    raw = n;
                    if let Err(e) = self.conn.process_new_packets() {
                        return Err(self.broken(e));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Ok(ReadOutcome::WouldBlock);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(TransportError::Io(e)),
            }
        }
    }

    /// After a protocol error: reads and drops whatever comes.
    fn discard(&mut self, buf: &mut [u8]) -> Result<ReadOutcome, TransportError> {
        loop {
            return match self.stream.read(buf) {
                Ok(0) => Ok(ReadOutcome::Eof),
                Ok(n) => Ok(ReadOutcome::Read { raw: n, chat: 0 }),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(ReadOutcome::WouldBlock),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Err(TransportError::Io(e)),
            };
        }
    }

    fn broken(&mut self, e: rustls::Error) -> TransportError {
        self.failed = true;
        TransportError::Protocol {
            transport: "tls",
            detail: e.to_string(),
        }
    }

    /// Writes rustls's pending records until the socket would block.
    fn flush_tls(&mut self) -> Result<(), TransportError> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.stream) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(TransportError::Io(e)),
            }
        }
        Ok(())
    }

    /// Encrypts what fits of `queue`, writes what the socket takes; returns
    /// the chat bytes consumed.
    pub fn write(&mut self, queue: &[IoSlice<'_>]) -> Result<usize, TransportError> {
        self.flush_tls()?;
        let offered: usize = queue.iter().map(|s| s.len()).sum();
        if self.failed || self.conn.is_handshaking() {
            // Undeliverable (see the module doc): dropped.
            return Ok(offered);
        }
        let mut consumed = 0;
        for slice in queue {
            let mut rest: &[u8] = slice;
            while !rest.is_empty() {
                let n = self.conn.writer().write(rest).map_err(TransportError::Io)?;
                consumed += n;
                rest = &rest[n..];
                self.flush_tls()?;
                if n == 0 {
                    // rustls's buffer is full and the socket took nothing.
                    return Ok(consumed);
                }
            }
        }
        Ok(consumed)
    }

    /// Whether rustls holds records not yet written.
    pub fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    /// Sends close_notify (one best-effort write) and shuts the write side.
    pub fn shutdown_write(&mut self) {
        if !self.failed {
            self.conn.send_close_notify();
        }
        let _ = self.flush_tls();
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    /// Shuts both directions without goodbye.
    pub fn abort(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}
