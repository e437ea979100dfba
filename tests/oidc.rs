//! Access tokens of an organisation's OpenID Provider (`--oidc-issuer`): the certified
//! `oidc-provider` from npm (pinned in tests/js) runs on loopback and issues JWT access
//! tokens by the client-credentials grant; the LRS finds its keys by discovery. Tokens
//! the provider cannot be made to issue (`alg: none`, HMAC, an unknown key, a tampered
//! payload) are made here from the provider's own.

#[path = "oidc/attempts.rs"]
mod attempts;
#[path = "api/helpers.rs"]
mod helpers;
#[path = "oidc/sign_in.rs"]
mod sign_in;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use commonplace::configuration::OidcSettings;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use helpers::{install_js_packages, js_dir, spawn_app_with, TestApp};

/// The `aud` the LRS is configured to expect, and the provider's default resource.
const AUDIENCE: &str = "https://lrs.example.com/xapi";

/// tests/js/oidc-provider.js, stopped when dropped.
struct Provider {
    child: Child,
    issuer: String,
    http: reqwest::Client,
}

impl Provider {
    fn start() -> Provider {
        install_js_packages();
        let mut child = Command::new("node")
            .arg(js_dir().join("oidc-provider.js"))
            .env("OIDC_AUDIENCE", AUDIENCE)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node is needed for the OIDC tests");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let issuer = line.trim().to_string();
        assert!(issuer.starts_with("http://127.0.0.1:"), "{issuer:?}");
        Provider {
            child,
            issuer,
            http: reqwest::Client::new(),
        }
    }

    /// A token of `client` by the client-credentials grant, for `resource` (the
    /// provider's default resource, the LRS's audience, when `None`).
    async fn token(&self, client: &str, scope: &str, resource: Option<&str>) -> String {
        let mut form = vec![("grant_type", "client_credentials"), ("scope", scope)];
        if let Some(resource) = resource {
            form.push(("resource", resource));
        }
        let response = self
            .http
            .post(format!("{}/token", self.issuer))
            .basic_auth(client, Some(format!("{client}-secret")))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_string()
    }

    async fn rotate_keys(&self) {
        let response = self
            .http
            .post(format!("{}/admin/rotate", self.issuer))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    async fn jwks_fetches(&self) -> u64 {
        let url = format!("{}/admin/jwks-fetches", self.issuer);
        let text = self.http.get(url).send().await.unwrap().text().await;
        text.unwrap().parse().unwrap()
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The LRS trusting `provider` for tokens of audience `AUDIENCE`.
async fn lrs_trusting(provider: &Provider) -> TestApp {
    lrs_with_store_claim(provider, None).await
}

async fn lrs_with_store_claim(provider: &Provider, store_claim: Option<&str>) -> TestApp {
    let issuer = provider.issuer.clone();
    spawn_app_with(|settings| {
        settings.oauth.oidc = OidcSettings {
            issuers: vec![issuer],
            audience: Some(AUDIENCE.into()),
            store_claim: store_claim.map(str::to_string),
        };
    })
    .await
}

fn bearer(app: &TestApp, token: &str, method: Method, path: &str) -> reqwest::RequestBuilder {
    app.http
        .request(method, app.url(path))
        .bearer_auth(token)
        .header("X-Experience-API-Version", "2.0.0")
}

/// `path` read with `token`; the status it answers.
async fn status_of_get(app: &TestApp, token: &str, path: &str) -> StatusCode {
    bearer(app, token, Method::GET, path)
        .send()
        .await
        .unwrap()
        .status()
}

/// Sends `request`, asserting 200 OK (showing the body otherwise); the response.
async fn send_ok(request: reqwest::RequestBuilder) -> reqwest::Response {
    let response = request.send().await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{:?}",
        response.text().await
    );
    response
}

fn statement(learner: &str) -> Value {
    json!({
        "actor": {"objectType": "Agent", "mbox": format!("mailto:{learner}@example.com")},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
        "object": {"id": format!("http://example.com/courses/{learner}")},
    })
}

/// POSTs one Statement with `token`; its id.
async fn post_statement(app: &TestApp, token: &str, learner: &str) -> String {
    let response =
        send_ok(bearer(app, token, Method::POST, "/xapi/statements").json(&statement(learner)))
            .await;
    let ids: Vec<String> = response.json().await.unwrap();
    ids[0].clone()
}

/// The Statement `id` as the all-scoped Basic credential reads it.
async fn stored(app: &TestApp, id: &str) -> Value {
    let response = app
        .xapi(Method::GET, &format!("/xapi/statements?statementId={id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// The ids of the Statements a GET with `token` returns.
async fn visible_ids(app: &TestApp, token: &str) -> Vec<String> {
    let response = send_ok(bearer(app, token, Method::GET, "/xapi/statements")).await;
    let page: Value = response.json().await.unwrap();
    let mut ids: Vec<String> = page["statements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn client_agent(issuer: &str, name: &str) -> Value {
    json!({"objectType": "Agent", "account": {"homePage": issuer, "name": name}})
}

/// Asserts the RFC 6750 refusal of an unusable token; the reason given.
async fn assert_invalid_token(app: &TestApp, token: &str, case: &str) -> String {
    let response = bearer(app, token, Method::GET, "/xapi/statements")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{case}");
    let challenge = response
        .headers()
        .get("www-authenticate")
        .unwrap_or_else(|| panic!("{case}: no WWW-Authenticate"))
        .to_str()
        .unwrap()
        .to_string();
    assert!(challenge.starts_with("Bearer"), "{case}: {challenge}");
    assert!(
        challenge.contains("error=\"invalid_token\""),
        "{case}: {challenge}"
    );
    let (_, code, message) = helpers::error_of(response).await;
    assert_eq!(code, "invalid_token", "{case}");
    message
}

fn decode_part(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn encode_part(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

#[tokio::test]
async fn a_provider_token_is_accepted_with_its_scopes_only() {
    let provider = Provider::start();
    let app = lrs_trusting(&provider).await;

    let reader_writer = provider
        .token("writer", "xapi:statements/write xapi:statements/read", None)
        .await;
    let id = post_statement(&app, &reader_writer, "ada").await;
    assert_eq!(visible_ids(&app, &reader_writer).await, vec![id.clone()]);
    // A machine token: the client alone is the authority, an account at the issuer.
    let written = stored(&app, &id).await;
    assert_eq!(
        written["authority"],
        client_agent(&provider.issuer, "writer")
    );

    let write_only = provider
        .token("writer", "xapi:statements/write openid", None)
        .await;
    post_statement(&app, &write_only, "grace").await;
    let read = bearer(&app, &write_only, Method::GET, "/xapi/statements")
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::FORBIDDEN);
    let challenge = read.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    let state = status_of_get(
        &app,
        &write_only,
        "/xapi/activities/state?activityId=http://example.com/a&agent=%7B%22mbox%22%3A%22mailto%3Aa%40example.com%22%7D&stateId=s",
    )
    .await;
    assert_eq!(state, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn scopes_in_an_scp_array_are_read_as_entra_id_writes_them() {
    let provider = Provider::start();
    let app = lrs_trusting(&provider).await;
    // The `entra` client's tokens are ES256 and carry `scp` (an array), no `scope`.
    let token = provider.token("entra", "xapi:statements/write", None).await;
    let claims = decode_part(token.split('.').nth(1).unwrap());
    assert!(
        claims.get("scope").is_none() && claims["scp"].is_array(),
        "{claims}"
    );
    let id = post_statement(&app, &token, "linus").await;
    assert_eq!(
        stored(&app, &id).await["authority"],
        client_agent(&provider.issuer, "entra")
    );
    let read = status_of_get(&app, &token, "/xapi/statements").await;
    assert_eq!(read, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_token_for_a_user_writes_the_group_authority_and_reads_only_its_own() {
    let provider = Provider::start();
    let app = lrs_trusting(&provider).await;
    let mine = "xapi:statements/write xapi:statements/read/mine";
    let delegated = provider.token("delegated", mine, None).await;
    let machine = provider.token("writer", mine, None).await;

    let for_user = post_statement(&app, &delegated, "margaret").await;
    let for_client = post_statement(&app, &machine, "alan").await;
    let by_basic = app
        .xapi(Method::POST, "/xapi/statements")
        .json(&statement("barbara"))
        .send()
        .await
        .unwrap();
    assert_eq!(by_basic.status(), StatusCode::OK);

    // xAPI Data 2.4.9: the client and the user it acts for, as an anonymous Group.
    assert_eq!(
        stored(&app, &for_user).await["authority"],
        json!({"objectType": "Group", "member": [
            client_agent(&provider.issuer, "delegated"),
            client_agent(&provider.issuer, "learner-42"),
        ]})
    );
    // Filed under the client, as an imported Group authority is under its first member.
    let client = client_agent(&provider.issuer, "delegated").to_string();
    let by_client = app
        .xapi(Method::GET, "/xapi/statements")
        .query(&[("agent", client.as_str()), ("related_agents", "true")])
        .send()
        .await
        .unwrap();
    let page: Value = by_client.json().await.unwrap();
    assert_eq!(page["statements"][0]["id"], json!(for_user));
    assert_eq!(page["statements"].as_array().unwrap().len(), 1);
    assert_eq!(visible_ids(&app, &delegated).await, vec![for_user]);
    assert_eq!(visible_ids(&app, &machine).await, vec![for_client]);
}

#[tokio::test]
async fn unusable_tokens_are_refused_as_invalid_token() {
    let provider = Provider::start();
    let app = lrs_trusting(&provider).await;
    let good = provider.token("writer", "xapi:statements/read", None).await;
    assert_eq!(visible_ids(&app, &good).await, Vec::<String>::new());
    let [header, payload, signature] = good.split('.').collect::<Vec<_>>()[..] else {
        panic!("not a JWS: {good}");
    };

    let expired = provider
        .token("expired", "xapi:statements/read", None)
        .await;
    assert_invalid_token(&app, &expired, "expired two minutes ago").await;

    let elsewhere = provider
        .token(
            "writer",
            "xapi:statements/read",
            Some("https://other.example"),
        )
        .await;
    assert_invalid_token(&app, &elsewhere, "for another audience").await;

    let stranger = Provider::start();
    let foreign = stranger.token("writer", "xapi:statements/read", None).await;
    assert_invalid_token(&app, &foreign, "of an issuer not configured").await;

    let mut claims = decode_part(payload);
    claims["scope"] = json!("xapi:all");
    let tampered = format!("{header}.{}.{signature}", encode_part(&claims));
    assert_invalid_token(&app, &tampered, "payload changed after signing").await;

    let none = format!("{}.{payload}.", encode_part(&json!({"alg": "none"})));
    assert_invalid_token(&app, &none, "alg none").await;

    // HMAC keyed with what is public: the provider's own RSA key, as JWK text.
    let kid = decode_part(header)["kid"].as_str().unwrap().to_string();
    let jwks: Value = reqwest::get(format!("{}/jwks", provider.issuer))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let public = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|key| key["kid"] == kid.as_str())
        .unwrap();
    let mut hs_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hs_header.kid = Some(kid);
    let hmac = jsonwebtoken::encode(
        &hs_header,
        &decode_part(payload),
        &jsonwebtoken::EncodingKey::from_secret(public["n"].as_str().unwrap().as_bytes()),
    )
    .unwrap();
    assert_invalid_token(&app, &hmac, "HS256 with the public key").await;

    // Signed by a key the provider never had, under a kid it does not publish: the
    // LRS looks for it once, then refuses; more made-up kids within the interval cost
    // the provider nothing.
    let fetches_before = provider.jwks_fetches().await;
    let stray = rcgen::KeyPair::generate().unwrap();
    let stray_key =
        jsonwebtoken::EncodingKey::from_ec_pem(stray.serialize_pem().as_bytes()).unwrap();
    for n in 0..5 {
        let mut es_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        es_header.kid = Some(format!("made-up-{n}"));
        let unknown = jsonwebtoken::encode(&es_header, &decode_part(payload), &stray_key).unwrap();
        assert_invalid_token(&app, &unknown, "an unknown key").await;
    }
    assert_eq!(provider.jwks_fetches().await, fetches_before + 1);

    // Nothing above was written or let through: the good token still works.
    assert_eq!(visible_ids(&app, &good).await, Vec::<String>::new());
}

#[tokio::test]
async fn keys_rotated_at_the_provider_are_used_without_restarting_the_lrs() {
    let provider = Provider::start();
    let app = lrs_trusting(&provider).await;
    let scope = "xapi:statements/write xapi:statements/read";
    let before = provider.token("writer", scope, None).await;
    let first = post_statement(&app, &before, "edsger").await;

    provider.rotate_keys().await;
    let after = provider.token("writer", scope, None).await;
    let kid = |token: &str| decode_part(token.split('.').next().unwrap())["kid"].clone();
    assert_ne!(kid(&before), kid(&after));
    let second = post_statement(&app, &after, "barbara").await;
    let mut both = vec![first, second];
    both.sort();
    assert_eq!(visible_ids(&app, &after).await, both);
    // The retired key is no longer published, so its tokens no longer verify.
    assert_invalid_token(&app, &before, "signed by a retired key").await;
}

#[tokio::test]
async fn the_store_claim_chooses_the_store() {
    let provider = Provider::start();
    let app = lrs_with_store_claim(&provider, Some("lrs_store")).await;
    let scope = "xapi:statements/write xapi:statements/read";
    let sales = provider.token("sales", scope, None).await;
    let why = assert_invalid_token(&app, &sales, "a store that does not exist").await;
    assert!(why.contains("'sales'"), "{why}");

    commonplace::store::credentials::create_store(&app.pool, "sales")
        .await
        .unwrap();
    let id = post_statement(&app, &sales, "ada").await;
    assert_eq!(visible_ids(&app, &sales).await, vec![id]);
    // The Basic credential of the default store does not see it.
    let default_store = app
        .xapi(Method::GET, "/xapi/statements")
        .send()
        .await
        .unwrap();
    let page: Value = default_store.json().await.unwrap();
    assert_eq!(page["statements"], json!([]));

    let unnamed = provider.token("writer", scope, None).await;
    let why = assert_invalid_token(&app, &unnamed, "no store claim").await;
    assert!(why.contains("lrs_store"), "{why}");
}

#[tokio::test]
async fn an_unreachable_issuer_leaves_its_tokens_unverified() {
    let provider = Provider::start();
    let app = lrs_trusting(&provider).await;
    let token = provider.token("writer", "xapi:statements/read", None).await;
    drop(provider);
    let why = assert_invalid_token(&app, &token, "the issuer is down").await;
    assert!(why.contains("cannot be fetched"), "{why}");
}
