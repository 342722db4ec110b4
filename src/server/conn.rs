//! The driver's per-connection data: the transport and its closing phase.

use crate::server::transport::Transport;

/// Where a closing connection stands (PROTOCOL.md section 3: flush for at
/// most 2 s, shut down the write side, discard input for at most 1 s, close).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closing {
    /// Open, not closing.
    No,
    /// Writing out what is queued (the last frame may be an ERROR).
    Flushing,
    /// Write side shut; reading and discarding until EOF or the deadline.
    Draining,
}

/// A connection's transport and I/O state; lives inside the engine's session.
#[derive(Debug)]
pub struct Io {
    /// The socket and the protocol layered on it (plain, later TLS, ...).
    pub transport: Transport,
    /// Closing phase.
    pub closing: Closing,
    /// WRITABLE interest is registered (only while output is pending).
    pub write_armed: bool,
    /// Queued for a write this loop turn.
    pub flush_queued: bool,
    /// The peer's EOF was seen.
    pub eof: bool,
    /// Waiting in the read backlog (its read budget ran out last turn).
    pub backlogged: bool,
}

impl Io {
    /// I/O state for a freshly accepted connection.
    pub fn new(transport: Transport) -> Self {
        Io {
            transport,
            closing: Closing::No,
            write_armed: false,
            flush_queued: false,
            eof: false,
            backlogged: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Session;

    #[test]
    fn an_idle_plain_connection_stays_small() {
        // 240 bytes on main before the transport abstraction and the
        // shared output queue (which took the session from 240 to 216 and
        // leaves room for a boxed transport variant).
        assert!(std::mem::size_of::<Session<Io>>() <= 240);
        eprintln!(
            "Session<Io> = {} bytes, Io = {} bytes",
            std::mem::size_of::<Session<Io>>(),
            std::mem::size_of::<Io>()
        );
    }
}
