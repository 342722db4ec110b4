//! Per-user accounts: the users file (`nick:<argon2id PHC>` lines), password
//! hashing and checking, the worker pool that checks passwords off the event
//! loop, the per-address slowdown of repeated failures, and the `stxchat
//! passwd` command that edits the file.

pub mod hash;
pub mod passwd;
pub mod pool;
pub mod throttle;
pub mod users;

pub use hash::{cheap_params, default_params, hash_password, verify_password};
pub use pool::{Verdict, VerifyJob, VerifyPool};
pub use throttle::FailureThrottle;
pub use users::{UserDb, UsersError};
