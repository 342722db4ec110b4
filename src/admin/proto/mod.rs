//! The admin channel's wire messages (documented byte by byte in
//! `docs/ADMIN.md`).
//!
//! The admin channel uses the chat protocol's framing (STX, LEN, PAYLOAD,
//! CRC-32, ETX) and field encodings; its type bytes are the ranges the chat
//! protocol reserves: 0x40–0x5F for requests (operator to server) and
//! 0xC0–0xDF for responses and pushed events (server to operator).
//!
//! Requests are small and borrow their strings from the payload; responses
//! are owned values because they carry lists. The server side encodes
//! responses straight from its own data with the `encode_*` functions, so
//! it never builds an [`AdminResponse`] just to send it.
//!
//! One file per answer kind: [`counters`] (COUNTERS), [`list`] (LIST),
//! [`event`] (pushed EVENTs); ROOMS is `crate::admin::rooms`, NODES
//! `crate::admin::nodes`. This file holds the type bytes, the error codes,
//! the requests and the dispatch over answers.

pub mod counters;
pub mod event;
pub mod list;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_answers;

use serde::{Deserialize, Serialize};

use crate::admin::nodes::{NodesPage, decode_nodes, encode_nodes};
use crate::admin::rooms::{RoomsPage, decode_rooms, encode_rooms};
use crate::codec::frame::{begin_frame, end_frame};
use crate::codec::message::frame_with;
use crate::codec::wire::{Reader, put_str8, put_str16, put_u16, put_u64};
use crate::codec::{EncodeError, MessageError};
use crate::core::observe::{ConnEvent, ConnState};

pub use counters::{Snapshot, decode_snapshot, encode_snapshot};
pub use event::{decode_event, encode_event};
pub use list::{ListPage, MIN_LIST_PAYLOAD, decode_list_page, encode_list_page};

/// Version of the admin protocol, sent in AUTH.
pub const ADMIN_VERSION: u8 = 1;

/// The payload limit of admin frames, both directions.
pub const ADMIN_MAX_PAYLOAD: usize = 65535;

/// The most connections one LIST request returns (larger limits are lowered).
pub const MAX_LIST_LIMIT: u16 = 1000;

/// The longest kick reason passed on (longer ones are cut at a character
/// boundary), so that the kicked client's ERROR fits any chat `max_payload`.
pub const MAX_KICK_REASON: usize = 200;

/// Admin type bytes.
pub mod admin_type {
    /// Request: authenticate (`u8 version, str8 token`).
    pub const AUTH: u8 = 0x40;
    /// Request: a counters snapshot.
    pub const COUNTERS: u8 = 0x41;
    /// Request: one page of connections in one state.
    pub const LIST: u8 = 0x42;
    /// Request: push connection state changes from now on.
    pub const SUBSCRIBE: u8 = 0x43;
    /// Request: stop pushing state changes.
    pub const UNSUBSCRIBE: u8 = 0x44;
    /// Request: remove a registered client by nick.
    pub const KICK: u8 = 0x45;
    /// Request: the largest rooms (`u16 limit`).
    pub const ROOMS: u8 = 0x46;
    /// Request: this node's name and the cluster's nodes (`u16 limit`).
    pub const NODES: u8 = 0x47;
    /// Response: the request (AUTH, SUBSCRIBE, UNSUBSCRIBE) succeeded.
    pub const OK: u8 = 0xC0;
    /// Response: counters and rates.
    pub const COUNTERS_SNAPSHOT: u8 = 0xC1;
    /// Response: one page of connections.
    pub const LIST_PAGE: u8 = 0xC2;
    /// Push: one connection state change.
    pub const EVENT: u8 = 0xC3;
    /// Response: the result of a KICK.
    pub const KICKED: u8 = 0xC4;
    /// Response: an admin error.
    pub const ERROR: u8 = 0xC5;
    /// Response: the largest rooms and the room totals.
    pub const ROOMS_PAGE: u8 = 0xC6;
    /// Response: this node's name and the cluster's nodes.
    pub const NODES_PAGE: u8 = 0xC7;
}

/// Admin error codes (their own numbering, separate from the chat codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u16)]
pub enum AdminErrorCode {
    /// A framing error; closes.
    BadFrame = 1,
    /// Bytes missing or left over, bad lengths, bad UTF-8, a bad state byte.
    Malformed = 2,
    /// A type byte that is not an admin request.
    UnknownType = 3,
    /// A request other than AUTH before authenticating; closes.
    AuthRequired = 4,
    /// AUTH with a wrong token; closes.
    AuthFailed = 5,
    /// AUTH with an unsupported admin version; closes.
    BadVersion = 6,
    /// A subscriber that does not read its events fast enough; closes.
    SlowConsumer = 7,
    /// The server is shutting down; closes.
    ShuttingDown = 8,
}

impl AdminErrorCode {
    /// Every code, in numeric order.
    pub const ALL: [AdminErrorCode; 8] = [
        AdminErrorCode::BadFrame,
        AdminErrorCode::Malformed,
        AdminErrorCode::UnknownType,
        AdminErrorCode::AuthRequired,
        AdminErrorCode::AuthFailed,
        AdminErrorCode::BadVersion,
        AdminErrorCode::SlowConsumer,
        AdminErrorCode::ShuttingDown,
    ];

    /// The code for a wire value.
    pub fn from_u16(v: u16) -> Option<AdminErrorCode> {
        AdminErrorCode::ALL
            .get(usize::from(v).checked_sub(1)?)
            .copied()
    }

    /// The wire value.
    pub fn as_u16(self) -> u16 {
        self as u16
    }

    /// The documented name (`bad_frame`, ...).
    pub fn name(self) -> &'static str {
        match self {
            AdminErrorCode::BadFrame => "bad_frame",
            AdminErrorCode::Malformed => "malformed",
            AdminErrorCode::UnknownType => "unknown_type",
            AdminErrorCode::AuthRequired => "auth_required",
            AdminErrorCode::AuthFailed => "auth_failed",
            AdminErrorCode::BadVersion => "bad_version",
            AdminErrorCode::SlowConsumer => "slow_consumer",
            AdminErrorCode::ShuttingDown => "shutting_down",
        }
    }

    /// Whether the server closes the admin connection after this error.
    pub fn closes(self) -> bool {
        !matches!(
            self,
            AdminErrorCode::Malformed | AdminErrorCode::UnknownType
        )
    }
}

impl std::fmt::Display for AdminErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A request from an operator to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminRequest<'a> {
    /// Authenticate; must come first when the server has an admin token.
    Auth {
        /// Admin protocol version ([`ADMIN_VERSION`]).
        version: u8,
        /// The admin token (empty if none).
        token: &'a str,
    },
    /// Ask for a counters snapshot.
    Counters,
    /// Ask for connections in `state` with an id above `after_id`, in id order.
    List {
        /// Which list.
        state: ConnState,
        /// Cursor: 0 for the first page, then the page's `next_after`.
        after_id: u64,
        /// At most this many (1..=[`MAX_LIST_LIMIT`]; others are clamped).
        limit: u16,
    },
    /// Push every connection state change from now on.
    Subscribe,
    /// Stop the pushes.
    Unsubscribe,
    /// Close a registered client's connection with ERROR kicked.
    Kick {
        /// The client's nick (ASCII case-insensitive, as in the chat protocol).
        nick: &'a str,
        /// Sent to the client as the ERROR detail.
        reason: &'a str,
    },
    /// Ask for the largest rooms, largest first.
    Rooms {
        /// At most this many (1..=[`crate::admin::rooms::MAX_ROOMS_LIMIT`];
        /// others are clamped).
        limit: u16,
    },
    /// Ask for this node's name and the cluster's live nodes.
    Nodes {
        /// At most this many nodes (1..=[`crate::admin::nodes::MAX_NODES_LIMIT`];
        /// others are clamped).
        limit: u16,
    },
}

/// The wire byte of a connection state.
pub fn state_byte(state: ConnState) -> u8 {
    match state {
        ConnState::Waiting => 0,
        ConnState::Connected => 1,
        ConnState::Closing => 2,
    }
}

/// The connection state of a wire byte.
pub fn state_from_byte(b: u8) -> Option<ConnState> {
    match b {
        0 => Some(ConnState::Waiting),
        1 => Some(ConnState::Connected),
        2 => Some(ConnState::Closing),
        _ => None,
    }
}

impl<'a> AdminRequest<'a> {
    /// Decodes a request payload (type byte first).
    pub fn decode(payload: &'a [u8]) -> Result<Self, MessageError> {
        let (&ty, body) = payload.split_first().ok_or(MessageError::Malformed)?;
        let mut r = Reader::new(body);
        let req = match ty {
            admin_type::AUTH => AdminRequest::Auth {
                version: r.u8()?,
                token: r.str8()?,
            },
            admin_type::COUNTERS => AdminRequest::Counters,
            admin_type::LIST => AdminRequest::List {
                state: state_from_byte(r.u8()?).ok_or(MessageError::Malformed)?,
                after_id: r.u64()?,
                limit: r.u16()?,
            },
            admin_type::SUBSCRIBE => AdminRequest::Subscribe,
            admin_type::UNSUBSCRIBE => AdminRequest::Unsubscribe,
            admin_type::KICK => AdminRequest::Kick {
                nick: r.str8()?,
                reason: r.str16()?,
            },
            admin_type::ROOMS => AdminRequest::Rooms { limit: r.u16()? },
            admin_type::NODES => AdminRequest::Nodes { limit: r.u16()? },
            other => return Err(MessageError::UnknownType(other)),
        };
        r.finish()?;
        Ok(req)
    }

    /// The request's type byte.
    pub fn type_byte(&self) -> u8 {
        match self {
            AdminRequest::Auth { .. } => admin_type::AUTH,
            AdminRequest::Counters => admin_type::COUNTERS,
            AdminRequest::List { .. } => admin_type::LIST,
            AdminRequest::Subscribe => admin_type::SUBSCRIBE,
            AdminRequest::Unsubscribe => admin_type::UNSUBSCRIBE,
            AdminRequest::Kick { .. } => admin_type::KICK,
            AdminRequest::Rooms { .. } => admin_type::ROOMS,
            AdminRequest::Nodes { .. } => admin_type::NODES,
        }
    }

    /// Appends the whole frame to `out`; nothing is appended on error.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        frame_with(out, ADMIN_MAX_PAYLOAD, |o| {
            o.push(self.type_byte());
            match *self {
                AdminRequest::Auth { version, token } => {
                    o.push(version);
                    put_str8(o, token)?;
                }
                AdminRequest::List {
                    state,
                    after_id,
                    limit,
                } => {
                    o.push(state_byte(state));
                    put_u64(o, after_id);
                    put_u16(o, limit);
                }
                AdminRequest::Kick { nick, reason } => {
                    put_str8(o, nick)?;
                    put_str16(o, reason)?;
                }
                AdminRequest::Rooms { limit } | AdminRequest::Nodes { limit } => put_u16(o, limit),
                AdminRequest::Counters | AdminRequest::Subscribe | AdminRequest::Unsubscribe => {}
            }
            Ok(())
        })
    }
}

/// A response or pushed event from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminResponse {
    /// The request with this type byte succeeded (AUTH, SUBSCRIBE, UNSUBSCRIBE).
    Ok {
        /// Type byte of the request answered.
        request: u8,
    },
    /// Answer to COUNTERS.
    Counters(Snapshot),
    /// Answer to LIST.
    List(ListPage),
    /// A pushed state change (after SUBSCRIBE).
    Event(ConnEvent),
    /// Answer to KICK.
    Kicked {
        /// The nick asked for.
        nick: String,
        /// Whether a registered client with that nick was found (and kicked).
        found: bool,
    },
    /// Answer to ROOMS.
    Rooms(RoomsPage),
    /// Answer to NODES.
    Nodes(NodesPage),
    /// An error; see [`AdminErrorCode`] (unknown codes are kept as numbers).
    Error {
        /// Error code.
        code: u16,
        /// Human-readable detail.
        detail: String,
    },
}

/// Cuts `s` to at most `max` bytes at a character boundary.
pub fn truncate_str(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Appends an OK frame answering the request with type byte `request`.
pub fn encode_ok(out: &mut Vec<u8>, request: u8) {
    // Two bytes always fit.
    let start = begin_frame(out);
    out.push(admin_type::OK);
    out.push(request);
    let _ = end_frame(out, start, ADMIN_MAX_PAYLOAD);
}

/// Appends an admin ERROR frame (the detail is cut to fit).
pub fn encode_error(out: &mut Vec<u8>, code: AdminErrorCode, detail: &str) {
    let start = begin_frame(out);
    out.push(admin_type::ERROR);
    put_u16(out, code.as_u16());
    let detail = truncate_str(detail, 1024);
    // 1024 bytes fit a str16 and the frame.
    let _ = put_str16(out, detail);
    let _ = end_frame(out, start, ADMIN_MAX_PAYLOAD);
}

/// Appends a KICKED frame (`nick` is cut to 255 bytes to fit its str8).
pub fn encode_kicked(out: &mut Vec<u8>, nick: &str, found: bool) {
    let start = begin_frame(out);
    out.push(admin_type::KICKED);
    out.push(u8::from(found));
    let _ = put_str8(out, truncate_str(nick, 255));
    let _ = end_frame(out, start, ADMIN_MAX_PAYLOAD);
}

impl AdminResponse {
    /// Decodes a response or event payload (type byte first).
    pub fn decode(payload: &[u8]) -> Result<Self, MessageError> {
        let (&ty, body) = payload.split_first().ok_or(MessageError::Malformed)?;
        let mut r = Reader::new(body);
        let resp = match ty {
            admin_type::OK => AdminResponse::Ok { request: r.u8()? },
            admin_type::COUNTERS_SNAPSHOT => AdminResponse::Counters(decode_snapshot(&mut r)?),
            admin_type::LIST_PAGE => AdminResponse::List(decode_list_page(&mut r)?),
            admin_type::EVENT => AdminResponse::Event(decode_event(&mut r)?),
            admin_type::KICKED => {
                let found = r.u8()? != 0;
                AdminResponse::Kicked {
                    nick: r.str8()?.to_owned(),
                    found,
                }
            }
            admin_type::ERROR => AdminResponse::Error {
                code: r.u16()?,
                detail: r.str16()?.to_owned(),
            },
            admin_type::ROOMS_PAGE => AdminResponse::Rooms(decode_rooms(&mut r)?),
            admin_type::NODES_PAGE => AdminResponse::Nodes(decode_nodes(&mut r)?),
            other => return Err(MessageError::UnknownType(other)),
        };
        r.finish()?;
        Ok(resp)
    }

    /// Appends the whole frame to `out` (a LIST page is encoded whole or
    /// not at all: it fails if its entries do not all fit).
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        match self {
            AdminResponse::Ok { request } => encode_ok(out, *request),
            AdminResponse::Counters(s) => encode_snapshot(out, s),
            AdminResponse::List(p) => {
                let start = out.len();
                let after = if p.entries.is_empty() {
                    p.next_after
                } else {
                    0
                };
                let n =
                    encode_list_page(out, p.state, after, &p.entries, p.more, ADMIN_MAX_PAYLOAD)?;
                if n < p.entries.len() {
                    out.truncate(start);
                    return Err(EncodeError::FieldTooLong);
                }
            }
            AdminResponse::Event(e) => encode_event(out, e),
            AdminResponse::Kicked { nick, found } => encode_kicked(out, nick, *found),
            AdminResponse::Rooms(page) => encode_rooms(out, page),
            AdminResponse::Nodes(page) => encode_nodes(out, page),
            AdminResponse::Error { code, detail } => {
                let start = begin_frame(out);
                out.push(admin_type::ERROR);
                put_u16(out, *code);
                if let Err(e) = put_str16(out, detail) {
                    out.truncate(start);
                    return Err(e.into());
                }
                end_frame(out, start, ADMIN_MAX_PAYLOAD)?;
            }
        }
        Ok(())
    }
}
