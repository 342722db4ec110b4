//! The EVENT push (0xC3): one connection state change, sent to subscribed
//! sessions (`docs/ADMIN.md`); and the socket-address field that events and
//! LIST entries share.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::admin::proto::{ADMIN_MAX_PAYLOAD, admin_type, truncate_str};
use crate::codec::MessageError;
use crate::codec::frame::{begin_frame, end_frame};
use crate::codec::wire::{Reader, put_str8, put_u16, put_u64};
use crate::core::observe::{CloseReason, ConnChange, ConnEvent};

pub(super) fn put_addr(out: &mut Vec<u8>, addr: &SocketAddr) {
    match addr.ip() {
        IpAddr::V4(ip) => {
            out.push(4);
            out.extend_from_slice(&ip.octets());
        }
        IpAddr::V6(ip) => {
            out.push(6);
            out.extend_from_slice(&ip.octets());
        }
    }
    put_u16(out, addr.port());
}

pub(super) fn read_addr(r: &mut Reader<'_>) -> Result<SocketAddr, MessageError> {
    let ip = match r.u8()? {
        4 => {
            let b: [u8; 4] = r
                .bytes(4)?
                .try_into()
                .map_err(|_| MessageError::Malformed)?;
            IpAddr::V4(Ipv4Addr::from(b))
        }
        6 => {
            let b: [u8; 16] = r
                .bytes(16)?
                .try_into()
                .map_err(|_| MessageError::Malformed)?;
            IpAddr::V6(Ipv6Addr::from(b))
        }
        _ => return Err(MessageError::Malformed),
    };
    Ok(SocketAddr::new(ip, r.u16()?))
}

/// Appends an EVENT frame.
pub fn encode_event(out: &mut Vec<u8>, ev: &ConnEvent) {
    let start = begin_frame(out);
    out.push(admin_type::EVENT);
    put_u64(out, ev.id);
    put_u64(out, ev.time_ms);
    put_addr(out, &ev.peer);
    let _ = put_str8(out, truncate_str(ev.nick.as_deref().unwrap_or(""), 255));
    let (change, code) = match ev.change {
        ConnChange::Accepted => (0u8, 0u16),
        ConnChange::Registered => (1, 0),
        ConnChange::Closed(CloseReason::Bye) => (2, 0),
        ConnChange::Closed(CloseReason::PeerClosed) => (3, 0),
        ConnChange::Closed(CloseReason::Error(c)) => (4, c),
    };
    out.push(change);
    put_u16(out, code);
    // Fixed fields plus a str8: always fits.
    let _ = end_frame(out, start, ADMIN_MAX_PAYLOAD);
}

/// Decodes an EVENT's body (after the type byte).
pub fn decode_event(r: &mut Reader<'_>) -> Result<ConnEvent, MessageError> {
    let id = r.u64()?;
    let time_ms = r.u64()?;
    let peer = read_addr(r)?;
    let nick = r.str8()?;
    let change = r.u8()?;
    let code = r.u16()?;
    let change = match change {
        0 => ConnChange::Accepted,
        1 => ConnChange::Registered,
        2 => ConnChange::Closed(CloseReason::Bye),
        3 => ConnChange::Closed(CloseReason::PeerClosed),
        4 => ConnChange::Closed(CloseReason::Error(code)),
        _ => return Err(MessageError::Malformed),
    };
    Ok(ConnEvent {
        id,
        peer,
        nick: (!nick.is_empty()).then(|| nick.to_owned()),
        change,
        time_ms,
    })
}
