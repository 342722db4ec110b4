//! What the full-screen client shows, independent of drawing: one tab per
//! joined room and per private conversation (plus a status tab), each with
//! its message pane, scroll position and unread count; the rooms' member
//! lists kept live from MEMBERS, JOINED and LEFT, and for quiet rooms
//! (protocol version 2) the member count from ROOM, the list marked
//! partial and no join or leave lines; the connection's state and
//! round-trip time; and the input line. Events from the network update it
//! ([`ChatState::apply`]); an entered line becomes a [`Request`]
//! ([`ChatState::submit`]).

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use crate::client::command::{self, Command, HELP, KEYS_HELP, ParseError};
use crate::client::event::{ClientEvent, name_key};
use crate::client::format::{self, clock_hm, member_list, members_count, now_ms, thousands};
use crate::client::input::InputLine;
use crate::client::request::Request;
use crate::client::roster::{Roster, Transition};
use crate::codec::{DEFAULT_MAX_PAYLOAD, LeftReason, names_equal};

/// Most lines a tab keeps.
pub const MAX_LINES: usize = 5000;

/// What a tab holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TabKind {
    /// Connection notices and anything not about one room or conversation.
    Status,
    /// A room, as the server spells it.
    Room(String),
    /// A private conversation with a nick.
    Private(String),
}

/// One line of a message pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaneLine {
    /// Local `HH:MM`.
    pub time: String,
    /// What the line says.
    pub kind: LineKind,
}

/// The kinds of pane lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineKind {
    /// A room or private message.
    Chat {
        /// Sender.
        from: String,
        /// Text (may hold LF).
        text: String,
        /// Sent by us.
        own: bool,
        /// Replayed from the room's history.
        replayed: bool,
    },
    /// A notice (joins, leaves, connection changes, help).
    Notice(String),
    /// An error (from the server, or a request refused locally).
    Error(String),
}

/// One tab.
#[derive(Debug, Clone)]
pub struct Tab {
    /// What it holds.
    pub kind: TabKind,
    /// The message pane, oldest first.
    pub lines: VecDeque<PaneLine>,
    /// Room members (rooms only), quiet-room state included.
    pub roster: Roster,
    /// For rooms: whether we are currently in it.
    pub joined: bool,
    /// Chat lines that arrived while the tab was not shown.
    pub unread: usize,
    /// Rows scrolled up from the bottom of the pane.
    pub scroll: usize,
    /// (seq, time_ms) of chat lines shown, to skip history replayed again
    /// after a reconnect.
    seen: HashSet<(u64, u64)>,
    /// Created for a join still under way (history arrives before our
    /// JOINED): show it once the join completes.
    fresh: bool,
}

impl Tab {
    fn new(kind: TabKind) -> Tab {
        Tab {
            kind,
            lines: VecDeque::new(),
            roster: Roster::default(),
            joined: false,
            unread: 0,
            scroll: 0,
            seen: HashSet::new(),
            fresh: true,
        }
    }

    /// The tab's title, without the unread count.
    pub fn title(&self, server_name: &str) -> String {
        match &self.kind {
            TabKind::Status => server_name.to_owned(),
            TabKind::Room(r) => r.clone(),
            TabKind::Private(n) => format!("@{n}"),
        }
    }

    fn push(&mut self, kind: LineKind, time: String) {
        if self.lines.len() == MAX_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(PaneLine { time, kind });
    }
}

/// The connection as the status bar shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    /// Connecting (attempt 0 is the first).
    Connecting(u32),
    /// Registered.
    Connected,
    /// Waiting before reconnect attempt `attempt`.
    Reconnecting {
        /// The coming attempt.
        attempt: u32,
        /// The delay, milliseconds.
        delay_ms: u64,
    },
    /// Not connected and not trying.
    Offline(String),
}

/// Everything the full-screen client shows.
#[derive(Debug)]
pub struct ChatState {
    /// The server address as given.
    pub server: String,
    /// The server's name from WELCOME.
    pub server_name: Option<String>,
    /// Our nick (as registered, once registered).
    pub nick: String,
    /// Connection state.
    pub connection: Connection,
    /// Latest round-trip time.
    pub rtt: Option<Duration>,
    /// The server's payload limit (4096 until WELCOME says otherwise).
    pub max_payload: usize,
    /// Tabs; index 0 is the status tab.
    pub tabs: Vec<Tab>,
    /// The shown tab.
    pub active: usize,
    /// The input line.
    pub input: InputLine,
    /// The user asked to quit.
    pub quitting: bool,
    /// The network side has stopped (finished or gave up).
    pub net_ended: bool,
    /// Rooms (keys) whose next member list answers a `/who`.
    pending_who: Vec<String>,
    /// Member lists (and whether partial) of rooms without a tab yet, by
    /// room key: a join sends MEMBERS before our own JOINED.
    unclaimed_members: HashMap<String, (Vec<String>, bool)>,
    /// ROOM summaries (quiet, count) of rooms without a tab yet: a quiet
    /// room's join sends ROOM before our own JOINED.
    unclaimed_rooms: HashMap<String, (bool, u32)>,
    /// A partial `/who` answer waiting for the ROOM that follows it (room
    /// key, room, nicks), so that it is printed with the room's count.
    who_partial: Option<(String, String, Vec<String>)>,
    /// Why the last reconnect attempt failed (repeats are not shown again).
    last_failure: Option<String>,
}

impl ChatState {
    /// The state before connecting: only the status tab.
    pub fn new(server: &str, nick: &str) -> ChatState {
        ChatState {
            server: server.to_owned(),
            server_name: None,
            nick: nick.to_owned(),
            connection: Connection::Connecting(0),
            rtt: None,
            max_payload: usize::from(DEFAULT_MAX_PAYLOAD),
            tabs: vec![Tab::new(TabKind::Status)],
            active: 0,
            input: InputLine::new(),
            quitting: false,
            net_ended: false,
            pending_who: Vec::new(),
            unclaimed_members: HashMap::new(),
            unclaimed_rooms: HashMap::new(),
            who_partial: None,
            last_failure: None,
        }
    }

    /// The shown tab.
    pub fn active_tab(&self) -> &Tab {
        &self.tabs[self.active]
    }

    /// The status tab's title: the server's name, or its address.
    pub fn status_title(&self) -> &str {
        self.server_name.as_deref().unwrap_or(&self.server)
    }

    /// The index of a room's tab.
    pub fn room_tab(&self, room: &str) -> Option<usize> {
        let key = name_key(room);
        self.tabs
            .iter()
            .position(|t| matches!(&t.kind, TabKind::Room(r) if name_key(r) == key))
    }

    /// The index of the private conversation with `nick`.
    pub fn private_tab(&self, nick: &str) -> Option<usize> {
        self.tabs
            .iter()
            .position(|t| matches!(&t.kind, TabKind::Private(n) if names_equal(n, nick)))
    }

    fn open(&mut self, kind: TabKind) -> (usize, bool) {
        let found = match &kind {
            TabKind::Status => Some(0),
            TabKind::Room(r) => self.room_tab(r),
            TabKind::Private(n) => self.private_tab(n),
        };
        match found {
            Some(i) => (i, false),
            None => {
                self.tabs.push(Tab::new(kind));
                (self.tabs.len() - 1, true)
            }
        }
    }

    /// Shows tab `index` (ignored if there is none).
    pub fn select(&mut self, index: usize) {
        if index < self.tabs.len() {
            self.active = index;
            self.tabs[index].unread = 0;
        }
    }

    /// Shows the next tab, wrapping around.
    pub fn next_tab(&mut self) {
        self.select((self.active + 1) % self.tabs.len());
    }

    /// Shows the previous tab, wrapping around.
    pub fn prev_tab(&mut self) {
        self.select((self.active + self.tabs.len() - 1) % self.tabs.len());
    }

    fn close(&mut self, index: usize) {
        if index == 0 || index >= self.tabs.len() {
            return;
        }
        self.tabs.remove(index);
        if self.active >= index {
            self.select(self.active.saturating_sub(1).min(self.tabs.len() - 1));
        }
    }

    /// Scrolls the shown pane up by `rows` (the drawing clamps it).
    pub fn scroll_up(&mut self, rows: usize, max: usize) {
        let t = &mut self.tabs[self.active];
        t.scroll = (t.scroll + rows).min(max);
    }

    /// Scrolls the shown pane down by `rows`.
    pub fn scroll_down(&mut self, rows: usize) {
        let t = &mut self.tabs[self.active];
        t.scroll = t.scroll.saturating_sub(rows);
    }

    fn push_line(&mut self, index: usize, kind: LineKind, time: String) {
        let counts = matches!(kind, LineKind::Chat { .. });
        let tab = &mut self.tabs[index];
        tab.push(kind, time);
        if index != self.active && counts {
            tab.unread += 1;
        }
    }

    fn now() -> String {
        clock_hm(now_ms())
    }

    /// A notice in tab `index`.
    fn notice_in(&mut self, index: usize, text: String) {
        self.push_line(index, LineKind::Notice(text), Self::now());
    }

    /// A notice in the shown tab.
    pub fn notice(&mut self, text: impl Into<String>) {
        self.notice_in(self.active, text.into());
    }

    /// An error in the shown tab.
    pub fn error(&mut self, text: impl Into<String>) {
        let i = self.active;
        self.push_line(i, LineKind::Error(text.into()), Self::now());
    }

    /// A notice in the status tab and, if another is shown, there too.
    fn global(&mut self, kind: LineKind) {
        let time = Self::now();
        self.push_line(0, kind.clone(), time.clone());
        if self.active != 0 {
            self.push_line(self.active, kind, time);
        }
    }

    /// Updates the state with one event from the network.
    pub fn apply(&mut self, event: &ClientEvent) {
        match event {
            ClientEvent::Connecting { attempt, .. } => {
                self.connection = Connection::Connecting(*attempt);
                if let Some(text) = format::notice(event) {
                    self.notice_in(0, text);
                }
            }
            ClientEvent::Connected {
                nick,
                server_name,
                max_payload,
                ..
            } => {
                self.nick = nick.clone();
                self.max_payload = usize::from(*max_payload);
                self.last_failure = None;
                self.server_name = Some(server_name.clone());
                self.connection = Connection::Connected;
                if let Some(text) = format::notice(event) {
                    self.global(LineKind::Notice(text));
                }
            }
            ClientEvent::Message {
                room,
                from,
                text,
                seq,
                time_ms,
                replayed,
            } => {
                let (i, _) = self.open(TabKind::Room(room.clone()));
                if !self.tabs[i].seen.insert((*seq, *time_ms)) {
                    return;
                }
                let own = names_equal(from, &self.nick);
                self.push_line(
                    i,
                    LineKind::Chat {
                        from: from.clone(),
                        text: text.clone(),
                        own,
                        replayed: *replayed,
                    },
                    clock_hm(*time_ms),
                );
            }
            ClientEvent::Private {
                from,
                to,
                text,
                time_ms,
                ..
            } => {
                let own = names_equal(from, &self.nick);
                let other = if own { to } else { from };
                let (i, _) = self.open(TabKind::Private(other.clone()));
                self.push_line(
                    i,
                    LineKind::Chat {
                        from: from.clone(),
                        text: text.clone(),
                        own,
                        replayed: false,
                    },
                    clock_hm(*time_ms),
                );
            }
            ClientEvent::Joined { room, nick } => {
                if names_equal(nick, &self.nick) {
                    let key = name_key(room);
                    let (i, _) = self.open(TabKind::Room(room.clone()));
                    let tab = &mut self.tabs[i];
                    if let Some((members, partial)) = self.unclaimed_members.remove(&key) {
                        tab.roster.set_list(&members, partial);
                    }
                    if let Some((quiet, count)) = self.unclaimed_rooms.remove(&key) {
                        tab.roster.summary(quiet, count);
                    }
                    tab.joined = true;
                    tab.roster.add(nick);
                    let fresh = std::mem::replace(&mut tab.fresh, false);
                    let text = if tab.roster.is_quiet() {
                        format!(
                            "you joined {room}, a quiet room of {}: joins and leaves are not shown",
                            members_count(tab.roster.total())
                        )
                    } else {
                        format!("you joined {room}")
                    };
                    self.notice_in(i, text);
                    if fresh {
                        self.select(i);
                    }
                } else if let Some(i) = self.room_tab(room) {
                    // A quiet room announces no joins: none is shown or
                    // added to its sample, should one arrive anyway.
                    let tab = &mut self.tabs[i];
                    if !tab.roster.is_quiet() {
                        tab.roster.add(nick);
                        self.notice_in(i, format!("{nick} joined"));
                    }
                }
            }
            ClientEvent::Left {
                room,
                nick,
                reason_code,
                reason,
            } => {
                let Some(i) = self.room_tab(room) else {
                    return;
                };
                if names_equal(nick, &self.nick) {
                    if *reason_code == LeftReason::Parted.as_u8() {
                        self.close(i);
                        self.notice(format!("you left {room}"));
                    } else {
                        self.tabs[i].joined = false;
                        self.tabs[i].roster.clear();
                        self.notice_in(i, format!("you left {room} ({reason})"));
                    }
                } else {
                    let tab = &mut self.tabs[i];
                    tab.roster.remove(nick);
                    if !tab.roster.is_quiet() {
                        self.notice_in(i, format!("{nick} left ({reason})"));
                    }
                }
            }
            ClientEvent::Members {
                room,
                nicks,
                partial,
            } => {
                let key = name_key(room);
                let asked = match self.pending_who.iter().position(|k| *k == key) {
                    Some(p) => {
                        self.pending_who.remove(p);
                        true
                    }
                    None => false,
                };
                // A new list replaces the old one; nobody's arrival or
                // departure is inferred from the difference.
                match self.room_tab(room) {
                    Some(i) => self.tabs[i].roster.set_list(nicks, *partial),
                    None => {
                        if !*partial {
                            self.unclaimed_rooms.remove(&key);
                        }
                        self.unclaimed_members
                            .insert(key.clone(), (nicks.clone(), *partial));
                    }
                }
                if asked && *partial {
                    // The count comes with the ROOM that follows.
                    self.who_partial = Some((key, room.clone(), nicks.clone()));
                } else if asked {
                    self.notice(format!(
                        "members of {room} ({}): {}",
                        nicks.len(),
                        member_list(nicks)
                    ));
                }
            }
            ClientEvent::Room {
                room,
                quiet,
                members,
            } => self.room_summary(room, *quiet, *members),
            ClientEvent::Rtt { micros } => self.rtt = Some(Duration::from_micros(*micros)),
            ClientEvent::ServerError { .. } | ClientEvent::Refused { .. } => {
                if let Some(text) = format::notice(event) {
                    self.error(text);
                }
            }
            ClientEvent::Disconnected { reason } => {
                self.connection = Connection::Offline(reason.clone());
                self.pending_who.clear();
                self.unclaimed_members.clear();
                self.unclaimed_rooms.clear();
                self.who_partial = None;
                for tab in &mut self.tabs {
                    if matches!(tab.kind, TabKind::Room(_)) {
                        tab.joined = false;
                        tab.roster.clear();
                    }
                }
                if let Some(text) = format::notice(event) {
                    self.global(LineKind::Error(text));
                }
            }
            ClientEvent::Reconnecting {
                attempt,
                delay_ms,
                reason,
            } => {
                self.connection = Connection::Reconnecting {
                    attempt: *attempt,
                    delay_ms: *delay_ms,
                };
                // The status bar counts attempts; the pane tells each new reason once.
                if self.last_failure.as_ref() != Some(reason) {
                    self.last_failure = Some(reason.clone());
                    if let Some(text) = format::notice(event) {
                        self.global(LineKind::Notice(text));
                    }
                }
            }
            ClientEvent::Warning { .. } => {
                if let Some(text) = format::notice(event) {
                    self.global(LineKind::Notice(text));
                }
            }
            ClientEvent::Finished => {
                self.net_ended = true;
                self.connection = Connection::Offline("closed".into());
            }
            ClientEvent::Fatal { message } => {
                self.net_ended = true;
                self.connection = Connection::Offline(message.clone());
                for tab in &mut self.tabs {
                    tab.joined = false;
                    tab.roster.clear();
                }
                if let Some(text) = format::notice(event) {
                    self.global(LineKind::Error(text));
                }
            }
            ClientEvent::Ready | ClientEvent::Barrier { .. } => {}
        }
    }

    /// Applies a ROOM summary: the tab's count and quiet state (kept for
    /// later if the tab is not open yet), a notice when a joined room turns
    /// quiet or back, and the answer to a `/who` whose partial list came
    /// just before.
    fn room_summary(&mut self, room: &str, quiet: bool, members: u32) {
        let key = name_key(room);
        if let Some((_, spelt, nicks)) = self.who_partial.take_if(|(k, _, _)| *k == key) {
            self.notice(format!(
                "members of {spelt} (partial list, {} of {}): {}",
                nicks.len(),
                thousands(u64::from(members)),
                member_list(&nicks)
            ));
        }
        let Some(i) = self.room_tab(room) else {
            self.unclaimed_rooms.insert(key, (quiet, members));
            return;
        };
        let tab = &mut self.tabs[i];
        let transition = tab.roster.summary(quiet, members);
        if !tab.joined {
            return;
        }
        let count = members_count(u64::from(members));
        match transition {
            Transition::BecameQuiet => self.notice_in(
                i,
                format!("{room} is now a quiet room ({count}): joins and leaves are not shown"),
            ),
            Transition::BecameNormal => self.notice_in(
                i,
                format!("{room} is no longer quiet ({count}): joins and leaves are shown again"),
            ),
            Transition::None => {}
        }
    }

    /// Takes the input line and turns it into a request for the network,
    /// if it makes one; local commands (help, closing a private tab) and
    /// mistakes are answered in the shown tab.
    pub fn submit(&mut self) -> Option<Request> {
        let line = self.input.take();
        let request = match command::parse(&line) {
            Err(ParseError::Empty) => return None,
            Err(e) => {
                self.error(e.to_string());
                return None;
            }
            Ok(Command::Say(text)) => match &self.active_tab().kind {
                TabKind::Room(room) => Request::Say {
                    room: room.clone(),
                    text,
                },
                TabKind::Private(to) => Request::Whisper {
                    to: to.clone(),
                    text,
                },
                TabKind::Status => {
                    self.error("this tab is not a room: /join ROOM, or switch tabs with Tab");
                    return None;
                }
            },
            Ok(Command::Join(room)) => {
                if let Some(i) = self.room_tab(&room) {
                    self.select(i);
                }
                Request::Join(room)
            }
            Ok(Command::Part(Some(room))) => Request::Part(room),
            Ok(Command::Part(None)) => match &self.active_tab().kind {
                TabKind::Room(room) => Request::Part(room.clone()),
                TabKind::Private(_) => {
                    self.close(self.active);
                    return None;
                }
                TabKind::Status => {
                    self.error("this tab is not a room: /part ROOM");
                    return None;
                }
            },
            Ok(Command::Msg { to, text }) => {
                let (i, _) = self.open(TabKind::Private(to.clone()));
                self.select(i);
                Request::Whisper { to, text }
            }
            Ok(Command::Who(room)) => {
                let room = match (room, &self.active_tab().kind) {
                    (Some(r), _) => r,
                    (None, TabKind::Room(r)) => r.clone(),
                    (None, _) => {
                        self.error("this tab is not a room: /who ROOM");
                        return None;
                    }
                };
                self.pending_who.push(name_key(&room));
                Request::Who(room)
            }
            Ok(Command::Quit) => {
                self.quitting = true;
                Request::Quit
            }
            Ok(Command::Help) => {
                for line in HELP.iter().chain(KEYS_HELP) {
                    self.notice(*line);
                }
                return None;
            }
        };
        if self.net_ended && request != Request::Quit {
            self.error("not connected; not sent");
            return None;
        }
        // Checked here too (the network side checks again) so that a refusal
        // shows at once, in order with local notices.
        if let Err(refusal) = request.check(&self.nick, self.max_payload) {
            self.error(format!("error: {refusal}"));
            return None;
        }
        Some(request)
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
