//! The HTTP load driver: the release server as a separate process, on an embedded
//! PostgreSQL cluster this bench starts (`target/bench-pg`), a fresh database per store
//! size; every LRS figure beside PostgreSQL's own measured in the same run: ingest
//! beside the same Statements' JSON inserted straight into `raw_statements(id uuid
//! primary key, statement jsonb)`, reads beside the same reads from that table holding
//! the store's JSON. Also: bytes per Statement of every table beside that raw table
//! (`storage`), the reads while the learning feed folds a backlog (`folding`), and
//! single-Statement commits with PostgreSQL's `commit_delay` against the server's group
//! commit (`commit`). Writes `benches/RESULTS.md` and `benches/results.json`.
//!
//! Run: `bash benches/run.sh` (micro-benchmarks, then this), or `cargo bench --bench
//! load` alone. Cargo builds the server binary with the bench (release) profile;
//! `BENCH_SERVER_BIN` runs another binary instead.
//!
//! Settings (environment):
//! - `BENCH_SIZES`: store sizes, comma-separated (default `0,1000000`); `BENCH_10M=1`
//!   adds 10,000,000.
//! - `BENCH_SECONDS`: how long each scenario runs (default 10).
//! - `BENCH_CLIENTS` (default 8): concurrent clients of the ingest scenarios and of the
//!   raw PostgreSQL runs; `BENCH_QUERY_CLIENTS` (default 4): of the read scenarios.
//! - `BENCH_BACKLOG` (default 1,000,000): the preload stores its last this many
//!   Statements (all, in a smaller store) with the learning feed held back; the reads
//!   are measured while the feed folds them, then again once it has caught up.
//! - `BENCH_COMMIT_DELAY` (µs; default half the mean WAL flush, measured in the run) and
//!   `BENCH_COMMIT_SIBLINGS` (default 1): PostgreSQL's `commit_delay`/`commit_siblings`
//!   for the commit-cost scenarios (set with ALTER SYSTEM on the bench cluster, reset
//!   after).
//! - `BENCH_REUSE=1`: keep a database `load_<size>` that already holds the size
//!   (skips the preload; the ingest scenarios of earlier runs stay in it), or tops up
//!   one that holds part of it (a preload stopped part way), with the feed running.
//! - `BENCH_OUT`: where RESULTS.md / results.json go (default `benches/`).
//! - `BENCH_ONLY`: run only the scenarios whose names contain one of these
//!   comma-separated parts (for a quick look at one figure; the results files then
//!   hold only those).
//! - `BENCH_MERGE`: the `results.json` of an earlier run; its store sizes that this
//!   run does not measure are carried into this run's results, each named with the
//!   commit and date of the run that measured it (the 10 M size takes hours, so it can
//!   be measured once and kept beside later runs of the smaller sizes).
//! - `BENCH_RENDER`: a run's `results.json`; writes RESULTS.md again from it (same
//!   figures, commit and date) and measures nothing.

#[path = "../shared/cluster.rs"]
mod cluster;
mod commit;
mod folding;
mod harness;
mod ingest;
mod measure;
mod reads;
mod report;
#[path = "../shared/results.rs"]
mod results;
#[path = "../shared/server.rs"]
mod server;
mod storage;
mod targets;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use commonplace::store::embedded::Cluster;

use cluster::{connect, database_url, recreate};
use harness::{drain_learning_feed, Bodies, Http, Server};
use measure::{status_kb, Op, Scenario, SizeRun};
use report::Report;

/// Workload bodies the ingest scenarios cycle through (each sent with a fresh id).
const BODY_POOL: usize = 20_000;

struct Config {
    sizes: Vec<usize>,
    seconds: f64,
    clients: usize,
    query_clients: usize,
    backlog: usize,
    reuse: bool,
    server_bin: PathBuf,
    target: PathBuf,
    out: PathBuf,
    merge: Option<PathBuf>,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

impl Config {
    fn from_env() -> Config {
        let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let mut sizes: Vec<usize> = std::env::var("BENCH_SIZES")
            .unwrap_or_else(|_| "0,1000000".into())
            .split(',')
            .filter_map(|s| s.trim().replace('_', "").parse().ok())
            .collect();
        if std::env::var("BENCH_10M").is_ok_and(|v| v == "1") && !sizes.contains(&10_000_000) {
            sizes.push(10_000_000);
        }
        // The bench runs as <target>/release/deps/load-…; its target dir holds the rest.
        let target = std::env::current_exe()
            .ok()
            .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.to_path_buf()))
            .unwrap_or_else(|| manifest.join("target"));
        Config {
            sizes,
            seconds: env_or("BENCH_SECONDS", 10.0),
            clients: env_or("BENCH_CLIENTS", 8),
            query_clients: env_or("BENCH_QUERY_CLIENTS", 4),
            backlog: env_or("BENCH_BACKLOG", 1_000_000),
            reuse: std::env::var("BENCH_REUSE").is_ok_and(|v| v == "1"),
            server_bin: std::env::var("BENCH_SERVER_BIN")
                .map(PathBuf::from)
                .unwrap_or_else(|_| PathBuf::from(env!("CARGO_BIN_EXE_commonplace"))),
            out: std::env::var("BENCH_OUT")
                .map(PathBuf::from)
                .unwrap_or_else(|_| manifest.join("benches")),
            merge: std::env::var("BENCH_MERGE").ok().map(PathBuf::from),
            target,
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let config = Config::from_env();
    if let Ok(results) = std::env::var("BENCH_RENDER") {
        render(Path::new(&results), &config.out);
        return;
    }
    std::fs::create_dir_all(config.target.join("bench-load")).unwrap();
    println!(
        "load bench: sizes {:?}, {} s per scenario, {} ingest clients, {} query clients, server {}",
        config.sizes,
        config.seconds,
        config.clients,
        config.query_clients,
        config.server_bin.display()
    );
    let pg_dir = config.target.join("bench-pg");
    let cluster =
        tokio::task::spawn_blocking(move || Cluster::start(&pg_dir).expect("start PostgreSQL"))
            .await
            .unwrap();
    let pg_version: String = connect(&cluster, "postgres")
        .await
        .query_one("SHOW server_version", &[])
        .await
        .unwrap()
        .get(0);
    // An earlier run that stopped half-way may have left its commit settings.
    commit::reset_settings(&cluster).await;
    let bodies = Arc::new(Bodies::generate(BODY_POOL));
    let mut runs = Vec::new();
    for &size in &config.sizes {
        runs.push(run_size(&config, &cluster, size, bodies.clone()).await);
    }
    if let Some(earlier) = &config.merge {
        runs.extend(report::earlier_runs(earlier, &config.sizes));
        runs.sort_by_key(|run| run.store_size);
    }
    let micro = report::read_criterion(&config.target.join("criterion"));
    let report = Report {
        commit: results::commit(&[
            "benches/RESULTS.md",
            "benches/results.json",
            "benches/results-10m.json",
        ]),
        date: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        machine: results::machine(),
        postgres: pg_version,
        seconds_per_scenario: config.seconds,
        clients: config.clients,
        query_clients: config.query_clients,
        environment: std::env::vars()
            .filter(|(k, _)| k.starts_with("BENCH_"))
            .collect(),
        runs,
        micro,
    };
    results::write(
        &config.out,
        ("RESULTS.md", &report.markdown()),
        ("results.json", &report),
    );
    tokio::task::spawn_blocking(move || cluster.stop())
        .await
        .unwrap()
        .unwrap();
}

/// Writes RESULTS.md again from a run's `results.json` (same figures, same commit and
/// date), for a change to how the report is written; measures nothing.
fn render(results: &Path, out: &Path) {
    let text = std::fs::read_to_string(results)
        .unwrap_or_else(|e| panic!("BENCH_RENDER: read {}: {e}", results.display()));
    let report: Report = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "BENCH_RENDER: {} is not a results.json: {e}",
            results.display()
        )
    });
    std::fs::create_dir_all(out).unwrap();
    std::fs::write(out.join("RESULTS.md"), report.markdown()).unwrap();
    println!(
        "wrote {} from {}",
        out.join("RESULTS.md").display(),
        results.display()
    );
}

/// One store size's run: what its scenarios share.
struct Run<'a> {
    config: &'a Config,
    cluster: &'a Cluster,
    database: String,
    size: usize,
    server_pid: u32,
}

impl Run<'_> {
    /// Measures a scenario of `clients` loops of `make(client)` on this store size.
    async fn measure(
        &self,
        name: &str,
        kind: &'static str,
        clients: usize,
        make: impl Fn(usize) -> Op,
    ) -> Option<Scenario> {
        measure::measure(
            name,
            kind,
            self.size,
            clients,
            self.config.seconds,
            self.server_pid,
            make,
        )
        .await
    }

    async fn connect(&self) -> tokio_postgres::Client {
        connect(self.cluster, &self.database).await
    }

    /// Every scenario that writes, and each set of reads, starts from a checkpoint, so
    /// none pays for the dirty pages of the one before (reads that waited on the disk
    /// writing out the ingest before them measured that, not their plans).
    async fn checkpoint(&self) {
        self.connect()
            .await
            .batch_execute("CHECKPOINT")
            .await
            .unwrap();
    }

    /// A checkpoint after VACUUM ANALYZE: reads measured right after the ingest
    /// scenarios otherwise run beside autovacuum of the rows those wrote (session 42's
    /// 0-stored activity read did, at a third of its rate).
    async fn settle(&self) {
        cluster::settle(&self.connect().await).await;
    }
}

async fn run_size(config: &Config, cluster: &Cluster, size: usize, bodies: Arc<Bodies>) -> SizeRun {
    let database = format!("load_{size}");
    println!("\n== store size {size} (database {database})");
    let existing = harness::database_statements(cluster, &database).await;
    let kept = existing.filter(|_| config.reuse).unwrap_or(0) as usize;
    let reuse = kept > 0;
    if !reuse {
        recreate(cluster, &database).await;
    }
    let url = database_url(cluster, &database);
    let log = config.target.join(format!("bench-load/server-{size}.log"));
    let (server, first_ready) = Server::start(config, &url, &log).await;
    println!(
        "  server ready in {:.0} ms ({})",
        first_ready.as_secs_f64() * 1000.0,
        if reuse {
            "existing database"
        } else {
            "new database: migrations"
        }
    );
    let http = Http::new(server.base());
    let mut run = Run {
        config,
        cluster,
        database: database.clone(),
        size,
        server_pid: server.pid(),
    };
    let (mut preload_note, hold) = if kept >= size {
        let note = format!("Reused database {database} holding {kept} statements (BENCH_REUSE=1).");
        (note, None)
    } else if reuse {
        (ingest::top_up(&http, kept, size).await, None)
    } else {
        ingest::preload(&http, cluster, &database, size, config.backlog).await
    };
    println!("  {preload_note}");
    let mut scenarios = Vec::new();
    let fold_note = match hold {
        Some(hold) => {
            let (reads, note) = folding::reads(&run, &http, hold).await;
            scenarios.extend(reads);
            note
        }
        None => "Reads while the learning feed folds: not measured (no preload).".to_string(),
    };
    // Sizes are read once the feed has folded everything in (its tables complete) and
    // VACUUM has left only live rows.
    let drained = drain_learning_feed(cluster, &database).await;
    run.connect()
        .await
        .batch_execute("VACUUM ANALYZE")
        .await
        .unwrap();
    if size > 0 || reuse {
        preload_note.push_str(&format!(" Then {drained} Then VACUUM ANALYZE."));
    }
    let storage = if size > 0 || reuse {
        Some(storage::measure(&run).await)
    } else {
        None
    };

    // Time to ready with an existing database, and to the first dashboard page after
    // it: three restarts.
    server.stop().await;
    let mut skipped = Vec::new();
    let (mut ready_ms, mut first_dashboard_ms) = (Vec::new(), Vec::new());
    let mut server = None;
    for _ in 0..3 {
        if let Some(s) = server.take() {
            Server::stop(s).await;
        }
        let (s, ready) = Server::start(config, &url, &log).await;
        ready_ms.push(ready.as_secs_f64() * 1000.0);
        match reads::first_page(&Http::new(s.base()), reads::FIRST_DASHBOARD).await {
            Ok(ms) => first_dashboard_ms.push(ms),
            Err(e) if skipped.is_empty() => {
                skipped.push(format!("first GET /dashboard after a restart: {e}"))
            }
            Err(_) => {}
        }
        server = Some(s);
    }
    let server = server.unwrap();
    println!("  time to ready with an existing database: {ready_ms:.0?} ms");
    println!("  first GET /dashboard after each restart: {first_dashboard_ms:.0?} ms");
    let http = Http::new(server.base());
    run.server_pid = server.pid();

    // When the sizes were read, the raw table got a fresh copy of the store already.
    scenarios.extend(ingest::raw_limit(&run, &bodies, storage.is_none()).await);
    let (lrs_ingest, ingest_feed) = ingest::lrs(&run, &http, &bodies).await;
    scenarios.extend(lrs_ingest);
    let (commits, commit_note) = commit::scenarios(&run, &http, &bodies, &url, &log).await;
    scenarios.extend(commits);
    println!("  {commit_note}");
    let samples = reads::Samples::take(&run).await;
    scenarios.extend(reads::queries(&run, &http, &samples, &mut skipped).await);
    scenarios.extend(reads::documents(&run, &http).await);
    // Reports read rollups the learning feed keeps outside the write path: let it drain
    // what ingest left first, so report latency is measured on its own.
    let feed_note = format!(
        "{ingest_feed} Before the reports, {}",
        drain_learning_feed(cluster, &database).await
    );
    println!("  {feed_note}");
    scenarios.extend(reads::reports(&run, &http, "", &mut skipped).await);
    let server_vm_hwm_mb = status_kb(run.server_pid, "VmHWM:") as f64 / 1024.0;
    println!("  server VmHWM {server_vm_hwm_mb:.0} MB");
    server.stop().await;
    // The same pages and reports from a server that keeps no answers: what each costs
    // when the figures changed since it was last asked.
    let (computing, _) = Server::start_with(
        config,
        &url,
        &log,
        &["--report-cache-mb".to_string(), "0".to_string()],
    )
    .await;
    run.server_pid = computing.pid();
    let http = Http::new(computing.base());
    scenarios.extend(reads::reports(&run, &http, reads::COMPUTED, &mut skipped).await);
    computing.stop().await;
    // With the server stopped, the same reads straight from a table of the JSON.
    scenarios.extend(reads::raw_counterparts(&run, &samples).await);
    report::link_ratios(&mut scenarios);
    SizeRun {
        store_size: size,
        measured_by: None,
        database,
        preload_note,
        feed_note,
        ready_ms,
        first_dashboard_ms,
        server_vm_hwm_mb,
        scenarios,
        skipped,
        storage,
        fold_note,
        commit_note,
    }
}
