//! Forwarding delivery (`crate::forwarding`): the engine's leases and writes (what it
//! reads is in `store::forwarding_reads`).
//!
//! A forwarder is delivered for by the instance holding its row lease (migration 0018).
//! Every write here first locks the forwarder's row where `lease_owner` is still the
//! caller's token and writes nothing otherwise (the functions then answer `false`), so
//! an owner whose lease was taken over or revoked never moves a position, records a
//! batch or counts anything. Management (`store::forwarders`) takes the same row lock
//! when it pauses, replays or deletes, so the two never interleave. The writes of every
//! batch (recording it; counting it delivered and moving the position) are one SQL
//! statement each, which takes that lock itself: one round trip and one commit.

use std::time::Duration;

use deadpool_postgres::{Client, Transaction};
use serde_json::Value;
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

/// A batch formed beyond the position: it covers the seqs (after_seq, upto_seq] of the
/// store and carries the matching ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub after_seq: i64,
    pub upto_seq: i64,
    pub delivery: Uuid,
    pub seqs: Vec<i64>,
}

/// A Statement the target rejected for itself.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub seq: i64,
    pub statement_id: Uuid,
    pub status: i32,
    pub answer: String,
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

/// A transaction holding the forwarder's row locked, if the lease is still this owner's;
/// `None` otherwise (the caller then writes nothing).
async fn hold(client: &mut Client, lease: Lease) -> Result<Option<Transaction<'_>>, Error> {
    let tx = client.transaction().await?;
    let held = tx
        .query_opt(
            "SELECT 1 FROM forwarders WHERE id = $1 AND lease_owner = $2 FOR NO KEY UPDATE",
            &[&lease.forwarder_id, &lease.token],
        )
        .await?
        .is_some();
    Ok(held.then_some(tx))
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
pub async fn record_batch(client: &Client, lease: Lease, batch: &Batch) -> Result<bool, Error> {
    let recorded = client
        .execute(
            "INSERT INTO forwarder_batches (forwarder_id, after_seq, upto_seq, delivery, seqs)
             SELECT id, $3, $4, $5, $6 FROM forwarders
              WHERE id = $1 AND lease_owner = $2
                FOR NO KEY UPDATE",
            &[
                &lease.forwarder_id,
                &lease.token,
                &batch.after_seq,
                &batch.upto_seq,
                &batch.delivery,
                &batch.seqs,
            ],
        )
        .await?;
    Ok(recorded == 1)
}

/// Replaces a rejected batch by its two halves, recorded before either is sent.
pub async fn split_batch(
    client: &mut Client,
    lease: Lease,
    parent_after_seq: i64,
    halves: [&Batch; 2],
) -> Result<bool, Error> {
    let Some(tx) = hold(client, lease).await? else {
        return Ok(false);
    };
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
    let letter = match finished {
        Finished::Delivered(count) => {
            return delivered(client, lease, after_seq, *count, advance_to).await
        }
        Finished::DeadLettered(letter) => letter,
    };
    let Some(tx) = hold(client, lease).await? else {
        return Ok(false);
    };
    if dead_letter(&tx, lease.forwarder_id, letter).await? {
        tx.execute(
            "UPDATE forwarders SET dead_lettered = dead_lettered + 1 WHERE id = $1",
            &[&lease.forwarder_id],
        )
        .await?;
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

/// A batch the target took: counted, and the position moved to `advance_to` when
/// given, in one statement. The batches the position passes are deleted (this one
/// among them, when it was the oldest in flight); otherwise this one is marked done.
async fn delivered(
    client: &Client,
    lease: Lease,
    after_seq: i64,
    count: i64,
    advance_to: Option<i64>,
) -> Result<bool, Error> {
    let held: i64 = client
        .query_one(
            "WITH held AS (
                 UPDATE forwarders
                    SET delivered = delivered + $4,
                        last_delivered_at = CASE WHEN $4 > 0 THEN now() ELSE last_delivered_at END,
                        position = greatest(position, $5)
                  WHERE id = $1 AND lease_owner = $2
                  RETURNING id),
             passed AS (
                 DELETE FROM forwarder_batches b USING held
                  WHERE b.forwarder_id = held.id AND b.upto_seq <= $5),
             done AS (
                 UPDATE forwarder_batches b SET done = true FROM held
                  WHERE b.forwarder_id = held.id AND b.after_seq = $3
                    AND ($5::bigint IS NULL OR b.upto_seq > $5))
             SELECT count(*) FROM held",
            &[
                &lease.forwarder_id,
                &lease.token,
                &after_seq,
                &count,
                &advance_to,
            ],
        )
        .await?
        .get(0);
    Ok(held == 1)
}

/// Moves the position over Statements that matched nothing (or over finished batches).
pub async fn advance(client: &Client, lease: Lease, position: i64) -> Result<bool, Error> {
    let held: i64 = client
        .query_one(
            "WITH held AS (
                 UPDATE forwarders SET position = greatest(position, $3)
                  WHERE id = $1 AND lease_owner = $2
                  RETURNING id),
             passed AS (
                 DELETE FROM forwarder_batches b USING held
                  WHERE b.forwarder_id = held.id AND b.upto_seq <= $3)
             SELECT count(*) FROM held",
            &[&lease.forwarder_id, &lease.token, &position],
        )
        .await?
        .get(0);
    Ok(held == 1)
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

/// Counts Statements the target took (none, for one erased before it was sent again).
async fn count_delivered(tx: &Transaction<'_>, forwarder_id: i64, count: i64) -> Result<(), Error> {
    tx.execute(
        "UPDATE forwarders SET delivered = delivered + $2,
                last_delivered_at = CASE WHEN $2 > 0 THEN now() ELSE last_delivered_at END
          WHERE id = $1",
        &[&forwarder_id, &count],
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

/// Ends the replay of a dead letter: delivered (or erased since, `Delivered(0)`), it
/// leaves the list; rejected again, it stays with the new answer.
pub async fn finish_replay(
    client: &mut Client,
    lease: Lease,
    seq: i64,
    finished: &Finished,
) -> Result<bool, Error> {
    let Some(tx) = hold(client, lease).await? else {
        return Ok(false);
    };
    match finished {
        Finished::Delivered(count) => {
            tx.execute(
                "DELETE FROM forwarder_dead_letters WHERE forwarder_id = $1 AND seq = $2",
                &[&lease.forwarder_id, &seq],
            )
            .await?;
            count_delivered(&tx, lease.forwarder_id, *count).await?;
        }
        Finished::DeadLettered(letter) => {
            dead_letter(&tx, lease.forwarder_id, letter).await?;
        }
    }
    tx.commit().await?;
    Ok(true)
}
