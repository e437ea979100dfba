//! Communication §2.1.3: X-Experience-API-Consistent-Through is a time through which
//! every Statement is available. A consumer that polls the way the spec suggests — each
//! poll asks for what was stored `since` the last header value, `ascending`, following
//! `more` — must therefore see every Statement exactly once while writers keep writing,
//! and no response may hold a Statement stored after its own header.

use std::collections::HashSet;

use chrono::{DateTime, FixedOffset};
use reqwest::Method;
use serde_json::Value;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::common::*;

/// What a writer task needs of the app (the app itself stays with the consumer).
#[derive(Clone)]
struct Writer {
    http: reqwest::Client,
    url: String,
    key: String,
    secret: String,
}

impl Writer {
    fn of(app: &TestApp) -> Self {
        Writer {
            http: app.http.clone(),
            url: app.url("/xapi/statements"),
            key: app.key.clone(),
            secret: app.secret.clone(),
        }
    }

    /// Posts `count` Statements one request at a time; returns their ids.
    fn post_singly(
        self,
        name: String,
        count: usize,
        version: &'static str,
    ) -> JoinHandle<Vec<Uuid>> {
        tokio::spawn(async move {
            let mut ids = Vec::with_capacity(count);
            for n in 0..count {
                let response = self
                    .http
                    .post(&self.url)
                    .basic_auth(&self.key, Some(&self.secret))
                    .header("X-Experience-API-Version", version)
                    .json(&statement(&name, &n.to_string()))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
                ids.extend(response.json::<Vec<Uuid>>().await.unwrap());
            }
            ids
        })
    }
}

fn instant(text: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("{text}: {e}"))
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
            let header = response
                .headers()
                .get("X-Experience-API-Consistent-Through")
                .expect("every Statement response has the header")
                .to_str()
                .unwrap()
                .to_string();
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

#[tokio::test]
async fn comm_2_1_3_polling_with_consistent_through_sees_each_statement_of_one_writer_once() {
    let app = spawn_app().await;
    for version in VERSIONS {
        let writer = Writer::of(&app).post_singly(format!("solo{}", &version[..1]), 150, version);
        let (seen, written) = poll_while_writing(&app, version, vec![writer]).await;
        assert_eq!(written.len(), 150);
        assert!(
            written.is_subset(&seen),
            "{version}: {} of {} acknowledged Statements never seen by polling",
            written.difference(&seen).count(),
            written.len()
        );
    }
}

#[tokio::test]
async fn comm_2_1_3_polling_with_consistent_through_sees_each_statement_of_many_writers_once() {
    let app = spawn_app().await;
    for version in VERSIONS {
        let writers = (0..6)
            .map(|w| Writer::of(&app).post_singly(format!("w{w}{}", &version[..1]), 40, version))
            .collect();
        let (seen, written) = poll_while_writing(&app, version, writers).await;
        assert_eq!(written.len(), 240);
        assert!(
            written.is_subset(&seen),
            "{version}: {} of {} acknowledged Statements never seen by polling",
            written.difference(&seen).count(),
            written.len()
        );
    }
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
            let response = req(
                &app,
                Method::GET,
                &format!("/xapi/statements?{query}"),
                version,
            )
            .send()
            .await
            .unwrap();
            assert_eq!(response.status(), 200);
            let header = response.headers()["X-Experience-API-Consistent-Through"]
                .to_str()
                .unwrap()
                .to_string();
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
