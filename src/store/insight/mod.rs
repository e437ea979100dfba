//! The insight reports of L&D (issue 19): goals and sharing per team here, and the
//! concierge's lists of learners (stale goals, colleagues, unfinished directed work) in
//! `concierge`. Reads only, from the rollups the learning feed keeps; `learning_events`
//! only through an index that bounds the rows (migration 0022). A learner's team and
//! name are `commonplace_learner_team`/`commonplace_learner_name` (migration 0021).
//!
//! Privacy, as in the teams report: a team is shown when at least `min_team_size`
//! learners of it were active in the period; a learner of a smaller team is listed
//! without it. Opted-out learners count in team figures and are never listed.

mod concierge;

use chrono::{Days, NaiveDate};
use deadpool_postgres::Pool;
use serde::Serialize;
use tokio_postgres::types::ToSql;

use super::calendar::whole_weeks;
use super::learning::{activity_name, Scope};
use super::Error;

pub use concierge::{
    colleagues, stale_goals, unfinished_directed, Colleague, ColleaguesOf, StaleGoal, Unfinished,
};

/// One team of `GET /reports/goals`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamGoals {
    pub team: String,
    /// Learners active in the period.
    pub learners: i64,
    /// Of those, the learners who had documented a goal by the period's end.
    pub goal_setters: i64,
    /// The goals they had documented by then.
    pub goals: i64,
    /// Learning time (reported + estimated) in self_planned and self_directed.
    pub self_directed_seconds: f64,
    /// The part of it in Statements linked to a goal.
    pub goal_linked_seconds: f64,
}

/// One team's shares of one week of `GET /reports/sharing`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamWeekShares {
    /// The Monday of the week (the first and last week may lie partly outside the period).
    pub week: NaiveDate,
    pub team: String,
    /// Statements sharing a find (`store::learning::SHARE_VERBS`).
    pub shares: i64,
    /// Learners who shared at least one.
    pub sharers: i64,
}

/// One of the most shared Activities of `GET /reports/sharing`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SharedItem {
    pub activity: String,
    pub name: Option<String>,
    pub shares: i64,
    pub sharers: i64,
}

/// The period of the same length just before `scope`'s.
pub fn previous_period(scope: Scope) -> Scope {
    let days = (scope.until - scope.since).num_days().max(0) as u64;
    Scope {
        since: scope.since - Days::new(days),
        until: scope.since,
        ..scope
    }
}

/// The parameters every query here starts with: `$1` store, `$2` since, `$3` until,
/// `$4` the minimum team size, `$5`..`$6` the whole weeks inside the period.
struct Period {
    store_id: i64,
    since: NaiveDate,
    until: NaiveDate,
    min_team_size: i64,
    weeks_from: NaiveDate,
    weeks_until: NaiveDate,
}

impl Period {
    fn of(scope: Scope) -> Period {
        let (weeks_from, weeks_until) = whole_weeks(scope.since, scope.until);
        Period {
            store_id: scope.store_id,
            since: scope.since,
            until: scope.until,
            min_team_size: scope.min_team_size,
            weeks_from,
            weeks_until,
        }
    }

    /// These parameters, then a query's own.
    fn with<'p>(&'p self, extra: &[&'p (dyn ToSql + Sync)]) -> Vec<&'p (dyn ToSql + Sync)> {
        let base: [&'p (dyn ToSql + Sync); 6] = [
            &self.store_id,
            &self.since,
            &self.until,
            &self.min_team_size,
            &self.weeks_from,
            &self.weeks_until,
        ];
        base.iter().chain(extra).copied().collect()
    }
}

const SELF_MODES: &str = "('self_planned', 'self_directed')";

/// Per learner and week (the week's Monday) of the period: self-directed time and
/// shares, from the weekly rollup for the weeks wholly inside it and the daily one for
/// the rest (each end its own range: as one `OR`, the planner filters every daily row);
/// then the teams of its learners (`TEAMS`).
fn period_rows() -> String {
    format!(
        "period_rows AS (
             SELECT week, learner,
                    coalesce(sum(seconds + estimated) FILTER (WHERE mode IN {SELF_MODES}), 0)
                        AS self_seconds,
                    sum(shares) AS shares
               FROM (SELECT week, learner, mode, seconds, estimated, shares
                       FROM learning_learner_weeks
                      WHERE store_id = $1 AND week >= $5 AND week < $6
                     UNION ALL
                     SELECT learning_week(day), learner, mode, seconds, estimated, shares
                       FROM learning_days WHERE store_id = $1 AND day >= $2 AND day < $5
                     UNION ALL
                     SELECT learning_week(day), learner, mode, seconds, estimated, shares
                       FROM learning_days WHERE store_id = $1 AND day >= $6 AND day < $3) r
              GROUP BY week, learner
         ),
         {teams}",
        teams = teams("SELECT DISTINCT learner FROM period_rows")
    )
}

/// The learners active in the period, for the lists that need only their teams.
fn active_teams() -> String {
    teams(
        "SELECT learner FROM learning_learner_weeks
          WHERE store_id = $1 AND week >= $5 AND week < $6
         UNION
         SELECT learner FROM learning_days WHERE store_id = $1 AND day >= $2 AND day < $5
         UNION
         SELECT learner FROM learning_days WHERE store_id = $1 AND day >= $6 AND day < $3",
    )
}

/// `teamed`: the team of each of `learners` (the learners active in the period), and
/// `shown_teams`: the teams with at least the minimum of them. Materialized: a
/// learner's team is looked up once, not again in each row's subquery.
fn teams(learners: &str) -> String {
    format!(
        "teamed AS MATERIALIZED (
             SELECT learner, commonplace_learner_team($1, learner) AS team FROM ({learners}) a
         ),
         shown_teams AS MATERIALIZED (
             SELECT team FROM teamed GROUP BY team HAVING count(*) >= $4
         )"
    )
}

/// A listed learner's name and team (NULL when the team is not shown): the columns, and
/// the joins they need on the rows naming the learner (their IFI is `{learner}`). The
/// team of a learner active in the period comes from `teamed`; only the others' is
/// looked up.
fn identity_columns() -> &'static str {
    "commonplace_learner_name($1, identity_l.learner), identity_s.team"
}

fn identity_joins(learner: &str) -> String {
    format!(
        "LEFT JOIN teamed identity_t ON identity_t.learner = {learner}
         CROSS JOIN LATERAL (
             SELECT {learner} AS learner,
                    coalesce(identity_t.team, commonplace_learner_team($1, {learner})) AS team
         ) identity_l
         LEFT JOIN shown_teams identity_s ON identity_s.team = identity_l.team"
    )
}

fn listed(learner: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM roster r
                      WHERE r.store_id = $1 AND r.learner = {learner} AND r.opted_out)"
    )
}

/// Per shown team: its learners active in the period, their goals and their
/// self-directed time, and the part of that time linked to a goal.
pub async fn goal_figures(pool: &Pool, scope: Scope) -> Result<Vec<TeamGoals>, Error> {
    let with_teams = period_rows();
    let sql = format!(
        "WITH {with_teams},
         self_time AS (
             SELECT learner, sum(self_seconds) AS seconds FROM period_rows GROUP BY learner
         ),
         documented AS (
             SELECT l.label AS learner, count(DISTINCT e.activity) AS goals
               FROM learning_events e JOIN learning_labels l ON l.id = e.learner
              WHERE e.store_id = $1 AND e.documents_goal AND e.day < $3
              GROUP BY l.label
         ),
         linked AS (
             SELECT l.label AS learner, e.seconds
               FROM (SELECT learner, sum(coalesce(seconds, 0) + estimated) AS seconds
                       FROM learning_events
                      WHERE store_id = $1 AND goal IS NOT NULL AND day >= $2 AND day < $3
                        AND mode IN {SELF_MODES}
                      GROUP BY learner) e
               JOIN learning_labels l ON l.id = e.learner
         )
         SELECT t.team, count(*), count(d.learner), coalesce(sum(d.goals), 0)::int8,
                sum(s.seconds), coalesce(sum(k.seconds), 0)
           FROM teamed t
           JOIN shown_teams USING (team)
           JOIN self_time s ON s.learner = t.learner
           LEFT JOIN documented d ON d.learner = t.learner
           LEFT JOIN linked k ON k.learner = t.learner
          GROUP BY t.team
          ORDER BY t.team"
    );
    let period = Period::of(scope);
    let client = pool.get().await?;
    let rows = client.query(&sql, &period.with(&[])).await?;
    Ok(rows
        .iter()
        .map(|r| TeamGoals {
            team: r.get(0),
            learners: r.get(1),
            goal_setters: r.get(2),
            goals: r.get(3),
            self_directed_seconds: r.get(4),
            goal_linked_seconds: r.get(5),
        })
        .collect())
}

/// Per week and shown team: the finds shared and how many learners shared them. Every
/// week a team was active in has a row, with no shares too.
pub async fn sharing_by_week(pool: &Pool, scope: Scope) -> Result<Vec<TeamWeekShares>, Error> {
    let with_teams = period_rows();
    let sql = format!(
        "WITH {with_teams}
         SELECT p.week, t.team, sum(p.shares)::int8, count(*) FILTER (WHERE p.shares > 0)
           FROM period_rows p
           JOIN teamed t ON t.learner = p.learner
           JOIN shown_teams USING (team)
          GROUP BY 1, 2
          ORDER BY 1, 2"
    );
    let period = Period::of(scope);
    let client = pool.get().await?;
    let rows = client.query(&sql, &period.with(&[])).await?;
    Ok(rows
        .iter()
        .map(|r| TeamWeekShares {
            week: r.get(0),
            team: r.get(1),
            shares: r.get(2),
            sharers: r.get(3),
        })
        .collect())
}

/// The `top` Activities shared most in the period (ties: more sharers, then by id).
pub async fn top_shared(pool: &Pool, scope: Scope, top: i64) -> Result<Vec<SharedItem>, Error> {
    let sql = format!(
        "WITH ranked AS (
             SELECT activity, count(*) AS shares, count(DISTINCT learner) AS sharers
               FROM learning_shares
              WHERE store_id = $1 AND day >= $2 AND day < $3
              GROUP BY activity
         ),
         labelled AS (
             SELECT a.label AS activity, r.shares, r.sharers
               FROM ranked r JOIN learning_labels a ON a.id = r.activity
              ORDER BY r.shares DESC, r.sharers DESC, a.label
              LIMIT $4
         )
         SELECT activity, {name}, shares, sharers FROM labelled
          ORDER BY shares DESC, sharers DESC, activity",
        name = activity_name("labelled.activity"),
    );
    let client = pool.get().await?;
    let rows = client
        .query(&sql, &[&scope.store_id, &scope.since, &scope.until, &top])
        .await?;
    Ok(rows
        .iter()
        .map(|r| SharedItem {
            activity: r.get(0),
            name: r.get(1),
            shares: r.get(2),
            sharers: r.get(3),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::learning::TimeRule;

    #[test]
    fn the_previous_period_has_the_same_length_and_ends_where_this_one_starts() {
        let day = |text: &str| text.parse::<NaiveDate>().unwrap();
        let scope = Scope {
            store_id: 1,
            since: day("2026-03-02"),
            until: day("2026-03-16"),
            min_team_size: 5,
            time: TimeRule::default(),
        };
        let previous = previous_period(scope);
        assert_eq!(
            (previous.since, previous.until),
            (day("2026-02-16"), day("2026-03-02"))
        );
        assert_eq!(previous.store_id, 1);
        assert_eq!(previous.min_team_size, 5);
    }
}
