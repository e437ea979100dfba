//! The learning reports under `/reports`: outside the xAPI scope (no version header),
//! behind the same Basic credentials, for the `all`, `all/read` and `reports` scopes.

mod explain;
mod learning;
mod modes;

use std::future::{ready, Ready};
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};

pub(crate) use modes::{parse_day, DEFAULT_DAYS};

use super::error::ApiError;
use super::{get_or_head, resource, AppState};
use crate::auth::{Access, Principal};
use crate::store::learning::TimeRule;
use crate::store::learning_feed;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/reports")
            .wrap(actix_web::middleware::from_fn(reports_gate))
            .service(resource("/explain").route(get_or_head(explain::explain)))
            .service(resource("/modes").route(get_or_head(modes::modes)))
            .service(resource("/teams").route(get_or_head(learning::teams)))
            .service(resource("/learners/{agent:.+}").route(get_or_head(learning::learner)))
            .service(resource("/sources").route(get_or_head(learning::sources))),
    );
    cfg.service(
        web::scope("/dashboard")
            .wrap(actix_web::middleware::from_fn(reports_gate))
            .service(resource("").route(get_or_head(super::dashboard::dashboard))),
    );
}

/// How long a report waits for the learning feed to fold in every Statement stored
/// before it was asked; past that it answers from rollups that lag.
const FEED_PATIENCE: Duration = Duration::from_secs(2);

/// Authenticates and checks the scope once for every report, then lets the learning
/// feed catch up so a report reflects every Statement acknowledged before it.
pub async fn reports_gate(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    match admit(&req).await {
        Ok(principal) => {
            if let Some(state) = req.app_data::<web::Data<AppState>>() {
                match learning_feed::catch_up(&state.pool, TimeRule::default(), FEED_PATIENCE).await
                {
                    Ok(true) => {}
                    Ok(false) => tracing::warn!("learning feed still behind; report may lag"),
                    Err(e) => {
                        let error = ApiError::from(e);
                        return Ok(req.error_response(error).map_into_right_body());
                    }
                }
            }
            req.extensions_mut().insert(principal);
            next.call(req).await.map(|res| res.map_into_left_body())
        }
        Err(e) => Ok(req.error_response(e).map_into_right_body()),
    }
}

async fn admit(req: &ServiceRequest) -> Result<Principal, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or(ApiError::Internal)?;
    let principal = state
        .credentials
        .authenticate(&state.pool, req.headers())
        .await?;
    if principal.allows(Access::Reports).is_none() {
        return Err(ApiError::Forbidden(
            "this credential's scopes do not allow reports; it needs one of: all, all/read, reports"
                .into(),
        ));
    }
    Ok(principal)
}

/// The credential of a report request, admitted by `reports_gate`.
pub struct Reader(pub Principal);

impl FromRequest for Reader {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<Principal>()
                .cloned()
                .map(Reader)
                .ok_or_else(|| ApiError::Unauthorized("authentication required".into())),
        )
    }
}
