//! The Agents resource (Communication §2.4): the Person object behind an Agent.

use actix_web::dev::HttpServiceFactory;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::params::single_parameter;
use super::{get_or_head, resource, AppState, Caller};
use crate::auth::Access;
use crate::store::agents;
use crate::store::replicas::Need;
use crate::xapi::agent::parse_agent_param;
use crate::xapi::Ifi;

pub fn routes() -> impl HttpServiceFactory {
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
    let store_id = caller.principal.store_id;
    let person = state
        .read(Need::Latest, async |pool| {
            agents::person(pool, store_id, ifi.as_str()).await
        })
        .await?
        .value;
    // A Person lists every value it is known by; each property is an array.
    let mut names: Vec<String> = Vec::new();
    let mut properties: Map<String, Value> = Map::new();
    for (text, given) in person {
        for name in given {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        let Some(known) = Ifi::from_canonical(&text) else {
            continue;
        };
        for (property, value) in known.to_json_properties() {
            let list = properties.entry(property).or_insert_with(|| json!([]));
            if let Value::Array(values) = list {
                values.push(value);
            }
        }
    }
    let mut body = Map::new();
    body.insert("objectType".into(), json!("Person"));
    if !names.is_empty() {
        body.insert("name".into(), json!(names));
    }
    body.extend(properties);
    Ok(HttpResponse::Ok().json(Value::Object(body)))
}
