//! The team, learner and source reports, read from the rollups the learning feed
//! keeps (`store::learning_feed`): per day and learner, with reported and estimated
//! time side by side (see [`TimeRule`]). Only goals read `learning_events` itself.

use chrono::NaiveDate;
use deadpool_postgres::Pool;
use serde::Serialize;
use tokio_postgres::types::ToSql;

use super::calendar::whole_weeks;
use super::Error;

/// Verbs that share a find with others.
pub const SHARE_VERBS: [&str; 2] = [
    "http://adlnet.gov/expapi/verbs/shared",
    "http://activitystrea.ms/schema/1.0/share",
];
/// The completion verbs as one SQL array parameter.
const COMPLETIONS: &[&str] = &COMPLETION_VERBS;
/// Verbs that complete a course.
pub const COMPLETION_VERBS: [&str; 2] = [
    "http://adlnet.gov/expapi/verbs/completed",
    "http://adlnet.gov/expapi/verbs/passed",
];

/// How time is estimated for Statements without `result.duration`: a learner's events
/// in time order form sessions; an event followed by the learner's next event within
/// `session_gap_seconds` is credited the gap, capped at `cap_seconds`. The last event of
/// a session (nothing follows within the gap) is credited nothing: there is no evidence
/// of how long it took.
#[derive(Debug, Clone, Copy)]
pub struct TimeRule {
    pub session_gap_seconds: f64,
    pub cap_seconds: f64,
}

impl Default for TimeRule {
    fn default() -> Self {
        TimeRule {
            session_gap_seconds: 30.0 * 60.0,
            cap_seconds: 10.0 * 60.0,
        }
    }
}

/// The period and the privacy and time rules of a report.
#[derive(Debug, Clone, Copy)]
pub struct Scope {
    pub store_id: i64,
    /// First day included.
    pub since: NaiveDate,
    /// First day not included.
    pub until: NaiveDate,
    pub min_team_size: i64,
    pub time: TimeRule,
}

const SELF_MODES: &str = "('self_planned', 'self_directed')";

/// One team of `GET /reports/teams`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamFigures {
    pub team: String,
    pub learners: i64,
    pub statements: i64,
    pub reported_seconds: f64,
    pub estimated_seconds: f64,
    /// Share of statements in self_planned + self_directed.
    pub self_direction_by_statements: f64,
    /// Share of learning time (reported + estimated) in self_planned + self_directed;
    /// `None` when the team has no learning time.
    pub self_direction_by_time: Option<f64>,
    pub goal_coverage: f64,
    /// Share of self_planned + self_directed statements linked to a goal.
    pub goal_linked_share: Option<f64>,
    pub finds_shared_per_learner: f64,
    pub directed_courses: i64,
    pub directed_completion_rate: Option<f64>,
}

fn ratio(part: f64, whole: f64) -> Option<f64> {
    (whole > 0.0).then(|| part / whole)
}

/// Per team (`commonplace_learner_team`) over the period; each learner's sums come from
/// the weekly rollup for the weeks wholly inside the period and from the days for the
/// rest.
pub async fn team_figures(pool: &Pool, scope: Scope) -> Result<Vec<TeamFigures>, Error> {
    let sql = format!(
        "WITH per_learner AS (
             SELECT learner, sum(statements) AS statements, sum(seconds) AS reported,
                    sum(estimated) AS estimated,
                    coalesce(sum(statements) FILTER (WHERE mode IN {SELF_MODES}), 0) AS self_statements,
                    coalesce(sum(seconds + estimated) FILTER (WHERE mode IN {SELF_MODES}), 0)
                        AS self_seconds,
                    coalesce(sum(goal_linked) FILTER (WHERE mode IN {SELF_MODES}), 0) AS linked,
                    sum(shares) AS shares
               FROM (SELECT learner, mode, statements, seconds, estimated, goal_linked, shares
                       FROM learning_learner_weeks
                      WHERE store_id = $1 AND week >= $5 AND week < $6
                     UNION ALL
                     SELECT learner, mode, statements, seconds, estimated, goal_linked, shares
                       FROM learning_days
                      WHERE store_id = $1
                        AND ((day >= $2 AND day < $5) OR (day >= $6 AND day < $3))) d
              GROUP BY learner
         ),
         goal_setters AS (
             SELECT l.label AS learner
               FROM (SELECT DISTINCT learner FROM learning_events
                      WHERE store_id = $1 AND day < $3 AND documents_goal) e
               JOIN learning_labels l ON l.id = e.learner
         ),
         -- A course counts when the learner was active in it in the period: its first or
         -- last day falls there, or (spanning the period) some day in between does.
         directed AS (
             SELECT c.learner, count(*) AS courses,
                    count(*) FILTER (WHERE c.first_completion < $3) AS completed
               FROM learning_courses c
              WHERE c.store_id = $1 AND c.first_day < $3 AND c.last_day >= $2
                AND (c.first_day >= $2 OR c.last_day < $3
                     OR EXISTS (SELECT 1 FROM learning_day_courses d
                                 WHERE d.store_id = $1 AND d.learner = c.learner
                                   AND d.course = c.course AND d.day >= $2 AND d.day < $3))
              GROUP BY c.learner
         ),
         per_team AS (
             SELECT commonplace_learner_team($1, l.learner) AS team, count(*) AS learners,
                    sum(l.statements)::int8 AS statements, sum(l.reported) AS reported,
                    sum(l.estimated) AS estimated, sum(l.self_statements)::int8 AS self_statements,
                    sum(l.self_seconds) AS self_seconds, sum(l.linked)::int8 AS linked,
                    sum(l.shares)::int8 AS shares, count(g.learner) AS goal_setters,
                    coalesce(sum(d.courses), 0)::int8 AS courses,
                    coalesce(sum(d.completed), 0)::int8 AS completed
               FROM per_learner l
               LEFT JOIN goal_setters g ON g.learner = l.learner
               LEFT JOIN directed d ON d.learner = l.learner
              GROUP BY 1
         )
         SELECT p.team, p.learners, p.statements, p.reported, p.estimated, p.self_statements,
                p.self_seconds, p.linked, p.shares, p.goal_setters, p.courses, p.completed
           FROM per_team p
          WHERE p.learners >= $4
          ORDER BY p.team"
    );
    let client = pool.get().await?;
    let (whole_weeks_from, whole_weeks_until) = whole_weeks(scope.since, scope.until);
    let rows = client
        .query(
            &sql,
            &[
                &scope.store_id,
                &scope.since,
                &scope.until,
                &scope.min_team_size,
                &whole_weeks_from,
                &whole_weeks_until,
            ],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let learners: i64 = r.get(1);
            let statements: i64 = r.get(2);
            let reported: f64 = r.get(3);
            let estimated: f64 = r.get(4);
            let self_statements: i64 = r.get(5);
            let self_seconds: f64 = r.get(6);
            let linked: i64 = r.get(7);
            let shares: i64 = r.get(8);
            let goal_setters: i64 = r.get(9);
            let directed: i64 = r.get(10);
            let completed: i64 = r.get(11);
            TeamFigures {
                team: r.get(0),
                learners,
                statements,
                reported_seconds: reported,
                estimated_seconds: estimated,
                self_direction_by_statements: self_statements as f64 / statements as f64,
                self_direction_by_time: ratio(self_seconds, reported + estimated),
                goal_coverage: goal_setters as f64 / learners as f64,
                goal_linked_share: ratio(linked as f64, self_statements as f64),
                finds_shared_per_learner: shares as f64 / learners as f64,
                directed_courses: directed,
                directed_completion_rate: ratio(completed as f64, directed as f64),
            }
        })
        .collect())
}

/// The most frequent first-language name of an Activity, from the Activities data.
const ACTIVITY_NAME: &str =
    "(SELECT v FROM activities a, jsonb_each_text(a.definition -> 'name') AS n(k, v)
                              WHERE a.store_id = $1 AND a.iri = {col} ORDER BY k LIMIT 1)";

pub(super) fn activity_name(column: &str) -> String {
    ACTIVITY_NAME.replace("{col}", column)
}

/// One bucket × mode of a learner's mix.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MixRow {
    pub bucket: NaiveDate,
    pub mode: String,
    pub statements: i64,
    pub reported_seconds: f64,
    pub estimated_seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkedActivity {
    pub activity: String,
    pub name: Option<String>,
    pub statements: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Goal {
    pub goal: String,
    pub name: Option<String>,
    /// First day the learner recorded the goal itself (set, revised), if they did.
    pub documented: Option<NaiveDate>,
    /// Whether the learner completed the goal.
    pub achieved: bool,
    /// Activities of the period linked to the goal, most statements first.
    pub activities: Vec<LinkedActivity>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ranked {
    /// A host, an Activity id, or a course id.
    pub key: String,
    pub name: Option<String>,
    pub statements: i64,
    pub learners: i64,
    pub reported_seconds: f64,
    pub estimated_seconds: f64,
    /// For directed courses: whether the learner completed it (else `None`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LearnerReport {
    pub learner: String,
    pub name: Option<String>,
    pub team: Option<String>,
    pub mix: Vec<MixRow>,
    pub goals: Vec<Goal>,
    pub top_sources: Vec<Ranked>,
    pub top_directed_courses: Vec<Ranked>,
}

/// The parameters of a query: the shared ones, then its own.
fn with_params<'p>(
    base: &[&'p (dyn ToSql + Sync)],
    extra: &[&'p (dyn ToSql + Sync)],
) -> Vec<&'p (dyn ToSql + Sync)> {
    base.iter().chain(extra).copied().collect()
}

/// The learner an IFI is credited to: the roster learner it is an alias of, else itself.
pub async fn learner_of(pool: &Pool, store_id: i64, ifi: &str) -> Result<String, Error> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "SELECT learner FROM learner_aliases WHERE store_id = $1 AND alias = $2",
            &[&store_id, &ifi],
        )
        .await?;
    Ok(row.map_or_else(|| ifi.to_string(), |r| r.get(0)))
}

/// The learner an IFI is credited to (as [`learner_of`]), and whether that learner opted
/// out of learner-level reports: one round trip for every learner-level read.
pub async fn credited_learner(
    pool: &Pool,
    store_id: i64,
    ifi: &str,
) -> Result<(String, bool), Error> {
    let client = pool.get().await?;
    let row = client
        .query_one(
            "SELECT l.learner,
                    coalesce((SELECT r.opted_out FROM roster r
                               WHERE r.store_id = $1 AND r.learner = l.learner), false)
               FROM (SELECT coalesce((SELECT learner FROM learner_aliases
                                       WHERE store_id = $1 AND alias = $2), $2) AS learner) l",
            &[&store_id, &ifi],
        )
        .await?;
    Ok((row.get(0), row.get(1)))
}

/// What the roster says of a learner: name, team, opted out.
pub async fn roster_entry(
    pool: &Pool,
    store_id: i64,
    learner: &str,
) -> Result<Option<(String, String, bool)>, Error> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "SELECT name, team, opted_out FROM roster WHERE store_id = $1 AND learner = $2",
            &[&store_id, &learner],
        )
        .await?;
    Ok(row.map(|r| (r.get(0), r.get(1), r.get(2))))
}

/// One learner's report over the period, bucketed by `bucket` (`day|week|month`); `top`
/// bounds the ranked lists. The caller checks the opt-out first.
pub async fn learner_report(
    pool: &Pool,
    scope: Scope,
    learner: &str,
    bucket: &str,
    top: i64,
) -> Result<LearnerReport, Error> {
    let client = pool.get().await?;
    let learner_param = learner.to_string();
    let base: [&(dyn ToSql + Sync); 4] =
        [&scope.store_id, &scope.since, &scope.until, &learner_param];
    let period = "store_id = $1 AND day >= $2 AND day < $3 AND learner = $4";

    let mix = client
        .query(
            &format!(
                "SELECT date_trunc($5, day::timestamp)::date, mode, sum(statements)::int8,
                        sum(seconds), sum(estimated)
                   FROM learning_days WHERE {period} GROUP BY 1, 2 ORDER BY 1, 2"
            ),
            &with_params(&base, &[&bucket]),
        )
        .await?
        .iter()
        .map(|r| MixRow {
            bucket: r.get(0),
            mode: r.get(1),
            statements: r.get(2),
            reported_seconds: r.get(3),
            estimated_seconds: r.get(4),
        })
        .collect();
    let ranked = |r: &tokio_postgres::Row, completed: Option<bool>| Ranked {
        key: r.get(0),
        name: r.get(1),
        statements: r.get(2),
        learners: 1,
        reported_seconds: r.get(3),
        estimated_seconds: r.get(4),
        completed,
    };
    let top_sources = client
        .query(
            &format!(
                "SELECT host, NULL::text, sum(statements)::int8, sum(seconds), sum(estimated)
                   FROM learning_day_hosts WHERE {period}
                  GROUP BY host ORDER BY 3 DESC, 1 LIMIT $5"
            ),
            &with_params(&base, &[&top]),
        )
        .await?
        .iter()
        .map(|r| ranked(r, None))
        .collect();
    let top_directed_courses = client
        .query(
            &format!(
                "SELECT course, {name}, sum(statements)::int8, sum(seconds), sum(estimated),
                        EXISTS (SELECT 1 FROM learning_day_courses c
                                 WHERE c.store_id = $1 AND c.learner = $4 AND c.course = t.course
                                   AND c.day < $3 AND c.completions > 0)
                   FROM learning_day_courses t WHERE {period}
                  GROUP BY course ORDER BY 3 DESC, 1 LIMIT $5",
                name = activity_name("t.course")
            ),
            &with_params(&base, &[&top]),
        )
        .await?
        .iter()
        .map(|r| ranked(r, Some(r.get(5))))
        .collect();
    let goal_rows = client
        .query(
            &format!(
                "WITH learner AS (
                     SELECT id FROM learning_labels
                      WHERE store_id = $1 AND key = commonplace_term_key($4)
                 ),
                 documented AS (
                     SELECT e.activity AS goal, min(e.day) AS first_day,
                            bool_or(v.label = ANY($5)) AS achieved
                       FROM learning_events e JOIN learning_labels v ON v.id = e.verb
                      WHERE e.store_id = $1 AND e.learner = (SELECT id FROM learner)
                        AND e.day < $3 AND e.documents_goal
                      GROUP BY e.activity
                 ),
                 linked AS (
                     SELECT goal, activity, count(*) AS n FROM learning_events
                      WHERE store_id = $1 AND day >= $2 AND day < $3
                        AND learner = (SELECT id FROM learner)
                        AND goal IS NOT NULL AND activity IS NOT NULL
                      GROUP BY 1, 2
                 ),
                 goals AS (SELECT goal FROM documented UNION SELECT goal FROM linked)
                 SELECT goal_label.label, {goal_name}, d.first_day, coalesce(d.achieved, false),
                        activity_label.label, {activity_name}, l.n
                   FROM goals
                   JOIN learning_labels goal_label ON goal_label.id = goals.goal
                   LEFT JOIN documented d ON d.goal = goals.goal
                   LEFT JOIN linked l ON l.goal = goals.goal
                   LEFT JOIN learning_labels activity_label ON activity_label.id = l.activity
                  ORDER BY d.first_day NULLS LAST, goal_label.label, l.n DESC, activity_label.label",
                goal_name = activity_name("goal_label.label"),
                activity_name = activity_name("activity_label.label"),
            ),
            &with_params(&base, &[&COMPLETIONS]),
        )
        .await?;
    let mut goals: Vec<Goal> = Vec::new();
    for r in &goal_rows {
        let goal: String = r.get(0);
        if goals.last().is_none_or(|g| g.goal != goal) {
            goals.push(Goal {
                goal,
                name: r.get(1),
                documented: r.get(2),
                achieved: r.get(3),
                activities: Vec::new(),
            });
        }
        if let Some(activity) = r.get::<_, Option<String>>(4) {
            goals
                .last_mut()
                .expect("pushed above")
                .activities
                .push(LinkedActivity {
                    activity,
                    name: r.get(5),
                    statements: r.get(6),
                });
        }
    }
    let identity = super::learners::identity(pool, scope.store_id, learner).await?;
    Ok(LearnerReport {
        learner: learner.to_string(),
        name: Some(identity.name),
        team: Some(identity.team),
        mix,
        goals,
        top_sources,
        top_directed_courses,
    })
}

/// One mode's top hosts and Activities of `GET /reports/sources`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModeSources {
    pub mode: String,
    pub hosts: Vec<Ranked>,
    pub activities: Vec<Ranked>,
}

/// Per mode, the `top` hosts and Activities by statements.
pub async fn sources(pool: &Pool, scope: Scope, top: i64) -> Result<Vec<ModeSources>, Error> {
    let client = pool.get().await?;
    // Hosts and Activities are ranked on their sums (the weeks wholly inside the
    // period from the weekly rollups, the days of partial weeks from the daily ones);
    // only the top ones are counted for distinct learners: hosts from the learner spans
    // (see `directed` of `team_figures`), Activities from the events.
    let sql = format!(
        "WITH ranked AS (
             SELECT 'host' AS kind, mode, host AS key, sum(statements)::int8 AS n,
                    sum(seconds) AS reported, sum(estimated) AS estimated
               FROM (SELECT mode, host, statements, seconds, estimated FROM learning_host_weeks
                      WHERE store_id = $1 AND week >= $5 AND week < $6
                     UNION ALL
                     SELECT mode, host, statements, seconds, estimated FROM learning_day_hosts
                      WHERE store_id = $1
                        AND ((day >= $2 AND day < $5) OR (day >= $6 AND day < $3))) h
              GROUP BY mode, host
             UNION ALL
             SELECT 'activity', mode, activity, sum(statements)::int8, sum(seconds), sum(estimated)
               FROM (SELECT mode, activity, statements, seconds, estimated
                       FROM learning_activity_weeks
                      WHERE store_id = $1 AND week >= $5 AND week < $6
                     UNION ALL
                     SELECT mode, activity, statements, seconds, estimated
                       FROM learning_activity_days
                      WHERE store_id = $1
                        AND ((day >= $2 AND day < $5) OR (day >= $6 AND day < $3))) a
              GROUP BY mode, activity
         ),
         numbered AS (
             SELECT r.*, row_number() OVER (PARTITION BY kind, mode ORDER BY n DESC, key) AS place
               FROM ranked r
         )
         SELECT kind, mode, key, CASE WHEN kind = 'activity' THEN {name} END, n,
                CASE WHEN kind = 'host' THEN
                    (SELECT count(*) FROM learning_host_learners h
                      WHERE h.store_id = $1 AND h.mode = numbered.mode AND h.host = numbered.key
                        AND h.first_day < $3 AND h.last_day >= $2
                        AND (h.first_day >= $2 OR h.last_day < $3
                             OR EXISTS (SELECT 1 FROM learning_day_hosts d
                                         WHERE d.store_id = $1 AND d.mode = h.mode
                                           AND d.host = h.host AND d.learner = h.learner
                                           AND d.day >= $2 AND d.day < $3)))
                ELSE
                    (SELECT count(DISTINCT a.learner) FROM learning_events a
                      WHERE a.store_id = $1 AND a.day >= $2
                        AND a.activity = (SELECT l.id FROM learning_labels l
                                           WHERE l.store_id = $1
                                             AND l.key = commonplace_term_key(numbered.key))
                        AND a.day < $3 AND a.mode = numbered.mode)
                END,
                reported, estimated
           FROM numbered WHERE place <= $4
          ORDER BY mode, kind, place",
        name = activity_name("numbered.key"),
    );
    let (whole_weeks_from, whole_weeks_until) = whole_weeks(scope.since, scope.until);
    let rows = client
        .query(
            &sql,
            &[
                &scope.store_id,
                &scope.since,
                &scope.until,
                &top,
                &whole_weeks_from,
                &whole_weeks_until,
            ],
        )
        .await?;
    let mut by_mode: Vec<ModeSources> = Vec::new();
    for r in &rows {
        let mode: String = r.get(1);
        if by_mode.last().is_none_or(|m| m.mode != mode) {
            by_mode.push(ModeSources {
                mode: mode.clone(),
                hosts: Vec::new(),
                activities: Vec::new(),
            });
        }
        let entry = Ranked {
            key: r.get(2),
            name: r.get(3),
            statements: r.get(4),
            learners: r.get(5),
            reported_seconds: r.get(6),
            estimated_seconds: r.get(7),
            completed: None,
        };
        let current = by_mode.last_mut().expect("pushed above");
        if r.get::<_, String>(0) == "host" {
            current.hosts.push(entry);
        } else {
            current.activities.push(entry);
        }
    }
    // Most to least directed, as every report orders modes.
    by_mode.sort_by_key(|m| {
        crate::modes::Mode::parse(&m.mode).map_or(usize::MAX, |mode| {
            crate::modes::Mode::EVERY
                .iter()
                .position(|x| *x == mode)
                .unwrap_or(usize::MAX)
        })
    });
    Ok(by_mode)
}
