//! The calendar arithmetic the report queries share: which part of a period the weekly
//! (or monthly) rollups cover, and which part only the daily ones do.

use chrono::{Datelike, Days, Months, NaiveDate};

/// `[first, last)`: the whole weeks inside `[since, until)`, from the Monday starting
/// the first to the Monday ending the last; equal, and inside the period, when there
/// is none. The rest of the period is `[since, first)` and `[last, until)`.
pub(super) fn whole_weeks(since: NaiveDate, until: NaiveDate) -> (NaiveDate, NaiveDate) {
    let to_monday = (7 - since.weekday().num_days_from_monday()) % 7;
    let first = (since + Days::new(u64::from(to_monday))).min(until);
    let last = until - Days::new(u64::from(until.weekday().num_days_from_monday()));
    (first, last.max(first))
}

/// `[first, last)`: the whole months inside `[since, until)`, as [`whole_weeks`] gives
/// the weeks.
pub(super) fn whole_months(since: NaiveDate, until: NaiveDate) -> (NaiveDate, NaiveDate) {
    let month_of = |day: NaiveDate| day.with_day(1).expect("every month has a 1st");
    let first = if since.day() == 1 {
        since
    } else {
        month_of(since) + Months::new(1)
    };
    let first = first.min(until);
    (first, month_of(until).max(first))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn whole_weeks_are_the_mondays_inside_the_period() {
        // Wednesday to a Monday (exclusive): the week of 9 March only.
        assert_eq!(
            whole_weeks(day("2026-03-04"), day("2026-03-16")),
            (day("2026-03-09"), day("2026-03-16"))
        );
        // Monday to the next Monday: that one week.
        assert_eq!(
            whole_weeks(day("2026-03-02"), day("2026-03-09")),
            (day("2026-03-02"), day("2026-03-09"))
        );
        // Six days: no whole week.
        assert_eq!(
            whole_weeks(day("2026-03-02"), day("2026-03-08")),
            (day("2026-03-02"), day("2026-03-02"))
        );
        // Wednesday to Sunday: none either, and the rest is the period itself.
        assert_eq!(
            whole_weeks(day("2026-03-04"), day("2026-03-08")),
            (day("2026-03-08"), day("2026-03-08"))
        );
        // One Tuesday.
        assert_eq!(
            whole_weeks(day("2026-03-03"), day("2026-03-04")),
            (day("2026-03-04"), day("2026-03-04"))
        );
    }

    #[test]
    fn whole_months_are_the_firsts_inside_the_period() {
        // The 10th of September to the 3rd of December: October and November.
        assert_eq!(
            whole_months(day("2026-09-10"), day("2026-12-03")),
            (day("2026-10-01"), day("2026-12-01"))
        );
        // A 1st to a 1st: that month.
        assert_eq!(
            whole_months(day("2026-03-01"), day("2026-04-01")),
            (day("2026-03-01"), day("2026-04-01"))
        );
        // Inside one month: none, and the rest is the period itself.
        assert_eq!(
            whole_months(day("2026-03-04"), day("2026-03-20")),
            (day("2026-03-20"), day("2026-03-20"))
        );
        // The 2nd of March to the 1st of April: none, March is partial.
        assert_eq!(
            whole_months(day("2026-03-02"), day("2026-04-01")),
            (day("2026-04-01"), day("2026-04-01"))
        );
    }
}
