//! The consistency time a GET by id answers with.
//!
//! Reading the time (`commonplace_statement_watermark`) means a look at every writer in
//! flight through `pg_locks`. On the benchmark machine, with four clients at 1 M
//! Statements, that look cost more than the read of the Statement itself: GETs by id
//! ran at about 1,500/s with it and 2,900–3,000/s without it. A time read moments ago is
//! still true, because every Statement stored before it stays readable. So a GET by id
//! answers with the latest time any request of this server read, while that time is
//! younger than [`MAX_AGE`], and reads it afresh only when it is older.
//!
//! Queries still read their own: their snapshot's seq bound (`pin`) must cover every
//! Statement acknowledged before them.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

/// How old a consistency time a GET by id may answer with.
pub const MAX_AGE: Duration = Duration::from_millis(500);

#[derive(Debug, Default)]
pub struct RecentConsistency(Mutex<Option<Read>>);

#[derive(Debug, Clone, Copy)]
struct Read {
    /// When the read began (the time holds from then on).
    at: Instant,
    consistent_through: DateTime<Utc>,
}

impl RecentConsistency {
    /// Keeps `consistent_through`, read by a request that began reading at `at`, when
    /// it is later than the one kept (a slower request may offer an older time last).
    pub fn offer(&self, at: Instant, consistent_through: DateTime<Utc>) {
        let mut kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if kept.is_none_or(|k| consistent_through >= k.consistent_through) {
            *kept = Some(Read {
                at,
                consistent_through,
            });
        }
    }

    /// The time kept, if it was read less than [`MAX_AGE`] before `now`.
    pub fn fresh(&self, now: Instant) -> Option<DateTime<Utc>> {
        let kept = *self.0.lock().unwrap_or_else(|e| e.into_inner());
        kept.filter(|k| now.saturating_duration_since(k.at) < MAX_AGE)
            .map(|k| k.consistent_through)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_is_reused_until_it_is_too_old() {
        let recent = RecentConsistency::default();
        let start = Instant::now();
        assert_eq!(recent.fresh(start), None, "none read yet");
        let time = Utc::now();
        recent.offer(start, time);
        assert_eq!(recent.fresh(start + MAX_AGE / 2), Some(time));
        assert_eq!(recent.fresh(start + MAX_AGE), None, "too old");
    }

    #[test]
    fn an_older_time_offered_last_does_not_replace_a_later_one() {
        let recent = RecentConsistency::default();
        let start = Instant::now();
        let later = Utc::now();
        let earlier = later - chrono::Duration::milliseconds(5);
        recent.offer(start, later);
        recent.offer(start + Duration::from_millis(1), earlier);
        assert_eq!(recent.fresh(start), Some(later));
        let newest = later + chrono::Duration::milliseconds(5);
        recent.offer(start + Duration::from_millis(2), newest);
        assert_eq!(recent.fresh(start), Some(newest));
    }
}
