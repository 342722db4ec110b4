//! The cluster's metrics over real sockets: two nodes on a test's own
//! `nats-server -js`, node b's `/metrics` scraped while clients of both
//! nodes chat: the records-applied counter grows, every cluster family is
//! there with the node's label, the link is up and both nodes are counted.
//! A server that runs alone has no cluster families.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::cluster::node_config;
use common::nats::Nats;
use common::*;

/// GET `path` over HTTP/1.0; status and body.
fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect to metrics");
    s.set_read_timeout(Some(WAIT)).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read the answer");
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_owned());
    (status, body)
}

fn scrape(addr: SocketAddr) -> prometheus_parse::Scrape {
    let (status, body) = http_get(addr, "/metrics");
    assert_eq!(status, 200, "{body}");
    prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_owned()))).expect("metrics parse")
}

/// The value of the sample `name` (with `label` if given), if present.
fn value(s: &prometheus_parse::Scrape, name: &str, label: Option<(&str, &str)>) -> Option<f64> {
    s.samples
        .iter()
        .find(|x| x.metric == name && label.is_none_or(|(k, v)| x.labels.get(k) == Some(v)))
        .map(|x| match x.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => f64::NAN,
        })
}

/// Scrapes until `f` holds (at most [`WAIT`]); the scrape that held.
fn scrape_until(
    addr: SocketAddr,
    what: &str,
    mut f: impl FnMut(&prometheus_parse::Scrape) -> bool,
) -> prometheus_parse::Scrape {
    let deadline = Instant::now() + WAIT;
    loop {
        let s = scrape(addr);
        if f(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_node_exports_the_cluster_counters_and_they_grow() {
    let nats = Nats::start();
    let a = common::TestServer::start(node_config(&nats, "a"));
    let mut cfg = node_config(&nats, "b");
    cfg.admin.metrics_bind = Some("127.0.0.1:0".parse().unwrap());
    let b = common::TestServer::start(cfg);
    let metrics = b.metrics.expect("metrics on");

    let (mut alice, _) = Client::register(a.addr, "alice");
    let (mut bob, _) = Client::register(b.addr, "bob");
    // bob's claim is a record b applied before its WELCOME (alice's may
    // be in the snapshot b joined with).
    let first = scrape_until(metrics, "both nodes and bob's claim", |s| {
        value(s, "stxchat_cluster_nodes", None) == Some(2.0)
            && value(s, "stxchat_cluster_records_applied_total", None).unwrap_or(0.0) >= 1.0
    });
    let applied0 = value(&first, "stxchat_cluster_records_applied_total", None).unwrap();

    for i in 0..20 {
        alice.say("lobby", &format!("from a {i}"));
        bob.say("lobby", &format!("from b {i}"));
    }
    // Every SAY is a record node b applies.
    let s = scrape_until(metrics, "the 40 SAYs applied", |s| {
        value(s, "stxchat_cluster_records_applied_total", None).unwrap_or(0.0) >= applied0 + 40.0
    });
    let applied = value(&s, "stxchat_cluster_records_applied_total", None).unwrap();
    let received = value(&s, "stxchat_cluster_records_received_total", None).unwrap();
    assert!(received >= applied, "received {received} applied {applied}");
    let seq = value(&s, "stxchat_cluster_applied_sequence", None).unwrap();
    assert!(seq >= applied, "sequence {seq} applied {applied}");
    assert_eq!(value(&s, "stxchat_cluster_link_up", None), Some(1.0));
    // Every family is there (zeros on a quiet, healthy cluster).
    for name in [
        "stxchat_cluster_gap_fetched_total",
        "stxchat_cluster_gap_unrecoverable_total",
        "stxchat_cluster_resyncs_total",
        "stxchat_cluster_recovered_messages_total",
        "stxchat_cluster_unrecovered_rooms_total",
        "stxchat_cluster_replayed_records_total",
        "stxchat_cluster_invalid_records_total",
        "stxchat_cluster_unavailable_total",
        "stxchat_cluster_publishes_refused_total",
    ] {
        assert!(value(&s, name, None).is_some(), "{name} missing");
    }
    assert_eq!(
        value(&s, "stxchat_cluster_gap_unrecoverable_total", None),
        Some(0.0)
    );
    assert!(
        value(
            &s,
            "stxchat_cluster_bad_records_total",
            Some(("kind", "garbage"))
        )
        .is_some()
    );
    assert!(
        value(
            &s,
            "stxchat_cluster_ignored_total",
            Some(("kind", "feed_without_headers"))
        )
        .is_some()
    );
    // Every sample carries this node's name.
    for x in &s.samples {
        assert_eq!(x.labels.get("node"), Some("b"), "{}", x.metric);
    }
    drop(bob);
    drop(alice);
}

#[test]
fn a_server_alone_has_no_cluster_metrics() {
    let srv = start_with(|c| c.admin.metrics_bind = Some("127.0.0.1:0".parse().unwrap()));
    let s = scrape(srv.metrics.expect("metrics on"));
    assert!(value(&s, "stxchat_messages_total", None).is_some());
    assert!(
        s.samples
            .iter()
            .all(|x| !x.metric.starts_with("stxchat_cluster_")),
        "no cluster families when alone"
    );
}
