//! Rule matching, one signal at a time: each test builds a one-rule ruleset for the
//! signal, shows a Statement that carries it matches and one that lacks it does not.

use super::*;
use serde_json::json;

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn writer<'a>(tags: &'a BTreeMap<String, String>) -> Writer<'a> {
    Writer {
        store: "default",
        credential_key: "key-1",
        credential_name: "moodle",
        tags,
    }
}

/// A ruleset of one rule with this `match`, choosing `guided`.
fn only(condition: &str) -> Ruleset {
    Ruleset::parse(
        &format!("[[rule]]\nid = \"r\"\nmode = \"guided\"\nmatch = {{ {condition} }}\n"),
        "test",
    )
    .unwrap()
}

fn plain() -> Value {
    json!({
        "actor": {"mbox": "mailto:a@example.org"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
        "object": {"id": "https://www.example.org/page/1",
                   "definition": {"type": "http://activitystrea.ms/schema/1.0/article"}}
    })
}

fn matches(rules: &Ruleset, statement: &Value, tags: &BTreeMap<String, String>) -> bool {
    rules.classify(statement, &writer(tags)).rule.is_some()
}

#[test]
fn credential_tags_must_all_be_carried() {
    let rules = only(r#"credential_tags = { source = "lms", region = "eu" }"#);
    let s = plain();
    assert!(matches(
        &rules,
        &s,
        &tags(&[("source", "lms"), ("region", "eu")])
    ));
    assert!(!matches(&rules, &s, &tags(&[("source", "lms")])));
    assert!(!matches(
        &rules,
        &s,
        &tags(&[("source", "browser"), ("region", "eu")])
    ));
}

#[test]
fn store_names_the_writers_store() {
    let s = plain();
    let none = tags(&[]);
    assert!(matches(&only(r#"store = ["default"]"#), &s, &none));
    assert!(!matches(&only(r#"store = ["acme"]"#), &s, &none));
}

#[test]
fn verb_ids_match_exactly() {
    let none = tags(&[]);
    let rules = only(r#"verb = ["http://adlnet.gov/expapi/verbs/shared"]"#);
    let mut s = plain();
    assert!(!matches(&rules, &s, &none));
    s["verb"]["id"] = json!("http://adlnet.gov/expapi/verbs/shared");
    assert!(matches(&rules, &s, &none));
}

#[test]
fn object_type_prefix_and_host() {
    let none = tags(&[]);
    let s = plain();
    assert!(matches(
        &only(r#"object_type = ["http://activitystrea.ms/schema/1.0/article"]"#),
        &s,
        &none
    ));
    assert!(!matches(
        &only(r#"object_type = ["http://adlnet.gov/expapi/activities/course"]"#),
        &s,
        &none
    ));
    assert!(matches(
        &only(r#"object_id_prefix = ["https://www.example.org/page/"]"#),
        &s,
        &none
    ));
    assert!(!matches(
        &only(r#"object_id_prefix = ["https://example.org/"]"#),
        &s,
        &none
    ));
    assert!(matches(
        &only(r#"object_host = ["example.org"]"#),
        &s,
        &none
    ));
    assert!(!matches(&only(r#"object_host = ["ample.org"]"#), &s, &none));
}

#[test]
fn an_agent_object_has_no_activity_type_or_host() {
    let none = tags(&[]);
    let mut s = plain();
    s["object"] = json!({"objectType": "Agent", "mbox": "mailto:x@example.org"});
    assert!(!matches(
        &only(r#"object_host = ["example.org"]"#),
        &s,
        &none
    ));
}

#[test]
fn context_activities_by_role_type_and_id() {
    let none = tags(&[]);
    let mut s = plain();
    s["context"] = json!({"contextActivities": {
        "grouping": [{"id": "https://paths.example.org/p/7",
                      "definition": {"type": "https://commonplace.dev/xapi/activity-types/pathway"}}]
    }});
    let by_type =
        r#"context_activity = { type = ["https://commonplace.dev/xapi/activity-types/pathway"] }"#;
    assert!(matches(&only(by_type), &s, &none));
    let in_parent = r#"context_activity = { roles = ["parent"], type = ["https://commonplace.dev/xapi/activity-types/pathway"] }"#;
    assert!(!matches(&only(in_parent), &s, &none));
    let by_id = r#"context_activity = { roles = ["grouping"], id_prefix = ["https://paths.example.org/"] }"#;
    assert!(matches(&only(by_id), &s, &none));
    let wrong_id = r#"context_activity = { id_prefix = ["https://lms.example.org/"] }"#;
    assert!(!matches(&only(wrong_id), &s, &none));
}

#[test]
fn registration_present_or_absent() {
    let none = tags(&[]);
    let mut s = plain();
    assert!(matches(&only("registration = false"), &s, &none));
    assert!(!matches(&only("registration = true"), &s, &none));
    s["context"] = json!({"registration": "ec531277-b57b-4c15-8d91-d292c5b2b8f7"});
    assert!(matches(&only("registration = true"), &s, &none));
}

#[test]
fn platform_and_extension_keys() {
    let none = tags(&[]);
    let mut s = plain();
    let platform = only(r#"platform = ["Moodle"]"#);
    let extension = only(r#"extension = ["https://commonplace.dev/xapi/extensions/goal"]"#);
    assert!(!matches(&platform, &s, &none));
    assert!(!matches(&extension, &s, &none));
    s["context"] = json!({"platform": "Moodle",
        "extensions": {"https://commonplace.dev/xapi/extensions/goal": "https://goals.example.org/1"}});
    assert!(matches(&platform, &s, &none));
    assert!(matches(&extension, &s, &none));
    let mut in_result = plain();
    in_result["result"] =
        json!({"extensions": {"https://commonplace.dev/xapi/extensions/goal": 1}});
    assert!(matches(&extension, &in_result, &none));
}

#[test]
fn authority_is_the_writing_credential() {
    let none = tags(&[]);
    let s = plain();
    assert!(matches(&only(r#"authority = ["moodle"]"#), &s, &none));
    assert!(matches(&only(r#"authority = ["key-1"]"#), &s, &none));
    assert!(!matches(&only(r#"authority = ["other"]"#), &s, &none));
}

#[test]
fn all_conditions_of_a_rule_must_hold() {
    let none = tags(&[]);
    let rules = only(r#"object_host = ["example.org"], registration = true"#);
    assert!(!matches(&rules, &plain(), &none));
}

#[test]
fn the_first_matching_rule_wins_and_nothing_is_unclassified() {
    let rules = Ruleset::parse(
        r#"
        [[rule]]
        id = "first"
        mode = "self_directed"
        match = { object_host = ["example.org"] }
        [[rule]]
        id = "second"
        mode = "directed"
        match = { registration = false }
        "#,
        "t",
    )
    .unwrap();
    let none = tags(&[]);
    assert_eq!(
        rules.classify(&plain(), &writer(&none)),
        Label {
            mode: Mode::SelfDirected,
            rule: Some("first".into())
        }
    );
    let mut elsewhere = plain();
    elsewhere["object"]["id"] = json!("https://other.net/x");
    assert_eq!(
        rules.classify(&elsewhere, &writer(&none)).rule.as_deref(),
        Some("second")
    );
    elsewhere["context"] = json!({"registration": "ec531277-b57b-4c15-8d91-d292c5b2b8f7"});
    assert_eq!(
        rules.classify(&elsewhere, &writer(&none)),
        Label {
            mode: Mode::Unclassified,
            rule: None
        }
    );
}

#[test]
fn the_defaults_place_the_workload_and_a_goal_linked_read() {
    let rules = Ruleset::default_rules();
    let none = tags(&[]);
    let mut workload = crate::workload::Workload::new(5);
    for statement in workload.batch(200) {
        let label = rules.classify(&statement, &writer(&none));
        let expected = if statement["context"]["registration"].is_string() {
            Mode::Directed
        } else {
            Mode::SelfDirected
        };
        assert_eq!(label.mode, expected, "{statement}");
    }
    let mut read = plain();
    read["context"] = json!({"extensions": {
        "https://commonplace.dev/xapi/extensions/goal": "https://goals.example.org/g/1"}});
    let browser = tags(&[("source", "browser")]);
    assert_eq!(
        rules.classify(&read, &writer(&browser)).rule.as_deref(),
        Some("goal-extension")
    );
    assert_eq!(
        rules.classify(&plain(), &writer(&browser)).rule.as_deref(),
        Some("browser-credential")
    );
}

#[test]
fn hosts_are_read_from_iris() {
    assert_eq!(
        host_of("https://WWW.Example.org:8443/a?b").as_deref(),
        Some("www.example.org")
    );
    assert_eq!(
        host_of("http://user@host.net/x").as_deref(),
        Some("host.net")
    );
    assert_eq!(host_of("urn:isbn:123"), None);
    assert!(host_is("docs.example.org", "example.org"));
    assert!(!host_is("badexample.org", "example.org"));
}

const EXAMPLES: [(&str, &str, Mode); 5] = [
    (
        "set-goal",
        include_str!("profile/examples/set-goal.json"),
        Mode::SelfPlanned,
    ),
    (
        "link-activity-to-goal",
        include_str!("profile/examples/link-activity-to-goal.json"),
        Mode::SelfPlanned,
    ),
    (
        "visit-pathway-item",
        include_str!("profile/examples/visit-pathway-item.json"),
        Mode::Guided,
    ),
    (
        "read-web-page",
        include_str!("profile/examples/read-web-page.json"),
        Mode::SelfDirected,
    ),
    (
        "share-a-find",
        include_str!("profile/examples/share-a-find.json"),
        Mode::SelfDirected,
    ),
];

#[test]
fn the_readme_examples_are_valid_and_land_in_their_modes() {
    let rules = Ruleset::default_rules();
    let none = tags(&[]);
    for (name, text, mode) in EXAMPLES {
        let statement: Value = serde_json::from_str(text).unwrap();
        for version in [crate::xapi::Version::V1_0_3, crate::xapi::Version::V2_0_0] {
            crate::xapi::parse_statement(statement.clone(), version, "statement")
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        assert_eq!(
            rules.classify(&statement, &writer(&none)).mode,
            mode,
            "{name}"
        );
    }
}

/// Every Commonplace IRI the defaults and the examples use is defined in the profile.
#[test]
fn every_new_iri_is_defined_in_the_profile() {
    let profile: Value = serde_json::from_str(include_str!("profile/commonplace.jsonld")).unwrap();
    let defined: Vec<&str> = profile["concepts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    let mut texts: Vec<&str> = EXAMPLES.iter().map(|(_, text, _)| *text).collect();
    texts.push(ruleset::DEFAULT_RULESET);
    for text in texts {
        for (at, _) in text.match_indices("https://commonplace.dev/xapi/") {
            let iri: String = text[at..]
                .chars()
                .take_while(|c| !matches!(c, '"' | '\'' | ' ' | ',' | ']'))
                .collect();
            assert!(
                defined.contains(&iri.as_str()),
                "{iri} is not in the profile"
            );
        }
    }
}
