//! How the LRS's canonical Activity definition evolves as Statements arrive
//! (Data §2.4.4.1 LRS requirements: the LRS SHOULD update its stored definition).

use serde_json::{Map, Value};

/// Properties whose values are maps merged key by key rather than replaced.
const MERGED_MAPS: [&str; 3] = ["name", "description", "extensions"];

/// Merges an incoming definition into the stored one. Rule: the later Statement wins per
/// property; language maps (`name`, `description`) and `extensions` are merged key by
/// key, so a definition sent in French does not erase the English name. Everything else
/// (`type`, `moreInfo`, `interactionType`, `correctResponsesPattern`, component lists)
/// is replaced as a whole by the incoming value. Properties the incoming definition omits
/// are kept.
pub fn merge(existing: Option<&Value>, incoming: &Value) -> Value {
    let (Some(existing), Some(incoming_map)) =
        (existing.and_then(Value::as_object), incoming.as_object())
    else {
        return incoming.clone();
    };
    let mut merged: Map<String, Value> = existing.clone();
    for (key, value) in incoming_map {
        match (merged.get_mut(key), value) {
            (Some(Value::Object(current)), Value::Object(update))
                if MERGED_MAPS.contains(&key.as_str()) =>
            {
                for (entry, text) in update {
                    current.insert(entry.clone(), text.clone());
                }
            }
            _ => {
                merged.insert(key.clone(), value.clone());
            }
        }
    }
    Value::Object(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn first_definition_is_taken_as_is() {
        let incoming = json!({"name": {"en": "A"}});
        assert_eq!(merge(None, &incoming), incoming);
    }

    #[test]
    fn language_maps_and_extensions_merge_per_key() {
        let existing = json!({"name": {"en": "A", "de": "A-de"}, "type": "http://x.org/t1",
                              "extensions": {"http://x.org/e1": 1}, "moreInfo": "http://x.org/m"});
        let incoming = json!({"name": {"en": "A2", "fr": "A-fr"}, "type": "http://x.org/t2",
                              "extensions": {"http://x.org/e2": 2}});
        assert_eq!(
            merge(Some(&existing), &incoming),
            json!({"name": {"en": "A2", "de": "A-de", "fr": "A-fr"}, "type": "http://x.org/t2",
                   "extensions": {"http://x.org/e1": 1, "http://x.org/e2": 2}, "moreInfo": "http://x.org/m"})
        );
    }

    #[test]
    fn component_lists_are_replaced_whole() {
        let existing = json!({"interactionType": "choice", "choices": [{"id": "a"}, {"id": "b"}]});
        let incoming = json!({"choices": [{"id": "c"}]});
        assert_eq!(
            merge(Some(&existing), &incoming),
            json!({"interactionType": "choice", "choices": [{"id": "c"}]})
        );
    }
}
