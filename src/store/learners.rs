//! Who a learner is, for display: their name and team by the one definition every
//! report uses (migration 0021, `commonplace_learner_name` and
//! `commonplace_learner_team`): the roster's, else what the Statements gave (the name
//! in `actor.name`, the team most named in `context.team`), else the IFI and
//! `(no team)`.

use std::collections::HashMap;

use deadpool_postgres::Pool;

use super::Error;

/// A learner's name and team as every report shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LearnerIdentity {
    /// The IFI as the LRS writes it (`mbox:mailto:…`).
    pub learner: String,
    /// Never empty: the IFI when nothing better is known.
    pub name: String,
    pub team: String,
    /// The roster leaves the learner out of learner-level reports.
    pub opted_out: bool,
}

/// The identities of `learners` (IFIs as the LRS writes them, after roster aliases),
/// opted-out learners included and marked: the caller decides what to leave out.
pub async fn identities(
    pool: &Pool,
    store_id: i64,
    learners: &[String],
) -> Result<HashMap<String, LearnerIdentity>, Error> {
    if learners.is_empty() {
        return Ok(HashMap::new());
    }
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT l.learner, commonplace_learner_name($1, l.learner),
                    commonplace_learner_team($1, l.learner), coalesce(r.opted_out, false)
               FROM (SELECT DISTINCT unnest($2::text[]) AS learner) l
               LEFT JOIN roster r ON r.store_id = $1 AND r.learner = l.learner",
            &[&store_id, &learners],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let identity = LearnerIdentity {
                learner: r.get(0),
                name: r.get(1),
                team: r.get(2),
                opted_out: r.get(3),
            };
            (identity.learner.clone(), identity)
        })
        .collect())
}

/// One learner's identity (see [`identities`]).
pub async fn identity(pool: &Pool, store_id: i64, learner: &str) -> Result<LearnerIdentity, Error> {
    let learner = learner.to_string();
    let mut found = identities(pool, store_id, std::slice::from_ref(&learner)).await?;
    Ok(found.remove(&learner).unwrap_or(LearnerIdentity {
        name: learner.clone(),
        learner,
        team: "(no team)".to_string(),
        opted_out: false,
    }))
}
