//! Which server address (node) each connection of a run goes to, when
//! `stxchat bench` is given several `--addr`.
//!
//! - `fanout`: with one address everybody is on it. With N >= 2,
//!   publishers are spread round-robin over the first half of the
//!   addresses (⌊N/2⌋ of them) and members (and slow consumers) over the
//!   other half, so that every delivery crosses from one node to another:
//!   with two addresses, publishers on the first and members on the second.
//! - `rooms`: every client both publishes and reads, so the two cannot be
//!   separated; a room's clients are spread over the nodes instead (client
//!   i, in room i mod R, goes to node ⌊i / R⌋ mod N), so that each room
//!   has members on several nodes as soon as it has more than one client.
//! - `connect`: round-robin, connection i on node i mod N.

use std::ops::Range;

use crate::bench::shared::Role;

/// The addresses (as indexes into the run's address list) that the
/// connections of `role` in a fanout over `nodes` addresses use.
pub fn fanout_nodes(role: Role, nodes: usize) -> Range<usize> {
    let nodes = nodes.max(1);
    if nodes == 1 {
        return 0..1;
    }
    let split = nodes / 2;
    match role {
        Role::Publisher => 0..split,
        _ => split..nodes,
    }
}

/// The node of the `nth` connection of `role` in a fanout over `nodes`.
pub fn fanout_node(role: Role, nth: usize, nodes: usize) -> u16 {
    let r = fanout_nodes(role, nodes);
    (r.start + nth % r.len()) as u16
}

/// The node of client `i` of a `rooms` run over `rooms` rooms and `nodes`.
pub fn rooms_node(i: usize, rooms: usize, nodes: usize) -> u16 {
    ((i / rooms.max(1)) % nodes.max(1)) as u16
}

/// The node of connection `i` of a `connect` run over `nodes`.
pub fn connect_node(i: usize, nodes: usize) -> u16 {
    (i % nodes.max(1)) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_address_takes_everybody() {
        for role in [Role::Publisher, Role::Member, Role::Slow] {
            assert_eq!(fanout_node(role, 7, 1), 0);
        }
        assert_eq!(rooms_node(12_345, 1000, 1), 0);
        assert_eq!(connect_node(99, 1), 0);
    }

    #[test]
    fn fanout_keeps_publishers_and_members_apart() {
        assert_eq!(fanout_nodes(Role::Publisher, 2), 0..1);
        assert_eq!(fanout_nodes(Role::Member, 2), 1..2);
        assert_eq!(fanout_nodes(Role::Publisher, 3), 0..1);
        assert_eq!(fanout_nodes(Role::Member, 3), 1..3);
        assert_eq!(fanout_nodes(Role::Publisher, 6), 0..3);
        assert_eq!(fanout_nodes(Role::Slow, 6), 3..6);
        let members: Vec<u16> = (0..5).map(|i| fanout_node(Role::Member, i, 3)).collect();
        assert_eq!(members, [1, 2, 1, 2, 1]);
        let pubs: Vec<u16> = (0..4).map(|i| fanout_node(Role::Publisher, i, 6)).collect();
        assert_eq!(pubs, [0, 1, 2, 0]);
    }

    #[test]
    fn a_rooms_members_are_spread_over_the_nodes() {
        // Room 3 of 10 has clients 3, 13, 23, 33: on nodes 0, 1, 0, 1.
        let room3: Vec<u16> = [3, 13, 23, 33]
            .iter()
            .map(|&i| rooms_node(i, 10, 2))
            .collect();
        assert_eq!(room3, [0, 1, 0, 1]);
        // Even when the room count is a multiple of the node count.
        let on: std::collections::BTreeSet<u16> =
            (0..6).map(|k| rooms_node(5 + k * 1000, 1000, 3)).collect();
        assert_eq!(on.len(), 3);
        let rr: Vec<u16> = (0..5).map(|i| connect_node(i, 3)).collect();
        assert_eq!(rr, [0, 1, 2, 0, 1]);
    }
}
