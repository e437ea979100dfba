//! Failover: the server on a multi-host `--database-url` with
//! `target_session_attrs=read-write` rides out a primary that dies (kill -9) and a
//! synchronous standby that is promoted, under a concurrent write load, without a
//! restart and without losing an acknowledged Statement.

use std::time::{Duration, Instant};

use reqwest::Method;

use crate::cluster::{Replicated, DATABASE};
use crate::load::{self, Outcome};
use crate::server::{client, start, xapi};

/// A single POST of one fresh Statement: its status and whether it carried Retry-After.
async fn post_one(http: &reqwest::Client, port: u16) -> (u16, bool) {
    let (body, ids) = load::batch(1);
    let outcome = load::send(http, port, &body, &ids).await;
    (outcome.status, outcome.retry_after)
}

/// How many Statements the learning feed has folded in, and how many it should have.
async fn feed_position(db: &tokio_postgres::Client) -> (i64, i64) {
    let row = db
        .query_one(
            "SELECT last_seq, commonplace_settled_seq() FROM learning_feed",
            &[],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_promoted_standby_takes_over_writes_and_loses_no_acknowledged_statement() {
    let mut clusters = Replicated::start().await;
    clusters.make_synchronous().await;
    let url = clusters.failover_url(DATABASE);
    let server = start(
        &[
            "--database-url",
            &url,
            "--database-timeout",
            "2",
            "--pool-size",
            "8",
            "--workers",
            "2",
        ],
        &[],
    );
    let http = client();
    let load = load::start(&[server.port], 4, 5);
    tokio::time::sleep(Duration::from_millis(1500)).await;

    clusters.primary.kill_9();
    let killed = Instant::now();
    // No primary: the standby is reachable but read-only, so nothing may be written.
    let (status, retry_after) = post_one(&http, server.port).await;
    assert_eq!(
        (status, retry_after),
        (503, true),
        "a write with no primary\n{}",
        server.log()
    );
    let health = http.get(server.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 503, "/health with no primary");
    tokio::time::sleep(Duration::from_millis(500)).await;

    clusters.standby.promote().await;
    let promoted = Instant::now();
    // The same server, never restarted, writes to the new primary.
    loop {
        let (status, _) = post_one(&http, server.port).await;
        if status == 200 {
            break;
        }
        assert!(
            promoted.elapsed() < Duration::from_secs(30),
            "writes did not resume on the promoted standby ({status})\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "writes resumed {:?} after the promotion ({:?} after the kill)",
        promoted.elapsed(),
        killed.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let outcomes = load.finish().await;

    for o in &outcomes {
        assert!(
            o.status == 200 || (o.status == 503 && o.retry_after),
            "only 200, or 503 with Retry-After, across a failover; got {} \n{}",
            o.status,
            server.log()
        );
    }
    let acknowledged = |o: &&Outcome| o.status == 200;
    assert!(
        outcomes
            .iter()
            .filter(acknowledged)
            .any(|o| o.started < killed),
        "writes were acknowledged before the kill"
    );
    assert!(
        outcomes
            .iter()
            .filter(acknowledged)
            .any(|o| o.started > promoted),
        "the load's writes succeed again after the promotion"
    );
    let db = clusters.standby.connect(DATABASE).await;
    let tally = load::verify(&db, &outcomes).await;
    eprintln!("failover: {tally:?}");
    assert_eq!(tally.acknowledged, tally.acknowledged_found);

    // The learning feed, a background task, resumes on the new primary by itself.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (folded, settled) = feed_position(&db).await;
        if folded >= settled {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the learning feed did not resume ({folded} of {settled})\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let read = xapi(&http, server.port, Method::GET, "/xapi/statements?limit=1")
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200, "reads on the new primary");
}

/// A primary made read-only (as a standby is, or a managed service in maintenance)
/// refuses writes with SQLSTATE 25006 on connections the pool already holds: an
/// outage, answered 503 with Retry-After, that ends by itself when it takes writes again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_primary_is_an_outage_until_it_takes_writes_again() {
    let clusters = Replicated::start().await;
    let url = clusters.failover_url(DATABASE);
    let server = start(&["--database-url", &url, "--workers", "1"], &[]);
    let http = client();
    assert_eq!(post_one(&http, server.port).await, (200, false));

    let set_read_only = |on: bool| format!("ALTER SYSTEM SET default_transaction_read_only = {on}");
    let admin = clusters.primary.connect("postgres").await;
    // This session stays writable whatever the default says.
    admin
        .simple_query("SET default_transaction_read_only = off")
        .await
        .unwrap();
    admin.simple_query(&set_read_only(true)).await.unwrap();
    admin.simple_query("SELECT pg_reload_conf()").await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    for _ in 0..3 {
        assert_eq!(
            post_one(&http, server.port).await,
            (503, true),
            "a write refused as read-only\n{}",
            server.log()
        );
    }

    admin.simple_query(&set_read_only(false)).await.unwrap();
    admin.simple_query("SELECT pg_reload_conf()").await.unwrap();
    let writable = Instant::now();
    while post_one(&http, server.port).await.0 != 200 {
        assert!(
            writable.elapsed() < Duration::from_secs(30),
            "writes did not resume\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
