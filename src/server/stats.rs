//! The periodic stats log line: gauges, per-second rates and error counts.

use std::fmt::Write as _;
use std::time::Duration;

use crate::codec::ErrorCode;
use crate::core::observe::Counters;
use crate::core::{Engine, Now};

/// Produces a stats line every interval.
#[derive(Debug)]
pub struct StatsLog {
    interval_ms: u64,
    next_at: Option<u64>,
    last: Counters,
    last_at: u64,
}

impl StatsLog {
    /// A stats log with this interval; zero disables it.
    pub fn new(interval: Duration) -> Self {
        StatsLog {
            interval_ms: interval.as_millis() as u64,
            next_at: None,
            last: Counters::default(),
            last_at: 0,
        }
    }

    /// Starts the clock.
    pub fn start(&mut self, now: Now) {
        if self.interval_ms > 0 {
            self.next_at = Some(now.mono_ms + self.interval_ms);
            self.last_at = now.mono_ms;
        }
    }

    /// When the next line is due.
    pub fn next_at(&self) -> Option<u64> {
        self.next_at
    }

    /// The stats line, if one is due.
    pub fn due<T>(&mut self, engine: &Engine<T>, now: Now) -> Option<String> {
        let at = self.next_at?;
        if now.mono_ms < at {
            return None;
        }
        let c = engine.counters(now);
        let line = format_line(&self.last, &c, now.mono_ms.saturating_sub(self.last_at));
        self.last = c;
        self.last_at = now.mono_ms;
        self.next_at = Some(now.mono_ms + self.interval_ms);
        Some(line)
    }
}

/// Formats one stats line from the counters now and at the previous line.
pub fn format_line(prev: &Counters, c: &Counters, elapsed_ms: u64) -> String {
    let secs = (elapsed_ms as f64 / 1000.0).max(0.001);
    let rate = |now: u64, before: u64| now.saturating_sub(before) as f64 / secs;
    let mut line = format!(
        "stats waiting={} connected={} closing={} rooms={} frames_in/s={:.0} frames_out/s={:.0} \
         bytes_in/s={:.0} bytes_out/s={:.0} bytes_in={} bytes_out={} messages={} slow_consumers={}",
        c.waiting,
        c.connected,
        c.closing,
        c.rooms,
        rate(c.frames_in, prev.frames_in),
        rate(c.frames_out, prev.frames_out),
        rate(c.bytes_in, prev.bytes_in),
        rate(c.bytes_out, prev.bytes_out),
        c.bytes_in,
        c.bytes_out,
        c.messages,
        c.slow_consumers,
    );
    line.push_str(" errors={");
    let mut first = true;
    for code in ErrorCode::ALL {
        let n = c.errors.get(code as usize).copied().unwrap_or(0);
        if n > 0 {
            let _ = write!(
                line,
                "{}{}:{}",
                if first { "" } else { "," },
                code.name(),
                n
            );
            first = false;
        }
    }
    line.push('}');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_has_gauges_rates_and_errors() {
        let prev = Counters {
            frames_in: 100,
            errors: ErrorCode::counter_table(),
            ..Counters::default()
        };
        let mut c = prev.clone();
        c.frames_in = 300;
        c.waiting = 2;
        c.connected = 5;
        c.errors[2] = 3;
        c.errors[15] = 1;
        let line = format_line(&prev, &c, 2000);
        assert!(line.contains("waiting=2 connected=5"), "{line}");
        assert!(line.contains("frames_in/s=100"), "{line}");
        assert!(line.ends_with("errors={malformed:3,timeout:1}"), "{line}");
    }
}
