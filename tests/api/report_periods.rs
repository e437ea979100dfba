//! Reports over arbitrary periods agree with plain counts over the day rollups: the
//! weekly rollups and activity spans the reports read are only a faster way to the
//! same answer, whether a period is whole weeks, parts of weeks or inside one week.

use chrono::{Duration, NaiveDate};
use commonplace::auth::NewSecret;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use uuid::Uuid;

use crate::helpers::{spawn_app_with, TestApp};

/// 2 February 2026 is a Monday; Statements fall in the five weeks from it.
fn first_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 2, 2).unwrap()
}

fn course_statement(rng: &mut StdRng) -> Value {
    let verb = if rng.gen_bool(0.3) {
        "completed"
    } else {
        "experienced"
    };
    let mut statement = json!({
        "id": Uuid::new_v4(),
        "actor": {"mbox": format!("mailto:learner{}@example.org", rng.gen_range(0..6))},
        "verb": {"id": format!("http://adlnet.gov/expapi/verbs/{verb}")},
        "object": {"id": format!("http://example.com/courses/c{}", rng.gen_range(0..3)),
                   "definition": {"type": "http://adlnet.gov/expapi/activities/course"}},
        "timestamp": timestamp(rng),
    });
    if rng.gen_bool(0.5) {
        statement["result"] = json!({"duration": format!("PT{}S", rng.gen_range(10..900))});
    }
    statement
}

fn page_statement(rng: &mut StdRng) -> Value {
    json!({
        "id": Uuid::new_v4(),
        "actor": {"mbox": format!("mailto:learner{}@example.org", rng.gen_range(0..6))},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
        "object": {"id": format!("https://site{}.example.org/page/{}",
                                 rng.gen_range(0..3), rng.gen_range(0..8))},
        "timestamp": timestamp(rng),
    })
}

fn timestamp(rng: &mut StdRng) -> String {
    let day = first_day() + Duration::days(rng.gen_range(0..35));
    format!(
        "{day}T{:02}:{:02}:00Z",
        rng.gen_range(8..18),
        rng.gen_range(0..60)
    )
}

async fn post(app: &TestApp, who: &NewSecret, body: &Value) {
    let response = app
        .xapi_as(who, Method::POST, "/xapi/statements")
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

async fn report(app: &TestApp, path: &str) -> Value {
    let response = app.report(path).send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

/// One row per key of a plain SQL count, as text for comparison.
async fn oracle(app: &TestApp, sql: &str, since: NaiveDate, until: NaiveDate) -> Vec<String> {
    let client = app.pool.get().await.unwrap();
    client
        .query(sql, &[&since, &until])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn seconds(value: &Value) -> String {
    format!("{:.3}", value.as_f64().unwrap())
}

#[tokio::test]
async fn reports_over_any_period_match_counts_over_the_days() {
    let app = spawn_app_with(|s| s.min_team_size = 1).await;
    let lms = app.tagged_writer("lms", &[("source", "lms")]).await;
    let browser = app.tagged_writer("browser", &[("source", "browser")]).await;
    let mut rng = StdRng::seed_from_u64(11);
    let mut courses: Vec<Value> = Vec::new();
    for _ in 0..6 {
        let batch: Vec<Value> = (0..40).map(|_| course_statement(&mut rng)).collect();
        post(&app, &lms, &json!(batch)).await;
        courses.extend(batch);
        let pages: Vec<Value> = (0..30).map(|_| page_statement(&mut rng)).collect();
        post(&app, &browser, &json!(pages)).await;
        // Void a course Statement now and then: the feed redoes it.
        let target = &courses[rng.gen_range(0..courses.len())];
        post(
            &app,
            &lms,
            &json!({"actor": {"mbox": "mailto:admin@example.org"},
                    "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
                    "object": {"objectType": "StatementRef", "id": target["id"]}}),
        )
        .await;
        report(&app, "/reports/modes?since=2026-02-02&until=2026-03-08").await;
    }

    let mut periods = vec![
        (first_day(), first_day() + Duration::days(34)),
        (
            first_day() + Duration::days(7),
            first_day() + Duration::days(13),
        ),
        (
            first_day() + Duration::days(2),
            first_day() + Duration::days(2),
        ),
        (
            first_day() + Duration::days(3),
            first_day() + Duration::days(5),
        ),
    ];
    for _ in 0..8 {
        let since = first_day() + Duration::days(rng.gen_range(-3..36));
        let last = since + Duration::days(rng.gen_range(0..25));
        periods.push((since, last));
    }
    let mut checked = BTreeMap::from([("weeks", 0), ("courses", 0), ("hosts", 0)]);
    for (since, last) in periods {
        let until = last + Duration::days(1);
        let query = format!("since={since}&until={last}");

        // Weekly store figures.
        let body = report(
            &app,
            &format!("/reports/modes?{query}&bucket=week&group=store"),
        )
        .await;
        let got: Vec<String> = body["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                format!(
                    "{}|{}|{}|{}|{}|{}",
                    r["bucket"].as_str().unwrap(),
                    r["mode"].as_str().unwrap(),
                    r["statements"],
                    r["activeLearners"],
                    r["distinctActivities"],
                    seconds(&r["reportedSeconds"])
                )
            })
            .collect();
        let want = oracle(
            &app,
            "SELECT concat_ws('|', d.bucket, d.mode, d.statements, d.learners,
                              coalesce(a.activities, 0), to_char(d.seconds, 'FM9999999990.000'))
               FROM (SELECT date_trunc('week', day)::date AS bucket, mode,
                            sum(statements) AS statements, count(DISTINCT learner) AS learners,
                            sum(seconds)::numeric AS seconds
                       FROM learning_days WHERE day >= $1 AND day < $2 GROUP BY 1, 2) d
               LEFT JOIN (SELECT date_trunc('week', day)::date AS bucket, mode,
                                 count(DISTINCT activity) AS activities
                            FROM learning_activity_days WHERE day >= $1 AND day < $2
                           GROUP BY 1, 2) a USING (bucket, mode)
              ORDER BY d.bucket, CASE d.mode WHEN 'directed' THEN 0 WHEN 'self_planned' THEN 1
                                              ELSE 2 END",
            since,
            until,
        )
        .await;
        let sorted = |mut rows: Vec<String>| {
            rows.sort();
            rows
        };
        *checked.get_mut("weeks").unwrap() += got.len();
        assert_eq!(sorted(got), sorted(want), "modes {query}");

        // Team figures: learners, Statements, directed courses and their completions.
        let body = report(&app, &format!("/reports/teams?{query}")).await;
        let got: Vec<String> = body["teams"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                let rate = t["directedCompletionRate"].as_f64();
                let courses = t["directedCourses"].as_i64().unwrap();
                let completed = rate.map_or(0, |r| (r * courses as f64).round() as i64);
                format!(
                    "{}|{}|{}|{}",
                    t["learners"], t["statements"], courses, completed
                )
            })
            .collect();
        let want = oracle(
            &app,
            "SELECT concat_ws('|', l.learners, l.statements, coalesce(c.courses, 0),
                              coalesce(c.completed, 0))
               FROM (SELECT count(DISTINCT learner) AS learners, sum(statements) AS statements
                       FROM learning_days WHERE day >= $1 AND day < $2) l
               LEFT JOIN (SELECT count(*) AS courses, count(*) FILTER (WHERE completed) AS completed
                            FROM (SELECT learner, course, bool_or(completions > 0) AS completed
                                    FROM learning_day_courses WHERE day < $2
                                   GROUP BY 1, 2 HAVING bool_or(day >= $1)) p) c ON true
              WHERE l.learners > 0",
            since,
            until,
        )
        .await;
        *checked.get_mut("courses").unwrap() += want.len();
        assert_eq!(got, want, "teams {query}");

        // Every listed host and Activity with its Statements (and a host's learners).
        let body = report(&app, &format!("/reports/sources?{query}&top=50")).await;
        let mut got: BTreeMap<String, String> = BTreeMap::new();
        for mode in body["modes"].as_array().unwrap() {
            let name = mode["mode"].as_str().unwrap();
            for host in mode["hosts"].as_array().unwrap() {
                got.insert(
                    format!("host|{name}|{}", host["key"].as_str().unwrap()),
                    format!("{}|{}", host["statements"], host["learners"]),
                );
            }
            for activity in mode["activities"].as_array().unwrap() {
                got.insert(
                    format!("activity|{name}|{}", activity["key"].as_str().unwrap()),
                    format!("{}", activity["statements"]),
                );
            }
        }
        let want: BTreeMap<String, String> = oracle(
            &app,
            "SELECT concat_ws('|', 'host', mode, host, sum(statements), count(DISTINCT learner))
               FROM learning_day_hosts WHERE day >= $1 AND day < $2 GROUP BY mode, host
             UNION ALL
             SELECT concat_ws('|', 'activity', mode, activity, sum(statements))
               FROM learning_activity_days WHERE day >= $1 AND day < $2 GROUP BY mode, activity",
            since,
            until,
        )
        .await
        .into_iter()
        .map(|row| {
            let parts: Vec<&str> = row.splitn(4, '|').collect();
            (parts[..3].join("|"), parts[3].to_string())
        })
        .collect();
        *checked.get_mut("hosts").unwrap() += want.keys().filter(|k| k.starts_with("host")).count();
        assert_eq!(got, want, "sources {query}");
    }
    assert!(checked.values().all(|n| *n >= 10), "{checked:?}");
}
