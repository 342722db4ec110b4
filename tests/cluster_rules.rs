//! CLUSTER.md section 1, black-box: two or three in-process nodes joined to
//! a test's own `nats-server -js`, clients over loopback, every rule seen
//! from the clients' side (rooms, history, MEMBERS, WHO, WHISPER, seq,
//! nick races, order under concurrent publishers, bad input on our
//! subjects, a node with other settings refused).

mod common;

use std::time::Duration;

use common::cluster::{child_node, member_nicks, messages, node, recv_until};
use common::nats::Nats;
use common::{Client, Msg, joined};
use stxchat::codec::{ClientMessage, ErrorCode};

const LONG: Duration = Duration::from_secs(20);

#[test]
fn rooms_history_members_who_and_whisper_span_the_nodes() {
    let nats = Nats::start();
    let a = node(&nats, "a");
    let (mut alice, _) = Client::register(a.addr, "alice");
    let b = node(&nats, "b");
    let (mut bob, lobby) = Client::register(b.addr, "bob");
    assert_eq!(member_nicks(&lobby, "lobby"), ["alice", "bob"], "{lobby:?}");
    recv_until(&mut alice, "bob's JOINED", LONG, |m| {
        *m == joined("lobby", "bob")
    });

    // A SAY on A reaches B with the same seq; the sender's copy too.
    alice.say("lobby", "hello from a");
    let (_, mine) = recv_until(&mut alice, "own MESSAGE", LONG, |m| {
        matches!(m, Msg::Message { .. })
    });
    let (_, theirs) = recv_until(&mut bob, "alice's MESSAGE", LONG, |m| {
        matches!(m, Msg::Message { .. })
    });
    assert_eq!(mine, theirs, "byte-identical MESSAGE on both nodes");
    let Msg::Message { seq: s1, .. } = mine else {
        unreachable!()
    };

    // History is the room's: a joiner on B gets what was said on A.
    alice.join("talk");
    alice.say("talk", "one");
    alice.say("talk", "two");
    recv_until(
        &mut alice,
        "two",
        LONG,
        |m| matches!(m, Msg::Message { text, .. } if text == "two"),
    );
    let got = bob.join("talk");
    let history = messages(&got, "talk");
    assert_eq!(
        history
            .iter()
            .map(|h| (h.1.as_str(), h.2.as_str()))
            .collect::<Vec<_>>(),
        [("alice", "one"), ("alice", "two")],
        "{got:?}"
    );
    assert!(
        history[0].0 > s1 && history[1].0 > history[0].0,
        "seq grows: {history:?}"
    );
    assert_eq!(member_nicks(&got, "talk"), ["alice", "bob"]);
    recv_until(&mut alice, "bob joins talk", LONG, |m| {
        *m == joined("talk", "bob")
    });

    // WHO answers for a room that has members on the other node only.
    alice.join("only-a");
    // Once bob has what alice said after her JOIN, B has applied the JOIN
    // (one order); WHO answers from B's replica.
    alice.say("lobby", "joined only-a");
    recv_until(
        &mut bob,
        "alice's marker",
        LONG,
        |m| matches!(m, Msg::Message { text, .. } if text == "joined only-a"),
    );
    bob.send(ClientMessage::Who { room: "only-a" });
    let got = bob.sync();
    assert_eq!(member_nicks(&got, "only-a"), ["alice"], "{got:?}");

    // WHISPER reaches a nick on another node; no_such_nick if it is nowhere.
    bob.whisper("alice", "psst");
    let (_, p) = recv_until(&mut alice, "the PRIVATE", LONG, |m| {
        matches!(m, Msg::Private { .. })
    });
    match p {
        Msg::Private {
            seq,
            from,
            to,
            text,
        } => {
            assert_eq!(
                (from.as_str(), to.as_str(), text.as_str()),
                ("bob", "alice", "psst")
            );
            assert!(seq > history[1].0);
        }
        _ => unreachable!(),
    }
    bob.whisper("nobody", "x");
    recv_until(&mut bob, "no_such_nick", LONG, |m| {
        m.is_error(ErrorCode::NoSuchNick)
    });

    // PART on B is seen on A; BYE on B frees the nick everywhere.
    bob.part("talk");
    recv_until(
        &mut alice,
        "bob parts",
        LONG,
        |m| matches!(m, Msg::Left { room, nick, .. } if room == "talk" && nick == "bob"),
    );
    bob.send(ClientMessage::Bye);
    recv_until(
        &mut alice,
        "bob leaves",
        LONG,
        |m| matches!(m, Msg::Left { room, nick, .. } if room == "lobby" && nick == "bob"),
    );
    let (mut bob2, _) = Client::register(a.addr, "bob");
    bob2.expect_nothing();
}

#[test]
fn of_200_racing_hellos_for_one_nick_exactly_one_wins() {
    let nats = Nats::start();
    let a = node(&nats, "a");
    // Both nodes up and serving first.
    let (warm_a, _) = Client::register(a.addr, "warm-a");
    let b = node(&nats, "b");
    let (warm_b, _) = Client::register(b.addr, "warm-b");
    let mut conns: Vec<Client> = (0..200)
        .map(|i| {
            let mut c = Client::connect(if i % 2 == 0 { a.addr } else { b.addr });
            c.nick = format!("racer#{i}");
            c
        })
        .collect();
    let hello = common::encode(ClientMessage::Hello {
        version: 1,
        nick: "racer",
        token: "",
    });
    for c in &mut conns {
        c.send_raw(&hello);
    }
    let mut welcomes = 0;
    let mut taken = 0;
    for c in &mut conns {
        match c.first_or_eof() {
            Some(Msg::Welcome { .. }) => welcomes += 1,
            Some(m) if m.is_error(ErrorCode::NickTaken) => taken += 1,
            other => panic!("{}: {other:?}", c.nick),
        }
    }
    assert_eq!((welcomes, taken), (1, 199));
    drop((warm_a, warm_b));
}

#[test]
fn every_member_on_every_node_sees_one_room_order() {
    let nats = Nats::start();
    let a = node(&nats, "a");
    let (first, _) = Client::register(a.addr, "m-a0");
    let b = node(&nats, "b");
    let c = node(&nats, "c");
    let addrs = [a.addr, b.addr, c.addr];
    // Two listeners and two senders per node, all in one room.
    let mut members = vec![first];
    for (i, addr) in addrs.iter().enumerate() {
        if i > 0 {
            members.push(Client::register(*addr, &format!("m-{i}0")).0);
        }
        members.push(Client::register(*addr, &format!("m-{i}1")).0);
    }
    let mut senders: Vec<Client> = (0..6)
        .map(|i| Client::register(addrs[i % 3], &format!("s{i}")).0)
        .collect();
    for m in members.iter_mut().chain(senders.iter_mut()) {
        m.join("order");
    }
    const EACH: usize = 40;
    let threads: Vec<_> = senders
        .into_iter()
        .map(|mut s| {
            std::thread::spawn(move || {
                for k in 0..EACH {
                    let text = format!("{}:{k}", s.nick);
                    s.say("order", &text);
                }
                s.sync();
                s
            })
        })
        .collect();
    let total = 6 * EACH;
    let mut seen = Vec::new();
    for m in &mut members {
        let mut got = Vec::new();
        while got.len() < total {
            let (_, msg) = recv_until(
                m,
                "room MESSAGEs",
                LONG,
                |x| matches!(x, Msg::Message { room, .. } if room == "order"),
            );
            got.extend(messages(&[msg], "order"));
        }
        seen.push(got);
    }
    let senders: Vec<Client> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    for (i, s) in seen.iter().enumerate() {
        assert_eq!(s, &seen[0], "member {i} saw another order");
    }
    // seq strictly increasing; each sender's messages in the order sent.
    assert!(seen[0].windows(2).all(|w| w[0].0 < w[1].0));
    for s in &senders {
        let mine: Vec<&str> = seen[0]
            .iter()
            .filter(|m| m.1 == s.nick)
            .map(|m| m.2.as_str())
            .collect();
        let want: Vec<String> = (0..EACH).map(|k| format!("{}:{k}", s.nick)).collect();
        assert_eq!(mine, want.iter().map(String::as_str).collect::<Vec<_>>());
    }
}

#[test]
fn garbage_truncated_replayed_and_unknown_version_records_are_ignored() {
    let nats = Nats::start();
    let a = node(&nats, "a");
    let (mut alice, _) = Client::register(a.addr, "alice");
    let b = node(&nats, "b");
    let (mut bob, _) = Client::register(b.addr, "bob");
    recv_until(&mut alice, "bob's JOINED", LONG, |m| {
        *m == joined("lobby", "bob")
    });
    alice.say("lobby", "real");
    recv_until(
        &mut bob,
        "real",
        LONG,
        |m| matches!(m, Msg::Message { text, .. } if text == "real"),
    );
    recv_until(
        &mut alice,
        "real",
        LONG,
        |m| matches!(m, Msg::Message { text, .. } if text == "real"),
    );
    // Take the stored SAY record and publish it again, cut short, with
    // another version byte, and plain garbage, into our subjects.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = async_nats::connect(nats.url()).await.unwrap();
        let js = async_nats::jetstream::new(client.clone());
        let stream = js.get_stream("STXCHAT").await.unwrap();
        let last = stream.get_info().await.unwrap().state.last_sequence;
        let mut say = None;
        for seq in (1..=last).rev() {
            if let Ok(m) = stream.get_raw_message(seq).await
                && m.payload.windows(4).any(|w| w == b"real")
            {
                say = Some(m.payload.to_vec());
                break;
            }
        }
        let say = say.expect("the SAY record is in the stream");
        let mut other_version = say.clone();
        // The byte after the magic is the version (CLUSTER-DESIGN.md 2).
        let magic = stxchat::cluster::envelope::MAGIC.len();
        other_version[magic] = 99;
        let bad: Vec<Vec<u8>> = vec![
            say.clone(),
            say[..say.len() / 2].to_vec(),
            say[..1].to_vec(),
            other_version,
            b"plain garbage".to_vec(),
            Vec::new(),
        ];
        for (i, b) in bad.into_iter().enumerate() {
            js.publish(format!("stxchat.log.garbage.{i}"), b.into())
                .await
                .unwrap()
                .await
                .unwrap();
        }
        // And some without the stream's headers straight into the feed,
        // heartbeats and snapshot requests.
        for s in [
            "stxchat.feed.x.1",
            "stxchat.hb",
            "stxchat.snap.0000000000000001",
        ] {
            client.publish(s, "junk".into()).await.unwrap();
        }
        client.flush().await.unwrap();
    });
    // Both nodes go on serving, in step, and nothing was delivered twice.
    alice.say("lobby", "after");
    for c in [&mut alice, &mut bob] {
        let (before, _) = recv_until(
            c,
            "after",
            LONG,
            |m| matches!(m, Msg::Message { text, .. } if text == "after"),
        );
        assert!(
            messages(&before, "lobby").is_empty(),
            "nothing replayed: {before:?}"
        );
    }
    let (mut carol, lobby) = Client::register(b.addr, "carol");
    assert_eq!(member_nicks(&lobby, "lobby"), ["alice", "bob", "carol"]);
    let texts: Vec<String> = messages(&lobby, "lobby").into_iter().map(|m| m.2).collect();
    assert_eq!(texts, ["real", "after"], "history has each once");
    carol.expect_nothing();
}

#[test]
fn a_node_with_other_settings_refuses_to_join_with_exit_2() {
    let nats = Nats::start();
    let a = node(&nats, "a");
    let (_alice, _) = Client::register(a.addr, "alice");
    let url = nats.url();
    let port = common::free_port().to_string();
    let bind = format!("127.0.0.1:{port}");
    let (code, stderr) = common::run_cli(&[
        "server",
        "--cluster",
        &url,
        "--node",
        "odd",
        "--bind",
        &bind,
        "--admin-bind",
        "off",
        "--history",
        "7",
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("other settings"), "{stderr}");
    // The refusal names the setting and both values (the cluster's 50, the
    // default, and this node's 7), and nothing that is the same.
    assert!(
        stderr.contains(r#"history is "50" there and "7" here"#),
        "{stderr}"
    );
    assert!(!stderr.contains("password is"), "{stderr}");
}

/// Sends SIGHUP to `node` and waits for a log line with `needle`.
fn hup(node: &common::ChildServer, needle: &str) -> String {
    let before = node.count(needle);
    // SAFETY: kill on our own child's PID.
    unsafe {
        libc::kill(node.pid() as libc::pid_t, libc::SIGHUP);
    }
    common::wait_until(&format!("a reload logging {needle:?}"), || {
        node.count(needle) > before
    });
    node.log()
        .into_iter()
        .filter(|l| l.contains(needle))
        .nth(before)
        .unwrap()
}

/// HELLO as `nick` with `token`; the first frame back.
fn login(addr: std::net::SocketAddr, nick: &str, token: &str) -> Msg {
    let mut c = Client::connect(addr);
    c.nick = nick.into();
    c.send(ClientMessage::Hello {
        version: 1,
        nick,
        token,
    });
    recv_until(&mut c, "the HELLO's answer", LONG, |m| {
        matches!(m, Msg::Welcome { .. } | Msg::Error(_))
    })
    .1
}

#[test]
fn a_reload_cannot_change_a_shared_setting_on_one_node() {
    let nats = Nats::start();
    let dir = std::env::temp_dir().join(format!(
        "stxchat-cluster-reload-{}-{}",
        std::process::id(),
        rand::random::<u64>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("stxchat.toml");
    std::fs::write(&conf, "password = \"old\"\n").unwrap();
    let conf_arg = conf.to_str().unwrap().to_owned();
    let a = child_node(&nats, "a", &["--config", &conf_arg]);
    assert!(matches!(login(a.addr, "carol", "old"), Msg::Welcome { .. }));

    // Another password and a rate: the rate is this node's own and changes
    // live; the password is the cluster's and stays.
    let tmp = dir.join("stxchat.toml.tmp");
    std::fs::write(&tmp, "password = \"new\"\nrate = 100\n").unwrap();
    std::fs::rename(&tmp, &conf).unwrap();
    let line = hup(&a, "must be the same on every node");
    assert!(line.contains("password"), "{line}");
    let done = a.wait_log("reloaded:");
    assert!(done.contains("rate"), "{done}");
    assert!(!done.contains("password"), "not changed live: {done}");
    assert!(matches!(login(a.addr, "dave", "old"), Msg::Welcome { .. }));
    assert!(login(a.addr, "erin", "new").is_error(ErrorCode::AuthFailed));
    let _ = std::fs::remove_dir_all(&dir);
}
