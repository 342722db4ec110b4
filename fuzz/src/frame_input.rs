//! How the `frame_parser` fuzz target reads its input bytes.
//!
//! Layout (missing bytes read as 0):
//!
//! ```text
//! byte 0        mode: bit 0 clear = raw, set = built
//! byte 1        max_payload class (mod 4):
//!                 0: 1 + v % 64   1: 1 + v % 4096   2: 4096   3: max(v, 1)
//! bytes 2..4    v, u16 big-endian
//! byte 4        n = number of chunk sizes (mod 16); 0 = one byte at a time
//! n bytes       chunk sizes, cycled (0 feeds an empty slice)
//! rest          raw: the byte stream itself
//!               built: a [`BuiltStream`] (`arbitrary` format) that encodes
//!               valid frames and then damages them
//! ```
//!
//! A random CRC almost never matches, so raw streams rarely reach the
//! frame-accepting paths; built streams start from valid frames and apply
//! corruption, so both the good and every bad path are exercised.

use arbitrary::{Arbitrary, Unstructured};
use stxchat::codec::{FRAME_OVERHEAD, encode_frame};

/// One decoded fuzz input: the decoder setting, the chunking and the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameCase {
    /// The decoder's `max_payload`, 1..=65535.
    pub max_payload: usize,
    /// Chunk sizes to feed the stream in (see `decode_in_chunks`).
    pub chunks: Vec<usize>,
    /// The bytes fed to the decoder.
    pub stream: Vec<u8>,
}

/// Size of the fixed header before the chunk sizes.
const HEADER: usize = 5;

/// Largest stream a built input makes (frames and edits past it are
/// skipped): room for one frame of the largest payload and some more, while
/// keeping a short input from asking for megabytes (and slow runs).
pub const MAX_BUILT_STREAM: usize = 66 * 1024;

/// Reads a fuzz input (layout in the module doc).
pub fn frame_case(data: &[u8]) -> FrameCase {
    let byte = |i: usize| data.get(i).copied().unwrap_or(0);
    let built = byte(0) & 1 == 1;
    let v = u16::from_be_bytes([byte(2), byte(3)]);
    let max_payload = match byte(1) % 4 {
        0 => 1 + usize::from(v % 64),
        1 => 1 + usize::from(v % 4096),
        2 => 4096,
        _ => usize::from(v.max(1)),
    };
    let n = usize::from(byte(4) % 16);
    let body_start = (HEADER + n).min(data.len());
    let chunks = data[HEADER.min(data.len())..body_start]
        .iter()
        .map(|&c| usize::from(c))
        .collect();
    let body = &data[body_start..];
    let stream = if built {
        match BuiltStream::arbitrary_take_rest(Unstructured::new(body)) {
            Ok(spec) => spec.build(max_payload),
            Err(_) => Vec::new(),
        }
    } else {
        body.to_vec()
    };
    FrameCase {
        max_payload,
        chunks,
        stream,
    }
}

/// The fuzz input that feeds `stream` raw to a decoder with exactly this
/// `max_payload` (1..=65535), in chunks of `chunks` (at most 15 sizes of
/// 0..=255 bytes; none = one byte at a time). Used to make the seed corpus.
pub fn raw_input(max_payload: u16, chunks: &[u8], stream: &[u8]) -> Vec<u8> {
    assert!(max_payload >= 1 && chunks.len() < 16);
    let mut out = vec![0, 3];
    out.extend_from_slice(&max_payload.to_be_bytes());
    out.push(chunks.len() as u8);
    out.extend_from_slice(chunks);
    out.extend_from_slice(stream);
    out
}

/// A stream made of valid frames, each maybe damaged, then edited as a whole.
#[derive(Debug, Arbitrary)]
pub struct BuiltStream<'a> {
    /// The frames, in order.
    pub frames: Vec<BuiltFrame<'a>>,
    /// Edits applied to the concatenated frames, in order.
    pub edits: Vec<StreamEdit<'a>>,
}

/// One frame to encode, and what to do to it.
#[derive(Debug, Arbitrary)]
pub struct BuiltFrame<'a> {
    /// The payload.
    pub payload: PayloadSpec<'a>,
    /// Damage done to the encoded frame, if any.
    pub damage: Option<FrameDamage>,
}

/// How a payload is chosen.
#[derive(Debug, Arbitrary)]
pub enum PayloadSpec<'a> {
    /// These bytes (empty gives a frame with LEN 0).
    Bytes(&'a [u8]),
    /// `max_payload + delta` copies of `fill` (clamped to 0..=65535): lengths
    /// right at the limit, one over, one under.
    NearMax {
        /// Offset from max_payload.
        delta: i8,
        /// The byte repeated.
        fill: u8,
    },
    /// `len` copies of `fill`, any length the LEN field can carry.
    Filled {
        /// Payload length.
        len: u16,
        /// The byte repeated.
        fill: u8,
    },
}

/// Damage to one encoded frame (`STX LEN PAYLOAD CRC ETX`).
#[derive(Debug, Arbitrary)]
pub enum FrameDamage {
    /// Overwrite LEN.
    SetLen(u16),
    /// Overwrite LEN with 0.
    ZeroLen,
    /// XOR one CRC byte (index mod 4) with a nonzero value.
    FlipCrc {
        /// Which CRC byte.
        index: u8,
        /// The XOR mask (0 is taken as 0x80).
        mask: u8,
    },
    /// Replace ETX with another byte (ETX itself is taken as 0x00).
    ReplaceEtx(u8),
    /// XOR any byte of the frame (offset mod frame length).
    FlipByte {
        /// Offset in the frame.
        at: u16,
        /// The XOR mask.
        mask: u8,
    },
    /// Keep only the first `keep` bytes (mod frame length).
    Cut {
        /// Bytes kept.
        keep: u16,
    },
}

/// An edit of the whole stream; offsets are taken mod (stream length + 1).
#[derive(Debug, Arbitrary)]
pub enum StreamEdit<'a> {
    /// XOR one byte.
    Flip {
        /// Offset.
        at: u16,
        /// The XOR mask.
        mask: u8,
    },
    /// Cut the stream short.
    Truncate {
        /// New length.
        at: u16,
    },
    /// Insert bytes.
    Insert {
        /// Offset.
        at: u16,
        /// The bytes inserted.
        bytes: &'a [u8],
    },
    /// Remove up to `len` bytes.
    Remove {
        /// Offset.
        at: u16,
        /// How many bytes.
        len: u8,
    },
    /// Copy up to `len` bytes from `from` and insert the copy at `to`.
    Duplicate {
        /// Source offset.
        from: u16,
        /// Bytes copied.
        len: u16,
        /// Destination offset.
        to: u16,
    },
}

impl PayloadSpec<'_> {
    fn bytes(&self, max_payload: usize) -> Vec<u8> {
        match *self {
            PayloadSpec::Bytes(b) => b.to_vec(),
            PayloadSpec::NearMax { delta, fill } => {
                let len = (max_payload as i64 + i64::from(delta)).clamp(0, i64::from(u16::MAX));
                vec![fill; len as usize]
            }
            PayloadSpec::Filled { len, fill } => vec![fill; usize::from(len)],
        }
    }
}

impl FrameDamage {
    fn apply(&self, frame: &mut Vec<u8>) {
        let n = frame.len();
        match *self {
            FrameDamage::SetLen(len) => frame[1..3].copy_from_slice(&len.to_be_bytes()),
            FrameDamage::ZeroLen => frame[1..3].copy_from_slice(&[0, 0]),
            FrameDamage::FlipCrc { index, mask } => {
                let mask = if mask == 0 { 0x80 } else { mask };
                frame[n - 5 + usize::from(index % 4)] ^= mask;
            }
            FrameDamage::ReplaceEtx(b) => frame[n - 1] = if b == 0x03 { 0x00 } else { b },
            FrameDamage::FlipByte { at, mask } => frame[usize::from(at) % n] ^= mask,
            FrameDamage::Cut { keep } => frame.truncate(usize::from(keep) % n),
        }
    }
}

impl StreamEdit<'_> {
    fn apply(&self, s: &mut Vec<u8>) {
        let at = |x: u16| usize::from(x) % (s.len() + 1);
        match *self {
            StreamEdit::Flip { at: a, mask } => {
                let i = at(a);
                if let Some(b) = s.get_mut(i) {
                    *b ^= mask;
                }
            }
            StreamEdit::Truncate { at: a } => s.truncate(at(a)),
            StreamEdit::Insert { at: a, bytes } => {
                let i = at(a);
                s.splice(i..i, bytes.iter().copied());
            }
            StreamEdit::Remove { at: a, len } => {
                let i = at(a);
                let end = (i + usize::from(len)).min(s.len());
                s.drain(i..end);
            }
            StreamEdit::Duplicate { from, len, to } => {
                let i = at(from);
                let end = (i + usize::from(len)).min(s.len());
                let copy = s[i..end].to_vec();
                let j = at(to);
                s.splice(j..j, copy);
            }
        }
    }
}

impl BuiltStream<'_> {
    /// Encodes the frames (a payload over max_payload still gets a frame,
    /// which the decoder must refuse), damages them, and applies the edits.
    pub fn build(&self, max_payload: usize) -> Vec<u8> {
        let mut stream = Vec::new();
        let mut frame = Vec::new();
        for f in &self.frames {
            frame.clear();
            let payload = f.payload.bytes(max_payload);
            if payload.is_empty() {
                // encode_frame refuses an empty payload; write the LEN 0 frame by hand.
                frame.extend_from_slice(&[0x02, 0, 0]);
                frame.extend_from_slice(&crc32fast::hash(&[0, 0]).to_be_bytes());
                frame.push(0x03);
            } else {
                encode_frame(&mut frame, &payload).expect("payload of 1..=65535 bytes");
            }
            debug_assert!(frame.len() >= FRAME_OVERHEAD);
            if let Some(d) = &f.damage {
                d.apply(&mut frame);
            }
            if stream.len() + frame.len() > MAX_BUILT_STREAM {
                break;
            }
            stream.extend_from_slice(&frame);
        }
        for e in &self.edits {
            e.apply(&mut stream);
            stream.truncate(MAX_BUILT_STREAM);
        }
        stream
    }
}
