//! The admin channel's node view (NODES request 0x47, NODES answer 0xC7,
//! documented in `docs/ADMIN.md`): the answering node's name (`--node`)
//! and the cluster's live nodes as its relay last reported them (none for
//! a server that runs alone).
//!
//! Answer layout: `str8 node, u8 flags (bit 0: more nodes exist than
//! listed; bit 1: the answering node's cluster health follows), u16 count,
//! count x (u64 id, str8 name, u32 connected, u64 applied)`, in the order
//! the relay reported them, then with bit 1 `u64 gap_fetched, u64
//! unrecoverable, u64 resyncs` (a cluster node's own counters, as in its
//! metrics). Names are cut to [`MAX_NODE_NAME`] bytes.

use serde::{Deserialize, Serialize};

use crate::admin::proto::{ADMIN_MAX_PAYLOAD, admin_type, truncate_str};
use crate::cluster::link::NodeInfo;
use crate::codec::MessageError;
use crate::codec::frame::{begin_frame, end_frame};
use crate::codec::wire::{Reader, put_str8, put_u16, put_u64};
use crate::server::node_name::MAX_NODE_NAME;

/// The most nodes one NODES request returns (larger limits are lowered).
pub const MAX_NODES_LIMIT: u16 = 256;

/// Bytes of the answer's fixed part: type, the node's name, flags, count,
/// and the health trailer.
const HEADER: usize = 1 + 1 + MAX_NODE_NAME + 1 + 2 + 3 * 8;

/// Bytes of one entry at most: id, name, connected, applied.
const ENTRY_MAX: usize = 8 + 1 + MAX_NODE_NAME + 4 + 8;

// The longest page fits a frame.
const _: () = assert!(HEADER + MAX_NODES_LIMIT as usize * ENTRY_MAX <= ADMIN_MAX_PAYLOAD);

/// Page flag: more nodes exist than listed.
const PAGE_MORE: u8 = 1;
/// Page flag: the answering node's cluster health follows the entries.
const PAGE_HEALTH: u8 = 2;

/// A cluster node's own counters of CLUSTER.md rule 8 (what its metrics
/// call `stxchat_cluster_gap_fetched_total`, `..._gap_unrecoverable_total`
/// and `..._resyncs_total`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterHealth {
    /// Sequences fetched from the stream to fill a gap in the feed.
    pub gap_fetched: u64,
    /// Sequences lost to this node (no longer in the stream).
    pub unrecoverable: u64,
    /// Resynchronisations by a peer's snapshot.
    pub resyncs: u64,
}

/// One node of the cluster, as the operator sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeEntry {
    /// The node's id (a fresh random number at each start).
    pub id: u64,
    /// Its `--node` name.
    pub name: String,
    /// Its registered clients.
    pub connected: u32,
    /// The last cluster sequence it has applied.
    pub applied: u64,
}

impl From<&NodeInfo> for NodeEntry {
    fn from(n: &NodeInfo) -> Self {
        NodeEntry {
            id: n.id,
            name: n.name.clone(),
            connected: n.connected,
            applied: n.applied,
        }
    }
}

/// A NODES answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodesPage {
    /// The answering node's name.
    pub node: String,
    /// More nodes exist than `entries` lists.
    pub more: bool,
    /// The cluster's live nodes (empty when the server runs alone).
    pub entries: Vec<NodeEntry>,
    /// The answering node's own gap, loss and resync counters (cluster
    /// mode only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<ClusterHealth>,
}

impl NodesPage {
    /// The answer of node `node` whose relay reported `nodes`, listing at
    /// most `limit` of them.
    pub fn new(node: &str, nodes: &[NodeInfo], limit: usize) -> NodesPage {
        NodesPage {
            node: node.to_owned(),
            more: nodes.len() > limit,
            entries: nodes.iter().take(limit).map(NodeEntry::from).collect(),
            health: None,
        }
    }

    /// The same page carrying the answering node's cluster health.
    pub fn with_health(mut self, health: Option<ClusterHealth>) -> NodesPage {
        self.health = health;
        self
    }
}

/// Appends a NODES answer frame. Entries beyond [`MAX_NODES_LIMIT`] are
/// left out (and `more` set).
pub fn encode_nodes(out: &mut Vec<u8>, page: &NodesPage) {
    let start = begin_frame(out);
    out.push(admin_type::NODES_PAGE);
    // At most MAX_NODE_NAME bytes: fits a str8.
    let _ = put_str8(out, truncate_str(&page.node, MAX_NODE_NAME));
    let shown = &page.entries[..page.entries.len().min(usize::from(MAX_NODES_LIMIT))];
    let more = page.more || shown.len() < page.entries.len();
    let mut flags = if more { PAGE_MORE } else { 0 };
    if page.health.is_some() {
        flags |= PAGE_HEALTH;
    }
    out.push(flags);
    put_u16(out, shown.len() as u16);
    for e in shown {
        put_u64(out, e.id);
        let _ = put_str8(out, truncate_str(&e.name, MAX_NODE_NAME));
        out.extend_from_slice(&e.connected.to_be_bytes());
        put_u64(out, e.applied);
    }
    if let Some(h) = &page.health {
        put_u64(out, h.gap_fetched);
        put_u64(out, h.unrecoverable);
        put_u64(out, h.resyncs);
    }
    // Bounded by the assertion above: always fits.
    let _ = end_frame(out, start, ADMIN_MAX_PAYLOAD);
}

/// Decodes a NODES answer's body (after the type byte).
pub fn decode_nodes(r: &mut Reader<'_>) -> Result<NodesPage, MessageError> {
    let node = r.str8()?.to_owned();
    let flags = r.u8()?;
    let n = r.u16()?;
    let mut entries = Vec::with_capacity(usize::from(n.min(MAX_NODES_LIMIT)));
    for _ in 0..n {
        let id = r.u64()?;
        let name = r.str8()?.to_owned();
        let connected = r.u32()?;
        let applied = r.u64()?;
        entries.push(NodeEntry {
            id,
            name,
            connected,
            applied,
        });
    }
    let health = if flags & PAGE_HEALTH != 0 {
        Some(ClusterHealth {
            gap_fetched: r.u64()?,
            unrecoverable: r.u64()?,
            resyncs: r.u64()?,
        })
    } else {
        None
    };
    Ok(NodesPage {
        node,
        more: flags & PAGE_MORE != 0,
        entries,
        health,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::proto::AdminResponse;
    use crate::codec::{Event, FrameDecoder};

    fn decode_one(bytes: &[u8]) -> AdminResponse {
        let mut got = Vec::new();
        FrameDecoder::new(ADMIN_MAX_PAYLOAD).decode_all(bytes, |e| match e {
            Event::Frame(p) => got.push(AdminResponse::decode(p).unwrap()),
            Event::Error(e) => panic!("framing error {e}"),
        });
        assert_eq!(got.len(), 1);
        got.remove(0)
    }

    fn info(id: u64, name: &str) -> NodeInfo {
        NodeInfo {
            id,
            name: name.into(),
            connected: id as u32 * 10,
            applied: id * 1000,
            fingerprint: 7,
        }
    }

    #[test]
    fn pages_round_trip_with_and_without_nodes() {
        for page in [
            NodesPage::new("alone-1", &[], 10),
            NodesPage::new("a", &[info(1, "a"), info(u64::MAX, "bé")], 10),
            NodesPage::new("a", &[info(1, "a"), info(2, "b"), info(3, "c")], 2),
            NodesPage::new("a", &[info(1, "a")], 2).with_health(Some(ClusterHealth {
                gap_fetched: 5,
                unrecoverable: 1,
                resyncs: u64::MAX,
            })),
        ] {
            let mut out = Vec::new();
            encode_nodes(&mut out, &page);
            assert_eq!(decode_one(&out), AdminResponse::Nodes(page));
        }
        let p = NodesPage::new("a", &[info(1, "a"), info(2, "b"), info(3, "c")], 2);
        assert!(p.more);
        assert_eq!(p.entries.len(), 2);
        assert_eq!(p.entries[1].applied, 2000);
    }

    #[test]
    fn the_layout_is_as_documented() {
        let mut out = Vec::new();
        encode_nodes(&mut out, &NodesPage::new("n", &[info(1, "a")], 5));
        let mut p = Vec::new();
        FrameDecoder::new(ADMIN_MAX_PAYLOAD).decode_all(&out, |e| {
            if let Event::Frame(f) = e {
                p = f.to_vec();
            }
        });
        assert_eq!(
            p,
            [
                0xc7, 1, b'n', 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, b'a', 0, 0, 0, 10, 0, 0, 0, 0,
                0, 0, 0x03, 0xe8
            ]
        );
    }

    #[test]
    fn long_names_and_long_lists_are_cut_to_fit() {
        let long = "é".repeat(100);
        let many: Vec<NodeInfo> = (0..300).map(|i| info(i, &long)).collect();
        let page = NodesPage::new(&long, &many, 300);
        let mut out = Vec::new();
        encode_nodes(&mut out, &page);
        let AdminResponse::Nodes(got) = decode_one(&out) else {
            panic!("not a NODES answer")
        };
        assert!(got.more);
        assert_eq!(got.entries.len(), usize::from(MAX_NODES_LIMIT));
        assert_eq!(got.node.len(), MAX_NODE_NAME);
        assert!(got.entries.iter().all(|e| e.name.len() <= MAX_NODE_NAME));
    }

    #[test]
    fn truncated_answers_are_malformed() {
        let mut out = Vec::new();
        let page = NodesPage::new("n", &[info(1, "a")], 5).with_health(Some(ClusterHealth {
            gap_fetched: 1,
            unrecoverable: 2,
            resyncs: 3,
        }));
        encode_nodes(&mut out, &page);
        let mut p = Vec::new();
        FrameDecoder::new(ADMIN_MAX_PAYLOAD).decode_all(&out, |e| {
            if let Event::Frame(f) = e {
                p = f.to_vec();
            }
        });
        for n in 1..p.len() {
            assert_eq!(
                AdminResponse::decode(&p[..n]),
                Err(MessageError::Malformed),
                "prefix of {n} bytes"
            );
        }
    }
}
