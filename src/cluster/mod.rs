//! Clustering: several `stxchat server` processes serve one chat through
//! NATS JetStream (`docs/CLUSTER.md`). Without `--cluster` none of this runs.
//!
//! - [`link`]: the messages between the `mio` loop and the relay thread.
//! - [`envelope`]: the record format of the cluster's order.
//! - [`relay`]: the relay thread and the loop's handle on it;
//!   `relay_task` is its async work (the NATS side), `relay_connect` its
//!   start (connection, stream, subscriptions).
//! - Sans-IO pieces the relay uses: [`order`] (stream order from the
//!   feed), [`liveness`] (heartbeats in, dead peers out), [`chunks`]
//!   (snapshot transfer), [`settings`] (the shared settings, named, for a
//!   refusal that says which differ).

pub mod chunks;
pub mod envelope;
pub mod link;
pub mod liveness;
pub mod order;
pub mod relay;
pub(crate) mod relay_connect;
pub(crate) mod relay_task;
pub mod settings;
