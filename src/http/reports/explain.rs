//! `GET /reports/explain?statementId=`: why a Statement has the mode it has.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use crate::http::error::ApiError;
use crate::http::params::query_pairs;
use crate::http::report_access::Reader;
use crate::http::AppState;
use crate::store::modes::label_of;
use crate::store::replicas::Need;
use crate::xapi::uuid_text::parse_uuid;

pub async fn explain(
    reader: Reader,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut statement_id = None;
    for (name, value) in query_pairs(req.query_string())? {
        match name.as_str() {
            "statementId" => {
                statement_id = Some(parse_uuid(&value).ok_or_else(|| {
                    ApiError::InvalidParameter(format!("statementId: not a UUID: '{value}'"))
                })?)
            }
            other => {
                return Err(ApiError::InvalidParameter(format!(
                    "{other}: not a parameter of /reports/explain"
                )))
            }
        }
    }
    let id =
        statement_id.ok_or_else(|| ApiError::InvalidParameter("statementId: required".into()))?;
    // A replica that has replayed what the primary held when this was asked has every
    // Statement acknowledged by then.
    let store_id = reader.0.store_id;
    let label = state
        .read(Need::Latest, async |pool| {
            label_of(pool, store_id, id).await
        })
        .await?
        .value
        .ok_or_else(|| ApiError::NotFound(format!("no Statement {id} in this store")))?;
    let rules = &state.settings.modes;
    let rule = label.rule.as_deref().and_then(|id| rules.rule(id));
    let note = match (&label.mode, &label.rule, rule) {
        (None, _, _) => "stored before learning modes existed; run `commonplace modes reclassify`",
        (Some(_), None, _) => "no rule of the ruleset matched",
        (Some(_), Some(_), None) => {
            "the rule that chose this mode is not in the server's current ruleset; \
             run `commonplace modes reclassify` after changing rules"
        }
        (Some(_), Some(_), Some(_)) => "the first rule of the ruleset that matched",
    };
    Ok(HttpResponse::Ok().json(json!({
        "statementId": id,
        "mode": label.mode,
        "ruleId": label.rule,
        "rule": rule,
        "note": note,
    })))
}
