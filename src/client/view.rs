//! Drawing a [`ChatState`] with ratatui: the tab bar, the message pane
//! (time, nick, text; own messages marked `»`, replayed history `↺`,
//! notices `*`, errors `!`; long lines wrapped under their text), the
//! current room's member list beside it (for a quiet room: its member
//! count from ROOM and the list labelled partial), the status bar (server, nick,
//! connection, round-trip time) and the input line with its cursor.
//!
//! Drawing only reads the state, so it can be tested on ratatui's
//! `TestBackend`.

use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Tabs};
use unicode_width::UnicodeWidthStr;

use crate::client::format::{members_count, thousands};
use crate::client::input::display_width;
use crate::client::state::{ChatState, Connection, LineKind, PaneLine, Tab, TabKind};

/// Narrowest terminal that shows the member list beside the pane.
const MEMBERS_MIN_TOTAL_WIDTH: u16 = 50;
/// Columns before a line's content: `HH:MM`, space, marker, space.
const GUTTER: usize = 8;

/// Where each part of the screen goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    /// The tab bar (top row).
    pub tabs: Rect,
    /// The message pane.
    pub pane: Rect,
    /// The member list, if shown.
    pub members: Option<Rect>,
    /// The status bar.
    pub status: Rect,
    /// The input line (bottom row).
    pub input: Rect,
}

/// Splits the screen for `state`.
pub fn layout(area: Rect, state: &ChatState) -> Areas {
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(1),
            Constraint::Min(1),
            Constraint::Length(1),
            Constraint::Length(1),
        ])
        .split(area);
    let tab = state.active_tab();
    let show_members =
        matches!(tab.kind, TabKind::Room(_)) && area.width >= MEMBERS_MIN_TOTAL_WIDTH;
    let (pane, members) = if show_members {
        // Wide enough for the longest nick and the title ("19,342 members").
        let longest = tab
            .roster
            .members()
            .iter()
            .map(|m| m.width())
            .max()
            .unwrap_or(0)
            .max(members_count(tab.roster.total()).width())
            .max(12);
        let width = u16::try_from(longest + 2).unwrap_or(u16::MAX).min(26);
        let cols = Layout::default()
            .direction(Direction::Horizontal)
            .constraints([Constraint::Min(10), Constraint::Length(width)])
            .split(rows[1]);
        (cols[0], Some(cols[1]))
    } else {
        (rows[1], None)
    };
    Areas {
        tabs: rows[0],
        pane,
        members,
        status: rows[2],
        input: rows[3],
    }
}

/// Draws the whole screen.
pub fn render(frame: &mut Frame<'_>, state: &ChatState) {
    let areas = layout(frame.area(), state);
    render_tabs(frame, areas.tabs, state);
    render_pane(frame, areas.pane, state.active_tab());
    if let Some(area) = areas.members {
        render_members(frame, area, state);
    }
    render_status(frame, areas.status, state);
    render_input(frame, areas.input, state);
}

fn render_tabs(frame: &mut Frame<'_>, area: Rect, state: &ChatState) {
    let titles: Vec<Line<'_>> = state
        .tabs
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut title = format!("{}:{}", i + 1, t.title(state.status_title()));
            if t.unread > 0 {
                title.push_str(&format!(" ({})", t.unread));
            }
            let style = if t.unread > 0 {
                Style::default()
                    .fg(Color::Yellow)
                    .add_modifier(Modifier::BOLD)
            } else if matches!(t.kind, TabKind::Room(_)) && !t.joined {
                Style::default().fg(Color::DarkGray)
            } else {
                Style::default()
            };
            Line::from(Span::styled(title, style))
        })
        .collect();
    let tabs = Tabs::new(titles)
        .select(state.active)
        .highlight_style(Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD))
        .divider("│")
        .padding(" ", " ");
    frame.render_widget(tabs, area);
}

/// The styled rows one pane line takes at `width` columns.
pub fn line_rows(line: &PaneLine, width: usize) -> Vec<Line<'static>> {
    let dim = Style::default().fg(Color::DarkGray);
    let (marker, head, head_style, text, text_style) = match &line.kind {
        LineKind::Chat {
            from,
            text,
            own,
            replayed,
        } => {
            let marker = if *replayed {
                "↺"
            } else if *own {
                "»"
            } else {
                " "
            };
            let nick_style = if *own {
                Style::default()
                    .fg(Color::Yellow)
                    .add_modifier(Modifier::BOLD)
            } else {
                Style::default()
                    .fg(Color::Cyan)
                    .add_modifier(Modifier::BOLD)
            };
            let text_style = if *replayed { dim } else { Style::default() };
            (
                marker,
                format!("<{from}> "),
                nick_style,
                text.as_str(),
                text_style,
            )
        }
        LineKind::Notice(t) => (
            "*",
            String::new(),
            dim,
            t.as_str(),
            Style::default().fg(Color::Green),
        ),
        LineKind::Error(t) => (
            "!",
            String::new(),
            dim,
            t.as_str(),
            Style::default().fg(Color::Red),
        ),
    };
    let head_width = head.width();
    // Continuation rows hang under the text when that leaves room enough.
    let hang = if width >= GUTTER + head_width + 20 {
        head_width
    } else {
        0
    };
    let text_width = width.saturating_sub(GUTTER).max(1);
    let head_pad = " ".repeat(head_width);
    let hang_pad = " ".repeat(hang);
    let display = text.replace('\t', "    ");
    let mut segments: Vec<String> = Vec::new();
    for (n, para) in display.split('\n').enumerate() {
        let first_pad = if n == 0 { &head_pad } else { &hang_pad };
        let opts = textwrap::Options::new(text_width)
            .initial_indent(first_pad)
            .subsequent_indent(&hang_pad);
        let wrapped = textwrap::wrap(para, opts);
        if wrapped.is_empty() {
            segments.push(String::new());
        }
        for (k, seg) in wrapped.into_iter().enumerate() {
            let seg = if n == 0 && k == 0 {
                seg.strip_prefix(head_pad.as_str())
                    .unwrap_or(&seg)
                    .to_owned()
            } else {
                seg.into_owned()
            };
            segments.push(seg);
        }
    }
    let mut rows = Vec::with_capacity(segments.len());
    for (i, seg) in segments.into_iter().enumerate() {
        if i == 0 {
            rows.push(Line::from(vec![
                Span::styled(line.time.clone(), dim),
                Span::raw(" "),
                Span::styled(marker.to_owned(), marker_style(marker)),
                Span::raw(" "),
                Span::styled(head.clone(), head_style),
                Span::styled(seg, text_style),
            ]));
        } else {
            rows.push(Line::from(vec![
                Span::raw(" ".repeat(GUTTER)),
                Span::styled(seg, text_style),
            ]));
        }
    }
    rows
}

fn marker_style(marker: &str) -> Style {
    match marker {
        "»" => Style::default().fg(Color::Yellow),
        "!" => Style::default().fg(Color::Red),
        _ => Style::default().fg(Color::DarkGray),
    }
}

/// How many rows the tab's pane holds at `width` columns.
pub fn pane_rows(tab: &Tab, width: u16) -> usize {
    tab.lines
        .iter()
        .map(|l| line_rows(l, usize::from(width)).len())
        .sum()
}

fn render_pane(frame: &mut Frame<'_>, area: Rect, tab: &Tab) {
    let height = usize::from(area.height);
    let width = usize::from(area.width);
    if height == 0 || width == 0 {
        return;
    }
    // Wrap from the bottom up only as far as the view needs.
    let need = height + tab.scroll;
    let mut rows: Vec<Line<'static>> = Vec::new();
    for line in tab.lines.iter().rev() {
        let mut r = line_rows(line, width);
        r.append(&mut rows);
        rows = r;
        if rows.len() >= need {
            break;
        }
    }
    let scroll = tab.scroll.min(rows.len().saturating_sub(height));
    let end = rows.len() - scroll;
    let start = end.saturating_sub(height);
    let visible: Vec<Line<'static>> = rows.drain(start..end).collect();
    // Bottom-align: pad above when the pane is not full.
    let mut lines = vec![Line::raw(""); height - visible.len()];
    lines.extend(visible);
    frame.render_widget(Paragraph::new(lines), area);
}

fn render_members(frame: &mut Frame<'_>, area: Rect, state: &ChatState) {
    let tab = state.active_tab();
    let roster = &tab.roster;
    let members = roster.members();
    let dim = Style::default().fg(Color::DarkGray);
    let block = Block::default()
        .borders(Borders::LEFT)
        .border_style(dim)
        .title(Span::styled(
            members_count(roster.total()),
            Style::default().add_modifier(Modifier::BOLD),
        ));
    let inner_height = usize::from(block.inner(area).height);
    let mut lines: Vec<Line<'_>> = Vec::new();
    // A quiet room's list is a sample: say so on top, and how many it leaves out.
    let label = roster.is_partial();
    let rows = inner_height.saturating_sub(usize::from(label));
    if label {
        lines.push(Line::from(Span::styled(
            "partial list",
            dim.add_modifier(Modifier::ITALIC),
        )));
    }
    let unlisted = roster.total().saturating_sub(members.len() as u64);
    let shown = if members.len() > rows || (unlisted > 0 && members.len() == rows) {
        rows.saturating_sub(1)
    } else {
        members.len()
    };
    for m in members.iter().take(shown) {
        let style = if crate::codec::names_equal(m, &state.nick) {
            Style::default()
                .fg(Color::Yellow)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default()
        };
        lines.push(Line::from(Span::styled(m.clone(), style)));
    }
    let more = (members.len() - shown) as u64 + unlisted;
    if more > 0 {
        lines.push(Line::from(Span::styled(
            format!("… {} more", thousands(more)),
            dim,
        )));
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// The connection as words, for the status bar.
pub fn connection_label(connection: &Connection) -> String {
    match connection {
        Connection::Connecting(0) => "connecting…".into(),
        Connection::Connecting(n) => format!("reconnecting (attempt {n})…"),
        Connection::Connected => "connected".into(),
        Connection::Reconnecting { attempt, delay_ms } => format!(
            "disconnected, retry {attempt} in {:.1} s",
            *delay_ms as f64 / 1000.0
        ),
        Connection::Offline(_) => "offline".into(),
    }
}

fn render_status(frame: &mut Frame<'_>, area: Rect, state: &ChatState) {
    let bar = Style::default().bg(Color::Blue).fg(Color::White);
    let conn_style = match state.connection {
        Connection::Connected => bar.fg(Color::LightGreen).add_modifier(Modifier::BOLD),
        Connection::Offline(_) => bar.fg(Color::LightRed).add_modifier(Modifier::BOLD),
        _ => bar.fg(Color::LightYellow).add_modifier(Modifier::BOLD),
    };
    let server = match &state.server_name {
        Some(name) => format!(" {name} ({})", state.server),
        None => format!(" {}", state.server),
    };
    let rtt = match state.rtt {
        Some(d) => format!("rtt {:.1} ms", d.as_secs_f64() * 1000.0),
        None => "rtt –".into(),
    };
    let sep = Span::styled(" │ ", bar);
    let mut spans = vec![
        Span::styled(server, bar),
        sep.clone(),
        Span::styled(state.nick.clone(), bar.add_modifier(Modifier::BOLD)),
        sep.clone(),
        Span::styled(connection_label(&state.connection), conn_style),
        sep,
        Span::styled(rtt, bar),
    ];
    let scroll = state.active_tab().scroll;
    if scroll > 0 {
        spans.push(Span::styled(format!(" │ ↑ scrolled {scroll} rows"), bar));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)).style(bar), area);
}

/// The prompt before the input: the tab's target.
pub fn prompt(state: &ChatState) -> String {
    match &state.active_tab().kind {
        TabKind::Status => "> ".into(),
        TabKind::Room(r) => format!("[{r}] "),
        TabKind::Private(n) => format!("[@{n}] "),
    }
}

fn render_input(frame: &mut Frame<'_>, area: Rect, state: &ChatState) {
    let prompt = prompt(state);
    let prompt_width = prompt.width();
    let avail = usize::from(area.width)
        .saturating_sub(prompt_width + 1)
        .max(1);
    let chars: Vec<char> = state.input.text().chars().collect();
    let cursor = state.input.cursor();
    // Scroll horizontally so the cursor stays visible.
    let mut start = 0;
    let mut before: usize = chars[..cursor].iter().map(|c| display_width(*c)).sum();
    while before >= avail && start < cursor {
        before -= display_width(chars[start]);
        start += 1;
    }
    let mut shown = String::new();
    let mut used = 0;
    for &c in &chars[start..] {
        let w = display_width(c);
        if used + w > avail {
            break;
        }
        used += w;
        shown.push(match c {
            '\n' => '↵',
            '\t' => '→',
            c => c,
        });
    }
    let line = Line::from(vec![
        Span::styled(prompt, Style::default().fg(Color::Cyan)),
        Span::raw(shown),
    ]);
    frame.render_widget(Paragraph::new(line), area);
    let x = area.x + u16::try_from(prompt_width + before).unwrap_or(area.width);
    frame.set_cursor_position(Position::new(x.min(area.right().saturating_sub(1)), area.y));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(rows: &[Line<'_>]) -> Vec<String> {
        rows.iter()
            .map(|l| {
                l.spans
                    .iter()
                    .map(|s| s.content.as_ref())
                    .collect::<String>()
            })
            .collect()
    }

    #[test]
    fn long_lines_wrap_under_their_text() {
        let line = PaneLine {
            time: "12:34".into(),
            kind: LineKind::Chat {
                from: "bob".into(),
                text: "one two three four five six seven eight nine ten eleven twelve".into(),
                own: false,
                replayed: false,
            },
        };
        let rows = text_of(&line_rows(&line, 40));
        assert!(rows.len() > 1);
        assert!(rows[0].starts_with("12:34   <bob> one two"));
        for r in &rows {
            assert!(r.width() <= 40, "{r:?}");
        }
        for r in &rows[1..] {
            assert!(r.starts_with(&" ".repeat(GUTTER + 6)));
        }
        let words: Vec<String> = rows
            .iter()
            .enumerate()
            .flat_map(|(i, r)| {
                let r = if i == 0 { &r[GUTTER + 6..] } else { r.as_str() };
                r.split_whitespace().map(str::to_owned).collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(
            words.join(" "),
            "one two three four five six seven eight nine ten eleven twelve"
        );
    }

    #[test]
    fn markers_show_own_replayed_notice_and_error() {
        let mk = |kind| PaneLine {
            time: "00:00".into(),
            kind,
        };
        let chat = |own, replayed| LineKind::Chat {
            from: "a".into(),
            text: "t".into(),
            own,
            replayed,
        };
        assert_eq!(
            text_of(&line_rows(&mk(chat(true, false)), 80))[0],
            "00:00 » <a> t"
        );
        assert_eq!(
            text_of(&line_rows(&mk(chat(false, true)), 80))[0],
            "00:00 ↺ <a> t"
        );
        assert_eq!(
            text_of(&line_rows(&mk(LineKind::Notice("n".into())), 80))[0],
            "00:00 * n"
        );
        assert_eq!(
            text_of(&line_rows(&mk(LineKind::Error("e".into())), 80))[0],
            "00:00 ! e"
        );
        let multi = text_of(&line_rows(&mk(LineKind::Notice("a\nb".into())), 80));
        assert_eq!(multi, ["00:00 * a", "        b"]);
    }
}
