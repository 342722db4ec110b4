//! One IRC connection's translator state, and its read side: IRC lines in,
//! chat-protocol and gateway frames out (for `Engine::on_input`). The write
//! side (frames out of the engine become IRC lines) is in `outbound/`.
//! The commands after registration (JOIN, PRIVMSG, KICK, MODE…) are in
//! `commands.rs`.
//!
//! Every command that can be answered becomes a CTX frame: a marker naming
//! the command (and the names it used), then the request itself. The
//! engine echoes the marker first, so the write side knows which command
//! an ERROR or reply belongs to, and whether the client was registered,
//! without a queue of its own. Replies the translator makes itself (CAP,
//! 421, 461, …) are queued the same way, so they keep their place among
//! the engine's.

mod commands;

use std::collections::VecDeque;
use std::sync::Arc;

use crate::codec::ClientMessage;
use crate::core::gateway::wire::Request;
use crate::irc::IrcConfig;
use crate::irc::caps::{self, Caps};
use crate::irc::line::{LineReader, Message, ParseError, Piece};
use crate::irc::names::{is_valid_irc_nick, native_nick};
use crate::irc::reply::{NICK_PLACEHOLDER, line, num};

/// What a CTX marker's first byte says the command was.
pub(crate) mod ctx {
    /// JOIN: room.
    pub const JOIN: u8 = b'J';
    /// PART: room.
    pub const PART: u8 = b'P';
    /// PRIVMSG/NOTICE: target as typed.
    pub const MSG: u8 = b'M';
    /// NAMES: channel as typed.
    pub const NAMES: u8 = b'N';
    /// WHO: mask as typed.
    pub const WHO: u8 = b'W';
    /// WHOIS: nick as typed.
    pub const WHOIS: u8 = b'I';
    /// TOPIC: channel as typed.
    pub const TOPIC: u8 = b'T';
    /// KICK: channel, nick.
    pub const KICK: u8 = b'K';
    /// MODE on a channel: channel as typed.
    pub const MODE: u8 = b'O';
    /// PING: token.
    pub const PING: u8 = b'G';
    /// USER or PASS again (462 once registered).
    pub const REREGISTER: u8 = b'U';
    /// A line of the translator's own, nick placeholder inside.
    pub const LINE: u8 = b'X';
    /// CAP REQ granted: the capabilities.
    pub const CAP_ACK: u8 = b'C';
    /// LIST.
    pub const LIST: u8 = b'L';
    /// QUIT: reason.
    pub const QUIT: u8 = b'Q';
    /// AWAY, OPER, LUSERS and the like: nothing to remember.
    pub const OTHER: u8 = b'Z';
    /// A registration attempt (NICK before 001): nothing to remember.
    pub const REGISTER: u8 = b'R';
    /// MOTD.
    pub const MOTD: u8 = b'D';
    /// An unknown command: its name.
    pub const UNKNOWN: u8 = b'E';

    /// Whether a command of this kind needs registration (else 451).
    pub fn needs_registration(kind: u8) -> bool {
        !matches!(kind, PING | REREGISTER | LINE | CAP_ACK | QUIT | REGISTER)
    }
}

/// An IRC connection's translator: feed it the client's bytes
/// ([`IrcSession::on_client_bytes`]) and the engine's frames for it
/// ([`IrcSession::on_server_frame`]).
#[derive(Debug)]
pub struct IrcSession {
    pub(crate) cfg: Arc<IrcConfig>,
    reader: LineReader,
    // Registration, as the read side sees it.
    pass: String,
    nick: Option<String>,
    user: Option<(String, String)>,
    cap_hold: bool,
    /// Capabilities granted (read side's view, for CAP LIST).
    granted: Caps,
    // Write side (outbound/).
    /// The registered nick (native spelling), once WELCOME came.
    pub(crate) me: Option<String>,
    /// Capabilities in effect for output.
    pub(crate) caps: Caps,
    /// The last CTX marker the engine echoed.
    pub(crate) ctx: Vec<u8>,
    /// Whether the client was registered when that marker was handled.
    pub(crate) ctx_registered: bool,
    /// Collecting a JOIN's or NAMES' reply.
    pub(crate) pending: Option<crate::irc::outbound::Pending>,
    /// After WELCOME, until the LUSERS of the welcome burst.
    pub(crate) burst: bool,
    /// Channels (native room names, as spelt) the client is in.
    pub(crate) joined: Vec<String>,
    /// Joined rooms known to be quiet (`quiet.rs`).
    pub(crate) quiet: Vec<String>,
    /// Folded nicks whose QUIT was already shown (one per quit, not per room).
    pub(crate) quit_shown: VecDeque<String>,
    /// Reasons of quits announced by QUIT_NOTE, by nick.
    pub(crate) quit_reasons: VecDeque<(String, String)>,
    /// Batch references handed out.
    pub(crate) batches: u64,
    /// Away state, for 301 in replies.
    pub(crate) away: bool,
    /// Server operator.
    pub(crate) oper: bool,
    /// User mode `+i` (read side's view).
    invisible: bool,
}

fn ascii_fold(s: &str) -> String {
    s.to_ascii_lowercase()
}

impl IrcSession {
    /// A fresh connection's translator.
    pub fn new(cfg: Arc<IrcConfig>) -> Self {
        IrcSession {
            cfg,
            reader: LineReader::default(),
            pass: String::new(),
            nick: None,
            user: None,
            cap_hold: false,
            granted: Caps::default(),
            me: None,
            caps: Caps::default(),
            ctx: Vec::new(),
            ctx_registered: false,
            pending: None,
            burst: false,
            joined: Vec::new(),
            quiet: Vec::new(),
            quit_shown: VecDeque::new(),
            quit_reasons: VecDeque::new(),
            batches: 0,
            away: false,
            oper: false,
            invisible: false,
        }
    }

    /// Bytes of a partial line held.
    pub fn held(&self) -> usize {
        self.reader.held()
    }

    /// Turns the client's bytes into frames for the engine, appended to `frames`.
    pub fn on_client_bytes(&mut self, bytes: &[u8], frames: &mut Vec<u8>) {
        self.reader.push(bytes);
        loop {
            let mut reader = std::mem::take(&mut self.reader);
            let piece = match reader.next_piece() {
                None => None,
                Some(Piece::TooLong) => Some(Err(())),
                Some(Piece::Line(l)) => Some(Ok(l.to_vec())),
            };
            self.reader = reader;
            match piece {
                None => break,
                Some(Err(())) => {
                    self.own_line(frames, num::ERR_INPUTTOOLONG, &["Input line was too long"])
                }
                Some(Ok(l)) => self.on_line(&l, frames),
            }
        }
        self.reader.release_if_empty();
    }

    /// Queues a numeric of the translator's own (nick filled in later).
    pub(crate) fn own_line(&self, frames: &mut Vec<u8>, numeric: &str, params: &[&str]) {
        let mut l = Vec::with_capacity(64);
        let mut all: Vec<&str> = Vec::with_capacity(params.len() + 1);
        let ph = [NICK_PLACEHOLDER];
        let ph = std::str::from_utf8(&ph).unwrap_or("*");
        all.push(ph);
        all.extend_from_slice(params);
        line(&mut l, None, &self.cfg.server_name, numeric, &all, false);
        self.raw_own(frames, &l);
    }

    /// Queues a whole line of the translator's own (the nick placeholder
    /// may appear in it).
    pub(crate) fn raw_own(&self, frames: &mut Vec<u8>, l: &[u8]) {
        let mut c = Vec::with_capacity(l.len() + 1);
        c.push(ctx::LINE);
        c.extend_from_slice(l);
        self.send_ctx_long(frames, &c);
    }

    /// A CTX frame whose marker may be longer than 255 bytes (a LINES
    /// frame carries it instead, marker byte first).
    fn send_ctx_long(&self, frames: &mut Vec<u8>, c: &[u8]) {
        if c.len() <= 255 {
            self.send(frames, Request::Ctx { ctx: c, inner: &[] });
        } else {
            self.send(frames, Request::Lines(&c[1..]));
        }
    }

    /// Appends a gateway request frame.
    pub(crate) fn send(&self, frames: &mut Vec<u8>, r: Request<'_>) {
        let _ = r.encode(frames, self.cfg.max_payload);
    }

    /// A CTX marker `kind` + `args` (NUL-separated) with a chat request inside.
    fn ctx_chat(&self, frames: &mut Vec<u8>, kind: u8, args: &[&str], inner: ClientMessage<'_>) {
        let mut p = Vec::with_capacity(64);
        let _ = inner.encode_payload(&mut p);
        self.ctx_payload(frames, kind, args, &p);
    }

    /// A CTX marker with a gateway request inside.
    fn ctx_gw(&self, frames: &mut Vec<u8>, kind: u8, args: &[&str], inner: Request<'_>) {
        let mut f = Vec::with_capacity(64);
        if inner.encode(&mut f, self.cfg.max_payload).is_err() {
            return;
        }
        // The payload of the encoded frame: after STX and LEN, before CRC and ETX.
        let p = &f[3..f.len() - 5];
        self.ctx_payload(frames, kind, args, p);
    }

    fn ctx_payload(&self, frames: &mut Vec<u8>, kind: u8, args: &[&str], inner: &[u8]) {
        let mut c = Vec::with_capacity(32);
        c.push(kind);
        for (i, a) in args.iter().enumerate() {
            if i > 0 {
                c.push(0);
            }
            c.extend_from_slice(a.as_bytes());
        }
        c.truncate(255);
        let r = Request::Ctx { ctx: &c, inner };
        if r.encode(frames, self.cfg.max_payload).is_err() {
            // Too long for a frame: cannot happen for lines of 512 bytes,
            // but never send a request cut short.
        }
    }

    fn on_line(&mut self, raw: &[u8], frames: &mut Vec<u8>) {
        let m = match Message::parse(raw) {
            Ok(m) => m,
            Err(ParseError::NoCommand) => return,
            Err(ParseError::InvalidUtf8) => {
                let cmd = Message::command_of_raw(raw);
                let mut l = Vec::new();
                line(
                    &mut l,
                    None,
                    &self.cfg.server_name,
                    "FAIL",
                    &[&cmd, "INVALID_UTF8", "Message rejected: it is not UTF-8"],
                    true,
                );
                self.raw_own(frames, &l);
                return;
            }
        };
        let cmd = m.command.to_ascii_uppercase();
        match cmd.as_str() {
            "CAP" => self.on_cap(&m, frames),
            "PASS" => self.on_pass(&m, frames),
            "NICK" => self.on_nick(&m, frames),
            "USER" => self.on_user(&m, frames),
            "PING" => match m.param(0) {
                Some(token) => self.ctx_payload(frames, ctx::PING, &[token], &[]),
                None => self.own_line(frames, num::ERR_NOORIGIN, &["No origin specified"]),
            },
            "PONG" => self.send(frames, Request::Noop),
            "QUIT" => {
                let reason = m.param(0).unwrap_or("");
                self.ctx_payload(frames, ctx::QUIT, &[reason], &[]);
                self.send(frames, Request::Quit(reason));
            }
            _ => self.on_command(&cmd, &m, frames),
        }
    }

    fn need(&self, m: &Message<'_>, n: usize, cmd: &str, frames: &mut Vec<u8>) -> bool {
        if m.params.len() < n || m.params[..n].iter().any(|p| p.is_empty()) {
            self.own_line(
                frames,
                num::ERR_NEEDMOREPARAMS,
                &[cmd, "Not enough parameters"],
            );
            return false;
        }
        true
    }

    fn on_cap(&mut self, m: &Message<'_>, frames: &mut Vec<u8>) {
        let sub = m.param(0).unwrap_or("").to_ascii_uppercase();
        let server = self.cfg.server_name.clone();
        let mut l = Vec::new();
        let ph = std::str::from_utf8(&[NICK_PLACEHOLDER])
            .unwrap_or("*")
            .to_owned();
        match sub.as_str() {
            "LS" => {
                if self.me.is_none() {
                    self.cap_hold = true;
                }
                let v302 = m.param(1).and_then(|v| v.parse::<u32>().ok()).unwrap_or(0) >= 302;
                line(
                    &mut l,
                    None,
                    &server,
                    "CAP",
                    &[&ph, "LS", &caps::ls(v302)],
                    true,
                );
            }
            "LIST" => {
                line(
                    &mut l,
                    None,
                    &server,
                    "CAP",
                    &[&ph, "LIST", &self.granted.names()],
                    true,
                );
            }
            "REQ" => {
                if self.me.is_none() {
                    self.cap_hold = true;
                }
                let asked = m.param(1).unwrap_or("");
                match self.granted.apply(asked) {
                    Some(next) => {
                        self.granted = next;
                        let mut c = vec![ctx::CAP_ACK];
                        c.extend_from_slice(next.bits().to_string().as_bytes());
                        c.push(0);
                        c.extend_from_slice(asked.as_bytes());
                        self.send_ctx_long(frames, &c);
                        return;
                    }
                    None => line(&mut l, None, &server, "CAP", &[&ph, "NAK", asked], true),
                }
            }
            "END" => {
                self.cap_hold = false;
                self.try_register(frames);
                return;
            }
            _ => {
                let sub = m.param(0).unwrap_or("");
                line(
                    &mut l,
                    None,
                    &server,
                    "410",
                    &[&ph, sub, "Invalid CAP command"],
                    false,
                );
            }
        }
        self.raw_own(frames, &l);
    }

    fn on_pass(&mut self, m: &Message<'_>, frames: &mut Vec<u8>) {
        if !self.need(m, 1, "PASS", frames) {
            return;
        }
        if self.me.is_some() || (self.nick.is_some() && self.user.is_some()) {
            self.ctx_payload(frames, ctx::REREGISTER, &[], &[]);
            return;
        }
        self.pass = m.params[0].to_owned();
    }

    fn on_user(&mut self, m: &Message<'_>, frames: &mut Vec<u8>) {
        if self.user.is_some() || self.me.is_some() {
            self.ctx_payload(frames, ctx::REREGISTER, &[], &[]);
            return;
        }
        if !self.need(m, 4, "USER", frames) {
            return;
        }
        let user: String = m.params[0]
            .chars()
            .filter(|c| c.is_ascii_graphic() && *c != '@' && *c != '!')
            .take(16)
            .collect();
        let user = if user.is_empty() { "user".into() } else { user };
        let realname = crate::irc::text::truncate_at_char(m.params[3], 200).to_owned();
        self.user = Some((user, realname));
        self.try_register(frames);
    }

    fn on_nick(&mut self, m: &Message<'_>, frames: &mut Vec<u8>) {
        let Some(nick) = m.param(0).filter(|n| !n.is_empty()) else {
            self.own_line(frames, num::ERR_NONICKNAMEGIVEN, &["No nickname given"]);
            return;
        };
        if !is_valid_irc_nick(nick) {
            self.own_line(
                frames,
                num::ERR_ERRONEUSNICKNAME,
                &[nick, "Erroneous nickname"],
            );
            return;
        }
        let native = native_nick(nick).into_owned();
        if self.me.is_some() {
            self.send(
                frames,
                Request::Nick {
                    nick: &native,
                    token: "",
                    user: "",
                    realname: "",
                },
            );
            return;
        }
        self.nick = Some(native);
        self.try_register(frames);
    }

    /// NICK and USER given and no CAP negotiation open: ask the engine.
    fn try_register(&mut self, frames: &mut Vec<u8>) {
        if self.cap_hold || self.me.is_some() {
            return;
        }
        let (Some(nick), Some((user, realname))) = (&self.nick, &self.user) else {
            return;
        };
        self.send(
            frames,
            Request::Nick {
                nick,
                token: &self.pass,
                user,
                realname,
            },
        );
        self.send(frames, Request::Lusers);
    }
}
