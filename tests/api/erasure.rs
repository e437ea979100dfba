//! `commonplace erase`: a person's Statements, documents and unshared attachments go;
//! everything else stays; an audit row records it.

use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{spawn_app, TestApp};
use crate::support::{mixed, request, with_attachments};

const PERSON: &str = "mailto:erin@example.com";

fn person() -> Value {
    json!({"objectType": "Agent", "name": "Erin", "mbox": PERSON})
}

fn other() -> Value {
    json!({"objectType": "Agent", "name": "Olav", "mbox": "mailto:olav@example.com"})
}

fn statement(id: Uuid, actor: Value, object: Value) -> Value {
    json!({"id": id, "actor": actor, "verb": {"id": "http://example.com/verbs/did"}, "object": object})
}

fn activity() -> Value {
    json!({"objectType": "Activity", "id": "http://example.com/activities/erasure"})
}

async fn post(app: &TestApp, key: &str, secret: &str, body: &Value, parts: &[&[u8]]) {
    let builder = request(app, key, secret, Method::POST, "/xapi/statements");
    let response = if parts.is_empty() {
        builder.json(body).send().await.unwrap()
    } else {
        mixed(builder, body, parts).send().await.unwrap()
    };
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

async fn get_status(app: &TestApp, id: Uuid) -> u16 {
    app.xapi(Method::GET, "/xapi/statements")
        .query(&[("statementId", id.to_string())])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn erase_removes_the_person_everywhere_and_only_them() {
    let app = spawn_app().await;
    commonplace::store::credentials::create_store(&app.pool, "other")
        .await
        .unwrap();
    let elsewhere = app
        .credential("other", &[commonplace::auth::Scope::All])
        .await;
    let ids: Vec<Uuid> = (0..9).map(|_| Uuid::new_v4()).collect();
    let (only_theirs, shared): (&[u8], &[u8]) = (b"only erin's file", b"a shared file");
    // 0: actor, with an unshared and a shared attachment
    let s0 = with_attachments(
        statement(ids[0], person(), activity()),
        &[only_theirs, shared],
    );
    post(&app, &app.key, &app.secret, &s0, &[only_theirs, shared]).await;
    // 6: someone else's Statement using the shared attachment
    let s6 = with_attachments(statement(ids[6], other(), activity()), &[shared]);
    post(&app, &app.key, &app.secret, &s6, &[shared]).await;
    let mut s3 = statement(ids[3], other(), activity());
    s3["context"] = json!({"instructor": person()});
    let sub = json!({"objectType": "SubStatement", "actor": person(),
                     "verb": {"id": "http://example.com/verbs/did"}, "object": activity()});
    let group = json!({"objectType": "Group", "member": [other(), person()]});
    let batch = json!([
        statement(ids[1], other(), person()),
        statement(ids[2], other(), sub),
        s3,
        statement(ids[4], group, activity()),
        // 7: refers to Erin's Statement; 8: unrelated
        statement(
            ids[7],
            other(),
            json!({"objectType": "StatementRef", "id": ids[0]})
        ),
        statement(ids[8], other(), activity()),
    ]);
    post(&app, &app.key, &app.secret, &batch, &[]).await;
    // 5: Erin in another store
    post(
        &app,
        &elsewhere.key,
        &elsewhere.secret,
        &statement(ids[5], person(), activity()),
        &[],
    )
    .await;
    let erin = json!({"mbox": PERSON}).to_string();
    let olav = json!({"mbox": "mailto:olav@example.com"}).to_string();
    for (path, agent) in [
        ("/xapi/activities/state", &erin),
        ("/xapi/activities/state", &olav),
        ("/xapi/agents/profile", &erin),
    ] {
        let mut query = vec![
            ("agent", agent.clone()),
            ("stateId", "s".into()),
            ("profileId", "p".into()),
        ];
        if path.ends_with("state") {
            query.retain(|(k, _)| *k != "profileId");
            query.push(("activityId", "http://example.com/activities/erasure".into()));
        } else {
            query.retain(|(k, _)| *k != "stateId");
        }
        let r = app
            .xapi(Method::PUT, path)
            .query(&query)
            .json(&json!({"k": 1}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204, "{path}");
    }

    // A report makes the learning feed fold Erin's Statements into the rollups.
    let report = app
        .report("/reports/modes?group=learner")
        .send()
        .await
        .unwrap();
    assert_eq!(report.status(), 200);
    let before = tables_naming_erin(&app).await;
    for table in [
        "statements",
        "learning_labels",
        "learning_days",
        "learning_learner_weeks",
    ] {
        assert!(
            before.iter().any(|(t, _)| t == table),
            "{table}: {before:?}"
        );
    }

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_commonplace"))
        .args([
            "erase",
            "--agent",
            &erin,
            "--store",
            "default",
            "--requested-by",
            "dpo@example.com",
            "--json",
            "--database-url",
            &app.database_url,
        ])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let counts: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        counts,
        json!({"statements": 5, "documents": 2, "attachments": 1, "agents": 1})
    );

    for (n, id) in ids.iter().enumerate() {
        let expected = if [0, 1, 2, 3, 4].contains(&n) {
            404
        } else {
            200
        };
        if n == 5 {
            continue;
        }
        assert_eq!(get_status(&app, *id).await, expected, "statement {n}");
    }
    let theirs = request(
        &app,
        &elsewhere.key,
        &elsewhere.secret,
        Method::GET,
        "/xapi/statements",
    )
    .query(&[("statementId", ids[5].to_string())])
    .send()
    .await
    .unwrap();
    assert_eq!(
        theirs.status(),
        200,
        "another store is untouched with --store"
    );
    let related: Value = app
        .xapi(Method::GET, "/xapi/statements")
        .query(&[("agent", erin.as_str()), ("related_agents", "true")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        related["statements"],
        json!([]),
        "nothing is filed under Erin any more"
    );
    let client = app.pool.get().await.unwrap();
    let attachments: Vec<String> = client
        .query("SELECT sha2 FROM attachments", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(attachments, [crate::support::sha256_hex(shared)]);
    let docs: i64 = client
        .query_one("SELECT count(*) FROM documents", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(docs, 1, "Olav's state stays");
    let audit = client
        .query_one(
            "SELECT requested_by, store, statements, ifi_sha256 FROM erasure_audit",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(audit.get::<_, String>(0), "dpo@example.com");
    assert_eq!(
        audit.get::<_, Option<String>>(1).as_deref(),
        Some("default")
    );
    assert_eq!(audit.get::<_, i64>(2), 5);
    assert!(!audit.get::<_, String>(3).contains("erin"));
    assert_eq!(
        tables_naming_erin(&app).await,
        Vec::<(String, i64)>::new(),
        "no table of the store keeps a trace of Erin, the learning events' labels included"
    );
}

/// The tables with rows of the default store that name Erin anywhere (as text), with
/// how many: every table of the schema, so that one added later is covered too. A table
/// without a `store_id` is searched whole (none holds another store's texts).
async fn tables_naming_erin(app: &TestApp) -> Vec<(String, i64)> {
    let client = app.pool.get().await.unwrap();
    let tables = client
        .query(
            "SELECT c.table_name::text, bool_or(c.column_name = 'store_id')
               FROM information_schema.columns c
               JOIN information_schema.tables t USING (table_schema, table_name)
              WHERE t.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
              GROUP BY 1 ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    let mut naming = Vec::new();
    for row in tables {
        let (table, by_store): (String, bool) = (row.get(0), row.get(1));
        let store = if by_store {
            "t.store_id = (SELECT id FROM stores WHERE name = 'default')"
        } else {
            "true"
        };
        let count: i64 = client
            .query_one(
                &format!(
                    "SELECT count(*) FROM \"{table}\" t
                      WHERE {store} AND strpos(t::text, 'erin@example.com') > 0"
                ),
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if count > 0 {
            naming.push((table, count));
        }
    }
    naming
}
