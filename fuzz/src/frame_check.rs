//! The frame decoder's properties, checked over one byte stream.
//!
//! [`check_stream`] feeds a stream to a [`FrameDecoder`] whole and in a given
//! chunking, and panics (with the stream in the message) unless:
//!
//! - both feedings yield exactly the events of [`reference_events`], a
//!   direct, non-incremental transcription of PROTOCOL.md section 1.1, at
//!   the same stream positions (so chunking invariance holds too);
//! - every `Frame` is the exact encoding of its payload: `encode_frame` of
//!   the payload gives back the stream's `STX..=ETX` bytes it came from;
//! - after every `decode` call the decoder holds at most `max_payload + 8`
//!   bytes, and a call that yields no event has used all of its input.
//!
//! An event's position is the decoder's scan position when it is yielded:
//! bytes fed so far minus [`FrameDecoder::buffered`] (the decoder holds only
//! bytes it has not passed yet). A `Frame` ends there; an error is yielded
//! one byte past the byte that revealed it (the garbage byte, or the STX of
//! the bad frame, which resynchronisation drops).
//!
//! This file is shared: the fuzz crate compiles it as a module, and the
//! integration tests include it with `#[path]`, so both check the same things.

use stxchat::codec::{ETX, Event, FRAME_OVERHEAD, FrameDecoder, FrameError, STX, encode_frame};

/// One decoder event, owned, with the stream position it was yielded at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The frame's payload, or the error kind.
    pub event: Result<Vec<u8>, FrameError>,
    /// Stream offset just past the bytes the decoder had passed.
    pub at: usize,
}

/// The events section 1.1 prescribes for `stream` with this `max_payload`,
/// computed over the whole stream at once (no incremental state).
pub fn reference_events(stream: &[u8], max_payload: usize) -> Vec<Recorded> {
    let max = max_payload.clamp(1, usize::from(u16::MAX));
    let mut out = Vec::new();
    let mut pos = 0;
    let mut resync = false;
    loop {
        if resync {
            match stream[pos..].iter().position(|&b| b == STX) {
                Some(skip) => pos += skip,
                None => break,
            }
            resync = false;
        }
        if pos >= stream.len() {
            break;
        }
        if stream[pos] != STX {
            out.push(Recorded {
                event: Err(FrameError::Garbage),
                at: pos + 1,
            });
            pos += 1;
            resync = true;
            continue;
        }
        if stream.len() - pos < 3 {
            break;
        }
        let len = usize::from(u16::from_be_bytes([stream[pos + 1], stream[pos + 2]]));
        let error = if len == 0 {
            FrameError::Empty
        } else if len > max {
            FrameError::TooLarge
        } else if stream.len() - pos < len + FRAME_OVERHEAD {
            break;
        } else if stream[pos + 7 + len] != ETX {
            FrameError::MissingEtx
        } else {
            let sent = &stream[pos + 3 + len..pos + 7 + len];
            let sent = u32::from_be_bytes([sent[0], sent[1], sent[2], sent[3]]);
            // CRC-32/IEEE over the two LEN bytes followed by the payload.
            if crc32fast::hash(&stream[pos + 1..pos + 3 + len]) == sent {
                pos += len + FRAME_OVERHEAD;
                out.push(Recorded {
                    event: Ok(stream[pos - 5 - len..pos - 5].to_vec()),
                    at: pos,
                });
                continue;
            }
            FrameError::BadChecksum
        };
        out.push(Recorded {
            event: Err(error),
            at: pos + 1,
        });
        pos += 1;
        resync = true;
    }
    out
}

/// Feeds `stream` to a fresh decoder in chunks of the sizes in `chunks`
/// (cycled; 0 feeds an empty slice), checking the per-call properties, and
/// returns the events with their positions.
///
/// An empty plan, or one of zeros only, feeds one byte at a time.
pub fn decode_in_chunks(stream: &[u8], max_payload: usize, chunks: &[usize]) -> Vec<Recorded> {
    let bound = max_payload + FRAME_OVERHEAD;
    let plan: &[usize] = if chunks.iter().any(|&c| c > 0) {
        chunks
    } else {
        &[1]
    };
    let mut dec = FrameDecoder::new(max_payload);
    let mut out = Vec::new();
    let mut fed = 0;
    for &size in plan.iter().cycle() {
        let end = (fed + size).min(stream.len());
        let mut rest = &stream[fed..end];
        loop {
            let (used, event) = dec.decode(rest);
            assert!(
                used <= rest.len(),
                "decode used {used} of {} bytes",
                rest.len()
            );
            let event = event.map(|e| match e {
                Event::Frame(p) => Ok(p.to_vec()),
                Event::Error(kind) => Err(kind),
            });
            rest = &rest[used..];
            let held = dec.buffered();
            assert!(
                held <= bound,
                "decoder holds {held} bytes, over max_payload + 8 = {bound}; stream {stream:02x?}"
            );
            match event {
                None => {
                    assert!(rest.is_empty(), "no event but {} bytes unused", rest.len());
                    break;
                }
                Some(event) => {
                    let at = end - rest.len() - held;
                    out.push(Recorded { event, at });
                }
            }
        }
        fed = end;
        if fed == stream.len() {
            break;
        }
    }
    out
}

/// Checks every property listed in the module doc for one stream, fed whole
/// and in the chunking `chunks` (see [`decode_in_chunks`]). Panics on the
/// first violation; returns the events otherwise.
pub fn check_stream(stream: &[u8], max_payload: usize, chunks: &[usize]) -> Vec<Recorded> {
    assert!((1..=usize::from(u16::MAX)).contains(&max_payload));
    let expected = reference_events(stream, max_payload);
    let whole = decode_in_chunks(stream, max_payload, &[stream.len().max(1)]);
    assert_eq!(
        whole, expected,
        "fed whole, max_payload {max_payload}: events differ from section 1.1; stream {stream:02x?}"
    );
    let chunked = decode_in_chunks(stream, max_payload, chunks);
    assert_eq!(
        chunked, whole,
        "chunked {chunks:?} vs whole, max_payload {max_payload}: events differ; stream {stream:02x?}"
    );
    let mut encoded = Vec::new();
    for rec in &whole {
        if let Ok(payload) = &rec.event {
            assert!((1..=max_payload).contains(&payload.len()));
            encoded.clear();
            encode_frame(&mut encoded, payload).expect("a decoded payload fits a frame");
            let span = &stream[rec.at - encoded.len()..rec.at];
            assert_eq!(
                encoded, span,
                "frame at {} does not re-encode to its bytes",
                rec.at
            );
        }
    }
    whole
}
