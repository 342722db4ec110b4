//! Snapshot transfer: a replica is cut into chunks that each fit in one
//! NATS message (the server's maximum payload is 1 MiB by default) and put
//! back together by the node that asked for it.
//!
//! Sans-IO. A chunk is `STXS`, a version byte (1), the snapshot's sequence
//! (u64), a transfer id (u64, chosen by the sender so chunks of two answers
//! never mix), the total length (u64), the chunk's index and the number of
//! chunks (u32 each), then its bytes. Big-endian throughout.

const MAGIC: &[u8; 4] = b"STXS";
const VERSION: u8 = 1;
const HEADER: usize = 4 + 1 + 8 + 8 + 8 + 4 + 4;

/// Bytes of replica per chunk: well under NATS's default 1 MiB payload.
pub const CHUNK_BYTES: usize = 512 * 1024;

/// The largest snapshot accepted (a bound against a hostile sender).
pub const MAX_SNAPSHOT: u64 = 1 << 30;

/// Why a chunk was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// Not one of ours.
    #[error("not a snapshot chunk")]
    Magic,
    /// A version this build does not know.
    #[error("unknown snapshot chunk version {0}")]
    Version(u8),
    /// Cut short, or its fields do not add up.
    #[error("malformed snapshot chunk")]
    Malformed,
    /// Larger than [`MAX_SNAPSHOT`].
    #[error("snapshot too large")]
    TooLarge,
}

/// Cuts `bytes` (the replica as of `seq`) into chunk messages.
pub fn split(seq: u64, transfer: u64, bytes: &[u8]) -> Vec<Vec<u8>> {
    let count = bytes.len().div_ceil(CHUNK_BYTES).max(1);
    (0..count)
        .map(|i| {
            let part = &bytes
                [(i * CHUNK_BYTES).min(bytes.len())..((i + 1) * CHUNK_BYTES).min(bytes.len())];
            let mut c = Vec::with_capacity(HEADER + part.len());
            c.extend_from_slice(MAGIC);
            c.push(VERSION);
            c.extend_from_slice(&seq.to_be_bytes());
            c.extend_from_slice(&transfer.to_be_bytes());
            c.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
            c.extend_from_slice(&(i as u32).to_be_bytes());
            c.extend_from_slice(&(count as u32).to_be_bytes());
            c.extend_from_slice(part);
            c
        })
        .collect()
}

/// A snapshot being received.
#[derive(Debug, Default)]
pub struct Reassembly {
    /// (seq, transfer, total, count) of the transfer under way.
    key: Option<(u64, u64, u64, u32)>,
    buf: Vec<u8>,
    got: Vec<bool>,
    missing: u32,
}

fn be64(b: &[u8]) -> u64 {
    let mut a = [0; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

impl Reassembly {
    /// Nothing received yet.
    pub fn new() -> Self {
        Reassembly::default()
    }

    /// Takes one chunk; returns `(seq, replica)` once every chunk of its
    /// transfer is in. A chunk of another transfer starts over with that
    /// one (the latest answer wins).
    pub fn take(&mut self, chunk: &[u8]) -> Result<Option<(u64, Vec<u8>)>, ChunkError> {
        if chunk.len() < 5 || &chunk[..4] != MAGIC {
            return Err(ChunkError::Magic);
        }
        if chunk[4] != VERSION {
            return Err(ChunkError::Version(chunk[4]));
        }
        if chunk.len() < HEADER {
            return Err(ChunkError::Malformed);
        }
        let seq = be64(&chunk[5..]);
        let transfer = be64(&chunk[13..]);
        let total = be64(&chunk[21..]);
        let index = be32(&chunk[29..]);
        let count = be32(&chunk[33..]);
        let part = &chunk[HEADER..];
        if total > MAX_SNAPSHOT {
            return Err(ChunkError::TooLarge);
        }
        let expect_count = (total as usize).div_ceil(CHUNK_BYTES).max(1);
        if count as usize != expect_count || index >= count {
            return Err(ChunkError::Malformed);
        }
        let start = index as usize * CHUNK_BYTES;
        let end = (start + CHUNK_BYTES).min(total as usize);
        if part.len() != end - start {
            return Err(ChunkError::Malformed);
        }
        let key = (seq, transfer, total, count);
        if self.key != Some(key) {
            self.key = Some(key);
            self.buf = vec![0; total as usize];
            self.got = vec![false; count as usize];
            self.missing = count;
        }
        if !self.got[index as usize] {
            self.got[index as usize] = true;
            self.missing -= 1;
            self.buf[start..end].copy_from_slice(part);
        }
        if self.missing > 0 {
            return Ok(None);
        }
        self.key = None;
        self.got.clear();
        Ok(Some((seq, std::mem::take(&mut self.buf))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replica(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn round_trip_in_any_order() {
        for n in [
            0,
            1,
            CHUNK_BYTES - 1,
            CHUNK_BYTES,
            CHUNK_BYTES + 1,
            3 * CHUNK_BYTES + 17,
        ] {
            let bytes = replica(n);
            let mut chunks = split(42, 7, &bytes);
            assert_eq!(chunks.len(), n.div_ceil(CHUNK_BYTES).max(1));
            assert!(chunks.iter().all(|c| c.len() <= HEADER + CHUNK_BYTES));
            chunks.reverse();
            let mut r = Reassembly::new();
            let last = chunks.pop().unwrap();
            for c in &chunks {
                assert_eq!(r.take(c), Ok(None));
            }
            // A repeated chunk changes nothing.
            if let Some(c) = chunks.first() {
                assert_eq!(r.take(c), Ok(None));
            }
            assert_eq!(r.take(&last), Ok(Some((42, bytes))), "n = {n}");
        }
    }

    #[test]
    fn a_new_transfer_replaces_a_partial_one() {
        let a = split(1, 1, &replica(2 * CHUNK_BYTES));
        let b = split(2, 2, &replica(10));
        let mut r = Reassembly::new();
        assert_eq!(r.take(&a[0]), Ok(None));
        assert_eq!(r.take(&b[0]), Ok(Some((2, replica(10)))));
        // The old transfer's rest starts that one over: never a mixture.
        assert_eq!(r.take(&a[1]), Ok(None));
    }

    #[test]
    fn hostile_chunks_are_typed_errors() {
        let good = split(1, 1, &replica(100)).remove(0);
        let mut r = Reassembly::new();
        assert_eq!(r.take(b"nope"), Err(ChunkError::Magic));
        let mut v = good.clone();
        v[4] = 2;
        assert_eq!(r.take(&v), Err(ChunkError::Version(2)));
        assert_eq!(r.take(&good[..HEADER - 1]), Err(ChunkError::Malformed));
        assert_eq!(r.take(&good[..good.len() - 1]), Err(ChunkError::Malformed));
        let mut huge = good.clone();
        huge[21..29].copy_from_slice(&(MAX_SNAPSHOT + 1).to_be_bytes());
        assert_eq!(r.take(&huge), Err(ChunkError::TooLarge));
        let mut idx = good.clone();
        idx[29..33].copy_from_slice(&5u32.to_be_bytes());
        assert_eq!(r.take(&idx), Err(ChunkError::Malformed));
        // Still works after all that.
        assert_eq!(r.take(&good), Ok(Some((1, replica(100)))));
    }
}
