//! The term dictionary (migration 0019): the server and PostgreSQL key terms alike, a
//! stored Statement's index rows are its `terms`, keyed as `ingest::index_terms` says,
//! a StatementRef's inherited rows (with the agent+verb pairs they make) follow the
//! target whichever arrives first, and erasure takes the inherited rows back and leaves
//! no key of the person in the dictionary.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use commonplace::xapi::ingest::{
    activity_kinds, agent_kinds, kind_class, kind_classes, AGENT_VERB_KIND, REGISTRATION_KIND,
    VERB_KIND,
};
use commonplace::xapi::terms::{pair_key, term_key};
use commonplace::xapi::{AgentRole, Ifi};

use crate::helpers::{post_statements, spawn_app, TestApp};

const VERB: &str = "http://example.com/verbs/reviewed";
const TARGET_VERB: &str = "http://example.com/verbs/did";

fn mbox(name: &str) -> String {
    format!("mbox:mailto:{name}@example.com")
}

fn agent(name: &str) -> Value {
    json!({"mbox": format!("mailto:{name}@example.com")})
}

fn target(id: Uuid) -> Value {
    json!({"id": id, "actor": agent("erin"), "verb": {"id": TARGET_VERB},
           "object": {"id": "http://example.com/activities/essay"}})
}

fn referrer(id: Uuid, target: Uuid) -> Value {
    json!({"id": id, "actor": agent("olav"), "verb": {"id": VERB},
           "object": {"objectType": "StatementRef", "id": target}})
}

/// A Statement's index rows as (kind, key): its `terms`, checked to be what its entries
/// in `statement_terms` hold: one per term, seq * 256 + the classes of the term's kinds.
async fn rows_of(app: &TestApp, id: Uuid) -> BTreeSet<(i16, Uuid)> {
    let client = app.pool.get().await.unwrap();
    let rows = client
        .query(
            "SELECT s.seq, x, t.key FROM statements s CROSS JOIN LATERAL unnest(s.terms) AS x
               JOIN terms t ON t.id = x >> 8
              WHERE s.id = $1 ORDER BY 2",
            &[&id],
        )
        .await
        .unwrap();
    let mut expected: BTreeMap<i64, i64> = BTreeMap::new();
    for row in &rows {
        let (seq, packed): (i64, i64) = (row.get(0), row.get(1));
        let entry = expected.entry(packed >> 8).or_insert(seq * 256);
        *entry |= kind_class((packed & 255) as i16);
    }
    let entries: BTreeMap<i64, i64> = client
        .query(
            "SELECT i.term, i.entry FROM statements s JOIN statement_terms i ON i.entry >> 8 = s.seq
              WHERE s.id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        entries, expected,
        "one entry per term, with its kinds' classes"
    );
    rows.iter()
        .map(|r| ((r.get::<_, i64>(1) & 255) as i16, r.get(2)))
        .collect()
}

fn has(rows: &BTreeSet<(i16, Uuid)>, kind: i16, key: Uuid) -> bool {
    rows.contains(&(kind, key))
}

#[tokio::test]
async fn the_server_and_the_database_key_terms_alike() {
    let app = spawn_app().await;
    let client = app.pool.get().await.unwrap();
    for text in [
        "",
        "http://adlnet.gov/expapi/verbs/completed",
        "mbox:mailto:erin@example.com",
        "account:https://example.com/ünïcödé|名前",
    ] {
        let row = client
            .query_one(
                "SELECT commonplace_term_key($1), commonplace_pair_key($2, $3)",
                &[&text, &term_key(text), &term_key(VERB)],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<_, Uuid>(0), term_key(text), "{text:?}");
        assert_eq!(
            row.get::<_, Uuid>(1),
            pair_key(term_key(text), term_key(VERB)),
            "{text:?}"
        );
    }
}

#[tokio::test]
async fn the_server_and_the_database_class_kinds_alike() {
    let app = spawn_app().await;
    let client = app.pool.get().await.unwrap();
    let kinds: Vec<i16> = agent_kinds(true)
        .into_iter()
        .chain(activity_kinds(true))
        .chain([VERB_KIND, REGISTRATION_KIND, AGENT_VERB_KIND])
        .collect();
    for kind in kinds {
        let class: i64 = client
            .query_one("SELECT commonplace_term_class($1)", &[&i32::from(kind)])
            .await
            .unwrap()
            .get(0);
        assert_eq!(class, kind_class(kind), "kind {kind}");
    }
    // A plain filter's classes are none of the related-only kinds'.
    let related_only = |related: Vec<i16>, plain: Vec<i16>| {
        let only: Vec<i16> = related.into_iter().filter(|k| !plain.contains(k)).collect();
        kind_classes(&only) & kind_classes(&plain)
    };
    assert_eq!(related_only(agent_kinds(true), agent_kinds(false)), 0);
    assert_eq!(related_only(activity_kinds(true), activity_kinds(false)), 0);
}

#[tokio::test]
async fn a_statement_is_filed_under_the_keys_of_its_terms_once_per_store() {
    let app = spawn_app().await;
    let (first, second) = (Uuid::new_v4(), Uuid::new_v4());
    post_statements(&app, &target(first)).await;
    post_statements(&app, &target(second)).await;
    let rows = rows_of(&app, first).await;
    let (erin, verb) = (term_key(&mbox("erin")), term_key(TARGET_VERB));
    assert!(has(&rows, AgentRole::Actor.as_i16(), erin));
    assert!(has(&rows, VERB_KIND, verb));
    assert!(has(&rows, AGENT_VERB_KIND, pair_key(verb, erin)));
    assert!(rows
        .iter()
        .any(|(_, key)| *key == term_key("http://example.com/activities/essay")));
    assert_eq!(rows, rows_of(&app, second).await);
    let client = app.pool.get().await.unwrap();
    let dictionary: i64 = client
        .query_one("SELECT count(*) FROM terms", &[])
        .await
        .unwrap()
        .get(0);
    let distinct: BTreeSet<Uuid> = rows.iter().map(|(_, key)| *key).collect();
    assert_eq!(
        dictionary as usize,
        distinct.len(),
        "the second Statement added no term"
    );
}

#[tokio::test]
async fn a_statement_ref_inherits_its_targets_rows_and_pairs_whichever_comes_first() {
    let app = spawn_app().await;
    let (erin, olav) = (term_key(&mbox("erin")), term_key(&mbox("olav")));
    let (verb, target_verb) = (term_key(VERB), term_key(TARGET_VERB));
    // One referrer after its target, one before it (its target arrives later).
    let (t1, r1, t2, r2) = (
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
    );
    post_statements(&app, &target(t1)).await;
    post_statements(&app, &referrer(r1, t1)).await;
    post_statements(&app, &referrer(r2, t2)).await;
    post_statements(&app, &target(t2)).await;
    for r in [r1, r2] {
        let rows = rows_of(&app, r).await;
        assert!(has(&rows, AgentRole::Actor.as_i16(), erin), "inherited");
        assert!(has(&rows, VERB_KIND, target_verb), "inherited");
        for (v, a) in [(verb, erin), (target_verb, olav), (verb, olav)] {
            assert!(has(&rows, AGENT_VERB_KIND, pair_key(v, a)), "paired");
        }
    }
    // A chain inherits all the way down: a StatementRef to r1 holds t1's rows too.
    let r3 = Uuid::new_v4();
    post_statements(&app, &referrer(r3, r1)).await;
    let rows = rows_of(&app, r3).await;
    assert!(has(&rows, AgentRole::Actor.as_i16(), erin));
    assert!(has(&rows, AGENT_VERB_KIND, pair_key(verb, erin)));

    // Erasing Erin takes her Statements and, from the referrers, what they inherited
    // with her: her own rows and her pairs with every verb; the rest stays.
    commonplace::store::erasure::erase(
        &app.pool,
        &Ifi::mbox("mailto:erin@example.com"),
        Some("default"),
        "dpo@example.com",
    )
    .await
    .unwrap();
    for r in [r1, r2, r3] {
        let rows = rows_of(&app, r).await;
        assert!(!rows.iter().any(|(_, key)| *key == erin), "no Erin rows");
        for v in [verb, target_verb] {
            assert!(!has(&rows, AGENT_VERB_KIND, pair_key(v, erin)), "no pair");
        }
        assert!(has(&rows, VERB_KIND, target_verb), "the rest stays");
        assert!(has(&rows, AGENT_VERB_KIND, pair_key(target_verb, olav)));
    }
    let client = app.pool.get().await.unwrap();
    let erin_rows: i64 = client
        .query_one(
            "SELECT count(*) FROM statement_terms i JOIN terms t ON t.id = i.term
              WHERE t.key = $1 OR t.key = $2 OR t.key = $3",
            &[&erin, &pair_key(verb, erin), &pair_key(target_verb, erin)],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(erin_rows, 0, "nothing is filed under Erin");
    // Nor is a digest of her left in the dictionary, alone or with a verb: none could
    // be tested against a candidate address. Nothing is filed under a deleted id.
    let linked: i64 = client
        .query_one(
            "SELECT count(*) FROM terms WHERE key = ANY($1)",
            &[&vec![
                erin,
                pair_key(verb, erin),
                pair_key(target_verb, erin),
            ]],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(linked, 0, "the dictionary holds no key of Erin");
    let dangling: i64 = client
        .query_one(
            "SELECT count(*) FROM statement_terms i
              WHERE NOT EXISTS (SELECT FROM terms t WHERE t.id = i.term)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(dangling, 0, "every index row names a dictionary term");

    // A later Statement about Erin is filed under her terms again, afresh.
    let again = Uuid::new_v4();
    post_statements(&app, &target(again)).await;
    for query in [
        vec![("agent", agent("erin").to_string())],
        vec![
            ("agent", agent("erin").to_string()),
            ("verb", TARGET_VERB.to_string()),
        ],
    ] {
        let found: Value = app
            .xapi(Method::GET, "/xapi/statements")
            .query(&query)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let ids: Vec<&str> = found["statements"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [again.to_string()], "{query:?}");
    }
}
