//! The learning feed: folds stored Statements into `learning_events` and the rollups
//! the reports read, outside the write transaction, so ingest never pays for them.
//!
//! Every server instance drives it (in the background, and before answering a report);
//! a transaction-level advisory lock lets one pass run at a time. A pass only reads
//! seqs below every writer still in flight, so a late commit is never skipped, and
//! Statements changed after the feed passed them (voided, relabelled, erased) are
//! queued by triggers and redone. The server reads the Statements and computes their
//! events ([`LearningEvent`]); `learning_feed_fold` (migrations 0008, 0012 and 0020)
//! folds them in, storing the events' texts once each as labels.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::{Client, Pool, Transaction};
use serde_json::Value;
use tokio_postgres::Row;
use uuid::Uuid;

use super::learning::{TimeRule, COMPLETION_VERBS, SHARE_VERBS};
use super::Error;
use crate::modes::event::LearningEvent;
use crate::request_load::{Patience, RequestLoad};

/// The feed's advisory lock (two int4 keys: "comm", "feed").
const FEED_LOCK: (i32, i32) = (0x636f_6d6d, 0x6665_6564);
/// Seqs one pass takes at most, so a backlog is worked off in short transactions and
/// the Statements a pass reads (about 1.5 KB each) stay a few MB of server memory. A
/// pass's fold is one statement that keeps a core busy until it ends (about 0.25 s at
/// this size on the benchmark machine): the background feed gives way to requests only
/// between passes, and a report waits for a running pass. Smaller passes fold more
/// slowly (1,000: about a fifth slower than 5,000).
const PASS_SEQS: i64 = 2_000;
/// How long the background feed rests once it has caught up.
const IDLE: Duration = Duration::from_millis(500);

/// A pass's read: the Statements with a learning mode in seqs ($1, $2], store by store,
/// then those of the changed ones to redo (stores $3, seqs $4).
///
/// Each store's range is its own index scan (OFFSET 0 keeps the planner from joining it
/// back into one): `stores` is too small for autovacuum to analyse, and with no
/// statistics the planner merged it with a scan bounded by `seq` alone, which read the
/// index from its start on every pass (313 ms for 2,000 rows at 10 M).
pub const READ: &str = "SELECT n.store_id, n.seq, n.stored, n.mode, n.body
       FROM stores s
       CROSS JOIN LATERAL (
           SELECT n.store_id, n.seq, n.stored, n.mode, n.body
             FROM statements n
            WHERE n.store_id = s.id AND n.seq > $1 AND n.seq <= $2
              AND n.mode IS NOT NULL AND NOT n.voided AND n.voids IS NULL
           OFFSET 0) n
     UNION ALL
     SELECT n.store_id, n.seq, n.stored, n.mode, n.body
       FROM unnest($3::int8[], $4::int8[]) AS r(store_id, seq)
       JOIN statements n ON n.store_id = r.store_id AND n.seq = r.seq
      WHERE n.mode IS NOT NULL AND NOT n.voided AND n.voids IS NULL";

/// Where the feed stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Every seq up to this one is folded in.
    pub last_seq: i64,
    /// Every seq up to this one is committed or abandoned.
    pub settled_seq: i64,
    /// Changed Statements up to `settled_seq` still waiting to be redone.
    pub redo_pending: bool,
}

impl Position {
    pub fn caught_up(&self) -> bool {
        self.last_seq >= self.settled_seq && !self.redo_pending
    }
}

pub async fn position(pool: &Pool) -> Result<Position, Error> {
    let client = pool.get().await?;
    let row = client
        .query_one(
            "SELECT f.last_seq, s.settled,
                    EXISTS (SELECT 1 FROM learning_feed_redo WHERE seq <= s.settled)
               FROM learning_feed f, (SELECT commonplace_settled_seq() AS settled) s",
            &[],
        )
        .await?;
    Ok(Position {
        last_seq: row.get(0),
        settled_seq: row.get(1),
        redo_pending: row.get(2),
    })
}

/// The version of everything the reports read (migration 0023): it moves whenever the
/// feed folds, redoes or restarts, and whenever the roster or a store changes.
pub async fn report_version(pool: &Pool) -> Result<i64, Error> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached("SELECT report_version FROM learning_feed")
        .await?;
    Ok(client.query_one(&statement, &[]).await?.get(0))
}

/// Runs one pass unless another is running (then `None`). A server configured with
/// another estimate rule than the stored events follow starts the feed over.
pub async fn pass(pool: &Pool, rule: TimeRule) -> Result<Option<Position>, Error> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let locked: bool = tx
        .query_one(
            "SELECT pg_try_advisory_xact_lock($1, $2)",
            &[&FEED_LOCK.0, &FEED_LOCK.1],
        )
        .await?
        .get(0);
    if !locked {
        return Ok(None);
    }
    let row = tx
        .query_one(
            "SELECT last_seq, session_gap, estimate_cap, commonplace_settled_seq() FROM learning_feed",
            &[],
        )
        .await?;
    let (mut last_seq, gap, cap, settled_seq): (i64, f64, f64, i64) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    if gap != rule.session_gap_seconds || cap != rule.cap_seconds {
        tracing::info!(
            session_gap = rule.session_gap_seconds,
            estimate_cap = rule.cap_seconds,
            "the estimate rule changed: rebuilding the learning rollups"
        );
        tx.execute(
            "SELECT learning_feed_restart($1, $2)",
            &[&rule.session_gap_seconds, &rule.cap_seconds],
        )
        .await?;
        last_seq = 0;
    }
    let upto = settled_seq.min(last_seq + PASS_SEQS);
    // Changed Statements up to `upto`: those already folded in are redone; later ones
    // are read as they are now with the rest of the range.
    let (redo_store, redo_seq): (Vec<i64>, Vec<i64>) = {
        let take = tx
            .prepare_cached(
                "WITH taken AS (DELETE FROM learning_feed_redo WHERE seq <= $1 RETURNING store_id, seq)
                 SELECT DISTINCT store_id, seq FROM taken WHERE seq <= $2",
            )
            .await?;
        tx.query(&take, &[&upto, &last_seq])
            .await?
            .iter()
            .map(|r| (r.get::<_, i64>(0), r.get::<_, i64>(1)))
            .unzip()
    };
    if upto <= last_seq && redo_seq.is_empty() {
        tx.commit().await?;
        if idle_check_due() {
            keep_statistics(&client).await?;
        }
        return Ok(Some(Position {
            last_seq,
            settled_seq,
            redo_pending: false,
        }));
    }
    let read = tx.prepare_cached(READ).await?;
    let rows = tx
        .query(&read, &[&last_seq, &upto, &redo_store, &redo_seq])
        .await?;
    let events = Events::of(&rows);
    let fold = tx
        .prepare_cached(
            "SELECT learning_feed_fold($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,
                                       $14, $15, $16, $17, $18, $19, $20)",
        )
        .await?;
    tx.query_one(
        &fold,
        &[
            &upto,
            &redo_store,
            &redo_seq,
            &events.store,
            &events.seq,
            &events.learner,
            &events.day,
            &events.at,
            &events.mode,
            &events.verb,
            &events.activity,
            &events.activity_type,
            &events.host,
            &events.course,
            &events.registration,
            &events.team,
            &events.goal,
            &events.seconds,
            &&SHARE_VERBS[..],
            &&COMPLETION_VERBS[..],
        ],
    )
    .await?;
    let redo_pending: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM learning_feed_redo WHERE seq <= $1)",
            &[&settled_seq],
        )
        .await?
        .get(0);
    tx.commit().await?;
    if !events.seq.is_empty() || !redo_seq.is_empty() {
        keep_statistics(&client).await?;
    }
    Ok(Some(Position {
        last_seq: upto.max(last_seq),
        settled_seq,
        redo_pending,
    }))
}

/// Analyses the learning tables once the changes to the events since they were last
/// analysed (additions, removals, re-estimates) reach as many as the rows they then
/// had, from 1,000: the planner's statistics follow a store growing from empty (a first
/// demo, a bulk import) long before autovacuum would, and a large store is left to
/// autovacuum. Plans made for an empty table (nested loops over thousands of rows) made
/// a report on 13,000 Statements take seconds. The table's own counters decide, not
/// this process's, so a restarted server does not analyse a large store again.
///
/// The Statements and their index rows by the same rule: a page of `GET /statements`
/// planned with the statistics of a store before its bulk load read and sorted its
/// whole `since` window (seconds at 200,000) where it walks a hundred rows by `seq`.
async fn keep_statistics(client: &Client) -> Result<(), Error> {
    let due = client
        .query_one(
            "SELECT bool_or(relid = 'statements'::regclass AND grown),
                    bool_or(relid = 'learning_events'::regclass AND grown)
               FROM (SELECT relid, n_mod_since_analyze >= greatest(1000, n_live_tup / 2) AS grown
                       FROM pg_stat_user_tables
                      WHERE relid IN ('statements'::regclass, 'learning_events'::regclass)) t",
            &[],
        )
        .await?;
    if due.get::<_, Option<bool>>(0) == Some(true) {
        client
            .batch_execute("ANALYZE statements, statement_terms, terms")
            .await?;
    }
    if due.get::<_, Option<bool>>(1) == Some(true) {
        client
            .batch_execute(
                "ANALYZE learning_events, learning_labels, learning_days, learning_activity_days,
                         learning_day_hosts, learning_day_courses, learning_context_teams,
                         learning_courses,
                         learning_host_learners, learning_learner_weeks, learning_learner_months,
                         learning_activity_weeks,
                         learning_host_weeks",
            )
            .await?;
    }
    Ok(())
}

/// PostgreSQL publishes a connection's table counters up to 10 s after its last
/// write, so the last pass of a burst may not see them reach the mark; a caught-up
/// feed looks again, every 10 s.
fn idle_check_due() -> bool {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let last = LAST.load(Ordering::Relaxed);
    now >= last + 10
        && LAST
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
}

/// The events of the Statements read, as the columns `learning_feed_fold` takes.
#[derive(Default)]
struct Events {
    store: Vec<i64>,
    seq: Vec<i64>,
    learner: Vec<String>,
    day: Vec<NaiveDate>,
    at: Vec<DateTime<Utc>>,
    mode: Vec<String>,
    verb: Vec<String>,
    activity: Vec<Option<String>>,
    activity_type: Vec<Option<String>>,
    host: Vec<Option<String>>,
    course: Vec<Option<String>>,
    registration: Vec<Option<Uuid>>,
    team: Vec<Option<String>>,
    goal: Vec<Option<String>>,
    seconds: Vec<Option<f64>>,
}

impl Events {
    fn of(rows: &[Row]) -> Events {
        let mut events = Events::default();
        for row in rows {
            let body: Value = row.get(4);
            let Some(event) = LearningEvent::of(&body, row.get(2)) else {
                continue;
            };
            events.store.push(row.get(0));
            events.seq.push(row.get(1));
            events.mode.push(row.get(3));
            events.registration.push(event.registration);
            events.learner.push(event.learner);
            events.day.push(event.day);
            events.at.push(event.at);
            events.verb.push(event.verb);
            events.activity.push(event.activity);
            events.activity_type.push(event.activity_type);
            events.host.push(event.host);
            events.course.push(event.course);
            events.team.push(event.team);
            events.goal.push(event.goal);
            events.seconds.push(event.seconds);
        }
        events
    }
}

/// Waits for a running pass and keeps any other from starting until `tx` ends. A
/// transaction that changes what the reports read and also needs this lock (a roster
/// import) takes it before its first change: the change moves the report version in
/// the feed's row (migration 0023), which a pass updates while it holds this lock, so
/// taking the two in the pass's order means neither ever waits for the other.
pub async fn hold_passes(tx: &Transaction<'_>) -> Result<(), Error> {
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, $2)",
        &[&FEED_LOCK.0, &FEED_LOCK.1],
    )
    .await?;
    Ok(())
}

/// Regroups the store's team-level rollup by its new roster, inside the transaction
/// that replaced the roster; waits for a running pass so none folds in with old teams.
pub async fn regroup_teams(tx: &Transaction<'_>, store_id: i64) -> Result<(), Error> {
    hold_passes(tx).await?;
    tx.execute("SELECT learning_regroup_teams($1)", &[&store_id])
        .await?;
    Ok(())
}

/// Empties the events and rollups of every store, inside the caller's transaction, so
/// the feed folds everything in again (under the estimate rule it follows now).
pub async fn rebuild(tx: &Transaction<'_>) -> Result<(), Error> {
    hold_passes(tx).await?;
    tx.execute(
        "SELECT learning_feed_restart(session_gap, estimate_cap) FROM learning_feed",
        &[],
    )
    .await?;
    Ok(())
}

/// Brings the feed up to every Statement stored before the call, waiting for a pass
/// another instance runs if need be; `false` when `patience` ran out first (the
/// reports then answer from rollups that lag).
pub async fn catch_up(pool: &Pool, rule: TimeRule, patience: Duration) -> Result<bool, Error> {
    let deadline = Instant::now() + patience;
    let mut now = position(pool).await?;
    let target = now.settled_seq;
    loop {
        if now.last_seq >= target && !now.redo_pending {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        if pass(pool, rule).await?.is_none() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        now = position(pool).await?;
    }
}

/// The background feed of one server: passes back to back while there is a backlog,
/// a rest once caught up. Errors (a database outage) are logged and retried.
///
/// Before each pass it gives way to the server's requests: it waits while any run, so
/// a backlog (after a bulk load or import) is folded in the gaps between them and reads
/// keep their latency, but never longer than its patience, so under a load that never
/// pauses it still folds one pass per patience and cannot fall behind for good. The
/// patience is longer while only reads run: they add nothing to fold, and the reads
/// measured while the feed folded a bulk load kept closer to their caught-up latency
/// with fewer passes (`benches/ANALYSIS.md`, session 40). It waits outside the pass,
/// holding no lock: a report's [`catch_up`], which runs passes of its own and never
/// gives way, does not wait for it.
pub async fn run(pool: Pool, rule: TimeRule, requests: RequestLoad, patience: Patience) {
    loop {
        requests.give_way(patience).await;
        match pass(&pool, rule).await {
            Ok(Some(position)) if !position.caught_up() => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "learning feed pass failed; retrying"),
        }
        tokio::time::sleep(IDLE).await;
    }
}
