//! The door of the xAPI scope: alternate request syntax, version negotiation and
//! authentication. A handler behind it always has a `Version` and a `Principal`.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use std::future::{ready, Ready};

use super::error::ApiError;
use super::middleware::VERSION_HEADER;
use super::{alternate, AppState};
use crate::auth::{Access, Principal, ReadReach, Scope};
use crate::xapi::version::Version;

pub async fn xapi_gate(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let limit = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.settings.request_timeout)
        .unwrap_or(std::time::Duration::from_secs(60));
    let deadline = Deadline {
        at: tokio::time::Instant::now() + limit,
        limit,
    };
    match tokio::time::timeout_at(deadline.at, admit(&mut req)).await {
        Err(_) => Ok(req.error_response(deadline.passed()).map_into_right_body()),
        Ok(Err(e)) => Ok(req.error_response(e).map_into_right_body()),
        Ok(Ok(())) => {
            // The resource answers the deadline (`answer_by_deadline`): only after
            // routing may the request be kept for a response of our own.
            req.extensions_mut().insert(deadline);
            next.call(req).await.map(|res| res.map_into_left_body())
        }
    }
}

/// When an admitted xAPI request must have been answered.
#[derive(Debug, Clone, Copy)]
struct Deadline {
    at: tokio::time::Instant,
    limit: std::time::Duration,
}

impl Deadline {
    fn passed(&self) -> ApiError {
        tracing::warn!(limit = ?self.limit, "request timed out");
        ApiError::TimedOut(self.limit.as_secs())
    }
}

/// Answers 503 when the gate's deadline passes. Mounted on every resource (all are
/// built by `super::resource`), after routing, where the request may be kept for the
/// response: so the 503 goes out through the outer middleware (the version header,
/// CORS) like every other answer. Requests that did not pass the gate (reports) carry
/// no deadline and pass through.
pub async fn answer_by_deadline(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(deadline) = req.extensions().get::<Deadline>().copied() else {
        return next.call(req).await.map(|res| res.map_into_left_body());
    };
    let request = req.request().clone();
    match tokio::time::timeout_at(deadline.at, next.call(req)).await {
        Ok(outcome) => outcome.map(|res| res.map_into_left_body()),
        Err(_) => {
            let response = actix_web::ResponseError::error_response(&deadline.passed());
            Ok(ServiceResponse::new(request, response).map_into_right_body())
        }
    }
}

async fn admit(req: &mut ServiceRequest) -> Result<(), ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or(ApiError::Internal)?;
    if alternate::is_alternate(req) {
        alternate::rewrite(req, state.settings.limits.max_body_bytes).await?;
    }
    if is_about(req.path()) || method_not_allowed(req.path(), req.method()) {
        // The About resource is public; a method no resource has is answered 405 by
        // routing, whoever asks (Communication §3.2: 405 for methods not in the spec).
        return Ok(());
    }
    let version = request_version(req)?;
    req.extensions_mut().insert(version);
    let principal = state.admit(req.headers(), req.peer_addr()).await?;
    req.extensions_mut().insert(principal);
    Ok(())
}

/// The About resource is public and answers whatever version the client speaks.
fn is_about(path: &str) -> bool {
    path.trim_end_matches('/').ends_with("/xapi/about")
}

/// Whether `path` is an xAPI resource that does not accept `method`. Mirrors the
/// routes mounted in `super::configure`; unknown paths are left to routing (404).
fn method_not_allowed(path: &str, method: &Method) -> bool {
    let resource = path.trim_end_matches('/');
    let Some(resource) = resource.rsplit_once("/xapi").map(|(_, rest)| rest) else {
        return false;
    };
    let allowed: &[Method] = match resource {
        "/statements" => &[Method::GET, Method::HEAD, Method::PUT, Method::POST],
        "/activities" | "/agents" => &[Method::GET, Method::HEAD],
        "/activities/state" | "/activities/profile" | "/agents/profile" => &[
            Method::GET,
            Method::HEAD,
            Method::PUT,
            Method::POST,
            Method::DELETE,
        ],
        _ => return false,
    };
    !allowed.contains(method)
}

fn request_version(req: &ServiceRequest) -> Result<Version, ApiError> {
    let raw = req
        .headers()
        .get(&VERSION_HEADER)
        .ok_or(ApiError::MissingVersion)?
        .to_str()
        .map_err(|_| {
            ApiError::InvalidParameter("X-Experience-API-Version is not valid text".into())
        })?;
    Ok(raw.parse()?)
}

/// What every xAPI handler knows about its request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub version: Version,
    pub principal: Principal,
    /// Whether the request came with a bearer token, whose refusals RFC 6750 words.
    pub bearer: bool,
}

impl Caller {
    /// 403 unless the credential's scopes allow `access`.
    pub fn require(&self, access: Access) -> Result<ReadReach, ApiError> {
        self.principal.allows(access).ok_or_else(|| {
            let needed: Vec<&str> = Scope::EVERY
                .iter()
                .filter(|scope| {
                    let only = Principal {
                        scopes: vec![**scope],
                        ..self.principal.clone()
                    };
                    only.allows(access).is_some()
                })
                .map(|scope| scope.as_str())
                .collect();
            let why = format!(
                "this credential's scopes do not allow this request; it needs one of: {}",
                needed.join(", ")
            );
            if self.bearer {
                ApiError::InsufficientScope(why)
            } else {
                ApiError::Forbidden(why)
            }
        })
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let extensions = req.extensions();
        let caller = match (extensions.get::<Version>(), extensions.get::<Principal>()) {
            (Some(version), Some(principal)) => Ok(Caller {
                version: *version,
                principal: principal.clone(),
                bearer: super::auth::bearer_token(req.headers()).is_some(),
            }),
            // Only reachable if a route were mounted outside the gate.
            _ => Err(ApiError::Unauthorized("authentication required".into())),
        };
        ready(caller)
    }
}
