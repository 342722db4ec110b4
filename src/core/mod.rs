//! The sans-IO chat engine: registration, nicks, rooms with history,
//! fan-out, limits and deadlines. Driven by plain calls with the time passed
//! in; its output (bytes per connection, connections to close) is collected
//! by the driver. No sockets here, so it is tested with function calls.

mod auth;
pub mod chunks;
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
pub mod rooms;
pub mod session;
pub mod timers;

pub use auth::VerifyOutcome;
pub use config::{ConfigError, CoreConfig, RateLimit};
pub use engine::{Engine, Now};
pub use observe::{RoomInfo, RoomSummary};
pub use session::{ConnId, Phase, Session};

#[cfg(test)]
mod auth_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_output;
#[cfg(test)]
mod tests_quiet;
