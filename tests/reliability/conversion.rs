//! A store written before the term dictionary (migration 0019), its index rows as the
//! old `statement_index` held them, converted in place by the real `commonplace
//! migrate`: every filter of GET /statements answers exactly as before, and a
//! conversion killed mid-way resumes where it stopped and ends with the same answers.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{command, connect, fresh_database, spawn_app_on, TestApp, MISFILED_ENTRIES};

const ANN: &str = "mbox:mailto:ann@example.org";
/// An account name with a space: the agent+verb term "<verb> <IFI>" splits at the first.
const BOB: &str = "account:https://example.org|Bob Smith";
const AUTHORITY: &str = "account:https://lrs.example.org|old-writer";
const COMPLETED: &str = "http://adlnet.gov/expapi/verbs/completed";
const ATTEMPTED: &str = "http://adlnet.gov/expapi/verbs/attempted";
const LIKED: &str = "http://activitystrea.ms/schema/1.0/like";
const COURSE: &str = "https://example.org/course/1";
const QUIZ: &str = "https://example.org/course/2";
const PROGRAM: &str = "https://example.org/program";
const FILLERS: usize = 20;

/// The kinds of the old index: actor, authority, object Activity, context parent,
/// verb, registration, agent+verb.
const ACTOR: i16 = 1;
const AUTHORITY_KIND: i16 = 3;
const OBJECT_ACTIVITY: i16 = 101;
const PARENT_ACTIVITY: i16 = 102;
const VERB: i16 = 201;
const REGISTRATION: i16 = 202;
const AGENT_VERB: i16 = 203;

/// The Statements of the old store, by name.
struct OldStore {
    url: String,
    ids: std::collections::HashMap<&'static str, Uuid>,
    registration: Uuid,
    /// The distinct (seq, kind, term) rows of `statement_index`: what `statements.terms`
    /// must hold, once each, after the conversion (and `statement_terms` an entry per
    /// Statement and term of them).
    index_rows: i64,
}

fn agent_json(ifi: &str) -> Value {
    match ifi.split_once(':') {
        Some(("mbox", mailto)) => json!({"objectType": "Agent", "mbox": mailto}),
        Some(("account", account)) => {
            let (home_page, name) = account.split_once('|').unwrap();
            json!({"objectType": "Agent", "account": {"homePage": home_page, "name": name}})
        }
        _ => unreachable!("{ifi}"),
    }
}

fn pair(verb: &str, ifi: &str) -> (i16, String) {
    (AGENT_VERB, format!("{verb} {ifi}"))
}

/// Runs migrations 0001…0018 from `migrations/` in order, recording each as
/// `store::migrations` does, then writes Statements and their `statement_index` rows as
/// the version before the term dictionary wrote them: ann completed the course (with a
/// registration and the program as parent), bob attempted it, ann attempted the quiz,
/// filler Statements of other learners, and bob liked ann's completion through a
/// StatementRef (its own rows, its target's inherited, and every agent+verb pair of the
/// two); one Statement of ann's in another store.
async fn old_store() -> OldStore {
    let url = fresh_database().await;
    let client = connect(&url).await;
    client
        .batch_execute(
            "CREATE TABLE schema_migrations (
                 version text PRIMARY KEY,
                 applied timestamptz NOT NULL DEFAULT now()
             )",
        )
        .await
        .unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.file_name().unwrap().to_str().unwrap() < "0019")
        .collect();
    files.sort();
    assert_eq!(files.len(), 18);
    for file in files {
        let version = file.file_stem().unwrap().to_str().unwrap().to_string();
        client
            .batch_execute(&std::fs::read_to_string(&file).unwrap())
            .await
            .unwrap();
        client
            .execute(
                "INSERT INTO schema_migrations (version) VALUES ($1)",
                &[&version],
            )
            .await
            .unwrap();
    }
    client
        .batch_execute("INSERT INTO stores (name) VALUES ('other')")
        .await
        .unwrap();

    let registration = Uuid::new_v4();
    let mut ids = std::collections::HashMap::new();
    let completion = Uuid::new_v4();
    ids.insert("ann completed", completion);
    let mut write = Vec::new();
    write.push((
        "ann completed",
        "default",
        json!({"actor": agent_json(ANN), "verb": {"id": COMPLETED},
               "object": {"objectType": "Activity", "id": COURSE},
               "context": {"registration": registration,
                           "contextActivities": {"parent": [{"id": PROGRAM}]}}}),
        vec![
            (ACTOR, ANN.to_string()),
            (AUTHORITY_KIND, AUTHORITY.to_string()),
            (OBJECT_ACTIVITY, COURSE.to_string()),
            (PARENT_ACTIVITY, PROGRAM.to_string()),
            (VERB, COMPLETED.to_string()),
            (REGISTRATION, registration.to_string()),
            pair(COMPLETED, ANN),
        ],
        None,
    ));
    write.push((
        "bob attempted",
        "default",
        json!({"actor": agent_json(BOB), "verb": {"id": ATTEMPTED},
               "object": {"objectType": "Activity", "id": COURSE}}),
        vec![
            (ACTOR, BOB.to_string()),
            (AUTHORITY_KIND, AUTHORITY.to_string()),
            (OBJECT_ACTIVITY, COURSE.to_string()),
            (VERB, ATTEMPTED.to_string()),
            pair(ATTEMPTED, BOB),
        ],
        None,
    ));
    write.push((
        "ann completed elsewhere",
        "other",
        json!({"actor": agent_json(ANN), "verb": {"id": COMPLETED},
               "object": {"objectType": "Activity", "id": COURSE}}),
        vec![
            (ACTOR, ANN.to_string()),
            (AUTHORITY_KIND, AUTHORITY.to_string()),
            (OBJECT_ACTIVITY, COURSE.to_string()),
            (VERB, COMPLETED.to_string()),
            pair(COMPLETED, ANN),
        ],
        None,
    ));
    write.push((
        "ann attempted",
        "default",
        json!({"actor": agent_json(ANN), "verb": {"id": ATTEMPTED},
               "object": {"objectType": "Activity", "id": QUIZ}}),
        vec![
            (ACTOR, ANN.to_string()),
            (AUTHORITY_KIND, AUTHORITY.to_string()),
            (OBJECT_ACTIVITY, QUIZ.to_string()),
            (VERB, ATTEMPTED.to_string()),
            pair(ATTEMPTED, ANN),
        ],
        None,
    ));
    for n in 0..FILLERS {
        let learner = format!("mbox:mailto:filler{n}@example.org");
        let activity = format!("https://example.org/filler/{n}");
        write.push((
            "filler",
            "default",
            json!({"actor": agent_json(&learner), "verb": {"id": ATTEMPTED},
                   "object": {"objectType": "Activity", "id": activity}}),
            vec![
                (ACTOR, learner.clone()),
                (AUTHORITY_KIND, AUTHORITY.to_string()),
                (OBJECT_ACTIVITY, activity),
                (VERB, ATTEMPTED.to_string()),
                pair(ATTEMPTED, &learner),
            ],
            None,
        ));
    }
    let own = [
        (ACTOR, BOB.to_string()),
        (AUTHORITY_KIND, AUTHORITY.to_string()),
        (VERB, LIKED.to_string()),
        pair(LIKED, BOB),
    ];
    let inherited = write[0].3.clone();
    let combined = [pair(LIKED, ANN), pair(COMPLETED, BOB)];
    write.push((
        "bob liked ann's completion",
        "default",
        json!({"actor": agent_json(BOB), "verb": {"id": LIKED},
               "object": {"objectType": "StatementRef", "id": completion}}),
        own.into_iter().chain(inherited).chain(combined).collect(),
        Some(completion),
    ));

    for (name, store, mut body, rows, statement_ref) in write {
        let id = match name {
            "filler" => Uuid::new_v4(),
            _ => *ids.entry(name).or_insert_with(Uuid::new_v4),
        };
        body["id"] = json!(id);
        body["authority"] = agent_json(AUTHORITY);
        body["version"] = json!("1.0.0");
        let stored = "2026-11-30T10:00:00.000Z";
        body["stored"] = json!(stored);
        body["timestamp"] = json!(stored);
        let registration = body["context"]["registration"]
            .as_str()
            .map(|r| Uuid::parse_str(r).unwrap());
        let seq: i64 = client
            .query_one(
                "INSERT INTO statements (store_id, id, stored, registration, statement_ref,
                                         credential, body)
                 VALUES ((SELECT id FROM stores WHERE name = $1), $2, $3::text::timestamptz,
                         $4, $5, 'old-writer', $6)
                 RETURNING seq",
                &[&store, &id, &stored, &registration, &statement_ref, &body],
            )
            .await
            .unwrap()
            .get(0);
        let (kinds, terms): (Vec<i16>, Vec<String>) = rows.into_iter().unzip();
        client
            .execute(
                "INSERT INTO statement_index (store_id, seq, kind, term)
                 SELECT (SELECT id FROM stores WHERE name = $1), $2, *
                   FROM UNNEST($3::int2[], $4::text[])",
                &[&store, &seq, &kinds, &terms],
            )
            .await
            .unwrap();
    }
    let index_rows = client
        .query_one(
            "SELECT count(*) FROM (SELECT DISTINCT seq, kind, term FROM statement_index) r",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    OldStore {
        url,
        ids,
        registration,
        index_rows,
    }
}

/// The ids GET /statements returns for `query` (every page: the limit is above the
/// store's size), oldest first.
async fn ids(app: &TestApp, query: &[(&str, String)]) -> Vec<Uuid> {
    let response = app
        .xapi(Method::GET, "/xapi/statements")
        .query(query)
        .query(&[("ascending", "true"), ("limit", "1000")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{query:?}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["more"], "", "{query:?}");
    body["statements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| Uuid::parse_str(s["id"].as_str().unwrap()).unwrap())
        .collect()
}

fn agent(ifi: &str) -> String {
    agent_json(ifi).to_string()
}

/// The parameters of a GET /statements.
type Query = Vec<(&'static str, String)>;

/// Every filter, against exactly the Statements it matched before the conversion.
async fn assert_answers(app: &TestApp, old: &OldStore) {
    let id = |name: &str| old.ids[name];
    let ann_completed = id("ann completed");
    let bob_attempted = id("bob attempted");
    let ann_attempted = id("ann attempted");
    let liked = id("bob liked ann's completion");
    let cases: Vec<(Query, Vec<Uuid>)> = vec![
        (
            vec![("agent", agent(ANN))],
            vec![ann_completed, ann_attempted, liked],
        ),
        (vec![("agent", agent(BOB))], vec![bob_attempted, liked]),
        (
            vec![("verb", COMPLETED.to_string())],
            vec![ann_completed, liked],
        ),
        (vec![("verb", LIKED.to_string())], vec![liked]),
        (
            vec![("agent", agent(ANN)), ("verb", COMPLETED.to_string())],
            vec![ann_completed, liked],
        ),
        (
            vec![("agent", agent(ANN)), ("verb", ATTEMPTED.to_string())],
            vec![ann_attempted],
        ),
        // Paired only through the StatementRef: bob's like of ann's completion.
        (
            vec![("agent", agent(BOB)), ("verb", COMPLETED.to_string())],
            vec![liked],
        ),
        (
            vec![("agent", agent(ANN)), ("verb", LIKED.to_string())],
            vec![liked],
        ),
        (
            vec![("agent", agent(BOB)), ("verb", ATTEMPTED.to_string())],
            vec![bob_attempted],
        ),
        (
            vec![("activity", COURSE.to_string())],
            vec![ann_completed, bob_attempted, liked],
        ),
        (vec![("activity", PROGRAM.to_string())], vec![]),
        (
            vec![
                ("activity", PROGRAM.to_string()),
                ("related_activities", "true".to_string()),
            ],
            vec![ann_completed, liked],
        ),
        (
            vec![("registration", old.registration.to_string())],
            vec![ann_completed, liked],
        ),
        (
            vec![
                ("agent", agent(ANN)),
                ("activity", QUIZ.to_string()),
                ("verb", ATTEMPTED.to_string()),
            ],
            vec![ann_attempted],
        ),
    ];
    for (query, expected) in cases {
        assert_eq!(ids(app, &query).await, expected, "{query:?}");
    }
    // The authority is every Statement's, found only with related_agents.
    let all = ids(
        app,
        &[
            ("agent", agent(AUTHORITY)),
            ("related_agents", "true".to_string()),
        ],
    )
    .await;
    assert_eq!(all.len(), 4 + FILLERS);
    assert!(ids(app, &[("agent", agent(AUTHORITY))]).await.is_empty());

    // The other store's Statement, under the same terms, stays in its store.
    let other = app
        .credential("other", &[commonplace::auth::Scope::All])
        .await;
    let response = app
        .xapi_as(&other, Method::GET, "/xapi/statements")
        .query(&[("agent", agent(ANN)), ("verb", COMPLETED.to_string())])
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    let found: Vec<&str> = body["statements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(found, [id("ann completed elsewhere").to_string()]);
}

/// What the conversion leaves: no old table, no bookkeeping, every Statement's terms,
/// each index row once, and no Statement queued for the learning feed to fold again.
async fn assert_converted(old: &OldStore) {
    let client = connect(&old.url).await;
    let row = client
        .query_one(
            "SELECT to_regclass('statement_index') IS NULL,
                    to_regclass('storage_conversion') IS NULL,
                    to_regclass('statement_terms_term') IS NOT NULL,
                    (SELECT count(*) FROM statements WHERE terms IS NULL),
                    (SELECT sum(cardinality(terms))::bigint FROM statements),
                    (SELECT count(*) FROM learning_feed_redo),
                    (SELECT attnotnull FROM pg_attribute
                      WHERE attrelid = 'statements'::regclass AND attname = 'terms')",
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0), "statement_index is left");
    assert!(row.get::<_, bool>(1), "storage_conversion is left");
    assert!(row.get::<_, bool>(2), "no statement_terms_term index");
    assert_eq!(row.get::<_, i64>(3), 0);
    assert_eq!(
        row.get::<_, i64>(4),
        old.index_rows,
        "statements.terms holds each row once"
    );
    assert_eq!(row.get::<_, i64>(5), 0);
    assert!(row.get::<_, bool>(6), "statements.terms is nullable");
    let misfiled: i64 = client
        .query_one(MISFILED_ENTRIES, &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        misfiled, 0,
        "statement_terms is not what statements.terms makes"
    );
}

#[tokio::test]
async fn migrate_converts_an_old_store_and_every_filter_answers_as_before() {
    let old = old_store().await;
    let out = command(&old.url, &["migrate"]).unwrap();
    assert!(
        out.contains(&format!("Converting {} Statements", 5 + FILLERS)),
        "{out}"
    );
    assert!(out.contains("First batch: "), "{out}");
    assert!(out.contains("to go"), "{out}");
    // The migrations that rewrite a table say so, with an estimate, before they run.
    for version in ["0024_statement_text", "0025_term_entries"] {
        assert!(
            out.contains(&format!("Migrating {version}: "))
                && out.contains(&format!("Migrating {version}: done in")),
            "{out}"
        );
    }
    assert!(out.contains("(under a minute)…"), "{out}");
    assert_converted(&old).await;
    let app = spawn_app_on(old.url.clone(), |_| {}).await;
    assert_answers(&app, &old).await;
    // Another start finds nothing to convert.
    let again = command(&old.url, &["migrate"]).unwrap();
    assert!(!again.contains("Converting"), "{again}");
}

#[tokio::test]
async fn a_new_database_has_nothing_to_convert_and_says_nothing() {
    let url = fresh_database().await;
    let out = command(&url, &["migrate"]).unwrap();
    assert!(!out.contains("Converting"), "{out}");
    let row = connect(&url)
        .await
        .query_one(
            "SELECT to_regclass('statement_index') IS NULL,
                    to_regclass('storage_conversion') IS NULL,
                    to_regclass('statement_terms_term') IS NOT NULL,
                    (SELECT attnotnull FROM pg_attribute
                      WHERE attrelid = 'statements'::regclass AND attname = 'terms')",
            &[],
        )
        .await
        .unwrap();
    for column in 0..4 {
        assert!(row.get::<_, bool>(column), "column {column}");
    }
}

#[tokio::test]
async fn a_server_converts_an_old_store_before_it_serves() {
    let old = old_store().await;
    let app = spawn_app_on(old.url.clone(), |_| {}).await;
    assert_converted(&old).await;
    assert_answers(&app, &old).await;
}

/// Lines of a child's output, as they come.
fn capture(stream: impl Read + Send + 'static, into: Arc<Mutex<Vec<String>>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            into.lock().unwrap().push(line);
        }
    });
}

#[tokio::test]
async fn a_conversion_killed_mid_way_resumes_where_it_stopped() {
    let old = old_store().await;
    // The first migrate is stopped mid-way deterministically: an open transaction of
    // the test has interned the key of the tenth filler's Activity, so the batch that
    // holds that filler waits for it; the batches before it are committed.
    let holder = connect(&old.url).await;
    holder
        .batch_execute(include_str!("../../migrations/0019_term_dictionary.sql"))
        .await
        .unwrap();
    holder
        .batch_execute("INSERT INTO schema_migrations (version) VALUES ('0019_term_dictionary')")
        .await
        .unwrap();
    holder
        .batch_execute(
            "BEGIN;
             INSERT INTO terms (store_id, key)
             VALUES (1, commonplace_term_key('https://example.org/filler/9'))",
        )
        .await
        .unwrap();
    let blocked_seq: i64 = holder
        .query_one(
            "SELECT seq FROM statement_index WHERE term = 'https://example.org/filler/9'",
            &[],
        )
        .await
        .unwrap()
        .get(0);

    let mut child = Command::new(env!("CARGO_BIN_EXE_commonplace"))
        .args([
            "migrate",
            "--conversion-batch",
            "1",
            "--database-url",
            &old.url,
        ])
        .env_remove("COMMONPLACE_DATABASE_URL")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let output = Arc::new(Mutex::new(Vec::new()));
    capture(child.stdout.take().unwrap(), output.clone());
    capture(child.stderr.take().unwrap(), output.clone());
    let watcher = connect(&old.url).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let through: Option<i64> = watcher
            .query_opt("SELECT converted_through FROM storage_conversion", &[])
            .await
            .ok()
            .flatten()
            .map(|row| row.get(0));
        let waiting: i64 = watcher
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                  WHERE datname = current_database() AND wait_event_type = 'Lock'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        // The estimate after the first batch, on stdout and in the log, came before.
        let log = output.lock().unwrap().join("\n");
        let estimated = log.contains("First batch: 1 Statements")
            && log.contains("converting: first batch measured");
        if through == Some(blocked_seq - 1) && waiting == 1 && estimated {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the conversion did not reach seq {blocked_seq} ({through:?}): {log}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // The killed run's backend ends once it may go on and finds its client gone; its
    // batch was never committed.
    holder.batch_execute("ROLLBACK").await.unwrap();
    crate::helpers::until_other_backends_idle(&watcher).await;
    let (through, converted): (i64, i64) = {
        let row = watcher
            .query_one(
                "SELECT converted_through, converted FROM storage_conversion",
                &[],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!(through, blocked_seq - 1);
    let before: i64 = watcher
        .query_one(
            "SELECT count(*) FROM statements WHERE seq < $1",
            &[&blocked_seq],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(converted, before);

    let out = command(&old.url, &["migrate"]).unwrap();
    assert!(
        out.contains(&format!(
            "Converting {} Statements",
            5 + FILLERS - converted as usize
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("resuming after {converted} converted before")),
        "{out}"
    );
    assert_converted(&old).await;
    let app = spawn_app_on(old.url.clone(), |_| {}).await;
    assert_answers(&app, &old).await;
}

#[tokio::test]
async fn statements_an_old_server_committed_behind_the_conversion_are_converted_at_its_end() {
    let old = old_store().await;
    // As if every batch had passed while a server of the old version, left running,
    // still committed its Statements below `converted_through`: none has its terms.
    let client = connect(&old.url).await;
    client
        .batch_execute(include_str!("../../migrations/0019_term_dictionary.sql"))
        .await
        .unwrap();
    client
        .batch_execute(
            "INSERT INTO schema_migrations (version) VALUES ('0019_term_dictionary');
             UPDATE storage_conversion SET converted_through = (SELECT max(seq) FROM statements)",
        )
        .await
        .unwrap();
    command(&old.url, &["migrate"]).unwrap();
    assert_converted(&old).await;
    let app = spawn_app_on(old.url.clone(), |_| {}).await;
    assert_answers(&app, &old).await;
}

#[tokio::test]
async fn a_failed_compaction_is_left_to_the_operator_and_does_not_stop_a_start() {
    let old = old_store().await;
    command(&old.url, &["migrate"]).unwrap();
    // As a run stopped while compacting leaves it: converted, not yet compacted.
    let client = connect(&old.url).await;
    client
        .batch_execute(&format!(
            "CREATE TABLE storage_conversion (
                 singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
                 converted_through bigint NOT NULL DEFAULT 0,
                 converted bigint NOT NULL DEFAULT 0,
                 finished boolean NOT NULL DEFAULT false
             );
             INSERT INTO storage_conversion VALUES (true, 0, {}, true);
             DO $$ BEGIN
                 EXECUTE format('ALTER DATABASE %I SET lock_timeout = ''10ms''',
                                current_database());
             END $$",
            5 + FILLERS
        ))
        .await
        .unwrap();
    // VACUUM FULL cannot have `statements` while this transaction reads it: it fails as
    // it would on a disk too full for its copy.
    let reader = connect(&old.url).await;
    reader
        .batch_execute("BEGIN; SELECT count(*) FROM statements")
        .await
        .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_commonplace"))
        .args(["migrate", "--database-url", &old.url])
        .env_remove("COMMONPLACE_DATABASE_URL")
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{said}");
    assert!(said.contains("compacted by hand"), "{said}");
    assert!(said.contains("VACUUM FULL statements'"), "{said}");
    reader.batch_execute("ROLLBACK").await.unwrap();
    client
        .batch_execute(
            "DO $$ BEGIN
                 EXECUTE format('ALTER DATABASE %I RESET lock_timeout', current_database());
             END $$",
        )
        .await
        .unwrap();
    assert!(client
        .query_one("SELECT to_regclass('storage_conversion') IS NULL", &[])
        .await
        .unwrap()
        .get::<_, bool>(0));
    let app = spawn_app_on(old.url.clone(), |_| {}).await;
    assert_answers(&app, &old).await;
}
