//! The translator against a real engine, sans-IO: IRC sessions and native
//! sessions in one engine, driven with plain calls and a fake clock.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::codec::{ClientMessage, Event, FrameDecoder, ServerMessage, encode_frame};
use crate::core::{ConnId, CoreConfig, Engine, Now};
use crate::irc::{IrcConfig, IrcSession};

struct Hub {
    e: Engine<()>,
    irc: HashMap<ConnId, IrcSession>,
    now: Now,
    cfg: Arc<IrcConfig>,
}

fn peer() -> SocketAddr {
    "127.0.0.1:5000".parse().unwrap()
}

impl Hub {
    fn new() -> Hub {
        Hub::with(|_| {})
    }

    fn with(edit: impl FnOnce(&mut CoreConfig)) -> Hub {
        let mut core = CoreConfig {
            server_name: "irc.test".into(),
            ..CoreConfig::default()
        };
        edit(&mut core);
        let cfg = Arc::new(IrcConfig {
            server_name: core.server_name.clone(),
            network: "TestNet".into(),
            max_payload: core.max_payload,
            max_rooms: core.max_rooms_per_client,
            ..IrcConfig::default()
        });
        let mut e = Engine::new(core).unwrap();
        e.set_oper_password(Some("sesame".into()));
        Hub {
            e,
            irc: HashMap::new(),
            now: Now {
                mono_ms: 1_000,
                unix_ms: 1_700_000_000_000,
            },
            cfg,
        }
    }

    fn connect(&mut self) -> ConnId {
        let id = self.e.accept_gateway(peer(), (), self.now);
        self.irc.insert(id, IrcSession::new(self.cfg.clone()));
        id
    }

    fn send_raw(&mut self, id: ConnId, bytes: &[u8]) {
        let mut frames = Vec::new();
        self.irc
            .get_mut(&id)
            .unwrap()
            .on_client_bytes(bytes, &mut frames);
        self.e.on_input(id, &frames, self.now);
    }

    fn send(&mut self, id: ConnId, line: &str) {
        self.send_raw(id, format!("{line}\r\n").as_bytes());
    }

    /// The IRC lines queued for `id` since the last call.
    fn lines(&mut self, id: ConnId) -> Vec<String> {
        let Some(bytes) = self.e.queued_copy(id) else {
            return Vec::new();
        };
        self.e.consumed(id, bytes.len());
        let mut d = FrameDecoder::new(65535);
        let mut input = &bytes[..];
        let mut out = Vec::new();
        let s = self.irc.get_mut(&id).unwrap();
        loop {
            let (used, ev) = d.decode(input);
            input = &input[used..];
            match ev {
                Some(Event::Frame(p)) => s.on_server_frame(p, &mut out),
                Some(Event::Error(e)) => panic!("bad frame {e:?}"),
                None => break,
            }
        }
        let text = String::from_utf8(out).expect("lines are UTF-8");
        for l in text.split_inclusive("\r\n") {
            assert!(l.ends_with("\r\n"), "{l:?}");
            let body = if l.starts_with('@') {
                l.split_once(' ').unwrap().1
            } else {
                l
            };
            assert!(body.len() <= 512, "over 512: {l:?}");
        }
        text.split("\r\n")
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// Commands (or numerics) of the lines for `id`.
    fn commands(&mut self, id: ConnId) -> Vec<String> {
        self.lines(id)
            .iter()
            .map(|l| command_of(l).to_owned())
            .collect()
    }

    fn register(&mut self, nick: &str) -> ConnId {
        let id = self.connect();
        self.send(id, &format!("NICK {nick}"));
        self.send(id, &format!("USER {nick}u 0 * :Real {nick}"));
        let l = self.lines(id);
        assert!(l.iter().any(|l| command_of(l) == "001"), "{l:?}");
        id
    }

    fn native(&mut self, nick: &str) -> ConnId {
        let id = self.e.accept(peer(), (), self.now);
        self.native_send(
            id,
            ClientMessage::Hello {
                version: crate::codec::PROTOCOL_VERSION,
                nick,
                token: "",
            },
        );
        let f = self.frames(id);
        assert!(f[0].starts_with("Welcome"), "{f:?}");
        id
    }

    fn native_send(&mut self, id: ConnId, m: ClientMessage<'_>) {
        let mut p = Vec::new();
        m.encode_payload(&mut p).unwrap();
        let mut f = Vec::new();
        encode_frame(&mut f, &p).unwrap();
        self.e.on_input(id, &f, self.now);
    }

    /// Debug renderings of the frames queued for native `id`.
    fn frames(&mut self, id: ConnId) -> Vec<String> {
        let Some(bytes) = self.e.queued_copy(id) else {
            return Vec::new();
        };
        self.e.consumed(id, bytes.len());
        let mut d = FrameDecoder::new(65535);
        let mut input = &bytes[..];
        let mut out = Vec::new();
        loop {
            let (used, ev) = d.decode(input);
            input = &input[used..];
            match ev {
                Some(Event::Frame(p)) => {
                    out.push(format!("{:?}", ServerMessage::decode(p).unwrap()))
                }
                Some(Event::Error(e)) => panic!("bad frame {e:?}"),
                None => break,
            }
        }
        out
    }

    fn closed(&mut self, id: ConnId) -> bool {
        let mut c = Vec::new();
        self.e.take_closes(&mut c);
        c.contains(&id)
            || self
                .e
                .session(id)
                .is_none_or(|s| s.phase() == crate::core::Phase::Closing)
    }
}

fn command_of(line: &str) -> &str {
    let l = if line.starts_with('@') {
        line.split_once(' ').unwrap().1
    } else {
        line
    };
    let l = if l.starts_with(':') {
        l.split_once(' ').unwrap().1
    } else {
        l
    };
    l.split(' ').next().unwrap()
}

#[test]
fn registration_burst_in_order_with_isupport_lusers_and_motd() {
    let mut h = Hub::new();
    let a = h.connect();
    h.send(a, "NICK alice");
    assert!(h.lines(a).is_empty());
    h.send(a, "USER al 0 * :Alice Liddell");
    let l = h.lines(a);
    let cmds: Vec<&str> = l.iter().map(|l| command_of(l)).collect();
    assert_eq!(
        cmds,
        [
            "001", "002", "003", "004", "005", "005", "251", "254", "255", "422"
        ]
    );
    assert!(l[0].starts_with(":irc.test 001 alice :Welcome"));
    let isupport = format!("{} {}", l[4], l[5]);
    for t in [
        "CASEMAPPING=ascii",
        "CHANTYPES=#",
        "NICKLEN=32",
        "CHANNELLEN=65",
        "TARGMAX=",
        "PREFIX=(ov)@+",
        "UTF8ONLY",
        "NETWORK=TestNet",
    ] {
        assert!(isupport.contains(t), "{t} missing: {isupport}");
    }
}

#[test]
fn commands_before_registration_get_451_and_unknown_ones_421() {
    let mut h = Hub::new();
    let a = h.connect();
    h.send(a, "JOIN #x");
    h.send(a, "PRIVMSG #x :hi");
    assert_eq!(h.commands(a), ["451", "451"]);
    h.send(a, "PING :t");
    assert_eq!(h.lines(a), [":irc.test PONG irc.test t"]);
    let b = h.register("bob");
    h.send(b, "FROB x");
    assert_eq!(h.lines(b), [":irc.test 421 bob FROB :Unknown command"]);
}

#[test]
fn cap_negotiation_holds_registration_until_cap_end() {
    let mut h = Hub::new();
    let a = h.connect();
    h.send(a, "CAP LS 302");
    h.send(a, "NICK alice");
    h.send(a, "USER a 0 * :A");
    h.send(a, "CAP REQ :server-time batch");
    h.send(a, "CAP REQ :server-time bogus");
    h.send(a, "CAP LIST");
    let l = h.lines(a);
    assert!(l[0].starts_with(":irc.test CAP * LS :"), "{l:?}");
    assert!(
        l[0].contains("server-time") && l[0].contains("batch") && l[0].contains("message-tags")
    );
    assert_eq!(l[1], ":irc.test CAP * ACK :server-time batch");
    assert_eq!(l[2], ":irc.test CAP * NAK :server-time bogus");
    assert_eq!(l[3], ":irc.test CAP * LIST :batch server-time");
    assert_eq!(l.len(), 4, "no 001 before CAP END: {l:?}");
    h.send(a, "CAP END");
    assert_eq!(h.commands(a)[0], "001");
    h.send(a, "CAP FOO");
    assert_eq!(h.commands(a), ["410"]);
}

#[test]
fn pass_checks_the_server_password() {
    let mut h = Hub::with(|c| c.password = Some("pw".into()));
    let a = h.connect();
    h.send(a, "PASS pw");
    h.send(a, "NICK alice");
    h.send(a, "USER a 0 * :A");
    assert_eq!(h.commands(a)[0], "001");
    h.send(a, "PASS pw");
    assert_eq!(h.commands(a), ["462"]);
    h.send(a, "USER a 0 * :A");
    assert_eq!(h.commands(a), ["462"]);
    let b = h.connect();
    h.send(b, "PASS wrong");
    h.send(b, "NICK bob");
    h.send(b, "USER b 0 * :B");
    assert_eq!(h.commands(b), ["464", "ERROR"]);
    assert!(h.closed(b));
    let c = h.connect();
    h.send(c, "NICK carol");
    h.send(c, "USER c 0 * :C");
    assert_eq!(h.commands(c), ["464", "ERROR"]);
}

#[test]
fn nick_errors_431_432_433_and_461() {
    let mut h = Hub::new();
    let _alice = h.register("alice");
    let b = h.connect();
    h.send(b, "NICK");
    h.send(b, "NICK 1abc");
    h.send(b, "NICK *");
    h.send(b, "USER b 0 *");
    assert_eq!(h.commands(b), ["431", "432", "432", "461"]);
    h.send(b, "NICK Alice");
    h.send(b, "USER b 0 * :B");
    let l = h.lines(b);
    assert_eq!(l, [":irc.test 433 * Alice :Nickname is already in use"]);
    h.send(b, "NICK bob");
    assert_eq!(h.commands(b)[0], "001", "another nick after 433 registers");
}

#[test]
fn one_nick_table_with_ascii_folding_both_ways() {
    let mut h = Hub::new();
    let _native = h.native("alice");
    let a = h.connect();
    h.send(a, "NICK Alice");
    h.send(a, "USER a 0 * :A");
    assert_eq!(h.commands(a), ["433"]);
    let _irc = h.register("Bob");
    let n = h.e.accept(peer(), (), h.now);
    h.native_send(
        n,
        ClientMessage::Hello {
            version: 1,
            nick: "bob",
            token: "",
        },
    );
    let f = h.frames(n);
    assert!(
        f[0].contains("Error") && f[0].contains("code: 7"),
        "nick_taken: {f:?}"
    );
}

#[test]
fn join_echo_then_names_then_end_and_native_sees_joined() {
    let mut h = Hub::new();
    let n = h.native("nat");
    h.native_send(n, ClientMessage::Join { room: "rust" });
    h.frames(n);
    let a = h.register("alice");
    h.send(a, "JOIN #rust,#go");
    let l = h.lines(a);
    let cmds: Vec<&str> = l.iter().map(|l| command_of(l)).collect();
    assert_eq!(cmds, ["JOIN", "353", "366", "JOIN", "353", "366"], "{l:?}");
    assert_eq!(l[0], ":alice!alice@stxchat JOIN #rust");
    assert!(
        l[1] == ":irc.test 353 alice = #rust :nat alice"
            || l[1] == ":irc.test 353 alice = #rust :alice nat",
        "{}",
        l[1]
    );
    assert_eq!(
        l[4], ":irc.test 353 alice = #go @alice",
        "the creator operates its channel"
    );
    let f = h.frames(n);
    assert!(
        f.iter()
            .any(|f| f.contains("Joined") && f.contains("alice")),
        "{f:?}"
    );
    h.send(a, "JOIN #rust");
    assert!(h.lines(a).is_empty(), "joining twice does nothing");
    h.send(a, "JOIN rust");
    assert_eq!(h.commands(a), ["403"]);
}

#[test]
fn join_0_parts_every_channel_and_too_many_channels_is_405() {
    let mut h = Hub::with(|c| c.max_rooms_per_client = 2);
    let a = h.register("alice");
    h.send(a, "JOIN #a,#b,#c");
    let c = h.commands(a);
    assert_eq!(c.iter().filter(|c| *c == "JOIN").count(), 2);
    assert_eq!(c.last().unwrap(), "405");
    h.send(a, "JOIN 0");
    assert_eq!(h.commands(a), ["PART", "PART"]);
}

#[test]
fn part_with_reason_to_irc_left_to_native_and_442() {
    let mut h = Hub::new();
    let a = h.register("alice");
    let b = h.register("bob");
    let n = h.native("nat");
    h.send(a, "JOIN #r");
    h.send(b, "JOIN #r");
    h.native_send(n, ClientMessage::Join { room: "r" });
    h.lines(a);
    h.lines(b);
    h.frames(n);
    h.send(a, "PART #r :see you");
    assert_eq!(h.lines(a), [":alice!alice@stxchat PART #r :see you"]);
    assert_eq!(h.lines(b), [":alice!alice@stxchat PART #r :see you"]);
    let f = h.frames(n);
    assert!(f[0].contains("Left") && f[0].contains("reason: 0"), "{f:?}");
    h.send(a, "PART #r");
    assert_eq!(h.commands(a), ["442"]);
    h.native_send(n, ClientMessage::Part { room: "r" });
    assert_eq!(h.lines(b), [":nat!nat@stxchat PART #r"]);
}

#[test]
fn room_messages_both_ways() {
    let mut h = Hub::new();
    let a = h.register("alice");
    let n = h.native("nat");
    h.send(a, "JOIN #r");
    h.native_send(n, ClientMessage::Join { room: "r" });
    h.lines(a);
    h.frames(n);
    h.send(a, "PRIVMSG #r :hello native");
    assert!(h.lines(a).is_empty(), "no echo without echo-message");
    let f = h.frames(n);
    assert!(
        f[0].contains("Message")
            && f[0].contains("hello native")
            && f[0].contains("from: \"alice\""),
        "{f:?}"
    );
    h.native_send(
        n,
        ClientMessage::Say {
            room: "r",
            text: "hello irc",
        },
    );
    assert_eq!(h.lines(a), [":nat!nat@stxchat PRIVMSG #r :hello irc"]);
    h.native_send(
        n,
        ClientMessage::Say {
            room: "r",
            text: "/me waves",
        },
    );
    assert_eq!(
        h.lines(a),
        [":nat!nat@stxchat PRIVMSG #r :\u{1}ACTION waves\u{1}"]
    );
    h.send(a, "PRIVMSG #r :\u{1}ACTION nods\u{1}");
    let f = h.frames(n);
    assert!(f.last().unwrap().contains("\"/me nods\""), "{f:?}");
}

#[test]
fn private_messages_both_ways_and_errors() {
    let mut h = Hub::new();
    let a = h.register("alice");
    let n = h.native("nat");
    h.send(a, "PRIVMSG Nat :psst");
    assert!(h.frames(n)[0].contains("Private") && h.lines(a).is_empty());
    h.native_send(
        n,
        ClientMessage::Whisper {
            to: "alice",
            text: "hey",
        },
    );
    assert_eq!(h.lines(a), [":nat!nat@stxchat PRIVMSG alice :hey"]);
    h.send(a, "PRIVMSG nobody :x");
    assert_eq!(
        h.lines(a),
        [":irc.test 401 alice nobody :No such nick/channel"]
    );
    h.send(a, "PRIVMSG #nowhere :x");
    assert_eq!(h.commands(a), ["404"]);
    h.send(a, "PRIVMSG");
    h.send(a, "PRIVMSG nat");
    h.send(a, "PRIVMSG nat :");
    assert_eq!(h.commands(a), ["411", "412", "412"]);
    h.send(a, "NOTICE nobody :x");
    h.send(a, "NOTICE #nowhere :x");
    assert!(h.lines(a).is_empty(), "no automatic replies to NOTICE");
}

#[test]
fn notices_reach_irc_as_notice_and_natives_as_messages() {
    let mut h = Hub::new();
    let a = h.register("alice");
    let b = h.register("bob");
    let n = h.native("nat");
    h.send(a, "JOIN #r");
    h.send(b, "JOIN #r");
    h.native_send(n, ClientMessage::Join { room: "r" });
    h.lines(a);
    h.lines(b);
    h.frames(n);
    h.send(a, "NOTICE #r :heads up");
    assert_eq!(h.lines(b), [":alice!alice@stxchat NOTICE #r :heads up"]);
    assert!(h.lines(a).is_empty());
    assert!(h.frames(n)[0].contains("heads up"));
    h.send(a, "NOTICE bob :direct");
    assert_eq!(h.lines(b), [":alice!alice@stxchat NOTICE bob :direct"]);
}

#[test]
fn names_after_mixed_joins_and_who_whois_list() {
    let mut h = Hub::new();
    let a = h.register("alice");
    h.send(a, "JOIN #mix");
    let n = h.native("nat");
    h.native_send(n, ClientMessage::Join { room: "mix" });
    let b = h.register("bob");
    h.send(b, "JOIN #mix");
    h.lines(a);
    h.lines(b);
    h.send(b, "NAMES #mix");
    let l = h.lines(b);
    assert_eq!(l.len(), 2, "{l:?}");
    let mut names: Vec<&str> = l[0].rsplit_once(':').unwrap().1.split(' ').collect();
    names.sort();
    assert_eq!(names, ["@alice", "bob", "nat"]);
    assert_eq!(l[1], ":irc.test 366 bob #mix :End of /NAMES list");
    h.send(b, "NAMES #none");
    assert_eq!(h.commands(b), ["366"]);
    h.send(b, "WHO #mix");
    let l = h.lines(b);
    assert_eq!(l.len(), 4);
    assert!(
        l.iter()
            .any(|l| l.contains(" 352 bob #mix aliceu 127.0.0.1 irc.test alice H@ :0 Real alice")),
        "{l:?}"
    );
    assert!(
        l.iter()
            .any(|l| l.contains(" 352 bob #mix nat 127.0.0.1 irc.test nat H :0 nat")),
        "{l:?}"
    );
    assert_eq!(l[3], ":irc.test 315 bob #mix :End of WHO list");
    h.send(b, "WHOIS alice");
    let c = h.commands(b);
    assert_eq!(c, ["311", "319", "312", "317", "318"]);
    h.send(b, "WHOIS ghost");
    assert_eq!(h.commands(b), ["401", "318"]);
    h.send(b, "LIST");
    let l = h.lines(b);
    assert_eq!(command_of(&l[0]), "321");
    assert!(l.iter().any(|l| l.contains(" 322 bob #mix 3 :")), "{l:?}");
    assert_eq!(command_of(l.last().unwrap()), "323");
}

#[test]
fn topic_read_set_lock_and_errors() {
    let mut h = Hub::new();
    let a = h.register("alice");
    let b = h.register("bob");
    h.send(a, "JOIN #t");
    h.send(b, "JOIN #t");
    h.lines(a);
    h.lines(b);
    h.send(b, "TOPIC #t");
    assert_eq!(h.commands(b), ["331"]);
    h.send(b, "TOPIC #t :mine");
    assert_eq!(h.commands(b), ["482"]);
    h.send(a, "TOPIC #t :Welcome all");
    assert_eq!(h.lines(a), [":alice!alice@stxchat TOPIC #t :Welcome all"]);
    assert_eq!(h.lines(b), [":alice!alice@stxchat TOPIC #t :Welcome all"]);
    h.send(b, "TOPIC #t");
    assert_eq!(h.commands(b), ["332", "333"]);
    h.send(a, "MODE #t -t");
    assert_eq!(h.commands(b), ["MODE"]);
    h.send(b, "TOPIC #t :bob's");
    assert_eq!(h.commands(a), ["MODE", "TOPIC"]);
    let c = h.register("carol");
    h.send(c, "JOIN #t");
    let cmds = h.commands(c);
    assert_eq!(cmds, ["JOIN", "332", "333", "353", "366"]);
    h.send(c, "TOPIC #nope");
    h.send(c, "TOPIC #nope :x");
    assert_eq!(h.commands(c), ["403", "403"]);
}

#[test]
fn mode_queries_and_changes() {
    let mut h = Hub::new();
    let a = h.register("alice");
    let b = h.register("bob");
    h.send(a, "JOIN #m");
    h.send(b, "JOIN #m");
    h.lines(a);
    h.lines(b);
    h.send(b, "MODE #m");
    assert_eq!(h.commands(b), ["324", "329"]);
    h.send(b, "MODE #m +o bob");
    assert_eq!(h.commands(b), ["482"]);
    h.send(a, "MODE #m +o bob");
    assert_eq!(h.lines(b), [":alice!alice@stxchat MODE #m +o bob"]);
    h.send(a, "MODE #m +o ghost");
    h.send(a, "MODE #m +x");
    h.send(a, "MODE #m b");
    h.send(a, "MODE alice");
    h.send(a, "MODE bob +i");
    assert_eq!(h.commands(a), ["MODE", "401", "472", "368", "221", "502"]);
    h.send(a, "MODE alice +i");
    assert_eq!(h.lines(a), [":alice!alice@stxchat MODE alice :+i"]);
}

#[test]
fn kick_by_channel_and_server_operators() {
    let mut h = Hub::new();
    let a = h.register("alice");
    let b = h.register("bob");
    let n = h.native("nat");
    h.send(a, "JOIN #k");
    h.send(b, "JOIN #k");
    h.native_send(n, ClientMessage::Join { room: "k" });
    h.lines(a);
    h.lines(b);
    h.frames(n);
    h.send(b, "KICK #k nat");
    assert_eq!(h.commands(b), ["482"]);
    h.send(a, "KICK #k nat :behave");
    assert_eq!(h.lines(b), [":alice!alice@stxchat KICK #k nat :behave"]);
    let f = h.frames(n);
    assert!(f[0].contains("Left") && f[0].contains("reason: 6"), "{f:?}");
    assert!(
        h.e.session(n)
            .is_some_and(|s| s.phase() == crate::core::Phase::Registered),
        "still connected"
    );
    h.send(a, "KICK #k ghost");
    h.send(a, "KICK #nope bob");
    assert_eq!(h.commands(a), ["KICK", "441", "403"]);
    let c = h.register("carol");
    h.send(c, "OPER carol wrong");
    assert_eq!(h.commands(c), ["464"]);
    h.send(c, "OPER carol sesame");
    assert_eq!(h.commands(c), ["381"]);
    h.send(c, "KICK #k bob");
    assert_eq!(h.lines(b), [":carol!carol@stxchat KICK #k bob :carol"]);
}

#[test]
fn away_whois_shows_it() {
    let mut h = Hub::new();
    let a = h.register("alice");
    let b = h.register("bob");
    h.send(a, "AWAY :lunch");
    assert_eq!(h.commands(a), ["306"]);
    h.send(b, "WHOIS alice");
    let l = h.lines(b);
    assert!(
        l.iter().any(|l| l.ends_with(" 301 bob alice lunch")),
        "{l:?}"
    );
    h.send(a, "AWAY");
    assert_eq!(h.commands(a), ["305"]);
}

#[test]
fn quit_sends_error_and_others_see_one_quit_with_reason() {
    let mut h = Hub::new();
    let a = h.register("alice");
    let b = h.register("bob");
    let n = h.native("nat");
    h.send(a, "JOIN #x,#y");
    h.send(b, "JOIN #x,#y");
    h.native_send(n, ClientMessage::Join { room: "x" });
    h.lines(a);
    h.lines(b);
    h.frames(n);
    h.send(a, "QUIT :gone fishing");
    assert_eq!(h.lines(a), ["ERROR :Closing Link: Quit: gone fishing"]);
    assert!(h.closed(a));
    assert_eq!(
        h.lines(b),
        [":alice!alice@stxchat QUIT :Quit: gone fishing"],
        "once, not per channel"
    );
    let f = h.frames(n);
    assert!(f[0].contains("Left") && f[0].contains("reason: 1"));
    h.native_send(n, ClientMessage::Bye);
    assert_eq!(h.lines(b), [":nat!nat@stxchat QUIT :Quit"]);
}

#[test]
fn nick_change_reaches_irc_as_nick_and_natives_as_leave_and_join() {
    let mut h = Hub::new();
    let a = h.register("alice");
    let b = h.register("bob");
    let n = h.native("nat");
    h.send(a, "JOIN #x,#y");
    h.send(b, "JOIN #x,#y");
    h.native_send(n, ClientMessage::Join { room: "x" });
    h.lines(a);
    h.lines(b);
    h.frames(n);
    h.send(b, "NICK alice");
    assert_eq!(h.commands(b), ["433"]);
    h.send(a, "NICK Alice");
    assert_eq!(h.lines(a), [":alice!alice@stxchat NICK :Alice"]);
    assert_eq!(h.lines(b), [":alice!alice@stxchat NICK :Alice"], "once");
    let f = h.frames(n);
    assert!(
        f[0].contains("Left") && f[1].contains("Joined") && f[1].contains("Alice"),
        "{f:?}"
    );
    h.send(a, "NICK Alice");
    assert!(h.lines(a).is_empty() && h.lines(b).is_empty());
    h.send(a, "NICK ally");
    h.lines(a);
    let c = h.connect();
    h.send(c, "NICK alice");
    h.send(c, "USER c 0 * :C");
    assert_eq!(h.commands(c)[0], "001", "the old nick is free");
}

#[test]
fn long_native_text_is_split_at_whitespace_within_512_bytes() {
    let mut h = Hub::new();
    let a = h.register("alice");
    let n = h.native("nat");
    h.send(a, "JOIN #r");
    h.native_send(n, ClientMessage::Join { room: "r" });
    h.lines(a);
    let words: Vec<String> = (0..600).map(|i| format!("w{i}")).collect();
    let text = format!("{}\nsecond line é😃", words.join(" "));
    assert!(text.len() < 4000);
    h.native_send(
        n,
        ClientMessage::Say {
            room: "r",
            text: &text,
        },
    );
    let l = h.lines(a);
    assert!(l.len() >= 8, "{}", l.len());
    let prefix = ":nat!nat@stxchat PRIVMSG #r :";
    let mut rebuilt = String::new();
    for line in &l[..l.len() - 1] {
        assert!(line.len() + 2 <= 512, "{}", line.len());
        let body = line.strip_prefix(prefix).unwrap();
        assert!(
            body.ends_with(' ') || body == l[l.len() - 2].strip_prefix(prefix).unwrap(),
            "cut at a space: {body:?}"
        );
        rebuilt.push_str(body);
    }
    assert_eq!(rebuilt, words.join(" "));
    assert_eq!(l.last().unwrap(), &format!("{prefix}second line é😃"));
}

#[test]
fn irc_input_capped_at_512_bytes_with_417() {
    let mut h = Hub::new();
    let a = h.register("alice");
    let b = h.register("bob");
    h.send(a, &format!("PRIVMSG bob :{}", "x".repeat(600)));
    assert_eq!(h.commands(a), ["417"]);
    // Fits as input, but not relayed with alice's full source: 417 too.
    let line = format!("PRIVMSG bob :{}", "y".repeat(490));
    assert!(line.len() + 2 <= 512);
    h.send(a, &line);
    assert_eq!(h.commands(a), ["417"]);
    assert!(h.lines(b).is_empty());
    h.send(a, &format!("PRIVMSG bob :{}", "z".repeat(400)));
    let l = h.lines(b);
    assert_eq!(l.len(), 1);
    h.send_raw(a, b"PRIVMSG bob :\xff\xfe\r\n");
    assert_eq!(
        h.lines(a),
        [":irc.test FAIL PRIVMSG INVALID_UTF8 :Message rejected: it is not UTF-8"]
    );
    // A line that never ends, then garbage: errors, no panic, still served.
    for _ in 0..20 {
        h.send_raw(a, &[0xAB; 1000]);
    }
    h.send_raw(a, b"\r\n\x00\x01\x02 binary\r\nPING :alive\r\n");
    let c = h.commands(a);
    assert_eq!(c.first().map(String::as_str), Some("417"));
    assert_eq!(c.last().map(String::as_str), Some("PONG"));
}

#[test]
fn history_on_join_tagged_with_server_time_and_batch_else_not_shown() {
    let mut h = Hub::new();
    let n = h.native("nat");
    h.native_send(n, ClientMessage::Join { room: "h" });
    h.native_send(
        n,
        ClientMessage::Say {
            room: "h",
            text: "old news",
        },
    );
    let plain = h.register("plain");
    h.send(plain, "JOIN #h");
    let c = h.commands(plain);
    assert_eq!(
        c,
        ["JOIN", "353", "366"],
        "old messages are not shown as new"
    );
    let t = h.connect();
    h.send(t, "CAP LS 302");
    h.send(t, "CAP REQ :server-time batch");
    h.send(t, "NICK timed");
    h.send(t, "USER t 0 * :T");
    h.send(t, "CAP END");
    h.lines(t);
    h.send(t, "JOIN #h");
    let l = h.lines(t);
    let c: Vec<&str> = l.iter().map(|l| command_of(l)).collect();
    assert_eq!(
        c,
        ["JOIN", "353", "366", "BATCH", "PRIVMSG", "BATCH"],
        "{l:?}"
    );
    assert!(l[3].contains("BATCH +h") && l[3].ends_with("chathistory #h"));
    assert!(
        l[4].starts_with("@batch=h") && l[4].contains(";time=2023-11-14T22:13:20.000Z "),
        "{}",
        l[4]
    );
    assert!(l[4].ends_with(":nat!nat@stxchat PRIVMSG #h :old news"));
    h.native_send(
        n,
        ClientMessage::Say {
            room: "h",
            text: "live",
        },
    );
    assert_eq!(
        h.lines(t),
        ["@time=2023-11-14T22:13:20.000Z :nat!nat@stxchat PRIVMSG #h :live"]
    );
}

#[test]
fn echo_message_returns_own_messages() {
    let mut h = Hub::new();
    let a = h.connect();
    h.send(a, "CAP REQ echo-message");
    h.send(a, "NICK alice");
    h.send(a, "USER a 0 * :A");
    h.send(a, "CAP END");
    h.send(a, "JOIN #e");
    h.lines(a);
    h.send(a, "PRIVMSG #e :me too");
    assert_eq!(h.lines(a), [":alice!alice@stxchat PRIVMSG #e :me too"]);
}

#[test]
fn the_server_pings_idle_clients_and_closes_silent_ones() {
    let mut h = Hub::with(|c| c.keepalive_secs = 10);
    let a = h.register("alice");
    h.now.mono_ms += 10_000;
    h.e.tick(h.now);
    assert_eq!(h.lines(a), ["PING irc.test"]);
    h.send(a, "PONG irc.test");
    h.now.mono_ms += 9_000;
    h.e.tick(h.now);
    assert!(h.lines(a).is_empty(), "the PONG reset the clock");
    h.now.mono_ms += 1_000;
    h.e.tick(h.now);
    assert_eq!(h.lines(a), ["PING irc.test"]);
    h.now.mono_ms += 5_000;
    h.e.tick(h.now);
    assert_eq!(h.lines(a), ["ERROR :Closing Link: keepalive timeout"]);
    assert!(h.closed(a));
}

#[test]
fn handshake_timeout_and_rate_limit_hold_for_irc() {
    let mut h = Hub::with(|c| {
        c.handshake_timeout_ms = 1000;
        c.rate = Some(crate::core::RateLimit {
            per_sec: 1.0,
            burst: 1,
        });
    });
    let a = h.connect();
    h.now.mono_ms += 1_500;
    h.e.tick(h.now);
    assert_eq!(h.lines(a), ["ERROR :Closing Link: handshake timeout"]);
    let b = h.register("bob");
    let c = h.register("carol");
    h.send(b, "PRIVMSG carol :one");
    h.send(b, "PRIVMSG carol :two");
    assert_eq!(h.lines(c).len(), 1);
    let l = h.lines(b);
    assert!(
        l[0].contains("NOTICE bob :Message to carol dropped"),
        "{l:?}"
    );
}

#[test]
fn native_names_irc_cannot_spell_are_escaped_both_ways() {
    let mut h = Hub::new();
    let n = h.native("x!y");
    h.native_send(n, ClientMessage::Join { room: "a,b" });
    let a = h.register("alice");
    h.send(a, "JOIN #a\\2cb");
    let l = h.lines(a);
    assert!(l[1].contains("#a\\2cb") && l[1].contains("x\\21y"), "{l:?}");
    h.send(a, "PRIVMSG x\\21y :hi");
    assert!(
        h.frames(n)
            .iter()
            .any(|f| f.contains("Private") && f.contains("to: \"x!y\""))
    );
}

#[test]
fn chat_port_rules_hold_gateway_frames_are_unknown_there() {
    let mut h = Hub::new();
    let n = h.native("nat");
    let mut f = Vec::new();
    encode_frame(&mut f, &[crate::core::gateway::wire::req::LIST]).unwrap();
    h.e.on_input(n, &f, h.now);
    let fr = h.frames(n);
    assert!(fr[0].contains("code: 3"), "unknown_type: {fr:?}");
    let p = h.e.accept(peer(), (), h.now);
    h.e.on_input(p, &f, h.now);
    assert!(
        h.frames(p)[0].contains("code: 4"),
        "not_registered before WELCOME"
    );
}

mod quiet;
