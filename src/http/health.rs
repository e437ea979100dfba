//! `GET /health`: for load balancers and operators; no authentication. Its status is
//! the primary's: a replica down or lagging only sends reads to the primary, so it is
//! named (`replicas`, when there are any) but keeps the answer 200.

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use super::AppState;
use crate::store::Database;

pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let limit = state.settings.pool.acquire_timeout;
    let healthy = tokio::time::timeout(limit, Database::is_healthy(&state.pool)).await;
    let mut body = if healthy == Ok(true) {
        json!({"status": "ok", "database": "up"})
    } else {
        json!({"status": "unavailable", "database": "down"})
    };
    let replicas: Vec<Value> = state
        .replicas
        .statuses()
        .iter()
        .map(|r| {
            json!({
                "replica": r.replica,
                "state": r.state.as_str(),
                "lag_seconds": r.lag.map(|lag| lag.as_secs_f64()),
            })
        })
        .collect();
    if !replicas.is_empty() {
        body["replicas"] = Value::Array(replicas);
    }
    if healthy == Ok(true) {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable()
            .insert_header((actix_web::http::header::RETRY_AFTER, 5))
            .json(body)
    }
}
