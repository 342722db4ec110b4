//! The admin channel over TLS (`--admin-tls`) and `stxchat top --tls`, over
//! real loopback sockets with certificates made in the test: the one-shot
//! report, the live screen's network thread and the live screen itself (on
//! a pseudo-terminal) over TLS, a certificate the client does not trust
//! refused with a clear message (and exit code 1, on the live screen too), plaintext and
//! garbage on the TLS admin port refused while chat and good admin clients
//! are served, silent handshakes closed by the handshake timeout (freeing
//! their slots), the flag's refusals (exit 2), and SIGHUP serving a new
//! certificate to new admin sessions.

mod admin_support;
mod common;

use std::io::{BufRead, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use admin_support::*;
use common::{Client, closed_by_server, free_port, run_cli, wait_until};
use stxchat::admin::client::{AdminClient, ClientError};
use stxchat::admin::config::AdminTls;
use stxchat::admin::hub::MAX_ADMIN_CONNECTIONS;
use stxchat::admin::top::net::{self, NetConfig, Update};
use stxchat::client::link::TlsSetup;
use stxchat::core::observe::{ConnChange, ConnState};

/// Files of a fresh self-signed certificate for localhost, in a scratch
/// directory removed on drop.
struct Certs {
    dir: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl Certs {
    fn new() -> Certs {
        let dir = std::env::temp_dir().join(format!(
            "stxchat-admin-tls-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let certs = Certs {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
            dir,
        };
        certs.renew();
        certs
    }

    /// Replaces the certificate and key with a new pair (whole files, as
    /// certbot would); returns the new certificate's PEM.
    fn renew(&self) -> String {
        let now = time::OffsetDateTime::now_utc();
        let (pem, key) = stxchat::tls::cert::self_signed(
            &["localhost".into()],
            now - time::Duration::days(1),
            now + time::Duration::days(30),
        )
        .unwrap();
        for (path, text) in [(&self.key, &key), (&self.cert, &pem)] {
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, text).unwrap();
            std::fs::rename(&tmp, path).unwrap();
        }
        pem
    }

    /// Keeps a copy of the current certificate (a CA file for clients).
    fn save_ca(&self, name: &str) -> PathBuf {
        let p = self.dir.join(name);
        std::fs::copy(&self.cert, &p).unwrap();
        p
    }

    fn admin_tls(&self) -> AdminTls {
        AdminTls {
            cert: self.cert.clone(),
            key: self.key.clone(),
            config: stxchat::tls::server::load_server_config(&self.cert, &self.key).unwrap(),
        }
    }

    fn ca(&self) -> &str {
        self.cert.to_str().unwrap()
    }
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An in-process server whose admin listener speaks TLS.
fn tls_admin_server(certs: &Certs, handshake_timeout_ms: u64) -> AdminServer {
    let mut cfg = admin_config();
    cfg.core.handshake_timeout_ms = handshake_timeout_ms;
    cfg.admin.tls = Some(certs.admin_tls());
    AdminServer::start(cfg)
}

/// Client TLS settings trusting `ca`, expecting `localhost`.
fn trusting(ca: &Path) -> TlsSetup {
    stxchat::client::tls_setup(true, Some(ca), None, "localhost:0")
        .unwrap()
        .unwrap()
}

/// `localhost:PORT` of an address (the name the certificate is valid for).
fn localhost(addr: SocketAddr) -> String {
    format!("localhost:{}", addr.port())
}

fn top(args: &[&str]) -> std::process::Output {
    Process::new(env!("CARGO_BIN_EXE_stxchat"))
        .arg("top")
        .args(args)
        .env_remove("STXCHAT_ADMIN")
        .env_remove("STXCHAT_ADMIN_TOKEN")
        .env_remove("STXCHAT_ADMIN_TLS")
        .env_remove("STXCHAT_ADMIN_CA")
        .env_remove("STXCHAT_ADMIN_SERVER_NAME")
        .stdin(Stdio::null())
        .output()
        .expect("run stxchat top")
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn top_once_over_tls_reports_the_counters() {
    let certs = Certs::new();
    let srv = tls_admin_server(&certs, 120_000);
    let mut alice = Client::join_as(srv.addr, "alice");
    alice.join("dev");
    let admin = localhost(srv.admin);

    let out = top(&[
        "--admin",
        &admin,
        "--tls",
        "--ca",
        certs.ca(),
        "--once",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["counters"]["connected"], 1);
    assert_eq!(v["counters"]["accepted"], 1);
    assert_eq!(v["connected"][0]["nick"], "alice");
    assert_eq!(
        v["connected"][0]["rooms"],
        serde_json::json!(["lobby", "dev"])
    );
    assert_eq!(v["counters"]["rooms"], 2);

    let out = top(&["--admin", &admin, "--tls", "--ca", certs.ca(), "--once"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("waiting 0  connected 1"), "{text}");
    assert!(text.contains("alice"), "{text}");

    // By address, with the name the certificate is for.
    let out = top(&[
        "--admin",
        &srv.admin.to_string(),
        "--tls",
        "--ca",
        certs.ca(),
        "--server-name",
        "localhost",
        "--once",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The environment works as the flags do.
    let out = Process::new(env!("CARGO_BIN_EXE_stxchat"))
        .args(["top", "--once", "--json"])
        .env("STXCHAT_ADMIN", &admin)
        .env("STXCHAT_ADMIN_TLS", "true")
        .env("STXCHAT_ADMIN_CA", certs.ca())
        .env_remove("STXCHAT_ADMIN_TOKEN")
        .env_remove("STXCHAT_ADMIN_SERVER_NAME")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn the_live_view_network_thread_works_over_tls() {
    let certs = Certs::new();
    let srv = tls_admin_server(&certs, 120_000);
    let _early = Client::join_as(srv.addr, "early");
    let (utx, urx) = mpsc::channel();
    let (_ctx, crx) = mpsc::channel();
    net::spawn(
        NetConfig {
            addr: localhost(srv.admin),
            token: None,
            tls: Some(trusting(&certs.cert)),
            poll_every: Duration::from_millis(200),
            retry_every: Duration::from_millis(200),
            timeout: WAIT,
        },
        utx,
        crx,
    )
    .unwrap();
    let next = || {
        urx.recv_timeout(WAIT)
            .expect("an update from the network thread")
    };
    assert_eq!(next(), Update::Connected);
    // The first snapshot and the first pages: `early` is listed.
    let mut listed = false;
    while !listed {
        if let Update::Page { page, .. } = next() {
            listed = page
                .entries
                .iter()
                .any(|e| e.nick.as_deref() == Some("early"));
        }
    }
    // Then changes are pushed as they happen, over the same TLS stream.
    let _late = Client::join_as(srv.addr, "late");
    loop {
        if let Update::Event(ev) = next()
            && ev.nick.as_deref() == Some("late")
            && ev.change == ConnChange::Registered
        {
            break;
        }
    }
    // And the counters keep coming (reads with a timeout on the TLS stream).
    loop {
        if let Update::Snapshot(s) = next()
            && s.counters.connected == 2
        {
            break;
        }
    }
}

#[test]
fn a_certificate_top_does_not_trust_is_refused_with_a_clear_message() {
    let certs = Certs::new();
    let other = Certs::new();
    let srv = tls_admin_server(&certs, 120_000);
    let admin = localhost(srv.admin);
    let out = top(&[
        "--admin",
        &admin,
        "--tls",
        "--ca",
        other.ca(),
        "--once",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("certificate was refused"), "{err}");
    assert!(
        err.contains("not signed by a certificate authority"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    // Valid, but not for the name asked.
    let out = top(&[
        "--admin",
        &srv.admin.to_string(),
        "--tls",
        "--ca",
        certs.ca(),
        "--once",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not valid for the server name"),
        "{}",
        stderr(&out)
    );
    // The live view's network thread gives up at once (no retry can help).
    let (utx, urx) = mpsc::channel();
    let (_ctx, crx) = mpsc::channel();
    net::spawn(
        NetConfig {
            addr: admin.clone(),
            token: None,
            tls: Some(trusting(&other.cert)),
            poll_every: Duration::from_millis(200),
            retry_every: Duration::from_millis(200),
            timeout: WAIT,
        },
        utx,
        crx,
    )
    .unwrap();
    match urx.recv_timeout(WAIT).unwrap() {
        Update::Fatal(msg) => assert!(msg.contains("certificate was refused"), "{msg}"),
        other => panic!("expected Fatal, got {other:?}"),
    }
    // An unreadable CA file: a usage error.
    let out = top(&[
        "--admin",
        &admin,
        "--tls",
        "--ca",
        "/nonexistent/ca.pem",
        "--once",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("/nonexistent/ca.pem"),
        "{}",
        stderr(&out)
    );
    // --ca without --tls is refused by the parser.
    let out = top(&["--admin", &admin, "--ca", certs.ca(), "--once"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn plaintext_and_garbage_on_the_tls_admin_port_are_refused_and_others_served() {
    let certs = Certs::new();
    let srv = tls_admin_server(&certs, 120_000);
    // The plain admin protocol (AUTH) to the TLS port.
    let e = AdminClient::connect(&srv.admin.to_string(), None, WAIT).unwrap_err();
    assert!(
        matches!(e, ClientError::ServerSpeaksTls),
        "expected the TLS hint, got {e}"
    );
    assert!(e.to_string().contains("--tls"), "{e}");
    let out = top(&["--admin", &localhost(srv.admin), "--once"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("speaks TLS"), "{}", stderr(&out));
    // Garbage that starts like a TLS record, then a flood.
    let mut garbage = TcpStream::connect(srv.admin).unwrap();
    garbage
        .write_all(&[0x16, 0x03, 0x01, 0xff, 0xff, 1, 2, 3, 4, 5])
        .unwrap();
    garbage.write_all(&[0xAB; 20_000]).unwrap_or(());
    assert!(closed_by_server(&mut garbage));
    // Raw admin frame bytes.
    let mut raw = TcpStream::connect(srv.admin).unwrap();
    raw.write_all(&common::frame(&[0x01, 0x01, 0x00])).unwrap();
    assert!(closed_by_server(&mut raw));

    // Chat and a good TLS admin client are still served.
    let _carol = Client::join_as(srv.addr, "carol");
    let setup = trusting(&certs.cert);
    let mut ok = AdminClient::connect_tls(&localhost(srv.admin), None, WAIT, Some(&setup))
        .expect("a TLS admin client connects");
    assert_eq!(ok.counters().unwrap().counters.connected, 1);
    let (list, more) = ok.list_first(ConnState::Connected, 10).unwrap();
    assert_eq!(list.len(), 1);
    assert!(!more);
    assert!(ok.kick("carol", "bye").unwrap(), "a kick over TLS");
}

#[test]
fn silent_handshakes_are_closed_by_the_timeout_and_free_their_slots() {
    let certs = Certs::new();
    let srv = tls_admin_server(&certs, 500);
    // More silent clients than there are admin slots, and a stalled one
    // (the start of a ClientHello, then nothing).
    let mut silent: Vec<TcpStream> = (0..MAX_ADMIN_CONNECTIONS)
        .map(|_| TcpStream::connect(srv.admin).unwrap())
        .collect();
    let mut stalled = TcpStream::connect(srv.admin).unwrap();
    stalled
        .write_all(&[0x16, 0x03, 0x01, 0x00, 0xc8, 0x01])
        .unwrap();
    for s in &mut silent {
        assert!(closed_by_server(s), "a silent handshake is closed");
    }
    assert!(
        closed_by_server(&mut stalled),
        "a stalled handshake is closed"
    );
    // The slots are free again; chat went on meanwhile.
    let _dave = Client::join_as(srv.addr, "dave");
    let setup = trusting(&certs.cert);
    let mut ok = AdminClient::connect_tls(&localhost(srv.admin), None, WAIT, Some(&setup))
        .expect("a TLS admin client connects after the timeouts");
    assert_eq!(ok.counters().unwrap().counters.connected, 1);
    // A finished handshake is not timed out: the session outlives the
    // handshake timeout while idle.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(ok.counters().unwrap().counters.connected, 1);
}

#[test]
fn admin_tls_without_a_certificate_or_an_admin_listener_refuses_to_start() {
    let certs = Certs::new();
    let (cert, key) = (certs.cert.to_str().unwrap(), certs.key.to_str().unwrap());
    let bind = [
        "server",
        "--bind",
        "127.0.0.1:0",
        "--admin-bind",
        "127.0.0.1:0",
    ];
    let with = |more: &[&str]| {
        let mut v: Vec<&str> = bind.to_vec();
        v.extend_from_slice(more);
        run_cli(&v)
    };
    let (code, err) = with(&["--admin-tls"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("--admin-tls needs --tls-cert and --tls-key"),
        "{err}"
    );
    let (code, err) = with(&["--admin-tls", "--tls-cert", cert]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--tls-key"), "{err}");
    let (code, err) = run_cli(&[
        "server",
        "--bind",
        "127.0.0.1:0",
        "--admin-bind",
        "off",
        "--admin-tls",
        "--tls-cert",
        cert,
        "--tls-key",
        key,
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--admin-bind is off"), "{err}");
    // A certificate that does not load stops it too.
    let (code, err) = with(&["--admin-tls", "--tls-cert", cert, "--tls-key", cert]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no PEM private key"), "{err}");
    // Without --admin-tls, a certificate still needs somewhere to be served.
    let (code, err) = with(&["--tls-cert", cert, "--tls-key", key]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--tls-bind or --admin-tls"), "{err}");

    // --check-config shows it, from the flag, the environment or the file.
    let check = |args: &[&str], env: Option<&str>, file: Option<&str>| {
        let mut cmd = Process::new(env!("CARGO_BIN_EXE_stxchat"));
        cmd.args([
            "server",
            "--check-config",
            "--tls-cert",
            cert,
            "--tls-key",
            key,
        ])
        .args(args)
        .env_clear();
        if let Some(v) = env {
            cmd.env("STXCHAT_ADMIN_TLS", v);
        }
        let path = certs.dir.join("stxchat.toml");
        if let Some(text) = file {
            std::fs::write(&path, text).unwrap();
            cmd.args(["--config", path.to_str().unwrap()]);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(check(&["--admin-tls"], None, None).contains("admin-tls = true  # flag"));
    assert!(check(&[], Some("true"), None).contains("admin-tls = true  # environment"));
    assert!(check(&[], None, Some("admin-tls = true\n")).contains("admin-tls = true  # file"));
    let plain = check(&["--tls-bind", "127.0.0.1:0"], None, None);
    assert!(plain.contains("admin-tls = false  # default"), "{plain}");
}

/// A `stxchat server` child process, its log collected; killed on drop.
struct Child2 {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Child2 {
    fn start(args: &[&str]) -> Child2 {
        let mut child = Process::new(env!("CARGO_BIN_EXE_stxchat"))
            .arg("server")
            .args(["--stats-interval", "0"])
            .args(args)
            .env_clear()
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn stxchat server");
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        Child2 { child, log }
    }

    fn count(&self, needle: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }

    /// Sends SIGHUP; the next log line with `needle`.
    fn hup(&self, needle: &str) -> String {
        let before = self.count(needle);
        // SAFETY: kill on our own child's PID.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGHUP);
        }
        wait_until(&format!("a reload logging {needle:?}"), || {
            self.count(needle) > before
        });
        let log = self.log.lock().unwrap();
        log.iter()
            .filter(|l| l.contains(needle))
            .nth(before)
            .unwrap()
            .clone()
    }
}

impl Drop for Child2 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn sighup_serves_a_new_certificate_to_new_admin_sessions() {
    let certs = Certs::new();
    let ca_a = certs.save_ca("ca-a.pem");
    let chat: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let admin_port = free_port();
    let admin = format!("localhost:{admin_port}");
    let conf = certs.dir.join("stxchat.toml");
    let with_tls = format!(
        "admin-bind = \"127.0.0.1:{admin_port}\"\nadmin-tls = true\n\
         tls-cert = {:?}\ntls-key = {:?}\n",
        certs.cert.display().to_string(),
        certs.key.display().to_string()
    );
    std::fs::write(&conf, &with_tls).unwrap();
    let server = Child2::start(&[
        "--bind",
        &chat.to_string(),
        "--config",
        conf.to_str().unwrap(),
    ]);
    wait_until("the chat listener", || TcpStream::connect(chat).is_ok());
    let ca = |p: &Path| p.to_str().unwrap().to_owned();
    let once = |ca_file: &str| {
        top(&[
            "--admin", &admin, "--tls", "--ca", ca_file, "--once", "--json",
        ])
    };
    wait_until("the TLS admin listener", || {
        once(&ca(&ca_a)).status.success()
    });
    // Refusals are logged (not counted: the chat counters count chat
    // connections only).
    let mut plain = TcpStream::connect(format!("127.0.0.1:{admin_port}")).unwrap();
    plain
        .write_all(&common::frame(&[0x40, 0x01, 0x00]))
        .unwrap();
    assert!(closed_by_server(&mut plain));
    wait_until("the refusal logged", || {
        server.count("admin session refused: transport error") == 1
    });
    // A session opened before the reload keeps its certificate.
    let setup_a = trusting(&ca_a);
    let mut before = AdminClient::connect_tls(&admin, None, WAIT, Some(&setup_a)).unwrap();

    certs.renew();
    let ca_b = certs.save_ca("ca-b.pem");
    let line = server.hup("reloaded:");
    assert!(line.contains("certificate reloaded"), "{line}");

    let out = once(&ca(&ca_a));
    assert_eq!(
        out.status.code(),
        Some(1),
        "the old certificate is no longer served"
    );
    assert!(
        stderr(&out).contains("certificate was refused"),
        "{}",
        stderr(&out)
    );
    let out = once(&ca(&ca_b));
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["counters"]["uptime_ms"].is_u64());
    assert!(
        before.counters().is_ok(),
        "the earlier session is still served"
    );

    // Turning --admin-tls off needs a restart: reported, and TLS stays on.
    std::fs::write(&conf, format!("admin-bind = \"127.0.0.1:{admin_port}\"\n")).unwrap();
    let line = server.hup("need a restart");
    assert!(line.contains("admin-tls"), "{line}");
    assert!(
        once(&ca(&ca_b)).status.success(),
        "still TLS until a restart"
    );
}

/// `stxchat top` (the live screen) on a pseudo-terminal of its own: its
/// screen output collected, keys typed into it.
struct Screen {
    child: Child,
    master: std::fs::File,
    output: Arc<Mutex<Vec<u8>>>,
    stderr: std::process::ChildStderr,
}

impl Screen {
    fn start(args: &[&str]) -> Screen {
        use std::os::fd::FromRawFd;
        let (mut master, mut slave) = (0, 0);
        let size = libc::winsize {
            ws_row: 30,
            ws_col: 140,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: openpty writes two new descriptors we then own.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                &size,
            )
        };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: both descriptors are ours alone from here on.
        let (master, slave) = unsafe {
            (
                std::fs::File::from_raw_fd(master),
                std::fs::File::from_raw_fd(slave),
            )
        };
        let mut child = Process::new(env!("CARGO_BIN_EXE_stxchat"))
            .arg("top")
            .args(args)
            .env_clear()
            .env("TERM", "xterm-256color")
            .stdin(slave.try_clone().unwrap())
            .stdout(slave)
            .stderr(Stdio::piped())
            .spawn()
            .expect("run stxchat top on a pty");
        let output = Arc::new(Mutex::new(Vec::new()));
        let sink = output.clone();
        let mut reader = master.try_clone().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // Ends with an error (EIO) once the child has closed the pty.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        let stderr = child.stderr.take().unwrap();
        Screen {
            child,
            master,
            output,
            stderr,
        }
    }

    fn shows(&self, text: &str) -> bool {
        String::from_utf8_lossy(&self.output.lock().unwrap()).contains(text)
    }

    /// Waits (bounded) for the exit; its code and what it said on stderr.
    fn exit(mut self) -> (Option<i32>, String) {
        let mut status = None;
        wait_until("stxchat top to exit", || {
            status = self.child.try_wait().unwrap();
            status.is_some()
        });
        let mut err = String::new();
        let _ = self.stderr.read_to_string(&mut err);
        (status.unwrap().code(), err)
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_live_screen_runs_over_tls_and_ends_on_a_refused_certificate() {
    let certs = Certs::new();
    let other = Certs::new();
    let srv = tls_admin_server(&certs, 120_000);
    let admin = localhost(srv.admin);
    let _zoe = Client::join_as(srv.addr, "zoe");
    let mut screen = Screen::start(&["--admin", &admin, "--tls", "--ca", certs.ca()]);
    wait_until("the live screen over TLS", || {
        screen.shows("live") && screen.shows("zoe")
    });
    screen.master.write_all(b"q").unwrap();
    let (code, err) = screen.exit();
    assert_eq!(code, Some(0), "{err}");

    let screen = Screen::start(&["--admin", &admin, "--tls", "--ca", other.ca()]);
    let (code, err) = screen.exit();
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("certificate was refused"), "{err}");
}
