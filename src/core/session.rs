//! One connection's chat state as the engine keeps it.

use std::net::SocketAddr;

use crate::codec::FrameDecoder;
use crate::core::outbuf::OutQueue;
use crate::core::rate::TokenBucket;
use crate::core::rooms::RoomId;

/// A connection's slot in the engine; stable while the connection is open.
pub type ConnId = usize;

/// Registration state of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Accepted; only HELLO, PING and BYE are allowed.
    Pending,
    /// WELCOME sent.
    Registered,
    /// The engine is done with it; the driver is flushing and closing it.
    Closing,
}

/// A room the connection is in, and its position in that room's member list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Membership {
    /// The room.
    pub room: u32,
    /// Index in the room's member list.
    pub pos: u32,
}

impl Membership {
    /// The room's slot.
    pub fn room(self) -> RoomId {
        self.room as RoomId
    }
}

/// A connection's rooms.
pub type Memberships = smallvec::SmallVec<[Membership; 1]>;

/// Per-connection state. `io` belongs to the driver (socket and the like).
#[derive(Debug)]
pub struct Session<T> {
    /// The driver's per-connection data.
    pub io: T,
    pub(crate) serial: u64,
    pub(crate) peer: SocketAddr,
    pub(crate) phase: Phase,
    /// Queued in the engine's dirty list.
    pub(crate) dirty: bool,
    /// Over its output limit: gets nothing more, to be closed as a slow consumer.
    pub(crate) doomed: bool,
    /// Registered with HELLO version 2: gets ROOM frames and MEMBERS bit 1.
    pub(crate) v2: bool,
    pub(crate) nick: Option<Box<str>>,
    /// Inline for the first room (most clients are in one, the default
    /// room): no allocation per membership.
    pub(crate) rooms: Memberships,
    pub(crate) decoder: FrameDecoder,
    pub(crate) out: OutQueue,
    pub(crate) last_frame_ms: u64,
    pub(crate) accepted_unix_ms: u64,
    pub(crate) connected_unix_ms: u64,
    /// Boxed: the rate is off by default, and an idle session stays small.
    pub(crate) bucket: Option<Box<TokenBucket>>,
    pub(crate) bytes_in: u64,
    pub(crate) bytes_out: u64,
    /// A password check in progress (its HELLO and the input after it).
    pub(crate) auth: Option<Box<crate::core::auth::AuthWait>>,
}

impl<T> Session<T> {
    /// Server-unique id of the connection (never reused).
    pub fn serial(&self) -> u64 {
        self.serial
    }

    /// Peer address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Registration state.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The protocol version it registered with (1 before HELLO).
    pub fn version(&self) -> u8 {
        if self.v2 { 2 } else { 1 }
    }

    /// Registered nick, if any.
    pub fn nick(&self) -> Option<&str> {
        self.nick.as_deref()
    }

    /// Bytes queued for the socket.
    pub fn queued(&self) -> usize {
        self.out.queued()
    }
}
