//! Converting a store written before the term dictionary (migration 0019) in place: its
//! `statement_index` rows become `terms`, `statement_terms` rows and `statements.terms`,
//! in batches of seqs, each committed together with how far it got
//! (`storage_conversion`), so a conversion that is stopped resumes where it stopped.
//! Then the term index is built, `statement_index` dropped, `terms` made NOT NULL and
//! the space of the rewritten `statements` rows reclaimed. `migrations::apply` runs it
//! under the migration lock, so no server serves before it is done; on a database
//! created by this version there is nothing to convert and it takes a moment.

use std::time::{Duration, Instant};

use deadpool_postgres::Client;

use super::Error;

/// Statements per batch (one transaction each) unless the operator chooses another
/// size (`commonplace migrate --conversion-batch`).
pub const DEFAULT_BATCH: i64 = 10_000;

/// How the conversion runs and who hears how it goes.
pub struct Conversion<'a> {
    /// Seqs per batch.
    pub batch: i64,
    pub progress: &'a dyn Progress,
}

/// What a conversion has left to do when it starts.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Statements still to convert.
    pub statements: u64,
    /// Statements an earlier, stopped run converted already.
    pub converted_before: u64,
    /// The rows of `statement_index`, as PostgreSQL estimates them.
    pub index_rows: u64,
    /// The size of `statements`, which compacting rewrites.
    pub statements_bytes: u64,
}

/// How far this run has got.
#[derive(Debug, Clone, Copy)]
pub struct Advance {
    /// Statements converted by this run so far.
    pub converted: u64,
    /// Statements this run has to convert in all.
    pub of: u64,
    /// Since this run's first batch began.
    pub elapsed: Duration,
}

impl Advance {
    /// The time the rest of the batches will take at this run's rate so far.
    pub fn remaining(&self) -> Duration {
        if self.converted == 0 {
            return Duration::ZERO;
        }
        let left = self.of.saturating_sub(self.converted) as f64;
        self.elapsed.mul_f64(left / self.converted as f64)
    }

    /// The time the finishing steps (building the term index, compacting `statements`)
    /// will take, from the batches' rate: building the index sorts every row the batches
    /// wrote, and compacting rewrites every row they updated; on this 2-core test
    /// machine together about a third of the batches' time (a fifth when
    /// other work loads it: the batches slow down more).
    pub fn finishing(&self) -> Duration {
        if self.converted == 0 {
            return Duration::ZERO;
        }
        let per_statement = self.elapsed.as_secs_f64() / self.converted as f64;
        Duration::from_secs_f64(per_statement * self.of as f64 * FINISHING_SHARE)
    }
}

/// The finishing steps' time as a share of the batches' time, measured (see
/// [`Advance::finishing`]).
const FINISHING_SHARE: f64 = 0.3;

/// A finishing step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Building `statement_terms_term`, dropping `statement_index`, `terms` NOT NULL.
    Indexing,
    /// `VACUUM FULL statements`: the batches left a dead version of every row.
    Compacting,
}

impl Step {
    pub fn describe(self) -> &'static str {
        match self {
            Step::Indexing => "building the term index and dropping statement_index",
            Step::Compacting => {
                "reclaiming the space of the rewritten rows (VACUUM FULL statements)"
            }
        }
    }
}

/// A migration that rewrites a table as large as the store, about to run.
#[derive(Debug, Clone, Copy)]
pub struct Rewrite {
    pub version: &'static str,
    /// What it does, for the operator.
    pub does: &'static str,
    /// The time it should take, from the store's size and the rate measured on this
    /// project's 2-core machine.
    pub estimate: Duration,
}

/// Who hears how a conversion goes: `serve` logs it, `migrate` shows a bar.
pub trait Progress: Sync {
    /// A migration that rewrites a large table begins (each runs in one transaction: a
    /// run stopped during it rolls it back, and the next start runs it again).
    fn rewriting(&self, rewrite: &Rewrite);
    /// That migration is committed.
    fn rewritten(&self, rewrite: &Rewrite, took: Duration);
    /// Before the first batch, when there is anything to convert.
    fn planned(&self, plan: &Plan);
    /// After each committed batch.
    fn advanced(&self, advance: &Advance);
    /// A finishing step begins.
    fn step(&self, step: Step);
    /// A finishing step is done.
    fn step_done(&self, step: Step, took: Duration);
}

/// Progress as log lines: the plan, the estimate after the first batch, then a line at
/// most every [`LOG_EVERY`].
#[derive(Default)]
pub struct Logged {
    last: std::sync::Mutex<Option<Instant>>,
}

const LOG_EVERY: Duration = Duration::from_secs(10);

impl Progress for Logged {
    fn rewriting(&self, rewrite: &Rewrite) {
        tracing::info!(
            version = rewrite.version,
            estimate = %about(rewrite.estimate),
            "migrating: {}",
            rewrite.does
        );
    }

    fn rewritten(&self, rewrite: &Rewrite, took: Duration) {
        tracing::info!(version = rewrite.version, took = ?whole_seconds(took), "migrating: done");
    }

    fn planned(&self, plan: &Plan) {
        tracing::info!(
            statements = plan.statements,
            converted_before = plan.converted_before,
            index_rows = plan.index_rows,
            "converting the statement index to the term dictionary (migration 0019)"
        );
    }

    fn advanced(&self, advance: &Advance) {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let first = last.is_none();
        if !first && last.is_some_and(|at| at.elapsed() < LOG_EVERY) {
            return;
        }
        *last = Some(Instant::now());
        let remaining = humantime::format_duration(whole_seconds(advance.remaining()));
        if first {
            let finishing = humantime::format_duration(whole_seconds(advance.finishing()));
            tracing::info!(
                converted = advance.converted,
                of = advance.of,
                estimate = %about(advance.remaining() + advance.finishing()),
                batches_left = %remaining,
                finishing = %finishing,
                "converting: first batch measured"
            );
        } else {
            tracing::info!(
                converted = advance.converted,
                of = advance.of,
                eta = %remaining,
                "converting"
            );
        }
    }

    fn step(&self, step: Step) {
        tracing::info!("converting: {}", step.describe());
    }

    fn step_done(&self, step: Step, took: Duration) {
        tracing::info!(took = ?whole_seconds(took), "converting: {}: done", step.describe());
    }
}

/// "about N min" (or seconds, or hours) for an estimate.
pub fn about(estimate: Duration) -> String {
    let seconds = estimate.as_secs();
    match seconds {
        0..=59 => "under a minute".into(),
        60..=5399 => format!("about {} min", (seconds + 30) / 60),
        _ => format!("about {:.1} h", seconds as f64 / 3600.0),
    }
}

fn whole_seconds(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs())
}

/// Converts what is left to convert, if anything.
pub async fn run(client: &mut Client, conversion: &Conversion<'_>) -> Result<(), Error> {
    let pending = client
        .query_one("SELECT to_regclass('storage_conversion') IS NOT NULL", &[])
        .await?
        .get::<_, bool>(0);
    if !pending {
        return Ok(());
    }
    let (through, converted_before, finished): (i64, i64, bool) = {
        let row = client
            .query_one(
                "SELECT converted_through, converted, finished FROM storage_conversion",
                &[],
            )
            .await?;
        (row.get(0), row.get(1), row.get(2))
    };
    if !finished {
        convert(client, conversion, through, converted_before as u64).await?;
        // A database created by this version has nothing converted: it is finished in
        // a moment, without a word.
        let report = converted_so_far(client).await? > 0;
        let started = Instant::now();
        if report {
            conversion.progress.step(Step::Indexing);
        }
        let tx = client.transaction().await?;
        // A server of the old version still running (the upgrade notes say to stop
        // them all first) writes Statements without `terms`, and may have committed
        // one late, below `converted_through`, after its batch had passed. Its writes
        // are locked out from here on (reads go on), then anything it left is
        // converted, so `terms` can be NOT NULL. Statements first: its writers take
        // `statements`, then `statement_index`.
        tx.batch_execute(LOCK_WRITES).await?;
        let late = tx.query_one(LATE, &[]).await?;
        let (late_stores, late_seqs): (Vec<i64>, Vec<i64>) = (late.get(0), late.get(1));
        if !late_seqs.is_empty() {
            let converted = tx
                .execute(CONVERT_LATE, &[&late_stores, &late_seqs])
                .await?;
            tx.execute(
                "UPDATE storage_conversion SET converted = converted + $1",
                &[&(converted as i64)],
            )
            .await?;
        }
        tx.batch_execute(FINISH).await?;
        tx.commit().await?;
        if report {
            conversion
                .progress
                .step_done(Step::Indexing, started.elapsed());
        }
    }
    // VACUUM runs outside a transaction, so this is a step of its own: a run stopped
    // during it finds the conversion finished but not yet compacted, and compacts.
    if converted_so_far(client).await? > 0 {
        let started = Instant::now();
        conversion.progress.step(Step::Compacting);
        match compact(client).await {
            Ok(()) => conversion
                .progress
                .step_done(Step::Compacting, started.elapsed()),
            // The store is converted and serves as well without it, only larger; a
            // failure here (the disk too full for the copy VACUUM FULL writes) must not
            // stop this start and every later one.
            Err(e) => tracing::warn!(
                error = %e,
                "converting: reclaiming the space of the rewritten rows failed; the store \
                 is converted and serves, but statements keeps a dead copy of every row \
                 until it is compacted by hand (VACUUM FULL needs free space as large as \
                 the table): psql -c 'VACUUM FULL statements' -c 'VACUUM (ANALYZE) \
                 statements, statement_terms, terms'"
            ),
        }
    }
    client
        .batch_execute("DROP TABLE storage_conversion")
        .await?;
    Ok(())
}

/// The compacting step; the session's memory setting is put back even if it fails, as
/// the connection goes on serving.
async fn compact(client: &Client) -> Result<(), Error> {
    let compacted = async {
        for statement in COMPACT {
            client.batch_execute(statement).await?;
        }
        Ok::<_, Error>(())
    }
    .await;
    client.batch_execute("RESET maintenance_work_mem").await?;
    compacted
}

/// Statements converted so far, by this run and any before it.
async fn converted_so_far(client: &Client) -> Result<i64, Error> {
    Ok(client
        .query_one("SELECT converted FROM storage_conversion", &[])
        .await?
        .get(0))
}

/// Every batch from `through` (the last seq converted) on, then any Statement that
/// arrived meanwhile, until none is left.
async fn convert(
    client: &mut Client,
    conversion: &Conversion<'_>,
    mut through: i64,
    converted_before: u64,
) -> Result<(), Error> {
    let stores: Vec<i64> = client
        .query("SELECT id FROM stores ORDER BY id", &[])
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let left: i64 = client
        .query_one(COUNT_LEFT, &[&stores, &through])
        .await?
        .get(0);
    if left == 0 {
        return Ok(());
    }
    let sizes = client.query_one(SIZES, &[]).await?;
    conversion.progress.planned(&Plan {
        statements: left as u64,
        converted_before,
        index_rows: sizes.get::<_, f32>(0).max(0.0) as u64,
        statements_bytes: sizes.get::<_, i64>(1) as u64,
    });
    // Building the B-tree once at the end, in term order, is cheaper than keeping it
    // up row by row (200,000 Statements: 23.5 s for the batches and the build against
    // 29 s); it is built again (IF NOT EXISTS) when the batches are done.
    client
        .batch_execute("DROP INDEX IF EXISTS statement_terms_term")
        .await?;
    let started = Instant::now();
    let mut converted = 0u64;
    loop {
        let last: i64 = client.query_one(LAST_SEQ, &[&stores]).await?.get(0);
        if through >= last {
            return Ok(());
        }
        while through < last {
            let upto = last.min(through.saturating_add(conversion.batch.max(1)));
            converted += convert_batch(client, &stores, through, upto).await?;
            through = upto;
            conversion.progress.advanced(&Advance {
                converted,
                of: (left as u64).max(converted),
                elapsed: started.elapsed(),
            });
        }
    }
}

/// One batch, `(after, upto]`, in one transaction with its bookkeeping; the number of
/// Statements it converted.
async fn convert_batch(
    client: &mut Client,
    stores: &[i64],
    after: i64,
    upto: i64,
) -> Result<u64, Error> {
    let tx = client.transaction().await?;
    // The feed's update trigger queues nothing for a change of `terms` alone, but it
    // would still collect every row of the batch twice (its old and new transition
    // tables) to find that out. Disabled in this transaction only: ALTER TABLE is
    // transactional, so a stopped batch leaves the trigger as it was. The planner
    // cannot see into the batch's CTEs and would sort term texts for merge joins:
    // hashing them is about a tenth faster.
    tx.batch_execute(
        "ALTER TABLE statements DISABLE TRIGGER learning_feed_redo_update;
         SET LOCAL enable_mergejoin = off",
    )
    .await?;
    let converted = tx.execute(CONVERT_BATCH, &[&stores, &after, &upto]).await?;
    tx.execute(
        "UPDATE storage_conversion SET converted_through = $1, converted = converted + $2",
        &[&upto, &(converted as i64)],
    )
    .await?;
    tx.batch_execute("ALTER TABLE statements ENABLE TRIGGER learning_feed_redo_update")
        .await?;
    tx.commit().await?;
    Ok(converted)
}

/// Statements after a seq, counted on the `(store_id, seq)` index.
const COUNT_LEFT: &str = "SELECT count(*) FROM statements WHERE store_id = ANY($1) AND seq > $2";

/// The highest seq stored, one index probe per store.
const LAST_SEQ: &str =
    "SELECT coalesce(max((SELECT max(seq) FROM statements s WHERE s.store_id = st.id)), 0)
       FROM stores st WHERE st.id = ANY($1)";

const SIZES: &str =
    "SELECT (SELECT reltuples FROM pg_class WHERE oid = 'statement_index'::regclass),
            pg_total_relation_size('statements')";

/// The conversion of the Statements whose `statement_index` rows match the first
/// condition and whose `statements` rows (`r`) match the second.
macro_rules! convert_statements {
    ($index_rows:literal, $statements:literal) => {
        concat!(
            "WITH batch AS MATERIALIZED (
         SELECT store_id, seq, kind, term FROM statement_index
          WHERE ",
            $index_rows,
            "
     ), keyed AS MATERIALIZED (
         SELECT store_id, term, pair,
                CASE WHEN pair
                     THEN commonplace_pair_key(commonplace_term_key(split_part(term, ' ', 1)),
                                               commonplace_term_key(substr(term, strpos(term, ' ') + 1)))
                     ELSE commonplace_term_key(term) END AS key
           FROM (SELECT DISTINCT store_id, term, kind = 203 AS pair FROM batch) texts
     ), interned AS (
         INSERT INTO terms (store_id, key)
         SELECT DISTINCT store_id, key FROM keyed ORDER BY store_id, key
         ON CONFLICT (store_id, key) DO NOTHING
         RETURNING id, store_id, key
     ), ids AS (
         SELECT id, store_id, key FROM interned
         UNION
         SELECT t.id, t.store_id, t.key FROM terms t JOIN keyed k USING (store_id, key)
     ), rows AS MATERIALIZED (
         SELECT DISTINCT b.seq, i.id AS term, b.kind
           FROM batch b
           JOIN keyed k ON k.store_id = b.store_id AND k.term = b.term AND k.pair = (b.kind = 203)
           JOIN ids i ON i.store_id = k.store_id AND i.key = k.key
     ), written AS (
         INSERT INTO statement_terms (term, entry)
         SELECT term, seq * 256 + bit_or(commonplace_term_class(kind)) FROM rows GROUP BY seq, term
     ), packed AS (
         SELECT seq, array_agg(term * 256 + kind ORDER BY term * 256 + kind) AS terms
           FROM rows GROUP BY seq
     )
     UPDATE statements s SET terms = coalesce(p.terms, '{}')
       FROM statements r LEFT JOIN packed p ON p.seq = r.seq
      WHERE ",
            $statements,
            "
        AND s.store_id = r.store_id AND s.seq = r.seq"
        )
    };
}

/// One batch: each distinct term text of the batch's `statement_index` rows gets its key
/// (an agent+verb row, kind 203, is "<verb IRI> <agent IFI>": IRIs hold no spaces, so
/// the first space ends the verb), new keys are interned in key order, and each
/// Statement of the batch gets its `statement_terms` rows and its packed `terms`
/// (term * 256 + kind, sorted, each once). The dictionary's rows already there are read
/// from the statement's snapshot, the new ones from the INSERT: nothing else writes
/// them while the migration lock is held. Every Statement in the range is updated, one
/// without index rows to an empty array, so all of them are NOT NULL afterwards.
const CONVERT_BATCH: &str = convert_statements!(
    "store_id = ANY($1) AND seq > $2 AND seq <= $3",
    "r.store_id = ANY($1) AND r.seq > $2 AND r.seq <= $3"
);

/// The Statements still without `terms` at the end, as CONVERT_BATCH converts a batch:
/// `$1` their stores, `$2` their seqs.
const CONVERT_LATE: &str = convert_statements!(
    "store_id = ANY($1) AND seq = ANY($2)",
    "r.store_id = ANY($1) AND r.seq = ANY($2)"
);

/// The Statements (stores and seqs) still without `terms`: one pass over `statements`,
/// as `SET NOT NULL` makes after it.
const LATE: &str = "SELECT coalesce(array_agg(DISTINCT store_id), '{}'),
                           coalesce(array_agg(seq), '{}')
                      FROM statements WHERE terms IS NULL";

/// No Statement is written or changed while the conversion finishes.
const LOCK_WRITES: &str = "LOCK TABLE statements, statement_index IN EXCLUSIVE MODE";

/// The end of the conversion, in one transaction. Index builds get more memory than a
/// query's sort (PostgreSQL's default is 64 MB).
const FINISH: &str = "SET LOCAL maintenance_work_mem = '512MB';
     CREATE INDEX IF NOT EXISTS statement_terms_term ON statement_terms (term, entry);
     DROP TABLE IF EXISTS statement_index;
     ALTER TABLE statements ALTER COLUMN terms SET NOT NULL;
     UPDATE storage_conversion SET finished = true";

/// Each its own statement (VACUUM refuses to run in a transaction block): the batches
/// left a dead version of every `statements` row, which VACUUM FULL gives back to the
/// file system; plain VACUUM then sets the visibility map (VACUUM FULL does not), so
/// index-only scans skip the heap, and ANALYZE gives the planner the new tables'
/// statistics.
const COMPACT: &[&str] = &[
    "SET maintenance_work_mem = '512MB'",
    "VACUUM FULL statements",
    "VACUUM (ANALYZE) statements, statement_terms, terms",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_scales_the_first_batches_by_what_is_left() {
        let advance = Advance {
            converted: 10_000,
            of: 1_000_000,
            elapsed: Duration::from_secs(1),
        };
        assert_eq!(advance.remaining(), Duration::from_secs(99));
        assert_eq!(advance.finishing(), Duration::from_secs(30));
        assert_eq!(
            about(advance.remaining() + advance.finishing()),
            "about 2 min"
        );
        let done = Advance {
            converted: 1_000_000,
            ..advance
        };
        assert_eq!(done.remaining(), Duration::ZERO);
    }

    #[test]
    fn estimates_read_in_minutes_or_hours() {
        assert_eq!(about(Duration::from_secs(20)), "under a minute");
        assert_eq!(about(Duration::from_secs(89)), "about 1 min");
        assert_eq!(about(Duration::from_secs(90)), "about 2 min");
        assert_eq!(about(Duration::from_secs(3 * 3600)), "about 3.0 h");
    }
}
