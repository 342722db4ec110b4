//! Placeholder for the client subcommand (being built).

use std::process::ExitCode;

/// Arguments of `stxchat client`.
#[derive(clap::Args, Debug)]
pub struct ClientArgs {}

/// Runs `stxchat client`.
pub fn run(_args: ClientArgs) -> ExitCode {
    eprintln!("stxchat client: not built yet");
    ExitCode::FAILURE
}
