//! Cross-cutting HTTP rules: CORS, HEAD, unknown routes and methods, body limits, health.

use crate::helpers::{error_of, spawn_app, spawn_app_with, until_other_backends_idle};

#[tokio::test]
async fn cors_preflight_allows_xapi_headers_from_any_origin() {
    let app = spawn_app().await;
    let response = app
        .http
        .request(reqwest::Method::OPTIONS, app.url("/xapi/statements"))
        .header("Origin", "https://course.example.org")
        .header("Access-Control-Request-Method", "PUT")
        .header(
            "Access-Control-Request-Headers",
            "authorization,content-type,x-experience-api-version,if-match,if-none-match",
        )
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let headers = response.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://course.example.org"
    );
    let allowed = headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    for h in [
        "authorization",
        "content-type",
        "x-experience-api-version",
        "if-match",
        "if-none-match",
    ] {
        assert!(allowed.contains(h), "{h} not in {allowed}");
    }
    let methods = headers["access-control-allow-methods"].to_str().unwrap();
    assert!(
        methods.contains("PUT") && methods.contains("DELETE"),
        "{methods}"
    );
}

#[tokio::test]
async fn cross_origin_responses_expose_the_xapi_headers() {
    let app = spawn_app().await;
    let response = app
        .http
        .get(app.url("/xapi/about"))
        .header("Origin", "https://course.example.org")
        .send()
        .await
        .unwrap();
    let exposed = response.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    for h in [
        "etag",
        "last-modified",
        "x-experience-api-consistent-through",
        "x-experience-api-version",
    ] {
        assert!(exposed.contains(h), "{h} not in {exposed}");
    }
}

#[tokio::test]
async fn an_origin_allow_list_refuses_other_origins() {
    let app =
        spawn_app_with(|s| s.cors_origins = Some(vec!["https://lms.example.org".into()])).await;
    let preflight = |origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, app.url("/xapi/statements"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .send()
    };
    let allowed = preflight("https://lms.example.org").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://lms.example.org"
    );
    let refused = preflight("https://evil.example.com").await.unwrap();
    assert!(refused
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}

#[tokio::test]
async fn head_has_the_get_headers_and_no_body() {
    let app = spawn_app().await;
    let get = app.http.get(app.url("/xapi/about")).send().await.unwrap();
    let get_length = get.headers()["content-length"].clone();
    let get_type = get.headers()["content-type"].clone();
    assert!(!get.bytes().await.unwrap().is_empty());
    let head = app.http.head(app.url("/xapi/about")).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"], get_length);
    assert_eq!(head.headers()["content-type"], get_type);
    assert!(head.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405_with_json_errors() {
    let app = spawn_app().await;
    let (status, code, message) =
        error_of(app.http.get(app.url("/nowhere")).send().await.unwrap()).await;
    assert_eq!((status, code.as_str()), (404, "not_found"));
    assert!(message.contains("/nowhere"));

    let response = app
        .xapi(reqwest::Method::PATCH, "/xapi/statements")
        .send()
        .await
        .unwrap();
    let (status, code, message) = error_of(response).await;
    assert_eq!((status, code.as_str()), (405, "method_not_allowed"));
    assert!(message.contains("PATCH"), "{message}");

    let response = app
        .http
        .delete(app.url("/xapi/about"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
}

#[tokio::test]
async fn health_reports_the_database() {
    let app = spawn_app().await;
    let response = app.http.get(app.url("/health")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["database"], "up");
}

#[tokio::test]
async fn a_request_past_its_deadline_is_503_through_cors_and_writes_nothing() {
    let app = spawn_app_with(|s| s.request_timeout = std::time::Duration::from_secs(1)).await;
    // Another transaction holds the Statement table against writers: the write waits.
    let blocker = app.pool.get().await.unwrap();
    blocker
        .batch_execute("BEGIN; LOCK TABLE statements IN EXCLUSIVE MODE")
        .await
        .unwrap();
    let id = uuid::Uuid::new_v4();
    let response = app
        .xapi(
            reqwest::Method::PUT,
            &format!("/xapi/statements?statementId={id}"),
        )
        .header("Origin", "https://course.example.org")
        .json(&serde_json::json!({
            "actor": {"mbox": "mailto:late@example.org"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
            "object": {"id": "http://example.com/late"}
        }))
        .send()
        .await
        .unwrap();
    blocker.batch_execute("ROLLBACK").await.unwrap();
    // The abandoned write's connection is closed; wait until its backend is gone, so
    // the lookup below sees whatever it was ever going to commit.
    until_other_backends_idle(&blocker).await;
    assert_eq!(response.status(), 503);
    let headers = response.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://course.example.org"
    );
    assert!(headers.contains_key("x-experience-api-version"));
    assert!(headers.contains_key("retry-after"));
    let (_, code, _) = error_of(response).await;
    assert_eq!(code, "timeout");
    // The abandoned write was rolled back: the Statement is not there.
    let lookup = app
        .xapi(
            reqwest::Method::GET,
            &format!("/xapi/statements?statementId={id}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(lookup.status(), 404);
}
