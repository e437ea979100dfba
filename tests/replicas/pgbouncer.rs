//! PgBouncer 1.18 in front of the primary: the whole xAPI API and the reports through
//! it in session pooling mode, the mode the server requires; transaction and statement
//! pooling refused at start-up, before anything is written, with a message that says
//! what to change.

use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::cluster::{PoolMode, Replicated, DATABASE};
use crate::helpers::spawn_app_on;
use crate::server::refused;

fn statement(id: Uuid, n: usize) -> Value {
    json!({
        "id": id,
        "actor": {"mbox": format!("mailto:learner{}@example.org", n % 3)},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
        "object": {"id": format!("https://lms.example.org/course/lesson/{}", n % 4),
                   "definition": {"name": {"en-US": format!("lesson {}", n % 4)}}},
    })
}

async fn ok_json(response: reqwest::Response) -> Value {
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{status}: {text}");
    serde_json::from_str(&text).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_api_works_through_pgbouncer_in_session_mode() {
    let clusters = Replicated::start().await;
    let bouncer = clusters.bouncer(PoolMode::Session);
    let app = spawn_app_on(bouncer.url(DATABASE), |_| {}).await;
    let lms = app.tagged_writer("lms", &[("source", "lms")]).await;
    // The server's session settings reach PostgreSQL through the pooler.
    let pooled = app.pool.get().await.unwrap();
    let setting = pooled.query_one("SHOW plan_cache_mode", &[]).await.unwrap();
    assert_eq!(setting.get::<_, String>(0), "force_custom_plan");
    drop(pooled);

    // Statements: a batch POST, a PUT, then every one of them read back by paging `more`.
    let ids: Vec<Uuid> = (0..24).map(|_| Uuid::new_v4()).collect();
    let batch: Vec<Value> = ids
        .iter()
        .enumerate()
        .map(|(n, id)| statement(*id, n))
        .collect();
    let posted = app
        .xapi_as(&lms, Method::POST, "/xapi/statements")
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_eq!(ok_json(posted).await.as_array().unwrap().len(), ids.len());
    let put_id = Uuid::new_v4();
    let put = app
        .xapi_as(
            &lms,
            Method::PUT,
            &format!("/xapi/statements?statementId={put_id}"),
        )
        .json(&statement(put_id, 99))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 204, "{}", bouncer.log());
    let by_id = app
        .xapi(
            Method::GET,
            &format!("/xapi/statements?statementId={put_id}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(ok_json(by_id).await["id"], json!(put_id));

    let mut seen = Vec::new();
    let mut next = "/xapi/statements?limit=5".to_string();
    loop {
        let page = ok_json(app.xapi(Method::GET, &next).send().await.unwrap()).await;
        for s in page["statements"].as_array().unwrap() {
            seen.push(s["id"].as_str().unwrap().parse::<Uuid>().unwrap());
        }
        match page["more"].as_str() {
            Some(more) if !more.is_empty() => next = more.to_string(),
            _ => break,
        }
    }
    let mut expected = ids.clone();
    expected.push(put_id);
    expected.sort();
    seen.sort();
    assert_eq!(
        seen, expected,
        "every Statement exactly once across the pages"
    );

    // Documents: State (PUT, POST merge, GET, DELETE), Activity and Agent Profiles.
    let activity = "https://lms.example.org/course/lesson/0";
    let agent = r#"{"mbox":"mailto:learner0@example.org"}"#;
    let state = format!(
        "/xapi/activities/state?activityId={}&agent={}&stateId=bookmark",
        urlencode(activity),
        urlencode(agent)
    );
    let response = app
        .xapi(Method::PUT, &state)
        .json(&json!({"page": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let response = app
        .xapi(Method::POST, &state)
        .json(&json!({"seconds": 40}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let merged = ok_json(app.xapi(Method::GET, &state).send().await.unwrap()).await;
    assert_eq!(merged, json!({"page": 3, "seconds": 40}));
    let response = app.xapi(Method::DELETE, &state).send().await.unwrap();
    assert_eq!(response.status(), 204);
    let response = app.xapi(Method::GET, &state).send().await.unwrap();
    assert_eq!(response.status(), 404);

    for profile in [
        format!(
            "/xapi/activities/profile?activityId={}&profileId=notes",
            urlencode(activity)
        ),
        format!(
            "/xapi/agents/profile?agent={}&profileId=notes",
            urlencode(agent)
        ),
    ] {
        let response = app
            .xapi(Method::PUT, &profile)
            .header("If-None-Match", "*")
            .json(&json!({"note": "kept"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204, "PUT {profile}");
        let read = ok_json(app.xapi(Method::GET, &profile).send().await.unwrap()).await;
        assert_eq!(read, json!({"note": "kept"}), "GET {profile}");
    }

    // Activities and Agents, as the Statements defined them.
    let activity_path = format!("/xapi/activities?activityId={}", urlencode(activity));
    let definition = ok_json(app.xapi(Method::GET, &activity_path).send().await.unwrap()).await;
    assert_eq!(definition["definition"]["name"]["en-US"], "lesson 0");
    let person_path = format!("/xapi/agents?agent={}", urlencode(agent));
    let person = ok_json(app.xapi(Method::GET, &person_path).send().await.unwrap()).await;
    assert_eq!(person["mbox"], json!(["mailto:learner0@example.org"]));

    // Reports: the learning feed runs through the pooler too and counts every Statement.
    let report = ok_json(
        app.report("/reports/modes?group=store")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let counted: i64 = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["statements"].as_i64().unwrap())
        .sum();
    assert_eq!(counted, expected.len() as i64, "{report}");
}

fn urlencode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Transaction and statement pooling share sessions between the server's connections:
/// the server refuses to start, names the setting to change, and has written nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_and_statement_pooling_are_refused_at_start_up() {
    let clusters = Replicated::start().await;
    for mode in [PoolMode::Transaction, PoolMode::Statement] {
        let bouncer = clusters.bouncer(mode);
        let (status, output) = refused(&["--database-url", &bouncer.url(DATABASE)], &[]);
        assert!(!status.success(), "{mode:?}: {output}");
        assert!(
            output.contains("shares PostgreSQL sessions") && output.contains("pool_mode = session"),
            "{mode:?}: {output}"
        );
    }
    let db = clusters.primary.connect(DATABASE).await;
    let migrated: bool = db
        .query_one("SELECT to_regclass('statements') IS NOT NULL", &[])
        .await
        .unwrap()
        .get(0);
    assert!(
        !migrated,
        "a refused server must not have migrated the database"
    );
}
