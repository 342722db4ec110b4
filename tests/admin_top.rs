//! `stxchat top` against a real server: the one-shot JSON report (the real
//! binary), and the live screen's data path (network thread + screen state,
//! drawn with ratatui's `TestBackend`).

mod admin_support;
mod common;

use std::net::TcpStream;
use std::process::Command as Process;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use admin_support::*;
use common::{Client, Msg};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use stxchat::admin::top::net::{self, Command, NetConfig, Update};
use stxchat::admin::top::view::{self, App, Link, Side};
use stxchat::codec::{ClientMessage, ErrorCode};

fn top(args: &[&str]) -> std::process::Output {
    Process::new(env!("CARGO_BIN_EXE_stxchat"))
        .arg("top")
        .args(args)
        .env_remove("STXCHAT_ADMIN")
        .env_remove("STXCHAT_ADMIN_TOKEN")
        .output()
        .expect("run stxchat top")
}

#[test]
fn once_json_prints_counters_and_both_lists() {
    let srv = AdminServer::start(admin_config());
    let waiting = TcpStream::connect(srv.addr).unwrap();
    let mut a = Client::join_as(srv.addr, "alice");
    let _b = Client::join_as(srv.addr, "bob");
    a.join("dev");
    let mut admin = srv.client(None);
    wait_for("the waiting connection", || {
        (admin.counters().unwrap().counters.waiting == 1).then_some(())
    });

    let admin_addr = srv.admin.to_string();
    let out = top(&["--admin", &admin_addr, "--once", "--json", "--limit", "1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["counters"]["waiting"], 1);
    assert_eq!(v["counters"]["connected"], 2);
    assert_eq!(v["counters"]["accepted"], 3);
    assert!(v["rates"].is_object());
    let w = v["waiting"].as_array().unwrap();
    assert_eq!(w.len(), 1);
    assert_eq!(w[0]["peer"], waiting.local_addr().unwrap().to_string());
    assert_eq!(w[0]["state"], "waiting");
    assert_eq!(w[0]["nick"], serde_json::Value::Null);
    assert_eq!(v["waiting_more"], false);
    let c = v["connected"].as_array().unwrap();
    assert_eq!(c.len(), 1, "--limit 1");
    assert_eq!(c[0]["nick"], "alice");
    assert_eq!(c[0]["rooms"], serde_json::json!(["lobby", "dev"]));
    assert_eq!(v["connected_more"], true);
    // The largest rooms, at most --limit of them.
    assert_eq!(
        v["rooms"],
        serde_json::json!([{"name": "lobby", "members": 2, "quiet": false}])
    );
    assert_eq!(v["rooms_more"], true);
    assert_eq!(v["quiet_rooms"], 0);
    assert_eq!(v["counters"]["rooms"], 2);

    // Without --json: the same, as text.
    let out = top(&["--admin", &admin_addr, "--once"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("waiting 1  connected 2"), "{text}");
    assert!(text.contains("alice") && text.contains("bob"), "{text}");
    assert!(text.contains("ROOMS (2, 0 quiet)"), "{text}");
    let lobby = text.lines().find(|l| l.trim_start().starts_with("lobby"));
    assert!(lobby.is_some_and(|l| l.contains(" 2")), "{text}");
}

#[test]
fn once_reports_errors_with_a_failure_code() {
    let mut cfg = admin_config();
    cfg.admin.token = Some("t0ken".into());
    let srv = AdminServer::start(cfg);
    let admin_addr = srv.admin.to_string();
    let out = top(&["--admin", &admin_addr, "--once", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("auth_failed"));
    let out = top(&[
        "--admin",
        &admin_addr,
        "--token",
        "t0ken",
        "--once",
        "--json",
    ]);
    assert!(out.status.success());

    // Nothing listening there.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = free.local_addr().unwrap().to_string();
    drop(free);
    let out = top(&["--admin", &addr, "--once"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot connect"));
    // --json needs --once.
    let out = top(&["--admin", &addr, "--json"]);
    assert_eq!(out.status.code(), Some(2));
}

/// The live screen's state, fed by the real network thread.
struct Live {
    app: App,
    updates: mpsc::Receiver<Update>,
    commands: mpsc::Sender<Command>,
}

impl Live {
    fn start(admin: &str) -> Live {
        let (utx, urx) = mpsc::channel();
        let (ctx, crx) = mpsc::channel();
        net::spawn(
            NetConfig {
                addr: admin.to_owned(),
                token: None,
                tls: None,
                poll_every: Duration::from_millis(200),
                retry_every: Duration::from_millis(200),
                timeout: WAIT,
            },
            utx,
            crx,
        )
        .unwrap();
        Live {
            app: App::new(admin),
            updates: urx,
            commands: ctx,
        }
    }

    /// Applies updates until `done` holds (at most [`WAIT`]).
    fn until(&mut self, what: &str, mut done: impl FnMut(&App) -> bool) {
        let deadline = Instant::now() + WAIT;
        while !done(&self.app) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "timed out waiting for {what}");
            if let Ok(u) = self
                .updates
                .recv_timeout(left.min(Duration::from_millis(100)))
            {
                self.app.apply(u);
            }
        }
    }

    fn screen(&mut self) -> String {
        let mut t = Terminal::new(TestBackend::new(120, 30)).unwrap();
        t.draw(|f| view::draw(f, &mut self.app)).unwrap();
        let buf = t.backend().buffer().clone();
        (0..30)
            .map(|y| (0..120).map(|x| buf[(x, y)].symbol()).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn nicks(app: &App, side: Side) -> Vec<String> {
    app.visible(side)
        .iter()
        .map(|c| c.nick.clone().unwrap_or_else(|| c.peer.to_string()))
        .collect()
}

#[test]
fn the_live_view_follows_the_server_and_kicks() {
    let srv = AdminServer::start(admin_config());
    // Some connections exist before top starts: read by the initial paging.
    let early: Vec<Client> = (0..30)
        .map(|i| Client::join_as(srv.addr, &format!("early{i:02}")))
        .collect();
    let raw = TcpStream::connect(srv.addr).unwrap();
    let mut live = Live::start(&srv.admin.to_string());
    live.until("the initial lists", |a| {
        a.link == Link::Up
            && a.visible(Side::Connected).len() == 30
            && a.visible(Side::Waiting).len() == 1
            && a.snapshot.is_some()
    });
    assert_eq!(
        nicks(&live.app, Side::Waiting),
        vec![raw.local_addr().unwrap().to_string()]
    );

    // A waiting client registers: it moves across, live.
    let mut late = Client::connect(srv.addr);
    let late_peer = late.stream.local_addr().unwrap().to_string();
    live.until("the new waiting entry", |a| {
        nicks(a, Side::Waiting).contains(&late_peer)
    });
    late.send(ClientMessage::Hello {
        version: 1,
        nick: "latecomer",
        token: "",
    });
    live.until("the move to connected", |a| {
        nicks(a, Side::Connected).contains(&"latecomer".to_string())
            && !nicks(a, Side::Waiting).contains(&late_peer)
    });
    // 31 rows do not fit: scroll to the end to see it.
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let key = |c| KeyEvent::new(c, KeyModifiers::NONE);
    live.app.focus = Side::Connected;
    let screen = live.screen();
    assert!(!screen.contains("latecomer"), "{screen}");
    assert!(screen.contains("Connected (31)"), "{screen}");
    live.app.on_key(key(KeyCode::End));
    let screen = live.screen();
    assert!(screen.contains("latecomer"), "{screen}");

    // The rates and the sparkline fill in as counters arrive.
    live.until("a measured rate", |a| !a.history.is_empty());

    // Kick from the screen: latecomer is selected; k, Enter.
    assert_eq!(
        live.app.selected(Side::Connected).unwrap().nick.as_deref(),
        Some("latecomer")
    );
    live.app.on_key(key(KeyCode::Char('k')));
    let Some(view::Action::Send(cmd)) = live.app.on_key(key(KeyCode::Enter)) else {
        panic!("Enter confirms the kick")
    };
    live.commands.send(cmd).unwrap();
    live.until("the kick's result and the entry gone", |a| {
        a.status.as_deref() == Some("kicked latecomer")
            && !nicks(a, Side::Connected).contains(&"latecomer".to_string())
    });
    let got = late.until_eof();
    assert_eq!(got.last(), Some(&Msg::Error(ErrorCode::Kicked.as_u16())));

    // Leaving clients disappear.
    drop(early);
    drop(raw);
    live.until("everyone gone", |a| {
        a.visible(Side::Connected).is_empty() && a.visible(Side::Waiting).is_empty()
    });
    assert!(live.screen().contains("Connected (0)"));

    // Refreshes of the visible window are answered with pages.
    let _c = Client::join_as(srv.addr, "refreshed");
    live.until("the new client", |a| a.visible(Side::Connected).len() == 1);
    live.screen();
    for cmd in live.app.refresh_commands() {
        live.commands.send(cmd).unwrap();
    }
    live.until("fresh byte counts", |a| {
        a.visible(Side::Connected)
            .first()
            .is_some_and(|c| c.bytes_in > 0 && c.rooms == ["lobby"])
    });
}

#[test]
fn the_live_view_reconnects_after_the_server_restarts() {
    let srv = AdminServer::start(admin_config());
    let admin = srv.admin.to_string();
    let mut live = Live::start(&admin);
    live.until("connected", |a| a.link == Link::Up);
    drop(srv);
    live.until("disconnected", |a| matches!(a.link, Link::Down(_)));
    assert!(live.screen().contains("disconnected"));
}

#[test]
fn the_live_view_lists_the_largest_rooms() {
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let srv = AdminServer::start(admin_config());
    let mut clients: Vec<Client> = (0..3)
        .map(|i| Client::join_as(srv.addr, &format!("u{i}")))
        .collect();
    clients[0].join("side");
    let mut live = Live::start(&srv.admin.to_string());
    live.until("the rooms", |a| {
        a.rooms.page.as_ref().is_some_and(|p| p.rooms == 2)
    });
    live.app
        .on_key(KeyEvent::new(KeyCode::Char('r'), KeyModifiers::NONE));
    let screen = live.screen();
    assert!(screen.contains("Rooms (2, 0 quiet)"), "{screen}");
    let lobby = screen.find("lobby").expect("lobby listed");
    let side = screen.find("side").expect("side listed");
    assert!(lobby < side, "largest first:\n{screen}");
    // Polled with the counters: a room that empties goes away.
    clients[0].part("side");
    live.until("side gone", |a| {
        a.rooms.page.as_ref().is_some_and(|p| p.rooms == 1)
    });
    assert!(!live.screen().contains("side"));
}
