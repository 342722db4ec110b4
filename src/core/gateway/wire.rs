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

use crate::codec::message::frame_with;
use crate::codec::wire::{FieldTooLong, Reader, Truncated, put_str8, put_str16, put_u16, put_u64};

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

/// A gateway request, decoded (strings borrow from the payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request<'a> {
    /// Echo `ctx`, then handle `inner` (a chat-protocol payload) if not empty.
    Ctx {
        /// Opaque marker for the gateway.
        ctx: &'a [u8],
        /// A chat request payload, or empty.
        inner: &'a [u8],
    },
    /// Echo these bytes.
    Lines(&'a [u8]),
    /// Register (when pending) or rename.
    Nick {
        /// Wanted nick.
        nick: &'a str,
        /// Password token.
        token: &'a str,
        /// User name.
        user: &'a str,
        /// Real name.
        realname: &'a str,
    },
    /// Read (`text` None) or set a room's topic.
    Topic {
        /// Room.
        room: &'a str,
        /// New topic (empty clears it).
        text: Option<&'a str>,
    },
    /// Away message; empty = back.
    Away(&'a str),
    /// Details of a nick.
    Whois(&'a str),
    /// All rooms.
    List,
    /// Become an operator.
    Oper {
        /// Operator name.
        name: &'a str,
        /// Operator password.
        password: &'a str,
    },
    /// Kick `nick` out of `room`.
    Kick {
        /// Room.
        room: &'a str,
        /// Who.
        nick: &'a str,
        /// Why.
        reason: &'a str,
    },
    /// Server counts.
    Lusers,
    /// A room's creation time.
    ChanInfo(&'a str),
    /// Members of the room `mask`, or the users matching the glob `mask`.
    Who {
        /// Room name or glob.
        mask: &'a str,
        /// Whether `mask` names a room.
        room: bool,
    },
    /// Change one mode of a room.
    Mode {
        /// Room.
        room: &'a str,
        /// Set (else unset).
        plus: bool,
        /// `t`, `o` or `v`.
        mode: u8,
        /// The nick for `o` and `v`.
        arg: &'a str,
    },
    /// A notice.
    Notice {
        /// Room or nick.
        target: &'a str,
        /// Whether `target` is a room.
        to_room: bool,
        /// Text.
        text: &'a str,
    },
    /// Quit with a reason.
    Quit(&'a str),
    /// The user's own modes.
    UserMode {
        /// `+i`: not listed by WHO masks to those who share no room.
        invisible: bool,
    },
    /// Leave a room with a reason.
    Part {
        /// Room.
        room: &'a str,
        /// Reason (may be empty).
        reason: &'a str,
    },
    /// Nothing.
    Noop,
}

impl<'a> Request<'a> {
    /// Decodes a payload whose type byte is in the request range.
    pub fn decode(payload: &'a [u8]) -> Result<Self, Truncated> {
        let (&ty, body) = payload.split_first().ok_or(Truncated)?;
        let mut r = Reader::new(body);
        let m = match ty {
            req::CTX => {
                let n = usize::from(r.u8()?);
                let ctx = r.bytes(n)?;
                let inner = &body[1 + n..];
                return Ok(Request::Ctx { ctx, inner });
            }
            req::LINES => return Ok(Request::Lines(body)),
            req::NICK => Request::Nick {
                nick: r.str8()?,
                token: r.str8()?,
                user: r.str8()?,
                realname: r.str8()?,
            },
            req::TOPIC => {
                let room = r.str8()?;
                let set = r.u8()? != 0;
                let text = r.str16()?;
                Request::Topic {
                    room,
                    text: set.then_some(text),
                }
            }
            req::AWAY => Request::Away(r.str16()?),
            req::WHOIS => Request::Whois(r.str8()?),
            req::LIST => Request::List,
            req::OPER => Request::Oper {
                name: r.str8()?,
                password: r.str8()?,
            },
            req::KICK => Request::Kick {
                room: r.str8()?,
                nick: r.str8()?,
                reason: r.str16()?,
            },
            req::LUSERS => Request::Lusers,
            req::CHANINFO => Request::ChanInfo(r.str8()?),
            req::WHO => Request::Who {
                mask: r.str8()?,
                room: r.u8()? != 0,
            },
            req::MODE => Request::Mode {
                room: r.str8()?,
                plus: r.u8()? != 0,
                mode: r.u8()?,
                arg: r.str8()?,
            },
            req::NOTICE => Request::Notice {
                target: r.str8()?,
                to_room: r.u8()? != 0,
                text: r.str16()?,
            },
            req::QUIT => Request::Quit(r.str16()?),
            req::UMODE => Request::UserMode {
                invisible: r.u8()? != 0,
            },
            req::PART => Request::Part {
                room: r.str8()?,
                reason: r.str16()?,
            },
            req::NOOP => Request::Noop,
            _ => return Err(Truncated),
        };
        r.finish()?;
        Ok(m)
    }

    /// Appends the whole frame to `out`; nothing is appended on error.
    pub fn encode(
        &self,
        out: &mut Vec<u8>,
        max_payload: usize,
    ) -> Result<(), crate::codec::EncodeError> {
        frame_with(out, max_payload, |o| self.encode_payload(o))
    }

    fn encode_payload(&self, o: &mut Vec<u8>) -> Result<(), FieldTooLong> {
        match *self {
            Request::Ctx { ctx, inner } => {
                o.push(req::CTX);
                let n = u8::try_from(ctx.len()).map_err(|_| FieldTooLong)?;
                o.push(n);
                o.extend_from_slice(ctx);
                o.extend_from_slice(inner);
            }
            Request::Lines(b) => {
                o.push(req::LINES);
                o.extend_from_slice(b);
            }
            Request::Nick {
                nick,
                token,
                user,
                realname,
            } => {
                o.push(req::NICK);
                put_str8(o, nick)?;
                put_str8(o, token)?;
                put_str8(o, user)?;
                put_str8(o, realname)?;
            }
            Request::Topic { room, text } => {
                o.push(req::TOPIC);
                put_str8(o, room)?;
                o.push(u8::from(text.is_some()));
                put_str16(o, text.unwrap_or(""))?;
            }
            Request::Away(t) => {
                o.push(req::AWAY);
                put_str16(o, t)?;
            }
            Request::Whois(n) => {
                o.push(req::WHOIS);
                put_str8(o, n)?;
            }
            Request::List => o.push(req::LIST),
            Request::Oper { name, password } => {
                o.push(req::OPER);
                put_str8(o, name)?;
                put_str8(o, password)?;
            }
            Request::Kick { room, nick, reason } => {
                o.push(req::KICK);
                put_str8(o, room)?;
                put_str8(o, nick)?;
                put_str16(o, reason)?;
            }
            Request::Lusers => o.push(req::LUSERS),
            Request::ChanInfo(r) => {
                o.push(req::CHANINFO);
                put_str8(o, r)?;
            }
            Request::Who { mask, room } => {
                o.push(req::WHO);
                put_str8(o, mask)?;
                o.push(u8::from(room));
            }
            Request::Mode {
                room,
                plus,
                mode,
                arg,
            } => {
                o.push(req::MODE);
                put_str8(o, room)?;
                o.push(u8::from(plus));
                o.push(mode);
                put_str8(o, arg)?;
            }
            Request::Notice {
                target,
                to_room,
                text,
            } => {
                o.push(req::NOTICE);
                put_str8(o, target)?;
                o.push(u8::from(to_room));
                put_str16(o, text)?;
            }
            Request::Quit(t) => {
                o.push(req::QUIT);
                put_str16(o, t)?;
            }
            Request::Noop => o.push(req::NOOP),
            Request::UserMode { invisible } => {
                o.push(req::UMODE);
                o.push(u8::from(invisible));
            }
            Request::Part { room, reason } => {
                o.push(req::PART);
                put_str8(o, room)?;
                put_str16(o, reason)?;
            }
        }
        Ok(())
    }
}

/// Details of one member (WHO_ENTRY) or nick (WHOIS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserInfo<'a> {
    /// Nick.
    pub nick: &'a str,
    /// User name (for native clients, the nick).
    pub user: &'a str,
    /// Host as shown.
    pub host: &'a str,
    /// Real name (for native clients, the nick).
    pub realname: &'a str,
    /// [`who_flags`] bits.
    pub flags: u8,
}

impl<'a> UserInfo<'a> {
    fn put(&self, o: &mut Vec<u8>) -> Result<(), FieldTooLong> {
        put_str8(o, self.nick)?;
        put_str8(o, self.user)?;
        put_str8(o, self.host)?;
        put_str8(o, self.realname)?;
        o.push(self.flags);
        Ok(())
    }

    fn read(r: &mut Reader<'a>) -> Result<Self, Truncated> {
        Ok(UserInfo {
            nick: r.str8()?,
            user: r.str8()?,
            host: r.str8()?,
            realname: r.str8()?,
            flags: r.u8()?,
        })
    }
}

/// A room's topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TopicInfo<'a> {
    /// Topic text; empty = none.
    pub text: &'a str,
    /// Who set it.
    pub setter: &'a str,
    /// When, Unix ms.
    pub time_ms: u64,
}

impl<'a> TopicInfo<'a> {
    fn put(&self, o: &mut Vec<u8>) -> Result<(), FieldTooLong> {
        put_str16(o, self.text)?;
        put_str8(o, self.setter)?;
        put_u64(o, self.time_ms);
        Ok(())
    }

    fn read(r: &mut Reader<'a>) -> Result<Self, Truncated> {
        Ok(TopicInfo {
            text: r.str16()?,
            setter: r.str8()?,
            time_ms: r.u64()?,
        })
    }
}

/// A gateway reply, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply<'a> {
    /// Echo of a CTX marker.
    Ctx {
        /// Whether the session was registered when the request was handled.
        registered: bool,
        /// The marker.
        ctx: &'a [u8],
    },
    /// Echo of LINES.
    Lines(&'a [u8]),
    /// NICK refused.
    NickRefused {
        /// [`nick_refused`] reason.
        reason: u8,
        /// The nick asked for.
        nick: &'a str,
    },
    /// A nick changed.
    NickChanged {
        /// Old nick.
        old: &'a str,
        /// New nick.
        new: &'a str,
    },
    /// A room's topic.
    Topic {
        /// Room.
        room: &'a str,
        /// Whether it was just changed (else: asked for).
        changed: bool,
        /// The topic.
        topic: TopicInfo<'a>,
    },
    /// Refused for lack of rights or a missing target.
    Refused {
        /// [`refused`] reason.
        what: u8,
        /// Room.
        room: &'a str,
        /// Target nick, if any.
        nick: &'a str,
    },
    /// Away state now.
    Away(bool),
    /// Details of a nick.
    Whois {
        /// Who.
        user: UserInfo<'a>,
        /// Away message, empty if not away.
        away: &'a str,
        /// Registration time, Unix ms.
        signon_ms: u64,
        /// Milliseconds since its last message.
        idle_ms: u64,
        /// Its rooms: per room a status byte (`@`, `+` or 0) and a `str8` name.
        rooms: &'a [u8],
    },
    /// One room of a LIST.
    ListEntry {
        /// Room.
        room: &'a str,
        /// Members.
        members: u32,
        /// Topic text.
        topic: &'a str,
    },
    /// End of LIST.
    ListEnd,
    /// OPER outcome.
    Oper(bool),
    /// Someone was kicked.
    Kicked {
        /// Room.
        room: &'a str,
        /// By whom.
        by: &'a str,
        /// Who.
        nick: &'a str,
        /// Why.
        reason: &'a str,
    },
    /// Server counts.
    Lusers {
        /// Registered clients.
        users: u32,
        /// Pending connections.
        unknown: u32,
        /// Rooms.
        rooms: u32,
    },
    /// One WHO entry.
    WhoEntry {
        /// The room the entry is listed for, empty for a nick query.
        room: &'a str,
        /// The member.
        user: UserInfo<'a>,
    },
    /// End of WHO.
    WhoEnd(&'a str),
    /// A notice.
    Notice {
        /// Sender.
        from: &'a str,
        /// Room or nick.
        to: &'a str,
        /// Whether `to` is a room.
        to_room: bool,
        /// Text.
        text: &'a str,
    },
    /// A member is quitting with this reason.
    QuitNote {
        /// Who.
        nick: &'a str,
        /// Why.
        reason: &'a str,
    },
    /// Ask the client for a sign of life.
    Ping,
    /// A room's modes, operators, voiced members and topic.
    RoomInfo {
        /// Room as spelt by its creator, or as asked if it does not exist.
        room: &'a str,
        /// Whether the room exists.
        exists: bool,
        /// [`room_modes`] bits.
        modes: u8,
        /// Creation time, Unix ms.
        created_ms: u64,
        /// `@nick` and `+nick` entries separated by spaces.
        status: &'a str,
        /// Topic.
        topic: TopicInfo<'a>,
    },
    /// A member left a room, with a reason.
    Parted {
        /// Room.
        room: &'a str,
        /// Who.
        nick: &'a str,
        /// Why (may be empty).
        reason: &'a str,
    },
    /// A room mode changed.
    Mode {
        /// Room.
        room: &'a str,
        /// Who changed it.
        by: &'a str,
        /// Set (else unset).
        plus: bool,
        /// Mode letter.
        mode: u8,
        /// Its nick argument, if any.
        arg: &'a str,
    },
}

fn put_u32(o: &mut Vec<u8>, v: u32) {
    o.extend_from_slice(&v.to_be_bytes());
}

fn read_u32(r: &mut Reader<'_>) -> Result<u32, Truncated> {
    let b = r.bytes(4)?;
    Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

impl<'a> Reply<'a> {
    /// Whether `ty` is a gateway reply type.
    pub fn is_reply_type(ty: u8) -> bool {
        ty >= rep::CTX
    }

    /// Decodes a payload whose type byte is in the reply range.
    pub fn decode(payload: &'a [u8]) -> Result<Self, Truncated> {
        let (&ty, body) = payload.split_first().ok_or(Truncated)?;
        let mut r = Reader::new(body);
        let m = match ty {
            rep::CTX => {
                let registered = r.u8()? != 0;
                return Ok(Reply::Ctx {
                    registered,
                    ctx: &body[1..],
                });
            }
            rep::LINES => return Ok(Reply::Lines(body)),
            rep::NICK_REFUSED => Reply::NickRefused {
                reason: r.u8()?,
                nick: r.str8()?,
            },
            rep::NICK_CHANGED => Reply::NickChanged {
                old: r.str8()?,
                new: r.str8()?,
            },
            rep::TOPIC => Reply::Topic {
                room: r.str8()?,
                changed: r.u8()? != 0,
                topic: TopicInfo::read(&mut r)?,
            },
            rep::REFUSED => Reply::Refused {
                what: r.u8()?,
                room: r.str8()?,
                nick: r.str8()?,
            },
            rep::AWAY => Reply::Away(r.u8()? != 0),
            rep::WHOIS => {
                let user = UserInfo::read(&mut r)?;
                let away = r.str16()?;
                let signon_ms = r.u64()?;
                let idle_ms = r.u64()?;
                let n = usize::from(r.u16()?);
                let rooms = r.bytes(n)?;
                Reply::Whois {
                    user,
                    away,
                    signon_ms,
                    idle_ms,
                    rooms,
                }
            }
            rep::LIST_ENTRY => Reply::ListEntry {
                room: r.str8()?,
                members: read_u32(&mut r)?,
                topic: r.str16()?,
            },
            rep::LIST_END => Reply::ListEnd,
            rep::OPER => Reply::Oper(r.u8()? != 0),
            rep::KICKED => Reply::Kicked {
                room: r.str8()?,
                by: r.str8()?,
                nick: r.str8()?,
                reason: r.str16()?,
            },
            rep::LUSERS => Reply::Lusers {
                users: read_u32(&mut r)?,
                unknown: read_u32(&mut r)?,
                rooms: read_u32(&mut r)?,
            },
            rep::WHO_ENTRY => Reply::WhoEntry {
                room: r.str8()?,
                user: UserInfo::read(&mut r)?,
            },
            rep::WHO_END => Reply::WhoEnd(r.str8()?),
            rep::NOTICE => Reply::Notice {
                from: r.str8()?,
                to: r.str8()?,
                to_room: r.u8()? != 0,
                text: r.str16()?,
            },
            rep::QUIT_NOTE => Reply::QuitNote {
                nick: r.str8()?,
                reason: r.str16()?,
            },
            rep::PING => Reply::Ping,
            rep::ROOM_INFO => Reply::RoomInfo {
                room: r.str8()?,
                exists: r.u8()? != 0,
                modes: r.u8()?,
                created_ms: r.u64()?,
                status: r.str16()?,
                topic: TopicInfo::read(&mut r)?,
            },
            rep::PARTED => Reply::Parted {
                room: r.str8()?,
                nick: r.str8()?,
                reason: r.str16()?,
            },
            rep::MODE => Reply::Mode {
                room: r.str8()?,
                by: r.str8()?,
                plus: r.u8()? != 0,
                mode: r.u8()?,
                arg: r.str8()?,
            },
            _ => return Err(Truncated),
        };
        r.finish()?;
        Ok(m)
    }

    /// Appends the whole frame to `out`; nothing is appended on error.
    pub fn encode(
        &self,
        out: &mut Vec<u8>,
        max_payload: usize,
    ) -> Result<(), crate::codec::EncodeError> {
        frame_with(out, max_payload, |o| self.encode_payload(o))
    }

    fn encode_payload(&self, o: &mut Vec<u8>) -> Result<(), FieldTooLong> {
        match *self {
            Reply::Ctx { registered, ctx } => {
                o.push(rep::CTX);
                o.push(u8::from(registered));
                o.extend_from_slice(ctx);
            }
            Reply::Lines(b) => {
                o.push(rep::LINES);
                o.extend_from_slice(b);
            }
            Reply::NickRefused { reason, nick } => {
                o.push(rep::NICK_REFUSED);
                o.push(reason);
                put_str8(o, nick)?;
            }
            Reply::NickChanged { old, new } => {
                o.push(rep::NICK_CHANGED);
                put_str8(o, old)?;
                put_str8(o, new)?;
            }
            Reply::Topic {
                room,
                changed,
                topic,
            } => {
                o.push(rep::TOPIC);
                put_str8(o, room)?;
                o.push(u8::from(changed));
                topic.put(o)?;
            }
            Reply::Refused { what, room, nick } => {
                o.push(rep::REFUSED);
                o.push(what);
                put_str8(o, room)?;
                put_str8(o, nick)?;
            }
            Reply::Away(a) => {
                o.push(rep::AWAY);
                o.push(u8::from(a));
            }
            Reply::Whois {
                user,
                away,
                signon_ms,
                idle_ms,
                rooms,
            } => {
                o.push(rep::WHOIS);
                user.put(o)?;
                put_str16(o, away)?;
                put_u64(o, signon_ms);
                put_u64(o, idle_ms);
                put_u16(o, u16::try_from(rooms.len()).map_err(|_| FieldTooLong)?);
                o.extend_from_slice(rooms);
            }
            Reply::ListEntry {
                room,
                members,
                topic,
            } => {
                o.push(rep::LIST_ENTRY);
                put_str8(o, room)?;
                put_u32(o, members);
                put_str16(o, topic)?;
            }
            Reply::ListEnd => o.push(rep::LIST_END),
            Reply::Oper(ok) => {
                o.push(rep::OPER);
                o.push(u8::from(ok));
            }
            Reply::Kicked {
                room,
                by,
                nick,
                reason,
            } => {
                o.push(rep::KICKED);
                put_str8(o, room)?;
                put_str8(o, by)?;
                put_str8(o, nick)?;
                put_str16(o, reason)?;
            }
            Reply::Lusers {
                users,
                unknown,
                rooms,
            } => {
                o.push(rep::LUSERS);
                for v in [users, unknown, rooms] {
                    put_u32(o, v);
                }
            }
            Reply::WhoEntry { room, user } => {
                o.push(rep::WHO_ENTRY);
                put_str8(o, room)?;
                user.put(o)?;
            }
            Reply::WhoEnd(m) => {
                o.push(rep::WHO_END);
                put_str8(o, m)?;
            }
            Reply::Notice {
                from,
                to,
                to_room,
                text,
            } => {
                o.push(rep::NOTICE);
                put_str8(o, from)?;
                put_str8(o, to)?;
                o.push(u8::from(to_room));
                put_str16(o, text)?;
            }
            Reply::QuitNote { nick, reason } => {
                o.push(rep::QUIT_NOTE);
                put_str8(o, nick)?;
                put_str16(o, reason)?;
            }
            Reply::Ping => o.push(rep::PING),
            Reply::RoomInfo {
                room,
                exists,
                modes,
                created_ms,
                status,
                topic,
            } => {
                o.push(rep::ROOM_INFO);
                put_str8(o, room)?;
                o.push(u8::from(exists));
                o.push(modes);
                put_u64(o, created_ms);
                put_str16(o, status)?;
                topic.put(o)?;
            }
            Reply::Parted { room, nick, reason } => {
                o.push(rep::PARTED);
                put_str8(o, room)?;
                put_str8(o, nick)?;
                put_str16(o, reason)?;
            }
            Reply::Mode {
                room,
                by,
                plus,
                mode,
                arg,
            } => {
                o.push(rep::MODE);
                put_str8(o, room)?;
                put_str8(o, by)?;
                o.push(u8::from(plus));
                o.push(mode);
                put_str8(o, arg)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Event, FrameDecoder};

    fn payload_of(frame: &[u8]) -> Vec<u8> {
        let mut d = FrameDecoder::new(65535);
        match d.decode(frame).1 {
            Some(Event::Frame(p)) => p.to_vec(),
            other => panic!("no frame: {other:?}"),
        }
    }

    #[test]
    fn every_request_round_trips() {
        let reqs = [
            Request::Ctx {
                ctx: b"J#a",
                inner: &[2, 1, b'a'],
            },
            Request::Ctx {
                ctx: b"",
                inner: &[],
            },
            Request::Lines(b":s 421 n X :Unknown command\r\n"),
            Request::Nick {
                nick: "n",
                token: "t",
                user: "u",
                realname: "r r",
            },
            Request::Topic {
                room: "a",
                text: None,
            },
            Request::Topic {
                room: "a",
                text: Some(""),
            },
            Request::Away("gone"),
            Request::Whois("x"),
            Request::List,
            Request::Oper {
                name: "o",
                password: "p",
            },
            Request::Kick {
                room: "a",
                nick: "b",
                reason: "c",
            },
            Request::Lusers,
            Request::ChanInfo("a"),
            Request::Who {
                mask: "a*",
                room: false,
            },
            Request::Mode {
                room: "a",
                plus: true,
                mode: b'o',
                arg: "b",
            },
            Request::Notice {
                target: "a",
                to_room: true,
                text: "hi",
            },
            Request::Quit("bye"),
            Request::Noop,
            Request::UserMode { invisible: true },
            Request::Part {
                room: "a",
                reason: "bye",
            },
        ];
        for r in reqs {
            let mut out = Vec::new();
            r.encode(&mut out, 4096).unwrap();
            let p = payload_of(&out);
            assert!((FIRST_REQUEST..=LAST_REQUEST).contains(&p[0]));
            assert_eq!(Request::decode(&p).unwrap(), r);
        }
    }

    #[test]
    fn every_reply_round_trips() {
        let u = UserInfo {
            nick: "n",
            user: "u",
            host: "h",
            realname: "r",
            flags: who_flags::AWAY,
        };
        let t = TopicInfo {
            text: "t",
            setter: "s",
            time_ms: 7,
        };
        let reps = [
            Reply::Ctx {
                registered: true,
                ctx: b"P#a",
            },
            Reply::Lines(b"x\r\n"),
            Reply::NickRefused {
                reason: nick_refused::IN_USE,
                nick: "n",
            },
            Reply::NickChanged { old: "a", new: "b" },
            Reply::Topic {
                room: "a",
                changed: true,
                topic: t,
            },
            Reply::Refused {
                what: refused::NOT_OPERATOR,
                room: "a",
                nick: "",
            },
            Reply::Away(true),
            Reply::Whois {
                user: u,
                away: "",
                signon_ms: 1,
                idle_ms: 2,
                rooms: b"\x01a",
            },
            Reply::ListEntry {
                room: "a",
                members: 3,
                topic: "",
            },
            Reply::ListEnd,
            Reply::Oper(false),
            Reply::Kicked {
                room: "a",
                by: "b",
                nick: "c",
                reason: "d",
            },
            Reply::Lusers {
                users: 1,
                unknown: 2,
                rooms: 3,
            },
            Reply::WhoEntry { room: "a", user: u },
            Reply::WhoEnd("a"),
            Reply::Notice {
                from: "a",
                to: "b",
                to_room: false,
                text: "c",
            },
            Reply::QuitNote {
                nick: "a",
                reason: "b",
            },
            Reply::Ping,
            Reply::RoomInfo {
                room: "a",
                exists: true,
                modes: room_modes::TOPIC_LOCK,
                created_ms: 5,
                status: "@f +g",
                topic: t,
            },
            Reply::Parted {
                room: "a",
                nick: "b",
                reason: "",
            },
            Reply::Mode {
                room: "a",
                by: "b",
                plus: false,
                mode: b't',
                arg: "",
            },
        ];
        for r in reps {
            let mut out = Vec::new();
            r.encode(&mut out, 4096).unwrap();
            let p = payload_of(&out);
            assert!(Reply::is_reply_type(p[0]));
            assert_eq!(Reply::decode(&p).unwrap(), r);
        }
    }

    #[test]
    fn truncated_requests_are_errors_not_panics() {
        for ty in FIRST_REQUEST..=LAST_REQUEST {
            for len in 0..4 {
                let mut p = vec![ty];
                p.extend(std::iter::repeat_n(0xFF, len));
                let _ = Request::decode(&p);
            }
        }
        assert!(Request::decode(&[req::NICK, 5, b'a']).is_err());
    }
}
