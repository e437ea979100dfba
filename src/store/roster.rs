//! Reading the roster for display; it is written by `reports::replace_roster`.

use std::collections::HashMap;

use deadpool_postgres::Pool;

use super::Error;

/// The roster names of those of `learners` (IFIs as the LRS writes them) who have one
/// and have not opted out of learner-level reports.
pub async fn names(
    pool: &Pool,
    store_id: i64,
    learners: &[String],
) -> Result<HashMap<String, String>, Error> {
    if learners.is_empty() {
        return Ok(HashMap::new());
    }
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT learner, name FROM roster
              WHERE store_id = $1 AND learner = ANY($2) AND NOT opted_out AND name <> ''",
            &[&store_id, &learners],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}
