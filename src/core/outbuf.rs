//! Per-connection output: a byte queue with a hard limit, and a pool of
//! buffers so that idle connections hold no buffer and busy ones do not
//! allocate per frame.

/// Bytes queued for one connection. Empty queues hold no allocation.
#[derive(Debug, Default)]
pub struct OutBuf {
    buf: Vec<u8>,
    head: usize,
}

impl OutBuf {
    /// Bytes queued and not yet taken by the socket.
    #[inline]
    pub fn queued(&self) -> usize {
        self.buf.len() - self.head
    }

    /// The queued bytes, oldest first.
    #[inline]
    pub fn pending(&self) -> &[u8] {
        &self.buf[self.head..]
    }

    /// Appends `bytes`, taking a buffer from `pool` if none is held.
    #[inline]
    pub fn append(&mut self, bytes: &[u8], pool: &mut BufPool) {
        if self.buf.capacity() == 0 {
            self.buf = pool.take();
        } else if self.head > 0 && self.buf.len() + bytes.len() > self.buf.capacity() {
            self.buf.drain(..self.head);
            self.head = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Mutable access to the last `n` bytes appended (to patch a frame in place).
    pub fn tail_mut(&mut self, n: usize) -> &mut [u8] {
        let len = self.buf.len();
        &mut self.buf[len - n..]
    }

    /// Marks `n` bytes as taken by the socket; an emptied queue returns its
    /// buffer to `pool`.
    #[inline]
    pub fn consume(&mut self, n: usize, pool: &mut BufPool) {
        self.head += n.min(self.queued());
        if self.head == self.buf.len() {
            pool.give(std::mem::take(&mut self.buf));
            self.head = 0;
        }
    }

    /// Drops everything queued and gives the buffer back.
    pub fn clear(&mut self, pool: &mut BufPool) {
        pool.give(std::mem::take(&mut self.buf));
        self.head = 0;
    }
}

/// Spare output buffers, reused instead of freed, so a busy connection does
/// not allocate (and fault in fresh pages) every loop turn. The pool is
/// bounded in count and in bytes, and [`BufPool::trim`] (called about once a
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
    /// bytes each and `max_bytes` in all.
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
            None => Vec::with_capacity(4096),
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

    #[test]
    fn drained_queue_returns_its_buffer() {
        let mut pool = BufPool::new(4, 1 << 16, 1 << 20);
        let mut q = OutBuf::default();
        q.append(b"hello", &mut pool);
        q.append(b" world", &mut pool);
        assert_eq!(q.pending(), b"hello world");
        q.consume(6, &mut pool);
        assert_eq!(q.pending(), b"world");
        assert_eq!(pool.spare(), 0);
        q.consume(5, &mut pool);
        assert_eq!(q.queued(), 0);
        assert_eq!(pool.spare(), 1);
        q.append(b"x", &mut pool);
        assert_eq!(pool.spare(), 0);
    }

    #[test]
    fn compacts_instead_of_growing() {
        let mut pool = BufPool::new(4, 1 << 16, 1 << 20);
        let mut q = OutBuf::default();
        q.append(&[1; 4000], &mut pool);
        q.consume(3999, &mut pool);
        q.append(&[2; 4000], &mut pool);
        assert_eq!(q.queued(), 4001);
        assert_eq!(q.pending()[0], 1);
        assert_eq!(q.pending()[1], 2);
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
