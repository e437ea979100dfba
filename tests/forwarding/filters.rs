//! Which Statements a forwarder sends: its filter, and whether it started from the
//! beginning of the store or from its creation. One receiver takes every forwarder's
//! deliveries, each at a path of its own.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::harness::{id_of, statement, Source, ATTEMPTED, COMPLETED, EXPERIENCED};
use crate::receiver::Receiver;

const SECRET: &str = "whsec-filters-0c5d8e2a-forwarding-tests";
const COURSE: &str = "http://adlnet.gov/expapi/activities/course";

fn of_type(mut s: Value, activity_type: &str) -> Value {
    s["object"]["definition"]["type"] = json!(activity_type);
    s
}

fn names(statements: &[&Value]) -> BTreeSet<String> {
    statements.iter().map(|s| id_of(s)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_filter_sends_what_matches_and_nothing_else() {
    let source = Source::start().await;
    let receiver = Receiver::start(SECRET);
    let sales = source
        .tagged_writer("sales-tool", &[("team", "sales")])
        .await;
    let marketing = source
        .tagged_writer("marketing-tool", &[("team", "marketing")])
        .await;
    let filters: [(&str, &[&str]); 8] = [
        ("verb", &["--verb", COMPLETED]),
        (
            "prefix",
            &["--activity-prefix", "http://example.com/courses/"],
        ),
        ("activity", &["--activity", "http://example.com/pages/x"]),
        ("type", &["--activity-type", COURSE]),
        ("actor", &["--actor", "mbox:mailto:ada@example.com"]),
        ("mode", &["--mode", "directed"]),
        ("tag", &["--credential-tag", "team=sales"]),
        (
            "both",
            &["--verb", COMPLETED, "--credential-tag", "team=sales"],
        ),
    ];
    for (name, flags) in filters {
        let url = receiver.url(&format!("/{name}"));
        source.webhook(name, &url, SECRET, flags).await;
    }

    let a = statement("ada", COMPLETED, "http://example.com/courses/1");
    // A course (the default rules place it in `directed`).
    let b = of_type(
        statement("bob", EXPERIENCED, "http://example.com/pages/x"),
        COURSE,
    );
    let c = statement("cy", EXPERIENCED, "http://example.com/pages/y");
    let d = statement("dee", EXPERIENCED, "http://other.example.org/courses/1");
    // Under a course in context only.
    let mut e = statement("ada", EXPERIENCED, "http://example.com/pages/z");
    e["context"]["contextActivities"] = json!({"parent": [{"id": "http://example.com/courses/9"}]});
    let f = of_type(
        statement("eve", COMPLETED, "http://example.com/courses/2"),
        COURSE,
    );
    let g = statement("ada", ATTEMPTED, "http://example.com/pages/q");
    source
        .post(&[a.clone(), b.clone(), d.clone(), e.clone()])
        .await;
    source
        .post_as(&sales.0, &sales.1, &[c.clone(), f.clone()])
        .await;
    source
        .post_as(&marketing.0, &marketing.1, std::slice::from_ref(&g))
        .await;

    let expected = [
        ("verb", names(&[&a, &f])),
        ("prefix", names(&[&a, &e, &f])),
        ("activity", names(&[&b])),
        ("type", names(&[&b, &f])),
        ("actor", names(&[&a, &e, &g])),
        ("mode", names(&[&b, &f])),
        ("tag", names(&[&c, &f])),
        ("both", names(&[&f])),
    ];
    for (name, ids) in expected {
        let listed = source.until_caught_up(name).await;
        // Caught up: its position is past every Statement, so nothing more will come.
        assert_eq!(
            receiver.received_once(&format!("/{name}")),
            ids,
            "forwarder {name} ({})",
            listed["filter"]
        );
        assert_eq!(listed["delivered"], ids.len(), "{listed}");
    }
    assert_eq!(receiver.bad_signatures(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_start_sends_what_was_stored_before_and_otherwise_only_what_comes_after() {
    let source = Source::start().await;
    let receiver = Receiver::start(SECRET);
    let before: Vec<Value> = (0..7)
        .map(|i| statement("ada", EXPERIENCED, &format!("http://example.com/old/{i}")))
        .collect();
    source.post(&before).await;
    source
        .webhook("all", &receiver.url("/all"), SECRET, &["--from-start"])
        .await;
    source
        .webhook("new", &receiver.url("/new"), SECRET, &[])
        .await;
    let after: Vec<Value> = (0..5)
        .map(|i| statement("ada", EXPERIENCED, &format!("http://example.com/new/{i}")))
        .collect();
    source.post(&after).await;

    source.until_caught_up("all").await;
    source.until_caught_up("new").await;
    let everything: BTreeSet<String> = before.iter().chain(&after).map(id_of).collect();
    assert_eq!(receiver.received_once("/all"), everything);
    assert_eq!(
        receiver.received_once("/new"),
        after.iter().map(id_of).collect::<BTreeSet<_>>()
    );
}
