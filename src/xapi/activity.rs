//! Activities and Activity Definitions, interaction activities included (Data §2.4.4.1).

use serde_json::{Map, Value};

use super::error::{as_array, as_object, as_str, check_properties, required, Invalid, Path};
use super::iri::{check_extensions, check_iri, check_irl};
use super::langmap::check_language_map;

const ACTIVITY_PROPERTIES: &[&str] = &["objectType", "id", "definition"];
const DEFINITION_PROPERTIES: &[&str] = &[
    "name",
    "description",
    "type",
    "moreInfo",
    "interactionType",
    "correctResponsesPattern",
    "choices",
    "scale",
    "source",
    "target",
    "steps",
    "extensions",
];
const COMPONENT_LISTS: [&str; 5] = ["choices", "scale", "source", "target", "steps"];

/// A validated Activity: its id and its definition, if it carried one.
#[derive(Debug, Clone, Copy)]
pub struct ActivityRef<'v> {
    pub id: &'v str,
    pub definition: Option<&'v Value>,
}

/// Validates an Activity object; `objectType` is optional but must be exactly `Activity`.
pub fn check_activity<'v>(value: &'v Value, path: &Path) -> Result<ActivityRef<'v>, Invalid> {
    let map = as_object(value, path)?;
    check_properties(map, ACTIVITY_PROPERTIES, path)?;
    if let Some(object_type) = map.get("objectType") {
        let object_type_path = path.key("objectType");
        let object_type = as_str(object_type, &object_type_path)?;
        if object_type != "Activity" {
            return Err(
                object_type_path.invalid(format!("must be 'Activity', not '{object_type}'"))
            );
        }
    }
    let id = check_iri(required(map, "id", path)?, &path.key("id"))?;
    let definition = map.get("definition");
    if let Some(definition) = definition {
        check_definition(definition, &path.key("definition"))?;
    }
    Ok(ActivityRef { id, definition })
}

/// Validates an Activity Definition. Every property is optional, so `{}` is valid.
fn check_definition(value: &Value, path: &Path) -> Result<(), Invalid> {
    let map = as_object(value, path)?;
    check_properties(map, DEFINITION_PROPERTIES, path)?;
    for key in ["name", "description"] {
        if let Some(language_map) = map.get(key) {
            check_language_map(language_map, &path.key(key))?;
        }
    }
    if let Some(activity_type) = map.get("type") {
        check_iri(activity_type, &path.key("type"))?;
    }
    if let Some(more_info) = map.get("moreInfo") {
        check_irl(more_info, &path.key("moreInfo"))?;
    }
    if let Some(extensions) = map.get("extensions") {
        check_extensions(extensions, &path.key("extensions"))?;
    }
    check_interaction(map, path)
}

/// The component lists each interactionType supports (Data §2.4.4.1, Interaction Components).
fn supported_lists(interaction_type: &str) -> Option<&'static [&'static str]> {
    Some(match interaction_type {
        "choice" | "sequencing" => &["choices"],
        "likert" => &["scale"],
        "matching" => &["source", "target"],
        "performance" => &["steps"],
        "true-false" | "fill-in" | "long-fill-in" | "numeric" | "other" => &[],
        _ => return None,
    })
}

fn check_interaction(map: &Map<String, Value>, path: &Path) -> Result<(), Invalid> {
    let interaction_type = match map.get("interactionType") {
        Some(value) => {
            let type_path = path.key("interactionType");
            let interaction_type = as_str(value, &type_path)?;
            Some(supported_lists(interaction_type).ok_or_else(|| {
                type_path.invalid(format!("'{interaction_type}' is not an interactionType"))
            })?)
            .map(|lists| (interaction_type, lists))
        }
        None => None,
    };
    if let Some(pattern) = map.get("correctResponsesPattern") {
        let pattern_path = path.key("correctResponsesPattern");
        if interaction_type.is_none() {
            return Err(pattern_path.invalid("only allowed with an interactionType"));
        }
        for (index, response) in as_array(pattern, &pattern_path)?.iter().enumerate() {
            as_str(response, &pattern_path.index(index))?;
        }
    }
    for list in COMPONENT_LISTS {
        let Some(components) = map.get(list) else {
            continue;
        };
        let list_path = path.key(list);
        match interaction_type {
            None => return Err(list_path.invalid("only allowed with an interactionType")),
            Some((name, lists)) if !lists.contains(&list) => {
                return Err(list_path.invalid(format!("not allowed for interactionType '{name}'")))
            }
            Some(_) => check_components(components, &list_path)?,
        }
    }
    Ok(())
}

fn check_components(value: &Value, path: &Path) -> Result<(), Invalid> {
    let components = as_array(value, path)?;
    let mut seen: Vec<&str> = Vec::with_capacity(components.len());
    for (index, component) in components.iter().enumerate() {
        let component_path = path.index(index);
        let map = as_object(component, &component_path)?;
        check_properties(map, &["id", "description"], &component_path)?;
        let id = as_str(
            required(map, "id", &component_path)?,
            &component_path.key("id"),
        )?;
        if seen.contains(&id) {
            return Err(component_path
                .key("id")
                .invalid(format!("duplicate interaction component id '{id}'")));
        }
        seen.push(id);
        if let Some(description) = map.get("description") {
            check_language_map(description, &component_path.key("description"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn activity(value: Value) -> Result<(), Invalid> {
        check_activity(&value, &Path::Root("object")).map(|_| ())
    }

    fn with_definition(definition: Value) -> Result<(), Invalid> {
        activity(json!({"id": "http://x.org/a", "definition": definition}))
    }

    #[test]
    fn accepts_plain_and_defined_activities() {
        let value = json!({"objectType": "Activity", "id": "http://x.org/a", "definition": {
            "name": {"en-US": "A"}, "description": {"en": "d"}, "type": "http://adlnet.gov/expapi/activities/meeting",
            "moreInfo": "http://x.org/more", "extensions": {"http://x.org/e": 1}}});
        let parsed = check_activity(&value, &Path::Root("object")).unwrap();
        assert_eq!(parsed.id, "http://x.org/a");
        assert!(parsed.definition.is_some());
        assert!(activity(json!({"id": "http://x.org/a"})).is_ok());
        assert!(with_definition(json!({})).is_ok());
    }

    #[test]
    fn rejects_bad_activity_fields() {
        assert!(activity(json!({})).is_err());
        assert!(activity(json!({"id": "not an iri"})).is_err());
        assert!(activity(json!({"id": "ab=c://should.fail.com"})).is_err());
        assert!(activity(json!({"id": "http://x.org/a", "objectType": "activity"})).is_err());
        assert!(activity(json!({"id": "http://x.org/a", "extra": 1})).is_err());
        assert!(activity(json!({"id": "http://x.org/a", "definition": "should error"})).is_err());
    }

    #[test]
    fn rejects_bad_definitions() {
        assert!(with_definition(json!({"name": "x"})).is_err());
        assert!(with_definition(json!({"name": {"test": "value"}})).is_err());
        assert!(with_definition(json!({"description": 12345})).is_err());
        assert!(with_definition(json!({"type": "should error"})).is_err());
        assert!(with_definition(json!({"moreInfo": "should error"})).is_err());
        assert!(with_definition(json!({"extensions": {"bad key": 1}})).is_err());
        assert!(with_definition(json!({"Name": {"en": "x"}})).is_err());
    }

    #[test]
    fn interaction_types_and_component_lists() {
        for (interaction_type, list) in [
            ("choice", "choices"),
            ("sequencing", "choices"),
            ("likert", "scale"),
            ("matching", "source"),
            ("matching", "target"),
            ("performance", "steps"),
        ] {
            let ok = json!({"interactionType": interaction_type, list: [{"id": "a", "description": {"en": "A"}}, {"id": "b"}]});
            assert!(with_definition(ok).is_ok(), "{interaction_type} {list}");
        }
        for interaction_type in ["true-false", "fill-in", "long-fill-in", "numeric", "other"] {
            assert!(with_definition(
                json!({"interactionType": interaction_type, "correctResponsesPattern": ["x"]})
            )
            .is_ok());
            let error =
                with_definition(json!({"interactionType": interaction_type, "choices": []}))
                    .unwrap_err();
            assert!(error.message.contains("not allowed for interactionType"));
        }
        assert!(with_definition(json!({"interactionType": "likert", "choices": []})).is_err());
        assert!(with_definition(json!({"interactionType": "Choice"})).is_err());
        assert!(with_definition(json!({"interactionType": "essay"})).is_err());
        assert!(with_definition(json!({"choices": [{"id": "a"}]})).is_err());
        assert!(with_definition(json!({"correctResponsesPattern": ["a"]})).is_err());
    }

    #[test]
    fn rejects_bad_components_and_patterns() {
        let choice = |choices: Value| {
            with_definition(json!({"interactionType": "choice", "choices": choices}))
        };
        assert!(choice(json!({"id": "a"})).is_err());
        assert!(choice(json!([{"id": {"test": "value"}}])).is_err());
        assert!(choice(json!([{"id": "a", "description": "x"}])).is_err());
        assert!(choice(json!([{"id": "a", "description": {"test": "value"}}])).is_err());
        assert!(choice(json!([{"description": {"en": "x"}}])).is_err());
        assert!(choice(json!([{"id": "a", "extra": 1}])).is_err());
        let error = choice(json!([{"id": "a"}, {"id": "a"}])).unwrap_err();
        assert_eq!(error.path, "object.definition.choices[1].id");
        let pattern = |pattern: Value| {
            with_definition(
                json!({"interactionType": "numeric", "correctResponsesPattern": pattern}),
            )
        };
        assert!(pattern(json!([])).is_ok());
        assert!(pattern(json!({"test": "value"})).is_err());
        assert!(pattern(json!([{"test": "value"}])).is_err());
        assert!(pattern(json!([12345])).is_err());
    }
}
