//! Gateway per-user requests: AWAY, WHOIS, OPER, LUSERS, NOTICE and QUIT
//! with a reason.

use subtle::ConstantTimeEq;

use crate::codec::{
    ErrorCode, LeftReason, ServerMessage, is_valid_text, max_message_text, max_private_text,
};
use crate::core::engine::{Engine, Now};
use crate::core::gateway::rooms::user_info;
use crate::core::gateway::wire::Reply;
use crate::core::observe::CloseReason;
use crate::core::session::ConnId;

impl<T> Engine<T> {
    /// AWAY: set (non-empty text) or clear the away message.
    pub(crate) fn gw_away(&mut self, id: ConnId, text: &str) {
        let away = !text.is_empty();
        if let Some(g) = self.gw.info_mut(id) {
            g.away = away.then(|| text.into());
        }
        self.gw_reply(id, &Reply::Away(away));
    }

    /// WHOIS: details of a registered nick, or ERROR no_such_nick.
    pub(crate) fn gw_whois(&mut self, id: ConnId, nick: &str, now: Now) {
        let Some(target) = self.gw_find_nick(nick) else {
            self.error(id, ErrorCode::NoSuchNick, "no such nick", now);
            return;
        };
        let s = &self.sessions[target];
        let mut rooms = Vec::new();
        for m in &s.rooms {
            let r = self.rooms.get(m.room());
            if rooms.len() + r.name.len() + 2 > 2048 {
                break;
            }
            rooms.push(0);
            rooms.push(r.name.len() as u8);
            rooms.extend_from_slice(r.name.as_bytes());
        }
        let host = s.peer.ip().to_string();
        let g = self.gw.info(target);
        let (user, _) = user_info(s, g, &host, false);
        let last = g.map_or(s.connected_unix_ms, |g| g.last_message_unix_ms);
        self.scratch.clear();
        let _ = Reply::Whois {
            user,
            away: g.and_then(|g| g.away.as_deref()).unwrap_or(""),
            signon_ms: s.connected_unix_ms,
            idle_ms: now.unix_ms.saturating_sub(last),
            rooms: &rooms,
        }
        .encode(&mut self.scratch, self.cfg.max_payload);
        self.send_scratch(id, 1);
    }

    /// OPER: right when a password is configured and it matches.
    pub(crate) fn gw_oper(&mut self, id: ConnId, _name: &str, password: &str) {
        let ok = self
            .gw
            .oper_password
            .as_deref()
            .is_some_and(|p| bool::from(p.as_bytes().ct_eq(password.as_bytes())));
        if ok && let Some(g) = self.gw.info_mut(id) {
            g.oper = true;
        }
        self.gw_reply(id, &Reply::Oper(ok));
    }

    /// LUSERS: registered and pending connections, rooms.
    pub(crate) fn gw_lusers(&mut self, id: ConnId) {
        let reply = Reply::Lusers {
            users: self.index[1].len() as u32,
            unknown: self.index[0].len() as u32,
            rooms: self.rooms.len() as u32,
        };
        self.gw_reply(id, &reply);
    }

    /// NOTICE to a room or a nick: checked like SAY and WHISPER, but never
    /// answered with an error (IRC forbids automatic replies to notices).
    /// Gateway recipients get NOTICE; native ones the MESSAGE or PRIVATE
    /// they understand (a room notice is not kept in history).
    pub(crate) fn gw_notice(
        &mut self,
        id: ConnId,
        target: &str,
        to_room: bool,
        text: &str,
        now: Now,
    ) {
        if !is_valid_text(text) {
            return;
        }
        let from: Box<str> = self.sessions[id].nick.clone().unwrap_or_default();
        if to_room {
            let Some(rid) = self.sessions[id]
                .rooms
                .iter()
                .map(|m| m.room())
                .find(|&r| crate::codec::names_equal(&self.rooms.get(r).name, target))
            else {
                return;
            };
            let name = self.rooms.get(rid).name.clone();
            if text.len() > max_message_text(self.cfg.max_payload, &name, &from) {
                return;
            }
            if !self.gw_take_token(id, now) {
                return;
            }
            self.seq += 1;
            self.scratch.clear();
            let _ = Reply::Notice {
                from: &from,
                to: &name,
                to_room: true,
                text,
            }
            .encode(&mut self.scratch, self.cfg.max_payload);
            let split = self.scratch.len();
            let _ = ServerMessage::Message {
                flags: 0,
                seq: self.seq,
                time_ms: now.unix_ms,
                room: &name,
                from: &from,
                text,
            }
            .encode(&mut self.scratch, self.cfg.max_payload);
            let Engine {
                sessions,
                rooms,
                outbox,
                scratch,
                ..
            } = self;
            outbox.produced += scratch.len() as u64;
            let (notice, message) = scratch.split_at(split);
            for &m in &rooms.get(rid).members {
                let s = &mut sessions[m];
                let frame = if s.gateway { notice } else { message };
                outbox.deliver(s, m, frame, 1);
            }
        } else {
            let Some(to) = self.gw_find_nick(target) else {
                return;
            };
            let to_nick: Box<str> = self.sessions[to].nick.clone().unwrap_or_default();
            if text.len() > max_private_text(self.cfg.max_payload, &from, &to_nick) {
                return;
            }
            if !self.gw_take_token(id, now) {
                return;
            }
            self.seq += 1;
            self.scratch.clear();
            if self.sessions[to].gateway {
                let _ = Reply::Notice {
                    from: &from,
                    to: &to_nick,
                    to_room: false,
                    text,
                }
                .encode(&mut self.scratch, self.cfg.max_payload);
            } else {
                let _ = ServerMessage::Private {
                    flags: 0,
                    seq: self.seq,
                    time_ms: now.unix_ms,
                    from: &from,
                    to: &to_nick,
                    text,
                }
                .encode(&mut self.scratch, self.cfg.max_payload);
            }
            self.send_scratch(to, 1);
        }
        if let Some(g) = self.gw.info_mut(id) {
            g.last_message_unix_ms = now.unix_ms;
        }
    }

    /// Uses a rate token, if the connection has a rate; false if none is left.
    fn gw_take_token(&mut self, id: ConnId, now: Now) -> bool {
        let (Some(limit), Some(bucket)) = (self.cfg.rate, self.sessions[id].bucket.as_mut()) else {
            return true;
        };
        if bucket.allows(limit, now.mono_ms) {
            bucket.spend();
            true
        } else {
            false
        }
    }

    /// QUIT with a reason: gateway members sharing a room get QUIT_NOTE
    /// (once each) before the LEFT frames that closing sends, as for BYE.
    pub(crate) fn gw_quit(&mut self, id: ConnId, reason: &str, now: Now) {
        if self.sessions[id].phase == crate::core::session::Phase::Registered {
            self.gw.mark += 1;
            let mark = self.gw.mark;
            let nick: Box<str> = self.sessions[id].nick.clone().unwrap_or_default();
            self.scratch.clear();
            let _ = Reply::QuitNote {
                nick: &nick,
                reason,
            }
            .encode(&mut self.scratch, self.cfg.max_payload);
            let Engine {
                sessions,
                rooms,
                outbox,
                scratch,
                gw,
                ..
            } = self;
            outbox.produced += scratch.len() as u64;
            for m in sessions[id].rooms.clone() {
                let room = rooms.get(m.room());
                if room.quiet {
                    // Departures from quiet rooms are not announced.
                    continue;
                }
                for &member in &room.members {
                    if member == id {
                        continue;
                    }
                    let s = &mut sessions[member];
                    if let Some(g) = gw.info_mut(member)
                        && g.mark != mark
                    {
                        g.mark = mark;
                        outbox.deliver(s, member, scratch, 1);
                    }
                }
            }
        }
        self.close(id, CloseReason::Bye, LeftReason::Quit, now);
    }
}
