//! The learning-mode labels stored beside Statements: reading one back to explain it,
//! and re-labelling stored Statements in resumable batches.

use std::collections::BTreeMap;

use deadpool_postgres::Pool;
use serde_json::Value;
use uuid::Uuid;

use super::Error;
use crate::modes::{Label, Ruleset, Writer};

/// A stored Statement's label; `mode` is `None` for rows stored before labelling
/// existed and not reclassified since.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredLabel {
    pub mode: Option<String>,
    pub rule: Option<String>,
}

/// The label of Statement `id` in the store, if the Statement exists.
pub async fn label_of(pool: &Pool, store_id: i64, id: Uuid) -> Result<Option<StoredLabel>, Error> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "SELECT mode, mode_rule FROM statements WHERE store_id = $1 AND id = $2",
            &[&store_id, &id],
        )
        .await?;
    Ok(row.map(|r| StoredLabel {
        mode: r.get(0),
        rule: r.get(1),
    }))
}

/// The id and name of a store.
pub async fn store_by_name(pool: &Pool, name: &str) -> Result<Option<(i64, String)>, Error> {
    let client = pool.get().await?;
    let row = client
        .query_opt("SELECT id, name FROM stores WHERE name = $1", &[&name])
        .await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

pub async fn all_stores(pool: &Pool) -> Result<Vec<(i64, String)>, Error> {
    let client = pool.get().await?;
    let rows = client
        .query("SELECT id, name FROM stores ORDER BY id", &[])
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Where a store's reclassification stands.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Every Statement with a smaller or equal `seq` carries the ruleset's label.
    pub last_seq: i64,
    pub changed: i64,
    pub finished: bool,
    /// Statements left to look at.
    pub remaining: i64,
}

/// Starts (or, for the same ruleset `fingerprint`, resumes) a store's reclassification.
/// `restart` starts over even when a run of this ruleset finished.
pub async fn begin_reclassification(
    pool: &Pool,
    store_id: i64,
    fingerprint: &str,
    restart: bool,
) -> Result<Progress, Error> {
    let client = pool.get().await?;
    client
        .execute(
            "INSERT INTO mode_reclassification (store_id, fingerprint, last_seq)
             VALUES ($1, $2, 0)
             ON CONFLICT (store_id) DO UPDATE
                SET fingerprint = EXCLUDED.fingerprint, last_seq = 0, changed = 0,
                    started = now(), finished = NULL
              WHERE mode_reclassification.fingerprint <> EXCLUDED.fingerprint OR $3",
            &[&store_id, &fingerprint, &restart],
        )
        .await?;
    drop(client);
    progress(pool, store_id).await
}

/// The store's recorded progress and what remains after it.
pub async fn progress(pool: &Pool, store_id: i64) -> Result<Progress, Error> {
    let client = pool.get().await?;
    let row = client
        .query_one(
            "SELECT p.last_seq, p.changed, p.finished IS NOT NULL,
                    (SELECT count(*) FROM statements s WHERE s.store_id = $1 AND s.seq > p.last_seq)
               FROM mode_reclassification p WHERE p.store_id = $1",
            &[&store_id],
        )
        .await?;
    Ok(Progress {
        last_seq: row.get(0),
        changed: row.get(1),
        finished: row.get(2),
        remaining: row.get(3),
    })
}

/// What one batch did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Batch {
    pub seen: usize,
    pub changed: u64,
}

/// Re-labels the next `size` Statements of the store after its recorded progress and
/// records the new progress, in one transaction; a batch that finds nothing marks the
/// run finished. Ingest only adds rows, and the rollup triggers update their keys in
/// one order, so a batch runs beside ingest without waiting on it.
pub async fn reclassify_batch(
    pool: &Pool,
    store_id: i64,
    store_name: &str,
    rules: &Ruleset,
    size: i64,
) -> Result<Batch, Error> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let rows = tx
        .query(
            "SELECT s.seq, s.body, s.credential, coalesce(c.name, ''), coalesce(c.tags, '{}'),
                    s.mode, s.mode_rule
               FROM statements s LEFT JOIN credentials c ON c.key = s.credential
              WHERE s.store_id = $1
                AND s.seq > (SELECT last_seq FROM mode_reclassification WHERE store_id = $1)
              ORDER BY s.seq
              LIMIT $2",
            &[&store_id, &size],
        )
        .await?;
    let Some(last) = rows.last().map(|r| r.get::<_, i64>(0)) else {
        tx.execute(
            "UPDATE mode_reclassification SET finished = coalesce(finished, now())
              WHERE store_id = $1",
            &[&store_id],
        )
        .await?;
        tx.commit().await?;
        return Ok(Batch {
            seen: 0,
            changed: 0,
        });
    };
    let mut seqs = Vec::new();
    let mut modes = Vec::new();
    let mut rule_ids: Vec<Option<String>> = Vec::new();
    for row in &rows {
        let body: Value = row.get(1);
        let key: String = row.get(2);
        let name: String = row.get(3);
        let tags: BTreeMap<String, String> = serde_json::from_value(row.get(4)).unwrap_or_default();
        let Label { mode, rule } = rules.classify(
            &body,
            &Writer {
                store: store_name,
                credential_key: &key,
                credential_name: &name,
                tags: &tags,
            },
        );
        let before: (Option<String>, Option<String>) = (row.get(5), row.get(6));
        if before.0.as_deref() != Some(mode.as_str()) || before.1 != rule {
            seqs.push(row.get::<_, i64>(0));
            modes.push(mode.as_str());
            rule_ids.push(rule);
        }
    }
    let changed = tx
        .execute(
            "UPDATE statements s SET mode = u.mode, mode_rule = u.rule
               FROM UNNEST($2::int8[], $3::text[], $4::text[]) AS u(seq, mode, rule)
              WHERE s.store_id = $1 AND s.seq = u.seq",
            &[&store_id, &seqs, &modes, &rule_ids],
        )
        .await?;
    tx.execute(
        "UPDATE mode_reclassification SET last_seq = $2, changed = changed + $3
          WHERE store_id = $1",
        &[&store_id, &last, &(changed as i64)],
    )
    .await?;
    tx.commit().await?;
    Ok(Batch {
        seen: rows.len(),
        changed,
    })
}
