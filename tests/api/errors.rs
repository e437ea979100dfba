//! Error shapes and limits.

use crate::helpers::{error_of, spawn_app, spawn_app_with};

#[tokio::test]
async fn a_body_over_the_limit_is_413_with_a_json_error() {
    let app = spawn_app_with(|s| s.limits.max_body_bytes = 1024).await;
    let response = app
        .http
        .post(app.url("/xapi/statements?method=PUT"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("content={}", "a".repeat(4096)))
        .send()
        .await
        .unwrap();
    let (status, code, message) = error_of(response).await;
    assert_eq!((status, code.as_str()), (413, "payload_too_large"));
    assert!(message.contains("1024"), "{message}");
}

/// Communication §3.2 (ADL suite "405 Method Not Allowed", sent without credentials):
/// a method no xAPI resource has is 405 before authentication, so an unauthenticated
/// client learns the method is wrong rather than that it must log in.
#[tokio::test]
async fn comm_3_2_a_method_the_resource_lacks_is_405_even_without_credentials() {
    let app = spawn_app().await;
    for (method, path) in [
        (
            reqwest::Method::DELETE,
            "/xapi/statements?statementId=6f1b1c6e-8e63-4d5d-9b3f-1b8e4a1c0f11",
        ),
        (
            reqwest::Method::DELETE,
            "/xapi/activities?activityId=http://example.org/a",
        ),
        (
            reqwest::Method::DELETE,
            "/xapi/agents?agent=%7B%22mbox%22%3A%22mailto%3Aa%40example.org%22%7D",
        ),
        (reqwest::Method::PATCH, "/xapi/activities/state"),
        (reqwest::Method::PUT, "/xapi/agents/"),
    ] {
        let response = app
            .http
            .request(method.clone(), app.url(path))
            .header("X-Experience-API-Version", "1.0.1")
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["x-experience-api-version"], "1.0.3");
        let (status, code, _) = error_of(response).await;
        assert_eq!(
            (status, code.as_str()),
            (405, "method_not_allowed"),
            "{method} {path}"
        );
    }
    // A method the resource has still needs credentials.
    let response = app
        .http
        .get(app.url("/xapi/statements"))
        .header("X-Experience-API-Version", "1.0.3")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}
