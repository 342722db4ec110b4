//! Writing IRC lines: numerics by name, the 512-byte limit (a line is cut
//! at a character boundary, never past it), `server-time` stamps.

use crate::irc::line::MAX_LINE;

/// Numeric replies used by the gateway (modern IRC numbering).
#[allow(missing_docs)]
pub mod num {
    pub const RPL_WELCOME: &str = "001";
    pub const RPL_YOURHOST: &str = "002";
    pub const RPL_CREATED: &str = "003";
    pub const RPL_MYINFO: &str = "004";
    pub const RPL_ISUPPORT: &str = "005";
    pub const RPL_UMODEIS: &str = "221";
    pub const RPL_LUSERCLIENT: &str = "251";
    pub const RPL_LUSEROP: &str = "252";
    pub const RPL_LUSERUNKNOWN: &str = "253";
    pub const RPL_LUSERCHANNELS: &str = "254";
    pub const RPL_LUSERME: &str = "255";
    pub const RPL_AWAY: &str = "301";
    pub const RPL_UNAWAY: &str = "305";
    pub const RPL_NOWAWAY: &str = "306";
    pub const RPL_WHOISUSER: &str = "311";
    pub const RPL_WHOISSERVER: &str = "312";
    pub const RPL_WHOISOPERATOR: &str = "313";
    pub const RPL_ENDOFWHO: &str = "315";
    pub const RPL_WHOISIDLE: &str = "317";
    pub const RPL_ENDOFWHOIS: &str = "318";
    pub const RPL_WHOISCHANNELS: &str = "319";
    pub const RPL_LISTSTART: &str = "321";
    pub const RPL_LIST: &str = "322";
    pub const RPL_LISTEND: &str = "323";
    pub const RPL_CHANNELMODEIS: &str = "324";
    pub const RPL_CREATIONTIME: &str = "329";
    pub const RPL_NOTOPIC: &str = "331";
    pub const RPL_TOPIC: &str = "332";
    pub const RPL_TOPICWHOTIME: &str = "333";
    pub const RPL_WHOREPLY: &str = "352";
    pub const RPL_NAMREPLY: &str = "353";
    pub const RPL_ENDOFNAMES: &str = "366";
    pub const RPL_ENDOFBANLIST: &str = "368";
    pub const RPL_MOTD: &str = "372";
    pub const RPL_MOTDSTART: &str = "375";
    pub const RPL_ENDOFMOTD: &str = "376";
    pub const RPL_YOUREOPER: &str = "381";
    pub const ERR_NOSUCHNICK: &str = "401";
    pub const ERR_NOSUCHCHANNEL: &str = "403";
    pub const ERR_CANNOTSENDTOCHAN: &str = "404";
    pub const ERR_TOOMANYCHANNELS: &str = "405";
    pub const ERR_NOORIGIN: &str = "409";
    pub const ERR_NORECIPIENT: &str = "411";
    pub const ERR_NOTEXTTOSEND: &str = "412";
    pub const ERR_INPUTTOOLONG: &str = "417";
    pub const ERR_UNKNOWNCOMMAND: &str = "421";
    pub const ERR_NOMOTD: &str = "422";
    pub const ERR_NONICKNAMEGIVEN: &str = "431";
    pub const ERR_ERRONEUSNICKNAME: &str = "432";
    pub const ERR_NICKNAMEINUSE: &str = "433";
    pub const ERR_USERNOTINCHANNEL: &str = "441";
    pub const ERR_NOTONCHANNEL: &str = "442";
    pub const ERR_NOTREGISTERED: &str = "451";
    pub const ERR_NEEDMOREPARAMS: &str = "461";
    pub const ERR_ALREADYREGISTERED: &str = "462";
    pub const ERR_PASSWDMISMATCH: &str = "464";
    pub const ERR_UNKNOWNMODE: &str = "472";
    pub const ERR_BADCHANMASK: &str = "476";
    pub const ERR_CHANOPRIVSNEEDED: &str = "482";
    pub const ERR_UMODEUNKNOWNFLAG: &str = "501";
    pub const ERR_USERSDONTMATCH: &str = "502";
}

/// The nick placeholder in lines the gateway queues for itself before it
/// knows whether the client is registered: replaced by the nick, or `*`.
pub const NICK_PLACEHOLDER: u8 = 0;

/// Appends one line: optional tags, `:source`, command, parameters. The
/// last parameter gets a `:` when it needs one or `trailing` is set. The
/// part after the tags is cut to 510 bytes at a character boundary.
pub fn line(
    out: &mut Vec<u8>,
    tags: Option<&str>,
    source: &str,
    command: &str,
    params: &[&str],
    trailing: bool,
) {
    if let Some(t) = tags.filter(|t| !t.is_empty()) {
        out.push(b'@');
        out.extend_from_slice(t.as_bytes());
        out.push(b' ');
    }
    let start = out.len();
    if !source.is_empty() {
        out.push(b':');
        out.extend_from_slice(source.as_bytes());
        out.push(b' ');
    }
    out.extend_from_slice(command.as_bytes());
    let n = params.len();
    for (i, p) in params.iter().enumerate() {
        out.push(b' ');
        let last = i + 1 == n;
        if last && (trailing || p.is_empty() || p.contains(' ') || p.starts_with(':')) {
            out.push(b':');
        }
        out.extend_from_slice(p.as_bytes());
    }
    let max = start + MAX_LINE - 2;
    if out.len() > max {
        let mut end = max;
        while end > start && (out[end] & 0xC0) == 0x80 {
            end -= 1;
        }
        out.truncate(end);
    }
    out.extend_from_slice(b"\r\n");
}

/// An RFC 3339 UTC timestamp with milliseconds, for `server-time`.
pub fn server_time(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        unix_ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_get_colons_where_needed_and_fit_512() {
        let mut o = Vec::new();
        line(&mut o, None, "s", "001", &["n", "Welcome home"], false);
        line(&mut o, None, "n!n@h", "JOIN", &["#c"], false);
        line(&mut o, Some("time=x"), "", "PONG", &["s", ""], false);
        assert_eq!(
            String::from_utf8(o).unwrap(),
            ":s 001 n :Welcome home\r\n:n!n@h JOIN #c\r\n@time=x PONG s :\r\n"
        );
        let mut o = Vec::new();
        let long = "é".repeat(400);
        line(&mut o, Some("t=1"), "src", "PRIVMSG", &["#c", &long], true);
        let text = std::str::from_utf8(&o).expect("cut at a char boundary");
        let body = text.split_once(' ').unwrap().1;
        assert!(body.len() <= 512, "{}", body.len());
        assert!(text.ends_with("\r\n"));
    }

    #[test]
    fn server_time_is_rfc3339() {
        assert_eq!(server_time(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(server_time(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(server_time(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
