//! The write side of the translator: the engine's frames for an IRC
//! connection become IRC lines (numerics in the order modern IRC documents
//! them: JOIN echo, 332/333, 353…, 366; 001–005, LUSERS, MOTD).
//!
//! The gateway's own replies (WHO, WHOIS, topics, modes, LIST…) are
//! translated in `replies.rs`.

mod replies;

use crate::codec::{ErrorCode, LeftReason, ServerMessage, names_equal};
use crate::core::gateway::wire::Reply;
use crate::irc::IrcConfig;
use crate::irc::caps::{self, Caps};
use crate::irc::names::{channel_of, irc_nick};
use crate::irc::reply::{NICK_PLACEHOLDER, line, num, server_time};
use crate::irc::session::{IrcSession, ctx};
use crate::irc::text::{irc_action, split_for_irc};

/// A JOIN or NAMES reply being collected until ROOM_INFO ends it.
#[derive(Debug)]
pub(crate) struct Pending {
    /// A JOIN (else NAMES).
    join: bool,
    /// The channel as the client typed it.
    typed: String,
    /// The member nicks so far.
    names: Vec<String>,
    /// Formatted history lines (JOIN with server-time).
    history: Vec<u8>,
    /// Whether the engine's JOINED for ourselves came (the JOIN took effect).
    joined: bool,
    /// The member count, if the room is quiet (its ROOM summary came).
    count: Option<u32>,
    /// Batch reference for the history.
    batch: String,
}

/// Bytes of `nick!nick@host` for `nick` (the source of its lines).
pub(crate) fn source_len(nick: &str, cfg: &IrcConfig) -> usize {
    let n = irc_nick(nick).len();
    2 * n + 2 + cfg.host.len()
}

fn source(nick: &str, cfg: &IrcConfig) -> String {
    let n = irc_nick(nick);
    let mut s = String::with_capacity(2 * n.len() + 2 + cfg.host.len());
    s.push_str(&n);
    s.push('!');
    s.push_str(&n);
    s.push('@');
    s.push_str(&cfg.host);
    s
}

fn left_reason_text(reason: u8) -> &'static str {
    match LeftReason::from_u8(reason) {
        Some(LeftReason::Quit) => "Quit",
        Some(LeftReason::TimedOut) => "Ping timeout",
        Some(LeftReason::SlowConsumer) => "Excess output (slow consumer)",
        Some(LeftReason::ServerShutdown) => "Server shutting down",
        Some(LeftReason::Kicked) => "Killed by an operator",
        _ => "Connection closed",
    }
}

impl IrcSession {
    /// The nick as the first parameter of numerics: ours, or `*` before 001.
    fn target(&self) -> String {
        self.me
            .as_deref()
            .map_or_else(|| "*".to_owned(), |n| irc_nick(n).into_owned())
    }

    fn is_me(&self, nick: &str) -> bool {
        self.me.as_deref().is_some_and(|m| names_equal(m, nick))
    }

    /// A numeric to the client.
    fn numeric(&self, out: &mut Vec<u8>, code: &str, params: &[&str]) {
        let t = self.target();
        let mut all: Vec<&str> = Vec::with_capacity(params.len() + 1);
        all.push(&t);
        all.extend_from_slice(params);
        line(out, None, &self.cfg.server_name, code, &all, false);
    }

    /// The CTX argument `i` (NUL-separated after the kind byte).
    fn ctx_arg(&self, i: usize) -> String {
        self.ctx
            .get(1..)
            .unwrap_or(&[])
            .split(|&b| b == 0)
            .nth(i)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .unwrap_or_default()
    }

    fn ctx_kind(&self) -> u8 {
        self.ctx.first().copied().unwrap_or(0)
    }

    /// Handles one frame payload the engine queued for this connection,
    /// appending IRC lines to `out`.
    pub fn on_server_frame(&mut self, payload: &[u8], out: &mut Vec<u8>) {
        let Some(&ty) = payload.first() else {
            return;
        };
        if Reply::is_reply_type(ty) {
            if let Ok(r) = Reply::decode(payload) {
                self.on_reply(r, out);
            }
        } else if let Ok(m) = ServerMessage::decode(payload) {
            self.on_native(m, out);
        }
    }

    fn own_template(&self, l: &[u8], out: &mut Vec<u8>) {
        let t = self.target();
        for &b in l {
            if b == NICK_PLACEHOLDER {
                out.extend_from_slice(t.as_bytes());
            } else {
                out.push(b);
            }
        }
    }

    fn on_ctx(&mut self, registered: bool, c: &[u8], out: &mut Vec<u8>) {
        let kind = c.first().copied().unwrap_or(0);
        match kind {
            ctx::LINE => {
                self.own_template(&c[1..], out);
                return;
            }
            ctx::CAP_ACK => {
                let body = &c[1..];
                let (bits, asked) = match body.iter().position(|&b| b == 0) {
                    Some(i) => (&body[..i], &body[i + 1..]),
                    None => (body, &[][..]),
                };
                let bits = std::str::from_utf8(bits)
                    .ok()
                    .and_then(|b| b.parse::<u8>().ok())
                    .unwrap_or(0);
                self.caps = Caps::from_bits(bits);
                let t = self.target();
                let asked = String::from_utf8_lossy(asked);
                line(
                    out,
                    None,
                    &self.cfg.server_name,
                    "CAP",
                    &[&t, "ACK", &asked],
                    true,
                );
                return;
            }
            _ => {}
        }
        self.ctx.clear();
        self.ctx.extend_from_slice(c);
        self.ctx_registered = registered;
        if ctx::needs_registration(kind) && !registered {
            self.numeric(out, num::ERR_NOTREGISTERED, &["You have not registered"]);
            self.ctx.clear();
            return;
        }
        match kind {
            ctx::PING => {
                let token = self.ctx_arg(0);
                line(
                    out,
                    None,
                    &self.cfg.server_name,
                    "PONG",
                    &[&self.cfg.server_name, &token],
                    false,
                );
            }
            ctx::REREGISTER if registered => {
                self.numeric(out, num::ERR_ALREADYREGISTERED, &["You may not reregister"]);
            }
            ctx::QUIT => {
                let reason = self.ctx_arg(0);
                let text = if reason.is_empty() {
                    "Closing Link: Quit".to_owned()
                } else {
                    format!("Closing Link: Quit: {reason}")
                };
                line(out, None, "", "ERROR", &[&text], true);
            }
            ctx::JOIN | ctx::NAMES => {
                self.batches += 1;
                self.pending = Some(Pending {
                    join: kind == ctx::JOIN,
                    typed: self.ctx_arg(0),
                    names: Vec::new(),
                    history: Vec::new(),
                    joined: false,
                    count: None,
                    batch: format!("h{}", self.batches),
                });
            }
            ctx::LIST => self.numeric(out, num::RPL_LISTSTART, &["Channel", "Users  Name"]),
            ctx::MOTD => self.motd(out),
            ctx::UNKNOWN => {
                let cmd = self.ctx_arg(0);
                self.numeric(out, num::ERR_UNKNOWNCOMMAND, &[&cmd, "Unknown command"]);
            }
            _ => {}
        }
    }

    fn motd(&self, out: &mut Vec<u8>) {
        if self.cfg.motd.is_empty() {
            self.numeric(out, num::ERR_NOMOTD, &["MOTD File is missing"]);
            return;
        }
        let start = format!("- {} Message of the day - ", self.cfg.server_name);
        self.numeric(out, num::RPL_MOTDSTART, &[&start]);
        for l in &self.cfg.motd {
            self.numeric(out, num::RPL_MOTD, &[&format!("- {l}")]);
        }
        self.numeric(out, num::RPL_ENDOFMOTD, &["End of /MOTD command."]);
    }

    fn welcome(&mut self, nick: &str, out: &mut Vec<u8>) {
        self.me = Some(nick.to_owned());
        self.burst = true;
        let cfg = self.cfg.clone();
        let n = irc_nick(nick).into_owned();
        self.numeric(
            out,
            num::RPL_WELCOME,
            &[&format!(
                "Welcome to the {} IRC gateway, {}",
                cfg.network,
                source(nick, &cfg)
            )],
        );
        self.numeric(
            out,
            num::RPL_YOURHOST,
            &[&format!(
                "Your host is {}, running version stxchat-{}",
                cfg.server_name,
                env!("CARGO_PKG_VERSION")
            )],
        );
        self.numeric(
            out,
            num::RPL_CREATED,
            &["This server speaks stxchat protocol 2 and IRC"],
        );
        let version = format!("stxchat-{}", env!("CARGO_PKG_VERSION"));
        self.numeric(
            out,
            num::RPL_MYINFO,
            &[&cfg.server_name, &version, "io", "ntov", "ov"],
        );
        let tokens = [
            "AWAYLEN=300".to_owned(),
            "CASEMAPPING=ascii".to_owned(),
            format!("CHANLIMIT=#:{}", cfg.max_rooms),
            "CHANMODES=,,,nt".to_owned(),
            format!("CHANNELLEN={}", crate::codec::MAX_ROOM_LEN + 1),
            "CHANTYPES=#".to_owned(),
            "KICKLEN=300".to_owned(),
            "MODES=4".to_owned(),
            format!("NETWORK={}", cfg.network),
            format!("NICKLEN={}", crate::codec::MAX_NICK_LEN),
            "PREFIX=(ov)@+".to_owned(),
            "STATUSMSG=".to_owned(),
            "TARGMAX=JOIN:,KICK:4,NAMES:,NOTICE:4,PART:,PRIVMSG:4,WHOIS:1".to_owned(),
            format!("TOPICLEN={}", crate::core::gateway::TOPIC_LEN),
            "UTF8ONLY".to_owned(),
        ];
        for chunk in tokens.chunks(12) {
            let mut p: Vec<&str> = chunk
                .iter()
                .map(String::as_str)
                .filter(|t| *t != "STATUSMSG=")
                .collect();
            p.push("are supported by this server");
            self.numeric(out, num::RPL_ISUPPORT, &p);
        }
        let _ = n;
    }

    fn on_native(&mut self, m: ServerMessage<'_>, out: &mut Vec<u8>) {
        match m {
            ServerMessage::Welcome { nick, .. } => self.welcome(nick, out),
            ServerMessage::Message {
                flags,
                time_ms,
                room,
                from,
                text,
                ..
            } => {
                if flags & crate::codec::FLAG_REPLAYED != 0 {
                    self.history(time_ms, room, from, text);
                    return;
                }
                if self.is_me(from) && !self.caps.has(caps::ECHO_MESSAGE) {
                    return;
                }
                let tags = self.time_tag(time_ms, None);
                self.text_lines(
                    out,
                    tags.as_deref(),
                    from,
                    "PRIVMSG",
                    &channel_of(room),
                    text,
                );
            }
            ServerMessage::Private {
                time_ms,
                from,
                to,
                text,
                ..
            } => {
                if self.is_me(from) && !self.is_me(to) && !self.caps.has(caps::ECHO_MESSAGE) {
                    return;
                }
                let tags = self.time_tag(time_ms, None);
                self.text_lines(out, tags.as_deref(), from, "PRIVMSG", &irc_nick(to), text);
            }
            ServerMessage::Joined { room, nick } => {
                if self.is_me(nick) {
                    match self.pending.as_mut() {
                        Some(p) if p.join => p.joined = true,
                        _ => {
                            let src = source(nick, &self.cfg);
                            line(out, None, &src, "JOIN", &[&channel_of(room)], false);
                            self.joined.push(room.to_owned());
                        }
                    }
                    return;
                }
                let folded = nick.to_ascii_lowercase();
                self.quit_shown.retain(|n| *n != folded);
                let src = source(nick, &self.cfg);
                line(out, None, &src, "JOIN", &[&channel_of(room)], false);
            }
            ServerMessage::Left { room, nick, reason } => {
                let src = source(nick, &self.cfg);
                if self.is_me(nick) {
                    self.left_room(room);
                    line(out, None, &src, "PART", &[&channel_of(room)], false);
                    return;
                }
                match LeftReason::from_u8(reason) {
                    Some(LeftReason::Parted) => {
                        line(out, None, &src, "PART", &[&channel_of(room)], false);
                    }
                    Some(LeftReason::Kicked) if !self.joined.is_empty() => {
                        // A kick by a server-side operator (the admin
                        // channel): shown as a quit, once.
                        self.show_quit(nick, reason, out);
                    }
                    _ => self.show_quit(nick, reason, out),
                }
            }
            ServerMessage::Members { room, nicks, .. } => {
                if let Some(p) = self.pending.as_mut()
                    && room_matches(&self.cfg, p, room)
                {
                    p.names.extend(nicks.iter().map(str::to_owned));
                }
            }
            ServerMessage::Room {
                room,
                flags,
                members,
            } => self.on_room_summary(room, flags, members, out),
            ServerMessage::Pong { .. } => {}
            ServerMessage::Error { code, detail } => self.on_error(code, detail, out),
        }
    }

    fn show_quit(&mut self, nick: &str, reason: u8, out: &mut Vec<u8>) {
        let folded = nick.to_ascii_lowercase();
        if self.quit_shown.contains(&folded) {
            return;
        }
        if self.quit_shown.len() >= 64 {
            self.quit_shown.pop_front();
        }
        self.quit_shown.push_back(folded.clone());
        let text = match self.quit_reasons.iter().position(|(n, _)| *n == folded) {
            Some(i) => {
                let (_, r) = self.quit_reasons.remove(i).unwrap_or_default();
                if r.is_empty() {
                    "Quit".to_owned()
                } else {
                    format!("Quit: {r}")
                }
            }
            None => left_reason_text(reason).to_owned(),
        };
        let src = source(nick, &self.cfg);
        line(out, None, &src, "QUIT", &[&text], true);
    }

    fn time_tag(&self, time_ms: u64, batch: Option<&str>) -> Option<String> {
        let mut t = String::new();
        if let Some(b) = batch {
            t.push_str("batch=");
            t.push_str(b);
        }
        if self.caps.has(caps::SERVER_TIME) {
            if !t.is_empty() {
                t.push(';');
            }
            t.push_str("time=");
            t.push_str(&server_time(time_ms));
        }
        (!t.is_empty()).then_some(t)
    }

    /// A replayed MESSAGE: kept for the JOIN reply if `server-time` is on
    /// (else history is not shown: old messages must not look new).
    fn history(&mut self, time_ms: u64, room: &str, from: &str, text: &str) {
        if !self.caps.has(caps::SERVER_TIME) {
            return;
        }
        let Some(p) = self.pending.take() else {
            return;
        };
        let mut p = p;
        if p.join && room_matches(&self.cfg, &p, room) {
            let batch = self.caps.has(caps::BATCH).then(|| p.batch.clone());
            let tags = self.time_tag(time_ms, batch.as_deref());
            let mut h = std::mem::take(&mut p.history);
            self.text_lines(
                &mut h,
                tags.as_deref(),
                from,
                "PRIVMSG",
                &channel_of(room),
                text,
            );
            p.history = h;
        }
        self.pending = Some(p);
    }

    /// Native text as PRIVMSG or NOTICE lines that fit 512 bytes with the
    /// full source, split at whitespace where possible, one per native line.
    fn text_lines(
        &self,
        out: &mut Vec<u8>,
        tags: Option<&str>,
        from: &str,
        cmd: &str,
        target: &str,
        text: &str,
    ) {
        let src = source(from, &self.cfg);
        let fixed = 1 + src.len() + 1 + cmd.len() + 1 + target.len() + 2 + 2;
        let room = crate::irc::line::MAX_LINE.saturating_sub(fixed);
        let (action, body) = match irc_action(text) {
            Some(a) => (true, a),
            None => (false, text),
        };
        let room = if action { room.saturating_sub(9) } else { room };
        split_for_irc(body, room, |piece| {
            if action {
                let p = format!("\u{1}ACTION {piece}\u{1}");
                line(out, tags, &src, cmd, &[target, &p], true);
            } else {
                line(out, tags, &src, cmd, &[target, piece], true);
            }
        });
    }

    fn on_error(&mut self, code: u16, detail: &str, out: &mut Vec<u8>) {
        let Some(code) = ErrorCode::from_u16(code) else {
            return;
        };
        let kind = self.ctx_kind();
        let a0 = self.ctx_arg(0);
        match code {
            ErrorCode::NotInRoom => match kind {
                ctx::MSG => self.numeric(
                    out,
                    num::ERR_CANNOTSENDTOCHAN,
                    &[&a0, "Cannot send to channel"],
                ),
                _ => self.numeric(
                    out,
                    num::ERR_NOTONCHANNEL,
                    &[&a0, "You're not on that channel"],
                ),
            },
            ErrorCode::NoSuchRoom => match kind {
                ctx::NAMES => {
                    self.pending = None;
                    let end = self.ctx_arg(1);
                    if !end.is_empty() {
                        self.numeric(out, num::RPL_ENDOFNAMES, &[&end, "End of /NAMES list"]);
                    }
                }
                _ => self.numeric(out, num::ERR_NOSUCHCHANNEL, &[&a0, "No such channel"]),
            },
            ErrorCode::NoSuchNick => {
                let who = if kind == ctx::MODE {
                    self.ctx_arg(1)
                } else {
                    a0.clone()
                };
                self.numeric(out, num::ERR_NOSUCHNICK, &[&who, "No such nick/channel"]);
                if kind == ctx::WHOIS {
                    self.numeric(
                        out,
                        num::ERR_NOSUCHNICK.replace("401", "318").as_str(),
                        &[&a0, "End of /WHOIS list"],
                    );
                }
            }
            ErrorCode::BadName => {
                self.numeric(out, num::ERR_NOSUCHCHANNEL, &[&a0, "Illegal channel name"])
            }
            ErrorCode::TooManyRooms => {
                self.pending = None;
                self.numeric(
                    out,
                    num::ERR_TOOMANYCHANNELS,
                    &[&a0, "You have joined too many channels"],
                );
            }
            ErrorCode::TooLong => {
                self.numeric(out, num::ERR_INPUTTOOLONG, &["Input line was too long"])
            }
            ErrorCode::RateLimited => {
                let t = self.target();
                let text = format!("Message to {a0} dropped: you are sending too fast");
                line(
                    out,
                    None,
                    &self.cfg.server_name,
                    "NOTICE",
                    &[&t, &text],
                    true,
                );
            }
            ErrorCode::Malformed => {
                let t = self.target();
                let text = format!("Not sent: {detail}");
                line(
                    out,
                    None,
                    &self.cfg.server_name,
                    "NOTICE",
                    &[&t, &text],
                    true,
                );
            }
            ErrorCode::AuthFailed => {
                self.numeric(out, num::ERR_PASSWDMISMATCH, &["Password incorrect"]);
                line(
                    out,
                    None,
                    "",
                    "ERROR",
                    &["Closing Link: Bad password"],
                    true,
                );
            }
            ErrorCode::AlreadyRegistered => {
                self.numeric(out, num::ERR_ALREADYREGISTERED, &["You may not reregister"]);
            }
            ErrorCode::NotRegistered => {
                self.numeric(out, num::ERR_NOTREGISTERED, &["You have not registered"]);
            }
            ErrorCode::NickTaken => {
                self.numeric(
                    out,
                    num::ERR_NICKNAMEINUSE,
                    &["*", "Nickname is already in use"],
                );
            }
            code if code.closes(self.me.is_some()) => {
                let text = format!("Closing Link: {detail}");
                line(out, None, "", "ERROR", &[&text], true);
            }
            _ => {}
        }
    }
}

impl IrcSession {
    /// Keeps a quiet room's member count for the pending JOIN or NAMES
    /// reply of `room`; whether one was pending.
    pub(crate) fn note_pending_count(&mut self, room: &str, count: Option<u32>) -> bool {
        match self.pending.as_mut() {
            Some(p) if room_matches(&self.cfg, p, room) => {
                p.count = count;
                true
            }
            _ => false,
        }
    }
}

/// Whether a frame's room is the one a pending reply is for.
fn room_matches(_cfg: &IrcConfig, p: &Pending, room: &str) -> bool {
    crate::irc::names::room_of(&p.typed).is_some_and(|r| names_equal(&r, room))
}
