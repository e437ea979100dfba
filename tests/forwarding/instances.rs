//! Two source server processes on one database share the forwarders: each batch is
//! delivered once.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::future::join_all;
use serde_json::Value;

use crate::harness::{id_of, statement, Source, Target, COMPLETED};
use crate::receiver::Receiver;

const SECRET: &str = "whsec-instances-7d20f9b3-forwarding-tests";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_deliver_each_batch_once() {
    let first = Source::start().await;
    let second = first.another().await;
    let target = Target::start().await;
    let receiver = Receiver::start(SECRET);
    first
        .webhook(
            "hook",
            &receiver.url("/hook"),
            SECRET,
            &["--batch-size", "10"],
        )
        .await;
    first.to_lrs("lrs", &target, &["--batch-size", "10"]).await;

    // Both instances take Statements at once, while both deliver.
    let batches: Vec<Vec<Value>> = (0..40)
        .map(|b| {
            (0..10)
                .map(|i| statement("ada", COMPLETED, &format!("http://example.com/b{b}/{i}")))
                .collect()
        })
        .collect();
    let (one, two) = (&first, &second);
    join_all(batches.iter().enumerate().map(|(n, batch)| async move {
        let via = if n % 2 == 0 { one } else { two };
        via.post(batch).await;
    }))
    .await;
    let everything: BTreeSet<String> = batches.iter().flatten().map(id_of).collect();

    first.until_caught_up("hook").await;
    first.until_caught_up("lrs").await;
    let requests: Vec<_> = receiver
        .requests()
        .into_iter()
        .filter(|r| r.path == "/hook")
        .collect();
    let mut per_delivery: BTreeMap<&str, usize> = BTreeMap::new();
    for request in &requests {
        *per_delivery.entry(request.delivery.as_str()).or_default() += 1;
    }
    let repeated: Vec<_> = per_delivery.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "batches sent twice: {repeated:?}");
    assert!(requests.iter().all(|r| r.status == 200));
    assert_eq!(receiver.received_once("/hook"), everything);
    assert_eq!(receiver.bad_signatures(), Vec::<String>::new());

    let stored = target.stored().await;
    assert_eq!(stored.keys().cloned().collect::<BTreeSet<_>>(), everything);
    let listed = second.list().await;
    assert_eq!(listed["hook"]["delivered"], 400, "{}", listed["hook"]);
    assert_eq!(listed["lrs"]["delivered"], 400, "{}", listed["lrs"]);
}
