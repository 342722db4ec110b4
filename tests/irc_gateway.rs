//! The IRC gateway over real sockets: IRC and native clients in the same
//! rooms, both directions (docs/IRC.md).

mod common;
mod irc_support;

use common::{Client, Msg, err};
use irc_support::{Irc, cmd, irc_server};
use stxchat::codec::ErrorCode;

#[test]
fn room_messages_flow_both_ways() {
    let s = irc_server(|_| {});
    let addr = s.irc.unwrap();
    let (mut irc, burst) = Irc::register(addr, "alice");
    assert!(
        burst.iter().any(|l| l.ends_with(" 372 alice :- hello")),
        "MOTD: {burst:?}"
    );
    irc.send("JOIN #rust");
    let j = irc.sync();
    assert_eq!(j[0], ":alice!alice@stxchat JOIN #rust");
    let mut nat = Client::join_as(s.addr, "nat");
    nat.join("rust");
    assert_eq!(irc.sync(), [":nat!nat@stxchat JOIN #rust"]);
    nat.say("rust", "hello from native");
    assert_eq!(
        irc.sync(),
        [":nat!nat@stxchat PRIVMSG #rust :hello from native"]
    );
    irc.send("PRIVMSG #rust :hello from irc");
    irc.sync();
    let m = nat.sync();
    assert!(
        m.iter().any(|m| matches!(m, Msg::Message { from, text, .. } if from == "alice" && text == "hello from irc")),
        "{m:?}"
    );
}

#[test]
fn private_messages_flow_both_ways() {
    let s = irc_server(|_| {});
    let (mut irc, _) = Irc::register(s.irc.unwrap(), "alice");
    let mut nat = Client::join_as(s.addr, "nat");
    nat.whisper("Alice", "psst");
    assert_eq!(irc.sync(), [":nat!nat@stxchat PRIVMSG alice :psst"]);
    irc.send("PRIVMSG NAT :back");
    irc.sync();
    let m = nat.sync();
    assert!(
        m.iter().any(|m| matches!(m, Msg::Private { from, to, text, .. } if from == "alice" && to == "nat" && text == "back")),
        "{m:?}"
    );
    irc.send("PRIVMSG ghost :x");
    assert_eq!(
        irc.sync(),
        [":stxchat 401 alice ghost :No such nick/channel"]
    );
}

#[test]
fn join_part_quit_are_seen_both_ways_and_names_lists_everyone() {
    let s = irc_server(|_| {});
    let addr = s.irc.unwrap();
    let (mut a, _) = Irc::register(addr, "alice");
    a.send("JOIN #mix");
    a.sync();
    let mut nat = Client::join_as(s.addr, "nat");
    nat.join("mix");
    let (mut b, _) = Irc::register(addr, "bob");
    b.send("JOIN #mix");
    let j = b.sync();
    let names: Vec<&str> = j[1].rsplit_once(':').unwrap().1.split(' ').collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(sorted, ["@alice", "bob", "nat"], "{j:?}");
    assert_eq!(
        a.sync(),
        [":nat!nat@stxchat JOIN #mix", ":bob!bob@stxchat JOIN #mix"]
    );
    assert_eq!(nat.sync(), [common::joined("mix", "bob")]);
    b.send("NAMES #mix");
    let n = b.sync();
    assert_eq!(cmd(&n[0]), "353");
    assert_eq!(cmd(&n[1]), "366");
    b.send("PART #mix :later");
    b.sync();
    assert_eq!(a.sync(), [":bob!bob@stxchat PART #mix :later"]);
    assert_eq!(nat.sync(), [common::left("mix", "bob", 0)]);
    nat.part("mix");
    assert_eq!(a.sync(), [":nat!nat@stxchat PART #mix"]);
    nat.join("mix");
    a.sync();
    a.send("QUIT :bye all");
    assert_eq!(
        a.line().as_deref(),
        Some("ERROR :Closing Link: Quit: bye all")
    );
    assert_eq!(a.line(), None, "closed after QUIT");
    assert_eq!(nat.sync(), [common::left("mix", "alice", 1)]);
    let (mut c, _) = Irc::register(addr, "carol");
    c.send("JOIN #mix");
    c.sync();
    nat.sync();
    drop(nat);
    assert_eq!(
        c.until(|l| cmd(l) == "QUIT"),
        [":nat!nat@stxchat QUIT :Quit"]
    );
}

#[test]
fn nick_collisions_fold_ascii_case_both_ways() {
    let s = irc_server(|_| {});
    let addr = s.irc.unwrap();
    let _nat = Client::join_as(s.addr, "alice");
    let mut a = Irc::connect(addr);
    a.send("NICK Alice");
    a.send("USER a 0 * :A");
    assert_eq!(
        a.sync(),
        [":stxchat 433 * Alice :Nickname is already in use"]
    );
    a.send("NICK alice2");
    assert!(a.sync().iter().any(|l| cmd(l) == "001"));
    let (_bob, _) = Irc::register(addr, "Bob");
    let mut n = Client::connect(s.addr);
    n.send(common::hello("BOB"));
    n.expect(err(ErrorCode::NickTaken));
    a.send("NICK bob");
    assert_eq!(
        a.sync(),
        [":stxchat 433 alice2 bob :Nickname is already in use"]
    );
}

#[test]
fn long_native_text_is_split_at_whitespace_into_lines_within_512_bytes() {
    let s = irc_server(|_| {});
    let (mut irc, _) = Irc::register(s.irc.unwrap(), "alice");
    irc.send("JOIN #long");
    irc.sync();
    let mut nat = Client::join_as(s.addr, "nat");
    nat.join("long");
    irc.sync();
    let words: Vec<String> = (0..450).map(|i| format!("word{i}")).collect();
    let first = words.join(" ");
    let text = format!("{first}\nsecond ünïcödé line");
    assert!(text.len() <= 4096 - 40);
    nat.say("long", &text);
    let lines = irc.sync();
    let prefix = ":nat!nat@stxchat PRIVMSG #long :";
    assert!(lines.len() >= 8, "{}", lines.len());
    let (last, body) = lines.split_last().unwrap();
    assert_eq!(last, &format!("{prefix}second ünïcödé line"));
    let mut rebuilt = String::new();
    for (i, l) in body.iter().enumerate() {
        assert!(l.len() + 2 <= 512);
        let piece = l.strip_prefix(prefix).expect("full source prefix");
        if i + 1 < body.len() {
            assert!(piece.ends_with(' '), "cut at whitespace: {piece:?}");
            assert!(l.len() + 2 > 512 - 10, "lines are filled: {}", l.len());
        }
        rebuilt.push_str(piece);
    }
    assert_eq!(rebuilt, first);
}

#[test]
fn hostile_input_gets_errors_and_others_keep_being_served() {
    let s = irc_server(|_| {});
    let addr = s.irc.unwrap();
    let (mut good, _) = Irc::register(addr, "good");
    // A line that never ends: skipped, bounded, then 417.
    let (mut bad, _) = Irc::register(addr, "bad");
    for _ in 0..200 {
        bad.send_raw(&[b'x'; 1000]);
    }
    bad.send_raw(b"\r\n");
    assert_eq!(cmd(&bad.sync()[0]), "417");
    // Binary garbage and invalid UTF-8.
    bad.send_raw(b"\x00\x01\x02\xff\xfe\r\nPRIVMSG good :\xc3\x28\r\n");
    let l = bad.sync();
    assert!(
        l.iter().all(|l| cmd(l) == "421" || cmd(l) == "FAIL"),
        "{l:?}"
    );
    // A CAP flood answered in order; the client is still served.
    for _ in 0..500 {
        bad.send("CAP LS 302");
    }
    let l = bad.sync();
    assert_eq!(l.len(), 500);
    good.send("PRIVMSG good :still here");
    good.sync();
    bad.send("PRIVMSG good :hi");
    bad.sync();
    assert_eq!(good.sync(), [":bad!bad@stxchat PRIVMSG good :hi"]);
    // Garbage before registration never registers.
    let mut raw = Irc::connect(addr);
    raw.send_raw(&[0xAA; 5000]);
    raw.send_raw(b"\r\nJOIN #x\r\n");
    let l = raw.sync();
    assert_eq!(l.iter().map(|l| cmd(l)).collect::<Vec<_>>(), ["417", "451"]);
}

#[test]
fn server_password_and_connection_limit_hold_on_the_irc_port() {
    let s = irc_server(|c| {
        c.core.password = Some("pw".into());
        c.core.max_connections = 2;
    });
    let addr = s.irc.unwrap();
    let mut a = Irc::connect(addr);
    a.send("PASS nope");
    a.send("NICK a");
    a.send("USER a 0 * :A");
    assert_eq!(cmd(&a.line().unwrap()), "464");
    assert_eq!(cmd(&a.line().unwrap()), "ERROR");
    assert_eq!(a.line(), None);
    let mut b = Irc::connect(addr);
    b.send("PASS pw");
    b.send("NICK b");
    b.send("USER b 0 * :B");
    assert!(b.sync().iter().any(|l| cmd(l) == "001"));
    let _c2 = Irc::connect(addr);
    let mut full = Irc::connect(addr);
    let l = full.line();
    assert!(
        l.as_deref()
            .is_none_or(|l| l.starts_with("ERROR :Closing Link: server is full")),
        "{l:?}"
    );
}
