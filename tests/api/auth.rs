//! HTTP Basic authentication and scopes.

use commonplace::auth::Scope;
use reqwest::Method;

use crate::helpers::{error_of, spawn_app};

#[tokio::test]
async fn missing_or_wrong_credentials_get_401_with_a_basic_challenge() {
    let app = spawn_app().await;
    let cases = [
        None,
        Some(("nobody".to_string(), "nothing".to_string())),
        Some((app.key.clone(), "wrong-secret".to_string())),
    ];
    for credentials in cases {
        let mut request = app
            .http
            .get(app.url("/xapi/statements"))
            .header("X-Experience-API-Version", "1.0.3");
        if let Some((key, secret)) = &credentials {
            request = request.basic_auth(key, Some(secret));
        }
        let response = request.send().await.unwrap();
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(challenge.starts_with("Basic realm="), "{challenge}");
        let (status, code, _) = error_of(response).await;
        assert_eq!((status, code.as_str()), (401, "unauthorized"));
    }
}

#[tokio::test]
async fn a_malformed_authorization_header_is_401_not_500() {
    let app = spawn_app().await;
    for header in ["Basic", "Basic !!!notbase64", "Bearer abc", "Basic Zm9v"] {
        let response = app
            .http
            .get(app.url("/xapi/statements"))
            .header("X-Experience-API-Version", "1.0.3")
            .header("Authorization", header)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{header}");
    }
}

#[tokio::test]
async fn a_revoked_credential_is_refused_once_the_cache_expires() {
    let app = crate::helpers::spawn_app_with(|s| {
        s.credential_cache_ttl = std::time::Duration::from_millis(0)
    })
    .await;
    let credential = app.credential("default", &[Scope::All]).await;
    let call = || {
        app.http
            .get(app.url("/xapi/statements"))
            .basic_auth(&credential.key, Some(&credential.secret))
            .header("X-Experience-API-Version", "2.0.0")
            .send()
    };
    assert_ne!(call().await.unwrap().status(), 401);
    assert!(
        commonplace::store::credentials::revoke(&app.pool, &credential.key)
            .await
            .unwrap()
    );
    assert_eq!(call().await.unwrap().status(), 401);
}

#[tokio::test]
async fn scopes_that_do_not_allow_the_call_get_403() {
    let app = spawn_app().await;
    let read_only = app.credential("default", &[Scope::StatementsRead]).await;
    let response = app
        .http
        .post(app.url("/xapi/statements"))
        .basic_auth(&read_only.key, Some(&read_only.secret))
        .header("X-Experience-API-Version", "2.0.0")
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    let (status, code, message) = error_of(response).await;
    assert_eq!((status, code.as_str()), (403, "forbidden"));
    assert!(message.contains("statements/write"), "{message}");

    let writer = app.credential("default", &[Scope::StatementsWrite]).await;
    let response = app
        .http
        .request(Method::GET, app.url("/xapi/statements"))
        .basic_auth(&writer.key, Some(&writer.secret))
        .header("X-Experience-API-Version", "2.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
}
