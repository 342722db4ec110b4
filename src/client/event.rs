//! Typed client events: what the network layer reports to a front end (the
//! full-screen UI or plain mode), built from server messages and from the
//! connection's own life (connecting, disconnects, round-trip times).
//!
//! Also holds [`Incoming`], an owned copy of one decoded server message (the
//! form in which the socket reader hands frames to the network controller),
//! and [`MembersAssembler`], which joins a member list split over several
//! MEMBERS frames (and keeps the partial-list flag of a quiet room's list,
//! protocol version 2).

use std::collections::HashMap;

use serde::Serialize;

use crate::codec::{
    ErrorCode, FLAG_MORE, FLAG_PARTIAL, FLAG_REPLAYED, LeftReason, NameKey, ROOM_QUIET,
    ServerMessage,
};

/// One thing that happened, as a front end sees it.
///
/// Serialises (serde, internally tagged by `"event"`) to the JSON objects that
/// `--json` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ClientEvent {
    /// A connection attempt is starting (attempt 0 is the first).
    Connecting {
        /// The server address as given.
        server: String,
        /// Attempt number, 0 for the first connection.
        attempt: u32,
    },
    /// The server accepted our HELLO (WELCOME).
    Connected {
        /// Our nick as registered.
        nick: String,
        /// The server's name.
        server_name: String,
        /// The server's frame payload limit.
        max_payload: u16,
        /// The server's keepalive period in seconds (0 = none).
        keepalive_secs: u16,
    },
    /// Registration is complete and every frame caused by it (the default
    /// room's join, re-joins after a reconnect) has arrived.
    Ready,
    /// A room message.
    Message {
        /// Room.
        room: String,
        /// Sender.
        from: String,
        /// Text.
        text: String,
        /// Server-wide sequence number.
        seq: u64,
        /// Server time of acceptance, Unix milliseconds.
        time_ms: u64,
        /// Replayed from the room's history on join.
        replayed: bool,
    },
    /// A private message (to us, or our own copy of one we sent).
    Private {
        /// Sender.
        from: String,
        /// Recipient.
        to: String,
        /// Text.
        text: String,
        /// Server-wide sequence number.
        seq: u64,
        /// Server time of acceptance, Unix milliseconds.
        time_ms: u64,
    },
    /// Someone (maybe us) joined a room.
    Joined {
        /// Room.
        room: String,
        /// Nick.
        nick: String,
    },
    /// Someone (maybe us) left a room.
    Left {
        /// Room.
        room: String,
        /// Nick.
        nick: String,
        /// The wire reason code.
        reason_code: u8,
        /// The reason in words ("parted", "quit", ...).
        reason: String,
    },
    /// A room's member list (all MEMBERS frames of one list joined).
    Members {
        /// Room.
        room: String,
        /// The members, in the order the server sent them.
        nicks: Vec<String>,
        /// Only part of the members: the room is quiet (protocol version 2,
        /// MEMBERS flags bit 1); the count comes with the ROOM that follows.
        partial: bool,
    },
    /// A room's presence summary (ROOM, protocol version 2): sent when a
    /// room turns quiet, about once a second while a quiet room's member
    /// count changes, after a quiet room's member list, and (not quiet)
    /// when it turns back to normal.
    Room {
        /// Room.
        room: String,
        /// The room is quiet: joins and departures of others are not
        /// announced, and member lists are partial.
        quiet: bool,
        /// The member count.
        members: u32,
    },
    /// A round-trip time measured from a keepalive PING and its PONG.
    Rtt {
        /// Round-trip time in microseconds.
        micros: u64,
    },
    /// An ERROR from the server.
    ServerError {
        /// The wire code.
        code: u16,
        /// The protocol's name for the code (`not_in_room`, ...), or `unknown`.
        name: String,
        /// The server's detail text.
        detail: String,
    },
    /// A request refused locally, before reaching the server.
    Refused {
        /// Why, in words.
        reason: String,
    },
    /// The connection was lost or closed.
    Disconnected {
        /// Why, in words.
        reason: String,
    },
    /// A reconnect is scheduled.
    Reconnecting {
        /// Attempt number of the coming connection.
        attempt: u32,
        /// Delay before it, in milliseconds.
        delay_ms: u64,
        /// How the previous connection or attempt ended.
        reason: String,
    },
    /// Something odd that does not end the connection (an undecodable frame
    /// from the server).
    Warning {
        /// What, in words.
        message: String,
    },
    /// A barrier requested by the front end was passed: every frame caused
    /// by requests sent before it has arrived.
    Barrier {
        /// The id the front end gave.
        id: u64,
    },
    /// The network side ended cleanly (after a quit); no more events follow.
    Finished,
    /// The network side gave up (cannot connect, registration refused, kicked,
    /// or connection lost with reconnecting disabled); no more events follow.
    Fatal {
        /// Why, in words.
        message: String,
    },
}

impl ClientEvent {
    /// A LEFT event with its reason described.
    pub fn left(room: &str, nick: &str, reason_code: u8) -> ClientEvent {
        ClientEvent::Left {
            room: room.to_owned(),
            nick: nick.to_owned(),
            reason_code,
            reason: describe_left_reason(reason_code),
        }
    }

    /// A server ERROR event with the code's protocol name.
    pub fn server_error(code: u16, detail: &str) -> ClientEvent {
        ClientEvent::ServerError {
            code,
            name: ErrorCode::from_u16(code)
                .map_or("unknown", ErrorCode::name)
                .to_owned(),
            detail: detail.to_owned(),
        }
    }

    /// Whether no further events follow this one.
    pub fn is_final(&self) -> bool {
        matches!(self, ClientEvent::Finished | ClientEvent::Fatal { .. })
    }
}

/// A LEFT reason code in words; unknown codes are named by number.
pub fn describe_left_reason(code: u8) -> String {
    LeftReason::from_u8(code).map_or_else(|| format!("reason {code}"), |r| r.describe().to_owned())
}

/// An owned copy of one server message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// WELCOME.
    Welcome {
        /// Protocol version.
        version: u8,
        /// Nick as registered.
        nick: String,
        /// Server name.
        server_name: String,
        /// Payload limit.
        max_payload: u16,
        /// Keepalive period, seconds.
        keepalive_secs: u16,
    },
    /// MESSAGE.
    Message {
        /// Replayed from history.
        replayed: bool,
        /// Sequence number.
        seq: u64,
        /// Server time, Unix ms.
        time_ms: u64,
        /// Room.
        room: String,
        /// Sender.
        from: String,
        /// Text.
        text: String,
    },
    /// PRIVATE.
    Private {
        /// Sequence number.
        seq: u64,
        /// Server time, Unix ms.
        time_ms: u64,
        /// Sender.
        from: String,
        /// Recipient.
        to: String,
        /// Text.
        text: String,
    },
    /// JOINED.
    Joined {
        /// Room.
        room: String,
        /// Nick.
        nick: String,
    },
    /// LEFT.
    Left {
        /// Room.
        room: String,
        /// Nick.
        nick: String,
        /// Reason code.
        reason: u8,
    },
    /// One MEMBERS frame.
    Members {
        /// Room.
        room: String,
        /// More frames of this list follow.
        more: bool,
        /// A quiet room's partial list (version 2).
        partial: bool,
        /// The nicks in this frame.
        nicks: Vec<String>,
    },
    /// ROOM (version 2).
    Room {
        /// Room.
        room: String,
        /// The room is quiet.
        quiet: bool,
        /// The member count.
        members: u32,
    },
    /// PONG.
    Pong {
        /// The PING's token.
        token: u64,
    },
    /// ERROR.
    Error {
        /// Code.
        code: u16,
        /// Detail.
        detail: String,
    },
}

impl Incoming {
    /// Copies a decoded server message.
    pub fn from_message(msg: &ServerMessage<'_>) -> Incoming {
        match *msg {
            ServerMessage::Welcome {
                version,
                nick,
                server_name,
                max_payload,
                keepalive_secs,
            } => Incoming::Welcome {
                version,
                nick: nick.to_owned(),
                server_name: server_name.to_owned(),
                max_payload,
                keepalive_secs,
            },
            ServerMessage::Message {
                flags,
                seq,
                time_ms,
                room,
                from,
                text,
            } => Incoming::Message {
                replayed: flags & FLAG_REPLAYED != 0,
                seq,
                time_ms,
                room: room.to_owned(),
                from: from.to_owned(),
                text: text.to_owned(),
            },
            ServerMessage::Private {
                seq,
                time_ms,
                from,
                to,
                text,
                ..
            } => Incoming::Private {
                seq,
                time_ms,
                from: from.to_owned(),
                to: to.to_owned(),
                text: text.to_owned(),
            },
            ServerMessage::Joined { room, nick } => Incoming::Joined {
                room: room.to_owned(),
                nick: nick.to_owned(),
            },
            ServerMessage::Left { room, nick, reason } => Incoming::Left {
                room: room.to_owned(),
                nick: nick.to_owned(),
                reason,
            },
            ServerMessage::Members { room, flags, nicks } => Incoming::Members {
                room: room.to_owned(),
                more: flags & FLAG_MORE != 0,
                partial: flags & FLAG_PARTIAL != 0,
                nicks: nicks.iter().map(str::to_owned).collect(),
            },
            ServerMessage::Room {
                room,
                flags,
                members,
            } => Incoming::Room {
                room: room.to_owned(),
                quiet: flags & ROOM_QUIET != 0,
                members,
            },
            ServerMessage::Pong { token } => Incoming::Pong { token },
            ServerMessage::Error { code, detail } => Incoming::Error {
                code,
                detail: detail.to_owned(),
            },
        }
    }
}

/// The key under which a name is compared (ASCII lower-case, as the protocol
/// says two names are the same).
pub fn name_key(name: &str) -> String {
    NameKey::new(name).map_or_else(|| name.to_ascii_lowercase(), |k| k.as_str().to_owned())
}

/// A member list assembled from its MEMBERS frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberList {
    /// The room as spelt in the list's first frame.
    pub room: String,
    /// Every nick of the list, in the order received.
    pub nicks: Vec<String>,
    /// A quiet room's partial list (any of its frames had bit 1).
    pub partial: bool,
}

/// Joins member lists that the server split over several MEMBERS frames.
#[derive(Debug, Default)]
pub struct MembersAssembler {
    /// Lists still being received, by room key.
    partial: HashMap<String, MemberList>,
}

impl MembersAssembler {
    /// An assembler holding nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one frame; returns the whole list once its last frame (no
    /// "more" flag) has arrived.
    pub fn push(
        &mut self,
        room: String,
        more: bool,
        partial: bool,
        nicks: Vec<String>,
    ) -> Option<MemberList> {
        let key = name_key(&room);
        let entry = self
            .partial
            .entry(key.clone())
            .or_insert_with(|| MemberList {
                room,
                nicks: Vec::new(),
                partial: false,
            });
        entry.nicks.extend(nicks);
        entry.partial |= partial;
        if more {
            return None;
        }
        self.partial.remove(&key)
    }

    /// Drops partial lists (e.g. when the connection is lost).
    pub fn clear(&mut self) {
        self.partial.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::NickList;

    fn list(room: &str, nicks: &[&str], partial: bool) -> Option<MemberList> {
        Some(MemberList {
            room: room.into(),
            nicks: nicks.iter().map(|n| (*n).to_owned()).collect(),
            partial,
        })
    }

    #[test]
    fn members_frames_are_joined_until_the_last() {
        let mut a = MembersAssembler::new();
        assert_eq!(a.push("Lobby".into(), true, false, vec!["a".into()]), None);
        assert_eq!(
            a.push("other".into(), false, false, vec!["x".into()]),
            list("other", &["x"], false)
        );
        assert_eq!(
            a.push("LOBBY".into(), false, false, vec!["b".into(), "c".into()]),
            list("Lobby", &["a", "b", "c"], false)
        );
        assert_eq!(
            a.push("lobby".into(), false, true, vec!["z".into()]),
            list("lobby", &["z"], true)
        );
        // The partial flag of any frame marks the whole list.
        assert_eq!(a.push("q".into(), true, true, vec!["a".into()]), None);
        assert_eq!(
            a.push("q".into(), false, false, vec!["b".into()]),
            list("q", &["a", "b"], true)
        );
    }

    #[test]
    fn incoming_copies_flags_and_fields() {
        let list = ["a", "b"];
        let m = ServerMessage::Members {
            room: "r",
            flags: FLAG_MORE,
            nicks: NickList::List(&list),
        };
        assert_eq!(
            Incoming::from_message(&m),
            Incoming::Members {
                room: "r".into(),
                more: true,
                partial: false,
                nicks: vec!["a".into(), "b".into()]
            }
        );
        let m = ServerMessage::Members {
            room: "r",
            flags: FLAG_PARTIAL,
            nicks: NickList::List(&list),
        };
        assert!(matches!(
            Incoming::from_message(&m),
            Incoming::Members {
                more: false,
                partial: true,
                ..
            }
        ));
        for (flags, quiet) in [(ROOM_QUIET, true), (0, false)] {
            let m = ServerMessage::Room {
                room: "big",
                flags,
                members: 19_342,
            };
            assert_eq!(
                Incoming::from_message(&m),
                Incoming::Room {
                    room: "big".into(),
                    quiet,
                    members: 19_342
                }
            );
        }
        let m = ServerMessage::Message {
            flags: FLAG_REPLAYED,
            seq: 7,
            time_ms: 9,
            room: "r",
            from: "bob",
            text: "hi",
        };
        assert!(matches!(
            Incoming::from_message(&m),
            Incoming::Message {
                replayed: true,
                seq: 7,
                time_ms: 9,
                ..
            }
        ));
    }

    #[test]
    fn events_serialise_with_an_event_tag() {
        let e = ClientEvent::left("lobby", "bob", 0);
        let v: serde_json::Value = serde_json::to_value(&e).unwrap();
        assert_eq!(v["event"], "left");
        assert_eq!(v["reason"], "parted");
        assert_eq!(v["reason_code"], 0);
        let e = ClientEvent::server_error(9, "x");
        let v: serde_json::Value = serde_json::to_value(&e).unwrap();
        assert_eq!(v["event"], "server_error");
        assert_eq!(v["name"], "not_in_room");
        assert_eq!(
            serde_json::to_value(ClientEvent::server_error(99, "")).unwrap()["name"],
            "unknown"
        );
        assert_eq!(describe_left_reason(42), "reason 42");
        let e = ClientEvent::Room {
            room: "lobby".into(),
            quiet: true,
            members: 1001,
        };
        let v: serde_json::Value = serde_json::to_value(&e).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"event": "room", "room": "lobby", "quiet": true, "members": 1001})
        );
    }
}
