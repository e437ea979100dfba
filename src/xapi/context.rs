//! The Context object (Data §2.4.6), with xAPI 2.0's contextAgents and contextGroups.

use serde_json::{Map, Value};

use super::activity::check_activity;
use super::agent::{check_agent, Expect};
use super::error::{as_array, as_object, as_str, check_properties, required, Invalid, Path};
use super::index::{ActivityRole, AgentRole, IndexBuilder};
use super::iri::{check_extensions, check_iri};
use super::langmap::check_language_tag;
use super::uuid_text::check_uuid;
use super::version::Version;

const CONTEXT_PROPERTIES_1_0: &[&str] = &[
    "registration",
    "instructor",
    "team",
    "contextActivities",
    "revision",
    "platform",
    "language",
    "statement",
    "extensions",
];
const CONTEXT_PROPERTIES_2_0: &[&str] = &[
    "registration",
    "instructor",
    "team",
    "contextActivities",
    "revision",
    "platform",
    "language",
    "statement",
    "extensions",
    "contextAgents",
    "contextGroups",
];

/// Validates a Context. `object_is_activity` decides whether `revision` and `platform`
/// are allowed (Data §2.4.6). Returns the registration, if any.
pub fn check_context(
    value: &Value,
    path: &Path,
    version: Version,
    object_is_activity: bool,
    index: &mut IndexBuilder,
) -> Result<Option<uuid::Uuid>, Invalid> {
    let map = as_object(value, path)?;
    let allowed = if version.is_2_0() {
        CONTEXT_PROPERTIES_2_0
    } else {
        CONTEXT_PROPERTIES_1_0
    };
    check_properties(map, allowed, path)?;
    let registration = map
        .get("registration")
        .map(|registration| check_uuid(registration, &path.key("registration")))
        .transpose()?;
    if let Some(instructor) = map.get("instructor") {
        let instructor_path = path.key("instructor");
        let agent = check_agent(instructor, &instructor_path, Expect::AgentOrGroup, false)?;
        index.record_agent(instructor, agent, AgentRole::Instructor);
    }
    if let Some(team) = map.get("team") {
        let agent = check_agent(team, &path.key("team"), Expect::Group, false)?;
        index.record_agent(team, agent, AgentRole::Team);
    }
    if let Some(activities) = map.get("contextActivities") {
        check_context_activities(activities, &path.key("contextActivities"), index)?;
    }
    for key in ["revision", "platform"] {
        if let Some(text) = map.get(key) {
            let key_path = path.key(key);
            as_str(text, &key_path)?;
            if !object_is_activity {
                return Err(
                    key_path.invalid("only allowed when the Statement's object is an Activity")
                );
            }
        }
    }
    if let Some(language) = map.get("language") {
        check_language_tag(language, &path.key("language"))?;
    }
    if let Some(statement) = map.get("statement") {
        check_statement_ref(statement, &path.key("statement"))?;
    }
    if let Some(extensions) = map.get("extensions") {
        check_extensions(extensions, &path.key("extensions"))?;
    }
    check_context_agents(map, path, index)?;
    Ok(registration)
}

fn check_context_activities(
    value: &Value,
    path: &Path,
    index: &mut IndexBuilder,
) -> Result<(), Invalid> {
    let map = as_object(value, path)?;
    for (key, activities) in map {
        let key_path = path.key(key);
        let role = ActivityRole::for_context_key(key).ok_or_else(|| {
            path.invalid(format!(
                "unknown property '{key}'; use parent, grouping, category or other"
            ))
        })?;
        match activities {
            Value::Array(list) => {
                for (position, activity) in list.iter().enumerate() {
                    let activity = check_activity(activity, &key_path.index(position))?;
                    index.record_activity(activity, role);
                }
            }
            Value::Object(_) => {
                let activity = check_activity(activities, &key_path)?;
                index.record_activity(activity, role);
            }
            _ => return Err(key_path.invalid("must be an Activity or an array of Activities")),
        }
    }
    Ok(())
}

/// xAPI 2.0 §4.2.2.5: `contextAgents` and `contextGroups` entries. Under 1.0.3 these keys
/// never get here: they are unknown properties.
fn check_context_agents(
    map: &Map<String, Value>,
    path: &Path,
    index: &mut IndexBuilder,
) -> Result<(), Invalid> {
    for (key, entry_type, inner, expect, role) in [
        (
            "contextAgents",
            "contextAgent",
            "agent",
            Expect::Agent,
            AgentRole::ContextAgent,
        ),
        (
            "contextGroups",
            "contextGroup",
            "group",
            Expect::Group,
            AgentRole::ContextGroup,
        ),
    ] {
        let Some(entries) = map.get(key) else {
            continue;
        };
        let list_path = path.key(key);
        for (position, entry) in as_array(entries, &list_path)?.iter().enumerate() {
            let entry_path = list_path.index(position);
            let entry_map = as_object(entry, &entry_path)?;
            check_properties(
                entry_map,
                &["objectType", inner, "relevantTypes"],
                &entry_path,
            )?;
            let type_path = entry_path.key("objectType");
            let object_type = as_str(required(entry_map, "objectType", &entry_path)?, &type_path)?;
            if object_type != entry_type {
                return Err(
                    type_path.invalid(format!("must be '{entry_type}', not '{object_type}'"))
                );
            }
            let agent_value = required(entry_map, inner, &entry_path)?;
            let agent = check_agent(agent_value, &entry_path.key(inner), expect, false)?;
            if let Some(types) = entry_map.get("relevantTypes") {
                let types_path = entry_path.key("relevantTypes");
                let types = as_array(types, &types_path)?;
                if types.is_empty() {
                    return Err(types_path.invalid("must not be empty"));
                }
                for (n, relevant_type) in types.iter().enumerate() {
                    check_iri(relevant_type, &types_path.index(n))?;
                }
            }
            index.record_agent(agent_value, agent, role);
        }
    }
    Ok(())
}

/// A Statement Reference: `{"objectType": "StatementRef", "id": <UUID>}` exactly.
pub fn check_statement_ref(value: &Value, path: &Path) -> Result<uuid::Uuid, Invalid> {
    let map = as_object(value, path)?;
    check_properties(map, &["objectType", "id"], path)?;
    let type_path = path.key("objectType");
    let object_type = as_str(required(map, "objectType", path)?, &type_path)?;
    if object_type != "StatementRef" {
        return Err(type_path.invalid(format!("must be 'StatementRef', not '{object_type}'")));
    }
    check_uuid(required(map, "id", path)?, &path.key("id"))
}

/// Rewrites single-Activity `contextActivities` values as one-element arrays, as the
/// LRS must return them (Data §2.4.6.2).
pub fn wrap_context_activities(context: &mut Value) {
    let Some(activities) = context
        .get_mut("contextActivities")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for value in activities.values_mut() {
        if value.is_object() {
            let single = value.take();
            *value = Value::Array(vec![single]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn context(
        value: Value,
        version: Version,
        object_is_activity: bool,
    ) -> Result<IndexBuilder, Invalid> {
        let mut index = IndexBuilder::default();
        check_context(
            &value,
            &Path::Root("context"),
            version,
            object_is_activity,
            &mut index,
        )?;
        Ok(index)
    }

    fn ok(value: Value) -> bool {
        context(value, Version::V2_0_0, true).is_ok()
    }

    #[test]
    fn accepts_full_context_and_indexes_it() {
        let index = context(
            json!({
                "registration": "ec531277-b57b-4c15-8d91-d292c5b2b8f7",
                "instructor": {"mbox": "mailto:i@x.org"},
                "team": {"objectType": "Group", "mbox": "mailto:t@x.org", "member": [{"mbox": "mailto:m@x.org"}]},
                "contextActivities": {
                    "parent": {"id": "http://x.org/p"},
                    "grouping": [{"id": "http://x.org/g"}],
                    "category": [{"id": "http://x.org/c", "definition": {"type": "http://x.org/t"}}],
                    "other": []
                },
                "revision": "r1", "platform": "web", "language": "en-US",
                "statement": {"objectType": "StatementRef", "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee"},
                "extensions": {"http://x.org/e": {"a": 1}}
            }),
            Version::V1_0_3,
            true,
        )
        .unwrap();
        assert_eq!(index.activities.len(), 3);
        assert_eq!(index.activity_definitions.len(), 1);
        let roles: Vec<AgentRole> = index.agents.iter().map(|(_, r)| *r).collect();
        assert_eq!(
            roles,
            [
                AgentRole::Instructor,
                AgentRole::Team,
                AgentRole::OtherMember
            ]
        );
    }

    #[test]
    fn rejects_bad_context_fields() {
        assert!(!ok(json!({"registration": "nope"})));
        assert!(!ok(json!({"instructor": {"name": "no ifi"}})));
        assert!(!ok(json!({"team": {"mbox": "mailto:t@x.org"}})));
        assert!(!ok(json!({"contextActivities": {"parents": []}})));
        assert!(!ok(
            json!({"contextActivities": {"parent": "http://x.org/p"}})
        ));
        assert!(!ok(
            json!({"contextActivities": {"parent": [{"id": "bad"}]}})
        ));
        assert!(!ok(json!({"language": "english"})));
        assert!(!ok(
            json!({"statement": {"id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee"}})
        ));
        assert!(!ok(
            json!({"statement": {"objectType": "StatementRef", "id": "x"}})
        ));
        assert!(!ok(json!({"extensions": {"k": 1}})));
        assert!(!ok(json!({"revision": 1})));
        assert!(!ok(json!({"foo": 1})));
        let error = context(json!({"revision": "r"}), Version::V1_0_3, false).unwrap_err();
        assert_eq!(error.path, "context.revision");
        assert!(context(json!({"platform": "p"}), Version::V1_0_3, false).is_err());
    }

    #[test]
    fn context_agents_and_groups_are_2_0_only() {
        let value = json!({
            "contextAgents": [{"objectType": "contextAgent", "agent": {"mbox": "mailto:a@x.org"}, "relevantTypes": ["http://x.org/t"]}],
            "contextGroups": [{"objectType": "contextGroup", "group": {"objectType": "Group", "member": [{"mbox": "mailto:b@x.org"}]}}]
        });
        let index = context(value.clone(), Version::V2_0_0, true).unwrap();
        let roles: Vec<AgentRole> = index.agents.iter().map(|(_, r)| *r).collect();
        assert_eq!(roles, [AgentRole::ContextAgent, AgentRole::OtherMember]);
        let error = context(value, Version::V1_0_3, true).unwrap_err();
        assert_eq!(error.message, "unknown property 'contextAgents'");
    }

    #[test]
    fn rejects_bad_context_agents() {
        let agent = |entry: Value| ok(json!({"contextAgents": [entry]}));
        assert!(agent(
            json!({"objectType": "contextAgent", "agent": {"mbox": "mailto:a@x.org"}})
        ));
        assert!(!agent(
            json!({"objectType": "ContextAgent", "agent": {"mbox": "mailto:a@x.org"}})
        ));
        assert!(!agent(json!({"agent": {"mbox": "mailto:a@x.org"}})));
        assert!(!agent(json!({"objectType": "contextAgent"})));
        assert!(!agent(
            json!({"objectType": "contextAgent", "agent": {"name": "x"}})
        ));
        assert!(!agent(
            json!({"objectType": "contextAgent", "agent": {"objectType": "Group", "mbox": "mailto:g@x.org"}})
        ));
        assert!(!agent(
            json!({"objectType": "contextAgent", "agent": {"mbox": "mailto:a@x.org"}, "relevantTypes": []})
        ));
        assert!(!agent(
            json!({"objectType": "contextAgent", "agent": {"mbox": "mailto:a@x.org"}, "relevantTypes": ["abc"]})
        ));
        assert!(!agent(
            json!({"objectType": "contextAgent", "agent": {"mbox": "mailto:a@x.org"}, "extra": 1})
        ));
        assert!(!ok(
            json!({"contextAgents": {"objectType": "contextAgent", "agent": {"mbox": "mailto:a@x.org"}}})
        ));
        let group = |entry: Value| ok(json!({"contextGroups": [entry]}));
        assert!(group(
            json!({"objectType": "contextGroup", "group": {"objectType": "Group", "mbox": "mailto:g@x.org"}})
        ));
        assert!(!group(
            json!({"objectType": "contextGroup", "group": {"mbox": "mailto:a@x.org"}})
        ));
        assert!(!group(
            json!({"objectType": "contextAgent", "group": {"objectType": "Group", "mbox": "mailto:g@x.org"}})
        ));
        assert!(!group(
            json!({"objectType": "contextGroup", "group": {"objectType": "Group", "member": [{"objectType": "Group", "mbox": "mailto:g@x.org"}]}})
        ));
    }

    #[test]
    fn wraps_single_context_activities() {
        let mut value = json!({"contextActivities": {"parent": {"id": "http://x.org/p"}, "other": [{"id": "http://x.org/o"}]}});
        wrap_context_activities(&mut value);
        assert_eq!(
            value,
            json!({"contextActivities": {"parent": [{"id": "http://x.org/p"}], "other": [{"id": "http://x.org/o"}]}})
        );
    }
}
