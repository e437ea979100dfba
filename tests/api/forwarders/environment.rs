//! Secrets from `COMMONPLACE_FORWARDER_PASSWORD`, `…_CLIENT_SECRET` and `…_SECRET`: each
//! is used where the kind and the other flags call for it and ignored elsewhere, so
//! one shell with all three set creates forwarders of every kind; a flag of the other
//! kind given on the command line is still refused.

use serde_json::{json, Value};

use super::{
    assert_no_secret, forwarders_with_env, text, CLIENT_SECRET, NOWHERE, PASSWORD, WEBHOOK_SECRET,
};
use crate::helpers::{spawn_app, TestApp};

const ENV: [(&str, &str); 3] = [
    ("COMMONPLACE_FORWARDER_PASSWORD", PASSWORD),
    ("COMMONPLACE_FORWARDER_CLIENT_SECRET", CLIENT_SECRET),
    ("COMMONPLACE_FORWARDER_SECRET", WEBHOOK_SECRET),
];

/// `forwarders create --name NAME ARGS` with the three variables set: its exit code
/// and stderr, which holds no secret.
async fn create(app: &TestApp, name: &str, args: &[&str]) -> (Option<i32>, String) {
    let all = [&["create", "--name", name][..], args].concat();
    let output = forwarders_with_env(app, &all, &ENV).await;
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_no_secret(&format!("{stdout}{stderr}"));
    (output.status.code(), stderr)
}

/// What the database keeps as the forwarder's secrets.
async fn auth_of(app: &TestApp, name: &str) -> Value {
    let client = app.pool.get().await.unwrap();
    client
        .query_one("SELECT auth FROM forwarders WHERE name = $1", &[&name])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_from_the_environment_serve_only_the_kind_that_takes_them() {
    let app = spawn_app().await;
    let created = |(code, stderr): (Option<i32>, String)| {
        assert_eq!(code, Some(0), "{stderr}");
    };
    created(
        create(
            &app,
            "hook",
            &["--kind", "webhook", "--url", "http://127.0.0.1:9/hook"],
        )
        .await,
    );
    assert_eq!(
        auth_of(&app, "hook").await,
        json!({"secret": WEBHOOK_SECRET})
    );

    let xapi = ["--kind", "xapi", "--endpoint", NOWHERE];
    created(
        create(
            &app,
            "basic",
            &[&xapi[..], &["--username", "source-lrs"]].concat(),
        )
        .await,
    );
    assert_eq!(
        auth_of(&app, "basic").await,
        json!({"username": "source-lrs", "password": PASSWORD})
    );
    let oauth = [
        "--token-url",
        "http://127.0.0.1:9/token",
        "--client-id",
        "source-lrs",
    ];
    created(create(&app, "oauth", &[&xapi[..], &oauth].concat()).await);
    assert_eq!(
        auth_of(&app, "oauth").await,
        json!({
            "token_url": "http://127.0.0.1:9/token",
            "client_id": "source-lrs",
            "client_secret": CLIENT_SECRET
        })
    );
    created(create(&app, "open", &xapi).await);
    assert_eq!(auth_of(&app, "open").await, json!({}));

    // On the command line, a flag of the other kind is refused as ever.
    let (code, stderr) = create(
        &app,
        "refused",
        &[
            "--kind",
            "webhook",
            "--url",
            "http://127.0.0.1:9/hook",
            "--password",
            "typed-on-the-command-line",
        ],
    )
    .await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("--password is only for --kind xapi"),
        "{stderr}"
    );
    let (code, stderr) = create(&app, "refused", &[&xapi[..], &["--secret", "x"]].concat()).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("--secret is only for --kind webhook"),
        "{stderr}"
    );
}
