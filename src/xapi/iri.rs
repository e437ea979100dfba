//! IRI syntax (RFC 3987 §2.2). xAPI 2.0 requires rejecting invalid IRIs, so every IRI or
//! IRL field gets a full syntax check. IRIs are compared as sent (RFC 3987 §5.3.1), never
//! scheme- or protocol-normalised, so nothing here rewrites them.

use serde_json::Value;

use super::error::{as_str, Invalid, Path};

/// True when `text` is an absolute IRI: a scheme, `:`, and a hierarchical part, query and
/// fragment built only from the characters RFC 3987 allows there.
pub fn is_iri(text: &str) -> bool {
    let Some((scheme, rest)) = text.split_once(':') else {
        return false;
    };
    if !is_scheme(scheme) {
        return false;
    }
    let (rest, fragment) = match rest.split_once('#') {
        Some((rest, fragment)) => (rest, Some(fragment)),
        None => (rest, None),
    };
    let (hier, query) = match rest.split_once('?') {
        Some((hier, query)) => (hier, Some(query)),
        None => (rest, None),
    };
    if let Some(fragment) = fragment {
        if !all_chars(fragment, |c| is_pchar(c) || c == '/' || c == '?') {
            return false;
        }
    }
    if let Some(query) = query {
        if !all_chars(query, |c| {
            is_pchar(c) || c == '/' || c == '?' || is_private_use(c)
        }) {
            return false;
        }
    }
    match hier.strip_prefix("//") {
        Some(after) => {
            let (authority, path) = match after.find('/') {
                Some(slash) => after.split_at(slash),
                None => (after, ""),
            };
            is_authority(authority) && is_path(path)
        }
        None => is_path(hier),
    }
}

/// IRLs are IRIs that are expected to resolve; resolvability is not checked.
pub fn is_irl(text: &str) -> bool {
    is_iri(text)
}

/// Validates an IRI-typed JSON value, returning the text.
pub fn check_iri<'v>(value: &'v Value, path: &Path) -> Result<&'v str, Invalid> {
    let text = as_str(value, path)?;
    if is_iri(text) {
        Ok(text)
    } else {
        Err(path.invalid(format!("'{text}' is not an IRI")))
    }
}

/// Validates an IRL-typed JSON value, returning the text.
pub fn check_irl<'v>(value: &'v Value, path: &Path) -> Result<&'v str, Invalid> {
    let text = as_str(value, path)?;
    if is_irl(text) {
        Ok(text)
    } else {
        Err(path.invalid(format!("'{text}' is not an IRL")))
    }
}

fn is_scheme(scheme: &str) -> bool {
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

fn is_authority(authority: &str) -> bool {
    let (userinfo, host_port) = match authority.rsplit_once('@') {
        Some((userinfo, host_port)) => (Some(userinfo), host_port),
        None => (None, authority),
    };
    if let Some(userinfo) = userinfo {
        if !all_chars(userinfo, |c| {
            is_unreserved(c) || is_sub_delim(c) || c == ':'
        }) {
            return false;
        }
    }
    if let Some(literal) = host_port.strip_prefix('[') {
        let Some((inside, after)) = literal.split_once(']') else {
            return false;
        };
        let literal_ok = !inside.is_empty()
            && inside
                .chars()
                .all(|c| c.is_ascii_hexdigit() || matches!(c, ':' | '.' | 'v' | 'V'));
        return literal_ok && is_port_suffix(after);
    }
    let (host, port) = match host_port.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (host_port, None),
    };
    all_chars(host, |c| is_unreserved(c) || is_sub_delim(c))
        && port.is_none_or(|port| port.bytes().all(|b| b.is_ascii_digit()))
}

fn is_port_suffix(after: &str) -> bool {
    after.is_empty()
        || after
            .strip_prefix(':')
            .is_some_and(|port| port.bytes().all(|b| b.is_ascii_digit()))
}

fn is_path(path: &str) -> bool {
    all_chars(path, |c| is_pchar(c) || c == '/')
}

/// Checks every character of `text` with `allowed`, treating `%XX` escapes as allowed
/// and a `%` not followed by two hex digits as invalid.
fn all_chars(text: &str, allowed: impl Fn(char) -> bool) -> bool {
    let bytes = text.as_bytes();
    let mut chars = text.char_indices();
    while let Some((at, c)) = chars.next() {
        if c == '%' {
            let hex = bytes.get(at + 1..at + 3);
            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                return false;
            }
            chars.next();
            chars.next();
        } else if !allowed(c) {
            return false;
        }
    }
    true
}

fn is_pchar(c: char) -> bool {
    is_unreserved(c) || is_sub_delim(c) || c == ':' || c == '@'
}

fn is_unreserved(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~') || is_ucschar(c)
}

fn is_sub_delim(c: char) -> bool {
    matches!(
        c,
        '!' | '$' | '&' | '\'' | '(' | ')' | '*' | '+' | ',' | ';' | '='
    )
}

fn is_ucschar(c: char) -> bool {
    let code = c as u32;
    matches!(code,
        0xA0..=0xD7FF | 0xF900..=0xFDCF | 0xFDF0..=0xFFEF
        | 0x10000..=0x1FFFD | 0x20000..=0x2FFFD | 0x30000..=0x3FFFD
        | 0x40000..=0x4FFFD | 0x50000..=0x5FFFD | 0x60000..=0x6FFFD
        | 0x70000..=0x7FFFD | 0x80000..=0x8FFFD | 0x90000..=0x9FFFD
        | 0xA0000..=0xAFFFD | 0xB0000..=0xBFFFD | 0xC0000..=0xCFFFD
        | 0xD0000..=0xDFFFD | 0xE1000..=0xEFFFD)
}

fn is_private_use(c: char) -> bool {
    matches!(c as u32, 0xE000..=0xF8FF | 0xF0000..=0xFFFFD | 0x100000..=0x10FFFD)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_common_iris() {
        for ok in [
            "http://adlnet.gov/expapi/verbs/voided",
            "https://example.com:8080/a/b?c=d&e=f#frag",
            "http://example.com/xapi/verbs#defenestrated",
            "http://example.com/فعل/خواندن",
            "mailto:someone@example.com",
            "urn:uuid:6f1f3a1c-8b9d-4b5e-9a55-2c4d5e6f7a8b",
            "http://user:pw@[2001:db8::1]:80/x",
            "http://example.com/a%20b",
            "tag:example.com,2024:thing",
            "http://example.com",
            "http://example.com/../x",
        ] {
            assert!(is_iri(ok), "{ok}");
        }
    }

    #[test]
    fn rejects_non_iris() {
        for bad in [
            "",
            "should error",
            "ab=c://should.fail.com",
            "1http://x",
            "://x",
            "no-scheme",
            "http://exa mple.com",
            "http://example.com/a b",
            "http://example.com/%zz",
            "http://example.com/%4",
            "http://example.com/a|b",
            "http://example.com/{x}",
            "http://example.com:8o/x",
            "http://[::1/x",
            "/relative/path",
            "#fragment",
        ] {
            assert!(!is_iri(bad), "{bad}");
        }
    }

    #[test]
    fn check_reports_the_path() {
        let root = Path::Root("statement");
        let verb = root.key("verb");
        let id = verb.key("id");
        let error = check_iri(&json!("nope"), &id).unwrap_err();
        assert_eq!(error.path, "statement.verb.id");
        assert_eq!(error.message, "'nope' is not an IRI");
        assert!(check_iri(&json!(5), &id).is_err());
        assert_eq!(
            check_irl(&json!("http://x.org"), &id).unwrap(),
            "http://x.org"
        );
    }
}

/// Validates an extensions map (Data §4.1): an object whose keys are IRIs. Values are
/// free-form, `null` included, and never a reason to reject.
pub fn check_extensions(value: &Value, path: &Path) -> Result<(), Invalid> {
    let map = super::error::as_object(value, path)?;
    match map.keys().find(|key| !is_iri(key)) {
        Some(key) => Err(path.invalid(format!("extension key '{key}' is not an IRI"))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod extension_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn extension_keys_must_be_iris() {
        let root = Path::Root("extensions");
        assert!(check_extensions(
            &json!({"http://x.org/e": null, "http://x.org/f": {"a": [1]}}),
            &root
        )
        .is_ok());
        assert!(check_extensions(&json!({}), &root).is_ok());
        let error = check_extensions(&json!({"not an iri": 1}), &root).unwrap_err();
        assert_eq!(error.message, "extension key 'not an iri' is not an IRI");
        assert!(check_extensions(&json!([]), &root).is_err());
    }
}
