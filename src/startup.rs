//! Building and running the server: the database, the app, the listener.

use std::net::TcpListener;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};

use crate::auth::{NewSecret, Scope};
use crate::configuration::Settings;
use crate::http::{self, AppState, CredentialCache, Throttles};
use crate::store::learning::TimeRule;
use crate::store::write_queue::StatementWriter;
use crate::store::{self, credentials, learning_feed, Database};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Store(#[from] store::Error),
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
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Application, StartupError> {
        let database = Database::open(&settings.database, &settings.pool).await?;
        let listen_error = |source| StartupError::Listen {
            addr: settings.listen,
            source,
        };
        let listener = TcpListener::bind(settings.listen).map_err(listen_error)?;
        let local = listener.local_addr().map_err(listen_error)?;
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
            settings: settings.clone(),
        });
        let cors_settings = settings.clone();
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .configure(http::configure)
                .default_service(web::to(http::not_found))
                .wrap(from_fn(http::version_header))
                .wrap(http::cors(&cors_settings))
                .wrap(from_fn(http::request_span))
                .wrap(from_fn(http::track_requests))
        })
        .shutdown_timeout(settings.shutdown_grace.as_secs())
        .listen(listener)
        .map_err(listen_error)?;
        if let Some(workers) = settings.workers {
            server = server.workers(workers);
        }
        let learning_feed = tokio::spawn(learning_feed::run(
            database.pool.clone(),
            TimeRule::default(),
        ));
        Ok(Application {
            port: local.port(),
            host: local.ip().to_string(),
            server: server.run(),
            database,
            learning_feed,
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

    /// Serves until stopped (SIGINT/SIGTERM or the handle), drains in-flight requests,
    /// then closes the database (stopping the embedded cluster).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let outcome = self.server.await;
        self.learning_feed.abort();
        self.database.close().await;
        outcome
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
