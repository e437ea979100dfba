//! The LRS's own access tokens: JWTs (RFC 9068 in shape) signed with the current key,
//! carrying the credential, its store and the granted xAPI scopes; and the scope names
//! a client may ask for.

use std::time::Duration;

use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::auth::{Access, Principal, ReadReach, Scope};

/// The claims of an access token this LRS issues.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    /// The credential's key, as `client_id` too (RFC 9068 §2.2).
    pub sub: String,
    pub client_id: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// The name of the credential's store.
    pub store: String,
    /// The granted xAPI scope names, space-separated.
    pub scope: String,
}

impl Claims {
    pub fn new(
        issuer: &str,
        key: &str,
        store: &str,
        scopes: &[Scope],
        lifetime: Duration,
    ) -> Claims {
        let now = chrono::Utc::now().timestamp();
        Claims {
            iss: issuer.to_string(),
            sub: key.to_string(),
            client_id: key.to_string(),
            aud: issuer.to_string(),
            iat: now,
            exp: now + lifetime.as_secs() as i64,
            jti: crate::auth::random_token(16),
            store: store.to_string(),
            scope: scope_text(scopes),
        }
    }

    /// The scopes the token grants; names this LRS does not know are ignored.
    pub fn scopes(&self) -> Vec<Scope> {
        self.scope
            .split_whitespace()
            .filter_map(|name| name.parse().ok())
            .collect()
    }
}

pub fn scope_text(scopes: &[Scope]) -> String {
    let names: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    names.join(" ")
}

/// The header of a token signed by `kid`.
pub fn header(kid: &str) -> Header {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.to_string());
    header.typ = Some("at+jwt".into());
    header
}

/// What a token of this LRS must satisfy besides its signature: ES256 only, this
/// issuer and audience, not expired. The LRS checks its own clock against its own
/// `exp`, so there is no leeway.
pub fn validation(issuer: &str) -> Validation {
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[issuer]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = 0;
    validation
}

/// The scope a name stands for: an xAPI scope name (`statements/write`), with or without
/// `prefix` (`xapi:statements/write`); with the prefix, `write` and `read` are aliases
/// of `statements/write` and `all/read` (`xapi:write`, `xapi:read`).
pub fn scope_named(name: &str, prefix: &str) -> Option<Scope> {
    let unprefixed = (!prefix.is_empty())
        .then(|| name.strip_prefix(prefix))
        .flatten();
    match unprefixed {
        Some("write") => Some(Scope::StatementsWrite),
        Some("read") => Some(Scope::AllRead),
        Some(name) => name.parse().ok(),
        None => name.parse().ok(),
    }
}

/// Every request a scope may govern, to compare what two sets of scopes allow.
const EVERY_ACCESS: [Access; 8] = [
    Access::ReadStatements,
    Access::WriteStatements,
    Access::ReadState,
    Access::WriteState,
    Access::ReadProfiles,
    Access::WriteProfiles,
    Access::ReadDefinitions,
    Access::Reports,
];

/// Whether `held` allows everything `wanted` allows (so `all` holds `statements/write`,
/// and `statements/read` holds `statements/read/mine`).
pub fn holds(held: &[Scope], wanted: Scope) -> bool {
    let with = |scopes: Vec<Scope>| Principal {
        key: String::new(),
        name: String::new(),
        store_id: 0,
        store: String::new(),
        scopes,
        tags: Default::default(),
        learner: None,
        token_authority: None,
    };
    let held = with(held.to_vec());
    let wanted = with(vec![wanted]);
    EVERY_ACCESS.iter().all(
        |access| match (wanted.allows(*access), held.allows(*access)) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(ReadReach::OwnStatements), Some(_)) => true,
            (Some(ReadReach::Everything), Some(reach)) => reach == ReadReach::Everything,
        },
    )
}

/// What both `token` and `credential` allow: the scopes of each that the other holds,
/// so that a token of `all` for a credential that now holds only `statements/write`
/// still writes Statements, and nothing more.
pub fn common(token: &[Scope], credential: &[Scope]) -> Vec<Scope> {
    let mut scopes: Vec<Scope> = token
        .iter()
        .filter(|scope| holds(credential, **scope))
        .chain(credential.iter().filter(|scope| holds(token, **scope)))
        .copied()
        .collect();
    scopes.sort();
    scopes.dedup();
    scopes
}

/// Failures of `POST /oauth/token`, answered as RFC 6749 §5.2 describes.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenError {
    #[error("{0}")]
    InvalidRequest(String),
    /// `basic`: the client tried HTTP Basic (or no authentication), so the answer
    /// carries `WWW-Authenticate: Basic`.
    #[error("{description}")]
    InvalidClient { description: String, basic: bool },
    #[error("{0}")]
    UnsupportedGrantType(String),
    #[error("{0}")]
    InvalidScope(String),
}

impl TokenError {
    /// The `error` code of RFC 6749 §5.2.
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::InvalidRequest(_) => "invalid_request",
            TokenError::InvalidClient { .. } => "invalid_client",
            TokenError::UnsupportedGrantType(_) => "unsupported_grant_type",
            TokenError::InvalidScope(_) => "invalid_scope",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_names_with_and_without_the_prefix() {
        assert_eq!(
            scope_named("statements/write", "xapi:"),
            Some(Scope::StatementsWrite)
        );
        assert_eq!(
            scope_named("xapi:statements/read/mine", "xapi:"),
            Some(Scope::StatementsReadMine)
        );
        assert_eq!(
            scope_named("xapi:write", "xapi:"),
            Some(Scope::StatementsWrite)
        );
        assert_eq!(scope_named("xapi:read", "xapi:"), Some(Scope::AllRead));
        assert_eq!(scope_named("write", "xapi:"), None);
        assert_eq!(scope_named("xapi:delete", "xapi:"), None);
        assert_eq!(scope_named("xapi:all", ""), None);
    }

    #[test]
    fn broader_scopes_hold_narrower_ones() {
        assert!(holds(&[Scope::All], Scope::StatementsWrite));
        assert!(holds(&[Scope::All], Scope::Reports));
        assert!(holds(&[Scope::StatementsRead], Scope::StatementsReadMine));
        assert!(holds(&[Scope::AllRead], Scope::StatementsRead));
        assert!(!holds(&[Scope::AllRead], Scope::State));
        assert!(!holds(&[Scope::StatementsReadMine], Scope::StatementsRead));
        assert!(!holds(&[Scope::StatementsWrite], Scope::All));
    }

    #[test]
    fn a_token_keeps_what_it_and_its_credential_both_allow() {
        assert_eq!(
            common(&[Scope::All], &[Scope::StatementsWrite, Scope::Reports]),
            vec![Scope::StatementsWrite, Scope::Reports]
        );
        assert_eq!(
            common(&[Scope::StatementsReadMine], &[Scope::All]),
            vec![Scope::StatementsReadMine]
        );
        assert_eq!(
            common(&[Scope::StatementsWrite], &[Scope::AllRead]),
            Vec::<Scope>::new()
        );
    }
}
