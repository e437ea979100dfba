//! Every link of a view answers, each section links to the report and CSV of its
//! figures, each listed Statement has the mode /reports/explain gives it, and no view
//! is wider than a phone; a screenshot of each view is kept under target/tmp/.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{in_chromium, insight_app, report, text, view, views, Period};
use crate::helpers::TestApp;

/// A link of a view, as a path of this server (`None` for another site's page).
fn local_path(app: &TestApp, href: &str) -> Option<String> {
    href.strip_prefix(&app.url("")).map(str::to_string)
}

/// Every link of `view` to this server answers 200: reports and pages with the
/// reports' credentials, xAPI links with the version header too, CSV links as CSV.
/// Links elsewhere are web pages a learner read (not fetched here).
async fn check_links(app: &TestApp, view: &Value) {
    let mut seen = BTreeSet::new();
    for link in view["links"].as_array().unwrap() {
        let href = text(&link["href"]);
        let Some(path) = local_path(app, &href) else {
            assert!(
                href.starts_with("https://"),
                "{} links to {href}",
                view["name"]
            );
            continue;
        };
        if !seen.insert(path.clone()) {
            continue;
        }
        let request = if path.starts_with("/xapi/") {
            app.xapi(reqwest::Method::GET, &path)
        } else {
            app.report(&path)
        };
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "{} links to {path}", view["name"]);
        if path.contains("format=csv") {
            let kind = response.headers()["content-type"].to_str().unwrap();
            assert!(kind.starts_with("text/csv"), "{path}: {kind}");
        }
    }
    assert!(seen.len() > 3, "{}: {seen:?}", view["name"]);
}

/// The sections of `view` holding marks: each links to the report and the CSV of its
/// figures, for the period shown (or the one before it, for a comparison).
fn check_sections_link_their_reports(view: &Value, period: &Period) {
    let sections: BTreeSet<String> = view["marks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["section"].as_str().map(str::to_string))
        .collect();
    assert!(!sections.is_empty(), "{} has no marks", view["name"]);
    let periods = [period.query(), period.previous().query()];
    for section in &sections {
        for class in ["report-link", "csv-link"] {
            let links: Vec<String> = view["links"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|l| l["section"] == section.as_str() && l["class"] == class)
                .map(|l| text(&l["href"]))
                .collect();
            assert!(!links.is_empty(), "section {section} has no {class}");
            for href in links {
                assert!(href.contains("/reports/"), "{section}: {href}");
                assert!(
                    periods.iter().any(|p| href.contains(p.as_str())),
                    "{section}: {href} is not for the period shown"
                );
            }
        }
    }
}

#[tokio::test]
async fn every_link_answers_and_every_view_fits_a_phone() {
    let (app, period) = insight_app().await;
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let shown = in_chromium(&app, &views(&app, &period), artifacts).await;

    for name in ["dashboard", "concierge", "statements"] {
        check_links(&app, view(&shown, name, "desktop")).await;
    }
    for name in ["dashboard", "concierge"] {
        check_sections_link_their_reports(view(&shown, name, "desktop"), &period);
    }

    // Each listed Statement with the mode and rule /reports/explain gives it.
    let rows: Vec<&Value> = view(&shown, "statements", "desktop")["marks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["tag"] == "tr")
        .map(|m| &m["data"])
        .collect();
    assert!(rows.len() > 3, "{rows:?}");
    for row in rows {
        let id = text(&row["statement"]);
        let explained = report(&app, &format!("/reports/explain?statementId={id}")).await;
        assert_eq!(
            (text(&row["mode"]), text(&row["rule"])),
            (text(&explained["mode"]), text(&explained["ruleId"])),
            "{id}"
        );
    }

    for v in &shown {
        let screenshot = PathBuf::from(text(&v["screenshot"]));
        let size = std::fs::metadata(&screenshot).map(|m| m.len()).unwrap_or(0);
        assert!(size > 1000, "no screenshot at {}", screenshot.display());
        assert!(screenshot.starts_with(artifacts));
        println!("{} at {}: {}", v["name"], v["width"], screenshot.display());
        if v["width"] == "phone" {
            assert_eq!(
                v["overflows"], false,
                "{} is {} px wide at 375 px; past the edge: {}",
                v["name"], v["scrollWidth"], v["reachingPast"]
            );
            assert_eq!(v["innerWidth"], 375, "{}: no phone viewport", v["name"]);
        }
    }
}
