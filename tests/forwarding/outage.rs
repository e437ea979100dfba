//! A target that is down only builds lag: the source keeps taking Statements, and
//! delivery resumes when the target is back. Pausing holds a forwarder where it is.

use std::collections::BTreeSet;

use commonplace::auth::{NewSecret, Scope};
use commonplace::store::credentials::{self, NewCredential};
use serde_json::Value;

use crate::harness::{eventually, id_of, ids, statement, Source, Target, COMPLETED, EXPERIENCED};
use crate::helpers::metric_sample;
use crate::receiver::Receiver;
use crate::server::free_port;

const SECRET: &str = "whsec-outage-44c2b7d1-forwarding-tests";
const TARGET_KEY: &str = "forwarding-target-key";
const TARGET_SECRET: &str = "forwarding-target-secret-6f1e0c2b9a7d";

fn some(n: usize, what: &str) -> Vec<Value> {
    (0..n)
        .map(|i| statement("ada", COMPLETED, &format!("http://example.com/{what}/{i}")))
        .collect()
}

async fn metrics(source: &Source) -> String {
    let response = source
        .http
        .get(format!("http://127.0.0.1:{}/metrics", source.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_is_down_builds_lag_and_gets_everything_when_it_is_back() {
    let source = Source::start().await;
    let port = free_port();
    let endpoint = format!("http://127.0.0.1:{port}/xapi");
    source
        .create(&[
            "--name",
            "down",
            "--kind",
            "xapi",
            "--endpoint",
            &endpoint,
            "--username",
            TARGET_KEY,
            "--password",
            TARGET_SECRET,
            "--xapi-version",
            "2.0.0",
        ])
        .await;

    let mut sent = Vec::new();
    for round in 1..=3 {
        let batch = some(10, &format!("round{round}"));
        // Ingestion answers as ever (`post` asserts 200).
        source.post(&batch).await;
        sent.extend(batch);
        let lag = source.lag("down").await;
        assert_eq!(lag, 10 * round, "lag after round {round}");
    }
    let shown = eventually("failed attempts counted", || async {
        let shown = source.show("down").await;
        if shown["failed"].as_i64().unwrap_or(0) > 0 {
            Ok(shown)
        } else {
            Err(shown.to_string())
        }
    })
    .await;
    assert_eq!(shown["delivered"], 0);
    assert!(shown["last_error"].is_string(), "{shown}");
    assert!(!shown.to_string().contains(TARGET_SECRET));
    let text = metrics(&source).await;
    assert_eq!(
        metric_sample(
            &text,
            r#"commonplace_forwarder_lag_statements{forwarder="down"}"#
        ),
        30.0,
        "{text}"
    );
    assert_eq!(
        metric_sample(&text, r#"commonplace_forwarder_active{forwarder="down"}"#),
        1.0
    );
    assert!(
        metric_sample(
            &text,
            r#"commonplace_forwarder_failed_total{forwarder="down"}"#
        ) > 0.0
    );

    // The target comes up, with the credential the forwarder was given.
    let target = Target::start_on(port).await;
    credentials::create(
        &target.app.pool,
        NewCredential {
            name: "from-the-source",
            store: "default",
            scopes: &[Scope::StatementsWrite],
            tags: &Default::default(),
            fixed: Some(NewSecret {
                key: TARGET_KEY.into(),
                secret: TARGET_SECRET.into(),
            }),
        },
    )
    .await
    .unwrap();
    let listed = source.until_caught_up("down").await;
    let stored = target.stored().await;
    assert_eq!(stored.keys().cloned().collect::<BTreeSet<_>>(), ids(&sent));
    assert_eq!(listed["delivered"], 30);
    let text = metrics(&source).await;
    assert_eq!(
        metric_sample(
            &text,
            r#"commonplace_forwarder_delivered_total{forwarder="down"}"#
        ),
        30.0
    );
    assert_eq!(
        metric_sample(
            &text,
            r#"commonplace_forwarder_lag_statements{forwarder="down"}"#
        ),
        0.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_forwarder_holds_its_place_until_resumed() {
    let source = Source::start().await;
    let receiver = Receiver::start(SECRET);
    source
        .webhook("paused", &receiver.url("/paused"), SECRET, &[])
        .await;
    // The witness runs throughout: once it has delivered, the paused one would have too.
    source
        .webhook("witness", &receiver.url("/witness"), SECRET, &[])
        .await;
    let early = some(5, "early");
    source.post(&early).await;
    source.until_caught_up("paused").await;
    assert_eq!(receiver.received_once("/paused"), ids(&early));

    source.forwarders(&["pause", "paused"]).await.unwrap();
    let listed = source.list().await;
    assert_eq!(listed["paused"]["state"], "paused");
    let held = some(6, "held");
    source.post(&held).await;
    source.until_caught_up("witness").await;
    let listed = source.list().await;
    assert_eq!(listed["paused"]["lag"], 6, "{}", listed["paused"]);
    assert_eq!(
        receiver.received_once("/paused"),
        ids(&early),
        "nothing while paused"
    );
    let text = metrics(&source).await;
    assert_eq!(
        metric_sample(&text, r#"commonplace_forwarder_active{forwarder="paused"}"#),
        0.0
    );

    source.forwarders(&["resume", "paused"]).await.unwrap();
    let listed = source.until_caught_up("paused").await;
    assert_eq!(listed["state"], "active");
    let everything: BTreeSet<String> = early.iter().chain(&held).map(id_of).collect();
    assert_eq!(receiver.received_once("/paused"), everything);
    assert_eq!(receiver.received_once("/witness"), everything);

    // Deleted, it is gone and sends nothing more.
    source.forwarders(&["delete", "paused"]).await.unwrap();
    assert!(!source.list().await.contains_key("paused"));
    let after = vec![statement("ada", EXPERIENCED, "http://example.com/after")];
    source.post(&after).await;
    source.until_caught_up("witness").await;
    assert_eq!(receiver.received_once("/paused"), everything);
}
