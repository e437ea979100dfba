//! SIGTERM: stop accepting, finish in-flight requests, stop the embedded PostgreSQL,
//! exit 0; nothing acknowledged is lost.

use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};

use crate::load;
use crate::server::{start, OwnCluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_drains_in_flight_requests_then_stops_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let mut server = start(
        &[
            "--data-dir",
            data_dir.to_str().unwrap(),
            "--shutdown-grace",
            "20",
        ],
        &[],
    );
    let postmaster = OwnCluster::postmaster_of(&data_dir);
    // Large batches so that requests are in flight when the signal comes.
    let load = load::start(&[server.port], 6, 200);
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let signalled = Instant::now();
    server.signal(Signal::SIGTERM);
    let status = tokio::task::spawn_blocking(move || {
        let status = server.wait(Duration::from_secs(30));
        (status, server)
    })
    .await
    .unwrap();
    let exited = signalled.elapsed();
    let outcomes = load.finish().await;
    assert!(
        status.0.success(),
        "exit status after SIGTERM: {}",
        status.0
    );
    assert!(
        kill(postmaster, None).is_err(),
        "the embedded PostgreSQL stopped with the server"
    );
    for o in &outcomes {
        assert!(
            o.status == 200 || o.status == 0 || o.status == 503,
            "got {} during shutdown",
            o.status
        );
    }
    let drained = outcomes
        .iter()
        .filter(|o| o.started < signalled && o.started + o.elapsed > signalled && o.status == 200)
        .count();
    assert!(drained > 0, "no in-flight request completed after SIGTERM");
    let refused_later = outcomes
        .iter()
        .filter(|o| o.started > signalled + exited)
        .all(|o| o.status == 0);
    assert!(refused_later, "requests after exit are not answered");

    let cluster = OwnCluster::start(&data_dir);
    let db = cluster.connect("commonplace").await;
    let tally = load::verify(&db, &outcomes).await;
    eprintln!("SIGTERM: exited after {exited:?}; {drained} in-flight batches completed; {tally:?}");
    drop(status.1);
}
