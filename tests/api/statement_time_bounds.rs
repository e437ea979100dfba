//! `since` and `until` (Communication §2.1.3) are answered by walking `seq` between the
//! seqs they translate to: every page costs its own rows wherever the bound lies, in
//! either order, and `more` pages return each Statement of the window exactly once.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use commonplace::store::statement_reads::{self, PagePosition, StatementFilter};
use commonplace::xapi::ingest::{activity_kinds, VERB_KIND};
use commonplace::xapi::terms::term_key;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

const COURSE: &str = "http://example.org/courses/bounds";
const EXPERIENCED: &str = "http://adlnet.gov/expapi/verbs/experienced";

/// `batches` POSTs of `size` Statements each; a batch's Statements share one `stored`.
/// Every third Statement is about the course, the rest about pages of their own.
async fn load(app: &TestApp, batches: usize, size: usize) {
    for batch in 0..batches {
        let statements: Vec<Value> = (0..size)
            .map(|n| {
                let object = if n % 3 == 0 {
                    COURSE.to_string()
                } else {
                    format!("http://example.org/pages/{batch}/{n}")
                };
                json!({
                    "actor": {"mbox": format!("mailto:learner{}@example.org", n % 7)},
                    "verb": {"id": EXPERIENCED},
                    "object": {"id": object}
                })
            })
            .collect();
        let response = app
            .xapi(Method::POST, "/xapi/statements")
            .json(&statements)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    }
}

/// Every Statement a query returns over all its pages, in order: (id, stored, about the
/// course), asserting each page keeps to `limit`.
async fn read_all(app: &TestApp, query: &[(&str, String)], limit: usize) -> Vec<Listed> {
    let mut listed = Vec::new();
    let mut query: Vec<(&str, String)> = query.to_vec();
    query.push(("limit", limit.to_string()));
    let mut response = app
        .xapi(Method::GET, "/xapi/statements")
        .query(&query)
        .send()
        .await
        .unwrap();
    loop {
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        let statements = body["statements"].as_array().unwrap();
        assert!(statements.len() <= limit);
        listed.extend(statements.iter().map(|s| Listed {
            id: s["id"].as_str().unwrap().to_string(),
            stored: s["stored"].as_str().unwrap().parse().unwrap(),
            course: s["object"]["id"] == COURSE,
        }));
        let more = body["more"].as_str().unwrap();
        if more.is_empty() {
            return listed;
        }
        assert_eq!(statements.len(), limit, "a page before the last is full");
        response = app.xapi(Method::GET, more).send().await.unwrap();
    }
}

#[derive(Debug, Clone)]
struct Listed {
    id: String,
    stored: DateTime<Utc>,
    course: bool,
}

fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Asserts that `found` holds the `expected` Statements in order, naming the first
/// difference rather than printing hundreds of ids.
fn same_statements(found: &[Listed], expected: &[Listed], case: String) {
    let differ = found.iter().zip(expected).position(|(f, e)| f.id != e.id);
    assert!(
        differ.is_none() && found.len() == expected.len(),
        "{case}: {} Statements where {} were expected, first difference at {differ:?}",
        found.len(),
        expected.len()
    );
}

#[tokio::test]
async fn since_and_until_page_through_statements_once_each_in_both_orders() {
    let app = spawn_app().await;
    load(&app, 24, 25).await;
    let everything = read_all(&app, &[("ascending", "true".into())], 1000).await;
    assert_eq!(everything.len(), 600);
    assert!(everything.windows(2).all(|w| w[0].stored <= w[1].stored));

    // Points with few and with many Statements on either side; a batch's `stored` itself
    // (`since` leaves that batch out, `until` keeps all of it) and a millisecond before.
    let mut points = Vec::new();
    for at in [0, 25, 290, 310, 575, 599] {
        points.push(everything[at].stored);
        points.push(everything[at].stored - Duration::milliseconds(1));
    }
    let before_all = everything[0].stored - Duration::days(1);
    let after_all = everything[599].stored + Duration::days(1);
    points.extend([before_all, after_all]);

    for &ascending in &[true, false] {
        let in_order = |mut expected: Vec<Listed>| {
            if !ascending {
                expected.reverse();
            }
            expected
        };
        for &course in &[false, true] {
            let base = {
                let mut base = vec![("ascending", ascending.to_string())];
                if course {
                    base.push(("activity", COURSE.to_string()));
                }
                base
            };
            let of_interest = |l: &&Listed| !course || l.course;
            for &point in &points {
                let mut query = base.clone();
                query.push(("since", timestamp(point)));
                let expected: Vec<Listed> = everything
                    .iter()
                    .filter(of_interest)
                    .filter(|l| l.stored > point)
                    .cloned()
                    .collect();
                let found = read_all(&app, &query, 37).await;
                same_statements(
                    &found,
                    &in_order(expected),
                    format!("since {point}, ascending {ascending}, course {course}"),
                );

                let mut query = base.clone();
                query.push(("until", timestamp(point)));
                let expected: Vec<Listed> = everything
                    .iter()
                    .filter(of_interest)
                    .filter(|l| l.stored <= point)
                    .cloned()
                    .collect();
                let found = read_all(&app, &query, 37).await;
                same_statements(
                    &found,
                    &in_order(expected),
                    format!("until {point}, ascending {ascending}, course {course}"),
                );
            }
            // Both bounds: a window in the middle, and one that holds a single batch.
            for (since, until) in [
                (everything[40].stored, everything[560].stored),
                (
                    everything[300].stored - Duration::milliseconds(1),
                    everything[300].stored,
                ),
            ] {
                let mut query = base.clone();
                query.push(("since", timestamp(since)));
                query.push(("until", timestamp(until)));
                let expected: Vec<Listed> = everything
                    .iter()
                    .filter(of_interest)
                    .filter(|l| l.stored > since && l.stored <= until)
                    .cloned()
                    .collect();
                assert!(!expected.is_empty());
                let found = read_all(&app, &query, 37).await;
                same_statements(
                    &found,
                    &in_order(expected),
                    format!("since {since} until {until}, ascending {ascending}, course {course}"),
                );
            }
        }
    }
}

/// The executed plan of one page of 100 reads about 100 Statements however many lie
/// beyond the bound, and sorts no more than those: it walks `seq` from the bound.
#[tokio::test]
async fn statements_since_or_until_read_a_page_not_the_window() {
    let app = spawn_app().await;
    load(&app, 40, 100).await;
    let everything = read_all(&app, &[("ascending", "true".into())], 1000).await;
    assert_eq!(everything.len(), 4000);
    app.pool
        .get()
        .await
        .unwrap()
        .batch_execute("VACUUM ANALYZE statements, statement_terms, terms")
        .await
        .unwrap();
    let (store_id, position) = app.first_page_position().await;
    // 3,800 Statements newer than `early` and 200 older, the reverse for `late`: a walk
    // from either end of the store meets the bound only after thousands of rows.
    let early = everything[199].stored;
    let late = everything[3800].stored - Duration::milliseconds(1);
    let bounds = [
        (Some(early), None),
        (Some(late), None),
        (None, Some(early)),
        (None, Some(late)),
        (Some(early), Some(late)),
    ];
    for ascending in [true, false] {
        // No filter, one term, and two: the course walked, every Statement's verb probed.
        let course = (term_key(COURSE), activity_kinds(false));
        let verb = (term_key(EXPERIENCED), vec![VERB_KIND]);
        for terms in [vec![], vec![course.clone()], vec![verb, course]] {
            for (since, until) in bounds {
                let filter = StatementFilter {
                    terms: terms.clone(),
                    since,
                    until,
                    ascending,
                    ..Default::default()
                };
                let plan =
                    statement_reads::explain_page(&app.pool, store_id, &filter, position, 100)
                        .await
                        .unwrap();
                let context = format!("{filter:?}\n{plan}");
                // A page with terms sorts the Statements it read together (up to 117
                // for a page of 100), never the window.
                assert!(
                    largest_sort(&plan) <= 117,
                    "a sort of the window: {context}"
                );
                assert!(rows_read(&plan) <= 400, "too many rows read: {context}");
            }
        }
    }
}

/// A clock that goes back (stepped, or a failover to a host whose clock is behind) does
/// not take `stored` back with it: Statements written while the database's clock is
/// behind the last `stored` handed out take that `stored`, so seq order stays stored
/// order and `since`/`until`, read as seq bounds, return each exactly once. They are
/// left out of queries (the consistency time follows the clock) until the clock passes
/// them, never skipped.
#[tokio::test]
async fn stored_never_goes_back_when_the_clock_does() {
    let app = spawn_app().await;
    load(&app, 1, 3).await;
    // The last `stored` handed out an hour ahead: the clock is now an hour behind it.
    let ahead_ms: i64 = app
        .pool
        .get()
        .await
        .unwrap()
        .query_one(
            "SELECT setval('commonplace_last_stored',
                           (extract(epoch FROM clock_timestamp()) * 1000)::bigint + 3600000)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let ahead = DateTime::<Utc>::from_timestamp_millis(ahead_ms).unwrap();
    load(&app, 2, 3).await;

    let stored: Vec<DateTime<Utc>> = app
        .pool
        .get()
        .await
        .unwrap()
        .query("SELECT stored FROM statements ORDER BY seq", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(stored.len(), 9);
    let before = stored[0];
    assert!(before < ahead);
    assert!(stored[..3].iter().all(|&s| s == before), "{stored:?}");
    assert!(stored[3..].iter().all(|&s| s == ahead), "{stored:?}");

    // Until the clock passes them, queries leave them out.
    let response = app
        .xapi(Method::GET, "/xapi/statements")
        .send()
        .await
        .unwrap();
    let consistent_through: DateTime<Utc> = response
        .headers()
        .get("X-Experience-API-Consistent-Through")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(consistent_through < ahead);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["statements"].as_array().unwrap().len(), 3);

    // Once it has (a consistency time at their `stored`), each bound finds each once.
    let (store_id, position) = app.first_page_position().await;
    let position = PagePosition {
        consistent_through: ahead,
        ..position
    };
    let millisecond = Duration::milliseconds(1);
    for ascending in [true, false] {
        for (since, until, expected) in [
            (Some(before), None, 6),
            (Some(ahead - millisecond), None, 6),
            (Some(ahead), None, 0),
            (None, Some(before), 3),
            (None, Some(ahead - millisecond), 3),
            (None, Some(ahead), 9),
            (Some(before), Some(ahead), 6),
        ] {
            let filter = StatementFilter {
                since,
                until,
                ascending,
                ..Default::default()
            };
            let page = statement_reads::page(&app.pool, store_id, &filter, position, 100)
                .await
                .unwrap();
            let seqs: Vec<i64> = page.statements.iter().map(|s| s.seq).collect();
            assert_eq!(seqs.len(), expected, "{filter:?}");
            assert!(
                seqs.windows(2).all(|w| (w[0] < w[1]) == ascending),
                "in order, each once: {filter:?}"
            );
            let from_bounds = |s: &&DateTime<Utc>| {
                since.is_none_or(|since| **s > since) && until.is_none_or(|until| **s <= until)
            };
            assert_eq!(stored.iter().filter(from_bounds).count(), expected);
        }
    }
}

/// The most rows any Sort node of an executed plan sorted (0 without one).
fn largest_sort(plan: &str) -> u64 {
    plan.lines()
        .filter(|line| {
            line.trim_start()
                .trim_start_matches("->  ")
                .starts_with("Sort ")
        })
        .filter_map(rows_of)
        .max()
        .unwrap_or(0)
}

/// The most rows any node of an executed plan produced or discarded: rows and those its
/// filter removed, times its loops.
fn rows_read(plan: &str) -> u64 {
    let (mut most, mut last, mut loops) = (0, 0, 1);
    for line in plan.lines() {
        if let Some(rows) = rows_of(line) {
            loops = number_after(line, "loops=").unwrap_or(1);
            last = rows * loops;
        } else if let Some(removed) = number_after(line, "Rows Removed by Filter: ") {
            // A per-loop average, as rows are.
            last += removed * loops;
        }
        most = most.max(last);
    }
    most
}

/// The rows a plan line's node produced per loop, when the line is a node's.
fn rows_of(line: &str) -> Option<u64> {
    number_after(&line[line.find("(actual ")?..], "rows=")
}

/// The number written just after `label` in `line`.
fn number_after(line: &str, label: &str) -> Option<u64> {
    let rest = &line[line.find(label)? + label.len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
}
