//! What `stxchat top` knows about the server's connections, merged from
//! LIST pages and pushed EVENTs.
//!
//! The server answers one admin connection in order, and pushes every
//! state change that happened before a LIST was answered ahead of the LIST
//! page. So applying pages and events in arrival order keeps the table
//! right: a page is the truth for its id range at the moment it was
//! answered (entries of that state in the range are replaced), and an event
//! is applied on top of whatever came before it.

use std::collections::BTreeMap;

use crate::admin::proto::ListPage;
use crate::core::observe::{ConnChange, ConnEvent, ConnInfo, ConnState};

/// The connections known, by id.
#[derive(Debug, Clone, Default)]
pub struct ConnTable {
    conns: BTreeMap<u64, ConnInfo>,
}

impl ConnTable {
    /// An empty table.
    pub fn new() -> Self {
        ConnTable::default()
    }

    /// Forgets everything (e.g. before re-reading after a reconnect).
    pub fn clear(&mut self) {
        self.conns.clear();
    }

    /// Applies one pushed state change.
    pub fn apply_event(&mut self, ev: &ConnEvent) {
        match ev.change {
            ConnChange::Accepted => {
                self.conns.entry(ev.id).or_insert_with(|| ConnInfo {
                    id: ev.id,
                    peer: ev.peer,
                    nick: None,
                    state: ConnState::Waiting,
                    rooms: Vec::new(),
                    accepted_ms: ev.time_ms,
                    connected_ms: None,
                    bytes_in: 0,
                    bytes_out: 0,
                    queued: 0,
                });
            }
            ConnChange::Registered => {
                let c = self.conns.entry(ev.id).or_insert_with(|| ConnInfo {
                    id: ev.id,
                    peer: ev.peer,
                    nick: None,
                    state: ConnState::Connected,
                    rooms: Vec::new(),
                    // Accepted before we looked: the best we know.
                    accepted_ms: ev.time_ms,
                    connected_ms: None,
                    bytes_in: 0,
                    bytes_out: 0,
                    queued: 0,
                });
                c.state = ConnState::Connected;
                c.nick.clone_from(&ev.nick);
                c.connected_ms = Some(ev.time_ms);
            }
            ConnChange::Closed(_) => {
                self.conns.remove(&ev.id);
            }
        }
    }

    /// Applies a LIST page answered for a request with cursor `after_id`:
    /// the page's state in ids `(after_id, end]` becomes exactly the page,
    /// where `end` is the page's last id if more follow, else unbounded.
    pub fn apply_page(&mut self, after_id: u64, page: &ListPage) {
        let end = if page.more { page.next_after } else { u64::MAX };
        if end > after_id {
            let stale: Vec<u64> = self
                .conns
                .range(after_id + 1..=end)
                .filter(|(_, c)| c.state == page.state)
                .map(|(&id, _)| id)
                .collect();
            for id in stale {
                self.conns.remove(&id);
            }
        }
        for e in &page.entries {
            self.conns.insert(e.id, e.clone());
        }
    }

    /// The connections in `state`, in id order.
    pub fn in_state(&self, state: ConnState) -> impl Iterator<Item = &ConnInfo> {
        self.conns.values().filter(move |c| c.state == state)
    }

    /// The connection with this id.
    pub fn get(&self, id: u64) -> Option<&ConnInfo> {
        self.conns.get(&id)
    }

    /// How many connections are known.
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    /// Whether none are known.
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::observe::CloseReason;

    fn ev(id: u64, change: ConnChange, nick: Option<&str>) -> ConnEvent {
        ConnEvent {
            id,
            peer: format!("127.0.0.1:{}", 4000 + id).parse().unwrap(),
            nick: nick.map(str::to_owned),
            change,
            time_ms: 1000 + id,
        }
    }

    fn info(id: u64, state: ConnState) -> ConnInfo {
        ConnInfo {
            id,
            peer: format!("127.0.0.1:{}", 4000 + id).parse().unwrap(),
            nick: (state == ConnState::Connected).then(|| format!("n{id}")),
            state,
            rooms: vec![],
            accepted_ms: id,
            connected_ms: None,
            bytes_in: 10,
            bytes_out: 20,
            queued: 0,
        }
    }

    fn ids(t: &ConnTable, s: ConnState) -> Vec<u64> {
        t.in_state(s).map(|c| c.id).collect()
    }

    #[test]
    fn events_move_entries_between_lists() {
        let mut t = ConnTable::new();
        t.apply_event(&ev(1, ConnChange::Accepted, None));
        t.apply_event(&ev(2, ConnChange::Accepted, None));
        assert_eq!(ids(&t, ConnState::Waiting), vec![1, 2]);
        t.apply_event(&ev(1, ConnChange::Registered, Some("ann")));
        assert_eq!(ids(&t, ConnState::Waiting), vec![2]);
        assert_eq!(ids(&t, ConnState::Connected), vec![1]);
        assert_eq!(t.get(1).unwrap().nick.as_deref(), Some("ann"));
        assert_eq!(t.get(1).unwrap().connected_ms, Some(1001));
        t.apply_event(&ev(1, ConnChange::Closed(CloseReason::Bye), Some("ann")));
        t.apply_event(&ev(2, ConnChange::Closed(CloseReason::Error(15)), None));
        assert!(t.is_empty());
    }

    #[test]
    fn a_page_replaces_its_range_of_its_state_only() {
        let mut t = ConnTable::new();
        for id in 1..=6 {
            t.apply_event(&ev(id, ConnChange::Accepted, None));
        }
        t.apply_event(&ev(5, ConnChange::Registered, Some("eve")));
        // Page of waiting ids in (1, 4]: 3 vanished meanwhile, 2 and 4 remain.
        t.apply_page(
            1,
            &ListPage {
                state: ConnState::Waiting,
                more: true,
                next_after: 4,
                entries: vec![info(2, ConnState::Waiting), info(4, ConnState::Waiting)],
                rooms_truncated: vec![],
            },
        );
        assert_eq!(ids(&t, ConnState::Waiting), vec![1, 2, 4, 6]);
        assert_eq!(
            t.get(2).unwrap().bytes_in,
            10,
            "page data replaces event data"
        );
        // A last page (no more) covers everything above its cursor.
        t.apply_page(
            4,
            &ListPage {
                state: ConnState::Waiting,
                more: false,
                next_after: 4,
                entries: vec![],
                rooms_truncated: vec![],
            },
        );
        assert_eq!(ids(&t, ConnState::Waiting), vec![1, 2, 4]);
        assert_eq!(
            ids(&t, ConnState::Connected),
            vec![5],
            "other states untouched"
        );
    }

    #[test]
    fn pages_then_events_give_the_server_state() {
        // Initial paging while changes happen: events before a page are
        // already reflected in it; events after it apply on top.
        let mut t = ConnTable::new();
        t.apply_event(&ev(7, ConnChange::Accepted, None)); // before the page
        t.apply_page(
            0,
            &ListPage {
                state: ConnState::Waiting,
                more: false,
                next_after: 7,
                entries: vec![info(3, ConnState::Waiting), info(7, ConnState::Waiting)],
                rooms_truncated: vec![],
            },
        );
        t.apply_event(&ev(3, ConnChange::Registered, Some("zed"))); // after it
        t.apply_page(
            0,
            &ListPage {
                state: ConnState::Connected,
                more: false,
                next_after: 3,
                entries: vec![info(3, ConnState::Connected)],
                rooms_truncated: vec![],
            },
        );
        assert_eq!(ids(&t, ConnState::Waiting), vec![7]);
        assert_eq!(ids(&t, ConnState::Connected), vec![3]);
        assert_eq!(t.len(), 2);
    }
}
