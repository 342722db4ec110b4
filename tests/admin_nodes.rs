//! The node name and the cluster's node list through the operator view,
//! over real sockets: the NODES request of the admin channel, the `node`
//! label of every metric, `stxchat top --once --json`, and a node list set
//! on the engine (as the cluster relay's glue does) reaching the admin
//! channel.

mod admin_support;
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use admin_support::*;
use stxchat::admin::client::AdminClient;
use stxchat::admin::config::AdminConfig;
use stxchat::admin::hub::AdminHub;
use stxchat::cluster::link::NodeInfo;
use stxchat::core::{CoreConfig, Engine, Now};

fn scrape(addr: std::net::SocketAddr) -> prometheus_parse::Scrape {
    let (status, body) = http_get(addr, "/metrics");
    assert_eq!(status, 200);
    prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_owned()))).expect("metrics parse")
}

#[test]
fn a_standalone_server_names_its_node_everywhere() {
    let mut cfg = admin_config();
    cfg.node = "edge-7".into();
    cfg.admin.metrics_bind = Some("127.0.0.1:0".parse().unwrap());
    let srv = AdminServer::start(cfg);
    let mut admin = srv.client(None);
    let page = admin.nodes(10).expect("NODES answered");
    assert_eq!(page.node, "edge-7");
    assert!(page.entries.is_empty(), "no cluster: {page:?}");
    assert!(!page.more);
    // Every metric carries the node label.
    let s = scrape(srv.metrics.expect("metrics on"));
    assert!(!s.samples.is_empty());
    for sample in &s.samples {
        assert_eq!(
            sample.labels.get("node"),
            Some("edge-7"),
            "{}",
            sample.metric
        );
    }
    // top --once --json and the text report name it too.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stxchat"))
        .args(["top", "--admin", &srv.admin.to_string(), "--once", "--json"])
        .env_remove("STXCHAT_ADMIN")
        .env_remove("STXCHAT_ADMIN_TOKEN")
        .output()
        .expect("run top");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["node"], "edge-7");
    assert_eq!(v["nodes"], serde_json::json!([]));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stxchat"))
        .args(["top", "--admin", &srv.admin.to_string(), "--once"])
        .env_remove("STXCHAT_ADMIN")
        .env_remove("STXCHAT_ADMIN_TOKEN")
        .output()
        .expect("run top");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("node edge-7"), "{text}");
    assert!(!text.contains("NODES"), "{text}");
}

fn now(start: Instant) -> Now {
    Now {
        mono_ms: start.elapsed().as_millis() as u64,
        unix_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
    }
}

fn node(id: u64, name: &str, connected: u32, applied: u64) -> NodeInfo {
    NodeInfo {
        id,
        name: name.into(),
        connected,
        applied,
        fingerprint: 0xfeed,
    }
}

/// An admin hub on a loop of its own around an engine whose node list the
/// test sets, as the server's driver does when the relay reports peers.
#[test]
fn the_node_list_set_on_the_engine_reaches_nodes_answers() {
    let poll = mio::Poll::new().unwrap();
    let cfg = AdminConfig {
        bind: Some("127.0.0.1:0".parse().unwrap()),
        ..AdminConfig::default()
    };
    let mut hub = AdminHub::bind(&cfg, "b", poll.registry()).expect("hub binds");
    let addr = hub.admin_addr().unwrap();
    let mut engine: Engine<()> = Engine::new(CoreConfig::default()).unwrap();
    assert!(engine.cluster_nodes().is_empty());
    let nodes = vec![node(11, "a", 19_000, 500), node(22, "b", 7, 499)];
    engine.set_cluster_nodes(nodes.clone());
    assert_eq!(engine.cluster_nodes(), &nodes[..]);
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = Arc::clone(&stop);
    let looper = std::thread::spawn(move || {
        let mut poll = poll;
        let start = Instant::now();
        let mut events = mio::Events::with_capacity(64);
        let deadline = Instant::now() + WAIT;
        while !stop2.load(Ordering::Relaxed) && Instant::now() < deadline {
            let _ = poll.poll(&mut events, Some(Duration::from_millis(10)));
            for ev in &events {
                if hub.owns(ev.token()) {
                    hub.on_event(ev);
                }
            }
            hub.turn(&mut engine, poll.registry(), now(start));
        }
        hub.shutdown(poll.registry());
    });
    let mut admin = AdminClient::connect(&addr.to_string(), None, WAIT).expect("connect");
    let page = admin.nodes(10).unwrap();
    assert_eq!(page.node, "b");
    let got: Vec<(u64, &str, u32, u64)> = page
        .entries
        .iter()
        .map(|e| (e.id, e.name.as_str(), e.connected, e.applied))
        .collect();
    assert_eq!(got, [(11, "a", 19_000, 500), (22, "b", 7, 499)]);
    let one = admin.nodes(1).unwrap();
    assert_eq!(one.entries.len(), 1);
    assert!(one.more);
    stop.store(true, Ordering::Relaxed);
    looper.join().unwrap();
}
