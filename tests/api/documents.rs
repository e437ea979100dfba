//! The document resources end to end: merges, concurrency, binary content, since,
//! version rules, scopes and store isolation.

use std::sync::Arc;

use commonplace::auth::Scope;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{error_of, spawn_app, spawn_app_with, TestApp};

const ACTIVITY: &str = "http://example.org/course/1";
const VERSION: &str = "X-Experience-API-Version";

fn agent() -> String {
    json!({"objectType": "Agent", "mbox": "mailto:learner@example.org"}).to_string()
}

/// The query of the State document `state_id` for the test agent and activity.
fn state_query(state_id: &str) -> String {
    serde_urlencoded::to_string([
        ("activityId", ACTIVITY),
        ("agent", &agent()),
        ("stateId", state_id),
    ])
    .unwrap()
}

fn state_url(state_id: &str) -> String {
    format!("/xapi/activities/state?{}", state_query(state_id))
}

fn profile_url(profile_id: &str) -> String {
    format!(
        "/xapi/activities/profile?{}",
        serde_urlencoded::to_string([("activityId", ACTIVITY), ("profileId", profile_id)]).unwrap()
    )
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<(&str, Vec<u8>)>,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    // Headers given here replace the defaults of `TestApp::xapi` (the version among them).
    let mut request = app
        .http
        .request(method, app.url(path))
        .basic_auth(&app.key, Some(&app.secret));
    if !headers.iter().any(|(name, _)| *name == VERSION) {
        request = request.header(VERSION, "2.0.0");
    }
    if let Some((content_type, bytes)) = body {
        request = request.header("Content-Type", content_type).body(bytes);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

async fn put_json(app: &TestApp, path: &str, body: Value, headers: &[(&str, &str)]) -> u16 {
    let body = Some(("application/json", body.to_string().into_bytes()));
    send(app, Method::PUT, path, body, headers)
        .await
        .status()
        .as_u16()
}

async fn post_json(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    let body = Some(("application/json", body.to_string().into_bytes()));
    send(app, Method::POST, path, body, &[]).await
}

async fn get_json(app: &TestApp, path: &str) -> Value {
    let response = app.xapi(Method::GET, path).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn etag(app: &TestApp, path: &str) -> String {
    let response = app.xapi(Method::GET, path).send().await.unwrap();
    response.headers()["etag"].to_str().unwrap().to_string()
}

#[tokio::test]
async fn post_merges_top_level_properties_of_json_documents() {
    let app = spawn_app().await;
    let url = state_url("vars");
    assert_eq!(
        post_json(&app, &url, json!({"x": "foo", "y": "bar"}))
            .await
            .status(),
        204
    );
    assert_eq!(
        post_json(&app, &url, json!({"x": "bash", "z": "faz"}))
            .await
            .status(),
        204
    );
    assert_eq!(
        get_json(&app, &url).await,
        json!({"x": "bash", "y": "bar", "z": "faz"})
    );
}

#[tokio::test]
async fn post_refuses_to_merge_non_json_or_non_objects_and_changes_nothing() {
    let app = spawn_app().await;
    let url = state_url("vars");
    assert_eq!(post_json(&app, &url, json!({"x": 1})).await.status(), 204);
    let text = send(
        &app,
        Method::POST,
        &url,
        Some(("text/plain", b"x=2".to_vec())),
        &[],
    )
    .await;
    let (status, code, message) = error_of(text).await;
    assert_eq!((status, code.as_str()), (400, "invalid_body"));
    assert!(message.contains("application/json"), "{message}");
    assert_eq!(post_json(&app, &url, json!([1, 2])).await.status(), 400);
    assert_eq!(get_json(&app, &url).await, json!({"x": 1}));

    let plain = state_url("plain");
    let body = Some(("text/plain", b"hello".to_vec()));
    assert_eq!(
        send(&app, Method::PUT, &plain, body, &[]).await.status(),
        204
    );
    assert_eq!(post_json(&app, &plain, json!({"x": 1})).await.status(), 400);
}

#[tokio::test]
async fn binary_documents_round_trip_with_their_content_type_and_sha1_etag() {
    let app = spawn_app().await;
    let url = state_url("blob");
    let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let body = Some(("image/x-custom; v=1", bytes.clone()));
    assert_eq!(send(&app, Method::PUT, &url, body, &[]).await.status(), 204);
    let response = app.xapi(Method::GET, &url).send().await.unwrap();
    assert_eq!(response.headers()["content-type"], "image/x-custom; v=1");
    let sha1 = {
        use sha1::Digest;
        hex::encode(sha1::Sha1::digest(&bytes))
    };
    assert_eq!(response.headers()["etag"], format!("\"{sha1}\"").as_str());
    assert_eq!(response.bytes().await.unwrap().to_vec(), bytes);
}

#[tokio::test]
async fn bodies_over_the_limit_get_413() {
    let app = spawn_app_with(|s| s.limits.max_body_bytes = 1024).await;
    let body = Some(("application/octet-stream", vec![7u8; 2048]));
    let response = send(&app, Method::PUT, &state_url("big"), body, &[]).await;
    assert_eq!(error_of(response).await.0, 413);
}

#[tokio::test]
async fn two_writers_with_the_same_if_match_one_wins_and_nothing_is_lost() {
    let app = Arc::new(spawn_app().await);
    let url = profile_url("race");
    assert_eq!(put_json(&app, &url, json!({"n": 0}), &[]).await, 204);
    for round in 1..=5 {
        let tag = etag(&app, &url).await;
        let writers = ["a", "b"].map(|writer| {
            let (app, url, tag) = (app.clone(), url.clone(), tag.clone());
            tokio::spawn(async move {
                let body = json!({"n": round, "by": writer});
                let status = put_json(&app, &url, body, &[("If-Match", &tag)]).await;
                (status, writer)
            })
        });
        let mut outcomes = Vec::new();
        for writer in writers {
            outcomes.push(writer.await.unwrap());
        }
        let statuses: Vec<u16> = {
            let mut s: Vec<u16> = outcomes.iter().map(|o| o.0).collect();
            s.sort();
            s
        };
        assert_eq!(statuses, [204, 412], "round {round}");
        let winner = outcomes.iter().find(|o| o.0 == 204).unwrap().1;
        assert_eq!(
            get_json(&app, &url).await,
            json!({"n": round, "by": winner})
        );
    }
}

#[tokio::test]
async fn concurrent_merges_lose_no_property() {
    let app = Arc::new(spawn_app().await);
    let url = state_url("merge-race");
    let writers: Vec<_> = (0..8)
        .map(|i| {
            let (app, url) = (app.clone(), url.clone());
            tokio::spawn(async move {
                post_json(&app, &url, json!({ format!("k{i}"): i }))
                    .await
                    .status()
            })
        })
        .collect();
    for writer in writers {
        assert_eq!(writer.await.unwrap(), 204);
    }
    let merged = get_json(&app, &url).await;
    assert_eq!(merged.as_object().unwrap().len(), 8, "{merged}");
}

#[tokio::test]
async fn put_without_headers_on_an_existing_document_follows_the_version() {
    let app = spawn_app().await;
    let state = state_url("s");
    let profile = profile_url("p");
    for url in [&state, &profile] {
        assert_eq!(put_json(&app, url, json!({"v": 1}), &[]).await, 204);
    }
    // xAPI 2.0: State is under concurrency control like the profiles.
    for url in [&state, &profile] {
        let response = send(
            &app,
            Method::PUT,
            url,
            Some(("application/json", b"{}".to_vec())),
            &[],
        )
        .await;
        let (status, code, message) = error_of(response).await;
        assert_eq!((status, code.as_str()), (409, "conflict"), "{url}");
        assert!(message.contains("If-Match"), "{message}");
        assert_eq!(get_json(&app, url).await, json!({"v": 1}));
    }
    // xAPI 1.0.3: State is exempt, the profiles are not.
    let v103 = [(VERSION, "1.0.3")];
    assert_eq!(put_json(&app, &state, json!({"v": 2}), &v103).await, 204);
    assert_eq!(get_json(&app, &state).await, json!({"v": 2}));
    assert_eq!(put_json(&app, &profile, json!({"v": 2}), &v103).await, 409);
}

#[tokio::test]
async fn preconditions_give_412_and_leave_the_document_alone() {
    let app = spawn_app().await;
    let url = profile_url("p");
    assert_eq!(
        put_json(&app, &url, json!({"v": 1}), &[("If-None-Match", "*")]).await,
        204
    );
    assert_eq!(
        put_json(&app, &url, json!({"v": 2}), &[("If-None-Match", "*")]).await,
        412
    );
    assert_eq!(
        put_json(&app, &url, json!({"v": 2}), &[("If-Match", "\"1234\"")]).await,
        412
    );
    let delete = send(
        &app,
        Method::DELETE,
        &url,
        None,
        &[("If-Match", "\"1234\"")],
    )
    .await;
    assert_eq!(delete.status(), 412);
    assert_eq!(get_json(&app, &url).await, json!({"v": 1}));
    let tag = etag(&app, &url).await;
    assert_eq!(
        put_json(&app, &url, json!({"v": 2}), &[("If-Match", &tag)]).await,
        204
    );
    assert_eq!(
        put_json(&app, &url, json!({"v": 3}), &[("If-Match", &tag)]).await,
        412
    );
    let tag = etag(&app, &url).await;
    let delete = send(&app, Method::DELETE, &url, None, &[("If-Match", &tag)]).await;
    assert_eq!(delete.status(), 204);
    assert_eq!(
        app.xapi(Method::GET, &url).send().await.unwrap().status(),
        404
    );
}

#[tokio::test]
async fn since_filters_the_ids_exclusively_and_last_modified_is_an_http_date() {
    let app = spawn_app().await;
    let list = format!(
        "/xapi/activities/state?{}",
        serde_urlencoded::to_string([("activityId", ACTIVITY), ("agent", &agent())]).unwrap()
    );
    assert_eq!(
        post_json(&app, &state_url("old"), json!({})).await.status(),
        204
    );
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let between = chrono::Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    assert_eq!(
        post_json(&app, &state_url("new"), json!({})).await.status(),
        204
    );

    assert_eq!(get_json(&app, &list).await, json!(["old", "new"]));
    let since = serde_urlencoded::to_string([("since", between.to_rfc3339())]).unwrap();
    assert_eq!(
        get_json(&app, &format!("{list}&{since}")).await,
        json!(["new"])
    );

    let response = app
        .xapi(Method::GET, &state_url("new"))
        .send()
        .await
        .unwrap();
    let modified = response.headers()["last-modified"].to_str().unwrap();
    let parsed = chrono::DateTime::parse_from_rfc2822(modified).expect("an HTTP-date");
    assert!(modified.ends_with(" GMT"), "{modified}");
    assert!(
        (parsed.with_timezone(&chrono::Utc) - between)
            .num_seconds()
            .abs()
            <= 1
    );
}

#[tokio::test]
async fn registration_separates_state_and_bulk_delete_clears_the_context() {
    let app = spawn_app().await;
    let registration = "6f2a0c4e-6c3b-4f1e-9a5d-6f0e7a1b2c3d";
    let with_registration = format!("{}&registration={registration}", state_url("s"));
    assert_eq!(
        post_json(&app, &state_url("s"), json!({"r": false}))
            .await
            .status(),
        204
    );
    assert_eq!(
        post_json(&app, &with_registration, json!({"r": true}))
            .await
            .status(),
        204
    );
    assert_eq!(get_json(&app, &state_url("s")).await, json!({"r": false}));
    assert_eq!(get_json(&app, &with_registration).await, json!({"r": true}));

    let context =
        serde_urlencoded::to_string([("activityId", ACTIVITY), ("agent", &agent())]).unwrap();
    let registration_only = format!("/xapi/activities/state?{context}&registration={registration}");
    let delete = send(&app, Method::DELETE, &registration_only, None, &[]).await;
    assert_eq!(delete.status(), 204);
    assert_eq!(get_json(&app, &state_url("s")).await, json!({"r": false}));
    let all = format!("/xapi/activities/state?{context}");
    assert_eq!(
        send(&app, Method::DELETE, &all, None, &[]).await.status(),
        204
    );
    assert_eq!(get_json(&app, &all).await, json!([]));
}

#[tokio::test]
async fn the_same_agent_in_other_words_is_the_same_agent() {
    let app = spawn_app().await;
    assert_eq!(
        post_json(&app, &state_url("s"), json!({"a": 1}))
            .await
            .status(),
        204
    );
    let same_agent = json!({"mbox": "mailto:learner@example.org", "name": "Lee"}).to_string();
    let query = serde_urlencoded::to_string([
        ("stateId", "s"),
        ("agent", &same_agent),
        ("activityId", ACTIVITY),
    ])
    .unwrap();
    let url = format!("/xapi/activities/state?{query}");
    assert_eq!(get_json(&app, &url).await, json!({"a": 1}));
}

#[tokio::test]
async fn scopes_state_and_profile_reach_only_their_resources() {
    let app = spawn_app().await;
    let as_credential = |scope: Scope| {
        let app = &app;
        async move {
            let credential = app.credential("default", &[scope]).await;
            let status = |url: String| {
                let credential = credential.clone();
                async move {
                    app.http
                        .get(app.url(&url))
                        .basic_auth(&credential.key, Some(&credential.secret))
                        .header("X-Experience-API-Version", "2.0.0")
                        .send()
                        .await
                        .unwrap()
                        .status()
                        .as_u16()
                }
            };
            let agent_profile = format!(
                "/xapi/agents/profile?{}",
                serde_urlencoded::to_string([("agent", agent())]).unwrap()
            );
            (
                status(state_url("s")).await,
                status(profile_url("p")).await,
                status(agent_profile).await,
            )
        }
    };
    assert_eq!(as_credential(Scope::State).await, (404, 403, 403));
    assert_eq!(as_credential(Scope::Profile).await, (403, 404, 200));
    assert_eq!(
        as_credential(Scope::StatementsReadMine).await,
        (403, 403, 403)
    );
    assert_eq!(as_credential(Scope::AllRead).await, (404, 404, 200));
}

#[tokio::test]
async fn documents_of_one_store_are_invisible_to_another() {
    let app = spawn_app().await;
    commonplace::store::credentials::create_store(&app.pool, "other")
        .await
        .unwrap();
    let other = app.credential("other", &[Scope::All]).await;
    assert_eq!(
        post_json(&app, &state_url("s"), json!({"mine": true}))
            .await
            .status(),
        204
    );
    let from_other = |method: Method| {
        app.http
            .request(method, app.url(&state_url("s")))
            .basic_auth(&other.key, Some(&other.secret))
            .header("X-Experience-API-Version", "2.0.0")
    };
    assert_eq!(from_other(Method::GET).send().await.unwrap().status(), 404);
    let put = from_other(Method::PUT)
        .header("Content-Type", "application/json")
        .body(r#"{"theirs":true}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 204, "a new document in the other store");
    assert_eq!(get_json(&app, &state_url("s")).await, json!({"mine": true}));
}

#[tokio::test]
async fn head_answers_like_get_without_a_body() {
    let app = spawn_app().await;
    assert_eq!(
        post_json(&app, &profile_url("p"), json!({"a": 1}))
            .await
            .status(),
        204
    );
    let get = app
        .xapi(Method::GET, &profile_url("p"))
        .send()
        .await
        .unwrap();
    let head = app
        .xapi(Method::HEAD, &profile_url("p"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    for name in ["etag", "last-modified", "content-type"] {
        assert_eq!(head.headers()[name], get.headers()[name], "{name}");
    }
    assert!(head.bytes().await.unwrap().is_empty());
}
