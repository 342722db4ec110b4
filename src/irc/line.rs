//! IRC lines: splitting a byte stream into lines under the length limits,
//! and parsing one line into tags, source, command and parameters.
//!
//! Limits (modern IRC): a line is at most 512 bytes with its CRLF, not
//! counting a message-tags part of at most 4094 bytes plus `@` and a space.
//! A longer line is not relayed: [`LineReader`] reports it as
//! [`Piece::TooLong`] (the gateway answers 417) and skips to the next line
//! end without buffering what it skips, so a line that never ends costs
//! nothing but a bounded buffer.

/// Longest line without its tags, CRLF included.
pub const MAX_LINE: usize = 512;
/// Longest tags part, `@` and the space after it included.
pub const MAX_TAGS: usize = 4096;
/// Most parameters a message may have.
pub const MAX_PARAMS: usize = 15;

/// What the reader found next.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// One line, without its line ending (maybe empty).
    Line(&'a [u8]),
    /// A line over the limits, skipped.
    TooLong,
}

/// Splits an incoming byte stream into lines (ending with LF, CR LF, or a
/// lone CR), holding at most [`MAX_LINE`] + [`MAX_TAGS`] bytes.
#[derive(Debug, Default)]
pub struct LineReader {
    buf: Vec<u8>,
    /// Skipping the rest of an over-long line.
    skipping: bool,
    /// Bytes of `buf` already consumed by the caller.
    start: usize,
}

impl LineReader {
    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete line or over-long line, if any.
    pub fn next_piece(&mut self) -> Option<Piece<'_>> {
        loop {
            let rest = &self.buf[self.start..];
            match rest.iter().position(|&b| b == b'\n' || b == b'\r') {
                Some(i) => {
                    let end = self.start + i;
                    let line_start = self.start;
                    self.start = end + 1;
                    if self.skipping {
                        self.skipping = false;
                        return Some(Piece::TooLong);
                    }
                    let line = &self.buf[line_start..end];
                    if line.is_empty() {
                        continue;
                    }
                    if !fits(line) {
                        return Some(Piece::TooLong);
                    }
                    return Some(Piece::Line(&self.buf[line_start..end]));
                }
                None => {
                    if rest.len() > MAX_LINE + MAX_TAGS {
                        self.skipping = true;
                        self.buf.clear();
                        self.start = 0;
                    } else if self.skipping {
                        self.buf.clear();
                        self.start = 0;
                    }
                    return None;
                }
            }
        }
    }

    /// Bytes held (a partial line).
    pub fn held(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Gives back the buffer's memory when nothing is held.
    pub fn release_if_empty(&mut self) {
        if self.held() == 0 && self.buf.capacity() > 1024 {
            self.buf = Vec::new();
            self.start = 0;
        }
    }
}

/// Whether a line (without line ending) is within the limits.
fn fits(line: &[u8]) -> bool {
    let (tags, rest) = if line.first() == Some(&b'@') {
        match line.iter().position(|&b| b == b' ') {
            Some(sp) => (sp + 1, line.len() - sp - 1),
            None => (line.len(), 0),
        }
    } else {
        (0, line.len())
    };
    tags <= MAX_TAGS && rest + 2 <= MAX_LINE
}

/// A parsed line; strings borrow from the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    /// The raw tags (without `@`), if any.
    pub tags: Option<&'a str>,
    /// The source, if the client sent one (ignored by servers).
    pub source: Option<&'a str>,
    /// The command, as sent (compare case-insensitively).
    pub command: &'a str,
    /// Parameters, the trailing one included.
    pub params: Vec<&'a str>,
}

/// Why a line could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// Not UTF-8; carries the command if it could be read.
    InvalidUtf8,
    /// No command.
    NoCommand,
}

impl<'a> Message<'a> {
    /// Parses one line (without its line ending).
    pub fn parse(line: &'a [u8]) -> Result<Message<'a>, ParseError> {
        let line = std::str::from_utf8(line).map_err(|_| ParseError::InvalidUtf8)?;
        let mut rest = line;
        let mut tags = None;
        if let Some(r) = rest.strip_prefix('@') {
            let (t, r) = r.split_once(' ').unwrap_or((r, ""));
            tags = Some(t);
            rest = r;
        }
        rest = rest.trim_start_matches(' ');
        let mut source = None;
        if let Some(r) = rest.strip_prefix(':') {
            let (s, r) = r.split_once(' ').unwrap_or((r, ""));
            source = Some(s);
            rest = r;
        }
        rest = rest.trim_start_matches(' ');
        let (command, mut rest) = rest.split_once(' ').unwrap_or((rest, ""));
        if command.is_empty() {
            return Err(ParseError::NoCommand);
        }
        let mut params = Vec::new();
        loop {
            rest = rest.trim_start_matches(' ');
            if rest.is_empty() {
                break;
            }
            if let Some(trailing) = rest.strip_prefix(':') {
                params.push(trailing);
                break;
            }
            if params.len() == MAX_PARAMS - 1 {
                params.push(rest);
                break;
            }
            let (p, r) = rest.split_once(' ').unwrap_or((rest, ""));
            params.push(p);
            rest = r;
        }
        Ok(Message {
            tags,
            source,
            command,
            params,
        })
    }

    /// Parameter `i`, if present.
    pub fn param(&self, i: usize) -> Option<&'a str> {
        self.params.get(i).copied()
    }

    /// The command's name in the first bytes of a line that is not UTF-8.
    pub fn command_of_raw(line: &[u8]) -> String {
        let mut rest = line;
        if rest.first() == Some(&b'@') {
            rest = rest
                .iter()
                .position(|&b| b == b' ')
                .map_or(&[][..], |i| &rest[i + 1..]);
        }
        if rest.first() == Some(&b':') {
            rest = rest
                .iter()
                .position(|&b| b == b' ')
                .map_or(&[][..], |i| &rest[i + 1..]);
        }
        let end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
        let cmd = &rest[..end.min(32)];
        if cmd.iter().all(u8::is_ascii_alphanumeric) && !cmd.is_empty() {
            String::from_utf8_lossy(cmd).to_ascii_uppercase()
        } else {
            "*".into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[&[u8]]) -> Vec<Result<Vec<u8>, ()>> {
        let mut r = LineReader::default();
        let mut out = Vec::new();
        for chunk in input {
            r.push(chunk);
            while let Some(p) = r.next_piece() {
                out.push(match p {
                    Piece::Line(l) => Ok(l.to_vec()),
                    Piece::TooLong => Err(()),
                });
            }
        }
        out
    }

    #[test]
    fn lines_are_reassembled_from_any_split() {
        let text = b"NICK a\r\nUSER u 0 * :R N\nPING x\r";
        let whole = lines(&[text]);
        let bytes: Vec<&[u8]> = text.chunks(1).collect();
        assert_eq!(lines(&bytes), whole);
        assert_eq!(
            whole,
            vec![
                Ok(b"NICK a".to_vec()),
                Ok(b"USER u 0 * :R N".to_vec()),
                Ok(b"PING x".to_vec())
            ]
        );
    }

    #[test]
    fn limits_count_tags_apart() {
        let at_limit = format!("PING {}", "x".repeat(505));
        assert_eq!(lines(&[format!("{at_limit}\r\n").as_bytes()]).len(), 1);
        assert!(lines(&[format!("{at_limit}\r\n").as_bytes()])[0].is_ok());
        let over = format!("PING {}\r\n", "x".repeat(506));
        assert_eq!(lines(&[over.as_bytes()]), vec![Err(())]);
        let tagged = format!("@a={} {at_limit}\r\n", "t".repeat(4000));
        assert!(lines(&[tagged.as_bytes()])[0].is_ok());
        let monster = format!("@+c={} PRIVMSG #x hi\r\n", "a".repeat(4096));
        assert_eq!(lines(&[monster.as_bytes()]), vec![Err(())]);
    }

    #[test]
    fn a_line_that_never_ends_is_skipped_with_bounded_memory() {
        let mut r = LineReader::default();
        for _ in 0..1000 {
            r.push(&[b'a'; 1000]);
            assert!(r.next_piece().is_none());
            assert!(r.held() <= MAX_LINE + MAX_TAGS + 1000);
        }
        r.push(b"\r\nPING ok\r\n");
        assert_eq!(r.next_piece(), Some(Piece::TooLong));
        assert_eq!(r.next_piece(), Some(Piece::Line(b"PING ok")));
    }

    #[test]
    fn parses_tags_source_command_params() {
        let m = Message::parse(b"@time=x;a :src PRIVMSG #c :hello there").unwrap();
        assert_eq!(m.tags, Some("time=x;a"));
        assert_eq!(m.source, Some("src"));
        assert_eq!(m.command, "PRIVMSG");
        assert_eq!(m.params, vec!["#c", "hello there"]);
        let m = Message::parse(b"USER  u 0 *  :").unwrap();
        assert_eq!(m.params, vec!["u", "0", "*", ""]);
        assert_eq!(Message::parse(b"   ").unwrap_err(), ParseError::NoCommand);
        assert_eq!(
            Message::parse(b"PRIVMSG x hi\xaa").unwrap_err(),
            ParseError::InvalidUtf8
        );
        assert_eq!(Message::command_of_raw(b"@a=b privmsg x hi\xaa"), "PRIVMSG");
        let many = Message::parse(b"X 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16").unwrap();
        assert_eq!(many.params.len(), MAX_PARAMS);
        assert_eq!(many.params[14], "15 16");
    }
}
