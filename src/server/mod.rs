//! The chat server: a single-threaded `mio` event loop (`driver`) around the
//! sans-IO engine in [`crate::core`], its settings and command line.

pub mod cli;
pub mod config;
pub mod config_file;
pub mod conn;
pub mod driver;
pub mod fdlimit;
pub mod listener;
pub mod memory;
pub mod node_name;
pub mod reload;
pub mod shutdown;
pub mod stats;
pub mod transport;

pub use cli::{ServerArgs, run};
pub use config::ServerConfig;
pub use driver::{Server, ServerError};
pub use reload::ReloadHandle;
pub use shutdown::ShutdownHandle;
