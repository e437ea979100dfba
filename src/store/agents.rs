//! The Agents seen in Statements, by IFI, with the names they were given.

use deadpool_postgres::Pool;

use super::Error;

/// Every name an IFI has been given; `None` when the IFI was never seen.
pub async fn names(pool: &Pool, store_id: i64, ifi: &str) -> Result<Option<Vec<String>>, Error> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "SELECT names FROM agents WHERE store_id = $1 AND ifi = $2",
            &[&store_id, &ifi],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}
