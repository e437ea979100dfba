//! Learning modes end to end: labels chosen at ingest, explained over HTTP, and
//! re-applied to stored Statements by the reclassifier.

use commonplace::auth::{NewSecret, Scope};
use commonplace::modes::Ruleset;
use commonplace::store::modes;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{error_of, spawn_app, TestApp};

fn read_of(page: &str) -> Value {
    json!({
        "actor": {"mbox": "mailto:ada@example.org", "name": "Ada"},
        "verb": {"id": "https://w3id.org/xapi/dod-isd/verbs/read"},
        "object": {"id": format!("https://news.example.org/{page}"),
                   "definition": {"type": "https://w3id.org/xapi/acrossx/activities/webpage"}}
    })
}

async fn post(app: &TestApp, who: &NewSecret, statement: &Value) -> String {
    let response = app
        .xapi_as(who, Method::POST, "/xapi/statements")
        .json(statement)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let ids: Vec<String> = response.json().await.unwrap();
    ids[0].clone()
}

async fn explain(app: &TestApp, id: &str) -> Value {
    let response = app
        .report(&format!("/reports/explain?statementId={id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn ingest_labels_statements_and_explain_names_the_rule() {
    let app = spawn_app().await;
    let browser = app
        .tagged_writer("extension", &[("source", "browser")])
        .await;
    let lms = app.tagged_writer("lms", &[("source", "lms")]).await;
    let read = post(&app, &browser, &read_of("a")).await;
    let mut linked = read_of("b");
    linked["context"] = json!({"extensions": {
        "https://commonplace.dev/xapi/extensions/goal": "https://goals.example.org/ada/1"}});
    let planned = post(&app, &browser, &linked).await;
    let course = post(&app, &lms, &read_of("c")).await;

    let explained = explain(&app, &read).await;
    assert_eq!(explained["mode"], "self_directed");
    assert_eq!(explained["ruleId"], "browser-credential");
    assert_eq!(
        explained["rule"]["match"]["credential_tags"]["source"],
        "browser"
    );
    assert_eq!(explain(&app, &planned).await["ruleId"], "goal-extension");
    assert_eq!(explain(&app, &course).await["mode"], "directed");

    // The stored Statement itself is untouched by labelling.
    let stored: Value = app
        .xapi(Method::GET, &format!("/xapi/statements?statementId={read}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(stored.get("mode").is_none());
}

#[tokio::test]
async fn explain_refuses_bad_requests_without_a_500() {
    let app = spawn_app().await;
    let url = app.url("/reports/explain?statementId=3f1e4e3a-4d3e-4b7e-9f3e-1d2c3b4a5f6e");
    let anonymous = app.http.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(anonymous.headers().contains_key("www-authenticate"));

    let writer = app.credential("default", &[Scope::StatementsWrite]).await;
    let forbidden = app
        .http
        .get(&url)
        .basic_auth(&writer.key, Some(&writer.secret))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(forbidden).await.0, 403);

    let reports = app.credential("default", &[Scope::Reports]).await;
    let ask = |path: &str| {
        app.http
            .get(app.url(path))
            .basic_auth(&reports.key, Some(&reports.secret))
            .send()
    };
    assert_eq!(
        error_of(ask(&url[url.find("/reports").unwrap()..]).await.unwrap())
            .await
            .0,
        404
    );
    let (status, code, _) = error_of(ask("/reports/explain?statementId=nope").await.unwrap()).await;
    assert_eq!((status, code.as_str()), (400, "invalid_parameter"));
    assert_eq!(
        error_of(ask("/reports/explain").await.unwrap()).await.0,
        400
    );
    assert_eq!(
        error_of(ask("/reports/explain?colour=red").await.unwrap())
            .await
            .0,
        400
    );
}

#[tokio::test]
async fn reclassify_applies_new_rules_resumes_and_labels_old_rows() {
    let app = spawn_app().await;
    let browser = app
        .tagged_writer("extension", &[("source", "browser")])
        .await;
    let mut ids = Vec::new();
    for page in 0..7 {
        ids.push(post(&app, &browser, &read_of(&format!("p{page}"))).await);
    }
    // A row stored before labelling existed.
    app.pool
        .get()
        .await
        .unwrap()
        .execute(
            "UPDATE statements SET mode = NULL, mode_rule = NULL WHERE id = $1::text::uuid",
            &[&ids[0]],
        )
        .await
        .unwrap();
    assert_eq!(explain(&app, &ids[0]).await["mode"], Value::Null);

    let news_is_guided = Ruleset::parse(
        r#"
        [[rule]]
        id = "news-site"
        mode = "guided"
        match = { object_host = ["news.example.org"] }
        "#,
        "test",
    )
    .unwrap();
    let (store_id, _) = modes::store_by_name(&app.pool, "default")
        .await
        .unwrap()
        .unwrap();
    // An interrupted run: two batches of three, then the process "dies".
    let fingerprint = news_is_guided.fingerprint();
    modes::begin_reclassification(&app.pool, store_id, &fingerprint, false)
        .await
        .unwrap();
    for _ in 0..2 {
        let batch = modes::reclassify_batch(&app.pool, store_id, "default", &news_is_guided, 3)
            .await
            .unwrap();
        assert_eq!(batch.seen, 3);
    }
    assert_eq!(explain(&app, &ids[5]).await["ruleId"], "news-site");
    assert_eq!(explain(&app, &ids[6]).await["ruleId"], "browser-credential");
    let midway = modes::progress(&app.pool, store_id).await.unwrap();
    assert_eq!((midway.remaining, midway.finished), (1, false));

    // The rerun resumes and only looks at what is left.
    commonplace::reclassify::run(&app.pool, &news_is_guided, Some("default"), 3, false)
        .await
        .unwrap();
    let done = modes::progress(&app.pool, store_id).await.unwrap();
    assert_eq!((done.changed, done.remaining, done.finished), (7, 0, true));
    for id in &ids {
        let explained = explain(&app, id).await;
        assert_eq!(explained["mode"], "guided");
        // The server still runs the default rules, and says the label is from others.
        assert_eq!(explained["rule"], Value::Null);
    }
    assert!(
        commonplace::reclassify::run(&app.pool, &news_is_guided, Some("nowhere"), 3, false)
            .await
            .is_err()
    );
}
