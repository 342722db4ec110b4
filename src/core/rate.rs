//! A token bucket for the optional per-connection message rate.

use crate::core::config::RateLimit;

/// Tokens left and when they were last refilled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenBucket {
    tokens: f64,
    last_ms: u64,
}

impl TokenBucket {
    /// A full bucket.
    pub fn full(limit: RateLimit, now_ms: u64) -> Self {
        TokenBucket {
            tokens: f64::from(limit.burst),
            last_ms: now_ms,
        }
    }

    /// Whether a message may pass now (does not use a token).
    pub fn allows(&mut self, limit: RateLimit, now_ms: u64) -> bool {
        let elapsed = now_ms.saturating_sub(self.last_ms) as f64 / 1000.0;
        self.tokens = (self.tokens + elapsed * limit.per_sec).min(f64::from(limit.burst));
        self.last_ms = now_ms;
        self.tokens >= 1.0
    }

    /// Uses one token (after [`TokenBucket::allows`] said yes).
    pub fn spend(&mut self) {
        self.tokens -= 1.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_steady_rate() {
        let lim = RateLimit {
            per_sec: 2.0,
            burst: 3,
        };
        let mut b = TokenBucket::full(lim, 0);
        for _ in 0..3 {
            assert!(b.allows(lim, 0));
            b.spend();
        }
        assert!(!b.allows(lim, 0));
        assert!(!b.allows(lim, 499));
        assert!(b.allows(lim, 500));
        b.spend();
        assert!(!b.allows(lim, 500));
        assert!(b.allows(lim, 10_000));
        assert!(b.tokens <= 3.0);
    }
}
