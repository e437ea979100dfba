//! Configurable limits and abuse throttling: each answered with its status and a
//! message that names the limit.

use std::time::Duration;

use commonplace::auth::Scope;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{client_from, error_of, spawn_app_with, TestApp};
use crate::support::{mixed, request, statement, with_attachments};

async fn post(app: &TestApp, body: &Value) -> reqwest::Response {
    app.xapi(Method::POST, "/xapi/statements")
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_batch_over_the_limit_is_400_and_stores_nothing() {
    let app = spawn_app_with(|s| s.limits.max_batch_statements = 3).await;
    let batch = |n: usize| -> Value {
        (0..n)
            .map(|i| statement(&format!("p{i}"), "batch"))
            .collect()
    };
    let (status, code, message) = error_of(post(&app, &batch(4)).await).await;
    assert_eq!((status, code.as_str()), (400, "invalid_body"));
    assert!(message.contains("at most 3"), "{message}");
    let stored: i64 = count(&app, "SELECT count(*) FROM statements").await;
    assert_eq!(stored, 0);
    assert_eq!(post(&app, &batch(3)).await.status(), 200);
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let client = app.pool.get().await.unwrap();
    client.query_one(sql, &[]).await.unwrap().get(0)
}

#[tokio::test]
async fn nesting_deeper_than_the_limit_is_400() {
    let app = spawn_app_with(|s| s.limits.max_json_depth = 8).await;
    let nested = |depth: usize| {
        let mut value = json!("leaf");
        for _ in 0..depth {
            value = json!({ "n": value });
        }
        let mut s = statement("deep", "deep");
        s["result"] = json!({"extensions": {"http://example.com/ext": value}});
        s
    };
    // The statement, result and extensions take three levels.
    assert_eq!(post(&app, &nested(4)).await.status(), 200);
    let (status, code, message) = error_of(post(&app, &nested(12)).await).await;
    assert_eq!((status, code.as_str()), (400, "invalid_body"));
    assert!(
        message.contains("deep") || message.contains("nest"),
        "{message}"
    );
}

#[tokio::test]
async fn too_many_attachments_is_400_and_one_too_large_is_413() {
    let app = spawn_app_with(|s| {
        s.limits.max_attachments = 2;
        s.limits.max_attachment_bytes = 16;
    })
    .await;
    let send = |data: Vec<&'static [u8]>| {
        let body = with_attachments(statement("att", "att"), &data);
        mixed(
            request(
                &app,
                &app.key,
                &app.secret,
                Method::POST,
                "/xapi/statements",
            ),
            &body,
            &data,
        )
        .send()
    };
    let ok = send(vec![b"first", b"second"]).await.unwrap();
    assert_eq!(ok.status(), 200, "{}", ok.text().await.unwrap());
    let (status, code, message) =
        error_of(send(vec![b"first", b"second", b"third"]).await.unwrap()).await;
    assert_eq!((status, code.as_str()), (400, "invalid_body"));
    assert!(message.contains("at most 2"), "{message}");
    let (status, code, message) = error_of(send(vec![b"seventeen bytes!!"]).await.unwrap()).await;
    assert_eq!((status, code.as_str()), (413, "payload_too_large"));
    assert!(message.contains("16 bytes"), "{message}");
}

#[tokio::test]
async fn repeated_failed_authentication_is_429_with_retry_after_per_key_and_address() {
    let app = spawn_app_with(|s| {
        s.limits.auth_failures = 3;
        s.limits.auth_failure_window = Duration::from_secs(2);
    })
    .await;
    let other = app.credential("default", &[Scope::All]).await;
    let get = |key: &str, secret: &str| {
        request(&app, key, secret, Method::GET, "/xapi/statements").send()
    };
    assert_eq!(get(&app.key, &app.secret).await.unwrap().status(), 200);
    for _ in 0..3 {
        assert_eq!(get(&app.key, "wrong").await.unwrap().status(), 401);
    }
    let throttled = get(&app.key, "wrong").await.unwrap();
    let retry_after: u64 = throttled.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    let (status, code, _) = error_of(throttled).await;
    assert_eq!((status, code.as_str()), (429, "too_many_requests"));
    // The key is locked even with its right secret, and so is this address.
    assert_eq!(get(&app.key, &app.secret).await.unwrap().status(), 429);
    assert_eq!(get(&other.key, &other.secret).await.unwrap().status(), 429);
    // Guessing keys counts against the address too, whatever the key.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(get(&app.key, &app.secret).await.unwrap().status(), 200);
    for n in 0..3 {
        assert_eq!(get(&format!("guess{n}"), "x").await.unwrap().status(), 401);
    }
    assert_eq!(get("guess-final", "x").await.unwrap().status(), 429);
    assert_eq!(get(&other.key, &other.secret).await.unwrap().status(), 429);
}

#[tokio::test]
async fn requests_past_the_per_credential_rate_are_429_with_retry_after() {
    let app = spawn_app_with(|s| {
        s.limits.rate_limit = Some(3);
        s.limits.rate_window = Duration::from_secs(30);
    })
    .await;
    let other = app.credential("default", &[Scope::All]).await;
    for _ in 0..3 {
        assert_eq!(
            app.xapi(Method::GET, "/xapi/statements")
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    let limited = app
        .xapi(Method::GET, "/xapi/statements")
        .send()
        .await
        .unwrap();
    assert!(limited.headers().contains_key("retry-after"));
    let (status, code, message) = error_of(limited).await;
    assert_eq!((status, code.as_str()), (429, "too_many_requests"));
    assert!(message.contains("3 requests per 30 s"), "{message}");
    let fine = request(
        &app,
        &other.key,
        &other.secret,
        Method::GET,
        "/xapi/statements",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(fine.status(), 200, "other credentials are not limited");
}

#[tokio::test]
async fn wrong_secrets_on_the_reports_the_dashboard_and_capture_are_429_with_retry_after() {
    for path in ["/reports/modes", "/dashboard", "/capture/policy"] {
        let app = spawn_app_with(|s| {
            s.limits.auth_failures = 3;
            s.limits.auth_failure_window = Duration::from_secs(60);
        })
        .await;
        let get = |secret: &str| {
            app.http
                .get(app.url(path))
                .basic_auth(&app.key, Some(secret))
                .send()
        };
        for _ in 0..3 {
            assert_eq!(get("wrong").await.unwrap().status(), 401, "{path}");
        }
        let throttled = get("wrong").await.unwrap();
        let retry_after: u64 = throttled.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry_after), "{path}: {retry_after}");
        let (status, code, _) = error_of(throttled).await;
        assert_eq!(
            (status, code.as_str()),
            (429, "too_many_requests"),
            "{path}"
        );
        assert_eq!(get(&app.secret).await.unwrap().status(), 429, "{path}");
    }
}

#[tokio::test]
async fn a_key_locked_out_on_one_route_is_locked_out_on_every_route() {
    let app = spawn_app_with(|s| {
        s.limits.auth_failures = 3;
        s.limits.auth_failure_window = Duration::from_secs(60);
    })
    .await;
    let reader = app.credential("default", &[Scope::All]).await;
    let bystander = app.credential("default", &[Scope::All]).await;
    let status = |client: &reqwest::Client, key: &str, secret: &str, path: &str| {
        client
            .get(app.url(path))
            .basic_auth(key, Some(secret))
            .header("X-Experience-API-Version", "2.0.0")
            .send()
    };
    let (guesser, honest, third) = (
        client_from("127.0.0.1"),
        client_from("127.0.0.2"),
        client_from("127.0.0.3"),
    );

    // Locked out through xAPI: refused on the reports and the dashboard, whatever the
    // address, while another key from that address is served.
    for _ in 0..3 {
        let answer = status(&guesser, &app.key, "wrong", "/xapi/statements").await;
        assert_eq!(answer.unwrap().status(), 401);
    }
    for path in ["/reports/modes", "/dashboard", "/xapi/statements"] {
        let locked = status(&honest, &app.key, &app.secret, path).await.unwrap();
        assert!(locked.headers().contains_key("retry-after"), "{path}");
        let (code, error, _) = error_of(locked).await;
        assert_eq!((code, error.as_str()), (429, "too_many_requests"), "{path}");
        let other = status(&honest, &reader.key, &reader.secret, path).await;
        assert_eq!(other.unwrap().status(), 200, "{path}");
    }

    // And the other way round: locked out through the reports and the dashboard,
    // refused on xAPI.
    for path in ["/reports/modes", "/dashboard", "/reports/modes"] {
        let answer = status(&honest, &reader.key, "wrong", path).await;
        assert_eq!(answer.unwrap().status(), 401, "{path}");
    }
    for path in ["/xapi/statements", "/reports/modes", "/dashboard"] {
        let locked = status(&third, &reader.key, &reader.secret, path).await;
        assert_eq!(locked.unwrap().status(), 429, "{path}");
        let other = status(&third, &bystander.key, &bystander.secret, path).await;
        assert_eq!(other.unwrap().status(), 200, "{path}");
    }
}
