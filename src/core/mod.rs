//! The sans-IO chat engine: registration, nicks, rooms with history,
//! fan-out, limits and deadlines. Driven by plain calls with the time passed
//! in; its output (bytes per connection, connections to close) is collected
//! by the driver. No sockets here, so it is tested with function calls.

mod apply;
mod auth;
pub mod chunks;
pub mod cluster;
pub mod config;
pub mod engine;
pub mod gateway;
mod handlers;
mod nicks;
pub mod observe;
mod operator;
pub mod outbuf;
mod quiet;
pub mod rate;
pub mod reconfigure;
mod replica;
pub mod rooms;
pub mod session;
pub mod snapshot;
pub mod timers;

pub use auth::{BUSY_DETAIL, VerifyOutcome};
pub use cluster::{ClusterStats, PROPOSAL_WAIT_MS};
pub use config::{ConfigError, CoreConfig, RateLimit};
pub use engine::{Engine, Now};
pub use observe::{RoomInfo, RoomSummary};
pub use session::{ConnId, Phase, Session};
pub use snapshot::SnapshotError;

#[cfg(test)]
mod auth_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_cluster;
#[cfg(test)]
mod tests_cluster2;
#[cfg(test)]
mod tests_output;
#[cfg(test)]
mod tests_quiet;
