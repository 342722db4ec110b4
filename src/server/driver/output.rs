//! The write side of the loop: the dirty list of connections with new
//! output, one write per connection per turn (arming WRITABLE only after a
//! partial write), and the closing phases (flush, then close).

use std::io::IoSlice;

use mio::{Interest, Token};

use crate::core::outbuf::MAX_IOV;
use crate::core::timers::{Deadline, TimerKind};
use crate::core::{ConnId, Now, Phase};
use crate::server::conn::Closing;

use super::{Server, WRITES_PER_TURN};

impl Server {
    pub(super) fn queue_flush(&mut self, id: ConnId) {
        if let Some(io) = self.engine.io_mut(id)
            && !io.flush_queued
        {
            io.flush_queued = true;
            self.flush.push(id);
        }
    }

    /// Starts closing what the engine gave up, then writes every connection
    /// with pending output once.
    pub(super) fn process_output(&mut self, now: Now) {
        self.engine.take_closes(&mut self.closes);
        let mut closes = std::mem::take(&mut self.closes);
        for &id in &closes {
            self.start_close(id, now);
        }
        closes.clear();
        self.closes = closes;
        let mut dirty = std::mem::take(&mut self.flush);
        self.engine.take_dirty(&mut dirty);
        for &id in &dirty {
            if let Some(io) = self.engine.io_mut(id) {
                io.flush_queued = false;
                self.write_out(id, now);
            }
        }
        dirty.clear();
        self.flush = dirty;
        // Writing may have closed more (hard errors): start those too.
        self.engine.take_closes(&mut self.closes);
        let closes = std::mem::take(&mut self.closes);
        for &id in &closes {
            self.start_close(id, now);
            self.write_out(id, now);
        }
    }

    pub(super) fn start_close(&mut self, id: ConnId, now: Now) {
        let flush_ms = self.cfg.close_flush.as_millis() as u64;
        let serial = match self.engine.session(id) {
            // Only what the engine closed: a connection finished earlier in
            // this turn may have left its slot to one accepted since.
            Some(s) if s.phase() == Phase::Closing => s.serial(),
            _ => return,
        };
        if let Some(io) = self.engine.io_mut(id)
            && io.closing == Closing::No
        {
            io.closing = Closing::Flushing;
            self.closing_timers.push(Deadline {
                at_ms: now.mono_ms + flush_ms,
                id,
                serial,
                kind: TimerKind::Closing,
            });
            self.queue_flush(id);
        }
    }

    /// Writes `id`'s queue (and the transport's own output): one vectored
    /// write of up to [`MAX_IOV`] pieces, repeated (at most
    /// [`WRITES_PER_TURN`] times) only while the socket took everything it
    /// was offered and more pieces wait; WRITABLE stays armed while some
    /// output is left.
    pub(super) fn write_out(&mut self, id: ConnId, now: Now) {
        let mut writes = 0;
        let (want_write, closing) = loop {
            let mut iov = [IoSlice::new(&[]); MAX_IOV];
            let Some((io, g)) = self.engine.output(id, &mut iov) else {
                return;
            };
            let mut written = 0;
            if g.queued > 0 || io.transport.wants_write() {
                match io.transport.write(&iov[..g.slices]) {
                    Ok(n) => written = n.min(g.bytes),
                    Err(e) => {
                        self.transport_failed(id, e, now);
                        return;
                    }
                }
            }
            let closing = io.closing;
            let own = io.transport.wants_write();
            if written > 0 {
                self.engine.consumed(id, written);
            }
            let left = g.queued - written;
            writes += 1;
            if written < g.bytes || left == 0 || writes == WRITES_PER_TURN {
                break (left > 0 || own, closing);
            }
        };
        let Some(io) = self.engine.io_mut(id) else {
            return;
        };
        if want_write != io.write_armed {
            let interest = if want_write {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            if self
                .poll
                .registry()
                .reregister(io.transport.stream(), Token(id), interest)
                .is_ok()
            {
                io.write_armed = want_write;
            }
        }
        if !want_write && closing == Closing::Flushing {
            self.end_flush(id, now);
        }
    }

    /// Flushing is over: shut the write side, then drain input briefly.
    pub(super) fn end_flush(&mut self, id: ConnId, now: Now) {
        let drain_ms = self.cfg.close_drain.as_millis() as u64;
        let serial = match self.engine.session(id) {
            Some(s) => s.serial(),
            None => return,
        };
        let Some(io) = self.engine.io_mut(id) else {
            return;
        };
        io.transport.shutdown_write();
        if io.eof {
            self.finish(id, now);
            return;
        }
        io.closing = Closing::Draining;
        self.closing_timers.push(Deadline {
            at_ms: now.mono_ms + drain_ms,
            id,
            serial,
            kind: TimerKind::Closing,
        });
        // Input may already be waiting (edge-triggered): look now.
        self.read_ready(id, now);
    }

    pub(super) fn closing_deadlines(&mut self, now: Now) {
        while let Some(d) = self.closing_timers.pop_due(now.mono_ms) {
            let Some(s) = self.engine.session(d.id) else {
                continue;
            };
            if s.serial() != d.serial || s.phase() != Phase::Closing {
                continue;
            }
            match s.io.closing {
                Closing::Flushing => self.end_flush(d.id, now),
                Closing::Draining => self.finish(d.id, now),
                Closing::No => {}
            }
        }
    }

    /// Closes the socket and forgets the connection.
    pub(super) fn finish(&mut self, id: ConnId, now: Now) {
        if let Some(mut io) = self.engine.remove(id, now) {
            let _ = self.poll.registry().deregister(io.transport.stream());
        }
    }
}
