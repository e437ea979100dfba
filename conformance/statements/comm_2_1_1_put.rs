//! Communication §2.1.1: PUT Statements.

use serde_json::json;
use uuid::Uuid;

use crate::common::*;

#[tokio::test]
async fn comm_2_1_1_put_returns_204_and_stores_under_the_id() {
    let app = spawn_app().await;
    for version in VERSIONS {
        let id = Uuid::new_v4();
        let response = put(
            &app,
            version,
            &format!("statementId={id}"),
            &statement("ada", "a"),
        )
        .await;
        assert_eq!(response.status(), 204, "{version}");
        assert!(response.text().await.unwrap().is_empty(), "204 has no body");
        let (status, stored) = get_statement(&app, version, id).await;
        assert_eq!(status, 200, "{version}: {stored}");
        assert_eq!(stored["id"], json!(id.to_string()));
    }
}

#[tokio::test]
async fn comm_2_1_1_put_with_matching_id_in_body_returns_204() {
    let app = spawn_app().await;
    let id = Uuid::new_v4();
    let response = put(
        &app,
        V2,
        &format!("statementId={id}"),
        &with_id(statement("ada", "a"), id),
    )
    .await;
    assert_eq!(response.status(), 204);
}

#[tokio::test]
async fn comm_2_1_1_put_without_statement_id_is_400() {
    let app = spawn_app().await;
    for version in VERSIONS {
        assert_400(
            put(&app, version, "", &statement("ada", "a")).await,
            version,
        )
        .await;
    }
    assert_nothing_stored(&app, "PUT without statementId").await;
}

#[tokio::test]
async fn comm_2_1_1_put_id_mismatch_is_400() {
    let app = spawn_app().await;
    for version in VERSIONS {
        let body = with_id(statement("ada", "a"), Uuid::new_v4());
        let response = put(
            &app,
            version,
            &format!("statementId={}", Uuid::new_v4()),
            &body,
        )
        .await;
        assert_400(response, version).await;
    }
    assert_nothing_stored(&app, "PUT id mismatch").await;
}

#[tokio::test]
async fn comm_2_1_1_put_unknown_parameter_is_400() {
    let app = spawn_app().await;
    for version in VERSIONS {
        let query = format!("statementId={}&foo=bar", Uuid::new_v4());
        assert_400(
            put(&app, version, &query, &statement("ada", "a")).await,
            version,
        )
        .await;
    }
    assert_nothing_stored(&app, "PUT with unknown parameter").await;
}

#[tokio::test]
async fn comm_2_1_1_put_statement_id_not_a_uuid_is_400() {
    let app = spawn_app().await;
    assert_400(
        put(&app, V2, "statementId=not-a-uuid", &statement("ada", "a")).await,
        "bad id",
    )
    .await;
}

#[tokio::test]
async fn comm_2_1_1_put_invalid_statement_is_400() {
    let app = spawn_app().await;
    let mut body = statement("ada", "a");
    body.as_object_mut().unwrap().remove("verb");
    let response = put(&app, V2, &format!("statementId={}", Uuid::new_v4()), &body).await;
    assert_400(response, "no verb").await;
    assert_nothing_stored(&app, "invalid PUT").await;
}

#[tokio::test]
async fn comm_2_1_1_put_array_body_is_400() {
    let app = spawn_app().await;
    let response = put(
        &app,
        V2,
        &format!("statementId={}", Uuid::new_v4()),
        &json!([statement("ada", "a")]),
    )
    .await;
    assert_400(response, "array body on PUT").await;
}

#[tokio::test]
async fn comm_2_1_1_put_same_id_same_content_is_204_without_change() {
    let app = spawn_app().await;
    let id = Uuid::new_v4();
    let query = format!("statementId={id}");
    assert_eq!(
        put(&app, V2, &query, &statement("ada", "a")).await.status(),
        204
    );
    let (_, before) = get_statement(&app, V2, id).await;
    assert_eq!(
        put(&app, V2, &query, &statement("ada", "a")).await.status(),
        204
    );
    let (_, after) = get_statement(&app, V2, id).await;
    assert_eq!(before["stored"], after["stored"]);
}

#[tokio::test]
async fn comm_2_1_1_put_same_id_different_content_is_409() {
    let app = spawn_app().await;
    for version in VERSIONS {
        let id = Uuid::new_v4();
        let query = format!("statementId={id}");
        assert_eq!(
            put(&app, version, &query, &statement("ada", "a"))
                .await
                .status(),
            204
        );
        let (status, code, _) =
            error_of(put(&app, version, &query, &statement("ada", "b")).await).await;
        assert_eq!(status, 409, "{version}");
        assert_eq!(code, "conflict");
        let (_, stored) = get_statement(&app, version, id).await;
        assert_eq!(stored["object"]["id"], json!(activity_iri("a")));
    }
}
