//! The wire codec: frames (`STX | LEN | PAYLOAD | CRC-32 | ETX`), typed
//! messages, name and text rules, and the protocol's error and reason codes.
//!
//! Nothing here touches a socket or a clock. The decoder is incremental and
//! allocation-free in steady state; encoders append to a caller's buffer so a
//! broadcast can be encoded once and its bytes copied to every recipient.

pub mod codes;
pub mod decoder;
pub mod frame;
pub mod message;
pub mod names;
pub mod wire;

pub use codes::{ErrorCode, LeftReason};
pub use decoder::{Event, FrameDecoder};
pub use frame::{
    DEFAULT_MAX_PAYLOAD, ETX, FRAME_OVERHEAD, FrameError, FrameTooLong, MAX_PAYLOAD_LIMIT, STX,
    begin_frame, encode_frame, end_frame,
};
pub use message::{
    ClientMessage, EncodeError, FLAG_MORE, FLAG_PARTIAL, FLAG_REPLAYED, MessageError, NickList,
    ROOM_QUIET, ServerMessage, encode_members, encode_partial_members, mark_replayed, msg_type,
};
pub use names::{
    MAX_NICK_LEN, MAX_ROOM_LEN, NameKey, is_valid_nick, is_valid_room, is_valid_text,
    max_message_text, max_private_text, names_equal,
};

/// Protocol version 1 (section 5.1: a server speaks 1 and 2). Clients that
/// predate version 2 and tests of version-1 behaviour say this.
pub const PROTOCOL_VERSION: u8 = 1;

/// Protocol version 2: version 1 plus quiet rooms (ROOM, MEMBERS bit 1).
pub const PROTOCOL_V2: u8 = 2;

/// Whether a server of this implementation accepts a HELLO of `version`.
pub fn is_supported_version(version: u8) -> bool {
    version == PROTOCOL_VERSION || version == PROTOCOL_V2
}
