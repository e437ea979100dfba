//! Access: statements/read/mine and write-only credentials (Communication §4 scopes).

use commonplace::auth::Scope;
use reqwest::Method;
use serde_json::Value;

use crate::common::*;

#[tokio::test]
async fn comm_4_read_mine_only_sees_own_statements() {
    let app = spawn_app().await;
    let theirs = post_one(&app, V2, &statement("ada", "a")).await;
    let mine_cred = app
        .credential(
            "default",
            &[Scope::StatementsWrite, Scope::StatementsReadMine],
        )
        .await;
    let as_mine = |method: Method, path: &str| {
        app.http
            .request(method, app.url(path))
            .basic_auth(&mine_cred.key, Some(&mine_cred.secret))
            .header("X-Experience-API-Version", V2)
    };
    let response = as_mine(Method::POST, "/xapi/statements")
        .json(&statement("bob", "b"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mine: Vec<uuid::Uuid> = response.json().await.unwrap();
    let result: Value = as_mine(Method::GET, "/xapi/statements")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ids_of(&result), mine);
    let response = as_mine(
        Method::GET,
        &format!("/xapi/statements?statementId={theirs}"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 404);
    let response = as_mine(
        Method::GET,
        &format!("/xapi/statements?statementId={}", mine[0]),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    // Filters cannot reach around it.
    let q = format!("/xapi/statements?agent={}", enc(&agent("ada")));
    let result: Value = as_mine(Method::GET, &q)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(ids_of(&result).is_empty());
    // The all-reading credential sees both.
    assert_eq!(query_ids(&app, V2, "").await.len(), 2);
}

#[tokio::test]
async fn comm_4_write_only_credential_cannot_read() {
    let app = spawn_app().await;
    let cred = app.credential("default", &[Scope::StatementsWrite]).await;
    let response = app
        .http
        .get(app.url("/xapi/statements"))
        .basic_auth(&cred.key, Some(&cred.secret))
        .header("X-Experience-API-Version", V2)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn comm_4_read_only_credential_cannot_write() {
    let app = spawn_app().await;
    let cred = app.credential("default", &[Scope::StatementsRead]).await;
    let response = app
        .http
        .post(app.url("/xapi/statements"))
        .basic_auth(&cred.key, Some(&cred.secret))
        .header("X-Experience-API-Version", V2)
        .json(&statement("ada", "a"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_nothing_stored(&app, "read-only write").await;
}
