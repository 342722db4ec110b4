//! One connection's I/O for the client: a thread of its own owns the
//! nonblocking socket and, over TLS, the rustls client connection (rustls's
//! sans-IO state machine, driven in the read_tls / process_new_packets /
//! write_tls pattern), so reading and writing never need two handles on
//! one TLS session. The controller ([`crate::client::net`]) hands it bytes to
//! send and orders (shut the write side, close) over a channel and a `mio`
//! waker; what arrives goes to a sink the controller gave it (which decodes
//! frames), and the end of the connection, with a reason a person can read
//! (a refused certificate above all), is the sink's last call.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token, Waker};

/// How the client speaks TLS: whom it trusts and the name it expects.
#[derive(Debug, Clone)]
pub struct TlsSetup {
    /// Trusted roots (`--ca`, or the system's); verification is always on.
    pub config: Arc<rustls::ClientConfig>,
    /// The name the certificate must be valid for (`--server-name`, or the
    /// host of HOST:PORT).
    pub server_name: rustls::pki_types::ServerName<'static>,
}

/// What the link reports to its sink.
#[derive(Debug)]
pub enum LinkEvent<'a> {
    /// Bytes from the server (decrypted, over TLS).
    Data(&'a [u8]),
    /// The connection ended; why. The sink's last call.
    Closed(String),
}

enum Cmd {
    Send(Vec<u8>),
    ShutdownWrite,
    Close,
}

const SOCKET: Token = Token(0);
const WAKE: Token = Token(1);

/// The controller's handle on a connection's I/O thread; closing it (or
/// dropping it) ends the thread.
#[derive(Debug)]
pub struct Link {
    cmds: Sender<Cmd>,
    waker: Arc<Waker>,
}

impl Link {
    /// Starts the I/O thread of a connected socket. `sink` gets every
    /// [`LinkEvent`]; it returns false to end the connection (a damaged
    /// frame, say: it then reports why itself, and gets no `Closed`).
    /// Output the server does not take for `write_timeout` ends the
    /// connection.
    pub fn spawn<F>(
        stream: std::net::TcpStream,
        tls: Option<&TlsSetup>,
        write_timeout: Duration,
        sink: F,
    ) -> Result<Link, String>
    where
        F: FnMut(LinkEvent<'_>) -> bool + Send + 'static,
    {
        let setup = |e: io::Error| format!("cannot set up the connection: {e}");
        stream.set_nonblocking(true).map_err(setup)?;
        let mut sock = TcpStream::from_std(stream);
        let poll = Poll::new().map_err(setup)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKE).map_err(setup)?);
        poll.registry()
            .register(&mut sock, SOCKET, Interest::READABLE | Interest::WRITABLE)
            .map_err(setup)?;
        let tls = match tls {
            Some(t) => Some(
                rustls::ClientConnection::new(t.config.clone(), t.server_name.clone())
                    .map_err(|e| format!("cannot start TLS: {e}"))?,
            ),
            None => None,
        };
        let (tx, rx) = mpsc::channel();
        let io = LinkIo {
            poll,
            sock,
            tls,
            out: Vec::new(),
            shut_asked: false,
            write_shut: false,
            last_progress: Instant::now(),
            write_timeout,
            buf: vec![0; 16 * 1024],
        };
        std::thread::Builder::new()
            .name("stxchat-link".into())
            .spawn(move || io.run(rx, sink))
            .map_err(|e| format!("cannot start the connection thread: {e}"))?;
        Ok(Link { cmds: tx, waker })
    }

    fn order(&self, cmd: Cmd) -> Result<(), String> {
        self.cmds
            .send(cmd)
            .map_err(|_| "connection lost while sending".to_string())?;
        let _ = self.waker.wake();
        Ok(())
    }

    /// Queues `bytes` for the server (never blocks); an error if the
    /// connection has already ended.
    pub fn send(&self, bytes: &[u8]) -> Result<(), String> {
        self.order(Cmd::Send(bytes.to_vec()))
    }

    /// Sends what is queued, then ends our side (TLS close_notify, TCP FIN);
    /// reading goes on until the server closes.
    pub fn shutdown_write(&self) {
        let _ = self.order(Cmd::ShutdownWrite);
    }

    /// Closes the connection now (the sink hears nothing more); what was
    /// queued goes out only if the socket takes it at once.
    pub fn close(&self) {
        let _ = self.order(Cmd::Close);
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.close();
    }
}

/// The I/O thread's state.
struct LinkIo {
    poll: Poll,
    sock: TcpStream,
    tls: Option<rustls::ClientConnection>,
    /// Plaintext not yet handed to the socket (or to rustls).
    out: Vec<u8>,
    shut_asked: bool,
    write_shut: bool,
    /// When output last moved (or there was none).
    last_progress: Instant,
    write_timeout: Duration,
    buf: Vec<u8>,
}

/// How a turn of the I/O thread ended the connection.
enum Stop {
    /// Report this to the sink.
    Closed(String),
    /// Quietly (ordered to, or the sink asked).
    Quiet,
}

impl LinkIo {
    fn run<F>(mut self, cmds: Receiver<Cmd>, mut sink: F)
    where
        F: FnMut(LinkEvent<'_>) -> bool,
    {
        let mut events = Events::with_capacity(8);
        let mut readable = true;
        let stop = loop {
            if let Err(stop) = self.turn(&cmds, readable, &mut sink) {
                break stop;
            }
            let timeout = self.wants_write().then(|| {
                (self.last_progress + self.write_timeout).saturating_duration_since(Instant::now())
            });
            if let Err(e) = self.poll.poll(&mut events, timeout)
                && e.kind() != io::ErrorKind::Interrupted
            {
                break Stop::Closed(format!("connection lost: {e}"));
            }
            readable = events.iter().any(|e| {
                e.token() == SOCKET && (e.is_readable() || e.is_read_closed() || e.is_error())
            });
        };
        let _ = self.sock.shutdown(Shutdown::Both);
        if let Stop::Closed(why) = stop {
            sink(LinkEvent::Closed(why));
        }
    }

    /// Orders, reading (until `WouldBlock`), writing.
    fn turn<F>(&mut self, cmds: &Receiver<Cmd>, readable: bool, sink: &mut F) -> Result<(), Stop>
    where
        F: FnMut(LinkEvent<'_>) -> bool,
    {
        loop {
            match cmds.try_recv() {
                Ok(Cmd::Send(b)) => {
                    if self.out.is_empty() && !self.wants_write() {
                        self.last_progress = Instant::now();
                    }
                    self.out.extend_from_slice(&b);
                }
                Ok(Cmd::ShutdownWrite) => self.shut_asked = true,
                Ok(Cmd::Close) | Err(TryRecvError::Disconnected) => {
                    // What was queued before the close goes out if the
                    // socket takes it now (a BYE, say); no waiting.
                    let _ = self.write_all();
                    return Err(Stop::Quiet);
                }
                Err(TryRecvError::Empty) => break,
            }
        }
        if readable {
            self.read_all(sink)?;
        }
        self.write_all()?;
        if self.shut_asked && !self.write_shut && !self.wants_write() {
            if let Some(tls) = &mut self.tls {
                tls.send_close_notify();
                self.write_all()?;
            }
            let _ = self.sock.shutdown(Shutdown::Write);
            self.write_shut = true;
        }
        if self.wants_write() && self.last_progress.elapsed() >= self.write_timeout {
            return Err(Stop::Closed(format!(
                "connection lost while sending: the server took nothing for {} s",
                self.write_timeout.as_secs()
            )));
        }
        Ok(())
    }

    /// Whether output waits (ours, or rustls's own).
    fn wants_write(&self) -> bool {
        !self.out.is_empty() || self.tls.as_ref().is_some_and(|t| t.wants_write())
    }

    fn read_all<F>(&mut self, sink: &mut F) -> Result<(), Stop>
    where
        F: FnMut(LinkEvent<'_>) -> bool,
    {
        let closed = || Stop::Closed("the server closed the connection".into());
        loop {
            let Some(tls) = &mut self.tls else {
                match self.sock.read(&mut self.buf) {
                    Ok(0) => return Err(closed()),
                    Ok(n) => {
                        if !sink(LinkEvent::Data(&self.buf[..n])) {
                            return Err(Stop::Quiet);
                        }
                        continue;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(Stop::Closed(format!("connection lost: {e}"))),
                }
            };
            let eof = match tls.read_tls(&mut self.sock) {
                Ok(0) => true,
                Ok(_) => false,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Stop::Closed(format!("connection lost: {e}"))),
            };
            if let Err(e) = tls.process_new_packets() {
                // Send rustls's alert (best effort), then say why.
                let _ = tls.write_tls(&mut self.sock);
                return Err(Stop::Closed(crate::tls::client::explain(&e)));
            }
            loop {
                match tls.reader().read(&mut self.buf) {
                    Ok(0) => return Err(closed()),
                    Ok(n) => {
                        if !sink(LinkEvent::Data(&self.buf[..n])) {
                            return Err(Stop::Quiet);
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => return Err(closed()),
                }
            }
            if eof {
                return Err(closed());
            }
        }
    }

    fn write_all(&mut self) -> Result<(), Stop> {
        let lost = |e: io::Error| Stop::Closed(format!("connection lost while sending: {e}"));
        loop {
            let mut moved = false;
            if let Some(tls) = &mut self.tls {
                if !self.out.is_empty() {
                    let n = tls.writer().write(&self.out).map_err(lost)?;
                    self.out.drain(..n);
                }
                match tls.write_tls(&mut self.sock) {
                    Ok(n) => moved = n > 0,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(lost(e)),
                }
            } else if !self.out.is_empty() {
                match self.sock.write(&self.out) {
                    Ok(n) => {
                        self.out.drain(..n);
                        moved = n > 0;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(lost(e)),
                }
            }
            if moved || !self.wants_write() {
                self.last_progress = Instant::now();
            }
            if !moved || !self.wants_write() {
                return Ok(());
            }
        }
    }
}
