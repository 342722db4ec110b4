//! Load over real sockets (PROTOCOL.md 4.2 and 4.3): 5,000 concurrent
//! clients in one room (the default room). Every delivery is counted and
//! nothing may be lost; every member sees the room's JOINEDs and MESSAGEs in
//! the same order; every MEMBERS lists exactly the members before it. (The
//! room is kept normal with `presence_limit` 0; quiet rooms are
//! `server_quiet.rs`.)
//!
//! The clients are nonblocking sockets read by two threads, each with a mio
//! `Poll`, so 5,000 sockets are read without 5,000 threads.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream as StdStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::*;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use stxchat::codec::{ClientMessage, Event, FrameDecoder, ServerMessage};

const CLIENTS: usize = 5_000;
const PUBLISHERS: usize = 4;
const PER_PUBLISHER: usize = 100;
const BATCH: usize = 250;
const READER_THREADS: usize = 2;
/// Bound on the whole test; it normally takes a few seconds.
const LIMIT: Duration = Duration::from_secs(50);

fn nick(i: usize) -> String {
    format!("u{i}")
}

fn index_of(nick: &str) -> usize {
    nick[1..].parse().expect("a test nick")
}

/// A cheap order-insensitive fingerprint of a set of member indices.
fn mix(i: usize) -> u64 {
    (i as u64 + 1)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .rotate_left(17)
}

/// What one member saw.
#[derive(Debug, Default)]
struct Member {
    index: usize,
    welcomed: bool,
    registered: bool,
    /// MEMBERS of the registration: how many nicks, and their fingerprint.
    members_count: usize,
    members_sum: u64,
    /// JOINED nicks from its own on, in arrival order.
    joined: Vec<u32>,
    /// seq of every MESSAGE, in arrival order.
    seqs: Vec<u64>,
    /// Next expected text number per publisher.
    next_text: [usize; PUBLISHERS],
    done: usize,
}

/// Shared progress and failures.
#[derive(Default)]
struct Shared {
    registered: AtomicUsize,
    finished: AtomicUsize,
    stop: AtomicBool,
    failures: Mutex<Vec<String>>,
}

impl Shared {
    fn fail(&self, what: String) {
        let mut f = self.failures.lock().unwrap();
        if f.len() < 20 {
            f.push(what);
        }
    }
}

struct Conn {
    stream: TcpStream,
    dec: FrameDecoder,
    member: Member,
}

impl Member {
    fn on_frame(&mut self, payload: &[u8], shared: &Shared) {
        let m = self;
        let who = m.index;
        let msg = match ServerMessage::decode(payload) {
            Ok(msg) => msg,
            Err(e) => return shared.fail(format!("u{who}: undecodable frame: {e:?}")),
        };
        match msg {
            ServerMessage::Welcome { .. } if !m.welcomed => m.welcomed = true,
            ServerMessage::Members { room, nicks, .. } if !m.registered && room == "lobby" => {
                for n in nicks.iter() {
                    m.members_count += 1;
                    m.members_sum = m.members_sum.wrapping_add(mix(index_of(n)));
                }
            }
            ServerMessage::Joined {
                room: "lobby",
                nick,
            } => {
                let i = index_of(nick);
                if i == who {
                    if m.registered {
                        shared.fail(format!("u{who}: own JOINED twice"));
                    }
                    m.registered = true;
                    shared.registered.fetch_add(1, Ordering::SeqCst);
                } else if !m.registered {
                    shared.fail(format!("u{who}: JOINED {nick} before its own"));
                }
                m.joined.push(i as u32);
            }
            ServerMessage::Message {
                flags: 0,
                seq,
                room,
                from,
                text,
                ..
            } if room == "lobby" && m.registered => {
                let p = index_of(from);
                if p >= PUBLISHERS {
                    return shared.fail(format!("u{who}: MESSAGE from {from}"));
                }
                if text == "done" {
                    m.done += 1;
                    if m.done == PUBLISHERS {
                        shared.finished.fetch_add(1, Ordering::SeqCst);
                    }
                    return;
                }
                let n: usize = text.parse().unwrap_or(usize::MAX);
                if n != m.next_text[p] {
                    shared.fail(format!(
                        "u{who}: from {from} got {text}, expected {}",
                        m.next_text[p]
                    ));
                }
                m.next_text[p] = n.wrapping_add(1);
                m.seqs.push(seq);
            }
            other => shared.fail(format!("u{who}: unexpected {other:?}")),
        }
    }
}

impl Conn {
    /// Reads until `WouldBlock`; false once the connection is gone.
    fn read_all(&mut self, buf: &mut [u8], shared: &Shared) -> bool {
        loop {
            match self.stream.read(buf) {
                Ok(0) => {
                    shared.fail(format!("u{}: EOF", self.member.index));
                    return false;
                }
                Ok(n) => {
                    let mut input = &buf[..n];
                    loop {
                        let (used, ev) = self.dec.decode(input);
                        input = &input[used..];
                        match ev {
                            None => break,
                            Some(Event::Frame(p)) => self.member.on_frame(p, shared),
                            Some(Event::Error(e)) => {
                                shared.fail(format!("u{}: bad frame {e}", self.member.index));
                                return false;
                            }
                        }
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    shared.fail(format!("u{}: read error {e}", self.member.index));
                    return false;
                }
            }
        }
    }
}

/// A registered socket handed to a reader thread, with its client's index.
type NewConn = (usize, StdStream);

/// One reader thread: takes new sockets from `rx`, reads every socket it has.
/// Returns its connections still open: closing them while another thread
/// still reads would send LEFTs to that thread's members.
fn reader(rx: Receiver<NewConn>, shared: Arc<Shared>) -> Vec<Conn> {
    let mut poll = Poll::new().unwrap();
    let mut events = Events::with_capacity(1024);
    let mut conns: Vec<Conn> = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    while !shared.stop.load(Ordering::SeqCst) {
        poll.poll(&mut events, Some(Duration::from_millis(5)))
            .unwrap();
        for ev in events.iter() {
            let c = &mut conns[ev.token().0];
            c.read_all(&mut buf, &shared);
        }
        while let Ok((index, std)) = rx.try_recv() {
            std.set_nonblocking(true).unwrap();
            let mut stream = TcpStream::from_std(std);
            let token = Token(conns.len());
            poll.registry()
                .register(&mut stream, token, Interest::READABLE)
                .unwrap();
            let mut c = Conn {
                stream,
                dec: FrameDecoder::new(4096),
                member: Member {
                    index,
                    ..Member::default()
                },
            };
            c.read_all(&mut buf, &shared);
            conns.push(c);
        }
    }
    conns
}

/// Writes all of `bytes` to a socket that may be nonblocking.
fn write_all(s: &mut StdStream, mut bytes: &[u8], deadline: Instant) {
    while !bytes.is_empty() {
        match s.write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => {
                assert!(Instant::now() < deadline, "write stalled");
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => panic!("write: {e}"),
        }
    }
}

fn wait_for(what: &str, deadline: Instant, shared: &Shared, done: impl Fn() -> bool) {
    while !done() {
        let failures = shared.failures.lock().unwrap().clone();
        assert!(failures.is_empty(), "{what}: {failures:#?}");
        assert!(Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn five_thousand_clients_in_one_room_get_every_message_in_the_same_order() {
    // Version-1 presence in a room of 5,000: never quiet.
    let srv = start_with(|c| c.core.presence_limit = 0);
    let started = Instant::now();
    let deadline = started + LIMIT;
    let shared = Arc::new(Shared::default());
    let (txs, threads): (Vec<Sender<NewConn>>, Vec<JoinHandle<Vec<Conn>>>) = (0..READER_THREADS)
        .map(|_| {
            let (tx, rx) = channel();
            let shared = shared.clone();
            (tx, std::thread::spawn(move || reader(rx, shared)))
        })
        .unzip();
    // Register in batches: connect a batch, send every HELLO, wait until all
    // of them (and so everyone before) have their own JOINED.
    let mut writers = Vec::new();
    for start in (0..CLIENTS).step_by(BATCH) {
        let batch: Vec<(usize, StdStream)> = (start..(start + BATCH).min(CLIENTS))
            .map(|i| (i, StdStream::connect(srv.addr).expect("connect")))
            .collect();
        for (i, s) in batch {
            let mut s = s;
            s.set_nodelay(true).unwrap();
            s.write_all(&encode(hello(&nick(i)))).unwrap();
            if i < PUBLISHERS {
                writers.push(s.try_clone().unwrap());
            }
            txs[i % READER_THREADS].send((i, s)).unwrap();
        }
        let want = (start + BATCH).min(CLIENTS);
        wait_for("registration", deadline, &shared, || {
            shared.registered.load(Ordering::SeqCst) == want
        });
    }
    let registered_in = started.elapsed();
    // A few publishers talk at once.
    let publishers: Vec<_> = writers
        .into_iter()
        .map(|mut w| {
            std::thread::spawn(move || {
                for i in 0..PER_PUBLISHER {
                    let text = i.to_string();
                    write_all(
                        &mut w,
                        &encode(ClientMessage::Say {
                            room: "lobby",
                            text: &text,
                        }),
                        deadline,
                    );
                }
                write_all(
                    &mut w,
                    &encode(ClientMessage::Say {
                        room: "lobby",
                        text: "done",
                    }),
                    deadline,
                );
                w
            })
        })
        .collect();
    let writers: Vec<StdStream> = publishers.into_iter().map(|p| p.join().unwrap()).collect();
    wait_for(
        "every member to get every message",
        deadline,
        &shared,
        || shared.finished.load(Ordering::SeqCst) == CLIENTS,
    );
    shared.stop.store(true, Ordering::SeqCst);
    let conns: Vec<Conn> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    drop(writers);
    let mut members: Vec<Member> = conns.into_iter().map(|c| c.member).collect();
    members.sort_by_key(|m| m.index);
    let failures = shared.failures.lock().unwrap().clone();
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(members.len(), CLIENTS);

    // Every delivery counted: each member got every message, in one order.
    let reference = members[0].seqs.clone();
    assert_eq!(reference.len(), PUBLISHERS * PER_PUBLISHER);
    assert!(
        reference.windows(2).all(|w| w[0] < w[1]),
        "seq strictly increasing"
    );
    let total: usize = members.iter().map(|m| m.seqs.len()).sum();
    assert_eq!(total, CLIENTS * PUBLISHERS * PER_PUBLISHER, "deliveries");
    for m in &members {
        assert!(m.seqs == reference, "u{}: another MESSAGE order", m.index);
        assert!(m.welcomed && m.registered);
    }

    // JOINED: the first member saw everyone's, in the room's order; every
    // other member saw the same order from its own JOINED on, and its
    // MEMBERS listed exactly the members before it (itself included).
    let order = &members[0].joined;
    assert_eq!(order.len(), CLIENTS);
    let mut position = vec![usize::MAX; CLIENTS];
    for (pos, &i) in order.iter().enumerate() {
        assert_eq!(position[i as usize], usize::MAX, "u{i} joined twice");
        position[i as usize] = pos;
    }
    let mut prefix_sum = Vec::with_capacity(CLIENTS);
    let mut acc = 0u64;
    for &i in order {
        acc = acc.wrapping_add(mix(i as usize));
        prefix_sum.push(acc);
    }
    let mut joined_total = 0usize;
    for m in &members {
        let pos = position[m.index];
        assert!(
            m.joined[..] == order[pos..],
            "u{}: another JOINED order",
            m.index
        );
        assert_eq!(m.members_count, pos + 1, "u{}: MEMBERS count", m.index);
        assert_eq!(
            m.members_sum, prefix_sum[pos],
            "u{}: MEMBERS content",
            m.index
        );
        joined_total += m.joined.len();
    }
    assert_eq!(
        joined_total,
        CLIENTS * (CLIENTS + 1) / 2,
        "JOINED deliveries"
    );
    eprintln!(
        "{CLIENTS} clients registered in {registered_in:?}; {total} MESSAGE and {joined_total} JOINED deliveries in {:?}",
        started.elapsed()
    );
}
