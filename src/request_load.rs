//! How many API requests this server is handling right now, for the background work
//! that gives way to them (the learning feed, forwarders): a backlog is folded or
//! forwarded while requests are few, so reads keep their latency, yet the work never
//! waits longer than its patience, so it still keeps up with a steady load.

use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Shared by the HTTP layer (which counts) and the background tasks (which look).
#[derive(Debug, Clone, Default)]
pub struct RequestLoad(Arc<AtomicU64>);

/// A request being handled: counted until dropped.
#[derive(Debug)]
pub struct Running(Arc<AtomicU64>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, SeqCst);
    }
}

/// How often [`RequestLoad::give_way`] looks again.
const POLL: Duration = Duration::from_millis(2);

impl RequestLoad {
    /// Counts a request as running until the returned guard is dropped.
    pub fn start(&self) -> Running {
        self.0.fetch_add(1, SeqCst);
        Running(self.0.clone())
    }

    pub fn running(&self) -> u64 {
        self.0.load(SeqCst)
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
}
