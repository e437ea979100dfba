//! The concierge's lists: goals idle for some weeks, the colleagues who share a
//! learner's or a goal's sources, and directed courses started and not finished.

use serde_json::{json, Value};

use super::{csv_of, fixture, get, json_of, text, C1, C3, G1, G2, G5, PERIOD};
use crate::helpers::error_of;

#[tokio::test]
async fn stale_goals_are_idle_unachieved_and_listed_by_name() {
    let app = fixture().await;
    // Idle since Monday 9 March: bob's G2 (nothing linked) and lou's G5. ada linked a
    // read on 12 March, dee achieved G3, cy opted out.
    let body = json_of(
        &app,
        &format!("/reports/concierge/stale-goals?{PERIOD}&weeks=1"),
    )
    .await;
    assert_eq!(
        body["staleGoals"],
        json!([
            {"learner": "mbox:mailto:bob@example.org", "name": "Bob", "team": "Design",
             "goal": G2, "goalName": "Goal of bob", "documented": "2026-03-02",
             "lastActivity": null},
            // Lab is too small to show.
            {"learner": "mbox:mailto:lou@example.org", "name": "Lou", "team": null,
             "goal": G5, "goalName": "Goal of lou", "documented": "2026-03-03",
             "lastActivity": null},
        ])
    );
    let goals = json_of(&app, &format!("/reports/goals?{PERIOD}&weeks=1")).await;
    assert_eq!(goals["staleGoals"], body["staleGoals"]);
    let csv = csv_of(
        &app,
        &format!("/reports/concierge/stale-goals?{PERIOD}&weeks=1"),
        "learner,name,team,goal,goal_name,documented,last_activity",
    )
    .await;
    let from_json: Vec<Vec<String>> = body["staleGoals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            [
                "learner",
                "name",
                "team",
                "goal",
                "goalName",
                "documented",
                "lastActivity",
            ]
            .iter()
            .map(|k| text(&g[*k]))
            .collect()
        })
        .collect();
    assert_eq!(csv, from_json);

    // Ending on 11 March, ada's G1 was last linked on 3 March: stale for one week,
    // with its last linked day; not for two.
    let earlier = json_of(
        &app,
        "/reports/concierge/stale-goals?since=2026-03-02&until=2026-03-11&weeks=1",
    )
    .await;
    let stale: Vec<(&str, &Value)> = earlier["staleGoals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["goal"].as_str().unwrap(), &g["lastActivity"]))
        .collect();
    assert_eq!(
        stale,
        [
            (G2, &Value::Null),
            (G1, &json!("2026-03-03")),
            (G5, &Value::Null)
        ]
    );
    let two = json_of(
        &app,
        "/reports/concierge/stale-goals?since=2026-03-02&until=2026-03-11&weeks=2",
    )
    .await;
    assert_eq!(two["staleGoals"], json!([]));
}

#[tokio::test]
async fn colleagues_of_a_learner_and_of_a_goal() {
    let app = fixture().await;
    // ada's own sources: hosts people.example.org (G1) and web.example.org; Activities
    // G1, x, y, w. bob and lou read and shared y (2 Statements), dee read x (1); all
    // three were on both hosts.
    let body = json_of(
        &app,
        &format!("/reports/concierge/colleagues?{PERIOD}&learner=mailto:ada@example.org"),
    )
    .await;
    assert_eq!(body["learner"], "mbox:mailto:ada@example.org");
    assert_eq!(
        body["colleagues"],
        json!([
            {"learner": "mbox:mailto:bob@example.org", "name": "Bob", "team": "Design",
             "commonSources": 3,
             "common": ["https://web.example.org/y", "people.example.org", "web.example.org"],
             "shares": 1},
            {"learner": "mbox:mailto:lou@example.org", "name": "Lou", "team": null,
             "commonSources": 3,
             "common": ["https://web.example.org/y", "people.example.org", "web.example.org"],
             "shares": 1},
            {"learner": "mbox:mailto:dee@example.org", "name": "Dee", "team": "Ops",
             "commonSources": 3,
             "common": ["https://web.example.org/x", "people.example.org", "web.example.org"],
             "shares": 0},
        ])
    );
    let csv = csv_of(
        &app,
        &format!("/reports/concierge/colleagues?{PERIOD}&learner=mailto:ada@example.org"),
        "rank,learner,name,team,common_sources,common_1,common_2,common_3,shares",
    )
    .await;
    let from_json: Vec<Vec<String>> = body["colleagues"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut line = vec![
                (i + 1).to_string(),
                text(&c["learner"]),
                text(&c["name"]),
                text(&c["team"]),
                text(&c["commonSources"]),
            ];
            line.extend((0..3).map(|k| text(&c["common"][k])));
            line.push(text(&c["shares"]));
            line
        })
        .collect();
    assert_eq!(csv, from_json);
    let top = json_of(
        &app,
        &format!("/reports/concierge/colleagues?{PERIOD}&learner=mailto:ada@example.org&top=1"),
    )
    .await;
    assert_eq!(top["colleagues"][0], body["colleagues"][0]);
    assert_eq!(top["colleagues"].as_array().unwrap().len(), 1);

    // G1: ada linked x and w to it; dee read x. The goal itself first.
    let goal = json_of(
        &app,
        &format!("/reports/concierge/colleagues?{PERIOD}&goal={G1}"),
    )
    .await;
    assert_eq!(goal["goal"], G1);
    assert_eq!(
        goal["colleagues"],
        json!([
            {"learner": "mbox:mailto:ada@example.org", "name": "Ada", "team": "Design",
             "commonSources": 3,
             "common": [G1, "https://web.example.org/x", "https://web.example.org/w"],
             "shares": 2},
            {"learner": "mbox:mailto:dee@example.org", "name": "Dee", "team": "Ops",
             "commonSources": 1, "common": ["https://web.example.org/x"], "shares": 0},
        ])
    );

    // An opted-out learner's colleagues are not computed; an unknown one has none.
    let (status, _, message) = error_of(
        get(
            &app,
            &format!("/reports/concierge/colleagues?{PERIOD}&learner=mailto:cy@example.org"),
        )
        .await,
    )
    .await;
    assert_eq!(status, 403);
    assert!(message.contains("opted out"), "{message}");
    let nobody = json_of(
        &app,
        &format!("/reports/concierge/colleagues?{PERIOD}&learner=mailto:nobody@example.org"),
    )
    .await;
    assert_eq!(nobody["colleagues"], json!([]));
}

#[tokio::test]
async fn unfinished_directed_courses() {
    let app = fixture().await;
    // bob and lou started a course and did not complete it; dee completed hers; cy
    // opted out.
    let body = json_of(&app, &format!("/reports/concierge/unfinished?{PERIOD}")).await;
    assert_eq!(
        body["unfinished"],
        json!([
            {"learner": "mbox:mailto:bob@example.org", "name": "Bob", "team": "Design",
             "course": C1, "courseName": "Course c1", "started": "2026-03-05",
             "lastActivity": "2026-03-05"},
            {"learner": "mbox:mailto:lou@example.org", "name": "Lou", "team": null,
             "course": C3, "courseName": "Course c3", "started": "2026-03-06",
             "lastActivity": "2026-03-06"},
        ])
    );
    let csv = csv_of(
        &app,
        &format!("/reports/concierge/unfinished?{PERIOD}"),
        "learner,name,team,course,course_name,started,last_activity",
    )
    .await;
    let from_json: Vec<Vec<String>> = body["unfinished"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            [
                "learner",
                "name",
                "team",
                "course",
                "courseName",
                "started",
                "lastActivity",
            ]
            .iter()
            .map(|k| text(&u[*k]))
            .collect()
        })
        .collect();
    assert_eq!(csv, from_json);
    assert_eq!(
        (&body["limit"], &body["more"]),
        (&json!(1000), &json!(false))
    );
    // A limit lists the longest idle first and says there are more, in JSON and CSV.
    let first = json_of(
        &app,
        &format!("/reports/concierge/unfinished?limit=1&{PERIOD}"),
    )
    .await;
    assert_eq!(first["unfinished"], json!([body["unfinished"][0]]));
    assert_eq!(first["more"], json!(true));
    let first_csv = csv_of(
        &app,
        &format!("/reports/concierge/unfinished?limit=1&{PERIOD}"),
        "learner,name,team,course,course_name,started,last_activity",
    )
    .await;
    assert_eq!(first_csv, from_json[..1]);
    // A period with no activity in the courses lists none.
    let later = json_of(
        &app,
        "/reports/concierge/unfinished?since=2026-03-09&until=2026-03-15",
    )
    .await;
    assert_eq!(later["unfinished"], json!([]));
}
