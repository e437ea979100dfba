//! The HTTP load driver: the release server as a separate process, on an embedded
//! PostgreSQL cluster this bench starts (`target/bench-pg`), a fresh database per store
//! size; every LRS ingest figure beside PostgreSQL's own limit measured in the same run
//! (the same Statements' JSON inserted straight into `raw_statements(id uuid primary
//! key, statement jsonb)`). Writes `benches/RESULTS.md` and `benches/results.json`.
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
//! - `BENCH_REUSE=1`: keep a database `load_<size>` that already holds the size
//!   (skips the preload; the ingest scenarios of earlier runs stay in it).
//! - `BENCH_OUT`: where RESULTS.md / results.json go (default `benches/`).
//! - `BENCH_ONLY`: run only the scenarios whose names contain one of these
//!   comma-separated parts (for a quick look at one figure; the results files then
//!   hold only those).
//! - `BENCH_MERGE`: the `results.json` of an earlier run; its store sizes that this
//!   run does not measure are carried into this run's results, each named with the
//!   commit and date of the run that measured it (the 10 M size takes hours, so it can
//!   be measured once and kept beside later runs of the smaller sizes).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::BytesMut;
use commonplace::store::embedded::Cluster;
use commonplace::workload::{Workload, LEARNERS};
use futures_util::future::BoxFuture;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use tokio_postgres::NoTls;
use uuid::Uuid;

const KEY: &str = "bench";
const SECRET: &str = "bench-secret-not-for-production";
const PRELOAD_BATCH: usize = 500;
const PRELOAD_CLIENTS: usize = 4;
const BODY_POOL: usize = 20_000;
const COPY_ROWS: usize = 1_000;
const PAGE_WALK: usize = 10_000;
const COURSES: usize = 50;
const COURSE_VERBS: [&str; 5] = ["completed", "passed", "attempted", "progressed", "launched"];

struct Config {
    sizes: Vec<usize>,
    seconds: f64,
    clients: usize,
    query_clients: usize,
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

// ---------------------------------------------------------------- measurements

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Scenario {
    store_size: usize,
    name: String,
    /// `lrs` (over HTTP) or `raw` (straight into PostgreSQL).
    kind: String,
    clients: usize,
    seconds: f64,
    requests: u64,
    /// Statements (ingest, pages) or documents/reports moved.
    items: u64,
    errors: u64,
    first_error: Option<String>,
    items_per_second: f64,
    requests_per_second: f64,
    p50_ms: f64,
    p95_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    /// CPU used by this driver process, in % of one core.
    driver_cpu_percent: f64,
    /// CPU used by the server process, in % of one core.
    server_cpu_percent: f64,
    /// The whole machine's busy share (all cores = 100 %).
    machine_busy_percent: f64,
    server_rss_max_mb: f64,
    /// Ratio of `items_per_second` to the matching raw PostgreSQL figure.
    raw_ratio: Option<f64>,
    raw_match: Option<String>,
    copy_ratio: Option<f64>,
    note: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SizeRun {
    store_size: usize,
    /// For a size carried over from an earlier run (`BENCH_MERGE`): that run's commit
    /// and date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    measured_by: Option<String>,
    database: String,
    preload_note: String,
    /// How long the learning feed took to fold in what the scenarios before the
    /// reports had stored.
    feed_note: String,
    ready_ms: Vec<f64>,
    server_vm_hwm_mb: f64,
    scenarios: Vec<Scenario>,
    skipped: Vec<String>,
}

fn cpu_ticks(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // Fields after the command name (which may hold spaces), 1-based 14 and 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

/// (busy, total) jiffies of the whole machine.
fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let line = stat.lines().next().unwrap_or("");
    let values: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = values.iter().take(8).sum();
    let idle = values.get(3).copied().unwrap_or(0) + values.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

fn status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

const TICKS_PER_SECOND: f64 = 100.0; // Linux USER_HZ

/// Builds the path of the next request.
type PathFn = Arc<dyn Fn(&mut StdRng) -> String + Send + Sync>;

type Op = Box<dyn FnMut() -> BoxFuture<'static, Result<u64, String>> + Send>;

/// Builds the op of client `c` of a scenario.
type MakeOp<'a> = Box<dyn Fn(usize) -> Op + 'a>;

/// Runs `clients` loops of the op `make(client)` builds for `seconds`, and measures.
async fn measure(
    name: &str,
    kind: &'static str,
    store_size: usize,
    clients: usize,
    seconds: f64,
    server_pid: u32,
    make: impl Fn(usize) -> Op,
) -> Option<Scenario> {
    if !selected(name) {
        println!("  {name:<38} not selected (BENCH_ONLY)");
        return None;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let rss_max = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (stop, rss_max) = (stop.clone(), rss_max.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                rss_max.fetch_max(status_kb(server_pid, "VmRSS:"), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let driver_before = cpu_ticks(std::process::id());
    let server_before = cpu_ticks(server_pid);
    let machine_before = machine_ticks();
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let first_error = Arc::new(Mutex::new(None::<String>));
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let mut op = make(client);
            let first_error = first_error.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let (mut items, mut errors) = (0u64, 0u64);
                while Instant::now() < deadline && errors < 50 {
                    let began = Instant::now();
                    match op().await {
                        Ok(n) => {
                            latencies.push(began.elapsed().as_micros() as u32);
                            items += n;
                        }
                        Err(e) => {
                            errors += 1;
                            first_error.lock().unwrap().get_or_insert(e);
                        }
                    }
                }
                (latencies, items, errors)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let (mut items, mut errors) = (0, 0);
    for task in tasks {
        let (l, i, e) = task.await.expect("client task");
        latencies.extend(l);
        items += i;
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.await;
    let driver = (cpu_ticks(std::process::id()) - driver_before) as f64 / TICKS_PER_SECOND;
    let server = cpu_ticks(server_pid).saturating_sub(server_before) as f64 / TICKS_PER_SECOND;
    let machine_after = machine_ticks();
    let busy = (machine_after.0 - machine_before.0) as f64
        / (machine_after.1 - machine_before.1).max(1) as f64;
    latencies.sort_unstable();
    let at = |q: f64| {
        if latencies.is_empty() {
            return 0.0;
        }
        let i = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i] as f64 / 1000.0
    };
    let requests = latencies.len() as u64;
    let scenario = Scenario {
        store_size,
        name: name.into(),
        kind: kind.into(),
        clients,
        seconds: elapsed,
        requests,
        items,
        errors,
        first_error: first_error.lock().unwrap().clone(),
        items_per_second: items as f64 / elapsed,
        requests_per_second: requests as f64 / elapsed,
        p50_ms: at(0.50),
        p95_ms: at(0.95),
        p99_ms: at(0.99),
        max_ms: at(1.0),
        driver_cpu_percent: 100.0 * driver / elapsed,
        server_cpu_percent: if kind == "lrs" {
            100.0 * server / elapsed
        } else {
            0.0
        },
        machine_busy_percent: 100.0 * busy,
        server_rss_max_mb: rss_max.load(Ordering::Relaxed) as f64 / 1024.0,
        raw_ratio: None,
        raw_match: None,
        copy_ratio: None,
        note: None,
    };
    println!(
        "  {name:<38} {:>9.0} items/s {:>8.0} req/s  p50 {:>7.2} p95 {:>7.2} p99 {:>7.2} ms  \
         driver {:>4.0}%  server {:>4.0}%  machine {:>3.0}%  errors {}{}",
        scenario.items_per_second,
        scenario.requests_per_second,
        scenario.p50_ms,
        scenario.p95_ms,
        scenario.p99_ms,
        scenario.driver_cpu_percent,
        scenario.server_cpu_percent,
        scenario.machine_busy_percent,
        errors,
        scenario
            .first_error
            .as_deref()
            .map(|e| format!(" (first: {})", truncate(e, 200)))
            .unwrap_or_default()
    );
    Some(scenario)
}

/// Whether `BENCH_ONLY` (comma-separated parts of scenario names) selects a scenario;
/// unset, every scenario runs.
fn selected(name: &str) -> bool {
    match std::env::var("BENCH_ONLY") {
        Ok(only) if !only.trim().is_empty() => {
            only.split(',').any(|part| name.contains(part.trim()))
        }
        _ => true,
    }
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

// ---------------------------------------------------------------- statements

/// Workload Statements serialised without their id, ready to take a fresh one.
struct Bodies {
    without_id: Vec<String>,
}

impl Bodies {
    fn generate(count: usize) -> Bodies {
        let mut workload = Workload::new(4242);
        let without_id = (0..count)
            .map(|_| {
                let mut statement = workload.statement();
                statement.as_object_mut().unwrap().remove("id");
                serde_json::to_string(&statement).unwrap()
            })
            .collect();
        Bodies { without_id }
    }

    /// Statement `index` (mod the pool) with a fresh id.
    fn with_id(&self, index: usize, id: Uuid) -> String {
        let body = &self.without_id[index % self.without_id.len()];
        format!("{{\"id\":\"{id}\",{}", &body[1..])
    }
}

fn db_error(e: tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

fn fresh_id(rng: &mut StdRng) -> Uuid {
    uuid::Builder::from_random_bytes(rng.gen()).into_uuid()
}

/// Text already holding JSON, sent as a `jsonb` parameter (binary format: version 1,
/// then the text) without parsing it in the driver.
#[derive(Debug)]
struct JsonbText<'a>(&'a str);

impl ToSql for JsonbText<'_> {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(&[1]);
        out.extend_from_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSONB
    }

    to_sql_checked!();
}

// ---------------------------------------------------------------- the server

struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Server {
    /// Starts the server and waits until `/health` answers 200; returns it and the time
    /// that took.
    async fn start(config: &Config, database_url: &str, log: &Path) -> (Server, Duration) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("server log");
        let started = Instant::now();
        let child = Command::new(&config.server_bin)
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--database-url",
                database_url,
                "--log-format",
                "json",
            ])
            .env("COMMONPLACE_BOOTSTRAP_KEY", KEY)
            .env("COMMONPLACE_BOOTSTRAP_SECRET", SECRET)
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", config.server_bin.display()));
        let mut server = Server {
            child,
            port,
            log: log.to_path_buf(),
        };
        let http = reqwest::Client::new();
        let health = format!("http://127.0.0.1:{port}/health");
        loop {
            if let Ok(response) = http.get(&health).send().await {
                if response.status() == 200 {
                    break;
                }
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("the server exited ({status}); see {}", server.log.display());
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "the server was not ready within 120 s; see {}",
                server.log.display()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let ready = started.elapsed();
        (server, ready)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn stop(mut self) {
        // SIGTERM lets it drain and close its pool; Drop kills it if it takes too long.
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        for _ in 0..300 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A panicking run must not leave its server behind.
impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ---------------------------------------------------------------- database helpers

async fn connect(cluster: &Cluster, database: &str) -> tokio_postgres::Client {
    let (client, connection) = cluster
        .config(database)
        .connect(NoTls)
        .await
        .expect("connect to the bench cluster");
    tokio::spawn(connection);
    client
}

/// Waits until the learning feed has folded in every stored Statement; says how many
/// it had left and how long that took.
async fn drain_learning_feed(cluster: &Cluster, database: &str) -> String {
    let client = connect(cluster, database).await;
    let started = Instant::now();
    let (seqs, redo) = feed_backlog(&client).await;
    let mut now = (seqs, redo);
    while now != (0, 0) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        now = feed_backlog(&client).await;
    }
    let took = started.elapsed().as_secs_f64();
    format!(
        "the learning feed had {seqs} statements (and {redo} redos) left to fold in, and \
         drained them in {took:.1} s ({:.0} statements/s) with no other load.",
        seqs as f64 / took.max(1e-3)
    )
}

/// Seqs the learning feed has yet to fold in, and changed Statements it has to redo.
async fn feed_backlog(client: &tokio_postgres::Client) -> (i64, i64) {
    let row = client
        .query_one(
            "SELECT commonplace_settled_seq() - last_seq,
                    (SELECT count(*) FROM learning_feed_redo)
               FROM learning_feed",
            &[],
        )
        .await
        .unwrap();
    (row.get::<_, i64>(0).max(0), row.get::<_, i64>(1))
}

/// How far the learning feed had got, and when: what it folds in while ingest
/// scenarios run shows whether it keeps up with them.
struct FeedProgress {
    at: Instant,
    last_seq: i64,
}

impl FeedProgress {
    async fn read(cluster: &Cluster, database: &str) -> FeedProgress {
        let client = connect(cluster, database).await;
        let last_seq = client
            .query_one("SELECT last_seq FROM learning_feed", &[])
            .await
            .unwrap()
            .get(0);
        FeedProgress {
            at: Instant::now(),
            last_seq,
        }
    }

    /// What the feed folded in since `self` (seqs of this workload are dense), while
    /// `scenario` ran, and how long the rest took it once the scenario had ended; nothing
    /// for a scenario `BENCH_ONLY` left out.
    async fn after(
        &self,
        scenario: Option<&Scenario>,
        cluster: &Cluster,
        database: &str,
    ) -> Option<String> {
        let scenario = &scenario?.name;
        let now = FeedProgress::read(cluster, database).await;
        let took = now.at.duration_since(self.at).as_secs_f64();
        let folded = now.last_seq - self.last_seq;
        let note = format!(
            "While {scenario} ran ({took:.0} s), the learning feed folded in {folded} \
             statements ({:.0} statements/s); after it, {}",
            folded as f64 / took.max(1e-3),
            drain_learning_feed(cluster, database).await
        );
        println!("  {note}");
        Some(note)
    }
}

async fn database_statements(cluster: &Cluster, database: &str) -> Option<i64> {
    let admin = connect(cluster, "postgres").await;
    let exists = admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&database])
        .await
        .unwrap()
        .is_some();
    if !exists {
        return None;
    }
    let client = connect(cluster, database).await;
    let count = client
        .query_one("SELECT count(*) FROM statements", &[])
        .await
        .ok()?
        .get(0);
    Some(count)
}

// ---------------------------------------------------------------- HTTP helpers

#[derive(Clone)]
struct Http {
    client: reqwest::Client,
    base: String,
    auth: String,
}

impl Http {
    fn new(base: String) -> Http {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let auth = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{KEY}:{SECRET}"))
        );
        Http { client, base, auth }
    }

    fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        version: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .header("Authorization", &self.auth)
            .header("X-Experience-API-Version", version)
    }
}

/// Sends and checks the status; returns the body.
async fn send(request: reqwest::RequestBuilder, expect: u16) -> Result<bytes::Bytes, String> {
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    if status != expect {
        return Err(format!(
            "status {status}: {}",
            truncate(&String::from_utf8_lossy(&body), 300)
        ));
    }
    Ok(body)
}

fn encode(v: &str) -> String {
    percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn state_path(rng: &mut StdRng) -> String {
    format!(
        "/xapi/activities/state?activityId={}&agent={}&stateId=bookmark",
        encode(&format!(
            "https://lms.example.org/courses/{}",
            rng.gen_range(0..COURSES)
        )),
        encode(&agent_json(rng.gen_range(0..LEARNERS)))
    )
}

fn agent_json(learner: usize) -> String {
    format!(r#"{{"mbox":"mailto:learner{learner}@example.org"}}"#)
}

// ---------------------------------------------------------------- the run

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let config = Config::from_env();
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
    let bodies = Arc::new(Bodies::generate(BODY_POOL));
    let mut runs = Vec::new();
    for &size in &config.sizes {
        runs.push(run_size(&config, &cluster, size, bodies.clone()).await);
    }
    if let Some(earlier) = &config.merge {
        runs.extend(earlier_runs(earlier, &config.sizes));
        runs.sort_by_key(|run| run.store_size);
    }
    let micro = read_criterion(&config.target.join("criterion"));
    let report = Report {
        commit: commit(),
        date: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        machine: machine(),
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
    let markdown = report.markdown();
    std::fs::create_dir_all(&config.out).unwrap();
    std::fs::write(config.out.join("RESULTS.md"), &markdown).unwrap();
    std::fs::write(
        config.out.join("results.json"),
        serde_json::to_string_pretty(&report).unwrap() + "\n",
    )
    .unwrap();
    println!("\n{markdown}");
    tokio::task::spawn_blocking(move || cluster.stop())
        .await
        .unwrap()
        .unwrap();
}

async fn run_size(config: &Config, cluster: &Cluster, size: usize, bodies: Arc<Bodies>) -> SizeRun {
    let database = format!("load_{size}");
    println!("\n== store size {size} (database {database})");
    let existing = database_statements(cluster, &database).await;
    let reuse = config.reuse && existing.is_some_and(|n| n as usize >= size);
    if !reuse {
        let admin = connect(cluster, "postgres").await;
        for sql in [
            format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"),
            format!("CREATE DATABASE {database}"),
        ] {
            admin.batch_execute(&sql).await.unwrap();
        }
    }
    let url = format!(
        "host={} user=commonplace dbname={database}",
        cluster.socket_dir().display()
    );
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

    // Preload through the LRS with distinct Workload Statements.
    let preload_note = if reuse {
        format!(
            "Reused database {database} holding {} statements (BENCH_REUSE=1).",
            existing.unwrap_or(0)
        )
    } else if size == 0 {
        "Empty store.".to_string()
    } else {
        let started = Instant::now();
        let per_client = size / PRELOAD_CLIENTS;
        let loaders: Vec<_> = (0..PRELOAD_CLIENTS)
            .map(|client| {
                let http = http.clone();
                let count = if client == 0 {
                    per_client + size % PRELOAD_CLIENTS
                } else {
                    per_client
                };
                tokio::spawn(async move {
                    let mut workload = Workload::new(1000 + client as u64);
                    let mut sent = 0;
                    while sent < count {
                        let n = PRELOAD_BATCH.min(count - sent);
                        let body = serde_json::to_vec(&workload.batch(n)).unwrap();
                        send(
                            http.request(reqwest::Method::POST, "/xapi/statements", "2.0.0")
                                .header("Content-Type", "application/json")
                                .body(body),
                            200,
                        )
                        .await
                        .expect("preload batch");
                        sent += n;
                        if client == 0 && (sent / n) % 100 == 0 {
                            println!("  preloaded ~{} statements", sent * PRELOAD_CLIENTS);
                        }
                    }
                })
            })
            .collect();
        for loader in loaders {
            loader.await.unwrap();
        }
        let took = started.elapsed().as_secs_f64();
        // The learning feed folds the preload in behind it; every later figure is
        // measured once it has caught up, so none pays for the preload's backlog.
        let feed = drain_learning_feed(cluster, &database).await;
        let client = connect(cluster, &database).await;
        client.batch_execute("VACUUM ANALYZE").await.unwrap();
        format!(
            "Preloaded {size} distinct Workload statements through the LRS (POST batches of \
             {PRELOAD_BATCH}, {PRELOAD_CLIENTS} clients) in {took:.0} s ({:.0} statements/s). \
             After the preload, {feed} Then VACUUM ANALYZE.",
            size as f64 / took
        )
    };
    println!("  {preload_note}");

    // Time to ready with an existing database: three restarts.
    server.stop().await;
    let mut ready_ms = Vec::new();
    let mut server = None;
    for _ in 0..3 {
        if let Some(s) = server.take() {
            Server::stop(s).await;
        }
        let (s, ready) = Server::start(config, &url, &log).await;
        ready_ms.push(ready.as_secs_f64() * 1000.0);
        server = Some(s);
    }
    let server = server.unwrap();
    println!("  time to ready with an existing database: {ready_ms:.0?} ms");
    let http = Http::new(server.base());
    let pid = server.pid();
    let secs = config.seconds;
    let clients = config.clients;
    let mut scenarios = Vec::new();
    let mut skipped = Vec::new();

    // ---- the raw limit: the same JSON straight into PostgreSQL.
    let raw = connect(cluster, &database).await;
    raw.batch_execute("DROP TABLE IF EXISTS raw_statements")
        .await
        .unwrap();
    if size > 0 {
        raw.batch_execute(
            "CREATE TABLE raw_statements AS SELECT id, body AS statement FROM statements; \
             ALTER TABLE raw_statements ADD PRIMARY KEY (id)",
        )
        .await
        .unwrap();
        raw.batch_execute("VACUUM ANALYZE raw_statements")
            .await
            .unwrap();
    } else {
        raw.batch_execute(
            "CREATE TABLE raw_statements (id uuid PRIMARY KEY, statement jsonb NOT NULL)",
        )
        .await
        .unwrap();
    }
    let mut raw_clients = Vec::new();
    for _ in 0..clients {
        raw_clients.push(Arc::new(connect(cluster, &database).await));
    }
    let multi_sql = format!(
        "INSERT INTO raw_statements (id, statement) VALUES {}",
        (0..100)
            .map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let types: Vec<Type> = (0..100).flat_map(|_| [Type::UUID, Type::JSONB]).collect();
    let mut multi = Vec::new();
    let mut single = Vec::new();
    for client in &raw_clients {
        multi.push(client.prepare_typed(&multi_sql, &types).await.unwrap());
        single.push(
            client
                .prepare_typed(
                    "INSERT INTO raw_statements (id, statement) VALUES ($1, $2)",
                    &[Type::UUID, Type::JSONB],
                )
                .await
                .unwrap(),
        );
    }
    let raw_op = |client: usize, rows: usize, how: &'static str| -> Op {
        let db = raw_clients[client].clone();
        let statement = if rows == 1 {
            single[client].clone()
        } else {
            multi[client].clone()
        };
        let bodies = bodies.clone();
        let mut rng = StdRng::from_entropy();
        let mut next = client * 997;
        Box::new(move || {
            let (db, statement, bodies) = (db.clone(), statement.clone(), bodies.clone());
            let batch: Vec<(Uuid, String)> = (0..rows)
                .map(|i| {
                    let id = fresh_id(&mut rng);
                    (id, bodies.with_id(next + i, id))
                })
                .collect();
            next += rows;
            Box::pin(async move {
                if how == "copy" {
                    let sink = db
                        .copy_in("COPY raw_statements (id, statement) FROM STDIN (FORMAT binary)")
                        .await
                        .map_err(db_error)?;
                    let writer = BinaryCopyInWriter::new(sink, &[Type::UUID, Type::JSONB]);
                    let mut writer = std::pin::pin!(writer);
                    for (id, json) in &batch {
                        writer
                            .as_mut()
                            .write(&[id, &JsonbText(json)])
                            .await
                            .map_err(db_error)?;
                    }
                    writer.finish().await.map_err(db_error)?;
                } else {
                    let texts: Vec<JsonbText> = batch.iter().map(|(_, j)| JsonbText(j)).collect();
                    let params: Vec<&(dyn ToSql + Sync)> = batch
                        .iter()
                        .zip(&texts)
                        .flat_map(|((id, _), text)| [id as &(dyn ToSql + Sync), text])
                        .collect();
                    db.execute(&statement, &params).await.map_err(db_error)?;
                }
                Ok(rows as u64)
            })
        })
    };
    println!("  -- raw PostgreSQL");
    let checkpoint = || async {
        let client = connect(cluster, &database).await;
        client.batch_execute("CHECKPOINT").await.unwrap();
    };
    checkpoint().await;
    scenarios.extend(
        measure(
            "raw INSERT, 100 rows per statement",
            "raw",
            size,
            clients,
            secs,
            pid,
            |c| raw_op(c, 100, "insert"),
        )
        .await,
    );
    checkpoint().await;
    scenarios.extend(
        measure(
            "raw INSERT, 1 row per statement",
            "raw",
            size,
            clients,
            secs,
            pid,
            |c| raw_op(c, 1, "insert"),
        )
        .await,
    );
    checkpoint().await;
    scenarios.extend(
        measure(
            &format!("raw COPY binary, {COPY_ROWS} rows per COPY"),
            "raw",
            size,
            clients,
            secs,
            pid,
            |c| raw_op(c, COPY_ROWS, "copy"),
        )
        .await,
    );
    drop(raw_clients);

    // ---- LRS ingest.
    println!("  -- LRS ingest");
    let post_op = |client: usize, rows: usize| -> Op {
        let http = http.clone();
        let bodies = bodies.clone();
        let mut rng = StdRng::from_entropy();
        let mut next = client * 1009 + 5;
        Box::new(move || {
            let body = if rows == 1 {
                bodies.with_id(next, fresh_id(&mut rng))
            } else {
                let items: Vec<String> = (0..rows)
                    .map(|i| bodies.with_id(next + i, fresh_id(&mut rng)))
                    .collect();
                format!("[{}]", items.join(","))
            };
            next += rows;
            let request = http
                .request(reqwest::Method::POST, "/xapi/statements", "2.0.0")
                .header("Content-Type", "application/json")
                .body(body);
            Box::pin(async move { send(request, 200).await.map(|_| rows as u64) })
        })
    };
    let put_op = |c: usize| -> Op {
        let http = http.clone();
        let bodies = bodies.clone();
        let mut rng = StdRng::from_entropy();
        let mut next = c * 1013 + 11;
        Box::new(move || {
            let id = fresh_id(&mut rng);
            let body = bodies.with_id(next, id);
            next += 1;
            let request = http
                .request(
                    reqwest::Method::PUT,
                    &format!("/xapi/statements?statementId={id}"),
                    "2.0.0",
                )
                .header("Content-Type", "application/json")
                .body(body);
            Box::pin(async move { send(request, 204).await.map(|_| 1) })
        })
    };
    let ingest: [(&str, MakeOp); 3] = [
        (
            "POST /statements, batches of 100",
            Box::new(|c| post_op(c, 100)),
        ),
        ("POST /statements, single", Box::new(|c| post_op(c, 1))),
        ("PUT /statements, single", Box::new(put_op)),
    ];
    // Each ingest scenario starts with the learning feed caught up, so none pays for the
    // backlog another left; what the feed folds in while it runs is that scenario's own
    // Statements, and what it leaves is reported.
    let mut ingest_feed = Vec::new();
    drain_learning_feed(cluster, &database).await;
    for (name, make) in ingest {
        checkpoint().await;
        let feed = FeedProgress::read(cluster, &database).await;
        let scenario = measure(name, "lrs", size, clients, secs, pid, make).await;
        // Reads too are measured once the feed has caught up (`after` drains it), so no
        // read figure pays for an ingest scenario's backlog.
        ingest_feed.extend(feed.after(scenario.as_ref(), cluster, &database).await);
        scenarios.extend(scenario);
    }
    let ingest_feed = ingest_feed.join(" ");
    println!("  -- LRS queries");
    let qc = config.query_clients;
    let (ids, registrations) = {
        let client = connect(cluster, &database).await;
        let total: i64 = client
            .query_one("SELECT count(*) FROM statements", &[])
            .await
            .unwrap()
            .get(0);
        let percent = (100.0 * 20_000.0 / total.max(1) as f64).clamp(0.01, 100.0);
        let ids: Vec<Uuid> = client
            .query(
                &format!("SELECT id FROM statements TABLESAMPLE SYSTEM ({percent}) LIMIT 2000"),
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let registrations: Vec<Uuid> = client
            .query(
                &format!(
                    "SELECT DISTINCT registration FROM statements TABLESAMPLE SYSTEM ({percent}) \
                     WHERE registration IS NOT NULL LIMIT 1000"
                ),
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        (Arc::new(ids), Arc::new(registrations))
    };
    let get_op = |client: usize, query: PathFn| -> Op {
        let http = http.clone();
        let mut rng = StdRng::seed_from_u64(client as u64 + 31);
        Box::new(move || {
            let path = query(&mut rng);
            let request = http.request(reqwest::Method::GET, &path, "2.0.0");
            Box::pin(async move { send(request, 200).await.map(|_| 1) })
        })
    };
    let shapes: Vec<(&str, PathFn)> = vec![
        ("GET /statements by id", {
            let ids = ids.clone();
            Arc::new(move |rng: &mut StdRng| {
                format!(
                    "/xapi/statements?statementId={}",
                    ids[rng.gen_range(0..ids.len().max(1))]
                )
            })
        }),
        (
            "GET agent + verb, limit=100",
            Arc::new(move |rng: &mut StdRng| {
                format!(
                    "/xapi/statements?agent={}&verb={}&limit=100",
                    encode(&agent_json(rng.gen_range(0..LEARNERS))),
                    encode(&format!(
                        "http://adlnet.gov/expapi/verbs/{}",
                        COURSE_VERBS[rng.gen_range(0..COURSE_VERBS.len())]
                    ))
                )
            }),
        ),
        (
            "GET activity + related_activities, limit=100",
            Arc::new(move |rng: &mut StdRng| {
                format!(
                    "/xapi/statements?activity={}&related_activities=true&limit=100",
                    encode(&format!(
                        "https://lms.example.org/courses/{}",
                        rng.gen_range(0..COURSES)
                    ))
                )
            }),
        ),
        ("GET registration, limit=100", {
            let registrations = registrations.clone();
            Arc::new(move |rng: &mut StdRng| {
                format!(
                    "/xapi/statements?registration={}&limit=100",
                    registrations[rng.gen_range(0..registrations.len().max(1))]
                )
            })
        }),
    ];
    for (name, query) in shapes {
        if name.contains("by id") && ids.is_empty()
            || name.contains("registration") && registrations.is_empty()
        {
            skipped.push(format!("{name}: no sample in the store"));
            continue;
        }
        scenarios.extend(
            measure(name, "lrs", size, qc, secs, pid, |c| {
                get_op(c, query.clone())
            })
            .await,
        );
    }
    // since, paging through 10,000 results with `more`.
    scenarios.extend(
        measure(
            "GET since, ascending, paging 10,000 via more (per page of 100)",
            "lrs",
            size,
            qc,
            secs,
            pid,
            |c| {
                let http = http.clone();
                let walk: Arc<Mutex<(Option<String>, usize)>> = Arc::new(Mutex::new((None, 0)));
                // Each client starts its walks at a different point in time.
                let since = format!("2000-01-0{}T00:00:00Z", c % 9 + 1);
                Box::new(move || {
                    let (next, _) = walk.lock().unwrap().clone();
                    let path = next.unwrap_or_else(|| {
                        format!(
                            "/xapi/statements?since={}&ascending=true&limit=100",
                            encode(&since)
                        )
                    });
                    let request = http.request(reqwest::Method::GET, &path, "2.0.0");
                    let walk = walk.clone();
                    Box::pin(async move {
                        let body = send(request, 200).await?;
                        let page: serde_json::Value =
                            serde_json::from_slice(&body).map_err(|e| e.to_string())?;
                        let count = page["statements"].as_array().map_or(0, Vec::len);
                        let more = page["more"].as_str().unwrap_or("").to_string();
                        let mut walk = walk.lock().unwrap();
                        walk.1 += count;
                        if more.is_empty() || walk.1 >= PAGE_WALK {
                            *walk = (None, 0);
                        } else {
                            walk.0 = Some(more);
                        }
                        Ok(count as u64)
                    })
                })
            },
        )
        .await,
    );
    if let Some(s) = scenarios
        .last_mut()
        .filter(|s| s.name.starts_with("GET since"))
    {
        s.note = Some(format!(
            "items = statements; one walk of {PAGE_WALK} statements takes about {:.0} ms",
            PAGE_WALK as f64 / (s.items_per_second / s.clients as f64).max(1e-9) * 1000.0
        ));
    }

    // ---- State documents.
    scenarios.extend(
        measure(
            "PUT /activities/state (1.0.3)",
            "lrs",
            size,
            qc,
            secs,
            pid,
            |c| {
                let http = http.clone();
                let mut rng = StdRng::seed_from_u64(c as u64 + 808);
                Box::new(move || {
                    let path = state_path(&mut rng);
                    let body = format!(
                        r#"{{"location":"module-{}","progress":{},"suspend_data":"{}"}}"#,
                        rng.gen_range(0..6),
                        rng.gen_range(0..100),
                        "x".repeat(200)
                    );
                    let request = http
                        .request(reqwest::Method::PUT, &path, "1.0.3")
                        .header("Content-Type", "application/json")
                        .body(body);
                    Box::pin(async move { send(request, 204).await.map(|_| 1) })
                })
            },
        )
        .await,
    );
    scenarios.extend(
        measure("GET /activities/state", "lrs", size, qc, secs, pid, |c| {
            let http = http.clone();
            let mut rng = StdRng::seed_from_u64(c as u64 + 808);
            Box::new(move || {
                let path = state_path(&mut rng);
                let request = http.request(reqwest::Method::GET, &path, "1.0.3");
                Box::pin(async move {
                    let response = request.send().await.map_err(|e| e.to_string())?;
                    let status = response.status().as_u16();
                    response.bytes().await.map_err(|e| e.to_string())?;
                    match status {
                        200 | 404 => Ok(1),
                        other => Err(format!("status {other}")),
                    }
                })
            })
        })
        .await,
    );
    if let Some(s) = scenarios
        .last_mut()
        .filter(|s| s.name == "GET /activities/state")
    {
        s.note = Some("documents written by the PUT scenario; a 404 (never written) counts".into());
    }

    // ---- Reports read rollups the learning feed keeps outside the write path: let it
    // drain what ingest left first, so report latency is measured on its own.
    let feed_note = format!(
        "{ingest_feed} Before the reports, {}",
        drain_learning_feed(cluster, &database).await
    );
    println!("  {feed_note}");
    let reports = [
        (
            "GET /reports/modes (week, per team)",
            "/reports/modes?bucket=week&group=team".to_string(),
        ),
        ("GET /reports/teams", "/reports/teams".to_string()),
        ("GET /reports/sources", "/reports/sources".to_string()),
        (
            "GET /reports/learners/{agent}",
            format!("/reports/learners/{}", encode(&agent_json(7))),
        ),
    ];
    for (name, path) in reports {
        let probe = http
            .request(reqwest::Method::GET, &path, "2.0.0")
            .send()
            .await
            .map(|r| r.status().as_u16());
        match probe {
            Ok(200) => {
                scenarios.extend(
                    measure(name, "lrs", size, qc, secs, pid, |_| {
                        let http = http.clone();
                        let path = path.clone();
                        Box::new(move || {
                            let request = http.request(reqwest::Method::GET, &path, "2.0.0");
                            Box::pin(async move { send(request, 200).await.map(|_| 1) })
                        })
                    })
                    .await,
                );
            }
            other => {
                let why = format!("{name}: skipped, {path} answered {other:?} (not built yet?)");
                println!("  {why}");
                skipped.push(why);
            }
        }
    }

    let server_vm_hwm_mb = status_kb(pid, "VmHWM:") as f64 / 1024.0;
    println!("  server VmHWM {server_vm_hwm_mb:.0} MB");
    server.stop().await;
    link_ratios(&mut scenarios);
    SizeRun {
        store_size: size,
        measured_by: None,
        database,
        preload_note,
        feed_note,
        ready_ms,
        server_vm_hwm_mb,
        scenarios,
        skipped,
    }
}

/// Each LRS ingest figure as a ratio to the matching raw figure and to COPY.
fn link_ratios(scenarios: &mut [Scenario]) {
    let rate = |prefix: &str| {
        scenarios
            .iter()
            .find(|s| s.kind == "raw" && s.name.starts_with(prefix))
            .map(|s| (s.name.clone(), s.items_per_second))
    };
    let multi = rate("raw INSERT, 100");
    let single = rate("raw INSERT, 1 ");
    let copy = rate("raw COPY");
    for s in scenarios.iter_mut().filter(|s| s.kind == "lrs") {
        let matching = if s.name.starts_with("POST /statements, batches") {
            multi.clone()
        } else if s.name.starts_with("POST /statements, single")
            || s.name.starts_with("PUT /statements")
        {
            single.clone()
        } else {
            continue;
        };
        if let Some((name, raw)) = matching {
            s.raw_ratio = Some(s.items_per_second / raw.max(1e-9));
            s.raw_match = Some(name);
        }
        if let Some((_, copy)) = &copy {
            s.copy_ratio = Some(s.items_per_second / copy.max(1e-9));
        }
    }
}

// ---------------------------------------------------------------- the report

/// The store sizes of an earlier run's `results.json` that this run does not measure,
/// each marked with the run that measured it.
fn earlier_runs(path: &Path, measured_now: &[usize]) -> Vec<SizeRun> {
    #[derive(Deserialize)]
    struct EarlierReport {
        commit: String,
        date: String,
        runs: Vec<SizeRun>,
    }
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("BENCH_MERGE: read {}: {e}", path.display()));
    let earlier: EarlierReport = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("BENCH_MERGE: {} is not a results.json: {e}", path.display()));
    earlier
        .runs
        .into_iter()
        .filter(|run| !measured_now.contains(&run.store_size))
        .map(|mut run| {
            run.measured_by.get_or_insert_with(|| {
                format!("the run at commit {} on {}", earlier.commit, earlier.date)
            });
            run
        })
        .collect()
}

#[derive(Debug, Serialize)]
struct Report {
    commit: String,
    date: String,
    machine: BTreeMap<String, String>,
    postgres: String,
    seconds_per_scenario: f64,
    clients: usize,
    query_clients: usize,
    /// The `BENCH_*` variables this run was given.
    environment: BTreeMap<String, String>,
    runs: Vec<SizeRun>,
    /// Criterion means (ns) of `cargo bench --bench micro`, when it ran before.
    micro: BTreeMap<String, f64>,
}

fn commit() -> String {
    let run = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    let head = run(&["rev-parse", "--short", "HEAD"]);
    let dirty = !run(&["status", "--porcelain", "--untracked-files=no"]).is_empty();
    if dirty {
        format!("{head} (with uncommitted changes)")
    } else {
        head
    }
}

fn machine() -> BTreeMap<String, String> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_default();
    let cores = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem = |field: &str| {
        meminfo
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map(|kb| format!("{:.1} GiB", kb / 1024.0 / 1024.0))
            .unwrap_or_default()
    };
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    BTreeMap::from([
        ("cpu".to_string(), model),
        ("cores".to_string(), cores.to_string()),
        ("memory_total".to_string(), mem("MemTotal:")),
        ("memory_available".to_string(), mem("MemAvailable:")),
        ("load_average_at_end".to_string(), load.trim().to_string()),
        ("kernel".to_string(), kernel.trim().to_string()),
    ])
}

fn read_criterion(dir: &Path) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() && path.file_name().is_some_and(|n| n != "report") {
                let estimates = path.join("new/estimates.json");
                if estimates.exists() {
                    let name = path
                        .strip_prefix(dir)
                        .unwrap()
                        .to_string_lossy()
                        .to_string();
                    if let Ok(text) = std::fs::read_to_string(&estimates) {
                        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                            if let Some(mean) = v["mean"]["point_estimate"].as_f64() {
                                out.insert(name, mean);
                            }
                        }
                    }
                } else {
                    stack.push(path);
                }
            }
        }
    }
    out
}

struct Target {
    figure: &'static str,
    target: &'static str,
    measured: String,
    raw: String,
    met: Option<bool>,
    by: String,
}

impl Report {
    fn find(&self, size: usize, prefix: &str) -> Option<&Scenario> {
        self.runs
            .iter()
            .find(|r| r.store_size == size)?
            .scenarios
            .iter()
            .find(|s| s.name.starts_with(prefix))
    }

    fn targets(&self) -> Vec<Target> {
        let mut out = Vec::new();
        let short = |m: f64, t: f64, higher: bool| -> String {
            if higher {
                format!("{:.0} % short", 100.0 * (1.0 - m / t))
            } else {
                format!("{:.0} % over", 100.0 * (m / t - 1.0))
            }
        };
        for run in &self.runs {
            let size = run.store_size;
            if let Some(s) = self.find(size, "POST /statements, batches") {
                let ratio = s.raw_ratio.unwrap_or(0.0);
                let met = s.items_per_second >= 25_000.0 && ratio >= 0.30;
                out.push(Target {
                    figure: "ingest, POST batches of 100",
                    target: "≥ 25,000 st/s and ≥ 30 % of raw multi-row INSERT",
                    measured: format!(
                        "{:.0} st/s at {} stored ({} clients)",
                        s.items_per_second, size, s.clients
                    ),
                    raw: format!("{:.0} % of raw", 100.0 * ratio),
                    met: Some(met),
                    by: if met {
                        String::new()
                    } else {
                        format!(
                            "{}; {:.0} % of raw vs 30 %",
                            short(s.items_per_second, 25_000.0, true),
                            100.0 * ratio
                        )
                    },
                });
            }
            if let Some(s) = self.find(size, "POST /statements, single") {
                let met = s.items_per_second >= 5_000.0 && s.p99_ms <= 20.0;
                out.push(Target {
                    figure: "ingest, POST single",
                    target: "≥ 5,000 st/s, p99 ≤ 20 ms",
                    measured: format!(
                        "{:.0} st/s, p99 {:.1} ms at {} stored",
                        s.items_per_second, s.p99_ms, size
                    ),
                    raw: format!("{:.0} % of raw", 100.0 * s.raw_ratio.unwrap_or(0.0)),
                    met: Some(met),
                    by: if met {
                        String::new()
                    } else {
                        let mut by = Vec::new();
                        if s.items_per_second < 5_000.0 {
                            by.push(format!("rate {}", short(s.items_per_second, 5_000.0, true)));
                        }
                        if s.p99_ms > 20.0 {
                            by.push(format!("p99 {}", short(s.p99_ms, 20.0, false)));
                        }
                        by.join(", ")
                    },
                });
            }
        }
        let query_size = if self.runs.iter().any(|r| r.store_size == 1_000_000) {
            1_000_000
        } else {
            self.runs.iter().map(|r| r.store_size).max().unwrap_or(0)
        };
        for (prefix, limit) in [
            ("GET /statements by id", 5.0),
            ("GET agent + verb", 25.0),
            ("GET activity + related", 25.0),
            ("GET registration", 25.0),
            ("GET since", 25.0),
        ] {
            if let Some(s) = self.find(query_size, prefix) {
                let met = s.p99_ms <= limit;
                out.push(Target {
                    figure: "query p99 (limit=100)",
                    target: if limit == 5.0 {
                        "by id ≤ 5 ms (at 1 M)"
                    } else {
                        "≤ 25 ms (at 1 M)"
                    },
                    measured: format!("{}: {:.1} ms at {} stored", s.name, s.p99_ms, query_size),
                    raw: String::new(),
                    met: Some(met),
                    by: if met {
                        String::new()
                    } else {
                        short(s.p99_ms, limit, false)
                    },
                });
            }
        }
        for run in &self.runs {
            for s in run
                .scenarios
                .iter()
                .filter(|s| s.name.starts_with("GET /reports"))
            {
                let limit = if run.store_size >= 10_000_000 {
                    1000.0
                } else {
                    200.0
                };
                let met = s.p99_ms <= limit;
                out.push(Target {
                    figure: "report p99",
                    target: "≤ 200 ms at 1 M, ≤ 1 s at 10 M",
                    measured: format!(
                        "{}: {:.0} ms at {} stored",
                        s.name, s.p99_ms, run.store_size
                    ),
                    raw: String::new(),
                    met: Some(met),
                    by: if met {
                        String::new()
                    } else {
                        short(s.p99_ms, limit, false)
                    },
                });
            }
        }
        if !self.runs.iter().any(|r| {
            r.scenarios
                .iter()
                .any(|s| s.name.starts_with("GET /reports"))
        }) {
            out.push(Target {
                figure: "reports",
                target: "≤ 200 ms at 1 M, ≤ 1 s at 10 M",
                measured: "not measured: the /reports routes answer 404 on this commit".into(),
                raw: String::new(),
                met: None,
                by: String::new(),
            });
        }
        let rss = self
            .runs
            .iter()
            .map(|r| r.server_vm_hwm_mb)
            .fold(0.0, f64::max);
        out.push(Target {
            figure: "server memory under load",
            target: "RSS ≤ 150 MB",
            measured: format!("peak RSS (VmHWM) {rss:.0} MB"),
            raw: String::new(),
            met: Some(rss <= 150.0),
            by: if rss <= 150.0 {
                String::new()
            } else {
                short(rss, 150.0, false)
            },
        });
        let ready = self
            .runs
            .iter()
            .flat_map(|r| r.ready_ms.iter().copied())
            .fold(0.0, f64::max);
        out.push(Target {
            figure: "time to ready, existing database",
            target: "≤ 1 s",
            measured: format!("worst of {} restarts: {ready:.0} ms", self.runs.len() * 3),
            raw: String::new(),
            met: Some(ready <= 1000.0),
            by: if ready <= 1000.0 {
                String::new()
            } else {
                short(ready, 1000.0, false)
            },
        });
        out
    }

    fn markdown(&self) -> String {
        let mut md = String::new();
        md.push_str("# Performance results\n\n");
        md.push_str(&format!(
            "Generated by `bash benches/run.sh` (micro-benchmarks, then `cargo bench --bench load`) \
             on {} at commit {}. Load driver, server (release build) and PostgreSQL {} all on \
             the same machine; {} s per scenario; ingest scenarios and raw PostgreSQL runs with {} \
             clients/connections, reads with {} clients, keep-alive HTTP/1.1.\n\n",
            self.date, self.commit, self.postgres, self.seconds_per_scenario, self.clients, self.query_clients
        ));
        if !self.environment.is_empty() {
            md.push_str(&format!(
                "Settings: {}.\n\n",
                self.environment
                    .iter()
                    .map(|(k, v)| format!("`{k}={v}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        for run in &self.runs {
            if let Some(earlier) = &run.measured_by {
                md.push_str(&format!(
                    "Store size {} is carried over from an earlier run: measured by {earlier}, \
                     not by this one.\n\n",
                    run.store_size
                ));
            }
        }
        md.push_str("## Machine\n\n| | |\n|---|---|\n");
        for (k, v) in &self.machine {
            md.push_str(&format!("| {k} | {v} |\n"));
        }
        md.push_str("\n## Targets (issue 6)\n\n| figure | target | measured | vs raw PostgreSQL | verdict |\n|---|---|---|---|---|\n");
        for t in self.targets() {
            let verdict = match t.met {
                Some(true) => "met".to_string(),
                Some(false) => format!("**missed** ({})", t.by),
                None => "not measured".to_string(),
            };
            md.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                t.figure, t.target, t.measured, t.raw, verdict
            ));
        }
        for run in &self.runs {
            md.push_str(&format!("\n## Store size {}\n\n", run.store_size));
            if let Some(earlier) = &run.measured_by {
                md.push_str(&format!(
                    "Measured by {earlier}, not by this one (carried over with `BENCH_MERGE`).\n\n"
                ));
            }
            md.push_str(&format!(
                "{} Time to ready with this existing database (3 restarts): {} ms. Server peak RSS \
                 (VmHWM) over the scenarios: {:.0} MB. {}\n\n",
                run.preload_note,
                run.ready_ms
                    .iter()
                    .map(|v| format!("{v:.0}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                run.server_vm_hwm_mb,
                run.feed_note
            ));
            md.push_str(
                "| scenario | clients | statements or items/s | requests/s | p50 ms | p95 ms | p99 ms | \
                 vs raw (matching) | vs raw COPY | driver CPU | server CPU | machine busy | server RSS max | errors |\n\
                 |---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
            );
            for s in &run.scenarios {
                let pct =
                    |v: Option<f64>| v.map(|r| format!("{:.0} %", 100.0 * r)).unwrap_or_default();
                md.push_str(&format!(
                    "| {}{} | {} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {} | {:.0} % | {} | {:.0} % | {} | {} |\n",
                    s.name,
                    if s.kind == "raw" { " (PostgreSQL)" } else { "" },
                    s.clients,
                    s.items_per_second,
                    s.requests_per_second,
                    s.p50_ms,
                    s.p95_ms,
                    s.p99_ms,
                    pct(s.raw_ratio),
                    pct(s.copy_ratio),
                    s.driver_cpu_percent,
                    if s.kind == "lrs" { format!("{:.0} %", s.server_cpu_percent) } else { String::new() },
                    s.machine_busy_percent,
                    if s.kind == "lrs" { format!("{:.0} MB", s.server_rss_max_mb) } else { String::new() },
                    if s.errors > 0 {
                        format!("{} ({})", s.errors, truncate(s.first_error.as_deref().unwrap_or(""), 80).replace('|', "/"))
                    } else {
                        "0".into()
                    },
                ));
            }
            let notes: Vec<String> = run
                .scenarios
                .iter()
                .filter_map(|s| s.note.as_ref().map(|n| format!("- {}: {n}", s.name)))
                .chain(run.skipped.iter().map(|s| format!("- {s}")))
                .collect();
            if !notes.is_empty() {
                md.push('\n');
                md.push_str(&notes.join("\n"));
                md.push('\n');
            }
        }
        md.push_str(
            "\nCPU figures are in % of one core (this machine has 2): the driver's own use shows \
             whether it could be the bottleneck. Raw PostgreSQL runs insert the same Workload \
             JSON (with fresh ids) into `raw_statements(id uuid primary key, statement jsonb)`, \
             pre-filled with the store's statements so its index has the same size; `vs raw \
             (matching)` compares POST batches of 100 with the 100-row INSERT and single POST/PUT \
             with the single-row INSERT.\n",
        );
        if !self.micro.is_empty() {
            md.push_str(
                "\n## Micro-benchmarks (criterion, mean)\n\n| benchmark | mean |\n|---|---|\n",
            );
            for (name, ns) in &self.micro {
                let shown = if *ns >= 1e6 {
                    format!("{:.2} ms", ns / 1e6)
                } else {
                    format!("{:.2} µs", ns / 1e3)
                };
                md.push_str(&format!("| {name} | {shown} |\n"));
            }
        }
        md.push_str(
            "\n## Where targets are missed\n\nThe verdict column above says by how much. Why, \
             from profiles of these scenarios (`perf`), and the next steps are in \
             [ANALYSIS.md](ANALYSIS.md).\n",
        );
        md
    }
}
