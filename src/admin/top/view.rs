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
use crate::admin::top::nodes_view::{NodesPane, draw_nodes};
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
    /// The node's name and the cluster's nodes.
    pub nodes: NodesPane,
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
            nodes: NodesPane::default(),
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
            Update::Nodes(page) => self.nodes.page = Some(page),
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
        Span::raw(
            app.nodes
                .node()
                .map_or_else(String::new, |n| format!("node {n} · ")),
        ),
        Span::styled(state, Style::default().fg(color)),
        Span::raw(" "),
    ])
}

/// Draws the whole screen (and records how many rows each list shows).
pub fn draw(frame: &mut Frame<'_>, app: &mut App) {
    let [header, spark, nodes, body, footer] = Layout::vertical([
        Constraint::Length(6),
        Constraint::Length(5),
        Constraint::Length(app.nodes.height()),
        Constraint::Min(4),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    if nodes.height > 0 {
        draw_nodes(frame, &app.nodes, nodes);
    }

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
#[path = "view_tests.rs"]
mod tests;
