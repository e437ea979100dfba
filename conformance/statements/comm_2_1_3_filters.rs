//! Communication §2.1.3: the filter parameters, and the StatementRef filter rule.

use std::collections::HashSet;

use serde_json::{json, Value};
use uuid::Uuid;

use crate::common::*;

fn set(ids: &[Uuid]) -> HashSet<Uuid> {
    ids.iter().copied().collect()
}

async fn assert_query(app: &TestApp, version: &str, query: &str, expected: &[Uuid]) {
    let got = query_ids(app, version, query).await;
    assert_eq!(set(&got), set(expected), "{version} ?{query}");
    assert_eq!(
        got.len(),
        expected.len(),
        "{version} ?{query}: duplicates in {got:?}"
    );
}

fn agent_q(agent: &Value) -> String {
    format!("agent={}", enc(agent))
}

#[tokio::test]
async fn comm_2_1_3_agent_filter_matches_actor_and_object() {
    let app = spawn_app().await;
    let as_actor = post_one(&app, V2, &statement("ada", "a")).await;
    let mut obj = statement("bob", "a");
    obj["object"] = agent("ada");
    let as_object = post_one(&app, V2, &obj).await;
    let mut ctx = statement("cy", "a");
    ctx["context"] = json!({"instructor": agent("ada")});
    post_one(&app, V2, &ctx).await;
    post_one(&app, V2, &statement("dan", "a")).await;
    for version in VERSIONS {
        assert_query(
            &app,
            version,
            &agent_q(&agent("ada")),
            &[as_actor, as_object],
        )
        .await;
        // Only the IFI counts: another name, or no objectType, is the same Agent.
        assert_query(
            &app,
            version,
            &agent_q(&json!({"mbox": "mailto:ada@example.com"})),
            &[as_actor, as_object],
        )
        .await;
        assert_query(
            &app,
            version,
            &agent_q(&json!({"mbox": "mailto:nobody@example.com"})),
            &[],
        )
        .await;
    }
}

#[tokio::test]
async fn comm_2_1_3_agent_filter_ifi_kinds() {
    let app = spawn_app().await;
    let actors = [
        json!({"mbox_sha1sum": "ebd31e95054c018b10727ccffd2ef2ec3a016ee9"}),
        json!({"openid": "http://openid.example.com/ada"}),
        json!({"account": {"homePage": "http://www.example.com", "name": "ada"}}),
    ];
    for actor in actors {
        let mut s = statement("x", "a");
        s["actor"] = actor.clone();
        let id = post_one(&app, V2, &s).await;
        assert_query(&app, V2, &agent_q(&actor), &[id]).await;
    }
    let (status, _) = get(
        &app,
        V2,
        &agent_q(&json!({"account": {"homePage": "http://www.example.com", "name": "other"}})),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn comm_2_1_3_agent_filter_matches_group_members() {
    let app = spawn_app().await;
    let group = json!({"objectType": "Group", "name": "team", "mbox": "mailto:team@example.com",
        "member": [agent("ada"), agent("bob")]});
    let anonymous = json!({"objectType": "Group", "member": [agent("ada"), agent("cy")]});
    let mut a = statement("x", "a");
    a["actor"] = group.clone();
    let by_group = post_one(&app, V2, &a).await;
    let mut b = statement("x", "a");
    b["actor"] = anonymous;
    let by_anonymous = post_one(&app, V2, &b).await;
    let mut c = statement("dan", "a");
    c["object"] = group.clone();
    let group_object = post_one(&app, V2, &c).await;
    for version in VERSIONS {
        assert_query(
            &app,
            version,
            &agent_q(&agent("ada")),
            &[by_group, by_anonymous, group_object],
        )
        .await;
        assert_query(&app, version, &agent_q(&agent("cy")), &[by_anonymous]).await;
        assert_query(
            &app,
            version,
            &agent_q(&json!({"objectType": "Group", "mbox": "mailto:team@example.com"})),
            &[by_group, group_object],
        )
        .await;
    }
}

#[tokio::test]
async fn comm_2_1_3_related_agents_matches_every_position() {
    let app = spawn_app().await;
    let plain = post_one(&app, V2, &statement("ada", "a")).await;
    let mut ins = statement("bob", "a");
    ins["context"] = json!({"instructor": agent("ada")});
    let instructor = post_one(&app, V2, &ins).await;
    let mut tm = statement("bob", "a");
    tm["context"] = json!({"team": {"objectType": "Group", "member": [agent("ada")]}});
    let team = post_one(&app, V2, &tm).await;
    let mut sub = statement("bob", "a");
    sub["object"] = json!({"objectType": "SubStatement", "actor": agent("ada"), "verb": {"id": VERB}, "object": activity(&activity_iri("s"))});
    let substatement = post_one(&app, V2, &sub).await;
    post_one(&app, V2, &statement("bob", "a")).await;
    for version in VERSIONS {
        assert_query(&app, version, &agent_q(&agent("ada")), &[plain]).await;
        assert_query(
            &app,
            version,
            &format!("{}&related_agents=true", agent_q(&agent("ada"))),
            &[plain, instructor, team, substatement],
        )
        .await;
    }
}

#[tokio::test]
async fn comm_2_1_3_related_agents_matches_authority() {
    let app = spawn_app().await;
    let id = post_one(&app, V2, &statement("ada", "a")).await;
    let (_, stored) = get_statement(&app, V2, id).await;
    let authority = stored["authority"].clone();
    let ifi = if authority.get("account").is_some() {
        json!({"account": authority["account"]})
    } else {
        json!({"mbox": authority["mbox"]})
    };
    assert_query(&app, V2, &agent_q(&ifi), &[]).await;
    assert_query(
        &app,
        V2,
        &format!("{}&related_agents=true", agent_q(&ifi)),
        &[id],
    )
    .await;
}

#[tokio::test]
async fn v2_related_agents_matches_context_agents_and_groups() {
    let app = spawn_app().await;
    let mut ca = statement("bob", "a");
    ca["context"] = json!({"contextAgents": [{"objectType": "contextAgent", "agent": agent("ada"),
        "relevantTypes": ["http://example.com/types/mentor"]}]});
    let context_agent = post_one(&app, V2, &ca).await;
    let mut cg = statement("bob", "a");
    cg["context"] = json!({"contextGroups": [{"objectType": "contextGroup",
        "group": {"objectType": "Group", "member": [agent("ada")]}}]});
    let context_group = post_one(&app, V2, &cg).await;
    let mut sub = statement("bob", "a");
    sub["object"] = json!({"objectType": "SubStatement", "actor": agent("cy"), "verb": {"id": VERB},
        "object": activity(&activity_iri("s")),
        "context": {"contextAgents": [{"objectType": "contextAgent", "agent": agent("ada")}]}});
    let in_sub = post_one(&app, V2, &sub).await;
    assert_query(&app, V2, &agent_q(&agent("ada")), &[]).await;
    assert_query(
        &app,
        V2,
        &format!("{}&related_agents=true", agent_q(&agent("ada"))),
        &[context_agent, context_group, in_sub],
    )
    .await;
}

#[tokio::test]
async fn comm_2_1_3_verb_filter() {
    let app = spawn_app().await;
    let a = post_one(&app, V2, &statement("ada", "a")).await;
    let mut other = statement("ada", "a");
    other["verb"] = json!({"id": "http://example.com/verbs/other"});
    let b = post_one(&app, V2, &other).await;
    for version in VERSIONS {
        assert_query(&app, version, &format!("verb={}", enc(&json!(VERB))), &[a]).await;
        assert_query(
            &app,
            version,
            &format!("verb={}", enc(&json!("http://example.com/verbs/other"))),
            &[b],
        )
        .await;
    }
}

#[tokio::test]
async fn comm_2_1_3_activity_filter_with_and_without_related_activities() {
    let app = spawn_app().await;
    let target = activity_iri("t");
    let mut obj = statement("ada", "x");
    obj["object"] = activity(&target);
    let as_object = post_one(&app, V2, &obj).await;
    let mut ctx = statement("ada", "x");
    ctx["context"] = json!({"contextActivities": {
        "parent": [activity(&target)],
    }});
    let as_parent = post_one(&app, V2, &ctx).await;
    let mut grp = statement("ada", "x");
    grp["context"] = json!({"contextActivities": {"grouping": activity(&target)}});
    let as_grouping = post_one(&app, V2, &grp).await;
    let mut cat = statement("ada", "x");
    cat["context"] = json!({"contextActivities": {"category": [activity(&target)], "other": [activity(&activity_iri("o"))]}});
    let as_category = post_one(&app, V2, &cat).await;
    let mut oth = statement("ada", "x");
    oth["context"] = json!({"contextActivities": {"other": [activity(&target)]}});
    let as_other = post_one(&app, V2, &oth).await;
    let mut sub = statement("ada", "x");
    sub["object"] = json!({"objectType": "SubStatement", "actor": agent("bob"), "verb": {"id": VERB}, "object": activity(&target)});
    let in_sub = post_one(&app, V2, &sub).await;
    post_one(&app, V2, &statement("ada", "unrelated")).await;
    let q = format!("activity={}", enc(&json!(target)));
    for version in VERSIONS {
        assert_query(&app, version, &q, &[as_object]).await;
        assert_query(
            &app,
            version,
            &format!("{q}&related_activities=false"),
            &[as_object],
        )
        .await;
        assert_query(
            &app,
            version,
            &format!("{q}&related_activities=true"),
            &[
                as_object,
                as_parent,
                as_grouping,
                as_category,
                as_other,
                in_sub,
            ],
        )
        .await;
    }
}

#[tokio::test]
async fn comm_2_1_3_registration_filter() {
    let app = spawn_app().await;
    let registration = Uuid::new_v4();
    let mut s = statement("ada", "a");
    s["context"] = json!({"registration": registration.to_string()});
    let with = post_one(&app, V2, &s).await;
    let mut o = statement("ada", "a");
    o["context"] = json!({"registration": Uuid::new_v4().to_string()});
    post_one(&app, V2, &o).await;
    post_one(&app, V2, &statement("ada", "a")).await;
    for version in VERSIONS {
        assert_query(
            &app,
            version,
            &format!("registration={registration}"),
            &[with],
        )
        .await;
        // Uppercase form of the same UUID.
        assert_query(
            &app,
            version,
            &format!("registration={}", registration.to_string().to_uppercase()),
            &[with],
        )
        .await;
    }
}

#[tokio::test]
async fn comm_2_1_3_since_is_exclusive_until_is_inclusive_on_stored() {
    let app = spawn_app().await;
    let first = post_one(&app, V2, &statement("ada", "1")).await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let second = post_one(&app, V2, &statement("ada", "2")).await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let third = post_one(&app, V2, &statement("ada", "3")).await;
    let stored = |s: Value| s["stored"].as_str().unwrap().to_string();
    let first_stored = stored(get_statement(&app, V2, first).await.1);
    let second_stored = stored(get_statement(&app, V2, second).await.1);
    for version in VERSIONS {
        assert_query(
            &app,
            version,
            &format!("since={}", enc(&json!(first_stored))),
            &[second, third],
        )
        .await;
        assert_query(
            &app,
            version,
            &format!("until={}", enc(&json!(second_stored))),
            &[first, second],
        )
        .await;
        assert_query(
            &app,
            version,
            &format!(
                "since={}&until={}",
                enc(&json!(first_stored)),
                enc(&json!(second_stored))
            ),
            &[second],
        )
        .await;
    }
    // A timestamp (not stored) far in the past does not affect since/until.
    let mut old = statement("ada", "old");
    old["timestamp"] = json!("2001-01-01T00:00:00Z");
    let old_id = post_one(&app, V2, &old).await;
    assert_query(
        &app,
        V2,
        &format!("since={}", enc(&json!(second_stored))),
        &[third, old_id],
    )
    .await;
    // Offsets other than Z are understood.
    assert_query(
        &app,
        V2,
        &format!("until={}", enc(&json!("2000-01-01T00:00:00+01:00"))),
        &[],
    )
    .await;
}

#[tokio::test]
async fn comm_2_1_3_filters_combine_with_and() {
    let app = spawn_app().await;
    let hit = post_one(&app, V2, &statement("ada", "a")).await;
    post_one(&app, V2, &statement("ada", "b")).await;
    post_one(&app, V2, &statement("bob", "a")).await;
    let q = format!(
        "{}&activity={}&verb={}",
        agent_q(&agent("ada")),
        enc(&json!(activity_iri("a"))),
        enc(&json!(VERB))
    );
    assert_query(&app, V2, &q, &[hit]).await;
}

#[tokio::test]
async fn comm_2_1_3_statement_ref_targeting_matching_statement_is_returned() {
    let app = spawn_app().await;
    let original = post_one(&app, V2, &statement("ben", "explosives")).await;
    let confirm = post_one(&app, V2, &referring("andrew", original)).await;
    let again = post_one(&app, V2, &referring("carl", confirm)).await;
    let unrelated = post_one(&app, V2, &statement("dan", "other")).await;
    for version in VERSIONS {
        assert_query(
            &app,
            version,
            &agent_q(&agent("ben")),
            &[original, confirm, again],
        )
        .await;
        assert_query(
            &app,
            version,
            &format!("activity={}", enc(&json!(activity_iri("explosives")))),
            &[original, confirm, again],
        )
        .await;
        assert_query(&app, version, &agent_q(&agent("andrew")), &[confirm, again]).await;
        assert_query(
            &app,
            version,
            &format!("verb={}", enc(&json!(VERB))),
            &[original, confirm, again, unrelated],
        )
        .await;
    }
}

#[tokio::test]
async fn comm_2_1_3_statement_ref_rule_when_target_arrives_later() {
    let app = spawn_app().await;
    let original = Uuid::new_v4();
    // A reference to a Statement that never arrives matches nothing.
    post_one(&app, V2, &referring("carl", Uuid::new_v4())).await;
    let confirm_id = Uuid::new_v4();
    let again = post_one(&app, V2, &referring("carl", confirm_id)).await;
    post_ok(
        &app,
        V2,
        &with_id(referring("andrew", original), confirm_id),
    )
    .await;
    post_ok(&app, V2, &with_id(statement("ben", "explosives"), original)).await;
    assert_query(
        &app,
        V2,
        &agent_q(&agent("ben")),
        &[original, confirm_id, again],
    )
    .await;
}

#[tokio::test]
async fn comm_2_1_3_statement_ref_rule_applies_within_one_batch() {
    let app = spawn_app().await;
    let a = Uuid::new_v4();
    let b = Uuid::new_v4();
    let c = Uuid::new_v4();
    // c refers to b refers to a, sent in the "wrong" order in one batch.
    let batch = json!([
        with_id(referring("carl", b), c),
        with_id(referring("andrew", a), b),
        with_id(statement("ben", "x"), a),
    ]);
    post_ok(&app, V2, &batch).await;
    assert_query(&app, V2, &agent_q(&agent("ben")), &[a, b, c]).await;
    let batch = json!([with_id(statement("eve", "x"), Uuid::new_v4()),]);
    post_ok(&app, V2, &batch).await;
}

/// `agent` + `verb` is answered from the pair terms; each parameter still matches
/// through a StatementRef on its own (the referring actor with the target's verb), in
/// whichever order the chain arrives.
#[tokio::test]
async fn comm_2_1_3_statement_ref_rule_for_agent_with_verb() {
    let app = spawn_app().await;
    let confirmed = enc(&json!("http://example.com/verbs/confirmed"));
    let q = |who: &str, verb: &str| format!("{}&verb={verb}", agent_q(&agent(who)));
    let original = post_one(&app, V2, &statement("ben", "x")).await;
    let confirm = post_one(&app, V2, &referring("andrew", original)).await;
    // Arrives before its target: inherits the pairs once the target is stored.
    let early_target = Uuid::new_v4();
    let early = post_one(&app, V2, &referring("carl", early_target)).await;
    post_ok(&app, V2, &with_id(statement("dora", "y"), early_target)).await;
    let experienced = enc(&json!(VERB));
    for version in VERSIONS {
        assert_query(&app, version, &q("ben", &experienced), &[original, confirm]).await;
        assert_query(&app, version, &q("andrew", &experienced), &[confirm]).await;
        assert_query(&app, version, &q("andrew", &confirmed), &[confirm]).await;
        assert_query(&app, version, &q("ben", &confirmed), &[confirm]).await;
        assert_query(&app, version, &q("carl", &experienced), &[early]).await;
        assert_query(&app, version, &q("dora", &confirmed), &[early]).await;
        assert_query(
            &app,
            version,
            &q("dora", &experienced),
            &[early_target, early],
        )
        .await;
        assert_query(
            &app,
            version,
            &q("carl", &enc(&json!("http://example.com/verbs/other"))),
            &[],
        )
        .await;
        // related_agents pairs every role; no pair term serves it.
        assert_query(
            &app,
            version,
            &format!("{}&related_agents=true", q("ben", &confirmed)),
            &[confirm],
        )
        .await;
    }
}

#[tokio::test]
async fn comm_2_1_3_statement_ref_rule_does_not_bypass_since_until() {
    let app = spawn_app().await;
    let original = post_one(&app, V2, &statement("ben", "x")).await;
    let (_, s) = get_statement(&app, V2, original).await;
    let stored = s["stored"].as_str().unwrap().to_string();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let confirm = post_one(&app, V2, &referring("andrew", original)).await;
    assert_query(
        &app,
        V2,
        &format!("{}&since={}", agent_q(&agent("ben")), enc(&json!(stored))),
        &[confirm],
    )
    .await;
    assert_query(
        &app,
        V2,
        &format!("{}&until={}", agent_q(&agent("ben")), enc(&json!(stored))),
        &[original],
    )
    .await;
}

#[tokio::test]
async fn comm_2_1_3_statement_ref_in_context_does_not_affect_filtering() {
    let app = spawn_app().await;
    let original = post_one(&app, V2, &statement("ben", "x")).await;
    let mut s = statement("andrew", "y");
    s["context"] = json!({"statement": {"objectType": "StatementRef", "id": original.to_string()}});
    post_one(&app, V2, &s).await;
    assert_query(&app, V2, &agent_q(&agent("ben")), &[original]).await;
}
