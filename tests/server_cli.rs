//! `stxchat server` as a program: bad flag values exit with code 2 and a
//! clear message; SIGTERM shuts down cleanly (clients get ERROR
//! shutting_down, exit code 0); the log has one line per connection state
//! change with peer and nick.

mod common;

use common::*;
use stxchat::codec::{ClientMessage, ErrorCode};

/// Asserts `stxchat server <args>` exits with code 2 and mentions every word in `mentions`.
fn refused(args: &[&str], mentions: &[&str]) {
    let mut all = vec!["server", "--admin-bind", "off", "--bind", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let (code, stderr) = run_cli(&all);
    assert_eq!(code, Some(2), "{args:?}: exit code; stderr: {stderr}");
    for m in mentions {
        assert!(
            stderr.contains(m),
            "{args:?}: stderr should mention {m:?}: {stderr}"
        );
    }
}

#[test]
fn bad_flag_values_exit_with_code_2_and_a_clear_message() {
    refused(&["--max-payload", "100"], &["--max-payload", "512"]);
    refused(&["--max-payload", "65536"], &["--max-payload"]);
    // Below (history + 2) x (max_payload + 8) = 52 x 4104.
    refused(&["--max-outbuf", "10"], &["max outbuf", "213408"]);
    refused(
        &[
            "--history",
            "0",
            "--max-payload",
            "512",
            "--max-outbuf",
            "1039",
        ],
        &["max outbuf", "1040"],
    );
    refused(&["--handshake-timeout", "0"], &["--handshake-timeout"]);
    refused(&["--keepalive", "70000"], &["--keepalive"]);
    refused(&["--keepalive=-1"], &["--keepalive"]);
    refused(&["--default-room", "a b"], &["default room"]);
    refused(
        &["--max-rooms-per-client", "0"],
        &["--max-rooms-per-client"],
    );
    refused(&["--rate", "0"], &["--rate"]);
    refused(&["--burst", "5"], &["--rate"]);
    refused(&["--max-connections", "0"], &["--max-connections"]);
    refused(&["--bind", "nowhere"], &["--bind"]);
    refused(&["--no-such-flag"], &["--no-such-flag"]);
}

#[test]
fn sigterm_sends_shutting_down_to_every_client_and_exits_0() {
    let mut srv = ChildServer::start(&[], None);
    let mut alice = Client::join_as(srv.addr, "alice");
    let mut bob = Client::join_as(srv.addr, "bob");
    bob.join("r");
    alice.sync();
    let mut pending = Client::connect(srv.addr);
    pending.sync();
    // SAFETY: a signal to our own child's PID.
    assert_eq!(
        unsafe { libc::kill(srv.pid() as libc::pid_t, libc::SIGTERM) },
        0
    );
    for c in [&mut alice, &mut bob, &mut pending] {
        assert_eq!(c.expect_closed_with(ErrorCode::ShuttingDown), vec![]);
    }
    let status = srv.wait_exit();
    assert_eq!(status.code(), Some(0), "exit status {status:?}");
    let log = srv.log().join("\n");
    assert!(log.contains("signal received"), "{log}");
    assert!(log.contains("shutting down"), "{log}");
}

#[test]
fn sigint_also_shuts_down_cleanly() {
    let mut srv = ChildServer::start(&[], None);
    let mut alice = Client::join_as(srv.addr, "alice");
    // SAFETY: a signal to our own child's PID.
    unsafe { libc::kill(srv.pid() as libc::pid_t, libc::SIGINT) };
    assert_eq!(alice.expect_closed_with(ErrorCode::ShuttingDown), vec![]);
    assert_eq!(srv.wait_exit().code(), Some(0));
}

#[test]
fn the_log_has_a_line_per_state_change_with_peer_and_nick() {
    let srv = ChildServer::start(&["--name", "logtest"], None);
    let mut alice = Client::join_as(srv.addr, "alice");
    let alice_peer = alice.stream.local_addr().unwrap().to_string();
    alice.send(ClientMessage::Bye);
    alice.until_eof();
    let mut bad = Client::connect(srv.addr);
    let bad_peer = bad.stream.local_addr().unwrap().to_string();
    bad.send(hello("not valid"));
    bad.until_eof();
    let line_with = |what: &str, peer: &str| -> String {
        let mut found = None;
        wait_until(&format!("{what} of {peer}"), || {
            found = srv
                .log()
                .into_iter()
                .find(|l| l.contains(what) && l.contains(peer));
            found.is_some()
        });
        found.unwrap()
    };
    line_with("accepted (waiting)", &alice_peer);
    let registered = line_with("registered (connected)", &alice_peer);
    assert!(registered.contains("alice"), "{registered}");
    let closed = line_with("closed", &alice_peer);
    assert!(
        closed.contains("alice") && closed.contains("bye"),
        "{closed}"
    );
    line_with("accepted (waiting)", &bad_peer);
    let closed = line_with("closed", &bad_peer);
    assert!(closed.contains("bad_name"), "the reason: {closed}");
    // The effective settings are logged at start.
    let settings = srv.wait_log("settings:");
    assert!(settings.contains("name=\"logtest\""), "{settings}");
    assert!(settings.contains("max_payload=4096"), "{settings}");
}
