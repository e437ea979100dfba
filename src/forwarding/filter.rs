//! Which Statements a forwarder sends: its filter (the jsonb `forwarders.filter`),
//! applied to a stored Statement with what the LRS keeps beside it (its learning mode,
//! the tags of the credential that wrote it). Pure: no I/O.
//!
//! Every key is optional and an absent key restricts nothing; within a key any of the
//! values will do, across keys all must hold. A voiding Statement goes only when the
//! filter says `"voiding": true` and the Statement it voids matches.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::xapi::ingest::ifi_of;

/// A forwarder's filter, as `commonplace forwarders create` writes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Filter {
    /// Verb ids.
    pub verbs: Vec<String>,
    /// Activity ids: the object Activity or any context Activity.
    pub activities: Vec<String>,
    /// Prefixes of those Activity ids.
    pub activity_prefixes: Vec<String>,
    /// The object Activity's `definition.type`.
    pub activity_types: Vec<String>,
    /// The actor's IFI as the LRS writes it (`mbox:mailto:…`, `account:homePage|name`).
    pub actors: Vec<String>,
    /// Learning modes (`directed`, `guided`, …).
    pub modes: Vec<String>,
    /// Tags of the credential that wrote the Statement: each tag named must have the
    /// value given (a string) or one of the values given (an array of strings).
    pub credential_tags: BTreeMap<String, TagValues>,
    /// Also send voiding Statements whose target matches.
    pub voiding: bool,
}

/// The value, or values, a credential tag must have.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum TagValues {
    One(String),
    Any(Vec<String>),
}

impl TagValues {
    fn admits(&self, value: &str) -> bool {
        match self {
            TagValues::One(one) => one == value,
            TagValues::Any(any) => any.iter().any(|v| v == value),
        }
    }
}

/// A stored Statement as the filter sees it.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub body: &'a Value,
    /// `statements.mode`; `None` before the Statement is classified.
    pub mode: Option<&'a str>,
    /// The tags of the credential that wrote it (empty when it has none).
    pub tags: &'a Map<String, Value>,
}

impl Filter {
    /// Reads a filter, naming what is wrong with it.
    pub fn parse(value: &Value) -> Result<Filter, String> {
        Filter::deserialize(value).map_err(|e| format!("invalid forwarder filter: {e}"))
    }

    /// Whether it looks inside Statements (their verb, Activities, actor): one on
    /// learning modes and credential tags alone decides by what the LRS keeps beside
    /// a Statement, and a Statement that is not a voiding one need not be parsed for it.
    pub fn reads_content(&self) -> bool {
        !(self.verbs.is_empty()
            && self.activities.is_empty()
            && self.activity_prefixes.is_empty()
            && self.activity_types.is_empty()
            && self.actors.is_empty())
    }

    /// Whether a Statement goes. `target` is what a voiding Statement voids, when the
    /// LRS holds it.
    pub fn selects(&self, statement: &Candidate<'_>, target: Option<&Candidate<'_>>) -> bool {
        if is_voiding(statement.body) {
            return self.voiding && target.is_some_and(|t| self.matches(t));
        }
        self.matches(statement)
    }

    /// Whether a Statement (not a voiding one) passes every key.
    pub fn matches(&self, statement: &Candidate<'_>) -> bool {
        let body = statement.body;
        let object_activity = object_activity(body);
        if !self.verbs.is_empty() {
            let verb = body.pointer("/verb/id").and_then(Value::as_str);
            if !verb.is_some_and(|v| self.verbs.iter().any(|w| w == v)) {
                return false;
            }
        }
        if !self.activities.is_empty() || !self.activity_prefixes.is_empty() {
            let ids: Vec<&str> = object_activity
                .and_then(|a| a.get("id"))
                .and_then(Value::as_str)
                .into_iter()
                .chain(context_activity_ids(body))
                .collect();
            if !self.activities.is_empty()
                && !ids
                    .iter()
                    .any(|id| self.activities.contains(&(*id).to_string()))
            {
                return false;
            }
            if !self.activity_prefixes.is_empty()
                && !ids.iter().any(|id| {
                    self.activity_prefixes
                        .iter()
                        .any(|p| id.starts_with(p.as_str()))
                })
            {
                return false;
            }
        }
        if !self.activity_types.is_empty() {
            let kind = object_activity
                .and_then(|a| a.pointer("/definition/type"))
                .and_then(Value::as_str);
            if !kind.is_some_and(|k| self.activity_types.iter().any(|t| t == k)) {
                return false;
            }
        }
        if !self.actors.is_empty() {
            let actor = body.get("actor").and_then(ifi_of);
            if !actor.is_some_and(|a| self.actors.iter().any(|x| x == a.as_str())) {
                return false;
            }
        }
        if !self.modes.is_empty()
            && !statement
                .mode
                .is_some_and(|m| self.modes.iter().any(|x| x == m))
        {
            return false;
        }
        self.credential_tags.iter().all(|(name, wanted)| {
            statement
                .tags
                .get(name)
                .and_then(Value::as_str)
                .is_some_and(|value| wanted.admits(value))
        })
    }
}

/// Whether a Statement voids another (Data §2.3.2): verb `voided`, object a StatementRef.
pub fn is_voiding(body: &Value) -> bool {
    body.pointer("/verb/id").and_then(Value::as_str)
        == Some("http://adlnet.gov/expapi/verbs/voided")
        && body.pointer("/object/objectType").and_then(Value::as_str) == Some("StatementRef")
}

/// The object, when it is an Activity (`objectType` absent or "Activity").
fn object_activity(body: &Value) -> Option<&Value> {
    let object = body.get("object")?;
    match object.get("objectType").and_then(Value::as_str) {
        None | Some("Activity") => Some(object),
        Some(_) => None,
    }
}

/// The ids of the context Activities (parent, grouping, category, other), each given
/// as one Activity or an array of them.
fn context_activity_ids(body: &Value) -> impl Iterator<Item = &str> {
    body.pointer("/context/contextActivities")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|kinds| kinds.values())
        .flat_map(|listed| match listed {
            Value::Array(many) => many.iter().collect::<Vec<_>>(),
            one => vec![one],
        })
        .filter_map(|activity| activity.get("id").and_then(Value::as_str))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn statement() -> Value {
        json!({
            "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee",
            "actor": {"mbox": "mailto:ann@example.org"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
            "object": {
                "id": "https://courses.example.org/rust/lesson-1",
                "definition": {"type": "http://adlnet.gov/expapi/activities/lesson"}
            },
            "context": {"contextActivities": {
                "parent": [{"id": "https://courses.example.org/rust"}],
                "category": {"id": "https://profiles.example.org/cmi5"}
            }}
        })
    }

    fn no_tags() -> Map<String, Value> {
        Map::new()
    }

    fn passes(filter: Value, body: &Value, mode: Option<&str>, tags: &Map<String, Value>) -> bool {
        Filter::parse(&filter)
            .unwrap()
            .selects(&Candidate { body, mode, tags }, None)
    }

    #[test]
    fn an_empty_filter_sends_every_statement_but_voiding_ones() {
        let tags = no_tags();
        assert!(passes(json!({}), &statement(), None, &tags));
        let voiding = json!({
            "actor": {"mbox": "mailto:ann@example.org"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
            "object": {"objectType": "StatementRef", "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee"}
        });
        let target = statement();
        let filter = Filter::parse(&json!({})).unwrap();
        let candidate = |body| Candidate {
            body,
            mode: None,
            tags: &tags,
        };
        assert!(!filter.selects(&candidate(&voiding), Some(&candidate(&target))));
    }

    /// The runner leaves a Statement unparsed (its body `null` here) when the filter
    /// does not read content: the answer must be the one the whole Statement gets.
    #[test]
    fn a_filter_on_modes_and_tags_alone_needs_no_content() {
        let sales = json!({"team": "sales"}).as_object().unwrap().clone();
        for (filter, reads) in [
            (json!({}), false),
            (
                json!({"modes": ["directed"], "credential_tags": {"team": "sales"}}),
                false,
            ),
            (json!({"voiding": true}), false),
            (
                json!({"verbs": ["http://adlnet.gov/expapi/verbs/completed"]}),
                true,
            ),
            (
                json!({"activities": ["https://courses.example.org/rust"]}),
                true,
            ),
            (json!({"activity_prefixes": ["https://courses."]}), true),
            (
                json!({"activity_types": ["http://adlnet.gov/expapi/activities/lesson"]}),
                true,
            ),
            (json!({"actors": ["mbox:mailto:ann@example.org"]}), true),
        ] {
            assert_eq!(
                Filter::parse(&filter).unwrap().reads_content(),
                reads,
                "{filter}"
            );
            if reads {
                continue;
            }
            for tags in [&no_tags(), &sales] {
                for mode in [None, Some("directed"), Some("guided")] {
                    assert_eq!(
                        passes(filter.clone(), &Value::Null, mode, tags),
                        passes(filter.clone(), &statement(), mode, tags),
                        "{filter} {mode:?} {tags:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn verbs_match_any_of_the_ids() {
        let tags = no_tags();
        let s = statement();
        assert!(passes(
            json!({"verbs": ["http://x.org/other", "http://adlnet.gov/expapi/verbs/completed"]}),
            &s,
            None,
            &tags
        ));
        assert!(!passes(
            json!({"verbs": ["http://x.org/other"]}),
            &s,
            None,
            &tags
        ));
    }

    #[test]
    fn activities_match_the_object_or_a_context_activity() {
        let tags = no_tags();
        let s = statement();
        for id in [
            "https://courses.example.org/rust/lesson-1",
            "https://courses.example.org/rust",
            "https://profiles.example.org/cmi5",
        ] {
            assert!(passes(json!({"activities": [id]}), &s, None, &tags), "{id}");
        }
        assert!(!passes(
            json!({"activities": ["https://courses.example.org/go"]}),
            &s,
            None,
            &tags
        ));
    }

    #[test]
    fn activity_prefixes_match_the_start_of_an_id() {
        let tags = no_tags();
        let s = statement();
        assert!(passes(
            json!({"activity_prefixes": ["https://courses.example.org/"]}),
            &s,
            None,
            &tags
        ));
        assert!(passes(
            json!({"activity_prefixes": ["https://profiles.example.org/"]}),
            &s,
            None,
            &tags
        ));
        assert!(!passes(
            json!({"activity_prefixes": ["https://elsewhere.example.org/"]}),
            &s,
            None,
            &tags
        ));
    }

    #[test]
    fn activity_types_look_at_the_object_activity_only() {
        let tags = no_tags();
        let s = statement();
        assert!(passes(
            json!({"activity_types": ["http://adlnet.gov/expapi/activities/lesson"]}),
            &s,
            None,
            &tags
        ));
        assert!(!passes(
            json!({"activity_types": ["http://adlnet.gov/expapi/activities/course"]}),
            &s,
            None,
            &tags
        ));
        let mut agent_object = statement();
        agent_object["object"] = json!({"objectType": "Agent", "mbox": "mailto:bob@example.org"});
        assert!(!passes(
            json!({"activity_types": ["http://adlnet.gov/expapi/activities/lesson"]}),
            &agent_object,
            None,
            &tags
        ));
        assert!(!passes(
            json!({"activities": ["https://courses.example.org/rust/lesson-1"]}),
            &agent_object,
            None,
            &tags
        ));
    }

    #[test]
    fn actors_are_matched_by_their_ifi_as_the_lrs_writes_it() {
        let tags = no_tags();
        let s = statement();
        assert!(passes(
            json!({"actors": ["mbox:mailto:ann@example.org"]}),
            &s,
            None,
            &tags
        ));
        assert!(!passes(
            json!({"actors": ["mbox:mailto:bob@example.org"]}),
            &s,
            None,
            &tags
        ));
        let mut account = statement();
        account["actor"] =
            json!({"account": {"homePage": "https://id.example.org", "name": "ann"}});
        assert!(passes(
            json!({"actors": ["account:https://id.example.org|ann"]}),
            &account,
            None,
            &tags
        ));
    }

    #[test]
    fn modes_need_a_classified_statement() {
        let tags = no_tags();
        let s = statement();
        assert!(passes(
            json!({"modes": ["guided", "directed"]}),
            &s,
            Some("directed"),
            &tags
        ));
        assert!(!passes(
            json!({"modes": ["guided"]}),
            &s,
            Some("directed"),
            &tags
        ));
        assert!(!passes(json!({"modes": ["directed"]}), &s, None, &tags));
    }

    #[test]
    fn every_credential_tag_named_must_hold() {
        let s = statement();
        let tags: Map<String, Value> = json!({"team": "sales", "region": "emea"})
            .as_object()
            .unwrap()
            .clone();
        assert!(passes(
            json!({"credential_tags": {"team": "sales"}}),
            &s,
            None,
            &tags
        ));
        assert!(passes(
            json!({"credential_tags": {"team": ["ops", "sales"], "region": "emea"}}),
            &s,
            None,
            &tags
        ));
        assert!(!passes(
            json!({"credential_tags": {"team": "sales", "region": "apac"}}),
            &s,
            None,
            &tags
        ));
        assert!(!passes(
            json!({"credential_tags": {"team": "sales"}}),
            &s,
            None,
            &no_tags()
        ));
    }

    #[test]
    fn all_keys_must_hold() {
        let tags = no_tags();
        let s = statement();
        let filter = json!({
            "verbs": ["http://adlnet.gov/expapi/verbs/completed"],
            "activity_prefixes": ["https://courses.example.org/"],
            "modes": ["directed"]
        });
        assert!(passes(filter.clone(), &s, Some("directed"), &tags));
        assert!(!passes(filter, &s, Some("guided"), &tags));
    }

    #[test]
    fn voiding_statements_go_only_when_asked_for_and_their_target_matches() {
        let tags = no_tags();
        let target = statement();
        let voiding = json!({
            "actor": {"mbox": "mailto:admin@example.org"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
            "object": {"objectType": "StatementRef", "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee"}
        });
        let candidate = |body| Candidate {
            body,
            mode: None,
            tags: &tags,
        };
        let on = |filter: Value| Filter::parse(&filter).unwrap();
        let completed =
            json!({"verbs": ["http://adlnet.gov/expapi/verbs/completed"], "voiding": true});
        assert!(on(completed.clone()).selects(&candidate(&voiding), Some(&candidate(&target))));
        // Its target unknown to the LRS: nothing says it matched.
        assert!(!on(completed).selects(&candidate(&voiding), None));
        let other = json!({"verbs": ["http://x.org/other"], "voiding": true});
        assert!(!on(other).selects(&candidate(&voiding), Some(&candidate(&target))));
        let without = json!({"verbs": ["http://adlnet.gov/expapi/verbs/completed"]});
        assert!(!on(without).selects(&candidate(&voiding), Some(&candidate(&target))));
    }

    #[test]
    fn unknown_keys_and_wrong_shapes_are_refused() {
        assert!(Filter::parse(&json!({"verb": ["x"]})).is_err());
        assert!(Filter::parse(&json!({"verbs": "x"})).is_err());
        assert!(Filter::parse(&json!({"credential_tags": {"team": 3}})).is_err());
        assert_eq!(Filter::parse(&json!({})).unwrap(), Filter::default());
    }
}
