//! UUIDs in the standard string form (Data §4.4).

use serde_json::Value;
use uuid::Uuid;

use super::error::{as_str, Invalid, Path};

/// Parses the hyphenated 8-4-4-4-12 form only (the `uuid` crate also accepts simple,
/// braced and URN forms, which xAPI does not), and requires the RFC 4122 variant.
pub fn parse_uuid(text: &str) -> Option<Uuid> {
    let bytes = text.as_bytes();
    if bytes.len() != 36 {
        return None;
    }
    let hyphens_ok = bytes.iter().enumerate().all(|(at, b)| match at {
        8 | 13 | 18 | 23 => *b == b'-',
        _ => b.is_ascii_hexdigit(),
    });
    if !hyphens_ok {
        return None;
    }
    let uuid = Uuid::try_parse(text).ok()?;
    (uuid.get_variant() == uuid::Variant::RFC4122).then_some(uuid)
}

/// Validates a UUID-typed JSON value.
pub fn check_uuid(value: &Value, path: &Path) -> Result<Uuid, Invalid> {
    let text = as_str(value, path)?;
    parse_uuid(text).ok_or_else(|| path.invalid(format!("'{text}' is not an RFC 4122 UUID")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_standard_form_rfc4122_uuids() {
        assert!(parse_uuid("fd41c918-b88b-4b20-a0a5-a4c32391aaa0").is_some());
        assert!(parse_uuid("FD41C918-B88B-4B20-A0A5-A4C32391AAA0").is_some());
    }

    #[test]
    fn rejects_other_forms_and_variants() {
        for bad in [
            "",
            "fd41c918b88b4b20a0a5a4c32391aaa0",
            "{fd41c918-b88b-4b20-a0a5-a4c32391aaa0}",
            "urn:uuid:fd41c918-b88b-4b20-a0a5-a4c32391aaa0",
            "fd41c918-b88b-4b20-a0a5-a4c32391aaa",
            "fd41c918-b88b-4b20-c0a5-a4c32391aaa0",
            "00000000-0000-0000-0000-000000000000",
            "gd41c918-b88b-4b20-a0a5-a4c32391aaa0",
            "fd41c918_b88b-4b20-a0a5-a4c32391aaa0",
        ] {
            assert!(parse_uuid(bad).is_none(), "{bad}");
        }
    }
}
