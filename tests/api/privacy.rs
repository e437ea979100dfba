//! The per-store host deny-list for browser capture, managed through the real CLI.

use std::collections::BTreeMap;

use commonplace::auth::{NewSecret, Scope};
use commonplace::store::credentials::{self, NewCredential};
use serde_json::{json, Value};

use crate::helpers::{error_of, spawn_app, TestApp};

fn read(page: &str) -> Value {
    json!({
        "actor": {"mbox": "mailto:ada@example.org"},
        "verb": {"id": "https://w3id.org/xapi/dod-isd/verbs/read"},
        "object": {"id": page}
    })
}

/// Runs `commonplace hosts ARGS` against the test app's database; stdout on success.
fn hosts_cli(app: &TestApp, args: &[&str]) -> Result<String, String> {
    app.command(&[&["hosts"], args].concat())
}

async fn post(app: &TestApp, who: &NewSecret, body: &Value) -> reqwest::Response {
    app.xapi_as(who, reqwest::Method::POST, "/xapi/statements")
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn browser_capture_about_a_denied_host_is_refused_whole() {
    let app = spawn_app().await;
    let browser = app.tagged_writer("browser", &[("source", "browser")]).await;
    let lms = app.tagged_writer("lms", &[("source", "lms")]).await;
    hosts_cli(&app, &["deny", "Mail.Example.org."]).unwrap();
    hosts_cli(&app, &["deny", "https://bank.example.com/login"]).unwrap();
    assert_eq!(
        hosts_cli(&app, &["list"]).unwrap(),
        "bank.example.com\nmail.example.org\n"
    );
    assert!(hosts_cli(&app, &["deny", "not a host"]).is_err());

    // One allowed page and one on a subdomain of a denied host: nothing is stored.
    let batch = json!([
        read("https://news.example.net/story"),
        read("https://inbox.mail.example.org/thread/7"),
    ]);
    let (status, _, message) = error_of(post(&app, &browser, &batch).await).await;
    assert_eq!(status, 403);
    assert!(
        message.contains("statement[1]") && message.contains("inbox.mail.example.org"),
        "{message}"
    );
    assert!(message.contains("'mail.example.org'"), "{message}");
    assert_eq!(app.stored_statements().await, 0);

    // A PUT of one Statement is refused the same way.
    let response = app
        .http
        .put(app.url(&format!(
            "/xapi/statements?statementId={}",
            uuid::Uuid::new_v4()
        )))
        .basic_auth(&browser.key, Some(&browser.secret))
        .header("X-Experience-API-Version", "2.0.0")
        .json(&read("http://BANK.example.com:8080/statement"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(response).await.0, 403);

    // A host that merely ends with the same letters is not a subdomain.
    let response = post(&app, &browser, &read("https://gmail.example.org.evil/x")).await;
    assert_eq!(response.status(), 200);
    let response = post(&app, &browser, &read("https://notmail.example.org/x")).await;
    assert_eq!(response.status(), 200);

    // The deny-list is about browser capture only: an LMS may use that host.
    assert_eq!(post(&app, &lms, &batch).await.status(), 200);

    // Allowed again, the browser batch goes through.
    hosts_cli(&app, &["allow", "mail.example.org"]).unwrap();
    assert!(hosts_cli(&app, &["allow", "mail.example.org"]).is_err());
    assert_eq!(post(&app, &browser, &batch).await.status(), 200);
    assert_eq!(app.stored_statements().await, 6);
}

/// An allowed page read, with `change` applied: the place under test names a denied host.
fn revealing(change: impl FnOnce(&mut Value)) -> Value {
    let mut statement = read("https://news.example.net/story");
    change(&mut statement);
    statement
}

fn sub_statement(object: Value, context: Value) -> Value {
    json!({
        "objectType": "SubStatement",
        "actor": {"mbox": "mailto:ada@example.org"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
        "object": object,
        "context": context
    })
}

#[tokio::test]
async fn every_activity_a_browser_statement_reveals_is_checked() {
    let app = spawn_app().await;
    let browser = app.tagged_writer("browser", &[("source", "browser")]).await;
    let lms = app.tagged_writer("lms", &[("source", "lms")]).await;
    hosts_cli(&app, &["deny", "mail.example.org"]).unwrap();
    let denied = "https://inbox.mail.example.org/thread/7";
    let allowed = json!({"id": "https://news.example.net/section"});
    let cases = [
        (
            "statement.object.definition.moreInfo",
            revealing(|s| s["object"]["definition"] = json!({"moreInfo": denied})),
        ),
        (
            "statement.object.object.id",
            revealing(|s| s["object"] = sub_statement(json!({"id": denied}), json!({}))),
        ),
        (
            "statement.object.context.contextActivities.grouping[0].id",
            revealing(|s| {
                s["object"] = sub_statement(
                    allowed.clone(),
                    json!({"contextActivities": {"grouping": [{"id": denied}]}}),
                )
            }),
        ),
        (
            // A single context Activity, not in an array, is found all the same.
            "statement.context.contextActivities.parent[0].id",
            revealing(|s| s["context"] = json!({"contextActivities": {"parent": {"id": denied}}})),
        ),
        (
            "statement.context.contextActivities.grouping[1].id",
            revealing(|s| {
                s["context"] =
                    json!({"contextActivities": {"grouping": [allowed.clone(), {"id": denied}]}})
            }),
        ),
        (
            "statement.context.contextActivities.category[0].id",
            revealing(|s| {
                s["context"] = json!({"contextActivities": {"category": [{"id": denied}]}})
            }),
        ),
        (
            "statement.context.contextActivities.other[0].id",
            revealing(|s| s["context"] = json!({"contextActivities": {"other": [{"id": denied}]}})),
        ),
        (
            "statement.context.contextActivities.other[0].definition.moreInfo",
            revealing(|s| {
                s["context"] = json!({"contextActivities": {"other": [
                    {"id": "https://news.example.net/a", "definition": {"moreInfo": denied}}
                ]}})
            }),
        ),
    ];
    for (path, statement) in &cases {
        let (status, _, message) = error_of(post(&app, &browser, statement).await).await;
        assert_eq!(status, 403, "{path}: {message}");
        assert!(
            message.contains(&format!("{path} names the host inbox.mail.example.org"))
                && message.contains("'mail.example.org'"),
            "{path}: {message}"
        );
    }
    assert_eq!(app.stored_statements().await, 0);

    // In a batch, the message says which Statement; nothing of the batch is stored.
    let (_, statement) = &cases[3];
    let batch = json!([read("https://news.example.net/story"), statement]);
    let (status, _, message) = error_of(post(&app, &browser, &batch).await).await;
    assert_eq!(status, 403);
    assert!(
        message.contains("statement[1].context.contextActivities.parent[0].id"),
        "{message}"
    );
    assert_eq!(app.stored_statements().await, 0);

    // The same Statements from an LMS are stored, and browser capture whose every
    // Activity is on an allowed host goes through.
    let everything: Vec<&Value> = cases.iter().map(|(_, s)| s).collect();
    assert_eq!(post(&app, &lms, &json!(everything)).await.status(), 200);
    let harmless = revealing(|s| {
        s["object"]["definition"] = json!({"moreInfo": "https://news.example.net/about"});
        s["context"] = json!({"contextActivities": {"parent": [allowed.clone()]}});
    });
    assert_eq!(post(&app, &browser, &harmless).await.status(), 200);
    assert_eq!(app.stored_statements().await, cases.len() as i64 + 1);
}

#[tokio::test]
async fn the_deny_list_belongs_to_one_store() {
    let app = spawn_app().await;
    credentials::create_store(&app.pool, "other").await.unwrap();
    let tags = BTreeMap::from([("source".to_string(), "browser".to_string())]);
    let other_browser = credentials::create(
        &app.pool,
        NewCredential {
            name: "browser",
            store: "other",
            scopes: &[Scope::StatementsWrite],
            tags: &tags,
            fixed: None,
        },
    )
    .await
    .unwrap();
    hosts_cli(&app, &["deny", "mail.example.org", "--store", "default"]).unwrap();
    assert_eq!(hosts_cli(&app, &["list", "--store", "other"]).unwrap(), "");
    let response = post(&app, &other_browser, &read("https://mail.example.org/x")).await;
    assert_eq!(response.status(), 200);
    assert!(hosts_cli(&app, &["list", "--store", "nowhere"]).is_err());
}
