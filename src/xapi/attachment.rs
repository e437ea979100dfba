//! Attachment objects (Data §2.4.11).

use serde_json::Value;

use super::error::{as_array, as_object, as_str, check_properties, required, Invalid, Path};
use super::iri::{check_iri, check_irl};
use super::langmap::check_language_map;

const ATTACHMENT_PROPERTIES: &[&str] = &[
    "usageType",
    "display",
    "description",
    "contentType",
    "length",
    "sha2",
    "fileUrl",
];

/// What the store and the multipart reader need about one declared attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentMeta {
    pub usage_type: String,
    pub content_type: String,
    pub length: u64,
    /// Lowercase hex, to match the `X-Experience-API-Hash` of a multipart part.
    pub sha2: String,
    pub file_url: Option<String>,
}

pub fn check_attachments(value: &Value, path: &Path) -> Result<Vec<AttachmentMeta>, Invalid> {
    as_array(value, path)?
        .iter()
        .enumerate()
        .map(|(index, attachment)| check_attachment(attachment, &path.index(index)))
        .collect()
}

fn check_attachment(value: &Value, path: &Path) -> Result<AttachmentMeta, Invalid> {
    let map = as_object(value, path)?;
    check_properties(map, ATTACHMENT_PROPERTIES, path)?;
    let usage_type = check_iri(required(map, "usageType", path)?, &path.key("usageType"))?;
    check_language_map(required(map, "display", path)?, &path.key("display"))?;
    if let Some(description) = map.get("description") {
        check_language_map(description, &path.key("description"))?;
    }
    let content_type_path = path.key("contentType");
    let content_type = as_str(required(map, "contentType", path)?, &content_type_path)?;
    if !is_media_type(content_type) {
        return Err(
            content_type_path.invalid(format!("'{content_type}' is not an Internet Media Type"))
        );
    }
    let length_path = path.key("length");
    let length = required(map, "length", path)?
        .as_u64()
        .ok_or_else(|| length_path.invalid("must be a non-negative integer"))?;
    let sha2_path = path.key("sha2");
    let sha2 = as_str(required(map, "sha2", path)?, &sha2_path)?;
    if sha2.is_empty() || !sha2.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(sha2_path.invalid("must be a hex-encoded SHA-2 hash"));
    }
    let file_url = map
        .get("fileUrl")
        .map(|url| check_irl(url, &path.key("fileUrl")))
        .transpose()?;
    Ok(AttachmentMeta {
        usage_type: usage_type.to_string(),
        content_type: content_type.to_string(),
        length,
        sha2: sha2.to_ascii_lowercase(),
        file_url: file_url.map(str::to_string),
    })
}

/// `type/subtype` made of RFC 2045 tokens, optionally followed by `;` parameters.
fn is_media_type(text: &str) -> bool {
    let essence = text.split(';').next().unwrap_or("").trim();
    let is_token = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b))
    };
    matches!(essence.split_once('/'), Some((kind, sub)) if is_token(kind) && is_token(sub))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid() -> Value {
        json!({
            "usageType": "http://adlnet.gov/expapi/attachments/signature",
            "display": {"en-US": "Signature"},
            "description": {"en-US": "A signature"},
            "contentType": "application/octet-stream",
            "length": 4235,
            "sha2": "672FA5FA658017F1B72D65036F13379C6AB05D4AB3B6664908D8ACF0B6A0C634"
        })
    }

    fn check(value: Value) -> Result<Vec<AttachmentMeta>, Invalid> {
        check_attachments(&json!([value]), &Path::Root("attachments"))
    }

    #[test]
    fn accepts_attachment_and_lowercases_hash() {
        let meta = check(valid()).unwrap().remove(0);
        assert_eq!(meta.length, 4235);
        assert_eq!(
            meta.sha2,
            "672fa5fa658017f1b72d65036f13379c6ab05d4ab3b6664908d8acf0b6a0c634"
        );
        assert_eq!(meta.file_url, None);
        let mut with_url = valid();
        with_url["fileUrl"] = json!("http://x.org/file.pdf");
        with_url["contentType"] = json!("text/plain; charset=utf-8");
        assert_eq!(
            check(with_url).unwrap()[0].file_url.as_deref(),
            Some("http://x.org/file.pdf")
        );
    }

    #[test]
    fn rejects_bad_attachments() {
        for (key, bad) in [
            ("usageType", json!("not an iri")),
            ("display", json!("Signature")),
            ("description", json!({"test": "x"})),
            ("contentType", json!("octet-stream")),
            ("contentType", json!(5)),
            ("length", json!(-1)),
            ("length", json!(1.5)),
            ("length", json!("12")),
            ("sha2", json!("not hex")),
            ("sha2", json!("")),
            ("fileUrl", json!("not a url")),
            ("extra", json!(1)),
        ] {
            let mut attachment = valid();
            attachment[key] = bad;
            assert!(check(attachment).is_err(), "{key}");
        }
        for key in ["usageType", "display", "contentType", "length", "sha2"] {
            let mut attachment = valid();
            attachment.as_object_mut().unwrap().remove(key);
            let error = check(attachment).unwrap_err();
            assert_eq!(error.message, format!("missing required property '{key}'"));
        }
        assert!(check_attachments(&json!({}), &Path::Root("attachments")).is_err());
    }
}
