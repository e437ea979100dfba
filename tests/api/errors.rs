//! Error shapes and limits.

use crate::helpers::{error_of, spawn_app_with};

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
