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

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use serde::{Deserialize, Serialize};

use crate::admin::rates::Rates;
use crate::admin::rooms::{RoomsPage, decode_rooms, encode_rooms};
use crate::codec::frame::{begin_frame, end_frame};
use crate::codec::message::frame_with;
use crate::codec::wire::{Reader, put_str8, put_str16, put_u16, put_u64};
use crate::codec::{EncodeError, MessageError};
use crate::core::observe::{CloseReason, ConnChange, ConnEvent, ConnInfo, ConnState, Counters};

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
                AdminRequest::Rooms { limit } => put_u16(o, limit),
                AdminRequest::Counters | AdminRequest::Subscribe | AdminRequest::Unsubscribe => {}
            }
            Ok(())
        })
    }
}

/// What COUNTERS returns: the engine's counters and the rates the server
/// computed over its last whole second.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Totals and gauges.
    pub counters: Counters,
    /// Per-second rates.
    pub rates: Rates,
}

/// One LIST answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListPage {
    /// The state every entry is in.
    pub state: ConnState,
    /// More connections follow: ask again with `after_id = next_after`.
    pub more: bool,
    /// The cursor for the next page: the last entry's id, or the request's
    /// `after_id` when the page is empty.
    pub next_after: u64,
    /// The connections, in increasing id order.
    pub entries: Vec<ConnInfo>,
    /// Ids of entries whose room list was cut to fit the frame.
    pub rooms_truncated: Vec<u64>,
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

fn put_addr(out: &mut Vec<u8>, addr: &SocketAddr) {
    match addr.ip() {
        IpAddr::V4(ip) => {
            out.push(4);
            out.extend_from_slice(&ip.octets());
        }
        IpAddr::V6(ip) => {
            out.push(6);
            out.extend_from_slice(&ip.octets());
        }
    }
    put_u16(out, addr.port());
}

fn read_addr(r: &mut Reader<'_>) -> Result<SocketAddr, MessageError> {
    let ip = match r.u8()? {
        4 => {
            let b: [u8; 4] = r
                .bytes(4)?
                .try_into()
                .map_err(|_| MessageError::Malformed)?;
            IpAddr::V4(Ipv4Addr::from(b))
        }
        6 => {
            let b: [u8; 16] = r
                .bytes(16)?
                .try_into()
                .map_err(|_| MessageError::Malformed)?;
            IpAddr::V6(Ipv6Addr::from(b))
        }
        _ => return Err(MessageError::Malformed),
    };
    Ok(SocketAddr::new(ip, r.u16()?))
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

/// The counter fields of a snapshot, in wire order.
fn counter_fields(c: &Counters) -> [u64; 14] {
    [
        c.uptime_ms,
        c.waiting,
        c.connected,
        c.closing,
        c.rooms,
        c.accepted,
        c.rejected_full,
        c.frames_in,
        c.frames_out,
        c.bytes_in,
        c.bytes_out,
        c.messages,
        c.privates,
        c.slow_consumers,
    ]
}

/// The rate fields of a snapshot, in wire order.
fn rate_fields(r: &Rates) -> [u64; 8] {
    [
        r.interval_ms,
        r.accepted,
        r.frames_in,
        r.frames_out,
        r.bytes_in,
        r.bytes_out,
        r.messages,
        r.privates,
    ]
}

/// Appends a COUNTERS snapshot frame.
pub fn encode_snapshot(out: &mut Vec<u8>, snap: &Snapshot) {
    let start = begin_frame(out);
    out.push(admin_type::COUNTERS_SNAPSHOT);
    for v in counter_fields(&snap.counters) {
        put_u64(out, v);
    }
    // errors[0] is unused; codes 1..=n follow (at most 255 of them).
    let codes = snap.counters.errors.get(1..).unwrap_or(&[]);
    let codes = &codes[..codes.len().min(255)];
    out.push(codes.len() as u8);
    for &v in codes {
        put_u64(out, v);
    }
    for v in rate_fields(&snap.rates) {
        put_u64(out, v);
    }
    // At most 1 + 14*8 + 1 + 255*8 + 8*8 bytes: always fits.
    let _ = end_frame(out, start, ADMIN_MAX_PAYLOAD);
}

/// Appends an EVENT frame.
pub fn encode_event(out: &mut Vec<u8>, ev: &ConnEvent) {
    let start = begin_frame(out);
    out.push(admin_type::EVENT);
    put_u64(out, ev.id);
    put_u64(out, ev.time_ms);
    put_addr(out, &ev.peer);
    let _ = put_str8(out, truncate_str(ev.nick.as_deref().unwrap_or(""), 255));
    let (change, code) = match ev.change {
        ConnChange::Accepted => (0u8, 0u16),
        ConnChange::Registered => (1, 0),
        ConnChange::Closed(CloseReason::Bye) => (2, 0),
        ConnChange::Closed(CloseReason::PeerClosed) => (3, 0),
        ConnChange::Closed(CloseReason::Error(c)) => (4, c),
    };
    out.push(change);
    put_u16(out, code);
    // Fixed fields plus a str8: always fits.
    let _ = end_frame(out, start, ADMIN_MAX_PAYLOAD);
}

/// Bytes of a LIST page header: type, state, flags, next_after, count.
const LIST_HEADER: usize = 1 + 1 + 1 + 8 + 2;

/// Bytes of an entry without its nick and rooms (IPv6 address, the worst case).
const ENTRY_FIXED: usize = 8 + 19 + 1 + 1 + 8 * 5 + 2;

/// The smallest `max_payload` a LIST page can be encoded with: one entry
/// with the longest nick and no rooms.
pub const MIN_LIST_PAYLOAD: usize = LIST_HEADER + ENTRY_FIXED + 255;

/// Entry flag: the room list was cut to fit the frame.
const ENTRY_ROOMS_TRUNCATED: u8 = 1;

/// Page flag: more connections follow.
const PAGE_MORE: u8 = 1;

/// Appends one LIST page frame with as many of `entries` as fit in
/// `max_payload` (at least one, cutting its room list if it must).
///
/// `after_id` is the request's cursor and `source_more` whether the source
/// had more connections beyond `entries`. Returns how many entries were
/// encoded; the page says `more` when either entries were left out or the
/// source had more.
pub fn encode_list_page(
    out: &mut Vec<u8>,
    state: ConnState,
    after_id: u64,
    entries: &[ConnInfo],
    source_more: bool,
    max_payload: usize,
) -> Result<usize, EncodeError> {
    let max_payload = max_payload.min(ADMIN_MAX_PAYLOAD);
    if max_payload < MIN_LIST_PAYLOAD {
        return Err(EncodeError::Frame(crate::codec::FrameTooLong {
            len: MIN_LIST_PAYLOAD,
            max: max_payload,
        }));
    }
    let start = begin_frame(out);
    let payload_start = out.len();
    out.push(admin_type::LIST_PAGE);
    out.push(state_byte(state));
    let flags_at = out.len();
    out.push(0);
    let next_at = out.len();
    put_u64(out, after_id);
    let count_at = out.len();
    put_u16(out, 0);
    let mut count = 0usize;
    let mut last_id = after_id;
    for info in entries {
        if count == usize::from(u16::MAX) {
            break;
        }
        let entry_start = out.len();
        let room = max_payload - (entry_start - payload_start);
        if !put_entry(out, info, room, count == 0) {
            out.truncate(entry_start);
            break;
        }
        count += 1;
        last_id = info.id;
    }
    let more = source_more || count < entries.len();
    out[flags_at] = if more { PAGE_MORE } else { 0 };
    out[next_at..next_at + 8].copy_from_slice(&last_id.to_be_bytes());
    out[count_at..count_at + 2].copy_from_slice(&(count as u16).to_be_bytes());
    end_frame(out, start, max_payload)?;
    Ok(count)
}

/// Appends one entry if it fits in `room` bytes; the first entry of a page
/// (`must_fit`) has its room list cut instead. Returns whether it was written.
fn put_entry(out: &mut Vec<u8>, info: &ConnInfo, room: usize, must_fit: bool) -> bool {
    let start = out.len();
    put_u64(out, info.id);
    put_addr(out, &info.peer);
    let _ = put_str8(out, truncate_str(info.nick.as_deref().unwrap_or(""), 255));
    let flags_at = out.len();
    out.push(0);
    put_u64(out, info.accepted_ms);
    put_u64(out, info.connected_ms.unwrap_or(0));
    put_u64(out, info.bytes_in);
    put_u64(out, info.bytes_out);
    put_u64(out, info.queued);
    let count_at = out.len();
    put_u16(out, 0);
    if out.len() - start > room {
        return false;
    }
    let mut n = 0u16;
    let mut truncated = false;
    for r in &info.rooms {
        let r = truncate_str(r, 255);
        if n == u16::MAX || out.len() - start + 1 + r.len() > room {
            truncated = true;
            break;
        }
        let _ = put_str8(out, r);
        n += 1;
    }
    if truncated && !must_fit {
        return false;
    }
    if truncated {
        out[flags_at] |= ENTRY_ROOMS_TRUNCATED;
    }
    out[count_at..count_at + 2].copy_from_slice(&n.to_be_bytes());
    true
}

fn read_entry(r: &mut Reader<'_>, state: ConnState) -> Result<(ConnInfo, bool), MessageError> {
    let id = r.u64()?;
    let peer = read_addr(r)?;
    let nick = r.str8()?;
    let flags = r.u8()?;
    let accepted_ms = r.u64()?;
    let connected_ms = r.u64()?;
    let bytes_in = r.u64()?;
    let bytes_out = r.u64()?;
    let queued = r.u64()?;
    let n = r.u16()?;
    let mut rooms = Vec::with_capacity(usize::from(n).min(256));
    for _ in 0..n {
        rooms.push(r.str8()?.to_owned());
    }
    let info = ConnInfo {
        id,
        peer,
        nick: (!nick.is_empty()).then(|| nick.to_owned()),
        state,
        rooms,
        accepted_ms,
        connected_ms: (connected_ms != 0).then_some(connected_ms),
        bytes_in,
        bytes_out,
        queued,
    };
    Ok((info, flags & ENTRY_ROOMS_TRUNCATED != 0))
}

impl AdminResponse {
    /// Decodes a response or event payload (type byte first).
    pub fn decode(payload: &[u8]) -> Result<Self, MessageError> {
        let (&ty, body) = payload.split_first().ok_or(MessageError::Malformed)?;
        let mut r = Reader::new(body);
        let resp = match ty {
            admin_type::OK => AdminResponse::Ok { request: r.u8()? },
            admin_type::COUNTERS_SNAPSHOT => {
                let mut f = [0u64; 14];
                for v in &mut f {
                    *v = r.u64()?;
                }
                let n = r.u8()?;
                let mut errors = Vec::with_capacity(usize::from(n) + 1);
                if n > 0 {
                    errors.push(0);
                    for _ in 0..n {
                        errors.push(r.u64()?);
                    }
                }
                let mut q = [0u64; 8];
                for v in &mut q {
                    *v = r.u64()?;
                }
                AdminResponse::Counters(Snapshot {
                    counters: Counters {
                        uptime_ms: f[0],
                        waiting: f[1],
                        connected: f[2],
                        closing: f[3],
                        rooms: f[4],
                        accepted: f[5],
                        rejected_full: f[6],
                        frames_in: f[7],
                        frames_out: f[8],
                        bytes_in: f[9],
                        bytes_out: f[10],
                        messages: f[11],
                        privates: f[12],
                        slow_consumers: f[13],
                        // Not carried by the admin channel (its wire
                        // format is fixed); exported on /metrics.
                        transport_errors: 0,
                        errors,
                    },
                    rates: Rates {
                        interval_ms: q[0],
                        accepted: q[1],
                        frames_in: q[2],
                        frames_out: q[3],
                        bytes_in: q[4],
                        bytes_out: q[5],
                        messages: q[6],
                        privates: q[7],
                    },
                })
            }
            admin_type::LIST_PAGE => {
                let state = state_from_byte(r.u8()?).ok_or(MessageError::Malformed)?;
                let flags = r.u8()?;
                let next_after = r.u64()?;
                let n = r.u16()?;
                let mut entries = Vec::with_capacity(usize::from(n).min(1024));
                let mut rooms_truncated = Vec::new();
                for _ in 0..n {
                    let (info, cut) = read_entry(&mut r, state)?;
                    if cut {
                        rooms_truncated.push(info.id);
                    }
                    entries.push(info);
                }
                AdminResponse::List(ListPage {
                    state,
                    more: flags & PAGE_MORE != 0,
                    next_after,
                    entries,
                    rooms_truncated,
                })
            }
            admin_type::EVENT => {
                let id = r.u64()?;
                let time_ms = r.u64()?;
                let peer = read_addr(&mut r)?;
                let nick = r.str8()?;
                let change = r.u8()?;
                let code = r.u16()?;
                let change = match change {
                    0 => ConnChange::Accepted,
                    1 => ConnChange::Registered,
                    2 => ConnChange::Closed(CloseReason::Bye),
                    3 => ConnChange::Closed(CloseReason::PeerClosed),
                    4 => ConnChange::Closed(CloseReason::Error(code)),
                    _ => return Err(MessageError::Malformed),
                };
                AdminResponse::Event(ConnEvent {
                    id,
                    peer,
                    nick: (!nick.is_empty()).then(|| nick.to_owned()),
                    change,
                    time_ms,
                })
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Event, FrameDecoder};

    fn payloads(bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        FrameDecoder::new(ADMIN_MAX_PAYLOAD).decode_all(bytes, |e| match e {
            Event::Frame(p) => out.push(p.to_vec()),
            Event::Error(e) => panic!("framing error {e}"),
        });
        out
    }

    fn one(bytes: &[u8]) -> AdminResponse {
        let p = payloads(bytes);
        assert_eq!(p.len(), 1);
        AdminResponse::decode(&p[0]).unwrap()
    }

    fn info(id: u64, nick: Option<&str>, rooms: &[&str]) -> ConnInfo {
        ConnInfo {
            id,
            peer: if id.is_multiple_of(2) {
                format!("127.0.0.1:{}", 1000 + id).parse().unwrap()
            } else {
                format!("[::1]:{}", 1000 + id).parse().unwrap()
            },
            nick: nick.map(str::to_owned),
            state: if nick.is_some() {
                ConnState::Connected
            } else {
                ConnState::Waiting
            },
            rooms: rooms.iter().map(|s| s.to_string()).collect(),
            accepted_ms: 1_700_000_000_000 + id,
            connected_ms: nick.map(|_| 1_700_000_000_500 + id),
            bytes_in: id * 3,
            bytes_out: id * 5,
            queued: id,
        }
    }

    #[test]
    fn requests_round_trip() {
        let reqs = [
            AdminRequest::Auth {
                version: ADMIN_VERSION,
                token: "sécret",
            },
            AdminRequest::Counters,
            AdminRequest::List {
                state: ConnState::Connected,
                after_id: 0x0102_0304_0506_0708,
                limit: 500,
            },
            AdminRequest::List {
                state: ConnState::Closing,
                after_id: 0,
                limit: 0,
            },
            AdminRequest::Subscribe,
            AdminRequest::Unsubscribe,
            AdminRequest::Kick {
                nick: "Alice",
                reason: "spam\nand more",
            },
            AdminRequest::Rooms { limit: 100 },
        ];
        for req in reqs {
            let mut out = Vec::new();
            req.encode(&mut out).unwrap();
            let p = payloads(&out);
            assert_eq!(p.len(), 1);
            assert_eq!(p[0][0], req.type_byte());
            assert!((0x40..=0x5f).contains(&p[0][0]));
            assert_eq!(AdminRequest::decode(&p[0]).unwrap(), req);
        }
    }

    #[test]
    fn list_request_layout_is_as_documented() {
        let mut out = Vec::new();
        AdminRequest::List {
            state: ConnState::Waiting,
            after_id: 7,
            limit: 100,
        }
        .encode(&mut out)
        .unwrap();
        assert_eq!(payloads(&out)[0], [0x42, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 100]);
    }

    #[test]
    fn malformed_and_unknown_requests_are_told_apart() {
        assert_eq!(AdminRequest::decode(&[]), Err(MessageError::Malformed));
        assert_eq!(
            AdminRequest::decode(&[0x5f]),
            Err(MessageError::UnknownType(0x5f))
        );
        assert_eq!(
            AdminRequest::decode(&[0x01, 1, 0, 0]),
            Err(MessageError::UnknownType(0x01))
        );
        // Left-over byte.
        assert_eq!(
            AdminRequest::decode(&[0x41, 0]),
            Err(MessageError::Malformed)
        );
        // Bad state byte.
        assert_eq!(
            AdminRequest::decode(&[0x42, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
            Err(MessageError::Malformed)
        );
        // Short LIST.
        assert_eq!(
            AdminRequest::decode(&[0x42, 0, 0, 0]),
            Err(MessageError::Malformed)
        );
        // Bad UTF-8 in the token, and a length past the end.
        assert_eq!(
            AdminRequest::decode(&[0x40, 1, 1, 0xff]),
            Err(MessageError::Malformed)
        );
        assert_eq!(
            AdminRequest::decode(&[0x40, 1, 5, b'a']),
            Err(MessageError::Malformed)
        );
    }

    #[test]
    fn responses_round_trip() {
        let mut counters = Counters {
            waiting: 1,
            connected: 2,
            closing: 3,
            rooms: 4,
            accepted: 5,
            rejected_full: 6,
            frames_in: 7,
            frames_out: 8,
            bytes_in: 9,
            bytes_out: 10,
            messages: 11,
            privates: 12,
            slow_consumers: 13,
            transport_errors: 0,
            errors: vec![0; 21],
            uptime_ms: 14,
        };
        counters.errors[20] = 99;
        counters.errors[2] = 3;
        let page = ListPage {
            state: ConnState::Connected,
            more: true,
            next_after: 9,
            entries: vec![
                info(4, Some("alice"), &["lobby", "Rust"]),
                info(9, Some("Émile"), &[]),
            ],
            rooms_truncated: vec![],
        };
        let resps = vec![
            AdminResponse::Ok {
                request: admin_type::SUBSCRIBE,
            },
            AdminResponse::Counters(Snapshot {
                counters,
                rates: Rates {
                    interval_ms: 1000,
                    accepted: 1,
                    frames_in: 2,
                    frames_out: 3,
                    bytes_in: 4,
                    bytes_out: 5,
                    messages: 6,
                    privates: 7,
                },
            }),
            AdminResponse::Counters(Snapshot::default()),
            AdminResponse::List(page),
            AdminResponse::List(ListPage {
                state: ConnState::Waiting,
                more: false,
                next_after: 77,
                entries: vec![],
                rooms_truncated: vec![],
            }),
            AdminResponse::Kicked {
                nick: "bob".into(),
                found: true,
            },
            AdminResponse::Kicked {
                nick: "nobody".into(),
                found: false,
            },
            AdminResponse::Error {
                code: AdminErrorCode::AuthFailed.as_u16(),
                detail: "wrong token".into(),
            },
            AdminResponse::Error {
                code: 999,
                detail: String::new(),
            },
        ];
        for resp in resps {
            let mut out = Vec::new();
            resp.encode(&mut out).unwrap();
            let p = payloads(&out);
            assert!((0xc0..=0xdf).contains(&p[0][0]));
            assert_eq!(one(&out), resp);
        }
    }

    #[test]
    fn events_round_trip_every_change() {
        let changes = [
            ConnChange::Accepted,
            ConnChange::Registered,
            ConnChange::Closed(CloseReason::Bye),
            ConnChange::Closed(CloseReason::PeerClosed),
            ConnChange::Closed(CloseReason::Error(20)),
        ];
        for (i, change) in changes.into_iter().enumerate() {
            let ev = ConnEvent {
                id: i as u64 + 1,
                peer: if i % 2 == 0 {
                    "10.1.2.3:4567".parse().unwrap()
                } else {
                    "[2001:db8::1]:80".parse().unwrap()
                },
                nick: (i > 0).then(|| "carol".to_string()),
                change,
                time_ms: 123_456,
            };
            let mut out = Vec::new();
            encode_event(&mut out, &ev);
            assert_eq!(one(&out), AdminResponse::Event(ev));
        }
    }

    #[test]
    fn malformed_responses_are_refused() {
        let mut out = Vec::new();
        encode_event(
            &mut out,
            &ConnEvent {
                id: 1,
                peer: "127.0.0.1:1".parse().unwrap(),
                nick: None,
                change: ConnChange::Accepted,
                time_ms: 0,
            },
        );
        let p = payloads(&out).remove(0);
        // Every strict prefix is malformed.
        for n in 1..p.len() {
            assert_eq!(
                AdminResponse::decode(&p[..n]),
                Err(MessageError::Malformed),
                "prefix of {n} bytes"
            );
        }
        // Bad change byte.
        let mut bad = p.clone();
        let at = bad.len() - 3;
        bad[at] = 9;
        assert_eq!(AdminResponse::decode(&bad), Err(MessageError::Malformed));
        // Bad address family.
        let mut bad = p.clone();
        bad[17] = 5;
        assert_eq!(AdminResponse::decode(&bad), Err(MessageError::Malformed));
        // A LIST page claiming more entries than it holds.
        let mut out = Vec::new();
        encode_list_page(
            &mut out,
            ConnState::Waiting,
            0,
            &[info(2, None, &[])],
            false,
            ADMIN_MAX_PAYLOAD,
        )
        .unwrap();
        let mut p = payloads(&out).remove(0);
        p[12] = 2;
        assert_eq!(AdminResponse::decode(&p), Err(MessageError::Malformed));
        assert_eq!(
            AdminResponse::decode(&[0x40]),
            Err(MessageError::UnknownType(0x40))
        );
    }

    #[test]
    fn list_pages_split_to_fit_the_payload_limit() {
        let rooms: Vec<String> = (0..10).map(|i| format!("room-{i:02}")).collect();
        let rooms: Vec<&str> = rooms.iter().map(String::as_str).collect();
        let entries: Vec<ConnInfo> = (1..=50)
            .map(|i| info(i, Some(&format!("nick{i}")), &rooms))
            .collect();
        let max = 1024;
        let mut seen = Vec::new();
        let mut after = 0;
        let mut rest = &entries[..];
        let mut frames = 0;
        loop {
            let mut out = Vec::new();
            let n =
                encode_list_page(&mut out, ConnState::Connected, after, rest, false, max).unwrap();
            assert!(n >= 1);
            assert!(out.len() <= max + 8);
            frames += 1;
            let AdminResponse::List(page) = one(&out) else {
                panic!("not a page")
            };
            assert_eq!(page.entries.len(), n);
            assert!(page.rooms_truncated.is_empty());
            seen.extend(page.entries.iter().cloned());
            rest = &rest[n..];
            after = page.next_after;
            assert_eq!(page.more, !rest.is_empty());
            if !page.more {
                break;
            }
        }
        assert!(frames > 1);
        assert_eq!(seen, entries);
    }

    #[test]
    fn an_entry_too_large_for_a_frame_has_its_rooms_cut() {
        let long: Vec<String> = (0..40).map(|i| format!("{i:0>60}")).collect();
        let long: Vec<&str> = long.iter().map(String::as_str).collect();
        let entries = [info(3, Some("big"), &long), info(5, Some("next"), &[])];
        let mut out = Vec::new();
        let n = encode_list_page(
            &mut out,
            ConnState::Connected,
            0,
            &entries,
            false,
            MIN_LIST_PAYLOAD + 200,
        )
        .unwrap();
        assert_eq!(n, 1);
        let AdminResponse::List(page) = one(&out) else {
            panic!("not a page")
        };
        assert!(page.more);
        assert_eq!(page.next_after, 3);
        assert_eq!(page.rooms_truncated, vec![3]);
        assert!(!page.entries[0].rooms.is_empty());
        assert!(page.entries[0].rooms.len() < 40);
        assert_eq!(
            page.entries[0].rooms[..],
            entries[0].rooms[..page.entries[0].rooms.len()]
        );
        // Too small a limit is refused rather than producing an empty page.
        assert!(encode_list_page(&mut out, ConnState::Waiting, 0, &entries, false, 100).is_err());
    }

    #[test]
    fn long_strings_are_cut_at_char_boundaries() {
        assert_eq!(truncate_str("héllo", 2), "h");
        assert_eq!(truncate_str("héllo", 3), "hé");
        assert_eq!(truncate_str("abc", 10), "abc");
        let mut out = Vec::new();
        encode_error(&mut out, AdminErrorCode::Malformed, &"é".repeat(2000));
        let AdminResponse::Error { code, detail } = one(&out) else {
            panic!("not an error")
        };
        assert_eq!(code, 2);
        assert_eq!(detail.len(), 1024);
    }

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    #[test]
    fn the_examples_in_admin_md_are_right() {
        let cases: [(AdminRequest<'_>, &str); 5] = [
            (AdminRequest::Counters, "02 00 01 41 e7 81 99 55 03"),
            (
                AdminRequest::Rooms { limit: 10 },
                "02 00 03 46 00 0a 40 55 40 9f 03",
            ),
            (
                AdminRequest::Auth {
                    version: 1,
                    token: "",
                },
                "02 00 03 40 01 00 bd 16 e4 72 03",
            ),
            (
                AdminRequest::List {
                    state: ConnState::Connected,
                    after_id: 0,
                    limit: 100,
                },
                "02 00 0c 42 01 00 00 00 00 00 00 00 00 00 64 1c 08 93 d2 03",
            ),
            (AdminRequest::Subscribe, "02 00 01 43 09 8f f8 79 03"),
        ];
        for (req, bytes) in cases {
            let mut out = Vec::new();
            req.encode(&mut out).unwrap();
            assert_eq!(out, hex(bytes), "{req:?}");
        }
        let mut out = Vec::new();
        encode_ok(&mut out, admin_type::SUBSCRIBE);
        assert_eq!(out, hex("02 00 02 c0 43 06 ef cc 16 03"));
    }

    #[test]
    fn error_codes_round_trip() {
        for (i, c) in AdminErrorCode::ALL.iter().enumerate() {
            assert_eq!(usize::from(c.as_u16()), i + 1);
            assert_eq!(AdminErrorCode::from_u16(c.as_u16()), Some(*c));
        }
        assert_eq!(AdminErrorCode::from_u16(0), None);
        assert_eq!(AdminErrorCode::from_u16(9), None);
        assert!(!AdminErrorCode::Malformed.closes());
        assert!(AdminErrorCode::AuthFailed.closes());
    }
}
