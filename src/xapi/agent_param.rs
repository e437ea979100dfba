//! The `agent` query parameter of the document resources: an Agent (or identified
//! Group) as JSON, reduced to the one Inverse Functional Identifier that names it.
//!
//! A stand-in owned by the document layer until the shared Agent model lands; it
//! accepts only what Data §2.4.2.1 allows and nothing else.

use serde_json::{Map, Value};

/// Properties an Agent or Group object may carry.
const KNOWN_PROPERTIES: [&str; 7] = [
    "objectType",
    "name",
    "mbox",
    "mbox_sha1sum",
    "openid",
    "account",
    "member",
];

/// Parses the JSON of an `agent` parameter and returns its canonical IFI text:
/// `mbox:mailto:a@b.org`, `mbox_sha1sum:<lowercase hex>`, `openid:<uri>` or
/// `account:<homePage>|<name>`. Two parameters name the same agent exactly when
/// their canonical texts are equal.
pub fn parse_agent_param(raw: &str) -> Result<String, String> {
    let value: Value =
        serde_json::from_str(raw).map_err(|e| format!("agent is not valid JSON: {e}"))?;
    let Value::Object(agent) = value else {
        return Err("agent must be a JSON object".into());
    };
    if let Some(unknown) = agent
        .keys()
        .find(|k| !KNOWN_PROPERTIES.contains(&k.as_str()))
    {
        return Err(format!("agent has an unknown property '{unknown}'"));
    }
    match agent.get("objectType") {
        None => {}
        Some(Value::String(t)) if t == "Agent" || t == "Group" => {}
        Some(other) => {
            return Err(format!(
                "agent objectType must be \"Agent\" or \"Group\", not {other}"
            ))
        }
    }
    if agent.get("name").is_some_and(|n| !n.is_string()) {
        return Err("agent name must be a string".into());
    }
    if agent.contains_key("member") && agent.get("objectType") != Some(&"Group".into()) {
        return Err("agent has 'member' but is not a Group".into());
    }
    let ifis: Vec<&str> = ["mbox", "mbox_sha1sum", "openid", "account"]
        .into_iter()
        .filter(|k| agent.contains_key(*k))
        .collect();
    match ifis.as_slice() {
        [ifi] => canonical_ifi(ifi, &agent),
        [] => Err(
            "agent must have exactly one identifier (mbox, mbox_sha1sum, openid or account); it has none"
                .into(),
        ),
        many => Err(format!(
            "agent must have exactly one identifier; it has {}",
            many.join(", ")
        )),
    }
}

fn canonical_ifi(ifi: &str, agent: &Map<String, Value>) -> Result<String, String> {
    let text = |key: &str| {
        agent[key]
            .as_str()
            .ok_or_else(|| format!("agent {key} must be a string"))
    };
    match ifi {
        "mbox" => {
            let mbox = text("mbox")?;
            let address = mbox
                .strip_prefix("mailto:")
                .ok_or_else(|| format!("agent mbox '{mbox}' must be a mailto: IRI"))?;
            if !address.contains('@') || address.chars().any(char::is_whitespace) {
                return Err(format!("agent mbox '{mbox}' is not an email address"));
            }
            Ok(format!("mbox:{mbox}"))
        }
        "mbox_sha1sum" => {
            let sum = text("mbox_sha1sum")?;
            if sum.len() != 40 || !sum.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!(
                    "agent mbox_sha1sum '{sum}' must be 40 hexadecimal digits"
                ));
            }
            Ok(format!("mbox_sha1sum:{}", sum.to_ascii_lowercase()))
        }
        "openid" => {
            let openid = text("openid")?;
            if !is_absolute_iri(openid) {
                return Err(format!("agent openid '{openid}' is not a URI"));
            }
            Ok(format!("openid:{openid}"))
        }
        _ => {
            let Some(account) = agent["account"].as_object() else {
                return Err("agent account must be an object".into());
            };
            if let Some(unknown) = account.keys().find(|k| *k != "homePage" && *k != "name") {
                return Err(format!("agent account has an unknown property '{unknown}'"));
            }
            let home_page = account
                .get("homePage")
                .and_then(Value::as_str)
                .ok_or("agent account needs a string homePage")?;
            let name = account
                .get("name")
                .and_then(Value::as_str)
                .ok_or("agent account needs a string name")?;
            if !is_absolute_iri(home_page) {
                return Err(format!(
                    "agent account homePage '{home_page}' is not an IRL"
                ));
            }
            Ok(format!("account:{home_page}|{name}"))
        }
    }
}

/// Whether `raw` has the shape of an absolute IRI: a scheme (RFC 3987 §2.2), a colon,
/// something after it, and no whitespace or control characters.
pub fn is_absolute_iri(raw: &str) -> bool {
    let Some((scheme, rest)) = raw.split_once(':') else {
        return false;
    };
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    scheme_ok
        && !rest.is_empty()
        && !raw
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_ifi_has_one_canonical_text() {
        let cases = [
            (
                r#"{"mbox":"mailto:a@b.org","objectType":"Agent"}"#,
                "mbox:mailto:a@b.org",
            ),
            (
                r#"{"mbox_sha1sum":"ABCDEF0123456789abcdef0123456789ABCDEF01"}"#,
                "mbox_sha1sum:abcdef0123456789abcdef0123456789abcdef01",
            ),
            (
                r#"{"openid":"https://id.example.org/me"}"#,
                "openid:https://id.example.org/me",
            ),
            (
                r#"{"name":"Ann","account":{"homePage":"https://lms.example.org","name":"ann"}}"#,
                "account:https://lms.example.org|ann",
            ),
            (
                r#"{"objectType":"Group","mbox":"mailto:team@b.org","member":[]}"#,
                "mbox:mailto:team@b.org",
            ),
        ];
        for (raw, canonical) in cases {
            assert_eq!(parse_agent_param(raw).as_deref(), Ok(canonical), "{raw}");
        }
    }

    #[test]
    fn anything_but_one_valid_ifi_is_refused() {
        for raw in [
            "",
            "not json",
            "[]",
            "{}",
            r#"{"name":"Ann"}"#,
            r#"{"mbox":"a@b.org"}"#,
            r#"{"mbox":"mailto:nobody"}"#,
            r#"{"mbox":"mailto:a@b.org","openid":"https://x.org"}"#,
            r#"{"mbox_sha1sum":"xyz"}"#,
            r#"{"openid":"not a uri"}"#,
            r#"{"account":{"homePage":"https://x.org"}}"#,
            r#"{"account":{"homePage":"nope","name":"n"}}"#,
            r#"{"objectType":"Activity","mbox":"mailto:a@b.org"}"#,
            r#"{"mbox":"mailto:a@b.org","role":"x"}"#,
            r#"{"mbox":"mailto:a@b.org","member":[]}"#,
        ] {
            assert!(parse_agent_param(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn iris_need_a_scheme_and_no_spaces() {
        assert!(is_absolute_iri("http://example.org/activity/1"));
        assert!(is_absolute_iri("urn:uuid:6f2a"));
        assert!(!is_absolute_iri("example.org/activity"));
        assert!(!is_absolute_iri("http://example.org/a b"));
        assert!(!is_absolute_iri("1http://x"));
        assert!(!is_absolute_iri("http:"));
    }
}
