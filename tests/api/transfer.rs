//! `commonplace export` / `import`: a store survives the round trip, re-importing adds
//! nothing, and an interrupted import resumes where it stopped.

use std::collections::BTreeSet;
use std::path::Path;

use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{connect, fresh_database, spawn_app};
use crate::support::{mixed, request, statement, with_attachments};

fn cli(args: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_commonplace"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Everything that must survive: bodies without `stored`, voided flags, credentials,
/// index rows by statement id and term key (ids are the database's own), attachments.
async fn contents(db: &tokio_postgres::Client) -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    for sql in [
        "SELECT id::text || voided::text || credential || (body::jsonb - 'stored')::text FROM statements",
        "SELECT s.id::text || (i.entry & 255)::text || t.key::text FROM statement_terms i
           JOIN statements s ON s.seq = i.entry >> 8 JOIN terms t ON t.id = i.term",
        "SELECT sha2 || content_type || encode(content, 'hex') FROM attachments",
        "SELECT iri || definition::text FROM activities",
    ] {
        for row in db.query(sql, &[]).await.unwrap() {
            all.insert(row.get::<_, String>(0));
        }
    }
    all
}

async fn import(file: &Path, url: &str) -> String {
    cli(&["import", file.to_str().unwrap(), "--database-url", url])
}

#[tokio::test]
async fn a_store_round_trips_through_export_and_import() {
    let app = spawn_app().await;
    let data: &[u8] = b"an exported attachment";
    let first = Uuid::new_v4();
    let mut with_file = with_attachments(statement("ann", "export"), &[data]);
    with_file["id"] = json!(first);
    let r = mixed(
        request(
            &app,
            &app.key,
            &app.secret,
            Method::POST,
            "/xapi/statements",
        ),
        &with_file,
        &[data],
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let voided = Uuid::new_v4();
    let mut target = statement("ben", "export");
    target["id"] = json!(voided);
    let mut batch = vec![
        target,
        json!({"actor": {"mbox": "mailto:admin@example.com"},
               "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
               "object": {"objectType": "StatementRef", "id": voided}}),
        json!({"actor": {"mbox": "mailto:cat@example.com"},
               "verb": {"id": "http://example.com/verbs/liked"},
               "object": {"objectType": "StatementRef", "id": first}}),
    ];
    batch.extend((0..40).map(|n| statement(&format!("p{n}"), &format!("a{}", n % 5))));
    let r = app
        .xapi(Method::POST, "/xapi/statements")
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let other = app
        .credential("default", &[commonplace::auth::Scope::All])
        .await;
    let r = request(
        &app,
        &other.key,
        &other.secret,
        Method::POST,
        "/xapi/statements",
    )
    .json(&statement("dan", "other-credential"))
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("store.ndjson");
    cli(&[
        "export",
        "--store",
        "default",
        "--output",
        file.to_str().unwrap(),
        "--database-url",
        &app.database_url,
    ]);
    let lines = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        lines.lines().count(),
        1 + 1 + 45,
        "header, attachment, statements"
    );

    let source = contents(&connect(&app.database_url).await).await;
    let url = fresh_database().await;
    let said = import(&file, &url).await;
    assert!(
        said.contains("imported 45 statements and 1 attachments"),
        "{said}"
    );
    let db = connect(&url).await;
    assert_eq!(contents(&db).await, source);
    let again = import(&file, &url).await;
    assert!(again.contains("imported 45"), "{again}");
    assert_eq!(contents(&db).await, source, "re-importing changes nothing");
    let count: i64 = db
        .query_one("SELECT count(*) FROM statements", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 45);

    // Resume: a progress file left at the start of the 11th statement line.
    let offset: usize = lines.lines().take(12).map(|l| l.len() + 1).sum();
    std::fs::write(dir.path().join("store.ndjson.progress"), offset.to_string()).unwrap();
    let url = fresh_database().await;
    let said = import(&file, &url).await;
    assert!(
        said.contains(&format!("resumed at byte {offset}")),
        "{said}"
    );
    assert!(!dir.path().join("store.ndjson.progress").exists());
    let db = connect(&url).await;
    let ids: BTreeSet<String> = db
        .query("SELECT id::text FROM statements", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let expected: BTreeSet<String> = lines
        .lines()
        .skip(12)
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["statement"]["id"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(ids, expected);
}
