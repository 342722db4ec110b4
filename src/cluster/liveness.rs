//! Liveness: which nodes are alive, from their heartbeats.
//!
//! Sans-IO: the relay feeds every heartbeat it receives, with the time, and
//! asks now and then which peers have gone silent. A heartbeat is a small
//! binary message of our own on core NATS (`stxchat.hb`): it carries the
//! sender's [`NodeInfo`], whether it is ready (serving, so it can hand out a
//! snapshot) and whether it is leaving.

use hashbrown::HashMap;

use super::link::{NodeId, NodeInfo};
use crate::codec::names::truncate_at_char;
use crate::codec::wire::{Reader, Truncated};

/// A peer silent for this long is dead, ms.
pub const DEAD_AFTER_MS: u64 = 3_000;

/// How often a node sends its heartbeat, ms.
pub const HEARTBEAT_EVERY_MS: u64 = 1_000;

/// Nodes tracked at most (heartbeats of further ids are ignored).
pub const MAX_PEERS: usize = 1024;

const MAGIC: &[u8; 4] = b"STXH";
const VERSION: u8 = 1;
/// Longest node name carried.
pub const MAX_NAME: usize = 255;

/// One heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    /// The sender and its state.
    pub info: NodeInfo,
    /// It serves clients (and so can answer a snapshot request).
    pub ready: bool,
    /// It is stopping cleanly: forget it now, it is not dead.
    pub leaving: bool,
}

/// Why a heartbeat could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HeartbeatError {
    /// Not one of ours.
    #[error("not a heartbeat")]
    Magic,
    /// A version this build does not know.
    #[error("unknown heartbeat version {0}")]
    Version(u8),
    /// Cut short or malformed.
    #[error("truncated or malformed heartbeat")]
    Truncated,
}

impl From<Truncated> for HeartbeatError {
    fn from(_: Truncated) -> Self {
        HeartbeatError::Truncated
    }
}

impl Heartbeat {
    /// Appends the encoded heartbeat to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.push(u8::from(self.ready) | (u8::from(self.leaving) << 1));
        out.extend_from_slice(&self.info.id.to_be_bytes());
        out.extend_from_slice(&self.info.fingerprint.to_be_bytes());
        out.extend_from_slice(&self.info.applied.to_be_bytes());
        out.extend_from_slice(&self.info.connected.to_be_bytes());
        let name = truncate_at_char(&self.info.name, MAX_NAME);
        out.push(name.len() as u8);
        out.extend_from_slice(name.as_bytes());
    }

    /// Reads a heartbeat.
    pub fn decode(b: &[u8]) -> Result<Heartbeat, HeartbeatError> {
        if b.len() < 5 || &b[..4] != MAGIC {
            return Err(HeartbeatError::Magic);
        }
        if b[4] != VERSION {
            return Err(HeartbeatError::Version(b[4]));
        }
        let mut r = Reader::new(&b[5..]);
        let flags = r.u8()?;
        let id = r.u64()?;
        let fingerprint = r.u64()?;
        let applied = r.u64()?;
        let connected = r.u32()?;
        let name = r.str8()?;
        r.finish()?;
        if id == 0 {
            return Err(HeartbeatError::Truncated);
        }
        Ok(Heartbeat {
            info: NodeInfo {
                id,
                name: name.to_owned(),
                connected,
                applied,
                fingerprint,
            },
            ready: flags & 1 != 0,
            leaving: flags & 2 != 0,
        })
    }
}

/// What a heartbeat changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// A node not known before.
    New,
    /// A known node whose name, count, readiness or fingerprint changed.
    Changed,
    /// Nothing an operator would see changed.
    Same,
    /// A node left cleanly and is forgotten.
    Left,
    /// Ignored (the table is full).
    Ignored,
}

#[derive(Debug)]
struct Peer {
    info: NodeInfo,
    ready: bool,
    last_ms: u64,
}

/// The live peers, by id (this node's own entry included once it is set).
#[derive(Debug, Default)]
pub struct Liveness {
    peers: HashMap<NodeId, Peer>,
}

impl Liveness {
    /// An empty table.
    pub fn new() -> Self {
        Liveness::default()
    }

    /// Records a heartbeat received at `now_ms`.
    pub fn on_heartbeat(&mut self, hb: Heartbeat, now_ms: u64) -> Seen {
        if hb.leaving {
            return match self.peers.remove(&hb.info.id) {
                Some(_) => Seen::Left,
                None => Seen::Same,
            };
        }
        let full = self.peers.len() >= MAX_PEERS;
        match self.peers.get_mut(&hb.info.id) {
            Some(p) => {
                p.last_ms = now_ms;
                let changed = p.ready != hb.ready
                    || p.info.name != hb.info.name
                    || p.info.connected != hb.info.connected
                    || p.info.fingerprint != hb.info.fingerprint;
                p.info = hb.info;
                p.ready = hb.ready;
                if changed { Seen::Changed } else { Seen::Same }
            }
            None if full => Seen::Ignored,
            None => {
                self.peers.insert(
                    hb.info.id,
                    Peer {
                        info: hb.info,
                        ready: hb.ready,
                        last_ms: now_ms,
                    },
                );
                Seen::New
            }
        }
    }

    /// Removes and returns the peers silent for [`DEAD_AFTER_MS`] at
    /// `now_ms`, except `me`.
    pub fn expire(&mut self, me: NodeId, now_ms: u64) -> Vec<NodeId> {
        let dead: Vec<NodeId> = self
            .peers
            .iter()
            .filter(|(id, p)| **id != me && now_ms.saturating_sub(p.last_ms) >= DEAD_AFTER_MS)
            .map(|(id, _)| *id)
            .collect();
        for id in &dead {
            self.peers.remove(id);
        }
        dead
    }

    /// Counts every peer as heard from at `now_ms` (after this node's own
    /// link was down: their silence was ours).
    pub fn refresh_all(&mut self, now_ms: u64) {
        for p in self.peers.values_mut() {
            p.last_ms = now_ms;
        }
    }

    /// A live peer other than `me` that is ready, preferring the one that
    /// has applied most (ties: lowest id).
    pub fn snapshot_source(&self, me: NodeId) -> Option<NodeId> {
        self.peers
            .iter()
            .filter(|(id, p)| **id != me && p.ready)
            .max_by_key(|(id, p)| (p.info.applied, std::cmp::Reverse(**id)))
            .map(|(id, _)| *id)
    }

    /// Whether a live peer other than `me`, not yet ready, has a lower id
    /// (nodes starting together: the lowest starts fresh, the others wait
    /// for it and take its snapshot).
    pub fn lower_starting_peer(&self, me: NodeId) -> bool {
        self.peers.iter().any(|(id, p)| *id < me && !p.ready)
    }

    /// A live peer other than `me` whose fingerprint is not `fingerprint`.
    pub fn mismatch(&self, me: NodeId, fingerprint: u64) -> Option<&NodeInfo> {
        self.peers
            .iter()
            .find(|(id, p)| **id != me && p.info.fingerprint != fingerprint)
            .map(|(_, p)| &p.info)
    }

    /// The live nodes, sorted by name then id.
    pub fn list(&self) -> Vec<NodeInfo> {
        let mut v: Vec<NodeInfo> = self.peers.values().map(|p| p.info.clone()).collect();
        v.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        v
    }

    /// Nodes tracked.
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    /// Whether no node is tracked.
    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hb(id: NodeId, ready: bool) -> Heartbeat {
        Heartbeat {
            info: NodeInfo {
                id,
                name: format!("n{id}"),
                connected: 3,
                applied: 10,
                fingerprint: 77,
            },
            ready,
            leaving: false,
        }
    }

    #[test]
    fn heartbeats_round_trip() {
        let mut h = hb(0xdead_beef, true);
        h.info.name = "ünïcode".into();
        let mut b = Vec::new();
        h.encode(&mut b);
        assert_eq!(Heartbeat::decode(&b), Ok(h));
    }

    #[test]
    fn long_names_are_cut_on_a_char_boundary() {
        let mut h = hb(1, true);
        h.info.name = "é".repeat(200);
        let mut b = Vec::new();
        h.encode(&mut b);
        let back = Heartbeat::decode(&b).unwrap();
        assert!(back.info.name.len() <= MAX_NAME);
        assert!(back.info.name.chars().all(|c| c == 'é'));
    }

    #[test]
    fn bad_heartbeats_are_typed_errors() {
        let mut b = Vec::new();
        hb(1, true).encode(&mut b);
        assert_eq!(Heartbeat::decode(b"junk"), Err(HeartbeatError::Magic));
        let mut v = b.clone();
        v[4] = 9;
        assert_eq!(Heartbeat::decode(&v), Err(HeartbeatError::Version(9)));
        for cut in 5..b.len() {
            assert_eq!(
                Heartbeat::decode(&b[..cut]),
                Err(HeartbeatError::Truncated),
                "cut at {cut}"
            );
        }
        let mut long = b.clone();
        long.push(0);
        assert_eq!(Heartbeat::decode(&long), Err(HeartbeatError::Truncated));
    }

    #[test]
    fn a_silent_peer_dies_after_three_seconds() {
        let mut t = Liveness::new();
        assert_eq!(t.on_heartbeat(hb(1, true), 0), Seen::New);
        assert_eq!(t.on_heartbeat(hb(2, true), 0), Seen::New);
        assert_eq!(t.on_heartbeat(hb(2, true), 2_000), Seen::Same);
        assert!(t.expire(9, DEAD_AFTER_MS - 1).is_empty());
        assert_eq!(t.expire(9, DEAD_AFTER_MS), vec![1]);
        assert_eq!(t.len(), 1);
        assert_eq!(t.expire(9, 2_000 + DEAD_AFTER_MS), vec![2]);
        assert!(t.is_empty());
    }

    #[test]
    fn this_node_never_expires_itself() {
        let mut t = Liveness::new();
        t.on_heartbeat(hb(5, true), 0);
        assert!(t.expire(5, 1_000_000).is_empty());
    }

    #[test]
    fn a_leaving_node_is_forgotten_not_dead() {
        let mut t = Liveness::new();
        t.on_heartbeat(hb(1, true), 0);
        let mut bye = hb(1, true);
        bye.leaving = true;
        assert_eq!(t.on_heartbeat(bye, 10), Seen::Left);
        assert!(t.expire(9, 10_000).is_empty());
    }

    #[test]
    fn changes_are_reported() {
        let mut t = Liveness::new();
        t.on_heartbeat(hb(1, false), 0);
        assert_eq!(t.on_heartbeat(hb(1, true), 1), Seen::Changed);
        let mut more = hb(1, true);
        more.info.connected = 4;
        assert_eq!(t.on_heartbeat(more, 2), Seen::Changed);
        let mut applied = hb(1, true);
        applied.info.connected = 4;
        applied.info.applied = 99;
        assert_eq!(t.on_heartbeat(applied, 3), Seen::Same);
    }

    #[test]
    fn refresh_after_own_outage_spares_everyone() {
        let mut t = Liveness::new();
        t.on_heartbeat(hb(1, true), 0);
        t.refresh_all(10_000);
        assert!(t.expire(9, 10_000 + DEAD_AFTER_MS - 1).is_empty());
    }

    #[test]
    fn snapshot_source_and_start_order() {
        let mut t = Liveness::new();
        t.on_heartbeat(hb(3, false), 0);
        assert_eq!(t.snapshot_source(9), None);
        assert!(t.lower_starting_peer(9));
        assert!(!t.lower_starting_peer(2));
        t.on_heartbeat(hb(4, true), 0);
        let mut ahead = hb(7, true);
        ahead.info.applied = 50;
        t.on_heartbeat(ahead, 0);
        assert_eq!(t.snapshot_source(9), Some(7));
        assert_eq!(t.snapshot_source(7), Some(4));
    }

    #[test]
    fn fingerprint_mismatch_is_found() {
        let mut t = Liveness::new();
        t.on_heartbeat(hb(1, true), 0);
        assert!(t.mismatch(9, 77).is_none());
        assert_eq!(t.mismatch(9, 78).map(|i| i.id), Some(1));
        assert!(t.mismatch(1, 78).is_none(), "itself is not compared");
    }

    #[test]
    fn the_table_is_bounded() {
        let mut t = Liveness::new();
        for id in 1..=MAX_PEERS as u64 {
            t.on_heartbeat(hb(id, true), 0);
        }
        assert_eq!(t.on_heartbeat(hb(u64::MAX, true), 0), Seen::Ignored);
        assert_eq!(t.len(), MAX_PEERS);
    }
}
