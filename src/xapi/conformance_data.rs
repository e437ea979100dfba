//! Runs every file under `conformance/data/statements/{valid,invalid}` through
//! `parse_statement` for each version the file lists. The directory comes from
//! `XAPI_CONFORMANCE_DATA` when set, else from this crate's manifest directory.

use std::path::PathBuf;

use serde_json::Value;

use super::statement::parse_statement;
use super::version::Version;

fn data_dir() -> PathBuf {
    std::env::var_os("XAPI_CONFORMANCE_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/conformance/data/statements"
            ))
        })
}

fn cases(kind: &str) -> Vec<(String, Value)> {
    let dir = data_dir().join(kind);
    let mut cases: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("reading {}: {error}", dir.display()))
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

fn versions(name: &str, case: &Value) -> Vec<Version> {
    let listed = case["versions"]
        .as_array()
        .unwrap_or_else(|| panic!("{name}: no versions"));
    assert!(case["requirement"].is_string(), "{name}: no requirement");
    listed
        .iter()
        .map(|v| {
            v.as_str()
                .unwrap()
                .parse()
                .unwrap_or_else(|_| panic!("{name}: bad version"))
        })
        .collect()
}

#[test]
fn valid_statements_are_accepted() {
    let cases = cases("valid");
    assert!(cases.len() >= 15, "only {} valid cases", cases.len());
    for (name, case) in cases {
        for version in versions(&name, &case) {
            if let Err(error) = parse_statement(case["statement"].clone(), version, "statement") {
                panic!("{name} under {version}: rejected: {error}");
            }
        }
    }
}

#[test]
fn invalid_statements_are_rejected() {
    let cases = cases("invalid");
    assert!(cases.len() >= 60, "only {} invalid cases", cases.len());
    for (name, case) in cases {
        for version in versions(&name, &case) {
            if let Ok(parsed) = parse_statement(case["statement"].clone(), version, "statement") {
                panic!("{name} under {version}: accepted: {}", parsed.body);
            }
        }
    }
}
