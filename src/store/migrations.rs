//! Schema migrations: `migrations/*.sql`, embedded in the binary, applied in order
//! under an advisory lock so that instances starting together never race.

use std::time::{Duration, Instant};

use deadpool_postgres::Client;

use super::conversion::{self, Conversion, Progress, Rewrite};
use super::Error;

/// Every migration, in the order it must be applied. A migration is never edited
/// once released: add a new file instead.
const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_stores_and_credentials",
        include_str!("../../migrations/0001_stores_and_credentials.sql"),
    ),
    (
        "0002_statements",
        include_str!("../../migrations/0002_statements.sql"),
    ),
    (
        "0003_documents",
        include_str!("../../migrations/0003_documents.sql"),
    ),
    (
        "0004_learning_modes",
        include_str!("../../migrations/0004_learning_modes.sql"),
    ),
    (
        "0005_erasure_audit",
        include_str!("../../migrations/0005_erasure_audit.sql"),
    ),
    (
        "0006_denied_hosts",
        include_str!("../../migrations/0006_denied_hosts.sql"),
    ),
    (
        "0007_learning_events",
        include_str!("../../migrations/0007_learning_events.sql"),
    ),
    (
        "0008_learning_feed",
        include_str!("../../migrations/0008_learning_feed.sql"),
    ),
    (
        "0009_agent_verb_terms",
        include_str!("../../migrations/0009_agent_verb_terms.sql"),
    ),
    (
        "0010_learning_spans",
        include_str!("../../migrations/0010_learning_spans.sql"),
    ),
    (
        "0011_learning_weeks",
        include_str!("../../migrations/0011_learning_weeks.sql"),
    ),
    (
        "0012_learning_feed_cost",
        include_str!("../../migrations/0012_learning_feed_cost.sql"),
    ),
    (
        "0013_statement_watermark",
        include_str!("../../migrations/0013_statement_watermark.sql"),
    ),
    (
        "0014_consistent_through",
        include_str!("../../migrations/0014_consistent_through.sql"),
    ),
    (
        "0015_capture",
        include_str!("../../migrations/0015_capture.sql"),
    ),
    (
        "0016_oauth_keys",
        include_str!("../../migrations/0016_oauth_keys.sql"),
    ),
    (
        "0017_sessions",
        include_str!("../../migrations/0017_sessions.sql"),
    ),
    (
        "0018_forwarders",
        include_str!("../../migrations/0018_forwarders.sql"),
    ),
    (
        "0019_term_dictionary",
        include_str!("../../migrations/0019_term_dictionary.sql"),
    ),
    (
        "0020_learning_labels",
        include_str!("../../migrations/0020_learning_labels.sql"),
    ),
    (
        "0021_learner_identity",
        include_str!("../../migrations/0021_learner_identity.sql"),
    ),
    (
        "0022_insight",
        include_str!("../../migrations/0022_insight.sql"),
    ),
    (
        "0023_report_version",
        include_str!("../../migrations/0023_report_version.sql"),
    ),
    (
        "0024_statement_text",
        include_str!("../../migrations/0024_statement_text.sql"),
    ),
    (
        "0025_term_entries",
        include_str!("../../migrations/0025_term_entries.sql"),
    ),
    (
        "0026_settled_seq",
        include_str!("../../migrations/0026_settled_seq.sql"),
    ),
    (
        "0027_leaner_rows",
        include_str!("../../migrations/0027_leaner_rows.sql"),
    ),
    (
        "0028_gathered_statements",
        include_str!("../../migrations/0028_gathered_statements.sql"),
    ),
];

/// A migration that rewrites a table as large as the store: what it does, the store's
/// size in the unit of its rate (one float8 from SQL), and the rate this project's
/// 2-core machine measured (1.12 M Statements: 0024 rewrote 1.9 GB of `statements` in
/// 22 s, 0025 rebuilt the entries of 1.12 M Statements in 55 s).
struct Heavy {
    version: &'static str,
    does: &'static str,
    size: &'static str,
    per_second: f64,
}

const HEAVY: &[Heavy] = &[
    Heavy {
        version: "0024_statement_text",
        does: "rewriting statements to keep each Statement's JSON as text",
        size: "SELECT pg_total_relation_size('statements')::float8",
        per_second: 85e6,
    },
    Heavy {
        version: "0025_term_entries",
        does: "rebuilding statement_terms with one entry per Statement and term",
        size:
            "SELECT greatest(reltuples, 0)::float8 FROM pg_class WHERE oid = 'statements'::regclass",
        per_second: 20_000.0,
    },
];

/// The advisory lock's identity, shared by every instance. Two int4 keys, because
/// single bigint advisory keys are reserved for in-flight statement writers.
const MIGRATION_LOCK: (i32, i32) = (0x636f_6d6d, 0x6d69_6772);

/// Applies every migration the database lacks, then converts what the migrations left
/// to convert (a store written before the term dictionary), so that no server serves
/// before it is done; returns the names applied now.
pub async fn apply(
    client: &mut Client,
    conversion: &Conversion<'_>,
) -> Result<Vec<&'static str>, Error> {
    client
        .execute(
            "SELECT pg_advisory_lock($1, $2)",
            &[&MIGRATION_LOCK.0, &MIGRATION_LOCK.1],
        )
        .await?;
    let outcome = match apply_locked(client, conversion.progress).await {
        Ok(applied) => conversion::run(client, conversion).await.map(|()| applied),
        Err(e) => Err(e),
    };
    let unlock = client
        .execute(
            "SELECT pg_advisory_unlock($1, $2)",
            &[&MIGRATION_LOCK.0, &MIGRATION_LOCK.1],
        )
        .await;
    let applied = outcome?;
    unlock?;
    Ok(applied)
}

async fn apply_locked(
    client: &mut Client,
    progress: &dyn Progress,
) -> Result<Vec<&'static str>, Error> {
    // Created under the lock too: two concurrent `CREATE TABLE IF NOT EXISTS` can both
    // find no table and the loser fails (on the table or on its row type).
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version text PRIMARY KEY,
                 applied timestamptz NOT NULL DEFAULT now()
             )",
        )
        .await?;
    let done: Vec<String> = client
        .query("SELECT version FROM schema_migrations", &[])
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let mut applied = Vec::new();
    for (version, sql) in MIGRATIONS {
        if done.iter().any(|d| d == version) {
            continue;
        }
        let rewrite = announce(client, version, progress).await?;
        let tx = client.transaction().await?;
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[version],
        )
        .await?;
        tx.commit().await?;
        if let Some((rewrite, started)) = rewrite {
            progress.rewritten(&rewrite, started.elapsed());
        }
        tracing::info!(%version, "applied migration");
        applied.push(*version);
    }
    Ok(applied)
}

/// Before a migration that rewrites a table as large as the store, says what it does and
/// how long it should take, and returns what to report once it is done. Only on a store
/// that holds Statements: on a new database it takes a moment.
async fn announce(
    client: &Client,
    version: &'static str,
    progress: &dyn Progress,
) -> Result<Option<(Rewrite, Instant)>, Error> {
    let Some(heavy) = HEAVY.iter().find(|heavy| heavy.version == version) else {
        return Ok(None);
    };
    let holds_statements: bool = client
        .query_one("SELECT EXISTS (SELECT FROM statements)", &[])
        .await?
        .get(0);
    if !holds_statements {
        return Ok(None);
    }
    let size: f64 = client.query_one(heavy.size, &[]).await?.get(0);
    let rewrite = Rewrite {
        version,
        does: heavy.does,
        estimate: Duration::from_secs_f64(size / heavy.per_second),
    };
    progress.rewriting(&rewrite);
    Ok(Some((rewrite, Instant::now())))
}
