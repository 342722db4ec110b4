//! Gateway replies (type bytes 0xE0..=0xFF) and the records they carry.

use super::rep;
use crate::codec::message::frame_with;
use crate::codec::wire::{FieldTooLong, Reader, Truncated, put_str8, put_str16, put_u16, put_u64};

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
    /// [`who_flags`](super::who_flags) bits.
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
        /// [`nick_refused`](super::nick_refused) reason.
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
        /// [`refused`](super::refused) reason.
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
        /// [`room_modes`](super::room_modes) bits.
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
