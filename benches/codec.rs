//! Codec benchmarks (criterion): frame decoding and MESSAGE encoding, each
//! beside a baseline of bare `crc32fast::hash` over the same bytes, so the
//! decoder's cost reads as a fraction of the checksum it cannot avoid.
//!
//! Run with `cargo bench --bench codec`; figures are in docs/BENCHMARKS.md.

use criterion::{BenchmarkId, Criterion, Throughput, black_box, criterion_group, criterion_main};
use stxchat::codec::{Event, FrameDecoder, ServerMessage, encode_frame};

/// Bytes of frames in one decoded stream.
const STREAM_BYTES: usize = 256 * 1024;

/// A stream of frames whose payloads are `payload_len` bytes of MESSAGE-like
/// data, about [`STREAM_BYTES`] long.
fn stream_of(payload_len: usize) -> Vec<u8> {
    let payload: Vec<u8> = (0..payload_len).map(|i| (i * 7 + 0x20) as u8).collect();
    let mut out = Vec::with_capacity(STREAM_BYTES + payload_len + 8);
    while out.len() < STREAM_BYTES {
        encode_frame(&mut out, &payload).expect("payload fits");
    }
    out
}

/// Decodes `stream` fed whole; returns the number of payload bytes seen.
fn decode_whole(dec: &mut FrameDecoder, stream: &[u8]) -> usize {
    let mut n = 0;
    dec.decode_all(stream, |e| {
        if let Event::Frame(p) = e {
            n += p.len();
        }
    });
    n
}

/// Decodes `stream` fed one byte per call.
fn decode_bytewise(dec: &mut FrameDecoder, stream: &[u8]) -> usize {
    let mut n = 0;
    for b in stream.chunks(1) {
        dec.decode_all(b, |e| {
            if let Event::Frame(p) = e {
                n += p.len();
            }
        });
    }
    n
}

fn decode(c: &mut Criterion) {
    for (label, payload_len) in [("64B", 64), ("1KiB", 1024)] {
        let stream = stream_of(payload_len);
        let frames = stream.len() / (payload_len + 8);
        let mut g = c.benchmark_group(format!("decode_{label}_frames"));
        g.throughput(Throughput::Bytes(stream.len() as u64));
        g.bench_function(
            BenchmarkId::from_parameter("crc32fast_hash_baseline"),
            |b| b.iter(|| crc32fast::hash(black_box(&stream))),
        );
        // The checksum work a decoder cannot avoid: one hash per frame over
        // exactly the bytes its CRC covers (LEN and payload).
        let spans: Vec<std::ops::Range<usize>> = (0..frames)
            .map(|i| {
                let at = i * (payload_len + 8);
                at + 1..at + 3 + payload_len
            })
            .collect();
        g.bench_function(
            BenchmarkId::from_parameter("crc32fast_hash_per_frame"),
            |b| {
                b.iter(|| {
                    let s = black_box(&stream);
                    spans
                        .iter()
                        .fold(0u32, |acc, r| acc ^ crc32fast::hash(&s[r.clone()]))
                })
            },
        );
        g.bench_function(BenchmarkId::from_parameter("whole_buffer"), |b| {
            let mut dec = FrameDecoder::new(4096);
            b.iter(|| {
                let n = decode_whole(&mut dec, black_box(&stream));
                assert_eq!(n, frames * payload_len);
                n
            })
        });
        g.bench_function(BenchmarkId::from_parameter("one_byte_chunks"), |b| {
            let mut dec = FrameDecoder::new(4096);
            b.iter(|| {
                let n = decode_bytewise(&mut dec, black_box(&stream));
                assert_eq!(n, frames * payload_len);
                n
            })
        });
        g.finish();
    }
}

fn encode(c: &mut Criterion) {
    let text = "the quick brown fox jumps over the lazy dog, héllo 👋 ".repeat(4);
    let msg = ServerMessage::Message {
        flags: 0,
        seq: 123_456_789,
        time_ms: 1_700_000_000_000,
        room: "lobby",
        from: "alice",
        text: &text,
    };
    let mut frame = Vec::new();
    msg.encode(&mut frame, 4096).expect("fits");
    let mut g = c.benchmark_group("encode_message");
    g.throughput(Throughput::Bytes(frame.len() as u64));
    g.bench_function(
        BenchmarkId::from_parameter("crc32fast_hash_baseline"),
        |b| b.iter(|| crc32fast::hash(black_box(&frame))),
    );
    g.bench_function(BenchmarkId::from_parameter("encode"), |b| {
        let mut out = Vec::with_capacity(4096);
        b.iter(|| {
            out.clear();
            black_box(&msg).encode(&mut out, 4096).expect("fits");
            out.len()
        })
    });
    g.finish();
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
