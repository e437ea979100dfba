//! Communication §1.5.2 and Data §2.4.11: Statements with attachments.

use commonplace::xapi::multipart::{boundary_of, build_mixed, parse_mixed, Headers, Part};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::common::*;

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

pub fn attachment_meta(data: &[u8], content_type: &str) -> Value {
    json!({
        "usageType": "http://example.com/attachment-usage/test",
        "display": {"en-US": "A test attachment"},
        "contentType": content_type,
        "length": data.len(),
        "sha2": sha256_hex(data),
    })
}

pub fn part_headers(data: &[u8], content_type: &str) -> Headers {
    vec![
        ("Content-Type".into(), content_type.into()),
        ("Content-Transfer-Encoding".into(), "binary".into()),
        ("X-Experience-API-Hash".into(), sha256_hex(data)),
    ]
}

/// Sends `json` and `parts` as multipart/mixed.
pub async fn send_mixed(
    app: &TestApp,
    method: Method,
    path: &str,
    version: &str,
    json: &Value,
    parts: &[(Headers, Vec<u8>)],
) -> reqwest::Response {
    let boundary = "conformance-boundary-7f3a";
    let text = json.to_string();
    let mut all: Vec<(Headers, &[u8])> = vec![(
        vec![("Content-Type".into(), "application/json".into())],
        text.as_bytes(),
    )];
    for (headers, data) in parts {
        all.push((headers.clone(), data.as_slice()));
    }
    req(app, method, path, version)
        .header(
            "Content-Type",
            format!("multipart/mixed; boundary={boundary}"),
        )
        .body(build_mixed(boundary, &all))
        .send()
        .await
        .unwrap()
}

const DATA: &[u8] = b"here is a simple attachment\x00\xff\xfe binary";
const TEXT: &[u8] = b"a second, textual attachment";

/// GET /xapi/statements?`query`, which must answer 200 as multipart/mixed; its parts.
async fn get_mixed(app: &TestApp, version: &str, query: &str) -> Vec<Part> {
    let response = req(
        app,
        Method::GET,
        &format!("/xapi/statements?{query}"),
        version,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("multipart/mixed"),
        "{content_type}"
    );
    let boundary = boundary_of(&content_type).unwrap();
    parse_mixed(&response.bytes().await.unwrap(), &boundary).unwrap()
}

#[tokio::test]
async fn comm_1_5_2_multipart_round_trip_with_attachments_true() {
    let app = spawn_app().await;
    for version in VERSIONS {
        let mut s = statement("ada", "a");
        s["attachments"] = json!([
            attachment_meta(DATA, "application/octet-stream"),
            attachment_meta(TEXT, "text/plain")
        ]);
        let parts = vec![
            (
                part_headers(DATA, "application/octet-stream"),
                DATA.to_vec(),
            ),
            (part_headers(TEXT, "text/plain"), TEXT.to_vec()),
        ];
        let response =
            send_mixed(&app, Method::POST, "/xapi/statements", version, &s, &parts).await;
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_eq!(status, 200, "{version}: {body}");
        let ids: Vec<Uuid> = serde_json::from_str(&body).unwrap();

        for query in [
            format!("statementId={}&attachments=true", ids[0]),
            "attachments=true".to_string(),
        ] {
            let parts = get_mixed(&app, version, &query).await;
            assert_eq!(parts[0].media_type().as_deref(), Some("application/json"));
            let first: Value = serde_json::from_slice(&parts[0].body).unwrap();
            let statement = if first.get("statements").is_some() {
                first["statements"][0].clone()
            } else {
                first
            };
            assert_eq!(statement["attachments"][0]["sha2"], json!(sha256_hex(DATA)));
            let rest = &parts[1..];
            assert_eq!(rest.len(), 2, "{query}: one part per attachment");
            for (data, ct) in [(DATA, "application/octet-stream"), (TEXT, "text/plain")] {
                let part = rest
                    .iter()
                    .find(|p| p.header("x-experience-api-hash") == Some(&sha256_hex(data)))
                    .unwrap_or_else(|| panic!("no part for {ct}"));
                assert_eq!(part.body, data, "raw bytes returned unchanged");
                assert!(part.header("content-type").unwrap().starts_with(ct));
                assert_eq!(part.header("content-transfer-encoding"), Some("binary"));
            }
        }
        // Without attachments=true: plain JSON, no raw data.
        let (status, s) = get_statement(&app, version, ids[0]).await;
        assert_eq!(status, 200);
        assert_eq!(s["attachments"].as_array().unwrap().len(), 2);
    }
}

#[tokio::test]
async fn comm_1_5_2_put_multipart_works_too() {
    let app = spawn_app().await;
    let id = Uuid::new_v4();
    let mut s = statement("ada", "a");
    s["attachments"] = json!([attachment_meta(DATA, "application/octet-stream")]);
    let parts = vec![(
        part_headers(DATA, "application/octet-stream"),
        DATA.to_vec(),
    )];
    let response = send_mixed(
        &app,
        Method::PUT,
        &format!("/xapi/statements?statementId={id}"),
        V2,
        &s,
        &parts,
    )
    .await;
    assert_eq!(response.status(), 204);
}

#[tokio::test]
async fn comm_1_5_2_missing_attachment_part_is_400() {
    let app = spawn_app().await;
    for version in VERSIONS {
        let mut s = statement("ada", "a");
        s["attachments"] = json!([
            attachment_meta(DATA, "application/octet-stream"),
            attachment_meta(TEXT, "text/plain")
        ]);
        let parts = vec![(
            part_headers(DATA, "application/octet-stream"),
            DATA.to_vec(),
        )];
        let response =
            send_mixed(&app, Method::POST, "/xapi/statements", version, &s, &parts).await;
        assert_400(response, version).await;
        // And as plain JSON (no parts at all).
        assert_400(post(&app, version, &s).await, version).await;
    }
    assert_nothing_stored(&app, "missing part").await;
}

#[tokio::test]
async fn comm_1_5_2_extra_attachment_part_is_400() {
    let app = spawn_app().await;
    for version in VERSIONS {
        let mut s = statement("ada", "a");
        s["attachments"] = json!([attachment_meta(DATA, "application/octet-stream")]);
        let parts = vec![
            (
                part_headers(DATA, "application/octet-stream"),
                DATA.to_vec(),
            ),
            (part_headers(TEXT, "text/plain"), TEXT.to_vec()),
        ];
        let response =
            send_mixed(&app, Method::POST, "/xapi/statements", version, &s, &parts).await;
        assert_400(response, version).await;
        // Parts but no declared attachments at all.
        let parts = vec![(part_headers(TEXT, "text/plain"), TEXT.to_vec())];
        let response = send_mixed(
            &app,
            Method::POST,
            "/xapi/statements",
            version,
            &statement("ada", "a"),
            &parts,
        )
        .await;
        assert_400(response, version).await;
    }
    assert_nothing_stored(&app, "extra part").await;
}

#[tokio::test]
async fn comm_1_5_2_part_hash_mismatch_or_missing_headers_is_400() {
    let app = spawn_app().await;
    let mut s = statement("ada", "a");
    s["attachments"] = json!([attachment_meta(DATA, "application/octet-stream")]);
    let mut wrong_hash = part_headers(DATA, "application/octet-stream");
    wrong_hash[2].1 = sha256_hex(TEXT);
    let mut no_hash = part_headers(DATA, "application/octet-stream");
    no_hash.remove(2);
    let mut no_encoding = part_headers(DATA, "application/octet-stream");
    no_encoding.remove(1);
    for headers in [wrong_hash, no_hash, no_encoding] {
        let response = send_mixed(
            &app,
            Method::POST,
            "/xapi/statements",
            V2,
            &s,
            &[(headers.clone(), DATA.to_vec())],
        )
        .await;
        assert_400(response, &format!("{headers:?}")).await;
    }
    assert_nothing_stored(&app, "bad part headers").await;
}

#[tokio::test]
async fn comm_1_5_2_file_url_only_attachment_is_accepted_as_json_and_multipart() {
    let app = spawn_app().await;
    for version in VERSIONS {
        let mut s = statement("ada", "a");
        let mut meta = attachment_meta(DATA, "application/octet-stream");
        meta["fileUrl"] = json!("http://example.com/files/data.bin");
        s["attachments"] = json!([meta]);
        let id = post_one(&app, version, &s).await;
        assert_eq!(get_statement(&app, version, id).await.0, 200);
        let response = send_mixed(&app, Method::POST, "/xapi/statements", version, &s, &[]).await;
        assert_eq!(
            response.status(),
            200,
            "{version}: multipart with no attachment parts"
        );
        let parts = get_mixed(&app, version, &format!("statementId={id}&attachments=true")).await;
        assert_eq!(parts.len(), 1, "no raw part for a fileUrl-only attachment");
    }
}

#[tokio::test]
async fn comm_1_5_2_multipart_form_data_is_400() {
    let app = spawn_app().await;
    let boundary = "xyz";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"statement\"\r\nContent-Type: application/json\r\n\r\n{}\r\n--{boundary}--\r\n",
        statement("ada", "a")
    );
    for version in VERSIONS {
        let response = req(&app, Method::POST, "/xapi/statements", version)
            .header(
                "Content-Type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_400(response, version).await;
    }
    assert_nothing_stored(&app, "form-data").await;
}

#[tokio::test]
async fn comm_1_5_2_first_part_not_json_is_400() {
    let app = spawn_app().await;
    let s = statement("ada", "a").to_string();
    let parts: Vec<(Headers, &[u8])> = vec![(
        vec![("Content-Type".into(), "text/plain".into())],
        s.as_bytes(),
    )];
    let response = req(&app, Method::POST, "/xapi/statements", V2)
        .header("Content-Type", "multipart/mixed; boundary=b0undary")
        .body(build_mixed("b0undary", &parts))
        .send()
        .await
        .unwrap();
    assert_400(response, "text/plain first part").await;
}

#[tokio::test]
async fn comm_1_5_2_batch_attachments_shared_between_statements() {
    let app = spawn_app().await;
    let mut a = statement("ada", "a");
    a["attachments"] = json!([attachment_meta(DATA, "application/octet-stream")]);
    let mut b = statement("bob", "b");
    b["attachments"] = json!([
        attachment_meta(DATA, "application/octet-stream"),
        attachment_meta(TEXT, "text/plain")
    ]);
    let parts = vec![
        (
            part_headers(DATA, "application/octet-stream"),
            DATA.to_vec(),
        ),
        (part_headers(TEXT, "text/plain"), TEXT.to_vec()),
    ];
    let response = send_mixed(
        &app,
        Method::POST,
        "/xapi/statements",
        V2,
        &json!([a, b]),
        &parts,
    )
    .await;
    assert_eq!(response.status(), 200);
    let ids: Vec<Uuid> = response.json().await.unwrap();
    assert_eq!(ids.len(), 2);
    let parts = get_mixed(&app, V2, "attachments=true").await;
    assert_eq!(parts.len(), 3, "each attachment once: JSON + 2 parts");
}

#[tokio::test]
async fn comm_1_5_2_attachments_true_on_query_without_attachments_is_still_multipart() {
    let app = spawn_app().await;
    post_one(&app, V2, &statement("ada", "a")).await;
    let parts = get_mixed(&app, V2, "attachments=true").await;
    let first: Value = serde_json::from_slice(&parts[0].body).unwrap();
    assert_eq!(first["statements"].as_array().unwrap().len(), 1);
}
