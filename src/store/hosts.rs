//! The per-store deny-list of web hosts for browser capture (`denied_hosts`).

use deadpool_postgres::Pool;

use super::Error;

/// Adds `host` to the store's deny-list; false when it was already there.
pub async fn deny(pool: &Pool, store_id: i64, host: &str) -> Result<bool, Error> {
    let client = pool.get().await?;
    let n = client
        .execute(
            "INSERT INTO denied_hosts (store_id, host) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&store_id, &host],
        )
        .await?;
    Ok(n > 0)
}

/// Removes `host` from the store's deny-list; false when it was not there.
pub async fn allow(pool: &Pool, store_id: i64, host: &str) -> Result<bool, Error> {
    let client = pool.get().await?;
    let n = client
        .execute(
            "DELETE FROM denied_hosts WHERE store_id = $1 AND host = $2",
            &[&store_id, &host],
        )
        .await?;
    Ok(n > 0)
}

/// The store's denied hosts, in order.
pub async fn list(pool: &Pool, store_id: i64) -> Result<Vec<String>, Error> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT host FROM denied_hosts WHERE store_id = $1 ORDER BY host",
            &[&store_id],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// For each of `hosts` (lower-cased) that the store denies, the host and the deny-list
/// entry that covers it (itself or a parent domain).
pub async fn denied_among(
    pool: &Pool,
    store_id: i64,
    hosts: &[String],
) -> Result<Vec<(String, String)>, Error> {
    if hosts.is_empty() {
        return Ok(Vec::new());
    }
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT h, d.host
               FROM unnest($2::text[]) AS h
               JOIN denied_hosts d
                 ON d.store_id = $1
                AND (h = d.host OR right(h, length(d.host) + 1) = '.' || d.host)
              ORDER BY h, d.host",
            &[&store_id, &hosts],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}
