//! `GET /reports/modes`: per bucket, group and mode, the statements, active learners,
//! distinct activities, and reported and estimated time, as JSON or CSV.

use std::convert::Infallible;

use actix_web::body::SizedStream;
use actix_web::http::header::ACCEPT;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use serde::Serialize;

use crate::http::error::ApiError;
use crate::http::params::query_pairs;
use crate::http::report_access::{parse_day, period, replayed_through, report_response, Reader};
use crate::http::report_cache::read_report;
use crate::http::AppState;
use crate::roster::csv_field;
use crate::store::reports::{mode_figures, Bucket, Grouping, ModeFigures, Privacy};

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
    let (first, last) = period(since, until)?;
    let privacy = Privacy {
        min_team_size: state.settings.min_team_size,
    };
    let store_id = reader.0.store_id;
    let until = last.succ_opt().unwrap_or(last);
    // The rows are kept written out: by learner and day a million Workload Statements
    // make 15 MB of JSON, which would otherwise be written again for every request
    // that finds them kept.
    let served = read_report(&state, &req, reader.0.store_id, async |pool| {
        let figures = mode_figures(pool, store_id, first, until, bucket, grouping, privacy).await?;
        Ok(if csv {
            Written::Csv(Bytes::from(to_csv(&figures, grouping == Grouping::Learner)))
        } else {
            let rows = serde_json::to_vec(&figures).map_err(|e| {
                crate::store::Error::Misconfigured(format!("report rows as JSON: {e}"))
            })?;
            Written::Json(Bytes::from(rows))
        })
    })
    .await?;
    let mut response = report_response(&served);
    // The kept rows are sent as they are, shared, not copied into each response: by
    // learner and day they are 15 MB, and every request at once held a copy.
    Ok(match &*served.value {
        Written::Csv(text) => response
            .content_type("text/csv; charset=utf-8")
            .body(text.clone()),
        Written::Json(rows) => {
            let head = ModesHead {
                since: first,
                until: last,
                bucket: bucket.as_str(),
                replayed_through: replayed_through(&served),
            };
            let mut opening = serde_json::to_vec(&head).map_err(|e| {
                crate::store::Error::Misconfigured(format!("report head as JSON: {e}"))
            })?;
            // `{...}` becomes `{...,"rows":`, then the rows and the closing brace.
            opening.pop();
            opening.extend_from_slice(b",\"rows\":");
            let parts = [Bytes::from(opening), rows.clone(), Bytes::from_static(b"}")];
            let length = parts.iter().map(|part| part.len() as u64).sum();
            let stream = futures_util::stream::iter(parts.map(Ok::<_, Infallible>));
            response
                .content_type("application/json")
                .body(SizedStream::new(length, stream))
        }
    })
}

/// The report's rows as they are sent: a JSON array, or CSV with its header.
enum Written {
    Json(Bytes),
    Csv(Bytes),
}

/// Kept answers are weighed by the length of their JSON (`report_cache`): the rows'
/// text, as a JSON string, is about as long as they are.
impl Serialize for Written {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (Written::Json(bytes) | Written::Csv(bytes)) = self;
        serializer.serialize_str(std::str::from_utf8(bytes).unwrap_or_default())
    }
}

/// The body's fields before `rows`, in the order they are sent.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ModesHead {
    since: NaiveDate,
    until: NaiveDate,
    bucket: &'static str,
    replayed_through: Option<String>,
}

pub(super) fn bad(name: &str, value: &str, allowed: &str) -> ApiError {
    ApiError::InvalidParameter(format!("{name}: '{value}' is not one of {allowed}"))
}

/// Whether the client asked for CSV rather than JSON in `Accept`.
pub fn wants_csv(req: &HttpRequest) -> bool {
    req.headers()
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.to_ascii_lowercase().contains("text/csv"))
}

pub const CSV_HEADER: &str = "bucket,group,mode,statements,active_learners,distinct_activities,reported_seconds,duration_share,estimated_seconds";
/// By learner, the learner's name and team follow.
const LEARNER_COLUMNS: &str = ",name,team";

fn to_csv(figures: &[ModeFigures], by_learner: bool) -> String {
    let mut out = String::from(CSV_HEADER);
    if by_learner {
        out.push_str(LEARNER_COLUMNS);
    }
    out.push_str("\r\n");
    for f in figures {
        let mut fields = vec![
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
        if by_learner {
            fields.extend([f.name.clone(), f.team.clone()].map(Option::unwrap_or_default));
        }
        let line: Vec<String> = fields.iter().map(|v| csv_field(v)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}
