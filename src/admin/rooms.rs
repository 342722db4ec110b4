//! The admin channel's room listing (ROOMS request 0x46, ROOMS answer
//! 0xC6, documented in `docs/ADMIN.md`): the largest rooms with their
//! member counts and whether they are quiet (protocol version 2), plus the
//! number of rooms and of quiet rooms.
//!
//! Answer layout: `u64 rooms, u64 quiet_rooms, u8 flags (bit 0: more rooms
//! exist than listed), u16 count, count x (str8 name, u32 members, u8 flags
//! (bit 0: quiet))`, largest room first.

use serde::{Deserialize, Serialize};

use crate::admin::proto::{ADMIN_MAX_PAYLOAD, admin_type, truncate_str};
use crate::codec::frame::{begin_frame, end_frame};
use crate::codec::wire::{Reader, put_str8, put_u16, put_u64};
use crate::codec::{MAX_ROOM_LEN, MessageError};
use crate::core::observe::{RoomInfo, RoomSummary};

/// The most rooms one ROOMS request returns (larger limits are lowered).
pub const MAX_ROOMS_LIMIT: u16 = 500;

/// Bytes of the answer's fixed part: type, two counts, flags, count.
const HEADER: usize = 1 + 8 + 8 + 1 + 2;

/// Bytes of one entry besides its name's bytes.
const ENTRY_FIXED: usize = 1 + 4 + 1;

// The longest page (every name as long as a room name can be) fits a frame.
const _: () =
    assert!(HEADER + MAX_ROOMS_LIMIT as usize * (ENTRY_FIXED + MAX_ROOM_LEN) <= ADMIN_MAX_PAYLOAD);

/// Page flag: more rooms exist than listed.
const PAGE_MORE: u8 = 1;

/// Entry flag: the room is quiet.
const ROOM_QUIET: u8 = 1;

/// A ROOMS answer: the largest rooms, and totals over every room.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomsPage {
    /// Rooms that exist.
    pub rooms: u64,
    /// Of those, rooms that are quiet.
    pub quiet_rooms: u64,
    /// More rooms exist than `entries` lists.
    pub more: bool,
    /// The largest rooms, largest first.
    pub entries: Vec<RoomInfo>,
}

impl RoomsPage {
    /// The answer for an engine summary of the `limit` largest rooms.
    pub fn from_summary(s: RoomSummary) -> RoomsPage {
        RoomsPage {
            rooms: s.rooms,
            quiet_rooms: s.quiet,
            more: s.rooms > s.largest.len() as u64,
            entries: s.largest,
        }
    }
}

/// Appends a ROOMS answer frame. Entries beyond [`MAX_ROOMS_LIMIT`] are
/// left out (and `more` set); names are cut to [`MAX_ROOM_LEN`] bytes, the
/// longest a room name can be.
pub fn encode_rooms(out: &mut Vec<u8>, page: &RoomsPage) {
    let start = begin_frame(out);
    out.push(admin_type::ROOMS_PAGE);
    put_u64(out, page.rooms);
    put_u64(out, page.quiet_rooms);
    let shown = &page.entries[..page.entries.len().min(usize::from(MAX_ROOMS_LIMIT))];
    let more = page.more || shown.len() < page.entries.len();
    out.push(if more { PAGE_MORE } else { 0 });
    put_u16(out, shown.len() as u16);
    for e in shown {
        // At most MAX_ROOM_LEN bytes: fits a str8.
        let _ = put_str8(out, truncate_str(&e.name, MAX_ROOM_LEN));
        out.extend_from_slice(&u32::try_from(e.members).unwrap_or(u32::MAX).to_be_bytes());
        out.push(if e.quiet { ROOM_QUIET } else { 0 });
    }
    // Bounded by the assertion above: always fits.
    let _ = end_frame(out, start, ADMIN_MAX_PAYLOAD);
}

/// Decodes a ROOMS answer's body (after the type byte).
pub fn decode_rooms(r: &mut Reader<'_>) -> Result<RoomsPage, MessageError> {
    let rooms = r.u64()?;
    let quiet_rooms = r.u64()?;
    let flags = r.u8()?;
    let n = r.u16()?;
    let mut entries = Vec::with_capacity(usize::from(n.min(MAX_ROOMS_LIMIT)));
    for _ in 0..n {
        let name = r.str8()?.to_owned();
        let b = r.bytes(4)?;
        let members = u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        let quiet = r.u8()? & ROOM_QUIET != 0;
        entries.push(RoomInfo {
            name,
            members,
            quiet,
        });
    }
    Ok(RoomsPage {
        rooms,
        quiet_rooms,
        more: flags & PAGE_MORE != 0,
        entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::proto::AdminResponse;
    use crate::codec::{Event, FrameDecoder};

    fn decode_one(bytes: &[u8]) -> AdminResponse {
        let mut got = Vec::new();
        FrameDecoder::new(ADMIN_MAX_PAYLOAD).decode_all(bytes, |e| match e {
            Event::Frame(p) => got.push(AdminResponse::decode(p).unwrap()),
            Event::Error(e) => panic!("framing error {e}"),
        });
        assert_eq!(got.len(), 1);
        got.remove(0)
    }

    fn entry(name: &str, members: u64, quiet: bool) -> RoomInfo {
        RoomInfo {
            name: name.into(),
            members,
            quiet,
        }
    }

    #[test]
    fn a_page_round_trips() {
        let page = RoomsPage {
            rooms: 3,
            quiet_rooms: 1,
            more: true,
            entries: vec![entry("lobby", 19_342, true), entry("dev", 12, false)],
        };
        let mut out = Vec::new();
        encode_rooms(&mut out, &page);
        assert_eq!(decode_one(&out), AdminResponse::Rooms(page.clone()));
        let mut again = Vec::new();
        AdminResponse::Rooms(page).encode(&mut again).unwrap();
        assert_eq!(again, out);
    }

    #[test]
    fn an_empty_page_and_the_byte_layout() {
        let mut out = Vec::new();
        encode_rooms(&mut out, &RoomsPage::default());
        // STX, LEN = 20, type, 8 + 8 zero bytes, flags, count, CRC, ETX.
        assert_eq!(&out[..4], &[0x02, 0x00, 20, admin_type::ROOMS_PAGE]);
        assert!(out[4..23].iter().all(|&b| b == 0));
        assert_eq!(out.len(), 3 + 20 + 5);
        let mut out = Vec::new();
        encode_rooms(
            &mut out,
            &RoomsPage {
                rooms: 1,
                quiet_rooms: 0,
                more: false,
                entries: vec![entry("ab", 258, true)],
            },
        );
        assert_eq!(
            &out[3 + 17..out.len() - 5],
            &[0, 0, 1, 2, b'a', b'b', 0, 0, 1, 2, 1]
        );
    }

    #[test]
    fn overlong_pages_are_cut_to_the_limit_and_say_more() {
        let long = "r".repeat(300);
        let page = RoomsPage {
            rooms: 600,
            quiet_rooms: 0,
            more: false,
            entries: (0..600)
                .map(|i| entry(&format!("{long}{i}"), u64::from(u32::MAX) + 1, false))
                .collect(),
        };
        let mut out = Vec::new();
        encode_rooms(&mut out, &page);
        let AdminResponse::Rooms(got) = decode_one(&out) else {
            panic!("not a ROOMS answer");
        };
        assert!(got.more);
        assert_eq!(got.entries.len(), usize::from(MAX_ROOMS_LIMIT));
        assert!(got.entries.iter().all(|e| e.name.len() == MAX_ROOM_LEN));
        assert!(got.entries.iter().all(|e| e.members == u64::from(u32::MAX)));
    }

    #[test]
    fn truncated_answers_are_malformed() {
        let mut out = Vec::new();
        encode_rooms(
            &mut out,
            &RoomsPage {
                rooms: 1,
                quiet_rooms: 1,
                more: false,
                entries: vec![entry("lobby", 5, true)],
            },
        );
        let payload = &out[3..out.len() - 5];
        for cut in 1..payload.len() {
            assert!(AdminResponse::decode(&payload[..cut]).is_err(), "cut {cut}");
        }
    }
}
