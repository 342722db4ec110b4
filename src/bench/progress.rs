//! The progress line shown while a run goes on (on a terminal only).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::bench::report::si;

/// A one-line spinner with a message, hidden unless wanted and both stdout
/// and stderr are terminals.
pub struct Progress {
    bar: ProgressBar,
    last: Instant,
    last_counts: (u64, u64),
}

impl Progress {
    /// A progress line; `wanted` false (e.g. `--json`) hides it.
    pub fn new(wanted: bool) -> Self {
        let visible = wanted && std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
        let bar = if visible {
            let b = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template("{spinner} [{elapsed:>3}] {msg}") {
                b.set_style(style);
            }
            b.enable_steady_tick(Duration::from_millis(200));
            b
        } else {
            ProgressBar::hidden()
        };
        Progress {
            bar,
            last: Instant::now(),
            last_counts: (0, 0),
        }
    }

    /// Sets the message.
    pub fn set(&self, msg: String) {
        self.bar.set_message(msg);
    }

    /// Updates at most every 250 ms: `label`, then published/s and delivered/s
    /// computed from the running totals given.
    pub fn traffic(&mut self, label: &str, published: u64, delivered: u64) {
        let now = Instant::now();
        let dt = now.duration_since(self.last).as_secs_f64();
        if dt < 0.25 {
            return;
        }
        let (p0, d0) = self.last_counts;
        self.set(format!(
            "{label}  pub {}/s  deliv {}/s",
            si(published.saturating_sub(p0) as f64 / dt),
            si(delivered.saturating_sub(d0) as f64 / dt)
        ));
        self.last = now;
        self.last_counts = (published, delivered);
    }

    /// Removes the line.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
