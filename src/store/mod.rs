//! PostgreSQL: where the database comes from, the pool, migrations, and every SQL
//! statement the LRS runs. Nothing outside this module writes SQL.

pub mod activities;
pub mod agents;
mod calendar;
pub mod capture;
pub mod conversion;
pub mod credentials;
pub mod dashboard_reads;
pub mod documents;
pub mod embedded;
pub mod erasure;
pub mod forwarders;
pub mod forwarding;
pub mod forwarding_reads;
pub mod hosts;
pub mod insight;
pub mod learners;
pub mod learning;
pub mod learning_feed;
pub mod migrations;
pub mod modes;
pub mod oauth;
mod pooler;
pub mod replicas;
pub mod reports;
pub mod server_lock;
pub mod sessions;
pub mod statement_reads;
mod statement_sql;
pub mod statements;
mod terms;
pub mod transfer;
pub mod write_queue;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::{Hook, HookError, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use embedded::Cluster;

/// The one error type of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database cannot be reached right now; the caller may retry.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("database error: {0}")]
    Database(tokio_postgres::Error),
    #[error(transparent)]
    Cluster(#[from] embedded::ClusterError),
    /// The database is reached in a way the server cannot work with; start-up stops.
    #[error("{0}")]
    Misconfigured(String),
}

impl From<tokio_postgres::Error> for Error {
    fn from(e: tokio_postgres::Error) -> Self {
        // A closed connection or a server shutting down or starting up (57P) is an
        // outage, not a bug. A deadlock or serialization failure (class 40) is transient
        // too: the transaction was rolled back whole and the client may simply retry.
        // So is a write refused as read-only (25006): the server is a standby, or a
        // primary an operator made read-only, until a failover or the operator ends it.
        let outage = e.is_closed()
            || e.code().is_some_and(|c| {
                ["08", "57P", "40", "25006"]
                    .iter()
                    .any(|class| c.code().starts_with(class))
            })
            || std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
        if outage {
            // tokio-postgres says only "db error"; the server's own words say why.
            Error::Unavailable(match e.as_db_error() {
                Some(db) => format!("{e}: {}", db.message()),
                None => e.to_string(),
            })
        } else {
            Error::Database(e)
        }
    }
}

impl From<deadpool_postgres::PoolError> for Error {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e)
            | deadpool_postgres::PoolError::PostCreateHook(HookError::Backend(e)) => e.into(),
            other => Error::Unavailable(other.to_string()),
        }
    }
}

/// Where the database lives.
#[derive(Debug, Clone)]
pub enum Source {
    /// An operator's PostgreSQL: a URL or `key=value` connection string.
    External(String),
    /// The private cluster in `DATA_DIR/pg`.
    Embedded(PathBuf),
}

#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub size: usize,
    /// How long a request may wait for a connection before it is answered 503.
    pub acquire_timeout: Duration,
    /// How long start-up keeps retrying an external database that is not up yet.
    pub startup_wait: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            size: 16,
            acquire_timeout: Duration::from_secs(5),
            startup_wait: Duration::from_secs(60),
        }
    }
}

/// An open database: the pool and, in embedded mode, the cluster behind it and the
/// watchdog that restarts its postmaster if it dies.
pub struct Database {
    pub pool: Pool,
    cluster: Arc<Mutex<Option<Cluster>>>,
    watchdog: Option<tokio::task::JoinHandle<()>>,
}

impl Database {
    /// Connects (starting the embedded cluster when needed), waits for the server,
    /// and applies pending migrations, logging the progress of a conversion.
    pub async fn open(source: &Source, options: &PoolOptions) -> Result<Database, Error> {
        let progress = conversion::Logged::default();
        let conversion = conversion::Conversion {
            batch: conversion::DEFAULT_BATCH,
            progress: &progress,
        };
        Database::open_converting(source, options, &conversion).await
    }

    /// [`Database::open`], converting a store written before the term dictionary as
    /// `conversion` says.
    pub async fn open_converting(
        source: &Source,
        options: &PoolOptions,
        conversion: &conversion::Conversion<'_>,
    ) -> Result<Database, Error> {
        let (config, cluster) = match source {
            Source::External(url) => {
                let config: tokio_postgres::Config = url
                    .parse()
                    .map_err(|e| Error::Unavailable(format!("invalid database URL: {e}")))?;
                (with_failover_timeout(config, options), None)
            }
            Source::Embedded(data_dir) => {
                let data_dir = data_dir.clone();
                let cluster = tokio::task::spawn_blocking(move || Cluster::start(&data_dir))
                    .await
                    .map_err(|e| Error::Unavailable(e.to_string()))??;
                ensure_database(&cluster).await?;
                (cluster.config(embedded::DATABASE), Some(cluster))
            }
        };
        let pool = build_pool(config.clone(), options)?;
        let cluster = Arc::new(Mutex::new(cluster));
        let watchdog = match source {
            Source::Embedded(data_dir) => {
                Some(tokio::spawn(watch(cluster.clone(), data_dir.clone())))
            }
            Source::External(_) => None,
        };
        let database = Database {
            pool,
            cluster,
            watchdog,
        };
        let mut client = match database.wait_for_server(options.startup_wait).await {
            Ok(client) => client,
            Err(e) => {
                database.close().await;
                return Err(e);
            }
        };
        if let Source::External(_) = source {
            if let Err(e) = pooler::refuse_shared_sessions(&config).await {
                database.close().await;
                return Err(e);
            }
        }
        migrations::apply(&mut client, conversion).await?;
        Ok(database)
    }

    async fn wait_for_server(
        &self,
        patience: Duration,
    ) -> Result<deadpool_postgres::Client, Error> {
        let deadline = tokio::time::Instant::now() + patience;
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.pool.get().await {
                Ok(client) => return Ok(client),
                Err(e) if tokio::time::Instant::now() + backoff < deadline => {
                    tracing::warn!(error = %e, retry_in = ?backoff, "database not reachable yet");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Whether the database answers a trivial query.
    pub async fn is_healthy(pool: &Pool) -> bool {
        match pool.get().await {
            Ok(client) => client.simple_query("SELECT 1").await.is_ok(),
            Err(_) => false,
        }
    }

    /// Closes the pool and stops the embedded cluster if this process started it.
    pub async fn close(self) {
        self.pool.close();
        if let Some(watchdog) = self.watchdog {
            watchdog.abort();
            let _ = watchdog.await;
        }
        let cluster = self
            .cluster
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(cluster) = cluster {
            let owned = cluster.is_owned();
            match tokio::task::spawn_blocking(move || cluster.stop()).await {
                Ok(Ok(())) if owned => tracing::info!("embedded PostgreSQL stopped"),
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "stopping embedded PostgreSQL"),
                Err(e) => tracing::error!(error = %e, "stopping embedded PostgreSQL"),
            }
        }
    }
}

/// Term frequencies are very skewed (a verb in every tenth Statement, a registration in
/// a handful), so a plan cached for one value is wrong for another: plan each query
/// for its actual parameters. Reports group hundreds of thousands of rollup rows; with
/// PostgreSQL's default 4 MB of sort/hash memory they spill to disk. JIT compiling a
/// report's plan costs more (about 200 ms) than it ever saves on these queries. The
/// NOTICEs of idempotent DDL (`CREATE … IF NOT EXISTS` finding the relation, on every
/// start and in every feed pass) would fill the log; warnings and errors still come.
/// Set on each new connection rather than sent as the start-up packet's `options`,
/// which PgBouncer refuses ("unsupported startup parameter: options").
const SESSION_SETTINGS: &str = "SET plan_cache_mode = force_custom_plan; SET work_mem = '64MB';
                                SET jit = off; SET client_min_messages = warning";

/// With several hosts (`postgresql://a,b/db?target_session_attrs=read-write`) a new
/// connection tries each in turn until one accepts writes. A host that is gone without
/// a trace (a dead machine, not a refused port) would hold the attempt until the pool
/// gives up, so the next host, the promoted standby, would never be tried: unless the
/// URL says otherwise, each host gets an equal share of the pool's connect time.
fn with_failover_timeout(
    mut config: tokio_postgres::Config,
    options: &PoolOptions,
) -> tokio_postgres::Config {
    let hosts = config.get_hosts().len() as u32;
    if hosts > 1 && config.get_connect_timeout().is_none() {
        config.connect_timeout((options.acquire_timeout / hosts).max(Duration::from_secs(1)));
    }
    config
}

/// Restarts the embedded postmaster whenever it exits underneath the server (killed,
/// crashed), or takes the cluster over when the process that started it stops it (a
/// command's brief cluster, or a server that stopped or died while this one started);
/// requests get 503 meanwhile and the pool reconnects on its own.
async fn watch(cluster: Arc<Mutex<Option<Cluster>>>, data_dir: PathBuf) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tick.tick().await;
        let exited = cluster
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_some_and(Cluster::postmaster_exited);
        if !exited {
            continue;
        }
        tracing::error!("the embedded PostgreSQL exited; restarting it");
        match restart(&data_dir).await {
            Ok(fresh) => {
                *cluster.lock().unwrap_or_else(|e| e.into_inner()) = Some(fresh);
                tracing::info!("embedded PostgreSQL restarted");
            }
            Err(e) => tracing::error!(error = %e, "restarting embedded PostgreSQL; will retry"),
        }
    }
}

async fn restart(data_dir: &Path) -> Result<Cluster, Error> {
    let data_dir = data_dir.to_path_buf();
    let cluster = tokio::task::spawn_blocking(move || Cluster::start(&data_dir))
        .await
        .map_err(|e| Error::Unavailable(e.to_string()))??;
    Ok(cluster)
}

fn build_pool(config: tokio_postgres::Config, options: &PoolOptions) -> Result<Pool, Error> {
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .post_create(Hook::async_fn(|client, _| {
            Box::pin(async move {
                client
                    .batch_execute(SESSION_SETTINGS)
                    .await
                    .map_err(HookError::Backend)
            })
        }))
        .max_size(options.size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(options.acquire_timeout))
        .create_timeout(Some(options.acquire_timeout))
        .recycle_timeout(Some(options.acquire_timeout))
        .build()
        .map_err(|e| Error::Unavailable(e.to_string()))
}

/// The embedded cluster is created with only the maintenance databases.
async fn ensure_database(cluster: &Cluster) -> Result<(), Error> {
    let (client, connection) = cluster.config("postgres").connect(NoTls).await?;
    let driver = tokio::spawn(connection);
    let exists = client
        .query_opt(
            "SELECT 1 FROM pg_database WHERE datname = $1",
            &[&embedded::DATABASE],
        )
        .await?
        .is_some();
    if !exists {
        let created = client
            .batch_execute(&format!("CREATE DATABASE {}", embedded::DATABASE))
            .await;
        match created {
            Ok(()) => {}
            // Another process created it between our check and our CREATE.
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE) => {}
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) => {}
            Err(e) => return Err(e.into()),
        }
    }
    drop(client);
    let _ = driver.await;
    Ok(())
}
