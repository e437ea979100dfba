//! The LRS as an OAuth 2.0 authorization server: client-credentials tokens
//! (RFC 6749 §4.4) and the published keys (RFC 7517) and metadata (RFC 8414) in
//! `token_endpoint`; their use as bearer tokens (RFC 6750) in `bearer`.

mod bearer;
mod token_endpoint;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use commonplace::auth::NewSecret;
use reqwest::{Method, Response};
use serde_json::Value;

use crate::helpers::{error_of, TestApp};

/// `POST /oauth/token` with this form and, if given, HTTP Basic client authentication.
async fn token_request(
    app: &TestApp,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> Response {
    let mut request = app.http.post(app.url("/oauth/token")).form(form);
    if let Some((key, secret)) = basic {
        request = request.basic_auth(key, Some(secret));
    }
    request.send().await.unwrap()
}

/// A token for `who` by HTTP Basic, with `scope` if given; asserts the 200 answer.
async fn token_for(app: &TestApp, who: &NewSecret, scope: Option<&str>) -> Value {
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    let response = token_request(app, Some((&who.key, &who.secret)), &form).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["access_token"].as_str().unwrap().split('.').count() == 3);
    body
}

fn all_credential(app: &TestApp) -> NewSecret {
    NewSecret {
        key: app.key.clone(),
        secret: app.secret.clone(),
    }
}

fn access_token(body: &Value) -> String {
    body["access_token"].as_str().unwrap().to_string()
}

fn with_token(app: &TestApp, token: &str, method: Method, path: &str) -> reqwest::RequestBuilder {
    app.http
        .request(method, app.url(path))
        .bearer_auth(token)
        .header("X-Experience-API-Version", "2.0.0")
}

/// The RFC 6749 §5.2 error of a token-endpoint answer.
async fn token_error(response: Response) -> (u16, Option<String>, String) {
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string());
    let body: Value = response.json().await.unwrap();
    assert!(body["error_description"].is_string(), "{body}");
    (
        status,
        challenge,
        body["error"].as_str().unwrap().to_string(),
    )
}

/// Asserts an RFC 6750 refusal: status, the `Bearer` challenge with `error`, and the
/// xAPI error body with the same code. Returns the message.
async fn assert_bearer_refusal(response: Response, status: u16, error: &str) -> String {
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        challenge.starts_with(&format!(
            "Bearer realm=\"xAPI\", error=\"{error}\", error_description=\""
        )),
        "{challenge}"
    );
    let (got_status, code, message) = error_of(response).await;
    assert_eq!((got_status, code.as_str()), (status, error));
    message
}

fn json_part(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn encoded(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// The JSON of an unauthenticated `GET path`.
async fn get_json(app: &TestApp, path: &str) -> Value {
    let response = app.http.get(app.url(path)).send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}
