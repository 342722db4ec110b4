//! stxchat: a chat server and terminal client speaking the STX / CRC-32 / ETX
//! framed protocol described in `docs/PROTOCOL.md`.
//!
//! Layers, bottom up:
//! - [`codec`]: frames and typed messages, no I/O.
//! - [`core`]: the sans-IO chat engine (registration, rooms, fan-out, limits).
//! - [`server`]: the single-threaded `mio` driver around the engine.
//! - [`client`]: the terminal client (full-screen and plain modes).
//! - [`accounts`]: the users file, password hashing, the check pool.
//! - [`admin`]: the operator channel, `stxchat top` and Prometheus metrics.
//! - [`tls`]: rustls settings (certificates, roots) and `stxchat cert`.
//! - [`bench`]: the load generator behind `stxchat bench`.
//! - [`web`]: the browser chat client, operator page and WebSocket listener.
//! - [`cluster`]: many servers, one chat, through NATS JetStream.

pub mod accounts;
pub mod admin;
pub mod bench;
pub mod client;
pub mod cluster;
pub mod codec;
pub mod core;
pub mod irc;
pub mod server;
pub mod tls;
pub mod web;
