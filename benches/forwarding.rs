//! Forwarding beside ingest, on this machine: the release server as the source and a
//! second one as the xAPI target, each on a database of its own in an embedded
//! PostgreSQL cluster this bench starts (`target/bench-forwarding-pg`). Measures
//!
//! 1. ingest: clients POSTing Workload batches of 100 to the source, no forwarder;
//! 2. the same with a forwarder to a target that is down (its lag builds), in turn with
//!    runs alone ([`alternate`]);
//! 3. forwarding a backlog: a `--from-start` forwarder over the stored Statements, from
//!    its creation until its lag is 0, with no other load;
//! 4. forwarding live: one client ingesting at a steady pace (a batch of 100 at a time,
//!    `FORWARD_BENCH_LIVE_RATE` a second) while a forwarder created at the head sends
//!    what arrives: what it forwarded meanwhile, its lag when the client stops and how
//!    long it then takes to reach 0;
//! 5. ingest while a `--from-start` forwarder to a fresh target works through its
//!    backlog, giving way to the requests, in turn with runs alone ([`alternate`]):
//!    what it forwarded meanwhile, the lag left when ingest stops, and the catch-up
//!    from there.
//!
//! Writes `forwarding-results.json` and `FORWARDING.md` (in `benches/`) and prints the
//! table. Goals (issue 20): forwarding at least 5,000 Statements/s; ingest slowed by at
//! most 10 % while a forwarder runs.
//!
//! Run: `cargo bench --bench forwarding`, on a quiet machine (the bench client, both
//! servers and PostgreSQL share its cores). Settings (environment):
//! - `FORWARD_BENCH_STATEMENTS` (default 200000): the source's Statements before the
//!   forwarding scenarios (topped up to this after the ingest scenarios);
//! - `FORWARD_BENCH_SECONDS` (default 10): how long each ingest scenario runs;
//! - `FORWARD_BENCH_CLIENTS` (default 4): concurrent ingest clients;
//! - `FORWARD_BENCH_BATCH`: the forwarders' `--batch-size` (default: the forwarder's);
//! - `FORWARD_BENCH_IN_FLIGHT`: the forwarders' `--max-in-flight` (default: the
//!   forwarder's);
//! - `FORWARD_BENCH_LIVE_RATE` (default 1000): Statements a second of the live scenario;
//! - `FORWARD_BENCH_ROUNDS` (default 8): runs with a forwarder at work in scenarios 2
//!   and 5, each between two runs alone;
//! - `FORWARD_BENCH_OUT` (default `benches/`): where the results go;
//! - `BENCH_SERVER_BIN`: another server binary than the one cargo built.
//!
//! A smoke run: `FORWARD_BENCH_STATEMENTS=2000 FORWARD_BENCH_SECONDS=2
//! FORWARD_BENCH_OUT=target/forwarding-smoke cargo bench --bench forwarding`.

#[path = "shared/cluster.rs"]
mod cluster;
#[path = "forwarding/cpu.rs"]
mod cpu;
#[path = "forwarding/load.rs"]
mod load;
#[path = "forwarding/report.rs"]
mod report;
#[path = "shared/results.rs"]
mod results;
#[path = "shared/server.rs"]
mod server;

use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::Arc;
use std::time::{Duration, Instant};

use commonplace::store::embedded::Cluster;
use serde_json::Value;

use cluster::{connect, database_url, drop_database, recreate, settle};
use cpu::{Parts, Sampling};
use load::{held, ingest, ingest_paced, top_up, until_feed_caught_up, INGEST_BATCH};
use report::{markdown, Alternation, Rate, Results};
use server::{KEY, SECRET};

struct Config {
    statements: usize,
    seconds: f64,
    clients: usize,
    live_rate: usize,
    rounds: usize,
    batch: Option<usize>,
    in_flight: Option<usize>,
    out: PathBuf,
    work: PathBuf,
    server_bin: PathBuf,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

impl Config {
    fn from_env() -> Config {
        let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        // The bench runs as <target>/release/deps/forwarding-…; its target dir holds the rest.
        let target = std::env::current_exe()
            .ok()
            .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.to_path_buf()))
            .unwrap_or_else(|| manifest.join("target"));
        Config {
            statements: env_or("FORWARD_BENCH_STATEMENTS", 200_000),
            seconds: env_or("FORWARD_BENCH_SECONDS", 10.0),
            clients: env_or("FORWARD_BENCH_CLIENTS", 4),
            live_rate: env_or("FORWARD_BENCH_LIVE_RATE", 1000),
            rounds: env_or("FORWARD_BENCH_ROUNDS", 8usize).max(1),
            batch: std::env::var("FORWARD_BENCH_BATCH")
                .ok()
                .and_then(|v| v.parse().ok()),
            in_flight: std::env::var("FORWARD_BENCH_IN_FLIGHT")
                .ok()
                .and_then(|v| v.parse().ok()),
            out: std::env::var("FORWARD_BENCH_OUT")
                .map(PathBuf::from)
                .unwrap_or_else(|_| manifest.join("benches")),
            work: target,
            server_bin: std::env::var("BENCH_SERVER_BIN")
                .map(PathBuf::from)
                .unwrap_or_else(|_| PathBuf::from(env!("CARGO_BIN_EXE_commonplace"))),
        }
    }
}

/// `commonplace serve` on `database`, its output in `log`; stopped when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    async fn start(config: &Config, cluster: &Cluster, database: &str, log: &Path) -> Server {
        let log_file = std::fs::File::create(log).expect("server log");
        let started = Instant::now();
        let database_url = database_url(cluster, database);
        let (child, port) = server::spawn(&config.server_bin, &database_url, log_file);
        let mut server = Server { child, port };
        server::until_ready(&mut server.child, port, log, started).await;
        server
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `commonplace forwarders ARGS --database-url …`; its stdout.
async fn forwarders(config: &Config, url: &str, args: &[&str]) -> String {
    let output = tokio::process::Command::new(&config.server_bin)
        .arg("forwarders")
        .args(args)
        .args(["--database-url", url])
        .output()
        .await
        .expect("run commonplace forwarders");
    assert!(
        output.status.success(),
        "forwarders {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// An xAPI forwarder `name` to `endpoint` (the target's bootstrap credential), with
/// `more` flags.
async fn create_forwarder(config: &Config, url: &str, name: &str, endpoint: &str, more: &[&str]) {
    let batch = config.batch.map(|b| b.to_string());
    let in_flight = config.in_flight.map(|n| n.to_string());
    let mut args = vec!["create", "--name", name, "--kind", "xapi"];
    args.extend([
        "--endpoint",
        endpoint,
        "--username",
        KEY,
        "--password",
        SECRET,
    ]);
    if let Some(batch) = &batch {
        args.extend(["--batch-size", batch]);
    }
    if let Some(in_flight) = &in_flight {
        args.extend(["--max-in-flight", in_flight]);
    }
    args.extend_from_slice(more);
    forwarders(config, url, &args).await;
}

/// Forwarder `name` as `forwarders list --json` gives it.
async fn listed(config: &Config, url: &str, name: &str) -> Value {
    let out = forwarders(config, url, &["list", "--json"]).await;
    let all: Vec<Value> = serde_json::from_str(&out).unwrap();
    all.into_iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("no forwarder {name}"))
}

/// Forwarder `name`'s delivered count, read from its row (at once, unlike a
/// `forwarders list` process).
async fn delivered_now(db: &tokio_postgres::Client, name: &str) -> u64 {
    let delivered: i64 = db
        .query_one("SELECT delivered FROM forwarders WHERE name = $1", &[&name])
        .await
        .unwrap()
        .get(0);
    delivered as u64
}

fn delivered(forwarder: &Value) -> u64 {
    forwarder["delivered"].as_u64().unwrap()
}

/// Waits until forwarder `name`'s lag is 0, and returns it as `forwarders list` then
/// gives it. Polled on the bench's own connection (`db`, the source's database): the
/// position against the newest stored seq of its store, which no writer moves
/// meanwhile. Polling `forwarders list` itself competed with the forwarding it
/// measured: a process each time, and a lag count that reads up to 100,000 rows (87 ms
/// of PostgreSQL time a call in a `pg_stat_statements` profile of a backlog forwarded).
/// So did this poll while it read `max(seq)` over every store: no index leads with
/// `seq`, so it read the whole `(store_id, seq)` index: 56 ms a call, 100 ms apart.
async fn until_caught_up(
    config: &Config,
    url: &str,
    db: &tokio_postgres::Client,
    name: &str,
) -> Value {
    loop {
        let passed: bool = db
            .query_one(
                "SELECT f.position >= (SELECT coalesce(max(n.seq), 0) FROM statements n
                                         WHERE n.store_id = f.store_id)
                   FROM forwarders f WHERE f.name = $1",
                &[&name],
            )
            .await
            .unwrap()
            .get(0);
        if passed {
            let forwarder = listed(config, url, name).await;
            if forwarder["lag"] == 0 {
                return forwarder;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Ingest runs alone and with forwarder `name` at work, in turn: `rounds` of each,
/// starting and ending alone, the forwarder (created paused) resumed for each run with
/// it and paused after. The machine's speed drifts over minutes, and ingest slows as the
/// store grows; taking turns spreads both over the two sides. Every run starts with the
/// learning feed caught up and the source at rest ([`settle`]), and posts Statements of
/// a seed of its own. The CPU each of `parts` took is read over every run
/// ([`Sampling`], through `probe`).
#[allow(clippy::too_many_arguments)]
async fn alternate(
    config: &Config,
    source: &Server,
    url: &str,
    db: &tokio_postgres::Client,
    probe: &Arc<tokio_postgres::Client>,
    parts: &Parts,
    name: &str,
    seed: u64,
) -> Alternation {
    let mut alone = Vec::new();
    let mut with = Vec::new();
    let mut alone_cores = Vec::new();
    let mut with_cores = Vec::new();
    let mut forwarded = 0;
    for round in 0..=config.rounds as u64 {
        until_feed_caught_up(db).await;
        settle(db).await;
        let sampling = Sampling::start(probe.clone(), parts.clone());
        let run = ingest(
            &source.url("/xapi/statements"),
            config.clients,
            config.seconds,
            seed + 20 * round,
        )
        .await;
        let cores = sampling.finish().await;
        println!(
            "   alone: {:.0} Statements/s, {:.2} cores",
            run.per_second,
            cores.total()
        );
        alone.push(run);
        alone_cores.push(cores);
        if round == config.rounds as u64 {
            break;
        }
        until_feed_caught_up(db).await;
        settle(db).await;
        let before = delivered_now(probe, name).await;
        forwarders(config, url, &["resume", name]).await;
        let sampling = Sampling::start(probe.clone(), parts.clone());
        let run = ingest(
            &source.url("/xapi/statements"),
            config.clients,
            config.seconds,
            seed + 20 * round + 10,
        )
        .await;
        let cores = sampling.finish().await;
        // What it delivered while ingest ran, not in the moment before it sees the pause.
        let sent = delivered_now(probe, name).await - before;
        forwarders(config, url, &["pause", name]).await;
        // The runner sees the pause at its next lease renewal, within a second.
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        println!(
            "   with the forwarder: {:.0} Statements/s, {sent} forwarded, {:.2} cores \
             ({:.2} the target's)",
            run.per_second,
            cores.total(),
            cores.of(cpu::TARGET_SERVER) + cores.of(cpu::TARGET_DATABASE)
        );
        forwarded += sent;
        with.push(run);
        with_cores.push(cores);
    }
    Alternation::new(alone, with, forwarded, &alone_cores, &with_cores)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let config = Config::from_env();
    let work = config.work.join("bench-forwarding");
    std::fs::create_dir_all(&work).unwrap();
    println!(
        "forwarding bench: {} stored Statements, {} s per ingest scenario, {} clients, server {}",
        config.statements,
        config.seconds,
        config.clients,
        config.server_bin.display()
    );
    let pg_dir = config.work.join("bench-forwarding-pg");
    let cluster =
        tokio::task::spawn_blocking(move || Cluster::start(&pg_dir).expect("start PostgreSQL"))
            .await
            .unwrap();
    for database in ["forward_source", "forward_target", "forward_target_live"] {
        recreate(&cluster, database).await;
    }
    let source_url = database_url(&cluster, "forward_source");
    let source = Server::start(
        &config,
        &cluster,
        "forward_source",
        &work.join("source.log"),
    )
    .await;
    let target = Server::start(
        &config,
        &cluster,
        "forward_target",
        &work.join("target.log"),
    )
    .await;
    let seed: u64 = rand::random::<u32>() as u64 * 1_000;

    let source_db = connect(&cluster, "forward_source").await;
    let probe = Arc::new(connect(&cluster, "forward_source").await);
    println!("1. ingest, no forwarder");
    settle(&source_db).await;
    let ingest_alone = ingest(
        &source.url("/xapi/statements"),
        config.clients,
        config.seconds,
        seed,
    )
    .await;
    println!("   {:.0} Statements/s", ingest_alone.per_second);

    println!("2. ingest, a forwarder to a target that is down, in turn with ingest alone");
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let nowhere = format!("http://127.0.0.1:{closed_port}/xapi");
    create_forwarder(&config, &source_url, "down", &nowhere, &[]).await;
    forwarders(&config, &source_url, &["pause", "down"]).await;
    let held_at_creation = held(&cluster, "forward_source").await;
    let down = alternate(
        &config,
        &source,
        &source_url,
        &source_db,
        &probe,
        &Parts {
            source_server: source.child.id(),
            target_server: target.child.id(),
            source_database: "forward_source".into(),
            target_database: "forward_target".into(),
        },
        "down",
        seed + 1_000,
    )
    .await;
    // Every Statement stored since it was created (see `held`).
    let lag_target_down = held(&cluster, "forward_source").await - held_at_creation;
    forwarders(&config, &source_url, &["delete", "down"]).await;
    println!("   lag {lag_target_down}");

    println!("3. forwarding, from the start, source to target");
    top_up(
        &source.url("/xapi/statements"),
        &cluster,
        "forward_source",
        config.statements,
        seed + 200,
    )
    .await;
    // The stored Statements at rest, as a store is when a forwarder is added to it: the
    // top-up's rows vacuumed and its pages written, not left to run beside the forwarder.
    settle(&source_db).await;
    let started = Instant::now();
    let endpoint = target.url("/xapi");
    create_forwarder(&config, &source_url, "bench", &endpoint, &["--from-start"]).await;
    let forwarded = until_caught_up(&config, &source_url, &source_db, "bench").await;
    let forwarding = Rate::new(delivered(&forwarded), started.elapsed());
    assert_eq!(forwarded["dead_lettered"], 0, "{forwarded}");
    println!("   {:.0} Statements/s", forwarding.per_second);
    forwarders(&config, &source_url, &["delete", "bench"]).await;

    println!(
        "4. forwarding live: one client ingesting {} Statements/s, a forwarder at the head",
        config.live_rate
    );
    create_forwarder(&config, &source_url, "head", &endpoint, &[]).await;
    let started = Instant::now();
    let ingest_live = ingest_paced(
        &source.url("/xapi/statements"),
        config.live_rate,
        config.seconds,
        seed + 400,
    )
    .await;
    let head = listed(&config, &source_url, "head").await;
    let forwarded_live = Rate::new(delivered(&head), started.elapsed());
    let lag_live = head["lag"].as_i64().unwrap();
    let stopped = Instant::now();
    until_caught_up(&config, &source_url, &source_db, "head").await;
    let live_caught_up_seconds = stopped.elapsed().as_secs_f64();
    println!(
        "   {:.0} Statements/s ingested, {:.0} forwarded meanwhile; lag {lag_live} at the end, \
         0 {live_caught_up_seconds:.1} s later",
        ingest_live.per_second, forwarded_live.per_second
    );
    forwarders(&config, &source_url, &["delete", "head"]).await;
    drop(target);
    // Its new rows would be vacuumed while the next scenario ran (7 % of the machine in
    // a profile of it): work of this bench, not of the forwarder measured.
    drop_database(&cluster, "forward_target").await;

    println!("5. ingest while a forwarder works through the store, giving way");
    let live_target = Server::start(
        &config,
        &cluster,
        "forward_target_live",
        &work.join("target-live.log"),
    )
    .await;
    let endpoint = live_target.url("/xapi");
    create_forwarder(&config, &source_url, "live", &endpoint, &["--from-start"]).await;
    forwarders(&config, &source_url, &["pause", "live"]).await;
    let busy = alternate(
        &config,
        &source,
        &source_url,
        &source_db,
        &probe,
        &Parts {
            source_server: source.child.id(),
            target_server: live_target.child.id(),
            source_database: "forward_source".into(),
            target_database: "forward_target_live".into(),
        },
        "live",
        seed + 2_000,
    )
    .await;
    let live = listed(&config, &source_url, "live").await;
    let lag_after_ingest = held(&cluster, "forward_source").await - delivered(&live);
    println!("   the forwarder resumed to catch up");
    forwarders(&config, &source_url, &["resume", "live"]).await;
    let resumed = Instant::now();
    let caught_up = until_caught_up(&config, &source_url, &source_db, "live").await;
    let catch_up = Rate::new(delivered(&caught_up) - delivered(&live), resumed.elapsed());
    println!(
        "   lag {lag_after_ingest} when ingest stopped, caught up in {:.1} s ({:.0} Statements/s)",
        catch_up.seconds, catch_up.per_second
    );
    forwarders(&config, &source_url, &["delete", "live"]).await;
    drop(live_target);
    drop(source);

    let results = Results {
        commit: results::commit(&["benches/FORWARDING.md", "benches/forwarding-results.json"]),
        date: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        machine: results::machine(),
        settings: std::env::vars()
            .filter(|(k, _)| k.starts_with("FORWARD_BENCH_") || k == "BENCH_SERVER_BIN")
            .chain([
                ("statements".into(), config.statements.to_string()),
                ("seconds".into(), config.seconds.to_string()),
                ("clients".into(), config.clients.to_string()),
                ("live_rate".into(), config.live_rate.to_string()),
                ("ingest_batch".into(), INGEST_BATCH.to_string()),
                ("rounds".into(), config.rounds.to_string()),
            ])
            .collect(),
        ingest_slowdown_target_down_percent: down.slowdown_percent(),
        ingest_slowdown_forwarding_percent: busy.slowdown_percent(),
        ingest_alone,
        down,
        lag_target_down,
        forwarding,
        ingest_live,
        forwarded_live,
        lag_live,
        live_caught_up_seconds,
        busy,
        lag_after_ingest,
        catch_up,
    };
    results::write(
        &config.out,
        ("FORWARDING.md", &markdown(&results)),
        ("forwarding-results.json", &results),
    );
    tokio::task::spawn_blocking(move || cluster.stop())
        .await
        .unwrap()
        .unwrap();
}
