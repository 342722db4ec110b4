//! The operator channel: the admin wire protocol, the sans-IO admin session
//! the server runs, a blocking admin client, the Prometheus metrics
//! endpoint, and the `stxchat top` screen.

pub mod client;
pub mod config;
pub mod hub;
pub mod metrics;
pub mod proto;
pub mod rates;
pub mod service;

use std::process::ExitCode;

/// Arguments of `stxchat top`.
#[derive(clap::Args, Debug)]
pub struct TopArgs {}

/// Runs `stxchat top`.
pub fn run_top(_args: TopArgs) -> ExitCode {
    eprintln!("stxchat top: not built yet");
    ExitCode::FAILURE
}
