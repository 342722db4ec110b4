//! The sans-IO admin session: bytes in, requests answered from an
//! [`AdminSource`], bytes out.
//!
//! One [`AdminSession`] per admin connection. The driver appends what it
//! reads with [`AdminSession::receive`], calls [`AdminSession::process`]
//! (which answers at most a bounded amount of work per call, so a client
//! pipelining many requests cannot hold the event loop), writes
//! [`AdminSession::output`] to the socket and reports what the socket took
//! with [`AdminSession::consume`]. Connection state changes reach
//! subscribed sessions through [`AdminSession::push_event`].
//!
//! No request does work proportional to the number of connections beyond
//! what it returns: COUNTERS reads maintained totals, LIST asks the source
//! for one bounded page, KICK looks one nick up, ROOMS asks the source for
//! a bounded number of the largest rooms, NODES reads the node list the
//! relay last reported.

use subtle::ConstantTimeEq;

use crate::admin::nodes::{MAX_NODES_LIMIT, NodesPage, encode_nodes};
use crate::admin::proto::{
    ADMIN_MAX_PAYLOAD, ADMIN_VERSION, AdminErrorCode, AdminRequest, MAX_KICK_REASON,
    MAX_LIST_LIMIT, MIN_LIST_PAYLOAD, Snapshot, admin_type, encode_error, encode_event,
    encode_kicked, encode_list_page, encode_ok, encode_snapshot, truncate_str,
};
use crate::admin::rates::Rates;
use crate::admin::rooms::{MAX_ROOMS_LIMIT, RoomsPage, encode_rooms};
use crate::codec::{Event, FrameDecoder, MessageError};
use crate::core::observe::{ConnEvent, ConnInfo, ConnState, Counters};

// A LIST page always holds at least one entry.
const _: () = assert!(ADMIN_MAX_PAYLOAD >= MIN_LIST_PAYLOAD);

/// What the admin channel needs from the chat engine.
pub trait AdminSource {
    /// The current counters (maintained incrementally: O(1)).
    fn counters(&self) -> Counters;

    /// Up to `limit` connections in `state` with an id above `after_id`, in
    /// increasing id order, and whether more such connections exist.
    /// Must cost O(limit + log n), not O(n).
    fn list_page(&self, state: ConnState, after_id: u64, limit: usize) -> (Vec<ConnInfo>, bool);

    /// Closes the registered client with this nick (ASCII case-insensitive)
    /// with ERROR kicked carrying `reason`, its rooms seeing LEFT reason 6.
    /// Returns whether such a client was found.
    fn kick(&mut self, nick: &str, reason: &str) -> bool;

    /// The `limit` largest rooms, largest first, with the number of rooms
    /// and of quiet rooms, and whether more rooms exist than listed.
    fn rooms(&self, limit: usize) -> RoomsPage;

    /// This node's name and at most `limit` of the cluster's live nodes
    /// (none when the server runs alone).
    fn nodes(&self, limit: usize) -> NodesPage;
}

/// The admin channel's access rule.
#[derive(Clone, Default)]
pub struct AdminAuth {
    token: Option<String>,
}

impl std::fmt::Debug for AdminAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminAuth")
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .finish()
    }
}

impl AdminAuth {
    /// Access with `token` required (none, or empty: no token required).
    pub fn new(token: Option<&str>) -> Self {
        AdminAuth {
            token: token.filter(|t| !t.is_empty()).map(str::to_owned),
        }
    }

    /// Whether sessions must AUTH before anything else.
    pub fn required(&self) -> bool {
        self.token.is_some()
    }

    /// Whether `given` is accepted (compared in constant time for equal lengths).
    pub fn accepts(&self, given: &str) -> bool {
        match &self.token {
            None => true,
            Some(t) => bool::from(t.as_bytes().ct_eq(given.as_bytes())),
        }
    }
}

/// The most unprocessed input a session holds before the driver stops reading it.
pub const INBOX_LIMIT: usize = 64 * 1024;

/// Pending output above which a session stops answering requests until it drains.
pub const OUT_SOFT_LIMIT: usize = 1024 * 1024;

/// Pending output above which a subscriber is closed as a slow consumer.
pub const OUT_HARD_LIMIT: usize = 16 * 1024 * 1024;

/// Work one [`AdminSession::process`] call may do: one unit per request
/// plus one per listed connection.
pub const WORK_BUDGET: usize = 2 * MAX_LIST_LIMIT as usize;

/// The kick reason used when the operator gave none.
pub const DEFAULT_KICK_REASON: &str = "kicked by an operator";

/// Session state apart from its input buffer (split so the decoder's
/// borrowed frame can be handled while the state is updated).
#[derive(Debug)]
struct State {
    out: Vec<u8>,
    out_pos: usize,
    authed: bool,
    subscribed: bool,
    closing: bool,
}

impl State {
    fn pending(&self) -> usize {
        self.out.len() - self.out_pos
    }

    fn fail(&mut self, code: AdminErrorCode, detail: &str) {
        encode_error(&mut self.out, code, detail);
        if code.closes() {
            self.closing = true;
            self.subscribed = false;
        }
    }

    /// Answers one request payload; returns the work it cost.
    fn handle<S: AdminSource + ?Sized>(
        &mut self,
        payload: &[u8],
        source: &mut S,
        auth: &AdminAuth,
        rates: &Rates,
    ) -> usize {
        let req = match AdminRequest::decode(payload) {
            Ok(req) => req,
            Err(_) if !self.authed && payload.first() != Some(&admin_type::AUTH) => {
                self.fail(AdminErrorCode::AuthRequired, "send AUTH first");
                return 1;
            }
            Err(MessageError::Malformed) => {
                self.fail(AdminErrorCode::Malformed, "malformed admin request");
                return 1;
            }
            Err(MessageError::UnknownType(t)) => {
                self.fail(
                    AdminErrorCode::UnknownType,
                    &format!("unknown admin request type 0x{t:02x}"),
                );
                return 1;
            }
        };
        if !self.authed && !matches!(req, AdminRequest::Auth { .. }) {
            self.fail(AdminErrorCode::AuthRequired, "send AUTH first");
            return 1;
        }
        match req {
            AdminRequest::Auth { version, token } => {
                if version != ADMIN_VERSION {
                    self.fail(
                        AdminErrorCode::BadVersion,
                        &format!("admin version {version} unsupported (this server speaks {ADMIN_VERSION})"),
                    );
                } else if auth.accepts(token) {
                    self.authed = true;
                    encode_ok(&mut self.out, admin_type::AUTH);
                } else {
                    self.fail(AdminErrorCode::AuthFailed, "wrong admin token");
                }
                1
            }
            AdminRequest::Counters => {
                let snap = Snapshot {
                    counters: source.counters(),
                    rates: rates.clone(),
                };
                encode_snapshot(&mut self.out, &snap);
                1
            }
            AdminRequest::List {
                state,
                after_id,
                limit,
            } => {
                let limit = usize::from(limit.clamp(1, MAX_LIST_LIMIT));
                let (entries, more) = source.list_page(state, after_id, limit);
                let entries = &entries[..entries.len().min(limit)];
                // Cannot fail: ADMIN_MAX_PAYLOAD >= MIN_LIST_PAYLOAD (checked above).
                let _ = encode_list_page(
                    &mut self.out,
                    state,
                    after_id,
                    entries,
                    more,
                    ADMIN_MAX_PAYLOAD,
                );
                1 + entries.len()
            }
            AdminRequest::Subscribe => {
                self.subscribed = true;
                encode_ok(&mut self.out, admin_type::SUBSCRIBE);
                1
            }
            AdminRequest::Unsubscribe => {
                self.subscribed = false;
                encode_ok(&mut self.out, admin_type::UNSUBSCRIBE);
                1
            }
            AdminRequest::Kick { nick, reason } => {
                let reason = truncate_str(reason, MAX_KICK_REASON);
                let reason = if reason.is_empty() {
                    DEFAULT_KICK_REASON
                } else {
                    reason
                };
                let found = source.kick(nick, reason);
                encode_kicked(&mut self.out, nick, found);
                1
            }
            AdminRequest::Rooms { limit } => {
                let limit = usize::from(limit.clamp(1, MAX_ROOMS_LIMIT));
                let mut page = source.rooms(limit);
                if page.entries.len() > limit {
                    page.entries.truncate(limit);
                    page.more = true;
                }
                encode_rooms(&mut self.out, &page);
                1 + page.entries.len()
            }
            AdminRequest::Nodes { limit } => {
                let limit = usize::from(limit.clamp(1, MAX_NODES_LIMIT));
                let mut page = source.nodes(limit);
                if page.entries.len() > limit {
                    page.entries.truncate(limit);
                    page.more = true;
                }
                encode_nodes(&mut self.out, &page);
                1 + page.entries.len()
            }
        }
    }
}

/// One admin connection's protocol state.
#[derive(Debug)]
pub struct AdminSession {
    decoder: FrameDecoder,
    inbox: Vec<u8>,
    in_pos: usize,
    st: State,
}

impl AdminSession {
    /// A new session; it must AUTH first when `auth` requires a token.
    pub fn new(auth: &AdminAuth) -> Self {
        AdminSession {
            decoder: FrameDecoder::new(ADMIN_MAX_PAYLOAD),
            inbox: Vec::new(),
            in_pos: 0,
            st: State {
                out: Vec::new(),
                out_pos: 0,
                authed: !auth.required(),
                subscribed: false,
                closing: false,
            },
        }
    }

    /// Whether the driver should read more from the socket now.
    pub fn wants_read(&self) -> bool {
        !self.st.closing
            && self.inbox.len() - self.in_pos < INBOX_LIMIT
            && self.st.pending() < OUT_SOFT_LIMIT
    }

    /// Appends bytes read from the socket (ignored once closing).
    pub fn receive(&mut self, bytes: &[u8]) {
        if self.st.closing {
            return;
        }
        if self.in_pos == self.inbox.len() {
            self.inbox.clear();
            self.in_pos = 0;
        } else if self.in_pos > INBOX_LIMIT {
            self.inbox.drain(..self.in_pos);
            self.in_pos = 0;
        }
        self.inbox.extend_from_slice(bytes);
    }

    /// Whether received input is waiting for [`AdminSession::process`].
    pub fn has_input(&self) -> bool {
        !self.st.closing && self.in_pos < self.inbox.len()
    }

    /// Whether [`AdminSession::process`] would answer something now: input
    /// is waiting and the output backlog is under [`OUT_SOFT_LIMIT`].
    pub fn has_work(&self) -> bool {
        self.has_input() && self.st.pending() < OUT_SOFT_LIMIT
    }

    /// Answers received requests, at most [`WORK_BUDGET`] units of work and
    /// none while the output backlog is over [`OUT_SOFT_LIMIT`]. Returns
    /// whether input is left for a later call.
    pub fn process<S: AdminSource + ?Sized>(
        &mut self,
        source: &mut S,
        auth: &AdminAuth,
        rates: &Rates,
    ) -> bool {
        let mut budget = WORK_BUDGET;
        while !self.st.closing && self.in_pos < self.inbox.len() {
            if budget == 0 || self.st.pending() >= OUT_SOFT_LIMIT {
                return true;
            }
            let (used, event) = self.decoder.decode(&self.inbox[self.in_pos..]);
            match event {
                None => self.in_pos += used,
                Some(Event::Frame(payload)) => {
                    let cost = self.st.handle(payload, source, auth, rates);
                    budget = budget.saturating_sub(cost);
                    self.in_pos += used;
                }
                Some(Event::Error(kind)) => {
                    self.st
                        .fail(AdminErrorCode::BadFrame, &format!("framing error: {kind}"));
                }
            }
        }
        if self.in_pos >= self.inbox.len() || self.st.closing {
            self.inbox = Vec::new();
            self.in_pos = 0;
        }
        false
    }

    /// Pushes a state change if subscribed; a subscriber whose backlog is
    /// over [`OUT_HARD_LIMIT`] is closed with ERROR slow_consumer instead.
    pub fn push_event(&mut self, ev: &ConnEvent) {
        if !self.st.subscribed || self.st.closing {
            return;
        }
        if self.st.pending() > OUT_HARD_LIMIT {
            self.st.fail(
                AdminErrorCode::SlowConsumer,
                "subscriber too slow to read its events",
            );
            return;
        }
        encode_event(&mut self.st.out, ev);
    }

    /// Closes the session with ERROR shutting_down (the server is stopping).
    pub fn shutdown(&mut self) {
        if !self.st.closing {
            self.st
                .fail(AdminErrorCode::ShuttingDown, "the server is shutting down");
        }
    }

    /// Bytes waiting to be written to the socket.
    pub fn output(&self) -> &[u8] {
        &self.st.out[self.st.out_pos..]
    }

    /// Whether any bytes wait to be written.
    pub fn has_output(&self) -> bool {
        self.st.pending() > 0
    }

    /// Marks `n` bytes of [`AdminSession::output`] as written.
    pub fn consume(&mut self, n: usize) {
        self.st.out_pos = (self.st.out_pos + n).min(self.st.out.len());
        if self.st.out_pos == self.st.out.len() {
            self.st.out.clear();
            self.st.out_pos = 0;
            if self.st.out.capacity() > 64 * 1024 {
                self.st.out = Vec::new();
            }
        }
    }

    /// Whether the session has ended: the driver closes the socket once the
    /// output is written (or after a short deadline).
    pub fn is_closing(&self) -> bool {
        self.st.closing
    }

    /// Whether state changes are pushed to this session.
    pub fn is_subscribed(&self) -> bool {
        self.st.subscribed
    }

    /// Whether the session may send requests other than AUTH.
    pub fn is_authenticated(&self) -> bool {
        self.st.authed
    }
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
