//! Language tags (RFC 5646 well-formedness) and language maps (Data §4.2).

use serde_json::Value;

use super::error::{as_object, as_str, Invalid, Path};

/// Irregular and regular grandfathered tags: well-formed although they break the grammar.
const GRANDFATHERED: &[&str] = &[
    "en-gb-oed",
    "i-ami",
    "i-bnn",
    "i-default",
    "i-enochian",
    "i-hak",
    "i-klingon",
    "i-lux",
    "i-mingo",
    "i-navajo",
    "i-pwn",
    "i-tao",
    "i-tay",
    "i-tsu",
    "sgn-be-fr",
    "sgn-be-nl",
    "sgn-ch-de",
    "art-lojban",
    "cel-gaulish",
    "no-bok",
    "no-nyn",
    "zh-guoyu",
    "zh-hakka",
    "zh-min",
    "zh-min-nan",
    "zh-xiang",
];

/// True when `tag` is a well-formed RFC 5646 language tag. The primary language subtag
/// must be 2–3 letters: 4-letter subtags are reserved and no 5–8 letter subtag is
/// registered, so accepting them would accept junk keys such as `test`.
pub fn is_language_tag(tag: &str) -> bool {
    if tag.is_empty() || !tag.is_ascii() {
        return false;
    }
    let lower = tag.to_ascii_lowercase();
    if GRANDFATHERED.contains(&lower.as_str()) {
        return true;
    }
    let subtags: Vec<&str> = lower.split('-').collect();
    if subtags.iter().any(|s| s.is_empty() || s.len() > 8) {
        return false;
    }
    if subtags[0] == "x" {
        return is_private_use(&subtags[1..]);
    }
    let mut rest = &subtags[..];
    // language
    if !(2..=3).contains(&rest[0].len()) || !is_alpha(rest[0]) {
        return false;
    }
    rest = &rest[1..];
    // extlang: up to three 3-letter subtags, only after a 2–3 letter language
    let mut extlangs = 0;
    while extlangs < 3 && rest.first().is_some_and(|s| s.len() == 3 && is_alpha(s)) {
        rest = &rest[1..];
        extlangs += 1;
    }
    // script
    if rest.first().is_some_and(|s| s.len() == 4 && is_alpha(s)) {
        rest = &rest[1..];
    }
    // region
    if rest
        .first()
        .is_some_and(|s| (s.len() == 2 && is_alpha(s)) || (s.len() == 3 && is_digit(s)))
    {
        rest = &rest[1..];
    }
    // variants
    while rest.first().is_some_and(|s| is_variant(s)) {
        rest = &rest[1..];
    }
    // extensions
    while rest.first().is_some_and(|s| s.len() == 1 && *s != "x") {
        let mut count = 0;
        rest = &rest[1..];
        while rest
            .first()
            .is_some_and(|s| (2..=8).contains(&s.len()) && is_alphanum(s))
        {
            rest = &rest[1..];
            count += 1;
        }
        if count == 0 {
            return false;
        }
    }
    match rest.first() {
        None => true,
        Some(&"x") => is_private_use(&rest[1..]),
        Some(_) => false,
    }
}

fn is_private_use(subtags: &[&str]) -> bool {
    !subtags.is_empty() && subtags.iter().all(|s| is_alphanum(s))
}

fn is_variant(subtag: &str) -> bool {
    let bytes = subtag.as_bytes();
    ((5..=8).contains(&bytes.len()) && is_alphanum(subtag))
        || (bytes.len() == 4 && bytes[0].is_ascii_digit() && is_alphanum(subtag))
}

fn is_alpha(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphabetic())
}

fn is_digit(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

fn is_alphanum(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Validates a language-tag-typed JSON value (e.g. `context.language`).
pub fn check_language_tag<'v>(value: &'v Value, path: &Path) -> Result<&'v str, Invalid> {
    let tag = as_str(value, path)?;
    if is_language_tag(tag) {
        Ok(tag)
    } else {
        Err(path.invalid(format!("'{tag}' is not an RFC 5646 language tag")))
    }
}

/// Validates a language map: an object whose keys are language tags and values strings.
pub fn check_language_map(value: &Value, path: &Path) -> Result<(), Invalid> {
    let map = as_object(value, path)?;
    for (tag, text) in map {
        if !is_language_tag(tag) {
            return Err(path.invalid(format!("'{tag}' is not an RFC 5646 language tag")));
        }
        as_str(text, &path.key(tag))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_well_formed_tags() {
        for ok in [
            "en",
            "en-US",
            "es-MX",
            "zh-Hant-TW",
            "zh-yue-HK",
            "sr-Latn-RS",
            "de-CH-1901",
            "sl-rozaj-biske",
            "es-419",
            "en-US-x-twain",
            "x-whatever",
            "i-klingon",
            "en-GB-oed",
            "en-a-bbb-x-a-ccc",
            "EN-us",
        ] {
            assert!(is_language_tag(ok), "{ok}");
        }
    }

    #[test]
    fn rejects_malformed_tags() {
        for bad in [
            "",
            "e",
            "test",
            "english",
            "en_US",
            "en-",
            "-en",
            "en--US",
            "en-US-",
            "en-a",
            "en-a-x",
            "x",
            "en-toolongsubtag",
            "12",
            "en-US-x",
            "ÿn",
            "en US",
        ] {
            assert!(!is_language_tag(bad), "{bad}");
        }
    }

    #[test]
    fn language_maps_need_tags_and_strings() {
        let root = Path::Root("display");
        assert!(check_language_map(&json!({"en-US": "x", "fr": "y"}), &root).is_ok());
        assert!(check_language_map(&json!({}), &root).is_ok());
        let error = check_language_map(&json!({"test": "value"}), &root).unwrap_err();
        assert_eq!(error.message, "'test' is not an RFC 5646 language tag");
        let error = check_language_map(&json!({"en": 1}), &root).unwrap_err();
        assert_eq!(error.path, "display.en");
        assert!(check_language_map(&json!("en"), &root).is_err());
        assert!(check_language_map(&json!({"en": null}), &root).is_err());
    }
}
