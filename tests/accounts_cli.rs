//! `stxchat passwd` and `stxchat cert` as programs, and `--users` at start:
//! a password set with `passwd` (read from stdin) logs in, `--delete`
//! removes it, a bad users file line stops the server with its line number.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::*;
use stxchat::codec::{ClientMessage, ErrorCode};

fn scratch() -> PathBuf {
    let p = std::env::temp_dir().join(format!(
        "stxchat-accounts-cli-{}-{}",
        std::process::id(),
        rand::random::<u64>()
    ));
    std::fs::create_dir_all(&p).unwrap();
    p
}

/// `stxchat passwd <args>` with `stdin` piped in; exit code and stderr.
fn passwd(args: &[&str], stdin: &str) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stxchat"))
        .arg("passwd")
        .args(args)
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn passwd_sets_a_password_the_server_accepts_and_delete_removes_it() {
    let dir = scratch();
    let users = dir.join("users");
    let u = users.to_str().unwrap();
    assert_eq!(passwd(&[u, "alice"], "alice-pw\n").0, Some(0));
    assert_eq!(passwd(&[u, "bob"], "bob-pw\n").0, Some(0));
    let (code, err) = passwd(&[u, "carol"], "\n");
    assert_eq!(code, Some(1));
    assert!(err.contains("empty"), "{err}");
    let (code, err) = passwd(&[u, "nobody", "--delete"], "");
    assert_eq!(code, Some(1));
    assert!(err.contains("not in the file"), "{err}");
    assert_eq!(passwd(&[u, "bob", "--delete"], "").0, Some(0));
    let text = std::fs::read_to_string(&users).unwrap();
    assert!(text.starts_with("alice:$argon2id$"), "{text}");
    assert!(!text.contains("bob:"), "{text}");

    let srv = ChildServer::start(&["--users", u, "--registered-only"], None);
    let mut alice = Client::connect(srv.addr);
    alice.send(ClientMessage::Hello {
        version: 1,
        nick: "alice",
        token: "alice-pw",
    });
    assert!(matches!(alice.recv(), Msg::Welcome { .. }));
    let mut bob = Client::connect(srv.addr);
    bob.send(ClientMessage::Hello {
        version: 1,
        nick: "bob",
        token: "bob-pw",
    });
    bob.expect_closed_with(ErrorCode::AuthFailed);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_bad_users_file_stops_the_server_with_the_line_number() {
    let dir = scratch();
    let users = dir.join("users");
    std::fs::write(&users, "# users\n\nalice:not-a-hash\n").unwrap();
    let u = users.to_str().unwrap();
    let (code, err) = run_cli(&[
        "server",
        "--bind",
        "127.0.0.1:0",
        "--admin-bind",
        "off",
        "--users",
        u,
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("line 3"), "{err}");
    let (code, err) = run_cli(&[
        "server",
        "--bind",
        "127.0.0.1:0",
        "--users",
        "/nonexistent/users",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("/nonexistent/users"), "{err}");
    let (code, err) = run_cli(&["server", "--bind", "127.0.0.1:0", "--registered-only"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--users"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn cert_writes_a_private_key_and_a_certificate_and_will_not_overwrite() {
    let dir = scratch();
    let out = dir.join("tls");
    let o = out.to_str().unwrap();
    let (code, err) = run_cli(&["cert", "--name", "localhost", "--out", o]);
    assert_eq!(code, Some(0), "{err}");
    let cert = std::fs::read_to_string(out.join("cert.pem")).unwrap();
    let key = std::fs::read_to_string(out.join("key.pem")).unwrap();
    assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"), "{cert}");
    assert!(key.contains("PRIVATE KEY"), "{key}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(out.join("key.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "the key is private");
    assert!(
        stxchat::tls::server::load_server_config(&out.join("cert.pem"), &out.join("key.pem"))
            .is_ok()
    );
    let (code, err) = run_cli(&["cert", "--out", o]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("exists"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
