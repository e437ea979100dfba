//! GET (and HEAD) of Statements (Communication §2.1.3).

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use tokio_postgres::types::PgLsn;

use super::params::{parse_get, query_pairs, Cursor, Format, Query, Single, StatementGet};
use crate::auth::{Access, ReadReach};
use crate::http::error::ApiError;
use crate::http::{AppState, Caller};
use crate::store::replicas::Need;
use crate::store::statement_reads::{self, PagePosition, StoredStatement, Watermark};
use crate::xapi::format;
use crate::xapi::multipart::{build_mixed, new_boundary, Headers};

const CONSISTENT_THROUGH: HeaderName =
    HeaderName::from_static("x-experience-api-consistent-through");

pub async fn get(
    caller: Caller,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let reach = caller.require(Access::ReadStatements)?;
    let store_id = caller.principal.store_id;
    let own_only = (reach == ReadReach::OwnStatements).then(|| caller.principal.key.clone());
    let request = query_pairs(req.query_string())
        .and_then(|pairs| parse_get(pairs, caller.version, store_id));
    // Every response of the Statement resource carries the consistency time
    // (Communication §2.1.3), errors such as 404 and 400 included.
    let (consistent_through, answered) = match request {
        Ok(StatementGet::Query(mut query)) => {
            // On the primary: the watermark says which Statements exist and who may
            // still add some, and its WAL position which replicas hold them all.
            let watermark = read_watermark(&state, store_id).await?;
            if let Some(credential) = own_only {
                query.filter.credential = Some(credential);
            }
            let answered = query_page(&state, store_id, &req, query, watermark).await;
            (watermark.consistent_through, answered)
        }
        Ok(StatementGet::Single(single)) => {
            let recent = recent_consistency(&state, store_id).await?;
            let answered = by_id(&state, store_id, &req, single, own_only, recent).await;
            (recent.consistent_through, answered)
        }
        Err(error) => (
            recent_consistency(&state, store_id)
                .await?
                .consistent_through,
            Err(error),
        ),
    };
    answered.or_else(|error| {
        let mut response = actix_web::ResponseError::error_response(&error);
        response.headers_mut().insert(
            CONSISTENT_THROUGH,
            HeaderValue::from_str(&consistent_through.to_rfc3339_opts(SecondsFormat::Millis, true))
                .expect("a timestamp is a valid header value"),
        );
        Ok(response)
    })
}

/// A consistency time, and the primary's WAL position: a replica that has replayed it
/// holds every Statement whose POST or PUT had been answered when it was read.
#[derive(Debug, Clone, Copy)]
struct Recent {
    consistent_through: DateTime<Utc>,
    position: PgLsn,
}

/// A consistency time read less than `consistency::MAX_AGE` ago by any request, else a
/// fresh one. The WAL position is always read now: a Statement acknowledged just before
/// must be found by id on whichever database answers.
async fn recent_consistency(state: &AppState, store_id: i64) -> Result<Recent, ApiError> {
    if let Some(consistent_through) = state.consistency.fresh(Instant::now()) {
        let position = if state.replicas.configured() {
            statement_reads::wal_position(&state.pool).await?
        } else {
            PgLsn::from(0)
        };
        return Ok(Recent {
            consistent_through,
            position,
        });
    }
    let watermark = read_watermark(state, store_id).await?;
    Ok(Recent {
        consistent_through: watermark.consistent_through,
        position: watermark.position,
    })
}

/// The store's watermark read now, its consistency time kept for the GETs by id after.
async fn read_watermark(state: &AppState, store_id: i64) -> Result<Watermark, ApiError> {
    let read_at = Instant::now();
    let watermark =
        statement_reads::snapshot(&state.pool, store_id, state.replicas.configured()).await?;
    state
        .consistency
        .offer(read_at, watermark.consistent_through);
    Ok(watermark)
}

async fn by_id(
    state: &AppState,
    store_id: i64,
    req: &HttpRequest,
    single: Single,
    own_only: Option<String>,
    recent: Recent,
) -> Result<HttpResponse, ApiError> {
    let Single {
        id,
        voided,
        format,
        attachments,
    } = single;
    // A replica that has replayed the position holds every Statement whose POST or PUT
    // has been answered; one that has not leaves it to the primary, so a Statement is
    // readable by id as soon as it is acknowledged.
    let need = Need::Replayed(recent.position);
    let timer = state.metrics.database_timer("statement_by_id");
    let found = state
        .read(need, async |pool| {
            statement_reads::by_id(pool, store_id, id, voided, own_only.as_deref()).await
        })
        .await?
        .value
        .ok_or_else(|| ApiError::NotFound(format!("no statement with id {id}")))?;
    timer.observe_duration();
    let last_modified = found.stored;
    // The Statement is in this response, so the header covers it, although an older
    // writer still in flight holds the time of queries back: the polling promise is the
    // queries' (they never hold a Statement stored after it).
    let covering = recent.consistent_through.max(found.stored);
    let statement = render(state, store_id, req, need, format, vec![found]).await?;
    let body = statement.into_iter().next().unwrap_or_default();
    respond(
        state,
        store_id,
        need,
        body,
        attachments,
        Some(last_modified),
        covering,
    )
    .await
}

async fn query_page(
    state: &AppState,
    store_id: i64,
    req: &HttpRequest,
    query: Query,
    watermark: Watermark,
) -> Result<HttpResponse, ApiError> {
    let limits = &state.settings.limits;
    let limit = match query.limit {
        None => limits.default_statement_limit,
        Some(0) => limits.max_statement_limit,
        Some(n) => n.min(limits.max_statement_limit),
    };
    // Every page of a result set holds what the first page's snapshot covers, and says
    // so: a client keeping the last page's header as its next `since` misses nothing.
    // A replica may serve a page once it has replayed the WAL position of that
    // snapshot (a link from before positions were kept: the current one, which is later).
    let snapshot_position = query
        .resume
        .as_ref()
        .and_then(|cursor| cursor.wal_position)
        .map_or(watermark.position, PgLsn::from);
    let need = Need::Replayed(snapshot_position);
    let position = match &query.resume {
        Some(cursor) => PagePosition {
            after: Some(cursor.after),
            pin: cursor.pin,
            consistent_through: DateTime::from_timestamp_millis(cursor.consistent_through)
                .ok_or_else(|| {
                    ApiError::InvalidParameter("more: not a valid continuation token".into())
                })?,
        },
        None => PagePosition {
            after: None,
            pin: watermark.pin,
            consistent_through: watermark.consistent_through,
        },
    };
    let timer = state.metrics.database_timer("statement_page");
    let page = state
        .read(need, async |pool| {
            statement_reads::page(pool, store_id, &query.filter, position, limit).await
        })
        .await?
        .value;
    timer.observe_duration();
    let more = match page.statements.last() {
        Some(last) if page.more => Cursor {
            query: query
                .resume
                .as_ref()
                .map_or_else(|| query.raw.clone(), |c| c.query.clone()),
            store: store_id,
            after: last.seq,
            pin: position.pin,
            consistent_through: position.consistent_through.timestamp_millis(),
            // Only a server with replicas reads it: without, the link is as it was.
            wal_position: state
                .replicas
                .configured()
                .then(|| u64::from(snapshot_position)),
        }
        .encode(),
        _ => String::new(),
    };
    let last_modified = page.statements.iter().map(|s| s.stored).max();
    let rendered = render(state, store_id, req, need, query.format, page.statements).await?;
    let mut body = String::with_capacity(rendered.iter().map(String::len).sum::<usize>() + 64);
    body.push_str("{\"statements\":[");
    body.push_str(&rendered.join(","));
    body.push_str("],\"more\":");
    body.push_str(
        &Value::String(if more.is_empty() {
            String::new()
        } else {
            format!("/xapi/statements?more={more}")
        })
        .to_string(),
    );
    body.push('}');
    respond(
        state,
        store_id,
        need,
        body,
        query.attachments,
        last_modified,
        position.consistent_through,
    )
    .await
}

/// Each Statement's JSON text in the requested format; `exact` passes the stored text through.
async fn render(
    state: &AppState,
    store_id: i64,
    req: &HttpRequest,
    need: Need,
    format: Format,
    statements: Vec<StoredStatement>,
) -> Result<Vec<String>, ApiError> {
    match format {
        Format::Exact => Ok(statements.into_iter().map(|s| s.body).collect()),
        Format::Ids => Ok(statements
            .iter()
            .map(|s| format::ids(&parse_stored(&s.body)).to_string())
            .collect()),
        Format::Canonical => {
            let parsed: Vec<Value> = statements.iter().map(|s| parse_stored(&s.body)).collect();
            let mut iris = BTreeSet::new();
            for statement in &parsed {
                collect_activity_ids(statement, &mut iris);
            }
            let iris: Vec<String> = iris.into_iter().collect();
            let definitions = state
                .read(need, async |pool| {
                    statement_reads::definitions(pool, store_id, &iris).await
                })
                .await?
                .value;
            let languages = req
                .headers()
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .map(format::parse_accept_language)
                .unwrap_or_default();
            let lookup = |iri: &str| definitions.get(iri).cloned();
            Ok(parsed
                .iter()
                .map(|s| format::canonical(s, &languages, &lookup).to_string())
                .collect())
        }
    }
}

fn parse_stored(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or(Value::Null)
}

/// Ids of the Activities in a Statement: its object (or its SubStatement's) and
/// every context activity.
fn collect_activity_ids(statement: &Value, into: &mut BTreeSet<String>) {
    let object = &statement["object"];
    match object["objectType"].as_str() {
        None | Some("Activity") => {
            if let Some(id) = object["id"].as_str() {
                into.insert(id.to_string());
            }
        }
        Some("SubStatement") => collect_activity_ids(object, into),
        _ => {}
    }
    if let Some(lists) = statement["context"]["contextActivities"].as_object() {
        for activity in lists.values().filter_map(Value::as_array).flatten() {
            if let Some(id) = activity["id"].as_str() {
                into.insert(id.to_string());
            }
        }
    }
}

async fn respond(
    state: &AppState,
    store_id: i64,
    need: Need,
    json: String,
    with_attachments: bool,
    last_modified: Option<DateTime<Utc>>,
    consistent_through: DateTime<Utc>,
) -> Result<HttpResponse, ApiError> {
    let mut response = HttpResponse::Ok();
    response.insert_header((
        CONSISTENT_THROUGH,
        consistent_through.to_rfc3339_opts(SecondsFormat::Millis, true),
    ));
    if let Some(at) = last_modified {
        let http_date = at.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        if let Ok(value) = HeaderValue::from_str(&http_date) {
            response.insert_header((header::LAST_MODIFIED, value));
        }
    }
    if !with_attachments {
        return Ok(response.content_type("application/json").body(json));
    }
    let hashes = attachment_hashes(&json);
    let contents = state
        .read(need, async |pool| {
            statement_reads::attachments(pool, store_id, &hashes).await
        })
        .await?
        .value;
    let boundary = new_boundary();
    let mut parts: Vec<(Headers, &[u8])> = vec![(
        vec![("Content-Type".into(), "application/json".into())],
        json.as_bytes(),
    )];
    let found: HashMap<&String, &(String, Vec<u8>)> = contents.iter().collect();
    for hash in &hashes {
        if let Some((content_type, content)) = found.get(hash) {
            parts.push((
                vec![
                    ("Content-Type".into(), content_type.clone()),
                    ("Content-Transfer-Encoding".into(), "binary".into()),
                    ("X-Experience-API-Hash".into(), hash.clone()),
                ],
                content.as_slice(),
            ));
        }
    }
    let body = build_mixed(&boundary, &parts);
    Ok(response
        .content_type(format!("multipart/mixed; boundary={boundary}"))
        .body(body))
}

/// The distinct `sha2` of every attachment in a response's Statements.
fn attachment_hashes(json: &str) -> Vec<String> {
    let value: Value = serde_json::from_str(json).unwrap_or(Value::Null);
    let statements: Vec<&Value> = match value.get("statements").and_then(Value::as_array) {
        Some(list) => list.iter().collect(),
        None => vec![&value],
    };
    let mut hashes = BTreeSet::new();
    for statement in statements {
        for attachment in statement["attachments"].as_array().into_iter().flatten() {
            if let Some(hash) = attachment["sha2"].as_str() {
                hashes.insert(hash.to_ascii_lowercase());
            }
        }
    }
    hashes.into_iter().collect()
}
