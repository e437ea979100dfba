//! Ingest: the preload, PostgreSQL's own insert limit, and the LRS's `POST`/`PUT`
//! scenarios.

use std::sync::Arc;
use std::time::Instant;

use commonplace::store::embedded::Cluster;
use commonplace::workload::Workload;
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Statement;
use uuid::Uuid;

use crate::harness::{
    copy_store_to_raw, db_error, drain_learning_feed, fresh_id, send, Bodies, FeedHold,
    FeedProgress, Http, JsonbText,
};
use crate::measure::{MakeOp, Op, Scenario};
use crate::Run;

const PRELOAD_BATCH: usize = 500;
const PRELOAD_CLIENTS: usize = 4;
const COPY_ROWS: usize = 1_000;

/// Fills a new database with `size` distinct Workload Statements through the LRS, the
/// last `backlog` of them with the learning feed held back, so that they wait for it as
/// one backlog: the hold is returned, for the reads measured while the feed folds it.
/// Says how it went.
pub async fn preload(
    http: &Http,
    cluster: &Cluster,
    database: &str,
    size: usize,
    backlog: usize,
) -> (String, Option<FeedHold>) {
    if size == 0 {
        return ("Empty store.".to_string(), None);
    }
    let held_back = backlog.min(size);
    let mut workloads: Vec<Workload> = (0..PRELOAD_CLIENTS)
        .map(|client| Workload::new(1000 + client as u64))
        .collect();
    let mut loading = 0.0;
    let mut before = String::new();
    if size > held_back {
        let started = Instant::now();
        workloads = load(http, workloads, size - held_back, 0).await;
        loading += started.elapsed().as_secs_f64();
        before = format!(
            "the first {} with the learning feed running (after them, {}), ",
            size - held_back,
            drain_learning_feed(cluster, database).await
        );
    }
    let hold = FeedHold::take(cluster, database).await;
    let started = Instant::now();
    load(http, workloads, held_back, size - held_back).await;
    loading += started.elapsed().as_secs_f64();
    let held = if before.is_empty() {
        "all of them".to_string()
    } else {
        format!("{before}the last {held_back}")
    };
    let note = format!(
        "Preloaded {size} distinct Workload statements through the LRS (POST batches of \
         {PRELOAD_BATCH}, {PRELOAD_CLIENTS} clients) in {loading:.0} s ({:.0} statements/s): \
         {held} with the learning feed held back (the bench held its advisory lock), so that \
         they wait for it as one backlog.",
        size as f64 / loading.max(1e-3),
    );
    (note, Some(hold))
}

/// Tops up a database that holds `kept` of a preload stopped part way (BENCH_REUSE=1)
/// to `size`, with the learning feed running. Each client's Workload first passes
/// over as many Statements as it can have sent then, so the ones sent now are new.
/// Says how it went.
pub async fn top_up(http: &Http, kept: usize, size: usize) -> String {
    // Client 0 also sends the remainder of an uneven split: no client sent more.
    let passed = kept / PRELOAD_CLIENTS + kept % PRELOAD_CLIENTS;
    let mut workloads = Vec::new();
    for client in 0..PRELOAD_CLIENTS {
        let workload = tokio::task::spawn_blocking(move || {
            let mut workload = Workload::new(1000 + client as u64);
            for _ in 0..passed {
                workload.statement();
            }
            workload
        });
        workloads.push(workload);
    }
    let mut passed_over = Vec::new();
    for workload in workloads {
        passed_over.push(workload.await.unwrap());
    }
    let started = Instant::now();
    load(http, passed_over, size - kept, kept).await;
    let seconds = started.elapsed().as_secs_f64();
    format!(
        "Reused database holding {kept} statements of an earlier preload (BENCH_REUSE=1), \
         topped up to {size} through the LRS (POST batches of {PRELOAD_BATCH}, \
         {PRELOAD_CLIENTS} clients) in {seconds:.0} s ({:.0} statements/s) with the \
         learning feed running.",
        (size - kept) as f64 / seconds.max(1e-3),
    )
}

/// Sends `count` more Statements of the preload, `PRELOAD_CLIENTS` clients each from its
/// own Workload (`done` already sent); returns the Workloads to go on from.
async fn load(http: &Http, workloads: Vec<Workload>, count: usize, done: usize) -> Vec<Workload> {
    let per_client = count / PRELOAD_CLIENTS;
    let loaders: Vec<_> = workloads
        .into_iter()
        .enumerate()
        .map(|(client, mut workload)| {
            let http = http.clone();
            let count = if client == 0 {
                per_client + count % PRELOAD_CLIENTS
            } else {
                per_client
            };
            tokio::spawn(async move {
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
                        println!("  preloaded ~{} statements", done + sent * PRELOAD_CLIENTS);
                    }
                }
                workload
            })
        })
        .collect();
    let mut workloads = Vec::new();
    for loader in loaders {
        workloads.push(loader.await.unwrap());
    }
    workloads
}

/// Connections inserting the Workload's JSON straight into `raw_statements`: 100-row
/// and single-row INSERTs prepared on each, and binary COPY.
pub struct RawWriters {
    connections: Vec<Arc<tokio_postgres::Client>>,
    multi: Vec<Statement>,
    single: Vec<Statement>,
}

impl RawWriters {
    pub async fn connect(run: &Run<'_>, clients: usize) -> RawWriters {
        let multi_sql = format!(
            "INSERT INTO raw_statements (id, statement) VALUES {}",
            (0..100)
                .map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let types: Vec<Type> = (0..100).flat_map(|_| [Type::UUID, Type::JSONB]).collect();
        let mut writers = RawWriters {
            connections: Vec::new(),
            multi: Vec::new(),
            single: Vec::new(),
        };
        for _ in 0..clients {
            let client = run.connect().await;
            writers
                .multi
                .push(client.prepare_typed(&multi_sql, &types).await.unwrap());
            writers.single.push(
                client
                    .prepare_typed(
                        "INSERT INTO raw_statements (id, statement) VALUES ($1, $2)",
                        &[Type::UUID, Type::JSONB],
                    )
                    .await
                    .unwrap(),
            );
            writers.connections.push(Arc::new(client));
        }
        writers
    }

    /// Client `client`'s op: `rows` Statements per INSERT (1 or 100), or per COPY when
    /// `how` is `copy`.
    pub fn op(&self, client: usize, rows: usize, how: &'static str, bodies: &Arc<Bodies>) -> Op {
        let db = self.connections[client].clone();
        let statement = if rows == 1 {
            self.single[client].clone()
        } else {
            self.multi[client].clone()
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
    }
}

/// PostgreSQL's own limit: the same Workload JSON inserted straight into
/// `raw_statements`, pre-filled with the store's Statements so its index is as large
/// (copied first when `copy`; otherwise the table holds such a copy already).
pub async fn raw_limit(run: &Run<'_>, bodies: &Arc<Bodies>, copy: bool) -> Vec<Scenario> {
    let clients = run.config.clients;
    let mut scenarios = Vec::new();
    if copy {
        copy_store_to_raw(&run.connect().await).await;
    }
    let writers = RawWriters::connect(run, clients).await;
    println!("  -- raw PostgreSQL");
    run.checkpoint().await;
    scenarios.extend(
        run.measure("raw INSERT, 100 rows per statement", "raw", clients, |c| {
            writers.op(c, 100, "insert", bodies)
        })
        .await,
    );
    run.checkpoint().await;
    scenarios.extend(
        run.measure("raw INSERT, 1 row per statement", "raw", clients, |c| {
            writers.op(c, 1, "insert", bodies)
        })
        .await,
    );
    run.checkpoint().await;
    scenarios.extend(
        run.measure(
            &format!("raw COPY binary, {COPY_ROWS} rows per COPY"),
            "raw",
            clients,
            |c| writers.op(c, COPY_ROWS, "copy", bodies),
        )
        .await,
    );
    scenarios
}

/// Client `client`'s op of `POST /statements`: `rows` Statements per request (one alone,
/// or an array), each with a fresh id.
pub fn post_op(http: &Http, bodies: &Arc<Bodies>, client: usize, rows: usize) -> Op {
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
}

/// The LRS's ingest scenarios; also what the learning feed folded in during each.
pub async fn lrs(run: &Run<'_>, http: &Http, bodies: &Arc<Bodies>) -> (Vec<Scenario>, String) {
    println!("  -- LRS ingest");
    let clients = run.config.clients;
    let mut scenarios = Vec::new();
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
            Box::new(|c| post_op(http, bodies, c, 100)),
        ),
        (
            "POST /statements, single",
            Box::new(|c| post_op(http, bodies, c, 1)),
        ),
        ("PUT /statements, single", Box::new(put_op)),
    ];
    // Each ingest scenario starts with the learning feed caught up, so none pays for the
    // backlog another left; what the feed folds in while it runs is that scenario's own
    // Statements, and what it leaves is reported.
    let mut ingest_feed = Vec::new();
    drain_learning_feed(run.cluster, &run.database).await;
    for (name, make) in ingest {
        run.checkpoint().await;
        let feed = FeedProgress::read(run.cluster, &run.database).await;
        let scenario = run.measure(name, "lrs", clients, make).await;
        // Reads too are measured once the feed has caught up (`after` drains it), so no
        // read figure pays for an ingest scenario's backlog.
        ingest_feed.extend(
            feed.after(scenario.as_ref(), run.cluster, &run.database)
                .await,
        );
        scenarios.extend(scenario);
    }
    (scenarios, ingest_feed.join(" "))
}
