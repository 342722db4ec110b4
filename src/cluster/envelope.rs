//! The records of the cluster's order (`docs/CLUSTER.md`): what one node
//! proposes and every node applies, as bytes.
//!
//! Layout (all integers big-endian, like the wire protocol):
//!
//! ```text
//! magic    4  "STXR"
//! version  1  1
//! kind     1  see `kind`
//! origin   8  the proposing node's id (NodeId)
//! counter  8  the origin's record counter (1, 2, ...; replay detection)
//! fields      the kind's fields, in the order of `Record`'s definition:
//!             u8 / u64 as such, strings as str8 (u8 length) or str16
//!             (u16 length) of UTF-8
//! ```
//!
//! A record must hold exactly its kind's fields: bytes missing or left over
//! are errors. Decoding borrows the strings from the input (no allocation)
//! and never panics; every way a record can be wrong has its
//! [`EnvelopeError`]. Semantic checks (is the nick a valid nick, is the
//! text short enough) are the engine's, when it applies a record, so that a
//! hostile record is refused the same way on every node.

use crate::cluster::link::NodeId;

/// The first four bytes of every record.
pub const MAGIC: [u8; 4] = *b"STXR";

/// The record format this build writes and reads.
pub const VERSION: u8 = 1;

/// Bytes before a record's fields: magic, version, kind, origin, counter.
pub const HEADER_LEN: usize = 4 + 1 + 1 + 8 + 8;

/// The kind bytes.
pub mod kind {
    /// [`super::Record::Claim`].
    pub const CLAIM: u8 = 1;
    /// [`super::Record::Join`].
    pub const JOIN: u8 = 2;
    /// [`super::Record::Part`].
    pub const PART: u8 = 3;
    /// [`super::Record::Say`].
    pub const SAY: u8 = 4;
    /// [`super::Record::Whisper`].
    pub const WHISPER: u8 = 5;
    /// [`super::Record::Quit`].
    pub const QUIT: u8 = 6;
    /// [`super::Record::NodeLeft`].
    pub const NODE_LEFT: u8 = 7;
}

/// Bit 0 of a claim's flags: the client joins the default room as part of
/// its registration (native clients; gateway clients do not).
pub const CLAIM_JOINS_DEFAULT: u8 = 1;

/// What a record says. Clients are named by the origin node (the
/// envelope's) and their serial on that node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record<'a> {
    /// A HELLO passed its origin's local checks: register `nick` if it is
    /// free cluster-wide.
    Claim {
        /// The client's serial on its node.
        serial: u64,
        /// HELLO's protocol version.
        version: u8,
        /// [`CLAIM_JOINS_DEFAULT`] and reserved bits.
        flags: u8,
        /// The nick as spelt in HELLO.
        nick: &'a str,
    },
    /// JOIN of `room`.
    Join {
        /// The client's serial on its node.
        serial: u64,
        /// The room as spelt by the JOIN.
        room: &'a str,
    },
    /// PART of `room`.
    Part {
        /// The client's serial on its node.
        serial: u64,
        /// The room.
        room: &'a str,
    },
    /// SAY accepted by its origin.
    Say {
        /// The client's serial on its node.
        serial: u64,
        /// The origin's Unix time in ms when it accepted the SAY.
        time_ms: u64,
        /// The room.
        room: &'a str,
        /// The text.
        text: &'a str,
    },
    /// WHISPER accepted by its origin.
    Whisper {
        /// The client's serial on its node.
        serial: u64,
        /// The origin's Unix time in ms when it accepted the WHISPER.
        time_ms: u64,
        /// The target nick.
        to: &'a str,
        /// The text.
        text: &'a str,
    },
    /// A client's departure (BYE, EOF, timeout, kick, slow consumer, ...).
    Quit {
        /// The client's serial on its node.
        serial: u64,
        /// The LEFT reason its rooms see.
        reason: u8,
    },
    /// Every client of `node` leaves (reason 5: it stopped cleanly; 2: it
    /// died). Applying it twice is harmless.
    NodeLeft {
        /// The node that left.
        node: NodeId,
        /// The LEFT reason.
        reason: u8,
    },
}

impl Record<'_> {
    /// The kind byte.
    pub fn kind(&self) -> u8 {
        match self {
            Record::Claim { .. } => kind::CLAIM,
            Record::Join { .. } => kind::JOIN,
            Record::Part { .. } => kind::PART,
            Record::Say { .. } => kind::SAY,
            Record::Whisper { .. } => kind::WHISPER,
            Record::Quit { .. } => kind::QUIT,
            Record::NodeLeft { .. } => kind::NODE_LEFT,
        }
    }
}

/// A decoded record with its envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// The proposing node.
    pub origin: NodeId,
    /// The origin's record counter.
    pub counter: u64,
    /// The record.
    pub record: Record<'a>,
}

/// Why bytes are not a record. Every variant is one kind a node logs once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// Shorter than the header, or the magic is wrong: not ours.
    #[error("not a record (bad magic or too short)")]
    Garbage,
    /// A version this build does not read.
    #[error("unknown record version {0}")]
    UnknownVersion(u8),
    /// A kind this build does not know.
    #[error("unknown record kind {0}")]
    UnknownKind(u8),
    /// The kind's fields run past the end.
    #[error("truncated record")]
    Truncated,
    /// Bytes left over after the kind's fields.
    #[error("bytes left over after the record")]
    TrailingBytes,
    /// A string is not UTF-8.
    #[error("a string of the record is not UTF-8")]
    BadUtf8,
    /// A string is too long for its length prefix (encoding only).
    #[error("a string is too long for the record")]
    TooLong,
}

impl EnvelopeError {
    /// A short stable name (logs, metrics).
    pub fn name(&self) -> &'static str {
        match self {
            EnvelopeError::Garbage => "garbage",
            EnvelopeError::UnknownVersion(_) => "unknown_version",
            EnvelopeError::UnknownKind(_) => "unknown_kind",
            EnvelopeError::Truncated => "truncated",
            EnvelopeError::TrailingBytes => "trailing_bytes",
            EnvelopeError::BadUtf8 => "bad_utf8",
            EnvelopeError::TooLong => "too_long",
        }
    }

    /// A small index per variant (0..ERROR_KINDS), for per-kind counters.
    pub fn index(&self) -> usize {
        match self {
            EnvelopeError::Garbage => 0,
            EnvelopeError::UnknownVersion(_) => 1,
            EnvelopeError::UnknownKind(_) => 2,
            EnvelopeError::Truncated => 3,
            EnvelopeError::TrailingBytes => 4,
            EnvelopeError::BadUtf8 => 5,
            EnvelopeError::TooLong => 6,
        }
    }
}

/// How many [`EnvelopeError`] variants there are.
pub const ERROR_KINDS: usize = 7;

fn put_str8(out: &mut Vec<u8>, s: &str) -> Result<(), EnvelopeError> {
    let n = u8::try_from(s.len()).map_err(|_| EnvelopeError::TooLong)?;
    out.push(n);
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

fn put_str16(out: &mut Vec<u8>, s: &str) -> Result<(), EnvelopeError> {
    let n = u16::try_from(s.len()).map_err(|_| EnvelopeError::TooLong)?;
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

impl Envelope<'_> {
    /// Appends the encoded record to `out`; on error `out` is as it was.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EnvelopeError> {
        let start = out.len();
        let r = self.encode_inner(out);
        if r.is_err() {
            out.truncate(start);
        }
        r
    }

    fn encode_inner(&self, out: &mut Vec<u8>) -> Result<(), EnvelopeError> {
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
        out.push(self.record.kind());
        out.extend_from_slice(&self.origin.to_be_bytes());
        out.extend_from_slice(&self.counter.to_be_bytes());
        match self.record {
            Record::Claim {
                serial,
                version,
                flags,
                nick,
            } => {
                out.extend_from_slice(&serial.to_be_bytes());
                out.push(version);
                out.push(flags);
                put_str8(out, nick)
            }
            Record::Join { serial, room } | Record::Part { serial, room } => {
                out.extend_from_slice(&serial.to_be_bytes());
                put_str8(out, room)
            }
            Record::Say {
                serial,
                time_ms,
                room: a,
                text,
            }
            | Record::Whisper {
                serial,
                time_ms,
                to: a,
                text,
            } => {
                out.extend_from_slice(&serial.to_be_bytes());
                out.extend_from_slice(&time_ms.to_be_bytes());
                put_str8(out, a)?;
                put_str16(out, text)
            }
            Record::Quit { serial, reason } => {
                out.extend_from_slice(&serial.to_be_bytes());
                out.push(reason);
                Ok(())
            }
            Record::NodeLeft { node, reason } => {
                out.extend_from_slice(&node.to_be_bytes());
                out.push(reason);
                Ok(())
            }
        }
    }
}

/// A cursor over a record's fields.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], EnvelopeError> {
        if self.rest.len() < n {
            return Err(EnvelopeError::Truncated);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, EnvelopeError> {
        Ok(self.take(1)?[0])
    }

    fn u64(&mut self) -> Result<u64, EnvelopeError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    fn str_of(&mut self, n: usize) -> Result<&'a str, EnvelopeError> {
        std::str::from_utf8(self.take(n)?).map_err(|_| EnvelopeError::BadUtf8)
    }

    fn str8(&mut self) -> Result<&'a str, EnvelopeError> {
        let n = self.u8()?;
        self.str_of(usize::from(n))
    }

    fn str16(&mut self) -> Result<&'a str, EnvelopeError> {
        let b = self.take(2)?;
        let n = u16::from_be_bytes([b[0], b[1]]);
        self.str_of(usize::from(n))
    }
}

/// Decodes one record; borrows its strings from `bytes`.
pub fn decode(bytes: &[u8]) -> Result<Envelope<'_>, EnvelopeError> {
    if bytes.len() < 5 || bytes[..4] != MAGIC {
        return Err(EnvelopeError::Garbage);
    }
    if bytes[4] != VERSION {
        return Err(EnvelopeError::UnknownVersion(bytes[4]));
    }
    if bytes.len() < HEADER_LEN {
        return Err(EnvelopeError::Truncated);
    }
    let kind_byte = bytes[5];
    let mut r = Reader { rest: &bytes[6..] };
    let origin = r.u64()?;
    let counter = r.u64()?;
    let record = match kind_byte {
        kind::CLAIM => Record::Claim {
            serial: r.u64()?,
            version: r.u8()?,
            flags: r.u8()?,
            nick: r.str8()?,
        },
        kind::JOIN => Record::Join {
            serial: r.u64()?,
            room: r.str8()?,
        },
        kind::PART => Record::Part {
            serial: r.u64()?,
            room: r.str8()?,
        },
        kind::SAY => Record::Say {
            serial: r.u64()?,
            time_ms: r.u64()?,
            room: r.str8()?,
            text: r.str16()?,
        },
        kind::WHISPER => Record::Whisper {
            serial: r.u64()?,
            time_ms: r.u64()?,
            to: r.str8()?,
            text: r.str16()?,
        },
        kind::QUIT => Record::Quit {
            serial: r.u64()?,
            reason: r.u8()?,
        },
        kind::NODE_LEFT => Record::NodeLeft {
            node: r.u64()?,
            reason: r.u8()?,
        },
        other => return Err(EnvelopeError::UnknownKind(other)),
    };
    if !r.rest.is_empty() {
        return Err(EnvelopeError::TrailingBytes);
    }
    Ok(Envelope {
        origin,
        counter,
        record,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn enc(e: &Envelope<'_>) -> Vec<u8> {
        let mut v = Vec::new();
        e.encode(&mut v).expect("encodes");
        v
    }

    fn say<'a>(room: &'a str, text: &'a str) -> Envelope<'a> {
        Envelope {
            origin: 0x0102_0304_0506_0708,
            counter: 9,
            record: Record::Say {
                serial: 3,
                time_ms: 1_700_000_000_000,
                room,
                text,
            },
        }
    }

    #[test]
    fn layout_is_magic_version_kind_origin_counter_fields() {
        let b = enc(&say("r", "hi"));
        assert_eq!(&b[..4], b"STXR");
        assert_eq!(b[4], VERSION);
        assert_eq!(b[5], kind::SAY);
        assert_eq!(&b[6..14], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(&b[14..22], &9u64.to_be_bytes());
        assert_eq!(&b[22..30], &3u64.to_be_bytes());
        assert_eq!(&b[38..], &[1, b'r', 0, 2, b'h', b'i']);
    }

    #[test]
    fn every_kind_round_trips() {
        let records = [
            Record::Claim {
                serial: 1,
                version: 2,
                flags: CLAIM_JOINS_DEFAULT,
                nick: "Émile",
            },
            Record::Join {
                serial: 2,
                room: "lobby",
            },
            Record::Part {
                serial: 2,
                room: "lobby",
            },
            Record::Say {
                serial: 2,
                time_ms: 5,
                room: "r",
                text: "a\nb",
            },
            Record::Whisper {
                serial: 2,
                time_ms: 6,
                to: "bob",
                text: "psst",
            },
            Record::Quit {
                serial: 2,
                reason: 3,
            },
            Record::NodeLeft {
                node: 77,
                reason: 5,
            },
        ];
        for record in records {
            let e = Envelope {
                origin: 42,
                counter: 1,
                record,
            };
            assert_eq!(decode(&enc(&e)), Ok(e));
        }
    }

    #[test]
    fn garbage_truncation_and_unknowns_are_typed_errors() {
        assert_eq!(decode(b""), Err(EnvelopeError::Garbage));
        assert_eq!(
            decode(b"hello world, not ours"),
            Err(EnvelopeError::Garbage)
        );
        let good = enc(&say("room", "text"));
        let mut v = good.clone();
        v[4] = 2;
        assert_eq!(decode(&v), Err(EnvelopeError::UnknownVersion(2)));
        let mut v = good.clone();
        v[5] = 99;
        assert_eq!(decode(&v), Err(EnvelopeError::UnknownKind(99)));
        for cut in 5..good.len() {
            assert_eq!(
                decode(&good[..cut]),
                Err(EnvelopeError::Truncated),
                "cut {cut}"
            );
        }
        let mut v = good.clone();
        v.push(0);
        assert_eq!(decode(&v), Err(EnvelopeError::TrailingBytes));
        let mut v = good;
        let last = v.len() - 1;
        v[last] = 0xff;
        assert_eq!(decode(&v), Err(EnvelopeError::BadUtf8));
    }

    #[test]
    fn strings_too_long_for_their_prefix_do_not_encode() {
        let long = "x".repeat(256);
        let mut out = vec![7];
        assert_eq!(
            say(&long, "t").encode(&mut out),
            Err(EnvelopeError::TooLong)
        );
        assert_eq!(out, vec![7]);
        let text = "y".repeat(65_536);
        assert_eq!(
            say("r", &text).encode(&mut out),
            Err(EnvelopeError::TooLong)
        );
        assert_eq!(out, vec![7]);
    }

    #[test]
    fn error_indices_are_distinct_and_below_the_count() {
        let all = [
            EnvelopeError::Garbage,
            EnvelopeError::UnknownVersion(0),
            EnvelopeError::UnknownKind(0),
            EnvelopeError::Truncated,
            EnvelopeError::TrailingBytes,
            EnvelopeError::BadUtf8,
            EnvelopeError::TooLong,
        ];
        let mut seen = [false; ERROR_KINDS];
        for e in all {
            assert!(!seen[e.index()]);
            seen[e.index()] = true;
            assert!(!e.name().is_empty());
        }
    }

    fn arb_record() -> impl Strategy<Value = (u8, u64, u64, u8, String, String)> {
        (
            1u8..=7,
            any::<u64>(),
            any::<u64>(),
            any::<u8>(),
            "\\PC{0,40}",
            "\\PC{0,200}",
        )
    }

    proptest! {
        #[test]
        fn round_trip((k, a, b, c, s, t) in arb_record(), origin: u64, counter: u64) {
            let s: String = s.chars().take(60).collect();
            let s = if s.len() > 255 { String::new() } else { s };
            let record = match k {
                1 => Record::Claim { serial: a, version: c, flags: c ^ 1, nick: &s },
                2 => Record::Join { serial: a, room: &s },
                3 => Record::Part { serial: a, room: &s },
                4 => Record::Say { serial: a, time_ms: b, room: &s, text: &t },
                5 => Record::Whisper { serial: a, time_ms: b, to: &s, text: &t },
                6 => Record::Quit { serial: a, reason: c },
                _ => Record::NodeLeft { node: a, reason: c },
            };
            let e = Envelope { origin, counter, record };
            let bytes = enc(&e);
            prop_assert_eq!(decode(&bytes), Ok(e));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = decode(&bytes);
            let mut framed = MAGIC.to_vec();
            framed.push(VERSION);
            framed.extend_from_slice(&bytes);
            if let Ok(e) = decode(&framed) {
                prop_assert_eq!(enc(&e), framed);
            }
        }
    }
}
