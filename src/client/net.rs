//! The network side of the client: one controller thread per client plus one
//! I/O thread per connection ([`crate::client::link`]: it owns the socket
//! and, with `--tls`, the rustls session).
//!
//! The controller connects, registers (HELLO / WELCOME, protocol version 2;
//! a server that answers `bad_version` is asked again at once with version
//! 1, so older servers still serve this client), re-joins the rooms
//! of an earlier connection, sends keepalive PINGs every `keepalive_secs / 3`
//! (measuring the round-trip time from each PONG), turns server messages into
//! [`ClientEvent`]s and writes the front end's [`Request`]s. When the
//! connection is lost it reconnects with jittered exponential backoff, unless
//! told not to. Everything it hears arrives on one channel: requests from the
//! front end, and frames decoded on the I/O thread of the current
//! connection (tagged with a generation number, so a stale one is
//! ignored). Front ends only ever send requests and receive events over
//! channels, so they never block on the network.

use std::collections::VecDeque;
use std::io;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use rand::Rng;

use crate::client::event::{ClientEvent, Incoming, MembersAssembler, name_key};
use crate::client::format::error_sentence;
use crate::client::link::{Link, LinkEvent, TlsSetup};
use crate::client::request::{Refusal, Request};
use crate::codec::{
    ClientMessage, DEFAULT_MAX_PAYLOAD, ErrorCode, Event, FrameDecoder, MAX_PAYLOAD_LIMIT,
    PROTOCOL_V2, PROTOCOL_VERSION, ServerMessage, names_equal,
};

/// The protocol version the client asks for in HELLO (quiet rooms, ROOM).
pub const CLIENT_VERSION: u8 = PROTOCOL_V2;

/// The version asked for when a server refuses [`CLIENT_VERSION`].
pub const FALLBACK_VERSION: u8 = PROTOCOL_VERSION;

/// How the network side connects and behaves.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// The server, `HOST:PORT` (resolved again on every attempt).
    pub server: String,
    /// The nick to register.
    pub nick: String,
    /// The password token (empty if none).
    pub password: String,
    /// Reconnect after losing an established connection.
    pub reconnect: bool,
    /// Limit for one TCP connect.
    pub connect_timeout: Duration,
    /// Limit for the server's answer to HELLO.
    pub handshake_timeout: Duration,
    /// Limit for one blocking write to the server.
    pub write_timeout: Duration,
    /// After a quit, how long to wait for the server to close.
    pub close_timeout: Duration,
    /// Delays between reconnect attempts.
    pub backoff: Backoff,
    /// Speak TLS (`--tls`), verifying the server's certificate.
    pub tls: Option<TlsSetup>,
}

impl NetConfig {
    /// A configuration with the usual timeouts and backoff.
    pub fn new(server: &str, nick: &str, password: &str, reconnect: bool) -> NetConfig {
        NetConfig {
            server: server.to_owned(),
            nick: nick.to_owned(),
            password: password.to_owned(),
            reconnect,
            connect_timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(5),
            backoff: Backoff::default(),
            tls: None,
        }
    }
}

/// Jittered exponential backoff: the n-th delay is drawn uniformly from
/// `[d/2, d]` where `d = min(max, initial * 2^(n-1))`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first (undrawn) delay.
    pub initial: Duration,
    /// The largest delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// The delay before reconnect attempt `attempt` (1 for the first retry).
    pub fn delay(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        let full = self.initial.saturating_mul(1u32 << doublings).min(self.max);
        let half = full / 2;
        let spread = u64::try_from((full - half).as_micros()).unwrap_or(u64::MAX);
        half + Duration::from_micros(rng.random_range(0..=spread))
    }
}

/// The front end's handle on the network side.
#[derive(Debug, Clone)]
pub struct NetHandle {
    tx: Sender<NetInput>,
}

/// The network side has stopped and takes no more requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the network side has stopped")]
pub struct Stopped;

impl NetHandle {
    /// Hands a request to the network side (never blocks).
    pub fn send(&self, request: Request) -> Result<(), Stopped> {
        self.tx
            .send(NetInput::Request(request))
            .map_err(|_| Stopped)
    }
}

/// Starts the network side; its events go to `events` (converted with
/// `From<ClientEvent>`, so a front end can merge them with its own inputs).
/// The last event is always [`ClientEvent::Finished`] or [`ClientEvent::Fatal`].
pub fn spawn<T>(config: NetConfig, events: Sender<T>) -> io::Result<NetHandle>
where
    T: From<ClientEvent> + Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    let controller = Controller {
        config,
        inputs: rx,
        inputs_tx: tx.clone(),
        events,
        rooms: Vec::new(),
        generation: 0,
        version: CLIENT_VERSION,
    };
    std::thread::Builder::new()
        .name("stxchat-net".into())
        .spawn(move || controller.run())?;
    Ok(NetHandle { tx })
}

/// Everything the controller hears, on one channel.
enum NetInput {
    /// From the front end.
    Request(Request),
    /// A decoded server message from the reader of connection `0`.
    Frame(u64, Incoming),
    /// A frame from the server that did not decode as a message.
    Garbled(u64, String),
    /// The reader of connection `0` saw the connection end.
    Closed(u64, String),
}

/// How one connection ended.
enum End {
    /// The front end quit.
    Quit,
    /// Lost; worth reconnecting if the client was registered before.
    Lost(String),
    /// The server refused our protocol version: try again at once with an
    /// older one.
    Downgrade,
    /// Give up for good.
    Fatal(String),
}

/// Why a PING was sent.
#[derive(Debug, Clone, Copy)]
enum PingPurpose {
    Keepalive,
    Ready,
    Barrier(u64),
}

/// One registered connection.
struct Session {
    link: Link,
    generation: u64,
    nick: String,
    max_payload: usize,
    ping_every: Duration,
    dead_after: Duration,
    next_ping: Instant,
    last_rx: Instant,
    pings: VecDeque<(u64, Instant, PingPurpose)>,
    next_token: u64,
    members: MembersAssembler,
    out: Vec<u8>,
}

impl Session {
    /// Encodes and writes one message.
    fn write(&mut self, msg: &ClientMessage<'_>) -> Result<(), String> {
        self.out.clear();
        msg.encode(&mut self.out, self.max_payload)
            .map_err(|e| format!("cannot encode a request: {e}"))?;
        self.link.send(&self.out)
    }

    /// Sends a PING for `purpose`.
    fn ping(&mut self, purpose: PingPurpose) -> Result<(), String> {
        let token = self.next_token;
        self.next_token = self.next_token.wrapping_add(1);
        self.pings.push_back((token, Instant::now(), purpose));
        self.write(&ClientMessage::Ping { token })
    }

    /// Finds (and forgets) the PING a PONG answers, with earlier ones.
    fn pong(&mut self, token: u64) -> Option<(Instant, PingPurpose)> {
        let at = self.pings.iter().position(|p| p.0 == token)?;
        let (_, sent, purpose) = self.pings.drain(..=at).next_back()?;
        Some((sent, purpose))
    }
}

struct Controller<T> {
    config: NetConfig,
    inputs: Receiver<NetInput>,
    inputs_tx: Sender<NetInput>,
    events: Sender<T>,
    /// Rooms we are in, as the server spells them (re-joined on reconnect).
    rooms: Vec<String>,
    generation: u64,
    /// The protocol version HELLO asks for ([`CLIENT_VERSION`], or
    /// [`FALLBACK_VERSION`] once a server refused it).
    version: u8,
}

/// Reports a fatal event if the controller thread unwinds, so front ends
/// never wait for an event that cannot come.
struct PanicReporter<T: From<ClientEvent>>(Sender<T>);

impl<T: From<ClientEvent>> Drop for PanicReporter<T> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = self.0.send(T::from(ClientEvent::Fatal {
                message: "internal error in the network thread".into(),
            }));
        }
    }
}

impl<T: From<ClientEvent>> Controller<T> {
    fn emit(&self, event: ClientEvent) {
        let _ = self.events.send(T::from(event));
    }

    fn run(mut self) {
        let _reporter = PanicReporter(self.events.clone());
        let mut rng = rand::rng();
        let mut attempt: u32 = 0;
        let mut registered_once = false;
        loop {
            self.emit(ClientEvent::Connecting {
                server: self.config.server.clone(),
                attempt,
            });
            let mut registered_now = false;
            let end = match self.connect() {
                Ok(stream) => self.register(stream, registered_once, &mut registered_now),
                Err(e) => End::Lost(e),
            };
            if registered_now {
                registered_once = true;
                attempt = 0;
            }
            let reason = match end {
                End::Downgrade => continue,
                End::Quit => return self.emit(ClientEvent::Finished),
                End::Fatal(message) => return self.emit(ClientEvent::Fatal { message }),
                End::Lost(reason) if !registered_once => {
                    return self.emit(ClientEvent::Fatal { message: reason });
                }
                End::Lost(reason) => reason,
            };
            if registered_now {
                self.emit(ClientEvent::Disconnected {
                    reason: reason.clone(),
                });
            }
            if !self.config.reconnect {
                return self.emit(ClientEvent::Fatal {
                    message: format!("{reason}; not reconnecting"),
                });
            }
            attempt = attempt.saturating_add(1);
            let delay = self.config.backoff.delay(attempt, &mut rng);
            self.emit(ClientEvent::Reconnecting {
                attempt,
                delay_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                reason,
            });
            if self.wait_offline(Instant::now() + delay) {
                return self.emit(ClientEvent::Finished);
            }
        }
    }

    /// Serves requests while not connected until `until`; true if the front
    /// end quit meanwhile.
    fn wait_offline(&mut self, until: Instant) -> bool {
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            match self.inputs.recv_timeout(left) {
                Ok(NetInput::Request(r)) => {
                    if self.offline_request(r) {
                        return true;
                    }
                }
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => return false,
                Err(RecvTimeoutError::Disconnected) => return true,
            }
        }
    }

    /// Answers a request that cannot reach a server; true for quit.
    fn offline_request(&mut self, request: Request) -> bool {
        match request {
            Request::Quit => true,
            Request::Barrier(id) => {
                self.emit(ClientEvent::Barrier { id });
                false
            }
            _ => {
                self.emit(ClientEvent::Refused {
                    reason: Refusal::NotConnected.to_string(),
                });
                false
            }
        }
    }

    fn connect(&self) -> Result<TcpStream, String> {
        let server = &self.config.server;
        let addrs = server
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {server}: {e}"))?;
        let mut last = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, self.config.connect_timeout) {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    s.set_write_timeout(Some(self.config.write_timeout))
                        .map_err(|e| format!("cannot set up the connection: {e}"))?;
                    return Ok(s);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(match last {
            Some(e) => format!("cannot connect to {server}: {e}"),
            None => format!("cannot resolve {server}: no addresses"),
        })
    }

    /// Registers on a fresh connection and, if that works, serves it.
    fn register(&mut self, stream: TcpStream, reconnecting: bool, registered: &mut bool) -> End {
        self.generation += 1;
        let generation = self.generation;
        let sink = frame_sink(generation, self.inputs_tx.clone());
        let stream = match Link::spawn(
            stream,
            self.config.tls.as_ref(),
            self.config.write_timeout,
            sink,
        ) {
            Ok(l) => l,
            Err(e) => return End::Lost(e),
        };
        let mut out = Vec::new();
        let hello = ClientMessage::Hello {
            version: self.version,
            nick: &self.config.nick,
            token: &self.config.password,
        };
        if let Err(e) = hello.encode(&mut out, usize::from(DEFAULT_MAX_PAYLOAD)) {
            stream.close();
            return End::Fatal(format!("cannot register: {e}"));
        }
        // If the connection has already ended (a refused certificate, say),
        // its reason arrives as `Closed` below.
        let _ = stream.send(&out);
        let deadline = Instant::now() + self.config.handshake_timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let input = match self.inputs.recv_timeout(left) {
                Ok(i) => i,
                Err(_) => {
                    stream.close();
                    return End::Lost(format!(
                        "no answer to registration from {} within {} s",
                        self.config.server,
                        self.config.handshake_timeout.as_secs()
                    ));
                }
            };
            match input {
                NetInput::Request(Request::Quit) => {
                    out.clear();
                    let _ = ClientMessage::Bye.encode(&mut out, usize::from(DEFAULT_MAX_PAYLOAD));
                    let _ = stream.send(&out);
                    stream.shutdown_write();
                    return End::Quit;
                }
                NetInput::Request(r) => {
                    self.offline_request(r);
                }
                NetInput::Frame(
                    g,
                    Incoming::Welcome {
                        nick,
                        server_name,
                        max_payload,
                        keepalive_secs,
                        ..
                    },
                ) if g == generation => {
                    *registered = true;
                    let session =
                        new_session(stream, generation, nick, max_payload, keepalive_secs);
                    self.emit(ClientEvent::Connected {
                        nick: session.nick.clone(),
                        server_name,
                        max_payload,
                        keepalive_secs,
                    });
                    return self.serve(session);
                }
                NetInput::Frame(g, Incoming::Error { code, detail }) if g == generation => {
                    stream.close();
                    if code == ErrorCode::BadVersion.as_u16() && self.version > FALLBACK_VERSION {
                        self.version = FALLBACK_VERSION;
                        self.emit(ClientEvent::Warning {
                            message: format!(
                                "the server does not speak protocol version {CLIENT_VERSION}; \
                                 using version {FALLBACK_VERSION} (no quiet-room summaries)"
                            ),
                        });
                        return End::Downgrade;
                    }
                    self.emit(ClientEvent::server_error(code, &detail));
                    let refused = format!("registration refused: {}", error_sentence(code));
                    return match ErrorCode::from_u16(code) {
                        Some(
                            ErrorCode::NickTaken
                            | ErrorCode::ServerFull
                            | ErrorCode::ShuttingDown
                            | ErrorCode::Timeout
                            | ErrorCode::Unavailable,
                        ) if reconnecting => End::Lost(refused),
                        _ => End::Fatal(refused),
                    };
                }
                NetInput::Garbled(g, what) if g == generation => {
                    self.emit(ClientEvent::Warning { message: what });
                }
                NetInput::Closed(g, why) if g == generation => {
                    stream.close();
                    return End::Lost(format!("{why} during registration"));
                }
                _ => {}
            }
        }
    }

    /// Runs a registered connection until it ends.
    fn serve(&mut self, mut session: Session) -> End {
        let end = self.serve_inner(&mut session);
        session.link.close();
        end
    }

    fn serve_inner(&mut self, s: &mut Session) -> End {
        let rejoin = std::mem::take(&mut self.rooms);
        for room in &rejoin {
            if let Err(e) = s.write(&ClientMessage::Join { room }) {
                return End::Lost(e);
            }
        }
        if let Err(e) = s.ping(PingPurpose::Ready) {
            return End::Lost(e);
        }
        loop {
            let now = Instant::now();
            if now.duration_since(s.last_rx) > s.dead_after {
                return End::Lost(format!(
                    "the server stopped answering (nothing for {} s)",
                    s.dead_after.as_secs()
                ));
            }
            if now >= s.next_ping {
                s.next_ping = now + s.ping_every;
                if let Err(e) = s.ping(PingPurpose::Keepalive) {
                    return End::Lost(e);
                }
            }
            let wait = s.next_ping.saturating_duration_since(Instant::now());
            let input = match self.inputs.recv_timeout(wait) {
                Ok(i) => i,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return End::Quit,
            };
            let step = match input {
                NetInput::Request(Request::Quit) => return self.quit(s),
                NetInput::Request(r) => self.request(s, r),
                NetInput::Frame(g, msg) if g == s.generation => {
                    s.last_rx = Instant::now();
                    self.incoming(s, msg)
                }
                NetInput::Garbled(g, what) if g == s.generation => {
                    s.last_rx = Instant::now();
                    self.emit(ClientEvent::Warning { message: what });
                    Ok(())
                }
                NetInput::Closed(g, why) if g == s.generation => Err(End::Lost(why)),
                _ => Ok(()),
            };
            if let Err(end) = step {
                return end;
            }
        }
    }

    /// Sends BYE, then passes on what the server still sends until it closes.
    fn quit(&mut self, s: &mut Session) -> End {
        if s.write(&ClientMessage::Bye).is_err() {
            return End::Quit;
        }
        s.link.shutdown_write();
        let deadline = Instant::now() + self.config.close_timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.inputs.recv_timeout(left) {
                Ok(NetInput::Frame(g, msg)) if g == s.generation => {
                    // Closing errors end the connection anyway; nothing more to decide.
                    let _ = self.incoming(s, msg);
                }
                Ok(NetInput::Closed(g, _)) if g == s.generation => return End::Quit,
                Ok(NetInput::Request(Request::Barrier(id))) => {
                    self.emit(ClientEvent::Barrier { id })
                }
                Ok(_) => {}
                Err(_) => return End::Quit,
            }
        }
    }

    /// Checks and sends one request.
    fn request(&mut self, s: &mut Session, request: Request) -> Result<(), End> {
        if let Request::Barrier(id) = request {
            return s.ping(PingPurpose::Barrier(id)).map_err(End::Lost);
        }
        if let Err(refusal) = request.check(&s.nick, s.max_payload) {
            self.emit(ClientEvent::Refused {
                reason: refusal.to_string(),
            });
            return Ok(());
        }
        match request.message() {
            Some(msg) => s.write(&msg).map_err(End::Lost),
            None => Ok(()),
        }
    }

    /// Handles one server message.
    fn incoming(&mut self, s: &mut Session, msg: Incoming) -> Result<(), End> {
        match msg {
            Incoming::Welcome { .. } => {}
            Incoming::Message {
                replayed,
                seq,
                time_ms,
                room,
                from,
                text,
            } => self.emit(ClientEvent::Message {
                room,
                from,
                text,
                seq,
                time_ms,
                replayed,
            }),
            Incoming::Private {
                seq,
                time_ms,
                from,
                to,
                text,
            } => self.emit(ClientEvent::Private {
                from,
                to,
                text,
                seq,
                time_ms,
            }),
            Incoming::Joined { room, nick } => {
                if names_equal(&nick, &s.nick) {
                    let key = name_key(&room);
                    if !self.rooms.iter().any(|r| name_key(r) == key) {
                        self.rooms.push(room.clone());
                    }
                }
                self.emit(ClientEvent::Joined { room, nick });
            }
            Incoming::Left { room, nick, reason } => {
                if names_equal(&nick, &s.nick) {
                    let key = name_key(&room);
                    self.rooms.retain(|r| name_key(r) != key);
                }
                self.emit(ClientEvent::left(&room, &nick, reason));
            }
            Incoming::Members {
                room,
                more,
                partial,
                nicks,
            } => {
                if let Some(list) = s.members.push(room, more, partial, nicks) {
                    self.emit(ClientEvent::Members {
                        room: list.room,
                        nicks: list.nicks,
                        partial: list.partial,
                    });
                }
            }
            Incoming::Room {
                room,
                quiet,
                members,
            } => self.emit(ClientEvent::Room {
                room,
                quiet,
                members,
            }),
            Incoming::Pong { token } => {
                if let Some((sent, purpose)) = s.pong(token) {
                    match purpose {
                        PingPurpose::Keepalive | PingPurpose::Ready => {
                            let micros =
                                u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
                            self.emit(ClientEvent::Rtt { micros });
                            if matches!(purpose, PingPurpose::Ready) {
                                self.emit(ClientEvent::Ready);
                            }
                        }
                        PingPurpose::Barrier(id) => self.emit(ClientEvent::Barrier { id }),
                    }
                }
            }
            Incoming::Error { code, detail } => {
                self.emit(ClientEvent::server_error(code, &detail));
                match ErrorCode::from_u16(code) {
                    Some(ErrorCode::Kicked) => {
                        return Err(End::Fatal(error_sentence(code).to_owned()));
                    }
                    Some(c) if c.closes(true) => {
                        return Err(End::Lost(format!(
                            "the server closed the connection: {}",
                            error_sentence(code)
                        )));
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }
}

/// A session for a connection the server just welcomed.
fn new_session(
    link: Link,
    generation: u64,
    nick: String,
    max_payload: u16,
    keepalive_secs: u16,
) -> Session {
    let ping_every = if keepalive_secs == 0 {
        Duration::from_secs(15)
    } else {
        (Duration::from_secs(u64::from(keepalive_secs)) / 3).max(Duration::from_millis(100))
    };
    let now = Instant::now();
    Session {
        link,
        generation,
        nick,
        max_payload: usize::from(max_payload),
        ping_every,
        dead_after: (ping_every * 3).max(Duration::from_secs(3)),
        next_ping: now + ping_every,
        last_rx: now,
        pings: VecDeque::new(),
        next_token: 1,
        members: MembersAssembler::new(),
        out: Vec::new(),
    }
}

/// The sink of a connection's I/O thread: decodes frames and passes the
/// messages (and the end) on to the controller, tagged with `generation`.
fn frame_sink(generation: u64, tx: Sender<NetInput>) -> impl FnMut(LinkEvent<'_>) -> bool {
    // The client accepts any frame the LEN field allows: the server never
    // sends more than its own max_payload, which it announces only in WELCOME.
    let mut decoder = FrameDecoder::new(MAX_PAYLOAD_LIMIT);
    move |event| {
        let bytes = match event {
            LinkEvent::Data(b) => b,
            LinkEvent::Closed(why) => {
                let _ = tx.send(NetInput::Closed(generation, why));
                return false;
            }
        };
        let mut bad_frame = None;
        let mut receiver_gone = false;
        decoder.decode_all(bytes, |event| {
            if bad_frame.is_some() || receiver_gone {
                return;
            }
            let input = match event {
                Event::Frame(payload) => match ServerMessage::decode(payload) {
                    Ok(msg) => NetInput::Frame(generation, Incoming::from_message(&msg)),
                    Err(e) => NetInput::Garbled(
                        generation,
                        format!("ignored a frame from the server: {e}"),
                    ),
                },
                Event::Error(kind) => {
                    bad_frame = Some(kind);
                    return;
                }
            };
            receiver_gone = tx.send(input).is_err();
        });
        if let Some(kind) = bad_frame {
            let _ = tx.send(NetInput::Closed(
                generation,
                format!("the server sent a damaged frame ({kind})"),
            ));
            return false;
        }
        !receiver_gone
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn backoff_doubles_within_jitter_and_caps() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..200 {
            let d1 = b.delay(1, &mut rng);
            assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100));
            let d3 = b.delay(3, &mut rng);
            assert!(d3 >= Duration::from_millis(200) && d3 <= Duration::from_millis(400));
            let d20 = b.delay(20, &mut rng);
            assert!(d20 >= Duration::from_millis(500) && d20 <= Duration::from_secs(1));
            let dmax = b.delay(u32::MAX, &mut rng);
            assert!(dmax <= Duration::from_secs(1));
        }
        let draws: std::collections::HashSet<Duration> =
            (0..50).map(|_| b.delay(4, &mut rng)).collect();
        assert!(draws.len() > 1, "delays are jittered");
    }
}
