//! `commonplace demo` posts through the real xAPI API and fills every mode.

use serde_json::Value;

use crate::helpers::spawn_app_with;

#[tokio::test]
async fn a_small_demo_run_populates_every_mode() {
    let app = spawn_app_with(|s| s.min_team_size = 1).await;
    let options = commonplace::demo::DemoOptions {
        endpoint: app.url("/xapi/"),
        key: app.key.clone(),
        secret: app.secret.clone(),
        learners: 16,
        weeks: 3,
        seed: 5,
    };
    let posted = commonplace::demo::run(&options).await.unwrap();
    let client = app.pool.get().await.unwrap();
    let stored: i64 = client
        .query_one("SELECT count(*) FROM statements", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored as usize, posted);
    let body: Value = app
        .http
        .get(app.url("/reports/modes?bucket=month"))
        .basic_auth(&app.key, Some(&app.secret))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut modes: Vec<&str> = body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["mode"].as_str().unwrap())
        .collect();
    modes.sort();
    modes.dedup();
    assert_eq!(
        modes,
        ["directed", "guided", "self_directed", "self_planned"]
    );
    let teams: Value = app
        .http
        .get(app.url("/reports/teams"))
        .basic_auth(&app.key, Some(&app.secret))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // 16 learners in 8 teams, known from `context.team` alone.
    let names: Vec<&str> = teams["teams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["team"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 8, "{names:?}");
    assert!(names.contains(&"Design"), "{names:?}");
}
