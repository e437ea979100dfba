//! Small Statement requests that queue while the writer is busy are stored together
//! (`store::write_queue`), yet each keeps its own authority, its own answer and its
//! all-or-nothing write. The writer is held busy by a transaction that locks the
//! Statement table, and `/metrics` says when the requests have queued.

use std::time::Duration;

use commonplace::auth::Scope;
use reqwest::Method;
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::helpers::{error_of, spawn_app_with, TestApp};

fn statement(n: usize) -> Value {
    json!({
        "actor": {"mbox": format!("mailto:grouped{n}@example.org")},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
        "object": {"id": format!("http://example.org/grouped/{n}")}
    })
}

/// One writer, so a second request queues behind the first.
async fn one_writer_app(timeout: Duration) -> TestApp {
    spawn_app_with(|s| {
        s.statement_writers = Some(1);
        s.request_timeout = timeout;
    })
    .await
}

/// A transaction holding the Statement table against writers (reads go on).
async fn hold_statements(app: &TestApp) -> tokio_postgres::Client {
    let blocker = app.dedicated_connection().await;
    blocker
        .batch_execute("BEGIN; LOCK TABLE statements IN EXCLUSIVE MODE")
        .await
        .unwrap();
    blocker
}

async fn gauge(app: &TestApp, name: &str) -> i64 {
    let text = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("{name} is not in /metrics"))
        .trim()
        .parse()
        .unwrap()
}

/// Waits until `/metrics` shows the writer busy and `waiting` requests queued.
async fn until_queued(app: &TestApp, waiting: i64) {
    for _ in 0..200 {
        if gauge(app, "commonplace_statement_writers_busy").await == 1
            && gauge(app, "commonplace_statement_writes_waiting").await == waiting
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{waiting} requests never queued for the writer");
}

fn put(app: &TestApp, key: &str, secret: &str, id: Uuid, body: &Value) -> JoinHandle<u16> {
    let request = app
        .http
        .put(app.url(&format!("/xapi/statements?statementId={id}")))
        .basic_auth(key, Some(secret))
        .header("X-Experience-API-Version", "2.0.0")
        .json(body);
    tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
}

async fn stored(app: &TestApp, id: Uuid) -> Option<Value> {
    let response = app
        .xapi(Method::GET, &format!("/xapi/statements?statementId={id}"))
        .send()
        .await
        .unwrap();
    match response.status().as_u16() {
        200 => Some(response.json().await.unwrap()),
        404 => None,
        other => panic!("GET {id}: {other}"),
    }
}

#[tokio::test]
async fn queued_requests_are_stored_together_each_under_its_own_credential() {
    let app = one_writer_app(Duration::from_secs(60)).await;
    let writers = [
        app.credential(
            "default",
            &[Scope::StatementsWrite, Scope::StatementsReadMine],
        )
        .await,
        app.credential(
            "default",
            &[Scope::StatementsWrite, Scope::StatementsReadMine],
        )
        .await,
    ];
    let blocker = hold_statements(&app).await;
    let first = Uuid::new_v4();
    let leader = put(&app, &app.key, &app.secret, first, &statement(0));
    until_queued(&app, 0).await;
    let ids: Vec<Uuid> = (0..6).map(|_| Uuid::new_v4()).collect();
    let queued: Vec<JoinHandle<u16>> = ids
        .iter()
        .enumerate()
        .map(|(n, id)| {
            let who = &writers[n % 2];
            put(&app, &who.key, &who.secret, *id, &statement(n + 1))
        })
        .collect();
    until_queued(&app, 6).await;
    blocker.batch_execute("ROLLBACK").await.unwrap();

    assert_eq!(leader.await.unwrap(), 204);
    for request in queued {
        assert_eq!(request.await.unwrap(), 204);
    }
    let mut stored_at = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        let body = stored(&app, *id).await.expect("stored");
        assert_eq!(body["authority"]["account"]["name"], writers[n % 2].key);
        assert_eq!(
            body["actor"]["mbox"],
            format!("mailto:grouped{}@example.org", n + 1)
        );
        stored_at.push(body["stored"].as_str().unwrap().to_string());
    }
    // One transaction stored the six queued requests: its id is every row's `xmin`,
    // and they share its `stored`.
    let transactions: i64 = app
        .pool
        .get()
        .await
        .unwrap()
        .query_one(
            "SELECT count(DISTINCT xmin::text) FROM statements WHERE id = ANY($1)",
            &[&ids],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(transactions, 1);
    stored_at.dedup();
    assert_eq!(stored_at.len(), 1, "stored at {stored_at:?}");
    let leader_body = stored(&app, first).await.expect("stored");
    assert_eq!(leader_body["authority"]["account"]["name"], app.key);

    // statements/read/mine sees exactly the Statements its credential wrote.
    for (w, who) in writers.iter().enumerate() {
        let page: Value = app
            .xapi_as(who, Method::GET, "/xapi/statements")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut mine: Vec<String> = page["statements"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_string())
            .collect();
        mine.sort();
        let mut expected: Vec<String> = ids
            .iter()
            .skip(w)
            .step_by(2)
            .map(|id| id.to_string())
            .collect();
        expected.sort();
        assert_eq!(mine, expected);
    }
}

#[tokio::test]
async fn a_conflict_in_a_group_fails_only_its_own_request() {
    let app = one_writer_app(Duration::from_secs(60)).await;
    let taken = Uuid::new_v4();
    assert_eq!(
        put(&app, &app.key, &app.secret, taken, &statement(0))
            .await
            .unwrap(),
        204
    );
    let blocker = hold_statements(&app).await;
    let leader = put(&app, &app.key, &app.secret, Uuid::new_v4(), &statement(1));
    until_queued(&app, 0).await;
    let fresh: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
    let mut queued: Vec<JoinHandle<u16>> = fresh
        .iter()
        .enumerate()
        .map(|(n, id)| put(&app, &app.key, &app.secret, *id, &statement(n + 2)))
        .collect();
    // The same id with other content than is stored: a conflict.
    let conflicting = put(&app, &app.key, &app.secret, taken, &statement(9));
    // The same new Statement twice: both requests succeed, and it is stored once.
    let twice = Uuid::new_v4();
    queued.push(put(&app, &app.key, &app.secret, twice, &statement(7)));
    queued.push(put(&app, &app.key, &app.secret, twice, &statement(7)));
    until_queued(&app, 6).await;
    blocker.batch_execute("ROLLBACK").await.unwrap();

    assert_eq!(leader.await.unwrap(), 204);
    assert_eq!(conflicting.await.unwrap(), 409);
    for request in queued {
        assert_eq!(request.await.unwrap(), 204);
    }
    for id in fresh.iter().chain([&twice]) {
        assert!(stored(&app, *id).await.is_some(), "{id} not stored");
    }
    let kept = stored(&app, taken).await.unwrap();
    assert_eq!(kept["actor"]["mbox"], "mailto:grouped0@example.org");
    assert_eq!(app.stored_statements().await, 6);
}

#[tokio::test]
async fn a_request_that_leaves_the_queue_is_not_stored_and_the_writer_goes_on() {
    let app = one_writer_app(Duration::from_secs(1)).await;
    let blocker = hold_statements(&app).await;
    let (leader_id, queued_id) = (Uuid::new_v4(), Uuid::new_v4());
    let leader = put(&app, &app.key, &app.secret, leader_id, &statement(1));
    until_queued(&app, 0).await;
    let queued = put(&app, &app.key, &app.secret, queued_id, &statement(2));
    // Both pass their deadline while the table is held.
    assert_eq!(leader.await.unwrap(), 503);
    assert_eq!(queued.await.unwrap(), 503);
    blocker.batch_execute("ROLLBACK").await.unwrap();

    // The writer's place was handed on, not lost: the next request is written at once.
    let next = Uuid::new_v4();
    let response = app
        .xapi(Method::PUT, &format!("/xapi/statements?statementId={next}"))
        .json(&statement(3))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204, "{:?}", error_of(response).await);
    assert!(stored(&app, next).await.is_some());
    assert!(stored(&app, queued_id).await.is_none());
    assert_eq!(gauge(&app, "commonplace_statement_writes_waiting").await, 0);
}
