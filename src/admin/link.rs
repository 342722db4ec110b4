//! The admin client's byte stream: plain TCP, or TLS (`stxchat top --tls`)
//! verified against the system's roots or `--ca` exactly as `stxchat client
//! --tls` does (the same [`TlsSetup`], the same [`crate::tls::client`]
//! settings; there is no way to skip the check). Blocking, with the socket's
//! read timeout bounding every read; rustls's own `StreamOwned` drives the
//! TLS session.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::client::link::TlsSetup;

/// Why a TLS admin connection could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// The handshake failed; a sentence saying why (an invalid certificate
    /// above all, see [`crate::tls::client::explain`]).
    #[error("{0}")]
    Refused(String),
    /// The server closed the connection during the handshake (it does not
    /// speak TLS there, or it is full or stopping).
    #[error(
        "TLS handshake failed: the server closed the connection (does its admin listener speak TLS, --admin-tls?)"
    )]
    Closed,
    /// No handshake within the timeout.
    #[error(
        "no TLS handshake within {0:?} (does the server's admin listener speak TLS, --admin-tls?)"
    )]
    Timeout(Duration),
    /// The socket failed.
    #[error("admin connection error during the TLS handshake: {0}")]
    Io(io::Error),
}

/// A connected admin stream.
#[derive(Debug)]
pub enum AdminStream {
    /// Admin frames straight over TCP.
    Plain(TcpStream),
    /// Admin frames inside TLS.
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl AdminStream {
    /// Runs the TLS handshake of `setup` on `sock` (at most `timeout`),
    /// verifying the server's certificate.
    pub fn tls(
        sock: TcpStream,
        setup: &TlsSetup,
        timeout: Duration,
    ) -> Result<AdminStream, HandshakeError> {
        let mut conn =
            rustls::ClientConnection::new(setup.config.clone(), setup.server_name.clone())
                .map_err(|e| HandshakeError::Refused(crate::tls::client::explain(&e)))?;
        let mut sock = sock;
        let deadline = Instant::now() + timeout;
        while conn.is_handshaking() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(HandshakeError::Timeout(timeout));
            }
            sock.set_read_timeout(Some(left))
                .and_then(|()| sock.set_write_timeout(Some(left)))
                .map_err(HandshakeError::Io)?;
            if let Err(e) = conn.complete_io(&mut sock) {
                return Err(handshake_error(e, timeout));
            }
        }
        sock.set_write_timeout(None).map_err(HandshakeError::Io)?;
        Ok(AdminStream::Tls(Box::new(rustls::StreamOwned::new(
            conn, sock,
        ))))
    }

    /// The socket (for timeouts and addresses).
    pub fn socket(&self) -> &TcpStream {
        match self {
            AdminStream::Plain(s) => s,
            AdminStream::Tls(t) => t.get_ref(),
        }
    }

    /// Whether this is a TLS stream.
    pub fn is_tls(&self) -> bool {
        matches!(self, AdminStream::Tls(_))
    }
}

/// The rustls error inside an I/O error, if it is one.
pub fn rustls_error(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

fn handshake_error(e: io::Error, timeout: Duration) -> HandshakeError {
    if let Some(tls) = rustls_error(&e) {
        return HandshakeError::Refused(crate::tls::client::explain(tls));
    }
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => HandshakeError::Timeout(timeout),
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => HandshakeError::Closed,
        _ => HandshakeError::Io(e),
    }
}

impl Read for AdminStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            AdminStream::Plain(s) => s.read(buf),
            AdminStream::Tls(t) => t.read(buf),
        }
    }
}

impl Write for AdminStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            AdminStream::Plain(s) => s.write(buf),
            AdminStream::Tls(t) => t.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            AdminStream::Plain(s) => s.flush(),
            AdminStream::Tls(t) => t.flush(),
        }
    }
}

/// Whether the first bytes a plain admin client received look like a TLS
/// record (an alert or handshake, version 3.x): the server speaks TLS on
/// this port.
pub fn looks_like_tls(first: &[u8]) -> bool {
    matches!(first, [0x15 | 0x16, 0x03, ..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tls_record_is_told_from_an_admin_frame() {
        // A TLS alert (what a TLS admin port answers to plaintext).
        assert!(looks_like_tls(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32]));
        assert!(looks_like_tls(&[0x16, 0x03, 0x01]));
        // An admin frame starts with STX.
        assert!(!looks_like_tls(&[0x02, 0x00, 0x05]));
        assert!(!looks_like_tls(&[0x15]));
        assert!(!looks_like_tls(&[]));
    }

    #[test]
    fn handshake_errors_say_what_went_wrong() {
        let bad = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        let e = handshake_error(bad, Duration::from_secs(5));
        assert!(e.to_string().contains("certificate was refused"), "{e}");
        let slow = io::Error::new(io::ErrorKind::WouldBlock, "timed out");
        assert!(matches!(
            handshake_error(slow, Duration::from_secs(5)),
            HandshakeError::Timeout(_)
        ));
        let eof = io::Error::new(io::ErrorKind::UnexpectedEof, "eof");
        assert!(
            handshake_error(eof, Duration::from_secs(5))
                .to_string()
                .contains("--admin-tls")
        );
    }
}
