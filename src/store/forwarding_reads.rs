//! Forwarding delivery (`crate::forwarding`): what the engine reads. Its writes, each
//! under the forwarder's row lease, are in `store::forwarding`.

use std::collections::HashMap;

use deadpool_postgres::Client;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use tokio_postgres::types::{Json, ToSql};
use uuid::Uuid;

use super::forwarding::Batch;
use super::Error;

/// A stored Statement with what the filter needs beside it.
#[derive(Debug, Clone)]
pub struct StoredStatement {
    pub seq: i64,
    pub id: Uuid,
    pub mode: Option<String>,
    /// The Statement it voids, when it is a voiding Statement.
    pub voids: Option<Uuid>,
    /// The Statement as stored, as JSON text: sent as it is, parsed only for what
    /// needs a look inside (a filter on its content, its attachments).
    pub body: Box<RawValue>,
    /// The tags of the credential that wrote it.
    pub tags: Map<String, Value>,
}

/// A recorded batch and whether it was finished.
#[derive(Debug, Clone)]
pub struct RecordedBatch {
    pub batch: Batch,
    pub done: bool,
}

/// A dead letter `forwarders replay --dead-letters` asked to send again.
#[derive(Debug, Clone)]
pub struct Replay {
    pub seq: i64,
    pub delivery: Uuid,
}

/// The unexpired leases of active forwarders, counted per engine instance holding them.
pub async fn leases_by_instance(client: &Client) -> Result<Vec<(Uuid, i64)>, Error> {
    let rows = client
        .query(
            "SELECT lease_instance, count(*) FROM forwarders
              WHERE state = 'active' AND lease_owner IS NOT NULL AND lease_until >= now()
                AND lease_instance IS NOT NULL
              GROUP BY lease_instance",
            &[],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// The batches recorded beyond the position, in seq order.
pub async fn recorded_batches(
    client: &Client,
    forwarder_id: i64,
) -> Result<Vec<RecordedBatch>, Error> {
    let rows = client
        .query(
            "SELECT after_seq, upto_seq, delivery, seqs, done FROM forwarder_batches
              WHERE forwarder_id = $1 ORDER BY after_seq",
            &[&forwarder_id],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| RecordedBatch {
            batch: Batch {
                after_seq: r.get(0),
                upto_seq: r.get(1),
                delivery: r.get(2),
                seqs: r.get(3),
            },
            done: r.get(4),
        })
        .collect())
}

/// The settled seq: every Statement up to it is committed or abandoned, so a read up to
/// it never passes a writer that commits late (the learning feed's rule). It must be
/// read by a statement of its own that ends before the Statements are read: in one
/// statement, whose snapshot is taken before `commonplace_settled_seq` reads the
/// in-flight marks, a writer that reserved after the snapshot and committed before the
/// marks were read would be neither marked nor visible, and the position would pass it
/// for good (migration 0013 tells the same of the watermark). The engine reads it once
/// per tick for all its runners (it reads `pg_locks`), so every [`read_after`] uses a
/// value read before it began.
pub async fn settled_seq(client: &Client) -> Result<i64, Error> {
    Ok(client
        .query_one("SELECT commonplace_settled_seq()", &[])
        .await?
        .get(0))
}

/// Up to `limit` Statements of the store after `after`, up to `settled` (from
/// [`settled_seq`], read before this), in seq order.
pub async fn read_after(
    client: &Client,
    store_id: i64,
    after: i64,
    settled: i64,
    limit: i64,
) -> Result<Vec<StoredStatement>, Error> {
    stored_statements(client, READ_AFTER, &[&store_id, &after, &settled, &limit]).await
}

/// Statements of the store by id (the targets of voiding Statements).
pub async fn statements_by_id(
    client: &Client,
    store_id: i64,
    ids: &[Uuid],
) -> Result<Vec<StoredStatement>, Error> {
    stored_statements(client, BY_ID, &[&store_id, &ids]).await
}

/// Statements of the store, keyed by seq (a recorded batch or a dead letter sent again);
/// those erased since are missing.
pub async fn statements_by_seq(
    client: &Client,
    store_id: i64,
    seqs: &[i64],
) -> Result<HashMap<i64, StoredStatement>, Error> {
    let statements = stored_statements(client, BY_SEQ, &[&store_id, &seqs]).await?;
    Ok(statements.into_iter().map(|s| (s.seq, s)).collect())
}

/// Which of these seqs the store still holds (a person's erasure removes Statements).
pub async fn existing_seqs(
    client: &Client,
    store_id: i64,
    seqs: &[i64],
) -> Result<Vec<i64>, Error> {
    let rows = client
        .query(
            "SELECT seq FROM statements WHERE store_id = $1 AND seq = ANY($2)",
            &[&store_id, &seqs],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

// Each reads the Statements as `n`, with the tags of the credential that wrote each.
const READ_AFTER: &str = "SELECT n.seq, n.id, n.mode, n.voids, n.body, c.tags
       FROM (SELECT seq, id, mode, voids, body, credential FROM statements
              WHERE store_id = $1 AND seq > $2 AND seq <= $3
              ORDER BY seq LIMIT $4) n
       LEFT JOIN credentials c ON c.key = n.credential
      ORDER BY n.seq";
const BY_ID: &str = "SELECT n.seq, n.id, n.mode, n.voids, n.body, c.tags
       FROM statements n LEFT JOIN credentials c ON c.key = n.credential
      WHERE n.store_id = $1 AND n.id = ANY($2)";
const BY_SEQ: &str = "SELECT n.seq, n.id, n.mode, n.voids, n.body, c.tags
       FROM statements n LEFT JOIN credentials c ON c.key = n.credential
      WHERE n.store_id = $1 AND n.seq = ANY($2)";

/// The [`StoredStatement`]s one of the queries above finds.
async fn stored_statements(
    client: &Client,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<StoredStatement>, Error> {
    let rows = client.query(sql, params).await?;
    Ok(rows.iter().map(stored_statement).collect())
}

fn stored_statement(row: &tokio_postgres::Row) -> StoredStatement {
    let tags: Option<Value> = row.get(5);
    // A jsonb comes as its text: kept as it is, not parsed into a tree.
    let Json(body): Json<Box<RawValue>> = row.get(4);
    StoredStatement {
        seq: row.get(0),
        id: row.get(1),
        mode: row.get(2),
        voids: row.get(3),
        body,
        tags: match tags {
            Some(Value::Object(tags)) => tags,
            _ => Map::new(),
        },
    }
}

/// Up to `limit` of the dead letters asked to be sent again, but for those in `except`
/// (already going), in seq order.
pub async fn replays(
    client: &Client,
    forwarder_id: i64,
    except: &[i64],
    limit: i64,
) -> Result<Vec<Replay>, Error> {
    let rows = client
        .query(
            "SELECT seq, delivery FROM forwarder_dead_letters
              WHERE forwarder_id = $1 AND replay AND seq <> ALL($2)
              ORDER BY seq LIMIT $3",
            &[&forwarder_id, &except, &limit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Replay {
            seq: r.get(0),
            delivery: r.get(1),
        })
        .collect())
}
