//! The `format` parameter of GET /statements (Communication §2.1.3, 2.0 notes §7).

use serde_json::{json, Map, Value};

const IFI_KEYS: [&str; 4] = ["mbox", "mbox_sha1sum", "openid", "account"];

/// `format=ids`: Activities become `{"objectType":"Activity","id"}`, Verbs `{"id"}`,
/// Agents and identified Groups their objectType and IFI, anonymous Groups their
/// objectType and members' IFIs — everywhere, SubStatements and context included.
pub fn ids(statement: &Value) -> Value {
    let Some(map) = statement.as_object() else {
        return statement.clone();
    };
    let mut out = Map::with_capacity(map.len());
    for (key, value) in map {
        let reduced = match key.as_str() {
            "actor" | "authority" => agent_ids(value),
            "verb" => json!({"id": value.get("id").cloned().unwrap_or(Value::Null)}),
            "object" => object_ids(value),
            "context" => context_ids(value),
            _ => value.clone(),
        };
        out.insert(key.clone(), reduced);
    }
    Value::Object(out)
}

fn object_ids(object: &Value) -> Value {
    match object.get("objectType").and_then(Value::as_str) {
        None | Some("Activity") => activity_ids(object),
        Some("Agent") | Some("Group") => agent_ids(object),
        Some("SubStatement") => ids(object),
        _ => object.clone(),
    }
}

fn activity_ids(activity: &Value) -> Value {
    json!({"objectType": "Activity", "id": activity.get("id").cloned().unwrap_or(Value::Null)})
}

fn agent_ids(agent: &Value) -> Value {
    let Some(map) = agent.as_object() else {
        return agent.clone();
    };
    let object_type = map
        .get("objectType")
        .cloned()
        .unwrap_or_else(|| json!("Agent"));
    let mut out = Map::new();
    out.insert("objectType".into(), object_type);
    let mut identified = false;
    for key in IFI_KEYS {
        if let Some(value) = map.get(key) {
            out.insert(key.into(), value.clone());
            identified = true;
        }
    }
    if !identified {
        if let Some(Value::Array(members)) = map.get("member") {
            out.insert(
                "member".into(),
                Value::Array(members.iter().map(agent_ids).collect()),
            );
        }
    }
    Value::Object(out)
}

fn context_ids(context: &Value) -> Value {
    let Some(map) = context.as_object() else {
        return context.clone();
    };
    let mut out = Map::with_capacity(map.len());
    for (key, value) in map {
        let reduced = match key.as_str() {
            "instructor" | "team" => agent_ids(value),
            "contextActivities" => map_context_activities(value, activity_ids),
            "contextAgents" | "contextGroups" => map_context_agents(value, agent_ids),
            _ => value.clone(),
        };
        out.insert(key.clone(), reduced);
    }
    Value::Object(out)
}

fn map_context_activities(value: &Value, each: impl Fn(&Value) -> Value) -> Value {
    let Some(map) = value.as_object() else {
        return value.clone();
    };
    let out = map
        .iter()
        .map(|(key, activities)| {
            let mapped = match activities {
                Value::Array(list) => Value::Array(list.iter().map(&each).collect()),
                single => each(single),
            };
            (key.clone(), mapped)
        })
        .collect();
    Value::Object(out)
}

/// Applies `each` to the agent or group of every contextAgents/contextGroups entry.
pub(super) fn map_context_agents(value: &Value, each: impl Fn(&Value) -> Value) -> Value {
    let Some(entries) = value.as_array() else {
        return value.clone();
    };
    let out = entries
        .iter()
        .map(|entry| {
            let mut entry = entry.clone();
            for key in ["agent", "group"] {
                if let Some(agent) = entry.get_mut(key) {
                    *agent = each(agent);
                }
            }
            entry
        })
        .collect();
    Value::Array(out)
}

/// `format=canonical`: each Activity gets the LRS's canonical definition (when
/// `canonical_definition` knows one), then every language map — Verb display, Activity
/// name/description, interaction components, attachment display/description — is cut
/// down to the single entry that best fits `accept_language` (see [`pick_language`]).
/// Agents and Groups are returned as in `exact`.
pub fn canonical(
    statement: &Value,
    accept_language: &[String],
    canonical_definition: &dyn Fn(&str) -> Option<Value>,
) -> Value {
    let mut out = statement.clone();
    canonicalise_statement(&mut out, accept_language, canonical_definition);
    out
}

fn canonicalise_statement(
    statement: &mut Value,
    accept_language: &[String],
    canonical_definition: &dyn Fn(&str) -> Option<Value>,
) {
    if let Some(display) = statement
        .get_mut("verb")
        .and_then(|verb| verb.get_mut("display"))
    {
        reduce_language_map(display, accept_language);
    }
    if let Some(object) = statement.get_mut("object") {
        match object.get("objectType").and_then(Value::as_str) {
            None | Some("Activity") => {
                canonicalise_activity(object, accept_language, canonical_definition)
            }
            Some("SubStatement") => {
                canonicalise_statement(object, accept_language, canonical_definition)
            }
            _ => {}
        }
    }
    let context_activities = statement
        .get_mut("context")
        .and_then(|context| context.get_mut("contextActivities"))
        .and_then(Value::as_object_mut);
    if let Some(context_activities) = context_activities {
        for activities in context_activities.values_mut() {
            match activities {
                Value::Array(list) => list.iter_mut().for_each(|activity| {
                    canonicalise_activity(activity, accept_language, canonical_definition)
                }),
                single => canonicalise_activity(single, accept_language, canonical_definition),
            }
        }
    }
    if let Some(Value::Array(attachments)) = statement.get_mut("attachments") {
        for attachment in attachments {
            for key in ["display", "description"] {
                if let Some(map) = attachment.get_mut(key) {
                    reduce_language_map(map, accept_language);
                }
            }
        }
    }
}

fn canonicalise_activity(
    activity: &mut Value,
    accept_language: &[String],
    canonical_definition: &dyn Fn(&str) -> Option<Value>,
) {
    let Some(map) = activity.as_object_mut() else {
        return;
    };
    if let Some(definition) = map
        .get("id")
        .and_then(Value::as_str)
        .and_then(canonical_definition)
    {
        map.insert("definition".into(), definition);
    }
    let Some(definition) = map.get_mut("definition").and_then(Value::as_object_mut) else {
        return;
    };
    for key in ["name", "description"] {
        if let Some(language_map) = definition.get_mut(key) {
            reduce_language_map(language_map, accept_language);
        }
    }
    for list in ["choices", "scale", "source", "target", "steps"] {
        if let Some(Value::Array(components)) = definition.get_mut(list) {
            for component in components {
                if let Some(description) = component.get_mut("description") {
                    reduce_language_map(description, accept_language);
                }
            }
        }
    }
}

fn reduce_language_map(value: &mut Value, accept_language: &[String]) {
    let Some(map) = value.as_object_mut() else {
        return;
    };
    if map.len() <= 1 {
        return;
    }
    if let Some(tag) = pick_language(map, accept_language).map(str::to_string) {
        map.retain(|key, _| *key == tag);
    }
}

/// Chooses the key of `map` for the client's preferences: for each preferred range in
/// order, an exact (case-insensitive) match, then a key the range is a prefix of
/// (`en` → `en-US`, RFC 2616 §14.4), then a key with the same primary subtag
/// (`en-GB` → `en-US`); `*` takes the first key. With no match, the first key.
pub fn pick_language<'m>(
    map: &'m Map<String, Value>,
    accept_language: &[String],
) -> Option<&'m str> {
    let keys = || map.keys().map(String::as_str);
    for range in accept_language {
        if range == "*" {
            break;
        }
        let range_lower = range.to_ascii_lowercase();
        let primary = range_lower.split('-').next().unwrap_or("");
        let exact = keys().find(|key| key.eq_ignore_ascii_case(range));
        let prefixed = || {
            keys().find(|key| {
                let key = key.to_ascii_lowercase();
                key.starts_with(&range_lower)
                    && key.as_bytes().get(range_lower.len()) == Some(&b'-')
            })
        };
        let same_primary = || {
            keys().find(|key| {
                key.split('-')
                    .next()
                    .is_some_and(|p| p.eq_ignore_ascii_case(primary))
            })
        };
        if let Some(key) = exact.or_else(prefixed).or_else(same_primary) {
            return Some(key);
        }
    }
    keys().next()
}

/// Parses an `Accept-Language` header into language ranges ordered by descending
/// quality (stable for equal q); ranges with `q=0` are dropped.
pub fn parse_accept_language(header: &str) -> Vec<String> {
    let mut ranges: Vec<(f32, String)> = header
        .split(',')
        .filter_map(|part| {
            let mut pieces = part.split(';');
            let range = pieces.next()?.trim();
            if range.is_empty() {
                return None;
            }
            let quality = pieces
                .filter_map(|param| param.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            (quality > 0.0).then(|| (quality, range.to_string()))
        })
        .collect();
    ranges.sort_by(|a, b| b.0.total_cmp(&a.0));
    ranges.into_iter().map(|(_, range)| range).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statement() -> Value {
        json!({
            "id": "fd41c918-b88b-4b20-a0a5-a4c32391aaa0",
            "actor": {"objectType": "Group", "name": "T", "member": [
                {"name": "A", "mbox": "mailto:a@x.org"},
                {"name": "B", "account": {"homePage": "http://x.org", "name": "b"}}]},
            "verb": {"id": "http://x.org/v", "display": {"en-US": "did", "fr": "a fait", "en-GB": "did (GB)"}},
            "object": {"objectType": "SubStatement",
                       "actor": {"name": "C", "openid": "http://x.org/c"},
                       "verb": {"id": "http://x.org/w", "display": {"en": "w"}},
                       "object": {"id": "http://x.org/s", "definition": {"name": {"en": "S", "de": "S-de"}}}},
            "context": {"instructor": {"objectType": "Group", "name": "I", "mbox": "mailto:i@x.org",
                                        "member": [{"mbox": "mailto:m@x.org"}]},
                        "contextActivities": {"parent": [{"id": "http://x.org/p", "definition": {"name": {"en": "P"}}}]},
                        "contextAgents": [{"objectType": "contextAgent", "agent": {"name": "D", "mbox": "mailto:d@x.org"}}]},
            "authority": {"name": "Auth", "mbox": "mailto:auth@x.org"},
            "result": {"success": true},
            "stored": "2023-01-01T00:00:00.000Z"
        })
    }

    #[test]
    fn ids_format_strips_to_identifiers() {
        let reduced = ids(&statement());
        assert_eq!(
            reduced["actor"],
            json!({"objectType": "Group", "member": [
            {"objectType": "Agent", "mbox": "mailto:a@x.org"},
            {"objectType": "Agent", "account": {"homePage": "http://x.org", "name": "b"}}]})
        );
        assert_eq!(reduced["verb"], json!({"id": "http://x.org/v"}));
        assert_eq!(
            reduced["object"]["actor"],
            json!({"objectType": "Agent", "openid": "http://x.org/c"})
        );
        assert_eq!(reduced["object"]["verb"], json!({"id": "http://x.org/w"}));
        assert_eq!(
            reduced["object"]["object"],
            json!({"objectType": "Activity", "id": "http://x.org/s"})
        );
        assert_eq!(
            reduced["context"]["instructor"],
            json!({"objectType": "Group", "mbox": "mailto:i@x.org"})
        );
        assert_eq!(
            reduced["context"]["contextActivities"]["parent"],
            json!([{"objectType": "Activity", "id": "http://x.org/p"}])
        );
        assert_eq!(
            reduced["context"]["contextAgents"][0]["agent"],
            json!({"objectType": "Agent", "mbox": "mailto:d@x.org"})
        );
        assert_eq!(
            reduced["authority"],
            json!({"objectType": "Agent", "mbox": "mailto:auth@x.org"})
        );
        assert_eq!(reduced["result"], json!({"success": true}));
        assert_eq!(reduced["id"], statement()["id"]);
    }

    #[test]
    fn canonical_format_picks_one_language_and_canonical_definitions() {
        let known = |id: &str| {
            (id == "http://x.org/p").then(
                || json!({"name": {"en": "Parent", "fr": "Parent-fr"}, "type": "http://x.org/t"}),
            )
        };
        let out = canonical(&statement(), &["en-GB".to_string()], &known);
        assert_eq!(out["verb"]["display"], json!({"en-GB": "did (GB)"}));
        assert_eq!(
            out["object"]["object"]["definition"]["name"],
            json!({"en": "S"})
        );
        assert_eq!(
            out["context"]["contextActivities"]["parent"][0]["definition"],
            json!({"name": {"en": "Parent"}, "type": "http://x.org/t"})
        );
        assert_eq!(out["actor"], statement()["actor"]);
        let french = canonical(&statement(), &["fr-CA".to_string()], &|_| None);
        assert_eq!(french["verb"]["display"], json!({"fr": "a fait"}));
        let none = canonical(&statement(), &[], &|_| None);
        assert_eq!(none["verb"]["display"], json!({"en-US": "did"}));
    }

    #[test]
    fn language_picking_rules() {
        let map = json!({"en-US": 1, "en-GB": 2, "de": 3});
        let map = map.as_object().unwrap();
        let pick = |prefs: &[&str]| {
            let prefs: Vec<String> = prefs.iter().map(|p| p.to_string()).collect();
            pick_language(map, &prefs).map(str::to_string)
        };
        assert_eq!(pick(&["en-gb"]).as_deref(), Some("en-GB"));
        assert_eq!(pick(&["en"]).as_deref(), Some("en-US"));
        assert_eq!(pick(&["de-AT"]).as_deref(), Some("de"));
        assert_eq!(pick(&["ja", "de"]).as_deref(), Some("de"));
        assert_eq!(pick(&["ja"]).as_deref(), Some("en-US"));
        assert_eq!(pick(&["*"]).as_deref(), Some("en-US"));
    }

    #[test]
    fn accept_language_is_ordered_by_quality() {
        assert_eq!(parse_accept_language("en-US,en;q=0.8"), ["en-US", "en"]);
        assert_eq!(
            parse_accept_language("fr;q=0.5, de, en;q=0.9, x;q=0"),
            ["de", "en", "fr"]
        );
        assert!(parse_accept_language("").is_empty());
        assert_eq!(
            parse_accept_language("da, en-gb;q=0.8, en;q=0.7"),
            ["da", "en-gb", "en"]
        );
    }
}
