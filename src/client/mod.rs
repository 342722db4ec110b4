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
//! local checks, [`roster`] a room's members (quiet rooms included),
//! [`net`] runs the connection (handshake, keepalive, RTT, reconnect) over
//! [`link`] (one I/O thread per connection owning the socket and, with
//! `--tls`, the rustls session), [`event`] types what the network reports,
//! and [`format`] turns events into text and JSON.

pub mod command;
pub mod event;
pub mod format;
pub mod input;
pub mod link;
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
    /// Connect over TLS, verifying the server's certificate against the
    /// system's root certificates (or --ca). There is no way to skip the
    /// check.
    #[arg(long, env = "STXCHAT_TLS")]
    pub tls: bool,
    /// With --tls: trust the CA certificates in this PEM file instead of
    /// the system's (for a self-signed certificate: the certificate itself).
    #[arg(long, env = "STXCHAT_CA", value_name = "PEM", requires = "tls")]
    pub ca: Option<std::path::PathBuf>,
    /// With --tls: the name the certificate must be valid for (default: the
    /// host of HOST:PORT).
    #[arg(
        long,
        env = "STXCHAT_SERVER_NAME",
        value_name = "NAME",
        requires = "tls"
    )]
    pub server_name: Option<String>,
}

/// The TLS settings `--tls`, `--ca` and `--server-name` describe for
/// `server` (HOST:PORT), if `--tls` is on.
pub fn tls_setup(
    tls: bool,
    ca: Option<&std::path::Path>,
    server_name: Option<&str>,
    server: &str,
) -> Result<Option<link::TlsSetup>, String> {
    if !tls {
        return Ok(None);
    }
    let config = crate::tls::client::client_config(ca).map_err(|e| e.to_string())?;
    let name = match server_name {
        Some(n) => n.to_owned(),
        None => host_of(server).to_owned(),
    };
    let server_name = rustls::pki_types::ServerName::try_from(name.clone())
        .map_err(|_| format!("{name:?} is not a valid server name (pass --server-name NAME)"))?;
    Ok(Some(link::TlsSetup {
        config,
        server_name,
    }))
}

/// The host of HOST:PORT (`[::1]:7443` gives `::1`).
pub fn host_of(server: &str) -> &str {
    let host = server.rsplit_once(':').map_or(server, |(h, _)| h);
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
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
    let mut config = NetConfig::new(
        &args.server,
        &nick,
        args.password.as_deref().unwrap_or(""),
        !args.no_reconnect,
    );
    config.tls = match tls_setup(
        args.tls,
        args.ca.as_deref(),
        args.server_name.as_deref(),
        &args.server,
    ) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("stxchat client: {e}");
            return ExitCode::from(2);
        }
    };
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

#[cfg(test)]
mod tests {
    use super::host_of;

    #[test]
    fn the_host_of_an_address() {
        assert_eq!(host_of("chat.example.org:7443"), "chat.example.org");
        assert_eq!(host_of("[::1]:7443"), "::1");
        assert_eq!(host_of("127.0.0.1:7443"), "127.0.0.1");
        assert_eq!(host_of("localhost"), "localhost");
    }
}
