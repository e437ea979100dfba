//! `commonplace erase` and forwarding: the dead letters of the erased Statements go
//! with them (a target's answer may quote the Statement), and so does the last error of
//! the store's forwarders; the dead letters of other people stay.

use commonplace::workload::Workload;
use serde_json::{json, Value};

use super::{commonplace, eventually, post, show, strict_target, text, too_deep_for_the_target};
use crate::helpers::spawn_app;

const ERIN: &str = "mailto:erin@example.com";

/// A Statement the target refuses (JSON nested deeper than it takes), by `mbox`.
fn refused_statement(workload: &mut Workload, mbox: &str) -> Value {
    let mut statement = workload.statement();
    statement["actor"] = json!({"objectType": "Agent", "mbox": mbox});
    too_deep_for_the_target(&mut statement);
    statement
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasing_a_person_removes_their_dead_letters_and_the_last_error() {
    let source = spawn_app().await;
    let _target = strict_target(&source, &[]).await;
    let mut workload = Workload::new(5);
    let erins = refused_statement(&mut workload, ERIN);
    let olavs = refused_statement(&mut workload, "mailto:olav@example.com");
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

    let erin = json!({"mbox": ERIN}).to_string();
    let args = [
        "erase",
        "--agent",
        &erin,
        "--store",
        "default",
        "--requested-by",
        "dpo@example.com",
        "--json",
    ];
    let output = commonplace(&source, &args, &[]).await;
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
