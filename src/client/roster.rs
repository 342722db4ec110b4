//! A room's member list as the client knows it (protocol version 2 quiet
//! rooms included): the nicks it was told about, whether that list is only
//! part of the room, whether the room is quiet and, for a quiet room, the
//! member count its last ROOM gave.
//!
//! In a normal room the list is complete and kept live from MEMBERS, JOINED
//! and LEFT. In a quiet room the server sends one partial MEMBERS and then
//! only counts (ROOM); the list is kept as a sample and never turned into
//! join or leave notices. Nothing here compares two lists: a new MEMBERS
//! replaces the old one, so no arrival or departure is ever inferred.

use crate::codec::names_equal;

/// What a ROOM frame changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The room was already in that state (only the count may have moved).
    None,
    /// The room turned quiet.
    BecameQuiet,
    /// The room turned back to normal.
    BecameNormal,
}

/// One room's members, as far as the client knows them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roster {
    /// Nicks, sorted for display (case-insensitively), each once.
    members: Vec<String>,
    /// The list is only part of the room's members.
    partial: bool,
    /// The room is quiet (ROOM bit 0).
    quiet: bool,
    /// The member count of the last ROOM, while the room is quiet.
    count: Option<u32>,
}

impl Roster {
    /// The nicks known, sorted for display.
    pub fn members(&self) -> &[String] {
        &self.members
    }

    /// Whether the list is only part of the room (a quiet room's sample).
    pub fn is_partial(&self) -> bool {
        self.partial
    }

    /// Whether the room is quiet.
    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    /// How many members the room has: the last ROOM count in a quiet room,
    /// otherwise the length of the (complete) list.
    pub fn total(&self) -> u64 {
        match self.count {
            Some(n) if self.quiet => u64::from(n),
            _ => self.members.len() as u64,
        }
    }

    /// Replaces the list with a MEMBERS list (`partial`: MEMBERS bit 1).
    pub fn set_list(&mut self, nicks: &[String], partial: bool) {
        let mut m = nicks.to_vec();
        sort_nicks(&mut m);
        m.dedup_by(|a, b| names_equal(a, b));
        self.members = m;
        self.partial = partial;
    }

    /// Adds a nick announced by JOINED (or our own join).
    pub fn add(&mut self, nick: &str) {
        if !self.contains(nick) {
            self.members.push(nick.to_owned());
            sort_nicks(&mut self.members);
        }
    }

    /// Removes a nick announced by LEFT.
    pub fn remove(&mut self, nick: &str) {
        self.members.retain(|m| !names_equal(m, nick));
    }

    /// Whether `nick` is in the list.
    pub fn contains(&self, nick: &str) -> bool {
        self.members.iter().any(|m| names_equal(m, nick))
    }

    /// Applies a ROOM frame. A room turning quiet keeps its list as a
    /// sample (now partial); one turning normal has just been sent its
    /// complete list (MEMBERS before ROOM), which stays.
    pub fn summary(&mut self, quiet: bool, members: u32) -> Transition {
        let was = self.quiet;
        self.quiet = quiet;
        if quiet {
            self.count = Some(members);
            self.partial = true;
        } else {
            self.count = None;
            self.partial = false;
        }
        match (was, quiet) {
            (false, true) => Transition::BecameQuiet,
            (true, false) => Transition::BecameNormal,
            _ => Transition::None,
        }
    }

    /// Forgets everything (the connection was lost; a re-join sends it again).
    pub fn clear(&mut self) {
        *self = Roster::default();
    }
}

/// Sorts nicks for display: case-insensitively, ties by spelling.
pub fn sort_nicks(nicks: &mut [String]) {
    nicks.sort_by_key(|n| (n.to_lowercase(), n.clone()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nicks(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_normal_room_follows_joins_and_leaves() {
        let mut r = Roster::default();
        r.set_list(&nicks(&["zed", "Alice", "alice", "bob"]), false);
        assert_eq!(r.members(), ["Alice", "bob", "zed"]);
        r.add("carol");
        r.add("BOB");
        r.remove("ZED");
        assert_eq!(r.members(), ["Alice", "bob", "carol"]);
        assert_eq!(r.total(), 3);
        assert!(!r.is_partial() && !r.is_quiet());
    }

    #[test]
    fn a_quiet_room_counts_from_room_and_keeps_its_sample() {
        let mut r = Roster::default();
        r.set_list(&nicks(&["a", "b"]), true);
        assert!(r.is_partial());
        assert_eq!(r.summary(true, 19_342), Transition::BecameQuiet);
        assert_eq!(r.total(), 19_342);
        assert_eq!(r.summary(true, 19_000), Transition::None);
        assert_eq!(r.total(), 19_000);
        assert_eq!(r.members(), ["a", "b"]);
        // Turning back: the complete list comes first, then ROOM bit 0 clear.
        r.set_list(&nicks(&["a", "b", "c"]), false);
        assert_eq!(r.summary(false, 3), Transition::BecameNormal);
        assert!(!r.is_partial() && !r.is_quiet());
        assert_eq!(r.total(), 3);
        r.clear();
        assert_eq!(r, Roster::default());
    }

    #[test]
    fn a_room_turning_quiet_marks_its_complete_list_partial() {
        let mut r = Roster::default();
        r.set_list(&nicks(&["a", "b"]), false);
        assert_eq!(r.summary(true, 3), Transition::BecameQuiet);
        assert!(r.is_partial());
        assert_eq!(r.members(), ["a", "b"]);
        assert_eq!(r.total(), 3);
    }
}
