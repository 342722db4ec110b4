//! The IRC gateway: a sans-IO translator between IRC clients and the chat
//! engine (docs/IRC.md). IRC lines become the engine's requests — chat
//! protocol frames, plus the gateway requests of [`crate::core::gateway`]
//! for what the native protocol lacks — and the engine's frames for an IRC
//! connection become IRC lines. No sockets or clocks here: the driver's IRC
//! transport feeds bytes in and takes bytes out.
//!
//! - `line`: splitting the byte stream into lines under the 512-byte limit
//!   (tags apart), parsing tags, source, command, parameters.
//! - `reply`: numerics, writing lines, `server-time` stamps.
//! - `caps`: IRCv3 capabilities offered and CAP REQ.
//! - `names`: channel and nick mapping between the two worlds.
//! - `text`: splitting native text into lines, IRC text to native text.
//! - `session`: one connection's state and its read side (registration
//!   state machine, commands).
//! - `outbound`: its write side (frames to lines).
//! - `quiet`: quiet rooms as IRC users see them (counts, transitions).

pub mod caps;
pub mod line;
pub mod names;
pub mod outbound;
pub mod quiet;
pub mod reply;
pub mod session;
pub mod text;

pub use session::IrcSession;

/// The gateway's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IrcConfig {
    /// The IRC server name (source of numerics, PONG).
    pub server_name: String,
    /// The network name (ISUPPORT `NETWORK`).
    pub network: String,
    /// Host part shown in every user's source (`nick!nick@host`).
    pub host: String,
    /// The engine's `max_payload` (frames the translator builds fit it).
    pub max_payload: usize,
    /// Rooms one client may be in (ISUPPORT `CHANLIMIT`).
    pub max_rooms: usize,
    /// Message of the day, one entry per line; empty sends 422.
    pub motd: Vec<String>,
}

impl Default for IrcConfig {
    fn default() -> Self {
        IrcConfig {
            server_name: "stxchat".into(),
            network: "stxchat".into(),
            host: "stxchat".into(),
            max_payload: crate::codec::DEFAULT_MAX_PAYLOAD as usize,
            max_rooms: 32,
            motd: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests;
