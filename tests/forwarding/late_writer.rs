//! A writer that took its seq before others and commits after them: its Statement is
//! still forwarded, as the forwarder never passes a writer in flight.

use std::time::Duration;

use serde_json::Value;
use uuid::Uuid;

use crate::harness::{eventually, id_of, statement, Source, EXPERIENCED};
use crate::helpers::reserve_one_seq;
use crate::receiver::Receiver;

const SECRET: &str = "whsec-late-writer-91aa3e60-forwarding-tests";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_that_commits_late_is_still_forwarded() {
    let source = Source::start().await;
    let receiver = Receiver::start(SECRET);
    source
        .webhook(
            "hook",
            &receiver.url("/hook"),
            SECRET,
            &["--linger-ms", "0"],
        )
        .await;
    let first = statement("ada", EXPERIENCED, "http://example.com/pages/1");
    source.post(std::slice::from_ref(&first)).await;
    eventually("the first Statement forwarded", || async {
        let received = receiver.received("/hook");
        if received.contains_key(&id_of(&first)) {
            Ok(())
        } else {
            Err(format!("{received:?}"))
        }
    })
    .await;

    // A writer takes its seq and has not committed yet; a later one commits.
    let mut slow = source.database().await;
    let in_flight = slow.transaction().await.unwrap();
    let reserved = reserve_one_seq(&in_flight).await;
    let second = statement("ada", EXPERIENCED, "http://example.com/pages/2");
    source.post(std::slice::from_ref(&second)).await;
    // Give the forwarder rounds enough to pass the writer, were it to.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !receiver.received("/hook").contains_key(&id_of(&second)),
        "the forwarder passed a writer in flight"
    );
    assert!(source.lag("hook").await >= 1);

    // The late writer stores its Statement under the reserved seq.
    let late = Uuid::new_v4();
    in_flight
        .execute(
            "INSERT INTO statements (store_id, seq, id, stored, credential, body, mode, mode_rule,
                                     terms)
             SELECT store_id, $1, $2::uuid, stored, credential,
                    jsonb_set(body::jsonb, '{id}', to_jsonb($2::uuid::text)), mode, mode_rule, terms
               FROM statements WHERE id = $3",
            &[&reserved, &late, &id_of(&first).parse::<Uuid>().unwrap()],
        )
        .await
        .unwrap();
    in_flight.commit().await.unwrap();

    source.until_caught_up("hook").await;
    let received = receiver.received_once("/hook");
    let expected = [id_of(&first), late.to_string(), id_of(&second)];
    assert_eq!(received, expected.iter().cloned().collect());
    let late_body: Value = receiver.statement(&late.to_string()).unwrap();
    assert_eq!(late_body["object"], first["object"]);
    assert_eq!(receiver.bad_signatures(), Vec::<String>::new());
}
