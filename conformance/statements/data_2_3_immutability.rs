//! Data §2.3.1 (immutability) and 2.0 §4.2.4: which differences make a same-id
//! Statement "the same" (accepted, nothing changes) and which are a conflict.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::common::*;

fn full() -> Value {
    json!({
        "actor": {"objectType": "Group", "name": "g", "member": [agent("ada"), agent("bob")]},
        "verb": {"id": VERB, "display": {"en-US": "experienced"}},
        "object": {"objectType": "Activity", "id": activity_iri("a"), "definition": {"name": {"en-US": "A"}}},
        "result": {"duration": "PT1.23S", "score": {"raw": 1.0}},
        "context": {"contextActivities": {"parent": [activity(&activity_iri("p"))]}},
        "timestamp": "2024-01-02T03:04:05.000Z",
    })
}

async fn resend(app: &TestApp, version: &str, first: &Value, second: &Value) -> u16 {
    let id = Uuid::new_v4();
    post_ok(app, version, &with_id(first.clone(), id)).await;
    let (_, before) = get_statement(app, version, id).await;
    let status = post(app, version, &with_id(second.clone(), id))
        .await
        .status()
        .as_u16();
    let (_, after) = get_statement(app, version, id).await;
    assert_eq!(before, after, "the stored Statement changed");
    status
}

#[tokio::test]
async fn data_2_3_1_equivalent_resends_are_accepted() {
    let app = spawn_app().await;
    let base = full();
    let mut variants: Vec<(&str, Value)> = Vec::new();
    let mut v = base.clone();
    v["verb"]["display"] = json!({"fr": "expérimenté"});
    variants.push(("verb display", v));
    let mut v = base.clone();
    v["object"]["definition"] = json!({"name": {"de": "B"}});
    variants.push(("activity definition", v));
    let mut v = base.clone();
    v["actor"]["member"] = json!([agent("bob"), agent("ada")]);
    variants.push(("member order", v));
    let mut v = base.clone();
    v["actor"]["member"][0]["mbox"] = json!("mailto:ada@EXAMPLE.com");
    variants.push(("email domain case", v));
    let mut v = base.clone();
    v["context"]["contextActivities"]["parent"] = activity(&activity_iri("p"));
    variants.push(("single contextActivity", v));
    let mut v = base.clone();
    v["timestamp"] = json!("2024-01-02T05:04:05.000+02:00");
    variants.push(("timestamp same instant", v));
    let mut v = base.clone();
    v["result"]["duration"] = json!("PT1.234S");
    variants.push(("duration beyond hundredths", v));
    let mut v = base.clone();
    v["result"]["score"]["raw"] = json!(1);
    variants.push(("number 1 vs 1.0", v));
    let mut v = base.clone();
    v["version"] = json!("1.0.0");
    variants.push(("version", v));
    for version in VERSIONS {
        for (what, variant) in &variants {
            if *what == "version" && version == V1 {
                continue;
            }
            assert_eq!(
                resend(&app, version, &base, variant).await,
                200,
                "{version}: {what}"
            );
        }
    }
}

#[tokio::test]
async fn data_2_3_1_different_resends_are_409() {
    let app = spawn_app().await;
    let base = full();
    let mut variants: Vec<(&str, Value)> = Vec::new();
    let mut v = base.clone();
    v["verb"]["id"] = json!("http://example.com/verbs/other");
    variants.push(("verb id", v));
    let mut v = base.clone();
    v["actor"]["member"] = json!([agent("ada")]);
    variants.push(("members", v));
    let mut v = base.clone();
    v["result"]["duration"] = json!("PT1.3S");
    variants.push(("duration", v));
    let mut v = base.clone();
    v["result"]["success"] = json!(true);
    variants.push(("result added", v));
    let mut v = base.clone();
    v["timestamp"] = json!("2024-01-02T03:04:06.000Z");
    variants.push(("timestamp", v));
    let mut v = base.clone();
    v["context"]["registration"] = json!(Uuid::new_v4().to_string());
    variants.push(("registration added", v));
    let mut v = base.clone();
    v["object"]["id"] = json!(activity_iri("b"));
    variants.push(("object id", v));
    for version in VERSIONS {
        for (what, variant) in &variants {
            assert_eq!(
                resend(&app, version, &base, variant).await,
                409,
                "{version}: {what}"
            );
        }
    }
}
