//! X-Experience-API-Version negotiation (Communication §3.3, 2.0 notes §1).

use crate::helpers::{error_of, spawn_app, TestApp};

async fn statements_get(app: &crate::helpers::TestApp, version: Option<&str>) -> reqwest::Response {
    let mut request = app
        .http
        .get(app.url("/xapi/statements"))
        .basic_auth(&app.key, Some(&app.secret));
    if let Some(v) = version {
        request = request.header("X-Experience-API-Version", v);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn missing_or_unsupported_versions_are_rejected_with_400() {
    let app = spawn_app().await;
    for version in [
        None,
        Some("0.9"),
        Some("0.95"),
        Some("1.1.0"),
        Some("2.1.0"),
        Some("3.0"),
        Some("junk"),
    ] {
        let response = statements_get(&app, version).await;
        assert_eq!(
            response.headers()["x-experience-api-version"],
            "2.0.0",
            "an unusable version gets the server default header"
        );
        let (status, code, message) = error_of(response).await;
        assert_eq!(status, 400, "{version:?}");
        assert!(
            code == "missing_version" || code == "unsupported_version",
            "{version:?}: {code}"
        );
        assert!(message.contains("X-Experience-API-Version"), "{message}");
    }
}

#[tokio::test]
async fn served_versions_pass_the_gate_and_are_echoed_as_their_patch() {
    let app = spawn_app().await;
    for (sent, echoed) in [
        ("1.0", "1.0.3"),
        ("1.0.0", "1.0.3"),
        ("1.0.3", "1.0.3"),
        ("2.0", "2.0.0"),
        ("2.0.0", "2.0.0"),
        ("2.0.5", "2.0.0"),
    ] {
        let response = statements_get(&app, Some(sent)).await;
        assert_ne!(response.status(), 400, "{sent} must be accepted");
        assert_ne!(response.status(), 401, "{sent}");
        assert_eq!(
            response.headers()["x-experience-api-version"],
            echoed,
            "{sent}"
        );
    }
}

async fn about_versions(app: &TestApp, header: Option<&str>) -> Vec<String> {
    let mut request = app.http.get(app.url("/xapi/about"));
    if let Some(h) = header {
        request = request.header("X-Experience-API-Version", h);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200, "{header:?}");
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["extensions"].is_object());
    body["version"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn about_answers_without_auth_or_version_and_lists_both_versions() {
    let app = spawn_app().await;
    for header in [None, Some("3.0"), Some("2.0"), Some("2.0.0")] {
        let versions = about_versions(&app, header).await;
        assert!(
            versions.contains(&"1.0.3".to_string()) && versions.contains(&"2.0.0".to_string()),
            "{header:?}: {versions:?}"
        );
    }
}

#[tokio::test]
async fn about_under_1_0_lists_only_the_1_0_versions() {
    // 1.0.3 allows only 0.9, 0.95 and 1.0.x in `version`, and 1.0.x clients refuse
    // anything else.
    let app = spawn_app().await;
    for header in ["1.0.3", "1.0.1", "1.0"] {
        let versions = about_versions(&app, Some(header)).await;
        assert_eq!(versions, ["1.0.0", "1.0.1", "1.0.2", "1.0.3"], "{header}");
    }
}

#[tokio::test]
async fn the_default_version_is_configurable() {
    let app = crate::helpers::spawn_app_with(|s| {
        s.default_version = commonplace::xapi::version::Version::V1_0_3
    })
    .await;
    let response = app.http.get(app.url("/xapi/about")).send().await.unwrap();
    assert_eq!(response.headers()["x-experience-api-version"], "1.0.3");
}
