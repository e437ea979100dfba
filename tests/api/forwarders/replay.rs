//! `forwarders replay`: back to a time (`--since`), or the dead letters again
//! (`--dead-letters`), shown with the target's answer.

use std::time::Duration;

use commonplace::workload::Workload;
use serde_json::json;

use super::{eventually, ok, ok_json, post, show, strict_target, too_deep_for_the_target, NOWHERE};
use crate::helpers::spawn_app;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_since_moves_the_position_back_to_just_before_the_first_statement_stored_after_it() {
    let app = spawn_app().await;
    let mut workload = Workload::new(11);
    post(&app, &workload.batch(2)).await;
    // Another millisecond for the second request's `stored`.
    tokio::time::sleep(Duration::from_millis(5)).await;
    post(&app, &workload.batch(3)).await;
    let client = app.pool.get().await.unwrap();
    let rows = client
        .query(
            "SELECT seq, to_char(stored AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')
               FROM statements ORDER BY seq",
            &[],
        )
        .await
        .unwrap();
    let (first_seq, first_stored): (i64, String) = (rows[0].get(0), rows[0].get(1));
    let (second_seq, second_stored): (i64, String) = (rows[2].get(0), rows[2].get(1));
    assert_eq!(rows[1].get::<_, String>(1), first_stored);
    assert!(
        second_stored > first_stored,
        "{first_stored} {second_stored}"
    );

    ok(
        &app,
        &[
            "create",
            "--name",
            "replayed",
            "--kind",
            "xapi",
            "--endpoint",
            NOWHERE,
        ],
    )
    .await;
    let before = show(&app, "replayed").await;
    assert_eq!(before["lag"], 0);

    // `since` is exclusive: the first request's Statements were stored at it.
    let replayed = ok_json(&app, &["replay", "replayed", "--since", &first_stored]).await;
    assert_eq!(replayed["position"], second_seq - 1, "{replayed}");
    assert_eq!(replayed["lag"], 3);
    assert_eq!(
        replayed["replayed"],
        json!({"position_from": before["position"], "position_to": second_seq - 1})
    );

    let out = ok(
        &app,
        &["replay", "replayed", "--since", "2000-01-01T00:00:00+02:00"],
    )
    .await;
    assert!(out.contains("moved back"), "{out}");
    let everything = show(&app, "replayed").await;
    assert_eq!(everything["position"], first_seq - 1);
    assert_eq!(everything["lag"], 5);

    // Never forward: what is stored after a later time is still ahead of the position.
    let out = ok(
        &app,
        &["replay", "replayed", "--since", "2999-01-01T00:00:00Z"],
    )
    .await;
    assert!(out.contains("unchanged"), "{out}");
    assert_eq!(show(&app, "replayed").await["position"], first_seq - 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_shown_with_the_answer_and_sent_again_on_replay() {
    let source = spawn_app().await;
    let target = strict_target(&source, &["--xapi-version", "2.0.0"]).await;
    let mut workload = Workload::new(3);
    let good = workload.statement();
    let mut bad = workload.statement();
    too_deep_for_the_target(&mut bad);
    post(&source, &[good.clone(), bad.clone()]).await;

    let shown = eventually("the refused Statement dead-lettered", || async {
        let shown = show(&source, "strict").await;
        let done = shown["dead_letters"].as_array().unwrap().len() == 1
            && shown["delivered"] == 1
            && shown["lag"] == 0;
        (done, shown)
    })
    .await;
    assert_eq!(shown["dead_lettered"], 1);
    let letter = &shown["dead_letters"][0];
    let keys: Vec<&str> = letter
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["seq", "statement_id", "status", "answer", "at", "replay"]
    );
    assert_eq!(letter["statement_id"], bad["id"]);
    assert_eq!(letter["status"], 400);
    assert!(
        letter["answer"]
            .as_str()
            .unwrap()
            .contains("nested deeper than 16"),
        "{letter}"
    );
    assert_eq!(letter["replay"], false);
    let details = ok(&source, &["show", "strict"]).await;
    assert!(
        details.contains(bad["id"].as_str().unwrap()) && details.contains("400"),
        "{details}"
    );
    assert!(!details.contains(&target.secret), "{details}");

    // Paused, the request waits in the row.
    ok(&source, &["pause", "strict"]).await;
    let replayed = ok_json(&source, &["replay", "strict", "--dead-letters"]).await;
    assert_eq!(replayed["replayed"], json!({"dead_letters": 1}));
    let waiting = show(&source, "strict").await;
    assert_eq!(waiting["dead_letters"][0]["replay"], true);
    assert_eq!(waiting["dead_letters"][0]["at"], letter["at"]);

    // Resumed, the engine sends it again; the target refuses it again.
    ok(&source, &["resume", "strict"]).await;
    let again = eventually("the dead letter sent again", || async {
        let shown = show(&source, "strict").await;
        let letter = &shown["dead_letters"][0];
        let done = letter["replay"] == false && letter["at"] != waiting["dead_letters"][0]["at"];
        (done, shown)
    })
    .await;
    assert_eq!(again["dead_letters"][0]["statement_id"], bad["id"]);
    assert_eq!(again["delivered"], 1);
}
