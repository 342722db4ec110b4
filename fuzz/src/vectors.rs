//! The seed corpus, made from the frame vectors (`tests/data/frames.txt`).
//!
//! [`seed_files`] gives every `fuzz/corpus/<target>/seed-*` file the
//! project commits; `tests/fuzz_regressions.rs` checks the committed files
//! are exactly these (and writes them when `STXCHAT_WRITE_SEEDS=1`).

use super::frame_input::raw_input;
use stxchat::codec::{ClientMessage, ServerMessage};

/// One case of the vectors file.
#[derive(Debug, Clone)]
pub struct Vector {
    /// The case's name.
    pub name: String,
    /// The decoder's max_payload.
    pub max_payload: u16,
    /// The byte stream.
    pub stream: Vec<u8>,
    /// The payloads of the case's expected `Frame(..)` events.
    pub payloads: Vec<Vec<u8>>,
}

/// Bytes from hex digits, spaces between bytes optional.
fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|d| {
            let d = std::str::from_utf8(d).expect("ASCII hex");
            u8::from_str_radix(d, 16).expect("hex byte")
        })
        .collect()
}

/// Parses the vectors file format (`case:`, `max_payload:`, `stream:`,
/// `events:` lines; `#` comments).
pub fn parse(text: &str) -> Vec<Vector> {
    let mut out: Vec<Vector> = Vec::new();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        if key == "case" {
            out.push(Vector {
                name: value.trim().to_owned(),
                max_payload: 0,
                stream: Vec::new(),
                payloads: Vec::new(),
            });
            continue;
        }
        let Some(cur) = out.last_mut() else {
            continue;
        };
        match key {
            "max_payload" => cur.max_payload = value.trim().parse().expect("max_payload"),
            "stream" => cur.stream = hex(value),
            "events" => {
                cur.payloads = value
                    .split_whitespace()
                    .filter_map(|e| e.strip_prefix("Frame(")?.strip_suffix(')'))
                    .map(hex)
                    .collect()
            }
            _ => {}
        }
    }
    out
}

/// A file name part made from a case name: lower case, runs of anything but
/// letters and digits as one `-`.
fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

/// Payloads of every message type the vectors lack, so the message fuzzer
/// starts from each layout.
fn extra_payloads() -> Vec<(&'static str, Vec<u8>)> {
    let nicks = ["alice", "bob", "Émile"];
    let client = [
        ("join", ClientMessage::Join { room: "lobby" }),
        ("part", ClientMessage::Part { room: "lobby" }),
        ("who", ClientMessage::Who { room: "lobby" }),
        (
            "whisper",
            ClientMessage::Whisper {
                to: "bob",
                text: "psst\tthere\n",
            },
        ),
    ];
    let server = [
        (
            "welcome",
            ServerMessage::Welcome {
                version: 1,
                nick: "alice",
                server_name: "stxchat",
                max_payload: 4096,
                keepalive_secs: 30,
            },
        ),
        (
            "private",
            ServerMessage::Private {
                flags: 0,
                seq: 8,
                time_ms: 1_700_000_000_000,
                from: "alice",
                to: "bob",
                text: "héllo 👋",
            },
        ),
        (
            "joined",
            ServerMessage::Joined {
                room: "lobby",
                nick: "alice",
            },
        ),
        (
            "left",
            ServerMessage::Left {
                room: "lobby",
                nick: "alice",
                reason: 1,
            },
        ),
        (
            "members-more",
            ServerMessage::Members {
                room: "lobby",
                flags: 1,
                nicks: stxchat::codec::NickList::List(&nicks),
            },
        ),
        ("pong", ServerMessage::Pong { token: 42 }),
        (
            "members-partial",
            ServerMessage::Members {
                room: "lobby",
                flags: stxchat::codec::FLAG_PARTIAL,
                nicks: stxchat::codec::NickList::List(&nicks),
            },
        ),
        (
            "room",
            ServerMessage::Room {
                room: "lobby",
                flags: stxchat::codec::ROOM_QUIET,
                members: 19_342,
            },
        ),
        (
            "error",
            ServerMessage::Error {
                code: 9,
                detail: "not in room",
            },
        ),
    ];
    let mut out = Vec::new();
    for (name, m) in client {
        let mut p = Vec::new();
        m.encode_payload(&mut p).expect("fits");
        out.push((name, p));
    }
    for (name, m) in server {
        let mut p = Vec::new();
        m.encode_payload(&mut p).expect("fits");
        out.push((name, p));
    }
    out
}

/// Every seed file: `(target, file name, contents)`.
///
/// `frame_parser` gets each vector's stream raw, with the vector's
/// max_payload, fed one byte at a time and in chunks of 5, 0, 2 and 255
/// bytes; `message_decode` gets every distinct payload of the vectors'
/// frames, plus one payload of each message type they lack.
pub fn seed_files(vectors_text: &str) -> Vec<(&'static str, String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut payloads: Vec<Vec<u8>> = Vec::new();
    for v in parse(vectors_text) {
        let s = slug(&v.name);
        out.push((
            "frame_parser",
            format!("seed-{s}"),
            raw_input(v.max_payload, &[], &v.stream),
        ));
        out.push((
            "frame_parser",
            format!("seed-{s}-chunked"),
            raw_input(v.max_payload, &[5, 0, 2, 255], &v.stream),
        ));
        for p in v.payloads {
            if !payloads.contains(&p) {
                out.push((
                    "message_decode",
                    format!("seed-{s}-{}", payloads.len()),
                    p.clone(),
                ));
                payloads.push(p);
            }
        }
    }
    for (name, p) in extra_payloads() {
        out.push(("message_decode", format!("seed-type-{name}"), p));
    }
    out
}
