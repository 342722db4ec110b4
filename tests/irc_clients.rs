//! Real IRC clients against the gateway: `ii` (suckless) and a native
//! `stxchat client --plain` talk in one room. CI installs ii (`.ci/run`);
//! elsewhere the test says it is skipped unless `CI` is set, where a
//! missing ii fails it.

mod common;
mod irc_support;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use irc_support::irc_server;

const WAIT: Duration = Duration::from_secs(20);

/// Kills and reaps a child process (started by this test) on drop.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Waits until `path` exists and its contents satisfy `pred`.
fn wait_file(path: &Path, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if pred(&text) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "no {what} in {} within {WAIT:?}: {text:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Writes one command line into ii's FIFO.
fn ii_send(fifo: &Path, line: &str) {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(fifo)
        .expect("open ii's fifo");
    writeln!(f, "{line}").expect("write to ii");
}

/// Waits for a stdout line of the plain client satisfying `pred`.
fn expect_line(lines: &Receiver<String>, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(l) if pred(&l) => return l,
            Ok(l) => seen.push(l),
            Err(_) => panic!("plain client: no line {what} within {WAIT:?}; saw {seen:#?}"),
        }
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("stxchat-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn ii_and_a_native_plain_client_talk_in_one_room() {
    if !have("ii") {
        assert!(
            std::env::var_os("CI").is_none(),
            "ii is not installed (CI installs it)"
        );
        eprintln!("skipped: ii is not installed");
        return;
    }
    let s = irc_server(|_| {});
    let irc = s.irc.unwrap();
    let dir = temp_dir("ii");
    let _ii = Reaped(
        Command::new("ii")
            .arg("-i")
            .arg(&dir)
            .args([
                "-s",
                "127.0.0.1",
                "-p",
                &irc.port().to_string(),
                "-n",
                "iiuser",
                "-f",
                "ii user",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ii starts"),
    );
    let server_dir = dir.join("127.0.0.1");
    wait_file(&server_dir.join("out"), "welcome", |t| {
        t.contains("Welcome")
    });
    ii_send(&server_dir.join("in"), "/j #cafe");
    let chan_dir = server_dir.join("#cafe");
    wait_file(&chan_dir.join("out"), "own join", |t| {
        t.contains("iiuser") && t.contains("joined")
    });

    let mut native = Reaped(
        Command::new(env!("CARGO_BIN_EXE_stxchat"))
            .arg("client")
            .arg(s.addr.to_string())
            .args(["--nick", "nat", "--plain"])
            .env_remove("STXCHAT_SERVER")
            .env_remove("STXCHAT_NICK")
            .env_remove("STXCHAT_PASSWORD")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("client starts"),
    );
    let stdout = native.0.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut stdin = native.0.stdin.take().unwrap();
    writeln!(stdin, "/join cafe").unwrap();
    writeln!(stdin, "hello from native").unwrap();
    stdin.flush().unwrap();
    wait_file(&chan_dir.join("out"), "the native's message", |t| {
        t.contains("<nat> hello from native")
    });
    ii_send(&chan_dir.join("in"), "hello from ii");
    expect_line(&lines, "with ii's message", |l| {
        l == "[cafe] <iiuser> hello from ii"
    });
    drop(stdin);
    let deadline = Instant::now() + WAIT;
    while !["out", "#cafe/out"].iter().any(|f| {
        std::fs::read_to_string(server_dir.join(f))
            .is_ok_and(|t| t.contains("nat(nat@stxchat) has quit"))
    }) {
        assert!(
            Instant::now() < deadline,
            "ii never saw the native client quit"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_dir_all(&dir);
}
