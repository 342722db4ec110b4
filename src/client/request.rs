//! Requests a front end hands to the network layer, and the checks made
//! locally before one goes on the wire (names, text rules, and the length
//! limit that follows from the server's `max_payload`).

use thiserror::Error;

use crate::codec::{
    ClientMessage, is_valid_nick, is_valid_room, is_valid_text, max_message_text, max_private_text,
};

/// What a front end asks the network layer to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// JOIN a room.
    Join(String),
    /// PART a room.
    Part(String),
    /// SAY text to a room.
    Say {
        /// Room.
        room: String,
        /// Text.
        text: String,
    },
    /// WHISPER text to a nick.
    Whisper {
        /// Recipient.
        to: String,
        /// Text.
        text: String,
    },
    /// WHO of a room.
    Who(String),
    /// Report [`crate::client::event::ClientEvent::Barrier`] with this id once
    /// every frame caused by earlier requests has arrived (a PING/PONG).
    Barrier(u64),
    /// Send BYE, wait for the server to close, and stop.
    Quit,
}

/// Why a request was refused before reaching the server.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Refusal {
    /// The room name breaks the naming rules.
    #[error("\"{0}\" is not a valid room name (1 to 64 bytes, no spaces or control characters)")]
    BadRoom(String),
    /// The nick breaks the naming rules.
    #[error("\"{0}\" is not a valid nick (1 to 32 bytes, no spaces or control characters)")]
    BadNick(String),
    /// The text holds a control character other than LF or TAB.
    #[error("the text holds control characters that cannot be sent")]
    BadText,
    /// The text would make a MESSAGE or PRIVATE larger than the server allows.
    #[error("message too long: {len} bytes, at most {max} fit here; not sent")]
    TooLong {
        /// The text's length in bytes.
        len: usize,
        /// The longest text that fits.
        max: usize,
    },
    /// Not connected, so nothing can be sent.
    #[error("not connected; not sent")]
    NotConnected,
}

impl Request {
    /// Checks the request against the protocol's rules for a client
    /// registered as `nick` on a server with `max_payload`.
    pub fn check(&self, nick: &str, max_payload: usize) -> Result<(), Refusal> {
        match self {
            Request::Join(room) | Request::Part(room) | Request::Who(room) => check_room(room),
            Request::Say { room, text } => {
                check_room(room)?;
                check_text(text, max_message_text(max_payload, room, nick))
            }
            Request::Whisper { to, text } => {
                if !is_valid_nick(to) {
                    return Err(Refusal::BadNick(to.clone()));
                }
                check_text(text, max_private_text(max_payload, nick, to))
            }
            Request::Barrier(_) | Request::Quit => Ok(()),
        }
    }

    /// The wire message for this request (`None` for barrier and quit, which
    /// the network layer handles itself).
    pub fn message(&self) -> Option<ClientMessage<'_>> {
        Some(match self {
            Request::Join(room) => ClientMessage::Join { room },
            Request::Part(room) => ClientMessage::Part { room },
            Request::Say { room, text } => ClientMessage::Say { room, text },
            Request::Whisper { to, text } => ClientMessage::Whisper { to, text },
            Request::Who(room) => ClientMessage::Who { room },
            Request::Barrier(_) | Request::Quit => return None,
        })
    }
}

fn check_room(room: &str) -> Result<(), Refusal> {
    if is_valid_room(room) {
        Ok(())
    } else {
        Err(Refusal::BadRoom(room.to_owned()))
    }
}

fn check_text(text: &str, max: usize) -> Result<(), Refusal> {
    if !is_valid_text(text) {
        return Err(Refusal::BadText);
    }
    if text.len() > max {
        return Err(Refusal::TooLong {
            len: text.len(),
            max,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn say(room: &str, text: &str) -> Request {
        Request::Say {
            room: room.into(),
            text: text.into(),
        }
    }

    #[test]
    fn text_length_follows_max_payload() {
        // MESSAGE overhead is 22 bytes plus room and nick.
        let max = 512 - 22 - "lobby".len() - "alice".len();
        assert_eq!(say("lobby", &"x".repeat(max)).check("alice", 512), Ok(()));
        assert_eq!(
            say("lobby", &"x".repeat(max + 1)).check("alice", 512),
            Err(Refusal::TooLong { len: max + 1, max })
        );
        let w = Request::Whisper {
            to: "bob".into(),
            text: "y".repeat(512 - 22 - 5 - 3 + 1),
        };
        assert!(matches!(
            w.check("alice", 512),
            Err(Refusal::TooLong { .. })
        ));
    }

    #[test]
    fn names_and_text_are_checked() {
        assert_eq!(
            Request::Join("a b".into()).check("me", 4096),
            Err(Refusal::BadRoom("a b".into()))
        );
        assert_eq!(
            say("r", "bell\u{7}").check("me", 4096),
            Err(Refusal::BadText)
        );
        assert_eq!(say("r", "two\nlines\tok").check("me", 4096), Ok(()));
        let w = Request::Whisper {
            to: "x".repeat(33),
            text: "hi".into(),
        };
        assert!(matches!(w.check("me", 4096), Err(Refusal::BadNick(_))));
        assert_eq!(Request::Quit.check("me", 4096), Ok(()));
    }

    #[test]
    fn messages_map_to_the_wire() {
        assert_eq!(
            Request::Who("r".into()).message(),
            Some(ClientMessage::Who { room: "r" })
        );
        assert_eq!(Request::Barrier(1).message(), None);
        assert!(
            Refusal::TooLong {
                len: 5000,
                max: 4066
            }
            .to_string()
            .contains("5000 bytes, at most 4066")
        );
    }
}
