//! Limits over real sockets (PROTOCOL.md 4.3 and 4.4): the connection limit
//! and the per-IP cap (server_full), the slow consumer, and shutdown.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use stxchat::codec::{ClientMessage, ErrorCode};

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

/// Connects from `src` and asserts the server refuses with ERROR server_full then EOF.
fn assert_refused(addr: SocketAddr, src: IpAddr) {
    let mut c = Client::connect_from(addr, src);
    assert_eq!(c.expect_closed_with(ErrorCode::ServerFull), vec![]);
}

/// Connects from `src` and returns the client once the server answered a PING
/// (so it was admitted); retries while the server still counts a connection
/// that the test has just closed.
fn admitted(addr: SocketAddr, src: IpAddr) -> Client {
    let deadline = Instant::now() + WAIT;
    loop {
        let mut c = Client::connect_from(addr, src);
        c.send(ClientMessage::Ping { token: 1 });
        match c.first_or_eof() {
            Some(Msg::Pong(1)) => return c,
            Some(m) if m == err(ErrorCode::ServerFull) => {
                assert!(Instant::now() < deadline, "never admitted");
                std::thread::sleep(Duration::from_millis(10));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn connections_beyond_the_limit_get_server_full_then_eof_and_are_not_counted() {
    let srv = start_with(|c| c.core.max_connections = 3);
    let local = ip(1);
    let mut registered = Client::join_as(srv.addr, "a");
    let mut pending = admitted(srv.addr, local);
    let mut third = Client::join_as(srv.addr, "c");
    for _ in 0..5 {
        assert_refused(srv.addr, local);
    }
    // A refused client that sent HELLO at once still reads the ERROR.
    let mut eager = Client::connect(srv.addr);
    eager.send(hello("eager"));
    assert_eq!(eager.expect_closed_with(ErrorCode::ServerFull), vec![]);
    // A connection being closed still counts: after BYE the server drains
    // input (up to 1 s) until this client closes its side.
    pending.send(ClientMessage::Bye);
    assert_eq!(pending.until_eof(), vec![]);
    assert_refused(srv.addr, local);
    // Once it is gone, exactly one slot is free (refusals took none).
    pending.close();
    let _fourth = admitted(srv.addr, local);
    assert_refused(srv.addr, local);
    // Registered clients were not disturbed.
    registered.sync();
    third.sync();
}

#[test]
fn the_per_ip_cap_counts_each_source_address_separately() {
    let srv = start_with(|c| c.core.max_connections_per_ip = 2);
    let mut one_a = Client::connect_from(srv.addr, ip(1));
    one_a.send(hello("one-a"));
    assert!(matches!(one_a.recv(), Msg::Welcome { .. }));
    let one_b = admitted(srv.addr, ip(1));
    assert_refused(srv.addr, ip(1));
    // Other addresses are not affected, and have a cap of their own.
    let _two_a = admitted(srv.addr, ip(2));
    let _two_b = admitted(srv.addr, ip(2));
    assert_refused(srv.addr, ip(2));
    let _three = admitted(srv.addr, ip(3));
    // Closing one connection from 127.0.0.1 frees a slot for that address only.
    one_b.close();
    let _one_c = admitted(srv.addr, ip(1));
    assert_refused(srv.addr, ip(1));
    assert_refused(srv.addr, ip(2));
    one_a.sync();
}

/// What a reader thread saw: messages per sender, in order, and the LEFTs.
#[derive(Debug, Default)]
struct Seen {
    texts: HashMap<String, Vec<u64>>,
    lefts: Vec<Msg>,
}

#[test]
fn a_slow_consumer_is_dropped_and_every_other_member_gets_every_message() {
    const PUBLISHERS: usize = 2;
    const READERS: usize = PUBLISHERS + 2;
    const CAP: u64 = 20_000;
    /// Messages of one publisher a reader may be behind: 2 x 24 x ~1 KiB is
    /// below the 64 KiB output limit, so readers are never slow, however
    /// they are scheduled.
    const WINDOW: u64 = 24;
    let srv = start_with(|c| {
        c.core.history = 0;
        c.core.max_outbuf = 64 * 1024;
    });
    // The slow one: a small receive window, registers, then never reads.
    let mut slow = Client::connect_with_rcvbuf(srv.addr, 4096);
    slow.nick = "slow".into();
    slow.send(hello("slow"));
    assert!(matches!(slow.recv(), Msg::Welcome { .. }));
    slow.sync();
    let dropped = Arc::new(AtomicBool::new(false));
    // received[reader][publisher]: how many of that publisher's messages arrived.
    let received: Arc<Vec<Vec<AtomicU64>>> = Arc::new(
        (0..READERS)
            .map(|_| (0..PUBLISHERS).map(|_| AtomicU64::new(0)).collect())
            .collect(),
    );
    let nicks: Vec<String> = (0..PUBLISHERS)
        .map(|i| format!("pub{i}"))
        .chain((PUBLISHERS..READERS).map(|i| format!("reader{i}")))
        .collect();
    let mut clients: Vec<Client> = nicks.iter().map(|n| Client::join_as(srv.addr, n)).collect();
    for c in &mut clients {
        c.sync();
    }
    let publishers: Vec<String> = nicks[..PUBLISHERS].to_vec();
    let mut readers = Vec::new();
    let mut writers = Vec::new();
    for (r, c) in clients.into_iter().enumerate() {
        let mut reader = Client::from_stream(c.stream.try_clone().unwrap());
        reader.nick = c.nick.clone();
        let flag = dropped.clone();
        let publishers = publishers.clone();
        let counts = received.clone();
        readers.push(std::thread::spawn(move || {
            let mut seen = Seen::default();
            let mut done = 0;
            while done < publishers.len() {
                match reader.recv() {
                    Msg::Message { from, text, .. } => {
                        if text == "done" {
                            done += 1;
                        } else {
                            let n: u64 = text.split(':').next().unwrap().parse().unwrap();
                            let p = publishers.iter().position(|p| *p == from).unwrap();
                            counts[r][p].fetch_add(1, Ordering::SeqCst);
                            seen.texts.entry(from).or_default().push(n);
                        }
                    }
                    m @ Msg::Left { .. } => {
                        if m == left("lobby", "slow", 3) {
                            flag.store(true, Ordering::SeqCst);
                        }
                        seen.lefts.push(m);
                    }
                    other => panic!("{}: unexpected {other:?}", reader.nick),
                }
            }
            seen
        }));
        if r < PUBLISHERS {
            let flag = dropped.clone();
            let counts = received.clone();
            let mut stream = c.stream;
            writers.push(std::thread::spawn(move || {
                let pad = "p".repeat(1000);
                let mut sent = 0u64;
                let deadline = Instant::now() + WAIT;
                while sent < CAP && !flag.load(Ordering::SeqCst) {
                    // Stay within WINDOW of the slowest reader (not counting `slow`).
                    while counts
                        .iter()
                        .any(|row| row[r].load(Ordering::SeqCst) + WINDOW < sent + 8)
                    {
                        assert!(Instant::now() < deadline, "readers stopped reading");
                        std::thread::sleep(Duration::from_micros(200));
                    }
                    let mut batch = Vec::new();
                    for _ in 0..8 {
                        batch.extend(encode(ClientMessage::Say {
                            room: "lobby",
                            text: &format!("{sent}:{pad}"),
                        }));
                        sent += 1;
                    }
                    stream.write_all(&batch).unwrap();
                }
                stream
                    .write_all(&encode(ClientMessage::Say {
                        room: "lobby",
                        text: "done",
                    }))
                    .unwrap();
                (sent, stream)
            }));
        }
    }
    wait_until("the slow consumer to be dropped", || {
        dropped.load(Ordering::SeqCst)
    });
    // It gets what was queued for it, whole frames, then ERROR slow_consumer last.
    let backlog = slow.expect_closed_with(ErrorCode::SlowConsumer);
    assert!(
        backlog
            .iter()
            .all(|m| matches!(m, Msg::Message { .. } | Msg::Joined { .. }))
    );
    let sent: Vec<u64> = writers.into_iter().map(|w| w.join().unwrap().0).collect();
    assert!(
        sent.iter().all(|&n| n < CAP),
        "the slow consumer was dropped before the cap"
    );
    for r in readers {
        let seen = r.join().unwrap();
        for (p, &n) in publishers.iter().zip(&sent) {
            let got = seen.texts.get(p).cloned().unwrap_or_default();
            assert_eq!(got.len() as u64, n, "every message of {p} arrived");
            assert!(got.iter().copied().eq(0..n), "in the order {p} sent them");
        }
        assert_eq!(seen.lefts, vec![left("lobby", "slow", 3)]);
    }
}

#[test]
fn replies_to_a_clients_own_requests_count_toward_its_output_limit() {
    let srv = start_with(|c| {
        c.core.history = 0;
        c.core.max_outbuf = 16 * 1024;
    });
    let mut observer = Client::join_as(srv.addr, "observer");
    let mut greedy = Client::connect_with_rcvbuf(srv.addr, 4096);
    greedy.nick = "greedy".into();
    greedy.send(hello("greedy"));
    assert!(matches!(greedy.recv(), Msg::Welcome { .. }));
    greedy.sync();
    assert_eq!(observer.sync(), vec![joined("lobby", "greedy")]);
    // PINGs without ever reading the PONGs, until the server gives up on it.
    let stop = Arc::new(AtomicBool::new(false));
    let mut w = greedy.stream.try_clone().unwrap();
    let flag = stop.clone();
    let writer = std::thread::spawn(move || {
        let chunk: Vec<u8> = (0..4096u64)
            .flat_map(|token| encode(ClientMessage::Ping { token }))
            .collect();
        let mut sent = 0;
        while !flag.load(Ordering::SeqCst) && sent < 64 << 20 {
            if w.write_all(&chunk).is_err() {
                break;
            }
            sent += chunk.len();
        }
    });
    observer.expect(left("lobby", "greedy", 3));
    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    greedy.stream.shutdown(std::net::Shutdown::Write).unwrap();
    let got = greedy.expect_closed_with(ErrorCode::SlowConsumer);
    assert!(got.iter().all(|m| matches!(m, Msg::Pong(_))));
}

#[test]
fn shutdown_sends_shutting_down_to_every_client_then_eof_and_run_returns_ok() {
    let mut srv = start_with(|c| c.core.keepalive_secs = 0);
    let mut clients: Vec<Client> = (0..5)
        .map(|i| {
            let mut c = Client::join_as(srv.addr, &format!("c{i}"));
            c.join("r");
            c
        })
        .collect();
    for c in &mut clients {
        c.sync();
    }
    let mut pending = Client::connect(srv.addr);
    pending.sync();
    // One client that neither reads nor closes must not hold the shutdown up.
    let silent = TcpStream::connect(srv.addr).unwrap();
    pending.sync();
    srv.stop();
    for c in &mut clients {
        assert_eq!(
            c.expect_closed_with(ErrorCode::ShuttingDown),
            vec![],
            "no LEFT is sent to a server's own clients on shutdown"
        );
    }
    assert_eq!(pending.expect_closed_with(ErrorCode::ShuttingDown), vec![]);
    drop(silent);
    // Nobody listens any more.
    assert!(TcpStream::connect(srv.addr).is_err());
}

/// Regression: the driver read up to its per-connection budget (128 KiB) from
/// every readable connection in one loop turn and fanned it all out before
/// writing anything, so members were dropped as slow consumers whenever one
/// turn's fan-out exceeded the output limit (here: a dozen publishers
/// bursting at once, with the default 1 MiB limit), although their sockets
/// would have taken every byte.
#[test]
fn members_are_not_dropped_when_many_publishers_burst_in_the_same_turn() {
    const PUBLISHERS: usize = 12;
    const PER_PUBLISHER: usize = 150;
    let srv = TestServer::start(config());
    let mut reader = Client::join_as(srv.addr, "reader");
    let mut pubs: Vec<Client> = (0..PUBLISHERS)
        .map(|i| Client::join_as(srv.addr, &format!("p{i}")))
        .collect();
    for p in &mut pubs {
        p.sync();
    }
    reader.sync();
    // Everyone's share (1.8 MB each) fits what loopback sockets take even
    // if nobody reads, so nobody may be dropped; nobody reads until every
    // burst was written.
    let pad = "b".repeat(1000);
    let barrier = Arc::new(std::sync::Barrier::new(PUBLISHERS));
    let writers: Vec<_> = pubs
        .iter()
        .map(|p| {
            let mut stream = p.stream.try_clone().unwrap();
            let barrier = barrier.clone();
            let mut burst = Vec::new();
            for i in 0..PER_PUBLISHER {
                burst.extend(encode(ClientMessage::Say {
                    room: "lobby",
                    text: &format!("{i}:{pad}"),
                }));
            }
            std::thread::spawn(move || {
                barrier.wait();
                stream.write_all(&burst).unwrap();
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    for c in pubs.iter_mut().chain(std::iter::once(&mut reader)) {
        for n in 0..PUBLISHERS * PER_PUBLISHER {
            match c.recv() {
                Msg::Message { .. } => {}
                other => panic!("{}: unexpected {other:?} after {n} messages", c.nick),
            }
        }
    }
}

/// Regression: the listener was made with a backlog of 128 (what `std` and
/// `mio` use), so while the loop was busy a burst of connects overflowed the
/// accept queue and each dropped SYN cost its client a one-second
/// retransmission (or more). Here the server process is stopped (SIGSTOP),
/// the extreme of a busy loop: the kernel must still queue a burst of 1,000
/// connects, and the server serves them all once it runs again.
#[test]
fn a_burst_of_connects_waits_in_the_listen_queue_while_the_loop_is_busy() {
    const BURST: usize = 1000;
    let srv = ChildServer::start(&["--max-connections", "5000"], None);
    let pid = srv.pid() as libc::pid_t;
    // SAFETY: signals to our own child's PID.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);
    let conns: Vec<TcpStream> = (0..BURST)
        .map(|i| {
            TcpStream::connect_timeout(&srv.addr, WAIT)
                .unwrap_or_else(|e| panic!("connect {i} while the server is busy: {e}"))
        })
        .collect();
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGCONT) }, 0);
    let mut clients: Vec<Client> = conns.into_iter().map(Client::from_stream).collect();
    for c in &mut clients {
        c.send(ClientMessage::Ping { token: 1 });
    }
    for c in &mut clients {
        c.expect(Msg::Pong(1));
    }
}

/// A client that never stops sending (JOINs of a room it is in: no reply at
/// all) must not starve the others: their requests are still read and
/// answered while it floods.
///
/// Regression (CI on a fresh machine): the others' requests could all be
/// answered before the flooding thread had written anything, so "it flooded"
/// was a matter of scheduling. Now the others only start once the flooder has
/// written a good amount, and the flood goes on until they are done.
#[test]
fn a_flooding_client_does_not_starve_the_others() {
    /// Chunks (of 5,000 JOINs each) written before the others start.
    const HEAD_START: u64 = 20;
    let srv = TestServer::start(config());
    let mut flooder = Client::join_as(srv.addr, "flooder");
    let mut other = Client::join_as(srv.addr, "other");
    flooder.sync();
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let (flag, count) = (stop.clone(), written.clone());
    let mut w = flooder.stream.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let chunk: Vec<u8> = (0..5000)
            .flat_map(|_| encode(ClientMessage::Join { room: "lobby" }))
            .collect();
        while !flag.load(Ordering::SeqCst) {
            w.write_all(&chunk).unwrap();
            count.fetch_add(1, Ordering::SeqCst);
        }
    });
    let deadline = Instant::now() + WAIT;
    while written.load(Ordering::SeqCst) < HEAD_START {
        assert!(Instant::now() < deadline, "the flooder could not write");
        std::thread::sleep(Duration::from_millis(1));
    }
    for i in 0..50 {
        other.say("lobby", &format!("still heard {i}"));
        assert_eq!(other.sync().len(), 1, "the echo");
    }
    let during = written.load(Ordering::SeqCst);
    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    assert!(during >= HEAD_START);
    // The flooder did nothing wrong: it is still served (after its JOINs).
    let got = flooder.sync();
    assert_eq!(got.len(), 50, "the 50 MESSAGEs from other");
}

/// The smallest output limit the protocol allows, (H + 2) x (max_payload +
/// 8): joining, full-size messages and replies still work (the input read
/// per loop turn is then smaller than one frame).
#[test]
fn the_smallest_allowed_output_limit_still_works() {
    let srv = start_with(|c| {
        c.core.history = 1;
        c.core.max_payload = 512;
        c.core.max_outbuf = 3 * 520;
    });
    let mut a = Client::join_as(srv.addr, "alice");
    let mut b = Client::join_as(srv.addr, "bob");
    a.sync();
    let full = "f".repeat(stxchat::codec::max_message_text(512, "lobby", "alice"));
    for _ in 0..20 {
        a.say("lobby", &full);
        assert_eq!(a.sync().len(), 1);
        let got = b.sync();
        assert!(matches!(&got[..], [Msg::Message { text, .. }] if *text == full));
    }
    // A joiner gets the one-message history, MEMBERS and JOINED.
    let (_c, got) = Client::register(srv.addr, "carol");
    assert_eq!(got.len(), 3, "{got:?}");
}

/// The output queue refers to shared frames: a member of one of many busy
/// rooms gets one queue piece per message (the rooms interleave, so its
/// frames are not contiguous in the shared chunks). Reading late and
/// slowly, through a small receive window (partial writes at arbitrary
/// points), it still gets every frame whole and in order, like the members
/// of every room. (The engine tests in src/core/tests_output.rs check the
/// slice bound and the chunk-pinning bound, which the kernel's socket
/// buffers hide here.)
#[test]
fn a_member_of_one_of_many_interleaved_rooms_gets_every_frame_whole_and_in_order() {
    const ROOMS: usize = 8;
    const ROUNDS: u64 = 2000;
    /// Messages the publisher may be ahead of the fast readers: 800 x ~430
    /// bytes is far below the 1 MiB output limit, so they are never slow
    /// however they are scheduled. `slow` gets 2000 x ~430 bytes, below it
    /// too.
    const WINDOW: u64 = 800;
    let srv = start_with(|c| {
        c.core.history = 0;
        c.core.max_outbuf = 1 << 20;
    });
    let rooms: Vec<String> = (0..ROOMS).map(|r| format!("r{r}")).collect();
    let mut publisher = Client::join_as(srv.addr, "pub");
    let mut all = Client::join_as(srv.addr, "all");
    for room in &rooms {
        publisher.join(room);
        all.join(room);
    }
    let mut slow = Client::connect_with_rcvbuf(srv.addr, 4096);
    slow.nick = "slow".into();
    slow.send(hello("slow"));
    assert!(matches!(slow.recv(), Msg::Welcome { .. }));
    slow.sync();
    slow.join("r0");
    publisher.sync();
    all.sync();
    let pad = "z".repeat(400);
    // Fast readers: count and check every room's sequence as it arrives.
    let progress: Arc<Vec<AtomicU64>> = Arc::new((0..2).map(|_| AtomicU64::new(0)).collect());
    let readers: Vec<_> = [&publisher, &all]
        .iter()
        .enumerate()
        .map(|(k, c)| {
            let mut reader = Client::from_stream(c.stream.try_clone().unwrap());
            reader.nick = c.nick.clone();
            let progress = progress.clone();
            let pad = pad.clone();
            std::thread::spawn(move || {
                let mut next = [0u64; ROOMS];
                for _ in 0..ROUNDS * ROOMS as u64 {
                    match reader.recv() {
                        Msg::Message { room, text, .. } => {
                            let r: usize = room[1..].parse().unwrap();
                            assert_eq!(text, format!("{}:{pad}", next[r]), "{}", reader.nick);
                            next[r] += 1;
                        }
                        other => panic!("{}: unexpected {other:?}", reader.nick),
                    }
                    progress[k].fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    let deadline = Instant::now() + WAIT * 6;
    let mut sent = 0u64;
    for n in 0..ROUNDS {
        // One SAY per room, round-robin: `slow` gets every eighth frame.
        let mut batch = Vec::new();
        for room in &rooms {
            batch.extend(encode(ClientMessage::Say {
                room,
                text: &format!("{n}:{pad}"),
            }));
        }
        while progress
            .iter()
            .any(|p| p.load(Ordering::SeqCst) + WINDOW < sent + ROOMS as u64)
        {
            assert!(Instant::now() < deadline, "readers stopped reading");
            std::thread::sleep(Duration::from_micros(200));
        }
        publisher.stream.write_all(&batch).unwrap();
        sent += ROOMS as u64;
    }
    for r in readers {
        r.join().unwrap();
    }
    // `slow` read nothing so far; now it reads, pausing now and then.
    for n in 0..ROUNDS {
        if n % 100 == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
        match slow.recv() {
            Msg::Message { room, text, .. } => {
                assert_eq!(room, "r0");
                assert_eq!(text, format!("{n}:{pad}"));
            }
            other => panic!("slow: unexpected {other:?}"),
        }
    }
    slow.expect_nothing();
}
