//! The operator channel: the admin wire protocol ([`proto`]), the sans-IO
//! admin session ([`service`]) and its hook in the server loop ([`hub`]),
//! the per-second rates ([`rates`]), the room listing ([`rooms`]), the
//! node name and cluster node list ([`nodes`]), a
//! blocking admin client ([`client`]) over plain TCP or TLS ([`link`]),
//! the Prometheus endpoint ([`metrics`], the cluster's families in
//! [`cluster_metrics`]), the operator flags ([`config`]),
//! and the `stxchat top` screen ([`top`]). Documented in `docs/ADMIN.md`.

pub mod client;
pub mod cluster_metrics;
pub mod config;
pub mod hub;
pub mod link;
pub mod metrics;
pub mod nodes;
pub mod proto;
pub mod rates;
pub mod rooms;
pub mod service;
pub mod top;

pub use top::{TopArgs, run_top};
