//! `GET /health`: for load balancers and operators; no authentication.

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::AppState;
use crate::store::Database;

pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let limit = state.settings.pool.acquire_timeout;
    let healthy = tokio::time::timeout(limit, Database::is_healthy(&state.pool)).await;
    if healthy == Ok(true) {
        HttpResponse::Ok().json(json!({"status": "ok", "database": "up"}))
    } else {
        HttpResponse::ServiceUnavailable()
            .insert_header((actix_web::http::header::RETRY_AFTER, 5))
            .json(json!({"status": "unavailable", "database": "down"}))
    }
}
