//! The LIST request's answer (0xC2): one page of connections in one state,
//! split to fit the frame (`docs/ADMIN.md`).

use serde::{Deserialize, Serialize};

use crate::admin::proto::event::{put_addr, read_addr};
use crate::admin::proto::{
    ADMIN_MAX_PAYLOAD, admin_type, state_byte, state_from_byte, truncate_str,
};
use crate::codec::frame::{begin_frame, end_frame};
use crate::codec::wire::{Reader, put_str8, put_u16, put_u64};
use crate::codec::{EncodeError, MessageError};
use crate::core::observe::{ConnInfo, ConnState};

/// One LIST answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListPage {
    /// The state every entry is in.
    pub state: ConnState,
    /// More connections follow: ask again with `after_id = next_after`.
    pub more: bool,
    /// The cursor for the next page: the last entry's id, or the request's
    /// `after_id` when the page is empty.
    pub next_after: u64,
    /// The connections, in increasing id order.
    pub entries: Vec<ConnInfo>,
    /// Ids of entries whose room list was cut to fit the frame.
    pub rooms_truncated: Vec<u64>,
}

/// Bytes of a LIST page header: type, state, flags, next_after, count.
const LIST_HEADER: usize = 1 + 1 + 1 + 8 + 2;

/// Bytes of an entry without its nick and rooms (IPv6 address, the worst case).
const ENTRY_FIXED: usize = 8 + 19 + 1 + 1 + 8 * 5 + 2;

/// The smallest `max_payload` a LIST page can be encoded with: one entry
/// with the longest nick and no rooms.
pub const MIN_LIST_PAYLOAD: usize = LIST_HEADER + ENTRY_FIXED + 255;

/// Entry flag: the room list was cut to fit the frame.
const ENTRY_ROOMS_TRUNCATED: u8 = 1;

/// Page flag: more connections follow.
const PAGE_MORE: u8 = 1;

/// Appends one LIST page frame with as many of `entries` as fit in
/// `max_payload` (at least one, cutting its room list if it must).
///
/// `after_id` is the request's cursor and `source_more` whether the source
/// had more connections beyond `entries`. Returns how many entries were
/// encoded; the page says `more` when either entries were left out or the
/// source had more.
pub fn encode_list_page(
    out: &mut Vec<u8>,
    state: ConnState,
    after_id: u64,
    entries: &[ConnInfo],
    source_more: bool,
    max_payload: usize,
) -> Result<usize, EncodeError> {
    let max_payload = max_payload.min(ADMIN_MAX_PAYLOAD);
    if max_payload < MIN_LIST_PAYLOAD {
        return Err(EncodeError::Frame(crate::codec::FrameTooLong {
            len: MIN_LIST_PAYLOAD,
            max: max_payload,
        }));
    }
    let start = begin_frame(out);
    let payload_start = out.len();
    out.push(admin_type::LIST_PAGE);
    out.push(state_byte(state));
    let flags_at = out.len();
    out.push(0);
    let next_at = out.len();
    put_u64(out, after_id);
    let count_at = out.len();
    put_u16(out, 0);
    let mut count = 0usize;
    let mut last_id = after_id;
    for info in entries {
        if count == usize::from(u16::MAX) {
            break;
        }
        let entry_start = out.len();
        let room = max_payload - (entry_start - payload_start);
        if !put_entry(out, info, room, count == 0) {
            out.truncate(entry_start);
            break;
        }
        count += 1;
        last_id = info.id;
    }
    let more = source_more || count < entries.len();
    out[flags_at] = if more { PAGE_MORE } else { 0 };
    out[next_at..next_at + 8].copy_from_slice(&last_id.to_be_bytes());
    out[count_at..count_at + 2].copy_from_slice(&(count as u16).to_be_bytes());
    end_frame(out, start, max_payload)?;
    Ok(count)
}

/// Appends one entry if it fits in `room` bytes; the first entry of a page
/// (`must_fit`) has its room list cut instead. Returns whether it was written.
fn put_entry(out: &mut Vec<u8>, info: &ConnInfo, room: usize, must_fit: bool) -> bool {
    let start = out.len();
    put_u64(out, info.id);
    put_addr(out, &info.peer);
    let _ = put_str8(out, truncate_str(info.nick.as_deref().unwrap_or(""), 255));
    let flags_at = out.len();
    out.push(0);
    put_u64(out, info.accepted_ms);
    put_u64(out, info.connected_ms.unwrap_or(0));
    put_u64(out, info.bytes_in);
    put_u64(out, info.bytes_out);
    put_u64(out, info.queued);
    let count_at = out.len();
    put_u16(out, 0);
    if out.len() - start > room {
        return false;
    }
    let mut n = 0u16;
    let mut truncated = false;
    for r in &info.rooms {
        let r = truncate_str(r, 255);
        if n == u16::MAX || out.len() - start + 1 + r.len() > room {
            truncated = true;
            break;
        }
        let _ = put_str8(out, r);
        n += 1;
    }
    if truncated && !must_fit {
        return false;
    }
    if truncated {
        out[flags_at] |= ENTRY_ROOMS_TRUNCATED;
    }
    out[count_at..count_at + 2].copy_from_slice(&n.to_be_bytes());
    true
}

fn read_entry(r: &mut Reader<'_>, state: ConnState) -> Result<(ConnInfo, bool), MessageError> {
    let id = r.u64()?;
    let peer = read_addr(r)?;
    let nick = r.str8()?;
    let flags = r.u8()?;
    let accepted_ms = r.u64()?;
    let connected_ms = r.u64()?;
    let bytes_in = r.u64()?;
    let bytes_out = r.u64()?;
    let queued = r.u64()?;
    let n = r.u16()?;
    let mut rooms = Vec::with_capacity(usize::from(n).min(256));
    for _ in 0..n {
        rooms.push(r.str8()?.to_owned());
    }
    let info = ConnInfo {
        id,
        peer,
        nick: (!nick.is_empty()).then(|| nick.to_owned()),
        state,
        rooms,
        accepted_ms,
        connected_ms: (connected_ms != 0).then_some(connected_ms),
        bytes_in,
        bytes_out,
        queued,
    };
    Ok((info, flags & ENTRY_ROOMS_TRUNCATED != 0))
}

/// Decodes a LIST answer's body (after the type byte).
pub fn decode_list_page(r: &mut Reader<'_>) -> Result<ListPage, MessageError> {
    let state = state_from_byte(r.u8()?).ok_or(MessageError::Malformed)?;
    let flags = r.u8()?;
    let next_after = r.u64()?;
    let n = r.u16()?;
    let mut entries = Vec::with_capacity(usize::from(n).min(1024));
    let mut rooms_truncated = Vec::new();
    for _ in 0..n {
        let (info, cut) = read_entry(r, state)?;
        if cut {
            rooms_truncated.push(info.id);
        }
        entries.push(info);
    }
    Ok(ListPage {
        state,
        more: flags & PAGE_MORE != 0,
        next_after,
        entries,
        rooms_truncated,
    })
}
