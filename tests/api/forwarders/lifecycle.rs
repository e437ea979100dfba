//! Creating, listing, showing, pausing, resuming and deleting forwarders; where a new
//! forwarder starts; no secret in any output.

use commonplace::workload::Workload;
use serde_json::{json, Value};

use super::{
    list, ok, ok_json, post, refused, show, CLIENT_SECRET, COMPLETED, NOWHERE, PASSWORD,
    WEBHOOK_SECRET,
};
use crate::helpers::spawn_app;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarders_are_created_listed_shown_paused_resumed_and_deleted() {
    let app = spawn_app().await;
    let lrs = ok_json(
        &app,
        &[
            "create",
            "--name",
            "warehouse",
            "--kind",
            "xapi",
            "--endpoint",
            &format!("{NOWHERE}/"),
            "--username",
            // Credential keys may begin with a hyphen.
            "-source-lrs",
            "--password",
            PASSWORD,
            "--xapi-version",
            "2.0.0",
            "--verb",
            COMPLETED,
            "--activity-prefix",
            "https://courses.example.org/",
            "--actor",
            "mailto:ada@example.org",
            "--actor",
            r#"{"account": {"homePage": "https://id.example.org", "name": "bob"}}"#,
            "--actor",
            "mbox_sha1sum:EBD31E95054C018B10727CCFFD2EF2EC3A016EE9",
            "--mode",
            "directed",
            "--credential-tag",
            "team=sales",
            "--credential-tag",
            "team=ops",
            "--voiding",
            "--batch-size",
            "50",
        ],
    )
    .await;
    assert_eq!(lrs["name"], "warehouse");
    assert_eq!(lrs["kind"], "xapi");
    assert_eq!(lrs["store"], "default");
    // The endpoint without its trailing slash: requests go to `{url}/statements`.
    assert_eq!(lrs["url"], NOWHERE);
    assert_eq!(lrs["state"], "active");
    assert_eq!(lrs["xapi_version"], "2.0.0");
    for figure in ["delivered", "failed", "dead_lettered", "lag"] {
        assert_eq!(lrs[figure], 0, "{figure}: {lrs}");
    }
    assert_eq!(lrs["lag_seconds"], 0.0);
    assert_eq!(lrs["last_error"], Value::Null);
    assert!(lrs["created"].as_str().unwrap().starts_with("20"), "{lrs}");
    // Actors as the LRS files them; repeated tag keys as any of their values.
    assert_eq!(
        lrs["filter"],
        json!({
            "verbs": [COMPLETED],
            "activity_prefixes": ["https://courses.example.org/"],
            "actors": [
                "mbox:mailto:ada@example.org",
                "account:https://id.example.org|bob",
                "mbox_sha1sum:ebd31e95054c018b10727ccffd2ef2ec3a016ee9"
            ],
            "modes": ["directed"],
            "credential_tags": {"team": ["sales", "ops"]},
            "voiding": true
        })
    );

    let hook = ok_json(
        &app,
        &[
            "create",
            "--name",
            "automation",
            "--kind",
            "webhook",
            "--url",
            "http://127.0.0.1:9/hooks/lrs?team=ops",
            "--secret",
            WEBHOOK_SECRET,
        ],
    )
    .await;
    assert_eq!(hook["kind"], "webhook");
    assert_eq!(hook["url"], "http://127.0.0.1:9/hooks/lrs?team=ops");
    assert_eq!(hook["filter"], json!({}));
    assert_eq!(hook["xapi_version"], Value::Null);
    let oauth = ok_json(
        &app,
        &[
            "create",
            "--name",
            "vendor",
            "--kind",
            "xapi",
            "--endpoint",
            NOWHERE,
            "--token-url",
            "http://127.0.0.1:9/oauth/token",
            "--client-id",
            "commonplace",
            "--client-secret",
            CLIENT_SECRET,
            "--scope",
            "xapi:write",
        ],
    )
    .await;
    assert_eq!(oauth["xapi_version"], "1.0.3");

    let listed = list(&app).await;
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["automation", "vendor", "warehouse"]);
    let fields = [
        "name",
        "kind",
        "store",
        "url",
        "state",
        "delivered",
        "failed",
        "dead_lettered",
        "lag",
        "lag_seconds",
        "position",
        "filter",
        "xapi_version",
        "last_error",
        "created",
    ];
    for forwarder in listed.as_array().unwrap() {
        let keys: Vec<&str> = forwarder
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, fields, "{forwarder}");
    }
    let table = ok(&app, &["list"]).await;
    assert!(table.starts_with("NAME"), "{table}");
    for name in names {
        assert!(table.contains(name), "{table}");
    }

    let shown = show(&app, "warehouse").await;
    assert_eq!(shown["dead_letters"], json!([]));
    assert_eq!(shown["filter"], lrs["filter"]);
    let details = ok(&app, &["show", "warehouse"]).await;
    assert!(details.contains("dead letters: none"), "{details}");

    let paused = ok_json(&app, &["pause", "warehouse"]).await;
    assert_eq!(paused["state"], "paused");
    assert_eq!(show(&app, "warehouse").await["state"], "paused");
    assert_eq!(show(&app, "automation").await["state"], "active");
    let resumed = ok(&app, &["resume", "warehouse"]).await;
    assert!(resumed.contains("active"), "{resumed}");
    assert_eq!(show(&app, "warehouse").await["state"], "active");

    let deleted = ok_json(&app, &["delete", "automation"]).await;
    assert_eq!(deleted["name"], "automation");
    assert_eq!(list(&app).await.as_array().unwrap().len(), 2);
    for args in [
        &["show", "automation"][..],
        &["pause", "automation"],
        &["resume", "automation"],
        &["delete", "automation"],
        &["replay", "automation", "--dead-letters"],
    ] {
        let stderr = refused(&app, args, 1).await;
        assert!(
            stderr.contains("no forwarder named 'automation'"),
            "{args:?}: {stderr}"
        );
    }

    // The secrets are in the database, for the engine, and nowhere in any output.
    let client = app.pool.get().await.unwrap();
    let auth: Value = client
        .query_one("SELECT auth FROM forwarders WHERE name = 'warehouse'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        auth,
        json!({"username": "-source-lrs", "password": PASSWORD})
    );
    let auth: Value = client
        .query_one("SELECT auth FROM forwarders WHERE name = 'vendor'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(auth["client_secret"], CLIENT_SECRET);
    assert_eq!(auth["scope"], "xapi:write");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_forwarder_starts_after_what_is_stored_unless_from_start() {
    let app = spawn_app().await;
    let mut workload = Workload::new(7);
    post(&app, &workload.batch(3)).await;

    let from_now = ok_json(
        &app,
        &[
            "create",
            "--name",
            "new",
            "--kind",
            "xapi",
            "--endpoint",
            NOWHERE,
        ],
    )
    .await;
    assert_eq!(from_now["lag"], 0, "{from_now}");
    let newest: i64 = app
        .pool
        .get()
        .await
        .unwrap()
        .query_one("SELECT max(seq) FROM statements", &[])
        .await
        .unwrap()
        .get(0);
    assert!(
        from_now["position"].as_i64().unwrap() >= newest,
        "{from_now}"
    );
    let everything = ok_json(
        &app,
        &[
            "create",
            "--name",
            "all",
            "--kind",
            "xapi",
            "--endpoint",
            NOWHERE,
            "--from-start",
        ],
    )
    .await;
    assert_eq!(everything["position"], 0);
    assert_eq!(everything["lag"], 3, "{everything}");
    assert!(everything["lag_seconds"].as_f64().unwrap() > 0.0);

    // The target cannot be reached: what arrives now is lag of both.
    post(&app, &workload.batch(2)).await;
    assert_eq!(show(&app, "new").await["lag"], 2);
    assert_eq!(show(&app, "all").await["lag"], 5);
    let table = ok(&app, &["list"]).await;
    let line = table.lines().find(|l| l.starts_with("all ")).unwrap();
    assert_eq!(line.split_whitespace().nth(7), Some("5"), "{table}");
}
