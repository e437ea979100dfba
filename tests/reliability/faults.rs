//! Database faults under a write load: PostgreSQL stopped and killed mid-load, and the
//! server killed mid-batch.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::load::{self, Outcome};
use crate::server::{client, start, OwnCluster, Server};

const DATABASE_TIMEOUT: u64 = 2;

async fn health(http: &reqwest::Client, server: &Server) -> (u16, bool) {
    match http.get(server.url("/health")).send().await {
        Ok(r) => (r.status().as_u16(), r.headers().contains_key("retry-after")),
        Err(_) => (0, false),
    }
}

async fn wait_healthy(http: &reqwest::Client, server: &Server, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        if health(http, server).await.0 == 200 {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "the server did not recover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One outage: PostgreSQL goes down with `signal`, stays down `down`, comes back.
async fn outage(
    cluster: &mut OwnCluster,
    server: &Server,
    signal: Signal,
    down: Duration,
) -> (Instant, Instant) {
    let http = client();
    cluster.kill(signal);
    // From here on the postmaster is gone: nothing may succeed until it is back.
    let killed = Instant::now();
    tokio::time::sleep(down).await;
    let (status, retry_after) = health(&http, server).await;
    assert_eq!(
        (status, retry_after),
        (503, true),
        "/health while PostgreSQL is down"
    );
    let restarting = Instant::now();
    cluster.restart();
    let recovery = wait_healthy(&http, server, Duration::from_secs(30)).await;
    eprintln!("{signal:?}: the server was healthy again {recovery:?} after PostgreSQL restarted");
    (killed, restarting)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_stopped_or_killed_mid_load_fails_fast_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut cluster = OwnCluster::start(dir.path());
    cluster.create_database("lrs").await;
    let url = cluster.url("lrs");
    let timeout = DATABASE_TIMEOUT.to_string();
    let server = start(
        &[
            "--database-url",
            &url,
            "--database-timeout",
            &timeout,
            "--pool-size",
            "8",
            "--workers",
            "2",
        ],
        &[],
    );
    let load = load::start(&[server.port], 8, 5);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut windows = Vec::new();
    for signal in [Signal::SIGINT, Signal::SIGKILL] {
        windows.push(outage(&mut cluster, &server, signal, Duration::from_secs(3)).await);
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    let outcomes = load.finish().await;

    let statuses = outcomes.iter().fold(
        std::collections::BTreeMap::<u16, usize>::new(),
        |mut m, o| {
            *m.entry(o.status).or_default() += 1;
            m
        },
    );
    let slowest_503 = outcomes
        .iter()
        .filter(|o| o.status == 503)
        .map(|o| o.elapsed)
        .max();
    eprintln!("statuses: {statuses:?}; slowest 503: {slowest_503:?}");
    for o in &outcomes {
        assert!(
            o.status == 200 || o.status == 503,
            "only 200 or 503 under a database outage, got {}",
            o.status
        );
        if o.status == 503 {
            assert!(o.retry_after, "503 without Retry-After");
        }
        assert!(
            o.elapsed < Duration::from_secs(DATABASE_TIMEOUT + 3),
            "a request hung for {:?}",
            o.elapsed
        );
    }
    let during = |o: &&Outcome| {
        windows
            .iter()
            .any(|(down, up)| o.started > *down + Duration::from_millis(100) && o.started < *up)
    };
    assert!(
        outcomes.iter().filter(during).all(|o| o.status == 503),
        "a write succeeded while PostgreSQL was down"
    );
    assert!(statuses.get(&503).is_some_and(|n| *n > 0));
    let last_outage_end = windows.last().unwrap().1;
    assert!(
        outcomes
            .iter()
            .any(|o| o.status == 200 && o.started > last_outage_end),
        "writes succeed again after recovery"
    );

    let db = cluster.connect("lrs").await;
    let tally = load::verify(&db, &outcomes).await;
    eprintln!("postgres outages: {tally:?}");
    let failed_after_stop = server.log();
    assert!(
        !failed_after_stop.contains("panicked"),
        "the server panicked: {failed_after_stop}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_server_killed_mid_batch_leaves_whole_batches_or_nothing() {
    let url = crate::helpers::fresh_database().await;
    let mut server = start(&["--database-url", &url, "--workers", "2"], &[]);
    let load = load::start(&[server.port], 8, 50);
    tokio::time::sleep(Duration::from_millis(2000)).await;
    server.signal(Signal::SIGKILL);
    server.wait(Duration::from_secs(10));
    let outcomes = load.finish().await;
    let db = crate::helpers::connect(&url).await;
    let tally = load::verify(&db, &outcomes).await;
    eprintln!("server kill -9: {tally:?}");
    assert!(tally.acknowledged > 0);
    assert!(
        outcomes.iter().any(|o| o.status == 0),
        "some requests were cut off by the kill"
    );

    // A new server on the same database; clients retry what was not acknowledged,
    // and each retry is accepted without duplicates.
    let server = start(&["--database-url", &url], &[]);
    let http = client();
    for o in outcomes.iter().filter(|o| o.status != 200) {
        let retried = load::send(&http, server.port, &o.body, &o.ids).await;
        assert_eq!(retried.status, 200, "a retry of an unacknowledged batch");
    }
    let retried: Vec<Outcome> = outcomes
        .into_iter()
        .map(|mut o| {
            o.status = 200;
            o
        })
        .collect();
    let tally = load::verify(&db, &retried).await;
    assert_eq!(tally.acknowledged, tally.acknowledged_found);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_server_restarts_its_embedded_postgres_after_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let mut server = start(
        &[
            "--data-dir",
            data_dir.to_str().unwrap(),
            "--database-timeout",
            "2",
        ],
        &[],
    );
    let http = client();
    let first = OwnCluster::postmaster_of(&data_dir);
    let load = load::start(&[server.port], 4, 5);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    nix::sys::signal::kill(first, Signal::SIGKILL).unwrap();
    let killed = Instant::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let recovery = wait_healthy(&http, &server, Duration::from_secs(60)).await;
    let second = OwnCluster::postmaster_of(&data_dir);
    assert_ne!(first, second, "a new postmaster runs");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let outcomes = load.finish().await;
    eprintln!(
        "embedded postmaster kill -9: healthy again {:?} after the kill",
        killed.elapsed() - Duration::from_millis(300) + recovery
    );
    for o in &outcomes {
        assert!(o.status == 200 || o.status == 503, "got {}", o.status);
    }
    assert!(outcomes
        .iter()
        .any(|o| o.status == 200 && o.started > killed + recovery));

    server.signal(Signal::SIGTERM);
    let status = server.wait(Duration::from_secs(60));
    assert!(status.success(), "{status}");
    assert!(
        nix::sys::signal::kill(second, None).is_err(),
        "the restarted PostgreSQL stops with the server"
    );
    let cluster = OwnCluster::start(&data_dir);
    let db = cluster.connect("commonplace").await;
    let tally = load::verify(&db, &outcomes).await;
    eprintln!("embedded postmaster kill -9: {tally:?}");
}

/// The postmaster and its children (backends, background workers).
fn cluster_processes(postmaster: nix::unistd::Pid) -> Vec<nix::unistd::Pid> {
    let mut all = vec![postmaster];
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let ppid: i32 = rest
            .split_whitespace()
            .nth(1)
            .unwrap_or("0")
            .parse()
            .unwrap_or(0);
        if ppid == postmaster.as_raw() {
            if let Ok(pid) = entry.file_name().to_string_lossy().parse() {
                all.push(nix::unistd::Pid::from_raw(pid));
            }
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_frozen_postgres_gets_503_within_the_request_timeout_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = OwnCluster::start(dir.path());
    cluster.create_database("lrs").await;
    let url = cluster.url("lrs");
    let server = start(
        &[
            "--database-url",
            &url,
            "--database-timeout",
            "2",
            "--request-timeout",
            "3",
        ],
        &[],
    );
    let http = client();
    let mut outcomes = Vec::new();
    for _ in 0..4 {
        let (body, ids) = load::batch(3);
        let o = load::send(&http, server.port, &body, &ids).await;
        assert_eq!(o.status, 200);
        outcomes.push(o);
    }
    let frozen = cluster_processes(cluster.postmaster());
    for pid in &frozen {
        let _ = nix::sys::signal::kill(*pid, Signal::SIGSTOP);
    }
    let requests = (0..6).map(|_| {
        let http = http.clone();
        let port = server.port;
        async move {
            let (body, ids) = load::batch(3);
            load::send(&http, port, &body, &ids).await
        }
    });
    let health_started = Instant::now();
    let (during, health) = tokio::join!(
        futures_util::future::join_all(requests),
        health(&http, &server)
    );
    let health_took = health_started.elapsed();
    for pid in &frozen {
        let _ = nix::sys::signal::kill(*pid, Signal::SIGCONT);
    }
    assert_eq!(health, (503, true), "/health while PostgreSQL is frozen");
    assert!(health_took < Duration::from_secs(5), "{health_took:?}");
    for o in &during {
        assert_eq!((o.status, o.retry_after), (503, true));
        assert!(o.elapsed < Duration::from_secs(5), "{:?}", o.elapsed);
    }
    eprintln!(
        "frozen PostgreSQL: slowest answer {:?}",
        during.iter().map(|o| o.elapsed).max()
    );
    outcomes.extend(during);
    wait_healthy(&http, &server, Duration::from_secs(30)).await;
    let (body, ids) = load::batch(3);
    let after = load::send(&http, server.port, &body, &ids).await;
    assert_eq!(after.status, 200, "works again once PostgreSQL thaws");
    outcomes.push(after);
    let db = cluster.connect("lrs").await;
    let tally = load::verify(&db, &outcomes).await;
    eprintln!("frozen PostgreSQL: {tally:?}");
}
