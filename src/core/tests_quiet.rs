//! Engine tests of protocol version 2: versions, quiet rooms (PROTOCOL.md
//! section 5) and the operator's room listing. Plain calls, the clock passed in.

use crate::codec::ClientMessage;
use crate::core::config::CoreConfig;
use crate::core::observe::RoomInfo;
use crate::core::tests::{Harness, cfg};

fn no_default_room() -> CoreConfig {
    CoreConfig {
        default_room: None,
        ..cfg()
    }
}

#[test]
fn rooms_by_size_lists_the_largest_first_bounded_by_the_limit() {
    let mut h = Harness::new(no_default_room());
    let names = ["a", "b", "c", "d"];
    for (i, room) in names.iter().enumerate() {
        for j in 0..=i {
            let id = h.hello(&format!("{room}{j}"));
            h.send(id, ClientMessage::Join { room });
        }
    }
    let s = h.e.rooms_by_size(2);
    assert_eq!(s.rooms, 4);
    assert_eq!(s.quiet, 0);
    let info = |name: &str, members| RoomInfo {
        name: name.into(),
        members,
        quiet: false,
    };
    assert_eq!(s.largest, vec![info("d", 4), info("c", 3)]);
    assert_eq!(h.e.rooms_by_size(10).largest.len(), 4);
    assert!(h.e.rooms_by_size(0).largest.is_empty());
    assert_eq!(h.e.rooms_by_size(0).rooms, 4);
}
