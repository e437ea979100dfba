//! `/dashboard/statements`: the Statements behind a learner's or a team's figures, each
//! with the mode and rule `/reports/explain` gives, a rule change followed by
//! `commonplace modes reclassify` showing on the page, paging, and the privacy rules
//! (opted-out learners never listed, hidden teams not opened).

use std::collections::BTreeSet;

use commonplace::auth::NewSecret;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{error_of, spawn_app_with, TestApp};

fn read_by(learner: &str, page: &str) -> Value {
    json!({
        "actor": {"mbox": format!("mailto:{learner}@example.org")},
        "verb": {"id": "https://w3id.org/xapi/dod-isd/verbs/read", "display": {"en": "read"}},
        "object": {"id": format!("https://news.example.org/{page}"),
                   "definition": {"type": "https://w3id.org/xapi/acrossx/activities/webpage",
                                  "name": {"en": format!("News {page}")}}}
    })
}

/// POSTs Statements as `who` and returns their ids.
async fn post(app: &TestApp, who: &NewSecret, statements: Vec<Value>) -> Vec<String> {
    let response = app
        .xapi_as(who, Method::POST, "/xapi/statements")
        .json(&Value::Array(statements))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn page(app: &TestApp, path: &str) -> (u16, String) {
    let response = app.report(path).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// `(statement id, mode, rule)` of every listed row of a page.
fn rows(html: &str) -> Vec<(String, String, String)> {
    html.split("<tr data-statement=\"")
        .skip(1)
        .map(|row| {
            let attribute = |name: &str| {
                let start = row.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
                row[start..].split('"').next().unwrap().to_string()
            };
            (
                row.split('"').next().unwrap().to_string(),
                attribute("data-mode"),
                attribute("data-rule"),
            )
        })
        .collect()
}

fn ids(html: &str) -> BTreeSet<String> {
    rows(html).into_iter().map(|(id, _, _)| id).collect()
}

#[tokio::test]
async fn a_rule_change_and_reclassify_show_on_the_learners_statements() {
    let app = spawn_app_with(|s| s.min_team_size = 1).await;
    let browser = app
        .tagged_writer("extension", &[("source", "browser")])
        .await;
    let ada: BTreeSet<String> = post(
        &app,
        &browser,
        (0..3).map(|i| read_by("ada", &format!("a{i}"))).collect(),
    )
    .await
    .into_iter()
    .collect();
    post(&app, &browser, vec![read_by("bob", "b0")]).await;

    // Each of Ada's Statements, none of Bob's, with the label the ingest rules gave.
    let path = "/dashboard/statements?learner=mailto:ada@example.org";
    let (status, before) = page(&app, path).await;
    assert_eq!(status, 200, "{before}");
    assert_eq!(ids(&before), ada);
    for (id, mode, rule) in rows(&before) {
        assert_eq!(
            (mode.as_str(), rule.as_str()),
            ("self_directed", "browser-credential")
        );
        let explained: Value = app
            .report(&format!("/reports/explain?statementId={id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            (explained["mode"].as_str(), explained["ruleId"].as_str()),
            (Some("self_directed"), Some("browser-credential"))
        );
        assert!(before.contains(&format!("href=\"/reports/explain?statementId={id}\"")));
        assert!(before.contains(&format!("href=\"/xapi/statements?statementId={id}\"")));
    }
    assert!(
        before.contains(">News a0<"),
        "the object by its name: {before}"
    );
    // The same learner through the xAPI: an agent query that answers their Statements.
    let start = before.find("class=\"xapi-link\" href=\"").unwrap() + 24;
    let link = before[start..]
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    let listed: Value = app
        .xapi(Method::GET, &link)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let through_xapi: BTreeSet<String> = listed["statements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(through_xapi, ada);

    // News becomes guided learning: after reclassifying, the page says so.
    let rules = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        rules.path(),
        "[[rule]]\nid = \"news-site\"\nmode = \"guided\"\n\
         match = { object_host = [\"news.example.org\"] }\n",
    )
    .unwrap();
    app.command_awaited(&[
        "modes",
        "reclassify",
        "--modes-config",
        rules.path().to_str().unwrap(),
    ])
    .await
    .unwrap();
    let (_, after) = page(&app, path).await;
    assert_eq!(ids(&after), ada);
    for (_, mode, rule) in rows(&after) {
        assert_eq!((mode.as_str(), rule.as_str()), ("guided", "news-site"));
    }
    // The mode filter reads the relabelled figures too.
    let (_, guided) = page(&app, &format!("{path}&mode=guided")).await;
    assert_eq!(ids(&guided), ada);
    let (_, self_directed) = page(&app, &format!("{path}&mode=self_directed")).await;
    assert!(ids(&self_directed).is_empty(), "{self_directed}");
}

#[tokio::test]
async fn a_team_lists_its_learners_statements_by_name_a_page_at_a_time() {
    let app = spawn_app_with(|s| s.min_team_size = 2).await;
    let browser = app
        .tagged_writer("extension", &[("source", "browser")])
        .await;
    app.import_roster(
        "learner,name,team,manager,opt_out\n\
         mailto:ada@example.org,Ada Lovelace,Research,,\n\
         mailto:bob@example.org,Bob Babbage,Research,,\n\
         mailto:cara@example.org,Cara Opted,Research,,yes\n\
         mailto:dan@example.org,Dan Alone,Solo,,\n",
    )
    .await;
    let mut research: BTreeSet<String> = post(
        &app,
        &browser,
        (0..40).map(|i| read_by("ada", &format!("a{i}"))).collect(),
    )
    .await
    .into_iter()
    .collect();
    research.extend(
        post(
            &app,
            &browser,
            (0..15).map(|i| read_by("bob", &format!("b{i}"))).collect(),
        )
        .await,
    );
    let cara = post(&app, &browser, vec![read_by("cara", "c0")]).await;
    post(&app, &browser, vec![read_by("dan", "d0")]).await;

    // The team table links each team to its Statements.
    let (_, dashboard) = page(&app, "/dashboard").await;
    let start = dashboard
        .find("href=\"/dashboard/statements?team=Research")
        .unwrap()
        + 6;
    let link = dashboard[start..]
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    let (status, first) = page(&app, &link).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(rows(&first).len(), 50);
    assert!(first.contains("rel=\"next\""));
    assert!(first.contains(">Ada Lovelace<") && first.contains(">Bob Babbage<"));
    assert!(!first.contains("mbox:mailto:"), "learners by name: {first}");
    let (_, second) = page(&app, &format!("{link}&page=2")).await;
    assert_eq!(rows(&second).len(), 5);
    assert!(!second.contains("rel=\"next\"") && second.contains("rel=\"prev\""));
    let listed: BTreeSet<String> = ids(&first).union(&ids(&second)).cloned().collect();
    // Every Statement of the team's learners, the opted-out learner's never.
    assert_eq!(listed, research);
    assert!(!first.contains("Cara") && !second.contains(&cara[0]));

    // Not by learner either; a team below the minimum size is not opened.
    let (status, _, message) = error_of(
        app.report("/dashboard/statements?learner=mailto:cara@example.org")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 403, "{message}");
    for (query, expected) in [
        ("team=Solo", 404),
        ("team=Nowhere", 404),
        ("learner=mailto:ada@example.org&team=Research", 400),
        ("", 400),
        ("team=Research&mode=sideways", 400),
        ("team=Research&page=0", 400),
        ("team=Research&colour=red", 400),
        ("learner=ada", 400),
        ("team=Research&since=yesterday", 400),
    ] {
        let response = app
            .report(&format!("/dashboard/statements?{query}"))
            .send()
            .await
            .unwrap();
        let (status, code, message) = error_of(response).await;
        assert_eq!(status, expected, "{query}: {code} {message}");
    }
}
