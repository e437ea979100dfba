//! The LRS as an OAuth 2.0 authorization server: client-credentials tokens
//! (RFC 6749 §4.4), their use as bearer tokens (RFC 6750), the published keys
//! (RFC 7517) and the metadata (RFC 8414).

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use commonplace::auth::{NewSecret, Scope};
use reqwest::{Method, Response};
use serde_json::{json, Value};

use crate::helpers::{error_of, spawn_app, spawn_app_with, TestApp};
use crate::support::statement;

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
        challenge.starts_with(&format!("Bearer error=\"{error}\", error_description=\"")),
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

#[tokio::test]
async fn a_token_by_basic_posts_and_reads_statements_with_the_credentials_authority() {
    let app = spawn_app().await;
    let body = token_for(&app, &all_credential(&app), None).await;
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "all");
    let token = access_token(&body);
    let posted = with_token(&app, &token, Method::POST, "/xapi/statements")
        .json(&statement("bearer", "http://example.com/a"))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200);
    let ids: Vec<String> = posted.json().await.unwrap();
    let read = with_token(
        &app,
        &token,
        Method::GET,
        &format!("/xapi/statements?statementId={}", ids[0]),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(read.status(), 200);
    let stored: Value = read.json().await.unwrap();
    assert_eq!(stored["authority"]["account"]["name"], app.key);
    // The same authority as the credential's own Basic requests write.
    let by_basic = app
        .xapi(Method::POST, "/xapi/statements")
        .json(&statement("basic", "http://example.com/b"))
        .send()
        .await
        .unwrap();
    let basic_ids: Vec<String> = by_basic.json().await.unwrap();
    let basic_stored: Value = app
        .xapi(
            Method::GET,
            &format!("/xapi/statements?statementId={}", basic_ids[0]),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored["authority"], basic_stored["authority"]);
}

#[tokio::test]
async fn a_token_by_form_fields_works_and_both_methods_at_once_are_invalid_request() {
    let app = spawn_app().await;
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", app.key.as_str()),
        ("client_secret", app.secret.as_str()),
    ];
    let response = token_request(&app, None, &form).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let read = with_token(&app, &access_token(&body), Method::GET, "/xapi/statements")
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);

    let both = token_request(&app, Some((&app.key, &app.secret)), &form).await;
    assert_eq!(
        token_error(both).await,
        (400, None, "invalid_request".into())
    );
}

#[tokio::test]
async fn a_narrowed_token_writes_but_cannot_read() {
    let app = spawn_app().await;
    let body = token_for(&app, &all_credential(&app), Some("xapi:write")).await;
    assert_eq!(body["scope"], "statements/write");
    let token = access_token(&body);
    let posted = with_token(&app, &token, Method::POST, "/xapi/statements")
        .json(&statement("narrow", "http://example.com/n"))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200);
    let read = with_token(&app, &token, Method::GET, "/xapi/statements")
        .send()
        .await
        .unwrap();
    assert_bearer_refusal(read, 403, "insufficient_scope").await;

    // The prefixed and the plain xAPI names ask for the same.
    let body = token_for(
        &app,
        &all_credential(&app),
        Some("xapi:statements/read statements/write"),
    )
    .await;
    assert_eq!(body["scope"], "statements/read statements/write");
}

#[tokio::test]
async fn the_token_endpoint_answers_rfc_6749_errors() {
    let app = spawn_app().await;
    let writer = app.credential("default", &[Scope::StatementsWrite]).await;
    let grant = [("grant_type", "client_credentials")];

    let wrong = token_request(&app, Some((&app.key, "wrong-secret")), &grant).await;
    let (status, challenge, error) = token_error(wrong).await;
    assert_eq!((status, error.as_str()), (401, "invalid_client"));
    assert!(challenge.unwrap().starts_with("Basic"));

    let unknown = [
        ("grant_type", "client_credentials"),
        ("client_id", "nobody"),
        ("client_secret", "nothing"),
    ];
    let unknown = token_request(&app, None, &unknown).await;
    assert_eq!(
        token_error(unknown).await,
        (401, None, "invalid_client".into())
    );

    let password = [("grant_type", "password")];
    let password = token_request(&app, Some((&app.key, &app.secret)), &password).await;
    assert_eq!(
        token_error(password).await,
        (400, None, "unsupported_grant_type".into())
    );

    for scope in ["all/read", "xapi:read", "statements/delete"] {
        let form = [("grant_type", "client_credentials"), ("scope", scope)];
        let response = token_request(&app, Some((&writer.key, &writer.secret)), &form).await;
        assert_eq!(
            token_error(response).await,
            (400, None, "invalid_scope".into()),
            "{scope}"
        );
    }

    let missing = token_request(&app, Some((&app.key, &app.secret)), &[]).await;
    assert_eq!(
        token_error(missing).await,
        (400, None, "invalid_request".into())
    );
    let no_secret = [
        ("grant_type", "client_credentials"),
        ("client_id", app.key.as_str()),
    ];
    let no_secret = token_request(&app, None, &no_secret).await;
    assert_eq!(
        token_error(no_secret).await,
        (400, None, "invalid_request".into())
    );
}

#[tokio::test]
async fn failed_client_authentications_count_toward_the_throttle() {
    let app = spawn_app_with(|s| s.limits.auth_failures = 2).await;
    let grant = [("grant_type", "client_credentials")];
    for _ in 0..2 {
        let wrong = token_request(&app, Some((&app.key, "wrong-secret")), &grant).await;
        assert_eq!(wrong.status(), 401);
    }
    let right = token_request(&app, Some((&app.key, &app.secret)), &grant).await;
    assert_eq!(right.status(), 429);
    assert!(right.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn forged_or_malformed_tokens_are_401_invalid_token() {
    let app = spawn_app().await;
    let token = access_token(&token_for(&app, &all_credential(&app), None).await);
    let parts: Vec<&str> = token.split('.').collect();

    let mut signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    signature[10] ^= 1;
    let tampered_signature = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        URL_SAFE_NO_PAD.encode(&signature)
    );

    let mut claims = json_part(parts[1]);
    claims["scope"] = json!("all reports");
    claims["sub"] = json!("someone-else");
    let tampered_claims = format!("{}.{}.{}", parts[0], encoded(&claims), parts[2]);

    let mut header = json_part(parts[0]);
    header["alg"] = json!("none");
    let unsigned = format!("{}.{}.", encoded(&header), parts[1]);

    let mut header = json_part(parts[0]);
    header["kid"] = json!("no-such-key");
    let unknown_kid = format!("{}.{}.{}", encoded(&header), parts[1], parts[2]);

    let mut claims = json_part(parts[1]);
    claims["iss"] = json!("https://elsewhere.example.com");
    let other_issuer = format!("{}.{}.{}", parts[0], encoded(&claims), parts[2]);

    for (case, bad) in [
        ("tampered signature", tampered_signature),
        ("tampered claims", tampered_claims),
        ("alg none", unsigned),
        ("unknown kid", unknown_kid),
        ("other issuer", other_issuer),
        ("not a JWT", "abc".to_string()),
    ] {
        let response = with_token(&app, &bad, Method::GET, "/xapi/statements")
            .send()
            .await
            .unwrap();
        let message = assert_bearer_refusal(response, 401, "invalid_token").await;
        println!("{case}: {message}");
    }
    // The untouched token still works: the refusals were the forgeries'.
    let fine = with_token(&app, &token, Method::GET, "/xapi/statements")
        .send()
        .await
        .unwrap();
    assert_eq!(fine.status(), 200);
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let app = spawn_app_with(|s| s.oauth.token_lifetime = Duration::from_secs(1)).await;
    let body = token_for(&app, &all_credential(&app), None).await;
    assert_eq!(body["expires_in"], 1);
    let token = access_token(&body);
    let exp = json_part(token.split('.').nth(1).unwrap())["exp"]
        .as_i64()
        .unwrap();
    while chrono::Utc::now().timestamp() <= exp {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let response = with_token(&app, &token, Method::GET, "/xapi/statements")
        .send()
        .await
        .unwrap();
    let message = assert_bearer_refusal(response, 401, "invalid_token").await;
    assert!(message.contains("expired"), "{message}");
}

#[tokio::test]
async fn revoking_the_credential_invalidates_its_tokens() {
    let app = spawn_app_with(|s| s.credential_cache_ttl = Duration::from_millis(0)).await;
    let credential = app.credential("default", &[Scope::All]).await;
    let token = access_token(&token_for(&app, &credential, None).await);
    let get = || with_token(&app, &token, Method::GET, "/xapi/statements").send();
    assert_eq!(get().await.unwrap().status(), 200);
    app.command(&["credentials", "revoke", &credential.key])
        .unwrap();
    let message = assert_bearer_refusal(get().await.unwrap(), 401, "invalid_token").await;
    assert!(message.contains("revoked"), "{message}");
}

#[tokio::test]
async fn the_published_keys_verify_a_token() {
    let app = spawn_app().await;
    let token =
        access_token(&token_for(&app, &all_credential(&app), Some("statements/write")).await);
    let jwks: jsonwebtoken::jwk::JwkSet = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("the key is published");
    assert_eq!(
        jwk.common.public_key_use,
        Some(jsonwebtoken::jwk::PublicKeyUse::Signature)
    );
    let issuer = format!("http://{}", app.address);
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_issuer(&[&issuer]);
    validation.set_audience(&[&issuer]);
    let claims = jsonwebtoken::decode::<Value>(
        &token,
        &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(),
        &validation,
    )
    .expect("the token verifies with the published key")
    .claims;
    assert_eq!(claims["sub"], app.key);
    assert_eq!(claims["client_id"], app.key);
    assert_eq!(claims["store"], "default");
    assert_eq!(claims["scope"], "statements/write");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    assert!(claims["jti"].as_str().is_some_and(|jti| !jti.is_empty()));
}

#[tokio::test]
async fn the_discovery_metadata_names_the_endpoints() {
    let app = spawn_app().await;
    let metadata: Value = app
        .http
        .get(app.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let issuer = format!("http://{}", app.address);
    assert_eq!(metadata["issuer"], issuer);
    assert_eq!(metadata["token_endpoint"], format!("{issuer}/oauth/token"));
    assert_eq!(
        metadata["jwks_uri"],
        format!("{issuer}/.well-known/jwks.json")
    );
    assert_eq!(
        metadata["grant_types_supported"],
        json!(["client_credentials"])
    );
    assert_eq!(
        metadata["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post"])
    );
    assert_eq!(metadata["response_types_supported"], json!([]));
    let scopes = metadata["scopes_supported"].as_array().unwrap();
    for scope in [
        "statements/write",
        "xapi:statements/write",
        "xapi:write",
        "all/read",
    ] {
        assert!(scopes.contains(&json!(scope)), "{scope}");
    }
}

#[tokio::test]
async fn after_rotation_a_token_of_the_previous_key_still_works_and_both_keys_are_published() {
    let app = spawn_app_with(|s| s.oauth.key_rotation = Duration::from_secs(1)).await;
    let kid_of = |token: &str| json_part(token.split('.').next().unwrap())["kid"].clone();
    let first = access_token(&token_for(&app, &all_credential(&app), None).await);
    let mut rotated = None;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let token = access_token(&token_for(&app, &all_credential(&app), None).await);
        if kid_of(&token) != kid_of(&first) {
            rotated = Some(token);
            break;
        }
    }
    let second = rotated.expect("a new key signs after the rotation period");
    for token in [&first, &second] {
        let response = with_token(&app, token, Method::GET, "/xapi/statements")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let jwks: Value = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kids: Vec<&Value> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| &k["kid"])
        .collect();
    assert!(kids.contains(&&kid_of(&first)), "{jwks}");
    assert!(kids.contains(&&kid_of(&second)), "{jwks}");
    for key in jwks["keys"].as_array().unwrap() {
        assert_eq!(
            (&key["kty"], &key["crv"], &key["alg"], &key["use"]),
            (
                &json!("EC"),
                &json!("P-256"),
                &json!("ES256"),
                &json!("sig")
            )
        );
    }
}

#[tokio::test]
async fn bearer_tokens_open_the_reports_and_the_dashboard_within_their_scope() {
    let app = spawn_app().await;
    let reader = access_token(&token_for(&app, &all_credential(&app), Some("reports")).await);
    for path in ["/reports/modes", "/dashboard"] {
        let response = app
            .http
            .get(app.url(path))
            .bearer_auth(&reader)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    let writer =
        access_token(&token_for(&app, &all_credential(&app), Some("statements/write")).await);
    let response = app
        .http
        .get(app.url("/reports/modes"))
        .bearer_auth(&writer)
        .send()
        .await
        .unwrap();
    assert_bearer_refusal(response, 403, "insufficient_scope").await;
}

#[tokio::test]
async fn instances_on_one_database_sign_and_verify_with_the_same_keys() {
    const PUBLIC_URL: &str = "http://lrs.example.test";
    let first = spawn_app_with(|s| s.public_url = Some(PUBLIC_URL.into())).await;
    let mut settings = commonplace::configuration::Settings::new(
        "127.0.0.1:0".parse().unwrap(),
        commonplace::store::Source::External(first.database_url.clone()),
    );
    settings.pool.size = 2;
    settings.workers = Some(1);
    settings.public_url = Some(PUBLIC_URL.into());
    let second = commonplace::startup::Application::build(settings)
        .await
        .expect("build the second instance");
    let second_address = format!("127.0.0.1:{}", second.port());
    tokio::spawn(second.run_until_stopped());

    let token = access_token(&token_for(&first, &all_credential(&first), None).await);
    let at_second = first
        .http
        .get(format!("http://{second_address}/xapi/statements"))
        .bearer_auth(&token)
        .header("X-Experience-API-Version", "2.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(at_second.status(), 200);
    let jwks = |address: String| {
        let http = first.http.clone();
        async move {
            http.get(format!("http://{address}/.well-known/jwks.json"))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        jwks(first.address.to_string()).await,
        jwks(second_address).await
    );
}

#[tokio::test]
async fn a_learner_disconnecting_the_capture_extension_stops_its_tokens_at_once() {
    // The default credential cache (10 s): only the instance's own `forget` can make
    // the revocation take effect at once.
    let app = spawn_app().await;
    let public_url = format!("http://{}", app.address);
    let invitation: Value = serde_json::from_str(
        &app.command(&[
            "capture",
            "invite",
            "--learner",
            "mailto:ada@example.org",
            "--json",
            "--public-url",
            &public_url,
        ])
        .unwrap(),
    )
    .unwrap();
    let enrolment: Value = app
        .http
        .post(app.url("/capture/enrol"))
        .json(&json!({"code": invitation["code"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bound = NewSecret {
        key: enrolment["key"].as_str().unwrap().to_string(),
        secret: enrolment["secret"].as_str().unwrap().to_string(),
    };
    let token = access_token(&token_for(&app, &bound, None).await);
    let policy = || {
        app.http
            .get(app.url("/capture/policy"))
            .bearer_auth(&token)
            .send()
    };
    assert_eq!(policy().await.unwrap().status(), 200);
    let deleted = app
        .http
        .delete(app.url("/capture/credential"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_bearer_refusal(policy().await.unwrap(), 401, "invalid_token").await;
}
