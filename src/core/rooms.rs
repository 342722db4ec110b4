//! Rooms: member lists with O(1) removal, and each room's history of encoded
//! MESSAGE frames (a ring whose buffers are reused).

use std::collections::{HashMap, VecDeque};

use slab::Slab;

use crate::codec::NameKey;

/// A room's slot in the table.
pub type RoomId = usize;

/// Who wrote a history entry: the connection's slot and serial (the slot may
/// have been reused since; the serial tells).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Author {
    /// Connection slot.
    pub id: usize,
    /// Connection serial.
    pub serial: u64,
}

/// One history entry: a live MESSAGE frame and its author.
#[derive(Debug)]
struct Entry {
    frame: Vec<u8>,
    author: Author,
}

/// One room.
#[derive(Debug)]
pub struct Room {
    /// The name as spelt by the JOIN that created it.
    pub name: Box<str>,
    /// Member connection slots; order is unspecified. In a cluster these
    /// are this node's members only (fan-out touches them alone).
    pub members: Vec<usize>,
    /// Members without a socket here (clients of other nodes, in a
    /// cluster): slots of the engine's remote-client table. Empty when
    /// standalone.
    pub remote: Vec<usize>,
    /// Quiet (PROTOCOL.md section 5.2): presence is summarised by ROOM.
    pub quiet: bool,
    /// Quiet and its count changed since the last ROOM broadcast was
    /// considered: queued in the engine's list of rooms to announce.
    pub count_dirty: bool,
    /// The member count of the last ROOM broadcast.
    pub announced: u32,
    history: VecDeque<Entry>,
    /// Topic, modes and operators, for gateways (`core::gateway`).
    pub(crate) gw: Option<Box<crate::core::gateway::RoomExtra>>,
}

impl Room {
    /// The room's history frames (live MESSAGE frames), oldest first.
    pub fn history(&self) -> impl Iterator<Item = &[u8]> {
        self.history.iter().map(|e| e.frame.as_slice())
    }

    /// The authors of the history, most recent first (repeats included).
    pub fn recent_authors(&self) -> impl Iterator<Item = Author> + '_ {
        self.history.iter().rev().map(|e| e.author)
    }

    /// Records a MESSAGE frame by `author`, dropping the oldest beyond `limit`.
    pub fn remember(&mut self, frame: &[u8], author: Author, limit: usize) {
        if limit == 0 {
            return;
        }
        let mut slot = if self.history.len() >= limit {
            self.history
                .pop_front()
                .map(|e| e.frame)
                .unwrap_or_default()
        } else {
            Vec::with_capacity(frame.len())
        };
        slot.clear();
        slot.extend_from_slice(frame);
        self.history.push_back(Entry {
            frame: slot,
            author,
        });
    }

    /// The member count as ROOM carries it.
    pub fn count(&self) -> u32 {
        u32::try_from(self.len()).unwrap_or(u32::MAX)
    }

    /// Members in all, local and remote.
    pub fn len(&self) -> usize {
        self.members.len() + self.remote.len()
    }

    /// Whether the room has no member at all.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.remote.is_empty()
    }

    /// The history entries with their authors, oldest first.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&[u8], Author)> {
        self.history.iter().map(|e| (e.frame.as_slice(), e.author))
    }

    /// Changes the author recorded for every entry by `from` to `to`.
    pub(crate) fn reassign_author(&mut self, from: Author, to: Author) {
        for e in &mut self.history {
            if e.author == from {
                e.author = to;
            }
        }
    }
}

/// All rooms, by slot and by folded name.
#[derive(Debug, Default)]
pub struct RoomTable {
    rooms: Slab<Room>,
    by_name: HashMap<Box<str>, RoomId>,
}

impl RoomTable {
    /// Number of rooms.
    pub fn len(&self) -> usize {
        self.rooms.len()
    }

    /// Whether there are no rooms.
    pub fn is_empty(&self) -> bool {
        self.rooms.is_empty()
    }

    /// The room named `name` (case-insensitively, ASCII only), if it exists.
    pub fn find(&self, name: &str) -> Option<RoomId> {
        let key = NameKey::new(name)?;
        self.by_name.get(key.as_str()).copied()
    }

    /// The room named `name`, created empty if needed.
    pub fn find_or_create(&mut self, name: &str) -> RoomId {
        if let Some(id) = self.find(name) {
            return id;
        }
        let id = self.rooms.insert(Room {
            name: name.into(),
            members: Vec::new(),
            remote: Vec::new(),
            quiet: false,
            count_dirty: false,
            announced: 0,
            history: VecDeque::new(),
            gw: None,
        });
        let key =
            NameKey::new(name).map_or_else(|| name.to_ascii_lowercase(), |k| k.as_str().to_owned());
        self.by_name.insert(key.into_boxed_str(), id);
        id
    }

    /// Every room with its slot, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (RoomId, &Room)> {
        self.rooms.iter()
    }

    /// The room in slot `id`.
    pub fn get(&self, id: RoomId) -> &Room {
        &self.rooms[id]
    }

    /// The room in slot `id`, if that slot holds one.
    pub fn try_get(&self, id: RoomId) -> Option<&Room> {
        self.rooms.get(id)
    }

    /// The room in slot `id`, mutably.
    pub fn get_mut(&mut self, id: RoomId) -> &mut Room {
        &mut self.rooms[id]
    }

    /// Adds `member`; returns its position in the member list.
    pub fn add_member(&mut self, id: RoomId, member: usize) -> usize {
        let members = &mut self.rooms[id].members;
        members.push(member);
        members.len() - 1
    }

    /// Removes the member at `pos` (swap-remove). Returns the member that moved
    /// into `pos`, if any, so its recorded position can be updated.
    pub fn remove_member(&mut self, id: RoomId, pos: usize) -> Option<usize> {
        let members = &mut self.rooms[id].members;
        members.swap_remove(pos);
        members.get(pos).copied()
    }

    /// Adds remote member `member`; returns its position in the remote list.
    pub fn add_remote(&mut self, id: RoomId, member: usize) -> usize {
        let remote = &mut self.rooms[id].remote;
        remote.push(member);
        remote.len() - 1
    }

    /// Removes the remote member at `pos` (swap-remove); returns the remote
    /// member that moved into `pos`, if any.
    pub fn remove_remote(&mut self, id: RoomId, pos: usize) -> Option<usize> {
        let remote = &mut self.rooms[id].remote;
        remote.swap_remove(pos);
        remote.get(pos).copied()
    }

    /// Deletes the room with its history if it has no members; returns whether it did.
    pub fn delete_if_empty(&mut self, id: RoomId) -> bool {
        if !self.rooms[id].is_empty() {
            return false;
        }
        let room = self.rooms.remove(id);
        if let Some(key) = NameKey::new(&room.name) {
            self.by_name.remove(key.as_str());
        }
        true
    }

    /// Deletes every room.
    pub fn clear(&mut self) {
        self.rooms.clear();
        self.by_name.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_case_insensitive_ascii_only_and_keep_their_first_spelling() {
        let mut t = RoomTable::default();
        let a = t.find_or_create("Lobby");
        assert_eq!(t.find_or_create("LOBBY"), a);
        assert_eq!(t.find("lobby"), Some(a));
        assert_eq!(&*t.get(a).name, "Lobby");
        let e = t.find_or_create("Émile");
        assert_ne!(t.find_or_create("émile"), e);
    }

    #[test]
    fn swap_remove_reports_the_moved_member_and_empty_rooms_go() {
        let mut t = RoomTable::default();
        let r = t.find_or_create("r");
        for m in [10, 11, 12] {
            t.add_member(r, m);
        }
        assert_eq!(t.remove_member(r, 0), Some(12));
        assert_eq!(t.get(r).members, vec![12, 11]);
        assert_eq!(t.remove_member(r, 1), None);
        assert!(!t.delete_if_empty(r));
        t.remove_member(r, 0);
        assert!(t.delete_if_empty(r));
        assert_eq!(t.find("r"), None);
        assert!(t.is_empty());
    }

    #[test]
    fn history_keeps_the_last_h() {
        let mut t = RoomTable::default();
        let r = t.find_or_create("r");
        for i in 0..5u8 {
            let author = Author {
                id: usize::from(i % 2),
                serial: u64::from(i),
            };
            t.get_mut(r).remember(&[i], author, 3);
        }
        let h: Vec<u8> = t.get(r).history().map(|f| f[0]).collect();
        assert_eq!(h, vec![2, 3, 4]);
        let authors: Vec<u64> = t.get(r).recent_authors().map(|a| a.serial).collect();
        assert_eq!(authors, vec![4, 3, 2]);
        let none = Author { id: 0, serial: 0 };
        t.get_mut(r).remember(&[9], none, 0);
        assert_eq!(t.get(r).history().count(), 3);
    }
}
