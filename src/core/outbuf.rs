//! Per-connection output: a queue of references into shared chunks
//! ([`crate::core::chunks`]), gathered into `IoSlice`s for one `writev`.
//!
//! A broadcast is staged once and every member's queue holds a [`Span`] of
//! it; a reply is staged the same way with one reference. Consecutive spans
//! of one chunk merge, so a member of a busy room usually has a handful of
//! pieces whatever the number of frames. The queue counts the bytes it
//! refers to: that is the output limit's measure (PROTOCOL.md 4.4).
//!
//! Memory: an empty queue holds no allocation (8 bytes in the session); a
//! non-empty one takes a piece list from a pool. A queue refers to at most
//! [`OutStore::max_shared`] distinct shared chunks (half its output limit's
//! worth, at least 2): past that, what it is given is copied into chunks of
//! its own, filled back to back, so a slow member pins at most half its
//! output limit of shared chunks plus its own queued bytes (rounded up to a
//! chunk) however the traffic interleaves.

use std::collections::VecDeque;
use std::io::IoSlice;

use crate::core::chunks::{BufPool, CHUNK_SIZE, ChunkStore, Span};

/// Most slices one write is offered (`writev`'s iovec count, well below
/// `IOV_MAX`).
pub const MAX_IOV: usize = 64;

/// Spare piece lists kept for reuse.
const MAX_SPARE_QUEUES: usize = 4096;

/// A returned piece list longer than this is shrunk.
const MAX_SPARE_PIECES: usize = 1024;

/// The pieces of a non-empty queue.
#[derive(Debug, Default)]
struct Pieces {
    list: VecDeque<Span>,
    /// Bytes the pieces cover.
    queued: usize,
    /// Runs of consecutive pieces in one chunk: the chunks referred to.
    runs: u32,
}

/// Bytes queued for one connection, as references into shared chunks.
/// Empty queues hold no allocation.
#[derive(Debug, Default)]
pub struct OutQueue(Option<Box<Pieces>>);

/// What every output queue shares: the chunks, spare piece lists, and the
/// bound on how many shared chunks one queue may pin.
#[derive(Debug)]
pub struct OutStore {
    chunks: ChunkStore,
    /// Boxed: a queue takes and gives back the box itself, without moving
    /// or reallocating its piece list.
    #[allow(clippy::vec_box)]
    spare: Vec<Box<Pieces>>,
    /// Fewest spare piece lists since the last trim.
    low_water: usize,
    max_shared: u32,
}

impl OutStore {
    /// A store for queues limited to `limit` bytes each.
    pub fn new(limit: usize) -> Self {
        Self::with_chunks(limit, ChunkStore::default())
    }

    /// A store for queues limited to `limit` bytes each, over `chunks`.
    pub fn with_chunks(limit: usize, chunks: ChunkStore) -> Self {
        let max_shared = (limit / (2 * CHUNK_SIZE)).clamp(2, u32::MAX as usize) as u32;
        OutStore {
            chunks,
            spare: Vec::new(),
            low_water: 0,
            max_shared,
        }
    }

    /// Distinct chunks a queue may refer to before it copies instead.
    pub fn max_shared(&self) -> u32 {
        self.max_shared
    }

    /// Stages a frame (or several) once for any number of queues (see
    /// [`ChunkStore::stage`]); call [`OutStore::release_unused`] after.
    #[inline]
    pub fn stage(&mut self, bytes: &[u8]) -> Span {
        self.chunks.stage(bytes)
    }

    /// Frees a staged span's chunk if no queue took it.
    #[inline]
    pub fn release_unused(&mut self, span: Span) {
        self.chunks.release_unused(span);
    }

    /// The chunks.
    pub fn chunks(&self) -> &ChunkStore {
        &self.chunks
    }

    /// Frees the spare chunk buffers and piece lists unused since the last
    /// call; returns the buffer bytes freed since the last call.
    pub fn trim(&mut self) -> usize {
        let pool: &mut BufPool = self.chunks.pool_mut();
        pool.trim();
        let freed = pool.take_freed_bytes();
        let unused = self.low_water.min(self.spare.len());
        self.spare.drain(..unused);
        self.low_water = self.spare.len();
        freed
    }

    /// Whether spare buffers or piece lists are held (trimming has work).
    pub fn has_spare(&self) -> bool {
        self.chunks.pool().spare() > 0 || !self.spare.is_empty()
    }

    fn take_pieces(&mut self) -> Box<Pieces> {
        match self.spare.pop() {
            Some(p) => {
                self.low_water = self.low_water.min(self.spare.len());
                p
            }
            None => Box::new(Pieces {
                list: VecDeque::with_capacity(8),
                queued: 0,
                runs: 0,
            }),
        }
    }

    fn give_pieces(&mut self, mut p: Box<Pieces>) {
        if self.spare.len() >= MAX_SPARE_QUEUES {
            return;
        }
        p.list.clear();
        if p.list.capacity() > MAX_SPARE_PIECES {
            p.list.shrink_to(8);
        }
        p.queued = 0;
        p.runs = 0;
        self.spare.push(p);
    }
}

impl OutQueue {
    /// Bytes queued and not yet taken by the socket.
    #[inline]
    pub fn queued(&self) -> usize {
        self.0.as_ref().map_or(0, |p| p.queued)
    }

    /// Pieces queued (for tests and checks).
    pub fn pieces(&self) -> usize {
        self.0.as_ref().map_or(0, |p| p.list.len())
    }

    /// Queues `span` (staged in `store`), referring to it, or copying it if
    /// this queue already pins [`OutStore::max_shared`] chunks.
    #[inline]
    pub fn push(&mut self, span: Span, store: &mut OutStore) {
        if span.is_empty() {
            return;
        }
        let p = match &mut self.0 {
            Some(p) => p,
            none => none.insert(store.take_pieces()),
        };
        p.queued += span.len();
        if let Some(back) = p.list.back_mut()
            && back.chunk == span.chunk
        {
            if back.end == span.start {
                back.end = span.end;
            } else {
                store.chunks.retain(span.chunk);
                p.list.push_back(span);
            }
            return;
        }
        if p.runs >= store.max_shared {
            if let Some(own) = store.chunks.copy_private(p.list.back_mut(), span) {
                p.list.push_back(own);
                p.runs += 1;
            }
            return;
        }
        store.chunks.retain(span.chunk);
        p.list.push_back(span);
        p.runs += 1;
    }

    /// Fills `iov` with the queued bytes, oldest first; returns the slices
    /// filled and the bytes they hold.
    #[inline]
    pub fn gather<'a>(&self, chunks: &'a ChunkStore, iov: &mut [IoSlice<'a>]) -> (usize, usize) {
        let Some(p) = &self.0 else {
            return (0, 0);
        };
        let mut bytes = 0;
        let mut n = 0;
        for (slot, &span) in iov.iter_mut().zip(p.list.iter()) {
            *slot = IoSlice::new(chunks.bytes(span));
            bytes += span.len();
            n += 1;
        }
        (n, bytes)
    }

    /// Marks `n` bytes as taken by the socket, dropping the references of
    /// the pieces fully taken; an emptied queue returns its piece list.
    #[inline]
    pub fn consume(&mut self, n: usize, store: &mut OutStore) {
        let Some(p) = &mut self.0 else {
            return;
        };
        let mut left = n.min(p.queued);
        p.queued -= left;
        while left > 0 {
            let Some(front) = p.list.front_mut() else {
                break;
            };
            let len = front.len();
            if left < len {
                front.start += left as u32;
                break;
            }
            left -= len;
            let chunk = front.chunk;
            p.list.pop_front();
            if p.list.front().is_none_or(|f| f.chunk != chunk) {
                p.runs -= 1;
            }
            store.chunks.release(chunk);
        }
        if p.queued == 0 {
            self.clear(store);
        }
    }

    /// Drops everything queued, releasing its references.
    pub fn clear(&mut self, store: &mut OutStore) {
        if let Some(p) = self.0.take() {
            for span in &p.list {
                store.chunks.release(span.chunk);
            }
            store.give_pieces(p);
        }
    }

    /// A copy of the queued bytes (for tests and checks).
    pub fn to_vec(&self, store: &OutStore) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.queued());
        if let Some(p) = &self.0 {
            for &span in &p.list {
                out.extend_from_slice(store.chunks.bytes(span));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(limit: usize) -> OutStore {
        OutStore::with_chunks(limit, ChunkStore::new(BufPool::new(8, CHUNK_SIZE, 1 << 20)))
    }

    fn gathered(q: &OutQueue, s: &OutStore, max: usize) -> Vec<u8> {
        let mut iov = vec![IoSlice::new(&[]); max];
        let (n, bytes) = q.gather(s.chunks(), &mut iov);
        let out: Vec<u8> = iov[..n].iter().flat_map(|s| s.iter().copied()).collect();
        assert_eq!(out.len(), bytes);
        out
    }

    #[test]
    fn an_empty_queue_is_small_and_holds_nothing() {
        assert_eq!(std::mem::size_of::<OutQueue>(), 8);
        let mut s = store(1 << 20);
        let mut q = OutQueue::default();
        let a = s.stage(b"hi");
        q.push(a, &mut s);
        q.consume(2, &mut s);
        assert!(q.0.is_none(), "drained: the piece list went back");
        assert_eq!(s.spare.len(), 1);
    }

    #[test]
    fn one_broadcast_is_shared_and_freed_by_the_last_reader() {
        let mut s = store(1 << 20);
        let mut a = OutQueue::default();
        let mut b = OutQueue::default();
        let frame = s.stage(&[7; CHUNK_SIZE]);
        a.push(frame, &mut s);
        b.push(frame, &mut s);
        s.stage(b"seals the first chunk");
        assert_eq!(s.chunks().refs(frame.chunk), Some(2));
        assert_eq!(s.chunks().chunks(), 2);
        a.consume(CHUNK_SIZE, &mut s);
        assert_eq!(s.chunks().refs(frame.chunk), Some(1));
        b.consume(100, &mut s);
        assert_eq!(b.queued(), CHUNK_SIZE - 100);
        b.clear(&mut s);
        assert_eq!(s.chunks().refs(frame.chunk), None, "last reference gone");
        assert_eq!(s.chunks().pool().spare(), 1, "buffer pooled for reuse");
    }

    #[test]
    fn consecutive_frames_merge_into_one_piece() {
        let mut s = store(1 << 20);
        let mut q = OutQueue::default();
        for i in 0..10u8 {
            let f = s.stage(&[i; 64]);
            q.push(f, &mut s);
        }
        assert_eq!((q.pieces(), q.queued()), (1, 640));
        let mut other = OutQueue::default();
        let x = s.stage(b"only for other");
        other.push(x, &mut s);
        let f = s.stage(b"next");
        q.push(f, &mut s);
        assert_eq!(q.pieces(), 2, "not contiguous: a second piece");
    }

    #[test]
    fn partial_consumption_across_piece_boundaries() {
        let mut s = store(1 << 20);
        let mut q = OutQueue::default();
        let mut others = OutQueue::default();
        let mut want = Vec::new();
        for i in 0..5u8 {
            let f = s.stage(&[b'a' + i; 10]);
            q.push(f, &mut s);
            want.extend_from_slice(&[b'a' + i; 10]);
            let gap = s.stage(b"-");
            others.push(gap, &mut s);
        }
        assert_eq!(q.pieces(), 5);
        assert_eq!(gathered(&q, &s, MAX_IOV), want);
        q.consume(7, &mut s);
        assert_eq!(gathered(&q, &s, MAX_IOV), want[7..]);
        q.consume(13, &mut s);
        assert_eq!(q.pieces(), 3, "two whole pieces taken");
        assert_eq!(gathered(&q, &s, MAX_IOV), want[20..]);
        assert_eq!(gathered(&q, &s, 2), want[20..40], "bounded slice count");
        q.consume(usize::MAX, &mut s);
        assert_eq!(q.queued(), 0);
        assert_eq!(s.chunks().refs(0), Some(5), "only `others` refer to it");
    }

    #[test]
    fn a_slow_queue_pins_a_bounded_number_of_shared_chunks() {
        // A member that gets one small frame per chunk, the rest of each
        // chunk being other rooms' traffic it does not get.
        let limit = 4 * CHUNK_SIZE;
        let mut s = store(limit);
        assert_eq!(s.max_shared(), 2);
        let mut slow = OutQueue::default();
        let mut want = Vec::new();
        for i in 0..50u8 {
            let f = s.stage(&[i; 100]);
            slow.push(f, &mut s);
            want.extend_from_slice(&[i; 100]);
            // Fill the rest of the chunk: the next frame opens a new one.
            let filler = s.stage(&vec![0; CHUNK_SIZE - 100]);
            s.release_unused(filler);
        }
        assert_eq!(slow.to_vec(&s), want, "same bytes, same order");
        // Two shared chunks referred to, the rest copied into one of its own.
        assert_eq!(slow.pieces(), 3);
        assert!(s.chunks().chunks() <= 4, "{} chunks", s.chunks().chunks());
        slow.consume(150, &mut s);
        assert_eq!(slow.to_vec(&s), want[150..]);
        slow.clear(&mut s);
        assert!(s.chunks().chunks() <= 1, "only the open chunk is left");
    }

    #[test]
    fn piece_lists_are_pooled_and_trimmed() {
        let mut s = store(1 << 20);
        let mut q = OutQueue::default();
        let f = s.stage(b"x");
        q.push(f, &mut s);
        q.clear(&mut s);
        assert!(s.has_spare());
        let f = s.stage(b"y");
        q.push(f, &mut s);
        assert!(s.spare.is_empty(), "reused");
        q.clear(&mut s);
        s.trim();
        assert_eq!(s.spare.len(), 1, "the first trim only sets the mark");
        s.trim();
        assert!(s.spare.is_empty(), "unused for an interval: freed");
    }
}
