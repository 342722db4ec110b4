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

/// Spare output buffers, reused instead of freed.
#[derive(Debug)]
pub struct BufPool {
    free: Vec<Vec<u8>>,
    max_free: usize,
    max_capacity: usize,
}

impl BufPool {
    /// A pool keeping at most `max_free` buffers of at most `max_capacity` bytes.
    pub fn new(max_free: usize, max_capacity: usize) -> Self {
        BufPool {
            free: Vec::new(),
            max_free,
            max_capacity,
        }
    }

    /// A cleared buffer (new if the pool is empty).
    #[inline]
    pub fn take(&mut self) -> Vec<u8> {
        self.free.pop().unwrap_or_else(|| Vec::with_capacity(4096))
    }

    /// Returns a buffer; large ones and those beyond the pool's size are freed.
    #[inline]
    pub fn give(&mut self, mut buf: Vec<u8>) {
        if buf.capacity() == 0 {
            return;
        }
        if self.free.len() < self.max_free && buf.capacity() <= self.max_capacity {
            buf.clear();
            self.free.push(buf);
        }
    }

    /// Buffers currently spare.
    pub fn spare(&self) -> usize {
        self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drained_queue_returns_its_buffer() {
        let mut pool = BufPool::new(4, 1 << 16);
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
        let mut pool = BufPool::new(4, 1 << 16);
        let mut q = OutBuf::default();
        q.append(&[1; 4000], &mut pool);
        q.consume(3999, &mut pool);
        q.append(&[2; 4000], &mut pool);
        assert_eq!(q.queued(), 4001);
        assert_eq!(q.pending()[0], 1);
        assert_eq!(q.pending()[1], 2);
    }

    #[test]
    fn pool_is_bounded() {
        let mut pool = BufPool::new(1, 100);
        pool.give(Vec::with_capacity(10));
        pool.give(Vec::with_capacity(10));
        pool.give(Vec::with_capacity(1000));
        assert_eq!(pool.spare(), 1);
    }
}
