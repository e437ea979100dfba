//! Data §2.4.4.1: every property of an Activity Definition is optional, so an empty
//! definition `{}` is valid wherever an Activity is, a SubStatement's object included;
//! it is returned as sent and leaves the canonical definition as it was.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;

/// GET /xapi/activities?activityId=… → the Activity as the Activities resource has it.
async fn canonical_activity(app: &TestApp, version: &str, iri: &str) -> Value {
    let response = req(
        app,
        Method::GET,
        &format!("/xapi/activities?activityId={}", enc(&json!(iri))),
        version,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// The Activity `iri` with the empty definition `{}`.
fn with_empty_definition(iri: &str) -> Value {
    json!({"objectType": "Activity", "id": iri, "definition": {}})
}

#[tokio::test]
async fn data_2_4_4_1_empty_definition_is_valid_and_returned_as_sent() {
    let app = spawn_app().await;
    for version in VERSIONS {
        let iri = activity_iri(&format!("empty-{version}"));
        let mut body = statement("ada", "unused");
        body["object"] = with_empty_definition(&iri);
        let id = post_one(&app, version, &body).await;
        let (status, stored) = get(&app, version, &format!("statementId={id}&format=exact")).await;
        assert_eq!(status, 200);
        assert_eq!(stored["object"], body["object"], "{version}: {stored}");
        // Nothing was defined, so the LRS knows the Activity by its id alone.
        assert_eq!(
            canonical_activity(&app, version, &iri).await,
            activity(&iri)
        );
        let (_, canonical) =
            get(&app, version, &format!("statementId={id}&format=canonical")).await;
        assert_eq!(canonical["object"]["id"], json!(iri), "{canonical}");
    }
}

#[tokio::test]
async fn data_2_4_4_1_empty_definition_is_valid_in_a_substatement() {
    let app = spawn_app().await;
    for version in VERSIONS {
        let iri = activity_iri(&format!("sub-empty-{version}"));
        let mut body = statement("ada", "outer");
        body["object"] = json!({
            "objectType": "SubStatement",
            "actor": agent("bob"),
            "verb": {"id": VERB},
            "object": with_empty_definition(&iri),
        });
        let id = post_one(&app, version, &body).await;
        let (status, stored) = get(&app, version, &format!("statementId={id}")).await;
        assert_eq!(status, 200);
        assert_eq!(stored["object"], body["object"], "{version}: {stored}");
        assert_eq!(
            canonical_activity(&app, version, &iri).await,
            activity(&iri)
        );
    }
}

#[tokio::test]
async fn data_2_4_4_1_empty_definition_keeps_the_canonical_definition() {
    let app = spawn_app().await;
    for version in VERSIONS {
        let iri = activity_iri(&format!("defined-{version}"));
        let definition =
            json!({"name": {"en-US": "Defined"}, "type": "http://example.com/types/t"});
        let mut defined = statement("ada", "unused");
        defined["object"] = json!({"objectType": "Activity", "id": iri, "definition": definition});
        post_one(&app, version, &defined).await;
        let mut empty = statement("bob", "unused");
        empty["object"] = with_empty_definition(&iri);
        let mut in_substatement = statement("cy", "unused");
        in_substatement["object"] = json!({
            "objectType": "SubStatement",
            "actor": agent("dee"),
            "verb": {"id": VERB},
            "object": empty["object"],
        });
        post_ok(&app, version, &json!([empty, in_substatement])).await;
        assert_eq!(
            canonical_activity(&app, version, &iri).await,
            json!({"objectType": "Activity", "id": iri, "definition": definition})
        );
    }
}
