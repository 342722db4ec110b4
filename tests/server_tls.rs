//! The TLS listener over real sockets, with a certificate made in the test:
//! chat end to end between a TLS and a plain client, plaintext and garbage
//! on the TLS port refused and counted, a silent or stalled handshake closed
//! by the handshake timeout, an untrusted certificate refused by a client,
//! and bad certificate files stopping the server with exit code 2.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;

use common::*;
use stxchat::codec::{ClientMessage, Event, FrameDecoder, ServerMessage};
use stxchat::server::config::TlsListen;
use stxchat::server::{Server, ShutdownHandle};

/// Files of a fresh self-signed certificate for localhost.
struct Certs {
    dir: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    pem: String,
}

impl Certs {
    fn new(from_days: i64, to_days: i64) -> Certs {
        let dir = std::env::temp_dir().join(format!(
            "stxchat-tls-test-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let now = time::OffsetDateTime::now_utc();
        let (pem, key_pem) = stxchat::tls::cert::self_signed(
            &["localhost".into()],
            now + time::Duration::days(from_days),
            now + time::Duration::days(to_days),
        )
        .unwrap();
        let cert = dir.join("cert.pem");
        let key = dir.join("key.pem");
        std::fs::write(&cert, &pem).unwrap();
        std::fs::write(&key, key_pem).unwrap();
        Certs {
            dir,
            cert,
            key,
            pem,
        }
    }
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A server with a plain and a TLS listener and metrics, on its own thread.
struct TlsServer {
    plain: SocketAddr,
    tls: SocketAddr,
    metrics: SocketAddr,
    handle: ShutdownHandle,
    _certs: Certs,
}

impl TlsServer {
    fn start(handshake_timeout_ms: u64) -> TlsServer {
        let certs = Certs::new(-1, 30);
        let mut cfg = config();
        cfg.core.handshake_timeout_ms = handshake_timeout_ms;
        cfg.admin.metrics_bind = Some("127.0.0.1:0".parse().unwrap());
        cfg.tls = Some(TlsListen {
            bind: "127.0.0.1:0".parse().unwrap(),
            cert: certs.cert.clone(),
            key: certs.key.clone(),
            config: stxchat::tls::server::load_server_config(&certs.cert, &certs.key).unwrap(),
        });
        let server = Server::bind(cfg).unwrap();
        let s = TlsServer {
            plain: server.local_addr(),
            tls: server.tls_addr().unwrap(),
            metrics: server.metrics_addr().unwrap(),
            handle: server.shutdown_handle(),
            _certs: certs,
        };
        std::thread::spawn(move || server.run());
        s
    }

    fn roots(&self) -> Arc<rustls::ClientConfig> {
        stxchat::tls::client::client_config(Some(&self._certs.cert)).unwrap()
    }

    fn counter(&self, name: &str) -> f64 {
        let mut s = TcpStream::connect(self.metrics).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        write!(s, "GET /metrics HTTP/1.0\r\n\r\n").unwrap();
        let mut raw = String::new();
        s.read_to_string(&mut raw).unwrap();
        // `name` may carry one label (`metric{code="timeout"`); every
        // sample also has a `node` label, in any place among its labels.
        let (metric, label) = name.split_once('{').unwrap_or((name, ""));
        raw.lines()
            .find(|l| {
                l.strip_prefix(metric)
                    .is_some_and(|rest| rest.starts_with([' ', '{']) && rest.contains(label))
            })
            .and_then(|l| l.split_whitespace().last())
            .and_then(|v| v.parse().ok())
            // A labelled sample appears only once counted: absent is 0 (the
            // callers wait for a count, so a missing one still fails them).
            .unwrap_or(0.0)
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}

/// A blocking chat client over TLS.
struct TlsClient {
    tls: rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
    dec: FrameDecoder,
    inbox: std::collections::VecDeque<Msg>,
}

impl TlsClient {
    fn connect(addr: SocketAddr, roots: Arc<rustls::ClientConfig>) -> Result<TlsClient, String> {
        let sock = TcpStream::connect(addr).unwrap();
        sock.set_read_timeout(Some(WAIT)).unwrap();
        let name = "localhost".try_into().unwrap();
        let conn = rustls::ClientConnection::new(roots, name).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, sock);
        while tls.conn.is_handshaking() {
            tls.conn
                .complete_io(&mut tls.sock)
                .map_err(|e| e.to_string())?;
        }
        Ok(TlsClient {
            tls,
            dec: FrameDecoder::new(65535),
            inbox: Default::default(),
        })
    }

    fn send(&mut self, m: ClientMessage<'_>) {
        self.tls.write_all(&encode(m)).unwrap();
        self.tls.flush().unwrap();
    }

    fn recv(&mut self) -> Msg {
        let mut buf = [0u8; 4096];
        while self.inbox.is_empty() {
            let n = self.tls.read(&mut buf).expect("read over TLS");
            assert!(n > 0, "EOF over TLS");
            let inbox = &mut self.inbox;
            self.dec.decode_all(&buf[..n], |ev| {
                let Event::Frame(p) = ev else {
                    panic!("bad frame")
                };
                inbox.push_back(Msg::from_wire(ServerMessage::decode(p).unwrap()));
            });
        }
        self.inbox.pop_front().unwrap()
    }

    fn recv_until(&mut self, pred: impl Fn(&Msg) -> bool) -> Msg {
        loop {
            let m = self.recv();
            if pred(&m) {
                return m;
            }
        }
    }
}

#[test]
fn chat_end_to_end_between_tls_and_plain_clients() {
    let srv = TlsServer::start(10_000);
    let mut alice = TlsClient::connect(srv.tls, srv.roots()).unwrap();
    alice.send(hello("alice"));
    assert!(matches!(alice.recv(), Msg::Welcome { .. }));
    alice.recv_until(|m| *m == joined("lobby", "alice"));
    let mut bob = Client::join_as(srv.plain, "bob");
    alice.recv_until(|m| *m == joined("lobby", "bob"));
    bob.say("lobby", "hi over plain");
    alice.recv_until(|m| matches!(m, Msg::Message { text, .. } if text == "hi over plain"));
    alice.send(ClientMessage::Say {
        room: "lobby",
        text: "hi over tls",
    });
    loop {
        if let Msg::Message { text, .. } = bob.recv()
            && text == "hi over tls"
        {
            break;
        }
    }
    // A large burst crosses several TLS records intact.
    let big = "x".repeat(3000);
    for _ in 0..50 {
        bob.say("lobby", &big);
    }
    for _ in 0..50 {
        alice.recv_until(|m| matches!(m, Msg::Message { text, .. } if text.len() == 3000));
    }
}

#[test]
fn plaintext_and_garbage_on_the_tls_port_are_refused_and_counted() {
    let srv = TlsServer::start(10_000);
    let before = srv.counter("stxchat_transport_errors_total");
    let mut plain = TcpStream::connect(srv.tls).unwrap();
    plain.write_all(&encode(hello("sneaky"))).unwrap();
    assert!(closed_by_server(&mut plain));
    let mut garbage = TcpStream::connect(srv.tls).unwrap();
    garbage
        .write_all(&[0x16, 0x03, 0x01, 0xff, 0xff, 1, 2, 3, 4, 5])
        .unwrap();
    garbage.write_all(&[0xAB; 20_000]).unwrap_or(());
    assert!(closed_by_server(&mut garbage));
    wait_until("both counted", || {
        srv.counter("stxchat_transport_errors_total") >= before + 2.0
    });
    // Others are still served, on both ports.
    let mut ok = TlsClient::connect(srv.tls, srv.roots()).unwrap();
    ok.send(hello("carol"));
    assert!(matches!(ok.recv(), Msg::Welcome { .. }));
    Client::join_as(srv.plain, "dave");
}

#[test]
fn a_silent_or_stalled_tls_handshake_is_closed_by_the_handshake_timeout() {
    let srv = TlsServer::start(500);
    let mut silent = TcpStream::connect(srv.tls).unwrap();
    // The first bytes of a ClientHello, and then nothing.
    let mut stalled = TcpStream::connect(srv.tls).unwrap();
    stalled
        .write_all(&[0x16, 0x03, 0x01, 0x00, 0xc8, 0x01])
        .unwrap();
    assert!(closed_by_server(&mut silent));
    assert!(closed_by_server(&mut stalled));
    // The metrics endpoint publishes the loop's counters a moment later.
    wait_until("both timeouts counted", || {
        srv.counter("stxchat_errors_total{code=\"timeout\"") >= 2.0
    });
}

#[test]
fn a_client_refuses_a_certificate_it_does_not_trust() {
    let srv = TlsServer::start(10_000);
    let other = Certs::new(-1, 30);
    let roots = stxchat::tls::client::client_config(Some(&other.cert)).unwrap();
    let e = TlsClient::connect(srv.tls, roots).err().expect("refused");
    assert!(e.contains("certificate"), "{e}");
    assert!(!other.pem.is_empty());
}

#[test]
fn bad_certificate_files_stop_the_server_with_exit_code_2() {
    let good = Certs::new(-1, 30);
    let expired = Certs::new(-30, -1);
    let other = Certs::new(-1, 30);
    let s = |p: &PathBuf| p.to_str().unwrap().to_owned();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![s(&good.cert), "/nonexistent/key.pem".into()],
            "/nonexistent/key.pem",
        ),
        (
            vec!["/nonexistent/cert.pem".into(), s(&good.key)],
            "/nonexistent/cert.pem",
        ),
        (vec![s(&expired.cert), s(&expired.key)], "expired"),
        (vec![s(&good.cert), s(&other.key)], "do not go together"),
        (vec![s(&good.key), s(&good.key)], "no PEM certificate"),
        (vec![s(&good.cert), s(&good.cert)], "no PEM private key"),
    ];
    for (files, word) in cases {
        let (code, err) = run_cli(&[
            "server",
            "--bind",
            "127.0.0.1:0",
            "--admin-bind",
            "off",
            "--tls-bind",
            "127.0.0.1:0",
            "--tls-cert",
            &files[0],
            "--tls-key",
            &files[1],
        ]);
        assert_eq!(code, Some(2), "{files:?}: {err}");
        assert!(err.contains(word), "{files:?}: expected {word:?} in {err}");
    }
    let (code, err) = run_cli(&["server", "--bind", "off", "--admin-bind", "off"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--tls-bind"), "{err}");
    let (code, err) = run_cli(&["server", "--tls-bind", "127.0.0.1:0"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--tls-cert"), "{err}");
}

#[test]
fn a_tls_only_server_serves_tls() {
    let certs = Certs::new(-1, 30);
    let port = free_port();
    let tls_addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_stxchat"))
        .args(["server", "--bind", "off", "--admin-bind", "off"])
        .args(["--tls-bind", &tls_addr.to_string()])
        .args(["--tls-cert", certs.cert.to_str().unwrap()])
        .args(["--tls-key", certs.key.to_str().unwrap()])
        .env_clear()
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the TLS listener", || TcpStream::connect(tls_addr).is_ok());
    let roots = stxchat::tls::client::client_config(Some(&certs.cert)).unwrap();
    let mut c = TlsClient::connect(tls_addr, roots).unwrap();
    c.send(hello("erin"));
    assert!(matches!(c.recv(), Msg::Welcome { .. }));
    let _ = child.kill();
    let _ = child.wait();
}
