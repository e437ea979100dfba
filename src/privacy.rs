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

/// For each Statement of a batch whose object is an Activity with a host in its id,
/// the Statement's position and that host (lower-cased, no trailing dot).
pub fn object_hosts<'a>(statements: impl IntoIterator<Item = &'a Value>) -> Vec<(usize, String)> {
    statements
        .into_iter()
        .enumerate()
        .filter_map(|(index, statement)| {
            let object = statement.get("object")?;
            let is_activity = object
                .get("objectType")
                .and_then(Value::as_str)
                .is_none_or(|t| t == "Activity");
            if !is_activity {
                return None;
            }
            let host = host_of(object.get("id")?.as_str()?)?;
            Some((index, host.trim_end_matches('.').to_string()))
        })
        .collect()
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

    #[test]
    fn only_activity_objects_have_hosts() {
        let batch = [
            json!({"object": {"id": "https://Mail.Example.org/inbox"}}),
            json!({"object": {"objectType": "Agent", "mbox": "mailto:a@b.c"}}),
            json!({"object": {"objectType": "Activity", "id": "urn:uuid:1"}}),
            json!({"object": {"objectType": "Activity", "id": "http://x.org./p"}}),
        ];
        assert_eq!(
            object_hosts(batch.iter()),
            vec![
                (0, "mail.example.org".to_string()),
                (3, "x.org".to_string())
            ]
        );
    }
}
