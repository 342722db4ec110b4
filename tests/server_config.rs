//! `stxchat server --config FILE`: precedence (flag, environment, file,
//! default), every kind of config error (exit code 2, key and line named),
//! `--check-config`, and a server really serving with the file's settings.

mod common;

use std::io::Read;
use std::path::PathBuf;
use std::time::Instant;

use common::*;

/// A scratch directory removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new() -> Dir {
        let p = std::env::temp_dir().join(format!(
            "stxchat-config-test-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }

    fn file(&self, name: &str, text: &str) -> String {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_string_lossy().into_owned()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `stxchat server <args>` with only `env` set; exit code, stdout, stderr.
fn server_cli(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_stxchat"))
        .arg("server")
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn stxchat");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("stxchat server {args:?} did not exit within {WAIT:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    (
        status.code(),
        out_reader.join().unwrap(),
        err_reader.join().unwrap(),
    )
}

/// The `key = value  # source` line of `--check-config` output for `key`.
fn setting<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("no {key} in {out}"))
}

#[test]
fn flag_beats_environment_beats_file_beats_default() {
    let dir = Dir::new();
    let cfg = dir.file(
        "s.toml",
        "# every kind of value\nname = \"from-file\"\nhistory = 7\nmax-payload = 1024\n\
         keepalive = 5\nrate = 2.5\nburst = 4\nadmin-bind = \"off\"\n",
    );
    let (code, out, err) = server_cli(
        &["--config", &cfg, "--history", "9", "--check-config"],
        &[("STXCHAT_NAME", "from-env"), ("STXCHAT_HISTORY", "8")],
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(setting(&out, "history"), "history = 9  # flag");
    assert_eq!(setting(&out, "name"), "name = \"from-env\"  # environment");
    assert_eq!(setting(&out, "max-payload"), "max-payload = 1024  # file");
    assert_eq!(setting(&out, "rate"), "rate = 2.5  # file");
    assert_eq!(setting(&out, "admin-bind"), "admin-bind = \"off\"  # file");
    assert_eq!(
        setting(&out, "default-room"),
        "default-room = \"lobby\"  # default"
    );
    // The output is itself a config file that yields the same settings.
    let again = dir.file("again.toml", &out);
    let (code, out2, err) = server_cli(&["--config", &again, "--check-config"], &[]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(setting(&out2, "history"), "history = 9  # file");
    assert_eq!(setting(&out2, "name"), "name = \"from-env\"  # file");
}

#[test]
fn check_config_hides_secrets() {
    let dir = Dir::new();
    let cfg = dir.file("s.toml", "password = \"hunter2\"\n");
    let (code, out, _) = server_cli(&["--config", &cfg, "--check-config"], &[]);
    assert_eq!(code, Some(0));
    assert!(!out.contains("hunter2"), "{out}");
    assert_eq!(setting(&out, "password"), "password = \"<set>\"  # file");
}

#[test]
fn a_server_serves_with_the_file_settings() {
    let dir = Dir::new();
    let cfg = dir.file(
        "s.toml",
        "name = \"filed\"\nmax-payload = 2048\nkeepalive = 7\npassword = \"pw\"\n",
    );
    let srv = ChildServer::start(&["--config", &cfg], None);
    let mut c = Client::connect(srv.addr);
    c.send(stxchat::codec::ClientMessage::Hello {
        version: 1,
        nick: "alice",
        token: "pw",
    });
    match c.recv() {
        Msg::Welcome {
            server,
            max_payload,
            keepalive,
            ..
        } => {
            assert_eq!(server, "filed");
            assert_eq!(max_payload, 2048);
            assert_eq!(keepalive, 7);
        }
        other => panic!("expected WELCOME, got {other:?}"),
    }
    let mut wrong = Client::connect(srv.addr);
    wrong.send(stxchat::codec::ClientMessage::Hello {
        version: 1,
        nick: "bob",
        token: "nope",
    });
    wrong.expect_closed_with(stxchat::codec::ErrorCode::AuthFailed);
}

/// `stxchat server --config <file with text> --check-config` fails with
/// exit code 2 and a message naming every word of `mentions`.
fn refused(text: &str, mentions: &[&str]) {
    let dir = Dir::new();
    let cfg = dir.file("bad.toml", text);
    let (code, _, err) = server_cli(&["--config", &cfg, "--check-config"], &[]);
    assert_eq!(code, Some(2), "{text:?}: {err}");
    for m in mentions {
        assert!(
            err.contains(m),
            "{text:?}: stderr should mention {m:?}: {err}"
        );
    }
    // The server itself refuses to start with it too.
    let (code, _, err) = server_cli(&["--config", &cfg, "--bind", "127.0.0.1:0"], &[]);
    assert_eq!(code, Some(2), "{text:?}: {err}");
}

#[test]
fn every_config_error_names_key_and_line_and_exits_2() {
    refused(
        "name = \"x\"\n\nmax_payload = 1024\n",
        &["line 3", "max_payload", "max-payload"],
    );
    refused("\nno-such-setting = 1\n", &["line 2", "no-such-setting"]);
    refused(
        "name = \"x\"\nmax-payload = 100\n",
        &["line 2", "max-payload", "512"],
    );
    refused("keepalive = -1\n", &["line 1", "keepalive"]);
    refused("bind = \"nowhere\"\n", &["line 1", "bind"]);
    refused("rate = 0\n", &["line 1", "rate"]);
    refused("history = \"many\"\n", &["line 1", "history"]);
    refused("history = [1, 2]\n", &["line 1", "history", "list"]);
    refused("name = 1979-05-27\n", &["line 1", "name", "date"]);
    refused("[admin]\nbind = 1\n", &["line 1", "admin"]);
    refused("check-config = true\n", &["line 1", "check-config"]);
    refused("config = \"other.toml\"\n", &["line 1", "config"]);
    refused("a = 1\nname = \"x\" y\n", &["line 2"]);
    refused("name = \"x\"\nname = \"y\"\n", &["line 2"]);
    // Values every parser accepts but the engine refuses together.
    refused("max-outbuf = 10\n", &["max outbuf", "213408"]);
    refused("burst = 5\n", &["--burst", "--rate"]);
    refused("admin-bind = \"0.0.0.0:7879\"\n", &["--admin-token"]);
}

#[test]
fn a_missing_config_file_exits_2() {
    let (code, _, err) = server_cli(
        &["--config", "/nonexistent/stxchat.toml", "--check-config"],
        &[],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("/nonexistent/stxchat.toml"), "{err}");
}

#[test]
fn the_environment_names_the_config_file_and_is_still_overridden_by_flags() {
    let dir = Dir::new();
    let cfg = dir.file("s.toml", "history = 3\nkeepalive = 9\n");
    let (code, out, err) = server_cli(
        &["--check-config", "--keepalive", "11"],
        &[("STXCHAT_CONFIG", &cfg)],
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(setting(&out, "history"), "history = 3  # file");
    assert_eq!(setting(&out, "keepalive"), "keepalive = 11  # flag");
}

#[test]
fn the_node_name_comes_from_flag_environment_or_file_and_is_checked() {
    let dir = Dir::new();
    let cfg = dir.file("n.toml", "node = \"from-file\"\n");
    let (code, out, err) = server_cli(&["--config", &cfg, "--check-config"], &[]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(setting(&out, "node"), "node = \"from-file\"  # file");
    let (code, out, err) = server_cli(
        &["--config", &cfg, "--check-config"],
        &[("STXCHAT_NODE", "from-env")],
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(setting(&out, "node"), "node = \"from-env\"  # environment");
    let (code, out, err) = server_cli(
        &["--config", &cfg, "--node", "from-flag", "--check-config"],
        &[("STXCHAT_NODE", "from-env")],
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(setting(&out, "node"), "node = \"from-flag\"  # flag");
    refused("node = \"two words\"\n", &["line 1", "node", "white space"]);
    refused("node = \"\"\n", &["line 1", "node", "empty"]);
    let (code, _, err) = server_cli(&["--node", &"n".repeat(65), "--check-config"], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("at most 64"), "{err}");
}

#[test]
fn the_node_name_defaults_to_host_and_pid() {
    let cfg = stxchat::server::cli::load_settings(&[])
        .expect("default settings")
        .config;
    stxchat::server::node_name::check(&cfg.node).expect("a valid default name");
    assert!(
        cfg.node.ends_with(&format!("-{}", std::process::id())),
        "{}",
        cfg.node
    );
    let cfg = stxchat::server::cli::load_settings(&["--node".into(), "alpha".into()])
        .expect("settings")
        .config;
    assert_eq!(cfg.node, "alpha");
}

#[test]
fn irc_with_cluster_is_refused_with_exit_2() {
    // IRC requests are not carried in the cluster's order yet: a node must
    // say so at start rather than serve an IRC port that cannot register.
    let (code, _, err) = server_cli(
        &[
            "--cluster",
            "nats://127.0.0.1:1",
            "--irc-bind",
            "127.0.0.1:0",
            "--check-config",
        ],
        &[],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("--irc-bind") && err.contains("--cluster"),
        "{err}"
    );
}
