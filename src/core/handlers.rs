//! Handling of each client message (PROTOCOL.md sections 3 and 4): which
//! error answers what, registration, rooms, SAY, WHISPER, WHO, PING, BYE.

use crate::codec::{
    ClientMessage, ErrorCode, LeftReason, MessageError, PROTOCOL_V2, ServerMessage, encode_members,
    is_supported_version, is_valid_nick, is_valid_room, is_valid_text, mark_replayed,
    max_message_text, max_private_text, msg_type, names_equal,
};
use crate::core::engine::{Engine, Now};
use crate::core::observe::{CloseReason, ConnChange};
use crate::core::rooms::{Author, RoomId};
use crate::core::session::{ConnId, Membership, Phase};
use crate::core::timers::{Deadline, TimerKind};

impl<T> Engine<T> {
    /// One complete frame from `id`.
    pub(crate) fn on_frame(&mut self, id: ConnId, payload: &[u8], now: Now) {
        self.counters.frames_in += 1;
        let s = &mut self.sessions[id];
        s.last_frame_ms = now.mono_ms;
        let ty = payload[0];
        if ty >= crate::core::gateway::wire::FIRST_REQUEST && s.gateway {
            return self.on_gateway_frame(id, payload, now);
        }
        match s.phase {
            Phase::Closing => {}
            Phase::Pending => match ty {
                msg_type::HELLO => self.on_hello(id, payload, now),
                msg_type::PING | msg_type::BYE => match ClientMessage::decode(payload) {
                    Ok(msg) => self.dispatch(id, msg, now),
                    Err(_) => self.error(id, ErrorCode::Malformed, "malformed payload", now),
                },
                _ => self.error(
                    id,
                    ErrorCode::NotRegistered,
                    "only HELLO, PING and BYE before WELCOME",
                    now,
                ),
            },
            Phase::Registered => {
                if ty == msg_type::HELLO {
                    self.error(id, ErrorCode::AlreadyRegistered, "already registered", now);
                    return;
                }
                match ClientMessage::decode(payload) {
                    Ok(msg) => self.dispatch(id, msg, now),
                    Err(MessageError::Malformed) => {
                        self.error(id, ErrorCode::Malformed, "malformed payload", now)
                    }
                    Err(MessageError::UnknownType(_)) => {
                        self.error(id, ErrorCode::UnknownType, "unknown message type", now)
                    }
                }
            }
        }
    }

    fn dispatch(&mut self, id: ConnId, msg: ClientMessage<'_>, now: Now) {
        match msg {
            ClientMessage::Hello { .. } => {
                self.error(id, ErrorCode::AlreadyRegistered, "already registered", now)
            }
            ClientMessage::Join { room } => self.on_join(id, room, now),
            ClientMessage::Part { room } => self.on_part(id, room, now),
            ClientMessage::Say { room, text } => self.on_say(id, room, text, now),
            ClientMessage::Whisper { to, text } => self.on_whisper(id, to, text, now),
            ClientMessage::Who { room } => self.on_who(id, room, now),
            ClientMessage::Ping { token } => {
                self.scratch.clear();
                let _ =
                    ServerMessage::Pong { token }.encode(&mut self.scratch, self.cfg.max_payload);
                self.send_scratch(id, 1);
            }
            ClientMessage::Bye => self.close(id, CloseReason::Bye, LeftReason::Quit, now),
        }
    }

    /// HELLO checks in order: structure, version, token, nick syntax, uniqueness.
    fn on_hello(&mut self, id: ConnId, payload: &[u8], now: Now) {
        let Ok(ClientMessage::Hello {
            version,
            nick,
            token,
        }) = ClientMessage::decode(payload)
        else {
            self.error(id, ErrorCode::Malformed, "malformed HELLO", now);
            return;
        };
        if !is_supported_version(version) {
            self.error(
                id,
                ErrorCode::BadVersion,
                "unsupported protocol version",
                now,
            );
            return;
        }
        if !self.check_token(id, payload, nick, token, now) {
            return;
        }
        if !is_valid_nick(nick) {
            self.error(id, ErrorCode::BadName, "invalid nick", now);
            return;
        }
        if self.nick_slot(nick).is_some() || self.remotes.by_nick(nick).is_some() {
            self.error(id, ErrorCode::NickTaken, "nick in use", now);
            return;
        }
        if self.cluster.is_some() {
            // The nick is claimed in the cluster's order (`core::cluster`).
            let joins = !self.is_gateway(id);
            self.propose_claim(id, version, nick, joins, now);
            return;
        }
        self.register(id, version, nick, now);
    }

    /// HELLO passed every check: WELCOME, then the default room (as a JOIN
    /// would; in a cluster as part of the same record, see `cluster.rs`).
    pub(crate) fn register(&mut self, id: ConnId, version: u8, nick: &str, now: Now) {
        self.sessions[id].nick = Some(nick.into());
        let sessions = &self.sessions;
        self.nicks
            .insert(nick, id, |m| sessions[m].nick.as_deref().unwrap_or(""));
        let s = &mut self.sessions[id];
        s.v2 = version == PROTOCOL_V2;
        s.phase = Phase::Registered;
        s.connected_unix_ms = now.unix_ms;
        let serial = s.serial;
        self.index[0].remove(&serial);
        self.index[1].insert(serial, id);
        tracing::info!(
            target: "stxchat::conn",
            id = serial,
            peer = %s.peer,
            nick,
            "registered (connected)"
        );
        self.emit(id, ConnChange::Registered, now);
        self.scratch.clear();
        let _ = ServerMessage::Welcome {
            version,
            nick,
            server_name: &self.cfg.server_name,
            max_payload: self.cfg.max_payload as u16,
            keepalive_secs: self.cfg.keepalive_secs,
        }
        .encode(&mut self.scratch, self.cfg.max_payload);
        self.send_scratch(id, 1);
        // The handshake deadline is still scheduled and, when it comes, checks
        // the keepalive instead (see `Engine::tick`): a second entry is only
        // needed if the keepalive could fall due before it. One entry per
        // connection keeps the timer heap at half the size.
        let keepalive_ms = u64::from(self.cfg.keepalive_secs) * 1500;
        if keepalive_ms > 0 && keepalive_ms < self.cfg.handshake_timeout_ms {
            self.timers.push(Deadline {
                at_ms: now.mono_ms + u64::from(self.cfg.keepalive_secs) * 1500,
                id,
                serial,
                kind: TimerKind::Keepalive,
            });
        }
        if let Some(room) = self.cfg.default_room.clone()
            && !self.is_gateway(id)
        {
            if self.cluster.is_some() {
                self.join_effect(id, &room, now);
            } else {
                self.on_join(id, &room, now);
            }
        }
    }

    /// The slot of the client registered as `nick` (any ASCII case), if any.
    pub(crate) fn nick_slot(&self, nick: &str) -> Option<ConnId> {
        self.nicks
            .get(nick, |m| self.sessions[m].nick.as_deref().unwrap_or(""))
    }

    /// The membership of `id` in the room named `name`, if any.
    pub(crate) fn membership(&self, id: ConnId, name: &str) -> Option<(usize, Membership)> {
        self.sessions[id]
            .rooms
            .iter()
            .enumerate()
            .find(|(_, m)| names_equal(&self.rooms.get(m.room()).name, name))
            .map(|(i, m)| (i, *m))
    }

    /// JOIN: history, then MEMBERS, to the joiner; then JOINED to every
    /// member (in a quiet room: the joiner's own sequence, see `quiet.rs`).
    fn on_join(&mut self, id: ConnId, name: &str, now: Now) {
        if !is_valid_room(name) {
            self.error(id, ErrorCode::BadName, "invalid room name", now);
            return;
        }
        if self.membership(id, name).is_some() {
            return;
        }
        if self.sessions[id].rooms.len() >= self.cfg.max_rooms_per_client {
            self.error(id, ErrorCode::TooManyRooms, "too many rooms", now);
            return;
        }
        if self.cluster.is_some() {
            self.propose_room(id, true, name, now);
            return;
        }
        self.join_effect(id, name, now);
    }

    /// The effect of a JOIN that passed its checks.
    pub(crate) fn join_effect(&mut self, id: ConnId, name: &str, now: Now) {
        let rid = self.rooms.find_or_create(name);
        let pos = self.rooms.add_member(rid, id);
        self.sessions[id].rooms.push(Membership {
            room: rid as u32,
            pos: pos as u32,
        });
        if self.join_is_quiet(Some(id), rid) {
            self.replay_history(id, rid);
            self.quiet_join(id, rid, now);
            return;
        }
        self.replay_history(id, rid);
        self.send_members(id, rid);
        self.scratch.clear();
        let _ = ServerMessage::Joined {
            room: &self.rooms.get(rid).name,
            nick: self.sessions[id].nick.as_deref().unwrap_or(""),
        }
        .encode(&mut self.scratch, self.cfg.max_payload);
        self.fanout_scratch(rid);
    }

    pub(crate) fn replay_history(&mut self, id: ConnId, rid: RoomId) {
        let Engine {
            sessions,
            rooms,
            outbox,
            scratch,
            ..
        } = self;
        let s = &mut sessions[id];
        for frame in rooms.get(rid).history() {
            scratch.clear();
            scratch.extend_from_slice(frame);
            mark_replayed(scratch);
            outbox.deliver(s, id, scratch, 1);
        }
    }

    pub(crate) fn send_members(&mut self, id: ConnId, rid: RoomId) {
        let Engine {
            sessions,
            rooms,
            outbox,
            scratch,
            cfg,
            remotes,
            ..
        } = self;
        scratch.clear();
        let room = rooms.get(rid);
        let nicks = room
            .members
            .iter()
            .map(|&m| sessions[m].nick.as_deref().unwrap_or(""))
            .chain(room.remote.iter().map(|&r| remotes.nick(r)));
        let frames = encode_members(scratch, cfg.max_payload, &room.name, nicks).unwrap_or(0);
        outbox.deliver(&mut sessions[id], id, scratch, frames as u64);
    }

    /// PART: LEFT reason 0 to every member, the leaver included (in a quiet
    /// room to the leaver alone).
    fn on_part(&mut self, id: ConnId, name: &str, now: Now) {
        let Some((i, m)) = self.membership(id, name) else {
            self.error(id, ErrorCode::NotInRoom, "not in that room", now);
            return;
        };
        if self.cluster.is_some() {
            self.propose_room(id, false, name, now);
            return;
        }
        self.part_effect(id, i, m, now);
    }

    /// The effect of a PART that passed its checks (`i`: the membership's
    /// index in the session's list).
    pub(crate) fn part_effect(&mut self, id: ConnId, i: usize, m: Membership, now: Now) {
        let quiet = self.rooms.get(m.room()).quiet;
        self.encode_left(id, m.room(), LeftReason::Parted);
        if quiet {
            self.send_scratch(id, 1);
        } else {
            self.fanout_scratch(m.room());
        }
        self.sessions[id].rooms.swap_remove(i);
        self.drop_member(id, m);
        if !self.rooms.delete_if_empty(m.room()) && quiet {
            self.quiet_departure(m.room(), now);
        }
    }

    /// Uses a rate token if the connection has one; false if rate limited.
    fn take_rate_token(&mut self, id: ConnId, now: Now) -> bool {
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

    /// The last checks of SAY and WHISPER, in the protocol's order: length
    /// (`too_long`), then rate (`rate_limited`). An accepted message gets
    /// the next sequence number; a rejected one uses none.
    fn accept_chat(&mut self, id: ConnId, max_text: usize, text: &str, now: Now) -> Option<u64> {
        if text.len() > max_text {
            self.error(id, ErrorCode::TooLong, "message too long", now);
            return None;
        }
        if !self.take_rate_token(id, now) {
            self.error(id, ErrorCode::RateLimited, "rate limited", now);
            return None;
        }
        if self.cluster.is_some() {
            // The sequence number is the record's place in the cluster's order.
            return Some(0);
        }
        self.seq += 1;
        Some(self.seq)
    }

    /// SAY: structure (done), text, target, length, rate; then fan-out.
    fn on_say(&mut self, id: ConnId, room: &str, text: &str, now: Now) {
        if !is_valid_text(text) {
            self.error(id, ErrorCode::Malformed, "invalid text", now);
            return;
        }
        let Some((_, m)) = self.membership(id, room) else {
            self.error(id, ErrorCode::NotInRoom, "not in that room", now);
            return;
        };
        let rid = m.room();
        let max_text = max_message_text(
            self.cfg.max_payload,
            &self.rooms.get(rid).name,
            self.sessions[id].nick.as_deref().unwrap_or(""),
        );
        let Some(seq) = self.accept_chat(id, max_text, text, now) else {
            return;
        };
        if self.cluster.is_some() {
            self.propose_chat(id, false, room, text, now);
            return;
        }
        self.counters.messages += 1;
        self.scratch.clear();
        let _ = ServerMessage::Message {
            flags: 0,
            seq,
            time_ms: now.unix_ms,
            room: &self.rooms.get(rid).name,
            from: self.sessions[id].nick.as_deref().unwrap_or(""),
            text,
        }
        .encode(&mut self.scratch, self.cfg.max_payload);
        self.fanout_scratch(rid);
        let author = Author {
            id,
            serial: self.sessions[id].serial,
        };
        let Engine {
            rooms,
            scratch,
            cfg,
            ..
        } = self;
        rooms.get_mut(rid).remember(scratch, author, cfg.history);
    }

    /// WHISPER: one PRIVATE to the target and one to the sender (once if the same).
    fn on_whisper(&mut self, id: ConnId, to: &str, text: &str, now: Now) {
        if !is_valid_text(text) {
            self.error(id, ErrorCode::Malformed, "invalid text", now);
            return;
        }
        let Some(target) = self.nick_slot(to) else {
            if let Some(r) = self.remotes.by_nick(to) {
                let max_text = max_private_text(
                    self.cfg.max_payload,
                    self.sessions[id].nick.as_deref().unwrap_or(""),
                    self.remotes.nick(r),
                );
                if self.accept_chat(id, max_text, text, now).is_some() {
                    self.propose_chat(id, true, to, text, now);
                }
                return;
            }
            self.error(id, ErrorCode::NoSuchNick, "no such nick", now);
            return;
        };
        let max_text = max_private_text(
            self.cfg.max_payload,
            self.sessions[id].nick.as_deref().unwrap_or(""),
            self.sessions[target].nick.as_deref().unwrap_or(""),
        );
        let Some(seq) = self.accept_chat(id, max_text, text, now) else {
            return;
        };
        if self.cluster.is_some() {
            self.propose_chat(id, true, to, text, now);
            return;
        }
        self.counters.privates += 1;
        self.scratch.clear();
        let _ = ServerMessage::Private {
            flags: 0,
            seq,
            time_ms: now.unix_ms,
            from: self.sessions[id].nick.as_deref().unwrap_or(""),
            to: self.sessions[target].nick.as_deref().unwrap_or(""),
            text,
        }
        .encode(&mut self.scratch, self.cfg.max_payload);
        self.send_scratch(target, 1);
        if target != id {
            self.send_scratch(id, 1);
        }
    }

    /// WHO: MEMBERS of any existing room (a quiet room's partial list and ROOM).
    fn on_who(&mut self, id: ConnId, room: &str, now: Now) {
        match self.rooms.find(room) {
            Some(rid) if self.rooms.get(rid).quiet => self.quiet_who(id, rid),
            Some(rid) => self.send_members(id, rid),
            None => self.error(id, ErrorCode::NoSuchRoom, "no such room", now),
        }
    }
}
