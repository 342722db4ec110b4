//! The read side for commands after registration: channel, message,
//! query and operator commands become CTX frames for the engine.

use super::{IrcSession, ascii_fold, ctx};
use crate::codec::ClientMessage;
use crate::core::gateway::wire::Request;
use crate::irc::line::Message;
use crate::irc::names::{native_nick, room_of};
use crate::irc::reply::{NICK_PLACEHOLDER, line, num};
use crate::irc::text::native_text;
use std::collections::HashSet;

impl IrcSession {
    pub(super) fn on_command(&mut self, cmd: &str, m: &Message<'_>, frames: &mut Vec<u8>) {
        match cmd {
            "JOIN" => {
                if !self.need(m, 1, "JOIN", frames) {
                    return;
                }
                if m.params[0] == "0" {
                    for room in self.joined.clone() {
                        let chan = crate::irc::names::channel_of(&room);
                        self.ctx_gw(
                            frames,
                            ctx::PART,
                            &[&chan],
                            Request::Part {
                                room: &room,
                                reason: "",
                            },
                        );
                    }
                    return;
                }
                for chan in m.params[0].split(',').filter(|c| !c.is_empty()) {
                    match room_of(chan) {
                        Some(room) => self.ctx_chat(
                            frames,
                            ctx::JOIN,
                            &[chan],
                            ClientMessage::Join { room: &room },
                        ),
                        None => self.own_line(
                            frames,
                            num::ERR_NOSUCHCHANNEL,
                            &[chan, "No such channel"],
                        ),
                    }
                }
            }
            "PART" => {
                if !self.need(m, 1, "PART", frames) {
                    return;
                }
                let reason = m.param(1).and_then(native_text).unwrap_or_default();
                let reason = crate::irc::text::truncate_at_char(&reason, 300).to_owned();
                for chan in m.params[0].split(',').filter(|c| !c.is_empty()) {
                    match room_of(chan) {
                        Some(room) => self.ctx_gw(
                            frames,
                            ctx::PART,
                            &[chan],
                            Request::Part {
                                room: &room,
                                reason: &reason,
                            },
                        ),
                        None => self.own_line(
                            frames,
                            num::ERR_NOSUCHCHANNEL,
                            &[chan, "No such channel"],
                        ),
                    }
                }
            }
            "PRIVMSG" | "NOTICE" => self.on_message(cmd == "NOTICE", m, frames),
            "TAGMSG" => {}
            "NAMES" => {
                let Some(chans) = m.param(0) else {
                    self.own_line(
                        frames,
                        num::ERR_NEEDMOREPARAMS,
                        &["NAMES", "Not enough parameters"],
                    );
                    return;
                };
                let list: Vec<&str> = chans.split(',').filter(|c| !c.is_empty()).collect();
                for (i, chan) in list.iter().enumerate() {
                    // One 366 at the end, naming the whole list.
                    let end = if i + 1 == list.len() { chans } else { "" };
                    match room_of(chan) {
                        Some(room) => self.ctx_chat(
                            frames,
                            ctx::NAMES,
                            &[chan, end],
                            ClientMessage::Who { room: &room },
                        ),
                        None if !end.is_empty() => {
                            self.own_line(frames, num::RPL_ENDOFNAMES, &[end, "End of /NAMES list"])
                        }
                        None => {}
                    }
                }
            }
            "WHO" => {
                let mask = m.param(0).unwrap_or("*");
                let (native, room) = match room_of(mask) {
                    Some(r) => (r.into_owned(), true),
                    None => (native_nick(mask).into_owned(), false),
                };
                self.ctx_gw(
                    frames,
                    ctx::WHO,
                    &[mask],
                    Request::Who {
                        mask: &native,
                        room,
                    },
                );
            }
            "WHOIS" => {
                if !self.need(m, 1, "WHOIS", frames) {
                    return;
                }
                let nick = m.params[m.params.len().min(2) - 1];
                let native = native_nick(nick);
                self.ctx_gw(frames, ctx::WHOIS, &[nick], Request::Whois(&native));
            }
            "LIST" => self.ctx_gw(frames, ctx::LIST, &[], Request::List),
            "TOPIC" => {
                if !self.need(m, 1, "TOPIC", frames) {
                    return;
                }
                let chan = m.params[0];
                let Some(room) = room_of(chan) else {
                    self.own_line(frames, num::ERR_NOSUCHCHANNEL, &[chan, "No such channel"]);
                    return;
                };
                let text = m.param(1).map(|t| {
                    crate::irc::text::truncate_at_char(t, crate::core::gateway::TOPIC_LEN)
                });
                let clean = text.map(|t| native_text(t).unwrap_or_default());
                self.ctx_gw(
                    frames,
                    ctx::TOPIC,
                    &[chan],
                    Request::Topic {
                        room: &room,
                        text: clean.as_deref(),
                    },
                );
            }
            "AWAY" => {
                let text = m.param(0).unwrap_or("");
                let text = crate::irc::text::truncate_at_char(text, 300);
                self.ctx_gw(frames, ctx::OTHER, &[], Request::Away(text));
            }
            "OPER" => {
                if !self.need(m, 2, "OPER", frames) {
                    return;
                }
                self.ctx_gw(
                    frames,
                    ctx::OTHER,
                    &[],
                    Request::Oper {
                        name: m.params[0],
                        password: m.params[1],
                    },
                );
            }
            "LUSERS" => self.ctx_gw(frames, ctx::OTHER, &[], Request::Lusers),
            "MOTD" => self.ctx_payload(frames, ctx::MOTD, &[], &[]),
            "KICK" => self.on_kick(m, frames),
            "MODE" => self.on_mode(m, frames),
            _ => {
                let cmd = crate::irc::text::truncate_at_char(cmd, 64);
                self.ctx_payload(frames, ctx::UNKNOWN, &[cmd], &[]);
            }
        }
    }

    fn on_message(&mut self, notice: bool, m: &Message<'_>, frames: &mut Vec<u8>) {
        let cmd = if notice { "NOTICE" } else { "PRIVMSG" };
        let Some(targets) = m.param(0).filter(|t| !t.is_empty()) else {
            if !notice {
                self.own_line(
                    frames,
                    num::ERR_NORECIPIENT,
                    &[&format!("No recipient given ({cmd})")],
                );
            }
            return;
        };
        let Some(text) = m.param(1).filter(|t| !t.is_empty()) else {
            if !notice {
                self.own_line(frames, num::ERR_NOTEXTTOSEND, &["No text to send"]);
            }
            return;
        };
        let Some(native) = native_text(text) else {
            return;
        };
        let mut seen = HashSet::new();
        for target in targets.split(',').filter(|t| !t.is_empty()).take(4) {
            if !seen.insert(ascii_fold(target)) {
                continue;
            }
            // The relayed line must fit 512 bytes for every IRC recipient.
            let me = self.me.as_deref().or(self.nick.as_deref()).unwrap_or("");
            let src = crate::irc::outbound::source_len(me, &self.cfg);
            let relayed = 1 + src + 1 + cmd.len() + 1 + target.len() + 2 + text.len() + 2;
            if relayed > crate::irc::line::MAX_LINE {
                if !notice {
                    self.own_line(frames, num::ERR_INPUTTOOLONG, &["Input line was too long"]);
                }
                continue;
            }
            match room_of(target) {
                Some(room) => {
                    if notice {
                        self.ctx_gw(
                            frames,
                            ctx::OTHER,
                            &[],
                            Request::Notice {
                                target: &room,
                                to_room: true,
                                text: &native,
                            },
                        );
                    } else {
                        self.ctx_chat(
                            frames,
                            ctx::MSG,
                            &[target],
                            ClientMessage::Say {
                                room: &room,
                                text: &native,
                            },
                        );
                    }
                }
                None => {
                    let to = native_nick(target);
                    if notice {
                        self.ctx_gw(
                            frames,
                            ctx::OTHER,
                            &[],
                            Request::Notice {
                                target: &to,
                                to_room: false,
                                text: &native,
                            },
                        );
                    } else {
                        self.ctx_chat(
                            frames,
                            ctx::MSG,
                            &[target],
                            ClientMessage::Whisper {
                                to: &to,
                                text: &native,
                            },
                        );
                    }
                }
            }
        }
    }

    fn on_kick(&mut self, m: &Message<'_>, frames: &mut Vec<u8>) {
        if !self.need(m, 2, "KICK", frames) {
            return;
        }
        let chans: Vec<&str> = m.params[0].split(',').filter(|c| !c.is_empty()).collect();
        let nicks: Vec<&str> = m.params[1].split(',').filter(|c| !c.is_empty()).collect();
        let default_reason = self.me.clone().unwrap_or_default();
        let reason = m
            .param(2)
            .filter(|r| !r.is_empty())
            .unwrap_or(&default_reason);
        let reason = native_text(reason).unwrap_or_else(|| default_reason.clone());
        for (i, nick) in nicks.iter().enumerate().take(4) {
            let chan = if chans.len() == nicks.len() {
                chans[i]
            } else {
                chans[0]
            };
            let Some(room) = room_of(chan) else {
                self.own_line(frames, num::ERR_NOSUCHCHANNEL, &[chan, "No such channel"]);
                continue;
            };
            let native = native_nick(nick);
            self.ctx_gw(
                frames,
                ctx::KICK,
                &[chan, nick],
                Request::Kick {
                    room: &room,
                    nick: &native,
                    reason: &reason,
                },
            );
        }
    }

    fn on_mode(&mut self, m: &Message<'_>, frames: &mut Vec<u8>) {
        if !self.need(m, 1, "MODE", frames) {
            return;
        }
        let target = m.params[0];
        let Some(room) = room_of(target) else {
            // User modes: only queries of one's own, and no settable modes.
            let is_me = self
                .me
                .as_deref()
                .is_some_and(|me| crate::codec::names_equal(&native_nick(target), me));
            if !is_me {
                self.own_line(
                    frames,
                    num::ERR_USERSDONTMATCH,
                    &["Cannot change mode for other users"],
                );
            } else if m.params.len() == 1 {
                let modes = match (self.oper, self.invisible) {
                    (true, true) => "+io",
                    (true, false) => "+o",
                    (false, true) => "+i",
                    (false, false) => "+",
                };
                self.own_line(frames, num::RPL_UMODEIS, &[modes]);
            } else {
                let mut plus = true;
                let mut invisible = self.invisible;
                for c in m.params[1].chars() {
                    match c {
                        '+' => plus = true,
                        '-' => plus = false,
                        'i' => invisible = plus,
                        'w' => {}
                        _ => {
                            self.own_line(
                                frames,
                                num::ERR_UMODEUNKNOWNFLAG,
                                &["Unknown MODE flag"],
                            );
                            return;
                        }
                    }
                }
                if invisible != self.invisible {
                    self.invisible = invisible;
                    self.send(frames, Request::UserMode { invisible });
                    let ph = std::str::from_utf8(&[NICK_PLACEHOLDER])
                        .unwrap_or("*")
                        .to_owned();
                    let src = format!("{ph}!{ph}@{}", self.cfg.host);
                    let change = if invisible { "+i" } else { "-i" };
                    let mut l = Vec::new();
                    line(&mut l, None, &src, "MODE", &[&ph, change], true);
                    self.raw_own(frames, &l);
                }
            }
            return;
        };
        let Some(changes) = m.param(1) else {
            self.ctx_gw(frames, ctx::MODE, &[target], Request::ChanInfo(&room));
            return;
        };
        let mut plus = true;
        let mut args = m.params[2..].iter();
        for c in changes.chars() {
            match c {
                '+' => plus = true,
                '-' => plus = false,
                't' | 's' => self.ctx_gw(
                    frames,
                    ctx::MODE,
                    &[target],
                    Request::Mode {
                        room: &room,
                        plus,
                        mode: c as u8,
                        arg: "",
                    },
                ),
                'o' | 'v' => {
                    let Some(nick) = args.next() else {
                        self.own_line(
                            frames,
                            num::ERR_NEEDMOREPARAMS,
                            &["MODE", "Not enough parameters"],
                        );
                        return;
                    };
                    let native = native_nick(nick);
                    self.ctx_gw(
                        frames,
                        ctx::MODE,
                        &[target, nick],
                        Request::Mode {
                            room: &room,
                            plus,
                            mode: c as u8,
                            arg: &native,
                        },
                    );
                }
                'b' if args.len() == 0 => self.own_line(
                    frames,
                    num::RPL_ENDOFBANLIST,
                    &[target, "End of channel ban list"],
                ),
                'n' => {}
                _ => {
                    let mut b = [0u8; 4];
                    self.own_line(
                        frames,
                        num::ERR_UNKNOWNMODE,
                        &[c.encode_utf8(&mut b), "is an unknown mode char to me"],
                    );
                }
            }
        }
    }
}
