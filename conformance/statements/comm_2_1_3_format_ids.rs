//! Communication §2.1.3, `format=ids`: Agent, Activity, Verb and Group Objects carry
//! only what identifies them, wherever they are — actor, object, authority, context
//! instructor and team, and every part of a SubStatement. An Activity is its id, a Verb
//! its id, an Agent or identified Group its objectType and IFI (no name, no members),
//! an anonymous Group its members so reduced.

use serde_json::{json, Value};

use crate::common::*;

/// `{"objectType": "Agent", "mbox": …}`: what `format=ids` leaves of `agent(name)`.
fn agent_ids(name: &str) -> Value {
    json!({"objectType": "Agent", "mbox": format!("mailto:{name}@example.com")})
}

/// The two members of group `name`, each made by `member`.
fn members(name: &str, member: fn(&str) -> Value) -> Value {
    json!([member(&format!("{name}-1")), member(&format!("{name}-2"))])
}

fn identified_group(name: &str) -> Value {
    json!({"objectType": "Group", "name": name, "mbox": format!("mailto:{name}@example.com"),
           "member": members(name, agent)})
}

fn identified_group_ids(name: &str) -> Value {
    json!({"objectType": "Group", "mbox": format!("mailto:{name}@example.com")})
}

fn anonymous_group(name: &str) -> Value {
    json!({"objectType": "Group", "name": name, "member": members(name, agent)})
}

fn anonymous_group_ids(name: &str) -> Value {
    json!({"objectType": "Group", "member": members(name, agent_ids)})
}

fn defined_activity(n: &str) -> Value {
    json!({"objectType": "Activity", "id": activity_iri(n),
           "definition": {"name": {"en-US": n}, "type": "http://example.com/types/t"}})
}

fn activity_ids(n: &str) -> Value {
    activity(&activity_iri(n))
}

fn context() -> Value {
    json!({
        "instructor": identified_group("instructors"),
        "team": anonymous_group("team"),
        "contextActivities": {"parent": [defined_activity("parent")],
                              "grouping": [defined_activity("grouping")]},
    })
}

fn context_ids() -> Value {
    json!({
        "instructor": identified_group_ids("instructors"),
        "team": anonymous_group_ids("team"),
        "contextActivities": {"parent": [activity_ids("parent")],
                              "grouping": [activity_ids("grouping")]},
    })
}

/// The first Statement `format=ids` returns for `query`, under `version`.
async fn first_in_ids(app: &TestApp, version: &str, query: &str) -> Value {
    let (status, result) = get(app, version, &format!("{query}&format=ids")).await;
    assert_eq!(status, 200, "{result}");
    match result.get("statements") {
        Some(statements) => statements[0].clone(),
        None => result,
    }
}

#[tokio::test]
async fn comm_2_1_3_format_ids_reduces_every_part_of_a_substatement() {
    let app = spawn_app().await;
    for version in VERSIONS {
        let body = json!({
            "actor": identified_group("actors"),
            "verb": {"id": VERB, "display": {"en-US": "experienced"}},
            "object": {
                "objectType": "SubStatement",
                "actor": anonymous_group("subactors"),
                "verb": {"id": VERB, "display": {"en-US": "experienced"}},
                "object": defined_activity("inner"),
                "context": context(),
            },
            "context": context(),
        });
        let id = post_one(&app, version, &body).await;
        for query in [format!("statementId={id}"), "limit=1".to_string()] {
            let s = first_in_ids(&app, version, &query).await;
            let what = format!("{version} ?{query}: {s}");
            assert_eq!(s["actor"], identified_group_ids("actors"), "{what}");
            assert_eq!(s["verb"], json!({"id": VERB}), "{what}");
            assert_eq!(
                s["object"],
                json!({
                    "objectType": "SubStatement",
                    "actor": anonymous_group_ids("subactors"),
                    "verb": {"id": VERB},
                    "object": activity_ids("inner"),
                    "context": context_ids(),
                }),
                "{what}"
            );
            assert_eq!(s["context"], context_ids(), "{what}");
            let authority = s["authority"].as_object().unwrap();
            assert_eq!(authority["objectType"], "Agent", "{what}");
            assert!(
                authority
                    .keys()
                    .all(|k| k == "objectType" || k == "account"),
                "{what}"
            );
        }
    }
}

#[tokio::test]
async fn comm_2_1_3_format_ids_reduces_an_agent_or_group_object() {
    let app = spawn_app().await;
    for version in VERSIONS {
        for (object, expected) in [
            (identified_group("objects"), identified_group_ids("objects")),
            (anonymous_group("objects"), anonymous_group_ids("objects")),
            (agent("object"), agent_ids("object")),
        ] {
            let body = json!({"actor": agent("ada"), "verb": {"id": VERB}, "object": object});
            let id = post_one(&app, version, &body).await;
            let s = first_in_ids(&app, version, &format!("statementId={id}")).await;
            assert_eq!(s["actor"], agent_ids("ada"), "{version}: {s}");
            assert_eq!(s["object"], expected, "{version}: {s}");
        }
    }
}

#[tokio::test]
async fn comm_2_1_3_format_ids_reduces_context_agents_and_groups_under_2_0() {
    let app = spawn_app().await;
    let mut body = statement("ada", "a");
    body["context"] = json!({
        "contextAgents": [{"objectType": "contextAgent", "agent": agent("helper"),
                           "relevantTypes": ["http://example.com/types/helper"]}],
        "contextGroups": [{"objectType": "contextGroup", "group": identified_group("cohort")}],
    });
    let id = post_one(&app, V2, &body).await;
    let s = first_in_ids(&app, V2, &format!("statementId={id}")).await;
    assert_eq!(
        s["context"]["contextAgents"][0]["agent"],
        agent_ids("helper"),
        "{s}"
    );
    assert_eq!(
        s["context"]["contextAgents"][0]["relevantTypes"],
        json!(["http://example.com/types/helper"])
    );
    assert_eq!(
        s["context"]["contextGroups"][0]["group"],
        identified_group_ids("cohort"),
        "{s}"
    );
}
