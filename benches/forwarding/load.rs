//! The load the forwarding bench puts on the source: clients POSTing Workload batches
//! to a server's Statement resource, and waiting for its learning feed.

use std::time::{Duration, Instant};

use commonplace::store::embedded::Cluster;
use commonplace::workload::Workload;

use super::cluster::connect;
use super::report::Rate;
use super::server::{KEY, SECRET};

pub const INGEST_BATCH: usize = 100;

/// `clients` loops POSTing Workload batches of 100 to `statements` (a
/// server's Statement resource) for `seconds`.
pub async fn ingest(statements: &str, clients: usize, seconds: f64, seed: u64) -> Rate {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let url = statements.to_string();
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(seconds);
    let loops: Vec<_> = (0..clients)
        .map(|client| {
            let (http, url) = (http.clone(), url.clone());
            tokio::spawn(async move {
                let mut workload = Workload::new(seed + client as u64);
                let mut sent = 0u64;
                while Instant::now() < until {
                    let body = serde_json::to_vec(&workload.batch(INGEST_BATCH)).unwrap();
                    post(&http, &url, body).await;
                    sent += INGEST_BATCH as u64;
                }
                sent
            })
        })
        .collect();
    let mut sent = 0;
    for client in loops {
        sent += client.await.unwrap();
    }
    Rate::new(sent, started.elapsed())
}

/// One client POSTing a Workload batch of 100 to `statements` every `100 / rate` s for
/// `seconds` (fewer when a POST takes longer than that).
pub async fn ingest_paced(statements: &str, rate: usize, seconds: f64, seed: u64) -> Rate {
    let http = reqwest::Client::new();
    let url = statements.to_string();
    let mut workload = Workload::new(seed);
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(seconds);
    let mut pace = tokio::time::interval(Duration::from_secs_f64(
        INGEST_BATCH as f64 / rate.max(1) as f64,
    ));
    pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sent = 0u64;
    while Instant::now() < until {
        pace.tick().await;
        let body = serde_json::to_vec(&workload.batch(INGEST_BATCH)).unwrap();
        post(&http, &url, body).await;
        sent += INGEST_BATCH as u64;
    }
    Rate::new(sent, started.elapsed())
}

async fn post(http: &reqwest::Client, url: &str, body: Vec<u8>) {
    let response = http
        .post(url)
        .basic_auth(KEY, Some(SECRET))
        .header("X-Experience-API-Version", "2.0.0")
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .expect("POST statements");
    let status = response.status();
    assert_eq!(status, 200, "{}", response.text().await.unwrap_or_default());
}

/// Stores Workload Statements in `database` through `statements` until it holds
/// `total`.
pub async fn top_up(statements: &str, cluster: &Cluster, database: &str, total: usize, seed: u64) {
    let held = held(cluster, database).await;
    let missing = total.saturating_sub(held as usize);
    println!("  storing {missing} more Statements (the source holds {held})");
    let http = reqwest::Client::new();
    let url = statements.to_string();
    let loaders: Vec<_> = (0..4u64)
        .map(|n| {
            let (http, url) = (http.clone(), url.clone());
            let count = missing / 4 + if n == 0 { missing % 4 } else { 0 };
            tokio::spawn(async move {
                let mut workload = Workload::new(seed + n);
                let mut sent = 0;
                while sent < count {
                    let size = 500.min(count - sent);
                    post(
                        &http,
                        &url,
                        serde_json::to_vec(&workload.batch(size)).unwrap(),
                    )
                    .await;
                    sent += size;
                }
            })
        })
        .collect();
    for loader in loaders {
        loader.await.unwrap();
    }
    until_feed_caught_up(&connect(cluster, database).await).await;
}

/// Statements `database` holds (`lag` in `forwarders list` is counted up to 100,000
/// only: the lag of a forwarder of every Statement is this less what it delivered).
pub async fn held(cluster: &Cluster, database: &str) -> u64 {
    let client = connect(cluster, database).await;
    let held: i64 = client
        .query_one("SELECT count(*) FROM statements", &[])
        .await
        .unwrap()
        .get(0);
    held as u64
}

/// Waits until the learning feed has folded every stored Statement in: an ingest
/// scenario that began with a backlog would pay for the one before it.
pub async fn until_feed_caught_up(client: &tokio_postgres::Client) {
    loop {
        let behind: i64 = client
            .query_one(
                "SELECT commonplace_settled_seq() - last_seq FROM learning_feed",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if behind <= 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
