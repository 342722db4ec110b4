//! Rendering tests of the full-screen client on ratatui's `TestBackend`:
//! tabs, message pane, member list, status bar, notices, input line, and the
//! keys that change what is shown.

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Rect;

use stxchat::client::event::ClientEvent;
use stxchat::client::request::Request;
use stxchat::client::state::ChatState;
use stxchat::client::tui::{KeyAction, handle_key};
use stxchat::client::view;

const W: u16 = 80;
const H: u16 = 14;

/// The screen's rows as text.
fn screen(state: &ChatState, w: u16, h: u16) -> Vec<String> {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| view::render(f, state)).unwrap();
    let buf = terminal.backend().buffer();
    (0..h)
        .map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>())
        .collect()
}

fn contains(rows: &[String], needle: &str) -> bool {
    rows.iter().any(|r| r.contains(needle))
}

fn assert_shows(rows: &[String], needle: &str) {
    assert!(
        contains(rows, needle),
        "{needle:?} not on screen:\n{}",
        rows.join("\n")
    );
}

fn message(room: &str, from: &str, text: &str, seq: u64, replayed: bool) -> ClientEvent {
    ClientEvent::Message {
        room: room.into(),
        from: from.into(),
        text: text.into(),
        seq,
        time_ms: 1_700_000_000_000 + seq,
        replayed,
    }
}

/// alice, connected to "stx", in lobby with bob.
fn chatting() -> ChatState {
    let mut s = ChatState::new("127.0.0.1:7878", "alice");
    for e in [
        ClientEvent::Connected {
            nick: "alice".into(),
            server_name: "stx".into(),
            max_payload: 4096,
            keepalive_secs: 60,
        },
        message("lobby", "bob", "from before", 1, true),
        ClientEvent::Members {
            room: "lobby".into(),
            nicks: vec!["bob".into(), "alice".into()],
            partial: false,
        },
        ClientEvent::Joined {
            room: "lobby".into(),
            nick: "alice".into(),
        },
        ClientEvent::Rtt { micros: 1500 },
        message("lobby", "bob", "hello alice", 2, false),
        message("lobby", "alice", "hi bob", 3, false),
    ] {
        s.apply(&e);
    }
    s
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn pane_of(state: &ChatState) -> Rect {
    view::layout(Rect::new(0, 0, W, H), state).pane
}

#[test]
fn tabs_messages_members_and_status_are_drawn() {
    let s = chatting();
    let rows = screen(&s, W, H);
    // Tab bar: status tab named after the server, then the room.
    assert!(
        rows[0].contains("1:stx") && rows[0].contains("2:lobby"),
        "{}",
        rows[0]
    );
    // Messages: time, marker, nick, text; replayed history and own lines marked.
    assert_shows(&rows, "↺ <bob> from before");
    assert_shows(&rows, "  <bob> hello alice");
    assert_shows(&rows, "» <alice> hi bob");
    assert_shows(&rows, "* you joined lobby");
    // Member list beside the pane.
    assert_shows(&rows, "2 members");
    let member_col = rows.iter().position(|r| r.contains("2 members")).unwrap();
    assert!(rows[member_col + 1].trim_end().ends_with("alice"));
    assert!(rows[member_col + 2].trim_end().ends_with("bob"));
    // Status bar: server, nick, connection, round-trip time.
    let status = &rows[usize::from(H) - 2];
    for part in ["stx (127.0.0.1:7878)", "alice", "connected", "rtt 1.5 ms"] {
        assert!(status.contains(part), "{part:?} not in {status:?}");
    }
    // Input line with the room as prompt.
    assert!(rows[usize::from(H) - 1].starts_with("[lobby] "));
}

#[test]
fn joins_leaves_and_errors_are_notices() {
    let mut s = chatting();
    s.apply(&ClientEvent::Joined {
        room: "lobby".into(),
        nick: "carol".into(),
    });
    let rows = screen(&s, W, H);
    assert_shows(&rows, "* carol joined");
    assert_shows(&rows, "3 members");
    assert_shows(&rows, "carol");
    s.apply(&ClientEvent::left("lobby", "carol", 2));
    s.apply(&ClientEvent::server_error(9, ""));
    s.apply(&ClientEvent::Refused {
        reason: "message too long: 5000 bytes, at most 4064 fit here; not sent".into(),
    });
    let rows = screen(&s, W, H);
    assert_shows(&rows, "* carol left (timed out)");
    assert_shows(&rows, "2 members");
    assert_shows(&rows, "! error: you are not in that room");
    assert_shows(&rows, "! error: message too long: 5000 bytes");
    assert!(
        !rows
            .iter()
            .skip(1)
            .take(usize::from(H) - 4)
            .any(|r| r.contains("carol ") && !r.contains("joined") && !r.contains("left"))
    );
}

#[test]
fn long_lines_wrap_within_the_pane() {
    let mut s = chatting();
    let words: Vec<String> = (0..40).map(|i| format!("word{i}")).collect();
    s.apply(&message("lobby", "bob", &words.join(" "), 4, false));
    let rows = screen(&s, W, H);
    let pane = pane_of(&s);
    let text: String = rows[1..usize::from(H) - 2]
        .iter()
        .map(|r| {
            let left: String = r.chars().take(usize::from(pane.width)).collect();
            left
        })
        .collect::<Vec<_>>()
        .join(" ");
    for w in &words {
        assert!(
            text.split_whitespace().any(|t| t == w),
            "{w} missing:\n{}",
            rows.join("\n")
        );
    }
    // The continuation rows hang under the text, after time, marker and nick.
    let first = rows.iter().position(|r| r.contains("<bob> word0")).unwrap();
    assert!(rows[first + 1].starts_with(&" ".repeat(8 + "<bob> ".len())));
}

#[test]
fn page_up_scrolls_back_and_page_down_returns() {
    let mut s = chatting();
    for i in 0..40 {
        s.apply(&message(
            "lobby",
            "bob",
            &format!("line {i}"),
            10 + i,
            false,
        ));
    }
    let rows = screen(&s, W, H);
    assert_shows(&rows, "<bob> line 39");
    assert!(!contains(&rows, "<bob> line 20 "));
    let pane = pane_of(&s);
    assert_eq!(
        handle_key(&mut s, key(KeyCode::PageUp), pane),
        KeyAction::None
    );
    assert_eq!(
        handle_key(&mut s, key(KeyCode::PageUp), pane),
        KeyAction::None
    );
    let rows = screen(&s, W, H);
    assert!(!contains(&rows, "<bob> line 39"));
    assert_shows(&rows, "scrolled");
    // Scrolling stops at the top.
    for _ in 0..20 {
        handle_key(&mut s, key(KeyCode::PageUp), pane);
    }
    assert_shows(&screen(&s, W, H), "↺ <bob> from before");
    for _ in 0..30 {
        handle_key(&mut s, key(KeyCode::PageDown), pane);
    }
    let rows = screen(&s, W, H);
    assert_shows(&rows, "<bob> line 39");
    assert!(!contains(&rows, "scrolled"));
}

#[test]
fn tabs_switch_with_tab_and_alt_digits_and_count_unread() {
    let mut s = chatting();
    s.apply(&ClientEvent::Private {
        from: "bob".into(),
        to: "alice".into(),
        text: "psst".into(),
        seq: 50,
        time_ms: 1_700_000_000_000,
    });
    let rows = screen(&s, W, H);
    assert!(rows[0].contains("3:@bob (1)"), "{}", rows[0]);
    let pane = pane_of(&s);
    handle_key(&mut s, key(KeyCode::Tab), pane);
    let rows = screen(&s, W, H);
    assert!(
        rows[0].contains("3:@bob") && !rows[0].contains("(1)"),
        "{}",
        rows[0]
    );
    assert_shows(&rows, "<bob> psst");
    // No member list in a private conversation; the prompt names the peer.
    assert!(!contains(&rows, "members"));
    assert!(rows[usize::from(H) - 1].starts_with("[@bob] "));
    handle_key(
        &mut s,
        KeyEvent::new(KeyCode::Char('1'), KeyModifiers::ALT),
        pane,
    );
    assert_eq!(s.active, 0);
    handle_key(
        &mut s,
        KeyEvent::new(KeyCode::Char('2'), KeyModifiers::ALT),
        pane,
    );
    assert_eq!(s.active, 1);
    handle_key(&mut s, key(KeyCode::BackTab), pane);
    assert_eq!(s.active, 0);
    let rows = screen(&s, W, H);
    assert_shows(&rows, "* connected to stx as alice");
}

#[test]
fn typing_and_enter_make_requests_and_ctrl_c_quits() {
    let mut s = chatting();
    let pane = pane_of(&s);
    for c in "hey there".chars() {
        handle_key(&mut s, key(KeyCode::Char(c)), pane);
    }
    let mut terminal = Terminal::new(TestBackend::new(W, H)).unwrap();
    terminal.draw(|f| view::render(f, &s)).unwrap();
    let cursor = terminal.get_cursor_position().unwrap();
    assert_eq!(
        (cursor.x, cursor.y),
        (("[lobby] hey there".len()) as u16, H - 1)
    );
    assert_eq!(
        handle_key(&mut s, key(KeyCode::Enter), pane),
        KeyAction::Send(Request::Say {
            room: "lobby".into(),
            text: "hey there".into()
        })
    );
    assert_eq!(s.input.text(), "");
    handle_key(&mut s, key(KeyCode::Up), pane);
    assert_eq!(s.input.text(), "hey there");
    assert_eq!(
        handle_key(
            &mut s,
            KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL),
            pane
        ),
        KeyAction::Quit
    );
}

#[test]
fn the_input_line_scrolls_to_keep_the_cursor_visible() {
    let mut s = chatting();
    let pane = pane_of(&s);
    let long: String = (0..120)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    for c in long.chars() {
        handle_key(&mut s, key(KeyCode::Char(c)), pane);
    }
    let mut terminal = Terminal::new(TestBackend::new(W, H)).unwrap();
    terminal.draw(|f| view::render(f, &s)).unwrap();
    let cursor = terminal.get_cursor_position().unwrap();
    assert!(cursor.x < W);
    let buf = terminal.backend().buffer();
    let input: String = (0..W).map(|x| buf[(x, H - 1)].symbol()).collect();
    assert!(input.starts_with("[lobby] "));
    assert!(
        input.trim_end().ends_with(&long[long.len() - 20..]),
        "{input}"
    );
}

#[test]
fn disconnects_show_in_the_status_bar_and_as_notices() {
    let mut s = chatting();
    s.apply(&ClientEvent::Disconnected {
        reason: "the server closed the connection: the server is shutting down".into(),
    });
    s.apply(&ClientEvent::Reconnecting {
        attempt: 1,
        delay_ms: 500,
        reason: "the server closed the connection".into(),
    });
    let rows = screen(&s, W, H);
    assert_shows(&rows, "! disconnected: the server closed the connection");
    assert_shows(&rows, "disconnected, retry 1 in 0.5 s");
    assert_shows(&rows, "0 members");
    s.apply(&ClientEvent::Fatal {
        message: "kicked".into(),
    });
    assert_shows(&screen(&s, W, H), "offline");
}

#[test]
fn a_narrow_terminal_hides_the_member_list() {
    let s = chatting();
    let rows = screen(&s, 40, H);
    assert!(!contains(&rows, "members"));
    assert_shows(&rows, "<bob> hello");
}

#[test]
fn a_quiet_room_shows_its_count_and_labels_the_partial_list() {
    let mut s = chatting();
    for e in [
        ClientEvent::Members {
            room: "big".into(),
            nicks: vec!["bob".into(), "alice".into(), "carol".into()],
            partial: true,
        },
        ClientEvent::Room {
            room: "big".into(),
            quiet: true,
            members: 19_342,
        },
        ClientEvent::Joined {
            room: "big".into(),
            nick: "alice".into(),
        },
    ] {
        s.apply(&e);
    }
    let rows = screen(&s, W, H);
    assert_shows(&rows, "19,342 members");
    assert_shows(&rows, "partial list");
    assert_shows(&rows, "… 19,339 more");
    let title = rows
        .iter()
        .position(|r| r.contains("19,342 members"))
        .unwrap();
    assert!(
        rows[title + 1].trim_end().ends_with("partial list"),
        "{}",
        rows.join("\n")
    );
    assert!(rows[title + 2].trim_end().ends_with("alice"));
    assert_shows(&rows, "* you joined big, a quiet room of 19,342 members");
    // The count follows ROOM; nothing else changes on screen.
    s.apply(&ClientEvent::Room {
        room: "big".into(),
        quiet: true,
        members: 20_001,
    });
    let rows = screen(&s, W, H);
    assert_shows(&rows, "20,001 members");
    assert_shows(&rows, "… 19,998 more");
    // Back to normal: the complete list, then ROOM bit 0 clear.
    s.apply(&ClientEvent::Members {
        room: "big".into(),
        nicks: vec!["bob".into(), "alice".into()],
        partial: false,
    });
    s.apply(&ClientEvent::Room {
        room: "big".into(),
        quiet: false,
        members: 2,
    });
    let rows = screen(&s, W, H);
    assert_shows(&rows, "2 members");
    assert!(!contains(&rows, "partial list"));
    assert!(!contains(&rows, "more"));
    assert_shows(&rows, "* big is no longer quiet (2 members)");
}
