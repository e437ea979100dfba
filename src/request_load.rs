//! How many API requests this server is handling right now, and since when none has
//! been, for the background work that gives way to them (the learning feed,
//! forwarders): a backlog is folded or forwarded while requests are few, so reads keep
//! their latency, yet the work never waits longer than its patience, so it still keeps
//! up with a steady load.

use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Shared by the HTTP layer (which counts) and the background tasks (which look).
#[derive(Debug, Clone)]
pub struct RequestLoad(Arc<Counts>);

#[derive(Debug)]
struct Counts {
    running: AtomicU64,
    /// When a request last ended, in microseconds after `epoch`.
    last_end: AtomicU64,
    epoch: Instant,
}

impl Default for RequestLoad {
    fn default() -> RequestLoad {
        RequestLoad(Arc::new(Counts {
            running: AtomicU64::new(0),
            last_end: AtomicU64::new(0),
            epoch: Instant::now(),
        }))
    }
}

/// A request being handled: counted until dropped.
#[derive(Debug)]
pub struct Running(Arc<Counts>);

impl Drop for Running {
    fn drop(&mut self) {
        // The end is written before the count falls, so whoever sees none running
        // also sees when the last one ended.
        let now = self.0.epoch.elapsed().as_micros() as u64;
        self.0.last_end.fetch_max(now, SeqCst);
        self.0.running.fetch_sub(1, SeqCst);
    }
}

/// How often [`RequestLoad::give_way`] looks again.
const POLL: Duration = Duration::from_millis(2);

impl RequestLoad {
    /// Counts a request as running until the returned guard is dropped.
    pub fn start(&self) -> Running {
        self.0.running.fetch_add(1, SeqCst);
        Running(self.0.clone())
    }

    pub fn running(&self) -> u64 {
        self.0.running.load(SeqCst)
    }

    /// How long no request has been running; `None` while one is.
    pub fn quiet_for(&self) -> Option<Duration> {
        if self.running() > 0 {
            return None;
        }
        let last_end = Duration::from_micros(self.0.last_end.load(SeqCst));
        Some(self.0.epoch.elapsed().saturating_sub(last_end))
    }

    /// Waits until no request is running, or `patience` has passed. Returns how long
    /// it waited.
    pub async fn give_way(&self, patience: Duration) -> Duration {
        if self.running() == 0 {
            return Duration::ZERO;
        }
        let start = Instant::now();
        while self.running() > 0 && start.elapsed() < patience {
            tokio::time::sleep(POLL).await;
        }
        start.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn gives_way_while_requests_run_but_never_past_its_patience() {
        let load = RequestLoad::default();
        assert_eq!(load.give_way(Duration::from_secs(5)).await, Duration::ZERO);
        let running = load.start();
        assert_eq!(load.running(), 1);
        let waited = load.give_way(Duration::from_millis(30)).await;
        assert!(waited >= Duration::from_millis(30));
        drop(running);
        assert_eq!(load.running(), 0);
    }

    #[test]
    fn quiet_counts_from_the_last_request_to_end() {
        let load = RequestLoad::default();
        let (first, second) = (load.start(), load.start());
        assert_eq!(load.quiet_for(), None);
        drop(first);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(load.quiet_for(), None, "one still runs");
        drop(second);
        let quiet = load.quiet_for().expect("none runs");
        assert!(
            quiet < Duration::from_millis(50),
            "from the second's end: {quiet:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
        assert!(load.quiet_for().unwrap() >= Duration::from_millis(5));
    }
}
