//! Gateway requests (type bytes 0x60..=0x7F): decoding and encoding.

use super::req;
use crate::codec::message::frame_with;
use crate::codec::wire::{FieldTooLong, Reader, Truncated, put_str8, put_str16};

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
