//! The server's operator settings: the admin listener, its token, whether
//! it speaks TLS, and the metrics endpoint, with their command-line flags
//! (flattened into `stxchat server`'s).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// The admin listener's address on the command line (`--admin-bind`).
pub const DEFAULT_ADMIN_BIND: &str = "127.0.0.1:7879";

/// Operator settings of a server.
///
/// The library default has everything off (so in-process servers in tests
/// never fight over a fixed port); the command line's default turns the
/// admin listener on at [`DEFAULT_ADMIN_BIND`].
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AdminConfig {
    /// Where the admin listener binds; `None` = no admin listener.
    pub bind: Option<SocketAddr>,
    /// Token an admin session must AUTH with; required for a non-loopback bind.
    pub token: Option<String>,
    /// Where the Prometheus endpoint binds; `None` = off.
    pub metrics_bind: Option<SocketAddr>,
    /// The admin listener speaks TLS with this certificate (`--admin-tls`:
    /// the one of `--tls-cert` / `--tls-key`); `None` = plain TCP.
    pub tls: Option<AdminTls>,
}

/// The certificate the admin listener serves (`--admin-tls`): the files it
/// came from (re-read on reload) and the rustls settings loaded from them.
#[derive(Clone)]
pub struct AdminTls {
    /// The certificate chain's PEM file (`--tls-cert`).
    pub cert: PathBuf,
    /// The private key's PEM file (`--tls-key`).
    pub key: PathBuf,
    /// The settings loaded from them (see [`crate::tls::server::load_server_config`]).
    pub config: Arc<rustls::ServerConfig>,
}

impl PartialEq for AdminTls {
    /// The same files (the loaded settings are not compared).
    fn eq(&self, other: &Self) -> bool {
        self.cert == other.cert && self.key == other.key
    }
}

impl Eq for AdminTls {}

impl std::fmt::Debug for AdminTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminTls")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish()
    }
}

impl std::fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminConfig")
            .field("bind", &self.bind)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("metrics_bind", &self.metrics_bind)
            .field("tls", &self.tls)
            .finish()
    }
}

/// An operator setting the server refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminConfigError {
    /// The admin listener would be reachable from other hosts without a token.
    #[error(
        "--admin-bind {0} is not a loopback address: set --admin-token too (or bind to 127.0.0.1)"
    )]
    TokenRequired(SocketAddr),
    /// The token does not fit the AUTH message's `str8`.
    #[error("--admin-token is {0} bytes long; at most 255 are allowed")]
    TokenTooLong(usize),
    /// TLS for an admin listener that is off.
    #[error("--admin-tls needs the admin listener, but --admin-bind is off")]
    TlsWithoutListener,
}

impl AdminConfig {
    /// The token in force (an empty one counts as none).
    pub fn effective_token(&self) -> Option<&str> {
        self.token.as_deref().filter(|t| !t.is_empty())
    }

    /// Checks the settings: a non-loopback admin bind needs a token, TLS
    /// needs the listener.
    pub fn validate(&self) -> Result<(), AdminConfigError> {
        if let Some(t) = self.effective_token()
            && t.len() > 255
        {
            return Err(AdminConfigError::TokenTooLong(t.len()));
        }
        if self.tls.is_some() && self.bind.is_none() {
            return Err(AdminConfigError::TlsWithoutListener);
        }
        match self.bind {
            Some(addr) if !addr.ip().is_loopback() && self.effective_token().is_none() => {
                Err(AdminConfigError::TokenRequired(addr))
            }
            _ => Ok(()),
        }
    }
}

/// An address flag that may also be `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionalAddr(pub Option<SocketAddr>);

/// Parses an address, or `off` / `none` / empty for none.
pub fn parse_optional_addr(s: &str) -> Result<OptionalAddr, String> {
    let t = s.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("off") || t.eq_ignore_ascii_case("none") {
        return Ok(OptionalAddr(None));
    }
    t.parse()
        .map(|a| OptionalAddr(Some(a)))
        .map_err(|_| format!("{s:?} is not an address:port (or \"off\")"))
}

/// Operator flags of `stxchat server` (each also read from `STXCHAT_<FLAG>`).
#[derive(clap::Args, Debug, Clone)]
pub struct AdminArgs {
    /// Address of the admin listener used by `stxchat top` ("off" disables it).
    /// A non-loopback address requires --admin-token.
    #[arg(long, env = "STXCHAT_ADMIN_BIND", default_value = DEFAULT_ADMIN_BIND,
          value_parser = parse_optional_addr)]
    pub admin_bind: OptionalAddr,
    /// Token admin sessions must present (AUTH) before anything else.
    #[arg(long, env = "STXCHAT_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// The admin listener speaks TLS, with the certificate and key of
    /// --tls-cert and --tls-key (`stxchat top --tls` connects to it).
    /// Needs a restart to change; the certificate is re-read on SIGHUP.
    #[arg(long, env = "STXCHAT_ADMIN_TLS")]
    pub admin_tls: bool,
    /// Serve Prometheus metrics at http://ADDR/metrics (off by default).
    /// Always plain HTTP: bind it to loopback or put it behind a proxy.
    #[arg(long, env = "STXCHAT_METRICS_BIND", value_parser = parse_optional_addr)]
    pub metrics_bind: Option<OptionalAddr>,
}

impl AdminArgs {
    /// The settings these flags describe (checked by [`AdminConfig::validate`]).
    /// `tls` stays `None`: the certificate is loaded with the server's own
    /// (`--tls-cert`, `--tls-key`; see [`crate::server::cli::load_settings`]).
    pub fn to_config(&self) -> AdminConfig {
        AdminConfig {
            bind: self.admin_bind.0,
            token: self.admin_token.clone().filter(|t| !t.is_empty()),
            metrics_bind: self.metrics_bind.and_then(|a| a.0),
            tls: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        admin: AdminArgs,
    }

    fn parse(args: &[&str]) -> Result<AdminConfig, clap::Error> {
        let mut v = vec!["test"];
        v.extend_from_slice(args);
        Cli::try_parse_from(v).map(|c| c.admin.to_config())
    }

    #[test]
    fn defaults_bind_loopback_without_metrics() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.bind, Some(DEFAULT_ADMIN_BIND.parse().unwrap()));
        assert_eq!(c.token, None);
        assert_eq!(c.metrics_bind, None);
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(AdminConfig::default().bind, None);
    }

    #[test]
    fn off_disables_and_bad_addresses_are_refused() {
        assert_eq!(parse(&["--admin-bind", "off"]).unwrap().bind, None);
        let c = parse(&["--metrics-bind", "127.0.0.1:9100"]).unwrap();
        assert_eq!(c.metrics_bind, Some("127.0.0.1:9100".parse().unwrap()));
        assert!(parse(&["--admin-bind", "localhost"]).is_err());
    }

    #[test]
    fn a_non_loopback_bind_needs_a_token() {
        let c = parse(&["--admin-bind", "0.0.0.0:7879"]).unwrap();
        assert_eq!(
            c.validate(),
            Err(AdminConfigError::TokenRequired(
                "0.0.0.0:7879".parse().unwrap()
            ))
        );
        let c = parse(&["--admin-bind", "0.0.0.0:7879", "--admin-token", ""]).unwrap();
        assert!(c.validate().is_err(), "an empty token is no token");
        let c = parse(&["--admin-bind", "0.0.0.0:7879", "--admin-token", "t"]).unwrap();
        assert_eq!(c.validate(), Ok(()));
        let c = parse(&["--admin-bind", "[::1]:7879"]).unwrap();
        assert_eq!(c.validate(), Ok(()));
        let long = "x".repeat(256);
        let c = parse(&["--admin-token", &long]).unwrap();
        assert_eq!(c.validate(), Err(AdminConfigError::TokenTooLong(256)));
    }

    #[test]
    fn admin_tls_is_a_flag_and_needs_the_listener() {
        let args = |v: &[&str]| {
            let mut all = vec!["test"];
            all.extend_from_slice(v);
            Cli::try_parse_from(all).unwrap().admin
        };
        assert!(!args(&[]).admin_tls);
        assert!(args(&["--admin-tls"]).admin_tls);
        // The certificate is loaded with the server's own, not here.
        assert_eq!(args(&["--admin-tls"]).to_config().tls, None);
        let now = time::OffsetDateTime::now_utc();
        let (cert, key) = crate::tls::cert::self_signed(
            &["localhost".into()],
            now - time::Duration::days(1),
            now + time::Duration::days(1),
        )
        .unwrap();
        let dir = std::env::temp_dir().join(format!(
            "stxchat-admin-config-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let (c, k) = (dir.join("c.pem"), dir.join("k.pem"));
        std::fs::write(&c, cert).unwrap();
        std::fs::write(&k, key).unwrap();
        let tls = AdminTls {
            config: crate::tls::server::load_server_config(&c, &k).unwrap(),
            cert: c,
            key: k,
        };
        let mut cfg = parse(&[]).unwrap();
        cfg.tls = Some(tls.clone());
        assert_eq!(cfg.validate(), Ok(()));
        cfg.bind = None;
        assert_eq!(cfg.validate(), Err(AdminConfigError::TlsWithoutListener));
        assert!(
            format!("{cfg:?}").contains("c.pem"),
            "files shown, not the key"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
