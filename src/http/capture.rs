//! `/capture`: what the browser extension talks to besides xAPI. Enrolment needs no
//! credential (the one-time code is the proof); the rest needs a credential bound to
//! a learner, which only enrolment gives.

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{Datelike, Days, Utc};
use serde::Deserialize;
use serde_json::json;

use super::body::collect;
use super::error::ApiError;
use super::params::query_pairs;
use super::report_access::{parse_day, replayed_through, report_response, FEED_PATIENCE};
use super::{get_or_head, resource, AppState};
use crate::auth::Principal;
use crate::capture::{enrolment, package, policy};
use crate::modes::Mode;
use crate::store::learning::{self, Scope, TimeRule};
use crate::store::replicas::Need;
use crate::store::{capture, credentials, hosts, learning_feed};

/// An enrolment body is one short code: anything larger is not one.
const MAX_ENROL_BODY: usize = 4096;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/capture")
            .service(
                resource("/enrol")
                    .route(get_or_head(enrol_page))
                    .route(web::post().to(enrol)),
            )
            .service(resource("/policy").route(get_or_head(policy)))
            .service(resource("/me").route(get_or_head(me)))
            .service(resource("/credential").route(web::delete().to(disconnect)))
            .service(resource("/extension.zip").route(get_or_head(extension_zip))),
    );
}

/// Where clients reach this LRS: `--public-url`, else the host the request came to.
fn public_base(state: &AppState, req: &HttpRequest) -> String {
    match &state.settings.public_url {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => {
            let info = req.connection_info();
            format!("{}://{}", info.scheme(), info.host())
        }
    }
}

/// The learner's page behind an invitation's URL. The extension's content script reads
/// the two `commonplace-enrol-*` meta elements and opens its options page filled in.
async fn enrol_page(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let code = query_pairs(req.query_string())?
        .into_iter()
        .find(|(name, _)| name == "code")
        .map(|(_, value)| value)
        .unwrap_or_default();
    let base = public_base(&state, &req);
    let page = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="commonplace-enrol-endpoint" content="{endpoint}">
<meta name="commonplace-enrol-code" content="{code}">
<title>Enrol in Commonplace Capture</title>
</head>
<body>
<h1>Commonplace Capture</h1>
<p>Commonplace Capture records the web pages you read, for as long as you actually read
them, into your learning record. You choose what is recorded: pause it, block sites,
forget any item.</p>
<ol>
<li>Download <a href="{base}/capture/extension.zip">the extension</a> and unzip it.</li>
<li>Chromium or Chrome: open <code>chrome://extensions</code>, turn on Developer mode and
choose <em>Load unpacked</em> with the unzipped folder. Firefox: open
<code>about:debugging#/runtime/this-firefox</code> and choose <em>Load Temporary
Add-on</em> with its <code>manifest.json</code>.</li>
<li>Open this page again: the extension's options open with your code filled in.
Otherwise open the extension's options and enter this LRS, <code>{endpoint}</code>, and
your code, <code>{code}</code>.</li>
</ol>
<p>The code works once.</p>
</body>
</html>
"#,
        endpoint = escape(&format!("{base}/")),
        code = escape(&code),
        base = escape(&base),
    );
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page))
}

/// Text safe inside HTML content and double-quoted attributes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnrolBody {
    code: String,
}

/// `POST /capture/enrol`: the code for a credential bound to its learner.
async fn enrol(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = collect(payload, MAX_ENROL_BODY).await?;
    let EnrolBody { code } = serde_json::from_slice(&body).map_err(|e| {
        ApiError::InvalidBody(format!(
            "the body must be {{\"code\": \"...\"}}, the code of an invitation: {e}"
        ))
    })?;
    if code.trim().is_empty() {
        return Err(ApiError::InvalidBody("code: must not be empty".into()));
    }
    let enrolled = capture::redeem(&state.pool, &enrolment::hash_code(&code))
        .await?
        .map_err(ApiError::Enrolment)?;
    tracing::info!(learner = %enrolled.learner, key = %enrolled.credential.key, "capture enrolled");
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({
            "endpoint": format!("{}/xapi/", public_base(&state, &req)),
            "key": enrolled.credential.key,
            "secret": enrolled.credential.secret,
            "actor": enrolment::actor(&enrolled.learner, enrolled.name.as_deref()),
        })))
}

/// The caller, who must hold a credential bound to a learner; and that learner.
async fn bound_caller(
    state: &AppState,
    req: &HttpRequest,
) -> Result<(Principal, String), ApiError> {
    let principal = state.admit(req.headers(), req.peer_addr()).await?;
    match principal.learner.clone() {
        Some(learner) => Ok((principal, learner)),
        None => Err(ApiError::Forbidden(
            "only a credential from capture enrolment (POST /capture/enrol) may use this resource"
                .into(),
        )),
    }
}

/// `GET /capture/policy`: what the extension must respect before it sends anything.
async fn policy(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let (principal, learner) = bound_caller(&state, &req).await?;
    let store_id = principal.store_id;
    let denied = hosts::list(&state.pool, store_id).await?;
    let settings = capture::policy(&state.pool, store_id).await?;
    let person = learning::learner_of(&state.pool, store_id, &learner).await?;
    let roster = learning::roster_entry(&state.pool, store_id, &person).await?;
    let name = roster.as_ref().map(|(name, _, _)| name.as_str());
    let base = public_base(&state, &req);
    let answer = policy::Answer {
        denied_hosts: &denied,
        settings,
        name: name.filter(|n| !n.is_empty()),
        team: roster
            .as_ref()
            .map(|(_, team, _)| policy::team_group(&base, team)),
        actor: enrolment::actor(&learner, name),
    };
    Ok(HttpResponse::Ok().json(answer.to_json()))
}

/// `GET /capture/me`: the learner's own mix and goals for the extension's popup, from
/// the same rollups as the reports, once the learning feed has folded in what they sent.
async fn me(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let (principal, learner) = bound_caller(&state, &req).await?;
    let today = Utc::now().date_naive();
    let (mut since, mut until) = (None, None);
    for (name, value) in query_pairs(req.query_string())? {
        match name.as_str() {
            "since" => since = Some(parse_day(&name, &value)?),
            "until" => until = Some(parse_day(&name, &value)?),
            other => {
                return Err(ApiError::InvalidParameter(format!(
                    "{other}: not a parameter of /capture/me"
                )))
            }
        }
    }
    let last = until.unwrap_or(today);
    let monday = today - Days::new(u64::from(today.weekday().num_days_from_monday()));
    let first = since.unwrap_or(monday);
    if first > last {
        return Err(ApiError::InvalidParameter("since: later than until".into()));
    }
    if !learning_feed::catch_up(&state.pool, TimeRule::default(), FEED_PATIENCE).await? {
        tracing::warn!("learning feed still behind; /capture/me may lag");
    }
    let store_id = principal.store_id;
    let scope = Scope {
        store_id,
        since: first,
        until: last.succ_opt().unwrap_or(last),
        min_team_size: state.settings.min_team_size,
        time: TimeRule::default(),
    };
    let served = state
        .read(Need::Report, async |pool| {
            let person = learning::learner_of(pool, store_id, &learner).await?;
            learning::learner_report(pool, scope, &person, "week", 1).await
        })
        .await?;
    let report = &served.value;
    // Per mode over the whole period, every mode of the mix shown even when empty.
    let mut mix: BTreeMap<usize, (String, i64, f64, f64)> = Mode::EVERY
        .iter()
        .enumerate()
        .filter(|(_, mode)| **mode != Mode::Unclassified)
        .map(|(order, mode)| (order, (mode.as_str().to_string(), 0, 0.0, 0.0)))
        .collect();
    for row in &report.mix {
        let order = Mode::parse(&row.mode)
            .and_then(|m| Mode::EVERY.iter().position(|e| *e == m))
            .unwrap_or(Mode::EVERY.len());
        let entry = mix
            .entry(order)
            .or_insert_with(|| (row.mode.clone(), 0, 0.0, 0.0));
        entry.1 += row.statements;
        entry.2 += row.reported_seconds;
        entry.3 += row.estimated_seconds;
    }
    let mix: Vec<_> = mix
        .into_values()
        .map(|(mode, statements, reported, estimated)| {
            json!({"mode": mode, "statements": statements,
                   "reportedSeconds": reported, "estimatedSeconds": estimated})
        })
        .collect();
    let goals: Vec<_> = report
        .goals
        .iter()
        .map(|g| json!({"id": g.goal, "name": g.name, "achieved": g.achieved}))
        .collect();
    Ok(report_response(&served).json(json!({
        "since": first,
        "until": last,
        "replayedThrough": replayed_through(&served),
        "mix": mix,
        "goals": goals,
    })))
}

/// `DELETE /capture/credential`: the learner disconnects the extension; its
/// credential is revoked for good.
async fn disconnect(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (principal, learner) = bound_caller(&state, &req).await?;
    credentials::revoke(&state.pool, &principal.key).await?;
    state.credentials.forget(&principal.key);
    tracing::info!(%learner, key = %principal.key, "capture credential revoked by its learner");
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /capture/extension.zip`: the same package as `commonplace capture package`.
async fn extension_zip() -> Result<HttpResponse, ApiError> {
    let bytes = package::zip().map_err(|e| {
        tracing::error!(error = %e, "packaging the extension");
        ApiError::Internal
    })?;
    Ok(HttpResponse::Ok()
        .content_type("application/zip")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"commonplace-capture.zip\"",
        ))
        .body(bytes))
}
