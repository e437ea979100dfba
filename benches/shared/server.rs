//! `commonplace serve` as a bench's server: started on a free loopback port with the
//! bench's bootstrap credential, and awaited until it answers. Shared by the bench
//! binaries (`#[path]`); each keeps its own handle (and how it is stopped).

use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const KEY: &str = "bench";
pub const SECRET: &str = "bench-secret-not-for-production-use";

/// Starts `server_bin serve` against `database_url`, its output (JSON logs) into `log`:
/// the process and its port.
pub fn spawn(server_bin: &Path, database_url: &str, log: File) -> (Child, u16) {
    spawn_with(server_bin, database_url, log, &[])
}

/// [`spawn`] with more `serve` flags (`extra`), for a bench's variant of the server.
pub fn spawn_with(
    server_bin: &Path,
    database_url: &str,
    log: File,
    extra: &[String],
) -> (Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(server_bin)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            database_url,
            "--log-format",
            "json",
        ])
        .args(extra)
        .env("COMMONPLACE_BOOTSTRAP_KEY", KEY)
        .env("COMMONPLACE_BOOTSTRAP_SECRET", SECRET)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", server_bin.display()));
    (child, port)
}

/// Waits until the server on `port` answers `/health` with 200; panics (the log at
/// `log` says why) when it exits first or is not ready within 120 s of `started`.
pub async fn until_ready(child: &mut Child, port: u16, log: &Path, started: Instant) {
    let http = reqwest::Client::new();
    let health = format!("http://127.0.0.1:{port}/health");
    loop {
        if let Ok(response) = http.get(&health).send().await {
            if response.status() == 200 {
                return;
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the server exited ({status}); see {}", log.display());
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the server was not ready within 120 s; see {}",
            log.display()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
