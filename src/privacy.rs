//! Privacy for informal capture: which web hosts a browser-capture batch is about, so
//! that a store's deny-list can refuse it before anything is stored.

use serde_json::Value;

use crate::modes::host_of;

/// The credential tag that marks browser capture (`source=browser`).
pub fn is_browser_capture(tags: &std::collections::BTreeMap<String, String>) -> bool {
    tags.get("source").is_some_and(|s| s == "browser")
}

/// A host as an operator types it (`Example.org`, `example.org.`, or a whole URL),
/// lower-cased and without a trailing dot; `None` when it is not a host name.
pub fn normalise_host(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let host = if raw.contains("://") {
        host_of(raw)?
    } else {
        raw.to_ascii_lowercase()
    };
    let host = host.trim_end_matches('.').to_string();
    let valid = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
        && !host.starts_with('.')
        && !host.contains("..");
    valid.then_some(host)
}

/// A place where a Statement names a web host: which Statement of the batch, the JSON
/// path within it, and the host (lower-cased, no trailing dot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevealedHost {
    pub statement: usize,
    pub path: String,
    pub host: String,
}

/// Every web host the Statements of a batch reveal through an Activity: the `id` and
/// `definition.moreInfo` of the object Activity, of a SubStatement's object Activity,
/// and of every context Activity (`parent`, `grouping`, `category`, `other`) of the
/// Statement and of a SubStatement. In Statement order, then document order.
pub fn revealed_hosts<'a>(statements: impl IntoIterator<Item = &'a Value>) -> Vec<RevealedHost> {
    let mut out = Vec::new();
    for (index, statement) in statements.into_iter().enumerate() {
        let mut found = Vec::new();
        statement_hosts(statement, &mut found);
        out.extend(found.into_iter().map(|(path, host)| RevealedHost {
            statement: index,
            path,
            host,
        }));
    }
    out
}

fn statement_hosts(statement: &Value, out: &mut Vec<(String, String)>) {
    if let Some(object) = statement.get("object") {
        match object.get("objectType").and_then(Value::as_str) {
            None | Some("Activity") => activity_hosts(object, "object", out),
            Some("SubStatement") => {
                if let Some(inner) = object.get("object").filter(|o| is_activity(o)) {
                    activity_hosts(inner, "object.object", out);
                }
                context_hosts(object.get("context"), "object.context", out);
            }
            Some(_) => {}
        }
    }
    context_hosts(statement.get("context"), "context", out);
}

fn is_activity(object: &Value) -> bool {
    object
        .get("objectType")
        .and_then(Value::as_str)
        .is_none_or(|t| t == "Activity")
}

/// The context Activities; parsing has already wrapped single ones in arrays.
fn context_hosts(context: Option<&Value>, path: &str, out: &mut Vec<(String, String)>) {
    let Some(kinds) = context
        .and_then(|c| c.get("contextActivities"))
        .and_then(Value::as_object)
    else {
        return;
    };
    for (kind, activities) in kinds {
        for (i, activity) in activities.as_array().into_iter().flatten().enumerate() {
            activity_hosts(
                activity,
                &format!("{path}.contextActivities.{kind}[{i}]"),
                out,
            );
        }
    }
}

fn activity_hosts(activity: &Value, path: &str, out: &mut Vec<(String, String)>) {
    let iris = [
        ("id", activity.get("id")),
        (
            "definition.moreInfo",
            activity.pointer("/definition/moreInfo"),
        ),
    ];
    for (field, iri) in iris {
        if let Some(host) = iri.and_then(Value::as_str).and_then(host_of) {
            out.push((
                format!("{path}.{field}"),
                host.trim_end_matches('.').to_string(),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hosts_are_normalised_and_checked() {
        assert_eq!(
            normalise_host("Example.ORG.").as_deref(),
            Some("example.org")
        );
        assert_eq!(
            normalise_host("https://News.example.org:8443/a?b").as_deref(),
            Some("news.example.org")
        );
        assert_eq!(normalise_host(""), None);
        assert_eq!(normalise_host("a b"), None);
        assert_eq!(normalise_host("example..org"), None);
        assert_eq!(normalise_host("example.org/path"), None);
    }

    fn places(statement: Value) -> Vec<String> {
        revealed_hosts([&statement])
            .into_iter()
            .map(|r| format!("{} {}", r.path, r.host))
            .collect()
    }

    #[test]
    fn only_activity_objects_have_hosts() {
        let batch = [
            json!({"object": {"id": "https://Mail.Example.org/inbox"}}),
            json!({"object": {"objectType": "Agent", "mbox": "mailto:a@b.c"}}),
            json!({"object": {"objectType": "Activity", "id": "urn:uuid:1"}}),
            json!({"object": {"objectType": "Activity", "id": "http://x.org./p"}}),
        ];
        let found: Vec<(usize, String)> = revealed_hosts(batch.iter())
            .into_iter()
            .map(|r| (r.statement, r.host))
            .collect();
        assert_eq!(
            found,
            vec![
                (0, "mail.example.org".to_string()),
                (3, "x.org".to_string())
            ]
        );
    }

    #[test]
    fn every_activity_of_a_statement_is_looked_at() {
        let statement = json!({
            "object": {"id": "urn:book:1",
                       "definition": {"moreInfo": "https://shop.example.com/book/1"}},
            "context": {"contextActivities": {
                "parent": [{"id": "https://a.example/p"}],
                "grouping": [{"id": "urn:x"}, {"id": "https://b.example/g"}],
                "category": [{"id": "https://c.example/c",
                              "definition": {"moreInfo": "https://d.example/"}}],
                "other": [{"id": "https://e.example/o"}]
            }}
        });
        assert_eq!(
            places(statement),
            [
                "object.definition.moreInfo shop.example.com",
                "context.contextActivities.parent[0].id a.example",
                "context.contextActivities.grouping[1].id b.example",
                "context.contextActivities.category[0].id c.example",
                "context.contextActivities.category[0].definition.moreInfo d.example",
                "context.contextActivities.other[0].id e.example",
            ]
        );
    }

    #[test]
    fn a_sub_statement_is_looked_into() {
        let statement = json!({
            "object": {"objectType": "SubStatement",
                "object": {"id": "https://f.example/page"},
                "context": {"contextActivities": {"parent": [{"id": "https://g.example/"}]}}},
            "context": {"contextActivities": {"other": [{"id": "https://h.example/"}]}}
        });
        assert_eq!(
            places(statement),
            [
                "object.object.id f.example",
                "object.context.contextActivities.parent[0].id g.example",
                "context.contextActivities.other[0].id h.example",
            ]
        );
        // A SubStatement about an Agent reveals no host of its own.
        let about_agent = json!({"object": {"objectType": "SubStatement",
            "object": {"objectType": "Agent", "mbox": "mailto:a@f.example"}}});
        assert!(places(about_agent).is_empty());
    }
}
