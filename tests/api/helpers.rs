//! Shared by several test binaries, each of which uses a different part.
#![allow(dead_code)]
//! The real app on a random port, against a fresh database in a private PostgreSQL
//! cluster that this test binary starts once and that stops when the binary exits.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::OnceLock;

use chrono::NaiveDate;
use commonplace::auth::{NewSecret, Scope};
use commonplace::configuration::Settings;
use commonplace::startup::Application;
use commonplace::store::credentials::{self, NewCredential};
use commonplace::store::embedded::Cluster;
use commonplace::store::statement_reads::{self, PagePosition};
use commonplace::store::Source;
use deadpool_postgres::Pool;
use reqwest::header::{HeaderMap, HeaderValue};
use tokio_postgres::NoTls;

static CLUSTER: OnceLock<Cluster> = OnceLock::new();

/// The cluster shared by every test of this binary.
pub fn cluster() -> &'static Cluster {
    CLUSTER.get_or_init(|| {
        let base = std::env::temp_dir().join("commonplace-tests");
        std::fs::create_dir_all(&base).expect("create test dir");
        remove_dirs_of_finished_runs(&base);
        let dir = base.join(std::process::id().to_string());
        Cluster::start(&dir).expect("start the test PostgreSQL cluster")
    })
}

/// Each run leaves its cluster directory behind (its server outlives the statics);
/// the next run removes those whose process is gone.
fn remove_dirs_of_finished_runs(base: &std::path::Path) {
    for entry in std::fs::read_dir(base).into_iter().flatten().flatten() {
        let alive = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
            .is_some_and(|pid| PathBuf::from(format!("/proc/{pid}")).exists());
        if !alive {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// A connection string for a brand-new empty database on the test cluster.
pub async fn fresh_database() -> String {
    let cluster = cluster();
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let (client, connection) = cluster
        .config("postgres")
        .connect(NoTls)
        .await
        .expect("connect to the test cluster");
    let driver = tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create test database");
    drop(client);
    let _ = driver.await;
    format!(
        "host={} user=commonplace dbname={name}",
        cluster.socket_dir().display()
    )
}

#[derive(Clone)]
pub struct TestApp {
    pub address: SocketAddr,
    pub pool: Pool,
    pub database_url: String,
    pub http: reqwest::Client,
    /// An `all`-scoped credential of the default store.
    pub key: String,
    pub secret: String,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    /// Creates a credential with these scopes in `store` and returns it.
    pub async fn credential(&self, store: &str, scopes: &[Scope]) -> NewSecret {
        credentials::create(
            &self.pool,
            NewCredential {
                name: "test",
                store,
                scopes,
                tags: &Default::default(),
                fixed: None,
            },
        )
        .await
        .expect("create credential")
    }

    /// A credential of the default store with this key and secret (rather than
    /// generated ones) and these scopes.
    pub async fn chosen_credential(&self, key: &str, secret: &str, scopes: &[Scope]) -> NewSecret {
        let chosen = NewSecret {
            key: key.into(),
            secret: secret.into(),
        };
        credentials::create(
            &self.pool,
            NewCredential {
                name: "chosen",
                store: "default",
                scopes,
                tags: &Default::default(),
                fixed: Some(chosen.clone()),
            },
        )
        .await
        .expect("create credential");
        chosen
    }

    /// A `statements/write` credential of the default store with these tags (e.g.
    /// `source=browser`), as the learning-mode rules and the privacy rules read them.
    pub async fn tagged_writer(&self, name: &str, tags: &[(&str, &str)]) -> NewSecret {
        let tags: BTreeMap<String, String> = tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        credentials::create(
            &self.pool,
            NewCredential {
                name,
                store: "default",
                scopes: &[Scope::StatementsWrite],
                tags: &tags,
                fixed: None,
            },
        )
        .await
        .expect("create credential")
    }

    /// The id of the `default` store.
    pub async fn default_store_id(&self) -> i64 {
        let client = self.pool.get().await.unwrap();
        client
            .query_one("SELECT id FROM stores WHERE name = 'default'", &[])
            .await
            .unwrap()
            .get(0)
    }

    /// The default store's id, and where a first page of it starts now: the result
    /// set's pin and consistency time, as `GET /statements` takes them.
    pub async fn first_page_position(&self) -> (i64, PagePosition) {
        let store_id = self.default_store_id().await;
        let watermark = statement_reads::snapshot(&self.pool, store_id, false)
            .await
            .unwrap();
        let position = PagePosition {
            after: None,
            pin: watermark.pin,
            consistent_through: watermark.consistent_through,
        };
        (store_id, position)
    }

    /// `GET /metrics`, checked to be Prometheus text.
    pub async fn metrics_text(&self) -> String {
        let response = self.http.get(self.url("/metrics")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(content_type.starts_with("text/plain"), "{content_type}");
        response.text().await.unwrap()
    }

    /// How many Statements the database holds (every store).
    pub async fn stored_statements(&self) -> i64 {
        let client = self.pool.get().await.unwrap();
        client
            .query_one("SELECT count(*) FROM statements", &[])
            .await
            .unwrap()
            .get(0)
    }

    /// Runs `commonplace ARGS --database-url URL` against this app's database: its
    /// stdout when it succeeds, its stderr when it fails.
    pub fn command(&self, args: &[&str]) -> Result<String, String> {
        command(&self.database_url, args)
    }

    /// [`TestApp::command`], awaited rather than waited for: a roster import or a
    /// reclassification waits for a feed pass that the server, on this test's runtime,
    /// may be running, so blocking the runtime would wait forever.
    pub async fn command_awaited(&self, args: &[&str]) -> Result<String, String> {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_commonplace"))
            .args(args)
            .args(["--database-url", &self.database_url])
            .env_remove("COMMONPLACE_DATABASE_URL")
            .output()
            .await
            .expect("run commonplace");
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        if output.status.success() {
            Ok(text(&output.stdout))
        } else {
            Err(text(&output.stderr))
        }
    }

    /// Replaces the store's roster with `csv` through the real CLI.
    pub async fn import_roster(&self, csv: &str) {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), csv).unwrap();
        let path = file.path().to_str().unwrap();
        if let Err(e) = self.command_awaited(&["roster", "import", path]).await {
            panic!("roster import: {e}");
        }
    }

    /// A connection of its own, outside the pool: to hold a transaction open while the
    /// server works.
    pub async fn dedicated_connection(&self) -> tokio_postgres::Client {
        connect(&self.database_url).await
    }

    /// A GET of a report or the dashboard (outside xAPI: no version header) with the
    /// `all` credential.
    pub fn report(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(self.url(path))
            .basic_auth(&self.key, Some(&self.secret))
    }

    /// A request with the `all` credential and an xAPI 2.0.0 header.
    pub fn xapi(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.xapi_with(&self.key, &self.secret, method, path)
    }

    /// A request with another credential (`who`) and an xAPI 2.0.0 header.
    pub fn xapi_as(
        &self,
        who: &NewSecret,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        self.xapi_with(&who.key, &who.secret, method, path)
    }

    fn xapi_with(
        &self,
        key: &str,
        secret: &str,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .basic_auth(key, Some(secret))
            .header("X-Experience-API-Version", "2.0.0")
    }
}

/// Runs `commonplace ARGS --database-url URL` (the environment's database URL left out):
/// its stdout when it succeeds, its stderr when it fails.
pub fn command<S: AsRef<std::ffi::OsStr>>(
    database_url: &str,
    args: &[S],
) -> Result<String, String> {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_commonplace"))
        .args(args)
        .args(["--database-url", database_url])
        .env_remove("COMMONPLACE_DATABASE_URL")
        .output()
        .expect("run commonplace");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    if output.status.success() {
        Ok(text(&output.stdout))
    } else {
        Err(text(&output.stderr))
    }
}

/// tests/js: the Node drivers and clients the browser and client tests run, with their
/// packages pinned in its lockfile.
pub fn js_dir() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js")
}

/// Installs the pinned packages of tests/js (`npm ci`) once per test binary, unless the
/// install is already there and no older than the lockfile (npm writes
/// `node_modules/.package-lock.json` when it installs).
pub fn install_js_packages() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let modified = |p: PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        let installed = modified(js_dir().join("node_modules/.package-lock.json"));
        if installed.is_none() || installed < modified(js_dir().join("package-lock.json")) {
            let status = std::process::Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(js_dir())
                .status()
                .expect("npm is needed for the tests that run tests/js");
            assert!(status.success(), "npm ci failed in tests/js");
        }
    });
}

/// A client whose requests come from `address` (any of 127.0.0.0/8 reaches the
/// server), so that the per-address counter of one client leaves another's alone.
pub fn client_from(address: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(address.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap()
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_on(fresh_database().await, adjust).await
}

/// The app with the test settings, `adjust`ed, on a database of the caller's (another
/// cluster's, or one reached through a pooler).
pub async fn spawn_app_on(database_url: String, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = test_settings("127.0.0.1:0".parse().unwrap(), &database_url);
    adjust(&mut settings);
    let app = Application::build(settings).await.expect("build app");
    let pool = app.pool().clone();
    let address: SocketAddr = format!("127.0.0.1:{}", app.port()).parse().unwrap();
    tokio::spawn(app.run_until_stopped());
    let secret = credential_for_everything(&pool).await;
    let mut headers = HeaderMap::new();
    headers.insert("accept", HeaderValue::from_static("application/json"));
    TestApp {
        address,
        pool,
        database_url,
        http: reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .unwrap(),
        key: secret.key,
        secret: secret.secret,
    }
}

/// A test server's settings: listening on `listen`, against `database_url`, with a small
/// pool and one worker (the machine running the tests has two cores).
pub fn test_settings(listen: SocketAddr, database_url: &str) -> Settings {
    let mut settings = Settings::new(listen, Source::External(database_url.to_string()));
    settings.pool.size = 4;
    settings.workers = Some(1);
    settings
}

/// A credential named `all` with every scope in the default store.
pub async fn credential_for_everything(pool: &Pool) -> NewSecret {
    credentials::create(
        pool,
        NewCredential {
            name: "all",
            store: "default",
            scopes: &[Scope::All],
            tags: &Default::default(),
            fixed: None,
        },
    )
    .await
    .expect("create credential")
}

/// The `error` object of a JSON error body, asserting its shape.
pub async fn error_of(response: reqwest::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.expect("error body is JSON");
    let code = body["error"]["code"]
        .as_str()
        .expect("error.code")
        .to_string();
    let message = body["error"]["message"]
        .as_str()
        .expect("error.message")
        .to_string();
    (status, code, message)
}

/// An `Authorization` header value of HTTP Basic for this key and secret, as a form
/// field of the alternate request syntax carries it.
/// POSTs Statements (one or a batch) and asserts they were stored.
pub async fn post_statements(app: &TestApp, body: &serde_json::Value) {
    let response = app
        .xapi(reqwest::Method::POST, "/xapi/statements")
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

/// The demo data (`commonplace::demo::statements`) of the `weeks` weeks up to `today`,
/// posted as `commonplace demo` posts it. `demo::run` dates its data by the clock when
/// it runs; a test that dates its period too takes `today` once and passes it here,
/// so a midnight in between cannot put the two on different days.
pub async fn post_demo(app: &TestApp, learners: usize, weeks: u32, seed: u64, today: NaiveDate) {
    let all = commonplace::demo::statements(learners, weeks, seed, today);
    assert!(!all.is_empty());
    for batch in all.chunks(250) {
        post_statements(app, &serde_json::json!(batch)).await;
    }
}

pub fn basic_authorization(key: &str, secret: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{key}:{secret}"))
    )
}

/// A connection to the database at `url`, outside any pool.
pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = url
        .parse::<tokio_postgres::Config>()
        .unwrap()
        .connect(tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

/// Waits until no other backend of `client`'s database is busy: a write abandoned by
/// the server (its connection closed) has then committed or rolled back for good.
pub async fn until_other_backends_idle(client: &tokio_postgres::Client) {
    for _ in 0..100 {
        let busy: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                  WHERE datname = current_database() AND pid <> pg_backend_pid()
                    AND state <> 'idle'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if busy == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("an abandoned write's backend is still busy");
}

/// The value of the metrics sample whose name and labels are exactly `series`, 0 when
/// absent.
pub fn metric_sample(text: &str, series: &str) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            (name == series).then(|| value.parse().unwrap())
        })
        .unwrap_or(0.0)
}

/// Takes one seq the way a writer does, in `tx`: it stays in flight until `tx` ends.
pub async fn reserve_one_seq(tx: &tokio_postgres::Transaction<'_>) -> i64 {
    tx.query_one(
        "SELECT first_seq FROM commonplace_reserve_statements(1)",
        &[],
    )
    .await
    .unwrap()
    .get(0)
}

/// Runs headless Chromium with `args` off the runtime's thread: the app under test is
/// served by this same runtime, so blocking it would leave the page unanswered.
pub async fn chromium(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        let profile = tempfile::tempdir().unwrap();
        std::process::Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-quic",
                "--no-first-run",
                "--disable-component-update",
                "--disable-sync",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(&args)
            .output()
            .expect("run chromium (Debian: apt-get install -y chromium)")
    })
    .await
    .unwrap()
}

/// The term entries that differ from those the Statements' `terms` make (one per
/// Statement and term: seq * 256 + the classes of the term's kinds), counted both ways:
/// 0 when `statement_terms` is exactly right.
pub const MISFILED_ENTRIES: &str = "WITH made AS (
         SELECT x >> 8 AS term, s.seq * 256 + bit_or(commonplace_term_class((x & 255)::int4)) AS entry
           FROM statements s, unnest(s.terms) AS x GROUP BY s.seq, x >> 8
     )
     SELECT (SELECT count(*) FROM (SELECT * FROM made EXCEPT ALL
                                   SELECT term, entry FROM statement_terms) missing)
          + (SELECT count(*) FROM (SELECT term, entry FROM statement_terms EXCEPT ALL
                                   SELECT * FROM made) extra)";
