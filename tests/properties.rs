//! Property tests: validation never panics on arbitrary input, generated valid
//! Statements are accepted and round-trip through the HTTP API, and the `ids` and
//! `canonical` formats are idempotent.

#[path = "api/helpers.rs"]
mod helpers;

use commonplace::xapi::compare::equivalent;
use commonplace::xapi::format;
use commonplace::xapi::json::parse_json;
use commonplace::xapi::statement::parse_statements;
use commonplace::xapi::Version;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

const VERSIONS: [Version; 2] = [Version::V1_0_3, Version::V2_0_0];

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::String),
        // Strings an xAPI parser looks at closely.
        prop_oneof![
            Just("mailto:a@example.com"),
            Just("http://example.com/x"),
            Just("Agent"),
            Just("Group"),
            Just("Activity"),
            Just("SubStatement"),
            Just("StatementRef"),
            Just("2024-01-01T00:00:00Z"),
            Just("PT1H"),
            Just("en-US"),
            Just("5bd1c5a8-0c40-4b0e-8b9f-1c2d3e4f5a6b"),
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    let keys = prop_oneof![
        Just("actor".to_string()),
        Just("verb".to_string()),
        Just("object".to_string()),
        Just("id".to_string()),
        Just("objectType".to_string()),
        Just("mbox".to_string()),
        Just("member".to_string()),
        Just("definition".to_string()),
        Just("result".to_string()),
        Just("context".to_string()),
        Just("attachments".to_string()),
        Just("display".to_string()),
        Just("extensions".to_string()),
        Just("account".to_string()),
        Just("score".to_string()),
        "[a-zA-Z]{1,8}",
    ];
    leaf.prop_recursive(6, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((keys.clone(), inner), 0..8)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn agent() -> impl Strategy<Value = Value> {
    let name = "[A-Za-z][A-Za-z ]{0,10}";
    prop_oneof![
        ("[a-z]{1,8}", name).prop_map(|(local, name)| json!({
            "objectType": "Agent", "name": name, "mbox": format!("mailto:{local}@example.com")
        })),
        ("[a-z0-9]{1,12}", name).prop_map(|(account, name)| json!({
            "name": name,
            "account": {"homePage": "http://lms.example.com", "name": account}
        })),
        "[a-f0-9]{40}".prop_map(|sha| json!({"mbox_sha1sum": sha})),
        "[a-z]{1,8}".prop_map(|p| json!({"openid": format!("http://openid.example.com/{p}")})),
    ]
}

fn language_map() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(
        prop_oneof![Just("en-US"), Just("fr"), Just("de-DE"), Just("und")],
        "[A-Za-z ]{0,12}",
        1..3,
    )
    .prop_map(|m| json!(m))
}

fn activity() -> impl Strategy<Value = Value> {
    (
        "[a-z0-9]{1,10}",
        prop::option::of(language_map()),
        prop::option::of(language_map()),
    )
        .prop_map(|(path, name, description)| {
            let mut activity = json!({"objectType": "Activity",
                                      "id": format!("http://example.com/activities/{path}")});
            let mut definition = Map::new();
            if let Some(name) = name {
                definition.insert("name".into(), name);
            }
            if let Some(description) = description {
                definition.insert("description".into(), description);
            }
            if !definition.is_empty() {
                activity["definition"] = Value::Object(definition);
            }
            activity
        })
}

fn result() -> impl Strategy<Value = Value> {
    (
        prop::option::of(-100i32..=100),
        prop::option::of(any::<bool>()),
        prop::option::of(any::<bool>()),
        prop::option::of("[a-z ]{0,12}"),
    )
        .prop_map(|(scaled, success, completion, response)| {
            let mut result = Map::new();
            if let Some(scaled) = scaled {
                result.insert("score".into(), json!({"scaled": scaled as f64 / 100.0}));
            }
            if let Some(success) = success {
                result.insert("success".into(), json!(success));
            }
            if let Some(completion) = completion {
                result.insert("completion".into(), json!(completion));
            }
            if let Some(response) = response {
                result.insert("response".into(), json!(response));
            }
            Value::Object(result)
        })
}

/// Valid Statements, in the form the LRS keeps as sent (timestamps in UTC).
fn statement() -> impl Strategy<Value = Value> {
    (
        agent(),
        "[a-z]{1,10}",
        prop::option::of(language_map()),
        prop_oneof![
            activity(),
            agent().prop_map(|mut a| {
                a["objectType"] = json!("Agent");
                a
            })
        ],
        prop::option::of(result()),
        prop::option::of((any::<u128>(), prop::collection::vec(activity(), 1..3))),
        prop::option::of((2000i32..2030, 1u32..13, 1u32..29, 0u32..1000)),
    )
        .prop_map(
            |(actor, verb, display, object, result, context, timestamp)| {
                let mut statement = json!({"actor": actor,
                                       "verb": {"id": format!("http://example.com/verbs/{verb}")},
                                       "object": object});
                if let Some(display) = display {
                    statement["verb"]["display"] = display;
                }
                if let Some(result) = result {
                    statement["result"] = result;
                }
                if let Some((registration, parents)) = context {
                    statement["context"] = json!({
                        "registration": uuid::Builder::from_random_bytes(registration.to_le_bytes())
                            .into_uuid()
                            .hyphenated()
                            .to_string(),
                        "contextActivities": {"parent": parents},
                    });
                }
                if let Some((year, month, day, ms)) = timestamp {
                    statement["timestamp"] =
                        json!(format!("{year}-{month:02}-{day:02}T10:20:30.{ms:03}Z"));
                }
                statement
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parsing_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(value) = parse_json(&bytes, 64) {
            for version in VERSIONS {
                let _ = parse_statements(value.clone(), version);
            }
        }
    }

    #[test]
    fn validating_arbitrary_json_never_panics(value in arbitrary_json()) {
        for version in VERSIONS {
            let _ = parse_statements(value.clone(), version);
            let _ = parse_statements(json!({"actor": value.clone(),
                "verb": {"id": "http://example.com/v"}, "object": value.clone()}), version);
            let _ = parse_statements(json!([{"actor": {"mbox": "mailto:a@example.com"},
                "verb": {"id": "http://example.com/v"}, "object": {"id": "http://example.com/a"},
                "result": value.clone(), "context": value.clone()}]), version);
        }
        let text = value.to_string();
        let _ = parse_json(text.as_bytes(), 64);
        let _ = format::ids(&value);
        let _ = format::canonical(&value, &["en".to_string()], &|_| None);
    }

    #[test]
    fn generated_statements_are_valid_and_normalising_is_idempotent(s in statement()) {
        for version in VERSIONS {
            let parsed = parse_statements(s.clone(), version)
                .map_err(|e| TestCaseError::fail(format!("{e}: {s}")))?;
            let body = parsed[0].body.clone();
            prop_assert!(equivalent(&s, &body), "{} vs {}", s, body);
            let again = parse_statements(body.clone(), version).unwrap();
            prop_assert_eq!(&again[0].body, &body);
        }
    }

    #[test]
    fn ids_and_canonical_formats_are_idempotent(s in statement(), langs in prop::collection::vec(prop_oneof![Just("en"), Just("fr"), Just("de-DE"), Just("*")], 0..3)) {
        let langs: Vec<String> = langs.into_iter().map(String::from).collect();
        let ids = format::ids(&s);
        prop_assert_eq!(format::ids(&ids), ids.clone());
        let canonical = format::canonical(&s, &langs, &|_| None);
        prop_assert_eq!(format::canonical(&canonical, &langs, &|_| None), canonical.clone());
        // and the two commute where it matters: ids of canonical are the ids
        prop_assert_eq!(format::ids(&canonical), ids);
    }
}

/// Generated Statements stored through the API come back from `format=exact` as sent
/// plus the properties the LRS sets.
#[test]
fn generated_statements_round_trip_through_the_api() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let app = runtime.block_on(helpers::spawn_app());
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 48,
        ..ProptestConfig::default()
    });
    runner
        .run(&statement(), |sent| {
            let (status, returned) = runtime.block_on(async {
                let posted = app
                    .xapi(reqwest::Method::POST, "/xapi/statements")
                    .json(&sent)
                    .send()
                    .await
                    .unwrap();
                let status = posted.status().as_u16();
                let ids: Value = posted.json().await.unwrap();
                let id = ids[0].as_str().unwrap_or_default().to_string();
                let got: Value = app
                    .xapi(reqwest::Method::GET, "/xapi/statements")
                    .query(&[("statementId", id.as_str()), ("format", "exact")])
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                (status, got)
            });
            prop_assert_eq!(status, 200);
            let returned = returned.as_object().unwrap();
            for (key, value) in sent.as_object().unwrap() {
                prop_assert_eq!(returned.get(key), Some(value), "{}", key);
            }
            for lrs_set in ["id", "stored", "authority", "version", "timestamp"] {
                prop_assert!(returned.contains_key(lrs_set), "{}", lrs_set);
            }
            let extra: Vec<&String> = returned
                .keys()
                .filter(|k| !sent.as_object().unwrap().contains_key(*k))
                .filter(|k| {
                    !["id", "stored", "authority", "version", "timestamp"].contains(&k.as_str())
                })
                .collect();
            prop_assert!(extra.is_empty(), "{:?}", extra);
            Ok(())
        })
        .unwrap();
}
