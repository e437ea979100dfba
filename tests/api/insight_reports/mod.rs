//! The insight reports of issue 19 against figures worked out by hand from the
//! Statements posted here: goals and sharing per team (`goals_and_sharing`), the
//! concierge's lists of stale goals, colleagues and unfinished courses (`concierge`),
//! and bad parameters refused by name (`refusals`). Events of a learner on one day are
//! more than half an hour apart, so no time is estimated: every second counted is a
//! `result.duration`.

mod concierge;
mod goals_and_sharing;
mod refusals;

use commonplace::auth::NewSecret;
use commonplace::store::modes::store_by_name;
use commonplace::store::reports::replace_roster;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, TestApp};

const G1: &str = "https://people.example.org/ada/goals/1";
const G2: &str = "https://people.example.org/bob/goals/1";
const G3: &str = "https://people.example.org/dee/goals/1";
const G4: &str = "https://people.example.org/cy/goals/1";
const G5: &str = "https://people.example.org/lou/goals/1";
const C1: &str = "https://lms.example.org/c1";
const C2: &str = "https://lms.example.org/c2";
const C3: &str = "https://lms.example.org/c3";
const SHARED: &str = "http://adlnet.gov/expapi/verbs/shared";
const SHARE: &str = "http://activitystrea.ms/schema/1.0/share";
const GOAL_EXTENSION: &str = "https://commonplace.dev/xapi/extensions/goal";

/// Two weeks from Monday 2 March 2026.
const PERIOD: &str = "since=2026-03-02&until=2026-03-15";

fn statement(learner: &str, verb: &str, object: Value, at: &str) -> Value {
    let verb = if verb.starts_with("http") {
        verb.to_string()
    } else {
        format!("http://adlnet.gov/expapi/verbs/{verb}")
    };
    json!({
        "actor": {"mbox": format!("mailto:{learner}@example.org")},
        "verb": {"id": verb},
        "object": object,
        "timestamp": format!("2026-03-{at}:00Z")
    })
}

fn goal(id: &str) -> Value {
    json!({"id": id, "definition": {"type": "https://commonplace.dev/xapi/activity-types/goal",
                                    "name": {"en": format!("Goal of {}", &id[27..30])}}})
}

fn page(path: &str) -> Value {
    json!({"id": format!("https://web.example.org/{path}"),
           "definition": {"name": {"en": format!("Page {path}")}}})
}

/// A read of `page` for `seconds`, linked to `goal` when given.
fn read(learner: &str, path: &str, at: &str, seconds: u32, goal: Option<&str>) -> Value {
    let mut s = statement(learner, "experienced", page(path), at);
    s["result"] = json!({"duration": format!("PT{seconds}S")});
    if let Some(goal) = goal {
        s["context"] = json!({"extensions": {GOAL_EXTENSION: goal}});
    }
    s
}

/// A lesson of `course` for `seconds`, with a registration.
fn lesson(learner: &str, course: &str, at: &str, seconds: u32) -> Value {
    let mut s = statement(
        learner,
        "experienced",
        json!({"id": format!("{course}/l1"),
               "definition": {"type": "http://adlnet.gov/expapi/activities/lesson"}}),
        at,
    );
    s["result"] = json!({"duration": format!("PT{seconds}S")});
    s["context"] = json!({"registration": "00000000-0000-4000-8000-000000000001",
                          "contextActivities": {"grouping": [{"id": course,
                              "definition": {"name": {"en": format!("Course {}", &course[24..])}}}]}});
    s
}

async fn post(app: &TestApp, who: Option<&NewSecret>, body: Value) -> Vec<String> {
    let request = match who {
        Some(who) => app.xapi_as(who, Method::POST, "/xapi/statements"),
        None => app.xapi(Method::POST, "/xapi/statements"),
    };
    let response = request.json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

/// Design: ada, bob. Ops: cy (opted out), dee. Lab: lou alone, under the minimum team
/// size of 2. Goals: ada's G1 (linked reads in both weeks), bob's G2 (nothing linked),
/// dee's G3 (completed), cy's G4 and lou's G5 (nothing linked).
async fn fixture() -> TestApp {
    let app = spawn_app_with(|s| s.min_team_size = 2).await;
    let lms = app.tagged_writer("lms", &[("source", "lms")]).await;
    let browser = app.tagged_writer("browser", &[("source", "browser")]).await;
    // Goals, written by the `all` credential: self_planned by the goal-itself rule.
    post(
        &app,
        None,
        json!([
            statement(
                "ada",
                "https://commonplace.dev/xapi/verbs/set",
                goal(G1),
                "02T08:00"
            ),
            statement(
                "bob",
                "https://commonplace.dev/xapi/verbs/set",
                goal(G2),
                "02T08:00"
            ),
            statement(
                "cy",
                "https://commonplace.dev/xapi/verbs/set",
                goal(G4),
                "02T09:00"
            ),
            statement(
                "dee",
                "https://commonplace.dev/xapi/verbs/set",
                goal(G3),
                "02T09:00"
            ),
            statement("dee", "completed", goal(G3), "04T09:00"),
            statement(
                "lou",
                "https://commonplace.dev/xapi/verbs/set",
                goal(G5),
                "03T09:00"
            ),
        ]),
    )
    .await;
    let mut course_completion = statement(
        "dee",
        "completed",
        json!({"id": C2, "definition": {"type": "http://adlnet.gov/expapi/activities/course"}}),
        "05T10:00",
    );
    course_completion["result"] = json!({"duration": "PT1800S"});
    post(
        &app,
        Some(&lms),
        json!([
            lesson("bob", C1, "05T10:00", 1200),
            lesson("cy", C2, "05T14:00", 600),
            course_completion,
            lesson("lou", C3, "06T14:00", 300),
        ]),
    )
    .await;
    let ids = post(
        &app,
        Some(&browser),
        json!([
            read("ada", "x", "03T10:00", 300, Some(G1)),
            read("ada", "y", "03T12:00", 600, None),
            statement("ada", SHARED, page("y"), "03T14:00"),
            statement("ada", SHARE, page("x"), "10T09:00"),
            read("ada", "w", "12T10:00", 240, Some(G1)),
            read("bob", "y", "04T10:00", 120, None),
            statement("bob", SHARED, page("y"), "04T12:00"),
            statement("bob", SHARED, page("x"), "11T10:00"),
            read("cy", "z", "05T10:00", 60, None),
            read("dee", "x", "12T11:00", 60, None),
            read("lou", "y", "06T10:00", 180, None),
            statement("lou", SHARED, page("y"), "06T11:00"),
        ]),
    )
    .await;
    // bob's second share is voided: it counts nowhere. A report first, so the learning
    // feed has folded it in and must take it out again.
    assert_eq!(get(&app, "/reports/sharing").await.status(), 200);
    post(
        &app,
        None,
        json!({"actor": {"mbox": "mailto:admin@example.org"},
               "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
               "object": {"objectType": "StatementRef", "id": ids[7]}}),
    )
    .await;
    let (store_id, _) = store_by_name(&app.pool, "default").await.unwrap().unwrap();
    let roster = commonplace::roster::parse(
        "learner,name,team,manager,opt_out\n\
         mailto:ada@example.org,Ada,Design,Grace,\n\
         mailto:bob@example.org,Bob,Design,Grace,\n\
         mailto:cy@example.org,Cy,Ops,Grace,yes\n\
         mailto:dee@example.org,Dee,Ops,Grace,\n\
         mailto:lou@example.org,Lou,Lab,Grace,\n",
    )
    .unwrap();
    replace_roster(&app.pool, store_id, &roster).await.unwrap();
    app
}

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    app.report(path).send().await.unwrap()
}

async fn json_of(app: &TestApp, path: &str) -> Value {
    let response = get(app, path).await;
    assert_eq!(response.status(), 200, "{path}");
    let body: Value = response.json().await.unwrap();
    assert_private(path, &body.to_string());
    body
}

/// The CSV of `path` as lines of fields, checked to have the header `header` and no
/// opted-out learner or small team.
async fn csv_of(app: &TestApp, path: &str, header: &str) -> Vec<Vec<String>> {
    let response = get(app, &format!("{path}&format=csv")).await;
    assert_eq!(response.status(), 200, "{path}");
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = response.text().await.unwrap();
    assert_private(path, &text);
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    assert_eq!(lines.next(), Some(header), "{text}");
    lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

/// cy opted out and lou's team Lab has one learner: neither shows in any list.
fn assert_private(path: &str, text: &str) {
    for hidden in ["cy@example.org", "\"Cy\"", ",Cy,", "Lab", G4] {
        assert!(!text.contains(hidden), "{path} shows {hidden}: {text}");
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
