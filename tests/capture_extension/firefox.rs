//! The extension in Firefox.

use serde_json::{json, Value};

use super::harness::{serve_site, Browser};
use super::{
    assert_about, dashboard_source, only, seconds_of, source_reported_seconds, store_inviting_ada,
    HOST_EXTENSION, LEARNER, READ,
};

/// The same extension in Firefox (Debian's ESR, headless, driven over WebDriver BiDi):
/// it loads, enrols through the invitation page, and a page read past the dwell arrives
/// once, under its canonical URL, with the time it was in front, and shows on the
/// dashboard for Ada.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_extension_records_reading_in_firefox() {
    let (lrs, public_url, invitation) = store_inviting_ada().await;
    let site = serve_site();
    let mut browser = Browser::launch_firefox().await;
    let enrolled = browser
        .run("enrolFromPage", json!({"url": invitation["url"]}))
        .await;
    assert_eq!(enrolled["prefilled"]["code"], invitation["code"]);
    assert_eq!(enrolled["prefilled"]["lrs"], format!("{public_url}/"));
    assert_eq!(enrolled["status"], "Connected as Ada Lovelace.");

    let story = site.url("blog", "/stories/42?utm_campaign=spring&gclid=abc#top");
    let canonical = site.url("blog", "/articles/accessible-forms");
    let active = browser.read("main", &story, 4.0).await;
    let read = only(&lrs, READ, &canonical).await;
    assert_about(&read, active);
    assert_eq!(read["actor"]["mbox"], LEARNER);
    assert_eq!(
        read["object"]["definition"]["name"]["en"],
        "Accessible forms"
    );
    assert_eq!(read["context"]["extensions"][HOST_EXTENSION], "blog.test");
    assert!(
        read["context"]["platform"]
            .as_str()
            .unwrap()
            .starts_with("Firefox "),
        "{read}"
    );
    let reads: Vec<Value> = lrs
        .statements()
        .await
        .into_iter()
        .filter(|s| s["verb"]["id"] == READ)
        .collect();
    assert_eq!(reads.len(), 1, "{reads:#?}");

    let dashboard = lrs.dashboard(LEARNER).await;
    let source = dashboard_source(&dashboard, LEARNER, "blog.test");
    assert_eq!(
        source_reported_seconds(source),
        seconds_of(&read["result"]["duration"])
    );
    browser.close().await;
}
