//! A WebSocket connection's byte transport: the chat (or admin) byte stream
//! in binary WebSocket messages over a nonblocking socket.
//!
//! Reading decodes in place ([`WsDecoder`]): what the socket gave lands in
//! the driver's shared read buffer and leaves it as chat bytes at its front,
//! so an idle connection holds no buffer. Writing wraps the engine's queued
//! frames in one binary message per write (header and frames in one
//! `writev`); only when the socket takes part of a message does the rest of
//! that message (at most [`MAX_OUT_MESSAGE`] bytes) move into a buffer of its
//! own, because a message that has begun must be finished before anything
//! else may be sent. Pongs and close frames go the same way.
//!
//! Why not tungstenite's `WebSocket<S>`: it keeps a read buffer and a write
//! buffer per connection and hands over whole messages, while here the
//! payload is a byte stream and the engine already holds the output; its
//! frame-level pieces (header parsing and formatting, opcodes, close codes,
//! the accept key) are used instead (see [`crate::web::ws`]).

use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;

use mio::net::TcpStream;

use crate::server::transport::{ReadOutcome, TransportError};
use crate::web::ws::{self, CLOSE_NORMAL, MAX_SERVER_HEADER, WsDecoder, WsError};

/// Largest binary message the server sends: a write offers at most this
/// many bytes of queued output, and at most this much is ever held.
pub const MAX_OUT_MESSAGE: usize = 64 * 1024;

/// Slices of queued output one write takes at most.
const MAX_SLICES: usize = 32;

/// A socket whose sides can be shut.
pub trait ShutdownWrite {
    /// Shuts the write side (errors ignored: the peer may be gone).
    fn shutdown_write(&self);
    /// Shuts both sides.
    fn shutdown_both(&self);
}

impl ShutdownWrite for TcpStream {
    fn shutdown_write(&self) {
        let _ = self.shutdown(Shutdown::Write);
    }
    fn shutdown_both(&self) {
        let _ = self.shutdown(Shutdown::Both);
    }
}

/// A WebSocket connection after its upgrade.
#[derive(Debug)]
pub struct WsTransport<S = TcpStream> {
    stream: S,
    decoder: WsDecoder,
    /// Bytes of its own to write before any new message: the rest of a
    /// message a write cut short, control frames.
    held: Vec<u8>,
    held_at: usize,
    /// The client's stream ended (its close frame, or an error): input is
    /// read and discarded from now on.
    peer_closed: bool,
    /// What the next read reports before discarding: the end of the stream,
    /// after the chat bytes that preceded it were delivered.
    pending_end: bool,
    /// A close frame is queued or sent: no data may follow it.
    close_sent: bool,
    /// The close code to send when the server's side ends: the answer to
    /// the client's close frame or to its error (after the output queued
    /// before it), otherwise normal closure.
    close_due: Option<(u16, String)>,
}

impl<S: Read + Write + ShutdownWrite> WsTransport<S> {
    /// A transport over `stream`, whose 101 answer has been sent.
    pub fn new(stream: S) -> Self {
        WsTransport {
            stream,
            decoder: WsDecoder::new(),
            held: Vec::new(),
            held_at: 0,
            peer_closed: false,
            pending_end: false,
            close_sent: false,
            close_due: None,
        }
    }

    /// The socket (for registration).
    pub fn stream(&mut self) -> &mut S {
        &mut self.stream
    }

    /// The socket, shared.
    pub fn stream_ref(&self) -> &S {
        &self.stream
    }

    /// Decodes bytes that arrived with the upgrade request (a client may
    /// send frames right after it): as [`WsTransport::read`], without the
    /// socket. Returns the chat bytes, now in `bytes[..n]`.
    pub fn decode_early(&mut self, bytes: &mut [u8]) -> usize {
        let n = self.decoder.decode(bytes);
        self.after_decode();
        n
    }

    /// One read from the socket into `buf`, decoded in place (the contract
    /// of [`crate::server::transport`]). The client's close frame reads as
    /// [`ReadOutcome::Eof`], a WebSocket error as
    /// [`TransportError::Protocol`] (its close frame queued), each after the
    /// chat bytes before it; then input is discarded.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<ReadOutcome, TransportError> {
        if self.pending_end {
            self.pending_end = false;
            return self.end_of_stream();
        }
        let raw = loop {
            match self.stream.read(buf) {
                Ok(0) => return Ok(ReadOutcome::Eof),
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Ok(ReadOutcome::WouldBlock);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(TransportError::Io(e)),
            }
        };
        if self.peer_closed {
            return Ok(ReadOutcome::Read { raw, chat: 0 });
        }
        let chat = self.decoder.decode(&mut buf[..raw]);
        self.after_decode();
        if self.peer_closed {
            if chat > 0 {
                self.pending_end = true;
            } else {
                return self.end_of_stream();
            }
        }
        Ok(ReadOutcome::Read { raw, chat })
    }

    /// How the end of the client's stream is reported.
    fn end_of_stream(&self) -> Result<ReadOutcome, TransportError> {
        match self.decoder.failure() {
            Some(e) => Err(TransportError::Protocol {
                transport: "web",
                detail: format!("{e} (closed with {})", e.close_code()),
            }),
            None => Ok(ReadOutcome::Eof),
        }
    }

    /// Queues what the decoder asks for: a pong, a close answer.
    fn after_decode(&mut self) {
        if self.peer_closed {
            return;
        }
        if !self.close_sent {
            self.decoder.take_pong(&mut self.held);
        }
        if let Some(e) = self.decoder.failure() {
            // The close frame goes out once the output queued before the
            // error is written (the driver's closing sequence).
            self.peer_closed = true;
            self.close_due = Some((e.close_code(), e.to_string()));
        } else if let Some(code) = self.decoder.close_received() {
            // Echo the code (RFC 6455 section 5.5.1), after what is queued.
            self.peer_closed = true;
            self.close_due = Some((code.unwrap_or(CLOSE_NORMAL), String::new()));
        }
    }

    fn queue_close(&mut self, code: u16, reason: &str) {
        if !self.close_sent {
            ws::close_frame(code, reason, &mut self.held);
            self.close_sent = true;
        }
    }

    /// The WebSocket error that ended the client's stream, if one did.
    pub fn failure(&self) -> Option<WsError> {
        self.decoder.failure()
    }

    /// Writes held bytes; `true` once none are left.
    fn flush_held(&mut self) -> Result<bool, TransportError> {
        while self.held_at < self.held.len() {
            match self.stream.write(&self.held[self.held_at..]) {
                Ok(0) => return Err(TransportError::Io(io::ErrorKind::WriteZero.into())),
                Ok(n) => self.held_at += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(TransportError::Io(e)),
            }
        }
        // An idle connection holds no buffer.
        if self.held.capacity() > 0 {
            self.held = Vec::new();
        }
        self.held_at = 0;
        Ok(true)
    }

    /// Offers queued output (whole chat frames, oldest first): writes what
    /// it holds, then up to [`MAX_OUT_MESSAGE`] bytes of `queue` as one
    /// binary message. Returns how many bytes of `queue` it took (all of
    /// them once a close frame was sent: they can no longer be delivered).
    pub fn write(&mut self, queue: &[IoSlice<'_>]) -> Result<usize, TransportError> {
        if !self.flush_held()? {
            return Ok(0);
        }
        if self.close_sent {
            return Ok(queue.iter().map(|s| s.len()).sum());
        }
        let mut iov: [IoSlice<'_>; MAX_SLICES + 1] = std::array::from_fn(|_| IoSlice::new(&[]));
        let mut total = 0;
        let mut k = 1;
        for s in queue.iter().filter(|s| !s.is_empty()).take(MAX_SLICES) {
            if total == MAX_OUT_MESSAGE {
                break;
            }
            let take = s.len().min(MAX_OUT_MESSAGE - total);
            iov[k] = IoSlice::new(&s[..take]);
            total += take;
            k += 1;
        }
        if total == 0 {
            return Ok(0);
        }
        let mut head = [0u8; MAX_SERVER_HEADER];
        let hl = ws::binary_header(total, &mut head);
        iov[0] = IoSlice::new(&head[..hl]);
        let n = loop {
            match self.stream.write_vectored(&iov[..k]) {
                Ok(0) => return Err(TransportError::Io(io::ErrorKind::WriteZero.into())),
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(0),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(TransportError::Io(e)),
            }
        };
        if n < hl + total {
            // The message has begun: keep its rest, it must go out next.
            let mut skip = n;
            for s in &iov[..k] {
                if skip >= s.len() {
                    skip -= s.len();
                    continue;
                }
                self.held.extend_from_slice(&s[skip..]);
                skip = 0;
            }
        }
        Ok(total)
    }

    /// Whether it holds bytes of its own still to write.
    pub fn wants_write(&self) -> bool {
        self.held_at < self.held.len()
    }

    /// Ends the connection from the server's side: a close frame (the
    /// answer to the client's close or error; otherwise normal closure, the
    /// chat ERROR before it saying why), written as far as the socket takes
    /// it, then the write side is shut.
    pub fn shutdown_write(&mut self) {
        let (code, reason) = self
            .close_due
            .take()
            .unwrap_or((CLOSE_NORMAL, String::new()));
        self.queue_close(code, &reason);
        let _ = self.flush_held();
        self.stream.shutdown_write();
    }

    /// Refuses a client the server has no room for: `frame` (an ERROR
    /// server_full) in one message, a close frame "try again later", and the
    /// write side shut; one write, no waiting.
    pub fn refuse(&mut self, frame: &[u8]) {
        let _ = self.write(&[IoSlice::new(frame)]);
        self.queue_close(ws::CLOSE_TRY_AGAIN, "server full");
        let _ = self.flush_held();
        self.stream.shutdown_write();
    }

    /// Shuts both directions at once, without a close frame.
    pub fn abort(&mut self) {
        self.stream.shutdown_both();
    }

    /// Heap bytes it holds (for the memory bound).
    pub fn heap_bytes(&self) -> usize {
        self.held.capacity() + self.decoder.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// A socket that takes at most `room` bytes, then would block.
    #[derive(Default)]
    struct Pipe {
        input: Vec<u8>,
        out: Vec<u8>,
        room: usize,
        shut: Cell<bool>,
    }

    impl Read for Pipe {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.input.is_empty() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(self.input.len());
            buf[..n].copy_from_slice(&self.input[..n]);
            self.input.drain(..n);
            Ok(n)
        }
    }

    impl Write for Pipe {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            self.out.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            let all: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
            self.write(&all)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl ShutdownWrite for Pipe {
        fn shutdown_write(&self) {
            self.shut.set(true);
        }
        fn shutdown_both(&self) {
            self.shut.set(true);
        }
    }

    /// Payloads of the server messages in `bytes` (unmasked, final).
    fn messages(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let mut c = std::io::Cursor::new(bytes);
            let (h, len) = tungstenite::protocol::frame::FrameHeader::parse(&mut c)
                .unwrap()
                .unwrap();
            let at = c.position() as usize;
            let op: u8 = h.opcode.into();
            out.push((op, bytes[at..at + len as usize].to_vec()));
            bytes = &bytes[at + len as usize..];
        }
        out
    }

    #[test]
    fn queued_frames_go_out_as_one_message() {
        let mut t = WsTransport::new(Pipe {
            room: usize::MAX,
            ..Pipe::default()
        });
        let took = t
            .write(&[IoSlice::new(b"frame-one"), IoSlice::new(b"frame-two")])
            .unwrap();
        assert_eq!(took, 18);
        assert_eq!(
            messages(&t.stream.out),
            [(2, b"frame-oneframe-two".to_vec())]
        );
        assert!(!t.wants_write());
    }

    #[test]
    fn a_cut_message_is_finished_before_the_next() {
        let mut t = WsTransport::new(Pipe {
            room: 5,
            ..Pipe::default()
        });
        let big = vec![b'a'; 300];
        assert_eq!(t.write(&[IoSlice::new(&big)]).unwrap(), 300);
        assert!(t.wants_write());
        // Blocked: nothing new is taken while the rest is held.
        t.stream.room = 0;
        assert_eq!(t.write(&[IoSlice::new(b"next")]).unwrap(), 0);
        t.stream.room = usize::MAX;
        assert_eq!(t.write(&[IoSlice::new(b"next")]).unwrap(), 4);
        assert_eq!(messages(&t.stream.out), [(2, big), (2, b"next".to_vec())]);
        assert!(!t.wants_write());
        assert_eq!(t.heap_bytes(), 0, "the held buffer is freed once drained");
    }

    #[test]
    fn a_message_is_at_most_max_out_message() {
        let mut t = WsTransport::new(Pipe {
            room: usize::MAX,
            ..Pipe::default()
        });
        let big = vec![1u8; MAX_OUT_MESSAGE + 10];
        assert_eq!(t.write(&[IoSlice::new(&big)]).unwrap(), MAX_OUT_MESSAGE);
        assert_eq!(
            t.write(&[IoSlice::new(&big[MAX_OUT_MESSAGE..])]).unwrap(),
            10
        );
        let m = messages(&t.stream.out);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].1.len() + m[1].1.len(), big.len());
    }

    fn masked(first: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [9, 8, 7, 6];
        let mut v = vec![first, 0x80 | payload.len() as u8];
        v.extend_from_slice(&mask);
        v.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        v
    }

    #[test]
    fn pings_are_answered_and_a_close_is_echoed() {
        let mut input = masked(0x82, b"chat");
        input.extend(masked(0x89, b"p1"));
        let mut t = WsTransport::new(Pipe {
            input,
            room: usize::MAX,
            ..Pipe::default()
        });
        let mut buf = [0u8; 256];
        assert_eq!(
            t.read(&mut buf).unwrap(),
            ReadOutcome::Read { raw: 18, chat: 4 }
        );
        assert_eq!(&buf[..4], b"chat");
        assert!(t.wants_write());
        assert_eq!(t.write(&[]).unwrap(), 0);
        t.stream.input = masked(0x88, &[0x03, 0xe8]);
        assert_eq!(t.read(&mut buf).unwrap(), ReadOutcome::Eof);
        // Then input is discarded.
        t.stream.input = masked(0x82, b"late");
        assert_eq!(
            t.read(&mut buf).unwrap(),
            ReadOutcome::Read { raw: 10, chat: 0 }
        );
        // Output queued before the close still goes out, then the echo.
        assert_eq!(t.write(&[IoSlice::new(b"last")]).unwrap(), 4);
        t.shutdown_write();
        assert!(t.stream.shut.get());
        assert_eq!(
            messages(&t.stream.out),
            [
                (0x0A, b"p1".to_vec()),
                (0x02, b"last".to_vec()),
                (0x08, vec![0x03, 0xe8])
            ]
        );
        // Nothing after the close frame.
        assert_eq!(t.write(&[IoSlice::new(b"late")]).unwrap(), 4);
        assert_eq!(messages(&t.stream.out).len(), 3);
    }

    #[test]
    fn a_bad_frame_gets_its_close_code() {
        let mut input = masked(0x82, b"ok");
        input.extend(masked(0x81, b"text"));
        let mut t = WsTransport::new(Pipe {
            input,
            room: usize::MAX,
            ..Pipe::default()
        });
        let mut buf = [0u8; 256];
        assert_eq!(
            t.read(&mut buf).unwrap(),
            ReadOutcome::Read { raw: 18, chat: 2 }
        );
        assert_eq!(t.failure(), Some(WsError::Text));
        assert!(matches!(
            t.read(&mut buf),
            Err(TransportError::Protocol {
                transport: "web",
                ..
            })
        ));
        assert_eq!(t.read(&mut buf).unwrap(), ReadOutcome::WouldBlock);
        t.shutdown_write();
        let m = messages(&t.stream.out);
        assert_eq!(m[0].0, 0x08);
        assert_eq!(&m[0].1[..2], &1003u16.to_be_bytes());
    }

    #[test]
    fn the_server_closes_with_a_normal_close_frame() {
        let mut t = WsTransport::new(Pipe {
            room: usize::MAX,
            ..Pipe::default()
        });
        t.write(&[IoSlice::new(b"last frame")]).unwrap();
        t.shutdown_write();
        assert_eq!(
            messages(&t.stream.out),
            [
                (2, b"last frame".to_vec()),
                (8, 1000u16.to_be_bytes().to_vec())
            ]
        );
    }
}
