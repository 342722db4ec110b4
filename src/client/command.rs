//! Parsing of one input line: a `/command` or text to say.
//!
//! Commands: `/join ROOM`, `/part [ROOM]`, `/msg NICK TEXT`, `/who [ROOM]`,
//! `/quit`, `/help` (with a few familiar aliases). A line starting with `//`
//! is text that starts with `/`. Anything else is text for the current room
//! or conversation.

use thiserror::Error;

/// What one input line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Text for the current room or conversation.
    Say(String),
    /// Join (or create) a room.
    Join(String),
    /// Leave a room; `None` means the current one.
    Part(Option<String>),
    /// A private message.
    Msg {
        /// Recipient nick.
        to: String,
        /// Text.
        text: String,
    },
    /// Show a room's members; `None` means the current room.
    Who(Option<String>),
    /// Leave the server and exit.
    Quit,
    /// Show the command summary.
    Help,
}

/// Why a line is not a command.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    /// Nothing but white space.
    #[error("empty line")]
    Empty,
    /// A `/word` that is no command.
    #[error("unknown command /{0} (try /help)")]
    Unknown(String),
    /// A command with missing or extra arguments.
    #[error("usage: {0}")]
    Usage(&'static str),
}

/// The command summary `/help` shows, one entry a line.
pub const HELP: &[&str] = &[
    "/join ROOM        join (or create) a room",
    "/part [ROOM]      leave a room (default: the current one)",
    "/msg NICK TEXT    send a private message",
    "/who [ROOM]       list a room's members (default: the current one)",
    "/quit             leave the server",
    "/help             this summary",
    "TEXT              say TEXT to the current room (//TEXT to start it with /)",
];

/// The keys of the full-screen client, one entry a line.
pub const KEYS_HELP: &[&str] = &[
    "Tab / Shift-Tab, Alt-1..9   switch tabs",
    "PageUp / PageDown           scroll messages",
    "Up / Down                   input history",
    "Ctrl-C                      quit",
];

const USAGE_JOIN: &str = "/join ROOM";
const USAGE_PART: &str = "/part [ROOM]";
const USAGE_MSG: &str = "/msg NICK TEXT";
const USAGE_WHO: &str = "/who [ROOM]";
const USAGE_QUIT: &str = "/quit";
const USAGE_HELP: &str = "/help";

/// Parses one input line (without its line ending).
pub fn parse(line: &str) -> Result<Command, ParseError> {
    if line.trim().is_empty() {
        return Err(ParseError::Empty);
    }
    let Some(rest) = line.strip_prefix('/') else {
        return Ok(Command::Say(line.to_owned()));
    };
    if rest.starts_with('/') {
        return Ok(Command::Say(rest.to_owned()));
    }
    let rest = rest.trim_start();
    let (word, args) = split_word(rest);
    match word.to_ascii_lowercase().as_str() {
        "join" | "j" => one_arg(args, USAGE_JOIN).map(Command::Join),
        "part" | "leave" => optional_arg(args, USAGE_PART).map(Command::Part),
        "msg" | "m" | "whisper" | "w" | "query" => {
            let (to, text) = split_word(args.trim_start());
            if to.is_empty() || text.trim().is_empty() {
                return Err(ParseError::Usage(USAGE_MSG));
            }
            Ok(Command::Msg {
                to: to.to_owned(),
                text: text.to_owned(),
            })
        }
        "who" | "names" => optional_arg(args, USAGE_WHO).map(Command::Who),
        "quit" | "q" | "exit" | "bye" => no_arg(args, USAGE_QUIT, Command::Quit),
        "help" | "h" | "?" => no_arg(args, USAGE_HELP, Command::Help),
        "" => Err(ParseError::Unknown(String::new())),
        other => Err(ParseError::Unknown(other.to_owned())),
    }
}

/// Splits off the first white-space-separated word; the rest keeps its
/// inner spacing, minus the one separator.
fn split_word(s: &str) -> (&str, &str) {
    match s.find(char::is_whitespace) {
        Some(i) => {
            let sep = s[i..].chars().next().map_or(1, char::len_utf8);
            (&s[..i], &s[i + sep..])
        }
        None => (s, ""),
    }
}

fn one_arg(args: &str, usage: &'static str) -> Result<String, ParseError> {
    match optional_arg(args, usage)? {
        Some(a) => Ok(a),
        None => Err(ParseError::Usage(usage)),
    }
}

fn optional_arg(args: &str, usage: &'static str) -> Result<Option<String>, ParseError> {
    let mut words = args.split_whitespace();
    let first = words.next().map(str::to_owned);
    if words.next().is_some() {
        return Err(ParseError::Usage(usage));
    }
    Ok(first)
}

fn no_arg(args: &str, usage: &'static str, cmd: Command) -> Result<Command, ParseError> {
    if args.trim().is_empty() {
        Ok(cmd)
    } else {
        Err(ParseError::Usage(usage))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_said_as_typed() {
        assert_eq!(
            parse("hello  world "),
            Ok(Command::Say("hello  world ".into()))
        );
        assert_eq!(parse(" leading"), Ok(Command::Say(" leading".into())));
        assert_eq!(
            parse("//not a command"),
            Ok(Command::Say("/not a command".into()))
        );
        assert_eq!(parse("a/b"), Ok(Command::Say("a/b".into())));
    }

    #[test]
    fn empty_lines_are_not_commands() {
        assert_eq!(parse(""), Err(ParseError::Empty));
        assert_eq!(parse("   \t"), Err(ParseError::Empty));
    }

    #[test]
    fn join_part_who() {
        assert_eq!(parse("/join rust"), Ok(Command::Join("rust".into())));
        assert_eq!(parse("/JOIN   Rust  "), Ok(Command::Join("Rust".into())));
        assert_eq!(parse("/j x"), Ok(Command::Join("x".into())));
        assert_eq!(parse("/join"), Err(ParseError::Usage("/join ROOM")));
        assert_eq!(parse("/join a b"), Err(ParseError::Usage("/join ROOM")));
        assert_eq!(parse("/part"), Ok(Command::Part(None)));
        assert_eq!(parse("/part dev"), Ok(Command::Part(Some("dev".into()))));
        assert_eq!(parse("/leave dev"), Ok(Command::Part(Some("dev".into()))));
        assert_eq!(parse("/who"), Ok(Command::Who(None)));
        assert_eq!(parse("/who lobby"), Ok(Command::Who(Some("lobby".into()))));
        assert_eq!(parse("/who a b"), Err(ParseError::Usage("/who [ROOM]")));
    }

    #[test]
    fn msg_keeps_the_text_spacing() {
        assert_eq!(
            parse("/msg bob hi  there "),
            Ok(Command::Msg {
                to: "bob".into(),
                text: "hi  there ".into()
            })
        );
        assert_eq!(
            parse("/w Émile ça va"),
            Ok(Command::Msg {
                to: "Émile".into(),
                text: "ça va".into()
            })
        );
        assert_eq!(parse("/msg bob"), Err(ParseError::Usage("/msg NICK TEXT")));
        assert_eq!(
            parse("/msg bob   "),
            Err(ParseError::Usage("/msg NICK TEXT"))
        );
        assert_eq!(parse("/msg"), Err(ParseError::Usage("/msg NICK TEXT")));
    }

    #[test]
    fn quit_help_and_unknown() {
        assert_eq!(parse("/quit"), Ok(Command::Quit));
        assert_eq!(parse("/Q"), Ok(Command::Quit));
        assert_eq!(parse("/quit now"), Err(ParseError::Usage("/quit")));
        assert_eq!(parse("/help"), Ok(Command::Help));
        assert_eq!(
            parse("/frobnicate x"),
            Err(ParseError::Unknown("frobnicate".into()))
        );
        assert_eq!(parse("/"), Err(ParseError::Unknown(String::new())));
        assert_eq!(
            ParseError::Unknown("x".into()).to_string(),
            "unknown command /x (try /help)"
        );
    }
}
