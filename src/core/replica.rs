//! The clients a node holds without a socket (cluster mode): clients of
//! other nodes, and this node's own clients between the close of their
//! connection and the record of their departure.
//!
//! They are members of rooms (a room's `remote` list, apart from its local
//! `members`, so fan-out never walks them), hold a nick (a nick table of
//! their own beside the sessions'), and are named in MEMBERS, WHO and the
//! partial lists of quiet rooms. Nothing about them lives in `Session`.

use std::collections::HashMap;

use slab::Slab;

use crate::cluster::link::NodeId;
use crate::core::nicks::NickTable;
use crate::core::rooms::{Author, RoomId};
use crate::core::session::Memberships;

/// Set in an [`Author`]'s `id` (and in a partial-list pick) when it names
/// a remote client's slot rather than a connection's.
pub(crate) const REMOTE_AUTHOR: usize = 1 << (usize::BITS - 1);

/// One client without a socket here.
#[derive(Debug)]
pub(crate) struct Remote {
    /// Its node.
    pub(crate) node: NodeId,
    /// Its serial on that node.
    pub(crate) serial: u64,
    /// An engine-unique serial for history authorship (never reused).
    pub(crate) author_serial: u64,
    /// Its nick as registered.
    pub(crate) nick: Box<str>,
    /// Registered with protocol version 2.
    pub(crate) v2: bool,
    /// Its rooms; `pos` indexes the room's `remote` list.
    pub(crate) rooms: Memberships,
}

/// The clients without a socket, by slot, by (node, serial) and by nick.
#[derive(Debug, Default)]
pub(crate) struct RemoteTable {
    pub(crate) slab: Slab<Remote>,
    by_key: HashMap<(NodeId, u64), usize>,
    nicks: NickTable,
}

impl RemoteTable {
    /// Adds `r` (its nick must be free: check with [`RemoteTable::by_nick`]).
    pub(crate) fn insert(&mut self, r: Remote) -> usize {
        let key = (r.node, r.serial);
        let idx = self.slab.vacant_key();
        let nick: Box<str> = r.nick.clone();
        self.slab.insert(r);
        self.by_key.insert(key, idx);
        let slab = &self.slab;
        self.nicks.insert(&nick, idx, |i| &slab[i].nick);
        idx
    }

    /// The slot of client `serial` of `node`, if held.
    pub(crate) fn find(&self, node: NodeId, serial: u64) -> Option<usize> {
        self.by_key.get(&(node, serial)).copied()
    }

    /// The slot of the client registered as `nick` (any ASCII case).
    pub(crate) fn by_nick(&self, nick: &str) -> Option<usize> {
        if self.slab.is_empty() {
            return None;
        }
        self.nicks.get(nick, |i| &self.slab[i].nick)
    }

    /// The nick of slot `idx` ("" if free, which callers never ask).
    pub(crate) fn nick(&self, idx: usize) -> &str {
        self.slab.get(idx).map_or("", |r| &r.nick)
    }

    /// Whether `author` (a remote author) is still a member of `rid`.
    pub(crate) fn is_member(&self, author: Author, rid: RoomId) -> bool {
        self.slab.get(author.id & !REMOTE_AUTHOR).is_some_and(|r| {
            r.author_serial == author.serial && r.rooms.iter().any(|m| m.room() == rid)
        })
    }

    /// The history author for slot `idx`.
    pub(crate) fn author(&self, idx: usize) -> Author {
        Author {
            id: idx | REMOTE_AUTHOR,
            serial: self.slab[idx].author_serial,
        }
    }

    /// Removes slot `idx` (its room memberships must be gone already).
    pub(crate) fn remove(&mut self, idx: usize) -> Option<Remote> {
        let r = self.slab.try_remove(idx)?;
        self.by_key.remove(&(r.node, r.serial));
        self.nicks.remove(&r.nick, idx);
        Some(r)
    }

    /// The slots of `node`'s clients.
    pub(crate) fn of_node(&self, node: NodeId) -> Vec<usize> {
        self.slab
            .iter()
            .filter(|(_, r)| r.node == node)
            .map(|(i, _)| i)
            .collect()
    }

    /// Number of clients held.
    pub(crate) fn len(&self) -> usize {
        self.slab.len()
    }

    /// Forgets everything.
    pub(crate) fn clear(&mut self) {
        self.slab.clear();
        self.by_key.clear();
        self.nicks = NickTable::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(node: NodeId, serial: u64, nick: &str) -> Remote {
        Remote {
            node,
            serial,
            author_serial: serial + 100,
            nick: nick.into(),
            v2: true,
            rooms: Default::default(),
        }
    }

    #[test]
    fn finds_by_key_and_nick_and_forgets() {
        let mut t = RemoteTable::default();
        assert_eq!(t.by_nick("a"), None);
        let a = t.insert(remote(1, 1, "Alice"));
        let b = t.insert(remote(2, 1, "bob"));
        assert_eq!(t.find(1, 1), Some(a));
        assert_eq!(t.find(2, 1), Some(b));
        assert_eq!(t.by_nick("ALICE"), Some(a));
        assert_eq!(t.nick(b), "bob");
        assert_eq!(t.of_node(2), vec![b]);
        assert!(t.author(a).id & REMOTE_AUTHOR != 0);
        t.remove(a);
        assert_eq!(t.by_nick("alice"), None);
        assert_eq!(t.find(1, 1), None);
        assert_eq!(t.len(), 1);
        t.clear();
        assert_eq!(t.by_nick("bob"), None);
    }
}
