//! Placeholder for the bench subcommand (being built).

use std::process::ExitCode;

/// Arguments of `stxchat bench`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {}

/// Runs `stxchat bench`.
pub fn run(_args: BenchArgs) -> ExitCode {
    eprintln!("stxchat bench: not built yet");
    ExitCode::FAILURE
}
