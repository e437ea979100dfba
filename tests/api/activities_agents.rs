//! The Activities and Agents resources, fed by the Statements the LRS stores.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{error_of, spawn_app, TestApp};

async fn post(app: &TestApp, statements: Value) {
    let response = app
        .xapi(Method::POST, "/xapi/statements")
        .json(&statements)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

async fn get_json(app: &TestApp, path: &str, query: &[(&str, &str)]) -> Value {
    let response = app
        .xapi(Method::GET, path)
        .query(query)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn statement(actor: Value, activity: Value) -> Value {
    json!({
        "actor": actor,
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
        "object": activity
    })
}

#[tokio::test]
async fn the_canonical_definition_merges_language_maps_across_statements() {
    let app = spawn_app().await;
    let id = "http://example.org/courses/safety";
    let actor = json!({"mbox": "mailto:ana@example.org"});
    post(
        &app,
        statement(
            actor.clone(),
            json!({"id": id, "definition": {
                "name": {"en-US": "Safety"}, "type": "http://adlnet.gov/expapi/activities/course"
            }}),
        ),
    )
    .await;
    post(
        &app,
        statement(
            actor,
            json!({"id": id, "definition": {
                "name": {"fr-FR": "Sécurité"}, "description": {"en-US": "Site safety basics"}
            }}),
        ),
    )
    .await;

    let activity = get_json(&app, "/xapi/activities", &[("activityId", id)]).await;
    assert_eq!(activity["objectType"], "Activity");
    assert_eq!(activity["id"], id);
    let definition = &activity["definition"];
    assert_eq!(definition["name"]["en-US"], "Safety");
    assert_eq!(definition["name"]["fr-FR"], "Sécurité");
    assert_eq!(definition["description"]["en-US"], "Site safety basics");
    assert_eq!(
        definition["type"],
        "http://adlnet.gov/expapi/activities/course"
    );
}

#[tokio::test]
async fn an_unknown_activity_is_an_activity_with_only_its_id() {
    let app = spawn_app().await;
    let activity = get_json(
        &app,
        "/xapi/activities",
        &[("activityId", "http://example.org/never")],
    )
    .await;
    assert_eq!(
        activity,
        json!({"objectType": "Activity", "id": "http://example.org/never"})
    );
}

#[tokio::test]
async fn activities_parameters_are_checked() {
    let app = spawn_app().await;
    for query in [
        vec![],
        vec![("activityId", "not an iri")],
        vec![("activityId", "http://x.org/a"), ("extra", "1")],
    ] {
        let response = app
            .xapi(Method::GET, "/xapi/activities")
            .query(&query)
            .send()
            .await
            .unwrap();
        let (status, code, _) = error_of(response).await;
        assert_eq!(
            (status, code.as_str()),
            (400, "invalid_parameter"),
            "{query:?}"
        );
    }
}

#[tokio::test]
async fn the_agents_resource_returns_the_person_with_every_name_seen() {
    let app = spawn_app().await;
    let activity = json!({"id": "http://example.org/a"});
    post(
        &app,
        statement(
            json!({"mbox": "mailto:bo@example.org", "name": "Bo"}),
            activity.clone(),
        ),
    )
    .await;
    post(
        &app,
        statement(
            json!({"mbox": "mailto:bo@example.org", "name": "Bo Lind"}),
            activity,
        ),
    )
    .await;

    let person = get_json(
        &app,
        "/xapi/agents",
        &[("agent", r#"{"mbox":"mailto:bo@example.org"}"#)],
    )
    .await;
    assert_eq!(person["objectType"], "Person");
    assert_eq!(person["mbox"], json!(["mailto:bo@example.org"]));
    let mut names: Vec<&str> = person["name"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["Bo", "Bo Lind"]);

    let account = get_json(
        &app,
        "/xapi/agents",
        &[(
            "agent",
            r#"{"account":{"homePage":"https://lms.example.org","name":"u-7"}}"#,
        )],
    )
    .await;
    assert_eq!(
        account["account"],
        json!([{"homePage": "https://lms.example.org", "name": "u-7"}])
    );
    assert!(account.get("name").is_none(), "never seen: no names");
}

#[tokio::test]
async fn a_malformed_agent_is_400() {
    let app = spawn_app().await;
    for agent in ["{", r#"{"name":"no ifi"}"#, r#"{"mbox":"a@b.org"}"#] {
        let response = app
            .xapi(Method::GET, "/xapi/agents")
            .query(&[("agent", agent)])
            .send()
            .await
            .unwrap();
        let (status, _, message) = error_of(response).await;
        assert_eq!(status, 400, "{agent}");
        assert!(message.starts_with("agent"), "{message}");
    }
}

#[tokio::test]
async fn definitions_of_one_store_are_invisible_to_another() {
    let app = spawn_app().await;
    let id = "http://example.org/secret-course";
    post(
        &app,
        statement(
            json!({"mbox": "mailto:x@example.org"}),
            json!({"id": id, "definition": {"name": {"en": "Secret"}}}),
        ),
    )
    .await;
    commonplace::store::credentials::create_store(&app.pool, "other")
        .await
        .unwrap();
    let other = app
        .credential("other", &[commonplace::auth::Scope::All])
        .await;
    let response = app
        .http
        .get(app.url("/xapi/activities"))
        .query(&[("activityId", id)])
        .basic_auth(&other.key, Some(&other.secret))
        .header("X-Experience-API-Version", "2.0.0")
        .send()
        .await
        .unwrap();
    let activity: Value = response.json().await.unwrap();
    assert!(activity.get("definition").is_none(), "{activity}");
}
