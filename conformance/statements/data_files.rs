//! Every file under conformance/data/statements/{valid,invalid}, POSTed for each version
//! it lists. Failures are collected so one run reports all of them.

use std::path::PathBuf;

use serde_json::Value;
use uuid::Uuid;

use crate::common::*;

fn cases(kind: &str) -> Vec<(String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("conformance/data/statements")
        .join(kind);
    let mut cases: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let case: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                case,
            )
        })
        .collect();
    cases.sort_by(|a, b| a.0.cmp(&b.0));
    cases
}

fn versions(case: &Value) -> Vec<String> {
    case["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn data_files_valid_statements_are_stored_and_readable() {
    let app = spawn_app().await;
    let cases = cases("valid");
    assert!(cases.len() >= 15, "only {} valid cases", cases.len());
    let mut failures = Vec::new();
    for (name, case) in &cases {
        for version in versions(case) {
            let what = format!("{name} under {version} ({})", case["requirement"]);
            let response = post(&app, &version, &case["statement"]).await;
            let status = response.status().as_u16();
            let text = response.text().await.unwrap();
            if status != 200 {
                failures.push(format!("{what}: POST {status}: {text}"));
                continue;
            }
            let ids: Vec<Uuid> = match serde_json::from_str(&text) {
                Ok(ids) => ids,
                Err(e) => {
                    failures.push(format!("{what}: POST answer {text}: {e}"));
                    continue;
                }
            };
            let (status, stored) = get_statement(&app, &version, ids[0]).await;
            // A valid voiding Statement voids nothing here, so it is readable.
            if status != 200 {
                failures.push(format!("{what}: GET {status}: {stored}"));
                continue;
            }
            for key in ["id", "stored", "authority", "version", "timestamp"] {
                if stored.get(key).is_none() {
                    failures.push(format!("{what}: returned without {key}: {stored}"));
                }
            }
            if stored["id"].as_str() != Some(ids[0].to_string().as_str()) {
                failures.push(format!(
                    "{what}: returned id {} for {}",
                    stored["id"], ids[0]
                ));
            }
            if let Some(id) = case["statement"]["id"].as_str() {
                if id.to_ascii_lowercase() != ids[0].to_string() {
                    failures.push(format!("{what}: id {id} answered as {}", ids[0]));
                }
            }
            if version.starts_with("2.") {
                for key in ["timestamp", "stored"] {
                    if !stored[key].as_str().is_some_and(|t| t.ends_with('Z')) {
                        failures.push(format!("{what}: {key} not UTC: {}", stored[key]));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn data_files_invalid_statements_are_400_and_not_stored() {
    let app = spawn_app().await;
    let cases = cases("invalid");
    assert!(cases.len() >= 60, "only {} invalid cases", cases.len());
    let mut failures = Vec::new();
    for (name, case) in &cases {
        for version in versions(case) {
            let what = format!("{name} under {version} ({})", case["requirement"]);
            let response = post(&app, &version, &case["statement"]).await;
            let status = response.status().as_u16();
            let text = response.text().await.unwrap();
            if status != 400 {
                failures.push(format!("{what}: POST {status}: {text}"));
                continue;
            }
            let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let (Some(_code), Some(message)) = (
                body["error"]["code"].as_str(),
                body["error"]["message"].as_str(),
            ) else {
                failures.push(format!(
                    "{what}: error body not {{error:{{code,message}}}}: {text}"
                ));
                continue;
            };
            if !message.starts_with("statement") {
                failures.push(format!("{what}: message names no JSON path: {message}"));
            }
        }
    }
    let (_, stored) = get(&app, V2, "limit=0").await;
    if stored["statements"]
        .as_array()
        .is_none_or(|s| !s.is_empty())
    {
        failures.push(format!("invalid Statements were stored: {stored}"));
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
