//! The Agents seen in Statements, by IFI, with the names they were given, and the
//! people the roster says several IFIs belong to.

use deadpool_postgres::Pool;

use super::Error;

/// Every IFI of the person `ifi` belongs to (itself, and when the roster links it, the
/// learner's IFI and every alias), each with the names it was given in Statements.
pub async fn person(
    pool: &Pool,
    store_id: i64,
    ifi: &str,
) -> Result<Vec<(String, Vec<String>)>, Error> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "WITH person AS (
                 SELECT coalesce((SELECT learner FROM learner_aliases
                                   WHERE store_id = $1 AND alias = $2), $2) AS learner
             ),
             ifis AS (
                 SELECT learner AS ifi FROM person
                 UNION
                 SELECT a.alias FROM learner_aliases a JOIN person p ON a.learner = p.learner
                  WHERE a.store_id = $1
             )
             SELECT i.ifi, coalesce(g.names, '{}')
               FROM ifis i LEFT JOIN agents g ON g.store_id = $1 AND g.ifi = i.ifi
              ORDER BY i.ifi",
            &[&store_id, &ifi],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}
