//! `GET /reports/modes`: per bucket, group and mode, the statements, active learners,
//! distinct activities, and reported and estimated time, as JSON or CSV.

use actix_web::http::header::ACCEPT;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{Duration, NaiveDate, Utc};
use serde_json::json;

use super::Reader;
use crate::http::error::ApiError;
use crate::http::params::query_pairs;
use crate::http::AppState;
use crate::store::reports::{mode_figures, Bucket, Grouping, ModeFigures, Privacy};

/// Without `since`, reports cover this many days before `until`.
pub(crate) const DEFAULT_DAYS: i64 = 84;

pub async fn modes(
    reader: Reader,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut since = None;
    let mut until = None;
    let mut bucket = Bucket::Week;
    let mut grouping = Grouping::Store;
    let mut csv = wants_csv(&req);
    for (name, value) in query_pairs(req.query_string())? {
        match name.as_str() {
            "since" => since = Some(parse_day(&name, &value)?),
            "until" => until = Some(parse_day(&name, &value)?),
            "bucket" => {
                bucket = match value.as_str() {
                    "day" => Bucket::Day,
                    "week" => Bucket::Week,
                    "month" => Bucket::Month,
                    _ => return Err(bad(&name, &value, "day, week or month")),
                }
            }
            "group" => {
                grouping = match value.as_str() {
                    "store" => Grouping::Store,
                    "team" => Grouping::Team,
                    "learner" => Grouping::Learner,
                    _ => return Err(bad(&name, &value, "store, team or learner")),
                }
            }
            "format" => {
                csv = match value.as_str() {
                    "csv" => true,
                    "json" => false,
                    _ => return Err(bad(&name, &value, "json or csv")),
                }
            }
            other => {
                return Err(ApiError::InvalidParameter(format!(
                    "{other}: not a parameter of /reports/modes"
                )))
            }
        }
    }
    // `until` is inclusive for the caller: the last day reported.
    let last = until.unwrap_or_else(|| Utc::now().date_naive());
    let first = since.unwrap_or(last - Duration::days(DEFAULT_DAYS - 1));
    if first > last {
        return Err(ApiError::InvalidParameter(
            "since: later than until".to_string(),
        ));
    }
    let privacy = Privacy {
        min_team_size: state.settings.min_team_size,
    };
    let figures = mode_figures(
        &state.pool,
        reader.0.store_id,
        first,
        last.succ_opt().unwrap_or(last),
        bucket,
        grouping,
        privacy,
    )
    .await?;
    if csv {
        return Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .body(to_csv(&figures)));
    }
    Ok(HttpResponse::Ok().json(json!({
        "since": first,
        "until": last,
        "bucket": bucket.as_str(),
        "rows": figures,
    })))
}

pub(super) fn bad(name: &str, value: &str, allowed: &str) -> ApiError {
    ApiError::InvalidParameter(format!("{name}: '{value}' is not one of {allowed}"))
}

/// A day as `YYYY-MM-DD`, or the day of an RFC 3339 timestamp.
pub(crate) fn parse_day(name: &str, value: &str) -> Result<NaiveDate, ApiError> {
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

/// Whether the client asked for CSV rather than JSON in `Accept`.
pub fn wants_csv(req: &HttpRequest) -> bool {
    req.headers()
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.to_ascii_lowercase().contains("text/csv"))
}

pub const CSV_HEADER: &str = "bucket,group,mode,statements,active_learners,distinct_activities,reported_seconds,duration_share,estimated_seconds";

fn to_csv(figures: &[ModeFigures]) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push_str("\r\n");
    for f in figures {
        let fields = [
            f.bucket.to_string(),
            f.group.clone(),
            f.mode.clone(),
            f.statements.to_string(),
            f.active_learners.to_string(),
            f.distinct_activities.to_string(),
            format!("{:.0}", f.reported_seconds),
            format!("{:.4}", f.duration_share),
            format!("{:.0}", f.estimated_seconds),
        ];
        let line: Vec<String> = fields.iter().map(|v| csv_field(v)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

/// RFC 4180 quoting, and a leading quote mark for text a spreadsheet would run as a
/// formula (a learner IFI or team name is outside our control).
pub(super) fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=SUM(A1)"), "'=SUM(A1)");
    }
}
