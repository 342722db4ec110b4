//! Quiet rooms (PROTOCOL.md section 5): a room above the presence limit L
//! summarises its presence instead of announcing it.
//!
//! - A JOIN into a quiet room costs the joiner its own sequence (history,
//!   one partial MEMBERS, ROOM, its own JOINED) and nothing for the others;
//!   a departure costs at most the leaver's own LEFT (PART).
//! - Every change of a quiet room's count marks it dirty (once, in a list);
//!   one engine-wide timer broadcasts, a second after the first mark, one
//!   ROOM to every version-2 member of each dirty room whose count differs
//!   from its last broadcast. Nothing scans all rooms or all members.
//! - The JOIN that takes a room above L turns it quiet (ROOM to every other
//!   member); the departure that takes it to L / 2 or fewer turns it back
//!   (complete MEMBERS to every member, then ROOM).
//!
//! ROOM frames and MEMBERS bit 1 go to version-2 clients only; a broadcast
//! ROOM is encoded once and skipped for version-1 members.

use crate::codec::{
    FLAG_PARTIAL, ROOM_QUIET, ServerMessage, encode_members, encode_partial_members,
};
use crate::core::engine::{Engine, Now};
use crate::core::replica::REMOTE_AUTHOR;
use crate::core::rooms::RoomId;
use crate::core::session::ConnId;

/// Most nicks in a quiet room's partial MEMBERS frame.
pub const PARTIAL_MEMBERS: usize = 100;

/// How long a quiet room's count may go unannounced, ms.
pub const COUNT_EVERY_MS: u64 = 1_000;

impl<T> Engine<T> {
    /// Whether a JOIN that made `rid` this size is a quiet-room JOIN, turning
    /// the room quiet first if this JOIN took it above the limit.
    /// (`joiner` is `None` for a member of another node of a cluster.)
    pub(crate) fn join_is_quiet(&mut self, joiner: Option<ConnId>, rid: RoomId) -> bool {
        let limit = self.cfg.presence_limit;
        let room = self.rooms.get_mut(rid);
        if room.quiet {
            return true;
        }
        if limit == 0 || room.len() <= limit {
            return false;
        }
        room.quiet = true;
        room.count_dirty = false;
        room.announced = room.count();
        // Every other member learns at once, in the room's order.
        self.encode_room(rid);
        self.fanout_scratch_v2(rid, joiner);
        true
    }

    /// The joiner's sequence in a quiet room after its history: one partial
    /// MEMBERS, ROOM (version 2), then its own JOINED, to it alone.
    pub(crate) fn quiet_join(&mut self, id: ConnId, rid: RoomId, now: Now) {
        self.send_partial_members(id, rid, Some(id));
        if self.sessions[id].v2 {
            self.encode_room(rid);
            self.deliver_own(id);
        }
        self.scratch.clear();
        let _ = ServerMessage::Joined {
            room: &self.rooms.get(rid).name,
            nick: self.sessions[id].nick.as_deref().unwrap_or(""),
        }
        .encode(&mut self.scratch, self.cfg.max_payload);
        self.deliver_own(id);
        self.mark_count_dirty(rid, now);
    }

    /// A member left quiet room `rid` (already removed; the room is not
    /// empty): back to normal at L / 2 or fewer, else the count is dirty.
    pub(crate) fn quiet_departure(&mut self, rid: RoomId, now: Now) {
        let room = self.rooms.get(rid);
        if room.len() <= self.cfg.presence_limit / 2 {
            self.turn_normal(rid);
        } else {
            self.mark_count_dirty(rid, now);
        }
    }

    /// WHO of a quiet room: one partial MEMBERS, then ROOM (version 2).
    pub(crate) fn quiet_who(&mut self, id: ConnId, rid: RoomId) {
        self.send_partial_members(id, rid, None);
        if self.sessions[id].v2 {
            self.encode_room(rid);
            self.send_scratch(id, 1);
        }
    }

    /// Broadcasts the count of every dirty quiet room if the timer is due.
    pub(crate) fn broadcast_counts(&mut self, now: Now) {
        if self.counts_due_ms.is_none_or(|at| now.mono_ms < at) {
            return;
        }
        self.counts_due_ms = None;
        let mut dirty = std::mem::take(&mut self.count_dirty);
        for &rid in &dirty {
            // A stale slot (room deleted, maybe reused) is not dirty.
            let Some(room) = self.rooms.try_get(rid) else {
                continue;
            };
            if !(room.quiet && room.count_dirty) {
                continue;
            }
            let count = room.count();
            let changed = count != room.announced;
            let room = self.rooms.get_mut(rid);
            room.count_dirty = false;
            room.announced = count;
            if changed {
                self.encode_room(rid);
                self.fanout_scratch_v2(rid, None);
            }
        }
        dirty.clear();
        // Keep the list's capacity unless something was marked meanwhile.
        if self.count_dirty.is_empty() {
            self.count_dirty = dirty;
        }
    }

    /// Notes that quiet room `rid`'s count changed; arms the timer if idle.
    pub(crate) fn mark_count_dirty(&mut self, rid: RoomId, now: Now) {
        let room = self.rooms.get_mut(rid);
        if room.count_dirty {
            return;
        }
        room.count_dirty = true;
        self.count_dirty.push(rid);
        self.counts_due_ms
            .get_or_insert(now.mono_ms + COUNT_EVERY_MS);
    }

    /// Quiet room `rid` fell to L / 2 or fewer: every member gets the
    /// complete MEMBERS (bit 1 clear), then ROOM with bit 0 clear.
    pub(crate) fn turn_normal(&mut self, rid: RoomId) {
        let Engine {
            sessions,
            rooms,
            scratch,
            cfg,
            remotes,
            ..
        } = self;
        let room = rooms.get_mut(rid);
        room.quiet = false;
        room.count_dirty = false;
        scratch.clear();
        let nicks = room
            .members
            .iter()
            .map(|&m| sessions[m].nick.as_deref().unwrap_or(""))
            .chain(room.remote.iter().map(|&r| remotes.nick(r)));
        let frames = encode_members(scratch, cfg.max_payload, &room.name, nicks).unwrap_or(0);
        let Engine {
            sessions,
            rooms,
            outbox,
            scratch,
            ..
        } = self;
        // Staged once, shared by every member's queue.
        outbox.produced += scratch.len() as u64;
        let span = outbox.store.stage(scratch);
        for &m in &rooms.get(rid).members {
            outbox.deliver_span(&mut sessions[m], m, span, frames as u64);
        }
        outbox.store.release_unused(span);
        self.encode_room(rid);
        self.fanout_scratch_v2(rid, None);
    }

    /// Encodes ROOM (room, quiet flag, count) into the scratch buffer.
    fn encode_room(&mut self, rid: RoomId) {
        let room = self.rooms.get(rid);
        self.scratch.clear();
        let _ = ServerMessage::Room {
            room: &room.name,
            flags: if room.quiet { ROOM_QUIET } else { 0 },
            members: room.count(),
        }
        .encode(&mut self.scratch, self.cfg.max_payload);
    }

    /// Sends the scratch frame to every version-2 member of `rid` but `except`.
    fn fanout_scratch_v2(&mut self, rid: RoomId, except: Option<ConnId>) {
        let Engine {
            sessions,
            rooms,
            outbox,
            scratch,
            ..
        } = self;
        outbox.produced += scratch.len() as u64;
        // Staged once, referred to by every recipient's queue.
        let span = outbox.store.stage(scratch);
        for &m in &rooms.get(rid).members {
            let s = &mut sessions[m];
            if s.v2 && Some(m) != except {
                outbox.deliver_span(s, m, span, 1);
            }
        }
        outbox.store.release_unused(span);
    }

    /// Queues the scratch frame for `id` as part of its own join sequence
    /// (not counted as produced output, like its history).
    fn deliver_own(&mut self, id: ConnId) {
        let Engine {
            sessions,
            outbox,
            scratch,
            ..
        } = self;
        outbox.deliver(&mut sessions[id], id, scratch, 1);
    }

    /// One partial MEMBERS of quiet room `rid` for `id`: the authors of the
    /// history who are still members, most recent first, each once; then
    /// `first` (the joiner) and other members, up to [`PARTIAL_MEMBERS`]
    /// nicks that fit `max_payload`. Costs O(history + PARTIAL_MEMBERS).
    fn send_partial_members(&mut self, id: ConnId, rid: RoomId, first: Option<ConnId>) {
        let Engine {
            sessions,
            rooms,
            outbox,
            scratch,
            cfg,
            pick,
            remotes,
            ..
        } = self;
        let room = rooms.get(rid);
        pick.clear();
        for author in room.recent_authors() {
            if pick.len() == PARTIAL_MEMBERS {
                break;
            }
            let member = if author.id & REMOTE_AUTHOR != 0 {
                remotes.is_member(author, rid)
            } else {
                sessions.get(author.id).is_some_and(|s| {
                    s.serial == author.serial && s.rooms.iter().any(|m| m.room() == rid)
                })
            };
            if member && !pick.contains(&author.id) {
                pick.push(author.id);
            }
        }
        if let Some(f) = first
            && pick.len() < PARTIAL_MEMBERS
            && !pick.contains(&f)
        {
            pick.push(f);
        }
        // At most pick.len() members are skipped, so this reads at most
        // 2 x PARTIAL_MEMBERS entries of the member list.
        let chosen = pick.len();
        let remote = room.remote.iter().map(|&r| r | REMOTE_AUTHOR);
        for m in room.members.iter().copied().chain(remote) {
            if pick.len() == PARTIAL_MEMBERS {
                break;
            }
            if !pick[..chosen].contains(&m) {
                pick.push(m);
            }
        }
        let flags = if sessions[id].v2 { FLAG_PARTIAL } else { 0 };
        scratch.clear();
        let nicks = pick.iter().map(|&m| {
            if m & REMOTE_AUTHOR != 0 {
                remotes.nick(m & !REMOTE_AUTHOR)
            } else {
                sessions[m].nick.as_deref().unwrap_or("")
            }
        });
        let _ = encode_partial_members(
            scratch,
            cfg.max_payload,
            &room.name,
            flags,
            PARTIAL_MEMBERS,
            nicks,
        );
        outbox.deliver(&mut sessions[id], id, scratch, 1);
    }
}
