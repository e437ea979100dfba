//! A filtered page of `GET /statements` (Communication §2.1.3) takes its first entries
//! from the filter's index and reads their Statements together, so that on a store
//! larger than memory their rows are read from disk at once rather than one after
//! another. A voided Statement is returned only for `voidedStatementId` (Communication
//! §2.1.4), so entries of voided Statements are passed over: however many of them crowd
//! the walk, a page still holds the next Statements that match, and `more` pages hold
//! every one of them once.

use commonplace::store::statement_reads::{self, StatementFilter};
use commonplace::xapi::ingest::VERB_KIND;
use commonplace::xapi::terms::term_key;
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{post_statements, spawn_app, TestApp};

const LEARNER: &str = "mailto:gathered@example.org";
const READ: &str = "http://activitystrea.ms/schema/1.0/read";

/// `count` Statements of the learner reading a page each, in one POST (so in seq order).
async fn read_pages(app: &TestApp, count: usize) -> Vec<Uuid> {
    let ids: Vec<Uuid> = (0..count).map(|_| Uuid::new_v4()).collect();
    let statements: Vec<Value> = ids
        .iter()
        .enumerate()
        .map(|(n, id)| {
            json!({
                "id": id,
                "actor": {"mbox": LEARNER},
                "verb": {"id": READ},
                "object": {"id": format!("http://example.org/pages/{n}")}
            })
        })
        .collect();
    post_statements(app, &json!(statements)).await;
    ids
}

/// Voids `targets` in one POST; returns the voiding Statements' ids, in seq order.
async fn void(app: &TestApp, targets: &[Uuid]) -> Vec<Uuid> {
    let ids: Vec<Uuid> = targets.iter().map(|_| Uuid::new_v4()).collect();
    let voiding: Vec<Value> = targets
        .iter()
        .zip(&ids)
        .map(|(target, id)| {
            json!({
                "id": id,
                "actor": {"mbox": "mailto:admin@example.org"},
                "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
                "object": {"objectType": "StatementRef", "id": target}
            })
        })
        .collect();
    post_statements(app, &json!(voiding)).await;
    ids
}

/// The ids of every Statement the query returns, page by page, each page checked to
/// hold `limit` but the last.
async fn ids_over_pages(app: &TestApp, query: &[(&str, &str)], limit: usize) -> Vec<Uuid> {
    let limit_text = limit.to_string();
    let mut query = query.to_vec();
    query.push(("limit", &limit_text));
    let mut request = app.xapi(Method::GET, "/xapi/statements").query(&query);
    let mut ids = Vec::new();
    loop {
        let body: Value = request.send().await.unwrap().json().await.unwrap();
        let page = body["statements"].as_array().unwrap();
        ids.extend(
            page.iter()
                .map(|s| s["id"].as_str().unwrap().parse::<Uuid>().unwrap()),
        );
        let more = body["more"].as_str().unwrap_or("");
        if more.is_empty() {
            assert!(page.len() <= limit, "{body}");
            return ids;
        }
        assert_eq!(page.len(), limit, "a page before the last is full: {body}");
        request = app.xapi(Method::GET, more);
    }
}

#[tokio::test]
async fn pages_hold_the_next_matching_statements_however_many_voided_ones_the_walk_meets() {
    let app = spawn_app().await;
    let ids = read_pages(&app, 80).await;
    // The newest 40. Their voiding Statements match the learner too (a StatementRef
    // matches what its target matches, Communication §2.1.3), and come first newest
    // first; after them the walk meets 40 voided Statements in a row.
    let voiding = void(&app, &ids[40..]).await;
    let ascending: Vec<Uuid> = ids[..40].iter().chain(&voiding).copied().collect();
    let newest_first: Vec<Uuid> = ascending.iter().rev().copied().collect();
    let agent = json!({"mbox": LEARNER}).to_string();
    let filters: [&[(&str, &str)]; 2] =
        [&[("agent", &agent)], &[("agent", &agent), ("verb", READ)]];
    for filter in filters {
        assert_eq!(
            ids_over_pages(&app, filter, 10).await,
            newest_first,
            "{filter:?}"
        );
        let mut oldest_first = filter.to_vec();
        oldest_first.push(("ascending", "true"));
        assert_eq!(
            ids_over_pages(&app, &oldest_first, 7).await,
            ascending,
            "{filter:?}"
        );
        // A page as large as the result: the walk runs out before the page fills.
        assert_eq!(
            ids_over_pages(&app, filter, 500).await,
            newest_first,
            "{filter:?}"
        );
    }
    // The voided ones are still there for `voidedStatementId`.
    let voided: Value = app
        .xapi(Method::GET, "/xapi/statements")
        .query(&[("voidedStatementId", ids[79].to_string())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(voided["id"], ids[79].to_string());
}

/// What is read together is the page's Statements alone: a page with a term filter
/// names the function that reads them (migration 0028), while `statements/read/mine`,
/// whose credential may have written few of the walk's Statements, reads each as the
/// walk reaches it.
#[tokio::test]
async fn a_filtered_page_reads_its_statements_together() {
    let app = spawn_app().await;
    read_pages(&app, 30).await;
    let (store_id, position) = app.first_page_position().await;
    let by_verb = StatementFilter {
        terms: vec![(term_key(READ), vec![VERB_KIND])],
        ..Default::default()
    };
    let plan = statement_reads::explain_page(&app.pool, store_id, &by_verb, position, 10)
        .await
        .unwrap();
    assert!(plan.contains("commonplace_statements_at"), "{plan}");
    let mine = StatementFilter {
        credential: Some("someone".into()),
        ..by_verb
    };
    let plan = statement_reads::explain_page(&app.pool, store_id, &mine, position, 10)
        .await
        .unwrap();
    assert!(!plan.contains("commonplace_statements_at"), "{plan}");
}
