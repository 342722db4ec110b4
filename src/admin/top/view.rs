//! The `stxchat top` screen: its state ([`App`]), key handling
//! ([`App::on_key`]) and drawing ([`draw`]). Pure: no terminal, no
//! sockets, so it is tested with ratatui's `TestBackend`.
//!
//! Layout: a header with totals and rates, a sparkline of messages per
//! second, the waiting and connected lists side by side (or, after `r`,
//! the largest rooms: see [`crate::admin::top::rooms_view`]), and a footer
//! with the keys, the filter being typed or the last status message. A
//! kick asks for confirmation (with an editable reason) in a popup.

use std::collections::VecDeque;

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Sparkline, Table, TableState};

use crate::admin::proto::{MAX_KICK_REASON, MAX_LIST_LIMIT, Snapshot};
use crate::admin::service::DEFAULT_KICK_REASON;
use crate::admin::top::model::ConnTable;
use crate::admin::top::net::{Command, Update};
use crate::admin::top::rooms_view::{RoomsPane, draw_rooms};
use crate::codec::ErrorCode;
use crate::core::observe::{ConnInfo, ConnState};

/// Samples of messages per second kept for the sparkline.
pub const HISTORY_LEN: usize = 300;

/// The two lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Accepted, no HELLO yet.
    Waiting,
    /// Registered.
    Connected,
}

impl Side {
    fn index(self) -> usize {
        match self {
            Side::Waiting => 0,
            Side::Connected => 1,
        }
    }

    /// The connection state the list shows.
    pub fn state(self) -> ConnState {
        match self {
            Side::Waiting => ConnState::Waiting,
            Side::Connected => ConnState::Connected,
        }
    }

    fn other(self) -> Side {
        match self {
            Side::Waiting => Side::Connected,
            Side::Connected => Side::Waiting,
        }
    }
}

/// The state of the admin connection, as shown in the title.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// Not connected yet.
    Connecting,
    /// Connected and subscribed.
    Up,
    /// Lost; the network thread retries.
    Down(String),
    /// Refused for good.
    Failed(String),
}

/// What the keyboard is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Moving around.
    Normal,
    /// Typing the filter.
    Filter,
    /// Asking whether to kick `nick`, with an editable reason.
    ConfirmKick {
        /// Who.
        nick: String,
        /// Their address, shown for certainty.
        peer: String,
        /// The reason being edited.
        reason: String,
    },
}

/// What a key asks the program to do beyond redrawing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Leave.
    Quit,
    /// Send a command to the network thread.
    Send(Command),
}

/// Scroll position and selection of one list.
#[derive(Debug, Clone, Copy, Default)]
struct ListView {
    /// The selected connection's id (selection follows it as rows move).
    selected: Option<u64>,
    /// First row shown.
    offset: usize,
    /// Rows that fit at the last draw.
    rows: usize,
}

/// Everything the screen shows.
#[derive(Debug)]
pub struct App {
    /// The admin address, for the title.
    pub server: String,
    /// Known connections.
    pub table: ConnTable,
    /// Last counters and rates.
    pub snapshot: Option<Snapshot>,
    /// Messages per second, oldest first.
    pub history: VecDeque<u64>,
    /// Connection state.
    pub link: Link,
    /// Last status message (kick results, hints).
    pub status: Option<String>,
    /// The list the keys act on.
    pub focus: Side,
    /// Filter on nick or address (case-insensitive substring).
    pub filter: String,
    /// Keyboard mode.
    pub mode: Mode,
    /// Wall-clock Unix ms, for ages (set by the caller before drawing).
    pub now_ms: u64,
    /// The largest rooms.
    pub rooms: RoomsPane,
    /// The body shows the rooms instead of the two connection lists.
    pub show_rooms: bool,
    views: [ListView; 2],
}

impl App {
    /// A screen for the admin server at `server`.
    pub fn new(server: impl Into<String>) -> Self {
        App {
            server: server.into(),
            table: ConnTable::new(),
            snapshot: None,
            history: VecDeque::with_capacity(HISTORY_LEN),
            link: Link::Connecting,
            status: None,
            focus: Side::Connected,
            filter: String::new(),
            mode: Mode::Normal,
            now_ms: 0,
            rooms: RoomsPane::default(),
            show_rooms: false,
            views: [ListView::default(); 2],
        }
    }

    /// Applies one update from the network thread.
    pub fn apply(&mut self, u: Update) {
        match u {
            Update::Connected => {
                self.table.clear();
                self.link = Link::Up;
            }
            Update::Event(ev) => self.table.apply_event(&ev),
            Update::Page { after_id, page } => self.table.apply_page(after_id, &page),
            Update::Snapshot(s) => {
                if s.rates.interval_ms > 0 {
                    if self.history.len() == HISTORY_LEN {
                        self.history.pop_front();
                    }
                    self.history.push_back(s.rates.messages);
                }
                self.snapshot = Some(s);
            }
            Update::Rooms(page) => {
                self.rooms.page = Some(page);
                self.rooms.unsupported = false;
            }
            Update::RoomsUnsupported => {
                self.rooms.page = None;
                self.rooms.unsupported = true;
            }
            Update::Kicked { nick, found } => {
                self.status = Some(if found {
                    format!("kicked {nick}")
                } else {
                    format!("no registered client is called {nick}")
                });
            }
            Update::Down(msg) => self.link = Link::Down(msg),
            Update::Fatal(msg) => self.link = Link::Failed(msg),
        }
    }

    fn matches(&self, c: &ConnInfo) -> bool {
        if self.filter.is_empty() {
            return true;
        }
        let f = self.filter.to_lowercase();
        c.nick
            .as_deref()
            .is_some_and(|n| n.to_lowercase().contains(&f))
            || c.peer.to_string().contains(&f)
    }

    /// The rows a list shows (filter applied), in id order.
    pub fn visible(&self, side: Side) -> Vec<&ConnInfo> {
        self.table
            .in_state(side.state())
            .filter(|c| self.matches(c))
            .collect()
    }

    /// The selected row's index in `rows` (following the selected id; when it
    /// is gone, the row that took its place).
    fn selected_index(&self, side: Side, rows: &[&ConnInfo]) -> Option<usize> {
        if rows.is_empty() {
            return None;
        }
        let i = match self.views[side.index()].selected {
            Some(id) => rows.partition_point(|c| c.id < id),
            None => 0,
        };
        Some(i.min(rows.len() - 1))
    }

    /// The connection selected in `side`, if any.
    pub fn selected(&self, side: Side) -> Option<&ConnInfo> {
        let rows = self.visible(side);
        let i = self.selected_index(side, &rows)?;
        Some(rows[i])
    }

    fn move_selection(&mut self, delta: isize) {
        let side = self.focus;
        let rows = self.visible(side);
        let Some(i) = self.selected_index(side, &rows) else {
            return;
        };
        let j = i.saturating_add_signed(delta).min(rows.len() - 1);
        self.views[side.index()].selected = Some(rows[j].id);
    }

    fn page_rows(&self) -> isize {
        self.views[self.focus.index()].rows.max(1) as isize
    }

    /// Handles one key; returns what the program must do beyond redrawing.
    pub fn on_key(&mut self, key: KeyEvent) -> Option<Action> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return Some(Action::Quit);
        }
        match &mut self.mode {
            Mode::Filter => {
                match key.code {
                    KeyCode::Enter => self.mode = Mode::Normal,
                    KeyCode::Esc => {
                        self.filter.clear();
                        self.mode = Mode::Normal;
                    }
                    KeyCode::Backspace => {
                        self.filter.pop();
                    }
                    KeyCode::Char(ch) if !ch.is_control() => self.filter.push(ch),
                    _ => {}
                }
                None
            }
            Mode::ConfirmKick { nick, reason, .. } => match key.code {
                KeyCode::Enter => {
                    let nick = std::mem::take(nick);
                    let reason = match reason.trim() {
                        "" => DEFAULT_KICK_REASON.to_owned(),
                        r => r.to_owned(),
                    };
                    self.status = Some(format!("kicking {nick}..."));
                    self.mode = Mode::Normal;
                    Some(Action::Send(Command::Kick { nick, reason }))
                }
                KeyCode::Esc => {
                    self.mode = Mode::Normal;
                    self.status = Some("kick cancelled".into());
                    None
                }
                KeyCode::Backspace => {
                    reason.pop();
                    None
                }
                KeyCode::Char(ch) if !ch.is_control() && reason.len() < MAX_KICK_REASON => {
                    reason.push(ch);
                    None
                }
                _ => None,
            },
            Mode::Normal => self.on_normal_key(key),
        }
    }

    fn on_normal_key(&mut self, key: KeyEvent) -> Option<Action> {
        if key.code == KeyCode::Char('r') {
            self.show_rooms = !self.show_rooms;
            return None;
        }
        if self.show_rooms {
            let page = self.rooms.rows.max(1) as isize;
            match key.code {
                KeyCode::Up => self.rooms.scroll(-1),
                KeyCode::Down => self.rooms.scroll(1),
                KeyCode::PageUp => self.rooms.scroll(-page),
                KeyCode::PageDown => self.rooms.scroll(page),
                KeyCode::Home => self.rooms.scroll(isize::MIN / 2),
                KeyCode::End => self.rooms.scroll(isize::MAX / 2),
                KeyCode::Char('q') => return Some(Action::Quit),
                KeyCode::Char('k' | '/') | KeyCode::Tab => {
                    self.status = Some("r shows the connection lists again".into());
                }
                _ => {}
            }
            return None;
        }
        match key.code {
            KeyCode::Char('q') => return Some(Action::Quit),
            KeyCode::Esc => self.filter.clear(),
            KeyCode::Tab | KeyCode::BackTab | KeyCode::Left | KeyCode::Right => {
                self.focus = self.focus.other();
            }
            KeyCode::Up => self.move_selection(-1),
            KeyCode::Down => self.move_selection(1),
            KeyCode::PageUp => self.move_selection(-self.page_rows()),
            KeyCode::PageDown => self.move_selection(self.page_rows()),
            KeyCode::Home => self.move_selection(isize::MIN / 2),
            KeyCode::End => self.move_selection(isize::MAX / 2),
            KeyCode::Char('/') => self.mode = Mode::Filter,
            KeyCode::Char('k') => {
                if self.focus == Side::Waiting {
                    self.status = Some("only connected (registered) clients can be kicked".into());
                } else if let Some(c) = self.selected(Side::Connected) {
                    let nick = c.nick.clone().unwrap_or_default();
                    self.mode = Mode::ConfirmKick {
                        nick,
                        peer: c.peer.to_string(),
                        reason: DEFAULT_KICK_REASON.into(),
                    };
                } else {
                    self.status = Some("no client selected".into());
                }
            }
            _ => {}
        }
        None
    }

    /// Refresh requests for the rows on screen (fresh byte counts and rooms).
    pub fn refresh_commands(&self) -> Vec<Command> {
        [Side::Waiting, Side::Connected]
            .into_iter()
            .filter_map(|side| {
                let rows = self.visible(side);
                let v = self.views[side.index()];
                let first = rows.get(v.offset)?;
                let mut limit = v.rows.max(1);
                if !self.filter.is_empty() {
                    // Filtered rows are spread out: look a little further.
                    limit *= 10;
                }
                Some(Command::Refresh {
                    state: side.state(),
                    after_id: first.id - 1,
                    limit: limit.min(usize::from(MAX_LIST_LIMIT)) as u16,
                })
            })
            .collect()
    }
}

/// `1536` → `1.5K`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["K", "M", "G", "T", "P"];
    if n < 1024 {
        return format!("{n}B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if v < 10.0 {
        format!("{v:.1}{}", UNITS[unit])
    } else {
        format!("{v:.0}{}", UNITS[unit])
    }
}

/// `125_000` ms → `2m05s`.
pub fn human_duration(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86400, s % 86400 / 3600),
    }
}

fn header_lines(app: &App) -> Vec<Line<'static>> {
    let Some(s) = &app.snapshot else {
        return vec![Line::from("waiting for the first counters...")];
    };
    let c = &s.counters;
    let r = &s.rates;
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let kv = |k: &str, v: String| vec![Span::raw(format!("{k} ")), Span::styled(v, bold)];
    let mut l1 = Vec::new();
    l1.extend(kv("waiting", c.waiting.to_string()));
    l1.extend(kv("   connected", c.connected.to_string()));
    l1.extend(kv("   closing", c.closing.to_string()));
    l1.extend(kv(
        "   rooms",
        app.rooms.summary().unwrap_or_else(|| c.rooms.to_string()),
    ));
    l1.extend(kv("   uptime", human_duration(c.uptime_ms)));
    let mut l2 = Vec::new();
    l2.extend(kv("accepted", format!("{} ({}/s)", c.accepted, r.accepted)));
    l2.extend(kv(
        "   messages",
        format!("{} ({}/s)", c.messages, r.messages),
    ));
    l2.extend(kv(
        "   privates",
        format!("{} ({}/s)", c.privates, r.privates),
    ));
    l2.extend(kv("   slow consumers", c.slow_consumers.to_string()));
    l2.extend(kv("   refused (full)", c.rejected_full.to_string()));
    let mut l3 = Vec::new();
    l3.extend(kv(
        "in",
        format!(
            "{} frames/s {}/s ({} total)",
            r.frames_in,
            human_bytes(r.bytes_in),
            human_bytes(c.bytes_in)
        ),
    ));
    l3.extend(kv(
        "   out",
        format!(
            "{} frames/s {}/s ({} total)",
            r.frames_out,
            human_bytes(r.bytes_out),
            human_bytes(c.bytes_out)
        ),
    ));
    let errors: Vec<String> = ErrorCode::ALL
        .iter()
        .filter_map(|code| {
            let n = c
                .errors
                .get(usize::from(code.as_u16()))
                .copied()
                .unwrap_or(0);
            (n > 0).then(|| format!("{} {n}", code.name()))
        })
        .collect();
    let errors = if errors.is_empty() {
        "none".to_owned()
    } else {
        errors.join(", ")
    };
    let l4 = kv("errors", errors);
    vec![
        Line::from(l1),
        Line::from(l2),
        Line::from(l3),
        Line::from(l4),
    ]
}

fn title(app: &App) -> Line<'static> {
    let (state, color) = match &app.link {
        Link::Connecting => ("connecting...".to_owned(), Color::Yellow),
        Link::Up => ("live".to_owned(), Color::Green),
        Link::Down(m) => (format!("disconnected: {m}"), Color::Red),
        Link::Failed(m) => (format!("refused: {m}"), Color::Red),
    };
    Line::from(vec![
        Span::styled(
            " stxchat top ",
            Style::default().add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!("· {} · ", app.server)),
        Span::styled(state, Style::default().fg(color)),
        Span::raw(" "),
    ])
}

/// Draws the whole screen (and records how many rows each list shows).
pub fn draw(frame: &mut Frame<'_>, app: &mut App) {
    let [header, spark, body, footer] = Layout::vertical([
        Constraint::Length(6),
        Constraint::Length(5),
        Constraint::Min(4),
        Constraint::Length(1),
    ])
    .areas(frame.area());

    frame.render_widget(
        Paragraph::new(header_lines(app))
            .block(Block::default().borders(Borders::ALL).title(title(app))),
        header,
    );

    let data: Vec<u64> = app.history.iter().copied().collect();
    let width = spark.width.saturating_sub(2) as usize;
    let shown = &data[data.len().saturating_sub(width)..];
    let max = shown.iter().copied().max().unwrap_or(0);
    let now = shown.last().copied().unwrap_or(0);
    frame.render_widget(
        Sparkline::default()
            .block(Block::default().borders(Borders::ALL).title(format!(
                " messages/s: {now} now, {max} max over {}s ",
                shown.len()
            )))
            .data(shown)
            .max(max.max(1))
            .style(Style::default().fg(Color::Cyan)),
        spark,
    );

    if app.show_rooms {
        draw_rooms(frame, &mut app.rooms, body);
    } else {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)])
                .areas(body);
        draw_list(frame, app, Side::Waiting, left);
        draw_list(frame, app, Side::Connected, right);
    }

    let footer_line = match &app.mode {
        Mode::Filter => Line::from(vec![
            Span::styled("filter: ", Style::default().add_modifier(Modifier::BOLD)),
            Span::raw(format!("{}_", app.filter)),
            Span::raw("   (Enter keep · Esc clear)"),
        ]),
        _ => {
            let keys = if app.show_rooms {
                "q quit · r connections · ↑↓ PgUp PgDn Home End scroll"
            } else {
                "q quit · Tab switch · ↑↓ PgUp PgDn Home End move · / filter · k kick · r rooms"
            };
            let mut spans = vec![Span::raw(keys)];
            if !app.filter.is_empty() {
                spans.push(Span::styled(
                    format!(" · filter \"{}\"", app.filter),
                    Style::default().fg(Color::Yellow),
                ));
            }
            if let Some(s) = &app.status {
                spans.push(Span::styled(
                    format!(" · {s}"),
                    Style::default().fg(Color::Magenta),
                ));
            }
            Line::from(spans)
        }
    };
    frame.render_widget(Paragraph::new(footer_line), footer);

    if let Mode::ConfirmKick { nick, peer, reason } = &app.mode {
        let area = centered(frame.area(), 60, 7);
        frame.render_widget(Clear, area);
        let text = vec![
            Line::from(vec![
                Span::raw("Kick "),
                Span::styled(nick.clone(), Style::default().add_modifier(Modifier::BOLD)),
                Span::raw(format!(" ({peer})?")),
            ]),
            Line::from(format!("reason: {reason}_")),
            Line::from(""),
            Line::from("Enter kick · Esc cancel"),
        ];
        frame.render_widget(
            Paragraph::new(text).block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(" confirm kick ")
                    .border_style(Style::default().fg(Color::Red)),
            ),
            area,
        );
    }
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

fn draw_list(frame: &mut Frame<'_>, app: &mut App, side: Side, area: Rect) {
    let rows_fit = area.height.saturating_sub(3) as usize;
    let (visible_ids, selected, offset, title) = {
        let rows = app.visible(side);
        let total = app.table.in_state(side.state()).count();
        let name = match side {
            Side::Waiting => "Waiting",
            Side::Connected => "Connected",
        };
        let title = if app.filter.is_empty() {
            format!(" {name} ({total}) ")
        } else {
            format!(" {name} ({} of {total}) ", rows.len())
        };
        let sel = app.selected_index(side, &rows);
        let v = &app.views[side.index()];
        let mut offset = v.offset.min(rows.len().saturating_sub(rows_fit));
        if let Some(i) = sel {
            if i < offset {
                offset = i;
            } else if rows_fit > 0 && i >= offset + rows_fit {
                offset = i + 1 - rows_fit;
            }
        }
        let ids: Vec<u64> = rows
            .iter()
            .skip(offset)
            .take(rows_fit)
            .map(|c| c.id)
            .collect();
        (ids, sel.map(|i| (i, rows[i].id)), offset, title)
    };
    let v = &mut app.views[side.index()];
    v.offset = offset;
    v.rows = rows_fit;
    if let Some((_, id)) = selected {
        v.selected = Some(id);
    }
    let app = &*app;
    let now = app.now_ms;
    let rows: Vec<Row> = visible_ids
        .iter()
        .filter_map(|&id| app.table.get(id))
        .map(|c| match side {
            Side::Waiting => Row::new(vec![
                Cell::from(c.id.to_string()),
                Cell::from(c.peer.to_string()),
                Cell::from(human_duration(now.saturating_sub(c.accepted_ms))),
                Cell::from(human_bytes(c.bytes_in)),
            ]),
            Side::Connected => Row::new(vec![
                Cell::from(c.nick.clone().unwrap_or_default()),
                Cell::from(c.peer.to_string()),
                Cell::from(c.rooms.len().to_string()),
                Cell::from(human_duration(
                    now.saturating_sub(c.connected_ms.unwrap_or(c.accepted_ms)),
                )),
                Cell::from(human_bytes(c.bytes_in)),
                Cell::from(human_bytes(c.bytes_out)),
                Cell::from(human_bytes(c.queued)),
            ]),
        })
        .collect();
    let (header, widths): (Vec<&str>, Vec<Constraint>) = match side {
        Side::Waiting => (
            vec!["ID", "PEER", "WAITING", "IN"],
            vec![
                Constraint::Length(7),
                Constraint::Min(15),
                Constraint::Length(8),
                Constraint::Length(6),
            ],
        ),
        Side::Connected => (
            vec!["NICK", "PEER", "ROOMS", "UP", "IN", "OUT", "QUEUED"],
            vec![
                Constraint::Min(8),
                Constraint::Min(15),
                Constraint::Length(5),
                Constraint::Length(7),
                Constraint::Length(6),
                Constraint::Length(6),
                Constraint::Length(6),
            ],
        ),
    };
    let focused = app.focus == side;
    let border = if focused {
        Style::default().fg(Color::Cyan)
    } else {
        Style::default()
    };
    let highlight = if focused {
        Style::default().add_modifier(Modifier::REVERSED)
    } else {
        Style::default().add_modifier(Modifier::UNDERLINED)
    };
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(Style::default().add_modifier(Modifier::BOLD)))
        .block(
            Block::default()
                .borders(Borders::ALL)
                .title(title)
                .border_style(border),
        )
        .row_highlight_style(highlight);
    let mut state = TableState::default().with_selected(selected.map(|(i, _)| i - offset));
    frame.render_stateful_widget(table, area, &mut state);
}

#[cfg(test)]
mod tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use super::*;
    use crate::admin::proto::ListPage;
    use crate::admin::rates::Rates;
    use crate::core::observe::{CloseReason, ConnChange, ConnEvent, Counters};

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn conn(id: u64, nick: Option<&str>) -> ConnInfo {
        ConnInfo {
            id,
            peer: format!("127.0.0.1:{}", 50000 + id).parse().unwrap(),
            nick: nick.map(str::to_owned),
            state: if nick.is_some() {
                ConnState::Connected
            } else {
                ConnState::Waiting
            },
            rooms: nick.map(|_| vec!["lobby".to_string()]).unwrap_or_default(),
            accepted_ms: 1_000_000,
            connected_ms: nick.map(|_| 1_000_500),
            bytes_in: 2048,
            bytes_out: 5 << 20,
            queued: 0,
        }
    }

    fn page(state: ConnState, entries: Vec<ConnInfo>) -> Update {
        Update::Page {
            after_id: 0,
            page: ListPage {
                state,
                more: false,
                next_after: entries.last().map_or(0, |e| e.id),
                entries,
                rooms_truncated: vec![],
            },
        }
    }

    fn app() -> App {
        let mut app = App::new("127.0.0.1:7879");
        app.now_ms = 1_065_000;
        app.apply(Update::Connected);
        app.apply(page(ConnState::Waiting, vec![conn(1, None), conn(4, None)]));
        app.apply(page(
            ConnState::Connected,
            vec![conn(2, Some("alice")), conn(3, Some("bob"))],
        ));
        let mut errors = vec![0; 21];
        errors[12] = 3;
        app.apply(Update::Snapshot(Snapshot {
            counters: Counters {
                waiting: 2,
                connected: 2,
                rooms: 1,
                accepted: 4,
                messages: 5678,
                errors,
                uptime_ms: 3_723_000,
                ..Counters::default()
            },
            rates: Rates {
                interval_ms: 1000,
                messages: 42,
                ..Rates::default()
            },
        }));
        app
    }

    fn render(app: &mut App, w: u16, h: u16) -> Vec<String> {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| draw(f, app)).unwrap();
        let buf = t.backend().buffer().clone();
        (0..h)
            .map(|y| (0..w).map(|x| buf[(x, y)].symbol().to_string()).collect())
            .collect()
    }

    /// The text of the left (waiting) and right (connected) halves of the body.
    fn halves(lines: &[String], split: usize) -> (String, String) {
        let mut l = String::new();
        let mut r = String::new();
        for line in &lines[11..] {
            let chars: Vec<char> = line.chars().collect();
            l.extend(&chars[..split.min(chars.len())]);
            r.extend(&chars[split.min(chars.len())..]);
            l.push('\n');
            r.push('\n');
        }
        (l, r)
    }

    #[test]
    fn renders_totals_rates_and_both_lists() {
        let mut app = app();
        let lines = render(&mut app, 120, 30);
        let all = lines.join("\n");
        assert!(all.contains("stxchat top"), "{all}");
        assert!(all.contains("live"));
        assert!(all.contains("waiting 2"));
        assert!(all.contains("connected 2"));
        assert!(all.contains("uptime 1h02m"));
        assert!(all.contains("messages 5678 (42/s)"));
        assert!(all.contains("rate_limited 3"));
        assert!(all.contains("messages/s: 42 now, 42 max"));
        let (left, right) = halves(&lines, 48);
        assert!(left.contains("Waiting (2)"), "{left}");
        assert!(left.contains("127.0.0.1:50001"));
        assert!(left.contains("127.0.0.1:50004"));
        assert!(left.contains("1m05s"), "waiting age: {left}");
        assert!(right.contains("Connected (2)"), "{right}");
        assert!(right.contains("alice") && right.contains("bob"));
        assert!(right.contains("127.0.0.1:50002"));
        assert!(right.contains("5.0M"), "bytes out: {right}");
        assert!(!left.contains("alice"));
    }

    #[test]
    fn entries_move_from_waiting_to_connected_and_disappear() {
        let mut app = app();
        app.apply(Update::Event(ConnEvent {
            id: 4,
            peer: "127.0.0.1:50004".parse().unwrap(),
            nick: Some("carol".into()),
            change: ConnChange::Registered,
            time_ms: 1_060_000,
        }));
        let (left, right) = halves(&render(&mut app, 120, 30), 48);
        assert!(!left.contains("127.0.0.1:50004"), "{left}");
        assert!(left.contains("Waiting (1)"));
        assert!(right.contains("carol") && right.contains("127.0.0.1:50004"));
        assert!(right.contains("Connected (3)"));

        app.apply(Update::Event(ConnEvent {
            id: 2,
            peer: "127.0.0.1:50002".parse().unwrap(),
            nick: Some("alice".into()),
            change: ConnChange::Closed(CloseReason::Bye),
            time_ms: 1_061_000,
        }));
        let (_, right) = halves(&render(&mut app, 120, 30), 48);
        assert!(!right.contains("alice"), "{right}");
        assert!(right.contains("Connected (2)"));
    }

    #[test]
    fn filter_by_nick_or_address() {
        let mut app = app();
        assert_eq!(app.on_key(key(KeyCode::Char('/'))), None);
        for ch in "BO".chars() {
            app.on_key(key(KeyCode::Char(ch)));
        }
        let lines = render(&mut app, 120, 30);
        assert!(lines.last().unwrap().contains("filter: BO_"));
        app.on_key(key(KeyCode::Enter));
        let (_, right) = halves(&render(&mut app, 120, 30), 48);
        assert!(right.contains("bob") && !right.contains("alice"), "{right}");
        assert!(right.contains("Connected (1 of 2)"));
        // By address.
        app.on_key(key(KeyCode::Esc));
        app.on_key(key(KeyCode::Char('/')));
        for ch in ":50004".chars() {
            app.on_key(key(KeyCode::Char(ch)));
        }
        app.on_key(key(KeyCode::Enter));
        let (left, right) = halves(&render(&mut app, 120, 30), 48);
        assert!(left.contains("127.0.0.1:50004") && !left.contains("127.0.0.1:50001"));
        assert!(!right.contains("bob"));
    }

    #[test]
    fn kick_asks_for_confirmation_first() {
        let mut app = app();
        app.on_key(key(KeyCode::Down)); // alice -> bob
        assert_eq!(app.on_key(key(KeyCode::Char('k'))), None);
        let all = render(&mut app, 120, 30).join("\n");
        assert!(all.contains("confirm kick"), "{all}");
        assert!(all.contains("Kick bob (127.0.0.1:50003)?"), "{all}");
        // Esc cancels without kicking.
        assert_eq!(app.on_key(key(KeyCode::Esc)), None);
        assert_eq!(app.mode, Mode::Normal);
        // Confirm with an edited reason.
        app.on_key(key(KeyCode::Char('k')));
        for _ in 0..DEFAULT_KICK_REASON.len() {
            app.on_key(key(KeyCode::Backspace));
        }
        for ch in "flood".chars() {
            app.on_key(key(KeyCode::Char(ch)));
        }
        assert_eq!(
            app.on_key(key(KeyCode::Enter)),
            Some(Action::Send(Command::Kick {
                nick: "bob".into(),
                reason: "flood".into()
            }))
        );
        app.apply(Update::Kicked {
            nick: "bob".into(),
            found: true,
        });
        let lines = render(&mut app, 120, 30);
        assert!(lines.last().unwrap().contains("kicked bob"));
        // Waiting clients have no nick: no kick.
        app.on_key(key(KeyCode::Tab));
        assert_eq!(app.on_key(key(KeyCode::Char('k'))), None);
        assert_eq!(app.mode, Mode::Normal);
    }

    #[test]
    fn lists_scroll_and_selection_follows_its_entry() {
        let mut app = App::new("x");
        app.now_ms = 1_065_000;
        let many: Vec<ConnInfo> = (1..=200)
            .map(|i| conn(i, Some(&format!("user{i:03}"))))
            .collect();
        app.apply(page(ConnState::Connected, many));
        let (_, right) = halves(&render(&mut app, 120, 30), 48);
        assert!(right.contains("user001") && !right.contains("user200"));
        app.on_key(key(KeyCode::End));
        let (_, right) = halves(&render(&mut app, 120, 30), 48);
        assert!(
            right.contains("user200") && !right.contains("user001"),
            "{right}"
        );
        assert_eq!(app.selected(Side::Connected).unwrap().id, 200);
        app.on_key(key(KeyCode::PageUp));
        let sel = app.selected(Side::Connected).unwrap().id;
        assert!(sel < 200 && sel > 150, "{sel}");
        // The selected entry leaves: the selection moves to the next one.
        app.apply(Update::Event(ConnEvent {
            id: sel,
            peer: "127.0.0.1:1".parse().unwrap(),
            nick: None,
            change: ConnChange::Closed(CloseReason::PeerClosed),
            time_ms: 0,
        }));
        assert_eq!(app.selected(Side::Connected).unwrap().id, sel + 1);
        app.on_key(key(KeyCode::Home));
        assert_eq!(app.selected(Side::Connected).unwrap().id, 1);
        // Refreshes ask for the rows on screen: 30 lines less header (6),
        // sparkline (5), footer (1), borders (2) and column titles (1).
        render(&mut app, 120, 30);
        let cmds = app.refresh_commands();
        assert_eq!(
            cmds,
            vec![Command::Refresh {
                state: ConnState::Connected,
                after_id: 0,
                limit: 15
            }]
        );
    }

    #[test]
    fn link_state_and_quit() {
        let mut app = App::new("10.0.0.1:7879");
        let all = render(&mut app, 100, 20).join("\n");
        assert!(all.contains("connecting..."));
        assert!(all.contains("waiting for the first counters"));
        app.apply(Update::Down("connection refused; retrying".into()));
        let all = render(&mut app, 100, 20).join("\n");
        assert!(all.contains("disconnected: connection refused"), "{all}");
        assert_eq!(app.on_key(key(KeyCode::Char('q'))), Some(Action::Quit));
        assert_eq!(
            app.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
    }

    #[test]
    fn human_units() {
        assert_eq!(human_bytes(0), "0B");
        assert_eq!(human_bytes(1536), "1.5K");
        assert_eq!(human_bytes(50 << 20), "50M");
        assert_eq!(human_duration(59_999), "59s");
        assert_eq!(human_duration(125_000), "2m05s");
        assert_eq!(human_duration(7_380_000), "2h03m");
        assert_eq!(human_duration(90_000_000), "1d01h");
    }

    #[test]
    fn a_tiny_terminal_does_not_panic() {
        let mut app = app();
        for (w, h) in [(1, 1), (10, 5), (30, 12), (200, 3)] {
            render(&mut app, w, h);
        }
        app.on_key(key(KeyCode::Char('k')));
        render(&mut app, 5, 3);
    }

    #[test]
    fn r_shows_the_largest_rooms_and_the_header_counts_quiet_ones() {
        use crate::admin::rooms::RoomsPage;
        use crate::core::observe::RoomInfo;
        let mut app = app();
        app.apply(Update::Rooms(RoomsPage {
            rooms: 2,
            quiet_rooms: 1,
            more: false,
            entries: vec![
                RoomInfo {
                    name: "lobby".into(),
                    members: 19_342,
                    quiet: true,
                },
                RoomInfo {
                    name: "dev".into(),
                    members: 4,
                    quiet: false,
                },
            ],
        }));
        let all = render(&mut app, 120, 30).join("\n");
        assert!(all.contains("rooms 2 (1 quiet)"), "{all}");
        assert!(all.contains("Waiting (2)") && !all.contains("19,342"));
        assert_eq!(app.on_key(key(KeyCode::Char('r'))), None);
        let lines = render(&mut app, 120, 30);
        let all = lines.join("\n");
        assert!(all.contains("Rooms (2, 1 quiet)"), "{all}");
        assert!(!all.contains("Waiting (2)"));
        let lobby = lines.iter().position(|l| l.contains("lobby")).unwrap();
        let dev = lines.iter().position(|l| l.contains("dev ")).unwrap();
        assert!(lobby < dev, "largest first");
        assert!(lines[lobby].contains("19,342") && lines[lobby].contains("quiet"));
        assert!(lines.last().unwrap().contains("r connections"));
        // Kicking needs the connection lists.
        app.on_key(key(KeyCode::Char('k')));
        assert_eq!(app.mode, Mode::Normal);
        app.on_key(key(KeyCode::Char('r')));
        assert!(render(&mut app, 120, 30).join("\n").contains("Waiting (2)"));
        app.apply(Update::RoomsUnsupported);
        assert!(render(&mut app, 120, 30).join("\n").contains("rooms 1"));
    }
}
