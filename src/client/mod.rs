//! The terminal client, `stxchat client [HOST:PORT] --nick NAME`.
//!
//! Two front ends share one network layer:
//! - the full-screen UI ([`tui`], drawn by [`view`] from [`state`]) when
//!   stdin and stdout are terminals;
//! - plain mode ([`plain`]) otherwise, or with `--plain` / `--json`: stdin
//!   lines in, one line (or JSON object) per event out.
//!
//! Modules: [`command`] parses input lines, [`input`] is the editable input
//! line, [`request`] holds what a front end asks the network for and the
//! local checks, [`roster`] a room's members (quiet rooms included), [`net`] runs the connection (handshake, keepalive, RTT,
//! reconnect), [`event`] types what the network reports, and [`format`]
//! turns events into text and JSON.

pub mod command;
pub mod event;
pub mod format;
pub mod input;
pub mod net;
pub mod plain;
pub mod request;
pub mod roster;
pub mod state;
pub mod tui;
pub mod view;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::mpsc;

use crate::client::event::ClientEvent;
use crate::client::net::NetConfig;
use crate::client::state::ChatState;
use crate::client::tui::UiInput;
use crate::codec::is_valid_nick;

/// Arguments of `stxchat client`.
#[derive(clap::Args, Debug, Clone)]
pub struct ClientArgs {
    /// The server, HOST:PORT.
    #[arg(default_value = "127.0.0.1:7878", env = "STXCHAT_SERVER")]
    pub server: String,
    /// The nick to register (default: $USER).
    #[arg(long, short = 'n', env = "STXCHAT_NICK")]
    pub nick: Option<String>,
    /// The server's password, if it has one.
    #[arg(long, env = "STXCHAT_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Plain mode: read lines from stdin, print one line per event
    /// (automatic when stdin or stdout is not a terminal).
    #[arg(long)]
    pub plain: bool,
    /// Print one JSON object per event (implies --plain).
    #[arg(long)]
    pub json: bool,
    /// Do not reconnect after losing the connection.
    #[arg(long)]
    pub no_reconnect: bool,
}

/// Runs `stxchat client`.
pub fn run(args: ClientArgs) -> ExitCode {
    let Some(nick) = args
        .nick
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .filter(|n| !n.is_empty())
    else {
        eprintln!("stxchat client: no nick: pass --nick NAME (or set STXCHAT_NICK or USER)");
        return ExitCode::from(2);
    };
    if !is_valid_nick(&nick) {
        eprintln!(
            "stxchat client: {nick:?} is not a valid nick (1 to 32 bytes, no spaces or control characters)"
        );
        return ExitCode::from(2);
    }
    let config = NetConfig::new(
        &args.server,
        &nick,
        args.password.as_deref().unwrap_or(""),
        !args.no_reconnect,
    );
    let plain = args.plain
        || args.json
        || !std::io::stdin().is_terminal()
        || !std::io::stdout().is_terminal();
    if plain {
        plain::run(config, args.json)
    } else {
        interactive(config)
    }
}

/// Connects, then runs the full-screen UI (the first connection is made
/// before the screen is taken over, so a failure is a plain message).
fn interactive(config: NetConfig) -> ExitCode {
    let (tx, rx) = mpsc::channel::<UiInput>();
    let net = match net::spawn(config.clone(), tx.clone()) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("stxchat client: cannot start the network thread: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!("connecting to {} as {}…", config.server, config.nick);
    let mut early = Vec::new();
    loop {
        match rx.recv() {
            Ok(UiInput::Net(ClientEvent::Fatal { message })) => {
                eprintln!("stxchat client: {message}");
                return ExitCode::FAILURE;
            }
            Ok(UiInput::Net(event)) => {
                let connected = matches!(event, ClientEvent::Connected { .. });
                early.push(event);
                if connected {
                    break;
                }
            }
            Ok(_) => {}
            Err(_) => {
                eprintln!("stxchat client: the network thread stopped unexpectedly");
                return ExitCode::FAILURE;
            }
        }
    }
    let state = ChatState::new(&config.server, &config.nick);
    match tui::run(state, early, &net, tx, &rx) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stxchat client: terminal error: {e}");
            ExitCode::FAILURE
        }
    }
}
