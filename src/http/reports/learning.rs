//! `GET /reports/teams`, `/reports/learners/{agent}` and `/reports/sources`, as JSON or
//! CSV. Figures are defined in the README next to the API.

use std::collections::BTreeMap;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::modes::{bad, wants_csv};
use crate::http::error::ApiError;
use crate::http::params::query_pairs;
use crate::http::report_access::{
    self, learner_ifi, parse_day, replayed_through, report_response, Reader,
};
use crate::http::report_cache::read_report;
use crate::http::AppState;
use crate::roster::csv_field;
use crate::store::learning::{self, Scope, TimeRule};
use crate::store::replicas::Served;

/// Ranked lists hold this many entries unless `top` says otherwise, and never more
/// than `MAX_TOP`.
const DEFAULT_TOP: i64 = 10;
const MAX_TOP: i64 = 100;

/// The parameters every one of these reports takes, and the others it was given.
pub(super) struct Request {
    pub(super) scope: Scope,
    pub(super) csv: bool,
    pub(super) extra: BTreeMap<String, String>,
}

pub(super) fn read_request(
    req: &HttpRequest,
    reader: &Reader,
    state: &AppState,
    resource: &str,
    allowed: &[&str],
) -> Result<Request, ApiError> {
    let (mut since, mut until, mut csv) = (None, None, wants_csv(req));
    let mut extra = BTreeMap::new();
    for (name, value) in query_pairs(req.query_string())? {
        match name.as_str() {
            "since" => since = Some(parse_day(&name, &value)?),
            "until" => until = Some(parse_day(&name, &value)?),
            "format" => {
                csv = match value.as_str() {
                    "csv" => true,
                    "json" => false,
                    _ => return Err(bad(&name, &value, "json or csv")),
                }
            }
            other if allowed.contains(&other) => {
                extra.insert(name, value);
            }
            other => {
                return Err(ApiError::InvalidParameter(format!(
                    "{other}: not a parameter of {resource}"
                )))
            }
        }
    }
    let (first, last) = report_access::period(since, until)?;
    Ok(Request {
        scope: Scope {
            store_id: reader.0.store_id,
            since: first,
            until: last.succ_opt().unwrap_or(last),
            min_team_size: state.settings.min_team_size,
            time: TimeRule::default(),
        },
        csv,
        extra,
    })
}

pub(super) fn top_of(extra: &BTreeMap<String, String>) -> Result<i64, ApiError> {
    Ok(whole_number(extra, "top", MAX_TOP)?.unwrap_or(DEFAULT_TOP))
}

/// The parameter `name`, a whole number from 1 to `max`, when given.
pub(super) fn whole_number(
    extra: &BTreeMap<String, String>,
    name: &str,
    max: i64,
) -> Result<Option<i64>, ApiError> {
    extra
        .get(name)
        .map(|v| {
            v.parse::<i64>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| bad(name, v, &format!("a whole number from 1 to {max}")))
        })
        .transpose()
}

/// What every one of these reports starts with: its period, its time rule, and how
/// fresh it is.
pub(super) fn period<T>(request: &Request, served: &Served<T>) -> serde_json::Value {
    json!({
        "since": request.scope.since,
        "until": request.scope.until.pred_opt().unwrap_or(request.scope.until),
        "sessionGapSeconds": request.scope.time.session_gap_seconds,
        "estimateCapSeconds": request.scope.time.cap_seconds,
        "replayedThrough": replayed_through(served),
    })
}

pub(super) fn csv_response<T>(
    served: &Served<T>,
    header: &str,
    lines: Vec<Vec<String>>,
) -> HttpResponse {
    let mut out = format!("{header}\r\n");
    for line in lines {
        let fields: Vec<String> = line.iter().map(|v| csv_field(v)).collect();
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    report_response(served)
        .content_type("text/csv; charset=utf-8")
        .body(out)
}

fn share(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.4}")).unwrap_or_default()
}

pub const TEAMS_CSV_HEADER: &str = "team,learners,statements,reported_seconds,estimated_seconds,\
self_direction_by_statements,self_direction_by_time,goal_coverage,goal_linked_share,\
finds_shared_per_learner,directed_courses,directed_completion_rate";

pub async fn teams(
    reader: Reader,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let request = read_request(&req, &reader, &state, "/reports/teams", &[])?;
    let scope = request.scope;
    let served = read_report(&state, &req, reader.0.store_id, async |pool| {
        learning::team_figures(pool, scope).await
    })
    .await?;
    let teams = &served.value;
    if request.csv {
        let lines = teams
            .iter()
            .map(|t| {
                vec![
                    t.team.clone(),
                    t.learners.to_string(),
                    t.statements.to_string(),
                    format!("{:.0}", t.reported_seconds),
                    format!("{:.0}", t.estimated_seconds),
                    share(Some(t.self_direction_by_statements)),
                    share(t.self_direction_by_time),
                    share(Some(t.goal_coverage)),
                    share(t.goal_linked_share),
                    format!("{:.2}", t.finds_shared_per_learner),
                    t.directed_courses.to_string(),
                    share(t.directed_completion_rate),
                ]
            })
            .collect();
        return Ok(csv_response(&served, TEAMS_CSV_HEADER, lines));
    }
    let mut body = period(&request, &served);
    body["minTeamSize"] = json!(request.scope.min_team_size);
    body["teams"] = json!(teams);
    Ok(report_response(&served).json(body))
}

pub async fn learner(
    reader: Reader,
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let request = read_request(
        &req,
        &reader,
        &state,
        "/reports/learners/{agent}",
        &["bucket", "top"],
    )?;
    let asked = learner_ifi("agent", &path.into_inner())?;
    let bucket = match request.extra.get("bucket").map(String::as_str) {
        None | Some("week") => "week",
        Some("day") => "day",
        Some("month") => "month",
        Some(other) => return Err(bad("bucket", other, "day, week or month")),
    };
    let top = top_of(&request.extra)?;
    let scope = request.scope;
    // The learner's report, unless they opted out (`None`): then it is not even computed.
    let served = read_report(&state, &req, reader.0.store_id, async |pool| {
        let (learner, opted_out) = learning::credited_learner(pool, scope.store_id, &asked).await?;
        if opted_out {
            return Ok((learner, None));
        }
        let report = learning::learner_report(pool, scope, &learner, bucket, top).await?;
        Ok((learner, Some(report)))
    })
    .await?;
    let (learner, report) = &*served.value;
    let Some(report) = report else {
        return Err(ApiError::Forbidden(format!(
            "{learner} opted out of learner-level reports; they still count in team figures"
        )));
    };
    if request.csv {
        let lines = report
            .mix
            .iter()
            .map(|m| {
                vec![
                    m.bucket.to_string(),
                    m.mode.clone(),
                    m.statements.to_string(),
                    format!("{:.0}", m.reported_seconds),
                    format!("{:.0}", m.estimated_seconds),
                ]
            })
            .collect();
        return Ok(csv_response(
            &served,
            "bucket,mode,statements,reported_seconds,estimated_seconds",
            lines,
        ));
    }
    let mut body = period(&request, &served);
    body["bucket"] = json!(bucket);
    if let serde_json::Value::Object(fields) = json!(report) {
        for (k, v) in fields {
            body[k] = v;
        }
    }
    Ok(report_response(&served).json(body))
}

pub async fn sources(
    reader: Reader,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let request = read_request(&req, &reader, &state, "/reports/sources", &["top"])?;
    let top = top_of(&request.extra)?;
    let scope = request.scope;
    let served = read_report(&state, &req, reader.0.store_id, async |pool| {
        learning::sources(pool, scope, top).await
    })
    .await?;
    let modes = &served.value;
    if request.csv {
        let mut lines = Vec::new();
        for m in modes.iter() {
            for (kind, list) in [("host", &m.hosts), ("activity", &m.activities)] {
                for (place, r) in list.iter().enumerate() {
                    lines.push(vec![
                        m.mode.clone(),
                        kind.to_string(),
                        (place + 1).to_string(),
                        r.key.clone(),
                        r.name.clone().unwrap_or_default(),
                        r.statements.to_string(),
                        r.learners.to_string(),
                        format!("{:.0}", r.reported_seconds),
                        format!("{:.0}", r.estimated_seconds),
                    ]);
                }
            }
        }
        return Ok(csv_response(
            &served,
            "mode,kind,rank,key,name,statements,learners,reported_seconds,estimated_seconds",
            lines,
        ));
    }
    let mut body = period(&request, &served);
    body["modes"] = json!(modes);
    Ok(report_response(&served).json(body))
}
