//! Clustering: several `stxchat server` processes serve one chat through
//! NATS JetStream (`docs/CLUSTER.md`). Without `--cluster` none of this runs.
//!
//! - [`link`]: the messages between the `mio` loop and the relay thread.

pub mod link;
