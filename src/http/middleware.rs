//! App-wide middleware: the request span, the version header every response carries,
//! and the count of requests in flight that a shutdown drains and background work gives
//! way to.

use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage};
use tracing::Instrument;

use super::{alternate, AppState};
use crate::auth::Principal;
use crate::request_load::{self, RequestKind, RequestLoad};
use crate::xapi::version::Version;

pub const VERSION_HEADER: HeaderName = HeaderName::from_static("x-experience-api-version");

/// One span per request; one line when it completes (never the secret, only the key).
pub async fn request_span(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let span = tracing::info_span!(
        "request",
        method = %req.method(),
        path = %req.path(),
        status = tracing::field::Empty,
        credential = tracing::field::Empty,
        latency_ms = tracing::field::Empty,
    );
    let started = Instant::now();
    // The request must not be cloned before routing, so it is read back from the response.
    let outcome = next.call(req).instrument(span.clone()).await;
    let status = match &outcome {
        Ok(res) => {
            if let Some(principal) = res.request().extensions().get::<Principal>() {
                span.record("credential", principal.key.as_str());
            }
            res.status()
        }
        Err(e) => e.as_response_error().status_code(),
    };
    span.record("status", status.as_u16());
    span.record("latency_ms", started.elapsed().as_secs_f64() * 1000.0);
    span.in_scope(|| {
        if status.is_server_error() {
            tracing::warn!("request failed");
        } else {
            tracing::info!("request completed");
        }
    });
    outcome
}

/// Every response, errors included, says which rule set answered it: the one the
/// request chose (read after the gate, which may rewrite alternate-syntax requests),
/// else the server's default. Mounted inside CORS, whose preflight answers are not
/// xAPI responses.
pub async fn version_header(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let default = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.settings.default_version)
        .unwrap_or(Version::V2_0_0);
    let mut res = next.call(req).await?;
    let request = res.request();
    let chosen = request.extensions().get::<Version>().copied();
    let version = chosen
        .or_else(|| stated_version(request.headers().get(&VERSION_HEADER)))
        .unwrap_or(default);
    res.headers_mut().insert(
        VERSION_HEADER,
        HeaderValue::from_static(version.header_value()),
    );
    Ok(res)
}

/// The version a header value (or a form field standing for the header) states, when
/// it states one this LRS serves; the gate is what turns a bad one into a 400.
pub fn stated_version(value: Option<&HeaderValue>) -> Option<Version> {
    value
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// The requests being handled now, and how many were dropped before their answer (the
/// client went away, or a shutdown's grace ran out): what a shutdown waits for and
/// what it cut off. Mounted as app data of its own; the running ones are counted in the
/// server's [`RequestLoad`], which the learning feed and forwarding give way to.
#[derive(Debug)]
pub struct InFlight {
    running: RequestLoad,
    cut_off: AtomicU64,
}

impl InFlight {
    pub fn new(running: RequestLoad) -> InFlight {
        InFlight {
            running,
            cut_off: AtomicU64::new(0),
        }
    }

    /// `(running, cut_off)`, read in that order: a request dropped between the two reads
    /// is still running in the first or already cut off in the second.
    pub fn now(&self) -> (u64, u64) {
        (self.running.running(), self.cut_off.load(SeqCst))
    }
}

/// Counts each request as running until it is answered or dropped.
pub async fn count_in_flight(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut running = req
        .app_data::<web::Data<InFlight>>()
        .cloned()
        .map(|in_flight| Running {
            _counted: in_flight.running.start(kind_of(&req)),
            in_flight,
            answered: false,
        });
    let outcome = next.call(req).await;
    if let Some(running) = &mut running {
        running.answered = true;
    }
    outcome
}

/// A GET, HEAD or OPTIONS request only reads, also when it comes in alternate request
/// syntax (a POST whose query names the method it stands for); any other may store
/// Statements.
fn kind_of(req: &ServiceRequest) -> RequestKind {
    let method = alternate::stands_for(req).unwrap_or_else(|| req.method().clone());
    if matches!(method, Method::GET | Method::HEAD | Method::OPTIONS) {
        RequestKind::Reads
    } else {
        RequestKind::Writes
    }
}

struct Running {
    in_flight: web::Data<InFlight>,
    answered: bool,
    /// Dropped after [`Running::drop`] has run, so the request stops running only once
    /// it is counted as cut off.
    _counted: request_load::Running,
}

impl Drop for Running {
    fn drop(&mut self) {
        // Cut off first, so that no reader sees the request neither running nor cut off.
        if !self.answered {
            self.in_flight.cut_off.fetch_add(1, SeqCst);
        }
    }
}
