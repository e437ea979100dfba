//! Read replicas on one machine: query and report throughput of the release server on
//! a primary alone against the same server with a streaming replica (`--replica-url`),
//! and how far the replica's replay falls behind under an ingest load. The primary and
//! the replica are real PostgreSQL 15 clusters on loopback (the harness of
//! `tests/replicas/cluster.rs`), and both share this machine's cores with the server
//! and this driver: a replica here adds no CPU, so the ratio shows the cost of routing
//! and of the replica's own replay work, not the gain a replica on its own machine gives.
//!
//! Run: `cargo bench --bench replicas`. Writes `benches/replicas-results.json` and
//! prints a markdown table. Settings (environment):
//! - `BENCH_STATEMENTS`: Workload Statements preloaded (default 200000);
//! - `BENCH_SECONDS`: how long each scenario runs (default 10);
//! - `BENCH_CLIENTS` (default 8): clients of the ingest load; `BENCH_QUERY_CLIENTS`
//!   (default 4): of the query and report scenarios;
//! - `BENCH_OUT`: where the results go (default `benches/`).

#[path = "../tests/replicas/cluster.rs"]
mod cluster;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cluster::{free_port, Replicated, DATABASE};
use commonplace::workload::{Workload, LEARNERS};
use serde_json::{json, Value};

const KEY: &str = "replicas-bench";
const SECRET: &str = "replicas-bench-secret-0123456789";
const PRELOAD_BATCH: usize = 500;
const PRELOAD_CLIENTS: usize = 4;
const INGEST_BATCH: usize = 100;

struct Knobs {
    statements: usize,
    seconds: f64,
    clients: usize,
    query_clients: usize,
    out: PathBuf,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// `commonplace serve` (the bench build) on the primary, with or without the replica.
struct Server {
    child: Child,
    port: u16,
    http: reqwest::Client,
}

impl Server {
    fn start(clusters: &Replicated, with_replica: bool) -> Server {
        let port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_commonplace"));
        command
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--database-url", &clusters.primary.url(DATABASE)])
            .env_remove("COMMONPLACE_DATABASE_URL")
            .env_remove("COMMONPLACE_REPLICA_URLS")
            .env("RUST_LOG", "warn")
            .env("COMMONPLACE_BOOTSTRAP_KEY", KEY)
            .env("COMMONPLACE_BOOTSTRAP_SECRET", SECRET)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if with_replica {
            command.args(["--replica-url", &clusters.standby.url(DATABASE)]);
        }
        let mut child = command.spawn().expect("start the server");
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = Arc::new(AtomicBool::new(false));
        let seen = ready.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if line.starts_with("Commonplace LRS listening: xAPI endpoint") {
                    seen.store(true, Ordering::Relaxed);
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(120);
        while !ready.load(Ordering::Relaxed) {
            assert!(child.try_wait().unwrap().is_none(), "the server exited");
            assert!(Instant::now() < deadline, "the server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .unwrap();
        Server { child, port, http }
    }

    /// Reads served by the replica and by the primary so far (`/metrics`).
    async fn reads(&self) -> (f64, f64) {
        let text = self
            .http
            .get(format!("http://127.0.0.1:{}/metrics", self.port))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let count = |target: &str| -> f64 {
            text.lines()
                .filter(|l| l.starts_with("commonplace_database_reads_total{"))
                .filter(|l| l.contains(&format!("target=\"{target}\"")))
                .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
                .sum()
        };
        (count("replica"), count("primary"))
    }
}

/// A GET with the bench's credential (one keep-alive client shared by all requests).
fn get(http: &reqwest::Client, port: u16, path: &str) -> reqwest::RequestBuilder {
    http.get(format!("http://127.0.0.1:{port}{path}"))
        .basic_auth(KEY, Some(SECRET))
        .header("X-Experience-API-Version", "2.0.0")
}

/// A POST of Statements with the bench's credential.
fn post(http: &reqwest::Client, port: u16, body: Vec<u8>) -> reqwest::RequestBuilder {
    http.post(format!("http://127.0.0.1:{port}/xapi/statements"))
        .basic_auth(KEY, Some(SECRET))
        .header("X-Experience-API-Version", "2.0.0")
        .header("Content-Type", "application/json")
        .body(body)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn agent(index: usize) -> String {
    encode(&Workload::learner(index).to_string())
}

/// A read measured: its kind (query or report), its name, and its path per request number.
type Scenario = (&'static str, &'static str, fn(usize) -> String);

/// The reads measured.
fn scenarios() -> Vec<Scenario> {
    vec![
        ("query", "GET agent + verb, limit=100", |n| {
            format!(
                "/xapi/statements?agent={}&verb={}&limit=100",
                agent(n % LEARNERS),
                encode("http://adlnet.gov/expapi/verbs/experienced")
            )
        }),
        (
            "query",
            "GET activity + related_activities, limit=100",
            |n| {
                format!(
                    "/xapi/statements?activity={}&related_activities=true&limit=100",
                    encode(&format!("https://lms.example.org/courses/{}", n % 50))
                )
            },
        ),
        ("query", "GET agent, limit=10", |n| {
            format!("/xapi/statements?agent={}&limit=10", agent(n % LEARNERS))
        }),
        ("report", "GET /reports/modes (week, per team)", |_| {
            "/reports/modes?bucket=week&group=team".to_string()
        }),
        ("report", "GET /reports/sources", |_| {
            "/reports/sources".to_string()
        }),
        ("report", "GET /reports/learners/{agent}", |n| {
            format!("/reports/learners/{}", agent(n % LEARNERS))
        }),
    ]
}

#[derive(Debug)]
struct Measured {
    setup: &'static str,
    kind: &'static str,
    name: &'static str,
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: usize,
    replica_share: f64,
}

async fn measure(
    server: &Server,
    knobs: &Knobs,
    setup: &'static str,
    (kind, name, path): Scenario,
) -> Measured {
    let (replica_before, primary_before) = server.reads().await;
    let deadline = Instant::now() + Duration::from_secs_f64(knobs.seconds);
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let errors = Arc::new(Mutex::new(0usize));
    let started = Instant::now();
    let clients: Vec<_> = (0..knobs.query_clients)
        .map(|c| {
            let (http, port) = (server.http.clone(), server.port);
            let (latencies, errors) = (latencies.clone(), errors.clone());
            tokio::spawn(async move {
                let mut n = c * 7919;
                while Instant::now() < deadline {
                    let request = get(&http, port, &path(n));
                    n += 1;
                    let sent = Instant::now();
                    let ok = match request.send().await {
                        Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                        Err(_) => false,
                    };
                    if ok {
                        latencies.lock().unwrap().push(sent.elapsed().as_secs_f64());
                    } else {
                        *errors.lock().unwrap() += 1;
                    }
                }
            })
        })
        .collect();
    for client in clients {
        client.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (replica_after, primary_after) = server.reads().await;
    let mut latencies = latencies.lock().unwrap().clone();
    latencies.sort_by(f64::total_cmp);
    let percentile = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |s| s * 1000.0)
    };
    let replica_reads = replica_after - replica_before;
    let all_reads = replica_reads + primary_after - primary_before;
    let errors = *errors.lock().unwrap();
    Measured {
        setup,
        kind,
        name,
        requests_per_second: latencies.len() as f64 / elapsed,
        p50_ms: percentile(0.5),
        p99_ms: percentile(0.99),
        errors,
        replica_share: if all_reads > 0.0 {
            replica_reads / all_reads
        } else {
            0.0
        },
    }
}

/// Posts `count` Workload Statements in batches of `batch` from `clients` clients.
async fn ingest(server: &Server, count: usize, batch: usize, clients: usize, seed: u64) {
    let per_client = count.div_ceil(clients);
    let loaders: Vec<_> = (0..clients)
        .map(|c| {
            let (http, port) = (server.http.clone(), server.port);
            tokio::spawn(async move {
                let mut workload = Workload::new(seed + c as u64);
                let mut sent = 0;
                while sent < per_client {
                    let n = batch.min(per_client - sent);
                    let body = serde_json::to_vec(&workload.batch(n)).unwrap();
                    let response = post(&http, port, body).send().await.unwrap();
                    assert_eq!(response.status(), 200, "an ingest batch");
                    sent += n;
                }
            })
        })
        .collect();
    for loader in loaders {
        loader.await.unwrap();
    }
}

async fn drain_learning_feed(clusters: &Replicated) {
    let db = clusters.primary.connect(DATABASE).await;
    loop {
        let row = db
            .query_one(
                "SELECT last_seq >= commonplace_settled_seq() FROM learning_feed",
                &[],
            )
            .await
            .unwrap();
        if row.get::<_, bool>(0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Replay lag under an ingest load: how many bytes of WAL the replica has not
/// replayed, and for how long the primary had already been past what it has
/// (sampling the primary's WAL position with its time every 100 ms).
async fn lag_under_ingest(clusters: &Replicated, server: &Server, knobs: &Knobs) -> Value {
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let stop = stop.clone();
        let clients = knobs.clients;
        let (http, port) = (server.http.clone(), server.port);
        tokio::spawn(async move {
            let loaders: Vec<_> = (0..clients)
                .map(|c| {
                    let (stop, http) = (stop.clone(), http.clone());
                    tokio::spawn(async move {
                        let mut workload = Workload::new(9_000 + c as u64);
                        let mut sent = 0usize;
                        while !stop.load(Ordering::Relaxed) {
                            let body = serde_json::to_vec(&workload.batch(INGEST_BATCH)).unwrap();
                            let ok = post(&http, port, body)
                                .send()
                                .await
                                .is_ok_and(|r| r.status() == 200);
                            sent += if ok { INGEST_BATCH } else { 0 };
                        }
                        sent
                    })
                })
                .collect();
            let mut sent = 0;
            for loader in loaders {
                sent += loader.await.unwrap();
            }
            sent
        })
    };
    let primary = clusters.primary.connect("postgres").await;
    let standby = clusters.standby.connect("postgres").await;
    let started = Instant::now();
    let mut positions: Vec<(Instant, f64)> = Vec::new();
    let (mut bytes, mut seconds) = (Vec::new(), Vec::new());
    let lsn = |text: &str| -> f64 {
        let (high, low) = text.split_once('/').unwrap();
        (u64::from_str_radix(high, 16).unwrap() * (1u64 << 32)
            + u64::from_str_radix(low, 16).unwrap()) as f64
    };
    while started.elapsed().as_secs_f64() < knobs.seconds {
        let now: String = primary
            .query_one("SELECT pg_current_wal_lsn()::text", &[])
            .await
            .unwrap()
            .get(0);
        positions.push((Instant::now(), lsn(&now)));
        let replayed: String = standby
            .query_one("SELECT pg_last_wal_replay_lsn()::text", &[])
            .await
            .unwrap()
            .get(0);
        let replayed = lsn(&replayed);
        bytes.push((positions.last().unwrap().1 - replayed).max(0.0));
        // The primary was last at or before `replayed` at the latest such sample; the
        // replica has been behind since the first sample past it.
        let behind_since = positions
            .iter()
            .find(|(_, p)| *p > replayed)
            .map(|(t, _)| *t);
        seconds.push(behind_since.map_or(0.0, |t| t.elapsed().as_secs_f64()));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let sent = load.await.unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    let stat = |values: &mut Vec<f64>| {
        values.sort_by(f64::total_cmp);
        let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
        let p99 = values
            .get((values.len() as f64 * 0.99) as usize)
            .or(values.last())
            .copied()
            .unwrap_or(0.0);
        (mean, p99, values.last().copied().unwrap_or(0.0))
    };
    let (bytes_mean, bytes_p99, bytes_max) = stat(&mut bytes);
    let (lag_mean, lag_p99, lag_max) = stat(&mut seconds);
    json!({
        "clients": knobs.clients,
        "batch": INGEST_BATCH,
        "statements_per_second": sent as f64 / elapsed,
        "lag_bytes": {"mean": bytes_mean, "p99": bytes_p99, "max": bytes_max},
        "lag_seconds": {"mean": lag_mean, "p99": lag_p99, "max": lag_max},
    })
}

async fn run(knobs: Knobs) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("starting a primary and a streaming replica on loopback ({cores} cores shared)");
    let clusters = Replicated::start().await;
    let preload = Instant::now();
    {
        let server = Server::start(&clusters, false);
        ingest(
            &server,
            knobs.statements,
            PRELOAD_BATCH,
            PRELOAD_CLIENTS,
            1_000,
        )
        .await;
        drain_learning_feed(&clusters).await;
    }
    let preload_seconds = preload.elapsed().as_secs_f64();
    clusters
        .primary
        .connect(DATABASE)
        .await
        .batch_execute("VACUUM ANALYZE")
        .await
        .unwrap();
    clusters.wait_replayed().await;
    let database_bytes: i64 = clusters
        .primary
        .connect(DATABASE)
        .await
        .query_one("SELECT pg_database_size(current_database())", &[])
        .await
        .unwrap()
        .get(0);
    println!(
        "preloaded {} Statements in {preload_seconds:.0} s (learning feed drained); database {:.0} MB",
        knobs.statements,
        database_bytes as f64 / 1e6
    );

    let mut measured = Vec::new();
    for (setup, with_replica) in [("primary", false), ("primary + replica", true)] {
        let server = Server::start(&clusters, with_replica);
        // The replica checker samples lag every second before it puts a replica in rotation.
        tokio::time::sleep(Duration::from_secs(3)).await;
        for scenario in scenarios() {
            let m = measure(&server, &knobs, setup, scenario).await;
            println!("  {setup}: {} {:.0}/s", m.name, m.requests_per_second);
            measured.push(m);
        }
    }
    let lag = {
        let server = Server::start(&clusters, true);
        lag_under_ingest(&clusters, &server, &knobs).await
    };
    report(
        &knobs,
        cores,
        database_bytes,
        preload_seconds,
        &measured,
        &lag,
    );
}

fn report(
    knobs: &Knobs,
    cores: usize,
    database_bytes: i64,
    preload_seconds: f64,
    measured: &[Measured],
    lag: &Value,
) {
    let shared = format!(
        "primary, replica, server and driver all share this machine's {cores} cores: \
         the replica adds no CPU here, so a ratio near or below 1× is what one machine \
         can show; on its own machine a replica adds its cores to the reads"
    );
    let mut table = String::new();
    table.push_str(&format!(
        "Store: {} Workload Statements ({:.0} bytes per Statement on disk, database {:.0} MB); \
         {} s per scenario, {} query clients. Note: {shared}.\n\n",
        knobs.statements,
        database_bytes as f64 / knobs.statements.max(1) as f64,
        database_bytes as f64 / 1e6,
        knobs.seconds,
        knobs.query_clients
    ));
    table.push_str("| scenario | primary req/s | p99 ms | primary + replica req/s | p99 ms | served by replica | ratio | errors |\n");
    table.push_str("|---|---|---|---|---|---|---|---|\n");
    let mut rows = Vec::new();
    for alone in measured.iter().filter(|m| m.setup == "primary") {
        let Some(both) = measured
            .iter()
            .find(|m| m.setup != "primary" && m.name == alone.name)
        else {
            continue;
        };
        let ratio = both.requests_per_second / alone.requests_per_second.max(f64::MIN_POSITIVE);
        table.push_str(&format!(
            "| {} | {:.0} | {:.1} | {:.0} | {:.1} | {:.0} % | {ratio:.2}× | {} |\n",
            alone.name,
            alone.requests_per_second,
            alone.p99_ms,
            both.requests_per_second,
            both.p99_ms,
            both.replica_share * 100.0,
            alone.errors + both.errors
        ));
        rows.push(json!({
            "kind": alone.kind,
            "scenario": alone.name,
            "primary": {"requests_per_second": alone.requests_per_second, "p50_ms": alone.p50_ms,
                        "p99_ms": alone.p99_ms, "errors": alone.errors},
            "primary_and_replica": {"requests_per_second": both.requests_per_second,
                        "p50_ms": both.p50_ms, "p99_ms": both.p99_ms, "errors": both.errors,
                        "replica_share": both.replica_share},
            "ratio": ratio,
        }));
    }
    table.push_str(&format!(
        "\nReplica lag under ingest ({} clients, POST batches of {}, {:.0} Statements/s): \
         mean {:.0} ms, p99 {:.0} ms, max {:.0} ms behind (sampled every 100 ms); mean {:.0} KB, \
         max {:.0} KB of WAL.\n",
        lag["clients"],
        lag["batch"],
        lag["statements_per_second"].as_f64().unwrap_or(0.0),
        lag["lag_seconds"]["mean"].as_f64().unwrap_or(0.0) * 1000.0,
        lag["lag_seconds"]["p99"].as_f64().unwrap_or(0.0) * 1000.0,
        lag["lag_seconds"]["max"].as_f64().unwrap_or(0.0) * 1000.0,
        lag["lag_bytes"]["mean"].as_f64().unwrap_or(0.0) / 1024.0,
        lag["lag_bytes"]["max"].as_f64().unwrap_or(0.0) / 1024.0,
    ));
    println!("\n{table}");
    let results = json!({
        "date": chrono::Utc::now().to_rfc3339(),
        "cores": cores,
        "note": shared,
        "statements": knobs.statements,
        "database_bytes": database_bytes,
        "bytes_per_statement": database_bytes as f64 / knobs.statements.max(1) as f64,
        "preload_seconds": preload_seconds,
        "seconds_per_scenario": knobs.seconds,
        "query_clients": knobs.query_clients,
        "scenarios": rows,
        "replica_lag_under_ingest": lag,
    });
    std::fs::create_dir_all(&knobs.out).unwrap();
    let path = knobs.out.join("replicas-results.json");
    std::fs::write(&path, serde_json::to_string_pretty(&results).unwrap()).unwrap();
    println!("wrote {}", path.display());
}

fn main() {
    // `cargo bench` passes `--bench`; this driver takes its settings from the environment.
    let knobs = Knobs {
        statements: env_or("BENCH_STATEMENTS", 200_000),
        seconds: env_or("BENCH_SECONDS", 10.0),
        clients: env_or("BENCH_CLIENTS", 8),
        query_clients: env_or("BENCH_QUERY_CLIENTS", 4),
        out: std::env::var_os("BENCH_OUT")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches")),
    };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run(knobs));
}
