//! IRCv3 capabilities the gateway offers, and CAP REQ handling (all or
//! nothing, `-cap` removes).

/// A set of capabilities.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Caps(u8);

/// The capabilities offered, by bit.
const ALL: [(&str, u8); 6] = [
    ("batch", 1),
    ("echo-message", 2),
    ("message-tags", 4),
    ("multi-prefix", 8),
    ("server-time", 16),
    ("userhost-in-names", 32),
];

/// `batch`.
pub const BATCH: u8 = 1;
/// `echo-message`.
pub const ECHO_MESSAGE: u8 = 2;
/// `message-tags`.
pub const MESSAGE_TAGS: u8 = 4;
/// `server-time`.
pub const SERVER_TIME: u8 = 16;
/// `userhost-in-names`.
pub const USERHOST_IN_NAMES: u8 = 32;

/// The CAP LS list (`302`: with values, of which none has any).
pub fn ls(_v302: bool) -> String {
    ALL.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(" ")
}

impl Caps {
    /// From bits (as carried in a CTX marker).
    pub fn from_bits(bits: u8) -> Caps {
        Caps(bits)
    }

    /// The bits.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// Whether `bit` is on.
    pub fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }

    /// The names of those on, space-separated.
    pub fn names(self) -> String {
        ALL.iter()
            .filter(|(_, b)| self.has(*b))
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The set after a CAP REQ of `asked`, or `None` if any is unknown (NAK).
    pub fn apply(self, asked: &str) -> Option<Caps> {
        let mut bits = self.0;
        let mut any = false;
        for word in asked.split(' ').filter(|w| !w.is_empty()) {
            any = true;
            let (remove, name) = match word.strip_prefix('-') {
                Some(n) => (true, n),
                None => (false, word),
            };
            let (_, bit) = ALL.iter().find(|(n, _)| *n == name)?;
            if remove {
                bits &= !bit;
            } else {
                bits |= bit;
            }
        }
        any.then_some(Caps(bits))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn req_is_all_or_nothing() {
        let c = Caps::default().apply("server-time batch").unwrap();
        assert!(c.has(SERVER_TIME) && c.has(BATCH) && !c.has(ECHO_MESSAGE));
        assert_eq!(c.apply("server-time foo"), None);
        assert_eq!(c.apply(""), None);
        let c = c.apply("-batch").unwrap();
        assert!(!c.has(BATCH));
        assert_eq!(c.names(), "server-time");
        assert!(ls(true).contains("message-tags"));
    }
}
