//! `GET /reports/goals` and `/reports/sharing`: goals and shared finds per team (issue
//! 19), as JSON or CSV. Figures are defined in the README next to the API.

use std::collections::BTreeMap;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::learning::{csv_response, period, read_request, top_of, whole_number};
use crate::http::error::ApiError;
use crate::http::report_access::{report_response, Reader};
use crate::http::report_cache::read_report;
use crate::http::AppState;
use crate::store::insight;

/// Weeks without linked activity after which a goal is stale, unless `weeks` says
/// otherwise; at most `MAX_WEEKS`.
const DEFAULT_STALE_WEEKS: i64 = 4;
const MAX_WEEKS: i64 = 104;

pub(super) fn weeks_of(extra: &BTreeMap<String, String>) -> Result<i64, ApiError> {
    Ok(whole_number(extra, "weeks", MAX_WEEKS)?.unwrap_or(DEFAULT_STALE_WEEKS))
}

pub const GOALS_CSV_HEADER: &str =
    "team,learners,goal_setters,goals,self_directed_seconds,goal_linked_seconds";

/// Per team, the goal figures; then the stale goals (their CSV is
/// `/reports/concierge/stale-goals`).
pub async fn goals(
    reader: Reader,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let request = read_request(&req, &reader, &state, "/reports/goals", &["weeks"])?;
    let weeks = weeks_of(&request.extra)?;
    let scope = request.scope;
    let csv = request.csv;
    let served = read_report(&state, &req, reader.0.store_id, async |pool| {
        let teams = insight::goal_figures(pool, scope).await?;
        let stale = if csv {
            Vec::new()
        } else {
            insight::stale_goals(pool, scope, weeks).await?
        };
        Ok((teams, stale))
    })
    .await?;
    let (teams, stale) = &*served.value;
    if csv {
        let lines = teams
            .iter()
            .map(|t| {
                vec![
                    t.team.clone(),
                    t.learners.to_string(),
                    t.goal_setters.to_string(),
                    t.goals.to_string(),
                    format!("{:.0}", t.self_directed_seconds),
                    format!("{:.0}", t.goal_linked_seconds),
                ]
            })
            .collect();
        return Ok(csv_response(&served, GOALS_CSV_HEADER, lines));
    }
    let mut body = period(&request, &served);
    body["minTeamSize"] = json!(request.scope.min_team_size);
    body["weeks"] = json!(weeks);
    body["teams"] = json!(teams);
    body["staleGoals"] = json!(stale);
    Ok(report_response(&served).json(body))
}

pub const SHARING_CSV_HEADER: &str = "kind,week,team,activity,name,shares,sharers";

/// Per week and team, the finds shared; then the most shared items (`top`).
pub async fn sharing(
    reader: Reader,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let request = read_request(&req, &reader, &state, "/reports/sharing", &["top"])?;
    let top = top_of(&request.extra)?;
    let scope = request.scope;
    let served = read_report(&state, &req, reader.0.store_id, async |pool| {
        let weeks = insight::sharing_by_week(pool, scope).await?;
        let items = insight::top_shared(pool, scope, top).await?;
        Ok((weeks, items))
    })
    .await?;
    let (weeks, items) = &*served.value;
    if request.csv {
        let mut lines: Vec<Vec<String>> = weeks
            .iter()
            .map(|w| {
                vec![
                    "week".to_string(),
                    w.week.to_string(),
                    w.team.clone(),
                    String::new(),
                    String::new(),
                    w.shares.to_string(),
                    w.sharers.to_string(),
                ]
            })
            .collect();
        lines.extend(items.iter().map(|i| {
            vec![
                "item".to_string(),
                String::new(),
                String::new(),
                i.activity.clone(),
                i.name.clone().unwrap_or_default(),
                i.shares.to_string(),
                i.sharers.to_string(),
            ]
        }));
        return Ok(csv_response(&served, SHARING_CSV_HEADER, lines));
    }
    let mut body = period(&request, &served);
    body["minTeamSize"] = json!(request.scope.min_team_size);
    body["weeks"] = json!(weeks);
    body["topShared"] = json!(items);
    Ok(report_response(&served).json(body))
}
