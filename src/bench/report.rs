//! Results of a bench run: serialisable reports, the human table and the
//! number formatting both use.

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::bench::procstat::CpuUsage;
use crate::bench::storm::StormReport;

/// Latency of measured deliveries, send stamp to receipt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Latency {
    /// Deliveries timed.
    pub samples: u64,
    /// Median, microseconds.
    pub p50_us: f64,
    /// 99th percentile, microseconds.
    pub p99_us: f64,
    /// 99.9th percentile, microseconds.
    pub p999_us: f64,
    /// Maximum, microseconds.
    pub max_us: f64,
}

impl Latency {
    /// Summarises a histogram of nanoseconds; `None` if it is empty.
    pub fn from_histogram(h: &Histogram<u64>) -> Option<Latency> {
        if h.is_empty() {
            return None;
        }
        let us = |ns: u64| ns as f64 / 1000.0;
        Some(Latency {
            samples: h.len(),
            p50_us: us(h.value_at_quantile(0.5)),
            p99_us: us(h.value_at_quantile(0.99)),
            p999_us: us(h.value_at_quantile(0.999)),
            max_us: us(h.max()),
        })
    }
}

/// Result of `fanout` or `rooms`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrafficReport {
    /// `fanout` or `rooms`.
    pub scenario: &'static str,
    /// Server address.
    pub addr: String,
    /// The connections spoke TLS (`--tls`).
    pub tls: bool,
    /// Server name from WELCOME.
    pub server_name: Option<String>,
    /// Server payload limit from WELCOME.
    pub max_payload: Option<u16>,
    /// Generator threads.
    pub threads: usize,
    /// `fanout`: members asked for (S).
    pub members: Option<usize>,
    /// `fanout`: publishers asked for (P).
    pub publishers: Option<usize>,
    /// `fanout`: members that never read, asked for.
    pub slow_consumers: Option<usize>,
    /// `rooms`: clients asked for (C).
    pub clients: Option<usize>,
    /// `rooms`: rooms (R).
    pub rooms: Option<usize>,
    /// Text bytes per message (B).
    pub text_bytes: usize,
    /// Warm-up seconds.
    pub warmup_s: f64,
    /// Measured seconds asked for (D).
    pub duration_s: f64,
    /// Measured seconds actually elapsed.
    pub measured_s: f64,
    /// Seconds spent draining in-flight messages after publishing stopped.
    pub drain_s: f64,
    /// In-flight bound, messages per publisher (0 = open loop).
    pub window: u64,
    /// Total publish rate asked for, msgs/s (0 = as fast as the server takes).
    pub rate: f64,
    /// Connections registered and joined.
    pub connections_ready: u64,
    /// Connections that never got ready.
    pub connections_failed: u64,
    /// Connections closed during the run after they were ready.
    pub connections_dropped: u64,
    /// Receivers ready when publishing began (fanout: members; rooms: clients).
    pub receivers_ready: u64,
    /// Publishers ready when publishing began.
    pub publishers_ready: u64,
    /// Messages published in the measured interval.
    pub published: u64,
    /// `published / measured_s`.
    pub published_per_s: f64,
    /// Deliveries those messages should make (every receiver ready at the start).
    pub expected_deliveries: u64,
    /// Deliveries made (publishers' own copies not included).
    pub deliveries: u64,
    /// `deliveries / measured_s`.
    pub deliveries_per_s: f64,
    /// `deliveries / expected_deliveries`.
    pub delivery_ratio: f64,
    /// Echoes: copies the publishers received of measured messages.
    pub echoes: u64,
    /// Echoes expected.
    pub expected_echoes: u64,
    /// Latency of measured deliveries.
    pub latency: Option<Latency>,
    /// Times the window was written off because nothing arrived.
    pub stalls: u64,
    /// ERRORs that did not close a connection.
    pub nonfatal_errors: u64,
    /// MESSAGEs in the room whose text was not a bench stamp.
    pub bad_payloads: u64,
    /// `fanout --slow`: LEFT reason 3 (slow consumer) seen in the room.
    pub slow_dropped: Option<u64>,
    /// Protocol version the connections said in HELLO.
    pub protocol_version: u8,
    /// JOINED, LEFT and MEMBERS frames received over the whole run.
    pub presence_frames: u64,
    /// ROOM frames received over the whole run (quiet rooms, version 2).
    pub room_frames: u64,
    /// CPU use over the measured interval.
    pub cpu: CpuUsage,
    /// Deliveries per second of server CPU time.
    pub deliveries_per_server_cpu_s: Option<f64>,
    /// Server RSS at the start of the measured interval, KiB.
    pub server_rss_kb_before: Option<u64>,
    /// Server RSS at its end, KiB.
    pub server_rss_kb_after: Option<u64>,
    /// Server threads.
    pub server_threads: Option<u64>,
    /// The first error any connection met.
    pub first_error: Option<String>,
    /// `--bad-logins`: how the storm of wrong passwords was answered.
    pub bad_logins: Option<StormReport>,
}

impl TrafficReport {
    /// Every connection got ready, none dropped, every expected delivery made.
    /// (Slow consumers never read, so the generator does not see their drop
    /// as a close; the server's LEFT reason 3 counts them in `slow_dropped`.)
    pub fn ok(&self) -> bool {
        self.connections_failed == 0
            && self.published > 0
            && self.deliveries == self.expected_deliveries
            && self.connections_dropped == 0
            && self.bad_logins.as_ref().is_none_or(StormReport::ok)
    }
}

/// One round of `connect`: everyone connects, is held, then leaves at once.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoundReport {
    /// Round number, from 1.
    pub round: usize,
    /// Connections registered (and joined).
    pub registered: u64,
    /// Connections that never registered.
    pub failed: u64,
    /// Registered connections closed before the end.
    pub dropped: u64,
    /// Connections that answered the final PING.
    pub alive_at_end: u64,
    /// Seconds from the first connect until every connection settled.
    pub connect_s: f64,
    /// `registered / connect_s`.
    pub connects_per_s: f64,
    /// Server RSS before the round's first connect, KiB.
    pub server_rss_kb_before: Option<u64>,
    /// Server RSS after settling, KiB.
    pub server_rss_kb_after: Option<u64>,
    /// `(after - before) / registered`, bytes.
    pub rss_per_connection_bytes: Option<f64>,
    /// Seconds from closing every connection until the server went idle.
    pub idle_after_leave_s: Option<f64>,
    /// Server RSS once idle after everyone left, KiB.
    pub server_rss_kb_after_leave: Option<u64>,
    /// JOINED, LEFT and MEMBERS frames the round's connections received.
    pub presence_frames: u64,
    /// ROOM frames the round's connections received.
    pub room_frames: u64,
    /// CPU use over the round's connect phase.
    pub cpu: CpuUsage,
    /// `--probe`: probe messages said (and echoed to their sender).
    pub probes_sent: u64,
    /// Probe messages the idle connections received, all of them.
    pub probe_deliveries: u64,
    /// `registered x probes_sent`: what they should have received.
    pub probe_expected: u64,
}

impl RoundReport {
    /// Every connection registered and answered the final PING.
    pub fn ok(&self, connections: usize) -> bool {
        self.registered as usize == connections
            && self.failed == 0
            && self.alive_at_end == self.registered
            && self.probe_deliveries == self.probe_expected
    }
}

/// Result of `connect` (the top-level figures are those of the first round).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectReport {
    /// Always `connect`.
    pub scenario: &'static str,
    /// Server address.
    pub addr: String,
    /// The connections spoke TLS (`--tls`).
    pub tls: bool,
    /// Server name from WELCOME.
    pub server_name: Option<String>,
    /// Generator threads.
    pub threads: usize,
    /// Room joined after registering, if any.
    pub room: Option<String>,
    /// Connections asked for (N).
    pub connections: usize,
    /// Handshakes in flight at most.
    pub concurrency: usize,
    /// Source addresses the connections were spread over (0 = kernel's choice).
    pub source_addresses: usize,
    /// Protocol version the connections said in HELLO.
    pub protocol_version: u8,
    /// Connections registered (and joined).
    pub registered: u64,
    /// Connections that never registered.
    pub failed: u64,
    /// Registered connections closed before the end.
    pub dropped: u64,
    /// Connections that answered the final PING.
    pub alive_at_end: u64,
    /// Seconds from the first connect until every connection settled.
    pub connect_s: f64,
    /// `registered / connect_s`.
    pub connects_per_s: f64,
    /// Seconds waited after the last registration before reading RSS.
    pub settle_s: f64,
    /// Server RSS before the first connect, KiB.
    pub server_rss_kb_before: Option<u64>,
    /// Server RSS after settling, KiB.
    pub server_rss_kb_after: Option<u64>,
    /// `(after - before) / registered`, bytes.
    pub rss_per_connection_bytes: Option<f64>,
    /// The generator's own RSS, KiB.
    pub generator_rss_kb: Option<u64>,
    /// CPU use over the connect phase.
    pub cpu: CpuUsage,
    /// Server threads.
    pub server_threads: Option<u64>,
    /// JOINED, LEFT and MEMBERS frames received, all rounds.
    pub presence_frames: u64,
    /// ROOM frames received, all rounds.
    pub room_frames: u64,
    /// Processes the connections were spread over (1: this one alone).
    pub processes: usize,
    /// The room the probes went to (`--probe`), if any.
    pub probe_room: Option<String>,
    /// Probe messages said (first round).
    pub probes_sent: u64,
    /// Probe messages received by the idle connections (first round).
    pub probe_deliveries: u64,
    /// What they should have received (first round).
    pub probe_expected: u64,
    /// Every round, in order.
    pub rounds: Vec<RoundReport>,
    /// The first error any connection met.
    pub first_error: Option<String>,
}

impl ConnectReport {
    /// Every connection of every round registered and answered the final PING.
    pub fn ok(&self) -> bool {
        !self.rounds.is_empty() && self.rounds.iter().all(|r| r.ok(self.connections))
    }
}

/// The result of any scenario.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
#[allow(clippy::large_enum_variant)] // one report per run: size does not matter
pub enum Report {
    /// `fanout` or `rooms`.
    Traffic(TrafficReport),
    /// `connect`.
    Connect(ConnectReport),
}

impl Report {
    /// Whether the run met its own consistency checks (see the reports' `ok`).
    pub fn ok(&self) -> bool {
        match self {
            Report::Traffic(r) => r.ok(),
            Report::Connect(r) => r.ok(),
        }
    }

    /// One JSON object.
    pub fn to_json(&self) -> String {
        // Plain data with no maps keyed by non-strings: serialisation cannot fail.
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The human table.
    pub fn to_table(&self) -> String {
        let rows = match self {
            Report::Traffic(r) => traffic_rows(r),
            Report::Connect(r) => connect_rows(r),
        };
        render_rows(&rows)
    }
}

/// A count with a k/M/G suffix (`5.04 M`).
pub fn si(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.2} G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.2} M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1} k", v / 1e3)
    } else if a >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// A duration in microseconds, shown in µs below 10 ms and in ms above.
pub fn micros(us: f64) -> String {
    if us < 10_000.0 {
        format!("{us:.0} µs")
    } else {
        format!("{:.1} ms", us / 1000.0)
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_string(), |x| format!("{x:.0}%"))
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "n/a".to_string(), |x| x.to_string())
}

fn kib(v: Option<u64>) -> String {
    v.map_or_else(
        || "n/a".to_string(),
        |k| format!("{:.1} MiB", k as f64 / 1024.0),
    )
}

fn traffic_rows(r: &TrafficReport) -> Vec<(String, String)> {
    let mut rows: Vec<(String, String)> = Vec::new();
    let mut row = |k: &str, v: String| rows.push((k.to_string(), v));
    let shape = match (r.members, r.publishers, r.clients, r.rooms) {
        (Some(s), Some(p), _, _) => {
            let slow = r
                .slow_consumers
                .filter(|&k| k > 0)
                .map_or(String::new(), |k| format!(" slow={k}"));
            format!("S={s} P={p}{slow} B={}", r.text_bytes)
        }
        (_, _, Some(c), Some(rooms)) => format!("C={c} R={rooms} B={}", r.text_bytes),
        _ => format!("B={}", r.text_bytes),
    };
    let rate = if r.rate > 0.0 {
        format!(" rate={}/s", si(r.rate))
    } else {
        String::new()
    };
    row(
        "scenario",
        format!("{} {shape} D={}s{rate}", r.scenario, r.duration_s),
    );
    row(
        "server",
        format!(
            "{}{} ({}, max_payload {})",
            r.addr,
            if r.tls { " over TLS" } else { "" },
            r.server_name.as_deref().unwrap_or("?"),
            opt(r.max_payload)
        ),
    );
    row(
        "connections",
        format!(
            "{} ready, {} failed, {} dropped",
            r.connections_ready, r.connections_failed, r.connections_dropped
        ),
    );
    row(
        "published",
        format!("{} ({}/s)", r.published, si(r.published_per_s)),
    );
    row(
        "deliveries",
        format!(
            "{} of {} expected ({}/s)",
            r.deliveries,
            r.expected_deliveries,
            si(r.deliveries_per_s)
        ),
    );
    row("delivery ratio", format!("{:.4}", r.delivery_ratio));
    row(
        "echoes to publishers",
        format!("{} of {} expected", r.echoes, r.expected_echoes),
    );
    row(
        "latency p50/p99/p99.9/max",
        r.latency.as_ref().map_or_else(
            || "n/a".to_string(),
            |l| {
                format!(
                    "{} / {} / {} / {} ({} samples)",
                    micros(l.p50_us),
                    micros(l.p99_us),
                    micros(l.p999_us),
                    micros(l.max_us),
                    l.samples
                )
            },
        ),
    );
    row(
        "CPU generator/server",
        format!(
            "{} / {} (machine {}, softirq {})",
            pct(r.cpu.generator_pct),
            pct(r.cpu.server_pct),
            pct(r.cpu.machine_pct),
            pct(r.cpu.softirq_pct)
        ),
    );
    row(
        "deliveries per server CPU-s",
        r.deliveries_per_server_cpu_s
            .map_or_else(|| "n/a".to_string(), si),
    );
    row(
        "server RSS before/after",
        format!(
            "{} / {}",
            kib(r.server_rss_kb_before),
            kib(r.server_rss_kb_after)
        ),
    );
    row(
        "window / measured / drain",
        format!(
            "{} msgs/publisher / {:.2} s / {:.2} s",
            r.window, r.measured_s, r.drain_s
        ),
    );
    if let Some(d) = r.slow_dropped {
        row("slow consumers dropped", d.to_string());
    }
    row(
        "presence / ROOM frames",
        format!(
            "{} / {} (protocol version {})",
            r.presence_frames, r.room_frames, r.protocol_version
        ),
    );
    if r.stalls + r.nonfatal_errors + r.bad_payloads > 0 {
        row(
            "stalls / errors / bad texts",
            format!("{} / {} / {}", r.stalls, r.nonfatal_errors, r.bad_payloads),
        );
    }
    if let Some(e) = &r.first_error {
        row("first error", e.clone());
    }
    if let Some(b) = &r.bad_logins {
        rows.extend(b.rows());
    }
    rows
}

fn connect_rows(r: &ConnectReport) -> Vec<(String, String)> {
    let mut rows: Vec<(String, String)> = Vec::new();
    let mut row = |k: &str, v: String| rows.push((k.to_string(), v));
    let room = r
        .room
        .as_deref()
        .map_or(String::new(), |x| format!(" room={x}"));
    row("scenario", format!("connect N={}{room}", r.connections));
    row(
        "server",
        format!(
            "{}{} ({})",
            r.addr,
            if r.tls { " over TLS" } else { "" },
            r.server_name.as_deref().unwrap_or("?")
        ),
    );
    row(
        "registered",
        format!(
            "{} of {} ({} failed, {} dropped)",
            r.registered, r.connections, r.failed, r.dropped
        ),
    );
    row("alive at end (PING answered)", r.alive_at_end.to_string());
    if r.processes > 1 {
        row("generator processes", r.processes.to_string());
    }
    if let Some(room) = &r.probe_room {
        row(
            "probe deliveries",
            format!(
                "{} of {} ({} probes in {room})",
                r.probe_deliveries, r.probe_expected, r.probes_sent
            ),
        );
    }
    row(
        "connect+register",
        format!(
            "{:.2} s, {}/s ({} in flight)",
            r.connect_s,
            si(r.connects_per_s),
            r.concurrency
        ),
    );
    row(
        "server RSS before/after",
        format!(
            "{} / {}",
            kib(r.server_rss_kb_before),
            kib(r.server_rss_kb_after)
        ),
    );
    row(
        "server RSS per connection",
        r.rss_per_connection_bytes
            .map_or_else(|| "n/a".to_string(), |b| format!("{b:.0} B")),
    );
    row(
        "CPU generator/server (connect)",
        format!(
            "{} / {} (machine {}, softirq {})",
            pct(r.cpu.generator_pct),
            pct(r.cpu.server_pct),
            pct(r.cpu.machine_pct),
            pct(r.cpu.softirq_pct)
        ),
    );
    row(
        "presence / ROOM frames",
        format!(
            "{} / {} (protocol version {})",
            r.presence_frames, r.room_frames, r.protocol_version
        ),
    );
    let leave = |x: &RoundReport| {
        x.idle_after_leave_s.map_or_else(
            || "n/a".to_string(),
            |s| {
                format!(
                    "idle {s:.2} s after all left, RSS {}",
                    kib(x.server_rss_kb_after_leave)
                )
            },
        )
    };
    if r.rounds.len() == 1 {
        row("leaving at once", leave(&r.rounds[0]));
    } else {
        for x in &r.rounds {
            row(
                &format!("round {}", x.round),
                format!(
                    "{} registered in {:.2} s, {}/s; RSS/conn {}; {}",
                    x.registered,
                    x.connect_s,
                    si(x.connects_per_s),
                    x.rss_per_connection_bytes
                        .map_or_else(|| "n/a".to_string(), |b| format!("{b:.0} B")),
                    leave(x)
                ),
            );
        }
    }
    row("generator RSS", kib(r.generator_rss_kb));
    row("source addresses", r.source_addresses.to_string());
    if let Some(e) = &r.first_error {
        row("first error", e.clone());
    }
    rows
}

fn render_rows(rows: &[(String, String)]) -> String {
    let width = rows
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let mut s = String::new();
    for (k, v) in rows {
        s.push_str(&format!("{k:<width$}  {v}\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_traffic() -> TrafficReport {
        TrafficReport {
            scenario: "fanout",
            addr: "127.0.0.1:7000".into(),
            tls: false,
            server_name: Some("stxchat".into()),
            max_payload: Some(4096),
            threads: 2,
            members: Some(100),
            publishers: Some(4),
            slow_consumers: Some(0),
            clients: None,
            rooms: None,
            text_bytes: 64,
            warmup_s: 2.0,
            duration_s: 10.0,
            measured_s: 10.0,
            drain_s: 0.1,
            window: 256,
            rate: 0.0,
            connections_ready: 104,
            connections_failed: 0,
            connections_dropped: 0,
            receivers_ready: 100,
            publishers_ready: 4,
            published: 500_000,
            published_per_s: 50_000.0,
            expected_deliveries: 50_000_000,
            deliveries: 50_000_000,
            deliveries_per_s: 5_000_000.0,
            delivery_ratio: 1.0,
            echoes: 2_000_000,
            expected_echoes: 2_000_000,
            latency: Some(Latency {
                samples: 50_000_000,
                p50_us: 1500.0,
                p99_us: 20_000.0,
                p999_us: 30_000.0,
                max_us: 40_000.0,
            }),
            stalls: 0,
            nonfatal_errors: 0,
            bad_payloads: 0,
            slow_dropped: None,
            protocol_version: 2,
            presence_frames: 208,
            room_frames: 3,
            cpu: CpuUsage {
                generator_pct: Some(80.0),
                server_pct: Some(50.0),
                machine_pct: Some(150.0),
                softirq_pct: Some(10.0),
            },
            deliveries_per_server_cpu_s: Some(10_000_000.0),
            server_rss_kb_before: Some(2048),
            server_rss_kb_after: Some(4096),
            server_threads: Some(1),
            first_error: None,
            bad_logins: None,
        }
    }

    #[test]
    fn number_formatting() {
        assert_eq!(si(5_040_000.0), "5.04 M");
        assert_eq!(si(50_400.0), "50.4 k");
        assert_eq!(si(1000.0), "1000");
        assert_eq!(si(7.0), "7");
        assert_eq!(si(0.25), "0.25");
        assert_eq!(si(2.5e9), "2.50 G");
        assert_eq!(micros(850.4), "850 µs");
        assert_eq!(micros(42_100.0), "42.1 ms");
    }

    #[test]
    fn latency_summary_from_histogram() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 120_000_000_000, 3).unwrap();
        assert_eq!(Latency::from_histogram(&h), None);
        for v in 1..=1000u64 {
            h.record(v * 1000).unwrap();
        }
        let l = Latency::from_histogram(&h).unwrap();
        assert_eq!(l.samples, 1000);
        assert!((l.p50_us - 500.0).abs() < 1.0, "{l:?}");
        assert!((l.p99_us - 990.0).abs() < 1.5, "{l:?}");
        assert!((l.max_us - 1000.0).abs() < 1.0, "{l:?}");
    }

    #[test]
    fn json_is_one_flat_object_with_the_figures() {
        let r = Report::Traffic(sample_traffic());
        let j = r.to_json();
        assert!(!j.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&j).unwrap();
        assert_eq!(v["scenario"], "fanout");
        assert_eq!(v["deliveries_per_s"], 5_000_000.0);
        assert_eq!(v["delivery_ratio"], 1.0);
        assert_eq!(v["latency"]["p99_us"], 20_000.0);
        assert_eq!(v["cpu"]["server_pct"], 50.0);
        assert_eq!(v["room_frames"], 3);
        assert_eq!(v["presence_frames"], 208);
        assert!(v["clients"].is_null());
    }

    #[test]
    fn table_has_the_headline_rows() {
        let t = Report::Traffic(sample_traffic()).to_table();
        assert!(t.contains("fanout S=100 P=4 B=64 D=10s"), "{t}");
        assert!(
            t.contains("50000000 of 50000000 expected (5.00 M/s)"),
            "{t}"
        );
        assert!(t.contains("1500 µs / 20.0 ms / 30.0 ms / 40.0 ms"), "{t}");
        assert!(t.contains("80% / 50%"), "{t}");
        assert!(t.contains("208 / 3 (protocol version 2)"), "{t}");
        assert!(!t.contains("first error"));
        // columns line up
        let starts: Vec<usize> = t
            .lines()
            .map(|l| {
                l.find("  ").unwrap() + l[l.find("  ").unwrap()..].find(|c: char| c != ' ').unwrap()
            })
            .collect();
        assert!(starts.windows(2).all(|w| w[0] == w[1]), "{t}");
    }

    #[test]
    fn ok_requires_every_expected_delivery() {
        let mut r = sample_traffic();
        assert!(r.ok());
        r.deliveries -= 1;
        assert!(!r.ok());
        let mut r = sample_traffic();
        r.connections_dropped = 1;
        assert!(!r.ok());
        let mut r = sample_traffic();
        r.slow_dropped = Some(1);
        assert!(r.ok(), "a dropped slow consumer is expected");
        r.published = 0;
        assert!(!r.ok());
    }

    #[test]
    fn connect_report_table_and_ok() {
        let round = |n: usize, rate: f64| RoundReport {
            round: n,
            registered: 100,
            failed: 0,
            dropped: 0,
            alive_at_end: 100,
            connect_s: 0.5,
            connects_per_s: rate,
            server_rss_kb_before: Some(1000),
            server_rss_kb_after: Some(1050),
            rss_per_connection_bytes: Some(512.0),
            idle_after_leave_s: Some(0.25),
            server_rss_kb_after_leave: Some(1010),
            presence_frames: 300,
            room_frames: 7,
            cpu: CpuUsage::default(),
            probes_sent: 0,
            probe_deliveries: 0,
            probe_expected: 0,
        };
        let mut r = ConnectReport {
            scenario: "connect",
            addr: "127.0.0.1:7000".into(),
            tls: false,
            server_name: Some("stxchat".into()),
            threads: 2,
            room: None,
            connections: 100,
            concurrency: 64,
            source_addresses: 0,
            protocol_version: 2,
            registered: 100,
            failed: 0,
            dropped: 0,
            alive_at_end: 100,
            connect_s: 0.5,
            connects_per_s: 200.0,
            settle_s: 2.0,
            server_rss_kb_before: Some(1000),
            server_rss_kb_after: Some(1050),
            rss_per_connection_bytes: Some(512.0),
            generator_rss_kb: Some(8000),
            cpu: CpuUsage::default(),
            server_threads: None,
            presence_frames: 300,
            room_frames: 7,
            processes: 1,
            probe_room: None,
            probes_sent: 0,
            probe_deliveries: 0,
            probe_expected: 0,
            rounds: vec![round(1, 200.0)],
            first_error: None,
        };
        assert!(r.ok());
        let t = Report::Connect(r.clone()).to_table();
        assert!(t.contains("100 of 100"), "{t}");
        assert!(t.contains("512 B"), "{t}");
        assert!(t.contains("300 / 7 (protocol version 2)"), "{t}");
        assert!(t.contains("idle 0.25 s after all left, RSS 1.0 MiB"), "{t}");
        let v: serde_json::Value =
            serde_json::from_str(&Report::Connect(r.clone()).to_json()).unwrap();
        assert_eq!(v["rss_per_connection_bytes"], 512.0);
        assert_eq!(v["room_frames"], 7);
        assert_eq!(v["rounds"][0]["idle_after_leave_s"], 0.25);
        // Several rounds: one row each; every round must be complete.
        r.rounds.push(round(2, 190.0));
        let t = Report::Connect(r.clone()).to_table();
        assert!(t.contains("round 2  ") || t.contains("round 2 "), "{t}");
        assert!(t.contains("100 registered in 0.50 s, 190/s"), "{t}");
        assert!(r.ok());
        r.rounds[1].alive_at_end = 99;
        assert!(!r.ok());
        // Probes: every idle connection must get every one.
        r.rounds.truncate(1);
        r.processes = 3;
        r.probe_room = Some("lobby".into());
        (r.probes_sent, r.probe_deliveries, r.probe_expected) = (2, 200, 200);
        (r.rounds[0].probe_deliveries, r.rounds[0].probe_expected) = (200, 200);
        assert!(r.ok());
        let t = Report::Connect(r.clone()).to_table();
        assert!(t.contains("200 of 200 (2 probes in lobby)"), "{t}");
        assert!(t.contains("generator processes"), "{t}");
        r.rounds[0].probe_deliveries = 199;
        assert!(!r.ok());
    }
}
