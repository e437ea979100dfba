//! `POST /oauth/token` (RFC 6749 §4.4, §5.1, §5.2) and the keys and metadata that
//! describe its tokens (RFC 7517, RFC 8414).

use std::time::Duration;

use commonplace::auth::Scope;
use reqwest::Method;
use serde_json::{json, Value};

use super::{
    access_token, all_credential, assert_bearer_refusal, get_json, json_part, token_error,
    token_for, token_request, with_token,
};
use crate::helpers::{spawn_app, spawn_app_with};
use crate::support::statement;

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
async fn basic_client_credentials_are_form_urlencoded_as_rfc_6749_says() {
    let app = spawn_app().await;
    let chosen = app
        .chosen_credential(
            "tool one",
            "a chosen secret with % and + and : in it",
            &[Scope::All],
        )
        .await;
    let form_encoded = |text: &str| {
        let pair = serde_urlencoded::to_string([("x", text)]).unwrap();
        pair.trim_start_matches("x=").to_string()
    };
    let (key, secret) = (form_encoded(&chosen.key), form_encoded(&chosen.secret));
    assert_eq!(secret, "a+chosen+secret+with+%25+and+%2B+and+%3A+in+it");
    let grant = [("grant_type", "client_credentials")];
    let encoded = token_request(&app, Some((&key, &secret)), &grant).await;
    assert_eq!(encoded.status(), 200);

    // The form fields carry them as they are (the form is decoded once).
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", chosen.key.as_str()),
        ("client_secret", chosen.secret.as_str()),
    ];
    assert_eq!(token_request(&app, None, &form).await.status(), 200);
    // Generated keys and secrets (base64url) are the same encoded or not.
    let generated = app.credential("default", &[Scope::All]).await;
    let (key, secret) = (
        form_encoded(&generated.key),
        form_encoded(&generated.secret),
    );
    let plain = token_request(&app, Some((&key, &secret)), &grant).await;
    assert_eq!(plain.status(), 200);
}

#[tokio::test]
async fn a_malformed_basic_header_counts_toward_the_throttle() {
    let app = spawn_app_with(|s| s.limits.auth_failures = 2).await;
    let grant = [("grant_type", "client_credentials")];
    for malformed in ["Basic !!not-base64!!", "Basic bm8tY29sb24="] {
        let response = app
            .http
            .post(app.url("/oauth/token"))
            .header("Authorization", malformed)
            .form(&grant)
            .send()
            .await
            .unwrap();
        let (status, _, error) = token_error(response).await;
        assert_eq!(
            (status, error.as_str()),
            (401, "invalid_client"),
            "{malformed}"
        );
    }
    let right = token_request(&app, Some((&app.key, &app.secret)), &grant).await;
    assert_eq!(right.status(), 429);
}

#[tokio::test]
async fn the_published_keys_verify_a_token() {
    let app = spawn_app().await;
    let token =
        access_token(&token_for(&app, &all_credential(&app), Some("statements/write")).await);
    let jwks: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(get_json(&app, "/.well-known/jwks.json").await).unwrap();
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
    let metadata = get_json(&app, "/.well-known/oauth-authorization-server").await;
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
    let jwks = get_json(&app, "/.well-known/jwks.json").await;
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
async fn an_odd_scope_is_invalid_scope_with_a_printable_ascii_description() {
    let app = spawn_app().await;
    let long = "s".repeat(5000);
    for scope in ["\"clé\"\\", "\u{0}", long.as_str()] {
        let form = [("grant_type", "client_credentials"), ("scope", scope)];
        let response = token_request(&app, Some((&app.key, &app.secret)), &form).await;
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_scope", "{body}");
        let description = body["error_description"].as_str().unwrap();
        assert!(
            description.len() <= 200
                && description
                    .chars()
                    .all(|c| matches!(c, ' '..='~') && c != '"' && c != '\\'),
            "{description}"
        );
    }
    // Other white space than spaces between names is tolerated.
    let body = token_for(
        &app,
        &all_credential(&app),
        Some("\tstatements/write\n reports "),
    )
    .await;
    assert_eq!(body["scope"], "statements/write reports");
}

#[test]
fn lifetimes_beyond_a_year_are_refused_at_the_command_line_not_by_a_panic() {
    for flag in ["--oauth-token-lifetime", "--oauth-key-rotation"] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_commonplace"))
            .args(["serve", flag, "18446744073709551615"])
            // Were the value accepted, no database: the start fails rather than runs.
            .args([
                "--database-url",
                "postgres://127.0.0.1:1/none",
                "--database-wait",
                "0",
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(flag) && !stderr.contains("panicked"),
            "{stderr}"
        );
    }
}
