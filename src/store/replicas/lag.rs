//! How far a replica is behind, in the primary's time: the primary's recent WAL
//! positions with its clock, against which a replica's replay position is timed.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio_postgres::types::PgLsn;

/// One reading of the primary: its WAL position and its clock just before.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sample {
    pub(super) taken: Instant,
    pub(super) clock: DateTime<Utc>,
    pub(super) position: PgLsn,
}

/// The primary's recent samples, oldest first: how a replica's replay position
/// translates to the primary's time.
pub(super) struct History {
    samples: VecDeque<Sample>,
    keep: Duration,
}

impl History {
    pub(super) fn new(keep: Duration) -> History {
        History {
            samples: VecDeque::new(),
            keep,
        }
    }

    pub(super) fn record(&mut self, sample: Sample) {
        self.samples.push_back(sample);
        while self
            .samples
            .front()
            .is_some_and(|s| sample.taken.duration_since(s.taken) > self.keep)
        {
            self.samples.pop_front();
        }
    }

    /// The primary's time by which a replica that has replayed up to `replayed`, with
    /// `last_commit` the last commit it replayed, has every change: the latest sample
    /// it has replayed, or that commit when it is later. `None` when it is behind
    /// every sample and has replayed no commit.
    pub(super) fn replayed_through(
        &self,
        replayed: PgLsn,
        last_commit: Option<DateTime<Utc>>,
    ) -> Option<DateTime<Utc>> {
        let by_position = self
            .samples
            .iter()
            .rev()
            .find(|s| s.position <= replayed)
            .map(|s| s.clock);
        by_position.max(last_commit)
    }

    /// How far behind the primary such a replica is at `now`.
    pub(super) fn lag(
        &self,
        replayed: PgLsn,
        last_commit: Option<DateTime<Utc>>,
        now: Instant,
    ) -> Option<Duration> {
        let latest = self.samples.back()?;
        let primary_now =
            latest.clock + chrono::Duration::from_std(now.duration_since(latest.taken)).ok()?;
        let through = self.replayed_through(replayed, last_commit)?;
        Some((primary_now - through).to_std().unwrap_or(Duration::ZERO))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sampled(start: Instant, clock: DateTime<Utc>, points: &[(u64, u64)]) -> History {
        let mut history = History::new(Duration::from_secs(60));
        for &(seconds, position) in points {
            history.record(Sample {
                taken: start + Duration::from_secs(seconds),
                clock: clock + chrono::Duration::seconds(seconds as i64),
                position: PgLsn::from(position),
            });
        }
        history
    }

    #[test]
    fn a_replica_of_an_idle_primary_does_not_lag_however_old_its_last_commit() {
        let (start, clock) = (Instant::now(), Utc::now());
        // The primary wrote nothing for 30 s; the replica has all of it.
        let history = sampled(start, clock, &(0..30).map(|s| (s, 100)).collect::<Vec<_>>());
        let old_commit = Some(clock - chrono::Duration::hours(1));
        let lag = history.lag(
            PgLsn::from(100),
            old_commit,
            start + Duration::from_secs(29),
        );
        assert_eq!(lag, Some(Duration::ZERO));
    }

    #[test]
    fn a_paused_replica_lags_by_the_primary_time_since_the_last_position_it_replayed() {
        let (start, clock) = (Instant::now(), Utc::now());
        let history = sampled(start, clock, &[(0, 100), (1, 200), (2, 300), (3, 400)]);
        let now = start + Duration::from_millis(3500);
        // Replayed 250: it has everything of the sample at 1 s, not that of 2 s.
        let lag = history.lag(PgLsn::from(250), None, now).unwrap();
        assert_eq!(lag, Duration::from_millis(2500));
        let through = history.replayed_through(PgLsn::from(250), None);
        assert_eq!(through, Some(clock + chrono::Duration::seconds(1)));
    }

    #[test]
    fn a_later_replayed_commit_narrows_the_lag() {
        let (start, clock) = (Instant::now(), Utc::now());
        let history = sampled(start, clock, &[(0, 100), (1, 200), (2, 300)]);
        let commit = clock + chrono::Duration::milliseconds(1900);
        let lag = history
            .lag(
                PgLsn::from(250),
                Some(commit),
                start + Duration::from_secs(2),
            )
            .unwrap();
        assert_eq!(lag, Duration::from_millis(100));
    }

    #[test]
    fn a_replica_behind_every_sample_without_a_commit_cannot_be_timed() {
        let (start, clock) = (Instant::now(), Utc::now());
        let history = sampled(start, clock, &[(0, 100), (1, 200)]);
        assert_eq!(history.lag(PgLsn::from(50), None, start), None);
        assert_eq!(
            History::new(Duration::from_secs(1)).lag(PgLsn::from(50), None, start),
            None
        );
    }

    #[test]
    fn old_samples_are_dropped() {
        let (start, clock) = (Instant::now(), Utc::now());
        let mut history = sampled(start, clock, &[(0, 100), (1, 200)]);
        history.keep = Duration::from_secs(5);
        history.record(Sample {
            taken: start + Duration::from_secs(10),
            clock: clock + chrono::Duration::seconds(10),
            position: PgLsn::from(300),
        });
        assert_eq!(history.samples.len(), 1);
    }
}
