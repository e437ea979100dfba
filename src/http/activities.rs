//! The Activities resource (Communication §2.5): the canonical definition of an Activity.

use actix_web::dev::HttpServiceFactory;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::error::ApiError;
use super::params::single_parameter;
use super::{get_or_head, resource, AppState, Caller};
use crate::auth::Access;
use crate::store::activities;
use crate::store::replicas::Need;
use crate::xapi::iri::is_iri;

pub fn routes() -> impl HttpServiceFactory {
    resource("/activities").route(get_or_head(get))
}

async fn get(
    caller: Caller,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Access::ReadDefinitions)?;
    let id = single_parameter(req.query_string(), "activityId")?;
    if !is_iri(&id) {
        return Err(ApiError::InvalidParameter(format!(
            "activityId: not an IRI: '{id}'"
        )));
    }
    let store_id = caller.principal.store_id;
    let definition = state
        .read(Need::Latest, async |pool| {
            activities::definition(pool, store_id, &id).await
        })
        .await?
        .value;
    // An Activity the LRS has never seen is still an Activity: its id alone (2.0 notes §7).
    let mut activity = json!({"objectType": "Activity", "id": id});
    if let Some(definition) = definition {
        activity["definition"] = definition;
    }
    Ok(HttpResponse::Ok().json(activity))
}
