//! The canonical Activity definitions the LRS has learned from Statements.

use deadpool_postgres::Pool;
use serde_json::Value;

use super::Error;

/// The canonical definition of an Activity, when one has been seen.
pub async fn definition(pool: &Pool, store_id: i64, iri: &str) -> Result<Option<Value>, Error> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "SELECT definition FROM activities WHERE store_id = $1 AND iri = $2",
            &[&store_id, &iri],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}
