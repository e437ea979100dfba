//! The concierge's lists under `/reports/concierge/` (issue 19): stale goals, colleagues
//! of a learner or a goal, and unfinished directed work, as JSON or CSV. Opted-out
//! learners are never listed; a learner's team shows only when it is large enough for
//! the team reports.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::insight::weeks_of;
use super::learning::{csv_response, period, read_request, top_of, whole_number};
use crate::http::error::ApiError;
use crate::http::report_access::learner_ifi;
use crate::http::report_access::{report_response, Reader};
use crate::http::report_cache::read_report;
use crate::http::AppState;
use crate::store::insight::{self, ColleaguesOf};
use crate::store::learning;

pub const STALE_GOALS_CSV_HEADER: &str =
    "learner,name,team,goal,goal_name,documented,last_activity";

pub async fn stale_goals(
    reader: Reader,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let request = read_request(
        &req,
        &reader,
        &state,
        "/reports/concierge/stale-goals",
        &["weeks"],
    )?;
    let weeks = weeks_of(&request.extra)?;
    let scope = request.scope;
    let served = read_report(&state, &req, reader.0.store_id, async |pool| {
        insight::stale_goals(pool, scope, weeks).await
    })
    .await?;
    let stale = &served.value;
    if request.csv {
        let lines = stale
            .iter()
            .map(|g| {
                vec![
                    g.learner.clone(),
                    g.name.clone(),
                    g.team.clone().unwrap_or_default(),
                    g.goal.clone(),
                    g.goal_name.clone().unwrap_or_default(),
                    g.documented.to_string(),
                    g.last_activity.map(|d| d.to_string()).unwrap_or_default(),
                ]
            })
            .collect();
        return Ok(csv_response(&served, STALE_GOALS_CSV_HEADER, lines));
    }
    let mut body = period(&request, &served);
    body["weeks"] = json!(weeks);
    body["staleGoals"] = json!(stale);
    Ok(report_response(&served).json(body))
}

pub const COLLEAGUES_CSV_HEADER: &str =
    "rank,learner,name,team,common_sources,common_1,common_2,common_3,shares";

/// For `learner=` (an IFI or an Agent as JSON) or `goal=` (its id), the colleagues
/// with the most sources in common. An opted-out learner's are not computed.
pub async fn colleagues(
    reader: Reader,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let request = read_request(
        &req,
        &reader,
        &state,
        "/reports/concierge/colleagues",
        &["learner", "goal", "top"],
    )?;
    let top = top_of(&request.extra)?;
    let asked = match (request.extra.get("learner"), request.extra.get("goal")) {
        (Some(learner), None) => ColleaguesOf::Learner(learner_ifi("learner", learner)?),
        (None, Some(goal)) if !goal.trim().is_empty() => ColleaguesOf::Goal(goal.clone()),
        (None, Some(_)) => {
            return Err(ApiError::InvalidParameter(
                "goal: empty; give a goal's id".to_string(),
            ))
        }
        _ => {
            return Err(ApiError::InvalidParameter(
                "learner: give either learner (an IFI) or goal (a goal's id), not both".to_string(),
            ))
        }
    };
    let scope = request.scope;
    let served = read_report(&state, &req, reader.0.store_id, async |pool| {
        // A learner is asked about as the learner their IFI is credited to.
        let of = match &asked {
            ColleaguesOf::Goal(_) => asked.clone(),
            ColleaguesOf::Learner(ifi) => {
                let (learner, opted_out) =
                    learning::credited_learner(pool, scope.store_id, ifi).await?;
                if opted_out {
                    return Ok(Err(learner));
                }
                ColleaguesOf::Learner(learner)
            }
        };
        let found = insight::colleagues(pool, scope, of.clone(), top).await?;
        Ok(Ok((of, found)))
    })
    .await?;
    let (of, found) = match &*served.value {
        Ok(answer) => answer,
        Err(learner) => {
            return Err(ApiError::Forbidden(format!(
                "{learner} opted out of learner-level reports"
            )))
        }
    };
    if request.csv {
        let lines = found
            .iter()
            .enumerate()
            .map(|(place, c)| {
                let mut line = vec![
                    (place + 1).to_string(),
                    c.learner.clone(),
                    c.name.clone(),
                    c.team.clone().unwrap_or_default(),
                    c.common_sources.to_string(),
                ];
                line.extend((0..3).map(|i| c.common.get(i).cloned().unwrap_or_default()));
                line.push(c.shares.to_string());
                line
            })
            .collect();
        return Ok(csv_response(&served, COLLEAGUES_CSV_HEADER, lines));
    }
    let mut body = period(&request, &served);
    match of {
        ColleaguesOf::Learner(learner) => body["learner"] = json!(learner),
        ColleaguesOf::Goal(goal) => body["goal"] = json!(goal),
    }
    body["colleagues"] = json!(found);
    Ok(report_response(&served).json(body))
}

pub const UNFINISHED_CSV_HEADER: &str =
    "learner,name,team,course,course_name,started,last_activity";

/// The longest idle the JSON report lists unless asked for more (`limit`): at a million
/// Statements a store holds tens of thousands, megabytes of JSON that no one reads on
/// a page. The CSV, a download, lists them all unless `limit` is given.
const UNFINISHED_LIMIT: i64 = 1_000;
const MAX_UNFINISHED_LIMIT: i64 = 100_000;

pub async fn unfinished(
    reader: Reader,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let request = read_request(
        &req,
        &reader,
        &state,
        "/reports/concierge/unfinished",
        &["limit"],
    )?;
    let limit = match whole_number(&request.extra, "limit", MAX_UNFINISHED_LIMIT)? {
        Some(n) => Some(n),
        None if request.csv => None,
        None => Some(UNFINISHED_LIMIT),
    };
    let scope = request.scope;
    // One row past the limit tells whether there are more.
    let served = read_report(&state, &req, reader.0.store_id, async |pool| {
        insight::unfinished_directed(pool, scope, limit.map(|n| n + 1)).await
    })
    .await?;
    let read = served.value.len();
    let shown = limit.map_or(read, |n| read.min(n as usize));
    let more = shown < read;
    let unfinished = &served.value[..shown];
    if request.csv {
        let lines = unfinished
            .iter()
            .map(|u| {
                vec![
                    u.learner.clone(),
                    u.name.clone(),
                    u.team.clone().unwrap_or_default(),
                    u.course.clone(),
                    u.course_name.clone().unwrap_or_default(),
                    u.started.to_string(),
                    u.last_activity.to_string(),
                ]
            })
            .collect();
        return Ok(csv_response(&served, UNFINISHED_CSV_HEADER, lines));
    }
    let mut body = period(&request, &served);
    body["limit"] = json!(limit);
    body["more"] = json!(more);
    body["unfinished"] = json!(unfinished);
    Ok(report_response(&served).json(body))
}
