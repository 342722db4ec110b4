//! Protocol error codes (ERROR frames) and LEFT reasons.

/// ERROR codes, PROTOCOL.md section 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u16)]
pub enum ErrorCode {
    /// A framing error; closes.
    BadFrame = 1,
    /// Bytes missing or left over, bad lengths, bad UTF-8, bad text.
    Malformed = 2,
    /// An unknown type byte after WELCOME.
    UnknownType = 3,
    /// Anything but HELLO, PING or BYE before WELCOME; closes.
    NotRegistered = 4,
    /// HELLO with an unsupported version; closes.
    BadVersion = 5,
    /// Invalid nick (HELLO, closes) or room (JOIN, does not close).
    BadName = 6,
    /// The nick is in use; closes.
    NickTaken = 7,
    /// The HELLO token does not match the server password; closes.
    AuthFailed = 8,
    /// SAY or PART to a room the client is not in.
    NotInRoom = 9,
    /// WHO of a room that does not exist.
    NoSuchRoom = 10,
    /// WHISPER to a nick that is not registered.
    NoSuchNick = 11,
    /// Over the per-connection message rate; the message is dropped.
    RateLimited = 12,
    /// JOIN beyond the rooms-per-client limit.
    TooManyRooms = 13,
    /// The server is at its connection limit; closes.
    ServerFull = 14,
    /// Handshake or keepalive timeout; closes.
    Timeout = 15,
    /// Output limit exceeded; closes.
    SlowConsumer = 16,
    /// The server is shutting down; closes.
    ShuttingDown = 17,
    /// A second HELLO.
    AlreadyRegistered = 18,
    /// The MESSAGE or PRIVATE would exceed max_payload; dropped.
    TooLong = 19,
    /// Removed by an operator; closes.
    Kicked = 20,
    /// A server of a cluster could not reach the cluster; the request had
    /// no effect. Closes only when it answers HELLO (new in version 2).
    Unavailable = 21,
}

impl ErrorCode {
    /// Every code, in numeric order.
    pub const ALL: [ErrorCode; 21] = [
        ErrorCode::BadFrame,
        ErrorCode::Malformed,
        ErrorCode::UnknownType,
        ErrorCode::NotRegistered,
        ErrorCode::BadVersion,
        ErrorCode::BadName,
        ErrorCode::NickTaken,
        ErrorCode::AuthFailed,
        ErrorCode::NotInRoom,
        ErrorCode::NoSuchRoom,
        ErrorCode::NoSuchNick,
        ErrorCode::RateLimited,
        ErrorCode::TooManyRooms,
        ErrorCode::ServerFull,
        ErrorCode::Timeout,
        ErrorCode::SlowConsumer,
        ErrorCode::ShuttingDown,
        ErrorCode::AlreadyRegistered,
        ErrorCode::TooLong,
        ErrorCode::Kicked,
        ErrorCode::Unavailable,
    ];

    /// The length of a counter table indexed by wire value (`code as usize`,
    /// index 0 unused): one more than the highest code.
    pub const SLOTS: usize = ErrorCode::ALL.len() + 1;

    /// A zeroed counter table indexed by wire value ([`ErrorCode::SLOTS`]).
    pub fn counter_table() -> Vec<u64> {
        vec![0; ErrorCode::SLOTS]
    }

    /// The code for a wire value, if it is one of 1..=21.
    pub fn from_u16(v: u16) -> Option<ErrorCode> {
        ErrorCode::ALL.get(usize::from(v).checked_sub(1)?).copied()
    }

    /// The wire value.
    pub fn as_u16(self) -> u16 {
        self as u16
    }

    /// The protocol's name for the code (`bad_frame`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::BadFrame => "bad_frame",
            ErrorCode::Malformed => "malformed",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::NotRegistered => "not_registered",
            ErrorCode::BadVersion => "bad_version",
            ErrorCode::BadName => "bad_name",
            ErrorCode::NickTaken => "nick_taken",
            ErrorCode::AuthFailed => "auth_failed",
            ErrorCode::NotInRoom => "not_in_room",
            ErrorCode::NoSuchRoom => "no_such_room",
            ErrorCode::NoSuchNick => "no_such_nick",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::TooManyRooms => "too_many_rooms",
            ErrorCode::ServerFull => "server_full",
            ErrorCode::Timeout => "timeout",
            ErrorCode::SlowConsumer => "slow_consumer",
            ErrorCode::ShuttingDown => "shutting_down",
            ErrorCode::AlreadyRegistered => "already_registered",
            ErrorCode::TooLong => "too_long",
            ErrorCode::Kicked => "kicked",
            ErrorCode::Unavailable => "unavailable",
        }
    }

    /// Whether the server closes the connection after sending this code.
    /// `bad_name` and `unavailable` close only when they answer HELLO
    /// (`registered == false`).
    pub fn closes(self, registered: bool) -> bool {
        match self {
            ErrorCode::BadName | ErrorCode::Unavailable => !registered,
            ErrorCode::BadFrame
            | ErrorCode::NotRegistered
            | ErrorCode::BadVersion
            | ErrorCode::NickTaken
            | ErrorCode::AuthFailed
            | ErrorCode::ServerFull
            | ErrorCode::Timeout
            | ErrorCode::SlowConsumer
            | ErrorCode::ShuttingDown
            | ErrorCode::Kicked => true,
            _ => false,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// LEFT reasons, PROTOCOL.md section 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum LeftReason {
    /// PART.
    Parted = 0,
    /// BYE, EOF or reset.
    Quit = 1,
    /// Keepalive timeout.
    TimedOut = 2,
    /// Dropped as a slow consumer.
    SlowConsumer = 3,
    /// Closed for another error that closes the connection.
    Error = 4,
    /// Its server is shutting down (cluster peers only).
    ServerShutdown = 5,
    /// Kicked by an operator.
    Kicked = 6,
}

impl LeftReason {
    /// The reason for a wire value, if it is one of 0..=6.
    pub fn from_u8(v: u8) -> Option<LeftReason> {
        Some(match v {
            0 => LeftReason::Parted,
            1 => LeftReason::Quit,
            2 => LeftReason::TimedOut,
            3 => LeftReason::SlowConsumer,
            4 => LeftReason::Error,
            5 => LeftReason::ServerShutdown,
            6 => LeftReason::Kicked,
            _ => return None,
        })
    }

    /// The wire value.
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// A short human description ("parted", "quit", ...).
    pub fn describe(self) -> &'static str {
        match self {
            LeftReason::Parted => "parted",
            LeftReason::Quit => "quit",
            LeftReason::TimedOut => "timed out",
            LeftReason::SlowConsumer => "dropped as a slow consumer",
            LeftReason::Error => "closed after an error",
            LeftReason::ServerShutdown => "server shutting down",
            LeftReason::Kicked => "kicked by an operator",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_close_as_the_table_says() {
        for (i, c) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(c.as_u16() as usize, i + 1);
            assert_eq!(ErrorCode::from_u16(c.as_u16()), Some(*c));
        }
        assert_eq!(ErrorCode::from_u16(0), None);
        assert_eq!(ErrorCode::from_u16(22), None);
        assert_eq!(ErrorCode::SLOTS, 22);
        assert_eq!(ErrorCode::counter_table().len(), ErrorCode::SLOTS);
        let max = ErrorCode::ALL.iter().map(|c| c.as_u16()).max().unwrap();
        assert_eq!(usize::from(max) + 1, ErrorCode::SLOTS);
        let closing: Vec<u16> = ErrorCode::ALL
            .iter()
            .filter(|c| c.closes(true))
            .map(|c| c.as_u16())
            .collect();
        assert_eq!(closing, vec![1, 4, 5, 7, 8, 14, 15, 16, 17, 20]);
        assert!(ErrorCode::BadName.closes(false));
        assert!(!ErrorCode::BadName.closes(true));
        assert!(ErrorCode::Unavailable.closes(false));
        assert!(!ErrorCode::Unavailable.closes(true));
        assert_eq!(ErrorCode::Unavailable.name(), "unavailable");
    }

    #[test]
    fn left_reasons_round_trip() {
        for v in 0..=6 {
            assert_eq!(LeftReason::from_u8(v).map(LeftReason::as_u8), Some(v));
        }
        assert_eq!(LeftReason::from_u8(7), None);
    }
}
