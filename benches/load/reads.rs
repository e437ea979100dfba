//! Reads: Statement queries, state documents and reports through the LRS, and the same
//! reads straight from a table of the stored JSON (`raw_statements`), for comparison.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, SecondsFormat, Utc};
use commonplace::workload::LEARNERS;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use crate::harness::{copy_store_to_raw, db_error, send, Http};
use crate::measure::{selected, Op, Scenario};
use crate::Run;

/// Statements one `since` walk pages through before it starts over.
const PAGE_WALK: usize = 10_000;
const COURSES: usize = 50;
const COURSE_VERBS: [&str; 5] = ["completed", "passed", "attempted", "progressed", "launched"];

pub type PathFn = Arc<dyn Fn(&mut StdRng) -> String + Send + Sync>;

const BY_ID: &str = "GET /statements by id";
const REGISTRATION: &str = "GET registration, limit=100";
/// `since`/`until` at points drawn uniformly over the store's `stored` range, newest
/// first: each should cost what the newest page costs, wherever T falls.
const SINCE_AT: &str = "GET since=T (T at random over the store), limit=100";
const UNTIL_AT: &str = "GET until=T (T at random over the store), limit=100";

/// Statement ids and registrations drawn from the store, for the queries to ask for,
/// and the range of its `stored` times.
pub struct Samples {
    ids: Arc<Vec<Uuid>>,
    registrations: Arc<Vec<Uuid>>,
    stored: Option<StoredRange>,
}

/// The first and last `stored` time of the store; `since`/`until` ask for a point
/// drawn uniformly between them.
#[derive(Clone, Copy)]
struct StoredRange {
    first: DateTime<Utc>,
    last: DateTime<Utc>,
}

impl StoredRange {
    /// A random point, as the LRS writes `stored` (milliseconds, UTC): the raw reads
    /// compare it with the JSON's `stored` as text.
    fn point(&self, rng: &mut StdRng) -> String {
        let span = (self.last - self.first)
            .num_microseconds()
            .unwrap_or(0)
            .max(1);
        (self.first + chrono::Duration::microseconds(rng.gen_range(0..=span)))
            .to_rfc3339_opts(SecondsFormat::Millis, true)
    }
}

impl Samples {
    pub async fn take(run: &Run<'_>) -> Samples {
        let client = run.connect().await;
        let total: i64 = client
            .query_one("SELECT count(*) FROM statements", &[])
            .await
            .unwrap()
            .get(0);
        let percent = (100.0 * 20_000.0 / total.max(1) as f64).clamp(0.01, 100.0);
        let sample = |sql: String| {
            let client = &client;
            async move {
                let rows = client.query(&sql, &[]).await.unwrap();
                Arc::new(rows.iter().map(|r| r.get(0)).collect::<Vec<Uuid>>())
            }
        };
        Samples {
            ids: sample(format!(
                "SELECT id FROM statements TABLESAMPLE SYSTEM ({percent}) LIMIT 2000"
            ))
            .await,
            registrations: sample(format!(
                "SELECT DISTINCT (body->'context'->>'registration')::uuid \
                   FROM statements TABLESAMPLE SYSTEM ({percent}) \
                  WHERE body->'context'->>'registration' IS NOT NULL LIMIT 1000"
            ))
            .await,
            stored: {
                let row = client
                    .query_one("SELECT min(stored), max(stored) FROM statements", &[])
                    .await
                    .unwrap();
                match (row.get(0), row.get(1)) {
                    (Some(first), Some(last)) => Some(StoredRange { first, last }),
                    _ => None,
                }
            },
        }
    }
}

/// The `GET /statements` queries, each a path built from a random draw: by id, three
/// filters, and `since`/`until` at random points over the whole store (default order,
/// newest first). Those the store has no sample for are left out and said so.
pub fn query_shapes(samples: &Samples, skipped: &mut Vec<String>) -> Vec<(&'static str, PathFn)> {
    let mut shapes: Vec<(&'static str, PathFn)> = Vec::new();
    if samples.ids.is_empty() {
        skipped.push(format!("{BY_ID}: no sample in the store"));
    } else {
        let ids = samples.ids.clone();
        shapes.push((
            BY_ID,
            Arc::new(move |rng: &mut StdRng| {
                format!(
                    "/xapi/statements?statementId={}",
                    ids[rng.gen_range(0..ids.len())]
                )
            }),
        ));
    }
    shapes.push((
        "GET agent + verb, limit=100",
        Arc::new(move |rng: &mut StdRng| {
            format!(
                "/xapi/statements?agent={}&verb={}&limit=100",
                encode(&learner(rng)),
                encode(&course_verb(rng))
            )
        }),
    ));
    shapes.push((
        "GET activity + related_activities, limit=100",
        Arc::new(move |rng: &mut StdRng| {
            format!(
                "/xapi/statements?activity={}&related_activities=true&limit=100",
                encode(&course(rng))
            )
        }),
    ));
    if samples.registrations.is_empty() {
        skipped.push(format!("{REGISTRATION}: no sample in the store"));
    } else {
        let registrations = samples.registrations.clone();
        shapes.push((
            REGISTRATION,
            Arc::new(move |rng: &mut StdRng| {
                format!(
                    "/xapi/statements?registration={}&limit=100",
                    registrations[rng.gen_range(0..registrations.len())]
                )
            }),
        ));
    }
    match samples.stored {
        None => skipped.push(format!("{SINCE_AT}, {UNTIL_AT}: an empty store")),
        Some(range) => {
            for (name, bound) in [(SINCE_AT, "since"), (UNTIL_AT, "until")] {
                shapes.push((
                    name,
                    Arc::new(move |rng: &mut StdRng| {
                        format!(
                            "/xapi/statements?{bound}={}&limit=100",
                            encode(&range.point(rng))
                        )
                    }),
                ));
            }
        }
    }
    shapes
}

/// How long one `GET path` takes to answer 200, in ms: the first page a server just
/// started serves.
pub async fn first_page(http: &Http, path: &str) -> Result<f64, String> {
    let started = Instant::now();
    send(http.request(reqwest::Method::GET, path, "2.0.0"), 200).await?;
    Ok(started.elapsed().as_secs_f64() * 1000.0)
}

/// Client `client`'s op of a `GET` query: a path from `query`, answered 200.
pub fn get_op(http: &Http, client: usize, query: PathFn) -> Op {
    let http = http.clone();
    let mut rng = StdRng::seed_from_u64(client as u64 + 31);
    Box::new(move || {
        let path = query(&mut rng);
        let request = http.request(reqwest::Method::GET, &path, "2.0.0");
        Box::pin(async move { send(request, 200).await.map(|_| 1) })
    })
}

/// `GET /statements`: the [`query_shapes`], and paging by `since` through `more`.
pub async fn queries(
    run: &Run<'_>,
    http: &Http,
    samples: &Samples,
    skipped: &mut Vec<String>,
) -> Vec<Scenario> {
    println!("  -- LRS queries");
    run.settle().await;
    let qc = run.config.query_clients;
    let mut scenarios = Vec::new();
    for (name, query) in query_shapes(samples, skipped) {
        scenarios.extend(
            run.measure(name, "lrs", qc, |c| get_op(http, c, query.clone()))
                .await,
        );
    }
    // since, paging through 10,000 results with `more`.
    scenarios.extend(
        run.measure(
            "GET since, ascending, paging 10,000 via more (per page of 100)",
            "lrs",
            qc,
            |c| {
                let http = http.clone();
                let walk: Arc<Mutex<(Option<String>, usize)>> = Arc::new(Mutex::new((None, 0)));
                // Each client starts its walks at a different point in time.
                let since = format!("2000-01-0{}T00:00:00Z", c % 9 + 1);
                Box::new(move || {
                    let (next, _) = walk.lock().unwrap().clone();
                    let path = next.unwrap_or_else(|| {
                        format!(
                            "/xapi/statements?since={}&ascending=true&limit=100",
                            encode(&since)
                        )
                    });
                    let request = http.request(reqwest::Method::GET, &path, "2.0.0");
                    let walk = walk.clone();
                    Box::pin(async move {
                        let body = send(request, 200).await?;
                        let page: serde_json::Value =
                            serde_json::from_slice(&body).map_err(|e| e.to_string())?;
                        let count = page["statements"].as_array().map_or(0, Vec::len);
                        let more = page["more"].as_str().unwrap_or("").to_string();
                        let mut walk = walk.lock().unwrap();
                        walk.1 += count;
                        if more.is_empty() || walk.1 >= PAGE_WALK {
                            *walk = (None, 0);
                        } else {
                            walk.0 = Some(more);
                        }
                        Ok(count as u64)
                    })
                })
            },
        )
        .await,
    );
    if let Some(s) = scenarios
        .last_mut()
        .filter(|s| s.name.starts_with("GET since"))
    {
        s.note = Some(format!(
            "items = statements; one walk of {PAGE_WALK} statements takes about {:.0} ms",
            PAGE_WALK as f64 / (s.items_per_second / s.clients as f64).max(1e-9) * 1000.0
        ));
    }
    scenarios
}

/// State documents: `PUT` then `GET` of the same documents.
pub async fn documents(run: &Run<'_>, http: &Http) -> Vec<Scenario> {
    let qc = run.config.query_clients;
    let mut scenarios = Vec::new();
    scenarios.extend(
        run.measure("PUT /activities/state (1.0.3)", "lrs", qc, |c| {
            let http = http.clone();
            let mut rng = StdRng::seed_from_u64(c as u64 + 808);
            Box::new(move || {
                let path = state_path(&mut rng);
                let body = format!(
                    r#"{{"location":"module-{}","progress":{},"suspend_data":"{}"}}"#,
                    rng.gen_range(0..6),
                    rng.gen_range(0..100),
                    "x".repeat(200)
                );
                let request = http
                    .request(reqwest::Method::PUT, &path, "1.0.3")
                    .header("Content-Type", "application/json")
                    .body(body);
                Box::pin(async move { send(request, 204).await.map(|_| 1) })
            })
        })
        .await,
    );
    scenarios.extend(
        run.measure("GET /activities/state", "lrs", qc, |c| {
            let http = http.clone();
            let mut rng = StdRng::seed_from_u64(c as u64 + 808);
            Box::new(move || {
                let path = state_path(&mut rng);
                let request = http.request(reqwest::Method::GET, &path, "1.0.3");
                Box::pin(async move {
                    let response = request.send().await.map_err(|e| e.to_string())?;
                    let status = response.status().as_u16();
                    response.bytes().await.map_err(|e| e.to_string())?;
                    match status {
                        200 | 404 => Ok(1),
                        other => Err(format!("status {other}")),
                    }
                })
            })
        })
        .await,
    );
    if let Some(s) = scenarios
        .last_mut()
        .filter(|s| s.name == "GET /activities/state")
    {
        s.note = Some("documents written by the PUT scenario; a 404 (never written) counts".into());
    }
    scenarios
}

/// The suffix of the report scenarios measured with no kept answers.
pub const COMPUTED: &str = " (computed: no kept answers)";

/// The dashboard's first page after a restart.
pub const FIRST_DASHBOARD: &str = "/dashboard";

/// The report endpoints and the dashboard pages built on them, each scenario named with
/// `suffix`; one that does not answer 200 is skipped and said so.
pub async fn reports(
    run: &Run<'_>,
    http: &Http,
    suffix: &str,
    skipped: &mut Vec<String>,
) -> Vec<Scenario> {
    let qc = run.config.query_clients;
    let mut scenarios = Vec::new();
    // A learner as the pages and the concierge take one (`mailto:…`, as typed).
    let learner = encode(&learner_mbox(7));
    let reports = [
        (
            "GET /reports/modes (week, per team)",
            "/reports/modes?bucket=week&group=team".to_string(),
        ),
        (
            "GET /reports/modes (week, per learner)",
            "/reports/modes?bucket=week&group=learner".to_string(),
        ),
        (
            "GET /reports/modes (month, per learner)",
            "/reports/modes?bucket=month&group=learner".to_string(),
        ),
        ("GET /reports/teams", "/reports/teams".to_string()),
        ("GET /reports/sources", "/reports/sources".to_string()),
        (
            "GET /reports/learners/{agent}",
            format!("/reports/learners/{}", encode(&agent_json(7))),
        ),
        ("GET /reports/goals", "/reports/goals".to_string()),
        ("GET /reports/sharing", "/reports/sharing".to_string()),
        (
            "GET /reports/concierge/stale-goals",
            "/reports/concierge/stale-goals?weeks=4".to_string(),
        ),
        (
            "GET /reports/concierge/unfinished",
            "/reports/concierge/unfinished".to_string(),
        ),
        (
            "GET /reports/concierge/colleagues (a learner)",
            format!("/reports/concierge/colleagues?learner={learner}"),
        ),
        ("GET /dashboard", FIRST_DASHBOARD.to_string()),
        (
            "GET /dashboard (a learner chosen)",
            format!("/dashboard?learner={learner}"),
        ),
        (
            "GET /dashboard/concierge",
            "/dashboard/concierge".to_string(),
        ),
        (
            "GET /dashboard/statements (a learner)",
            format!("/dashboard/statements?learner={learner}"),
        ),
    ];
    for (name, path) in reports {
        let name = format!("{name}{suffix}");
        let probe = http
            .request(reqwest::Method::GET, &path, "2.0.0")
            .send()
            .await
            .map(|r| r.status().as_u16());
        match probe {
            Ok(200) => {
                scenarios.extend(
                    run.measure(&name, "lrs", qc, |_| {
                        let http = http.clone();
                        let path = path.clone();
                        Box::new(move || {
                            let request = http.request(reqwest::Method::GET, &path, "2.0.0");
                            Box::pin(async move { send(request, 200).await.map(|_| 1) })
                        })
                    })
                    .await,
                );
            }
            other => {
                let why = format!("{name}: skipped, {path} answered {other:?} (not built yet?)");
                println!("  {why}");
                skipped.push(why);
            }
        }
    }
    scenarios
}

/// A raw read: its name, its SQL (text parameters), and the parameters of one request.
type RawRead = (
    &'static str,
    &'static str,
    Arc<dyn Fn(&mut StdRng) -> Vec<String> + Send + Sync>,
);

/// The reads above straight from `raw_statements(id uuid primary key, statement jsonb)`
/// holding a copy of every stored Statement: what the same JSON in PostgreSQL answers
/// without the LRS's index table and rollups. Only `id` is indexed there, so every other
/// filter scans the whole table. Each is named after the LRS figure it is compared with
/// (`report::link_ratios`).
pub async fn raw_counterparts(run: &Run<'_>, samples: &Samples) -> Vec<Scenario> {
    let mut reads: Vec<RawRead> = vec![
        (
            "raw by id (primary key)",
            "SELECT statement FROM raw_statements WHERE id = $1::text::uuid",
            {
                let ids = samples.ids.clone();
                Arc::new(move |rng: &mut StdRng| {
                    vec![ids[rng.gen_range(0..ids.len().max(1))].to_string()]
                })
            },
        ),
        (
            "raw agent + verb, limit 100 (jsonb @>, full scan)",
            "SELECT statement FROM raw_statements WHERE statement @> $1::text::jsonb
              ORDER BY statement->>'stored' DESC LIMIT 100",
            Arc::new(|rng: &mut StdRng| {
                let actor = learner(rng);
                vec![format!(
                    r#"{{"actor":{actor},"verb":{{"id":"{}"}}}}"#,
                    course_verb(rng)
                )]
            }),
        ),
        (
            "raw activity + related, limit 100 (jsonpath, full scan)",
            "SELECT statement FROM raw_statements
              WHERE statement->'object'->>'id' = $1::text
                 OR jsonb_path_exists(statement, '$.context.contextActivities.*[*] ? (@.id == $a)',
                                      jsonb_build_object('a', $1::text))
              ORDER BY statement->>'stored' DESC LIMIT 100",
            Arc::new(|rng: &mut StdRng| vec![course(rng)]),
        ),
        (
            "raw registration, limit 100 (full scan)",
            "SELECT statement FROM raw_statements
              WHERE statement->'context'->>'registration' = $1::text
              ORDER BY statement->>'stored' DESC LIMIT 100",
            {
                let registrations = samples.registrations.clone();
                Arc::new(move |rng: &mut StdRng| {
                    vec![registrations[rng.gen_range(0..registrations.len().max(1))].to_string()]
                })
            },
        ),
        (
            "raw learners × weeks GROUP BY (a report from the JSON, full scan)",
            "SELECT statement->'actor'->>'mbox',
                    date_trunc('week', (statement->>'timestamp')::timestamptz), count(*)
               FROM raw_statements GROUP BY 1, 2",
            Arc::new(|_: &mut StdRng| Vec::new()),
        ),
    ];
    if let Some(range) = samples.stored {
        reads.push((
            "raw since=T at random, limit 100 (full scan)",
            "SELECT statement FROM raw_statements WHERE statement->>'stored' > $1::text
              ORDER BY statement->>'stored' DESC LIMIT 100",
            Arc::new(move |rng: &mut StdRng| vec![range.point(rng)]),
        ));
        reads.push((
            "raw until=T at random, limit 100 (full scan)",
            "SELECT statement FROM raw_statements WHERE statement->>'stored' <= $1::text
              ORDER BY statement->>'stored' DESC LIMIT 100",
            Arc::new(move |rng: &mut StdRng| vec![range.point(rng)]),
        ));
    }
    let since_walk = "raw since, paging 10,000 (per page of 100, full scan)";
    if !reads.iter().any(|(name, _, _)| selected(name)) && !selected(since_walk) {
        return Vec::new();
    }
    println!("  -- raw PostgreSQL reads");
    copy_store_to_raw(&run.connect().await).await;
    run.checkpoint().await;
    let qc = run.config.query_clients;
    let mut connections = Vec::new();
    for _ in 0..qc {
        connections.push(Arc::new(run.connect().await));
    }
    let mut scenarios = Vec::new();
    for (name, sql, params) in reads {
        scenarios.extend(
            run.measure(name, "raw", qc, |c| {
                let db = connections[c].clone();
                let params = params.clone();
                let mut rng = StdRng::seed_from_u64(c as u64 + 31);
                Box::new(move || {
                    let (db, values) = (db.clone(), params(&mut rng));
                    Box::pin(async move {
                        let refs: Vec<&(dyn ToSql + Sync)> =
                            values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
                        db.query(sql, &refs).await.map_err(db_error)?;
                        Ok(1)
                    })
                })
            })
            .await,
        );
    }
    // Keyset paging by (stored, id), each client from its own point in time, as the
    // LRS walk above.
    scenarios.extend(
        run.measure(since_walk, "raw", qc, |c| {
            let db = connections[c].clone();
            let start = (format!("2000-01-0{}T00:00:00Z", c % 9 + 1), Uuid::nil());
            let walk = Arc::new(Mutex::new((start.clone(), 0usize)));
            Box::new(move || {
                let (db, walk, start) = (db.clone(), walk.clone(), start.clone());
                Box::pin(async move {
                    let ((stored, id), _) = walk.lock().unwrap().clone();
                    let rows = db
                        .query(
                            "SELECT statement->>'stored', id, statement FROM raw_statements
                              WHERE (statement->>'stored', id) > ($1::text, $2::text::uuid)
                              ORDER BY statement->>'stored', id LIMIT 100",
                            &[&stored, &id.to_string()],
                        )
                        .await
                        .map_err(db_error)?;
                    let mut walk = walk.lock().unwrap();
                    walk.1 += rows.len();
                    match rows.last() {
                        Some(last) if walk.1 < PAGE_WALK => walk.0 = (last.get(0), last.get(1)),
                        _ => *walk = (start, 0),
                    }
                    Ok(rows.len() as u64)
                })
            })
        })
        .await,
    );
    scenarios
}

fn encode(v: &str) -> String {
    percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn state_path(rng: &mut StdRng) -> String {
    format!(
        "/xapi/activities/state?activityId={}&agent={}&stateId=bookmark",
        encode(&course(rng)),
        encode(&learner(rng))
    )
}

fn learner_mbox(learner: usize) -> String {
    format!("mailto:learner{learner}@example.org")
}

fn agent_json(learner: usize) -> String {
    format!(r#"{{"mbox":"{}"}}"#, learner_mbox(learner))
}

/// A Workload learner, as Agent JSON.
fn learner(rng: &mut StdRng) -> String {
    agent_json(rng.gen_range(0..LEARNERS))
}

/// A Workload course's Activity id.
fn course(rng: &mut StdRng) -> String {
    format!(
        "https://lms.example.org/courses/{}",
        rng.gen_range(0..COURSES)
    )
}

/// A verb the Workload's course Statements use.
fn course_verb(rng: &mut StdRng) -> String {
    format!(
        "http://adlnet.gov/expapi/verbs/{}",
        COURSE_VERBS[rng.gen_range(0..COURSE_VERBS.len())]
    )
}
