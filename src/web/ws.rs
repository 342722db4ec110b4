//! WebSocket framing of the chat byte stream (RFC 6455), sans-IO.
//!
//! A WebSocket connection carries exactly the bytes of the TCP chat port:
//! the payloads of the client's binary messages, concatenated, are the chat
//! byte stream the engine decodes, and the server's output is sent as
//! binary messages whose payloads, concatenated, are its frames. Where one
//! message ends says nothing: a chat frame may be split across messages and
//! one message may hold several frames.
//!
//! [`WsDecoder`] turns what the socket delivered into that byte stream *in
//! place*: the payload bytes are unmasked and moved to the front of the
//! caller's buffer, so a WebSocket connection needs no buffer of its own
//! (only the up to 14 bytes of a header cut by a read, and a ping's payload
//! until it is answered). Header parsing and the opcode and close-code
//! tables are tungstenite's ([`FrameHeader::parse`], [`CloseCode`]); the
//! unmasking is done here because tungstenite's `apply_mask` is private and
//! works on whole frames, while this decoder unmasks a payload piece by
//! piece as it arrives, carrying the mask offset across reads.
//!
//! What is refused, with the close code sent back ([`WsError::close_code`]):
//! text messages and fragmented messages (1003: only unfragmented binary
//! messages carry chat bytes), a message over [`MAX_MESSAGE`] bytes (1009),
//! unmasked frames, reserved bits or opcodes, fragmented or oversized
//! control frames, a malformed close frame or an invalid close code (1002),
//! and a close reason that is not UTF-8 (1007).

use std::io::Cursor;

use tungstenite::protocol::frame::FrameHeader;
use tungstenite::protocol::frame::coding::{CloseCode, Control, Data, OpCode};

/// Largest binary message a client may send, in bytes. Payloads are not
/// buffered (they stream into the chat decoder), so this is a sanity
/// bound, not a memory one: it admits two chat frames of the largest
/// `max_payload` in one message.
pub const MAX_MESSAGE: u64 = 128 * 1024;

/// Largest control frame payload (RFC 6455 section 5.5).
pub const MAX_CONTROL: usize = 125;

/// Longest header of a server frame (no mask; 64-bit length).
pub const MAX_SERVER_HEADER: usize = 10;

/// Longest header of any frame (a client's: 64-bit length and mask).
const MAX_HEADER: usize = 14;

/// Normal closure.
pub const CLOSE_NORMAL: u16 = 1000;
/// The server is going away (shutting down).
pub const CLOSE_AWAY: u16 = 1001;
/// The server is full: try again later.
pub const CLOSE_TRY_AGAIN: u16 = 1013;

/// Why a client's WebSocket stream was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WsError {
    /// A text message: chat frames travel in binary messages only.
    #[error("text message (chat frames travel in binary messages)")]
    Text,
    /// A message in several fragments (or a stray continuation frame).
    #[error("fragmented message (send each message in one frame)")]
    Fragmented,
    /// A binary message longer than [`MAX_MESSAGE`].
    #[error("message of {0} bytes is over the limit of {MAX_MESSAGE}")]
    TooBig(u64),
    /// A violation of RFC 6455 framing.
    #[error("protocol error: {0}")]
    Protocol(&'static str),
    /// A close frame with a code that may not be sent.
    #[error("close frame with invalid code {0}")]
    BadCloseCode(u16),
    /// A close frame whose reason is not UTF-8.
    #[error("close reason is not UTF-8")]
    BadCloseReason,
}

impl WsError {
    /// The close code the server answers this error with.
    pub fn close_code(self) -> u16 {
        let code = match self {
            WsError::Text | WsError::Fragmented => CloseCode::Unsupported,
            WsError::TooBig(_) => CloseCode::Size,
            WsError::Protocol(_) | WsError::BadCloseCode(_) => CloseCode::Protocol,
            WsError::BadCloseReason => CloseCode::Invalid,
        };
        code.into()
    }
}

/// What the payload bytes of the current frame are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Chat bytes: unmasked into the caller's buffer.
    Binary,
    /// A ping: its payload is collected to be echoed in a pong.
    Ping,
    /// A pong: ignored.
    Pong,
    /// A close: its payload is collected and checked.
    Close,
}

/// Where the decoder stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Collecting a frame header (`head[..head_len]` so far).
    Header,
    /// Inside a frame's payload: `left` bytes to go.
    Payload {
        kind: Kind,
        left: u64,
        mask: [u8; 4],
        /// Offset into the mask of the next byte.
        phase: u8,
    },
    /// A close frame arrived (or an error was found): input is ignored.
    Closed,
}

/// Incremental, in-place decoder of a client's WebSocket frames (see the
/// module documentation).
#[derive(Debug)]
pub struct WsDecoder {
    state: State,
    head: [u8; MAX_HEADER],
    head_len: u8,
    /// Payload of the control frame being read (ping or close); empty (no
    /// heap) otherwise.
    control: Vec<u8>,
    /// The latest ping's payload, to echo.
    pong: Vec<u8>,
    /// A ping arrived and its pong is still to be sent.
    pong_due: bool,
    /// The peer's close frame: `Some(code)` once seen (`None` inside: no
    /// code given).
    close: Option<Option<u16>>,
    /// The error that ended the stream.
    failure: Option<WsError>,
}

impl Default for WsDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl WsDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        WsDecoder {
            state: State::Header,
            head: [0; MAX_HEADER],
            head_len: 0,
            control: Vec::new(),
            pong: Vec::new(),
            pong_due: false,
            close: None,
            failure: None,
        }
    }

    /// Decodes `buf` (bytes just read from the socket) in place: on return
    /// the chat bytes they carried are `buf[..n]` (also those before a close
    /// frame or an error). Control frames are noted
    /// ([`WsDecoder::take_pong`], [`WsDecoder::close_received`]), an error
    /// too ([`WsDecoder::failure`]). After a close frame or an error every
    /// further byte is ignored.
    pub fn decode(&mut self, buf: &mut [u8]) -> usize {
        match self.decode_inner(buf) {
            Ok(n) => n,
            Err((n, e)) => {
                self.state = State::Closed;
                self.failure = Some(e);
                self.control = Vec::new();
                n
            }
        }
    }

    /// The error that ended the stream, if one did.
    pub fn failure(&self) -> Option<WsError> {
        self.failure
    }

    fn decode_inner(&mut self, buf: &mut [u8]) -> Result<usize, (usize, WsError)> {
        let mut r = 0;
        let mut w = 0;
        while r < buf.len() {
            match self.state {
                State::Closed => return Ok(w),
                State::Header => {
                    let old = usize::from(self.head_len);
                    let take = (MAX_HEADER - old).min(buf.len() - r);
                    self.head[old..old + take].copy_from_slice(&buf[r..r + take]);
                    let have = old + take;
                    let mut cursor = Cursor::new(&self.head[..have]);
                    match FrameHeader::parse(&mut cursor) {
                        Ok(Some((header, len))) => {
                            let used = cursor.position() as usize - old;
                            r += used;
                            self.head_len = 0;
                            self.begin_frame(&header, len).map_err(|e| (w, e))?;
                        }
                        Ok(None) => {
                            self.head_len = have as u8;
                            r += take;
                        }
                        Err(_) => return Err((w, WsError::Protocol("reserved opcode"))),
                    }
                }
                State::Payload {
                    kind,
                    left,
                    mask,
                    phase,
                } => {
                    let n = usize::try_from(left)
                        .unwrap_or(usize::MAX)
                        .min(buf.len() - r);
                    let phase = usize::from(phase);
                    match kind {
                        Kind::Binary => {
                            buf.copy_within(r..r + n, w);
                            unmask(&mut buf[w..w + n], mask, phase);
                            w += n;
                        }
                        Kind::Ping | Kind::Close => {
                            let start = self.control.len();
                            self.control.extend_from_slice(&buf[r..r + n]);
                            unmask(&mut self.control[start..], mask, phase);
                        }
                        Kind::Pong => {}
                    }
                    r += n;
                    let left = left - n as u64;
                    if left > 0 {
                        self.state = State::Payload {
                            kind,
                            left,
                            mask,
                            phase: ((phase + n) % 4) as u8,
                        };
                    } else {
                        self.end_frame(kind).map_err(|e| (w, e))?;
                    }
                }
            }
        }
        Ok(w)
    }

    /// Checks a parsed header and enters its payload.
    fn begin_frame(&mut self, h: &FrameHeader, len: u64) -> Result<(), WsError> {
        if h.rsv1 || h.rsv2 || h.rsv3 {
            return Err(WsError::Protocol(
                "reserved bits set (no extension was agreed)",
            ));
        }
        let Some(mask) = h.mask else {
            return Err(WsError::Protocol("unmasked client frame"));
        };
        let kind = match h.opcode {
            OpCode::Data(Data::Binary) if !h.is_final => return Err(WsError::Fragmented),
            OpCode::Data(Data::Continue) => return Err(WsError::Fragmented),
            OpCode::Data(Data::Text) => return Err(WsError::Text),
            OpCode::Data(Data::Binary) => {
                if len > MAX_MESSAGE {
                    return Err(WsError::TooBig(len));
                }
                Kind::Binary
            }
            OpCode::Data(Data::Reserved(_)) | OpCode::Control(Control::Reserved(_)) => {
                return Err(WsError::Protocol("reserved opcode"));
            }
            OpCode::Control(c) => {
                if !h.is_final {
                    return Err(WsError::Protocol("fragmented control frame"));
                }
                if len > MAX_CONTROL as u64 {
                    return Err(WsError::Protocol("control frame over 125 bytes"));
                }
                match c {
                    Control::Ping => Kind::Ping,
                    Control::Pong => Kind::Pong,
                    _ => Kind::Close,
                }
            }
        };
        if matches!(kind, Kind::Ping | Kind::Close) {
            self.control.clear();
        }
        if len == 0 {
            return self.end_frame(kind);
        }
        self.state = State::Payload {
            kind,
            left: len,
            mask,
            phase: 0,
        };
        Ok(())
    }

    /// A frame's payload is complete.
    fn end_frame(&mut self, kind: Kind) -> Result<(), WsError> {
        self.state = State::Header;
        match kind {
            Kind::Binary | Kind::Pong => {}
            Kind::Ping => {
                self.pong = std::mem::take(&mut self.control);
                self.pong_due = true;
            }
            Kind::Close => {
                self.state = State::Closed;
                let code = match self.control.as_slice() {
                    [] => None,
                    [_] => return Err(WsError::Protocol("close frame of one byte")),
                    [hi, lo, reason @ ..] => {
                        let code = u16::from_be_bytes([*hi, *lo]);
                        if !CloseCode::from(code).is_allowed() {
                            return Err(WsError::BadCloseCode(code));
                        }
                        if std::str::from_utf8(reason).is_err() {
                            return Err(WsError::BadCloseReason);
                        }
                        Some(code)
                    }
                };
                self.control = Vec::new();
                self.close = Some(code);
            }
        }
        Ok(())
    }

    /// The payload of the latest ping, if one is still to be answered (a
    /// pong answers the most recent ping only, RFC 6455 section 5.5.3).
    pub fn take_pong(&mut self, out: &mut Vec<u8>) -> bool {
        if !self.pong_due {
            return false;
        }
        self.pong_due = false;
        control_frame(Control::Pong, &self.pong, out);
        self.pong = Vec::new();
        true
    }

    /// The peer's close frame, once one arrived: its code, if it gave one.
    pub fn close_received(&self) -> Option<Option<u16>> {
        self.close
    }

    /// Whether the decoder holds heap memory (a control payload).
    pub fn heap_bytes(&self) -> usize {
        self.control.capacity() + self.pong.capacity()
    }
}

/// XORs `bytes` with `mask`, the first byte at offset `phase` of the mask.
fn unmask(bytes: &mut [u8], mask: [u8; 4], phase: usize) {
    for (i, b) in bytes.iter_mut().enumerate() {
        *b ^= mask[(phase + i) & 3];
    }
}

/// The header of a server's (unmasked, final) binary message of `len`
/// bytes, written to `out`; returns its length.
pub fn binary_header(len: usize, out: &mut [u8; MAX_SERVER_HEADER]) -> usize {
    let header = FrameHeader {
        opcode: OpCode::Data(Data::Binary),
        ..FrameHeader::default()
    };
    let mut cursor = Cursor::new(&mut out[..]);
    // Cannot fail: 10 bytes hold any unmasked header.
    let _ = header.format(len as u64, &mut cursor);
    cursor.position() as usize
}

/// Appends a server control frame (at most 125 bytes of payload are used).
pub fn control_frame(op: Control, payload: &[u8], out: &mut Vec<u8>) {
    let payload = &payload[..payload.len().min(MAX_CONTROL)];
    let header = FrameHeader {
        opcode: OpCode::Control(op),
        ..FrameHeader::default()
    };
    let _ = header.format(payload.len() as u64, out);
    out.extend_from_slice(payload);
}

/// Appends a server close frame with `code` and a reason (cut at a
/// character boundary to fit a control frame).
pub fn close_frame(code: u16, reason: &str, out: &mut Vec<u8>) {
    let mut cut = reason.len().min(MAX_CONTROL - 2);
    while !reason.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut payload = [0u8; MAX_CONTROL];
    payload[..2].copy_from_slice(&code.to_be_bytes());
    payload[2..2 + cut].copy_from_slice(&reason.as_bytes()[..cut]);
    control_frame(Control::Close, &payload[..2 + cut], out);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A masked client frame, as a browser sends it.
    fn client_frame(first: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
        let mut out = vec![first];
        let len = payload.len();
        if len < 126 {
            out.push(0x80 | len as u8);
        } else if len < 65536 {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            out.push(0x80 | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    }

    fn binary(payload: &[u8]) -> Vec<u8> {
        client_frame(0x82, payload, [0x37, 0xfa, 0x21, 0x3d])
    }

    fn decode_all(dec: &mut WsDecoder, bytes: &[u8]) -> Result<Vec<u8>, WsError> {
        let mut buf = bytes.to_vec();
        let n = dec.decode(&mut buf);
        buf.truncate(n);
        match dec.failure() {
            Some(e) => Err(e),
            None => Ok(buf),
        }
    }

    #[test]
    fn one_message_decodes_in_place() {
        let mut dec = WsDecoder::new();
        assert_eq!(decode_all(&mut dec, &binary(b"hello")).unwrap(), b"hello");
    }

    #[test]
    fn every_split_gives_the_same_stream() {
        let mut stream = binary(b"first message");
        stream.extend(client_frame(0x89, b"ping!", [1, 2, 3, 4]));
        stream.extend(binary(&vec![7u8; 300]));
        stream.extend(binary(&vec![9u8; 70_000]));
        stream.extend(client_frame(0x8A, b"pong", [5, 6, 7, 8]));
        stream.extend(binary(b"x"));
        let mut want = b"first message".to_vec();
        want.extend(vec![7u8; 300]);
        want.extend(vec![9u8; 70_000]);
        want.push(b'x');
        for chunk in [1, 2, 3, 5, 13, 14, 15, 127, 4096, stream.len()] {
            let mut dec = WsDecoder::new();
            let mut got = Vec::new();
            for piece in stream.chunks(chunk) {
                got.extend(decode_all(&mut dec, piece).unwrap());
            }
            assert_eq!(got, want, "chunk size {chunk}");
            let mut pong = Vec::new();
            assert!(dec.take_pong(&mut pong));
            assert_eq!(pong, [0x8A, 5, b'p', b'i', b'n', b'g', b'!']);
            assert!(!dec.take_pong(&mut pong));
            assert_eq!(dec.heap_bytes(), 0);
        }
    }

    #[test]
    fn empty_binary_messages_are_fine() {
        let mut dec = WsDecoder::new();
        let mut s = binary(b"");
        s.extend(binary(b"ab"));
        s.extend(binary(b""));
        assert_eq!(decode_all(&mut dec, &s).unwrap(), b"ab");
    }

    #[test]
    fn refusals_carry_their_close_codes() {
        let cases: Vec<(Vec<u8>, WsError, u16)> = vec![
            (client_frame(0x81, b"hi", [1; 4]), WsError::Text, 1003),
            (client_frame(0x02, b"hi", [1; 4]), WsError::Fragmented, 1003),
            (client_frame(0x80, b"hi", [1; 4]), WsError::Fragmented, 1003),
            (
                binary(&vec![0; MAX_MESSAGE as usize + 1]),
                WsError::TooBig(MAX_MESSAGE + 1),
                1009,
            ),
            (
                vec![0x82, 0x02, b'h', b'i'],
                WsError::Protocol("unmasked client frame"),
                1002,
            ),
            (
                client_frame(0xC2, b"hi", [1; 4]),
                WsError::Protocol("reserved bits set (no extension was agreed)"),
                1002,
            ),
            (
                client_frame(0x83, b"hi", [1; 4]),
                WsError::Protocol("reserved opcode"),
                1002,
            ),
            (
                client_frame(0x09, b"hi", [1; 4]),
                WsError::Protocol("fragmented control frame"),
                1002,
            ),
            (
                client_frame(0x89, &[0; 126], [1; 4]),
                WsError::Protocol("control frame over 125 bytes"),
                1002,
            ),
            (
                client_frame(0x88, &[3], [1; 4]),
                WsError::Protocol("close frame of one byte"),
                1002,
            ),
            (
                client_frame(0x88, &1005u16.to_be_bytes(), [1; 4]),
                WsError::BadCloseCode(1005),
                1002,
            ),
            (
                client_frame(0x88, &999u16.to_be_bytes(), [1; 4]),
                WsError::BadCloseCode(999),
                1002,
            ),
            (
                client_frame(0x88, &[0x03, 0xe8, 0xff, 0xfe], [1; 4]),
                WsError::BadCloseReason,
                1007,
            ),
        ];
        for (bytes, err, code) in cases {
            let mut dec = WsDecoder::new();
            let mut s = binary(b"ok");
            s.extend(&bytes);
            s.extend(binary(b"after"));
            let mut buf = s.clone();
            // The chat bytes before the bad frame are kept.
            let n = dec.decode(&mut buf);
            assert_eq!(&buf[..n], b"ok", "{bytes:02x?}");
            assert_eq!(dec.failure(), Some(err), "{bytes:02x?}");
            assert_eq!(err.close_code(), code);
            // Everything after an error is ignored.
            let mut more = binary(b"more");
            assert_eq!(dec.decode(&mut more), 0);
        }
    }

    #[test]
    fn a_close_frame_ends_the_stream() {
        let mut dec = WsDecoder::new();
        let mut s = binary(b"last");
        s.extend(client_frame(0x88, &[0x03, 0xe8, b'b', b'y', b'e'], [9; 4]));
        s.extend(binary(b"ignored"));
        assert_eq!(decode_all(&mut dec, &s).unwrap(), b"last");
        assert_eq!(dec.close_received(), Some(Some(1000)));
        let mut dec = WsDecoder::new();
        decode_all(&mut dec, &client_frame(0x88, b"", [9; 4])).unwrap();
        assert_eq!(dec.close_received(), Some(None));
        let mut dec = WsDecoder::new();
        decode_all(
            &mut dec,
            &client_frame(0x88, &4000u16.to_be_bytes(), [9; 4]),
        )
        .unwrap();
        assert_eq!(dec.close_received(), Some(Some(4000)));
    }

    #[test]
    fn server_frames_match_tungstenite() {
        for len in [0usize, 1, 125, 126, 65535, 65536, 200_000] {
            let mut head = [0u8; MAX_SERVER_HEADER];
            let n = binary_header(len, &mut head);
            let mut cursor = Cursor::new(&head[..n]);
            let (h, got) = FrameHeader::parse(&mut cursor).unwrap().unwrap();
            assert_eq!(got, len as u64);
            assert_eq!(cursor.position() as usize, n);
            assert_eq!(h.opcode, OpCode::Data(Data::Binary));
            assert!(h.is_final && h.mask.is_none());
        }
        let mut out = Vec::new();
        close_frame(1009, &"é".repeat(100), &mut out);
        assert_eq!(out.len(), 2 + 125 - 1);
        assert_eq!(&out[..4], &[0x88, 124, 0x03, 0xf1]);
    }
}
