//! Per-second rates derived from the engine's monotonic counters.
//!
//! The server samples its counters about once a second ([`RateMeter::sample`]
//! is cheap and ignores calls made sooner than a period after the last
//! sample); the rates are the differences over the last completed interval,
//! scaled to one second. The clock (monotonic milliseconds, as the engine's
//! `Now::mono_ms`) is passed in, so this is testable without sleeping.

use serde::{Deserialize, Serialize};

use crate::core::observe::Counters;

/// Per-second rates over the server's last sampling interval.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rates {
    /// Length of the interval the rates were measured over (0: not yet measured).
    pub interval_ms: u64,
    /// Connections accepted per second.
    pub accepted: u64,
    /// Frames received per second.
    pub frames_in: u64,
    /// Frames sent per second.
    pub frames_out: u64,
    /// Bytes received per second.
    pub bytes_in: u64,
    /// Bytes sent per second.
    pub bytes_out: u64,
    /// MESSAGEs accepted per second.
    pub messages: u64,
    /// PRIVATEs accepted per second.
    pub privates: u64,
}

/// The monotonic counters a rate is computed from, in [`Rates`] field order.
fn totals(c: &Counters) -> [u64; 7] {
    [
        c.accepted,
        c.frames_in,
        c.frames_out,
        c.bytes_in,
        c.bytes_out,
        c.messages,
        c.privates,
    ]
}

/// Turns counter samples into [`Rates`].
#[derive(Debug, Clone)]
pub struct RateMeter {
    period_ms: u64,
    last: Option<(u64, [u64; 7])>,
    rates: Rates,
}

impl Default for RateMeter {
    fn default() -> Self {
        RateMeter::new(1000)
    }
}

impl RateMeter {
    /// A meter that measures over intervals of at least `period_ms` milliseconds.
    pub fn new(period_ms: u64) -> Self {
        RateMeter {
            period_ms: period_ms.max(1),
            last: None,
            rates: Rates::default(),
        }
    }

    /// The sampling period in milliseconds.
    pub fn period_ms(&self) -> u64 {
        self.period_ms
    }

    /// When the next sample is due (monotonic ms); `None` before the first.
    pub fn next_due_ms(&self) -> Option<u64> {
        self.last.map(|(t, _)| t.saturating_add(self.period_ms))
    }

    /// Whether a sample taken at `now_ms` would start a new interval.
    pub fn due(&self, now_ms: u64) -> bool {
        self.next_due_ms().is_none_or(|at| now_ms >= at)
    }

    /// Records the counters at `now` if a period has passed since the last
    /// sample (or there was none); returns whether the rates changed.
    ///
    /// After a pause in sampling (more than two periods since the last
    /// sample) the sample only starts a new interval: the rates go back to
    /// "not measured" rather than average over the pause.
    pub fn sample(&mut self, now_ms: u64, counters: &Counters) -> bool {
        if !self.due(now_ms) {
            return false;
        }
        let cur = totals(counters);
        let Some((t, prev)) = self.last.replace((now_ms, cur)) else {
            return false;
        };
        let ms = now_ms.saturating_sub(t).max(1);
        if ms > 2 * self.period_ms {
            let changed = self.rates != Rates::default();
            self.rates = Rates::default();
            return changed;
        }
        let per_sec = |i: usize| -> u64 {
            let d = u128::from(cur[i].saturating_sub(prev[i]));
            u64::try_from(d * 1000 / u128::from(ms)).unwrap_or(u64::MAX)
        };
        self.rates = Rates {
            interval_ms: ms,
            accepted: per_sec(0),
            frames_in: per_sec(1),
            frames_out: per_sec(2),
            bytes_in: per_sec(3),
            bytes_out: per_sec(4),
            messages: per_sec(5),
            privates: per_sec(6),
        };
        true
    }

    /// The rates over the last completed interval.
    pub fn rates(&self) -> &Rates {
        &self.rates
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_differences_scaled_to_a_second() {
        let t0 = 5_000;
        let mut m = RateMeter::default();
        let mut c = Counters {
            messages: 100,
            bytes_out: 1000,
            ..Counters::default()
        };
        assert!(!m.sample(t0, &c));
        assert_eq!(m.rates(), &Rates::default());
        c.messages = 150;
        c.bytes_out = 4000;
        // Too soon: ignored.
        assert!(!m.sample(t0 + 400, &c));
        assert!(m.sample(t0 + 1600, &c));
        assert_eq!(m.rates().interval_ms, 1600);
        assert_eq!(m.rates().messages, 31);
        assert_eq!(m.rates().bytes_out, 1875);
        assert_eq!(m.rates().frames_in, 0);
        // A quiet second brings the rates back to zero.
        assert!(m.sample(t0 + 2600, &c));
        assert_eq!(m.rates().messages, 0);
        assert_eq!(m.rates().interval_ms, 1000);
    }

    #[test]
    fn a_pause_in_sampling_restarts_the_measurement() {
        let mut m = RateMeter::default();
        let mut c = Counters::default();
        m.sample(0, &c);
        c.messages = 10;
        m.sample(1000, &c);
        assert_eq!(m.rates().messages, 10);
        c.messages = 1000;
        // An hour later: no average over the hour, a fresh start.
        assert!(m.sample(3_600_000, &c));
        assert_eq!(m.rates(), &Rates::default());
        c.messages = 1005;
        m.sample(3_601_000, &c);
        assert_eq!(m.rates().messages, 5);
        assert_eq!(m.rates().interval_ms, 1000);
    }

    #[test]
    fn counters_that_go_backwards_give_zero_not_garbage() {
        let t0 = 0;
        let mut m = RateMeter::default();
        let mut c = Counters {
            frames_in: 10,
            ..Counters::default()
        };
        m.sample(t0, &c);
        c.frames_in = 5;
        m.sample(t0 + 1000, &c);
        assert_eq!(m.rates().frames_in, 0);
    }
}
