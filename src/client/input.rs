//! The input line of the full-screen client: text with a cursor, the usual
//! editing operations, and Up/Down history of entered lines.

use unicode_width::UnicodeWidthChar;

/// Most entered lines kept for Up/Down.
const HISTORY_LIMIT: usize = 500;

/// An editable line with history.
#[derive(Debug, Default, Clone)]
pub struct InputLine {
    /// The text being edited.
    text: String,
    /// Cursor position in characters (0..=number of chars).
    cursor: usize,
    /// Entered lines, oldest first.
    history: Vec<String>,
    /// While browsing history: the index shown, and the draft put aside.
    browsing: Option<(usize, String)>,
}

impl InputLine {
    /// An empty line with no history.
    pub fn new() -> Self {
        Self::default()
    }

    /// The text being edited.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The cursor position in characters.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// The display width of the text before the cursor (LF and TAB are shown
    /// one column wide).
    pub fn cursor_column(&self) -> usize {
        self.text.chars().take(self.cursor).map(display_width).sum()
    }

    fn byte_at(&self, char_index: usize) -> usize {
        self.text
            .char_indices()
            .nth(char_index)
            .map_or(self.text.len(), |(i, _)| i)
    }

    fn len_chars(&self) -> usize {
        self.text.chars().count()
    }

    /// Inserts a character at the cursor.
    pub fn insert(&mut self, c: char) {
        let at = self.byte_at(self.cursor);
        self.text.insert(at, c);
        self.cursor += 1;
    }

    /// Inserts a string (a paste) at the cursor; CR LF and CR become LF.
    pub fn insert_str(&mut self, s: &str) {
        let s = s.replace("\r\n", "\n").replace('\r', "\n");
        let at = self.byte_at(self.cursor);
        self.text.insert_str(at, &s);
        self.cursor += s.chars().count();
    }

    /// Deletes the character before the cursor.
    pub fn backspace(&mut self) {
        if self.cursor > 0 {
            self.cursor -= 1;
            let at = self.byte_at(self.cursor);
            self.text.remove(at);
        }
    }

    /// Deletes the character under the cursor.
    pub fn delete(&mut self) {
        if self.cursor < self.len_chars() {
            let at = self.byte_at(self.cursor);
            self.text.remove(at);
        }
    }

    /// Moves the cursor one character left.
    pub fn left(&mut self) {
        self.cursor = self.cursor.saturating_sub(1);
    }

    /// Moves the cursor one character right.
    pub fn right(&mut self) {
        self.cursor = (self.cursor + 1).min(self.len_chars());
    }

    /// Moves the cursor to the start.
    pub fn home(&mut self) {
        self.cursor = 0;
    }

    /// Moves the cursor to the end.
    pub fn end(&mut self) {
        self.cursor = self.len_chars();
    }

    /// Deletes from the start to the cursor.
    pub fn kill_to_start(&mut self) {
        let at = self.byte_at(self.cursor);
        self.text.drain(..at);
        self.cursor = 0;
    }

    /// Deletes from the cursor to the end.
    pub fn kill_to_end(&mut self) {
        let at = self.byte_at(self.cursor);
        self.text.truncate(at);
    }

    /// Deletes the word before the cursor (and the spaces after it).
    pub fn delete_word(&mut self) {
        let chars: Vec<char> = self.text.chars().collect();
        let mut start = self.cursor;
        while start > 0 && chars[start - 1].is_whitespace() {
            start -= 1;
        }
        while start > 0 && !chars[start - 1].is_whitespace() {
            start -= 1;
        }
        let from = self.byte_at(start);
        let to = self.byte_at(self.cursor);
        self.text.drain(from..to);
        self.cursor = start;
    }

    /// Takes the line for sending: clears it, and remembers it in the history
    /// (unless empty or equal to the previous entry).
    pub fn take(&mut self) -> String {
        let line = std::mem::take(&mut self.text);
        self.cursor = 0;
        self.browsing = None;
        if !line.trim().is_empty() && self.history.last() != Some(&line) {
            if self.history.len() == HISTORY_LIMIT {
                self.history.remove(0);
            }
            self.history.push(line.clone());
        }
        line
    }

    /// Shows the previous history entry (the draft is kept for Down).
    pub fn history_up(&mut self) {
        let index = match &self.browsing {
            Some((0, _)) => return,
            Some((i, _)) => i - 1,
            None if self.history.is_empty() => return,
            None => {
                self.browsing = Some((self.history.len(), std::mem::take(&mut self.text)));
                self.history.len() - 1
            }
        };
        if let Some((i, _)) = &mut self.browsing {
            *i = index;
        }
        self.text = self.history[index].clone();
        self.end();
    }

    /// Shows the next history entry, or the draft after the newest.
    pub fn history_down(&mut self) {
        let Some((i, _)) = &self.browsing else {
            return;
        };
        let next = i + 1;
        if next < self.history.len() {
            self.text = self.history[next].clone();
            if let Some((i, _)) = &mut self.browsing {
                *i = next;
            }
        } else if let Some((_, draft)) = self.browsing.take() {
            self.text = draft;
        }
        self.end();
    }
}

/// The columns a character takes on screen in the input line.
pub fn display_width(c: char) -> usize {
    match c {
        '\n' | '\t' => 1,
        c => c.width().unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(s: &str) -> InputLine {
        let mut l = InputLine::new();
        for c in s.chars() {
            l.insert(c);
        }
        l
    }

    #[test]
    fn editing_in_the_middle_of_multibyte_text() {
        let mut l = typed("héllo");
        l.left();
        l.left();
        l.insert('X');
        assert_eq!(l.text(), "hélXlo");
        l.backspace();
        assert_eq!(l.text(), "héllo");
        l.home();
        l.delete();
        assert_eq!(l.text(), "éllo");
        l.right();
        l.kill_to_end();
        assert_eq!(l.text(), "é");
        l.end();
        l.insert_str("a\r\nb");
        assert_eq!(l.text(), "éa\nb");
        assert_eq!(l.cursor(), 4);
    }

    #[test]
    fn word_and_line_kills() {
        let mut l = typed("say hello  ");
        l.delete_word();
        assert_eq!(l.text(), "say ");
        l.kill_to_start();
        assert_eq!(l.text(), "");
        assert_eq!(l.cursor(), 0);
    }

    #[test]
    fn cursor_column_counts_wide_characters() {
        let l = typed("a漢b");
        assert_eq!(l.cursor_column(), 4);
    }

    #[test]
    fn history_browses_and_restores_the_draft() {
        let mut l = InputLine::new();
        for s in ["one", "two", "two", "   "] {
            l.insert_str(s);
            l.take();
        }
        l.insert_str("draft");
        l.history_up();
        assert_eq!(l.text(), "two");
        l.history_up();
        assert_eq!(l.text(), "one");
        l.history_up();
        assert_eq!(l.text(), "one");
        l.history_down();
        assert_eq!(l.text(), "two");
        l.history_down();
        assert_eq!(l.text(), "draft");
        l.history_down();
        assert_eq!(l.text(), "draft");
        assert_eq!(l.take(), "draft");
        l.history_up();
        assert_eq!(l.text(), "draft");
    }
}
