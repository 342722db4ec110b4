//! The web listener's HTTP side over real sockets: pages, statuses for bad
//! requests, the header limits, the handshake timeout, and that none of it
//! stalls the chat port.

mod common;
mod web_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{Client, WAIT};
use web_support::{get, http, start_web, status_of, upgrade_request};

fn body(answer: &str) -> &str {
    answer.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

fn header<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    answer
        .split("\r\n\r\n")
        .next()?
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
}

#[test]
fn pages_and_scripts_are_served_from_the_binary() {
    let s = start_web(|_| {});
    for (path, kind, marker) in [
        ("/", "text/html", "Connect to a chat server"),
        ("/admin", "text/html", "operator"),
        ("/static/stx.js", "text/javascript", "export function crc32"),
        ("/static/chat.js", "text/javascript", "reconnect"),
        ("/static/admin.js", "text/javascript", "SUBSCRIBE"),
        ("/static/style.css", "text/css", ".tabs"),
        ("/favicon.svg", "image/svg+xml", "<svg"),
    ] {
        let (status, answer) = get(s.web, path);
        assert_eq!(status, 200, "{path}");
        assert!(
            header(&answer, "Content-Type").unwrap().starts_with(kind),
            "{path}"
        );
        let len: usize = header(&answer, "Content-Length").unwrap().parse().unwrap();
        assert_eq!(body(&answer).len(), len, "{path}");
        assert!(body(&answer).contains(marker), "{path}");
        assert!(header(&answer, "Content-Security-Policy").is_some());
    }
    // HEAD: the same headers, no body.
    let (status, answer) = http(
        s.web,
        format!("HEAD / HTTP/1.1\r\nHost: {}\r\n\r\n", s.web).as_bytes(),
    );
    assert_eq!(status, 200);
    assert!(header(&answer, "Content-Length").is_some());
    assert_eq!(body(&answer), "");
}

#[test]
fn bad_requests_get_clear_statuses() {
    let s = start_web(|_| {});
    let w = s.web;
    assert_eq!(get(w, "/nope").0, 404);
    let (status, answer) = http(
        w,
        format!("POST / HTTP/1.1\r\nHost: {w}\r\nContent-Length: 0\r\n\r\n").as_bytes(),
    );
    assert_eq!(status, 405);
    assert_eq!(header(&answer, "Allow"), Some("GET, HEAD"));
    assert_eq!(
        http(
            w,
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n"
        )
        .0,
        400
    );
    assert_eq!(
        http(w, b"GET / HTTP/1.1\r\n\r\n").0,
        400,
        "HTTP/1.1 without Host"
    );
    assert_eq!(http(w, b"hello there\r\n\r\n").0, 400);
    // Header limits: 8 KiB of head, 32 header lines.
    let big = format!(
        "GET / HTTP/1.1\r\nHost: {w}\r\nX-Big: {}\r\n\r\n",
        "a".repeat(9000)
    );
    assert_eq!(http(w, big.as_bytes()).0, 431);
    let many: String = (0..40).map(|i| format!("X-H{i}: v\r\n")).collect();
    assert_eq!(
        http(
            w,
            format!("GET / HTTP/1.1\r\nHost: {w}\r\n{many}\r\n").as_bytes()
        )
        .0,
        431
    );
    // Upgrades: to an unknown path, without the upgrade headers, a wrong version.
    assert_eq!(http(w, upgrade_request(w, "/chat", "").as_bytes()).0, 404);
    assert_eq!(get(w, "/ws").0, 426);
    let v8 = upgrade_request(w, "/ws", "").replace("Version: 13", "Version: 8");
    let (status, answer) = http(w, v8.as_bytes());
    assert_eq!(status, 426);
    assert_eq!(header(&answer, "Sec-WebSocket-Version"), Some("13"));
    let nokey = upgrade_request(w, "/ws", "").replace("dGhlIHNhbXBsZSBub25jZQ==", "short");
    assert_eq!(http(w, nokey.as_bytes()).0, 400);
    // The chat port was never disturbed.
    let (mut c, _) = Client::register(s.addr, "still-here");
    c.sync();
}

#[test]
fn admin_upgrades_follow_the_admin_rules() {
    let off = start_web(|cfg| cfg.admin.bind = None);
    assert_eq!(
        http(
            off.web,
            upgrade_request(off.web, "/admin/ws", "").as_bytes()
        )
        .0,
        404
    );
    let s = start_web(|_| {});
    let evil = upgrade_request(s.web, "/admin/ws", "Origin: http://evil.example\r\n");
    assert_eq!(http(s.web, evil.as_bytes()).0, 403);
    let same = upgrade_request(s.web, "/admin/ws", &format!("Origin: http://{}\r\n", s.web));
    assert_eq!(http_status_only(s.web, &same), 101);
}

/// The status of an answer, without waiting for the connection to end.
fn http_status_only(web: std::net::SocketAddr, request: &str) -> u16 {
    let mut s = TcpStream::connect(web).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && s.read(&mut b).unwrap_or(0) == 1 {
        head.push(b[0]);
    }
    status_of(&String::from_utf8_lossy(&head))
}

#[test]
fn a_slow_request_is_cut_at_the_handshake_timeout_without_stalling_others() {
    let s = start_web(|cfg| cfg.core.handshake_timeout_ms = 600);
    // Half a request, then nothing: 408 once the handshake timeout is over.
    let mut slow = TcpStream::connect(s.web).unwrap();
    slow.set_read_timeout(Some(WAIT)).unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    // Meanwhile pages and chat are served.
    assert_eq!(get(s.web, "/").0, 200);
    let (mut c, _) = Client::register(s.addr, "busy");
    c.sync();
    let mut answer = String::new();
    let _ = slow.read_to_string(&mut answer);
    assert_eq!(status_of(&answer), 408, "{answer}");
    // A trickle of bytes does not extend it either.
    let mut trickle = TcpStream::connect(s.web).unwrap();
    trickle.set_read_timeout(Some(WAIT)).unwrap();
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    for b in b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: yes\r\n"
        .iter()
        .cycle()
    {
        if trickle.write_all(&[*b]).is_err() || started.elapsed() > WAIT {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
        trickle.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 512];
        if let Ok(n) = trickle.read(&mut buf)
            && n > 0
        {
            answer.extend_from_slice(&buf[..n]);
            break;
        }
        trickle.set_nonblocking(false).unwrap();
    }
    assert!(
        String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 408 "),
        "a trickling request is cut at the timeout"
    );
}

#[test]
fn too_many_connections_in_their_http_phase_get_503() {
    let s = start_web(|_| {});
    let max = stxchat::web::listener::MAX_HTTP_CONNECTIONS;
    let mut idle: Vec<TcpStream> = Vec::new();
    for _ in 0..max {
        idle.push(TcpStream::connect(s.web).unwrap());
    }
    // Every one of them is accepted before the next is refused.
    web_support::wait_for("the extra connection to be refused", || {
        let (status, _) = get(s.web, "/");
        (status == 503).then_some(())
    });
    drop(idle);
    web_support::wait_for("pages to be served again", || {
        (get(s.web, "/").0 == 200).then_some(())
    });
}
