//! `GET /metrics`: Prometheus text, no authentication, counts by route pattern.

use commonplace::workload::Workload;

use crate::helpers::{spawn_app, TestApp};

async fn scrape(app: &TestApp) -> String {
    let response = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    response.text().await.unwrap()
}

/// The value of the sample whose name and labels are exactly `series`, 0 when absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            (name == series).then(|| value.parse().unwrap())
        })
        .unwrap_or(0.0)
}

#[tokio::test]
async fn ingesting_statements_increments_the_counters() {
    let app = spawn_app().await;
    let before = scrape(&app).await;
    assert_eq!(
        sample(&before, "commonplace_statements_ingested_total"),
        0.0
    );
    assert_eq!(sample(&before, "commonplace_database_pool_max_size"), 4.0);

    let response = app
        .xapi(reqwest::Method::POST, "/xapi/statements")
        .json(&Workload::new(1).batch(3))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let id = uuid::Uuid::new_v4();
    let response = app
        .xapi(
            reqwest::Method::GET,
            &format!("/xapi/statements?statementId={id}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);

    let after = scrape(&app).await;
    assert_eq!(sample(&after, "commonplace_statements_ingested_total"), 3.0);
    // Routes are labelled by pattern, never by raw path or query.
    assert_eq!(
        sample(
            &after,
            r#"commonplace_http_requests_total{method="POST",route="/xapi/statements",status="200"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(
            &after,
            r#"commonplace_http_requests_total{method="GET",route="/xapi/statements",status="404"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(
            &after,
            r#"commonplace_http_request_duration_seconds_count{method="POST",route="/xapi/statements",status="200"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(
            &after,
            r#"commonplace_database_operation_duration_seconds_count{operation="insert_statements"}"#
        ),
        1.0
    );
    assert!(after.contains("commonplace_database_pool_in_use"));
    assert!(after.contains("commonplace_database_pool_waiting"));
}

#[tokio::test]
async fn unknown_paths_share_one_label() {
    let app = spawn_app().await;
    for path in ["/nothing/here", "/or/here"] {
        let response = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 404);
    }
    let text = scrape(&app).await;
    assert_eq!(
        sample(
            &text,
            r#"commonplace_http_requests_total{method="GET",route="unmatched",status="404"}"#
        ),
        2.0
    );
    assert!(!text.contains("/nothing/here"));
}
