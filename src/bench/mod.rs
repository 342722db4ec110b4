//! `stxchat bench`: a load generator speaking the stxchat protocol over real
//! connections, in the manner of `nats bench` or `redis-benchmark`.
//!
//! Scenarios:
//! - `fanout`: one room, S members, P publishers, B-byte stamped texts for D
//!   seconds after a warm-up, as fast as the server takes them (bounded
//!   in-flight window) or at `--rate`; throughput, delivery ratio, latency.
//! - `rooms`: C clients over R rooms, a total publish rate; same report.
//! - `connect`: N registered idle connections (by default all in the
//!   server's default room); connect+register rate and the server's RSS per
//!   connection, optionally over several rounds of connecting and leaving
//!   (`--rounds`) with the time the server takes to settle after everyone
//!   leaves at once, optionally probed with messages every connection must
//!   receive (`--probe`); above one process's open-files limit spread over
//!   child processes ([`spread`]).
//!
//! `--tls` (with `--ca`, `--server-name`) runs any scenario over TLS,
//! verified as the client verifies ([`transport`]). `--bad-logins RATE`
//! adds a storm of wrong passwords beside `fanout` or `rooms` ([`storm`]).
//!
//! `--addr` may be given several times (the nodes of a cluster): see
//! [`nodes`] for how each scenario spreads its connections over them.
//!
//! Connections speak protocol version 2 (`--protocol 1` for version 1), and
//! every report counts the presence frames (JOINED, LEFT, MEMBERS) and the
//! quiet-room summaries (ROOM) they received.
//!
//! Every report carries the generator's own CPU and (with `--server-pid`) the
//! server's, from `/proc`, so it shows whether the generator was the limit.
//! The generator runs one `mio` event loop per thread (`--threads`, default
//! one per core); see [`worker`].

pub mod conn;
pub mod connect;
pub mod driver;
pub mod error;
pub mod nodes;
pub mod payload;
pub mod probe;
pub mod procstat;
pub mod progress;
pub mod report;
pub mod shared;
pub mod sources;
pub mod spread;
pub mod storm;
pub mod traffic;
pub mod transport;
pub mod worker;

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

pub use connect::{ConnectOpts, run_connect};
pub use driver::CommonOpts;
pub use error::BenchError;
pub use report::{ConnectReport, Latency, Report, TrafficReport};
pub use traffic::{FanoutOpts, PublishOpts, RoomsOpts, run_fanout, run_rooms};

/// Exit status of a run whose report shows failed connections or missing deliveries.
pub const EXIT_INCOMPLETE: u8 = 2;

/// Which workload to run.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// One room: S members, P publishers.
    Fanout,
    /// C clients over R rooms at a total publish rate.
    Rooms,
    /// N idle registered connections: connect rate, server memory per connection.
    Connect,
}

/// Arguments of `stxchat bench`.
#[derive(clap::Args, Debug, Clone)]
#[command(
    after_help = "Exit status: 0 when every connection got ready and every expected \
delivery arrived, 2 when the report shows failures or missing deliveries, 1 when no report could be made."
)]
pub struct BenchArgs {
    /// Workload.
    #[arg(value_enum)]
    pub scenario: Scenario,
    /// Everything else (boxed: the CLI's subcommand enum stays small).
    #[command(flatten)]
    pub opts: Box<BenchOptions>,
}

/// The options of `stxchat bench`.
#[derive(clap::Args, Debug, Clone)]
pub struct BenchOptions {
    /// Server address HOST:PORT. Give it several times for the nodes of a
    /// cluster: connections are spread over them round-robin; fanout puts
    /// its publishers on the first half of the addresses and its members on
    /// the other half (with two: publishers on the first, members on the
    /// second); rooms spreads each room's clients over all of them.
    #[arg(long, default_value = "127.0.0.1:7878", action = clap::ArgAction::Append)]
    pub addr: Vec<String>,
    /// fanout: members that only read (S).
    #[arg(short = 's', long, default_value_t = 100)]
    pub members: usize,
    /// fanout: publishers (P), also members of the room.
    #[arg(short = 'p', long, default_value_t = 4)]
    pub publishers: usize,
    /// fanout: extra members that join and never read (slow consumers).
    #[arg(long, default_value_t = 0)]
    pub slow: usize,
    /// rooms: clients (C), each publishing to and reading its room.
    #[arg(short = 'c', long, default_value_t = 10_000)]
    pub clients: usize,
    /// rooms: rooms (R); client i is in room i mod R.
    #[arg(short = 'r', long, default_value_t = 1_000)]
    pub rooms: usize,
    /// connect: connections (N).
    #[arg(short = 'n', long, default_value_t = 15_000)]
    pub connections: usize,
    /// Text bytes per message (B, at least 32: the first 31 carry phase, send time, publisher, sequence).
    #[arg(short = 'b', long, default_value_t = 64)]
    pub bytes: usize,
    /// Measured seconds (D).
    #[arg(short = 'd', long, default_value_t = 10.0)]
    pub duration: f64,
    /// Warm-up seconds before measuring.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// In-flight bound in messages per publisher (fanout: window x P x S deliveries
    /// not yet received; rooms: a client's messages not yet echoed); 0 = open loop.
    #[arg(long, default_value_t = 256)]
    pub window: u64,
    /// Total publish rate in msgs/s (fanout default: as fast as allowed; rooms default: 10000).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Most SAYs per write.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Most seconds to wait for in-flight messages after publishing stops.
    #[arg(long, default_value_t = 5.0)]
    pub drain: f64,
    /// fanout: write the window off after this many ms without a delivery.
    #[arg(long, default_value_t = 1000)]
    pub stall_ms: u64,
    /// connect: seconds to hold the connections before reading the server's RSS.
    #[arg(long, default_value_t = 2.0)]
    pub settle: f64,
    /// connect: rounds of connecting everyone and then closing every connection
    /// at once, on the same server (1..=100).
    #[arg(long, default_value_t = 1)]
    pub rounds: usize,
    /// Protocol version to say in HELLO (1 or 2).
    #[arg(long, default_value_t = crate::codec::PROTOCOL_V2)]
    pub protocol: u8,
    /// fanout: the room (default bench); rooms: room prefix (default bench: bench-0, bench-1, ...);
    /// connect: a room to join after registering (default none).
    #[arg(long)]
    pub room: Option<String>,
    /// Nick prefix; nicks are prefix + run id + connection number (keep it short: 13 bytes total is typical).
    #[arg(long, default_value = "sb")]
    pub nick_prefix: String,
    /// HELLO token, if the server has a password.
    #[arg(
        long,
        default_value = "",
        env = "STXCHAT_TOKEN",
        hide_env_values = true
    )]
    pub token: String,
    /// Speak TLS to every --addr, verifying the server's certificate as
    /// `stxchat client --tls` does: against the system's root certificates,
    /// or --ca. There is no way to skip the check. The handshake counts in
    /// the connect time; session resumption is off (every connection makes
    /// a full handshake).
    #[arg(long)]
    pub tls: bool,
    /// With --tls: trust the CA certificates in this PEM file instead of
    /// the system's (for a self-signed certificate: the certificate itself).
    #[arg(long, value_name = "PEM", requires = "tls")]
    pub ca: Option<std::path::PathBuf>,
    /// With --tls: the name the certificate must be valid for (default: the
    /// host of the first --addr).
    #[arg(long, value_name = "NAME", requires = "tls")]
    pub server_name: Option<String>,
    /// fanout, rooms: while the workload runs (warm-up and measured
    /// interval), open this many connections per second to the first --addr,
    /// each saying HELLO with a wrong password for a --bad-login-nick, and
    /// report how the server answered them (auth_failed; server_full because
    /// its password-check queue was full; timeout when the per-address
    /// slowdown or the queue held them past the handshake timeout) beside
    /// the workload's figures; over TLS with --tls. Bounded: RATE x
    /// (warm-up + duration) logins, at most 1,000,000; answers are awaited
    /// at most --handshake-timeout after the measured interval.
    #[arg(long, value_name = "RATE")]
    pub bad_logins: Option<f64>,
    /// With --bad-logins: an account of the server's users file (repeatable:
    /// used in turn).
    #[arg(long, value_name = "NICK", requires = "bad_logins", action = clap::ArgAction::Append)]
    pub bad_login_nick: Vec<String>,
    /// With --bad-logins: source addresses 127.1.0.1, 127.1.0.2, ... used in
    /// turn. 1 exercises the server's slowdown of repeated failures from one
    /// address; as many as there are bad logins bypasses it (each address
    /// fails once), so the password-check queue's bound is what holds; 0
    /// lets the kernel choose (for a server off loopback).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub bad_login_sources: usize,
    /// Print one JSON object instead of the table (and no progress line).
    #[arg(long)]
    pub json: bool,
    /// Generator threads (default: number of cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Server PID on this machine: its CPU and RSS from /proc go into the report.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Handshakes in flight at most.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Per-connection connect+handshake timeout, seconds.
    #[arg(long, default_value_t = 15.0)]
    pub handshake_timeout: f64,
    /// 127.0.0.x source addresses to spread connections over (0 = automatic:
    /// one per 10,000 connections to a loopback server).
    #[arg(long, default_value_t = 0)]
    pub sources: usize,
    /// connect: once everyone is registered, one more client says this many
    /// messages in the probe room; the report counts how many each idle
    /// connection received (all of them, or the run is incomplete).
    #[arg(long, default_value_t = 0)]
    pub probe: u64,
    /// connect: the room of the probes (default: --room, else lobby, the
    /// server's usual default room, where idle connections sit).
    #[arg(long)]
    pub probe_room: Option<String>,
    /// connect: seconds between two probe messages.
    #[arg(long, default_value_t = 0.1)]
    pub probe_interval: f64,
    /// connect: most connections one process holds (default: its open-files
    /// limit less 100). Above it the run starts child processes of this
    /// program, each holding a share, and merges their figures, so one
    /// command can hold 100,000 connections.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_clients_per_process: Option<u64>,
    /// Internal: this process is a child of a spread connect run; the
    /// run-wide id of its first connection.
    #[arg(long, hide = true, requires = "nick_base")]
    pub child_offset: Option<usize>,
    /// Internal: the nick base of the run a child belongs to.
    #[arg(long, hide = true, requires = "child_offset")]
    pub nick_base: Option<String>,
}

fn seconds(name: &str, v: f64) -> Result<Duration, BenchError> {
    Duration::try_from_secs_f64(v)
        .ok()
        .filter(|d| *d <= Duration::from_secs(24 * 3600))
        .ok_or_else(|| BenchError::InvalidOption(format!("--{name} must be 0..=86400 seconds")))
}

impl BenchArgs {
    fn common(&self) -> Result<CommonOpts, BenchError> {
        let addrs = self
            .opts
            .addr
            .iter()
            .map(|a| driver::resolve(a))
            .collect::<Result<Vec<_>, _>>()?;
        let mut c = CommonOpts::with_addrs(addrs);
        c.token = self.opts.token.clone();
        c.storm = self.opts.bad_logins.map(|rate| storm::StormOpts {
            rate,
            nicks: self.opts.bad_login_nick.clone(),
            sources: self.opts.bad_login_sources,
        });
        if self.opts.tls {
            let first = self.opts.addr.first().map_or("", String::as_str);
            c.tls = Some(transport::BenchTls::new(
                self.opts.ca.clone(),
                self.opts.server_name.clone(),
                first,
            )?);
        }
        c.version = self.opts.protocol;
        c.nick_prefix = self.opts.nick_prefix.clone();
        if let Some(t) = self.opts.threads {
            c.threads = t;
        }
        c.concurrency = self.opts.concurrency;
        c.handshake_timeout = seconds("handshake-timeout", self.opts.handshake_timeout)?;
        c.server_pid = self.opts.server_pid;
        c.sources = self.opts.sources;
        c.progress = !self.opts.json;
        Ok(c)
    }

    fn publish(&self, default_rate: f64) -> Result<PublishOpts, BenchError> {
        Ok(PublishOpts {
            bytes: self.opts.bytes,
            warmup: seconds("warmup", self.opts.warmup)?,
            duration: seconds("duration", self.opts.duration)?,
            window: self.opts.window,
            rate: self.opts.rate.unwrap_or(default_rate),
            batch: self.opts.batch,
            drain: seconds("drain", self.opts.drain)?,
            stall: Duration::from_millis(self.opts.stall_ms),
        })
    }

    /// Runs the scenario these arguments name.
    pub fn execute(&self) -> Result<Report, BenchError> {
        let common = self.common()?;
        match self.scenario {
            Scenario::Fanout => {
                let mut o = FanoutOpts::new(common);
                o.publish = self.publish(0.0)?;
                o.members = self.opts.members;
                o.publishers = self.opts.publishers;
                o.slow = self.opts.slow;
                if let Some(r) = &self.opts.room {
                    o.room = r.clone();
                }
                run_fanout(&o).map(Report::Traffic)
            }
            Scenario::Rooms => {
                let mut o = RoomsOpts::new(common);
                o.publish = self.publish(o.publish.rate)?;
                o.clients = self.opts.clients;
                o.rooms = self.opts.rooms;
                if let Some(r) = &self.opts.room {
                    o.room_prefix = r.clone();
                }
                run_rooms(&o).map(Report::Traffic)
            }
            Scenario::Connect => run_connect(&self.connect_opts(common)?).map(Report::Connect),
        }
    }

    fn connect_opts(&self, common: CommonOpts) -> Result<ConnectOpts, BenchError> {
        let mut o = ConnectOpts::new(common);
        o.connections = self.opts.connections;
        o.room = self.opts.room.clone();
        o.settle = seconds("settle", self.opts.settle)?;
        o.rounds = self.opts.rounds;
        o.probe = self.opts.probe;
        o.probe_room = self.opts.probe_room.clone();
        o.probe_interval = seconds("probe-interval", self.opts.probe_interval)?;
        o.max_per_process = self.opts.max_clients_per_process.map(|n| n as usize);
        Ok(o)
    }

    /// The child side of a spread run, if these are a child's arguments.
    fn child(&self) -> Option<spread::ChildSpec> {
        Some(spread::ChildSpec {
            offset: self.opts.child_offset?,
            nick_base: self.opts.nick_base.clone()?,
        })
    }
}

/// Runs `stxchat bench`: prints the table (or JSON) and returns the exit status.
pub fn run(args: BenchArgs) -> ExitCode {
    if let Some(spec) = args.child() {
        let run = args
            .common()
            .and_then(|c| args.connect_opts(c))
            .and_then(|o| spread::run_child(&o, &spec));
        return match run {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("stxchat bench (child): {e}");
                ExitCode::FAILURE
            }
        };
    }
    match args.execute() {
        Ok(report) => {
            let text = if args.opts.json {
                report.to_json() + "\n"
            } else {
                report.to_table()
            };
            let mut out = std::io::stdout().lock();
            if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                eprintln!("stxchat bench: cannot write the report: {e}");
                return ExitCode::FAILURE;
            }
            if report.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_INCOMPLETE)
            }
        }
        Err(e) => {
            eprintln!("stxchat bench: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    #[test]
    fn defaults_match_the_issue() {
        let a = Cli::parse_from(["bench", "fanout"]).bench;
        assert_eq!(a.scenario, Scenario::Fanout);
        let o = &a.opts;
        assert_eq!((o.members, o.publishers, o.bytes), (100, 4, 64));
        assert_eq!(o.duration, 10.0);
        assert_eq!((o.clients, o.rooms, o.connections), (10_000, 1_000, 15_000));
        assert_eq!(o.rate, None);
        let p = a.publish(0.0).unwrap();
        assert_eq!(p.rate, 0.0);
        assert_eq!(p.window, 256);
    }

    #[test]
    fn options_map_onto_scenario_options() {
        let a = Cli::parse_from([
            "bench",
            "rooms",
            "--addr",
            "127.0.0.1:9000",
            "-c",
            "20",
            "-r",
            "5",
            "--rate",
            "100",
            "--threads",
            "3",
            "--json",
            "--room",
            "r",
        ])
        .bench;
        let c = a.common().unwrap();
        assert_eq!(c.addrs.len(), 1);
        assert_eq!(c.addrs[0].port(), 9000);
        let two = Cli::parse_from([
            "bench",
            "fanout",
            "--addr",
            "127.0.0.1:9000",
            "--addr",
            "127.0.0.1:9001",
        ])
        .bench;
        let c2 = two.common().unwrap();
        assert_eq!(
            c2.addrs.iter().map(|a| a.port()).collect::<Vec<_>>(),
            [9000, 9001]
        );
        assert_eq!(c2.addr_list(), "127.0.0.1:9000,127.0.0.1:9001");
        assert_eq!(c.threads, 3);
        assert!(!c.progress, "--json hides the progress line");
        assert_eq!(a.publish(10_000.0).unwrap().rate, 100.0);
        let bad = Cli::parse_from(["bench", "fanout", "--warmup=-1"]).bench;
        assert!(bad.publish(0.0).is_err());
    }
}
