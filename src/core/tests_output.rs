//! Engine tests of the shared output path: a broadcast is staged once and
//! referred to by every member's queue; queues are gathered into bounded
//! slices, consumed at any byte, and pin a bounded number of chunks. Plain
//! calls, no sockets.

use std::io::IoSlice;

use crate::codec::ClientMessage;
use crate::core::chunks::CHUNK_SIZE;
use crate::core::config::CoreConfig;
use crate::core::outbuf::MAX_IOV;
use crate::core::session::ConnId;
use crate::core::tests::{Got, Harness, cfg};

fn quiet_cfg(max_outbuf: usize) -> CoreConfig {
    CoreConfig {
        default_room: None,
        history: 0,
        max_outbuf,
        ..cfg()
    }
}

fn say(h: &mut Harness, id: ConnId, room: &str, text: &str) {
    h.send(id, ClientMessage::Say { room, text });
}

fn member(h: &mut Harness, nick: &str, rooms: &[&str]) -> ConnId {
    let id = h.hello(nick);
    for room in rooms {
        h.send(id, ClientMessage::Join { room });
    }
    h.recv(id);
    id
}

fn texts(got: &[Got]) -> Vec<String> {
    got.iter()
        .map(|g| match g {
            Got::Message { text, .. } => text.clone(),
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

#[test]
fn a_broadcast_is_staged_once_and_every_member_refers_to_it() {
    let mut h = Harness::new(quiet_cfg(1 << 20));
    let ids: Vec<ConnId> = (0..100)
        .map(|i| member(&mut h, &format!("m{i}"), &["room"]))
        .collect();
    for &id in &ids {
        h.recv(id);
    }
    let chunks_before = h.e.outbox.store.chunks().chunks();
    say(&mut h, ids[0], "room", "hello");
    assert_eq!(
        h.e.outbox.store.chunks().chunks(),
        chunks_before,
        "no copy, no new chunk"
    );
    let chunk = h.e.sessions[ids[0]].out.pieces();
    assert_eq!(chunk, 1);
    let open = (0..8u32)
        .find(|&c| h.e.outbox.store.chunks().refs(c) == Some(100))
        .expect("one chunk referred to by all 100 members");
    for &id in &ids {
        assert_eq!(h.e.sessions[id].out.pieces(), 1);
        assert_eq!(texts(&h.recv(id)), ["hello"]);
        assert_eq!(
            h.e.sessions[id].out.pieces(),
            0,
            "an idle queue holds nothing"
        );
    }
    assert_eq!(h.e.outbox.store.chunks().refs(open), Some(0));
}

#[test]
fn output_is_gathered_into_bounded_slices_and_consumed_at_any_byte() {
    let mut h = Harness::new(quiet_cfg(1 << 20));
    let rooms: Vec<String> = (0..4).map(|r| format!("r{r}")).collect();
    let all: Vec<&str> = rooms.iter().map(String::as_str).collect();
    let publisher = member(&mut h, "pub", &all);
    let reader = member(&mut h, "reader", &["r0"]);
    // Interleaved rooms: the reader's 200 frames are not contiguous.
    for n in 0..200 {
        for room in &rooms {
            say(&mut h, publisher, room, &format!("{n}"));
        }
    }
    h.recv(publisher);
    assert_eq!(h.e.sessions[reader].out.pieces(), 200);
    let want = h.e.queued_copy(reader).unwrap();
    let mut got = Vec::new();
    let mut step = 1;
    loop {
        let mut iov = [IoSlice::new(&[]); MAX_IOV];
        let Some(((), g)) = h.e.output(reader, &mut iov) else {
            panic!("open")
        };
        if g.queued == 0 {
            break;
        }
        assert!(g.slices <= MAX_IOV);
        assert!(g.bytes <= g.queued);
        // Take an odd number of bytes: pieces are cut anywhere.
        let take = (step * 37).min(g.bytes);
        let mut left = take;
        for s in &iov[..g.slices] {
            let n = left.min(s.len());
            got.extend_from_slice(&s[..n]);
            left -= n;
        }
        h.e.consumed(reader, take);
        step += 1;
    }
    assert_eq!(got, want, "every byte once, in order");
    assert_eq!(h.e.session(reader).unwrap().queued(), 0);
}

#[test]
fn a_slow_member_of_one_of_many_busy_rooms_pins_a_bounded_number_of_chunks() {
    let limit = 1 << 20;
    let mut h = Harness::new(quiet_cfg(limit));
    let rooms: Vec<String> = (0..16).map(|r| format!("r{r}")).collect();
    let all: Vec<&str> = rooms.iter().map(String::as_str).collect();
    let publisher = member(&mut h, "pub", &all);
    let slow = member(&mut h, "slow", &["r0"]);
    let pad = "x".repeat(900);
    // The slow member gets one frame in 16, and never reads.
    for n in 0..800 {
        for room in &rooms {
            say(&mut h, publisher, room, &format!("{n}:{pad}"));
        }
        h.recv(publisher);
    }
    let queued = h.e.session(slow).unwrap().queued();
    assert!(queued > 700 * 900 && queued < limit, "{queued}");
    // The traffic spanned about 190 chunks; the slow queue refers to at
    // most `max_shared` of them, the rest being copies of its own.
    let max_shared = h.e.outbox.store.max_shared() as usize;
    let own = queued.div_ceil(CHUNK_SIZE) + 1;
    let held = h.e.outbox.store.chunks().chunks();
    assert!(
        held <= max_shared + own + 1,
        "{held} chunks held, max_shared {max_shared}, own {own}"
    );
    let got = texts(&h.recv(slow));
    let want: Vec<String> = (0..800).map(|n| format!("{n}:{pad}")).collect();
    assert_eq!(got, want);
    assert!(
        h.e.outbox.store.chunks().chunks() <= 1,
        "only the open chunk is left"
    );
}

#[test]
fn a_member_over_its_limit_is_a_slow_consumer_counted_in_bytes_referred_to() {
    // The smallest limit allowed for history 0 and the default payload:
    // two ~3 KiB MESSAGEs fit, a third does not.
    let limit = 2 * (4096 + 8);
    let mut h = Harness::new(quiet_cfg(limit));
    let publisher = member(&mut h, "pub", &["r"]);
    let slow = member(&mut h, "slow", &["r"]);
    let text = "y".repeat(3000);
    let mut sent = 0;
    while h.closes().is_empty() {
        say(&mut h, publisher, "r", &text);
        h.recv(publisher);
        sent += 1;
        assert!(sent < 10, "never dropped");
    }
    assert_eq!(sent, 3);
    // Whole frames, then the ERROR slow_consumer last.
    let got = h.recv(slow);
    let (last, frames) = got.split_last().unwrap();
    assert_eq!(
        *last,
        Got::Error(crate::codec::ErrorCode::SlowConsumer.as_u16())
    );
    assert_eq!(texts(frames), [text.clone(), text]);
}
