//! Placeholder for the server (being built).

use std::process::ExitCode;

/// Arguments of `stxchat server`.
#[derive(clap::Args, Debug)]
pub struct ServerArgs {}

/// Runs `stxchat server`.
pub fn run(_args: ServerArgs) -> ExitCode {
    eprintln!("stxchat server: not built yet");
    ExitCode::FAILURE
}
