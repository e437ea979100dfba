//! What a credential bound to a learner may do on /xapi/: write only as the learner,
//! read and void only its own Statements, keep only the learner's documents.

use reqwest::Method;
use serde_json::{json, Value};

use super::{enrolled, get_statements_as, mbox, operator, post_as, read, voiding, with_roster};
use crate::helpers::{basic_authorization, error_of, spawn_app};

#[tokio::test]
async fn a_bound_credential_writes_only_as_its_learner() {
    let app = spawn_app().await;
    with_roster(&app).await;
    let bound = enrolled(&app, "mailto:ada@example.org").await;
    let before = app.stored_statements().await;

    let batch = json!([
        read(mbox("ada@example.org"), "https://news.example.net/a"),
        read(mbox("bob@example.org"), "https://news.example.net/b"),
    ]);
    let refused = post_as(&app, &bound, &batch).await;
    let (status, error, message) = error_of(refused).await;
    assert_eq!((status, error.as_str()), (403, "forbidden"));
    assert!(message.starts_with("statement[1].actor"), "{message}");
    assert_eq!(app.stored_statements().await, before, "nothing was stored");

    let id = uuid::Uuid::new_v4();
    let put = app
        .xapi_as(
            &bound,
            Method::PUT,
            &format!("/xapi/statements?statementId={id}"),
        )
        .json(&read(mbox("bob@example.org"), "https://news.example.net/b"))
        .send()
        .await
        .unwrap();
    let (status, _, message) = error_of(put).await;
    assert_eq!(status, 403);
    assert!(message.starts_with("statement.actor"), "{message}");

    // A Group under the learner's IFI with another learner as a member: the plain
    // `agent` filter would list it as that member's Statement.
    let group = json!({"objectType": "Group", "mbox": "mailto:ada@example.org",
                       "member": [mbox("bob@example.org")]});
    let refused = post_as(
        &app,
        &bound,
        &json!([read(group, "https://news.example.net/b")]),
    )
    .await;
    let (status, _, message) = error_of(refused).await;
    assert_eq!(status, 403);
    assert!(
        message.starts_with("statement[0].actor: mbox:mailto:bob@example.org"),
        "{message}"
    );
    assert_eq!(app.stored_statements().await, before, "nothing was stored");

    // The learner's roster alias is the learner.
    let alias = json!({"account": {"homePage": "https://hr.example.org", "name": "77"}});
    let accepted = post_as(
        &app,
        &bound,
        &json!([
            read(mbox("ada@example.org"), "https://news.example.net/a"),
            read(alias, "https://news.example.net/c"),
        ]),
    )
    .await;
    assert_eq!(accepted.status(), 200);
    assert_eq!(app.stored_statements().await, before + 2);
}

#[tokio::test]
async fn a_bound_credential_reads_and_voids_only_its_own_statements() {
    let app = spawn_app().await;
    let bound = enrolled(&app, "mailto:ada@example.org").await;
    // Another credential's Statement, even about the same learner.
    let theirs: Vec<String> = post_as(
        &app,
        &operator(&app),
        &read(mbox("ada@example.org"), "https://lms.example.org/course"),
    )
    .await
    .json()
    .await
    .unwrap();
    let mine: Vec<String> = post_as(
        &app,
        &bound,
        &read(mbox("ada@example.org"), "https://news.example.net/a"),
    )
    .await
    .json()
    .await
    .unwrap();

    let one = get_statements_as(&app, &bound, &format!("statementId={}", theirs[0])).await;
    assert_eq!(one.status(), 404);
    let all: Value = get_statements_as(&app, &bound, "")
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = all["statements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [mine[0].as_str()]);

    let void = |target: &str| voiding(mbox("ada@example.org"), target);
    let refused = post_as(&app, &bound, &json!([void(&theirs[0])])).await;
    let (status, error, message) = error_of(refused).await;
    assert_eq!((status, error.as_str()), (403, "forbidden"));
    assert!(message.starts_with("statement[0].object.id"), "{message}");
    let voided = post_as(&app, &bound, &void(&mine[0])).await;
    assert_eq!(voided.status(), 200);
    let gone = get_statements_as(&app, &operator(&app), &format!("statementId={}", mine[0])).await;
    assert_eq!(gone.status(), 404, "the learner's own Statement was voided");
}

#[tokio::test]
async fn resending_another_credentials_statement_does_not_let_a_bound_credential_void_it() {
    let app = spawn_app().await;
    let bound = enrolled(&app, "mailto:ada@example.org").await;
    // An LMS's Statement about the learner, whose body the learner can see (a course
    // in the browser sends it).
    let id = uuid::Uuid::new_v4().to_string();
    let mut theirs = read(
        mbox("ada@example.org"),
        "https://lms.example.org/failed-quiz",
    );
    theirs["id"] = json!(id);
    let stored = post_as(&app, &operator(&app), &theirs).await;
    assert_eq!(stored.status(), 200);

    // The same Statement again (accepted as already stored) and a voiding of it.
    let void = voiding(mbox("ada@example.org"), &id);
    let refused = post_as(&app, &bound, &json!([theirs, void])).await;
    let (status, error, message) = error_of(refused).await;
    assert_eq!((status, error.as_str()), (403, "forbidden"));
    assert!(message.starts_with("statement[1].object.id"), "{message}");
    let still_there = get_statements_as(&app, &operator(&app), &format!("statementId={id}")).await;
    assert_eq!(
        still_there.status(),
        200,
        "the LMS's Statement is not voided"
    );

    // A Statement of its own sent with its voiding in one batch is still allowed.
    let own = uuid::Uuid::new_v4().to_string();
    let mut mine = read(mbox("ada@example.org"), "https://news.example.net/a");
    mine["id"] = json!(own);
    let void_own = voiding(mbox("ada@example.org"), &own);
    let accepted = post_as(&app, &bound, &json!([mine, void_own])).await;
    assert_eq!(accepted.status(), 200);
}

#[tokio::test]
async fn a_bound_credential_keeps_documents_of_its_own_agent_only() {
    let app = spawn_app().await;
    with_roster(&app).await;
    let bound = enrolled(&app, "mailto:ada@example.org").await;
    let state_url = |agent: &Value| {
        format!(
            "/xapi/activities/state?{}",
            serde_urlencoded::to_string([
                ("activityId", "https://commonplace.dev/capture"),
                ("agent", &agent.to_string()),
                ("stateId", "outbox"),
            ])
            .unwrap()
        )
    };
    let profile_url = |agent: &Value| {
        format!(
            "/xapi/agents/profile?{}",
            serde_urlencoded::to_string([
                ("agent", agent.to_string().as_str()),
                ("profileId", "prefs")
            ])
            .unwrap()
        )
    };
    let send = |method: Method, url: String| {
        app.xapi_as(&bound, method, &url)
            .header("content-type", "application/json")
            .body(r#"{"paused": false}"#)
            .send()
    };
    let ada = mbox("ada@example.org");
    let bob = mbox("bob@example.org");
    let alias = json!({"account": {"homePage": "https://hr.example.org", "name": "77"}});

    for url in [state_url(&bob), profile_url(&bob)] {
        let (status, error, message) =
            error_of(send(Method::PUT, url.clone()).await.unwrap()).await;
        assert_eq!((status, error.as_str()), (403, "forbidden"), "{url}");
        assert!(message.contains("mailto:bob@example.org"), "{message}");
        let read = app.xapi_as(&bound, Method::GET, &url).send().await.unwrap();
        assert_eq!(read.status(), 403, "{url}");
    }
    for url in [state_url(&ada), profile_url(&ada), state_url(&alias)] {
        assert_eq!(
            send(Method::PUT, url.clone()).await.unwrap().status(),
            204,
            "{url}"
        );
        let read = app.xapi_as(&bound, Method::GET, &url).send().await.unwrap();
        assert_eq!(read.status(), 200, "{url}");
        assert_eq!(
            read.json::<Value>().await.unwrap(),
            json!({"paused": false})
        );
    }
    let activity_profile = format!(
        "/xapi/activities/profile?{}",
        serde_urlencoded::to_string([
            ("activityId", "https://commonplace.dev/capture"),
            ("profileId", "shared")
        ])
        .unwrap()
    );
    let (status, error, _) = error_of(send(Method::PUT, activity_profile).await.unwrap()).await;
    assert_eq!((status, error.as_str()), (403, "forbidden"));
}

#[tokio::test]
async fn the_alternate_request_syntax_and_head_are_held_to_the_same_rules() {
    let app = spawn_app().await;
    let bound = enrolled(&app, "mailto:ada@example.org").await;
    let authorization = basic_authorization(&bound.key, &bound.secret);
    // `POST path?method=…` with everything, the credential included, in the form.
    let alternate = |method: &str, path: &str, fields: &[(&str, &str)]| {
        let mut form = vec![
            ("Authorization", authorization.as_str()),
            ("X-Experience-API-Version", "1.0.3"),
        ];
        form.extend_from_slice(fields);
        app.http
            .post(app.url(&format!("{path}?method={method}")))
            .form(&form)
            .send()
    };
    let before = app.stored_statements().await;
    let bob = mbox("bob@example.org").to_string();
    let id = uuid::Uuid::new_v4().to_string();
    let content = read(mbox("bob@example.org"), "https://news.example.net/b").to_string();
    let put = alternate(
        "PUT",
        "/xapi/statements",
        &[
            ("Content-Type", "application/json"),
            ("statementId", &id),
            ("content", &content),
        ],
    )
    .await
    .unwrap();
    let (status, error, message) = error_of(put).await;
    assert_eq!((status, error.as_str()), (403, "forbidden"), "{message}");
    assert!(message.starts_with("statement.actor"), "{message}");
    assert_eq!(app.stored_statements().await, before, "nothing was stored");

    let state = [
        ("activityId", "https://commonplace.dev/capture"),
        ("agent", bob.as_str()),
        ("stateId", "outbox"),
    ];
    let alternate_get = alternate("GET", "/xapi/activities/state", &state)
        .await
        .unwrap();
    let (status, error, message) = error_of(alternate_get).await;
    assert_eq!((status, error.as_str()), (403, "forbidden"), "{message}");
    let head = app
        .xapi_as(
            &bound,
            Method::HEAD,
            &format!(
                "/xapi/activities/state?{}",
                serde_urlencoded::to_string(state).unwrap()
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 403);
}
