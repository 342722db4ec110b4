//! The gateway's own frames: requests a protocol gateway (the IRC
//! translator) sends the engine beyond the chat protocol, and the engine's
//! replies. They travel in ordinary frames, so they share the connection's
//! ordered input and output with the chat protocol (PROTOCOL.md 4.1 holds
//! for them as for any frame).
//!
//! Requests use type bytes 0x60..=0x7F and replies 0xE0..=0xFF, ranges the
//! chat protocol and the admin channel leave free. They are accepted only
//! from sessions the driver marked as gateway sessions; on the chat port
//! they stay `unknown_type` (or `not_registered` before WELCOME), exactly as
//! PROTOCOL.md requires.
//!
//! Requests are decoded and encoded in `request.rs`, replies in `reply.rs`.

mod reply;
mod request;
#[cfg(test)]
mod tests;

pub use reply::{Reply, TopicInfo, UserInfo};
pub use request::Request;

/// First request type byte of the gateway range.
pub const FIRST_REQUEST: u8 = 0x60;
/// Last request type byte of the gateway range.
pub const LAST_REQUEST: u8 = 0x7F;

/// Request type bytes.
pub mod req {
    /// A context marker echoed back, then an optional inner chat request.
    pub const CTX: u8 = 0x60;
    /// Bytes echoed back verbatim (replies the gateway makes itself, kept in order).
    pub const LINES: u8 = 0x61;
    /// Register with a nick, or change the registered nick.
    pub const NICK: u8 = 0x62;
    /// Read or set a room's topic.
    pub const TOPIC: u8 = 0x63;
    /// Set or clear the away message.
    pub const AWAY: u8 = 0x64;
    /// Details of one nick.
    pub const WHOIS: u8 = 0x65;
    /// Every room with its member count and topic.
    pub const LIST: u8 = 0x66;
    /// Become a server operator.
    pub const OPER: u8 = 0x67;
    /// Remove a member from a room.
    pub const KICK: u8 = 0x68;
    /// Server-wide counts.
    pub const LUSERS: u8 = 0x69;
    /// A room's creation time (channel MODE queries).
    pub const CHANINFO: u8 = 0x6A;
    /// Members of a room, or one nick, with their details.
    pub const WHO: u8 = 0x6B;
    /// A notice to a room or a nick.
    pub const NOTICE: u8 = 0x6C;
    /// Leave the server with a reason.
    pub const QUIT: u8 = 0x6D;
    /// Nothing (keeps the keepalive clock running, e.g. an IRC PONG).
    pub const NOOP: u8 = 0x6E;
    /// Change one room mode (topic lock, secret, operator, voice).
    pub const MODE: u8 = 0x6F;
    /// Set the user's own modes (invisible).
    pub const UMODE: u8 = 0x70;
    /// Leave a room with a reason.
    pub const PART: u8 = 0x71;
}

/// Reply type bytes.
pub mod rep {
    /// Echo of a CTX request's marker, with the registration state.
    pub const CTX: u8 = 0xE0;
    /// Echo of a LINES request.
    pub const LINES: u8 = 0xE1;
    /// A NICK request was refused.
    pub const NICK_REFUSED: u8 = 0xE2;
    /// A registered nick changed (to the renamer and gateway members of its rooms).
    pub const NICK_CHANGED: u8 = 0xE3;
    /// A room's topic (as asked, or as just changed).
    pub const TOPIC: u8 = 0xE4;
    /// A room request was refused for lack of rights or a missing member.
    pub const REFUSED: u8 = 0xE5;
    /// The away state after an AWAY request.
    pub const AWAY: u8 = 0xE6;
    /// Details of one nick.
    pub const WHOIS: u8 = 0xE7;
    /// One room of a LIST.
    pub const LIST_ENTRY: u8 = 0xE8;
    /// End of a LIST.
    pub const LIST_END: u8 = 0xE9;
    /// Outcome of OPER.
    pub const OPER: u8 = 0xEA;
    /// Someone was kicked from a room (to gateway members of the room).
    pub const KICKED: u8 = 0xEB;
    /// Server-wide counts.
    pub const LUSERS: u8 = 0xEC;
    /// One member of a WHO.
    pub const WHO_ENTRY: u8 = 0xEE;
    /// End of a WHO.
    pub const WHO_END: u8 = 0xEF;
    /// A notice.
    pub const NOTICE: u8 = 0xF0;
    /// The reason of a member's coming quit (its LEFT frames follow).
    pub const QUIT_NOTE: u8 = 0xF1;
    /// The connection has been silent: ask the client for a sign of life.
    pub const PING: u8 = 0xF2;
    /// After a JOIN or WHO inside CTX, or for CHANINFO: the room's modes,
    /// operators and voiced members, and topic.
    pub const ROOM_INFO: u8 = 0xF3;
    /// A room mode changed (to gateway members of the room).
    pub const MODE: u8 = 0xF4;
    /// A member left a room with a reason (to gateway members of the room).
    pub const PARTED: u8 = 0xF5;
}

/// Room mode bits of ROOM_INFO.
pub mod room_modes {
    /// Only operators set the topic (`+t`).
    pub const TOPIC_LOCK: u8 = 1;
    /// Secret (`+s`): not listed to non-members.
    pub const SECRET: u8 = 2;
}

/// Why a room request was refused (REFUSED `what`).
pub mod refused {
    /// The asker is not the room's operator nor a server operator.
    pub const NOT_OPERATOR: u8 = 1;
    /// The target nick is not in the room.
    pub const TARGET_NOT_IN_ROOM: u8 = 2;
}

/// Why a NICK request was refused (NICK_REFUSED `reason`).
pub mod nick_refused {
    /// Not a valid nick.
    pub const INVALID: u8 = 0;
    /// Registered by someone else (ASCII case folding).
    pub const IN_USE: u8 = 1;
}

/// Flags of WHO_ENTRY and WHOIS.
pub mod who_flags {
    /// Away.
    pub const AWAY: u8 = 1;
    /// Server operator.
    pub const OPER: u8 = 2;
    /// The room's operator.
    pub const CHANOP: u8 = 4;
    /// Connected through a gateway (not native).
    pub const GATEWAY: u8 = 8;
}
