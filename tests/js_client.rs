//! A real JavaScript xAPI client (@xapi/xapi from npm, pinned in tests/js) saving
//! and reading State the way course content does, against the running server.

#[path = "api/helpers.rs"]
mod helpers;

use std::path::Path;
use std::process::Command;

#[tokio::test]
async fn xapi_js_saves_reads_and_deletes_course_state() {
    let js = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js");
    if !js.join("node_modules").exists() {
        let installed = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&js)
            .status()
            .expect("npm is needed for the JavaScript client test");
        assert!(installed.success(), "npm ci failed in {}", js.display());
    }
    let app = helpers::spawn_app().await;
    let script = js.join("state-roundtrip.js");
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
