//! Operator queries on the engine: counters, paged connection listings by
//! state, the largest rooms, kicking, and the stream of connection state
//! changes.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::ops::Bound;

use crate::cluster::link::NodeInfo;
use crate::codec::ErrorCode;
use crate::core::engine::{Engine, Now, slot_state};
use crate::core::observe::{ConnEvent, ConnInfo, ConnState, Counters, RoomInfo, RoomSummary};
use crate::core::session::{ConnId, Session};

impl<T> Engine<T> {
    /// A snapshot of the server-wide counters.
    pub fn counters(&self, now: Now) -> Counters {
        let mut c = self.counters.clone();
        c.waiting = self.index[0].len() as u64;
        c.connected = self.index[1].len() as u64;
        c.closing = self.index[2].len() as u64;
        c.rooms = self.rooms.len() as u64;
        c.frames_out = self.outbox.frames_out;
        c.uptime_ms = self
            .started_mono_ms
            .map_or(0, |s| now.mono_ms.saturating_sub(s));
        c
    }

    /// Replaces the list of the cluster's live nodes (this one included),
    /// as the relay reports it (`FromRelay::Peers`); kept for the operator
    /// view only: the engine's behaviour does not depend on it.
    pub fn set_cluster_nodes(&mut self, nodes: Vec<NodeInfo>) {
        self.cluster_nodes = nodes;
    }

    /// The cluster's live nodes as last reported (empty standalone).
    pub fn cluster_nodes(&self) -> &[NodeInfo] {
        &self.cluster_nodes
    }

    /// Notes when the server started (for uptime); later calls are ignored.
    pub fn mark_started(&mut self, now: Now) {
        self.started_mono_ms.get_or_insert(now.mono_ms);
    }

    /// Up to `limit` connections in `state` with ids greater than `after_id`,
    /// in id order, and whether more follow. Costs O(limit + log n).
    pub fn list(&self, state: ConnState, after_id: u64, limit: usize) -> (Vec<ConnInfo>, bool) {
        let slot = match state {
            ConnState::Waiting => 0,
            ConnState::Connected => 1,
            ConnState::Closing => 2,
        };
        let mut it = self.index[slot].range((Bound::Excluded(after_id), Bound::Unbounded));
        let page: Vec<ConnInfo> = it
            .by_ref()
            .take(limit)
            .map(|(_, &id)| self.info(id, slot_state(slot)))
            .collect();
        (page, it.next().is_some())
    }

    /// The `limit` largest rooms, largest first (equal sizes by slot), with
    /// the number of rooms and of quiet rooms. Reads each room's member count
    /// once (no member list is walked): O(rooms × log limit).
    pub fn rooms_by_size(&self, limit: usize) -> RoomSummary {
        // A min-heap of the largest seen so far: (members, Reverse(slot)).
        let mut top: BinaryHeap<Reverse<(usize, Reverse<usize>)>> =
            BinaryHeap::with_capacity(limit.saturating_add(1).min(1024));
        let mut rooms = 0u64;
        let mut quiet = 0u64;
        for (id, room) in self.rooms.iter() {
            rooms += 1;
            quiet += u64::from(room.quiet);
            if limit == 0 {
                continue;
            }
            let key = (room.len(), Reverse(id));
            if top.len() < limit {
                top.push(Reverse(key));
            } else if top.peek().is_some_and(|Reverse(min)| key > *min) {
                top.pop();
                top.push(Reverse(key));
            }
        }
        let mut largest: Vec<(usize, Reverse<usize>)> =
            top.into_iter().map(|Reverse(k)| k).collect();
        largest.sort_unstable_by(|a, b| b.cmp(a));
        RoomSummary {
            largest: largest
                .into_iter()
                .map(|(n, Reverse(id))| {
                    let room = self.rooms.get(id);
                    RoomInfo {
                        name: room.name.to_string(),
                        members: n as u64,
                        quiet: room.quiet,
                    }
                })
                .collect(),
            rooms,
            quiet,
        }
    }

    fn info(&self, id: ConnId, state: ConnState) -> ConnInfo {
        let s: &Session<T> = &self.sessions[id];
        ConnInfo {
            id: s.serial,
            peer: s.peer,
            nick: s.nick.as_deref().map(str::to_owned),
            state,
            rooms: s
                .rooms
                .iter()
                .map(|m| self.rooms.get(m.room()).name.to_string())
                .collect(),
            accepted_ms: s.accepted_unix_ms,
            connected_ms: (s.connected_unix_ms > 0).then_some(s.connected_unix_ms),
            bytes_in: s.bytes_in,
            bytes_out: s.bytes_out,
            queued: s.out.queued() as u64,
        }
    }

    /// Removes the client registered as `nick` (ERROR kicked with `detail`,
    /// LEFT reason 6 to its rooms). Returns whether such a client existed.
    pub fn kick(&mut self, nick: &str, detail: &str, now: Now) -> bool {
        let Some(id) = self.nick_slot(nick) else {
            return false;
        };
        self.fail(id, ErrorCode::Kicked, detail, now);
        self.settle(now);
        true
    }

    /// Starts or stops recording connection state changes for operators.
    pub fn set_observing(&mut self, on: bool) {
        match (on, self.events.is_some()) {
            (true, false) => self.events = Some(Vec::new()),
            (false, true) => self.events = None,
            _ => {}
        }
    }

    /// Takes the recorded state changes, oldest first.
    pub fn take_events(&mut self) -> Vec<ConnEvent> {
        self.events.as_mut().map(std::mem::take).unwrap_or_default()
    }
}
