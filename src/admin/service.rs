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
//! a bounded number of the largest rooms.

use subtle::ConstantTimeEq;

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
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::admin::proto::{AdminResponse, ListPage};
    use crate::codec::names_equal;
    use crate::core::observe::{CloseReason, ConnChange};

    /// An engine stand-in: connections in a map, kicks recorded, rooms
    /// as (name, members, quiet).
    #[derive(Default)]
    struct Fake {
        conns: BTreeMap<u64, ConnInfo>,
        kicked: Vec<(String, String)>,
        rooms: Vec<(String, u64, bool)>,
    }

    impl Fake {
        fn with(n_waiting: u64, n_connected: u64) -> Self {
            let mut f = Fake::default();
            for id in 1..=n_waiting + n_connected {
                let connected = id > n_waiting;
                f.conns.insert(
                    id,
                    ConnInfo {
                        id,
                        peer: format!("127.0.0.1:{}", 2000 + id).parse().unwrap(),
                        nick: connected.then(|| format!("user{id}")),
                        state: if connected {
                            ConnState::Connected
                        } else {
                            ConnState::Waiting
                        },
                        rooms: if connected {
                            vec!["lobby".into()]
                        } else {
                            vec![]
                        },
                        accepted_ms: id,
                        connected_ms: connected.then_some(id + 1),
                        bytes_in: 0,
                        bytes_out: 0,
                        queued: 0,
                    },
                );
            }
            f
        }
    }

    impl AdminSource for Fake {
        fn counters(&self) -> Counters {
            Counters {
                waiting: self
                    .conns
                    .values()
                    .filter(|c| c.state == ConnState::Waiting)
                    .count() as u64,
                connected: self
                    .conns
                    .values()
                    .filter(|c| c.state == ConnState::Connected)
                    .count() as u64,
                messages: 42,
                errors: vec![0; 21],
                ..Counters::default()
            }
        }

        fn list_page(
            &self,
            state: ConnState,
            after_id: u64,
            limit: usize,
        ) -> (Vec<ConnInfo>, bool) {
            let mut it = self
                .conns
                .range(after_id + 1..)
                .map(|(_, c)| c)
                .filter(|c| c.state == state);
            let page: Vec<ConnInfo> = it.by_ref().take(limit).cloned().collect();
            (page, it.next().is_some())
        }

        fn kick(&mut self, nick: &str, reason: &str) -> bool {
            let id = self
                .conns
                .values()
                .find(|c| c.nick.as_deref().is_some_and(|n| names_equal(n, nick)))
                .map(|c| c.id);
            match id {
                Some(id) => {
                    self.conns.remove(&id);
                    self.kicked.push((nick.into(), reason.into()));
                    true
                }
                None => false,
            }
        }

        fn rooms(&self, limit: usize) -> RoomsPage {
            let mut all = self.rooms.clone();
            all.sort_by_key(|r| std::cmp::Reverse(r.1));
            RoomsPage {
                rooms: all.len() as u64,
                quiet_rooms: all.iter().filter(|r| r.2).count() as u64,
                more: all.len() > limit,
                // Hands back one more than asked: the session must cut it.
                entries: all
                    .into_iter()
                    .take(limit + 1)
                    .map(|(name, members, quiet)| crate::core::observe::RoomInfo {
                        name,
                        members,
                        quiet,
                    })
                    .collect(),
            }
        }
    }

    fn send(s: &mut AdminSession, req: AdminRequest<'_>) {
        let mut b = Vec::new();
        req.encode(&mut b).unwrap();
        s.receive(&b);
    }

    fn drain(s: &mut AdminSession) -> Vec<AdminResponse> {
        let mut out = Vec::new();
        FrameDecoder::new(ADMIN_MAX_PAYLOAD).decode_all(s.output(), |e| match e {
            Event::Frame(p) => out.push(AdminResponse::decode(p).unwrap()),
            Event::Error(e) => panic!("framing error {e}"),
        });
        let n = s.output().len();
        s.consume(n);
        out
    }

    fn run(s: &mut AdminSession, src: &mut Fake, auth: &AdminAuth) -> Vec<AdminResponse> {
        while s.process(src, auth, &Rates::default()) {}
        drain(s)
    }

    fn error_code(r: &AdminResponse) -> Option<AdminErrorCode> {
        match r {
            AdminResponse::Error { code, .. } => AdminErrorCode::from_u16(*code),
            _ => None,
        }
    }

    #[test]
    fn without_a_token_requests_need_no_auth() {
        let auth = AdminAuth::new(None);
        let mut src = Fake::with(2, 3);
        let mut s = AdminSession::new(&auth);
        assert!(s.is_authenticated());
        send(&mut s, AdminRequest::Counters);
        let r = run(&mut s, &mut src, &auth);
        let [AdminResponse::Counters(snap)] = &r[..] else {
            panic!("{r:?}")
        };
        assert_eq!(snap.counters.waiting, 2);
        assert_eq!(snap.counters.connected, 3);
        assert_eq!(snap.counters.messages, 42);
        // An AUTH with any token is still accepted.
        send(
            &mut s,
            AdminRequest::Auth {
                version: ADMIN_VERSION,
                token: "whatever",
            },
        );
        assert_eq!(
            run(&mut s, &mut src, &auth),
            vec![AdminResponse::Ok {
                request: admin_type::AUTH
            }]
        );
    }

    #[test]
    fn with_a_token_auth_must_come_first_and_match() {
        let auth = AdminAuth::new(Some("s3cret"));
        let mut src = Fake::with(1, 1);

        let mut s = AdminSession::new(&auth);
        send(&mut s, AdminRequest::Counters);
        send(&mut s, AdminRequest::Counters);
        let r = run(&mut s, &mut src, &auth);
        assert_eq!(r.len(), 1, "nothing is answered after the closing error");
        assert_eq!(error_code(&r[0]), Some(AdminErrorCode::AuthRequired));
        assert!(s.is_closing());
        assert!(!s.wants_read());

        let mut s = AdminSession::new(&auth);
        send(
            &mut s,
            AdminRequest::Auth {
                version: ADMIN_VERSION,
                token: "s3creT",
            },
        );
        let r = run(&mut s, &mut src, &auth);
        assert_eq!(error_code(&r[0]), Some(AdminErrorCode::AuthFailed));
        assert!(s.is_closing());

        let mut s = AdminSession::new(&auth);
        send(
            &mut s,
            AdminRequest::Auth {
                version: 9,
                token: "s3cret",
            },
        );
        let r = run(&mut s, &mut src, &auth);
        assert_eq!(error_code(&r[0]), Some(AdminErrorCode::BadVersion));

        let mut s = AdminSession::new(&auth);
        // A malformed AUTH is answered but does not end the session.
        s.receive(&{
            let mut b = Vec::new();
            crate::codec::encode_frame(&mut b, &[admin_type::AUTH, 1]).unwrap();
            b
        });
        let r = run(&mut s, &mut src, &auth);
        assert_eq!(error_code(&r[0]), Some(AdminErrorCode::Malformed));
        assert!(!s.is_closing());
        send(
            &mut s,
            AdminRequest::Auth {
                version: ADMIN_VERSION,
                token: "s3cret",
            },
        );
        send(&mut s, AdminRequest::Counters);
        let r = run(&mut s, &mut src, &auth);
        assert_eq!(
            r[0],
            AdminResponse::Ok {
                request: admin_type::AUTH
            }
        );
        assert!(matches!(r[1], AdminResponse::Counters(_)));
    }

    #[test]
    fn counters_carry_the_rates_given() {
        let auth = AdminAuth::default();
        let mut src = Fake::default();
        let mut s = AdminSession::new(&auth);
        send(&mut s, AdminRequest::Counters);
        let rates = Rates {
            interval_ms: 1000,
            messages: 17,
            ..Rates::default()
        };
        assert!(!s.process(&mut src, &auth, &rates));
        let r = drain(&mut s);
        let [AdminResponse::Counters(snap)] = &r[..] else {
            panic!("{r:?}")
        };
        assert_eq!(snap.rates, rates);
    }

    #[test]
    fn paging_covers_every_connection_once() {
        let auth = AdminAuth::default();
        let mut src = Fake::with(37, 2500);
        let mut s = AdminSession::new(&auth);
        for (state, expect) in [(ConnState::Waiting, 37), (ConnState::Connected, 2500)] {
            let mut after = 0;
            let mut ids = Vec::new();
            loop {
                send(
                    &mut s,
                    AdminRequest::List {
                        state,
                        after_id: after,
                        limit: 7000, // clamped to MAX_LIST_LIMIT
                    },
                );
                let r = run(&mut s, &mut src, &auth);
                let [
                    AdminResponse::List(ListPage {
                        state: st,
                        more,
                        next_after,
                        entries,
                        ..
                    }),
                ] = &r[..]
                else {
                    panic!("{r:?}")
                };
                assert_eq!(*st, state);
                assert!(entries.len() <= usize::from(MAX_LIST_LIMIT));
                assert!(entries.iter().all(|e| e.state == state));
                ids.extend(entries.iter().map(|e| e.id));
                after = *next_after;
                if !more {
                    break;
                }
            }
            assert_eq!(ids.len(), expect);
            assert!(ids.windows(2).all(|w| w[0] < w[1]));
        }
        // An empty list: one empty page, no `more`.
        send(
            &mut s,
            AdminRequest::List {
                state: ConnState::Closing,
                after_id: 5,
                limit: 0,
            },
        );
        let r = run(&mut s, &mut src, &auth);
        assert_eq!(
            r,
            vec![AdminResponse::List(ListPage {
                state: ConnState::Closing,
                more: false,
                next_after: 5,
                entries: vec![],
                rooms_truncated: vec![],
            })]
        );
    }

    #[test]
    fn pipelined_requests_are_answered_in_bounded_slices() {
        let auth = AdminAuth::default();
        let mut src = Fake::with(0, 3000);
        let mut s = AdminSession::new(&auth);
        for _ in 0..10 {
            send(
                &mut s,
                AdminRequest::List {
                    state: ConnState::Connected,
                    after_id: 0,
                    limit: MAX_LIST_LIMIT,
                },
            );
        }
        let mut calls = 0;
        let mut pages = 0;
        loop {
            calls += 1;
            let more = s.process(&mut src, &auth, &Rates::default());
            let r = drain(&mut s);
            // Each call lists at most WORK_BUDGET connections.
            let listed: usize = r
                .iter()
                .map(|x| match x {
                    AdminResponse::List(p) => p.entries.len(),
                    _ => 0,
                })
                .sum();
            assert!(listed <= WORK_BUDGET, "{listed}");
            pages += r.len();
            if !more {
                break;
            }
        }
        assert_eq!(pages, 10);
        assert!(calls >= 5);
    }

    #[test]
    fn backlog_pauses_answers_until_drained() {
        let auth = AdminAuth::default();
        let mut src = Fake::with(0, 1000);
        let mut s = AdminSession::new(&auth);
        for _ in 0..200 {
            send(
                &mut s,
                AdminRequest::List {
                    state: ConnState::Connected,
                    after_id: 0,
                    limit: MAX_LIST_LIMIT,
                },
            );
        }
        // Without draining, answers stop once the backlog passes the soft limit.
        let mut calls = 0;
        loop {
            let before = s.output().len();
            assert!(s.process(&mut src, &auth, &Rates::default()));
            calls += 1;
            if s.output().len() == before {
                break;
            }
            assert!(calls < 100);
        }
        assert!(s.output().len() >= OUT_SOFT_LIMIT);
        assert!(!s.wants_read());
        assert!(s.has_input());
        // Draining lets the rest through.
        let mut pages = drain(&mut s).len();
        while s.process(&mut src, &auth, &Rates::default()) {
            pages += drain(&mut s).len();
        }
        pages += drain(&mut s).len();
        assert_eq!(pages, 200);
        assert!(!s.has_input());
    }

    #[test]
    fn subscribers_get_every_event_in_order_until_unsubscribed() {
        let auth = AdminAuth::default();
        let mut src = Fake::default();
        let mut s = AdminSession::new(&auth);
        let ev = |id: u64, change: ConnChange| ConnEvent {
            id,
            peer: "127.0.0.1:9".parse().unwrap(),
            nick: (change != ConnChange::Accepted).then(|| "dave".into()),
            change,
            time_ms: id,
        };
        s.push_event(&ev(1, ConnChange::Accepted));
        assert!(!s.has_output(), "not subscribed yet");
        send(&mut s, AdminRequest::Subscribe);
        let r = run(&mut s, &mut src, &auth);
        assert_eq!(
            r,
            vec![AdminResponse::Ok {
                request: admin_type::SUBSCRIBE
            }]
        );
        assert!(s.is_subscribed());
        let evs = [
            ev(2, ConnChange::Accepted),
            ev(2, ConnChange::Registered),
            ev(3, ConnChange::Accepted),
            ev(2, ConnChange::Closed(CloseReason::Error(20))),
            ev(3, ConnChange::Closed(CloseReason::PeerClosed)),
        ];
        for e in &evs {
            s.push_event(e);
        }
        let got = drain(&mut s);
        let want: Vec<AdminResponse> = evs.iter().cloned().map(AdminResponse::Event).collect();
        assert_eq!(got, want);
        send(&mut s, AdminRequest::Unsubscribe);
        run(&mut s, &mut src, &auth);
        s.push_event(&ev(4, ConnChange::Accepted));
        assert!(!s.has_output());
    }

    #[test]
    fn a_subscriber_that_never_reads_is_closed_as_slow() {
        let auth = AdminAuth::default();
        let mut src = Fake::default();
        let mut s = AdminSession::new(&auth);
        send(&mut s, AdminRequest::Subscribe);
        s.process(&mut src, &auth, &Rates::default());
        let e = ConnEvent {
            id: 1,
            peer: "127.0.0.1:9".parse().unwrap(),
            nick: None,
            change: ConnChange::Accepted,
            time_ms: 0,
        };
        let mut pushed = 0;
        while !s.is_closing() {
            s.push_event(&e);
            pushed += 1;
            assert!(pushed < 2_000_000);
        }
        let r = drain(&mut s);
        assert_eq!(
            error_code(r.last().unwrap()),
            Some(AdminErrorCode::SlowConsumer)
        );
        assert!(!s.is_subscribed());
        s.push_event(&e);
        assert!(!s.has_output());
    }

    #[test]
    fn kick_reports_whether_the_nick_was_found() {
        let auth = AdminAuth::default();
        let mut src = Fake::with(1, 2);
        let mut s = AdminSession::new(&auth);
        let long = "é".repeat(300);
        send(
            &mut s,
            AdminRequest::Kick {
                nick: "USER2",
                reason: &long,
            },
        );
        send(
            &mut s,
            AdminRequest::Kick {
                nick: "ghost",
                reason: "",
            },
        );
        send(
            &mut s,
            AdminRequest::Kick {
                nick: "user3",
                reason: "",
            },
        );
        let r = run(&mut s, &mut src, &auth);
        assert_eq!(
            r,
            vec![
                AdminResponse::Kicked {
                    nick: "USER2".into(),
                    found: true
                },
                AdminResponse::Kicked {
                    nick: "ghost".into(),
                    found: false
                },
                AdminResponse::Kicked {
                    nick: "user3".into(),
                    found: true
                },
            ]
        );
        assert_eq!(src.kicked[0].1.len(), MAX_KICK_REASON);
        assert_eq!(src.kicked[1].1, DEFAULT_KICK_REASON);
    }

    #[test]
    fn unknown_and_malformed_requests_keep_the_session() {
        let auth = AdminAuth::default();
        let mut src = Fake::default();
        let mut s = AdminSession::new(&auth);
        let mut b = Vec::new();
        crate::codec::encode_frame(&mut b, &[0x5f]).unwrap();
        crate::codec::encode_frame(&mut b, &[0x01, 1, 1, b'a', 0]).unwrap();
        crate::codec::encode_frame(&mut b, &[admin_type::COUNTERS, 0]).unwrap();
        s.receive(&b);
        send(&mut s, AdminRequest::Counters);
        let r = run(&mut s, &mut src, &auth);
        assert_eq!(error_code(&r[0]), Some(AdminErrorCode::UnknownType));
        assert_eq!(error_code(&r[1]), Some(AdminErrorCode::UnknownType));
        assert_eq!(error_code(&r[2]), Some(AdminErrorCode::Malformed));
        assert!(matches!(r[3], AdminResponse::Counters(_)));
        assert!(!s.is_closing());
    }

    #[test]
    fn a_framing_error_closes_and_later_input_is_ignored() {
        let auth = AdminAuth::default();
        let mut src = Fake::default();
        let mut s = AdminSession::new(&auth);
        // A request split over two reads still works.
        let mut b = Vec::new();
        AdminRequest::Counters.encode(&mut b).unwrap();
        s.receive(&b[..4]);
        assert!(run(&mut s, &mut src, &auth).is_empty());
        s.receive(&b[4..]);
        assert_eq!(run(&mut s, &mut src, &auth).len(), 1);
        s.receive(&[0x02, 0, 1, 0x41, 0, 0, 0, 0, 0x03]);
        send(&mut s, AdminRequest::Counters);
        let r = run(&mut s, &mut src, &auth);
        assert_eq!(r.len(), 1);
        assert_eq!(error_code(&r[0]), Some(AdminErrorCode::BadFrame));
        assert!(s.is_closing());
        send(&mut s, AdminRequest::Counters);
        assert!(!s.has_input());
        assert!(run(&mut s, &mut src, &auth).is_empty());
    }

    #[test]
    fn shutdown_sends_its_error_once() {
        let auth = AdminAuth::default();
        let mut s = AdminSession::new(&auth);
        s.shutdown();
        s.shutdown();
        let r = drain(&mut s);
        assert_eq!(r.len(), 1);
        assert_eq!(error_code(&r[0]), Some(AdminErrorCode::ShuttingDown));
        assert!(s.is_closing());
    }

    #[test]
    fn rooms_are_listed_largest_first_within_the_limit() {
        let auth = AdminAuth::new(None);
        let mut src = Fake::with(0, 0);
        src.rooms = vec![
            ("dev".into(), 3, false),
            ("lobby".into(), 19_342, true),
            ("ops".into(), 7, false),
        ];
        let mut s = AdminSession::new(&auth);
        send(&mut s, AdminRequest::Rooms { limit: 2 });
        send(&mut s, AdminRequest::Rooms { limit: 0 });
        let got = run(&mut s, &mut src, &auth);
        let [AdminResponse::Rooms(two), AdminResponse::Rooms(one)] = &got[..] else {
            panic!("two ROOMS answers expected: {got:?}");
        };
        assert_eq!((two.rooms, two.quiet_rooms, two.more), (3, 1, true));
        let names: Vec<&str> = two.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["lobby", "ops"]);
        assert!(two.entries[0].quiet && two.entries[0].members == 19_342);
        // A limit of 0 is raised to 1.
        assert_eq!(one.entries.len(), 1);
        assert!(one.more);
    }
}
