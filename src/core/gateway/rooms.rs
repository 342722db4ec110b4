//! Gateway room requests: topics, modes (topic lock, operators, voice),
//! KICK, WHO with details, LIST, and the ROOM_INFO summary that ends a
//! gateway's JOIN and NAMES replies.
//!
//! Room operators: the gateway session whose JOIN created a room operates
//! it, and operators may give `+o` to others; server operators (OPER) may
//! do everything operators may in any room. Native clients have no
//! requests for any of this; they see a kick as LEFT reason 6.

use crate::codec::names::truncate_at_char;
use crate::codec::{ErrorCode, LeftReason, ServerMessage};
use crate::core::engine::{Engine, Now};
use crate::core::gateway::wire::{Reply, TopicInfo, UserInfo, refused, room_modes, who_flags};
use crate::core::rooms::RoomId;
use crate::core::session::{ConnId, Session};

/// Most WHO entries one request lists (a quiet room can have many
/// thousands of members; WHO of it lists the first ones).
pub(crate) const MAX_WHO_ENTRIES: usize = 1000;

/// Longest topic kept, in bytes (longer ones are cut at a character boundary).
pub const TOPIC_LEN: usize = 390;

/// A room's topic.
#[derive(Debug, Clone)]
pub struct Topic {
    text: Box<str>,
    setter: Box<str>,
    time_ms: u64,
}

/// What the engine keeps about a room for gateways, created with the room
/// (or on first use for a room a native client created).
#[derive(Debug, Clone)]
pub struct RoomExtra {
    /// Operators, by slot and serial (an entry whose session left is stale).
    ops: Vec<(ConnId, u64)>,
    /// Voiced members, likewise.
    voiced: Vec<(ConnId, u64)>,
    /// `+t`: only operators set the topic.
    topic_lock: bool,
    /// `+s`: LIST does not show it to non-members.
    secret: bool,
    topic: Option<Topic>,
    created_ms: u64,
}

impl RoomExtra {
    fn new(now: Now) -> Self {
        RoomExtra {
            ops: Vec::new(),
            voiced: Vec::new(),
            topic_lock: true,
            secret: false,
            topic: None,
            created_ms: now.unix_ms,
        }
    }
}

/// Whether `(id, serial)` in `list` is `s` at slot `id`, and still a member of `rid`.
fn holds<T>(list: &[(ConnId, u64)], id: ConnId, s: &Session<T>, rid: RoomId) -> bool {
    list.contains(&(id, s.serial)) && s.rooms.iter().any(|m| m.room() == rid)
}

/// The topic as sent in replies.
fn topic_info(t: Option<&Topic>) -> TopicInfo<'_> {
    t.map_or_else(TopicInfo::default, |t| TopicInfo {
        text: &t.text,
        setter: &t.setter,
        time_ms: t.time_ms,
    })
}

/// Case-insensitive (ASCII) glob match with `*` and `?`.
pub(crate) fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p].eq_ignore_ascii_case(&text[t])) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

impl<T> Engine<T> {
    /// The room's gateway extras, created if missing.
    fn extra(&mut self, rid: RoomId, now: Now) -> &mut RoomExtra {
        self.rooms
            .get_mut(rid)
            .gw
            .get_or_insert_with(|| Box::new(RoomExtra::new(now)))
    }

    /// Whether `id` may operate room `rid`: its operator, or a server operator.
    fn may_operate(&self, id: ConnId, rid: RoomId) -> bool {
        let s = &self.sessions[id];
        if self.gw.info(id).is_some_and(|g| g.oper) {
            return true;
        }
        self.rooms
            .get(rid)
            .gw
            .as_ref()
            .is_some_and(|x| holds(&x.ops, id, s, rid))
    }

    /// The slot of the registered nick `nick`, if any.
    pub(crate) fn gw_find_nick(&self, nick: &str) -> Option<ConnId> {
        self.nick_slot(nick)
    }

    /// Whether `id` is a member of `rid`; its index in the session's rooms.
    fn member_index(&self, id: ConnId, rid: RoomId) -> Option<usize> {
        self.sessions[id].rooms.iter().position(|m| m.room() == rid)
    }

    /// Sends the frame in the scratch buffer to the gateway members of `rid`.
    fn gw_fanout_scratch(&mut self, rid: RoomId) {
        let Engine {
            sessions,
            rooms,
            outbox,
            scratch,
            ..
        } = self;
        outbox.produced += scratch.len() as u64;
        for &m in &rooms.get(rid).members {
            let s = &mut sessions[m];
            if s.gateway {
                outbox.deliver(s, m, scratch, 1);
            }
        }
    }

    /// After a gateway session's JOIN: a room it created is operated by
    /// it; a rejoin does not bring back an operator status it had.
    pub(crate) fn gw_after_join(&mut self, id: ConnId, room: &str, was_member: bool, now: Now) {
        let Some(rid) = self.rooms.find(room) else {
            return;
        };
        if was_member || self.member_index(id, rid).is_none() {
            return;
        }
        let serial = self.sessions[id].serial;
        let created = self.rooms.get(rid).members.len() == 1 && self.rooms.get(rid).gw.is_none();
        let x = self.extra(rid, now);
        x.ops.retain(|&(i, _)| i != id);
        x.voiced.retain(|&(i, _)| i != id);
        if created {
            x.ops.push((id, serial));
        }
    }

    /// ROOM_INFO for `room` to `id`.
    pub(crate) fn gw_room_info(&mut self, id: ConnId, room: &str) {
        let Some(rid) = self.rooms.find(room) else {
            self.gw_reply(
                id,
                &Reply::RoomInfo {
                    room,
                    exists: false,
                    modes: 0,
                    created_ms: 0,
                    status: "",
                    topic: TopicInfo::default(),
                },
            );
            return;
        };
        let r = self.rooms.get(rid);
        let mut status = String::new();
        let (modes, created_ms) = match r.gw.as_deref() {
            Some(x) => {
                for (list, sigil) in [(&x.ops, '@'), (&x.voiced, '+')] {
                    for &(m, _) in list {
                        if let Some(s) = self.sessions.get(m)
                            && holds(list, m, s, rid)
                            && status.len() < 4000
                        {
                            status.push(sigil);
                            status.push_str(s.nick.as_deref().unwrap_or(""));
                            status.push(' ');
                        }
                    }
                }
                (
                    (u8::from(x.topic_lock) * room_modes::TOPIC_LOCK)
                        | (u8::from(x.secret) * room_modes::SECRET),
                    x.created_ms,
                )
            }
            None => (room_modes::TOPIC_LOCK, 0),
        };
        self.scratch.clear();
        let _ = Reply::RoomInfo {
            room: &r.name,
            exists: true,
            modes,
            created_ms,
            status: status.trim_end(),
            topic: topic_info(r.gw.as_ref().and_then(|x| x.topic.as_ref())),
        }
        .encode(&mut self.scratch, self.cfg.max_payload);
        self.send_scratch(id, 1);
    }

    /// CHANINFO: the ROOM_INFO of a room, or ERROR no_such_room.
    pub(crate) fn gw_chaninfo(&mut self, id: ConnId, room: &str, now: Now) {
        if self.rooms.find(room).is_none() {
            self.error(id, ErrorCode::NoSuchRoom, "no such room", now);
            return;
        }
        self.gw_room_info(id, room);
    }

    /// TOPIC: read it (any existing room), or set it (members; operators
    /// only under `+t`). A change goes to the room's gateway members.
    pub(crate) fn gw_topic(&mut self, id: ConnId, room: &str, text: Option<&str>, now: Now) {
        let Some(rid) = self.rooms.find(room) else {
            self.error(id, ErrorCode::NoSuchRoom, "no such room", now);
            return;
        };
        let Some(text) = text else {
            let r = self.rooms.get(rid);
            self.scratch.clear();
            let _ = Reply::Topic {
                room: &r.name,
                changed: false,
                topic: topic_info(r.gw.as_ref().and_then(|x| x.topic.as_ref())),
            }
            .encode(&mut self.scratch, self.cfg.max_payload);
            self.send_scratch(id, 1);
            return;
        };
        if self.member_index(id, rid).is_none() {
            self.error(id, ErrorCode::NotInRoom, "not in that room", now);
            return;
        }
        let locked = self.rooms.get(rid).gw.as_ref().is_none_or(|x| x.topic_lock);
        if locked && !self.may_operate(id, rid) {
            let name = self.rooms.get(rid).name.clone();
            self.gw_reply(
                id,
                &Reply::Refused {
                    what: refused::NOT_OPERATOR,
                    room: &name,
                    nick: "",
                },
            );
            return;
        }
        let setter: Box<str> = self.sessions[id].nick.clone().unwrap_or_default();
        let text = truncate_at_char(text, TOPIC_LEN);
        let topic = (!text.is_empty()).then(|| Topic {
            text: text.into(),
            setter,
            time_ms: now.unix_ms,
        });
        self.extra(rid, now).topic = topic;
        let r = self.rooms.get(rid);
        self.scratch.clear();
        let _ = Reply::Topic {
            room: &r.name,
            changed: true,
            topic: TopicInfo {
                text,
                setter: self.sessions[id].nick.as_deref().unwrap_or(""),
                time_ms: now.unix_ms,
            },
        }
        .encode(&mut self.scratch, self.cfg.max_payload);
        self.gw_fanout_scratch(rid);
    }

    /// MODE: `t` (topic lock), `o` and `v` (with a member's nick), by the
    /// room's operators. A change goes to the room's gateway members.
    pub(crate) fn gw_mode(
        &mut self,
        id: ConnId,
        room: &str,
        plus: bool,
        mode: u8,
        arg: &str,
        now: Now,
    ) {
        let Some(rid) = self.rooms.find(room) else {
            self.error(id, ErrorCode::NoSuchRoom, "no such room", now);
            return;
        };
        let name = self.rooms.get(rid).name.clone();
        if !self.may_operate(id, rid) {
            self.gw_reply(
                id,
                &Reply::Refused {
                    what: refused::NOT_OPERATOR,
                    room: &name,
                    nick: "",
                },
            );
            return;
        }
        let mut shown_arg = String::new();
        match mode {
            b't' | b's' => {
                let x = self.extra(rid, now);
                let flag = if mode == b't' {
                    &mut x.topic_lock
                } else {
                    &mut x.secret
                };
                if *flag == plus {
                    return;
                }
                *flag = plus;
            }
            b'o' | b'v' => {
                let Some(target) = self.gw_find_nick(arg) else {
                    self.error(id, ErrorCode::NoSuchNick, "no such nick", now);
                    return;
                };
                if self.member_index(target, rid).is_none() {
                    self.gw_reply(
                        id,
                        &Reply::Refused {
                            what: refused::TARGET_NOT_IN_ROOM,
                            room: &name,
                            nick: arg,
                        },
                    );
                    return;
                }
                let entry = (target, self.sessions[target].serial);
                shown_arg = self.sessions[target]
                    .nick
                    .as_deref()
                    .unwrap_or("")
                    .to_owned();
                let x = self.extra(rid, now);
                let list = if mode == b'o' {
                    &mut x.ops
                } else {
                    &mut x.voiced
                };
                let had = list.contains(&entry);
                if had == plus {
                    return;
                }
                if plus {
                    list.push(entry);
                } else {
                    list.retain(|&e| e != entry);
                }
            }
            _ => return,
        }
        self.scratch.clear();
        let _ = Reply::Mode {
            room: &name,
            by: self.sessions[id].nick.as_deref().unwrap_or(""),
            plus,
            mode,
            arg: &shown_arg,
        }
        .encode(&mut self.scratch, self.cfg.max_payload);
        self.gw_fanout_scratch(rid);
    }

    /// KICK by the room's operator or a server operator: gateway members
    /// (the kicked one included) get KICKED, native members LEFT reason 6;
    /// then the member is out of the room, its connection stays open.
    pub(crate) fn gw_kick(&mut self, id: ConnId, room: &str, nick: &str, reason: &str, now: Now) {
        let Some(rid) = self.rooms.find(room) else {
            self.error(id, ErrorCode::NoSuchRoom, "no such room", now);
            return;
        };
        let oper = self.gw.info(id).is_some_and(|g| g.oper);
        if self.member_index(id, rid).is_none() && !oper {
            self.error(id, ErrorCode::NotInRoom, "not in that room", now);
            return;
        }
        let name = self.rooms.get(rid).name.clone();
        if !self.may_operate(id, rid) {
            self.gw_reply(
                id,
                &Reply::Refused {
                    what: refused::NOT_OPERATOR,
                    room: &name,
                    nick: "",
                },
            );
            return;
        }
        let target = self.gw_find_nick(nick);
        let Some((target, i)) = target.and_then(|t| self.member_index(t, rid).map(|i| (t, i)))
        else {
            self.gw_reply(
                id,
                &Reply::Refused {
                    what: refused::TARGET_NOT_IN_ROOM,
                    room: &name,
                    nick,
                },
            );
            return;
        };
        let target_nick: Box<str> = self.sessions[target].nick.clone().unwrap_or_default();
        self.scratch.clear();
        let _ = Reply::Kicked {
            room: &name,
            by: self.sessions[id].nick.as_deref().unwrap_or(""),
            nick: &target_nick,
            reason,
        }
        .encode(&mut self.scratch, self.cfg.max_payload);
        let kicked_len = self.scratch.len();
        let _ = ServerMessage::Left {
            room: &name,
            nick: &target_nick,
            reason: LeftReason::Kicked.as_u8(),
        }
        .encode(&mut self.scratch, self.cfg.max_payload);
        {
            let Engine {
                sessions,
                rooms,
                outbox,
                scratch,
                ..
            } = self;
            let (kicked, left) = scratch.split_at(kicked_len);
            outbox.produced += scratch.len() as u64;
            let room = rooms.get(rid);
            for &m in &room.members {
                // In a quiet room only the kicker and the kicked hear of it.
                if room.quiet && m != id && m != target {
                    continue;
                }
                let s = &mut sessions[m];
                let frame = if s.gateway { kicked } else { left };
                outbox.deliver(s, m, frame, 1);
            }
        }
        let m = self.sessions[target].rooms.swap_remove(i);
        self.drop_member(target, m);
        self.rooms.delete_if_empty(rid);
    }

    /// PART with a reason: gateway members get PARTED, native ones LEFT
    /// reason 0 (in a quiet room only the leaver hears of it).
    pub(crate) fn gw_part(&mut self, id: ConnId, room: &str, reason: &str, now: Now) {
        let Some((rid, i)) = self
            .rooms
            .find(room)
            .and_then(|rid| self.member_index(id, rid).map(|i| (rid, i)))
        else {
            self.error(id, ErrorCode::NotInRoom, "not in that room", now);
            return;
        };
        let name = self.rooms.get(rid).name.clone();
        let nick: Box<str> = self.sessions[id].nick.clone().unwrap_or_default();
        self.scratch.clear();
        let _ = Reply::Parted {
            room: &name,
            nick: &nick,
            reason,
        }
        .encode(&mut self.scratch, self.cfg.max_payload);
        let split = self.scratch.len();
        let _ = ServerMessage::Left {
            room: &name,
            nick: &nick,
            reason: LeftReason::Parted.as_u8(),
        }
        .encode(&mut self.scratch, self.cfg.max_payload);
        {
            let Engine {
                sessions,
                rooms,
                outbox,
                scratch,
                ..
            } = self;
            let (parted, left) = scratch.split_at(split);
            outbox.produced += scratch.len() as u64;
            let r = rooms.get(rid);
            let quiet = r.quiet;
            for &m in &r.members {
                if quiet && m != id {
                    continue;
                }
                let s = &mut sessions[m];
                let frame = if s.gateway { parted } else { left };
                outbox.deliver(s, m, frame, 1);
            }
        }
        let m = self.sessions[id].rooms.swap_remove(i);
        self.drop_member(id, m);
        self.rooms.delete_if_empty(rid);
    }

    /// WHO of a room (its members, at most [`MAX_WHO_ENTRIES`]) or of the
    /// users whose nick, user name, host or real name match a glob (at most
    /// as many), then WHO_END.
    pub(crate) fn gw_who(&mut self, id: ConnId, mask: &str, room: bool) {
        let mut entries: Vec<(ConnId, Option<RoomId>)> = Vec::new();
        if room {
            if let Some(rid) = self.rooms.find(mask) {
                entries.extend(
                    self.rooms
                        .get(rid)
                        .members
                        .iter()
                        .take(MAX_WHO_ENTRIES)
                        .map(|&m| (m, Some(rid))),
                );
            }
        } else if let Some(m) = self.gw_find_nick(mask) {
            entries.push((m, None));
        } else if mask.contains(['*', '?']) {
            for &m in self.index[1].values() {
                if entries.len() >= MAX_WHO_ENTRIES {
                    break;
                }
                let s = &self.sessions[m];
                let nick = s.nick.as_deref().unwrap_or("");
                let g = self.gw.info(m);
                let fields = [
                    nick,
                    g.map_or(nick, |g| &g.user),
                    g.map_or("", |g| &g.realname),
                ];
                let host = s.peer.ip().to_string();
                let hidden = g.is_some_and(|g| g.invisible)
                    && m != id
                    && !s
                        .rooms
                        .iter()
                        .any(|r| self.member_index(id, r.room()).is_some());
                if !hidden
                    && (fields
                        .iter()
                        .any(|f| glob_match(mask.as_bytes(), f.as_bytes()))
                        || glob_match(mask.as_bytes(), host.as_bytes()))
                {
                    entries.push((m, None));
                }
            }
        }
        for (m, rid) in entries {
            let chanop = rid.is_some_and(|r| {
                self.rooms
                    .get(r)
                    .gw
                    .as_ref()
                    .is_some_and(|x| holds(&x.ops, m, &self.sessions[m], r))
            });
            let room_name = rid.map_or("", |r| &self.rooms.get(r).name);
            let s = &self.sessions[m];
            let host = s.peer.ip().to_string();
            let (user, flags) = user_info(s, self.gw.info(m), &host, chanop);
            self.scratch.clear();
            let _ = Reply::WhoEntry {
                room: room_name,
                user,
            }
            .encode(&mut self.scratch, self.cfg.max_payload);
            let _ = flags;
            self.send_scratch(id, 1);
        }
        self.gw_reply(id, &Reply::WhoEnd(mask));
    }

    /// LIST: every room with its member count and topic, then LIST_END;
    /// it stops early rather than go past half the asker's output limit.
    pub(crate) fn gw_list(&mut self, id: ConnId) {
        let rids: Vec<RoomId> = self.rooms.iter().map(|(id, _)| id).collect();
        for rid in rids {
            if self.sessions[id].out.queued() > self.outbox.limit / 2 {
                break;
            }
            let r = self.rooms.get(rid);
            if r.gw.as_ref().is_some_and(|x| x.secret) && self.member_index(id, rid).is_none() {
                continue;
            }
            self.scratch.clear();
            let _ = Reply::ListEntry {
                room: &r.name,
                members: r.members.len() as u32,
                topic: r
                    .gw
                    .as_ref()
                    .and_then(|x| x.topic.as_ref())
                    .map_or("", |t| &t.text),
            }
            .encode(&mut self.scratch, self.cfg.max_payload);
            self.send_scratch(id, 1);
        }
        self.gw_reply(id, &Reply::ListEnd);
    }
}

/// A session's details for WHO and WHOIS (native sessions: the nick as
/// user and real name).
pub(crate) fn user_info<'s, T>(
    s: &'s Session<T>,
    g: Option<&'s crate::core::gateway::GatewayInfo>,
    host: &'s str,
    chanop: bool,
) -> (UserInfo<'s>, u8) {
    let nick = s.nick.as_deref().unwrap_or("");
    let mut flags = 0;
    if let Some(g) = g {
        flags |= who_flags::GATEWAY;
        if g.away.is_some() {
            flags |= who_flags::AWAY;
        }
        if g.oper {
            flags |= who_flags::OPER;
        }
    }
    if chanop {
        flags |= who_flags::CHANOP;
    }
    (
        UserInfo {
            nick,
            user: g.map_or(nick, |g| &g.user),
            host,
            realname: g.map_or(nick, |g| &g.realname),
            flags,
        },
        flags,
    )
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        assert!(glob_match(b"cool*", b"coolNick"));
        assert!(glob_match(b"COOLNICK", b"coolnick"));
        assert!(glob_match(b"*", b""));
        assert!(glob_match(b"a?c", b"abc"));
        assert!(!glob_match(b"a?c", b"ac"));
        assert!(glob_match(b"*Real*", b"My UniqueReal Name"));
        assert!(!glob_match(b"x*", b"coolNick"));
    }
}
