//! Schema migrations: `migrations/*.sql`, embedded in the binary, applied in order
//! under an advisory lock so that instances starting together never race.

use deadpool_postgres::Client;

use super::conversion::{self, Conversion};
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
    let outcome = match apply_locked(client).await {
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

async fn apply_locked(client: &mut Client) -> Result<Vec<&'static str>, Error> {
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
        let tx = client.transaction().await?;
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[version],
        )
        .await?;
        tx.commit().await?;
        tracing::info!(%version, "applied migration");
        applied.push(*version);
    }
    Ok(applied)
}
