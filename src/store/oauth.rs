//! The signing keys of the LRS's own OAuth 2.0 access tokens (`crate::oauth::keys`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;

use super::Error;

/// The rotation's advisory lock (two int4 keys: "comm", "oaut"), so that instances
/// finding the current key too old at the same moment create one successor, not two.
const ROTATION_LOCK: (i32, i32) = (0x636f_6d6d, 0x6f61_7574);

/// A signing key as the database holds it.
#[derive(Clone)]
pub struct StoredKey {
    pub kid: String,
    /// PKCS#8 DER of the private key.
    pub private_key: Vec<u8>,
    pub created: DateTime<Utc>,
}

/// Without the private key, so that no log line can ever carry it.
impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey")
            .field("kid", &self.kid)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// The key that signs now: the newest one younger than `rotation`, or else `successor`,
/// stored as the new current key. Keys older than `keep` (no token they signed can
/// still be valid) are deleted on the way.
pub async fn current_or_rotate(
    pool: &Pool,
    rotation: Duration,
    keep: Duration,
    successor: impl FnOnce() -> (String, Vec<u8>),
) -> Result<StoredKey, Error> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, $2)",
        &[&ROTATION_LOCK.0, &ROTATION_LOCK.1],
    )
    .await?;
    let current = tx
        .query_opt(
            "SELECT kid, private_key, created FROM oauth_keys
              WHERE created > now() - make_interval(secs => $1)
              ORDER BY created DESC LIMIT 1",
            &[&seconds(rotation)],
        )
        .await?;
    let key = match current {
        Some(row) => stored(&row),
        None => {
            let (kid, private_key) = successor();
            let row = tx
                .query_one(
                    "INSERT INTO oauth_keys (kid, private_key) VALUES ($1, $2)
                     RETURNING kid, private_key, created",
                    &[&kid, &private_key],
                )
                .await?;
            tx.execute(
                "DELETE FROM oauth_keys WHERE created < now() - make_interval(secs => $1)",
                &[&seconds(keep)],
            )
            .await?;
            stored(&row)
        }
    };
    tx.commit().await?;
    Ok(key)
}

/// The keys younger than `keep`, newest first: those whose tokens may still be valid.
pub async fn published(pool: &Pool, keep: Duration) -> Result<Vec<StoredKey>, Error> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT kid, private_key, created FROM oauth_keys
              WHERE created > now() - make_interval(secs => $1)
              ORDER BY created DESC",
            &[&seconds(keep)],
        )
        .await?;
    Ok(rows.iter().map(stored).collect())
}

fn stored(row: &tokio_postgres::Row) -> StoredKey {
    StoredKey {
        kid: row.get(0),
        private_key: row.get(1),
        created: row.get(2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_debug_form_of_a_key_leaves_out_the_private_key() {
        let key = StoredKey {
            kid: "k1".into(),
            private_key: vec![0xAB; 8],
            // A time without "171" in it: a timestamp's digits once matched the check.
            created: "2026-01-02T03:04:05Z".parse().unwrap(),
        };
        let shown = format!("{key:?}");
        assert!(shown.contains("k1"), "{shown}");
        // The bytes as `Vec<u8>`'s debug form shows them.
        assert!(
            !shown.contains("private") && !shown.contains("171, 171"),
            "{shown}"
        );
    }
}
