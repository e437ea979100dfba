//! The extension in Firefox.

use serde_json::Value;

use super::harness::{serve_site, Browser};
use super::{
    dashboard_source, enrol_from_invitation, read_past_the_dwell, seconds_of,
    source_reported_seconds, store_inviting_ada, LEARNER, READ,
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
    enrol_from_invitation(&mut browser, &public_url, &invitation).await;

    let story = "/stories/42?utm_campaign=spring&gclid=abc#top";
    let read = read_past_the_dwell(&lrs, &mut browser, &site, ("blog", story), "Firefox ").await;
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
