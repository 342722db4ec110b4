//! Round trips and bounds of the gateway frames.

use super::*;
use crate::codec::{Event, FrameDecoder};

fn payload_of(frame: &[u8]) -> Vec<u8> {
    let mut d = FrameDecoder::new(65535);
    match d.decode(frame).1 {
        Some(Event::Frame(p)) => p.to_vec(),
        other => panic!("no frame: {other:?}"),
    }
}

#[test]
fn every_request_round_trips() {
    let reqs = [
        Request::Ctx {
            ctx: b"J#a",
            inner: &[2, 1, b'a'],
        },
        Request::Ctx {
            ctx: b"",
            inner: &[],
        },
        Request::Lines(b":s 421 n X :Unknown command\r\n"),
        Request::Nick {
            nick: "n",
            token: "t",
            user: "u",
            realname: "r r",
        },
        Request::Topic {
            room: "a",
            text: None,
        },
        Request::Topic {
            room: "a",
            text: Some(""),
        },
        Request::Away("gone"),
        Request::Whois("x"),
        Request::List,
        Request::Oper {
            name: "o",
            password: "p",
        },
        Request::Kick {
            room: "a",
            nick: "b",
            reason: "c",
        },
        Request::Lusers,
        Request::ChanInfo("a"),
        Request::Who {
            mask: "a*",
            room: false,
        },
        Request::Mode {
            room: "a",
            plus: true,
            mode: b'o',
            arg: "b",
        },
        Request::Notice {
            target: "a",
            to_room: true,
            text: "hi",
        },
        Request::Quit("bye"),
        Request::Noop,
        Request::UserMode { invisible: true },
        Request::Part {
            room: "a",
            reason: "bye",
        },
    ];
    for r in reqs {
        let mut out = Vec::new();
        r.encode(&mut out, 4096).unwrap();
        let p = payload_of(&out);
        assert!((FIRST_REQUEST..=LAST_REQUEST).contains(&p[0]));
        assert_eq!(Request::decode(&p).unwrap(), r);
    }
}

#[test]
fn every_reply_round_trips() {
    let u = UserInfo {
        nick: "n",
        user: "u",
        host: "h",
        realname: "r",
        flags: who_flags::AWAY,
    };
    let t = TopicInfo {
        text: "t",
        setter: "s",
        time_ms: 7,
    };
    let reps = [
        Reply::Ctx {
            registered: true,
            ctx: b"P#a",
        },
        Reply::Lines(b"x\r\n"),
        Reply::NickRefused {
            reason: nick_refused::IN_USE,
            nick: "n",
        },
        Reply::NickChanged { old: "a", new: "b" },
        Reply::Topic {
            room: "a",
            changed: true,
            topic: t,
        },
        Reply::Refused {
            what: refused::NOT_OPERATOR,
            room: "a",
            nick: "",
        },
        Reply::Away(true),
        Reply::Whois {
            user: u,
            away: "",
            signon_ms: 1,
            idle_ms: 2,
            rooms: b"\x01a",
        },
        Reply::ListEntry {
            room: "a",
            members: 3,
            topic: "",
        },
        Reply::ListEnd,
        Reply::Oper(false),
        Reply::Kicked {
            room: "a",
            by: "b",
            nick: "c",
            reason: "d",
        },
        Reply::Lusers {
            users: 1,
            unknown: 2,
            rooms: 3,
        },
        Reply::WhoEntry { room: "a", user: u },
        Reply::WhoEnd("a"),
        Reply::Notice {
            from: "a",
            to: "b",
            to_room: false,
            text: "c",
        },
        Reply::QuitNote {
            nick: "a",
            reason: "b",
        },
        Reply::Ping,
        Reply::RoomInfo {
            room: "a",
            exists: true,
            modes: room_modes::TOPIC_LOCK,
            created_ms: 5,
            status: "@f +g",
            topic: t,
        },
        Reply::Parted {
            room: "a",
            nick: "b",
            reason: "",
        },
        Reply::Mode {
            room: "a",
            by: "b",
            plus: false,
            mode: b't',
            arg: "",
        },
    ];
    for r in reps {
        let mut out = Vec::new();
        r.encode(&mut out, 4096).unwrap();
        let p = payload_of(&out);
        assert!(Reply::is_reply_type(p[0]));
        assert_eq!(Reply::decode(&p).unwrap(), r);
    }
}

#[test]
fn truncated_requests_are_errors_not_panics() {
    for ty in FIRST_REQUEST..=LAST_REQUEST {
        for len in 0..4 {
            let mut p = vec![ty];
            p.extend(std::iter::repeat_n(0xFF, len));
            let _ = Request::decode(&p);
        }
    }
    assert!(Request::decode(&[req::NICK, 5, b'a']).is_err());
}
