//! The Capture browser extension (src/capture/extension/) in real headless Chromium and
//! Firefox, driven through tests/js/capture-driver.js (puppeteer-core, pinned in
//! tests/js), against the real server: a learner enrols from the invitation page, reads
//! pages of a test site served on loopback under several host names, watches a video in
//! an embedded player, and manages what was recorded from the popup; the reading shows
//! on the dashboard. Every check is made on the server: the Statements it stores, the
//! requests it counts and the pages it serves.

#[path = "capture_extension/enrolment.rs"]
mod enrolment;
#[path = "capture_extension/firefox.rs"]
mod firefox;
#[path = "capture_extension/harness.rs"]
mod harness;
#[path = "api/helpers.rs"]
mod helpers;

use std::path::Path;
use std::time::Instant;

use serde_json::{json, Value};

use harness::{extension_dir, serve_site, Browser, Lrs, Site};
use helpers::{install_js_packages, js_dir};

const LEARNER: &str = "mailto:ada@example.org";
const READ: &str = "https://w3id.org/xapi/dod-isd/verbs/read";
const WATCHED: &str = "https://w3id.org/xapi/acrossx/verbs/watched";
const SHARED: &str = "http://adlnet.gov/expapi/verbs/shared";
const VOIDED: &str = "http://adlnet.gov/expapi/verbs/voided";
const SET: &str = "https://commonplace.dev/xapi/verbs/set";
const GOAL_EXTENSION: &str = "https://commonplace.dev/xapi/extensions/goal";
const HOST_EXTENSION: &str = "https://commonplace.dev/xapi/extensions/host";
/// How far a recorded duration may be from the time the test kept the page in front.
const TOLERANCE_SECONDS: f64 = 2.0;
/// How long the test reads a page that the extension would record: the store's dwell
/// (2 s, `store_inviting_ada`) and the tolerance again. The driver's time starts before
/// the navigation, the extension's clock once its worker has seen the tab change. On a
/// busy CI machine a page read one second past the dwell once went unrecorded, most
/// likely because that took longer than the second (the extension's state was not
/// captured).
const PAST_THE_DWELL: f64 = 4.0;

/// Seconds of an ISO 8601 duration as the extension writes it (`PT1M2.5S`).
fn seconds_of(duration: &Value) -> f64 {
    let text = duration.as_str().expect("a duration");
    let mut total = 0.0;
    let mut number = String::new();
    for c in text.trim_start_matches("PT").chars() {
        match c {
            'H' => total += number.parse::<f64>().unwrap() * 3600.0,
            'M' => total += number.parse::<f64>().unwrap() * 60.0,
            'S' => total += number.parse::<f64>().unwrap(),
            _ => {
                number.push(c);
                continue;
            }
        }
        number.clear();
    }
    total
}

fn assert_about(statement: &Value, active_seconds: f64) {
    let recorded = seconds_of(&statement["result"]["duration"]);
    assert!(
        (recorded - active_seconds).abs() <= TOLERANCE_SECONDS,
        "recorded {recorded} s, the page was in front {active_seconds} s: {statement:#}"
    );
}

/// The only Statement with this verb about `object`, once it arrived.
async fn only(lrs: &Lrs, verb: &str, object: &str) -> Value {
    let found = lrs.until_stored(verb, object, 1).await;
    assert_eq!(found.len(), 1, "{found:#?}");
    found[0].clone()
}

/// Enrols from the invitation's page, which opens the options page filled in; one click
/// connects.
async fn enrol_from_invitation(browser: &mut Browser, public_url: &str, invitation: &Value) {
    let enrolled = browser
        .run("enrolFromPage", json!({"url": invitation["url"]}))
        .await;
    assert_eq!(enrolled["prefilled"]["code"], invitation["code"]);
    assert_eq!(enrolled["prefilled"]["lrs"], format!("{public_url}/"));
    assert_eq!(enrolled["status"], "Connected as Ada Lovelace.");
}

/// Reads `story` (a page of `host` whose canonical URL is /articles/accessible-forms)
/// past the dwell: one `read` by Ada arrives, under the canonical URL, for the time it
/// was in front, from a browser whose platform starts with `platform`. That Statement.
async fn read_past_the_dwell(
    lrs: &Lrs,
    browser: &mut Browser,
    site: &Site,
    (host, story): (&str, &str),
    platform: &str,
) -> Value {
    let story = site.url(host, story);
    let canonical = site.url(host, "/articles/accessible-forms");
    let active = browser.read("main", &story, PAST_THE_DWELL).await;
    let read = only(lrs, READ, &canonical).await;
    assert_about(&read, active);
    assert_eq!(read["actor"]["mbox"], LEARNER);
    assert_eq!(
        read["object"]["definition"]["name"]["en"],
        "Accessible forms"
    );
    assert_eq!(
        read["object"]["definition"]["type"],
        "https://w3id.org/xapi/acrossx/activities/webpage"
    );
    assert_eq!(
        read["context"]["extensions"][HOST_EXTENSION],
        format!("{host}.test")
    );
    assert!(
        read["context"]["platform"]
            .as_str()
            .unwrap()
            .starts_with(platform),
        "{read}"
    );
    read
}

/// A store with Ada on its roster (team Design), `mail.test` denied, a 2 s minimum
/// dwell, and an invitation for Ada: the server, its public URL and the invitation.
async fn store_inviting_ada() -> (Lrs, String, Value) {
    let lrs = Lrs::start().await;
    let roster = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        roster.path(),
        "learner,name,team,manager,opt_out,also\n\
         mailto:ada@example.org,Ada Lovelace,Design,mailto:grace@example.org,,\n",
    )
    .unwrap();
    lrs.cli(&["roster", "import", roster.path().to_str().unwrap()])
        .await;
    lrs.cli(&["hosts", "deny", "mail.test"]).await;
    lrs.cli(&["capture", "policy", "--minimum-dwell", "2"])
        .await;
    let public_url = lrs.url("");
    let invitation: Value = serde_json::from_str(
        &lrs.cli(&[
            "capture",
            "invite",
            "--learner",
            LEARNER,
            "--json",
            "--public-url",
            &public_url,
        ])
        .await,
    )
    .unwrap();
    (lrs, public_url, invitation)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_extension_records_reading_under_the_learners_control() {
    let (mut lrs, public_url, invitation) = store_inviting_ada().await;
    let site = serve_site();
    let code = invitation["code"].as_str().unwrap();
    let mut browser = Browser::launch().await;

    enrol_from_invitation(&mut browser, &public_url, &invitation).await;
    let again = lrs
        .http
        .post(lrs.url("/capture/enrol"))
        .json(&json!({"code": code}))
        .send()
        .await
        .unwrap();
    let (status, error, _) = helpers::error_of(again).await;
    assert_eq!((status, error.as_str()), (410, "enrolment_code_used"));

    let story = "/stories/42?utm_source=newsletter&fbclid=abc#comments";
    let read = read_past_the_dwell(&lrs, &mut browser, &site, ("news", story), "Chromium ").await;
    // The dashboard shows Ada's reading: the site among her top sources, with the time
    // the extension reported.
    let dashboard = lrs.dashboard(LEARNER).await;
    let source = dashboard_source(&dashboard, LEARNER, "news.test");
    assert!(source.contains("data-statements=\"1\""), "{source}");
    assert_eq!(
        source_reported_seconds(source),
        seconds_of(&read["result"]["duration"])
    );

    // Left before the dwell: nothing. (The page read after it arrives in order, so the
    // short one would have arrived first.)
    let glance = site.url("news", "/articles/a-glance");
    browser.read("main", &glance, 0.8).await;
    let tracked = site.url(
        "news",
        "/articles/plain-page?id=7&utm_medium=email&gclid=xyz#top",
    );
    let active = browser.read("main", &tracked, PAST_THE_DWELL).await;
    let plain = only(&lrs, READ, &site.url("news", "/articles/plain-page?id=7")).await;
    assert_about(&plain, active);
    assert!(lrs.about(READ, &glance).await.is_empty());

    // The browser stops the service worker in the middle of a visit (as it does with
    // idle workers): the time before and after still counts, since the timing lives in
    // session storage.
    let across = site.url("news", "/articles/read-across-a-worker-restart");
    let started = Instant::now();
    browser
        .run(
            "read",
            json!({"tab": "main", "url": across, "seconds": 2.0, "leave": false}),
        )
        .await;
    browser.run("stopWorker", json!({})).await;
    browser
        .run("front", json!({"tab": "main", "seconds": 2.0}))
        .await;
    let in_front = started.elapsed().as_secs_f64();
    browser
        .run("leave", json!({"tab": "main", "url": across}))
        .await;
    assert_about(&only(&lrs, READ, &across).await, in_front);

    // A tab in the background accrues no time: the first tab is in front twice, with
    // another tab read in between.
    let first = site.url("news", "/articles/first-tab");
    let second = site.url("news", "/articles/second-tab");
    let mut in_front = browser
        .run(
            "read",
            json!({"tab": "main", "url": first, "seconds": PAST_THE_DWELL / 2.0, "leave": false}),
        )
        .await["activeSeconds"]
        .as_f64()
        .unwrap();
    let other = browser
        .run(
            "read",
            json!({"tab": "other", "url": second, "seconds": 5.0, "leave": false}),
        )
        .await["activeSeconds"]
        .as_f64()
        .unwrap();
    in_front += browser
        .run(
            "front",
            json!({"tab": "main", "seconds": PAST_THE_DWELL / 2.0}),
        )
        .await["activeSeconds"]
        .as_f64()
        .unwrap();
    browser
        .run("leave", json!({"tab": "main", "url": first}))
        .await;
    browser
        .run("leave", json!({"tab": "other", "url": second}))
        .await;
    assert_about(&only(&lrs, READ, &first).await, in_front);
    assert_about(&only(&lrs, READ, &second).await, other);

    // Never recorded: a host the store denies, a host Ada blocked, anything while
    // paused, a private window. Not one request reaches the Statement resource.
    let requests = lrs.statement_requests().await;
    let denied = site.url("inbox.mail", "/articles/denied-mail");
    browser.read("main", &denied, PAST_THE_DWELL).await;
    let blocked_now = browser
        .run(
            "options",
            json!({"action": "block", "hosts": ["blog.test"]}),
        )
        .await;
    assert_eq!(blocked_now["status"], "Never recorded: blog.test.");
    let blocked = site.url("blog", "/articles/blocked-by-ada");
    browser.read("main", &blocked, PAST_THE_DWELL).await;
    let paused = browser
        .run("options", json!({"action": "pause", "until": "hour"}))
        .await;
    assert!(paused["paused"]
        .as_str()
        .unwrap()
        .starts_with("Paused until"));
    let while_paused = site.url("news", "/articles/while-paused");
    browser.read("main", &while_paused, PAST_THE_DWELL).await;
    browser.run("options", json!({"action": "resume"})).await;
    let private = site.url("news", "/articles/in-private");
    browser
        .run(
            "readPrivately",
            json!({"url": private, "seconds": PAST_THE_DWELL}),
        )
        .await;
    let state = browser.run("state", json!({})).await;
    assert_eq!(state["waiting"], 0, "{state}");
    assert_eq!(lrs.statement_requests().await, requests);
    // Recording goes on after them, and what arrives is only that.
    let after = site.url("news", "/articles/after-the-pause");
    let active = browser.read("main", &after, PAST_THE_DWELL).await;
    assert_about(&only(&lrs, READ, &after).await, active);
    assert_eq!(lrs.statement_requests().await, requests + 1.0);
    for page in [&denied, &blocked, &while_paused, &private] {
        assert!(
            lrs.statements()
                .await
                .iter()
                .all(|s| s["object"]["id"] != page.as_str()),
            "{page} was recorded"
        );
    }

    // A video in an embedded player: `watched`, for the time it played.
    let video_page = site.url("news", "/video");
    let active = browser.read("main", &video_page, 5.0).await;
    let watched = only(&lrs, WATCHED, &site.url("player", "/player#video")).await;
    assert_about(&watched, active);
    assert_eq!(
        watched["object"]["definition"]["name"]["en"],
        "Colour contrast in two minutes"
    );

    // The popup: set a goal, link a visit to it, share one, forget one.
    let goal_name = "Run accessible design reviews";
    let popup = browser
        .run("popup", json!({"action": "setGoal", "name": goal_name}))
        .await;
    assert_eq!(popup["status"], format!("Goal set: {goal_name}."));
    let goals = lrs.until_stored_where(|s| s["verb"]["id"] == SET).await;
    let goal = &goals[0]["object"];
    assert_eq!(goal["definition"]["name"]["en"], goal_name);
    assert_eq!(
        goal["definition"]["type"],
        "https://commonplace.dev/xapi/activity-types/goal"
    );

    let plain_id = site.url("news", "/articles/plain-page?id=7");
    browser
        .run(
            "popup",
            json!({"action": "link", "object": plain_id, "goal": goal_name}),
        )
        .await;
    let relinked = lrs
        .until_stored_where(|s| {
            s["verb"]["id"] == READ && s["context"]["extensions"][GOAL_EXTENSION] == goal["id"]
        })
        .await;
    assert_eq!(relinked.len(), 1);
    assert_eq!(relinked[0]["object"]["id"], plain_id.as_str());
    assert_eq!(relinked[0]["result"], plain["result"]);
    assert_eq!(relinked[0]["timestamp"], plain["timestamp"]);
    let explained = lrs.explain(relinked[0]["id"].as_str().unwrap()).await;
    assert_eq!(explained["mode"], "self_planned", "{explained}");
    // The first recording of that visit is voided, so it is counted once.
    let voids = lrs
        .until_stored_where(|s| s["verb"]["id"] == VOIDED && s["object"]["id"] == plain["id"])
        .await;
    assert_eq!(voids.len(), 1);

    let canonical = site.url("news", "/articles/accessible-forms");
    browser
        .run(
            "popup",
            json!({"action": "share", "object": canonical, "note": "Worth a read before Friday"}),
        )
        .await;
    let shared = only(&lrs, SHARED, &canonical).await;
    assert_eq!(shared["result"]["response"], "Worth a read before Friday");
    assert_eq!(shared["context"]["team"]["objectType"], "Group");
    assert_eq!(shared["context"]["team"]["name"], "Design");

    let forgotten = only(&lrs, READ, &first).await;
    let popup = browser
        .run("popup", json!({"action": "forget", "object": first}))
        .await;
    assert!(!popup["items"].as_array().unwrap().contains(&json!(first)));
    lrs.until_stored_where(|s| s["verb"]["id"] == VOIDED && s["object"]["id"] == forgotten["id"])
        .await;
    assert!(lrs.about(READ, &first).await.is_empty());
    // This week's mix, as the popup shows it, has the self-planned visit.
    assert!(
        popup["mix"]["self_planned"]
            .as_str()
            .is_some_and(|figure| !figure.starts_with("0 ")),
        "{popup}"
    );

    // Site-only mode: the site is recorded, never the page. (The options page fetches
    // the policy as it opens.)
    lrs.cli(&["capture", "policy", "--site-only", "true"]).await;
    browser.run("options", json!({})).await;
    let deep = site.url("news", "/articles/a-private-matter?id=3");
    browser.read("main", &deep, PAST_THE_DWELL).await;
    let site_read = only(&lrs, READ, &site.url("news", "/")).await;
    assert_eq!(site_read["object"]["definition"]["name"]["en"], "news.test");
    assert!(
        !site_read.to_string().contains("private-matter"),
        "{site_read}"
    );
    lrs.cli(&["capture", "policy", "--site-only", "false"])
        .await;
    browser.run("options", json!({})).await;

    // The LRS stops while pages are read: once it is back, each visit arrives once.
    lrs.stop().await;
    let offline = [
        site.url("news", "/articles/read-offline-one"),
        site.url("news", "/articles/read-offline-two"),
    ];
    for page in &offline {
        browser.read("main", page, PAST_THE_DWELL).await;
    }
    let waiting = browser.run("state", json!({})).await;
    assert_eq!(waiting["waiting"], 2, "{waiting}");
    lrs.serve().await;
    browser
        .run("outboxEmpty", json!({"timeoutSeconds": 60}))
        .await;
    for page in &offline {
        only(&lrs, READ, page).await;
    }

    // Screenshots of the popup and the options page, into the target directory; with
    // CAPTURE_SCREENSHOTS=1 over the ones the README shows.
    let screenshots = if std::env::var_os("CAPTURE_SCREENSHOTS").is_some() {
        js_dir().join("screenshots")
    } else {
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("capture-screenshots")
    };
    browser
        .run("screenshots", json!({"dir": screenshots}))
        .await;

    // Disconnect: the server revokes the credential and the extension forgets it.
    let state = browser.run("state", json!({})).await;
    let (key, secret) = (
        state["key"].as_str().unwrap(),
        state["secret"].as_str().unwrap(),
    );
    let policy = |key: String, secret: String| {
        lrs.http
            .get(lrs.url("/capture/policy"))
            .basic_auth(key, Some(secret))
            .send()
    };
    assert_eq!(
        policy(key.into(), secret.into()).await.unwrap().status(),
        200
    );
    let disconnected = browser
        .run("options", json!({"action": "disconnect"}))
        .await;
    assert_eq!(
        disconnected["status"],
        "Disconnected: the store no longer accepts this browser's key."
    );
    assert_eq!(
        policy(key.into(), secret.into()).await.unwrap().status(),
        401
    );
    assert_eq!(browser.run("state", json!({})).await["enrolled"], false);
    browser.close().await;
}

/// The dashboard's entry for `host` among the top sources of `learner` (the learner
/// section, under Ada's roster name), checking the section is that learner's.
fn dashboard_source<'a>(dashboard: &'a str, learner: &str, host: &str) -> &'a str {
    let section = dashboard
        .split("<h2>Learner</h2>")
        .nth(1)
        .expect("a learner section");
    assert!(
        section.starts_with("<h3>Ada Lovelace</h3>")
            && section.contains(&format!("data-learner=\"mbox:{learner}\"")),
        "{section}"
    );
    let sources = section.split("<h4>Top sources</h4>").nth(1).unwrap();
    sources
        .split("<li ")
        .find(|item| item.contains(&format!("data-host=\"{host}\"")))
        .unwrap_or_else(|| panic!("{host} is not among the top sources: {sources}"))
}

fn source_reported_seconds(source: &str) -> f64 {
    let start = source.find("data-reported-seconds=\"").unwrap() + 23;
    source[start..].split('"').next().unwrap().parse().unwrap()
}

#[test]
fn the_extension_passes_the_webextension_linter() {
    install_js_packages();
    let output = std::process::Command::new("node")
        .arg(js_dir().join("node_modules/web-ext/bin/web-ext.js"))
        .args(["lint", "--output", "json", "--source-dir"])
        .arg(extension_dir())
        .output()
        .expect("node is needed for the extension tests");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "web-ext lint: {e}\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert_eq!(report["summary"]["errors"], 0, "{report:#}");
    // The one warning allowed: Firefox ignores `background.service_worker`, which
    // Chromium needs beside the `scripts` Firefox runs.
    let warnings: Vec<&str> = report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        warnings,
        ["BACKGROUND_SERVICE_WORKER_IGNORED"],
        "{report:#}"
    );
    assert_eq!(report["summary"]["notices"], 0, "{report:#}");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(extension_dir().join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["manifest_version"], 3);
}
