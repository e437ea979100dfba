//! Builders shared by the limits and isolation tests.
#![allow(dead_code)]

use commonplace::xapi::multipart::{build_mixed, Headers};
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::helpers::TestApp;

pub fn statement(name: &str, activity: &str) -> Value {
    json!({
        "actor": {"objectType": "Agent", "name": name, "mbox": format!("mailto:{name}@example.com")},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced", "display": {"en-US": "experienced"}},
        "object": {"objectType": "Activity", "id": format!("http://example.com/activities/{activity}"),
                   "definition": {"name": {"en-US": activity}}},
    })
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// `statement` with one attachment declared per item of `data`.
pub fn with_attachments(mut statement: Value, data: &[&[u8]]) -> Value {
    statement["attachments"] = data
        .iter()
        .map(|d| {
            json!({
                "usageType": "http://example.com/attachment-usage/test",
                "display": {"en-US": "attachment"},
                "contentType": "application/octet-stream",
                "length": d.len(),
                "sha2": sha256_hex(d),
            })
        })
        .collect();
    statement
}

/// A request with this credential and xAPI 2.0.0.
pub fn request(
    app: &TestApp,
    key: &str,
    secret: &str,
    method: Method,
    path: &str,
) -> RequestBuilder {
    app.http
        .request(method, app.url(path))
        .basic_auth(key, Some(secret))
        .header("X-Experience-API-Version", "2.0.0")
}

/// `request` carrying `json` and one part per item of `data` as multipart/mixed.
pub fn mixed(builder: RequestBuilder, json: &Value, data: &[&[u8]]) -> RequestBuilder {
    let boundary = "support-boundary-41b7";
    let text = json.to_string();
    let mut all: Vec<(Headers, &[u8])> = vec![(
        vec![("Content-Type".into(), "application/json".into())],
        text.as_bytes(),
    )];
    for d in data {
        all.push((
            vec![
                ("Content-Type".into(), "application/octet-stream".into()),
                ("Content-Transfer-Encoding".into(), "binary".into()),
                ("X-Experience-API-Hash".into(), sha256_hex(d)),
            ],
            d,
        ));
    }
    builder
        .header(
            "Content-Type",
            format!("multipart/mixed; boundary={boundary}"),
        )
        .body(build_mixed(boundary, &all))
}
