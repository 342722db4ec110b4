//! The nodes pane of `stxchat top`: the cluster's live nodes (name,
//! registered clients, last applied sequence), shown above the lists when
//! the server is part of a cluster, and the node name in the title; the
//! pane's title also shows the answering node's gap, loss and resync
//! counts (CLUSTER.md rule 8) when the server sends them.
//! Drawing only reads a [`NodesPane`], so it is tested on ratatui's
//! `TestBackend`.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Block, Borders, Cell, Row, Table};

use crate::admin::nodes::NodesPage;
use crate::client::format::thousands as grouped;

/// How many nodes top asks for each time.
pub const NODES_ASKED: u16 = 64;

/// The most rows of nodes the pane takes on screen (more scroll off).
pub const MAX_NODE_ROWS: u16 = 6;

/// What top knows of the server's node and its cluster.
#[derive(Debug, Clone, Default)]
pub struct NodesPane {
    /// The last NODES answer.
    pub page: Option<NodesPage>,
}

impl NodesPane {
    /// The answering node's name, once known.
    pub fn node(&self) -> Option<&str> {
        self.page.as_ref().map(|p| p.node.as_str())
    }

    /// The height the pane wants (0: no cluster, no pane).
    pub fn height(&self) -> u16 {
        match &self.page {
            Some(p) if !p.entries.is_empty() => {
                let rows = u16::try_from(p.entries.len()).unwrap_or(u16::MAX);
                rows.min(MAX_NODE_ROWS) + 3
            }
            _ => 0,
        }
    }
}

/// Draws the nodes pane into `area`; the answering node is in bold.
pub fn draw_nodes(frame: &mut Frame<'_>, pane: &NodesPane, area: Rect) {
    let Some(page) = &pane.page else {
        return;
    };
    let rows_fit = usize::from(area.height.saturating_sub(3));
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let total: u64 = page.entries.iter().map(|n| u64::from(n.connected)).sum();
    let more = if page.more { "+" } else { "" };
    let health = match &page.health {
        Some(h) => format!(
            "; here: {} gaps filled, {} lost, {} resyncs",
            grouped(h.gap_fetched),
            grouped(h.unrecoverable),
            grouped(h.resyncs)
        ),
        None => String::new(),
    };
    let title = format!(
        " Cluster: {}{more} nodes, {} connected{health} ",
        page.entries.len(),
        grouped(total)
    );
    let rows: Vec<Row> = page
        .entries
        .iter()
        .take(rows_fit)
        .map(|n| {
            let row = Row::new(vec![
                Cell::from(n.name.clone()),
                Cell::from(format!("{:>12}", grouped(u64::from(n.connected)))),
                Cell::from(format!("{:>14}", n.applied)),
            ]);
            if n.name == page.node {
                row.style(bold)
            } else {
                row
            }
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Min(16),
            Constraint::Length(12),
            Constraint::Length(14),
        ],
    )
    .header(Row::new(vec!["NODE", "   CONNECTED", "   APPLIED SEQ"]).style(bold))
    .block(
        Block::default()
            .borders(Borders::ALL)
            .border_style(Style::default().fg(Color::Cyan))
            .title(title),
    );
    frame.render_widget(table, area);
}

#[cfg(test)]
mod tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use super::*;
    use crate::admin::nodes::NodeEntry;

    fn render(pane: &NodesPane, w: u16, h: u16) -> Vec<String> {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| draw_nodes(f, pane, f.area())).unwrap();
        let buf = t.backend().buffer().clone();
        (0..h)
            .map(|y| (0..w).map(|x| buf[(x, y)].symbol().to_string()).collect())
            .collect()
    }

    fn page(n: u64) -> NodesPage {
        NodesPage {
            node: "node-1".into(),
            more: false,
            entries: (1..=n)
                .map(|i| NodeEntry {
                    id: i,
                    name: format!("node-{i}"),
                    connected: 16_667 * i as u32,
                    applied: 1_000 + i,
                })
                .collect(),
            health: None,
        }
    }

    #[test]
    fn nodes_are_listed_with_counts_and_applied_sequence() {
        let pane = NodesPane {
            page: Some(page(3)),
        };
        assert_eq!(pane.height(), 6);
        assert_eq!(pane.node(), Some("node-1"));
        let lines = render(&pane, 60, 6);
        let all = lines.join("\n");
        assert!(all.contains("Cluster: 3 nodes, 100,002 connected"), "{all}");
        let two = lines.iter().find(|l| l.contains("node-2")).unwrap();
        assert!(two.contains("33,334") && two.contains("1002"), "{two}");
        assert!(!all.contains("here:"), "no health sent: {all}");
        let with = NodesPane {
            page: Some(
                page(3).with_health(Some(crate::admin::nodes::ClusterHealth {
                    gap_fetched: 12_345,
                    unrecoverable: 2,
                    resyncs: 1,
                })),
            ),
        };
        let all = render(&with, 100, 6).join("\n");
        assert!(
            all.contains("here: 12,345 gaps filled, 2 lost, 1 resyncs"),
            "{all}"
        );
    }

    #[test]
    fn no_cluster_no_pane_and_long_lists_are_capped() {
        let alone = NodesPane {
            page: Some(page(0)),
        };
        assert_eq!(alone.height(), 0);
        assert_eq!(alone.node(), Some("node-1"));
        assert_eq!(NodesPane::default().height(), 0);
        assert_eq!(NodesPane::default().node(), None);
        let many = NodesPane {
            page: Some(page(40)),
        };
        assert_eq!(many.height(), MAX_NODE_ROWS + 3);
        let all = render(&many, 60, many.height()).join("\n");
        assert!(all.contains("node-6") && !all.contains("node-7 "), "{all}");
        for (w, h) in [(1, 1), (5, 2)] {
            render(&many, w, h);
        }
    }
}
