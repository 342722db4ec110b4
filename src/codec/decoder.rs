//! The incremental frame decoder (PROTOCOL.md section 1.1).
//!
//! Feed it bytes in chunks of any size; it yields [`Event`]s one at a time.
//! A frame that arrives whole inside one chunk is handed out as a slice of
//! that chunk (no copy); only a frame split across chunks is gathered in the
//! decoder's own buffer, which never holds more than `max_payload + 8` bytes.
//! "Need more bytes" is not an error: [`FrameDecoder::decode`] simply returns
//! no event once the input is used up.

use crate::codec::frame::{ETX, FRAME_OVERHEAD, FrameError, STX, frame_crc};

/// One decoder output: a whole frame's payload, or a framing error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// A frame whose length, checksum and ETX were all correct.
    Frame(&'a [u8]),
    /// A framing error, yielded at the byte that revealed it.
    Error(FrameError),
}

/// Where the scanner stands between frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    /// The next byte must be STX (start of stream, or right after a frame).
    Start,
    /// Resynchronising: skip bytes silently up to the next STX.
    Skip,
}

/// What one scan step over a contiguous slice found.
enum Step {
    /// `n` bytes skipped silently while resynchronising.
    Skip(usize),
    /// An error; the first byte of the slice is consumed.
    Error(FrameError),
    /// A good frame with a payload of `len` bytes at the start of the slice.
    Frame(usize),
    /// The slice starts a frame (or is empty) but does not hold all of it.
    Incomplete,
}

/// Incremental, resynchronising frame decoder with a bounded buffer.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    max_payload: usize,
    scan: Scan,
    /// Bytes carried over from earlier input; `pending[off..]` is unscanned.
    pending: Vec<u8>,
    off: usize,
}

impl FrameDecoder {
    /// A decoder accepting payloads of 1..=`max_payload` bytes (clamped to 1..=65535).
    pub fn new(max_payload: usize) -> Self {
        FrameDecoder {
            max_payload: max_payload.clamp(1, u16::MAX as usize),
            scan: Scan::Start,
            pending: Vec::new(),
            off: 0,
        }
    }

    /// The largest payload this decoder accepts.
    pub fn max_payload(&self) -> usize {
        self.max_payload
    }

    /// Changes the payload limit (e.g. once a client learns it from WELCOME).
    pub fn set_max_payload(&mut self, max_payload: usize) {
        self.max_payload = max_payload.clamp(1, u16::MAX as usize);
    }

    /// Bytes currently held from earlier input (always `<= max_payload + 8`).
    pub fn buffered(&self) -> usize {
        self.pending.len() - self.off
    }

    /// Frees the internal buffer's memory if it holds nothing.
    pub fn release_if_empty(&mut self) {
        if self.buffered() == 0 {
            self.pending = Vec::new();
            self.off = 0;
        }
    }

    /// Decodes the next event from held bytes followed by `input`.
    ///
    /// Returns how many bytes of `input` were consumed and the event, if any.
    /// Call again with the rest of the input (`&input[used..]`) until it
    /// returns `None`; by then all of `input` has been consumed (a partial
    /// frame at its end is held for the next call).
    pub fn decode<'a>(&'a mut self, input: &'a [u8]) -> (usize, Option<Event<'a>>) {
        let max = self.max_payload;
        let mut used = 0;
        loop {
            if self.off < self.pending.len() {
                match step(&mut self.scan, max, &self.pending[self.off..]) {
                    Step::Skip(n) => self.off += n,
                    Step::Error(kind) => {
                        self.off += 1;
                        return (used, Some(Event::Error(kind)));
                    }
                    Step::Frame(len) => {
                        let start = self.off + 3;
                        self.off += len + FRAME_OVERHEAD;
                        return (used, Some(Event::Frame(&self.pending[start..start + len])));
                    }
                    Step::Incomplete => {
                        if self.off > 0 {
                            self.pending.drain(..self.off);
                            self.off = 0;
                        }
                        let need = if self.pending.len() < 3 {
                            3
                        } else {
                            frame_len(&self.pending) + FRAME_OVERHEAD
                        };
                        let take = (need - self.pending.len()).min(input.len() - used);
                        if take == 0 {
                            return (used, None);
                        }
                        self.pending.extend_from_slice(&input[used..used + take]);
                        used += take;
                    }
                }
            } else {
                if !self.pending.is_empty() {
                    self.pending.clear();
                    self.off = 0;
                }
                let rest = &input[used..];
                match step(&mut self.scan, max, rest) {
                    Step::Skip(n) => used += n,
                    Step::Error(kind) => return (used + 1, Some(Event::Error(kind))),
                    Step::Frame(len) => {
                        let start = used + 3;
                        return (
                            used + len + FRAME_OVERHEAD,
                            Some(Event::Frame(&input[start..start + len])),
                        );
                    }
                    Step::Incomplete => {
                        self.pending.extend_from_slice(rest);
                        return (input.len(), None);
                    }
                }
            }
        }
    }

    /// Decodes all of `input`, calling `f` for each event in order.
    pub fn decode_all(&mut self, mut input: &[u8], mut f: impl FnMut(Event<'_>)) {
        loop {
            let (used, event) = self.decode(input);
            input = &input[used..];
            match event {
                Some(e) => f(e),
                None => return,
            }
        }
    }
}

/// The LEN field of a slice that starts with STX and holds at least 3 bytes.
#[inline]
fn frame_len(s: &[u8]) -> usize {
    u16::from_be_bytes([s[1], s[2]]) as usize
}

/// One scan step over the contiguous bytes `s`.
#[inline]
fn step(scan: &mut Scan, max: usize, s: &[u8]) -> Step {
    if s.is_empty() {
        return Step::Incomplete;
    }
    if *scan == Scan::Skip {
        match memchr::memchr(STX, s) {
            Some(0) => *scan = Scan::Start,
            Some(i) => {
                *scan = Scan::Start;
                return Step::Skip(i);
            }
            None => return Step::Skip(s.len()),
        }
    }
    if s[0] != STX {
        *scan = Scan::Skip;
        return Step::Error(FrameError::Garbage);
    }
    if s.len() < 3 {
        return Step::Incomplete;
    }
    let len = frame_len(s);
    let error = if len == 0 {
        FrameError::Empty
    } else if len > max {
        FrameError::TooLarge
    } else {
        let total = len + FRAME_OVERHEAD;
        if s.len() < total {
            return Step::Incomplete;
        }
        if s[total - 1] != ETX {
            FrameError::MissingEtx
        } else {
            let crc = u32::from_be_bytes([s[3 + len], s[4 + len], s[5 + len], s[6 + len]]);
            if crc == frame_crc([s[1], s[2]], &s[3..3 + len]) {
                *scan = Scan::Start;
                return Step::Frame(len);
            }
            FrameError::BadChecksum
        }
    };
    *scan = Scan::Skip;
    Step::Error(error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::frame::encode_frame;

    fn events(dec: &mut FrameDecoder, input: &[u8]) -> Vec<Result<Vec<u8>, FrameError>> {
        let mut out = Vec::new();
        dec.decode_all(input, |e| {
            out.push(match e {
                Event::Frame(p) => Ok(p.to_vec()),
                Event::Error(k) => Err(k),
            })
        });
        out
    }

    #[test]
    fn whole_frame_is_borrowed_from_input() {
        let mut buf = Vec::new();
        encode_frame(&mut buf, b"\x08").unwrap();
        let mut dec = FrameDecoder::new(4096);
        let (used, ev) = dec.decode(&buf);
        assert_eq!(used, buf.len());
        match ev {
            Some(Event::Frame(p)) => assert_eq!(p.as_ptr(), buf[3..].as_ptr()),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(dec.buffered(), 0);
    }

    #[test]
    fn split_frame_is_gathered_and_bounded() {
        let mut buf = Vec::new();
        encode_frame(&mut buf, &[0x41; 100]).unwrap();
        let mut dec = FrameDecoder::new(100);
        for b in &buf[..buf.len() - 1] {
            assert!(events(&mut dec, std::slice::from_ref(b)).is_empty());
            assert!(dec.buffered() <= 108);
        }
        assert_eq!(
            events(&mut dec, &buf[buf.len() - 1..]),
            vec![Ok(vec![0x41; 100])]
        );
        assert_eq!(dec.buffered(), 0);
    }

    #[test]
    fn too_large_is_reported_without_waiting_for_the_payload() {
        let mut dec = FrameDecoder::new(16);
        assert_eq!(
            events(&mut dec, &[0x02, 0x00, 0x11]),
            vec![Err(FrameError::TooLarge)]
        );
        assert_eq!(dec.buffered(), 0);
    }

    #[test]
    fn garbage_is_reported_once_per_run() {
        let mut dec = FrameDecoder::new(4096);
        assert_eq!(events(&mut dec, b"abc"), vec![Err(FrameError::Garbage)]);
        assert_eq!(events(&mut dec, b"def"), vec![]);
    }
}
