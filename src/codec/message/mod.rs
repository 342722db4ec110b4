//! Typed messages (PROTOCOL.md section 3): decode from a payload, encode to
//! a whole frame appended to a caller's buffer.
//!
//! Decoded messages borrow their strings from the payload, so decoding never
//! allocates. Decoding checks structure only (field layout, lengths, UTF-8);
//! name and text rules are in [`crate::codec::names`] because the protocol
//! answers them differently depending on context.

use crate::codec::frame::{FrameTooLong, begin_frame, end_frame};
use crate::codec::wire::{
    FieldTooLong, Reader, Truncated, put_str8, put_str16, put_u16, put_u32, put_u64,
};

/// Message type bytes.
pub mod msg_type {
    /// Client HELLO.
    pub const HELLO: u8 = 0x01;
    /// Client JOIN.
    pub const JOIN: u8 = 0x02;
    /// Client PART.
    pub const PART: u8 = 0x03;
    /// Client SAY.
    pub const SAY: u8 = 0x04;
    /// Client WHISPER.
    pub const WHISPER: u8 = 0x05;
    /// Client WHO.
    pub const WHO: u8 = 0x06;
    /// Client PING.
    pub const PING: u8 = 0x07;
    /// Client BYE.
    pub const BYE: u8 = 0x08;
    /// Server WELCOME.
    pub const WELCOME: u8 = 0x81;
    /// Server MESSAGE.
    pub const MESSAGE: u8 = 0x82;
    /// Server PRIVATE.
    pub const PRIVATE: u8 = 0x83;
    /// Server JOINED.
    pub const JOINED: u8 = 0x84;
    /// Server LEFT.
    pub const LEFT: u8 = 0x85;
    /// Server MEMBERS.
    pub const MEMBERS: u8 = 0x86;
    /// Server PONG.
    pub const PONG: u8 = 0x87;
    /// Server ERROR.
    pub const ERROR: u8 = 0x88;
    /// Server ROOM (version 2 only).
    pub const ROOM: u8 = 0x89;
}

/// Why a payload did not decode into a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageError {
    /// Bytes missing or left over, a length past the payload, or bad UTF-8.
    Malformed,
    /// The type byte is not one this side of the protocol knows.
    UnknownType(u8),
}

impl std::fmt::Display for MessageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MessageError::Malformed => f.write_str("malformed payload"),
            MessageError::UnknownType(t) => write!(f, "unknown message type 0x{t:02x}"),
        }
    }
}

impl std::error::Error for MessageError {}

impl From<Truncated> for MessageError {
    fn from(_: Truncated) -> Self {
        MessageError::Malformed
    }
}

/// Why a message could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeError {
    /// A string is longer than its length prefix allows.
    FieldTooLong,
    /// The payload does not fit the frame limit.
    Frame(FrameTooLong),
}

impl std::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EncodeError::FieldTooLong => f.write_str("a string is too long for its field"),
            EncodeError::Frame(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for EncodeError {}

impl From<FieldTooLong> for EncodeError {
    fn from(_: FieldTooLong) -> Self {
        EncodeError::FieldTooLong
    }
}

impl From<FrameTooLong> for EncodeError {
    fn from(e: FrameTooLong) -> Self {
        EncodeError::Frame(e)
    }
}

/// Encodes one frame whose payload `body` writes; on failure `out` is left
/// as it was. (Also used by the admin channel's messages.)
#[inline]
pub fn frame_with(
    out: &mut Vec<u8>,
    max_payload: usize,
    body: impl FnOnce(&mut Vec<u8>) -> Result<(), FieldTooLong>,
) -> Result<(), EncodeError> {
    let start = begin_frame(out);
    if let Err(e) = body(out) {
        out.truncate(start);
        return Err(e.into());
    }
    end_frame(out, start, max_payload)?;
    Ok(())
}

/// A message from a client to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientMessage<'a> {
    /// Registration: protocol version, nick, password token.
    Hello {
        /// Protocol version (1 or 2; the codec accepts any byte, the
        /// engine answers others with `bad_version`).
        version: u8,
        /// Requested nick.
        nick: &'a str,
        /// Password token, empty if none.
        token: &'a str,
    },
    /// Join (and maybe create) a room.
    Join {
        /// Room name.
        room: &'a str,
    },
    /// Leave a room.
    Part {
        /// Room name.
        room: &'a str,
    },
    /// Say something to a room.
    Say {
        /// Room name.
        room: &'a str,
        /// Text.
        text: &'a str,
    },
    /// A private message to one nick.
    Whisper {
        /// Recipient nick.
        to: &'a str,
        /// Text.
        text: &'a str,
    },
    /// Ask for a room's member list.
    Who {
        /// Room name.
        room: &'a str,
    },
    /// Keepalive / barrier; answered with PONG carrying the same token.
    Ping {
        /// Opaque token.
        token: u64,
    },
    /// Leave the server.
    Bye,
}

impl<'a> ClientMessage<'a> {
    /// Decodes a payload (type byte first).
    pub fn decode(payload: &'a [u8]) -> Result<Self, MessageError> {
        let (&ty, body) = payload.split_first().ok_or(MessageError::Malformed)?;
        let mut r = Reader::new(body);
        let msg = match ty {
            msg_type::HELLO => ClientMessage::Hello {
                version: r.u8()?,
                nick: r.str8()?,
                token: r.str8()?,
            },
            msg_type::JOIN => ClientMessage::Join { room: r.str8()? },
            msg_type::PART => ClientMessage::Part { room: r.str8()? },
            msg_type::SAY => ClientMessage::Say {
                room: r.str8()?,
                text: r.str16()?,
            },
            msg_type::WHISPER => ClientMessage::Whisper {
                to: r.str8()?,
                text: r.str16()?,
            },
            msg_type::WHO => ClientMessage::Who { room: r.str8()? },
            msg_type::PING => ClientMessage::Ping { token: r.u64()? },
            msg_type::BYE => ClientMessage::Bye,
            other => return Err(MessageError::UnknownType(other)),
        };
        r.finish()?;
        Ok(msg)
    }

    /// The message's type byte.
    pub fn type_byte(&self) -> u8 {
        match self {
            ClientMessage::Hello { .. } => msg_type::HELLO,
            ClientMessage::Join { .. } => msg_type::JOIN,
            ClientMessage::Part { .. } => msg_type::PART,
            ClientMessage::Say { .. } => msg_type::SAY,
            ClientMessage::Whisper { .. } => msg_type::WHISPER,
            ClientMessage::Who { .. } => msg_type::WHO,
            ClientMessage::Ping { .. } => msg_type::PING,
            ClientMessage::Bye => msg_type::BYE,
        }
    }

    /// Appends the payload (no frame) to `out`.
    pub fn encode_payload(&self, out: &mut Vec<u8>) -> Result<(), FieldTooLong> {
        out.push(self.type_byte());
        match *self {
            ClientMessage::Hello {
                version,
                nick,
                token,
            } => {
                out.push(version);
                put_str8(out, nick)?;
                put_str8(out, token)?;
            }
            ClientMessage::Join { room }
            | ClientMessage::Part { room }
            | ClientMessage::Who { room } => put_str8(out, room)?,
            ClientMessage::Say { room: a, text } | ClientMessage::Whisper { to: a, text } => {
                put_str8(out, a)?;
                put_str16(out, text)?;
            }
            ClientMessage::Ping { token } => put_u64(out, token),
            ClientMessage::Bye => {}
        }
        Ok(())
    }

    /// Appends the whole frame to `out`; nothing is appended on error.
    pub fn encode(&self, out: &mut Vec<u8>, max_payload: usize) -> Result<(), EncodeError> {
        frame_with(out, max_payload, |o| self.encode_payload(o))
    }
}

/// The nicks of a MEMBERS frame: either raw `str8` entries as they came off
/// the wire (already checked), or a list to encode.
#[derive(Debug, Clone, Copy)]
pub enum NickList<'a> {
    /// `count` consecutive `str8` entries, validated at decode.
    Raw {
        /// Number of entries.
        count: u16,
        /// The entries' bytes.
        bytes: &'a [u8],
    },
    /// A list of nicks.
    List(&'a [&'a str]),
}

impl<'a> NickList<'a> {
    /// Number of nicks.
    pub fn len(&self) -> usize {
        match self {
            NickList::Raw { count, .. } => usize::from(*count),
            NickList::List(l) => l.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The nicks in order.
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + 'a {
        let (raw, list) = match *self {
            NickList::Raw { count, bytes } => (Some((Reader::new(bytes), count)), None),
            NickList::List(l) => (None, Some(l.iter().copied())),
        };
        let raw_iter = raw
            .into_iter()
            .flat_map(|(mut r, count)| (0..count).map_while(move |_| r.str8().ok()));
        raw_iter.chain(list.into_iter().flatten())
    }
}

impl PartialEq for NickList<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for NickList<'_> {}

/// A message from the server to a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerMessage<'a> {
    /// Registration accepted.
    Welcome {
        /// Protocol version.
        version: u8,
        /// The nick as registered.
        nick: &'a str,
        /// The server's name.
        server_name: &'a str,
        /// The server's frame payload limit.
        max_payload: u16,
        /// Keepalive period in seconds; 0 = none.
        keepalive_secs: u16,
    },
    /// A room message (live, or replayed from history when `flags & 1`).
    Message {
        /// Bit 0: replayed from history.
        flags: u8,
        /// Server-wide sequence number.
        seq: u64,
        /// Server time of acceptance, Unix ms.
        time_ms: u64,
        /// Room.
        room: &'a str,
        /// Sender nick.
        from: &'a str,
        /// Text.
        text: &'a str,
    },
    /// A private message.
    Private {
        /// Bit 0: replayed (never set for PRIVATE).
        flags: u8,
        /// Server-wide sequence number.
        seq: u64,
        /// Server time of acceptance, Unix ms.
        time_ms: u64,
        /// Sender nick.
        from: &'a str,
        /// Recipient nick.
        to: &'a str,
        /// Text.
        text: &'a str,
    },
    /// Someone joined a room.
    Joined {
        /// Room.
        room: &'a str,
        /// Nick.
        nick: &'a str,
    },
    /// Someone left a room.
    Left {
        /// Room.
        room: &'a str,
        /// Nick.
        nick: &'a str,
        /// LEFT reason (see [`crate::codec::LeftReason`]).
        reason: u8,
    },
    /// One frame of a room's member list.
    Members {
        /// Room.
        room: &'a str,
        /// Bit 0 ([`FLAG_MORE`]): more MEMBERS frames for this room follow;
        /// bit 1 ([`FLAG_PARTIAL`], version 2): a quiet room's partial list.
        flags: u8,
        /// The nicks in this frame.
        nicks: NickList<'a>,
    },
    /// Answer to PING.
    Pong {
        /// The PING's token.
        token: u64,
    },
    /// An error (see [`crate::codec::ErrorCode`]).
    Error {
        /// Error code.
        code: u16,
        /// Human-readable detail.
        detail: &'a str,
    },
    /// A room's presence summary (version 2 only, section 5).
    Room {
        /// Room.
        room: &'a str,
        /// Bit 0 ([`ROOM_QUIET`]): the room is quiet.
        flags: u8,
        /// The member count when the frame was produced.
        members: u32,
    },
}

/// Flag bit 0 of MESSAGE/PRIVATE: replayed from history.
pub const FLAG_REPLAYED: u8 = 1;
/// Flag bit 0 of MEMBERS: more frames follow.
pub const FLAG_MORE: u8 = 1;
/// Flag bit 1 of MEMBERS (version 2): the partial list of a quiet room.
pub const FLAG_PARTIAL: u8 = 2;
/// Flag bit 0 of ROOM: the room is quiet.
pub const ROOM_QUIET: u8 = 1;

impl<'a> ServerMessage<'a> {
    /// Decodes a payload (type byte first).
    pub fn decode(payload: &'a [u8]) -> Result<Self, MessageError> {
        let (&ty, body) = payload.split_first().ok_or(MessageError::Malformed)?;
        let mut r = Reader::new(body);
        let msg = match ty {
            msg_type::WELCOME => ServerMessage::Welcome {
                version: r.u8()?,
                nick: r.str8()?,
                server_name: r.str8()?,
                max_payload: r.u16()?,
                keepalive_secs: r.u16()?,
            },
            msg_type::MESSAGE => ServerMessage::Message {
                flags: r.u8()?,
                seq: r.u64()?,
                time_ms: r.u64()?,
                room: r.str8()?,
                from: r.str8()?,
                text: r.str16()?,
            },
            msg_type::PRIVATE => ServerMessage::Private {
                flags: r.u8()?,
                seq: r.u64()?,
                time_ms: r.u64()?,
                from: r.str8()?,
                to: r.str8()?,
                text: r.str16()?,
            },
            msg_type::JOINED => ServerMessage::Joined {
                room: r.str8()?,
                nick: r.str8()?,
            },
            msg_type::LEFT => ServerMessage::Left {
                room: r.str8()?,
                nick: r.str8()?,
                reason: r.u8()?,
            },
            msg_type::MEMBERS => {
                let room = r.str8()?;
                let flags = r.u8()?;
                let count = r.u16()?;
                let start = r.position();
                for _ in 0..count {
                    r.str8()?;
                }
                let bytes = &body[start..r.position()];
                ServerMessage::Members {
                    room,
                    flags,
                    nicks: NickList::Raw { count, bytes },
                }
            }
            msg_type::PONG => ServerMessage::Pong { token: r.u64()? },
            msg_type::ERROR => ServerMessage::Error {
                code: r.u16()?,
                detail: r.str16()?,
            },
            msg_type::ROOM => ServerMessage::Room {
                room: r.str8()?,
                flags: r.u8()?,
                members: r.u32()?,
            },
            other => return Err(MessageError::UnknownType(other)),
        };
        r.finish()?;
        Ok(msg)
    }

    /// The message's type byte.
    pub fn type_byte(&self) -> u8 {
        match self {
            ServerMessage::Welcome { .. } => msg_type::WELCOME,
            ServerMessage::Message { .. } => msg_type::MESSAGE,
            ServerMessage::Private { .. } => msg_type::PRIVATE,
            ServerMessage::Joined { .. } => msg_type::JOINED,
            ServerMessage::Left { .. } => msg_type::LEFT,
            ServerMessage::Members { .. } => msg_type::MEMBERS,
            ServerMessage::Pong { .. } => msg_type::PONG,
            ServerMessage::Error { .. } => msg_type::ERROR,
            ServerMessage::Room { .. } => msg_type::ROOM,
        }
    }

    /// Appends the payload (no frame) to `out`.
    pub fn encode_payload(&self, out: &mut Vec<u8>) -> Result<(), FieldTooLong> {
        out.push(self.type_byte());
        match *self {
            ServerMessage::Welcome {
                version,
                nick,
                server_name,
                max_payload,
                keepalive_secs,
            } => {
                out.push(version);
                put_str8(out, nick)?;
                put_str8(out, server_name)?;
                put_u16(out, max_payload);
                put_u16(out, keepalive_secs);
            }
            ServerMessage::Message {
                flags,
                seq,
                time_ms,
                room: a,
                from: b,
                text,
            }
            | ServerMessage::Private {
                flags,
                seq,
                time_ms,
                from: a,
                to: b,
                text,
            } => {
                out.push(flags);
                put_u64(out, seq);
                put_u64(out, time_ms);
                put_str8(out, a)?;
                put_str8(out, b)?;
                put_str16(out, text)?;
            }
            ServerMessage::Joined { room, nick } => {
                put_str8(out, room)?;
                put_str8(out, nick)?;
            }
            ServerMessage::Left { room, nick, reason } => {
                put_str8(out, room)?;
                put_str8(out, nick)?;
                out.push(reason);
            }
            ServerMessage::Members { room, flags, nicks } => {
                put_str8(out, room)?;
                out.push(flags);
                let count = u16::try_from(nicks.len()).map_err(|_| FieldTooLong)?;
                put_u16(out, count);
                match nicks {
                    NickList::Raw { bytes, .. } => out.extend_from_slice(bytes),
                    NickList::List(list) => {
                        for n in list {
                            put_str8(out, n)?;
                        }
                    }
                }
            }
            ServerMessage::Pong { token } => put_u64(out, token),
            ServerMessage::Error { code, detail } => {
                put_u16(out, code);
                put_str16(out, detail)?;
            }
            ServerMessage::Room {
                room,
                flags,
                members,
            } => {
                put_str8(out, room)?;
                out.push(flags);
                put_u32(out, members);
            }
        }
        Ok(())
    }

    /// Appends the whole frame to `out`; nothing is appended on error.
    pub fn encode(&self, out: &mut Vec<u8>, max_payload: usize) -> Result<(), EncodeError> {
        frame_with(out, max_payload, |o| self.encode_payload(o))
    }
}

/// Turns an encoded live MESSAGE frame into its history replay: sets bit 0
/// of `flags` and recomputes the CRC. `frame` must be one whole MESSAGE frame.
pub fn mark_replayed(frame: &mut [u8]) {
    const FLAGS_AT: usize = 4;
    let n = frame.len();
    if n < FLAGS_AT + 1 + 5 || frame[3] != msg_type::MESSAGE {
        return;
    }
    frame[FLAGS_AT] |= FLAG_REPLAYED;
    let crc = crate::codec::frame::frame_crc([frame[1], frame[2]], &frame[3..n - 5]);
    frame[n - 5..n - 1].copy_from_slice(&crc.to_be_bytes());
}

/// Encodes a room's member list as as many MEMBERS frames as needed, each
/// carrying at least one nick and fitting `max_payload`, all but the last with
/// the "more" flag. An empty list gives one frame with count 0. Returns the
/// number of frames written.
pub fn encode_members<'n>(
    out: &mut Vec<u8>,
    max_payload: usize,
    room: &str,
    nicks: impl IntoIterator<Item = &'n str>,
) -> Result<usize, EncodeError> {
    let mut frames = 0;
    let header = 1 + 1 + room.len() + 1 + 2;
    let mut nicks = nicks.into_iter().peekable();
    loop {
        let start = begin_frame(out);
        out.push(msg_type::MEMBERS);
        put_str8(out, room).inspect_err(|_| out.truncate(start))?;
        let flags_at = out.len();
        out.extend_from_slice(&[0, 0, 0]);
        let mut used = header;
        let mut count: u16 = 0;
        while let Some(n) = nicks.peek() {
            let cost = 1 + n.len();
            if count > 0 && (used + cost > max_payload || count == u16::MAX) {
                break;
            }
            if n.len() > usize::from(u8::MAX) {
                out.truncate(start);
                return Err(EncodeError::FieldTooLong);
            }
            put_str8(out, n)?;
            used += cost;
            count += 1;
            nicks.next();
        }
        let more = nicks.peek().is_some();
        out[flags_at] = if more { FLAG_MORE } else { 0 };
        out[flags_at + 1..flags_at + 3].copy_from_slice(&count.to_be_bytes());
        end_frame(out, start, max_payload)?;
        frames += 1;
        if !more {
            return Ok(frames);
        }
    }
}

/// Encodes the one MEMBERS frame of a quiet room (section 5.2) with `flags`
/// ([`FLAG_PARTIAL`] for a version-2 client, 0 for version 1), holding the
/// first nicks of `nicks` in order, at most `limit` of them and as many as
/// fit `max_payload`. Stops reading `nicks` at the first that does not fit.
/// Returns how many nicks the frame carries.
pub fn encode_partial_members<'n>(
    out: &mut Vec<u8>,
    max_payload: usize,
    room: &str,
    flags: u8,
    limit: usize,
    nicks: impl IntoIterator<Item = &'n str>,
) -> Result<usize, EncodeError> {
    let start = begin_frame(out);
    out.push(msg_type::MEMBERS);
    put_str8(out, room).inspect_err(|_| out.truncate(start))?;
    out.push(flags);
    let count_at = out.len();
    out.extend_from_slice(&[0, 0]);
    let mut used = 1 + 1 + room.len() + 1 + 2;
    let mut count: u16 = 0;
    let limit = limit.min(usize::from(u16::MAX));
    for n in nicks {
        if usize::from(count) == limit || used + 1 + n.len() > max_payload {
            break;
        }
        if put_str8(out, n).is_err() {
            out.truncate(start);
            return Err(EncodeError::FieldTooLong);
        }
        used += 1 + n.len();
        count += 1;
    }
    out[count_at..count_at + 2].copy_from_slice(&count.to_be_bytes());
    end_frame(out, start, max_payload)?;
    Ok(usize::from(count))
}

#[cfg(test)]
mod tests;
