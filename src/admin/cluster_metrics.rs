//! The cluster's metrics (`--cluster` only; `docs/ADMIN.md` lists them):
//! what the node's relay and its engine counted of the cluster's order
//! (records applied, gaps filled, records lost, resynchronisations and what
//! they recovered, bad and ignored input, refusals) and whether the link to
//! NATS is up.
//!
//! The event loop copies them into a [`ClusterMetrics`] with the other
//! counters (plain numbers: the engine's [`ClusterStats`] and a few relaxed
//! loads of the relay's atomics, no allocation); the metrics thread renders
//! the copy on each scrape. A server that runs alone has none of these
//! families (they would suggest a cluster that is not there).

use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use crate::admin::metrics::metric;
use crate::cluster::envelope::{ERROR_KINDS, EnvelopeError};
use crate::cluster::relay::{IgnoredKind, RelayCounters};
use crate::core::ClusterStats;

/// What the loop hands to the metrics endpoint in cluster mode.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterMetrics {
    /// The engine's cluster counters.
    pub engine: ClusterStats,
    /// The relay's counters.
    pub relay: RelayCounters,
    /// The last sequence of the cluster's order applied here.
    pub applied_seq: u64,
    /// Live nodes the relay last reported (this one included).
    pub nodes: u64,
}

/// The name of each record decoding error kind, by
/// [`EnvelopeError::index`] (the `kind` label of the bad-records family).
fn bad_record_kinds() -> [&'static str; ERROR_KINDS] {
    let mut names = [""; ERROR_KINDS];
    for e in [
        EnvelopeError::Garbage,
        EnvelopeError::UnknownVersion(0),
        EnvelopeError::UnknownKind(0),
        EnvelopeError::Truncated,
        EnvelopeError::TrailingBytes,
        EnvelopeError::BadUtf8,
        EnvelopeError::TooLong,
    ] {
        names[e.index()] = e.name();
    }
    names
}

/// A counter family with one `kind` label per entry of `values`.
fn by_kind(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    kinds: &[&str],
    values: &[u64],
) -> Result<(), std::fmt::Error> {
    let counter = ConstCounter::new(0u64);
    let mut family = enc.encode_descriptor(name, help, None, counter.metric_type())?;
    for (kind, v) in kinds.iter().zip(values) {
        let labels = [("kind", *kind)];
        let me = family.encode_family(&labels)?;
        ConstCounter::new(*v).encode(me)?;
    }
    Ok(())
}

/// Writes the cluster's families.
pub(crate) fn encode_cluster(
    enc: &mut DescriptorEncoder<'_>,
    m: &ClusterMetrics,
) -> Result<(), std::fmt::Error> {
    let e = &m.engine;
    let r = &m.relay;
    let counters: [(&str, &str, u64); 11] = [
        (
            "cluster_records_received",
            "Records of the cluster's order the relay handed to the engine, in sequence order.",
            r.records,
        ),
        (
            "cluster_records_applied",
            "Records of the cluster's order applied to this node's replica (bad and replayed ones excluded).",
            e.applied,
        ),
        (
            "cluster_gap_fetched",
            "Sequences missing from the feed that were fetched from the stream (a gap filled).",
            r.gap_fetched,
        ),
        (
            "cluster_gap_unrecoverable",
            "Sequences missing from the feed that the stream no longer held: lost to this node (rule 8; followed by a resynchronisation when a peer can help).",
            r.unrecoverable,
        ),
        (
            "cluster_resyncs",
            "Snapshots of a peer's replica installed on this running node after a loss.",
            e.resyncs,
        ),
        (
            "cluster_recovered_messages",
            "MESSAGEs delivered to members from room history by a resynchronisation.",
            e.recovered,
        ),
        (
            "cluster_unrecovered_rooms",
            "Rooms where a resynchronisation could not tell that every missed MESSAGE was recovered (history too short).",
            e.unrecovered,
        ),
        (
            "cluster_replayed_records",
            "Records ignored as replays (origin and record counter already applied).",
            e.replayed,
        ),
        (
            "cluster_invalid_records",
            "Records that decoded but say something impossible (an unknown client, an invalid nick): ignored.",
            e.invalid,
        ),
        (
            "cluster_unavailable",
            "Requests answered ERROR unavailable (not put in the cluster's order within 2 s, or refused).",
            e.unavailable,
        ),
        (
            "cluster_publishes_refused",
            "Publishes the relay refused (link down, failed or not acknowledged).",
            r.refused,
        ),
    ];
    for (name, help, v) in counters {
        metric(enc, name, help, None, &ConstCounter::new(v))?;
    }
    by_kind(
        enc,
        "cluster_bad_records",
        "Records of the cluster's order that did not decode, by kind: ignored by every node alike.",
        &bad_record_kinds(),
        &e.bad_records,
    )?;
    let ignored_kinds = IgnoredKind::ALL.map(IgnoredKind::name);
    by_kind(
        enc,
        "cluster_ignored",
        "Messages on the cluster's subjects that were not ours or malformed (feed, heartbeats, snapshot transfer), by kind: ignored.",
        &ignored_kinds,
        &r.ignored,
    )?;
    metric(
        enc,
        "cluster_link_up",
        "Whether the relay is connected to NATS (1) or not (0).",
        None,
        &ConstGauge::new(i64::from(r.link_up)),
    )?;
    metric(
        enc,
        "cluster_applied_sequence",
        "The last sequence of the cluster's order applied here (compare nodes to see one fall behind).",
        None,
        &ConstGauge::new(i64::try_from(m.applied_seq).unwrap_or(i64::MAX)),
    )?;
    metric(
        enc,
        "cluster_nodes",
        "Live nodes of the cluster as this node's relay last reported them (itself included).",
        None,
        &ConstGauge::new(i64::try_from(m.nodes).unwrap_or(i64::MAX)),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bad_record_kind_has_its_name() {
        let names = bad_record_kinds();
        assert!(names.iter().all(|n| !n.is_empty()), "{names:?}");
        let mut sorted = names.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), ERROR_KINDS, "names are distinct");
    }
}
