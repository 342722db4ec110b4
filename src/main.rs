//! The `stxchat` command line: `server`, `client`, `top`, `bench`, `cert` and
//! `passwd`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// stxchat: a chat server and terminal client over STX/CRC-32/ETX framing.
#[derive(Parser, Debug)]
#[command(name = "stxchat", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the chat server (single-threaded mio event loop).
    Server(Box<stxchat::server::ServerArgs>),
    /// Connect to a server and chat (full-screen, or plain lines for scripts).
    Client(stxchat::client::ClientArgs),
    /// Live operator view of waiting and connected clients.
    Top(stxchat::admin::TopArgs),
    /// Load generator: fan-out, many rooms, many idle connections.
    Bench(stxchat::bench::BenchArgs),
    /// Write a self-signed TLS certificate and key (for trying TLS out).
    Cert(stxchat::tls::cert::CertArgs),
    /// Add, change (password from the terminal or stdin) or delete a user
    /// of a --users file.
    Passwd(stxchat::accounts::passwd::PasswdArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        // `Cli` has no options of its own, so the server's flags are the
        // words after `server`; they are parsed again there, merged with
        // the config file (and again on SIGHUP).
        Command::Server(_) => stxchat::server::run(std::env::args_os().skip(2).collect()),
        Command::Client(a) => stxchat::client::run(a),
        Command::Top(a) => stxchat::admin::run_top(a),
        Command::Bench(a) => stxchat::bench::run(a),
        Command::Cert(a) => stxchat::tls::cert::run(a),
        Command::Passwd(a) => stxchat::accounts::passwd::run(a),
    }
}
