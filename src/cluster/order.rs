//! The order buffer: turns the republished feed (which NATS may deliver a
//! little out of order, or with holes) into the dense, strictly increasing
//! sequence of records the engine applies.
//!
//! Sans-IO: the relay offers every record it sees (from the feed or from a
//! direct get) with its stream sequence and the time; it pops the records
//! that are next in order; it asks which sequences to fetch when a gap has
//! stayed open too long or too much is held. Nothing here knows NATS.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

/// How long a gap may stay open before its sequences are fetched, ms.
pub const GAP_WAIT_MS: u64 = 200;

/// Sequences asked for in one [`OrderBuffer::gap`] answer, at most.
pub const MAX_FETCH: u64 = 256;

/// What became of an offered record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// Already applied (or below the base): dropped.
    Stale,
    /// Already held: the copy was dropped.
    Duplicate,
    /// Held (it may be the next one: see [`OrderBuffer::pop`]).
    Held,
    /// Dropped: the buffer holds its maximum and this one is not the next.
    Full,
}

/// Records held until their predecessors arrived, by stream sequence.
#[derive(Debug)]
pub struct OrderBuffer {
    /// The next sequence to hand out.
    next: u64,
    held: BTreeMap<u64, Vec<u8>>,
    /// Bytes held (for the bound).
    held_bytes: usize,
    max_held: usize,
    max_bytes: usize,
    /// Since when the lowest held record has waited behind a gap.
    gap_since: Option<u64>,
    /// The highest sequence known to exist (from the feed or the stream's
    /// state); a gap up to it may be fetched even when nothing is held.
    known_last: u64,
}

impl OrderBuffer {
    /// An empty buffer holding at most `max_held` records and `max_bytes`
    /// bytes, handing out sequence 1 first until [`OrderBuffer::reset`].
    pub fn new(max_held: usize, max_bytes: usize) -> Self {
        OrderBuffer {
            next: 1,
            held: BTreeMap::new(),
            held_bytes: 0,
            max_held: max_held.max(1),
            max_bytes: max_bytes.max(1),
            gap_since: None,
            known_last: 0,
        }
    }

    /// Start after `base` (everything up to it is applied): held records up
    /// to `base` are dropped, later ones kept.
    pub fn reset(&mut self, base: u64, now_ms: u64) {
        self.next = base + 1;
        while let Some(entry) = self.held.first_entry() {
            if *entry.key() > base {
                break;
            }
            self.held_bytes -= entry.remove().len();
        }
        self.restart_wait(now_ms);
    }

    /// The next sequence to hand out (everything below it is handed out).
    pub fn next_seq(&self) -> u64 {
        self.next
    }

    /// Records held now.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// Offers the record `seq` seen at `now_ms`.
    pub fn offer(&mut self, seq: u64, record: Vec<u8>, now_ms: u64) -> Offer {
        if seq < self.next {
            return Offer::Stale;
        }
        if self.held.contains_key(&seq) {
            return Offer::Duplicate;
        }
        if seq != self.next
            && (self.held.len() >= self.max_held || self.held_bytes + record.len() > self.max_bytes)
        {
            // Keep room for the records that close the gap.
            self.note_last(seq, now_ms);
            return Offer::Full;
        }
        self.note_last(seq, now_ms);
        self.held_bytes += record.len();
        self.held.insert(seq, record);
        if seq == self.next {
            self.gap_since = None;
        }
        Offer::Held
    }

    /// Records that the stream holds sequences up to `last` (from its
    /// state), so that a gap after the last record seen is noticed too.
    pub fn note_last(&mut self, last: u64, now_ms: u64) {
        if last > self.known_last {
            self.known_last = last;
        }
        if self.gap_since.is_none() && self.has_gap() && !self.held.contains_key(&self.next) {
            self.gap_since = Some(now_ms);
        }
    }

    /// The next record in order, if it is here.
    pub fn pop(&mut self, now_ms: u64) -> Option<(u64, Vec<u8>)> {
        let entry = self.held.first_entry()?;
        if *entry.key() != self.next {
            return None;
        }
        let seq = *entry.key();
        let record = entry.remove();
        self.held_bytes -= record.len();
        self.next = seq + 1;
        self.restart_wait(now_ms);
        Some((seq, record))
    }

    /// The sequences to fetch from the stream now, if a gap is due: no
    /// progress was made for [`GAP_WAIT_MS`] while a gap was open (held
    /// records behind it, or sequences the stream is known to hold), or the
    /// buffer is at least half full. At most [`MAX_FETCH`] at once.
    pub fn gap(&self, now_ms: u64) -> Option<RangeInclusive<u64>> {
        let waited = self
            .gap_since
            .is_some_and(|t| now_ms.saturating_sub(t) >= GAP_WAIT_MS);
        let end = match self.held.first_key_value() {
            Some((&first, _)) => {
                if first == self.next {
                    return None;
                }
                let full =
                    self.held.len() * 2 >= self.max_held || self.held_bytes * 2 >= self.max_bytes;
                if !waited && !full {
                    return None;
                }
                first - 1
            }
            None if self.known_last >= self.next && waited => self.known_last,
            None => return None,
        };
        Some(self.next..=end.min(self.next + MAX_FETCH - 1))
    }

    /// The stream no longer holds `seq` (it cannot be recovered): hand out
    /// what follows it. Returns whether `seq` was the next one.
    pub fn skip(&mut self, seq: u64, now_ms: u64) -> bool {
        if seq != self.next {
            return false;
        }
        self.next = seq + 1;
        self.restart_wait(now_ms);
        true
    }

    /// Progress was made at `now_ms`: a gap still open waits from now.
    fn restart_wait(&mut self, now_ms: u64) {
        self.gap_since = (self.has_gap() && !self.held.contains_key(&self.next)).then_some(now_ms);
    }

    /// Whether a gap is waiting (the relay then polls [`OrderBuffer::gap`]).
    pub fn has_gap(&self) -> bool {
        match self.held.first_key_value() {
            Some((&s, _)) => s != self.next,
            None => self.known_last >= self.next,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(seq: u64) -> Vec<u8> {
        seq.to_be_bytes().to_vec()
    }

    fn drain(b: &mut OrderBuffer, now: u64) -> Vec<u64> {
        let mut out = Vec::new();
        while let Some((s, r)) = b.pop(now) {
            assert_eq!(r, rec(s));
            out.push(s);
        }
        out
    }

    #[test]
    fn in_order_records_pass_straight_through() {
        let mut b = OrderBuffer::new(16, 1 << 20);
        for s in 1..=5 {
            assert_eq!(b.offer(s, rec(s), 0), Offer::Held);
            assert_eq!(drain(&mut b, 0), vec![s]);
        }
        assert_eq!(b.gap(10_000), None);
        assert!(!b.has_gap());
    }

    #[test]
    fn an_early_record_waits_for_its_predecessor() {
        let mut b = OrderBuffer::new(16, 1 << 20);
        b.offer(1, rec(1), 0);
        b.offer(3, rec(3), 0);
        assert_eq!(drain(&mut b, 0), vec![1]);
        assert!(b.has_gap());
        assert_eq!(b.gap(GAP_WAIT_MS - 1), None, "not yet due");
        b.offer(2, rec(2), 5);
        assert_eq!(drain(&mut b, 5), vec![2, 3]);
        assert!(!b.has_gap());
    }

    #[test]
    fn a_gap_that_stays_open_asks_for_exactly_the_missing_sequences() {
        let mut b = OrderBuffer::new(16, 1 << 20);
        b.offer(1, rec(1), 0);
        drain(&mut b, 0);
        b.offer(5, rec(5), 100);
        b.offer(6, rec(6), 100);
        assert_eq!(b.gap(100 + GAP_WAIT_MS - 1), None);
        assert_eq!(b.gap(100 + GAP_WAIT_MS), Some(2..=4));
        for s in 2..=4 {
            b.offer(s, rec(s), 400);
        }
        assert_eq!(drain(&mut b, 400), vec![2, 3, 4, 5, 6]);
    }

    #[test]
    fn duplicates_and_stale_records_are_dropped() {
        let mut b = OrderBuffer::new(16, 1 << 20);
        b.offer(1, rec(1), 0);
        drain(&mut b, 0);
        assert_eq!(b.offer(1, rec(1), 0), Offer::Stale);
        assert_eq!(b.offer(3, rec(3), 0), Offer::Held);
        assert_eq!(b.offer(3, rec(3), 0), Offer::Duplicate);
        assert_eq!(b.held(), 1);
    }

    #[test]
    fn the_buffer_is_bounded_and_a_full_one_is_due_at_once() {
        let mut b = OrderBuffer::new(4, 1 << 20);
        for s in 2..=5 {
            assert_eq!(b.offer(s, rec(s), 0), Offer::Held);
        }
        assert_eq!(b.offer(6, rec(6), 0), Offer::Full);
        // Half full or more: due without waiting.
        assert_eq!(b.gap(0), Some(1..=1));
        // The record that closes the gap is always taken.
        assert_eq!(b.offer(1, rec(1), 0), Offer::Held);
        assert_eq!(drain(&mut b, 0), vec![1, 2, 3, 4, 5]);
        // 6 was dropped but is known to exist: it is fetched in time.
        assert_eq!(b.gap(0), None);
        assert_eq!(b.gap(GAP_WAIT_MS), Some(6..=6));
    }

    #[test]
    fn bytes_are_bounded_too() {
        let mut b = OrderBuffer::new(100, 20);
        assert_eq!(b.offer(2, vec![0; 16], 0), Offer::Held);
        assert_eq!(b.offer(3, vec![0; 16], 0), Offer::Full);
        assert_eq!(b.gap(0), Some(1..=1));
    }

    #[test]
    fn a_known_tail_is_fetched_even_when_nothing_is_held() {
        let mut b = OrderBuffer::new(16, 1 << 20);
        b.reset(10, 0);
        assert_eq!(b.gap(0), None);
        b.note_last(13, 0);
        assert!(b.has_gap());
        assert_eq!(b.gap(GAP_WAIT_MS - 1), None, "they may be on their way");
        assert_eq!(b.gap(GAP_WAIT_MS), Some(11..=13));
        // Progress restarts the wait.
        b.offer(11, rec(11), 150);
        b.pop(150);
        assert_eq!(b.gap(GAP_WAIT_MS), None);
        assert_eq!(b.gap(150 + GAP_WAIT_MS), Some(12..=13));
    }

    #[test]
    fn fetches_are_capped() {
        let mut b = OrderBuffer::new(16, 1 << 20);
        b.note_last(10_000, 0);
        assert_eq!(b.gap(GAP_WAIT_MS), Some(1..=MAX_FETCH));
    }

    #[test]
    fn an_unrecoverable_sequence_is_skipped() {
        let mut b = OrderBuffer::new(16, 1 << 20);
        b.offer(2, rec(2), 0);
        assert!(!b.skip(5, 0), "only the next sequence can be skipped");
        assert!(b.skip(1, 0));
        assert_eq!(drain(&mut b, 0), vec![2]);
    }

    #[test]
    fn reset_keeps_what_follows_the_base() {
        let mut b = OrderBuffer::new(16, 1 << 20);
        for s in [3, 7, 8, 12] {
            b.offer(s, rec(s), 0);
        }
        b.reset(7, 0);
        assert_eq!(b.next_seq(), 8);
        assert_eq!(drain(&mut b, 0), vec![8]);
        assert_eq!(b.held(), 1);
        assert_eq!(b.gap(GAP_WAIT_MS), Some(9..=11));
    }

    #[test]
    fn a_steady_flow_with_a_gap_waits_from_the_last_progress() {
        let mut b = OrderBuffer::new(1000, 1 << 20);
        b.offer(1, rec(1), 0);
        b.offer(3, rec(3), 0);
        drain(&mut b, 0);
        assert_eq!(b.gap(GAP_WAIT_MS), Some(2..=2));
    }

    #[test]
    fn shuffled_input_comes_out_dense_and_in_order() {
        // A fixed pseudo-random shuffle of 1..=500: some records land far
        // from their place, so the bounded buffer drops some and gap
        // fetches (answered from the "stream", that is 1..=500) refill them.
        let mut seqs: Vec<u64> = (1..=500).collect();
        let mut x: u64 = 0x9e37_79b9;
        for i in 0..seqs.len() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let j = (i + (x % 20) as usize).min(seqs.len() - 1);
            seqs.swap(i, j);
        }
        let mut b = OrderBuffer::new(64, 1 << 20);
        let mut out = Vec::new();
        let mut now = 0;
        for s in seqs {
            now += 1;
            b.offer(s, rec(s), now);
            out.extend(drain(&mut b, now));
            if let Some(r) = b.gap(now) {
                for s in r {
                    b.offer(s, rec(s), now);
                }
                out.extend(drain(&mut b, now));
            }
        }
        while let Some(r) = b.gap(now + GAP_WAIT_MS) {
            for s in r {
                b.offer(s, rec(s), now);
            }
            out.extend(drain(&mut b, now));
        }
        assert_eq!(out, (1..=500).collect::<Vec<_>>());
    }
}
