//! Report figures against values worked out by hand on a small fixture.

use commonplace::auth::NewSecret;
use commonplace::store::modes::store_by_name;
use commonplace::store::reports::replace_roster;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{error_of, spawn_app_with, TestApp};

fn statement(learner: &str, object: &str, day: &str, duration: Option<&str>) -> Value {
    let mut s = json!({
        "actor": {"mbox": format!("mailto:{learner}@example.org")},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
        "object": {"id": object},
        "timestamp": format!("{day}T10:00:00Z")
    });
    if let Some(d) = duration {
        s["result"] = json!({"duration": d});
    }
    s
}

async fn post(app: &TestApp, who: &NewSecret, body: Value) -> Vec<String> {
    let response = app
        .xapi_as(who, Method::POST, "/xapi/statements")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// ada and bob are in Design, cy in Ops (and opted out); weeks start Monday 2 and 9
/// March 2026.
async fn fixture() -> TestApp {
    let app = spawn_app_with(|s| s.min_team_size = 2).await;
    let lms = app.tagged_writer("lms", &[("source", "lms")]).await;
    let browser = app.tagged_writer("browser", &[("source", "browser")]).await;
    let lesson = |n: u8| format!("https://lms.example.org/a/lesson/{n}");
    post(
        &app,
        &lms,
        json!([
            statement("ada", &lesson(1), "2026-03-02", Some("PT10M")),
            statement("ada", &lesson(2), "2026-03-03", Some("PT20M")),
            statement("cy", &lesson(1), "2026-03-04", Some("PT5M")),
        ]),
    )
    .await;
    let voided = post(
        &app,
        &browser,
        json!([
            statement("ada", "https://web.example.org/x", "2026-03-03", None),
            statement(
                "bob",
                "https://web.example.org/x",
                "2026-03-04",
                Some("PT1M30S")
            ),
            statement("bob", "https://web.example.org/y", "2026-03-10", None),
            statement(
                "bob",
                "https://web.example.org/z",
                "2026-03-04",
                Some("PT1H")
            ),
        ]),
    )
    .await[3]
        .clone();
    let voiding = json!({
        "actor": {"mbox": "mailto:admin@example.org"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
        "object": {"objectType": "StatementRef", "id": voided}
    });
    let response = app
        .xapi(Method::POST, "/xapi/statements")
        .json(&voiding)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // The feed folds everything in before the roster arrives: the import regroups.
    assert!(!rows(&app, "group=team").await.is_empty());
    let (store_id, _) = store_by_name(&app.pool, "default").await.unwrap().unwrap();
    let roster = commonplace::roster::parse(
        "learner,name,team,manager,opt_out\n\
         mailto:ada@example.org,Ada,Design,Grace,\n\
         mailto:bob@example.org,Bob,Design,Grace,\n\
         mailto:cy@example.org,Cy,Ops,Grace,yes\n",
    )
    .unwrap();
    replace_roster(&app.pool, store_id, &roster).await.unwrap();
    app
}

async fn rows(app: &TestApp, query: &str) -> Vec<Value> {
    rows_over(app, "since=2026-03-01&until=2026-03-15", query).await
}

async fn rows_over(app: &TestApp, period: &str, query: &str) -> Vec<Value> {
    let response = app
        .report(&format!("/reports/modes?{period}&{query}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["rows"].as_array().unwrap().clone()
}

fn brief(row: &Value) -> (String, String, String, i64, i64, i64, f64, f64) {
    (
        row["bucket"].as_str().unwrap().to_string(),
        row["group"].as_str().unwrap().to_string(),
        row["mode"].as_str().unwrap().to_string(),
        row["statements"].as_i64().unwrap(),
        row["activeLearners"].as_i64().unwrap(),
        row["distinctActivities"].as_i64().unwrap(),
        row["reportedSeconds"].as_f64().unwrap(),
        row["durationShare"].as_f64().unwrap(),
    )
}

fn expect(
    bucket: &str,
    group: &str,
    mode: &str,
    figures: (i64, i64, i64, f64, f64),
) -> (String, String, String, i64, i64, i64, f64, f64) {
    let (s, l, a, secs, share) = figures;
    (
        bucket.into(),
        group.into(),
        mode.into(),
        s,
        l,
        a,
        secs,
        share,
    )
}

#[tokio::test]
async fn weekly_store_figures_match_the_hand_count() {
    let app = fixture().await;
    let got: Vec<_> = rows(&app, "bucket=week&group=store")
        .await
        .iter()
        .map(brief)
        .collect();
    assert_eq!(
        got,
        vec![
            // lessons 1 and 2 by ada, lesson 1 by cy: 10 + 20 + 5 minutes, all timed.
            expect("2026-03-02", "default", "directed", (3, 2, 2, 2100.0, 1.0)),
            // x by ada (untimed) and by bob (90 s); bob's voided z does not count.
            expect(
                "2026-03-02",
                "default",
                "self_directed",
                (2, 2, 1, 90.0, 0.5)
            ),
            expect(
                "2026-03-09",
                "default",
                "self_directed",
                (1, 1, 1, 0.0, 0.0)
            ),
        ]
    );
    let monthly = rows(&app, "bucket=month").await;
    assert_eq!(monthly.len(), 2);
    assert_eq!(
        brief(&monthly[1]),
        expect(
            "2026-03-01",
            "default",
            "self_directed",
            (3, 2, 2, 90.0, 1.0 / 3.0)
        )
    );
}

/// A period starting mid-week: its first week is counted from the days inside it,
/// the next (whole) week from the weekly rollup.
#[tokio::test]
async fn a_partial_first_week_counts_only_its_days_in_the_period() {
    let app = fixture().await;
    let weekly = "bucket=week&group=store";
    let got: Vec<_> = rows_over(&app, "since=2026-03-04&until=2026-03-15", weekly)
        .await
        .iter()
        .map(brief)
        .collect();
    assert_eq!(
        got,
        vec![
            // From 4 March: lesson 1 by cy; ada's lessons (2 and 3 March) are before it.
            expect("2026-03-02", "default", "directed", (1, 1, 1, 300.0, 1.0)),
            expect(
                "2026-03-02",
                "default",
                "self_directed",
                (1, 1, 1, 90.0, 1.0)
            ),
            expect(
                "2026-03-09",
                "default",
                "self_directed",
                (1, 1, 1, 0.0, 0.0)
            ),
        ]
    );
    // One Tuesday: only its own day counts, nothing later in its week.
    let got: Vec<_> = rows_over(&app, "since=2026-03-03&until=2026-03-03", weekly)
        .await
        .iter()
        .map(brief)
        .collect();
    assert_eq!(
        got,
        vec![
            expect("2026-03-02", "default", "directed", (1, 1, 1, 1200.0, 1.0)),
            expect(
                "2026-03-02",
                "default",
                "self_directed",
                (1, 1, 1, 0.0, 0.0)
            ),
        ]
    );
}

#[tokio::test]
async fn teams_below_the_minimum_and_opted_out_learners_are_left_out() {
    let app = fixture().await;
    let teams: Vec<_> = rows(&app, "group=team").await.iter().map(brief).collect();
    // Ops has one learner and week 2 of Design only bob: both under the minimum of 2.
    assert_eq!(
        teams,
        vec![
            expect("2026-03-02", "Design", "directed", (2, 1, 2, 1800.0, 1.0)),
            expect(
                "2026-03-02",
                "Design",
                "self_directed",
                (2, 2, 1, 90.0, 0.5)
            ),
        ]
    );
    let learners: Vec<String> = rows(&app, "group=learner")
        .await
        .iter()
        .map(|r| r["group"].as_str().unwrap().to_string())
        .collect();
    assert!(learners.contains(&"mbox:mailto:ada@example.org".to_string()));
    assert!(!learners.iter().any(|l| l.contains("cy@")), "{learners:?}");
}

#[tokio::test]
async fn csv_has_a_header_and_one_line_per_row() {
    let app = fixture().await;
    for (query, accept) in [("format=csv", "application/json"), ("", "text/csv")] {
        let response = app
            .report(&format!(
                "/reports/modes?since=2026-03-01&until=2026-03-15&{query}"
            ))
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv"));
        let text = response.text().await.unwrap();
        let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert_eq!(
            lines[0],
            "bucket,group,mode,statements,active_learners,distinct_activities,reported_seconds,duration_share,estimated_seconds"
        );
        assert_eq!(lines.len(), 4);
        // Every directed statement reported its duration: nothing is estimated.
        assert_eq!(lines[1], "2026-03-02,default,directed,3,2,2,2100,1.0000,0");
        assert!(lines.iter().all(|l| l.split(',').count() == 9));
    }
}

#[tokio::test]
async fn bad_report_parameters_are_400() {
    let app = fixture().await;
    for query in [
        "bucket=year",
        "group=city",
        "since=yesterday",
        "format=xml",
        "since=2026-04-01&until=2026-03-01",
        "colour=red",
    ] {
        let response = app
            .report(&format!("/reports/modes?{query}"))
            .send()
            .await
            .unwrap();
        assert_eq!(error_of(response).await.0, 400, "{query}");
    }
}

#[tokio::test]
async fn reclassifying_moves_the_rollups_with_the_labels() {
    let app = fixture().await;
    let everything_guided = commonplace::modes::Ruleset::parse(
        "[[rule]]\nid = \"all\"\nmode = \"guided\"\nmatch = { registration = false }\n",
        "test",
    )
    .unwrap();
    commonplace::reclassify::run(&app.pool, &everything_guided, None, 2, false)
        .await
        .unwrap();
    let got: Vec<_> = rows(&app, "bucket=month").await.iter().map(brief).collect();
    assert_eq!(
        got,
        vec![expect(
            "2026-03-01",
            "default",
            "guided",
            (6, 3, 4, 2190.0, 4.0 / 6.0)
        )]
    );
}
