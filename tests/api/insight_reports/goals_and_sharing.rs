//! Per team, who documented goals and the self-directed time linked to them; per team
//! and week, the finds shared, and the most shared items.

use serde_json::json;

use super::{csv_of, fixture, json_of, text, PERIOD};

#[tokio::test]
async fn goal_figures_per_team_and_their_csv() {
    let app = fixture().await;
    let body = json_of(&app, &format!("/reports/goals?{PERIOD}")).await;
    assert_eq!(body["minTeamSize"], 2);
    assert_eq!(
        body["teams"],
        json!([
            // ada: x 300 (G1), y 600, w 240 (G1); bob: y 120. Shares carry no time.
            {"team": "Design", "learners": 2, "goalSetters": 2, "goals": 2,
             "selfDirectedSeconds": 1260.0, "goalLinkedSeconds": 540.0},
            // cy (opted out, still counted): z 60; dee: x 60. dee's G3 counts once.
            {"team": "Ops", "learners": 2, "goalSetters": 2, "goals": 2,
             "selfDirectedSeconds": 120.0, "goalLinkedSeconds": 0.0},
        ])
    );
    // Nothing is four weeks idle at the period's end.
    assert_eq!(body["weeks"], 4);
    assert_eq!(body["staleGoals"], json!([]));
    let csv = csv_of(
        &app,
        &format!("/reports/goals?{PERIOD}"),
        "team,learners,goal_setters,goals,self_directed_seconds,goal_linked_seconds",
    )
    .await;
    let from_json: Vec<Vec<String>> = body["teams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            [
                "team",
                "learners",
                "goalSetters",
                "goals",
                "selfDirectedSeconds",
                "goalLinkedSeconds",
            ]
            .iter()
            .map(|k| text(&t[*k]).trim_end_matches(".0").to_string())
            .collect()
        })
        .collect();
    assert_eq!(csv, from_json);

    // In the first week only: ada's first linked read, and dee's goal not yet counted
    // for a period before it was set.
    let first = json_of(&app, "/reports/goals?since=2026-03-02&until=2026-03-08").await;
    assert_eq!(first["teams"][0]["goalLinkedSeconds"], 300.0);
    assert_eq!(first["teams"][0]["selfDirectedSeconds"], 1020.0);
    let before = json_of(&app, "/reports/goals?since=2026-02-23&until=2026-03-02").await;
    assert_eq!(before["teams"][0]["goalSetters"], 2);
    assert_eq!(before["teams"][0]["goalLinkedSeconds"], 0.0);
}

#[tokio::test]
async fn shares_per_team_and_week_and_the_most_shared_items() {
    let app = fixture().await;
    let body = json_of(&app, &format!("/reports/sharing?{PERIOD}")).await;
    assert_eq!(
        body["weeks"],
        json!([
            {"week": "2026-03-02", "team": "Design", "shares": 2, "sharers": 2},
            {"week": "2026-03-02", "team": "Ops", "shares": 0, "sharers": 0},
            // bob's share of x was voided.
            {"week": "2026-03-09", "team": "Design", "shares": 1, "sharers": 1},
            {"week": "2026-03-09", "team": "Ops", "shares": 0, "sharers": 0},
        ])
    );
    // lou's share counts here: an item is not a team. Both share verbs count.
    assert_eq!(
        body["topShared"],
        json!([
            {"activity": "https://web.example.org/y", "name": "Page y", "shares": 3, "sharers": 3},
            {"activity": "https://web.example.org/x", "name": "Page x", "shares": 1, "sharers": 1},
        ])
    );
    let top = json_of(&app, &format!("/reports/sharing?{PERIOD}&top=1")).await;
    assert_eq!(top["topShared"].as_array().unwrap().len(), 1);
    let csv = csv_of(
        &app,
        &format!("/reports/sharing?{PERIOD}"),
        "kind,week,team,activity,name,shares,sharers",
    )
    .await;
    let mut from_json: Vec<Vec<String>> = body["weeks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            vec![
                "week".to_string(),
                text(&w["week"]),
                text(&w["team"]),
                String::new(),
                String::new(),
                text(&w["shares"]),
                text(&w["sharers"]),
            ]
        })
        .collect();
    from_json.extend(body["topShared"].as_array().unwrap().iter().map(|i| {
        vec![
            "item".to_string(),
            String::new(),
            String::new(),
            text(&i["activity"]),
            text(&i["name"]),
            text(&i["shares"]),
            text(&i["sharers"]),
        ]
    }));
    assert_eq!(csv, from_json);
}
