//! Communication §2.1.2: POST Statements.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::common::*;

#[tokio::test]
async fn comm_2_1_2_post_single_returns_array_of_its_id() {
    let app = spawn_app().await;
    for version in VERSIONS {
        let ids = post_ok(&app, version, &statement("ada", "a")).await;
        assert_eq!(ids.len(), 1);
        let (status, _) = get_statement(&app, version, ids[0]).await;
        assert_eq!(status, 200);
        let id = Uuid::new_v4();
        assert_eq!(
            post_ok(&app, version, &with_id(statement("ada", "a"), id)).await,
            vec![id]
        );
    }
}

#[tokio::test]
async fn comm_2_1_2_post_array_returns_ids_in_order() {
    let app = spawn_app().await;
    for version in VERSIONS {
        let given = [Uuid::new_v4(), Uuid::new_v4()];
        let batch = json!([
            with_id(statement("ada", "1"), given[0]),
            statement("bob", "2"),
            with_id(statement("cy", "3"), given[1]),
        ]);
        let ids = post_ok(&app, version, &batch).await;
        assert_eq!(ids.len(), 3);
        assert_eq!(ids[0], given[0]);
        assert_eq!(ids[2], given[1]);
        for (id, act) in ids.iter().zip(["1", "2", "3"]) {
            let (status, stored) = get_statement(&app, version, *id).await;
            assert_eq!(status, 200);
            assert_eq!(stored["object"]["id"], json!(activity_iri(act)));
        }
    }
}

#[tokio::test]
async fn comm_2_1_2_post_batch_with_one_invalid_is_400_and_stores_nothing() {
    let app = spawn_app().await;
    for version in VERSIONS {
        let mut bad = statement("bob", "2");
        bad["verb"] = json!({"id": "not an iri"});
        let batch = json!([statement("ada", "1"), bad, statement("cy", "3")]);
        let message = assert_400(post(&app, version, &batch).await, version).await;
        assert!(
            message.contains("statement[1]"),
            "names the bad one: {message}"
        );
    }
    assert_nothing_stored(&app, "batch with an invalid Statement").await;
}

#[tokio::test]
async fn comm_2_1_2_post_batch_with_conflict_stores_nothing() {
    let app = spawn_app().await;
    let id = Uuid::new_v4();
    post_ok(&app, V2, &with_id(statement("ada", "1"), id)).await;
    let fresh = Uuid::new_v4();
    let batch = json!([
        with_id(statement("bob", "2"), fresh),
        with_id(statement("ada", "other"), id)
    ]);
    assert_eq!(post(&app, V2, &batch).await.status(), 409);
    assert_eq!(
        get_statement(&app, V2, fresh).await.0,
        404,
        "half a batch was stored"
    );
}

#[tokio::test]
async fn comm_2_1_2_post_duplicate_id_in_batch_is_400() {
    let app = spawn_app().await;
    for version in VERSIONS {
        let id = Uuid::new_v4();
        let batch = json!([
            with_id(statement("ada", "1"), id),
            with_id(statement("ada", "1"), id)
        ]);
        assert_400(post(&app, version, &batch).await, version).await;
    }
    assert_nothing_stored(&app, "batch repeating an id").await;
}

#[tokio::test]
async fn comm_2_1_2_post_same_id_same_content_is_accepted_without_change() {
    let app = spawn_app().await;
    for version in VERSIONS {
        let id = Uuid::new_v4();
        let body = with_id(statement("ada", "a"), id);
        post_ok(&app, version, &body).await;
        let (_, before) = get_statement(&app, version, id).await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert_eq!(post_ok(&app, version, &body).await, vec![id]);
        let (_, after) = get_statement(&app, version, id).await;
        assert_eq!(
            before["stored"], after["stored"],
            "{version}: stored changed"
        );
        assert_eq!(before, after);
        // A batch mixing the known Statement with a new one stores the new one.
        let other = Uuid::new_v4();
        let batch = json!([body, with_id(statement("bob", "b"), other)]);
        assert_eq!(post_ok(&app, version, &batch).await, vec![id, other]);
        assert_eq!(get_statement(&app, version, other).await.0, 200);
    }
}

#[tokio::test]
async fn comm_2_1_2_post_same_id_different_content_is_409() {
    let app = spawn_app().await;
    for version in VERSIONS {
        let id = Uuid::new_v4();
        post_ok(&app, version, &with_id(statement("ada", "a"), id)).await;
        let (status, code, _) =
            error_of(post(&app, version, &with_id(statement("ada", "b"), id)).await).await;
        assert_eq!((status, code.as_str()), (409, "conflict"), "{version}");
    }
}

#[tokio::test]
async fn comm_2_1_2_post_with_query_parameter_is_400() {
    let app = spawn_app().await;
    let response = req(&app, reqwest::Method::POST, "/xapi/statements?foo=bar", V2)
        .json(&statement("ada", "a"))
        .send()
        .await
        .unwrap();
    assert_400(response, "POST ?foo").await;
}

#[tokio::test]
async fn comm_2_1_2_post_not_json_is_400() {
    let app = spawn_app().await;
    for body in ["{", "[1,2", "\"just a string\"", "42", "[1]"] {
        let response = req(&app, reqwest::Method::POST, "/xapi/statements", V2)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_400(response, body).await;
    }
    assert_nothing_stored(&app, "bad JSON").await;
}

#[tokio::test]
async fn comm_1_5_unsupported_content_type_is_400() {
    let app = spawn_app().await;
    let response = req(&app, reqwest::Method::POST, "/xapi/statements", V2)
        .header("Content-Type", "text/plain")
        .body(statement("ada", "a").to_string())
        .send()
        .await
        .unwrap();
    assert_400(response, "text/plain").await;
}

#[tokio::test]
async fn comm_2_1_2_post_sets_lrs_properties() {
    let app = spawn_app().await;
    for version in VERSIONS {
        let id = post_one(&app, version, &statement("ada", "a")).await;
        let (_, stored) = get_statement(&app, version, id).await;
        for key in ["id", "stored", "timestamp", "authority", "version"] {
            assert!(stored.get(key).is_some(), "{version}: no {key}: {stored}");
        }
        assert_eq!(
            stored["timestamp"], stored["stored"],
            "missing timestamp is set to stored"
        );
        let expected = if version == V1 { "1.0.0" } else { "2.0.0" };
        assert_eq!(stored["version"], json!(expected), "{version}");
    }
}

#[tokio::test]
async fn data_2_4_10_version_kept_when_given() {
    let app = spawn_app().await;
    for (version, given) in [(V1, "1.0.3"), (V2, "1.0.0"), (V2, "2.0.0")] {
        let mut body = statement("ada", "a");
        body["version"] = json!(given);
        let id = post_one(&app, version, &body).await;
        let (_, stored) = get_statement(&app, version, id).await;
        assert_eq!(stored["version"], json!(given), "{version}");
    }
}

#[tokio::test]
async fn data_2_4_9_authority_is_set_by_the_lrs() {
    let app = spawn_app().await;
    let mut body = statement("ada", "a");
    body["authority"] = agent("impostor");
    let response = post(&app, V2, &body).await;
    // An LRS may reject a foreign authority or overwrite it; it must not keep it.
    if response.status() == 200 {
        let id: Vec<Uuid> = response.json().await.unwrap();
        let (_, stored) = get_statement(&app, V2, id[0]).await;
        assert_ne!(
            stored["authority"]["mbox"],
            json!("mailto:impostor@example.com")
        );
    } else {
        assert_eq!(response.status(), 400);
    }
}

#[tokio::test]
async fn v2_timestamps_are_returned_in_utc() {
    let app = spawn_app().await;
    let mut body = statement("ada", "a");
    body["timestamp"] = json!("2023-05-04T12:00:00.000-05:00");
    let id = post_one(&app, V2, &body).await;
    let (_, stored) = get_statement(&app, V2, id).await;
    let timestamp = stored["timestamp"].as_str().unwrap();
    assert!(timestamp.ends_with('Z'), "{timestamp}");
    assert!(timestamp.starts_with("2023-05-04T17:00:00"), "{timestamp}");
    assert!(stored["stored"].as_str().unwrap().ends_with('Z'));
    let (_, result) = get(&app, V2, "").await;
    let listed: &Value = &result["statements"][0];
    assert!(listed["timestamp"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn v2_timestamp_with_offset_is_the_same_statement_after_conversion() {
    let app = spawn_app().await;
    let id = Uuid::new_v4();
    let mut body = with_id(statement("ada", "a"), id);
    body["timestamp"] = json!("2023-05-04T12:00:00.000-05:00");
    post_ok(&app, V2, &body).await;
    // Resending it is not a conflict: the timestamps are the same instant.
    assert_eq!(post_ok(&app, V2, &body).await, vec![id]);
}

#[tokio::test]
async fn comm_2_1_2_lrs_overwrites_client_stored() {
    let app = spawn_app().await;
    let mut body = statement("ada", "a");
    body["stored"] = json!("2001-01-01T00:00:00.000Z");
    let response = post(&app, V2, &body).await;
    if response.status() == 200 {
        let ids: Vec<Uuid> = response.json().await.unwrap();
        let (_, stored) = get_statement(&app, V2, ids[0]).await;
        assert_ne!(stored["stored"], json!("2001-01-01T00:00:00.000Z"));
    } else {
        assert_eq!(response.status(), 400);
    }
}

#[tokio::test]
async fn comm_1_5_json_content_type_with_charset_is_accepted() {
    let app = spawn_app().await;
    let response = req(&app, reqwest::Method::POST, "/xapi/statements", V2)
        .header("Content-Type", "application/json; charset=utf-8")
        .body(statement("ada", "a").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn v2_duplicate_json_key_is_400() {
    let app = spawn_app().await;
    let body = format!(
        r#"{{"actor":{},"verb":{{"id":"{VERB}"}},"verb":{{"id":"{VERB}"}},"object":{{"id":"{}"}}}}"#,
        agent("ada"),
        activity_iri("a")
    );
    let response = req(&app, reqwest::Method::POST, "/xapi/statements", V2)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_400(response, "duplicate key").await;
}

#[tokio::test]
async fn comm_2_1_2_empty_batch_is_accepted_or_rejected_cleanly() {
    let app = spawn_app().await;
    let response = post(&app, V2, &json!([])).await;
    assert!(matches!(response.status().as_u16(), 200 | 400));
    assert_nothing_stored(&app, "empty batch").await;
}

#[tokio::test]
async fn comm_2_1_2_responses_carry_the_version_header() {
    let app = spawn_app().await;
    for (version, expected) in [
        (V1, "1.0.3"),
        ("1.0.0", "1.0.3"),
        (V2, "2.0.0"),
        ("2.0", "2.0.0"),
    ] {
        let response = post(&app, version, &statement("ada", "a")).await;
        assert_eq!(response.status(), 200, "{version}");
        assert_eq!(response.headers()["X-Experience-API-Version"], expected);
    }
}

#[tokio::test]
async fn comm_2_1_2_missing_version_header_is_400() {
    let app = spawn_app().await;
    let response = app
        .http
        .post(app.url("/xapi/statements"))
        .basic_auth(&app.key, Some(&app.secret))
        .json(&statement("ada", "a"))
        .send()
        .await
        .unwrap();
    assert_400(response, "no version header").await;
    assert_nothing_stored(&app, "no version header").await;
}
