//! Deadlines ordered by time (a binary heap), so timeouts cost O(log n) per
//! deadline instead of a scan of all connections.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// What a deadline is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TimerKind {
    /// HELLO must complete by then.
    Handshake,
    /// Check the keepalive (the connection may have been active since).
    Keepalive,
    /// The driver's closing phases (flush, then drain).
    Closing,
    /// A password check slowed down after failures may start.
    AuthStart,
    /// A gateway session's silence check (the server's keepalive PING).
    GatewayPing,
    /// A cluster proposal's deadline (ERROR unavailable unless acked).
    Proposal,
}

/// One scheduled deadline for connection `id` (valid while its serial matches).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deadline {
    /// When, in the engine's monotonic milliseconds.
    pub at_ms: u64,
    /// The connection's slot.
    pub id: usize,
    /// The connection's serial; a stale entry (slot reused) is ignored.
    pub serial: u64,
    /// What it is for.
    pub kind: TimerKind,
}

/// A min-heap of deadlines. Entries are never removed early: the owner checks
/// on expiry whether the entry still applies (lazy deletion).
#[derive(Debug, Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<Deadline>>,
}

impl Timers {
    /// Schedules a deadline.
    pub fn push(&mut self, d: Deadline) {
        self.heap.push(Reverse(d));
    }

    /// The earliest deadline, if any.
    pub fn next_at(&self) -> Option<u64> {
        self.heap.peek().map(|Reverse(d)| d.at_ms)
    }

    /// Removes and returns the earliest deadline if it is due at `now_ms`.
    pub fn pop_due(&mut self, now_ms: u64) -> Option<Deadline> {
        match self.heap.peek() {
            Some(Reverse(d)) if d.at_ms <= now_ms => self.heap.pop().map(|Reverse(d)| d),
            _ => None,
        }
    }

    /// Scheduled entries (stale ones included).
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether nothing is scheduled.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_time_order_only_when_due() {
        let mut t = Timers::default();
        for (at, id) in [(30, 3), (10, 1), (20, 2)] {
            t.push(Deadline {
                at_ms: at,
                id,
                serial: 0,
                kind: TimerKind::Keepalive,
            });
        }
        assert_eq!(t.next_at(), Some(10));
        assert!(t.pop_due(9).is_none());
        assert_eq!(t.pop_due(25).map(|d| d.id), Some(1));
        assert_eq!(t.pop_due(25).map(|d| d.id), Some(2));
        assert!(t.pop_due(25).is_none());
        assert_eq!(t.len(), 1);
    }
}
