//! Property tests of the wire codec (proptest).
//!
//! - frames: `encode_frame` then decoding, whole and one byte at a time,
//!   gives back exactly the payload;
//! - messages: every client and server message type, with valid field values
//!   (multibyte UTF-8 names and text, MEMBERS lists), survives encode then
//!   decode, and encodes to the frame of its payload;
//! - streams: arbitrary bytes, and streams built from valid frames then
//!   damaged, decode to the events section 1.1 prescribes, the same whole and
//!   in random chunkings, with the decoder never holding more than
//!   `max_payload + 8` bytes (the checks shared with the fuzz target);
//! - payloads: arbitrary and mutated-valid payloads; every one that decodes
//!   re-encodes to the same bytes (shared with the fuzz target);
//! - `encode_members`: frames fit `max_payload`, carry at least one nick,
//!   flag "more" on all but the last, and carry every nick exactly once.

#[path = "../fuzz/src/frame_check.rs"]
mod frame_check;
#[path = "../fuzz/src/message_check.rs"]
mod message_check;

use proptest::prelude::*;
use proptest::sample::Index;
use stxchat::codec::{
    ClientMessage, ETX, Event, FLAG_MORE, FRAME_OVERHEAD, FrameDecoder, MAX_NICK_LEN, MAX_ROOM_LEN,
    NickList, STX, ServerMessage, encode_frame, encode_members,
};

// ---------------------------------------------------------------- strategies

/// A character allowed in a name: no White_Space, no control; ASCII often.
/// Drawn from ranges that hold neither, so nothing is rejected (a filter on
/// `any::<char>()` ran out of local rejects now and then).
fn name_char() -> impl Strategy<Value = char> {
    prop_oneof![
        6 => proptest::char::range('!', '~'),
        1 => proptest::char::range('\u{a1}', '\u{2af}'),
        1 => proptest::char::range('\u{4e00}', '\u{9fff}'),
        1 => proptest::char::range('\u{1f600}', '\u{1f64f}'),
    ]
}

/// A valid name of at most `max` bytes (1 char at least).
fn name(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(name_char(), 1..=max).prop_map(move |chars| {
        let mut s = String::new();
        for c in chars {
            if s.len() + c.len_utf8() > max {
                break;
            }
            s.push(c);
        }
        s
    })
}

fn nick() -> impl Strategy<Value = String> {
    name(MAX_NICK_LEN)
}

fn room() -> impl Strategy<Value = String> {
    name(MAX_ROOM_LEN)
}

/// Valid text: at least one char; LF and TAB allowed, other controls not.
fn text() -> impl Strategy<Value = String> {
    let c = prop_oneof![
        4 => proptest::char::range(' ', '~'),
        1 => Just('\n'),
        1 => Just('\t'),
        1 => name_char(),
        1 => proptest::char::range('\u{a0}', '\u{3000}'),
    ];
    proptest::collection::vec(c, 1..300).prop_map(|v| v.into_iter().collect())
}

/// Any UTF-8 string that fits a str8 (HELLO's token need not be a name).
fn str8() -> impl Strategy<Value = String> {
    any::<String>().prop_map(|mut s| {
        while s.len() > 255 {
            s.pop();
        }
        s
    })
}

/// A decoder setting: small values often, the server range, the extremes.
fn max_payload() -> impl Strategy<Value = usize> {
    prop_oneof![
        2 => 1usize..=64,
        2 => 65usize..=4096,
        1 => Just(4096usize),
        1 => 512usize..=65535,
        1 => Just(65535usize),
    ]
}

/// Bytes with frame delimiters and zeros over-represented.
fn stream_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        4 => any::<u8>(),
        1 => Just(STX),
        1 => Just(ETX),
        1 => Just(0u8),
    ]
}

/// Chunk sizes for `decode_in_chunks` (cycled; 0 feeds an empty slice).
fn chunk_plan() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(prop_oneof![0usize..=3, 0usize..=300], 0..6)
}

/// A client message with owned fields.
#[derive(Debug, Clone)]
enum Client {
    Hello(u8, String, String),
    Join(String),
    Part(String),
    Say(String, String),
    Whisper(String, String),
    Who(String),
    Ping(u64),
    Bye,
}

impl Client {
    fn msg(&self) -> ClientMessage<'_> {
        match self {
            Client::Hello(version, nick, token) => ClientMessage::Hello {
                version: *version,
                nick,
                token,
            },
            Client::Join(room) => ClientMessage::Join { room },
            Client::Part(room) => ClientMessage::Part { room },
            Client::Say(room, text) => ClientMessage::Say { room, text },
            Client::Whisper(to, text) => ClientMessage::Whisper { to, text },
            Client::Who(room) => ClientMessage::Who { room },
            Client::Ping(token) => ClientMessage::Ping { token: *token },
            Client::Bye => ClientMessage::Bye,
        }
    }
}

fn client() -> impl Strategy<Value = Client> {
    prop_oneof![
        (any::<u8>(), nick(), str8()).prop_map(|(v, n, t)| Client::Hello(v, n, t)),
        room().prop_map(Client::Join),
        room().prop_map(Client::Part),
        (room(), text()).prop_map(|(r, t)| Client::Say(r, t)),
        (nick(), text()).prop_map(|(n, t)| Client::Whisper(n, t)),
        room().prop_map(Client::Who),
        any::<u64>().prop_map(Client::Ping),
        Just(Client::Bye),
    ]
}

/// A server message with owned fields.
#[derive(Debug, Clone)]
enum Server {
    Welcome(u8, String, String, u16, u16),
    Message(u8, u64, u64, String, String, String),
    Private(u8, u64, u64, String, String, String),
    Joined(String, String),
    Left(String, String, u8),
    Members(String, u8, Vec<String>),
    Pong(u64),
    Error(u16, String),
    Room(String, u8, u32),
}

impl Server {
    /// Calls `f` with the borrowed message (MEMBERS needs a list of `&str`).
    fn with_msg<R>(&self, f: impl FnOnce(ServerMessage<'_>) -> R) -> R {
        let list: Vec<&str> = match self {
            Server::Members(_, _, nicks) => nicks.iter().map(String::as_str).collect(),
            _ => Vec::new(),
        };
        f(match self {
            Server::Welcome(version, nick, server_name, max_payload, keepalive_secs) => {
                ServerMessage::Welcome {
                    version: *version,
                    nick,
                    server_name,
                    max_payload: *max_payload,
                    keepalive_secs: *keepalive_secs,
                }
            }
            Server::Message(flags, seq, time_ms, room, from, text) => ServerMessage::Message {
                flags: *flags,
                seq: *seq,
                time_ms: *time_ms,
                room,
                from,
                text,
            },
            Server::Private(flags, seq, time_ms, from, to, text) => ServerMessage::Private {
                flags: *flags,
                seq: *seq,
                time_ms: *time_ms,
                from,
                to,
                text,
            },
            Server::Joined(room, nick) => ServerMessage::Joined { room, nick },
            Server::Left(room, nick, reason) => ServerMessage::Left {
                room,
                nick,
                reason: *reason,
            },
            Server::Members(room, flags, _) => ServerMessage::Members {
                room,
                flags: *flags,
                nicks: NickList::List(&list),
            },
            Server::Pong(token) => ServerMessage::Pong { token: *token },
            Server::Error(code, detail) => ServerMessage::Error {
                code: *code,
                detail,
            },
            Server::Room(room, flags, members) => ServerMessage::Room {
                room,
                flags: *flags,
                members: *members,
            },
        })
    }
}

fn server() -> impl Strategy<Value = Server> {
    prop_oneof![
        (any::<u8>(), nick(), str8(), 512u16..=65535, any::<u16>())
            .prop_map(|(v, n, s, m, k)| Server::Welcome(v, n, s, m, k)),
        (0u8..=1, any::<u64>(), any::<u64>(), room(), nick(), text())
            .prop_map(|(f, s, t, r, n, x)| Server::Message(f, s, t, r, n, x)),
        (
            Just(0u8),
            any::<u64>(),
            any::<u64>(),
            nick(),
            nick(),
            text()
        )
            .prop_map(|(f, s, t, a, b, x)| Server::Private(f, s, t, a, b, x)),
        (room(), nick()).prop_map(|(r, n)| Server::Joined(r, n)),
        (room(), nick(), 0u8..=6).prop_map(|(r, n, x)| Server::Left(r, n, x)),
        (room(), 0u8..=3, proptest::collection::vec(nick(), 0..20))
            .prop_map(|(r, f, l)| Server::Members(r, f, l)),
        any::<u64>().prop_map(Server::Pong),
        (1u16..=21, text()).prop_map(|(c, d)| Server::Error(c, d)),
        (room(), 0u8..=1, any::<u32>()).prop_map(|(r, f, m)| Server::Room(r, f, m)),
    ]
}

/// Damage done to one encoded frame.
#[derive(Debug, Clone)]
enum Damage {
    None,
    SetLen(u16),
    ZeroLen,
    FlipCrc(usize, u8),
    ReplaceEtx(u8),
    Cut(Index),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        4 => Just(Damage::None),
        1 => any::<u16>().prop_map(Damage::SetLen),
        1 => Just(Damage::ZeroLen),
        1 => (0usize..4, 1u8..=255).prop_map(|(i, m)| Damage::FlipCrc(i, m)),
        1 => any::<u8>().prop_filter("not ETX", |&b| b != ETX).prop_map(Damage::ReplaceEtx),
        1 => any::<Index>().prop_map(Damage::Cut),
    ]
}

/// An edit of a whole stream.
#[derive(Debug, Clone)]
enum Edit {
    Flip(Index, u8),
    Truncate(Index),
    Insert(Index, Vec<u8>),
    Remove(Index, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<Index>(), 1u8..=255).prop_map(|(i, m)| Edit::Flip(i, m)),
        any::<Index>().prop_map(Edit::Truncate),
        (
            any::<Index>(),
            proptest::collection::vec(stream_byte(), 1..12)
        )
            .prop_map(|(i, b)| Edit::Insert(i, b)),
        (any::<Index>(), 1usize..20).prop_map(|(i, n)| Edit::Remove(i, n)),
    ]
}

/// A decoder setting and a stream for it: valid frames (payload lengths
/// often right at, one under or one over a small `max_payload`), each maybe
/// damaged, then the stream edited.
fn damaged_stream() -> impl Strategy<Value = (usize, Vec<u8>)> {
    prop_oneof![1usize..=300, max_payload()]
        .prop_flat_map(|max| {
            // Near-max payloads only for small settings, to keep cases fast.
            let near = if max <= 2048 {
                max.saturating_sub(1).max(1)..=max + 1
            } else {
                1..=299
            };
            let len = prop_oneof![1usize..300, near];
            let payload = len.prop_flat_map(|n| proptest::collection::vec(stream_byte(), n));
            (
                Just(max),
                proptest::collection::vec((payload, damage()), 0..6),
                proptest::collection::vec(edit(), 0..4),
            )
        })
        .prop_map(|(max, frames, edits)| {
            let mut s = Vec::new();
            for (payload, damage) in frames {
                let start = s.len();
                encode_frame(&mut s, &payload).expect("1..=65535 bytes fit");
                let end = s.len();
                match damage {
                    Damage::None => {}
                    Damage::SetLen(len) => {
                        s[start + 1..start + 3].copy_from_slice(&len.to_be_bytes())
                    }
                    Damage::ZeroLen => s[start + 1..start + 3].copy_from_slice(&[0, 0]),
                    Damage::FlipCrc(i, mask) => s[end - 5 + i] ^= mask,
                    Damage::ReplaceEtx(b) => s[end - 1] = b,
                    Damage::Cut(at) => s.truncate(start + at.index(end - start)),
                }
            }
            for e in edits {
                let n = s.len() + 1;
                match e {
                    Edit::Flip(at, mask) => {
                        if let Some(b) = s.get_mut(at.index(n)) {
                            *b ^= mask;
                        }
                    }
                    Edit::Truncate(at) => s.truncate(at.index(n)),
                    Edit::Insert(at, bytes) => {
                        let i = at.index(n);
                        s.splice(i..i, bytes);
                    }
                    Edit::Remove(at, len) => {
                        let i = at.index(n);
                        let end = (i + len).min(s.len());
                        s.drain(i..end);
                    }
                }
            }
            (max, s)
        })
}

// ---------------------------------------------------------------- helpers

/// The payloads of all frames in `bytes`; panics on any framing error.
fn frames(bytes: &[u8], max_payload: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    FrameDecoder::new(max_payload).decode_all(bytes, |e| match e {
        Event::Frame(p) => out.push(p.to_vec()),
        Event::Error(k) => panic!("framing error {k}"),
    });
    out
}

/// The one frame in `bytes`, and checks it is `encode_frame(payload)`.
fn only_frame(bytes: &[u8]) -> Vec<u8> {
    let mut fs = frames(bytes, 65535);
    assert_eq!(fs.len(), 1, "one frame expected");
    let payload = fs.remove(0);
    let mut expected = Vec::new();
    encode_frame(&mut expected, &payload).unwrap();
    assert_eq!(expected, bytes);
    payload
}

// ---------------------------------------------------------------- properties

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn frame_round_trip(
        payload in proptest::collection::vec(stream_byte(), 1..2000),
        extra in prop_oneof![Just(0usize), 0usize..100],
        plan in chunk_plan(),
    ) {
        let max = (payload.len() + extra).min(65535);
        let mut out = Vec::new();
        encode_frame(&mut out, &payload).unwrap();
        prop_assert_eq!(out.len(), payload.len() + FRAME_OVERHEAD);
        prop_assert_eq!(frames(&out, max), vec![payload.clone()]);
        let mut dec = FrameDecoder::new(max);
        let mut got = Vec::new();
        for b in &out {
            dec.decode_all(std::slice::from_ref(b), |e| match e {
                Event::Frame(p) => got.push(p.to_vec()),
                Event::Error(k) => panic!("{k}"),
            });
            prop_assert!(dec.buffered() <= max + FRAME_OVERHEAD);
        }
        prop_assert_eq!(got, vec![payload]);
        prop_assert_eq!(dec.buffered(), 0);
        let events = frame_check::check_stream(&out, max, &plan);
        prop_assert_eq!(events.len(), 1);
    }

    #[test]
    fn client_messages_round_trip(m in client()) {
        let msg = m.msg();
        let mut framed = Vec::new();
        msg.encode(&mut framed, 65535).unwrap();
        let payload = only_frame(&framed);
        let mut bare = Vec::new();
        msg.encode_payload(&mut bare).unwrap();
        prop_assert_eq!(&bare, &payload);
        prop_assert_eq!(ClientMessage::decode(&payload), Ok(msg));
        message_check::check_payload(&payload);
    }

    #[test]
    fn server_messages_round_trip(m in server()) {
        m.with_msg(|msg| {
            let mut framed = Vec::new();
            msg.encode(&mut framed, 65535).unwrap();
            let payload = only_frame(&framed);
            let mut bare = Vec::new();
            msg.encode_payload(&mut bare).unwrap();
            assert_eq!(bare, payload);
            assert_eq!(ServerMessage::decode(&payload), Ok(msg));
            message_check::check_payload(&payload);
        });
    }

    #[test]
    fn arbitrary_streams_decode_per_spec_in_any_chunking(
        stream in proptest::collection::vec(stream_byte(), 0..600),
        max in max_payload(),
        plan in chunk_plan(),
    ) {
        frame_check::check_stream(&stream, max, &plan);
        frame_check::check_stream(&stream, max, &[]);
    }

    #[test]
    fn damaged_streams_decode_per_spec_in_any_chunking(
        (max, stream) in damaged_stream(),
        plan in chunk_plan(),
    ) {
        frame_check::check_stream(&stream, max, &plan);
        frame_check::check_stream(&stream, max, &[]);
    }

    #[test]
    fn arbitrary_payloads_that_decode_re_encode_exactly(
        payload in proptest::collection::vec(any::<u8>(), 0..64),
        ty in prop_oneof![0x01u8..=0x08, 0x81u8..=0x88, any::<u8>()],
    ) {
        let mut p = payload;
        if let Some(first) = p.first_mut() {
            *first = ty;
        }
        message_check::check_payload(&p);
    }

    #[test]
    fn mutated_valid_payloads_re_encode_exactly(
        m in prop_oneof![
            client().prop_map(|c| { let mut p = Vec::new(); c.msg().encode_payload(&mut p).unwrap(); p }),
            server().prop_map(|s| s.with_msg(|m| { let mut p = Vec::new(); m.encode_payload(&mut p).unwrap(); p })),
        ],
        at in any::<Index>(),
        how in 0u8..4,
        byte in any::<u8>(),
    ) {
        let mut p = m;
        let i = at.index(p.len());
        match how {
            0 => p[i] ^= byte | 1,
            1 => p.truncate(i),
            2 => p.insert(i, byte),
            _ => p.push(byte),
        }
        message_check::check_payload(&p);
    }

    #[test]
    fn members_split_fits_and_carries_every_nick_once(
        room in room(),
        nicks in proptest::collection::vec(nick(), 0..400),
        extra in 0usize..4000,
    ) {
        let header = 1 + 1 + room.len() + 1 + 2;
        let max = (header + 1 + MAX_NICK_LEN + extra).min(65535);
        let mut out = Vec::new();
        encode_members(&mut out, max, &room, nicks.iter().map(String::as_str)).unwrap();
        let fs = frames(&out, max);
        prop_assert!(!fs.is_empty());
        let mut seen: Vec<String> = Vec::new();
        for (i, f) in fs.iter().enumerate() {
            prop_assert!(f.len() <= max);
            match ServerMessage::decode(f).unwrap() {
                ServerMessage::Members { room: r, flags, nicks: list } => {
                    prop_assert_eq!(r, room.as_str());
                    let last = i + 1 == fs.len();
                    prop_assert_eq!(flags, if last { 0 } else { FLAG_MORE });
                    prop_assert!(!list.is_empty() || nicks.is_empty());
                    seen.extend(list.iter().map(str::to_owned));
                }
                other => prop_assert!(false, "not MEMBERS: {:?}", other),
            }
        }
        if nicks.is_empty() {
            prop_assert_eq!(fs.len(), 1);
        }
        let mut want = nicks.clone();
        want.sort();
        seen.sort();
        prop_assert_eq!(seen, want);
    }
}
