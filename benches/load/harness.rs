//! What every scenario stands on: the Workload bodies, the server process, the bench
//! cluster's databases and the learning feed, and the HTTP client.

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::BytesMut;
use commonplace::store::embedded::Cluster;
use commonplace::workload::Workload;
use rand::rngs::StdRng;
use rand::Rng;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use uuid::Uuid;

use crate::cluster::connect;
use crate::measure::{truncate, Scenario};
use crate::server::{self, KEY, SECRET};
use crate::Config;

/// Workload Statements serialised without their id, ready to take a fresh one.
pub struct Bodies {
    without_id: Vec<String>,
}

impl Bodies {
    pub fn generate(count: usize) -> Bodies {
        let mut workload = Workload::new(4242);
        let without_id = (0..count)
            .map(|_| {
                let mut statement = workload.statement();
                statement.as_object_mut().unwrap().remove("id");
                serde_json::to_string(&statement).unwrap()
            })
            .collect();
        Bodies { without_id }
    }

    /// Statement `index` (mod the pool) with a fresh id.
    pub fn with_id(&self, index: usize, id: Uuid) -> String {
        let body = &self.without_id[index % self.without_id.len()];
        format!("{{\"id\":\"{id}\",{}", &body[1..])
    }
}

pub fn db_error(e: tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

pub fn fresh_id(rng: &mut StdRng) -> Uuid {
    uuid::Builder::from_random_bytes(rng.gen()).into_uuid()
}

/// Text already holding JSON, sent as a `jsonb` parameter (binary format: version 1,
/// then the text) without parsing it in the driver.
#[derive(Debug)]
pub struct JsonbText<'a>(pub &'a str);

impl ToSql for JsonbText<'_> {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(&[1]);
        out.extend_from_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSONB
    }

    to_sql_checked!();
}

pub struct Server {
    child: Child,
    port: u16,
}

/// The server's log, appended to by each start.
fn log_file(log: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("server log")
}

impl Server {
    /// Starts the server and waits until `/health` answers 200; returns it and the time
    /// that took.
    pub async fn start(config: &Config, database_url: &str, log: &Path) -> (Server, Duration) {
        let started = Instant::now();
        let (child, port) = server::spawn(&config.server_bin, database_url, log_file(log));
        Server::until_ready(child, port, log, started).await
    }

    /// [`Server::start`] with more `serve` flags.
    pub async fn start_with(
        config: &Config,
        database_url: &str,
        log: &Path,
        extra: &[String],
    ) -> (Server, Duration) {
        let started = Instant::now();
        let (child, port) =
            server::spawn_with(&config.server_bin, database_url, log_file(log), extra);
        Server::until_ready(child, port, log, started).await
    }

    async fn until_ready(
        child: Child,
        port: u16,
        log: &Path,
        started: Instant,
    ) -> (Server, Duration) {
        let mut server = Server { child, port };
        server::until_ready(&mut server.child, port, log, started).await;
        (server, started.elapsed())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub async fn stop(mut self) {
        // SIGTERM lets it drain and close its pool; Drop kills it if it takes too long.
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        for _ in 0..300 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A panicking run must not leave its server behind.
impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Waits until the learning feed has folded in every stored Statement; says how many
/// it had left and how long that took.
pub async fn drain_learning_feed(cluster: &Cluster, database: &str) -> String {
    let client = connect(cluster, database).await;
    let started = Instant::now();
    let (seqs, redo) = feed_backlog(&client).await;
    let mut now = (seqs, redo);
    while now != (0, 0) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        now = feed_backlog(&client).await;
    }
    let took = started.elapsed().as_secs_f64();
    format!(
        "the learning feed had {seqs} statements (and {redo} redos) left to fold in, and \
         drained them in {took:.1} s ({:.0} statements/s) with no other load.",
        seqs as f64 / took.max(1e-3)
    )
}

/// The learning feed's advisory lock (`store::learning_feed`, two int4 keys: "comm",
/// "feed"). Its passes take it with a try-lock, so a session holding it keeps every
/// pass from running.
const FEED_LOCK: (i32, i32) = (0x636f_6d6d, 0x6665_6564);

/// The learning feed held back: while this lives, no pass folds anything in, so the
/// Statements stored meanwhile become one backlog.
pub struct FeedHold {
    client: tokio_postgres::Client,
}

impl FeedHold {
    /// Waits for a running pass to end, then holds the feed.
    pub async fn take(cluster: &Cluster, database: &str) -> FeedHold {
        let client = connect(cluster, database).await;
        client
            .execute(
                "SELECT pg_advisory_lock($1, $2)",
                &[&FEED_LOCK.0, &FEED_LOCK.1],
            )
            .await
            .unwrap();
        FeedHold { client }
    }

    /// Lets the feed run again.
    pub async fn release(self) {
        self.client
            .execute(
                "SELECT pg_advisory_unlock($1, $2)",
                &[&FEED_LOCK.0, &FEED_LOCK.1],
            )
            .await
            .unwrap();
    }
}

/// Seqs the learning feed has yet to fold in, and changed Statements it has to redo.
pub async fn feed_backlog(client: &tokio_postgres::Client) -> (i64, i64) {
    let row = client
        .query_one(
            "SELECT commonplace_settled_seq() - last_seq,
                    (SELECT count(*) FROM learning_feed_redo)
               FROM learning_feed",
            &[],
        )
        .await
        .unwrap();
    (row.get::<_, i64>(0).max(0), row.get::<_, i64>(1))
}

/// How far the learning feed had got, and when: what it folds in while ingest
/// scenarios run shows whether it keeps up with them.
pub struct FeedProgress {
    at: Instant,
    last_seq: i64,
}

impl FeedProgress {
    pub async fn read(cluster: &Cluster, database: &str) -> FeedProgress {
        let client = connect(cluster, database).await;
        let last_seq = client
            .query_one("SELECT last_seq FROM learning_feed", &[])
            .await
            .unwrap()
            .get(0);
        FeedProgress {
            at: Instant::now(),
            last_seq,
        }
    }

    /// What the feed folded in since `self` (seqs of this workload are dense), while
    /// `scenario` ran, and how long the rest took it once the scenario had ended; nothing
    /// for a scenario `BENCH_ONLY` left out.
    pub async fn after(
        &self,
        scenario: Option<&Scenario>,
        cluster: &Cluster,
        database: &str,
    ) -> Option<String> {
        let scenario = &scenario?.name;
        let now = FeedProgress::read(cluster, database).await;
        let took = now.at.duration_since(self.at).as_secs_f64();
        let folded = now.last_seq - self.last_seq;
        let note = format!(
            "While {scenario} ran ({took:.0} s), the learning feed folded in {folded} \
             statements ({:.0} statements/s); after it, {}",
            folded as f64 / took.max(1e-3),
            drain_learning_feed(cluster, database).await
        );
        println!("  {note}");
        Some(note)
    }
}

/// Replaces `raw_statements(id uuid primary key, statement jsonb)` with a copy of every
/// stored Statement's JSON (none in an empty store).
pub async fn copy_store_to_raw(client: &tokio_postgres::Client) {
    // VACUUM cannot share a batch: a batch of several statements is one transaction.
    for sql in [
        "DROP TABLE IF EXISTS raw_statements",
        "CREATE TABLE raw_statements AS SELECT id, body::jsonb AS statement FROM statements",
        "ALTER TABLE raw_statements ADD PRIMARY KEY (id)",
        "VACUUM ANALYZE raw_statements",
    ] {
        client.batch_execute(sql).await.unwrap();
    }
}

pub async fn database_statements(cluster: &Cluster, database: &str) -> Option<i64> {
    let admin = connect(cluster, "postgres").await;
    let exists = admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&database])
        .await
        .unwrap()
        .is_some();
    if !exists {
        return None;
    }
    let client = connect(cluster, database).await;
    let count = client
        .query_one("SELECT count(*) FROM statements", &[])
        .await
        .ok()?
        .get(0);
    Some(count)
}

#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    base: String,
    auth: String,
}

impl Http {
    pub fn new(base: String) -> Http {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let auth = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{KEY}:{SECRET}"))
        );
        Http { client, base, auth }
    }

    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        version: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .header("Authorization", &self.auth)
            .header("X-Experience-API-Version", version)
    }
}

/// Sends and checks the status; returns the body.
pub async fn send(request: reqwest::RequestBuilder, expect: u16) -> Result<bytes::Bytes, String> {
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    if status != expect {
        return Err(format!(
            "status {status}: {}",
            truncate(&String::from_utf8_lossy(&body), 300)
        ));
    }
    Ok(body)
}
