//! The property the `envelope_decode` target checks: decoding a cluster
//! record (`stxchat::cluster::envelope`) never panics, and a record that
//! decodes re-encodes to exactly the bytes it came from.

use stxchat::cluster::envelope::{MAGIC, VERSION, decode};

/// Checks `data` as a record, and again behind a valid magic and version
/// (so the fuzzer reaches the kinds' fields without guessing the header).
pub fn check_record(data: &[u8]) {
    check_one(data);
    let mut framed = Vec::with_capacity(data.len() + 5);
    framed.extend_from_slice(&MAGIC);
    framed.push(VERSION);
    framed.extend_from_slice(data);
    check_one(&framed);
}

fn check_one(bytes: &[u8]) {
    if let Ok(e) = decode(bytes) {
        let mut out = Vec::new();
        e.encode(&mut out).expect("a decoded record re-encodes");
        assert_eq!(out, bytes, "re-encoding changed the record");
    }
}
