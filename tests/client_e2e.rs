//! End-to-end tests of `stxchat client --plain`: the real binary, driven
//! through pipes, talking to a real in-process server on a loopback port.
//! Every wait is for an expected line, bounded by a timeout.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::TestServer;

/// Longest wait for any one expected line or exit.
const WAIT: Duration = Duration::from_secs(15);

/// A `stxchat client --plain` process.
struct Client {
    nick: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Receiver<String>,
    seen: Vec<String>,
}

/// How a client process ended.
struct Finished {
    status: ExitStatus,
    /// Stdout lines not consumed by `expect` before the end.
    rest: Vec<String>,
    stderr: String,
}

impl Client {
    fn start(addr: SocketAddr, nick: &str, extra: &[&str]) -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_stxchat"))
            .arg("client")
            .arg(addr.to_string())
            .args(["--nick", nick, "--plain"])
            .args(extra)
            .env_remove("STXCHAT_SERVER")
            .env_remove("STXCHAT_NICK")
            .env_remove("STXCHAT_PASSWORD")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("client starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut err = child.stderr.take().unwrap();
        let (etx, stderr) = mpsc::channel();
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            let _ = etx.send(s);
        });
        Client {
            nick: nick.to_owned(),
            stdin: child.stdin.take(),
            child,
            lines,
            stderr,
            seen: Vec::new(),
        }
    }

    /// Starts a client and waits until it is in the default room.
    fn join(addr: SocketAddr, nick: &str) -> Client {
        let mut c = Client::start(addr, nick, &[]);
        c.expect(&format!("[lobby] * {nick} joined"));
        c
    }

    /// Types one line.
    fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").expect("write to client");
        stdin.flush().expect("flush to client");
    }

    /// Waits for the next line satisfying `pred`, skipping others.
    fn expect_where(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "{}: no line {what} within {WAIT:?}; saw {:#?}",
                        self.nick, self.seen
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!(
                        "{}: output ended before a line {what}; saw {:#?}",
                        self.nick, self.seen
                    )
                }
            }
        }
    }

    /// Waits for exactly this line.
    fn expect(&mut self, line: &str) -> String {
        self.expect_where(&format!("{line:?}"), |l| l == line)
    }

    /// Closes stdin (end of input) and waits for the process to exit.
    fn finish(mut self) -> Finished {
        drop(self.stdin.take());
        self.wait()
    }

    /// Waits for the process to exit (killing it if it does not in time).
    fn wait(mut self) -> Finished {
        let deadline = Instant::now() + WAIT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for client") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "{}: did not exit within {WAIT:?}; saw {:#?}",
                    self.nick, self.seen
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut rest = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(WAIT) {
            rest.push(line);
        }
        let stderr = self.stderr.recv_timeout(WAIT).unwrap_or_default();
        Finished {
            status,
            rest,
            stderr,
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn server() -> TestServer {
    TestServer::start(common::config())
}

#[test]
fn room_messages_reach_every_member_and_the_sender() {
    let srv = server();
    let mut alice = Client::join(srv.addr, "alice");
    let mut bob = Client::start(srv.addr, "bob", &[]);
    bob.expect("[lobby] * members (2): alice, bob");
    bob.expect("[lobby] * bob joined");
    alice.expect("[lobby] * bob joined");

    alice.send("hello bob");
    alice.expect("[lobby] <alice> hello bob");
    bob.expect("[lobby] <alice> hello bob");
    bob.send("hi  alice, with  spaces ");
    alice.expect("[lobby] <bob> hi  alice, with  spaces ");

    let a = alice.finish();
    assert!(a.status.success(), "alice: {}", a.stderr);
    bob.expect("[lobby] * alice left (quit)");
    assert!(bob.finish().status.success());
}

#[test]
fn private_messages_reach_only_the_two_and_unknown_nicks_are_reported() {
    let srv = server();
    let mut alice = Client::join(srv.addr, "alice");
    let mut bob = Client::join(srv.addr, "bob");
    let mut carol = Client::join(srv.addr, "carol");
    alice.expect("[lobby] * carol joined");

    alice.send("/msg Bob psst, a secret");
    alice.expect("[private] <alice -> bob> psst, a secret");
    bob.expect("[private] <alice -> bob> psst, a secret");
    bob.send("/msg alice got it");
    alice.expect("[private] <bob -> alice> got it");

    alice.send("/msg nobody hello?");
    alice.expect_where("reporting no_such_nick", |l| {
        l.starts_with("error: nobody by that nick is online")
    });

    // carol saw none of it: her next line is her own message.
    carol.send("anyone?");
    let line = carol.expect_where("with a message or private", |l| {
        l.starts_with("[lobby] <") || l.starts_with("[private]")
    });
    assert_eq!(line, "[lobby] <carol> anyone?");
    for c in [alice, bob, carol] {
        assert!(c.finish().status.success());
    }
}

#[test]
fn joins_and_leaves_are_shown_with_reasons_and_text_follows_the_last_join() {
    let srv = server();
    let mut alice = Client::join(srv.addr, "alice");
    let mut bob = Client::join(srv.addr, "bob");

    bob.send("/join dev");
    bob.expect("[dev] * members (1): bob");
    bob.expect("[dev] * bob joined");
    alice.send("/join Dev");
    alice.send("hello dev");
    bob.expect("[dev] * alice joined");
    bob.expect("[dev] <alice> hello dev");

    alice.send("/part");
    alice.expect("[dev] * alice left (parted)");
    bob.expect("[dev] * alice left (parted)");
    // After leaving dev, text goes to lobby again.
    alice.send("back in the lobby");
    bob.expect("[lobby] <alice> back in the lobby");

    let b = bob.finish();
    assert!(b.status.success(), "bob: {}", b.stderr);
    alice.expect("[lobby] * bob left (quit)");
    assert!(alice.finish().status.success());
}

#[test]
fn history_is_replayed_and_marked() {
    let srv = server();
    let mut alice = Client::join(srv.addr, "alice");
    alice.send("first words");
    alice.expect("[lobby] <alice> first words");
    let mut bob = Client::start(srv.addr, "bob", &[]);
    bob.expect("[lobby] (history) <alice> first words");
    bob.expect("[lobby] * bob joined");
    drop(alice);
    drop(bob);
}

#[test]
fn server_and_local_errors_read_as_sentences() {
    let srv = server();
    let mut alice = Client::join(srv.addr, "alice");
    alice.send("/part nowhere");
    alice.expect_where("about not_in_room", |l| {
        l.starts_with("error: you are not in that room")
    });
    alice.send("/who nowhere");
    alice.expect_where("about no_such_room", |l| {
        l.starts_with("error: there is no such room")
    });
    alice.send("/frob");
    alice.expect("error: unknown command /frob (try /help)");
    alice.send("/join");
    alice.expect("error: usage: /join ROOM");
    // 4096 - 22 - len("lobby") - len("alice") = 4064 bytes fit; one more does not.
    alice.send(&"x".repeat(4065));
    alice.expect("error: message too long: 4065 bytes, at most 4064 fit here; not sent");
    let fits = "y".repeat(4064);
    alice.send(&fits);
    alice.expect(&format!("[lobby] <alice> {fits}"));
    let done = alice.finish();
    assert!(done.status.success());
    assert!(
        !done
            .rest
            .iter()
            .any(|l| l.contains("not_in_room") || l.contains("no_such")),
        "codes are not shown: {:?}",
        done.rest
    );
}

#[test]
fn end_of_input_flushes_what_the_last_lines_caused() {
    let srv = server();
    let mut bob = Client::join(srv.addr, "bob");
    let mut alice = Client::start(srv.addr, "alice", &[]);
    alice.send("last words");
    alice.send("/who");
    let done = alice.finish();
    assert!(done.status.success(), "alice: {}", done.stderr);
    assert!(
        done.rest
            .contains(&"[lobby] <alice> last words".to_string()),
        "{:?}",
        done.rest
    );
    assert_eq!(
        done.rest.last().map(String::as_str),
        Some("[lobby] * members (2): alice, bob"),
        "{:?}",
        done.rest
    );
    bob.expect("[lobby] <alice> last words");
    bob.expect("[lobby] * alice left (quit)");
}

#[test]
fn quit_command_exits_zero() {
    let srv = server();
    let mut alice = Client::join(srv.addr, "alice");
    alice.send("/quit");
    let done = alice.wait();
    assert!(done.status.success(), "{}", done.stderr);
}

#[test]
fn json_mode_prints_one_object_per_event() {
    let srv = server();
    let mut alice = Client::start(srv.addr, "alice", &["--json"]);
    alice.expect_where("with alice's join", |l| {
        l.contains("\"event\":\"joined\"") && l.contains("\"nick\":\"alice\"")
    });
    alice.send("multi\tline? no, tab");
    let line = alice.expect_where("with the message", |l| l.contains("\"event\":\"message\""));
    let v: serde_json::Value = serde_json::from_str(&line).expect("valid JSON");
    assert_eq!(v["room"], "lobby");
    assert_eq!(v["from"], "alice");
    assert_eq!(v["text"], "multi\tline? no, tab");
    assert_eq!(v["replayed"], false);
    assert!(v["seq"].as_u64().is_some());
    alice.send("/part nowhere");
    let line = alice.expect_where("with the error", |l| {
        l.contains("\"event\":\"server_error\"")
    });
    let v: serde_json::Value = serde_json::from_str(&line).expect("valid JSON");
    assert_eq!(v["name"], "not_in_room");
    assert_eq!(v["code"], 9);
    let done = alice.finish();
    assert!(done.status.success());
    for l in &done.rest {
        serde_json::from_str::<serde_json::Value>(l).expect("every line is JSON");
    }
}

#[test]
fn a_taken_nick_fails_with_a_clear_message() {
    let srv = server();
    let _alice = Client::join(srv.addr, "alice");
    let again = Client::start(srv.addr, "ALICE", &[]);
    let done = again.wait();
    assert!(!done.status.success());
    assert!(
        done.stderr
            .contains("registration refused: that nick is already in use"),
        "{}",
        done.stderr
    );
}

#[test]
fn an_unreachable_server_fails_with_a_clear_message() {
    let addr = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let c = Client::start(addr, "alice", &[]);
    let done = c.finish();
    assert!(!done.status.success());
    assert!(
        done.stderr.contains(&format!("cannot connect to {addr}")),
        "{}",
        done.stderr
    );
}

/// A TCP relay in front of a server: its address stays the same while the
/// connections through it can be cut, as a network failure would.
struct Relay {
    addr: SocketAddr,
    conns: Arc<Mutex<Vec<TcpStream>>>,
    stop: Arc<AtomicBool>,
}

impl Relay {
    fn start(upstream: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let conns = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, st) = (conns.clone(), stop.clone());
        std::thread::spawn(move || {
            for down in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(down) = down else { continue };
                let Ok(up) = TcpStream::connect(upstream) else {
                    continue;
                };
                let mut list = c.lock().unwrap();
                list.push(down.try_clone().unwrap());
                list.push(up.try_clone().unwrap());
                for (mut from, mut to) in [
                    (down.try_clone().unwrap(), up.try_clone().unwrap()),
                    (up, down),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(Shutdown::Both);
                        let _ = from.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        Relay { addr, conns, stop }
    }

    /// Cuts every connection made so far (both ends see EOF).
    fn cut_all(&self) {
        for s in self.conns.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.cut_all();
        // Wake the accepting thread so it sees the stop flag.
        let _ = TcpStream::connect(self.addr);
    }
}

#[test]
fn a_lost_connection_is_reported_and_rooms_are_rejoined() {
    let srv = server();
    let relay = Relay::start(srv.addr);
    let mut alice = Client::join(relay.addr, "alice");
    alice.send("/join dev");
    alice.expect("[dev] * alice joined");
    let mut bob = Client::join(srv.addr, "bob");
    bob.send("/join dev");
    bob.expect("[dev] * members (2): alice, bob");

    relay.cut_all();
    alice.expect("* disconnected: the server closed the connection");
    bob.expect("[dev] * alice left (quit)");
    alice.expect_where("about connecting again", |l| {
        l.starts_with("* connected to ") && l.ends_with(" as alice")
    });
    alice.expect("[dev] * alice joined");
    bob.expect("[dev] * alice joined");
    // The current room is the last one joined (dev) again.
    alice.send("still here");
    bob.expect("[dev] <alice> still here");
    assert!(alice.finish().status.success());
}

#[test]
fn a_server_shutdown_is_reported_and_no_reconnect_gives_up() {
    let mut srv = server();
    let mut alice = Client::join(srv.addr, "alice");
    let mut quitter = Client::start(srv.addr, "quitter", &["--no-reconnect"]);
    quitter.expect("[lobby] * quitter joined");
    alice.expect("[lobby] * quitter joined");

    srv.stop();
    alice.expect("error: the server is shutting down");
    alice.expect("* disconnected: the server closed the connection: the server is shutting down");
    alice.expect_where("about the next attempt", |l| {
        l.contains("reconnecting in") && l.ends_with("(attempt 1)")
    });
    let q = quitter.wait();
    assert!(!q.status.success(), "--no-reconnect gives up");
    assert!(
        q.stderr
            .contains("the server is shutting down; not reconnecting"),
        "{}",
        q.stderr
    );
    // Still reconnecting, alice quits at the end of input.
    let a = alice.finish();
    assert!(a.status.success(), "{}", a.stderr);
}

#[test]
fn a_member_list_split_over_several_frames_is_shown_whole() {
    let mut cfg = common::config();
    cfg.core.max_payload = 512;
    let srv = TestServer::start(cfg);
    // 40 nicks of 27 bytes need about 1,100 bytes: three MEMBERS frames.
    let names: Vec<String> = (0..40)
        .map(|i| format!("member-with-a-long-name-{i:02}"))
        .collect();
    let _others: Vec<common::Client> = names
        .iter()
        .map(|n| common::Client::join_as(srv.addr, n))
        .collect();
    let mut alice = Client::start(srv.addr, "alice", &[]);
    let line = alice.expect_where("with the member list", |l| {
        l.starts_with("[lobby] * members (")
    });
    let mut expected = names.clone();
    expected.insert(0, "alice".into());
    assert_eq!(
        line,
        format!("[lobby] * members (41): {}", expected.join(", "))
    );
    alice.expect("[lobby] * alice joined");
    alice.send("/who");
    let line = alice.expect_where("with the /who answer", |l| {
        l.starts_with("[lobby] * members (")
    });
    assert_eq!(
        line,
        format!("[lobby] * members (41): {}", expected.join(", "))
    );
}

#[test]
fn keepalive_pings_keep_a_quiet_client_connected() {
    let mut cfg = common::config();
    cfg.core.keepalive_secs = 1;
    let srv = TestServer::start(cfg);
    let mut alice = Client::join(srv.addr, "alice");
    // A raw client that never sends again is dropped after 1.5 s of silence...
    let _idle = common::Client::join_as(srv.addr, "idle");
    alice.expect("[lobby] * idle joined");
    alice.expect("[lobby] * idle left (timed out)");
    // ...while alice, quiet at the keyboard for longer, is still connected.
    alice.send("still here");
    alice.expect("[lobby] <alice> still here");
    let seen = alice.seen.clone();
    let done = alice.finish();
    assert!(done.status.success());
    assert!(
        !seen
            .iter()
            .chain(&done.rest)
            .any(|l| l.contains("disconnected")),
        "{seen:?} {:?}",
        done.rest
    );
}

#[test]
fn the_password_is_sent_and_a_wrong_one_is_reported() {
    let mut cfg = common::config();
    cfg.core.password = Some("sesame".into());
    let srv = TestServer::start(cfg);
    let mut alice = Client::start(srv.addr, "alice", &["--password", "sesame"]);
    alice.expect("[lobby] * alice joined");
    let bob = Client::start(srv.addr, "bob", &["--password", "open up"]);
    let done = bob.finish();
    assert!(!done.status.success());
    assert!(
        done.stderr.contains("registration refused: wrong password"),
        "{}",
        done.stderr
    );
}

#[test]
fn the_room_limit_is_reported() {
    let mut cfg = common::config();
    cfg.core.max_rooms_per_client = 2;
    let srv = TestServer::start(cfg);
    let mut alice = Client::join(srv.addr, "alice");
    alice.send("/join one");
    alice.expect("[one] * alice joined");
    alice.send("/join two");
    alice.expect_where("about too_many_rooms", |l| {
        l.starts_with("error: you are in too many rooms already")
    });
    // The failed join leaves the current room as it was.
    alice.send("here");
    alice.expect("[one] <alice> here");
}

/// A scripted server for protocol version 2 behaviour the real server may
/// not produce on demand: it reads the client's frames, records each HELLO's
/// version, answers PINGs and, per connection, runs `script` after HELLO.
struct FakeServer {
    addr: SocketAddr,
    hellos: Arc<Mutex<Vec<u8>>>,
}

/// What a fake connection does after reading HELLO: the frames it sends
/// (None: close at once after them).
type Script = fn(conn_no: usize, version: u8, nick: &str) -> (Vec<u8>, bool);

impl FakeServer {
    fn start(script: Script) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let hellos = Arc::new(Mutex::new(Vec::new()));
        let seen = hellos.clone();
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(stream) = stream else { return };
                let seen = seen.clone();
                std::thread::spawn(move || serve_fake(stream, n, script, &seen));
            }
        });
        FakeServer { addr, hellos }
    }
}

fn server_frame(msg: stxchat::codec::ServerMessage<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    msg.encode(&mut out, 4096).unwrap();
    out
}

fn serve_fake(mut stream: TcpStream, n: usize, script: Script, seen: &Mutex<Vec<u8>>) {
    use stxchat::codec::{ClientMessage, Event, FrameDecoder, ServerMessage};
    let mut dec = FrameDecoder::new(4096);
    let mut buf = [0u8; 4096];
    stream.set_read_timeout(Some(WAIT)).unwrap();
    loop {
        let Ok(got) = stream.read(&mut buf) else {
            return;
        };
        if got == 0 {
            return;
        }
        let mut out = Vec::new();
        let mut close = false;
        dec.decode_all(&buf[..got], |ev| {
            let Event::Frame(p) = ev else { return };
            match ClientMessage::decode(p) {
                Ok(ClientMessage::Hello { version, nick, .. }) => {
                    seen.lock().unwrap().push(version);
                    let (frames, shut) = script(n, version, nick);
                    out.extend(frames);
                    close |= shut;
                }
                Ok(ClientMessage::Ping { token }) => {
                    out.extend(server_frame(ServerMessage::Pong { token }));
                }
                Ok(ClientMessage::Bye) => close = true,
                _ => {}
            }
        });
        if stream.write_all(&out).is_err() || close {
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// WELCOME, then joining the quiet room "big" (a partial MEMBERS, ROOM,
/// own JOINED), a count moving, and the room turning back to normal (the
/// complete MEMBERS, then ROOM bit 0 clear).
fn quiet_room_script(_: usize, version: u8, nick: &str) -> (Vec<u8>, bool) {
    use stxchat::codec::{FLAG_PARTIAL, NickList, ROOM_QUIET, ServerMessage};
    let mut out = server_frame(ServerMessage::Welcome {
        version,
        nick,
        server_name: "fake",
        max_payload: 4096,
        keepalive_secs: 30,
    });
    let sample = ["zed", nick];
    out.extend(server_frame(ServerMessage::Members {
        room: "big",
        flags: FLAG_PARTIAL,
        nicks: NickList::List(&sample),
    }));
    for members in [19_342, 19_400] {
        out.extend(server_frame(ServerMessage::Room {
            room: "big",
            flags: ROOM_QUIET,
            members,
        }));
        if members == 19_342 {
            out.extend(server_frame(ServerMessage::Joined { room: "big", nick }));
        }
    }
    let all = ["zed", nick, "amy"];
    out.extend(server_frame(ServerMessage::Members {
        room: "big",
        flags: 0,
        nicks: NickList::List(&all),
    }));
    out.extend(server_frame(ServerMessage::Room {
        room: "big",
        flags: 0,
        members: 3,
    }));
    (out, false)
}

#[test]
fn the_client_says_version_2_and_prints_quiet_room_events() {
    let fake = FakeServer::start(quiet_room_script);
    let mut alice = Client::start(fake.addr, "alice", &[]);
    alice.expect("[big] * members (partial list, 2 shown): alice, zed");
    alice.expect("[big] * 19,342 members (quiet room)");
    alice.expect("[big] * alice joined");
    alice.expect("[big] * 19,400 members (quiet room)");
    alice.expect("[big] * members (3): alice, amy, zed");
    alice.expect("[big] * 3 members (no longer quiet: joins and leaves are shown again)");
    let mut lines = alice.seen.clone();
    let done = alice.finish();
    assert!(done.status.success(), "{}", done.stderr);
    lines.extend(done.rest);
    // Nobody's join or leave is made up from the lists.
    let presence: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains(" joined") || l.contains(" left"))
        .collect();
    assert_eq!(presence, ["[big] * alice joined"], "{lines:#?}");
    assert_eq!(*fake.hellos.lock().unwrap(), [2]);
}

#[test]
fn json_mode_prints_room_events_and_partial_lists() {
    let fake = FakeServer::start(quiet_room_script);
    let mut alice = Client::start(fake.addr, "alice", &["--json"]);
    let mut rooms = Vec::new();
    while rooms.len() < 3 {
        let line = alice.expect_where("with a room event", |l| {
            l.contains("\"event\":\"room\"") || l.contains("\"event\":\"members\"")
        });
        let v: serde_json::Value = serde_json::from_str(&line).expect("valid JSON");
        if v["event"] == "members" {
            assert_eq!(v["partial"], rooms.is_empty(), "{v}");
            continue;
        }
        rooms.push(v);
    }
    let expect = |quiet, members| serde_json::json!({"event": "room", "room": "big", "quiet": quiet, "members": members});
    assert_eq!(
        rooms,
        [expect(true, 19_342), expect(true, 19_400), expect(false, 3)]
    );
    assert!(alice.finish().status.success());
}

#[test]
fn a_server_that_refuses_version_2_is_asked_again_with_version_1() {
    fn script(n: usize, version: u8, nick: &str) -> (Vec<u8>, bool) {
        use stxchat::codec::ServerMessage;
        if n == 0 {
            let refusal = server_frame(ServerMessage::Error {
                code: 5,
                detail: "unsupported protocol version",
            });
            return (refusal, true);
        }
        let mut out = server_frame(ServerMessage::Welcome {
            version,
            nick,
            server_name: "old",
            max_payload: 4096,
            keepalive_secs: 30,
        });
        out.extend(server_frame(ServerMessage::Joined {
            room: "lobby",
            nick,
        }));
        (out, false)
    }
    let fake = FakeServer::start(script);
    let mut alice = Client::start(fake.addr, "alice", &["--no-reconnect"]);
    alice.expect(
        "* warning: the server does not speak protocol version 2; \
         using version 1 (no quiet-room summaries)",
    );
    alice.expect("* connected to old as alice");
    alice.expect("[lobby] * alice joined");
    let done = alice.finish();
    assert!(done.status.success(), "{}", done.stderr);
    assert_eq!(*fake.hellos.lock().unwrap(), [2, 1]);
}

#[test]
fn a_real_room_turning_quiet_and_back_is_shown_as_such() {
    let srv = common::start_with(|c| c.core.presence_limit = 4);
    let mut alice = Client::join(srv.addr, "alice");
    // Up to the limit (4) joins are announced as usual.
    let mut others: Vec<common::Client> = (1..4)
        .map(|i| common::Client::join_as(srv.addr, &format!("m{i}")))
        .collect();
    alice.expect("[lobby] * m3 joined");
    // The fifth member makes lobby quiet: every member is told at once.
    others.push(common::Client::join_as(srv.addr, "m4"));
    alice.expect("[lobby] * 5 members (quiet room)");
    // Later arrivals are only counted (about once a second).
    others.push(common::Client::join_as(srv.addr, "m5"));
    alice.expect("[lobby] * 6 members (quiet room)");
    // Departures down to L / 2 = 2 members turn it back to normal: the
    // complete list first, then the summary.
    others.truncate(1);
    let list = alice.expect_where("with the complete list", |l| {
        l.starts_with("[lobby] * members (")
    });
    assert_eq!(list, "[lobby] * members (2): alice, m1");
    alice.expect("[lobby] * 2 members (no longer quiet: joins and leaves are shown again)");
    let _late = common::Client::join_as(srv.addr, "late");
    alice.expect("[lobby] * late joined");
    let quiet_spell: Vec<&String> = alice
        .seen
        .iter()
        .skip_while(|l| !l.contains("(quiet room)"))
        .take_while(|l| !l.contains("no longer quiet"))
        .filter(|l| l.contains(" joined") || l.contains(" left"))
        .collect();
    assert!(quiet_spell.is_empty(), "{:#?}", alice.seen);
    assert!(alice.finish().status.success());
}
