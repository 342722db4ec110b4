//! Cluster nodes for the tests: in-process servers (or child processes,
//! where a node must be killed) joined to a test's own `nats-server`, and
//! helpers to read what a client receives.

use std::time::{Duration, Instant};

use super::nats::Nats;
use super::{ChildServer, Client, Msg, TestServer, config};
use stxchat::server::ServerConfig;

/// The test settings of a node named `name` in the cluster of `nats`.
pub fn node_config(nats: &Nats, name: &str) -> ServerConfig {
    let mut cfg = config();
    cfg.cluster = vec![nats.url()];
    cfg.node = name.into();
    cfg
}

/// An in-process node.
pub fn node(nats: &Nats, name: &str) -> TestServer {
    TestServer::start(node_config(nats, name))
}

/// A node in a child process (`stxchat server --cluster ... --node name`).
pub fn child_node(nats: &Nats, name: &str, extra: &[&str]) -> ChildServer {
    let url = nats.url();
    let mut args = vec!["--cluster", &url, "--node", name];
    args.extend_from_slice(extra);
    ChildServer::start(&args, None)
}

/// Receives until `f` matches (at most `wait`); the messages before it and
/// the match.
pub fn recv_until(
    c: &mut Client,
    what: &str,
    wait: Duration,
    mut f: impl FnMut(&Msg) -> bool,
) -> (Vec<Msg>, Msg) {
    let deadline = Instant::now() + wait;
    let mut before = Vec::new();
    loop {
        assert!(
            Instant::now() < deadline,
            "{}: timed out waiting for {what} (got {before:?})",
            c.nick
        );
        let m = c.recv();
        if f(&m) {
            return (before, m);
        }
        before.push(m);
    }
}

/// The nicks of every MEMBERS frame of `room` in `msgs`, sorted.
pub fn member_nicks(msgs: &[Msg], room: &str) -> Vec<String> {
    let mut v: Vec<String> = msgs
        .iter()
        .filter_map(|m| match m {
            Msg::Members { room: r, nicks, .. } if r == room => Some(nicks.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    v.sort();
    v
}

/// The (seq, from, text) of every MESSAGE of `room` in `msgs`.
pub fn messages(msgs: &[Msg], room: &str) -> Vec<(u64, String, String)> {
    msgs.iter()
        .filter_map(|m| match m {
            Msg::Message {
                seq,
                room: r,
                from,
                text,
                ..
            } if r == room => Some((*seq, from.clone(), text.clone())),
            _ => None,
        })
        .collect()
}
