//! Reads on a streaming replica (`--replica-url`): served there while it has replayed
//! what they need, on the primary otherwise, never an error for losing it; the
//! Statement resource's promises (`more`, `X-Experience-API-Consistent-Through`, a
//! Statement readable by id once acknowledged) kept while replay is paused; reports
//! saying how fresh they are; and the replica's state in `/health` and `/metrics`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::cluster::{Replicated, DATABASE};
use crate::helpers::{metric_sample, spawn_app_on, TestApp};

/// Bound of every wait for the replica or the server to reach a state.
const PATIENCE: Duration = Duration::from_secs(60);

/// The server in-process, its database the primary, the standby its one replica.
async fn serve(clusters: &Replicated, max_lag: Duration) -> TestApp {
    spawn_app_on(clusters.primary.url(DATABASE), |settings| {
        settings.replicas.urls = vec![clusters.standby.url(DATABASE)];
        settings.replicas.max_lag = max_lag;
    })
    .await
}

/// `host:port/dbname`, as `/health` and `/metrics` name the standby.
fn replica_label(clusters: &Replicated) -> String {
    format!("{}/{DATABASE}", clusters.standby.host_port())
}

async fn health(app: &TestApp) -> (u16, Value) {
    let response = app.http.get(app.url("/health")).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// Polls `/health` until the replica is in `state`; every answer must be 200, since
/// only the primary decides that.
async fn until_replica(app: &TestApp, state: &str) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (status, body) = health(app).await;
        assert_eq!(status, 200, "/health: {body}");
        if body["replicas"][0]["state"] == state {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "the replica never became '{state}': {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Reads served so far by the primary and by a replica.
async fn reads(app: &TestApp) -> (f64, f64) {
    let text = app.metrics_text().await;
    (
        metric_sample(
            &text,
            r#"commonplace_database_reads_total{target="primary"}"#,
        ),
        metric_sample(
            &text,
            r#"commonplace_database_reads_total{target="replica"}"#,
        ),
    )
}

fn statement(id: Uuid, learner: &str) -> Value {
    json!({
        "id": id,
        "actor": {"mbox": format!("mailto:{learner}@example.org")},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
        "object": {"id": "http://example.org/activities/replicated",
                   "definition": {"name": {"en-US": "replicated"}}},
    })
}

/// POSTs Statements with these ids; their acknowledgement.
async fn post(app: &TestApp, ids: &[Uuid]) {
    let body: Vec<Value> = ids.iter().map(|id| statement(*id, "ada")).collect();
    let response = app
        .xapi(Method::POST, "/xapi/statements")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

/// A GET that must answer 200: its headers and body.
async fn get_ok(request: reqwest::RequestBuilder) -> (HeaderMap, String) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    (headers, body)
}

/// One of each kind of read: a Statement query and one by id, a State document, an
/// Activity, an Agent and a report; each must answer 200 with what was written.
async fn read_everything(app: &TestApp, id: Uuid) {
    let (_, page) = get_ok(app.xapi(Method::GET, "/xapi/statements?limit=500")).await;
    assert!(page.contains(&id.to_string()), "{page}");
    let (_, one) =
        get_ok(app.xapi(Method::GET, &format!("/xapi/statements?statementId={id}"))).await;
    assert!(one.contains(&id.to_string()), "{one}");
    let (_, document) = get_ok(app.xapi(Method::GET, &state_path())).await;
    assert_eq!(document, r#"{"page":7}"#);
    let (_, activity) = get_ok(app.xapi(
        Method::GET,
        "/xapi/activities?activityId=http%3A%2F%2Fexample.org%2Factivities%2Freplicated",
    ))
    .await;
    assert!(activity.contains("replicated"), "{activity}");
    let (_, person) = get_ok(app.xapi(
        Method::GET,
        "/xapi/agents?agent=%7B%22mbox%22%3A%22mailto%3Aada%40example.org%22%7D",
    ))
    .await;
    assert!(person.contains("mailto:ada@example.org"), "{person}");
    let (headers, report) = get_ok(app.report("/reports/modes")).await;
    assert!(headers.contains_key("commonplace-replayed-through"));
    assert!(report.contains("replayedThrough"), "{report}");
}

fn state_path() -> String {
    "/xapi/activities/state?activityId=http%3A%2F%2Fexample.org%2Factivities%2Freplicated\
     &agent=%7B%22mbox%22%3A%22mailto%3Aada%40example.org%22%7D&stateId=bookmark"
        .to_string()
}

async fn put_state(app: &TestApp, content: &str) {
    let response = app
        .xapi(Method::PUT, &state_path())
        .header("content-type", "application/json")
        .header("if-match", "*")
        .body(content.to_string())
        .send()
        .await
        .unwrap();
    let response = if response.status() == 412 {
        // Not there yet: create it.
        app.xapi(Method::PUT, &state_path())
            .header("content-type", "application/json")
            .body(content.to_string())
            .send()
            .await
            .unwrap()
    } else {
        response
    };
    assert_eq!(response.status(), 204);
}

/// Reads everything until one round is served by the replica alone (the replica may
/// need a moment to replay the last write; it must get there).
async fn until_replica_serves_everything(app: &TestApp, clusters: &Replicated, id: Uuid) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        clusters.wait_replayed().await;
        let (primary, replica) = reads(app).await;
        read_everything(app, id).await;
        let (primary_after, replica_after) = reads(app).await;
        if primary_after == primary && replica_after >= replica + 6.0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "reads never all went to the replica: primary {primary} -> {primary_after}, \
             replica {replica} -> {replica_after}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_go_to_the_replica_fall_back_while_it_is_stopped_and_return_when_it_is_back() {
    let mut clusters = Replicated::start().await;
    let app = serve(&clusters, Duration::from_secs(10)).await;
    let label = replica_label(&clusters);
    let body = until_replica(&app, "in rotation").await;
    assert_eq!(body["replicas"][0]["replica"], label.as_str());
    assert!(body["replicas"][0]["lag_seconds"].as_f64().unwrap() < 10.0);
    assert!(!body.to_string().contains("password"));

    let id = Uuid::new_v4();
    post(&app, &[id]).await;
    put_state(&app, r#"{"page":7}"#).await;
    until_replica_serves_everything(&app, &clusters, id).await;
    let metrics = app.metrics_text().await;
    let in_rotation = format!(r#"commonplace_replica_in_rotation{{replica="{label}"}}"#);
    assert_eq!(metric_sample(&metrics, &in_rotation), 1.0, "{metrics}");
    assert!(
        metrics.contains(&format!(
            r#"commonplace_replica_lag_seconds{{replica="{label}"}}"#
        )),
        "{metrics}"
    );

    // Stopped: every read still answers 200, from the primary, before and after the
    // checker notices.
    clusters.standby.stop();
    let (primary_before, _) = reads(&app).await;
    read_everything(&app, id).await;
    let body = until_replica(&app, "down").await;
    assert!(body["replicas"][0]["lag_seconds"].is_null(), "{body}");
    assert_eq!(body["status"], "ok");
    let (primary, replica) = reads(&app).await;
    read_everything(&app, id).await;
    assert_eq!(reads(&app).await, (primary + 6.0, replica));
    assert!(primary > primary_before);
    let metrics = app.metrics_text().await;
    assert_eq!(metric_sample(&metrics, &in_rotation), 0.0, "{metrics}");
    assert!(
        !metrics.contains("commonplace_replica_lag_seconds{"),
        "a down replica has no lag: {metrics}"
    );

    // Back: in rotation again, and serving.
    clusters.standby.start().await;
    until_replica(&app, "in rotation").await;
    until_replica_serves_everything(&app, &clusters, id).await;
}

/// A client polling with `since` = the last consistency time it was given, counting
/// how often it saw each Statement.
#[derive(Default)]
struct Poller {
    seen: HashMap<String, usize>,
    since: Option<String>,
}

impl Poller {
    /// Follows `more` from `since` to the end.
    async fn round(&mut self, app: &TestApp) {
        let mut path = "/xapi/statements?ascending=true&limit=20".to_string();
        if let Some(since) = &self.since {
            path.push_str(&format!("&since={}", since.replace('+', "%2B")));
        }
        loop {
            let response = app.xapi(Method::GET, &path).send().await.unwrap();
            assert_eq!(response.status(), 200);
            let through = response.headers()["x-experience-api-consistent-through"]
                .to_str()
                .unwrap()
                .to_string();
            let page: Value = response.json().await.unwrap();
            for s in page["statements"].as_array().unwrap() {
                *self
                    .seen
                    .entry(s["id"].as_str().unwrap().to_string())
                    .or_default() += 1;
            }
            match page["more"].as_str() {
                Some(more) if !more.is_empty() => path = more.to_string(),
                _ => {
                    self.since = Some(through);
                    return;
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_replay_is_paused_a_poller_misses_nothing_and_a_statement_is_readable_at_once() {
    let clusters = Replicated::start().await;
    let app = serve(&clusters, Duration::from_secs(30)).await;
    until_replica(&app, "in rotation").await;

    // Writers run throughout; the poller keeps `since` = the last consistency time.
    let acknowledged: Arc<Mutex<Vec<Uuid>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let (app, acknowledged, stop) = (app.clone(), acknowledged.clone(), stop.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    n = n % 3 + 1;
                    let ids: Vec<Uuid> = (0..n).map(|_| Uuid::new_v4()).collect();
                    post(&app, &ids).await;
                    acknowledged.lock().unwrap().extend(ids);
                    // A steady load, not a flood the poller could never drain.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        })
        .collect();
    let mut poller = Poller::default();
    until_replica_serves_the_poller(&app, &clusters, &mut poller).await;

    clusters.standby.pause_replay().await;
    let (primary_at_pause, _) = reads(&app).await;
    for _ in 0..5 {
        poller.round(&app).await;
    }
    // Acknowledged means readable by id, whatever the replica has replayed.
    let id = Uuid::new_v4();
    post(&app, &[id]).await;
    let (_, one) =
        get_ok(app.xapi(Method::GET, &format!("/xapi/statements?statementId={id}"))).await;
    assert_eq!(
        serde_json::from_str::<Value>(&one).unwrap()["id"],
        id.to_string()
    );
    acknowledged.lock().unwrap().push(id);
    // So is a voiding (the voided Statement is gone by id at once), and a document just
    // written is read back.
    let voided = Uuid::new_v4();
    post(&app, &[voided]).await;
    let voiding = Uuid::new_v4();
    let response = app
        .xapi(Method::POST, "/xapi/statements")
        .json(&json!({
            "id": voiding,
            "actor": {"mbox": "mailto:ada@example.org"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
            "object": {"objectType": "StatementRef", "id": voided},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    acknowledged.lock().unwrap().push(voiding);
    let response = app
        .xapi(
            Method::GET,
            &format!("/xapi/statements?statementId={voided}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404, "a voided Statement read by id");
    put_state(&app, r#"{"page":8}"#).await;
    let (_, document) = get_ok(app.xapi(Method::GET, &state_path())).await;
    assert_eq!(document, r#"{"page":8}"#);
    let (primary_paused, _) = reads(&app).await;
    assert!(
        primary_paused > primary_at_pause,
        "a paused replica must leave the reads to the primary"
    );

    clusters.standby.resume_replay().await;
    for _ in 0..3 {
        poller.round(&app).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for writer in writers {
        writer.await.unwrap();
    }
    let acknowledged: HashSet<String> = acknowledged
        .lock()
        .unwrap()
        .iter()
        .map(|id| id.to_string())
        .collect();
    let deadline = Instant::now() + PATIENCE;
    while !acknowledged.iter().all(|id| poller.seen.contains_key(id)) {
        assert!(
            Instant::now() < deadline,
            "acknowledged Statements never seen by the poller"
        );
        clusters.wait_replayed().await;
        poller.round(&app).await;
    }
    until_replica_serves_the_poller(&app, &clusters, &mut poller).await;
    let twice: Vec<_> = poller.seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "seen more than once: {twice:?}");
    assert_eq!(poller.seen.len(), acknowledged.len());
}

/// Polls until a round has been served (at least in part) by the replica.
async fn until_replica_serves_the_poller(
    app: &TestApp,
    clusters: &Replicated,
    poller: &mut Poller,
) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (_, before) = reads(app).await;
        poller.round(app).await;
        if reads(app).await.1 > before {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the replica never served the poller"
        );
        clusters.wait_replayed().await;
    }
}

/// The Statements a `/reports/modes` answer counts, and how fresh it says it is.
async fn modes_report(app: &TestApp) -> (i64, DateTime<Utc>) {
    let (headers, body) = get_ok(app.report("/reports/modes")).await;
    let report: Value = serde_json::from_str(&body).unwrap();
    let counted = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["statements"].as_i64().unwrap())
        .sum();
    let through = report["replayedThrough"].as_str().unwrap();
    assert_eq!(headers["commonplace-replayed-through"], through);
    (counted, through.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_from_a_replica_behind_says_how_fresh_it_is_and_a_lagging_replica_leaves_rotation()
{
    let clusters = Replicated::start().await;
    // Two servers on the same databases: one tolerates a minute of lag, one a second.
    let lenient = serve(&clusters, Duration::from_secs(60)).await;
    let strict = serve(&clusters, Duration::from_secs(1)).await;
    until_replica(&lenient, "in rotation").await;
    until_replica(&strict, "in rotation").await;

    post(&lenient, &[Uuid::new_v4()]).await;
    let (counted, _) = modes_report(&lenient).await;
    assert_eq!(counted, 1);
    clusters.wait_replayed().await;
    clusters.standby.pause_replay().await;

    post(&lenient, &[Uuid::new_v4()]).await;
    let acknowledged = Utc::now();
    let (_, replica_before) = reads(&lenient).await;
    let (counted, through) = modes_report(&lenient).await;
    assert_eq!(
        reads(&lenient).await.1,
        replica_before + 1.0,
        "a replica within the bound answers reports"
    );
    assert_eq!(
        counted, 1,
        "the replica has not replayed the second Statement"
    );
    assert!(
        through < acknowledged,
        "the report claims {through}, after the second Statement ({acknowledged}) it lacks"
    );

    let body = until_replica(&strict, "lagging").await;
    assert!(
        body["replicas"][0]["lag_seconds"].as_f64().unwrap() > 1.0,
        "{body}"
    );
    let metrics = strict.metrics_text().await;
    let lag = metric_sample(
        &metrics,
        &format!(
            r#"commonplace_replica_lag_seconds{{replica="{}"}}"#,
            replica_label(&clusters)
        ),
    );
    assert!(lag > 1.0, "{metrics}");
    let (primary_before, _) = reads(&strict).await;
    let asked = Utc::now();
    let (counted, through) = modes_report(&strict).await;
    assert_eq!(counted, 2, "the primary has both");
    assert!(
        through >= asked,
        "the primary answered at {through}, asked at {asked}"
    );
    assert_eq!(reads(&strict).await.0, primary_before + 1.0);

    clusters.standby.resume_replay().await;
    until_replica(&strict, "in rotation").await;
    clusters.wait_replayed().await;
    let (counted, through) = modes_report(&lenient).await;
    assert_eq!(counted, 2);
    assert!(through >= acknowledged);
}
