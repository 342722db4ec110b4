//! Shared output chunks: frames are staged once into a reference-counted
//! chunk, and every connection's output queue refers to ranges of it
//! ([`Span`]s) instead of holding a copy.
//!
//! Small frames are packed one after another into the *open* chunk
//! ([`CHUNK_SIZE`] bytes), so a loop turn's many 64-byte broadcasts and
//! replies cost no allocation each; a frame larger than a chunk gets one of
//! its own. A chunk counts the queue pieces that refer to it; when the last
//! goes, a sealed chunk's buffer returns to a bounded pool (trimmed when it
//! stays unused) and the open one is simply refilled from its start. Chunks
//! are addressed by index (a slab), so a queue piece is three `u32`s and
//! nothing here is borrowed across calls.

use slab::Slab;

/// Capacity of a shared chunk: many small frames, or one frame of at most
/// this size (larger frames get a chunk of their own).
pub const CHUNK_SIZE: usize = 64 * 1024;

/// A range of staged bytes: `chunk`'s bytes `start..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub(crate) chunk: u32,
    pub(crate) start: u32,
    pub(crate) end: u32,
}

impl Span {
    /// Bytes in the range.
    #[inline]
    pub fn len(self) -> usize {
        (self.end - self.start) as usize
    }

    /// Whether the range is empty.
    #[inline]
    pub fn is_empty(self) -> bool {
        self.end == self.start
    }
}

/// One chunk: its bytes and the queue pieces referring to it.
#[derive(Debug)]
struct Chunk {
    buf: Vec<u8>,
    refs: u32,
    /// Holds copies for one queue only, which may append to it (see
    /// [`ChunkStore::copy_private`]); never shared, never the open chunk.
    private: bool,
}

/// The chunks of every output queue, the open chunk frames are packed into,
/// and the pool of spare chunk buffers.
#[derive(Debug)]
pub struct ChunkStore {
    chunks: Slab<Chunk>,
    open: Option<u32>,
    pool: BufPool,
}

impl Default for ChunkStore {
    fn default() -> Self {
        ChunkStore::new(BufPool::new(512, CHUNK_SIZE, 32 << 20))
    }
}

impl ChunkStore {
    /// A store taking spare chunk buffers from `pool`.
    pub fn new(pool: BufPool) -> Self {
        ChunkStore {
            chunks: Slab::new(),
            open: None,
            pool,
        }
    }

    /// Copies `bytes` into the open chunk (or a chunk of its own if larger
    /// than [`CHUNK_SIZE`]) and returns where. The span holds no reference
    /// and is valid until the next `stage` (which may refill an open chunk
    /// nothing refers to): queues take theirs with [`ChunkStore::retain`]
    /// first; call [`ChunkStore::release_unused`] once every queue has.
    #[inline]
    pub fn stage(&mut self, bytes: &[u8]) -> Span {
        let len = bytes.len();
        if len > CHUNK_SIZE {
            let buf = bytes.to_vec();
            let chunk = self.insert(buf, 0, false);
            return Span {
                chunk,
                start: 0,
                end: len as u32,
            };
        }
        if let Some(open) = self.open {
            let c = &mut self.chunks[open as usize];
            if c.refs == 0 {
                c.buf.clear();
            }
            if c.buf.capacity() - c.buf.len() >= len {
                return append(c, open, bytes);
            }
            // Sealed: freed when its last reference goes.
            self.open = None;
        }
        let buf = self.pool.take();
        let open = self.insert(buf, 0, false);
        self.open = Some(open);
        append(&mut self.chunks[open as usize], open, bytes)
    }

    fn insert(&mut self, buf: Vec<u8>, refs: u32, private: bool) -> u32 {
        let key = self.chunks.insert(Chunk { buf, refs, private });
        u32::try_from(key).expect("fewer than 2^32 chunks")
    }

    /// One more queue piece refers to `chunk`.
    #[inline]
    pub fn retain(&mut self, chunk: u32) {
        self.chunks[chunk as usize].refs += 1;
    }

    /// One queue piece referring to `chunk` is gone; the last frees a
    /// sealed chunk (its buffer back to the pool).
    #[inline]
    pub fn release(&mut self, chunk: u32) {
        let c = &mut self.chunks[chunk as usize];
        c.refs -= 1;
        if c.refs == 0 && self.open != Some(chunk) {
            let c = self.chunks.remove(chunk as usize);
            self.pool.give(c.buf);
        }
    }

    /// Frees `span`'s chunk if nothing refers to it (a frame staged for
    /// members who all refused it) and it is not the open one.
    #[inline]
    pub fn release_unused(&mut self, span: Span) {
        if self.chunks[span.chunk as usize].refs == 0 && self.open != Some(span.chunk) {
            let c = self.chunks.remove(span.chunk as usize);
            self.pool.give(c.buf);
        }
    }

    /// The bytes of `span`.
    #[inline]
    pub fn bytes(&self, span: Span) -> &[u8] {
        &self.chunks[span.chunk as usize].buf[span.start as usize..span.end as usize]
    }

    /// Copies `src` for one queue whose last piece is `back` (if any): at
    /// the end of `back` if `back` is in a private chunk that ends there and
    /// has room (returns `None`: `back` now covers the copy too), else into
    /// a new private chunk with one reference (returns its span). Used when
    /// a queue already refers to too many chunks.
    pub fn copy_private(&mut self, back: Option<&mut Span>, src: Span) -> Option<Span> {
        let len = src.len();
        if let Some(back) = back
            && back.chunk != src.chunk
            && let Some((c, from)) = self
                .chunks
                .get2_mut(back.chunk as usize, src.chunk as usize)
            && c.private
            && c.buf.len() == back.end as usize
            && c.buf.capacity() - c.buf.len() >= len
        {
            c.buf
                .extend_from_slice(&from.buf[src.start as usize..src.end as usize]);
            back.end += len as u32;
            return None;
        }
        let mut buf = if len <= CHUNK_SIZE {
            self.pool.take()
        } else {
            Vec::with_capacity(len)
        };
        buf.extend_from_slice(self.bytes(src));
        let chunk = self.insert(buf, 1, true);
        Some(Span {
            chunk,
            start: 0,
            end: len as u32,
        })
    }

    /// Chunks held (open, sealed and referred to, private).
    pub fn chunks(&self) -> usize {
        self.chunks.len()
    }

    /// References to `chunk` (for tests and checks).
    pub fn refs(&self, chunk: u32) -> Option<u32> {
        self.chunks.get(chunk as usize).map(|c| c.refs)
    }

    /// The spare chunk buffers.
    pub fn pool(&self) -> &BufPool {
        &self.pool
    }

    /// The spare chunk buffers, to trim.
    pub fn pool_mut(&mut self) -> &mut BufPool {
        &mut self.pool
    }
}

#[inline]
fn append(c: &mut Chunk, chunk: u32, bytes: &[u8]) -> Span {
    let start = c.buf.len() as u32;
    c.buf.extend_from_slice(bytes);
    Span {
        chunk,
        start,
        end: c.buf.len() as u32,
    }
}

/// Spare buffers, reused instead of freed, so a busy server does not
/// allocate (and fault in fresh pages) every loop turn. The pool is bounded
/// in count and in bytes, and [`BufPool::trim`] (called about once a
/// second) frees the buffers that stayed spare through the whole interval,
/// so a server at rest holds few spare buffers.
#[derive(Debug)]
pub struct BufPool {
    free: Vec<Vec<u8>>,
    max_free: usize,
    max_capacity: usize,
    max_bytes: usize,
    pooled_bytes: usize,
    /// Fewest spare buffers seen since the last trim: that many went unused.
    low_water: usize,
    /// Bytes of capacity freed (not pooled) since the last [`BufPool::take_freed_bytes`].
    freed_bytes: usize,
}

impl BufPool {
    /// A pool keeping at most `max_free` buffers of at most `max_capacity`
    /// bytes each and `max_bytes` in all; new buffers have `max_capacity`.
    pub fn new(max_free: usize, max_capacity: usize, max_bytes: usize) -> Self {
        BufPool {
            free: Vec::new(),
            max_free,
            max_capacity,
            max_bytes,
            pooled_bytes: 0,
            low_water: 0,
            freed_bytes: 0,
        }
    }

    /// A cleared buffer (new if the pool is empty).
    #[inline]
    pub fn take(&mut self) -> Vec<u8> {
        match self.free.pop() {
            Some(buf) => {
                self.pooled_bytes -= buf.capacity();
                self.low_water = self.low_water.min(self.free.len());
                buf
            }
            None => Vec::with_capacity(self.max_capacity),
        }
    }

    /// Returns a buffer; it is freed instead if it is too large or the pool is full.
    #[inline]
    pub fn give(&mut self, mut buf: Vec<u8>) {
        let cap = buf.capacity();
        if cap == 0 {
            return;
        }
        if self.free.len() < self.max_free
            && cap <= self.max_capacity
            && self.pooled_bytes + cap <= self.max_bytes
        {
            buf.clear();
            self.pooled_bytes += cap;
            self.free.push(buf);
        } else {
            self.freed_bytes += cap;
        }
    }

    /// Frees the spare buffers that were not needed since the last call
    /// (the low-water mark of the spare list); returns how many it freed.
    pub fn trim(&mut self) -> usize {
        let unused = self.low_water.min(self.free.len());
        // The bottom of the stack holds the least recently used buffers.
        for buf in self.free.drain(..unused) {
            self.pooled_bytes -= buf.capacity();
            self.freed_bytes += buf.capacity();
        }
        self.low_water = self.free.len();
        unused
    }

    /// Bytes of buffer capacity freed since the last call (a hint for
    /// asking the allocator to give memory back to the OS).
    pub fn take_freed_bytes(&mut self) -> usize {
        std::mem::take(&mut self.freed_bytes)
    }

    /// Buffers currently spare.
    pub fn spare(&self) -> usize {
        self.free.len()
    }

    /// Bytes of capacity currently spare.
    pub fn spare_bytes(&self) -> usize {
        self.pooled_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> ChunkStore {
        ChunkStore::new(BufPool::new(4, CHUNK_SIZE, 1 << 20))
    }

    #[test]
    fn small_frames_are_packed_into_one_chunk() {
        let mut s = store();
        let a = s.stage(b"hello");
        s.retain(a.chunk);
        let b = s.stage(b"world");
        assert_eq!(a.chunk, b.chunk);
        assert_eq!((a.end, b.start), (5, 5), "back to back");
        assert_eq!(s.bytes(b), b"world");
        assert_eq!(s.chunks(), 1);
    }

    #[test]
    fn the_open_chunk_is_refilled_once_nothing_refers_to_it() {
        let mut s = store();
        let a = s.stage(b"abc");
        s.retain(a.chunk);
        s.release(a.chunk);
        assert_eq!(s.chunks(), 1, "the open chunk stays");
        let b = s.stage(b"xy");
        assert_eq!((b.chunk, b.start), (a.chunk, 0), "refilled from its start");
    }

    #[test]
    fn a_full_chunk_is_sealed_and_freed_by_its_last_reference() {
        let mut s = store();
        let first = s.stage(&[1; CHUNK_SIZE - 10]);
        s.retain(first.chunk);
        s.retain(first.chunk);
        let next = s.stage(&[2; 20]);
        assert_ne!(next.chunk, first.chunk, "did not fit: a new open chunk");
        assert_eq!(s.chunks(), 2);
        s.release(first.chunk);
        assert_eq!(s.refs(first.chunk), Some(1));
        s.release(first.chunk);
        assert_eq!(s.chunks(), 1, "sealed and unreferenced: freed");
        assert_eq!(s.pool().spare(), 1, "its buffer is pooled");
        // The pooled buffer serves the next chunk: no allocation.
        s.retain(next.chunk);
        s.stage(&[3; CHUNK_SIZE]);
        assert_eq!(s.pool().spare(), 0);
    }

    #[test]
    fn a_frame_larger_than_a_chunk_gets_its_own_and_is_not_pooled() {
        let mut s = store();
        let big = s.stage(&vec![9; CHUNK_SIZE + 1]);
        assert_eq!(big.len(), CHUNK_SIZE + 1);
        s.retain(big.chunk);
        let small = s.stage(b"x");
        assert_ne!(small.chunk, big.chunk);
        s.release(big.chunk);
        assert_eq!(s.refs(big.chunk), None);
        assert_eq!(s.pool().spare(), 0, "too large for the pool");
        assert_eq!(s.pool_mut().take_freed_bytes(), CHUNK_SIZE + 1);
    }

    #[test]
    fn an_unused_staged_frame_is_released() {
        let mut s = store();
        let big = s.stage(&vec![9; CHUNK_SIZE + 1]);
        s.release_unused(big);
        assert_eq!(s.refs(big.chunk), None);
        let small = s.stage(b"x");
        s.release_unused(small);
        assert_eq!(s.refs(small.chunk), Some(0), "the open chunk stays");
    }

    #[test]
    fn private_copies_append_to_their_own_chunk() {
        let mut s = store();
        let a = s.stage(b"aa");
        s.retain(a.chunk);
        let b = s.stage(b"bbb");
        s.retain(b.chunk);
        let mut back = s.copy_private(None, a).expect("a new private chunk");
        assert_eq!(s.refs(back.chunk), Some(1));
        assert_eq!(s.copy_private(Some(&mut back), b), None, "appended");
        assert_eq!(s.bytes(back), b"aabbb");
        // A shared chunk is never appended to.
        let mut shared = a;
        let c = s.stage(b"c");
        let copy = s.copy_private(Some(&mut shared), c).expect("new chunk");
        assert_ne!(copy.chunk, a.chunk);
        assert_eq!(shared, a);
    }

    #[test]
    fn pool_is_bounded_in_count_size_and_bytes() {
        let mut pool = BufPool::new(2, 100, 150);
        pool.give(Vec::with_capacity(80));
        pool.give(Vec::with_capacity(1000));
        assert_eq!(pool.spare(), 1);
        pool.give(Vec::with_capacity(80));
        assert_eq!(pool.spare(), 1, "would exceed the byte bound");
        pool.give(Vec::with_capacity(60));
        assert_eq!((pool.spare(), pool.spare_bytes()), (2, 140));
        pool.give(Vec::with_capacity(1));
        assert_eq!(pool.spare(), 2, "count bound");
    }

    #[test]
    fn trim_frees_what_stayed_spare_through_an_interval() {
        let mut pool = BufPool::new(8, 1 << 16, 1 << 20);
        for _ in 0..4 {
            pool.give(Vec::with_capacity(100));
        }
        pool.trim();
        assert_eq!(pool.spare(), 4, "the first trim only sets the mark");
        let a = pool.take();
        let b = pool.take();
        pool.give(a);
        pool.give(b);
        assert_eq!(pool.trim(), 2, "two were never taken");
        assert_eq!(pool.spare(), 2);
        assert_eq!(pool.trim(), 2);
        assert_eq!((pool.spare(), pool.spare_bytes()), (0, 0));
        assert!(pool.take_freed_bytes() >= 400);
        assert_eq!(pool.take_freed_bytes(), 0);
    }
}
