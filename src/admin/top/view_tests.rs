//! Unit tests of [`super`] (view.rs), kept apart so the module stays readable.

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

#[test]
fn the_title_names_the_node_and_a_cluster_gets_a_nodes_pane() {
    use crate::admin::nodes::{NodeEntry, NodesPage};
    let mut app = app();
    app.apply(Update::Nodes(NodesPage {
        node: "alone-7".into(),
        more: false,
        entries: vec![],
        health: None,
    }));
    let all = render(&mut app, 120, 30).join("\n");
    assert!(all.contains("node alone-7"), "{all}");
    assert!(!all.contains("Cluster:"), "{all}");
    app.apply(Update::Nodes(NodesPage {
        node: "b".into(),
        more: false,
        entries: vec![
            NodeEntry {
                id: 1,
                name: "a".into(),
                connected: 19_000,
                applied: 77,
            },
            NodeEntry {
                id: 2,
                name: "b".into(),
                connected: 5,
                applied: 76,
            },
        ],
        health: None,
    }));
    let lines = render(&mut app, 120, 30);
    let all = lines.join("\n");
    assert!(all.contains("node b"), "{all}");
    assert!(all.contains("Cluster: 2 nodes, 19,005 connected"), "{all}");
    let a = lines.iter().find(|l| l.contains("19,000")).unwrap();
    assert!(a.contains("77"), "{a}");
    // The connection lists are still there below the pane.
    assert!(all.contains("alice"), "{all}");
}
