//! Loads a store with N generated Statements (default 1,000,000; `BENCH_STATEMENTS`)
//! through the real HTTP API, then, for every query shape of GET /statements, measures
//! latency over HTTP and records PostgreSQL's executed plan, to show each filter is
//! served by an index. Writes `benches/QUERY_PLANS.md`.
//!
//! Run: `cargo bench --bench query_plans` (release build, embedded PostgreSQL under
//! `target/bench-pg`). The loaded database `bench_<N>` is kept, so later runs measure
//! queries without loading again; `BENCH_RELOAD=1` loads afresh.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use commonplace::auth::Scope;
use commonplace::configuration::Settings;
use commonplace::startup::Application;
use commonplace::store::credentials::{self, NewCredential};
use commonplace::store::embedded::Cluster;
use commonplace::store::statement_reads::{self, PagePosition, StatementFilter};
use commonplace::store::Source;
use commonplace::workload::Workload;
use commonplace::xapi::ingest::{activity_kinds, agent_kinds, REGISTRATION_KIND, VERB_KIND};
use commonplace::xapi::terms::term_key;
use tokio_postgres::NoTls;

const BATCH: usize = 500;
const CLIENTS: usize = 4;
const SAMPLES: usize = 200;

struct Shape {
    name: &'static str,
    query: Vec<(&'static str, String)>,
    filter: StatementFilter,
}

#[tokio::main]
async fn main() {
    let total: usize = std::env::var("BENCH_STATEMENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-pg");
    let cluster =
        tokio::task::spawn_blocking(move || Cluster::start(&dir).expect("start PostgreSQL"))
            .await
            .unwrap();
    let database = format!("bench_{total}");
    let reload = std::env::var("BENCH_RELOAD").is_ok_and(|v| v == "1");
    let exists = database_exists(&cluster, &database).await;
    if reload || !exists {
        admin(
            &cluster,
            &format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"),
        )
        .await;
        admin(&cluster, &format!("CREATE DATABASE {database}")).await;
    }
    let url = format!(
        "host={} user=commonplace dbname={database}",
        cluster.socket_dir().display()
    );
    let mut settings = Settings::new("127.0.0.1:0".parse().unwrap(), Source::External(url));
    settings.limits.max_body_bytes = 64 * 1024 * 1024;
    let app = Application::build(settings).await.expect("build app");
    let pool = app.pool().clone();
    let base = format!("http://127.0.0.1:{}/xapi/statements", app.port());
    tokio::spawn(app.run_until_stopped());
    let secret = credentials::create(
        &pool,
        NewCredential {
            name: "bench",
            store: "default",
            scopes: &[Scope::All],
            tags: &Default::default(),
            fixed: None,
        },
    )
    .await
    .unwrap();
    let http = reqwest::Client::new();

    let already: i64 = pool
        .get()
        .await
        .unwrap()
        .query_one("SELECT count(*) FROM statements", &[])
        .await
        .unwrap()
        .get(0);
    let started = Instant::now();
    let per_client = if already > 0 { 0 } else { total / CLIENTS };
    let loaders: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (http, base, key, secret) = (
                http.clone(),
                base.clone(),
                secret.key.clone(),
                secret.secret.clone(),
            );
            tokio::spawn(async move {
                let mut workload = Workload::new(client as u64 + 1);
                let mut sent = 0;
                while sent < per_client {
                    let size = BATCH.min(per_client - sent);
                    let response = http
                        .post(&base)
                        .basic_auth(&key, Some(&secret))
                        .header("X-Experience-API-Version", "2.0.0")
                        .json(&workload.batch(size))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
                    sent += size;
                }
            })
        })
        .collect();
    for loader in loaders {
        loader.await.unwrap();
    }
    let load_time = started.elapsed();
    let loaded = already as usize + per_client * CLIENTS;
    let load_note = if per_client == 0 {
        "Queried a store loaded by an earlier run.".to_string()
    } else {
        format!(
            "Loaded through the HTTP API in batches of {BATCH} from {CLIENTS} clients in {:.1} s ({:.0} statements/s).",
            load_time.as_secs_f64(),
            loaded as f64 / load_time.as_secs_f64()
        )
    };
    admin_db(&cluster, &database, "VACUUM ANALYZE").await;

    let registration: String = {
        let client = pool.get().await.unwrap();
        client
            .query_one(
                "SELECT body->'context'->>'registration' FROM statements
                  WHERE body->'context'->>'registration' IS NOT NULL LIMIT 1",
                &[],
            )
            .await
            .unwrap()
            .get(0)
    };
    let since = "2000-01-01T00:00:00Z".to_string();
    // The `stored` of the middle Statement: half the store is newer.
    let middle: String = {
        let client = pool.get().await.unwrap();
        let stored: chrono::DateTime<chrono::Utc> = client
            .query_one(
                "SELECT stored FROM statements WHERE store_id = 1 AND seq >= \
                 (SELECT (min(seq) + max(seq)) / 2 FROM statements WHERE store_id = 1) \
                 ORDER BY seq LIMIT 1",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        stored.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    let shapes = vec![
        Shape {
            name: "newest page (no filter)",
            query: vec![],
            filter: StatementFilter::default(),
        },
        Shape {
            name: "agent + verb",
            query: vec![
                ("agent", r#"{"mbox":"mailto:learner7@example.org"}"#.into()),
                ("verb", "http://adlnet.gov/expapi/verbs/completed".into()),
            ],
            filter: StatementFilter {
                terms: vec![
                    (
                        term_key("mbox:mailto:learner7@example.org"),
                        agent_kinds(false),
                    ),
                    (
                        term_key("http://adlnet.gov/expapi/verbs/completed"),
                        vec![VERB_KIND],
                    ),
                ],
                ..Default::default()
            },
        },
        Shape {
            name: "activity + related_activities",
            query: vec![
                ("activity", "https://lms.example.org/courses/3".into()),
                ("related_activities", "true".into()),
            ],
            filter: StatementFilter {
                terms: vec![(
                    term_key("https://lms.example.org/courses/3"),
                    activity_kinds(true),
                )],
                ..Default::default()
            },
        },
        Shape {
            name: "registration",
            query: vec![("registration", registration.clone())],
            filter: StatementFilter {
                terms: vec![(term_key(&registration), vec![REGISTRATION_KIND])],
                ..Default::default()
            },
        },
        Shape {
            name: "since the middle of the store (newest first)",
            query: vec![("since", middle.clone())],
            filter: StatementFilter {
                since: Some(middle.parse().unwrap()),
                ..Default::default()
            },
        },
        Shape {
            name: "since, ascending",
            query: vec![("since", since.clone()), ("ascending", "true".into())],
            filter: StatementFilter {
                since: Some(since.parse().unwrap()),
                ascending: true,
                ..Default::default()
            },
        },
    ];

    let mut report =
        format!(
        "# Query plans at {loaded} statements\n\nGenerated by `cargo bench --bench query_plans` \
         (BENCH_STATEMENTS={total}) on {} cores at commit {}. {load_note} Latency: {SAMPLES} \
         sequential `GET /xapi/statements?…&limit=100` requests per shape, keep-alive, one \
         client.\n\n| query | p50 ms | p95 ms | p99 ms |\n|---|---|---|---|\n",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        commit(),
    );
    let mut plans = String::new();
    let statement_reads::Watermark {
        pin,
        consistent_through,
        ..
    } = statement_reads::snapshot(&pool, 1, false).await.unwrap();
    for shape in &shapes {
        let mut timings = Vec::with_capacity(SAMPLES);
        for _ in 0..SAMPLES {
            let mut query = shape.query.clone();
            query.push(("limit", "100".into()));
            let began = Instant::now();
            let response = http
                .get(&base)
                .query(&query)
                .basic_auth(&secret.key, Some(&secret.secret))
                .header("X-Experience-API-Version", "2.0.0")
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            response.bytes().await.unwrap();
            timings.push(began.elapsed());
        }
        timings.sort();
        let at = |q: f64| ms(timings[((timings.len() as f64 * q) as usize).min(timings.len() - 1)]);
        report.push_str(&format!(
            "| {} | {:.2} | {:.2} | {:.2} |\n",
            shape.name,
            at(0.50),
            at(0.95),
            at(0.99)
        ));
        let plan = statement_reads::explain_page(
            &pool,
            1,
            &shape.filter,
            PagePosition {
                after: None,
                pin,
                consistent_through,
            },
            100,
        )
        .await
        .unwrap();
        plans.push_str(&format!("\n## {}\n\n```\n{plan}\n```\n", shape.name));
    }
    report.push_str(&plans);
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/QUERY_PLANS.md");
    std::fs::write(&out, &report).unwrap();
    println!("{report}");
    pool.close();
    tokio::task::spawn_blocking(move || cluster.stop())
        .await
        .unwrap()
        .unwrap();
}

fn commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

async fn database_exists(cluster: &Cluster, database: &str) -> bool {
    let (client, connection) = cluster.config("postgres").connect(NoTls).await.unwrap();
    let driver = tokio::spawn(connection);
    let found = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&database])
        .await
        .unwrap()
        .is_some();
    drop(client);
    let _ = driver.await;
    found
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn admin(cluster: &Cluster, sql: &str) {
    admin_db(cluster, "postgres", sql).await;
}

async fn admin_db(cluster: &Cluster, database: &str, sql: &str) {
    let (client, connection) = cluster.config(database).connect(NoTls).await.unwrap();
    let driver = tokio::spawn(connection);
    client.batch_execute(sql).await.unwrap();
    drop(client);
    let _ = driver.await;
}
