//! `GET /xapi/about` (Communication §2.8): public, whatever the version header says.

use actix_web::HttpResponse;
use serde_json::json;

pub async fn about() -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "version": ["1.0.0", "1.0.1", "1.0.2", "1.0.3", "2.0.0"],
        "extensions": {
            "https://commonplace.dev/xapi/extensions/server": {
                "name": "Commonplace",
                "version": env!("CARGO_PKG_VERSION")
            }
        }
    }))
}
