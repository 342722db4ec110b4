//! `stxchat top`: the live operator view (ratatui + crossterm), and
//! `stxchat top --once [--json]` for scripts.
//!
//! The screen runs on the main thread; a network thread ([`net`]) owns the
//! admin connection and sends updates over a channel. The terminal is put
//! back (raw mode off, main screen) on every exit path, panics included
//! (ratatui's `try_init` installs a restoring panic hook, and a guard
//! restores on return).

pub mod model;
pub mod net;
pub mod nodes_view;
pub mod rooms_view;
pub mod view;

use std::io::Write;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ratatui::crossterm::event::{self, Event as TermEvent};
use serde::Serialize;

use crate::admin::client::{AdminClient, ClientError, DEFAULT_ADMIN_ADDR, DEFAULT_TIMEOUT};
use crate::admin::nodes::{MAX_NODES_LIMIT, NodeEntry};
use crate::admin::proto::{AdminErrorCode, Snapshot};
use crate::admin::rates::Rates;
use crate::admin::rooms::MAX_ROOMS_LIMIT;
use crate::client::link::TlsSetup;
use crate::core::observe::{ConnInfo, ConnState, Counters, RoomInfo};
use view::{Action, App};

/// Arguments of `stxchat top`.
#[derive(clap::Args, Debug, Clone)]
pub struct TopArgs {
    /// The server's admin address (its --admin-bind).
    #[arg(long, env = "STXCHAT_ADMIN", default_value = DEFAULT_ADMIN_ADDR)]
    pub admin: String,
    /// Admin token, if the server was started with --admin-token.
    #[arg(long, env = "STXCHAT_ADMIN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Connect over TLS (a server started with --admin-tls), verifying its
    /// certificate against the system's root certificates (or --ca). There
    /// is no way to skip the check.
    #[arg(long, env = "STXCHAT_ADMIN_TLS")]
    pub tls: bool,
    /// With --tls: trust the CA certificates in this PEM file instead of
    /// the system's (for a self-signed certificate: the certificate itself).
    #[arg(long, env = "STXCHAT_ADMIN_CA", value_name = "PEM", requires = "tls")]
    pub ca: Option<std::path::PathBuf>,
    /// With --tls: the name the certificate must be valid for (default: the
    /// host of --admin).
    #[arg(
        long,
        env = "STXCHAT_ADMIN_SERVER_NAME",
        value_name = "NAME",
        requires = "tls"
    )]
    pub server_name: Option<String>,
    /// Print one snapshot (counters, the first page of each list, the
    /// largest rooms) and exit.
    #[arg(long)]
    pub once: bool,
    /// With --once: print it as one JSON object.
    #[arg(long, requires = "once")]
    pub json: bool,
    /// With --once: at most this many connections per list (and rooms, at most 500).
    #[arg(long, default_value_t = 100, requires = "once",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
    /// Seconds between counter updates on the live screen.
    #[arg(long, default_value_t = 1.0)]
    pub interval: f64,
}

/// What `stxchat top --once --json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct OnceReport {
    /// The admin address asked.
    pub server: String,
    /// Totals and gauges.
    pub counters: Counters,
    /// Per-second rates over the server's last second.
    pub rates: Rates,
    /// Connections waiting for HELLO (first page).
    pub waiting: Vec<ConnInfo>,
    /// Whether more waiting connections exist than listed.
    pub waiting_more: bool,
    /// Registered connections (first page).
    pub connected: Vec<ConnInfo>,
    /// Whether more connected ones exist than listed.
    pub connected_more: bool,
    /// Rooms that are quiet (absent if the server cannot list rooms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quiet_rooms: Option<u64>,
    /// The largest rooms, largest first, at most `--limit` (absent if the
    /// server cannot list rooms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rooms: Option<Vec<RoomInfo>>,
    /// Whether more rooms exist than listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rooms_more: Option<bool>,
    /// The server's node name (`--node`; absent if the server cannot
    /// answer NODES).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The cluster's live nodes, this one included (empty when the server
    /// runs alone; absent if it cannot answer NODES).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nodes: Option<Vec<NodeEntry>>,
}

/// Fetches the one-shot report (over TLS when `tls` is given).
pub fn fetch_once(
    addr: &str,
    token: Option<&str>,
    tls: Option<&TlsSetup>,
    limit: usize,
) -> Result<OnceReport, ClientError> {
    let mut client = AdminClient::connect_tls(addr, token, DEFAULT_TIMEOUT, tls)?;
    let Snapshot { counters, rates } = client.counters()?;
    let (waiting, waiting_more) = client.list_first(ConnState::Waiting, limit)?;
    let (connected, connected_more) = client.list_first(ConnState::Connected, limit)?;
    let rooms_limit = u16::try_from(limit)
        .unwrap_or(u16::MAX)
        .min(MAX_ROOMS_LIMIT);
    let rooms = match client.rooms(rooms_limit) {
        Ok(page) => Some(page),
        Err(e) if e.server_code() == Some(AdminErrorCode::UnknownType) => None,
        Err(e) => return Err(e),
    };
    let nodes = match client.nodes(MAX_NODES_LIMIT) {
        Ok(page) => Some(page),
        Err(e) if e.server_code() == Some(AdminErrorCode::UnknownType) => None,
        Err(e) => return Err(e),
    };
    Ok(OnceReport {
        server: addr.to_owned(),
        counters,
        rates,
        waiting,
        waiting_more,
        connected,
        connected_more,
        quiet_rooms: rooms.as_ref().map(|p| p.quiet_rooms),
        rooms_more: rooms.as_ref().map(|p| p.more),
        rooms: rooms.map(|p| p.entries),
        node: nodes.as_ref().map(|p| p.node.clone()),
        nodes: nodes.map(|p| p.entries),
    })
}

/// The one-shot report as plain text.
pub fn format_once(r: &OnceReport) -> String {
    let c = &r.counters;
    let node = r
        .node
        .as_deref()
        .map_or_else(String::new, |n| format!("  node {n}"));
    let mut s = format!(
        "server {}{node}  uptime {}\nwaiting {}  connected {}  closing {}  rooms {}\n\
         accepted {}  messages {} ({}/s)  privates {}  slow consumers {}\n",
        r.server,
        view::human_duration(c.uptime_ms),
        c.waiting,
        c.connected,
        c.closing,
        c.rooms,
        c.accepted,
        c.messages,
        r.rates.messages,
        c.privates,
        c.slow_consumers,
    );
    s.push_str(&format!("\nWAITING ({})\n", c.waiting));
    for w in &r.waiting {
        s.push_str(&format!(
            "  {:>7}  {:<22} in {}\n",
            w.id,
            w.peer,
            view::human_bytes(w.bytes_in)
        ));
    }
    s.push_str(&format!("\nCONNECTED ({})\n", c.connected));
    for w in &r.connected {
        s.push_str(&format!(
            "  {:<16} {:<22} rooms {:<3} in {:<6} out {:<6} queued {}\n",
            w.nick.as_deref().unwrap_or(""),
            w.peer.to_string(),
            w.rooms.len(),
            view::human_bytes(w.bytes_in),
            view::human_bytes(w.bytes_out),
            view::human_bytes(w.queued),
        ));
    }
    if let Some(nodes) = r.nodes.as_ref().filter(|n| !n.is_empty()) {
        s.push_str(&format!("\nNODES ({})\n", nodes.len()));
        for n in nodes {
            s.push_str(&format!(
                "  {:<24} connected {:>10}  applied seq {}\n",
                n.name,
                crate::client::format::thousands(u64::from(n.connected)),
                n.applied
            ));
        }
    }
    if let Some(rooms) = &r.rooms {
        s.push_str(&format!(
            "\nROOMS ({}, {} quiet)\n",
            c.rooms,
            r.quiet_rooms.unwrap_or(0)
        ));
        for room in rooms {
            s.push_str(&format!(
                "  {:<32} {:>10} {}\n",
                room.name,
                crate::client::format::thousands(room.members),
                if room.quiet { "quiet" } else { "" }
            ));
        }
    }
    s
}

/// Runs `stxchat top`.
pub fn run_top(args: TopArgs) -> ExitCode {
    let tls = match crate::client::tls_setup(
        args.tls,
        args.ca.as_deref(),
        args.server_name.as_deref(),
        &args.admin,
    ) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("stxchat top: {e}");
            return ExitCode::from(2);
        }
    };
    if args.once {
        return run_once(&args, tls.as_ref());
    }
    if !(args.interval.is_finite() && args.interval >= 0.1) {
        eprintln!("stxchat top: --interval must be at least 0.1 seconds");
        return ExitCode::from(2);
    }
    match run_screen(&args, tls) {
        Ok(None) => ExitCode::SUCCESS,
        Ok(Some(refused)) => {
            // The terminal is back: say why, as --once would.
            eprintln!("stxchat top: {refused}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("stxchat top: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_once(args: &TopArgs, tls: Option<&TlsSetup>) -> ExitCode {
    let report = match fetch_once(&args.admin, args.token.as_deref(), tls, args.limit as usize) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("stxchat top: {e}");
            return ExitCode::FAILURE;
        }
    };
    let out = if args.json {
        match serde_json::to_string(&report) {
            Ok(s) => s + "\n",
            Err(e) => {
                eprintln!("stxchat top: cannot encode JSON: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        format_once(&report)
    };
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Puts the terminal back when dropped (normal return or error).
struct RestoreGuard;

impl Drop for RestoreGuard {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The live screen until `q` (`None`), or until the server refused us for
/// good (a token, version or certificate it will never accept: why).
fn run_screen(args: &TopArgs, tls: Option<TlsSetup>) -> std::io::Result<Option<String>> {
    let (utx, urx) = mpsc::channel();
    let (ctx, crx) = mpsc::channel();
    net::spawn(
        net::NetConfig {
            addr: args.admin.clone(),
            token: args.token.clone(),
            tls,
            poll_every: Duration::from_secs_f64(args.interval),
            retry_every: Duration::from_secs(2),
            timeout: DEFAULT_TIMEOUT,
        },
        utx,
        crx,
    )?;
    let _guard = RestoreGuard;
    let mut terminal = ratatui::try_init()?;
    let mut app = App::new(args.admin.clone());
    let mut next_refresh = Instant::now() + Duration::from_secs(1);
    loop {
        // Apply what arrived, but keep the screen responsive under a flood.
        for u in urx.try_iter().take(50_000) {
            app.apply(u);
        }
        if let view::Link::Failed(why) = &app.link {
            // Nothing can be shown from here on (the network thread gave
            // up): leave, and say why once the terminal is restored.
            return Ok(Some(why.clone()));
        }
        app.now_ms = unix_ms();
        terminal.draw(|f| view::draw(f, &mut app))?;
        if Instant::now() >= next_refresh {
            for cmd in app.refresh_commands() {
                let _ = ctx.send(cmd);
            }
            next_refresh = Instant::now() + Duration::from_secs(1);
        }
        if event::poll(Duration::from_millis(200))? {
            // Handle every key already typed before redrawing.
            loop {
                if let TermEvent::Key(key) = event::read()? {
                    match app.on_key(key) {
                        Some(Action::Quit) => return Ok(None),
                        Some(Action::Send(cmd)) => {
                            let _ = ctx.send(cmd);
                        }
                        None => {}
                    }
                }
                if !event::poll(Duration::ZERO)? {
                    break;
                }
            }
        }
    }
}
