//! What the engine tells its operators: counters, connection listings and
//! connection state changes. These are plain data, shared by the server's
//! log lines, the admin channel (`stxchat top`) and the metrics endpoint.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::codec::ErrorCode;

/// Where a connection stands, as the operator sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnState {
    /// Accepted, HELLO not yet completed.
    Waiting,
    /// Registered (WELCOME sent).
    Connected,
    /// Being closed (final flush and drain).
    Closing,
}

/// Why a connection was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    /// The client sent BYE.
    Bye,
    /// The client closed its side (EOF) or reset the connection.
    PeerClosed,
    /// The server closed it after sending this ERROR code.
    Error(u16),
}

impl CloseReason {
    /// The closing error, if any.
    pub fn error(self) -> Option<ErrorCode> {
        match self {
            CloseReason::Error(c) => ErrorCode::from_u16(c),
            _ => None,
        }
    }
}

impl std::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CloseReason::Bye => f.write_str("bye"),
            CloseReason::PeerClosed => f.write_str("peer closed"),
            CloseReason::Error(c) => match ErrorCode::from_u16(*c) {
                Some(code) => write!(f, "error {code}"),
                None => write!(f, "error {c}"),
            },
        }
    }
}

/// One room as the operator sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomInfo {
    /// The name as spelt by the JOIN that created it.
    pub name: String,
    /// Its member count.
    pub members: u64,
    /// Whether it is quiet (PROTOCOL.md section 5.2).
    pub quiet: bool,
}

/// The largest rooms and the room totals ([`crate::core::Engine::rooms_by_size`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSummary {
    /// The largest rooms, largest first (ties by name), at most the limit asked for.
    pub largest: Vec<RoomInfo>,
    /// Rooms that exist.
    pub rooms: u64,
    /// Of those, quiet ones.
    pub quiet: u64,
}

/// A connection's state change, pushed to admin subscribers as it happens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnEvent {
    /// Server-unique connection id (never reused while the server runs).
    pub id: u64,
    /// Peer address.
    pub peer: SocketAddr,
    /// Registered nick, if any.
    pub nick: Option<String>,
    /// What happened.
    pub change: ConnChange,
    /// Server Unix time in milliseconds.
    pub time_ms: u64,
}

/// The kinds of state change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnChange {
    /// Accepted: now waiting for HELLO.
    Accepted,
    /// Registered: WELCOME sent.
    Registered,
    /// Closed (the engine has let go of it; the socket may still be draining).
    Closed(CloseReason),
}

/// One connection as listed to an operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnInfo {
    /// Server-unique connection id.
    pub id: u64,
    /// Peer address.
    pub peer: SocketAddr,
    /// Registered nick, if any.
    pub nick: Option<String>,
    /// Waiting, connected or closing.
    pub state: ConnState,
    /// Rooms joined (as spelt by their creators).
    pub rooms: Vec<String>,
    /// Unix ms when accepted.
    pub accepted_ms: u64,
    /// Unix ms when registered, if registered.
    pub connected_ms: Option<u64>,
    /// Bytes received from it.
    pub bytes_in: u64,
    /// Bytes sent to it.
    pub bytes_out: u64,
    /// Bytes queued for it and not yet taken by its socket.
    pub queued: u64,
}

/// Server-wide counters (monotonic totals unless said otherwise).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Connections waiting for HELLO (gauge).
    pub waiting: u64,
    /// Registered connections (gauge).
    pub connected: u64,
    /// Connections being closed (gauge).
    pub closing: u64,
    /// Existing rooms (gauge).
    pub rooms: u64,
    /// Connections accepted.
    pub accepted: u64,
    /// Connections refused with server_full.
    pub rejected_full: u64,
    /// Frames received.
    pub frames_in: u64,
    /// Frames sent (one per recipient).
    pub frames_out: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes sent.
    pub bytes_out: u64,
    /// MESSAGEs accepted (SAY).
    pub messages: u64,
    /// PRIVATEs accepted (WHISPER).
    pub privates: u64,
    /// Connections dropped as slow consumers.
    pub slow_consumers: u64,
    /// Connections closed because the peer broke their transport's own
    /// protocol (a bad TLS record, WebSocket frame or IRC line).
    #[serde(default)]
    pub transport_errors: u64,
    /// ERRORs sent, indexed by code (index 0 unused; 1..=20).
    pub errors: Vec<u64>,
    /// Milliseconds since the server started.
    pub uptime_ms: u64,
}
