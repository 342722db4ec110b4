//! Applying one record of the cluster's order to the replica (cluster
//! mode): the effect half of each handler, for a client of this node (a
//! session) or of another (a remote client, see `replica.rs`).
//!
//! Every check made here depends on the replica alone, which is the same on
//! every node at the same point of the order, so every node reaches the
//! same verdict: a nick claimed twice goes to the first claim; a record
//! that names an unknown client or breaks a limit (a hostile one) is
//! counted and changes nothing. Frames go to local sessions only: the
//! origin answers its own client (WELCOME, errors), every node fans out to
//! its own members.

use crate::cluster::envelope::{CLAIM_JOINS_DEFAULT, Envelope, Record};
use crate::codec::{
    ErrorCode, LeftReason, ServerMessage, is_supported_version, is_valid_nick, is_valid_room,
    is_valid_text, max_message_text, max_private_text, names_equal,
};
use crate::core::engine::{Engine, Now};
use crate::core::replica::Remote;
use crate::core::rooms::{Author, RoomId};
use crate::core::session::{ConnId, Membership, Phase};

/// A client as a record names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Who {
    /// A registered session of this node.
    Local(ConnId),
    /// A client without a socket here (slot of the remote table).
    Remote(usize),
}

impl<T> Engine<T> {
    /// The client `serial` of `node`, if the replica holds it.
    pub(crate) fn who(&self, node: u64, serial: u64) -> Option<Who> {
        if self.cluster.as_ref().is_some_and(|c| c.me == node)
            && let Some(&id) = self.index[1].get(&serial)
        {
            return Some(Who::Local(id));
        }
        self.remotes.find(node, serial).map(Who::Remote)
    }

    /// The nick of `who`.
    pub(crate) fn nick_of(&self, who: Who) -> &str {
        who_nick(&self.sessions, &self.remotes, who)
    }

    /// The registered client named `nick` anywhere in the cluster.
    pub(crate) fn find_nick(&self, nick: &str) -> Option<Who> {
        self.nick_slot(nick)
            .map(Who::Local)
            .or_else(|| self.remotes.by_nick(nick).map(Who::Remote))
    }

    /// The membership of `who` in the room named `name`: its index in the
    /// client's list and the membership.
    fn membership_of(&self, who: Who, name: &str) -> Option<(usize, Membership)> {
        match who {
            Who::Local(id) => self.membership(id, name),
            Who::Remote(r) => self.remotes.slab[r]
                .rooms
                .iter()
                .enumerate()
                .find(|(_, m)| names_equal(&self.rooms.get(m.room()).name, name))
                .map(|(i, m)| (i, *m)),
        }
    }

    /// Applies record `env` at sequence `seq`.
    pub(crate) fn apply(&mut self, seq: u64, env: &Envelope<'_>, now: Now) {
        let origin = env.origin;
        match env.record {
            Record::Claim {
                serial,
                version,
                flags,
                nick,
            } => self.apply_claim(seq, origin, serial, version, flags, nick, now),
            Record::Join { serial, room } => {
                if !is_valid_room(room) {
                    return self.invalid_record(seq, "join: invalid room");
                }
                match self.who(origin, serial) {
                    Some(who) => self.apply_join(who, room, now),
                    None => self.invalid_record(seq, "join: unknown client"),
                }
            }
            Record::Part { serial, room } => match self.who(origin, serial) {
                Some(who) => self.apply_part(who, room, now),
                None => self.invalid_record(seq, "part: unknown client"),
            },
            Record::Say {
                serial,
                time_ms,
                room,
                text,
            } => match self.who(origin, serial) {
                Some(who) if is_valid_text(text) => {
                    self.apply_say(seq, who, time_ms, room, text, now);
                }
                _ => self.invalid_record(seq, "say: unknown client or invalid text"),
            },
            Record::Whisper {
                serial,
                time_ms,
                to,
                text,
            } => match self.who(origin, serial) {
                Some(who) if is_valid_text(text) => {
                    self.apply_whisper(seq, who, time_ms, to, text, now);
                }
                _ => self.invalid_record(seq, "whisper: unknown client or invalid text"),
            },
            Record::Quit { serial, reason } => {
                let reason = LeftReason::from_u8(reason).unwrap_or(LeftReason::Quit);
                // Applied twice, or never registered: nothing to do.
                if let Some(r) = self.remotes.find(origin, serial) {
                    self.depart_remote(r, reason, now);
                }
            }
            Record::NodeLeft { node, reason } => {
                let reason = LeftReason::from_u8(reason).unwrap_or(LeftReason::TimedOut);
                self.apply_node_left(node, reason, now);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_claim(
        &mut self,
        seq: u64,
        origin: u64,
        serial: u64,
        version: u8,
        flags: u8,
        nick: &str,
        now: Now,
    ) {
        if !is_valid_nick(nick) || !is_supported_version(version) {
            return self.invalid_record(seq, "claim: invalid nick or version");
        }
        let mine = self.cluster.as_ref().is_some_and(|c| c.me == origin);
        let taken = self.find_nick(nick).is_some();
        let session = if mine {
            self.index[0]
                .get(&serial)
                .copied()
                .filter(|&id| self.sessions[id].phase == Phase::Pending)
        } else {
            None
        };
        if let Some(id) = session {
            if taken {
                self.error(id, ErrorCode::NickTaken, "nick in use", now);
            } else {
                self.register(id, version, nick, now);
            }
            return;
        }
        if taken {
            return;
        }
        if mine && self.remotes.find(origin, serial).is_some() {
            return self.invalid_record(seq, "claim: client already registered");
        }
        let author_serial = self.next_serial;
        self.next_serial += 1;
        let r = self.remotes.insert(Remote {
            node: origin,
            serial,
            author_serial,
            nick: nick.into(),
            v2: version == crate::codec::PROTOCOL_V2,
            rooms: Default::default(),
        });
        if flags & CLAIM_JOINS_DEFAULT != 0
            && let Some(room) = self.cfg.default_room.clone()
        {
            self.apply_join(Who::Remote(r), &room, now);
        }
        if mine {
            // Its connection closed while the claim was on its way: it
            // leaves again at once.
            self.propose_quit(serial, LeftReason::Quit);
        }
    }

    fn apply_join(&mut self, who: Who, room: &str, now: Now) {
        if self.membership_of(who, room).is_some() {
            return;
        }
        let rooms_held = match who {
            Who::Local(id) => self.sessions[id].rooms.len(),
            Who::Remote(r) => self.remotes.slab[r].rooms.len(),
        };
        if rooms_held >= self.cfg.max_rooms_per_client {
            if let Who::Local(id) = who {
                self.error(id, ErrorCode::TooManyRooms, "too many rooms", now);
            }
            return;
        }
        let r = match who {
            Who::Local(id) => return self.join_effect(id, room, now),
            Who::Remote(r) => r,
        };
        let rid = self.rooms.find_or_create(room);
        let pos = self.rooms.add_remote(rid, r);
        self.remotes.slab[r].rooms.push(Membership {
            room: rid as u32,
            pos: pos as u32,
        });
        if self.join_is_quiet(None, rid) {
            self.mark_count_dirty(rid, now);
            return;
        }
        self.scratch.clear();
        let _ = ServerMessage::Joined {
            room: &self.rooms.get(rid).name,
            nick: self.remotes.nick(r),
        }
        .encode(&mut self.scratch, self.cfg.max_payload);
        self.fanout_scratch(rid);
    }

    fn apply_part(&mut self, who: Who, room: &str, now: Now) {
        let Some((i, m)) = self.membership_of(who, room) else {
            if let Who::Local(id) = who {
                self.error(id, ErrorCode::NotInRoom, "not in that room", now);
            }
            return;
        };
        let r = match who {
            Who::Local(id) => return self.part_effect(id, i, m, now),
            Who::Remote(r) => r,
        };
        let rid = m.room();
        let quiet = self.rooms.get(rid).quiet;
        if !quiet {
            self.encode_left_nick(rid, Who::Remote(r), LeftReason::Parted);
            self.fanout_scratch(rid);
        }
        self.remotes.slab[r].rooms.swap_remove(i);
        self.drop_remote(r, m);
        if !self.rooms.delete_if_empty(rid) && quiet {
            self.quiet_departure(rid, now);
        }
    }

    /// Removes remote `r` from a room's remote list, fixing the position of
    /// the remote member that moved into its place.
    pub(crate) fn drop_remote(&mut self, r: usize, m: Membership) {
        let _ = r;
        if let Some(moved) = self.rooms.remove_remote(m.room(), m.pos as usize)
            && let Some(mr) = self.remotes.slab.get_mut(moved)
        {
            for mm in &mut mr.rooms {
                if mm.room == m.room {
                    mm.pos = m.pos;
                }
            }
        }
    }

    /// Encodes LEFT(room, nick of `who`, reason) into the scratch buffer.
    fn encode_left_nick(&mut self, rid: RoomId, who: Who, reason: LeftReason) {
        let Engine {
            scratch,
            rooms,
            sessions,
            remotes,
            cfg,
            ..
        } = self;
        let nick = who_nick(sessions, remotes, who);
        scratch.clear();
        let _ = ServerMessage::Left {
            room: &rooms.get(rid).name,
            nick,
            reason: reason.as_u8(),
        }
        .encode(scratch, cfg.max_payload);
    }

    fn apply_say(&mut self, seq: u64, who: Who, time_ms: u64, room: &str, text: &str, now: Now) {
        let Some((_, m)) = self.membership_of(who, room) else {
            if let Who::Local(id) = who {
                self.error(id, ErrorCode::NotInRoom, "not in that room", now);
            }
            return;
        };
        let rid = m.room();
        let max_text = max_message_text(
            self.cfg.max_payload,
            &self.rooms.get(rid).name,
            self.nick_of(who),
        );
        if text.len() > max_text {
            if let Who::Local(id) = who {
                self.error(id, ErrorCode::TooLong, "message too long", now);
            }
            return self.invalid_record(seq, "say: text too long");
        }
        self.counters.messages += 1;
        let author = match who {
            Who::Local(id) => Author {
                id,
                serial: self.sessions[id].serial,
            },
            Who::Remote(r) => self.remotes.author(r),
        };
        {
            let Engine {
                scratch,
                rooms,
                sessions,
                remotes,
                cfg,
                ..
            } = self;
            let from = who_nick(sessions, remotes, who);
            scratch.clear();
            let _ = ServerMessage::Message {
                flags: 0,
                seq,
                time_ms,
                room: &rooms.get(rid).name,
                from,
                text,
            }
            .encode(scratch, cfg.max_payload);
        }
        self.fanout_scratch(rid);
        let Engine {
            rooms,
            scratch,
            cfg,
            ..
        } = self;
        rooms.get_mut(rid).remember(scratch, author, cfg.history);
    }

    fn apply_whisper(&mut self, seq: u64, who: Who, time_ms: u64, to: &str, text: &str, now: Now) {
        let Some(target) = self.find_nick(to) else {
            if let Who::Local(id) = who {
                self.error(id, ErrorCode::NoSuchNick, "no such nick", now);
            }
            return;
        };
        let max_text = max_private_text(
            self.cfg.max_payload,
            self.nick_of(who),
            self.nick_of(target),
        );
        if text.len() > max_text {
            if let Who::Local(id) = who {
                self.error(id, ErrorCode::TooLong, "message too long", now);
            }
            return self.invalid_record(seq, "whisper: text too long");
        }
        let sender = match who {
            Who::Local(id) => Some(id),
            Who::Remote(_) => None,
        };
        let target_id = match target {
            Who::Local(id) => Some(id),
            Who::Remote(_) => None,
        };
        if sender.is_none() && target_id.is_none() {
            return;
        }
        self.counters.privates += 1;
        {
            let Engine {
                scratch,
                sessions,
                remotes,
                cfg,
                ..
            } = self;
            let nick = |w: Who| who_nick(sessions, remotes, w);
            scratch.clear();
            let _ = ServerMessage::Private {
                flags: 0,
                seq,
                time_ms,
                from: nick(who),
                to: nick(target),
                text,
            }
            .encode(scratch, cfg.max_payload);
        }
        if let Some(t) = target_id {
            self.send_scratch(t, 1);
        }
        if let Some(s) = sender
            && Some(s) != target_id
        {
            self.send_scratch(s, 1);
        }
    }

    /// Remote client `r` leaves every room (LEFT `reason` to the local
    /// members of normal rooms) and the replica; its nick is free again.
    pub(crate) fn depart_remote(&mut self, r: usize, reason: LeftReason, now: Now) {
        let memberships = std::mem::take(&mut self.remotes.slab[r].rooms);
        for m in memberships {
            let rid = m.room();
            let quiet = self.rooms.get(rid).quiet;
            self.drop_remote(r, m);
            if self.rooms.delete_if_empty(rid) {
                continue;
            }
            if quiet {
                self.quiet_departure(rid, now);
            } else {
                self.encode_left_nick(rid, Who::Remote(r), reason);
                self.fanout_scratch(rid);
            }
        }
        self.remotes.remove(r);
    }

    /// Every client of `node` leaves with `reason`. If `node` is this one
    /// and it is not stopping (the others declared it dead), its sessions
    /// are closed too: the cluster no longer knows them.
    fn apply_node_left(&mut self, node: u64, reason: LeftReason, now: Now) {
        for r in self.remotes.of_node(node) {
            self.depart_remote(r, reason, now);
        }
        let Some(c) = self.cluster.as_mut() else {
            return;
        };
        if c.me != node || c.stopping {
            return;
        }
        c.departing = true;
        let ids: Vec<ConnId> = self.index[1].values().copied().collect();
        for id in ids {
            self.fail(
                id,
                ErrorCode::Unavailable,
                "this server was declared dead by the cluster",
                now,
            );
        }
        if let Some(c) = self.cluster.as_mut() {
            c.departing = false;
        }
    }

    /// Cluster mode's half of closing a registered session: it stays in
    /// the replica, without its socket, until its Quit is applied (so the
    /// records still on their way that name it apply the same here as on
    /// every other node). No LEFT now: they come with the Quit.
    pub(crate) fn detach(&mut self, id: ConnId, left: LeftReason) {
        let me = match self.cluster.as_ref() {
            Some(c) => c.me,
            None => return,
        };
        let s = &mut self.sessions[id];
        let serial = s.serial;
        let v2 = s.v2;
        let memberships = std::mem::take(&mut s.rooms);
        let nick: Box<str> = s.nick.clone().unwrap_or_default();
        self.nicks.remove(&nick, id);
        let author_serial = self.next_serial;
        self.next_serial += 1;
        let r = self.remotes.insert(Remote {
            node: me,
            serial,
            author_serial,
            nick,
            v2,
            rooms: Default::default(),
        });
        let new_author = self.remotes.author(r);
        for m in memberships {
            self.drop_member(id, m);
            let pos = self.rooms.add_remote(m.room(), r);
            self.remotes.slab[r].rooms.push(Membership {
                room: m.room,
                pos: pos as u32,
            });
            self.rooms
                .get_mut(m.room())
                .reassign_author(Author { id, serial }, new_author);
        }
        self.propose_quit(serial, left);
    }
}

/// The nick of `who`, from the tables alone (for callers that hold other
/// parts of the engine mutably).
fn who_nick<'a, T>(
    sessions: &'a slab::Slab<crate::core::session::Session<T>>,
    remotes: &'a crate::core::replica::RemoteTable,
    who: Who,
) -> &'a str {
    match who {
        Who::Local(id) => sessions[id].nick.as_deref().unwrap_or(""),
        Who::Remote(r) => remotes.nick(r),
    }
}
