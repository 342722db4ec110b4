//! One bench connection: its handshake state, decoder, output buffer and
//! counters, and what it does with each frame the server sends.
//!
//! Connections speak protocol version 2 unless the run asks for 1 (see
//! [`RunConfig::version`]); presence frames (JOINED, LEFT, MEMBERS) and
//! ROOM summaries are counted, since they are what quiet rooms change.
//!
//! Frames are decoded in place by the codec's [`FrameDecoder`] from the
//! worker's read buffer. A live MESSAGE is parsed with the codec's wire
//! reader without UTF-8 validation (the text is only inspected for its ASCII
//! stamp); everything else goes through [`ServerMessage::decode`].

use std::io;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::bench::payload;
use crate::bench::shared::{Role, RunConfig, ServerInfo, Shared};
use crate::bench::transport::Transport;
use crate::codec::wire::Reader;
use crate::codec::{
    ClientMessage, ErrorCode, FLAG_REPLAYED, FrameDecoder, LeftReason, ServerMessage, msg_type,
};

/// PING token of the `connect` probe (keepalive PINGs use 0).
pub const PROBE_TOKEN: u64 = 0x0070_726f_6265;
/// Payload limit assumed before WELCOME (PROTOCOL.md section 1).
const INITIAL_MAX_PAYLOAD: usize = 4096;

/// Where a connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// TCP connect in progress.
    Connecting,
    /// HELLO (and JOIN) sent; waiting for WELCOME (and JOINED).
    Handshake,
    /// Registered and, if it has a room, in it.
    Ready,
    /// Closed (or never opened).
    Closed,
}

/// What a connection plans to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnPlan {
    /// Run-wide index (nick suffix, stamp publisher id, source address choice).
    pub id: u32,
    /// Its role.
    pub role: Role,
    /// Index into [`RunConfig::rooms`] of the room it joins, if any.
    pub room: Option<u32>,
    /// Index into [`RunConfig::addrs`] of the server it connects to.
    pub node: u16,
}

/// Counts a worker accumulates between two flushes to [`Shared`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    /// Deliveries (all phases).
    pub delivered: u64,
    /// Deliveries of measured messages.
    pub delivered_measured: u64,
    /// Change of `Shared::delivered_alive` (fanout members).
    pub alive_delta: i64,
    /// Echoes of measured messages.
    pub echoes_measured: u64,
    /// Non-closing ERRORs.
    pub nonfatal: u64,
    /// Unstamped texts in the bench room.
    pub bad_payloads: u64,
    /// LEFT reason 3 seen by the observer.
    pub slow_left: u64,
    /// Probe PONGs.
    pub pongs: u64,
    /// `connect --probe`: MESSAGEs received in the probe room.
    pub probes: u64,
    /// JOINED, LEFT and MEMBERS frames received.
    pub presence_frames: u64,
    /// ROOM frames received (version 2 quiet rooms).
    pub room_frames: u64,
}

/// Everything a frame handler may touch besides the connection itself.
pub struct FrameCx<'a> {
    /// The run's settings.
    pub cfg: &'a RunConfig,
    /// The run's shared state.
    pub shared: &'a Shared,
    /// The worker's tally.
    pub tally: &'a mut Tally,
    /// The worker's latency histogram (nanoseconds).
    pub hist: &'a mut Histogram<u64>,
    /// Receive time of the bytes being decoded, ns on the run clock.
    pub now_ns: u64,
}

/// Why a connection ended.
pub type CloseReason = String;

/// What handling one frame asks of the connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The connection just became ready.
    pub ready: bool,
    /// WELCOME announced this payload limit: apply it to the decoder.
    pub max_payload: Option<u16>,
}

/// The protocol side of a connection: what the frame handler reads and
/// changes (kept apart from the decoder, which lends out the frames).
#[derive(Debug)]
pub struct Session {
    /// Its plan.
    pub plan: ConnPlan,
    /// Where it stands.
    pub state: State,
    /// WELCOME received.
    pub welcomed: bool,
    /// Keepalive period from WELCOME (zero = none).
    pub keepalive: Duration,
    /// Its nick.
    pub nick: String,
    /// Observes LEFT reason 3 in the bench room (one member per run).
    pub observer: bool,
    /// Messages it published.
    pub sent: u64,
    /// Echoes of its own messages received (`rooms` window).
    pub echoed: u64,
    /// Deliveries counted on it (`fanout` members; for the window on drop).
    pub received: u64,
    /// `fanout` publisher: waiting for the window to open to low water.
    pub waiting_room: bool,
}

/// One client connection of the generator.
pub struct Conn {
    /// Its stream (plain or TLS), `None` once closed.
    pub sock: Option<Transport>,
    /// Decoder for the server's stream.
    pub dec: FrameDecoder,
    /// Protocol state and counters.
    pub s: Session,
    /// When its connect started (handshake timeout).
    pub opened_at: Instant,
    /// When it last finished writing (keepalive).
    pub last_send: Instant,
    /// Bytes queued for the server; `out[out_pos..]` not yet written.
    pub out: Vec<u8>,
    /// How much of `out` the socket took.
    pub out_pos: usize,
    /// The last write hit `WouldBlock`; wait for a writable event.
    pub write_blocked: bool,
}

impl Conn {
    /// A connection that has started connecting, with HELLO (and JOIN) queued.
    pub fn new(plan: ConnPlan, sock: Transport, cfg: &RunConfig, now: Instant) -> Self {
        let nick = cfg.nick(plan.id);
        let mut out = Vec::with_capacity(64);
        // Names were checked when the run was planned; a failure here leaves
        // `out` empty and the handshake times out, reported as such.
        let _ = ClientMessage::Hello {
            version: cfg.version,
            nick: &nick,
            token: &cfg.token,
        }
        .encode(&mut out, INITIAL_MAX_PAYLOAD);
        // JOIN is pipelined behind HELLO: the server handles a connection's
        // frames in order, so it arrives registered (PROTOCOL.md 4.1).
        if let Some(room) = plan.room.and_then(|r| cfg.rooms.get(r as usize)) {
            let _ = ClientMessage::Join { room }.encode(&mut out, INITIAL_MAX_PAYLOAD);
        }
        Conn {
            sock: Some(sock),
            dec: FrameDecoder::new(INITIAL_MAX_PAYLOAD),
            s: Session {
                plan,
                state: State::Connecting,
                welcomed: false,
                keepalive: Duration::ZERO,
                nick,
                observer: false,
                sent: 0,
                echoed: 0,
                received: 0,
                waiting_room: false,
            },
            opened_at: now,
            last_send: now,
            out,
            out_pos: 0,
            write_blocked: false,
        }
    }

    /// Bytes queued and not yet written.
    pub fn pending_out(&self) -> usize {
        self.out.len() - self.out_pos
    }

    /// Writes queued bytes (and, over TLS, the records they became) until
    /// done or the socket is full.
    pub fn flush(&mut self, now: Instant) -> io::Result<()> {
        let Some(sock) = self.sock.as_mut() else {
            return Ok(());
        };
        while self.out_pos < self.out.len() {
            match sock.write(&self.out[self.out_pos..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.out_pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.write_blocked = true;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.out.clear();
        self.out_pos = 0;
        if !sock.flush_records()? {
            self.write_blocked = true;
            return Ok(());
        }
        self.write_blocked = false;
        self.last_send = now;
        Ok(())
    }

    /// Queues a PING.
    pub fn queue_ping(&mut self, token: u64) {
        let _ = ClientMessage::Ping { token }.encode(&mut self.out, INITIAL_MAX_PAYLOAD);
    }
}

impl Session {
    /// Handles one frame; `Err` when the connection must close.
    #[inline]
    pub fn on_frame(
        &mut self,
        payload: &[u8],
        cx: &mut FrameCx<'_>,
    ) -> Result<Outcome, CloseReason> {
        let mut outcome = Outcome::default();
        let Some(&ty) = payload.first() else {
            return Ok(outcome);
        };
        match ty {
            msg_type::JOINED | msg_type::LEFT | msg_type::MEMBERS => cx.tally.presence_frames += 1,
            msg_type::ROOM => cx.tally.room_frames += 1,
            _ => {}
        }
        if self.state == State::Ready {
            match ty {
                msg_type::MESSAGE => {
                    self.on_message(payload, cx);
                    return Ok(outcome);
                }
                msg_type::JOINED
                | msg_type::MEMBERS
                | msg_type::ROOM
                | msg_type::PRIVATE
                | msg_type::WELCOME => {
                    return Ok(outcome);
                }
                msg_type::LEFT if !self.observer => return Ok(outcome),
                _ => {}
            }
        }
        let msg = match ServerMessage::decode(payload) {
            Ok(m) => m,
            Err(_) => {
                cx.tally.nonfatal += 1;
                return Ok(outcome);
            }
        };
        match msg {
            ServerMessage::Welcome {
                server_name,
                max_payload,
                keepalive_secs,
                ..
            } if !self.welcomed => {
                self.welcomed = true;
                outcome.max_payload = Some(max_payload);
                self.keepalive = Duration::from_secs(u64::from(keepalive_secs));
                let _ = cx.shared.server.set(ServerInfo {
                    name: server_name.to_string(),
                    max_payload,
                    keepalive_secs,
                });
                outcome.ready = self.state == State::Handshake && self.plan.room.is_none();
            }
            ServerMessage::Joined { room, nick }
                if self.state == State::Handshake
                    && self.welcomed
                    && nick == self.nick
                    && self.is_my_room(room.as_bytes(), cx.cfg) =>
            {
                outcome.ready = true;
            }
            ServerMessage::Left { room, reason, .. }
                if self.observer
                    && reason == LeftReason::SlowConsumer.as_u8()
                    && self.is_my_room(room.as_bytes(), cx.cfg) =>
            {
                cx.tally.slow_left += 1;
            }
            ServerMessage::Pong { token } if token == PROBE_TOKEN => cx.tally.pongs += 1,
            ServerMessage::Error { code, detail } => {
                let registered = self.welcomed;
                let closes = ErrorCode::from_u16(code).is_none_or(|c| c.closes(registered));
                let name = ErrorCode::from_u16(code).map_or("unknown", |c| c.name());
                if closes || self.state != State::Ready {
                    return Err(format!("ERROR {name} ({code}): {detail}"));
                }
                cx.tally.nonfatal += 1;
            }
            _ => {}
        }
        Ok(outcome)
    }

    fn is_my_room(&self, room: &[u8], cfg: &RunConfig) -> bool {
        self.plan
            .room
            .and_then(|r| cfg.rooms.get(r as usize))
            .is_some_and(|mine| mine.as_bytes().eq_ignore_ascii_case(room))
    }

    /// A MESSAGE on a ready connection: count it and time it.
    #[inline]
    fn on_message(&mut self, payload: &[u8], cx: &mut FrameCx<'_>) {
        let Some((flags, room, text)) = parse_message(payload) else {
            cx.tally.nonfatal += 1;
            return;
        };
        if flags & FLAG_REPLAYED != 0 {
            return;
        }
        if self.plan.role == Role::Idle {
            // `connect --probe`: count the probe room's messages, unstamped.
            if cx
                .cfg
                .probe_room
                .as_deref()
                .is_some_and(|p| p.as_bytes().eq_ignore_ascii_case(room))
            {
                cx.tally.probes += 1;
            }
            return;
        }
        if !self.is_my_room(room, cx.cfg) {
            return;
        }
        let Some(stamp) = payload::read_stamp(text) else {
            cx.tally.bad_payloads += 1;
            return;
        };
        let own = u32::from(stamp.publisher) == self.plan.id;
        let echo = match self.plan.role {
            Role::Publisher => true,
            Role::Client => own,
            Role::Member | Role::Slow | Role::Idle => false,
        };
        if echo {
            if own {
                self.echoed += 1;
            }
            if stamp.measured {
                cx.tally.echoes_measured += 1;
            }
            return;
        }
        cx.tally.delivered += 1;
        if self.plan.role == Role::Member {
            self.received += 1;
            cx.tally.alive_delta += 1;
        }
        if stamp.measured {
            cx.tally.delivered_measured += 1;
            let _ = cx
                .hist
                .record(cx.now_ns.saturating_sub(stamp.sent_ns).max(1));
        }
    }
}

/// (flags, room, text) of a MESSAGE payload, without UTF-8 checks.
#[inline]
fn parse_message(payload: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let mut r = Reader::new(payload.get(1..)?);
    let flags = r.u8().ok()?;
    r.u64().ok()?; // seq
    r.u64().ok()?; // time_ms
    let room_len = r.u8().ok()?;
    let room = r.bytes(usize::from(room_len)).ok()?;
    let from_len = r.u8().ok()?;
    r.bytes(usize::from(from_len)).ok()?;
    let text_len = r.u16().ok()?;
    let text = r.bytes(usize::from(text_len)).ok()?;
    r.finish().ok()?;
    Some((flags, room, text))
}

/// Appends `n` SAY frames to `out`, each carrying `template` stamped with
/// consecutive sequence numbers from `seq`. Returns the next sequence number.
#[allow(clippy::too_many_arguments)]
pub fn encode_says(
    out: &mut Vec<u8>,
    room: &str,
    template: &[u8],
    n: u64,
    measured: bool,
    sent_ns: u64,
    publisher: u16,
    mut seq: u64,
) -> u64 {
    for _ in 0..n {
        let start = crate::codec::begin_frame(out);
        out.push(msg_type::SAY);
        out.push(room.len() as u8);
        out.extend_from_slice(room.as_bytes());
        out.extend_from_slice(&(template.len() as u16).to_be_bytes());
        let text_at = out.len();
        out.extend_from_slice(template);
        payload::write_stamp(
            &mut out[text_at..],
            &payload::Stamp {
                measured,
                sent_ns,
                publisher,
                seq,
            },
        );
        seq += 1;
        // Sizes were checked when the run was planned (room <= 64 bytes,
        // text well under 65535): end_frame cannot refuse this payload.
        let _ = crate::codec::end_frame(out, start, crate::codec::MAX_PAYLOAD_LIMIT);
    }
    seq
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Event, FrameDecoder};

    #[test]
    fn says_decode_as_the_codec_expects() {
        let tpl = payload::template(64);
        let mut out = Vec::new();
        let next = encode_says(&mut out, "bench", &tpl, 3, true, 12345, 7, 40);
        assert_eq!(next, 43);
        let mut dec = FrameDecoder::new(4096);
        let mut seen = Vec::new();
        dec.decode_all(&out, |ev| match ev {
            Event::Frame(p) => match ClientMessage::decode(p).unwrap() {
                ClientMessage::Say { room, text } => {
                    assert_eq!(room, "bench");
                    assert_eq!(text.len(), 64);
                    seen.push(payload::read_stamp(text.as_bytes()).unwrap());
                }
                other => panic!("not a SAY: {other:?}"),
            },
            Event::Error(e) => panic!("framing error {e:?}"),
        });
        assert_eq!(seen.len(), 3);
        assert!(
            seen.iter()
                .all(|s| s.measured && s.sent_ns == 12345 && s.publisher == 7)
        );
        assert_eq!(seen.iter().map(|s| s.seq).collect::<Vec<_>>(), [40, 41, 42]);
    }

    #[test]
    fn message_fast_parse_agrees_with_codec() {
        let mut out = Vec::new();
        ServerMessage::Message {
            flags: 1,
            seq: 9,
            time_ms: 10,
            room: "Bench",
            from: "sb1",
            text: "hello",
        }
        .encode(&mut out, 4096)
        .unwrap();
        let payload = &out[3..out.len() - 5];
        assert_eq!(
            parse_message(payload),
            Some((1u8, &b"Bench"[..], &b"hello"[..]))
        );
        assert_eq!(parse_message(&payload[..payload.len() - 1]), None);
    }
}
