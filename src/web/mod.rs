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
