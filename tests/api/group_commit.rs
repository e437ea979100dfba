//! Small Statement requests that queue while the writer is busy are stored together
//! (`store::write_queue`), yet each keeps its own authority, its own answer and its
//! all-or-nothing write. The writer is held busy by a transaction that locks the
//! Statement table; `/metrics` (or the writer itself) says when requests have queued.

use std::sync::Arc;
use std::time::Duration;

use commonplace::auth::Scope;
use reqwest::Method;
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use uuid::Uuid;

use commonplace::modes::{Ruleset, Writer};
use commonplace::store::statements::{self, LrsProperties, NewStatement};
use commonplace::store::write_queue::StatementWriter;
use commonplace::xapi::ingest::credential_authority;
use commonplace::xapi::{parse_statement, Version};

use crate::helpers::{metric_sample, spawn_app_with, until_other_backends_idle, TestApp};

fn statement(n: usize) -> Value {
    json!({
        "actor": {"mbox": format!("mailto:grouped{n}@example.org")},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
        "object": {"id": format!("http://example.org/grouped/{n}")}
    })
}

/// One writer, so a second request queues behind the first.
async fn one_writer_app() -> TestApp {
    spawn_app_with(|s| s.statement_writers = Some(1)).await
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

async fn gauge(app: &TestApp, name: &str) -> f64 {
    metric_sample(&app.metrics_text().await, name)
}

/// Waits until `/metrics` shows the writer busy and `waiting` requests queued.
async fn until_queued(app: &TestApp, waiting: i64) {
    for _ in 0..400 {
        if gauge(app, "commonplace_statement_writers_busy").await == 1.0
            && gauge(app, "commonplace_statement_writes_waiting").await == waiting as f64
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
    let app = one_writer_app().await;
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
    let app = one_writer_app().await;
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
async fn the_same_new_statement_queued_twice_is_stored_once() {
    let app = one_writer_app().await;
    let blocker = hold_statements(&app).await;
    let leader = put(&app, &app.key, &app.secret, Uuid::new_v4(), &statement(1));
    until_queued(&app, 0).await;
    // One group holding one id twice: its write fails on the key, and each request is
    // written again alone; the second finds the first's Statement, the same one.
    let twice = Uuid::new_v4();
    let first = put(&app, &app.key, &app.secret, twice, &statement(2));
    let second = put(&app, &app.key, &app.secret, twice, &statement(2));
    until_queued(&app, 2).await;
    blocker.batch_execute("ROLLBACK").await.unwrap();

    assert_eq!(leader.await.unwrap(), 204);
    assert_eq!(first.await.unwrap(), 204);
    assert_eq!(second.await.unwrap(), 204);
    assert!(stored(&app, twice).await.is_some());
    assert_eq!(app.stored_statements().await, 2);
}

// A client going away does not end its request in the server (actix-web runs the
// handler on); a request's deadline does, by dropping its future. The next two tests
// drop writes' futures themselves, through the writer the server uses.

/// A writer of one place on the app's database, and the default store's id.
async fn writer_of(app: &TestApp) -> (Arc<StatementWriter>, i64) {
    let store_id = app.default_store_id().await;
    (
        Arc::new(StatementWriter::new(app.pool.clone(), 1)),
        store_id,
    )
}

/// Statement `n` with this id, as the server would store it for the app's credential.
fn new_statement(app: &TestApp, id: Uuid, n: usize) -> NewStatement {
    let mut body = statement(n);
    body["id"] = json!(id);
    let parsed = parse_statement(body, Version::V2_0_0, "statement").unwrap();
    let (authority, authority_ifi) = credential_authority("http://lrs.test", &app.key, "all");
    let label = Ruleset::default_rules().classify(
        &parsed.body,
        &Writer {
            store: "default",
            credential_key: &app.key,
            credential_name: "all",
            tags: &Default::default(),
        },
    );
    NewStatement::from_parsed(
        parsed,
        &authority_ifi,
        label,
        &LrsProperties {
            authority: &authority,
            default_version: "2.0.0",
            credential: &app.key,
        },
    )
}

fn write(
    writer: &Arc<StatementWriter>,
    store_id: i64,
    statement: NewStatement,
) -> JoinHandle<Result<(), commonplace::store::Error>> {
    let writer = Arc::clone(writer);
    tokio::spawn(async move { writer.write(store_id, vec![statement], Vec::new()).await })
}

async fn until_status(writer: &StatementWriter, busy: usize, waiting: usize) {
    for _ in 0..400 {
        let status = writer.status();
        if status.busy == busy && status.waiting == waiting {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the writer never had {busy} busy and {waiting} waiting");
}

#[tokio::test]
async fn a_request_that_leaves_the_queue_is_not_stored_and_the_writer_goes_on() {
    let app = one_writer_app().await;
    let (writer, store_id) = writer_of(&app).await;
    let blocker = hold_statements(&app).await;
    let leader_id = Uuid::new_v4();
    let leader = write(&writer, store_id, new_statement(&app, leader_id, 1));
    until_status(&writer, 1, 0).await;
    let left_id = Uuid::new_v4();
    let leaving = write(&writer, store_id, new_statement(&app, left_id, 2));
    until_status(&writer, 1, 1).await;
    leaving.abort();
    until_status(&writer, 1, 0).await;
    blocker.batch_execute("ROLLBACK").await.unwrap();
    leader.await.unwrap().unwrap();

    // The writer's place was freed, not lost: the next write takes it at once.
    let next = Uuid::new_v4();
    write(&writer, store_id, new_statement(&app, next, 3))
        .await
        .unwrap()
        .unwrap();
    until_status(&writer, 0, 0).await;
    assert!(stored(&app, leader_id).await.is_some());
    assert!(stored(&app, next).await.is_some());
    assert!(stored(&app, left_id).await.is_none());
}

#[tokio::test]
async fn a_request_that_leaves_its_group_mid_write_is_not_stored_and_the_rest_are() {
    let app = one_writer_app().await;
    let (writer, store_id) = writer_of(&app).await;
    let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    // Holding the write lock of `a` holds any write that includes it, in its first
    // round trip (before anything is sent to commit).
    let (class, key) = statements::statement_write_lock(&a);
    let holder = app.dedicated_connection().await;
    holder
        .execute("SELECT pg_advisory_lock($1, $2)", &[&class, &key])
        .await
        .unwrap();
    let blocker = hold_statements(&app).await;
    let leader = write(&writer, store_id, new_statement(&app, Uuid::new_v4(), 0));
    until_status(&writer, 1, 0).await;
    let staying = [
        write(&writer, store_id, new_statement(&app, a, 1)),
        write(&writer, store_id, new_statement(&app, b, 2)),
    ];
    let leaving = write(&writer, store_id, new_statement(&app, c, 3));
    until_status(&writer, 1, 3).await;
    blocker.batch_execute("ROLLBACK").await.unwrap();
    leader.await.unwrap().unwrap();
    // The group of a, b and c now waits for `a`'s lock.
    until_waiting_for_advisory_lock(&holder, 1).await;
    leaving.abort();
    // The group is written again without c, on another connection, and waits for the
    // lock too (the abandoned write's backend notices its closed connection only once
    // it has the lock, and then rolls back).
    until_waiting_for_advisory_lock(&holder, 2).await;
    holder
        .execute("SELECT pg_advisory_unlock($1, $2)", &[&class, &key])
        .await
        .unwrap();

    for request in staying {
        request.await.unwrap().unwrap();
    }
    until_other_backends_idle(&holder).await;
    until_status(&writer, 0, 0).await;
    assert!(stored(&app, c).await.is_none());
    let transactions: i64 = holder
        .query_one(
            "SELECT count(DISTINCT xmin::text) FROM statements WHERE id = ANY($1)",
            &[&vec![a, b]],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(transactions, 1, "a and b were not written together");
    assert!(stored(&app, a).await.is_some());
    assert!(stored(&app, b).await.is_some());
}

/// Waits until `backends` backends wait for an advisory lock.
async fn until_waiting_for_advisory_lock(client: &tokio_postgres::Client, backends: i64) {
    for _ in 0..200 {
        let waiting: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                  WHERE datname = current_database() AND wait_event = 'advisory'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if waiting == backends {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{backends} writes never waited for the advisory lock");
}
