//! Forwarding delivery (`crate::forwarding`): every SQL statement the engine runs.
//!
//! A forwarder is delivered for by the instance holding its row lease (migration 0018).
//! Every write here first locks the forwarder's row where `lease_owner` is still the
//! caller's token and writes nothing otherwise (the functions then answer `false`), so
//! an owner whose lease was taken over or revoked never moves a position, records a
//! batch or counts anything. Management (`store::forwarders`) takes the same row lock
//! when it pauses, replays or deletes, so the two never interleave.

use std::time::Duration;

use deadpool_postgres::{Client, Transaction};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::Error;

/// One instance's hold on one forwarder: the token minted when it claimed the row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub forwarder_id: i64,
    pub token: Uuid,
}

/// A forwarder as the engine claimed it. `auth` holds secrets: this type has no
/// `Debug`, and nothing logs it.
pub struct Claimed {
    pub lease: Lease,
    pub name: String,
    pub store_id: i64,
    pub kind: String,
    pub url: String,
    pub auth: Value,
    pub xapi_version: String,
    pub filter: Value,
    pub batch_size: i32,
    pub linger_ms: i32,
    pub max_in_flight: i32,
    pub position: i64,
}

/// A stored Statement with what the filter needs beside it.
#[derive(Debug, Clone)]
pub struct StoredStatement {
    pub seq: i64,
    pub id: Uuid,
    pub mode: Option<String>,
    /// The Statement it voids, when it is a voiding Statement.
    pub voids: Option<Uuid>,
    pub body: Value,
    /// The tags of the credential that wrote it.
    pub tags: Map<String, Value>,
}

/// A batch formed beyond the position: it covers the seqs (after_seq, upto_seq] of the
/// store and carries the matching ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub after_seq: i64,
    pub upto_seq: i64,
    pub delivery: Uuid,
    pub seqs: Vec<i64>,
}

/// A recorded batch and whether it was finished.
#[derive(Debug, Clone)]
pub struct RecordedBatch {
    pub batch: Batch,
    pub done: bool,
}

/// A Statement the target rejected for itself.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub seq: i64,
    pub statement_id: Uuid,
    pub status: i32,
    pub answer: String,
}

/// A dead letter `forwarders replay --dead-letters` asked to send again.
#[derive(Debug, Clone)]
pub struct Replay {
    pub seq: i64,
    pub delivery: Uuid,
}

/// How a batch ended.
#[derive(Debug, Clone)]
pub enum Finished {
    /// The target took its Statements (or already held them).
    Delivered(i64),
    /// Its one Statement was rejected.
    DeadLettered(DeadLetter),
}

/// What renewing a lease found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewal {
    /// Still held; whether dead letters wait to be replayed.
    Held { replay_pending: bool },
    /// Paused, deleted, or no longer this owner's.
    Ended,
}

const FORWARDER_COLUMNS: &str = "id, lease_owner, name, store_id, kind, url, auth, xapi_version, \
                                 filter, batch_size, linger_ms, max_in_flight, position";

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

/// Claims for `instance` up to `limit` active forwarders nobody holds (or whose lease
/// expired), but for those in `except` (which it still runs), each with a fresh token.
pub async fn claim(
    client: &Client,
    instance: Uuid,
    except: &[i64],
    limit: i64,
    ttl: Duration,
) -> Result<Vec<Claimed>, Error> {
    let rows = client
        .query(
            &format!(
                "UPDATE forwarders
                    SET lease_owner = gen_random_uuid(), lease_instance = $4,
                        lease_until = now() + make_interval(secs => $3)
                  WHERE id IN (SELECT id FROM forwarders
                                WHERE state = 'active' AND (lease_owner IS NULL OR lease_until < now())
                                  AND id <> ALL($1)
                                ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)
                  RETURNING {FORWARDER_COLUMNS}"
            ),
            &[&except, &limit, &ttl.as_secs_f64(), &instance],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Claimed {
            lease: Lease {
                forwarder_id: r.get(0),
                token: r.get(1),
            },
            name: r.get(2),
            store_id: r.get(3),
            kind: r.get(4),
            url: r.get(5),
            auth: r.get(6),
            xapi_version: r.get(7),
            filter: r.get(8),
            batch_size: r.get(9),
            linger_ms: r.get(10),
            max_in_flight: r.get(11),
            position: r.get(12),
        })
        .collect())
}

/// Extends a lease while the forwarder stays active and this owner's.
pub async fn renew(client: &Client, lease: Lease, ttl: Duration) -> Result<Renewal, Error> {
    let row = client
        .query_opt(
            "UPDATE forwarders SET lease_until = now() + make_interval(secs => $3)
              WHERE id = $1 AND lease_owner = $2 AND state = 'active'
              RETURNING EXISTS (SELECT 1 FROM forwarder_dead_letters WHERE forwarder_id = $1 AND replay)",
            &[&lease.forwarder_id, &lease.token, &ttl.as_secs_f64()],
        )
        .await?;
    Ok(match row {
        Some(row) => Renewal::Held {
            replay_pending: row.get(0),
        },
        None => Renewal::Ended,
    })
}

/// Gives a lease up, so another instance (or this one, restarted) claims at once.
pub async fn release(client: &Client, lease: Lease) -> Result<(), Error> {
    client
        .execute(
            "UPDATE forwarders SET lease_owner = NULL, lease_until = NULL, lease_instance = NULL
              WHERE id = $1 AND lease_owner = $2",
            &[&lease.forwarder_id, &lease.token],
        )
        .await?;
    Ok(())
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
    let rows = client
        .query(
            "SELECT n.seq, n.id, n.mode, n.voids, n.body, c.tags
               FROM (SELECT seq, id, mode, voids, body, credential FROM statements
                      WHERE store_id = $1 AND seq > $2 AND seq <= $3
                      ORDER BY seq LIMIT $4) n
               LEFT JOIN credentials c ON c.key = n.credential
              ORDER BY n.seq",
            &[&store_id, &after, &settled, &limit],
        )
        .await?;
    Ok(rows.iter().map(stored_statement).collect())
}

/// Statements of the store by id (the targets of voiding Statements).
pub async fn statements_by_id(
    client: &Client,
    store_id: i64,
    ids: &[Uuid],
) -> Result<Vec<StoredStatement>, Error> {
    let rows = client
        .query(
            "SELECT n.seq, n.id, n.mode, n.voids, n.body, c.tags
               FROM statements n LEFT JOIN credentials c ON c.key = n.credential
              WHERE n.store_id = $1 AND n.id = ANY($2)",
            &[&store_id, &ids],
        )
        .await?;
    Ok(rows.iter().map(stored_statement).collect())
}

/// Statements of the store by seq, in seq order (a recorded batch sent again); those
/// erased since are missing.
pub async fn statements_by_seq(
    client: &Client,
    store_id: i64,
    seqs: &[i64],
) -> Result<Vec<StoredStatement>, Error> {
    let rows = client
        .query(
            "SELECT n.seq, n.id, n.mode, n.voids, n.body, c.tags
               FROM statements n LEFT JOIN credentials c ON c.key = n.credential
              WHERE n.store_id = $1 AND n.seq = ANY($2)
              ORDER BY n.seq",
            &[&store_id, &seqs],
        )
        .await?;
    Ok(rows.iter().map(stored_statement).collect())
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

fn stored_statement(row: &tokio_postgres::Row) -> StoredStatement {
    let tags: Option<Value> = row.get(5);
    StoredStatement {
        seq: row.get(0),
        id: row.get(1),
        mode: row.get(2),
        voids: row.get(3),
        body: row.get(4),
        tags: match tags {
            Some(Value::Object(tags)) => tags,
            _ => Map::new(),
        },
    }
}

/// Attachment content the store holds, by hash: (sha2, content type, content).
pub async fn attachments(
    client: &Client,
    store_id: i64,
    hashes: &[String],
) -> Result<Vec<(String, String, Vec<u8>)>, Error> {
    let rows = client
        .query(
            "SELECT sha2, content_type, content FROM attachments WHERE store_id = $1 AND sha2 = ANY($2)",
            &[&store_id, &hashes],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// Locks the forwarder's row if the lease is still this owner's.
async fn hold(tx: &Transaction<'_>, lease: Lease) -> Result<bool, Error> {
    Ok(tx
        .query_opt(
            "SELECT 1 FROM forwarders WHERE id = $1 AND lease_owner = $2 FOR NO KEY UPDATE",
            &[&lease.forwarder_id, &lease.token],
        )
        .await?
        .is_some())
}

async fn insert_batches(
    tx: &Transaction<'_>,
    forwarder_id: i64,
    batches: &[&Batch],
) -> Result<(), Error> {
    for batch in batches {
        tx.execute(
            "INSERT INTO forwarder_batches (forwarder_id, after_seq, upto_seq, delivery, seqs)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &forwarder_id,
                &batch.after_seq,
                &batch.upto_seq,
                &batch.delivery,
                &batch.seqs,
            ],
        )
        .await?;
    }
    Ok(())
}

/// Records a batch before it is first sent.
pub async fn record_batch(client: &mut Client, lease: Lease, batch: &Batch) -> Result<bool, Error> {
    let tx = client.transaction().await?;
    if !hold(&tx, lease).await? {
        return Ok(false);
    }
    insert_batches(&tx, lease.forwarder_id, &[batch]).await?;
    tx.commit().await?;
    Ok(true)
}

/// Replaces a rejected batch by its two halves, recorded before either is sent.
pub async fn split_batch(
    client: &mut Client,
    lease: Lease,
    parent_after_seq: i64,
    halves: [&Batch; 2],
) -> Result<bool, Error> {
    let tx = client.transaction().await?;
    if !hold(&tx, lease).await? {
        return Ok(false);
    }
    tx.execute(
        "DELETE FROM forwarder_batches WHERE forwarder_id = $1 AND after_seq = $2",
        &[&lease.forwarder_id, &parent_after_seq],
    )
    .await?;
    insert_batches(&tx, lease.forwarder_id, &halves).await?;
    tx.commit().await?;
    Ok(true)
}

/// Marks a batch finished, counts it, and moves the position to `advance_to` (the end
/// of the contiguous prefix of finished batches) when given.
pub async fn finish_batch(
    client: &mut Client,
    lease: Lease,
    after_seq: i64,
    finished: &Finished,
    advance_to: Option<i64>,
) -> Result<bool, Error> {
    let tx = client.transaction().await?;
    if !hold(&tx, lease).await? {
        return Ok(false);
    }
    match finished {
        Finished::Delivered(count) => {
            tx.execute(
                "UPDATE forwarders SET delivered = delivered + $2,
                        last_delivered_at = CASE WHEN $2 > 0 THEN now() ELSE last_delivered_at END
                  WHERE id = $1",
                &[&lease.forwarder_id, count],
            )
            .await?;
        }
        Finished::DeadLettered(letter) => {
            if dead_letter(&tx, lease.forwarder_id, letter).await? {
                tx.execute(
                    "UPDATE forwarders SET dead_lettered = dead_lettered + 1 WHERE id = $1",
                    &[&lease.forwarder_id],
                )
                .await?;
            }
        }
    }
    tx.execute(
        "UPDATE forwarder_batches SET done = true WHERE forwarder_id = $1 AND after_seq = $2",
        &[&lease.forwarder_id, &after_seq],
    )
    .await?;
    if let Some(position) = advance_to {
        move_position(&tx, lease.forwarder_id, position).await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// Moves the position over Statements that matched nothing (or over finished batches).
pub async fn advance(client: &mut Client, lease: Lease, position: i64) -> Result<bool, Error> {
    let tx = client.transaction().await?;
    if !hold(&tx, lease).await? {
        return Ok(false);
    }
    move_position(&tx, lease.forwarder_id, position).await?;
    tx.commit().await?;
    Ok(true)
}

async fn move_position(
    tx: &Transaction<'_>,
    forwarder_id: i64,
    position: i64,
) -> Result<(), Error> {
    tx.execute(
        "UPDATE forwarders SET position = greatest(position, $2) WHERE id = $1",
        &[&forwarder_id, &position],
    )
    .await?;
    tx.execute(
        "DELETE FROM forwarder_batches WHERE forwarder_id = $1 AND upto_seq <= $2",
        &[&forwarder_id, &position],
    )
    .await?;
    Ok(())
}

/// Records the rejection of one Statement, with the target's status and answer;
/// nothing (`false`) when the Statement was erased meanwhile, as the answer may quote
/// it. The key share lock makes an erasure under way wait for this transaction, or this
/// one see the Statement gone, so no dead letter outlives its Statement
/// (`store::erasure`).
async fn dead_letter(
    tx: &Transaction<'_>,
    forwarder_id: i64,
    letter: &DeadLetter,
) -> Result<bool, Error> {
    let held = tx
        .query_opt(
            "SELECT 1 FROM statements s JOIN forwarders f ON f.store_id = s.store_id
              WHERE f.id = $1 AND s.seq = $2
                FOR KEY SHARE OF s",
            &[&forwarder_id, &letter.seq],
        )
        .await?;
    if held.is_none() {
        return Ok(false);
    }
    tx.execute(
        "INSERT INTO forwarder_dead_letters (forwarder_id, seq, statement_id, status, answer)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (forwarder_id, seq) DO UPDATE
            SET status = EXCLUDED.status, answer = EXCLUDED.answer, at = now(), replay = false",
        &[
            &forwarder_id,
            &letter.seq,
            &letter.statement_id,
            &letter.status,
            &letter.answer,
        ],
    )
    .await?;
    tx.execute(
        "UPDATE forwarders SET last_error = $2, last_error_at = now() WHERE id = $1",
        &[
            &forwarder_id,
            &format!(
                "Statement {} rejected with {}: {}",
                letter.statement_id, letter.status, letter.answer
            ),
        ],
    )
    .await?;
    Ok(true)
}

/// Counts a failed attempt (it is retried) and keeps its error.
pub async fn count_failure(client: &Client, lease: Lease, error: &str) -> Result<bool, Error> {
    let updated = client
        .execute(
            "UPDATE forwarders SET failed = failed + 1, last_error = $3, last_error_at = now()
              WHERE id = $1 AND lease_owner = $2",
            &[&lease.forwarder_id, &lease.token, &error],
        )
        .await?;
    Ok(updated == 1)
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

/// Ends the replay of a dead letter: delivered (or erased since, `Delivered(0)`), it
/// leaves the list; rejected again, it stays with the new answer.
pub async fn finish_replay(
    client: &mut Client,
    lease: Lease,
    seq: i64,
    finished: &Finished,
) -> Result<bool, Error> {
    let tx = client.transaction().await?;
    if !hold(&tx, lease).await? {
        return Ok(false);
    }
    match finished {
        Finished::Delivered(count) => {
            tx.execute(
                "DELETE FROM forwarder_dead_letters WHERE forwarder_id = $1 AND seq = $2",
                &[&lease.forwarder_id, &seq],
            )
            .await?;
            tx.execute(
                "UPDATE forwarders SET delivered = delivered + $2,
                        last_delivered_at = CASE WHEN $2 > 0 THEN now() ELSE last_delivered_at END
                  WHERE id = $1",
                &[&lease.forwarder_id, count],
            )
            .await?;
        }
        Finished::DeadLettered(letter) => {
            dead_letter(&tx, lease.forwarder_id, letter).await?;
        }
    }
    tx.commit().await?;
    Ok(true)
}
