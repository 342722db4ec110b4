//! The server's listeners: one per transport it serves (plain `--bind`
//! now; TLS, WebSocket and IRC later), each deciding the [`Transport`] of
//! the connections it accepts. The driver accepts from all of them with one
//! loop; adding a listener is adding a [`ListenerKind`] variant and its arm
//! in [`ListenerKind::transport`] (see [`crate::server::transport`]).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use mio::net::{TcpListener, TcpStream};

use crate::server::transport::Transport;

/// Connections the kernel may hold ready for `accept` (capped by
/// `net.core.somaxconn`). The 128 that `std` and `mio` use makes a burst of
/// connects overflow the queue while a turn is busy, and each dropped SYN
/// costs its client a one-second retransmission.
pub const LISTEN_BACKLOG: i32 = 4096;

/// Most listeners a server has (their poll tokens are reserved).
pub const MAX_LISTENERS: usize = 8;

/// Which transport a listener's connections speak, with the settings its
/// transports share.
#[derive(Debug, Clone)]
pub enum ListenerKind {
    /// Chat-protocol frames over TCP (`--bind`).
    Plain,
    /// Chat-protocol frames over TLS (`--tls-bind`), with the certificate
    /// in force (replaced on reload; connections keep the one they began with).
    Tls(Arc<rustls::ServerConfig>),
}

impl ListenerKind {
    /// Short name for logs (`plain`, `tls`, `web`, `irc`).
    pub fn name(&self) -> &'static str {
        match self {
            ListenerKind::Plain => "plain",
            ListenerKind::Tls(_) => "tls",
        }
    }

    /// The transport of a connection just accepted on this listener.
    pub fn transport(&self, stream: TcpStream) -> io::Result<Transport> {
        match self {
            ListenerKind::Plain => Ok(Transport::plain(stream)),
            ListenerKind::Tls(cfg) => Ok(Transport::Tls(Box::new(
                crate::server::transport::tls::TlsTransport::new(stream, cfg.clone())?,
            ))),
        }
    }
}

/// A bound, nonblocking listener of one kind.
#[derive(Debug)]
pub struct Listener {
    /// What its connections speak.
    pub kind: ListenerKind,
    /// The socket.
    pub socket: TcpListener,
    /// The address it is bound to (the real port when asked for port 0).
    pub addr: SocketAddr,
    /// Connections may be waiting (edge-triggered: accept until `WouldBlock`).
    pub pending: bool,
}

impl Listener {
    /// Binds a nonblocking listener of `kind` on `addr` with [`LISTEN_BACKLOG`].
    pub fn bind(kind: ListenerKind, addr: SocketAddr) -> io::Result<Listener> {
        use socket2::{Domain, Protocol, Socket, Type};
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_reuse_address(true)?;
        socket.bind(&addr.into())?;
        socket.listen(LISTEN_BACKLOG)?;
        socket.set_nonblocking(true)?;
        let socket = TcpListener::from_std(socket.into());
        let addr = socket.local_addr()?;
        Ok(Listener {
            kind,
            socket,
            addr,
            pending: false,
        })
    }
}
