//! The team, learner and source reports against figures worked out by hand on a small
//! fixture, including time estimated by sessionising each learner's events.

use commonplace::auth::NewSecret;
use commonplace::store::modes::store_by_name;
use commonplace::store::reports::replace_roster;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{error_of, spawn_app_with, TestApp};

const GOAL: &str = "https://people.example.org/ada/goals/1";
const C1: &str = "https://lms.example.org/c1";
const C2: &str = "https://lms.example.org/c2";

fn event(learner: &str, verb: &str, object: Value, at: &str) -> Value {
    json!({
        "actor": {"mbox": format!("mailto:{learner}@example.org")},
        "verb": {"id": format!("http://adlnet.gov/expapi/verbs/{verb}")},
        "object": object,
        "timestamp": format!("2026-03-{at}:00Z")
    })
}

fn with(mut statement: Value, path: &[&str], value: Value) -> Value {
    let mut at = &mut statement;
    for key in &path[..path.len() - 1] {
        at = &mut at[*key];
    }
    at[path[path.len() - 1]] = value;
    statement
}

fn lesson(course: &str, registration: &str) -> (Value, Value) {
    (
        json!({"id": format!("{course}/l1"), "definition": {"type": "http://adlnet.gov/expapi/activities/lesson"}}),
        json!({"registration": registration,
               "contextActivities": {"grouping": [{"id": course}]}}),
    )
}

fn course(id: &str, name: &str) -> Value {
    json!({"id": id, "definition": {"type": "http://adlnet.gov/expapi/activities/course",
                                    "name": {"en": name}}})
}

fn page(path: &str) -> Value {
    json!({"id": format!("https://web.example.org/{path}")})
}

async fn post(app: &TestApp, who: &NewSecret, body: Value) -> Vec<String> {
    let response = app
        .xapi_as(who, Method::POST, "/xapi/statements")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

/// Week of Monday 2 March 2026. Design: ada, bob; Ops: cy (opted out), dee (whose
/// Statements name the team Research, but the roster wins); Research: eve and fay,
/// known only from `context.team`.
async fn fixture() -> TestApp {
    let app = spawn_app_with(|s| s.min_team_size = 2).await;
    let lms = app.tagged_writer("lms", &[("source", "lms")]).await;
    let browser = app.tagged_writer("browser", &[("source", "browser")]).await;
    let registration = |n: u8| format!("00000000-0000-4000-8000-00000000000{n}");
    let (l1, c1_context) = lesson(C1, &registration(1));
    let (_, bob_context) = lesson(C1, &registration(2));
    let (l2, c2_context) = lesson(C2, &registration(3));
    let duration = |s: Value, d: &str| with(s, &["result"], json!({"duration": d}));
    let context = |s: Value, c: &Value| with(s, &["context"], c.clone());
    post(
        &app,
        &lms,
        json!([
            duration(
                context(
                    event("ada", "launched", l1.clone(), "02T09:00"),
                    &c1_context
                ),
                "PT10M"
            ),
            duration(
                with(
                    event(
                        "ada",
                        "completed",
                        course(C1, "Accessible design"),
                        "02T09:20"
                    ),
                    &["context"],
                    json!({"registration": registration(1)})
                ),
                "PT20M"
            ),
            duration(
                context(event("bob", "launched", l1, "03T09:00"), &bob_context),
                "PT5M"
            ),
            duration(
                context(event("cy", "launched", l2, "04T09:00"), &c2_context),
                "PT10M"
            ),
            duration(
                with(
                    event("dee", "completed", course(C2, "Operations"), "04T10:00"),
                    &["context"],
                    json!({"registration": registration(4), "team": research_team()})
                ),
                "PT30M"
            ),
        ]),
    )
    .await;
    // ada documents a goal (an hour before her course: no estimate for it).
    let set_goal = json!({
        "actor": {"mbox": "mailto:ada@example.org"},
        "verb": {"id": "https://commonplace.dev/xapi/verbs/set"},
        "object": {"id": GOAL, "definition": {"type": "https://commonplace.dev/xapi/activity-types/goal",
                                               "name": {"en": "Run accessible reviews"}}},
        "timestamp": "2026-03-02T08:00:00Z"
    });
    let response = app
        .xapi(Method::POST, "/xapi/statements")
        .json(&set_goal)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let research = json!({"team": research_team()});
    let news = json!({"id": "https://news.example.net/w1"});
    let ids = post(
        &app,
        &browser,
        json!([
            // ada: x then y 5 min later (300 s), z 45 min after y (none), z last (none).
            event("ada", "experienced", page("x"), "02T12:00"),
            event("ada", "experienced", page("y"), "02T12:05"),
            with(
                event("ada", "experienced", page("z"), "02T12:50"),
                &["context"],
                json!({"extensions": {"https://commonplace.dev/xapi/extensions/goal": GOAL}})
            ),
            // bob: p then q 20 min later (capped at 600 s), shares q a minute later
            // (60 s); v between them is voided below and must not split the gap.
            event("bob", "experienced", page("p"), "03T13:00"),
            event("bob", "experienced", page("v"), "03T13:10"),
            event("bob", "experienced", page("q"), "03T13:20"),
            event("bob", "shared", page("q"), "03T13:21"),
            context(
                event("eve", "experienced", news.clone(), "05T10:00"),
                &research
            ),
            duration(
                context(event("fay", "experienced", news, "05T10:00"), &research),
                "PT2M"
            ),
        ]),
    )
    .await;
    let voiding = json!({
        "actor": {"mbox": "mailto:admin@example.org"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
        "object": {"objectType": "StatementRef", "id": ids[4]}
    });
    let response = app
        .xapi(Method::POST, "/xapi/statements")
        .json(&voiding)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (store_id, _) = store_by_name(&app.pool, "default").await.unwrap().unwrap();
    let roster = commonplace::roster::parse(
        "learner,name,team,manager,opt_out\n\
         mailto:ada@example.org,Ada,Design,Grace,\n\
         mailto:bob@example.org,Bob,Design,Grace,\n\
         mailto:cy@example.org,Cy,Ops,Grace,yes\n\
         mailto:dee@example.org,Dee,Ops,Grace,\n",
    )
    .unwrap();
    replace_roster(&app.pool, store_id, &roster).await.unwrap();
    app
}

/// An identified Group (xAPI requires an IFI for a Group without members).
fn research_team() -> Value {
    json!({"objectType": "Group", "name": "Research",
           "account": {"homePage": "https://teams.example.org", "name": "research"}})
}

const WEEK: &str = "since=2026-03-02&until=2026-03-08";

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    app.http
        .get(app.url(path))
        .basic_auth(&app.key, Some(&app.secret))
        .send()
        .await
        .unwrap()
}

async fn json_of(app: &TestApp, path: &str) -> Value {
    let response = get(app, path).await;
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

fn close(got: &Value, want: f64) -> bool {
    got.as_f64().is_some_and(|g| (g - want).abs() < 1e-9)
}

#[tokio::test]
async fn team_figures_match_the_hand_count() {
    let app = fixture().await;
    let body = json_of(&app, &format!("/reports/teams?{WEEK}")).await;
    let teams = body["teams"].as_array().unwrap();
    let names: Vec<&str> = teams.iter().map(|t| t["team"].as_str().unwrap()).collect();
    assert_eq!(names, ["Design", "Ops", "Research"]);
    let design = &teams[0];
    // 10 statements: ada's goal, 2 course, x, y, z; bob's course, p, q, share.
    assert_eq!(design["learners"], 2);
    assert_eq!(design["statements"], 10);
    assert!(close(&design["reportedSeconds"], 2100.0), "{design}");
    // ada x 300; bob p 600 (20 min gap, capped) and q 60.
    assert!(close(&design["estimatedSeconds"], 960.0), "{design}");
    // goal, x, y, z, p, q, share of 10.
    assert!(close(&design["selfDirectionByStatements"], 0.7));
    assert!(
        close(&design["selfDirectionByTime"], 960.0 / 3060.0),
        "{design}"
    );
    assert!(close(&design["goalCoverage"], 0.5));
    // Only z, of the 7 self-chosen statements, names a goal.
    assert!(close(&design["goalLinkedShare"], 1.0 / 7.0));
    assert!(close(&design["findsSharedPerLearner"], 0.5));
    // (ada, c1) completed, (bob, c1) not.
    assert_eq!(design["directedCourses"], 2);
    assert!(close(&design["directedCompletionRate"], 0.5));

    // cy opted out but still counts in the team.
    let ops = &teams[1];
    assert_eq!(ops["learners"], 2);
    assert!(close(&ops["selfDirectionByTime"], 0.0));
    assert!(ops["goalLinkedShare"].is_null());
    assert!(close(&ops["directedCompletionRate"], 0.5));

    let research = &teams[2];
    assert_eq!(research["learners"], 2);
    assert!(close(&research["selfDirectionByTime"], 1.0));
    assert!(close(&research["estimatedSeconds"], 0.0));
    assert!(research["directedCompletionRate"].is_null());

    // On 3 March only bob was active: Design has one learner, under the minimum of 2.
    let later = json_of(&app, "/reports/teams?since=2026-03-03&until=2026-03-03").await;
    assert_eq!(later["teams"].as_array().unwrap().len(), 0, "{later}");
}

#[tokio::test]
async fn a_learners_mix_goals_sources_and_courses() {
    let app = fixture().await;
    let ada = json_of(
        &app,
        &format!("/reports/learners/mailto:ada@example.org?{WEEK}"),
    )
    .await;
    assert_eq!(ada["learner"], "mbox:mailto:ada@example.org");
    assert_eq!(ada["team"], "Design");
    // The same learner named as an xAPI Agent, as the `agent` parameter of the API.
    let mut as_agent = json_of(
        &app,
        &format!("/reports/learners/%7B%22mbox%22%3A%22mailto%3Aada%40example.org%22%7D?{WEEK}"),
    )
    .await;
    // Asked later, so fresher: all else is the same.
    assert!(as_agent["replayedThrough"].as_str() >= ada["replayedThrough"].as_str());
    as_agent["replayedThrough"] = ada["replayedThrough"].clone();
    assert_eq!(as_agent, ada);
    let mix: Vec<(String, i64, f64, f64)> = ada["mix"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            assert_eq!(m["bucket"], "2026-03-02");
            (
                m["mode"].as_str().unwrap().to_string(),
                m["statements"].as_i64().unwrap(),
                m["reportedSeconds"].as_f64().unwrap(),
                m["estimatedSeconds"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        mix,
        [
            ("directed".to_string(), 2, 1800.0, 0.0),
            ("self_directed".to_string(), 2, 0.0, 300.0),
            ("self_planned".to_string(), 2, 0.0, 0.0),
        ]
    );
    assert_eq!(
        ada["goals"],
        json!([{"goal": GOAL, "name": "Run accessible reviews", "documented": "2026-03-02",
                "achieved": false,
                "activities": [{"activity": "https://web.example.org/z", "name": null, "statements": 1}]}])
    );
    let sources: Vec<(&str, i64)> = ada["topSources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["key"].as_str().unwrap(),
                s["statements"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        sources,
        [
            ("web.example.org", 3),
            ("lms.example.org", 2),
            ("people.example.org", 1)
        ]
    );
    let courses = ada["topDirectedCourses"].as_array().unwrap();
    assert_eq!(courses.len(), 1);
    assert_eq!(courses[0]["key"], C1);
    assert_eq!(courses[0]["name"], "Accessible design");
    assert_eq!(courses[0]["statements"], 2);
    assert_eq!(courses[0]["completed"], true);

    // An account IFI with a slash, percent-encoded, is one path segment.
    let account = get(
        &app,
        "/reports/learners/account:https%3A%2F%2Fhr.example.org%7C77",
    )
    .await;
    assert_eq!(account.status(), 200);
    let (status, _, message) =
        error_of(get(&app, "/reports/learners/mbox:mailto:cy@example.org").await).await;
    assert_eq!(status, 403);
    assert!(message.contains("opted out"), "{message}");
    assert_eq!(
        error_of(get(&app, "/reports/learners/ada").await).await.0,
        400
    );
    assert_eq!(
        error_of(get(&app, "/reports/learners/mailto:ada@example.org?top=0").await)
            .await
            .0,
        400
    );
}

#[tokio::test]
async fn top_hosts_and_activities_per_mode() {
    let app = fixture().await;
    let body = json_of(&app, &format!("/reports/sources?{WEEK}&top=2")).await;
    let brief = |list: &Value| -> Vec<(String, i64, i64)> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["key"].as_str().unwrap().to_string(),
                    r["statements"].as_i64().unwrap(),
                    r["learners"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    let modes: Vec<&str> = body["modes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["mode"].as_str().unwrap())
        .collect();
    assert_eq!(modes, ["directed", "self_planned", "self_directed"]);
    let directed = &body["modes"][0];
    assert_eq!(
        brief(&directed["hosts"]),
        [("lms.example.org".to_string(), 5, 4)]
    );
    assert_eq!(
        brief(&directed["activities"]),
        // Ties go by id: c1 (ada's completion) before c2 (dee's) and c2/l1.
        [(format!("{C1}/l1"), 2, 2), (C1.to_string(), 1, 1)]
    );
    let self_directed = &body["modes"][2];
    assert_eq!(
        brief(&self_directed["hosts"]),
        [
            ("web.example.org".to_string(), 5, 2),
            ("news.example.net".to_string(), 2, 2)
        ]
    );
    assert_eq!(
        brief(&body["modes"][1]["hosts"]),
        [
            ("people.example.org".to_string(), 1, 1),
            ("web.example.org".to_string(), 1, 1)
        ]
    );
}

#[tokio::test]
async fn csv_of_the_new_reports() {
    let app = fixture().await;
    let text = get(&app, &format!("/reports/teams?{WEEK}&format=csv"))
        .await
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[0].starts_with("team,learners,statements,reported_seconds,estimated_seconds,"));
    assert_eq!(
        lines[1],
        "Design,2,10,2100,960,0.7000,0.3137,0.5000,0.1429,0.50,2,0.5000"
    );
    assert_eq!(
        lines[2],
        "Ops,2,2,2400,0,0.0000,0.0000,0.0000,,0.00,2,0.5000"
    );
    for path in [
        "/reports/sources",
        "/reports/learners/mailto:ada@example.org",
    ] {
        let response = app
            .report(&format!("{path}?{WEEK}"))
            .header("accept", "text/csv")
            .send()
            .await
            .unwrap();
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv"));
        let text = response.text().await.unwrap();
        let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
        let columns = lines[0].split(',').count();
        assert!(
            lines.len() > 1 && lines.iter().all(|l| l.split(',').count() == columns),
            "{text}"
        );
    }
}
