//! Access tokens used as `Authorization: Bearer` (RFC 6750): what refuses them, and
//! the throttle of failed attempts they share with Basic.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use commonplace::auth::{NewSecret, Scope};
use reqwest::header::HeaderValue;
use reqwest::Method;
use serde_json::{json, Value};

use super::{
    access_token, all_credential, assert_bearer_refusal, encoded, json_part, token_for, with_token,
};
use crate::helpers::{client_from, error_of, spawn_app, spawn_app_with};

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
    // A key beginning with `-`, as a generated (base64url) one now and then does: the
    // command takes it as the key, not as a flag.
    let credential = app
        .chosen_credential(
            "-Irevocable",
            "a secret chosen for this test, long enough",
            &[Scope::All],
        )
        .await;
    let token = access_token(&token_for(&app, &credential, None).await);
    let get = || with_token(&app, &token, Method::GET, "/xapi/statements").send();
    assert_eq!(get().await.unwrap().status(), 200);
    app.command(&["credentials", "revoke", &credential.key])
        .unwrap();
    let message = assert_bearer_refusal(get().await.unwrap(), 401, "invalid_token").await;
    assert!(message.contains("revoked"), "{message}");
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

#[tokio::test]
async fn refused_bearer_tokens_count_toward_the_failed_login_throttle() {
    let app = spawn_app_with(|s| s.limits.auth_failures = 3).await;
    let other = app.credential("default", &[Scope::All]).await;
    // A forgery naming the app's credential: its claims no longer match the signature.
    let token = access_token(&token_for(&app, &all_credential(&app), None).await);
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims = json_part(parts[1]);
    claims["scope"] = json!("all reports");
    let forged = format!("{}.{}.{}", parts[0], encoded(&claims), parts[2]);
    let get = |token: &str| with_token(&app, token, Method::GET, "/xapi/statements").send();
    for _ in 0..3 {
        assert_bearer_refusal(get(&forged).await.unwrap(), 401, "invalid_token").await;
    }
    let throttled = get(&forged).await.unwrap();
    assert!(throttled.headers().contains_key("retry-after"));
    let (status, code, _) = error_of(throttled).await;
    assert_eq!((status, code.as_str()), (429, "too_many_requests"));
    // As after failed Basic logins: the address is locked out, even with a valid
    // credential or the genuine token.
    let basic = app.xapi_as(&other, Method::GET, "/xapi/statements");
    assert_eq!(basic.send().await.unwrap().status(), 429);
    assert_eq!(get(&token).await.unwrap().status(), 429);
    // So is the credential the forgeries named, from any address; another is not.
    let elsewhere = client_from("127.0.0.2");
    let from_elsewhere = |who: &NewSecret| {
        elsewhere
            .get(app.url("/xapi/statements"))
            .basic_auth(&who.key, Some(&who.secret))
            .header("X-Experience-API-Version", "2.0.0")
            .send()
    };
    let named = from_elsewhere(&all_credential(&app)).await.unwrap();
    assert_eq!(named.status(), 429);
    assert_eq!(from_elsewhere(&other).await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_bearer_header_without_a_well_formed_token_is_400_invalid_request() {
    let app = spawn_app().await;
    let values: [&[u8]; 6] = [
        b"Bearer",
        b"Bearer   ",
        b"Bearer two words",
        b"Bearer \"quoted\"",
        b"Bearer caf\xc3\xa9",
        b"Bearer \xff\xfe",
    ];
    for value in values {
        let response = app
            .http
            .get(app.url("/xapi/statements"))
            .header("X-Experience-API-Version", "2.0.0")
            .header("Authorization", HeaderValue::from_bytes(value).unwrap())
            .send()
            .await
            .unwrap();
        assert_bearer_refusal(response, 400, "invalid_request").await;
    }
}

#[tokio::test]
async fn error_descriptions_are_printable_ascii_and_bounded_whatever_the_token_holds() {
    let app = spawn_app().await;
    let token = access_token(&token_for(&app, &all_credential(&app), None).await);
    let parts: Vec<&str> = token.split('.').collect();
    let mut header = json_part(parts[0]);
    for kid in [json!("clé \"ü\" \\"), json!("k".repeat(3000))] {
        header["kid"] = kid;
        let odd_kid = format!("{}.{}.{}", encoded(&header), parts[1], parts[2]);
        let response = with_token(&app, &odd_kid, Method::GET, "/xapi/statements")
            .send()
            .await
            .unwrap();
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .expect("the challenge is visible ASCII")
            .to_string();
        let description = challenge
            .split_once("error_description=\"")
            .and_then(|(_, rest)| rest.strip_suffix('"'))
            .unwrap_or_else(|| panic!("{challenge}"));
        assert!(
            !description.contains(['"', '\\']) && description.len() <= 200,
            "{challenge}"
        );
        assert_bearer_refusal(response, 401, "invalid_token").await;
    }
}
