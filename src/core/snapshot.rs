//! The replica as bytes (cluster mode): a live node encodes it for a node
//! that joins, or for one that lost its place in the order; that node
//! installs it and applies the records after it.
//!
//! Layout (integers big-endian; str8/str16 as in the wire protocol):
//!
//! ```text
//! magic "STXS", u8 version 1
//! u32 origins,  then per origin:  u64 node, u64 highest record counter,
//!               u64 the applied bits below it (see `cluster::ReplayWindow`)
//! u32 clients,  then per client:  u64 node, u64 serial, u8 version, str8 nick
//! u32 rooms,    then per room:    str8 name, u8 quiet, u32 announced,
//!               u32 members, that many u32 client indices,
//!               u16 history, per entry: u32 author (client index, or
//!               u32::MAX if no longer a client), str16 frame (the live
//!               MESSAGE frame, its seq inside)
//! ```
//!
//! Installing on a running node (a resync) keeps every local session and
//! its socket: sessions the snapshot knows keep their nick and get the
//! snapshot's rooms; MESSAGEs after the node's last applied sequence that a
//! member missed are delivered to it from the room's history, in order,
//! before any later frame of that room. A room whose history may not reach
//! back far enough is counted as unrecovered and logged.

use std::collections::{HashMap, HashSet};

use crate::codec::{NameKey, PROTOCOL_V2};
use crate::core::apply::Who;
use crate::core::cluster::ReplayWindow;
use crate::core::engine::{Engine, Now};
use crate::core::replica::{REMOTE_AUTHOR, Remote};
use crate::core::rooms::Author;
use crate::core::session::{ConnId, Membership, Phase};

const MAGIC: [u8; 4] = *b"STXS";
const VERSION: u8 = 1;
const NO_AUTHOR: u32 = u32::MAX;

/// Why a snapshot could not be installed (nothing was changed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// Not a snapshot of this format.
    #[error("not a snapshot (bad magic or version)")]
    BadHeader,
    /// It ends inside a field.
    #[error("truncated snapshot")]
    Truncated,
    /// A string is not UTF-8, an index is out of range, or bytes are left over.
    #[error("malformed snapshot")]
    Malformed,
    /// The engine is not in cluster mode.
    #[error("not in cluster mode")]
    NotClustered,
}

/// A decoded snapshot, checked whole before anything is changed.
struct Decoded<'a> {
    origins: Vec<(u64, ReplayWindow)>,
    clients: Vec<(u64, u64, u8, &'a str)>,
    rooms: Vec<DecodedRoom<'a>>,
}

struct DecodedRoom<'a> {
    name: &'a str,
    quiet: bool,
    announced: u32,
    members: Vec<u32>,
    history: Vec<(u32, &'a [u8])>,
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SnapshotError> {
        if self.rest.len() < n {
            return Err(SnapshotError::Truncated);
        }
        let (a, b) = self.rest.split_at(n);
        self.rest = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, SnapshotError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, SnapshotError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, SnapshotError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, SnapshotError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(a))
    }
    fn str8(&mut self) -> Result<&'a str, SnapshotError> {
        let n = self.u8()?;
        std::str::from_utf8(self.take(usize::from(n))?).map_err(|_| SnapshotError::Malformed)
    }
    fn bytes16(&mut self) -> Result<&'a [u8], SnapshotError> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
    /// A count, bounded by what the remaining bytes could hold.
    fn count(&mut self, min_each: usize) -> Result<usize, SnapshotError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_each) > self.rest.len() {
            return Err(SnapshotError::Truncated);
        }
        Ok(n)
    }
}

fn decode(bytes: &[u8]) -> Result<Decoded<'_>, SnapshotError> {
    if bytes.len() < 5 || bytes[..4] != MAGIC || bytes[4] != VERSION {
        return Err(SnapshotError::BadHeader);
    }
    let mut r = Reader { rest: &bytes[5..] };
    let n = r.count(24)?;
    let mut origins = Vec::with_capacity(n);
    for _ in 0..n {
        let node = r.u64()?;
        let high = r.u64()?;
        let seen = r.u64()?;
        origins.push((node, ReplayWindow { high, seen }));
    }
    let n = r.count(18)?;
    let mut clients = Vec::with_capacity(n);
    for _ in 0..n {
        clients.push((r.u64()?, r.u64()?, r.u8()?, r.str8()?));
    }
    let n = r.count(12)?;
    let mut rooms = Vec::with_capacity(n);
    for _ in 0..n {
        let name = r.str8()?;
        let quiet = r.u8()? != 0;
        let announced = r.u32()?;
        let m = r.count(4)?;
        let mut members = Vec::with_capacity(m);
        for _ in 0..m {
            let i = r.u32()?;
            if i as usize >= clients.len() {
                return Err(SnapshotError::Malformed);
            }
            members.push(i);
        }
        let h = usize::from(r.u16()?);
        let mut history = Vec::with_capacity(h.min(1024));
        for _ in 0..h {
            let a = r.u32()?;
            if a != NO_AUTHOR && a as usize >= clients.len() {
                return Err(SnapshotError::Malformed);
            }
            history.push((a, r.bytes16()?));
        }
        rooms.push(DecodedRoom {
            name,
            quiet,
            announced,
            members,
            history,
        });
    }
    if !r.rest.is_empty() {
        return Err(SnapshotError::Malformed);
    }
    Ok(Decoded {
        origins,
        clients,
        rooms,
    })
}

fn put_str8(out: &mut Vec<u8>, s: &str) {
    let b = &s.as_bytes()[..s.len().min(255)];
    out.push(b.len() as u8);
    out.extend_from_slice(b);
}

/// A room's name as rooms are compared (ASCII lower case).
fn room_key(name: &str) -> Box<str> {
    NameKey::new(name).map_or_else(|| name.to_ascii_lowercase().into(), |k| k.as_str().into())
}

/// The seq of a live MESSAGE frame (0 if it is not one).
fn frame_seq(frame: &[u8]) -> u64 {
    frame
        .get(5..13)
        .map_or(0, |b| u64::from_be_bytes(b.try_into().unwrap_or([0; 8])))
}

impl<T> Engine<T> {
    /// Encodes the replica into `out` (replacing its contents); returns the
    /// last sequence it includes.
    pub fn snapshot(&self, out: &mut Vec<u8>) -> u64 {
        out.clear();
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
        let Some(c) = self.cluster.as_ref() else {
            out.extend_from_slice(&[0; 12]);
            return 0;
        };
        let mut origins: Vec<(&u64, &ReplayWindow)> = c.last_counter.iter().collect();
        origins.sort_by_key(|(node, _)| **node);
        out.extend_from_slice(&(origins.len() as u32).to_be_bytes());
        for (node, w) in origins {
            out.extend_from_slice(&node.to_be_bytes());
            out.extend_from_slice(&w.high.to_be_bytes());
            out.extend_from_slice(&w.seen.to_be_bytes());
        }
        // Clients: local registered sessions, then those without a socket.
        let mut index: HashMap<usize, u32> = HashMap::new();
        let mut clients: Vec<(u64, u64, u8, &str)> = Vec::new();
        for (&serial, &id) in &self.index[1] {
            let s = &self.sessions[id];
            index.insert(id, clients.len() as u32);
            clients.push((c.me, serial, s.version(), s.nick.as_deref().unwrap_or("")));
        }
        for (i, r) in self.remotes.slab.iter() {
            index.insert(i | REMOTE_AUTHOR, clients.len() as u32);
            let version = if r.v2 { PROTOCOL_V2 } else { 1 };
            clients.push((r.node, r.serial, version, &r.nick));
        }
        out.extend_from_slice(&(clients.len() as u32).to_be_bytes());
        for (node, serial, version, nick) in &clients {
            out.extend_from_slice(&node.to_be_bytes());
            out.extend_from_slice(&serial.to_be_bytes());
            out.push(*version);
            put_str8(out, nick);
        }
        out.extend_from_slice(&(self.rooms.len() as u32).to_be_bytes());
        for (_, room) in self.rooms.iter() {
            put_str8(out, &room.name);
            out.push(u8::from(room.quiet));
            out.extend_from_slice(&room.announced.to_be_bytes());
            out.extend_from_slice(&(room.len() as u32).to_be_bytes());
            for &m in &room.members {
                out.extend_from_slice(&index.get(&m).copied().unwrap_or(0).to_be_bytes());
            }
            for &r in &room.remote {
                let i = index.get(&(r | REMOTE_AUTHOR)).copied().unwrap_or(0);
                out.extend_from_slice(&i.to_be_bytes());
            }
            let entries: Vec<(&[u8], Author)> = room.entries().collect();
            out.extend_from_slice(&(entries.len().min(usize::from(u16::MAX)) as u16).to_be_bytes());
            for (frame, author) in entries.into_iter().take(usize::from(u16::MAX)) {
                let alive = if author.id & REMOTE_AUTHOR != 0 {
                    self.remotes
                        .slab
                        .get(author.id & !REMOTE_AUTHOR)
                        .is_some_and(|r| r.author_serial == author.serial)
                } else {
                    self.sessions
                        .get(author.id)
                        .is_some_and(|s| s.serial == author.serial && s.phase == Phase::Registered)
                };
                let a = if alive {
                    index.get(&author.id).copied().unwrap_or(NO_AUTHOR)
                } else {
                    NO_AUTHOR
                };
                out.extend_from_slice(&a.to_be_bytes());
                out.extend_from_slice(&(frame.len() as u16).to_be_bytes());
                out.extend_from_slice(frame);
            }
        }
        c.applied
    }

    /// Replaces the replica with snapshot `bytes` taken as of `seq`: at
    /// start, or on a running node that lost its place (a resync, see the
    /// module doc). Records above `seq` follow.
    pub fn install(&mut self, seq: u64, bytes: &[u8], now: Now) -> Result<(), SnapshotError> {
        if self.cluster.is_none() {
            return Err(SnapshotError::NotClustered);
        }
        let d = decode(bytes)?;
        let me = self.cluster.as_ref().map_or(0, |c| c.me);
        let old_applied = self.applied_seq();
        let resync = self.cluster.as_ref().is_some_and(|c| c.ready);
        // What each local session was in before, and who was with it (for
        // missed MESSAGEs, JOINED and LEFT).
        let mut was_in: HashMap<(ConnId, Box<str>), Box<str>> = HashMap::new();
        let mut old_members: HashMap<Box<str>, HashMap<String, Box<str>>> = HashMap::new();
        for (_, room) in self.rooms.iter() {
            if room.members.is_empty() {
                continue;
            }
            let nicks = room
                .members
                .iter()
                .map(|&m| self.sessions[m].nick.as_deref().unwrap_or(""))
                .chain(room.remote.iter().map(|&r| self.remotes.nick(r)))
                .map(|n| (n.to_ascii_lowercase(), Box::<str>::from(n)))
                .collect();
            old_members.insert(room_key(&room.name), nicks);
        }
        let locals: Vec<ConnId> = self.index[1].values().copied().collect();
        for &id in &locals {
            let memberships = std::mem::take(&mut self.sessions[id].rooms);
            for m in memberships {
                let name = &self.rooms.get(m.room()).name;
                was_in.insert((id, room_key(name)), name.clone());
            }
            if let Some(nick) = self.sessions[id].nick.as_deref() {
                self.nicks.remove(nick, id);
            }
        }
        self.rooms.clear();
        self.remotes.clear();
        self.count_dirty.clear();
        self.counts_due_ms = None;
        // Clients.
        let mut who: Vec<Option<Who>> = Vec::with_capacity(d.clients.len());
        let mut known: HashSet<ConnId> = HashSet::new();
        let mut orphans: Vec<u64> = Vec::new();
        for &(node, serial, version, nick) in &d.clients {
            let local = (node == me)
                .then(|| self.index[1].get(&serial).copied())
                .flatten()
                .filter(|&id| self.sessions[id].nick.as_deref().is_some_and(|n| n == nick));
            if self.find_nick(nick).is_some() {
                who.push(None);
                continue;
            }
            if let Some(id) = local {
                let sessions = &self.sessions;
                self.nicks
                    .insert(nick, id, |m| sessions[m].nick.as_deref().unwrap_or(""));
                known.insert(id);
                who.push(Some(Who::Local(id)));
                continue;
            }
            let author_serial = self.next_serial;
            self.next_serial += 1;
            let r = self.remotes.insert(Remote {
                node,
                serial,
                author_serial,
                nick: nick.into(),
                v2: version == PROTOCOL_V2,
                rooms: Default::default(),
            });
            if node == me {
                orphans.push(serial);
            }
            who.push(Some(Who::Remote(r)));
        }
        // Rooms, members, history.
        let history = self.cfg.history;
        let mut missed: Vec<(usize, Vec<ConnId>)> = Vec::new();
        let mut unrecovered = 0u64;
        for room in &d.rooms {
            let rid = self.rooms.find_or_create(room.name);
            let mut newly: Vec<ConnId> = Vec::new();
            for &i in &room.members {
                match who[i as usize] {
                    Some(Who::Local(id)) => {
                        let pos = self.rooms.add_member(rid, id);
                        self.sessions[id].rooms.push(Membership {
                            room: rid as u32,
                            pos: pos as u32,
                        });
                        if was_in.remove(&(id, room_key(room.name))).is_some() {
                            newly.push(id);
                        }
                    }
                    Some(Who::Remote(r)) => {
                        let pos = self.rooms.add_remote(rid, r);
                        self.remotes.slab[r].rooms.push(Membership {
                            room: rid as u32,
                            pos: pos as u32,
                        });
                    }
                    None => {}
                }
            }
            for &(a, frame) in &room.history {
                let author = match who.get(a as usize).copied().flatten() {
                    Some(Who::Local(id)) => Author {
                        id,
                        serial: self.sessions[id].serial,
                    },
                    Some(Who::Remote(r)) => self.remotes.author(r),
                    None => Author {
                        id: usize::MAX,
                        serial: 0,
                    },
                };
                self.rooms.get_mut(rid).remember(frame, author, history);
            }
            let r = self.rooms.get_mut(rid);
            r.quiet = room.quiet;
            r.announced = room.announced;
            if resync && !newly.is_empty() {
                let first = r.history().next().map_or(0, frame_seq);
                if r.history().count() >= history && first > old_applied + 1 {
                    unrecovered += 1;
                }
                missed.push((rid, newly));
            }
            if self.rooms.get(rid).is_empty() {
                self.rooms.delete_if_empty(rid);
            }
        }
        if let Some(c) = self.cluster.as_mut() {
            c.last_counter = d.origins.iter().copied().collect();
            c.applied = seq;
            c.ready = true;
            if resync {
                c.stats.resyncs += 1;
                c.stats.unrecovered += unrecovered;
            }
        }
        if unrecovered > 0 {
            tracing::warn!(target: "stxchat::cluster", rooms = unrecovered, "resync: missed messages may be lost");
        }
        // MESSAGEs the members missed, from history, in order.
        let mut recovered = 0u64;
        for (rid, members) in &missed {
            let (rid, members) = (*rid, members);
            let frames: Vec<Vec<u8>> = self
                .rooms
                .get(rid)
                .history()
                .filter(|f| frame_seq(f) > old_applied)
                .map(<[u8]>::to_vec)
                .collect();
            for f in frames {
                recovered += 1;
                let Engine {
                    sessions, outbox, ..
                } = self;
                outbox.produced += f.len() as u64;
                for &id in members {
                    outbox.deliver(&mut sessions[id], id, &f, 1);
                }
            }
        }
        if let Some(c) = self.cluster.as_mut() {
            c.stats.recovered += recovered;
        }
        let kept = missed;
        // Presence they missed: LEFT (reason quit) for members gone, JOINED
        // for members new, in the rooms that are not quiet.
        for (rid, members) in kept {
            let room = self.rooms.get(rid);
            if room.quiet {
                continue;
            }
            let Some(old) = old_members.get(&room_key(&room.name)) else {
                continue;
            };
            let now_in: HashMap<String, Box<str>> = room
                .members
                .iter()
                .map(|&m| self.sessions[m].nick.as_deref().unwrap_or(""))
                .chain(room.remote.iter().map(|&r| self.remotes.nick(r)))
                .map(|n| (n.to_ascii_lowercase(), Box::<str>::from(n)))
                .collect();
            let mut frames = Vec::new();
            let mut count = 0u64;
            for (k, nick) in old {
                if !now_in.contains_key(k) {
                    count += 1;
                    let _ = crate::codec::ServerMessage::Left {
                        room: &room.name,
                        nick,
                        reason: crate::codec::LeftReason::Quit.as_u8(),
                    }
                    .encode(&mut frames, self.cfg.max_payload);
                }
            }
            for (k, nick) in &now_in {
                if !old.contains_key(k) {
                    count += 1;
                    let _ = crate::codec::ServerMessage::Joined {
                        room: &room.name,
                        nick,
                    }
                    .encode(&mut frames, self.cfg.max_payload);
                }
            }
            if frames.is_empty() {
                continue;
            }
            let Engine {
                sessions, outbox, ..
            } = self;
            outbox.produced += frames.len() as u64;
            for &id in &members {
                outbox.deliver(&mut sessions[id], id, &frames, count);
            }
        }
        // Rooms a local member was in and is not any more: its own LEFT.
        for ((id, _), name) in was_in {
            let Some(nick) = self.sessions[id].nick.as_deref() else {
                continue;
            };
            self.scratch.clear();
            let _ = crate::codec::ServerMessage::Left {
                room: &name,
                nick,
                reason: crate::codec::LeftReason::Parted.as_u8(),
            }
            .encode(&mut self.scratch, self.cfg.max_payload);
            self.send_scratch(id, 1);
        }
        // Local sessions the cluster does not know: closed (they are in no
        // room, so nothing is proposed for them).
        for id in locals {
            if !known.contains(&id) && self.sessions[id].phase == Phase::Registered {
                if let Some(c) = self.cluster.as_mut() {
                    c.departing = true;
                }
                self.fail(
                    id,
                    crate::codec::ErrorCode::Unavailable,
                    "the cluster lost this connection's registration",
                    now,
                );
                if let Some(c) = self.cluster.as_mut() {
                    c.departing = false;
                }
            }
        }
        // This node's clients whose sockets are gone: they leave again.
        for serial in orphans {
            self.propose_quit(serial, crate::codec::LeftReason::Quit);
        }
        self.release_all_waits(now);
        self.settle(now);
        Ok(())
    }
}
