//! Plain mode, for scripts and tests: reads lines from stdin (the same
//! commands as the full-screen client; other lines are said to the current
//! room, which is the last room joined, at first the server's default room)
//! and prints each event as one line, or as one JSON object with `--json`.
//!
//! Input lines wait until registration is complete, and a `/join` or `/part`
//! completes (a PING/PONG barrier) before the next line is read, so a script
//! such as `/join dev` then `hello` says hello in `dev`. On `/quit` or end of
//! input the client sends BYE and prints everything the server still sends
//! until it closes, then exits 0. It exits 1 with a message on stderr when it
//! cannot connect, registration is refused, or the connection is lost for
//! good.

use std::collections::VecDeque;
use std::io::{self, BufRead, Write};
use std::process::ExitCode;
use std::sync::mpsc::{self, Sender};

use crate::client::command::{self, Command, HELP, ParseError};
use crate::client::event::{ClientEvent, name_key};
use crate::client::format;
use crate::client::net::{self, NetConfig, NetHandle};
use crate::client::request::Request;
use crate::codec::names_equal;

/// Everything plain mode reacts to.
#[derive(Debug)]
enum PlainInput {
    Net(ClientEvent),
    Line(String),
    Eof,
}

impl From<ClientEvent> for PlainInput {
    fn from(e: ClientEvent) -> Self {
        PlainInput::Net(e)
    }
}

/// Reads stdin lines (lossily decoded, line endings removed) until its end.
fn spawn_stdin_reader(tx: Sender<PlainInput>) -> io::Result<()> {
    std::thread::Builder::new()
        .name("stxchat-stdin".into())
        .spawn(move || {
            let mut stdin = io::stdin().lock();
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match stdin.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => {
                        let _ = tx.send(PlainInput::Eof);
                        return;
                    }
                    Ok(_) => {
                        while matches!(buf.last(), Some(b'\n' | b'\r')) {
                            buf.pop();
                        }
                        let line = String::from_utf8_lossy(&buf).into_owned();
                        if tx.send(PlainInput::Line(line)).is_err() {
                            return;
                        }
                    }
                }
            }
        })?;
    Ok(())
}

/// Where plain mode writes events.
struct Printer<W: Write> {
    out: W,
    json: bool,
    /// Writing failed (e.g. the reader of a pipe went away).
    broken: bool,
}

impl<W: Write> Printer<W> {
    fn event(&mut self, event: &ClientEvent) {
        let line = if self.json {
            format::json_line(event)
        } else {
            format::text_line(event)
        };
        if let Some(line) = line {
            self.line(&line);
        }
    }

    fn help(&mut self, text: &str) {
        if self.json {
            let v = serde_json::json!({ "event": "help", "text": text });
            self.line(&v.to_string());
        } else {
            self.line(text);
        }
    }

    fn line(&mut self, line: &str) {
        if self.broken {
            return;
        }
        if writeln!(self.out, "{line}")
            .and_then(|()| self.out.flush())
            .is_err()
        {
            self.broken = true;
        }
    }
}

/// Plain mode's view of the session.
struct Session {
    /// Our nick as registered.
    nick: String,
    /// Registered, and the frames registration causes have arrived.
    ready: bool,
    /// Rooms we are in, in the order joined.
    rooms: Vec<String>,
    /// Lines read but not handled yet.
    held: VecDeque<String>,
    /// Stdin has ended.
    eof: bool,
    /// A barrier whose PONG we wait for before the next line.
    waiting: Option<u64>,
    next_barrier: u64,
    /// Quit was sent.
    quitting: bool,
    /// The connection was lost (a reconnect may follow).
    offline: bool,
}

impl Session {
    /// The current room: the last one joined.
    fn current(&self) -> Option<&str> {
        self.rooms.last().map(String::as_str)
    }

    /// Tracks our own joins and leaves.
    fn track(&mut self, event: &ClientEvent) {
        match event {
            ClientEvent::Connected { nick, .. } => {
                self.nick = nick.clone();
                self.ready = false;
                self.offline = false;
                self.rooms.clear();
            }
            ClientEvent::Ready => self.ready = true,
            ClientEvent::Disconnected { .. } => {
                self.ready = false;
                self.offline = true;
                self.waiting = None;
            }
            ClientEvent::Joined { room, nick } if names_equal(nick, &self.nick) => {
                let key = name_key(room);
                self.rooms.retain(|r| name_key(r) != key);
                self.rooms.push(room.clone());
            }
            ClientEvent::Left { room, nick, .. } if names_equal(nick, &self.nick) => {
                let key = name_key(room);
                self.rooms.retain(|r| name_key(r) != key);
            }
            ClientEvent::Barrier { id } if self.waiting == Some(*id) => self.waiting = None,
            _ => {}
        }
    }

    /// Whether the next held line may be handled now.
    fn can_proceed(&self) -> bool {
        self.ready && self.waiting.is_none() && !self.quitting
    }

    /// Handles one input line: what to send, if anything.
    fn line<W: Write>(&mut self, line: &str, printer: &mut Printer<W>) -> Vec<Request> {
        let refuse = |printer: &mut Printer<W>, reason: String| {
            printer.event(&ClientEvent::Refused { reason });
            Vec::new()
        };
        let no_room = "no current room: /join ROOM first".to_owned();
        match command::parse(line) {
            Err(ParseError::Empty) => Vec::new(),
            Err(e) => refuse(printer, e.to_string()),
            Ok(Command::Say(text)) => match self.current() {
                Some(room) => vec![Request::Say {
                    room: room.to_owned(),
                    text,
                }],
                None => refuse(printer, no_room),
            },
            Ok(Command::Join(room)) => self.with_barrier(Request::Join(room)),
            Ok(Command::Part(room)) => match room.or_else(|| self.current().map(str::to_owned)) {
                Some(room) => self.with_barrier(Request::Part(room)),
                None => refuse(printer, no_room),
            },
            Ok(Command::Msg { to, text }) => vec![Request::Whisper { to, text }],
            Ok(Command::Who(room)) => match room.or_else(|| self.current().map(str::to_owned)) {
                Some(room) => vec![Request::Who(room)],
                None => refuse(printer, no_room),
            },
            Ok(Command::Quit) => {
                self.quitting = true;
                vec![Request::Quit]
            }
            Ok(Command::Help) => {
                for h in HELP {
                    printer.help(h);
                }
                Vec::new()
            }
        }
    }

    /// A request followed by a barrier that holds further lines until the
    /// server has answered it.
    fn with_barrier(&mut self, request: Request) -> Vec<Request> {
        self.next_barrier += 1;
        self.waiting = Some(self.next_barrier);
        vec![request, Request::Barrier(self.next_barrier)]
    }
}

/// Runs plain mode; see the module documentation.
pub fn run(config: NetConfig, json: bool) -> ExitCode {
    let (tx, rx) = mpsc::channel();
    let net = match net::spawn(config.clone(), tx.clone()) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("stxchat client: cannot start the network thread: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = spawn_stdin_reader(tx) {
        eprintln!("stxchat client: cannot read stdin: {e}");
        return ExitCode::FAILURE;
    }
    let mut printer = Printer {
        out: io::stdout().lock(),
        json,
        broken: false,
    };
    let mut session = Session {
        nick: config.nick.clone(),
        ready: false,
        rooms: Vec::new(),
        held: VecDeque::new(),
        eof: false,
        waiting: None,
        next_barrier: 0,
        quitting: false,
        offline: false,
    };
    while let Ok(input) = rx.recv() {
        match input {
            PlainInput::Net(event) => {
                printer.event(&event);
                session.track(&event);
                match event {
                    ClientEvent::Finished => return ExitCode::SUCCESS,
                    ClientEvent::Fatal { message } => {
                        eprintln!("stxchat client: {message}");
                        return ExitCode::FAILURE;
                    }
                    _ => {}
                }
            }
            PlainInput::Line(line) => session.held.push_back(line),
            PlainInput::Eof => session.eof = true,
        }
        if printer.broken && !session.quitting {
            session.held.clear();
            session.eof = true;
        }
        if !pump(&mut session, &mut printer, &net) {
            return ExitCode::FAILURE;
        }
    }
    eprintln!("stxchat client: the network thread stopped unexpectedly");
    ExitCode::FAILURE
}

/// Handles held lines while allowed, and quits at the end of input; false if
/// the network side has gone away.
fn pump<W: Write>(session: &mut Session, printer: &mut Printer<W>, net: &NetHandle) -> bool {
    while session.can_proceed() {
        let Some(line) = session.held.pop_front() else {
            break;
        };
        for request in session.line(&line, printer) {
            if net.send(request).is_err() {
                eprintln!("stxchat client: the network thread stopped unexpectedly");
                return false;
            }
        }
    }
    // At the end of input, quit once every line is handled: when registered,
    // or when the connection is lost and there is nothing left to send.
    // (Before the first registration, wait for its outcome.)
    let idle = session.waiting.is_none() && session.held.is_empty();
    if session.eof && idle && !session.quitting && (session.ready || session.offline) {
        session.quitting = true;
        if net.send(Request::Quit).is_err() {
            eprintln!("stxchat client: the network thread stopped unexpectedly");
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session {
            nick: "alice".into(),
            ready: true,
            rooms: vec!["lobby".into()],
            held: VecDeque::new(),
            eof: false,
            waiting: None,
            next_barrier: 0,
            quitting: false,
            offline: false,
        }
    }

    fn printer() -> Printer<Vec<u8>> {
        Printer {
            out: Vec::new(),
            json: false,
            broken: false,
        }
    }

    #[test]
    fn text_goes_to_the_last_joined_room() {
        let mut s = session();
        let mut p = printer();
        assert_eq!(
            s.line("hi", &mut p),
            vec![Request::Say {
                room: "lobby".into(),
                text: "hi".into()
            }]
        );
        assert_eq!(
            s.line("/join dev", &mut p),
            vec![Request::Join("dev".into()), Request::Barrier(1)]
        );
        assert!(!s.can_proceed());
        s.track(&ClientEvent::Joined {
            room: "Dev".into(),
            nick: "ALICE".into(),
        });
        s.track(&ClientEvent::Barrier { id: 1 });
        assert!(s.can_proceed());
        assert_eq!(s.current(), Some("Dev"));
        s.track(&ClientEvent::left("dev", "alice", 0));
        assert_eq!(s.current(), Some("lobby"));
    }

    #[test]
    fn mistakes_are_printed_not_sent() {
        let mut s = session();
        s.rooms.clear();
        let mut p = printer();
        assert!(s.line("hello", &mut p).is_empty());
        assert!(s.line("/nope", &mut p).is_empty());
        let out = String::from_utf8(p.out).unwrap();
        assert_eq!(
            out,
            "error: no current room: /join ROOM first\nerror: unknown command /nope (try /help)\n"
        );
    }

    #[test]
    fn json_mode_prints_objects() {
        let mut p = Printer {
            out: Vec::new(),
            json: true,
            broken: false,
        };
        p.event(&ClientEvent::Joined {
            room: "r".into(),
            nick: "n".into(),
        });
        p.event(&ClientEvent::Rtt { micros: 1 });
        p.help("/quit");
        let out = String::from_utf8(p.out).unwrap();
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["event"], "joined");
        assert_eq!(lines[1]["event"], "help");
    }
}
