//! What the reports and the dashboard share: the gate that admits their reader (the
//! same Basic credentials and throttle as xAPI, a scope that allows reports, the
//! learning feed caught up; or a dashboard sign-in session, `super::sign_in`) and the
//! period they cover.

use std::future::{ready, Ready};
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderName;
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse, HttpResponseBuilder};
use chrono::{Datelike, NaiveDate, SecondsFormat, Utc};

use super::error::ApiError;
use super::sign_in::{self, Session, SignedIn};
use super::AppState;
use crate::auth::{Access, Principal};
use crate::store::learning::TimeRule;
use crate::store::learning_feed;
use crate::store::replicas::Served;

/// How long a report waits for the learning feed to fold in every Statement stored
/// before it was asked; past that it answers from rollups that lag.
pub(crate) const FEED_PATIENCE: Duration = Duration::from_secs(2);

/// Authenticates (through the same throttled door as xAPI) and checks the scope once
/// for every report, then lets the learning feed catch up so a report reflects every
/// Statement acknowledged before it.
pub async fn reports_gate(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    match admit(&req).await {
        Ok(Admitted::Answer(response)) => Ok(req.into_response(response).map_into_right_body()),
        Ok(Admitted::Reader(principal, signed_in)) => {
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
            if let Some(signed_in) = signed_in {
                req.extensions_mut().insert(signed_in);
            }
            next.call(req).await.map(|res| res.map_into_left_body())
        }
        Err(e) => Ok(req.error_response(e).map_into_right_body()),
    }
}

/// What the gate makes of a request.
enum Admitted {
    /// A reader, signed in to the dashboard or not.
    Reader(Principal, Option<SignedIn>),
    /// The dashboard sign-in answers: the way to the provider, or its 403 page.
    Answer(HttpResponse),
}

async fn admit(req: &ServiceRequest) -> Result<Admitted, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or(ApiError::Internal)?;
    match sign_in::session(&state, req.request()).await? {
        Session::Reader(principal, signed_in) => {
            return Ok(Admitted::Reader(principal, Some(signed_in)))
        }
        Session::Answer(response) => return Ok(Admitted::Answer(response)),
        Session::None => {}
    }
    let principal = state.admit(req.headers(), req.peer_addr()).await?;
    if principal.allows(Access::Reports).is_none() {
        let why =
            "this credential's scopes do not allow reports; it needs one of: all, all/read, reports"
                .to_string();
        return Err(match super::auth::bearer_token(req.headers()) {
            Some(_) => ApiError::InsufficientScope(why),
            None => ApiError::Forbidden(why),
        });
    }
    Ok(Admitted::Reader(principal, None))
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

/// The header of every report and the dashboard saying how fresh it is.
pub const REPLAYED_THROUGH: HeaderName = HeaderName::from_static("commonplace-replayed-through");

/// How fresh a report is (RFC 3339, UTC): it holds every change the primary had made by
/// then. That is when it was asked, unless a replica still behind answered it; the
/// learning feed's own lag (`FEED_PATIENCE`) is apart.
pub fn replayed_through<T>(served: &Served<T>) -> Option<String> {
    served
        .replayed_through
        .map(|at| at.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// A 200 response to a report read as `served`, carrying [`REPLAYED_THROUGH`].
pub fn report_response<T>(served: &Served<T>) -> HttpResponseBuilder {
    let mut response = HttpResponse::Ok();
    if let Some(at) = replayed_through(served) {
        response.insert_header((REPLAYED_THROUGH, at));
    }
    response
}

/// Without `since`, a period is this many days up to `until`.
const DEFAULT_DAYS: i64 = 84;

/// A period is at most this many days (ten years): a page draws a column per week of
/// it, and the previous period of the same length must still be a date.
const MAX_DAYS: i64 = 3653;

/// The first and last day (both included) of the period asked for: `until` defaults to
/// today, `since` to `DEFAULT_DAYS` days up to `until`; `since` after `until`, a day
/// outside the years 1 to 9999, or a period longer than [`MAX_DAYS`] is refused.
pub fn period(
    since: Option<NaiveDate>,
    until: Option<NaiveDate>,
) -> Result<(NaiveDate, NaiveDate), ApiError> {
    for (name, day) in [("since", since), ("until", until)] {
        if let Some(day) = day.filter(|d| !(1..=9999).contains(&d.year())) {
            return Err(ApiError::InvalidParameter(format!(
                "{name}: {day} is outside the years 1 to 9999"
            )));
        }
    }
    let last = until.unwrap_or_else(|| Utc::now().date_naive());
    let first = since.unwrap_or(last - chrono::Duration::days(DEFAULT_DAYS - 1));
    if first > last {
        return Err(ApiError::InvalidParameter(
            "since: later than until".to_string(),
        ));
    }
    if (last - first).num_days() >= MAX_DAYS {
        return Err(ApiError::InvalidParameter(format!(
            "since: the period is longer than {MAX_DAYS} days (ten years)"
        )));
    }
    Ok((first, last))
}

/// A day as `YYYY-MM-DD`, or the day of an RFC 3339 timestamp.
pub fn parse_day(name: &str, value: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .or_else(|| {
            chrono::DateTime::parse_from_rfc3339(value)
                .ok()
                .map(|t| t.with_timezone(&Utc).date_naive())
        })
        .ok_or_else(|| {
            ApiError::InvalidParameter(format!(
                "{name}: '{value}' is not a date (YYYY-MM-DD) or timestamp"
            ))
        })
}

/// A learner as the path or parameter `name` names them: an xAPI Agent as JSON (as the
/// `agent` parameter of the xAPI API), an IFI as the LRS writes it (`mbox:mailto:…`,
/// `account:HOMEPAGE|NAME`, …) or a bare `mailto:` address.
pub fn learner_ifi(name: &str, raw: &str) -> Result<String, ApiError> {
    if raw.trim_start().starts_with('{') {
        return crate::xapi::agent::parse_agent_param(raw, crate::xapi::Version::V2_0_0)
            .map(|ifi| ifi.into_string())
            .map_err(|e| {
                let path = e.path.replacen("agent", name, 1);
                ApiError::InvalidParameter(format!("{path}: {}", e.message))
            });
    }
    crate::roster::canonical_ifi(raw).ok_or_else(|| {
        ApiError::InvalidParameter(format!(
            "{name}: '{raw}' is not a learner IFI (mailto:…, mbox:mailto:…, mbox_sha1sum:…, openid:…, account:HOMEPAGE|NAME)"
        ))
    })
}
