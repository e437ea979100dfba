//! The concierge's lists: learners with stale goals, colleagues of a learner or a goal,
//! and unfinished directed work. Learners are named and teamed as in `super`.

use chrono::{Days, NaiveDate};
use deadpool_postgres::Pool;
use serde::Serialize;

use super::{active_teams, identity_columns, identity_joins, listed, Period, SELF_MODES};
use crate::store::learning::{activity_name, Scope, COMPLETION_VERBS};
use crate::store::Error;

/// A goal not achieved with no linked activity in the weeks before the period's end.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StaleGoal {
    pub learner: String,
    pub name: String,
    /// `None` when the learner's team is too small to be shown.
    pub team: Option<String>,
    pub goal: String,
    pub goal_name: Option<String>,
    /// The first day the learner documented the goal.
    pub documented: NaiveDate,
    /// The last day of a Statement of the learner's linked to the goal, if any.
    pub last_activity: Option<NaiveDate>,
}

/// Whose colleagues to find.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ColleaguesOf {
    /// A learner (an IFI as the LRS writes it, aliases resolved).
    Learner(String),
    /// A goal (its Activity id, or the value of the goal extension).
    Goal(String),
}

/// A colleague of `GET /reports/concierge/colleagues`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Colleague {
    pub learner: String,
    pub name: String,
    pub team: Option<String>,
    /// How many of the sources (hosts and Activities, and the goal itself) they have
    /// in common.
    pub common_sources: i64,
    /// Up to three of those: the goal, then Activities (those they were most active on
    /// first), then hosts (by name).
    pub common: Vec<String>,
    /// Finds they shared in the period.
    pub shares: i64,
}

/// A directed course of `GET /reports/concierge/unfinished`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Unfinished {
    pub learner: String,
    pub name: String,
    pub team: Option<String>,
    pub course: String,
    pub course_name: Option<String>,
    /// The first day of activity in the course.
    pub started: NaiveDate,
    /// The last day of activity in it up to the period's end.
    pub last_activity: NaiveDate,
}

/// Colleagues are found through this many of the Activities of the learner or goal
/// asked about, the most frequent: an Activity common to most of the store would
/// otherwise have every one of its events read.
const SOURCE_ACTIVITIES: i64 = 25;

/// The goals documented by the period's end and not achieved (completed or passed by
/// then), that the learner neither documented again nor linked a Statement to in the
/// `weeks` weeks before the period's end; longest idle first.
pub async fn stale_goals(pool: &Pool, scope: Scope, weeks: i64) -> Result<Vec<StaleGoal>, Error> {
    let with_teams = active_teams();
    let sql = format!(
        "WITH {with_teams},
         documented AS (
             SELECT e.learner, e.activity AS goal, min(e.day) AS first_day,
                    max(e.day) AS last_day, bool_or(v.label = ANY($7)) AS achieved
               FROM learning_events e JOIN learning_labels v ON v.id = e.verb
              WHERE e.store_id = $1 AND e.documents_goal AND e.day < $3
              GROUP BY 1, 2
         ),
         idle AS (
             SELECT d.*,
                    (SELECT max(g.day) FROM learning_events g
                      WHERE g.store_id = $1 AND g.goal = d.goal AND g.learner = d.learner
                        AND g.day < $3) AS last_activity
               FROM documented d
              WHERE NOT d.achieved
         ),
         stale AS (
             SELECT l.label AS learner, g.label AS goal, i.first_day, i.last_activity
               FROM idle i
               JOIN learning_labels l ON l.id = i.learner
               JOIN learning_labels g ON g.id = i.goal
              WHERE greatest(i.last_day, i.last_activity) < $8
         )
         SELECT s.learner, {identity}, s.goal, {goal_name}, s.first_day, s.last_activity
           FROM stale s {joins}
          WHERE {listed}
          ORDER BY coalesce(s.last_activity, s.first_day), s.first_day, s.learner, s.goal",
        identity = identity_columns(),
        joins = identity_joins("s.learner"),
        goal_name = activity_name("s.goal"),
        listed = listed("s.learner"),
    );
    let period = Period::of(scope);
    let idle_since = scope.until - Days::new(7 * weeks.max(0) as u64);
    let completions: &[&str] = &COMPLETION_VERBS;
    let client = pool.get().await?;
    let rows = client
        .query(&sql, &period.with(&[&completions, &idle_since]))
        .await?;
    Ok(rows
        .iter()
        .map(|r| StaleGoal {
            learner: r.get(0),
            name: r.get(1),
            team: r.get(2),
            goal: r.get(3),
            goal_name: r.get(4),
            documented: r.get(5),
            last_activity: r.get(6),
        })
        .collect())
}

/// The `top` learners who were active in the period on the most of the same sources,
/// in self_planned and self_directed learning: for a learner, the hosts they were
/// active on and their `SOURCE_ACTIVITIES` most frequent Activities; for a goal, the
/// goal itself (learners who linked a Statement to it) and the `SOURCE_ACTIVITIES`
/// Activities most linked to it. Ties go to more Statements on the common Activities
/// (and goal). The learner asked about is not their own colleague; opted-out learners
/// are not listed.
pub async fn colleagues(
    pool: &Pool,
    scope: Scope,
    of: ColleaguesOf,
    top: i64,
) -> Result<Vec<Colleague>, Error> {
    // The sources of the one asked about (`$7`, a learner's IFI or a goal): hosts by
    // name, Activities and the goal by label id, each with its text as `key`.
    let (sources, asked, excluded) = match of {
        ColleaguesOf::Learner(learner) => (
            format!(
                "sources AS (
                     SELECT DISTINCT 'host' AS kind, h.host AS key, NULL::int8 AS id
                       FROM learning_day_hosts h
                      WHERE h.store_id = $1 AND h.learner = $7 AND h.day >= $2 AND h.day < $3
                        AND h.mode IN {SELF_MODES}
                     UNION ALL
                     SELECT 'activity', a.label, a.id
                       FROM (SELECT e.activity
                               FROM learning_events e
                              WHERE e.store_id = $1 AND e.day >= $2 AND e.day < $3
                                AND e.learner = (SELECT id FROM learning_labels
                                                  WHERE store_id = $1
                                                    AND key = commonplace_term_key($7))
                                AND e.activity IS NOT NULL AND e.mode IN {SELF_MODES}
                              GROUP BY e.activity
                              ORDER BY count(*) DESC, e.activity
                              LIMIT {SOURCE_ACTIVITIES}) m
                       JOIN learning_labels a ON a.id = m.activity
                 )"
            ),
            learner.clone(),
            Some(learner),
        ),
        ColleaguesOf::Goal(goal) => (
            format!(
                "goal AS (
                 SELECT id, label FROM learning_labels
                  WHERE store_id = $1 AND key = commonplace_term_key($7)
             ),
             sources AS (
                 SELECT 'goal' AS kind, label AS key, id FROM goal
                 UNION ALL
                 SELECT 'activity', a.label, a.id
                   FROM (SELECT e.activity
                           FROM learning_events e
                          WHERE e.store_id = $1 AND e.goal = (SELECT id FROM goal)
                            AND e.day >= $2 AND e.day < $3 AND e.activity IS NOT NULL
                          GROUP BY e.activity
                          ORDER BY count(*) DESC, e.activity
                          LIMIT {SOURCE_ACTIVITIES}) m
                   JOIN learning_labels a ON a.id = m.activity
             )"
            ),
            goal,
            None,
        ),
    };
    let with_teams = active_teams();
    let sql = format!(
        "WITH {with_teams}, {sources},
         -- Who was active on each Activity (self-directed) or linked a Statement to the
         -- goal in the period, and how often, by label id.
         pairs AS (
             SELECT e.learner AS learner_id, s.kind, s.key, count(*) AS statements
               FROM sources s
               JOIN learning_events e
                 ON e.store_id = $1 AND e.activity = s.id AND e.day >= $2 AND e.day < $3
              WHERE s.kind = 'activity' AND e.mode IN {SELF_MODES}
              GROUP BY 1, 2, 3
             UNION ALL
             SELECT e.learner, s.kind, s.key, count(*)
               FROM sources s
               JOIN learning_events e
                 ON e.store_id = $1 AND e.goal = s.id AND e.day >= $2 AND e.day < $3
              WHERE s.kind = 'goal'
              GROUP BY 1, 2, 3
         ),
         -- Per learner: how many in common, their Statements on them, and the most
         -- telling three (the goal, then Activities), labelled once per learner.
         by_activity AS (
             SELECT l.label AS learner, a.common_sources, a.statements, a.common
               FROM (SELECT learner_id, count(*) AS common_sources,
                            sum(statements) AS statements,
                            (array_agg(key ORDER BY kind = 'activity', statements DESC, key))[1:3]
                                AS common
                       FROM pairs GROUP BY learner_id) a
               JOIN learning_labels l ON l.id = a.learner_id
         ),
         -- Hosts from the learner spans (as the sources report counts a host's
         -- learners), without their Statements: the daily rows of a host common to
         -- everyone would be most of the rollup.
         by_host AS (
             SELECT h.learner, count(DISTINCT s.key) AS common_sources,
                    (array_agg(DISTINCT s.key ORDER BY s.key))[1:3] AS common
               FROM sources s
               JOIN learning_host_learners h
                 ON h.store_id = $1 AND h.mode IN {SELF_MODES} AND h.host = s.key
                AND h.first_day < $3 AND h.last_day >= $2
                AND (h.first_day >= $2 OR h.last_day < $3
                     OR EXISTS (SELECT 1 FROM learning_day_hosts d
                                 WHERE d.store_id = $1 AND d.mode = h.mode AND d.host = h.host
                                   AND d.learner = h.learner AND d.day >= $2 AND d.day < $3))
              WHERE s.kind = 'host'
              GROUP BY h.learner
         ),
         grouped AS (
             SELECT coalesce(a.learner, h.learner) AS learner,
                    coalesce(a.common_sources, 0) + coalesce(h.common_sources, 0)
                        AS common_sources,
                    (coalesce(a.common, ARRAY[]::text[]) || coalesce(h.common, ARRAY[]::text[]))[1:3] AS common,
                    coalesce(a.statements, 0) AS statements
               FROM by_activity a FULL JOIN by_host h ON h.learner = a.learner
              WHERE coalesce(a.learner, h.learner) IS DISTINCT FROM $9
         ),
         ranked AS (
             SELECT * FROM grouped g
              WHERE {listed}
              ORDER BY common_sources DESC, statements DESC, learner
              LIMIT $8
         )
         SELECT r.learner, {identity}, r.common_sources, r.common,
                coalesce(shared.shares, 0)::int8
           FROM ranked r {joins}
           LEFT JOIN LATERAL (
               SELECT sum(d.shares) AS shares FROM learning_days d
                WHERE d.store_id = $1 AND d.learner = r.learner AND d.day >= $2 AND d.day < $3
           ) shared ON true
          ORDER BY r.common_sources DESC, r.statements DESC, r.learner",
        identity = identity_columns(),
        joins = identity_joins("r.learner"),
        listed = listed("g.learner"),
    );
    let period = Period::of(scope);
    let client = pool.get().await?;
    let rows = client
        .query(&sql, &period.with(&[&asked, &top, &excluded]))
        .await?;
    Ok(rows
        .iter()
        .map(|r| Colleague {
            learner: r.get(0),
            name: r.get(1),
            team: r.get(2),
            common_sources: r.get(3),
            common: r.get(4),
            shares: r.get(5),
        })
        .collect())
}

/// The directed courses learners were active in during the period (as the teams report
/// counts them) and had not completed by its end; longest idle first, the first `limit`
/// (all when `None`). A learner's name and team, and a course's name, are looked up once
/// each, not once per row: a store's learners have tens of thousands of open courses.
pub async fn unfinished_directed(
    pool: &Pool,
    scope: Scope,
    limit: Option<i64>,
) -> Result<Vec<Unfinished>, Error> {
    let with_teams = active_teams();
    let sql = format!(
        "WITH {with_teams},
         open AS (
             SELECT c.learner, c.course, c.first_day,
                    CASE WHEN c.last_day < $3 THEN c.last_day
                         ELSE (SELECT max(d.day) FROM learning_day_courses d
                                WHERE d.store_id = $1 AND d.learner = c.learner
                                  AND d.course = c.course AND d.day < $3) END AS last_day
               FROM learning_courses c
              WHERE c.store_id = $1 AND c.first_day < $3 AND c.last_day >= $2
                AND (c.first_completion IS NULL OR c.first_completion >= $3)
                AND (c.first_day >= $2 OR c.last_day < $3
                     OR EXISTS (SELECT 1 FROM learning_day_courses d
                                 WHERE d.store_id = $1 AND d.learner = c.learner
                                   AND d.course = c.course AND d.day >= $2 AND d.day < $3))
         ),
         kept AS MATERIALIZED (
             SELECT o.* FROM open o
              WHERE {listed}
              ORDER BY o.last_day, o.first_day, o.learner, o.course
              LIMIT $7
         ),
         people (learner, name, team) AS MATERIALIZED (
             SELECT o.learner, {identity} FROM (SELECT DISTINCT learner FROM kept) o {joins}
         ),
         courses (course, name) AS MATERIALIZED (
             SELECT o.course, {course_name} FROM (SELECT DISTINCT course FROM kept) o
         )
         SELECT k.learner, p.name, p.team, k.course, c.name, k.first_day, k.last_day
           FROM kept k
           JOIN people p ON p.learner = k.learner
           JOIN courses c ON c.course = k.course
          ORDER BY k.last_day, k.first_day, k.learner, k.course",
        identity = identity_columns(),
        joins = identity_joins("o.learner"),
        course_name = activity_name("o.course"),
        listed = listed("o.learner"),
    );
    let period = Period::of(scope);
    let client = pool.get().await?;
    let rows = client.query(&sql, &period.with(&[&limit])).await?;
    Ok(rows
        .iter()
        .map(|r| Unfinished {
            learner: r.get(0),
            name: r.get(1),
            team: r.get(2),
            course: r.get(3),
            course_name: r.get(4),
            started: r.get(5),
            last_activity: r.get(6),
        })
        .collect())
}
