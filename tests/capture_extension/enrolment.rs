//! Enrolment from the browser: only the store's own invitation page fills in the
//! extension's options, and only the learner's click enrols.

use serde_json::{json, Value};

use super::harness::{serve_site, Browser, Lrs};
use super::{store_inviting_ada, LEARNER};

/// A new enrolment code for `learner`.
async fn invite(lrs: &Lrs, learner: &str) -> String {
    let invitation = lrs
        .cli(&["capture", "invite", "--learner", learner, "--json"])
        .await;
    serde_json::from_str::<Value>(&invitation).unwrap()["code"]
        .as_str()
        .unwrap()
        .to_string()
}

/// How many enrolment codes the store has seen used.
async fn codes_used(lrs: &Lrs) -> usize {
    let codes: Vec<Value> =
        serde_json::from_str(&lrs.cli(&["capture", "codes", "list", "--json"]).await).unwrap();
    codes.iter().filter(|c| !c["used"].is_null()).count()
}

/// Any page can carry the enrolment meta elements: only the store's own invitation page
/// (`{store}/capture/enrol?code=CODE`, naming that store and code) opens the options page
/// filled in, only while the browser is not connected, and nothing is enrolled until the
/// learner clicks Connect there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_stores_invitation_page_and_the_learners_click_enrol() {
    let (lrs, public_url, invitation) = store_inviting_ada().await;
    let code = invitation["code"].as_str().unwrap();
    // Mallory's own code, which a page of hers would like Ada's browser to connect with.
    let mallorys = invite(&lrs, "mailto:mallory@example.org").await;
    let site = serve_site();
    let evil = site.url("evil", "/");
    let lures = [
        // Naming its own host as the store and carrying its code, off the enrolment path.
        site.url(
            "evil",
            &format!("/articles/free-course?code=course&enrol-endpoint={evil}&enrol-code=course"),
        ),
        // At its own enrolment path, for another code than its address carries.
        site.url(
            "evil",
            &format!("/capture/enrol?code=other&enrol-endpoint={evil}&enrol-code=claimed"),
        ),
        // Naming the real store, with a code it knows, but served elsewhere.
        site.url(
            "evil",
            &format!(
                "/capture/enrol?code={mallorys}&enrol-endpoint={public_url}/&enrol-code={mallorys}"
            ),
        ),
    ];
    let mut browser = Browser::launch().await;
    for lure in &lures {
        browser.run("visit", json!({"url": lure})).await;
    }
    // The lures were served, and no enrolment request went to their host.
    assert_eq!(site.requests("GET", "evil", "/capture/enrol"), 2);
    assert_eq!(site.requests("POST", "evil", "/capture/enrol"), 0);

    // The store's invitation page opens the only options page, filled in; nothing is
    // enrolled before the click.
    let invited = browser
        .run(
            "enrolFromPage",
            json!({"url": invitation["url"], "connect": false}),
        )
        .await;
    assert_eq!(invited["prefilled"]["code"], code);
    assert_eq!(invited["prefilled"]["lrs"], format!("{public_url}/"));
    let opened = invited["opened"].as_array().unwrap();
    assert_eq!(opened.len(), 1, "{opened:#?}");
    assert!(
        opened[0]
            .as_str()
            .unwrap()
            .ends_with(&format!("code={code}")),
        "{opened:#?}"
    );
    assert_eq!(browser.run("state", json!({})).await["enrolled"], false);
    assert_eq!(codes_used(&lrs).await, 0);
    let connected = browser.run("connect", json!({})).await;
    assert_eq!(connected["status"], "Connected as Ada Lovelace.");
    assert_eq!(codes_used(&lrs).await, 1);

    // Connected, another invitation (and the lures again) open nothing: the browser keeps
    // its enrolment. Disconnected, that invitation opens the options page.
    let key = browser.run("state", json!({})).await["key"].clone();
    let another = invite(&lrs, LEARNER).await;
    let another_url = lrs.url(&format!("/capture/enrol?code={another}"));
    for page in lures.iter().chain([&another_url]) {
        browser.run("visit", json!({"url": page})).await;
    }
    assert_eq!(browser.run("state", json!({})).await["key"], key);
    let disconnected = browser
        .run("options", json!({"action": "disconnect"}))
        .await;
    assert!(disconnected["status"]
        .as_str()
        .unwrap()
        .starts_with("Disconnected"));
    let state = browser.run("state", json!({})).await;
    assert_eq!(
        state["optionsOpened"].as_array().unwrap().len(),
        1,
        "{state}"
    );
    let reopened = browser
        .run(
            "enrolFromPage",
            json!({"url": another_url, "connect": false}),
        )
        .await;
    assert_eq!(reopened["prefilled"]["code"], another.as_str());
    assert_eq!(
        reopened["opened"].as_array().unwrap().len(),
        2,
        "{reopened}"
    );
    assert_eq!(codes_used(&lrs).await, 1);
    assert_eq!(site.requests("POST", "evil", "/capture/enrol"), 0);
    browser.close().await;
}
