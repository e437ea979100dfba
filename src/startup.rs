//! Building and running the server: the database, the app, the listener.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::auth::{NewSecret, Scope};
use crate::configuration::Settings;
use crate::forwarding;
use crate::http::{self, AppState, CredentialCache, InFlight, Throttles};
use crate::request_load::RequestLoad;
use crate::store::learning::TimeRule;
use crate::store::replicas::Replicas;
use crate::store::server_lock::{ServerLock, ServerLockError};
use crate::store::write_queue::StatementWriter;
use crate::store::{self, credentials, learning_feed, Database, Source};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error(transparent)]
    DataDirInUse(#[from] ServerLockError),
    #[error("cannot handle SIGINT and SIGTERM: {0}")]
    Signals(std::io::Error),
    #[error("cannot set up the HTTP client of forwarding: {0}")]
    Forwarding(reqwest::Error),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
}

/// A server bound to its port, with its database open, not yet serving.
pub struct Application {
    port: u16,
    host: String,
    server: Server,
    database: Database,
    learning_feed: tokio::task::JoinHandle<()>,
    forwarding: forwarding::Engine,
    shutdown_grace: Duration,
    in_flight: web::Data<InFlight>,
    stop_signals: StopSignals,
    /// This server's hold on its embedded cluster's data directory.
    data_dir_lock: Option<ServerLock>,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Application, StartupError> {
        // Before anything else: a second server must not touch the first one's cluster.
        let mut data_dir_lock = match &settings.database {
            Source::Embedded(data_dir) => Some(ServerLock::acquire(data_dir, settings.listen)?),
            Source::External(_) => None,
        };
        let database = Database::open(&settings.database, &settings.pool).await?;
        let replicas =
            Replicas::start(database.pool.clone(), &settings.replicas, &settings.pool).await?;
        let listen_error = |source| StartupError::Listen {
            addr: settings.listen,
            source,
        };
        let listener = TcpListener::bind(settings.listen).map_err(listen_error)?;
        let local = listener.local_addr().map_err(listen_error)?;
        if let Some(lock) = &mut data_dir_lock {
            lock.record(local)?;
        }
        let state = web::Data::new(AppState {
            pool: database.pool.clone(),
            credentials: CredentialCache::new(settings.credential_cache_ttl),
            metrics: http::metrics::Metrics::new(),
            throttles: Throttles::new(&settings.limits),
            statement_writer: StatementWriter::new(
                database.pool.clone(),
                settings
                    .statement_writers
                    .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
            ),
            oauth: crate::oauth::OAuth::new(
                settings
                    .public_url
                    .clone()
                    .unwrap_or_else(|| format!("http://{local}")),
                settings.oauth.clone(),
            ),
            replicas,
            report_cache: http::ReportCache::new(settings.report_cache_bytes),
            consistency: http::RecentConsistency::default(),
            settings: settings.clone(),
        });
        // Every request counts, for the shutdown's drain and for the background work that
        // gives way to requests.
        let request_load = RequestLoad::default();
        let in_flight = web::Data::new(InFlight::new(request_load.clone()));
        let app_in_flight = in_flight.clone();
        let cors_settings = settings.clone();
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(app_in_flight.clone())
                .configure(http::configure)
                .default_service(web::to(http::not_found))
                .wrap(from_fn(http::version_header))
                .wrap(http::cors(&cors_settings))
                .wrap(from_fn(http::request_span))
                .wrap(from_fn(http::track_requests))
                .wrap(from_fn(http::count_in_flight))
        })
        .shutdown_timeout(settings.shutdown_grace.as_secs())
        // actix stops at once on SIGINT and logs its own words; both signals drain here.
        .disable_signals()
        .listen(listener)
        .map_err(listen_error)?;
        if let Some(workers) = settings.workers {
            server = server.workers(workers);
        }
        // First of the background tasks: it is the one that can fail to start.
        let forwarding = forwarding::Engine::start(database.pool.clone(), request_load.clone())
            .map_err(StartupError::Forwarding)?;
        let learning_feed = tokio::spawn(learning_feed::run(
            database.pool.clone(),
            TimeRule::default(),
            request_load,
            settings.feed_patience,
        ));
        Ok(Application {
            port: local.port(),
            host: local.ip().to_string(),
            server: server.run(),
            database,
            learning_feed,
            forwarding,
            shutdown_grace: settings.shutdown_grace,
            in_flight,
            // Installed before the server says it is ready, so no signal finds none.
            stop_signals: StopSignals::install().map_err(StartupError::Signals)?,
            data_dir_lock,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The xAPI endpoint as a client on this machine reaches it.
    pub fn endpoint(&self) -> String {
        let host = match self.host.as_str() {
            "0.0.0.0" | "::" => "127.0.0.1",
            other => other,
        };
        if host.contains(':') {
            format!("http://[{host}]:{}/xapi/", self.port)
        } else {
            format!("http://{host}:{}/xapi/", self.port)
        }
    }

    pub fn pool(&self) -> &deadpool_postgres::Pool {
        &self.database.pool
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped (SIGINT/SIGTERM or the handle), drains in-flight requests
    /// (for up to the shutdown grace), then closes the database (stopping the embedded
    /// cluster).
    pub async fn run_until_stopped(mut self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let mut server = std::pin::pin!(self.server);
        let outcome = tokio::select! {
            outcome = &mut server => outcome,
            signal = self.stop_signals.first() => {
                let grace = self.shutdown_grace;
                tracing::info!(
                    "{signal} received; no new connections, in-flight requests have {} s to finish",
                    grace.as_secs()
                );
                let stopping = Instant::now();
                let (_, cut_off_before) = self.in_flight.now();
                // Sent at once; the server resolves when every worker has stopped.
                drop(handle.stop(true));
                let outcome = server.await;
                // A worker drops the requests it still runs once the grace is over, never
                // before; they may be dropped just after the server resolves, so those
                // still running count too.
                let (running, cut_off) = self.in_flight.now();
                if stopping.elapsed() >= grace && (running > 0 || cut_off > cut_off_before) {
                    tracing::warn!(
                        "forced shutdown after {} s grace: requests still in flight were cut off",
                        grace.as_secs()
                    );
                } else {
                    tracing::info!("graceful shutdown complete: in-flight requests finished");
                }
                outcome
            }
        };
        self.learning_feed.abort();
        // Leases given up: another instance, or this one restarted, continues at once.
        self.forwarding.stop().await;
        self.database.close().await;
        // Only now, with the embedded cluster stopped, may another server take the directory.
        drop(self.data_dir_lock);
        outcome
    }
}

/// SIGINT and SIGTERM, which both stop the server gracefully.
struct StopSignals {
    interrupt: Signal,
    terminate: Signal,
}

impl StopSignals {
    fn install() -> std::io::Result<StopSignals> {
        Ok(StopSignals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// The first of them to arrive, by name.
    async fn first(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
        }
    }
}

/// On an empty database, creates the first credential (all scopes, default store) so a
/// newcomer can post a statement at once. `fixed` comes from the bootstrap env vars.
pub async fn bootstrap_credential(
    pool: &deadpool_postgres::Pool,
    fixed: Option<NewSecret>,
) -> Result<Option<NewSecret>, store::Error> {
    if credentials::any_exist(pool).await? {
        return Ok(None);
    }
    let created = credentials::create(
        pool,
        credentials::NewCredential {
            name: "bootstrap",
            store: "default",
            scopes: &[Scope::All],
            tags: &Default::default(),
            fixed,
        },
    )
    .await;
    match created {
        Ok(secret) => Ok(Some(secret)),
        // Another instance bootstrapped first.
        Err(store::Error::Conflict(_)) => Ok(None),
        Err(e) => Err(e),
    }
}
