//! The web front end: `--web-bind ADDR` serves a browser chat client
//! (`GET /`), a live operator page (`GET /admin`), and WebSocket upgrades
//! to the chat protocol (`GET /ws`) and to the admin channel
//! (`GET /admin/ws`), all on the server's one `mio` loop (docs/WEB.md).
//!
//! - [`http`]: request heads (httparse) within limits, routing, answers;
//! - [`ws`]: WebSocket framing of the chat byte stream, decoded in place;
//! - [`transport`]: a WebSocket connection's reads and writes;
//! - [`assets`]: the pages and scripts, embedded in the binary;
//! - [`listener`]: the listener and connections in their HTTP phase.
//!
//! Everything but `listener` and the socket half of `transport` is sans-IO.

pub mod assets;
pub mod http;
pub mod listener;
pub mod transport;
pub mod ws;

pub use http::Service;
pub use listener::{Upgraded, WebListener};
pub use transport::WsTransport;

use std::net::SocketAddr;

/// Web flags of `stxchat server` (boxed into its flags).
#[derive(clap::Args, Debug, Clone)]
pub struct WebArgs {
    /// Serve the browser chat client (/), the operator page (/admin) and
    /// WebSocket (/ws, /admin/ws) on this address ("off": not at all, the
    /// default). See docs/WEB.md.
    #[arg(long, env = "STXCHAT_WEB_BIND", value_parser = parse_web_bind)]
    pub web_bind: Option<WebBind>,
}

/// The `--web-bind` address, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebBind(pub Option<SocketAddr>);

fn parse_web_bind(s: &str) -> Result<WebBind, String> {
    let t = s.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("off") {
        return Ok(WebBind(None));
    }
    t.parse()
        .map(|a| WebBind(Some(a)))
        .map_err(|_| format!("{s:?} is not an address:port (or \"off\")"))
}
