//! A concurrent write load of batches with known ids, and the checks that follow it:
//! every acknowledged Statement stored once, every batch all or nothing.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::helpers::MISFILED_ENTRIES;
use crate::server::{client, xapi};

#[derive(Debug, Clone)]
pub struct Outcome {
    pub body: Value,
    pub ids: Vec<Uuid>,
    /// 0 when the request got no response at all.
    pub status: u16,
    pub retry_after: bool,
    pub started: Instant,
    pub elapsed: Duration,
}

pub fn batch(size: usize) -> (Value, Vec<Uuid>) {
    let ids: Vec<Uuid> = (0..size).map(|_| Uuid::new_v4()).collect();
    let body = ids
        .iter()
        .enumerate()
        .map(|(n, id)| {
            json!({
                "id": id,
                "actor": {"mbox": format!("mailto:learner{}@example.com", n % 7)},
                "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
                "object": {"id": format!("http://example.com/activities/{}", n % 11),
                           "definition": {"name": {"en-US": "load"}}},
                "context": {"contextActivities": {"parent": [{"id": "http://example.com/course"}]}},
            })
        })
        .collect();
    (body, ids)
}

pub async fn send(http: &reqwest::Client, port: u16, body: &Value, ids: &[Uuid]) -> Outcome {
    let started = Instant::now();
    let response = xapi(http, port, Method::POST, "/xapi/statements")
        .json(body)
        .send()
        .await;
    let (status, retry_after) = match response {
        Ok(r) => {
            let retry = r.headers().contains_key("retry-after");
            let status = r.status().as_u16();
            let _ = r.bytes().await;
            (status, retry)
        }
        Err(_) => (0, false),
    };
    Outcome {
        body: body.clone(),
        ids: ids.to_vec(),
        status,
        retry_after,
        started,
        elapsed: started.elapsed(),
    }
}

pub struct Load {
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<Vec<Outcome>>>,
}

/// `workers` clients posting batches of `size` to every port in turn until stopped.
pub fn start(ports: &[u16], workers: usize, size: usize) -> Load {
    let stop = Arc::new(AtomicBool::new(false));
    let workers = (0..workers)
        .map(|w| {
            let stop = stop.clone();
            let ports = ports.to_vec();
            tokio::spawn(async move {
                let http = client();
                let mut outcomes = Vec::new();
                let mut n = w;
                while !stop.load(Ordering::Relaxed) {
                    let (body, ids) = batch(size);
                    let port = ports[n % ports.len()];
                    n += 1;
                    let outcome = send(&http, port, &body, &ids).await;
                    if outcome.status != 200 {
                        // A client backing off a little, as Retry-After asks.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    outcomes.push(outcome);
                }
                outcomes
            })
        })
        .collect();
    Load { stop, workers }
}

impl Load {
    pub async fn finish(self) -> Vec<Outcome> {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = Vec::new();
        for worker in self.workers {
            all.extend(worker.await.unwrap());
        }
        all
    }
}

#[derive(Debug, Default)]
pub struct Tally {
    pub requests: usize,
    pub acknowledged: usize,
    pub acknowledged_found: usize,
    pub failed_batches: usize,
    pub failed_but_stored: usize,
}

/// Checks the database against the outcomes: acknowledged Statements present exactly
/// once, other batches entirely present or entirely absent, index rows only for
/// stored Statements and every stored Statement indexed.
pub async fn verify(db: &tokio_postgres::Client, outcomes: &[Outcome]) -> Tally {
    let rows = db
        .query("SELECT id, count(*) FROM statements GROUP BY id", &[])
        .await
        .unwrap();
    let stored: HashMap<Uuid, i64> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let mut tally = Tally {
        requests: outcomes.len(),
        ..Tally::default()
    };
    for outcome in outcomes {
        let present = outcome
            .ids
            .iter()
            .filter(|id| stored.contains_key(id))
            .count();
        for id in &outcome.ids {
            assert!(
                stored.get(id).copied().unwrap_or(0) <= 1,
                "{id} stored twice"
            );
        }
        if outcome.status == 200 {
            tally.acknowledged += outcome.ids.len();
            tally.acknowledged_found += present;
            assert_eq!(
                present,
                outcome.ids.len(),
                "an acknowledged batch is missing Statements"
            );
        } else {
            tally.failed_batches += 1;
            assert!(
                present == 0 || present == outcome.ids.len(),
                "a failed batch ({}) is partly stored: {present} of {}",
                outcome.status,
                outcome.ids.len()
            );
            if present > 0 {
                tally.failed_but_stored += 1;
            }
        }
    }
    let misfiled: i64 = db.query_one(MISFILED_ENTRIES, &[]).await.unwrap().get(0);
    assert_eq!(
        misfiled, 0,
        "term entries that are not those of the stored statements' `terms`"
    );
    tally
}
