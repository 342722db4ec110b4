//! The byte stream of one bench connection: plain TCP, or TLS over it
//! (`--tls`). The TLS side is rustls's client state machine driven on the
//! nonblocking socket: reads pull TLS records in (`read_tls`), process them
//! and hand out the plaintext until the socket says `WouldBlock`; writes
//! give rustls the plaintext and push what it has encrypted to the socket.
//! The handshake needs no step of its own: HELLO is written into rustls
//! before it completes, and rustls sends it once it has.
//!
//! Verification is the client's ([`crate::client::tls_setup`]): the system
//! roots or `--ca`, the name from `--server-name` or the address's host; no
//! insecure mode. Session resumption is off, so every connection pays a
//! full handshake, as distinct clients would.
//!
//! The plain path is one `match` away from the socket's own `read`/`write`.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;

use mio::net::TcpStream;

use crate::bench::error::BenchError;
use crate::client::link::TlsSetup;

/// `--tls` of a bench run: the client settings and the flags they came
/// from (child processes of a spread run are given the same flags).
#[derive(Debug, Clone)]
pub struct BenchTls {
    /// Roots and server name, as the client builds them; resumption off.
    pub setup: TlsSetup,
    /// `--ca`, if given.
    pub ca: Option<PathBuf>,
    /// `--server-name`, if given.
    pub server_name: Option<String>,
}

impl BenchTls {
    /// The TLS settings for a server at `addr` (HOST:PORT, the first
    /// `--addr`: its host is the default server name).
    pub fn new(
        ca: Option<PathBuf>,
        server_name: Option<String>,
        addr: &str,
    ) -> Result<BenchTls, BenchError> {
        let setup = crate::client::tls_setup(true, ca.as_deref(), server_name.as_deref(), addr)
            .map_err(BenchError::Tls)?
            .ok_or_else(|| BenchError::Tls("TLS was not set up".into()))?;
        let mut config = (*setup.config).clone();
        config.resumption = rustls::client::Resumption::disabled();
        Ok(BenchTls {
            setup: TlsSetup {
                config: Arc::new(config),
                server_name: setup.server_name,
            },
            ca,
            server_name,
        })
    }

    /// A fresh client session for one connection.
    pub fn session(&self) -> io::Result<rustls::ClientConnection> {
        rustls::ClientConnection::new(
            Arc::clone(&self.setup.config),
            self.setup.server_name.clone(),
        )
        .map_err(|e| io::Error::other(format!("cannot start TLS: {e}")))
    }
}

/// A TLS session and its socket.
pub struct TlsStream {
    sock: TcpStream,
    tls: rustls::ClientConnection,
}

/// One connection's stream.
pub enum Transport {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP (boxed: rustls's state is large).
    Tls(Box<TlsStream>),
}

impl Transport {
    /// A stream over `sock` (just connecting), TLS if `tls` is given.
    pub fn new(sock: TcpStream, tls: Option<&BenchTls>) -> io::Result<Transport> {
        Ok(match tls {
            None => Transport::Plain(sock),
            Some(t) => Transport::Tls(Box::new(TlsStream {
                sock,
                tls: t.session()?,
            })),
        })
    }

    /// The socket (to register with a poll, or ask about the connect).
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Transport::Plain(s) => s,
            Transport::Tls(t) => &t.sock,
        }
    }

    /// The socket, mutably (poll registration).
    pub fn tcp_mut(&mut self) -> &mut TcpStream {
        match self {
            Transport::Plain(s) => s,
            Transport::Tls(t) => &mut t.sock,
        }
    }

    /// Reads plaintext: `Ok(0)` at the end of the stream, `WouldBlock` when
    /// the socket is empty. A TLS failure (a refused certificate above
    /// all) is an `InvalidData` error saying why in a sentence.
    #[inline]
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read(buf),
            Transport::Tls(t) => t.read(buf),
        }
    }

    /// Writes plaintext: how much was taken, or `WouldBlock` if none could
    /// be (the socket is full).
    #[inline]
    pub fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.write(buf),
            Transport::Tls(t) => t.write(buf),
        }
    }

    /// Pushes TLS records already made to the socket; true when none are
    /// left (always true for plain TCP).
    #[inline]
    pub fn flush_records(&mut self) -> io::Result<bool> {
        match self {
            Transport::Plain(_) => Ok(true),
            Transport::Tls(t) => t.flush_records(),
        }
    }

    /// Whether TLS records wait for the socket.
    #[inline]
    pub fn wants_write(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            Transport::Tls(t) => t.tls.wants_write(),
        }
    }

    /// Whether this is a TLS stream.
    pub fn is_tls(&self) -> bool {
        matches!(self, Transport::Tls(_))
    }
}

impl TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.tls.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // The peer closed TCP without close_notify: an end of stream.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e),
            }
            if self.tls.read_tls(&mut self.sock)? == 0 {
                return Ok(0);
            }
            if let Err(e) = self.tls.process_new_packets() {
                // rustls queued an alert for the server: best effort.
                let _ = self.tls.write_tls(&mut self.sock);
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    crate::tls::client::explain(&e),
                ));
            }
            // Handshake messages, alerts, HELLO once the handshake is done.
            self.flush_records()?;
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.flush_records()? {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = self.tls.writer().write(buf)?;
        self.flush_records()?;
        if n == 0 && !buf.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }

    fn flush_records(&mut self) -> io::Result<bool> {
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut self.sock) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// A TLS server on a blocking socket in a thread (rustls's own stream),
    /// echoing what it reads; the bench side drives a nonblocking stream.
    fn echo_server(names: &[&str]) -> (std::net::SocketAddr, PathBuf, std::thread::JoinHandle<()>) {
        let now = time::OffsetDateTime::now_utc();
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let (cert, key) = crate::tls::cert::self_signed(
            &names,
            now - time::Duration::days(1),
            now + time::Duration::days(1),
        )
        .unwrap();
        let dir = std::env::temp_dir().join(format!(
            "stxchat-bench-tls-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&c, cert).unwrap();
        std::fs::write(&k, key).unwrap();
        let config = crate::tls::server::load_server_config(&c, &k).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let join = std::thread::spawn(move || {
            let Ok((sock, _)) = listener.accept() else {
                return;
            };
            sock.set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let conn = rustls::ServerConnection::new(config).unwrap();
            let mut s = rustls::StreamOwned::new(conn, sock);
            let mut buf = [0u8; 4096];
            while let Ok(n) = s.read(&mut buf) {
                if n == 0 || s.write_all(&buf[..n]).and_then(|()| s.flush()).is_err() {
                    break;
                }
            }
        });
        (addr, c, join)
    }

    fn connect(addr: std::net::SocketAddr, tls: &BenchTls) -> Transport {
        let sock = TcpStream::connect(addr).unwrap();
        Transport::new(sock, Some(tls)).unwrap()
    }

    /// Drives `t` until `want` bytes came back or it fails (bounded).
    fn echo(t: &mut Transport, msg: &[u8]) -> io::Result<Vec<u8>> {
        let mut sent = 0;
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        let deadline = Instant::now() + Duration::from_secs(10);
        while got.len() < msg.len() {
            assert!(Instant::now() < deadline, "no echo in time");
            if sent < msg.len() {
                match t.write(&msg[sent..]) {
                    Ok(n) => sent += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == io::ErrorKind::NotConnected => {}
                    Err(e) => return Err(e),
                }
            }
            match t.flush_records() {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotConnected => {}
                Err(e) => return Err(e),
            }
            match t.read(&mut buf) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(2))
                }
                Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                    std::thread::sleep(Duration::from_millis(2))
                }
                Err(e) => return Err(e),
            }
        }
        Ok(got)
    }

    #[test]
    fn plaintext_written_before_the_handshake_comes_back_decrypted() {
        let (addr, ca, join) = echo_server(&["localhost"]);
        let tls = BenchTls::new(Some(ca), Some("localhost".into()), &addr.to_string()).unwrap();
        let mut t = connect(addr, &tls);
        assert!(t.is_tls());
        let msg: Vec<u8> = (0..20_000u32).map(|i| i as u8).collect();
        assert_eq!(echo(&mut t, &msg).unwrap(), msg);
        drop(t);
        join.join().unwrap();
    }

    #[test]
    fn a_certificate_for_another_name_is_refused_in_a_sentence() {
        let (addr, ca, join) = echo_server(&["elsewhere.example"]);
        let tls = BenchTls::new(Some(ca), Some("localhost".into()), &addr.to_string()).unwrap();
        let mut t = connect(addr, &tls);
        let e = echo(&mut t, b"hello").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(
            e.to_string()
                .contains("the server's certificate was refused"),
            "{e}"
        );
        drop(t);
        join.join().unwrap();
    }

    #[test]
    fn a_missing_ca_file_is_a_setup_error() {
        let e =
            BenchTls::new(Some("/nonexistent/ca.pem".into()), None, "127.0.0.1:7443").unwrap_err();
        assert!(matches!(e, BenchError::Tls(_)), "{e}");
    }
}
