//! Running out of file descriptors (EMFILE) in the real binary, in a child
//! process with a low open-files limit: the loop keeps serving registered
//! clients, does not spin, logs the episode once, and accepts the waiting
//! connections once descriptors are free again.

mod common;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;
use stxchat::codec::ClientMessage;

/// Open-files limit of the child (soft and hard): a few for the server
/// itself, the rest for about 30 connections.
const NOFILE: u64 = 40;
/// Connections opened beyond the registered clients: more than fit.
const EXTRA: usize = 60;
/// Of those, the last few are kept open and must be served at the end.
const KEPT: usize = 6;

#[test]
fn out_of_file_descriptors_the_server_keeps_serving_does_not_spin_and_recovers() {
    let srv = ChildServer::start(
        &["--max-connections", "1000", "--handshake-timeout", "120"],
        Some(NOFILE),
    );
    let mut alice = Client::join_as(srv.addr, "alice");
    let mut bob = Client::join_as(srv.addr, "bob");
    alice.sync();
    // Far more connections than descriptors: the kernel completes them all
    // (listen backlog); the server accepts until EMFILE.
    let extra: Vec<TcpStream> = (0..EXTRA)
        .map(|_| TcpStream::connect(srv.addr).expect("connect"))
        .collect();
    srv.wait_log("out of file descriptors");

    // While out of descriptors: registered clients are served, and the
    // loop sleeps between accept retries instead of spinning.
    let cpu_before = srv.cpu_time();
    let started = Instant::now();
    let mut rounds = 0;
    while started.elapsed() < Duration::from_secs(2) {
        alice.say("lobby", &format!("round {rounds}"));
        let got = bob.sync();
        assert!(
            matches!(&got[..], [Msg::Message { text, .. }] if *text == format!("round {rounds}")),
            "{got:?}"
        );
        assert_eq!(alice.sync().len(), 1, "alice's own copy");
        rounds += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    let cpu = srv.cpu_time() - cpu_before;
    let wall = started.elapsed();
    assert!(
        cpu < wall / 2,
        "the server used {cpu:?} of CPU in {wall:?} while out of descriptors (spinning?)"
    );
    assert_eq!(
        srv.count("out of file descriptors"),
        1,
        "one log line per episode: {:#?}",
        srv.log()
    );

    // Free descriptors: close all but the last few extra connections. The
    // server accepts what waited in the queue, including the ones kept open.
    let mut extra = extra;
    let kept = extra.split_off(EXTRA - KEPT);
    drop(extra);
    let mut kept: Vec<Client> = kept.into_iter().map(Client::from_stream).collect();
    for (i, c) in kept.iter_mut().enumerate() {
        c.nick = format!("late{i}");
        c.send(hello(&format!("late{i}")));
        assert!(
            matches!(c.recv(), Msg::Welcome { .. }),
            "a connection that waited is served"
        );
    }
    srv.wait_log("accepting again");
    let got = alice.sync();
    assert_eq!(got.len(), KEPT, "JOINED of every late client: {got:?}");
    alice.send(ClientMessage::Ping { token: 9 });
    alice.expect(Msg::Pong(9));
}
