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
    ClientMessage, EncodeError, FLAG_MORE, FLAG_REPLAYED, MessageError, NickList, ServerMessage,
    encode_members, mark_replayed, msg_type,
};
pub use names::{
    MAX_NICK_LEN, MAX_ROOM_LEN, NameKey, is_valid_nick, is_valid_room, is_valid_text,
    max_message_text, max_private_text, names_equal,
};

/// Protocol version spoken by this implementation.
pub const PROTOCOL_VERSION: u8 = 1;
