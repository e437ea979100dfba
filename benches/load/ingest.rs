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
use uuid::Uuid;

use crate::cluster::connect;
use crate::harness::{
    copy_store_to_raw, db_error, drain_learning_feed, fresh_id, send, Bodies, FeedProgress, Http,
    JsonbText,
};
use crate::measure::{MakeOp, Op, Scenario};
use crate::Run;

const PRELOAD_BATCH: usize = 500;
const PRELOAD_CLIENTS: usize = 4;
const COPY_ROWS: usize = 1_000;

/// Fills a new database with `size` distinct Workload Statements through the LRS, and
/// says how it went.
pub async fn preload(http: &Http, cluster: &Cluster, database: &str, size: usize) -> String {
    if size == 0 {
        return "Empty store.".to_string();
    }
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
    let feed = drain_learning_feed(cluster, database).await;
    let client = connect(cluster, database).await;
    client.batch_execute("VACUUM ANALYZE").await.unwrap();
    format!(
        "Preloaded {size} distinct Workload statements through the LRS (POST batches of \
         {PRELOAD_BATCH}, {PRELOAD_CLIENTS} clients) in {took:.0} s ({:.0} statements/s). \
         After the preload, {feed} Then VACUUM ANALYZE.",
        size as f64 / took
    )
}

/// PostgreSQL's own limit: the same Workload JSON inserted straight into
/// `raw_statements`, pre-filled with the store's Statements so its index is as large.
pub async fn raw_limit(run: &Run<'_>, bodies: &Arc<Bodies>) -> Vec<Scenario> {
    let clients = run.config.clients;
    let mut scenarios = Vec::new();
    copy_store_to_raw(&run.connect().await).await;
    let mut raw_clients = Vec::new();
    for _ in 0..clients {
        raw_clients.push(Arc::new(run.connect().await));
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
    run.checkpoint().await;
    scenarios.extend(
        run.measure("raw INSERT, 100 rows per statement", "raw", clients, |c| {
            raw_op(c, 100, "insert")
        })
        .await,
    );
    run.checkpoint().await;
    scenarios.extend(
        run.measure("raw INSERT, 1 row per statement", "raw", clients, |c| {
            raw_op(c, 1, "insert")
        })
        .await,
    );
    run.checkpoint().await;
    scenarios.extend(
        run.measure(
            &format!("raw COPY binary, {COPY_ROWS} rows per COPY"),
            "raw",
            clients,
            |c| raw_op(c, COPY_ROWS, "copy"),
        )
        .await,
    );
    drop(raw_clients);
    scenarios
}

/// The LRS's ingest scenarios; also what the learning feed folded in during each.
pub async fn lrs(run: &Run<'_>, http: &Http, bodies: &Arc<Bodies>) -> (Vec<Scenario>, String) {
    println!("  -- LRS ingest");
    let clients = run.config.clients;
    let mut scenarios = Vec::new();
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
