//! Kept report answers (`--report-cache-mb`): a report or dashboard page asked again
//! while nothing it reads has changed is answered from memory, the same answer; any
//! change to what it reads (new Statements folded in, a reclassification, a roster
//! import) is in the very next answer.

use serde_json::{json, Value};

use crate::helpers::{metric_sample, post_statements, spawn_app, spawn_app_with, TestApp};

const HIT: &str = "commonplace_report_answers_total{cache=\"hit\"}";
const MISS: &str = "commonplace_report_answers_total{cache=\"miss\"}";

/// Kept and computed answers so far.
async fn answers(app: &TestApp) -> (f64, f64) {
    let text = app.metrics_text().await;
    (metric_sample(&text, HIT), metric_sample(&text, MISS))
}

async fn body(app: &TestApp, path: &str) -> String {
    let response = app.report(path).send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.text().await.unwrap()
}

fn read(learner: &str, page: &str, team: &str) -> Value {
    json!({
        "actor": {"mbox": format!("mailto:{learner}@example.org")},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
        "object": {"id": format!("https://web.example.org/{page}")},
        "context": {"team": {"objectType": "Group", "name": team,
                             "member": [{"mbox": format!("mailto:{learner}@example.org")}]}},
        "timestamp": "2026-03-03T10:00:00Z"
    })
}

const PERIOD: &str = "since=2026-03-01&until=2026-03-31";

fn rows_of(modes: &str) -> Value {
    serde_json::from_str::<Value>(modes).unwrap()["rows"].clone()
}

fn statements_of(modes: &str) -> i64 {
    rows_of(modes)
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["statements"].as_i64().unwrap())
        .sum()
}

#[tokio::test]
async fn a_report_asked_again_is_kept_and_new_statements_are_in_the_next_answer() {
    let app = spawn_app().await;
    post_statements(
        &app,
        &json!([read("ada", "a", "Design"), read("bob", "b", "Design")]),
    )
    .await;
    let modes = format!("/reports/modes?bucket=month&{PERIOD}");

    let first = body(&app, &modes).await;
    assert_eq!(statements_of(&first), 2);
    let before = answers(&app).await;
    let again = body(&app, &modes).await;
    let dashboard = format!("/dashboard?{PERIOD}");
    body(&app, &dashboard).await;
    let page_again = body(&app, &dashboard).await;
    let after = answers(&app).await;
    // The report again is kept (the same figures; `replayedThrough` is the time of
    // each read); the page is computed once, then kept.
    assert_eq!(rows_of(&first), rows_of(&again));
    assert_eq!(after, (before.0 + 2.0, before.1 + 1.0));
    assert!(page_again.contains("Statements per week"));
    // The same path asked for CSV in `Accept` is another answer, not the JSON kept.
    let csv = app
        .report(&modes)
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.starts_with("bucket,group,mode,statements"), "{csv}");

    post_statements(&app, &json!([read("cy", "c", "Design")])).await;
    let changed = body(&app, &modes).await;
    assert_eq!(statements_of(&changed), 3, "{changed}");
    assert_eq!(answers(&app).await.1, after.1 + 2.0);
}

#[tokio::test]
async fn a_reclassification_and_a_roster_import_are_in_the_next_answer() {
    let app = spawn_app_with(|s| s.min_team_size = 1).await;
    post_statements(
        &app,
        &json!([read("ada", "a", "Design"), read("bob", "b", "Ops")]),
    )
    .await;
    let modes = format!("/reports/modes?bucket=month&{PERIOD}");
    let teams = format!("/reports/teams?{PERIOD}");
    let before: Value = serde_json::from_str(&body(&app, &modes).await).unwrap();
    assert!(before["rows"][0]["mode"] != "guided", "{before}");
    let named: Value = serde_json::from_str(&body(&app, &teams).await).unwrap();
    let names = |report: &Value| -> Vec<String> {
        report["teams"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["team"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&named), ["Design", "Ops"]);

    let everything_guided = commonplace::modes::Ruleset::parse(
        "[[rule]]\nid = \"all\"\nmode = \"guided\"\nmatch = { registration = false }\n",
        "test",
    )
    .unwrap();
    commonplace::reclassify::run(&app.pool, &everything_guided, None, 2, false)
        .await
        .unwrap();
    let after: Value = serde_json::from_str(&body(&app, &modes).await).unwrap();
    let modes_now: Vec<&str> = after["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["mode"].as_str().unwrap())
        .collect();
    assert_eq!(modes_now, ["guided"], "{after}");

    // A roster that names the learners and opts bob out, their teams as they were.
    let by_learner = format!("/reports/modes?bucket=month&group=learner&{PERIOD}");
    let learners = |report: &str| -> Vec<String> {
        rows_of(report)
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        learners(&body(&app, &by_learner).await),
        ["mbox:mailto:ada@example.org", "mbox:mailto:bob@example.org"]
    );
    app.import_roster(
        "learner,name,team,manager,opt_out\n\
         mailto:ada@example.org,Ada,Design,Grace,\n\
         mailto:bob@example.org,Bob,Ops,Grace,yes\n",
    )
    .await;
    assert_eq!(learners(&body(&app, &by_learner).await), ["Ada"]);
    let teams_now: Value = serde_json::from_str(&body(&app, &teams).await).unwrap();
    assert_eq!(names(&teams_now), ["Design", "Ops"]);
}
