//! Frame layout constants, the frame encoder and the framing error kinds.
//!
//! A frame is `STX | u16 LEN | PAYLOAD | u32 CRC | ETX`, where the CRC-32
//! (IEEE) covers the two LEN bytes followed by the payload.

use byteorder::{BigEndian, ByteOrder};

/// Start-of-frame byte.
pub const STX: u8 = 0x02;
/// End-of-frame byte.
pub const ETX: u8 = 0x03;
/// Bytes a frame adds around its payload (STX, LEN, CRC, ETX).
pub const FRAME_OVERHEAD: usize = 8;
/// The `max_payload` a client may assume before WELCOME, and the server default.
pub const DEFAULT_MAX_PAYLOAD: u16 = 4096;
/// The largest payload length the LEN field can carry.
pub const MAX_PAYLOAD_LIMIT: usize = u16::MAX as usize;

/// Framing errors the decoder yields (PROTOCOL.md section 1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameError {
    /// A byte other than STX where a frame must start.
    Garbage,
    /// LEN = 0.
    Empty,
    /// LEN greater than the decoder's `max_payload`.
    TooLarge,
    /// The byte at offset 7+LEN is not ETX.
    MissingEtx,
    /// ETX in place but the CRC does not match.
    BadChecksum,
}

impl FrameError {
    /// The name used in the test vectors.
    pub fn name(self) -> &'static str {
        match self {
            FrameError::Garbage => "Garbage",
            FrameError::Empty => "Empty",
            FrameError::TooLarge => "TooLarge",
            FrameError::MissingEtx => "MissingEtx",
            FrameError::BadChecksum => "BadChecksum",
        }
    }
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::error::Error for FrameError {}

/// A payload was empty or longer than the limit it was encoded against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameTooLong {
    /// Payload length that was attempted.
    pub len: usize,
    /// The limit in force.
    pub max: usize,
}

impl std::fmt::Display for FrameTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "payload of {} bytes does not fit 1..={}",
            self.len, self.max
        )
    }
}

impl std::error::Error for FrameTooLong {}

/// The CRC of a frame: CRC-32/IEEE over the LEN bytes followed by the payload.
#[inline]
pub fn frame_crc(len_bytes: [u8; 2], payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&len_bytes);
    h.update(payload);
    h.finalize()
}

/// Starts a frame at the end of `out`: writes STX and a LEN placeholder and
/// returns the frame's start offset, to be passed to [`end_frame`] once the
/// payload has been appended.
#[inline]
pub fn begin_frame(out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.extend_from_slice(&[STX, 0, 0]);
    start
}

/// Finishes the frame begun at `start`: fills in LEN, appends CRC and ETX.
/// If the payload is empty or longer than `max_payload`, the partial frame is
/// removed from `out` and an error returned.
#[inline]
pub fn end_frame(out: &mut Vec<u8>, start: usize, max_payload: usize) -> Result<(), FrameTooLong> {
    let len = out.len() - start - 3;
    let max = max_payload.min(MAX_PAYLOAD_LIMIT);
    if len == 0 || len > max {
        out.truncate(start);
        return Err(FrameTooLong { len, max });
    }
    let len_bytes = (len as u16).to_be_bytes();
    out[start + 1..start + 3].copy_from_slice(&len_bytes);
    let crc = frame_crc(len_bytes, &out[start + 3..]);
    let mut tail = [0u8; 5];
    BigEndian::write_u32(&mut tail[..4], crc);
    tail[4] = ETX;
    out.extend_from_slice(&tail);
    Ok(())
}

/// Appends one whole frame carrying `payload` to `out`.
pub fn encode_frame(out: &mut Vec<u8>, payload: &[u8]) -> Result<(), FrameTooLong> {
    let start = begin_frame(out);
    out.extend_from_slice(payload);
    end_frame(out, start, MAX_PAYLOAD_LIMIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_check_value() {
        assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn bye_frame_matches_protocol_example() {
        let mut out = Vec::new();
        encode_frame(&mut out, &[0x08]).unwrap();
        assert_eq!(out, [0x02, 0x00, 0x01, 0x08, 0xe8, 0x81, 0x60, 0x61, 0x03]);
    }

    #[test]
    fn empty_and_oversized_payloads_are_refused_and_leave_no_bytes() {
        let mut out = vec![9];
        assert!(encode_frame(&mut out, &[]).is_err());
        assert_eq!(out, [9]);
        let start = begin_frame(&mut out);
        out.extend_from_slice(&[1; 17]);
        assert_eq!(
            end_frame(&mut out, start, 16),
            Err(FrameTooLong { len: 17, max: 16 })
        );
        assert_eq!(out, [9]);
    }

    #[test]
    fn largest_payload_encodes() {
        let mut out = Vec::new();
        encode_frame(&mut out, &vec![7; MAX_PAYLOAD_LIMIT]).unwrap();
        assert_eq!(out.len(), MAX_PAYLOAD_LIMIT + FRAME_OVERHEAD);
        assert_eq!(&out[1..3], &[0xff, 0xff]);
    }
}
