//! Slowing down repeated login failures from one address (sans-IO: times
//! are passed in). After a failure, every further password check from that
//! address starts no sooner than a delay after the previous one, the delay
//! doubling with each failure (up to a cap); an address is forgotten some
//! time after its last failure. IPv6 addresses count by their /64 (one
//! host usually has a whole /64). Memory is bounded: at most
//! [`MAX_TRACKED`] addresses are remembered.

use std::collections::HashMap;
use std::net::IpAddr;

/// Delay after the first failure, ms (doubling per failure).
pub const BASE_DELAY_MS: u64 = 100;
/// Longest delay between two checks from one address, ms.
pub const MAX_DELAY_MS: u64 = 8_000;
/// An address is forgotten this long after its last failure, ms.
pub const FORGET_AFTER_MS: u64 = 10 * 60 * 1000;
/// Most addresses remembered at once.
pub const MAX_TRACKED: usize = 65_536;

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    /// When the next check from this address may start.
    next_at: u64,
    last_failure: u64,
}

/// Per-address failure counts and the next allowed check time.
#[derive(Debug, Default)]
pub struct FailureThrottle {
    records: HashMap<IpAddr, Record>,
    last_sweep: u64,
}

/// The address key: IPv4 as is, IPv6 by its /64 prefix.
pub fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let seg = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(
                seg[0], seg[1], seg[2], seg[3], 0, 0, 0, 0,
            ))
        }
    }
}

/// The delay that `failures` failures earn.
pub fn delay_for(failures: u32) -> u64 {
    if failures == 0 {
        return 0;
    }
    BASE_DELAY_MS
        .saturating_mul(1u64 << (failures - 1).min(30))
        .min(MAX_DELAY_MS)
}

impl FailureThrottle {
    /// When a password check from `ip` asked for at `now` may start (`now`
    /// for an address without failures); reserves that slot.
    pub fn start_at(&mut self, ip: IpAddr, now: u64) -> u64 {
        let Some(r) = self.records.get_mut(&key(ip)) else {
            return now;
        };
        if now.saturating_sub(r.last_failure) >= FORGET_AFTER_MS {
            self.records.remove(&key(ip));
            return now;
        }
        let at = r.next_at.max(now);
        r.next_at = at + delay_for(r.failures);
        at
    }

    /// Records a failed check from `ip` at `now`.
    pub fn failed(&mut self, ip: IpAddr, now: u64) {
        let k = key(ip);
        if !self.records.contains_key(&k) && self.records.len() >= MAX_TRACKED {
            self.sweep(now);
            if self.records.len() >= MAX_TRACKED {
                // Full of recent offenders: the new one goes untracked
                // rather than memory growing.
                return;
            }
        }
        let r = self.records.entry(k).or_insert(Record {
            failures: 0,
            next_at: now,
            last_failure: now,
        });
        r.failures = r.failures.saturating_add(1);
        r.last_failure = now;
        r.next_at = r.next_at.max(now + delay_for(r.failures));
    }

    /// Failures counted for `ip` (0 if it is not tracked).
    pub fn failures(&self, ip: IpAddr) -> u32 {
        self.records.get(&key(ip)).map_or(0, |r| r.failures)
    }

    /// Addresses tracked.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no address is tracked.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Forgets addresses whose last failure is old (at most once a second).
    fn sweep(&mut self, now: u64) {
        if now < self.last_sweep + 1000 && self.last_sweep != 0 {
            return;
        }
        self.last_sweep = now;
        self.records
            .retain(|_, r| now.saturating_sub(r.last_failure) < FORGET_AFTER_MS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn no_delay_until_a_failure_then_doubling_and_serialised() {
        let mut t = FailureThrottle::default();
        assert_eq!(t.start_at(A, 1000), 1000);
        assert_eq!(t.start_at(A, 1000), 1000, "no failures: no reservation");
        t.failed(A, 1000);
        assert_eq!(t.start_at(A, 1000), 1100);
        // A second attempt at once queues behind the first.
        assert_eq!(t.start_at(A, 1000), 1200);
        t.failed(A, 1200);
        assert_eq!(t.failures(A), 2);
        assert_eq!(t.start_at(A, 1200), 1400);
        assert_eq!(t.start_at(B, 1200), 1200, "other addresses are not slowed");
    }

    #[test]
    fn delay_is_capped_and_addresses_are_forgotten() {
        assert_eq!(delay_for(0), 0);
        assert_eq!(delay_for(1), 100);
        assert_eq!(delay_for(4), 800);
        assert_eq!(delay_for(60), MAX_DELAY_MS);
        let mut t = FailureThrottle::default();
        for _ in 0..50 {
            t.failed(A, 0);
        }
        let later = FORGET_AFTER_MS + 1;
        assert_eq!(t.start_at(A, later), later);
        assert_eq!(t.failures(A), 0);
    }

    #[test]
    fn ipv6_counts_by_slash_64_and_memory_is_bounded() {
        let mut t = FailureThrottle::default();
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2::ffff".parse().unwrap();
        t.failed(a, 0);
        assert_eq!(t.failures(b), 1);
        for i in 0..(MAX_TRACKED as u32 + 10) {
            t.failed(IpAddr::V4(std::net::Ipv4Addr::from(i)), 5);
        }
        assert_eq!(t.len(), MAX_TRACKED);
    }
}
