//! The HTTP surface: routes per resource, the xAPI gate, CORS and errors.

mod about;
mod activities;
mod agents;
mod alternate;
mod auth;
mod body;
mod capture;
mod dashboard;
mod documents;
pub mod error;
mod gate;
mod health;
pub mod metrics;
mod middleware;
mod oauth;
mod params;
mod report_access;
mod report_cache;
mod reports;
mod sign_in;
mod statements;
mod throttle;

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::{guard, web, HttpRequest, HttpResponse, Route};
use deadpool_postgres::Pool;

pub use auth::CredentialCache;
use error::ApiError;
pub use gate::Caller;
pub use report_cache::ReportCache;
pub use statements::RecentConsistency;
pub use throttle::Throttles;

use crate::configuration::Settings;
use crate::store;
use crate::store::replicas::{Need, Replicas, Served};
use crate::store::write_queue::StatementWriter;

/// Shared by every worker.
pub struct AppState {
    pub pool: Pool,
    pub settings: Settings,
    pub credentials: CredentialCache,
    pub metrics: metrics::Metrics,
    pub throttles: Throttles,
    pub statement_writer: StatementWriter,
    /// The LRS as an OAuth 2.0 authorization server, and the verifier of bearer tokens.
    pub oauth: crate::oauth::OAuth,
    /// Where reads go: the primary (`pool`) or a replica; see [`AppState::read`].
    pub replicas: Replicas,
    /// Report answers kept until the figures they come from change.
    pub report_cache: ReportCache,
    /// The latest consistency time read, which a GET by id answers with while it is
    /// recent.
    pub consistency: RecentConsistency,
}

impl AppState {
    /// Runs `read` on a replica that has what `need` asks for, else on the primary, and
    /// counts where it was served. Every read of the API goes through here; writes, the
    /// learning feed and authentication use `pool`.
    pub(crate) async fn read<T>(
        &self,
        need: Need,
        read: impl AsyncFn(&Pool) -> Result<T, store::Error>,
    ) -> Result<Served<T>, store::Error> {
        let served = self.replicas.run(need, read).await?;
        self.metrics.database_read(served.target);
        Ok(served)
    }

    /// The `homePage` of the accounts that name credentials as authorities.
    pub fn authority_home_page(&self) -> String {
        match &self.settings.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("http://{}", self.settings.listen),
        }
    }

    /// The caller of an authenticated route (xAPI, the reports, the dashboard,
    /// capture) from `peer`, through the one throttled door.
    pub(crate) async fn admit(
        &self,
        headers: &header::HeaderMap,
        peer: Option<std::net::SocketAddr>,
    ) -> Result<crate::auth::Principal, ApiError> {
        let address = peer.map(|a| a.ip());
        let throttles = &self.throttles;
        if let Some(token) = auth::bearer_token(headers) {
            return self
                .credentials
                .admit_bearer(&self.pool, &self.oauth, throttles, token, address)
                .await;
        }
        self.credentials
            .admit(&self.pool, throttles, headers, address)
            .await
    }
}

/// Mounts every route; used by the server and nothing else, so tests see the real app.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/health")
            .route(get_or_head(health::health))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/metrics")
            .route(get_or_head(metrics::metrics))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::scope("/xapi")
            .wrap(actix_web::middleware::from_fn(gate::xapi_gate))
            .service(resource("/about").route(get_or_head(about::about)))
            .service(statements::routes())
            .service(activities::routes())
            .service(agents::routes())
            .configure(documents::routes),
    )
    .configure(reports::routes)
    .configure(dashboard::routes)
    .configure(capture::routes)
    .configure(oauth::routes)
    .configure(sign_in::routes);
}

/// The app-wide middleware, outermost last.
pub fn cors(settings: &Settings) -> Cors {
    let cors = match &settings.cors_origins {
        None => Cors::default().allow_any_origin(),
        Some(origins) => origins
            .iter()
            .fold(Cors::default(), |cors, origin| cors.allowed_origin(origin)),
    };
    cors.allowed_methods(["GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            header::ACCEPT,
            header::ACCEPT_LANGUAGE,
            middleware::VERSION_HEADER,
        ])
        .expose_headers([
            header::ETAG,
            header::LAST_MODIFIED,
            header::CONTENT_TYPE,
            header::HeaderName::from_static("x-experience-api-consistent-through"),
            middleware::VERSION_HEADER,
        ])
        .max_age(86_400)
}

pub use metrics::track_requests;
pub use middleware::{count_in_flight, request_span, version_header, InFlight};

/// A resource whose unmatched methods answer 405 rather than 404, and which answers
/// 503 itself when an xAPI request's deadline passes.
fn resource(
    path: &str,
) -> actix_web::Resource<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    web::resource([path, &format!("{path}/")])
        .default_service(web::to(method_not_allowed))
        .wrap(actix_web::middleware::from_fn(gate::answer_by_deadline))
}

/// Every GET route answers HEAD with the same headers and no body.
fn get_or_head<F, Args>(handler: F) -> Route
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::route()
        .guard(guard::Any(guard::Get()).or(guard::Head()))
        .to(handler)
}

async fn method_not_allowed(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed {
        method: req.method().to_string(),
        path: req.path().to_string(),
    })
}

pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound(format!("no resource at {}", req.path())))
}
