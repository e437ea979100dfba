//! A credential of store B walks every route against the data of store A: nothing of
//! A is read, and nothing of A changes.

use commonplace::auth::Scope;
use commonplace::store::credentials;
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{spawn_app, TestApp};
use crate::support::{mixed, request, statement, with_attachments};

const SECRET_NAME: &str = "alice-of-store-a";
const ACTIVITY: &str = "http://example.com/activities/store-a-only";
const ATTACHMENT: &[u8] = b"store A's attachment bytes";

const MBOX: &str = "mailto:alice@example.com";

fn agent_param() -> String {
    json!({ "mbox": MBOX }).to_string()
}

/// A statement of A's person about A's activity, whose name and definition are
/// what must not leak (ids and mboxes are echoes of B's own queries).
fn of_a() -> Value {
    let mut s = statement("unused", "definition-name-of-store-a");
    s["actor"] = json!({"name": SECRET_NAME, "mbox": MBOX});
    s["object"]["id"] = json!(ACTIVITY);
    s
}

/// Everything of store A, as rows, to compare before and after B's walk.
async fn snapshot(app: &TestApp, store: i64) -> Vec<String> {
    let client = app.pool.get().await.unwrap();
    let queries = [
        "SELECT id::text || voided::text || body::text FROM statements WHERE store_id = $1 ORDER BY seq",
        "SELECT s.seq::text || s.terms::text FROM statements s WHERE s.store_id = $1 ORDER BY 1",
        "SELECT i.entry::text || i.term::text FROM statement_terms i
           JOIN statements s ON s.seq = i.entry >> 8 WHERE s.store_id = $1 ORDER BY 1",
        "SELECT id::text || key::text FROM terms WHERE store_id = $1 ORDER BY 1",
        "SELECT iri || definition::text FROM activities WHERE store_id = $1 ORDER BY 1",
        "SELECT ifi || array_to_string(names, ',') FROM agents WHERE store_id = $1 ORDER BY 1",
        "SELECT sha2 || encode(content, 'hex') FROM attachments WHERE store_id = $1 ORDER BY 1",
        "SELECT doc_id || etag || encode(content, 'hex') FROM documents WHERE store_id = $1 ORDER BY 1",
    ];
    let mut rows = Vec::new();
    for sql in queries {
        for row in client.query(sql, &[&store]).await.unwrap() {
            rows.push(row.get::<_, String>(0));
        }
    }
    rows
}

fn leaks(text: &str) -> bool {
    text.contains(SECRET_NAME)
        || text.contains("definition-name-of-store-a")
        || text.contains("store A's")
        || text.contains("content-of-a")
}

#[tokio::test]
async fn a_credential_of_another_store_reads_and_changes_nothing_of_it() {
    let app = spawn_app().await;
    let store_b = credentials::create_store(&app.pool, "b").await.unwrap();
    let b = app.credential("b", &[Scope::All]).await;
    let store_a = app.default_store_id().await;
    assert_ne!(store_a, store_b);

    // Store A: a statement with an attachment, a voided one, a few more, documents.
    let a = |method: Method, path: &str| request(&app, &app.key, &app.secret, method, path);
    let with_file = Uuid::new_v4();
    let voided = Uuid::new_v4();
    let mut first = with_attachments(of_a(), &[ATTACHMENT]);
    first["id"] = json!(with_file);
    let response = mixed(a(Method::POST, "/xapi/statements"), &first, &[ATTACHMENT])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let mut target = of_a();
    target["id"] = json!(voided);
    let voiding = json!({
        "actor": {"mbox": MBOX},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
        "object": {"objectType": "StatementRef", "id": voided},
    });
    let more: Vec<Value> = (0..3)
        .map(|_| statement(SECRET_NAME, "store-a-only"))
        .collect();
    for body in [json!([target, voiding]), json!(more)] {
        let r = a(Method::POST, "/xapi/statements")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }
    let agent = agent_param();
    let documents: Vec<(String, Vec<(&str, String)>)> = vec![
        (
            "/xapi/activities/state".into(),
            vec![("activityId", ACTIVITY.into()), ("agent", agent.clone())],
        ),
        (
            "/xapi/activities/profile".into(),
            vec![("activityId", ACTIVITY.into())],
        ),
        (
            "/xapi/agents/profile".into(),
            vec![("agent", agent.clone())],
        ),
    ];
    let mut etags = Vec::new();
    for (path, context) in &documents {
        let mut query = context.clone();
        query.push(("stateId", "doc-of-a".into()));
        let query: Vec<(&str, String)> = query
            .into_iter()
            .map(|(k, v)| match (k, path.as_str()) {
                ("stateId", p) if !p.ends_with("state") => ("profileId", v),
                other => (other.0, v),
            })
            .collect();
        let r = a(Method::PUT, path)
            .query(&query)
            .header("If-None-Match", "*")
            .json(&json!({"secret": "content-of-a"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204, "{path}: {}", r.text().await.unwrap());
        let got = a(Method::GET, path).query(&query).send().await.unwrap();
        assert_eq!(got.status(), 200);
        etags.push(got.headers()["etag"].to_str().unwrap().to_string());
    }
    let page = a(Method::GET, "/xapi/statements?limit=1")
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let more_link = page["more"].as_str().unwrap().to_string();
    assert!(!more_link.is_empty());
    let before = snapshot(&app, store_a).await;
    assert!(before.iter().any(|row| row.contains(SECRET_NAME)));

    // Store B's credential walks every route.
    let b_req = |method: Method, path: &str| request(&app, &b.key, &b.secret, method, path);
    let mut reads: Vec<(String, reqwest::RequestBuilder)> = vec![
        (
            "all statements".into(),
            b_req(Method::GET, "/xapi/statements"),
        ),
        (
            "by id".into(),
            b_req(Method::GET, "/xapi/statements").query(&[("statementId", with_file.to_string())]),
        ),
        (
            "by id with attachments".into(),
            b_req(Method::GET, "/xapi/statements").query(&[
                ("statementId", with_file.to_string()),
                ("attachments", "true".into()),
            ]),
        ),
        (
            "voided by id".into(),
            b_req(Method::GET, "/xapi/statements")
                .query(&[("voidedStatementId", voided.to_string())]),
        ),
        (
            "by agent".into(),
            b_req(Method::GET, "/xapi/statements").query(&[("agent", agent.clone())]),
        ),
        (
            "by activity, related, attachments".into(),
            b_req(Method::GET, "/xapi/statements").query(&[
                ("activity", ACTIVITY),
                ("related_activities", "true"),
                ("attachments", "true"),
            ]),
        ),
        ("A's more link".into(), b_req(Method::GET, &more_link)),
        (
            "activity".into(),
            b_req(Method::GET, "/xapi/activities").query(&[("activityId", ACTIVITY)]),
        ),
        (
            "agent".into(),
            b_req(Method::GET, "/xapi/agents").query(&[("agent", agent.clone())]),
        ),
    ];
    for (path, context) in &documents {
        let id_name = if path.ends_with("state") {
            "stateId"
        } else {
            "profileId"
        };
        let mut one = context.clone();
        one.push((id_name, "doc-of-a".into()));
        reads.push((format!("{path} one"), b_req(Method::GET, path).query(&one)));
        reads.push((
            format!("{path} ids"),
            b_req(Method::GET, path).query(context),
        ));
    }
    for (what, builder) in reads {
        let response = builder.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert!(status < 500, "{what}: {status} {text}");
        assert!(!leaks(&text), "{what} leaks store A's data: {text}");
        if what.starts_with("by id") || what.starts_with("voided") || what.ends_with(" one") {
            assert_eq!(status, 404, "{what}: {text}");
        }
        if what == "A's more link" {
            assert_eq!(status, 400, "{what}: {text}");
        }
    }

    // Writes: statements under A's ids, voiding A's statement, using A's attachment,
    // documents at A's addresses with A's ETags, deletes.
    let mut clash = statement("bob", "b-only");
    clash["id"] = json!(with_file);
    let r = b_req(Method::PUT, "/xapi/statements")
        .query(&[("statementId", with_file.to_string())])
        .json(&clash)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        204,
        "B's own store has no statement {with_file}"
    );
    let void_a = json!({
        "actor": {"mbox": "mailto:bob@example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
        "object": {"objectType": "StatementRef", "id": with_file},
    });
    let borrowing = with_attachments(statement("bob", "b-only"), &[ATTACHMENT]);
    for body in [json!([void_a]), json!(borrowing)] {
        let r = b_req(Method::POST, "/xapi/statements")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().as_u16() < 500);
        assert!(!leaks(&r.text().await.unwrap()));
    }
    for ((path, context), etag) in documents.iter().zip(&etags) {
        let id_name = if path.ends_with("state") {
            "stateId"
        } else {
            "profileId"
        };
        let mut one = context.clone();
        one.push((id_name, "doc-of-a".into()));
        let r = b_req(Method::PUT, path)
            .query(&one)
            .header("If-Match", etag.as_str())
            .json(&json!({"from": "b"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 412, "{path}: A's ETag means nothing in store B");
        let r = b_req(Method::POST, path)
            .query(&one)
            .json(&json!({"from": "b"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204, "{path}: creates B's own document");
        let r = b_req(Method::DELETE, path)
            .query(&one)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204, "{path}");
        if path.ends_with("state") {
            let r = b_req(Method::DELETE, path)
                .query(context)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 204, "{path} (all)");
        }
    }

    assert_eq!(snapshot(&app, store_a).await, before, "store A changed");
    let a_view = a(Method::GET, "/xapi/statements")
        .query(&[("statementId", with_file.to_string())])
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        a_view["actor"]["name"], SECRET_NAME,
        "A still sees its statement"
    );
}
