//! Communication §2.1.3: X-Experience-API-Consistent-Through is a time through which
//! every Statement is available. A consumer that polls the way the spec suggests — each
//! poll asks for what was stored `since` the last header value, `ascending`, following
//! `more` — must therefore see every Statement exactly once while writers keep writing,
//! and no response may hold a Statement stored after its own header.

use std::collections::HashSet;

use chrono::{DateTime, FixedOffset};
use reqwest::{Method, Response};
use serde_json::Value;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::common::*;

/// Posts `count` Statements one request at a time; returns their ids.
fn post_singly(
    app: &TestApp,
    name: String,
    count: usize,
    version: &'static str,
) -> JoinHandle<Vec<Uuid>> {
    let app = app.clone();
    tokio::spawn(async move {
        let mut ids = Vec::with_capacity(count);
        for n in 0..count {
            ids.push(post_one(&app, version, &statement(&name, &n.to_string())).await);
        }
        ids
    })
}

fn instant(text: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// The response's X-Experience-API-Consistent-Through.
fn consistent_through(response: &Response) -> String {
    response
        .headers()
        .get("X-Experience-API-Consistent-Through")
        .expect("every Statement response has the header")
        .to_str()
        .unwrap()
        .to_string()
}

/// Polls until every writer has finished (and once more after), checking each response
/// as it comes; returns every id seen, asserting none was seen twice.
async fn poll_while_writing(
    app: &TestApp,
    version: &str,
    writers: Vec<JoinHandle<Vec<Uuid>>>,
) -> (HashSet<Uuid>, HashSet<Uuid>) {
    let mut seen = HashSet::new();
    let mut since = "1970-01-01T00:00:00.000Z".to_string();
    let mut polls = 0;
    loop {
        let last = writers.iter().all(JoinHandle::is_finished);
        let mut next = format!("/xapi/statements?ascending=true&limit=9&since={since}");
        loop {
            let response = req(app, Method::GET, &next, version).send().await.unwrap();
            assert_eq!(response.status(), 200);
            let header = consistent_through(&response);
            let page: Value = response.json().await.unwrap();
            for statement in page["statements"].as_array().unwrap() {
                let stored = statement["stored"].as_str().unwrap();
                assert!(
                    instant(stored) <= instant(&header),
                    "poll {polls}: a Statement stored at {stored} in a response consistent through {header}"
                );
                let id: Uuid = statement["id"].as_str().unwrap().parse().unwrap();
                assert!(
                    seen.insert(id),
                    "poll {polls}: {id} (stored {stored}) seen a second time (since {since})"
                );
            }
            // The header of the last response is the one the consumer keeps.
            since = header;
            match page["more"].as_str().filter(|more| !more.is_empty()) {
                Some(more) => next = more.to_string(),
                None => break,
            }
        }
        polls += 1;
        if last {
            break;
        }
    }
    let mut written = HashSet::new();
    for writer in writers {
        written.extend(writer.await.unwrap());
    }
    (seen, written)
}

/// Polls while `writers` writers post `each` Statements apiece, under each version;
/// asserts polling saw every acknowledged Statement.
async fn assert_polling_sees_every_statement(app: &TestApp, writers: usize, each: usize) {
    for version in VERSIONS {
        let writers = (0..writers)
            .map(|w| post_singly(app, format!("w{w}{}", &version[..1]), each, version))
            .collect::<Vec<_>>();
        let expected = writers.len() * each;
        let (seen, written) = poll_while_writing(app, version, writers).await;
        assert_eq!(written.len(), expected);
        assert!(
            written.is_subset(&seen),
            "{version}: {} of {} acknowledged Statements never seen by polling",
            written.difference(&seen).count(),
            written.len()
        );
    }
}

#[tokio::test]
async fn comm_2_1_3_polling_with_consistent_through_sees_each_statement_of_one_writer_once() {
    assert_polling_sees_every_statement(&spawn_app().await, 1, 150).await;
}

#[tokio::test]
async fn comm_2_1_3_polling_with_consistent_through_sees_each_statement_of_many_writers_once() {
    assert_polling_sees_every_statement(&spawn_app().await, 6, 40).await;
}

/// Read-your-writes: the header lags the clock by a millisecond, so a write is answered
/// only once its `stored` millisecond is over, and a query sent after the answer
/// covers it (no other writer being in flight).
#[tokio::test]
async fn comm_2_1_3_a_query_sent_after_a_write_is_answered_includes_it() {
    let app = spawn_app().await;
    for n in 0..100 {
        let version = VERSIONS[n % 2];
        let id = post_one(&app, version, &statement("reader", &n.to_string())).await;
        let (status, page) = get(&app, version, "limit=1").await;
        assert_eq!(status, 200);
        assert_eq!(
            ids_of(&page),
            [id],
            "write {n}: not yet in a query sent after its answer"
        );
    }
}

/// A single Statement is in its own response too: the header covers it even while an
/// older writer (reserved before it, its `stored` earlier) is still in flight, which
/// holds the consistency time of queries back.
#[tokio::test]
async fn comm_2_1_3_a_single_statement_is_never_stored_after_its_header() {
    let app = spawn_app().await;
    let mut older = app.dedicated_connection().await;
    let writer = older.transaction().await.unwrap();
    writer
        .query_one(
            "SELECT first_seq FROM commonplace_reserve_statements(1)",
            &[],
        )
        .await
        .unwrap();
    for version in VERSIONS {
        let id = post_one(&app, version, &statement("single", version)).await;
        for query in [
            format!("statementId={id}"),
            format!("statementId={id}&format=ids"),
        ] {
            let response = get_response(&app, version, &query).await;
            assert_eq!(response.status(), 200);
            let header = consistent_through(&response);
            let body: Value = response.json().await.unwrap();
            let stored = body["stored"].as_str().unwrap();
            assert!(
                instant(stored) <= instant(&header),
                "{version} ?{query}: stored {stored}, consistent through {header}"
            );
        }
    }
    writer.rollback().await.unwrap();
}
