//! The document rules that do not touch the database: concurrency preconditions
//! (Communication §3.1) and the JSON merge of POST (§2.2).

use actix_web::http::header::{HeaderMap, IF_MATCH, IF_NONE_MATCH};
use serde_json::Value;

use crate::http::error::ApiError;
use crate::store::documents::{Document, NewContent};

/// The entity tags of an `If-Match` or `If-None-Match` header.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tags {
    Any,
    These(Vec<String>),
}

impl Tags {
    fn matches(&self, etag: &str) -> bool {
        match self {
            Tags::Any => true,
            Tags::These(tags) => tags.iter().any(|t| t.eq_ignore_ascii_case(etag)),
        }
    }
}

/// The concurrency headers of a request.
#[derive(Debug, Clone, Default)]
pub struct Preconditions {
    if_match: Option<Tags>,
    if_none_match: Option<Tags>,
}

impl Preconditions {
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, ApiError> {
        Ok(Preconditions {
            if_match: tags_of(headers, "If-Match", IF_MATCH)?,
            if_none_match: tags_of(headers, "If-None-Match", IF_NONE_MATCH)?,
        })
    }

    /// Whether the client sent either header.
    pub fn given(&self) -> bool {
        self.if_match.is_some() || self.if_none_match.is_some()
    }

    /// 412 unless the current document (or its absence) satisfies both headers, as
    /// RFC 7232 §3.1–3.2 define them for methods other than GET.
    pub fn check(&self, current: Option<&Document>) -> Result<(), ApiError> {
        let etag = current.map(|d| d.etag.as_str());
        if let Some(tags) = &self.if_match {
            if !etag.is_some_and(|e| tags.matches(e)) {
                return Err(ApiError::PreconditionFailed(match etag {
                    Some(_) => {
                        "If-Match does not match the document's current ETag; GET it again".into()
                    }
                    None => "If-Match was given but the document does not exist".into(),
                }));
            }
        }
        if let Some(tags) = &self.if_none_match {
            if etag.is_some_and(|e| tags.matches(e)) {
                return Err(ApiError::PreconditionFailed(
                    "If-None-Match: the document already exists".into(),
                ));
            }
        }
        Ok(())
    }
}

/// A list of quoted entity tags, or `*`. Weak tags compare like strong ones (a
/// document has only one representation), and a bare unquoted tag is taken as
/// meant, since some course runtimes send the SHA-1 without quotes.
fn tags_of(
    headers: &HeaderMap,
    name: &str,
    header: actix_web::http::header::HeaderName,
) -> Result<Option<Tags>, ApiError> {
    let Some(value) = headers.get(header) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| ApiError::InvalidParameter(format!("{name} is not valid text")))?
        .trim();
    if text == "*" {
        return Ok(Some(Tags::Any));
    }
    let tags: Vec<String> = text
        .split(',')
        .map(|tag| {
            let tag = tag.trim();
            let tag = tag.strip_prefix("W/").unwrap_or(tag);
            tag.strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .unwrap_or(tag)
                .to_string()
        })
        .collect();
    if tags.iter().any(|t| t.is_empty() || t.contains('"')) {
        return Err(ApiError::InvalidParameter(format!(
            "{name} must be * or a list of quoted ETags, not {text}"
        )));
    }
    Ok(Some(Tags::These(tags)))
}

/// Whether a Content-Type is `application/json`, parameters aside.
pub fn is_json(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// What a POST stores: the posted document when there is none yet, else the JSON
/// procedure of §2.2: the top-level properties of the posted object replace those
/// of the stored one.
pub fn post_result(current: Option<&Document>, posted: NewContent) -> Result<NewContent, ApiError> {
    let posted_object = if is_json(&posted.content_type) {
        Some(json_object(&posted.content, "the posted document")?)
    } else {
        None
    };
    let Some(current) = current else {
        return Ok(posted);
    };
    let (Some(posted_object), true) = (posted_object, is_json(&current.content_type)) else {
        return Err(ApiError::InvalidBody(format!(
            "POST merges JSON documents only: the stored document is {} and the posted one {}; \
             both must be application/json (use PUT to replace the document)",
            current.content_type, posted.content_type
        )));
    };
    let mut merged = json_object(&current.content, "the stored document")?;
    merged.extend(posted_object);
    Ok(NewContent {
        content_type: current.content_type.clone(),
        content: serde_json::to_vec(&Value::Object(merged)).map_err(|_| ApiError::Internal)?,
    })
}

fn json_object(content: &[u8], what: &str) -> Result<serde_json::Map<String, Value>, ApiError> {
    match serde_json::from_slice(content) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(ApiError::InvalidBody(format!(
            "{what} is not a JSON object, so it cannot be merged"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::HeaderValue;

    use super::*;
    use crate::store::documents::etag_of;

    fn document(content_type: &str, content: &str) -> Document {
        Document {
            content_type: content_type.into(),
            content: content.as_bytes().to_vec(),
            etag: etag_of(content.as_bytes()),
            updated: chrono::Utc::now(),
        }
    }

    fn content(content_type: &str, content: &str) -> NewContent {
        NewContent {
            content_type: content_type.into(),
            content: content.as_bytes().to_vec(),
        }
    }

    fn preconditions(if_match: Option<&str>, if_none_match: Option<&str>) -> Preconditions {
        let mut headers = HeaderMap::new();
        if let Some(v) = if_match {
            headers.insert(IF_MATCH, HeaderValue::from_str(v).unwrap());
        }
        if let Some(v) = if_none_match {
            headers.insert(IF_NONE_MATCH, HeaderValue::from_str(v).unwrap());
        }
        Preconditions::from_headers(&headers).unwrap()
    }

    #[test]
    fn merge_replaces_top_level_properties_only() {
        let stored = document("application/json", r#"{"x":"foo","y":"bar","o":{"a":1}}"#);
        let merged = post_result(
            Some(&stored),
            content(
                "application/json; charset=utf-8",
                r#"{"x":"bash","z":"faz","o":{"b":2}}"#,
            ),
        )
        .unwrap();
        let merged: Value = serde_json::from_slice(&merged.content).unwrap();
        assert_eq!(
            merged,
            serde_json::json!({"x":"bash","y":"bar","o":{"b":2},"z":"faz"})
        );
    }

    #[test]
    fn merge_refuses_anything_but_two_json_objects() {
        let json = document("application/json", r#"{"x":1}"#);
        let text = document("text/plain", "hello");
        let array = document("application/json", "[1]");
        for (stored, posted) in [
            (&json, content("text/plain", r#"{"x":2}"#)),
            (&text, content("application/json", r#"{"x":2}"#)),
            (&array, content("application/json", r#"{"x":2}"#)),
            (&json, content("application/json", "[2]")),
            (&json, content("application/json", "not json")),
        ] {
            assert!(post_result(Some(stored), posted).is_err());
        }
    }

    #[test]
    fn a_post_to_no_document_stores_what_was_sent() {
        let binary = content("application/octet-stream", "\u{0}\u{1}");
        assert_eq!(post_result(None, binary.clone()).unwrap(), binary);
        assert!(post_result(None, content("application/json", "[]")).is_err());
    }

    #[test]
    fn if_match_needs_the_current_tag_and_if_none_match_star_needs_absence() {
        let stored = document("text/plain", "v1");
        let quoted = format!("\"{}\"", stored.etag);
        assert!(preconditions(Some(&quoted), None)
            .check(Some(&stored))
            .is_ok());
        assert!(preconditions(Some(&format!("W/{quoted}")), None)
            .check(Some(&stored))
            .is_ok());
        assert!(preconditions(Some("\"1234\", *"), None)
            .check(Some(&stored))
            .is_err());
        assert!(preconditions(Some("\"1234\""), None)
            .check(Some(&stored))
            .is_err());
        assert!(preconditions(Some(&quoted), None).check(None).is_err());
        assert!(preconditions(Some("*"), None).check(Some(&stored)).is_ok());
        assert!(preconditions(Some("*"), None).check(None).is_err());
        assert!(preconditions(None, Some("*")).check(Some(&stored)).is_err());
        assert!(preconditions(None, Some("*")).check(None).is_ok());
        assert!(!preconditions(None, None).given());
    }
}
