//! The text a bench publisher sends: ASCII that carries its phase, send time,
//! publisher and sequence number, so a receiver can time it and tell
//! warm-up traffic from measured traffic.
//!
//! Layout (the same one `shared/peerbench` uses, so figures are comparable):
//! 1 phase byte (`W` warm-up, `M` measured), 16 hex digits of send time
//! (nanoseconds on the run's monotonic clock), 4 hex digits of publisher id,
//! 10 hex digits of sequence number, then `.` padding up to the text length.
//! Every byte is ASCII, so the text is valid UTF-8 without control characters.

/// Bytes the stamp occupies at the start of the text.
pub const STAMP_LEN: usize = 31;
/// Shortest text that can carry a stamp plus one padding byte.
pub const MIN_TEXT_LEN: usize = STAMP_LEN + 1;
/// Largest publisher id the stamp can carry.
pub const MAX_PUBLISHER_ID: u32 = 0xffff;

const PHASE_WARMUP: u8 = b'W';
const PHASE_MEASURED: u8 = b'M';
const PAD: u8 = b'.';
const HEX: &[u8; 16] = b"0123456789abcdef";

/// What a stamp says about one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Sent during the measured interval (not warm-up).
    pub measured: bool,
    /// Send time, nanoseconds since the run's start instant.
    pub sent_ns: u64,
    /// The publisher's id (its connection index).
    pub publisher: u16,
    /// The publisher's sequence number (wraps at 40 bits).
    pub seq: u64,
}

/// A text of `len` bytes of padding, ready for [`write_stamp`].
pub fn template(len: usize) -> Vec<u8> {
    vec![PAD; len]
}

/// Writes `stamp` over the first [`STAMP_LEN`] bytes of `dst`.
///
/// `dst` must hold at least [`STAMP_LEN`] bytes (the caller checks the text
/// length once, against [`MIN_TEXT_LEN`]); shorter slices are left untouched.
#[inline]
pub fn write_stamp(dst: &mut [u8], stamp: &Stamp) {
    if dst.len() < STAMP_LEN {
        return;
    }
    dst[0] = if stamp.measured {
        PHASE_MEASURED
    } else {
        PHASE_WARMUP
    };
    put_hex(&mut dst[1..17], stamp.sent_ns);
    put_hex(&mut dst[17..21], u64::from(stamp.publisher));
    put_hex(&mut dst[21..31], stamp.seq);
}

/// Reads the stamp at the start of `text`; `None` if it is not one.
#[inline]
pub fn read_stamp(text: &[u8]) -> Option<Stamp> {
    if text.len() < STAMP_LEN {
        return None;
    }
    let measured = match text[0] {
        PHASE_MEASURED => true,
        PHASE_WARMUP => false,
        _ => return None,
    };
    Some(Stamp {
        measured,
        sent_ns: hex_value(&text[1..17])?,
        publisher: u16::try_from(hex_value(&text[17..21])?).ok()?,
        seq: hex_value(&text[21..31])?,
    })
}

#[inline]
fn put_hex(out: &mut [u8], mut v: u64) {
    for b in out.iter_mut().rev() {
        *b = HEX[(v & 15) as usize];
        v >>= 4;
    }
}

#[inline]
fn hex_value(digits: &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for &c in digits {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => return None,
        };
        v = (v << 4) | u64::from(d);
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_round_trips_and_keeps_padding() {
        let mut t = template(64);
        let s = Stamp {
            measured: true,
            sent_ns: 0x0123_4567_89ab_cdef,
            publisher: 0xbeef,
            seq: 0xff_ffff_ffff,
        };
        write_stamp(&mut t, &s);
        assert_eq!(read_stamp(&t), Some(s));
        assert!(t[STAMP_LEN..].iter().all(|&b| b == b'.'));
        assert!(std::str::from_utf8(&t).unwrap().is_ascii());
        assert_eq!(&t[..17], b"M0123456789abcdef");
    }

    #[test]
    fn warmup_phase_and_sequence_wrap() {
        let mut t = template(MIN_TEXT_LEN);
        let s = Stamp {
            measured: false,
            sent_ns: 5,
            publisher: 0,
            seq: (1 << 40) + 7,
        };
        write_stamp(&mut t, &s);
        let back = read_stamp(&t).unwrap();
        assert!(!back.measured);
        assert_eq!(back.seq, 7, "sequence keeps its low 40 bits");
        assert_eq!(back.sent_ns, 5);
    }

    #[test]
    fn foreign_text_is_not_a_stamp() {
        assert_eq!(read_stamp(b"hello"), None);
        assert_eq!(read_stamp(&[b'M'; 40]), None);
        let mut t = template(40);
        write_stamp(
            &mut t,
            &Stamp {
                measured: true,
                sent_ns: 1,
                publisher: 1,
                seq: 1,
            },
        );
        t[0] = b'X';
        assert_eq!(read_stamp(&t), None);
        t[0] = b'M';
        t[5] = b'G';
        assert_eq!(read_stamp(&t), None);
    }

    #[test]
    fn short_destination_is_left_alone() {
        let mut t = template(10);
        write_stamp(
            &mut t,
            &Stamp {
                measured: true,
                sent_ns: 1,
                publisher: 1,
                seq: 1,
            },
        );
        assert_eq!(t, template(10));
    }
}
