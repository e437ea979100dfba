//! One server per data directory: a second `serve` on a directory whose embedded
//! cluster a running server owns refuses to start, naming that server; commands still
//! use the running server's cluster; a killed server leaves nothing that blocks the next;
//! a server never stays behind on a cluster whose owner stopped it.

use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use reqwest::Method;

use crate::server::{client, refused, start, xapi, OwnCluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_a_data_dir_in_use_refuses_and_names_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let data = data_dir.to_str().unwrap();
    let mut first = start(&["--data-dir", data], &[]);
    let http = client();

    let (status, output) = refused(&["--data-dir", data], &[]);
    assert!(
        !status.success(),
        "the second server must not start: {output}"
    );
    assert!(
        output.contains(&format!("pid {}", first.child.id())),
        "{output}"
    );
    assert!(
        output.contains(&format!("127.0.0.1:{}", first.port)),
        "{output}"
    );
    assert!(!output.contains("xAPI endpoint"), "{output}");

    // The first serves on, and a command still uses its cluster.
    let listed = xapi(&http, first.port, Method::GET, "/xapi/statements")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let stores = Command::new(env!("CARGO_BIN_EXE_commonplace"))
        .args(["stores", "list", "--json", "--data-dir", data])
        .env_remove("COMMONPLACE_DATABASE_URL")
        .output()
        .unwrap();
    assert!(stores.status.success(), "{stores:?}");
    assert!(String::from_utf8_lossy(&stores.stdout).contains("\"default\""));

    // Killed, the first leaves its lock file behind naming a dead process; that does
    // not block the next server, started at once on the same directory.
    first.signal(Signal::SIGKILL);
    first.wait(Duration::from_secs(30));
    let left = std::fs::read_to_string(data_dir.join("server.lock")).unwrap();
    assert!(left.starts_with(&first.child.id().to_string()), "{left}");
    let next = start(&["--data-dir", data], &[]);
    let listed = xapi(&http, next.port, Method::GET, "/xapi/statements")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200, "{}", next.log());
    let health = http.get(next.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
}

/// A server started while a command briefly ran the cluster (an `import`, say) uses
/// that cluster; when the command stops it, the server starts its own and serves on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_takes_over_the_cluster_a_command_started_when_it_stops() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let command_cluster = OwnCluster::start(&data_dir);
    let borrowed = command_cluster.postmaster();
    let server = start(&["--data-dir", data_dir.to_str().unwrap()], &[]);
    let http = client();
    let get = || xapi(&http, server.port, Method::GET, "/xapi/statements").send();
    assert_eq!(get().await.unwrap().status(), 200);

    drop(command_cluster);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if get().await.unwrap().status() == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the server never served again: {}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_ne!(OwnCluster::postmaster_of(&data_dir), borrowed);
}
