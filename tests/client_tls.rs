//! `stxchat client --tls` against a server with a certificate made in the
//! test: chat end to end over TLS (the name taken from HOST:PORT, or given
//! with --server-name), and refusals with a clear message and exit code 1
//! for a certificate from a CA the client does not trust, for a certificate
//! of another name, and for a port that does not speak TLS.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use common::*;
use stxchat::server::config::TlsListen;
use stxchat::server::{Server, ShutdownHandle};

/// A scratch directory with certificates, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new() -> Dir {
        let d = std::env::temp_dir().join(format!(
            "stxchat-client-tls-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }

    /// A self-signed certificate for `name`: (cert path, key path).
    fn cert(&self, tag: &str, name: &str) -> (PathBuf, PathBuf) {
        let now = time::OffsetDateTime::now_utc();
        let (cert, key) = stxchat::tls::cert::self_signed(
            &[name.into()],
            now - time::Duration::days(1),
            now + time::Duration::days(30),
        )
        .unwrap();
        let c = self.0.join(format!("{tag}-cert.pem"));
        let k = self.0.join(format!("{tag}-key.pem"));
        std::fs::write(&c, cert).unwrap();
        std::fs::write(&k, key).unwrap();
        (c, k)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A server with a plain and a TLS listener (certificate for localhost).
struct TlsServer {
    plain: SocketAddr,
    tls: SocketAddr,
    ca: PathBuf,
    handle: ShutdownHandle,
    dir: Dir,
}

impl TlsServer {
    fn start() -> TlsServer {
        let dir = Dir::new();
        let (cert, key) = dir.cert("server", "localhost");
        let mut cfg = config();
        cfg.tls = Some(TlsListen {
            bind: "127.0.0.1:0".parse().unwrap(),
            config: stxchat::tls::server::load_server_config(&cert, &key).unwrap(),
            cert: cert.clone(),
            key,
        });
        let server = Server::bind(cfg).unwrap();
        let s = TlsServer {
            plain: server.local_addr(),
            tls: server.tls_addr().unwrap(),
            ca: cert,
            handle: server.shutdown_handle(),
            dir,
        };
        std::thread::spawn(move || server.run());
        s
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}

/// `stxchat client SERVER --nick NICK --plain --no-reconnect ARGS`.
struct Client {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Client {
    fn start(server: &str, nick: &str, args: &[&str]) -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_stxchat"))
            .args([
                "client",
                server,
                "--nick",
                nick,
                "--plain",
                "--no-reconnect",
            ])
            .args(args)
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Client {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    fn expect(&mut self, line: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l == line => return,
                Ok(l) => self.seen.push(l),
                Err(_) => panic!("no line {line:?}; saw {:#?}", self.seen),
            }
        }
    }

    /// Closes stdin and waits (bounded) for the exit; status and stderr.
    fn finish(mut self) -> (ExitStatus, String) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + WAIT;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(Instant::now() < deadline, "the client did not exit");
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut err = String::new();
        let _ = self.child.stderr.take().unwrap().read_to_string(&mut err);
        (status, err)
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[test]
fn chat_over_tls_end_to_end() {
    let srv = TlsServer::start();
    let ca = srv.ca.to_str().unwrap();
    // The name from HOST:PORT ...
    let mut alice = Client::start(
        &format!("localhost:{}", srv.tls.port()),
        "alice",
        &["--tls", "--ca", ca],
    );
    alice.expect("[lobby] * alice joined");
    // ... or given, with an address that names no host.
    let mut bob = Client::start(
        &srv.tls.to_string(),
        "bob",
        &["--tls", "--ca", ca, "--server-name", "localhost"],
    );
    bob.expect("[lobby] * bob joined");
    alice.expect("[lobby] * bob joined");
    // A plain client in the same room.
    let mut carol = Client::start(&srv.plain.to_string(), "carol", &[]);
    carol.expect("[lobby] * carol joined");
    alice.send("hello over TLS");
    bob.expect("[lobby] <alice> hello over TLS");
    carol.expect("[lobby] <alice> hello over TLS");
    bob.send("and back");
    alice.expect("[lobby] <bob> and back");
    alice.send("/quit");
    let (status, err) = alice.finish();
    assert!(status.success(), "{err}");
    bob.expect("[lobby] * alice left (quit)");
    let (status, err) = bob.finish();
    assert!(status.success(), "{err}");
    drop(carol);
}

fn refused(server: &str, args: &[&str], mentions: &[&str]) {
    let c = Client::start(server, "mallory", args);
    let (status, err) = c.finish();
    assert_eq!(status.code(), Some(1), "{err}");
    for m in mentions {
        assert!(err.contains(m), "{m:?} not in {err:?}");
    }
}

#[test]
fn a_certificate_from_an_untrusted_ca_is_refused() {
    let srv = TlsServer::start();
    let (other, _) = srv.dir.cert("other", "localhost");
    refused(
        &format!("localhost:{}", srv.tls.port()),
        &["--tls", "--ca", other.to_str().unwrap()],
        &[
            "certificate was refused",
            "not signed by a certificate authority this client trusts",
        ],
    );
    // A CA of another name: rustls finds no issuer at all.
    let (stranger, _) = srv.dir.cert("stranger", "ca.example");
    refused(
        &format!("localhost:{}", srv.tls.port()),
        &["--tls", "--ca", stranger.to_str().unwrap()],
        &["not signed by a certificate authority this client trusts"],
    );
}

#[test]
fn a_certificate_for_another_name_is_refused() {
    let srv = TlsServer::start();
    refused(
        &srv.tls.to_string(),
        &[
            "--tls",
            "--ca",
            srv.ca.to_str().unwrap(),
            "--server-name",
            "chat.example.org",
        ],
        &["certificate was refused", "not valid for the server name"],
    );
    // An IP address is a name the certificate must hold too.
    refused(
        &srv.tls.to_string(),
        &["--tls", "--ca", srv.ca.to_str().unwrap()],
        &["certificate was refused", "not valid for the server name"],
    );
}

#[test]
fn tls_to_a_plain_port_fails_clearly() {
    let srv = TlsServer::start();
    refused(
        &format!("localhost:{}", srv.plain.port()),
        &["--tls", "--ca", srv.ca.to_str().unwrap()],
        &["TLS"],
    );
}

#[test]
fn a_ca_file_that_is_not_a_certificate_is_refused_at_start() {
    let srv = TlsServer::start();
    let bad = srv.dir.0.join("bad.pem");
    std::fs::write(&bad, "not a certificate\n").unwrap();
    let c = Client::start(
        &srv.tls.to_string(),
        "mallory",
        &["--tls", "--ca", bad.to_str().unwrap()],
    );
    let (status, err) = c.finish();
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("bad.pem"), "{err}");
}
