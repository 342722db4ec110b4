//! A blocking admin client over `std::net::TcpStream`, plain or TLS
//! ([`crate::admin::link`]), used by `stxchat top` and by tests.
//!
//! Requests are answered in order, one response each; pushed EVENTs may
//! arrive between them. The client keeps every frame in arrival order: an
//! event that arrived before a response is moved aside while the response
//! is looked for, and [`AdminClient::take_events`] hands those out, so a
//! caller that forwards `take_events()` and then the response keeps the
//! server's order.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::admin::link::{AdminStream, HandshakeError, looks_like_tls, rustls_error};
use crate::admin::nodes::NodesPage;
use crate::admin::proto::{
    ADMIN_MAX_PAYLOAD, ADMIN_VERSION, AdminErrorCode, AdminRequest, AdminResponse, ListPage,
    MAX_KICK_REASON, MAX_LIST_LIMIT, Snapshot, admin_type, truncate_str,
};
use crate::admin::rooms::RoomsPage;
use crate::client::link::TlsSetup;
use crate::codec::{EncodeError, Event, FrameDecoder, FrameError, MessageError};
use crate::core::observe::{ConnEvent, ConnInfo, ConnState};

/// The default admin address (`--admin-bind` of the server).
pub const DEFAULT_ADMIN_ADDR: &str = "127.0.0.1:7879";

/// How long a request waits for its answer by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why an admin call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No address could be connected to.
    #[error("cannot connect to the admin address {addr}: {source}")]
    Connect {
        /// The address as given.
        addr: String,
        /// The last connection error.
        source: io::Error,
    },
    /// A socket error after connecting.
    #[error("admin connection error: {0}")]
    Io(#[from] io::Error),
    /// The TLS handshake failed (an invalid certificate above all) or a
    /// TLS record was broken.
    #[error("{0}")]
    Tls(#[from] HandshakeError),
    /// A plain client got a TLS record: the admin listener speaks TLS.
    #[error("the server's admin listener speaks TLS: connect with --tls (and --ca if needed)")]
    ServerSpeaksTls,
    /// The server closed the connection.
    #[error("the server closed the admin connection")]
    Closed,
    /// The server sent bytes that are not a frame.
    #[error("framing error from the server: {0}")]
    Frame(FrameError),
    /// The server sent a frame that is not an admin response.
    #[error("undecodable admin message from the server: {0}")]
    Decode(MessageError),
    /// The server answered with an admin ERROR.
    #[error("admin error {}: {detail}", error_name(*.code))]
    Server {
        /// The admin error code.
        code: u16,
        /// The server's detail text.
        detail: String,
    },
    /// The server answered with something else than the request calls for.
    #[error("unexpected answer to {request}: {got}")]
    Unexpected {
        /// The request's name.
        request: &'static str,
        /// What came instead.
        got: String,
    },
    /// No answer within the timeout.
    #[error("no answer from the server within {0:?}")]
    Timeout(Duration),
    /// A request could not be encoded (a string too long for its field).
    #[error("cannot encode the request: {0}")]
    Encode(EncodeError),
}

fn error_name(code: u16) -> String {
    match AdminErrorCode::from_u16(code) {
        Some(c) => format!("{c} ({code})"),
        None => code.to_string(),
    }
}

impl ClientError {
    /// The admin error code, if the server answered with an ERROR.
    pub fn server_code(&self) -> Option<AdminErrorCode> {
        match self {
            ClientError::Server { code, .. } => AdminErrorCode::from_u16(*code),
            _ => None,
        }
    }
}

/// A connected admin session.
#[derive(Debug)]
pub struct AdminClient {
    stream: AdminStream,
    /// Nothing came from the server yet (a plain client checks the first
    /// bytes for a TLS record).
    first_read: bool,
    peer: SocketAddr,
    decoder: FrameDecoder,
    /// Decoded frames not yet handed out, in arrival order.
    inbox: VecDeque<AdminResponse>,
    /// Events that arrived before a response already handed out.
    early: VecDeque<ConnEvent>,
    read_buf: Vec<u8>,
    timeout: Duration,
    closed: bool,
}

impl AdminClient {
    /// Connects to `addr` and authenticates with `token` (AUTH is always
    /// sent, with an empty token when none is given, so a wrong version or a
    /// missing token is reported at once). `timeout` bounds the connect and
    /// every request.
    pub fn connect(
        addr: &str,
        token: Option<&str>,
        timeout: Duration,
    ) -> Result<AdminClient, ClientError> {
        Self::connect_tls(addr, token, timeout, None)
    }

    /// [`AdminClient::connect`], over TLS when `tls` is given (the server's
    /// certificate verified; `timeout` also bounds the handshake).
    pub fn connect_tls(
        addr: &str,
        token: Option<&str>,
        timeout: Duration,
        tls: Option<&TlsSetup>,
    ) -> Result<AdminClient, ClientError> {
        let connect_err = |source| ClientError::Connect {
            addr: addr.to_owned(),
            source,
        };
        let addrs = addr.to_socket_addrs().map_err(connect_err)?;
        let mut last = io::Error::new(io::ErrorKind::NotFound, "the name resolved to no address");
        let mut stream = None;
        for a in addrs {
            match TcpStream::connect_timeout(&a, timeout) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = e,
            }
        }
        let stream = stream.ok_or_else(|| connect_err(last))?;
        stream.set_nodelay(true)?;
        let peer = stream.peer_addr()?;
        let stream = match tls {
            Some(setup) => AdminStream::tls(stream, setup, timeout)?,
            None => AdminStream::Plain(stream),
        };
        let mut client = AdminClient {
            first_read: true,
            stream,
            peer,
            decoder: FrameDecoder::new(ADMIN_MAX_PAYLOAD),
            inbox: VecDeque::new(),
            early: VecDeque::new(),
            read_buf: vec![0; 64 * 1024],
            timeout,
            closed: false,
        };
        client.expect_ok(
            AdminRequest::Auth {
                version: ADMIN_VERSION,
                token: token.unwrap_or(""),
            },
            "AUTH",
        )?;
        Ok(client)
    }

    /// The server's admin address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    /// Sends one request without waiting for its answer.
    pub fn send(&mut self, req: &AdminRequest<'_>) -> Result<(), ClientError> {
        let mut buf = Vec::new();
        req.encode(&mut buf).map_err(ClientError::Encode)?;
        self.stream.write_all(&buf).map_err(tls_failure)?;
        self.stream.flush().map_err(tls_failure)?;
        Ok(())
    }

    /// Reads once (waiting at most until `deadline`) and decodes what came.
    /// Returns false on timeout.
    fn fill(&mut self, deadline: Instant) -> Result<bool, ClientError> {
        if self.closed {
            return Err(ClientError::Closed);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(false);
        }
        self.stream.socket().set_read_timeout(Some(left))?;
        let n = match self.stream.read(&mut self.read_buf) {
            Ok(0) => {
                self.closed = true;
                return Err(ClientError::Closed);
            }
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(false);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(true),
            // Reset, or over TLS the socket ended without close_notify.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof
                ) && rustls_error(&e).is_none() =>
            {
                self.closed = true;
                return Err(ClientError::Closed);
            }
            Err(e) => {
                self.closed = true;
                return Err(tls_failure(e));
            }
        };
        if std::mem::take(&mut self.first_read)
            && !self.stream.is_tls()
            && looks_like_tls(&self.read_buf[..n])
        {
            self.closed = true;
            return Err(ClientError::ServerSpeaksTls);
        }
        let mut failure = None;
        let inbox = &mut self.inbox;
        self.decoder.decode_all(&self.read_buf[..n], |ev| match ev {
            Event::Frame(p) if failure.is_none() => match AdminResponse::decode(p) {
                Ok(r) => inbox.push_back(r),
                Err(e) => failure = Some(ClientError::Decode(e)),
            },
            Event::Error(e) if failure.is_none() => failure = Some(ClientError::Frame(e)),
            _ => {}
        });
        match failure {
            Some(e) => Err(e),
            None => Ok(true),
        }
    }

    /// Waits for the next frame that is not an EVENT (events met on the way
    /// are kept for [`AdminClient::take_events`]).
    pub fn recv_response(&mut self) -> Result<AdminResponse, ClientError> {
        let deadline = Instant::now() + self.timeout;
        loop {
            while let Some(r) = self.inbox.pop_front() {
                match r {
                    AdminResponse::Event(e) => self.early.push_back(e),
                    other => return Ok(other),
                }
            }
            if !self.fill(deadline)? && Instant::now() >= deadline {
                return Err(ClientError::Timeout(self.timeout));
            }
        }
    }

    /// Sends `req` and returns its answer; an admin ERROR becomes
    /// [`ClientError::Server`].
    pub fn request(&mut self, req: &AdminRequest<'_>) -> Result<AdminResponse, ClientError> {
        self.send(req)?;
        match self.recv_response()? {
            AdminResponse::Error { code, detail } => Err(ClientError::Server { code, detail }),
            other => Ok(other),
        }
    }

    fn expect_ok(&mut self, req: AdminRequest<'_>, name: &'static str) -> Result<(), ClientError> {
        match self.request(&req)? {
            AdminResponse::Ok { request } if request == req.type_byte() => Ok(()),
            other => Err(unexpected(name, &other)),
        }
    }

    /// The server's counters and rates.
    pub fn counters(&mut self) -> Result<Snapshot, ClientError> {
        match self.request(&AdminRequest::Counters)? {
            AdminResponse::Counters(s) => Ok(s),
            other => Err(unexpected("COUNTERS", &other)),
        }
    }

    /// One LIST page: connections in `state` with an id above `after_id`.
    pub fn list(
        &mut self,
        state: ConnState,
        after_id: u64,
        limit: u16,
    ) -> Result<ListPage, ClientError> {
        match self.request(&AdminRequest::List {
            state,
            after_id,
            limit,
        })? {
            AdminResponse::List(p) => Ok(p),
            other => Err(unexpected("LIST", &other)),
        }
    }

    /// Up to `max` connections in `state` from the start, paging as needed;
    /// also says whether more exist beyond them.
    pub fn list_first(
        &mut self,
        state: ConnState,
        max: usize,
    ) -> Result<(Vec<ConnInfo>, bool), ClientError> {
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            let want = (max - all.len()).min(usize::from(MAX_LIST_LIMIT));
            if want == 0 {
                // Ask for one more to learn whether the list goes on.
                let p = self.list(state, after, 1)?;
                return Ok((all, !p.entries.is_empty()));
            }
            let p = self.list(state, after, want as u16)?;
            all.extend(p.entries);
            after = p.next_after;
            if !p.more {
                return Ok((all, false));
            }
        }
    }

    /// Every connection in `state`, paging through the whole list.
    pub fn list_all(&mut self, state: ConnState) -> Result<Vec<ConnInfo>, ClientError> {
        self.list_first(state, usize::MAX).map(|(v, _)| v)
    }

    /// Starts the EVENT pushes.
    pub fn subscribe(&mut self) -> Result<(), ClientError> {
        self.expect_ok(AdminRequest::Subscribe, "SUBSCRIBE")
    }

    /// Stops the EVENT pushes (events already sent may still be read).
    pub fn unsubscribe(&mut self) -> Result<(), ClientError> {
        self.expect_ok(AdminRequest::Unsubscribe, "UNSUBSCRIBE")
    }

    /// Kicks the registered client `nick`; returns whether it was found.
    /// The reason is cut to [`MAX_KICK_REASON`] bytes.
    pub fn kick(&mut self, nick: &str, reason: &str) -> Result<bool, ClientError> {
        let reason = truncate_str(reason, MAX_KICK_REASON);
        match self.request(&AdminRequest::Kick { nick, reason })? {
            AdminResponse::Kicked { found, .. } => Ok(found),
            other => Err(unexpected("KICK", &other)),
        }
    }

    /// The `limit` largest rooms (clamped to 1..=500 by the server), with
    /// the numbers of rooms and of quiet rooms. A server older than the
    /// ROOMS request answers [`AdminErrorCode::UnknownType`].
    pub fn rooms(&mut self, limit: u16) -> Result<RoomsPage, ClientError> {
        match self.request(&AdminRequest::Rooms { limit })? {
            AdminResponse::Rooms(page) => Ok(page),
            other => Err(unexpected("ROOMS", &other)),
        }
    }

    /// This node's name and up to `limit` of the cluster's nodes (clamped
    /// to 1..=256 by the server). A server older than the NODES request
    /// answers [`AdminErrorCode::UnknownType`].
    pub fn nodes(&mut self, limit: u16) -> Result<NodesPage, ClientError> {
        match self.request(&AdminRequest::Nodes { limit })? {
            AdminResponse::Nodes(page) => Ok(page),
            other => Err(unexpected("NODES", &other)),
        }
    }

    /// Events that arrived before the last response was handed out, oldest
    /// first (never blocks).
    pub fn take_events(&mut self) -> Vec<ConnEvent> {
        self.early.drain(..).collect()
    }

    /// The next pushed event, waiting at most `wait`; `None` on timeout.
    pub fn next_event(&mut self, wait: Duration) -> Result<Option<ConnEvent>, ClientError> {
        if let Some(e) = self.early.pop_front() {
            return Ok(Some(e));
        }
        let deadline = Instant::now() + wait;
        loop {
            match self.inbox.pop_front() {
                Some(AdminResponse::Event(e)) => return Ok(Some(e)),
                Some(AdminResponse::Error { code, detail }) => {
                    return Err(ClientError::Server { code, detail });
                }
                Some(other) => return Err(unexpected("(no request)", &other)),
                None => {}
            }
            if !self.fill(deadline)? && Instant::now() >= deadline {
                return Ok(None);
            }
        }
    }
}

/// A socket error, or a broken TLS session said as such.
fn tls_failure(e: io::Error) -> ClientError {
    match rustls_error(&e) {
        Some(tls) => ClientError::Tls(HandshakeError::Refused(crate::tls::client::explain(tls))),
        None => ClientError::Io(e),
    }
}

fn unexpected(request: &'static str, got: &AdminResponse) -> ClientError {
    let got = match got {
        AdminResponse::Ok { request } => format!("OK for {}", request_name(*request)),
        AdminResponse::Counters(_) => "COUNTERS".into(),
        AdminResponse::List(_) => "LIST".into(),
        AdminResponse::Event(_) => "EVENT".into(),
        AdminResponse::Kicked { .. } => "KICKED".into(),
        AdminResponse::Rooms(_) => "ROOMS".into(),
        AdminResponse::Nodes(_) => "NODES".into(),
        AdminResponse::Error { code, detail } => format!("ERROR {code}: {detail}"),
    };
    ClientError::Unexpected { request, got }
}

/// The admin type byte names, for messages.
pub fn request_name(type_byte: u8) -> &'static str {
    match type_byte {
        admin_type::AUTH => "AUTH",
        admin_type::COUNTERS => "COUNTERS",
        admin_type::LIST => "LIST",
        admin_type::SUBSCRIBE => "SUBSCRIBE",
        admin_type::UNSUBSCRIBE => "UNSUBSCRIBE",
        admin_type::KICK => "KICK",
        admin_type::ROOMS => "ROOMS",
        admin_type::NODES => "NODES",
        _ => "unknown",
    }
}
