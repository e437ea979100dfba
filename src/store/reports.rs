//! `GET /reports/modes` over what the learning feed keeps (`learning_days`,
//! `learning_activity_days` and their weekly copies), grouped by the store, each
//! learner's team (`commonplace_learner_team`) or learner, and the roster.

use chrono::NaiveDate;
use deadpool_postgres::Pool;
use serde::Serialize;
use tokio_postgres::types::{ToSql, Type};

use super::calendar::{whole_months, whole_weeks};
use super::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Day,
    Week,
    Month,
}

impl Bucket {
    pub fn as_str(self) -> &'static str {
        match self {
            Bucket::Day => "day",
            Bucket::Week => "week",
            Bucket::Month => "month",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    Store,
    Team,
    Learner,
}

/// One bucket × group × mode of `GET /reports/modes`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModeFigures {
    /// First day of the bucket (weeks start on Monday).
    pub bucket: NaiveDate,
    pub group: String,
    pub mode: String,
    pub statements: i64,
    pub active_learners: i64,
    pub distinct_activities: i64,
    /// Sum of `result.duration`, in seconds, over the Statements that carried one.
    pub reported_seconds: f64,
    /// Share of the statements that carried a `result.duration` (0..1).
    pub duration_share: f64,
    /// Time estimated from sessions for the Statements without a duration.
    pub estimated_seconds: f64,
    /// By learner: the learner's name and team (`store::learners`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
}

/// What to leave out for privacy.
#[derive(Debug, Clone, Copy)]
pub struct Privacy {
    /// Team groups with fewer active learners than this in a bucket are not shown.
    pub min_team_size: i64,
}

/// Per bucket, group and mode, for days in `[since, until)`.
pub async fn mode_figures(
    pool: &Pool,
    store_id: i64,
    since: NaiveDate,
    until: NaiveDate,
    bucket: Bucket,
    grouping: Grouping,
    privacy: Privacy,
) -> Result<Vec<ModeFigures>, Error> {
    // The group of a learner: the store, their team (`commonplace_learner_team`, once
    // per learner), or themselves (unless they opted out: their rows are dropped).
    let group = match grouping {
        Grouping::Store => "(SELECT name FROM stores WHERE id = $1)",
        Grouping::Team => "t.team",
        Grouping::Learner => "d.learner",
    };
    // The first day of a day's bucket, by arithmetic where it can be (date_trunc
    // parses its unit on every row).
    let bucket_of = match bucket {
        Bucket::Day => "d.day",
        Bucket::Week => "learning_week(d.day)",
        Bucket::Month => "date_trunc('month', d.day)::date",
    };
    // Distinct activities of the store and of teams come from the rollup without
    // learners (grouped by team). By week, the weeks wholly inside the period come
    // from the weekly rollup.
    let activity_rows = match bucket {
        Bucket::Week => format!(
            "SELECT d.week AS bucket, {group} AS grp, d.mode, d.activity
               FROM learning_activity_weeks d
              WHERE d.store_id = $1 AND d.week >= $6 AND d.week < $7
             UNION ALL
             SELECT {bucket_of}, {group}, d.mode, d.activity
               FROM learning_activity_days d
              WHERE d.store_id = $1 AND ((d.day >= $2 AND d.day < $6) OR (d.day >= $7 AND d.day < $3))",
            group = if grouping == Grouping::Team { "d.team" } else { group },
        ),
        _ => format!(
            "SELECT {bucket_of} AS bucket, {group} AS grp, d.mode, d.activity
               FROM learning_activity_days d
              WHERE d.store_id = $1 AND d.day >= $2 AND d.day < $3",
            group = if grouping == Grouping::Team { "d.team" } else { group },
        ),
    };
    // The learner rows, by week (month) likewise from the weekly (monthly) rollup for the
    // whole weeks (months). Each carries the learner's distinct Activities of its part of
    // the bucket: a day's `activity_firsts` entry for the days since the part began (see
    // migration 0021), a whole week's or month's own count.
    let learner_rows = match bucket {
        Bucket::Week => "SELECT d.week AS bucket, d.learner, d.mode, d.statements, d.seconds,
                    d.timed, d.estimated, d.activities
               FROM learning_learner_weeks d
              WHERE d.store_id = $1 AND d.week >= $6 AND d.week < $7
             UNION ALL
             SELECT learning_week(d.day), d.learner, d.mode, d.statements, d.seconds, d.timed,
                    d.estimated,
                    learning_firsts_at(d.activity_firsts, d.day - greatest(learning_week(d.day), $2))
               FROM learning_days d
              WHERE d.store_id = $1 AND ((d.day >= $2 AND d.day < $6) OR (d.day >= $7 AND d.day < $3))"
            .to_string(),
        Bucket::Month => format!(
            "SELECT d.month AS bucket, d.learner, d.mode, d.statements, d.seconds, d.timed,
                    d.estimated, d.activities
               FROM learning_learner_months d
              WHERE d.store_id = $1 AND d.month >= $6 AND d.month < $7
             UNION ALL
             SELECT {bucket_of}, d.learner, d.mode, d.statements, d.seconds, d.timed,
                    d.estimated,
                    learning_firsts_at(d.activity_firsts, d.day - greatest({bucket_of}, $2))
               FROM learning_days d
              WHERE d.store_id = $1 AND ((d.day >= $2 AND d.day < $6) OR (d.day >= $7 AND d.day < $3))"
        ),
        Bucket::Day => "SELECT d.day AS bucket, d.learner, d.mode, d.statements, d.seconds,
                    d.timed, d.estimated, learning_firsts_at(d.activity_firsts, 0) AS activities
               FROM learning_days d WHERE d.store_id = $1 AND d.day >= $2 AND d.day < $3"
            .to_string(),
    };
    let sql = match grouping {
        // One row per learner, bucket and mode: the learner rows' sums, their distinct
        // Activities included, and the learner's name and team.
        Grouping::Learner => format!(
            "WITH per_learner AS (
                 SELECT d.bucket, d.learner, d.mode, sum(d.statements)::int8 AS statements,
                        sum(d.seconds) AS seconds, sum(d.timed)::int8 AS timed,
                        sum(d.estimated) AS estimated, sum(d.activities)::int8 AS activities
                   FROM ({learner_rows}) d
                  WHERE NOT EXISTS (SELECT FROM roster r
                                     WHERE r.store_id = $1 AND r.learner = d.learner
                                       AND r.opted_out)
                  GROUP BY 1, 2, 3
             ),
             identities AS MATERIALIZED (
                 SELECT learner, commonplace_learner_name($1, learner) AS name,
                        commonplace_learner_team($1, learner) AS team
                   FROM (SELECT DISTINCT learner FROM per_learner) x
             )
             SELECT p.bucket, p.learner, p.mode, p.statements, 1::int8, p.activities,
                    p.seconds, p.timed, p.estimated, i.name, i.team
               FROM per_learner p JOIN identities i ON i.learner = p.learner
              ORDER BY 1, 2, 3"
        ),
        // Distinct learners and Activities are a DISTINCT (or a per-learner group) then
        // a count: hash aggregates, no sorts. The Activities come from the team-level
        // rollup (learners' teams as `teams` gives them).
        Grouping::Store | Grouping::Team => format!(
            "WITH learner_rows AS MATERIALIZED ({learner_rows}),
             teams AS MATERIALIZED (
                 SELECT learner, commonplace_learner_team($1, learner) AS team
                   FROM (SELECT DISTINCT learner FROM learner_rows) x
                  WHERE $4
             ),
             per_learner AS (
                 SELECT d.bucket, {group} AS grp, d.mode, d.learner,
                        sum(d.statements) AS statements, sum(d.seconds) AS seconds,
                        sum(d.timed) AS timed, sum(d.estimated) AS estimated
                   FROM learner_rows d
                   LEFT JOIN teams t ON t.learner = d.learner
                  GROUP BY 1, 2, 3, 4
             ),
             figures AS (
                 SELECT bucket, grp, mode, sum(statements)::int8 AS statements,
                        count(*) AS learners, sum(seconds) AS seconds,
                        sum(timed)::int8 AS timed, sum(estimated) AS estimated
                   FROM per_learner GROUP BY bucket, grp, mode
             ),
             activities AS (
                 SELECT bucket, grp, mode, count(*) AS activities
                   FROM (SELECT DISTINCT * FROM ({activity_rows}) r) x
                  GROUP BY 1, 2, 3
             ),
             group_sizes AS (
                 SELECT bucket, grp, count(*) AS learners
                   FROM (SELECT DISTINCT bucket, grp, learner FROM per_learner) x
                  GROUP BY 1, 2
             )
             SELECT f.bucket, f.grp, f.mode, f.statements, f.learners,
                    coalesce(a.activities, 0), f.seconds, f.timed, f.estimated, NULL::text,
                    NULL::text
               FROM figures f
               JOIN group_sizes g ON g.bucket = f.bucket AND g.grp = f.grp
               LEFT JOIN activities a
                      ON a.bucket = f.bucket AND a.grp = f.grp AND a.mode = f.mode
              WHERE NOT $4 OR g.learners >= $5
              ORDER BY f.bucket, f.grp, f.mode"
        ),
    };
    let client = pool.get().await?;
    let is_team = grouping == Grouping::Team;
    let (whole_from, whole_until) = match bucket {
        Bucket::Month => whole_months(since, until),
        Bucket::Week | Bucket::Day => whole_weeks(since, until),
    };
    // Typed, as not every query uses every parameter.
    let statement = client
        .prepare_typed(
            &sql,
            &[
                Type::INT8,
                Type::DATE,
                Type::DATE,
                Type::BOOL,
                Type::INT8,
                Type::DATE,
                Type::DATE,
            ],
        )
        .await?;
    let params: [&(dyn ToSql + Sync); 7] = [
        &store_id,
        &since,
        &until,
        &is_team,
        &privacy.min_team_size,
        &whole_from,
        &whole_until,
    ];
    let rows = client.query(&statement, &params).await?;
    Ok(rows
        .iter()
        .map(|r| {
            let statements: i64 = r.get(3);
            let timed: i64 = r.get(7);
            ModeFigures {
                bucket: r.get(0),
                group: r.get(1),
                mode: r.get(2),
                statements,
                active_learners: r.get(4),
                distinct_activities: r.get(5),
                reported_seconds: r.get(6),
                duration_share: if statements > 0 {
                    timed as f64 / statements as f64
                } else {
                    0.0
                },
                estimated_seconds: r.get(8),
                name: r.get(9),
                team: r.get(10),
            }
        })
        .collect())
}

/// One line of a roster.
#[derive(Debug, Clone, PartialEq)]
pub struct RosterEntry {
    /// The learner's IFI as the LRS writes it (`mbox:mailto:…`).
    pub learner: String,
    pub name: String,
    pub team: String,
    pub manager: String,
    pub opted_out: bool,
    /// Other IFIs of the same person, credited to `learner` in the reports.
    pub aliases: Vec<String>,
}

/// Replaces the store's roster with `entries`, in one transaction.
pub async fn replace_roster(
    pool: &Pool,
    store_id: i64,
    entries: &[RosterEntry],
) -> Result<u64, Error> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    super::learning_feed::hold_passes(&tx).await?;
    tx.execute("DELETE FROM roster WHERE store_id = $1", &[&store_id])
        .await?;
    let column = |f: fn(&RosterEntry) -> &str| -> Vec<&str> { entries.iter().map(f).collect() };
    let opted: Vec<bool> = entries.iter().map(|e| e.opted_out).collect();
    let inserted = tx
        .execute(
            "INSERT INTO roster (store_id, learner, name, team, manager, opted_out)
             SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::bool[])
             ON CONFLICT (store_id, learner) DO UPDATE
                SET name = EXCLUDED.name, team = EXCLUDED.team, manager = EXCLUDED.manager,
                    opted_out = EXCLUDED.opted_out",
            &[
                &store_id,
                &column(|e| &e.learner),
                &column(|e| &e.name),
                &column(|e| &e.team),
                &column(|e| &e.manager),
                &opted,
            ],
        )
        .await?;
    let (aliases, learners): (Vec<&str>, Vec<&str>) = entries
        .iter()
        .flat_map(|e| e.aliases.iter().map(|a| (a.as_str(), e.learner.as_str())))
        .unzip();
    let fingerprint = tx
        .prepare_cached(
            "SELECT coalesce(string_agg(alias || ' ' || learner, ',' ORDER BY alias), '')
               FROM learner_aliases WHERE store_id = $1",
        )
        .await?;
    let before: String = tx.query_one(&fingerprint, &[&store_id]).await?.get(0);
    tx.execute(
        "DELETE FROM learner_aliases WHERE store_id = $1",
        &[&store_id],
    )
    .await?;
    tx.execute(
        "INSERT INTO learner_aliases (store_id, alias, learner)
         SELECT $1, * FROM UNNEST($2::text[], $3::text[])
         ON CONFLICT (store_id, alias) DO UPDATE SET learner = EXCLUDED.learner",
        &[&store_id, &aliases, &learners],
    )
    .await?;
    let after: String = tx.query_one(&fingerprint, &[&store_id]).await?.get(0);
    if before == after {
        super::learning_feed::regroup_teams(&tx, store_id).await?;
    } else {
        // Whose Statements are whose changed: every rollup is rebuilt.
        super::learning_feed::rebuild(&tx).await?;
    }
    tx.commit().await?;
    Ok(inserted)
}
