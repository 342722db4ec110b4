//! The gateway's own replies for an IRC connection ([`Reply`]: WHO,
//! WHOIS, topics, channel modes, KICK, LIST, LUSERS, NOTICE…) become IRC
//! numerics and lines.

use super::source;
use crate::codec::names_equal;
use crate::core::gateway::wire::{Reply, TopicInfo, refused, room_modes, who_flags};
use crate::irc::caps;
use crate::irc::names::{channel_of, irc_nick};
use crate::irc::quiet::end_of_names;
use crate::irc::reply::{line, num};
use crate::irc::session::{IrcSession, ctx};

impl IrcSession {
    pub(super) fn on_reply(&mut self, r: Reply<'_>, out: &mut Vec<u8>) {
        match r {
            Reply::Ctx { registered, ctx } => self.on_ctx(registered, ctx, out),
            Reply::Lines(b) => {
                let registered = self.me.is_some();
                self.on_ctx(registered, b, out);
            }
            Reply::NickRefused { reason, nick } => {
                let n = irc_nick(nick);
                if reason == crate::core::gateway::wire::nick_refused::IN_USE {
                    self.numeric(
                        out,
                        num::ERR_NICKNAMEINUSE,
                        &[&n, "Nickname is already in use"],
                    );
                } else {
                    self.numeric(out, num::ERR_ERRONEUSNICKNAME, &[&n, "Erroneous nickname"]);
                }
            }
            Reply::NickChanged { old, new } => {
                if self.is_me(old) {
                    self.me = Some(new.to_owned());
                }
                let src = source(old, &self.cfg);
                line(out, None, &src, "NICK", &[&irc_nick(new)], true);
            }
            Reply::Topic {
                room,
                changed,
                topic,
            } => {
                let chan = channel_of(room);
                if changed {
                    let src = source(topic.setter, &self.cfg);
                    line(out, None, &src, "TOPIC", &[&chan, topic.text], true);
                } else if topic.text.is_empty() {
                    self.numeric(out, num::RPL_NOTOPIC, &[&chan, "No topic is set"]);
                } else {
                    self.topic_numerics(out, &chan, &topic);
                }
            }
            Reply::Refused { what, room, nick } => {
                let chan = channel_of(room);
                if what == refused::NOT_OPERATOR {
                    self.numeric(
                        out,
                        num::ERR_CHANOPRIVSNEEDED,
                        &[&chan, "You're not channel operator"],
                    );
                } else {
                    self.numeric(
                        out,
                        num::ERR_USERNOTINCHANNEL,
                        &[&irc_nick(nick), &chan, "They aren't on that channel"],
                    );
                }
            }
            Reply::Away(away) => {
                self.away = away;
                if away {
                    self.numeric(
                        out,
                        num::RPL_NOWAWAY,
                        &["You have been marked as being away"],
                    );
                } else {
                    self.numeric(
                        out,
                        num::RPL_UNAWAY,
                        &["You are no longer marked as being away"],
                    );
                }
            }
            Reply::Whois {
                user,
                away,
                signon_ms,
                idle_ms,
                rooms,
            } => {
                let n = irc_nick(user.nick).into_owned();
                self.numeric(
                    out,
                    num::RPL_WHOISUSER,
                    &[&n, user.user, user.host, "*", user.realname],
                );
                let mut chans = String::new();
                let mut rest = rooms;
                while rest.len() >= 2 {
                    let status = rest[0];
                    let len = usize::from(rest[1]);
                    let Some(name) = rest.get(2..2 + len) else {
                        break;
                    };
                    if status != 0 {
                        chans.push(char::from(status));
                    }
                    chans.push_str(&channel_of(&String::from_utf8_lossy(name)));
                    chans.push(' ');
                    rest = &rest[2 + len..];
                }
                if !chans.is_empty() {
                    self.numeric(out, num::RPL_WHOISCHANNELS, &[&n, chans.trim_end()]);
                }
                self.numeric(
                    out,
                    num::RPL_WHOISSERVER,
                    &[&n, &self.cfg.server_name, &self.cfg.network],
                );
                if !away.is_empty() {
                    self.numeric(out, num::RPL_AWAY, &[&n, away]);
                }
                if user.flags & who_flags::OPER != 0 {
                    self.numeric(out, num::RPL_WHOISOPERATOR, &[&n, "is an IRC operator"]);
                }
                let idle = (idle_ms / 1000).to_string();
                let signon = (signon_ms / 1000).to_string();
                self.numeric(
                    out,
                    num::RPL_WHOISIDLE,
                    &[&n, &idle, &signon, "seconds idle, signon time"],
                );
                let typed = self.ctx_arg(0);
                self.numeric(out, num::RPL_ENDOFWHOIS, &[&typed, "End of /WHOIS list"]);
            }
            Reply::ListEntry {
                room,
                members,
                topic,
            } => {
                self.numeric(
                    out,
                    num::RPL_LIST,
                    &[&channel_of(room), &members.to_string(), topic],
                );
            }
            Reply::ListEnd => self.numeric(out, num::RPL_LISTEND, &["End of /LIST"]),
            Reply::Oper(ok) => {
                if ok {
                    self.oper = true;
                    self.numeric(out, num::RPL_YOUREOPER, &["You are now an IRC operator"]);
                } else {
                    self.numeric(out, num::ERR_PASSWDMISMATCH, &["Password incorrect"]);
                }
            }
            Reply::Kicked {
                room,
                by,
                nick,
                reason,
            } => {
                if self.is_me(nick) {
                    self.left_room(room);
                }
                let src = source(by, &self.cfg);
                line(
                    out,
                    None,
                    &src,
                    "KICK",
                    &[&channel_of(room), &irc_nick(nick), reason],
                    true,
                );
            }
            Reply::Lusers {
                users,
                unknown,
                rooms,
            } => {
                self.numeric(
                    out,
                    num::RPL_LUSERCLIENT,
                    &[&format!(
                        "There are {users} users and 0 invisible on 1 servers"
                    )],
                );
                if unknown > 0 {
                    self.numeric(
                        out,
                        num::RPL_LUSERUNKNOWN,
                        &[&unknown.to_string(), "unknown connection(s)"],
                    );
                }
                self.numeric(
                    out,
                    num::RPL_LUSERCHANNELS,
                    &[&rooms.to_string(), "channels formed"],
                );
                self.numeric(
                    out,
                    num::RPL_LUSERME,
                    &[&format!("I have {users} clients and 0 servers")],
                );
                if self.burst {
                    self.burst = false;
                    self.motd(out);
                }
            }
            Reply::WhoEntry { room, user } => {
                let chan = if room.is_empty() {
                    "*".to_owned()
                } else {
                    channel_of(room)
                };
                let mut flags = String::from(if user.flags & who_flags::AWAY != 0 {
                    "G"
                } else {
                    "H"
                });
                if user.flags & who_flags::OPER != 0 {
                    flags.push('*');
                }
                if user.flags & who_flags::CHANOP != 0 {
                    flags.push('@');
                }
                let real = format!("0 {}", user.realname);
                let n = irc_nick(user.nick);
                self.numeric(
                    out,
                    num::RPL_WHOREPLY,
                    &[
                        &chan,
                        user.user,
                        user.host,
                        &self.cfg.server_name,
                        &n,
                        &flags,
                        &real,
                    ],
                );
            }
            Reply::WhoEnd(_) => {
                let typed = self.ctx_arg(0);
                self.numeric(out, num::RPL_ENDOFWHO, &[&typed, "End of WHO list"]);
            }
            Reply::Notice {
                from,
                to,
                to_room,
                text,
            } => {
                if self.is_me(from) && !self.caps.has(caps::ECHO_MESSAGE) {
                    return;
                }
                let target = if to_room {
                    channel_of(to)
                } else {
                    irc_nick(to).into_owned()
                };
                self.text_lines(out, None, from, "NOTICE", &target, text);
            }
            Reply::QuitNote { nick, reason } => {
                if self.quit_reasons.len() >= 16 {
                    self.quit_reasons.pop_front();
                }
                self.quit_reasons
                    .push_back((nick.to_ascii_lowercase(), reason.to_owned()));
            }
            Reply::Ping => {
                line(out, None, "", "PING", &[&self.cfg.server_name], false);
            }
            Reply::RoomInfo {
                room,
                exists,
                modes,
                created_ms,
                status,
                topic,
            } => {
                self.room_info(room, exists, modes, created_ms, status, &topic, out);
            }
            Reply::Parted { room, nick, reason } => {
                if self.is_me(nick) {
                    self.left_room(room);
                }
                let src = source(nick, &self.cfg);
                let chan = channel_of(room);
                if reason.is_empty() {
                    line(out, None, &src, "PART", &[&chan], false);
                } else {
                    line(out, None, &src, "PART", &[&chan, reason], true);
                }
            }
            Reply::Mode {
                room,
                by,
                plus,
                mode,
                arg,
            } => {
                let src = source(by, &self.cfg);
                let change = format!("{}{}", if plus { '+' } else { '-' }, char::from(mode));
                let chan = channel_of(room);
                if arg.is_empty() {
                    line(out, None, &src, "MODE", &[&chan, &change], false);
                } else {
                    line(
                        out,
                        None,
                        &src,
                        "MODE",
                        &[&chan, &change, &irc_nick(arg)],
                        false,
                    );
                }
            }
        }
    }

    fn topic_numerics(&self, out: &mut Vec<u8>, chan: &str, topic: &TopicInfo<'_>) {
        self.numeric(out, num::RPL_TOPIC, &[chan, topic.text]);
        let setter = source(topic.setter, &self.cfg);
        self.numeric(
            out,
            num::RPL_TOPICWHOTIME,
            &[chan, &setter, &(topic.time_ms / 1000).to_string()],
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn room_info(
        &mut self,
        room: &str,
        exists: bool,
        modes: u8,
        created_ms: u64,
        status: &str,
        topic: &TopicInfo<'_>,
        out: &mut Vec<u8>,
    ) {
        let Some(p) = self.pending.take() else {
            if self.ctx_kind() == ctx::MODE && exists {
                let chan = channel_of(room);
                let mut m = String::from("+n");
                if modes & room_modes::SECRET != 0 {
                    m.push('s');
                }
                if modes & room_modes::TOPIC_LOCK != 0 {
                    m.push('t');
                }
                self.numeric(out, num::RPL_CHANNELMODEIS, &[&chan, &m]);
                self.numeric(
                    out,
                    num::RPL_CREATIONTIME,
                    &[&chan, &(created_ms / 1000).to_string()],
                );
            }
            return;
        };
        let chan = if exists {
            channel_of(room)
        } else {
            p.typed.clone()
        };
        if p.join {
            if !p.joined {
                return;
            }
            let me = self.me.clone().unwrap_or_default();
            let src = source(&me, &self.cfg);
            line(out, None, &src, "JOIN", &[&chan], false);
            if !topic.text.is_empty() {
                self.topic_numerics(out, &chan, topic);
            }
            self.joined.push(room.to_owned());
        }
        if exists {
            let symbol = if modes & room_modes::SECRET != 0 {
                "@"
            } else {
                "="
            };
            self.names_lines(out, symbol, &chan, &p.names, status);
        }
        let end_text = end_of_names(p.count);
        if p.join {
            self.numeric(out, num::RPL_ENDOFNAMES, &[&chan, &end_text]);
            self.joined_quiet_state(room, p.count, out);
        } else {
            let end = self.ctx_arg(1);
            if !end.is_empty() {
                self.numeric(out, num::RPL_ENDOFNAMES, &[&end, &end_text]);
            }
        }
        if p.join && !p.history.is_empty() {
            let batch = self.caps.has(caps::BATCH);
            if batch {
                let start = format!("+{}", p.batch);
                line(
                    out,
                    None,
                    &self.cfg.server_name,
                    "BATCH",
                    &[&start, "chathistory", &chan],
                    false,
                );
            }
            out.extend_from_slice(&p.history);
            if batch {
                let end = format!("-{}", p.batch);
                line(out, None, &self.cfg.server_name, "BATCH", &[&end], false);
            }
        }
    }

    /// 353 lines for `names`, with `@`/`+` from the `status` list.
    fn names_lines(
        &self,
        out: &mut Vec<u8>,
        symbol: &str,
        chan: &str,
        names: &[String],
        status: &str,
    ) {
        let userhost = self.caps.has(caps::USERHOST_IN_NAMES);
        let t = self.target();
        let head = 1 + self.cfg.server_name.len() + 5 + t.len() + 3 + chan.len() + 2 + 2;
        let room = crate::irc::line::MAX_LINE.saturating_sub(head);
        let mut buf = String::new();
        for n in names {
            let sigil = status
                .split(' ')
                .find(|s| s.len() > 1 && names_equal(&s[1..], n))
                .and_then(|s| s.chars().next());
            let shown = if userhost {
                std::borrow::Cow::Owned(source(n, &self.cfg))
            } else {
                irc_nick(n)
            };
            let len = shown.len() + usize::from(sigil.is_some()) + 1;
            if !buf.is_empty() && buf.len() + len > room {
                self.numeric(out, num::RPL_NAMREPLY, &[symbol, chan, &buf]);
                buf.clear();
            }
            if !buf.is_empty() {
                buf.push(' ');
            }
            if let Some(s) = sigil {
                buf.push(s);
            }
            buf.push_str(&shown);
        }
        if !buf.is_empty() {
            self.numeric(out, num::RPL_NAMREPLY, &[symbol, chan, &buf]);
        }
    }
}
