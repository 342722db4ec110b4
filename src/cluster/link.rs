//! The messages between the server's `mio` loop and its cluster relay
//! thread (the one thread that owns the NATS connection).
//!
//! Both directions go over bounded channels; the relay wakes the loop with
//! the loop's one shared `Waker` (coalesced by an atomic flag) after it
//! queued something for it. The loop never blocks on the relay: when the
//! channel towards the relay is full, a publish is refused at once
//! ([`FromRelay::Refused`] is implied; the engine answers `unavailable`).
//!
//! Records are opaque bytes here: their format is `cluster::envelope`'s.

/// A node's identity in the cluster's order: a random non-zero number
/// chosen at each process start (an incarnation), so that a restarted node
/// is a new node. Names are for people; ids are what records carry.
pub type NodeId = u64;

/// What the loop knows of one live node (from its heartbeats), for the
/// operator view and for the settings check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// The node's id.
    pub id: NodeId,
    /// Its `--node` name.
    pub name: String,
    /// Its registered clients.
    pub connected: u32,
    /// The last sequence it has applied.
    pub applied: u64,
    /// The fingerprint of the settings every node must share
    /// (`Engine::cluster_fingerprint`).
    pub fingerprint: u64,
}

/// From the loop to the relay.
#[derive(Debug)]
pub enum ToRelay {
    /// Put `record` into the cluster's order. `token` comes back in
    /// [`FromRelay::Acked`] or [`FromRelay::Refused`].
    Publish {
        /// The engine's handle of the proposal.
        token: u64,
        /// An encoded envelope.
        record: Vec<u8>,
    },
    /// The answer to [`FromRelay::SnapshotWanted`]: the replica as of `seq`.
    Snapshot {
        /// Where to send it (from the request).
        reply: String,
        /// The last sequence applied to the replica.
        seq: u64,
        /// The encoded replica.
        bytes: Vec<u8>,
    },
    /// What this node's heartbeats carry from now on.
    Status {
        /// Registered clients on this node.
        connected: u32,
        /// The last sequence applied.
        applied: u64,
    },
    /// Publish what is still queued (for at most about a second), then
    /// disconnect and end the thread.
    Stop,
}

/// From the relay to the loop.
#[derive(Debug)]
pub enum FromRelay {
    /// Start from an empty replica: no live node was found; records with a
    /// sequence above `seq` follow.
    Fresh {
        /// The sequence to start after.
        seq: u64,
    },
    /// Install this replica (taken by a live node as of `seq`), at start or
    /// to resynchronise after an unrecoverable gap; records above `seq`
    /// follow.
    Install {
        /// The last sequence the replica includes.
        seq: u64,
        /// The encoded replica.
        bytes: Vec<u8>,
    },
    /// The next record of the cluster's order. Sequences arrive strictly
    /// increasing and without gaps (the relay reorders and fills gaps from
    /// the stream; what it cannot fill ends in an `Install`).
    Record {
        /// The stream sequence: the protocol's cluster-wide `seq`.
        seq: u64,
        /// The encoded envelope.
        record: Vec<u8>,
    },
    /// The proposal `token` is stored in the cluster's order as `seq` (its
    /// `Record` may not have arrived yet).
    Acked {
        /// The engine's handle of the proposal.
        token: u64,
        /// Its stream sequence.
        seq: u64,
    },
    /// The proposal `token` could not be published (NATS unreachable,
    /// publish failed or timed out).
    Refused {
        /// The engine's handle of the proposal.
        token: u64,
    },
    /// Whether the relay is connected to NATS.
    Link(bool),
    /// The live nodes (this one included), whenever that list changes.
    Peers(Vec<NodeInfo>),
    /// `node` missed its heartbeats: it is dead. Every surviving node is
    /// told; each proposes its departure (applying it twice is harmless).
    PeerDead(NodeId),
    /// A node asks for a snapshot; answer with [`ToRelay::Snapshot`].
    SnapshotWanted {
        /// Where the answer goes.
        reply: String,
    },
    /// The cluster cannot be joined (for example a live node has different
    /// settings): the server must stop with this message and exit code 2.
    Fatal(String),
}
