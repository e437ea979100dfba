//! What the dashboard pages read besides the reports: the learners of a period for the
//! picker (from the learner rollups), and the Statements behind a learner's or a team's
//! figures with the mode and rule each was labelled with.

use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::Pool;
use uuid::Uuid;

use super::calendar::whole_weeks;
use super::Error;

/// The learners (IFIs as the LRS writes them) with Statements in `[since, until)`, most
/// Statements first, at most `limit` of them, and how many there are in all. Opted-out
/// learners are left out, as `/reports/modes?group=learner` leaves them out.
pub async fn active_learners(
    pool: &Pool,
    store_id: i64,
    since: NaiveDate,
    until: NaiveDate,
    limit: i64,
) -> Result<(i64, Vec<(String, i64)>), Error> {
    let client = pool.get().await?;
    let (weeks_from, weeks_until) = whole_weeks(since, until);
    let rows = client
        .query(
            "WITH totals AS (
                 SELECT learner, sum(statements)::int8 AS statements
                   FROM (SELECT learner, statements FROM learning_learner_weeks
                          WHERE store_id = $1 AND week >= $4 AND week < $5
                         UNION ALL
                         SELECT learner, statements FROM learning_days
                          WHERE store_id = $1
                            AND ((day >= $2 AND day < $4) OR (day >= $5 AND day < $3))) d
                  GROUP BY learner
             )
             SELECT t.learner, t.statements, count(*) OVER ()
               FROM totals t
               LEFT JOIN roster r ON r.store_id = $1 AND r.learner = t.learner
              WHERE NOT coalesce(r.opted_out, false)
              ORDER BY t.statements DESC, t.learner
              LIMIT $6",
            &[&store_id, &since, &until, &weeks_from, &weeks_until, &limit],
        )
        .await?;
    let seen = rows.first().map_or(0, |r| r.get(2));
    Ok((seen, rows.iter().map(|r| (r.get(0), r.get(1))).collect()))
}

/// Whose Statements to list.
#[derive(Debug, Clone)]
pub enum Behind {
    /// A learner's IFI as the LRS writes it (after aliases).
    Learner(String),
    /// A team, as `commonplace_learner_team` names it: the Statements of its learners
    /// active in the period, opted-out learners left out.
    Team(String),
}

/// One Statement behind a figure.
#[derive(Debug, Clone)]
pub struct Listed {
    pub id: Uuid,
    pub stored: DateTime<Utc>,
    pub learner: String,
    pub verb: String,
    pub verb_display: Option<String>,
    pub object: Option<String>,
    pub object_name: Option<String>,
    /// As `/reports/explain` gives them: `None` for a Statement never labelled.
    pub mode: Option<String>,
    pub rule: Option<String>,
}

/// The Statements the learning figures count for `behind` in `[since, until)` (by
/// learning day, as the reports count them), latest first, `limit` of them after
/// skipping `offset`; only those labelled `mode` when given.
pub async fn statements_behind(
    pool: &Pool,
    store_id: i64,
    behind: &Behind,
    (since, until): (NaiveDate, NaiveDate),
    mode: Option<&str>,
    (offset, limit): (i64, i64),
) -> Result<Vec<Listed>, Error> {
    let (learners, who) = match behind {
        Behind::Learner(learner) => (
            "SELECT id FROM learning_labels WHERE store_id = $1 AND key = commonplace_term_key($4)",
            learner,
        ),
        Behind::Team(team) => (
            "SELECT l.id
               FROM (SELECT DISTINCT learner FROM learning_learner_weeks
                      WHERE store_id = $1 AND week >= $8 AND week < $9
                     UNION
                     SELECT DISTINCT learner FROM learning_days
                      WHERE store_id = $1
                        AND ((day >= $2 AND day < $8) OR (day >= $9 AND day < $3))) a
               JOIN learning_labels l ON l.store_id = $1 AND l.key = commonplace_term_key(a.learner)
               LEFT JOIN roster r ON r.store_id = $1 AND r.learner = a.learner
              WHERE NOT coalesce(r.opted_out, false)
                AND commonplace_learner_team($1, a.learner) = $4",
            team,
        ),
    };
    // The events are in learning-day order per learner (`learning_events_learner`) and
    // per store (`learning_events_day`), so a page is read from the latest day back.
    let sql = format!(
        "SELECT s.id, s.stored, l.label, s.body -> 'verb' ->> 'id',
                (SELECT v FROM json_each_text(s.body -> 'verb' -> 'display') AS d(k, v)
                  ORDER BY k LIMIT 1),
                coalesce(s.body -> 'object' ->> 'id', s.body -> 'object' ->> 'mbox',
                         s.body -> 'object' ->> 'objectType'),
                (SELECT v FROM json_each_text(s.body -> 'object' -> 'definition' -> 'name')
                        AS n(k, v) ORDER BY k LIMIT 1),
                s.mode, s.mode_rule
           FROM learning_events e
           JOIN statements s ON s.store_id = e.store_id AND s.seq = e.seq
           JOIN learning_labels l ON l.id = e.learner
          WHERE e.store_id = $1 AND e.day >= $2 AND e.day < $3
            AND e.learner IN ({learners})
            AND ($5::text IS NULL OR e.mode = $5)
          ORDER BY e.day DESC, e.at DESC, e.seq DESC
          LIMIT $6 OFFSET $7"
    );
    let client = pool.get().await?;
    let (weeks_from, weeks_until) = whole_weeks(since, until);
    let rows = match behind {
        Behind::Learner(_) => {
            client
                .query(
                    &sql,
                    &[&store_id, &since, &until, who, &mode, &limit, &offset],
                )
                .await?
        }
        Behind::Team(_) => {
            client
                .query(
                    &sql,
                    &[
                        &store_id,
                        &since,
                        &until,
                        who,
                        &mode,
                        &limit,
                        &offset,
                        &weeks_from,
                        &weeks_until,
                    ],
                )
                .await?
        }
    };
    Ok(rows
        .iter()
        .map(|r| Listed {
            id: r.get(0),
            stored: r.get(1),
            learner: r.get(2),
            verb: r.get(3),
            verb_display: r.get(4),
            object: r.get(5),
            object_name: r.get(6),
            mode: r.get(7),
            rule: r.get(8),
        })
        .collect())
}
