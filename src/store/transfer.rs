//! The SQL of `commonplace export` and `import`.

use deadpool_postgres::Pool;
use serde_json::Value;

use super::Error;

pub async fn store_id(pool: &Pool, name: &str) -> Result<i64, Error> {
    let client = pool.get().await?;
    client
        .query_opt("SELECT id FROM stores WHERE name = $1", &[&name])
        .await?
        .map(|r| r.get(0))
        .ok_or_else(|| Error::NotFound(format!("no store named '{name}'")))
}

/// Statements after `after_seq` in seq order: (seq, credential, body).
pub async fn statements_after(
    pool: &Pool,
    store_id: i64,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<(i64, String, Value)>, Error> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT seq, credential, body FROM statements
              WHERE store_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            &[&store_id, &after_seq, &limit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// Attachments after hash `after` in hash order: (sha2, content type, content).
pub async fn attachments_after(
    pool: &Pool,
    store_id: i64,
    after: &str,
    limit: i64,
) -> Result<Vec<(String, String, Vec<u8>)>, Error> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT sha2, content_type, content FROM attachments
              WHERE store_id = $1 AND sha2 > $2 ORDER BY sha2 LIMIT $3",
            &[&store_id, &after, &limit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// Stores an attachment unless one with that hash is there already.
pub async fn put_attachment(
    pool: &Pool,
    store_id: i64,
    sha2: &str,
    content_type: &str,
    content: &[u8],
) -> Result<(), Error> {
    let client = pool.get().await?;
    client
        .execute(
            "INSERT INTO attachments (store_id, sha2, content_type, content)
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            &[&store_id, &sha2, &content_type, &content],
        )
        .await?;
    Ok(())
}
