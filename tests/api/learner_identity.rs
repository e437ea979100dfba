//! One definition of a learner's team and name (issue 19): the team is the roster team,
//! else the team most named in `context.team`, else `(no team)`; the name is the roster
//! name, else the name the Statements gave, else the IFI. `/reports/modes` by team and
//! by learner, `/reports/teams`, `/reports/learners/…` and the dashboard agree on it,
//! on the demo data and after a roster import, and a learner whose most-named team
//! changes moves in every one of them. By learner, each row's distinct Activities are
//! those of its bucket inside the period, whatever the bucket and the period's ends.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Duration, NaiveDate, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{post_demo, post_statements, spawn_app_with, TestApp};

async fn get(app: &TestApp, path: &str) -> Value {
    let response = app.report(path).send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

async fn text(app: &TestApp, path: &str) -> String {
    let response = app.report(path).send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.text().await.unwrap()
}

fn number(v: &Value) -> i64 {
    v.as_i64().unwrap()
}

async fn replace_roster(app: &TestApp, csv: &str) {
    let store_id = app.default_store_id().await;
    let roster = commonplace::roster::parse(csv).unwrap();
    commonplace::store::reports::replace_roster(&app.pool, store_id, &roster)
        .await
        .unwrap();
}

/// Each team's Statements and each learner's team, as every report and the dashboard
/// give them over `period`; asserts they agree and returns the learners' teams.
async fn teams_everywhere(app: &TestApp, period: &str) -> BTreeMap<String, String> {
    // By team, one month bucket or more: summed over the buckets.
    let mut by_team: BTreeMap<String, i64> = BTreeMap::new();
    for row in get(
        app,
        &format!("/reports/modes?group=team&bucket=month&{period}"),
    )
    .await["rows"]
        .as_array()
        .unwrap()
    {
        *by_team
            .entry(row["group"].as_str().unwrap().into())
            .or_default() += number(&row["statements"]);
    }
    let teams: BTreeMap<String, i64> = get(app, &format!("/reports/teams?{period}")).await["teams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["team"].as_str().unwrap().into(), number(&t["statements"])))
        .collect();
    assert_eq!(
        by_team, teams,
        "/reports/modes?group=team against /reports/teams"
    );

    // By learner: each row names the learner's team; their Statements add up per team.
    let mut learner_teams: BTreeMap<String, String> = BTreeMap::new();
    let mut summed: BTreeMap<String, i64> = BTreeMap::new();
    for row in get(
        app,
        &format!("/reports/modes?group=learner&bucket=month&{period}"),
    )
    .await["rows"]
        .as_array()
        .unwrap()
    {
        let learner = row["group"].as_str().unwrap().to_string();
        let team = row["team"].as_str().unwrap().to_string();
        assert_eq!(
            learner_teams.entry(learner.clone()).or_insert(team.clone()),
            &team,
            "{learner} in two teams"
        );
        *summed.entry(team).or_default() += number(&row["statements"]);
    }
    assert_eq!(summed, teams, "learners' Statements summed by their team");

    // Each learner's own report names the same team.
    for (learner, team) in &learner_teams {
        let report = get(app, &format!("/reports/learners/{learner}?{period}")).await;
        assert_eq!(report["team"], json!(team), "{learner}");
    }

    // The dashboard's team table.
    let page = text(app, &format!("/dashboard?{period}")).await;
    let table = page.split("<table class=\"teams\">").nth(1).unwrap();
    let shown: BTreeMap<String, i64> = table[..table.find("</table>").unwrap()]
        .split("<tr ")
        .filter_map(|tag| {
            let team = tag.split("data-team=\"").nth(1)?.split('"').next()?;
            let statements = tag.split("data-statements=\"").nth(1)?.split('"').next()?;
            Some((team.to_string(), statements.parse().ok()?))
        })
        .collect();
    assert_eq!(shown, teams, "the dashboard's team table");
    // Its learner picker names each learner as the reports do.
    for (learner, name) in by_learner_names(app, period).await {
        let option = page
            .split("<option ")
            .find(|o| o.contains(&format!("data-learner=\"{learner}\"")))
            .unwrap_or_else(|| panic!("{learner} not in the picker"));
        assert!(option.contains(&format!(">{name} (")), "{option}");
    }
    learner_teams
}

async fn by_learner_names(app: &TestApp, period: &str) -> BTreeMap<String, String> {
    get(
        app,
        &format!("/reports/modes?group=learner&bucket=month&{period}"),
    )
    .await["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["group"].as_str().unwrap().to_string(),
                r["name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The demo's 16 learners in 8 teams over the 4 weeks up to `today`.
async fn demo_app(today: NaiveDate) -> TestApp {
    let app = spawn_app_with(|s| s.min_team_size = 1).await;
    post_demo(&app, 16, 4, 9, today).await;
    app
}

/// The demo's whole span: four weeks up to the end of `today`'s.
fn demo_period(today: NaiveDate) -> String {
    let monday = today - Duration::days(today.weekday().num_days_from_monday() as i64);
    format!(
        "since={}&until={}",
        monday - Duration::weeks(3),
        monday + Duration::days(6)
    )
}

#[tokio::test]
async fn every_report_and_the_dashboard_agree_on_teams_before_and_after_a_roster() {
    let today = Utc::now().date_naive();
    let app = demo_app(today).await;
    let period = demo_period(today);

    // No roster: the demo's eight context teams, two learners each, nobody teamless.
    let teams = teams_everywhere(&app, &period).await;
    assert_eq!(teams.len(), 16);
    let names: BTreeSet<&str> = teams.values().map(String::as_str).collect();
    assert_eq!(names.len(), 8, "{names:?}");
    assert!(!names.contains("(no team)"));
    assert_eq!(teams["mbox:mailto:learner1@example.org"], "Engineering");

    // A roster puts learner1 in Finance; learner2 keeps their context team.
    replace_roster(
        &app,
        "learner,name,team,manager\nmailto:learner1@example.org,Ada One,Finance,\n",
    )
    .await;
    let teams = teams_everywhere(&app, &period).await;
    assert_eq!(teams["mbox:mailto:learner1@example.org"], "Finance");
    let names = by_learner_names(&app, &period).await;
    assert_eq!(names["mbox:mailto:learner1@example.org"], "Ada One");
    assert_eq!(names["mbox:mailto:learner2@example.org"], "Learner 2");
    assert_eq!(teams["mbox:mailto:learner2@example.org"], "Sales");
    let engineering: Vec<&String> = teams
        .iter()
        .filter(|(_, t)| *t == "Engineering")
        .map(|(l, _)| l)
        .collect();
    assert_eq!(engineering, ["mbox:mailto:learner9@example.org"]);
}

fn named_team(learner: &str, team: &str, activity: usize, day: &str) -> Value {
    json!({
        "id": Uuid::new_v4(),
        "actor": {"mbox": format!("mailto:{learner}@example.org")},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
        "object": {"id": format!("https://learn.example.org/items/{activity}")},
        "timestamp": format!("{day}T10:00:00Z"),
        "context": {"team": {"objectType": "Group", "name": team,
                             "account": {"homePage": "https://example.org", "name": team}}}
    })
}

/// The team of `learner` in each report, and the distinct Activities `/reports/modes`
/// gives that team in the week (from the team-level rollup).
async fn team_of(app: &TestApp, learner: &str) -> (String, String, String, BTreeMap<String, i64>) {
    const PERIOD: &str = "since=2026-03-02&until=2026-03-08";
    let ifi = format!("mbox:mailto:{learner}@example.org");
    let by_learner = get(app, &format!("/reports/modes?group=learner&{PERIOD}")).await;
    let row = by_learner["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["group"] == json!(ifi))
        .unwrap()
        .clone();
    let report = get(app, &format!("/reports/learners/{ifi}?{PERIOD}")).await;
    let teams = get(app, &format!("/reports/teams?{PERIOD}")).await;
    let listed: Vec<&str> = teams["teams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["team"].as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), 1, "{listed:?}");
    let activities = get(app, &format!("/reports/modes?group=team&{PERIOD}")).await["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["group"].as_str().unwrap().to_string(),
                number(&r["distinctActivities"]),
            )
        })
        .collect();
    (
        row["team"].as_str().unwrap().to_string(),
        report["team"].as_str().unwrap().to_string(),
        listed[0].to_string(),
        activities,
    )
}

#[tokio::test]
async fn a_learner_whose_most_named_team_changes_moves_in_every_report() {
    let app = spawn_app_with(|s| s.min_team_size = 1).await;
    let first: Vec<Value> = (0..2)
        .map(|i| named_team("kim", "Ops", i, "2026-03-03"))
        .collect();
    post_statements(&app, &json!(first)).await;
    let ops = |n| BTreeMap::from([("Ops".to_string(), n)]);
    let design = |n| BTreeMap::from([("Design".to_string(), n)]);
    assert_eq!(
        team_of(&app, "kim").await,
        ("Ops".into(), "Ops".into(), "Ops".into(), ops(2))
    );

    // Three Statements naming Design: Design is named most, and all of kim's
    // Activities go with them.
    let second: Vec<Value> = (2..5)
        .map(|i| named_team("kim", "Design", i, "2026-03-04"))
        .collect();
    post_statements(&app, &json!(second)).await;
    assert_eq!(
        team_of(&app, "kim").await,
        ("Design".into(), "Design".into(), "Design".into(), design(5))
    );

    // Two of them voided: Ops again (two against one).
    for s in &second[..2] {
        post_statements(
            &app,
            &json!({"actor": {"mbox": "mailto:admin@example.org"},
                    "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
                    "object": {"objectType": "StatementRef", "id": s["id"]}}),
        )
        .await;
    }
    assert_eq!(
        team_of(&app, "kim").await,
        ("Ops".into(), "Ops".into(), "Ops".into(), ops(3))
    );

    // A roster team outranks every context team.
    replace_roster(
        &app,
        "learner,name,team,manager\nmailto:kim@example.org,Kim,Sales,\n",
    )
    .await;
    let sales = BTreeMap::from([("Sales".to_string(), 3)]);
    assert_eq!(
        team_of(&app, "kim").await,
        ("Sales".into(), "Sales".into(), "Sales".into(), sales)
    );
}

#[tokio::test]
async fn names_come_from_the_roster_else_the_statements_else_the_ifi() {
    let app = spawn_app_with(|s| s.min_team_size = 1).await;
    let statement = |mbox: &str, name: Option<&str>| {
        let mut actor = json!({"mbox": format!("mailto:{mbox}@example.org")});
        if let Some(name) = name {
            actor["name"] = json!(name);
        }
        json!({"actor": actor, "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
               "object": {"id": "https://learn.example.org/items/1"},
               "timestamp": "2026-03-03T10:00:00Z"})
    };
    post_statements(
        &app,
        &json!([
            statement("ada", Some("Ada Lovelace")),
            statement("ada", Some("A. Lovelace")),
            statement("bob", Some("Bob")),
            statement("cy", None),
        ]),
    )
    .await;
    replace_roster(
        &app,
        "learner,name,team,manager\nmailto:bob@example.org,Robert Roster,Ops,\n",
    )
    .await;
    const PERIOD: &str = "since=2026-03-02&until=2026-03-08";
    let rows = get(&app, &format!("/reports/modes?group=learner&{PERIOD}")).await;
    let names: BTreeMap<&str, (&str, &str)> = rows["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["group"].as_str().unwrap(),
                (r["name"].as_str().unwrap(), r["team"].as_str().unwrap()),
            )
        })
        .collect();
    assert_eq!(
        names,
        BTreeMap::from([
            // The first of the names the Statements gave, in sort order.
            ("mbox:mailto:ada@example.org", ("A. Lovelace", "(no team)")),
            ("mbox:mailto:bob@example.org", ("Robert Roster", "Ops")),
            (
                "mbox:mailto:cy@example.org",
                ("mbox:mailto:cy@example.org", "(no team)")
            ),
        ])
    );
    let report = get(
        &app,
        &format!("/reports/learners/mailto:bob@example.org?{PERIOD}"),
    )
    .await;
    assert_eq!(
        (&report["name"], &report["team"]),
        (&json!("Robert Roster"), &json!("Ops"))
    );
    let report = get(
        &app,
        &format!("/reports/learners/mailto:ada@example.org?{PERIOD}"),
    )
    .await;
    assert_eq!(report["name"], json!("A. Lovelace"));

    // The CSV by learner ends with the name and team.
    let csv = text(
        &app,
        &format!("/reports/modes?group=learner&format=csv&{PERIOD}"),
    )
    .await;
    let mut lines = csv.lines();
    assert!(lines
        .next()
        .unwrap()
        .ends_with(",estimated_seconds,name,team"));
    assert!(
        csv.lines()
            .any(|l| l.starts_with("2026-03-02,mbox:mailto:bob@example.org,")
                && l.ends_with(",Robert Roster,Ops")),
        "{csv}"
    );
    // Other groupings keep their columns.
    let csv = text(
        &app,
        &format!("/reports/modes?group=team&format=csv&{PERIOD}"),
    )
    .await;
    assert!(csv.lines().next().unwrap().ends_with(",estimated_seconds"));
}

#[tokio::test]
async fn a_learners_distinct_activities_are_those_of_each_bucket_inside_the_period() {
    let app = spawn_app_with(|s| s.min_team_size = 1).await;
    // Touches (day of March 2026 or April, Activity) of one learner, repeats across
    // days, weeks and months.
    let touches: Vec<(NaiveDate, usize)> = [
        (2, 1),
        (2, 1),
        (2, 2),
        (3, 1),
        (5, 3),
        (9, 1),
        (10, 4),
        (16, 2),
        (20, 5),
        (27, 1),
        (30, 6),
        (31, 2),
        (32, 1),
        (33, 7),
        (40, 2),
        (45, 8),
    ]
    .iter()
    .map(|&(day, activity)| {
        (
            NaiveDate::from_ymd_opt(2026, 3, 1).unwrap() + Duration::days(day - 1),
            activity,
        )
    })
    .collect();
    let statements: Vec<Value> = touches
        .iter()
        .map(|(day, activity)| {
            json!({"actor": {"mbox": "mailto:lee@example.org"},
                   "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
                   "object": {"id": format!("https://learn.example.org/items/{activity}")},
                   "timestamp": format!("{day}T10:00:00Z")})
        })
        .collect();
    post_statements(&app, &json!(statements)).await;

    for (since, until) in [
        ("2026-03-01", "2026-04-30"),
        ("2026-03-03", "2026-04-08"),
        ("2026-03-10", "2026-03-31"),
        ("2026-03-31", "2026-04-02"),
    ] {
        let (first, last): (NaiveDate, NaiveDate) =
            (since.parse().unwrap(), until.parse().unwrap());
        for bucket in ["day", "week", "month"] {
            let start = |day: NaiveDate| -> NaiveDate {
                match bucket {
                    "day" => day,
                    "week" => day - Duration::days(day.weekday().num_days_from_monday() as i64),
                    _ => day.with_day(1).unwrap(),
                }
            };
            let mut expected: BTreeMap<NaiveDate, BTreeSet<usize>> = BTreeMap::new();
            for (day, activity) in &touches {
                if (first..=last).contains(day) {
                    expected.entry(start(*day)).or_default().insert(*activity);
                }
            }
            let expected: BTreeMap<String, i64> = expected
                .into_iter()
                .map(|(b, set)| (b.to_string(), set.len() as i64))
                .collect();
            let rows = get(
                &app,
                &format!(
                    "/reports/modes?group=learner&bucket={bucket}&since={since}&until={until}"
                ),
            )
            .await;
            let got: BTreeMap<String, i64> = rows["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        r["bucket"].as_str().unwrap().to_string(),
                        number(&r["distinctActivities"]),
                    )
                })
                .collect();
            assert_eq!(got, expected, "{bucket} over {since}..{until}");
        }
    }
}
