//! `GET /xapi/about` (Communication §2.8): public, whatever the version header says.

use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;

use super::middleware::{stated_version, VERSION_HEADER};
use crate::xapi::version::Version;

const VERSIONS_1_0: [&str; 4] = ["1.0.0", "1.0.1", "1.0.2", "1.0.3"];
const VERSIONS_ALL: [&str; 5] = ["1.0.0", "1.0.1", "1.0.2", "1.0.3", "2.0.0"];

/// A request made under 1.0.x is told about the 1.0.x versions only: 1.0.3 allows no
/// other values in `version` (conformance requirement XAPI-00316), and 1.0.x clients
/// refuse an About that lists 2.0.0 (TinCanPython's `about()` raises). A request made
/// under 2.0, or with no usable version, sees every version served, so a client that
/// speaks both can pick.
pub async fn about(req: HttpRequest) -> HttpResponse {
    let versions: &[&str] = match stated_version(req.headers().get(&VERSION_HEADER)) {
        Some(Version::V1_0_3) => &VERSIONS_1_0,
        Some(Version::V2_0_0) | None => &VERSIONS_ALL,
    };
    HttpResponse::Ok().json(json!({
        "version": versions,
        "extensions": {
            "https://commonplace.dev/xapi/extensions/server": {
                "name": "Commonplace",
                "version": env!("CARGO_PKG_VERSION")
            }
        }
    }))
}
