//! `stxchat server` command-line flags (each also read from `STXCHAT_<FLAG>`
//! and from the `--config` file, see [`crate::server::config_file`]), turned
//! into a [`ServerConfig`].

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::admin::config::OptionalAddr;
use crate::core::{CoreConfig, RateLimit};
use crate::server::config::{ServerConfig, TlsListen};
use crate::server::config_file::{self, ConfigFileError, Resolved};
use crate::server::driver::Server;

/// Flags of `stxchat server`.
#[derive(clap::Args, Debug, Clone)]
pub struct ServerArgs {
    /// Address and port of the plain (unencrypted) listener; "off" serves
    /// TLS only (see --tls-bind).
    #[arg(long, env = "STXCHAT_BIND", default_value = "127.0.0.1:7878",
          value_parser = crate::admin::config::parse_optional_addr)]
    pub bind: OptionalAddr,
    /// Address and port of a TLS listener beside the plain one (needs
    /// --tls-cert and --tls-key).
    #[arg(long, env = "STXCHAT_TLS_BIND")]
    pub tls_bind: Option<SocketAddr>,
    /// PEM file of the TLS certificate chain (leaf first). Re-read on SIGHUP.
    #[arg(long, env = "STXCHAT_TLS_CERT", value_name = "PEM")]
    pub tls_cert: Option<PathBuf>,
    /// PEM file of the TLS private key. Re-read on SIGHUP.
    #[arg(long, env = "STXCHAT_TLS_KEY", value_name = "PEM")]
    pub tls_key: Option<PathBuf>,
    /// This node's name in logs, the admin channel, `stxchat top` and the
    /// `node` label of every metric (default: host name and PID, `HOST-PID`).
    /// At most 64 bytes, no white space.
    #[arg(long, env = "STXCHAT_NODE", value_name = "NAME",
          value_parser = crate::server::node_name::parse)]
    pub node: Option<String>,
    /// Join (or form) the cluster served by these NATS servers (with
    /// JetStream): `nats://HOST:PORT[,nats://HOST:PORT...]`. Every node
    /// must have the same limits, history, presence limit and password
    /// (docs/CLUSTER.md). Default: standalone.
    #[arg(long, env = "STXCHAT_CLUSTER", value_name = "URLS",
          value_parser = crate::cluster::relay::parse_servers)]
    pub cluster: Option<crate::cluster::relay::Servers>,
    /// Server name announced in WELCOME.
    #[arg(long, env = "STXCHAT_NAME", default_value = "stxchat")]
    pub name: String,
    /// Most open connections (pending and closing ones count). Default: the
    /// open-files limit minus a small reserve.
    #[arg(long, env = "STXCHAT_MAX_CONNECTIONS", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: Option<u64>,
    /// Most open connections from one IP address; 0 = no cap.
    #[arg(long, env = "STXCHAT_MAX_CONNECTIONS_PER_IP", default_value_t = 0)]
    pub max_connections_per_ip: usize,
    /// Largest frame payload in bytes (512..=65535), announced in WELCOME.
    #[arg(long, env = "STXCHAT_MAX_PAYLOAD", default_value_t = 4096,
          value_parser = clap::value_parser!(u16).range(512..))]
    pub max_payload: u16,
    /// Seconds a client has to complete HELLO after connecting.
    #[arg(long, env = "STXCHAT_HANDSHAKE_TIMEOUT", default_value_t = 10.0, value_parser = positive_secs)]
    pub handshake_timeout: f64,
    /// Keepalive period in seconds announced in WELCOME; a client silent for
    /// 1.5x this is closed. 0 = no keepalive.
    #[arg(long, env = "STXCHAT_KEEPALIVE", default_value_t = 60)]
    pub keepalive: u16,
    /// MESSAGEs kept per room and replayed to joiners.
    #[arg(long, env = "STXCHAT_HISTORY", default_value_t = 50)]
    pub history: usize,
    /// Room every client joins on registration; empty disables it.
    #[arg(long, env = "STXCHAT_DEFAULT_ROOM", default_value = "lobby")]
    pub default_room: String,
    /// Rooms one client may be in at once (the default room counts).
    #[arg(long, env = "STXCHAT_MAX_ROOMS_PER_CLIENT", default_value_t = 32,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_rooms_per_client: u32,
    /// Bytes that may wait for one connection before it is dropped as a slow
    /// consumer; at least (history + 2) x (max payload + 8).
    #[arg(long, env = "STXCHAT_MAX_OUTBUF", default_value_t = 1 << 20)]
    pub max_outbuf: usize,
    /// Per-connection SAY/WHISPER rate in messages per second (off by default).
    #[arg(long, env = "STXCHAT_RATE", value_parser = positive_secs)]
    pub rate: Option<f64>,
    /// Burst allowed by --rate (default: the rate rounded up, at least 1).
    #[arg(long, env = "STXCHAT_BURST",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub burst: Option<u32>,
    /// Presence limit: a room that a JOIN takes above this many members turns
    /// quiet (no JOINED/LEFT of others, a partial member list and a member
    /// count once a second); back to normal at half or fewer. 0 = never quiet.
    #[arg(long, env = "STXCHAT_PRESENCE_LIMIT", default_value_t = 1000)]
    pub presence_limit: usize,
    /// Password: the HELLO token must match it.
    #[arg(long, env = "STXCHAT_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Seconds between stats log lines; 0 = none.
    #[arg(long, env = "STXCHAT_STATS_INTERVAL", default_value_t = 10.0, value_parser = non_negative_secs)]
    pub stats_interval: f64,
    /// IRC gateway flags: --irc-bind, --irc-oper-password, --irc-motd.
    #[command(flatten)]
    pub irc: Box<IrcArgs>,
    /// Operator flags: --admin-bind, --admin-token, --admin-tls, --metrics-bind.
    #[command(flatten)]
    pub admin: Box<crate::admin::config::AdminArgs>,
    /// Web flags: --web-bind.
    #[command(flatten)]
    pub web: Box<crate::web::WebArgs>,
    /// Users file: `nick:<argon2id PHC>` lines (`stxchat passwd` writes
    /// it). A listed nick registers only with its own password as the HELLO
    /// token. Re-read on SIGHUP.
    #[arg(long, env = "STXCHAT_USERS", value_name = "FILE")]
    pub users: Option<PathBuf>,
    /// Only nicks listed in --users may register (others get auth_failed).
    #[arg(long, env = "STXCHAT_REGISTERED_ONLY")]
    pub registered_only: bool,
    /// Threads that check passwords (default: half the cores, 1..=4).
    #[arg(long, env = "STXCHAT_AUTH_WORKERS",
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub auth_workers: Option<u32>,
    /// Password checks that may wait for a worker; a HELLO beyond them gets
    /// server_full ("too many logins being checked").
    #[arg(long, env = "STXCHAT_AUTH_QUEUE", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub auth_queue: u32,
    /// TOML file of settings, keys named as these flags (`max-payload =
    /// 4096`); flags and environment variables take precedence over it.
    /// Re-read on SIGHUP.
    #[arg(long, env = "STXCHAT_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print the effective settings (as a config file, each with where it
    /// came from) and exit: 0 if they are valid, 2 if not.
    #[arg(long)]
    pub check_config: bool,
}

/// The `stxchat server` command alone (its flags, no subcommands): what the
/// config file's keys are looked up in.
pub fn server_command() -> clap::Command {
    use clap::Args;
    ServerArgs::augment_args(clap::Command::new("server").bin_name("stxchat server"))
}

/// Why the settings are refused (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The command line, environment or config file is wrong.
    #[error(transparent)]
    File(#[from] ConfigFileError),
    /// A combination of flags that does not make sense.
    #[error("{0}")]
    Flags(String),
    /// The engine refuses a value.
    #[error("{0}")]
    Core(#[from] crate::core::ConfigError),
    /// The operator settings are refused.
    #[error("{0}")]
    Admin(#[from] crate::admin::config::AdminConfigError),
    /// The TLS certificate or key cannot be used.
    #[error("{0}")]
    Tls(#[from] crate::tls::server::TlsSetupError),
    /// The users file is missing or has a bad line.
    #[error("{0}")]
    Users(#[from] crate::accounts::UsersError),
}

/// Everything `stxchat server` was told: the flags as parsed, where each
/// came from, and the checked settings (files read).
#[derive(Debug)]
pub struct Settings {
    /// The flags, environment and file merged.
    pub args: ServerArgs,
    /// Where each setting came from.
    pub resolved: Resolved,
    /// The server's settings, the users file loaded.
    pub config: ServerConfig,
}

/// The settings that `argv` (the words after `stxchat server`), the
/// environment and the config file describe, checked.
pub fn load_settings(argv: &[OsString]) -> Result<Settings, SettingsError> {
    use clap::FromArgMatches;
    let resolved = config_file::resolve(&server_command(), argv, "config")?;
    let args = ServerArgs::from_arg_matches(&resolved.matches).map_err(ConfigFileError::Cli)?;
    if args.burst.is_some() && args.rate.is_none() {
        return Err(SettingsError::Flags(
            "--burst requires --rate (a burst of an unlimited rate means nothing)".into(),
        ));
    }
    if args.registered_only && args.users.is_none() {
        return Err(SettingsError::Flags(
            "--registered-only requires --users (no nick could register)".into(),
        ));
    }
    if args.cluster.is_some() && args.irc.irc_bind.is_some() {
        return Err(SettingsError::Flags(
            "--irc-bind cannot be used with --cluster yet: IRC requests are not carried in \
             the cluster's order (docs/CLUSTER.md)"
                .into(),
        ));
    }
    let mut config = args.to_config();
    let admin_tls = args.admin.admin_tls;
    match (&args.tls_bind, &args.tls_cert, &args.tls_key) {
        (Some(bind), Some(cert), Some(key)) => {
            config.tls = Some(TlsListen {
                bind: *bind,
                cert: cert.clone(),
                key: key.clone(),
                config: crate::tls::server::load_server_config(cert, key)?,
            });
        }
        (None, None, None) => {}
        (Some(_), _, _) => {
            return Err(SettingsError::Flags(
                "--tls-bind needs --tls-cert and --tls-key".into(),
            ));
        }
        // The certificate of a TLS admin listener alone.
        (None, Some(_), Some(_)) if admin_tls => {}
        (None, _, _) if !admin_tls => {
            return Err(SettingsError::Flags(
                "--tls-cert and --tls-key need --tls-bind or --admin-tls (where to serve TLS)"
                    .into(),
            ));
        }
        (None, _, _) => {}
    }
    if admin_tls {
        config.admin.tls = Some(admin_tls_settings(&args, &config)?);
    }
    if args.bind.0.is_none() && config.tls.is_none() {
        return Err(SettingsError::Flags(
            "--bind off leaves nothing to listen on: add --tls-bind".into(),
        ));
    }
    config.core.validate()?;
    config.admin.validate()?;
    if let Some(path) = &args.users {
        config.core.users = Some(std::sync::Arc::new(crate::accounts::UserDb::load(path)?));
    }
    Ok(Settings {
        args,
        resolved,
        config,
    })
}

/// The admin listener's TLS (`--admin-tls`): the certificate and key of
/// `--tls-cert` / `--tls-key`, loaded once when the chat TLS listener has
/// them already.
fn admin_tls_settings(
    args: &ServerArgs,
    config: &ServerConfig,
) -> Result<crate::admin::config::AdminTls, SettingsError> {
    let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) else {
        return Err(SettingsError::Flags(
            "--admin-tls needs --tls-cert and --tls-key (the admin listener serves the same \
             certificate as the TLS chat listener)"
                .into(),
        ));
    };
    let loaded = match &config.tls {
        Some(t) => t.config.clone(),
        None => crate::tls::server::load_server_config(cert, key)?,
    };
    Ok(crate::admin::config::AdminTls {
        cert: cert.clone(),
        key: key.clone(),
        config: loaded,
    })
}

/// Flags of the IRC gateway (docs/IRC.md), each also read from `STXCHAT_<FLAG>`.
#[derive(clap::Args, Debug, Clone)]
pub struct IrcArgs {
    /// Address and port of the IRC gateway (off unless given).
    #[arg(long, env = "STXCHAT_IRC_BIND")]
    pub irc_bind: Option<SocketAddr>,
    /// Password of the IRC gateway's OPER command (OPER is refused without one).
    #[arg(long, env = "STXCHAT_IRC_OPER_PASSWORD", hide_env_values = true)]
    pub irc_oper_password: Option<String>,
    /// Message of the day for IRC clients (`|` separates lines; none: 422).
    #[arg(long, env = "STXCHAT_IRC_MOTD")]
    pub irc_motd: Option<String>,
}

impl IrcArgs {
    /// The IRC settings these flags describe, if the gateway is on.
    pub fn to_config(&self) -> Option<crate::server::config::IrcSettings> {
        self.irc_bind
            .map(|bind| crate::server::config::IrcSettings {
                bind,
                oper_password: self.irc_oper_password.clone().filter(|p| !p.is_empty()),
                motd: self
                    .irc_motd
                    .as_deref()
                    .map(|m| m.split('|').map(str::to_owned).collect())
                    .unwrap_or_default(),
            })
    }
}

fn non_negative_secs(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(format!("{s:?} must be zero or more"))
    }
}

fn positive_secs(s: &str) -> Result<f64, String> {
    let v = non_negative_secs(s)?;
    if v > 0.0 {
        Ok(v)
    } else {
        Err(format!("{s:?} must be more than zero"))
    }
}

impl ServerArgs {
    /// The settings these flags describe (validated when the server binds).
    pub fn to_config(&self) -> ServerConfig {
        let rate = self.rate.map(|per_sec| RateLimit {
            per_sec,
            burst: self.burst.unwrap_or((per_sec.ceil() as u32).max(1)),
        });
        ServerConfig {
            bind: self
                .bind
                .0
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0))),
            serve_plain: self.bind.0.is_some(),
            core: CoreConfig {
                server_name: self.name.clone(),
                max_payload: usize::from(self.max_payload),
                handshake_timeout_ms: (self.handshake_timeout * 1000.0) as u64,
                keepalive_secs: self.keepalive,
                history: self.history,
                default_room: Some(self.default_room.clone()).filter(|r| !r.is_empty()),
                max_rooms_per_client: self.max_rooms_per_client as usize,
                max_outbuf: self.max_outbuf,
                rate,
                password: self.password.clone().filter(|p| !p.is_empty()),
                max_connections: self.max_connections.unwrap_or(1) as usize,
                max_connections_per_ip: self.max_connections_per_ip,
                users: None,
                registered_only: self.registered_only,
                presence_limit: self.presence_limit,
            },
            auth_workers: self
                .auth_workers
                .map_or_else(crate::accounts::VerifyPool::default_threads, |n| n as usize),
            auth_queue: self.auth_queue as usize,
            auto_max_connections: self.max_connections.is_none(),
            stats_interval: Duration::from_secs_f64(self.stats_interval),
            admin: self.admin.to_config(),
            irc: self.irc.to_config(),
            web_bind: self.web.web_bind.and_then(|w| w.0),
            node: self
                .node
                .clone()
                .unwrap_or_else(crate::server::node_name::default_name),
            cluster: self.cluster.clone().map(|c| c.0).unwrap_or_default(),
            ..ServerConfig::default()
        }
    }
}

/// Sets up logging from `RUST_LOG` (default `info`) on stderr.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        // A closed stderr (e.g. `| tee` killed by the same Ctrl-C) must not
        // turn a failed log write into a panic.
        .log_internal_errors(false)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs `stxchat server` with `argv`, the words after `server`: exit 0
/// after a clean shutdown, 2 for bad settings, 1 if the server cannot start
/// or fails.
pub fn run(argv: Vec<OsString>) -> ExitCode {
    let Settings {
        args,
        resolved,
        config: cfg,
    } = match load_settings(&argv) {
        Ok(v) => v,
        Err(SettingsError::File(ConfigFileError::Cli(e))) => {
            let _ = e.print();
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("stxchat server: {e}");
            return ExitCode::from(2);
        }
    };
    if args.check_config {
        print!("{}", config_file::render(&server_command(), &resolved));
        println!("# settings are valid");
        return ExitCode::SUCCESS;
    }
    init_logging();
    let mut server = match Server::bind(cfg) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("stxchat server: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let values = config_file::values(&server_command(), &resolved);
    server.enable_reload(values, reload_from(argv));
    if let Err(e) = server.handle_signals() {
        eprintln!("stxchat server: cannot install signal handlers: {e}");
        return ExitCode::FAILURE;
    }
    log_settings(server.config());
    match server.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e)
            if e.get_ref()
                .is_some_and(|r| r.is::<crate::server::driver::ClusterRefused>()) =>
        {
            // The cluster cannot be joined (settings differ, NATS
            // unreachable): a settings problem, exit 2.
            eprintln!("stxchat server: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("stxchat server: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What a reload runs (on its own thread): the same words, environment
/// and files as at start, read and checked again.
fn reload_from(argv: Vec<OsString>) -> crate::server::reload::LoadFn {
    std::sync::Arc::new(move || {
        let s = load_settings(&argv).map_err(|e| e.to_string())?;
        Ok(crate::server::reload::Loaded {
            values: config_file::values(&server_command(), &s.resolved),
            config: s.config,
        })
    })
}

fn log_settings(cfg: &ServerConfig) {
    let c = &cfg.core;
    tracing::info!(
        target: "stxchat::server",
        "settings: node={:?} cluster={:?} bind={} name={:?} max_connections={} max_connections_per_ip={} max_payload={} \
         handshake_timeout={}ms keepalive={}s history={} default_room={:?} max_rooms_per_client={} \
         presence_limit={} max_outbuf={} rate={} password={} users={} registered_only={} \
         stats_interval={:?} web={}",
        cfg.node,
        cfg.cluster.join(","),
        cfg.bind,
        c.server_name,
        c.max_connections,
        c.max_connections_per_ip,
        c.max_payload,
        c.handshake_timeout_ms,
        c.keepalive_secs,
        c.history,
        c.default_room.as_deref().unwrap_or(""),
        c.max_rooms_per_client,
        c.presence_limit,
        c.max_outbuf,
        c.rate
            .map_or_else(|| "off".to_string(), |r| format!("{}/s burst {}", r.per_sec, r.burst)),
        if c.password.is_some() { "set" } else { "none" },
        c.users.as_ref().map_or(0, |u| u.len()),
        c.registered_only,
        cfg.stats_interval,
        cfg.web_bind
            .map_or_else(|| "off".to_string(), |a| a.to_string()),
    );
}
