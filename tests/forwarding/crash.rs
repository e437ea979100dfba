//! The source killed with SIGKILL while it delivers, then started again: nothing is
//! lost and nothing duplicated at the xAPI target, and the webhook receiver sees a
//! batch again only under a delivery id it already saw.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{eventually, id_of, statement, Source, Target, EXPERIENCED};
use crate::receiver::Receiver;

const SECRET: &str = "whsec-crash-5b1e07c4-forwarding-tests";
const STORED: usize = 3000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_killed_mid_delivery_loses_nothing_and_repeats_only_delivery_ids() {
    let mut source = Source::start().await;
    let target = Target::start().await;
    // Each request takes a moment, so the kill lands while batches are in flight.
    let receiver = Receiver::paced(SECRET, Duration::from_millis(40));
    let sent: Vec<Value> = (0..STORED)
        .map(|i| {
            statement(
                &format!("learner{}", i % 50),
                EXPERIENCED,
                &format!("http://example.com/pages/{i}"),
            )
        })
        .collect();
    for chunk in sent.chunks(500) {
        source.post(chunk).await;
    }
    source
        .to_lrs("lrs", &target, &["--from-start", "--batch-size", "10"])
        .await;
    source
        .webhook(
            "hook",
            &receiver.url("/hook"),
            SECRET,
            &["--from-start", "--batch-size", "10"],
        )
        .await;

    eventually("both forwarders under way", || async {
        let at_target = target.stored().await.len();
        let at_receiver = receiver.received("/hook").len();
        if at_target >= 200 && at_receiver >= 100 {
            Ok(())
        } else {
            Err(format!("target {at_target}, receiver {at_receiver}"))
        }
    })
    .await;
    source.kill();
    let at_target = target.stored().await.len();
    let at_receiver = receiver.received("/hook").len();
    assert!(
        at_target < STORED && at_receiver < STORED,
        "delivery had ended before the kill (target {at_target}, receiver {at_receiver}): \
         the test needs more Statements"
    );

    source.restart().await;
    let later: Vec<Value> = (0..50)
        .map(|i| {
            statement(
                "late",
                EXPERIENCED,
                &format!("http://example.com/later/{i}"),
            )
        })
        .collect();
    source.post(&later).await;
    let everything: BTreeSet<String> = sent.iter().chain(&later).map(id_of).collect();

    source.until_caught_up("lrs").await;
    source.until_caught_up("hook").await;
    let stored = target.stored().await;
    assert_eq!(
        stored.keys().cloned().collect::<BTreeSet<_>>(),
        everything,
        "the target holds every Statement under its own id"
    );
    assert!(stored.values().all(|rows| *rows == 1));
    // A batch taken before the kill and sent again after it carries its delivery id
    // (`received` checks a repeated id carries the same Statements).
    assert_eq!(receiver.received_once("/hook"), everything);
    assert_eq!(receiver.bad_signatures(), Vec::<String>::new());
    let listed = source.list().await;
    assert_eq!(listed["lrs"]["dead_lettered"], 0);
    assert_eq!(listed["hook"]["dead_lettered"], 0);
}
