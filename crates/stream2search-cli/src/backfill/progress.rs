//! What the backfill shows while it runs: on a terminal (stderr is a TTY), a progress bar of the
//! items read with MB, items per second and an ETA; elsewhere a plain line every five seconds
//! (the caller's). Either way, stderr lines of the run go through [`Progress::line`], so that
//! they do not tear the bar.
//!
//! The bar's length is an estimate: DescribeTable's `ItemCount`, which DynamoDB updates about
//! every six hours. When the run reads more than that, the length grows to what was read, so
//! the bar never shows more than 100% nor a negative ETA.

use std::io::IsTerminal as _;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// The bar (on a terminal) or nothing.
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A bar of `expected` items (this run's share of the table's approximate item count) when
    /// stderr is a terminal, else nothing.
    pub fn new(expected: Option<u64>) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress { bar: None };
        }
        let bar = ProgressBar::with_draw_target(
            Some(expected.unwrap_or(0)),
            ProgressDrawTarget::stderr(),
        );
        let style = ProgressStyle::with_template(
            "[{elapsed_precise}] {wide_bar} {human_pos}/~{human_len} items, {msg}, {rate}, \
             ETA {eta}",
        )
        .map(|s| {
            s.progress_chars("=> ").with_key(
                "rate",
                |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{:.0} items/s", state.per_sec());
                },
            )
        });
        if let Ok(style) = style {
            bar.set_style(style);
        }
        bar.set_message("0.0 MB");
        bar.enable_steady_tick(Duration::from_millis(500));
        Progress { bar: Some(bar) }
    }

    /// Whether there is a bar (else the caller prints plain lines).
    pub fn is_bar(&self) -> bool {
        self.bar.is_some()
    }

    /// After a page: `items` and `bytes` read so far in this run.
    pub fn update(&self, items: u64, bytes: u64) {
        let Some(bar) = &self.bar else { return };
        bar.set_length(length(bar.length(), items));
        bar.set_position(items);
        bar.set_message(format!("{:.1} MB", bytes as f64 / 1e6));
    }

    /// One line on stderr, above the bar when there is one.
    pub fn line(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{text}")),
            None => eprintln!("{text}"),
        }
    }

    /// Leaves the bar where it stands (the summary follows on stdout).
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.abandon();
        }
    }
}

/// The bar's length after `read` items: the estimate, or what was read when the estimate (stale,
/// or absent) is smaller.
fn length(estimate: Option<u64>, read: u64) -> u64 {
    estimate.unwrap_or(0).max(read)
}

#[cfg(test)]
mod tests {
    use super::length;

    #[test]
    fn a_stale_item_count_grows_to_what_was_read() {
        assert_eq!(length(Some(1000), 10), 1000);
        assert_eq!(length(Some(1000), 1000), 1000);
        // ItemCount six hours old, the table has grown: never past 100%.
        assert_eq!(length(Some(1000), 1500), 1500);
        assert_eq!(length(None, 7), 7);
    }
}
