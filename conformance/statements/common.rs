//! Small builders shared by the Statement requirement tests.
#![allow(dead_code)]

use reqwest::{Method, RequestBuilder, Response};
use serde_json::{json, Value};
use uuid::Uuid;

pub use crate::helpers::{basic_authorization, error_of, spawn_app, TestApp};

pub const V1: &str = "1.0.3";
pub const V2: &str = "2.0.0";
pub const VERSIONS: [&str; 2] = [V1, V2];

pub const VERB: &str = "http://adlnet.gov/expapi/verbs/experienced";
pub const VOIDED: &str = "http://adlnet.gov/expapi/verbs/voided";

/// A request of the `all` credential with this xAPI version header (and only it).
pub fn req(app: &TestApp, method: Method, path: &str, version: &str) -> RequestBuilder {
    app.http
        .request(method, app.url(path))
        .basic_auth(&app.key, Some(&app.secret))
        .header("X-Experience-API-Version", version)
}

pub fn agent(name: &str) -> Value {
    json!({"objectType": "Agent", "name": name, "mbox": format!("mailto:{name}@example.com")})
}

pub fn activity(id: &str) -> Value {
    json!({"objectType": "Activity", "id": id})
}

pub fn activity_iri(n: &str) -> String {
    format!("http://example.com/activities/{n}")
}

/// A minimal valid Statement: `name` experienced activity `act`.
pub fn statement(name: &str, act: &str) -> Value {
    json!({
        "actor": agent(name),
        "verb": {"id": VERB, "display": {"en-US": "experienced"}},
        "object": activity(&activity_iri(act)),
    })
}

pub fn with_id(mut statement: Value, id: Uuid) -> Value {
    statement["id"] = json!(id.to_string());
    statement
}

pub fn voiding(target: Uuid) -> Value {
    json!({
        "actor": agent("admin"),
        "verb": {"id": VOIDED, "display": {"en-US": "voided"}},
        "object": {"objectType": "StatementRef", "id": target.to_string()},
    })
}

pub fn referring(name: &str, target: Uuid) -> Value {
    json!({
        "actor": agent(name),
        "verb": {"id": "http://example.com/verbs/confirmed"},
        "object": {"objectType": "StatementRef", "id": target.to_string()},
    })
}

pub async fn post(app: &TestApp, version: &str, body: &Value) -> Response {
    req(app, Method::POST, "/xapi/statements", version)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// POSTs one Statement or a batch and returns the ids, asserting 200.
pub async fn post_ok(app: &TestApp, version: &str, body: &Value) -> Vec<Uuid> {
    let response = post(app, version, body).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "POST {body}: {text}");
    serde_json::from_str(&text).unwrap()
}

pub async fn post_one(app: &TestApp, version: &str, body: &Value) -> Uuid {
    post_ok(app, version, body).await[0]
}

pub async fn put(app: &TestApp, version: &str, query: &str, body: &Value) -> Response {
    req(
        app,
        Method::PUT,
        &format!("/xapi/statements?{query}"),
        version,
    )
    .json(body)
    .send()
    .await
    .unwrap()
}

/// GET /xapi/statements?query, as it is answered (headers included).
pub async fn get_response(app: &TestApp, version: &str, query: &str) -> Response {
    req(
        app,
        Method::GET,
        &format!("/xapi/statements?{query}"),
        version,
    )
    .send()
    .await
    .unwrap()
}

/// GET /xapi/statements?query → (status, body as JSON).
pub async fn get(app: &TestApp, version: &str, query: &str) -> (u16, Value) {
    let response = get_response(app, version, query).await;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

pub async fn get_statement(app: &TestApp, version: &str, id: Uuid) -> (u16, Value) {
    get(app, version, &format!("statementId={id}")).await
}

pub async fn get_voided(app: &TestApp, version: &str, id: Uuid) -> (u16, Value) {
    get(app, version, &format!("voidedStatementId={id}")).await
}

/// The ids of a StatementResult, in order.
pub fn ids_of(result: &Value) -> Vec<Uuid> {
    result["statements"]
        .as_array()
        .unwrap_or_else(|| panic!("not a StatementResult: {result}"))
        .iter()
        .map(|s| s["id"].as_str().unwrap().parse().unwrap())
        .collect()
}

/// Every id a query returns, following `more` links.
pub async fn query_ids(app: &TestApp, version: &str, query: &str) -> Vec<Uuid> {
    let (status, mut page) = get(app, version, query).await;
    assert_eq!(status, 200, "GET ?{query}: {page}");
    let mut ids = ids_of(&page);
    while let Some(more) = page["more"].as_str().filter(|m| !m.is_empty()) {
        let response = req(app, Method::GET, more, version).send().await.unwrap();
        assert_eq!(response.status(), 200);
        page = response.json().await.unwrap();
        ids.extend(ids_of(&page));
    }
    ids
}

pub fn enc(value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    percent_encoding::utf8_percent_encode(&text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Asserts a 400 with the JSON error shape; returns the message.
pub async fn assert_400(response: Response, what: &str) -> String {
    let (status, _code, message) = error_of(response).await;
    assert_eq!(status, 400, "{what}: {message}");
    message
}

/// Asserts the store holds no Statement at all.
pub async fn assert_nothing_stored(app: &TestApp, what: &str) {
    let (status, result) = get(app, V2, "").await;
    assert_eq!(status, 200);
    assert_eq!(
        result["statements"].as_array().map(Vec::len),
        Some(0),
        "{what}: something was stored: {result}"
    );
}
