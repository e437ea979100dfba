//! Communication §2.1.4 and Data §2.3.2: voided Statements.

use serde_json::json;
use uuid::Uuid;

use crate::common::*;

#[tokio::test]
async fn comm_2_1_4_voided_statement_is_excluded_and_fetched_by_voided_statement_id() {
    let app = spawn_app().await;
    for version in VERSIONS {
        let target = post_one(&app, version, &statement("ada", "a")).await;
        let voider = post_one(&app, version, &voiding(target)).await;
        assert_eq!(
            get_statement(&app, version, target).await.0,
            404,
            "{version}"
        );
        let (status, voided) = get_voided(&app, version, target).await;
        assert_eq!(status, 200, "{version}");
        assert_eq!(voided["id"], json!(target.to_string()));
        let ids = query_ids(&app, version, "").await;
        assert!(!ids.contains(&target), "{version}: voided statement listed");
        assert!(
            ids.contains(&voider),
            "{version}: voiding statement not listed"
        );
        assert_eq!(get_statement(&app, version, voider).await.0, 200);
        assert_eq!(get_voided(&app, version, voider).await.0, 404);
    }
}

#[tokio::test]
async fn comm_2_1_4_voiding_statement_is_returned_by_filters_of_the_voided_one() {
    let app = spawn_app().await;
    let target = post_one(&app, V2, &statement("ben", "x")).await;
    let voider = post_one(&app, V2, &voiding(target)).await;
    let ids = query_ids(&app, V2, &format!("agent={}", enc(&agent("ben")))).await;
    assert_eq!(ids, vec![voider]);
    let ids = query_ids(
        &app,
        V2,
        &format!("activity={}", enc(&json!(activity_iri("x")))),
    )
    .await;
    assert_eq!(ids, vec![voider]);
}

#[tokio::test]
async fn data_2_3_2_voiding_a_voiding_statement_does_not_void_it() {
    let app = spawn_app().await;
    let target = post_one(&app, V2, &statement("ada", "a")).await;
    let voider = post_one(&app, V2, &voiding(target)).await;
    let response = post(&app, V2, &voiding(voider)).await;
    // Either rejected or accepted without effect; the voiding Statement stays.
    assert!(
        matches!(response.status().as_u16(), 200 | 400),
        "{}",
        response.status()
    );
    assert_eq!(get_statement(&app, V2, voider).await.0, 200);
    assert_eq!(get_voided(&app, V2, voider).await.0, 404);
    assert_eq!(
        get_statement(&app, V2, target).await.0,
        404,
        "the target stays voided"
    );
}

#[tokio::test]
async fn data_2_3_2_voiding_statement_arriving_first_voids_the_later_target() {
    let app = spawn_app().await;
    for version in VERSIONS {
        let target = Uuid::new_v4();
        let voider = post_one(&app, version, &voiding(target)).await;
        assert_eq!(
            get_statement(&app, version, voider).await.0,
            200,
            "unknown target is accepted"
        );
        post_ok(&app, version, &with_id(statement("ada", "a"), target)).await;
        assert_eq!(
            get_statement(&app, version, target).await.0,
            404,
            "{version}"
        );
        assert_eq!(get_voided(&app, version, target).await.0, 200, "{version}");
        assert!(!query_ids(&app, version, "").await.contains(&target));
    }
}

#[tokio::test]
async fn data_2_3_2_voiding_and_target_in_one_batch() {
    let app = spawn_app().await;
    for order in [true, false] {
        let target = Uuid::new_v4();
        let pair = if order {
            json!([with_id(statement("ada", "a"), target), voiding(target)])
        } else {
            json!([voiding(target), with_id(statement("ada", "a"), target)])
        };
        post_ok(&app, V2, &pair).await;
        assert_eq!(
            get_statement(&app, V2, target).await.0,
            404,
            "order {order}"
        );
        assert_eq!(get_voided(&app, V2, target).await.0, 200, "order {order}");
    }
}

#[tokio::test]
async fn data_2_3_2_voiding_the_same_statement_twice_is_fine() {
    let app = spawn_app().await;
    let target = post_one(&app, V2, &statement("ada", "a")).await;
    post_one(&app, V2, &voiding(target)).await;
    post_one(&app, V2, &voiding(target)).await;
    assert_eq!(get_voided(&app, V2, target).await.0, 200);
}

#[tokio::test]
async fn data_2_3_2_voiding_statement_resent_is_not_a_conflict() {
    let app = spawn_app().await;
    let target = post_one(&app, V2, &statement("ada", "a")).await;
    let id = Uuid::new_v4();
    post_ok(&app, V2, &with_id(voiding(target), id)).await;
    assert_eq!(
        post_ok(&app, V2, &with_id(voiding(target), id)).await,
        vec![id]
    );
}

#[tokio::test]
async fn data_2_3_2_voided_statement_resent_stays_voided() {
    let app = spawn_app().await;
    let target = Uuid::new_v4();
    let body = with_id(statement("ada", "a"), target);
    post_ok(&app, V2, &body).await;
    post_one(&app, V2, &voiding(target)).await;
    assert_eq!(post_ok(&app, V2, &body).await, vec![target]);
    assert_eq!(get_statement(&app, V2, target).await.0, 404);
    let status = put(&app, V2, &format!("statementId={target}"), &body)
        .await
        .status();
    assert_eq!(status, 204);
    assert_eq!(get_statement(&app, V2, target).await.0, 404);
}

#[tokio::test]
async fn data_2_3_2_voiding_substatement_or_voiding_in_substatement_does_not_void() {
    let app = spawn_app().await;
    let target = post_one(&app, V2, &statement("ada", "a")).await;
    let mut s = statement("bob", "b");
    s["object"] = json!({"objectType": "SubStatement", "actor": agent("bob"),
        "verb": {"id": VOIDED}, "object": {"objectType": "StatementRef", "id": target.to_string()}});
    post_one(&app, V2, &s).await;
    assert_eq!(get_statement(&app, V2, target).await.0, 200);
}
