//! What a single-Statement commit costs, and what batching commits buys: the server's
//! own group commit (`store::write_queue`) against PostgreSQL's `commit_delay` /
//! `commit_siblings`, each beside single-row INSERTs straight into PostgreSQL with the
//! same setting. The settings are made with ALTER SYSTEM on the bench cluster and reset
//! after (and at the start of every run, in case an earlier one stopped half-way).
//! `synchronous_commit` stays on throughout.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use commonplace::store::embedded::Cluster;
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio_postgres::types::{ToSql, Type};

use crate::cluster::connect;
use crate::harness::{
    drain_learning_feed, fresh_id, Bodies, FeedProgress, Http, JsonbText, Server,
};
use crate::ingest::{post_op, RawWriters};
use crate::measure::{selected, Scenario};
use crate::Run;

/// Scenario names (`report::RAW_MATCHES` pairs each LRS one with its raw one).
const WITH_DELAY: &str = "POST single with commit_delay";
pub const RAW_WITH_DELAY: &str = "raw INSERT with commit_delay, 1 row per statement";
const ONE_WRITER_EACH: &str = "POST single, one writer per client";

/// How long the WAL flush time is sampled for, to choose `commit_delay`.
const CALIBRATION: Duration = Duration::from_secs(2);

/// Puts the bench cluster's commit settings back to PostgreSQL's defaults.
pub async fn reset_settings(cluster: &Cluster) {
    alter_system(
        cluster,
        &[
            "ALTER SYSTEM RESET commit_delay",
            "ALTER SYSTEM RESET commit_siblings",
            "ALTER SYSTEM RESET track_wal_io_timing",
        ],
    )
    .await;
}

async fn alter_system(cluster: &Cluster, sql: &[&str]) {
    let admin = connect(cluster, "postgres").await;
    for statement in sql {
        admin.batch_execute(statement).await.unwrap();
    }
    admin
        .batch_execute("SELECT pg_reload_conf()")
        .await
        .unwrap();
    // Backends read the reloaded file when they next go idle; give them a moment.
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// The commit scenarios, run after the ingest ones: single-row INSERTs with
/// `commit_delay`, single POSTs with it through the server as built, and single POSTs
/// through a server with one writer per client (so its group commit never combines),
/// with and without `commit_delay`. `commit_delay` is `BENCH_COMMIT_DELAY` µs, or half
/// the mean WAL flush measured here first, as PostgreSQL's documentation advises;
/// `commit_siblings` is `BENCH_COMMIT_SIBLINGS` (default 1: the server writes with at
/// most one transaction per core, so PostgreSQL's default of 5 would never delay its
/// commits). Returns the scenarios and a note of the settings.
pub async fn scenarios(
    run: &Run<'_>,
    http: &Http,
    bodies: &Arc<Bodies>,
    database_url: &str,
    log: &Path,
) -> (Vec<Scenario>, String) {
    let clients = run.config.clients;
    let with_delay_each = format!("{WITH_DELAY}, one writer per client");
    let each = format!("{ONE_WRITER_EACH} (no group commit)");
    let names = [RAW_WITH_DELAY, WITH_DELAY, &with_delay_each, &each];
    if !names.iter().any(|name| selected(name)) {
        return (Vec::new(), String::new());
    }
    let flush_us = wal_flush_us(run, bodies).await;
    let writers = RawWriters::connect(run, clients).await;
    let delay = std::env::var("BENCH_COMMIT_DELAY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| ((flush_us / 2.0).round() as i64).clamp(10, 100_000));
    let siblings: i64 = crate::env_or("BENCH_COMMIT_SIBLINGS", 1);
    let mut note = format!(
        "Commit cost: WAL flushes took {flush_us:.0} µs on average (pg_stat_wal, {} s of \
         single-row INSERTs by one client); the scenarios named with commit_delay ran with \
         commit_delay = {delay} µs, commit_siblings = {siblings} (ALTER SYSTEM, reset \
         after); those with one writer per client on a second server started with \
         --statement-writers {clients}, so that no request waits to be combined with others.",
        CALIBRATION.as_secs()
    );
    println!("  -- commit cost: commit_delay {delay} µs, commit_siblings {siblings}");
    let mut scenarios = Vec::new();
    alter_system(
        run.cluster,
        &[
            &format!("ALTER SYSTEM SET commit_delay = {delay}"),
            &format!("ALTER SYSTEM SET commit_siblings = {siblings}"),
        ],
    )
    .await;
    run.checkpoint().await;
    scenarios.extend(
        run.measure(RAW_WITH_DELAY, "raw", clients, |c| {
            writers.op(c, 1, "insert", bodies)
        })
        .await,
    );
    drop(writers);
    let mut feed_notes = Vec::new();
    scenarios.extend(lrs_single(run, http, bodies, WITH_DELAY, &mut feed_notes).await);
    let (second, _) = Server::start_with(
        run.config,
        database_url,
        log,
        &["--statement-writers".into(), clients.to_string()],
    )
    .await;
    let second_run = Run {
        server_pid: second.pid(),
        database: run.database.clone(),
        ..*run
    };
    let second_http = Http::new(second.base());
    scenarios.extend(
        lrs_single(
            &second_run,
            &second_http,
            bodies,
            &with_delay_each,
            &mut feed_notes,
        )
        .await,
    );
    reset_settings(run.cluster).await;
    scenarios.extend(lrs_single(&second_run, &second_http, bodies, &each, &mut feed_notes).await);
    second.stop().await;
    for feed in feed_notes {
        note.push(' ');
        note.push_str(&feed);
    }
    (scenarios, note)
}

/// One single-POST scenario from a caught-up feed; what the feed did meanwhile goes
/// to `feed_notes`.
async fn lrs_single(
    run: &Run<'_>,
    http: &Http,
    bodies: &Arc<Bodies>,
    name: &str,
    feed_notes: &mut Vec<String>,
) -> Option<Scenario> {
    drain_learning_feed(run.cluster, &run.database).await;
    run.checkpoint().await;
    let feed = FeedProgress::read(run.cluster, &run.database).await;
    let scenario = run
        .measure(name, "lrs", run.config.clients, |c| {
            post_op(http, bodies, c, 1)
        })
        .await;
    feed_notes.extend(
        feed.after(scenario.as_ref(), run.cluster, &run.database)
            .await,
    );
    scenario
}

/// The mean WAL flush time (µs) while one client commits single-row INSERTs into the
/// raw table.
async fn wal_flush_us(run: &Run<'_>, bodies: &Bodies) -> f64 {
    alter_system(run.cluster, &["ALTER SYSTEM SET track_wal_io_timing = on"]).await;
    let client = run.connect().await;
    let insert = client
        .prepare_typed(
            "INSERT INTO raw_statements (id, statement) VALUES ($1, $2)",
            &[Type::UUID, Type::JSONB],
        )
        .await
        .unwrap();
    client
        .batch_execute("SELECT pg_stat_reset_shared('wal')")
        .await
        .unwrap();
    let mut rng = StdRng::from_entropy();
    let started = Instant::now();
    let mut next = 0;
    while started.elapsed() < CALIBRATION {
        let id = fresh_id(&mut rng);
        let json = bodies.with_id(next, id);
        let params: [&(dyn ToSql + Sync); 2] = [&id, &JsonbText(&json)];
        client.execute(&insert, &params).await.unwrap();
        next += 1;
    }
    // A backend hands its statistics over when it next goes idle, at most once a
    // second unless told to; then they are read in a new transaction.
    client
        .batch_execute("SELECT pg_stat_force_next_flush()")
        .await
        .unwrap();
    client.batch_execute("SELECT 1").await.unwrap();
    let row = client
        .query_one(
            "SELECT wal_sync::float8, wal_sync_time FROM pg_stat_wal",
            &[],
        )
        .await
        .unwrap();
    let (syncs, ms): (f64, f64) = (row.get(0), row.get(1));
    alter_system(run.cluster, &["ALTER SYSTEM RESET track_wal_io_timing"]).await;
    1000.0 * ms / syncs.max(1.0)
}
