//! SIGHUP reload of a running `stxchat server` (a child process): the
//! config file, the users file and the certificate are read again; the live
//! settings change (password, users, certificate for new connections), the
//! others are reported as needing a restart, connected clients stay, and a
//! reload that fails (bad TOML, a bad users line, a bad certificate) keeps
//! the running settings.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};

use common::*;
use stxchat::accounts::{cheap_params, hash_password};
use stxchat::codec::{ClientMessage, ErrorCode, Event, FrameDecoder, ServerMessage};

/// A scratch directory, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new() -> Dir {
        let d = std::env::temp_dir().join(format!(
            "stxchat-reload-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Writes `name` (replacing it whole, as an editor or certbot would).
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        let tmp = self.path(&format!("{name}.tmp"));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, &p).unwrap();
        p
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn users_file(entries: &[(&str, &str)]) -> String {
    let mut s = String::from("# test users\n");
    for (nick, pw) in entries {
        s += &format!("{nick}:{}\n", hash_password(pw, &cheap_params()).unwrap());
    }
    s
}

/// Sends SIGHUP and waits until the log has one more line with `needle`.
fn hup(server: &ChildServer, needle: &str) -> String {
    let before = server.count(needle);
    // SAFETY: kill on our own child's PID.
    unsafe {
        libc::kill(server.pid() as libc::pid_t, libc::SIGHUP);
    }
    wait_until(&format!("a reload logging {needle:?}"), || {
        server.count(needle) > before
    });
    server
        .log()
        .into_iter()
        .filter(|l| l.contains(needle))
        .nth(before)
        .unwrap()
}

/// Connects, sends HELLO; the first frame back.
fn login(addr: SocketAddr, nick: &str, token: &str) -> (Client, Msg) {
    let mut c = Client::connect(addr);
    c.nick = nick.into();
    c.send(ClientMessage::Hello {
        version: 1,
        nick,
        token,
    });
    let first = c.recv();
    (c, first)
}

fn welcomed(addr: SocketAddr, nick: &str, token: &str) -> bool {
    matches!(login(addr, nick, token).1, Msg::Welcome { .. })
}

fn refused(addr: SocketAddr, nick: &str, token: &str) -> bool {
    login(addr, nick, token).1.is_error(ErrorCode::AuthFailed)
}

/// A connected client still chats: its SAY comes back to it.
fn still_chats(c: &mut Client, text: &str) {
    c.say("lobby", text);
    loop {
        if let Msg::Message { text: t, .. } = c.recv()
            && t == text
        {
            return;
        }
    }
}

#[test]
fn reload_changes_the_password_and_adds_and_removes_users() {
    let dir = Dir::new();
    let users = dir.write("users", &users_file(&[("alice", "alice-pw")]));
    let conf = format!(
        "password = \"old\"\nusers = {:?}\n",
        users.display().to_string()
    );
    let config = dir.write("stxchat.toml", &conf);
    let server = ChildServer::start(&["--config", config.to_str().unwrap()], None);
    let (mut carol, first) = login(server.addr, "carol", "old");
    assert!(matches!(first, Msg::Welcome { .. }), "{first:?}");
    let (mut alice, first) = login(server.addr, "alice", "alice-pw");
    assert!(matches!(first, Msg::Welcome { .. }), "{first:?}");
    assert!(
        refused(server.addr, "bob", "bob-pw"),
        "bob is unlisted: shared password"
    );

    dir.write(
        "stxchat.toml",
        &format!(
            "{}max-payload = 1024\nrate = 100\n",
            conf.replace("\"old\"", "\"new\"")
        ),
    );
    dir.write("users", &users_file(&[("bob", "bob-pw")]));
    let line = hup(&server, "reloaded:");
    assert!(line.contains("password") && line.contains("rate"), "{line}");
    assert!(line.contains("1 nick"), "{line}");
    let warn = server.wait_log("need a restart");
    assert!(warn.contains("max-payload"), "{warn}");

    // The connected stay connected and keep chatting.
    still_chats(&mut carol, "carol after the reload");
    still_chats(&mut alice, "alice after the reload");
    // The new password, the new users.
    assert!(refused(server.addr, "dave", "old"));
    assert!(welcomed(server.addr, "dave", "new"));
    assert!(welcomed(server.addr, "bob", "bob-pw"), "bob was added");
    assert!(
        refused(server.addr, "alice2", "alice-pw"),
        "unlisted nicks need the shared password"
    );
    let (_c, first) = login(server.addr, "erin", "new");
    assert!(matches!(first, Msg::Welcome { .. }));
    // alice's entry is gone: once she leaves, her nick needs the shared
    // password like any unlisted one.
    alice.send(ClientMessage::Bye);
    let _ = alice.until_eof();
    assert!(
        refused(server.addr, "alice", "alice-pw"),
        "alice was removed"
    );
    assert!(welcomed(server.addr, "alice", "new"));
}

/// A blocking TLS chat client.
struct TlsClient {
    tls: rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
    dec: FrameDecoder,
}

impl TlsClient {
    fn connect(addr: SocketAddr, ca: &Path) -> Result<TlsClient, String> {
        let roots = stxchat::tls::client::client_config(Some(ca)).unwrap();
        let sock = TcpStream::connect(addr).unwrap();
        sock.set_read_timeout(Some(WAIT)).unwrap();
        let conn = rustls::ClientConnection::new(roots, "localhost".try_into().unwrap()).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, sock);
        while tls.conn.is_handshaking() {
            tls.conn
                .complete_io(&mut tls.sock)
                .map_err(|e| e.to_string())?;
        }
        Ok(TlsClient {
            tls,
            dec: FrameDecoder::new(65535),
        })
    }

    fn send(&mut self, m: ClientMessage<'_>) {
        self.tls.write_all(&encode(m)).unwrap();
        self.tls.flush().unwrap();
    }

    /// Reads until a frame matches `pred`.
    fn until(&mut self, pred: impl Fn(&Msg) -> bool) -> Msg {
        let mut buf = [0u8; 4096];
        let mut found = None;
        while found.is_none() {
            let n = self.tls.read(&mut buf).expect("read over TLS");
            assert!(n > 0, "EOF over TLS");
            self.dec.decode_all(&buf[..n], |ev| {
                let Event::Frame(p) = ev else {
                    panic!("bad frame")
                };
                let m = Msg::from_wire(ServerMessage::decode(p).unwrap());
                if found.is_none() && pred(&m) {
                    found = Some(m);
                }
            });
        }
        found.unwrap()
    }

    fn register(addr: SocketAddr, ca: &Path, nick: &str, token: &str) -> Result<TlsClient, String> {
        let mut c = TlsClient::connect(addr, ca)?;
        c.send(ClientMessage::Hello {
            version: 1,
            nick,
            token,
        });
        c.until(|m| matches!(m, Msg::Welcome { .. }));
        Ok(c)
    }

    fn still_chats(&mut self, text: &str) {
        self.send(ClientMessage::Say {
            room: "lobby",
            text,
        });
        self.until(|m| matches!(m, Msg::Message { text: t, .. } if t == text));
    }
}

/// A self-signed certificate for localhost: (cert PEM, key PEM).
fn certificate() -> (String, String) {
    let now = time::OffsetDateTime::now_utc();
    stxchat::tls::cert::self_signed(
        &["localhost".into()],
        now - time::Duration::days(1),
        now + time::Duration::days(30),
    )
    .unwrap()
}

/// A server with a TLS listener whose files live in `dir` (cert.pem,
/// key.pem, stxchat.toml); its TLS address.
fn tls_server(dir: &Dir) -> (ChildServer, SocketAddr) {
    let (cert, key) = certificate();
    dir.write("ca-a.pem", &cert);
    let cert_path = dir.write("cert.pem", &cert);
    let key_path = dir.write("key.pem", &key);
    let tls: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let conf = format!(
        "tls-bind = \"{tls}\"\ntls-cert = {:?}\ntls-key = {:?}\npassword = \"pw\"\n",
        cert_path.display().to_string(),
        key_path.display().to_string()
    );
    let config = dir.write("stxchat.toml", &conf);
    let server = ChildServer::start(&["--config", config.to_str().unwrap()], None);
    wait_until("the TLS listener", || TcpStream::connect(tls).is_ok());
    (server, tls)
}

#[test]
fn reload_swaps_the_certificate_for_new_connections() {
    let dir = Dir::new();
    let (server, tls) = tls_server(&dir);
    let ca_a = dir.path("ca-a.pem");
    let mut before = TlsClient::register(tls, &ca_a, "early", "pw").unwrap();

    let (cert_b, key_b) = certificate();
    let ca_b = dir.write("ca-b.pem", &cert_b);
    dir.write("cert.pem", &cert_b);
    dir.write("key.pem", &key_b);
    let line = hup(&server, "reloaded:");
    assert!(line.contains("certificate reloaded"), "{line}");

    let err = TlsClient::connect(tls, &ca_a)
        .err()
        .expect("the old certificate is no longer served");
    assert!(
        err.contains("certificate") || err.contains("Certificate"),
        "{err}"
    );
    let mut after = TlsClient::register(tls, &ca_b, "late", "pw").unwrap();
    after.still_chats("on the new certificate");
    before.still_chats("still on the old one");
}

#[test]
fn a_failing_reload_keeps_the_running_settings() {
    let dir = Dir::new();
    let (server, tls) = tls_server(&dir);
    let ca_a = dir.path("ca-a.pem");
    let good = std::fs::read_to_string(dir.path("stxchat.toml")).unwrap();
    let (mut early, first) = login(server.addr, "early", "pw");
    assert!(matches!(first, Msg::Welcome { .. }));
    let check_old_settings = |round: &str| {
        assert!(welcomed(server.addr, &format!("p{round}"), "pw"), "{round}");
        assert!(refused(server.addr, &format!("q{round}"), "new"), "{round}");
        let tls_ok = TlsClient::connect(tls, &ca_a);
        assert!(tls_ok.is_ok(), "{round}: {:?}", tls_ok.err());
    };

    // 1. Bad TOML.
    dir.write(
        "stxchat.toml",
        &format!("{}password = \"new\"\nrate = \n", good),
    );
    let line = hup(&server, "reload failed");
    assert!(
        line.contains("stxchat.toml") && line.contains("line"),
        "{line}"
    );
    check_old_settings("1");

    // 2. A bad users line (with a new password that must not be taken).
    let users = dir.write(
        "users",
        &format!("{}mallory:not-a-hash\n", users_file(&[("bob", "bob-pw")])),
    );
    dir.write(
        "stxchat.toml",
        &format!(
            "{}users = {:?}\n",
            good.replace("\"pw\"", "\"new\""),
            users.display().to_string()
        ),
    );
    let line = hup(&server, "reload failed");
    assert!(line.contains("line 3"), "{line}");
    check_old_settings("2");

    // 3. A bad certificate.
    dir.write("stxchat.toml", &good.replace("\"pw\"", "\"new\""));
    dir.write(
        "cert.pem",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    );
    let line = hup(&server, "reload failed");
    assert!(line.contains("cert.pem"), "{line}");
    check_old_settings("3");

    // The connected client never noticed.
    still_chats(&mut early, "after three failed reloads");
    // Fixed files reload fine.
    let (cert, key) = certificate();
    let ca_c = dir.write("ca-c.pem", &cert);
    dir.write("cert.pem", &cert);
    dir.write("key.pem", &key);
    hup(&server, "reloaded:");
    assert!(welcomed(server.addr, "r1", "new"));
    assert!(TlsClient::register(tls, &ca_c, "r2", "new").is_ok());
}
