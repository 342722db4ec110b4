//! The chat port's limits hold on the IRC port, over real sockets
//! (docs/IRC.md): handshake timeout, keepalive (server PING, close on
//! silence), rate limit, the output limit for a member that never reads and
//! for a client that never reads its own replies. Password, connection limit
//! and hostile bytes are in `irc_gateway.rs`. Waits are bounded; timing is
//! never checked.

mod common;
mod irc_support;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{Client, Msg, left};
use irc_support::{Irc, cmd, irc_server};
use stxchat::core::config::RateLimit;

/// Reads `c` to EOF; returns every line.
fn rest(c: &mut Irc) -> Vec<String> {
    let mut v = Vec::new();
    while let Some(l) = c.line() {
        v.push(l);
    }
    v
}

#[test]
fn unregistered_irc_connections_are_closed_at_the_handshake_timeout() {
    let s = irc_server(|c| c.core.handshake_timeout_ms = 1_000);
    let addr = s.irc.unwrap();
    let (mut good, _) = Irc::register(addr, "good");
    // Says nothing at all.
    let mut silent = Irc::connect(addr);
    // Registers, but holds registration open with CAP and never ends it.
    let mut held = Irc::connect(addr);
    held.send("CAP LS 302");
    held.send("NICK held");
    held.send("USER held 0 * :Held");
    assert_eq!(
        rest(&mut silent),
        ["ERROR :Closing Link: handshake timeout"]
    );
    let l = rest(&mut held);
    assert_eq!(cmd(&l[0]), "CAP", "{l:?}");
    assert_eq!(
        l.last().map(String::as_str),
        Some("ERROR :Closing Link: handshake timeout"),
        "{l:?}"
    );
    assert!(!l.iter().any(|l| cmd(l) == "001"), "{l:?}");
    // A registered client is not subject to it.
    good.send("PRIVMSG good :still here");
    assert_eq!(good.sync(), [":good!good@stxchat PRIVMSG good :still here"]);
}

#[test]
fn the_server_pings_a_silent_irc_client_and_closes_it_when_it_stays_silent() {
    let s = irc_server(|c| c.core.keepalive_secs = 2);
    let (mut c, _) = Irc::register(s.irc.unwrap(), "quiet");
    assert_eq!(c.line().as_deref(), Some("PING stxchat"));
    // Answering keeps the connection: the next thing is another PING.
    c.send("PONG stxchat");
    assert_eq!(c.line().as_deref(), Some("PING stxchat"));
    // Silence: closed with ERROR, then EOF.
    assert_eq!(rest(&mut c), ["ERROR :Closing Link: keepalive timeout"]);
}

#[test]
fn messages_over_the_rate_limit_get_a_notice_and_are_dropped() {
    let s = irc_server(|c| {
        c.core.rate = Some(RateLimit {
            per_sec: 0.1,
            burst: 3,
        })
    });
    let (mut fast, _) = Irc::register(s.irc.unwrap(), "fast");
    fast.send("JOIN #r");
    fast.sync();
    let mut nat = Client::join_as(s.addr, "nat");
    nat.join("r");
    fast.sync();
    let burst: String = (0..10).map(|i| format!("PRIVMSG #r :m{i}\r\n")).collect();
    fast.send_raw(burst.as_bytes());
    let notices: Vec<String> = fast.sync();
    let delivered: Vec<String> = nat
        .sync()
        .into_iter()
        .map(|m| match m {
            Msg::Message { from, text, .. } if from == "fast" => text,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert!(
        delivered.len() >= 3 && delivered.len() < 10,
        "{delivered:?}"
    );
    assert_eq!(delivered.len() + notices.len(), 10, "{notices:?}");
    assert!(
        notices
            .iter()
            .all(|l| l == ":stxchat NOTICE fast :Message to #r dropped: you are sending too fast"),
        "{notices:?}"
    );
    // Every message is delivered or refused, in the order sent.
    let mut sent = delivered.iter().map(|t| t[1..].parse::<u32>().unwrap());
    let mut prev = None;
    assert!(sent.all(|n| {
        let ok = prev.is_none_or(|p| n > p);
        prev = Some(n);
        ok
    }));
    // The client stays connected and served.
    fast.send("NAMES #r");
    assert_eq!(cmd(&fast.sync()[0]), "353");
}

/// A member that never reads is dropped at the output limit (QUIT for IRC
/// members, LEFT reason 3 for native ones) and gets its backlog whole, then
/// ERROR; an IRC and a native member that read get every message in order.
#[test]
fn an_irc_member_that_never_reads_is_dropped_and_the_others_get_everything() {
    const CAP: u64 = 50_000;
    let s = irc_server(|c| {
        c.core.history = 0;
        c.core.max_outbuf = 64 * 1024;
    });
    let addr = s.irc.unwrap();
    let (mut slow, _) = Irc::register_on(Irc::connect_with_rcvbuf(addr, 4096), "slow");
    slow.send("JOIN #busy");
    slow.sync();
    let (mut ircr, _) = Irc::register(addr, "ircr");
    ircr.send("JOIN #busy");
    ircr.sync();
    let mut natr = Client::join_as(s.addr, "natr");
    natr.join("busy");
    let mut publisher = Client::join_as(s.addr, "pub");
    publisher.join("busy");
    ircr.sync();
    natr.sync();
    let pad = "p".repeat(400);
    let (mut irc_saw_quit, mut nat_saw_left) = (false, false);
    let mut sent = 0u64;
    while !(irc_saw_quit && nat_saw_left) {
        assert!(sent < CAP, "the member that never reads was never dropped");
        for _ in 0..8 {
            publisher.say("busy", &format!("{sent}:{pad}"));
            sent += 1;
        }
        // The readers read everything before the next batch.
        let mut got = 0;
        while got < 8 {
            let l = ircr.line().expect("ircr stays connected");
            if l == ":slow!slow@stxchat QUIT :Excess output (slow consumer)" {
                assert!(!irc_saw_quit, "one QUIT");
                irc_saw_quit = true;
                continue;
            }
            let want = format!(":pub!pub@stxchat PRIVMSG #busy :{}:{pad}", sent - 8 + got);
            assert_eq!(l, want);
            got += 1;
        }
        let mut got = 0;
        while got < 8 {
            match natr.recv() {
                m @ Msg::Left { .. } => {
                    assert_eq!(m, left("busy", "slow", 3));
                    assert!(!nat_saw_left, "one LEFT");
                    nat_saw_left = true;
                }
                Msg::Message { from, text, .. } => {
                    assert_eq!(from, "pub");
                    assert_eq!(text, format!("{}:{pad}", sent - 8 + got));
                    got += 1;
                }
                other => panic!("natr: unexpected {other:?}"),
            }
        }
    }
    // The dropped member gets whole lines (checked by `line`), then ERROR.
    let backlog = rest(&mut slow);
    let (last, lines) = backlog.split_last().expect("a backlog");
    assert_eq!(last, "ERROR :Closing Link: output limit exceeded");
    assert!(
        lines.iter().all(|l| ["PRIVMSG", "JOIN"].contains(&cmd(l))),
        "{lines:?}"
    );
}

#[test]
fn an_irc_client_that_never_reads_its_own_replies_is_dropped() {
    let s = irc_server(|c| {
        c.core.history = 0;
        c.core.max_outbuf = 16 * 1024;
    });
    let addr = s.irc.unwrap();
    let (mut greedy, _) = Irc::register_on(Irc::connect_with_rcvbuf(addr, 4096), "greedy");
    greedy.send("JOIN #g");
    greedy.sync();
    let mut observer = Client::join_as(s.addr, "observer");
    observer.join("g");
    // PINGs without ever reading the PONGs, until the server gives up on it.
    let stop = Arc::new(AtomicBool::new(false));
    let mut w = greedy.stream.try_clone().unwrap();
    let flag = stop.clone();
    let writer = std::thread::spawn(move || {
        let chunk: Vec<u8> = (0..4096)
            .flat_map(|i| format!("PING t{i}\r\n").into_bytes())
            .collect();
        let mut sent = 0;
        while !flag.load(Ordering::SeqCst) && sent < 64 << 20 {
            if w.write_all(&chunk).is_err() {
                break;
            }
            sent += chunk.len();
        }
    });
    observer.expect(left("g", "greedy", 3));
    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    greedy.stream.shutdown(std::net::Shutdown::Write).unwrap();
    let got = rest(&mut greedy);
    let (last, pongs) = got.split_last().expect("a backlog");
    assert_eq!(last, "ERROR :Closing Link: output limit exceeded");
    assert!(
        pongs.iter().all(|l| ["PONG", "JOIN"].contains(&cmd(l))),
        "{pongs:?}"
    );
    // The observer is still served.
    observer.say("g", "still here");
    assert!(matches!(observer.recv(), Msg::Message { text, .. } if text == "still here"));
}
