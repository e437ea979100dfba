//! `commonplace forwarders …`: the management plane of forwarding, through the real
//! binary against the test app's database (the app's delivery engine runs meanwhile):
//! creating, listing, showing, pausing, resuming and deleting (`lifecycle`), replaying
//! (`replay`), refusing bad input (`refusals`), secrets from the environment
//! (`environment`), the per-forwarder series of `/metrics` (`metrics`), and what
//! erasing a person takes from forwarders (`erasure`). Delivery itself is tested in
//! `tests/forwarding/`.
//!
//! Unless a test needs deliveries, its forwarders point at a closed port: nothing is
//! ever delivered, so a position only moves when a command moves it.

mod environment;
mod erasure;
mod lifecycle;
mod metrics;
mod refusals;
mod replay;

use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, TestApp};

/// Where forwarders that must never deliver point: nothing listens on the discard port.
pub(super) const NOWHERE: &str = "http://127.0.0.1:9/xapi";
pub(super) const PASSWORD: &str = "target-password-2f8d41c09b7e4a55";
pub(super) const CLIENT_SECRET: &str = "oauth-client-secret-93c1d0e7aa42";
pub(super) const WEBHOOK_SECRET: &str = "whsec-management-5e0b9d3c71fa46d2";
pub(super) const COMPLETED: &str = "http://adlnet.gov/expapi/verbs/completed";

/// `commonplace forwarders ARGS --database-url …`, off the async threads (the app's
/// engine may hold the row the command waits for).
pub(super) async fn forwarders(app: &TestApp, args: &[&str]) -> Output {
    forwarders_with_env(app, args, &[]).await
}

/// The same with these environment variables set for the command.
pub(super) async fn forwarders_with_env(
    app: &TestApp,
    args: &[&str],
    env: &[(&str, &str)],
) -> Output {
    let mut all = vec!["forwarders"];
    all.extend_from_slice(args);
    commonplace(app, &all, env).await
}

/// `commonplace ARGS --database-url …` with these environment variables, off the async
/// threads (the app's engine may hold a row the command waits for).
pub(super) async fn commonplace(app: &TestApp, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    all.extend(["--database-url".to_string(), app.database_url.clone()]);
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_commonplace"))
            .args(&all)
            .envs(env)
            .output()
            .expect("run commonplace")
    })
    .await
    .unwrap()
}

pub(super) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A command that must succeed: its stdout. Its whole output (stderr's log included)
/// must hold no secret.
pub(super) async fn ok(app: &TestApp, args: &[&str]) -> String {
    let output = forwarders(app, args).await;
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(output.status.success(), "{args:?}: {stderr}");
    assert_no_secret(&format!("{stdout}{stderr}"));
    stdout
}

/// A command with `--json` that must succeed: its JSON.
pub(super) async fn ok_json(app: &TestApp, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = ok(app, &all).await;
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// A command that must fail with `code`: its stderr, which must hold no secret.
pub(super) async fn refused(app: &TestApp, args: &[&str], code: i32) -> String {
    let output = forwarders(app, args).await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(code), "{args:?}: {stderr}");
    assert_eq!(text(&output.stdout), "", "{args:?}");
    assert_no_secret(&stderr);
    stderr
}

pub(super) fn assert_no_secret(output: &str) {
    for secret in [PASSWORD, CLIENT_SECRET, WEBHOOK_SECRET] {
        assert!(!output.contains(secret), "a secret printed: {output}");
    }
}

/// A target stricter than the source (it refuses JSON nested deeper than 16 levels), and
/// a forwarder `strict` from `source` to it, created with `extra` arguments too.
pub(super) async fn strict_target(source: &TestApp, extra: &[&str]) -> TestApp {
    let target = spawn_app_with(|settings| settings.limits.max_json_depth = 16).await;
    let endpoint = format!("http://{}/xapi", target.address);
    let mut args = vec![
        "create",
        "--name",
        "strict",
        "--kind",
        "xapi",
        "--endpoint",
        &endpoint,
        "--username",
        &target.key,
        "--password",
        &target.secret,
    ];
    args.extend_from_slice(extra);
    ok(source, &args).await;
    target
}

/// Makes `statement` one the strict target refuses: a result extension nested 24 deep.
pub(super) fn too_deep_for_the_target(statement: &mut Value) {
    let mut deep = json!("bottom");
    for _ in 0..24 {
        deep = json!([deep]);
    }
    statement["result"] = json!({"extensions": {"https://example.org/ext/deep": deep}});
}

pub(super) async fn list(app: &TestApp) -> Value {
    ok_json(app, &["list"]).await
}

pub(super) async fn show(app: &TestApp, name: &str) -> Value {
    ok_json(app, &["show", name]).await
}

/// Posts these Statements in one request (one `stored`).
pub(super) async fn post(app: &TestApp, statements: &[Value]) {
    let response = app
        .xapi(reqwest::Method::POST, "/xapi/statements")
        .json(statements)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

/// Polls `check` (every 100 ms, up to a minute) until it holds for `what`; panics with
/// the last value seen otherwise.
pub(super) async fn eventually<F, Fut>(what: &str, mut check: F) -> Value
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = (bool, Value)>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (done, seen) = check().await;
        if done {
            return seen;
        }
        assert!(Instant::now() < deadline, "{what}: last seen {seen}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
