//! The dashboard's views as a reader gets them: loaded in headless Chromium
//! (tests/js/dashboard-driver.js) at a desktop width and at 375 px, on the demo data and
//! a roster with an opted-out learner and teams below the minimum size. Each chart
//! carries the API's figures for the same period (`charts`); every report and CSV link
//! answers, no view is wider than a phone, and a screenshot of each view is kept under
//! target/tmp/ (`links`); opted-out learners and small teams appear on no view
//! (`privacy`).

mod charts;
mod links;
mod privacy;

use std::path::Path;

use chrono::{Duration, NaiveDate, Utc};
use serde_json::{json, Value};

use crate::helpers::{install_js_packages, js_dir, post_demo, spawn_app_with, TestApp};

/// Teams below this many active learners are hidden.
const MIN_TEAM_SIZE: i64 = 2;
/// The learner who opted out, by every name a page could give them.
const OPTED_OUT: [&str; 4] = [
    "learner5@example.org",
    "learner5%40example.org",
    "Bob Five",
    "Learner 5",
];
/// Teams of a single learner: learner3 moved to a team of their own by the roster, which
/// leaves learner11 alone in the team the Statements name.
const SMALL_TEAMS: [&str; 2] = ["Skunkworks", "Support"];
/// What the driver reads the figures of: chart marks, the team table's rows and the
/// Statement list's rows.
const MARKS: &str = ".mark, .bar, tr[data-team], tr[data-statement], \
                     span.learner[data-learner], [data-goal], [data-course]";
/// The concierge lists goals with no linked activity for this many weeks (the
/// dashboard, for four).
const STALE_WEEKS: i64 = 2;
/// The learner whose Statements and colleagues the views show.
const LISTED_LEARNER: &str = "mailto:learner2@example.org";

/// The two weeks up to today: the demo's last weeks, with a previous period of the
/// same length that has data too.
struct Period {
    since: NaiveDate,
    until: NaiveDate,
}

impl Period {
    fn ending(today: NaiveDate) -> Period {
        Period {
            since: today - Duration::days(13),
            until: today,
        }
    }

    fn query(&self) -> String {
        format!("since={}&until={}", self.since, self.until)
    }

    fn previous(&self) -> Period {
        let days = (self.until - self.since).num_days() + 1;
        Period {
            since: self.since - Duration::days(days),
            until: self.since - Duration::days(1),
        }
    }
}

/// The demo's 16 learners in 8 teams of two over 4 weeks, and an idle goal each for
/// learner2 and learner5; then a roster that opts learner5 out and moves learner3 to a
/// team of their own. With the period the views show: the two weeks up to the day the
/// demo data is dated by, read from the clock once for both.
async fn insight_app() -> (TestApp, Period) {
    let today = Utc::now().date_naive();
    // Before the app: `npm ci` (on the first call) blocks this thread, which the app's
    // server would otherwise be running on.
    install_js_packages();
    let app = spawn_app_with(|s| s.min_team_size = MIN_TEAM_SIZE).await;
    post_demo(&app, 16, 4, 9, today).await;
    // A goal documented five weeks ago with nothing done toward it since, by a learner
    // who is shown and by the one who opts out.
    let documented = (today - Duration::days(35))
        .and_hms_opt(12, 0, 0)
        .unwrap()
        .and_utc()
        .to_rfc3339();
    for learner in [2, 5] {
        let set_goal = json!({
            "actor": {"mbox": format!("mailto:learner{learner}@example.org"),
                      "name": format!("Learner {learner}")},
            "verb": {"id": "https://commonplace.dev/xapi/verbs/set"},
            "object": {"id": format!("https://people.example.org/learner{learner}/goals/idle"),
                       "definition": {"type": "https://commonplace.dev/xapi/activity-types/goal",
                                      "name": {"en-US": "An idle goal"}}},
            "timestamp": documented,
        });
        let response = app
            .xapi(reqwest::Method::POST, "/xapi/statements")
            .json(&set_goal)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    app.import_roster(
        "learner,name,team,manager,opt_out\n\
         mailto:learner3@example.org,Ada Three,Skunkworks,,\n\
         mailto:learner5@example.org,Bob Five,People,,yes\n",
    )
    .await;
    (app, Period::ending(today))
}

/// The views for `period`: the dashboard, the concierge (with a learner's colleagues)
/// and a learner's Statements.
fn views(app: &TestApp, period: &Period) -> Vec<(&'static str, String)> {
    let range = period.query();
    vec![
        ("dashboard", app.url(&format!("/dashboard?{range}"))),
        (
            "concierge",
            app.url(&format!(
                "/dashboard/concierge?weeks={STALE_WEEKS}&learner={}&{range}",
                encode(LISTED_LEARNER)
            )),
        ),
        (
            "statements",
            app.url(&format!(
                "/dashboard/statements?learner={}&{range}",
                encode(LISTED_LEARNER)
            )),
        ),
    ]
}

/// Each of `views` at both widths as Chromium shows it, screenshots saved in `out_dir`.
async fn in_chromium(app: &TestApp, views: &[(&str, String)], out_dir: &Path) -> Vec<Value> {
    let views: Vec<Value> = views
        .iter()
        .map(|(name, url)| json!({"name": name, "url": url}))
        .collect();
    let output = tokio::process::Command::new("node")
        .arg(js_dir().join("dashboard-driver.js"))
        .env("VIEWS", serde_json::to_string(&views).unwrap())
        .env("LRS_USER", &app.key)
        .env("LRS_PASSWORD", &app.secret)
        .env("OUT_DIR", out_dir)
        .env("MARKS", MARKS)
        .output()
        .await
        .expect("node is needed for the dashboard browser tests");
    assert!(
        output.status.success(),
        "dashboard-driver.js: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let shown: Value = serde_json::from_slice(&output.stdout).unwrap();
    let shown = shown["views"].as_array().unwrap().clone();
    for view in &shown {
        assert_eq!(view["status"], 200, "{} ({})", view["url"], view["width"]);
        assert_eq!(
            view["errors"],
            json!([]),
            "{} ({})",
            view["url"],
            view["width"]
        );
    }
    shown
}

fn view<'a>(shown: &'a [Value], name: &str, width: &str) -> &'a Value {
    shown
        .iter()
        .find(|v| v["name"] == name && v["width"] == width)
        .unwrap_or_else(|| panic!("no view {name} at {width}"))
}

/// The `data-` attributes (as the DOM names them: `data-self-direction` is
/// `selfDirection`) of the marks in a view's section.
fn marks<'a>(view: &'a Value, section: &str) -> Vec<&'a Value> {
    view["marks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["section"] == section)
        .map(|m| &m["data"])
        .collect()
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A figure from a `data-` attribute or the API, to two decimals (the page writes the
/// figures the store computed; JSON and attributes may round the last digit apart).
fn figure(v: &Value) -> String {
    let n = match v {
        Value::String(s) => s
            .parse::<f64>()
            .unwrap_or_else(|_| panic!("not a figure: {v}")),
        other => other
            .as_f64()
            .unwrap_or_else(|| panic!("not a figure: {other}")),
    };
    format!("{n:.2}")
}

fn sum(a: &Value, b: &Value) -> Value {
    json!(a.as_f64().unwrap() + b.as_f64().unwrap())
}

async fn report(app: &TestApp, path: &str) -> Value {
    let response = app.report(path).send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

fn encode(v: &str) -> String {
    percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn sorted(rows: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut rows: Vec<String> = rows.into_iter().collect();
    rows.sort();
    rows
}
