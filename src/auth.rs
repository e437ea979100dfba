//! Credentials and xAPI scopes: what a caller is, and what it may do.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The OAuth scopes of xAPI 1.0.3 Communication §4.2, used here for Basic credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    StatementsWrite,
    StatementsRead,
    StatementsReadMine,
    AllRead,
    All,
    State,
    Profile,
    Define,
    /// Commonplace's own: the learning reports and dashboard, nothing of xAPI.
    Reports,
}

impl Scope {
    pub const EVERY: [Scope; 9] = [
        Scope::StatementsWrite,
        Scope::StatementsRead,
        Scope::StatementsReadMine,
        Scope::AllRead,
        Scope::All,
        Scope::State,
        Scope::Profile,
        Scope::Define,
        Scope::Reports,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::StatementsWrite => "statements/write",
            Scope::StatementsRead => "statements/read",
            Scope::StatementsReadMine => "statements/read/mine",
            Scope::AllRead => "all/read",
            Scope::All => "all",
            Scope::State => "state",
            Scope::Profile => "profile",
            Scope::Define => "define",
            Scope::Reports => "reports",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::EVERY
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = Scope::EVERY.iter().map(|s| s.as_str()).collect();
                format!("unknown scope '{s}'; known scopes: {}", known.join(", "))
            })
    }
}

/// What a request wants to do, as far as scopes are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadStatements,
    WriteStatements,
    ReadState,
    WriteState,
    ReadProfiles,
    WriteProfiles,
    ReadDefinitions,
    Reports,
}

/// How much of the statement store a read may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadReach {
    Everything,
    /// `statements/read/mine`: only statements this credential is the authority of.
    OwnStatements,
}

/// An authenticated caller: the credential behind a request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub key: String,
    pub name: String,
    pub store_id: i64,
    /// The name of the store, which learning-mode rules may match.
    pub store: String,
    pub scopes: Vec<Scope>,
    pub tags: BTreeMap<String, String>,
    /// The learner (IFI as the LRS writes it) a capture credential is bound to: it may
    /// write, read and keep documents only as them (`crate::capture::binding`).
    pub learner: Option<String>,
    /// Set for a token of an external OpenID Connect issuer: the authority of what it
    /// writes (otherwise the credential's own Agent).
    pub token_authority: Option<TokenAuthority>,
}

/// Whom a token of an external OpenID Connect issuer speaks for: its client, and the
/// user when the client acts on someone's behalf (xAPI Data 2.4.9's OAuth authority).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenAuthority {
    pub issuer: String,
    pub client: String,
    pub user: Option<String>,
}

impl Principal {
    fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    /// Whether the scopes allow `access`; `Some(reach)` says how far a statement read goes.
    pub fn allows(&self, access: Access) -> Option<ReadReach> {
        use Scope::*;
        let any = |wanted: &[Scope]| wanted.iter().any(|s| self.has(*s));
        let everything = Some(ReadReach::Everything);
        match access {
            Access::ReadStatements if any(&[All, AllRead, StatementsRead]) => everything,
            Access::ReadStatements if self.has(StatementsReadMine) => {
                Some(ReadReach::OwnStatements)
            }
            Access::WriteStatements if any(&[All, StatementsWrite]) => everything,
            Access::ReadState if any(&[All, AllRead, State]) => everything,
            Access::WriteState if any(&[All, State]) => everything,
            Access::ReadProfiles if any(&[All, AllRead, Profile]) => everything,
            Access::WriteProfiles if any(&[All, Profile]) => everything,
            Access::ReadDefinitions if any(&[All, AllRead, StatementsRead, Define]) => everything,
            Access::Reports if any(&[All, AllRead, Reports]) => everything,
            _ => None,
        }
    }
}

/// A newly minted key and secret, shown once and never stored in clear.
#[derive(Debug, Clone)]
pub struct NewSecret {
    pub key: String,
    pub secret: String,
}

impl NewSecret {
    /// A 96-bit key and a 256-bit secret, both base64url.
    pub fn generate() -> Self {
        NewSecret {
            key: random_token(12),
            secret: random_token(32),
        }
    }

    /// A key and secret the operator chose. Secrets are kept only as a fast, unsalted
    /// hash (`hash_secret`), which withstands guessing only when the secret is long and
    /// random: a shorter one is refused, with the reason.
    pub fn chosen(key: String, secret: String) -> Result<Self, String> {
        let length = secret.chars().count();
        if length < MIN_CHOSEN_SECRET_CHARS {
            return Err(format!(
                "a chosen secret must be at least {MIN_CHOSEN_SECRET_CHARS} characters long \
                 (this one has {length}): secrets are stored as fast SHA-256 hashes, which \
                 only long random secrets withstand against guessing; generate one, e.g. \
                 `openssl rand -base64 32`, or leave it unset for a random one"
            ));
        }
        Ok(NewSecret { key, secret })
    }
}

/// The fewest characters a chosen secret may have (a generated one has 43).
pub const MIN_CHOSEN_SECRET_CHARS: usize = 32;

/// `bytes` random bytes from the operating system, base64url without padding.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// Secrets are random with at least 128 bits of entropy (a chosen one must be at least
/// `MIN_CHOSEN_SECRET_CHARS` long), so a fast cryptographic hash is enough: there is
/// nothing for a slow password hash to protect against.
pub fn hash_secret(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Constant-time check of a presented secret against a stored hash.
pub fn secret_matches(secret: &str, stored_hash: &[u8]) -> bool {
    hash_secret(secret).ct_eq(stored_hash).into()
}

/// Parses `k=v` tags given on the command line.
pub fn parse_tag(raw: &str) -> Result<(String, String), String> {
    match raw.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
        _ => Err(format!("tag '{raw}' must look like key=value")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(scopes: &[Scope]) -> Principal {
        Principal {
            key: "k".into(),
            name: "n".into(),
            store_id: 1,
            store: "default".into(),
            scopes: scopes.to_vec(),
            tags: BTreeMap::new(),
            learner: None,
            token_authority: None,
        }
    }

    #[test]
    fn scopes_round_trip_through_text() {
        for scope in Scope::EVERY {
            assert_eq!(scope.as_str().parse::<Scope>(), Ok(scope));
        }
        assert!("statements/delete".parse::<Scope>().is_err());
    }

    #[test]
    fn read_mine_reaches_only_own_statements() {
        let p = principal(&[Scope::StatementsReadMine]);
        assert_eq!(
            p.allows(Access::ReadStatements),
            Some(ReadReach::OwnStatements)
        );
        assert_eq!(p.allows(Access::WriteStatements), None);
        assert_eq!(p.allows(Access::ReadState), None);
    }

    #[test]
    fn all_read_cannot_write() {
        let p = principal(&[Scope::AllRead]);
        assert_eq!(p.allows(Access::ReadProfiles), Some(ReadReach::Everything));
        assert_eq!(p.allows(Access::WriteProfiles), None);
        assert_eq!(p.allows(Access::WriteStatements), None);
    }

    #[test]
    fn secrets_verify_only_against_their_own_hash() {
        let a = NewSecret::generate();
        let b = NewSecret::generate();
        assert_ne!(a.secret, b.secret);
        assert!(a.secret.len() >= 22, "at least 128 bits");
        assert!(secret_matches(&a.secret, &hash_secret(&a.secret)));
        assert!(!secret_matches(&b.secret, &hash_secret(&a.secret)));
    }

    #[test]
    fn tags_need_a_key() {
        assert_eq!(parse_tag("source=lms"), Ok(("source".into(), "lms".into())));
        assert!(parse_tag("=lms").is_err());
        assert!(parse_tag("source").is_err());
    }
}
