//! Engine support for protocol gateways (the IRC listener): a gateway
//! session speaks the chat protocol plus the gateway-only requests of
//! [`wire`], for what the native protocol lacks (nick changes, topics,
//! channel modes, KICK by room or server operators, AWAY, WHOIS details,
//! LIST, LUSERS, NOTICE, QUIT reasons, the server's keepalive PING).
//!
//! Every reply goes through the connection's ordinary output queue, so the
//! ordering rules of PROTOCOL.md 4.1 hold for gateway replies too, and the
//! output limit and slow-consumer rule apply unchanged. Gateway-only frames
//! are sent only to gateway sessions; native members of the same rooms see
//! the chat protocol's own frames (JOINED, LEFT, MESSAGE, PRIVATE).
//!
//! Room-level requests (topics, modes, kicks, WHO, LIST) are in `rooms.rs`,
//! per-user ones (WHOIS, AWAY, OPER, NOTICE, QUIT, LUSERS) in `users.rs`.

mod rooms;
mod users;
pub mod wire;

use crate::codec::{
    ClientMessage, ErrorCode, LeftReason, NameKey, ServerMessage, is_valid_nick, msg_type,
};
use crate::core::engine::{Engine, Now};
use crate::core::session::{ConnId, Phase};
use crate::core::timers::{Deadline, TimerKind};
use wire::{Reply, Request, nick_refused};

pub use rooms::{RoomExtra, TOPIC_LEN};

/// What the engine keeps about a gateway session beyond the chat protocol.
#[derive(Debug, Clone, Default)]
pub struct GatewayInfo {
    /// User name given at registration.
    pub(crate) user: Box<str>,
    /// Real name given at registration.
    pub(crate) realname: Box<str>,
    /// Away message, if away.
    pub(crate) away: Option<Box<str>>,
    /// Became a server operator (OPER).
    pub(crate) oper: bool,
    /// `+i`: WHO masks do not list it to those who share no room with it.
    pub(crate) invisible: bool,
    /// `last_frame_ms` when the server last asked for a sign of life.
    pub(crate) pinged_for: Option<u64>,
    /// Unix ms of its last message (WHOIS idle time).
    pub(crate) last_message_unix_ms: u64,
    /// De-duplication mark for notifications to many rooms at once.
    pub(crate) mark: u64,
}

/// Gateway settings and counters kept by the engine.
#[derive(Debug, Default)]
pub struct GatewayState {
    /// Details of gateway sessions, by slot (outside `Session`, which
    /// stays small for native connections).
    pub(crate) info: Vec<Option<Box<GatewayInfo>>>,
    /// The password OPER must give; OPER is refused without one.
    pub(crate) oper_password: Option<Box<str>>,
    /// The last de-duplication mark handed out.
    pub(crate) mark: u64,
}

impl GatewayState {
    /// The details of gateway session `id`.
    pub(crate) fn info(&self, id: ConnId) -> Option<&GatewayInfo> {
        self.info.get(id).and_then(|g| g.as_deref())
    }

    /// The details of gateway session `id`, mutably.
    pub(crate) fn info_mut(&mut self, id: ConnId) -> Option<&mut GatewayInfo> {
        self.info.get_mut(id).and_then(|g| g.as_deref_mut())
    }

    /// Forgets the details of the session that had slot `id`.
    pub(crate) fn forget(&mut self, id: ConnId) {
        if let Some(g) = self.info.get_mut(id) {
            *g = None;
        }
    }
}

impl<T> Engine<T> {
    /// Registers a connection accepted on a gateway listener (call
    /// [`Engine::admit`] first): like [`Engine::accept`], and the session
    /// may then use the gateway requests of [`wire`].
    pub fn accept_gateway(&mut self, peer: std::net::SocketAddr, io: T, now: Now) -> ConnId {
        let id = self.accept(peer, io, now);
        self.sessions[id].gateway = true;
        if self.gw.info.len() <= id {
            self.gw.info.resize_with(id + 1, || None);
        }
        self.gw.info[id] = Some(Box::default());
        if self.cfg.keepalive_secs > 0 {
            let serial = self.sessions[id].serial;
            self.timers.push(Deadline {
                at_ms: now.mono_ms + u64::from(self.cfg.keepalive_secs) * 1000,
                id,
                serial,
                kind: TimerKind::GatewayPing,
            });
        }
        id
    }

    /// Sets the password of the gateway's OPER command (none: OPER always fails).
    pub fn set_oper_password(&mut self, password: Option<String>) {
        self.gw.oper_password = password.map(String::into_boxed_str);
    }

    /// Whether the session `id` came through a gateway listener.
    pub(crate) fn is_gateway(&self, id: ConnId) -> bool {
        self.sessions.get(id).is_some_and(|s| s.gateway)
    }

    /// A gateway request from a gateway session (the hook in `on_frame`).
    pub(crate) fn on_gateway_frame(&mut self, id: ConnId, payload: &[u8], now: Now) {
        if self.cluster.is_some() {
            // The gateway's extras (renames, kicks, topics, modes) are not
            // records of the cluster's order: refused rather than letting
            // one node's replica drift from the others'.
            self.error(
                id,
                ErrorCode::Unavailable,
                "gateway requests are not available on a cluster",
                now,
            );
            return;
        }
        let Ok(request) = Request::decode(payload) else {
            self.error(id, ErrorCode::Malformed, "malformed gateway request", now);
            return;
        };
        let registered = self.sessions[id].phase == Phase::Registered;
        match request {
            Request::Ctx { ctx, inner } => self.gw_ctx(id, ctx, inner, now),
            Request::Lines(bytes) => self.gw_reply(id, &Reply::Lines(bytes)),
            Request::Nick {
                nick,
                token,
                user,
                realname,
            } => {
                if registered {
                    self.gw_rename(id, nick, now);
                } else {
                    self.gw_register(id, nick, token, user, realname, now);
                }
            }
            Request::Noop => {}
            Request::Quit(reason) => self.gw_quit(id, reason, now),
            _ if !registered => {}
            Request::Topic { room, text } => self.gw_topic(id, room, text, now),
            Request::Mode {
                room,
                plus,
                mode,
                arg,
            } => self.gw_mode(id, room, plus, mode, arg, now),
            Request::Kick { room, nick, reason } => self.gw_kick(id, room, nick, reason, now),
            Request::Who { mask, room } => self.gw_who(id, mask, room),
            Request::List => self.gw_list(id),
            Request::ChanInfo(room) => self.gw_chaninfo(id, room, now),
            Request::Away(text) => self.gw_away(id, text),
            Request::Whois(nick) => self.gw_whois(id, nick, now),
            Request::Oper { name, password } => self.gw_oper(id, name, password),
            Request::Lusers => self.gw_lusers(id),
            Request::Notice {
                target,
                to_room,
                text,
            } => self.gw_notice(id, target, to_room, text, now),
            Request::UserMode { invisible } => {
                if let Some(g) = self.gw.info_mut(id) {
                    g.invisible = invisible;
                }
            }
            Request::Part { room, reason } => self.gw_part(id, room, reason, now),
        }
        self.settle(now);
    }

    /// Encodes `reply` and queues it for `id`.
    pub(crate) fn gw_reply(&mut self, id: ConnId, reply: &Reply<'_>) {
        self.scratch.clear();
        if reply
            .encode(&mut self.scratch, self.cfg.max_payload)
            .is_ok()
        {
            self.send_scratch(id, 1);
        }
    }

    /// CTX: echo the marker (with the registration state), then handle the
    /// inner chat request, then for JOIN and WHO the room's operators and
    /// topic (ROOM_INFO), so the gateway can finish its JOIN or NAMES reply.
    fn gw_ctx(&mut self, id: ConnId, ctx: &[u8], inner: &[u8], now: Now) {
        let registered = self.sessions[id].phase == Phase::Registered;
        self.gw_reply(id, &Reply::Ctx { registered, ctx });
        let Some(&ty) = inner.first() else {
            return;
        };
        if ty == wire::req::CTX || (!registered && ty != msg_type::PING) {
            return;
        }
        let room = match ClientMessage::decode(inner) {
            Ok(ClientMessage::Join { room }) => Some((room.to_owned(), true)),
            Ok(ClientMessage::Who { room }) => Some((room.to_owned(), false)),
            Ok(ClientMessage::Say { .. } | ClientMessage::Whisper { .. }) => {
                let unix_ms = now.unix_ms;
                if let Some(g) = self.gw.info_mut(id) {
                    g.last_message_unix_ms = unix_ms;
                }
                None
            }
            _ => None,
        };
        let was_member = room.as_ref().is_some_and(|(name, joined)| {
            *joined
                && self.sessions[id]
                    .rooms
                    .iter()
                    .any(|m| crate::codec::names_equal(&self.rooms.get(m.room()).name, name))
        });
        self.on_frame(id, inner, now);
        if let Some((room, joined)) = room
            && self.sessions[id].phase == Phase::Registered
        {
            if joined {
                self.gw_after_join(id, &room, was_member, now);
            }
            self.gw_room_info(id, &room);
        }
    }

    /// NICK before registration: checks that do not close (an IRC client
    /// may try another nick), then HELLO as a native client would send it.
    fn gw_register(
        &mut self,
        id: ConnId,
        nick: &str,
        token: &str,
        user: &str,
        realname: &str,
        now: Now,
    ) {
        let Some(key) = NameKey::new(nick).filter(|_| is_valid_nick(nick)) else {
            self.gw_reply(
                id,
                &Reply::NickRefused {
                    reason: nick_refused::INVALID,
                    nick,
                },
            );
            return;
        };
        if self.nick_slot(key.as_str()).is_some() {
            self.gw_reply(
                id,
                &Reply::NickRefused {
                    reason: nick_refused::IN_USE,
                    nick,
                },
            );
            return;
        }
        if let Some(g) = self.gw.info_mut(id) {
            g.user = user.into();
            g.realname = realname.into();
            g.last_message_unix_ms = now.unix_ms;
        }
        let mut hello = Vec::with_capacity(3 + nick.len() + token.len());
        // Version 2: the IRC side shows quiet rooms' counts (src/irc/quiet.rs).
        let _ = (ClientMessage::Hello {
            version: crate::codec::PROTOCOL_V2,
            nick,
            token,
        })
        .encode_payload(&mut hello);
        // The token is checked there (server password, or the nick's
        // account password, which may complete registration later).
        self.on_frame(id, &hello, now);
    }

    /// NICK after registration: a rename. The renamer and every gateway
    /// member sharing a room with it get one NICK_CHANGED; native members
    /// of its rooms see the old nick leave and the new one join (the chat
    /// protocol has no rename).
    fn gw_rename(&mut self, id: ConnId, nick: &str, now: Now) {
        let old: Box<str> = self.sessions[id].nick.clone().unwrap_or_default();
        if *old == *nick {
            return;
        }
        let Some(key) = NameKey::new(nick).filter(|_| is_valid_nick(nick)) else {
            self.gw_reply(
                id,
                &Reply::NickRefused {
                    reason: nick_refused::INVALID,
                    nick,
                },
            );
            return;
        };
        if self
            .nick_slot(key.as_str())
            .is_some_and(|other| other != id)
        {
            self.gw_reply(
                id,
                &Reply::NickRefused {
                    reason: nick_refused::IN_USE,
                    nick,
                },
            );
            return;
        }
        self.nicks.remove(&old, id);
        self.sessions[id].nick = Some(nick.into());
        let sessions = &self.sessions;
        self.nicks
            .insert(nick, id, |m| sessions[m].nick.as_deref().unwrap_or(""));
        self.gw.mark += 1;
        let mark = self.gw.mark;
        self.scratch.clear();
        let _ = Reply::NickChanged {
            old: &old,
            new: nick,
        }
        .encode(&mut self.scratch, self.cfg.max_payload);
        let changed = std::mem::take(&mut self.scratch);
        let Engine {
            sessions,
            rooms,
            outbox,
            scratch,
            cfg,
            gw,
            ..
        } = self;
        outbox.produced += changed.len() as u64;
        if let Some(g) = gw.info_mut(id) {
            g.mark = mark;
        }
        outbox.deliver(&mut sessions[id], id, &changed, 1);
        for m in sessions[id].rooms.clone() {
            let room = rooms.get(m.room());
            if room.quiet {
                // No presence storms in quiet rooms (PROTOCOL.md 5.2).
                continue;
            }
            scratch.clear();
            let _ = ServerMessage::Left {
                room: &room.name,
                nick: &old,
                reason: LeftReason::Parted.as_u8(),
            }
            .encode(scratch, cfg.max_payload);
            let _ = ServerMessage::Joined {
                room: &room.name,
                nick,
            }
            .encode(scratch, cfg.max_payload);
            outbox.produced += scratch.len() as u64;
            for &member in &room.members {
                let s = &mut sessions[member];
                match gw.info_mut(member) {
                    Some(g) if g.mark == mark => {}
                    Some(g) => {
                        g.mark = mark;
                        outbox.deliver(s, member, &changed, 1);
                    }
                    None => outbox.deliver(s, member, scratch, 2),
                }
            }
        }
        self.scratch = changed;
        let _ = now;
    }

    /// The keepalive for a gateway session: after `keepalive_secs` of
    /// silence the server asks for a sign of life (an IRC PING); the
    /// ordinary keepalive closes it at 1.5 x keepalive_secs.
    pub(crate) fn gw_keepalive(&mut self, d: Deadline, now: Now) {
        let period = u64::from(self.cfg.keepalive_secs) * 1000;
        let Some(s) = self.sessions.get_mut(d.id) else {
            return;
        };
        if period == 0 || s.phase == Phase::Closing || s.serial != d.serial {
            return;
        }
        if s.phase == Phase::Pending {
            // Registration may complete any time (a password check).
            self.timers.push(Deadline {
                at_ms: now.mono_ms + period,
                ..d
            });
            return;
        }
        let last = s.last_frame_ms;
        let due = last + period;
        if now.mono_ms >= due {
            let ask = self
                .gw
                .info_mut(d.id)
                .is_some_and(|g| g.pinged_for.replace(last) != Some(last));
            if ask {
                self.gw_reply(d.id, &Reply::Ping);
            }
            self.timers.push(Deadline {
                at_ms: due + period,
                ..d
            });
        } else {
            self.timers.push(Deadline { at_ms: due, ..d });
        }
    }
}
