//! Where a forwarder stands: its position and the ranges of seqs formed beyond it, in
//! order. A range is a batch in flight, a finished batch, or seqs that matched nothing
//! (finished at once). The position moves only over the contiguous prefix of finished
//! ranges, so a batch that finishes early never lets the position pass one still in
//! flight. Pure: the runner writes what this decides.

use std::collections::VecDeque;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    after: i64,
    upto: i64,
    done: bool,
}

#[derive(Debug, Clone)]
pub struct Progress {
    position: i64,
    ranges: VecDeque<Range>,
}

impl Progress {
    pub fn new(position: i64) -> Progress {
        Progress {
            position,
            ranges: VecDeque::new(),
        }
    }

    pub fn position(&self) -> i64 {
        self.position
    }

    /// Where the next range begins (exclusive).
    pub fn end(&self) -> i64 {
        self.ranges.back().map_or(self.position, |r| r.upto)
    }

    /// A batch formed over (end, upto], finished or not (one recorded before a restart).
    /// Seqs between the end and `after` matched nothing.
    pub fn push_batch(&mut self, after: i64, upto: i64, done: bool) {
        debug_assert!(after >= self.end() && upto > after);
        if after > self.end() {
            self.skip_to(after);
        }
        self.ranges.push_back(Range { after, upto, done });
    }

    /// The seqs up to `upto` matched nothing.
    pub fn skip_to(&mut self, upto: i64) {
        let end = self.end();
        if upto <= end {
            return;
        }
        match self.ranges.back_mut() {
            Some(last) if last.done => last.upto = upto,
            _ => self.ranges.push_back(Range {
                after: end,
                upto,
                done: true,
            }),
        }
    }

    /// Replaces the batch over (after, …] by two: (after, middle] and (middle, …].
    pub fn split(&mut self, after: i64, middle: i64) {
        if let Some(i) = self.ranges.iter().position(|r| r.after == after) {
            let whole = self.ranges[i];
            debug_assert!(middle > whole.after && middle < whole.upto);
            self.ranges[i].upto = middle;
            self.ranges.insert(
                i + 1,
                Range {
                    after: middle,
                    upto: whole.upto,
                    done: false,
                },
            );
        }
    }

    /// Marks the batch over (after, …] finished.
    pub fn finish(&mut self, after: i64) {
        if let Some(range) = self.ranges.iter_mut().find(|r| r.after == after) {
            range.done = true;
        }
    }

    /// Moves the position over the finished prefix; the new position if it moved.
    pub fn advance(&mut self) -> Option<i64> {
        let before = self.position;
        while self.ranges.front().is_some_and(|r| r.done) {
            if let Some(range) = self.ranges.pop_front() {
                self.position = range.upto;
            }
        }
        (self.position != before).then_some(self.position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_position_waits_for_the_oldest_batch_in_flight() {
        let mut p = Progress::new(10);
        p.push_batch(10, 20, false);
        p.push_batch(20, 30, false);
        p.finish(20);
        assert_eq!(p.advance(), None);
        assert_eq!(p.position(), 10);
        p.finish(10);
        assert_eq!(p.advance(), Some(30));
        assert_eq!(p.end(), 30);
    }

    #[test]
    fn seqs_that_matched_nothing_are_passed_once_all_before_them_finished() {
        let mut p = Progress::new(0);
        p.skip_to(5);
        assert_eq!(p.advance(), Some(5));
        p.push_batch(5, 8, false);
        p.skip_to(12);
        p.skip_to(15);
        assert_eq!(p.end(), 15);
        assert_eq!(p.advance(), None);
        p.finish(5);
        assert_eq!(p.advance(), Some(15));
    }

    #[test]
    fn gaps_between_recorded_batches_matched_nothing() {
        let mut p = Progress::new(100);
        p.push_batch(110, 120, true);
        p.push_batch(130, 140, false);
        assert_eq!(p.advance(), Some(130));
        p.finish(130);
        assert_eq!(p.advance(), Some(140));
    }

    #[test]
    fn split_halves_finish_apart() {
        let mut p = Progress::new(0);
        p.push_batch(0, 10, false);
        p.split(0, 4);
        p.finish(4);
        assert_eq!(p.advance(), None);
        p.split(0, 2);
        p.finish(0);
        assert_eq!(p.advance(), Some(2));
        p.finish(2);
        assert_eq!(p.advance(), Some(10));
    }
}
