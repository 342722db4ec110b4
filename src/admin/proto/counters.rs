//! The COUNTERS answer (0xC1): the engine's totals and gauges, the error
//! counts by code and the last second's rates, as `u64` fields in a fixed
//! order (`docs/ADMIN.md`).

use serde::{Deserialize, Serialize};

use crate::admin::proto::ADMIN_MAX_PAYLOAD;
use crate::admin::proto::admin_type;
use crate::admin::rates::Rates;
use crate::codec::MessageError;
use crate::codec::frame::{begin_frame, end_frame};
use crate::codec::wire::{Reader, put_u64};
use crate::core::observe::Counters;

/// What COUNTERS returns: the engine's counters and the rates the server
/// computed over its last whole second.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Totals and gauges.
    pub counters: Counters,
    /// Per-second rates.
    pub rates: Rates,
}

/// The counter fields of a snapshot, in wire order.
fn counter_fields(c: &Counters) -> [u64; 14] {
    [
        c.uptime_ms,
        c.waiting,
        c.connected,
        c.closing,
        c.rooms,
        c.accepted,
        c.rejected_full,
        c.frames_in,
        c.frames_out,
        c.bytes_in,
        c.bytes_out,
        c.messages,
        c.privates,
        c.slow_consumers,
    ]
}

/// The rate fields of a snapshot, in wire order.
fn rate_fields(r: &Rates) -> [u64; 8] {
    [
        r.interval_ms,
        r.accepted,
        r.frames_in,
        r.frames_out,
        r.bytes_in,
        r.bytes_out,
        r.messages,
        r.privates,
    ]
}

/// Appends a COUNTERS snapshot frame.
pub fn encode_snapshot(out: &mut Vec<u8>, snap: &Snapshot) {
    let start = begin_frame(out);
    out.push(admin_type::COUNTERS_SNAPSHOT);
    for v in counter_fields(&snap.counters) {
        put_u64(out, v);
    }
    // errors[0] is unused; codes 1..=n follow (at most 255 of them).
    let codes = snap.counters.errors.get(1..).unwrap_or(&[]);
    let codes = &codes[..codes.len().min(255)];
    out.push(codes.len() as u8);
    for &v in codes {
        put_u64(out, v);
    }
    for v in rate_fields(&snap.rates) {
        put_u64(out, v);
    }
    // At most 1 + 14*8 + 1 + 255*8 + 8*8 bytes: always fits.
    let _ = end_frame(out, start, ADMIN_MAX_PAYLOAD);
}

/// Decodes a COUNTERS answer's body (after the type byte).
pub fn decode_snapshot(r: &mut Reader<'_>) -> Result<Snapshot, MessageError> {
    let mut f = [0u64; 14];
    for v in &mut f {
        *v = r.u64()?;
    }
    let n = r.u8()?;
    let mut errors = Vec::with_capacity(usize::from(n) + 1);
    if n > 0 {
        errors.push(0);
        for _ in 0..n {
            errors.push(r.u64()?);
        }
    }
    let mut q = [0u64; 8];
    for v in &mut q {
        *v = r.u64()?;
    }
    Ok(Snapshot {
        counters: Counters {
            uptime_ms: f[0],
            waiting: f[1],
            connected: f[2],
            closing: f[3],
            rooms: f[4],
            accepted: f[5],
            rejected_full: f[6],
            frames_in: f[7],
            frames_out: f[8],
            bytes_in: f[9],
            bytes_out: f[10],
            messages: f[11],
            privates: f[12],
            slow_consumers: f[13],
            // Not carried by the admin channel (its wire
            // format is fixed); exported on /metrics.
            transport_errors: 0,
            errors,
        },
        rates: Rates {
            interval_ms: q[0],
            accepted: q[1],
            frames_in: q[2],
            frames_out: q[3],
            bytes_in: q[4],
            bytes_out: q[5],
            messages: q[6],
            privates: q[7],
        },
    })
}
