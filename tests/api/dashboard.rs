//! The dashboard: 401 with a prompt without credentials, the reports' checks of the
//! period, and, loaded in headless Chromium, charts, team table and learner picker that
//! carry the same numbers and learners as the API for the chosen period. The screenshot
//! is kept under the target directory as a test artifact.

use serde_json::Value;

use crate::helpers::{chromium, post_demo, spawn_app_with, TestApp};

/// The demo's Statements, dated from `today` (the caller's period is dated from the same
/// day, so a run across midnight stays consistent).
async fn demo_app(today: chrono::NaiveDate) -> TestApp {
    let app = spawn_app_with(|s| s.min_team_size = 1).await;
    post_demo(&app, 16, 4, 9, today).await;
    app
}

async fn report(app: &TestApp, path: &str) -> Value {
    app.http
        .get(app.url(path))
        .basic_auth(&app.key, Some(&app.secret))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The `data-` attribute values of `attribute` on elements with `marker` in their tag.
fn attributes(dom: &str, marker: &str, attribute: &str) -> Vec<String> {
    dom.split('<')
        .filter(|tag| tag.contains(marker))
        .filter_map(|tag| {
            let start = tag.find(&format!("{attribute}=\""))? + attribute.len() + 2;
            Some(tag[start..].split('"').next()?.to_string())
        })
        .collect()
}

#[tokio::test]
async fn without_credentials_the_dashboard_asks_for_them() {
    let app = spawn_app_with(|_| {}).await;
    let response = app.http.get(app.url("/dashboard")).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
}

async fn dashboard_status_and_body(app: &TestApp, query: &str) -> (u16, String) {
    let response = app
        .report(&format!("/dashboard{query}"))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn the_period_is_checked_as_in_the_reports() {
    let app = spawn_app_with(|_| {}).await;
    for query in [
        "?since=yesterday",
        "?until=2026-02-30",
        "?since=2026-03-02&until=2026-03-01",
        // Longer than ten years; years outside 1 to 9999.
        "?since=0001-01-01&until=9999-12-31",
        "?since=-200000-01-01&until=2026-03-01",
        "?until=+10000-01-01",
    ] {
        let (status, body) = dashboard_status_and_body(&app, query).await;
        let (api_status, api_body) = {
            let response = app
                .report(&format!("/reports/modes{query}"))
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        };
        assert_eq!((status, &body), (400, &api_body), "{query}");
        assert_eq!(api_status, 400);
    }
    // The form sends empty fields for "not given": the default period, ending today.
    let (status, body) = dashboard_status_and_body(&app, "?since=&until=&learner=").await;
    assert_eq!(status, 200);
    let today = chrono::Utc::now().date_naive();
    let since = today - chrono::Duration::days(83);
    assert!(
        body.contains(&format!("data-since=\"{since}\" data-until=\"{today}\"")),
        "{body}"
    );
    assert!(
        body.contains("<input type=\"date\" name=\"since\""),
        "{body}"
    );
    for query in ["?team=Design", "?team="] {
        let (status, _) = dashboard_status_and_body(&app, query).await;
        assert_eq!(status, 400, "{query}");
    }
    // A learner that is no IFI is refused as the learner report refuses it.
    let (status, body) = dashboard_status_and_body(&app, "?learner=nobody").await;
    assert_eq!(status, 400);
    assert!(
        body.contains("learner: 'nobody' is not a learner IFI"),
        "{body}"
    );
}

#[tokio::test]
async fn chromium_renders_the_charts_with_the_api_numbers() {
    let today = chrono::Utc::now().date_naive();
    let app = demo_app(today).await;
    let period = format!(
        "since={}&until={}",
        today - chrono::Duration::days(13),
        today - chrono::Duration::days(1)
    );

    // learner5 is in the picker until they opt out; learner3 is listed by roster name.
    let (_, before) = dashboard_status_and_body(&app, &format!("?{period}")).await;
    assert!(before.contains("data-learner=\"mbox:mailto:learner5@example.org\""));
    app.import_roster(
        "learner,name,team,manager,opt_out\n\
         mailto:learner3@example.org,Ada Three,Support,,\n\
         mailto:learner5@example.org,Bob Five,People,,yes\n",
    )
    .await;

    let url = format!(
        "http://{}:{}@{}/dashboard?{period}&learner=mailto:learner3@example.org",
        app.key, app.secret, app.address
    );
    let output = chromium(vec!["--dump-dom".into(), url.clone()]).await;
    let dom = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(dom.contains("class=\"weekly-modes\""), "{dom}");
    let shown_period: Vec<String> = ["data-since", "data-until"]
        .iter()
        .flat_map(|a| attributes(&dom, "class=\"period\"", a))
        .collect();
    assert_eq!(
        format!("since={}&until={}", shown_period[0], shown_period[1]),
        period
    );

    // The picker lists the learners the API reports for the period, opted-out ones
    // never, and has the chosen learner selected.
    let by_learner = report(&app, &format!("/reports/modes?group=learner&{period}")).await;
    let mut expected: Vec<String> = by_learner["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["group"].as_str().unwrap().to_string())
        .collect();
    expected.sort();
    expected.dedup();
    let mut listed = attributes(&dom, "option value", "data-learner");
    listed.sort();
    assert_eq!(listed, expected);
    assert!(listed.len() > 4, "{listed:?}");
    assert!(
        !dom.contains("learner5@example.org"),
        "opted-out learner listed"
    );
    let chosen = dom
        .split("<option")
        .find(|o| o.contains("learner3@example.org"))
        .unwrap();
    assert!(
        chosen.contains("selected") && chosen.contains(">Ada Three ("),
        "{chosen}"
    );

    // Every weekly bar is the API's statements for that week and mode.
    let modes = report(&app, &format!("/reports/modes?bucket=week&{period}")).await;
    let rows = modes["rows"].as_array().unwrap();
    let bars = attributes(&dom, "class=\"bar\" data-week", "data-statements");
    let weeks = attributes(&dom, "class=\"bar\" data-week", "data-week");
    let bar_modes = attributes(&dom, "class=\"bar\" data-week", "data-mode");
    let weekly_bars = rows.len();
    assert!(weekly_bars > 2, "{modes}");
    // The chart stacks modes from most to least directed, the API sorts them by name:
    // compare week × mode → statements.
    let mut charted: Vec<String> = (0..weekly_bars)
        .map(|i| format!("{} {} {}", weeks[i], bar_modes[i], bars[i]))
        .collect();
    let mut api: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{} {} {}",
                r["bucket"].as_str().unwrap(),
                r["mode"].as_str().unwrap(),
                r["statements"]
            )
        })
        .collect();
    charted.sort();
    api.sort();
    assert_eq!(charted, api);
    // The learner's own chart follows.
    assert!(bars.len() > weekly_bars, "no learner drill-down bars");

    // The team table: one row per team, with the API's statements.
    let teams = report(&app, &format!("/reports/teams?{period}")).await;
    let expected: Vec<String> = teams["teams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| format!("{}={}", t["team"].as_str().unwrap(), t["statements"]))
        .collect();
    let shown: Vec<String> = attributes(&dom, "tr data-team", "data-team")
        .into_iter()
        .zip(attributes(&dom, "tr data-team", "data-statements"))
        .map(|(team, n)| format!("{team}={n}"))
        .collect();
    assert_eq!(shown.len(), 8);
    assert_eq!(shown, expected);
    assert!(dom.contains("/reports/teams?") && dom.contains("format=csv"));

    let artifact = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    let _ = std::fs::remove_file(&artifact);
    let output = chromium(vec![
        format!("--screenshot={}", artifact.display()),
        "--window-size=1280,900".into(),
        url,
    ])
    .await;
    assert!(
        artifact.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    println!("dashboard screenshot: {}", artifact.display());
}

/// Every `href` of `class` in a page, unescaped.
fn links(html: &str, class: &str) -> Vec<String> {
    html.split(&format!("class=\"{class}\" href=\""))
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().replace("&amp;", "&"))
        .collect()
}

#[tokio::test]
async fn the_concierge_lists_link_their_csvs_and_never_show_opted_out_learners() {
    let app = demo_app(chrono::Utc::now().date_naive()).await;
    app.import_roster(
        "learner,name,team,manager,opt_out\n\
         mailto:learner3@example.org,Ada Three,Support,,\n\
         mailto:learner5@example.org,Bob Five,People,,yes\n",
    )
    .await;
    let (status, page) =
        dashboard_status_and_body(&app, "/concierge?learner=mailto:learner3@example.org").await;
    assert_eq!(status, 200, "{page}");
    for id in ["stale-goals", "colleagues", "unfinished"] {
        assert!(page.contains(&format!("<section id=\"{id}\">")), "{id}");
    }
    assert!(page.contains("Colleagues of Ada Three"), "{page}");
    // Each list's CSV, the colleagues' for the learner asked about, answers as CSV.
    let csvs = links(&page, "csv-link");
    assert_eq!(csvs.len(), 3, "{csvs:?}");
    assert!(csvs
        .iter()
        .any(|l| l.starts_with("/reports/concierge/colleagues?learner=mailto%3Alearner3")));
    for link in &csvs {
        let response = app.report(link).send().await.unwrap();
        assert_eq!(response.status(), 200, "{link}");
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv"));
    }
    assert!(!page.contains("learner5@example.org") && !page.contains("Bob Five"));

    // Asked about the opted-out learner, the page says so and lists none of theirs.
    let (status, page) =
        dashboard_status_and_body(&app, "/concierge?learner=mailto:learner5@example.org").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("opted out of learner-level reports"),
        "{page}"
    );
    assert!(!page.contains("learner5@example.org") && !page.contains("Bob Five"));

    for query in [
        "?weeks=0",
        "?weeks=many",
        "?learner=mailto:learner3@example.org&goal=https://goals.example.org/1",
        "?learner=nobody",
        "?team=Support",
    ] {
        let (status, body) = dashboard_status_and_body(&app, &format!("/concierge{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body.contains("invalid_parameter"), "{body}");
    }
}
