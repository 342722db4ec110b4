//! Round trips, bounds and malformed payloads of the typed messages.

use super::*;
use crate::codec::decoder::{Event, FrameDecoder};

fn frames(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    FrameDecoder::new(65535).decode_all(bytes, |e| match e {
        Event::Frame(p) => out.push(p.to_vec()),
        Event::Error(k) => panic!("{k}"),
    });
    out
}

#[test]
fn hello_matches_vector() {
    let mut out = Vec::new();
    ClientMessage::Hello {
        version: 1,
        nick: "alice",
        token: "",
    }
    .encode(&mut out, 4096)
    .unwrap();
    assert_eq!(
        out,
        [
            0x02, 0x00, 0x09, 0x01, 0x01, 0x05, 0x61, 0x6c, 0x69, 0x63, 0x65, 0x00, 0x95, 0x24,
            0xb5, 0xfd, 0x03
        ]
    );
}

#[test]
fn unknown_and_malformed_are_told_apart() {
    assert_eq!(
        ClientMessage::decode(&[0x42]),
        Err(MessageError::UnknownType(0x42))
    );
    assert_eq!(
        ClientMessage::decode(&[0x82]),
        Err(MessageError::UnknownType(0x82))
    );
    assert_eq!(
        ClientMessage::decode(&[0x08, 0]),
        Err(MessageError::Malformed)
    );
    assert_eq!(
        ClientMessage::decode(&[0x02, 3, b'a']),
        Err(MessageError::Malformed)
    );
    assert_eq!(
        ClientMessage::decode(&[0x02, 1, 0xc3]),
        Err(MessageError::Malformed)
    );
    assert_eq!(
        ServerMessage::decode(&[0x01]),
        Err(MessageError::UnknownType(0x01))
    );
}

#[test]
fn members_split_over_frames() {
    let names: Vec<String> = (0..100).map(|i| format!("user{i:03}")).collect();
    let mut out = Vec::new();
    encode_members(&mut out, 64, "lobby", names.iter().map(String::as_str)).unwrap();
    let fs = frames(&out);
    assert!(fs.len() > 1);
    let mut seen = Vec::new();
    for (i, f) in fs.iter().enumerate() {
        assert!(f.len() <= 64);
        match ServerMessage::decode(f).unwrap() {
            ServerMessage::Members { room, flags, nicks } => {
                assert_eq!(room, "lobby");
                assert_eq!(flags == FLAG_MORE, i + 1 < fs.len());
                assert!(!nicks.is_empty());
                seen.extend(nicks.iter().map(str::to_owned));
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(seen, names);
}

#[test]
fn replay_marking_sets_the_flag_and_keeps_the_frame_valid() {
    let live = ServerMessage::Message {
        flags: 0,
        seq: 7,
        time_ms: 99,
        room: "lobby",
        from: "bob",
        text: "hi",
    };
    let mut frame = Vec::new();
    live.encode(&mut frame, 4096).unwrap();
    mark_replayed(&mut frame);
    let got = frames(&frame);
    let expected = ServerMessage::Message {
        flags: FLAG_REPLAYED,
        seq: 7,
        time_ms: 99,
        room: "lobby",
        from: "bob",
        text: "hi",
    };
    assert_eq!(ServerMessage::decode(&got[0]).unwrap(), expected);
}

#[test]
fn members_list_and_raw_encode_alike() {
    let list = ["a", "bb"];
    let m = ServerMessage::Members {
        room: "r",
        flags: 0,
        nicks: NickList::List(&list),
    };
    let mut p = Vec::new();
    m.encode_payload(&mut p).unwrap();
    let d = ServerMessage::decode(&p).unwrap();
    assert_eq!(d, m);
    let mut q = Vec::new();
    d.encode_payload(&mut q).unwrap();
    assert_eq!(p, q);
}

#[test]
fn room_matches_its_layout_and_round_trips() {
    let m = ServerMessage::Room {
        room: "lobby",
        flags: ROOM_QUIET,
        members: 19_342,
    };
    let mut p = Vec::new();
    m.encode_payload(&mut p).unwrap();
    assert_eq!(
        p,
        [0x89, 5, b'l', b'o', b'b', b'b', b'y', 1, 0, 0, 0x4b, 0x8e]
    );
    assert_eq!(ServerMessage::decode(&p), Ok(m));
    assert_eq!(m.type_byte(), msg_type::ROOM);
    // A byte short or one left over is malformed, not unknown.
    assert_eq!(
        ServerMessage::decode(&p[..p.len() - 1]),
        Err(MessageError::Malformed)
    );
    p.push(0);
    assert_eq!(ServerMessage::decode(&p), Err(MessageError::Malformed));
    assert_eq!(
        ClientMessage::decode(&[0x89]),
        Err(MessageError::UnknownType(0x89))
    );
}

#[test]
fn members_flag_bit_1_and_hello_version_2_decode() {
    let list = ["a"];
    for flags in [FLAG_PARTIAL, FLAG_PARTIAL | FLAG_MORE] {
        let m = ServerMessage::Members {
            room: "r",
            flags,
            nicks: NickList::List(&list),
        };
        let mut p = Vec::new();
        m.encode_payload(&mut p).unwrap();
        assert_eq!(ServerMessage::decode(&p), Ok(m));
    }
    let mut p = Vec::new();
    ClientMessage::Hello {
        version: 2,
        nick: "n",
        token: "",
    }
    .encode_payload(&mut p)
    .unwrap();
    assert!(matches!(
        ClientMessage::decode(&p),
        Ok(ClientMessage::Hello { version: 2, .. })
    ));
}

#[test]
fn partial_members_is_one_frame_bounded_by_limit_and_payload() {
    let names: Vec<String> = (0..300).map(|i| format!("user{i:03}")).collect();
    // By count.
    let mut out = Vec::new();
    let n = encode_partial_members(
        &mut out,
        4096,
        "lobby",
        FLAG_PARTIAL,
        100,
        names.iter().map(String::as_str),
    )
    .unwrap();
    assert_eq!(n, 100);
    let fs = frames(&out);
    assert_eq!(fs.len(), 1);
    match ServerMessage::decode(&fs[0]).unwrap() {
        ServerMessage::Members { flags, nicks, .. } => {
            assert_eq!(flags, FLAG_PARTIAL);
            let got: Vec<&str> = nicks.iter().collect();
            assert_eq!(
                got,
                names[..100].iter().map(String::as_str).collect::<Vec<_>>()
            );
        }
        other => panic!("{other:?}"),
    }
    // By payload: 64 bytes hold a header of 11 and 6 nicks of 8.
    let mut out = Vec::new();
    let n = encode_partial_members(
        &mut out,
        64,
        "lobby",
        FLAG_PARTIAL,
        100,
        names.iter().map(String::as_str),
    )
    .unwrap();
    assert_eq!(n, 6);
    assert!(frames(&out)[0].len() <= 64);
    // Nobody: a frame with count 0.
    let mut out = Vec::new();
    assert_eq!(
        encode_partial_members(&mut out, 64, "lobby", FLAG_PARTIAL, 100, []).unwrap(),
        0
    );
    assert_eq!(frames(&out).len(), 1);
}
