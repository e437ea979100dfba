//! `commonplace demo`: a realistic mixed data set posted through the real xAPI API, so
//! a newcomer sees populated reports and dashboard. Learners in teams take courses
//! (registrations, lessons, completions), visit pathway items, document goals and read
//! toward them, read on the web in sessions (the Statements the capture extension
//! sends, with the active time it measured), and share finds with their team. Every
//! Statement is classified by its shape, so one credential of any tags will do.

use chrono::{Datelike, Duration, NaiveDate, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::telemetry::statements_bar;
use crate::workload::Workload;

const TEAMS: [&str; 8] = [
    "Design",
    "Engineering",
    "Sales",
    "Support",
    "Finance",
    "People",
    "Marketing",
    "Operations",
];
const COURSES: [&str; 6] = [
    "Security basics",
    "Accessible design",
    "Data protection",
    "Leading meetings",
    "Customer conversations",
    "Budgeting",
];
const PATHWAYS: [&str; 3] = ["accessibility-basics", "new-manager", "data-literacy"];
const SITES: [&str; 8] = [
    "developer.mozilla.org",
    "en.wikipedia.org",
    "hbr.org",
    "nngroup.com",
    "martinfowler.com",
    "youtube.com",
    "medium.com",
    "podcasts.example.org",
];
/// `context.platform` as the capture extension writes it.
const BROWSERS: [&str; 2] = ["Chromium", "Firefox"];
const GOAL_TYPE: &str = "https://commonplace.dev/xapi/activity-types/goal";
const GOAL_EXTENSION: &str = "https://commonplace.dev/xapi/extensions/goal";
const STATEMENTS_PER_REQUEST: usize = 250;

#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// The xAPI endpoint, ending in `/xapi/`.
    pub endpoint: String,
    pub key: String,
    pub secret: String,
    pub learners: usize,
    pub weeks: u32,
    pub seed: u64,
}

/// The demo Statements: `weeks` weeks ending with the current one.
pub fn statements(learners: usize, weeks: u32, seed: u64, today: NaiveDate) -> Vec<Value> {
    let mut rng = StdRng::seed_from_u64(seed);
    let this_monday = today - Duration::days(today.weekday().num_days_from_monday() as i64);
    let first_monday = this_monday - Duration::weeks(weeks.saturating_sub(1) as i64);
    let mut out = Vec::new();
    for learner in 0..learners {
        let team = TEAMS[learner % TEAMS.len()];
        // Teams differ in how self-directed they are, learners within a team too.
        let leaning = 0.15
            + 0.6 * (learner % TEAMS.len()) as f64 / TEAMS.len() as f64
            + rng.gen_range(-0.1..0.1);
        let course = rng.gen_range(0..COURSES.len());
        let registration = uuid::Builder::from_random_bytes(rng.gen())
            .into_uuid()
            .to_string();
        let goal = rng
            .gen_bool(0.6)
            .then(|| format!("https://people.example.org/learner{learner}/goals/1"));
        let mut lessons_done = 0;
        for week in 0..weeks {
            let monday = first_monday + Duration::weeks(week as i64);
            let at = |rng: &mut StdRng| {
                let day = monday + Duration::days(rng.gen_range(0..5));
                day.and_hms_opt(rng.gen_range(8..17), rng.gen_range(0..60), 0)
                    .expect("valid time")
                    .and_utc()
            };
            let actor = Workload::learner(learner);
            let team_group = json!({"objectType": "Group", "name": team,
                "account": {"homePage": "https://people.example.org/teams", "name": team.to_lowercase()}});
            let base = |verb: &str, object: Value, when: chrono::DateTime<Utc>| {
                json!({"actor": actor, "verb": {"id": verb, "display": {"en-US": verb.rsplit('/').next()}},
                       "object": object, "timestamp": when.to_rfc3339(),
                       "context": {"team": team_group}})
            };
            if week == 0 {
                if let Some(goal) = &goal {
                    let mut s = base(
                        "https://commonplace.dev/xapi/verbs/set",
                        json!({"id": goal, "definition": {"type": GOAL_TYPE,
                            "name": {"en-US": format!("Grow in {}", COURSES[(course + 1) % COURSES.len()])}}}),
                        at(&mut rng),
                    );
                    s["context"]["extensions"] = json!({"https://commonplace.dev/xapi/extensions/organisational-goal":
                        "https://strategy.example.org/goals/skills"});
                    out.push(s);
                }
            }
            // Directed: the assigned course, a lesson or two a week, then completion.
            let course_id = format!("https://lms.example.org/courses/{course}");
            for _ in 0..rng.gen_range(0..=2) {
                if lessons_done > 6 {
                    break;
                }
                lessons_done += 1;
                let mut s = base(
                    "http://adlnet.gov/expapi/verbs/completed",
                    json!({"id": format!("{course_id}/lessons/{lessons_done}"),
                           "definition": {"type": "http://adlnet.gov/expapi/activities/lesson",
                                          "name": {"en-US": format!("{} lesson {lessons_done}", COURSES[course])}}}),
                    at(&mut rng),
                );
                s["result"] = json!({"completion": true,
                    "duration": format!("PT{}M", rng.gen_range(5..40))});
                s["context"]["registration"] = json!(registration);
                s["context"]["contextActivities"] = json!({"grouping": [{"id": course_id}]});
                out.push(s);
                if lessons_done == 6 && rng.gen_bool(0.7) {
                    let mut done = base(
                        "http://adlnet.gov/expapi/verbs/completed",
                        json!({"id": course_id, "definition": {"type": "http://adlnet.gov/expapi/activities/course",
                               "name": {"en-US": COURSES[course]}}}),
                        at(&mut rng),
                    );
                    done["context"]["registration"] = json!(registration);
                    out.push(done);
                }
            }
            // Guided: items of a curated pathway.
            if rng.gen_bool(0.5) {
                let pathway = PATHWAYS[learner % PATHWAYS.len()];
                let mut s = base(
                    "http://adlnet.gov/expapi/verbs/experienced",
                    json!({"id": format!("https://learn.example.org/pathways/{pathway}/items/{}", rng.gen_range(1..8))}),
                    at(&mut rng),
                );
                s["context"]["contextActivities"] = json!({"parent": [{"id": format!("https://learn.example.org/pathways/{pathway}"),
                    "definition": {"type": "https://commonplace.dev/xapi/activity-types/pathway"}}]});
                if rng.gen_bool(0.5) {
                    s["result"] = json!({"duration": format!("PT{}M", rng.gen_range(3..20))});
                }
                out.push(s);
            }
            // Web reading in sessions, as the capture extension records it: a few pages
            // minutes apart, each with the active time measured in the browser, some
            // toward the goal.
            let sessions = (leaning * 4.0 * rng.gen_range(0.5..1.5)).round() as usize;
            for _ in 0..sessions {
                let mut when = at(&mut rng);
                let toward_goal = goal.is_some() && rng.gen_bool(0.4);
                for _ in 0..rng.gen_range(1..5) {
                    let site = SITES[rng.gen_range(0..SITES.len())];
                    let page = json!({"id": format!("https://{site}/articles/{}", rng.gen_range(0..40)),
                        "definition": {"type": "https://w3id.org/xapi/acrossx/activities/webpage",
                                       "name": {"en-US": format!("An article on {site}")}}});
                    let mut s = base(
                        "https://w3id.org/xapi/dod-isd/verbs/read",
                        page.clone(),
                        when,
                    );
                    s["context"]["extensions"] =
                        json!({"https://commonplace.dev/xapi/extensions/host": site});
                    s["context"]["platform"] = json!(BROWSERS[learner % BROWSERS.len()]);
                    // Read for part of the time until the next page.
                    let minutes_to_next_page = rng.gen_range(2..15);
                    let active_seconds = rng.gen_range(30..minutes_to_next_page * 60);
                    s["result"] = json!({"duration": format!("PT{active_seconds}S")});
                    if toward_goal {
                        s["context"]["extensions"][GOAL_EXTENSION] = json!(goal);
                    }
                    out.push(s);
                    if rng.gen_bool(0.1) {
                        when += Duration::minutes(1);
                        out.push(base("http://adlnet.gov/expapi/verbs/shared", page, when));
                    }
                    when += Duration::minutes(minutes_to_next_page);
                }
            }
        }
    }
    out
}

/// Posts the demo Statements, counting them on a progress bar (stderr, terminals
/// only); returns how many were stored.
pub async fn run(options: &DemoOptions) -> Result<usize, String> {
    let endpoint = options.endpoint.trim_end_matches('/');
    let scheme = endpoint.split_once("://").map(|(scheme, _)| scheme);
    if !matches!(scheme, Some("http" | "https")) {
        return Err(format!(
            "the endpoint '{}' is not an http:// or https:// URL",
            options.endpoint
        ));
    }
    let all = statements(
        options.learners,
        options.weeks,
        options.seed,
        Utc::now().date_naive(),
    );
    let url = format!("{endpoint}/statements");
    // An address that drops packets would otherwise leave the demo waiting for minutes.
    let client = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {}", causes(&e)))?;
    let bar = statements_bar(all.len() as u64, "posting");
    let mut stored = 0;
    for batch in all.chunks(STATEMENTS_PER_REQUEST) {
        let response = client
            .post(&url)
            .basic_auth(&options.key, Some(&options.secret))
            .header("X-Experience-API-Version", "2.0.0")
            .json(batch)
            .send()
            .await
            .map_err(|e| unreachable(&url, &e))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(format!("POST {url}: {status}: {body}"));
        }
        stored += batch.len();
        bar.inc(batch.len() as u64);
    }
    bar.finish_and_clear();
    Ok(stored)
}

/// Why a request got no answer, with a hint at what to check.
fn unreachable(url: &str, e: &reqwest::Error) -> String {
    let hint = if e.is_timeout() {
        "; no answer in time: is the address right and the port open?"
    } else if e.is_connect() && url.starts_with("https:") {
        "; is the LRS running at that address and port, and is its certificate valid \
         for that host name and issued by a CA trusted here (the system's store, or \
         SSL_CERT_FILE)?"
    } else if e.is_connect() {
        "; is the LRS running at that address and port?"
    } else {
        ""
    };
    // reqwest's own text only repeats the URL; its causes say what went wrong.
    let why = std::error::Error::source(e).map_or_else(|| e.to_string(), causes);
    format!("cannot reach {url}: {why}{hint}")
}

/// An error and its causes on one line, each said once.
fn causes(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xapi::{parse_statement, Version};

    #[test]
    fn the_demo_is_valid_repeatable_and_mixed() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 12).unwrap();
        let all = statements(16, 4, 1, today);
        assert_eq!(all, statements(16, 4, 1, today));
        for s in &all {
            parse_statement(s.clone(), Version::V2_0_0, "statement")
                .unwrap_or_else(|e| panic!("{e}: {s}"));
            let day = &s["timestamp"].as_str().unwrap()[..10];
            assert!(("2026-02-16".."2026-03-14").contains(&day), "{day}");
        }
        let rules = crate::modes::Ruleset::default_rules();
        let writer = crate::modes::Writer {
            store: "default",
            credential_key: "k",
            credential_name: "demo",
            tags: &Default::default(),
        };
        let mut modes: Vec<&str> = all
            .iter()
            .map(|s| rules.classify(s, &writer).mode.as_str())
            .collect();
        modes.sort();
        modes.dedup();
        assert_eq!(
            modes,
            ["directed", "guided", "self_directed", "self_planned"]
        );
    }
}
