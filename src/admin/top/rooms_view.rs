//! The rooms pane of `stxchat top` (key `r`): the largest rooms, largest
//! first, with their member counts and whether each is quiet (protocol
//! version 2), refreshed with the counters. Drawing only reads a
//! [`RoomsPane`], so it is tested on ratatui's `TestBackend`.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table};

use crate::admin::rooms::RoomsPage;
use crate::client::format::thousands as grouped;

/// How many of the largest rooms top asks for each time.
pub const ROOMS_ASKED: u16 = 200;

/// What the rooms pane knows and where it is scrolled to.
#[derive(Debug, Clone, Default)]
pub struct RoomsPane {
    /// The last ROOMS answer.
    pub page: Option<RoomsPage>,
    /// The server does not know the ROOMS request (an older version).
    pub unsupported: bool,
    /// First row shown.
    pub offset: usize,
    /// Rows that fit at the last draw.
    pub rows: usize,
}

impl RoomsPane {
    /// Scrolls by `delta` rows (clamped to the list).
    pub fn scroll(&mut self, delta: isize) {
        let len = self.page.as_ref().map_or(0, |p| p.entries.len());
        let max = len.saturating_sub(self.rows.max(1));
        self.offset = self.offset.saturating_add_signed(delta).min(max);
    }

    /// `N rooms, Q quiet` for the header, once known.
    pub fn summary(&self) -> Option<String> {
        let p = self.page.as_ref()?;
        Some(format!("{} ({} quiet)", p.rooms, p.quiet_rooms))
    }
}

/// Draws the rooms pane into `area` (and records how many rows fit).
pub fn draw_rooms(frame: &mut Frame<'_>, pane: &mut RoomsPane, area: Rect) {
    let rows_fit = usize::from(area.height.saturating_sub(3));
    pane.rows = rows_fit;
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(Style::default().fg(Color::Cyan));
    let Some(page) = &pane.page else {
        let text = if pane.unsupported {
            "this server does not list rooms (it predates the ROOMS request)"
        } else {
            "waiting for the room list..."
        };
        frame.render_widget(Paragraph::new(text).block(block.title(" Rooms ")), area);
        return;
    };
    let more = if page.more {
        format!(", largest {} shown", page.entries.len())
    } else {
        String::new()
    };
    let title = format!(
        " Rooms ({}, {} quiet{more}) ",
        grouped(page.rooms),
        grouped(page.quiet_rooms)
    );
    pane.offset = pane
        .offset
        .min(page.entries.len().saturating_sub(rows_fit.max(1)));
    let quiet_style = Style::default()
        .fg(Color::Yellow)
        .add_modifier(Modifier::BOLD);
    let rows: Vec<Row> = page
        .entries
        .iter()
        .skip(pane.offset)
        .take(rows_fit)
        .map(|e| {
            let (label, style) = if e.quiet {
                ("quiet", quiet_style)
            } else {
                ("", Style::default())
            };
            Row::new(vec![
                Cell::from(e.name.clone()),
                Cell::from(format!("{:>10}", grouped(e.members))),
                Cell::from(label).style(style),
            ])
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Min(16),
            Constraint::Length(10),
            Constraint::Length(6),
        ],
    )
    .header(
        Row::new(vec!["ROOM", "   MEMBERS", "QUIET"])
            .style(Style::default().add_modifier(Modifier::BOLD)),
    )
    .block(block.title(title));
    frame.render_widget(table, area);
}

#[cfg(test)]
mod tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use super::*;
    use crate::core::observe::RoomInfo;

    fn render(pane: &mut RoomsPane, w: u16, h: u16) -> Vec<String> {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| draw_rooms(f, pane, f.area())).unwrap();
        let buf = t.backend().buffer().clone();
        (0..h)
            .map(|y| (0..w).map(|x| buf[(x, y)].symbol().to_string()).collect())
            .collect()
    }

    fn page(n: u64) -> RoomsPage {
        RoomsPage {
            rooms: n + 10,
            quiet_rooms: 1,
            more: true,
            entries: (0..n)
                .map(|i| RoomInfo {
                    name: format!("room{i:03}"),
                    members: if i == 0 { 19_342 } else { 100 - i },
                    quiet: i == 0,
                })
                .collect(),
        }
    }

    #[test]
    fn rooms_are_listed_with_counts_and_the_quiet_ones_marked() {
        let mut pane = RoomsPane {
            page: Some(page(3)),
            ..RoomsPane::default()
        };
        let lines = render(&mut pane, 60, 10);
        let all = lines.join("\n");
        assert!(
            all.contains("Rooms (13, 1 quiet, largest 3 shown)"),
            "{all}"
        );
        let lobby = lines.iter().find(|l| l.contains("room000")).unwrap();
        assert!(
            lobby.contains("19,342") && lobby.contains("quiet"),
            "{lobby}"
        );
        let other = lines.iter().find(|l| l.contains("room001")).unwrap();
        assert!(other.contains("99") && !other.contains("quiet"), "{other}");
        assert_eq!(pane.summary().as_deref(), Some("13 (1 quiet)"));
    }

    #[test]
    fn the_pane_scrolls_within_the_list() {
        let mut pane = RoomsPane {
            page: Some(page(50)),
            ..RoomsPane::default()
        };
        render(&mut pane, 60, 13);
        assert_eq!(pane.rows, 10);
        pane.scroll(1000);
        assert_eq!(pane.offset, 40);
        let all = render(&mut pane, 60, 13).join("\n");
        assert!(all.contains("room049") && !all.contains("room039"), "{all}");
        pane.scroll(-1000);
        assert_eq!(pane.offset, 0);
    }

    #[test]
    fn before_an_answer_and_for_an_old_server_it_says_so() {
        let mut pane = RoomsPane::default();
        assert!(
            render(&mut pane, 70, 5)
                .join("")
                .contains("waiting for the room list")
        );
        pane.unsupported = true;
        assert!(
            render(&mut pane, 80, 5)
                .join("")
                .contains("does not list rooms")
        );
        assert_eq!(pane.summary(), None);
        for (w, h) in [(1, 1), (5, 2)] {
            render(&mut pane, w, h);
        }
    }
}
