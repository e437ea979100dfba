//! Real JavaScript xAPI clients (from npm, pinned in tests/js) used the way course
//! content, LMSs and dashboards use them, against the running server: @xapi/xapi under
//! Node, and tincanjs in headless Chromium on a page of another origin, so the
//! browser's own CORS checks stand between the content and the LRS.

#[path = "api/helpers.rs"]
mod helpers;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::Command;

use serde_json::Value;

use helpers::{install_js_packages, js_dir};

/// Runs one script of tests/js against a fresh server; it exits non-zero on failure.
async fn run_script(name: &str) {
    let js = js_dir();
    install_js_packages();
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

/// Serves `page` at `/` and tincanjs's browser build at `/tincan-min.js` from an origin
/// of its own (another port than the LRS), as a content server hosts a course.
fn serve_course_content(page: String, library: Vec<u8>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut request = Vec::new();
            let mut buffer = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buffer[..n]),
                }
            }
            let head = String::from_utf8_lossy(&request);
            let path = head.split_whitespace().nth(1).unwrap_or("/");
            let (status, content_type, body) = match path {
                "/" => ("200 OK", "text/html; charset=utf-8", page.as_bytes()),
                "/tincan-min.js" => ("200 OK", "application/javascript", library.as_slice()),
                _ => ("404 Not Found", "text/plain", &b"not found"[..]),
            };
            let header = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n",
                body.len()
            );
            let _ = stream
                .write_all(header.as_bytes())
                .and_then(|()| stream.write_all(body));
        }
    });
    address
}

#[tokio::test]
async fn tincanjs_in_a_browser_on_another_origin_records_and_resumes() {
    let js = js_dir();
    install_js_packages();
    let app = helpers::spawn_app().await;
    let registration = "3c6f9a2e-8d41-4b7a-9e05-7f2d1c4b6a80";
    let page = std::fs::read_to_string(js.join("tincan-page.html"))
        .unwrap()
        .replace("%ENDPOINT%", &app.url("/xapi/"))
        .replace("%KEY%", &app.key)
        .replace("%SECRET%", &app.secret)
        .replace("%REGISTRATION%", registration);
    let library = std::fs::read(js.join("node_modules/tincanjs/build/tincan-min.js")).unwrap();
    let content = serve_course_content(page, library);
    let page_url = format!("http://{content}/");
    assert_ne!(
        reqwest::Url::parse(&page_url).unwrap().origin(),
        reqwest::Url::parse(&app.url("/xapi/")).unwrap().origin()
    );

    let output = helpers::chromium(vec!["--dump-dom".into(), page_url]).await;
    let dom = String::from_utf8_lossy(&output.stdout);
    let json = dom
        .split("<pre id=\"result\">")
        .nth(1)
        .and_then(|rest| rest.split("</pre>").next())
        .unwrap_or_else(|| panic!("no result on the page: {dom}"))
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">");
    let result: Value = serde_json::from_str(&json).unwrap();
    assert!(result.get("error").is_none(), "{result}");

    // tincanjs speaks 1.0.x, so it is told the 1.0.x versions.
    assert_eq!(
        result["versions"],
        serde_json::json!(["1.0.0", "1.0.1", "1.0.2", "1.0.3"])
    );
    let id = result["statementId"].as_str().unwrap();
    assert_eq!(result["readBack"], id);
    assert_eq!(result["queried"], serde_json::json!([id]));
    assert_eq!(
        result["bookmark"],
        serde_json::json!({"page": 7, "answers": {"q1": "b"}})
    );
    assert!(result["etag"].as_str().unwrap().starts_with('"'));

    // What the browser sent is stored, under the page's credential.
    let by_id = format!("/xapi/statements?statementId={id}");
    let response = app.xapi(reqwest::Method::GET, &by_id).send().await;
    let stored: Value = response.unwrap().json().await.unwrap();
    assert_eq!(stored["context"]["registration"], registration);
    assert_eq!(stored["result"]["score"]["scaled"], 0.8);
    assert!(stored["authority"].is_object(), "{stored}");
}
