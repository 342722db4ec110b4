//! The IRC transport: IRC lines over TCP, translated by the sans-IO
//! [`crate::irc::IrcSession`]. Reading turns the client's lines into chat
//! and gateway frames for the engine; writing turns the engine's queued
//! frames for this connection into IRC lines, holding at most
//! [`OUT_CAP`] bytes of lines (plus one frame's worth) of its own, so the
//! engine's output limit and slow-consumer rule still apply to what waits.

use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;
use std::sync::Arc;

use mio::net::TcpStream;

use crate::codec::FRAME_OVERHEAD;
use crate::irc::{IrcConfig, IrcSession};
use crate::server::transport::{ReadOutcome, TransportError};

/// IRC output held beyond what the socket took before the transport stops
/// consuming the engine's queue.
pub const OUT_CAP: usize = 16 * 1024;

/// Bytes read from the socket at once.
const READ_CHUNK: usize = 4096;

/// One IRC connection's socket and translator.
#[derive(Debug)]
pub struct IrcTransport {
    stream: TcpStream,
    session: IrcSession,
    /// Frames translated from input, not yet handed to the engine.
    chat: Vec<u8>,
    chat_pos: usize,
    /// IRC lines not yet taken by the socket.
    out: Vec<u8>,
    out_pos: usize,
    /// A frame of the engine's output split across offered slices.
    partial: Vec<u8>,
}

impl IrcTransport {
    /// The transport of an accepted IRC connection.
    pub fn new(stream: TcpStream, cfg: Arc<IrcConfig>) -> Self {
        IrcTransport {
            stream,
            session: IrcSession::new(cfg),
            chat: Vec::new(),
            chat_pos: 0,
            out: Vec::new(),
            out_pos: 0,
            partial: Vec::new(),
        }
    }

    /// The socket.
    pub fn stream(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// Hands translated frames held from an earlier read to `buf`.
    fn give_chat(&mut self, buf: &mut [u8]) -> usize {
        let n = (self.chat.len() - self.chat_pos).min(buf.len());
        buf[..n].copy_from_slice(&self.chat[self.chat_pos..self.chat_pos + n]);
        self.chat_pos += n;
        if self.chat_pos == self.chat.len() {
            self.chat.clear();
            self.chat_pos = 0;
            if self.chat.capacity() > 16 * 1024 {
                self.chat = Vec::new();
            }
        }
        n
    }

    /// Reads once (see the transport contract).
    pub fn read(&mut self, buf: &mut [u8]) -> Result<ReadOutcome, TransportError> {
        if self.chat_pos < self.chat.len() {
            let n = self.give_chat(buf);
            return Ok(ReadOutcome::Read { raw: 0, chat: n });
        }
        let mut raw = [0u8; READ_CHUNK];
        let n = loop {
            match self.stream.read(&mut raw) {
                Ok(0) => return Ok(ReadOutcome::Eof),
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Ok(ReadOutcome::WouldBlock);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(TransportError::Io(e)),
            }
        };
        self.session.on_client_bytes(&raw[..n], &mut self.chat);
        let chat = self.give_chat(buf);
        Ok(ReadOutcome::Read { raw: n, chat })
    }

    /// Writes held lines; false if the socket would block.
    fn flush(&mut self) -> Result<bool, TransportError> {
        while self.out_pos < self.out.len() {
            match self.stream.write(&self.out[self.out_pos..]) {
                Ok(0) => return Ok(false),
                Ok(n) => self.out_pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(TransportError::Io(e)),
            }
        }
        self.out.clear();
        self.out_pos = 0;
        if self.out.capacity() > 4 * OUT_CAP {
            self.out = Vec::new();
        }
        Ok(true)
    }

    /// Translates whole frames of `queue` into lines while fewer than
    /// [`OUT_CAP`] bytes are held; returns the bytes of `queue` consumed.
    fn translate(&mut self, queue: &[IoSlice<'_>]) -> usize {
        let mut consumed = 0;
        for slice in queue {
            let mut s: &[u8] = slice;
            while !s.is_empty() {
                if self.out.len() - self.out_pos >= OUT_CAP {
                    return consumed;
                }
                if self.partial.is_empty()
                    && let Some(len) = frame_len(s)
                    && s.len() >= len
                {
                    self.session.on_server_frame(&s[3..len - 5], &mut self.out);
                    s = &s[len..];
                    consumed += len;
                    continue;
                }
                // A frame across slices: gather it (its header first).
                let want = match frame_len(&self.partial) {
                    Some(len) => len - self.partial.len(),
                    None => 3 - self.partial.len(),
                };
                let take = want.min(s.len());
                self.partial.extend_from_slice(&s[..take]);
                s = &s[take..];
                consumed += take;
                if let Some(len) = frame_len(&self.partial)
                    && self.partial.len() == len
                {
                    let frame = std::mem::take(&mut self.partial);
                    self.session
                        .on_server_frame(&frame[3..len - 5], &mut self.out);
                }
            }
        }
        consumed
    }

    /// Offers the engine's queue (see the transport contract). Translates
    /// and writes in rounds of at most [`OUT_CAP`] held bytes until the
    /// queue is consumed or the socket is full, so that consuming less than
    /// offered always means the socket will report writable again.
    pub fn write(&mut self, queue: &[IoSlice<'_>]) -> Result<usize, TransportError> {
        let mut consumed = 0;
        let total: usize = queue.iter().map(|s| s.len()).sum();
        loop {
            if !self.flush()? {
                return Ok(consumed);
            }
            if consumed == total {
                return Ok(consumed);
            }
            consumed += self.translate(&rest_of(queue, consumed));
        }
    }

    /// Whether lines are held.
    pub fn wants_write(&self) -> bool {
        self.out_pos < self.out.len()
    }

    /// Shuts the socket (`how`), after a best-effort write of held lines.
    pub fn shutdown(&mut self, how: Shutdown) {
        if how == Shutdown::Write {
            let _ = self.flush();
        }
        let _ = self.stream.shutdown(how);
    }
}

/// The slices of `queue` after its first `skip` bytes.
fn rest_of<'a>(queue: &'a [IoSlice<'a>], mut skip: usize) -> Vec<IoSlice<'a>> {
    let mut out = Vec::with_capacity(queue.len());
    for s in queue {
        let b: &'a [u8] = s;
        if skip >= b.len() {
            skip -= b.len();
            continue;
        }
        out.push(IoSlice::new(&b[skip..]));
        skip = 0;
    }
    out
}

/// The length of the whole frame starting `s`, if its header is there.
fn frame_len(s: &[u8]) -> Option<usize> {
    if s.len() < 3 {
        return None;
    }
    Some(usize::from(u16::from_be_bytes([s[1], s[2]])) + FRAME_OVERHEAD)
}
