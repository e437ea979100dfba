//! How many API requests this server is handling right now, whether any may be storing
//! Statements, and since when none has been, for the background work that gives way to
//! them (the learning feed, forwarders): a backlog is folded or forwarded while requests
//! are few, so reads keep their latency, yet the work never waits longer than its
//! patience, so it still keeps up with a steady load.

use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Shared by the HTTP layer (which counts) and the background tasks (which look).
#[derive(Debug, Clone)]
pub struct RequestLoad(Arc<Counts>);

#[derive(Debug)]
struct Counts {
    running: AtomicU64,
    /// Of the running requests, those that may store something.
    writing: AtomicU64,
    /// When a request last ended, in microseconds after `epoch`.
    last_end: AtomicU64,
    /// When a request that may store something last ended, in microseconds after
    /// `epoch` plus one, so 0 stays free to mean none has.
    last_write_end: AtomicU64,
    epoch: Instant,
}

impl Default for RequestLoad {
    fn default() -> RequestLoad {
        RequestLoad(Arc::new(Counts {
            running: AtomicU64::new(0),
            writing: AtomicU64::new(0),
            last_end: AtomicU64::new(0),
            last_write_end: AtomicU64::new(0),
            epoch: Instant::now(),
        }))
    }
}

/// What a request may do: a GET, HEAD or OPTIONS (in alternate request syntax too) only
/// reads; any other may store Statements, which the learning feed then has to fold in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    Reads,
    Writes,
}

/// How long the learning feed waits at most for running requests to end before a pass
/// over its backlog: `writes` while Statements may be arriving (a request that may store
/// them runs, or one ended within the last `WRITES_LINGER`), so the feed keeps up with
/// steady ingest; `reads` while only reads run, which add nothing to fold, so it can
/// wait longer and the reads keep their latency while it folds a bulk load or import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Patience {
    pub writes: Duration,
    pub reads: Duration,
}

/// How long after a request that may store Statements ends they count as still
/// arriving: a client posting in a loop leaves gaps between its requests.
const WRITES_LINGER: Duration = Duration::from_secs(1);

/// A request being handled: counted until dropped.
#[derive(Debug)]
pub struct Running {
    counts: Arc<Counts>,
    kind: RequestKind,
}

impl Drop for Running {
    fn drop(&mut self) {
        // The end is written before the count falls, so whoever sees none running
        // also sees when the last one ended.
        let now = self.counts.epoch.elapsed().as_micros() as u64;
        if self.kind == RequestKind::Writes {
            self.counts.last_write_end.fetch_max(now + 1, SeqCst);
            self.counts.writing.fetch_sub(1, SeqCst);
        }
        self.counts.last_end.fetch_max(now, SeqCst);
        self.counts.running.fetch_sub(1, SeqCst);
    }
}

/// How often [`RequestLoad::give_way`] looks again.
const POLL: Duration = Duration::from_millis(2);

impl RequestLoad {
    /// Counts a request as running until the returned guard is dropped.
    pub fn start(&self, kind: RequestKind) -> Running {
        self.0.running.fetch_add(1, SeqCst);
        if kind == RequestKind::Writes {
            self.0.writing.fetch_add(1, SeqCst);
        }
        Running {
            counts: self.0.clone(),
            kind,
        }
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

    /// Whether Statements may be arriving: a request that may store them runs, or one
    /// ended within `WRITES_LINGER`.
    pub fn writes_arriving(&self) -> bool {
        if self.0.writing.load(SeqCst) > 0 {
            return true;
        }
        match self.0.last_write_end.load(SeqCst) {
            0 => false,
            end => self.0.epoch.elapsed() < Duration::from_micros(end - 1) + WRITES_LINGER,
        }
    }

    /// Waits until no request is running, or the patience for the requests running has
    /// passed (looked at again as they change). Returns how long it waited.
    pub async fn give_way(&self, patience: Patience) -> Duration {
        if self.running() == 0 {
            return Duration::ZERO;
        }
        let start = Instant::now();
        while self.running() > 0 {
            let limit = if self.writes_arriving() {
                patience.writes
            } else {
                patience.reads
            };
            if start.elapsed() >= limit {
                break;
            }
            tokio::time::sleep(POLL).await;
        }
        start.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: Duration = Duration::from_secs(5);

    fn patience(writes: Duration, reads: Duration) -> Patience {
        Patience { writes, reads }
    }

    #[tokio::test]
    async fn gives_way_while_requests_run_but_never_past_its_patience() {
        let load = RequestLoad::default();
        assert_eq!(load.give_way(patience(LONG, LONG)).await, Duration::ZERO);
        let running = load.start(RequestKind::Writes);
        assert_eq!(load.running(), 1);
        let waited = load
            .give_way(patience(Duration::from_millis(30), LONG))
            .await;
        assert!(
            waited >= Duration::from_millis(30) && waited < LONG,
            "{waited:?}"
        );
        drop(running);
        assert_eq!(load.running(), 0);
    }

    #[tokio::test]
    async fn reads_alone_are_given_way_to_for_the_read_patience() {
        let load = RequestLoad::default();
        let _reading = load.start(RequestKind::Reads);
        assert!(!load.writes_arriving());
        let waited = load
            .give_way(patience(LONG, Duration::from_millis(30)))
            .await;
        assert!(
            waited >= Duration::from_millis(30) && waited < LONG,
            "{waited:?}"
        );

        let writing = load.start(RequestKind::Writes);
        let waited = load
            .give_way(patience(Duration::from_millis(30), LONG))
            .await;
        assert!(waited < LONG, "a write runs beside the read: {waited:?}");
        drop(writing);
        assert!(
            load.writes_arriving(),
            "a write that just ended still counts"
        );
        let waited = load
            .give_way(patience(Duration::from_millis(30), LONG))
            .await;
        assert!(waited < LONG, "{waited:?}");
    }

    #[test]
    fn writes_stop_arriving_a_linger_after_the_last_ends() {
        let load = RequestLoad::default();
        assert!(!load.writes_arriving(), "none yet");
        drop(load.start(RequestKind::Writes));
        assert!(load.writes_arriving());
        std::thread::sleep(WRITES_LINGER + Duration::from_millis(20));
        assert!(!load.writes_arriving());
    }

    #[test]
    fn quiet_counts_from_the_last_request_to_end() {
        let load = RequestLoad::default();
        let (first, second) = (
            load.start(RequestKind::Reads),
            load.start(RequestKind::Writes),
        );
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
