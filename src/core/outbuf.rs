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
/// bounded in count and in bytes, and gives everything back once it has gone
/// unused for a while ([`BufPool::trim_if_unused`]), so a server at rest
/// holds no spare buffers.
#[derive(Debug)]
pub struct BufPool {
    free: Vec<Vec<u8>>,
    max_free: usize,
    max_capacity: usize,
    max_bytes: usize,
    pooled_bytes: usize,
    takes: u64,
    takes_at_trim: u64,
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
            takes: 0,
            takes_at_trim: 0,
        }
    }

    /// A cleared buffer (new if the pool is empty).
    #[inline]
    pub fn take(&mut self) -> Vec<u8> {
        self.takes += 1;
        match self.free.pop() {
            Some(buf) => {
                self.pooled_bytes -= buf.capacity();
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
        }
    }

    /// Frees every spare buffer if none was taken since the last call;
    /// returns whether it did. Call it now and then (say once a second).
    pub fn trim_if_unused(&mut self) -> bool {
        let unused = self.takes == self.takes_at_trim;
        self.takes_at_trim = self.takes;
        if unused && !self.free.is_empty() {
            self.free = Vec::new();
            self.pooled_bytes = 0;
            return true;
        }
        false
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
    fn an_unused_pool_is_emptied() {
        let mut pool = BufPool::new(4, 1 << 16, 1 << 20);
        pool.give(Vec::with_capacity(100));
        assert!(!pool.trim_if_unused() || pool.spare() == 0);
        pool.give(Vec::with_capacity(100));
        let b = pool.take();
        pool.give(b);
        assert!(!pool.trim_if_unused(), "used since the last call");
        assert!(pool.trim_if_unused());
        assert_eq!((pool.spare(), pool.spare_bytes()), (0, 0));
    }
}
