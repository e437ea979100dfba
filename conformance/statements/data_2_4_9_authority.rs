//! Data §2.4.9: the authority is an Agent, or — in 3-legged OAuth — a Group of exactly
//! two Agents (the consumer and the user). The LRS replaces the authority a Statement
//! arrives with, but a Statement whose authority breaks these rules is malformed: 400,
//! naming the JSON path, and nothing stored.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::common::*;

/// Authorities that are not an Agent nor an anonymous Group of two Agents, and the
/// path the error must name.
fn malformed() -> Vec<(&'static str, Value, &'static str)> {
    let member = |name: &str| json!({"mbox": format!("mailto:{name}@example.com")});
    vec![
        (
            "an identified Group of two Agents",
            json!({"objectType": "Group", "mbox": "mailto:team@example.com",
                   "member": [member("consumer"), member("user")]}),
            "authority",
        ),
        (
            "an identified Group without members",
            json!({"objectType": "Group", "account": {"homePage": "http://example.com", "name": "g"}}),
            "authority",
        ),
        (
            "a Group of one Agent",
            json!({"objectType": "Group", "member": [member("user")]}),
            "authority",
        ),
        (
            "a Group of three Agents",
            json!({"objectType": "Group", "member": [member("a"), member("b"), member("c")]}),
            "authority",
        ),
        (
            "a Group with a Group member",
            json!({"objectType": "Group", "member": [member("consumer"),
                   {"objectType": "Group", "mbox": "mailto:g@example.com"}]}),
            "authority.member[1]",
        ),
        (
            "an Agent without an IFI",
            json!({"objectType": "Agent", "name": "nobody"}),
            "authority",
        ),
        (
            "an Activity",
            json!({"objectType": "Activity", "id": "http://example.com/a"}),
            "authority.objectType",
        ),
        ("a string", json!("mailto:user@example.com"), "authority"),
    ]
}

fn with_authority(authority: &Value) -> Value {
    let mut body = statement("ada", "a");
    body["authority"] = authority.clone();
    body
}

#[tokio::test]
async fn data_2_4_9_malformed_authority_is_400_naming_its_path() {
    let app = spawn_app().await;
    for version in VERSIONS {
        for (what, authority, path) in malformed() {
            let body = with_authority(&authority);
            for (how, response, root) in [
                ("POST", post(&app, version, &body).await, "statement"),
                (
                    "POST batch",
                    post(&app, version, &json!([statement("bob", "b"), body])).await,
                    "statement[1]",
                ),
                (
                    "PUT",
                    put(
                        &app,
                        version,
                        &format!("statementId={}", Uuid::new_v4()),
                        &body,
                    )
                    .await,
                    "statement",
                ),
            ] {
                let message = assert_400(response, &format!("{version} {how} {what}")).await;
                assert!(
                    message.starts_with(&format!("{root}.{path}:")),
                    "{version} {how} {what}: {message}"
                );
            }
        }
    }
    assert_nothing_stored(&app, "malformed authorities").await;
}

#[tokio::test]
async fn data_2_4_9_valid_authority_is_accepted_and_replaced() {
    let app = spawn_app().await;
    let agent_authority = json!({"objectType": "Agent", "mbox": "mailto:someone@example.com"});
    let oauth_authority = json!({"objectType": "Group", "member": [
        {"account": {"homePage": "http://example.com/xAPI/OAuth/Token", "name": "oauth_consumer_x75db"}},
        {"mbox": "mailto:bob@example.com"}]});
    for version in VERSIONS {
        for authority in [&agent_authority, &oauth_authority] {
            let id = post_one(&app, version, &with_authority(authority)).await;
            let (status, stored) = get_statement(&app, version, id).await;
            assert_eq!(status, 200);
            assert_ne!(&stored["authority"], authority, "{version}: not replaced");
            assert!(
                stored["authority"]["account"]["name"].is_string(),
                "{version}: the credential's authority: {stored}"
            );
        }
    }
}
