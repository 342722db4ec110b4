//! Why a bench run could not produce a report.

use std::io;

/// A bench run that could not start or could not measure anything.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// An option is out of range or inconsistent.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// `--addr` does not resolve to a socket address.
    #[error("cannot resolve {addr}: {reason}")]
    Resolve {
        /// What was given.
        addr: String,
        /// Why it failed.
        reason: String,
    },
    /// The open-files limit cannot hold the connections.
    #[error("open-files limit {limit} is too low for {needed} connections (plus a margin of 64)")]
    FileLimit {
        /// The soft limit after raising it to the hard limit.
        limit: u64,
        /// Connections the run needs.
        needed: usize,
    },
    /// `--tls` cannot be set up (an unreadable `--ca`, a bad server name).
    #[error("TLS: {0}")]
    Tls(String),
    /// Creating a poll, waker or thread failed.
    #[error("generator setup: {0}")]
    Setup(#[from] io::Error),
    /// Not one connection of a needed kind got ready.
    #[error("no {what} got ready ({failed} connections failed); first error: {first_error}")]
    NotReady {
        /// Which kind (members, publishers, clients, connections).
        what: &'static str,
        /// Connections that failed.
        failed: u64,
        /// The first error seen.
        first_error: String,
    },
    /// The MESSAGE a SAY of this length becomes would exceed the server's payload limit.
    #[error(
        "text of {text} bytes does not fit the server's max_payload {max_payload} (room {room_len} bytes, nick up to {nick_len} bytes)"
    )]
    TextTooLong {
        /// Text bytes asked for.
        text: usize,
        /// The server's limit.
        max_payload: u16,
        /// Room name bytes.
        room_len: usize,
        /// Longest nick bytes.
        nick_len: usize,
    },
}
