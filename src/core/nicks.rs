//! The registered nicks: a hash table of connection slots, keyed by the
//! nick as the protocol compares it (ASCII lower-casing only).
//!
//! The table stores only the slot (8 bytes a nick, no key string): the nick
//! itself lives in the session, and lookups compare against it. Hashing uses
//! the standard library's keyed SipHash, since nicks come from peers.

use std::hash::{BuildHasher, Hasher, RandomState};

use hashbrown::HashTable;

use crate::codec::names_equal;
use crate::core::session::ConnId;

/// Registered nicks by folded name; the values are connection slots.
#[derive(Debug, Default)]
pub struct NickTable {
    table: HashTable<ConnId>,
    hasher: RandomState,
}

impl NickTable {
    /// The hash of `nick` folded to ASCII lower case.
    fn hash(&self, nick: &str) -> u64 {
        let mut h = self.hasher.build_hasher();
        for b in nick.bytes() {
            h.write_u8(b.to_ascii_lowercase());
        }
        h.write_u8(0xff);
        h.finish()
    }

    /// The slot registered as `nick` (any ASCII case); `nick_of` gives a
    /// registered slot's nick.
    pub fn get<'s>(&self, nick: &str, nick_of: impl Fn(ConnId) -> &'s str) -> Option<ConnId> {
        self.table
            .find(self.hash(nick), |&id| names_equal(nick_of(id), nick))
            .copied()
    }

    /// Registers `id` as `nick` (not yet registered: check with [`NickTable::get`]).
    pub fn insert<'s>(&mut self, nick: &str, id: ConnId, nick_of: impl Fn(ConnId) -> &'s str) {
        let hash = self.hash(nick);
        let hasher = &self.hasher;
        self.table.insert_unique(hash, id, |&other| {
            let mut h = hasher.build_hasher();
            for b in nick_of(other).bytes() {
                h.write_u8(b.to_ascii_lowercase());
            }
            h.write_u8(0xff);
            h.finish()
        });
    }

    /// Forgets `id`, registered as `nick`.
    pub fn remove(&mut self, nick: &str, id: ConnId) {
        if let Ok(entry) = self.table.find_entry(self.hash(nick), |&other| other == id) {
            entry.remove();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_by_ascii_folded_nick_and_forgets() {
        let names = ["Alice", "bob", "Émile", "émile"];
        let nick_of = |id: ConnId| names[id];
        let mut t = NickTable::default();
        for (id, n) in names.iter().enumerate() {
            assert_eq!(t.get(n, nick_of), None);
            t.insert(n, id, nick_of);
        }
        assert_eq!(t.get("ALICE", nick_of), Some(0));
        assert_eq!(t.get("BoB", nick_of), Some(1));
        assert_eq!(t.get("Émile", nick_of), Some(2));
        assert_eq!(t.get("émile", nick_of), Some(3));
        // Only ASCII letters fold.
        assert_eq!(t.get("ÉMILE", nick_of), Some(2));
        assert_eq!(t.get("éMILE", nick_of), Some(3));
        t.remove("Alice", 0);
        assert_eq!(t.get("alice", nick_of), None);
        assert_eq!(t.get("bob", nick_of), Some(1));
        // Many entries: growth rehashes through `nick_of`.
        let many: Vec<String> = (0..1000).map(|i| format!("N{i}")).collect();
        let of = |id: ConnId| many[id].as_str();
        let mut t = NickTable::default();
        for (id, n) in many.iter().enumerate() {
            t.insert(n, id, of);
        }
        assert!((0..1000).all(|i| t.get(&format!("n{i}"), of) == Some(i)));
    }
}
