//! The network side of `stxchat top`: a thread that owns the admin
//! connection, subscribes, pages through both lists, polls the counters
//! the largest rooms and the cluster's nodes every second, runs kicks and window refreshes the screen asks for, and
//! forwards everything to the screen in the order the server sent it. It
//! reconnects after a lost connection.

use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::admin::client::{AdminClient, ClientError};
use crate::admin::link::HandshakeError;
use crate::admin::nodes::NodesPage;
use crate::admin::proto::{AdminErrorCode, ListPage, MAX_LIST_LIMIT, Snapshot};
use crate::admin::rooms::RoomsPage;
use crate::admin::top::nodes_view::NODES_ASKED;
use crate::admin::top::rooms_view::ROOMS_ASKED;
use crate::core::observe::{ConnEvent, ConnState};

/// What the network thread tells the screen.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    /// (Re)connected: forget what was known; pages and events follow.
    Connected,
    /// A pushed state change.
    Event(ConnEvent),
    /// A LIST page, with the cursor it was asked with.
    Page {
        /// The request's `after_id`.
        after_id: u64,
        /// The answer.
        page: ListPage,
    },
    /// Fresh counters and rates.
    Snapshot(Snapshot),
    /// The largest rooms and the room totals.
    Rooms(RoomsPage),
    /// The server does not know the ROOMS request (an older server).
    RoomsUnsupported,
    /// The server's node name and the cluster's nodes.
    Nodes(NodesPage),
    /// The result of a kick.
    Kicked {
        /// The nick.
        nick: String,
        /// Whether it was found.
        found: bool,
    },
    /// The connection is down (retrying).
    Down(String),
    /// The server refused us for good (token or version): not retrying.
    Fatal(String),
}

/// What the screen asks the network thread to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Kick a registered client.
    Kick {
        /// Its nick.
        nick: String,
        /// Sent to it as the ERROR detail.
        reason: String,
    },
    /// Re-read one window of a list (fresh byte counts, rooms, queues).
    Refresh {
        /// Which list.
        state: ConnState,
        /// Cursor: the id before the window.
        after_id: u64,
        /// Window size.
        limit: u16,
    },
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// Admin address (host:port).
    pub addr: String,
    /// Admin token, if the server wants one.
    pub token: Option<String>,
    /// Speak TLS (`--tls`), verifying the server's certificate.
    pub tls: Option<crate::client::link::TlsSetup>,
    /// How often COUNTERS is asked for.
    pub poll_every: Duration,
    /// How long to wait before reconnecting.
    pub retry_every: Duration,
    /// Timeout of a connect and of each request.
    pub timeout: Duration,
}

/// Why a session ended.
enum End {
    /// The screen went away: stop.
    ScreenGone,
    /// The connection failed: maybe retry.
    Failed(ClientError),
}

impl From<ClientError> for End {
    fn from(e: ClientError) -> Self {
        End::Failed(e)
    }
}

/// Starts the network thread.
pub fn spawn(
    cfg: NetConfig,
    updates: Sender<Update>,
    commands: Receiver<Command>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("stxchat-top-net".into())
        .spawn(move || run(&cfg, &updates, &commands))
}

/// Whether retrying cannot help: the server refused the token or version,
/// its certificate is not trusted, or it speaks TLS and we do not.
fn fatal(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::Tls(HandshakeError::Refused(_)) | ClientError::ServerSpeaksTls
    ) || matches!(
        e.server_code(),
        Some(
            AdminErrorCode::AuthFailed | AdminErrorCode::AuthRequired | AdminErrorCode::BadVersion
        )
    )
}

fn run(cfg: &NetConfig, updates: &Sender<Update>, commands: &Receiver<Command>) {
    loop {
        let connected = AdminClient::connect_tls(
            &cfg.addr,
            cfg.token.as_deref(),
            cfg.timeout,
            cfg.tls.as_ref(),
        );
        let err = match connected {
            Ok(client) => match session(client, cfg, updates, commands) {
                End::ScreenGone => return,
                End::Failed(e) => e,
            },
            Err(e) => e,
        };
        if fatal(&err) {
            let _ = updates.send(Update::Fatal(err.to_string()));
            return;
        }
        if updates
            .send(Update::Down(format!("{err}; retrying")))
            .is_err()
        {
            return;
        }
        // Wait before retrying, but leave at once if the screen is gone.
        let until = Instant::now() + cfg.retry_every;
        while Instant::now() < until {
            match commands.try_recv() {
                Err(TryRecvError::Disconnected) => return,
                // Commands for a lost connection are dropped.
                Ok(_) | Err(TryRecvError::Empty) => {}
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Sends the events that came before the last answer, then `u`.
fn forward(client: &mut AdminClient, updates: &Sender<Update>, u: Update) -> Result<(), End> {
    for ev in client.take_events() {
        updates
            .send(Update::Event(ev))
            .map_err(|_| End::ScreenGone)?;
    }
    updates.send(u).map_err(|_| End::ScreenGone)
}

/// Asks for the largest rooms (unless the server said it does not know
/// the request); returns whether to keep asking.
fn poll_rooms(
    client: &mut AdminClient,
    updates: &Sender<Update>,
    supported: bool,
) -> Result<bool, End> {
    if !supported {
        return Ok(false);
    }
    match client.rooms(ROOMS_ASKED) {
        Ok(page) => forward(client, updates, Update::Rooms(page)).map(|()| true),
        Err(e) if e.server_code() == Some(AdminErrorCode::UnknownType) => {
            forward(client, updates, Update::RoomsUnsupported).map(|()| false)
        }
        Err(e) => Err(End::Failed(e)),
    }
}

/// Asks for the node name and the cluster's nodes (unless the server said
/// it does not know the request: an older server, shown without them);
/// returns whether to keep asking.
fn poll_nodes(
    client: &mut AdminClient,
    updates: &Sender<Update>,
    supported: bool,
) -> Result<bool, End> {
    if !supported {
        return Ok(false);
    }
    match client.nodes(NODES_ASKED) {
        Ok(page) => forward(client, updates, Update::Nodes(page)).map(|()| true),
        Err(e) if e.server_code() == Some(AdminErrorCode::UnknownType) => Ok(false),
        Err(e) => Err(End::Failed(e)),
    }
}

fn session(
    mut client: AdminClient,
    cfg: &NetConfig,
    updates: &Sender<Update>,
    commands: &Receiver<Command>,
) -> End {
    match session_inner(&mut client, cfg, updates, commands) {
        Ok(()) => End::ScreenGone,
        Err(e) => e,
    }
}

fn session_inner(
    client: &mut AdminClient,
    cfg: &NetConfig,
    updates: &Sender<Update>,
    commands: &Receiver<Command>,
) -> Result<(), End> {
    updates
        .send(Update::Connected)
        .map_err(|_| End::ScreenGone)?;
    client.subscribe()?;
    let snap = client.counters()?;
    forward(client, updates, Update::Snapshot(snap))?;
    let mut rooms_supported = poll_rooms(client, updates, true)?;
    let mut nodes_supported = poll_nodes(client, updates, true)?;
    for state in [ConnState::Waiting, ConnState::Connected] {
        let mut after_id = 0;
        loop {
            let page = client.list(state, after_id, MAX_LIST_LIMIT)?;
            let (more, next) = (page.more, page.next_after);
            forward(client, updates, Update::Page { after_id, page })?;
            if !more {
                break;
            }
            after_id = next;
        }
    }
    let mut next_poll = Instant::now() + cfg.poll_every;
    loop {
        loop {
            match commands.try_recv() {
                Ok(Command::Kick { nick, reason }) => {
                    let found = client.kick(&nick, &reason)?;
                    forward(client, updates, Update::Kicked { nick, found })?;
                }
                Ok(Command::Refresh {
                    state,
                    after_id,
                    limit,
                }) => {
                    let page = client.list(state, after_id, limit)?;
                    forward(client, updates, Update::Page { after_id, page })?;
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return Ok(()),
            }
        }
        let now = Instant::now();
        if now >= next_poll {
            let snap = client.counters()?;
            forward(client, updates, Update::Snapshot(snap))?;
            rooms_supported = poll_rooms(client, updates, rooms_supported)?;
            nodes_supported = poll_nodes(client, updates, nodes_supported)?;
            next_poll = now + cfg.poll_every;
        }
        let wait = next_poll
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(100));
        let mut first = client.next_event(wait)?;
        while let Some(ev) = first {
            updates
                .send(Update::Event(ev))
                .map_err(|_| End::ScreenGone)?;
            first = client.next_event(Duration::ZERO)?;
        }
    }
}
