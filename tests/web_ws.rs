//! Chat and admin over WebSocket, over real sockets: the same engine and
//! limits as the TCP port, frames split across messages or several in one,
//! and every refused WebSocket input with its close code.

mod common;
mod web_support;

use std::io::Write;

use common::{Client, Msg, joined, left};
use stxchat::admin::proto::{AdminRequest, AdminResponse};
use stxchat::codec::{ClientMessage, ErrorCode};
use web_support::{
    WsClient, binary, chat_of, close_code, masked, raw_upgrade, server_frames, start_web,
};

fn say<'a>(room: &'a str, text: &'a str) -> ClientMessage<'a> {
    ClientMessage::Say { room, text }
}

fn text_of(m: &Msg) -> Option<(&str, &str)> {
    match m {
        Msg::Message { from, text, .. } => Some((from, text)),
        _ => None,
    }
}

#[test]
fn browser_and_tcp_clients_share_rooms() {
    let s = start_web(|_| {});
    let (mut tcp, _) = Client::register(s.addr, "tcp");
    let (mut web, got) = WsClient::register(s.web, "web");
    assert!(matches!(&got[0], Msg::Welcome { nick, .. } if nick == "web"));
    assert!(got.contains(&joined("lobby", "web")));
    assert_eq!(tcp.recv(), joined("lobby", "web"));
    web.send(say("lobby", "hello from the browser"));
    assert_eq!(
        text_of(&web.recv()),
        Some(("web", "hello from the browser"))
    );
    assert_eq!(
        text_of(&tcp.recv()),
        Some(("web", "hello from the browser"))
    );
    tcp.say("lobby", "hello from the terminal");
    assert_eq!(
        text_of(&tcp.recv()),
        Some(("tcp", "hello from the terminal"))
    );
    assert_eq!(
        text_of(&web.recv()),
        Some(("tcp", "hello from the terminal"))
    );
    web.send(ClientMessage::Whisper {
        to: "tcp",
        text: "psst",
    });
    assert!(
        matches!(tcp.recv(), Msg::Private { from, text, .. } if from == "web" && text == "psst")
    );
    // Leaving over WebSocket: a close frame is a quit.
    web.ws
        .close(Some(tungstenite::protocol::CloseFrame {
            code: tungstenite::protocol::frame::coding::CloseCode::Normal,
            reason: "bye".into(),
        }))
        .unwrap();
    let (_, code) = web.until_close();
    assert_eq!(code, 1000, "the server echoes the close");
    assert_eq!(tcp.recv(), left("lobby", "web", 1));
}

#[test]
fn frames_split_across_messages_or_packed_in_one_both_work() {
    let s = start_web(|_| {});
    let (mut watcher, _) = Client::register(s.addr, "watcher");
    let mut web = WsClient::connect(s.web, "/ws");
    let mut stream = common::encode(common::hello("split"));
    stream.extend(common::encode(say("lobby", "one")));
    stream.extend(common::encode(say("lobby", "two")));
    stream.extend(common::encode(ClientMessage::Ping { token: 7 }));
    // Byte by byte, one WebSocket message each.
    for b in &stream {
        web.send_bytes(&[*b]);
    }
    let mut got = Vec::new();
    loop {
        match web.recv() {
            Msg::Pong(7) => break,
            m => got.push(m),
        }
    }
    let texts: Vec<_> = got.iter().filter_map(text_of).collect();
    assert_eq!(texts, [("split", "one"), ("split", "two")]);
    // Everything in one message.
    let mut packed = common::encode(say("lobby", "three"));
    packed.extend(common::encode(say("lobby", "four")));
    packed.extend(common::encode(ClientMessage::Ping { token: 8 }));
    web.send_bytes(&packed);
    let got = web.sync();
    let texts: Vec<_> = got.iter().filter_map(text_of).collect();
    assert_eq!(texts, [("split", "three"), ("split", "four")]);
    let seen: Vec<_> = watcher
        .sync()
        .iter()
        .filter_map(|m| text_of(m).map(|(_, t)| t.to_string()))
        .collect();
    assert_eq!(seen, ["one", "two", "three", "four"]);
}

#[test]
fn the_engines_limits_and_errors_are_the_same() {
    let s = start_web(|cfg| cfg.core.max_payload = 512);
    // LEN over max_payload: ERROR bad_frame, then a normal close.
    let (mut web, _) = WsClient::register(s.web, "big");
    let mut frame = vec![0x02, 0x02, 0x01];
    frame.extend(vec![0u8; 0x201 + 5]);
    web.send_bytes(&frame);
    let (got, code) = web.until_close();
    assert!(got.last().unwrap().is_error(ErrorCode::BadFrame), "{got:?}");
    assert_eq!(code, 1000);
    // Garbage: ERROR bad_frame.
    let mut web = WsClient::connect(s.web, "/ws");
    web.send_bytes(b"not a frame");
    let (got, _) = web.until_close();
    assert_eq!(got, [Msg::Error(ErrorCode::BadFrame as u16)]);
    // Anything but HELLO first: not_registered.
    let mut web = WsClient::connect(s.web, "/ws");
    web.send(ClientMessage::Join { room: "x" });
    let (got, _) = web.until_close();
    assert_eq!(got, [Msg::Error(ErrorCode::NotRegistered as u16)]);
}

#[test]
fn the_handshake_timeout_and_connection_limit_apply() {
    let s = start_web(|cfg| {
        cfg.core.handshake_timeout_ms = 500;
        // The timed-out one may still count while it closes.
        cfg.core.max_connections = 3;
    });
    let mut quiet = WsClient::connect(s.web, "/ws");
    let (got, code) = quiet.until_close();
    assert_eq!(got, [Msg::Error(ErrorCode::Timeout as u16)]);
    assert_eq!(code, 1000);
    let (mut a, _) = WsClient::register(s.web, "a");
    let (_b, _) = Client::register(s.addr, "b");
    // Full: ERROR server_full and close 1013 (try again later).
    let mut c = WsClient::connect(s.web, "/ws");
    let (got, code) = c.until_close();
    assert_eq!(got, [Msg::Error(ErrorCode::ServerFull as u16)]);
    assert_eq!(code, 1013);
    a.sync();
}

/// Sends `bad` after a valid SAY on a registered raw WebSocket; checks the
/// close code, that the SAY before it was delivered, and that a TCP member
/// saw the leaver go with reason `error`.
fn refused_with(bad: &[u8], code: u16) {
    let s = start_web(|_| {});
    let (mut watcher, _) = Client::register(s.addr, "watcher");
    let mut raw = raw_upgrade(s.web, "/ws");
    let mut bytes = binary(&common::encode(common::hello("bad")));
    bytes.extend(binary(&common::encode(say("lobby", "before"))));
    bytes.extend_from_slice(bad);
    bytes.extend(binary(&common::encode(say("lobby", "after"))));
    raw.write_all(&bytes).unwrap();
    let frames = server_frames(&mut raw);
    assert_eq!(close_code(&frames), Some(code), "{bad:02x?}");
    let chat = chat_of(&frames);
    assert!(
        chat.iter().any(|m| text_of(m) == Some(("bad", "before"))),
        "{chat:?}"
    );
    assert!(!chat.iter().any(|m| text_of(m) == Some(("bad", "after"))));
    assert_eq!(watcher.recv(), joined("lobby", "bad"));
    assert_eq!(text_of(&watcher.recv()), Some(("bad", "before")));
    assert_eq!(watcher.recv(), left("lobby", "bad", 4));
    watcher.sync();
}

#[test]
fn text_messages_are_refused_with_1003() {
    refused_with(&masked(0x81, b"hello"), 1003);
}

#[test]
fn fragmented_messages_are_refused_with_1003() {
    let mut frag = masked(0x02, b"part one");
    frag.extend(masked(0x80, b"part two"));
    refused_with(&frag, 1003);
}

#[test]
fn oversized_messages_are_refused_with_1009() {
    let big = vec![0u8; stxchat::web::ws::MAX_MESSAGE as usize + 1];
    refused_with(&binary(&big), 1009);
}

#[test]
fn protocol_violations_are_refused_with_1002() {
    refused_with(&[0x82, 0x03, 1, 2, 3], 1002); // unmasked
    refused_with(&masked(0xc2, b"x"), 1002); // reserved bit
    refused_with(&masked(0x8b, b""), 1002); // reserved opcode
    refused_with(&masked(0x88, &1005u16.to_be_bytes()), 1002); // bad close code
    refused_with(&masked(0x88, &[3]), 1002); // close of one byte
    refused_with(&masked(0x89, &[0; 126]), 1002); // control frame too long
}

#[test]
fn a_close_reason_that_is_not_utf8_is_refused_with_1007() {
    refused_with(&masked(0x88, &[0x03, 0xe8, 0xc3, 0x28]), 1007);
}

#[test]
fn pings_get_pongs() {
    let s = start_web(|_| {});
    let mut raw = raw_upgrade(s.web, "/ws");
    let mut bytes = masked(0x89, b"are you there");
    bytes.extend(masked(0x88, &1000u16.to_be_bytes()));
    raw.write_all(&bytes).unwrap();
    let frames = server_frames(&mut raw);
    assert_eq!(frames[0], (0x0a, b"are you there".to_vec()));
    assert_eq!(close_code(&frames), Some(1000));
}

#[test]
fn the_admin_channel_works_over_websocket_and_kicks_tcp_clients() {
    let s = start_web(|_| {});
    let (mut victim, _) = Client::register(s.addr, "victim");
    let mut admin = WsClient::connect(s.web, "/admin/ws");
    let send = |a: &mut WsClient, r: AdminRequest<'_>| {
        let mut b = Vec::new();
        r.encode(&mut b).unwrap();
        a.send_bytes(&b);
    };
    send(
        &mut admin,
        AdminRequest::Auth {
            version: 1,
            token: "",
        },
    );
    send(
        &mut admin,
        AdminRequest::Kick {
            nick: "victim",
            reason: "testing",
        },
    );
    let answers = admin_answers(&mut admin, 2);
    assert!(
        matches!(answers[0], AdminResponse::Ok { .. }),
        "{answers:?}"
    );
    assert!(
        matches!(&answers[1], AdminResponse::Kicked { found: true, .. }),
        "{answers:?}"
    );
    let rest = victim.until_eof();
    assert!(rest.last().unwrap().is_error(ErrorCode::Kicked));
}

#[test]
fn an_admin_token_is_required_over_websocket_too() {
    let s = start_web(|cfg| cfg.admin.token = Some("sesame".into()));
    let mut admin = WsClient::connect(s.web, "/admin/ws");
    let mut b = Vec::new();
    AdminRequest::Counters.encode(&mut b).unwrap();
    admin.send_bytes(&b);
    let answers = admin_answers(&mut admin, 1);
    assert!(
        matches!(answers[0], AdminResponse::Error { code: 4, .. }),
        "{answers:?}"
    );
}

/// The next `n` admin answers (pushed EVENTs skipped).
fn admin_answers(a: &mut WsClient, n: usize) -> Vec<AdminResponse> {
    let mut dec = stxchat::codec::FrameDecoder::new(65535);
    let mut out = Vec::new();
    while out.len() < n {
        let msg = match a.ws.read().expect("an admin answer") {
            tungstenite::Message::Binary(b) => b,
            tungstenite::Message::Close(_) => break,
            _ => continue,
        };
        let mut input: &[u8] = &msg;
        loop {
            let (used, ev) = dec.decode(input);
            let done = ev.is_none();
            if let Some(stxchat::codec::Event::Frame(f)) = ev {
                let r = AdminResponse::decode(f).expect("an admin answer");
                if !matches!(r, AdminResponse::Event { .. }) {
                    out.push(r);
                }
            }
            input = &input[used..];
            if done {
                break;
            }
        }
    }
    out
}
