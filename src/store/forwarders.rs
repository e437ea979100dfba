//! Forwarders, as `commonplace forwarders …` manages them and `/metrics` reports them:
//! create, list with their figures, show with their dead letters, pause, resume,
//! delete, replay. Delivery's own statements are in `store::forwarding`.
//!
//! Each change that moves what the delivering instance must do (pause, resume, delete,
//! `replay --since`) clears the row's lease in the same transaction, so the instance
//! holding it can write nothing more (every delivery write checks its lease token) and
//! the next claim starts from the row as it now is.

use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Pool};
use serde::Serialize;
use serde_json::Value;
use tokio_postgres::{IsolationLevel, Row};
use uuid::Uuid;

use super::Error;

/// Lag is counted up to this many Statements: it is read at every scrape and listing,
/// and counting an index range costs about 0.3 µs a Statement (a million took 260 ms on
/// the 2-core development machine; this many, under 50 ms). Beyond it the figure means
/// "at least this many", and `lag_seconds` tells how far behind the forwarder is.
pub const LAG_COUNTED_UP_TO: i64 = 100_000;

/// Dead letters `show` lists (oldest first); the list may hold more.
pub const DEAD_LETTERS_SHOWN: i64 = 1000;

/// A forwarder to create. `auth` holds its secrets and is never read back here.
pub struct NewForwarder<'a> {
    pub name: &'a str,
    pub store: &'a str,
    pub kind: &'a str,
    pub url: &'a str,
    pub auth: &'a Value,
    pub xapi_version: Option<&'a str>,
    pub filter: &'a Value,
    pub batch_size: Option<i32>,
    pub linger_ms: Option<i32>,
    pub max_in_flight: Option<i32>,
    /// Send what the store already holds; otherwise only what arrives from now on.
    pub from_start: bool,
}

/// A forwarder as `list` and `show` print it (never its secrets).
#[derive(Debug, Clone, Serialize)]
pub struct ForwarderInfo {
    pub name: String,
    pub kind: String,
    pub store: String,
    pub url: String,
    pub state: String,
    pub delivered: i64,
    pub failed: i64,
    pub dead_lettered: i64,
    /// Statements of the store stored after the position (up to [`LAG_COUNTED_UP_TO`]).
    pub lag: i64,
    /// Seconds since the oldest of them was stored; 0 without lag.
    pub lag_seconds: f64,
    pub position: i64,
    pub filter: Value,
    /// For xAPI targets only.
    pub xapi_version: Option<String>,
    pub last_error: Option<String>,
    pub created: DateTime<Utc>,
}

/// A Statement the target refused for itself, with its answer.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    pub seq: i64,
    pub statement_id: Uuid,
    pub status: i32,
    pub answer: String,
    pub at: DateTime<Utc>,
    /// Handed back by `replay --dead-letters`, not yet delivered.
    pub replay: bool,
}

/// What `replay` handed back to the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replayed {
    /// `--since`: the position moved from one seq to the other (unchanged when every
    /// Statement stored after the time is still ahead of it).
    Position { from: i64, to: i64 },
    /// `--dead-letters`: this many dead letters will be sent again.
    DeadLetters(u64),
}

/// Forwarders with their figures: all of them (`$2` NULL) or the one named `$2`.
const FORWARDERS: &str = "
    SELECT f.name, f.kind, s.name, f.url, f.state, f.delivered, f.failed, f.dead_lettered,
           lag.statements,
           coalesce(extract(epoch FROM now() - oldest.stored)::float8, 0),
           f.position, f.filter, f.xapi_version, f.last_error, f.created
      FROM forwarders f
      JOIN stores s ON s.id = f.store_id
     CROSS JOIN LATERAL (
           SELECT count(*) AS statements FROM (
                  SELECT 1 FROM statements t
                   WHERE t.store_id = f.store_id AND t.seq > f.position
                   LIMIT $1) ahead) lag
      LEFT JOIN LATERAL (
           SELECT t.stored FROM statements t
            WHERE t.store_id = f.store_id AND t.seq > f.position
            ORDER BY t.seq LIMIT 1) oldest ON true
     WHERE $2::text IS NULL OR f.name = $2
     ORDER BY f.name";

fn forwarder(row: &Row) -> ForwarderInfo {
    let kind: String = row.get(1);
    let xapi_version: String = row.get(12);
    ForwarderInfo {
        name: row.get(0),
        store: row.get(2),
        url: row.get(3),
        state: row.get(4),
        delivered: row.get(5),
        failed: row.get(6),
        dead_lettered: row.get(7),
        lag: row.get(8),
        lag_seconds: (row.get::<_, f64>(9).max(0.0) * 1000.0).round() / 1000.0,
        position: row.get(10),
        filter: row.get(11),
        xapi_version: (kind == "xapi").then_some(xapi_version),
        last_error: row.get(13),
        created: row.get(14),
        kind,
    }
}

/// Creates a forwarder. Its position is 0 with `from_start`; otherwise the newest
/// settled seq, so a Statement whose writer is still in flight now is sent when it
/// commits rather than skipped. Settings not given take the defaults below (a NULL
/// parameter does not fall back to a column's default): migration 0018's, but for a
/// batch of 500 rather than 100, which an xAPI target stores several times faster.
pub async fn create(pool: &Pool, new: NewForwarder<'_>) -> Result<ForwarderInfo, Error> {
    let client = pool.get().await?;
    let store_id: i64 = client
        .query_opt("SELECT id FROM stores WHERE name = $1", &[&new.store])
        .await?
        .map(|r| r.get(0))
        .ok_or_else(|| Error::NotFound(format!("no store named '{}'", new.store)))?;
    let inserted = client
        .execute(
            "INSERT INTO forwarders (name, store_id, kind, url, auth, xapi_version, filter,
                                     batch_size, linger_ms, max_in_flight, position)
             VALUES ($1, $2, $3, $4, $5, coalesce($6, '1.0.3'), $7,
                     coalesce($8, 500), coalesce($9, 100), coalesce($10, 4),
                     CASE WHEN $11 THEN 0 ELSE commonplace_settled_seq() END)
             ON CONFLICT (name) DO NOTHING",
            &[
                &new.name,
                &store_id,
                &new.kind,
                &new.url,
                new.auth,
                &new.xapi_version,
                new.filter,
                &new.batch_size,
                &new.linger_ms,
                &new.max_in_flight,
                &new.from_start,
            ],
        )
        .await?;
    if inserted == 0 {
        return Err(Error::Conflict(format!(
            "a forwarder named '{}' already exists",
            new.name
        )));
    }
    find(&client, new.name)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no forwarder named '{}'", new.name)))
}

/// Every forwarder with its figures, by name.
pub async fn list(pool: &Pool) -> Result<Vec<ForwarderInfo>, Error> {
    let client = pool.get().await?;
    let rows = client
        .query(FORWARDERS, &[&LAG_COUNTED_UP_TO, &None::<&str>])
        .await?;
    Ok(rows.iter().map(forwarder).collect())
}

async fn find(client: &impl GenericClient, name: &str) -> Result<Option<ForwarderInfo>, Error> {
    let row = client
        .query_opt(FORWARDERS, &[&LAG_COUNTED_UP_TO, &Some(name)])
        .await?;
    Ok(row.as_ref().map(forwarder))
}

/// One forwarder with its figures and its dead letters (the oldest
/// [`DEAD_LETTERS_SHOWN`]), read from one snapshot: a dead letter delivered on replay
/// leaves the list and counts as delivered in one commit, and is never shown gone from
/// the one and not yet in the other.
pub async fn show(
    pool: &Pool,
    name: &str,
) -> Result<Option<(ForwarderInfo, Vec<DeadLetter>)>, Error> {
    let mut client = pool.get().await?;
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let Some(info) = find(&tx, name).await? else {
        return Ok(None);
    };
    let rows = tx
        .query(
            "SELECT d.seq, d.statement_id, d.status, d.answer, d.at, d.replay
               FROM forwarder_dead_letters d JOIN forwarders f ON f.id = d.forwarder_id
              WHERE f.name = $1
              ORDER BY d.seq LIMIT $2",
            &[&name, &DEAD_LETTERS_SHOWN],
        )
        .await?;
    let dead_letters = rows
        .iter()
        .map(|r| DeadLetter {
            seq: r.get(0),
            statement_id: r.get(1),
            status: r.get(2),
            answer: r.get(3),
            at: r.get(4),
            replay: r.get(5),
        })
        .collect();
    Ok(Some((info, dead_letters)))
}

/// Pauses (`active` false) or resumes a forwarder and revokes its lease; `None` when
/// there is no such forwarder. Resuming one that is active changes nothing: revoking
/// the lease of the instance delivering would only have what it has in flight sent
/// again, by the next owner, while it is still being sent.
pub async fn set_active(
    pool: &Pool,
    name: &str,
    active: bool,
) -> Result<Option<ForwarderInfo>, Error> {
    let client = pool.get().await?;
    let state = if active { "active" } else { "paused" };
    let changed = client
        .execute(
            "UPDATE forwarders
                SET state = $2,
                    lease_owner = CASE WHEN state = $2 THEN lease_owner END,
                    lease_until = CASE WHEN state = $2 THEN lease_until END
              WHERE name = $1",
            &[&name, &state],
        )
        .await?;
    if changed == 0 {
        return Ok(None);
    }
    find(&client, name).await
}

/// Deletes a forwarder with its batches and dead letters; returns it as it was.
pub async fn delete(pool: &Pool, name: &str) -> Result<Option<ForwarderInfo>, Error> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let Some(info) = find(&tx, name).await? else {
        return Ok(None);
    };
    tx.execute("DELETE FROM forwarders WHERE name = $1", &[&name])
        .await?;
    tx.commit().await?;
    Ok(Some(info))
}

/// `replay --since`: moves the position back to just before the first Statement of
/// the forwarder's store stored after `since`, dropping the batches formed beyond it
/// and revoking the lease. Never moves it forward: what lies ahead is sent anyway.
pub async fn replay_since(
    pool: &Pool,
    name: &str,
    since: DateTime<Utc>,
) -> Result<Option<Replayed>, Error> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let Some(row) = tx
        .query_opt(
            "SELECT f.id, f.position,
                    (SELECT t.seq - 1 FROM statements t
                      WHERE t.store_id = f.store_id AND t.stored > $2
                      ORDER BY t.stored, t.seq LIMIT 1)
               FROM forwarders f WHERE f.name = $1
                FOR UPDATE OF f",
            &[&name, &since],
        )
        .await?
    else {
        return Ok(None);
    };
    let (id, from, first): (i64, i64, Option<i64>) = (row.get(0), row.get(1), row.get(2));
    let to = first.map_or(from, |before_first| before_first.min(from));
    if to < from {
        tx.execute(
            "UPDATE forwarders SET position = $2, lease_owner = NULL, lease_until = NULL
              WHERE id = $1",
            &[&id, &to],
        )
        .await?;
        tx.execute(
            "DELETE FROM forwarder_batches WHERE forwarder_id = $1",
            &[&id],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Some(Replayed::Position { from, to }))
}

/// `replay --dead-letters`: marks every dead letter of the forwarder to be sent again
/// (the engine removes each once delivered).
pub async fn replay_dead_letters(pool: &Pool, name: &str) -> Result<Option<Replayed>, Error> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "WITH f AS (SELECT id FROM forwarders WHERE name = $1),
                  marked AS (UPDATE forwarder_dead_letters d SET replay = true
                               FROM f WHERE d.forwarder_id = f.id RETURNING 1)
             SELECT (SELECT count(*) FROM marked) FROM f",
            &[&name],
        )
        .await?;
    Ok(row.map(|r| Replayed::DeadLetters(r.get::<_, i64>(0) as u64)))
}
