//! Sequence order is not commit order: readers page only up to a watermark below every
//! writer still in flight, concurrent writers never lose each other's data, and a GET by
//! id answers with a consistency time read moments before.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

fn statement(n: usize) -> Value {
    json!({
        "actor": {"mbox": format!("mailto:writer{n}@example.org")},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
        "object": {"id": format!("http://example.org/page/{n}")}
    })
}

async fn post(app: &TestApp, body: &Value) -> Vec<String> {
    let response = app
        .xapi(Method::POST, "/xapi/statements")
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn ids_in_order(app: &TestApp) -> (Vec<String>, String) {
    let response = app
        .xapi(Method::GET, "/xapi/statements?ascending=true")
        .send()
        .await
        .unwrap();
    let consistent_through = consistent_through(&response);
    let body: Value = response.json().await.unwrap();
    let ids = body["statements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    (ids, consistent_through)
}

#[tokio::test]
async fn a_later_statement_stays_hidden_while_an_earlier_writer_is_in_flight() {
    let app = spawn_app().await;
    let first = post(&app, &statement(1)).await;

    // A writer reserves its seq and has not committed yet.
    let mut slow = app.dedicated_connection().await;
    let in_flight = slow.transaction().await.unwrap();
    let reserved = crate::helpers::reserve_one_seq(&in_flight).await;
    assert!(reserved > 0);

    let second = post(&app, &statement(2)).await;
    let by_id = app
        .xapi(
            Method::GET,
            &format!("/xapi/statements?statementId={}", second[0]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        by_id.status(),
        200,
        "readable by id as soon as it was acknowledged"
    );

    let (while_in_flight, consistent_through) = ids_in_order(&app).await;
    assert_eq!(
        while_in_flight, first,
        "the statement after the in-flight seq waits"
    );
    let stored_second: Value = by_id.json().await.unwrap();
    assert!(
        consistent_through.as_str() < stored_second["stored"].as_str().unwrap(),
        "{consistent_through} must be before {}",
        stored_second["stored"]
    );

    in_flight.commit().await.unwrap();
    let (after_commit, _) = ids_in_order(&app).await;
    assert_eq!(after_commit, [first[0].clone(), second[0].clone()]);
}

fn consistent_through(response: &reqwest::Response) -> String {
    response.headers()["x-experience-api-consistent-through"]
        .to_str()
        .unwrap()
        .to_string()
}

/// Reading the consistency time means a look at every writer in flight, which cost more
/// than reading a Statement by id. So a GET by id answers with the time a request read
/// moments before, and reads it afresh once that time is 500 ms old
/// (`consistency::MAX_AGE`).
#[tokio::test]
async fn a_get_by_id_answers_with_a_consistency_time_read_moments_before() {
    let app = spawn_app().await;
    let id = post(&app, &statement(1)).await.remove(0);
    let by_id = || {
        app.xapi(Method::GET, &format!("/xapi/statements?statementId={id}"))
            .send()
    };
    tokio::time::sleep(Duration::from_millis(10)).await;
    let (_, from_query) = ids_in_order(&app).await;

    tokio::time::sleep(Duration::from_millis(20)).await;
    let soon_after = by_id().await.unwrap();
    assert_eq!(soon_after.status(), 200);
    assert_eq!(
        consistent_through(&soon_after),
        from_query,
        "the query's time, read 20 ms before"
    );

    tokio::time::sleep(Duration::from_millis(600)).await;
    let later = by_id().await.unwrap();
    assert!(
        consistent_through(&later) > from_query,
        "read afresh: {} after {from_query}",
        consistent_through(&later)
    );
}

/// A writer takes its seq and marks it in flight under the reservation lock; between
/// the two the sequence already holds the seq and no mark says it is uncommitted. The
/// settled seq, up to which the learning feed and forwarders move, is read under that
/// lock too: it waits for the mark, then stops below the writer.
#[tokio::test]
async fn the_settled_seq_never_passes_a_writer_that_is_reserving() {
    let app = spawn_app().await;
    post(&app, &statement(1)).await;

    // A writer between `nextval` and its mark, as in commonplace_reserve_statements.
    let writer = app.dedicated_connection().await;
    writer
        .batch_execute("SELECT pg_advisory_lock(1398033748, 1)")
        .await
        .unwrap();
    let seq: i64 = writer
        .query_one("SELECT nextval('statements_seq_seq')", &[])
        .await
        .unwrap()
        .get(0);

    let reader_connection = app.dedicated_connection().await;
    let reader_pid: i32 = reader_connection
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    let reader = tokio::spawn(async move {
        reader_connection
            .query_one("SELECT commonplace_settled_seq()", &[])
            .await
            .unwrap()
            .get::<_, i64>(0)
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let waiting: bool = writer
            .query_one(
                "SELECT EXISTS (SELECT FROM pg_locks
                                 WHERE pid = $1 AND locktype = 'advisory' AND NOT granted)",
                &[&reader_pid],
            )
            .await
            .unwrap()
            .get(0);
        if waiting {
            break;
        }
        if reader.is_finished() || std::time::Instant::now() > deadline {
            let settled = reader.await.unwrap();
            panic!("the settled seq ({settled}) was read while seq {seq} was being reserved");
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }

    writer
        .execute("SELECT pg_advisory_lock_shared($1)", &[&seq])
        .await
        .unwrap();
    writer
        .batch_execute("SELECT pg_advisory_unlock(1398033748, 1)")
        .await
        .unwrap();
    let settled = reader.await.unwrap();
    assert!(settled < seq, "settled {settled}, in flight {seq}");
    writer
        .execute("SELECT pg_advisory_unlock_shared($1)", &[&seq])
        .await
        .unwrap();
}

#[tokio::test]
async fn concurrent_writers_and_a_paging_reader_see_every_statement_once() {
    let app = spawn_app().await;
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (http, url, key, secret) = (
                app.http.clone(),
                app.url("/xapi/statements"),
                app.key.clone(),
                app.secret.clone(),
            );
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for round in 0..10 {
                    let batch: Vec<Value> = (0..5)
                        .map(|i| statement(w * 1000 + round * 10 + i))
                        .collect();
                    let response = http
                        .post(&url)
                        .basic_auth(&key, Some(&secret))
                        .header("X-Experience-API-Version", "2.0.0")
                        .json(&batch)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status(), 200);
                    ids.extend(response.json::<Vec<String>>().await.unwrap());
                }
                ids
            })
        })
        .collect();
    // Poll like a consumer syncing while the writers run: each poll asks for what was
    // stored after the previous poll's consistent-through time. Every statement must
    // turn up, and no page chain may return one twice.
    let mut seen = std::collections::BTreeSet::new();
    let mut since = "1970-01-01T00:00:00.000Z".to_string();
    let mut done = false;
    while !done {
        done = writers.iter().all(|w| w.is_finished());
        let mut next = Some(format!(
            "/xapi/statements?ascending=true&limit=7&since={since}"
        ));
        let mut in_this_poll = std::collections::BTreeSet::new();
        let mut consistent_through = None;
        while let Some(path) = next {
            let response = app.xapi(Method::GET, &path).send().await.unwrap();
            consistent_through.get_or_insert_with(|| {
                response.headers()["x-experience-api-consistent-through"]
                    .to_str()
                    .unwrap()
                    .to_string()
            });
            let body: Value = response.json().await.unwrap();
            for s in body["statements"].as_array().unwrap() {
                let id = s["id"].as_str().unwrap().to_string();
                assert!(
                    in_this_poll.insert(id.clone()),
                    "{id} returned twice in one result set"
                );
                seen.insert(id);
            }
            let more = body["more"].as_str().unwrap();
            next = (!more.is_empty()).then(|| more.to_string());
        }
        since = consistent_through.unwrap();
    }
    let mut written = std::collections::BTreeSet::new();
    for writer in writers {
        written.extend(writer.await.unwrap());
    }
    assert_eq!(
        seen, written,
        "every acknowledged statement is found by polling"
    );
}

#[tokio::test]
async fn the_database_merges_definitions_by_the_same_rule_as_the_lrs() {
    let app = spawn_app().await;
    let client = app.dedicated_connection().await;
    let cases = [
        (
            json!({"name": {"en": "A"}}),
            json!({"name": {"fr": "B"}, "type": "http://x.org/t"}),
        ),
        (
            json!({"name": {"en": "A"}, "extensions": {"http://x.org/e": 1}, "moreInfo": "http://x.org/m"}),
            json!({"name": {"en": "A2"}, "extensions": {"http://x.org/f": 2}, "description": {"en": "d"}}),
        ),
        (
            json!({"interactionType": "choice", "choices": [{"id": "a"}]}),
            json!({"choices": [{"id": "b"}], "name": "not a map"}),
        ),
        (json!({"name": "odd"}), json!({"name": {"en": "fixed"}})),
    ];
    for (existing, incoming) in cases {
        let in_database: Value = client
            .query_one(
                "SELECT commonplace_merge_definition($1, $2)",
                &[&existing, &incoming],
            )
            .await
            .unwrap()
            .get(0);
        let in_rust = commonplace::xapi::definition::merge(Some(&existing), &incoming);
        assert_eq!(in_database, in_rust, "{existing} + {incoming}");
    }
}
