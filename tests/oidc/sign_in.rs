//! Dashboard sign-in (`--oidc-client-id`): headless Chromium opens /dashboard, is sent
//! to the provider's own login and consent pages, and comes back signed in; the
//! session's cookie, the group that grants reports, sign-out, and what the cookie must
//! never do (authorise xAPI, survive sign-out, be minted from a tampered or replayed
//! callback).

use std::time::Duration;

use commonplace::configuration::{OidcSettings, SignInSettings};
use reqwest::header::{ACCEPT, COOKIE, LOCATION};
use reqwest::{redirect, Method, StatusCode};
use serde_json::Value;

use super::helpers::{self, spawn_app_with, TestApp};
use super::{js_dir, Provider, AUDIENCE};

const COOKIE_NAME: &str = "commonplace_session";
const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,*/*;q=0.8";

/// The LRS signing users in at `provider` as the client `dashboard`; members of the
/// group `ld-leads` (the `groups` claim) may read reports.
pub(super) async fn lrs_signing_in(provider: &Provider) -> TestApp {
    let issuer = provider.issuer.clone();
    let app = spawn_app_with(|settings| {
        settings.oauth.oidc = OidcSettings {
            issuers: vec![issuer.clone()],
            audience: Some(AUDIENCE.into()),
            store_claim: None,
        };
        settings.oauth.sign_in = Some(SignInSettings {
            issuer,
            client_id: "dashboard".into(),
            client_secret: "dashboard-secret".into(),
            session_lifetime: Duration::from_secs(8 * 3600),
            reports_claim: Some(("groups".into(), "ld-leads".into())),
        });
    })
    .await;
    let registered = provider
        .http
        .post(format!("{}/admin/dashboard-redirect", provider.issuer))
        .body(app.url("/sign-in/callback"))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), StatusCode::OK);
    app
}

/// tests/js/sign-in-driver.js: /dashboard in Chromium, signed in at the provider as
/// `login`; with `sign_out`, then the dashboard's "Sign out" button pressed.
async fn sign_in_in_chromium(
    app: &TestApp,
    provider: &Provider,
    login: &str,
    sign_out: bool,
) -> Value {
    let output = tokio::process::Command::new("node")
        .arg(js_dir().join("sign-in-driver.js"))
        .env("START_URL", app.url("/dashboard"))
        .env("ISSUER", &provider.issuer)
        .env("LOGIN", login)
        .env("SIGN_OUT", if sign_out { "1" } else { "0" })
        .output()
        .await
        .expect("node is needed for the sign-in tests");
    assert!(
        output.status.success(),
        "sign-in-driver.js: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn session_cookie(cookies: &Value) -> Option<Value> {
    cookies
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == COOKIE_NAME)
        .cloned()
}

/// The value of the session cookie a sign-in `run` left in the browser.
fn session_value(run: &Value) -> String {
    let cookie = session_cookie(&run["cookies"]).expect("a session cookie");
    cookie["value"].as_str().unwrap().to_string()
}

/// A client that does not follow redirects, so a 302 is seen as such.
fn browser_like() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap()
}

/// A request to `path` carrying the session cookie `value`, as a script on a page would.
fn with_session(app: &TestApp, method: Method, path: &str, value: &str) -> reqwest::RequestBuilder {
    app.http
        .request(method, app.url(path))
        .header(COOKIE, format!("{COOKIE_NAME}={value}"))
}

/// GET `path` as a browser navigation carrying the session cookie `value`.
async fn navigate_with_cookie(app: &TestApp, path: &str, value: &str) -> reqwest::Response {
    browser_like()
        .get(app.url(path))
        .header(ACCEPT, BROWSER_ACCEPT)
        .header(COOKIE, format!("{COOKIE_NAME}={value}"))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn sign_in_through_the_provider_shows_the_user_and_sign_out_ends_the_session() {
    let provider = Provider::start();
    let app = lrs_signing_in(&provider).await;
    let run = sign_in_in_chromium(&app, &provider, "lead", true).await;

    // Through the provider's login page and back to the page first asked for.
    let visited: Vec<&str> = run["visited"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        visited[0].starts_with(&format!("{}/interaction/", provider.issuer)),
        "{visited:?}"
    );
    assert_eq!(run["url"], app.url("/dashboard"), "{run}");
    assert_eq!(run["status"], 200, "{run}");
    let text = run["text"].as_str().unwrap();
    assert!(text.contains("Signed in as User lead"), "{text}");
    assert!(text.contains("Learning modes"), "{text}");

    let cookie = session_cookie(&run["cookies"]).expect("a session cookie");
    assert_eq!(cookie["httpOnly"], true, "{cookie}");
    assert_eq!(cookie["sameSite"], "Lax", "{cookie}");
    assert_eq!(cookie["path"], "/", "{cookie}");
    // Served over plain http here; `Secure` is set when --public-url is https.
    assert_eq!(cookie["secure"], false, "{cookie}");
    let value = cookie["value"].as_str().unwrap();

    // Signed out by the dashboard's button: the cookie is gone from the browser, and
    // replayed it opens nothing: a browser is sent to sign in, a script gets 401.
    let signed_out = &run["signedOut"];
    assert_eq!(signed_out["status"], 200, "{signed_out}");
    assert!(
        session_cookie(&signed_out["cookies"]).is_none(),
        "{signed_out}"
    );
    let replayed = navigate_with_cookie(&app, "/dashboard", value).await;
    assert_eq!(replayed.status(), StatusCode::FOUND);
    let location = replayed.headers()[LOCATION].to_str().unwrap();
    assert!(location.starts_with(&provider.issuer), "{location}");
    let scripted = with_session(&app, Method::GET, "/reports/modes", value)
        .send()
        .await
        .unwrap();
    assert_eq!(scripted.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_session_reads_reports_but_never_authorises_xapi() {
    let provider = Provider::start();
    let app = lrs_signing_in(&provider).await;
    let run = sign_in_in_chromium(&app, &provider, "lead", false).await;
    let value = &session_value(&run);

    let report = with_session(&app, Method::GET, "/reports/modes", value)
        .send()
        .await
        .unwrap();
    assert_eq!(report.status(), StatusCode::OK);

    // A cross-site form or script may carry the cookie to xAPI: it must count for nothing.
    let statement = serde_json::json!({
        "actor": {"mbox": "mailto:csrf@example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
        "object": {"id": "http://example.com/csrf"},
    });
    let write = with_session(&app, Method::POST, "/xapi/statements", value)
        .header("X-Experience-API-Version", "1.0.3")
        .json(&statement)
        .send()
        .await
        .unwrap();
    assert_eq!(write.status(), StatusCode::UNAUTHORIZED);
    let read = with_session(&app, Method::GET, "/xapi/statements", value)
        .header("X-Experience-API-Version", "1.0.3")
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::UNAUTHORIZED);
    let stored = app
        .xapi(Method::GET, "/xapi/statements")
        .send()
        .await
        .unwrap();
    let page: Value = stored.json().await.unwrap();
    assert_eq!(page["statements"], serde_json::json!([]));
}

#[tokio::test]
async fn a_user_without_the_group_is_signed_in_but_refused_reports() {
    let provider = Provider::start();
    let app = lrs_signing_in(&provider).await;
    let run = sign_in_in_chromium(&app, &provider, "guest", false).await;
    assert_eq!(run["status"], 403, "{run}");
    let text = run["text"].as_str().unwrap();
    assert!(text.contains("Not allowed"), "{text}");
    assert!(text.contains("Signed in as User guest"), "{text}");
    let value = session_value(&run);
    let report = navigate_with_cookie(&app, "/reports/modes", &value).await;
    assert_eq!(report.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_tampered_state_or_a_replayed_code_is_refused() {
    let provider = Provider::start();
    let app = lrs_signing_in(&provider).await;
    let run = sign_in_in_chromium(&app, &provider, "lead", false).await;
    let callback = run["callbacks"][0]
        .as_str()
        .expect("the provider called back");
    let url = reqwest::Url::parse(callback).unwrap();
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.to_string())
            .unwrap()
    };
    let (code, state) = (param("code"), param("state"));

    let callback_with = |state: &str, code: &str| {
        let mut url = reqwest::Url::parse(&app.url("/sign-in/callback")).unwrap();
        url.query_pairs_mut()
            .append_pair("code", code)
            .append_pair("state", state);
        browser_like().get(url).send()
    };
    let refused = |response: reqwest::Response| async {
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(response.headers().get("set-cookie").is_none());
        let (_, code, message) = helpers::error_of(response).await;
        assert_eq!(code, "sign_in_refused");
        message
    };

    // The very callback again: its state was used once.
    let why = refused(callback_with(&state, &code).await.unwrap()).await;
    assert!(why.contains("state"), "{why}");
    // A state changed on the way.
    let tampered = format!("{state}x");
    let why = refused(callback_with(&tampered, &code).await.unwrap()).await;
    assert!(why.contains("state"), "{why}");
    // A fresh sign-in's state with the used code: the provider refuses the code.
    let start = browser_like()
        .get(app.url("/dashboard"))
        .header(ACCEPT, BROWSER_ACCEPT)
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), StatusCode::FOUND);
    let location = reqwest::Url::parse(start.headers()[LOCATION].to_str().unwrap()).unwrap();
    let fresh_state = location
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .to_string();
    let why = refused(callback_with(&fresh_state, &code).await.unwrap()).await;
    assert!(why.contains("invalid_grant"), "{why}");
}

#[tokio::test]
async fn scripts_and_api_clients_are_never_redirected() {
    let provider = Provider::start();
    let app = lrs_signing_in(&provider).await;
    let client = browser_like();

    // A browser navigation without credentials: to the provider, PKCE S256, state, nonce.
    let navigation = client
        .get(app.url("/dashboard"))
        .header(ACCEPT, BROWSER_ACCEPT)
        .send()
        .await
        .unwrap();
    assert_eq!(navigation.status(), StatusCode::FOUND);
    let location = reqwest::Url::parse(navigation.headers()[LOCATION].to_str().unwrap()).unwrap();
    assert!(
        location
            .as_str()
            .starts_with(&format!("{}/auth?", provider.issuer)),
        "{location}"
    );
    let query: std::collections::HashMap<String, String> =
        location.query_pairs().into_owned().collect();
    assert_eq!(query["client_id"], "dashboard");
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["redirect_uri"], app.url("/sign-in/callback"));
    assert_eq!(query["scope"], "openid profile");
    assert!(query["state"].len() >= 43 && query["nonce"].len() >= 43);

    // Basic credentials, even from a browser: the dashboard at once.
    let basic = client
        .get(app.url("/dashboard"))
        .header(ACCEPT, BROWSER_ACCEPT)
        .basic_auth(&app.key, Some(&app.secret))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::OK);
    // API clients without credentials: 401 as before.
    for accept in [Some("application/json"), Some("text/csv"), None] {
        let mut request = client.get(app.url("/reports/modes"));
        if let Some(accept) = accept {
            request = request.header(ACCEPT, accept);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{accept:?}");
    }
    // A made-up cookie is no session: still sent to sign in.
    let forged = navigate_with_cookie(&app, "/dashboard", "made-up").await;
    assert_eq!(forged.status(), StatusCode::FOUND);
}
