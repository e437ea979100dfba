//! `commonplace erase` and forwarding: the dead letters of the erased Statements go
//! with them (a target's answer may quote the Statement), and so does the last error of
//! the store's forwarders; the dead letters of other people stay.

use commonplace::workload::Workload;
use serde_json::{json, Value};

use super::{eventually, ok, post, show, text};
use crate::helpers::{spawn_app, spawn_app_with};

const ERIN: &str = "mailto:erin@example.com";

/// A Statement the target refuses (JSON nested deeper than it takes), by `mbox`.
fn refused_statement(workload: &mut Workload, mbox: &str) -> Value {
    let mut statement = workload.statement();
    statement["actor"] = json!({"objectType": "Agent", "mbox": mbox});
    let mut deep = json!("bottom");
    for _ in 0..24 {
        deep = json!([deep]);
    }
    statement["result"] = json!({"extensions": {"https://example.org/ext/deep": deep}});
    statement
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasing_a_person_removes_their_dead_letters_and_the_last_error() {
    let source = spawn_app().await;
    let target = spawn_app_with(|settings| settings.limits.max_json_depth = 16).await;
    let mut workload = Workload::new(5);
    let erins = refused_statement(&mut workload, ERIN);
    let olavs = refused_statement(&mut workload, "mailto:olav@example.com");
    let endpoint = format!("http://{}/xapi", target.address);
    ok(
        &source,
        &[
            "create",
            "--name",
            "strict",
            "--kind",
            "xapi",
            "--endpoint",
            &endpoint,
            "--username",
            &target.key,
            "--password",
            &target.secret,
        ],
    )
    .await;
    post(&source, &[erins.clone(), olavs.clone()]).await;
    let shown = eventually("both Statements dead-lettered", || async {
        let shown = show(&source, "strict").await;
        let done = shown["dead_letters"].as_array().unwrap().len() == 2 && shown["lag"] == 0;
        (done, shown)
    })
    .await;
    assert!(
        shown["last_error"]
            .as_str()
            .unwrap()
            .contains("nested deeper than 16"),
        "{shown}"
    );

    // Off the async threads: the erasure may wait for a row the app's engine holds.
    let (url, erin) = (
        source.database_url.clone(),
        json!({"mbox": ERIN}).to_string(),
    );
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_commonplace"))
            .args(["erase", "--agent", &erin, "--store", "default"])
            .args(["--requested-by", "dpo@example.com", "--json"])
            .args(["--database-url", &url])
            .output()
            .expect("run commonplace")
    })
    .await
    .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let erased = text(&output.stdout);
    let erased: Value = serde_json::from_str(&erased).unwrap();
    assert_eq!(erased["statements"], 1, "{erased}");

    let after = show(&source, "strict").await;
    let letters = after["dead_letters"].as_array().unwrap();
    assert_eq!(letters.len(), 1, "{after}");
    assert_eq!(letters[0]["statement_id"], olavs["id"]);
    assert_eq!(after["last_error"], Value::Null, "{after}");
}
