//! Statement comparison (Data §2.3.1, 2.0 §4.2.4 and notes §3/§5): used for same-id
//! conflicts and for checking a signed Statement against its JWS payload.
//!
//! Ignored, as exceptions to immutability: `id`, `stored`, `authority`, `version`,
//! `attachments`, a `timestamp` present on one side only, Verb `display`, every Activity
//! `definition`, the order of Group members, the case of `mailto:` and email domains, and
//! single-vs-array `contextActivities` values. Timestamps present on both sides are
//! compared as instants; durations are truncated to hundredths of a second (Data §4.6
//! and 2.0 §4.2.7, so for both versions); numbers compare by value (`1` equals `1.0`).
//! Everything else, extensions included, must match exactly. The rule is the same for
//! both versions, so a Statement compares alike whichever version sent it.

use serde_json::{Map, Value};

use super::format::map_context_agents;
use super::time::{duration_for_comparison, parse_timestamp};

const IGNORED_TOP_LEVEL: [&str; 6] = [
    "id",
    "stored",
    "authority",
    "version",
    "attachments",
    "timestamp",
];

pub fn equivalent(a: &Value, b: &Value) -> bool {
    let timestamps_agree = match (a.get("timestamp"), b.get("timestamp")) {
        (Some(x), Some(y)) => same_instant(x, y),
        _ => true,
    };
    let sub_timestamps_agree = match (
        a.get("object").and_then(|o| o.get("timestamp")),
        b.get("object").and_then(|o| o.get("timestamp")),
    ) {
        (Some(x), Some(y)) => same_instant(x, y),
        (None, None) => true,
        _ => false,
    };
    timestamps_agree
        && sub_timestamps_agree
        && same_value(
            &comparable_statement(a, true),
            &comparable_statement(b, true),
        )
}

fn same_instant(a: &Value, b: &Value) -> bool {
    match (
        a.as_str().and_then(parse_timestamp),
        b.as_str().and_then(parse_timestamp),
    ) {
        (Some(x), Some(y)) => x.instant == y.instant,
        _ => a == b,
    }
}

/// The Statement with every ignorable difference removed or normalised.
fn comparable_statement(statement: &Value, top_level: bool) -> Value {
    let Some(map) = statement.as_object() else {
        return statement.clone();
    };
    let mut out = Map::new();
    for (key, value) in map {
        if IGNORED_TOP_LEVEL.contains(&key.as_str())
            && (top_level || key == "timestamp" || key == "attachments")
        {
            continue;
        }
        let normalised = match key.as_str() {
            "actor" | "authority" => comparable_agent(value),
            "verb" => value
                .get("id")
                .map_or(Value::Null, |id| serde_json::json!({"id": id})),
            "object" => comparable_object(value),
            "result" => comparable_result(value),
            "context" => comparable_context(value),
            _ => value.clone(),
        };
        out.insert(key.clone(), normalised);
    }
    Value::Object(out)
}

fn comparable_object(object: &Value) -> Value {
    match object.get("objectType").and_then(Value::as_str) {
        None | Some("Activity") => comparable_activity(object),
        Some("Agent") | Some("Group") => comparable_agent(object),
        Some("SubStatement") => comparable_statement(object, false),
        _ => object.clone(),
    }
}

/// An Activity is its id (and objectType, defaulted), never its definition.
fn comparable_activity(activity: &Value) -> Value {
    serde_json::json!({"objectType": "Activity", "id": activity.get("id").cloned().unwrap_or(Value::Null)})
}

fn comparable_agent(agent: &Value) -> Value {
    let Some(map) = agent.as_object() else {
        return agent.clone();
    };
    let mut out = map.clone();
    if !out.contains_key("objectType") {
        out.insert("objectType".into(), Value::String("Agent".into()));
    }
    if let Some(Value::String(mbox)) = out.get_mut("mbox") {
        *mbox = normalise_mailto(mbox);
    }
    if let Some(Value::Array(members)) = out.get_mut("member") {
        let mut normalised: Vec<Value> = members.iter().map(comparable_agent).collect();
        normalised.sort_by_cached_key(|member| member.to_string());
        *members = normalised;
    }
    Value::Object(out)
}

/// `mailto:` scheme and the domain are case-insensitive; the local part is not.
fn normalise_mailto(mbox: &str) -> String {
    let Some((scheme, address)) = mbox.split_once(':') else {
        return mbox.to_string();
    };
    match address.rsplit_once('@') {
        Some((local, domain)) => format!(
            "{}:{local}@{}",
            scheme.to_ascii_lowercase(),
            domain.to_lowercase()
        ),
        None => mbox.to_string(),
    }
}

fn comparable_result(result: &Value) -> Value {
    let mut out = result.clone();
    if let Some(Value::String(duration)) = out.get_mut("duration") {
        *duration = duration_for_comparison(duration);
    }
    out
}

fn comparable_context(context: &Value) -> Value {
    let Some(map) = context.as_object() else {
        return context.clone();
    };
    let mut out = Map::new();
    for (key, value) in map {
        let normalised = match key.as_str() {
            "instructor" | "team" => comparable_agent(value),
            "contextActivities" => comparable_context_activities(value),
            "contextAgents" | "contextGroups" => map_context_agents(value, comparable_agent),
            _ => value.clone(),
        };
        out.insert(key.clone(), normalised);
    }
    Value::Object(out)
}

fn comparable_context_activities(value: &Value) -> Value {
    let Some(map) = value.as_object() else {
        return value.clone();
    };
    let out = map
        .iter()
        .map(|(key, activities)| {
            let list = match activities {
                Value::Array(list) => list.iter().map(comparable_activity).collect(),
                single => vec![comparable_activity(single)],
            };
            (key.clone(), Value::Array(list))
        })
        .collect();
    Value::Object(out)
}

/// Deep equality that treats numbers by value and objects as unordered maps.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_value(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(key, p)| y.get(key).is_some_and(|q| same_value(p, q)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Value {
        json!({
            "id": "fd41c918-b88b-4b20-a0a5-a4c32391aaa0",
            "actor": {"objectType": "Group", "name": "T", "member": [
                {"mbox": "mailto:a@Example.com"}, {"mbox": "mailto:b@example.com"}]},
            "verb": {"id": "http://x.org/v", "display": {"en-US": "did"}},
            "object": {"id": "http://x.org/a", "definition": {"name": {"en": "A"}}},
            "result": {"duration": "PT0.1237S", "score": {"raw": 1}},
            "context": {"contextActivities": {"parent": {"id": "http://x.org/p"}},
                        "extensions": {"http://x.org/e": [1, 2]}},
            "timestamp": "2023-05-04T12:00:00-05:00"
        })
    }

    fn eq(a: &Value, b: &Value) -> bool {
        equivalent(a, b)
    }

    #[test]
    fn ignores_the_immutability_exceptions() {
        let other = json!({
            "actor": {"member": [{"mbox": "mailto:b@example.com", "objectType": "Agent"},
                                 {"mbox": "MAILTO:a@example.COM"}], "name": "T", "objectType": "Group"},
            "verb": {"id": "http://x.org/v"},
            "object": {"objectType": "Activity", "id": "http://x.org/a"},
            "result": {"score": {"raw": 1.0}, "duration": "PT0.12S"},
            "context": {"extensions": {"http://x.org/e": [1, 2]},
                        "contextActivities": {"parent": [{"id": "http://x.org/p", "definition": {"type": "http://x.org/t"}}]}},
            "timestamp": "2023-05-04T17:00:00.000Z",
            "stored": "2023-05-04T17:00:01Z",
            "authority": {"mbox": "mailto:auth@x.org"},
            "version": "2.0.0",
            "attachments": []
        });
        assert!(eq(&base(), &other));
        let mut no_timestamp = other.clone();
        no_timestamp.as_object_mut().unwrap().remove("timestamp");
        assert!(eq(&base(), &no_timestamp));
    }

    #[test]
    fn detects_real_differences() {
        let change = |edit: &dyn Fn(&mut Value)| {
            let mut other = base();
            edit(&mut other);
            eq(&base(), &other)
        };
        assert!(!change(&|s| s["verb"]["id"] = json!("http://x.org/other")));
        assert!(!change(&|s| s["object"]["id"] = json!("http://x.org/b")));
        assert!(!change(
            &|s| s["actor"]["member"][0]["mbox"] = json!("mailto:A@example.com")
        ));
        assert!(!change(&|s| s["actor"]["name"] = json!("U")));
        assert!(!change(&|s| s["result"]["duration"] = json!("PT0.13S")));
        assert!(!change(&|s| s["result"]["score"]["raw"] = json!(2)));
        assert!(!change(
            &|s| s["timestamp"] = json!("2023-05-04T12:00:01-05:00")
        ));
        assert!(!change(
            &|s| s["context"]["extensions"]["http://x.org/e"] = json!([2, 1])
        ));
        assert!(!change(
            &|s| s["context"]["registration"] = json!("fd41c918-b88b-4b20-a0a5-a4c32391aaa0")
        ));
        assert!(!change(&|s| {
            s.as_object_mut().unwrap().remove("result");
        }));
    }

    #[test]
    fn compares_substatements_structurally() {
        let sub = |verb: &str, timestamp: &str| {
            json!({"actor": {"mbox": "mailto:a@x.org"}, "verb": {"id": "http://x.org/v"},
                   "object": {"objectType": "SubStatement", "actor": {"mbox": "mailto:b@x.org"},
                              "verb": {"id": verb, "display": {"en": "x"}}, "object": {"id": "http://x.org/a"},
                              "timestamp": timestamp}})
        };
        assert!(eq(
            &sub("http://x.org/w", "2023-01-01T00:00:00Z"),
            &sub("http://x.org/w", "2023-01-01T01:00:00+01:00")
        ));
        assert!(!eq(
            &sub("http://x.org/w", "2023-01-01T00:00:00Z"),
            &sub("http://x.org/y", "2023-01-01T00:00:00Z")
        ));
        assert!(!eq(
            &sub("http://x.org/w", "2023-01-01T00:00:00Z"),
            &sub("http://x.org/w", "2023-01-02T00:00:00Z")
        ));
    }
}
