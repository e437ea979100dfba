//! An xAPI forwarder to a second Commonplace: Statements arrive under their own ids with
//! their content, voiding arrives when asked for, attachments arrive as multipart, a
//! Statement the target already holds counts as delivered, and OAuth 2.0 works.

use std::collections::BTreeSet;

use commonplace::xapi::multipart::{build_mixed, Headers};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::harness::{
    content, id_of, ids, statement, Source, Target, ATTEMPTED, COMPLETED, EXPERIENCED, VOIDED,
};

/// Statements of several shapes: Agents and Groups, context Activities, a SubStatement
/// and a StatementRef.
fn varied(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let mut s = statement(&format!("learner{}", i % 4), EXPERIENCED, &format!(
                "http://example.com/courses/{}",
                i % 3
            ));
            match i % 5 {
                1 => {
                    s["actor"] = json!({"objectType": "Group", "name": "Team",
                        "member": [{"mbox": "mailto:a@example.com"}, {"mbox": "mailto:b@example.com"}]});
                }
                2 => {
                    s["context"]["contextActivities"] = json!({
                        "parent": [{"id": "http://example.com/programmes/p"}],
                        "category": [{"id": "http://example.com/categories/c"}]});
                    s["context"]["registration"] = json!(uuid::Uuid::new_v4());
                }
                3 => {
                    s["context"].as_object_mut().unwrap().remove("platform");
                    s["object"] = json!({"objectType": "SubStatement",
                        "actor": {"mbox": "mailto:sub@example.com"},
                        "verb": {"id": ATTEMPTED},
                        "object": {"id": "http://example.com/quiz"}});
                }
                4 => {
                    s["context"].as_object_mut().unwrap().remove("platform");
                    s["object"] = json!({"objectType": "StatementRef", "id": uuid::Uuid::new_v4()});
                }
                _ => {}
            }
            s
        })
        .collect()
}

async fn get_from_source(source: &Source, id: &str) -> Value {
    let response = source
        .xapi(Method::GET, "/xapi/statements")
        .query(&[("statementId", id)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_arrive_at_another_lrs_with_their_ids_and_content() {
    let source = Source::start().await;
    let target = Target::start().await;
    let sent = varied(25);
    source.post(&sent).await;
    source
        .to_lrs(
            "warehouse",
            &target,
            &["--from-start", "--batch-size", "10"],
        )
        .await;

    let listed = source.until_caught_up("warehouse").await;
    let stored = target.stored().await;
    assert_eq!(
        stored.keys().cloned().collect::<BTreeSet<_>>(),
        ids(&sent),
        "the target holds exactly the source's Statements"
    );
    assert!(stored.values().all(|n| *n == 1));
    for s in &sent {
        let id = id_of(s);
        let at_source = get_from_source(&source, &id).await;
        let (status, at_target) = target.get("statementId", &id).await;
        assert_eq!(status, 200, "{id} at the target");
        assert_eq!(content(&at_target), content(&at_source), "{id}");
    }
    assert_eq!(listed["kind"], "xapi");
    assert_eq!(listed["state"], "active");
    assert_eq!(listed["delivered"], 25, "{listed}");
    assert_eq!(listed["dead_lettered"], 0, "{listed}");

    // The target's password is never printed back.
    for out in [
        source.forwarders(&["list", "--json"]).await.unwrap(),
        source
            .forwarders(&["show", "warehouse", "--json"])
            .await
            .unwrap(),
        source.forwarders(&["show", "warehouse"]).await.unwrap(),
        source.forwarders(&["list"]).await.unwrap(),
    ] {
        assert!(!out.contains(&target.app.secret), "a secret printed: {out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voiding_arrives_with_voiding_and_only_then() {
    let source = Source::start().await;
    let with_voiding = Target::start().await;
    let without = Target::start().await;
    source
        .to_lrs("with", &with_voiding, &["--verb", COMPLETED, "--voiding"])
        .await;
    source
        .to_lrs("without", &without, &["--verb", COMPLETED])
        .await;

    let completed = statement("ada", COMPLETED, "http://example.com/courses/1");
    let other = statement("ada", EXPERIENCED, "http://example.com/courses/1");
    let unrelated = statement("bob", EXPERIENCED, "http://example.com/courses/2");
    source
        .post(&[completed.clone(), other.clone(), unrelated.clone()])
        .await;
    let voiding = |target: &Value| {
        json!({"id": uuid::Uuid::new_v4(),
               "actor": {"mbox": "mailto:admin@example.com"},
               "verb": {"id": VOIDED, "display": {"en-US": "voided"}},
               "object": {"objectType": "StatementRef", "id": target["id"]}})
    };
    // One voiding Statement whose target matched the filter, one whose target did not.
    let voids_completed = voiding(&completed);
    let voids_unrelated = voiding(&unrelated);
    source
        .post(&[voids_completed.clone(), voids_unrelated.clone()])
        .await;

    source.until_caught_up("with").await;
    source.until_caught_up("without").await;
    let at_with = with_voiding.stored().await;
    assert_eq!(
        at_with.keys().cloned().collect::<BTreeSet<_>>(),
        ids(&[completed.clone(), voids_completed.clone()]),
    );
    let (status, _) = with_voiding.get("statementId", &id_of(&completed)).await;
    assert_eq!(status, 404, "voided at the target");
    let (status, voided) = with_voiding
        .get("voidedStatementId", &id_of(&completed))
        .await;
    assert_eq!(status, 200);
    assert_eq!(voided["id"], completed["id"]);

    let at_without = without.stored().await;
    assert_eq!(
        at_without.keys().cloned().collect::<BTreeSet<_>>(),
        ids(std::slice::from_ref(&completed)),
        "no voiding Statement without --voiding"
    );
    let (status, _) = without.get("statementId", &id_of(&completed)).await;
    assert_eq!(
        status, 200,
        "not voided at a target that was not sent voiding"
    );
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_arrive_as_multipart() {
    let source = Source::start().await;
    let target = Target::start().await;
    let certificate: Vec<u8> = (0..70_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let notes = b"notes of the session\r\n--not-a-boundary\r\n".to_vec();
    let mut with_parts = statement("ada", COMPLETED, "http://example.com/courses/1");
    with_parts["attachments"] = json!([
        {"usageType": "http://id.tincanapi.com/attachment/certificate-of-completion",
         "display": {"en-US": "certificate"}, "contentType": "application/pdf",
         "length": certificate.len(), "sha2": sha256_hex(&certificate)},
        {"usageType": "http://example.com/attachment-usage/notes",
         "display": {"en-US": "notes"}, "contentType": "text/plain",
         "length": notes.len(), "sha2": sha256_hex(&notes)},
    ]);
    let mut by_url = statement("bob", COMPLETED, "http://example.com/courses/1");
    by_url["attachments"] = json!([
        {"usageType": "http://example.com/attachment-usage/slides",
         "display": {"en-US": "slides"}, "contentType": "application/pdf",
         "length": 1234, "sha2": sha256_hex(b"elsewhere"),
         "fileUrl": "http://example.com/slides.pdf"},
    ]);
    let plain = statement("cy", COMPLETED, "http://example.com/courses/1");
    let batch = json!([with_parts, by_url, plain]);
    let text = batch.to_string();
    let part = |data: &[u8], content_type: &str| -> Headers {
        vec![
            ("Content-Type".into(), content_type.into()),
            ("Content-Transfer-Encoding".into(), "binary".into()),
            ("X-Experience-API-Hash".into(), sha256_hex(data)),
        ]
    };
    let body = build_mixed(
        "forwarding-test-boundary",
        &[
            (
                vec![("Content-Type".into(), "application/json".into())],
                text.as_bytes(),
            ),
            (part(&certificate, "application/pdf"), &certificate),
            (part(&notes, "text/plain"), &notes),
        ],
    );
    let response = source
        .xapi(Method::POST, "/xapi/statements")
        .header(
            "Content-Type",
            "multipart/mixed; boundary=forwarding-test-boundary",
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());

    source
        .to_lrs("archive", &target, &["--from-start", "--batch-size", "2"])
        .await;
    let listed = source.until_caught_up("archive").await;
    assert_eq!(listed["dead_lettered"], 0, "{listed}");
    target
        .until_holds(&ids(&[with_parts.clone(), by_url.clone(), plain.clone()]))
        .await;

    let client = target.app.pool.get().await.unwrap();
    let rows = client
        .query("SELECT sha2, content FROM attachments ORDER BY sha2", &[])
        .await
        .unwrap();
    let mut arrived: Vec<(String, Vec<u8>)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let mut expected = vec![
        (sha256_hex(&certificate), certificate.clone()),
        (sha256_hex(&notes), notes.clone()),
    ];
    arrived.sort();
    expected.sort();
    assert!(
        arrived == expected,
        "the target holds the attachments' content: {:?}",
        arrived
            .iter()
            .map(|(h, c)| (h, c.len()))
            .collect::<Vec<_>>()
    );
    for s in [&with_parts, &by_url] {
        let (status, at_target) = target.get("statementId", &id_of(s)).await;
        assert_eq!(status, 200);
        assert_eq!(at_target["attachments"], s["attachments"]);
    }

    // And the target serves them back with the Statement.
    let response = target
        .app
        .xapi(Method::GET, "/xapi/statements")
        .query(&[
            ("statementId", id_of(&with_parts).as_str()),
            ("attachments", "true"),
        ])
        .send()
        .await
        .unwrap();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("multipart/mixed"),
        "{content_type}"
    );
    let body = response.bytes().await.unwrap();
    let find = |needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
    assert!(find(&certificate) && find(&notes));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_the_target_already_holds_counts_as_delivered() {
    let source = Source::start().await;
    let target = Target::start().await;
    let sent: Vec<Value> = (0..10)
        .map(|i| statement("ada", EXPERIENCED, &format!("http://example.com/pages/{i}")))
        .collect();
    // The target already holds one of them as it is and another under the same id with
    // other content (so it answers 409 for any batch holding that one).
    let put = |s: &Value| {
        target
            .app
            .xapi(Method::PUT, "/xapi/statements")
            .query(&[("statementId", id_of(s))])
            .json(s)
            .send()
    };
    assert_eq!(put(&sent[2]).await.unwrap().status(), 204);
    let mut changed = sent[6].clone();
    changed["result"]["score"]["scaled"] = json!(0.1);
    assert_eq!(put(&changed).await.unwrap().status(), 204);
    source.post(&sent).await;

    source
        .to_lrs("copy", &target, &["--from-start", "--batch-size", "10"])
        .await;
    let listed = source.until_caught_up("copy").await;
    let stored = target.stored().await;
    assert_eq!(
        stored.keys().cloned().collect::<BTreeSet<_>>(),
        ids(&sent),
        "every Statement reached the target, the batch around the conflict too"
    );
    assert_eq!(
        listed["dead_lettered"], 0,
        "a 409 is not a dead letter: {listed}"
    );
    assert_eq!(listed["delivered"], 10, "{listed}");
    let (_, kept) = target.get("statementId", &id_of(&sent[6])).await;
    assert_eq!(
        kept["result"]["score"]["scaled"], 0.1,
        "the target's own stays"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_client_credentials() {
    let source = Source::start().await;
    let target = Target::start().await;
    let token_url = format!("http://{}/oauth/token", target.app.address);
    let endpoint = target.endpoint();
    // `=`: a key may start with '-'.
    let client_id = format!("--client-id={}", target.app.key);
    let client_secret = format!("--client-secret={}", target.app.secret);
    source
        .create(&[
            "--name",
            "oauth",
            "--kind",
            "xapi",
            "--endpoint",
            &endpoint,
            "--token-url",
            &token_url,
            &client_id,
            &client_secret,
            "--scope",
            "xapi:write",
            "--xapi-version",
            "2.0.0",
        ])
        .await;
    let sent: Vec<Value> = (0..5)
        .map(|i| statement("ada", COMPLETED, &format!("http://example.com/modules/{i}")))
        .collect();
    source.post(&sent).await;
    let listed = source.until_caught_up("oauth").await;
    assert_eq!(listed["dead_lettered"], 0, "{listed}");
    assert_eq!(listed["delivered"], 5, "{listed}");
    let stored = target.stored().await;
    assert_eq!(stored.keys().cloned().collect::<BTreeSet<_>>(), ids(&sent));
    let shown = source.show("oauth").await;
    assert_eq!(shown["xapi_version"], "2.0.0", "{shown}");
    assert!(!shown.to_string().contains(&target.app.secret));
}

/// The default version, 1.0.3: Statements the source took under 2.0.0 (stored with
/// `"version": "2.0.0"`) still reach a target that speaks 1.0.3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_1_0_3_target_receives_statements_written_under_2_0_0() {
    let source = Source::start().await;
    let target = Target::start().await;
    source
        .to_lrs("older", &target, &["--xapi-version", "1.0.3"])
        .await;
    let sent: Vec<Value> = (0..5)
        .map(|i| statement("ada", COMPLETED, &format!("http://example.com/modules/{i}")))
        .collect();
    source.post(&sent).await;
    let listed = source.until_caught_up("older").await;
    assert_eq!(listed["xapi_version"], "1.0.3", "{listed}");
    assert_eq!(listed["dead_lettered"], 0, "{listed}");
    let stored = target.stored().await;
    assert_eq!(stored.keys().cloned().collect::<BTreeSet<_>>(), ids(&sent));
}
