//! A webhook forwarder to a receiver that verifies every signature and fails on
//! purpose: refused connections, 500, 429 with `Retry-After`, answers later than the
//! forwarder waits, and one Statement it always rejects.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{eventually, id_of, ids, statement, Source, COMPLETED, EXPERIENCED, TIMEOUT};
use crate::receiver::{sign, Fault, Receiver};

const SECRET: &str = "whsec-3f9a1c77d2b84e0e9b5a-forwarding-tests";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_faults_end_the_receiver_holds_every_matching_statement_once() {
    let source = Source::start().await;
    // Not listening yet: every connection is refused.
    let mut receiver = Receiver::reserve(SECRET);
    source
        .webhook(
            "hook",
            &receiver.url("/hook"),
            SECRET,
            &[
                "--verb",
                COMPLETED,
                "--batch-size",
                "5",
                "--max-in-flight",
                "1",
            ],
        )
        .await;
    let mut sent = Vec::new();
    for i in 0..40 {
        let verb = if i % 4 == 3 { EXPERIENCED } else { COMPLETED };
        sent.push(statement(
            &format!("learner{i}"),
            verb,
            &format!("http://example.com/courses/{i}"),
        ));
    }
    let matching: Vec<Value> = sent
        .iter()
        .filter(|s| s["verb"]["id"] == COMPLETED)
        .cloned()
        .collect();
    assert_eq!(matching.len(), 30);
    let refused = id_of(&matching[17]);
    receiver.reject(&refused);
    for chunk in sent.chunks(8) {
        source.post(chunk).await;
    }

    let seen = eventually("failed attempts while the receiver is down", || async {
        let shown = source.show("hook").await;
        if shown["failed"].as_i64().unwrap_or(0) > 0 && !shown["last_error"].is_null() {
            Ok(shown)
        } else {
            Err(shown.to_string())
        }
    })
    .await;
    assert_eq!(seen["delivered"], 0);
    assert!(seen["lag"].as_i64().unwrap() > 0, "{seen}");

    receiver.script([
        Fault::ServerError,
        Fault::TooMany { retry_after: 2 },
        Fault::Slow(TIMEOUT + Duration::from_secs(2)),
        Fault::ServerError,
    ]);
    receiver.listen();
    let shown = eventually("the refused Statement dead-lettered", || async {
        let shown = source.show("hook").await;
        if shown["lag"] == 0 && shown["dead_lettered"] == 1 {
            Ok(shown)
        } else {
            Err(shown.to_string())
        }
    })
    .await;

    let expected: BTreeSet<String> = ids(&matching)
        .into_iter()
        .filter(|id| *id != refused)
        .collect();
    assert_eq!(receiver.received_once("/hook"), expected);
    assert_eq!(receiver.bad_signatures(), Vec::<String>::new());
    assert_eq!(shown["delivered"], 29, "{shown}");
    let letters = shown["dead_letters"].as_array().unwrap();
    assert_eq!(letters.len(), 1, "{shown}");
    assert_eq!(letters[0]["statement_id"], refused.as_str());
    assert_eq!(letters[0]["status"], 400);
    let answer = letters[0]["answer"].as_str().unwrap();
    assert!(
        answer.contains(&format!("statement {refused} is refused here")),
        "the receiver's answer is kept: {answer}"
    );

    // What the script did: each fault was met, and the batch that was answered too late
    // came again under its delivery id.
    let requests = receiver.requests();
    for status in [500, 429, 400] {
        assert!(requests.iter().any(|r| r.status == status), "{status}");
    }
    let after_429 = requests.iter().position(|r| r.status == 429).unwrap();
    let waited = requests[after_429 + 1].at - requests[after_429].at;
    assert!(
        waited >= Duration::from_millis(1900),
        "Retry-After: 2 honoured (one batch in flight), the next request came after {waited:?}"
    );
    let slow = requests.iter().position(|r| {
        r.status == 200 && requests.iter().filter(|o| o.delivery == r.delivery).count() > 1
    });
    assert!(slow.is_some(), "the batch answered too late was sent again");

    // Replaying the dead letter once the receiver takes it.
    receiver.accept_all();
    source
        .forwarders(&["replay", "hook", "--dead-letters", "--json"])
        .await
        .unwrap();
    let shown = eventually("the replayed dead letter delivered", || async {
        let shown = source.show("hook").await;
        let letters = shown["dead_letters"].as_array().map_or(1, Vec::len);
        if letters == 0 && receiver.received("/hook").contains_key(&refused) {
            Ok(shown)
        } else {
            Err(shown.to_string())
        }
    })
    .await;
    assert_eq!(receiver.received_once("/hook"), ids(&matching));
    assert_eq!(shown["delivered"], 30, "{shown}");
    assert_eq!(receiver.bad_signatures(), Vec::<String>::new());
    let delivered = receiver.statement(&refused).unwrap();
    assert_eq!(delivered["verb"]["id"], COMPLETED);
}

/// The receiver's checks are what makes "no bad signatures" mean something: a forged or
/// stale request is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_receiver_refuses_forged_and_stale_requests() {
    let receiver = Receiver::start(SECRET);
    let http = reqwest::Client::new();
    let body = r#"{"delivery":"d-1","statements":[]}"#;
    let now = chrono::Utc::now().timestamp();
    let send = |signature: String, body: &'static str| {
        http.post(receiver.url("/check"))
            .header("Content-Type", "application/json")
            .header("Commonplace-Delivery", "d-1")
            .header("Commonplace-Signature", signature)
            .body(body)
            .send()
    };
    let status = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(
        status(
            send(sign(SECRET, now, body.as_bytes()), body)
                .await
                .unwrap()
        ),
        200
    );
    assert_eq!(
        status(
            send(sign("another secret", now, body.as_bytes()), body)
                .await
                .unwrap()
        ),
        401
    );
    let tampered = r#"{"delivery":"d-1","statements":[{}]}"#;
    assert_eq!(
        status(
            send(sign(SECRET, now, body.as_bytes()), tampered)
                .await
                .unwrap()
        ),
        401
    );
    assert_eq!(
        status(
            send(sign(SECRET, now - 600, body.as_bytes()), body)
                .await
                .unwrap()
        ),
        401
    );
    assert_eq!(receiver.bad_signatures().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_since_sends_again_what_was_stored_after_a_time() {
    let source = Source::start().await;
    let receiver = Receiver::start(SECRET);
    source
        .webhook("hook", &receiver.url("/hook"), SECRET, &[])
        .await;
    let early: Vec<Value> = (0..4)
        .map(|i| statement("ada", COMPLETED, &format!("http://example.com/early/{i}")))
        .collect();
    source.post(&early).await;
    // `stored` has millisecond precision: the time lies strictly between the batches.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let since = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let late: Vec<Value> = (0..3)
        .map(|i| statement("ada", COMPLETED, &format!("http://example.com/late/{i}")))
        .collect();
    source.post(&late).await;
    source.until_caught_up("hook").await;
    let everything: BTreeSet<String> = early.iter().chain(&late).map(id_of).collect();
    assert_eq!(receiver.received_once("/hook"), everything);

    source
        .forwarders(&["replay", "hook", "--since", &since, "--json"])
        .await
        .unwrap();
    let counts = eventually("the late Statements sent again", || async {
        let counts = receiver.received("/hook");
        if ids(&late).iter().all(|id| counts[id] == 2) {
            Ok(counts)
        } else {
            Err(format!("{counts:?}"))
        }
    })
    .await;
    source.until_caught_up("hook").await;
    let counts_after = receiver.received("/hook");
    assert_eq!(counts, counts_after);
    for id in ids(&early) {
        assert_eq!(counts_after[&id], 1, "{id} was stored before the time");
    }
    assert_eq!(receiver.bad_signatures(), Vec::<String>::new());
}
