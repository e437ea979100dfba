//! A real JavaScript xAPI client (@xapi/xapi from npm, pinned in tests/js) used the
//! way course content, LMSs and dashboards use it, against the running server.

#[path = "api/helpers.rs"]
mod helpers;

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

/// Installs the pinned client once per test binary, however many tests ask at once.
fn install_client(js: &Path) {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        if !js.join("node_modules").exists() {
            let installed = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(js)
                .status()
                .expect("npm is needed for the JavaScript client test");
            assert!(installed.success(), "npm ci failed in {}", js.display());
        }
    });
}

/// Runs one script of tests/js against a fresh server; it exits non-zero on failure.
async fn run_script(name: &str) {
    let js = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js");
    install_client(&js);
    let app = helpers::spawn_app().await;
    let script = js.join(name);
    let endpoint = app.url("/xapi/");
    let (key, secret) = (app.key.clone(), app.secret.clone());
    // Blocking wait off the runtime, which keeps serving the client's requests.
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(script)
            .env("XAPI_ENDPOINT", endpoint)
            .env("XAPI_KEY", key)
            .env("XAPI_SECRET", secret)
            .output()
            .expect("node is needed for the JavaScript client test")
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "node failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn xapi_js_saves_reads_and_deletes_course_state() {
    run_script("state-roundtrip.js").await;
}

#[tokio::test]
async fn xapi_js_sends_pages_and_voids_statements() {
    run_script("statements-roundtrip.js").await;
}
