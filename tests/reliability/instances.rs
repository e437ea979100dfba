//! Three server processes on one database.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::load;
use crate::server::{client, start, xapi, Server};

fn three(url: &str) -> Vec<Server> {
    (0..3)
        .map(|_| start(&["--database-url", url, "--workers", "2"], &[]))
        .collect()
}

fn statement(id: Uuid, score: f64) -> Value {
    json!({
        "id": id,
        "actor": {"mbox": "mailto:racer@example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/scored"},
        "object": {"id": "http://example.com/race"},
        "result": {"score": {"scaled": score}},
    })
}

async fn put_statement(http: &reqwest::Client, port: u16, body: &Value) -> u16 {
    xapi(http, port, Method::PUT, "/xapi/statements")
        .query(&[("statementId", body["id"].as_str().unwrap())])
        .json(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn tally(statuses: &[u16]) -> BTreeMap<u16, usize> {
    statuses.iter().fold(BTreeMap::new(), |mut m, s| {
        *m.entry(*s).or_default() += 1;
        m
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_on_one_database_agree() {
    let url = crate::helpers::fresh_database().await;
    let servers = three(&url);
    let ports: Vec<u16> = servers.iter().map(|s| s.port).collect();
    let http = client();
    let db = crate::helpers::connect(&url).await;
    // A mixed load runs on all three throughout.
    let background = load::start(&ports, 3, 10);

    // Concurrent PUTs of one id with the same content: all 204, one row.
    let same = Uuid::new_v4();
    let body = statement(same, 0.5);
    let statuses = join_all((0..30).map(|n| put_statement(&http, ports[n % 3], &body))).await;
    assert_eq!(tally(&statuses), BTreeMap::from([(204, 30)]));
    let rows: i64 = db
        .query_one("SELECT count(*) FROM statements WHERE id = $1", &[&same])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 1);

    // Different content: one wins, the others 409, and the winner is what is stored.
    let contested = Uuid::new_v4();
    let bodies: Vec<Value> = (0..30)
        .map(|n| statement(contested, n as f64 / 100.0))
        .collect();
    let statuses = join_all(
        bodies
            .iter()
            .enumerate()
            .map(|(n, b)| put_statement(&http, ports[n % 3], b)),
    )
    .await;
    assert_eq!(tally(&statuses), BTreeMap::from([(204, 1), (409, 29)]));
    let winner = &bodies[statuses.iter().position(|s| *s == 204).unwrap()];
    let stored: Value = db
        .query_one("SELECT body FROM statements WHERE id = $1", &[&contested])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored["result"], winner["result"]);

    // Documents: one If-Match, many writers: exactly one 204, the rest 412.
    let doc = [
        ("activityId", "http://example.com/race"),
        ("stateId", "race"),
        ("agent", r#"{"mbox":"mailto:racer@example.com"}"#),
    ];
    let put = |port: u16, etag: Option<String>, content: Value| {
        let mut r = xapi(&http, port, Method::PUT, "/xapi/activities/state").query(&doc);
        if let Some(etag) = etag {
            r = r.header("If-Match", etag);
        }
        async move { r.json(&content).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(put(ports[0], None, json!({"count": 0})).await, 204);
    let etag_of = |port: u16| {
        let r = xapi(&http, port, Method::GET, "/xapi/activities/state").query(&doc);
        async move {
            let response = r.send().await.unwrap();
            let etag = response.headers()["etag"].to_str().unwrap().to_string();
            let body: Value = response.json().await.unwrap();
            (etag, body)
        }
    };
    let (etag, _) = etag_of(ports[1]).await;
    let statuses = join_all((0..30).map(|n| {
        put(
            ports[n % 3],
            Some(etag.clone()),
            json!({"count": 0, "by": n}),
        )
    }))
    .await;
    assert_eq!(tally(&statuses), BTreeMap::from([(204, 1), (412, 29)]));
    let (_, body) = etag_of(ports[2]).await;
    let by = statuses.iter().position(|s| *s == 204).unwrap();
    assert_eq!(body["by"], by);

    // No lost update: six clients increment a counter through If-Match, retrying 412s.
    let increments = 5;
    let workers = (0..6).map(|w| {
        let put = &put;
        let etag_of = &etag_of;
        let ports = &ports;
        async move {
            let port = ports[w % 3];
            let mut done = 0;
            let mut conflicts = 0;
            while done < increments {
                let (etag, body) = etag_of(port).await;
                let count = body["count"].as_i64().unwrap();
                match put(port, Some(etag), json!({"count": count + 1})).await {
                    204 => done += 1,
                    412 => conflicts += 1,
                    other => panic!("unexpected {other}"),
                }
            }
            conflicts
        }
    });
    let conflicts: usize = join_all(workers).await.into_iter().sum();
    let (_, body) = etag_of(ports[0]).await;
    assert_eq!(body["count"], 6 * increments, "an update was lost");
    eprintln!(
        "counter: {} increments, {conflicts} retried after 412",
        6 * increments
    );

    // A `more` link from one instance works on the others.
    let mut page: Value = xapi(&http, ports[0], Method::GET, "/xapi/statements")
        .query(&[
            ("limit", "7"),
            ("verb", "http://adlnet.gov/expapi/verbs/scored"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut seen = HashSet::new();
    let mut hop = 1;
    loop {
        for s in page["statements"].as_array().unwrap() {
            assert!(
                seen.insert(s["id"].as_str().unwrap().to_string()),
                "repeated"
            );
        }
        let more = page["more"].as_str().unwrap();
        if more.is_empty() {
            break;
        }
        page = xapi(&http, ports[hop % 3], Method::GET, more)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        hop += 1;
    }
    assert_eq!(
        seen,
        HashSet::from([same.to_string(), contested.to_string()])
    );

    tokio::time::sleep(Duration::from_millis(500)).await;
    let outcomes = background.finish().await;
    assert!(outcomes.iter().all(|o| o.status == 200), "the mixed load");
    let tally = load::verify(&db, &outcomes).await;
    eprintln!("three instances, background load: {tally:?}");
}
