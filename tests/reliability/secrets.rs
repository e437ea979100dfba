//! Secrets never reach the log or an error body, even at debug level; a chosen secret
//! too short to withstand guessing against its fast hash stops the start.

use base64::Engine;
use reqwest::Method;
use serde_json::json;

use crate::helpers::fresh_database;
use crate::server::{client, refused, start, xapi, KEY, SECRET};

#[tokio::test]
async fn secrets_appear_in_neither_logs_nor_error_bodies() {
    let url = fresh_database().await;
    let server = start(
        &["--database-url", &url, "--auth-failures", "3"],
        &[("RUST_LOG", "trace")],
    );
    let http = client();
    let mut bodies = Vec::new();
    let statement = json!({
        "actor": {"mbox": "mailto:someone@example.com"},
        "verb": {"id": "http://example.com/verbs/did"},
        "object": {"id": "http://example.com/a"},
    });
    let ok = xapi(&http, server.port, Method::POST, "/xapi/statements")
        .json(&statement)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    bodies.push(ok.text().await.unwrap());
    let base = format!("http://127.0.0.1:{}", server.port);
    let attempts = [
        // the right secret under an unknown key, and variants of a wrong one
        ("nobody-key".to_string(), SECRET.to_string()),
        (KEY.to_string(), format!("{SECRET}x")),
        (KEY.to_string(), SECRET[..12].to_string()),
        (KEY.to_string(), "wrong".to_string()),
        (KEY.to_string(), "wrong again".to_string()),
    ];
    for (key, secret) in &attempts {
        let r = http
            .get(format!("{base}/xapi/statements"))
            .basic_auth(key, Some(secret))
            .header("X-Experience-API-Version", "2.0.0")
            .send()
            .await
            .unwrap();
        assert!([401, 429].contains(&r.status().as_u16()));
        bodies.push(r.text().await.unwrap());
    }
    // A malformed header carrying the secret, a non-Basic scheme, and the alternate
    // syntax's Authorization form field.
    for header in [format!("Basic {SECRET}"), format!("Bearer {SECRET}")] {
        let r = http
            .get(format!("{base}/xapi/statements"))
            .header("Authorization", header)
            .header("X-Experience-API-Version", "2.0.0")
            .send()
            .await
            .unwrap();
        bodies.push(r.text().await.unwrap());
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{KEY}:{SECRET}"));
    let form = format!(
        "Authorization=Basic%20{}&X-Experience-API-Version=1.0.3&content={}",
        encoded.replace('=', "%3D").replace('+', "%2B"),
        "not%20json"
    );
    let r = http
        .post(format!("{base}/xapi/statements?method=PUT"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    bodies.push(r.text().await.unwrap());

    // Let the last log lines arrive, then stop the server.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let log = server.log();
    assert!(
        log.contains("request completed"),
        "debug logging was on: {log}"
    );
    for needle in [SECRET, &SECRET[..12], &encoded] {
        assert!(
            !log.contains(needle),
            "the log shows a secret: {needle}\n{log}"
        );
        for body in &bodies {
            assert!(!body.contains(needle), "a body shows a secret: {body}");
        }
    }
}

#[tokio::test]
async fn a_chosen_secret_shorter_than_32_characters_stops_the_start() {
    let url = fresh_database().await;
    for short in ["a", "0123456789abcdefghijklmnopqrstu"] {
        let (status, output) = refused(
            &["--database-url", &url],
            &[("COMMONPLACE_BOOTSTRAP_SECRET", short)],
        );
        assert!(!status.success(), "started with '{short}': {output}");
        assert!(
            output.contains("COMMONPLACE_BOOTSTRAP_SECRET")
                && output.contains("at least 32 characters"),
            "{output}"
        );
    }
    // Nothing was created: the first credential is still to be chosen.
    let long = "0123456789abcdefghijklmnopqrstuv";
    let server = start(
        &["--database-url", &url],
        &[("COMMONPLACE_BOOTSTRAP_SECRET", long)],
    );
    let answer = client()
        .get(server.url("/xapi/statements"))
        .basic_auth(KEY, Some(long))
        .header("X-Experience-API-Version", "2.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
}
