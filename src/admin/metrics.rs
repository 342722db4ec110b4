//! The Prometheus endpoint (`--metrics-bind ADDR`, path `/metrics`).
//!
//! The event loop never renders or serves anything: it hands a copy of its
//! counters (and the number of quiet rooms) to a [`MetricsPublisher`] a few
//! times a second (a `try_lock`,
//! skipped if a scrape holds the lock at that instant). A [`MetricsServer`]
//! (tiny_http, its own threads) renders the latest copy with
//! `prometheus-client` on each scrape. Every metric is listed in
//! `docs/ADMIN.md`; each carries a `node` label, the server's `--node` name.
//! In cluster mode the copy also holds the cluster's counters
//! ([`crate::admin::cluster_metrics`]); a server that runs alone has none.

use std::borrow::Cow;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};

use crate::admin::cluster_metrics::{ClusterMetrics, encode_cluster};
use crate::codec::ErrorCode;
use crate::core::observe::Counters;

/// The HTTP path the metrics are served at.
pub const METRICS_PATH: &str = "/metrics";

/// The content type of the OpenMetrics text format `prometheus-client` writes.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What the event loop hands to the metrics endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Published {
    /// The engine's counters.
    pub counters: Counters,
    /// Rooms that are quiet now (protocol version 2).
    pub quiet_rooms: u64,
    /// The cluster's counters (`None` for a server that runs alone).
    pub cluster: Option<ClusterMetrics>,
}

/// The latest counters, shared between the event loop (writer) and the
/// metrics thread (reader).
#[derive(Debug, Clone, Default)]
pub struct MetricsPublisher {
    shared: Arc<Mutex<Published>>,
}

impl MetricsPublisher {
    /// A publisher holding zeroed counters.
    pub fn new() -> Self {
        MetricsPublisher::default()
    }

    /// Stores a copy of `counters`, the quiet-room count and, in cluster
    /// mode, the cluster's counters; returns false (and stores nothing) if
    /// a scrape holds the lock right now, so the caller never waits.
    pub fn publish(
        &self,
        counters: &Counters,
        quiet_rooms: u64,
        cluster: Option<&ClusterMetrics>,
    ) -> bool {
        let store = |p: &mut Published| {
            p.counters.clone_from(counters);
            p.quiet_rooms = quiet_rooms;
            match (&mut p.cluster, cluster) {
                (Some(mine), Some(theirs)) => mine.clone_from(theirs),
                (mine, theirs) => *mine = theirs.cloned(),
            }
        };
        match self.shared.try_lock() {
            Ok(mut p) => {
                store(&mut p);
                true
            }
            Err(std::sync::TryLockError::Poisoned(p)) => {
                store(&mut p.into_inner());
                true
            }
            Err(std::sync::TryLockError::WouldBlock) => false,
        }
    }

    /// A copy of the last values published.
    pub fn latest(&self) -> Published {
        match self.shared.lock() {
            Ok(c) => c.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
}

/// Encodes one metric without labels.
pub(crate) fn metric(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    m: &impl EncodeMetric,
) -> Result<(), std::fmt::Error> {
    let me = enc.encode_descriptor(name, help, unit, m.metric_type())?;
    m.encode(me)
}

/// Reads the publisher's counters on each scrape.
#[derive(Debug)]
struct CountersCollector {
    publisher: MetricsPublisher,
}

impl Collector for CountersCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        encode_counters(&mut enc, &self.publisher.latest())
    }
}

/// Writes every metric (the list documented in `docs/ADMIN.md`).
fn encode_counters(enc: &mut DescriptorEncoder<'_>, p: &Published) -> Result<(), std::fmt::Error> {
    let c = &p.counters;
    {
        let gauge = ConstGauge::new(0i64);
        let mut family = enc.encode_descriptor(
            "connections",
            "Open connections by state: waiting (accepted, no HELLO yet), connected (registered), closing.",
            None,
            gauge.metric_type(),
        )?;
        for (state, v) in [
            ("waiting", c.waiting),
            ("connected", c.connected),
            ("closing", c.closing),
        ] {
            let labels = [("state", state)];
            let me = family.encode_family(&labels)?;
            ConstGauge::new(v).encode(me)?;
        }
    }
    metric(
        enc,
        "rooms",
        "Rooms that exist now.",
        None,
        &ConstGauge::new(c.rooms),
    )?;
    metric(
        enc,
        "quiet_rooms",
        "Rooms that are quiet now: more members than the presence limit, joins and leaves summarised.",
        None,
        &ConstGauge::new(p.quiet_rooms),
    )?;
    metric(
        enc,
        "connections_accepted",
        "Connections accepted since start.",
        None,
        &ConstCounter::new(c.accepted),
    )?;
    metric(
        enc,
        "connections_rejected_full",
        "Connections refused with ERROR server_full since start.",
        None,
        &ConstCounter::new(c.rejected_full),
    )?;
    metric(
        enc,
        "frames_received",
        "Frames received from clients.",
        None,
        &ConstCounter::new(c.frames_in),
    )?;
    metric(
        enc,
        "frames_sent",
        "Frames sent to clients (one per recipient).",
        None,
        &ConstCounter::new(c.frames_out),
    )?;
    metric(
        enc,
        "received",
        "Bytes received from clients.",
        Some(&Unit::Bytes),
        &ConstCounter::new(c.bytes_in),
    )?;
    metric(
        enc,
        "sent",
        "Bytes sent to clients.",
        Some(&Unit::Bytes),
        &ConstCounter::new(c.bytes_out),
    )?;
    metric(
        enc,
        "messages",
        "Room messages (SAY) accepted.",
        None,
        &ConstCounter::new(c.messages),
    )?;
    metric(
        enc,
        "privates",
        "Private messages (WHISPER) accepted.",
        None,
        &ConstCounter::new(c.privates),
    )?;
    metric(
        enc,
        "slow_consumers",
        "Connections dropped as slow consumers.",
        None,
        &ConstCounter::new(c.slow_consumers),
    )?;
    metric(
        enc,
        "transport_errors",
        "Connections closed because the peer broke their transport's protocol (TLS, WebSocket, IRC).",
        None,
        &ConstCounter::new(c.transport_errors),
    )?;
    {
        let counter = ConstCounter::new(0u64);
        let mut family = enc.encode_descriptor(
            "errors",
            "ERROR frames sent to clients, by protocol error code name.",
            None,
            counter.metric_type(),
        )?;
        for code in ErrorCode::ALL {
            let v = c
                .errors
                .get(usize::from(code.as_u16()))
                .copied()
                .unwrap_or(0);
            let labels = [("code", code.name())];
            let me = family.encode_family(&labels)?;
            ConstCounter::new(v).encode(me)?;
        }
    }
    metric(
        enc,
        "uptime",
        "Time since the server started.",
        Some(&Unit::Seconds),
        &ConstGauge::new(c.uptime_ms as f64 / 1000.0),
    )?;
    if let Some(cluster) = &p.cluster {
        encode_cluster(enc, cluster)?;
    }
    Ok(())
}

/// Renders `counters`, the quiet-room count and the cluster's counters
/// (if any) of node `node` as Prometheus (OpenMetrics) text.
pub fn render(
    counters: &Counters,
    quiet_rooms: u64,
    cluster: Option<&ClusterMetrics>,
    node: &str,
) -> String {
    let publisher = MetricsPublisher::new();
    publisher.publish(counters, quiet_rooms, cluster);
    render_registry(&registry(publisher, node))
}

/// The registry of every metric, each labelled `node="<node>"` so that
/// the scrapes of a cluster's nodes can be told apart (and summed).
fn registry(publisher: MetricsPublisher, node: &str) -> Registry {
    let labels = [(Cow::Borrowed("node"), Cow::Owned(node.to_owned()))];
    let mut reg = Registry::with_prefix_and_labels("stxchat", labels.into_iter());
    reg.register_collector(Box::new(CountersCollector { publisher }));
    reg
}

fn render_registry(reg: &Registry) -> String {
    let mut s = String::new();
    // Writing into a String cannot fail, and every metric name is valid.
    let _ = prometheus_client::encoding::text::encode(&mut s, reg);
    s
}

/// The `/metrics` HTTP server, on its own threads.
pub struct MetricsServer {
    server: Arc<tiny_http::Server>,
    addr: SocketAddr,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for MetricsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsServer")
            .field("addr", &self.addr)
            .finish()
    }
}

impl MetricsServer {
    /// Binds `addr` and serves the publisher's counters at [`METRICS_PATH`],
    /// every metric labelled with the node's name.
    pub fn start(
        addr: SocketAddr,
        publisher: MetricsPublisher,
        node: &str,
    ) -> io::Result<MetricsServer> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let server = tiny_http::Server::from_listener(listener, None)
            .map(Arc::new)
            .map_err(io::Error::other)?;
        let reg = registry(publisher, node);
        let srv = Arc::clone(&server);
        let thread = std::thread::Builder::new()
            .name("stxchat-metrics".into())
            .spawn(move || serve(&srv, &reg))?;
        Ok(MetricsServer {
            server,
            addr,
            thread: Some(thread),
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(server: &tiny_http::Server, reg: &Registry) {
    // `recv` fails once the server is unblocked (shutdown).
    while let Ok(req) = server.recv() {
        let path = req.url().split('?').next().unwrap_or("");
        let is_get = matches!(
            req.method(),
            tiny_http::Method::Get | tiny_http::Method::Head
        );
        let resp = if path != METRICS_PATH {
            tiny_http::Response::from_string("not found; the metrics are at /metrics\n")
                .with_status_code(404)
        } else if !is_get {
            tiny_http::Response::from_string("only GET\n").with_status_code(405)
        } else {
            let body = render_registry(reg);
            let mut r = tiny_http::Response::from_string(body);
            if let Ok(h) = tiny_http::Header::from_bytes("Content-Type", CONTENT_TYPE) {
                r = r.with_header(h);
            }
            r
        };
        if let Err(e) = req.respond(resp) {
            tracing::debug!("metrics: could not answer a scrape: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Counters {
        let mut errors = vec![0; 21];
        errors[ErrorCode::RateLimited.as_u16() as usize] = 7;
        errors[ErrorCode::Kicked.as_u16() as usize] = 2;
        Counters {
            waiting: 3,
            connected: 120,
            closing: 1,
            rooms: 9,
            accepted: 500,
            rejected_full: 4,
            frames_in: 10_000,
            frames_out: 250_000,
            bytes_in: 1_234_567,
            bytes_out: 98_765_432,
            messages: 8_000,
            privates: 40,
            slow_consumers: 5,
            transport_errors: 3,
            errors,
            uptime_ms: 61_500,
        }
    }

    fn value(scrape: &prometheus_parse::Scrape, name: &str, label: Option<(&str, &str)>) -> f64 {
        let s = scrape
            .samples
            .iter()
            .find(|s| s.metric == name && label.is_none_or(|(k, v)| s.labels.get(k) == Some(v)))
            .unwrap_or_else(|| panic!("no sample {name} {label:?}"));
        match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            ref other => panic!("{name}: unexpected value {other:?}"),
        }
    }

    /// Every line is a sample, or a HELP, TYPE, UNIT or EOF comment (the
    /// parser skips lines it does not understand, so check that first).
    fn assert_every_line_parses(text: &str) {
        for line in text.lines() {
            let info = prometheus_parse::LineInfo::parse(line);
            if let Some(c) = line.strip_prefix("# ") {
                let known = ["HELP ", "TYPE ", "UNIT "].iter().any(|k| c.starts_with(k));
                assert!(known || c == "EOF", "unexpected comment {line:?}");
            } else {
                assert!(
                    matches!(info, prometheus_parse::LineInfo::Sample { .. }),
                    "not a sample: {line:?}"
                );
            }
        }
    }

    #[test]
    fn rendered_text_parses_and_carries_every_counter() {
        let text = render(&sample(), 2, None, "node-a");
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert_every_line_parses(&text);
        let lines = text.lines().map(|l| Ok(l.to_owned()));
        let scrape = prometheus_parse::Scrape::parse(lines).unwrap();
        let v = |n, l| value(&scrape, n, l);
        assert_eq!(v("stxchat_connections", Some(("state", "waiting"))), 3.0);
        assert_eq!(
            v("stxchat_connections", Some(("state", "connected"))),
            120.0
        );
        assert_eq!(v("stxchat_connections", Some(("state", "closing"))), 1.0);
        assert_eq!(v("stxchat_rooms", None), 9.0);
        assert_eq!(v("stxchat_quiet_rooms", None), 2.0);
        assert_eq!(v("stxchat_connections_accepted_total", None), 500.0);
        assert_eq!(v("stxchat_connections_rejected_full_total", None), 4.0);
        assert_eq!(v("stxchat_frames_received_total", None), 10_000.0);
        assert_eq!(v("stxchat_frames_sent_total", None), 250_000.0);
        assert_eq!(v("stxchat_received_bytes_total", None), 1_234_567.0);
        assert_eq!(v("stxchat_sent_bytes_total", None), 98_765_432.0);
        assert_eq!(v("stxchat_messages_total", None), 8_000.0);
        assert_eq!(v("stxchat_privates_total", None), 40.0);
        assert_eq!(v("stxchat_slow_consumers_total", None), 5.0);
        assert_eq!(v("stxchat_transport_errors_total", None), 3.0);
        assert_eq!(
            v("stxchat_errors_total", Some(("code", "rate_limited"))),
            7.0
        );
        assert_eq!(v("stxchat_errors_total", Some(("code", "kicked"))), 2.0);
        assert_eq!(v("stxchat_errors_total", Some(("code", "bad_frame"))), 0.0);
        assert_eq!(v("stxchat_uptime_seconds", None), 61.5);
        // One sample per error code, whatever the counters' vector holds.
        let codes = scrape
            .samples
            .iter()
            .filter(|s| s.metric == "stxchat_errors_total")
            .count();
        assert_eq!(codes, ErrorCode::ALL.len());
        // Every sample carries the node's name.
        for s in &scrape.samples {
            assert_eq!(s.labels.get("node"), Some("node-a"), "{}", s.metric);
        }
        // Every family has its HELP and TYPE.
        for family in ["stxchat_connections", "stxchat_messages", "stxchat_errors"] {
            assert!(text.contains(&format!("# HELP {family} ")), "{family}");
            assert!(text.contains(&format!("# TYPE {family} ")), "{family}");
        }
    }

    fn cluster_sample() -> ClusterMetrics {
        use crate::cluster::envelope::EnvelopeError;
        use crate::cluster::relay::IgnoredKind;
        let mut m = ClusterMetrics {
            applied_seq: 123_456,
            nodes: 3,
            ..ClusterMetrics::default()
        };
        let e = &mut m.engine;
        e.applied = 1_000;
        e.bad_records[EnvelopeError::Truncated.index()] = 4;
        e.replayed = 5;
        e.invalid = 6;
        e.unavailable = 7;
        e.resyncs = 8;
        e.unrecovered = 9;
        e.recovered = 10;
        let r = &mut m.relay;
        r.records = 1_003;
        r.gap_fetched = 11;
        r.unrecoverable = 12;
        r.ignored[IgnoredKind::HeartbeatMalformed.index()] = 13;
        r.refused = 14;
        r.link_up = true;
        m
    }

    #[test]
    fn cluster_counters_render_in_cluster_mode_only() {
        let alone = render(&sample(), 0, None, "solo");
        assert!(!alone.contains("stxchat_cluster_"), "{alone}");

        let text = render(&sample(), 0, Some(&cluster_sample()), "node-b");
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert_every_line_parses(&text);
        let scrape =
            prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
        let v = |n, l| value(&scrape, n, l);
        for (name, want) in [
            ("stxchat_cluster_records_received_total", 1_003.0),
            ("stxchat_cluster_records_applied_total", 1_000.0),
            ("stxchat_cluster_gap_fetched_total", 11.0),
            ("stxchat_cluster_gap_unrecoverable_total", 12.0),
            ("stxchat_cluster_resyncs_total", 8.0),
            ("stxchat_cluster_recovered_messages_total", 10.0),
            ("stxchat_cluster_unrecovered_rooms_total", 9.0),
            ("stxchat_cluster_replayed_records_total", 5.0),
            ("stxchat_cluster_invalid_records_total", 6.0),
            ("stxchat_cluster_unavailable_total", 7.0),
            ("stxchat_cluster_publishes_refused_total", 14.0),
            ("stxchat_cluster_link_up", 1.0),
            ("stxchat_cluster_applied_sequence", 123_456.0),
            ("stxchat_cluster_nodes", 3.0),
        ] {
            assert_eq!(v(name, None), want, "{name}");
        }
        assert_eq!(
            v(
                "stxchat_cluster_bad_records_total",
                Some(("kind", "truncated"))
            ),
            4.0
        );
        assert_eq!(
            v(
                "stxchat_cluster_bad_records_total",
                Some(("kind", "garbage"))
            ),
            0.0
        );
        let kinds = |family: &str| scrape.samples.iter().filter(|s| s.metric == family).count();
        assert_eq!(
            kinds("stxchat_cluster_bad_records_total"),
            crate::cluster::envelope::ERROR_KINDS
        );
        assert_eq!(
            v(
                "stxchat_cluster_ignored_total",
                Some(("kind", "heartbeat_malformed"))
            ),
            13.0
        );
        assert_eq!(
            kinds("stxchat_cluster_ignored_total"),
            crate::cluster::relay::IGNORED_KINDS
        );
        for s in &scrape.samples {
            assert_eq!(s.labels.get("node"), Some("node-b"), "{}", s.metric);
        }
        // The link down reads 0, and the other families are still there.
        let mut down = cluster_sample();
        down.relay.link_up = false;
        let text = render(&Counters::default(), 0, Some(&down), "n");
        let scrape =
            prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
        assert_eq!(value(&scrape, "stxchat_cluster_link_up", None), 0.0);
        assert_eq!(value(&scrape, "stxchat_messages_total", None), 0.0);
    }

    #[test]
    fn publish_replaces_the_cluster_copy() {
        let p = MetricsPublisher::new();
        let mut m = cluster_sample();
        assert!(p.publish(&sample(), 0, Some(&m)));
        m.engine.applied += 1;
        assert!(p.publish(&sample(), 0, Some(&m)));
        assert_eq!(p.latest().cluster, Some(m));
        assert!(p.publish(&sample(), 0, None));
        assert_eq!(p.latest().cluster, None);
    }

    #[test]
    fn empty_counters_render_zeros() {
        let text = render(&Counters::default(), 0, None, "n");
        let scrape =
            prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
        assert_eq!(value(&scrape, "stxchat_messages_total", None), 0.0);
        assert_eq!(value(&scrape, "stxchat_quiet_rooms", None), 0.0);
        assert_eq!(
            value(&scrape, "stxchat_errors_total", Some(("code", "kicked"))),
            0.0
        );
    }

    #[test]
    fn publish_never_waits_for_a_scrape() {
        let p = MetricsPublisher::new();
        assert!(p.publish(&sample(), 1, None));
        assert_eq!(p.latest().counters, sample());
        assert_eq!(p.latest().quiet_rooms, 1);
        let guard = p.shared.lock().unwrap();
        assert!(!p.publish(&Counters::default(), 0, None));
        drop(guard);
        assert_eq!(p.latest().counters, sample());
    }
}
