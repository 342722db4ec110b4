//! Clustering: several `stxchat server` processes serve one chat through
//! NATS JetStream (`docs/CLUSTER.md`). Without `--cluster` none of this runs.
//!
//! - [`link`]: the messages between the `mio` loop and the relay thread.
//! - [`envelope`]: the record format of the cluster's order.

pub mod envelope;
pub mod link;
