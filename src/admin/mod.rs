//! Placeholder for the operator channel and `stxchat top` (being built).

use std::process::ExitCode;

/// Arguments of `stxchat top`.
#[derive(clap::Args, Debug)]
pub struct TopArgs {}

/// Runs `stxchat top`.
pub fn run_top(_args: TopArgs) -> ExitCode {
    eprintln!("stxchat top: not built yet");
    ExitCode::FAILURE
}
