//! Unit tests of [`super`] (state.rs), kept apart so the module stays readable.

use super::*;

fn connected() -> ChatState {
    let mut s = ChatState::new("127.0.0.1:7878", "alice");
    s.apply(&ClientEvent::Connected {
        nick: "Alice".into(),
        server_name: "stx".into(),
        max_payload: 4096,
        keepalive_secs: 30,
    });
    s.apply(&ClientEvent::Joined {
        room: "lobby".into(),
        nick: "Alice".into(),
    });
    s
}

fn msg(room: &str, from: &str, text: &str, seq: u64, replayed: bool) -> ClientEvent {
    ClientEvent::Message {
        room: room.into(),
        from: from.into(),
        text: text.into(),
        seq,
        time_ms: 1000 * seq,
        replayed,
    }
}

fn texts(tab: &Tab) -> Vec<String> {
    tab.lines
        .iter()
        .map(|l| match &l.kind {
            LineKind::Chat { from, text, .. } => format!("<{from}> {text}"),
            LineKind::Notice(t) => format!("-- {t}"),
            LineKind::Error(t) => format!("!! {t}"),
        })
        .collect()
}

#[test]
fn own_join_opens_and_shows_the_room() {
    let s = connected();
    assert_eq!(s.nick, "Alice");
    assert_eq!(s.tabs.len(), 2);
    assert_eq!(s.active, 1);
    assert_eq!(s.active_tab().kind, TabKind::Room("lobby".into()));
    assert!(s.active_tab().joined);
    assert_eq!(s.active_tab().roster.members(), vec!["Alice".to_string()]);
}

#[test]
fn a_join_sequence_fills_and_shows_the_new_tab() {
    // As the server sends it: history, MEMBERS, then our own JOINED.
    let mut s = connected();
    s.apply(&msg("dev", "bob", "earlier", 1, true));
    s.apply(&ClientEvent::Members {
        room: "dev".into(),
        nicks: vec!["bob".into(), "Alice".into()],
        partial: false,
    });
    assert_eq!(s.active, 1, "not shown before the join completes");
    s.apply(&ClientEvent::Joined {
        room: "dev".into(),
        nick: "Alice".into(),
    });
    assert_eq!(s.active_tab().kind, TabKind::Room("dev".into()));
    assert_eq!(s.active_tab().roster.members(), ["Alice", "bob"]);
    // Without history the tab does not exist before JOINED.
    s.apply(&ClientEvent::Members {
        room: "ops".into(),
        nicks: vec!["carol".into(), "Alice".into()],
        partial: false,
    });
    assert_eq!(s.room_tab("ops"), None);
    s.apply(&ClientEvent::Joined {
        room: "ops".into(),
        nick: "Alice".into(),
    });
    assert_eq!(s.active_tab().kind, TabKind::Room("ops".into()));
    assert_eq!(s.active_tab().roster.members(), ["Alice", "carol"]);
    assert!(
        !texts(s.active_tab())
            .iter()
            .any(|l| l.contains("members of"))
    );
    // Re-joining after a reconnect does not switch tabs.
    s.select(1);
    s.apply(&ClientEvent::Disconnected { reason: "x".into() });
    s.apply(&ClientEvent::Joined {
        room: "ops".into(),
        nick: "Alice".into(),
    });
    assert_eq!(s.active, 1);
    assert!(s.tabs[3].joined);
}

#[test]
fn members_follow_members_joined_and_left() {
    let mut s = connected();
    s.apply(&ClientEvent::Members {
        room: "LOBBY".into(),
        nicks: vec!["zed".into(), "Alice".into(), "bob".into()],
        partial: false,
    });
    assert_eq!(s.tabs[1].roster.members(), ["Alice", "bob", "zed"]);
    s.apply(&ClientEvent::Joined {
        room: "lobby".into(),
        nick: "carol".into(),
    });
    s.apply(&ClientEvent::left("lobby", "ZED", 1));
    assert_eq!(s.tabs[1].roster.members(), ["Alice", "bob", "carol"]);
    let t = texts(&s.tabs[1]);
    assert!(t.contains(&"-- carol joined".to_string()));
    assert!(t.contains(&"-- ZED left (quit)".to_string()));
    // A member list that nobody asked for is not printed.
    assert!(!t.iter().any(|l| l.contains("members of")));
}

fn room(room: &str, quiet: bool, members: u32) -> ClientEvent {
    ClientEvent::Room {
        room: room.into(),
        quiet,
        members,
    }
}

fn members(room: &str, nicks: &[&str], partial: bool) -> ClientEvent {
    ClientEvent::Members {
        room: room.into(),
        nicks: nicks.iter().map(|n| (*n).to_owned()).collect(),
        partial,
    }
}

#[test]
fn a_quiet_room_join_shows_the_count_and_a_partial_list() {
    // As the server sends it: history, one partial MEMBERS, ROOM, own JOINED.
    let mut s = connected();
    s.apply(&msg("big", "bob", "earlier", 1, true));
    s.apply(&members("big", &["bob", "carol", "Alice"], true));
    s.apply(&room("big", true, 19_342));
    s.apply(&ClientEvent::Joined {
        room: "big".into(),
        nick: "Alice".into(),
    });
    let tab = s.active_tab();
    assert_eq!(tab.kind, TabKind::Room("big".into()));
    assert!(tab.roster.is_quiet() && tab.roster.is_partial());
    assert_eq!(tab.roster.total(), 19_342);
    assert_eq!(tab.roster.members(), ["Alice", "bob", "carol"]);
    assert_eq!(
        texts(tab).last().unwrap(),
        "-- you joined big, a quiet room of 19,342 members: joins and leaves are not shown"
    );
    // Counts move once a second; no line for them.
    let lines = tab.lines.len();
    s.apply(&room("big", true, 19_400));
    assert_eq!(s.active_tab().roster.total(), 19_400);
    assert_eq!(s.active_tab().lines.len(), lines);
    // Nothing is made up from a new list, and stray JOINED/LEFT show nothing.
    s.apply(&members("big", &["Alice", "dave"], true));
    s.apply(&ClientEvent::Joined {
        room: "big".into(),
        nick: "erin".into(),
    });
    s.apply(&ClientEvent::left("big", "dave", 1));
    assert_eq!(s.active_tab().lines.len(), lines);
    assert_eq!(s.active_tab().roster.members(), ["Alice"]);
}

#[test]
fn a_room_turns_quiet_and_back_with_one_notice_each() {
    let mut s = connected();
    s.apply(&members("lobby", &["Alice", "bob"], false));
    s.apply(&room("lobby", true, 3));
    let t = texts(&s.tabs[1]);
    assert_eq!(
        t.last().unwrap(),
        "-- lobby is now a quiet room (3 members): joins and leaves are not shown"
    );
    assert!(s.tabs[1].roster.is_partial());
    assert_eq!(s.tabs[1].roster.members(), ["Alice", "bob"]);
    // Back to normal: the complete list, then ROOM bit 0 clear.
    s.apply(&members("lobby", &["Alice", "bob", "zed"], false));
    s.apply(&room("lobby", false, 3));
    let tab = &s.tabs[1];
    assert!(!tab.roster.is_quiet() && !tab.roster.is_partial());
    assert_eq!(tab.roster.members(), ["Alice", "bob", "zed"]);
    let t = texts(tab);
    assert_eq!(
        t.last().unwrap(),
        "-- lobby is no longer quiet (3 members): joins and leaves are shown again"
    );
    assert!(
        !t.iter().any(|l| l.contains("zed")),
        "no join made up: {t:?}"
    );
    // Joins are announced again.
    s.apply(&ClientEvent::Joined {
        room: "lobby".into(),
        nick: "carol".into(),
    });
    assert_eq!(texts(&s.tabs[1]).last().unwrap(), "-- carol joined");
    // A lost connection forgets the quiet state.
    s.apply(&room("lobby", true, 1500));
    s.apply(&ClientEvent::Disconnected { reason: "x".into() });
    assert_eq!(s.tabs[1].roster, Roster::default());
}

#[test]
fn who_of_a_quiet_room_is_answered_with_its_count() {
    let mut s = connected();
    s.apply(&room("lobby", true, 1001));
    s.input.insert_str("/who");
    assert_eq!(s.submit(), Some(Request::Who("lobby".into())));
    s.apply(&members("lobby", &["bob", "Alice"], true));
    assert!(!texts(&s.tabs[1]).iter().any(|l| l.contains("members of")));
    s.apply(&room("lobby", true, 1002));
    assert_eq!(
        texts(&s.tabs[1]).last().unwrap(),
        "-- members of lobby (partial list, 2 of 1,002): Alice, bob"
    );
    assert_eq!(s.tabs[1].roster.total(), 1002);
}

#[test]
fn an_unavailable_error_is_shown_like_the_others() {
    let mut s = connected();
    s.apply(&ClientEvent::server_error(21, ""));
    assert_eq!(
        texts(&s.tabs[1]).last().unwrap(),
        "!! error: the server could not reach its cluster; nothing was done"
    );
}

#[test]
fn messages_mark_own_and_skip_replays_seen_before() {
    let mut s = connected();
    s.apply(&msg("lobby", "bob", "old", 1, true));
    s.apply(&msg("lobby", "alice", "mine", 2, false));
    s.apply(&msg("lobby", "bob", "old", 1, true));
    let chats: Vec<_> = s.tabs[1]
        .lines
        .iter()
        .filter_map(|l| match &l.kind {
            LineKind::Chat {
                from,
                own,
                replayed,
                ..
            } => Some((from.clone(), *own, *replayed)),
            _ => None,
        })
        .collect();
    assert_eq!(
        chats,
        [
            ("bob".to_string(), false, true),
            ("alice".to_string(), true, false)
        ]
    );
}

#[test]
fn privates_get_a_tab_per_peer_and_unread_counts() {
    let mut s = connected();
    let p = |from: &str, to: &str, seq| ClientEvent::Private {
        from: from.into(),
        to: to.into(),
        text: "x".into(),
        seq,
        time_ms: 0,
    };
    s.apply(&p("bob", "alice", 1));
    s.apply(&p("Alice", "BOB", 2));
    s.apply(&p("alice", "alice", 3));
    let kinds: Vec<_> = s.tabs.iter().map(|t| t.kind.clone()).collect();
    assert_eq!(
        kinds,
        [
            TabKind::Status,
            TabKind::Room("lobby".into()),
            TabKind::Private("bob".into()),
            TabKind::Private("alice".into())
        ]
    );
    assert_eq!(s.tabs[2].unread, 2);
    assert_eq!(s.tabs[2].title("stx"), "@bob");
    s.next_tab();
    assert_eq!(s.active, 2);
    assert_eq!(s.tabs[2].unread, 0);
}

#[test]
fn submit_targets_the_shown_tab() {
    let mut s = connected();
    s.input.insert_str("hello");
    assert_eq!(
        s.submit(),
        Some(Request::Say {
            room: "lobby".into(),
            text: "hello".into()
        })
    );
    s.input.insert_str("/msg bob hi");
    assert_eq!(
        s.submit(),
        Some(Request::Whisper {
            to: "bob".into(),
            text: "hi".into()
        })
    );
    assert_eq!(s.active_tab().kind, TabKind::Private("bob".into()));
    s.input.insert_str("again");
    assert_eq!(
        s.submit(),
        Some(Request::Whisper {
            to: "bob".into(),
            text: "again".into()
        })
    );
    s.input.insert_str("/part");
    assert_eq!(s.submit(), None);
    assert_eq!(s.private_tab("bob"), None);
    s.select(0);
    s.input.insert_str("hi");
    assert_eq!(s.submit(), None);
    assert!(matches!(
        s.tabs[0].lines.back().unwrap().kind,
        LineKind::Error(_)
    ));
    s.input.insert_str("/bogus");
    assert_eq!(s.submit(), None);
    s.input.insert_str("/quit");
    assert_eq!(s.submit(), Some(Request::Quit));
    assert!(s.quitting);
}

#[test]
fn who_answers_are_printed_and_part_closes_the_tab() {
    let mut s = connected();
    s.input.insert_str("/who");
    assert_eq!(s.submit(), Some(Request::Who("lobby".into())));
    s.apply(&ClientEvent::Members {
        room: "lobby".into(),
        nicks: vec!["Alice".into(), "bob".into()],
        partial: false,
    });
    assert!(texts(&s.tabs[1]).contains(&"-- members of lobby (2): Alice, bob".to_string()));
    s.apply(&ClientEvent::left("lobby", "alice", 0));
    assert_eq!(s.room_tab("lobby"), None);
    assert_eq!(s.active, 0);
    assert!(texts(&s.tabs[0]).contains(&"-- you left lobby".to_string()));
}

#[test]
fn disconnect_clears_members_and_is_shown_everywhere() {
    let mut s = connected();
    s.apply(&ClientEvent::Disconnected {
        reason: "the server closed the connection".into(),
    });
    assert!(!s.tabs[1].joined);
    assert!(s.tabs[1].roster.members().is_empty());
    assert!(matches!(s.connection, Connection::Offline(_)));
    for tab in &s.tabs {
        assert!(
            texts(tab).contains(&"!! disconnected: the server closed the connection".to_string())
        );
    }
    s.apply(&ClientEvent::Fatal {
        message: "gave up".into(),
    });
    s.input.insert_str("hello");
    assert_eq!(s.submit(), None);
    s.input.insert_str("/quit");
    assert_eq!(s.submit(), Some(Request::Quit));
}

#[test]
fn too_long_text_is_refused_at_once() {
    let mut s = connected();
    // MESSAGE overhead: 22 bytes plus room and nick.
    let max = 4096 - 22 - "lobby".len() - "Alice".len();
    s.input.insert_str(&"x".repeat(max + 1));
    assert_eq!(s.submit(), None);
    assert_eq!(
        texts(&s.tabs[1]).last().unwrap(),
        &format!(
            "!! error: message too long: {} bytes, at most {max} fit here; not sent",
            max + 1
        )
    );
    s.input.insert_str(&"x".repeat(max));
    assert!(matches!(s.submit(), Some(Request::Say { .. })));
}

#[test]
fn repeated_reconnect_failures_are_told_once() {
    let mut s = connected();
    for attempt in 1..5 {
        s.apply(&ClientEvent::Reconnecting {
            attempt,
            delay_ms: 100,
            reason: if attempt == 1 { "lost" } else { "refused" }.into(),
        });
    }
    let notices = texts(&s.tabs[0])
        .into_iter()
        .filter(|l| l.contains("reconnecting in"))
        .count();
    assert_eq!(notices, 2);
    assert_eq!(
        s.connection,
        Connection::Reconnecting {
            attempt: 4,
            delay_ms: 100
        }
    );
}

#[test]
fn errors_are_readable_in_the_shown_tab() {
    let mut s = connected();
    s.apply(&ClientEvent::server_error(10, ""));
    assert_eq!(
        texts(&s.tabs[1]).last().unwrap(),
        "!! error: there is no such room"
    );
}
