//! The Agents resource (Communication §2.4): the Person object behind an Agent.

use actix_web::{web, HttpRequest, HttpResponse, Resource};
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::params::single_parameter;
use super::{get_or_head, resource, AppState, Caller};
use crate::auth::Access;
use crate::store::agents;
use crate::xapi::agent::parse_agent_param;

pub fn routes() -> Resource {
    resource("/agents").route(get_or_head(get))
}

async fn get(
    caller: Caller,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Access::ReadDefinitions)?;
    let raw = single_parameter(req.query_string(), "agent")?;
    let ifi = parse_agent_param(&raw, caller.version)
        .map_err(|e| ApiError::InvalidParameter(e.to_string()))?;
    let names = agents::names(&state.pool, caller.principal.store_id, ifi.as_str())
        .await?
        .unwrap_or_default();
    // A Person lists every value it is known by; each property is an array.
    let mut person = Map::new();
    person.insert("objectType".into(), json!("Person"));
    if !names.is_empty() {
        person.insert("name".into(), json!(names));
    }
    for (property, value) in ifi.to_json_properties() {
        person.insert(property, Value::Array(vec![value]));
    }
    Ok(HttpResponse::Ok().json(Value::Object(person)))
}
