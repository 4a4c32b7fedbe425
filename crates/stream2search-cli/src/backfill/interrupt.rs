//! Ctrl-C (SIGINT) and SIGTERM: the first stops the backfill at a checkpoint, the second exits at
//! once.
//!
//! The first signal sets the stop flag: no segment starts, no Scan is made, waits (throttling,
//! `--max-rcu`) end, and the pages already read are sent and checkpointed as usual. The second
//! exits with status 130 straight away: the checkpoint file is written whole and renamed, and
//! only ever after a page is durable, so it still names only durable positions, and a rerun
//! reads the abandoned pages again.

use std::time::Duration;

use tokio::sync::watch;

use super::progress::Progress;

/// The exit status of an interrupted backfill (128 + SIGINT, as shells report it).
pub const EXIT: u8 = 130;

/// The stop flag, and waits that end early when it is set.
pub struct Stop {
    flag: watch::Sender<bool>,
}

impl Stop {
    /// Not stopped.
    pub fn new() -> Stop {
        Stop {
            flag: watch::Sender::new(false),
        }
    }

    /// Whether a signal asked to stop.
    pub fn stopped(&self) -> bool {
        *self.flag.borrow()
    }

    /// Sleeps `duration`, or less when a stop is asked meanwhile; `true` when stopped.
    pub async fn sleep(&self, duration: Duration) -> bool {
        let mut flag = self.flag.subscribe();
        // The sender lives as long as `self`: `wait_for` ends only when the flag is set.
        tokio::time::timeout(duration, flag.wait_for(|stopped| *stopped))
            .await
            .is_ok()
            || self.stopped()
    }

    fn stop(&self) {
        self.flag.send_replace(true);
    }
}

/// SIGINT and SIGTERM, registered: from now on they no longer end the process by themselves.
pub struct Signals {
    #[cfg(unix)]
    both: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    /// Registers the handlers (within the runtime). If that fails, signals keep their default
    /// action: the process ends, and the checkpoint is as consistent as after a kill.
    pub fn register() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let both = signal(SignalKind::interrupt())
                .and_then(|i| Ok((i, signal(SignalKind::terminate())?)))
                .ok();
            Signals { both }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    /// Waits for signals: the first sets `stop`, the second exits the process with [`EXIT`].
    pub async fn listen(mut self, stop: &Stop, progress: &Progress) {
        let first = self.next().await;
        progress.line(&format!(
            "backfill: {first}: stopping at a checkpoint: no new pages, the pages being sent \
             finish ({first} again to exit at once)"
        ));
        stop.stop();
        let second = self.next().await;
        progress.finish();
        eprintln!(
            "backfill: {second} again: exiting at once; the checkpoint names only durable pages, \
             a rerun reads the abandoned ones again"
        );
        std::process::exit(i32::from(EXIT));
    }

    /// The next SIGINT or SIGTERM, by name.
    #[cfg(unix)]
    async fn next(&mut self) -> &'static str {
        let Some((interrupt, terminate)) = &mut self.both else {
            return std::future::pending().await;
        };
        std::future::poll_fn(|cx| {
            if interrupt.poll_recv(cx).is_ready() {
                return std::task::Poll::Ready("SIGINT");
            }
            if terminate.poll_recv(cx).is_ready() {
                return std::task::Poll::Ready("SIGTERM");
            }
            std::task::Poll::Pending
        })
        .await
    }

    /// The next Ctrl-C.
    #[cfg(not(unix))]
    async fn next(&mut self) -> &'static str {
        if tokio::signal::ctrl_c().await.is_err() {
            return std::future::pending().await;
        }
        "Ctrl-C"
    }
}
