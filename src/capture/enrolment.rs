//! Enrolment codes and the credential a code is exchanged for.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};

use crate::auth::{hash_secret, random_token, Scope};
use crate::xapi::ifi::Ifi;

/// What an enrolled extension may do: write Statements, read back only its own, and
/// keep State and Agent Profile documents of its own agent (see [`super::binding`]).
pub const CREDENTIAL_SCOPES: [Scope; 4] = [
    Scope::StatementsWrite,
    Scope::StatementsReadMine,
    Scope::State,
    Scope::Profile,
];

/// How long a code stays valid unless the invitation says otherwise.
pub const DEFAULT_EXPIRY: &str = "14d";

/// A fresh code: 128 random bits, base64url, safe in a URL as it is. It starts with a
/// letter or digit, so that a spreadsheet opening the invitation CSV does not take a
/// leading `-` for a formula (nor a command line for an option).
pub fn generate_code() -> String {
    loop {
        let code = random_token(16);
        if code.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return code;
        }
    }
}

/// Codes are kept only as this hash; like credential secrets they are random enough
/// that a fast hash is all they need.
pub fn hash_code(code: &str) -> Vec<u8> {
    hash_secret(code.trim())
}

/// The longest a code may stay valid: an invitation is for now, not for ever.
pub const MAX_EXPIRY_DAYS: u64 = 365;

/// Parses `--expires` (`14d`, `12h`, `90s`, `1w 2d`); zero and more than
/// `MAX_EXPIRY_DAYS` are refused.
pub fn parse_expiry(raw: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(raw.trim())
        .map_err(|e| format!("--expires: '{raw}' is not a duration such as 14d or 12h: {e}"))?;
    if duration.is_zero() {
        return Err("--expires: must be longer than zero".into());
    }
    if duration > Duration::from_secs(MAX_EXPIRY_DAYS * 86_400) {
        return Err(format!(
            "--expires: '{raw}' is longer than {MAX_EXPIRY_DAYS}d, the longest a code stays valid"
        ));
    }
    Ok(duration)
}

/// The page a learner opens to enrol: `{base}/capture/enrol?code=CODE`.
pub fn enrolment_url(public_base: &str, code: &str) -> String {
    format!(
        "{}/capture/enrol?code={code}",
        public_base.trim_end_matches('/')
    )
}

/// Why a code cannot be exchanged for a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Unknown,
    Used,
    Expired,
    Revoked,
}

impl Refusal {
    /// The stable error code of the refusal.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::Unknown => "enrolment_code_unknown",
            Refusal::Used => "enrolment_code_used",
            Refusal::Expired => "enrolment_code_expired",
            Refusal::Revoked => "enrolment_code_revoked",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Refusal::Unknown => "no enrolment code matches; check it or ask for a new invitation",
            Refusal::Used => "this enrolment code was already used; ask for a new invitation",
            Refusal::Expired => "this enrolment code has expired; ask for a new invitation",
            Refusal::Revoked => "this enrolment code was revoked; ask for a new invitation",
        }
    }
}

/// The tags of a bound credential: browser capture (so the store's deny-list applies
/// and the learning-mode rules see the source) and the learner.
pub fn credential_tags(learner: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("source".to_string(), "browser".to_string()),
        ("learner".to_string(), learner.to_string()),
    ])
}

/// The name of a bound credential, as `credentials list` shows it.
pub fn credential_name(learner: &str) -> String {
    format!("capture: {learner}")
}

/// The Agent the extension writes as: the learner's IFI (as the LRS writes it, e.g.
/// `mbox:mailto:ada@example.org`) and their roster name when there is one.
pub fn actor(learner: &str, name: Option<&str>) -> Value {
    let mut agent = json!({"objectType": "Agent"});
    if let (Some(fields), Some(ifi)) = (agent.as_object_mut(), Ifi::from_canonical(learner)) {
        fields.extend(ifi.to_json_properties());
        if let Some(name) = name.filter(|n| !n.is_empty()) {
            fields.insert("name".into(), json!(name));
        }
    }
    agent
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_random_url_safe_and_hashed_without_whitespace() {
        let (a, b) = (generate_code(), generate_code());
        assert_ne!(a, b);
        assert!(a.len() >= 22, "128 bits");
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_eq!(hash_code(&format!(" {a}\n")), hash_code(&a));
        // About one in 32 base64url tokens starts with `-` or `_`; no code does.
        assert!((0..2000).all(|_| generate_code().starts_with(|c: char| c.is_ascii_alphanumeric())));
        assert_ne!(hash_code(&a), hash_code(&b));
    }

    #[test]
    fn expiry_reads_human_durations() {
        assert_eq!(
            parse_expiry("14d").unwrap(),
            Duration::from_secs(14 * 86_400)
        );
        assert_eq!(parse_expiry("1s").unwrap(), Duration::from_secs(1));
        assert!(parse_expiry("0s").is_err());
        assert_eq!(
            parse_expiry("365d").unwrap(),
            Duration::from_secs(365 * 86_400)
        );
        assert!(parse_expiry("366d")
            .unwrap_err()
            .contains("longer than 365d"));
        assert!(parse_expiry("100000000y").is_err());
        assert!(parse_expiry("soon").unwrap_err().contains("--expires"));
    }

    #[test]
    fn the_actor_carries_the_ifi_and_the_roster_name() {
        assert_eq!(
            actor("mbox:mailto:ada@example.org", Some("Ada")),
            json!({"objectType": "Agent", "mbox": "mailto:ada@example.org", "name": "Ada"})
        );
        assert_eq!(
            actor("account:https://hr.example.org|77", None),
            json!({"objectType": "Agent",
                   "account": {"homePage": "https://hr.example.org", "name": "77"}})
        );
        assert_eq!(
            enrolment_url("http://lrs.example.org/", "abc"),
            "http://lrs.example.org/capture/enrol?code=abc"
        );
    }
}
