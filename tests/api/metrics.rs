//! `GET /metrics`: Prometheus text, no authentication, counts by route pattern.

use commonplace::workload::Workload;

use crate::helpers::{metric_sample, spawn_app};

#[tokio::test]
async fn ingesting_statements_increments_the_counters() {
    let app = spawn_app().await;
    let before = app.metrics_text().await;
    assert_eq!(
        metric_sample(&before, "commonplace_statements_ingested_total"),
        0.0
    );
    assert_eq!(
        metric_sample(&before, "commonplace_database_pool_max_size"),
        4.0
    );

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

    let after = app.metrics_text().await;
    assert_eq!(
        metric_sample(&after, "commonplace_statements_ingested_total"),
        3.0
    );
    // Routes are labelled by pattern, never by raw path or query.
    assert_eq!(
        metric_sample(
            &after,
            r#"commonplace_http_requests_total{method="POST",route="/xapi/statements",status="200"}"#
        ),
        1.0
    );
    assert_eq!(
        metric_sample(
            &after,
            r#"commonplace_http_requests_total{method="GET",route="/xapi/statements",status="404"}"#
        ),
        1.0
    );
    assert_eq!(
        metric_sample(
            &after,
            r#"commonplace_http_request_duration_seconds_count{method="POST",route="/xapi/statements",status="200"}"#
        ),
        1.0
    );
    assert_eq!(
        metric_sample(
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
    let text = app.metrics_text().await;
    assert_eq!(
        metric_sample(
            &text,
            r#"commonplace_http_requests_total{method="GET",route="unmatched",status="404"}"#
        ),
        2.0
    );
    assert!(!text.contains("/nothing/here"));
}
